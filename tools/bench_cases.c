/* bench_cases.c — the op cases of bench_ops and `clgrad bench`, and the peak FLOP/s measurement (see bench_cases.h). */
#include <CL/cl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_cases.h"
#include "util.h"

#define SH(dt, n, ...) { .dtype = (dt), .ndim = (n), .dim = { __VA_ARGS__ } }
#define F1(a) { .s = SH(CLG_F32, 1, a), .kind = BIN_UNIFORM, .lo = -1, .hi = 1 }
#define F2(a, b) { .s = SH(CLG_F32, 2, a, b), .kind = BIN_UNIFORM, .lo = -1, .hi = 1 }
#define F3(a, b, c) { .s = SH(CLG_F32, 3, a, b, c), .kind = BIN_UNIFORM, .lo = -1, .hi = 1 }
#define P2(a, b) { .s = SH(CLG_F32, 2, a, b), .kind = BIN_POSITIVE, .lo = 0.1, .hi = 2 }
#define T2(a, b) { .s = SH(CLG_F32, 2, a, b), .kind = BIN_UNIFORM, .lo = -1, .hi = 1, .no_grad = 1 }
#define M2(a, b, p) { .s = SH(CLG_F32, 2, a, b), .kind = BIN_MASK, .lo = (p), .no_grad = 1 }
#define I1(n, hi_) { .s = SH(CLG_I32, 1, n), .kind = BIN_INDEX, .lo = 0, .hi = (hi_), .no_grad = 1 }
#define FS(lo_, hi_) { .s = { .dtype = CLG_F32, .ndim = 0 }, .kind = BIN_UNIFORM, .lo = (lo_), .hi = (hi_) }
#define DEF .axis = -1, .alpha = 1.0f
#define NOIN { { .lo = 0 } }

