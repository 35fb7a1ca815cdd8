/* graph.c — graph building, parameter init, optimizer settings, planning driver, running, DOT and profiling. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph_internal.h"

#define FLOAT_ONE_BITS 0x3f800000u

/* ---- small helpers ----------------------------------------------------------------------------- */

static clg_status check_graph(const clg_graph *g, const char *fn)
{
    if (!g)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL graph", fn);
    return CLG_OK;
}

static clg_status check_id(const clg_graph *g, int id, const char *fn)
{
    if (id < 0 || id >= g->n)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: node id %d out of range [0, %d)", fn, id, g->n);
    return CLG_OK;
}

int clg__graph_is_frozen(const clg_graph *g, int group)
{
    for (int i = 0; i < g->n_frozen; i++)
        if (g->frozen[i] == group)
            return 1;
    return 0;
}

/* Undo the fusion pass: every node gets back the op, inputs and attrs it was built with. */
static void unfuse(clg_graph *g)
{
    for (int m = 0; m < g->n; m++) {
        gnode *x = &g->nodes[m];
        if (x->rewritten) {
            x->op = x->orig_op;
            x->attrs = x->orig_attrs;
            x->nin = x->orig_nin;
            memcpy(x->in, x->orig_in, sizeof x->in);
        }
        x->rewritten = x->fused = 0;
    }
}

static void free_plan(clg_graph *g)
{
    unfuse(g);
    for (int m = 0; m < g->n; m++) {
        gnode *x = &g->nodes[m];
        if (x->kind == GN_OP) {
            if (x->own_val)
                clg_tensor_free(&x->val);
            memset(&x->val, 0, sizeof x->val);
            x->own_val = 0;
        }
        if (x->kind == GN_PARAM)
            clg_tensor_free(&x->grad);
        memset(&x->grad, 0, sizeof x->grad);
        x->needs_grad = 0;
        x->val_buf = x->grad_buf = -1;
    }
    clg_tensor_free(&g->pool);
    clg_tensor_free(&g->sq_norm);
    clg_tensor_free(&g->arena[ARENA_GRAD]);
    g->arena_elems = 0;
    free(g->ex);
    free(g->bufs);
    free(g->loss_host);
    g->ex = NULL;
    g->bufs = NULL;
    g->loss_host = NULL;
    g->n_ex = g->n_bufs = 0;
    g->pool_elems = g->naive_elems = 0;
    g->planned = 0;
}

static void free_opt_state(clg_graph *g)
{
    for (int m = 0; m < g->n; m++) {
        clg_tensor_free(&g->nodes[m].st1);
        clg_tensor_free(&g->nodes[m].st2);
    }
    clg_tensor_free(&g->arena[ARENA_ST1]);
    clg_tensor_free(&g->arena[ARENA_ST2]);
}

clg_status clg__graph_push_ex(clg_graph *g, exentry e)
{
    exentry *nx = realloc(g->ex, sizeof *nx * (size_t)(g->n_ex + 1));
    if (!nx)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
    g->ex = nx;
    g->ex[g->n_ex++] = e;
    return CLG_OK;
}

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
    free_plan(g);
    free_opt_state(g);
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
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 16;
        gnode *nn = realloc(g->nodes, sizeof *nn * (size_t)cap);
        if (!nn)
            return clg__fail(CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
        g->nodes = nn;
        g->cap = cap;
    }
    free_plan(g);
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
    clg_status st = check_graph(g, "clg_graph_input");
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
    clg_status st = check_graph(g, "clg_graph_param");
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
    clg_status st = check_graph(g, "clg_graph_const");
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
    clg_status st = check_graph(g, "clg_graph_op");
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
    clg_attrs a = attrs ? *attrs : clg_attrs_default();
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
    clg_status st = check_graph(g, "clg_graph_set_name");
    if (st || (st = check_id(g, id, "clg_graph_set_name")))
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
    clg_status st = check_graph(g, "clg_graph_keep");
    if (st || (st = check_id(g, id, "clg_graph_keep")))
        return st;
    if (!g->nodes[id].keep) {
        free_plan(g);
        g->nodes[id].keep = 1;
    }
    return CLG_OK;
}

