/* embed.cl — representation ops: embedding gather/scatter-add, l2_normalize, similarity, contrastive loss, attention lookup. */

#define CLG_L2_EPS 1e-12f

/* ---- embedding ---------------------------------------------------------------------------------- */

/* y[r, c] = table[idx[r], c]; an index outside [0, V) gives a zero row and is flagged. */
__kernel void emb_fwd(__global const float *t, int to, __global const int *idx, int io, __global float *y, int yo,
                      int n, int V, int D, __global int *flags, int flag_op)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    int r = i / D, c = i - r * D;
    int k = idx[io + r];
    if (k < 0 || k >= V) {
        if (c == 0)
            clg_flag_error(flags, flag_op, k, V);
        y[yo + i] = 0.0f;
        return;
    }
    y[yo + i] = t[to + (long)k * D + c];
}

/* Backward is a counting sort of index positions by table row, then one summing work-item per
 * (row, column) in index order: deterministic and free of float atomics. */

/* cnt[k] = number of in-range positions holding row k (cnt zeroed beforehand). */
__kernel void emb_count(__global const int *idx, int io, int n, int V, __global int *cnt)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    int k = idx[io + i];
    if (k >= 0 && k < V)
        atomic_inc(&cnt[k]);
}

/* start = exclusive prefix sum of cnt, cur = a copy (the placement cursors); one work-item. */
__kernel void emb_scan(__global const int *cnt, __global int *start, __global int *cur, int V)
{
    if (get_global_id(0) != 0)
        return;
    int s = 0;
    for (int k = 0; k < V; k++) {
        start[k] = s;
        cur[k] = s;
        s += cnt[k];
    }
}

/* perm[cur[k]++] = i: positions land in their row's bucket, in arbitrary order. */
__kernel void emb_place(__global const int *idx, int io, int n, int V, __global int *cur, __global int *perm)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    int k = idx[io + i];
    if (k >= 0 && k < V)
        perm[atomic_inc(&cur[k])] = i;
}

/* Sort each row's bucket by position (insertion sort: buckets are short) to fix the order. */
__kernel void emb_sort(__global const int *start, __global const int *cnt, __global int *perm, int V)
{
    int k = get_global_id(0);
    if (k >= V)
        return;
    int b = start[k], e = b + cnt[k];
    for (int j = b + 1; j < e; j++) {
        int v = perm[j], m = j - 1;
        while (m >= b && perm[m] > v) {
            perm[m + 1] = perm[m];
            m--;
        }
        perm[m + 1] = v;
    }
}

/* Work-item (j, c) for sorted slot j: the first slot of each bucket sums the bucket's rows of gy
 * in index order and adds the sum into gt[row, c] (one writer per table element).  Slots past
 * the number of placed (in-range) positions, cur[V-1] after placement, are unused. */
__kernel void emb_scatter(__global const int *idx, int io, __global const int *start, __global const int *cnt,
                          __global const int *perm, __global const int *cur, int V, __global const float *gy,
                          int gyo, __global float *gt, int gto, int n, int D)
{
    int j = get_global_id(0), c = get_global_id(1);
    if (j >= n || c >= D || j >= cur[V - 1])
        return;
    int k = idx[io + perm[j]];
    if (start[k] != j)
        return;
    float s = 0.0f;
    for (int e = j + cnt[k]; j < e; j++)
        s += gy[gyo + (long)perm[j] * D + c];
    long o = gto + (long)k * D + c;
    gt[o] += s;
}

/* CPU style (clg__vec_kernels), work-groups of one, float16 along D.  Gather: work-item g copies
 * rows [g*rpw, (g+1)*rpw) of y (n = rows * D elements), flagging bad indices as emb_fwd does. */
__kernel void emb_fwd_vec(__global const float *t, int to, __global const int *idx, int io, __global float *y,
                          int yo, int n, int V, int D, __global int *flags, int flag_op, int rpw)
{
    int rows = D ? n / D : 0, r0 = get_global_id(0) * rpw, r1 = min(rows, r0 + rpw), dv = D / 16 * 16;
    for (int r = r0; r < r1; r++) {
        int k = idx[io + r];
        __global float *yr = y + yo + (long)r * D;
        int ok = k >= 0 && k < V;
        if (!ok)
            clg_flag_error(flags, flag_op, k, V);
        __global const float *tr = t + to + (ok ? (long)k * D : 0);
        for (int c = 0; c < dv; c += 16)
            vstore16(ok ? vload16(0, tr + c) : (float16)(0.0f), 0, yr + c);
        for (int c = dv; c < D; c++)
            yr[c] = ok ? tr[c] : 0.0f;
    }
}

