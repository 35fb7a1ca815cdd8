/* ops.c — the op descriptor table (from clgrad/ops.def) and the checked public dispatch. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const clg_op_desc *const op_table[] = {
#define CLG_OP(ID, name, nin, family) [CLG_OP_##ID] = &clg_opdesc_##name,
#include "clgrad/ops.def"
#undef CLG_OP
};
_Static_assert(sizeof op_table / sizeof op_table[0] == CLG_OP_COUNT, "op table size != op count");

static const int op_nin[] = {
#define CLG_OP(ID, name, nin, family) [CLG_OP_##ID] = nin,
#include "clgrad/ops.def"
#undef CLG_OP
};

clg_attrs clg_attrs_default(void)
{
    clg_attrs a;
    memset(&a, 0, sizeof a);
    a.axis = -1;
    a.alpha = 1.0f;
    return a;
}

const char *clg_op_name(clg_op op) { return (op >= 0 && op < CLG_OP_COUNT) ? op_table[op]->name : "?"; }
int clg_op_num_inputs(clg_op op) { return (op >= 0 && op < CLG_OP_COUNT) ? op_nin[op] : -1; }
int clg_op_has_backward(clg_op op)
{
    return (op >= 0 && op < CLG_OP_COUNT) && op_table[op]->backward != NULL;
}

clg_op clg_op_from_name(const char *name)
{
    for (int i = 0; name && i < CLG_OP_COUNT; i++)
        if (!strcmp(op_table[i]->name, name))
            return (clg_op)i;
    return CLG_OP_COUNT;
}

clg_status clg__check_dtype(const char *op, int idx, const clg_shape *s, clg_dtype want)
{
    if (s->dtype != want)
        return clg__fail(CLG_ERR_DTYPE, "%s: input %d must be %s, got %s", op, idx, clg_dtype_name(want),
                         clg_dtype_name(s->dtype));
    return CLG_OK;
}

clg_status clg__shape_fail(const char *op, const clg_shape *const *in, int nin, const char *why)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s: %s; inputs:", op, why);
    for (int i = 0; i < nin && n > 0 && (size_t)n < sizeof buf; i++) {
        char sb[96];
        n += snprintf(buf + n, sizeof buf - (size_t)n, " %s", clg_shape_str(in[i], sb, sizeof sb));
    }
    return clg__fail(CLG_ERR_SHAPE, "%s", buf);
}

static clg_status check_op(clg_op op)
{
    if (op < 0 || op >= CLG_OP_COUNT)
        return clg__fail(CLG_ERR_INVALID_ARG, "unknown op %d", (int)op);
    return CLG_OK;
}

clg_status clg_op_infer(clg_op op, const clg_shape *const *in, const clg_attrs *a, clg_shape *out)
{
    clg_status st = check_op(op);
    if (st)
        return st;
    const clg_op_desc *d = op_table[op];
    if (!out || (d->n_inputs > 0 && !in))
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL argument", d->name);
    for (int i = 0; i < d->n_inputs; i++)
        if (!in[i])
            return clg__fail(CLG_ERR_INVALID_ARG, "%s: input %d is NULL", d->name, i);
    clg_attrs def = clg_attrs_default();
    return d->infer(in, a ? a : &def, out);
}

static clg_status gather_shapes(const clg_op_desc *d, const clg_tensor *const *in,
                                const clg_shape *shp[CLG_MAX_DIMS + 4], clg_ctx *ctx)
{
    for (int i = 0; i < d->n_inputs; i++) {
        if (!in || !in[i])
            return clg__fail(CLG_ERR_INVALID_ARG, "%s: input %d is NULL", d->name, i);
        if (in[i]->ctx && in[i]->ctx != ctx)
            return clg__fail(CLG_ERR_INVALID_ARG, "%s: input %d lives on another ctx", d->name, i);
        shp[i] = &in[i]->s;
    }
    return CLG_OK;
}

clg_status clg_op_forward(clg_ctx *ctx, clg_op op, const clg_tensor *const *in, clg_tensor *out,
                          const clg_attrs *a)
{
    clg_status st = check_op(op);
    if (st)
        return st;
    const clg_op_desc *d = op_table[op];
    if (!ctx || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL ctx or output", d->name);
    clg_attrs def = clg_attrs_default();
    if (!a)
        a = &def;
    const clg_shape *shp[CLG_MAX_DIMS + 4];
    if ((st = gather_shapes(d, in, shp, ctx)))
        return st;
    clg_shape want;
    if ((st = d->infer(shp, a, &want)))
        return st;
    if (!clg_shape_equal(&want, &out->s)) {
        char x[96], y[96];
        return clg__fail(CLG_ERR_SHAPE, "%s: output is %s, expected %s", d->name,
                         clg_shape_str(&out->s, x, sizeof x), clg_shape_str(&want, y, sizeof y));
    }
    if (clg_shape_numel(&out->s) > 0 && !out->buf)
        return clg__fail(CLG_ERR_STATE, "%s: output tensor has no buffer", d->name);
    return d->forward(ctx, in, out, a);
}

clg_status clg_op_backward(clg_ctx *ctx, clg_op op, const clg_tensor *const *in, const clg_tensor *out,
                           const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a,
                           int accumulate)
{
    clg_status st = check_op(op);
    if (st)
        return st;
    const clg_op_desc *d = op_table[op];
    if (!d->backward)
        return clg__fail(CLG_ERR_UNSUPPORTED, "%s: op has no backward", d->name);
    if (!ctx || !out || !gout || (d->n_inputs > 0 && !gin))
        return clg__fail(CLG_ERR_INVALID_ARG, "%s backward: NULL argument", d->name);
    clg_attrs def = clg_attrs_default();
    if (!a)
        a = &def;
    const clg_shape *shp[CLG_MAX_DIMS + 4];
    if ((st = gather_shapes(d, in, shp, ctx)))
        return st;
    char x[96], y[96];
    if (!clg_shape_equal(&gout->s, &out->s))
        return clg__fail(CLG_ERR_SHAPE, "%s backward: gradient of output is %s, output is %s", d->name,
                         clg_shape_str(&gout->s, x, sizeof x), clg_shape_str(&out->s, y, sizeof y));
    for (int i = 0; i < d->n_inputs; i++) {
        if (!gin[i])
            continue;
        if (in[i]->s.dtype != CLG_F32)
            return clg__fail(CLG_ERR_DTYPE, "%s backward: input %d is %s and has no gradient", d->name, i,
                             clg_dtype_name(in[i]->s.dtype));
        if (!clg_shape_equal(&gin[i]->s, &in[i]->s))
            return clg__fail(CLG_ERR_SHAPE, "%s backward: gradient %d is %s, input is %s", d->name, i,
                             clg_shape_str(&gin[i]->s, x, sizeof x), clg_shape_str(&in[i]->s, y, sizeof y));
    }
    return d->backward(ctx, in, out, gout, gin, a, accumulate);
}
