/* optim.cl — optimizer updates: SGD with momentum, Adam/AdamW, gradient-norm clipping. */

/* d = g + wd*p; with momentum (has_v): v = mom*v + d, d = v; p -= lr*d. */
__kernel void sgd_update(__global float *p, int po, __global const float *g, int go, __global float *v, int vo,
                         int n, float lr, float mom, float wd, int has_v)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float w = p[po + i];
    float d = g[go + i] + wd * w;
    if (has_v) {
        d = mom * v[vo + i] + d;
        v[vo + i] = d;
    }
    p[po + i] = w - lr * d;
}

/* Adam; decoupled: p *= decay (= 1 - lr*wd) first and wd is not added to g.
 * step_size = lr / (1 - b1^t), inv_sqrt_bc2 = 1 / sqrt(1 - b2^t), from the host.
 * ADAM_STEP: one update of W (param), GR (grad), MV, VV (moments) of type float or float16, in
 * place; shared by adam_update and adam_update_vec so both compute the same numbers. */
#define ADAM_STEP(W, GR, MV, VV)                                                       \
    do {                                                                               \
        if (decoupled)                                                                 \
            W *= decay;                                                                \
        else                                                                           \
            GR += wd * W;                                                              \
        MV = b1 * MV + (1.0f - b1) * GR;                                               \
        VV = b2 * VV + (1.0f - b2) * GR * GR;                                          \
        W = W - step_size * MV / (sqrt(VV) * inv_sqrt_bc2 + eps);                      \
    } while (0)

#define ADAM_ARGS                                                                              \
    __global float *p, int po, __global const float *g, int go, __global float *m, int mo,      \
        __global float *v, int vo, int n, float b1, float b2, float eps, float wd, int decoupled, \
        float decay, float step_size, float inv_sqrt_bc2

__kernel void adam_update(ADAM_ARGS)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float w = p[po + i], gr = g[go + i], mm = m[mo + i], vv = v[vo + i];
    ADAM_STEP(w, gr, mm, vv);
    m[mo + i] = mm;
    v[vo + i] = vv;
    p[po + i] = w;
}

/* adam_update over `chunk` elements per work-item, float16 along them (CPU-style kernel in
 * work-groups of one; see clg__vec_kernels). */
__kernel void adam_update_vec(ADAM_ARGS, int chunk)
{
    int i0 = get_global_id(0) * chunk, i1 = min(n, i0 + chunk), iv = i0 + (i1 - i0) / 16 * 16;
    for (int i = i0; i < iv; i += 16) {
        float16 w = vload16(0, p + po + i), gr = vload16(0, g + go + i);
        float16 mm = vload16(0, m + mo + i), vv = vload16(0, v + vo + i);
        ADAM_STEP(w, gr, mm, vv);
        vstore16(mm, 0, m + mo + i);
        vstore16(vv, 0, v + vo + i);
        vstore16(w, 0, p + po + i);
    }
    for (int i = iv; i < i1; i++) {
        float w = p[po + i], gr = g[go + i], mm = m[mo + i], vv = v[vo + i];
        ADAM_STEP(w, gr, mm, vv);
        m[mo + i] = mm;
        v[vo + i] = vv;
        p[po + i] = w;
    }
}

/* Stage 1: each work-group sums x^2 over a grid-stride slice (compensated), tree-reduces,
 * and writes one partial sum to part[pofs + group]. */
__kernel void sq_norm_partial(__global const float *x, int xo, int n, __global float *part, int pofs)
{
    __local float buf[CLG_WG];
    int lid = get_local_id(0), lsz = get_local_size(0);
    int stride = get_num_groups(0) * lsz;
    float s = 0.0f, c = 0.0f;
    for (int i = get_global_id(0); i < n; i += stride) {
        float v = x[xo + i];
        clg_kahan_add(&s, &c, v * v);
    }
    s = clg_wg_sum(buf, s);
    if (lid == 0)
        part[pofs + get_group_id(0)] = s;
}

/* Stage 2: one work-group sums the np partials into out[oo]. */
__kernel void sq_norm_final(__global const float *part, int np, __global float *out, int oo)
{
    __local float buf[CLG_WG];
    int lid = get_local_id(0), lsz = get_local_size(0);
    float s = 0.0f, c = 0.0f;
    for (int i = lid; i < np; i += lsz)
        clg_kahan_add(&s, &c, part[i]);
    s = clg_wg_sum(buf, s);
    if (lid == 0 && get_group_id(0) == 0)
        out[oo] = s;
}

/* g *= min(1, max_norm / sqrt(sq[so])), the norm read on the device. */
__kernel void grad_clip(__global float *g, int go, int n, __global const float *sq, int so, float max_norm)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float nrm = sqrt(sq[so]);
    if (nrm > max_norm)
        g[go + i] *= max_norm / nrm;
}
