/* test_dist.c — data-parallel steps under `mpirun -n 2` (tests/meson.build runs it so): K steps of
 * N ranks with the global batch split B/N rows each hold the parameters of one process stepping
 * the whole batch, within float summation tolerance, for the MLP and the (plain, mask-free)
 * auto-encoder; every rank's parameters are bit-identical after every step (the masked auto-encoder
 * too, whose masks each rank draws from its own stream); and without the gradient exchange the same
 * run leaves the ranks apart and off the reference, so the checks can fail.
 *
 * Every rank computes the one-process reference itself (a second graph, batch B, on the same ctx)
 * from the same synthetic data.  All collectives of a test run before its first assertion, so a
 * failed check on one rank cannot leave the other waiting. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "clgrad/sgns.h"

#define B 128     /* global batch */
#define K 5       /* steps */
#define DIM 64    /* 8x8 inputs */
#define CLASSES 10

/* Parameters of two runs agree when |a - b| <= ATOL + RTOL * |b|.  They differ in summation order
 * only: each rank sums the gradient over its 64 rows (the batch-mean's 1/B folded in as 1/(B/N)),
 * the allreduce adds the ranks' sums and scales by 1/N, where one process sums 128 rows at once.
 * Float round-off of a 128-term sum is ~1e-7 relative per gradient; Adam's update is a smooth
 * function of the gradient away from |g| ~ eps, so after K = 5 steps of lr 1e-2 the parameters agree
 * to a few ulps of their size: 1e-5 relative, 1e-6 absolute leaves room (see the printed maximum). */
#define RTOL 1e-5
#define ATOL 1e-6

/* The ctx the models are built on: tctx, or one whose gradient exchange reads and writes instead of
 * mapping (kernel_stores turns the map off: test_read_path). */
static clg_ctx *cur;

typedef struct model {
    clg_mlp mlp;
    clg_mae mae;
    int is_mae, masked;
    clg_graph *g;
} model;

static void build(model *m, int is_mae, int masked, int batch)
{
    memset(m, 0, sizeof *m);
    m->is_mae = is_mae;
    m->masked = masked;
    if (is_mae) {
        clg_mae_config c = clg_mae_defaults();
        c.height = c.width = 8;
        c.patch = 2;
        c.mask_ratio = masked ? 0.5f : 0.0f;
        c.n_enc = 3;
        c.enc[0] = DIM;
        c.enc[1] = 32;
        c.enc[2] = 16;
        c.batch = batch;
        c.seed = 3;
        assert_clg_ok(clg_mae_build(cur, &c, &m->mae));
        m->g = m->mae.g;
    } else {
        const int w[] = { DIM, 32, CLASSES };
        assert_clg_ok(clg_mlp_build(cur, w, 3, batch, 3, &m->mlp));
        m->g = m->mlp.g;
    }
    clg_optim_options o = clg_optim_defaults(CLG_OPTIM_ADAM);
    o.lr = 1e-2f;
    o.clip_norm = 1.0f; /* clipping must see the averaged gradient */
    assert_clg_ok(clg_graph_set_optimizer(m->g, &o));
    assert_clg_ok(clg_graph_plan(m->g, CLG_PLAN_TRAIN));
}

static void drop(model *m)
{
    if (m->is_mae)
        clg_mae_free(&m->mae);
    else
        clg_mlp_free(&m->mlp);
}

/* The global batch of step s: rows of pseudo-random pixels in [0,1) and labels. */
static void global_batch(int s, float *x, int32_t *y)
{
    uint64_t st = 0x9e3779b97f4a7c15ULL * (uint64_t)(s + 1);
    for (int i = 0; i < B * DIM; i++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)(st >> 40) / (float)(1 << 24);
    }
    for (int r = 0; r < B; r++)
        y[r] = (int32_t)((unsigned)(x[r * DIM] * 1000) % CLASSES);
}

/* One step; async: through clg_graph_step_async and clg_graph_loss_wait (distributed: the loss
 * averaged inside the step is held as it is). */
static void step(model *m, const float *x, const int32_t *y, float *loss, int async)
{
    if (m->is_mae) {
        assert_clg_ok(clg_graph_set_input(m->g, m->mae.x, x));
    } else {
        assert_clg_ok(clg_graph_set_input(m->g, m->mlp.x, x));
        assert_clg_ok(clg_graph_set_input(m->g, m->mlp.labels, y));
    }
    if (!async) {
        assert_clg_ok(clg_graph_step(m->g, loss));
        return;
    }
    int64_t t = clg_graph_step_count(m->g);
    assert_clg_ok(clg_graph_step_async(m->g));
    assert_clg_ok(clg_graph_loss_wait(m->g, t, loss));
}

