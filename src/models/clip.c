/* clip.c — the CLIP-style model as a graph: image MLP encoder and projection, text projection, the
 * symmetric contrastive loss with a learned (or frozen) temperature. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "clgrad/models.h"

clg_clip_config clg_clip_defaults(void)
{
    clg_clip_config c;
    memset(&c, 0, sizeof c);
    c.n_enc = clg__model_default_encoder(c.enc);
    c.text_dim = 100;
    c.embed = 64;
    c.batch = 256;
    c.temperature = 0.07f;
    c.seed = 1;
    return c;
}

clg_status clg_clip_build(clg_ctx *ctx, const clg_clip_config *cfg, clg_clip *out)
{
    if (!ctx || !cfg || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clip: NULL argument");
    memset(out, 0, sizeof *out);
    const clg_clip_config *c = cfg;
    int ok = c->n_enc >= 2 && c->n_enc <= CLG_MLP_MAX_LAYERS && c->text_dim >= 1 && c->text_hidden >= 0 &&
             c->embed >= 1 && c->batch >= 1 && c->temperature > 0 && isfinite(c->temperature);
    for (int i = 0; ok && i < c->n_enc; i++)
        ok = c->enc[i] >= 1;
    if (!ok)
        return clg__fail(CLG_ERR_INVALID_ARG,
                         "clip: need 2..%d positive encoder widths, text_dim, embed, batch >= 1, text_hidden >= 0, "
                         "temperature > 0", CLG_MLP_MAX_LAYERS);
    out->cfg = *c;
    clg_status st = clg_graph_create(ctx, &out->g);
    if (st)
        return st;
    clg_graph *g = out->g;
    clg_graph_set_seed(g, c->seed);
    clg_shape sx = clg_shape_make(CLG_F32, 2, (int64_t[]){ c->batch, c->enc[0] });
    clg_shape st_ = clg_shape_make(CLG_F32, 2, (int64_t[]){ c->batch, c->text_dim });
    clg_shape ss = clg_shape_make(CLG_F32, 0, NULL);
    clg_init si = { .kind = CLG_INIT_CONSTANT, .a = logf(1.0f / c->temperature) };
    char name[32];
    int h, t;
    if ((st = clg_graph_input(g, "x", &sx, &out->x)) || (st = clg_graph_input(g, "t", &st_, &out->t)))
        goto fail;
    h = out->x;
    for (int l = 0; l + 1 < c->n_enc; l++) {
        snprintf(name, sizeof name, "enc.fc%d", l + 1);
        if ((st = clg__model_layer(g, name, 0, h, c->enc[l], c->enc[l + 1], 0, 1, &h)))
            goto fail;
    }
    if ((st = clg__model_layer(g, "img_proj", 0, h, c->enc[c->n_enc - 1], c->embed, 1, 0, &out->img)))
        goto fail;
    t = out->t;
    if (c->text_hidden > 0) {
        if ((st = clg__model_layer(g, "txt_proj.fc1", 0, t, c->text_dim, c->text_hidden, 2, 1, &t)) ||
            (st = clg__model_layer(g, "txt_proj.fc2", 0, t, c->text_hidden, c->embed, 2, 0, &out->txt)))
            goto fail;
    } else if ((st = clg__model_layer(g, "txt_proj.fc1", 0, t, c->text_dim, c->embed, 2, 0, &out->txt)))
        goto fail;
    if ((st = clg_graph_param(g, "log_scale", &ss, &si, 3, &out->log_scale)) ||
        (st = clg_graph_set_name(g, out->img, "img_embed")) || (st = clg_graph_set_name(g, out->txt, "txt_embed")) ||
        (st = clg_graph_keep(g, out->img)) || (st = clg_graph_keep(g, out->txt)) ||
        (st = clg__model_loss(g, CLG_OP_CONTRASTIVE_LOSS, (int[]){ out->img, out->txt, out->log_scale }, 3, &out->loss)))
        goto fail;
    return CLG_OK;
fail:
    clg__model_drop(&out->g);
    return st;
}

void clg_clip_free(clg_clip *m)
{
    if (m)
        clg__model_drop(&m->g);
}
