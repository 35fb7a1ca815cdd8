/* internal.h — what the library's own files share: the ctx, error helpers, kernel launch helpers. */
#ifndef CLGRAD_INTERNAL_H
#define CLGRAD_INTERNAL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "clgrad/status.h"
#include "clgrad/device.h"
#include "clgrad/program.h"
#include "clgrad/tensor.h"
#include "clgrad/ops.h"
#include "clgrad/graph.h"

#if defined(__GNUC__)
#define CLG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLG_PRINTF(a, b)
#endif

/* ---- errors (status.c) ------------------------------------------------- */

/* Record a message for status s and return s. */
clg_status clg__fail(clg_status s, const char *fmt, ...) CLG_PRINTF(2, 3);
/* Record "what failed: CL_NAME (code)" and return CLG_ERR_OPENCL, or
 * CLG_ERR_OUT_OF_MEMORY for the allocation codes. */
clg_status clg__cl_fail(cl_int err, const char *what, ...) CLG_PRINTF(2, 3);
/* Append text to the current message (e.g. a build log). */
void clg__append(const char *fmt, ...) CLG_PRINTF(1, 2);
void clg__set_raw(int code);
void clg__clear_error(void);
void clg__log(clg_log_level lvl, const char *fmt, ...) CLG_PRINTF(2, 3);

/* ---- programs (program.c, generated cl_sources.c) ------------------------ */

typedef struct clg_cl_source { const char *name; const char *data; size_t len; } clg_cl_source;
extern const clg_cl_source clg__cl_sources[];
extern const int clg__cl_source_count;

/* Embedded programs by file: keep in sync with meson's cl_files list order. */
typedef enum clg_prog {
    CLG_PROG_COMMON = 0,
    CLG_PROG_ELEMENTWISE, CLG_PROG_REDUCE, CLG_PROG_LOSS, CLG_PROG_EMBED,
    CLG_PROG_GEMM, CLG_PROG_RANDOM, CLG_PROG_MISC, CLG_PROG_OPTIM,
    CLG_PROG_SGNS,
    CLG_PROG_COUNT
} clg_prog;

#define CLG_MAX_KERNELS 256

typedef struct clg_kernel_entry {
    int prog;
    char *name;             /* owned copy */
    cl_kernel k;
} clg_kernel_entry;

/* The runtime behind a device: classified once, by clg__runtime_kind (device.c), the one place
 * that reads platform and vendor names for policy. */
typedef enum clg_runtime {
    CLG_RT_OTHER = 0,   /* a CPU or accelerator of another runtime */
    CLG_RT_POCL,        /* Portable Computing Language: work-items of a group run one after another */
    CLG_RT_RUSTICL,     /* Mesa's rusticl (llvmpipe): work-items of a group in SIMD lanes */
    CLG_RT_OCLGRIND,    /* the Oclgrind simulator (checker) */
    CLG_RT_GPU_NVIDIA, CLG_RT_GPU_AMD, CLG_RT_GPU_INTEL, CLG_RT_GPU_OTHER
} clg_runtime;
clg_runtime clg__runtime_kind(const clg_device_info *d);

/* Device-side error flags written by kernels: [0] = op id + 1, [1] = bad value, [2] = limit. */
#define CLG_ERRFLAG_WORDS 4

