/* mlp.c — the MLP classifier as a graph: (x·W + b, ReLU)* then x·W + b and cross-entropy. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "clgrad/models.h"

clg_status clg__linear_layer(clg_graph *g, const char *name, int in_node, int fan_in, int fan_out, const clg_init *wi,
                             const clg_init *bi, int group, int relu, int *out)
{
    char wn[CLG_GRAPH_NAME_MAX + 1], bn[CLG_GRAPH_NAME_MAX + 1];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    clg_shape sw = clg_shape_make(CLG_F32, 2, (int64_t[]){ fan_in, fan_out });
    clg_shape sb = clg_shape_make(CLG_F32, 1, (int64_t[]){ fan_out });
    int w, b, mm, z;
    clg_status st;
    if ((st = clg_graph_param(g, wn, &sw, wi, group, &w)) || (st = clg_graph_param(g, bn, &sb, bi, group, &b)) ||
        (st = clg_graph_op(g, CLG_OP_MATMUL, (int[]){ in_node, w }, 2, NULL, &mm)) ||
        (st = clg_graph_op(g, CLG_OP_ADD, (int[]){ mm, b }, 2, NULL, &z)))
        return st;
    if (!relu) {
        *out = z;
        return CLG_OK;
    }
    return clg_graph_op(g, CLG_OP_RELU, &z, 1, NULL, out);
}

clg_status clg__model_layer(clg_graph *g, const char *prefix, int idx, int in_node, int fan_in, int fan_out,
                            int group, int relu, int *out)
{
    char name[48];
    if (idx > 0)
        snprintf(name, sizeof name, "%s.fc%d", prefix, idx);
    else
        snprintf(name, sizeof name, "%s", prefix);
    clg_init wi = { .kind = relu ? CLG_INIT_HE_UNIFORM : CLG_INIT_XAVIER_UNIFORM };
    return clg__linear_layer(g, name, in_node, fan_in, fan_out, &wi, NULL, group, relu, out);
}

int clg__model_default_encoder(int *enc)
{
    enc[0] = 784;
    enc[1] = 512;
    enc[2] = 128;
    return 3;
}

void clg__model_drop(clg_graph **g)
{
    clg_graph_destroy(*g);
    *g = NULL;
}

clg_status clg__model_loss(clg_graph *g, clg_op op, const int *inputs, int n, int *loss)
{
    clg_status st = clg_graph_op(g, op, inputs, n, NULL, loss);
    if (!st && !(st = clg_graph_set_name(g, *loss, "loss")))
        st = clg_graph_set_loss(g, *loss);
    return st;
}

/* A chain of linear layers (ReLU between them, and after the last one when relu_last) topped by
 * cross-entropy.  Layer l is named names[l] ("<name>.weight", "<name>.bias") in group groups[l]. */
static clg_status build_chain(clg_ctx *ctx, const int *widths, int n_widths, int batch, uint64_t seed,
                              const char *const *names, const int *groups, int relu_at, clg_mlp *out)
{
    if (!ctx || !widths || !out || n_widths < 2 || n_widths > CLG_MLP_MAX_LAYERS + 1 || batch < 1)
        return clg__fail(CLG_ERR_INVALID_ARG, "mlp: need 2..%d widths and batch >= 1", CLG_MLP_MAX_LAYERS + 1);
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n_widths; i++) {
        if (widths[i] < 1)
            return clg__fail(CLG_ERR_INVALID_ARG, "mlp: width %d is %d", i, widths[i]);
        out->widths[i] = widths[i];
    }
    out->batch = batch;
    out->n_layers = n_widths - 1;
    clg_status st = clg_graph_create(ctx, &out->g);
    if (st)
        return st;
    clg_graph *g = out->g;
    clg_graph_set_seed(g, seed);
    clg_shape sx = clg_shape_make(CLG_F32, 2, (int64_t[]){ batch, widths[0] });
    clg_shape sy = clg_shape_make(CLG_I32, 1, (int64_t[]){ batch });
    if ((st = clg_graph_input(g, "x", &sx, &out->x)) || (st = clg_graph_input(g, "labels", &sy, &out->labels)))
        goto fail;
    int h = out->x;
    for (int l = 0; l < out->n_layers; l++) {
        /* nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases */
        float r = 1.0f / sqrtf((float)widths[l]);
        clg_init wi = { .kind = CLG_INIT_UNIFORM, .a = -r, .b = r };
        if ((st = clg__linear_layer(g, names[l], h, widths[l], widths[l + 1], &wi, &wi, groups[l], l < relu_at, &h)))
            goto fail;
    }
    out->logits = h;
    if ((st = clg_graph_set_name(g, h, "logits")) || (st = clg_graph_keep(g, h)))
        goto fail;
    if ((st = clg__model_loss(g, CLG_OP_CROSS_ENTROPY, (int[]){ h, out->labels }, 2, &out->loss)))
        goto fail;
    return CLG_OK;
fail:
    clg__model_drop(&out->g);
    return st;
}

clg_status clg_mlp_build(clg_ctx *ctx, const int *widths, int n_widths, int batch, uint64_t seed,
                         clg_mlp *out)
{
    char names[CLG_MLP_MAX_LAYERS][16];
    const char *np[CLG_MLP_MAX_LAYERS];
    int groups[CLG_MLP_MAX_LAYERS];
    for (int l = 0; l < CLG_MLP_MAX_LAYERS; l++) {
        snprintf(names[l], sizeof names[l], "fc%d", l + 1);
        np[l] = names[l];
        groups[l] = l;
    }
    return build_chain(ctx, widths, n_widths, batch, seed, np, groups, n_widths - 2, out);
}

clg_status clg_classifier_build(clg_ctx *ctx, const int *enc, int n_enc, int classes, int batch, uint64_t seed,
                                clg_mlp *out)
{
    if (!enc || n_enc < 1 || n_enc > CLG_MLP_MAX_LAYERS)
        return clg__fail(CLG_ERR_INVALID_ARG, "classifier: need 1..%d encoder widths", CLG_MLP_MAX_LAYERS);
    int widths[CLG_MLP_MAX_LAYERS + 1];
    char names[CLG_MLP_MAX_LAYERS][16];
    const char *np[CLG_MLP_MAX_LAYERS];
    int groups[CLG_MLP_MAX_LAYERS];
    for (int i = 0; i < n_enc; i++)
        widths[i] = enc[i];
    widths[n_enc] = classes;
    for (int l = 0; l + 1 < n_enc; l++) {
        snprintf(names[l], sizeof names[l], "enc.fc%d", l + 1);
        np[l] = names[l];
        groups[l] = 0;
    }
    np[n_enc - 1] = "head";
    groups[n_enc - 1] = 1;
    return build_chain(ctx, widths, n_enc + 1, batch, seed, np, groups, n_enc - 1, out);
}

void clg_mlp_free(clg_mlp *m)
{
    if (m)
        clg__model_drop(&m->g);
}
