/* ops_elementwise.c — unary activations (relu, gelu, tanh, sigmoid, exp, log, scale), broadcasting
 * binary ops (add, sub, mul) and the fused bias + activation (bias_act). */
#include <stdio.h>

#include "internal.h"

/* ---- unary ----------------------------------------------------------------- */

static clg_status unary_infer(const char *op, const clg_shape *const *in, clg_shape *out)
{
    clg_status st = clg__check_dtype(op, 0, in[0], CLG_F32);
    if (st)
        return st;
    *out = *in[0];
    return CLG_OK;
}

/* vec: the op's NAME_fwd_vec/NAME_bwd_vec kernel, or CLG_K_NONE (used where clg__vec_kernels;
 * PoCL log [128,256] forward 249 -> 43 us: tools/BENCHMARKS.md). */
static clg_status unary_fwd(clg_ctx *ctx, clg_kid kid, clg_kid vec, const clg_tensor *x, clg_tensor *y,
                            float alpha)
{
    int n = (int)clg_shape_numel(&x->s);
    if (vec != CLG_K_NONE && n > 0 && clg__vec_kernels(ctx)) {
        int chunk = clg__vec_chunk(n);
        return LAUNCH_ONES(ctx, vec, (size_t)((n + chunk - 1) / chunk), KTEN(x), KTEN(y),
                           KINT(n), KFLT(alpha), KINT(chunk));
    }
    return LAUNCH(ctx, kid, (size_t)n, KTEN(x), KTEN(y), KINT(n), KFLT(alpha));
}

static clg_status unary_bwd(clg_ctx *ctx, clg_kid kid, clg_kid vec, const clg_tensor *x, const clg_tensor *y,
                            const clg_tensor *gy, clg_tensor *gx, float alpha, int acc)
{
    if (!gx)
        return CLG_OK;
    int n = (int)clg_shape_numel(&x->s);
    if (vec != CLG_K_NONE && n > 0 && clg__vec_kernels(ctx)) {
        int chunk = clg__vec_chunk(n);
        return LAUNCH_ONES(ctx, vec, (size_t)((n + chunk - 1) / chunk), KTEN(x), KTEN(y),
                           KTEN(gy), KTEN(gx), KINT(n), KFLT(alpha), KINT(acc), KINT(chunk));
    }
    return LAUNCH(ctx, kid, (size_t)n, KTEN(x), KTEN(y), KTEN(gy), KTEN(gx),
                    KINT(n), KFLT(alpha), KINT(acc));
}

