/* sgns.c — the skip-gram negative-sampling model on the device and its training loop (corpus stream, chunks, interrupt and resume). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dist_internal.h"
#include "internal.h"
#include "sgns_internal.h"
#include "clgrad/io.h"
#include "clgrad/sgns.h"

#define MAX_WORD CLG_SGNS_MAX_WORD

/* ---- the model on the device ------------------------------------------------ */

struct clg_sgns {
    clg_ctx *ctx;
    int n, dim, S, K;          /* S: padded row length (multiple of 8) */
    cl_mem win, wout;
    cl_mem tok, span, neg, loss;
    int cap;                   /* positions the chunk buffers hold */
    int deterministic;         /* one work-group per launch */
    float *loss_host;
    float *sync_host;          /* 2 x n x S floats: both matrices on the host, across ranks */
    float *sync_base;          /* the same, as every rank held them after the last sync */
};

static int pad8(int d) { return (d + 7) / 8 * 8; }

static void release(cl_mem *m)
{
    if (*m)
        clReleaseMemObject(*m);
    *m = NULL;
}

void clg_sgns_destroy(clg_sgns *m)
{
    if (!m)
        return;
    release(&m->win);
    release(&m->wout);
    release(&m->tok);
    release(&m->span);
    release(&m->neg);
    release(&m->loss);
    free(m->loss_host);
    free(m->sync_host);
    free(m->sync_base);
    free(m);
}

static clg_status make_buf(clg_ctx *ctx, size_t bytes, cl_mem *out, const char *what)
{
    cl_int err;
    *out = clg__create_buffer(ctx, bytes ? bytes : 4, &err);
    if (err)
        return clg__cl_fail(err, "sgns: clCreateBuffer(%s, %zu bytes)", what, bytes);
    return CLG_OK;
}

/* Host rows (n x dim) <-> padded device rows (n x S). */
static clg_status write_rows(clg_sgns *m, cl_mem buf, const float *src)
{
    size_t bytes = (size_t)m->n * (size_t)m->S * sizeof(float);
    float *tmp = calloc((size_t)m->n * (size_t)m->S, sizeof(float));
    if (!tmp)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "sgns: %zu bytes of host staging", bytes);
    if (src)
        for (int i = 0; i < m->n; i++)
            memcpy(tmp + (size_t)i * m->S, src + (size_t)i * m->dim, (size_t)m->dim * sizeof(float));
    cl_int err = clEnqueueWriteBuffer(m->ctx->queue, buf, CL_TRUE, 0, bytes, tmp, 0, NULL, NULL);
    free(tmp);
    return err ? clg__cl_fail(err, "sgns: upload of %d x %d weights", m->n, m->dim) : CLG_OK;
}

static clg_status read_rows(clg_sgns *m, cl_mem buf, float *dst)
{
    size_t bytes = (size_t)m->n * (size_t)m->S * sizeof(float);
    float *tmp = malloc(bytes);
    if (!tmp)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "sgns: %zu bytes of host staging", bytes);
    cl_int err = clEnqueueReadBuffer(m->ctx->queue, buf, CL_TRUE, 0, bytes, tmp, 0, NULL, NULL);
    if (!err)
        for (int i = 0; i < m->n; i++)
            memcpy(dst + (size_t)i * m->dim, tmp + (size_t)i * m->S, (size_t)m->dim * sizeof(float));
    free(tmp);
    return err ? clg__cl_fail(err, "sgns: download of %d x %d weights", m->n, m->dim) : CLG_OK;
}

clg_status clg_sgns_create(clg_ctx *ctx, int n_words, int dim, int negative, uint64_t seed, clg_sgns **out)
{
    if (!ctx || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "sgns: NULL ctx or out");
    *out = NULL;
    if (n_words < 1 || dim < 1 || dim > CLG_SGNS_MAX_DIM || negative < 0 || negative > CLG_SGNS_MAX_NEGATIVE)
        return clg__fail(CLG_ERR_INVALID_ARG, "sgns: need words >= 1 (got %d), dim in 1..%d (got %d), negative in 0..%d (got %d)",
                         n_words, CLG_SGNS_MAX_DIM, dim, CLG_SGNS_MAX_NEGATIVE, negative);
    clg_sgns *m = calloc(1, sizeof *m);
    if (!m)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "sgns: model struct");
    m->ctx = ctx;
    m->n = n_words;
    m->dim = dim;
    m->S = pad8(dim);
    m->K = negative;
    size_t bytes = (size_t)n_words * (size_t)m->S * sizeof(float);
    clg_status st;
    float *init = malloc((size_t)n_words * (size_t)dim * sizeof(float));
    if (!init) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "sgns: %d x %d initial weights", n_words, dim);
        goto fail;
    }
    uint64_t s = seed;
    for (size_t i = 0; i < (size_t)n_words * (size_t)dim; i++)
        init[i] = (float)((clg__u01(&s) - 0.5) / dim);
    if ((st = make_buf(ctx, bytes, &m->win, "input vectors")) || (st = make_buf(ctx, bytes, &m->wout, "output vectors")) ||
        (st = write_rows(m, m->win, init)) || (st = write_rows(m, m->wout, NULL)))
        goto fail;
    free(init);
    *out = m;
    return CLG_OK;
