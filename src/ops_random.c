/* ops_random.c — counter-based randomness (Philox4x32-10): uniform, normal, patch masks, dropout. */
#include <math.h>
#include <stdio.h>

#include "internal.h"

/* Every draw is a pure function of (attrs.seed, attrs.counter, stream tag, element index), the
 * Philox key being the seed and counter words 2-3 the counter (see cl/random.cl), so results do
 * not depend on the device or its work-group size, and a backward can regenerate a mask. */
#define RNG_ARGS(a) KUINT((uint32_t)(a)->seed), KUINT((uint32_t)((a)->seed >> 32)), \
                    KUINT((uint32_t)(a)->counter), KUINT((uint32_t)((a)->counter >> 32))

static size_t blocks_of(int64_t n) { return (size_t)((n + 3) / 4); }

/* Kernel kid over `blocks` Philox blocks: one block per work-item, or where clg__vec_kernels its
 * _vec twin vid with 16 blocks per work-item in work-groups of one (uint16 lanes; PoCL: see the
 * README).  Same arguments, same values. */
static clg_status launch_rng(clg_ctx *ctx, clg_kid kid, clg_kid vid, size_t blocks, const clg_karg *args, int nargs)
{
    if (clg__vec_kernels(ctx))
        return clg__launch_groups_of_one(ctx, vid, (blocks + 15) / 16, args, nargs);
    return clg__launch1d(ctx, kid, blocks, args, nargs);
}

/* LAUNCH_RNG(ctx, name, blocks, args...): kernels CLG_K_name and CLG_K_name_vec */
#define LAUNCH_RNG(ctx, name, blocks, ...)                                                         \
    launch_rng((ctx), CLG_K_##name, CLG_K_##name##_vec, (blocks), (const clg_karg[]){ __VA_ARGS__ }, \
               CLG_NARGS(((const clg_karg[]){ __VA_ARGS__ })))

static clg_status check_numel(const char *op, const clg_shape *s)
{
    int64_t n = clg_shape_numel(s);
    if (n > INT32_MAX) {
        char sb[96];
        return clg__fail(CLG_ERR_SHAPE, "%s: %s has more than 2^31-1 elements", op,
                         clg_shape_str(s, sb, sizeof sb));
    }
    return CLG_OK;
}

/* ---- random_uniform, random_normal ------------------------------------------ */

static clg_status gen_shape(const char *op, const clg_attrs *a, clg_shape *out)
{
    const clg_shape *s = &a->shape;
    char sb[96];
    if (s->ndim < 0 || s->ndim > CLG_MAX_DIMS)
        return clg__fail(CLG_ERR_SHAPE, "%s: attrs.shape has %d dimensions (0..%d allowed)", op, s->ndim,
                         CLG_MAX_DIMS);
    for (int i = 0; i < s->ndim; i++)
        if (s->dim[i] < 0)
            return clg__fail(CLG_ERR_SHAPE, "%s: attrs.shape %s has a negative dimension", op,
                             clg_shape_str(s, sb, sizeof sb));
    if (s->dtype != CLG_F32)
        return clg__fail(CLG_ERR_DTYPE, "%s: attrs.shape must be f32, got %s", op,
                         clg_shape_str(s, sb, sizeof sb));
    clg_status st = check_numel(op, s);
    if (st)
        return st;
    *out = *s;
    return CLG_OK;
}

static clg_status random_uniform_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)in;
    if (!isfinite(a->alpha) || !isfinite(a->beta) || !(a->alpha < a->beta))
        return clg__fail(CLG_ERR_INVALID_ARG,
                         "random_uniform: range [attrs.alpha=%g, attrs.beta=%g) is empty or not finite "
                         "(set alpha = low < beta = high; the defaults 1, 0 are not a range)",
                         (double)a->alpha, (double)a->beta);
    return gen_shape("random_uniform", a, out);
}

static clg_status random_uniform_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,
                                         const clg_attrs *a)
{
    (void)in;
    int64_t n = clg_shape_numel(&out->s);
    return LAUNCH_RNG(ctx, random_uniform_fwd, blocks_of(n), KTEN(out), KINT(n), RNG_ARGS(a),
                    KFLT(a->alpha), KFLT(a->beta));
}

