/* vocab.c — the corpus tokenizer, the vocabulary (counts, ids by frequency) and word2vec's sampling tables (negatives, subsampling). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sgns_internal.h"
#include "clgrad/io.h"

#define MAX_WORD CLG_SGNS_MAX_WORD

/* ---- tokenizer -------------------------------------------------------------- */

static int word_byte(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80; }

int clg__read_token(FILE *f, char *w)
{
    int n = 0, c;
    while ((c = getc_unlocked(f)) != EOF) {
        if (c == '\n') {
            if (n) {
                ungetc(c, f);
                break;
            }
            return 0;
        }
        if (word_byte(c) || (n && (c == '\'' || c == '-'))) {
            if (n == MAX_WORD) {
                /* an apostrophe/hyphen past the limit may be trailing (dropped); a letter is not */
                if (word_byte(c)) {
                    w[n] = 0;
                    return -2;
                }
                continue;
            }
            w[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else if (n) {
            break;
        }
    }
    while (n && (w[n - 1] == '\'' || w[n - 1] == '-'))
        n--;
    w[n] = 0;
    if (n)
        return n;
    return c == EOF ? -1 : 0;
}

/* ---- vocabulary ------------------------------------------------------------- */

typedef struct vword { char *w; int64_t count; } vword;

struct clg_vocab {
    vword *words;       /* kept words, by id */
    int n;
    int64_t total;
    int *table;         /* open addressing: id or -1 */
    size_t tsize;       /* power of two */
};

/* Find or insert w in a table of indices into arr (grown by the caller). Returns the slot. */
static size_t slot_of(const int *table, size_t tsize, const vword *arr, const char *w)
{
    size_t i = (size_t)clg__hash_word(w) & (tsize - 1);
    while (table[i] >= 0 && strcmp(arr[table[i]].w, w) != 0)
        i = (i + 1) & (tsize - 1);
    return i;
}

static int rehash(int **table, size_t *tsize, const vword *arr, int n, size_t newsize)
{
    int *t = malloc(newsize * sizeof *t);
    if (!t)
        return -1;
    memset(t, 0xff, newsize * sizeof *t);
    for (int i = 0; i < n; i++)
        t[slot_of(t, newsize, arr, arr[i].w)] = i;
    free(*table);
    *table = t;
    *tsize = newsize;
    return 0;
}

static int cmp_vword(const void *a, const void *b)
{
    const vword *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->w, y->w);
}

void clg_vocab_free(clg_vocab *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->n; i++)
        free(v->words[i].w);
    free(v->words);
    free(v->table);
    free(v);
}

clg_status clg_vocab_build(const char *path, int min_count, clg_vocab **out)
{
    if (!path || !out || min_count < 1)
        return clg__fail(CLG_ERR_INVALID_ARG, "vocab: need a path and min_count >= 1");
    *out = NULL;
    /* a regular file: training reads it once more per epoch, which a FIFO cannot give */
    FILE *f;
    clg_status st = clg_file_open_read(path, "corpus", &f);
    if (st)
        return st;
    vword *arr = NULL;
    int n = 0, cap = 0;
    int *table = NULL;
    size_t tsize = 0;
    int64_t total = 0, line = 1;
    char w[MAX_WORD + 1];
    int r;
    if (rehash(&table, &tsize, arr, 0, 1 << 16))
        goto oom;
    while ((r = clg__read_token(f, w)) != -1) {
        if (r == -2) {
            st = clg__fail(CLG_ERR_FORMAT, "vocab: corpus '%s' line %lld: a word longer than %d bytes ('%.40s...'); "
                           "split it or remove it", path, (long long)line, MAX_WORD, w);
            goto out;
        }
        if (r == 0) {
            line++;
            continue;
        }
        total++;
        size_t s = slot_of(table, tsize, arr, w);
        if (table[s] >= 0) {
            arr[table[s]].count++;
            continue;
        }
        if (n == cap) {
            int nc = cap ? cap * 2 : 4096;
            vword *na = realloc(arr, (size_t)nc * sizeof *na);
            if (!na)
                goto oom;
            arr = na;
            cap = nc;
        }
        if (!(arr[n].w = strdup(w)))
            goto oom;
        arr[n].count = 1;
        table[s] = n++;
        if ((size_t)n * 2 > tsize && rehash(&table, &tsize, arr, n, tsize * 2))
            goto oom;
    }
    if (ferror(f)) {
        st = clg__fail(CLG_ERR_IO, "vocab: read error on '%s'", path);
        goto out;
    }
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (arr[i].count >= min_count)
            arr[kept++] = arr[i];
        else
            free(arr[i].w);
    }
    n = kept;
    if (n == 0) {
        st = clg__fail(CLG_ERR_FORMAT, "vocab: corpus '%s' has no word seen at least %d times (%lld tokens)", path,
                       min_count, (long long)total);
        goto out;
    }
    qsort(arr, (size_t)n, sizeof *arr, cmp_vword);
    size_t ts = 16;
    while (ts < (size_t)n * 2)
        ts *= 2;
    if (rehash(&table, &tsize, arr, n, ts))
        goto oom;
    clg_vocab *v = calloc(1, sizeof *v);
    if (!v)
        goto oom;
    v->words = arr;
    v->n = n;
    v->total = total;
    v->table = table;
    v->tsize = tsize;
    fclose(f);
    *out = v;
    return CLG_OK;
