/* graph.c — building a graph (inputs, params and their initialisers, ops, names, loss, frozen groups),
 * queries, the optimizer choice, and parameter access.  Planning is graph_plan.c, running
 * graph_run.c, DOT output graph_dot.c. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "clgrad/optim.h"

/* ---- building ---------------------------------------------------------------------------------- */

clg_status clg_graph_create(clg_ctx *ctx, clg_graph **out)
{
    if (!ctx || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_create: NULL argument");
    clg_graph *g = calloc(1, sizeof *g);
    if (!g)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_graph_create: out of host memory");
    g->ctx = ctx;
    g->loss = -1;
    g->fuse = ctx->fuse;
    *out = g;
    return CLG_OK;
}

void clg_graph_destroy(clg_graph *g)
{
    if (!g)
        return;
    clg__graph_free_plan(g);
    clg__graph_free_opt_state(g);
    for (int m = 0; m < g->n; m++)
        if (g->nodes[m].kind != GN_OP)
            clg_tensor_free(&g->nodes[m].val);
    clg_tensor_free(&g->arena[ARENA_VAL]);
    free(g->nodes);
    free(g->params);
    free(g->frozen);
    free(g);
}

void clg_graph_set_seed(clg_graph *g, uint64_t seed)
{
    if (g)
        g->seed = seed;
}

static clg_status check_name(const clg_graph *g, const char *name, int self, const char *fn)
{
    size_t len = strlen(name);
    if (len == 0 || len > CLG_GRAPH_NAME_MAX)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: name \"%.80s\" must have 1 to %d characters", fn, name,
                         CLG_GRAPH_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 32 || name[i] == '"' || name[i] == '\\' || name[i] == 127)
            return clg__fail(CLG_ERR_INVALID_ARG, "%s: name \"%s\" has a quote, backslash or control character",
                             fn, name);
    for (int m = 0; m < g->n; m++)
        if (m != self && !strcmp(g->nodes[m].name, name))
            return clg__fail(CLG_ERR_INVALID_ARG, "%s: name \"%s\" is already used by node %d", fn, name, m);
    return CLG_OK;
}

/* Reserve a node with a checked name (or "<prefix>_<id>"); the caller fills the rest. */
static clg_status new_node(clg_graph *g, gnode_kind kind, const char *name, const char *prefix,
                           const char *fn, gnode **out)
{
    if (name) {
        clg_status st = check_name(g, name, -1, fn);
        if (st)
            return st;
    }
    gnode *nn = clg__grow(g->nodes, g->n, &g->cap, sizeof *nn, 16);
    if (!nn)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    g->nodes = nn;
    clg__graph_free_plan(g);
    gnode *x = &g->nodes[g->n];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    x->param_index = -1;
    x->val_buf = x->grad_buf = -1;
    if (name)
        snprintf(x->name, sizeof x->name, "%s", name);
    else
        snprintf(x->name, sizeof x->name, "%s_%d", prefix, g->n);
    *out = x;
    return CLG_OK;
}

static clg_status check_shape_arg(const clg_shape *s, const char *fn, const char *name)
{
    if (!s)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL shape", fn);
    if (s->ndim < 0 || s->ndim > CLG_MAX_DIMS)
        return clg__fail(CLG_ERR_SHAPE, "%s(%s): ndim %d outside [0, %d]", fn, name ? name : "?", s->ndim,
                         CLG_MAX_DIMS);
    for (int i = 0; i < s->ndim; i++)
        if (s->dim[i] < 0)
            return clg__fail(CLG_ERR_SHAPE, "%s(%s): negative dimension %" PRId64, fn, name ? name : "?",
                             s->dim[i]);
    if (s->dtype != CLG_F32 && s->dtype != CLG_I32)
        return clg__fail(CLG_ERR_DTYPE, "%s(%s): unknown dtype %d", fn, name ? name : "?", (int)s->dtype);
    return CLG_OK;
}

