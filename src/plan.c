/* plan.c — memory plan: liveness of intermediate tensors over the exec list, offsets in one shared pool. */
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

/* Pool offsets are multiples of this many elements (128 bytes). */
#define POOL_ALIGN 32

static void touch(pbuf *b, int t)
{
    if (b->first < 0 || t < b->first)
        b->first = t;
    if (t > b->last)
        b->last = t;
}

static int by_size_desc(const void *pa, const void *pb)
{
    const pbuf *a = *(const pbuf *const *)pa, *b = *(const pbuf *const *)pb;
    if (a->elems != b->elems)
        return a->elems > b->elems ? -1 : 1;
    return a->first - b->first;
}

static int by_offset(const void *pa, const void *pb)
{
    const pbuf *a = *(const pbuf *const *)pa, *b = *(const pbuf *const *)pb;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* Greedy by size: each tensor, largest first, takes the lowest offset that does not overlap any
 * already placed tensor whose lifetime intersects its own. */
static clg_status assign_offsets(clg_graph *g)
{
    int nb = g->n_bufs;
    pbuf **sorted = malloc(sizeof *sorted * (size_t)(nb ? nb : 1));
    pbuf **live = malloc(sizeof *live * (size_t)(nb ? nb : 1));
    if (!sorted || !live) {
        free(sorted);
        free(live);
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
    }
    for (int i = 0; i < nb; i++)
        sorted[i] = &g->bufs[i];
    qsort(sorted, (size_t)nb, sizeof *sorted, by_size_desc);
    size_t top = 0;
    for (int i = 0; i < nb; i++) {
        pbuf *b = sorted[i];
        int nl = 0;
        for (int j = 0; j < i; j++)
            if (sorted[j]->first <= b->last && b->first <= sorted[j]->last)
                live[nl++] = sorted[j];
        qsort(live, (size_t)nl, sizeof *live, by_offset);
        size_t off = 0;
        for (int j = 0; j < nl; j++) {
            if (live[j]->offset >= off + b->elems)
                break;
            size_t end = live[j]->offset + live[j]->elems;
            end = (end + POOL_ALIGN - 1) / POOL_ALIGN * POOL_ALIGN;
            if (end > off)
                off = end;
        }
        b->offset = off;
        if (off + b->elems > top)
            top = off + b->elems;
    }
    free(sorted);
    free(live);
    g->pool_elems = top;
    return CLG_OK;
}

static void make_view(clg_graph *g, const clg_shape *s, size_t offset, clg_tensor *out)
{
    memset(out, 0, sizeof *out);
    out->s = *s;
    out->ctx = g->ctx;
    out->buf = g->pool.buf;
    out->offset = offset;
    out->owns = 0;
}

clg_status clg__graph_plan_layout(clg_graph *g)
{
    int n = g->n;
    g->bufs = calloc((size_t)(2 * n + 1), sizeof *g->bufs);
    if (!g->bufs)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
    g->n_bufs = 0;
    g->naive_elems = 0;
    for (int m = 0; m < n; m++) {
        gnode *x = &g->nodes[m];
        x->val_buf = x->grad_buf = -1;
        size_t elems = (size_t)clg_shape_numel(&x->s);
        if (elems == 0 || x->fused)
            continue;
        if (x->kind == GN_OP && !x->own_val) {
            g->bufs[g->n_bufs] = (pbuf){ .elems = elems, .first = -1, .last = -1, .node = m };
            x->val_buf = g->n_bufs++;
        }
        if (x->kind != GN_PARAM && x->needs_grad) {
            g->bufs[g->n_bufs] = (pbuf){ .elems = elems, .first = -1, .last = -1, .node = m, .is_grad = 1 };
            x->grad_buf = g->n_bufs++;
        }
    }
    for (int t = 0; t < g->n_ex; t++) {
        const exentry *e = &g->ex[t];
        if (e->kind != EX_FWD && e->kind != EX_SEED && e->kind != EX_BWD)
            continue;
        gnode *x = &g->nodes[e->node];
        if (e->kind == EX_SEED) {
            if (x->grad_buf >= 0)
                touch(&g->bufs[x->grad_buf], t);
            continue;
        }
        if (x->val_buf >= 0)
            touch(&g->bufs[x->val_buf], t);
        for (int i = 0; i < x->nin; i++) {
            gnode *in = &g->nodes[x->in[i]];
            if (in->val_buf >= 0)
                touch(&g->bufs[in->val_buf], t);
            if ((e->kind == EX_BWD || e->grad) && (e->gin_mask & (1u << i)) && in->grad_buf >= 0)
                touch(&g->bufs[in->grad_buf], t);
        }
        if (e->kind == EX_BWD && x->grad_buf >= 0)
            touch(&g->bufs[x->grad_buf], t);
    }
    /* Tensors the exec list never touches (cannot happen for a well-formed plan) stay unshared. */
    for (int i = 0; i < g->n_bufs; i++) {
        if (g->bufs[i].first < 0) {
            g->bufs[i].first = 0;
            g->bufs[i].last = g->n_ex;
        }
        g->naive_elems += g->bufs[i].elems;
    }
    return assign_offsets(g);
}

clg_status clg__graph_plan_alloc(clg_graph *g)
{
    clg_status st;
    if (g->pool_elems) {
        clg_shape ps = clg_shape_make(CLG_F32, 1, (int64_t[]){ (int64_t)g->pool_elems });
        if ((st = clg_tensor_new(g->ctx, &ps, &g->pool))) {
            char why[512];
            clg__copy_error(why, sizeof why);
            return clg__fail(st, "graph plan: cannot allocate the tensor pool of %zu bytes: %s", g->pool_elems * 4,
                             why);
        }
    }
    for (int i = 0; i < g->n_bufs; i++) {
        const pbuf *b = &g->bufs[i];
        gnode *x = &g->nodes[b->node];
        make_view(g, &x->s, b->offset, b->is_grad ? &x->grad : &x->val);
    }
    return CLG_OK;
}
