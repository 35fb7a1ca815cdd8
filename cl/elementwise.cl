/* elementwise.cl — unary activations, broadcasting binary ops and the fused bias_act, forward and backward. */

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
                 0.5f * v * (1.0f - tanh(GELU_K * (v + GELU_C * v * v * v)) * tanh(GELU_K * (v + GELU_C * v * v * v))) *
                     GELU_K * (1.0f + 3.0f * GELU_C * v * v)))
UNARY_FWD(tanh, tanh(v))
UNARY_BWD(tanh, 1.0f - out * out)
UNARY_FWD(sigmoid, 1.0f / (1.0f + exp(-v)))
UNARY_BWD(sigmoid, out * (1.0f - out))
UNARY_FWD(exp, exp(v))
UNARY_BWD(exp, out)
UNARY_FWD(log, log(v))
UNARY_BWD(log, 1.0f / v)

/* CPU style (clg__vec_kernels): work-item g takes elements [g*chunk, (g+1)*chunk) in float16, in
 * work-groups of one; for the ops whose vector form gives the scalar's result bit for bit
 * (scale, relu) or whose scalar form is slow on PoCL (exp, log: vector builtins, within the
 * same OpenCL accuracy bounds).  gelu, tanh and sigmoid keep one work-item per element, so that
 * they stay bit-identical to bias_act's activations. */
#define UNARY_VEC(NAME, EXPR, EXPR16, DEXPR, DEXPR16)                                               \
    __kernel void NAME##_fwd_vec(__global const float *x, int xo, __global float *y, int yo, int n, \
                                 float alpha, int chunk)                                            \
    {                                                                                               \
        int i0 = get_global_id(0) * chunk, i1 = min(n, i0 + chunk), iv = i0 + (i1 - i0) / 16 * 16;  \
        for (int i = i0; i < iv; i += 16) {                                                         \
            float16 v = vload16(0, x + xo + i);                                                     \
            vstore16((EXPR16), 0, y + yo + i);                                                      \
        }                                                                                           \
        for (int i = iv; i < i1; i++) {                                                             \
            float v = x[xo + i];                                                                    \
            y[yo + i] = (EXPR);                                                                     \
        }                                                                                           \
    }                                                                                               \
    __kernel void NAME##_bwd_vec(__global const float *x, int xo, __global const float *y, int yo,  \
                                 __global const float *gy, int gyo, __global float *gx, int gxo,    \
                                 int n, float alpha, int acc, int chunk)                            \
    {                                                                                               \
        int i0 = get_global_id(0) * chunk, i1 = min(n, i0 + chunk), iv = i0 + (i1 - i0) / 16 * 16;  \
        for (int i = i0; i < iv; i += 16) {                                                         \
            float16 v = vload16(0, x + xo + i), out = vload16(0, y + yo + i);                       \
            float16 g = vload16(0, gy + gyo + i) * (DEXPR16);                                       \
            vstore16(acc ? vload16(0, gx + gxo + i) + g : g, 0, gx + gxo + i);                      \
        }                                                                                           \
        for (int i = iv; i < i1; i++) {                                                             \
            float v = x[xo + i], out = y[yo + i];                                                   \
            float g = gy[gyo + i] * (DEXPR);                                                        \
            gx[gxo + i] = acc ? gx[gxo + i] + g : g;                                                \
        }                                                                                           \
    }

UNARY_VEC(scale, alpha * v, alpha * v, alpha, (float16)(alpha))
UNARY_VEC(relu, v > 0.0f ? v : 0.0f, select((float16)(0.0f), v, v > 0.0f), v > 0.0f ? 1.0f : 0.0f,
          select((float16)(0.0f), (float16)(1.0f), v > 0.0f))
UNARY_VEC(exp, exp(v), exp(v), out, out)
UNARY_VEC(log, log(v), log(v), 1.0f / v, 1.0f / v)

/* Broadcasting binary forward: output index split over padded dims (d1, d2, d3 are the
 * inner output dims); as*, bs* are the operands' strides, 0 along broadcast dims. */