/* Allocate the node's own value buffer (committed as node g->n on success). */
static clg_status alloc_val(clg_graph *g, gnode *x, const char *fn)
{
    clg_status st = clg_tensor_new(g->ctx, &x->s, &x->val);
    if (st) {
        char msg[512];
        clg__copy_error(msg, sizeof msg);
        return clg__fail(st, "%s(%s): %s", fn, x->name, msg);
    }
    return CLG_OK;
}

clg_status clg_graph_input(clg_graph *g, const char *name, const clg_shape *s, int *id)
{
    clg_status st = clg__graph_check(g, "clg_graph_input");
    if (st || (st = check_shape_arg(s, "clg_graph_input", name)))
        return st;
    gnode *x;
    if ((st = new_node(g, GN_INPUT, name, "input", "clg_graph_input", &x)))
        return st;
    x->s = *s;
    if ((st = alloc_val(g, x, "clg_graph_input")))
        return st;
    if (id)
        *id = g->n;
    g->n++;
    return CLG_OK;
}

/* One independent splitmix64 stream per param (clg__splitmix64). */
static double rng_normal(uint64_t *s)
{
    double u1 = 1.0 - clg__u01(s), u2 = clg__u01(s);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static clg_status fill_init(const clg_graph *g, const gnode *x, const clg_init *init, float *v, size_t n)
{
    clg_init z = { .kind = CLG_INIT_ZEROS };
    if (!init)
        init = &z;
    int64_t fan_in = 1, fan_out = 1;
    if (x->s.ndim == 1) {
        fan_in = fan_out = x->s.dim[0];
    } else if (x->s.ndim >= 2) {
        fan_in = 1;
        for (int i = 0; i < x->s.ndim - 1; i++)
            fan_in *= x->s.dim[i];
        fan_out = x->s.dim[x->s.ndim - 1];
    }
    if (init->fan_in > 0)
        fan_in = init->fan_in;
    if (init->fan_out > 0)
        fan_out = init->fan_out;
    if (fan_in < 1)
        fan_in = 1;
    if (fan_out < 1)
        fan_out = 1;
    double gain = init->gain != 0.0f ? init->gain : 1.0;
    uint64_t s = g->seed * 0x9e3779b97f4a7c15ull ^ ((uint64_t)x->param_index + 1) * 0xd1b54a32d192ed03ull;
    (void)clg__splitmix64(&s);
    double lo = 0, hi = 0;
    switch (init->kind) {
    case CLG_INIT_ZEROS:
        memset(v, 0, n * sizeof *v);
        return CLG_OK;
    case CLG_INIT_CONSTANT:
        for (size_t i = 0; i < n; i++)
            v[i] = init->a;
        return CLG_OK;
    case CLG_INIT_HE_NORMAL: {
        double sd = gain * sqrt(2.0 / (double)fan_in);
        for (size_t i = 0; i < n; i++)
            v[i] = (float)(sd * rng_normal(&s));
        return CLG_OK;
    }
    case CLG_INIT_UNIFORM:
        lo = init->a;
        hi = init->b;
        if (!(hi >= lo))
            return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_param(%s): uniform init needs a <= b, got [%g, %g)",
                             x->name, lo, hi);
        break;
    case CLG_INIT_XAVIER_UNIFORM:
        hi = gain * sqrt(6.0 / (double)(fan_in + fan_out));
        lo = -hi;
        break;
    case CLG_INIT_HE_UNIFORM:
        hi = gain * sqrt(6.0 / (double)fan_in);
        lo = -hi;
        break;
    default:
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_param(%s): unknown init kind %d", x->name,
                         (int)init->kind);
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(lo + (hi - lo) * clg__u01(&s));
    return CLG_OK;
}

