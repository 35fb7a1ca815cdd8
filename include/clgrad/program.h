/* clgrad/program.h — OpenCL programs compiled at run time, with a persistent binary cache.
 *
 * The kernels of the cl/ folder (one .cl file per op family) are embedded in the library at build time; setting
 * CLGRAD_CL_DIR=/path/to/cl loads them from disk instead (edit, rerun, no
 * rebuild).  Build options come from the device: -cl-std from
 * CL_DEVICE_OPENCL_C_VERSION, -DCLG_DEVICE_CPU/GPU, tunables as -D defines,
 * plus CLGRAD_BUILD_OPTIONS if set.  No fast-math.
 *
 * Binary cache: an entry's file name is a hash of (format version, platform
 * version, device name, driver version, options, source); stored under
 * CLGRAD_CACHE_DIR, else $XDG_CACHE_HOME/clgrad, else ~/.cache/clgrad.  Each
 * entry also carries that key in full and a checksum of the whole file, and
 * is used only if both match the build asked for: an entry that is truncated,
 * corrupt, under another entry's name, rejected by the driver or missing a
 * kernel is rebuilt from source and rewritten, never fatal, never loaded.
 * Writes go to a temp file in the same folder (unique per process), checked,
 * synced and renamed into place, so several processes may fill one cache.
 *
 * Policy (CLGRAD_CACHE): "0" disables it; "1"/unset uses it except on PoCL,
 * which caches compiled kernels itself and for which loading a binary costs
 * an extra compile; "force" uses it on every device.
 */
#ifndef CLGRAD_PROGRAM_H
#define CLGRAD_PROGRAM_H

#include <stddef.h>
#include <stdint.h>
#include "clgrad/device.h"

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* the public API (the library builds with -fvisibility=hidden) */
#endif

typedef enum clg_cache_policy {
    CLG_CACHE_OFF = 0, CLG_CACHE_AUTO = 1, CLG_CACHE_FORCE = 2
} clg_cache_policy;

/* Where a program came from on its last build. */
typedef enum clg_program_origin {
    CLG_ORIGIN_SOURCE = 0,      /* compiled from source; cache off, or the entry not written */
    CLG_ORIGIN_CACHE_HIT = 1,   /* loaded from our binary cache */
    CLG_ORIGIN_CACHE_STORED = 2,/* compiled from source and stored in the cache */
    CLG_ORIGIN_CACHE_REBUILT = 3/* cache entry unusable (corrupt, truncated, another key,
                                   rejected by the driver): compiled and rewritten */
} clg_program_origin;

typedef struct clg_build_report {
    clg_program_origin origin;
    double seconds;             /* wall time of the build or load */
    char cache_path[1024];       /* the entry's file, "" if the cache was not used */
} clg_build_report;

/* Build an arbitrary program (name is used in messages, e.g. "cl/x.cl").
 * On a compile error returns CLG_ERR_BUILD and clg_last_error() holds the
 * file name and the compiler's log.  *out is a cl_program the caller releases
 * with clReleaseProgram.  report may be NULL. */
clg_status clg_program_build_source(clg_ctx *ctx, const char *name, const char *source,
                                    const char *extra_options, void **out,
                                    clg_build_report *report);

/* Override the cache policy for this ctx (default from CLGRAD_CACHE). */
void clg_ctx_set_cache_policy(clg_ctx *ctx, clg_cache_policy p);

/* The cache directory a new ctx takes (from the environment, as above; may not exist yet). */
clg_status clg_cache_dir(char *buf, size_t size);
/* The cache directory of this ctx (binary cache and `clgrad tune`'s file): clg_cache_dir's as read
 * at clg_ctx_create, or dir; NULL reads the environment again.  A ctx reads no variable after. */
clg_status clg_ctx_set_cache_dir(clg_ctx *ctx, const char *dir);
/* This ctx's cache directory ("" when none could be found). */
const char *clg_ctx_cache_dir(const clg_ctx *ctx);

/* Embedded program files, in build order. */
int clg_program_count(void);
const char *clg_program_name(int i);   /* e.g. "elementwise.cl" */

/* Build (or fetch the already built) embedded program i on this ctx. */
clg_status clg_ctx_build_program(clg_ctx *ctx, int i, clg_build_report *report);
/* Build the embedded programs progs[0..n) not yet built as one OpenCL program (one compile
 * and one cache entry for the set; each later serves the kernels of its files).  A driver
 * pays a fixed cost per compile (PoCL 3.1: ~0.15 s, beside ~0.55 s for its first).  A set of
 * one is clg_ctx_build_program; report describes the combined build. */