const clg_op_desc clg_op_random_random_uniform = {
    .infer = random_uniform_infer, .forward = random_uniform_forward, .backward = NULL,
    .flags = CLG_OPF_STOCHASTIC
};

static clg_status random_normal_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)in;
    if (!isfinite(a->alpha) || !isfinite(a->beta) || a->beta < 0)
        return clg__fail(CLG_ERR_INVALID_ARG,
                         "random_normal: mean attrs.alpha=%g and std attrs.beta=%g must be finite, std >= 0",
                         (double)a->alpha, (double)a->beta);
    return gen_shape("random_normal", a, out);
}

static clg_status random_normal_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,
                                        const clg_attrs *a)
{
    (void)in;
    int64_t n = clg_shape_numel(&out->s);
    return LAUNCH_RNG(ctx, random_normal_fwd, blocks_of(n), KTEN(out), KINT(n), RNG_ARGS(a),
                    KFLT(a->alpha), KFLT(a->beta));
}

const clg_op_desc clg_op_random_random_normal = {
    .infer = random_normal_infer, .forward = random_normal_forward, .backward = NULL,
    .flags = CLG_OPF_STOCHASTIC
};

/* ---- patch_mask ---------------------------------------------------------------- */

static clg_status patch_mask_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    const char *op = "patch_mask";
    clg_status st = clg__check_dtype(op, 0, in[0], CLG_F32);
    if (st)
        return st;
    char why[160];
    int H = a->height, W = a->width, P = a->patch;
    if (H <= 0 || W <= 0 || P <= 0) {
        snprintf(why, sizeof why, "attrs.height=%d, width=%d and patch=%d must be positive", H, W, P);
        return clg__shape_fail(op, in, 1, why);
    }
    if (H % P || W % P) {
        snprintf(why, sizeof why, "height %d and width %d must be multiples of the patch size %d", H, W, P);
        return clg__shape_fail(op, in, 1, why);
    }
    if (in[0]->ndim != 2 || in[0]->dim[1] != (int64_t)H * W) {
        snprintf(why, sizeof why, "images must be [N, H*W] = [N, %lld]", (long long)H * W);
        return clg__shape_fail(op, in, 1, why);
    }
    if (!(a->p >= 0.0f && a->p <= 1.0f))
        return clg__fail(CLG_ERR_INVALID_ARG, "patch_mask: masked fraction attrs.p=%g must be in [0, 1]",
                         (double)a->p);
    if ((st = check_numel(op, in[0])))
        return st;
    *out = *in[0];
    return CLG_OK;
}

static clg_status patch_mask_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,
                                     const clg_attrs *a)
{
    (void)in;
    int N = (int)out->s.dim[0], H = a->height, W = a->width, P = a->patch;
    int np = (H / P) * (W / P);
    int k = (int)floor((double)a->p * np + 0.5);
    if (N == 0)
        return CLG_OK;
    /* per-(sample, patch) flags */
    clg_shape ss = clg_shape_make(CLG_I32, 1, (int64_t[]){ (int64_t)N * np });
    clg_tensor sel;
    clg_status st = clg__scratch_tensor(ctx, &ss, &sel, "patch_mask");
    if (st)
        return st;
    if (clg__vec_kernels(ctx))
        st = LAUNCH_ONES(ctx, CLG_K_patch_mask_select_vec, (size_t)N, KMEM(sel.buf), KINT(N), KINT(np),
                         KINT(k), RNG_ARGS(a));
    else
        st = LAUNCH(ctx, CLG_K_patch_mask_select, (size_t)N, KMEM(sel.buf), KINT(N), KINT(np),
                      KINT(k), RNG_ARGS(a));
    if (!st)
        st = LAUNCH(ctx, CLG_K_patch_mask_fill, (size_t)N * (size_t)H, KMEM(sel.buf), KTEN(out),
                      KINT(N), KINT(H), KINT(W), KINT(P));
    return st;
}