static uint64_t fnv(const void *p, size_t bytes)
{
    const unsigned char *c = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < bytes; i++)
        h = (h ^ c[i]) * 1099511628211ULL;
    return h;
}

/* 1 when every rank passed the same h (max and min of each 16-bit piece agree). */
static int same_on_all_ranks(uint64_t h)
{
    int same = 1;
    for (int k = 0; k < 4; k++) {
        int v = (int)((h >> (16 * k)) & 0xffff), hi = v, lo = -v;
        assert_clg_ok(clg_dist_max_int(&hi));
        assert_clg_ok(clg_dist_max_int(&lo));
        same &= hi == -lo;
    }
    return same;
}

/* K distributed steps (exchange on or off) beside the one-process reference; returns the largest
 * |a - b| / (ATOL + RTOL |b|) and whether the ranks agreed bit for bit after every step. */
static void run_pair(int is_mae, int masked, int exchange, double *worst, double *max_abs, int *identical,
                     double *loss_diff)
{
    int N = clg_dist_size(), r = clg_dist_rank(), b = B / N;
    model d, ref;
    build(&d, is_mae, masked, b);
    build(&ref, is_mae, masked, B);
    assert_clg_ok(clg_graph_set_distributed(d.g, exchange));
    assert_clg_ok(clg_graph_broadcast_params(d.g));
    float *x = malloc(sizeof(float) * B * DIM);
    int32_t *y = malloc(sizeof(int32_t) * B);
    assert_non_null(x);
    assert_non_null(y);
    *identical = 1;
    *loss_diff = 0;
    for (int s = 0; s < K; s++) {
        global_batch(s, x, y);
        float ld, lr;
        step(&d, x + (size_t)r * b * DIM, y + (size_t)r * b, &ld, s & 1);
        step(&ref, x, y, &lr, 0);
        double dl = fabs((double)ld - lr);
        *loss_diff = dl > *loss_diff ? dl : *loss_diff;
        size_t n;
        float *p = clg_test_params(d.g, &n);
        *identical &= same_on_all_ranks(fnv(p, n * sizeof *p));
        free(p);
    }
    size_t n, n2;
    float *p = clg_test_params(d.g, &n), *q = clg_test_params(ref.g, &n2);
    assert_int_equal(n, n2);
    *worst = 0;
    *max_abs = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)p[i] - q[i]);
        double w = e / (ATOL + RTOL * fabs((double)q[i]));
        *worst = w > *worst ? w : *worst;
        *max_abs = e > *max_abs ? e : *max_abs;
    }
    free(p);
    free(q);
    free(x);
    free(y);
    drop(&d);
    drop(&ref);
}

static void check_model(int is_mae)
{
    const char *name = is_mae ? "auto-encoder" : "MLP";
    double worst, max_abs, ld;
    int identical;
    run_pair(is_mae, 0, 1, &worst, &max_abs, &identical, &ld);
    print_message("rank %d, %s on %s: %d steps of %d x %d rows vs one process of %d: max |diff| %.3g, "
                  "%.3g of the tolerance (%g + %g |x|), loss |diff| %.3g, ranks identical: %s\n",
                  clg_dist_rank(), name, tdev->name, K, clg_dist_size(), B / clg_dist_size(), B, max_abs, worst,
                  ATOL, RTOL, ld, identical ? "yes" : "NO");
    double worst0, max_abs0, ld0;
    int identical0;
    run_pair(is_mae, 0, 0, &worst0, &max_abs0, &identical0, &ld0);
    print_message("rank %d, %s without the exchange: max |diff| %.3g (%.3g of the tolerance), ranks identical: %s\n",
                  clg_dist_rank(), name, max_abs0, worst0, identical0 ? "yes" : "no");
    assert_true(identical);
    assert_true(worst <= 1.0);
    assert_true(ld <= 1e-5);
    if (clg_dist_size() > 1) {
        assert_false(identical0);
        assert_true(worst0 > 1.0);
    }
}

static void test_mlp_equivalent(void **s)
{
    (void)s;
    cur = tctx;
    check_model(0);
}

