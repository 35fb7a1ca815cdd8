/* ops_misc.c — ops without backward: argmax, accuracy, fill, copy, transpose. */
#include <math.h>
#include <string.h>

#include "internal.h"

#define TILE 16
#define ACC_MAX_WG 256

static clg_status too_big(const char *op, const clg_shape *const *in, int nin)
{
    for (int i = 0; i < nin; i++)
        if (clg_shape_numel(in[i]) > INT32_MAX)
            return clg__shape_fail(op, in, nin, "too many elements");
    return CLG_OK;
}

/* ---- argmax / accuracy ----------------------------------------------------- */

static clg_status argmax_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)a;
    clg_status st = clg__check_dtype("argmax", 0, in[0], CLG_F32);
    if (st || (st = too_big("argmax", in, 1)))
        return st;
    if (in[0]->ndim != 2 || in[0]->dim[1] < 1)
        return clg__shape_fail("argmax", in, 1, "input must be [N,C] with C >= 1");
    *out = clg_shape_make(CLG_I32, 1, in[0]->dim);
    return CLG_OK;
}

static clg_status argmax_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out, const clg_attrs *a)
{
    (void)a;
    int rows = (int)in[0]->s.dim[0], C = (int)in[0]->s.dim[1];
    return LAUNCH(ctx, CLG_K_argmax_rows, (size_t)rows, KTEN(in[0]), KTEN(out), KINT(rows), KINT(C));
}

static clg_status accuracy_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)a;
    clg_status st;
    if ((st = clg__check_dtype("accuracy", 0, in[0], CLG_F32)) ||
        (st = clg__check_dtype("accuracy", 1, in[1], CLG_I32)) || (st = too_big("accuracy", in, 2)))
        return st;
    if (in[0]->ndim != 2 || in[0]->dim[1] < 1)
        return clg__shape_fail("accuracy", in, 2, "logits must be [N,C] with C >= 1");
    if (in[1]->ndim != 1 || in[1]->dim[0] != in[0]->dim[0])
        return clg__shape_fail("accuracy", in, 2, "labels must be [N]");
    *out = clg_shape_make(CLG_F32, 0, NULL);
    return CLG_OK;
}

static clg_status accuracy_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,
                                   const clg_attrs *a)
{
    (void)a;
    const char *kname = "accuracy_count";
    int rows = (int)in[0]->s.dim[0], C = (int)in[0]->s.dim[1];
    cl_kernel k;
    size_t wg;
    clg_status st = clg__kernel_id(ctx, CLG_K_accuracy_count, &k);
    if (st || (st = clg__kernel_wg(ctx, CLG_K_accuracy_count, ACC_MAX_WG, &wg)))
        return st;
    const clg_karg args[] = { KTEN(in[0]), KTEN(in[1]), KTEN(out), KINT(rows), KINT(C), KMEM(ctx->errflags),
                              KINT(CLG_OP_ACCURACY + 1), KLOCAL(wg * sizeof(cl_int)) };
    if ((st = clg__set_args(ctx, k, kname, args, CLG_NARGS(args))))
        return st;
    return clg__enqueue(ctx, k, kname, 1, &wg, &wg);
}

/* ---- fill / copy --------------------------------------------------------------- */

static clg_status fill_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)in;
    const clg_shape *s = &a->shape;
    char sb[96];
    if (s->ndim < 0 || s->ndim > CLG_MAX_DIMS)
        return clg__fail(CLG_ERR_SHAPE, "fill: attrs.shape has %d dims (0..%d allowed)", s->ndim, CLG_MAX_DIMS);
    for (int k = 0; k < s->ndim; k++)
        if (s->dim[k] < 0)
            return clg__fail(CLG_ERR_SHAPE, "fill: attrs.shape %s has a negative dim",
                             clg_shape_str(s, sb, sizeof sb));
    if (s->dtype != CLG_F32 && s->dtype != CLG_I32)
        return clg__fail(CLG_ERR_DTYPE, "fill: unknown dtype %d", (int)s->dtype);
    if (clg_shape_numel(s) > INT32_MAX)
        return clg__fail(CLG_ERR_SHAPE, "fill: attrs.shape %s has too many elements",
                         clg_shape_str(s, sb, sizeof sb));
    if (s->dtype == CLG_I32 && !(a->alpha >= -2147483648.0f && a->alpha < 2147483648.0f))
        return clg__fail(CLG_ERR_INVALID_ARG, "fill: value %g does not fit i32", (double)a->alpha);
    *out = clg_shape_make(s->dtype, s->ndim, s->dim);
    return CLG_OK;
}

