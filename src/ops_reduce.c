/* ops_reduce.c — reductions: sum and mean over an axis or all, softmax and log_softmax over rows. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Reductions at least this long get one work-group each (local-memory tree);
 * shorter ones get one work-item each. */
#define GROUP_MIN_LEN 256
#define GROUP_MAX_WG 256

/* ---- launch helpers ------------------------------------------------------- */

/* Launch `groups` work-groups of kernel kid (clg__kernel_wg, at most GROUP_MAX_WG items); a
 * __local float[wg] argument is appended. */
static clg_status launch_groups(clg_ctx *ctx, clg_kid kid, size_t groups, const clg_karg *args, int nargs)
{
    if (groups == 0)
        return CLG_OK;
    cl_kernel k;
    size_t wg;
    clg_karg all[24];
    clg_status st = clg__kernel_id(ctx, kid, &k);
    if (st || (st = clg__kernel_wg(ctx, kid, GROUP_MAX_WG, &wg)))
        return st;
    memcpy(all, args, (size_t)nargs * sizeof *args);
    all[nargs] = KLOCAL(wg * sizeof(cl_float));
    if ((st = clg__set_args(ctx, k, clg__kname(kid), all, nargs + 1)))
        return st;
    size_t g = groups * wg;
    return clg__enqueue(ctx, k, clg__kname(kid), 1, &g, &wg);
}

#define LAUNCH_GROUPS(ctx, kid, groups, ...)                                            \
    launch_groups((ctx), (kid), (groups), (const clg_karg[]){ __VA_ARGS__ },           \
                  CLG_NARGS(((const clg_karg[]){ __VA_ARGS__ })))

/* ---- sum / mean ------------------------------------------------------------- */

static clg_status axis_infer(const char *op, const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    clg_status st = clg__check_dtype(op, 0, in[0], CLG_F32);
    if (st)
        return st;
    if (clg_shape_numel(in[0]) > INT32_MAX)
        return clg__shape_fail(op, in, 1, "too many elements");
    const clg_shape *x = in[0];
    *out = clg_shape_make(CLG_F32, 0, NULL);
    if (a->axis < 0) {
        if (a->keepdim) {
            out->ndim = x->ndim;
            for (int k = 0; k < x->ndim; k++)
                out->dim[k] = 1;
        }
        return CLG_OK;
    }
    if (a->axis >= x->ndim) {
        char why[64];
        snprintf(why, sizeof why, "axis %d out of range for %d dims", a->axis, x->ndim);
        return clg__shape_fail(op, in, 1, why);
    }
    for (int k = 0; k < x->ndim; k++) {
        if (k == a->axis && !a->keepdim)
            continue;
        out->dim[out->ndim++] = k == a->axis ? 1 : x->dim[k];
    }
    return CLG_OK;
}

/* x as [outer, R, inner] around the reduced axis (all elements: R = numel). */
static void axis_split(const clg_shape *x, int axis, int *outer, int *R, int *inner)
{
    if (axis < 0) {
        *outer = 1;
        *R = (int)clg_shape_numel(x);
        *inner = 1;
        return;
    }
    int64_t o = 1, in = 1;
    for (int k = 0; k < axis; k++)
        o *= x->dim[k];
    for (int k = axis + 1; k < x->ndim; k++)
        in *= x->dim[k];
    *outer = (int)o;
    *R = (int)x->dim[axis];
    *inner = (int)in;
}

