/* graph_run.c — running a planned graph: training steps, inference, reads, statistics and profiling. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist_internal.h"
#include "graph_internal.h"
#include "clgrad/optim.h"

#define FLOAT_ONE_BITS 0x3f800000u

/* ---- running ----------------------------------------------------------------------------------- */

static double now_ms(void);
static float loss_sum(const float *v, size_t n);

static clg_status allreduce_mean(float *p, size_t n, void *who)
{
    return clg__dist_allreduce_scaled(p, n, 1.0f / (float)clg_dist_size(), who);
}

/* A distributed step between backward and the optimizer: the gradient arena and the loss become
 * their mean over the ranks.  One blocking read of the loss (which also waits for backward), then
 * the arena in place on the host (mapped on CPU devices, else read into dist_host and written back)
 * through one MPI_Allreduce and the scale by 1/N in the same pass; the loss by a second, one-float
 * allreduce. */
static clg_status dist_exchange(clg_graph *g)
{
    static const char who[] = "clg_graph_step (distributed)";
    size_t n = g->arena_elems;
    const gnode *l = &g->nodes[g->loss];
    clg_status st = clg__graph_read_tensor(g, &l->val, g->loss_host);
    if (st)
        return st;
    float loss = loss_sum(g->loss_host, (size_t)clg_shape_numel(&l->s));
    double t0 = now_ms(); /* backward has finished: from here on, staging and MPI (and waiting for the slowest rank) */
    if (n) {
        if (!g->dist_host && !(g->dist_host = malloc(n * sizeof(float))))
            return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", who);
        clg_tensor f = g->arena[ARENA_GRAD];
        f.s = clg_shape_make(CLG_F32, 1, (int64_t[]){ (int64_t)n });
        f.owns = 0;
        /* dist_host is next touched by the next step's exchange, after the loss read orders the queue */
        if ((st = clg__tensor_host_update(&f, g->dist_host, allreduce_mean, (void *)who, who)))
            return st;
    }
    if ((st = allreduce_mean(&loss, 1, (void *)who)))
        return st;
    g->dist_loss = loss;
    g->dist_pending = 0;
    g->stats.dist_ms += now_ms() - t0;
    return CLG_OK;
}

