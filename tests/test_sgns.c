/* test_sgns.c — SGNS updates vs finite differences, planted co-occurrences, word-vector I/O and queries, per device. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"
#include "clgrad/sgns.h"

static double softplus(double z) { return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)); }

/* Host double loss of one (context c, centre t, negatives) group: softplus(-c.t) + sum softplus(c.n). */
static double ref_loss(const double *in, const double *out, int D, int c, int t, const int *neg, int K)
{
    double L = 0;
    for (int k = 0; k <= K; k++) {
        int o = k ? neg[k - 1] : t;
        double s = 0;
        for (int d = 0; d < D; d++)
            s += in[c * D + d] * out[o * D + d];
        L += softplus(k ? s : -s);
    }
    return L;
}

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 11) / 9007199254740992.0 - 0.5);
}

/* One position with one context: the device update is exactly -lr * gradient of the pair loss. */
static void check_gradient(int D)
{
    enum { V = 9, K = 4 };
    const float lr = 0.05f;
    uint64_t s = 42 + (uint64_t)D;
    float *in = malloc(sizeof(float) * V * D), *out = malloc(sizeof(float) * V * D);
    float *in2 = malloc(sizeof(float) * V * D), *out2 = malloc(sizeof(float) * V * D);
    double *din = malloc(sizeof(double) * V * D), *dout = malloc(sizeof(double) * V * D);
    for (int i = 0; i < V * D; i++) {
        in[i] = 1.5f * frand(&s);
        out[i] = 1.5f * frand(&s);
        din[i] = in[i];
        dout[i] = out[i];
    }
    clg_sgns *m;
    assert_clg_ok(clg_sgns_create(tctx, V, D, K, 7, &m));
    assert_clg_ok(clg_sgns_set_weights(m, in, out));
    /* chunk: [context 2, centre 5]; position 1 sees one word to its left */
    int tok[2] = { 2, 5 }, span[4] = { 0, 0, 1, 0 }, neg[2 * K] = { 0, 0, 0, 0, 1, 3, 8, 6 };
    double loss;
    assert_clg_ok(clg_sgns_step(m, tok, span, neg, 2, lr, &loss));
    assert_clg_ok(clg_sgns_get_weights(m, in2, out2));
    double L = ref_loss(din, dout, D, 2, 5, neg + K, K);
    assert_true(fabs(loss - L) <= 1e-5 * (1 + fabs(L)));
    const double h = 1e-5;
    double maxerr = 0;
    for (int which = 0; which < 2; which++) {
        double *w = which ? dout : din;
        const float *before = which ? out : in, *after = which ? out2 : in2;
        for (int i = 0; i < V * D; i++) {
            double keep = w[i];
            w[i] = keep + h;
            double lp = ref_loss(din, dout, D, 2, 5, neg + K, K);
            w[i] = keep - h;
            double lm = ref_loss(din, dout, D, 2, 5, neg + K, K);
            w[i] = keep;
            double g = (lp - lm) / (2 * h);
            double step = ((double)after[i] - (double)before[i]) / lr;
            double err = fabs(step + g);
            if (err > maxerr)
                maxerr = err;
            if (err > 2e-4 + 1e-3 * fabs(g))
                fail_msg("D=%d %s[%d][%d]: device step/lr %.7g, -dL/dw %.7g", D, which ? "out" : "in", i / D, i % D, step, -g);
        }
    }
    clg_sgns_destroy(m);
    free(in);
    free(out);
    free(in2);
    free(out2);
    free(din);
    free(dout);
}

static void test_gradient(void **st)
{
    (void)st;
    check_gradient(1);
    check_gradient(7);
    check_gradient(33);
}

