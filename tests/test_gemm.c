/* test_gemm.c — the gemm ops vs the double reference and finite differences, per device and per path
 * (--slow: the sweeps of every register tile over every shape). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gemm.h"
#include "harness.h"
#include "ref_ops.h"

/* The sweep_* tests (suite "slow", `test_gemm --slow`) run every tile configuration over this
 * table; the quick tests (default suite) fewer, see below.
 * (M, K, N) of op(A)·op(B): 1, 7, 33 and >1000 along each axis, full register tiles (8x32,
 * 4x4 with K a multiple of 16) and partial ones; K = 1031 and 4500: several k-chunks of
 * gemm_tiled_t and gemm_tiled_p (512 floats on 8-wide devices, 2048 on 16-wide ones). */
static const int shapes[][3] = {
    { 1, 1, 1 }, { 7, 33, 5 }, { 33, 7, 33 }, { 3, 1031, 5 }, { 1031, 3, 2 }, { 2, 3, 1031 },
    { 24, 20, 96 }, { 8, 48, 12 }, { 17, 37, 65 }, { 5, 4500, 37 },
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

/* The GEMM options in force on tctx: each test sets fields and applies them (clg_ctx_set_gemm_options);
 * the teardown zeroes them again. */
static clg_gemm_options gopt;
static void apply(void) { assert_clg_ok(clg_ctx_set_gemm_options(tctx, &gopt)); }
static void use_path(const char *p)
{
    gopt.path = clg_gemm_path_parse(p);
    apply();
}
#define SET3(f, a, b, c) (gopt.f[0] = (a), gopt.f[1] = (b), gopt.f[2] = (c), apply())

static int teardown_path(void **s)
{
    (void)s;
    memset(&gopt, 0, sizeof gopt);
    apply();
    return 0;
}

/* The quick tests' register tiles (small: they compile several times faster than the tuned ones),
 * with the register tiles per work-item down M fixed (RM; the default derives it from the shape,
 * so each shape of the table would be a program of its own): 4 rows x two float8 vectors (16 wide:
 * A·Bᵀ takes gemm_tiled_t), one tile per work-item; or (vec16) 2 rows x one float16, two tiles per
 * work-item (one where M <= 2: another variant). */
static void cheap_tiles(int vec16)
{
    gopt.rm = vec16 ? 2 : 1;
    if (vec16)
        SET3(tile, 2, 16, 1);
    else
        SET3(tile, 4, 8, 2);
}

/* Tolerance of an f32 dot product of length K with terms in [-1,1]. */
static void set_tol(op_case *c, int K)
{
    c->atol = 1e-6 + 2e-7 * K;
    c->rtol = 1e-5;
}

static op_case mm_case(int M, int K, int N, int ta, int tb)
{
    op_case c = { .op = CLG_OP_MATMUL, .nin = 2, .attrs = clg_attrs_defaults() };
    c.attrs.trans_a = ta;
    c.attrs.trans_b = tb;
    c.in[0].s = ta ? SHAPE2(CLG_F32, K, M) : SHAPE2(CLG_F32, M, K);
    c.in[1].s = tb ? SHAPE2(CLG_F32, N, K) : SHAPE2(CLG_F32, K, N);
    set_tol(&c, K);
    return c;
}

static op_case bmm_case(int B, int M, int K, int N, int ta, int tb)
{
    op_case c = mm_case(M, K, N, ta, tb);
    c.op = CLG_OP_BMM;
    for (int i = 0; i < 2; i++)
        c.in[i].s = SHAPE3(CLG_F32, B, c.in[i].s.dim[0], c.in[i].s.dim[1]);
    return c;
}

/* Every transpose combination over the shape table, forward; backward on a subset. */
static void matmul_all(const char *path, size_t n_shapes, int backward)
{
    use_path(path);
    for (int t = 0; t < 4; t++)
        for (size_t i = 0; i < n_shapes; i++) {
            op_case c = mm_case(shapes[i][0], shapes[i][1], shapes[i][2], t & 1, t >> 1);
            check_op_forward(tctx, &c, 1000 + 10 * i + t);
            if (backward && (i == 1 || i == 2 || i == 3 || i == 8))
                check_op_backward(tctx, &c, 2000 + 10 * i + t);
        }
}

static void bmm_all(const char *path)
{
    use_path(path);
    for (int t = 0; t < 4; t++) {
        op_case c = bmm_case(3, 9, 17, 35, t & 1, t >> 1);
        check_op_forward(tctx, &c, 3000 + t);
        check_op_backward(tctx, &c, 3100 + t);
        op_case d = bmm_case(2, 1, 1031, 3, t & 1, t >> 1);
        check_op_forward(tctx, &d, 3200 + t);
        /* N >= 64: on 256-bit llvmpipe, simple's 8x8 blocks in groups of 8 lanes (two groups
         * along N, the second mostly padding; the second block down M clamped) */
        op_case w = bmm_case(2, 11, 13, 70, t & 1, t >> 1);
        check_op_forward(tctx, &w, 3300 + t);
        check_op_backward(tctx, &w, 3400 + t);
    }
}

static void sweep_matmul_tiled(void **s)
{
    (void)s;
    matmul_all("tiled", N_SHAPES, 1);
    /* another register tile: several vectors per row, narrower vectors */
    SET3(tile, 8, 8, 2);
    matmul_all("tiled", N_SHAPES, 0);
    SET3(tile, 0, 0, 0);
    /* three register tiles down M per work-item (the last group partly past M); one tile
     * for every class keeps the number of programs to build (slow on rusticl) small */
    gopt.rm = 3;
    apply();
    SET3(tile, 8, 16, 1);
    matmul_all("tiled", N_SHAPES, 0);
    op_case b = bmm_case(3, 9, 17, 35, 0, 1);
    check_op_forward(tctx, &b, 3300);
    SET3(tile, 0, 0, 0);
    gopt.rm = 0;
    apply();
}
/* The unpacked register-tiled kernels, whatever the size-based default (narrow-N vector
 * loads: N = 5, 33, 65 with K up to 1031). */
static void sweep_matmul_unpacked(void **s)
{
    (void)s;
    if (clg_test_is_rusticl())
        skip(); /* the tiled path never packs there: test_matmul_tiled covers it */
    gopt.kernel = CLG_GEMM_KERNEL_TILED;
    apply();
    matmul_all("tiled", N_SHAPES, 1);
}

/* The packed gemm_block kernel (PoCL's default from 1024^3 on, 2^26 multiply-adds on 8-wide
 * devices; never used on rusticl, so
 * skipped there) with small blocks, so the table's shapes span several blocks and
 * k-blocks: partial blocks and register tiles, clamped rows, zero columns. */
static void sweep_matmul_block(void **s)
{
    (void)s;
    if (clg_test_is_rusticl())
        skip();
    gopt.kernel = CLG_GEMM_KERNEL_BLOCK;
    apply();
    SET3(block, 16, 32, 16);
    matmul_all("tiled", N_SHAPES, 1);
    /* TM 8 x two float16 vectors; blocks rounded up to 24 x 64, odd KB */
    SET3(tile, 8, 16, 2);
    SET3(block, 20, 40, 23);
    matmul_all("tiled", N_SHAPES, 0);
    /* the default blocks (one k-block up to K = 256) */
    SET3(tile, 0, 0, 0);
    SET3(block, 0, 0, 0);
    matmul_all("tiled", N_SHAPES, 0);
}

/* gemm_tiled_p (forced) with the default tiles, then with three tiles down M per work-item. */
static void sweep_matmul_strip(void **s)
{
    (void)s;
    gopt.kernel = CLG_GEMM_KERNEL_STRIP;
    apply();
    matmul_all("tiled", N_SHAPES, 1);
    gopt.rm = 3;
    apply();
    SET3(tile, 8, 16, 1);
    matmul_all("tiled", N_SHAPES, 0);
    bmm_all("tiled");
}

static void sweep_bmm_block(void **s)
{
    (void)s;
    if (clg_test_is_rusticl())
        skip();
    gopt.kernel = CLG_GEMM_KERNEL_BLOCK;
    apply();
    SET3(block, 16, 16, 32);
    bmm_all("tiled");
}

/* One transposed operand (ta 0: A·Bᵀ, 1: Aᵀ·B) over the shape table: forward, and backward with
 * accumulate (beta = 1) on a subset. */
static void matmul_tr(int ta, size_t n_shapes, int backward)
{
    use_path("tiled");
    for (size_t i = 0; i < n_shapes; i++) {
        op_case c = mm_case(shapes[i][0], shapes[i][1], shapes[i][2], ta, !ta);
        check_op_forward(tctx, &c, 5000 + 1000 * (uint64_t)ta + 10 * i);
        if (backward && (i == 2 || i == 8))
            check_op_backward(tctx, &c, 5100 + 1000 * (uint64_t)ta + 10 * i);
    }
}

/* A·Bᵀ and Aᵀ·B through a transposed copy of B or A in the ctx's scratch buffer (PoCL's default
 * from 1024^3 on; Aᵀ·B on 16-wide devices): every table shape (1, 7, 33, 1031 along M, K and N;
 * the scratch grows and is reused), batches, and the NN form on both gemm_block and the unpacked
 * kernel. */
static void transpose_run(int cheap)
{
    gopt.nt = CLG_GEMM_NT_TRANSPOSE;
    apply();
    if (cheap)
        cheap_tiles(0);
    matmul_tr(0, N_SHAPES, 1);
    matmul_tr(1, N_SHAPES, 1);
    use_path("tiled");
    for (int i = 0; i < 2; i++) {
        for (int ta = 0; ta < 2; ta++) {
            op_case b = bmm_case(3, 9, 17, 35, ta, !ta);
            check_op_forward(tctx, &b, 5300 + i + 100 * (uint64_t)ta);
            check_op_backward(tctx, &b, 5310 + i + 100 * (uint64_t)ta);
            op_case d = bmm_case(2, 1, 1031, 3, ta, !ta);
            check_op_forward(tctx, &d, 5320 + i + 100 * (uint64_t)ta);
        }
        if (clg_test_is_rusticl())
            break; /* the NN form never packs there */
        gopt.kernel = CLG_GEMM_KERNEL_BLOCK;
        apply();
        SET3(block, 16, 32, 16);
    }
    if (!clg_test_is_rusticl()) {
        matmul_tr(0, N_SHAPES, 0);
        matmul_tr(1, N_SHAPES, 0);
    }
}

static void sweep_matmul_transpose(void **s) { (void)s; transpose_run(0); }

/* The A·Bᵀ kernels side by side: gemm_tiled_k (forced; the default picks gemm_tiled_t
 * for whole 16-wide tiles), gemm_tiled_t with two vectors per row and several k-chunks
 * (K = 1031, 4500), and with register tiles down M split over work-items. */
static void sweep_matmul_nt_kernels(void **s)
{
    (void)s;
    gopt.nt = CLG_GEMM_NT_DIRECT;
    apply();
    gopt.kernel = CLG_GEMM_KERNEL_TILED_K;
    apply();
    matmul_tr(0, N_SHAPES, 1);
    gopt.kernel = CLG_GEMM_KERNEL_DEFAULT;
    apply();
    SET3(tile, 4, 16, 2);
    matmul_tr(0, N_SHAPES, 1);
    gopt.rm = 2;
    apply();
    SET3(tile, 3, 16, 1);
    matmul_tr(0, N_SHAPES, 0);
}

static void test_matmul_local(void **s) { (void)s; matmul_all("local", N_SHAPES, 1); }
static void test_matmul_simple(void **s) { (void)s; matmul_all("simple", N_SHAPES, 1); }
static void sweep_bmm_tiled(void **s) { (void)s; bmm_all("tiled"); }
static void test_bmm_local(void **s) { (void)s; bmm_all("local"); }
static void test_bmm_simple(void **s) { (void)s; bmm_all("simple"); }

/* ---- quick tests (the default suite) ----------------------------------------------------------
 * Every kernel family x transpose combination x edge case of the sweep_* tests (partial register
 * tiles and RM groups, K remainders, several vectors per row, partial blocks and k-blocks,
 * batches, the transposed-B path) on the cheap tiles, each program built once per process (the
 * tests share the configurations: a variant is built on first use and kept by the ctx); the
 * tuned tiles and blocks once per class and transposition.  Every tile x every shape: the
 * sweep_* tests, `test_gemm --slow` (meson suite "slow"). */

/* Shapes 1, 2 and 8 of the table (7x33x5, 33x7x33, 17x37x65): partial tiles along M and N, a
 * K remainder; pairs of 2-row register tiles, the last tile partly past M, the last pair's second
 * tile wholly past M for M = 33 and 17. */
static void matmul_three(void)
{
    static const size_t pick[] = { 1, 2, 8 };
    use_path("tiled");
    for (int t = 0; t < 4; t++)
        for (size_t i = 0; i < 3; i++) {
            op_case c = mm_case(shapes[pick[i]][0], shapes[pick[i]][1], shapes[pick[i]][2], t & 1, t >> 1);
            check_op_forward(tctx, &c, 1500 + 10 * i + t);
        }
}

/* The table on the cheap tiles with kernel option k, then float16 vectors on three shapes. */
static void cheap_tiles_run(clg_gemm_kernel k)
{
    gopt.kernel = k;
    cheap_tiles(0);
    matmul_all("tiled", N_SHAPES, 1);
    cheap_tiles(1);
    matmul_three();
}

/* The unpacked kernels (gemm_tiled_n, forced: 16-wide devices take gemm_tiled_p for A·B;
 * gemm_tiled_t for A·Bᵀ) over the table on the cheap tiles, then float16 vectors on three
 * shapes (the sweep: every shape). */
static void test_matmul_tiled(void **s)
{
    (void)s;
    cheap_tiles_run(CLG_GEMM_KERNEL_TILED);
    op_case b = bmm_case(3, 9, 17, 35, 0, 1);
    check_op_forward(tctx, &b, 3300);
}

/* gemm_tiled_p (forced: the default on 16-wide devices only) for every A·B of the table and of
 * the others' gradients (the backward of A·Bᵀ accumulates dC·B), on the cheap tiles: partial
 * strips (N = 5, 33, 37, 65), several k-chunks (K = 1031, 4500), RM groups past M; then 2 rows
 * x one float16 and a batch. */
static void test_matmul_strip(void **s)
{
    (void)s;
    cheap_tiles_run(CLG_GEMM_KERNEL_STRIP);
    for (int tb = 0; tb < 2; tb++) {
        op_case b = bmm_case(3, 9, 17, 35, 0, tb);
        check_op_forward(tctx, &b, 3500 + tb);
        check_op_backward(tctx, &b, 3510 + tb);
    }
}

/* The tuned register tiles as the default picks them (tile_params in src/gemm.c), one product
 * each (they compile slowly; the kernels' edge cases run on the cheap tiles above), on a 16-wide
 * device: 8,16,2 for nn (gemm_tiled_p) at 7x33x40, 12,16,2 where 12 rows pad M less (17x37x65),
 * 6,16,4 for nt (gemm_tiled_t; 7x33x40, the product test_tuned_path and test_policy_fixed run on
 * PoCL's default path) and tn, 8,16,1 for narrow N (7x33x5); an 8-wide one: 6,8,2 throughout.
 * rusticl, whose default path is simple: the first two products only. */
static void test_matmul_defaults(void **s)
{
    (void)s;
    int rusticl = clg_test_is_rusticl();
    use_path("tiled");
    op_case c = mm_case(17, 37, 65, 0, 0);
    check_op_forward(tctx, &c, 7000);
    c = mm_case(7, 33, 40, 0, 1);
    check_op_forward(tctx, &c, 7001);
    if (rusticl)
        return;
    for (int ta = 0; ta < 2; ta++) {
        c = mm_case(7, 33, 40, ta, 0);
        check_op_forward(tctx, &c, 7002 + ta);
    }
    c = mm_case(7, 33, 5, 0, 0);
    check_op_forward(tctx, &c, 7004);
}

/* gemm_block (PoCL only, see sweep_matmul_block) with small blocks over the table: several
 * blocks and k-blocks, partial blocks and register tiles; then blocks rounded up to whole tiles
 * (21 x 48) with an odd KB; then the default block (the device's tiles in 128 x 256 x 256) once per
 * transposition, K = 300 over several k-blocks. */
static void test_matmul_block(void **s)
{
    (void)s;
    if (clg_test_is_rusticl())
        skip();
    gopt.kernel = CLG_GEMM_KERNEL_BLOCK;
    apply();
    SET3(tile, 4, 8, 2);
    SET3(block, 16, 32, 16);
    matmul_all("tiled", N_SHAPES, 1);
    SET3(tile, 3, 16, 1);
    SET3(block, 20, 40, 23);
    matmul_all("tiled", N_SHAPES, 0);
    SET3(tile, 0, 0, 0);
    SET3(block, 0, 0, 0);
    for (int t = 0; t < 4; t++) {
        op_case c = mm_case(17, 300, 65, t & 1, t >> 1);
        check_op_forward(tctx, &c, 7100 + t);
    }
}

/* Batches on gemm_block: test_matmul_block's first configuration (no program of its own). */
static void test_bmm_block(void **s)
{
    (void)s;
    if (clg_test_is_rusticl())
        skip();
    gopt.kernel = CLG_GEMM_KERNEL_BLOCK;
    apply();
    SET3(tile, 4, 8, 2);
    SET3(block, 16, 32, 16);
    bmm_all("tiled");
}

static void test_matmul_transpose(void **s) { (void)s; transpose_run(1); }

/* gemm_tiled_k forced (K >= 64: K = 1031 and the backward products of the table's K = 1031
 * shape; shorter K keeps gemm_tiled_t) with float8, then float16 vectors along K (3x1031x5
 * only), and a tile
 * 8 wide (not a whole 16-wide vector: no gemm_tiled_t) with float4 vectors: gemm_tiled_k where
 * K >= 16, gemm_tiled_n gathering B below. */
static void test_matmul_nt_kernels(void **s)
{
    (void)s;
    gopt.nt = CLG_GEMM_NT_DIRECT;
    gopt.kernel = CLG_GEMM_KERNEL_TILED_K;
    cheap_tiles(0);
    matmul_tr(0, N_SHAPES, 1);
    cheap_tiles(1);
    op_case c = mm_case(3, 1031, 5, 0, 1);
    check_op_forward(tctx, &c, 5400);
    check_op_backward(tctx, &c, 5401);
    gopt.kernel = CLG_GEMM_KERNEL_DEFAULT;
    gopt.rm = 1;
    SET3(tile, 4, 4, 2);
    matmul_tr(0, N_SHAPES, 0);
}

static void test_bmm_tiled(void **s)
{
    (void)s;
    cheap_tiles(0);
    bmm_all("tiled");
}

/* CLBlast compiles its kernels on first use (seconds on PoCL) and its large-matrix kernels
 * are slow on rusticl: tiny shapes only (CLBlast's direct kernels). */
static int g_slow; /* --slow: suite "slow" */

/* CLBlast is the default path on GPUs only; on PoCL its programs compile for ~25 s on empty caches
 * (a fifth of a cold `meson test`), so on CPU devices it runs in suite "slow" (CI runs it). */
static void test_clblast(void **s)
{
    (void)s;
    if (!g_slow && tdev->type == CLG_DEVICE_CPU) {
        skip();
        return;
    }
    use_path("clblast");
    for (int t = 0; t < 4; t++) {
        op_case c = mm_case(7, 33, 5, t & 1, t >> 1);
        check_op_forward(tctx, &c, 4000 + t);
    }
    op_case c = mm_case(5, 7, 3, 1, 0);
    check_op_backward(tctx, &c, 4100);
    op_case b = bmm_case(3, 5, 7, 3, 0, 1);
    check_op_forward(tctx, &b, 4200);
    check_op_backward(tctx, &b, 4201);
}

/* Operands and result as views at odd element offsets into larger buffers; with `cheap`, the
 * tiled kernels in the quick tests' configuration (cheap_tiles: no program of their own). */
static void offsets_run(int cheap)
{
    const char *paths[] = { "tiled", "local", "simple", "block", "transpose" };
    const int M = 9, K = 17, N = 33, off = 5;
    for (size_t p = 0; p < 5; p++) {
        /* "block": the tiled path's packed kernel, two k-blocks (rusticl: unpacked);
         * "transpose": A·Bᵀ through the transposed scratch copy of B */
        use_path(p >= 3 ? "tiled" : paths[p]);
        if (cheap)
            cheap_tiles(0);
        if (p == 4) {
            gopt.kernel = CLG_GEMM_KERNEL_DEFAULT;
            apply();
            SET3(block, 0, 0, 0);
            gopt.nt = CLG_GEMM_NT_TRANSPOSE;
            apply();
        }
        if (p == 3) {
            gopt.kernel = CLG_GEMM_KERNEL_BLOCK;
            apply();
            if (cheap)
                SET3(block, 16, 32, 16);
            else
                SET3(block, 16, 16, 16);
        }
        for (int t = 0; t < 4; t++) {
            op_case c = mm_case(M, K, N, t & 1, t >> 1);
            trng g = { 77 + (uint64_t)t };
            ref_tensor r[2], big[2], want;
            clg_tensor tb[2], tv[2], outbig, outv;
            for (int i = 0; i < 2; i++) {
                ref_alloc(&r[i], &c.in[i].s);
                int64_t n = clg_shape_numel(&c.in[i].s);
                clg_shape bs = SHAPE1(CLG_F32, n + off + 3);
                ref_alloc(&big[i], &bs);
                for (int64_t j = 0; j < n + off + 3; j++)
                    big[i].d[j] = (double)(float)(2 * trng_uniform(&g) - 1);
                for (int64_t j = 0; j < n; j++)
                    r[i].d[j] = big[i].d[j + off];
                ref_upload(tctx, &big[i], &tb[i]);
                assert_clg_ok(clg_tensor_view(&tb[i], off, &c.in[i].s, &tv[i]));
            }
            clg_shape os = SHAPE2(CLG_F32, M, N), obs = SHAPE1(CLG_F32, M * N + 2 * off);
            ref_alloc(&want, &os);
            assert_int_equal(ref_matmul(r, &c.attrs, &want), 0);
            assert_clg_ok(clg_tensor_zeros(tctx, &obs, &outbig));
            assert_clg_ok(clg_tensor_view(&outbig, off, &os, &outv));
            const clg_tensor *in[2] = { &tv[0], &tv[1] };
            assert_clg_ok(clg_op_forward(tctx, CLG_OP_MATMUL, in, &outv, &c.attrs));
            ref_tensor got;
            ref_download(&outbig, &got);
            for (int64_t j = 0; j < M * N + 2 * off; j++) {
                double w = (j >= off && j < off + M * N) ? want.d[j - off] : 0.0;
                if (!(fabs(got.d[j] - w) <= 1e-5 + 1e-5 * fabs(w)))
                    fail_msg("%s trans %d/%d: element %lld of the padded output is %g, want %g", paths[p],
                             t & 1, t >> 1, (long long)j, got.d[j], w);
            }
            ref_free(&got);
            ref_free(&want);
            for (int i = 0; i < 2; i++) {
                ref_free(&r[i]);
                ref_free(&big[i]);
                clg_tensor_free(&tb[i]);
            }
            clg_tensor_free(&outbig);
        }
    }
}

static void test_offsets(void **s) { (void)s; offsets_run(1); }
static void sweep_offsets(void **s) { (void)s; offsets_run(0); }

/* K == 0 gives zeros (and accumulate leaves the gradient alone); M == 0 does nothing. */
/* A `clgrad tune` result picks the path for its class on a new ctx (it survives a restart), and a
 * line for another driver version is ignored. */
/* CLGRAD_CACHE_DIR pointed at a new temp folder (its gemm_tune.txt in file) for one test. */
typedef struct temp_cache {
    char dir[64], file[96], saved[1024];
    int had;
} temp_cache;

static void temp_cache_enter(temp_cache *t, const char *tag)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/clgrad-test-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->file, sizeof t->file, "%s/gemm_tune.txt", t->dir);
    const char *old = getenv("CLGRAD_CACHE_DIR");
    t->had = old != NULL;
    snprintf(t->saved, sizeof t->saved, "%s", old ? old : "");
    setenv("CLGRAD_CACHE_DIR", t->dir, 1);
}