fail:
    free(init);
    clg_sgns_destroy(m);
    return st;
}

clg_status clg_sgns_set_weights(clg_sgns *m, const float *in, const float *out)
{
    if (!m)
        return clg__fail(CLG_ERR_INVALID_ARG, "sgns_set_weights: NULL model");
    clg_status st = CLG_OK;
    if (in && (st = write_rows(m, m->win, in)))
        return st;
    if (out)
        st = write_rows(m, m->wout, out);
    return st;
}

clg_status clg_sgns_get_weights(clg_sgns *m, float *in, float *out)
{
    if (!m)
        return clg__fail(CLG_ERR_INVALID_ARG, "sgns_get_weights: NULL model");
    clg_status st = CLG_OK;
    if (in && (st = read_rows(m, m->win, in)))
        return st;
    if (out)
        st = read_rows(m, m->wout, out);
    return st;
}

/* ---- across ranks ------------------------------------------------------------------------------ */

/* Both padded matrices into sync_host (read: the device's bytes to host; else host to device). */
static clg_status stage(clg_sgns *m, int read, const char *who)
{
    size_t n = (size_t)m->n * (size_t)m->S;
    if (!m->sync_host && !(m->sync_host = malloc(2 * n * sizeof(float))))
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: %zu bytes of host staging", who, 2 * n * sizeof(float));
    cl_command_queue q = m->ctx->queue;
    cl_mem b[2] = { m->win, m->wout };
    for (int i = 0; i < 2; i++) {
        /* blocking on the last read; writes are ordered before the next read of sync_host by the queue */
        cl_int err = read ? clEnqueueReadBuffer(q, b[i], i == 1 ? CL_TRUE : CL_FALSE, 0, n * 4, m->sync_host + i * n, 0, NULL, NULL)
                          : clEnqueueWriteBuffer(q, b[i], CL_FALSE, 0, n * 4, m->sync_host + i * n, 0, NULL, NULL);
        if (err)
            return clg__cl_fail(err, "%s: %s of %d x %d weights", who, read ? "download" : "upload", m->n, m->dim);
    }
    return CLG_OK;
}

/* One matrix (n floats at p, host memory) across ranks: p = base + the sum over ranks of (p - base);
 * base = p. */
static clg_status sync_one(float *p, size_t n, void *base_)
{
    float *base = base_;
    for (size_t j = 0; j < n; j++)
        p[j] -= base[j];
    clg_status st = clg__dist_allreduce_scaled(p, n, 1.0f, "clg_sgns_sync");
    if (st)
        return st;
    for (size_t j = 0; j < n; j++)
        base[j] = p[j] += base[j];
    return CLG_OK;
}

clg_status clg_sgns_sync(clg_sgns *m)
{
    static const char who[] = "clg_sgns_sync";
    if (!m)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL model", who);
    if (!clg__dist_active())
        return CLG_OK;
    if (!m->sync_base)
        return clg__fail(CLG_ERR_STATE, "%s: no common starting point (call clg_sgns_broadcast first)", who);
    size_t n = (size_t)m->n * (size_t)m->S;
    cl_mem b[2] = { m->win, m->wout };
    for (int i = 0; i < 2; i++) {
        clg_tensor t = { .s = clg_shape_make(CLG_F32, 1, (int64_t[]){ (int64_t)n }), .buf = b[i], .ctx = m->ctx };
        clg_status st = clg__tensor_host_update(&t, m->sync_host + i * n, sync_one, m->sync_base + i * n, who);
        if (st)
            return st;
    }
    return CLG_OK;
}

