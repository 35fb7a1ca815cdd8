/* gemm.c — the GEMM engine behind the matmul and bmm ops: path choice, the per-ctx cache of
 * specialised kernel programs, our kernels' paths and CLBlast (the only file that includes
 * clblast_c.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "gemm.h"

/* Paths, chosen per call: ctx->gemm.path (clg_gemm_options, default CLGRAD_GEMM) forces one;
 * otherwise CPU devices use the register-tiled kernels (tiled), except rusticl
 * (simple: 4x4 blocks per work-item, neighbouring work-items on neighbouring columns; 8x8 in
 * groups of 8 lanes on 256-bit llvmpipe where N >= 64),
 * and other devices (GPUs) CLBlast, whose database holds tuned parameters for the GPUs it
 * knows (our local-memory kernel, local, is one output per work-item; where CLBlast fails on
 * a device, the default falls back to local for the rest of the ctx).  Within tiled,
 * products from 1024^3 up (2^26 multiply-adds on 8-wide devices) use the packed,
 * cache-blocked gemm_block (see use_block; tiles per native vector width: tile_params; A·Bᵀ
 * first transposes B into a ctx scratch buffer with gemm_transpose, and on 16-wide devices Aᵀ·B
 * its A, see use_transpose),
 * smaller ones gemm_tiled_n, for A·B on 16-wide devices gemm_tiled_p (B strips copied into
 * local memory, see use_strip), and for A·Bᵀ gemm_tiled_t (B strips transposed into local
 * memory; gemm_tiled_k for tiles that are not whole 16-wide vectors), all of that family from one
 * program for every tile size (the tiles program, tiles_find).  CLBlast is never
 * the untuned default on CPU devices (on PoCL it compiles for ~12 s and runs at ~1/10 of
 * tiled); `clgrad tune` times it, and the tiled, simple and local paths, per shape class and
 * stores the fastest, which then applies to that class on that device and driver (tuned()).
 * Every knob (path, kernel, tile, block, rm, nt, wg) comes from ctx->gemm, fixed at ctx create
 * from clg_ctx_options and the CLGRAD_GEMM* variables (or clg_ctx_set_gemm_options), and the
 * device's defaults from ctx->gemm_default_path and ctx->gemm_no_block: nothing here reads the
 * environment or names a runtime. */

/* ---- per-ctx cache of specialised programs -------------------------------- */

#define GEMM_MAX_TILES 8    /* tile sizes in the tiles program */
#define POLICY_QUESTIONS 32 /* put to the policy by tiles_find (policy_answer) */

typedef struct gemm_variant {
    uint64_t hash;                          /* of key (compared first) */
    char key[352];                          /* kernel name, program family and defines */
    char prog_key[320];                     /* program family and defines */
    cl_program prog;                        /* one reference per variant (shared programs) */
    cl_kernel k;
} gemm_variant;

typedef struct gemm_state {
    gemm_variant *v;                        /* n of cap; one per kernel, program and defines
                                             * the ctx launched (options changed on a live ctx,
                                             * as `clgrad tune` and the tests do, add more) */
    int n, cap;
    int clblast_used;
    int clblast_failed;                     /* CLBlast failed as the default path: use local */
    int tune_loaded;                        /* tune[] read from the `clgrad tune` file */
    int tune[CLG_GEMM_CLASSES][5];          /* found, path, TM, VW, NV per shape class */
    clg_gemm_path last_path;                /* path of the last call, DEFAULT before any */
    /* the policy's answers (tiles_find; 32 questions, ~0.5 us), valid while the ctx's options are
     * tiles_opts and tiles_known: every tile size (TM, VW, NV, KC) it takes for the gemm_tiled
     * family, the kernels it launches there (tiles_kset) and those of them the tiles program holds
     * (tiles_prog, 0: none), and that program's descriptor (tiles_defs: its defines in
     * variant_kernel's key) */
    int tiles_known, ntiles;
    int tiles[POLICY_QUESTIONS][4], tiles_kset[POLICY_QUESTIONS], tiles_prog[POLICY_QUESTIONS];
    char tiles_defs[200];
    clg_gemm_options tiles_opts;
} gemm_state;

static void gemm_state_free(void *p)
{
    gemm_state *s = p;
    for (int i = 0; i < s->n; i++) {
        clReleaseKernel(s->v[i].k);
        clReleaseProgram(s->v[i].prog);
    }
    free(s->v);
    /* CLBlast keeps programs (and so the context) alive in a process-wide cache. */
    if (s->clblast_used)
        CLBlastClearCache();
    free(s);
}

static clg_status get_state(clg_ctx *ctx, gemm_state **out)
{
    if (!ctx->gemm_state) {
        gemm_state *s = calloc(1, sizeof *s);
        if (!s)
            return clg__fail(CLG_ERR_OUT_OF_MEMORY, "gemm: out of memory");
        ctx->gemm_state = s;
        ctx->gemm_state_free = gemm_state_free;
    }
    *out = ctx->gemm_state;
    return CLG_OK;
}

static clg_status tiles_source(clg_ctx *ctx, char **out);

/* The source and extra build options of program `family` with defines defs: common.cl and
 * cl/gemm.cl with -DGEMM_ONE -DGEMM_ONE_<family> and defs, or for the tiles program (family
 * "gemm_tiles", defs its descriptor) tiles_source's text with -DGEMM_ONE -DGEMM_ONE_gemm_tiled. */
static clg_status variant_program(clg_ctx *ctx, const char *family, const char *defs, char **src, char *opts,
                                  size_t size)
{
    size_t len;
    if (!strcmp(family, "gemm_tiles")) {
        snprintf(opts, size, "-DGEMM_ONE -DGEMM_ONE_gemm_tiled");
        return tiles_source(ctx, src);
    }
    snprintf(opts, size, "-DGEMM_ONE -DGEMM_ONE_%s%s%s", family, *defs ? " " : "", defs);
    return clg__program_source(ctx, CLG_PROG_GEMM, src, &len);
}

/* Kernel `kname` of cl/gemm.cl's program `family` built with the extra options `defs` (cached
 * per ctx; the tiles program: "gemm_tiles" and its descriptor, variant_program):
 * -DGEMM_ONE_<family> makes the file compile that family's kernels only (a cold build compiles
 * one kernel, or gemm_tiled's few, not all of them), and kernels of one family and defines share
 * one program, built once. */