static void temp_cache_leave(temp_cache *t)
{
    remove(t->file);
    rmdir(t->dir);
    if (t->had)
        setenv("CLGRAD_CACHE_DIR", t->saved, 1);
    else
        unsetenv("CLGRAD_CACHE_DIR");
}

static void write_tune(const char *file, const clg_device_info *d, const char *drv, const char *path)
{
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f, "other device\t%s\tnn\t%s\n", d->driver_version, path);
    fprintf(f, "%s\t%s\tnn\t%s\n", d->name, drv, path);
    fprintf(f, "%s\t%s\ttn\tgarbage\n", d->name, d->driver_version);
    assert_int_equal(fclose(f), 0);
}

static const char *run_class_opts(const clg_device_info *d, const clg_ctx_options *o, int ta, int seed)
{
    clg_ctx *ctx = NULL;
    assert_clg_ok(clg_ctx_create(d, o, &ctx));
    op_case c = mm_case(7, 33, 40, ta, 0);
    check_op_forward(ctx, &c, seed);
    const char *p = clg_gemm_last_path(ctx);
    assert_non_null(p);
    clg_ctx_destroy(ctx);
    return p; /* a static string */
}
static const char *run_class(const clg_device_info *d, int ta, int seed) { return run_class_opts(d, NULL, ta, seed); }