clg_status clg_sgns_broadcast(clg_sgns *m)
{
    static const char who[] = "clg_sgns_broadcast";
    if (!m)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL model", who);
    if (!clg__dist_active())
        return CLG_OK;
    size_t bytes = 2 * (size_t)m->n * (size_t)m->S * sizeof(float);
    clg_status st;
    if ((st = stage(m, 1, who)) || (st = clg__dist_bcast(m->sync_host, bytes, who)))
        return st;
    /* the common starting point of the next clg_sgns_sync */
    if (!m->sync_base && !(m->sync_base = malloc(bytes)))
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: %zu bytes of host memory", who, bytes);
    memcpy(m->sync_base, m->sync_host, bytes);
    return clg_dist_rank() == 0 ? CLG_OK : stage(m, 0, who);
}

void clg_sgns_set_deterministic(clg_sgns *m, int on)
{
    if (m)
        m->deterministic = on != 0;
}

static clg_status ensure_chunk(clg_sgns *m, int n)
{
    if (n <= m->cap)
        return CLG_OK;
    release(&m->tok);
    release(&m->span);
    release(&m->neg);
    release(&m->loss);
    free(m->loss_host);
    m->cap = 0;
    if (!(m->loss_host = malloc((size_t)n * sizeof(float))))
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "sgns: chunk of %d positions", n);
    clg_status st;
    if ((st = make_buf(m->ctx, (size_t)n * 4, &m->tok, "tokens")) || (st = make_buf(m->ctx, (size_t)n * 8, &m->span, "spans")) ||
        (st = make_buf(m->ctx, (size_t)n * (size_t)m->K * 4, &m->neg, "negatives")) ||
        (st = make_buf(m->ctx, (size_t)n * 4, &m->loss, "loss")))
        return st;
    m->cap = n;
    return CLG_OK;
}

clg_status clg_sgns_step(clg_sgns *m, const int *tok, const int *span, const int *neg, int n, float lr, double *loss)
{
    if (!m || n < 0 || (n > 0 && (!tok || !span || (m->K && !neg))))
        return clg__fail(CLG_ERR_INVALID_ARG, "sgns_step: NULL model/arrays or n < 0 (%d)", n);
    if (loss)
        *loss = 0;
    if (n == 0)
        return CLG_OK;
    for (int i = 0; i < n; i++) {
        if (tok[i] < 0 || tok[i] >= m->n)
            return clg__fail(CLG_ERR_INDEX, "sgns_step: token %d at position %d is outside 0..%d", tok[i], i, m->n - 1);
        if (span[2 * i] < 0 || span[2 * i + 1] < 0 || span[2 * i] > i || span[2 * i + 1] >= n - i)
            return clg__fail(CLG_ERR_INDEX, "sgns_step: window (%d, %d) of position %d leaves the chunk of %d", span[2 * i],
                             span[2 * i + 1], i, n);
    }
    for (int i = 0; i < n * m->K; i++)
        if (neg[i] < 0 || neg[i] >= m->n)
            return clg__fail(CLG_ERR_INDEX, "sgns_step: negative %d (entry %d) is outside 0..%d", neg[i], i, m->n - 1);
    clg_status st = ensure_chunk(m, n);
    if (st)
        return st;
    cl_command_queue q = m->ctx->queue;
    cl_int err = clEnqueueWriteBuffer(q, m->tok, CL_FALSE, 0, (size_t)n * 4, tok, 0, NULL, NULL);
    if (!err)
        err = clEnqueueWriteBuffer(q, m->span, CL_FALSE, 0, (size_t)n * 8, span, 0, NULL, NULL);
    if (!err && m->K)
        err = clEnqueueWriteBuffer(q, m->neg, CL_FALSE, 0, (size_t)n * (size_t)m->K * 4, neg, 0, NULL, NULL);
    if (err)
        return clg__cl_fail(err, "sgns_step: upload of %d positions", n);
    if (!m->deterministic) {
        if ((st = LAUNCH(m->ctx, CLG_K_sgns_train, (size_t)n, KMEM(m->win), KMEM(m->wout), KMEM(m->tok),
                         KMEM(m->span), KMEM(m->neg), KINT(n), KINT(m->K), KINT(m->S / 8), KFLT(lr), KMEM(m->loss),
                         KINT(0))))
            return st;
    } else {
        cl_kernel k;
        size_t wg = 0;
        /* at most 256: PoCL keeps every work-item's private row of a group on one stack */
        if ((st = clg__kernel_id(m->ctx, CLG_K_sgns_train, &k)) ||
            (st = clg__kernel_wg(m->ctx, CLG_K_sgns_train, 256, &wg)))
            return st;
        for (int base = 0; base < n; base += (int)wg) {
            size_t g = (size_t)(n - base) < wg ? (size_t)(n - base) : wg;
            clg_karg a[] = { KMEM(m->win), KMEM(m->wout), KMEM(m->tok), KMEM(m->span), KMEM(m->neg), KINT(n),
                             KINT(m->K), KINT(m->S / 8), KFLT(lr), KMEM(m->loss), KINT(base) };
            if ((st = clg__set_args(m->ctx, k, "sgns_train", a, CLG_NARGS(a))) || (st = clg__enqueue(m->ctx, k, "sgns_train", 1, &g, &g)))
                return st;
        }
    }
    /* the blocking read also keeps tok/span/neg alive until the uploads are done */
    err = clEnqueueReadBuffer(q, m->loss, CL_TRUE, 0, (size_t)n * 4, m->loss_host, 0, NULL, NULL);
    if (err)
        return clg__cl_fail(err, "sgns_step: reading the loss of %d positions", n);
    if (loss) {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += m->loss_host[i];
        *loss = s;
    }
    return CLG_OK;
}