static clg_status fill_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out, const clg_attrs *a)
{
    (void)in;
    uint32_t pat;
    if (out->s.dtype == CLG_I32) {
        int32_t v = (int32_t)a->alpha; /* truncated toward zero, like a C cast */
        memcpy(&pat, &v, 4);
    } else {
        float v = a->alpha;
        memcpy(&pat, &v, 4);
    }
    return clg__fill_pattern(ctx, out, pat);
}

static clg_status copy_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)a;
    clg_status st = too_big("copy", in, 1);
    if (st)
        return st;
    *out = *in[0];
    return CLG_OK;
}

static clg_status copy_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out, const clg_attrs *a)
{
    (void)a;
    int n = (int)clg_shape_numel(&out->s);
    return LAUNCH(ctx, CLG_K_copy32, (size_t)n, KTEN(in[0]), KTEN(out), KINT(n));
}

/* ---- transpose ------------------------------------------------------------------- */

static clg_status transpose_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)a;
    clg_status st = too_big("transpose", in, 1);
    if (st)
        return st;
    if (in[0]->ndim < 2)
        return clg__shape_fail("transpose", in, 1, "input needs 2 to 4 dims");
    *out = *in[0];
    out->dim[out->ndim - 2] = in[0]->dim[in[0]->ndim - 1];
    out->dim[out->ndim - 1] = in[0]->dim[in[0]->ndim - 2];
    return CLG_OK;
}

static clg_status transpose_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,
                                    const clg_attrs *a)
{
    (void)a;
    const clg_shape *s = &in[0]->s;
    int M = (int)s->dim[s->ndim - 2], N = (int)s->dim[s->ndim - 1];
    int n = (int)clg_shape_numel(s);
    if (n == 0)
        return CLG_OK;
    int B = n / (M * N);
    cl_kernel k;
    size_t kw;
    clg_status st = clg__kernel_id(ctx, CLG_K_transpose_tiled, &k);
    if (st || (st = clg__kernel_wg(ctx, CLG_K_transpose_tiled, TILE * TILE, &kw)))
        return st;
    if (kw < TILE * TILE)
        return LAUNCH(ctx, CLG_K_transpose_naive, (size_t)n, KTEN(in[0]), KTEN(out), KINT(M), KINT(N),
                        KINT(n));
    const clg_karg args[] = { KTEN(in[0]), KTEN(out), KINT(M), KINT(N) };
    if ((st = clg__set_args(ctx, k, "transpose_tiled", args, CLG_NARGS(args))))
        return st;
    size_t g[3] = { (size_t)N, (size_t)M, (size_t)B }, l[3] = { TILE, TILE, 1 };
    return clg__enqueue(ctx, k, "transpose_tiled", 3, g, l);
}

const clg_op_desc clg_op_misc_argmax = { .infer = argmax_infer, .forward = argmax_forward, .backward = NULL };
const clg_op_desc clg_op_misc_accuracy = { .infer = accuracy_infer, .forward = accuracy_forward, .backward = NULL };
const clg_op_desc clg_op_misc_fill = { .infer = fill_infer, .forward = fill_forward, .backward = NULL };
const clg_op_desc clg_op_misc_copy = { .infer = copy_infer, .forward = copy_forward, .backward = NULL };
const clg_op_desc clg_op_misc_transpose = {
    .infer = transpose_infer, .forward = transpose_forward, .backward = NULL
};