static clg_status variant_kernel(clg_ctx *ctx, const char *family, const char *kname, const char *defs,
                                 cl_kernel *out)
{
    gemm_state *s = NULL;
    clg_status st = get_state(ctx, &s);
    if (st)
        return st;
    char key[352], prog_key[320];
    snprintf(prog_key, sizeof prog_key, "%s %s", family, defs);
    snprintf(key, sizeof key, "%s %s", kname, prog_key);
    uint64_t h = clg__fnv1a(CLG_FNV_OFFSET, key, strlen(key));
    for (int i = 0; i < s->n; i++)
        if (s->v[i].hash == h && !strcmp(s->v[i].key, key)) {
            *out = s->v[i].k;
            return CLG_OK;
        }
    cl_program shared = NULL;
    for (int i = 0; i < s->n && !shared; i++)
        if (!strcmp(s->v[i].prog_key, prog_key))
            shared = s->v[i].prog;
    gemm_variant *grown = clg__grow(s->v, s->n, &s->cap, sizeof *grown, 32);
    if (!grown)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "gemm: out of host memory");
    s->v = grown;
    cl_program p = NULL;
    cl_kernel k = NULL;
    if (shared) {
        cl_int err;
        k = clCreateKernel(shared, kname, &err);
        if (err != CL_SUCCESS)
            return clg__cl_fail(err, "clCreateKernel(%s in cl/gemm.cl, %s)", kname, prog_key);
        clRetainProgram(shared);
        p = shared;
    } else {
        char *src, opts[320];
        if ((st = variant_program(ctx, family, defs, &src, opts, sizeof opts)))
            return st;
        st = clg__build_kernel(ctx, "cl/gemm.cl", src, opts, kname, &p, &k);
        free(src);
        if (st)
            return st;
    }
    gemm_variant *v = &s->v[s->n++];
    v->hash = h;
    memcpy(v->key, key, sizeof key);
    memcpy(v->prog_key, prog_key, sizeof prog_key);
    v->prog = p;
    v->k = k;
    *out = k;
    return CLG_OK;
}

/* ---- paths ------------------------------------------------------------------ */

static clg_karg *common_args(const gemm_call *g, clg_karg *a)
{
    int i = 0;
    a[i++] = KMEM(g->a); a[i++] = KINT(g->ao); a[i++] = KINT(g->lda); a[i++] = KINT(g->sa);
    a[i++] = KMEM(g->b); a[i++] = KINT(g->bo); a[i++] = KINT(g->ldb); a[i++] = KINT(g->sb);
    a[i++] = KMEM(g->c); a[i++] = KINT(g->co); a[i++] = KINT(g->ldc); a[i++] = KINT(g->sc);
    a[i++] = KINT(g->M); a[i++] = KINT(g->N); a[i++] = KINT(g->K);
    a[i++] = KFLT(g->alpha); a[i++] = KFLT(g->beta);
    /* gemm.cl's GEMM_EP_BIAS / GEMM_EP_RELU; without a bias, any buffer (never read) */
    a[i++] = KMEM(g->bias ? g->bias : g->c); a[i++] = KINT(g->bias_o);
    a[i++] = KINT(!g->bias ? 0 : g->act == CLG_ACT_RELU ? 2 : 1);
    return a + i;
}
#define N_COMMON_ARGS 20

static clg_status run_kernel(clg_ctx *ctx, cl_kernel k, const char *kname, const clg_karg *args, int nargs,
                             const size_t g[3], const size_t *l)
{
    clg_status st = clg__set_args(ctx, k, kname, args, nargs);
    if (st)
        return st;
    return clg__enqueue(ctx, k, kname, 3, g, l);
}

/* Whether every offset within one matrix of g (op(A): M x K, op(B): K x N, as stored with their
 * row lengths) fits an int. */
static int fits_int(const gemm_call *g)
{
    double a = g->ta ? (double)g->K * g->lda : (double)g->M * g->lda;
    double b = g->tb ? (double)g->N * g->ldb : (double)g->K * g->ldb;
    return a < 2147483647.0 && b < 2147483647.0;
}

static clg_status path_simple(clg_ctx *ctx, const gemm_call *g)
{
    clg_karg args[N_COMMON_ARGS + 2];
    clg_karg *e = common_args(g, args);
    e[0] = KINT(g->ta);
    e[1] = KINT(g->tb);
    cl_kernel k;
    /* GEMM_SR x GEMM_SC blocks per work-item (cl/gemm.cl): 4 x 4, or on llvmpipe (simple_lanes)
     * 8 x 8 with int offsets in work-groups of one row of its lanes (the padding columns load
     * clamped and store nothing), where N fills a row of lanes (N = 10: 4x4 ran 1.7x faster) and
     * every offset within a matrix fits an int */
    int lanes = ctx->simple_lanes && g->N >= 8 * ctx->simple_lanes && fits_int(g) ? ctx->simple_lanes : 0;
    int blk = lanes ? 8 : 4;
    clg_status st = variant_kernel(ctx, "gemm_simple", "gemm_simple",
                                   lanes ? "-DGEMM_SR=8 -DGEMM_SC=8 -DGEMM_IDX=int" : "", &k);
    if (st)
        return st;
    size_t gs[3] = { (size_t)(g->N + blk - 1) / (size_t)blk, (size_t)(g->M + blk - 1) / (size_t)blk,
                     (size_t)g->batch };
    size_t ls[3] = { (size_t)lanes, 1, 1 };
    if (lanes)
        gs[0] = (gs[0] + (size_t)lanes - 1) / (size_t)lanes * (size_t)lanes;
    return run_kernel(ctx, k, "gemm_simple", args, N_COMMON_ARGS + 2, gs, lanes ? ls : NULL);
}

static clg_status path_local(clg_ctx *ctx, const gemm_call *g)
{
    int lts = ctx->info.max_work_group >= 256 ? 16 : 8;
    char defs[64];
    snprintf(defs, sizeof defs, "-DGEMM_LTS=%d", lts);
    cl_kernel k;
    clg_status st = variant_kernel(ctx, "gemm_local", "gemm_local", defs, &k);
    if (st)
        return st;
    clg_karg args[N_COMMON_ARGS + 2];
    clg_karg *e = common_args(g, args);
    e[0] = KINT(g->ta);
    e[1] = KINT(g->tb);
    size_t gs[3] = { (size_t)g->N, (size_t)g->M, (size_t)g->batch };
    size_t ls[3] = { (size_t)lts, (size_t)lts, 1 };
    return run_kernel(ctx, k, "gemm_local", args, N_COMMON_ARGS + 2, gs, ls);
}

/* The `clgrad tune` entry for shape class cls on this ctx's device (read once per ctx), or NULL. */
static const int *tuned(clg_ctx *ctx, int cls)
{
    gemm_state *s = NULL;
    if (get_state(ctx, &s) != CLG_OK) {
        clg__clear_error();
        return NULL;
    }
    if (!s->tune_loaded) {
        for (int c = 0; c < CLG_GEMM_CLASSES; c++)
            s->tune[c][0] = clg__gemm_tune_lookup(ctx->cache_dir, &ctx->info, c, &s->tune[c][1], &s->tune[c][2],
                                                  &s->tune[c][3], &s->tune[c][4]);
        s->tune_loaded = 1;
    }
    return s->tune[cls][0] ? s->tune[cls] : NULL;
}

/* Register tiles of the unpacked kernels, for devices with 16-wide native float vectors
 * (AVX-512): 12,16,2 (24 float16 accumulators) for nn (8,16,2 where fewer rows of C are
 * padded), 6,16,4 (24 too, 6 broadcasts per 4 vectors of B) for tn and nt, 8,16,1 for narrow
 * N < 32 (more work-groups for the cores).  On an AVX-512 Xeon (PoCL, bench_gemm, medians of 3
 * rounds) 6,16,4 against the earlier 12/8,16,2 for tn and 16,16,1 for nt: MLP dW
 * 784x128ᵀ·128x256 0.29 -> 0.24 ms, MAE dW 784x256ᵀ·256x512 1.02 -> 0.83, MAE dX
 * 256x784·(512x784)ᵀ 0.88 -> 0.71, 512^3 nt 1.18 -> 0.85, tn 1.33 -> 1.27 (nn stays: 6,16,4
 * was 5-13% slower on the MLP's products); on an earlier AVX-512 host 12,16,2 had been up to 8%
 * slower than 16,16,1 for nt.  Narrower devices (AVX2: 16 ymm registers, which
 * those tiles overflow) take 6,8,2 (12 float8 accumulators, the classic 6x16 AVX2 micro-tile)
 * for every class; on this AVX2 VM (PoCL) it made 512^3 59 -> 98 GFLOP/s, nt 128x256·(784x256)ᵀ
 * 56 -> 109 and 128x2048·(2048x2048)ᵀ 27 -> 122, and the MLP / MAE steps ~1.3x faster.  What
 * `clgrad tune` stored for this device and shape class (src/tune.c) comes first; the tile
 * option (CLGRAD_GEMM_TILE="TM,VW,NV") overrides all (for tuning). */
