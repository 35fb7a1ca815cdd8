/* cmd_bench.c — `clgrad bench`: peak FLOP/s, bandwidth, launch latency, GEMM paths, ops and training throughput per device; `bench compare`. */
#include <CL/cl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "util.h"

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#include <dlfcn.h>
#endif

/* ---- results: rows = metrics, columns = devices (+ the host BLAS column) ---------------------- */

enum { ST_NONE = 0, ST_OK, ST_NA, ST_ERR, ST_SKIP };
static const char *const state_names[] = { "none", "ok", "n/a", "err", "skipped" };

typedef struct cellv {
    int state;
    double med, min, max;
    int reps;
    char msg[240];
} cellv;

typedef struct metric {
    char key[80];
    char label[80];
    char unit[16];
    char section[24];
} metric;

typedef struct column {
    char id[16];
    char name[128];
    char platform[128];
    char driver[128];
} column;

#define MAX_METRICS 160
#define MAX_COLS 9

static metric g_m[MAX_METRICS];
static int g_nm;
static cellv g_c[MAX_METRICS][MAX_COLS];
static column g_col[MAX_COLS];
static int g_ncol;
static char g_section[24] = "device";

typedef struct opts {
    int quick, full, reps;
    const char *device, *json, *paths;
} opts;

/* The row of key (created on first use, in first-use order). */
static int metric_row(const char *key, const char *label, const char *unit)
{
    for (int i = 0; i < g_nm; i++)
        if (!strcmp(g_m[i].key, key))
            return i;
    if (g_nm >= MAX_METRICS)
        return MAX_METRICS - 1;
    metric *m = &g_m[g_nm];
    snprintf(m->key, sizeof m->key, "%s", key);
    snprintf(m->label, sizeof m->label, "%s", label);
    snprintf(m->unit, sizeof m->unit, "%s", unit);
    snprintf(m->section, sizeof m->section, "%s", g_section);
    return g_nm++;
}

static void rec_values(int row, int col, double *v, int n)
{
    cellv *c = &g_c[row][col];
    c->med = util_sort_median(v, n);
    c->state = ST_OK;
    c->reps = n;
    c->min = v[0];
    c->max = v[n - 1];
}

/* Seconds per repetition -> rate work/seconds * scale (or time * scale when work == 0). */
static void rec_times(int row, int col, const double *sec, int n, double work, double scale)
{
    double v[256];
    if (n > 256)
        n = 256;
    for (int i = 0; i < n; i++)
        v[i] = work > 0 ? work / sec[i] * scale : sec[i] * scale;
    rec_values(row, col, v, n);
}

static void rec_fail(int row, int col, clg_status st, const char *stage)
{
    cellv *c = &g_c[row][col];
    c->state = st == CLG_ERR_UNSUPPORTED ? ST_NA : ST_ERR;
    snprintf(c->msg, sizeof c->msg, "%s: %s: %s", stage, clg_status_name(st), clg_last_error());
}

static void rec_skip(int row, int col, const char *why)
{
    g_c[row][col].state = ST_SKIP;
    snprintf(g_c[row][col].msg, sizeof g_c[row][col].msg, "%s", why);
}

/* ---- per-device context ---------------------------------------------------------------------- */

typedef struct bdev {
    clg_ctx *ctx;
    cl_command_queue q;
    cl_program micro;
    int col;
    int rusticl;
    int reps;            /* repetitions per measurement */
    const opts *o;
    const clg_device_info *info;
} bdev;

static int cl_finish(bdev *b) { return clFinish(b->q) != CL_SUCCESS; }

static void fill_rand(float *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
}

/* ---- micro-benchmarks: FMA peak, copy bandwidth, launch latency -------------------------------- */

static const char micro_src[] =
    "__kernel void k_empty(__global float *p) { }\n"
    "__kernel void k_copy(__global const float4 *a, __global float4 *b, int n)\n"
    "{\n"
    "    int i = get_global_id(0);\n"
    "    if (i < n) b[i] = a[i];\n"
    "}\n"
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

static clg_status micro_kernel(bdev *b, const char *name, cl_kernel *k)
{
    if (!b->micro) {
        void *p = NULL;
        clg_status st = clg_program_build_source(b->ctx, "bench_micro.cl", micro_src, "", &p, NULL);
        if (st)
            return st;
        b->micro = (cl_program)p;
    }
    cl_int err;
    *k = clCreateKernel(b->micro, name, &err);
    return err == CL_SUCCESS ? CLG_OK : CLG_ERR_OPENCL;
}

/* Times of one FMA kernel variant (calibrated to ~target s per run); returns flop per run, <0 on error. */
static double peak_variant(bdev *b, cl_kernel k, int width, size_t gs, cl_mem out, double *t)
{
    float a = 0.999f, c = 0.001f;
    int iters = 16;
    clSetKernelArg(k, 0, sizeof out, &out);
    clSetKernelArg(k, 1, sizeof a, &a);
    clSetKernelArg(k, 2, sizeof c, &c);
    double target = b->o->quick ? 0.02 : 0.06;
    for (;;) {
        clSetKernelArg(k, 3, sizeof iters, &iters);
        double t0 = util_now();
        if (clEnqueueNDRangeKernel(b->q, k, 1, NULL, &gs, NULL, 0, NULL, NULL) != CL_SUCCESS || cl_finish(b))
            return -1;
        double dt = util_now() - t0;
        if (dt >= target || iters >= (1 << 22))
            break;
        double f = target / (dt > 1e-5 ? dt : 1e-5);
        iters = (int)(iters * (f > 16 ? 16 : f < 1.25 ? 1.25 : f * 1.1));
    }
    for (int r = 0; r < b->reps; r++) {
        double t0 = util_now();
        if (clEnqueueNDRangeKernel(b->q, k, 1, NULL, &gs, NULL, 0, NULL, NULL) != CL_SUCCESS || cl_finish(b))
            return -1;
        t[r] = util_now() - t0;
    }
    return 16.0 * width * (double)iters * (double)gs;
}

/* Peak: the best of multiply-add chains (fma or mad, see micro_src) on float, float4, float8 and float16 (runtimes vectorise differently). */
static void bench_peak(bdev *b)
{
    int row = metric_row("peak_gflops", "peak FLOP/s (multiply-add chains, best of float1/4/8/16)", "GFLOP/s");
    static const char *const names[] = { "k_fma1", "k_fma4", "k_fma8", "k_fma16" };
    static const int widths[] = { 1, 4, 8, 16 };
    size_t gs = (size_t)(b->info->compute_units ? b->info->compute_units : 1) * 2048;
    if (gs < 8192)
        gs = 8192;
    cl_int err;
    cl_mem out = clCreateBuffer((cl_context)clg_ctx_cl_context(b->ctx), CL_MEM_WRITE_ONLY, gs * 4, NULL, &err);
    if (err != CL_SUCCESS) {
        rec_fail(row, b->col, CLG_ERR_OPENCL, "buffer");
        return;
    }
    double best = -1, t[64];
    for (int v = 0; v < 4; v++) {
        cl_kernel k = NULL;
        clg_status st = micro_kernel(b, names[v], &k);
        if (st) {
            rec_fail(row, b->col, st, "build");
            break;
        }
        double flop = peak_variant(b, k, widths[v], gs, out, t);
        clReleaseKernel(k);
        if (flop < 0) {
            g_c[row][b->col].state = ST_ERR;
            snprintf(g_c[row][b->col].msg, sizeof g_c[0][0].msg, "peak: OpenCL error in %s", names[v]);
            break;
        }
        double rate = flop / util_sort_median(t, b->reps);
        if (getenv("CLGRAD_BENCH_VERBOSE"))
            fprintf(stderr, "  %s: %.1f GFLOP/s\n", names[v], rate * 1e-9);
        if (rate > best) {
            best = rate;
            rec_times(row, b->col, t, b->reps, flop, 1e-9);
        }
    }
    clReleaseMemObject(out);
}

