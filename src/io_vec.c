/* io_vec.c — word vectors (clg_vectors) and their files: the strict reader of word2vec/fastText text .vec and word2vec binary (untrusted input) and the atomic writer. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "io_internal.h"
#include "sgns_internal.h"
#include "clgrad/sgns.h"

void clg_vectors_free(clg_vectors *v)
{
    if (!v)
        return;
    if (v->words)
        for (int i = 0; i < v->n; i++)
            free(v->words[i]);
    free(v->words);
    free(v->data);
    free(v);
}

uint64_t clg__hash_word(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

float *clg__vectors_alloc(clg_vectors **out, int n, int dim)
{
    clg_vectors *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->n = n;
    v->dim = dim;
    v->words = calloc((size_t)(n ? n : 1), sizeof *v->words);
    v->data = malloc((size_t)(n ? n : 1) * (size_t)dim * sizeof(float));
    if (!v->words || !v->data) {
        clg_vectors_free(v);
        return NULL;
    }
    *out = v;
    return v->data;
}

clg_status clg_vectors_find(const clg_vectors *v, const char *word, int *id)
{
    if (!v || !word || !id)
        return clg__fail(CLG_ERR_INVALID_ARG, "vectors_find: NULL argument");
    for (int i = 0; i < v->n; i++)
        if (!strcmp(v->words[i], word)) {
            *id = i;
            return CLG_OK;
        }
    *id = -1;
    return clg__fail(CLG_ERR_INVALID_ARG, "unknown word '%s' (not among the %d words of the vectors)", word, v->n);
}

/* ---- reader ----------------------------------------------------------------------- */

static clg_status load_fail(FILE *f, clg_vectors *v, char *line, clg_status st)
{
    if (f)
        fclose(f);
    free(line);
    clg_vectors_free(v);
    return st;
}