static void option_tile(const clg_ctx *ctx, int *tm, int *vw, int *nv)
{
    if (ctx->gemm.tile[0]) {
        *tm = ctx->gemm.tile[0];
        *vw = ctx->gemm.tile[1];
        *nv = ctx->gemm.tile[2];
    }
}

/* Native float vectors narrower than 16 (AVX2 and older CPUs): the 8-wide tiles. */
static int narrow_vectors(const clg_ctx *ctx)
{
    return ctx->info.float_width > 0 && ctx->info.float_width < 16;
}

static void tile_params(clg_ctx *ctx, const gemm_call *g, int *tm, int *vw, int *nv)
{
    int cls = clg__gemm_class(g->ta, g->tb, g->N);
    /* nn: 12 rows, or 8 where that pads M less (M = 128: 11 tiles of 12 compute 132 rows;
     * PoCL fwd 128x256·256x256 0.101 -> 0.098 ms, dW 256x128ᵀ·128x256 0.103 -> 0.097 ms) */
    int tm12 = (g->M + 11) / 12 * 12, tm8 = (g->M + 7) / 8 * 8;
    if (narrow_vectors(ctx)) {
        *tm = 6;
        *vw = 8;
        *nv = 2;
    } else if (cls == CLG_GEMM_CLASS_NN) {
        *tm = tm8 < tm12 ? 8 : 12;
        *vw = 16;
        *nv = 2;
    } else {
        *tm = cls == CLG_GEMM_CLASS_NARROW ? 8 : 6;
        *vw = 16;
        *nv = cls == CLG_GEMM_CLASS_NARROW ? 1 : 4;
    }
    const int *t = tuned(ctx, cls);
    if (t && t[1] == CLG_GEMM_PATH_TILED) {
        *tm = t[2];
        *vw = t[3];
        *nv = t[4];
    }
    option_tile(ctx, tm, vw, nv);
}

/* gemm_block's local memory: packed A and B panels and the C block, in bytes (cl/gemm.cl). */
static uint64_t block_local_bytes(int mb, int nb, int kb)
{
    return (uint64_t)(mb * (kb + 16) + nb * kb + mb * nb) * 4;
}

/* Blocked kernel (gemm_block): register tile 16,16,1 (6,8,2 on narrower devices, as in
 * tile_params: 2048^3 on the AVX2 VM 65 -> ~100 GFLOP/s) and C blocks MB,NB = 128,256 with
 * k-blocks KB = 256 (2048^3 on PoCL: 88 ms, 64,128: 98 ms) (the tile and block options,
 * CLGRAD_GEMM_TILE and CLGRAD_GEMM_BLOCK="MB,NB,KB", override them);
 * blocks are rounded to whole register tiles and KB halved until the packed panels fit
 * in local memory; where even KB = 16 does not fit (a GPU's 32-64 KiB: the C block alone is
 * 128 KiB), the larger of MB, NB is halved too (whole tiles, at least one).  Returns 0 when no
 * block fits: then the caller takes an unpacked kernel. */
static int block_params(clg_ctx *ctx, int *tm, int *vw, int *nv, int *mb, int *nb, int *kb)
{
    int narrow = narrow_vectors(ctx);
    *tm = narrow ? 6 : 16;
    *vw = narrow ? 8 : 16;
    *nv = narrow ? 2 : 1;
    option_tile(ctx, tm, vw, nv);
    *mb = 128;
    *nb = 256;
    *kb = 256;
    if (ctx->gemm.block[0]) {
        *mb = ctx->gemm.block[0];
        *nb = ctx->gemm.block[1];
        *kb = ctx->gemm.block[2];
    }
    int tn = *vw * *nv;
    *mb = (*mb + *tm - 1) / *tm * *tm;
    *nb = (*nb + tn - 1) / tn * tn;
    int kb0 = *kb;
    while (*kb > 16 && block_local_bytes(*mb, *nb, *kb) > ctx->info.local_mem)
        *kb /= 2;
    while (block_local_bytes(*mb, *nb, *kb) > ctx->info.local_mem && (*mb > *tm || *nb > tn)) {
        if (*nb >= *mb && *nb > tn)
            *nb = (*nb / 2 + tn - 1) / tn * tn;
        else
            *mb = (*mb / 2 + *tm - 1) / *tm * *tm;
        for (*kb = kb0; *kb > 16 && block_local_bytes(*mb, *nb, *kb) > ctx->info.local_mem;)
            *kb /= 2;
    }
    return block_local_bytes(*mb, *nb, *kb) <= ctx->info.local_mem;
}

/* Register tiles per work-item down M (RM; the kernels read it back from the global size): as
 * many as keep about `per_cu` work-groups per compute unit, at most `cap` (the rm option overrides, for
 * tuning).  Measured on PoCL: gemm_tiled_k gains ~8% at 8 per CU; gemm_tiled_n at 16 per CU
 * and at most 4 (fewer work-groups, each reusing its op(B) panel from L1) gains 3-5% at the
 * MLP's 256-wide products queued back to back (fwd 0.092 -> 0.087 ms), the same elsewhere;
 * larger caps lost up to 10% at 784x256ᵀ·256x512. */
static int rows_per_item(const clg_ctx *ctx, const gemm_call *g, int tm, int tn, int per_cu, int cap)
{
    int tiles_m = (g->M + tm - 1) / tm;
    int64_t tiles = (int64_t)tiles_m * ((g->N + tn - 1) / tn) * g->batch;
    int rm = 1;
    if (ctx->gemm.rm > 0)
        rm = ctx->gemm.rm;
    else if (per_cu > 0)
        rm = (int)(tiles / ((int64_t)per_cu * (ctx->info.compute_units ? ctx->info.compute_units : 1)));
    if (rm > tiles_m)
        rm = tiles_m;
    if (rm > cap)
        rm = cap;
    return rm < 1 ? 1 : rm;
}

/* Which tiled kernel: gemm_block (packed) for products of at least 1024^3 multiply-adds
 * (2048^3 for A·Bᵀ, gemm_tiled_k's case), where strided and cache-set-conflicting panels
 * slow the unpacked kernels down (2048^3 NN on PoCL: 70 vs 170 GFLOP/s); below that the
 * packing costs more than it saves (512^3: ~1.37 vs ~1.22 ms).  On devices with 8-wide vectors
 * (AVX2, narrow_vectors) it is taken from 2^26 multiply-adds (the AVX2 VM, GFLOP/s tiled ->
 * block: MAE's 256x784·784x512 86 -> 125, 512^3 92 -> 117, 128x2048·2048x2048 39 -> 108; AᵀB
 * about even).  It wins from ~2^24 (256x128·128x512 69 -> 94; 128x784·784x256 even), but its
 * cold build costs ~2-3 s more than gemm_tiled_n's, which `train mlp`'s first run would pay for
 * nothing (#17 counts cold starts).  Never on rusticl
 * (gemm_no_block): llvmpipe miscompiles gemm_block's k-block loop (wrong sums once K > KB).
 * The kernel option (CLGRAD_GEMM_KERNEL=block|tiled|tiled_k|strip) forces it on or off elsewhere. */
