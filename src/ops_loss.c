/* ops_loss.c — losses: fused cross-entropy with integer labels, mse, masked mse (scalar outputs). */
#include "internal.h"

/* Launch a single-work-group reduction kernel (clg__kernel_wg, at most 256 items) with `nloc` local
 * float arrays of group size. */
static clg_status launch_group(clg_ctx *ctx, clg_kid kid, clg_karg *args, int nargs, int nloc)
{
    cl_kernel k;
    size_t L;
    clg_status st = clg__kernel_id(ctx, kid, &k);
    if (st || (st = clg__kernel_wg(ctx, kid, 256, &L)))
        return st;
    for (int i = 0; i < nloc; i++)
        args[nargs - nloc + i] = KLOCAL(L * sizeof(float));
    if ((st = clg__set_args(ctx, k, clg__kname(kid), args, nargs)))
        return st;
    return clg__enqueue(ctx, k, clg__kname(kid), 1, &L, &L);
}

/* n floats of scratch (a slot: see clg__scratch_tensor). */
static clg_status scratch(clg_ctx *ctx, int64_t n, clg_tensor *t)
{
    clg_shape s = clg_shape_make(CLG_F32, 1, (int64_t[]){ n > 0 ? n : 1 });
    return clg__scratch_tensor(ctx, &s, t, "loss");
}

/* ---- cross_entropy ----------------------------------------------------------------------------- */

static clg_status ce_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)a;
    clg_status st;
    if ((st = clg__check_dtype("cross_entropy", 0, in[0], CLG_F32)) ||
        (st = clg__check_dtype("cross_entropy", 1, in[1], CLG_I32)))
        return st;
    if (in[0]->ndim != 2 || in[1]->ndim != 1 || in[1]->dim[0] != in[0]->dim[0])
        return clg__shape_fail("cross_entropy", in, 2, "needs logits [N,C] and labels [N]");
    if (in[0]->dim[1] < 1)
        return clg__shape_fail("cross_entropy", in, 2, "needs at least one class");
    *out = clg_shape_make(CLG_F32, 0, NULL);
    return CLG_OK;
}

/* Batches up to this many rows, of fewer than CE_ROWS_MIN_LOGITS logits, take ce_mean (one
 * work-group, one launch); others ce_rows (for the fused loss entry ce_rows_grad, or on the CPU
 * style ce_rows_grad_vec: the same bits) over the whole device, then sum_scaled, which adds in
 * ce_mean's order (the same bits at the same group size).  One work-group runs on one core of a
 * CPU: SimCLR's 512 x 512 logits took ~3.4 ms there. */
#define CE_MEAN_MAX_ROWS 16384
#define CE_ROWS_MIN_LOGITS 65536

static int ce_by_rows(int64_t N, int64_t C)
{
    return N > CE_MEAN_MAX_ROWS || (N > 1 && N * C >= CE_ROWS_MIN_LOGITS);
}

/* out = the mean of the per-row losses in rows (ce_by_rows' second launch: sum_scaled). */
static clg_status ce_mean_of_rows(clg_ctx *ctx, const clg_tensor *rows, int N, clg_tensor *out)
{
    clg_karg args[] = { KMEM(rows->buf), KINT(N), KFLT(1.0f / (float)N), KTEN(out), KLOCAL(0) };
    return launch_group(ctx, CLG_K_sum_scaled, args, CLG_NARGS(args), 1);
}

