/* captions.c — class captions from the GCIDE dictionary and the mean-of-word-vectors text encoding. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "captions.h"
#include "gcide.h"

const caption_class captions_fashion[10] = {
    { "t-shirt", { "undershirt", "tunic" } },
    { "trouser", { "trousers", "breeches" } },
    { "pullover", { "sweater", "jersey" } },
    { "dress", { "dress", "gown", "frock" } },
    { "coat", { "coat", "overcoat", "jacket" } },
    { "sandal", { "sandal" } },
    { "shirt", { "shirt" } },
    { "sneaker", { "sneaker", "shoe" } },
    { "bag", { "bag", "handbag", "satchel", "purse" } },
    { "ankle boot", { "boot" } },
};

/* A definition is kept when it has one of these words: it is about something worn or carried. */
static const char *const topic_words[] = {
    "garment", "garments", "worn", "wear", "clothing", "clothes", "apparel", "shoe", "shoes", "foot", "feet",
    "leg", "legs", "sole", "body", "sack", "pouch", "jacket", "coat", "gown", "dress", "skirt", "shirt",
    "knitted", "woolen", "leather", "carrying",
};

static const char *const stop_words[] = {
    "a", "an", "the", "of", "to", "and", "or", "in", "on", "for", "with", "as", "by", "at", "is", "it",
    "its", "that", "which", "from", "be", "are", "any", "but", "not", "so",
};

static int in_list(const char *w, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && !strncmp(list[i], w, n))
            return 1;
    return 0;
}

static int b64(const char *s, long *out)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    long v = 0;
    if (!*s)
        return 1;
    for (; *s; s++) {
        const char *p = strchr(al, *s);
        if (!p || !*s || v > (1L << 40))
            return 1;
        v = v * 64 + (p - al);
    }
    *out = v;
    return 0;
}

typedef struct entry {
    long off, len;
    int cls, word;
} entry;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Whether the entry's first line names `word` and is a noun ("Coat \Coat\ (k[=o]t), n. [OF. ..."):
 * "n." among the words before the etymology (" [" ). */
static int noun_entry(const char *text, const char *word)
{
    size_t wl = strlen(word);
    if (strncasecmp(text, word, wl) != 0 || (text[wl] != ' ' && text[wl] != '\\' && text[wl] != ','))
        return 0;
    const char *eol = strchr(text, '\n'), *ety = strstr(text, " [");
    const char *end = eol && (!ety || eol < ety) ? eol : ety ? ety : text + strlen(text);
    for (const char *p = text + wl; p + 1 < end; p++)
        if (p[0] == 'n' && p[1] == '.' && !isalpha((unsigned char)p[-1]))
            return 1;
    return 0;
}

/* The kept senses of one entry, one a line, through the corpus parser. */
static char *entry_senses(char *text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    gcide head, e;
    FILE *devnull = fopen("/dev/null", "w");
    if (!devnull) {
        fclose(f);
        free(buf);
        return NULL;
    }
    gcide_init(&head, devnull);
    gcide_init(&e, f);
    head.skipping = e.skipping = 0;
    int in_head = 1, keep = 0, n_par = 0, open_par = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *p = line;
        while (*p == ' ')
            p++;
        if (in_head || (*p == '{' && n_par == 0)) { /* headword, pronunciation, plural, etymology */
            gcide_line(&head, line);
            in_head = head.bdepth != 0;
            continue;
        }
        size_t n = strlen(p);
        if (*p == '{' || !strncmp(p, "Note:", 5) || !strncmp(p, "Syn.", 4))
            break;                          /* phrases, notes, synonyms: not senses of the word */
        if (*p == '[' && n && p[n - 1] == ']') {  /* "[1913 Webster]" ends a paragraph */
            if (open_par && keep)
                gcide_line(&e, (char[]){ "" });
            open_par = 0;
            continue;
        }
        int marker = 0;
        if (isdigit((unsigned char)*p)) {
            char *q = p;
            while (isdigit((unsigned char)*q))
                q++;
            if (*q == '.' && q[1] == ' ')
                marker = (int)(q + 2 - p);
        } else if (p[0] == '(' && isalpha((unsigned char)p[1]) && p[2] == ')' && p[3] == ' ')
            marker = 4;
        if (marker || !open_par) {
            if (open_par && keep)
                gcide_line(&e, (char[]){ "" });
            keep = marker || n_par == 0;    /* an unmarked later paragraph is a citation */
            n_par++;
            open_par = 1;
            p += marker;
        }
        if (keep)
            gcide_line(&e, p);
    }
    gcide_finish(&e);
    gcide_finish(&head);
    fclose(devnull);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int topical(const char *def)
{
    for (const char *p = def; *p;) {
        while (*p && !isalpha((unsigned char)*p))
            p++;
        const char *s = p;
        while (isalpha((unsigned char)*p))
            p++;
        if (p > s && in_list(s, (size_t)(p - s), topic_words, sizeof topic_words / sizeof topic_words[0]))
            return 1;
    }
    return 0;
}

