/* clgrad/graph.h — the graph runtime: build once, derive gradients, plan memory, run steps.
 *
 * Life cycle
 *   1. Build: clg_graph_create(), then add nodes — inputs (uploaded per step), params (trainable,
 *      initialised on the host from the graph's seed), consts and ops.  Each node has an int id.
 *      clg_graph_op() runs the op's shape inference at once, so a shape or dtype mistake is
 *      reported by the call that adds it, with the node and the shapes in the message.
 *   2. Choose the loss (clg_graph_set_loss), the optimizer (clg_graph_set_optimizer) and which
 *      parameter groups are frozen (clg_graph_freeze_group).
 *   3. Plan: clg_graph_plan(g, CLG_PLAN_TRAIN or CLG_PLAN_INFERENCE) orders the nodes, derives
 *      the backward pass (reverse mode, only for nodes that lie between a trainable param and the
 *      loss), and assigns every intermediate tensor (activations and their gradients) a slice of
 *      one device pool by liveness, so tensors whose lifetimes do not overlap share memory.
 *      Adding nodes or changing the loss/frozen groups afterwards drops the plan (plan again).
 *   4. Run: clg_graph_set_input() (async upload), clg_graph_step() (forward, backward, optimizer
 *      update) or clg_graph_forward(), then read nodes, params and gradients.
 *
 * Synchronisation: a step only enqueues work on the ctx's in-order queue.  It blocks at most once,
 * to read the loss when loss_out is non-NULL; clg_graph_step_async() does not block at all and
 * leaves that read to clg_graph_loss_wait(), so a loop can overlap the next batch's preparation
 * with the device's step.  clg_graph_stats() counts the blocking reads so this is checkable.
 * Device-side index errors (a label out of range) surface at the next clg_ctx_finish().
 *
 * Loss: normally a scalar.  A non-scalar loss node means the sum of its elements (its gradient is
 * seeded with 1.0 everywhere; loss_out gets the sum, computed in double on the host).
 *
 * Memory: the values of input, param and const nodes, the gradients of params and the optimizer
 * state live in their own buffers for the graph's life.  Op outputs live in the shared pool and are
 * overwritten once dead, except the loss, ops that nothing consumes (graph outputs) and nodes
 * marked with clg_graph_keep(), which get their own buffers; only those can be read back.  In a TRAIN
 * plan with an optimizer, the values, gradients and optimizer state of the params that get a gradient
 * are laid out contiguously (each param at the same 128-byte aligned offset in four arenas), so one
 * launch updates every param and clipping costs three launches in all; each param still reads, writes
 * and checkpoints as its own tensor (a view), and re-planning re-lays the arenas out, keeping values
 * and optimizer state.
 *
 * Not thread-safe (like the ctx).  Errors are clg_status values with a message in clg_last_error().
 */
#ifndef CLGRAD_GRAPH_H
#define CLGRAD_GRAPH_H

#include <stdint.h>
#include <stdio.h>
#include "clgrad/ops.h"
#include "clgrad/optim.h"

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* the public API (the library builds with -fvisibility=hidden) */
#endif

typedef struct clg_graph clg_graph;

/* Longest node name kept (longer names are rejected). */
#define CLG_GRAPH_NAME_MAX 63

/* ---- building ------------------------------------------------------------------------------- */

clg_status clg_graph_create(clg_ctx *ctx, clg_graph **out);
void clg_graph_destroy(clg_graph *g);

/* Seed of the host generator used by parameter initialisers.  Each param draws from its own stream
 * derived from (seed, its param index), so the same seed and build order give the same values.
 * Affects params added after the call (default seed: 0). */
void clg_graph_set_seed(clg_graph *g, uint64_t seed);

/* A per-step input (data batch, labels).  Its values are uploaded by clg_graph_set_input().
 * name may be NULL (a name "input_<id>" is made up); names must be unique in the graph. */
clg_status clg_graph_input(clg_graph *g, const char *name, const clg_shape *s, int *id);

typedef enum clg_init_kind {
    CLG_INIT_ZEROS = 0,
    CLG_INIT_CONSTANT,        /* every element = a */
    CLG_INIT_UNIFORM,         /* uniform in [a, b) */
    CLG_INIT_XAVIER_UNIFORM,  /* Glorot: U(-r, r), r = gain*sqrt(6/(fan_in+fan_out)) */
    CLG_INIT_HE_NORMAL,       /* Kaiming: N(0, gain*sqrt(2/fan_in)) */
    CLG_INIT_HE_UNIFORM,      /* Kaiming: U(-r, r), r = gain*sqrt(6/fan_in) */
} clg_init_kind;