/* Scatter by table rows: work-item g takes rows [g*rpw, (g+1)*rpw) of gt and writes each whole
 * row, the sum of its bucket's rows of gy in index order (as emb_scatter, per column), added to
 * the old value when acc, else stored (rows without positions become zeros): no separate fill. */
__kernel void emb_rows_vec(__global const int *start, __global const int *cnt, __global const int *perm, int V,
                           __global const float *gy, int gyo, __global float *gt, int gto, int D, int rpw, int acc)
{
    int k0 = get_global_id(0) * rpw, k1 = min(V, k0 + rpw), dv = D / 16 * 16;
    for (int k = k0; k < k1; k++) {
        int b = start[k], e = b + cnt[k];
        __global float *g = gt + gto + (long)k * D;
        for (int c = 0; c < dv; c += 16) {
            float16 s = (float16)(0.0f);
            for (int q = b; q < e; q++)
                s += vload16(0, gy + gyo + (long)perm[q] * D + c);
            vstore16(acc ? vload16(0, g + c) + s : (float16)(0.0f) + s, 0, g + c);
        }
        for (int c = dv; c < D; c++) {
            float s = 0.0f;
            for (int q = b; q < e; q++)
                s += gy[gyo + (long)perm[q] * D + c];
            g[c] = acc ? g[c] + s : 0.0f + s;
        }
    }
}

/* ---- l2_normalize ------------------------------------------------------------------------------- */

/* One work-item per row: y = x / max(||x||, eps). */
__kernel void l2n_fwd(__global const float *x, int xo, __global float *y, int yo, int rows, int D)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    __global const float *xr = x + xo + (long)r * D;
    __global float *yr = y + yo + (long)r * D;
    float s = 0.0f;
    for (int c = 0; c < D; c++)
        s += xr[c] * xr[c];
    float inv = 1.0f / fmax(sqrt(s), CLG_L2_EPS);
    for (int c = 0; c < D; c++)
        yr[c] = xr[c] * inv;
}

/* dx = (g - y (y.g)) / ||x|| when ||x|| > eps, else g / eps. */
__kernel void l2n_bwd(__global const float *x, int xo, __global const float *y, int yo, __global const float *g,
                      int go, __global float *gx, int gxo, int rows, int D, int acc)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    __global const float *xr = x + xo + (long)r * D;
    __global const float *yr = y + yo + (long)r * D;
    __global const float *gr = g + go + (long)r * D;
    __global float *dr = gx + gxo + (long)r * D;
    float s = 0.0f, yg = 0.0f;
    for (int c = 0; c < D; c++) {
        s += xr[c] * xr[c];
        yg += yr[c] * gr[c];
    }
    float nrm = sqrt(s);
    int small = !(nrm > CLG_L2_EPS);
    float inv = 1.0f / fmax(nrm, CLG_L2_EPS);
    for (int c = 0; c < D; c++) {
        float v = small ? gr[c] * inv : (gr[c] - yr[c] * yg) * inv;
        dr[c] = acc ? dr[c] + v : v;
    }
}

/* ---- similarity --------------------------------------------------------------------------------- */

__kernel void sim_fwd(__global const float *x, int xo, __global const float *y, int yo, __global float *o, int oo,
                      int N, int D)
{
    int r = get_global_id(0);
    if (r >= N)
        return;
    float s = 0.0f;
    for (int c = 0; c < D; c++)
        s += x[xo + (long)r * D + c] * y[yo + (long)r * D + c];
    o[oo + r] = s;
}

/* gx[r, c] = g[r] * other[r, c], one work-item per element. */
__kernel void sim_bwd(__global const float *other, int ob, __global const float *g, int go, __global float *gx,
                      int gxo, int n, int D, int acc)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float v = g[go + i / D] * other[ob + i];
    gx[gxo + i] = acc ? gx[gxo + i] + v : v;
}

/* ---- contrastive_loss (symmetric InfoNCE) ------------------------------------------------------- */

/* S[N,N] = Xn·Ynᵀ, logits = exp(ls) S.  Work-item r < N: row r's log-sum-exp into lse[r];
 * r >= N: column r-N's into lse[r].  term[r] = lse[r] - logits[k,k]. */