static int use_block(const clg_ctx *ctx, const gemm_call *g)
{
    if (ctx->gemm_no_block)
        return 0;
    if (ctx->gemm.kernel)
        return ctx->gemm.kernel == CLG_GEMM_KERNEL_BLOCK;
    double fma = (double)g->M * (double)g->N * (double)g->K;
    return fma >= (!g->ta && g->tb ? 8589934592.0 : narrow_vectors(ctx) ? 67108864.0 : 1073741824.0);
}

static int use_strip(const clg_ctx *ctx, const gemm_call *g, int tn);

/* The tiled path's register tile for g and whether gemm_block runs it (then with its blocks
 * blk = MB, NB, KB): the one choice path_tiled and clg__gemm_tiled_choice make.  Where
 * gemm_tiled_p runs A·B (use_strip), at every size: it keeps up with gemm_block (PoCL on an
 * AVX-512 Xeon, two alternating rounds: 1024^3 7.9-8.1 vs 8.1 ms, 2048^3 64-65 vs 69-71 ms,
 * 128x2048·2048x2048 4.1 vs 4.3-4.6 ms) and compiles ~1 s faster cold. */
static int tiled_choice(clg_ctx *ctx, const gemm_call *g, int tile[3], int blk[3])
{
    int t[3];
    tile_params(ctx, g, &tile[0], &tile[1], &tile[2]);
    if (use_strip(ctx, g, tile[1] * tile[2]) || !use_block(ctx, g) ||
        !block_params(ctx, &t[0], &t[1], &t[2], &blk[0], &blk[1], &blk[2]))
        return 0;
    memcpy(tile, t, sizeof t);
    return 1;
}

void clg__gemm_tiled_choice(clg_ctx *ctx, const gemm_call *g, int tile[3], int *packed)
{
    int blk[3];
    *packed = tiled_choice(ctx, g, tile, blk);
}

/* A·Bᵀ or Aᵀ·B through a transposed copy of its transposed operand (see use_transpose): B[z]
 * ([N,K], row length ldb) becomes a contiguous [K,N], or A[z] ([K,M], row length lda) a
 * contiguous [M,K], per batch in a scratch slot (the op's scratch function reports it,
 * gemm_scratch), then the product runs as A·B. */
static clg_status path_tiled(clg_ctx *ctx, const gemm_call *g);

static clg_status path_transposed(clg_ctx *ctx, const gemm_call *g)
{
    int ta = g->ta, rows = ta ? g->K : g->N, cols = ta ? g->M : g->K;
    int mark = clg__scratch_mark(ctx);
    cl_mem tr = NULL;
    cl_kernel k;
    clg_status st = clg__scratch_mem(ctx, (size_t)rows * (size_t)cols * (size_t)g->batch * sizeof(float), &tr,
                                     ta ? "gemm (A transposed)" : "gemm (B transposed)");
    if (st || (st = variant_kernel(ctx, "gemm_transpose", "gemm_transpose", "", &k)))
        goto out;
    clg_karg args[7] = { KMEM(ta ? g->a : g->b), KINT(ta ? g->ao : g->bo), KINT(ta ? g->lda : g->ldb),
                         KINT(ta ? g->sa : g->sb), KMEM(tr), KINT(rows), KINT(cols) };
    size_t gs[3] = { (size_t)(cols + 15) / 16, (size_t)(rows + 15) / 16, (size_t)g->batch };
    size_t ls[3] = { 1, 1, 1 };
    if ((st = run_kernel(ctx, k, "gemm_transpose", args, 7, gs, ls)))
        goto out;
    gemm_call t = *g;
    if (ta) {
        t.ta = 0;
        t.a = tr;
        t.ao = 0;
        t.lda = g->K;
        t.sa = g->M * g->K;
    } else {
        t.tb = 0;
        t.b = tr;
        t.bo = 0;
        t.ldb = g->N;
        t.sb = g->K * g->N;
    }
    st = path_tiled(ctx, &t);
out:
    clg__scratch_pop(ctx, mark);
    return st;
}

/* A·Bᵀ by transposing B first (path_transposed), then the NN form (gemm_block, or gemm_tiled_p
 * on 16-wide devices), from 1024^3
 * multiply-adds (2048^3 on PoCL: 93 ms vs 106 ms with gemm_block's TB=1 packing, 177 ms
 * with gemm_tiled_t).  Below that the transpose (~0.03-0.1 ms and a launch of ~10 us on
 * PoCL for the MLP's B) costs more than gemm_tiled_t's in-kernel packing.  Never on
 * rusticl (its NN form would be gemm_block).  Aᵀ·B likewise on 16-wide devices under the
 * default kernel policy, where its NN form is gemm_tiled_p: from 1024^3 (PoCL on an AVX-512
 * Xeon, 2 rounds: gemm_block took 1024^3 10.9 ms, 2048^3 98-102, 4096x128ᵀ·128x4096 36.6-36.8
 * ms; through the copy 8.2, 60 and 25.6-27.1), and from 2^26 where N >= 768 and K >= 128:
 * gemm_tiled_n_ta reads B's rows at a stride of N, and the copy's gemm_tiled_p reads them once
 * per strip (bench_gemm, 2 alternating rounds, ms: 512x256ᵀ·256x784, the MAE decoder's dW,
 * 0.90-0.92 -> 0.78-0.79; 784x256ᵀ·256x784 1.32-1.40 -> 1.11-1.17; 256x256ᵀ·256x1024 0.58-0.63
 * -> 0.53-0.56; 1024x256ᵀ·256x1024 2.42-2.44 -> 1.91-1.92; at N = 512 about even, 784x512ᵀ·512x512
 * 1.60-1.77 -> 1.64-1.65; slower at K = 64, 2048x64ᵀ·64x1024 1.08-1.32 -> 1.35-1.42, and at
 * N = 128, 512x512ᵀ·512x128 0.28-0.29 -> 0.38-0.40).  The nt option (CLGRAD_GEMM_NT=
 * transpose|direct) forces it on or off for both. */
static int use_transpose(const clg_ctx *ctx, const gemm_call *g)
{
    if (g->ta == g->tb)
        return 0;
    if (ctx->gemm.nt)
        return ctx->gemm.nt == CLG_GEMM_NT_TRANSPOSE;
    if (ctx->gemm_no_block || (g->ta && (narrow_vectors(ctx) || ctx->gemm.kernel)))
        return 0;
    double fma = (double)g->M * (double)g->N * (double)g->K;
    return fma >= 1073741824.0 || (g->ta && g->N >= 768 && g->K >= 128 && fma >= 67108864.0);
}