struct clg_ctx {
    clg_device_info info;
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    int profiling;
    clg_cache_policy cache_policy;
    cl_program programs[CLG_PROG_COUNT];
    unsigned char program_from_cache[CLG_PROG_COUNT]; /* programs[i] came from the binary cache */
    clg_kernel_entry kernels[CLG_MAX_KERNELS];
    int n_kernels;
    cl_mem errflags;        /* int[CLG_ERRFLAG_WORDS] */
    uint64_t launches;
    size_t wg_default;      /* default 1-D work-group size */
    int kernel_stores;      /* fills, copies, host writes stored by kernels (Oclgrind: see tensor.c) */
    /* policy, decided once in clg_ctx_create from the device and the options (whose zero fields
     * take the environment's values, read there once: env) */
    clg_runtime runtime;
    int vec_kernels;        /* the CPU-style kernel family (see clg__vec_kernels) */
    int fuse;               /* graphs fuse bias+activation */
    clg_ctx_options env;    /* the CLGRAD_* policy variables as read at create */
    clg_gemm_options gemm;  /* GEMM options in force: the user's over env (ops_gemm.c reads them) */
    int gemm_default_path;  /* the device's untuned GEMM path: simple on rusticl, tiled on CPUs,
                             * else CLBlast */
    int gemm_no_block;      /* rusticl: never gemm_block, nor the transposed A·Bᵀ by default */
    void *gemm_state;       /* owned by ops_gemm.c */
    void (*gemm_state_free)(void *);
};

/* Source text of an embedded file (or from CLGRAD_CL_DIR). Caller frees. */
clg_status clg__program_source(int prog, char **out, size_t *len);
/* The built program `prog` (builds on first use). */
clg_status clg__program(clg_ctx *ctx, int prog, cl_program *out);
/* Kernel `name` of program `prog` (created on first use, cached in ctx).  If the program came
 * from the binary cache and has no such kernel, it is rebuilt from source (entry rewritten) first;
 * kernels already made from the loaded program stay valid and in use (callers may hold them). */
clg_status clg__kernel(clg_ctx *ctx, int prog, const char *name, cl_kernel *out);
/* Build source (named `name` in messages) with the device's options plus extra_options, through
 * the binary cache as clg_program_build_source does, and create its kernel kname; a kernel
 * missing from a program loaded from the cache rebuilds it from source and rewrites the entry.
 * On success the caller owns *prog and *kernel (clReleaseKernel, clReleaseProgram). */
clg_status clg__build_kernel(clg_ctx *ctx, const char *name, const char *source, const char *extra_options,
                             const char *kname, cl_program *prog, cl_kernel *kernel);
/* Device-derived build options (-cl-std, -D...). */
void clg__build_options(const clg_ctx *ctx, const char *extra, char *buf, size_t size);

/* ---- kernel arguments and launches (launch.c) ---------------------------- */

typedef enum { CLG_KARG_MEM, CLG_KARG_INT, CLG_KARG_FLOAT, CLG_KARG_UINT, CLG_KARG_LOCAL } clg_karg_kind;
typedef struct clg_karg {
    clg_karg_kind kind;
    union { cl_mem mem; cl_int i; cl_float f; cl_uint u; size_t local_bytes; } v;
} clg_karg;

#define KMEM(m)   ((clg_karg){ .kind = CLG_KARG_MEM,   .v.mem = (cl_mem)(m) })
#define KINT(x)   ((clg_karg){ .kind = CLG_KARG_INT,   .v.i = (cl_int)(x) })
#define KUINT(x)  ((clg_karg){ .kind = CLG_KARG_UINT,  .v.u = (cl_uint)(x) })
#define KFLT(x)   ((clg_karg){ .kind = CLG_KARG_FLOAT, .v.f = (cl_float)(x) })
#define KLOCAL(n) ((clg_karg){ .kind = CLG_KARG_LOCAL, .v.local_bytes = (size_t)(n) })
/* A tensor as two arguments: its buffer and its element offset. */
#define KTEN(t)   KMEM((t)->buf), KINT((t)->offset)

/* Set args then enqueue a 1-D launch of n work-items, rounded up to a
 * multiple of the work-group size (kernels must bounds-check). */
clg_status clg__launch1d(clg_ctx *ctx, int prog, const char *kname, size_t n,
                         const clg_karg *args, int nargs);
/* Same, 2-D with explicit global (rounded up) and local sizes (local may be NULL). */
clg_status clg__launch2d(clg_ctx *ctx, int prog, const char *kname, const size_t gsize[2],
                         const size_t *lsize, const clg_karg *args, int nargs);
