/* misc.cl — ops without backward: argmax, accuracy, fill, copy, transpose. */

#ifndef CLG_TILE
#define CLG_TILE 16
#endif

/* Index of the first maximum of a row (0 for an all-NaN row). */
CLG_STATIC inline int row_argmax(__global const float *xr, int C)
{
    int best = 0;
    float bv = xr[0];
    for (int j = 1; j < C; j++) {
        float v = xr[j];
        if (v > bv || (isnan(bv) && !isnan(v))) {
            bv = v;
            best = j;
        }
    }
    return best;
}

__kernel void argmax_rows(__global const float *x, int xo, __global int *y, int yo, int rows, int C)
{
    int r = get_global_id(0);
    if (r < rows)
        y[yo + r] = row_argmax(x + xo + r * C, C);
}

/* One work-group (power-of-two size) counts rows whose argmax equals the label; labels
 * outside [0, C) count as wrong and are flagged for clg_ctx_finish(). */
__kernel void accuracy_count(__global const float *x, int xo, __global const int *lab, int lo,
                             __global float *y, int yo, int rows, int C, __global int *flags,
                             int opid, __local int *sh)
{
    int l = get_local_id(0), wg = get_local_size(0);
    int cnt = 0;
    for (int r = l; r < rows; r += wg) {
        int t = lab[lo + r];
        if (t < 0 || t >= C)
            clg_flag_error(flags, opid, t, C);
        else if (row_argmax(x + xo + r * C, C) == t)
            cnt++;
    }
    sh[l] = cnt;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = wg / 2; s > 0; s >>= 1) {
        if (l < s)
            sh[l] += sh[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0)
        y[yo] = rows > 0 ? (float)sh[0] / (float)rows : 0.0f;
}

/* 32-bit copies serve f32 and i32 alike. */
__kernel void copy32(__global const uint *x, int xo, __global uint *y, int yo, int n)
{
    int i = get_global_id(0);
    if (i < n)
        y[yo + i] = x[xo + i];
}

/* Batched transpose [B, M, N] -> [B, N, M] through a padded local tile;
 * launched as (N, M, B) with local size (CLG_TILE, CLG_TILE, 1). */
__kernel void transpose_tiled(__global const uint *x, int xo, __global uint *y, int yo, int M, int N)
{
    __local uint tile[CLG_TILE][CLG_TILE + 1];
    int b = get_global_id(2);
    int c0 = get_group_id(0) * CLG_TILE, r0 = get_group_id(1) * CLG_TILE;
    int lx = get_local_id(0), ly = get_local_id(1);
    int base = b * M * N;
    if (r0 + ly < M && c0 + lx < N)
        tile[ly][lx] = x[xo + base + (r0 + ly) * N + c0 + lx];
    barrier(CLK_LOCAL_MEM_FENCE);
    if (c0 + ly < N && r0 + lx < M)
        y[yo + base + (c0 + ly) * M + r0 + lx] = tile[lx][ly];
}

/* Fallback for devices whose work-group limit is below CLG_TILE^2: one item per element. */
__kernel void transpose_naive(__global const uint *x, int xo, __global uint *y, int yo, int M, int N,
                              int n)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    int mn = M * N, b = i / mn, k = i % mn, r = k / N, c = k % N;
    y[yo + b * mn + c * M + r] = x[xo + i];
}