static clg_status ce_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out, const clg_attrs *a)
{
    (void)a;
    int N = (int)in[0]->s.dim[0], C = (int)in[0]->s.dim[1];
    if (N == 0)
        return clg__fill_pattern(ctx, out, 0); /* mean over no rows: 0 */
    if (!ce_by_rows(N, C)) {
        clg_karg args[] = { KTEN(in[0]), KTEN(in[1]), KINT(N), KINT(C), KMEM(ctx->errflags),
                            KINT(CLG_OP_CROSS_ENTROPY + 1), KFLT(1.0f / (float)N), KTEN(out), KTEN(out), KINT(0),
                            KLOCAL(0) };
        return launch_group(ctx, CLG_K_ce_mean, args, CLG_NARGS(args), 1);
    }
    clg_tensor rows;
    clg_status st = scratch(ctx, N, &rows);
    if (st)
        return st;
    st = LAUNCH(ctx, CLG_K_ce_rows, (size_t)N, KTEN(in[0]), KTEN(in[1]), KMEM(rows.buf), KINT(N),
                  KINT(C), KMEM(ctx->errflags), KINT(CLG_OP_CROSS_ENTROPY + 1));
    return st ? st : ce_mean_of_rows(ctx, &rows, N, out);
}

/* Forward (also the fused loss entry) by rows (ce_by_rows): the per-row losses. */
static int ce_scratch(const clg_ctx *ctx, const clg_shape *const *in, const clg_shape *out, const clg_attrs *a,
                      int backward, size_t *bytes)
{
    (void)ctx;
    (void)out;
    (void)a;
    if (backward || !ce_by_rows(in[0]->dim[0], in[0]->dim[1]))
        return 0;
    bytes[0] = (size_t)in[0]->dim[0] * sizeof(float);
    return 1;
}

static clg_status ce_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                              const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a, int acc)
{
    (void)out;
    (void)a;
    if (!gin[0])
        return CLG_OK;
    int N = (int)in[0]->s.dim[0], C = (int)in[0]->s.dim[1];
    return LAUNCH(ctx, CLG_K_ce_bwd, (size_t)N, KTEN(in[0]), KTEN(in[1]), KTEN(gout), KTEN(gin[0]),
                    KINT(N), KINT(C), KINT(acc));
}

/* The fused loss entry: ce_mean with the gradient as ce_backward at gout = 1 (the same bits), for
 * batches ce_mean takes whose gradient one work-group writes quickly (at most 2^20 logits). */
static int ce_forward_grad_ok(const clg_shape *const *in)
{
    return in[0]->dim[0] > 0 && in[0]->dim[0] <= CE_MEAN_MAX_ROWS && in[0]->dim[0] * in[0]->dim[1] <= (1 << 20);
}

static clg_status ce_forward_grad(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,
                                  clg_tensor *const *gin, const clg_attrs *a, int acc)
{
    if (!gin[0])
        return ce_forward(ctx, in, out, a);
    int N = (int)in[0]->s.dim[0], C = (int)in[0]->s.dim[1];
    if (!ce_by_rows(N, C)) {
        clg_karg args[] = { KTEN(in[0]), KTEN(in[1]), KINT(N), KINT(C), KMEM(ctx->errflags),
                            KINT(CLG_OP_CROSS_ENTROPY + 1), KFLT(1.0f / (float)N), KTEN(out), KTEN(gin[0]),
                            KINT(acc ? 2 : 1), KLOCAL(0) };
        return launch_group(ctx, CLG_K_ce_mean, args, CLG_NARGS(args), 1);
    }
    clg_tensor rows;
    clg_status st = scratch(ctx, N, &rows);
    if (st)
        return st;
    clg_karg args[] = { KTEN(in[0]), KTEN(in[1]), KMEM(rows.buf), KINT(N), KINT(C), KMEM(ctx->errflags),
                        KINT(CLG_OP_CROSS_ENTROPY + 1), KFLT(1.0f / (float)N), KTEN(gin[0]), KINT(acc ? 2 : 1) };
    if (clg__vec_kernels(ctx)) /* the same bits, CPU style */
        st = clg__launch_groups_of_one(ctx, CLG_K_ce_rows_grad_vec, (size_t)N, args, CLG_NARGS(args));
    else
        st = clg__launch1d(ctx, CLG_K_ce_rows_grad, (size_t)N, args, CLG_NARGS(args));
    return st ? st : ce_mean_of_rows(ctx, &rows, N, out);
}

const clg_op_desc clg_op_loss_cross_entropy = {
    .infer = ce_infer, .forward = ce_forward, .backward = ce_backward, .scratch = ce_scratch,
    .forward_grad = ce_forward_grad, .forward_grad_ok = ce_forward_grad_ok
};