static void bench_bandwidth(bdev *b)
{
    int row = metric_row("copy_gbps", "memory bandwidth (copy 64 MiB, r+w)", "GB/s");
    size_t bytes = (size_t)64 << 20;
    while (bytes > b->info->max_alloc / 2 && bytes > ((size_t)1 << 20))
        bytes /= 2;
    cl_kernel k = NULL;
    cl_mem src = NULL, dst = NULL;
    clg_status st = micro_kernel(b, "k_copy", &k);
    if (st) {
        rec_fail(row, b->col, st, "build");
        return;
    }
    cl_context cx = (cl_context)clg_ctx_cl_context(b->ctx);
    cl_int e1, e2;
    src = clCreateBuffer(cx, CL_MEM_READ_WRITE, bytes, NULL, &e1);
    dst = clCreateBuffer(cx, CL_MEM_READ_WRITE, bytes, NULL, &e2);
    double t[64];
    int n4 = (int)(bytes / 16);
    size_t gs = (size_t)n4;
    float one = 1.0f;
    if (e1 != CL_SUCCESS || e2 != CL_SUCCESS ||
        clEnqueueFillBuffer(b->q, src, &one, sizeof one, 0, bytes, 0, NULL, NULL) != CL_SUCCESS ||
        clEnqueueFillBuffer(b->q, dst, &one, sizeof one, 0, bytes, 0, NULL, NULL) != CL_SUCCESS)
        goto fail;
    clSetKernelArg(k, 0, sizeof src, &src);
    clSetKernelArg(k, 1, sizeof dst, &dst);
    clSetKernelArg(k, 2, sizeof n4, &n4);
    for (int r = -1; r < b->reps; r++) {
        if (cl_finish(b))
            goto fail;
        double t0 = util_now();
        if (clEnqueueNDRangeKernel(b->q, k, 1, NULL, &gs, NULL, 0, NULL, NULL) != CL_SUCCESS || cl_finish(b))
            goto fail;
        if (r >= 0)
            t[r] = util_now() - t0;
    }
    rec_times(row, b->col, t, b->reps, 2.0 * (double)bytes, 1e-9);
    goto out;
fail:
    g_c[row][b->col].state = ST_ERR;
    snprintf(g_c[row][b->col].msg, sizeof g_c[0][0].msg, "bandwidth: OpenCL error (%zu MiB buffers)",
             bytes >> 20);
out:
    if (src)
        clReleaseMemObject(src);
    if (dst)
        clReleaseMemObject(dst);
    clReleaseKernel(k);
}

static void bench_launch(bdev *b)
{
    int row = metric_row("launch_us", "launch latency (empty kernel, enqueue+finish)", "us");
    cl_kernel k = NULL;
    clg_status st = micro_kernel(b, "k_empty", &k);
    if (st) {
        rec_fail(row, b->col, st, "build");
        return;
    }
    cl_int err;
    cl_mem m = clCreateBuffer((cl_context)clg_ctx_cl_context(b->ctx), CL_MEM_READ_WRITE, 64, NULL, &err);
    int n = b->rusticl ? 15 : b->o->quick ? 50 : 200;
    double t[256];
    size_t gs = 1;
    if (err != CL_SUCCESS)
        goto fail;
    clSetKernelArg(k, 0, sizeof m, &m);
    for (int r = -3; r < n; r++) {
        double t0 = util_now();
        if (clEnqueueNDRangeKernel(b->q, k, 1, NULL, &gs, NULL, 0, NULL, NULL) != CL_SUCCESS || cl_finish(b))
            goto fail;
        if (r >= 0)
            t[r] = util_now() - t0;
    }
    rec_times(row, b->col, t, n, 0, 1e6);
    goto out;
fail:
    g_c[row][b->col].state = ST_ERR;
    snprintf(g_c[row][b->col].msg, sizeof g_c[0][0].msg, "launch: OpenCL error");
out:
    if (m)
        clReleaseMemObject(m);
    clReleaseKernel(k);
}

/* ---- GEMM ------------------------------------------------------------------------------------ */

typedef struct gcase {
    const char *name;
    int M, K, N, ta, tb;
    int cls;            /* 0: MLP batch-128 shape, 1: 512^3, 2: 2048^3 (--full) */
} gcase;

/* The MLP's (784-256-256-10, batch 128) forward, weight-gradient (AᵀB) and input-gradient (ABᵀ)
 * products, then square ones. */
static const gcase gcases[] = {
    { "fwd 128x784*784x256", 128, 784, 256, 0, 0, 0 },
    { "fwd 128x256*256x256", 128, 256, 256, 0, 0, 0 },
    { "fwd 128x256*256x10", 128, 256, 10, 0, 0, 0 },
    { "dW 784x128T*128x256", 784, 128, 256, 1, 0, 0 },
    { "dW 256x128T*128x256", 256, 128, 256, 1, 0, 0 },
    { "dW 256x128T*128x10", 256, 128, 10, 1, 0, 0 },
    { "dX 128x10*10x256T", 128, 10, 256, 0, 1, 0 },
    { "dX 128x256*256x256T", 128, 256, 256, 0, 1, 0 },
    { "dX 128x256*256x784T", 128, 256, 784, 0, 1, 0 },
    { "512^3 NN", 512, 512, 512, 0, 0, 1 },
    { "512^3 TN", 512, 512, 512, 1, 0, 1 },
    { "512^3 NT", 512, 512, 512, 0, 1, 1 },
    { "2048^3 NN", 2048, 2048, 2048, 0, 0, 2 },
};
#define N_GCASES ((int)(sizeof gcases / sizeof gcases[0]))

static int gcase_wanted(const gcase *c, const opts *o)
{
    if (c->cls == 2)
        return o->full;
    if (c->cls == 1 && o->quick)
        return c->ta == 0 && c->tb == 0;
    return 1;
}

/* path NULL: the row of QUEUED products on the default path (key gemm/queued/...) */
#define QUEUED 10

static int gemm_row(const gcase *c, const char *path)
{
    char key[80], label[80];
    snprintf(key, sizeof key, "gemm/%s/%s", path ? path : "queued", c->name);
    if (path)
        snprintf(label, sizeof label, "%-7s %s", path, c->name);
    else
        snprintf(label, sizeof label, "%-7s %s, %d queued", "default", c->name, QUEUED);
    return metric_row(key, label, "GFLOP/s");
}

/* Why a path/case is skipped on this device by default, or NULL. */
static const char *gemm_skip(const bdev *b, const gcase *c, const char *path)
{
    if (!b->rusticl || b->o->full)
        return NULL;
    if (c->cls == 2)
        return "rusticl: 2048^3 only with --full";
    if (!strcmp(path, "tiled"))
        return "rusticl: tiled path only with --full (~100x slower there)";
    if (!strcmp(path, "clblast") && c->N != 10)
        return "rusticl: clblast only on the smallest shape without --full";
    if (c->cls == 1 && strcmp(path, "simple"))
        return "rusticl: 512^3 only on the simple path without --full";
    return NULL;
}