/* The per-(sample, patch) flags. */
static int patch_mask_scratch(const clg_ctx *ctx, const clg_shape *const *in, const clg_shape *out,
                              const clg_attrs *a, int backward, size_t *bytes)
{
    (void)ctx;
    (void)in;
    if (backward || out->dim[0] == 0 || a->patch <= 0)
        return 0;
    bytes[0] = (size_t)(out->dim[0] * (a->height / a->patch) * (a->width / a->patch)) * sizeof(int32_t);
    return 1;
}

const clg_op_desc clg_op_random_patch_mask = {
    .infer = patch_mask_infer, .forward = patch_mask_forward, .backward = NULL, .scratch = patch_mask_scratch,
    .flags = CLG_OPF_STOCHASTIC
};

/* ---- dropout ------------------------------------------------------------------ */

static clg_status dropout_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    clg_status st = clg__check_dtype("dropout", 0, in[0], CLG_F32);
    if (st)
        return st;
    if (!(a->p >= 0.0f && a->p < 1.0f))
        return clg__fail(CLG_ERR_INVALID_ARG, "dropout: drop probability attrs.p=%g must be in [0, 1)",
                         (double)a->p);
    if ((st = check_numel("dropout", in[0])))
        return st;
    *out = *in[0];
    return CLG_OK;
}

/* keep iff 24-bit draw >= ceil(p * 2^24) (exact: p * 2^24 is exact in double) */
static cl_uint dropout_thr(const clg_attrs *a) { return (cl_uint)ceil((double)a->p * 16777216.0); }
static float dropout_scale(const clg_attrs *a) { return (float)(1.0 / (1.0 - (double)a->p)); }

static clg_status dropout_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,
                                  const clg_attrs *a)
{
    int64_t n = clg_shape_numel(&out->s);
    return LAUNCH_RNG(ctx, dropout_apply, blocks_of(n), KTEN(in[0]), KTEN(out), KINT(n), KUINT(dropout_thr(a)),
                      KFLT(dropout_scale(a)), RNG_ARGS(a), KINT(0));
}

static clg_status dropout_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                                   const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a, int acc)
{
    (void)out;
    if (!gin[0])
        return CLG_OK;
    clg_status st = dropout_infer((const clg_shape *const[]){ &in[0]->s }, a, &(clg_shape){ 0 });
    if (st)
        return st;
    int64_t n = clg_shape_numel(&in[0]->s);
    return LAUNCH_RNG(ctx, dropout_apply, blocks_of(n), KTEN(gout), KTEN(gin[0]), KINT(n), KUINT(dropout_thr(a)),
                      KFLT(dropout_scale(a)), RNG_ARGS(a), KINT(acc != 0));
}

const clg_op_desc clg_op_random_dropout = {
    .infer = dropout_infer, .forward = dropout_forward, .backward = dropout_backward,
    .flags = CLG_OPF_STOCHASTIC
};

/* ---- augment ------------------------------------------------------------------ */

