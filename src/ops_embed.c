/* ops_embed.c — representation ops: embedding gather/scatter-add, l2_normalize, similarity, contrastive loss, attention lookup. */
#include <stdio.h>

#include "internal.h"

/* ---- helpers ----------------------------------------------------------------------------------- */

/* An [r,c] scratch tensor (a slot: see clg__scratch_tensor; the op's scratch function lists it). */
static clg_status scratch2(clg_ctx *ctx, clg_dtype dt, int64_t r, int64_t c, clg_tensor *t)
{
    clg_shape s = clg_shape_make(dt, 2, (int64_t[]){ r > 0 ? r : 1, c > 0 ? c : 1 });
    return clg__scratch_tensor(ctx, &s, t, "embed");
}

/* Bytes of scratch2(r, c). */
static size_t s2(int64_t r, int64_t c) { return (size_t)((r > 0 ? r : 1) * (c > 0 ? c : 1)) * 4; }

/* dst = op(a)·op(b) through the matmul op. */
static clg_status mm(clg_ctx *ctx, const clg_tensor *a, int ta, const clg_tensor *b, int tb, clg_tensor *dst)
{
    clg_attrs at = clg_attrs_defaults();
    at.trans_a = ta;
    at.trans_b = tb;
    return clg_op_forward(ctx, CLG_OP_MATMUL, (const clg_tensor *[]){ a, b }, dst, &at);
}

/* Gradients of c = a·op(b) (trans_b = tb) into ga, gb (either may be NULL). */
static clg_status mm_bwd(clg_ctx *ctx, const clg_tensor *a, const clg_tensor *b, int tb, const clg_tensor *c,
                         const clg_tensor *gc, clg_tensor *ga, clg_tensor *gb, int acc)
{
    if (!ga && !gb)
        return CLG_OK;
    clg_attrs at = clg_attrs_defaults();
    at.trans_b = tb;
    return clg_op_backward(ctx, CLG_OP_MATMUL, (const clg_tensor *[]){ a, b }, c, gc,
                           (clg_tensor *const[]){ ga, gb }, &at, acc);
}

static int too_big(const clg_shape *s) { return clg_shape_numel(s) > INT32_MAX; }

/* ---- embedding ------------------------------------------------------------------------------------ */

static clg_status embedding_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)a;
    clg_status st;
    if ((st = clg__check_dtype("embedding", 0, in[0], CLG_F32)) ||
        (st = clg__check_dtype("embedding", 1, in[1], CLG_I32)))
        return st;
    if (in[0]->ndim != 2)
        return clg__shape_fail("embedding", in, 2, "table must be 2-D [V,D]");
    if (in[1]->ndim < 1 || in[1]->ndim > 3)
        return clg__shape_fail("embedding", in, 2, "indices must be 1-D to 3-D");
    *out = *in[1];
    out->dtype = CLG_F32;
    out->dim[out->ndim++] = in[0]->dim[1];
    if (too_big(in[0]) || too_big(out))
        return clg__shape_fail("embedding", in, 2, "too many elements");
    return CLG_OK;
}

static clg_status embedding_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out, const clg_attrs *a)
{
    (void)a;
    int V = (int)in[0]->s.dim[0], D = (int)in[0]->s.dim[1];
    int n = (int)clg_shape_numel(&out->s);
    if (n > 0 && D > 0 && clg__vec_kernels(ctx)) {
        /* rows of D floats, ~4096 elements per work-item (float16 in work-groups of one) */
        int rows = n / D, rpw = D >= 4096 ? 1 : 4096 / D;
        return LAUNCH_ONES(ctx, CLG_K_emb_fwd_vec, (size_t)((rows + rpw - 1) / rpw), KTEN(in[0]),
                           KTEN(in[1]), KTEN(out), KINT(n), KINT(V), KINT(D), KMEM(ctx->errflags),
                           KINT(CLG_OP_EMBEDDING + 1), KINT(rpw));
    }
    return LAUNCH(ctx, CLG_K_emb_fwd, (size_t)n, KTEN(in[0]), KTEN(in[1]), KTEN(out), KINT(n),
                    KINT(V), KINT(D), KMEM(ctx->errflags), KINT(CLG_OP_EMBEDDING + 1));
}