/* GFLOP/s of one product per enqueue + finish on `path`, or (path NULL) of QUEUED products
 * enqueued back to back before one finish on the path the dispatcher picks by itself, as a
 * training step runs them (the runtime's per-call wake-up and sleep are paid once). */
static void bench_gemm_case(bdev *b, const gcase *c, const char *path)
{
    int row = gemm_row(c, path);
    const char *why = path ? gemm_skip(b, c, path) : NULL;
    if (why) {
        rec_skip(row, b->col, why);
        return;
    }
    clg_shape sa = clg_shape_make(CLG_F32, 2, (int64_t[]){ c->ta ? c->K : c->M, c->ta ? c->M : c->K });
    clg_shape sb = clg_shape_make(CLG_F32, 2, (int64_t[]){ c->tb ? c->N : c->K, c->tb ? c->K : c->N });
    clg_shape so = clg_shape_make(CLG_F32, 2, (int64_t[]){ c->M, c->N });
    clg_tensor ta = { 0 }, tb = { 0 }, to = { 0 };
    size_t big = (size_t)(c->M > c->N ? c->M : c->N) * (size_t)c->K;
    float *h = malloc(big * sizeof(float));
    const char *stage = "setup";
    clg_status st = CLG_ERR_OUT_OF_MEMORY;
    double t[64];
    if (!h)
        goto fail;
    if ((st = clg_tensor_new(b->ctx, &sa, &ta)) || (st = clg_tensor_new(b->ctx, &sb, &tb)) ||
        (st = clg_tensor_new(b->ctx, &so, &to)))
        goto fail;
    fill_rand(h, (size_t)clg_shape_numel(&sa), 1);
    if ((st = clg_tensor_write(&ta, h)))
        goto fail;
    fill_rand(h, (size_t)clg_shape_numel(&sb), 2);
    if ((st = clg_tensor_write(&tb, h)))
        goto fail;
    clg_attrs at = clg_attrs_default();
    at.trans_a = c->ta;
    at.trans_b = c->tb;
    const clg_tensor *in[2] = { &ta, &tb };
    /* the path asked for, else the ctx's (the environment's, else the device's default) */
    clg_gemm_options go = { .path = clg_gemm_path_parse(path) };
    if ((st = clg_ctx_set_gemm_options(b->ctx, &go)))
        goto fail;
    int calls = path ? 1 : QUEUED;
    stage = "first call";
    double t0 = util_now();
    if ((st = clg_op_forward(b->ctx, CLG_OP_MATMUL, in, &to, &at)) || (st = clg_ctx_finish(b->ctx)))
        goto fail;
    double first = util_now() - t0;
    stage = "timed calls";
    /* one call over a second is measurement enough */
    int n = first > 1.0 ? 1 : b->reps;
    for (int r = 0; r < n; r++) {
        t0 = util_now();
        for (int k = 0; k < calls; k++)
            if ((st = clg_op_forward(b->ctx, CLG_OP_MATMUL, in, &to, &at)))
                goto fail;
        if ((st = clg_ctx_finish(b->ctx)))
            goto fail;
        t[r] = (util_now() - t0) / calls;
    }
    if (n == 1) {
        /* the first call (with its compile) bounds the time from above */
        t[1] = first;
        n = 2;
        double keep = t[0];
        rec_times(row, b->col, t, n, 2.0 * c->M * c->N * (double)c->K, 1e-9);
        g_c[row][b->col].med = 2.0 * c->M * c->N * (double)c->K / keep * 1e-9;
        g_c[row][b->col].reps = 1;
    } else
        rec_times(row, b->col, t, n, 2.0 * c->M * c->N * (double)c->K, 1e-9);
    goto out;
fail:
    rec_fail(row, b->col, st, stage);
out:
    clg_ctx_set_gemm_options(b->ctx, NULL);
    free(h);
    clg_tensor_free(&ta);
    clg_tensor_free(&tb);
    clg_tensor_free(&to);
}

static void bench_gemm(bdev *b)
{
    for (int i = 0; i < N_GCASES; i++) {
        if (!gcase_wanted(&gcases[i], b->o))
            continue;
        char list[128];
        snprintf(list, sizeof list, "%s", b->o->paths);
        char *save = NULL;
        for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
            bench_gemm_case(b, &gcases[i], p);
        if (gcases[i].cls == 0)
            bench_gemm_case(b, &gcases[i], NULL);
    }
}

#ifdef HAVE_OPENBLAS
/* The host column: OpenBLAS sgemm per case, its threads pinned one per core (util.h), timed
 * before the devices and recorded after them (the table keeps its section order), copied into
 * every path's row of that case. */
static double g_blas_t[N_GCASES][64];
static int g_blas_n[N_GCASES];

/* OpenBLAS is opened here, by bench alone: linked into the tool, its worker threads would start
 * before main with every signal unblocked and take the SIGINT that the training commands handle
 * in a thread of their own (common.c). */
static __typeof__(cblas_sgemm) *p_sgemm;
static __typeof__(openblas_get_config) *p_blas_config;

static int blas_open(void)
{
    void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (h) {
        p_sgemm = (__typeof__(cblas_sgemm) *)dlsym(h, "cblas_sgemm");
        p_blas_config = (__typeof__(openblas_get_config) *)dlsym(h, "openblas_get_config");
    }
    if (!p_sgemm || !p_blas_config) {
        fprintf(stderr, "clgrad bench: no OpenBLAS column (libopenblas.so.0: %s)\n", h ? "no cblas_sgemm" : dlerror());
        return 0;
    }
    return 1;
}

static void bench_blas(const opts *o)
{
    int reps = o->reps > 0 ? o->reps : o->quick ? 3 : 7;
    if (reps > 64)
        reps = 64;
    for (int i = 0; i < N_GCASES; i++) {
        const gcase *c = &gcases[i];
        if (!gcase_wanted(c, o))
            continue;
        size_t na = (size_t)c->M * c->K, nb = (size_t)c->K * c->N, nc = (size_t)c->M * c->N;
        float *a = malloc(na * 4), *bm = malloc(nb * 4), *out = malloc(nc * 4);
        if (a && bm && out) {
            fill_rand(a, na, 1);
            fill_rand(bm, nb, 2);
            int lda = c->ta ? c->M : c->K, ldb = c->tb ? c->K : c->N;
            for (int r = -2; r < reps; r++) {
                double t0 = util_now();
                p_sgemm(CblasRowMajor, c->ta ? CblasTrans : CblasNoTrans, c->tb ? CblasTrans : CblasNoTrans,
                            c->M, c->N, c->K, 1.0f, a, lda, bm, ldb, 0.0f, out, c->N);
                if (r >= 0)
                    g_blas_t[i][r] = util_now() - t0;
            }
            g_blas_n[i] = reps;
        }
        free(a);
        free(bm);
        free(out);
    }
    /* OpenBLAS's idle threads spin for a while and would steal the cores from OpenCL */
    nanosleep(&(struct timespec){ .tv_sec = 0, .tv_nsec = 300000000 }, NULL);
}