/* Generic N-D enqueue of an already fetched kernel. */
clg_status clg__enqueue(clg_ctx *ctx, cl_kernel k, const char *kname, cl_uint dims,
                        const size_t *gsize, const size_t *lsize);
clg_status clg__set_args(cl_kernel k, const char *kname, const clg_karg *args, int nargs);

/* CPU-style kernels (unary, sum/mean, softmax, bias_act, mse, random ops, embedding,
 * l2_normalize, similarity, the contrastive and attention row passes, Adam: a work-item per row or
 * chunk in work-groups of one, float16/uint16 vectors along the data): used on CPU devices
 * except rusticl, whose llvmpipe runs the work-items of a group in SIMD lanes as GPUs do (there
 * the work-group kernels win; its compiler also drops the compensation of float16 Kahan sums).
 * PoCL, by contrast, runs them one after another, so a kernel with one element per work-item
 * or a strided loop per work-item stays scalar.  clg_ctx_options.vec_kernels (default
 * CLGRAD_VEC_KERNELS=1|0) forces them on or off; decided at ctx create. */
static inline int clg__vec_kernels(const clg_ctx *ctx) { return ctx->vec_kernels; }
/* Read the CLGRAD_* policy variables and CLGRAD_CACHE (env.c) into *o (zero where unset) and
 * *cache: CLG_ERR_INVALID_ARG naming a malformed one.  Called by clg_ctx_create only. */
clg_status clg__env_options(clg_ctx_options *o, clg_cache_policy *cache);
/* CLG_ERR_INVALID_ARG where a GEMM option is out of range (the same rules as the variables). */
clg_status clg__gemm_options_check(const clg_gemm_options *g);
/* *out = over's non-zero fields over under's (over may be NULL). */
void clg__gemm_options_merge(const clg_gemm_options *over, const clg_gemm_options *under, clg_gemm_options *out);
/* Elements per work-item of the element-wise *_vec kernels (unary ops, Adam): 16 work-items'
 * worth of n, at least 1024 and at most 16384, a multiple of 16. */
static inline int clg__vec_chunk(int n)
{
    int c = (n / 16 + 15) / 16 * 16;
    return c < 1024 ? 1024 : c > 16384 ? 16384 : c;
}
/* Set args then enqueue n work-groups of one work-item (no rounding: n is exact). */
clg_status clg__launch_groups_of_one(clg_ctx *ctx, int prog, const char *kname, size_t n,
                                     const clg_karg *args, int nargs);

/* splitmix64 (Steele, Lea, Flood 2014): the library's host-side stream (parameter init, SGNS
 * sampling); clg__u01 is a uniform double in [0, 1) with 53 random bits. */
static inline uint64_t clg__splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline double clg__u01(uint64_t *s) { return (double)(clg__splitmix64(s) >> 11) * 0x1.0p-53; }

#define CLG_NARGS(arr) ((int)(sizeof(arr) / sizeof((arr)[0])))
/* LAUNCH_ONES(ctx, prog, "kernel", n, args...): clg__launch_groups_of_one */
#define LAUNCH_ONES(ctx, prog, kname, n, ...)                                                \
    clg__launch_groups_of_one((ctx), (prog), (kname), (n), (const clg_karg[]){ __VA_ARGS__ }, \
                              CLG_NARGS(((const clg_karg[]){ __VA_ARGS__ })))
/* LAUNCH1D(ctx, prog, "kernel", n, KTEN(x), KINT(n), ...) */
#define LAUNCH1D(ctx, prog, kname, n, ...)                                      \
    clg__launch1d((ctx), (prog), (kname), (n), (const clg_karg[]){ __VA_ARGS__ }, \
                  CLG_NARGS(((const clg_karg[]){ __VA_ARGS__ })))

/* ---- tensors -------------------------------------------------------------- */