__kernel void clip_lse(__global const float *S, __global const float *ls, int lso, __global float *lse,
                       __global float *term, int N)
{
    int r = get_global_id(0);
    if (r >= 2 * N)
        return;
    float sc = exp(ls[lso]);
    int col = r >= N, k = col ? r - N : r;
    long step = col ? N : 1, base = col ? k : (long)k * N;
    float m = -INFINITY;
    for (int j = 0; j < N; j++)
        m = fmax(m, sc * S[base + j * step]);
    float s = 0.0f;
    for (int j = 0; j < N; j++)
        s += exp(sc * S[base + j * step] - m);
    float l = m + log(s);
    lse[r] = l;
    term[r] = l - sc * S[(long)k * N + k];
}

/* out = scale * sum(v[0..n)) by one work-item (Kahan), optionally times a device scalar. */
__kernel void sum_serial(__global const float *v, int n, float scale, __global float *out, int oo)
{
    if (get_global_id(0) != 0)
        return;
    float s = 0.0f, comp = 0.0f;
    for (int i = 0; i < n; i++)
        clg_kahan_add(&s, &comp, v[i]);
    out[oo] = s * scale;
}

/* One work-item per row i: G[i,j] = (softmax_row - δ + softmax_col - δ) gout / (2N);
 * dS = exp(ls) G (in place over S is not allowed: written to dS); part[i] = sum_j G logits. */
__kernel void clip_grad(__global const float *S, __global const float *ls, int lso, __global const float *lse,
                        __global const float *gy, int gyo, __global float *dS, __global float *part, int N)
{
    int i = get_global_id(0);
    if (i >= N)
        return;
    float sc = exp(ls[lso]);
    float w = gy[gyo] / (2.0f * (float)N);
    float p = 0.0f;
    for (int j = 0; j < N; j++) {
        float l = sc * S[(long)i * N + j];
        float d = (i == j) ? 2.0f : 0.0f;
        float g = (exp(l - lse[i]) + exp(l - lse[N + j]) - d) * w;
        dS[(long)i * N + j] = g * sc;
        p += g * l;
    }
    part[i] = p;
}

/* gls (= d log_scale) = or += sum(part). */
__kernel void clip_gscale(__global const float *part, int n, __global float *g, int go, int acc)
{
    if (get_global_id(0) != 0)
        return;
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += part[i];
    g[go] = acc ? g[go] + s : s;
}

/* ---- attention_lookup --------------------------------------------------------------------------- */

/* In place, one work-item per row: P = softmax(alpha * S) over the last axis. */
__kernel void att_softmax(__global float *S, int rows, int C, float alpha)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    __global float *s = S + (long)r * C;
    float m = -INFINITY;
    for (int c = 0; c < C; c++)
        m = fmax(m, alpha * s[c]);
    float z = 0.0f;
    for (int c = 0; c < C; c++) {
        float e = exp(alpha * s[c] - m);
        s[c] = e;
        z += e;
    }
    float inv = 1.0f / z;
    for (int c = 0; c < C; c++)
        s[c] *= inv;
}

/* In place over dP, one work-item per row: dS = alpha * P ∘ (dP - rowsum(dP ∘ P)). */
__kernel void att_softmax_bwd(__global const float *P, __global float *dP, int rows, int C, float alpha)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    __global const float *p = P + (long)r * C;
    __global float *d = dP + (long)r * C;
    float dot = 0.0f;
    for (int c = 0; c < C; c++)
        dot += p[c] * d[c];
    for (int c = 0; c < C; c++)
        d[c] = alpha * p[c] * (d[c] - dot);
}

/* CPU style (clg__vec_kernels) of att_softmax and att_softmax_bwd: the same row per work-item,
 * in work-groups of one, float16 along the row (the scalar forms leave exp scalar on PoCL). */
CLG_STATIC inline float att_hmax16(float16 v)
{
    float8 a = fmax(CLG_LO16(v), CLG_HI16(v));
    float4 b = fmax(a.lo, a.hi);
    float2 c = fmax(b.lo, b.hi);
    return fmax(c.x, c.y);
}

CLG_STATIC inline float att_hsum16(float16 v)
{
    float8 a = CLG_LO16(v) + CLG_HI16(v);
    float4 b = a.lo + a.hi;
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}

/* sum over c < D of a[c] * b[c], float16 along the row. */
CLG_STATIC inline float row_dot16(__global const float *a, __global const float *b, int D)
{
    int dv = D / 16 * 16;
    float16 s16 = (float16)(0.0f);
    for (int c = 0; c < dv; c += 16)
        s16 += vload16(0, a + c) * vload16(0, b + c);
    float s = att_hsum16(s16);
    for (int c = dv; c < D; c++)
        s += a[c] * b[c];
    return s;
}

