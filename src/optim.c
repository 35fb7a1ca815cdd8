/* optim.c — optimizer options and learning-rate schedules, and the updates (SGD, Adam/AdamW) and
 * gradient clipping on the device. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "clgrad/optim.h"

/* Work-groups per tensor in clg_grad_sq_norm: about 8 elements per work-item, at most this many. */
#define SQ_NORM_MAX_GROUPS 256
#define SQ_NORM_ITEMS 8

/* A non-NULL f32 tensor of ctx, with storage, at most 2^31-1 elements. */
static clg_status check_tensor(clg_ctx *ctx, const char *op, const char *what, const clg_tensor *t)
{
    char sb[96];
    if (!t)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: %s is NULL", op, what);
    if (t->s.dtype != CLG_F32)
        return clg__fail(CLG_ERR_DTYPE, "%s: %s must be f32, got %s", op, what, clg_shape_str(&t->s, sb, sizeof sb));
    if (t->ctx && t->ctx != ctx)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: %s lives on another ctx", op, what);
    int64_t n = clg_shape_numel(&t->s);
    if (n > INT32_MAX)
        return clg__fail(CLG_ERR_SHAPE, "%s: %s %s has more than 2^31-1 elements", op, what,
                         clg_shape_str(&t->s, sb, sizeof sb));
    if (n > 0 && !t->buf)
        return clg__fail(CLG_ERR_STATE, "%s: %s has no buffer", op, what);
    return CLG_OK;
}

/* check_tensor plus: same shape as param. */
static clg_status check_like(clg_ctx *ctx, const char *op, const char *what, const clg_tensor *t,
                             const clg_tensor *param)
{
    clg_status st = check_tensor(ctx, op, what, t);
    if (st)
        return st;
    if (!clg_shape_equal(&t->s, &param->s)) {
        char a[96], b[96];
        return clg__fail(CLG_ERR_SHAPE, "%s: %s is %s, param is %s", op, what, clg_shape_str(&t->s, a, sizeof a),
                         clg_shape_str(&param->s, b, sizeof b));
    }
    return CLG_OK;
}

static clg_status check_scalar(clg_ctx *ctx, const char *op, const char *what, const clg_tensor *t)
{
    clg_status st = check_tensor(ctx, op, what, t);
    if (st)
        return st;
    if (clg_shape_numel(&t->s) != 1) {
        char sb[96];
        return clg__fail(CLG_ERR_SHAPE, "%s: %s must have one element, got %s", op, what,
                         clg_shape_str(&t->s, sb, sizeof sb));
    }
    return CLG_OK;
}

clg_status clg_sgd_update(clg_ctx *ctx, clg_tensor *param, const clg_tensor *grad, clg_tensor *velocity,
                          float lr, float momentum, float weight_decay)
{
    const char *op = "sgd";
    clg_status st;
    if (!ctx)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL ctx", op);
    if ((st = check_tensor(ctx, op, "param", param)) || (st = check_like(ctx, op, "grad", grad, param)))
        return st;
    if (!isfinite(lr) || !isfinite(momentum) || !isfinite(weight_decay))
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: lr=%g, momentum=%g, weight_decay=%g must be finite", op,
                         (double)lr, (double)momentum, (double)weight_decay);
    if (!velocity && momentum != 0.0f)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: momentum=%g needs a velocity tensor", op, (double)momentum);
    if (velocity && (st = check_like(ctx, op, "velocity", velocity, param)))
        return st;
    int n = (int)clg_shape_numel(&param->s);
    const clg_tensor *v = velocity ? velocity : param; /* unused when has_v == 0 */
    return LAUNCH(ctx, CLG_K_sgd_update, (size_t)n, KTEN(param), KTEN(grad), KTEN(v), KINT(n),
                    KFLT(lr), KFLT(momentum), KFLT(weight_decay), KINT(velocity != NULL));
}

/* 1-D launch of an element-wise update with work-groups of up to 256 items: fewer, larger groups
 * are markedly faster on CPU runtimes (PoCL) and no slower elsewhere. */