/* Scatter-add without float atomics: a device counting sort groups index positions by row (each
 * bucket then sorted by position), and one work-item per (row, column) sums its bucket in index
 * order (CPU style: a work-item per block of table rows writes whole rows, float16 along D, and
 * the table needs no zero fill first), so the result is deterministic whatever
 * attrs.deterministic says.  Out-of-range indices
 * were flagged by the forward pass and are skipped here. */
static clg_status embedding_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                                     const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a, int acc)
{
    (void)out;
    (void)a;
    clg_tensor *gt = gin[0];
    if (!gt)
        return CLG_OK;
    clg_status st;
    int V = (int)in[0]->s.dim[0], D = (int)in[0]->s.dim[1];
    int n = (int)clg_shape_numel(&in[1]->s);
    /* CPU style: emb_rows_vec writes every row of gt, so no fill (PoCL fills ~13 GB/s) */
    int rows_vec = clg__vec_kernels(ctx) && n > 0 && D > 0 && V > 0;
    if (!acc && !rows_vec && (st = clg__fill_pattern(ctx, gt, 0)))
        return st;
    if (n == 0 || D == 0 || V == 0)
        return CLG_OK;
    clg_tensor cnt = { 0 }, start = { 0 }, cur = { 0 }, perm = { 0 };
    if ((st = scratch2(ctx, CLG_I32, 1, V, &cnt)) || (st = scratch2(ctx, CLG_I32, 1, V, &start)) ||
        (st = scratch2(ctx, CLG_I32, 1, V, &cur)) || (st = scratch2(ctx, CLG_I32, 1, n, &perm)))
        goto out;
    if ((st = clg__fill_pattern(ctx, &cnt, 0)) ||
        (st = LAUNCH(ctx, CLG_K_emb_count, (size_t)n, KTEN(in[1]), KINT(n), KINT(V), KMEM(cnt.buf))) ||
        (st = LAUNCH(ctx, CLG_K_emb_scan, 1, KMEM(cnt.buf), KMEM(start.buf), KMEM(cur.buf), KINT(V))) ||
        (st = LAUNCH(ctx, CLG_K_emb_place, (size_t)n, KTEN(in[1]), KINT(n), KINT(V), KMEM(cur.buf),
                       KMEM(perm.buf))) ||
        (st = LAUNCH(ctx, CLG_K_emb_sort, (size_t)V, KMEM(start.buf), KMEM(cnt.buf), KMEM(perm.buf),
                       KINT(V))))
        goto out;
    if (rows_vec) {
        /* table rows of D floats, ~4096 elements per work-item, float16 in work-groups of one */
        int rpw = D >= 4096 ? 1 : 4096 / D;
        st = LAUNCH_ONES(ctx, CLG_K_emb_rows_vec, (size_t)((V + rpw - 1) / rpw), KMEM(start.buf),
                         KMEM(cnt.buf), KMEM(perm.buf), KINT(V), KTEN(gout), KTEN(gt), KINT(D), KINT(rpw), KINT(acc));
    } else {
        /* the placed count is known only on the device: launch n slots, the kernel skips the rest */
        size_t g[2] = { (size_t)n, (size_t)D };
        clg_karg args[] = { KTEN(in[1]), KMEM(start.buf), KMEM(cnt.buf), KMEM(perm.buf), KMEM(cur.buf), KINT(V),
                            KTEN(gout), KTEN(gt), KINT(n), KINT(D) };
        st = clg__launch2d(ctx, CLG_K_emb_scatter, g, NULL, args, CLG_NARGS(args));
    }
out:
    return st;
}

