/* graph_plan.c — planning a graph: the fusion pass, the exec list (forward, then autograd.c's
 * backward), the device-memory check, the pooled activations (plan.c) and the optimizer arenas. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

/* Undo the fusion pass: every node gets back the op, inputs and attrs it was built with. */
static void unfuse(clg_graph *g)
{
    for (int m = 0; m < g->n; m++) {
        gnode *x = &g->nodes[m];
        if (x->rewritten) {
            x->op = x->orig_op;
            x->attrs = x->orig_attrs;
            x->nin = x->orig_nin;
            memcpy(x->in, x->orig_in, sizeof x->in);
        }
        x->rewritten = x->fused = 0;
    }
}

void clg__graph_free_plan(clg_graph *g)
{
    unfuse(g);
    for (int m = 0; m < g->n; m++) {
        gnode *x = &g->nodes[m];
        if (x->kind == GN_OP) {
            if (x->own_val)
                clg_tensor_free(&x->val);
            memset(&x->val, 0, sizeof x->val);
            x->own_val = 0;
        }
        if (x->kind == GN_PARAM)
            clg_tensor_free(&x->grad);
        memset(&x->grad, 0, sizeof x->grad);
        x->needs_grad = 0;
        x->val_buf = x->grad_buf = -1;
    }
    clg_tensor_free(&g->pool);
    clg_tensor_free(&g->sq_norm);
    clg_tensor_free(&g->arena[ARENA_GRAD]);
    g->arena_elems = 0;
    clg__graph_drop_losses(g);
    free(g->ex);
    free(g->bufs);
    free(g->loss_host);
    free(g->dist_host);
    g->dist_host = NULL;
    g->ex = NULL;
    g->bufs = NULL;
    g->loss_host = NULL;
    g->n_ex = g->n_bufs = 0;
    g->pool_elems = g->naive_elems = 0;
    g->planned = 0;
}

void clg__graph_free_opt_state(clg_graph *g)
{
    for (int m = 0; m < g->n; m++) {
        clg_tensor_free(&g->nodes[m].st1);
        clg_tensor_free(&g->nodes[m].st2);
    }
    clg_tensor_free(&g->arena[ARENA_ST1]);
    clg_tensor_free(&g->arena[ARENA_ST2]);
}

/* ---- planning ---------------------------------------------------------------------------------- */

static clg_status alloc_zeros(clg_graph *g, gnode *x, clg_tensor *t, const char *what)
{
    if (t->buf || clg_shape_numel(&x->s) == 0)
        return CLG_OK;
    clg_status st = clg_tensor_zeros(g->ctx, &x->s, t);
    if (st) {
        char msg[512];
        clg__copy_error(msg, sizeof msg);
        return clg__fail(st, "graph plan: %s of %s: %s", what, x->name, msg);
    }
    return CLG_OK;
}

/* Param offsets in the arenas are multiples of this many elements (128 bytes), like the pool's. */
#define ARENA_ALIGN 32

static clg_status copy_into(clg_graph *g, const clg_tensor *src, cl_mem dst, size_t dst_off, size_t n)
{
    clg_status st = clg__copy_words(g->ctx, (cl_mem)src->buf, src->offset, dst, dst_off, n);
    if (st) {
        char msg[512];
        clg__copy_error(msg, sizeof msg);
        return clg__fail(st, "graph plan: copying a param into the optimizer arena: %s", msg);
    }
    return CLG_OK;
}

static clg_tensor *param_field(gnode *x, int which)
{
    return which == ARENA_VAL ? &x->val : which == ARENA_GRAD ? &x->grad : which == ARENA_ST1 ? &x->st1 : &x->st2;
}

/* Lay arena `which` out for the trainable params (offs[p] >= 0): a new zeroed buffer, each such
 * param's current tensor (own buffer or a view of the old arena) copied to its offset and replaced
 * by a view; other params that were views of the old arena get their own copy back.  The old
 * buffer is released (OpenCL keeps it until the queued copies have run). */