/* gemm_tiled_t's and gemm_tiled_p's k-chunk for tile width tn on this device, or 0 where it has
 * none (tn not a whole number of 16-wide vectors, or no chunk fits in local memory): 2048 floats
 * on 16-wide devices, 512 on narrower ones, halved until the strip fits in local memory.  Each
 * chunk after the first reads and writes C's tiles again; on an AVX-512 Xeon (PoCL, bench_gemm,
 * 2 rounds) KC 512 -> 2048 took A·B 2048^3 from 66-68 to 55-57 ms, 1024^3 7.9-8.1 -> 7.2-7.4,
 * 512x2048·2048x512 3.8-3.9 -> 3.5-3.6, A·Bᵀ 256x4096·(256x4096)ᵀ 2.2-2.3 -> 2.0-2.1 (4096 was
 * no better); KC 256 was slower than 512 (1024^3: 9.9 ms).  The gemm_tiled family of a tile
 * size is built with it (GEMM_KC; 0 leaves gemm_tiled_t and gemm_tiled_p out). */
static int tiled_t_chunk(const clg_ctx *ctx, int tn)
{
    if (tn % 16)
        return 0;
    int kc = narrow_vectors(ctx) ? 512 : 2048;
    while (kc > 16 && (uint64_t)kc * (uint64_t)tn * 4 > ctx->info.local_mem)
        kc /= 2;
    return (uint64_t)kc * (uint64_t)tn * 4 <= ctx->info.local_mem ? kc : 0;
}

/* A·Bᵀ below gemm_block's size: gemm_tiled_t (B strips transposed into local memory, then
 * gemm_tiled_n's tile, over k-chunks of tiled_t_chunk's size, while the strip fits in local
 * memory) when the tile is a whole number of 16-wide vectors; else gemm_tiled_k (K >= 4
 * vectors) or gemm_tiled_n gathering B.  Measured on PoCL against gemm_tiled_k:
 * 256x128·128x512ᵀ 0.27 -> 0.20 ms, 512^3 1.40 -> 1.25 ms, K = 10: 0.03 -> 0.026 ms.
 * The kernel option tiled_k forces gemm_tiled_k (K >= 4 vectors). */
static int use_tiled_t(const clg_ctx *ctx, const gemm_call *g, int tn)
{
    if (g->ta || !g->tb)
        return 0;
    if (ctx->gemm.kernel == CLG_GEMM_KERNEL_TILED_K && g->K >= 64)
        return 0;
    return tiled_t_chunk(ctx, tn) > 0;
}

/* A·B below gemm_block's size on devices with 16-wide vectors (AVX-512), N >= 32: gemm_tiled_p
 * (gemm_tiled_t's B strips in local memory, copied straight) instead of gemm_tiled_n, whose
 * loads of B's rows at a power-of-two stride share a few L1 sets (PoCL on an AVX-512 Xeon,
 * bench_gemm, two alternating rounds: 128x784·784x256 0.30-0.38 -> 0.24 ms, 128x256·256x256
 * 0.13-0.15 -> 0.10, 256x784·784x512 1.25-1.29 -> 0.73-0.78, 512^3 1.47-1.50 -> 0.89-0.99;
 * A·B at N < 32 was slower through it, 128x256·256x10 0.04 -> 0.06-0.08 ms, and Aᵀ·B about
 * even, so they keep gemm_tiled_n).  Much of that gap was gemm_tiled_n's address arithmetic,
 * removed since (gemm.cl): with it gone, 3 rounds, CLGRAD_GEMM_KERNEL=tiled against the default,
 * 128x784·784x256 0.18-0.19 against 0.19-0.20 ms, 256x784·784x512 0.89-1.16 against 0.67-0.68,
 * 512^3 0.92-0.94 against 0.87-0.88, so the strip kernel stays.  8-wide devices keep
 * gemm_tiled_n below gemm_block's size: not measured there.  The kernel option strip forces it
 * for every A·B whose tile is a whole number of 16-wide vectors; tiled forces gemm_tiled_n. */
static int use_strip(const clg_ctx *ctx, const gemm_call *g, int tn)
{
    if (g->ta || g->tb || tiled_t_chunk(ctx, tn) <= 0)
        return 0;
    if (ctx->gemm.kernel)
        return ctx->gemm.kernel == CLG_GEMM_KERNEL_STRIP;
    return !narrow_vectors(ctx) && clg__gemm_class(g->ta, g->tb, g->N) == CLG_GEMM_CLASS_NN;
}

/* Register tiles down M per gemm_tiled_t (and gemm_tiled_p) work-item: all of M, unless there
 * are fewer than `per_cu` column strips per compute unit; then M is split so there are about
 * that many (each part packs its strip again).  The rm option overrides it. */
static int strip_rows(const clg_ctx *ctx, const gemm_call *g, int tm, int tn, int per_cu)
{
    int tiles_m = (g->M + tm - 1) / tm, v = ctx->gemm.rm;
    if (v > 0)
        return v < tiles_m ? v : tiles_m;
    int64_t strips = (int64_t)((g->N + tn - 1) / tn) * g->batch;
    int64_t want = (int64_t)per_cu * (ctx->info.compute_units ? ctx->info.compute_units : 1);
    int64_t parts = strips >= want ? 1 : (want + strips - 1) / strips;
    if (parts > tiles_m)
        parts = tiles_m;
    return (int)((tiles_m + parts - 1) / parts);
}

/* The gemm_tiled program's kernels as GEMM_KSET bits (cl/gemm.cl): gemm_tiled_n, _ta, _tb, _tatb,
 * gemm_tiled_t, gemm_tiled_p. */
enum { KSET_N = 1, KSET_TATB = 8, KSET_T = 16, KSET_P = 32 };

/* The gemm_tiled program's kernel that path_tiled launches for g at `tile` (tiled_choice's), as
 * its GEMM_KSET bit; 0 where g takes another family (gemm_block, gemm_tiled_k): the one choice
 * tiled_variant and tiles_find make. */
static int tiled_kernel_bit(clg_ctx *ctx, const gemm_call *g, const int tile[3], int packed)
{
    int vw = tile[1], tn = tile[1] * tile[2];
    if (packed)
        return 0;
    if (use_tiled_t(ctx, g, tn))
        return KSET_T;
    if (!g->ta && g->tb && g->K >= 4 * vw)
        return 0; /* gemm_tiled_k */
    if (use_strip(ctx, g, tn))
        return KSET_P;
    return KSET_N << (g->ta + 2 * g->tb);
}

/* Question i (< POLICY_QUESTIONS) put to the policy by tiles_find: a product of
 * transposes (i & 1, i & 2), M 8 or 12 (gemm_tiled_n's two tile heights), N narrow or not, K short
 * or long (gemm_tiled_n_tb or gemm_tiled_k); its kernel's bit (tiled_kernel_bit, 0: another
 * family) and tile. */
static int policy_answer(clg_ctx *ctx, int i, int tile[3])
{
    static const int ms[2] = { 8, 12 }, ns[2] = { 8, 64 }, ks[2] = { 8, 4096 };
    gemm_call g = { .ta = i & 1, .tb = (i >> 1) & 1, .M = ms[(i >> 2) & 1], .N = ns[(i >> 3) & 1],
                    .K = ks[(i >> 4) & 1], .batch = 1 };
    int blk[3] = { 0, 0, 0 };
    int packed = tiled_choice(ctx, &g, tile, blk);
    return tiled_kernel_bit(ctx, &g, tile, packed);
}