static void test_step_bad_ids(void **st)
{
    (void)st;
    clg_sgns *m;
    assert_clg_ok(clg_sgns_create(tctx, 5, 8, 2, 1, &m));
    int tok[2] = { 1, 5 }, span[4] = { 0, 1, 1, 0 }, neg[4] = { 0, 1, 2, 3 };
    assert_clg_status(clg_sgns_step(m, tok, span, neg, 2, 0.1f, NULL), CLG_ERR_INDEX);
    assert_non_null(strstr(clg_last_error(), "token 5 at position 1"));
    tok[1] = 4;
    span[1] = 2;
    assert_clg_status(clg_sgns_step(m, tok, span, neg, 2, 0.1f, NULL), CLG_ERR_INDEX);
    assert_non_null(strstr(clg_last_error(), "leaves the chunk"));
    span[1] = 1;
    neg[3] = -1;
    assert_clg_status(clg_sgns_step(m, tok, span, neg, 2, 0.1f, NULL), CLG_ERR_INDEX);
    assert_non_null(strstr(clg_last_error(), "negative -1"));
    clg_sgns_destroy(m);
    clg_sgns *bad;
    assert_clg_status(clg_sgns_create(tctx, 5, CLG_SGNS_MAX_DIM + 1, 2, 1, &bad), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "dim in 1..512"));
}

static char *tmp_path(const char *tag)
{
    static char buf[4][64];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 64, "/tmp/clg_sgns_%s_XXXXXX", tag);
    int fd = mkstemp(p);
    assert_true(fd >= 0);
    close(fd);
    return p;
}