/* Check a tensor's dtype; returns CLG_ERR_DTYPE with "op: input i must be f32". */
clg_status clg__check_dtype(const char *op, int idx, const clg_shape *s, clg_dtype want);
/* Fail with CLG_ERR_SHAPE listing the op and all input shapes. */
clg_status clg__shape_fail(const char *op, const clg_shape *const *in, int nin, const char *why);
/* Enqueue a fill of t with a 32-bit pattern. */
clg_status clg__fill_pattern(clg_ctx *ctx, clg_tensor *t, uint32_t pattern);
/* Enqueue a fill of n 32-bit words of buf from word offset off.  Not counted as a launch. */
clg_status clg__fill_words(clg_ctx *ctx, cl_mem buf, size_t off, size_t n, uint32_t pattern);
/* clCreateBuffer(READ_WRITE, bytes); with ctx->kernel_stores (Oclgrind) written whole at once
 * with a NaN pattern (tensor.c says why). */
cl_mem clg__create_buffer(clg_ctx *ctx, size_t bytes, cl_int *err);
/* Enqueue a copy of n 32-bit words, src from word so to dst from word dst_off.  Not counted as a launch. */
clg_status clg__copy_words(clg_ctx *ctx, cl_mem src, size_t so, cl_mem dst, size_t dst_off, size_t n);

/* ---- op descriptors (ops.c, ops_<family>.c) ------------------------------- */

typedef clg_status (*clg_infer_fn)(const clg_shape *const *in, const clg_attrs *a, clg_shape *out);
typedef clg_status (*clg_forward_fn)(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *out,
                                     const clg_attrs *a);
typedef clg_status (*clg_backward_fn)(clg_ctx *ctx, const clg_tensor *const *in,
                                      const clg_tensor *out, const clg_tensor *gout,
                                      clg_tensor *const *gin, const clg_attrs *a, int accumulate);

typedef struct clg_op_desc {
    const char *name;
    int n_inputs;
    clg_infer_fn infer;
    clg_forward_fn forward;
    clg_backward_fn backward;   /* NULL: not differentiable */
} clg_op_desc;

#define CLG_OP(ID, name, nin, family) extern const clg_op_desc clg_opdesc_##name;
#include "clgrad/ops.def"
#undef CLG_OP

/* ---- models (src/models) -------------------------------------------------------- */

/* One linear layer in a graph: params "<name>.weight" [fan_in, fan_out] and "<name>.bias"
 * [fan_out] in group `group` with initialisers wi and bi (bi may be NULL: zeros), then
 * in·W + b and, when relu, a ReLU; *out gets the last node (mlp.c). */
clg_status clg__linear_layer(clg_graph *g, const char *name, int in_node, int fan_in, int fan_out, const clg_init *wi,
                             const clg_init *bi, int group, int relu, int *out);

/* ---- GEMM tuning (tune.c) ---------------------------------------------------- */

/* Shape classes of the tiled GEMM that `clgrad tune` tunes separately. */
enum { CLG_GEMM_CLASS_NN, CLG_GEMM_CLASS_TN, CLG_GEMM_CLASS_NT, CLG_GEMM_CLASS_NARROW, CLG_GEMM_CLASSES };
int clg__gemm_class(int ta, int tb, int n);        /* narrow: N < 32 */
const char *clg__gemm_class_name(int cls);         /* "nn", "tn", "nt", "narrow" */
/* What `clgrad tune` stored for this device (name + driver version) and class: 1 if found, with
 * *path (a clg_gemm_path), and for CLG_GEMM_PATH_TILED the register tile. */
int clg__gemm_tune_lookup(const clg_device_info *d, int cls, int *path, int *tm, int *vw, int *nv);
/* Whether TM,VW,NV is a register tile the tiled kernels take: TM 1..16, VW 4, 8 or 16, NV 1..4
 * (the one rule for the tuning file, CLGRAD_GEMM_TILE's check and its use). */
int clg__gemm_tile_ok(long tm, long vw, long nv);

#endif
