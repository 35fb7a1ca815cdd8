/* ref_embed.c — double-precision references of the embed ops. */
#include <math.h>
#include <stdlib.h>
#include "ref_ops.h"

int ref_embedding(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)a;
    int64_t V = in[0].s.dim[0], D = in[0].s.dim[1], n = clg_shape_numel(&in[1].s);
    for (int64_t r = 0; r < n; r++) {
        int64_t k = (int64_t)in[1].d[r];
        for (int64_t c = 0; c < D; c++)
            out->d[r * D + c] = (k >= 0 && k < V) ? in[0].d[k * D + c] : 0.0;
    }
    return 0;
}

/* y = x / max(||x||, 1e-12) per row of D. */
static void l2n_rows(const double *x, double *y, int64_t rows, int64_t D)
{
    for (int64_t r = 0; r < rows; r++) {
        double s = 0;
        for (int64_t c = 0; c < D; c++)
            s += x[r * D + c] * x[r * D + c];
        double nrm = fmax(sqrt(s), 1e-12);
        for (int64_t c = 0; c < D; c++)
            y[r * D + c] = x[r * D + c] / nrm;
    }
}

int ref_l2_normalize(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)a;
    int64_t D = in[0].s.dim[in[0].s.ndim - 1];
    int64_t rows = D ? clg_shape_numel(&in[0].s) / D : 0;
    l2n_rows(in[0].d, out->d, rows, D);
    return 0;
}

int ref_similarity(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)a;
    int64_t N = in[0].s.dim[0], D = in[0].s.dim[1];
    for (int64_t i = 0; i < N; i++) {
        double s = 0;
        for (int64_t c = 0; c < D; c++)
            s += in[0].d[i * D + c] * in[1].d[i * D + c];
        out->d[i] = s;
    }
    return 0;
}

/* C[N,M] = X[N,D]·Y[M,D]ᵀ */
static void xyt(const double *x, const double *y, double *o, int64_t N, int64_t M, int64_t D)
{
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < M; j++) {
            double s = 0;
            for (int64_t c = 0; c < D; c++)
                s += x[i * D + c] * y[j * D + c];
            o[i * M + j] = s;
        }
}

int ref_similarity_matrix(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)a;
    xyt(in[0].d, in[1].d, out->d, in[0].s.dim[0], in[1].s.dim[0], in[0].s.dim[1]);
    return 0;
}

int ref_contrastive_loss(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)a;
    int64_t N = in[0].s.dim[0], D = in[0].s.dim[1];
    if (N == 0) {
        out->d[0] = 0;
        return 0;
    }
    double *xn = malloc((size_t)(N * D) * sizeof *xn), *yn = malloc((size_t)(N * D) * sizeof *yn);
    double *L = malloc((size_t)(N * N) * sizeof *L);
    if (!xn || !yn || !L)
        return -1;
    l2n_rows(in[0].d, xn, N, D);
    l2n_rows(in[1].d, yn, N, D);
    xyt(xn, yn, L, N, N, D);
    double sc = exp(in[2].d[0]);
    for (int64_t k = 0; k < N * N; k++)
        L[k] *= sc;
    double total = 0;
    for (int64_t k = 0; k < N; k++) {
        double mr = -INFINITY, mc = -INFINITY, sr = 0, scol = 0;
        for (int64_t j = 0; j < N; j++) {
            mr = fmax(mr, L[k * N + j]);
            mc = fmax(mc, L[j * N + k]);
        }
        for (int64_t j = 0; j < N; j++) {
            sr += exp(L[k * N + j] - mr);
            scol += exp(L[j * N + k] - mc);
        }
        total += (mr + log(sr) - L[k * N + k]) + (mc + log(scol) - L[k * N + k]);
    }
    out->d[0] = total / (2.0 * (double)N);
    free(xn);
    free(yn);
    free(L);
    return 0;
}

int ref_attention_lookup(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    int64_t Nq = in[0].s.dim[0], D = in[0].s.dim[1], Nk = in[1].s.dim[0], Dv = in[2].s.dim[1];
    double *p = malloc((size_t)(Nk > 0 ? Nk : 1) * sizeof *p);
    if (!p)
        return -1;
    for (int64_t i = 0; i < Nq; i++) {
        double m = -INFINITY, z = 0;
        for (int64_t j = 0; j < Nk; j++) {
            double s = 0;
            for (int64_t c = 0; c < D; c++)
                s += in[0].d[i * D + c] * in[1].d[j * D + c];
            p[j] = (double)a->alpha * s;
            m = fmax(m, p[j]);
        }
        for (int64_t j = 0; j < Nk; j++) {
            p[j] = exp(p[j] - m);
            z += p[j];
        }
        for (int64_t c = 0; c < Dv; c++) {
            double s = 0;
            for (int64_t j = 0; j < Nk; j++)
                s += p[j] * in[2].d[j * Dv + c];
            out->d[i * Dv + c] = s / z;
        }
    }
    free(p);
    return 0;
}