/* 10 groups of 4 words; every line is one group in a random order: members share all their contexts. */
static void test_planted(void **st)
{
    (void)st;
    enum { G = 10, M = 4, LINES = 600 };
    char *path = tmp_path("corpus");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    uint64_t s = 3;
    for (int l = 0; l < LINES; l++) {
        int g = l % G, perm[M] = { 0, 1, 2, 3 };
        for (int i = M - 1; i > 0; i--) {
            int j = (int)((frand(&s) + 0.5f) * (float)(i + 1)) % (i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int i = 0; i < M; i++)
            fprintf(f, "%sG%dW%d", i ? " " : "", g, perm[i]);
        fputc('\n', f);
    }
    fclose(f);
    clg_sgns_options o = clg_sgns_options_defaults();
    o.dim = 16;
    o.window = 3;
    o.negative = 5;
    o.epochs = 20;
    o.min_count = 1;
    o.sample = 0;
    o.lr = 0.05f;
    o.chunk = 1200;
    /* On CPU devices train the checked model deterministically: Hogwild races made the
     * all-40-words check fail now and then. */
    o.deterministic = tdev->type == CLG_DEVICE_CPU;
    clg_vectors *v;
    assert_clg_ok(clg_sgns_train(tctx, path, &o, NULL, NULL, &v));
    if (tdev->type == CLG_DEVICE_CPU) {
        /* deterministic mode: two runs with one seed agree bit for bit */
        o.deterministic = 1;
        o.epochs = 3;
        clg_vectors *d1, *d2;
        assert_clg_ok(clg_sgns_train(tctx, path, &o, NULL, NULL, &d1));
        assert_clg_ok(clg_sgns_train(tctx, path, &o, NULL, NULL, &d2));
        assert_memory_equal(d1->data, d2->data, sizeof(float) * (size_t)d1->n * (size_t)d1->dim);
        clg_vectors_free(d1);
        clg_vectors_free(d2);
    }
    unlink(path);
    assert_int_equal(v->n, G * M);
    assert_int_equal(v->dim, 16);
    clg_vec_index *ix;
    assert_clg_ok(clg_vec_index_create(tctx, v, &ix));
    int good = 0;
    for (int i = 0; i < v->n; i++) {
        int ids[1], n;
        float sc[1];
        assert_clg_ok(clg_vec_index_nearest(ix, v->data + (size_t)i * v->dim, 1, &i, 1, ids, sc, &n));
        assert_int_equal(n, 1);
        /* words are "g<g>w<m>" after lowercasing: same group = same prefix up to 'w' */
        const char *a = v->words[i], *b = v->words[ids[0]];
        good += strchr(a, 'w') - a == strchr(b, 'w') - b && !strncmp(a, b, (size_t)(strchr(a, 'w') - a));
    }
    if (good < v->n)
        fail_msg("only %d of %d words have a group mate as nearest neighbour", good, v->n);
    clg_vec_index_destroy(ix);
    clg_vectors_free(v);
}

static clg_vectors *make_vectors(int n, int dim)
{
    clg_vectors *v = calloc(1, sizeof *v);
    v->n = n;
    v->dim = dim;
    v->words = calloc((size_t)n, sizeof *v->words);
    v->data = malloc(sizeof(float) * (size_t)n * (size_t)dim);
    uint64_t s = 11;
    static const float special[] = { 0.0f, -0.0f, 1e-38f, 1.17549435e-38f, 1e-45f, 3.4028235e38f, -1.0f / 3.0f, 0.1f };
    for (int i = 0; i < n; i++) {
        char w[32];
        snprintf(w, sizeof w, i == 1 ? "caf\xc3\xa9%d" : "word%d", i);
        v->words[i] = strdup(w);
        for (int d = 0; d < dim; d++)
            v->data[(size_t)i * dim + d] = (i * dim + d) % 5 == 0 ? special[(i + d) % 8] : frand(&s) * 7.0f;
    }
    /* a first float whose low byte is '\n' must not make a binary file look like text */
    uint32_t nl = 0x3f80000au;
    memcpy(&v->data[0], &nl, 4);
    return v;
}

static void test_roundtrip(void **st)
{
    (void)st;
    int shapes[][2] = { { 1, 1 }, { 7, 33 }, { 1030, 7 } };
    for (int c = 0; c < 3; c++) {
        clg_vectors *v = make_vectors(shapes[c][0], shapes[c][1]);
        for (int fmt = CLG_VEC_TEXT; fmt <= CLG_VEC_BINARY; fmt++) {
            char *p = tmp_path("vec");
            assert_clg_ok(clg_vectors_save(v, p, (clg_vec_format)fmt));
            clg_vectors *w;
            assert_clg_ok(clg_vectors_load(p, CLG_VEC_AUTO, &w));
            unlink(p);
            assert_int_equal(w->n, v->n);
            assert_int_equal(w->dim, v->dim);
            for (int i = 0; i < v->n; i++)
                assert_string_equal(w->words[i], v->words[i]);
            assert_memory_equal(w->data, v->data, sizeof(float) * (size_t)v->n * (size_t)v->dim);
            clg_vectors_free(w);
        }
        clg_vectors_free(v);
    }
}

/* Stop training after `stop_at` chunks (0: never). */
static int stop_after(void *user, int64_t done, int64_t total, double loss, float lr)
{
    (void)done, (void)total, (void)loss, (void)lr;
    int *k = user;
    return ++k[1] == k[0];
}

/* Exact resume: training stopped after k chunks saves its state; continued from it (and stopped
 * and continued again), the vectors equal the uninterrupted run's bit for bit (deterministic mode,
 * CPU devices), with subsampling on, for stops mid-epoch, at an epoch's end and at the last chunk. */
static void test_resume_exact(void **st)
{
    (void)st;
    if (tdev->type != CLG_DEVICE_CPU)
        skip();
    char corpus[64], state[64], state2[64];
    snprintf(corpus, sizeof corpus, "%s", tmp_path("rcorpus"));
    snprintf(state, sizeof state, "%s", tmp_path("state"));
    snprintf(state2, sizeof state2, "%s", tmp_path("state2"));
    FILE *f = fopen(corpus, "w");
    assert_non_null(f);
    uint64_t s = 5;
    for (int l = 0; l < 300; l++) {
        int len = 3 + (int)(util_splitmix64(&s) % 8);
        for (int i = 0; i < len; i++)
            fprintf(f, "%sw%d", i ? " " : "", (int)(util_splitmix64(&s) % 60) % (1 + (int)(util_splitmix64(&s) % 60)));
        fputc('\n', f);
    }
    assert_int_equal(fclose(f), 0);
    clg_sgns_options o = clg_sgns_options_defaults();
    o.dim = 8;
    o.window = 3;
    o.epochs = 3;
    o.min_count = 1;
    o.sample = 1e-2;
    o.chunk = 100;
    o.deterministic = 1;
    clg_vectors *ref;
    int count[2] = { 0, 0 };
    assert_clg_ok(clg_sgns_train(tctx, corpus, &o, stop_after, count, &ref));
    int chunks = count[1];
    assert_true(chunks >= 6);
    int stops[] = { 1, chunks / 3, chunks / 2, chunks - 1, chunks };
    for (size_t c = 0; c < sizeof stops / sizeof stops[0]; c++) {
        clg_sgns_options a = o;
        a.state_out = state;
        clg_vectors *v = NULL;
        int k[2] = { stops[c], 0 };
        assert_clg_ok(clg_sgns_train(tctx, corpus, &a, stop_after, k, &v));
        assert_null(v);
        /* continue, stopping once more after 2 chunks when there are that many left */
        a.state_in = state;
        a.state_out = state2;
        int k2[2] = { chunks - stops[c] > 2 ? 2 : 0, 0 };
        assert_clg_ok(clg_sgns_train(tctx, corpus, &a, stop_after, k2, &v));
        if (k2[0]) {
            assert_null(v);
            a.state_in = state2;
            assert_clg_ok(clg_sgns_train(tctx, corpus, &a, NULL, NULL, &v));
        }
        assert_non_null(v);
        assert_int_equal(v->n, ref->n);
        if (memcmp(v->data, ref->data, sizeof(float) * (size_t)v->n * (size_t)v->dim) != 0)
            fail_msg("stopped after chunk %d of %d: resumed vectors differ from the uninterrupted run", stops[c], chunks);
        clg_vectors_free(v);
    }
    /* a state of other options, or no state at all, is refused */
    clg_sgns_options b = o;
    b.state_out = state;
    clg_vectors *v = NULL;
    int k[2] = { 2, 0 };
    assert_clg_ok(clg_sgns_train(tctx, corpus, &b, stop_after, k, &v));
    b.state_out = NULL;
    b.state_in = state;
    b.window = 4;
    assert_clg_status(clg_sgns_train(tctx, corpus, &b, NULL, NULL, &v), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "resume with the same corpus and options"));
    b.window = o.window;
    assert_clg_ok(clg_vectors_save(ref, state2, CLG_VEC_TEXT));
    b.state_in = state2;
    assert_int_not_equal(clg_sgns_train(tctx, corpus, &b, NULL, NULL, &v), CLG_OK);
    assert_null(v);
    clg_vectors_free(ref);
    unlink(corpus);
    unlink(state);
    unlink(state2);
}