/* ---- the tiles program -------------------------------------------------------------------
 * One program holding the gemm_tiled family's kernels at every tile size the ctx's policy takes
 * for A·B, Aᵀ·B and A·Bᵀ, the forms of a dense layer and its gradients (the policy's answers
 * without Aᵀ·Bᵀ, which no op's gradient asks for): cl/gemm.cl once per tile size, its names
 * suffixed (GEMM_F, gemm_tiled_p_8_16_2).  Each program costs PoCL a fixed ~0.1 s of front end
 * cold, so the MLP's three tile programs (0.54-0.56 s together on an AVX-512 Xeon, micro-tool, 3
 * rounds) cost more than one holding all four of the 16-wide tile sizes (0.32-0.33 s).  And it
 * does not depend on the model: the compile helper builds it first (clg_ctx_describe_gemm) while
 * the command builds its op programs.  A kernel outside it (Aᵀ·Bᵀ; a tile past GEMM_MAX_TILES)
 * takes its tile size's own program, with the kernels the policy launches at that tile (each costs
 * PoCL's front end ~0.01-0.04 s in a cold build: on an AVX-512 Xeon the MLP's three tile programs
 * took 0.25 / 0.30 / 0.22 s with all six kernels and 0.19 / 0.24 / 0.21 s with theirs).  Options
 * changed on a live ctx make a new one (its descriptor, tiles_defs, names every tile, chunk and
 * kernel set). */

/* Ask the policy every question for the ctx's options (memo in s): the tile sizes it takes for
 * the gemm_tiled family, the kernels at each, and the tiles program's share of them. */
static void tiles_find(clg_ctx *ctx, gemm_state *s)
{
    if (s->tiles_known && !memcmp(&s->tiles_opts, &ctx->gemm, sizeof ctx->gemm))
        return;
    s->tiles_opts = ctx->gemm;
    s->tiles_known = 1;
    s->ntiles = 0;
    for (int i = 0; i < POLICY_QUESTIONS; i++) {
        int t[3], bit = policy_answer(ctx, i, t);
        if (!bit)
            continue;
        int j = 0;
        while (j < s->ntiles && memcmp(s->tiles[j], t, sizeof t))
            j++;
        if (j == s->ntiles) {
            memcpy(s->tiles[j], t, sizeof t);
            s->tiles[j][3] = tiled_t_chunk(ctx, t[1] * t[2]);
            s->tiles_kset[j] = 0;
            s->ntiles++;
        }
        s->tiles_kset[j] |= bit;
    }
    size_t n = 0;
    s->tiles_defs[0] = 0;
    for (int j = 0, np = 0; j < s->ntiles; j++) {
        int k = np < GEMM_MAX_TILES ? s->tiles_kset[j] & ~KSET_TATB : 0;
        s->tiles_prog[j] = k;
        if (k && n < sizeof s->tiles_defs)
            n += (size_t)snprintf(s->tiles_defs + n, sizeof s->tiles_defs - n, "%s%d,%d,%d,%d,%d", np ? ";" : "",
                                  s->tiles[j][0], s->tiles[j][1], s->tiles[j][2], s->tiles[j][3], k);
        np += k != 0;
    }
}

/* `tile`'s row in ctx's answers (tiles_find, into *sp), or -1 where the policy never takes it. */
static int tile_row(clg_ctx *ctx, const int tile[3], gemm_state **sp)
{
    gemm_state *s = NULL;
    if (get_state(ctx, &s) != CLG_OK) {
        clg__clear_error();
        return -1;
    }
    *sp = s;
    tiles_find(ctx, s);
    for (int j = 0; j < s->ntiles; j++)
        if (!memcmp(s->tiles[j], tile, 3 * sizeof *tile))
            return j;
    return -1;
}

int clg__gemm_tiles(clg_ctx *ctx, int tiles[][4], int *ksets, int max)
{
    gemm_state *s = NULL;
    if (get_state(ctx, &s) != CLG_OK)
        return -1;
    s->tiles_known = 0; /* asked afresh (the tests change the device's vector width) */
    tiles_find(ctx, s);
    int n = 0;
    for (int j = 0; j < s->ntiles; j++)
        if (s->tiles_prog[j] && n++ < max) {
            memcpy(tiles[n - 1], s->tiles[j], sizeof s->tiles[j]);
            ksets[n - 1] = s->tiles_prog[j];
        }
    return n;
}

int clg__gemm_tile_kset(clg_ctx *ctx, const int tile[3])
{
    gemm_state *s = NULL;
    if (get_state(ctx, &s) == CLG_OK)
        s->tiles_known = 0; /* asked afresh, as clg__gemm_tiles */
    int j = tile_row(ctx, tile, &s);
    return j < 0 ? 0 : s->tiles_kset[j];
}

/* The tiles program's source: common.cl, then per tile size its defines and cl/gemm.cl. */
static clg_status tiles_source(clg_ctx *ctx, char **out)
{
    gemm_state *s = NULL;
    char *common = NULL, *gemm = NULL;
    size_t lc, lg;
    clg_status st = get_state(ctx, &s);
    if (st || (st = clg__file_source(ctx, CLG_PROG_COMMON, &common, &lc)) ||
        (st = clg__file_source(ctx, CLG_PROG_GEMM, &gemm, &lg)))
        goto out;
    tiles_find(ctx, s);
    size_t cap = lc + (size_t)GEMM_MAX_TILES * (lg + 400) + 1, n = lc;
    char *all = malloc(cap);
    if (!all) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "gemm: out of host memory");
        goto out;
    }
    memcpy(all, common, lc);
    for (int j = 0; j < s->ntiles; j++) {
        const int *t = s->tiles[j];
        if (!s->tiles_prog[j])
            continue;
        n += (size_t)snprintf(all + n, cap - n,
                              "\n#undef GEMM_TM\n#undef GEMM_VW\n#undef GEMM_NV\n#undef GEMM_KC\n#undef GEMM_KSET\n"
                              "#undef GEMM_SFX\n#define GEMM_TM %d\n#define GEMM_VW %d\n#define GEMM_NV %d\n"
                              "#define GEMM_KC %d\n#define GEMM_KSET %d\n#define GEMM_SFX _%d_%d_%d\n",
                              t[0], t[1], t[2], t[3], s->tiles_prog[j], t[0], t[1], t[2]);
        memcpy(all + n, gemm, lg);
        n += lg;
    }
    all[n] = 0;
    *out = all;
out:
    free(common);
    free(gemm);
    return st;
}

/* The gemm.cl kernel of path_tiled for g (but the transposed path's): its family, name, defines
 * (defs: 200 bytes) and global size. */
