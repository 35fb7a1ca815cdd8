/* mlp.h — the `clgrad train mlp` training loop (CLI side of the MLP classifier). */
#ifndef CLGRAD_CLI_MLP_H
#define CLGRAD_CLI_MLP_H

#include <stdint.h>
#include "clgrad/clgrad.h"
#include "clgrad/models.h"

#define MLP_MAX_LAYERS CLG_MLP_MAX_LAYERS

typedef struct mlp_config {
    int hidden[MLP_MAX_LAYERS];
    int n_hidden;
    int epochs, batch;
    float lr;
    clg_optim_kind optim;
    int cosine;               /* 1 (default): cosine decay of lr to 0 over all steps; 0: constant */
    uint64_t seed;
    const char *title;        /* "train mlp" or "adapt ..." for messages */
    int classifier;           /* 1: hidden = encoder widths, with a new "head" (clg_classifier_build) */
    const char *from;         /* checkpoint whose enc.* tensors are loaded, or NULL */
    int from_width;           /* its input width (0: none), checked against the data's images */
    int freeze_encoder;       /* train only the head */
    int profile;              /* time every op (OpenCL events) and print the table at the end */
    const char *dot;          /* write the training graph as Graphviz DOT here, or NULL */
    const char *resume;       /* continue the interrupted run saved in this file, or NULL */
} mlp_config;

void mlp_config_default(mlp_config *c);
int mlp_train_run(const mlp_config *cfg, const char *data, const char *device, const char *out,
                  const char *log, long train_limit);

/* Accuracy on (images, labels) in batches of the model's size (last batch padded). */
clg_status mlp_evaluate(clg_mlp *m, const float *images, const int32_t *labels, int n, int dim, double *acc_out);
/* Masked MSE (all pixels with no mask) of the auto-encoder and of the mean-image baseline (mean_img
 * may be NULL: baseline 0). */
clg_status mae_evaluate(clg_mae *m, const float *images, int n, const float *mean_img, double *mse, double *base_mse);

#endif
