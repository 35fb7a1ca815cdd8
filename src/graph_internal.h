/* graph_internal.h — the graph's private structures and small helpers, shared by graph.c (build),
 * graph_plan.c (plan driver), autograd.c, plan.c (pool layout), graph_run.c and graph_dot.c.
 * Calls go one way: graph.c -> graph_plan.c -> autograd.c, plan.c; graph.c -> graph_run.c. */
#ifndef CLGRAD_GRAPH_INTERNAL_H
#define CLGRAD_GRAPH_INTERNAL_H

#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "clgrad/graph.h"

/* The last error's message copied out, for a new message that quotes it: clg__fail formats into
 * the buffer clg_last_error() returns, so passing that pointer straight in is undefined. */
static inline void clg__copy_error(char *buf, size_t size)
{
    snprintf(buf, size, "%s", clg_last_error());
}

#define GNODE_MAX_IN 4

typedef enum { GN_INPUT, GN_PARAM, GN_CONST, GN_OP } gnode_kind;

typedef struct gnode {
    gnode_kind kind;
    char name[CLG_GRAPH_NAME_MAX + 1];
    clg_shape s;
    clg_op op;
    clg_attrs attrs;
    int in[GNODE_MAX_IN];
    int nin;
    int group;              /* params */
    int param_index;        /* params, else -1 */
    int keep;               /* user asked to keep the value readable */
    int metric;             /* clg_graph_metric: computed by clg_graph_forward only */
    clg_tensor val;         /* own buffer (input/param/const/kept op) or a pool view */
    clg_tensor grad;        /* params: own buffer; others: pool view */
    clg_tensor st1, st2;    /* optimizer state: velocity or Adam m; Adam v */
    /* plan: the fusion pass (graph.c) rewrites nodes in place and free_plan restores them */
    int fused;              /* folded into its only consumer: no value, no exec entries */
    int rewritten;          /* op/in/nin/attrs replaced by the fused op; orig_* keep the built form */
    clg_op orig_op;
    clg_attrs orig_attrs;
    int orig_in[GNODE_MAX_IN];
    int orig_nin;
    int own_val;            /* val is an own allocation made by the plan (kept op outputs) */
    int needs_grad;
    int val_buf, grad_buf;  /* index into plan buffers, -1 if not pooled */
    double prof_fwd_ms, prof_bwd_ms;
    uint64_t prof_fwd_n, prof_bwd_n;
} gnode;

typedef enum { EX_FWD, EX_SEED, EX_BWD, EX_CLIP, EX_OPT } exkind;

typedef struct exentry {
    exkind kind;
    int node;
    unsigned gin_mask;      /* EX_BWD: which inputs get a gradient in this call */
    int acc;                /* EX_BWD: accumulate into them */
    int grad;               /* EX_FWD of the loss: its op's forward_grad, which also writes the
                             * gradients of gin_mask (acc) at gout = 1; the list has no seed or
                             * backward call for it (autograd.c's fuse_loss) */
    int metric;             /* EX_FWD of a metric or a node computed from one: steps skip it */
} exentry;

typedef struct pbuf {
    size_t elems;
    int first, last;        /* exec indices, inclusive */
    size_t offset;          /* in elements, in the pool */
    int node, is_grad;
} pbuf;