/* max over c < C of sc * row[c], float16 along the row. */
CLG_STATIC inline float row_max_scaled16(__global const float *row, int C, float sc)
{
    int cv = C / 16 * 16;
    float16 m16 = (float16)(-INFINITY);
    for (int c = 0; c < cv; c += 16)
        m16 = fmax(m16, sc * vload16(0, row + c));
    float m = att_hmax16(m16);
    for (int c = cv; c < C; c++)
        m = fmax(m, sc * row[c]);
    return m;
}

__kernel void att_softmax_vec(__global float *S, int rows, int C, float alpha)
{
    int r = get_global_id(0), cv = C / 16 * 16;
    __global float *s = S + (long)r * C;
    float m = row_max_scaled16(s, C, alpha);
    float16 z16 = (float16)(0.0f);
    for (int c = 0; c < cv; c += 16) {
        float16 e = exp(alpha * vload16(0, s + c) - m);
        vstore16(e, 0, s + c);
        z16 += e;
    }
    float z = att_hsum16(z16);
    for (int c = cv; c < C; c++) {
        float e = exp(alpha * s[c] - m);
        s[c] = e;
        z += e;
    }
    float inv = 1.0f / z;
    for (int c = 0; c < cv; c += 16)
        vstore16(vload16(0, s + c) * inv, 0, s + c);
    for (int c = cv; c < C; c++)
        s[c] *= inv;
}

__kernel void att_softmax_bwd_vec(__global const float *P, __global float *dP, int rows, int C, float alpha)
{
    int r = get_global_id(0), cv = C / 16 * 16;
    __global const float *p = P + (long)r * C;
    __global float *d = dP + (long)r * C;
    float dot = row_dot16(p, d, C);
    for (int c = 0; c < cv; c += 16)
        vstore16(alpha * vload16(0, p + c) * (vload16(0, d + c) - dot), 0, d + c);
    for (int c = cv; c < C; c++)
        d[c] = alpha * p[c] * (d[c] - dot);
}

/* CPU style of clip_lse: work-items [0, N) take rows as clip_lse does, float16 along the row;
 * work-items N + q take the 16 columns 16q.. (one lane each) walking the rows. */
__kernel void clip_lse_vec(__global const float *S, __global const float *ls, int lso, __global float *lse,
                           __global float *term, int N)
{
    int r = get_global_id(0), nv = N / 16 * 16;
    float sc = exp(ls[lso]);
    if (r < N) {
        __global const float *row = S + (long)r * N;
        float m = row_max_scaled16(row, N, sc);
        float16 s16 = (float16)(0.0f);
        for (int j = 0; j < nv; j += 16)
            s16 += exp(sc * vload16(0, row + j) - m);
        float s = att_hsum16(s16);
        for (int j = nv; j < N; j++)
            s += exp(sc * row[j] - m);
        float l = m + log(s);
        lse[r] = l;
        term[r] = l - sc * row[r];
        return;
    }
    int c0 = (r - N) * 16;
    if (c0 + 16 <= N) {
        float16 m = (float16)(-INFINITY), s = (float16)(0.0f);
        for (int j = 0; j < N; j++)
            m = fmax(m, sc * vload16(0, S + (long)j * N + c0));
        for (int j = 0; j < N; j++)
            s += exp(sc * vload16(0, S + (long)j * N + c0) - m);
        float16 l = m + log(s);
        vstore16(l, 0, lse + N + c0);
        float lv[16];
        vstore16(l, 0, lv);
        for (int k = 0; k < 16; k++)
            term[N + c0 + k] = lv[k] - sc * S[(long)(c0 + k) * N + c0 + k];
    } else {
        for (int c = c0; c < N; c++) {
            float m = -INFINITY, s = 0.0f;
            for (int j = 0; j < N; j++)
                m = fmax(m, sc * S[(long)j * N + c]);
            for (int j = 0; j < N; j++)
                s += exp(sc * S[(long)j * N + c] - m);
            float l = m + log(s);
            lse[N + c] = l;
            term[N + c] = l - sc * S[(long)c * N + c];
        }
    }
}