/* Defect: train sgns --out wrote the .vec in place (an interruption or a full disk destroyed the
 * previous file).  A save that fails (writes past RLIMIT_FSIZE, as on a full disk) leaves the old
 * file as it was and no temp file. */
static void test_save_atomic(void **st)
{
    (void)st;
    clg_vectors *v = make_vectors(1030, 7);
    char p[512];
    snprintf(p, sizeof p, "%s", tmp_path("atomic.vec"));
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("1 1\nold 1\n", f);
    assert_int_equal(fclose(f), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = { 4096, 4096 };
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        _exit(clg_vectors_save(v, p, CLG_VEC_TEXT) == CLG_ERR_IO ? 0 : 1);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    f = fopen(p, "rb");
    char buf[32] = { 0 };
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof buf - 1, f), 10);
    fclose(f);
    assert_string_equal(buf, "1 1\nold 1\n");
    char dir[512], tmp[600];
    snprintf(dir, sizeof dir, "%s", p);
    *strrchr(dir, '/') = 0;
    snprintf(tmp, sizeof tmp, "%s.tmp-", strrchr(p, '/') + 1);
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, tmp, strlen(tmp)))
            fail_msg("temp file left: %s", e->d_name);
    closedir(d);
    unlink(p);
    clg_vectors_free(v);
}