/* Backward: counts, starts and cursors per table row, and the sorted positions. */
static int embedding_scratch(const clg_ctx *ctx, const clg_shape *const *in, const clg_shape *out,
                             const clg_attrs *a, int backward, size_t *bytes)
{
    (void)ctx;
    (void)out;
    (void)a;
    int64_t V = in[0]->dim[0], n = clg_shape_numel(in[1]);
    if (!backward || n == 0 || V == 0 || in[0]->dim[1] == 0)
        return 0;
    bytes[0] = bytes[1] = bytes[2] = s2(1, V);
    bytes[3] = s2(1, n);
    return 4;
}

const clg_op_desc clg_op_embed_embedding = {
    .infer = embedding_infer, .forward = embedding_forward, .backward = embedding_backward,
    .scratch = embedding_scratch
};

/* ---- l2_normalize ----------------------------------------------------------------------------------- */

static void rows_of(const clg_shape *s, int *rows, int *D)
{
    *D = s->ndim ? (int)s->dim[s->ndim - 1] : 1;
    *rows = *D ? (int)(clg_shape_numel(s) / *D) : 0;
}

/* Rows per work-item of the *_vec row kernels (l2_normalize, similarity): ~2048 elements. */
static int rows_per_item_vec(int D) { return D >= 2048 ? 1 : D > 0 ? 2048 / D : 1; }

static clg_status l2n_launch(clg_ctx *ctx, const clg_tensor *x, clg_tensor *y)
{
    int rows, D;
    rows_of(&x->s, &rows, &D);
    if (clg__vec_kernels(ctx)) {
        int rpw = rows_per_item_vec(D);
        return LAUNCH_ONES(ctx, CLG_K_l2n_fwd_vec, (size_t)((rows + rpw - 1) / rpw), KTEN(x), KTEN(y),
                           KINT(rows), KINT(D), KINT(rpw));
    }
    return LAUNCH(ctx, CLG_K_l2n_fwd, (size_t)rows, KTEN(x), KTEN(y), KINT(rows), KINT(D));
}

static clg_status l2n_bwd_launch(clg_ctx *ctx, const clg_tensor *x, const clg_tensor *y, const clg_tensor *g,
                                 clg_tensor *gx, int acc)
{
    if (!gx)
        return CLG_OK;
    int rows, D;
    rows_of(&x->s, &rows, &D);
    if (clg__vec_kernels(ctx)) {
        int rpw = rows_per_item_vec(D);
        return LAUNCH_ONES(ctx, CLG_K_l2n_bwd_vec, (size_t)((rows + rpw - 1) / rpw), KTEN(x), KTEN(y),
                           KTEN(g), KTEN(gx), KINT(rows), KINT(D), KINT(acc), KINT(rpw));
    }
    return LAUNCH(ctx, CLG_K_l2n_bwd, (size_t)rows, KTEN(x), KTEN(y), KTEN(g), KTEN(gx), KINT(rows),
                    KINT(D), KINT(acc));
}

static clg_status l2_normalize_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)a;
    clg_status st = clg__check_dtype("l2_normalize", 0, in[0], CLG_F32);
    if (st)
        return st;
    if (in[0]->ndim < 1)
        return clg__shape_fail("l2_normalize", in, 1, "input needs at least one axis");
    if (too_big(in[0]))
        return clg__shape_fail("l2_normalize", in, 1, "too many elements");
    *out = *in[0];
    return CLG_OK;
}

static clg_status l2_normalize_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,
                                       const clg_attrs *a)
{
    (void)a;
    return l2n_launch(ctx, in[0], out);
}

static clg_status l2_normalize_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                                        const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a, int acc)
{
    (void)a;
    return l2n_bwd_launch(ctx, in[0], out, gout, gin[0], acc);
}

const clg_op_desc clg_op_embed_l2_normalize = {
    .infer = l2_normalize_infer, .forward = l2_normalize_forward, .backward = l2_normalize_backward
};

/* ---- similarity, similarity_matrix -------------------------------------------------------------- */

