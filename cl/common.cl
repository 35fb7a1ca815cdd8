/* common.cl — definitions shared by every program; prepended to each family file.
 * Every tunable has an #ifndef default so each file also compiles on its own. */
#ifndef CLG_COMMON_CL
#define CLG_COMMON_CL

/* CLG_STATIC: the storage class of every helper function (static from OpenCL C 1.2, which
 * allows it; nothing before).  PoCL's front end optimises every function with external linkage
 * in a program, called or not (it builds with -Dinline=), so GEMM programs paid for common.cl's
 * and gemm.cl's unused helpers: a tile program holding gemm_tiled_p alone took 0.24 s cold on
 * an AVX-512 Xeon, 0.15 s with static helpers (tools/BENCHMARKS.md, #17's seventh pass). */
#if defined(__OPENCL_C_VERSION__) && __OPENCL_C_VERSION__ >= 120
#define CLG_STATIC static
#else
#define CLG_STATIC
#endif

#ifndef CLG_WG
#define CLG_WG 64
#endif

/* CLG_MAD(a, b, c) = a*b + c for the multiply-add loops (GEMM): fma() where the device fuses
 * in hardware (CL_FP_FMA; the host passes -DCLG_FMA=1), else mad(), which leaves the compiler
 * free to multiply and add.  Without hardware support a correctly rounded fma() is emulated:
 * on rusticl's llvmpipe, chains of fma() ran at 0.9 GFLOP/s, of mad() at 34-45. */
#ifndef CLG_FMA
#define CLG_FMA 1
#endif
#if CLG_FMA
#define CLG_MAD(a, b, c) fma(a, b, c)
#else
#define CLG_MAD(a, b, c) mad(a, b, c)
#endif

/* The halves of a float16.  Oclgrind 21.10's uninitialized-value check loses track of .lo/.hi
 * on 16-wide vectors (reports even when every lane is defined); there the host passes
 * -DCLG_SPLIT16_BY_LANES=1 and the halves are gathered lane by lane: the same values. */
#ifndef CLG_SPLIT16_BY_LANES
#define CLG_SPLIT16_BY_LANES 0
#endif
#if CLG_SPLIT16_BY_LANES
#define CLG_LO16(v) ((float8)((v).s0, (v).s1, (v).s2, (v).s3, (v).s4, (v).s5, (v).s6, (v).s7))
#define CLG_HI16(v) ((float8)((v).s8, (v).s9, (v).sa, (v).sb, (v).sc, (v).sd, (v).se, (v).sf))
#else
#define CLG_LO16(v) ((v).lo)
#define CLG_HI16(v) ((v).hi)
#endif

/* Kahan-compensated running sum: *s += v, with *c carrying the lost low-order bits (start both
 * at 0).  Accurate long serial sums in float; relies on no fast-math (never passed). */
CLG_STATIC inline void clg_kahan_add(float *s, float *c, float v)
{
    float y = v - *c;
    float t = *s + y;
    *c = (t - *s) - y;
    *s = t;
}

/* clg_kahan_add lane by lane on float16 (one compensated sum per lane). */
CLG_STATIC inline void clg_kahan_add16(float16 *s, float16 *c, float16 v)
{
    float16 y = v - *c;
    float16 t = *s + y;
    *c = (t - *s) - y;
    *s = t;
}

/* The 16 lanes of a clg_kahan_add16 sum (s, c) folded into one compensated float. */
CLG_STATIC inline float clg_kahan_fold16(float16 s, float16 c)
{
    float a[16], b[16];
    vstore16(s, 0, a);
    vstore16(c, 0, b);
    float t = 0.0f, tc = 0.0f;
    for (int i = 0; i < 16; i++)
        clg_kahan_add(&t, &tc, a[i] - b[i]);
    return t;
}

/* The largest of row[0..n) (-INFINITY for none; NaNs ignored, as fmax does), 16 lanes at a time:
 * the CPU-style kernels' row max (softmax_vec, ce_rows_grad_vec). */
CLG_STATIC inline float clg_row_max16(__global const float *row, int n)
{
    int nv = n / 16 * 16;
    float16 m16 = (float16)(-INFINITY);
    for (int j = 0; j < nv; j += 16)
        m16 = fmax(m16, vload16(0, row + j));
    float m = -INFINITY;
    for (int j = nv; j < n; j++)
        m = fmax(m, row[j]);
    float mv[16];
    vstore16(m16, 0, mv);
    for (int i = 0; i < 16; i++)
        m = fmax(m, mv[i]);
    return m;
}

/* Sum of v over the 1-D work-group (any local size), through sh[0..local size); every item gets
 * the result.  Pairwise halving, rounding up: for power-of-two sizes the usual tree. */
CLG_STATIC inline float clg_wg_sum(__local float *sh, float v)
{
    int l = get_local_id(0), w = get_local_size(0);
    sh[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    while (w > 1) {
        int h = (w + 1) / 2;
        if (l < w - h)
            sh[l] += sh[l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
        w = h;
    }
    float r = sh[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* Record an out-of-range index found on the device: the first op to flag wins
 * the slot; the host reads it in clg_ctx_finish(). */
CLG_STATIC inline void clg_flag_error(__global int *flags, int op_plus_1, int value, int limit)
{
    if (atomic_cmpxchg(&flags[0], 0, op_plus_1) == 0) {
        flags[1] = value;
        flags[2] = limit;
    }
}

/* clEnqueueFillBuffer's and clEnqueueCopyBuffer's jobs, in 32-bit words, on devices where the host
 * stores by kernel (Oclgrind, whose uninitialized-value check loses track of the driver's fills,
 * copies and partial writes: src/tensor.c). */
__kernel void clg_fill(__global uint *y, int yo, int n, uint pattern)
{
    int i = get_global_id(0);
    if (i < n)
        y[yo + i] = pattern;
}

__kernel void clg_copy(__global const uint *x, int xo, __global uint *y, int yo, int n)
{
    int i = get_global_id(0);
    if (i < n)
        y[yo + i] = x[xo + i];
}

/* Probe kernel used by `clgrad devices --check`: y[i] = a*x[i] + y[i]. */
__kernel void clg_probe_axpy(__global float *y, int yo, __global const float *x, int xo, float a, int n)
{
    int i = get_global_id(0);
    if (i < n)
        y[yo + i] = a * x[xo + i] + y[yo + i];
}

#endif