static void record_blas(const opts *o, int col)
{
    for (int i = 0; i < N_GCASES; i++) {
        const gcase *c = &gcases[i];
        if (!g_blas_n[i])
            continue;
        double flop = 2.0 * c->M * c->N * (double)c->K;
        char list[128];
        snprintf(list, sizeof list, "%s", o->paths);
        char *save = NULL;
        for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
            rec_times(gemm_row(c, p), col, g_blas_t[i], g_blas_n[i], flop, 1e-9);
        /* back to back is how OpenBLAS runs anyway (its threads spin between calls) */
        if (c->cls == 0)
            rec_times(gemm_row(c, NULL), col, g_blas_t[i], g_blas_n[i], flop, 1e-9);
    }
}
#endif

/* ---- ops ------------------------------------------------------------------------------------- */

typedef enum { K_UNIFORM, K_POSITIVE, K_INDEX, K_MASK } in_kind;

typedef struct oin {
    int ndim, d0, d1;
    int i32;
    in_kind kind;
    double p;         /* K_INDEX: classes; K_MASK: P(1) */
} oin;

typedef struct ocase {
    clg_op op;
    const char *label;
    int nin;
    oin in[3];
    int bwd;          /* also time the backward */
    int attrs;        /* 1: patch_mask attrs, 2: softmax (last axis) */
} ocase;

static const ocase ocases[] = {
    { CLG_OP_ADD, "add 128x256 + bias", 2, { { 2, 128, 256, 0, K_UNIFORM, 0 }, { 1, 256, 0, 0, K_UNIFORM, 0 } }, 1, 0 },
    { CLG_OP_RELU, "relu 128x256", 1, { { 2, 128, 256, 0, K_UNIFORM, 0 } }, 1, 0 },
    { CLG_OP_GELU, "gelu 128x256", 1, { { 2, 128, 256, 0, K_UNIFORM, 0 } }, 1, 0 },
    { CLG_OP_SOFTMAX, "softmax 128x1000", 1, { { 2, 128, 1000, 0, K_UNIFORM, 0 } }, 1, 0 },
    { CLG_OP_CROSS_ENTROPY, "cross_entropy 128x10", 2,
      { { 2, 128, 10, 0, K_UNIFORM, 0 }, { 1, 128, 0, 1, K_INDEX, 10 } }, 1, 0 },
    { CLG_OP_MSE, "mse 128x784", 2, { { 2, 128, 784, 0, K_UNIFORM, 0 }, { 2, 128, 784, 0, K_UNIFORM, 0 } }, 1, 0 },
    { CLG_OP_MASKED_MSE, "masked_mse 256x784", 3,
      { { 2, 256, 784, 0, K_UNIFORM, 0 }, { 2, 256, 784, 0, K_UNIFORM, 0 }, { 2, 256, 784, 0, K_MASK, 0.75 } },
      1, 0 },
    { CLG_OP_PATCH_MASK, "patch_mask 256x784 P=4", 1, { { 2, 256, 784, 0, K_UNIFORM, 0 } }, 0, 1 },
};
#define N_OCASES ((int)(sizeof ocases / sizeof ocases[0]))

static clg_status upload_rand(clg_tensor *t, const oin *sp, uint32_t seed)
{
    int64_t n = clg_shape_numel(&t->s);
    void *h = malloc((size_t)n * 4);
    if (!h)
        return CLG_ERR_OUT_OF_MEMORY;
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        double u = (double)(seed >> 8) / 16777216.0;
        if (sp->kind == K_INDEX)
            ((int32_t *)h)[i] = (int32_t)(u * sp->p);
        else if (sp->kind == K_MASK)
            ((float *)h)[i] = u < sp->p ? 1.0f : 0.0f;
        else if (sp->kind == K_POSITIVE)
            ((float *)h)[i] = (float)(0.1 + 2 * u);
        else
            ((float *)h)[i] = (float)(2 * u - 1);
    }
    clg_status st = clg_tensor_write(t, h);
    free(h);
    return st;
}

typedef struct opcall {
    clg_ctx *ctx;
    const ocase *c;
    const clg_tensor *inp[3];
    clg_tensor *out, *gout, *ginp[3];
    clg_attrs a;
} opcall;

static clg_status op_fwd(opcall *x) { return clg_op_forward(x->ctx, x->c->op, x->inp, x->out, &x->a); }
static clg_status op_bwd(opcall *x)
{
    return clg_op_backward(x->ctx, x->c->op, x->inp, x->out, x->gout, x->ginp, &x->a, 0);
}

/* Warm-up call, then reps × (call; finish), recorded in µs. */
static void time_op(bdev *b, opcall *x, clg_status (*fn)(opcall *), int row, const char *stage)
{
    clg_status st;
    double t[64];
    int n = b->rusticl ? 3 : b->o->quick ? 5 : 15;
    if (b->o->reps > 0)
        n = b->o->reps;
    if ((st = fn(x)) || (st = clg_ctx_finish(b->ctx))) {
        rec_fail(row, b->col, st, stage);
        return;
    }
    for (int r = 0; r < n; r++) {
        double t0 = util_now();
        if ((st = fn(x)) || (st = clg_ctx_finish(b->ctx))) {
            rec_fail(row, b->col, st, stage);
            return;
        }
        t[r] = util_now() - t0;
    }
    rec_times(row, b->col, t, n, 0, 1e6);
}

static void bench_op(bdev *b, const ocase *c)
{
    char key[80], label[80];
    snprintf(key, sizeof key, "op/%s/fwd", c->label);
    snprintf(label, sizeof label, "%s fwd", c->label);
    int rf = metric_row(key, label, "us"), rb = -1;
    if (c->bwd) {
        snprintf(key, sizeof key, "op/%s/bwd", c->label);
        snprintf(label, sizeof label, "%s bwd", c->label);
        rb = metric_row(key, label, "us");
    }
    clg_tensor in[3], out, gout, gin[3];
    memset(in, 0, sizeof in);
    memset(gin, 0, sizeof gin);
    memset(&out, 0, sizeof out);
    memset(&gout, 0, sizeof gout);
    opcall x;
    memset(&x, 0, sizeof x);
    x.ctx = b->ctx;
    x.c = c;
    x.a = clg_attrs_default();
    if (c->attrs == 1) {
        x.a.patch = 4;
        x.a.height = 28;
        x.a.width = 28;
        x.a.p = 0.75f;
        x.a.seed = 7;
    }
    clg_shape shp[3];
    const clg_shape *sp[3];
    for (int i = 0; i < c->nin; i++) {
        const oin *s = &c->in[i];
        shp[i] = s->ndim == 1 ? clg_shape_make(s->i32 ? CLG_I32 : CLG_F32, 1, (int64_t[]){ s->d0 })
                              : clg_shape_make(s->i32 ? CLG_I32 : CLG_F32, 2, (int64_t[]){ s->d0, s->d1 });
        sp[i] = &shp[i];
    }
    clg_shape os;
    clg_status st = clg_op_infer(c->op, sp, &x.a, &os);
    const char *stage = "infer";
    if (st)
        goto fail;
    stage = "setup";
    for (int i = 0; i < c->nin; i++) {
        if ((st = clg_tensor_new(b->ctx, &shp[i], &in[i])) || (st = upload_rand(&in[i], &c->in[i], 11u + i)))
            goto fail;
        x.inp[i] = &in[i];
    }
    if ((st = clg_tensor_new(b->ctx, &os, &out)))
        goto fail;
    x.out = &out;
    time_op(b, &x, op_fwd, rf, "forward");
    if (rb >= 0 && g_c[rf][b->col].state == ST_OK) {
        oin gs = { 0, 0, 0, 0, K_UNIFORM, 0 };
        if ((st = clg_tensor_new(b->ctx, &os, &gout)) || (st = upload_rand(&gout, &gs, 5)))
            goto fail_b;
        x.gout = &gout;
        for (int i = 0; i < c->nin; i++)
            if (!c->in[i].i32 && c->in[i].kind != K_MASK && !(c->op == CLG_OP_MSE && i == 1) &&
                !(c->op == CLG_OP_MASKED_MSE && i == 1)) {
                if ((st = clg_tensor_new(b->ctx, &shp[i], &gin[i])))
                    goto fail_b;
                x.ginp[i] = &gin[i];
            }
        time_op(b, &x, op_bwd, rb, "backward");
    } else if (rb >= 0) {
        g_c[rb][b->col] = g_c[rf][b->col];
    }
    goto out;
fail:
    rec_fail(rf, b->col, st, stage);
    if (rb >= 0)
        g_c[rb][b->col] = g_c[rf][b->col];
    goto out;
fail_b:
    rec_fail(rb, b->col, st, "backward setup");
out:
    for (int i = 0; i < 3; i++) {
        clg_tensor_free(&in[i]);
        clg_tensor_free(&gin[i]);
    }
    clg_tensor_free(&out);
    clg_tensor_free(&gout);
}