clg_status clg_ctx_build_programs(clg_ctx *ctx, const int *progs, int n, clg_build_report *report);
/* The op programs: the embedded files but common.cl and gemm.cl, in two groups, each built as
 * one program (clg_ctx_build_programs) by the first use of any of its kernels: CLG_OPS_CORE
 * (elementwise, reduce, loss, misc, optim: what every model runs) and CLG_OPS_REPR (embed, random,
 * sgns: the representation models' ops).  One program per group means one compile per process
 * and one PoCL cache entry per kernel whatever a process runs; two groups spare the MLP the
 * other's compile (PoCL 3.1: ~0.23 s CPU of ~0.9).  Call it for the groups a run needs ahead of
 * first use to overlap the builds with other work (the CLI: with loading the data); report
 * (may be NULL) sums their times. */
typedef enum clg_op_groups { CLG_OPS_CORE = 1, CLG_OPS_REPR = 2, CLG_OPS_ALL = 3 } clg_op_groups;
clg_status clg_ctx_build_op_programs(clg_ctx *ctx, unsigned groups, clg_build_report *report);

/* ---- compiling ahead in a second process: launch lists ---------------------------------------
 * PoCL compiles a kernel's machine code at its first launch with a given work-group size, one
 * compile at a time per process, and keeps it in its disk cache (POCL_CACHE_DIR), where any process
 * finds it.  A helper process that builds the same program (same source and options) and makes the
 * same launch on the same device does that compile on another core; `clgrad` runs one
 * (tools/clgrad/helper.c).  A launch list says what to build and launch: its programs (source and
 * build options, exactly as given to the driver) and its launches (kernel, sizes, and each
 * argument's size: a buffer's bytes, a scalar's value, a local allocation's bytes).
 * clg_graph_describe_step (graph.h) lists a step's launches; clg_ctx_describe_gemm the GEMM
 * kernels of a dense layer's backward products. */
#define CLG_LAUNCH_MAX_ARGS 32
typedef enum clg_launch_arg_kind {
    CLG_LARG_BUFFER = 0,    /* size: the buffer's bytes */
    CLG_LARG_SCALAR = 1,    /* size (1..8) bytes of value */
    CLG_LARG_LOCAL = 2      /* size: local memory bytes */
} clg_launch_arg_kind;
typedef struct clg_launch_arg {
    clg_launch_arg_kind kind;
    uint64_t size;
    unsigned char value[8];
} clg_launch_arg;
typedef struct clg_launch {
    int program;            /* index into the list's programs */
    char kernel[64];
    unsigned dims;          /* 1..3 */
    uint64_t global[3];     /* multiples of local where local is given */
    uint64_t local[3];      /* all 0: the driver's choice */
    int nargs;
    clg_launch_arg args[CLG_LAUNCH_MAX_ARGS];
} clg_launch;
typedef struct clg_launch_list {
    int nprograms;
    char **source, **options;   /* nprograms each */
    int n;
    clg_launch *launch;
} clg_launch_list;

/* Free what a list owns and zero it (a zeroed list is empty). */
void clg_launch_list_free(clg_launch_list *l);
/* Write l to path (replacing it through a temp file) / read one back: a truncated, corrupt or
 * foreign file is CLG_ERR_IO or CLG_ERR_FORMAT with the reason, *out left empty. */
clg_status clg_launch_list_save(const clg_launch_list *l, const char *path);
clg_status clg_launch_list_load(const char *path, clg_launch_list *out);
/* Build l's programs from source (first to last; never through clgrad's binary cache) and make its
 * launches (last to first when reverse), each on new zero-filled buffers of its arguments' sizes,
 * waiting for each; stop (may be NULL) is asked before each build and launch, and a non-zero
 * answer ends the replay (CLG_OK).  The kernels compute on zeros: only their compiles matter. */
clg_status clg_launch_list_replay(clg_ctx *ctx, const clg_launch_list *l, int reverse, int (*stop)(void *),
                                  void *user);
/* *out: the launches (and programs) of the GEMM kernels this ctx's backward products of a dense
 * layer take at moderate sizes, Aᵀ·B and A·Bᵀ (256^3 as the sample; on PoCL their program holds
 * the register-tiled kernels of every tile size the ctx's policy takes): what a helper can compile
 * while the command builds its op programs and runs its forward pass.  Empty where the GEMM does
 * not run on the tiled path (CLBlast, rusticl's simple path). */
clg_status clg_ctx_describe_gemm(clg_ctx *ctx, clg_launch_list *out);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