clg_status clg_graph_param(clg_graph *g, const char *name, const clg_shape *s, const clg_init *init,
                           int group, int *id)
{
    clg_status st = clg__graph_check(g, "clg_graph_param");
    if (st || (st = check_shape_arg(s, "clg_graph_param", name)))
        return st;
    if (s->dtype != CLG_F32)
        return clg__fail(CLG_ERR_DTYPE, "clg_graph_param(%s): parameters must be f32, got %s", name ? name : "?",
                         clg_dtype_name(s->dtype));
    if (g->n_params == g->cap_params) {
        int cap = g->cap_params ? 2 * g->cap_params : 16;
        int *np = realloc(g->params, sizeof *np * (size_t)cap);
        if (!np)
            return clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_graph_param: out of host memory");
        g->params = np;
        g->cap_params = cap;
    }
    gnode *x;
    if ((st = new_node(g, GN_PARAM, name, "param", "clg_graph_param", &x)))
        return st;
    x->s = *s;
    x->group = group;
    x->param_index = g->n_params;
    size_t n = (size_t)clg_shape_numel(s);
    float *host = malloc(sizeof *host * (n ? n : 1));
    if (!host)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_graph_param(%s): out of host memory", x->name);
    if ((st = fill_init(g, x, init, host, n))) {
        free(host);
        return st;
    }
    if ((st = alloc_val(g, x, "clg_graph_param"))) {
        free(host);
        return st;
    }
    st = clg_tensor_write(&x->val, host);
    free(host);
    if (st) {
        clg_tensor_free(&x->val);
        return st;
    }
    g->params[g->n_params++] = g->n;
    if (id)
        *id = g->n;
    g->n++;
    return CLG_OK;
}

clg_status clg_graph_const(clg_graph *g, const char *name, const clg_shape *s, const void *data, int *id)
{
    clg_status st = clg__graph_check(g, "clg_graph_const");
    if (st || (st = check_shape_arg(s, "clg_graph_const", name)))
        return st;
    if (!data && clg_shape_numel(s) > 0)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_const(%s): NULL data", name ? name : "?");
    gnode *x;
    if ((st = new_node(g, GN_CONST, name, "const", "clg_graph_const", &x)))
        return st;
    x->s = *s;
    if ((st = alloc_val(g, x, "clg_graph_const")))
        return st;
    if ((st = clg_tensor_write(&x->val, data))) {
        clg_tensor_free(&x->val);
        return st;
    }
    if (id)
        *id = g->n;
    g->n++;
    return CLG_OK;
}

clg_status clg_graph_op(clg_graph *g, clg_op op, const int *inputs, int n, const clg_attrs *attrs, int *id)
{
    clg_status st = clg__graph_check(g, "clg_graph_op");
    if (st)
        return st;
    if (op < 0 || op >= CLG_OP_COUNT)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_op: unknown op %d", (int)op);
    const char *oname = clg_op_name(op);
    if (n != clg_op_num_inputs(op) || n > GNODE_MAX_IN)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_op(%s): %d inputs given, the op takes %d", oname, n,
                         clg_op_num_inputs(op));
    if (n > 0 && !inputs)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_op(%s): NULL inputs", oname);
    const clg_shape *shp[GNODE_MAX_IN];
    for (int i = 0; i < n; i++) {
        if (inputs[i] < 0 || inputs[i] >= g->n)
            return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_op(%s): input %d is node id %d, not in [0, %d)",
                             oname, i, inputs[i], g->n);
        shp[i] = &g->nodes[inputs[i]].s;
    }
    clg_attrs a = attrs ? *attrs : clg_attrs_defaults();
    clg_shape out;
    if ((st = clg_op_infer(op, shp, &a, &out))) {
        char msg[768], ins[256] = "";
        clg__copy_error(msg, sizeof msg);
        size_t len = 0;
        for (int i = 0; i < n && len < sizeof ins; i++)
            len += (size_t)snprintf(ins + len, sizeof ins - len, "%s%s", i ? ", " : "", g->nodes[inputs[i]].name);
        return clg__fail(st, "graph node %d (%s of %s): %s", g->n, oname, ins, msg);
    }
    gnode *x;
    if ((st = new_node(g, GN_OP, NULL, oname, "clg_graph_op", &x)))
        return st;
    x->s = out;
    x->op = op;
    x->attrs = a;
    x->nin = n;
    for (int i = 0; i < n; i++)
        x->in[i] = inputs[i];
    if (id)
        *id = g->n;
    g->n++;
    return CLG_OK;
}