/* Initialiser of a param.  gain 0 means 1.  fan_in/fan_out 0 means derived from the shape, for the
 * x·W convention (W is [in, out]): ndim >= 2: fan_in = dim[ndim-2] * (product of dims before it),
 * fan_out = dim[ndim-1]; ndim 1: fan_in = fan_out = dim[0]; scalar: 1. */
typedef struct clg_init {
    clg_init_kind kind;
    float a, b;
    float gain;
    int64_t fan_in, fan_out;
} clg_init;

/* A trainable f32 parameter in parameter group `group` (any int; used for freezing).  Its values
 * are drawn on the host and written to the device now (init NULL means zeros). */
clg_status clg_graph_param(clg_graph *g, const char *name, const clg_shape *s, const clg_init *init,
                           int group, int *id);

/* A constant tensor whose values (numel * 4 bytes, f32 or i32) are copied to the device now. */
clg_status clg_graph_const(clg_graph *g, const char *name, const clg_shape *s, const void *data,
                           int *id);

/* An op node.  n must equal the op's arity; attrs may be NULL (defaults).  Shape inference runs now:
 * on failure the status is the op's (CLG_ERR_SHAPE, CLG_ERR_DTYPE, CLG_ERR_UNSUPPORTED, ...) and the
 * message names the node and the op's own message. */
clg_status clg_graph_op(clg_graph *g, clg_op op, const int *inputs, int n, const clg_attrs *attrs,
                        int *id);

/* Rename a node (before planning; names must stay unique). */
clg_status clg_graph_set_name(clg_graph *g, int id, const char *name);
/* Keep the node's value in its own buffer so it can be read after a step or forward. */
clg_status clg_graph_keep(clg_graph *g, int id);
/* A metric (an accuracy, say): an op node kept as clg_graph_keep does, computed by
 * clg_graph_forward only; training steps leave it out, with every node computed from it, so after
 * a step it still holds the last forward's value.  clg_graph_plan fails (CLG_ERR_STATE) when the
 * loss depends on a metric; a node other than an op is CLG_ERR_INVALID_ARG. */
clg_status clg_graph_metric(clg_graph *g, int id);

/* The node to minimise (f32; see "Loss" above). */
clg_status clg_graph_set_loss(clg_graph *g, int id);

/* frozen != 0: params of the group get no gradient and no update. */
clg_status clg_graph_freeze_group(clg_graph *g, int group, int frozen);

/* ---- queries --------------------------------------------------------------------------------- */

int clg_graph_node_count(const clg_graph *g);
/* Look up a node by name; -1 when absent. */
int clg_graph_find(const clg_graph *g, const char *name);
const char *clg_graph_node_name(const clg_graph *g, int id);   /* NULL for a bad id */
clg_status clg_graph_node_shape(const clg_graph *g, int id, clg_shape *out);

/* ---- optimizer ------------------------------------------------------------------------------- */

/* Set (or replace) the optimizer (options, schedules and their defaults: clgrad/optim.h); its
 * state (velocity / m, v) is zeroed. */
clg_status clg_graph_set_optimizer(clg_graph *g, const clg_optim_options *o);

/* ---- planning ------------------------------------------------------------------------------- */

typedef enum clg_plan_mode {
    CLG_PLAN_TRAIN = 0,       /* forward, backward, optimizer */
    CLG_PLAN_INFERENCE = 1,   /* forward only: no gradient buffers, no optimizer state */
} clg_plan_mode;

clg_status clg_graph_plan(clg_graph *g, clg_plan_mode mode);

/* Fusion (on by default; the environment variable CLGRAD_FUSE=0 turns it off for new graphs).  When
 * planning, add(x, b) with b a 1-D row vector over x's last axis runs as the fused bias_act op, and
 * when that add's only consumer is relu, gelu, tanh or sigmoid, and the add is neither kept, the
 * loss nor renamed, the activation node runs bias_act(x, b, act) and the add is dropped: one kernel
 * instead of two forward, one or two instead of three backward.  Then a 2-D matmul whose only
 * consumer is such a bias_act (act none, relu, tanh or sigmoid; the matmul neither kept, the loss
 * nor renamed) folds into it as the linear op: the product's store adds the bias (and relu), one
 * launch and one pass fewer forward, and the backward's act' comes from the output.  In a TRAIN
 * plan whose loss is cross_entropy (up to 16384 rows and 2^20 logits), the loss's forward writes
 * the logits' gradient too: no seed fill, no backward call.  Node ids, names, shapes and the DOT
 * output keep the graph as built (fused nodes are drawn dashed, the node that runs them labelled
 * with its op); reading a fused add or matmul is CLG_ERR_STATE.  Results match the unfused graph:
 * the forward bit for bit, bias gradients within float rounding (bias_act: another summation
 * order; linear and the fused loss: the bits of bias_act's and cross_entropy's backward).
 * Changing the setting drops the plan. */
