/* loss.cl — cross-entropy (fused log-softmax + NLL), mse and masked mse; forward and backward.
 * Scalar results are reduced by one work-group (CLG_WG items, a power of two) with a local tree. */

/* Per-row cross-entropy: rowloss[i] = logsumexp(x_i) - x_i[label_i]; a label outside [0,C) is
 * flagged (op id in flag_op) and its row counts 0. */
__kernel void ce_rows(__global const float *x, int xo, __global const int *lab, int lo, __global float *rowloss,
                      int N, int C, __global int *flags, int flag_op)
{
    int i = get_global_id(0);
    if (i >= N)
        return;
    __global const float *row = x + xo + (long)i * C;
    int y = lab[lo + i];
    if (y < 0 || y >= C) {
        clg_flag_error(flags, flag_op, y, C);
        rowloss[i] = 0.0f;
        return;
    }
    float m = -INFINITY;
    for (int c = 0; c < C; c++)
        m = fmax(m, row[c]);
    float s = 0.0f;
    for (int c = 0; c < C; c++)
        s += exp(row[c] - m);
    rowloss[i] = m + log(s) - row[y];
}

/* out = scale * sum(v[0..n)), one work-group. */
__kernel void sum_scaled(__global const float *v, int n, float scale, __global float *out, int oo,
                         __local float *tmp)
{
    int l = get_local_id(0), L = get_local_size(0);
    float s = 0.0f, comp = 0.0f;
    for (int i = l; i < n; i += L) {
        float y = v[i] - comp;
        float t = s + y;
        comp = (t - s) - y;
        s = t;
    }
    tmp[l] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = L / 2; k > 0; k >>= 1) {
        if (l < k)
            tmp[l] += tmp[l + k];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0)
        out[oo] = tmp[0] * scale;
}

/* d logits = (softmax - onehot) * gout / N, one work-item per row. */
__kernel void ce_bwd(__global const float *x, int xo, __global const int *lab, int lo, __global const float *gy,
                     int gyo, __global float *gx, int gxo, int N, int C, int acc)
{
    int i = get_global_id(0);
    if (i >= N)
        return;
    __global const float *row = x + xo + (long)i * C;
    __global float *g = gx + gxo + (long)i * C;
    int y = lab[lo + i];
    float scale = gy[gyo] / (float)N;
    if (y < 0 || y >= C) {
        for (int c = 0; c < C; c++)
            g[c] = acc ? g[c] : 0.0f;
        return;
    }
    float m = -INFINITY;
    for (int c = 0; c < C; c++)
        m = fmax(m, row[c]);
    float s = 0.0f;
    for (int c = 0; c < C; c++)
        s += exp(row[c] - m);
    float inv = 1.0f / s;
    for (int c = 0; c < C; c++) {
        float v = (exp(row[c] - m) * inv - (c == y ? 1.0f : 0.0f)) * scale;
        g[c] = acc ? g[c] + v : v;
    }
}

/* Partial sums for (masked) squared error, one work-group: out[0] = sum(w*(p-t)^2), out[1] = sum(w),
 * with w = mask (or 1 when has_mask == 0).  Kahan-compensated per item, then a local tree. */
__kernel void sqerr_sum(__global const float *p, int po, __global const float *t, int to, __global const float *mk,
                        int mo, int has_mask, int n, __global float *out, __local float *tmp, __local float *tmpm)
{
    int l = get_local_id(0), L = get_local_size(0);
    float s = 0.0f, c1 = 0.0f, m = 0.0f;
    for (int i = l; i < n; i += L) {
        float w = has_mask ? mk[mo + i] : 1.0f;
        float d = p[po + i] - t[to + i];
        float y = w * d * d - c1;
        float z = s + y;
        c1 = (z - s) - y;
        s = z;
        m += w;
    }
    tmp[l] = s;
    tmpm[l] = m;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = L / 2; k > 0; k >>= 1) {
        if (l < k) {
            tmp[l] += tmp[l + k];
            tmpm[l] += tmpm[l + k];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) {
        out[0] = tmp[0];
        out[1] = tmpm[0];
    }
}

/* mse / masked mse forward finish: y = sums[0] / max(1, sums[1]). */
__kernel void sqerr_finish(__global const float *sums, __global float *y, int yo)
{
    if (get_global_id(0) == 0)
        y[yo] = sums[0] / fmax(1.0f, sums[1]);
}

/* d pred = 2 w (p - t) gout / max(1, count), d target = -d pred. */
__kernel void sqerr_bwd(__global const float *p, int po, __global const float *t, int to, __global const float *mk,
                        int mo, int has_mask, __global const float *sums, __global const float *gy, int gyo,
                        __global float *gp, int gpo, int want_p, __global float *gt, int gto, int want_t, int n,
                        int acc)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float w = has_mask ? mk[mo + i] : 1.0f;
    float g = 2.0f * w * (p[po + i] - t[to + i]) * gy[gyo] / fmax(1.0f, sums[1]);
    if (want_p)
        gp[gpo + i] = acc ? gp[gpo + i] + g : g;
    if (want_t)
        gt[gto + i] = acc ? gt[gto + i] - g : -g;
}