static void tiled_variant(clg_ctx *ctx, const gemm_call *g, const char **family_out, char kname[64], char *defs,
                          size_t gs[3])
{
    const char *family;
    int tile[3], blk[3] = { 0, 0, 0 };
    int packed = tiled_choice(ctx, g, tile, blk);
    int tm = tile[0], vw = tile[1], nv = tile[2], mb = blk[0], nb = blk[1], kb = blk[2];
    int bit = tiled_kernel_bit(ctx, g, tile, packed); /* the gemm_tiled kernel, 0: another family */
    if (packed) {
        snprintf(defs, 200,
                 "-DGEMM_TA=%d -DGEMM_TB=%d -DGEMM_TM=%d -DGEMM_VW=%d -DGEMM_NV=%d -DGEMM_MB=%d -DGEMM_NB=%d "
                 "-DGEMM_KB=%d",
                 g->ta, g->tb, tm, vw, nv, mb, nb, kb);
        family = "gemm_block";
        snprintf(kname, 64, "%s", family);
        gs[0] = (size_t)(g->N + nb - 1) / (size_t)nb;
        gs[1] = (size_t)(g->M + mb - 1) / (size_t)mb;
    } else if (!bit) {
        /* A·Bᵀ: both operands run along K, vectorise along K (short K: gather B instead) */
        int tmk = 4, tnk = 4;
        snprintf(defs, 200, "-DGEMM_TA=0 -DGEMM_TB=1 -DGEMM_TM=%d -DGEMM_TNK=%d -DGEMM_VW=%d", tmk, tnk,
                 vw);
        family = "gemm_tiled_k";
        snprintf(kname, 64, "%s", family);
        int rm = rows_per_item(ctx, g, tmk, tnk, 8, 16);
        gs[0] = (size_t)(g->N + tnk - 1) / (size_t)tnk;
        gs[1] = (size_t)(g->M + tmk * rm - 1) / (size_t)(tmk * rm);
    } else {
        /* gemm_tiled_t, _p or a gemm_tiled_n (RM is read back from the launch's global size, the
         * transposes are the kernel's name): from the tiles program, else from its tile size's own
         * program with the kernels the policy can launch at this tile (g's own among them,
         * whatever tiles_find found) */
        static const char *const names[6] = { "gemm_tiled_n", "gemm_tiled_n_ta", "gemm_tiled_n_tb",
                                               "gemm_tiled_n_tatb", "gemm_tiled_t", "gemm_tiled_p" };
        int i = 0;
        while (!(bit & (1 << i)))
            i++;
        gemm_state *s = NULL;
        int j = tile_row(ctx, tile, &s);
        if (j >= 0 && s->tiles_prog[j] & bit) {
            family = "gemm_tiles";
            snprintf(defs, 200, "%s", s->tiles_defs);
            snprintf(kname, 64, "%s_%d_%d_%d", names[i], tm, vw, nv);
        } else {
            family = "gemm_tiled";
            snprintf(defs, 200, "-DGEMM_TM=%d -DGEMM_VW=%d -DGEMM_NV=%d -DGEMM_KC=%d -DGEMM_KSET=%d", tm, vw, nv,
                     tiled_t_chunk(ctx, vw * nv), (j >= 0 ? s->tiles_kset[j] : 0) | bit);
            snprintf(kname, 64, "%s", names[i]);
        }
        /* the strip kernels (gemm_tiled_t, _p) pack once per strip: they take all of M by default */
        int rm = bit & (KSET_T | KSET_P) ? strip_rows(ctx, g, tm, vw * nv, 8)
                                         : rows_per_item(ctx, g, tm, vw * nv, 16, 4);
        gs[0] = (size_t)(g->N + vw * nv - 1) / (size_t)(vw * nv);
        gs[1] = (size_t)(g->M + tm * rm - 1) / (size_t)(tm * rm);
    }
    gs[2] = (size_t)g->batch;
    *family_out = family;
}

/* The tiled kernels' work-group size, in ls (NULL: the driver's choice).  One work-item per
 * work-group: each is already a vectorised tile, and a fixed local size spares PoCL a
 * re-specialisation per global size.  The wg option (CLGRAD_GEMM_WG="x,y") overrides it (tuning);
 * CLG_GEMM_WG_DRIVER ("0,0") leaves it to the driver. */
static const size_t *tiled_local(const clg_ctx *ctx, size_t ls[3])
{
    if (ctx->gemm.wg[0] == CLG_GEMM_WG_DRIVER)
        return NULL;
    ls[0] = ctx->gemm.wg[0] > 0 ? (size_t)ctx->gemm.wg[0] : 1;
    ls[1] = ctx->gemm.wg[0] > 0 ? (size_t)ctx->gemm.wg[1] : 1;
    ls[2] = 1;
    return ls;
}

static clg_status path_tiled(clg_ctx *ctx, const gemm_call *g)
{
    if (use_transpose(ctx, g))
        return path_transposed(ctx, g);
    char defs[200], kname[64];
    const char *family;
    size_t gs[3];
    tiled_variant(ctx, g, &family, kname, defs, gs);
    cl_kernel k;
    clg_status st = variant_kernel(ctx, family, kname, defs, &k);
    if (st)
        return st;
    clg_karg args[N_COMMON_ARGS];
    common_args(g, args);
    size_t ls[3];
    return run_kernel(ctx, k, kname, args, N_COMMON_ARGS, gs, tiled_local(ctx, ls));
}

static clg_gemm_path choose_path(clg_ctx *ctx, const gemm_call *g, int *dflt);

/* Add the tiled path's launch for g to out (its program once), buffers A, B, C of g's sizes;
 * out's arrays have room for it. */
static clg_status describe_tiled(clg_ctx *ctx, gemm_call *g, clg_launch_list *out)
{
    char defs[200], extra[320], opts[2048], kname[64], *src;
    const char *family;
    size_t gs[3], ls[3];
    tiled_variant(ctx, g, &family, kname, defs, gs);
    clg_status st = variant_program(ctx, family, defs, &src, extra, sizeof extra);
    if (st)
        return st;
    clg__build_options(ctx, extra, opts, sizeof opts);
    int p = 0;
    while (p < out->nprograms && (strcmp(out->options[p], opts) || strcmp(out->source[p], src)))
        p++;
    if (p == out->nprograms) {
        out->source[p] = src;
        out->options[p] = strdup(opts);
        out->nprograms++;
        if (!out->options[p])
            return clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_ctx_describe_gemm: out of host memory");
    } else {
        free(src);
    }
    const size_t *l = tiled_local(ctx, ls);
    clg_launch *d = &out->launch[out->n++];
    memset(d, 0, sizeof *d);
    d->program = p;
    snprintf(d->kernel, sizeof d->kernel, "%s", kname);
    d->dims = 3;
    for (int k = 0; k < 3; k++) {
        d->local[k] = l ? l[k] : 0;
        d->global[k] = l ? (gs[k] + l[k] - 1) / l[k] * l[k] : gs[k];
    }
    /* A, B and C stand for themselves as the buffer values 1, 2 and 3 */
    uint64_t bytes[4] = { 0, (uint64_t)g->M * (uint64_t)g->K * 4, (uint64_t)g->K * (uint64_t)g->N * 4,
                          (uint64_t)g->M * (uint64_t)g->N * 4 };
    clg_karg a[N_COMMON_ARGS];
    common_args(g, a);
    d->nargs = N_COMMON_ARGS;
    for (int i = 0; i < N_COMMON_ARGS; i++) {
        clg_launch_arg *la = &d->args[i];
        if (a[i].kind == CLG_KARG_MEM) {
            la->kind = CLG_LARG_BUFFER;
            la->size = bytes[(uintptr_t)a[i].v.mem & 3];
        } else {
            la->kind = CLG_LARG_SCALAR;
            la->size = 4;
            memcpy(la->value, &a[i].v, 4);
        }
    }
    return CLG_OK;
}

