/* clgrad/device.h — OpenCL platforms and devices, selection, and the device context.
 *
 * clg_devices_list() enumerates every device of every platform (platforms with
 * no devices, such as Mesa's empty Clover, are skipped, not errors).
 * clg_device_select() turns a user spec ("auto", "cpu", "gpu", "P:D", or a
 * substring of the device/platform name) into one device; when nothing matches
 * the error message lists every device found.
 *
 * A clg_ctx owns one OpenCL context and in-order queue on one device, the
 * programs built for it (each built at most once per ctx, from the persistent
 * cache when possible) and its kernels.  A ctx is not thread-safe: use one
 * per thread.
 */
#ifndef CLGRAD_DEVICE_H
#define CLGRAD_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include "clgrad/status.h"

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* the public API (the library builds with -fvisibility=hidden) */
#endif

typedef enum clg_device_type {
    CLG_DEVICE_CPU = 1, CLG_DEVICE_GPU = 2, CLG_DEVICE_ACCELERATOR = 4, CLG_DEVICE_OTHER = 8
} clg_device_type;

typedef struct clg_device_info {
    int platform_index;          /* P in "P:D" */
    int device_index;            /* D in "P:D" (index within its platform) */
    char platform_name[128];
    char platform_version[128];
    char name[128];
    char vendor[128];
    char driver_version[128];
    char device_version[128];    /* CL_DEVICE_VERSION */
    char opencl_c_version[64];   /* CL_DEVICE_OPENCL_C_VERSION, e.g. "OpenCL C 1.2 PoCL" */
    int c_major, c_minor;        /* parsed from opencl_c_version */
    clg_device_type type;
    unsigned compute_units;
    unsigned clock_mhz;
    uint64_t global_mem;
    uint64_t local_mem;
    uint64_t max_alloc;
    size_t max_work_group;
    int fp16, fp64;
    int fma;                     /* CL_FP_FMA in CL_DEVICE_SINGLE_FP_CONFIG: fma() in hardware */
    unsigned float_width;        /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT (PoCL: 8 on AVX2 CPUs, 16 with
                                  * AVX-512): the register tiles of the CPU GEMM kernels follow it */
    char extensions[2048];       /* truncated if longer */
    void *platform_id;           /* cl_platform_id */
    void *device_id;             /* cl_device_id */
} clg_device_info;

/* Enumerate all devices. *out is malloc'ed (free with clg_devices_free);
 * *n may be 0 only if the call fails with CLG_ERR_NO_DEVICE. */
clg_status clg_devices_list(clg_device_info **out, int *n);
void clg_devices_free(clg_device_info *list);

/* "CPU", "GPU", "ACCELERATOR", "OTHER" */
const char *clg_device_type_name(clg_device_type t);

/* Select one device.  spec NULL or "" means the CLGRAD_DEVICE environment
 * variable, or "auto" when that is unset.  "auto" picks a GPU (most global
 * memory x compute units), else an accelerator, else a CPU — among CPUs it
 * prefers PoCL, whose launch cost is far lower than rusticl's llvmpipe. */
clg_status clg_device_select(const char *spec, clg_device_info *out);

typedef struct clg_ctx clg_ctx;

/* Policy knobs of a ctx.  Every field's zero value means "the CLGRAD_* environment variable
 * named beside it, read once by clg_ctx_create, else the device's default", so a zeroed
 * struct or NULL options behave as the README's environment-variable table says. */
typedef enum clg_switch { CLG_SWITCH_DEFAULT = 0, CLG_SWITCH_ON, CLG_SWITCH_OFF } clg_switch;

/* GEMM paths (CLGRAD_GEMM): our register-tiled kernels (the CPU default; rusticl: simple),
 * one output per work-item in local-memory tiles, 4x4 blocks per work-item, or CLBlast (the
 * GPU default).  What `clgrad tune` stored for the device applies where this is DEFAULT. */
typedef enum clg_gemm_path {
    CLG_GEMM_PATH_DEFAULT = 0, CLG_GEMM_PATH_TILED, CLG_GEMM_PATH_LOCAL, CLG_GEMM_PATH_SIMPLE, CLG_GEMM_PATH_CLBLAST
} clg_gemm_path;
/* Kernel of the tiled path (CLGRAD_GEMM_KERNEL): DEFAULT picks by size and device (packed
 * gemm_block from 1024^3 multiply-adds, never on rusticl; below it, A·B on 16-wide devices
 * through B strips in local memory, gemm_tiled_p); BLOCK and TILED force packed / unpacked
 * (outside rusticl; TILED: gemm_tiled_n for A·B); TILED_K forces gemm_tiled_k for A·Bᵀ with
 * K >= 64; STRIP forces gemm_tiled_p for A·B where the tile is whole 16-wide vectors. */
typedef enum clg_gemm_kernel {
    CLG_GEMM_KERNEL_DEFAULT = 0, CLG_GEMM_KERNEL_BLOCK, CLG_GEMM_KERNEL_TILED, CLG_GEMM_KERNEL_TILED_K,
    CLG_GEMM_KERNEL_STRIP
} clg_gemm_kernel;
/* A·Bᵀ and Aᵀ·B on the tiled path (CLGRAD_GEMM_NT): through a transposed copy of B or A, or
 * directly (the default transposes from 1024^3 multiply-adds, Aᵀ·B on 16-wide devices only). */