static clg_status axis_fwd(clg_ctx *ctx, const clg_tensor *x, clg_tensor *y, const clg_attrs *a, int mean)
{
    int outer, R, inner;
    axis_split(&x->s, a->axis, &outer, &R, &inner);
    int nout = outer * inner;
    float scale = mean ? 1.0f / (float)R : 1.0f;
    if (nout == 0)
        return CLG_OK;
    if (clg__vec_kernels(ctx)) {
        /* PoCL: mean [128,784] all, forward 340 -> 59 us (tools/BENCHMARKS.md) */
        if (inner == 1)
            return LAUNCH_ONES(ctx, CLG_K_reduce_sum_rows_vec, (size_t)nout, KTEN(x), KTEN(y), KINT(R),
                               KFLT(scale));
        return LAUNCH_ONES(ctx, CLG_K_reduce_sum_cols_vec, (size_t)outer * (size_t)((inner + 15) / 16),
                           KTEN(x), KTEN(y), KINT(R), KINT(inner), KFLT(scale));
    }
    if (R >= GROUP_MIN_LEN && (inner == 1 || nout < 1024))
        return LAUNCH_GROUPS(ctx, CLG_K_reduce_sum_group, (size_t)nout, KTEN(x), KTEN(y), KINT(R), KINT(inner),
                             KFLT(scale));
    return LAUNCH(ctx, CLG_K_reduce_sum_item, (size_t)nout, KTEN(x), KTEN(y), KINT(nout),
                    KINT(R), KINT(inner), KFLT(scale));
}

static clg_status axis_bwd(clg_ctx *ctx, const clg_tensor *x, const clg_tensor *gy, clg_tensor *gx,
                           const clg_attrs *a, int mean, int acc)
{
    if (!gx)
        return CLG_OK;
    int outer, R, inner;
    axis_split(&x->s, a->axis, &outer, &R, &inner);
    int n = (int)clg_shape_numel(&x->s);
    float scale = mean ? 1.0f / (float)R : 1.0f;
    if (n > 0 && clg__vec_kernels(ctx)) {
        if (inner == 1)
            return LAUNCH_ONES(ctx, CLG_K_reduce_sum_bwd_rows_vec, (size_t)outer, KTEN(gy), KTEN(gx),
                               KINT(R), KFLT(scale), KINT(acc));
        return LAUNCH_ONES(ctx, CLG_K_reduce_sum_bwd_cols_vec, (size_t)outer * (size_t)((inner + 15) / 16),
                           KTEN(gy), KTEN(gx), KINT(R), KINT(inner), KFLT(scale), KINT(acc));
    }
    return LAUNCH(ctx, CLG_K_reduce_sum_bwd, (size_t)n, KTEN(gy), KTEN(gx), KINT(n), KINT(R),
                    KINT(inner), KFLT(scale), KINT(acc));
}

/* ---- softmax / log_softmax ------------------------------------------------- */

static clg_status rows_infer(const char *op, const clg_shape *const *in, clg_shape *out)
{
    clg_status st = clg__check_dtype(op, 0, in[0], CLG_F32);
    if (st)
        return st;
    if (in[0]->ndim < 1)
        return clg__shape_fail(op, in, 1, "input needs at least one axis");
    if (clg_shape_numel(in[0]) > INT32_MAX)
        return clg__shape_fail(op, in, 1, "too many elements");
    *out = *in[0];
    return CLG_OK;
}

static void rows_split(const clg_shape *x, int *rows, int *C)
{
    *C = (int)x->dim[x->ndim - 1];
    *rows = *C ? (int)(clg_shape_numel(x) / *C) : 0;
}

/* Kernel style for rows of length C: the *_vec kernels where clg__vec_kernels (a work-item per
 * row, float16 along it; softmax [128,1000] on PoCL: forward 1192 -> 79 us, backward 326 -> 53 us
 * against the group kernels; on rusticl the group kernels are 2x faster than vec), else a
 * work-group per row from GROUP_MIN_LEN up, else a work-item per row (the *_item kernels). */
enum { SM_ITEM, SM_GROUP, SM_VEC };

static int sm_style(const clg_ctx *ctx, int C)
{
    if (clg__vec_kernels(ctx))
        return SM_VEC;
    return C >= GROUP_MIN_LEN ? SM_GROUP : SM_ITEM;
}

