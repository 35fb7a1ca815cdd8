/* optim.c — optimizer updates (SGD, Adam/AdamW) and gradient clipping on the device. */
#include "internal.h"
#include "clgrad/optim.h"

clg_status clg_sgd_update(clg_ctx *ctx, clg_tensor *param, const clg_tensor *grad, clg_tensor *velocity,
                          float lr, float momentum, float weight_decay)
{
    (void)ctx; (void)param; (void)grad; (void)velocity; (void)lr; (void)momentum; (void)weight_decay;
    return clg__fail(CLG_ERR_UNSUPPORTED, "sgd: not available in this build");
}

clg_status clg_adam_update(clg_ctx *ctx, clg_tensor *param, const clg_tensor *grad, clg_tensor *m,
                           clg_tensor *v, float lr, float beta1, float beta2, float eps,
                           float weight_decay, int decoupled, int step)
{
    (void)ctx; (void)param; (void)grad; (void)m; (void)v; (void)lr; (void)beta1; (void)beta2; (void)eps;
    (void)weight_decay; (void)decoupled; (void)step;
    return clg__fail(CLG_ERR_UNSUPPORTED, "adam: not available in this build");
}

clg_status clg_grad_sq_norm(clg_ctx *ctx, const clg_tensor *const *grads, int n, clg_tensor *out)
{
    (void)ctx; (void)grads; (void)n; (void)out;
    return clg__fail(CLG_ERR_UNSUPPORTED, "grad_sq_norm: not available in this build");
}

clg_status clg_grad_clip(clg_ctx *ctx, clg_tensor *const *grads, int n, const clg_tensor *sq_norm,
                         float max_norm)
{
    (void)ctx; (void)grads; (void)n; (void)sq_norm; (void)max_norm;
    return clg__fail(CLG_ERR_UNSUPPORTED, "grad_clip: not available in this build");
}