static void expect_malformed(const char *content, size_t len, const char *msg)
{
    char *p = tmp_path("bad");
    FILE *f = fopen(p, "wb");
    fwrite(content, 1, len, f);
    fclose(f);
    clg_vectors *v = NULL;
    assert_clg_status(clg_vectors_load(p, CLG_VEC_AUTO, &v), CLG_ERR_FORMAT);
    assert_null(v);
    if (!strstr(clg_last_error(), msg))
        fail_msg("message '%s' lacks '%s'", clg_last_error(), msg);
    unlink(p);
}

static void test_malformed(void **st)
{
    (void)st;
#define BAD(s, m) expect_malformed(s, sizeof(s) - 1, m)
    BAD("", "line 1 must be");
    BAD("hello world\n", "line 1 must be");
    BAD("2 3 4\n", "line 1 must be");
    BAD("1 3\na 1 2\n", "line 2 ('a') has 2 values, the header (line 1) says 3");
    BAD("1 3\na 1 2\n\n", "line 2 ('a') has 2 values, the header (line 1) says 3");
    BAD("2 3\na 1 2 3\nb 1 2\n", "line 3 ('b') has 2 values, the header (line 1) says 3");
    BAD("2 3\na 1 2 3\nb 1 x 3\n", "line 3 ('b'): value 2 ('x') is not a number");
    BAD("2 3\na 1 2 3 4\nb 1 2 3\n", "line 2 ('a') has 4 values, the header (line 1) says 3");
    BAD("3 3\na 1 2 3\nb 1 2 3\n", "ends after 2 of 3 words");
    BAD("1 2\nab\x01\x02\x03\x04\x05\x06\x07\x08\n", "binary record 1");
    BAD("1 2\nab \x01\x02\x03\x04\x05\x06\n", "fewer than 2 floats");
#undef BAD
    clg_vectors *v;
    assert_clg_status(clg_vectors_load("/nonexistent/x.vec", CLG_VEC_AUTO, &v), CLG_ERR_IO);
}