static clg_status launch_wide(clg_ctx *ctx, clg_kid kid, size_t n, const clg_karg *args, int nargs)
{
    if (n == 0)
        return CLG_OK;
    cl_kernel k;
    size_t l;
    clg_status st = clg__kernel_id(ctx, kid, &k);
    if (st || (st = clg__kernel_wg(ctx, kid, 256, &l)) || (st = clg__set_args(ctx, k, clg__kname(kid), args, nargs)))
        return st;
    return clg__enqueue(ctx, k, clg__kname(kid), 1, &n, &l);
}

clg_status clg_adam_update(clg_ctx *ctx, clg_tensor *param, const clg_tensor *grad, clg_tensor *m,
                           clg_tensor *v, float lr, float beta1, float beta2, float eps,
                           float weight_decay, int decoupled, int step)
{
    const char *op = decoupled ? "adamw" : "adam";
    clg_status st;
    if (!ctx)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL ctx", op);
    if ((st = check_tensor(ctx, op, "param", param)) || (st = check_like(ctx, op, "grad", grad, param)) ||
        (st = check_like(ctx, op, "m", m, param)) || (st = check_like(ctx, op, "v", v, param)))
        return st;
    if (step < 1)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: step=%d must be >= 1 (it is 1-based)", op, step);
    if (!isfinite(lr) || !isfinite(weight_decay) || !(beta1 >= 0.0f && beta1 < 1.0f) ||
        !(beta2 >= 0.0f && beta2 < 1.0f) || !(eps >= 0.0f && isfinite(eps)))
        return clg__fail(CLG_ERR_INVALID_ARG,
                         "%s: need finite lr=%g and weight_decay=%g, beta1=%g and beta2=%g in [0, 1), eps=%g >= 0",
                         op, (double)lr, (double)weight_decay, (double)beta1, (double)beta2, (double)eps);
    double bc1 = 1.0 - pow((double)beta1, step), bc2 = 1.0 - pow((double)beta2, step);
    float step_size = (float)((double)lr / bc1);
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    float decay = (float)(1.0 - (double)lr * (double)weight_decay);
    int n = (int)clg_shape_numel(&param->s);
    int chunk = clg__vec_chunk(n);
    const clg_karg args[] = { KTEN(param), KTEN(grad), KTEN(m), KTEN(v), KINT(n), KFLT(beta1), KFLT(beta2),
                              KFLT(eps), KFLT(weight_decay), KINT(decoupled != 0), KFLT(decay),
                              KFLT(step_size), KFLT(inv_sqrt_bc2), KINT(chunk) };
    if (clg__vec_kernels(ctx))
        return clg__launch_groups_of_one(ctx, CLG_K_adam_update_vec, (size_t)((n + chunk - 1) / chunk),
                                         args, CLG_NARGS(args));
    return launch_wide(ctx, CLG_K_adam_update, (size_t)n, args, CLG_NARGS(args) - 1); /* all but chunk */
}

static int sq_norm_groups(int64_t n, size_t wg)
{
    int64_t per = (int64_t)wg * SQ_NORM_ITEMS;
    int64_t g = (n + per - 1) / per;
    return (int)(g < SQ_NORM_MAX_GROUPS ? g : SQ_NORM_MAX_GROUPS);
}

static clg_status check_grads(clg_ctx *ctx, const char *op, const clg_tensor *const *grads, int n)
{
    if (!ctx)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL ctx", op);
    if (n < 0 || (n > 0 && !grads))
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: bad gradient list (n=%d, grads=%s)", op, n,
                         grads ? "set" : "NULL");
    for (int i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "grads[%d]", i);
        clg_status st = check_tensor(ctx, op, what, grads[i]);
        if (st)
            return st;
    }
    return CLG_OK;
}

