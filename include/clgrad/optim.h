/* clgrad/optim.h — optimizer updates on the device: SGD (momentum, weight decay), Adam/AdamW
 * (bias correction), and global-norm gradient clipping without a host round trip.
 *
 * All updates are in place on `param` (and the optimizer state tensors, which the caller
 * allocates with the parameter's shape and zeroes once).  Hyper-parameters are host values
 * passed as kernel arguments, so a learning-rate schedule costs no device synchronisation.
 */
#ifndef CLGRAD_OPTIM_H
#define CLGRAD_OPTIM_H

#include "clgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* velocity = momentum*velocity + (grad + wd*param); param -= lr*velocity.
 * velocity may be NULL when momentum == 0. */
clg_status clg_sgd_update(clg_ctx *ctx, clg_tensor *param, const clg_tensor *grad, clg_tensor *velocity,
                          float lr, float momentum, float weight_decay);

/* Adam (decoupled = 0: L2 weight decay added to the gradient) or AdamW (decoupled = 1:
 * param -= lr*wd*param).  step is 1-based and drives the bias correction. */
clg_status clg_adam_update(clg_ctx *ctx, clg_tensor *param, const clg_tensor *grad, clg_tensor *m,
                           clg_tensor *v, float lr, float beta1, float beta2, float eps,
                           float weight_decay, int decoupled, int step);

/* out (f32 scalar) = sum over all grads of sum(g^2). */
clg_status clg_grad_sq_norm(clg_ctx *ctx, const clg_tensor *const *grads, int n, clg_tensor *out);

/* Scale every grad by min(1, max_norm / sqrt(sq_norm)), reading sq_norm on the device. */
clg_status clg_grad_clip(clg_ctx *ctx, clg_tensor *const *grads, int n, const clg_tensor *sq_norm,
                         float max_norm);

#ifdef __cplusplus
}
#endif
#endif