clg_status clg_ctx_describe_gemm(clg_ctx *ctx, clg_launch_list *out)
{
    if (!ctx || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_ctx_describe_gemm: NULL argument");
    memset(out, 0, sizeof *out);
    /* Aᵀ·B and A·Bᵀ at 256^3 (a dense layer's weight and input gradients) */
    gemm_call g[2];
    for (int t = 0; t < 2; t++) {
        g[t] = (gemm_call){ .ta = t == 0, .tb = t == 1, .M = 256, .N = 256, .K = 256, .lda = 256, .ldb = 256,
                            .ldc = 256, .sa = 65536, .sb = 65536, .sc = 65536, .batch = 1, .alpha = 1.0f,
                            .a = (cl_mem)1, .b = (cl_mem)2, .c = (cl_mem)3 };
        int dflt;
        if (choose_path(ctx, &g[t], &dflt) != CLG_GEMM_PATH_TILED || use_transpose(ctx, &g[t]))
            return CLG_OK;
    }
    out->source = calloc(2, sizeof *out->source);
    out->options = calloc(2, sizeof *out->options);
    out->launch = calloc(2, sizeof *out->launch);
    clg_status st = out->source && out->options && out->launch
                        ? CLG_OK
                        : clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_ctx_describe_gemm: out of host memory");
    for (int t = 0; t < 2 && !st; t++)
        st = describe_tiled(ctx, &g[t], out);
    if (st)
        clg_launch_list_free(out);
    return st;
}

static clg_status path_clblast(clg_ctx *ctx, const gemm_call *g)
{
    gemm_state *s = NULL;
    clg_status st = get_state(ctx, &s);
    if (st)
        return st;
    s->clblast_used = 1;
    CLBlastTranspose ta = g->ta ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = g->tb ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode rc;
    if (g->batch == 1)
        rc = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, (size_t)g->M, (size_t)g->N, (size_t)g->K, g->alpha, g->a,
                          (size_t)g->ao, (size_t)g->lda, g->b, (size_t)g->bo, (size_t)g->ldb, g->beta, g->c,
                          (size_t)g->co, (size_t)g->ldc, &ctx->queue, NULL);
    else
        rc = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, (size_t)g->M, (size_t)g->N, (size_t)g->K,
                                        g->alpha, g->a, (size_t)g->ao, (size_t)g->lda, (size_t)g->sa, g->b,
                                        (size_t)g->bo, (size_t)g->ldb, (size_t)g->sb, g->beta, g->c,
                                        (size_t)g->co, (size_t)g->ldc, (size_t)g->sc, (size_t)g->batch,
                                        &ctx->queue, NULL);
    if (rc != CLBlastSuccess) {
        clg__fail(CLG_ERR_CLBLAST, "gemm: CLBlast sgemm%s %dx%dx%d (batch %d, trans %d/%d) failed with status %d",
                  g->batch == 1 ? "" : "StridedBatched", g->M, g->N, g->K, g->batch, g->ta, g->tb, (int)rc);
        clg__set_raw((int)rc);
        return CLG_ERR_CLBLAST;
    }
    ctx->launches++;
    return CLG_OK;
}

/* The path option (CLGRAD_GEMM), else what `clgrad tune` found fastest for the shape class (our
 * kernels or CLBlast), else the device's default (*dflt = 1), local where CLBlast failed. */
static clg_gemm_path choose_path(clg_ctx *ctx, const gemm_call *g, int *dflt)
{
    *dflt = 0;
    if (ctx->gemm.path)
        return ctx->gemm.path;
    const int *t = tuned(ctx, clg__gemm_class(g->ta, g->tb, g->N));
    if (t)
        return (clg_gemm_path)t[1];
    *dflt = 1;
    gemm_state *s = ctx->gemm_state;
    if (ctx->gemm_default_path == CLG_GEMM_PATH_CLBLAST && s && s->clblast_failed)
        return CLG_GEMM_PATH_LOCAL;
    return (clg_gemm_path)ctx->gemm_default_path;
}

static const char *const path_names[] = { "tiled", "local", "simple", "clblast" }; /* by path - 1 */

clg_gemm_path clg_gemm_path_parse(const char *name)
{
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, path_names[i]))
            return (clg_gemm_path)(i + 1);
    return CLG_GEMM_PATH_DEFAULT;
}

const char *clg_gemm_last_path(clg_ctx *ctx)
{
    gemm_state *s = ctx ? ctx->gemm_state : NULL;
    return s && s->last_path >= CLG_GEMM_PATH_TILED && s->last_path <= CLG_GEMM_PATH_CLBLAST ? path_names[s->last_path - 1] : NULL;
}

/* Zero C (all batches, contiguous) where K == 0 or CLBlast must not read garbage. */
static clg_status zero_c(clg_ctx *ctx, const gemm_call *g)
{
    size_t n = (size_t)g->M * (size_t)g->N * (size_t)g->batch;
    return clg__fill_words(ctx, g->c, (size_t)g->co, n, 0);
}

static clg_status run_path(clg_ctx *ctx, gemm_call *g);

clg_status clg__gemm_run(clg_ctx *ctx, gemm_call *g)
{
    g->ep_done = 0;
    if (g->bias && g->act != CLG_ACT_NONE && g->act != CLG_ACT_RELU)
        return clg__fail(CLG_ERR_INVALID_ARG, "gemm: epilogue activation %d (only none and relu)", g->act);
    if (g->M == 0 || g->N == 0 || g->batch == 0)
        return CLG_OK;
    if (g->K == 0)
        return g->beta == 0.0f ? zero_c(ctx, g) : CLG_OK;
    return run_path(ctx, g);
}

static clg_status run_path(clg_ctx *ctx, gemm_call *g)
{
    int dflt;
    clg_gemm_path path = choose_path(ctx, g, &dflt);
    gemm_state *s = NULL;
    if (get_state(ctx, &s) == CLG_OK)
        s->last_path = path;
    else
        clg__clear_error();
    clg_status st;
    switch (path) {
    case CLG_GEMM_PATH_CLBLAST: {
        if (ctx->recording)
            return CLG_OK; /* CLBlast's launches are its own: nothing to record, nothing may run */
        if (g->beta == 0.0f) {
            /* 0·NaN would leak uninitialised memory into C */
            st = zero_c(ctx, g);
            if (st)
                return st;
        }
        st = path_clblast(ctx, g);
        if (st == CLG_ERR_CLBLAST && dflt && s) {
            /* the default, not a user's choice: our local-memory kernel instead, from now on */
            clg__clear_error();
            s->clblast_failed = 1;
            s->last_path = CLG_GEMM_PATH_LOCAL;
            path = CLG_GEMM_PATH_LOCAL;
            st = path_local(ctx, g);
        }
        break;
    }
    case CLG_GEMM_PATH_LOCAL: st = path_local(ctx, g); break;
    case CLG_GEMM_PATH_SIMPLE: st = path_simple(ctx, g); break;
    case CLG_GEMM_PATH_TILED:
    default: st = path_tiled(ctx, g); break;
    }
    g->ep_done = !st && g->bias && path != CLG_GEMM_PATH_CLBLAST; /* our kernels' stores apply it */
    return st;
}

size_t clg__gemm_scratch(const clg_ctx *ctx, const gemm_call *g)
{
    if (!use_transpose(ctx, g))
        return 0;
    return (size_t)g->K * (size_t)(g->ta ? g->M : g->N) * (size_t)g->batch * sizeof(float);
}
