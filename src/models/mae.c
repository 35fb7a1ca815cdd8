/* mae.c — the masked auto-encoder as a graph: optional Gaussian corruption, patch mask, visible
 * pixels through an MLP encoder and decoder, MSE on the masked pixels (on every pixel with no
 * mask: the plain or denoising auto-encoder). */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "clgrad/models.h"

clg_mae_config clg_mae_defaults(void)
{
    clg_mae_config c;
    memset(&c, 0, sizeof c);
    c.height = 28;
    c.width = 28;
    c.patch = 4;
    c.mask_ratio = 0.75f;
    c.n_enc = clg__model_default_encoder(c.enc);
    c.batch = 256;
    c.seed = 1;
    return c;
}

clg_status clg_mae_build(clg_ctx *ctx, const clg_mae_config *cfg, clg_mae *out)
{
    if (!ctx || !cfg || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "mae: NULL argument");
    memset(out, 0, sizeof *out);
    const clg_mae_config *c = cfg;
    if (c->n_enc < 2 || c->n_enc > CLG_MLP_MAX_LAYERS || c->enc[0] != c->height * c->width || c->batch < 1 ||
        c->patch < 1 || c->height % c->patch || c->width % c->patch || !(c->mask_ratio >= 0 && c->mask_ratio <= 1) ||
        !(c->noise >= 0 && c->noise <= 1e6f))
        return clg__fail(CLG_ERR_INVALID_ARG,
                         "mae: need enc[0] = height*width (%d*%d), patch dividing both, ratio in [0,1], noise >= 0, batch >= 1",
                         c->height, c->width);
    out->cfg = *c;
    clg_status st = clg_graph_create(ctx, &out->g);
    if (st)
        return st;
    clg_graph *g = out->g;
    clg_graph_set_seed(g, c->seed);
    int D = c->enc[0];
    clg_shape sx = clg_shape_make(CLG_F32, 2, (int64_t[]){ c->batch, D });
    int hidden_part, h;
    out->mask = out->noise = -1;
    if ((st = clg_graph_input(g, "x", &sx, &out->x)))
        goto fail;
    h = out->x;
    if (c->noise > 0) { /* denoising: x + N(0, noise^2), a fresh draw per step */
        clg_attrs na = clg_attrs_defaults();
        na.shape = sx;
        na.alpha = 0;
        na.beta = c->noise;
        na.seed = c->seed * 0x9e3779b97f4a7c15ULL + 29;
        if ((st = clg_graph_op(g, CLG_OP_RANDOM_NORMAL, NULL, 0, &na, &out->noise)) ||
            (st = clg_graph_set_name(g, out->noise, "noise")) || (st = clg_graph_keep(g, out->noise)) ||
            (st = clg_graph_op(g, CLG_OP_ADD, (int[]){ h, out->noise }, 2, NULL, &h)))
            goto fail;
    }
    if (c->mask_ratio > 0) {
        clg_attrs ma = clg_attrs_defaults();
        ma.height = c->height;
        ma.width = c->width;
        ma.patch = c->patch;
        ma.p = c->mask_ratio;
        ma.seed = c->seed * 0x9e3779b97f4a7c15ULL + 17;
        if ((st = clg_graph_op(g, CLG_OP_PATCH_MASK, &out->x, 1, &ma, &out->mask)) ||
            (st = clg_graph_op(g, CLG_OP_MUL, (int[]){ h, out->mask }, 2, NULL, &hidden_part)) ||
            (st = clg_graph_op(g, CLG_OP_SUB, (int[]){ h, hidden_part }, 2, NULL, &h)) ||
            (st = clg_graph_set_name(g, out->mask, "mask")) || (st = clg_graph_keep(g, out->mask)))
            goto fail;
    }
    out->masked_input = h;
    if (h != out->x && ((st = clg_graph_set_name(g, h, "masked_input")) || (st = clg_graph_keep(g, h))))
        goto fail;
    for (int l = 0; l + 1 < c->n_enc; l++)
        if ((st = clg__model_layer(g, "enc", l + 1, h, c->enc[l], c->enc[l + 1], 0, l + 2 < c->n_enc, &h)))
            goto fail;
    for (int l = c->n_enc - 1, i = 1; l > 0; l--, i++)
        if ((st = clg__model_layer(g, "dec", i, h, c->enc[l], c->enc[l - 1], 1, l > 1, &h)))
            goto fail;
    out->recon = h;
    if ((st = clg_graph_set_name(g, out->recon, "recon")) || (st = clg_graph_keep(g, out->recon)))
        goto fail;
    if (out->mask >= 0)
        st = clg__model_loss(g, CLG_OP_MASKED_MSE, (int[]){ out->recon, out->x, out->mask }, 3, &out->loss);
    else
        st = clg__model_loss(g, CLG_OP_MSE, (int[]){ out->recon, out->x }, 2, &out->loss);
    if (st)
        goto fail;
    return CLG_OK;
fail:
    clg__model_drop(&out->g);
    return st;
}

void clg_mae_free(clg_mae *m)
{
    if (m)
        clg__model_drop(&m->g);
}
