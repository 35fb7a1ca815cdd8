/* ref_elementwise.c — double-precision references of the element-wise ops. */
#include <math.h>
#include "ref_ops.h"

#define UNARY_REF(NAME, EXPR)                                                       \
    int ref_##NAME(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)       \
    {                                                                               \
        (void)a;                                                                    \
        int64_t n = clg_shape_numel(&in[0].s);                                      \
        for (int64_t i = 0; i < n; i++) {                                           \
            double v = in[0].d[i];                                                  \
            out->d[i] = (EXPR);                                                     \
        }                                                                           \
        return 0;                                                                   \
    }

UNARY_REF(scale, (double)a->alpha * v)
UNARY_REF(relu, v > 0 ? v : 0)
UNARY_REF(gelu, 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))))
UNARY_REF(tanh, tanh(v))
UNARY_REF(sigmoid, 1 / (1 + exp(-v)))
UNARY_REF(exp, exp(v))
UNARY_REF(log, log(v))

/* Broadcasting binary reference: out index -> operand index via right-aligned dims. */
static int64_t bidx(const clg_shape *x, const clg_shape *o, int64_t i)
{
    int64_t idx = 0, stride = 1;
    for (int k = o->ndim - 1, kx = x->ndim - 1; k >= 0; k--, kx--) {
        int64_t c = i % o->dim[k];
        i /= o->dim[k];
        if (kx >= 0) {
            if (x->dim[kx] != 1)
                idx += c * stride;
            stride *= x->dim[kx];
        }
    }
    return idx;
}

#define BINARY_REF(NAME, EXPR)                                                      \
    int ref_##NAME(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)       \
    {                                                                               \
        (void)a;                                                                    \
        int64_t n = clg_shape_numel(&out->s);                                       \
        for (int64_t i = 0; i < n; i++) {                                           \
            double u = in[0].d[bidx(&in[0].s, &out->s, i)];                         \
            double v = in[1].d[bidx(&in[1].s, &out->s, i)];                         \
            out->d[i] = (EXPR);                                                     \
        }                                                                           \
        return 0;                                                                   \
    }

BINARY_REF(add, u + v)
BINARY_REF(sub, u - v)
BINARY_REF(mul, u * v)

/* y = act(x + b) over rows of the last axis (act: a clg_act). */
int ref_bias_act(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    int64_t n = clg_shape_numel(&out->s), cols = in[1].s.dim[0];
    for (int64_t i = 0; i < n; i++) {
        double v = in[0].d[i] + in[1].d[i % cols], y = v;
        switch (a->act) {
        case CLG_ACT_RELU: y = v > 0 ? v : 0; break;
        case CLG_ACT_GELU: y = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); break;
        case CLG_ACT_TANH: y = tanh(v); break;
        case CLG_ACT_SIGMOID: y = 1 / (1 + exp(-v)); break;
        default: break;
        }
        out->d[i] = y;
    }
    return 0;
}
