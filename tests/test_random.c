/* test_random.c — the random ops vs the host Philox reference, statistics and finite differences, per device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref_ops.h"

void ref_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]); /* ref_random.c */

static const int64_t sizes[] = { 1, 7, 33, 1031 };
#define NSIZES (sizeof sizes / sizeof sizes[0])

static clg_attrs rng_attrs(uint64_t seed, uint64_t counter)
{
    clg_attrs a = clg_attrs_defaults();
    a.seed = seed;
    a.counter = counter;
    return a;
}

/* Run an op on one optional input and return the output on the host (caller frees). */
static float *run_op(clg_op op, const clg_tensor *x, const clg_attrs *a, int64_t *n_out)
{
    clg_shape os;
    const clg_shape *shp[1] = { x ? &x->s : NULL };
    assert_clg_ok(clg_op_infer(op, shp, a, &os));
    clg_tensor y;
    assert_clg_ok(clg_tensor_new(tctx, &os, &y));
    const clg_tensor *in[1] = { x };
    assert_clg_ok(clg_op_forward(tctx, op, in, &y, a));
    int64_t n = clg_shape_numel(&os);
    float *h = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    assert_non_null(h);
    assert_clg_ok(clg_tensor_read(&y, h));
    clg_tensor_free(&y);
    *n_out = n;
    return h;
}

static void moments(const float *v, int64_t n, double *mean, double *var)
{
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++)
        s += v[i];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++)
        s2 += (v[i] - *mean) * (v[i] - *mean);
    *var = s2 / (double)n;
}

/* ---- Philox ------------------------------------------------------------------- */

static void test_philox_known_answers(void **s)
{
    (void)s;
    /* Random123's known-answer vectors for Philox4x32-10 */
    static const uint32_t kat[3][10] = {
        { 0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 },
        { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
          0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd },
        { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
          0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 },
    };
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        ref_philox4x32_10(kat[i], kat[i] + 4, out);
        for (int j = 0; j < 4; j++)
            assert_int_equal(out[j], kat[i][6 + j]);
    }
}

/* ---- random_uniform ------------------------------------------------------------- */

/* With [0, 1) the output is the 24-bit draw itself: the device stream must match bit for bit. */
static void test_uniform_bit_exact(void **s)
{
    (void)s;
    for (size_t i = 0; i < NSIZES; i++) {
        op_case c = { .op = CLG_OP_RANDOM_UNIFORM, .nin = 0, .attrs = rng_attrs(0x123456789abcdefULL + i, 7 + i) };
        c.attrs.alpha = 0.0f; /* low */
        c.attrs.beta = 1.0f;  /* high */
        c.attrs.shape = SHAPE2(CLG_F32, sizes[i], 3);
        c.atol = 1e-30;
        c.rtol = 1e-30;
        check_op_forward(tctx, &c, 1);
    }
}

/* Other ranges: lo + (hi - lo) * u in float, within 1 ulp of the double reference. */
static void test_uniform_range(void **s)
{
    (void)s;
    for (size_t i = 0; i < NSIZES; i++) {
        op_case c = { .op = CLG_OP_RANDOM_UNIFORM, .nin = 0, .attrs = rng_attrs(42, i) };
        c.attrs.alpha = -2.0f;
        c.attrs.beta = 3.0f;
        c.attrs.shape = SHAPE1(CLG_F32, sizes[i]);
        c.atol = 2.4e-7; /* 1 ulp in [2, 4) */
        c.rtol = 1e-30;
        check_op_forward(tctx, &c, 1);
    }
}

