/* ref_reduce.c — double-precision references of the reduce ops. */
#include <math.h>
#include "ref_ops.h"

static int axis_ref(const ref_tensor *in, const clg_attrs *a, ref_tensor *out, int mean)
{
    const clg_shape *x = &in[0].s;
    int64_t outer = 1, R, inner = 1;
    if (a->axis < 0) {
        R = clg_shape_numel(x);
    } else {
        for (int k = 0; k < a->axis; k++)
            outer *= x->dim[k];
        for (int k = a->axis + 1; k < x->ndim; k++)
            inner *= x->dim[k];
        R = x->dim[a->axis];
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double s = 0;
            for (int64_t r = 0; r < R; r++)
                s += in[0].d[(o * R + r) * inner + i];
            out->d[o * inner + i] = mean ? s / (double)R : s;
        }
    return 0;
}

int ref_sum(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { return axis_ref(in, a, out, 0); }
int ref_mean(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { return axis_ref(in, a, out, 1); }

static int softmax_ref(const ref_tensor *in, ref_tensor *out, int logsm)
{
    const clg_shape *x = &in[0].s;
    int64_t C = x->dim[x->ndim - 1], rows = C ? clg_shape_numel(x) / C : 0;
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = in[0].d + r * C;
        double *yr = out->d + r * C;
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; j++)
            m = xr[j] > m ? xr[j] : m;
        for (int64_t j = 0; j < C; j++)
            s += exp(xr[j] - m);
        for (int64_t j = 0; j < C; j++)
            yr[j] = logsm ? xr[j] - m - log(s) : exp(xr[j] - m) / s;
    }
    return 0;
}

int ref_softmax(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)a; return softmax_ref(in, out, 0); }
int ref_log_softmax(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { (void)a; return softmax_ref(in, out, 1); }
