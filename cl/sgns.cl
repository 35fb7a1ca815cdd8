/* sgns.cl — skip-gram negative-sampling training (the nearest-neighbour index uses the l2_normalize, transpose and matmul ops). */
#ifndef SGNS_MAXV8
#define SGNS_MAXV8 64   /* rows up to 512 floats (host checks) */
#endif

/* One work-item per centre position i of a token chunk (Hogwild across work-items).  The outputs of
 * the window are the centre word and K negatives shared by all contexts of that window; each context
 * row (input matrix) takes one SGD step per (context, output) pair, word2vec order: outputs move at
 * once, the context row after all K+1 outputs.  Rows are S8 float8 wide (padding stays zero).
 * span[2i], span[2i+1]: how many contexts left / right; neg[i*K + k]: the negatives.  Positions start
 * at base (the deterministic mode launches one work-group at a time). */
__kernel void sgns_train(__global float *win, __global float *wout, __global const int *tok,
                         __global const int *span, __global const int *neg, int n, int K, int S8,
                         float lr, __global float *loss, int base)
{
    int i = base + (int)get_global_id(0);
    if (i >= n)
        return;
    int lo = span[2 * i], hi = span[2 * i + 1];
    float l = 0.0f;
    float8 e[SGNS_MAXV8];
    for (int j = i - lo; j <= i + hi; j++) {
        if (j == i)
            continue;
        __global float *in = win + (size_t)tok[j] * (size_t)S8 * 8;
        for (int v = 0; v < S8; v++)
            e[v] = (float8)(0.0f);
        for (int k = 0; k <= K; k++) {
            int o = k == 0 ? tok[i] : neg[i * K + k - 1];
            __global float *out = wout + (size_t)o * (size_t)S8 * 8;
            float8 acc = (float8)(0.0f);
            for (int v = 0; v < S8; v++)
                acc += vload8(v, in) * vload8(v, out);
            float4 a4 = acc.lo + acc.hi;
            float dot = (a4.x + a4.y) + (a4.z + a4.w);
            /* label 1 for the centre word: loss softplus(-dot); label 0: softplus(dot) */
            float z = k == 0 ? -dot : dot;
            l += fmax(z, 0.0f) + log1p(exp(-fabs(z)));
            float sig = 1.0f / (1.0f + exp(-dot));
            float g = ((k == 0 ? 1.0f : 0.0f) - sig) * lr;
            for (int v = 0; v < S8; v++) {
                float8 ov = vload8(v, out), iv = vload8(v, in);
                e[v] += g * ov;
                vstore8(ov + g * iv, v, out);
            }
        }
        for (int v = 0; v < S8; v++)
            vstore8(vload8(v, in) + e[v], v, in);
    }
    loss[i] = l;
}