clg_status clg_graph_set_name(clg_graph *g, int id, const char *name)
{
    clg_status st = clg__graph_check(g, "clg_graph_set_name");
    if (st || (st = clg__graph_check_id(g, id, "clg_graph_set_name")))
        return st;
    if (!name)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_set_name: NULL name");
    if ((st = check_name(g, name, id, "clg_graph_set_name")))
        return st;
    snprintf(g->nodes[id].name, sizeof g->nodes[id].name, "%s", name);
    return CLG_OK;
}

clg_status clg_graph_keep(clg_graph *g, int id)
{
    clg_status st = clg__graph_check(g, "clg_graph_keep");
    if (st || (st = clg__graph_check_id(g, id, "clg_graph_keep")))
        return st;
    if (!g->nodes[id].keep) {
        clg__graph_free_plan(g);
        g->nodes[id].keep = 1;
    }
    return CLG_OK;
}

clg_status clg_graph_metric(clg_graph *g, int id)
{
    clg_status st = clg__graph_check(g, "clg_graph_metric");
    if (st || (st = clg__graph_check_id(g, id, "clg_graph_metric")))
        return st;
    gnode *n = &g->nodes[id];
    if (n->kind != GN_OP)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_metric: node %d (%s) is not an op", id, n->name);
    if (!n->metric || !n->keep) {
        clg__graph_free_plan(g);
        n->keep = n->metric = 1;
    }
    return CLG_OK;
}

clg_status clg_graph_set_loss(clg_graph *g, int id)
{
    clg_status st = clg__graph_check(g, "clg_graph_set_loss");
    if (st || (st = clg__graph_check_id(g, id, "clg_graph_set_loss")))
        return st;
    if (g->nodes[id].s.dtype != CLG_F32)
        return clg__fail(CLG_ERR_DTYPE, "clg_graph_set_loss: node %d (%s) is %s, the loss must be f32", id,
                         g->nodes[id].name, clg_dtype_name(g->nodes[id].s.dtype));
    clg__graph_free_plan(g);
    g->loss = id;
    return CLG_OK;
}

clg_status clg_graph_freeze_group(clg_graph *g, int group, int frozen)
{
    clg_status st = clg__graph_check(g, "clg_graph_freeze_group");
    if (st)
        return st;
    int is = clg__graph_is_frozen(g, group);
    if (!!frozen == is)
        return CLG_OK;
    clg__graph_free_plan(g);
    if (frozen) {
        if (g->n_frozen == g->cap_frozen) {
            int cap = g->cap_frozen ? 2 * g->cap_frozen : 8;
            int *nf = realloc(g->frozen, sizeof *nf * (size_t)cap);
            if (!nf)
                return clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_graph_freeze_group: out of host memory");
            g->frozen = nf;
            g->cap_frozen = cap;
        }
        g->frozen[g->n_frozen++] = group;
    } else {
        for (int i = 0; i < g->n_frozen; i++)
            if (g->frozen[i] == group)
                g->frozen[i--] = g->frozen[--g->n_frozen];
    }
    return CLG_OK;
}

/* ---- queries ----------------------------------------------------------------------------------- */

int clg_graph_node_count(const clg_graph *g) { return g ? g->n : 0; }

int clg_graph_find(const clg_graph *g, const char *name)
{
    for (int m = 0; g && name && m < g->n; m++)
        if (!strcmp(g->nodes[m].name, name))
            return m;
    return -1;
}

const char *clg_graph_node_name(const clg_graph *g, int id)
{
    return (g && id >= 0 && id < g->n) ? g->nodes[id].name : NULL;
}