static void test_tuned_path(void **s)
{
    (void)s;
    const clg_device_info *d = clg_ctx_device(tctx);
    int rusticl = strstr(d->platform_name, "rusticl") != NULL;
    const char *dflt = rusticl ? "simple" : d->type == CLG_DEVICE_CPU ? "tiled" : "clblast";
    const char *tuned = rusticl ? "local" : "simple";   /* differs from the default */
    temp_cache tc;
    temp_cache_enter(&tc, "tune");
    const char *file = tc.file;
    unsetenv("CLGRAD_GEMM");

    write_tune(file, d, d->driver_version, tuned);
    assert_string_equal(run_class(d, 0, 4000), tuned);  /* nn: tuned */
    assert_string_equal(run_class(d, 1, 4001), dflt);   /* tn: unreadable entry -> default */
    assert_string_equal(run_class(d, 0, 4002), tuned);  /* a new ctx reads it again */
    setenv("CLGRAD_GEMM", dflt, 1);                     /* the environment still overrides */
    assert_string_equal(run_class(d, 0, 4003), dflt);
    /* the options override both the environment and the tuning file */
    setenv("CLGRAD_GEMM", dflt, 1);
    clg_ctx_options o = { .gemm.path = clg_gemm_path_parse(rusticl ? "tiled" : "local") };
    assert_string_equal(run_class_opts(d, &o, 0, 4005), rusticl ? "tiled" : "local");
    unsetenv("CLGRAD_GEMM");
    write_tune(file, d, "another driver 0.0", tuned);
    assert_string_equal(run_class(d, 0, 4004), dflt);   /* driver changed: ignored */

    temp_cache_leave(&tc);
}