static int add_caption(captions *out, int c, const char *name, const char *def)
{
    if (out->count[c] >= CAPTIONS_MAX_PER_CLASS)
        return 0;
    char *s = NULL;
    if ((def ? asprintf(&s, "%s: %s", name, def) : asprintf(&s, "%s", name)) < 0)
        return 1;
    for (int i = 0; i < out->count[c]; i++)
        if (!strcmp(out->text[c][i], s)) {  /* the same sense under two headwords */
            free(s);
            return 0;
        }
    out->text[c][out->count[c]++] = s;
    return 0;
}

int captions_build(const char *dict, const char *index, const caption_class *cls, int n, int per_word,
                   captions *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (n < 1 || n > CAPTIONS_MAX_CLASSES) {
        snprintf(err, errlen, "captions: %d classes (1..%d)", n, CAPTIONS_MAX_CLASSES);
        return 1;
    }
    out->n_classes = n;
    entry *ents = NULL;
    int n_ents = 0, cap = 0, rc = 1;
    char line[1024];
    gzFile g = NULL;
    FILE *ix = fopen(index, "r");
    if (!ix) {
        snprintf(err, errlen, "cannot open the dictionary index %s", index);
        goto out;
    }
    long lineno = 0;
    while (fgets(line, sizeof line, ix)) {
        lineno++;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2)
            continue;                       /* not an entry line */
        *t1 = 0;
        *t2 = 0;
        t2[1 + strcspn(t2 + 1, "\r\n")] = 0;
        for (int c = 0; c < n; c++)
            for (int w = 0; w < 4 && cls[c].headwords[w]; w++) {
                if (strcasecmp(line, cls[c].headwords[w]) != 0)
                    continue;
                long off, len;
                if (b64(t1 + 1, &off) || b64(t2 + 1, &len) || len > (1 << 20)) {
                    snprintf(err, errlen, "%s:%ld: bad offset or length", index, lineno);
                    goto out;
                }
                if (n_ents == cap) {
                    cap = cap ? 2 * cap : 64;
                    entry *ne = realloc(ents, (size_t)cap * sizeof *ne);
                    if (!ne)
                        goto oom;
                    ents = ne;
                }
                ents[n_ents++] = (entry){ off, len, c, w };
            }
    }
    if (n_ents)                             /* qsort(NULL, 0, ...) is undefined */
        qsort(ents, (size_t)n_ents, sizeof *ents, cmp_entry);
    for (int c = 0; c < n; c++)
        if (add_caption(out, c, cls[c].name, NULL))
            goto oom;
    if (!(g = gcide_open(dict, 10000, err, errlen)))
        goto out;
    /* senses in entry order, collected per (class, headword) then appended headword by headword */
    int taken[CAPTIONS_MAX_CLASSES][4] = { { 0 } };
    char *defs[CAPTIONS_MAX_CLASSES][4][CAPTIONS_MAX_PER_CLASS] = { { { 0 } } };
    for (int i = 0; i < n_ents; i++) {
        entry *en = &ents[i];
        char *text = malloc((size_t)en->len + 1);
        if (!text)
            goto oom;
        if (gzseek(g, en->off, SEEK_SET) != en->off || gzread(g, text, (unsigned)en->len) != (int)en->len) {
            free(text);
            snprintf(err, errlen, "%s: cannot read the entry at offset %ld", dict, en->off);
            goto out_defs;
        }
        text[en->len] = 0;
        const char *hw = cls[en->cls].headwords[en->word];
        char *senses = noun_entry(text, hw) ? entry_senses(text) : NULL;
        free(text);
        for (char *sv = NULL, *d = senses ? strtok_r(senses, "\n", &sv) : NULL; d; d = strtok_r(NULL, "\n", &sv)) {
            int *k = &taken[en->cls][en->word];
            if (*k < per_word && *k < CAPTIONS_MAX_PER_CLASS && topical(d) && !(defs[en->cls][en->word][(*k)++] = strdup(d))) {
                free(senses);
                goto out_defs;
            }
        }
        free(senses);
    }
    rc = 0;
    for (int c = 0; c < n; c++)
        for (int w = 0; w < 4; w++)
            for (int k = 0; k < taken[c][w]; k++)
                if (!rc && add_caption(out, c, cls[c].name, defs[c][w][k]))
                    rc = 1, snprintf(err, errlen, "out of memory");
