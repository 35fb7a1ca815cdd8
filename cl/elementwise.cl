/* elementwise.cl — unary activations and broadcasting binary ops, forward and backward. */

#define UNARY_FWD(NAME, EXPR)                                                                  \
    __kernel void NAME##_fwd(__global const float *x, int xo, __global float *y, int yo, int n, \
                             float alpha)                                                      \
    {                                                                                          \
        int i = get_global_id(0);                                                              \
        if (i >= n)                                                                            \
            return;                                                                            \
        float v = x[xo + i];                                                                   \
        y[yo + i] = (EXPR);                                                                    \
    }

/* Backward: g = gout * f'(x, y); acc != 0 adds into gin. */
#define UNARY_BWD(NAME, DEXPR)                                                                 \
    __kernel void NAME##_bwd(__global const float *x, int xo, __global const float *y, int yo, \
                             __global const float *gy, int gyo, __global float *gx, int gxo,   \
                             int n, float alpha, int acc)                                      \
    {                                                                                          \
        int i = get_global_id(0);                                                              \
        if (i >= n)                                                                            \
            return;                                                                            \
        float v = x[xo + i];                                                                   \
        float out = y[yo + i];                                                                 \
        float g = gy[gyo + i] * (DEXPR);                                                       \
        gx[gxo + i] = acc ? gx[gxo + i] + g : g;                                               \
    }

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_C 0.044715f

UNARY_FWD(scale, alpha * v)
UNARY_BWD(scale, alpha)
UNARY_FWD(relu, v > 0.0f ? v : 0.0f)
UNARY_BWD(relu, v > 0.0f ? 1.0f : 0.0f)
UNARY_FWD(gelu, 0.5f * v * (1.0f + tanh(GELU_K * (v + GELU_C * v * v * v))))
UNARY_BWD(gelu, (0.5f * (1.0f + tanh(GELU_K * (v + GELU_C * v * v * v))) +
                 0.5f * v * (1.0f - pow(tanh(GELU_K * (v + GELU_C * v * v * v)), 2.0f)) *
                     GELU_K * (1.0f + 3.0f * GELU_C * v * v)))
UNARY_FWD(tanh, tanh(v))
UNARY_BWD(tanh, 1.0f - out * out)
UNARY_FWD(sigmoid, 1.0f / (1.0f + exp(-v)))
UNARY_BWD(sigmoid, out * (1.0f - out))
UNARY_FWD(exp, exp(v))
UNARY_BWD(exp, out)
UNARY_FWD(log, log(v))
UNARY_BWD(log, 1.0f / v)