/* ---- training ----------------------------------------------------------------- */

clg_sgns_options clg_sgns_options_defaults(void)
{
    return (clg_sgns_options){ .dim = 100, .window = 5, .negative = 5, .epochs = 5, .min_count = 5, .lr = 0.025f,
                               .sample = 1e-4, .seed = 1, .chunk = 32768, .deterministic = 0,
                               .sync_words = 1000000 };
}

typedef struct trainer {
    clg_sgns *m;
    const clg_sgns_options *o;
    int *tok, *span, *neg;
    int n, line_start;
    clg__sampler smp;
    uint64_t rng;
} trainer;

/* Close the current line's windows (positions line_start..n-1). */
static void close_line(trainer *t)
{
    for (int i = t->line_start; i < t->n; i++) {
        int b = 1 + (int)(clg__splitmix64(&t->rng) % (uint64_t)t->o->window);
        int left = i - t->line_start, right = t->n - 1 - i;
        t->span[2 * i] = b < left ? b : left;
        t->span[2 * i + 1] = b < right ? b : right;
    }
    t->line_start = t->n;
}

/* ---- training state (interrupt and resume) ---------------------------------------------------- */

/* Where training stands at a chunk boundary: all that, with the two matrices, makes the rest of
 * the run the same as if it had not stopped. */
typedef struct train_pos {
    int epoch;
    long offset;            /* corpus byte offset of the next token */
    int line_words;         /* vocabulary words of the current line so far */
    int has_pair;
    int64_t done, pairs_total;
    uint64_t rng;
} train_pos;

/* Everything a saved state must match: the options that shape training and the vocabulary. */
static void state_key(const clg_sgns_options *o, const clg_vocab *voc, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "dim=%d window=%d negative=%d epochs=%d min_count=%d lr=%.9g sample=%.17g seed=%llu chunk=%d "
             "deterministic=%d vocab=%d/%016llx",
             o->dim, o->window, o->negative, o->epochs, o->min_count, (double)o->lr, o->sample,
             (unsigned long long)o->seed, o->chunk, o->deterministic, clg_vocab_size(voc), (unsigned long long)clg__vocab_digest(voc));
}

static clg_status state_save(clg_sgns *m, const clg_sgns_options *o, const clg_vocab *voc, const train_pos *p,
                             const char *path)
{
    int V = clg_vocab_size(voc);
    size_t n = (size_t)V * (size_t)o->dim;
    float *in = malloc(n * sizeof *in), *outw = malloc(n * sizeof *outw);
    clg_status st;
    if (!in || !outw) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "sgns state: %d x %d matrices", V, o->dim);
        goto out;
    }
    if ((st = clg_sgns_get_weights(m, in, outw)))
        goto out;
    char key[512], ep[16], off[32], lw[16], hp[8], done[32], pt[32], rng[32];
    state_key(o, voc, key, sizeof key);
    snprintf(ep, sizeof ep, "%d", p->epoch);
    snprintf(off, sizeof off, "%ld", p->offset);
    snprintf(lw, sizeof lw, "%d", p->line_words);
    snprintf(hp, sizeof hp, "%d", p->has_pair);
    snprintf(done, sizeof done, "%lld", (long long)p->done);
    snprintf(pt, sizeof pt, "%lld", (long long)p->pairs_total);
    snprintf(rng, sizeof rng, "%llu", (unsigned long long)p->rng);
    const char *meta[] = { "format", "clgrad-sgns-state-1", "key", key, "epoch", ep, "offset", off, "line_words", lw,
                           "has_pair", hp, "done", done, "pairs_total", pt, "rng", rng, NULL };
    clg_st_tensor t[2] = { { "in", CLG_F32, 2, { V, o->dim }, in }, { "out", CLG_F32, 2, { V, o->dim }, outw } };
    st = clg_safetensors_write(path, t, 2, meta);
