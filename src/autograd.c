/* autograd.c — reverse-mode differentiation of a graph: which nodes need gradients, and the backward calls. */
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

/* Append the backward calls of op node m.  clg_op_backward has one accumulate flag per call, so the
 * inputs that get their first contribution (overwrite) and those already written (accumulate) go to
 * separate calls, as does an input that appears twice (add(x, x)). */
static clg_status push_backward(clg_graph *g, int m, unsigned char *written)
{
    const gnode *n = &g->nodes[m];
    unsigned pending = 0;
    for (int i = 0; i < n->nin; i++)
        if (g->nodes[n->in[i]].needs_grad)
            pending |= 1u << i;
    while (pending) {
        int first = __builtin_ctz(pending);
        int acc = written[n->in[first]] ? 1 : 0;
        unsigned mask = 0;
        for (int i = first; i < n->nin; i++) {
            if (!(pending & (1u << i)))
                continue;
            int src = n->in[i];
            if ((written[src] ? 1 : 0) != acc)
                continue;
            int dup = 0;
            for (int j = 0; j < i; j++)
                if ((mask & (1u << j)) && n->in[j] == src)
                    dup = 1;
            if (!dup)
                mask |= 1u << i;
        }
        clg_status st = clg__graph_push_ex(g, (exentry){ .kind = EX_BWD, .node = m, .gin_mask = mask, .acc = acc });
        if (st)
            return st;
        for (int i = 0; i < n->nin; i++)
            if (mask & (1u << i))
                written[n->in[i]] = 1;
        pending &= ~mask;
    }
    return CLG_OK;
}

/* With fusion on: when the loss's op has a forward_grad for these inputs (cross_entropy), its
 * forward entry writes the gradient too, and its seed fill and backward call leave the list (two
 * launches fewer per step, the same bits).  The backward call came first after the seed, so the
 * gradient it wrote was its inputs' first contribution; written at the forward it still is. */
static void fuse_loss(clg_graph *g)
{
    const gnode *x = &g->nodes[g->loss];
    const clg_op_desc *d = x->kind == GN_OP ? clg__op_desc(x->op) : NULL;
    if (!g->fuse || !d || !d->forward_grad || !x->needs_grad)
        return;
    const clg_shape *in[GNODE_MAX_IN];
    for (int i = 0; i < x->nin; i++)
        in[i] = &g->nodes[x->in[i]].s;
    if (!d->forward_grad_ok(in))
        return;
    int f = -1, sd = -1, b = -1, nb = 0;
    for (int t = 0; t < g->n_ex; t++) {
        const exentry *e = &g->ex[t];
        if (e->node != g->loss)
            continue;
        if (e->kind == EX_FWD)
            f = t;
        else if (e->kind == EX_SEED)
            sd = t;
        else if (e->kind == EX_BWD)
            b = t, nb++;
    }
    if (f < 0 || sd < 0 || nb != 1 || !(f < sd && sd < b))
        return;
    g->ex[f].grad = 1;
    g->ex[f].gin_mask = g->ex[b].gin_mask;
    g->ex[f].acc = g->ex[b].acc;
    int w = 0;
    for (int t = 0; t < g->n_ex; t++)
        if (t != sd && t != b)
            g->ex[w++] = g->ex[t];
    g->n_ex = w;
}

clg_status clg__graph_autograd(clg_graph *g)
{
    int n = g->n;
    if (g->loss < 0)
        return clg__fail(CLG_ERR_STATE, "graph plan: TRAIN mode needs a loss (clg_graph_set_loss)");
    unsigned char *on_path = calloc((size_t)n, 1), *dep = calloc((size_t)n, 1), *written = calloc((size_t)n, 1);
    clg_status st = CLG_OK;
    if (!on_path || !dep || !written) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
        goto out;
    }
    /* Nodes the loss depends on through differentiable f32 edges (ids are topological). */
    on_path[g->loss] = 1;
    for (int m = n - 1; m >= 0; m--) {
        gnode *x = &g->nodes[m];
        if (!on_path[m] || x->kind != GN_OP || !clg_op_has_backward(x->op))
            continue;
        for (int i = 0; i < x->nin; i++)
            if (g->nodes[x->in[i]].s.dtype == CLG_F32)
                on_path[x->in[i]] = 1;
    }
    /* Nodes that depend on a trainable param. */
    for (int m = 0; m < n; m++) {
        gnode *x = &g->nodes[m];
        if (x->kind == GN_PARAM)
            dep[m] = !clg__graph_is_frozen(g, x->group);
        else if (x->kind == GN_OP)
            for (int i = 0; i < x->nin; i++)
                dep[m] |= dep[x->in[i]];
    }
    for (int m = 0; m < n; m++)
        g->nodes[m].needs_grad = on_path[m] && dep[m] && g->nodes[m].s.dtype == CLG_F32;

    if (g->nodes[g->loss].needs_grad) {
        if ((st = clg__graph_push_ex(g, (exentry){ .kind = EX_SEED, .node = g->loss })))
            goto out;
        written[g->loss] = 1;
    }
    for (int m = n - 1; m >= 0; m--) {
        gnode *x = &g->nodes[m];
        if (x->kind != GN_OP || !x->needs_grad || !clg_op_has_backward(x->op))
            continue;
        if ((st = push_backward(g, m, written)))
            goto out;
    }
    if (g->has_opt && g->opt.kind != CLG_OPTIM_NONE) {
        if (g->opt.clip_norm > 0 && (st = clg__graph_push_ex(g, (exentry){ .kind = EX_CLIP, .node = -1 })))
            goto out;
        /* one update of every trainable param at once (they share the optimizer arenas) */
        int any = 0;
        for (int p = 0; p < g->n_params; p++)
            any |= g->nodes[g->params[p]].needs_grad && clg_shape_numel(&g->nodes[g->params[p]].s) > 0;
        if (any && (st = clg__graph_push_ex(g, (exentry){ .kind = EX_OPT, .node = -1 })))
            goto out;
    }
    fuse_loss(g);
out:
    free(on_path);
    free(dep);
    free(written);
    return st;
}