clg_status clg_graph_set_fusion(clg_graph *g, int on);

/* Device bytes of the plan: planned = pool + own buffers; naive = the same with every pooled
 * tensor in its own buffer.  Needs a plan. */
clg_status clg_graph_memory(const clg_graph *g, size_t *planned, size_t *naive);

/* ---- running -------------------------------------------------------------------------------- */

/* Enqueue a non-blocking upload of an input node's values (numel * 4 bytes).  host must stay valid
 * and unchanged until the queue has passed the next step (e.g. until the next blocking read). */
clg_status clg_graph_set_input(clg_graph *g, int id, const void *host);

/* One training step: forward, backward (TRAIN plan), optimizer update.  loss_out NULL: nothing is
 * read back and nothing blocks. */
clg_status clg_graph_step(clg_graph *g, float *loss_out);
/* Pipelined steps, for a loop that prepares the next batch while the device runs this one.
 * clg_graph_step_async runs a training step as clg_graph_step(g, NULL) does, then enqueues a
 * non-blocking read of its loss.  clg_graph_loss_wait(g, step, &loss) blocks until step `step` has
 * run and gives its loss (what clg_graph_step would have given).  `step` is the step's index,
 * clg_graph_step_count() before its clg_graph_step_async.  The graph holds the losses of its last
 * CLG_GRAPH_LOSSES_HELD asynchronous steps (an older one, or a step run otherwise: CLG_ERR_STATE);
 * planning again drops them.  Inputs: the host memory given to clg_graph_set_input for step s
 * must stay untouched until step s has run, so a loop that waits for step s - 1's loss after
 * starting step s can alternate two host batches. */
#define CLG_GRAPH_LOSSES_HELD 4
clg_status clg_graph_step_async(clg_graph *g);
clg_status clg_graph_loss_wait(clg_graph *g, int64_t step, float *loss);

/* Forward only (either plan mode). */
clg_status clg_graph_forward(clg_graph *g);

/* The launches of one step (TRAIN plan: forward, backward, optimizer; else the forward), one per
 * kernel and work-group size, as a launch list (program.h) for a helper process to compile ahead:
 * the entries run with every launch recorded instead of made, so no kernel runs and no value,
 * parameter or counter changes (the programs they need are built, as the step would).  Launches of
 * a program without source (loaded from clgrad's binary cache: compiled already) are left out.
 * Not on a distributed graph (CLG_ERR_STATE).  The caller frees *out (clg_launch_list_free). */
clg_status clg_graph_describe_step(clg_graph *g, clg_launch_list *out);

/* Data parallelism across the ranks of clgrad/dist.h (all ranks build the same graph, each with its
 * share of the global batch).  On: every clg_graph_step averages the gradient arena and the loss
 * across the ranks between backward and the optimizer (the loss is then the mean over all ranks'
 * rows, as one process with the global batch reports it).  Needs a TRAIN plan with an optimizer at
 * step time; a job of one rank skips the exchange.  Every rank must step the same number of times.
 * Stochastic ops (masks, noise, dropout) draw a stream of their own on each rank (rank 0's is the
 * undistributed graph's): the same distribution as one process with the global batch, not the same
 * draws. */
clg_status clg_graph_set_distributed(clg_graph *g, int on);
/* Copy rank 0's parameter values, optimizer state and step count to every rank (all ranks call it,
 * after planning and after loading a checkpoint or resuming).  Without MPI or with one rank: CLG_OK. */
clg_status clg_graph_broadcast_params(clg_graph *g);

/* Blocking reads of a node's value (input, param, const, or a kept op) and of a param's gradient
 * (after a step; a frozen or unused param has none: CLG_ERR_STATE). */
clg_status clg_graph_read(clg_graph *g, int id, void *host);
clg_status clg_graph_grad_read(clg_graph *g, int id, void *host);

/* Steps run so far (the next step's 0-based index for the LR schedule); settable for resuming. */
int64_t clg_graph_step_count(const clg_graph *g);
void clg_graph_set_step_count(clg_graph *g, int64_t steps);