clg_status clg_graph_node_shape(const clg_graph *g, int id, clg_shape *out)
{
    clg_status st = clg__graph_check(g, "clg_graph_node_shape");
    if (st || (st = clg__graph_check_id(g, id, "clg_graph_node_shape")))
        return st;
    if (!out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_node_shape: NULL out");
    *out = g->nodes[id].s;
    return CLG_OK;
}

clg_status clg_graph_set_optimizer(clg_graph *g, const clg_optim_options *o)
{
    clg_status st = clg__graph_check(g, "clg_graph_set_optimizer");
    if (st)
        return st;
    if (!o)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_set_optimizer: NULL options");
    if (o->kind < CLG_OPTIM_NONE || o->kind > CLG_OPTIM_ADAMW)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_set_optimizer: unknown optimizer kind %d", (int)o->kind);
    if (!(o->lr >= 0.0f) || !(o->weight_decay >= 0.0f) || !(o->clip_norm >= 0.0f) || !(o->momentum >= 0.0f))
        return clg__fail(CLG_ERR_INVALID_ARG,
                         "clg_graph_set_optimizer: lr %g, weight_decay %g, momentum %g and clip_norm %g must be >= 0",
                         o->lr, o->weight_decay, o->momentum, o->clip_norm);
    if (o->schedule < CLG_LR_CONSTANT || o->schedule > CLG_LR_COSINE)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_set_optimizer: unknown schedule %d", (int)o->schedule);
    clg__graph_free_plan(g);
    clg__graph_free_opt_state(g);
    g->opt = *o;
    g->has_opt = 1;
    return CLG_OK;
}

/* ---- parameters -------------------------------------------------------------------------------- */

int clg_graph_param_count(const clg_graph *g) { return g ? g->n_params : 0; }

int clg_graph_param_id(const clg_graph *g, int index)
{
    return (g && index >= 0 && index < g->n_params) ? g->params[index] : -1;
}

static clg_status param_node(const clg_graph *g, int index, const char *fn, gnode **out)
{
    clg_status st = clg__graph_check(g, fn);
    if (st)
        return st;
    if (index < 0 || index >= g->n_params)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: param index %d out of range [0, %d)", fn, index, g->n_params);
    *out = &g->nodes[g->params[index]];
    return CLG_OK;
}

const char *clg_graph_param_name(const clg_graph *g, int index)
{
    int id = clg_graph_param_id(g, index);
    return id < 0 ? NULL : g->nodes[id].name;
}

clg_status clg_graph_param_shape(const clg_graph *g, int index, clg_shape *out)
{
    gnode *x = NULL;
    clg_status st = param_node(g, index, "clg_graph_param_shape", &x);
    if (st)
        return st;
    if (!out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_param_shape: NULL out");
    *out = x->s;
    return CLG_OK;
}

int clg_graph_param_group(const clg_graph *g, int index)
{
    int id = clg_graph_param_id(g, index);
    return id < 0 ? 0 : g->nodes[id].group;
}

clg_status clg_graph_param_read(clg_graph *g, int index, void *host)
{
    gnode *x = NULL;
    clg_status st = param_node(g, index, "clg_graph_param_read", &x);
    if (st)
        return st;
    return clg__graph_read_tensor(g, &x->val, host);
}

clg_status clg_graph_param_write(clg_graph *g, int index, const void *host)
{
    gnode *x = NULL;
    clg_status st = param_node(g, index, "clg_graph_param_write", &x);
    if (st)
        return st;
    return clg_tensor_write(&x->val, host);
}

clg_status clg_graph_param_tensor(clg_graph *g, int index, clg_param_state which, clg_tensor **out)
{
    gnode *x = NULL;
    clg_status st = param_node(g, index, "clg_graph_param_tensor", &x);
    if (st)
        return st;
    if (!out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_param_tensor: NULL out");
    int adam = g->has_opt && (g->opt.kind == CLG_OPTIM_ADAM || g->opt.kind == CLG_OPTIM_ADAMW);
    clg_tensor *t = NULL;
    switch (which) {
    case CLG_STATE_VALUE: t = &x->val; break;
    case CLG_STATE_GRAD: t = (g->planned && x->needs_grad) ? &x->grad : NULL; break;
    case CLG_STATE_VELOCITY: t = (!adam && x->st1.buf) ? &x->st1 : NULL; break;
    case CLG_STATE_ADAM_M: t = (adam && x->st1.buf) ? &x->st1 : NULL; break;
    case CLG_STATE_ADAM_V: t = (adam && x->st2.buf) ? &x->st2 : NULL; break;
    default: return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_param_tensor: unknown state %d", (int)which);
    }
    *out = t;
    return CLG_OK;
}