static void test_uniform_default_range_rejected(void **s)
{
    (void)s;
    clg_attrs a = rng_attrs(1, 0); /* alpha = 1, beta = 0: not a range */
    a.shape = SHAPE1(CLG_F32, 10);
    clg_shape os;
    assert_int_equal(clg_op_infer(CLG_OP_RANDOM_UNIFORM, NULL, &a, &os), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "random_uniform"));
    assert_non_null(strstr(clg_last_error(), "attrs.alpha=1"));
    a.alpha = 0.5f;
    a.beta = 0.5f;
    assert_int_equal(clg_op_infer(CLG_OP_RANDOM_UNIFORM, NULL, &a, &os), CLG_ERR_INVALID_ARG);
    a.beta = 1.0f;
    a.shape = SHAPE1(CLG_I32, 10);
    assert_int_equal(clg_op_infer(CLG_OP_RANDOM_UNIFORM, NULL, &a, &os), CLG_ERR_DTYPE);
    assert_non_null(strstr(clg_last_error(), "i32[10]"));
    a.shape = SHAPE2(CLG_F32, 3, -1);
    assert_int_equal(clg_op_infer(CLG_OP_RANDOM_UNIFORM, NULL, &a, &os), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "negative"));
}

static void test_uniform_stats(void **s)
{
    (void)s;
    clg_attrs a = rng_attrs(2024, 3);
    a.alpha = -1.0f;
    a.beta = 3.0f;
    a.shape = SHAPE1(CLG_F32, 100000);
    int64_t n;
    float *v = run_op(CLG_OP_RANDOM_UNIFORM, NULL, &a, &n);
    double mean, var, lo = 1e9, hi = -1e9;
    moments(v, n, &mean, &var);
    for (int64_t i = 0; i < n; i++) {
        lo = fmin(lo, v[i]);
        hi = fmax(hi, v[i]);
    }
    /* mean 1 (sd of the mean 0.0037), variance 16/12 (sd ~0.0038) */
    assert_true(fabs(mean - 1.0) < 0.02);
    assert_true(fabs(var - 16.0 / 12.0) < 0.03);
    assert_true(lo >= -1.0 && lo < -0.999);
    assert_true(hi < 3.0 && hi > 2.999);
    free(v);
}

/* Same (seed, counter) -> same stream; another counter or seed -> another stream. */
static void test_streams(void **s)
{
    (void)s;
    clg_attrs a = rng_attrs(99, 5);
    a.alpha = 0.0f;
    a.beta = 1.0f;
    a.shape = SHAPE1(CLG_F32, 4096);
    int64_t n;
    float *r0 = run_op(CLG_OP_RANDOM_UNIFORM, NULL, &a, &n);
    float *r1 = run_op(CLG_OP_RANDOM_UNIFORM, NULL, &a, &n);
    a.counter = 6;
    float *r2 = run_op(CLG_OP_RANDOM_UNIFORM, NULL, &a, &n);
    a.counter = 5 + (1ULL << 32); /* the high word of the counter counts too */
    float *r3 = run_op(CLG_OP_RANDOM_UNIFORM, NULL, &a, &n);
    a.counter = 5;
    a.seed = 99 + (1ULL << 32);
    float *r4 = run_op(CLG_OP_RANDOM_UNIFORM, NULL, &a, &n);
    assert_memory_equal(r0, r1, (size_t)n * sizeof(float));
    int same2 = 0, same3 = 0, same4 = 0;
    for (int64_t i = 0; i < n; i++) {
        same2 += r0[i] == r2[i];
        same3 += r0[i] == r3[i];
        same4 += r0[i] == r4[i];
    }
    assert_true(same2 < 5 && same3 < 5 && same4 < 5);
    free(r0); free(r1); free(r2); free(r3); free(r4);
}

/* ---- random_normal --------------------------------------------------------------- */

static void test_normal_vs_reference(void **s)
{
    (void)s;
    for (size_t i = 0; i < NSIZES; i++) {
        op_case c = { .op = CLG_OP_RANDOM_NORMAL, .nin = 0, .attrs = rng_attrs(7, 100 + i) };
        c.attrs.alpha = 0.5f; /* mean */
        c.attrs.beta = 2.0f;  /* std */
        c.attrs.shape = SHAPE2(CLG_F32, 3, sizes[i]);
        /* float log/sqrt/cospi are allowed a few ulp in OpenCL 1.2 */
        c.atol = 2e-5;
        c.rtol = 1e-5;
        check_op_forward(tctx, &c, 1);
    }
}