typedef struct clg_graph_stats {
    uint64_t steps;           /* clg_graph_step calls */
    uint64_t forwards;        /* clg_graph_forward calls */
    uint64_t blocking_reads;  /* host reads that waited on the device (loss, node, param reads) */
    uint64_t launches;        /* kernel launches enqueued by the graph's steps and forwards */
    uint64_t step_launches;   /* kernel launches of the last clg_graph_step */
    int pooled_tensors;       /* tensors planned into the pool */
    int grad_buffers;         /* gradient tensors in the plan (params' and pooled) */
    size_t grad_bytes;        /* their bytes (0 in an inference plan) */
    size_t pool_bytes;
    double dist_ms;           /* host time of the distributed steps' gradient exchange after backward
                               * finished: staging, MPI, and waiting for the slowest rank */
    double step_flops;        /* floating-point operations of one run of the current plan (a TRAIN
                               * plan's step, an inference plan's forward), a multiply-add = 2:
                               * GEMM FLOPs only (matmul, bmm: 2·M·N·K per forward product and per
                               * backward product the plan runs, none for the gradient of an input
                               * that needs none); element-wise work not counted.  0 unplanned. */
    /* Profile mode on a ctx made with clg_ctx_options.profiling (clg_graph_set_profile): the
     * training steps timed on the device's clock, their kernels' device time (summed over the
     * steps) and their spans, each from the step's first kernel start to its last kernel end
     * (summed); a span less the kernels' time is the device's time between them (launch gaps,
     * copies, fills, and the host's part of the step where it keeps the device waiting). */
    uint64_t profiled_steps;
    double profiled_kernel_ms;
    double profiled_span_ms;
} clg_graph_stats;

clg_status clg_graph_stats_get(const clg_graph *g, clg_graph_stats *out);

/* ---- parameters, for checkpoints ------------------------------------------------------------ */

int clg_graph_param_count(const clg_graph *g);
int clg_graph_param_id(const clg_graph *g, int index);        /* node id, -1 for a bad index */
const char *clg_graph_param_name(const clg_graph *g, int index);
clg_status clg_graph_param_shape(const clg_graph *g, int index, clg_shape *out);
int clg_graph_param_group(const clg_graph *g, int index);
/* Blocking copies of param `index`'s values (numel * 4 bytes). */
clg_status clg_graph_param_read(clg_graph *g, int index, void *host);
clg_status clg_graph_param_write(clg_graph *g, int index, const void *host);

typedef enum clg_param_state {
    CLG_STATE_VALUE = 0,
    CLG_STATE_GRAD,           /* in a TRAIN plan, for trainable params that reach the loss */
    CLG_STATE_VELOCITY,       /* SGD with momentum */
    CLG_STATE_ADAM_M,
    CLG_STATE_ADAM_V,
} clg_param_state;

/* The device tensor holding a param's value, gradient or optimizer state; *out is NULL when the
 * param has none (no optimizer, frozen, not planned).  The tensor stays owned by the graph and
 * valid until the graph is re-planned, given a new optimizer or destroyed. */
clg_status clg_graph_param_tensor(clg_graph *g, int index, clg_param_state which, clg_tensor **out);

/* ---- insight -------------------------------------------------------------------------------- */

/* Graphviz DOT: one node per graph node (name, op, shape), params as boxes (dashed when frozen),
 * inputs as ellipses, the loss double-circled; edges follow data. */
clg_status clg_graph_dot(const clg_graph *g, FILE *f);

/* Profile mode: time every op.  On a ctx created with profiling (clg_ctx_options.profiling) an op's
 * time is its kernels' device time (CL_PROFILING_COMMAND_START to _END of each launch, summed; what
 * an op does by copies or fills, and the time between launches, count in the step's span only: see
 * clg_graph_stats), with one wait per run; otherwise the host clock around each op, with a
 * clFinish after each, so launch gaps and the waits count in the op's time.  Either way profiled
 * runs synchronise at the end, so leave it off for real runs. */
clg_status clg_graph_set_profile(clg_graph *g, int on);
/* Per node: forward and backward time (ms, summed over profiled runs) and counts, plus the
 * optimizer, the clock they were taken on, a training step's kernel time and span where that is
 * the device's (clg_graph_stats), and the kernel launches of the last training step, as text into
 * buf (truncated to size; always NUL-terminated).  Returns the length the full text needs through
 * *needed when non-NULL. */
clg_status clg_graph_profile_report(const clg_graph *g, char *buf, size_t size, size_t *needed);
clg_status clg_graph_profile_print(const clg_graph *g, FILE *f);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