struct clg_graph {
    clg_ctx *ctx;
    gnode *nodes;
    int n, cap;
    int *params;            /* node ids by param index */
    int n_params, cap_params;
    int *frozen;            /* frozen group ids */
    int n_frozen, cap_frozen;
    uint64_t seed;
    int loss;
    clg_optim_options opt;
    int has_opt;
    int fuse;               /* fusion pass on (default; CLGRAD_FUSE=0 turns it off) */
    /* plan */
    int planned;
    clg_plan_mode mode;
    int *order;             /* topological order of node ids */
    exentry *ex;
    int n_ex;
    pbuf *bufs;
    int n_bufs;
    clg_tensor pool;
    size_t pool_elems, naive_elems;
    clg_tensor sq_norm;     /* clipping scratch */
    /* Optimizer arenas (TRAIN plan with an optimizer): the values, gradients and optimizer state of
     * the trainable params, each param at the same aligned offset in all four, so one launch updates
     * (or clips) them all; the params' tensors are views.  Values and state outlive the plan (the
     * next plan re-lays them out by copying); the gradient arena is the plan's. */
    clg_tensor arena[4];    /* ARENA_VAL, ARENA_GRAD, ARENA_ST1, ARENA_ST2 */
    size_t arena_elems;     /* of the current layout (0: none) */
    float *loss_host;       /* host copy for a non-scalar loss; then one per held loss */
    /* clg_graph_step_async's losses (graph_run.c): step `step`'s in slot step % CLG_GRAPH_LOSSES_HELD,
     * read into loss_host + (slot + 1) * the loss's numel while `ev` is set, else in `value` */
    struct held_loss {
        int64_t step;
        int state;          /* 0: none, 1: the read is enqueued (ev), 2: value */
        cl_event ev;
        float value;
    } held[CLG_GRAPH_LOSSES_HELD];
    /* distributed steps (clg_graph_set_distributed; graph_run.c) */
    int dist;               /* average gradients and loss across the ranks */
    int dist_pending;       /* a step in progress still owes the exchange */
    uint64_t dist_stream;   /* added to stochastic ops' counters: rank << 40 */
    float dist_loss;        /* the step's loss, averaged over the ranks */
    float *dist_host;       /* host copy of the gradient arena (arena_elems) where it is not mapped,
                             * made by the first exchange of a plan, released with the plan */
    /* run */
    int64_t steps;
    clg_graph_stats stats;
    uint64_t step_launches; /* launches of the last clg_graph_step */
    int profile;
    double prof_opt_ms;
    uint64_t prof_opt_n;
};

enum { ARENA_VAL, ARENA_GRAD, ARENA_ST1, ARENA_ST2 };

static inline clg_status clg__graph_check(const clg_graph *g, const char *fn)
{
    return g ? CLG_OK : clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL graph", fn);
}

static inline clg_status clg__graph_check_id(const clg_graph *g, int id, const char *fn)
{
    if (id < 0 || id >= g->n)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: node id %d out of range [0, %d)", fn, id, g->n);
    return CLG_OK;
}

static inline int clg__graph_is_frozen(const clg_graph *g, int group)
{
    for (int i = 0; i < g->n_frozen; i++)
        if (g->frozen[i] == group)
            return 1;
    return 0;
}

/* Append an exec entry. */
static inline clg_status clg__graph_push_ex(clg_graph *g, exentry e)
{
    exentry *nx = realloc(g->ex, sizeof *nx * (size_t)(g->n_ex + 1));
    if (!nx)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
    g->ex = nx;
    g->ex[g->n_ex++] = e;
    return CLG_OK;
}

/* autograd.c: mark needs_grad and append the backward (and optimizer) entries to g->ex. */
clg_status clg__graph_autograd(clg_graph *g);
/* plan.c: liveness of pooled tensors over g->ex and their pool offsets (g->pool_elems); nothing
 * allocated, so the plan's size can be checked against the device first. */
clg_status clg__graph_plan_layout(clg_graph *g);
/* plan.c: the pool for that layout, and every pooled tensor as a view of it. */
clg_status clg__graph_plan_alloc(clg_graph *g);
/* graph_plan.c: drop the plan (fusion undone, pool, gradients and kept outputs released). */
void clg__graph_free_plan(clg_graph *g);
/* graph_plan.c: release the optimizer state (velocity, Adam m and v, their arenas). */
void clg__graph_free_opt_state(clg_graph *g);
/* graph_flops.c: clg_graph_stats.step_flops of the current plan (0 without one). */
double clg__graph_step_flops(const clg_graph *g);
/* graph_run.c: a blocking read of t into host, counted in the graph's statistics. */
clg_status clg__graph_read_tensor(clg_graph *g, const clg_tensor *t, void *host);
/* graph_run.c: wait for and forget clg_graph_step_async's pending loss reads (before the plan's
 * loss_host goes). */
void clg__graph_drop_losses(clg_graph *g);

#endif