/* The tune-file reader (src/tune.c) is strict: each malformed line below, written for the
 * device and class looked up, is ignored (the old sscanf/strtok reader took every one), a FIFO
 * does not block, and a valid line after malformed ones is still found.  White-box: calls
 * clg__gemm_tune_lookup (the library's own) with a made-up device. */
int clg__gemm_tune_lookup(const char *dir, const clg_device_info *d, int cls, int *path, int *tm, int *vw, int *nv);
enum { TUNE_NN = 0, TUNE_TN = 1 }; /* src/internal.h: CLG_GEMM_CLASS_NN, CLG_GEMM_CLASS_TN */

/* The policy is fixed at ctx create: the variables set afterwards change nothing (a launch reads
 * none, even malformed ones), while options set on the live ctx select the path and kernel. */
/* The register tiles follow the device's native float width (clg_device_info.float_width):
 * 8-wide devices (AVX2) take 6,8,2 in every class and gemm_block from 2^26 multiply-adds; 16-wide
 * ones (AVX-512) the tiles tuned there, and gemm_block from 1024^3 except for A·B (gemm_tiled_p
 * at every size).  The AVX-512 tiles ran 2-4x slow on an AVX2 host (their accumulators spill);
 * this pins the policy for both widths on a ctx without a tune file, and the kernels each tile's
 * program holds (GEMM_KSET: only those the policy launches at that tile). */