/* Issue 13, defect 6: the .vec reader is strict. */
static void test_vec_strict(void **st)
{
    (void)st;
#define BAD(s, m) expect_malformed(s, sizeof(s) - 1, m)
    /* a header word count smaller than the rows (text and binary) */
    BAD("1 2\na 1 2\nb 3 4\n", "the header (line 1) says 1 words, but line 3 has another row");
    BAD("1 1\na \x00\x00\x80\x3f\nb \x00\x00\x80\x3f\n", "the header says 1 words, but more data follows binary record 1");
    /* NaN / infinities, text and binary */
    BAD("2 2\na 1 2\nb nan 4\n", "line 3 ('b'): value 1 ('nan') is NaN or infinite");
    BAD("2 2\na 1 2\nb 3 -inf\n", "line 3 ('b'): value 2 ('-inf') is NaN or infinite");
    BAD("1 2\nab 1 Infinity\n", "value 2 ('Infinity') is NaN or infinite");
    BAD("1 1\na \x00\x00\xc0\x7f\n", "binary record 1 ('a'): value 1 is NaN or infinite");
    BAD("1 2\na \x00\x00\x80\x3f\x00\x00\x80\xff\n", "binary record 1 ('a'): value 2 is NaN or infinite");
    /* beyond float range is its own message, not "not a number" */
    BAD("1 2\na 1e39 2\n", "value 1 ('1e39') is out of float range");
    BAD("1 2\na 1 -4e38\n", "value 2 ('-4e38') is out of float range");
    /* a text file whose header dim is too large is reported as text, with the count */
    BAD("2 5\nalpha 1 2 3\nbeta 4 5 6\n", "line 2 ('alpha') has 3 values, the header (line 1) says 5");
    BAD("2 300\nalpha 1 2 3\nbeta 4 5 6\n", "line 2 ('alpha') has 3 values, the header (line 1) says 300");
    BAD("100000000 100000\na 1\n", "line 2 ('a') has 1 values, the header (line 1) says 100000");
    /* glued numbers are not two values */
    BAD("1 2\na 1.5.5\n", "value 1 ('1.5.5') is not a number");
    /* duplicate words, naming both rows */
    BAD("3 1\na 1\nb 2\na 3\n", "word 'a' appears twice, rows 1 and 3 (lines 2 and 4)");
    BAD("2 1\nxy \x00\x00\x80\x3f\nxy \x00\x00\x80\x3f\n", "word 'xy' appears twice, binary records 1 and 2");
#undef BAD
    /* words up to CLG_SGNS_MAX_WORD bytes load whole; longer ones are an error, never cut */
    for (int fmt = CLG_VEC_TEXT; fmt <= CLG_VEC_BINARY; fmt++) {
        for (int extra = 0; extra < 2; extra++) {
            int len = CLG_SGNS_MAX_WORD + extra;
            char *buf = malloc((size_t)len + 64), *p = buf;
            p += sprintf(p, "1 1\n");
            memset(p, 'w', (size_t)len);
            p += len;
            if (fmt == CLG_VEC_TEXT)
                p += sprintf(p, " 0.5\n");
            else {
                memcpy(p, " \x00\x00\x00\x3f\n", 6);
                p += 6;
            }
            char *path = tmp_path("long");
            FILE *f = fopen(path, "wb");
            fwrite(buf, 1, (size_t)(p - buf), f);
            fclose(f);
            clg_vectors *v = NULL;
            if (extra) {
                assert_clg_status(clg_vectors_load(path, CLG_VEC_AUTO, &v), CLG_ERR_FORMAT);
                assert_non_null(strstr(clg_last_error(), "longer than the 1000"));
            } else {
                assert_clg_ok(clg_vectors_load(path, CLG_VEC_AUTO, &v));
                assert_int_equal((int)strlen(v->words[0]), len);
                assert_true(v->data[0] == 0.5f);
                clg_vectors_free(v);
            }
            unlink(path);
            free(buf);
        }
    }
}

static char *write_corpus(const char *tag, const char *text, size_t len)
{
    char *p = tmp_path(tag);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return p;
}

/* Issue 13, defect 6: corpus tokens are never cut short; a corpus with nothing to learn is an error. */
static void test_corpus_strict(void **st)
{
    (void)st;
    /* a 500-byte word is kept whole (it was cut to 100 bytes) */
    static char text[(1 << 20) + 64];
    memset(text, 'q', 500);
    memcpy(text + 500, " a\nb\n", 6);
    char *p = write_corpus("c1", text, strlen(text));
    clg_vocab *voc = NULL;
    assert_clg_ok(clg_vocab_build(p, 1, &voc));
    assert_int_equal(clg_vocab_size(voc), 3);
    int longest = 0;
    for (int i = 0; i < 3; i++)
        if ((int)strlen(clg_vocab_word(voc, i)) > longest)
            longest = (int)strlen(clg_vocab_word(voc, i));
    assert_int_equal(longest, 500);
    clg_vocab_free(voc);
    unlink(p);
    /* a 1 MB token: an error naming the line and the limit */
    strcpy(text, "first line\nsecond ");
    size_t at = strlen(text);
    memset(text + at, 'z', 1 << 20);
    strcpy(text + at + (1 << 20), "\n");
    p = write_corpus("c2", text, strlen(text));
    voc = NULL;
    assert_clg_status(clg_vocab_build(p, 1, &voc), CLG_ERR_FORMAT);
    assert_null(voc);
    if (!strstr(clg_last_error(), "line 2: a word longer than 1000 bytes ('zzz"))
        fail_msg("message: %s", clg_last_error());
    clg_sgns_options o = clg_sgns_options_defaults();
    o.min_count = 1;
    o.sample = 0;
    o.dim = 8;
    o.epochs = 1;
    clg_vectors *v = NULL;
    assert_clg_status(clg_sgns_train(tctx, p, &o, NULL, NULL, &v), CLG_ERR_FORMAT);
    assert_null(v);
    unlink(p);
    /* one distinct word: nothing to learn */
    static const char one[] = "hello hello hello\nhello\n";
    p = write_corpus("c3", one, sizeof one - 1);
    assert_clg_status(clg_sgns_train(tctx, p, &o, NULL, NULL, &v), CLG_ERR_FORMAT);
    assert_null(v);
    if (!strstr(clg_last_error(), "has 1 distinct word seen at least 1 times"))
        fail_msg("message: %s", clg_last_error());
    unlink(p);
    /* two words, never on one line: no skip-gram pair */
    static const char lone[] = "alpha\nbeta\nalpha\n\nbeta\n";
    p = write_corpus("c4", lone, sizeof lone - 1);
    assert_clg_status(clg_sgns_train(tctx, p, &o, NULL, NULL, &v), CLG_ERR_FORMAT);
    assert_null(v);
    if (!strstr(clg_last_error(), "has two vocabulary words"))
        fail_msg("message: %s", clg_last_error());
    unlink(p);
}