#define UNARY_OP(NAME, ALPHA, VFWD, VBWD, ACT)                                                                 \
    static clg_status NAME##_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)     \
    {                                                                                                  \
        (void)a;                                                                                       \
        return unary_infer(#NAME, in, out);                                                            \
    }                                                                                                  \
    static clg_status NAME##_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,       \
                                     const clg_attrs *a)                                               \
    {                                                                                                  \
        (void)a;                                                                                       \
        return unary_fwd(ctx, CLG_K_##NAME##_fwd, (VFWD), in[0], out, (ALPHA));                        \
    }                                                                                                  \
    static clg_status NAME##_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out, \
                                      const clg_tensor *gout, clg_tensor *const *gin,                  \
                                      const clg_attrs *a, int acc)                                     \
    {                                                                                                  \
        (void)a;                                                                                       \
        return unary_bwd(ctx, CLG_K_##NAME##_bwd, (VBWD), in[0], out, gout, gin[0], (ALPHA), acc);     \
    }                                                                                                  \
    const clg_op_desc clg_op_elementwise_##NAME = { .infer = NAME##_infer, .forward = NAME##_forward,  \
        .backward = NAME##_backward, .act = (ACT) };

UNARY_OP(scale, a->alpha, CLG_K_scale_fwd_vec, CLG_K_scale_bwd_vec, CLG_ACT_NONE)
UNARY_OP(relu, 0.0f, CLG_K_relu_fwd_vec, CLG_K_relu_bwd_vec, CLG_ACT_RELU)
UNARY_OP(gelu, 0.0f, CLG_K_NONE, CLG_K_NONE, CLG_ACT_GELU)
UNARY_OP(tanh, 0.0f, CLG_K_NONE, CLG_K_NONE, CLG_ACT_TANH)
UNARY_OP(sigmoid, 0.0f, CLG_K_NONE, CLG_K_NONE, CLG_ACT_SIGMOID)
UNARY_OP(exp, 0.0f, CLG_K_exp_fwd_vec, CLG_K_exp_bwd_vec, CLG_ACT_NONE)
UNARY_OP(log, 0.0f, CLG_K_log_fwd_vec, CLG_K_log_bwd_vec, CLG_ACT_NONE)

/* ---- binary with numpy-style broadcasting ----------------------------------- */

/* Shapes right-aligned and padded to 4 dims: dims of a, b and the output, and the
 * element strides of a and b in output index space (0 along broadcast dims). */
typedef struct bcast {
    int ad[4], bd[4], od[4];
    int as[4], bs[4];
    int n;
} bcast;

static void pad4(const clg_shape *s, int d[4])
{
    int off = 4 - s->ndim;
    for (int k = 0; k < 4; k++)
        d[k] = k < off ? 1 : (int)s->dim[k - off];
}

static void strides4(const int d[4], const int od[4], int st[4])
{
    int acc = 1;
    for (int k = 3; k >= 0; k--) {
        st[k] = (d[k] == 1 && od[k] != 1) ? 0 : acc;
        acc *= d[k];
    }
}

static clg_status binary_infer(const char *op, const clg_shape *const *in, clg_shape *out)
{
    clg_status st;
    if ((st = clg__check_dtype(op, 0, in[0], CLG_F32)) || (st = clg__check_dtype(op, 1, in[1], CLG_F32)))
        return st;
    int nd = in[0]->ndim > in[1]->ndim ? in[0]->ndim : in[1]->ndim;
    *out = clg_shape_make(CLG_F32, 0, NULL);
    out->ndim = nd;
    for (int k = 0; k < nd; k++) {
        int ka = k - (nd - in[0]->ndim), kb = k - (nd - in[1]->ndim);
        int64_t da = ka >= 0 ? in[0]->dim[ka] : 1, db = kb >= 0 ? in[1]->dim[kb] : 1;
        if (da != db && da != 1 && db != 1)
            return clg__shape_fail(op, in, 2, "shapes do not broadcast");
        out->dim[k] = da == 1 ? db : da;
    }
    if (clg_shape_numel(out) > INT32_MAX)
        return clg__shape_fail(op, in, 2, "too many elements");
    return CLG_OK;
}

static void bcast_make(const clg_tensor *a, const clg_tensor *b, const clg_tensor *y, bcast *g)
{
    pad4(&a->s, g->ad);
    pad4(&b->s, g->bd);
    pad4(&y->s, g->od);
    strides4(g->ad, g->od, g->as);
    strides4(g->bd, g->od, g->bs);
    g->n = (int)clg_shape_numel(&y->s);
}

/* Elements per row when x (padded dims xd) is the output (dims od) broadcast along its leading
 * dims only: xd[k] == 1 before some j and == od[k] from j on.  0 when it is not. */
static int row_cols(const int xd[4], const int od[4])
{
    int j = 4;
    while (j > 0 && xd[j - 1] == od[j - 1])
        j--;
    for (int k = 0; k < j; k++)
        if (xd[k] != 1)
            return 0;
    int c = 1;
    for (int k = j; k < 4; k++)
        c *= od[k];
    return c;
}

/* kid: NAME_fwd (general broadcast); rows, rows2: NAME_fwd_rows (1-D) and NAME_fwd_rows2 (2-D). */
static clg_status binary_fwd(clg_ctx *ctx, clg_kid kid, clg_kid rows, clg_kid rows2, const clg_tensor *a,
                             const clg_tensor *b, clg_tensor *y)
{
    bcast g;
    bcast_make(a, b, y, &g);
    int ca = row_cols(g.ad, g.od), cb = row_cols(g.bd, g.od);
    if (g.n > 0 && ((ca == g.n && cb > 0) || (cb == g.n && ca > 0))) {
        int cols = ca < cb ? ca : cb;
        if (cols < g.n && (size_t)cols >= ctx->wg_default) {
            size_t gs[2] = { (size_t)cols, (size_t)(g.n / cols) }, ls[2] = { ctx->wg_default, 1 };
            const clg_karg args[] = { KTEN(a), KTEN(b), KTEN(y), KINT(g.n / cols), KINT(cols), KINT(ca != g.n),
                                      KINT(cb != g.n) };
            return clg__launch2d(ctx, rows2, gs, ls, args, CLG_NARGS(args));
        }
        return LAUNCH(ctx, rows, (size_t)g.n, KTEN(a), KTEN(b), KTEN(y), KINT(g.n),
                        KINT(cols), KINT(ca != g.n), KINT(cb != g.n));
    }
    return LAUNCH(ctx, kid, (size_t)g.n, KTEN(a), KTEN(b), KTEN(y), KINT(g.n),
                    KINT(g.od[1]), KINT(g.od[2]), KINT(g.od[3]), KINT(g.as[0]), KINT(g.as[1]),
                    KINT(g.as[2]), KINT(g.as[3]), KINT(g.bs[0]), KINT(g.bs[1]), KINT(g.bs[2]),
                    KINT(g.bs[3]));
}

/* Gradient of one operand x (dims xd): each work-item owns one element of gx and sums
 * scale * gy (mode 0) or gy * other (mode 1) over the positions broadcast onto it. */
static clg_status binary_bwd_one(clg_ctx *ctx, const clg_tensor *gy, const clg_tensor *other,
                                 const int ostr[4], const int odims[4], clg_tensor *gx, const int xd[4],
                                 const int od[4], float scale, int mode, int acc)
{
    int n = (int)clg_shape_numel(&gx->s);
    int no = (int)clg_shape_numel(&gy->s);
    int cx = row_cols(xd, od), co = row_cols(odims, od);
    if (no > 0 && cx > 0 && (!mode || (co > 0 && (cx == no || co == no)))) {
        int xrow = cx != no, cols = !mode ? cx : cx < co ? cx : co;
        if (!mode)
            co = no;
        return LAUNCH(ctx, CLG_K_binary_bwd_rows, (size_t)n, KTEN(gy), KTEN(other), KTEN(gx),
                        KINT(n), KINT(no / cols), KINT(cols), KINT(xrow), KINT(co != no), KFLT(scale), KINT(mode),
                        KINT(acc));
    }
    return LAUNCH(ctx, CLG_K_binary_bwd, (size_t)n, KTEN(gy), KTEN(other), KTEN(gx),
                    KINT(n), KINT(xd[0]), KINT(xd[1]), KINT(xd[2]), KINT(xd[3]), KINT(od[0]), KINT(od[1]),
                    KINT(od[2]), KINT(od[3]), KINT(ostr[0]), KINT(ostr[1]), KINT(ostr[2]), KINT(ostr[3]),
                    KFLT(scale), KINT(mode), KINT(acc));
}

/* mul: 0 = add, 1 = sub, 2 = mul */
static clg_status binary_bwd(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                             const clg_tensor *gout, clg_tensor *const *gin, int kind, int acc)
{
    bcast g;
    bcast_make(in[0], in[1], out, &g);
    clg_status st = CLG_OK;
    if (gin[0])
        st = binary_bwd_one(ctx, gout, in[1], g.bs, g.bd, gin[0], g.ad, g.od, 1.0f, kind == 2, acc);
    if (!st && gin[1])
        st = binary_bwd_one(ctx, gout, in[0], g.as, g.ad, gin[1], g.bd, g.od, kind == 1 ? -1.0f : 1.0f, kind == 2,
                            acc);
    return st;
}

#define BINARY_OP(NAME, KIND)                                                                          \
    static clg_status NAME##_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)     \
    {                                                                                                  \
        (void)a;                                                                                       \
        return binary_infer(#NAME, in, out);                                                           \
    }                                                                                                  \
    static clg_status NAME##_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,       \
                                     const clg_attrs *a)                                               \
    {                                                                                                  \
        (void)a;                                                                                       \
        return binary_fwd(ctx, CLG_K_##NAME##_fwd, CLG_K_##NAME##_fwd_rows, CLG_K_##NAME##_fwd_rows2, in[0], \
                          in[1], out);                                                                 \
    }                                                                                                  \
    static clg_status NAME##_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out, \
                                      const clg_tensor *gout, clg_tensor *const *gin,                  \
                                      const clg_attrs *a, int acc)                                     \
    {                                                                                                  \
        (void)a;                                                                                       \
        return binary_bwd(ctx, in, out, gout, gin, (KIND), acc);                                       \
    }                                                                                                  \
    const clg_op_desc clg_op_elementwise_##NAME = { .infer = NAME##_infer, .forward = NAME##_forward,  \
        .backward = NAME##_backward };