/* ---- mse and masked_mse ------------------------------------------------------------------------ */

static clg_status sq_infer(const char *op, const clg_shape *const *in, int nin, clg_shape *out)
{
    for (int i = 0; i < nin; i++) {
        clg_status st = clg__check_dtype(op, i, in[i], CLG_F32);
        if (st)
            return st;
        if (i > 0 && !clg_shape_equal(in[i], in[0]))
            return clg__shape_fail(op, in, nin, "inputs must have the same shape");
    }
    *out = clg_shape_make(CLG_F32, 0, NULL);
    return CLG_OK;
}

static clg_status mse_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)a;
    return sq_infer("mse", in, 2, out);
}

static clg_status masked_mse_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)a;
    return sq_infer("masked_mse", in, 3, out);
}

#define SQ_ITEMS 16       /* elements per work-item before another group is added */
#define SQ_MAX_GROUPS 256

/* Elements per work-item of the *_vec kernels (clg__vec_kernels): 4096, more beyond 4M
 * elements so that there are at most 1024 partial sums; a multiple of 16.  On PoCL the strided
 * loops of sqerr_partial stay scalar and walk every cache line once per work-item: masked_mse
 * [256,784] forward 383 -> 63 us (tools/BENCHMARKS.md). */
static int sq_chunk(int n)
{
    int c = (n + 1023) / 1024;
    c = (c + 15) / 16 * 16;
    return c < 4096 ? 4096 : c;
}

/* Work-groups (or work-items of the *_vec kernels) of the first stage of sq_sums. */
static int64_t sq_groups(const clg_ctx *ctx, int n)
{
    int chunk = sq_chunk(n);
    int64_t per = (int64_t)ctx->wg_default * SQ_ITEMS;
    int64_t ng = clg__vec_kernels(ctx) ? (n + chunk - 1) / chunk : (n + per - 1) / per;
    if (ng < 1)
        ng = 1;
    return !clg__vec_kernels(ctx) && ng > SQ_MAX_GROUPS ? SQ_MAX_GROUPS : ng;
}

/* Two-stage reduction: sums[0] = sum(w (p-t)^2) (when want_err), sums[1] = sum(w); with y non-NULL
 * also y = sums[0] / max(1, sums[1]).  sums is a 2-float scratch tensor. */
static clg_status sq_sums(clg_ctx *ctx, const clg_tensor *const *in, int has_mask, int want_err,
                          clg_tensor *sums, clg_tensor *y)
{
    int n = (int)clg_shape_numel(&in[0]->s);
    size_t wg = ctx->wg_default;
    int vec = clg__vec_kernels(ctx), chunk = sq_chunk(n);
    int64_t ng = sq_groups(ctx, n);
    clg_tensor part;
    clg_status st = scratch(ctx, 2 * ng, &part);
    if (st)
        return st;
    const clg_tensor *mk = has_mask ? in[2] : in[0];
    if (vec)
        st = LAUNCH_ONES(ctx, CLG_K_sqerr_partial_vec, (size_t)ng, KTEN(in[0]), KTEN(in[1]), KTEN(mk),
                         KINT(has_mask), KINT(want_err), KINT(n), KINT(chunk), KMEM(part.buf));
    else
        st = LAUNCH(ctx, CLG_K_sqerr_partial, (size_t)ng * wg, KTEN(in[0]), KTEN(in[1]), KTEN(mk),
                      KINT(has_mask), KINT(want_err), KINT(n), KMEM(part.buf));
    if (!st)
        st = LAUNCH(ctx, CLG_K_sqerr_final, wg, KMEM(part.buf), KINT(ng), KMEM(sums->buf),
                      KMEM(y ? y->buf : sums->buf), KINT(y ? (int)y->offset : -1));
    return st;
}

static clg_status sq_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out, int has_mask)
{
    clg_tensor sums;
    clg_status st = scratch(ctx, 2, &sums);
    if (st)
        return st;
    return sq_sums(ctx, in, has_mask, 1, &sums, out);
}