static void test_tile_policy(void **s)
{
    (void)s;
    char dir[] = "/tmp/clgrad-tile-XXXXXX";
    assert_non_null(mkdtemp(dir));
    clg_ctx *ctx = NULL;
    assert_clg_ok(clg_ctx_create(clg_ctx_device(tctx), NULL, &ctx));
    assert_clg_ok(clg_ctx_set_cache_dir(ctx, dir)); /* no gemm_tune.txt: the untuned defaults */
    static const struct {
        int ta, tb, M, N, K;
        int w8[3], w16[3], packed8, packed16;
    } cases[] = {
        { 0, 0, 128, 256, 784, { 6, 8, 2 }, { 8, 16, 2 }, 0, 0 },   /* MLP forward, 25.7M */
        { 1, 0, 784, 256, 128, { 6, 8, 2 }, { 6, 16, 4 }, 0, 0 },   /* its dW (tn) */
        { 0, 1, 128, 784, 256, { 6, 8, 2 }, { 6, 16, 4 }, 0, 0 },   /* its dX (nt) */
        { 0, 0, 128, 10, 256, { 6, 8, 2 }, { 8, 16, 1 }, 0, 0 },    /* narrow N */
        { 0, 0, 96, 256, 784, { 6, 8, 2 }, { 12, 16, 2 }, 0, 0 },   /* 12 rows pad M no more than 8 */
        { 0, 0, 256, 512, 784, { 6, 8, 2 }, { 8, 16, 2 }, 1, 0 },   /* MAE forward, 102.8M: packed on 8-wide */
        { 0, 0, 1024, 1024, 1024, { 6, 8, 2 }, { 8, 16, 2 }, 1, 0 }, /* A·B: gemm_tiled_p on 16-wide */
        { 1, 0, 1024, 1024, 1024, { 6, 8, 2 }, { 6, 16, 4 }, 1, 1 }, /* Aᵀ·B: packed on both */
    };
    static const int block8[3] = { 6, 8, 2 }, block16[3] = { 16, 16, 1 }; /* gemm_block's tiles */
    for (int w = 8; w <= 16; w += 8) {
        ctx->info.float_width = (unsigned)w;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            gemm_call g = { .ta = cases[i].ta, .tb = cases[i].tb, .M = cases[i].M, .N = cases[i].N,
                            .K = cases[i].K, .batch = 1 };
            int tile[3], packed;
            clg__gemm_tiled_choice(ctx, &g, tile, &packed);
            int want_packed = (w == 8 ? cases[i].packed8 : cases[i].packed16) && !ctx->gemm_no_block;
            const int *want = want_packed ? (w == 8 ? block8 : block16) : w == 8 ? cases[i].w8 : cases[i].w16;
            if (tile[0] != want[0] || tile[1] != want[1] || tile[2] != want[2] || packed != want_packed)
                fail_msg("width %d, case %zu: tile %d,%d,%d packed %d, want %d,%d,%d packed %d", w, i, tile[0],
                         tile[1], tile[2], packed, want[0], want[1], want[2], want_packed);
        }
        /* Aᵀ·B through a transposed copy of A (scratch of M x K floats): from 1024^3 multiply-adds
         * on 16-wide devices, and from 2^26 there where N >= 768 and K >= 128; never on 8-wide ones
         * below gemm_block's size */
        static const struct { int M, N, K, copy16; } tr[] = {
            { 512, 784, 256, 1 },  /* the MAE decoder's dW */
            { 256, 1024, 256, 1 }, /* 2^26 exactly */
            { 784, 256, 128, 0 },  /* the MLP's dW: N < 768 */
            { 784, 512, 512, 0 },  /* N < 768 */
            { 2048, 1024, 64, 0 }, /* K < 128 */
            { 256, 768, 256, 0 },  /* below 2^26 */
            { 1024, 1024, 1024, 1 },
        };
        for (size_t i = 0; i < sizeof tr / sizeof tr[0]; i++) {
            gemm_call g = { .ta = 1, .M = tr[i].M, .N = tr[i].N, .K = tr[i].K, .batch = 1 };
            size_t want = tr[i].copy16 && w == 16 && !ctx->gemm_no_block ? (size_t)tr[i].M * (size_t)tr[i].K * 4 : 0;
            size_t got = clg__gemm_scratch(ctx, &g);
            if (got != want)
                fail_msg("width %d: Aᵀ·B %dx%dx%d takes %zu bytes of scratch, want %zu", w, tr[i].M, tr[i].N,
                         tr[i].K, got, want);
        }
        /* 16 wide: 8,16,2 and 12,16,2 serve A·B alone (gemm_tiled_p); 6,16,4 Aᵀ·B, Aᵀ·Bᵀ and A·Bᵀ
         * (gemm_tiled_n_ta, _tatb, gemm_tiled_t); narrow N's 8,16,1 every transposition but the
         * strip; 8 wide: 6,8,2 serves all (no strip); a tile no class takes, nothing */
        static const struct { int w, tile[3], kset; } ks[] = {
            { 16, { 8, 16, 2 }, 32 }, { 16, { 12, 16, 2 }, 32 }, { 16, { 6, 16, 4 }, 2 | 8 | 16 },
            { 16, { 8, 16, 1 }, 1 | 2 | 8 | 16 }, { 16, { 5, 16, 1 }, 0 }, { 8, { 6, 8, 2 }, 1 | 2 | 8 | 16 },
        };
        for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
            if (ks[i].w == w && clg__gemm_tile_kset(ctx, ks[i].tile) != ks[i].kset)
                fail_msg("width %d, tile %d,%d,%d: kernel set %d, want %d", w, ks[i].tile[0], ks[i].tile[1],
                         ks[i].tile[2], clg__gemm_tile_kset(ctx, ks[i].tile), ks[i].kset);
        /* the tiles program: every tile size of A·B, Aᵀ·B and A·Bᵀ with those kernels (no _tatb), and
         * each strip kernel's k-chunk (2048 floats on 16-wide devices, 512 on 8-wide ones, while
         * the strip fits in local memory) */
        static const struct { int w, tile[4], kset; } ts[] = {
            { 16, { 8, 16, 2, 2048 }, 32 }, { 16, { 12, 16, 2, 2048 }, 32 }, { 16, { 6, 16, 4, 2048 }, 2 | 16 },
            { 16, { 8, 16, 1, 2048 }, 1 | 2 | 16 }, { 8, { 6, 8, 2, 512 }, 1 | 2 | 16 },
        };
        int tiles[8][4], ksets[8], nt = clg__gemm_tiles(ctx, tiles, ksets, 8), want_n = 0;
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
            if (ts[i].w != w)
                continue;
            want_n++;
            int kc = ts[i].tile[3];
            while ((uint64_t)kc * (uint64_t)(ts[i].tile[1] * ts[i].tile[2]) * 4 > ctx->info.local_mem)
                kc /= 2;
            int j = 0;
            while (j < nt && memcmp(tiles[j], ts[i].tile, 3 * sizeof(int)))
                j++;
            if (j == nt || tiles[j][3] != kc || ksets[j] != ts[i].kset)
                fail_msg("width %d: the tiles program %s tile %d,%d,%d (chunk %d, kernels %d), want chunk %d, "
                         "kernels %d", w, j == nt ? "lacks" : "has", ts[i].tile[0], ts[i].tile[1], ts[i].tile[2],
                         j == nt ? 0 : tiles[j][3], j == nt ? 0 : ksets[j], kc, ts[i].kset);
        }
        if (nt != want_n)
            fail_msg("width %d: the tiles program holds %d tile sizes, want %d", w, nt, want_n);
    }
    clg_ctx_destroy(ctx);
    assert_int_equal(rmdir(dir), 0);
}

