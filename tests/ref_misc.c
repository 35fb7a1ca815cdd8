/* ref_misc.c — double-precision references of the misc ops. */
#include <math.h>
#include "ref_ops.h"

static int64_t first_max(const double *xr, int64_t C)
{
    int64_t best = 0;
    for (int64_t j = 1; j < C; j++)
        if (xr[j] > xr[best])
            best = j;
    return best;
}

int ref_argmax(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)a;
    int64_t N = in[0].s.dim[0], C = in[0].s.dim[1];
    for (int64_t r = 0; r < N; r++)
        out->d[r] = (double)first_max(in[0].d + r * C, C);
    return 0;
}

int ref_accuracy(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)a;
    int64_t N = in[0].s.dim[0], C = in[0].s.dim[1], hit = 0;
    for (int64_t r = 0; r < N; r++) {
        double t = in[1].d[r];
        if (t >= 0 && t < (double)C && (double)first_max(in[0].d + r * C, C) == t)
            hit++;
    }
    out->d[0] = N > 0 ? (double)(float)((float)hit / (float)N) : 0.0;
    return 0;
}

int ref_fill(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)in;
    int64_t n = clg_shape_numel(&out->s);
    double v = out->s.dtype == CLG_I32 ? trunc((double)a->alpha) : (double)a->alpha;
    for (int64_t i = 0; i < n; i++)
        out->d[i] = v;
    return 0;
}

int ref_copy(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)a;
    int64_t n = clg_shape_numel(&out->s);
    for (int64_t i = 0; i < n; i++)
        out->d[i] = in[0].d[i];
    return 0;
}

int ref_transpose(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)a;
    const clg_shape *s = &in[0].s;
    int64_t M = s->dim[s->ndim - 2], N = s->dim[s->ndim - 1];
    int64_t B = (M * N != 0) ? clg_shape_numel(s) / (M * N) : 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t r = 0; r < M; r++)
            for (int64_t c = 0; c < N; c++)
                out->d[b * M * N + c * M + r] = in[0].d[b * M * N + r * N + c];
    return 0;
}