/* MLP shapes: batch 128, features 784 -> 256 -> 10.  MAE: 256 images of 28x28. */
const bench_case bench_cases[] = {
    { CLG_OP_MATMUL, 2, { F2(128, 784), F2(784, 256) }, { DEF }, NULL },
    { CLG_OP_MATMUL, 2, { F2(128, 256), F2(10, 256) }, { DEF, .trans_b = 1 }, "B^T" },
    { CLG_OP_BMM, 2, { F3(8, 128, 64), F3(8, 64, 128) }, { DEF }, NULL },
    { CLG_OP_ADD, 2, { F2(128, 256), F1(256) }, { DEF }, "bias", "add 128x256 + bias", 0 },
    { CLG_OP_BIAS_ACT, 2, { F2(128, 256), F1(256) }, { DEF, .act = CLG_ACT_RELU }, "relu" },
    { CLG_OP_BIAS_ACT, 2, { F2(128, 10), F1(10) }, { DEF, .act = CLG_ACT_NONE }, "none" },
    { CLG_OP_BIAS_ACT, 2, { F2(256, 512), F1(512) }, { DEF, .act = CLG_ACT_RELU }, "relu" },
    { CLG_OP_BIAS_ACT, 2, { F2(256, 784), F1(784) }, { DEF, .act = CLG_ACT_NONE }, "none" },
    { CLG_OP_SUB, 2, { F2(128, 256), F2(128, 256) }, { DEF }, NULL },
    { CLG_OP_MUL, 2, { F2(128, 256), F2(128, 256) }, { DEF }, NULL },
    { CLG_OP_SCALE, 1, { F2(128, 256) }, { .axis = -1, .alpha = 0.5f }, NULL },
    { CLG_OP_RELU, 1, { F2(128, 256) }, { DEF }, NULL, "relu 128x256", 0 },
    { CLG_OP_GELU, 1, { F2(128, 256) }, { DEF }, NULL, "gelu 128x256", 0 },
    { CLG_OP_TANH, 1, { F2(128, 256) }, { DEF }, NULL },
    { CLG_OP_SIGMOID, 1, { F2(128, 256) }, { DEF }, NULL },
    { CLG_OP_EXP, 1, { F2(128, 256) }, { DEF }, NULL },
    { CLG_OP_LOG, 1, { P2(128, 256) }, { DEF }, NULL },
    { CLG_OP_SUM, 1, { F2(128, 256) }, { .axis = 0, .alpha = 1.0f }, "axis=0" },
    { CLG_OP_MEAN, 1, { F2(128, 784) }, { .axis = -1, .alpha = 1.0f }, "all" },
    { CLG_OP_SOFTMAX, 1, { F2(128, 1000) }, { DEF }, NULL, "softmax 128x1000", 0 },
    { CLG_OP_LOG_SOFTMAX, 1, { F2(128, 1000) }, { DEF }, NULL },
    { CLG_OP_CROSS_ENTROPY, 2, { F2(128, 10), I1(128, 10) }, { DEF }, NULL, "cross_entropy 128x10", 0 },
    { CLG_OP_MSE, 2, { F2(128, 784), T2(128, 784) }, { DEF }, NULL, "mse 128x784", 0 },
    { CLG_OP_MASKED_MSE, 3, { F2(256, 784), T2(256, 784), M2(256, 784, 0.75) }, { DEF }, NULL,
      "masked_mse 256x784", 0 },
    { CLG_OP_EMBEDDING, 2, { F2(10000, 100), I1(1024, 10000) }, { DEF }, NULL },
    { CLG_OP_L2_NORMALIZE, 1, { F2(1024, 100) }, { DEF }, NULL },
    { CLG_OP_SIMILARITY, 2, { F2(1024, 100), F2(1024, 100) }, { DEF }, NULL },
    { CLG_OP_SIMILARITY_MATRIX, 2, { F2(256, 128), F2(256, 128) }, { DEF }, NULL },
    { CLG_OP_CONTRASTIVE_LOSS, 3, { F2(256, 128), F2(256, 128), FS(2.6, 2.7) }, { DEF }, NULL },
    { CLG_OP_ATTENTION_LOOKUP, 3, { F2(128, 64), F2(1000, 64), F2(1000, 64) },
      { .axis = -1, .alpha = 0.125f }, "alpha=1/8" },
    { CLG_OP_RANDOM_UNIFORM, 0, NOIN, { .axis = -1, .alpha = 0, .beta = 1, .seed = 7,
      .shape = SH(CLG_F32, 2, 128, 784) }, "[0,1)" },
    { CLG_OP_RANDOM_NORMAL, 0, NOIN, { .axis = -1, .alpha = 0, .beta = 1, .seed = 7,
      .shape = SH(CLG_F32, 2, 128, 784) }, "N(0,1)" },
    { CLG_OP_PATCH_MASK, 1, { F2(256, 784) }, { DEF, .patch = 4, .height = 28, .width = 28, .p = 0.75f,
      .seed = 7 }, "P=4 p=0.75", "patch_mask 256x784 P=4", 1 },
    { CLG_OP_DROPOUT, 1, { F2(128, 256) }, { DEF, .p = 0.5f, .seed = 7 }, "p=0.5" },
    { CLG_OP_AUGMENT, 1, { F2(256, 784) }, { DEF, .height = 28, .width = 28, .seed = 7,
      .aug = { .views = 2, .scale_lo = 0.5f, .scale_hi = 1.0f, .ratio_lo = 0.75f, .ratio_hi = 4.0f / 3.0f,
               .flip_p = 0.5f, .cutout = 8, .cutout_p = 0.5f, .noise_std = 0.05f } }, "SimCLR views x2" },
    { CLG_OP_ARGMAX, 1, { F2(128, 10) }, { DEF }, NULL },
    { CLG_OP_ACCURACY, 2, { F2(128, 10), I1(128, 10) }, { DEF }, NULL },
    { CLG_OP_FILL, 0, NOIN, { .axis = -1, .alpha = 0, .shape = SH(CLG_F32, 2, 128, 784) }, "0" },
    { CLG_OP_COPY, 1, { F2(128, 784) }, { DEF }, NULL },
    { CLG_OP_TRANSPOSE, 1, { F2(784, 256) }, { DEF }, NULL },
    { CLG_OP_LINEAR, 3, { F2(128, 784), F2(784, 256), F1(256) }, { DEF, .act = CLG_ACT_RELU }, "relu" },
    { CLG_OP_LINEAR, 3, { F2(256, 784), F2(784, 512), F1(512) }, { DEF, .act = CLG_ACT_RELU }, "relu" },
};
const int bench_ncases = (int)(sizeof bench_cases / sizeof bench_cases[0]);

