/* reduce.cl — reductions: sum and mean over an axis or all, softmax and log_softmax over rows. */

/* Kernels come in three shapes: *_item (one work-item per output or row; for many short
 * reductions), *_group (one work-group per output or row with a local-memory tree;
 * the host launches them with a power-of-two local size) and, for softmax on CPUs, *_vec
 * (one work-item per row in work-groups of one, float16 along the row).  Serial loops use
 * Kahan compensation (clg_kahan_add, common.cl; per lane for float16) so long sums stay
 * accurate. */

CLG_STATIC inline float wg_max(__local float *sh, float v)
{
    int l = get_local_id(0), n = get_local_size(0);
    sh[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = n / 2; s > 0; s >>= 1) {
        if (l < s)
            sh[l] = fmax(sh[l], sh[l + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = sh[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* ---- sum / mean: x viewed as [outer, R, inner], y as [outer, inner] ------------ */

__kernel void reduce_sum_item(__global const float *x, int xo, __global float *y, int yo, int nout,
                              int R, int inner, float scale)
{
    int o = get_global_id(0);
    if (o >= nout)
        return;
    int base = xo + (o / inner) * R * inner + o % inner;
    float s = 0.0f, c = 0.0f;
    for (int r = 0; r < R; r++)
        clg_kahan_add(&s, &c, x[base + r * inner]);
    y[yo + o] = s * scale;
}

__kernel void reduce_sum_group(__global const float *x, int xo, __global float *y, int yo, int R,
                               int inner, float scale, __local float *sh)
{
    int o = get_group_id(0), l = get_local_id(0), wg = get_local_size(0);
    int base = xo + (o / inner) * R * inner + o % inner;
    float s = 0.0f, c = 0.0f;
    for (int r = l; r < R; r += wg)
        clg_kahan_add(&s, &c, x[base + r * inner]);
    s = clg_wg_sum(sh, s);
    if (l == 0)
        y[yo + o] = s * scale;
}

/* gx[outer, r, inner] = scale * gy[outer, inner] */
__kernel void reduce_sum_bwd(__global const float *gy, int gyo, __global float *gx, int gxo, int n,
                             int R, int inner, float scale, int acc)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    int o = (i / (R * inner)) * inner + i % inner;
    float g = scale * gy[gyo + o];
    gx[gxo + i] = acc ? gx[gxo + i] + g : g;
}

/* CPU style (clg__vec_kernels), work-groups of one.  inner == 1: a work-item per output, whose
 * R inputs are contiguous, float16 along them (compensated per lane, then folded).  inner > 1:
 * a work-item per 16 consecutive outputs of one outer index (grid: outer x ceil(inner / 16)),
 * walking r with one compensated sum per lane in reduce_sum_item's order. */
__kernel void reduce_sum_rows_vec(__global const float *x, int xo, __global float *y, int yo, int R, float scale)
{
    int o = get_global_id(0), rv = R / 16 * 16;
    __global const float *xr = x + xo + (size_t)o * R;
    float16 s16 = (float16)(0.0f), c16 = (float16)(0.0f);
    for (int r = 0; r < rv; r += 16)
        clg_kahan_add16(&s16, &c16, vload16(0, xr + r));
    float s = 0.0f, c = 0.0f;
    for (int r = rv; r < R; r++)
        clg_kahan_add(&s, &c, xr[r]);
    clg_kahan_add(&s, &c, clg_kahan_fold16(s16, c16));
    y[yo + o] = s * scale;
}

__kernel void reduce_sum_cols_vec(__global const float *x, int xo, __global float *y, int yo, int R, int inner,
                                  float scale)
{
    int strips = (inner + 15) / 16, g = get_global_id(0);
    int outer = g / strips, i0 = (g - outer * strips) * 16;
    __global const float *xb = x + xo + (size_t)outer * R * inner + i0;
    __global float *yb = y + yo + (size_t)outer * inner + i0;
    if (i0 + 16 <= inner) {
        float16 s = (float16)(0.0f), c = (float16)(0.0f);
        for (int r = 0; r < R; r++)
            clg_kahan_add16(&s, &c, vload16(0, xb + (size_t)r * inner));
        vstore16(s * scale, 0, yb);
    } else {
        for (int k = 0; k < inner - i0; k++) {
            float s = 0.0f, c = 0.0f;
            for (int r = 0; r < R; r++)
                clg_kahan_add(&s, &c, xb[(size_t)r * inner + k]);
            yb[k] = s * scale;
        }
    }
}

/* Backward of both: gx = scale * gy broadcast over r, the same work-item layout. */
__kernel void reduce_sum_bwd_rows_vec(__global const float *gy, int gyo, __global float *gx, int gxo, int R,
                                      float scale, int acc)
{
    int o = get_global_id(0), rv = R / 16 * 16;
    __global float *xr = gx + gxo + (size_t)o * R;
    float g = scale * gy[gyo + o];
    for (int r = 0; r < rv; r += 16)
        vstore16(acc ? vload16(0, xr + r) + g : (float16)(g), 0, xr + r);
    for (int r = rv; r < R; r++)
        xr[r] = acc ? xr[r] + g : g;
}

__kernel void reduce_sum_bwd_cols_vec(__global const float *gy, int gyo, __global float *gx, int gxo, int R,
                                      int inner, float scale, int acc)
{
    int strips = (inner + 15) / 16, gi = get_global_id(0);
    int outer = gi / strips, i0 = (gi - outer * strips) * 16, w = min(16, inner - i0);
    __global float *xb = gx + gxo + (size_t)outer * R * inner + i0;
    __global const float *gb = gy + gyo + (size_t)outer * inner + i0;
    if (w == 16) {
        float16 g = scale * vload16(0, gb);
        for (int r = 0; r < R; r++) {
            __global float *p = xb + (size_t)r * inner;
            vstore16(acc ? vload16(0, p) + g : g, 0, p);
        }
    } else {
        for (int r = 0; r < R; r++)
            for (int k = 0; k < w; k++) {
                float g = scale * gb[k];
                __global float *p = xb + (size_t)r * inner + k;
                *p = acc ? *p + g : g;
            }
    }
}

/* ---- softmax / log_softmax over rows of length C ----------------------------- */

/* A row whose max is -inf (all -inf) is shifted by 0 instead, giving NaN like 0/0. */
CLG_STATIC inline float safe_shift(float m) { return isinf(m) && m < 0.0f ? 0.0f : m; }

__kernel void softmax_item(__global const float *x, int xo, __global float *y, int yo, int rows,
                           int C, int logsm)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    __global const float *xr = x + xo + r * C;
    __global float *yr = y + yo + r * C;
    float m = -INFINITY;
    for (int j = 0; j < C; j++)
        m = fmax(m, xr[j]);
    m = safe_shift(m);
    float s = 0.0f, c = 0.0f;
    for (int j = 0; j < C; j++)
        clg_kahan_add(&s, &c, exp(xr[j] - m));
    if (logsm) {
        float ls = m + log(s);
        for (int j = 0; j < C; j++)
            yr[j] = xr[j] - ls;
    } else {
        float inv = 1.0f / s;
        for (int j = 0; j < C; j++)
            yr[j] = exp(xr[j] - m) * inv;
    }
}

__kernel void softmax_group(__global const float *x, int xo, __global float *y, int yo, int C,
                            int logsm, __local float *sh)
{
    int r = get_group_id(0), l = get_local_id(0), wg = get_local_size(0);
    __global const float *xr = x + xo + r * C;
    __global float *yr = y + yo + r * C;
    float m = -INFINITY;
    for (int j = l; j < C; j += wg)
        m = fmax(m, xr[j]);
    m = safe_shift(wg_max(sh, m));
    float s = 0.0f, c = 0.0f;
    for (int j = l; j < C; j += wg)
        clg_kahan_add(&s, &c, exp(xr[j] - m));
    s = clg_wg_sum(sh, s);
    if (logsm) {
        float ls = m + log(s);
        for (int j = l; j < C; j += wg)
            yr[j] = xr[j] - ls;
    } else {
        float inv = 1.0f / s;
        for (int j = l; j < C; j += wg)
            yr[j] = exp(xr[j] - m) * inv;
    }
}

/* CPU style: one work-item (work-group of 1) per row, float16 vectors along it, so that the
 * exp is vectorised (a row of 1000 per work-item scalar, or per work-group with the exp in a
 * loop between barriers, stays scalar on PoCL: softmax [128,1000] 1.2 ms).  exp(x - max) is
 * stored in y by the summing pass and scaled in place, so each element takes one exp.  The
 * sum is compensated per lane (clg_kahan_add16), then the lanes are folded. */
__kernel void softmax_vec(__global const float *x, int xo, __global float *y, int yo, int C, int logsm)
{
    int r = get_global_id(0), cv = C / 16 * 16;
    __global const float *xr = x + xo + (size_t)r * C;
    __global float *yr = y + yo + (size_t)r * C;
    float m = safe_shift(clg_row_max16(xr, C));
    float16 s16 = (float16)(0.0f), c16 = (float16)(0.0f);
    for (int j = 0; j < cv; j += 16) {
        float16 e = exp(vload16(0, xr + j) - m);
        if (!logsm)
            vstore16(e, 0, yr + j);
        clg_kahan_add16(&s16, &c16, e);
    }
    float s = 0.0f, c = 0.0f;
    for (int j = cv; j < C; j++) {
        float e = exp(xr[j] - m);
        if (!logsm)
            yr[j] = e;
        clg_kahan_add(&s, &c, e);
    }
    clg_kahan_add(&s, &c, clg_kahan_fold16(s16, c16));
    if (logsm) {
        float ls = m + log(s);
        for (int j = 0; j < cv; j += 16)
            vstore16(vload16(0, xr + j) - ls, 0, yr + j);
        for (int j = cv; j < C; j++)
            yr[j] = xr[j] - ls;
    } else {
        float inv = 1.0f / s;
        for (int j = 0; j < cv; j += 16)
            vstore16(vload16(0, yr + j) * inv, 0, yr + j);
        for (int j = cv; j < C; j++)
            yr[j] *= inv;
    }
}

/* softmax:     gx = y * (gy - sum(gy * y))
 * log_softmax: gx = gy - exp(y) * sum(gy) */
__kernel void softmax_bwd_item(__global const float *y, int yo, __global const float *gy, int gyo,
                               __global float *gx, int gxo, int rows, int C, int logsm, int acc)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    int b = r * C;
    float s = 0.0f, c = 0.0f;
    for (int j = 0; j < C; j++)
        clg_kahan_add(&s, &c, logsm ? gy[gyo + b + j] : gy[gyo + b + j] * y[yo + b + j]);
    for (int j = 0; j < C; j++) {
        float yv = y[yo + b + j], gv = gy[gyo + b + j];
        float g = logsm ? gv - exp(yv) * s : yv * (gv - s);
        gx[gxo + b + j] = acc ? gx[gxo + b + j] + g : g;
    }
}

__kernel void softmax_bwd_group(__global const float *y, int yo, __global const float *gy, int gyo,
                                __global float *gx, int gxo, int C, int logsm, int acc,
                                __local float *sh)
{
    int r = get_group_id(0), l = get_local_id(0), wg = get_local_size(0);
    int b = r * C;
    float s = 0.0f, c = 0.0f;
    for (int j = l; j < C; j += wg)
        clg_kahan_add(&s, &c, logsm ? gy[gyo + b + j] : gy[gyo + b + j] * y[yo + b + j]);
    s = clg_wg_sum(sh, s);
    for (int j = l; j < C; j += wg) {
        float yv = y[yo + b + j], gv = gy[gyo + b + j];
        float g = logsm ? gv - exp(yv) * s : yv * (gv - s);
        gx[gxo + b + j] = acc ? gx[gxo + b + j] + g : g;
    }
}

/* Backward of softmax_vec's layout: one work-item per row, float16 along it. */
__kernel void softmax_bwd_vec(__global const float *y, int yo, __global const float *gy, int gyo,
                              __global float *gx, int gxo, int C, int logsm, int acc)
{
    int r = get_global_id(0), cv = C / 16 * 16;
    size_t b = (size_t)r * C;
    __global const float *yr = y + yo + b, *gr = gy + gyo + b;
    __global float *xr = gx + gxo + b;
    float16 s16 = (float16)(0.0f), c16 = (float16)(0.0f);
    for (int j = 0; j < cv; j += 16) {
        float16 g = vload16(0, gr + j);
        clg_kahan_add16(&s16, &c16, logsm ? g : g * vload16(0, yr + j));
    }
    float s = 0.0f, c = 0.0f;
    for (int j = cv; j < C; j++)
        clg_kahan_add(&s, &c, logsm ? gr[j] : gr[j] * yr[j]);
    clg_kahan_add(&s, &c, clg_kahan_fold16(s16, c16));
    for (int j = 0; j < cv; j += 16) {
        float16 yv = vload16(0, yr + j), gv = vload16(0, gr + j);
        float16 g = logsm ? gv - exp(yv) * s : yv * (gv - s);
        vstore16(acc ? vload16(0, xr + j) + g : g, 0, xr + j);
    }
    for (int j = cv; j < C; j++) {
        float yv = yr[j], gv = gr[j];
        float g = logsm ? gv - exp(yv) * s : yv * (gv - s);
        xr[j] = acc ? xr[j] + g : g;
    }
}