BINARY_OP(add, 0)
BINARY_OP(sub, 1)
BINARY_OP(mul, 2)

/* ---- bias_act: y = act(x + b) with b broadcast over the rows ---------------------------------------- */

/* Rows per block of the backward's column sums: one block (a single launch) up to this many rows. */
#define BIAS_ACT_ONE_BLOCK 256
#define BIAS_ACT_RB 64

static clg_status bias_act_infer(const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    const char *op = "bias_act";
    clg_status st;
    if ((st = clg__check_dtype(op, 0, in[0], CLG_F32)) || (st = clg__check_dtype(op, 1, in[1], CLG_F32)))
        return st;
    if (a->act < 0 || a->act >= CLG_ACT_COUNT)
        return clg__fail(CLG_ERR_INVALID_ARG, "bias_act: unknown activation %d (attrs.act must be a clg_act)",
                         a->act);
    if (in[0]->ndim < 1 || in[1]->ndim != 1 || in[1]->dim[0] != in[0]->dim[in[0]->ndim - 1])
        return clg__shape_fail(op, in, 2, "b must be 1-D with the length of x's last axis");
    if (clg_shape_numel(in[0]) > INT32_MAX)
        return clg__shape_fail(op, in, 2, "too many elements");
    *out = *in[0];
    return CLG_OK;
}