static void test_normal_stats(void **s)
{
    (void)s;
    clg_attrs a = rng_attrs(31337, 0);
    a.alpha = -1.5f;
    a.beta = 0.5f;
    a.shape = SHAPE2(CLG_F32, 1000, 100);
    int64_t n;
    float *v = run_op(CLG_OP_RANDOM_NORMAL, NULL, &a, &n);
    double mean, var;
    moments(v, n, &mean, &var);
    /* sd of the mean 0.0016, of the variance ~0.0011 */
    assert_true(fabs(mean + 1.5) < 0.008);
    assert_true(fabs(var - 0.25) < 0.006);
    int beyond3 = 0;
    for (int64_t i = 0; i < n; i++)
        beyond3 += fabs(v[i] + 1.5) > 1.5;
    assert_true(beyond3 > 200 && beyond3 < 340); /* 0.27% of 100k = 270 */
    free(v);

    clg_attrs bad = a;
    bad.beta = -1.0f;
    clg_shape os;
    assert_int_equal(clg_op_infer(CLG_OP_RANDOM_NORMAL, NULL, &bad, &os), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "random_normal"));
}

/* ---- patch_mask ---------------------------------------------------------------- */

static clg_attrs patch_attrs(int H, int W, int P, float p, uint64_t seed, uint64_t counter)
{
    clg_attrs a = rng_attrs(seed, counter);
    a.height = H;
    a.width = W;
    a.patch = P;
    a.p = p;
    return a;
}

static void test_patch_mask_vs_reference(void **s)
{
    (void)s;
    struct { int N, H, W, P; float p; } cs[] = {
        { 3, 28, 28, 4, 0.75f }, { 7, 8, 12, 4, 0.5f }, { 1, 4, 4, 4, 0.5f },
        { 33, 6, 6, 2, 0.3f }, { 2, 32, 32, 8, 0.25f }, { 5, 6, 6, 3, 0.0f }, { 5, 6, 6, 3, 1.0f },
        { 2, 36, 36, 2, 0.6f }, /* 324 patches: 81 Philox blocks per sample */
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        op_case c = { .op = CLG_OP_PATCH_MASK, .nin = 1,
                      .attrs = patch_attrs(cs[i].H, cs[i].W, cs[i].P, cs[i].p, 5 + i, i) };
        c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, cs[i].N, cs[i].H * cs[i].W) };
        c.atol = 1e-30;
        c.rtol = 1e-30;
        check_op_forward(tctx, &c, 1);
    }
    assert_false(clg_op_has_backward(CLG_OP_PATCH_MASK));
}

static float *patch_mask_run(int N, const clg_attrs *a)
{
    clg_tensor x;
    clg_shape sx = SHAPE2(CLG_F32, N, a->height * a->width);
    assert_clg_ok(clg_tensor_zeros(tctx, &sx, &x));
    int64_t n;
    float *m = run_op(CLG_OP_PATCH_MASK, &x, a, &n);
    clg_tensor_free(&x);
    return m;
}

