/* ops_gemm.c — the matrix-product ops: matmul with transposes and batched matmul (bmm), their
 * shapes, backward and scratch, on the engine in gemm.c. */
#include <stdio.h>
#include <string.h>

#include "gemm.h"

/* ---- ops ---------------------------------------------------------------------- */

/* op(X) of a stored [r,c] matrix with transpose t: rows and columns. */
static void op_dims(const clg_shape *s, int t, int64_t *rows, int64_t *cols)
{
    int64_t r = s->dim[s->ndim - 2], c = s->dim[s->ndim - 1];
    *rows = t ? c : r;
    *cols = t ? r : c;
}

static clg_status gemm_infer(const char *op, int nd, const clg_shape *const *in, const clg_attrs *a,
                             clg_shape *out)
{
    clg_status st;
    for (int i = 0; i < 2; i++)
        if ((st = clg__check_dtype(op, i, in[i], CLG_F32)))
            return st;
    char why[200];
    for (int i = 0; i < 2; i++)
        if (in[i]->ndim != nd) {
            snprintf(why, sizeof why, "input %d must be %d-D, got %d-D", i, nd, in[i]->ndim);
            return clg__shape_fail(op, in, 2, why);
        }
    int64_t m, k1, k2, n;
    op_dims(in[0], a->trans_a, &m, &k1);
    op_dims(in[1], a->trans_b, &k2, &n);
    if (k1 != k2) {
        snprintf(why, sizeof why,
                 "inner dimensions differ: op(A) is [%lld,%lld] (trans_a=%d), op(B) is [%lld,%lld] (trans_b=%d)",
                 (long long)m, (long long)k1, a->trans_a ? 1 : 0, (long long)k2, (long long)n,
                 a->trans_b ? 1 : 0);
        return clg__shape_fail(op, in, 2, why);
    }
    if (nd == 3 && in[0]->dim[0] != in[1]->dim[0]) {
        snprintf(why, sizeof why, "batch sizes differ: %lld vs %lld", (long long)in[0]->dim[0],
                 (long long)in[1]->dim[0]);
        return clg__shape_fail(op, in, 2, why);
    }
    int64_t bsz = nd == 3 ? in[0]->dim[0] : 1;
    if (m * k1 * bsz > INT32_MAX || k2 * n * bsz > INT32_MAX || m * n * bsz > INT32_MAX) {
        snprintf(why, sizeof why, "more than 2^31-1 elements per operand are not supported");
        return clg__shape_fail(op, in, 2, why);
    }
    out->dtype = CLG_F32;
    out->ndim = nd;
    if (nd == 3)
        out->dim[0] = bsz;
    out->dim[nd - 2] = m;
    out->dim[nd - 1] = n;
    return CLG_OK;
}

/* Describe dst = alpha·op(x)·op(y) + beta·dst for stored x, y (2-D or 3-D, same rank). */
static gemm_call make_call(const clg_tensor *x, int tx, const clg_tensor *y, int ty, clg_tensor *dst, float beta)
{
    gemm_call g;
    memset(&g, 0, sizeof g);
    int nd = x->s.ndim;
    int64_t m, k, n, k2;
    op_dims(&x->s, tx, &m, &k);
    op_dims(&y->s, ty, &k2, &n);
    (void)k2;
    g.ta = tx;
    g.tb = ty;
    g.M = (int)m;
    g.N = (int)n;
    g.K = (int)k;
    g.batch = nd == 3 ? (int)x->s.dim[0] : 1;
    g.a = (cl_mem)x->buf;
    g.b = (cl_mem)y->buf;
    g.c = (cl_mem)dst->buf;
    g.ao = (int)x->offset;
    g.bo = (int)y->offset;
    g.co = (int)dst->offset;
    g.lda = (int)x->s.dim[nd - 1];
    g.ldb = (int)y->s.dim[nd - 1];
    g.ldc = (int)n;
    g.sa = (int)(m * k);
    g.sb = (int)(k * n);
    g.sc = (int)(m * n);
    g.alpha = 1.0f;
    g.beta = beta;
    return g;
}

static clg_status gemm_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out, const clg_attrs *a)
{
    gemm_call g = make_call(in[0], a->trans_a ? 1 : 0, in[1], a->trans_b ? 1 : 0, out, 0.0f);
    return clg__gemm_run(ctx, &g);
}

/* C = op(A)·op(B):
 *   dA = dC·op(B)ᵀ, stored as A:  ta=0: dC·op(B)ᵀ;  ta=1: op(B)·dCᵀ
 *   dB = op(A)ᵀ·dC, stored as B:  tb=0: op(A)ᵀ·dC;  tb=1: dCᵀ·op(A) */
static clg_status gemm_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                                const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a, int acc)
{
    (void)out;
    int ta = a->trans_a ? 1 : 0, tb = a->trans_b ? 1 : 0;
    float beta = acc ? 1.0f : 0.0f;
    clg_status st;
    if (gin[0]) {
        gemm_call g = ta ? make_call(in[1], tb, gout, 1, gin[0], beta)
                         : make_call(gout, 0, in[1], !tb, gin[0], beta);
        if ((st = clg__gemm_run(ctx, &g)))
            return st;
    }
    if (gin[1]) {
        gemm_call g = tb ? make_call(gout, 1, in[0], ta, gin[1], beta)
                         : make_call(in[0], !ta, gout, 0, gin[1], beta);
        if ((st = clg__gemm_run(ctx, &g)))
            return st;
    }
    return CLG_OK;
}