clg_status clg_graph_set_loss(clg_graph *g, int id)
{
    clg_status st = check_graph(g, "clg_graph_set_loss");
    if (st || (st = check_id(g, id, "clg_graph_set_loss")))
        return st;
    if (g->nodes[id].s.dtype != CLG_F32)
        return clg__fail(CLG_ERR_DTYPE, "clg_graph_set_loss: node %d (%s) is %s, the loss must be f32", id,
                         g->nodes[id].name, clg_dtype_name(g->nodes[id].s.dtype));
    free_plan(g);
    g->loss = id;
    return CLG_OK;
}

clg_status clg_graph_freeze_group(clg_graph *g, int group, int frozen)
{
    clg_status st = check_graph(g, "clg_graph_freeze_group");
    if (st)
        return st;
    int is = clg__graph_is_frozen(g, group);
    if (!!frozen == is)
        return CLG_OK;
    free_plan(g);
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
    clg_status st = check_graph(g, "clg_graph_node_shape");
    if (st || (st = check_id(g, id, "clg_graph_node_shape")))
        return st;
    if (!out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_node_shape: NULL out");
    *out = g->nodes[id].s;
    return CLG_OK;
}

/* ---- optimizer settings ------------------------------------------------------------------------ */

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

clg_status clg_graph_set_optimizer(clg_graph *g, const clg_optim_options *o)
{
    clg_status st = check_graph(g, "clg_graph_set_optimizer");
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
    free_plan(g);
    free_opt_state(g);
    g->opt = *o;
    g->has_opt = 1;
    return CLG_OK;
}

/* ---- planning ---------------------------------------------------------------------------------- */

static clg_status alloc_zeros(clg_graph *g, gnode *x, clg_tensor *t, const char *what)
{
    if (t->buf || clg_shape_numel(&x->s) == 0)
        return CLG_OK;
    clg_status st = clg_tensor_zeros(g->ctx, &x->s, t);
    if (st) {
        char msg[512];
        clg__copy_error(msg, sizeof msg);
        return clg__fail(st, "graph plan: %s of %s: %s", what, x->name, msg);
    }
    return CLG_OK;
}

/* Param offsets in the arenas are multiples of this many elements (128 bytes), like the pool's. */
#define ARENA_ALIGN 32

static clg_status copy_into(clg_graph *g, const clg_tensor *src, cl_mem dst, size_t dst_off, size_t n)
{
    clg_status st = clg__copy_words(g->ctx, (cl_mem)src->buf, src->offset, dst, dst_off, n);
    if (st) {
        char msg[512];
        clg__copy_error(msg, sizeof msg);
        return clg__fail(st, "graph plan: copying a param into the optimizer arena: %s", msg);
    }
    return CLG_OK;
}

static clg_tensor *param_field(gnode *x, int which)
{
    return which == ARENA_VAL ? &x->val : which == ARENA_GRAD ? &x->grad : which == ARENA_ST1 ? &x->st1 : &x->st2;
}

/* Lay arena `which` out for the trainable params (offs[p] >= 0): a new zeroed buffer, each such
 * param's current tensor (own buffer or a view of the old arena) copied to its offset and replaced
 * by a view; other params that were views of the old arena get their own copy back.  The old
 * buffer is released (OpenCL keeps it until the queued copies have run). */
static clg_status arena_layout(clg_graph *g, int which, const size_t *offs, size_t total, int wanted)
{
    clg_tensor old = g->arena[which], fresh;
    memset(&fresh, 0, sizeof fresh);
    clg_status st = CLG_OK;
    if (wanted && total) {
        clg_shape as = clg_shape_make(CLG_F32, 1, (int64_t[]){ (int64_t)total });
        if ((st = clg_tensor_zeros(g->ctx, &as, &fresh))) {
            char msg[512];
            clg__copy_error(msg, sizeof msg);
            return clg__fail(st, "graph plan: optimizer arena of %zu bytes: %s", total * 4, msg);
        }
    }
    for (int p = 0; p < g->n_params && !st; p++) {
        gnode *x = &g->nodes[g->params[p]];
        clg_tensor *t = param_field(x, which);
        size_t n = (size_t)clg_shape_numel(&x->s);
        if (fresh.buf && offs[p] != (size_t)-1) {
            if (t->buf && which != ARENA_GRAD)
                st = copy_into(g, t, (cl_mem)fresh.buf, offs[p], n);
            clg_tensor_free(t);
            if (!st)
                st = clg_tensor_view(&fresh, offs[p], &x->s, t);
        } else if (t->buf && !t->owns && old.buf && t->buf == old.buf) {
            clg_tensor own;
            if (!(st = clg_tensor_new(g->ctx, &x->s, &own)) && !(st = copy_into(g, t, (cl_mem)own.buf, 0, n)))
                *t = own;
            else if (own.buf)
                clg_tensor_free(&own);
        }
    }
    if (st) {
        clg_tensor_free(&fresh);
        return st;
    }
    clg_tensor_free(&old);
    g->arena[which] = fresh;
    return CLG_OK;
}

/* TRAIN plan with an optimizer: the four arenas for the params that get a gradient. */
static clg_status plan_arenas(clg_graph *g, int st1, int st2)
{
    size_t *offs = malloc(sizeof *offs * (size_t)(g->n_params ? g->n_params : 1));
    if (!offs)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
    size_t total = 0;
    for (int p = 0; p < g->n_params; p++) {
        const gnode *x = &g->nodes[g->params[p]];
        size_t n = (size_t)clg_shape_numel(&x->s);
        offs[p] = (size_t)-1;
        if (!x->needs_grad || n == 0)
            continue;
        offs[p] = total;
        total = (total + n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    }
    clg_status st;
    if (!(st = arena_layout(g, ARENA_VAL, offs, total, 1)) && !(st = arena_layout(g, ARENA_GRAD, offs, total, 1)) &&
        !(st = arena_layout(g, ARENA_ST1, offs, total, st1)))
        st = arena_layout(g, ARENA_ST2, offs, total, st2);
    g->arena_elems = st ? 0 : total;
    free(offs);
    return st;
}

clg_status clg_graph_set_fusion(clg_graph *g, int on)
{
    clg_status st = check_graph(g, "clg_graph_set_fusion");
    if (st)
        return st;
    if (g->fuse != !!on) {
        free_plan(g);
        g->fuse = !!on;
    }
    return CLG_OK;
}

static int act_of(clg_op op)
{
    switch (op) {
    case CLG_OP_RELU: return CLG_ACT_RELU;
    case CLG_OP_GELU: return CLG_ACT_GELU;
    case CLG_OP_TANH: return CLG_ACT_TANH;
    case CLG_OP_SIGMOID: return CLG_ACT_SIGMOID;
    default: return -1;
    }
}

static void rewrite(gnode *x, int xi, int bi, int act)
{
    x->orig_op = x->op;
    x->orig_attrs = x->attrs;
    x->orig_nin = x->nin;
    memcpy(x->orig_in, x->in, sizeof x->in);
    x->rewritten = 1;
    x->op = CLG_OP_BIAS_ACT;
    x->attrs = clg_attrs_default();
    x->attrs.act = act;
    x->nin = 2;
    x->in[0] = xi;
    x->in[1] = bi;
}

/* Fusion pass: add(x, b) with b a row vector over x's last axis becomes bias_act(x, b); when its
 * only consumer is an activation (relu, gelu, tanh, sigmoid) and the add is not kept, not the loss
 * and not renamed (so nobody can ask for its value), the activation node runs bias_act(x, b, act)
 * and the add node is dropped from the plan. */
static clg_status fuse_pass(clg_graph *g)
{
    if (!g->fuse)
        return CLG_OK;
    int *uses = calloc((size_t)(g->n ? g->n : 1), sizeof *uses), *user = calloc((size_t)(g->n ? g->n : 1), sizeof *user);
    if (!uses || !user) {
        free(uses);
        free(user);
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
    }
    for (int m = 0; m < g->n; m++)
        for (int i = 0; i < g->nodes[m].nin; i++) {
            uses[g->nodes[m].in[i]]++;
            user[g->nodes[m].in[i]] = m;
        }
    for (int m = 0; m < g->n; m++) {
        gnode *x = &g->nodes[m];
        if (x->kind != GN_OP || x->op != CLG_OP_ADD || x->s.ndim < 1)
            continue;
        const clg_shape *s0 = &g->nodes[x->in[0]].s, *s1 = &g->nodes[x->in[1]].s;
        int64_t cols = x->s.dim[x->s.ndim - 1];
        int xi, bi;
        if (clg_shape_equal(s0, &x->s) && s1->ndim == 1 && s1->dim[0] == cols) {
            xi = x->in[0];
            bi = x->in[1];
        } else if (clg_shape_equal(s1, &x->s) && s0->ndim == 1 && s0->dim[0] == cols) {
            xi = x->in[1];
            bi = x->in[0];
        } else {
            continue;
        }
        char defname[CLG_GRAPH_NAME_MAX + 1];
        snprintf(defname, sizeof defname, "add_%d", m);
        gnode *c = uses[m] == 1 ? &g->nodes[user[m]] : NULL;
        if (c && c->kind == GN_OP && act_of(c->op) >= 0 && !c->rewritten && !x->keep && m != g->loss &&
            !strcmp(x->name, defname)) {
            rewrite(c, xi, bi, act_of(c->op));
            x->fused = 1;
        } else {
            rewrite(x, xi, bi, CLG_ACT_NONE);
        }
    }
    free(uses);
    free(user);
    return CLG_OK;
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

/* Before the plan allocates anything: the device memory it will hold (params, kept outputs, the
 * activation pool, gradients and optimizer state) against CL_DEVICE_GLOBAL_MEM_SIZE, and each of
 * its single buffers against CL_DEVICE_MAX_MEM_ALLOC_SIZE (both read once, in clg_devices_list).
 * Drivers that allocate lazily would otherwise fail later, inside a step, or not at all. */
static clg_status check_device_memory(clg_graph *g, int sgd_mom, int adam)
{
    const clg_device_info *d = &g->ctx->info;
    uint64_t params = 0, trainable = 0, outputs = 0;
    for (int p = 0; p < g->n_params; p++) {
        const gnode *x = &g->nodes[g->params[p]];
        uint64_t n = (uint64_t)clg_shape_numel(&x->s);
        params += n * 4;
        if (g->mode == CLG_PLAN_TRAIN && x->needs_grad && n)
            trainable += (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN * 4;
    }
    for (int m = 0; m < g->n; m++)
        if (g->nodes[m].own_val || g->nodes[m].kind == GN_INPUT)
            outputs += (uint64_t)clg_shape_numel(&g->nodes[m].s) * 4;
    uint64_t pool = (uint64_t)g->pool_elems * 4;
    uint64_t state = trainable * (uint64_t)(1 + (sgd_mom || adam) + adam); /* gradients, momentum/m, v */
    uint64_t total = params + outputs + pool + state;
    if (d->global_mem && total > d->global_mem)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY,
                         "graph plan: needs %llu bytes (%.1f MiB) of device memory (parameters %.1f MiB, "
                         "gradients and optimizer state %.1f MiB, activations %.1f MiB, inputs and outputs %.1f MiB), "
                         "but %s has %llu bytes (%.1f MiB) of global memory",
                         (unsigned long long)total, mib(total), mib(params), mib(state), mib(pool), mib(outputs),
                         d->name, (unsigned long long)d->global_mem, mib(d->global_mem));
    const struct { const char *what; uint64_t bytes; } one[] = {
        { "the activation pool", pool },
        { "each optimizer arena (all trainable parameters in one buffer)", g->has_opt ? trainable : 0 },
    };
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        if (d->max_alloc && one[i].bytes > d->max_alloc)
            return clg__fail(CLG_ERR_OUT_OF_MEMORY,
                             "graph plan: %s needs one buffer of %llu bytes (%.1f MiB), but %s allocates at most "
                             "%llu bytes (%.1f MiB) at once",
                             one[i].what, (unsigned long long)one[i].bytes, mib(one[i].bytes), d->name,
                             (unsigned long long)d->max_alloc, mib(d->max_alloc));
    return CLG_OK;
}

clg_status clg_graph_plan(clg_graph *g, clg_plan_mode mode)
{
    clg_status st = check_graph(g, "clg_graph_plan");
    if (st)
        return st;
    if (mode != CLG_PLAN_TRAIN && mode != CLG_PLAN_INFERENCE)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_plan: unknown mode %d", (int)mode);
    free_plan(g);
    g->mode = mode;
    if ((st = fuse_pass(g)))
        goto fail;
    /* Forward: node ids are already a topological order (inputs exist before their users). */
    for (int m = 0; m < g->n; m++)
        if (g->nodes[m].kind == GN_OP && !g->nodes[m].fused &&
            (st = clg__graph_push_ex(g, (exentry){ .kind = EX_FWD, .node = m })))
            goto fail;
    if (mode == CLG_PLAN_TRAIN && (st = clg__graph_autograd(g)))
        goto fail;
    /* The loss, graph outputs (no consumer) and kept nodes get their own buffers. */
    unsigned char *used = calloc((size_t)(g->n ? g->n : 1), 1);
    if (!used) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
        goto fail;
    }
    for (int m = 0; m < g->n; m++)
        for (int i = 0; i < g->nodes[m].nin; i++)
            used[g->nodes[m].in[i]] = 1;
    for (int m = 0; m < g->n; m++) {
        gnode *x = &g->nodes[m];
        x->own_val = x->kind == GN_OP && !x->fused && (x->keep || m == g->loss || !used[m]);
    }
    free(used);
    int sgd_mom = mode == CLG_PLAN_TRAIN && g->has_opt && g->opt.kind == CLG_OPTIM_SGD && g->opt.momentum != 0.0f;
    int adam = mode == CLG_PLAN_TRAIN && g->has_opt && (g->opt.kind == CLG_OPTIM_ADAM || g->opt.kind == CLG_OPTIM_ADAMW);
    if ((st = clg__graph_plan_layout(g)) || (st = check_device_memory(g, sgd_mom, adam)))
        goto fail;
    for (int m = 0; m < g->n; m++) {
        gnode *x = &g->nodes[m];
        if (x->own_val && (st = clg_tensor_new(g->ctx, &x->s, &x->val)))
            goto fail;
    }
    if ((st = clg__graph_plan_alloc(g)))
        goto fail;
    if (mode == CLG_PLAN_TRAIN) {
        if (g->has_opt && g->opt.kind != CLG_OPTIM_NONE && (st = plan_arenas(g, sgd_mom || adam, adam)))
            goto fail;
        for (int p = 0; p < g->n_params; p++) {
            gnode *x = &g->nodes[g->params[p]];
            if (!x->needs_grad)
                continue;
            if ((st = alloc_zeros(g, x, &x->grad, "gradient")))
                goto fail;
            if ((sgd_mom || adam) && (st = alloc_zeros(g, x, &x->st1, sgd_mom ? "velocity" : "Adam m")))
                goto fail;
            if (adam && (st = alloc_zeros(g, x, &x->st2, "Adam v")))
                goto fail;
        }
        if (g->has_opt && g->opt.kind != CLG_OPTIM_NONE && g->opt.clip_norm > 0) {
            clg_shape sc = clg_shape_make(CLG_F32, 0, NULL);
            if ((st = clg_tensor_zeros(g->ctx, &sc, &g->sq_norm)))
                goto fail;
        }
    }
    if (g->loss >= 0) {
        size_t ln = (size_t)clg_shape_numel(&g->nodes[g->loss].s);
        g->loss_host = malloc(sizeof(float) * (ln ? ln : 1));
        if (!g->loss_host) {
            st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph plan: out of host memory");
            goto fail;
        }
    }
    g->planned = 1;
    return CLG_OK;
fail:
    free_plan(g);
    return st;
}

static size_t own_elems(const clg_graph *g)
{
    size_t e = 0;
    for (int m = 0; m < g->n; m++) {
        const gnode *x = &g->nodes[m];
        size_t n = (size_t)clg_shape_numel(&x->s);
        if (x->kind != GN_OP || x->own_val)
            e += n;
        if (x->kind == GN_PARAM && x->grad.buf)
            e += n;
        if (x->st1.buf)
            e += n;
        if (x->st2.buf)
            e += n;
    }
    if (g->sq_norm.buf)
        e += 1;
    return e;
}

clg_status clg_graph_memory(const clg_graph *g, size_t *planned, size_t *naive)
{
    clg_status st = check_graph(g, "clg_graph_memory");
    if (st)
        return st;
    if (!g->planned)
        return clg__fail(CLG_ERR_STATE, "clg_graph_memory: the graph is not planned (clg_graph_plan)");
    size_t own = own_elems(g);
    if (planned)
        *planned = (own + g->pool_elems) * 4;
    if (naive)
        *naive = (own + g->naive_elems) * 4;
    return CLG_OK;
}

/* ---- running ----------------------------------------------------------------------------------- */

static clg_status run_entry(clg_graph *g, const exentry *e)
{
    clg_ctx *ctx = g->ctx;
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
    if (x->op == CLG_OP_RANDOM_UNIFORM || x->op == CLG_OP_RANDOM_NORMAL || x->op == CLG_OP_PATCH_MASK ||
        x->op == CLG_OP_DROPOUT)
        a.counter += (uint64_t)g->steps;
    if (e->kind == EX_FWD)
        return clg_op_forward(ctx, x->op, in, &x->val, &a);
    clg_tensor *gin[GNODE_MAX_IN];
    for (int i = 0; i < x->nin; i++)
        gin[i] = (e->gin_mask & (1u << i)) ? &g->nodes[x->in[i]].grad : NULL;
    return clg_op_backward(ctx, x->op, in, &x->val, &x->grad, gin, &a, e->acc);
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

static clg_status marker(clg_graph *g, cl_event *ev)
{
    cl_int err = clEnqueueMarkerWithWaitList(g->ctx->queue, 0, NULL, ev);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "graph profile: clEnqueueMarkerWithWaitList");
    return CLG_OK;
}

static clg_status event_end(cl_event ev, double *ms)
{
    cl_ulong t = 0;
    cl_int err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t, &t, NULL);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "graph profile: clGetEventProfilingInfo(CL_PROFILING_COMMAND_END)");
    *ms = (double)t * 1e-6;
    return CLG_OK;
}

