/* clgrad/ops.h — the fixed op set: shape inference, forward and backward.
 *
 * Ops are listed once in clgrad/ops.def.  Each op takes n_inputs tensors and
 * writes one output tensor that the caller allocated with the shape that
 * clg_op_infer() returns.  All work is enqueued on the ctx's in-order queue;
 * nothing here blocks on the device except the explicit read functions.
 *
 * Backward: given the forward inputs, the forward output and the gradient of
 * the output (gout), write the gradient of each input i into gin[i]; entries
 * of gin may be NULL for inputs whose gradient is not wanted (and must be
 * NULL for i32 inputs).  With `accumulate` set, gradients are added into
 * gin[i] instead of overwriting it.
 *
 * Index checks that need device data (an embedding index out of range, a
 * label >= classes) do not read out of bounds: the kernel skips the element
 * and flags it, and the next clg_ctx_finish() returns CLG_ERR_INDEX naming
 * the op, the value and the range.
 */
#ifndef CLGRAD_OPS_H
#define CLGRAD_OPS_H

#include <stdint.h>
#include "clgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* the public API (the library builds with -fvisibility=hidden) */
#endif

typedef enum clg_op {
#define CLG_OP(ID, name, nin, family) CLG_OP_##ID,
#include "clgrad/ops.def"
#undef CLG_OP
    CLG_OP_COUNT
} clg_op;

/* Activation of the fused bias_act and linear ops (clg_attrs.act). */
typedef enum clg_act {
    CLG_ACT_NONE = 0,       /* y = x + b */
    CLG_ACT_RELU,
    CLG_ACT_GELU,           /* tanh approximation, as the gelu op */
    CLG_ACT_TANH,
    CLG_ACT_SIGMOID,
    CLG_ACT_COUNT
} clg_act;

/* Op attributes; each op reads only the fields its comment in ops.def names,
 * others keep their zero defaults (use clg_attrs_defaults()). */
typedef struct clg_attrs {
    int trans_a, trans_b;   /* matmul, bmm, linear */
    int axis;               /* sum, mean: axis to reduce; < 0 = all elements */
    int keepdim;            /* sum, mean: keep the reduced axis as size 1 */
    float alpha, beta;      /* scale factor; random ranges; fill value */
                            /* random_uniform: set alpha = low < beta = high (the defaults 1, 0
                             * are rejected); random_normal: alpha = mean, beta = std >= 0 */
    float p;                /* dropout probability; patch_mask ratio */
    int patch;              /* patch_mask: patch side P */
    int height, width;      /* patch_mask, augment: image size (H*W = row length) */
    uint64_t seed;          /* random ops */
    uint64_t counter;       /* random ops: e.g. the training step */
    int deterministic;      /* embedding backward: fixed summation order */
    clg_shape shape;        /* ops with no input: the output shape */
    int act;                /* bias_act, linear: a clg_act (default CLG_ACT_NONE; linear: not gelu) */
    /* augment (images [N, height*width] -> views [views*N, height*width], row v*N+i = view v of
     * image i; every view draws its own parameters from (seed, counter)).  Steps, in order:
     * random resized crop (area fraction uniform in [scale_lo, scale_hi], aspect ratio w/h
     * log-uniform in [ratio_lo, ratio_hi], clamped to the image, placed uniformly inside it, then
     * shifted by up to ±translate pixels in x and y) sampled bilinearly with zeros outside the
     * image; horizontal flip with probability flip_p; with probability cutout_p one cutout×cutout
     * square, placed uniformly inside the image, set to 0; Gaussian noise of std noise_std added
     * (not clamped).  clg_attrs_defaults() makes it the identity with views = 1. */
    struct clg_augment_attrs {
        int views;                  /* >= 1 */
        float scale_lo, scale_hi;   /* 0 < lo <= hi <= 1 */
        float ratio_lo, ratio_hi;   /* 0 < lo <= hi */
        float translate;            /* >= 0, pixels */
        float flip_p, cutout_p;     /* in [0, 1] */
        int cutout;                 /* square side, 0 (off) .. min(height, width) */
        float noise_std;            /* >= 0 */
    } aug;
} clg_attrs;

clg_attrs clg_attrs_defaults(void);

const char *clg_op_name(clg_op op);
int clg_op_num_inputs(clg_op op);
int clg_op_has_backward(clg_op op);
/* Look an op up by name; returns CLG_OP_COUNT if unknown. */
clg_op clg_op_from_name(const char *name);

/* Check input shapes/dtypes and compute the output shape. */
clg_status clg_op_infer(clg_op op, const clg_shape *const *in, const clg_attrs *a, clg_shape *out);

/* Run the op: out must have the inferred shape. */
clg_status clg_op_forward(clg_ctx *ctx, clg_op op, const clg_tensor *const *in,
                          clg_tensor *out, const clg_attrs *a);

/* Gradients of the inputs (see the header comment). */
clg_status clg_op_backward(clg_ctx *ctx, clg_op op, const clg_tensor *const *in,
                           const clg_tensor *out, const clg_tensor *gout,
                           clg_tensor *const *gin, const clg_attrs *a, int accumulate);

/* The path the last matmul/bmm on ctx took: "tiled" (register-tiled CPU kernels, the CPU
 * default), "local" (local-memory tiles), "simple" (rusticl's default) or "clblast" (the
 * default on GPUs and other devices; "local" once CLBlast has failed there); NULL before any.
 * Chosen per call by the ctx's GEMM path option (clg_ctx_set_gemm_options; default CLGRAD_GEMM
 * as read at ctx create), else by what `clgrad tune` stored as fastest for the device,
 * driver version and shape class (nn, tn = Aᵀ·B, nt = A·Bᵀ, narrow = N < 32), else by the
 * device type. */
const char *clg_gemm_last_path(clg_ctx *ctx);
/* The path named "tiled", "local", "simple" or "clblast" (as CLGRAD_GEMM takes them);
 * CLG_GEMM_PATH_DEFAULT for NULL or any other name. */
clg_gemm_path clg_gemm_path_parse(const char *name);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
