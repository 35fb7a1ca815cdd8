/* ref_gemm.c — double-precision references of the gemm ops. */
#include <math.h>
#include "ref_ops.h"

/* out[z] = op(A[z])·op(B[z]) over the last two axes; batch = product of the leading axis (3-D). */
static int ref_gemm(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    const clg_shape *sa = &in[0].s, *sb = &in[1].s;
    int nd = sa->ndim;
    if (nd < 2 || sb->ndim != nd || out->s.ndim != nd)
        return -1;
    int ta = a->trans_a != 0, tb = a->trans_b != 0;
    int64_t ar = sa->dim[nd - 2], ac = sa->dim[nd - 1], br = sb->dim[nd - 2], bc = sb->dim[nd - 1];
    int64_t M = ta ? ac : ar, K = ta ? ar : ac, N = tb ? br : bc;
    int64_t batch = nd == 3 ? sa->dim[0] : 1;
    for (int64_t z = 0; z < batch; z++) {
        const double *A = in[0].d + z * ar * ac, *B = in[1].d + z * br * bc;
        double *C = out->d + z * M * N;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (ta ? A[k * ac + i] : A[i * ac + k]) * (tb ? B[j * bc + k] : B[k * bc + j]);
                C[i * N + j] = s;
            }
    }
    return 0;
}

int ref_matmul(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { return ref_gemm(in, a, out); }
int ref_bmm(const ref_tensor *in, const clg_attrs *a, ref_tensor *out) { return ref_gemm(in, a, out); }

/* act(op(A)·op(B) + b), the activations of ref_bias_act. */
int ref_linear(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    if (ref_gemm(in, a, out))
        return -1;
    ref_tensor t[2] = { *out, in[2] };
    return ref_bias_act(t, a, out); /* element-wise: reading and writing out alike is fine */
}