out_defs:
    for (int c = 0; c < n; c++)
        for (int w = 0; w < 4; w++)
            for (int k = 0; k < CAPTIONS_MAX_PER_CLASS; k++)
                free(defs[c][w][k]);
    if (rc && !*err)
        snprintf(err, errlen, "out of memory");
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    if (ix)
        fclose(ix);
    if (g)
        gzclose(g);
    free(ents);
    if (rc)
        captions_free(out);
    return rc;
}

void captions_free(captions *c)
{
    for (int i = 0; i < CAPTIONS_MAX_CLASSES; i++)
        for (int k = 0; k < CAPTIONS_MAX_PER_CLASS; k++) {
            free(c->text[i][k]);
            c->text[i][k] = NULL;
        }
    memset(c->count, 0, sizeof c->count);
}

/* out += the unit vector of w; an unknown hyphenated word counts by its parts ("t-shirt": t, shirt).
 * Returns the number of vectors added. */
static int add_word(const clg_vectors *v, char *w, float *out)
{
    int id, D = v->dim;
    if (clg_vectors_find(v, w, &id) != CLG_OK) {
        char *h = strchr(w, '-');
        if (!h)
            return 0;
        *h = 0;
        return add_word(v, w, out) + add_word(v, h + 1, out);
    }
    const float *r = v->data + (size_t)id * (size_t)D;
    double nn = 0;
    for (int j = 0; j < D; j++)
        nn += (double)r[j] * r[j];
    if (nn <= 0)
        return 0;
    float inv = (float)(1.0 / sqrt(nn));
    for (int j = 0; j < D; j++)
        out[j] += r[j] * inv;
    return 1;
}

int captions_embed(const clg_vectors *v, const char *text, float *out)
{
    int D = v->dim, used = 0;
    for (int j = 0; j < D; j++)
        out[j] = 0;
    char w[CLG_SGNS_MAX_WORD + 1];
    for (const char *p = text; *p;) {
        while (*p && !(isalnum((unsigned char)*p) || *p == '\''))
            p++;
        const char *s = p;
        while (*p && (isalnum((unsigned char)*p) || *p == '\'' || *p == '-'))
            p++;
        size_t n = (size_t)(p - s);
        if (!n || n > CLG_SGNS_MAX_WORD)
            continue;
        for (size_t i = 0; i < n; i++)
            w[i] = (char)tolower((unsigned char)s[i]);
        w[n] = 0;
        if (in_list(w, n, stop_words, sizeof stop_words / sizeof stop_words[0]))
            continue;
        used += add_word(v, w, out);
    }
    for (int j = 0; used && j < D; j++)
        out[j] /= (float)used;
    return used;
}