out:
    free(in);
    free(outw);
    return st;
}

/* A whole decimal number of at most hi from the state's metadata; 1 if absent or malformed. */
static int meta_num(const clg_st_file *f, const char *key, unsigned long long hi, unsigned long long *v)
{
    const char *s = clg_safetensors_meta(f, key);
    char *e;
    if (!s || *s < '0' || *s > '9')
        return 1;
    errno = 0;
    *v = strtoull(s, &e, 10);
    return *e || errno || *v > hi;
}

static clg_status state_load(clg_sgns *m, const clg_sgns_options *o, const clg_vocab *voc, const char *path,
                             long corpus_bytes, train_pos *p)
{
    clg_st_file *f;
    clg_status st = clg_safetensors_open(path, &f);
    if (st)
        return st;
    int V = clg_vocab_size(voc);
    char key[512];
    state_key(o, voc, key, sizeof key);
    const char *fmt = clg_safetensors_meta(f, "format"), *k = clg_safetensors_meta(f, "key");
    unsigned long long ep, off, lw, hp, done, pt, rng;
    clg_st_tensor in, outw;
    if (!fmt || strcmp(fmt, "clgrad-sgns-state-1") != 0) {
        st = clg__fail(CLG_ERR_FORMAT, "sgns state %s: not a clgrad word-vector training state", path);
    } else if (!k || strcmp(k, key) != 0) {
        st = clg__fail(CLG_ERR_INVALID_ARG, "sgns state %s was saved with\n  %s\nbut this run has\n  %s\n(resume with "
                       "the same corpus and options)", path, k ? k : "?", key);
    } else if (meta_num(f, "epoch", (unsigned long long)o->epochs - 1, &ep) ||
               meta_num(f, "offset", (unsigned long long)corpus_bytes, &off) ||
               meta_num(f, "line_words", INT32_MAX, &lw) || meta_num(f, "has_pair", 1, &hp) ||
               meta_num(f, "done", INT64_MAX, &done) || meta_num(f, "pairs_total", INT64_MAX, &pt) ||
               meta_num(f, "rng", UINT64_MAX, &rng)) {
        st = clg__fail(CLG_ERR_FORMAT, "sgns state %s: malformed position metadata", path);
    } else if (clg_safetensors_find(f, "in", &in) || clg_safetensors_find(f, "out", &outw) || in.dtype != CLG_F32 ||
               outw.dtype != CLG_F32 || in.ndim != 2 || outw.ndim != 2 || in.shape[0] != V ||
               in.shape[1] != o->dim || outw.shape[0] != V || outw.shape[1] != o->dim) {
        st = clg__fail(CLG_ERR_FORMAT, "sgns state %s: matrices 'in' and 'out' must be f32[%d, %d]", path, V,
                       o->dim);
    } else if (!(st = clg_sgns_set_weights(m, in.data, outw.data))) {
        p->epoch = (int)ep;
        p->offset = (long)off;
        p->line_words = (int)lw;
        p->has_pair = (int)hp;
        p->done = (int64_t)done;
        p->pairs_total = (int64_t)pt;
        p->rng = (uint64_t)rng;
    }
    clg_safetensors_close(f);
    return st;
}

/* ---- across ranks: each rank's part of the corpus -------------------------------------------------- */

/* The first line start at or after byte b (size: none). */
static long line_start_at(FILE *f, long b, long size)
{
    if (b <= 0)
        return 0;
    if (fseek(f, b - 1, SEEK_SET) != 0)
        return size;
    int c;
    long p = b - 1;
    while ((c = getc_unlocked(f)) != EOF) {
        p++;
        if (c == '\n')
            return p;
    }
    return size;
}

/* Rank r's part: the r-th of N equal byte ranges, both ends moved to line starts (a window never
 * crosses parts), and the vocabulary words in it. */