/* Backward needs only the count: n for mse, sum(mask) (reduced again) for masked_mse. */
static clg_status sq_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *gout,
                              clg_tensor *const *gin, int has_mask, int acc)
{
    if (!gin[0] && !gin[1])
        return CLG_OK;
    int n = (int)clg_shape_numel(&in[0]->s);
    if (n == 0)
        return CLG_OK;
    clg_tensor sums;
    clg_status st = scratch(ctx, 2, &sums);
    if (st)
        return st;
    const clg_tensor *mk = has_mask ? in[2] : in[0];
    const clg_tensor *gp = gin[0] ? gin[0] : in[0], *gt = gin[1] ? gin[1] : in[0];
    if (has_mask)
        st = sq_sums(ctx, in, 1, 0, &sums, NULL);
    if (!st && clg__vec_kernels(ctx)) {
        int chunk = sq_chunk(n);
        st = LAUNCH_ONES(ctx, CLG_K_sqerr_bwd_vec, (size_t)(n + chunk - 1) / (size_t)chunk, KTEN(in[0]),
                         KTEN(in[1]), KTEN(mk), KINT(has_mask), KMEM(sums.buf), KFLT((float)n), KTEN(gout), KTEN(gp),
                         KINT(gin[0] != NULL), KTEN(gt), KINT(gin[1] != NULL), KINT(n), KINT(acc), KINT(chunk));
    } else if (!st)
        st = LAUNCH(ctx, CLG_K_sqerr_bwd, (size_t)n, KTEN(in[0]), KTEN(in[1]), KTEN(mk),
                      KINT(has_mask), KMEM(sums.buf), KFLT((float)n), KTEN(gout), KTEN(gp), KINT(gin[0] != NULL),
                      KTEN(gt), KINT(gin[1] != NULL), KINT(n), KINT(acc));
    return st;
}

/* The two sums, then (forward, or masked backward) sq_sums' partial sums. */
static int sq_scratch(const clg_ctx *ctx, const clg_shape *const *in, int has_mask, int backward, size_t *bytes)
{
    int64_t n = clg_shape_numel(in[0]);
    if (backward && n == 0)
        return 0;
    bytes[0] = 2 * sizeof(float);
    bytes[1] = (size_t)(2 * sq_groups(ctx, (int)n)) * sizeof(float);
    return backward && !has_mask ? 1 : 2;
}

static int mse_scratch(const clg_ctx *ctx, const clg_shape *const *in, const clg_shape *out, const clg_attrs *a,
                       int backward, size_t *bytes)
{
    (void)out;
    (void)a;
    return sq_scratch(ctx, in, 0, backward, bytes);
}

static int masked_mse_scratch(const clg_ctx *ctx, const clg_shape *const *in, const clg_shape *out,
                              const clg_attrs *a, int backward, size_t *bytes)
{
    (void)out;
    (void)a;
    return sq_scratch(ctx, in, 1, backward, bytes);
}

static clg_status mse_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out, const clg_attrs *a)
{
    (void)a;
    return sq_forward(ctx, in, out, 0);
}

static clg_status mse_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                               const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a, int acc)
{
    (void)out;
    (void)a;
    return sq_backward(ctx, in, gout, gin, 0, acc);
}

static clg_status masked_mse_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out, const clg_attrs *a)
{
    (void)a;
    return sq_forward(ctx, in, out, 1);
}

static clg_status masked_mse_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                                      const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a, int acc)
{
    (void)out;
    (void)a;
    return sq_backward(ctx, in, gout, gin, 1, acc);
}

const clg_op_desc clg_op_loss_mse = {
    .infer = mse_infer, .forward = mse_forward, .backward = mse_backward, .scratch = mse_scratch
};
const clg_op_desc clg_op_loss_masked_mse = {
    .infer = masked_mse_infer, .forward = masked_mse_forward, .backward = masked_mse_backward,
    .scratch = masked_mse_scratch
};