clg_status bench_fill(clg_tensor *t, const bench_in *sp, uint64_t *rng)
{
    int64_t n = clg_shape_numel(&t->s);
    if (n <= 0)
        return CLG_OK;
    void *h = malloc((size_t)n * 4);
    if (!h)
        return CLG_ERR_OUT_OF_MEMORY;
    for (int64_t i = 0; i < n; i++) {
        double u = util_u01(rng);
        if (sp->kind == BIN_INDEX)
            ((int32_t *)h)[i] = (int32_t)(sp->lo + floor(u * (sp->hi - sp->lo)));
        else if (sp->kind == BIN_MASK)
            ((float *)h)[i] = u < sp->lo ? 1.0f : 0.0f;
        else
            ((float *)h)[i] = (float)(sp->lo + u * (sp->hi - sp->lo));
    }
    clg_status st = clg_tensor_write(t, h);
    free(h);
    return st;
}

/* ---- peak FLOP/s ----------------------------------------------------------------------------- */

static const char peak_src[] =
    "/* 8 independent multiply-add chains of T: 16 * width(T) flop per iteration; fma() where\n"
    " * the device fuses in hardware (CLG_FMA, as the library's GEMM kernels), else mad() */\n"
    "#if CLG_FMA\n"
    "#define MAD fma\n"
    "#else\n"
    "#define MAD mad\n"
    "#endif\n"
    "#define FMA_KERNEL(NAME, T, SUM)                                                   \\\n"
    "__kernel void NAME(__global float *out, float a, float c, int iters)             \\\n"
    "{                                                                                \\\n"
    "    int g = get_global_id(0);                                                    \\\n"
    "    T va = (T)(a), vc = (T)(c);                                                  \\\n"
    "    T x0 = (T)((float)(g & 63) * 1e-3f), x1 = x0 + 0.01f, x2 = x0 + 0.02f;       \\\n"
    "    T x3 = x0 + 0.03f, x4 = x0 + 0.04f, x5 = x0 + 0.05f, x6 = x0 + 0.06f;        \\\n"
    "    T x7 = x0 + 0.07f;                                                           \\\n"
    "    for (int i = 0; i < iters; i++) {                                            \\\n"
    "        x0 = MAD(x0, va, vc); x1 = MAD(x1, va, vc); x2 = MAD(x2, va, vc);        \\\n"
    "        x3 = MAD(x3, va, vc); x4 = MAD(x4, va, vc); x5 = MAD(x5, va, vc);        \\\n"
    "        x6 = MAD(x6, va, vc); x7 = MAD(x7, va, vc);                              \\\n"
    "    }                                                                            \\\n"
    "    T s = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));                     \\\n"
    "    out[g] = SUM(s);                                                             \\\n"
    "}\n"
    "#define SUM1(s) (s)\n"
    "#define SUM4(s) ((s.x + s.y) + (s.z + s.w))\n"
    "#define SUM8(s) (SUM4(s.lo) + SUM4(s.hi))\n"
    "FMA_KERNEL(k_fma1, float, SUM1)\n"
    "FMA_KERNEL(k_fma4, float4, SUM4)\n"
    "#define SUM16(s) (SUM8(s.lo) + SUM8(s.hi))\n"
    "FMA_KERNEL(k_fma8, float8, SUM8)\n"
    "FMA_KERNEL(k_fma16, float16, SUM16)\n";

/* One variant: iterations calibrated until a launch takes ~target s, then reps timed launches into
 * t; returns the flop of one launch, < 0 on an OpenCL error. */