clg_status clg_grad_sq_norm(clg_ctx *ctx, const clg_tensor *const *grads, int n, clg_tensor *out)
{
    const char *op = "grad_sq_norm";
    clg_status st;
    if ((st = check_grads(ctx, op, grads, n)) || (st = check_scalar(ctx, op, "out", out)))
        return st;
    size_t wg = ctx->wg_default;
    int total = 0;
    for (int i = 0; i < n; i++)
        total += sq_norm_groups(clg_shape_numel(&grads[i]->s), wg);
    /* partial sums in a scratch slot (a plan reserves it: clg__grad_sq_norm_scratch) */
    int mark = clg__scratch_mark(ctx);
    cl_mem part = NULL;
    if (total > 0 && (st = clg__scratch_mem(ctx, (size_t)total * sizeof(float), &part, op)))
        return st;
    int pofs = 0;
    for (int i = 0; i < n && !st; i++) {
        int64_t len = clg_shape_numel(&grads[i]->s);
        int g = sq_norm_groups(len, wg);
        if (g == 0)
            continue;
        st = LAUNCH(ctx, CLG_K_sq_norm_partial, (size_t)g * wg, KTEN(grads[i]), KINT(len),
                      KMEM(part), KINT(pofs));
        pofs += g;
    }
    if (!st)
        st = LAUNCH(ctx, CLG_K_sq_norm_final, wg, KMEM(part ? part : (cl_mem)out->buf), KINT(total),
                      KTEN(out));
    clg__scratch_pop(ctx, mark);
    return st;
}

size_t clg__grad_sq_norm_scratch(clg_ctx *ctx, int64_t n)
{
    return (size_t)sq_norm_groups(n, ctx->wg_default) * sizeof(float);
}

clg_status clg_grad_clip(clg_ctx *ctx, clg_tensor *const *grads, int n, const clg_tensor *sq_norm,
                         float max_norm)
{
    const char *op = "grad_clip";
    clg_status st;
    if ((st = check_grads(ctx, op, (const clg_tensor *const *)grads, n)) ||
        (st = check_scalar(ctx, op, "sq_norm", sq_norm)))
        return st;
    if (!(max_norm > 0.0f) || !isfinite(max_norm))
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: max_norm=%g must be positive and finite", op, (double)max_norm);
    for (int i = 0; i < n && !st; i++) {
        int len = (int)clg_shape_numel(&grads[i]->s);
        st = LAUNCH(ctx, CLG_K_grad_clip, (size_t)len, KTEN(grads[i]), KINT(len), KTEN(sq_norm),
                      KFLT(max_norm));
    }
    return st;
}

/* ---- options and learning-rate schedules ----------------------------------------------------------------- */

clg_optim_options clg_optim_defaults(clg_optim_kind kind)
{
    clg_optim_options o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.lr = kind == CLG_OPTIM_SGD ? 1e-2f : 1e-3f;
    o.beta1 = 0.9f;
    o.beta2 = 0.999f;
    o.eps = 1e-8f;
    o.gamma = 0.1f;
    o.step_size = 1000;
    o.schedule = CLG_LR_CONSTANT;
    return o;
}

float clg_optim_lr_at(const clg_optim_options *o, int64_t s)
{
    if (!o)
        return 0.0f;
    if (s < 0)
        s = 0;
    if (o->warmup_steps > 0 && s < o->warmup_steps)
        return (float)((double)o->lr * (double)(s + 1) / (double)o->warmup_steps);
    int64_t t = s - (o->warmup_steps > 0 ? o->warmup_steps : 0);
    switch (o->schedule) {
    case CLG_LR_STEP:
        if (o->step_size <= 0)
            return o->lr;
        return (float)((double)o->lr * pow((double)o->gamma, (double)(t / o->step_size)));
    case CLG_LR_COSINE: {
        int64_t T = (int64_t)o->total_steps - (o->warmup_steps > 0 ? o->warmup_steps : 0);
        if (T <= 0)
            return o->lr;
        double f = (double)(t < T ? t : T) / (double)T;
        return (float)(o->min_lr + ((double)o->lr - o->min_lr) * 0.5 * (1.0 + cos(3.141592653589793 * f)));
    }
    default:
        return o->lr;
    }
}