/* 28x28 with 4x4 patches and p = 0.75: 49 patches, exactly 37 masked in every sample. */
static void test_patch_mask_counts(void **s)
{
    (void)s;
    const int N = 500, H = 28, W = 28, P = 4, np = 49, pw = 7;
    clg_attrs a = patch_attrs(H, W, P, 0.75f, 1234, 17);
    float *m = patch_mask_run(N, &a);
    int freq[49] = { 0 };
    for (int n = 0; n < N; n++) {
        const float *row = m + (size_t)n * H * W;
        int masked = 0, ones = 0;
        for (int t = 0; t < np; t++) {
            int py = (t / pw) * P, px = (t % pw) * P;
            float v0 = row[py * W + px];
            assert_true(v0 == 0.0f || v0 == 1.0f);
            for (int dy = 0; dy < P; dy++)
                for (int dx = 0; dx < P; dx++)
                    assert_true(row[(py + dy) * W + px + dx] == v0); /* whole patches */
            masked += v0 == 1.0f;
            freq[t] += v0 == 1.0f;
        }
        for (int i = 0; i < H * W; i++)
            ones += row[i] == 1.0f;
        assert_int_equal(masked, 37);
        assert_int_equal(ones, 37 * P * P);
    }
    /* every patch is masked with probability 37/49 = 0.755 (sd 0.019 over 500 samples) */
    for (int t = 0; t < np; t++)
        assert_true(fabs(freq[t] / (double)N - 37.0 / 49.0) < 0.1);
    /* samples differ from each other */
    int dup = 0;
    for (int n = 1; n < N; n++)
        dup += !memcmp(m, m + (size_t)n * H * W, (size_t)H * W * sizeof(float));
    assert_int_equal(dup, 0);
    /* reproducible from (seed, counter); another counter gives other masks */
    float *again = patch_mask_run(N, &a);
    assert_memory_equal(m, again, (size_t)N * H * W * sizeof(float));
    a.counter = 18;
    float *other = patch_mask_run(N, &a);
    int same = 0;
    for (int n = 0; n < N; n++)
        same += !memcmp(m + (size_t)n * H * W, other + (size_t)n * H * W, (size_t)H * W * sizeof(float));
    assert_int_equal(same, 0);
    free(m);
    free(again);
    free(other);
}

static void test_patch_mask_bad_inputs(void **s)
{
    (void)s;
    clg_shape os, x = SHAPE2(CLG_F32, 4, 30 * 28);
    const clg_shape *in[1] = { &x };
    clg_attrs a = patch_attrs(30, 28, 4, 0.5f, 1, 0);
    assert_int_equal(clg_op_infer(CLG_OP_PATCH_MASK, in, &a, &os), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "patch_mask"));
    assert_non_null(strstr(clg_last_error(), "multiples of the patch size 4"));
    assert_non_null(strstr(clg_last_error(), "f32[4,840]"));
    a = patch_attrs(28, 28, 4, 0.5f, 1, 0);
    assert_int_equal(clg_op_infer(CLG_OP_PATCH_MASK, in, &a, &os), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "[N, H*W] = [N, 784]"));
    a.patch = 0;
    assert_int_equal(clg_op_infer(CLG_OP_PATCH_MASK, in, &a, &os), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "patch=0"));
    clg_shape xi = SHAPE2(CLG_I32, 4, 784);
    const clg_shape *ini[1] = { &xi };
    a = patch_attrs(28, 28, 4, 0.5f, 1, 0);
    assert_int_equal(clg_op_infer(CLG_OP_PATCH_MASK, ini, &a, &os), CLG_ERR_DTYPE);
    assert_non_null(strstr(clg_last_error(), "patch_mask: input 0 must be f32"));
    clg_shape xg = SHAPE2(CLG_F32, 4, 784);
    const clg_shape *ing[1] = { &xg };
    a.p = 1.5f;
    assert_int_equal(clg_op_infer(CLG_OP_PATCH_MASK, ing, &a, &os), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "attrs.p=1.5"));
}

/* ---- dropout ---------------------------------------------------------------------- */

static void test_dropout_forward_backward(void **s)
{
    (void)s;
    for (size_t i = 0; i < NSIZES; i++) {
        op_case c = { .op = CLG_OP_DROPOUT, .nin = 1, .attrs = rng_attrs(77, 1000 + i) };
        c.attrs.p = 0.3f;
        c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, sizes[i], 3), .lo = -2, .hi = 2 };
        c.atol = 1e-30;
        c.rtol = 2.5e-7; /* the scale 1/(1-p) is rounded to float once */
        check_op_forward(tctx, &c, 10 + i);
        check_op_backward(tctx, &c, 20 + i);
    }
    /* p = 0 is the identity */
    op_case c = { .op = CLG_OP_DROPOUT, .nin = 1, .attrs = rng_attrs(1, 2) };
    c.attrs.p = 0.0f;
    c.in[0] = (in_spec){ .s = SHAPE1(CLG_F32, 33) };
    c.atol = 1e-30;
    c.rtol = 1e-30;
    check_op_forward(tctx, &c, 3);
}