/* Profiled run: markers between entries on a profiling queue, else host time around each entry. */
static clg_status run_profiled(clg_graph *g, int fwd_only)
{
    clg_status st = CLG_OK;
    if (!g->ctx->profiling) {
        cl_int err = clFinish(g->ctx->queue);
        double t0 = now_ms();
        for (int i = 0; i < g->n_ex && !st && err == CL_SUCCESS; i++) {
            if (fwd_only && g->ex[i].kind != EX_FWD)
                continue;
            st = run_entry(g, &g->ex[i]);
            err = clFinish(g->ctx->queue);
            double t1 = now_ms();
            attribute(g, &g->ex[i], t1 - t0);
            t0 = t1;
        }
        if (!st && err != CL_SUCCESS)
            st = clg__cl_fail(err, "graph profile: clFinish");
        return st;
    }
    cl_event *ev = calloc((size_t)g->n_ex + 1, sizeof *ev);
    if (!ev)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph profile: out of host memory");
    int *idx = calloc((size_t)g->n_ex + 1, sizeof *idx);
    int k = 0;
    if (!idx) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "graph profile: out of host memory");
        goto out;
    }
    if ((st = marker(g, &ev[k++])))
        goto out;
    for (int i = 0; i < g->n_ex; i++) {
        if (fwd_only && g->ex[i].kind != EX_FWD)
            continue;
        if ((st = run_entry(g, &g->ex[i])))
            goto out;
        idx[k] = i;
        if ((st = marker(g, &ev[k++])))
            goto out;
    }
    cl_int err = clWaitForEvents(1, &ev[k - 1]);
    if (err != CL_SUCCESS) {
        st = clg__cl_fail(err, "graph profile: clWaitForEvents");
        goto out;
    }
    double prev = 0;
    if ((st = event_end(ev[0], &prev)))
        goto out;
    for (int j = 1; j < k; j++) {
        double t = 0;
        if ((st = event_end(ev[j], &t)))
            goto out;
        attribute(g, &g->ex[idx[j]], t - prev);
        prev = t;
    }