static void test_ae_equivalent(void **s)
{
    (void)s;
    cur = tctx;
    check_model(1);
}

/* CPU devices map the gradient arena; other devices read and write it: that path on this device. */
static void test_read_path(void **s)
{
    (void)s;
    clg_ctx_options o = { 0 };
    o.kernel_stores = 1;
    clg_ctx *c;
    assert_clg_ok(clg_ctx_create(tdev, &o, &c));
    cur = c;
    check_model(0);
    cur = tctx;
    clg_ctx_destroy(c);
}

/* The masked auto-encoder: each rank masks its rows from its own stream, so no reference, but the
 * ranks' parameters stay bit-identical. */
static void test_masked_ranks_identical(void **s)
{
    (void)s;
    double worst, max_abs, ld;
    int identical;
    cur = tctx;
    run_pair(1, 1, 1, &worst, &max_abs, &identical, &ld);
    assert_true(identical);
}

/* ---- word vectors (clg_sgns) across ranks ---------------------------------------------------- */

#define SV 40   /* words */
#define SD 12   /* dims */
#define SK 3    /* negatives */
#define SN 96   /* positions per rank */

/* Every rank's buf[n] on every rank: all[r * n + i].  Each rank places its values in its slot, zeros
 * elsewhere; the mean over N ranks times N gives them back exactly when N is a power of two (x + 0
 * is exact, and so are the scalings by 1/N and N). */
static float *gather(const float *buf, size_t n)
{
    int N = clg_dist_size();
    float *all = calloc((size_t)N * n, sizeof *all);
    assert_non_null(all);
    memcpy(all + (size_t)clg_dist_rank() * n, buf, n * sizeof *buf);
    assert_clg_ok(clg_dist_allreduce_mean_f32(all, (size_t)N * n));
    for (size_t i = 0; i < (size_t)N * n; i++)
        all[i] *= (float)N;
    return all;
}

/* One step of rank-specific positions, then read both matrices (in, out: 2 x SV x SD floats). */
static void sgns_rank_step(clg_sgns *m, float *w)
{
    int r = clg_dist_rank(), tok[SN], span[2 * SN], neg[SN * SK];
    for (int i = 0; i < SN; i++) {
        tok[i] = (i * 7 + r * 13 + 1) % SV;
        span[2 * i] = i < 2 ? i : 2;
        span[2 * i + 1] = SN - 1 - i < 2 ? SN - 1 - i : 2;
        for (int k = 0; k < SK; k++)
            neg[i * SK + k] = (i * 5 + k * 11 + r * 17 + 3) % SV;
    }
    assert_clg_ok(clg_sgns_step(m, tok, span, neg, SN, 0.1f, NULL));
    assert_clg_ok(clg_sgns_get_weights(m, w, w + SV * SD));
}

/* After clg_sgns_sync both matrices are bit-identical on every rank and equal the matrices at the
 * broadcast plus the sum of every rank's change since then (summed in rank order here: exact for 2
 * ranks, where d0 + d1 is one rounding whatever the order; a few ulps otherwise); before it, after each
 * rank's own step, the ranks differ.  On this device's ctx (CPU devices map the matrices) and on one
 * that reads and writes them (kernel_stores turns the map off). */
static void check_sgns_sync(clg_ctx *c)
{
    int N = clg_dist_size();
    size_t n = 2 * SV * SD;
    clg_sgns *m;
    assert_clg_ok(clg_sgns_create(c, SV, SD, SK, 7, &m));
    assert_int_equal(clg_sgns_sync(m), N > 1 ? CLG_ERR_STATE : CLG_OK); /* no starting point yet */
    assert_clg_ok(clg_sgns_broadcast(m));
    float *base = malloc(n * sizeof *base), *before = malloc(n * sizeof *before), *after = malloc(n * sizeof *after);
    assert_non_null(base);
    assert_non_null(before);
    assert_non_null(after);
    assert_clg_ok(clg_sgns_get_weights(m, base, base + SV * SD));
    sgns_rank_step(m, before);
    float *b_all = gather(before, n);
    assert_clg_ok(clg_sgns_sync(m));
    assert_clg_ok(clg_sgns_get_weights(m, after, after + SV * SD));
    float *a_all = gather(after, n);
    /* collectives done: the checks */
    size_t differ = 0, off = 0, not_same = 0, moved = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        float sum = 0;
        for (int k = 0; k < N; k++) {
            sum += b_all[(size_t)k * n + i] - base[i];
            differ += k > 0 && b_all[(size_t)k * n + i] != b_all[i];
            not_same += k > 0 && memcmp(&a_all[(size_t)k * n + i], &a_all[i], sizeof(float)) != 0;
        }
        float want = base[i] + sum;
        double e = fabs((double)after[i] - want);
        worst = e > worst ? e : worst;
        off += memcmp(&after[i], &want, sizeof want) != 0;
        moved += after[i] != base[i];
    }
    print_message("rank %d, sgns sync on %s: %zu of %zu values differed between ranks before the sync, %zu after; "
                  "%zu differ from the start plus the ranks' changes (max |diff| %.3g); %zu moved\n", clg_dist_rank(),
                  tdev->name, differ, n, not_same, off, worst, moved);
    assert_int_equal(not_same, 0);
    if (N == 2)
        assert_int_equal(off, 0);
    else
        assert_true(worst <= 1e-6);
    assert_true(moved > 0);
    if (N > 1)
        assert_true(differ > 0);
    free(b_all);
    free(a_all);
    free(base);
    free(before);
    free(after);
    clg_sgns_destroy(m);
}

