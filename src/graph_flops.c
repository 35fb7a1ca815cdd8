/* graph_flops.c — the floating-point work of one planned step (GEMM products only), for clg_graph_stats. */
#include "graph_internal.h"

/* 2·B·M·N·K of a matmul/bmm node: its output is [(B,)M,N] and K is op(A)'s last dimension. */
static double gemm_flops(const clg_graph *g, const gnode *x)
{
    const clg_shape *a = &g->nodes[x->in[0]].s;
    if (a->ndim < 2 || x->s.ndim < 2)
        return 0;
    double k = (double)(x->attrs.trans_a ? a->dim[a->ndim - 2] : a->dim[a->ndim - 1]);
    double b = x->s.ndim == 3 ? (double)x->s.dim[0] : 1.0;
    return 2.0 * b * (double)x->s.dim[x->s.ndim - 2] * (double)x->s.dim[x->s.ndim - 1] * k;
}

/* Over the plan's exec list: each forward product once, and each backward call once per input it
 * differentiates (dA and dB cost a product of the same size each; an input that needs no gradient,
 * e.g. the data, costs nothing).  0 without a plan. */
double clg__graph_step_flops(const clg_graph *g)
{
    double flops = 0;
    if (!g->planned)
        return 0;
    for (int i = 0; i < g->n_ex; i++) {
        const exentry *e = &g->ex[i];
        if (e->kind != EX_FWD && e->kind != EX_BWD)
            continue;
        const gnode *x = &g->nodes[e->node];
        if (x->kind != GN_OP || !(((x->op == CLG_OP_MATMUL || x->op == CLG_OP_BMM) && x->nin == 2) ||
                                  (x->op == CLG_OP_LINEAR && x->nin == 3)))
            continue;
        double f = gemm_flops(g, x); /* linear: its product (the bias is element-wise work) */
        flops += e->kind == EX_FWD ? f : f * __builtin_popcount(e->gin_mask & 3u);
    }
    return flops;
}