/* CPU style of clip_grad: the same row per work-item, float16 along it. */
__kernel void clip_grad_vec(__global const float *S, __global const float *ls, int lso, __global const float *lse,
                            __global const float *gy, int gyo, __global float *dS, __global float *part, int N)
{
    int i = get_global_id(0), nv = N / 16 * 16;
    float sc = exp(ls[lso]);
    float w = gy[gyo] / (2.0f * (float)N), li = lse[i];
    __global const float *row = S + (long)i * N;
    __global float *drow = dS + (long)i * N;
    float16 p16 = (float16)(0.0f);
    const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int j = 0; j < nv; j += 16) {
        float16 l = sc * vload16(0, row + j);
        float16 d = select((float16)(0.0f), (float16)(2.0f), lane + j == i);
        float16 g = (exp(l - li) + exp(l - vload16(0, lse + N + j)) - d) * w;
        vstore16(g * sc, 0, drow + j);
        p16 += g * l;
    }
    float p = att_hsum16(p16);
    for (int j = nv; j < N; j++) {
        float l = sc * row[j];
        float d = (i == j) ? 2.0f : 0.0f;
        float g = (exp(l - li) + exp(l - lse[N + j]) - d) * w;
        drow[j] = g * sc;
        p += g * l;
    }
    part[i] = p;
}

/* CPU style of l2n_fwd, l2n_bwd, sim_fwd, sim_bwd: work-item g takes rows [g*rpw, (g+1)*rpw),
 * float16 along D, in work-groups of one. */

/* out[c] = acc ? out[c] + k * v[c] : k * v[c] over a row of D. */
CLG_STATIC inline void row_scaled16(__global float *out, __global const float *v, float k, int D, int acc)
{
    int dv = D / 16 * 16;
    for (int c = 0; c < dv; c += 16) {
        float16 w = k * vload16(0, v + c);
        vstore16(acc ? vload16(0, out + c) + w : w, 0, out + c);
    }
    for (int c = dv; c < D; c++)
        out[c] = acc ? out[c] + k * v[c] : k * v[c];
}

__kernel void l2n_fwd_vec(__global const float *x, int xo, __global float *y, int yo, int rows, int D, int rpw)
{
    int r0 = get_global_id(0) * rpw, r1 = min(rows, r0 + rpw);
    for (int r = r0; r < r1; r++) {
        __global const float *xr = x + xo + (long)r * D;
        float inv = 1.0f / fmax(sqrt(row_dot16(xr, xr, D)), CLG_L2_EPS);
        row_scaled16(y + yo + (long)r * D, xr, inv, D, 0);
    }
}

__kernel void l2n_bwd_vec(__global const float *x, int xo, __global const float *y, int yo, __global const float *g,
                          int go, __global float *gx, int gxo, int rows, int D, int acc, int rpw)
{
    int r0 = get_global_id(0) * rpw, r1 = min(rows, r0 + rpw), dv = D / 16 * 16;
    for (int r = r0; r < r1; r++) {
        __global const float *xr = x + xo + (long)r * D, *yr = y + yo + (long)r * D, *gr = g + go + (long)r * D;
        __global float *dr = gx + gxo + (long)r * D;
        float nrm = sqrt(row_dot16(xr, xr, D)), yg = row_dot16(yr, gr, D);
        int small = !(nrm > CLG_L2_EPS);
        float inv = 1.0f / fmax(nrm, CLG_L2_EPS), ygs = small ? 0.0f : yg;
        for (int c = 0; c < dv; c += 16) {
            float16 v = (vload16(0, gr + c) - vload16(0, yr + c) * ygs) * inv;
            vstore16(acc ? vload16(0, dr + c) + v : v, 0, dr + c);
        }
        for (int c = dv; c < D; c++) {
            float v = (gr[c] - yr[c] * ygs) * inv;
            dr[c] = acc ? dr[c] + v : v;
        }
    }
}

__kernel void sim_fwd_vec(__global const float *x, int xo, __global const float *y, int yo, __global float *o, int oo,
                          int N, int D, int rpw)
{
    int r0 = get_global_id(0) * rpw, r1 = min(N, r0 + rpw);
    for (int r = r0; r < r1; r++)
        o[oo + r] = row_dot16(x + xo + (long)r * D, y + yo + (long)r * D, D);
}

/* gx[r, :] = g[r] * other[r, :] */
__kernel void sim_bwd_vec(__global const float *other, int ob, __global const float *g, int go, __global float *gx,
                          int gxo, int N, int D, int acc, int rpw)
{
    int r0 = get_global_id(0) * rpw, r1 = min(N, r0 + rpw);
    for (int r = r0; r < r1; r++)
        row_scaled16(gx + gxo + (long)r * D, other + ob + (long)r * D, g[go + r], D, acc);
}