static void test_fifo(void **st)
{
    (void)st;
    char dir[] = "/tmp/clg_sgns_fifo_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char fifo[64];
    snprintf(fifo, sizeof fifo, "%s/f", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    clg_test_hang_guard(1);
    clg_vectors *v = NULL;
    assert_clg_status(clg_vectors_load(fifo, CLG_VEC_AUTO, &v), CLG_ERR_IO);
    assert_non_null(strstr(clg_last_error(), "is not a regular file (a FIFO)"));
    clg_vocab *voc = NULL;
    assert_clg_status(clg_vocab_build(fifo, 1, &voc), CLG_ERR_IO);
    assert_non_null(strstr(clg_last_error(), "corpus"));
    assert_non_null(strstr(clg_last_error(), "is not a regular file (a FIFO)"));
    clg_sgns_options o = clg_sgns_options_defaults();
    assert_clg_status(clg_sgns_train(tctx, fifo, &o, NULL, NULL, &v), CLG_ERR_IO);
    assert_clg_status(clg_vectors_load(dir, CLG_VEC_AUTO, &v), CLG_ERR_IO);
    assert_non_null(strstr(clg_last_error(), "is not a regular file (a directory)"));
    clg_test_hang_guard(0);
    unlink(fifo);
    rmdir(dir);
}

static void test_unknown_and_empty(void **st)
{
    (void)st;
    clg_vectors *v = make_vectors(7, 3);
    int id;
    assert_clg_ok(clg_vectors_find(v, "word5", &id));
    assert_int_equal(id, 5);
    assert_clg_status(clg_vectors_find(v, "orange", &id), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "unknown word 'orange'"));
    clg_vectors_free(v);
    char *p = tmp_path("empty");
    clg_vectors *out = NULL;
    clg_sgns_options o = clg_sgns_options_defaults();
    assert_clg_status(clg_sgns_train(tctx, p, &o, NULL, NULL, &out), CLG_ERR_FORMAT);
    assert_non_null(strstr(clg_last_error(), "no word seen at least 5 times (0 tokens)"));
    assert_null(out);
    unlink(p);
    o.dim = 0;
    assert_clg_status(clg_sgns_train(tctx, p, &o, NULL, NULL, &out), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "dim 0"));
}

static void test_vocab(void **st)
{
    (void)st;
    char *p = tmp_path("voc");
    FILE *f = fopen(p, "w");
    fputs("The cat's -hat- sat; THE cat\n\nthe dog-- 'x' cat\n", f);
    fclose(f);
    clg_vocab *v;
    assert_clg_ok(clg_vocab_build(p, 2, &v));
    unlink(p);
    assert_int_equal(clg_vocab_total(v), 10);
    assert_int_equal(clg_vocab_size(v), 2);
    assert_string_equal(clg_vocab_word(v, 0), "the");
    assert_int_equal(clg_vocab_count(v, 0), 3);
    assert_string_equal(clg_vocab_word(v, 1), "cat");
    assert_int_equal(clg_vocab_find(v, "cat"), 1);
    assert_int_equal(clg_vocab_find(v, "hat"), -1);
    clg_vocab_free(v);
}