static clg_status sm_fwd(clg_ctx *ctx, const clg_tensor *x, clg_tensor *y, int logsm)
{
    int rows, C;
    rows_split(&x->s, &rows, &C);
    if (rows == 0)
        return CLG_OK;
    int style = sm_style(ctx, C);
    if (style == SM_VEC)
        return LAUNCH_ONES(ctx, CLG_K_softmax_vec, (size_t)rows, KTEN(x), KTEN(y), KINT(C), KINT(logsm));
    if (style == SM_GROUP)
        return LAUNCH_GROUPS(ctx, CLG_K_softmax_group, (size_t)rows, KTEN(x), KTEN(y), KINT(C), KINT(logsm));
    return LAUNCH(ctx, CLG_K_softmax_item, (size_t)rows, KTEN(x), KTEN(y), KINT(rows), KINT(C),
                    KINT(logsm));
}

static clg_status sm_bwd(clg_ctx *ctx, const clg_tensor *y, const clg_tensor *gy, clg_tensor *gx, int logsm,
                         int acc)
{
    if (!gx)
        return CLG_OK;
    int rows, C;
    rows_split(&y->s, &rows, &C);
    if (rows == 0)
        return CLG_OK;
    int style = sm_style(ctx, C);
    if (style == SM_VEC)
        return LAUNCH_ONES(ctx, CLG_K_softmax_bwd_vec, (size_t)rows, KTEN(y), KTEN(gy), KTEN(gx),
                           KINT(C), KINT(logsm), KINT(acc));
    if (style == SM_GROUP)
        return LAUNCH_GROUPS(ctx, CLG_K_softmax_bwd_group, (size_t)rows, KTEN(y), KTEN(gy), KTEN(gx), KINT(C),
                             KINT(logsm), KINT(acc));
    return LAUNCH(ctx, CLG_K_softmax_bwd_item, (size_t)rows, KTEN(y), KTEN(gy), KTEN(gx),
                    KINT(rows), KINT(C), KINT(logsm), KINT(acc));
}

/* ---- descriptors ------------------------------------------------------------ */

#define AXIS_OP(NAME, MEAN)                                                                            \
    static clg_status NAME##_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)     \
    {                                                                                                  \
        return axis_infer(#NAME, in, a, out);                                                          \
    }                                                                                                  \
    static clg_status NAME##_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,       \
                                     const clg_attrs *a)                                               \
    {                                                                                                  \
        return axis_fwd(ctx, in[0], out, a, (MEAN));                                                   \
    }                                                                                                  \
    static clg_status NAME##_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out, \
                                      const clg_tensor *gout, clg_tensor *const *gin,                  \
                                      const clg_attrs *a, int acc)                                     \
    {                                                                                                  \
        (void)out;                                                                                     \
        return axis_bwd(ctx, in[0], gout, gin[0], a, (MEAN), acc);                                     \
    }                                                                                                  \
    const clg_op_desc clg_op_reduce_##NAME = { .infer = NAME##_infer, .forward = NAME##_forward,       \
        .backward = NAME##_backward };

#define ROWS_OP(NAME, LOGSM)                                                                           \
    static clg_status NAME##_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)     \
    {                                                                                                  \
        (void)a;                                                                                       \
        return rows_infer(#NAME, in, out);                                                             \
    }                                                                                                  \
    static clg_status NAME##_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,       \
                                     const clg_attrs *a)                                               \
    {                                                                                                  \
        (void)a;                                                                                       \
        return sm_fwd(ctx, in[0], out, (LOGSM));                                                       \
    }                                                                                                  \
    static clg_status NAME##_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out, \
                                      const clg_tensor *gout, clg_tensor *const *gin,                  \
                                      const clg_attrs *a, int acc)                                     \
    {                                                                                                  \
        (void)in;                                                                                      \
        (void)a;                                                                                       \
        return sm_bwd(ctx, out, gout, gin[0], (LOGSM), acc);                                           \
    }                                                                                                  \
    const clg_op_desc clg_op_reduce_##NAME = { .infer = NAME##_infer, .forward = NAME##_forward,       \
        .backward = NAME##_backward };

AXIS_OP(sum, 0)
AXIS_OP(mean, 1)
ROWS_OP(softmax, 0)
ROWS_OP(log_softmax, 1)