static void test_dropout_stats(void **s)
{
    (void)s;
    clg_tensor x;
    clg_shape sx = SHAPE1(CLG_F32, 100000);
    assert_clg_ok(clg_tensor_new(tctx, &sx, &x));
    float *ones = malloc(100000 * sizeof(float));
    assert_non_null(ones);
    for (int i = 0; i < 100000; i++)
        ones[i] = 1.0f;
    assert_clg_ok(clg_tensor_write(&x, ones));
    clg_attrs a = rng_attrs(5, 6);
    a.p = 0.25f;
    int64_t n;
    float *y = run_op(CLG_OP_DROPOUT, &x, &a, &n);
    double mean, var;
    moments(y, n, &mean, &var);
    int kept = 0;
    for (int64_t i = 0; i < n; i++) {
        assert_true(y[i] == 0.0f || fabs(y[i] - 4.0 / 3.0) < 1e-6);
        kept += y[i] != 0.0f;
    }
    assert_true(fabs(kept / 1e5 - 0.75) < 0.007); /* sd 0.0014 */
    assert_true(fabs(mean - 1.0) < 0.01);         /* expectation preserved */
    a.p = 1.0f;
    clg_shape os;
    const clg_shape *in[1] = { &sx };
    assert_int_equal(clg_op_infer(CLG_OP_DROPOUT, in, &a, &os), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "dropout"));
    clg_shape si = SHAPE1(CLG_I32, 5);
    const clg_shape *ini[1] = { &si };
    a.p = 0.5f;
    assert_int_equal(clg_op_infer(CLG_OP_DROPOUT, ini, &a, &os), CLG_ERR_DTYPE);
    assert_non_null(strstr(clg_last_error(), "dropout: input 0 must be f32"));
    free(y);
    free(ones);
    clg_tensor_free(&x);
}

/* ---- augment ------------------------------------------------------------------ */

static clg_attrs aug_attrs(int H, int W, int views)
{
    clg_attrs a = rng_attrs(0xa11ce5ULL, 3);
    a.height = H;
    a.width = W;
    a.aug.views = views;
    return a;
}

/* Every augmentation alone and all together, square and non-square images, against the double
 * reference that regenerates the same draws. */
static void test_augment_vs_reference(void **s)
{
    (void)s;
    static const int hw[][2] = { { 28, 28 }, { 12, 10 }, { 5, 9 } };
    for (int k = 0; k < 3; k++)
        for (int mode = 0; mode < 6; mode++) {
            int H = hw[k][0], W = hw[k][1];
            op_case c = { .op = CLG_OP_AUGMENT, .nin = 1, .attrs = aug_attrs(H, W, 1 + mode % 3) };
            c.attrs.counter = 11u * (uint64_t)mode + (uint64_t)k;
            c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, 7, H * W), .kind = IN_UNIFORM, .lo = 0, .hi = 1, .no_grad = 1 };
            struct clg_augment_attrs *g = &c.attrs.aug;
            if (mode == 1 || mode == 5) {
                g->scale_lo = 0.3f;
                g->scale_hi = 1.0f;
                g->ratio_lo = 0.75f;
                g->ratio_hi = 4.0f / 3.0f;
            }
            if (mode == 2 || mode == 5)
                g->translate = 3.5f;
            if (mode == 3 || mode == 5)
                g->flip_p = 0.5f;
            if (mode == 4 || mode == 5) {
                g->cutout = H < 8 ? 2 : 4;
                g->cutout_p = 0.5f;
            }
            if (mode == 0 || mode == 5)
                g->noise_std = mode ? 0.05f : 0.0f;
            if (mode == 2)
                g->noise_std = 0.2f;
            c.atol = 5e-5;
            c.rtol = 1e-4;
            check_op_forward(tctx, &c, 100 + (uint64_t)mode);
        }
}

/* Exact properties: identity, a flip with p = 1 mirrors, cutout with p = 1 zeroes exactly one
 * square per view, views and steps differ, the same (seed, counter) repeats. */
