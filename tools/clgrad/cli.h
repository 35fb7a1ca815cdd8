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

/* Rows [row0, row0 + rows) of that batch (a rank's share under mpirun). */
void cli_gather_rows(const int *order, int n, int step, int B, int row0, int rows, const float *x, int dim,
                     const int32_t *y, float *xb, int32_t *yb);

/* ---- under mpirun (clgrad/dist.h): one process per device, rank 0 reports and writes --------- */

/* The rank's share of the global batch B (B / ranks); prints and returns 1 when the ranks do not
 * divide B. */
int cli_dist_batch(const char *cmd, int B, int *local);
/* After planning, loading and resuming: mark the graph distributed (several ranks) and copy rank
 * 0's parameters and optimizer state to every rank.  Prints and returns 1 on failure. */
int cli_dist_start(clg_graph *g);
/* A command that cannot run across ranks: prints why and returns 1 under several ranks, else 0. */
int cli_dist_refuse(const char *cmd, const char *why);
/* cli_interrupted() agreed by every rank (the largest signal any rank saw); all ranks call it. */
int cli_interrupted_all(void);

int cmd_train_mlp(int argc, char **argv);
int cmd_train_mae(int argc, char **argv);
int cmd_train_simclr(int argc, char **argv);
int cmd_train_clip(int argc, char **argv);
int cmd_zeroshot(int argc, char **argv);
int cmd_search(int argc, char **argv);

/* An MNIST-format data set in host memory (pixels scaled to [0,1]). */
typedef struct cli_data {
    float *train_x, *test_x;
    int32_t *train_y, *test_y;
    int n_train, n_test, rows, cols;
} cli_data;

/* Load the train (unless test_only) and t10k splits from dir (train_limit > 0 keeps only that
 * many training images); a split with no image is an error.  Prints the error and returns 1 on
 * failure. */
int cli_load_mnist(const char *dir, long train_limit, int test_only, cli_data *d);
void cli_data_free(cli_data *d);

/* Select the device (spec NULL: CLGRAD_DEVICE or auto) and create a ctx; prints and returns 1 on failure. */
int cli_open_device(const char *spec, clg_device_info *dev, clg_ctx **ctx);

/* The compile helper (helper.c): a second clgrad process compiling PoCL kernels ahead, on the
 * other core.  cli_helper_allow: main() is clgrad's (the helper is /proc/self/exe; tag: the
 * command's first two words); start: once per process, on a PoCL device, before its ctx is made,
 * unless the command is marked warm there; send_gemm: the GEMM kernels of a dense layer's
 * backward (clg_ctx_describe_gemm); op_build: seconds an op program build took (a cold one makes
 * the step worth sending); send_step: after planning, the step's launches.  None of them fails or
 * prints: without a helper the command compiles alone. */
void cli_helper_allow(const char *tag);
/* After a training step: this command is warm on this device (helper.c's warm mark). */
void cli_helper_mark_warm(void);
void cli_helper_start(const clg_device_info *dev);
void cli_helper_send_gemm(clg_ctx *ctx);
void cli_helper_op_build(double seconds);
void cli_helper_send_step(clg_graph *g);
/* Wait up to max_s for the helper to finish what it was sent (before measuring anything else). */
void cli_helper_wait(double max_s);
/* `clgrad __compile-helper P:D` (hidden): replay the lists named on stdin until it ends. */
int cmd_compile_helper(int argc, char **argv);

/* cli_load_mnist (train and test sets) in a second thread while this one opens the device
 * (cli_open_device, and on PoCL the compile helper: cli_helper_start, cli_helper_send_gemm) and
 * builds the op programs of op_groups (clg_ctx_build_op_programs: the MLP
 * CLG_OPS_CORE, the representation models CLG_OPS_ALL) ahead of first use: a cold start's first
 * build (PoCL: ~1 s) then overlaps the data's decompression instead of following it.  A failed
 * early build is left to the first use, which reports it.  profiling: the ctx's queue records
 * launch times (clg_ctx_options.profiling: `--profile`'s device clock).  Prints each error;
 * returns 1 on failure (then neither *d nor *ctx is held). */
int cli_open_device_loading(const char *spec, const char *data_dir, long train_limit, unsigned op_groups,
                            int profiling, cli_data *d, clg_device_info *dev, clg_ctx **ctx);

/* Output files beside a checkpoint path: X.safetensors -> X.csv, X.svg, X.png and the state an
 * interrupted run leaves, X.resume.safetensors. */
typedef struct cli_paths {
    char csv[1100], svg[1100], png[1100], resume[1100];
} cli_paths;
void cli_derive_paths(const char *out, cli_paths *p);

/* After planning: write the graph as DOT to dot_path (if non-NULL) and switch profiling on (if
 * profile).  Prints and returns 1 on failure. */
int cli_graph_insight(clg_graph *g, const char *dot_path, int profile);
/* A trainer's graph made ready: set the optimizer *oo, plan for training, then cli_graph_insight.
 * Prints and returns 1 on failure. */
int cli_plan_training(clg_graph *g, const clg_optim_options *oo, const char *dot_path, int profile);
/* --profile's output: the graph's profile table, then (for a graph profiled through
 * cli_graph_insight whose steps ran through cli_train_epoch) its GEMM FLOPs per step
 * (clg_graph_stats.step_flops), GFLOP/s at the profiled steps' mean wall time, and their share of
 * the device's FMA peak, measured here as `clgrad bench` does but taken as the fastest of 5 launches
 * (~0.4 s; a step above it is reported as such, not as a share over 100%).  Prints and returns 1
 * on failure. */
