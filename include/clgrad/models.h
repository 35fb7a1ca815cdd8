/* clgrad/models.h — model builders on the graph runtime: the MLP classifier, the masked
 * auto-encoder, SimCLR and the CLIP-style image/text model.  A builder only adds nodes to a
 * graph; training loops live in the caller.
 *
 * Parameter names and layouts: layer i (1-based) has "fc<i>.weight" f32[in, out] (used as x·W, the
 * transpose of PyTorch's nn.Linear.weight) and "fc<i>.bias" f32[out].
 */
#ifndef CLGRAD_MODELS_H
#define CLGRAD_MODELS_H

#include "clgrad/graph.h"

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* the public API (the library builds with -fvisibility=hidden) */
#endif

#define CLG_MLP_MAX_LAYERS 8

typedef struct clg_mlp {
    clg_graph *g;       /* owned: destroy with clg_mlp_free */
    int batch;
    int n_layers;       /* linear layers */
    int widths[CLG_MLP_MAX_LAYERS + 1];
    int x;              /* input node f32[batch, widths[0]] */
    int labels;         /* input node i32[batch] */
    int logits;         /* f32[batch, classes], kept (readable) */
    int loss;           /* cross-entropy, mean over the batch */
} clg_mlp;

/* widths = {in, hidden..., classes}, n_widths >= 2.  ReLU between layers; parameter group = layer index (0-based), so a caller can freeze
 * layers; weights and biases start U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like PyTorch's nn.Linear
 * (drawn from `seed`).  The graph is not planned yet (set an optimizer, then clg_graph_plan). */
clg_status clg_mlp_build(clg_ctx *ctx, const int *widths, int n_widths, int batch, uint64_t seed,
                         clg_mlp *out);
void clg_mlp_free(clg_mlp *m);

/* A classifier on an encoder: enc = {in, hidden..., code} (n_enc >= 1 widths; n_enc == 1 means a
 * linear classifier on the input), ReLU after every encoder layer including the code, then a new
 * linear "head" to `classes` and cross-entropy.  Parameters are named like the masked
 * auto-encoder's ("enc.fc<i>.weight/bias", group 0) so its checkpoint loads into them;
 * "head.weight/bias" are group 1.  Freeze group 0 to train only the head on a frozen encoder. */
clg_status clg_classifier_build(clg_ctx *ctx, const int *enc, int n_enc, int classes, int batch, uint64_t seed,
                                clg_mlp *out);

/* ---- masked auto-encoder ------------------------------------------------------------------ */

/* Images [batch, H*W] are cut into P×P patches; a fraction `mask_ratio` of the patches of each
 * sample (an exact count, drawn on the device from (seed, step)) is hidden from the encoder, and
 * the loss is the MSE on the hidden pixels only.  mask_ratio 0 builds no mask and the loss is the
 * MSE on every pixel (the plain auto-encoder).  noise > 0 adds Gaussian noise N(0, noise^2),
 * drawn on the device per step, to the image before masking; the loss is always against the clean
 * image (the denoising auto-encoder).  Encoder: widths enc[0..n_enc-1] with
 * enc[0] = H*W, ReLU after every layer but the last (the code); decoder: the mirror image,
 * ReLU after every layer but the output.  Parameters "enc.fc<i>.weight/bias" (group 0) and
 * "dec.fc<i>.weight/bias" (group 1). */
typedef struct clg_mae_config {
    int height, width, patch;
    float mask_ratio;
    int enc[CLG_MLP_MAX_LAYERS];
    int n_enc;                 /* number of widths in enc, >= 2 */
    int batch;
    uint64_t seed;
    float noise;               /* std of the input corruption, 0 = none */
} clg_mae_config;

typedef struct clg_mae {
    clg_graph *g;
    clg_mae_config cfg;
    int x;                     /* input f32[batch, H*W] */
    int mask;                  /* f32[batch, H*W], 1 = hidden (kept); -1 when mask_ratio is 0 */
    int noise;                 /* the drawn noise f32[batch, H*W] (kept); -1 when noise is 0 */
    int masked_input;          /* the encoder's input: x (+ noise), masked; kept (x itself when neither) */
    int recon;                 /* decoder output, kept */
    int loss;
} clg_mae;

clg_mae_config clg_mae_defaults(void);
clg_status clg_mae_build(clg_ctx *ctx, const clg_mae_config *cfg, clg_mae *out);
void clg_mae_free(clg_mae *m);

/* ---- SimCLR ------------------------------------------------------------------------------- */