static clg_status pair_infer(const char *op, const clg_shape *const *in, int same_rows)
{
    clg_status st;
    if ((st = clg__check_dtype(op, 0, in[0], CLG_F32)) || (st = clg__check_dtype(op, 1, in[1], CLG_F32)))
        return st;
    if (in[0]->ndim != 2 || in[1]->ndim != 2)
        return clg__shape_fail(op, in, 2, "inputs must be 2-D");
    if (in[0]->dim[1] != in[1]->dim[1])
        return clg__shape_fail(op, in, 2, "row lengths (D) differ");
    if (same_rows && in[0]->dim[0] != in[1]->dim[0])
        return clg__shape_fail(op, in, 2, "row counts (N) differ");
    if (too_big(in[0]) || too_big(in[1]) || in[0]->dim[0] * in[1]->dim[0] > INT32_MAX)
        return clg__shape_fail(op, in, 2, "too many elements");
    return CLG_OK;
}

static clg_status similarity_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)a;
    clg_status st = pair_infer("similarity", in, 1);
    if (st)
        return st;
    *out = clg_shape_make(CLG_F32, 1, (int64_t[]){ in[0]->dim[0] });
    return CLG_OK;
}

static clg_status similarity_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out, const clg_attrs *a)
{
    (void)a;
    int N = (int)in[0]->s.dim[0], D = (int)in[0]->s.dim[1];
    if (D == 0)
        return clg__fill_pattern(ctx, out, 0);
    if (clg__vec_kernels(ctx)) {
        int rpw = rows_per_item_vec(D);
        return LAUNCH_ONES(ctx, CLG_K_sim_fwd_vec, (size_t)((N + rpw - 1) / rpw), KTEN(in[0]), KTEN(in[1]),
                           KTEN(out), KINT(N), KINT(D), KINT(rpw));
    }
    return LAUNCH(ctx, CLG_K_sim_fwd, (size_t)N, KTEN(in[0]), KTEN(in[1]), KTEN(out), KINT(N), KINT(D));
}

static clg_status similarity_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                                      const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a, int acc)
{
    (void)out;
    (void)a;
    int D = (int)in[0]->s.dim[1];
    int n = (int)clg_shape_numel(&in[0]->s);
    clg_status st = CLG_OK;
    int N = (int)in[0]->s.dim[0], rpw = rows_per_item_vec(D), vec = clg__vec_kernels(ctx) && D > 0;
    for (int i = 0; i < 2 && !st; i++)
        if (gin[i])
            st = vec ? LAUNCH_ONES(ctx, CLG_K_sim_bwd_vec, (size_t)((N + rpw - 1) / rpw), KTEN(in[1 - i]),
                                   KTEN(gout), KTEN(gin[i]), KINT(N), KINT(D), KINT(acc), KINT(rpw))
                     : LAUNCH(ctx, CLG_K_sim_bwd, (size_t)n, KTEN(in[1 - i]), KTEN(gout), KTEN(gin[i]),
                                KINT(n), KINT(D), KINT(acc));
    return st;
}

const clg_op_desc clg_op_embed_similarity = {
    .infer = similarity_infer, .forward = similarity_forward, .backward = similarity_backward
};

static clg_status similarity_matrix_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)a;
    clg_status st = pair_infer("similarity_matrix", in, 0);
    if (st)
        return st;
    *out = clg_shape_make(CLG_F32, 2, (int64_t[]){ in[0]->dim[0], in[1]->dim[0] });
    return CLG_OK;
}

static clg_status similarity_matrix_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,
                                            const clg_attrs *a)
{
    (void)a;
    return mm(ctx, in[0], 0, in[1], 1, out);
}

static clg_status similarity_matrix_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                                             const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a,
                                             int acc)
{
    (void)a;
    return mm_bwd(ctx, in[0], in[1], 1, out, gout, gin[0], gin[1], acc);
}

const clg_op_desc clg_op_embed_similarity_matrix = {
    .infer = similarity_matrix_infer, .forward = similarity_matrix_forward,
    .backward = similarity_matrix_backward
};

/* ---- contrastive_loss ------------------------------------------------------------------------------ */