int cli_profile_print(clg_graph *g, FILE *f);
int cmd_corpus(int argc, char **argv);
int cmd_train_sgns(int argc, char **argv);
int cmd_similar(int argc, char **argv);
int cmd_analogy(int argc, char **argv);
int cmd_lookup(int argc, char **argv);

/* Print "clgrad: <what>: <status message>" to stderr and return 1. */
int cli_fail(const char *what, clg_status st);

/* A model architecture as written in checkpoint metadata, "784-256-256-10": 2..max positive
 * widths (each at most 1<<24), nothing else; returns the count, or -1. */
int cli_parse_arch(const char *arch, int *w, int max);

/* ---- interruption and outputs ------------------------------------------------------------ */

/* SIGINT and SIGTERM set a flag instead of killing the process, so a command finishes its step,
 * saves what it must and removes its temp files; cli_interrupted() is the signal (0: none).
 * Install before the first OpenCL call (the signals are blocked in every thread and taken by a
 * thread of ours).  A second signal while no file is being written ends the process at once. */
void cli_signals_install(void);
int cli_interrupted(void);
/* While on, further signals are only recorded (a file is being written). */
void cli_signals_critical(int on);

/* Before any work: each of the n paths (what[i] names it in messages, e.g. "--out") must be
 * non-empty, not an existing folder or other non-regular file, in an existing writable folder,
 * and no two may name the same file.  Prints and returns 1 on failure. */
int cli_check_outputs(const char *cmd, const char *const *paths, const char *const *what, int n);

/* A training run's bookkeeping shared by `train mlp`, `train mae` and `adapt`: the per-epoch CSV
 * rows and two curves (kept in memory, written at the end), the position reached, and resume. */
typedef struct cli_run {
    const char *cmd;            /* "train mlp", ... */
    const char *out, *csv, *svg, *resume_out; /* outputs (svg may be NULL) */
    char config[1024];          /* every option that shapes the result, compared on --resume */
    char *log;                  /* CSV rows so far (header excluded), malloc'ed */
    size_t log_len;
    double *curve[2];           /* per epoch */
    int epochs;
    int start_epoch, start_step;/* where this process starts (0, 0 unless resumed) */
    double loss_sum, train_s;   /* of the epoch in progress / of all epochs so far, when resumed */
} cli_run;

/* Allocate the curves for `epochs` epochs; prints and returns 1 on failure. */
int cli_run_init(cli_run *r, const char *cmd, int epochs);
void cli_run_free(cli_run *r);
/* Append a CSV row (printf-style, newline added) and the epoch's two curve values. */
int cli_run_log(cli_run *r, int epoch, double c0, double c1, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* --resume: load the planned graph's parameters, optimizer state and step count from path
 * (strictly: every tensor, same shapes) and the run's position, log and curves; the file's
 * command and config must equal r's (the message names both).  Prints and returns 1 on failure. */
int cli_run_resume(cli_run *r, clg_graph *g, const char *path);
/* The run was interrupted at (epoch, step) of `steps` per epoch with loss_sum of that epoch so far:
 * write r->resume_out (parameters, optimizer state, step count, position, log) atomically with the
 * model's metadata meta_kv, print how to resume, and return the exit status (128 + signal). */
int cli_run_save_interrupted(cli_run *r, clg_graph *g, const char *const *meta_kv, int epoch, int step, int steps,
                             double loss_sum, double train_s);
/* The run is complete: write the checkpoint, then the CSV (header + rows), the SVG curve (names of
 * the two curves) and, when extra is not NULL, extra(user)'s file, each atomically, with signals
 * held off; remove the resume file.  Prints and returns 1 on failure. */
int cli_run_finish(cli_run *r, clg_graph *g, const char *const *meta_kv, const char *csv_header,
                   const char *title, const char *const *curve_names, clg_status (*extra)(void *), void *user);

/* One epoch of a trainer's steps, shared by train mlp/mae/simclr/clip and adapt: for each step
 * from `s0` (the resumed step in the resumed epoch, else 0) gather the batch from the epoch's
 * permutation, set the inputs, step, stop on a non-finite loss, save on interruption, and show
 * progress with the running mean loss.  Pipelined (clg_graph_step_async): step s + 1 is started
 * before step s's loss is claimed, so at most two steps are in flight and the host batches
 * alternate between xb/yb and a second pair of the epoch's own. */
typedef struct cli_epoch {
    cli_run *run;
    clg_ctx *ctx;
    clg_graph *g;
    const char *const *meta;    /* the model's metadata, for an interrupted run's save */
    const char *what;           /* the loss's name in the progress line ("loss") */
    int epoch, steps, B;        /* 0-based epoch, steps per epoch, batch */
    const int *order;           /* the epoch's permutation of the n rows */
    int n, dim;
    const float *x;             /* rows of dim floats */
    const int32_t *y;           /* their labels, or NULL */
    float *xb;                  /* batch buffers (yb only with y) */
    int32_t *yb;
    int x_id, y_id;             /* the input nodes fed from xb and yb (y_id < 0: none) */
    /* more inputs of step `step` (CLIP's texts), after xb/yb are gathered; may be NULL.  The host
     * memory it hands clg_graph_set_input must stay untouched until step `step` has run: two
     * buffers alternating with the step's parity suffice (see above). */
    clg_status (*inputs)(void *user, int epoch, int step, const float *xb, const int32_t *yb);
    void *user;
    double train_s;             /* training seconds of the epochs before */
    /* out */
    int s0;                     /* the first step run */
    double loss_sum, seconds;   /* the epoch's loss sum (resumed part included) and its time */
} cli_epoch;
/* Returns -1 when the epoch ran to its end, else the command's exit status (1: an error, printed;
 * 128 + signal: interrupted, the resume file written). */
int cli_train_epoch(cli_epoch *e);

#endif