static void bench_adam(bdev *b)
{
    int row = metric_row("op/adam 784x256", "adam update 784x256", "us");
    clg_shape s = clg_shape_make(CLG_F32, 2, (int64_t[]){ 784, 256 });
    clg_tensor p = { 0 }, g = { 0 }, m = { 0 }, v = { 0 };
    clg_status st;
    oin u = { 0, 0, 0, 0, K_UNIFORM, 0 };
    double t[64];
    int n = b->rusticl ? 3 : b->o->quick ? 5 : 15;
    if ((st = clg_tensor_new(b->ctx, &s, &p)) || (st = clg_tensor_new(b->ctx, &s, &g)) ||
        (st = clg_tensor_zeros(b->ctx, &s, &m)) || (st = clg_tensor_zeros(b->ctx, &s, &v)) ||
        (st = upload_rand(&p, &u, 1)) || (st = upload_rand(&g, &u, 2)))
        goto fail;
    for (int r = -1; r < n; r++) {
        double t0 = util_now();
        if ((st = clg_adam_update(b->ctx, &p, &g, &m, &v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0, r + 2)) ||
            (st = clg_ctx_finish(b->ctx)))
            goto fail;
        if (r >= 0)
            t[r] = util_now() - t0;
    }
    rec_times(row, b->col, t, n, 0, 1e6);
    goto out;
fail:
    rec_fail(row, b->col, st, "adam");
out:
    clg_tensor_free(&p);
    clg_tensor_free(&g);
    clg_tensor_free(&m);
    clg_tensor_free(&v);
}

/* ---- training throughput --------------------------------------------------------------------- */

/* Warm up, then reps chunks of `steps` steps (uploading the batch each step); samples/s per chunk. */
static clg_status time_steps(bdev *b, clg_graph *g, int x, const float *hx, int y, const int32_t *hy, int batch,
                             int row)
{
    int chunks = b->reps, steps = b->rusticl ? 2 : b->o->quick ? 3 : 10;
    double t[64];
    clg_status st;
    for (int i = 0; i < 2; i++)
        if ((st = clg_graph_set_input(g, x, hx)) || (y >= 0 && (st = clg_graph_set_input(g, y, hy))) ||
            (st = clg_graph_step(g, NULL)))
            return st;
    if ((st = clg_ctx_finish(b->ctx)))
        return st;
    for (int r = 0; r < chunks; r++) {
        double t0 = util_now();
        for (int s = 0; s < steps; s++)
            if ((st = clg_graph_set_input(g, x, hx)) || (y >= 0 && (st = clg_graph_set_input(g, y, hy))) ||
                (st = clg_graph_step(g, NULL)))
                return st;
        if ((st = clg_ctx_finish(b->ctx)))
            return st;
        t[r] = util_now() - t0;
    }
    rec_times(row, b->col, t, chunks, (double)batch * steps, 1.0);
    return CLG_OK;
}

/* Kernel launches of one training step (the last one timed) into row `row`. */
static void rec_step_launches(bdev *b, clg_graph *g, int row)
{
    clg_graph_stats gs;
    clg_status st = clg_graph_stats_get(g, &gs);
    if (st) {
        rec_fail(row, b->col, st, "stats");
        return;
    }
    double v = (double)gs.step_launches;
    rec_values(row, b->col, &v, 1);
}

/* A built training graph: Adam, plan, time its steps into `row` and its launches per step into
 * `lrow`; *stage names the part that failed. */
static clg_status bench_graph(bdev *b, clg_graph *g, int x, const float *hx, int y, const int32_t *hy, int batch,
                              int row, int lrow, const char **stage)
{
    clg_optim_options oo = clg_optim_defaults(CLG_OPTIM_ADAM);
    clg_status st;
    *stage = "plan";
    if ((st = clg_graph_set_optimizer(g, &oo)) || (st = clg_graph_plan(g, CLG_PLAN_TRAIN)))
        return st;
    *stage = "step";
    if ((st = time_steps(b, g, x, hx, y, hy, batch, row)))
        return st;
    rec_step_launches(b, g, lrow);
    return CLG_OK;
}

static void bench_mlp(bdev *b)
{
    int row = metric_row("train/mlp", "MLP 784-256-256-10 b128 Adam step", "samples/s");
    const int widths[] = { 784, 256, 256, 10 }, batch = 128;
    clg_mlp m = { 0 };
    float *hx = malloc((size_t)batch * 784 * sizeof(float));
    int32_t *hy = malloc((size_t)batch * sizeof(int32_t));
    const char *stage = "build";
    clg_status st = CLG_ERR_OUT_OF_MEMORY;
    if (!hx || !hy)
        goto fail;
    fill_rand(hx, (size_t)batch * 784, 3);
    for (int i = 0; i < batch; i++)
        hy[i] = (int32_t)((i * 7919u) % 10u);
    if ((st = clg_mlp_build(b->ctx, widths, 4, batch, 1, &m)) ||
        (st = bench_graph(b, m.g, m.x, hx, m.labels, hy, batch, row,
                          metric_row("train/mlp_launches", "MLP step: kernel launches", "launches"), &stage)))
        goto fail;
    goto out;
fail:
    rec_fail(row, b->col, st, stage);
out:
    clg_mlp_destroy(&m);
    free(hx);
    free(hy);
}