static clg_status arena_layout(clg_graph *g, int which, const size_t *offs, size_t total, int wanted)
{
    clg_tensor old = g->arena[which], fresh;
    memset(&fresh, 0, sizeof fresh);
    clg_status st = CLG_OK;
    if (wanted && total) {
        clg_shape as = clg_shape_make(CLG_F32, 1, (int64_t[]){ (int64_t)total });
        if ((st = clg_tensor_zeros(g->ctx, &as, &fresh))) {
            char msg[512];
            clg__copy_error(msg, sizeof msg);
            return clg__fail(st, "graph plan: optimizer arena of %zu bytes: %s", total * 4, msg);
        }
    }
    for (int p = 0; p < g->n_params && !st; p++) {
        gnode *x = &g->nodes[g->params[p]];
        clg_tensor *t = param_field(x, which);
        size_t n = (size_t)clg_shape_numel(&x->s);
        if (fresh.buf && offs[p] != (size_t)-1) {
            if (t->buf && which != ARENA_GRAD)
                st = copy_into(g, t, (cl_mem)fresh.buf, offs[p], n);
            clg_tensor_free(t);
            if (!st)
                st = clg_tensor_view(&fresh, offs[p], &x->s, t);
        } else if (t->buf && !t->owns && old.buf && t->buf == old.buf) {
            clg_tensor own;
            if (!(st = clg_tensor_new(g->ctx, &x->s, &own)) && !(st = copy_into(g, t, (cl_mem)own.buf, 0, n)))
                *t = own;
            else if (own.buf)
                clg_tensor_free(&own);
        }
    }
    if (st) {
        clg_tensor_free(&fresh);
        return st;
    }
    clg_tensor_free(&old);
    g->arena[which] = fresh;
    return CLG_OK;
}