/* Device cosine nearest neighbours vs a host double ranking, and the soft lookup vs its formula. */
static void test_nearest_and_lookup(void **st)
{
    (void)st;
    clg_vectors *v = make_vectors(1500, 33);
    for (size_t i = 0; i < (size_t)v->n * 33; i++)   /* keep the values modest: no 3e38 in a dot product */
        if (!(fabsf(v->data[i]) < 10))
            v->data[i] = 1;
    clg_vec_index *ix;
    assert_clg_ok(clg_vec_index_create(tctx, v, &ix));
    double *cos = malloc(sizeof(double) * (size_t)v->n);
    for (int qi = 0; qi < 3; qi++) {
        int q = qi * 701 % v->n, ids[5], n;
        float sc[5];
        assert_clg_ok(clg_vec_index_nearest(ix, v->data + (size_t)q * 33, 5, &q, 1, ids, sc, &n));
        assert_int_equal(n, 5);
        const float *a = v->data + (size_t)q * 33;
        double na = 0;
        for (int d = 0; d < 33; d++)
            na += (double)a[d] * a[d];
        for (int i = 0; i < v->n; i++) {
            const float *b = v->data + (size_t)i * 33;
            double dot = 0, nb = 0;
            for (int d = 0; d < 33; d++) {
                dot += (double)a[d] * b[d];
                nb += (double)b[d] * b[d];
            }
            cos[i] = i == q ? -2 : dot / sqrt(na * nb);
        }
        for (int r = 0; r < 5; r++) {
            int best = 0;
            for (int i = 1; i < v->n; i++)
                if (cos[i] > cos[best])
                    best = i;
            assert_true(fabs(sc[r] - cos[best]) < 1e-5);
            if (ids[r] != best)   /* a near tie may swap: then the scores agree */
                assert_true(fabs(cos[ids[r]] - cos[best]) < 1e-5);
            cos[best] = -2;
        }
    }
    free(cos);
    clg_vec_index_destroy(ix);
    int keys[3] = { 3, 4, 5 }, vals[3] = { 6, 7, 8 };
    double w[3];
    float merged[33];
    assert_clg_ok(clg_vectors_soft_lookup(v, 2, keys, vals, 3, 2.5f, w, merged));
    double lg[3], z = 0;
    for (int k = 0; k < 3; k++) {
        lg[k] = 0;
        for (int d = 0; d < 33; d++)
            lg[k] += (double)v->data[2 * 33 + d] * v->data[keys[k] * 33 + d];
        z += exp(lg[k] / 2.5);
    }
    for (int k = 0; k < 3; k++)
        assert_true(fabs(w[k] - exp(lg[k] / 2.5) / z) < 1e-9);
    for (int d = 0; d < 33; d++) {
        double m = 0;
        for (int k = 0; k < 3; k++)
            m += w[k] * v->data[vals[k] * 33 + d];
        assert_true(fabs(merged[d] - m) < 1e-5 * (1 + fabs(m)));
    }
    assert_clg_status(clg_vectors_soft_lookup(v, 2, keys, vals, 3, 0.0f, w, merged), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "temperature > 0"));
    clg_vectors_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient),       cmocka_unit_test(test_step_bad_ids), cmocka_unit_test(test_planted),
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_save_atomic), cmocka_unit_test(test_resume_exact),      cmocka_unit_test(test_malformed),    cmocka_unit_test(test_unknown_and_empty),
        cmocka_unit_test(test_vocab),          cmocka_unit_test(test_nearest_and_lookup),
        cmocka_unit_test(test_vec_strict),     cmocka_unit_test(test_corpus_strict), cmocka_unit_test(test_fifo),
    };
    return clg_test_run_per_device("sgns", tests, sizeof tests / sizeof tests[0]);
}