static void bench_mae(bdev *b)
{
    int row = metric_row("train/mae", "MAE 784-512-128 b256 Adam step", "samples/s");
    clg_mae_config cfg = clg_mae_defaults();
    clg_mae m = { 0 };
    float *hx = malloc((size_t)cfg.batch * 784 * sizeof(float));
    const char *stage = "build";
    clg_status st = CLG_ERR_OUT_OF_MEMORY;
    if (!hx)
        goto fail;
    fill_rand(hx, (size_t)cfg.batch * 784, 4);
    for (int i = 0; i < cfg.batch * 784; i++)
        hx[i] += 0.5f;
    if ((st = clg_mae_build(b->ctx, &cfg, &m)) ||
        (st = bench_graph(b, m.g, m.x, hx, -1, NULL, cfg.batch, row,
                          metric_row("train/mae_launches", "MAE step: kernel launches", "launches"), &stage)))
        goto fail;
    goto out;
fail:
    rec_fail(row, b->col, st, stage);
out:
    clg_mae_destroy(&m);
    free(hx);
}

/* Skip-gram negative-sampling launches over a synthetic Zipf-distributed chunk (vocabulary 30,000,
 * dim 100, window 5, 5 negatives, 32,768 positions per launch as `train sgns` uses): centre positions
 * trained per second.  `train sgns` reports words read, before subsampling drops the frequent ones,
 * so its words/s is higher than this for the same speed. */
static void bench_sgns(bdev *b)
{
    int row = metric_row("train/sgns", "SGNS d100 w5 neg5 launch", "positions/s");
    const int V = 30000, dim = 100, neg = 5, win = 5;
    int n = b->rusticl ? 4096 : 32768, steps = b->rusticl ? 1 : b->o->quick ? 2 : 4;
    int *tok = malloc((size_t)n * sizeof(int)), *span = malloc((size_t)n * 2 * sizeof(int));
    int *ng = malloc((size_t)n * (size_t)neg * sizeof(int));
    clg_sgns *m = NULL;
    const char *stage = "build";
    clg_status st = CLG_ERR_OUT_OF_MEMORY;
    double t[64];
    if (!tok || !span || !ng)
        goto fail;
    uint32_t s = 12345u;
    for (int i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        /* Zipf-like ids: V^u - 1 for u uniform in [0,1) */
        tok[i] = (int)(pow((double)V, (double)(s >> 8) / 16777216.0)) - 1;
        s = s * 1664525u + 1013904223u;
        int r = 1 + (int)((s >> 8) % (uint32_t)win);
        span[2 * i] = i < r ? i : r;
        span[2 * i + 1] = n - 1 - i < r ? n - 1 - i : r;
        for (int k = 0; k < neg; k++) {
            s = s * 1664525u + 1013904223u;
            ng[i * neg + k] = (int)(pow((double)V, (double)(s >> 8) / 16777216.0)) - 1;
        }
    }
    if ((st = clg_sgns_create(b->ctx, V, dim, neg, 1, &m)))
        goto fail;
    stage = "step";
    if ((st = clg_sgns_step(m, tok, span, ng, n, 0.025f, NULL)) || (st = clg_ctx_finish(b->ctx)))
        goto fail;
    for (int r = 0; r < b->reps; r++) {
        double t0 = util_now();
        for (int i = 0; i < steps; i++)
            if ((st = clg_sgns_step(m, tok, span, ng, n, 0.025f, NULL)))
                goto fail;
        if ((st = clg_ctx_finish(b->ctx)))
            goto fail;
        t[r] = util_now() - t0;
    }
    rec_times(row, b->col, t, b->reps, (double)n * steps, 1.0);
    goto out;
fail:
    rec_fail(row, b->col, st, stage);
out:
    clg_sgns_free(m);
    free(tok);
    free(span);
    free(ng);
}

/* ---- one device ------------------------------------------------------------------------------ */

static void bench_device(const clg_device_info *d, int col, const opts *o)
{
    bdev b;
    memset(&b, 0, sizeof b);
    b.col = col;
    b.o = o;
    b.info = d;
    b.rusticl = strstr(d->platform_name, "rusticl") != NULL;
    b.reps = o->reps > 0 ? o->reps : b.rusticl ? 3 : o->quick ? 3 : 7;
    if (b.reps > 64)
        b.reps = 64;
    column *c = &g_col[col];
    snprintf(c->id, sizeof c->id, "%d:%d", d->platform_index, d->device_index);
    snprintf(c->name, sizeof c->name, "%s", d->name);
    snprintf(c->platform, sizeof c->platform, "%s", d->platform_name);
    snprintf(c->driver, sizeof c->driver, "%s", d->driver_version);
    double t0 = util_now();
    clg_status st = clg_ctx_create(d, NULL, &b.ctx);
    if (st) {
        int row = metric_row("peak_gflops", "peak FLOP/s (multiply-add chains, best of float1/4/8/16)", "GFLOP/s");
        rec_fail(row, col, st, "context");
        return;
    }
    b.q = (cl_command_queue)clg_ctx_cl_queue(b.ctx);
    snprintf(g_section, sizeof g_section, "device");
    bench_peak(&b);
    if (getenv("CLGRAD_BENCH_VERBOSE"))
        fprintf(stderr, "  peak done (%.1f s)\n", util_now() - t0);
    bench_bandwidth(&b);
    if (getenv("CLGRAD_BENCH_VERBOSE"))
        fprintf(stderr, "  bandwidth done (%.1f s)\n", util_now() - t0);
    bench_launch(&b);
    fprintf(stderr, "clgrad bench: D%d micro-benchmarks done (%.1f s)\n", col, util_now() - t0);
    snprintf(g_section, sizeof g_section, "gemm");
    bench_gemm(&b);
    fprintf(stderr, "clgrad bench: D%d gemm done (%.1f s)\n", col, util_now() - t0);
    snprintf(g_section, sizeof g_section, "ops");
    for (int i = 0; i < N_OCASES; i++)
        bench_op(&b, &ocases[i]);
    bench_adam(&b);
    snprintf(g_section, sizeof g_section, "training");
    bench_mlp(&b);
    bench_mae(&b);
    bench_sgns(&b);
    if (b.micro)
        clReleaseProgram(b.micro);
    clg_ctx_destroy(b.ctx);
    fprintf(stderr, "clgrad bench: D%d %s done in %.1f s\n", col, d->name, util_now() - t0);
}

/* ---- output ---------------------------------------------------------------------------------- */