static int is_blank(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* One value of a text record at *pp (before end): 0 ok, 1 none left on the line, 2 not a number, 3 out of
 * float range, 4 NaN or infinite. */
static int parse_value(const char **pp, const char *end, float *out)
{
    const char *p = *pp;
    while (p < end && is_blank(*p))
        p++;
    *pp = p;
    if (p == end)
        return 1;
    char *e;
    errno = 0;
    float x = strtof(p, &e);
    if (e == p || (e < end && !is_blank(*e)))
        return 2;
    if (isnan(x) || (isinf(x) && errno != ERANGE))
        return 4;
    if (errno == ERANGE && isinf(x))
        return 3;
    *out = x;   /* an underflow to a denormal or zero is kept */
    *pp = e;
    return 0;
}

/* No control byte but tab, CR, LF (a NUL included)? */
static int no_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

/* Does the line hold a word and then only numbers (at least one)?  The text/binary tell-tale. */
static int looks_text(const char *line, size_t len)
{
    const char *p = line, *end = line + len;
    if (!no_control(line, len))
        return 0;
    while (p < end && !is_blank(*p))
        p++;
    if (p == line)
        return 0;
    int values = 0;
    float x;
    for (;;) {
        int r = parse_value(&p, end, &x);
        if (r == 1)
            return values > 0;
        if (r == 2)
            return 0;
        if (r)          /* a number, if not a usable one: the text reader says which */
            while (p < end && !is_blank(*p))
                p++;
        values++;
    }
}

/* Does a binary record start at the current position: a word, a space, dim floats, then "\n" or EOF? */
static int looks_binary(FILE *f, long dim)
{
    int c, k = 0;
    while ((c = getc(f)) == '\n' || c == '\r')
        ;
    while (c != EOF && c != ' ' && c != '\n' && k++ < CLG_SGNS_MAX_WORD)
        c = getc(f);
    if (c != ' ' || k == 0)
        return 0;
    for (long i = 0; i < 4 * dim; i++)
        if (getc(f) == EOF)
            return 0;
    c = getc(f);
    return c == '\n' || c == EOF;
}

/* Duplicate words: the first pair found, as row indices (a < b), or -1. */
static int find_duplicate(char *const *words, int n, int *a, int *b, int *oom)
{
    *oom = 0;
    size_t ts = 16;
    while (ts < (size_t)n * 2)
        ts *= 2;
    int *t = malloc(ts * sizeof *t);
    if (!t) {
        *oom = 1;
        return -1;
    }
    memset(t, 0xff, ts * sizeof *t);
    int found = -1;
    for (int i = 0; i < n && found < 0; i++) {
        size_t s = (size_t)clg__hash_word(words[i]) & (ts - 1);
        while (t[s] >= 0 && strcmp(words[t[s]], words[i]) != 0)
            s = (s + 1) & (ts - 1);
        if (t[s] >= 0) {
            *a = t[s];
            *b = i;
            found = 0;
        }
        t[s] = i;
    }
    free(t);
    return found;
}

clg_status clg_vectors_load(const char *path, clg_vec_format fmt, clg_vectors **out)
{
    if (!path || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "vectors_load: NULL path or out");
    *out = NULL;
    /* regular files only: AUTO reads the first record twice (and a FIFO would block) */
    int fd;
    clg_status st = clg__open_regular(path, "vectors file", &fd, NULL);
    if (st)
        return st;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "vectors_load: cannot open '%s': %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t lcap = 0;
    clg_vectors *v = NULL;
    long n, dim;
    char tail[8];
    ssize_t len = getline(&line, &lcap, f);
    if (len <= 0 || strlen(line) != (size_t)len || sscanf(line, "%ld %ld %1s", &n, &dim, tail) != 2 || n < 0 || dim < 1 ||
        n > 100000000 || dim > 100000)
        return load_fail(f, v, line, clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s': line 1 must be \"<words> <dim>\"", path));
    long data_pos = ftell(f);
    if (data_pos < 0)
        return load_fail(f, v, line, clg__fail(CLG_ERR_IO, "vectors_load: '%s': %s", path, strerror(errno)));
    if (fmt == CLG_VEC_AUTO) {
        /* text if the first record is a word and numbers; else binary if it has a binary record's shape;
         * else whichever reader will name the problem (a text file whose dim is wrong stays text) */
        len = getline(&line, &lcap, f);
        int text = len > 0 && looks_text(line, (size_t)len);
        if (!text) {
            fseek(f, data_pos, SEEK_SET);
            text = !looks_binary(f, dim) && len > 0 && no_control(line, (size_t)len);
        }
        fmt = text ? CLG_VEC_TEXT : CLG_VEC_BINARY;
        if (fseek(f, data_pos, SEEK_SET) != 0)
            return load_fail(f, v, line, clg__fail(CLG_ERR_IO, "vectors_load: '%s': %s", path, strerror(errno)));
    }
    /* rows are allocated as they arrive, so a header that promises more than the file holds costs nothing */
    long cap = 65536 / dim > 0 ? 65536 / dim : 1;   /* 256 KiB at first */
    cap = n < cap ? n : cap;
    v = calloc(1, sizeof *v);
    if (v) {
        v->dim = (int)dim;
        v->words = malloc((size_t)(cap ? cap : 1) * sizeof *v->words);
        v->data = malloc((size_t)(cap ? cap : 1) * (size_t)dim * sizeof *v->data);
    }
    if (!v || !v->words || !v->data)
        return load_fail(f, v, line, clg__fail(CLG_ERR_OUT_OF_MEMORY, "vectors_load: %ld x %ld vectors", cap, dim));
    for (long i = 0; i < n; i++) {
        if (i == cap) {
            long nc = cap * 2 < n ? cap * 2 : n;
            char **nw = realloc(v->words, (size_t)nc * sizeof *nw);
            if (nw)
                v->words = nw;
            float *nd = nw ? realloc(v->data, (size_t)nc * (size_t)dim * sizeof *nd) : NULL;
            if (!nd)
                return load_fail(f, v, line, clg__fail(CLG_ERR_OUT_OF_MEMORY, "vectors_load: %ld x %ld vectors", nc, dim));
            v->data = nd;
            cap = nc;
        }
        v->words[i] = NULL;
        v->n = (int)i + 1;
        float *r = v->data + (size_t)i * (size_t)dim;
        if (fmt == CLG_VEC_TEXT) {
            len = getline(&line, &lcap, f);
            if (len <= 0)
                return load_fail(f, v, line, clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s' ends after %ld of %ld words", path, i, n));
            const char *end = line + len;
            char *p = line, *sp = line + strcspn(line, " \t\r\n");
            if (sp == p || sp == end || (*sp != ' ' && *sp != '\t'))
                return load_fail(f, v, line, clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s' line %ld: expected a word and %ld numbers", path, i + 2, dim));
            if (sp - p > CLG_SGNS_MAX_WORD)
                return load_fail(f, v, line, clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s' line %ld: a word of %ld bytes, longer than the %d allowed",
                                                        path, i + 2, (long)(sp - p), CLG_SGNS_MAX_WORD));
            *sp = 0;
            if (!(v->words[i] = strdup(p)))
                return load_fail(f, v, line, clg__fail(CLG_ERR_OUT_OF_MEMORY, "vectors_load: word copy"));
            const char *q = sp + 1;
            for (long d = 0; d < dim; d++) {
                int bad = parse_value(&q, end, &r[d]);
                if (!bad)
                    continue;
                const char *at = q;
                int tok = (int)strcspn(at, " \t\r\n");
                tok = tok > 40 ? 40 : tok;
                const char *why = bad == 2 ? "is not a number" : bad == 3 ? "is out of float range (|x| > 3.4e38)" : "is NaN or infinite";
                if (bad == 1)
                    return load_fail(f, v, line, clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s' line %ld ('%s') has %ld values, the header (line 1) says %ld",
                                                            path, i + 2, v->words[i], d, dim));
                return load_fail(f, v, line, clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s' line %ld ('%s'): value %ld ('%.*s') %s",
                                                        path, i + 2, v->words[i], d + 1, tok, at, why));
            }
            while (q < end && is_blank(*q))
                q++;
            if (q < end) {
                long more = 0;
                float x;
                while (parse_value(&q, end, &x) != 1 && more < 1000000) {
                    more++;
                    while (q < end && !is_blank(*q))
                        q++;
                }
                return load_fail(f, v, line, clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s' line %ld ('%s') has %ld values, the header (line 1) says %ld",
                                                        path, i + 2, v->words[i], dim + more, dim));
            }
        } else {
            char w[CLG_SGNS_MAX_WORD + 1];
            int c, k = 0;
            while ((c = getc(f)) == '\n' || c == '\r')
                ;
            while (c != EOF && c != ' ' && c != 0 && k < CLG_SGNS_MAX_WORD + 1) {
                w[k++] = (char)c;
                c = getc(f);
            }
            if (k > CLG_SGNS_MAX_WORD)
                return load_fail(f, v, line, clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s' binary record %ld: a word longer than the %d bytes allowed",
                                                        path, i + 1, CLG_SGNS_MAX_WORD));
            w[k] = 0;
            if (c != ' ' || k == 0)
                return load_fail(f, v, line, clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s' binary record %ld: %s", path, i + 1,
                                                        c == EOF ? "file ends early" : c == 0 ? "NUL byte in the word" : "word missing"));
            if (!(v->words[i] = strdup(w)))
                return load_fail(f, v, line, clg__fail(CLG_ERR_OUT_OF_MEMORY, "vectors_load: word copy"));
            if (fread(r, sizeof(float), (size_t)dim, f) != (size_t)dim)
                return load_fail(f, v, line, clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s' binary record %ld ('%s'): fewer than %ld floats",
                                                        path, i + 1, w, dim));
            for (long d = 0; d < dim; d++)
                if (!isfinite(r[d]))
                    return load_fail(f, v, line, clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s' binary record %ld ('%s'): value %ld is NaN or infinite",
                                                            path, i + 1, w, d + 1));
        }
    }
    /* the header's word count must match the rows exactly: anything but blank space after row n is an error */
    if (fmt == CLG_VEC_TEXT) {
        for (long ln = n + 2; (len = getline(&line, &lcap, f)) > 0; ln++) {
            ssize_t k = 0;
            while (k < len && is_blank(line[k]))
                k++;
            if (k < len)
                return load_fail(f, v, line, clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s': the header (line 1) says %ld words, but line %ld has "
                                                        "another row", path, n, ln));
        }
    } else {
        int c;
        while ((c = getc(f)) == '\n' || c == '\r' || c == ' ')
            ;
        if (c != EOF)
            return load_fail(f, v, line, clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s': the header says %ld words, but more data follows "
                                                    "binary record %ld", path, n, n));
    }
    if (ferror(f))
        return load_fail(f, v, line, clg__fail(CLG_ERR_IO, "vectors_load: read error on '%s'", path));
    int a, b, oom;
    if (find_duplicate(v->words, v->n, &a, &b, &oom) == 0) {
        if (fmt == CLG_VEC_TEXT)
            st = clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s': word '%s' appears twice, rows %d and %d (lines %d and %d)", path,
                           v->words[a], a + 1, b + 1, a + 2, b + 2);
        else
            st = clg__fail(CLG_ERR_FORMAT, "vectors_load: '%s': word '%s' appears twice, binary records %d and %d", path, v->words[a],
                           a + 1, b + 1);
        return load_fail(f, v, line, st);
    }
    if (oom)
        return load_fail(f, v, line, clg__fail(CLG_ERR_OUT_OF_MEMORY, "vectors_load: duplicate check of %d words", v->n));
    fclose(f);
    free(line);
    *out = v;
    return CLG_OK;
}