oom:
    st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "vocab: out of host memory after %d distinct words", n);
out:
    fclose(f);
    for (int i = 0; i < n; i++)
        free(arr[i].w);
    free(arr);
    free(table);
    return st;
}

int clg_vocab_size(const clg_vocab *v) { return v ? v->n : 0; }
const char *clg_vocab_word(const clg_vocab *v, int id) { return v && id >= 0 && id < v->n ? v->words[id].w : NULL; }
int64_t clg_vocab_count(const clg_vocab *v, int id) { return v && id >= 0 && id < v->n ? v->words[id].count : 0; }
int64_t clg_vocab_total(const clg_vocab *v) { return v ? v->total : 0; }

int clg_vocab_find(const clg_vocab *v, const char *word)
{
    if (!v || !word)
        return -1;
    return v->table[slot_of(v->table, v->tsize, v->words, word)];
}

uint64_t clg__vocab_digest(const clg_vocab *v)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < v->n; i++) {
        h = (h ^ clg__hash_word(v->words[i].w)) * 1099511628211ull;
        h = (h ^ (uint64_t)v->words[i].count) * 1099511628211ull;
    }
    return h;
}

/* ---- sampling tables ---------------------------------------------------------- */

void clg__sampler_free(clg__sampler *s)
{
    free(s->table);
    free(s->keep);
    s->table = NULL;
    s->keep = NULL;
}

clg_status clg__sampler_init(clg__sampler *s, const clg_vocab *v, double sample)
{
    int V = v->n;
    s->train_words = 0;
    for (int i = 0; i < V; i++)
        s->train_words += v->words[i].count;
    s->tsize = V < 2000 ? V * 1000 : 2000000;
    s->keep = malloc((size_t)V * sizeof *s->keep);
    s->table = malloc((size_t)s->tsize * sizeof *s->table);
    if (!s->keep || !s->table) {
        clg__sampler_free(s);
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "vocab: sampling tables for %d words", V);
    }
    /* unigram^0.75: word w fills a share of the slots proportional to count^0.75 */
    double zsum = 0;
    for (int i = 0; i < V; i++)
        zsum += pow((double)v->words[i].count, 0.75);
    int w = 0;
    double acc = pow((double)v->words[0].count, 0.75) / zsum;
    for (int a = 0; a < s->tsize; a++) {
        s->table[a] = w;
        if ((double)(a + 1) / s->tsize > acc && w < V - 1) {
            w++;
            acc += pow((double)v->words[w].count, 0.75) / zsum;
        }
    }
    /* word2vec's subsampling of frequent words */
    for (int i = 0; i < V; i++) {
        double fr = (double)v->words[i].count, th = sample * (double)s->train_words;
        s->keep[i] = sample > 0 ? (sqrt(fr / th) + 1) * th / fr : 1.0;
    }
    return CLG_OK;
}