out:
    for (int j = 0; j < k; j++)
        clReleaseEvent(ev[j]);
    free(ev);
    free(idx);
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
            if (!fwd_only || g->ex[i].kind == EX_FWD)
                st = run_entry(g, &g->ex[i]);
    }
    g->stats.launches += g->ctx->launches - l0;
    return st;
}

static clg_status blocking_read(clg_graph *g, const clg_tensor *t, void *host)
{
    clg_status st = clg_tensor_read(t, host);
    if (!st && clg_tensor_bytes(t) > 0)
        g->stats.blocking_reads++;
    return st;
}

clg_status clg_graph_step(clg_graph *g, float *loss_out)
{
    clg_status st = check_graph(g, "clg_graph_step");
    if (st)
        return st;
    if (!g->planned || g->mode != CLG_PLAN_TRAIN)
        return clg__fail(CLG_ERR_STATE, "clg_graph_step: the graph needs a TRAIN plan (clg_graph_plan)");
    uint64_t l0 = g->stats.launches;
    if ((st = run(g, 0)))
        return st;
    g->step_launches = g->stats.launches - l0;
    g->steps++;
    g->stats.steps++;
    if (!loss_out)
        return CLG_OK;
    const gnode *l = &g->nodes[g->loss];
    if ((st = blocking_read(g, &l->val, g->loss_host)))
        return st;
    size_t n = (size_t)clg_shape_numel(&l->s);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += ((const float *)g->loss_host)[i];
    *loss_out = (float)sum;
    return CLG_OK;
}