/* TRAIN plan with an optimizer: the four arenas for the params that get a gradient. */
static clg_status plan_arenas(clg_graph *g, int st1, int st2)
{
    size_t *offs = malloc(sizeof *offs * (size_t)(g->n_params ? g->n_params : 1));
    if (!offs)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
    size_t total = 0;
    for (int p = 0; p < g->n_params; p++) {
        const gnode *x = &g->nodes[g->params[p]];
        size_t n = (size_t)clg_shape_numel(&x->s);
        offs[p] = (size_t)-1;
        if (!x->needs_grad || n == 0)
            continue;
        offs[p] = total;
        total = (total + n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    }
    clg_status st;
    if (!(st = arena_layout(g, ARENA_VAL, offs, total, 1)) && !(st = arena_layout(g, ARENA_GRAD, offs, total, 1)) &&
        !(st = arena_layout(g, ARENA_ST1, offs, total, st1)))
        st = arena_layout(g, ARENA_ST2, offs, total, st2);
    g->arena_elems = st ? 0 : total;
    free(offs);
    return st;
}

clg_status clg_graph_set_fusion(clg_graph *g, int on)
{
    clg_status st = clg__graph_check(g, "clg_graph_set_fusion");
    if (st)
        return st;
    if (g->fuse != !!on) {
        clg__graph_free_plan(g);
        g->fuse = !!on;
    }
    return CLG_OK;
}

/* Keep node x's built form (op, attrs, inputs) for unfuse before the pass first rewrites it. */
static void keep_built_form(gnode *x)
{
    if (x->rewritten)
        return;
    x->orig_op = x->op;
    x->orig_attrs = x->attrs;
    x->orig_nin = x->nin;
    memcpy(x->orig_in, x->in, sizeof x->in);
    x->rewritten = 1;
}

static void rewrite(gnode *x, int xi, int bi, int act)
{
    keep_built_form(x);
    x->op = CLG_OP_BIAS_ACT;
    x->attrs = clg_attrs_defaults();
    x->attrs.act = act;
    x->nin = 2;
    x->in[0] = xi;
    x->in[1] = bi;
}

/* Fusion pass: add(x, b) with b a row vector over x's last axis becomes bias_act(x, b); when its
 * only consumer is an activation (an op whose descriptor names one: relu, gelu, tanh, sigmoid) and
 * the add is not kept, not the loss and not renamed (so nobody can ask for its value), the
 * activation node runs bias_act(x, b, act) and the add node is dropped from the plan.  Then a
 * matmul feeding only a bias_act folds into it: linear(A, B, b, act) (below). */
static clg_status fuse_pass(clg_graph *g)
{
    if (!g->fuse)
        return CLG_OK;
    int *uses = calloc((size_t)(g->n ? g->n : 1), sizeof *uses), *user = calloc((size_t)(g->n ? g->n : 1), sizeof *user);
    if (!uses || !user) {
        free(uses);
        free(user);
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
    }
    for (int m = 0; m < g->n; m++)
        for (int i = 0; i < g->nodes[m].nin; i++) {
            uses[g->nodes[m].in[i]]++;
            user[g->nodes[m].in[i]] = m;
        }
    for (int m = 0; m < g->n; m++) {
        gnode *x = &g->nodes[m];
        if (x->kind != GN_OP || x->op != CLG_OP_ADD || x->s.ndim < 1)
            continue;
        const clg_shape *s0 = &g->nodes[x->in[0]].s, *s1 = &g->nodes[x->in[1]].s;
        int64_t cols = x->s.dim[x->s.ndim - 1];
        int xi, bi;
        if (clg_shape_equal(s0, &x->s) && s1->ndim == 1 && s1->dim[0] == cols) {
            xi = x->in[0];
            bi = x->in[1];
        } else if (clg_shape_equal(s1, &x->s) && s0->ndim == 1 && s0->dim[0] == cols) {
            xi = x->in[1];
            bi = x->in[0];
        } else {
            continue;
        }
        char defname[CLG_GRAPH_NAME_MAX + 1];
        snprintf(defname, sizeof defname, "add_%d", m);
        gnode *c = uses[m] == 1 ? &g->nodes[user[m]] : NULL;
        int act = c && c->kind == GN_OP ? clg__op_desc(c->op)->act : CLG_ACT_NONE;
        if (act != CLG_ACT_NONE && !c->rewritten && !x->keep && m != g->loss && !strcmp(x->name, defname)) {
            rewrite(c, xi, bi, act);
            x->fused = 1;
        } else {
            rewrite(x, xi, bi, CLG_ACT_NONE);
        }
    }
    /* Then a bias_act (built or just made) whose x is a 2-D matmul used by it alone (not kept, not
     * the loss, not renamed), with an act the linear op's backward takes from the output (not
     * gelu), runs linear(A, B, b): the product's store adds the bias (gemm.cl's epilogue), one
     * launch and one pass over the activations fewer. */
    for (int m = 0; m < g->n; m++) {
        gnode *c = &g->nodes[m];
        if (c->kind != GN_OP || c->op != CLG_OP_BIAS_ACT || c->attrs.act == CLG_ACT_GELU || c->s.ndim != 2)
            continue;
        int mi = c->in[0];
        gnode *mm = &g->nodes[mi];
        char defname[CLG_GRAPH_NAME_MAX + 1];
        snprintf(defname, sizeof defname, "matmul_%d", mi);
        if (mm->kind != GN_OP || mm->op != CLG_OP_MATMUL || mm->rewritten || mm->fused || uses[mi] != 1 ||
            mm->keep || mi == g->loss || strcmp(mm->name, defname))
            continue;
        keep_built_form(c);
        int act = c->attrs.act, bias = c->in[1];
        c->op = CLG_OP_LINEAR;
        c->attrs = mm->attrs;
        c->attrs.act = act;
        c->nin = 3;
        c->in[0] = mm->in[0];
        c->in[1] = mm->in[1];
        c->in[2] = bias;
        mm->fused = 1;
    }
    free(uses);
    free(user);
    return CLG_OK;
}

/* The scratch slots the exec list's op calls take (their descriptors' scratch functions; the
 * clipping pass's partial sums over the gradient arena), the largest of each slot over all entries;
 * *total gets their sum.  The ctx keeps its slots between graphs, so this only grows them. */
static void plan_scratch(clg_graph *g, size_t slots[CLG_SCRATCH_SLOTS], uint64_t *total)
{
    memset(slots, 0, sizeof(size_t) * CLG_SCRATCH_SLOTS);
    for (int i = 0; i < g->n_ex; i++) {
        const exentry *e = &g->ex[i];
        size_t b[CLG_SCRATCH_SLOTS] = { 0 };
        int n = 0;
        if (e->kind == EX_CLIP) {
            size_t elems = 0;
            for (int p = 0; p < g->n_params; p++) {
                const gnode *x = &g->nodes[g->params[p]];
                if (x->needs_grad)
                    elems += ((size_t)clg_shape_numel(&x->s) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
            }
            b[0] = clg__grad_sq_norm_scratch(g->ctx, (int64_t)elems);
            n = 1;
        } else if (e->kind == EX_FWD || e->kind == EX_BWD) {
            const gnode *x = &g->nodes[e->node];
            const clg_op_desc *d = clg__op_desc(x->op);
            const clg_shape *in[GNODE_MAX_IN];
            for (int k = 0; k < x->nin; k++)
                in[k] = &g->nodes[x->in[k]].s;
            if (d->scratch)
                n = d->scratch(g->ctx, in, &x->s, &x->attrs, e->kind == EX_BWD, b);
        }
        for (int k = 0; k < n && k < CLG_SCRATCH_SLOTS; k++)
            if (b[k] > slots[k])
                slots[k] = b[k];
    }
    *total = 0;
    for (int k = 0; k < CLG_SCRATCH_SLOTS; k++)
        if (slots[k] > g->ctx->scratch_bytes[k])
            *total += slots[k];
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

/* Before the plan allocates anything: the device memory it will hold (params, kept outputs, the
 * activation pool, gradients and optimizer state) against CL_DEVICE_GLOBAL_MEM_SIZE, and each of
 * its single buffers against CL_DEVICE_MAX_MEM_ALLOC_SIZE (both read once, in clg_devices_list).
 * Drivers that allocate lazily would otherwise fail later, inside a step, or not at all. */
static clg_status check_device_memory(clg_graph *g, int sgd_mom, int adam, uint64_t scratch)
{
    const clg_device_info *d = &g->ctx->info;
    uint64_t params = 0, trainable = 0, outputs = 0;
    for (int p = 0; p < g->n_params; p++) {
        const gnode *x = &g->nodes[g->params[p]];
        uint64_t n = (uint64_t)clg_shape_numel(&x->s);
        params += n * 4;
        if (g->mode == CLG_PLAN_TRAIN && x->needs_grad && n)
            trainable += (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN * 4;
    }
    for (int m = 0; m < g->n; m++)
        if (g->nodes[m].own_val || g->nodes[m].kind == GN_INPUT)
            outputs += (uint64_t)clg_shape_numel(&g->nodes[m].s) * 4;
    uint64_t pool = (uint64_t)g->pool_elems * 4;
    uint64_t state = trainable * (uint64_t)(1 + (sgd_mom || adam) + adam); /* gradients, momentum/m, v */
    uint64_t total = params + outputs + pool + state + scratch;
    if (d->global_mem && total > d->global_mem)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY,
                         "graph plan: needs %llu bytes (%.1f MiB) of device memory (parameters %.1f MiB, "
                         "gradients and optimizer state %.1f MiB, activations %.1f MiB, inputs and outputs %.1f MiB, "
                         "scratch %.1f MiB), but %s has %llu bytes (%.1f MiB) of global memory",
                         (unsigned long long)total, mib(total), mib(params), mib(state), mib(pool), mib(outputs),
                         mib(scratch),
                         d->name, (unsigned long long)d->global_mem, mib(d->global_mem));
    const struct { const char *what; uint64_t bytes; } one[] = {
        { "the activation pool", pool },
        { "each optimizer arena (all trainable parameters in one buffer)", g->has_opt ? trainable : 0 },
    };
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        if (d->max_alloc && one[i].bytes > d->max_alloc)
            return clg__fail(CLG_ERR_OUT_OF_MEMORY,
                             "graph plan: %s needs one buffer of %llu bytes (%.1f MiB), but %s allocates at most "
                             "%llu bytes (%.1f MiB) at once",
                             one[i].what, (unsigned long long)one[i].bytes, mib(one[i].bytes), d->name,
                             (unsigned long long)d->max_alloc, mib(d->max_alloc));
    return CLG_OK;
}

clg_status clg_graph_plan(clg_graph *g, clg_plan_mode mode)
{
    clg_status st = clg__graph_check(g, "clg_graph_plan");
    if (st)
        return st;
    if (mode != CLG_PLAN_TRAIN && mode != CLG_PLAN_INFERENCE)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_plan: unknown mode %d", (int)mode);
    clg__graph_free_plan(g);
    g->mode = mode;
    if ((st = fuse_pass(g)))
        goto fail;
    /* Forward: node ids are already a topological order (inputs exist before their users).  Metrics
     * and the nodes computed from them are marked for steps to skip. */
    unsigned char *metric = calloc((size_t)(g->n ? g->n : 1), 1);
    if (!metric) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
        goto fail;
    }
    for (int m = 0; m < g->n; m++) {
        gnode *x = &g->nodes[m];
        metric[m] = (unsigned char)x->metric;
        for (int i = 0; i < x->nin; i++)
            metric[m] |= metric[x->in[i]];
        if (x->kind == GN_OP && !x->fused &&
            (st = clg__graph_push_ex(g, (exentry){ .kind = EX_FWD, .node = m, .metric = metric[m] })))
            break;
    }
    if (!st && mode == CLG_PLAN_TRAIN && g->loss >= 0 && metric[g->loss])
        st = clg__fail(CLG_ERR_STATE, "clg_graph_plan: the loss (node %d, %s) is computed from a metric "
                       "(clg_graph_metric): training steps leave metrics out", g->loss, g->nodes[g->loss].name);
    free(metric);
    if (st)
        goto fail;
    if (mode == CLG_PLAN_TRAIN && (st = clg__graph_autograd(g)))
        goto fail;
    /* The loss, graph outputs (no consumer) and kept nodes get their own buffers. */
    unsigned char *used = calloc((size_t)(g->n ? g->n : 1), 1);
    if (!used) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
        goto fail;
    }
    for (int m = 0; m < g->n; m++)
        for (int i = 0; i < g->nodes[m].nin; i++)
            used[g->nodes[m].in[i]] = 1;
    for (int m = 0; m < g->n; m++) {
        gnode *x = &g->nodes[m];
        x->own_val = x->kind == GN_OP && !x->fused && (x->keep || m == g->loss || !used[m]);
    }
    free(used);
    int sgd_mom = mode == CLG_PLAN_TRAIN && g->has_opt && g->opt.kind == CLG_OPTIM_SGD && g->opt.momentum != 0.0f;
    int adam = mode == CLG_PLAN_TRAIN && g->has_opt && (g->opt.kind == CLG_OPTIM_ADAM || g->opt.kind == CLG_OPTIM_ADAMW);
    size_t slots[CLG_SCRATCH_SLOTS];
    uint64_t scratch = 0;
    plan_scratch(g, slots, &scratch);
    if ((st = clg__graph_plan_layout(g)) || (st = check_device_memory(g, sgd_mom, adam, scratch)))
        goto fail;
    for (int m = 0; m < g->n; m++) {
        gnode *x = &g->nodes[m];
        if (x->own_val && (st = clg_tensor_new(g->ctx, &x->s, &x->val)))
            goto fail;
    }
    if ((st = clg__graph_plan_alloc(g)))
        goto fail;
    if (mode == CLG_PLAN_TRAIN) {
        if (g->has_opt && g->opt.kind != CLG_OPTIM_NONE && (st = plan_arenas(g, sgd_mom || adam, adam)))
            goto fail;
        for (int p = 0; p < g->n_params; p++) {
            gnode *x = &g->nodes[g->params[p]];
            if (!x->needs_grad)
                continue;
            if ((st = alloc_zeros(g, x, &x->grad, "gradient")))
                goto fail;
            if ((sgd_mom || adam) && (st = alloc_zeros(g, x, &x->st1, sgd_mom ? "velocity" : "Adam m")))
                goto fail;
            if (adam && (st = alloc_zeros(g, x, &x->st2, "Adam v")))
                goto fail;
        }
        if (g->has_opt && g->opt.kind != CLG_OPTIM_NONE && g->opt.clip_norm > 0) {
            clg_shape sc = clg_shape_make(CLG_F32, 0, NULL);
            if ((st = clg_tensor_zeros(g->ctx, &sc, &g->sq_norm)))
                goto fail;
        }
    }
    if ((st = clg__scratch_reserve(g->ctx, slots, CLG_SCRATCH_SLOTS)))
        goto fail;
    if (g->loss >= 0) {
        size_t ln = (size_t)clg_shape_numel(&g->nodes[g->loss].s);
        g->loss_host = malloc(sizeof(float) * (ln ? ln : 1) * (1 + CLG_GRAPH_LOSSES_HELD));
        if (!g->loss_host) {
            st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
            goto fail;
        }
    }
    g->planned = 1;
    return CLG_OK;
fail:
    clg__graph_free_plan(g);
    return st;
}

static size_t own_elems(const clg_graph *g)
{
    size_t e = 0;
    for (int m = 0; m < g->n; m++) {
        const gnode *x = &g->nodes[m];
        size_t n = (size_t)clg_shape_numel(&x->s);
        if (x->kind != GN_OP || x->own_val)
            e += n;
        if (x->kind == GN_PARAM && x->grad.buf)
            e += n;
        if (x->st1.buf)
            e += n;
        if (x->st2.buf)
            e += n;
    }
    if (g->sq_norm.buf)
        e += 1;
    return e;
}

clg_status clg_graph_memory(const clg_graph *g, size_t *planned, size_t *naive)
{
    clg_status st = clg__graph_check(g, "clg_graph_memory");
    if (st)
        return st;
    if (!g->planned)
        return clg__fail(CLG_ERR_STATE, "clg_graph_memory: the graph is not planned (clg_graph_plan)");
    size_t own = own_elems(g);
    if (planned)
        *planned = (own + g->pool_elems) * 4;
    if (naive)
        *naive = (own + g->naive_elems) * 4;
    return CLG_OK;
}