static void test_policy_fixed(void **s)
{
    (void)s;
    const clg_device_info *d = clg_ctx_device(tctx);
    int rusticl = strstr(d->platform_name, "rusticl") != NULL;
    const char *dflt = rusticl ? "simple" : d->type == CLG_DEVICE_CPU ? "tiled" : "clblast";
    op_case c = mm_case(7, 33, 40, 0, 1);
    check_op_forward(tctx, &c, 6000);
    assert_string_equal(clg_gemm_last_path(tctx), dflt);
    static const char *const vars[] = { "CLGRAD_GEMM", "CLGRAD_GEMM_KERNEL", "CLGRAD_GEMM_NT", "CLGRAD_GEMM_TILE",
                                        "CLGRAD_GEMM_BLOCK", "CLGRAD_GEMM_RM", "CLGRAD_GEMM_WG",
                                        "CLGRAD_VEC_KERNELS", "CLGRAD_FUSE", "CLGRAD_FLUSH_DENORMALS" };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        setenv(vars[i], "bogus", 1);
    check_op_forward(tctx, &c, 6001);
    check_op_backward(tctx, &c, 6002);
    assert_string_equal(clg_gemm_last_path(tctx), dflt);
    setenv("CLGRAD_GEMM", rusticl ? "local" : "simple", 1); /* valid, still read by nothing */
    check_op_forward(tctx, &c, 6003);
    assert_string_equal(clg_gemm_last_path(tctx), dflt);
    /* a new ctx reads them: malformed is an error naming the variable */
    clg_ctx *bad = NULL;
    assert_int_equal(clg_ctx_create(d, NULL, &bad), CLG_ERR_INVALID_ARG);
    assert_null(bad);
    assert_non_null(strstr(clg_last_error(), "CLGRAD_GEMM"));
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    /* options on the live ctx select the path; zero restores the default */
    const char *paths[] = { "local", "simple", "tiled" };
    for (int i = 0; i < 3; i++) {
        if (rusticl && i == 2)
            break; /* tiled is slow there; its kernels are covered by test_matmul_tiled */
        use_path(paths[i]);
        check_op_forward(tctx, &c, 6010 + i);
        assert_string_equal(clg_gemm_last_path(tctx), paths[i]);
    }
    use_path(NULL);
    check_op_forward(tctx, &c, 6020);
    assert_string_equal(clg_gemm_last_path(tctx), dflt);
    /* out-of-range options are refused and leave the ctx as it was */
    clg_gemm_options badopt = { .path = CLG_GEMM_PATH_LOCAL, .tile = { 8, 5, 1 } };
    assert_int_equal(clg_ctx_set_gemm_options(tctx, &badopt), CLG_ERR_INVALID_ARG);
    badopt = (clg_gemm_options){ .wg = { 4, 0 } };
    assert_int_equal(clg_ctx_set_gemm_options(tctx, &badopt), CLG_ERR_INVALID_ARG);
    check_op_forward(tctx, &c, 6021);
    assert_string_equal(clg_gemm_last_path(tctx), dflt);
    clg_ctx_options o = { .gemm.tile = { 8, 5, 1 } };
    assert_int_equal(clg_ctx_create(d, &o, &bad), CLG_ERR_INVALID_ARG);
}

static void test_tune_file_strict(void **s)
{
    (void)s;
    clg_device_info d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "tune test device");
    snprintf(d.driver_version, sizeof d.driver_version, "9.9");
    temp_cache tc;
    temp_cache_enter(&tc, "tunefile");
    const char *file = tc.file;
    static const char *const bad[] = {
        "%s\t%s\tnn\t4,8,1x\n",       "%s\t%s\tnn\t 4,8,1\n",      "%s\t%s\tnn\t4,8\n",
        "%s\t%s\tnn\t4,8,1,2\n",      "%s\t%s\tnn\t+4,8,1\n",      "%s\t%s\tnn\t99999999999,8,1\n",
        "%s\t%s\tnn\t4,,1\n",         "%s\t%s\tnn\t4,8,1\textra\n", "%s\t\t%s\tnn\t4,8,1\n",
        "%s\t%s\tnn\t4,8,1\r\n",     "%s\t%s\tnn\tsimple \n",     "%s\t%s\tnn\t\n",
        "%s\t%s\tnn\t3,5,1\n",        "%s\t%s\tnn\t17,8,1\n",
    };
    int path, tm, vw, nv;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(file, "w");
        assert_non_null(f);
        fprintf(f, bad[i], d.name, d.driver_version);
        assert_int_equal(fclose(f), 0);
        path = tm = vw = nv = -1;
        if (clg__gemm_tune_lookup(tc.dir, &d, TUNE_NN, &path, &tm, &vw, &nv))
            fail_msg("malformed tune line %zu accepted: path %d tile %d,%d,%d", i, path, tm, vw, nv);
    }
    /* a line longer than the reader's buffer whose tail looks like a valid line */
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    for (int i = 0; i < 599; i++)
        fputc('x', f);
    fprintf(f, "%s\t%s\tnn\t4,8,1\n", d.name, d.driver_version);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(clg__gemm_tune_lookup(tc.dir, &d, TUNE_NN, &path, &tm, &vw, &nv), 0);
    /* malformed lines, then a valid one: found */
    f = fopen(file, "w");
    assert_non_null(f);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        fprintf(f, bad[i], d.name, d.driver_version);
    fprintf(f, "%s\t%s\tnn\t12,16,2\n%s\t%s\ttn\tlocal", d.name, d.driver_version, d.name, d.driver_version);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(clg__gemm_tune_lookup(tc.dir, &d, TUNE_NN, &path, &tm, &vw, &nv), 1);
    assert_int_equal(tm, 12);
    assert_int_equal(vw, 16);
    assert_int_equal(nv, 2);
    assert_int_equal(clg__gemm_tune_lookup(tc.dir, &d, TUNE_TN, &path, &tm, &vw, &nv), 1);
    /* a FIFO is not opened for reading (the old reader blocked here) */
    assert_int_equal(remove(file), 0);
    assert_int_equal(mkfifo(file, 0600), 0);
    alarm(60);
    assert_int_equal(clg__gemm_tune_lookup(tc.dir, &d, TUNE_NN, &path, &tm, &vw, &nv), 0);
    alarm(0);
    temp_cache_leave(&tc);
}

static void test_empty(void **s)
{
    (void)s;
    clg_shape sa = SHAPE2(CLG_F32, 3, 0), sb = SHAPE2(CLG_F32, 0, 4), so = SHAPE2(CLG_F32, 3, 4);
    clg_tensor a, b, o;
    assert_clg_ok(clg_tensor_new(tctx, &sa, &a));
    assert_clg_ok(clg_tensor_new(tctx, &sb, &b));
    assert_clg_ok(clg_tensor_new(tctx, &so, &o));
    float ones[12], got[12];
    for (int i = 0; i < 12; i++)
        ones[i] = 1.0f;
    assert_clg_ok(clg_tensor_write(&o, ones));
    const clg_tensor *in[2] = { &a, &b };
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_MATMUL, in, &o, NULL));
    assert_clg_ok(clg_tensor_read(&o, got));
    for (int i = 0; i < 12; i++)
        assert_true(got[i] == 0.0f);
    clg_tensor_free(&a);
    clg_tensor_free(&b);
    clg_tensor_free(&o);

    clg_shape za = SHAPE2(CLG_F32, 0, 5), zb = SHAPE2(CLG_F32, 5, 4), zo = SHAPE2(CLG_F32, 0, 4);
    assert_clg_ok(clg_tensor_new(tctx, &za, &a));
    assert_clg_ok(clg_tensor_new(tctx, &zb, &b));
    assert_clg_ok(clg_tensor_new(tctx, &zo, &o));
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_MATMUL, in, &o, NULL));
    assert_clg_ok(clg_ctx_finish(tctx));
    clg_tensor_free(&a);
    clg_tensor_free(&b);
    clg_tensor_free(&o);
}

