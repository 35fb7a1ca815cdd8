/* clgrad/optim.h — optimizer options and learning-rate schedules (what clg_graph_set_optimizer
 * takes), and the updates on the device: SGD (momentum, weight decay), Adam/AdamW (bias
 * correction), and global-norm gradient clipping without a host round trip.
 *
 * All updates are in place on `param` (and the optimizer state tensors, which the caller
 * allocates with the parameter's shape and zeroes once).  Hyper-parameters are host values
 * passed as kernel arguments, so a learning-rate schedule costs no device synchronisation.
 *
 * Every function only enqueues work (one launch per tensor, plus one for the norm's final
 * pass; the graph runtime passes all its params as one flat tensor, so a step costs one launch) and checks its arguments first: a NULL tensor or ctx -> CLG_ERR_INVALID_ARG, an i32
 * tensor -> CLG_ERR_DTYPE, a state or gradient whose shape differs from the parameter's ->
 * CLG_ERR_SHAPE, a hyper-parameter out of range -> CLG_ERR_INVALID_ARG; the message names the
 * function ("sgd", "adam"/"adamw", "grad_sq_norm", "grad_clip"), the argument and the shapes.
 * Results are deterministic for a given device (fixed reduction order, no atomics).
 */
#ifndef CLGRAD_OPTIM_H
#define CLGRAD_OPTIM_H

#include "clgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* the public API (the library builds with -fvisibility=hidden) */
#endif

/* ---- options and schedules ------------------------------------------------------------------ */

typedef enum clg_optim_kind {
    CLG_OPTIM_NONE = 0,   /* step computes gradients only */
    CLG_OPTIM_SGD,        /* momentum, weight_decay (L2) */
    CLG_OPTIM_ADAM,       /* beta1, beta2, eps, weight_decay (L2, added to the gradient) */
    CLG_OPTIM_ADAMW,      /* decoupled weight decay */
} clg_optim_kind;

typedef enum clg_lr_schedule {
    CLG_LR_CONSTANT = 0,
    CLG_LR_STEP,          /* lr * gamma^floor(t / step_size) */
    CLG_LR_COSINE,        /* min_lr + (lr - min_lr) * (1 + cos(pi * min(t, T) / T)) / 2,
                           * T = total_steps - warmup_steps */
} clg_lr_schedule;

/* Learning rate for 0-based step s: during the first warmup_steps steps it rises linearly,
 * lr * (s + 1) / warmup_steps; afterwards the schedule runs with t = s - warmup_steps. */
typedef struct clg_optim_options {
    clg_optim_kind kind;
    float lr;
    float momentum;           /* SGD */
    float weight_decay;
    float beta1, beta2, eps;  /* Adam(W) */
    clg_lr_schedule schedule;
    int warmup_steps;
    int step_size;            /* CLG_LR_STEP */
    float gamma;              /* CLG_LR_STEP */
    int total_steps;          /* CLG_LR_COSINE */
    float min_lr;             /* CLG_LR_COSINE */
    float clip_norm;          /* > 0: scale all gradients so their global L2 norm is <= clip_norm */
} clg_optim_options;

/* Usual defaults for a kind: lr 1e-3 (SGD 1e-2), betas 0.9/0.999, eps 1e-8, constant schedule. */
clg_optim_options clg_optim_defaults(clg_optim_kind kind);
/* The learning rate the schedule gives at 0-based step s (what clg_graph_step uses). */
float clg_optim_lr_at(const clg_optim_options *o, int64_t s);

/* ---- updates on the device ------------------------------------------------------------------ */

/* velocity = momentum*velocity + (grad + wd*param); param -= lr*velocity.
 * velocity may be NULL when momentum == 0 (then param -= lr*(grad + wd*param)); a non-zero
 * momentum without velocity is CLG_ERR_INVALID_ARG.  lr, momentum, weight_decay must be finite. */
clg_status clg_sgd_update(clg_ctx *ctx, clg_tensor *param, const clg_tensor *grad, clg_tensor *velocity,
                          float lr, float momentum, float weight_decay);

/* Adam (decoupled = 0: L2 weight decay added to the gradient) or AdamW (decoupled = 1:
 * param -= lr*wd*param).  step is 1-based and drives the bias correction.
 *   g = grad (+ wd*param unless decoupled);  decoupled: param *= 1 - lr*wd first
 *   m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g^2
 *   param -= lr/(1-beta1^step) * m / (sqrt(v)/sqrt(1-beta2^step) + eps)
 * The bias corrections are computed in double on the host.  Needs step >= 1, beta1 and beta2
 * in [0, 1), eps >= 0, finite lr and weight_decay. */
clg_status clg_adam_update(clg_ctx *ctx, clg_tensor *param, const clg_tensor *grad, clg_tensor *m,
                           clg_tensor *v, float lr, float beta1, float beta2, float eps,
                           float weight_decay, int decoupled, int step);

/* out (f32 scalar) = sum over all grads of sum(g^2).
 * out may have any shape with one element.  Each non-empty tensor is reduced by up to 256
 * work-groups (compensated per work-item sums, then a tree in local memory) into partial sums in
 * a temporary buffer; a final one-work-group pass sums those into out.  No float atomics; the
 * relative error stays ~1e-7 even for millions of elements.  n == 0 (grads may then be NULL)
 * or only empty tensors write 0. */
clg_status clg_grad_sq_norm(clg_ctx *ctx, const clg_tensor *const *grads, int n, clg_tensor *out);

/* Scale every grad by min(1, max_norm / sqrt(sq_norm)), reading sq_norm on the device
 * (typically the out of clg_grad_sq_norm; nothing is read back to the host).  Grads whose norm
 * is <= max_norm stay bit-for-bit unchanged.  max_norm must be positive and finite. */
clg_status clg_grad_clip(clg_ctx *ctx, clg_tensor *const *grads, int n, const clg_tensor *sq_norm,
                         float max_norm);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