static clg_status contrastive_loss_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)a;
    clg_status st = pair_infer("contrastive_loss", in, 1);
    if (st)
        return st;
    if ((st = clg__check_dtype("contrastive_loss", 2, in[2], CLG_F32)))
        return st;
    if (in[2]->ndim != 0)
        return clg__shape_fail("contrastive_loss", in, 3, "log_scale must be a scalar (0-D)");
    if (in[0]->dim[1] < 1)
        return clg__shape_fail("contrastive_loss", in, 3, "needs D >= 1");
    *out = clg_shape_make(CLG_F32, 0, NULL);
    return CLG_OK;
}

/* Scratch of one contrastive pass: normalised rows, their similarity matrix, log-sum-exps. */
typedef struct clip_tmp {
    clg_tensor xn, yn, S, lse, term;
} clip_tmp;

/* Normalise, S = Xn·Ynᵀ, then row and column log-sum-exps of exp(ls)·S. */
static clg_status clip_prepare(clg_ctx *ctx, const clg_tensor *const *in, clip_tmp *t)
{
    int N = (int)in[0]->s.dim[0], D = (int)in[0]->s.dim[1];
    clg_status st;
    if ((st = scratch2(ctx, CLG_F32, N, D, &t->xn)) || (st = scratch2(ctx, CLG_F32, N, D, &t->yn)) ||
        (st = scratch2(ctx, CLG_F32, N, N, &t->S)) || (st = scratch2(ctx, CLG_F32, 1, 2 * N, &t->lse)) ||
        (st = scratch2(ctx, CLG_F32, 1, 2 * N, &t->term)))
        return st;
    /* the scratch shapes match the inputs exactly (N, D > 0 here) */
    t->xn.s = in[0]->s;
    t->yn.s = in[1]->s;
    if ((st = l2n_launch(ctx, in[0], &t->xn)) || (st = l2n_launch(ctx, in[1], &t->yn)) ||
        (st = mm(ctx, &t->xn, 0, &t->yn, 1, &t->S)))
        return st;
    if (clg__vec_kernels(ctx))
        return LAUNCH_ONES(ctx, CLG_K_clip_lse_vec, (size_t)(N + (N + 15) / 16), KMEM(t->S.buf),
                           KTEN(in[2]), KMEM(t->lse.buf), KMEM(t->term.buf), KINT(N));
    return LAUNCH(ctx, CLG_K_clip_lse, (size_t)(2 * N), KMEM(t->S.buf), KTEN(in[2]),
                    KMEM(t->lse.buf), KMEM(t->term.buf), KINT(N));
}

static clg_status contrastive_loss_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,
                                           const clg_attrs *a)
{
    (void)a;
    int N = (int)in[0]->s.dim[0], D = (int)in[0]->s.dim[1];
    (void)D;
    if (N == 0)
        return clg__fill_pattern(ctx, out, 0); /* mean over no pairs: 0 */
    clip_tmp t = { 0 };
    clg_status st = clip_prepare(ctx, in, &t);
    if (!st)
        st = LAUNCH(ctx, CLG_K_sum_serial, 1, KMEM(t.term.buf), KINT(2 * N),
                      KFLT(0.5f / (float)N), KTEN(out));
    return st;
}