static void fmt_num(char *buf, size_t n, double v)
{
    double a = fabs(v);
    snprintf(buf, n, a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3g", v);
}

static void fmt_cell(char *buf, size_t n, const cellv *c)
{
    switch (c->state) {
    case ST_OK: {
        char a[32], lo[32], hi[32];
        fmt_num(a, sizeof a, c->med);
        fmt_num(lo, sizeof lo, c->min);
        fmt_num(hi, sizeof hi, c->max);
        if (c->reps > 1)
            snprintf(buf, n, "%s (%s-%s)", a, lo, hi);
        else
            snprintf(buf, n, "%s", a);
        break;
    }
    case ST_NA: snprintf(buf, n, "n/a"); break;
    case ST_ERR: snprintf(buf, n, "err"); break;
    case ST_SKIP: snprintf(buf, n, "-"); break;
    default: snprintf(buf, n, "%s", ""); break;
    }
}

static void print_table(void)
{
    printf("Columns:\n");
    for (int c = 0; c < g_ncol; c++)
        printf("  %-5s %s (%s, %s)\n", g_col[c].id, g_col[c].name, g_col[c].platform, g_col[c].driver);
    printf("Cells: median (min-max) of the repetitions; n/a = op not in this build; - = skipped; err = failed.\n");
    int wl = 6, wu = 4, wc[MAX_COLS];
    char buf[128];
    for (int c = 0; c < g_ncol; c++)
        wc[c] = (int)strlen(g_col[c].id);
    for (int i = 0; i < g_nm; i++) {
        int l = (int)strlen(g_m[i].label);
        wl = l > wl ? l : wl;
        l = (int)strlen(g_m[i].unit);
        wu = l > wu ? l : wu;
        for (int c = 0; c < g_ncol; c++) {
            fmt_cell(buf, sizeof buf, &g_c[i][c]);
            l = (int)strlen(buf);
            wc[c] = l > wc[c] ? l : wc[c];
        }
    }
    const char *sec = "";
    for (int i = 0; i < g_nm; i++) {
        if (strcmp(sec, g_m[i].section)) {
            sec = g_m[i].section;
            printf("\n%-*s  %-*s", wl, sec, wu, "unit");
            for (int c = 0; c < g_ncol; c++)
                printf("  %*s", wc[c], g_col[c].id);
            printf("\n");
        }
        char line[1024];
        int len = snprintf(line, sizeof line, "%-*s  %-*s", wl, g_m[i].label, wu, g_m[i].unit);
        for (int c = 0; c < g_ncol && len < (int)sizeof line; c++) {
            fmt_cell(buf, sizeof buf, &g_c[i][c]);
            len += snprintf(line + len, sizeof line - (size_t)len, "  %*s", wc[c], buf);
        }
        len = len < (int)sizeof line ? len : (int)sizeof line - 1;
        while (len > 0 && line[len - 1] == ' ')
            line[--len] = 0;
        printf("%s\n", line);
    }
    int first = 1;
    for (int i = 0; i < g_nm; i++)
        for (int c = 0; c < g_ncol; c++)
            if (g_c[i][c].state == ST_ERR) {
                if (first)
                    printf("\nErrors:\n");
                first = 0;
                printf("  %s %s: %s\n", g_col[c].id, g_m[i].key, g_c[i][c].msg);
            }
}

/* One device and one metric per line, so `bench compare` can read it back without a JSON library. */
static int write_json(const char *path, const opts *o)
{
    clg_file_writer *w;
    clg_status st = clg_file_writer_open(path, &w);
    if (st)
        return cli_fail("bench --json", st);
    FILE *f = clg_file_writer_stream(w);
    fprintf(f, "{\n  \"format\": \"clgrad-bench-1\",\n  \"version\": \"%s\",\n  \"quick\": %s,\n  \"full\": %s,\n",
            CLGRAD_VERSION_STRING, o->quick ? "true" : "false", o->full ? "true" : "false");
    fprintf(f, "  \"devices\": [\n");
    for (int c = 0; c < g_ncol; c++) {
        fprintf(f, "    {\"index\": %d, \"id\": ", c);
        util_json_str(f, g_col[c].id);
        fprintf(f, ", \"name\": ");
        util_json_str(f, g_col[c].name);
        fprintf(f, ", \"platform\": ");
        util_json_str(f, g_col[c].platform);
        fprintf(f, ", \"driver\": ");
        util_json_str(f, g_col[c].driver);
        fprintf(f, "}%s\n", c + 1 < g_ncol ? "," : "");
    }
    fprintf(f, "  ],\n  \"metrics\": [\n");
    int first = 1;
    for (int i = 0; i < g_nm; i++)
        for (int c = 0; c < g_ncol; c++) {
            const cellv *v = &g_c[i][c];
            if (v->state == ST_NONE)
                continue;
            fprintf(f, "%s    {\"device\": %d, \"key\": ", first ? "" : ",\n", c);
            first = 0;
            util_json_str(f, g_m[i].key);
            fprintf(f, ", \"label\": ");
            util_json_str(f, g_m[i].label);
            fprintf(f, ", \"section\": \"%s\", \"unit\": \"%s\", \"status\": \"%s\"", g_m[i].section, g_m[i].unit,
                    state_names[v->state]);
            if (v->state == ST_OK)
                fprintf(f, ", \"median\": %.6g, \"min\": %.6g, \"max\": %.6g, \"reps\": %d", v->med, v->min, v->max,
                        v->reps);
            else {
                fprintf(f, ", \"median\": null, \"message\": ");
                util_json_str(f, v->msg);
            }
            fprintf(f, "}");
        }
    fprintf(f, "\n  ]\n}\n");
    if ((st = clg_file_writer_commit(w)))
        return cli_fail("bench --json", st);
    return 0;
}

/* ---- compare --------------------------------------------------------------------------------- */

/* The string value of "key" in a line written by write_json (unescaped); 0 if absent. */
static int jstr(const char *line, const char *key, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    const char *p = strstr(line, pat);
    if (!p)
        return 0;
    p += strlen(pat);
    size_t k = 0;
    for (; *p && *p != '"'; p++) {
        char ch = *p;
        if (ch == '\\' && p[1]) {
            p++;
            ch = *p == 'u' ? '?' : *p;
            if (*p == 'u')
                p += strlen(p) >= 5 ? 4 : 0;
        }
        if (k + 1 < n)
            out[k++] = ch;
    }
    out[k] = 0;
    return 1;
}

static int jnum(const char *line, const char *key, double *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(line, pat);
    if (!p)
        return 0;
    p += strlen(pat);
    char *e;
    *out = strtod(p, &e);
    return e != p;
}

typedef struct jmetric {
    int dev;
    char key[80], label[80], unit[16];
    double med;
} jmetric;

typedef struct jfile {
    column dev[MAX_COLS];
    int ndev;
    jmetric *m;
    int nm;
} jfile;

static int read_results(const char *path, jfile *jf)
{
    memset(jf, 0, sizeof *jf);
    FILE *f;
    clg_status st0 = clg_file_open_read(path, "bench results", &f);
    if (st0)
        return cli_fail("bench compare", st0);
    char line[2048], st[16];
    int cap = 0, fmt_ok = 0;
    while (fgets(line, sizeof line, f)) {
        double d;
        if (strstr(line, "\"format\": \"clgrad-bench-"))
            fmt_ok = 1;
        if (jnum(line, "index", &d) && jf->ndev < MAX_COLS) {
            column *c = &jf->dev[jf->ndev++];
            jstr(line, "id", c->id, sizeof c->id);
            jstr(line, "name", c->name, sizeof c->name);
            jstr(line, "platform", c->platform, sizeof c->platform);
            jstr(line, "driver", c->driver, sizeof c->driver);
        } else if (jnum(line, "device", &d) && jstr(line, "key", st, 1)) {
            if (!jstr(line, "status", st, sizeof st) || strcmp(st, "ok"))
                continue;
            if (jf->nm == cap) {
                cap = cap ? 2 * cap : 256;
                jmetric *nm = realloc(jf->m, (size_t)cap * sizeof *nm);
                if (!nm)
                    break;
                jf->m = nm;
            }
            jmetric *m = &jf->m[jf->nm];
            m->dev = (int)d;
            jstr(line, "key", m->key, sizeof m->key);
            jstr(line, "label", m->label, sizeof m->label);
            jstr(line, "unit", m->unit, sizeof m->unit);
            if (jnum(line, "median", &m->med))
                jf->nm++;
        }
    }
    fclose(f);
    if (!fmt_ok) {
        fprintf(stderr, "clgrad bench compare: %s is not a `clgrad bench --json` file\n", path);
        return 1;
    }
    return 0;
}

/* Pair each device of A with the one of B of the same id, name and platform; failing that, the same position. */
static int pair_device(const jfile *a, int da, const jfile *b)
{
    for (int d = 0; d < b->ndev; d++)
        if (!strcmp(a->dev[da].name, b->dev[d].name) && !strcmp(a->dev[da].platform, b->dev[d].platform) &&
            !strcmp(a->dev[da].id, b->dev[d].id))
            return d;
    for (int d = 0; d < b->ndev; d++)
        if (!strcmp(a->dev[da].name, b->dev[d].name) && !strcmp(a->dev[da].platform, b->dev[d].platform))
            return d;
    return da < b->ndev ? da : -1;
}

static int cmd_compare(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: clgrad bench compare A.json B.json\n");
        return 2;
    }
    jfile a, b;
    if (read_results(argv[1], &a) || read_results(argv[2], &b)) {
        free(a.m);
        return 1;
    }
    printf("A = %s\nB = %s\nratio = B/A (for us, lower is better; for the rates, higher is better)\n", argv[1],
           argv[2]);
    int wl = 6, shown = 0;
    for (int i = 0; i < a.nm; i++) {
        int l = (int)strlen(a.m[i].label);
        wl = l > wl ? l : wl;
    }
    for (int da = 0; da < a.ndev; da++) {
        int db = pair_device(&a, da, &b);
        if (db < 0)
            continue;
        int header = 0;
        for (int i = 0; i < a.nm; i++) {
            if (a.m[i].dev != da)
                continue;
            const jmetric *mb = NULL;
            for (int j = 0; j < b.nm && !mb; j++)
                if (b.m[j].dev == db && !strcmp(b.m[j].key, a.m[i].key))
                    mb = &b.m[j];
            if (!mb)
                continue;
            if (!header) {
                printf("\nA: %s %s (%s, %s)\nB: %s %s (%s, %s)\n", a.dev[da].id, a.dev[da].name, a.dev[da].platform,
                       a.dev[da].driver, b.dev[db].id, b.dev[db].name, b.dev[db].platform, b.dev[db].driver);
                printf("%-*s  %-9s  %10s  %10s  %7s\n", wl, "metric", "unit", "A", "B", "B/A");
                header = 1;
            }
            char va[32], vb[32], r[32];
            fmt_num(va, sizeof va, a.m[i].med);
            fmt_num(vb, sizeof vb, mb->med);
            if (a.m[i].med != 0)
                snprintf(r, sizeof r, "%.2fx", mb->med / a.m[i].med);
            else
                snprintf(r, sizeof r, "-");
            printf("%-*s  %-9s  %10s  %10s  %7s\n", wl, a.m[i].label, a.m[i].unit, va, vb, r);
            shown++;
        }
    }
    if (!shown)
        printf("\nno metric is present (with status ok) in both files\n");
    free(a.m);
    free(b.m);
    return 0;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clgrad bench [--device SPEC[,SPEC...]] [--quick] [--full] [--reps N]\n"
            "                    [--paths tiled,local,simple,clblast] [--json FILE]\n"
            "       clgrad bench compare A.json B.json\n"
            "Measures, per device side by side: peak FLOP/s, copy bandwidth, launch latency, GEMM GFLOP/s\n"
            "per path at the MLP shapes and 512^3 (beside host OpenBLAS when linked), op times and\n"
            "training throughput and kernel launches per step of the MLP and MAE steps, SGNS positions/s.  Cells are medians\n"
            "with (min-max).\n"
            "  --device   devices to measure (default: all; auto, cpu, gpu, P:D, name substring)\n"
            "  --quick    fewer repetitions and only 512^3 NN among the square shapes\n"
            "  --full     also 2048^3, and on rusticl the tiled path, CLBlast and 512^3 on all paths\n"
            "  --reps N   repetitions per measurement\n"
            "  --paths    GEMM paths to measure (default tiled,local,simple,clblast)\n"
            "  --json F   write every result (median, min, max, unit, device, driver) to F\n"
            "  compare    for each metric in both files: A, B and B/A\n");
}

int cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "compare"))
        return cmd_compare(argc - 1, argv + 1);
    opts o = { 0 };
    o.paths = "tiled,local,simple,clblast";
    char *used = calloc((size_t)argc + 1, 1);
    if (!used)
        return 1;
    if (util_flag(argc, argv, used, "--help") || util_flag(argc, argv, used, "-h")) {
        usage(stdout);
        free(used);
        return 0;
    }
    o.quick = util_flag(argc, argv, used, "--quick");
    o.full = util_flag(argc, argv, used, "--full");
    o.device = util_opt(argc, argv, used, "--device");
    o.json = util_opt(argc, argv, used, "--json");
    const char *p = util_opt(argc, argv, used, "--paths");
    if (p)
        o.paths = p;
    if (p) {
        char list[128];
        snprintf(list, sizeof list, "%s", p);
        char *save = NULL;
        for (char *q = strtok_r(list, ",", &save); q; q = strtok_r(NULL, ",", &save))
            if (strcmp(q, "tiled") && strcmp(q, "local") && strcmp(q, "simple") && strcmp(q, "clblast")) {
                fprintf(stderr, "clgrad bench: unknown GEMM path '%s' (tiled, local, simple, clblast)\n", q);
                free(used);
                return 2;
            }
    }
    if (util_opt_int("bench", argc, argv, used, "--reps", 1, 1000000, &o.reps)) {
        free(used);
        return 2;
    }
    if (util_unknown("bench", argc, argv, used)) {
        usage(stderr);
        free(used);
        return 2;
    }
    free(used);
#ifdef HAVE_OPENBLAS
    int have_blas = blas_open();
    if (have_blas)
        util_pin_blas_threads();
#endif
    /* PoCL's workers stay as the user has them (unlike bench_gemm and tune), so the training
     * rows show what a user's run gets; the single-call GEMM rows are then often ~2x slow
     * (see util.h), the queued rows are not. */
    clg_device_info *devs = NULL;
    int ndev = 0;
    if (util_select_devices(o.device, &devs, &ndev))
        return cli_fail("bench", CLG_ERR_NO_DEVICE);
    if (ndev > MAX_COLS - 1)
        ndev = MAX_COLS - 1;
    g_ncol = ndev;
#ifdef HAVE_OPENBLAS
    if (have_blas) {
        util_pin_caller(1);
        bench_blas(&o);
        util_pin_caller(0);
    }
#endif
    for (int d = 0; d < ndev; d++)
        bench_device(&devs[d], d, &o);
#ifdef HAVE_OPENBLAS
    column *h = have_blas ? &g_col[g_ncol] : NULL;
    if (h) {
        snprintf(h->id, sizeof h->id, "host");
        snprintf(h->name, sizeof h->name, "OpenBLAS cblas_sgemm");
        snprintf(h->platform, sizeof h->platform, "host CPU");
        snprintf(h->driver, sizeof h->driver, "%s", p_blas_config());
        snprintf(g_section, sizeof g_section, "gemm");
        record_blas(&o, g_ncol);
        g_ncol++;
    }
#endif
    print_table();
    int rc = 0;
    if (o.json && write_json(o.json, &o))
        rc = 1;
    for (int i = 0; i < g_nm; i++)
        for (int c = 0; c < g_ncol; c++)
            rc |= g_c[i][c].state == ST_ERR;
    clg_devices_free(devs);
    return rc;
}