static double peak_variant(cl_command_queue q, cl_kernel k, int width, size_t gs, cl_mem out, double target,
                           int reps, double *t)
{
    float a = 0.999f, c = 0.001f;
    int iters = 16;
    clSetKernelArg(k, 0, sizeof out, &out);
    clSetKernelArg(k, 1, sizeof a, &a);
    clSetKernelArg(k, 2, sizeof c, &c);
    clSetKernelArg(k, 3, sizeof iters, &iters);
    /* once untimed: a first launch may compile the kernel (PoCL), and timed it ended the calibration
     * at 16 iterations, whose reps measured launches, not multiply-adds (a cold `clgrad bench`
     * reported a peak of 112 GFLOP/s instead of ~450, and step fractions of it above 1) */
    if (clEnqueueNDRangeKernel(q, k, 1, NULL, &gs, NULL, 0, NULL, NULL) != CL_SUCCESS || clFinish(q) != CL_SUCCESS)
        return -1;
    for (;;) {
        clSetKernelArg(k, 3, sizeof iters, &iters);
        double t0 = util_now();
        if (clEnqueueNDRangeKernel(q, k, 1, NULL, &gs, NULL, 0, NULL, NULL) != CL_SUCCESS || clFinish(q) != CL_SUCCESS)
            return -1;
        double dt = util_now() - t0;
        if (dt >= target && iters < (1 << 22)) {
            /* again before stopping: one launch slowed by other work on the machine ended the
             * calibration early (its launches then took 3-4 ms of the 10 asked for, test_cli's
             * test_profile_flops with other tests running beside it) */
            t0 = util_now();
            if (clEnqueueNDRangeKernel(q, k, 1, NULL, &gs, NULL, 0, NULL, NULL) != CL_SUCCESS || clFinish(q) != CL_SUCCESS)
                return -1;
            double again = util_now() - t0;
            dt = again < dt ? again : dt;
        }
        if (dt >= target || iters >= (1 << 22))
            break;
        double f = target / (dt > 1e-5 ? dt : 1e-5);
        iters = (int)(iters * (f > 16 ? 16 : f < 1.25 ? 1.25 : f * 1.1));
    }
    for (int r = 0; r < reps; r++) {
        double t0 = util_now();
        if (clEnqueueNDRangeKernel(q, k, 1, NULL, &gs, NULL, 0, NULL, NULL) != CL_SUCCESS || clFinish(q) != CL_SUCCESS)
            return -1;
        t[r] = util_now() - t0;
    }
    return 16.0 * width * (double)iters * (double)gs;
}

clg_status bench_peak_flops(clg_ctx *ctx, int compute_units, double target_s, int reps, double *rates, int *width,
                            double *launch_s, char *why, size_t why_size)
{
    static const char *const names[] = { "k_fma1", "k_fma4", "k_fma8", "k_fma16" };
    static const int widths[] = { 1, 4, 8, 16 };
    double t[64], best = -1;
    if (reps < 1 || reps > 64) {
        snprintf(why, why_size, "peak: reps %d not in [1, 64]", reps);
        return CLG_ERR_INVALID_ARG;
    }
    size_t gs = (size_t)(compute_units > 0 ? compute_units : 1) * 2048;
    if (gs < 8192)
        gs = 8192;
    void *p = NULL;
    clg_status st = clg_program_build_source(ctx, "bench_peak.cl", peak_src, "", &p, NULL);
    if (st) {
        snprintf(why, why_size, "peak: build: %s: %s", clg_status_name(st), clg_last_error());
        return st;
    }
    cl_program prog = (cl_program)p;
    cl_command_queue q = (cl_command_queue)clg_ctx_cl_queue(ctx);
    cl_int err;
    cl_mem out = clCreateBuffer((cl_context)clg_ctx_cl_context(ctx), CL_MEM_WRITE_ONLY, gs * 4, NULL, &err);
    if (err != CL_SUCCESS) {
        snprintf(why, why_size, "peak: OpenCL error %d creating a buffer", (int)err);
        st = CLG_ERR_OPENCL;
        goto out;
    }
    for (int v = 0; v < 4; v++) {
        cl_kernel k = clCreateKernel(prog, names[v], &err);
        double flop = err == CL_SUCCESS ? peak_variant(q, k, widths[v], gs, out, target_s, reps, t) : -1;
        if (k)
            clReleaseKernel(k);
        if (flop < 0) {
            snprintf(why, why_size, "peak: OpenCL error in %s", names[v]);
            st = CLG_ERR_OPENCL;
            goto out;
        }
        double rate = flop / util_sort_median(t, reps);
        if (getenv("CLGRAD_BENCH_VERBOSE"))
            fprintf(stderr, "  %s: %.1f GFLOP/s\n", names[v], rate * 1e-9);
        if (rate > best) {
            best = rate;
            for (int r = 0; r < reps; r++)
                rates[r] = flop / t[reps - 1 - r]; /* t ascending: rates ascending */
            *width = widths[v];
            if (launch_s)
                *launch_s = t[0];
        }
    }
out:
    if (out)
        clReleaseMemObject(out);
    clReleaseProgram(prog);
    return st;
}
