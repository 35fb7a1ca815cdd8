/* ops.c — the op table (ops.def joined with the family files' descriptors) and the checked public
 * dispatch; an op call's scratch slots are popped when it returns. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ops.def's name, arity and family joined with each family file's descriptor. */
static const struct op_entry {
    const char *name;
    const char *family;
    int n_inputs;
    const clg_op_desc *d;
} op_table[] = {
#define CLG_OP(ID, name, nin, family) [CLG_OP_##ID] = { #name, #family, nin, &clg_op_##family##_##name },
#include "clgrad/ops.def"
#undef CLG_OP
};
_Static_assert(sizeof op_table / sizeof op_table[0] == CLG_OP_COUNT, "op table size != op count");

const clg_op_desc *clg__op_desc(clg_op op) { return (op >= 0 && op < CLG_OP_COUNT) ? op_table[op].d : NULL; }

clg_attrs clg_attrs_defaults(void)
{
    clg_attrs a;
    memset(&a, 0, sizeof a);
    a.axis = -1;
    a.alpha = 1.0f;
    a.aug.views = 1;
    a.aug.scale_lo = a.aug.scale_hi = 1.0f;
    a.aug.ratio_lo = a.aug.ratio_hi = 1.0f;
    return a;
}

const char *clg_op_name(clg_op op) { return (op >= 0 && op < CLG_OP_COUNT) ? op_table[op].name : "?"; }
int clg_op_num_inputs(clg_op op) { return (op >= 0 && op < CLG_OP_COUNT) ? op_table[op].n_inputs : -1; }
int clg_op_has_backward(clg_op op)
{
    return (op >= 0 && op < CLG_OP_COUNT) && op_table[op].d->backward != NULL;
}

clg_op clg_op_from_name(const char *name)
{
    for (int i = 0; name && i < CLG_OP_COUNT; i++)
        if (!strcmp(op_table[i].name, name))
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
    const struct op_entry *e = &op_table[op];
    const clg_op_desc *d = e->d;
    if (!out || (e->n_inputs > 0 && !in))
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL argument", e->name);
    for (int i = 0; i < e->n_inputs; i++)
        if (!in[i])
            return clg__fail(CLG_ERR_INVALID_ARG, "%s: input %d is NULL", e->name, i);
    clg_attrs def = clg_attrs_defaults();
    return d->infer(in, a ? a : &def, out);
}

static clg_status gather_shapes(const struct op_entry *e, const clg_tensor *const *in,
                                const clg_shape *shp[CLG_MAX_DIMS + 4], clg_ctx *ctx)
{
    for (int i = 0; i < e->n_inputs; i++) {
        if (!in || !in[i])
            return clg__fail(CLG_ERR_INVALID_ARG, "%s: input %d is NULL", e->name, i);
        if (in[i]->ctx && in[i]->ctx != ctx)
            return clg__fail(CLG_ERR_INVALID_ARG, "%s: input %d lives on another ctx", e->name, i);
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
    const struct op_entry *e = &op_table[op];
    const clg_op_desc *d = e->d;
    if (!ctx || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL ctx or output", e->name);
    clg_attrs def = clg_attrs_defaults();
    if (!a)
        a = &def;
    const clg_shape *shp[CLG_MAX_DIMS + 4];
    if ((st = gather_shapes(e, in, shp, ctx)))
        return st;
    clg_shape want;
    if ((st = d->infer(shp, a, &want)))
        return st;
    if (!clg_shape_equal(&want, &out->s)) {
        char x[96], y[96];
        return clg__fail(CLG_ERR_SHAPE, "%s: output is %s, expected %s", e->name,
                         clg_shape_str(&out->s, x, sizeof x), clg_shape_str(&want, y, sizeof y));
    }
    if (clg_shape_numel(&out->s) > 0 && !out->buf)
        return clg__fail(CLG_ERR_STATE, "%s: output tensor has no buffer", e->name);
    int mark = clg__scratch_mark(ctx);
    st = d->forward(ctx, in, out, a);
    clg__scratch_pop(ctx, mark);
    return st;
}

clg_status clg_op_backward(clg_ctx *ctx, clg_op op, const clg_tensor *const *in, const clg_tensor *out,
                           const clg_tensor *gout, clg_tensor *const *gin, const clg_attrs *a,
                           int accumulate)
{
    clg_status st = check_op(op);
    if (st)
        return st;
    const struct op_entry *e = &op_table[op];
    const clg_op_desc *d = e->d;
    if (!d->backward)
        return clg__fail(CLG_ERR_UNSUPPORTED, "%s: op has no backward", e->name);
    if (!ctx || !out || !gout || (e->n_inputs > 0 && !gin))
        return clg__fail(CLG_ERR_INVALID_ARG, "%s backward: NULL argument", e->name);
    clg_attrs def = clg_attrs_defaults();
    if (!a)
        a = &def;
    const clg_shape *shp[CLG_MAX_DIMS + 4];
    if ((st = gather_shapes(e, in, shp, ctx)))
        return st;
    char x[96], y[96];
    if (!clg_shape_equal(&gout->s, &out->s))
        return clg__fail(CLG_ERR_SHAPE, "%s backward: gradient of output is %s, output is %s", e->name,
                         clg_shape_str(&gout->s, x, sizeof x), clg_shape_str(&out->s, y, sizeof y));
    for (int i = 0; i < e->n_inputs; i++) {
        if (!gin[i])
            continue;
        if (in[i]->s.dtype != CLG_F32)
            return clg__fail(CLG_ERR_DTYPE, "%s backward: input %d is %s and has no gradient", e->name, i,
                             clg_dtype_name(in[i]->s.dtype));
        if (!clg_shape_equal(&gin[i]->s, &in[i]->s))
            return clg__fail(CLG_ERR_SHAPE, "%s backward: gradient %d is %s, input is %s", e->name, i,
                             clg_shape_str(&gin[i]->s, x, sizeof x), clg_shape_str(&in[i]->s, y, sizeof y));
    }
    int mark = clg__scratch_mark(ctx);
    st = d->backward(ctx, in, out, gout, gin, a, accumulate);
    clg__scratch_pop(ctx, mark);
    return st;
}
