/* ref_loss.c — double-precision references of the losses. */
#include <math.h>
#include "ref_ops.h"

int ref_cross_entropy(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)a;
    int64_t N = in[0].s.dim[0], C = in[0].s.dim[1];
    double total = 0;
    for (int64_t i = 0; i < N; i++) {
        const double *row = in[0].d + i * C;
        int64_t y = (int64_t)in[1].d[i];
        if (y < 0 || y >= C)
            continue;
        double m = -INFINITY, s = 0;
        for (int64_t c = 0; c < C; c++)
            m = fmax(m, row[c]);
        for (int64_t c = 0; c < C; c++)
            s += exp(row[c] - m);
        total += m + log(s) - row[y];
    }
    out->d[0] = N > 0 ? total / (double)N : 0;
    return 0;
}

static int sq(const ref_tensor *in, int has_mask, ref_tensor *out)
{
    int64_t n = clg_shape_numel(&in[0].s);
    double s = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        double w = has_mask ? in[2].d[i] : 1.0, d = in[0].d[i] - in[1].d[i];
        s += w * d * d;
        m += w;
    }
    out->d[0] = s / (m > 1 ? m : 1);
    return 0;
}

int ref_mse(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)a;
    return sq(in, 0, out);
}

int ref_masked_mse(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)a;
    return sq(in, 1, out);
}