static void expect_shape_error(clg_op op, clg_shape sa, clg_shape sb, int ta, int tb, const char *w1,
                               const char *w2)
{
    clg_attrs at = clg_attrs_defaults();
    at.trans_a = ta;
    at.trans_b = tb;
    const clg_shape *in[2] = { &sa, &sb };
    clg_shape out;
    clg_status st = clg_op_infer(op, in, &at, &out);
    if (st != CLG_ERR_SHAPE && st != CLG_ERR_DTYPE)
        fail_msg("%s: expected an error, got %s", clg_op_name(op), clg_status_name(st));
    const char *msg = clg_last_error();
    if (!strstr(msg, clg_op_name(op)) || (w1 && !strstr(msg, w1)) || (w2 && !strstr(msg, w2)))
        fail_msg("message lacks '%s'/'%s': %s", w1 ? w1 : "", w2 ? w2 : "", msg);
}

static void test_bad_shapes(void **s)
{
    (void)s;
    expect_shape_error(CLG_OP_MATMUL, SHAPE2(CLG_F32, 4, 5), SHAPE2(CLG_F32, 6, 7), 0, 0, "inner dimensions",
                       "f32[6,7]");
    expect_shape_error(CLG_OP_MATMUL, SHAPE2(CLG_F32, 4, 5), SHAPE2(CLG_F32, 4, 7), 1, 1, "op(A) is [5,4]",
                       "op(B) is [7,4]");
    expect_shape_error(CLG_OP_MATMUL, SHAPE3(CLG_F32, 2, 4, 5), SHAPE2(CLG_F32, 5, 7), 0, 0, "2-D",
                       "f32[2,4,5]");
    expect_shape_error(CLG_OP_BMM, SHAPE2(CLG_F32, 4, 5), SHAPE2(CLG_F32, 5, 7), 0, 0, "3-D", NULL);
    expect_shape_error(CLG_OP_BMM, SHAPE3(CLG_F32, 2, 4, 5), SHAPE3(CLG_F32, 3, 5, 7), 0, 0, "batch sizes differ",
                       "f32[3,5,7]");
    expect_shape_error(CLG_OP_BMM, SHAPE3(CLG_F32, 2, 4, 5), SHAPE3(CLG_F32, 2, 4, 7), 0, 0, "inner dimensions",
                       NULL);
    /* status codes through the forward entry point */
    clg_shape sa = SHAPE2(CLG_F32, 4, 5), sb = SHAPE2(CLG_F32, 6, 7), si = SHAPE2(CLG_I32, 5, 7),
              so = SHAPE2(CLG_F32, 4, 7);
    clg_tensor a, b, bi, o;
    assert_clg_ok(clg_tensor_new(tctx, &sa, &a));
    assert_clg_ok(clg_tensor_new(tctx, &sb, &b));
    assert_clg_ok(clg_tensor_new(tctx, &si, &bi));
    assert_clg_ok(clg_tensor_new(tctx, &so, &o));
    assert_clg_status(clg_op_forward(tctx, CLG_OP_MATMUL, (const clg_tensor *[]){ &a, &b }, &o, NULL),
                      CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "matmul"));
    assert_non_null(strstr(clg_last_error(), "f32[4,5]"));
    assert_clg_status(clg_op_forward(tctx, CLG_OP_MATMUL, (const clg_tensor *[]){ &a, &bi }, &o, NULL),
                      CLG_ERR_DTYPE);
    assert_non_null(strstr(clg_last_error(), "matmul: input 1 must be f32"));
    clg_tensor_free(&a);
    clg_tensor_free(&b);
    clg_tensor_free(&bi);
    clg_tensor_free(&o);
}

/* ---- linear: act(op(A)·op(B) + b), the epilogue in every kernel's store ---- */

static op_case lin_case(int M, int K, int N, int ta, int tb, int act)
{
    op_case c = mm_case(M, K, N, ta, tb);
    c.op = CLG_OP_LINEAR;
    c.nin = 3;
    c.in[2].s = SHAPE1(CLG_F32, N);
    c.attrs.act = act;
    return c;
}

/* Every activation and transpose on five shapes of the table (K = 1031 and 4500: several of
 * gemm_tiled_t's and gemm_tiled_p's k-chunks, the epilogue on the last), backward on two. */
static void linear_all(uint64_t seed)
{
    static const size_t pick[] = { 1, 2, 3, 8, 9 };
    static const int acts[] = { CLG_ACT_NONE, CLG_ACT_RELU, CLG_ACT_TANH, CLG_ACT_SIGMOID };
    for (int a = 0; a < 4; a++)
        for (int t = 0; t < 4; t++)
            for (size_t i = 0; i < sizeof pick / sizeof pick[0]; i++) {
                const int *sh = shapes[pick[i]];
                op_case c = lin_case(sh[0], sh[1], sh[2], t & 1, t >> 1, acts[a]);
                check_op_forward(tctx, &c, seed + 100 * a + 10 * i + t);
                if ((i == 0 || i == 3) && (t == 0 || t == 3) && a != 0)
                    check_op_backward(tctx, &c, seed + 1000 + 100 * a + 10 * i + t);
            }
}

/* On each of our kernels: gemm_tiled_n / gemm_tiled_t and gemm_tiled_p (cheap tiles; the
 * epilogue after several k-chunks at K = 1031 and 4500), gemm_block (PoCL, with several k-blocks),
 * gemm_tiled_k, local and simple; CLBlast (no epilogue: bias_act after it)
 * where it runs in the default suite. */
static void test_linear(void **s)
{
    (void)s;
    gopt.kernel = CLG_GEMM_KERNEL_TILED;
    cheap_tiles(0);
    use_path("tiled");
    linear_all(8000);
    gopt.kernel = CLG_GEMM_KERNEL_STRIP;
    apply();
    linear_all(8100);
    memset(&gopt, 0, sizeof gopt);
    if (!clg_test_is_rusticl()) {
        gopt.kernel = CLG_GEMM_KERNEL_BLOCK;
        SET3(tile, 4, 8, 2);
        SET3(block, 16, 32, 16);
        linear_all(8200);
        memset(&gopt, 0, sizeof gopt);
    }
    gopt.nt = CLG_GEMM_NT_DIRECT;
    gopt.kernel = CLG_GEMM_KERNEL_TILED_K;
    cheap_tiles(0);
    op_case c = lin_case(3, 1031, 5, 0, 1, CLG_ACT_RELU);
    check_op_forward(tctx, &c, 8400);
    check_op_backward(tctx, &c, 8401);
    memset(&gopt, 0, sizeof gopt);
    use_path("local");
    linear_all(8500);
    use_path("simple");
    linear_all(8700);
}

/* The fusion pass's promise: linear gives the bits of matmul then bias_act, forward and backward
 * (the backward's act' from the output, relu's y > 0 for x + b > 0), on the default path and on
 * the local, simple and (not on rusticl, where it is slow) tiled kernels, whose stores add the
 * bias (also the Oclgrind check's case for them); gelu and a bias of the wrong length are refused. */