static void bias_act_dims(const clg_tensor *x, int *rows, int *cols)
{
    *cols = (int)x->s.dim[x->s.ndim - 1];
    *rows = *cols ? (int)(clg_shape_numel(&x->s) / *cols) : 0;
}

/* Rows per work-item of bias_act_fwd_vec: about 4096 elements each, or fewer rows so that
 * there are at least 4 work-items per compute unit. */
static int bias_act_rpw(const clg_ctx *ctx, int rows, int cols)
{
    int rpw = cols >= 4096 ? 1 : 4096 / cols;
    int want = 4 * (ctx->info.compute_units ? ctx->info.compute_units : 1);
    if ((rows + rpw - 1) / rpw < want)
        rpw = (rows + want - 1) / want;
    return rpw < 1 ? 1 : rpw;
}

static clg_status bias_act_forward(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out, const clg_attrs *a)
{
    int rows, cols;
    bias_act_dims(in[0], &rows, &cols);
    if (clg__vec_kernels(ctx)) {
        /* work-groups of one, float16 along the columns (PoCL [256,512] relu: 127 -> 59 us) */
        int rpw = bias_act_rpw(ctx, rows, cols);
        return LAUNCH_ONES(ctx, CLG_K_bias_act_fwd_vec, (size_t)(rows + rpw - 1) / (size_t)rpw,
                           KTEN(in[0]), KTEN(in[1]), KTEN(out), KINT(rows), KINT(cols), KINT(a->act), KINT(rpw));
    }
    size_t gs[2] = { (size_t)cols, (size_t)rows }, ls[2] = { ctx->wg_default, 1 };
    const clg_karg args[] = { KTEN(in[0]), KTEN(in[1]), KTEN(out), KINT(rows), KINT(cols), KINT(a->act) };
    return clg__launch2d(ctx, CLG_K_bias_act_fwd, gs, (size_t)cols >= ctx->wg_default ? ls : NULL,
                         args, CLG_NARGS(args));
}

