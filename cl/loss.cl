/* loss.cl — cross-entropy (fused log-softmax + NLL), mse and masked mse; forward and backward.
 * Scalar results: cross-entropy by one work-group with a local tree; mse in two stages (many groups
 * write partial sums, one group adds them). */

/* e^x for x <= 0 (the logits' x - max; NaN stays NaN), from additions and multiplications only
 * (Cephes' expf: x = n ln2 + r with ln2 in two parts, |r| <= ln2/2, a degree-7 polynomial, 2^n
 * from exponent bits), so the scalar and float16 forms below give the same bits on every device
 * (the builtin exp differs between PoCL's scalar and vector code and between runtimes).  Within
 * 1 ulp of e^x (0.98 at most over [-87, 0]); 0 below -87, where e^x nears float's denormals.
 * CE_EXP_POLY(T): both forms' reduction and polynomial (n and p of x), one text for the same
 * operations. */
#define CE_EXP_POLY(T)                                \
    T n = floor(x * 1.44269504088896341f + 0.5f);     \
    T r = x - n * 0.693359375f;                       \
    r = r + n * 2.12194440e-4f;                       \
    T p = (T)(1.9875691500e-4f);                      \
    p = p * r + 1.3981999507e-3f;                     \
    p = p * r + 8.3334519073e-3f;                     \
    p = p * r + 4.1665795894e-2f;                     \
    p = p * r + 1.6666665459e-1f;                     \
    p = p * r + 5.0000001201e-1f;                     \
    p = p * (r * r) + r + 1.0f;

CLG_STATIC inline float ce_exp(float x)
{
#pragma OPENCL FP_CONTRACT OFF
    CE_EXP_POLY(float)
    float y = p * as_float((max(min((int)n, 0), -125) + 127) << 23);
    return x < -87.0f ? 0.0f : y;
}

/* ce_exp in 16 lanes.  (min and max with vector bounds: Oclgrind 21.10 evaluates
 * clamp(int16, int, int) wrongly.) */
CLG_STATIC inline float16 ce_exp16(float16 x)
{
#pragma OPENCL FP_CONTRACT OFF
    CE_EXP_POLY(float16)
    float16 y = p * as_float16((max(min(convert_int16(n), (int16)(0)), (int16)(-125)) + 127) << 23);
    return select(y, (float16)(0.0f), x < -87.0f);
}

/* The cross-entropy kernels' e^x for a row of C logits: ce_exp from 16 classes (the CPU style's
 * float16 lanes; SimCLR's 512), the builtin exp below (the 10-class heads keep the bits their
 * published results were measured with).  Every kernel takes the same one for a given C. */
CLG_STATIC inline float ce_expc(float x, int C) { return C >= 16 ? ce_exp(x) : exp(x); }

/* Max m of row[0..C) and the sum of ce_expc(row[c] - m) (the parts of logsumexp). */
CLG_STATIC inline float ce_row_sumexp(__global const float *row, int C, float *m_out)
{
    float m = -INFINITY;
    for (int c = 0; c < C; c++)
        m = fmax(m, row[c]);
    float s = 0.0f;
    for (int c = 0; c < C; c++)
        s += ce_expc(row[c] - m, C);
    *m_out = m;
    return s;
}

/* Row i's cross-entropy, logsumexp(x_i) - x_i[label_i]; a label outside [0,C) is flagged (op id
 * in flag_op) and the row counts 0. */
CLG_STATIC inline float ce_row_loss(__global const float *x, int xo, __global const int *lab, int lo, int i, int C,
                                    __global int *flags, int flag_op)
{
    __global const float *row = x + xo + (long)i * C;
    int y = lab[lo + i];
    if (y < 0 || y >= C) {
        clg_flag_error(flags, flag_op, y, C);
        return 0.0f;
    }
    float m;
    float s = ce_row_sumexp(row, C, &m);
    return m + log(s) - row[y];
}

/* Per-row cross-entropy (rowloss[i], one work-item per row), for sum_scaled to average. */
__kernel void ce_rows(__global const float *x, int xo, __global const int *lab, int lo, __global float *rowloss,
                      int N, int C, __global int *flags, int flag_op)
{
    int i = get_global_id(0);
    if (i < N)
        rowloss[i] = ce_row_loss(x, xo, lab, lo, i, C, flags, flag_op);
}

/* A row's d logits, (softmax - onehot) * scale from its max m and inv = 1 / (its sum of exps),
 * added to g when acc; y < 0 (no valid label): zeros, or nothing added. */