/* Bytes of scratch the product op(x)·op(y) takes: B transposed when use_transpose picks that form. */
static size_t call_scratch(const clg_ctx *ctx, const clg_shape *x, int tx, const clg_shape *y, int ty,
                           const clg_shape *dst)
{
    clg_tensor a = { .s = *x }, b = { .s = *y }, c = { .s = *dst };
    gemm_call g = make_call(&a, tx, &b, ty, &c, 0.0f);
    return clg__gemm_scratch(ctx, &g);
}

/* One slot: the forward's product, or the larger of the backward's two (they run one after the
 * other, each releasing its slot). */
static int gemm_scratch(const clg_ctx *ctx, const clg_shape *const *in, const clg_shape *out, const clg_attrs *a,
                        int backward, size_t *bytes)
{
    int ta = a->trans_a ? 1 : 0, tb = a->trans_b ? 1 : 0;
    if (!backward) {
        bytes[0] = call_scratch(ctx, in[0], ta, in[1], tb, out);
    } else {
        size_t da = ta ? call_scratch(ctx, in[1], tb, out, 1, in[0]) : call_scratch(ctx, out, 0, in[1], !tb, in[0]);
        size_t db = tb ? call_scratch(ctx, out, 1, in[0], ta, in[1]) : call_scratch(ctx, in[0], !ta, out, 0, in[1]);
        bytes[0] = da > db ? da : db;
    }
    return bytes[0] ? 1 : 0;
}

static clg_status matmul_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    return gemm_infer("matmul", 2, in, a, out);
}

static clg_status bmm_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    return gemm_infer("bmm", 3, in, a, out);
}

/* ---- linear: act(op(A)·op(B) + b), the product's store adding the bias (gemm.cl's epilogue) ---- */

static clg_status linear_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    clg_status st = gemm_infer("linear", 2, in, a, out);
    if (st || (st = clg__check_dtype("linear", 2, in[2], CLG_F32)))
        return st;
    if (in[2]->ndim != 1 || in[2]->dim[0] != out->dim[1])
        return clg__shape_fail("linear", in, 3, "b must be 1-D with op(B)'s column count");
    if (a->act != CLG_ACT_NONE && a->act != CLG_ACT_RELU && a->act != CLG_ACT_TANH && a->act != CLG_ACT_SIGMOID)
        return clg__fail(CLG_ERR_INVALID_ARG,
                         "linear: activation %d: none, relu, tanh or sigmoid (the backward takes act' from the "
                         "output; gelu needs matmul then bias_act)", a->act);
    return CLG_OK;
}

/* The product with bias and relu in its store where the path has the epilogue, else the product
 * then bias_act in place (CLBlast, K = 0, tanh, sigmoid): the same bits either way. */
static clg_status linear_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out, const clg_attrs *a)
{
    gemm_call g = make_call(in[0], a->trans_a ? 1 : 0, in[1], a->trans_b ? 1 : 0, out, 0.0f);
    if (a->act == CLG_ACT_NONE || a->act == CLG_ACT_RELU) {
        g.bias = (cl_mem)in[2]->buf;
        g.bias_o = (int)in[2]->offset;
        g.act = a->act;
    }
    clg_status st = clg__gemm_run(ctx, &g);
    if (st || g.ep_done)
        return st;
    clg_attrs ba = clg_attrs_defaults();
    ba.act = a->act;
    return clg_op_elementwise_bias_act.forward(ctx, (const clg_tensor *[]){ out, in[2] }, out, &ba);
}

/* d = gout * act'(from y) (a scratch slot; gout itself for act none) and db its column sums in one
 * bias_act backward launch, then matmul's backward with d. */
static clg_status linear_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                                  const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a, int acc)
{
    const clg_tensor *d = gout;
    clg_tensor dt;
    clg_status st;
    if (a->act != CLG_ACT_NONE && (gin[0] || gin[1])) {
        if ((st = clg__scratch_tensor(ctx, &out->s, &dt, "linear backward")))
            return st;
        d = &dt;
    }
    if (d != gout || gin[2]) {
        int mark = clg__scratch_mark(ctx);
        st = clg__bias_act_bwd(ctx, out, in[2], out, gout, d != gout ? d : NULL, gin[2], a->act, 1, 0, acc);
        clg__scratch_pop(ctx, mark);
        if (st)
            return st;
    }
    return gemm_backward(ctx, in, out, d, gin, a, acc);
}

/* Backward: d (act other than none) in slot 0, then the larger of db's partial sums and the
 * products' scratch, which take the next slot one after the other. */
static int linear_scratch(const clg_ctx *ctx, const clg_shape *const *in, const clg_shape *out, const clg_attrs *a,
                          int backward, size_t *bytes)
{
    if (!backward)
        return gemm_scratch(ctx, in, out, a, 0, bytes);
    int n = 0;
    if (a->act != CLG_ACT_NONE)
        bytes[n++] = (size_t)clg_shape_numel(out) * sizeof(float);
    size_t p = clg__bias_act_bwd_scratch(out->dim[0], out->dim[1]), gs = 0;
    if (gemm_scratch(ctx, in, out, a, 1, &gs) == 0)
        gs = 0;
    bytes[n] = p > gs ? p : gs;
    return bytes[n] ? n + 1 : n;
}

const clg_op_desc clg_op_gemm_linear = {
    .infer = linear_infer, .forward = linear_forward, .backward = linear_backward, .scratch = linear_scratch
};

const clg_op_desc clg_op_gemm_matmul = {
    .infer = matmul_infer, .forward = gemm_forward, .backward = gemm_backward, .scratch = gemm_scratch
};
const clg_op_desc clg_op_gemm_bmm = {
    .infer = bmm_infer, .forward = gemm_forward, .backward = gemm_backward, .scratch = gemm_scratch
};