/* ---- writer ----------------------------------------------------------------------- */

clg_status clg_vectors_save(const clg_vectors *v, const char *path, clg_vec_format fmt)
{
    if (!v || !path)
        return clg__fail(CLG_ERR_INVALID_ARG, "vectors_save: NULL vectors or path");
    for (int i = 0; i < v->n; i++)
        if (!v->words[i][0] || strpbrk(v->words[i], " \t\n\r"))
            return clg__fail(CLG_ERR_INVALID_ARG, "vectors_save: word %d ('%s') is empty or has white space", i, v->words[i]);
    /* atomically: a failed or interrupted save leaves the previous file as it was */
    clg__afile af;
    clg_status st = clg__afile_open(&af, path);
    if (st)
        return st;
    FILE *f = af.f;
    fprintf(f, "%d %d\n", v->n, v->dim);
    for (int i = 0; i < v->n; i++) {
        const float *r = v->data + (size_t)i * v->dim;
        fputs(v->words[i], f);
        if (fmt == CLG_VEC_BINARY) {
            fputc(' ', f);
            fwrite(r, sizeof(float), (size_t)v->dim, f);
        } else {
            for (int d = 0; d < v->dim; d++)
                fprintf(f, " %.9g", (double)r[d]);
        }
        fputc('\n', f);
    }
    return clg__afile_commit(&af);
}