clg_status clg_graph_forward(clg_graph *g)
{
    clg_status st = check_graph(g, "clg_graph_forward");
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
    clg_status st = check_graph(g, "clg_graph_set_input");
    if (st || (st = check_id(g, id, "clg_graph_set_input")))
        return st;
    gnode *x = &g->nodes[id];
    if (x->kind != GN_INPUT)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_set_input: node %d (%s) is not an input", id, x->name);
    return clg_tensor_write_async(&x->val, host);
}

clg_status clg_graph_read(clg_graph *g, int id, void *host)
{
    clg_status st = check_graph(g, "clg_graph_read");
    if (st || (st = check_id(g, id, "clg_graph_read")))
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
    return blocking_read(g, &x->val, host);
}

clg_status clg_graph_grad_read(clg_graph *g, int id, void *host)
{
    clg_status st = check_graph(g, "clg_graph_grad_read");
    if (st || (st = check_id(g, id, "clg_graph_grad_read")))
        return st;
    gnode *x = &g->nodes[id];
    if (x->kind != GN_PARAM)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_grad_read: node %d (%s) is not a param", id, x->name);
    if (!g->planned || g->mode != CLG_PLAN_TRAIN || !x->needs_grad)
        return clg__fail(CLG_ERR_STATE, "clg_graph_grad_read: param %s has no gradient (%s)", x->name,
                         !g->planned ? "not planned" : g->mode != CLG_PLAN_TRAIN ? "inference plan"
                         : clg__graph_is_frozen(g, x->group) ? "its group is frozen" : "it does not reach the loss");
    return blocking_read(g, &x->grad, host);
}