/* Row blocks of the backward: one block of all rows when they fit, else blocks of BIAS_ACT_RB. */
static int bias_act_blocks(int rows, int *rb)
{
    *rb = rows <= BIAS_ACT_ONE_BLOCK ? rows : BIAS_ACT_RB;
    return *rb ? (rows + *rb - 1) / *rb : 0;
}

/* One launch when the rows fit one block (each work-item sums its 4 columns over all rows),
 * else blocks of BIAS_ACT_RB rows write partial column sums (a scratch slot) and bias_act_db adds
 * them up. */
clg_status clg__bias_act_bwd(clg_ctx *ctx, const clg_tensor *x, const clg_tensor *b, const clg_tensor *y,
                             const clg_tensor *gy, const clg_tensor *gx, const clg_tensor *gb, int act, int from_y,
                             int acc_gx, int acc_gb)
{
    int rows, cols;
    bias_act_dims(y, &rows, &cols);
    if (!gx && !gb)
        return CLG_OK;
    int rb, nblk = bias_act_blocks(rows, &rb);
    int direct = nblk <= 1;
    cl_mem part = NULL;
    if (gb && !direct) {
        clg_status st = clg__scratch_mem(ctx, (size_t)nblk * (size_t)cols * sizeof(float), &part, "bias_act backward");
        if (st)
            return st;
    }
    const clg_tensor *gxp = gx ? gx : gy, *gbp = gb ? gb : b; /* placeholders when unused */
    int vec = clg__vec_kernels(ctx); /* strips of 16 columns in groups of one (bwd 126 -> 56 us) */
    size_t gs[2] = { (size_t)(cols + (vec ? 15 : 3)) / (vec ? 16 : 4), (size_t)nblk }, one[2] = { 1, 1 };
    const clg_karg args[] = { KTEN(x), KTEN(b), KTEN(y), KTEN(gy), KMEM(gxp->buf), KINT(gxp->offset),
                              KMEM(part ? part : gbp->buf), KINT(part ? 0 : (int)gbp->offset), KINT(rows), KINT(cols),
                              KINT(rb), KINT(act), KINT(gx != NULL), KINT(gb != NULL), KINT(direct),
                              KINT((acc_gx ? 1 : 0) | (acc_gb ? 2 : 0)), KINT(from_y) };
    clg_status st = clg__launch2d(ctx, vec ? CLG_K_bias_act_bwd_vec : CLG_K_bias_act_bwd, gs, vec ? one : NULL, args, CLG_NARGS(args));
    if (!st && part)
        st = LAUNCH(ctx, CLG_K_bias_act_db, (size_t)cols, KMEM(part), KINT(cols), KINT(nblk),
                      KTEN(gb), KINT(acc_gb));
    return st;
}

static clg_status bias_act_backward(clg_ctx *ctx, const clg_tensor *const *in, const clg_tensor *out,
                                    const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a, int acc)
{
    return clg__bias_act_bwd(ctx, in[0], in[1], out, gout, gin[0], gin[1], a->act, 0, acc, acc);
}

size_t clg__bias_act_bwd_scratch(int64_t rows, int64_t cols)
{
    int rb, nblk = bias_act_blocks((int)rows, &rb);
    return nblk <= 1 ? 0 : (size_t)nblk * (size_t)cols * sizeof(float);
}

/* Backward: the partial column sums of the bias gradient when the rows span several blocks. */
static int bias_act_scratch(const clg_ctx *ctx, const clg_shape *const *in, const clg_shape *out,
                            const clg_attrs *a, int backward, size_t *bytes)
{
    (void)ctx;
    (void)out;
    (void)a;
    int64_t cols = in[0]->ndim ? in[0]->dim[in[0]->ndim - 1] : 1;
    int64_t rows = cols ? clg_shape_numel(in[0]) / cols : 0;
    if (!backward || !(bytes[0] = clg__bias_act_bwd_scratch(rows, cols)))
        return 0;
    return 1;
}

const clg_op_desc clg_op_elementwise_bias_act = {
    .infer = bias_act_infer, .forward = bias_act_forward, .backward = bias_act_backward,
    .scratch = bias_act_scratch
};