#define BINARY_FWD(NAME, EXPR)                                                                   \
    __kernel void NAME##_fwd(__global const float *a, int ao, __global const float *b, int bo,    \
                             __global float *y, int yo, int n, int d1, int d2, int d3, int as0,   \
                             int as1, int as2, int as3, int bs0, int bs1, int bs2, int bs3)       \
    {                                                                                            \
        int i = get_global_id(0);                                                                \
        if (i >= n)                                                                              \
            return;                                                                              \
        int i3 = i % d3, r = i / d3;                                                             \
        int i2 = r % d2;                                                                         \
        r /= d2;                                                                                 \
        int i1 = r % d1, i0 = r / d1;                                                            \
        float u = a[ao + i0 * as0 + i1 * as1 + i2 * as2 + i3 * as3];                             \
        float v = b[bo + i0 * bs0 + i1 * bs1 + i2 * bs2 + i3 * bs3];                             \
        y[yo + i] = (EXPR);                                                                      \
    }

/* Fast path: each operand is either full (index i) or a row broadcast along the leading dims
 * (index i % cols, flag arow/brow set). */
#define BINARY_FWD_ROWS(NAME, EXPR)                                                                  \
    __kernel void NAME##_fwd_rows(__global const float *a, int ao, __global const float *b, int bo,   \
                                  __global float *y, int yo, int n, int cols, int arow, int brow)     \
    {                                                                                                \
        int i = get_global_id(0);                                                                    \
        if (i >= n)                                                                                  \
            return;                                                                                  \
        int c = arow || brow ? i % cols : i;                                                         \
        float u = a[ao + (arow ? c : i)];                                                            \
        float v = b[bo + (brow ? c : i)];                                                            \
        y[yo + i] = (EXPR);                                                                          \
    }

/* Same as _fwd_rows for a row broadcast without the modulo: a 2-D launch, dim 0 over the cols
 * of a row, dim 1 over the rows. */
#define BINARY_FWD_ROWS2(NAME, EXPR)                                                                 \
    __kernel void NAME##_fwd_rows2(__global const float *a, int ao, __global const float *b, int bo,  \
                                   __global float *y, int yo, int rows, int cols, int arow, int brow) \
    {                                                                                                \
        int c = get_global_id(0), r = get_global_id(1);                                              \
        if (c >= cols || r >= rows)                                                                  \
            return;                                                                                  \
        int i = r * cols + c;                                                                        \
        float u = a[ao + (arow ? c : i)];                                                            \
        float v = b[bo + (brow ? c : i)];                                                            \
        y[yo + i] = (EXPR);                                                                          \
    }

BINARY_FWD(add, u + v)
BINARY_FWD(sub, u - v)
BINARY_FWD(mul, u * v)
BINARY_FWD_ROWS2(add, u + v)
BINARY_FWD_ROWS2(sub, u - v)
BINARY_FWD_ROWS2(mul, u * v)
BINARY_FWD_ROWS(add, u + v)
BINARY_FWD_ROWS(sub, u - v)
BINARY_FWD_ROWS(mul, u * v)

/* Gradient of one broadcast operand x (padded dims x0..x3) of an output with dims d0..d3:
 * each work-item owns one gx element and loops over the output positions that read it
 * (the whole extent along dims where x has size 1), so no atomics are needed.
 * mode 0: g = scale * sum(gy); mode 1: g = sum(gy * other), other strided by os*. */
