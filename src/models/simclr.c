/* simclr.c — SimCLR as a graph: two augmented views per image on the device, an MLP encoder and
 * projection head, and the NT-Xent loss composed of graph ops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "clgrad/models.h"

/* Masked logits get this on the diagonal: exp underflows to 0 after the softmax's max shift, and
 * the value stays finite (no -inf arithmetic in the kernels). */
#define SELF_MASK -1e9f

clg_simclr_config clg_simclr_defaults(void)
{
    clg_simclr_config c;
    memset(&c, 0, sizeof c);
    c.height = 28;
    c.width = 28;
    c.n_enc = clg__model_default_encoder(c.enc);
    c.head[0] = 128;
    c.head[1] = 64;
    c.n_head = 2;
    c.temperature = 0.1f; /* probes after 20 epochs: 0.1 > 0.2 > 0.5 (README) */
    /* crops of 80-100% of the area: the MLP encoder has no built-in shift invariance, and its codes
     * probe better with mild crops (scale 0.5: 0.785 / 0.833 at 1000 / 60000 labels; 0.8: 0.799 /
     * 0.845; none: 0.785 / 0.831; tools/adapt_table.sh's probes, 30 epochs) */
    c.aug = clg_attrs_defaults().aug;
    c.aug.views = 2;
    c.aug.scale_lo = 0.8f;
    c.aug.scale_hi = 1.0f;
    c.aug.ratio_lo = 0.75f;
    c.aug.ratio_hi = 4.0f / 3.0f;
    c.aug.flip_p = 0.5f;
    c.aug.cutout = 8;
    c.aug.cutout_p = 0.5f;
    c.aug.noise_std = 0.05f;
    c.batch = 256;
    c.seed = 1;
    return c;
}

clg_status clg_nt_xent(clg_graph *g, int z, float temperature, int *logits, int *loss)
{
    clg_shape zs;
    clg_status st = clg_graph_node_shape(g, z, &zs);
    if (st)
        return st;
    if (zs.ndim != 2 || zs.dim[0] < 2 || zs.dim[0] % 2 || zs.dim[0] > 46340 || !(temperature > 0))
        return clg__fail(CLG_ERR_INVALID_ARG, "nt_xent: need z f32[2B, D] with B >= 1 (got %lld rows) and a "
                         "temperature > 0 (got %g)", (long long)zs.dim[0], (double)temperature);
    int n = (int)zs.dim[0], b = n / 2;
    float *mask = calloc((size_t)n * (size_t)n, sizeof(float));
    int32_t *pair = malloc((size_t)n * sizeof(int32_t));
    if (!mask || !pair) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "nt_xent: out of host memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        mask[(size_t)i * (size_t)n + (size_t)i] = SELF_MASK;
        pair[i] = (i + b) % n;
    }
    clg_shape ms = clg_shape_make(CLG_F32, 2, (int64_t[]){ n, n }), ls = clg_shape_make(CLG_I32, 1, (int64_t[]){ n });
    clg_attrs sc = clg_attrs_defaults();
    sc.alpha = 1.0f / temperature;
    int zn, sim, scaled, masked, mask_id, pair_id;
    if ((st = clg_graph_const(g, "nt_xent.self_mask", &ms, mask, &mask_id)) ||
        (st = clg_graph_const(g, "nt_xent.pairs", &ls, pair, &pair_id)) ||
        (st = clg_graph_op(g, CLG_OP_L2_NORMALIZE, &z, 1, NULL, &zn)) ||
        (st = clg_graph_op(g, CLG_OP_SIMILARITY_MATRIX, (int[]){ zn, zn }, 2, NULL, &sim)) ||
        (st = clg_graph_op(g, CLG_OP_SCALE, &sim, 1, &sc, &scaled)) ||
        (st = clg_graph_op(g, CLG_OP_ADD, (int[]){ scaled, mask_id }, 2, NULL, &masked)) ||
        (st = clg_graph_op(g, CLG_OP_CROSS_ENTROPY, (int[]){ masked, pair_id }, 2, NULL, loss)))
        goto out;
    if (logits)
        *logits = masked;
out:
    free(mask);
    free(pair);
    return st;
}

clg_status clg_simclr_build(clg_ctx *ctx, const clg_simclr_config *cfg, clg_simclr *out)
{
    if (!ctx || !cfg || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "simclr: NULL argument");
    memset(out, 0, sizeof *out);
    const clg_simclr_config *c = cfg;
    if (c->n_enc < 2 || c->n_enc > CLG_MLP_MAX_LAYERS || c->n_head < 1 || c->n_head > CLG_MLP_MAX_LAYERS ||
        c->height < 1 || c->width < 1 || c->enc[0] != c->height * c->width || c->batch < 1)
        return clg__fail(CLG_ERR_INVALID_ARG,
                         "simclr: need enc[0] = height*width (%d*%d), 2..%d encoder widths, 1..%d head widths, "
                         "batch >= 1", c->height, c->width, CLG_MLP_MAX_LAYERS, CLG_MLP_MAX_LAYERS);
    out->cfg = *c;
    out->cfg.aug.views = 2;
    clg_status st = clg_graph_create(ctx, &out->g);
    if (st)
        return st;
    clg_graph *g = out->g;
    clg_graph_set_seed(g, c->seed);
    clg_shape sx = clg_shape_make(CLG_F32, 2, (int64_t[]){ c->batch, c->enc[0] });
    clg_attrs aa = clg_attrs_defaults();
    aa.height = c->height;
    aa.width = c->width;
    aa.aug = out->cfg.aug;
    aa.seed = c->seed * 0x9e3779b97f4a7c15ULL + 23;
    int h;
    if ((st = clg_graph_input(g, "x", &sx, &out->x)) ||
        (st = clg_graph_op(g, CLG_OP_AUGMENT, &out->x, 1, &aa, &out->views)))
        goto fail;
    h = out->views;
    for (int l = 0; l + 1 < c->n_enc; l++)
        if ((st = clg__model_layer(g, "enc", l + 1, h, c->enc[l], c->enc[l + 1], 0, 1, &h)))
            goto fail;
    out->code = h;
    int prev = c->enc[c->n_enc - 1];
    for (int l = 0; l < c->n_head; l++) {
        if ((st = clg__model_layer(g, "head", l + 1, h, prev, c->head[l], 1, l + 1 < c->n_head, &h)))
            goto fail;
        prev = c->head[l];
    }
    out->proj = h;
    if ((st = clg_nt_xent(g, out->proj, c->temperature, &out->logits, &out->loss)) ||
        (st = clg_graph_set_name(g, out->loss, "loss")) || (st = clg_graph_set_loss(g, out->loss)) ||
        (st = clg_graph_op(g, CLG_OP_ACCURACY, (int[]){ out->logits, clg_graph_find(g, "nt_xent.pairs") }, 2, NULL,
                           &out->acc)) ||
        (st = clg_graph_set_name(g, out->views, "views")) || (st = clg_graph_set_name(g, out->proj, "proj")) ||
        (st = clg_graph_set_name(g, out->logits, "logits")) || (st = clg_graph_set_name(g, out->acc, "pair_acc")) ||
        (st = clg_graph_keep(g, out->views)) || (st = clg_graph_keep(g, out->proj)) ||
        (st = clg_graph_keep(g, out->logits)) || (st = clg_graph_metric(g, out->acc)))
        goto fail;
    return CLG_OK;
fail:
    clg__model_drop(&out->g);
    return st;
}

void clg_simclr_free(clg_simclr *m)
{
    if (m)
        clg__model_drop(&m->g);
}
