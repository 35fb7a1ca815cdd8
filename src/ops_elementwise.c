/* ops_elementwise.c — unary activations (relu, gelu, tanh, sigmoid, exp, log, scale) and
 * broadcasting binary ops (add, sub, mul). */
#include "internal.h"

/* ---- unary ----------------------------------------------------------------- */

static clg_status unary_infer(const char *op, const clg_shape *const *in, clg_shape *out)
{
    clg_status st = clg__check_dtype(op, 0, in[0], CLG_F32);
    if (st)
        return st;
    *out = *in[0];
    return CLG_OK;
}

static clg_status unary_fwd(clg_ctx *ctx, const char *kname, const clg_tensor *x, clg_tensor *y, float alpha)
{
    int n = (int)clg_shape_numel(&x->s);
    return LAUNCH1D(ctx, CLG_PROG_ELEMENTWISE, kname, (size_t)n, KTEN(x), KTEN(y), KINT(n), KFLT(alpha));
}

static clg_status unary_bwd(clg_ctx *ctx, const char *kname, const clg_tensor *x, const clg_tensor *y,
                            const clg_tensor *gy, clg_tensor *gx, float alpha, int acc)
{
    if (!gx)
        return CLG_OK;
    int n = (int)clg_shape_numel(&x->s);
    return LAUNCH1D(ctx, CLG_PROG_ELEMENTWISE, kname, (size_t)n, KTEN(x), KTEN(y), KTEN(gy), KTEN(gx),
                    KINT(n), KFLT(alpha), KINT(acc));
}

#define UNARY_OP(NAME, ALPHA)                                                                          \
    static clg_status NAME##_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)     \
    {                                                                                                  \
        (void)a;                                                                                       \
        return unary_infer(#NAME, in, out);                                                            \
    }                                                                                                  \
    static clg_status NAME##_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,       \
                                     const clg_attrs *a)                                               \
    {                                                                                                  \
        (void)a;                                                                                       \
        return unary_fwd(ctx, #NAME "_fwd", in[0], out, (ALPHA));                                      \
    }                                                                                                  \
    static clg_status NAME##_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out, \
                                      const clg_tensor *gout, clg_tensor *const *gin,                  \
                                      const clg_attrs *a, int acc)                                     \
    {                                                                                                  \
        (void)a;                                                                                       \
        return unary_bwd(ctx, #NAME "_bwd", in[0], out, gout, gin[0], (ALPHA), acc);                   \
    }                                                                                                  \
    const clg_op_desc clg_opdesc_##NAME = { #NAME, 1, NAME##_infer, NAME##_forward, NAME##_backward };

UNARY_OP(scale, a->alpha)
UNARY_OP(relu, 0.0f)
UNARY_OP(gelu, 0.0f)
UNARY_OP(tanh, 0.0f)
UNARY_OP(sigmoid, 0.0f)
UNARY_OP(exp, 0.0f)
UNARY_OP(log, 0.0f)

/* ---- binary (placeholder until the broadcasting kernels land) -------------- */

CLG_OP_UNAVAILABLE(add)
CLG_OP_UNAVAILABLE(sub)
CLG_OP_UNAVAILABLE(mul)