static clg_status contrastive_loss_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                                            const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a,
                                            int acc)
{
    (void)out;
    (void)a;
    if (!gin[0] && !gin[1] && !gin[2])
        return CLG_OK;
    int N = (int)in[0]->s.dim[0], D = (int)in[0]->s.dim[1];
    if (N == 0) {
        for (int i = 0; i < 3 && !acc; i++)
            if (gin[i]) {
                clg_status st = clg__fill_pattern(ctx, gin[i], 0);
                if (st)
                    return st;
            }
        return CLG_OK;
    }
    clip_tmp t = { 0 };
    clg_tensor dS = { 0 }, dXn = { 0 }, dYn = { 0 };
    clg_status st = clip_prepare(ctx, in, &t);
    if (!st && !(st = scratch2(ctx, CLG_F32, N, N, &dS)))
        /* term is free again: reuse it for the per-row parts of d log_scale */
        st = clg__vec_kernels(ctx)
                 ? LAUNCH_ONES(ctx, CLG_K_clip_grad_vec, (size_t)N, KMEM(t.S.buf), KTEN(in[2]),
                               KMEM(t.lse.buf), KTEN(gout), KMEM(dS.buf), KMEM(t.term.buf), KINT(N))
                 : LAUNCH(ctx, CLG_K_clip_grad, (size_t)N, KMEM(t.S.buf), KTEN(in[2]), KMEM(t.lse.buf),
                            KTEN(gout), KMEM(dS.buf), KMEM(t.term.buf), KINT(N));
    if (!st && gin[2])
        st = LAUNCH(ctx, CLG_K_clip_gscale, 1, KMEM(t.term.buf), KINT(N), KTEN(gin[2]), KINT(acc));
    if (!st && gin[0] && !(st = scratch2(ctx, CLG_F32, N, D, &dXn)) && !(st = mm(ctx, &dS, 0, &t.yn, 0, &dXn)))
        st = l2n_bwd_launch(ctx, in[0], &t.xn, &dXn, gin[0], acc);
    if (!st && gin[1] && !(st = scratch2(ctx, CLG_F32, N, D, &dYn)) && !(st = mm(ctx, &dS, 1, &t.xn, 0, &dYn)))
        st = l2n_bwd_launch(ctx, in[1], &t.yn, &dYn, gin[1], acc);
    return st;
}

/* clip_prepare's five tensors, the product S = Xn·Ynᵀ's own (slot 5); backward then dS (slot 5),
 * dXn and dYn. */
static int contrastive_loss_scratch(const clg_ctx *ctx, const clg_shape *const *in, const clg_shape *out,
                                    const clg_attrs *a, int backward, size_t *bytes)
{
    (void)ctx;
    (void)out;
    (void)a;
    int64_t N = in[0]->dim[0], D = in[0]->dim[1];
    if (N == 0)
        return 0;
    bytes[0] = bytes[1] = s2(N, D);
    bytes[2] = s2(N, N);
    bytes[3] = bytes[4] = s2(1, 2 * N);
    bytes[5] = clg__gemm_nt_scratch(N, D, 1);
    if (!backward)
        return 6;
    if (bytes[5] < s2(N, N))
        bytes[5] = s2(N, N);
    bytes[6] = bytes[7] = s2(N, D);
    return 8;
}

const clg_op_desc clg_op_embed_contrastive_loss = {
    .infer = contrastive_loss_infer, .forward = contrastive_loss_forward,
    .backward = contrastive_loss_backward, .scratch = contrastive_loss_scratch
};

/* ---- attention_lookup ------------------------------------------------------------------------------- */

static clg_status attention_lookup_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    (void)a;
    const char *op = "attention_lookup";
    clg_status st;
    for (int i = 0; i < 3; i++)
        if ((st = clg__check_dtype(op, i, in[i], CLG_F32)))
            return st;
    if (in[0]->ndim != 2 || in[1]->ndim != 2 || in[2]->ndim != 2)
        return clg__shape_fail(op, in, 3, "q, K and V must be 2-D");
    if (in[0]->dim[1] != in[1]->dim[1])
        return clg__shape_fail(op, in, 3, "q and K row lengths (D) differ");
    if (in[1]->dim[0] != in[2]->dim[0])
        return clg__shape_fail(op, in, 3, "K and V row counts (Nk) differ");
    if (in[1]->dim[0] < 1)
        return clg__shape_fail(op, in, 3, "needs at least one key");
    if (too_big(in[0]) || too_big(in[1]) || too_big(in[2]) || in[0]->dim[0] * in[1]->dim[0] > INT32_MAX ||
        in[0]->dim[0] * in[2]->dim[1] > INT32_MAX)
        return clg__shape_fail(op, in, 3, "too many elements");
    *out = clg_shape_make(CLG_F32, 2, (int64_t[]){ in[0]->dim[0], in[2]->dim[1] });
    return CLG_OK;
}