__kernel void binary_bwd(__global const float *gy, int gyo, __global const float *o, int oo,
                         __global float *gx, int gxo, int n, int x0, int x1, int x2, int x3, int d0,
                         int d1, int d2, int d3, int os0, int os1, int os2, int os3, float scale,
                         int mode, int acc)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    int c3 = i % x3, r = i / x3;
    int c2 = r % x2;
    r /= x2;
    int c1 = r % x1, c0 = r / x1;
    int lo0 = x0 == d0 ? c0 : 0, hi0 = x0 == d0 ? c0 + 1 : d0;
    int lo1 = x1 == d1 ? c1 : 0, hi1 = x1 == d1 ? c1 + 1 : d1;
    int lo2 = x2 == d2 ? c2 : 0, hi2 = x2 == d2 ? c2 + 1 : d2;
    int lo3 = x3 == d3 ? c3 : 0, hi3 = x3 == d3 ? c3 + 1 : d3;
    float s = 0.0f, comp = 0.0f; /* Kahan-compensated: broadcast extents can be long */
    for (int j0 = lo0; j0 < hi0; j0++)
        for (int j1 = lo1; j1 < hi1; j1++)
            for (int j2 = lo2; j2 < hi2; j2++)
                for (int j3 = lo3; j3 < hi3; j3++) {
                    int k = ((j0 * d1 + j1) * d2 + j2) * d3 + j3;
                    float t = gy[gyo + k];
                    if (mode)
                        t *= o[oo + j0 * os0 + j1 * os1 + j2 * os2 + j3 * os3];
                    clg_kahan_add(&s, &comp, t);
                }
    float g = mode ? s : scale * s;
    gx[gxo + i] = acc ? gx[gxo + i] + g : g;
}

/* Fast paths of binary_bwd when x and the other operand are each full or a row broadcast over
 * `cols` trailing elements (xrow / orow).  Full x: one work-item per element, no loop.  Row x:
 * one work-item per column sums the rows in order (Kahan), as binary_bwd does. */
__kernel void binary_bwd_rows(__global const float *gy, int gyo, __global const float *o, int oo,
                              __global float *gx, int gxo, int n, int rows, int cols, int xrow, int orow,
                              float scale, int mode, int acc)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float g;
    if (!xrow) {
        float t = gy[gyo + i];
        g = mode ? t * o[oo + (orow ? i % cols : i)] : scale * t;
    } else {
        float s = 0.0f, comp = 0.0f;
        for (int r = 0; r < rows; r++) {
            int k = r * cols + i;
            float t = gy[gyo + k];
            if (mode)
                t *= o[oo + (orow ? i : k)];
            clg_kahan_add(&s, &comp, t);
        }
        g = mode ? s : scale * s;
    }
    gx[gxo + i] = acc ? gx[gxo + i] + g : g;
}

/* ---- bias_act: y = act(x + b), b a row vector over the last axis (act: a clg_act) ---- */

CLG_STATIC inline float act_fwd(float v, int act)
{
    switch (act) {
    case 1: return v > 0.0f ? v : 0.0f;
    case 2: return 0.5f * v * (1.0f + tanh(GELU_K * (v + GELU_C * v * v * v)));
    case 3: return tanh(v);
    case 4: return 1.0f / (1.0f + exp(-v));
    default: return v;
    }
}

/* act'(v) with out = act(v); the same expressions as the unary ops' backward. */
CLG_STATIC inline float act_grad(float v, float out, int act)
{
    switch (act) {
    case 1: return v > 0.0f ? 1.0f : 0.0f;
    case 2: {
        float t = tanh(GELU_K * (v + GELU_C * v * v * v));
        return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_C * v * v);
    }
    case 3: return 1.0f - out * out;
    case 4: return out * (1.0f - out);
    default: return 1.0f;
    }
}

/* 2-D: dim 0 over the columns, dim 1 over the rows. */
__kernel void bias_act_fwd(__global const float *x, int xo, __global const float *b, int bo, __global float *y,
                           int yo, int rows, int cols, int act)
{
    int c = get_global_id(0), r = get_global_id(1);
    if (c >= cols || r >= rows)
        return;
    int i = r * cols + c;
    y[yo + i] = act_fwd(x[xo + i] + b[bo + c], act);
}