CLG_STATIC inline void ce_row_grad_store(__global const float *row, __global float *g, int C, int y, float m, float inv,
                                         float scale, int acc)
{
    if (y < 0) {
        for (int c = 0; c < C && !acc; c++)
            g[c] = 0.0f;
        return;
    }
    for (int c = 0; c < C; c++) {
        float v = (ce_expc(row[c] - m, C) * inv - (c == y ? 1.0f : 0.0f)) * scale;
        g[c] = acc ? g[c] + v : v;
    }
}

/* Row i of d logits = (softmax - onehot) * scale, added to g when acc; zeros (or nothing added)
 * for a label outside [0,C). */
CLG_STATIC inline void ce_row_grad(__global const float *x, int xo, __global const int *lab, int lo, __global float *gx,
                                   int gxo, int i, int C, float scale, int acc)
{
    __global const float *row = x + xo + (long)i * C;
    int y = lab[lo + i];
    float m = 0.0f, inv = 0.0f;
    if (y < 0 || y >= C)
        y = -1;
    else
        inv = 1.0f / ce_row_sumexp(row, C, &m);
    ce_row_grad_store(row, gx + gxo + (long)i * C, C, y, m, inv, scale, acc);
}

/* Row i's cross-entropy, as ce_row_loss, and its d logits, as ce_row_grad (acc: added to g), from
 * one max and one sum of exps (the values either function computes, so the same bits). */
CLG_STATIC inline float ce_row_loss_grad(__global const float *x, int xo, __global const int *lab, int lo,
                                         __global float *gx, int gxo, int i, int C, float scale, int acc,
                                         __global int *flags, int flag_op)
{
    __global const float *row = x + xo + (long)i * C;
    __global float *g = gx + gxo + (long)i * C;
    int y = lab[lo + i];
    if (y < 0 || y >= C) {
        clg_flag_error(flags, flag_op, y, C);
        ce_row_grad_store(row, g, C, -1, 0.0f, 0.0f, scale, acc);
        return 0.0f;
    }
    float m;
    float s = ce_row_sumexp(row, C, &m);
    ce_row_grad_store(row, g, C, y, m, 1.0f / s, scale, acc);
    return m + log(s) - row[y];
}

/* Per-row cross-entropy and d logits (grad 1 writes them, 2 adds), one work-item per row: the
 * fused loss entry for batches too large for one work-group (ce_rows_grad, then sum_scaled). */
__kernel void ce_rows_grad(__global const float *x, int xo, __global const int *lab, int lo, __global float *rowloss,
                           int N, int C, __global int *flags, int flag_op, float scale, __global float *gx, int gxo,
                           int grad)
{
    int i = get_global_id(0);
    if (i < N)
        rowloss[i] = ce_row_loss_grad(x, xo, lab, lo, gx, gxo, i, C, scale, grad == 2, flags, flag_op);
}

/* out = scale * the sum of the rows' cross-entropies, one work-group: ce_rows and sum_scaled in
 * one launch (and one kernel to compile) with sum_scaled's order (item l adds rows l, l + L, ...
 * Kahan-compensated, then the group's tree), so the same bits at the same group size.
 * grad (the training loss, whose gradient seed is 1: the graph's fused loss entry): also d logits
 * into gx as ce_bwd at gout = 1 (grad 1 writes, 2 adds); 0: gx is not touched. */
__kernel void ce_mean(__global const float *x, int xo, __global const int *lab, int lo, int N, int C,
                      __global int *flags, int flag_op, float scale, __global float *out, int oo,
                      __global float *gx, int gxo, int grad, __local float *tmp)
{
    int l = get_local_id(0), L = get_local_size(0);
    float s = 0.0f, comp = 0.0f;
    for (int i = l; i < N; i += L)
        clg_kahan_add(&s, &comp,
                      grad ? ce_row_loss_grad(x, xo, lab, lo, gx, gxo, i, C, scale, grad == 2, flags, flag_op)
                           : ce_row_loss(x, xo, lab, lo, i, C, flags, flag_op));
    s = clg_wg_sum(tmp, s);
    if (l == 0)
        out[oo] = s * scale;
}

/* out = scale * sum(v[0..n)), one work-group. */
__kernel void sum_scaled(__global const float *v, int n, float scale, __global float *out, int oo,
                         __local float *tmp)
{
    int l = get_local_id(0), L = get_local_size(0);
    float s = 0.0f, comp = 0.0f;
    for (int i = l; i < n; i += L)
        clg_kahan_add(&s, &comp, v[i]);
    s = clg_wg_sum(tmp, s);
    if (l == 0)
        out[oo] = s * scale;
}