static void test_linear_matches_unfused(void **s)
{
    (void)s;
    enum { M = 37, K = 70, N = 45 };
    clg_shape sa = SHAPE2(CLG_F32, M, K), sw = SHAPE2(CLG_F32, K, N), sb = SHAPE1(CLG_F32, N),
              sy = SHAPE2(CLG_F32, M, N);
    static float ha[M * K], hw[K * N], hb[N], hg[M * N], r1[M * K + K * N + N + M * N], r2[M * K + K * N + N + M * N];
    trng g = { 91 };
    for (int i = 0; i < M * K; i++)
        ha[i] = (float)(2 * trng_uniform(&g) - 1);
    for (int i = 0; i < K * N; i++)
        hw[i] = (float)(2 * trng_uniform(&g) - 1);
    for (int i = 0; i < N; i++)
        hb[i] = (float)(2 * trng_uniform(&g) - 1);
    for (int i = 0; i < M * N; i++)
        hg[i] = (float)(2 * trng_uniform(&g) - 1);
    clg_tensor a, w, b, y, z, gy, gz, ga, gw, gb;
    assert_clg_ok(clg_tensor_new(tctx, &sa, &a));
    assert_clg_ok(clg_tensor_new(tctx, &sw, &w));
    assert_clg_ok(clg_tensor_new(tctx, &sb, &b));
    assert_clg_ok(clg_tensor_new(tctx, &sy, &y));
    assert_clg_ok(clg_tensor_new(tctx, &sy, &z));
    assert_clg_ok(clg_tensor_new(tctx, &sy, &gy));
    assert_clg_ok(clg_tensor_new(tctx, &sy, &gz));
    assert_clg_ok(clg_tensor_new(tctx, &sa, &ga));
    assert_clg_ok(clg_tensor_new(tctx, &sw, &gw));
    assert_clg_ok(clg_tensor_new(tctx, &sb, &gb));
    assert_clg_ok(clg_tensor_write(&a, ha));
    assert_clg_ok(clg_tensor_write(&w, hw));
    assert_clg_ok(clg_tensor_write(&b, hb));
    assert_clg_ok(clg_tensor_write(&gy, hg));
    static const int acts[] = { CLG_ACT_NONE, CLG_ACT_RELU, CLG_ACT_TANH, CLG_ACT_SIGMOID };
    static const char *const paths[] = { NULL, "local", "simple", "tiled" };
    for (int p = 0; p < 4; p++) {
        if (p == 3 && clg_test_is_rusticl())
            break;
        gopt.path = p ? clg_gemm_path_parse(paths[p]) : CLG_GEMM_PATH_DEFAULT;
        apply();
        for (int k = 0; k < 4; k++)
            for (int pass = 0; pass < 2; pass++) {
                clg_attrs at = clg_attrs_defaults();
                at.act = acts[k];
                float *r = pass ? r2 : r1;
                if (pass == 0) { /* linear */
                    assert_clg_ok(clg_op_forward(tctx, CLG_OP_LINEAR, (const clg_tensor *[]){ &a, &w, &b }, &y, &at));
                    assert_clg_ok(clg_op_backward(tctx, CLG_OP_LINEAR, (const clg_tensor *[]){ &a, &w, &b }, &y, &gy,
                                                  (clg_tensor *[]){ &ga, &gw, &gb }, &at, 0));
                } else { /* matmul into z, bias_act into y; backward through both */
                    assert_clg_ok(clg_op_forward(tctx, CLG_OP_MATMUL, (const clg_tensor *[]){ &a, &w }, &z, &at));
                    assert_clg_ok(clg_op_forward(tctx, CLG_OP_BIAS_ACT, (const clg_tensor *[]){ &z, &b }, &y, &at));
                    assert_clg_ok(clg_op_backward(tctx, CLG_OP_BIAS_ACT, (const clg_tensor *[]){ &z, &b }, &y, &gy,
                                                  (clg_tensor *[]){ &gz, &gb }, &at, 0));
                    assert_clg_ok(clg_op_backward(tctx, CLG_OP_MATMUL, (const clg_tensor *[]){ &a, &w }, &z, &gz,
                                                  (clg_tensor *[]){ &ga, &gw }, &at, 0));
                }
                assert_clg_ok(clg_tensor_read(&ga, r));
                assert_clg_ok(clg_tensor_read(&gw, r + M * K));
                assert_clg_ok(clg_tensor_read(&gb, r + M * K + K * N));
                assert_clg_ok(clg_tensor_read(&y, r + M * K + K * N + N));
                if (pass && memcmp(r1, r2, sizeof r1))
                    fail_msg("path %s, act %d: linear differs from matmul + bias_act (forward or gradients)",
                             p ? paths[p] : "default", acts[k]);
            }
    }
    memset(&gopt, 0, sizeof gopt);
    apply();
    clg_attrs at = clg_attrs_defaults();
    at.act = CLG_ACT_GELU;
    assert_clg_status(clg_op_forward(tctx, CLG_OP_LINEAR, (const clg_tensor *[]){ &a, &w, &b }, &y, &at),
                      CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "gelu"));
    at.act = CLG_ACT_NONE;
    assert_clg_status(clg_op_forward(tctx, CLG_OP_LINEAR, (const clg_tensor *[]){ &a, &w, &gb }, &y, &at), CLG_OK);
    assert_clg_status(clg_op_forward(tctx, CLG_OP_LINEAR, (const clg_tensor *[]){ &a, &w, &a }, &y, &at),
                      CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "b must be 1-D"));
    clg_tensor *all[] = { &a, &w, &b, &y, &z, &gy, &gz, &ga, &gw, &gb };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        clg_tensor_free(all[i]);
}

/* A sweep under the quick test's name (CLGRAD_TEST_FILTER patterns select either). */
#define SWEEP(name) { "test_" #name, sweep_##name, NULL, teardown_path, NULL }

int main(int argc, char **argv)
{
    /* --slow: every tile x every shape, and CLBlast on CPU devices (meson suite "slow"; the default
     * suite runs the rest) */
    if (argc > 1 && !strcmp(argv[1], "--slow")) {
        g_slow = 1;
        const struct CMUnitTest sweeps[] = {
            SWEEP(matmul_tiled), SWEEP(matmul_unpacked), SWEEP(matmul_strip), SWEEP(matmul_block), SWEEP(bmm_block),
            SWEEP(matmul_transpose), SWEEP(matmul_nt_kernels), SWEEP(bmm_tiled), SWEEP(offsets),
            cmocka_unit_test_teardown(test_clblast, teardown_path),
        };
        return clg_test_run_per_device("gemm-slow", sweeps, sizeof sweeps / sizeof sweeps[0]);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_matmul_tiled, teardown_path),
        cmocka_unit_test_teardown(test_matmul_strip, teardown_path),
        cmocka_unit_test_teardown(test_matmul_defaults, teardown_path),
        cmocka_unit_test_teardown(test_matmul_block, teardown_path),
        cmocka_unit_test_teardown(test_bmm_block, teardown_path),
        cmocka_unit_test_teardown(test_matmul_transpose, teardown_path),
        cmocka_unit_test_teardown(test_matmul_nt_kernels, teardown_path),
        cmocka_unit_test_teardown(test_matmul_local, teardown_path),
        cmocka_unit_test_teardown(test_matmul_simple, teardown_path),
        cmocka_unit_test_teardown(test_bmm_tiled, teardown_path),
        cmocka_unit_test_teardown(test_bmm_local, teardown_path),
        cmocka_unit_test_teardown(test_bmm_simple, teardown_path),
        cmocka_unit_test_teardown(test_clblast, teardown_path),
        cmocka_unit_test_teardown(test_offsets, teardown_path),
        cmocka_unit_test_teardown(test_tuned_path, teardown_path),
        cmocka_unit_test(test_tile_policy),
        cmocka_unit_test_teardown(test_policy_fixed, teardown_path),
        cmocka_unit_test(test_tune_file_strict),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test_teardown(test_linear, teardown_path),
        cmocka_unit_test_teardown(test_linear_matches_unfused, teardown_path),
    };
    return clg_test_run_per_device("gemm", tests, sizeof tests / sizeof tests[0]);
}