/* Backward, 2-D: dim 0 over strips of 4 columns, dim 1 over blocks of rb rows.  Each work-item
 * computes dx = gy * act'(x + b) for its strip and block (written to gx when want_gx, added when
 * acc & 1), and the strip's column sums of dx over the block: into gb directly (adding when
 * acc & 2) when there is one block (direct), else into part[block * cols + c] for bias_act_db.
 * from_y: act' from the output y alone (relu: y > 0, as x + b > 0; none, tanh, sigmoid need y
 * only; the linear op, which keeps no x); x is then not read. */
__kernel void bias_act_bwd(__global const float *x, int xo, __global const float *b, int bo,
                           __global const float *y, int yo, __global const float *gy, int gyo,
                           __global float *gx, int gxo, __global float *gb, int gbo, int rows, int cols,
                           int rb, int act, int want_gx, int want_gb, int direct, int acc, int from_y)
{
    int c0 = get_global_id(0) * 4, blk = get_global_id(1);
    int r0 = blk * rb;
    if (c0 >= cols || r0 >= rows)
        return;
    int r1 = min(rows, r0 + rb);
    float4 s = (float4)(0.0f);
    if (c0 + 4 <= cols) {
        float4 bv = vload4(0, b + bo + c0);
        for (int r = r0; r < r1; r++) {
            int i = r * cols + c0;
            float4 v = from_y ? vload4(0, y + yo + i) : vload4(0, x + xo + i) + bv;
            float4 o = act >= 3 ? vload4(0, y + yo + i) : (float4)(0.0f);
            float4 g = vload4(0, gy + gyo + i);
            float4 d = (float4)(g.s0 * act_grad(v.s0, o.s0, act), g.s1 * act_grad(v.s1, o.s1, act),
                                g.s2 * act_grad(v.s2, o.s2, act), g.s3 * act_grad(v.s3, o.s3, act));
            if (want_gx)
                vstore4(acc & 1 ? vload4(0, gx + gxo + i) + d : d, 0, gx + gxo + i);
            s += d;
        }
    } else {
        float sa[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
        for (int r = r0; r < r1; r++)
            for (int k = 0; k < 4 && c0 + k < cols; k++) {
                int c = c0 + k, i = r * cols + c;
                float v = from_y ? y[yo + i] : x[xo + i] + b[bo + c];
                float d = gy[gyo + i] * act_grad(v, act >= 3 ? y[yo + i] : 0.0f, act);
                if (want_gx)
                    gx[gxo + i] = acc & 1 ? gx[gxo + i] + d : d;
                sa[k] += d;
            }
        s = (float4)(sa[0], sa[1], sa[2], sa[3]);
    }
    if (!want_gb)
        return;
    float sv[4] = { s.s0, s.s1, s.s2, s.s3 };
    for (int k = 0; k < 4 && c0 + k < cols; k++) {
        if (direct)
            gb[gbo + c0 + k] = acc & 2 ? gb[gbo + c0 + k] + sv[k] : sv[k];
        else
            gb[gbo + blk * cols + c0 + k] = sv[k];
    }
}

/* ---- bias_act, CPU style: work-groups of one work-item, float16 along the columns ---------- */

/* act_fwd on 16 lanes: relu and none as vector selects (bit-identical to act_fwd), the others
 * lane by lane through act_fwd (so that their results match the unfused ops exactly). */
CLG_STATIC inline float16 act_fwd16(float16 v, int act)
{
    if (act == 0)
        return v;
    if (act == 1)
        return select((float16)(0.0f), v, v > 0.0f);
    float t[16];
    vstore16(v, 0, t);
    for (int i = 0; i < 16; i++)
        t[i] = act_fwd(t[i], act);
    return vload16(0, t);
}

/* act'(v) on 16 lanes, as act_grad. */
CLG_STATIC inline float16 act_grad16(float16 v, float16 out, int act)
{
    if (act == 0)
        return (float16)(1.0f);
    if (act == 1)
        return select((float16)(0.0f), (float16)(1.0f), v > 0.0f);
    float t[16], o[16];
    vstore16(v, 0, t);
    vstore16(out, 0, o);
    for (int i = 0; i < 16; i++)
        t[i] = act_grad(t[i], o[i], act);
    return vload16(0, t);
}

/* Forward: work-item i takes rows [i*rpw, (i+1)*rpw), whole rows, 16 columns at a time. */
__kernel void bias_act_fwd_vec(__global const float *x, int xo, __global const float *b, int bo,
                               __global float *y, int yo, int rows, int cols, int act, int rpw)
{
    int r0 = get_global_id(0) * rpw, r1 = min(rows, r0 + rpw), cv = cols / 16 * 16;
    for (int r = r0; r < r1; r++) {
        size_t i = (size_t)r * cols;
        for (int c = 0; c < cv; c += 16)
            vstore16(act_fwd16(vload16(0, x + xo + i + c) + vload16(0, b + bo + c), act), 0, y + yo + i + c);
        for (int c = cv; c < cols; c++)
            y[yo + i + c] = act_fwd(x[xo + i + c] + b[bo + c], act);
    }
}

/* Backward, bias_act_bwd's contract with strips of 16 columns: dim 0 over strips, dim 1 over
 * blocks of rb rows.  Each column's sum runs over its rows in order, as bias_act_bwd's. */
__kernel void bias_act_bwd_vec(__global const float *x, int xo, __global const float *b, int bo,
                               __global const float *y, int yo, __global const float *gy, int gyo,
                               __global float *gx, int gxo, __global float *gb, int gbo, int rows, int cols,
                               int rb, int act, int want_gx, int want_gb, int direct, int acc, int from_y)
{
    int c0 = get_global_id(0) * 16, blk = get_global_id(1);
    int r0 = blk * rb, r1 = min(rows, r0 + rb);
    float sv[16];
    if (c0 + 16 <= cols) {
        float16 bv = vload16(0, b + bo + c0), s = (float16)(0.0f);
        for (int r = r0; r < r1; r++) {
            size_t i = (size_t)r * cols + c0;
            float16 v = from_y ? vload16(0, y + yo + i) : vload16(0, x + xo + i) + bv;
            float16 o = act >= 3 ? vload16(0, y + yo + i) : (float16)(0.0f);
            float16 d = vload16(0, gy + gyo + i) * act_grad16(v, o, act);
            if (want_gx)
                vstore16(acc & 1 ? vload16(0, gx + gxo + i) + d : d, 0, gx + gxo + i);
            s += d;
        }
        vstore16(s, 0, sv);
    } else {
        for (int k = 0; k < 16; k++)
            sv[k] = 0.0f;
        for (int r = r0; r < r1; r++)
            for (int k = 0; k < 16 && c0 + k < cols; k++) {
                int c = c0 + k;
                size_t i = (size_t)r * cols + c;
                float v = from_y ? y[yo + i] : x[xo + i] + b[bo + c];
                float d = gy[gyo + i] * act_grad(v, act >= 3 ? y[yo + i] : 0.0f, act);
                if (want_gx)
                    gx[gxo + i] = acc & 1 ? gx[gxo + i] + d : d;
                sv[k] += d;
            }
    }
    if (!want_gb)
        return;
    for (int k = 0; k < 16 && c0 + k < cols; k++) {
        if (direct)
            gb[gbo + c0 + k] = acc & 2 ? gb[gbo + c0 + k] + sv[k] : sv[k];
        else
            gb[gbo + blk * cols + c0 + k] = sv[k];
    }
}

/* Second pass of bias_act_bwd: gb[c] (+)= the compensated sum of the nblk partials of column c. */
__kernel void bias_act_db(__global const float *part, int cols, int nblk, __global float *gb, int gbo, int acc)
{
    int c = get_global_id(0);
    if (c >= cols)
        return;
    float s = 0.0f, comp = 0.0f;
    for (int k = 0; k < nblk; k++)
        clg_kahan_add(&s, &comp, part[k * cols + c]);
    gb[gbo + c] = acc ? gb[gbo + c] + s : s;
}