static void test_augment_properties(void **s)
{
    (void)s;
    enum { N = 4, H = 12, W = 12 };
    float hx[N * H * W];
    for (int i = 0; i < N * H * W; i++)
        hx[i] = 1.0f + (float)((i * 37) % 101) / 101.0f; /* never 0 */
    clg_shape sx = SHAPE2(CLG_F32, N, H * W);
    clg_tensor x;
    assert_clg_ok(clg_tensor_new(tctx, &sx, &x));
    assert_clg_ok(clg_tensor_write(&x, hx));
    int64_t n;
    clg_attrs a = aug_attrs(H, W, 2);
    float *y = run_op(CLG_OP_AUGMENT, &x, &a, &n);
    assert_int_equal(n, 2 * N * H * W);
    for (int i = 0; i < n; i++)
        assert_true(y[i] == hx[i % (N * H * W)]);
    free(y);
    a.aug.flip_p = 1.0f;
    y = run_op(CLG_OP_AUGMENT, &x, &a, &n);
    for (int r = 0; r < 2 * N; r++)
        for (int i = 0; i < H * W; i++)
            assert_true(y[r * H * W + i] == hx[(r % N) * H * W + (i / W) * W + W - 1 - i % W]);
    free(y);
    a.aug.flip_p = 0.0f;
    a.aug.cutout = 5;
    a.aug.cutout_p = 1.0f;
    y = run_op(CLG_OP_AUGMENT, &x, &a, &n);
    for (int r = 0; r < 2 * N; r++) {
        int zeros = 0;
        for (int i = 0; i < H * W; i++)
            zeros += y[r * H * W + i] == 0.0f;
        assert_int_equal(zeros, 25);
    }
    free(y);
    a.aug.cutout = 0;
    a.aug.scale_lo = 0.5f;
    a.aug.noise_std = 0.1f;
    float *y1 = run_op(CLG_OP_AUGMENT, &x, &a, &n), *y2 = run_op(CLG_OP_AUGMENT, &x, &a, &n);
    assert_memory_equal(y1, y2, (size_t)n * sizeof(float));
    int same_views = 0;
    for (int i = 0; i < N * H * W; i++)
        same_views += y1[i] == y1[N * H * W + i];
    assert_true(same_views < N * H * W / 10);
    a.counter++;
    float *y3 = run_op(CLG_OP_AUGMENT, &x, &a, &n);
    int same_steps = 0;
    for (int i = 0; i < n; i++)
        same_steps += y1[i] == y3[i];
    assert_true(same_steps < n / 10);
    free(y1);
    free(y2);
    free(y3);
    clg_tensor_free(&x);
}

/* The two kernel styles sample the same pixels, bit for bit: every augmentation on (taps outside
 * the image included), rows shorter and longer than the vector kernel's 16 lanes, a last
 * work-item cut short.  The noise is off: its vector log and cospi may round differently from
 * the scalar ones (by an ulp). */
static void test_augment_styles_agree(void **s)
{
    (void)s;
    static const int hw[][2] = { { 28, 28 }, { 5, 9 }, { 3, 40 }, { 1, 1 } };
    for (int k = 0; k < 4; k++) {
        int H = hw[k][0], W = hw[k][1], N = 7;
        float *hx = malloc((size_t)N * H * W * sizeof(float));
        assert_non_null(hx);
        for (int i = 0; i < N * H * W; i++)
            hx[i] = (float)((i * 7919) % 1009) / 1009.0f - 0.25f; /* some negative: signed zeros show */
        clg_shape sx = SHAPE2(CLG_F32, N, H * W);
        clg_tensor x;
        assert_clg_ok(clg_tensor_new(tctx, &sx, &x));
        assert_clg_ok(clg_tensor_write(&x, hx));
        clg_attrs a = aug_attrs(H, W, 3);
        a.counter = 5u + (uint64_t)k;
        a.aug.scale_lo = 0.3f;
        a.aug.ratio_lo = 0.75f;
        a.aug.ratio_hi = 4.0f / 3.0f;
        a.aug.translate = 3.5f;
        a.aug.flip_p = 0.5f;
        a.aug.cutout = H < 3 ? 1 : 2;
        a.aug.cutout_p = 0.5f;
        int64_t n0, n1;
        clg_ctx_set_vec_kernels(tctx, CLG_SWITCH_OFF);
        float *y0 = run_op(CLG_OP_AUGMENT, &x, &a, &n0);
        clg_ctx_set_vec_kernels(tctx, CLG_SWITCH_ON);
        float *y1 = run_op(CLG_OP_AUGMENT, &x, &a, &n1);
        clg_ctx_set_vec_kernels(tctx, CLG_SWITCH_DEFAULT);
        assert_int_equal(n0, 3 * N * H * W);
        assert_int_equal(n1, n0);
        for (int64_t i = 0; i < n0; i++)
            if (memcmp(&y0[i], &y1[i], sizeof(float))) {
                print_error("%dx%d element %lld: %a (a block per work-item) vs %a (16)\n", H, W, (long long)i,
                            (double)y0[i], (double)y1[i]);
                fail();
            }
        free(y0);
        free(y1);
        free(hx);
        clg_tensor_free(&x);
    }
}