int64_t clg_graph_step_count(const clg_graph *g) { return g ? g->steps : 0; }

void clg_graph_set_step_count(clg_graph *g, int64_t steps)
{
    if (g)
        g->steps = steps < 0 ? 0 : steps;
}

clg_status clg_graph_stats_get(const clg_graph *g, clg_graph_stats *out)
{
    clg_status st = check_graph(g, "clg_graph_stats_get");
    if (st)
        return st;
    if (!out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_stats_get: NULL out");
    *out = g->stats;
    out->step_launches = g->step_launches;
    out->pooled_tensors = g->n_bufs;
    out->pool_bytes = g->pool_elems * 4;
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

/* ---- parameters -------------------------------------------------------------------------------- */

int clg_graph_param_count(const clg_graph *g) { return g ? g->n_params : 0; }

int clg_graph_param_id(const clg_graph *g, int index)
{
    return (g && index >= 0 && index < g->n_params) ? g->params[index] : -1;
}

static clg_status param_node(const clg_graph *g, int index, const char *fn, gnode **out)
{
    clg_status st = check_graph(g, fn);
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
    return blocking_read(g, &x->val, host);
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

/* ---- insight ----------------------------------------------------------------------------------- */

clg_status clg_graph_dot(const clg_graph *g, FILE *f)
{
    clg_status st = check_graph(g, "clg_graph_dot");
    if (st)
        return st;
    if (!f)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_graph_dot: NULL file");
    fprintf(f, "digraph clgrad {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n");
    for (int m = 0; m < g->n; m++) {
        const gnode *x = &g->nodes[m];
        char sb[96];
        clg_shape_str(&x->s, sb, sizeof sb);
        const char *kind = x->kind == GN_INPUT ? "input" : x->kind == GN_PARAM ? "param"
                         : x->kind == GN_CONST ? "const" : clg_op_name(x->rewritten ? x->orig_op : x->op);
        const char *shape = x->kind == GN_INPUT ? "ellipse" : x->kind == GN_PARAM ? "box"
                          : x->kind == GN_CONST ? "note" : "rect";
        fprintf(f, "  n%d [label=\"%s\\n%s %s\", shape=%s", m, x->name, kind, sb,
                m == g->loss ? "doublecircle" : shape);
        if (x->kind == GN_PARAM)
            fprintf(f, ", style=\"%s\", fillcolor=\"#dbe8ff\"",
                    clg__graph_is_frozen(g, x->group) ? "filled,dashed" : "filled");
        else if (x->kind == GN_OP && (x->fused || x->rewritten))
            fprintf(f, ", style=\"rounded,dashed\", xlabel=\"%s\"", x->fused ? "fused" : "bias_act");
        else if (x->kind == GN_OP)
            fprintf(f, ", style=rounded");
        fprintf(f, "];\n");
    }
    for (int m = 0; m < g->n; m++) {
        const gnode *x = &g->nodes[m];
        for (int i = 0; i < (x->rewritten ? x->orig_nin : x->nin); i++)
            fprintf(f, "  n%d -> n%d;\n", x->rewritten ? x->orig_in[i] : x->in[i], m);
    }
    fprintf(f, "}\n");
    if (ferror(f))
        return clg__fail(CLG_ERR_IO, "clg_graph_dot: write failed");
    return CLG_OK;
}

clg_status clg_graph_set_profile(clg_graph *g, int on)
{
    clg_status st = check_graph(g, "clg_graph_set_profile");
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
    clg_status st = check_graph(g, "clg_graph_profile_report");
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
        if (x->kind == GN_OP && x->op == CLG_OP_BIAS_ACT && x->attrs.act >= 0 && x->attrs.act < CLG_ACT_COUNT)
            snprintf(opn, sizeof opn, "bias_act:%s", acts[x->attrs.act]);
        else if (x->kind == GN_OP)
            snprintf(opn, sizeof opn, "%s", clg_op_name(x->op));
        appendf(buf, size, &len, "%-24s %-18s %12.3f %6" PRIu64 " %12.3f %6" PRIu64 "\n", x->name, opn,
                x->prof_fwd_ms, x->prof_fwd_n, x->prof_bwd_ms, x->prof_bwd_n);
        tf += x->prof_fwd_ms;
        tb += x->prof_bwd_ms;
    }
    appendf(buf, size, &len, "%-24s %-18s %12.3f %6" PRIu64 "\n", "(optimizer)", "-", g->prof_opt_ms, g->prof_opt_n);
    appendf(buf, size, &len, "total: forward %.3f ms, backward %.3f ms, optimizer %.3f ms (%s clock)\n", tf, tb,
            g->prof_opt_ms, g->ctx->profiling ? "device" : "host");
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