/* NT-Xent (normalized temperature-scaled cross-entropy) over z f32[2B, D]: rows are L2-normalised,
 * logits = cosine similarities / temperature with each row's similarity to itself masked out,
 * and the loss is the cross-entropy, mean over the 2B rows, of row i against its pair
 * (i + B) mod 2B: the other 2B - 2 rows are its negatives.  Composed of graph ops (l2_normalize,
 * similarity_matrix, scale, add of a constant diagonal mask, cross_entropy with constant labels);
 * *logits (may be NULL) gets the masked logits node, *loss the loss node (not set as the graph's
 * loss). */
clg_status clg_nt_xent(clg_graph *g, int z, float temperature, int *logits, int *loss);

/* Images [batch, H*W] give 2*batch views by the augment op (clg_attrs.aug; view v of image i is
 * row v*batch + i, drawn on the device from (seed, step)); the encoder enc[0] = H*W -> ... ->
 * enc[n_enc-1] has a ReLU after every layer, the code included (so `clgrad adapt` and
 * clg_classifier_build see the same features), parameters "enc.fc<i>.weight/bias" in group 0,
 * exactly as the masked auto-encoder's; the projection head code -> head[0] -> ... ->
 * head[n_head-1] has a ReLU between layers (not after the last), parameters
 * "head.fc<i>.weight/bias" in group 1, used only by the loss; loss = clg_nt_xent over the
 * projections. */
typedef struct clg_simclr_config {
    int height, width;
    int enc[CLG_MLP_MAX_LAYERS];
    int n_enc;                  /* widths in enc, >= 2 */
    int head[CLG_MLP_MAX_LAYERS];
    int n_head;                 /* widths after the code, >= 1 */
    float temperature;          /* > 0 */
    struct clg_augment_attrs aug; /* views is forced to 2 */
    int batch;                  /* images per step (2*batch views) */
    uint64_t seed;
} clg_simclr_config;

typedef struct clg_simclr {
    clg_graph *g;
    clg_simclr_config cfg;
    int x;                      /* input f32[batch, H*W] */
    int views;                  /* f32[2*batch, H*W], kept */
    int code;                   /* f32[2*batch, enc[n_enc-1]] (after the ReLU) */
    int proj;                   /* f32[2*batch, head[n_head-1]], kept */
    int logits;                 /* f32[2*batch, 2*batch], kept */
    int acc;                    /* f32 scalar: fraction of views whose most similar view is their pair;
                                 * a metric (clg_graph_metric): clg_graph_forward computes it, steps do not */
    int loss;
} clg_simclr;

/* Defaults: 28x28, encoder 784-512-128, head 128-128-64, temperature 0.1, batch 256, seed 1, and
 * augmentations crop scale 0.8-1 (the linear probe's best here; the SimCLR paper's 0.08-1 and the
 * issue's reference 0.5-1 probe worse with an MLP encoder), aspect 3/4-4/3, flip 0.5, 8x8 cutout 0.5,
 * noise 0.05, no extra translation. */
clg_simclr_config clg_simclr_defaults(void);
clg_status clg_simclr_build(clg_ctx *ctx, const clg_simclr_config *cfg, clg_simclr *out);
void clg_simclr_free(clg_simclr *m);
/* ---- CLIP-style image/text model ------------------------------------------------------------ */

/* Images x f32[batch, enc[0]] through an MLP encoder (ReLU after every layer, "enc.fc<i>", group 0:
 * the classifier's and the masked auto-encoder's names, so their checkpoints can initialise it) and a
 * linear projection "img_proj" (group 1); text features t f32[batch, text_dim] (frozen, e.g. mean word
 * vectors) through "txt_proj.fc1" (linear, or ReLU then "txt_proj.fc2" when text_hidden > 0; group
 * 2); both in an embed-wide shared space.  Loss: the symmetric contrastive loss of row i of the image
 * embeddings with row i of the text embeddings (CONTRASTIVE_LOSS: L2-normalised, scaled by
 * exp(log_scale)); "log_scale" is a scalar parameter in group 3, initialised to log(1/temperature)
 * (freeze group 3 for a set temperature). */
typedef struct clg_clip_config {
    int enc[CLG_MLP_MAX_LAYERS];
    int n_enc;                 /* widths in enc, >= 2 */
    int text_dim, text_hidden, embed;
    int batch;
    float temperature;
    uint64_t seed;
} clg_clip_config;

typedef struct clg_clip {
    clg_graph *g;
    clg_clip_config cfg;
    int x, t;                  /* inputs */
    int img, txt;              /* projections (before normalisation), kept */
    int log_scale;             /* the parameter */
    int loss;
} clg_clip;

clg_clip_config clg_clip_defaults(void); /* 784-512-128, text 100, linear text projection, embed 64, batch 256, T 0.07 */
clg_status clg_clip_build(clg_ctx *ctx, const clg_clip_config *cfg, clg_clip *out);
void clg_clip_free(clg_clip *m);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