static void test_augment_bad_attrs(void **s)
{
    (void)s;
    clg_shape sx = SHAPE2(CLG_F32, 3, 28 * 28), os;
    const clg_shape *in[1] = { &sx };
    clg_attrs ok = aug_attrs(28, 28, 2);
    assert_clg_ok(clg_op_infer(CLG_OP_AUGMENT, in, &ok, &os));
    assert_int_equal(os.dim[0], 6);
    assert_int_equal(os.dim[1], 784);
    for (int k = 0; k < 9; k++) {
        clg_attrs a = ok;
        switch (k) {
        case 0: a.aug.views = 0; break;
        case 1: a.aug.scale_lo = 0.0f; break;
        case 2: a.aug.scale_hi = 1.5f; break;
        case 3: a.aug.ratio_lo = 2.0f; break;
        case 4: a.aug.translate = -1.0f; break;
        case 5: a.aug.flip_p = 1.5f; break;
        case 6: a.aug.cutout = 29; break;
        case 7: a.aug.noise_std = NAN; break;
        case 8: a.width = 27; break;
        }
        clg_status st = clg_op_infer(CLG_OP_AUGMENT, in, &a, &os);
        assert_true(st == CLG_ERR_INVALID_ARG || st == CLG_ERR_SHAPE);
        assert_non_null(strstr(clg_last_error(), "augment"));
    }
}

/* Both kernel families on every device (the default picks one per device type):
 * CLGRAD_VEC_KERNELS=0 (a block per work-item) and =1 (16 blocks per work-item in uint16 lanes). */
static void test_random_styles(void **s)
{
    void (*const fns[])(void **) = { test_uniform_bit_exact, test_uniform_range, test_streams,
                                     test_normal_vs_reference, test_patch_mask_vs_reference,
                                     test_patch_mask_counts, test_dropout_forward_backward,
                                     test_augment_vs_reference, test_augment_properties };
    clg_test_each_vec_kernels(fns, sizeof fns / sizeof fns[0], s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_known_answers),
        cmocka_unit_test(test_uniform_bit_exact),
        cmocka_unit_test(test_uniform_range),
        cmocka_unit_test(test_uniform_default_range_rejected),
        cmocka_unit_test(test_uniform_stats),
        cmocka_unit_test(test_streams),
        cmocka_unit_test(test_normal_vs_reference),
        cmocka_unit_test(test_normal_stats),
        cmocka_unit_test(test_patch_mask_vs_reference),
        cmocka_unit_test(test_patch_mask_counts),
        cmocka_unit_test(test_patch_mask_bad_inputs),
        cmocka_unit_test(test_dropout_forward_backward),
        cmocka_unit_test(test_dropout_stats),
        cmocka_unit_test(test_random_styles),
        cmocka_unit_test(test_augment_vs_reference),
        cmocka_unit_test(test_augment_properties),
        cmocka_unit_test(test_augment_styles_agree),
        cmocka_unit_test(test_augment_bad_attrs),
    };
    return clg_test_run_per_device("random", tests, sizeof tests / sizeof tests[0]);
}