static clg_status corpus_part(const char *corpus, const clg_vocab *voc, int r, int N, long *lo, long *hi,
                              int64_t *words)
{
    FILE *f;
    clg_status st = clg_file_open_read(corpus, "corpus", &f);
    if (st)
        return st;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0) {
        fclose(f);
        return clg__fail(CLG_ERR_IO, "sgns_train: cannot seek corpus '%s'", corpus);
    }
    *lo = line_start_at(f, (long)((double)size * r / N), size);
    *hi = r == N - 1 ? size : line_start_at(f, (long)((double)size * (r + 1) / N), size);
    *words = 0;
    char w[MAX_WORD + 1];
    int t = 0;
    if (*lo < *hi && fseek(f, *lo, SEEK_SET) != 0)
        st = clg__fail(CLG_ERR_IO, "sgns_train: cannot seek corpus '%s' to %ld", corpus, *lo);
    while (!st && *lo < *hi && (t = clg__read_token(f, w)) != -1) {
        if (t == -2)
            st = clg__fail(CLG_ERR_FORMAT, "sgns_train: corpus '%s' changed: a word longer than %d bytes", corpus, MAX_WORD);
        else if (t > 0)
            *words += clg_vocab_find(voc, w) >= 0;
        else if (ftell(f) >= *hi)
            break;
    }
    if (!st && ferror(f))
        st = clg__fail(CLG_ERR_IO, "sgns_train: read error on '%s'", corpus);
    fclose(f);
    return st;
}

/* Every rank's flag set when any rank's is. */
static clg_status agree(int *flag)
{
    return clg__dist_active() ? clg_dist_max_int(flag) : CLG_OK;
}

/* A sync across ranks: the matrices averaged, then *stop set on every rank if any rank wants it. */
static clg_status sync_ranks(clg_sgns *m, int want_stop, int *stop)
{
    clg_status st = clg_sgns_sync(m);
    int s = want_stop;
    if (!st && !(st = agree(&s)))
        *stop = s;
    return st;
}

/* Train the pending chunk at the schedule's learning rate, count it, report progress (a non-zero
 * return sets *want_stop). */
static clg_status launch(trainer *t, const clg_sgns_options *o, int64_t *done, int64_t total, int64_t *chunk_words,
                         int64_t *pairs_total, clg_sgns_progress_fn progress, void *user, int *want_stop)
{
    double frac = (double)*done / (double)total;
    float lr = o->lr * (float)(frac < 1 - 1e-4 ? 1 - frac : 1e-4);
    double loss;
    clg_status st = clg_sgns_step(t->m, t->tok, t->span, t->neg, t->n, lr, &loss);
    if (st)
        return st;
    int64_t pairs = 0;
    for (int i = 0; i < t->n; i++)
        pairs += t->span[2 * i] + t->span[2 * i + 1];
    *pairs_total += pairs;
    *done += *chunk_words;
    *chunk_words = 0;
    t->n = t->line_start = 0;
    if (progress && progress(user, *done, total, pairs ? loss / (double)pairs : 0, lr))
        *want_stop = 1;
    return CLG_OK;
}