/* P = softmax(alpha q·Kᵀ) into a new [Nq,Nk] scratch tensor. */
static clg_status att_weights(clg_ctx *ctx, const clg_tensor *const *in, float alpha, clg_tensor *P)
{
    int Nq = (int)in[0]->s.dim[0], Nk = (int)in[1]->s.dim[0];
    clg_status st = scratch2(ctx, CLG_F32, Nq, Nk, P);
    if (st)
        return st;
    P->s.dim[0] = Nq; /* Nq may be 0 */
    if ((st = mm(ctx, in[0], 0, in[1], 1, P)))
        return st;
    if (clg__vec_kernels(ctx))
        return LAUNCH_ONES(ctx, CLG_K_att_softmax_vec, (size_t)Nq, KMEM(P->buf), KINT(Nq), KINT(Nk),
                           KFLT(alpha));
    return LAUNCH(ctx, CLG_K_att_softmax, (size_t)Nq, KMEM(P->buf), KINT(Nq), KINT(Nk), KFLT(alpha));
}

static clg_status attention_lookup_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,
                                           const clg_attrs *a)
{
    clg_tensor P = { 0 };
    clg_status st = att_weights(ctx, in, a->alpha, &P);
    if (!st)
        st = mm(ctx, &P, 0, in[2], 0, out);
    return st;
}

static clg_status attention_lookup_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                                            const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a,
                                            int acc)
{
    if (!gin[0] && !gin[1] && !gin[2])
        return CLG_OK;
    int Nq = (int)in[0]->s.dim[0], Nk = (int)in[1]->s.dim[0];
    clg_tensor P = { 0 }, dP = { 0 };
    clg_status st = att_weights(ctx, in, a->alpha, &P);
    /* out = P·V */
    if (!st)
        st = mm_bwd(ctx, &P, in[2], 0, out, gout, NULL, gin[2], acc);
    if (!st && (gin[0] || gin[1]) && !(st = scratch2(ctx, CLG_F32, Nq, Nk, &dP))) {
        dP.s.dim[0] = Nq;
        if (!(st = mm(ctx, gout, 0, in[2], 1, &dP)) &&
            !(st = clg__vec_kernels(ctx)
                       ? LAUNCH_ONES(ctx, CLG_K_att_softmax_bwd_vec, (size_t)Nq, KMEM(P.buf), KMEM(dP.buf),
                                     KINT(Nq), KINT(Nk), KFLT(a->alpha))
                       : LAUNCH(ctx, CLG_K_att_softmax_bwd, (size_t)Nq, KMEM(P.buf), KMEM(dP.buf),
                                  KINT(Nq), KINT(Nk), KFLT(a->alpha))))
            /* S = q·Kᵀ (P stands in for S's shape only) */
            st = mm_bwd(ctx, in[0], in[1], 1, &P, &dP, gin[0], gin[1], acc);
    }
    return st;
}

/* P (slot 0), then each product's own at slot 1; backward also dP at slot 1 and its products' at 2. */
static int attention_lookup_scratch(const clg_ctx *ctx, const clg_shape *const *in, const clg_shape *out,
                                    const clg_attrs *a, int backward, size_t *bytes)
{
    (void)ctx;
    (void)out;
    (void)a;
    int64_t Nq = in[0]->dim[0], Nk = in[1]->dim[0], D = in[0]->dim[1], Dv = in[2]->dim[1];
    size_t mm = clg__gemm_nt_scratch(Nk, D, 1), mv = clg__gemm_nt_scratch(Nk, Dv, 1);
    mm = mm > mv ? mm : mv;
    mm = mm > clg__gemm_nt_scratch(Nq, Nk, 1) ? mm : clg__gemm_nt_scratch(Nq, Nk, 1);
    bytes[0] = s2(Nq, Nk);
    bytes[1] = mm;
    if (!backward)
        return 2;
    if (bytes[1] < s2(Nq, Nk))
        bytes[1] = s2(Nq, Nk);
    bytes[2] = mm;
    return 3;
}

const clg_op_desc clg_op_embed_attention_lookup = {
    .infer = attention_lookup_infer, .forward = attention_lookup_forward,
    .backward = attention_lookup_backward, .scratch = attention_lookup_scratch
};