/* d logits = (softmax - onehot) * gout / N, one work-item per row. */
__kernel void ce_bwd(__global const float *x, int xo, __global const int *lab, int lo, __global const float *gy,
                     int gyo, __global float *gx, int gxo, int N, int C, int acc)
{
    int i = get_global_id(0);
    if (i < N)
        ce_row_grad(x, xo, lab, lo, gx, gxo, i, C, gy[gyo] / (float)N, acc);
}

/* Tree reduction of the two local arrays a[0..L), b[0..L) into a[0], b[0] (L a power of two). */
CLG_STATIC void sum2_local(__local float *a, __local float *b, int l, int L)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = L / 2; k > 0; k >>= 1) {
        if (l < k) {
            a[l] += a[l + k];
            b[l] += b[l + k];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

/* Stage 1 of the (masked) squared error, many work-groups of CLG_WG items (a power of two): group
 * g writes part[2g] = sum(w*(p-t)^2) (0 when want_err == 0) and part[2g+1] = sum(w) over its
 * grid-stride slice, w = mask (or 1 when has_mask == 0).  Kahan-compensated per item, then a
 * local tree. */
__kernel void sqerr_partial(__global const float *p, int po, __global const float *t, int to,
                            __global const float *mk, int mo, int has_mask, int want_err, int n,
                            __global float *part)
{
    __local float tmp[CLG_WG], tmpm[CLG_WG];
    int l = get_local_id(0), L = get_local_size(0);
    int stride = get_num_groups(0) * L;
    float s = 0.0f, c1 = 0.0f, m = 0.0f;
    for (int i = get_global_id(0); i < n; i += stride) {
        float w = has_mask ? mk[mo + i] : 1.0f;
        m += w;
        if (want_err) {
            float d = p[po + i] - t[to + i];
            clg_kahan_add(&s, &c1, w * d * d);
        }
    }
    tmp[l] = s;
    tmpm[l] = m;
    sum2_local(tmp, tmpm, l, L);
    if (l == 0) {
        part[2 * get_group_id(0)] = tmp[0];
        part[2 * get_group_id(0) + 1] = tmpm[0];
    }
}

/* Stage 2, one work-group: sums[0..1] = the totals of the ng partial pairs (compensated), and
 * when yo >= 0 also y[yo] = sums[0] / max(1, sums[1]) (the forward's loss). */
__kernel void sqerr_final(__global const float *part, int ng, __global float *sums, __global float *y, int yo)
{
    __local float tmp[CLG_WG], tmpm[CLG_WG];
    int l = get_local_id(0), L = get_local_size(0);
    float s = 0.0f, c1 = 0.0f, m = 0.0f, c2 = 0.0f;
    for (int g = l; g < ng; g += L) {
        clg_kahan_add(&s, &c1, part[2 * g]);
        clg_kahan_add(&m, &c2, part[2 * g + 1]);
    }
    tmp[l] = s;
    tmpm[l] = m;
    sum2_local(tmp, tmpm, l, L);
    if (l == 0) {
        sums[0] = tmp[0];
        sums[1] = tmpm[0];
        if (yo >= 0)
            y[yo] = tmp[0] / fmax(1.0f, tmpm[0]);
    }
}

/* d pred = 2 w (p - t) gout / max(1, count), d target = -d pred; count = sums[1] when has_mask,
 * else ncount from the host. */
__kernel void sqerr_bwd(__global const float *p, int po, __global const float *t, int to, __global const float *mk,
                        int mo, int has_mask, __global const float *sums, float ncount, __global const float *gy,
                        int gyo, __global float *gp, int gpo, int want_p, __global float *gt, int gto, int want_t,
                        int n, int acc)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float w = has_mask ? mk[mo + i] : 1.0f;
    float g = 2.0f * w * (p[po + i] - t[to + i]) * gy[gyo] / fmax(1.0f, has_mask ? sums[1] : ncount);
    if (want_p)
        gp[gpo + i] = acc ? gp[gpo + i] + g : g;
    if (want_t)
        gt[gto + i] = acc ? gt[gto + i] - g : -g;
}

/* ---- CPU style (clg__vec_kernels): work-groups of one, float16 along contiguous chunks ---- */

/* Stage 1 of sqerr_partial's contract: work-item g sums elements [g*chunk, (g+1)*chunk) into
 * part[2g] (err, compensated per lane) and part[2g+1] (mask count). */
__kernel void sqerr_partial_vec(__global const float *p, int po, __global const float *t, int to,
                                __global const float *mk, int mo, int has_mask, int want_err, int n, int chunk,
                                __global float *part)
{
    int g = get_global_id(0), i0 = g * chunk, i1 = min(n, i0 + chunk), iv = i0 + (i1 - i0) / 16 * 16;
    float16 s16 = (float16)(0.0f), c16 = (float16)(0.0f), m16 = (float16)(0.0f);
    for (int i = i0; i < iv; i += 16) {
        float16 w = has_mask ? vload16(0, mk + mo + i) : (float16)(1.0f);
        m16 += w;
        if (want_err) {
            float16 d = vload16(0, p + po + i) - vload16(0, t + to + i);
            clg_kahan_add16(&s16, &c16, w * d * d);
        }
    }
    float s = 0.0f, c = 0.0f, m = 0.0f;
    for (int i = iv; i < i1; i++) {
        float w = has_mask ? mk[mo + i] : 1.0f;
        m += w;
        if (want_err) {
            float d = p[po + i] - t[to + i];
            clg_kahan_add(&s, &c, w * d * d);
        }
    }
    clg_kahan_add(&s, &c, clg_kahan_fold16(s16, c16));
    float mv[16];
    vstore16(m16, 0, mv);
    for (int k = 0; k < 16; k++)
        m += mv[k];
    part[2 * g] = s;
    part[2 * g + 1] = m;
}

/* sqerr_bwd over chunks of 16 * per elements per work-item, float16 (bit-identical to it). */
__kernel void sqerr_bwd_vec(__global const float *p, int po, __global const float *t, int to,
                            __global const float *mk, int mo, int has_mask, __global const float *sums,
                            float ncount, __global const float *gy, int gyo, __global float *gp, int gpo,
                            int want_p, __global float *gt, int gto, int want_t, int n, int acc, int chunk)
{
    int i0 = get_global_id(0) * chunk, i1 = min(n, i0 + chunk), iv = i0 + (i1 - i0) / 16 * 16;
    float gs = gy[gyo], den = fmax(1.0f, has_mask ? sums[1] : ncount);
    for (int i = i0; i < iv; i += 16) {
        float16 w = has_mask ? vload16(0, mk + mo + i) : (float16)(1.0f);
        float16 g = 2.0f * w * (vload16(0, p + po + i) - vload16(0, t + to + i)) * gs / den;
        if (want_p)
            vstore16(acc ? vload16(0, gp + gpo + i) + g : g, 0, gp + gpo + i);
        if (want_t)
            vstore16(acc ? vload16(0, gt + gto + i) - g : -g, 0, gt + gto + i);
    }
    for (int i = iv; i < i1; i++) {
        float w = has_mask ? mk[mo + i] : 1.0f;
        float g = 2.0f * w * (p[po + i] - t[to + i]) * gs / den;
        if (want_p)
            gp[gpo + i] = acc ? gp[gpo + i] + g : g;
        if (want_t)
            gt[gto + i] = acc ? gt[gto + i] - g : -g;
    }
}

/* ce_rows_grad for the fused loss entry's first contribution (grad 1), a row per work-item: the
 * max and the exps (each taken once, kept in the gradient's row) in float16 lanes (ce_exp16: from
 * 16 classes ce_expc is ce_exp), their sum in ce_row_sumexp's order, then d logits in lanes: the
 * same bits as ce_rows_grad.  grad 2 (add to the gradient) and a label outside [0, C) take
 * ce_row_loss_grad itself. */
__kernel void ce_rows_grad_vec(__global const float *x, int xo, __global const int *lab, int lo,
                               __global float *rowloss, int N, int C, __global int *flags, int flag_op, float scale,
                               __global float *gx, int gxo, int grad)
{
    int i = get_global_id(0);
    if (i >= N)
        return;
    int y = lab[lo + i];
    if (grad == 2 || y < 0 || y >= C) {
        rowloss[i] = ce_row_loss_grad(x, xo, lab, lo, gx, gxo, i, C, scale, grad == 2, flags, flag_op);
        return;
    }
    __global const float *row = x + xo + (long)i * C;
    __global float *g = gx + gxo + (long)i * C;
    int cv = C / 16 * 16;
    float m = clg_row_max16(row, C);
    for (int c = 0; c < cv; c += 16)
        vstore16(ce_exp16(vload16(0, row + c) - m), 0, g + c);
    for (int c = cv; c < C; c++)
        g[c] = ce_expc(row[c] - m, C);
    float s = 0.0f;
    for (int c = 0; c < C; c++)
        s += g[c];
    float inv = 1.0f / s;
    const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int c = 0; c < cv; c += 16) {
        float16 oh = select((float16)(0.0f), (float16)(1.0f), (int16)(c) + lane == (int16)(y));
        vstore16((vload16(0, g + c) * inv - oh) * scale, 0, g + c);
    }
    for (int c = cv; c < C; c++)
        g[c] = (g[c] * inv - (c == y ? 1.0f : 0.0f)) * scale;
    rowloss[i] = m + log(s) - row[y];
}