typedef enum clg_gemm_nt { CLG_GEMM_NT_DEFAULT = 0, CLG_GEMM_NT_TRANSPOSE, CLG_GEMM_NT_DIRECT } clg_gemm_nt;
#define CLG_GEMM_WG_DRIVER (-1) /* wg[0] and wg[1]: leave the tiled kernels' local size to the driver */

/* Tuning knobs of the GEMM paths; all zero = the environment, else the defaults. */
typedef struct clg_gemm_options {
    clg_gemm_path path;         /* CLGRAD_GEMM */
    clg_gemm_kernel kernel;     /* CLGRAD_GEMM_KERNEL */
    clg_gemm_nt nt;             /* CLGRAD_GEMM_NT */
    int tile[3];                /* CLGRAD_GEMM_TILE: register tile TM,VW,NV (TM 1..16, VW 4, 8 or 16,
                                 * NV 1..4); {0,0,0} = by shape class or `clgrad tune` */
    int block[3];               /* CLGRAD_GEMM_BLOCK: gemm_block's MB,NB (1..1024), KB (1..4096) */
    int rm;                     /* CLGRAD_GEMM_RM: register tiles per work-item down M (>= 1) */
    int wg[2];                  /* CLGRAD_GEMM_WG: local size X,Y of the tiled kernels ({0,0}: one
                                 * work-item per group; CLG_GEMM_WG_DRIVER twice: the driver's choice) */
} clg_gemm_options;

typedef struct clg_ctx_options {
    int profiling;      /* enable OpenCL event profiling on the queue */
    int kernel_stores;  /* 1: fills, copies and writes into part of a buffer run as kernels, new
                         * buffers start as a NaN pattern, float16 halves are taken lane by lane
                         * (what Oclgrind's checker needs; on by itself there); 0: the driver's
                         * commands elsewhere.  Same results. */
    clg_switch vec_kernels;     /* CLGRAD_VEC_KERNELS: the CPU-style kernel family (work-groups of
                                 * one, float16 along the data); default on CPU devices but rusticl */
    clg_switch fuse;            /* CLGRAD_FUSE: graph fusion (clg_graph_set_fusion); default on */
    clg_switch flush_denormals; /* CLGRAD_FLUSH_DENORMALS: build every program with
                                 * -cl-denorms-are-zero, which lets the device treat float
                                 * denormals (|x| < 2^-126) as zero, as XLA and TensorFlow do on
                                 * CPUs; default on.  Off keeps IEEE gradual underflow where the
                                 * device has it.  On x86 each denormal costs a microcode assist:
                                 * Adam's moments decay into that range wherever gradients stay 0
                                 * for a while, and PoCL's MLP training ran ~1.4x slower from its
                                 * second epoch (the results differ only below 2^-126). */
    clg_gemm_options gemm;
} clg_ctx_options;

/* Create a context on the device; opts may be NULL.  The CLGRAD_* environment variables are
 * read and checked here, once (a malformed one is CLG_ERR_INVALID_ARG naming it); the device's
 * policy (runtime kind, kernel family, GEMM defaults, work-group sizes) is fixed here too: a
 * launch reads no environment variable. */
clg_status clg_ctx_create(const clg_device_info *dev, const clg_ctx_options *opts, clg_ctx **out);
/* Replace the GEMM options of a live ctx (tests, `clgrad tune`, `clgrad bench`): each zero field
 * takes the environment's value as read at clg_ctx_create, else the default; NULL = all zero.
 * CLG_ERR_INVALID_ARG (ctx unchanged) for an out-of-range tile, block, rm or wg. */
clg_status clg_ctx_set_gemm_options(clg_ctx *ctx, const clg_gemm_options *gemm);
/* Switch the kernel family of a live ctx (as clg_ctx_options.vec_kernels; DEFAULT = the
 * environment at create, else the device's default).  Results agree to rounding, not bits. */
void clg_ctx_set_vec_kernels(clg_ctx *ctx, clg_switch vec_kernels);
void clg_ctx_destroy(clg_ctx *ctx);

const clg_device_info *clg_ctx_device(const clg_ctx *ctx);

/* Wait for all queued work (clFinish), then report any error that a kernel
 * flagged on the device (e.g. an embedding index out of range) as
 * CLG_ERR_INDEX with the op, the value and the valid range. */
clg_status clg_ctx_finish(clg_ctx *ctx);

/* Raw OpenCL handles, for interop: cl_context, cl_command_queue, cl_device_id. */
void *clg_ctx_cl_context(clg_ctx *ctx);
void *clg_ctx_cl_queue(clg_ctx *ctx);

/* Build every embedded program for this device (used by `clgrad devices --check`). */
clg_status clg_ctx_build_all(clg_ctx *ctx);

/* Kernel launches enqueued on this ctx since creation (for launch counting). */
uint64_t clg_ctx_launch_count(const clg_ctx *ctx);
/* Device buffers created on this ctx since creation (tensors, pools, scratch): a planned graph's
 * steps create none. */
uint64_t clg_ctx_buffer_count(const clg_ctx *ctx);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
