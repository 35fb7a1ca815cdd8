/* common.cl — definitions shared by every program; prepended to each family file.
 * Every tunable has an #ifndef default so each file also compiles on its own. */
#ifndef CLG_COMMON_CL
#define CLG_COMMON_CL

#ifndef CLG_WG
#define CLG_WG 64
#endif

/* Kahan-compensated running sum: *s += v, with *c carrying the lost low-order bits (start both
 * at 0).  Accurate long serial sums in float; relies on no fast-math (never passed). */
inline void clg_kahan_add(float *s, float *c, float v)
{
    float y = v - *c;
    float t = *s + y;
    *c = (t - *s) - y;
    *s = t;
}

/* Record an out-of-range index found on the device: the first op to flag wins
 * the slot; the host reads it in clg_ctx_finish(). */
inline void clg_flag_error(__global int *flags, int op_plus_1, int value, int limit)
{
    if (atomic_cmpxchg(&flags[0], 0, op_plus_1) == 0) {
        flags[1] = value;
        flags[2] = limit;
    }
}

/* Probe kernel used by `clgrad devices --check`: y[i] = a*x[i] + y[i]. */
__kernel void clg_probe_axpy(__global float *y, int yo, __global const float *x, int xo, float a, int n)
{
    int i = get_global_id(0);
    if (i < n)
        y[yo + i] = a * x[xo + i] + y[yo + i];
}

#endif