clg_status clg_sgns_train(clg_ctx *ctx, const char *corpus, const clg_sgns_options *opt, clg_sgns_progress_fn progress,
                          void *user, clg_vectors **out)
{
    clg_sgns_options o = opt ? *opt : clg_sgns_options_defaults();
    if (!ctx || !corpus || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "sgns_train: NULL ctx, corpus or out");
    *out = NULL;
    if (o.window < 1 || o.epochs < 1 || o.negative < 1 || o.negative > CLG_SGNS_MAX_NEGATIVE || !(o.lr > 0) ||
        o.sample < 0 || o.chunk < 1 || o.dim < 1 || o.dim > CLG_SGNS_MAX_DIM || o.min_count < 1)
        return clg__fail(CLG_ERR_INVALID_ARG,
                         "sgns_train: bad options (dim %d in 1..%d, window %d >= 1, negative %d in 1..%d, epochs %d >= 1, "
                         "lr %g > 0, sample %g >= 0, min_count %d >= 1, chunk %d >= 1)",
                         o.dim, CLG_SGNS_MAX_DIM, o.window, o.negative, CLG_SGNS_MAX_NEGATIVE, o.epochs, (double)o.lr,
                         o.sample, o.min_count, o.chunk);
    int N = clg__dist_active() ? clg_dist_size() : 1, rank = N > 1 ? clg_dist_rank() : 0;
    if (N > 1 && (o.state_in || o.sync_words < 1))
        return clg__fail(CLG_ERR_INVALID_ARG, o.state_in ? "sgns_train: resuming a saved state is not supported across "
                         "ranks (run it as one process)" : "sgns_train: sync_words %d < 1", o.sync_words);
    clg_vocab *voc = NULL;
    clg_status st = clg_vocab_build(corpus, o.min_count, &voc);
    if (st)
        return st;
    if (N > 1) {
        /* every rank must number the words alike: the matrices' rows are averaged by id */
        uint64_t mine = clg__vocab_digest(voc), r0 = mine;
        int differ = 0;
        if (!(st = clg__dist_bcast(&r0, sizeof r0, "sgns_train"))) {
            differ = r0 != mine;
            st = agree(&differ);
        }
        if (!st && differ)
            st = clg__fail(CLG_ERR_DIST, "sgns_train: the ranks built different vocabularies from '%s' (rank %d's "
                           "differs from rank 0's: the same file on every machine?)", corpus, rank);
        if (st) {
            clg_vocab_free(voc);
            return st;
        }
    }
    int V = clg_vocab_size(voc);
    if (V < 2) {
        st = clg__fail(CLG_ERR_FORMAT, "sgns_train: corpus '%s' has %d distinct word%s seen at least %d times (min_count): "
                       "skip-gram needs at least 2 to have anything to learn", corpus, V, V == 1 ? "" : "s",
                       o.min_count);
        clg_vocab_free(voc);
        return st;
    }
    /* rank 0 keeps the single process's stream */
    trainer t = { .o = &o, .rng = (o.seed * 0x2545F4914F6CDD1Dull + 7) ^ ((uint64_t)rank << 40) };
    long lo = 0, hi = 0;
    int64_t part_words = 0;
    int syncs = 0; /* per epoch, across ranks */
    if (N > 1) {
        if ((st = corpus_part(corpus, voc, rank, N, &lo, &hi, &part_words)))
            goto out;
        int64_t s64 = (part_words + o.sync_words - 1) / o.sync_words;
        syncs = s64 < 1 ? 1 : s64 > (1 << 30) ? 1 << 30 : (int)s64;
        if ((st = agree(&syncs)))
            goto out;
    }
    FILE *f = NULL;
    if ((st = clg__sampler_init(&t.smp, voc, o.sample)))
        goto out;
    t.tok = malloc((size_t)o.chunk * sizeof *t.tok);
    t.span = malloc((size_t)o.chunk * 2 * sizeof *t.span);
    t.neg = malloc((size_t)o.chunk * (size_t)o.negative * sizeof *t.neg);
    if (!t.tok || !t.span || !t.neg) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "sgns_train: host buffers for %d words, chunk %d", V, o.chunk);
        goto out;
    }
    if ((st = clg_sgns_create(ctx, V, o.dim, o.negative, o.seed, &t.m)))
        goto out;
    clg_sgns_set_deterministic(t.m, o.deterministic);
    if (N > 1 && (st = clg_sgns_broadcast(t.m)))
        goto out;
    train_pos pos = { .rng = t.rng };
    if (o.state_in) {
        struct stat sb;
        if (stat(corpus, &sb) != 0) {
            st = clg__fail(CLG_ERR_IO, "sgns_train: cannot stat corpus '%s': %s", corpus, strerror(errno));
            goto out;
        }
        if ((st = state_load(t.m, &o, voc, o.state_in, (long)sb.st_size, &pos)))
            goto out;
        t.rng = pos.rng;
    }
    int64_t total = (N > 1 ? part_words : t.smp.train_words) * o.epochs, done = pos.done;
    if (total < 1)
        total = 1; /* a rank with an empty part still takes part in every sync */
    char w[MAX_WORD + 1];
    int stop = 0, has_pair = pos.has_pair, saved = 0, want_stop = 0;
    int64_t pairs_total = pos.pairs_total;
    for (int ep = pos.epoch; ep < o.epochs && !stop; ep++) {
        if ((st = clg_file_open_read(corpus, "corpus", &f)))
            goto out;
        int r, eof = 0, line_words = 0;
        /* across ranks: syncs done this epoch, the part's word count that triggers the next, and
         * flush: launch the pending chunk and sync now */
        int sync = 0, flush = 0;
        int64_t ep_words = 0, sync_at = N > 1 ? (part_words + syncs - 1) / syncs : 0;
        if (N > 1) {
            eof = lo >= hi;
            if (!eof && fseek(f, lo, SEEK_SET) != 0) {
                st = clg__fail(CLG_ERR_IO, "sgns_train: cannot seek corpus '%s' to %ld", corpus, lo);
                goto out;
            }
        }
        if (ep == pos.epoch && pos.offset > 0) {
            if (fseek(f, pos.offset, SEEK_SET) != 0) {
                st = clg__fail(CLG_ERR_IO, "sgns_train: cannot seek corpus '%s' to %ld", corpus, pos.offset);
                goto out;
            }
            line_words = pos.line_words;
        }
        int64_t chunk_words = 0;
        while (!eof && !stop) {
            r = clg__read_token(f, w);
            if (r == -2) {
                st = clg__fail(CLG_ERR_FORMAT, "sgns_train: corpus '%s' changed: a word longer than %d bytes ('%.40s...')",
                               corpus, MAX_WORD, w);
                goto out;
            }
            if (r < 0 || (N > 1 && r == 0 && ftell(f) >= hi))
                eof = 1;
            if (r <= 0) {
                close_line(&t);
                line_words = 0;
                if (!eof)
                    continue;
            } else {
                int id = clg_vocab_find(voc, w);
                if (id < 0)
                    continue;
                has_pair |= ++line_words >= 2;
                chunk_words++;
                flush |= N > 1 && ++ep_words >= sync_at;
                int dropped = t.smp.keep[id] < 1.0 && clg__u01(&t.rng) > t.smp.keep[id];
                if (dropped && !flush)
                    continue;
                if (!dropped) {
                    t.tok[t.n] = id;
                    for (int k = 0; k < o.negative; k++) {
                        int nw, tries = 0;
                        do
                            nw = t.smp.table[clg__splitmix64(&t.rng) % (uint64_t)t.smp.tsize];
                        while (nw == id && V > 1 && ++tries < 10);
                        t.neg[t.n * o.negative + k] = nw;
                    }
                    t.n++;
                    if (t.n < o.chunk && !flush)
                        continue;
                }
                close_line(&t);
            }
            if (t.n == 0 && !flush)
                continue;
            if (t.n < o.chunk && !eof && !flush)
                continue;
            if (t.n > 0 && (st = launch(&t, &o, &done, total, &chunk_words, &pairs_total, progress, user, &want_stop)))
                goto out;
            if (want_stop && N == 1) {
                stop = 1;
                if (o.state_out) {
                    train_pos p = { ep, ftell(f), line_words, has_pair, done, pairs_total, t.rng };
                    if ((st = state_save(t.m, &o, voc, &p, o.state_out)))
                        goto out;
                    saved = 1;
                }
            }
            if (flush) {
                /* across ranks: average; a stop asked on any rank is taken by all here */
                if ((st = sync_ranks(t.m, want_stop, &stop)))
                    goto out;
                sync++;
                sync_at = (part_words * (sync + 1) + syncs - 1) / syncs;
                flush = 0;
            }
        }
        /* the syncs this rank's part did not reach (a short part), so every rank makes as many */
        while (N > 1 && !stop && !st && sync < syncs) {
            st = sync_ranks(t.m, want_stop, &stop);
            sync++;
        }
        if (st)
            goto out;
        if (ferror(f)) {
            st = clg__fail(CLG_ERR_IO, "sgns_train: read error on '%s'", corpus);
            goto out;
        }
        fclose(f);
        f = NULL;
        if (N > 1 && (st = agree(&has_pair))) /* a rank's part may hold no pair: the corpus does */
            goto out;
        if (!has_pair && !stop) {
            st = clg__fail(CLG_ERR_FORMAT, "sgns_train: no line of corpus '%s' has two vocabulary words (seen at least %d "
                           "times): there are no skip-gram pairs to train on", corpus, o.min_count);
            goto out;
        }
    }
    if (saved)
        goto out; /* *out stays NULL: the state is in o.state_out */
    int trained = pairs_total > 0;
    if (N > 1 && (st = agree(&trained)))
        goto out;
    if (!trained && !stop) {
        st = clg__fail(CLG_ERR_FORMAT, "sgns_train: subsampling (sample %g) dropped every skip-gram pair of corpus '%s': "
                       "nothing was trained; use a larger corpus or sample 0", o.sample, corpus);
        goto out;
    }
    clg_vectors *v = NULL;
    float *data = clg__vectors_alloc(&v, V, o.dim);
    if (!data) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "sgns_train: %d x %d output vectors", V, o.dim);
        goto out;
    }
    for (int i = 0; i < V; i++)
        if (!(v->words[i] = strdup(clg_vocab_word(voc, i)))) {
            clg_vectors_free(v);
            st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "sgns_train: vocabulary copy");
            goto out;
        }
    if ((st = clg_sgns_get_weights(t.m, data, NULL))) {
        clg_vectors_free(v);
        goto out;
    }
    *out = v;
out:
    if (f)
        fclose(f);
    clg_sgns_destroy(t.m);
    free(t.tok);
    free(t.span);
    free(t.neg);
    clg__sampler_free(&t.smp);
    clg_vocab_free(voc);
    return st;
}
