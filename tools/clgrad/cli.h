/* cli.h — the clgrad command-line tool: one function per subcommand. */
#ifndef CLGRAD_CLI_H
#define CLGRAD_CLI_H

#include <stdint.h>

#include "clgrad/clgrad.h"

int cmd_devices(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_adapt(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);

/* Fisher-Yates shuffle driven by a splitmix64 state (reproducible from the seed). */
void cli_shuffle(int *idx, int n, uint64_t *state);

/* An epoch visits every one of n images in batches of B, as PyTorch's DataLoader with
 * drop_last=False: ceil(n / B) steps, the last, partial batch topped up from the start of the
 * epoch's permutation. */
int cli_epoch_steps(int n, int B);
/* Batch `step` of the epoch whose permutation is order[0..n): B images of dim floats from x into
 * xb and, when y and yb are not NULL, their labels into yb. */
void cli_gather_batch(const int *order, int n, int step, int B, const float *x, int dim, const int32_t *y,
                      float *xb, int32_t *yb);

int cmd_train_mlp(int argc, char **argv);
int cmd_train_mae(int argc, char **argv);

/* An MNIST-format data set in host memory (pixels scaled to [0,1]). */
typedef struct cli_data {
    float *train_x, *test_x;
    int32_t *train_y, *test_y;
    int n_train, n_test, rows, cols;
} cli_data;

/* Load the train and t10k splits from dir (train_limit > 0 keeps only that many training images);
 * prints the error and returns 1 on failure. */
int cli_load_mnist(const char *dir, long train_limit, cli_data *d);
void cli_data_free(cli_data *d);

/* Select the device (spec NULL: CLGRAD_DEVICE or auto) and create a ctx; prints and returns 1 on failure. */
int cli_open_device(const char *spec, clg_device_info *dev, clg_ctx **ctx);

/* Output files beside a checkpoint path: X.safetensors -> X.csv, X.svg, X.png. */
typedef struct cli_paths {
    char csv[1100], svg[1100], png[1100];
} cli_paths;
void cli_derive_paths(const char *out, cli_paths *p);

/* After planning: write the graph as DOT to dot_path (if non-NULL) and switch profiling on (if
 * profile).  Prints and returns 1 on failure. */
int cli_graph_insight(clg_graph *g, const char *dot_path, int profile);
int cmd_corpus(int argc, char **argv);
int cmd_train_sgns(int argc, char **argv);
int cmd_similar(int argc, char **argv);
int cmd_analogy(int argc, char **argv);
int cmd_lookup(int argc, char **argv);

/* Print "clgrad: <what>: <status message>" to stderr and return 1. */
int cli_fail(const char *what, clg_status st);

#endif