/* Entry e; fwd_only (clg_graph_forward): a fused loss entry without its gradient. */
static clg_status run_entry(clg_graph *g, const exentry *e, int fwd_only)
{
    clg_ctx *ctx = g->ctx;
    if (g->dist_pending && (e->kind == EX_CLIP || e->kind == EX_OPT)) {
        clg_status st = dist_exchange(g); /* before clipping, which must see the averaged gradient */
        if (st)
            return st;
    }
    if ((e->kind == EX_CLIP || e->kind == EX_OPT) && g->arena_elems) {
        /* every trainable param at once, as one flat tensor per arena */
        clg_shape fs = clg_shape_make(CLG_F32, 1, (int64_t[]){ (int64_t)g->arena_elems });
        clg_tensor f[4];
        for (int k = 0; k < 4; k++) {
            f[k] = g->arena[k];
            f[k].s = fs;
            f[k].owns = 0;
        }
        if (e->kind == EX_CLIP) {
            const clg_tensor *gp = &f[ARENA_GRAD];
            clg_tensor *gm = &f[ARENA_GRAD];
            clg_status st = clg_grad_sq_norm(ctx, &gp, 1, &g->sq_norm);
            return st ? st : clg_grad_clip(ctx, &gm, 1, &g->sq_norm, g->opt.clip_norm);
        }
        float lr = clg_optim_lr_at(&g->opt, g->steps);
        if (g->opt.kind == CLG_OPTIM_SGD)
            return clg_sgd_update(ctx, &f[ARENA_VAL], &f[ARENA_GRAD], f[ARENA_ST1].buf ? &f[ARENA_ST1] : NULL, lr,
                                  g->opt.momentum, g->opt.weight_decay);
        return clg_adam_update(ctx, &f[ARENA_VAL], &f[ARENA_GRAD], &f[ARENA_ST1], &f[ARENA_ST2], lr, g->opt.beta1,
                               g->opt.beta2, g->opt.eps, g->opt.weight_decay, g->opt.kind == CLG_OPTIM_ADAMW,
                               (int)(g->steps + 1));
    }
    if (e->kind == EX_CLIP || e->kind == EX_OPT)
        return CLG_OK; /* no trainable param has elements */
    gnode *x = &g->nodes[e->node];
    if (e->kind == EX_SEED)
        return clg__fill_pattern(ctx, &x->grad, FLOAT_ONE_BITS);
    const clg_tensor *in[GNODE_MAX_IN];
    for (int i = 0; i < x->nin; i++)
        in[i] = &g->nodes[x->in[i]].val;
    /* Random ops draw a new stream every step: counter = the node's counter + the step index
     * (forward and backward of one step agree, so dropout's backward regenerates its mask). */
    clg_attrs a = x->attrs;
    if (clg__op_desc(x->op)->flags & CLG_OPF_STOCHASTIC)
        a.counter += (uint64_t)g->steps + g->dist_stream;
    if (e->kind == EX_FWD && (!e->grad || fwd_only))
        return clg_op_forward(ctx, x->op, in, &x->val, &a);
    clg_tensor *gin[GNODE_MAX_IN];
    for (int i = 0; i < x->nin; i++)
        gin[i] = (e->gin_mask & (1u << i)) ? &g->nodes[x->in[i]].grad : NULL;
    if (e->kind == EX_BWD)
        return clg_op_backward(ctx, x->op, in, &x->val, &x->grad, gin, &a, e->acc);
    int mark = clg__scratch_mark(ctx); /* as clg_op_forward: pop what the op took */
    clg_status st = clg__op_desc(x->op)->forward_grad(ctx, in, &x->val, gin, &a, e->acc);
    clg__scratch_pop(ctx, mark);
    return st;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void attribute(clg_graph *g, const exentry *e, double ms)
{
    if (e->kind == EX_FWD) {
        g->nodes[e->node].prof_fwd_ms += ms;
        g->nodes[e->node].prof_fwd_n++;
    } else if (e->kind == EX_SEED || e->kind == EX_BWD) {
        g->nodes[e->node].prof_bwd_ms += ms;
        g->nodes[e->node].prof_bwd_n += e->kind == EX_BWD; /* the seed fill is not a run */
    } else {
        g->prof_opt_ms += ms;
        g->prof_opt_n++;
    }
}

/* Whether a run runs entry e: clg_graph_forward (fwd_only) every forward entry, a step every
 * entry but the metrics' (clg_graph_metric). */
static int runs(const exentry *e, int fwd_only)
{
    return fwd_only ? e->kind == EX_FWD : !e->metric;
}

/* Profiled run.  On a profiling queue each entry's kernel launches keep their events
 * (launch.c), with one wait at the end: an entry's time is its kernels' device time, and a step
 * also adds its kernels' sum and its span (first kernel start to last kernel end) to the stats.
 * Else host time around each entry, with a wait after each; also from the run after one whose
 * two or more launches took less than a microsecond from first start to last end on the
 * device's clock (which then is none: ctx->prof_clock_bad; that run's ops count as 0 ms). */
static clg_status run_profiled(clg_graph *g, int fwd_only)
{
    static const char who[] = "graph profile";
    clg_ctx *ctx = g->ctx;
    clg_status st = CLG_OK;
    if (!ctx->profiling || ctx->prof_clock_bad) {
        st = clg__queue_finish(ctx, who);
        double t0 = now_ms();
        for (int i = 0; i < g->n_ex && !st; i++) {
            if (!runs(&g->ex[i], fwd_only))
                continue;
            if ((st = run_entry(g, &g->ex[i], fwd_only)) || (st = clg__queue_finish(ctx, who)))
                break;
            double t1 = now_ms();
            attribute(g, &g->ex[i], t1 - t0);
            t0 = t1;
        }
        return st;
    }
    double *ms = calloc((size_t)g->n_ex + 1, sizeof *ms);
    if (!ms)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", who);
    clg__prof_clear(ctx);
    ctx->prof_collect = 1;
    for (int i = 0; i < g->n_ex && !st; i++) {
        ctx->prof_tag = i;
        if (runs(&g->ex[i], fwd_only))
            st = run_entry(g, &g->ex[i], fwd_only);
    }
    ctx->prof_collect = 0;
    clg_status fin = clg__queue_finish(ctx, who); /* also after a failed entry: the kept events end */
    st = st ? st : fin;
    double first = 0, last = 0, sum = 0;
    for (int j = 0; j < ctx->n_prof_ev && !st; j++) {
        double t0, t1;
        if ((st = clg__prof_times(ctx->prof_ev[j].ev, &t0, &t1, who)))
            break;
        ms[ctx->prof_ev[j].tag] += t1 - t0;
        sum += t1 - t0;
        first = j == 0 || t0 < first ? t0 : first;
        last = j == 0 || t1 > last ? t1 : last;
    }
    if (!st && ctx->n_prof_ev >= 2 && last - first < 1e-3) {
        ctx->prof_clock_bad = 1;
        memset(ms, 0, ((size_t)g->n_ex + 1) * sizeof *ms);
    }
    if (!st) {
        for (int i = 0; i < g->n_ex; i++)
            if (runs(&g->ex[i], fwd_only))
                attribute(g, &g->ex[i], ms[i]);
        if (!fwd_only && ctx->n_prof_ev && !ctx->prof_clock_bad) {
            g->stats.profiled_steps++;
            g->stats.profiled_kernel_ms += sum;
            g->stats.profiled_span_ms += last - first;
        }
    }
    clg__prof_clear(ctx);
    free(ms);
    return st;
}

static clg_status run(clg_graph *g, int fwd_only)
{
    uint64_t l0 = g->ctx->launches;
    clg_status st = CLG_OK;
    if (g->profile) {
        st = run_profiled(g, fwd_only);
    } else {
        for (int i = 0; i < g->n_ex && !st; i++)
            if (runs(&g->ex[i], fwd_only))
                st = run_entry(g, &g->ex[i], fwd_only);
    }
    g->stats.launches += g->ctx->launches - l0;
    return st;
}

clg_status clg_graph_describe_step(clg_graph *g, clg_launch_list *out)
{
    clg_status st = clg__graph_check(g, "clg_graph_describe_step");
    if (st)
        return st;
    if (!out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_describe_step: NULL out");
    memset(out, 0, sizeof *out);
    if (!g->planned)
        return clg__fail(CLG_ERR_STATE, "clg_graph_describe_step: the graph is not planned (clg_graph_plan)");
    if (g->dist && clg__dist_active())
        return clg__fail(CLG_ERR_STATE, "clg_graph_describe_step: not on a distributed graph");
    clg_ctx *ctx = g->ctx;
    int fwd_only = g->mode != CLG_PLAN_TRAIN;
    clg__rec_clear(ctx);
    ctx->recording = 1;
    for (int i = 0; i < g->n_ex && !st; i++)
        if (runs(&g->ex[i], fwd_only))
            st = run_entry(g, &g->ex[i], fwd_only);
    ctx->recording = 0;
    if (!st)
        st = clg__rec_describe(ctx, out);
    clg__rec_clear(ctx);
    return st;
}

clg_status clg__graph_read_tensor(clg_graph *g, const clg_tensor *t, void *host)
{
    clg_status st = clg_tensor_read(t, host);
    if (!st && clg_tensor_bytes(t) > 0)
        g->stats.blocking_reads++;
    return st;
}

/* A training step's launches (and, distributed, its exchange), counted; who names the caller. */
static clg_status step_run(clg_graph *g, const char *who, int *dist_out)
{
    clg_status st = clg__graph_check(g, who);
    if (st)
        return st;
    if (!g->planned || g->mode != CLG_PLAN_TRAIN)
        return clg__fail(CLG_ERR_STATE, "%s: the graph needs a TRAIN plan (clg_graph_plan)", who);
    int dist = g->dist && clg__dist_active();
    if (dist && !g->has_opt)
        return clg__fail(CLG_ERR_STATE, "%s: a distributed step needs an optimizer (clg_graph_set_optimizer)", who);
    uint64_t l0 = g->stats.launches;
    g->dist_pending = dist;
    st = run(g, 0);
    if (!st && g->dist_pending) /* no optimizer entry ran (nothing trainable): the loss still averages */
        st = dist_exchange(g);
    g->dist_pending = 0;
    if (st)
        return st;
    g->step_launches = g->stats.launches - l0;
    g->steps++;
    g->stats.steps++;
    *dist_out = dist;
    return CLG_OK;
}

/* The loss from its n elements as read (summed in double: a non-scalar loss is the sum). */
static float loss_sum(const float *v, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return (float)sum;
}

clg_status clg_graph_step(clg_graph *g, float *loss_out)
{
    int dist = 0;
    clg_status st = step_run(g, "clg_graph_step", &dist);
    if (st || !loss_out)
        return st;
    if (dist) {
        *loss_out = g->dist_loss;
        return CLG_OK;
    }
    const gnode *l = &g->nodes[g->loss];
    if ((st = clg__graph_read_tensor(g, &l->val, g->loss_host)))
        return st;
    *loss_out = loss_sum(g->loss_host, (size_t)clg_shape_numel(&l->s));
    return CLG_OK;
}

/* Slot k's host floats (after loss_host's own). */
static float *held_host(clg_graph *g, int k)
{
    size_t n = (size_t)clg_shape_numel(&g->nodes[g->loss].s);
    return g->loss_host + (size_t)(k + 1) * (n ? n : 1);
}

void clg__graph_drop_losses(clg_graph *g)
{
    for (int k = 0; k < CLG_GRAPH_LOSSES_HELD; k++) {
        if (g->held[k].ev) { /* its host memory is about to go; an error here has no caller to tell */
            clWaitForEvents(1, &g->held[k].ev);
            clReleaseEvent(g->held[k].ev);
            g->held[k].ev = NULL;
        }
        g->held[k].state = 0;
    }
}

clg_status clg_graph_step_async(clg_graph *g)
{
    static const char who[] = "clg_graph_step_async";
    int dist = 0;
    int64_t step = g ? g->steps : 0;
    clg_status st = step_run(g, who, &dist);
    if (st)
        return st;
    int k = (int)(step % CLG_GRAPH_LOSSES_HELD);
    struct held_loss *h = &g->held[k];
    if (h->ev && (st = clg__event_wait(&h->ev, who))) /* an unclaimed read of 4 steps ago: done long since */
        return st;
    h->step = step;
    h->state = 0;
    if (dist) {
        h->value = g->dist_loss;
        h->state = 2;
        return CLG_OK;
    }
    if ((st = clg__tensor_read_async(&g->nodes[g->loss].val, held_host(g, k), &h->ev)))
        return st;
    h->state = 1;
    return CLG_OK;
}

clg_status clg_graph_loss_wait(clg_graph *g, int64_t step, float *loss)
{
    static const char who[] = "clg_graph_loss_wait";
    clg_status st = clg__graph_check(g, who);
    if (st)
        return st;
    if (!loss)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL loss", who);
    struct held_loss *h = step >= 0 ? &g->held[step % CLG_GRAPH_LOSSES_HELD] : NULL;
    if (!g->planned || !h || !h->state || h->step != step)
        return clg__fail(CLG_ERR_STATE,
                         "%s: no loss held for step %lld (the graph holds those of its last %d clg_graph_step_async "
                         "calls)", who, (long long)step, CLG_GRAPH_LOSSES_HELD);
    if (h->state == 1) {
        int k = (int)(h - g->held);
        int waited = h->ev != NULL;
        if ((st = clg__event_wait(&h->ev, who))) {
            h->state = 0;
            return st;
        }
        if (waited)
            g->stats.blocking_reads++;
        h->value = loss_sum(held_host(g, k), (size_t)clg_shape_numel(&g->nodes[g->loss].s));
        h->state = 2;
    }
    *loss = h->value;
    return CLG_OK;
}

clg_status clg_graph_forward(clg_graph *g)
{
    clg_status st = clg__graph_check(g, "clg_graph_forward");
    if (st)
        return st;
    if (!g->planned)
        return clg__fail(CLG_ERR_STATE, "clg_graph_forward: the graph is not planned (clg_graph_plan)");
    if ((st = run(g, 1)))
        return st;
    g->stats.forwards++;
    return CLG_OK;
}

clg_status clg_graph_set_input(clg_graph *g, int id, const void *host)
{
    clg_status st = clg__graph_check(g, "clg_graph_set_input");
    if (st || (st = clg__graph_check_id(g, id, "clg_graph_set_input")))
        return st;
    gnode *x = &g->nodes[id];
    if (x->kind != GN_INPUT)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_set_input: node %d (%s) is not an input", id, x->name);
    return clg_tensor_write_async(&x->val, host);
}

clg_status clg_graph_read(clg_graph *g, int id, void *host)
{
    clg_status st = clg__graph_check(g, "clg_graph_read");
    if (st || (st = clg__graph_check_id(g, id, "clg_graph_read")))
        return st;
    gnode *x = &g->nodes[id];
    if (x->fused)
        return clg__fail(CLG_ERR_STATE,
                         "clg_graph_read: node %d (%s) was fused into its consumer; mark it with clg_graph_keep "
                         "before planning", id, x->name);
    if (x->kind == GN_OP && !x->own_val)
        return clg__fail(CLG_ERR_STATE,
                         "clg_graph_read: node %d (%s) %s; mark it with clg_graph_keep before planning", id,
                         x->name, g->planned ? "shares pooled memory" : "has no value: the graph is not planned");
    return clg__graph_read_tensor(g, &x->val, host);
}

clg_status clg_graph_grad_read(clg_graph *g, int id, void *host)
{
    clg_status st = clg__graph_check(g, "clg_graph_grad_read");
    if (st || (st = clg__graph_check_id(g, id, "clg_graph_grad_read")))
        return st;
    gnode *x = &g->nodes[id];
    if (x->kind != GN_PARAM)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_grad_read: node %d (%s) is not a param", id, x->name);
    if (!g->planned || g->mode != CLG_PLAN_TRAIN || !x->needs_grad)
        return clg__fail(CLG_ERR_STATE, "clg_graph_grad_read: param %s has no gradient (%s)", x->name,
                         !g->planned ? "not planned" : g->mode != CLG_PLAN_TRAIN ? "inference plan"
                         : clg__graph_is_frozen(g, x->group) ? "its group is frozen" : "it does not reach the loss");
    return clg__graph_read_tensor(g, &x->grad, host);
}

clg_status clg_graph_set_distributed(clg_graph *g, int on)
{
    clg_status st = clg__graph_check(g, "clg_graph_set_distributed");
    if (st)
        return st;
    g->dist = on ? 1 : 0;
    /* each rank its own random stream (masks, noise, dropout of its rows); rank 0 keeps the
     * single process's, so a job of one draws what an undistributed graph draws */
    g->dist_stream = g->dist ? (uint64_t)clg_dist_rank() << 40 : 0;
    return CLG_OK;
}

/* One tensor of rank 0 to every rank through host: read (rank 0), broadcast, write (the others). */
static clg_status bcast_tensor(clg_graph *g, clg_tensor *t, float *host, const char *who)
{
    size_t bytes = clg_tensor_bytes(t);
    if (!bytes || !t->buf)
        return CLG_OK;
    clg_status st;
    if (clg_dist_rank() == 0 && (st = clg__graph_read_tensor(g, t, host)))
        return st;
    if ((st = clg__dist_bcast(host, bytes, who)))
        return st;
    return clg_dist_rank() == 0 ? CLG_OK : clg_tensor_write(t, host);
}

clg_status clg_graph_broadcast_params(clg_graph *g)
{
    static const char who[] = "clg_graph_broadcast_params";
    clg_status st = clg__graph_check(g, who);
    if (st || !clg__dist_active())
        return st;
    size_t most = 0;
    for (int i = 0; i < g->n_params; i++) {
        size_t b = clg_tensor_bytes(&g->nodes[g->params[i]].val);
        most = b > most ? b : most;
    }
    float *host = malloc(most ? most : 4);
    if (!host)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", who);
    for (int i = 0; i < g->n_params && !st; i++) {
        gnode *x = &g->nodes[g->params[i]];
        if (!(st = bcast_tensor(g, &x->val, host, who)) && !(st = bcast_tensor(g, &x->st1, host, who)))
            st = bcast_tensor(g, &x->st2, host, who);
    }
    int64_t steps = g->steps;
    if (!st && !(st = clg__dist_bcast(&steps, sizeof steps, who)))
        g->steps = steps;
    free(host);
    return st;
}

int64_t clg_graph_step_count(const clg_graph *g) { return g ? g->steps : 0; }

void clg_graph_set_step_count(clg_graph *g, int64_t steps)
{
    if (g)
        g->steps = steps < 0 ? 0 : steps;
}

clg_status clg_graph_stats_get(const clg_graph *g, clg_graph_stats *out)
{
    clg_status st = clg__graph_check(g, "clg_graph_stats_get");
    if (st)
        return st;
    if (!out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_stats_get: NULL out");
    *out = g->stats;
    out->step_launches = g->step_launches;
    out->pooled_tensors = g->n_bufs;
    out->pool_bytes = g->pool_elems * 4;
    out->step_flops = clg__graph_step_flops(g);
    out->grad_buffers = 0;
    out->grad_bytes = 0;
    for (int m = 0; m < g->n; m++) {
        const gnode *x = &g->nodes[m];
        if (g->planned && x->needs_grad) {
            out->grad_buffers++;
            out->grad_bytes += (size_t)clg_shape_numel(&x->s) * 4;
        }
    }
    return CLG_OK;
}

clg_status clg_graph_set_profile(clg_graph *g, int on)
{
    clg_status st = clg__graph_check(g, "clg_graph_set_profile");
    if (st)
        return st;
    g->profile = on ? 1 : 0;
    return CLG_OK;
}

static void appendf(char *buf, size_t size, size_t *len, const char *fmt, ...) CLG_PRINTF(4, 5);
static void appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *dst = NULL;
    size_t room = 0;
    if (buf && *len < size) {
        dst = buf + *len;
        room = size - *len;
    }
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

clg_status clg_graph_profile_report(const clg_graph *g, char *buf, size_t size, size_t *needed)
{
    clg_status st = clg__graph_check(g, "clg_graph_profile_report");
    if (st)
        return st;
    if (buf && size)
        buf[0] = 0;
    size_t len = 0;
    double tf = 0, tb = 0;
    appendf(buf, size, &len, "%-24s %-18s %12s %6s %12s %6s\n", "node", "op", "forward ms", "runs", "backward ms",
            "runs");
    static const char *const acts[CLG_ACT_COUNT] = { "none", "relu", "gelu", "tanh", "sigmoid" };
    for (int m = 0; m < g->n; m++) {
        const gnode *x = &g->nodes[m];
        if ((x->kind != GN_OP && !x->prof_bwd_n) || x->fused)
            continue;
        char opn[40] = "-";
        if (x->kind == GN_OP && (x->op == CLG_OP_BIAS_ACT || x->op == CLG_OP_LINEAR) && x->attrs.act >= 0 &&
            x->attrs.act < CLG_ACT_COUNT)
            snprintf(opn, sizeof opn, "%s:%s", clg_op_name(x->op), acts[x->attrs.act]);
        else if (x->kind == GN_OP)
            snprintf(opn, sizeof opn, "%s", clg_op_name(x->op));
        appendf(buf, size, &len, "%-24s %-18s %12.3f %6" PRIu64 " %12.3f %6" PRIu64 "\n", x->name, opn,
                x->prof_fwd_ms, x->prof_fwd_n, x->prof_bwd_ms, x->prof_bwd_n);
        tf += x->prof_fwd_ms;
        tb += x->prof_bwd_ms;
    }
    appendf(buf, size, &len, "%-24s %-18s %12.3f %6" PRIu64 "\n", "(optimizer)", "-", g->prof_opt_ms, g->prof_opt_n);
    int dev = g->ctx->profiling && !g->ctx->prof_clock_bad;
    appendf(buf, size, &len, "total: forward %.3f ms, backward %.3f ms, optimizer %.3f ms (%s)\n", tf, tb,
            g->prof_opt_ms, dev ? "device clock, kernels" : "host clock, a wait after each op");
    if (g->ctx->profiling && !dev)
        appendf(buf, size, &len,
                "(this device's profiling clock gives no times: the host's clock from its second profiled run on)\n");
    const clg_graph_stats *ps = &g->stats;
    if (ps->profiled_steps) {
        double n = (double)ps->profiled_steps;
        appendf(buf, size, &len,
                "per training step (device clock, %" PRIu64 " steps): %.3f ms in kernels, %.3f ms from the first "
                "kernel's start to the last's end, %.3f ms of it between kernels\n",
                ps->profiled_steps, ps->profiled_kernel_ms / n, ps->profiled_span_ms / n,
                (ps->profiled_span_ms - ps->profiled_kernel_ms) / n);
    }
    if (g->stats.steps)
        appendf(buf, size, &len, "kernel launches per training step: %" PRIu64 " (fusion %s)\n",
                g->step_launches, g->fuse ? "on" : "off");
    if (needed)
        *needed = len + 1;
    return CLG_OK;
}

clg_status clg_graph_profile_print(const clg_graph *g, FILE *f)
{
    if (!f)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_profile_print: NULL file");
    size_t need = 0;
    clg_status st = clg_graph_profile_report(g, NULL, 0, &need);
    if (st)
        return st;
    char *buf = malloc(need);
    if (!buf)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_graph_profile_print: out of host memory");
    st = clg_graph_profile_report(g, buf, need, NULL);
    if (!st && fputs(buf, f) == EOF)
        st = clg__fail(CLG_ERR_IO, "clg_graph_profile_print: write failed");
    free(buf);
    return st;
}