static clg_status augment_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    const char *op = "augment";
    const struct clg_augment_attrs *g = &a->aug;
    clg_status st = clg__check_dtype(op, 0, in[0], CLG_F32);
    if (st)
        return st;
    char why[200];
    int H = a->height, W = a->width;
    if (H <= 0 || W <= 0) {
        snprintf(why, sizeof why, "attrs.height=%d and width=%d must be positive", H, W);
        return clg__shape_fail(op, in, 1, why);
    }
    if (in[0]->ndim != 2 || in[0]->dim[1] != (int64_t)H * W) {
        snprintf(why, sizeof why, "images must be [N, H*W] = [N, %lld]", (long long)H * W);
        return clg__shape_fail(op, in, 1, why);
    }
    if (g->views < 1)
        return clg__fail(CLG_ERR_INVALID_ARG, "augment: attrs.aug.views=%d must be >= 1", g->views);
    if (!(g->scale_lo > 0 && g->scale_lo <= g->scale_hi && g->scale_hi <= 1))
        return clg__fail(CLG_ERR_INVALID_ARG, "augment: crop scale [%g, %g] must satisfy 0 < lo <= hi <= 1",
                         (double)g->scale_lo, (double)g->scale_hi);
    if (!(g->ratio_lo > 0 && g->ratio_lo <= g->ratio_hi && isfinite(g->ratio_hi)))
        return clg__fail(CLG_ERR_INVALID_ARG, "augment: aspect ratio [%g, %g] must satisfy 0 < lo <= hi, finite",
                         (double)g->ratio_lo, (double)g->ratio_hi);
    if (!(g->translate >= 0 && isfinite(g->translate)) || !(g->noise_std >= 0 && isfinite(g->noise_std)))
        return clg__fail(CLG_ERR_INVALID_ARG, "augment: translate %g and noise std %g must be finite and >= 0",
                         (double)g->translate, (double)g->noise_std);
    if (!(g->flip_p >= 0 && g->flip_p <= 1) || !(g->cutout_p >= 0 && g->cutout_p <= 1))
        return clg__fail(CLG_ERR_INVALID_ARG, "augment: flip probability %g and cutout probability %g must be in [0, 1]",
                         (double)g->flip_p, (double)g->cutout_p);
    if (g->cutout < 0 || g->cutout > H || g->cutout > W)
        return clg__fail(CLG_ERR_INVALID_ARG, "augment: cutout side %d must be in 0..%d", g->cutout, H < W ? H : W);
    *out = *in[0];
    out->dim[0] = in[0]->dim[0] * g->views;
    if ((st = check_numel(op, out)))
        return st;
    if ((int64_t)3 * out->dim[0] > UINT32_MAX)
        return clg__fail(CLG_ERR_SHAPE, "augment: too many views");
    return CLG_OK;
}

/* a 24-bit draw is below the threshold with probability p */
static cl_uint prob_thr(float p) { return (cl_uint)ceil((double)p * 16777216.0); }

#define AUG_NPAR 8 /* per-row parameters (cl/random.cl) */

static clg_status augment_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out, const clg_attrs *a)
{
    const struct clg_augment_attrs *g = &a->aug;
    int rows = (int)out->s.dim[0], H = a->height, W = a->width;
    if (rows == 0)
        return CLG_OK;
    clg_shape ps = clg_shape_make(CLG_F32, 1, (int64_t[]){ (int64_t)rows * AUG_NPAR });
    clg_tensor par;
    clg_status st = clg__scratch_tensor(ctx, &ps, &par, "augment");
    if (st)
        return st;
    int64_t n = clg_shape_numel(&out->s);
    if ((st = LAUNCH(ctx, CLG_K_augment_params, (size_t)rows, KMEM(par.buf), KINT(rows), KINT(H), KINT(W),
                     KFLT(g->scale_lo), KFLT(g->scale_hi), KFLT(logf(g->ratio_lo)), KFLT(logf(g->ratio_hi)),
                     KFLT(g->translate), KUINT(prob_thr(g->flip_p)), KINT(g->cutout), KUINT(prob_thr(g->cutout_p)),
                     RNG_ARGS(a))))
        return st;
    return LAUNCH_RNG(ctx, augment_apply, blocks_of(n), KTEN(in[0]), KMEM(par.buf), KTEN(out), KINT((int)n),
                  KINT((int)in[0]->s.dim[0]), KINT(H), KINT(W), KINT(g->cutout), KFLT(g->noise_std), RNG_ARGS(a));
}

/* The per-row crop, flip and cutout parameters. */
static int augment_scratch(const clg_ctx *ctx, const clg_shape *const *in, const clg_shape *out, const clg_attrs *a,
                           int backward, size_t *bytes)
{
    (void)ctx;
    (void)in;
    (void)a;
    if (backward || out->dim[0] == 0)
        return 0;
    bytes[0] = (size_t)out->dim[0] * AUG_NPAR * sizeof(float);
    return 1;
}

const clg_op_desc clg_op_random_augment = {
    .infer = augment_infer, .forward = augment_forward, .backward = NULL, .scratch = augment_scratch,
    .flags = CLG_OPF_STOCHASTIC
};