static void test_sgns_sync(void **s)
{
    (void)s;
    check_sgns_sync(tctx);
    clg_ctx_options o = { 0 };
    o.kernel_stores = 1;
    clg_ctx *c;
    assert_clg_ok(clg_ctx_create(tdev, &o, &c));
    check_sgns_sync(c);
    clg_ctx_destroy(c);
}

/* clg_sgns_train across ranks on a small corpus (every rank writes the same file): the ranks return
 * bit-identical vectors, with several syncs per epoch and a rank-dependent part. */
static void test_sgns_train_ranks(void **s)
{
    (void)s;
    char path[256];
    snprintf(path, sizeof path, "/tmp/clgrad-test-dist-sgns-%d-%d.txt", (int)getpid(), clg_dist_rank());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    static const char *w[] = { "king", "queen", "man", "woman", "red", "green", "blue", "crown", "rules", "the" };
    uint64_t st = 5;
    for (int line = 0; line < 400; line++) {
        for (int i = 0; i < 8; i++)
            fprintf(f, "%s%s", i ? " " : "", w[(st = st * 6364136223846793005ULL + 1442695040888963407ULL) >> 60 & 7 ? (st >> 33) % 10 : 0]);
        fputc('\n', f);
    }
    assert_int_equal(fclose(f), 0);
    clg_sgns_options o = clg_sgns_options_defaults();
    o.dim = 16;
    o.epochs = 2;
    o.min_count = 1;
    o.sample = 0;
    o.chunk = 256;
    o.sync_words = 300; /* ~5 syncs per epoch on each rank's ~1600 words */
    clg_vectors *v = NULL;
    clg_status r = clg_sgns_train(tctx, path, &o, NULL, NULL, &v);
    remove(path);
    int failed = r != CLG_OK;
    assert_clg_ok(clg_dist_max_int(&failed));
    assert_int_equal(failed, 0);
    int same = same_on_all_ranks(fnv(v->data, (size_t)v->n * v->dim * sizeof(float)));
    print_message("rank %d, sgns across %d ranks: %d x %d vectors, identical on every rank: %s\n", clg_dist_rank(),
                  clg_dist_size(), v->n, v->dim, same ? "yes" : "NO");
    assert_true(same);
    clg_vectors_free(v);
}

int main(int argc, char **argv)
{
    clg_status st = clg_dist_init(&argc, &argv);
    if (st) {
        fprintf(stderr, "test_dist: %s\n", clg_last_error());
        return 1;
    }
    if (clg_dist_size() < 2)
        fprintf(stderr, "test_dist: one rank: the exchange is skipped (run under mpirun -n 2)\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_equivalent),
        cmocka_unit_test(test_ae_equivalent),
        cmocka_unit_test(test_masked_ranks_identical),
        cmocka_unit_test(test_read_path),
        cmocka_unit_test(test_sgns_sync),
        cmocka_unit_test(test_sgns_train_ranks),
    };
    int failed = clg_test_run_per_device("dist", tests, sizeof tests / sizeof tests[0]);
    /* any rank's failure fails the job's exit status on every rank */
    int any = failed;
    if (clg_dist_max_int(&any))
        any = 1;
    clg_dist_finalize();
    return any ? 1 : 0;
}
