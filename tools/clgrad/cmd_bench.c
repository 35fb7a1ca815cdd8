/* cmd_bench.c — `clgrad bench`: peak FLOP/s, bandwidth, launch latency, GEMM paths, ops and training throughput per device; `bench compare`. */
#include <CL/cl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bench_cases.h"
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

/* Everything one run measures, passed to whatever records or prints it (~400 kB: on the heap). */
typedef struct results {
    metric m[MAX_METRICS];
    int nm;
    cellv c[MAX_METRICS][MAX_COLS];
    column col[MAX_COLS];
    int ncol;
    char section[24];       /* the section that new rows join */
} results;

typedef struct opts {
    int quick, full, reps;
    const char *device, *json, *paths;
} opts;

/* The row of key (created on first use, in first-use order). */
static int metric_row(results *r, const char *key, const char *label, const char *unit)
{
    for (int i = 0; i < r->nm; i++)
        if (!strcmp(r->m[i].key, key))
            return i;
    if (r->nm >= MAX_METRICS)
        return MAX_METRICS - 1;
    metric *m = &r->m[r->nm];
    snprintf(m->key, sizeof m->key, "%s", key);
    snprintf(m->label, sizeof m->label, "%s", label);
    snprintf(m->unit, sizeof m->unit, "%s", unit);
    snprintf(m->section, sizeof m->section, "%s", r->section);
    return r->nm++;
}

static void rec_values(results *r, int row, int col, double *v, int n)
{
    cellv *c = &r->c[row][col];
    c->med = util_sort_median(v, n);
    c->state = ST_OK;
    c->reps = n;
    c->min = v[0];
    c->max = v[n - 1];
}

/* Seconds per repetition -> rate work/seconds * scale (or time * scale when work == 0). */
static void rec_times(results *r, int row, int col, const double *sec, int n, double work, double scale)
{
    double v[256];
    if (n > 256)
        n = 256;
    for (int i = 0; i < n; i++)
        v[i] = work > 0 ? work / sec[i] * scale : sec[i] * scale;
    rec_values(r, row, col, v, n);
}

static void rec_fail(results *r, int row, int col, clg_status st, const char *stage)
{
    cellv *c = &r->c[row][col];
    c->state = st == CLG_ERR_UNSUPPORTED ? ST_NA : ST_ERR;
    snprintf(c->msg, sizeof c->msg, "%s: %s: %s", stage, clg_status_name(st), clg_last_error());
}

static void rec_skip(results *r, int row, int col, const char *why)
{
    r->c[row][col].state = ST_SKIP;
    snprintf(r->c[row][col].msg, sizeof r->c[row][col].msg, "%s", why);
}

/* ---- per-device context ---------------------------------------------------------------------- */

typedef struct bdev {
    results *r;
    clg_ctx *ctx;
    cl_command_queue q;
    cl_program micro;
    int col;
    int rusticl;
    int reps;            /* repetitions per measurement */
    const opts *o;
    const clg_device_info *info;
    double peak_gflops;  /* the peak row's fastest launch (its max), 0 when it failed */
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
    "}\n";

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

/* Peak: the best of multiply-add chains on float, float4, float8 and float16 (bench_peak_flops,
 * shared with `train --profile`); its fastest launch is kept in b->peak_gflops for the training
 * rows' fraction of it: a peak is a ceiling, and a slow spell of the machine only lowers a reading. */
static void bench_peak(bdev *b)
{
    int row = metric_row(b->r, "peak_gflops", "peak FLOP/s (multiply-add chains, best of float1/4/8/16)", "GFLOP/s");
    double rates[64];
    int width = 0;
    cellv *c = &b->r->c[row][b->col];
    clg_status st = bench_peak_flops(b->ctx, (int)b->info->compute_units, b->o->quick ? 0.02 : 0.06, b->reps, rates,
                                     &width, NULL, c->msg, sizeof c->msg);
    if (st) {
        c->state = st == CLG_ERR_UNSUPPORTED ? ST_NA : ST_ERR;
        return;
    }
    for (int i = 0; i < b->reps; i++)
        rates[i] *= 1e-9;
    rec_values(b->r, row, b->col, rates, b->reps);
    b->peak_gflops = c->max;
}

static void bench_bandwidth(bdev *b)
{
    int row = metric_row(b->r, "copy_gbps", "memory bandwidth (copy 64 MiB, r+w)", "GB/s");
    size_t bytes = (size_t)64 << 20;
    while (bytes > b->info->max_alloc / 2 && bytes > ((size_t)1 << 20))
        bytes /= 2;
    cl_kernel k = NULL;
    cl_mem src = NULL, dst = NULL;
    clg_status st = micro_kernel(b, "k_copy", &k);
    if (st) {
        rec_fail(b->r, row, b->col, st, "build");
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
    rec_times(b->r, row, b->col, t, b->reps, 2.0 * (double)bytes, 1e-9);
    goto out;
fail:
    b->r->c[row][b->col].state = ST_ERR;
    snprintf(b->r->c[row][b->col].msg, sizeof b->r->c[0][0].msg, "bandwidth: OpenCL error (%zu MiB buffers)",
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
    int row = metric_row(b->r, "launch_us", "launch latency (empty kernel, enqueue+finish)", "us");
    cl_kernel k = NULL;
    clg_status st = micro_kernel(b, "k_empty", &k);
    if (st) {
        rec_fail(b->r, row, b->col, st, "build");
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
    rec_times(b->r, row, b->col, t, n, 0, 1e6);
    goto out;
fail:
    b->r->c[row][b->col].state = ST_ERR;
    snprintf(b->r->c[row][b->col].msg, sizeof b->r->c[0][0].msg, "launch: OpenCL error");
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

static int gemm_row(results *r, const gcase *c, const char *path)
{
    char key[80], label[80];
    snprintf(key, sizeof key, "gemm/%s/%s", path ? path : "queued", c->name);
    if (path)
        snprintf(label, sizeof label, "%-7s %s", path, c->name);
    else
        snprintf(label, sizeof label, "%-7s %s, %d queued", "default", c->name, QUEUED);
    return metric_row(r, key, label, "GFLOP/s");
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
    int row = gemm_row(b->r, c, path);
    const char *why = path ? gemm_skip(b, c, path) : NULL;
    if (why) {
        rec_skip(b->r, row, b->col, why);
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
    clg_attrs at = clg_attrs_defaults();
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
        rec_times(b->r, row, b->col, t, n, 2.0 * c->M * c->N * (double)c->K, 1e-9);
        b->r->c[row][b->col].med = 2.0 * c->M * c->N * (double)c->K / keep * 1e-9;
        b->r->c[row][b->col].reps = 1;
    } else
        rec_times(b->r, row, b->col, t, n, 2.0 * c->M * c->N * (double)c->K, 1e-9);
    goto out;
fail:
    rec_fail(b->r, row, b->col, st, stage);
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
 * every path's row of that case.
 * OpenBLAS is opened here, by bench alone: linked into the tool, its worker threads would start
 * before main with every signal unblocked and take the SIGINT that the training commands handle
 * in a thread of their own (common.c). */
typedef struct blas_run {
    __typeof__(cblas_sgemm) *sgemm;
    __typeof__(openblas_get_config) *config;
    double t[N_GCASES][64]; /* seconds per call */
    int n[N_GCASES];
} blas_run;

static int blas_open(blas_run *bl)
{
    void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (h) {
        bl->sgemm = (__typeof__(cblas_sgemm) *)dlsym(h, "cblas_sgemm");
        bl->config = (__typeof__(openblas_get_config) *)dlsym(h, "openblas_get_config");
    }
    if (!bl->sgemm || !bl->config) {
        fprintf(stderr, "clgrad bench: no OpenBLAS column (libopenblas.so.0: %s)\n", h ? "no cblas_sgemm" : dlerror());
        return 0;
    }
    return 1;
}

static void bench_blas(blas_run *bl, const opts *o)
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
                bl->sgemm(CblasRowMajor, c->ta ? CblasTrans : CblasNoTrans, c->tb ? CblasTrans : CblasNoTrans,
                            c->M, c->N, c->K, 1.0f, a, lda, bm, ldb, 0.0f, out, c->N);
                if (r >= 0)
                    bl->t[i][r] = util_now() - t0;
            }
            bl->n[i] = reps;
        }
        free(a);
        free(bm);
        free(out);
    }
    /* OpenBLAS's idle threads spin for a while and would steal the cores from OpenCL */
    nanosleep(&(struct timespec){ .tv_sec = 0, .tv_nsec = 300000000 }, NULL);
}

static void record_blas(results *r, const blas_run *bl, const opts *o, int col)
{
    for (int i = 0; i < N_GCASES; i++) {
        const gcase *c = &gcases[i];
        if (!bl->n[i])
            continue;
        double flop = 2.0 * c->M * c->N * (double)c->K;
        char list[128];
        snprintf(list, sizeof list, "%s", o->paths);
        char *save = NULL;
        for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
            rec_times(r, gemm_row(r, c, p), col, bl->t[i], bl->n[i], flop, 1e-9);
        /* back to back is how OpenBLAS runs anyway (its threads spin between calls) */
        if (c->cls == 0)
            rec_times(r, gemm_row(r, c, NULL), col, bl->t[i], bl->n[i], flop, 1e-9);
    }
}
#endif

/* ---- ops ------------------------------------------------------------------------------------- */

/* The cases with a bench_label in the table shared with bench_ops (tools/bench_cases.c). */

typedef struct opcall {
    clg_ctx *ctx;
    const bench_case *c;
    const clg_tensor *inp[4];
    clg_tensor *out, *gout, *ginp[4];
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
        rec_fail(b->r, row, b->col, st, stage);
        return;
    }
    for (int r = 0; r < n; r++) {
        double t0 = util_now();
        if ((st = fn(x)) || (st = clg_ctx_finish(b->ctx))) {
            rec_fail(b->r, row, b->col, st, stage);
            return;
        }
        t[r] = util_now() - t0;
    }
    rec_times(b->r, row, b->col, t, n, 0, 1e6);
}

static void bench_op(bdev *b, const bench_case *c)
{
    char key[80], label[80];
    snprintf(key, sizeof key, "op/%s/fwd", c->bench_label);
    snprintf(label, sizeof label, "%s fwd", c->bench_label);
    int rf = metric_row(b->r, key, label, "us"), rb = -1;
    if (!c->bench_fwd_only) {
        snprintf(key, sizeof key, "op/%s/bwd", c->bench_label);
        snprintf(label, sizeof label, "%s bwd", c->bench_label);
        rb = metric_row(b->r, key, label, "us");
    }
    clg_tensor in[4], out, gout, gin[4];
    memset(in, 0, sizeof in);
    memset(gin, 0, sizeof gin);
    memset(&out, 0, sizeof out);
    memset(&gout, 0, sizeof gout);
    opcall x;
    memset(&x, 0, sizeof x);
    x.ctx = b->ctx;
    x.c = c;
    x.a = c->a;
    uint64_t rng = 0x5EED0000u + (uint64_t)c->op;
    const clg_shape *sp[4];
    for (int i = 0; i < c->nin; i++)
        sp[i] = &c->in[i].s;
    clg_shape os;
    clg_status st = clg_op_infer(c->op, sp, &x.a, &os);
    const char *stage = "infer";
    if (st)
        goto fail;
    stage = "setup";
    for (int i = 0; i < c->nin; i++) {
        if ((st = clg_tensor_new(b->ctx, &c->in[i].s, &in[i])) || (st = bench_fill(&in[i], &c->in[i], &rng)))
            goto fail;
        x.inp[i] = &in[i];
    }
    if ((st = clg_tensor_new(b->ctx, &os, &out)))
        goto fail;
    x.out = &out;
    time_op(b, &x, op_fwd, rf, "forward");
    if (rb >= 0 && b->r->c[rf][b->col].state == ST_OK) {
        bench_in gs = { .s = os, .kind = BIN_UNIFORM, .lo = -1, .hi = 1 };
        if ((st = clg_tensor_new(b->ctx, &os, &gout)) || (st = bench_fill(&gout, &gs, &rng)))
            goto fail_b;
        x.gout = &gout;
        for (int i = 0; i < c->nin; i++)
            if (c->in[i].s.dtype == CLG_F32 && !c->in[i].no_grad) {
                if ((st = clg_tensor_new(b->ctx, &c->in[i].s, &gin[i])))
                    goto fail_b;
                x.ginp[i] = &gin[i];
            }
        time_op(b, &x, op_bwd, rb, "backward");
    } else if (rb >= 0) {
        b->r->c[rb][b->col] = b->r->c[rf][b->col];
    }
    goto out;
fail:
    rec_fail(b->r, rf, b->col, st, stage);
    if (rb >= 0)
        b->r->c[rb][b->col] = b->r->c[rf][b->col];
    goto out;
fail_b:
    rec_fail(b->r, rb, b->col, st, "backward setup");
out:
    for (int i = 0; i < 4; i++) {
        clg_tensor_free(&in[i]);
        clg_tensor_free(&gin[i]);
    }
    clg_tensor_free(&out);
    clg_tensor_free(&gout);
}

static void bench_adam(bdev *b)
{
    int row = metric_row(b->r, "op/adam 784x256", "adam update 784x256", "us");
    clg_shape s = clg_shape_make(CLG_F32, 2, (int64_t[]){ 784, 256 });
    clg_tensor p = { 0 }, g = { 0 }, m = { 0 }, v = { 0 };
    clg_status st;
    bench_in u = { .s = s, .kind = BIN_UNIFORM, .lo = -1, .hi = 1 };
    uint64_t rng = 0x5EEDADA1u;
    double t[64];
    int n = b->rusticl ? 3 : b->o->quick ? 5 : 15;
    if ((st = clg_tensor_new(b->ctx, &s, &p)) || (st = clg_tensor_new(b->ctx, &s, &g)) ||
        (st = clg_tensor_zeros(b->ctx, &s, &m)) || (st = clg_tensor_zeros(b->ctx, &s, &v)) ||
        (st = bench_fill(&p, &u, &rng)) || (st = bench_fill(&g, &u, &rng)))
        goto fail;
    for (int r = -1; r < n; r++) {
        double t0 = util_now();
        if ((st = clg_adam_update(b->ctx, &p, &g, &m, &v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0, r + 2)) ||
            (st = clg_ctx_finish(b->ctx)))
            goto fail;
        if (r >= 0)
            t[r] = util_now() - t0;
    }
    rec_times(b->r, row, b->col, t, n, 0, 1e6);
    goto out;
fail:
    rec_fail(b->r, row, b->col, st, "adam");
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
    rec_times(b->r, row, b->col, t, chunks, (double)batch * steps, 1.0);
    return CLG_OK;
}

/* The rows of a training step: samples/s, launches, GEMM GFLOP/s and its fraction of the peak,
 * created together so that their order does not depend on which device fails first. */
typedef struct step_rows {
    int rate, launches, gflops, frac;
} step_rows;

static step_rows train_rows(results *r, const char *key, const char *what, const char *label)
{
    char k[80], l[80];
    step_rows s;
    s.rate = metric_row(r, key, label, "samples/s");
    snprintf(k, sizeof k, "%s_launches", key);
    snprintf(l, sizeof l, "%s step: kernel launches", what);
    s.launches = metric_row(r, k, l, "launches");
    snprintf(k, sizeof k, "%s/gflops", key);
    snprintf(l, sizeof l, "%s step: GEMM FLOP/s (step_flops x steps/s)", what);
    s.gflops = metric_row(r, k, l, "GFLOP/s");
    snprintf(k, sizeof k, "%s/peak_frac", key);
    snprintf(l, sizeof l, "%s step: GEMM FLOP/s as a fraction of peak (its fastest launch)", what);
    s.frac = metric_row(r, k, l, "x peak");
    return s;
}

/* Kernel launches of one training step (the last one timed), and its GEMM FLOP/s (step_flops of
 * the plan x the steps per second of the samples/s cell) and their fraction of this device's peak. */
static void rec_step_stats(bdev *b, clg_graph *g, int batch, const step_rows *rows)
{
    clg_graph_stats gs;
    clg_status st = clg_graph_stats_get(g, &gs);
    if (st) {
        rec_fail(b->r, rows->launches, b->col, st, "stats");
        return;
    }
    double v = (double)gs.step_launches;
    rec_values(b->r, rows->launches, b->col, &v, 1);
    const cellv *rate = &b->r->c[rows->rate][b->col];
    if (rate->state != ST_OK || gs.step_flops <= 0)
        return;
    double scale = gs.step_flops / batch * 1e-9; /* samples/s -> GFLOP/s */
    cellv *c = &b->r->c[rows->gflops][b->col];
    *c = *rate;
    c->med *= scale;
    c->min *= scale;
    c->max *= scale;
    if (b->peak_gflops > 0) {
        cellv *f = &b->r->c[rows->frac][b->col];
        *f = *c;
        f->med /= b->peak_gflops;
        f->min /= b->peak_gflops;
        f->max /= b->peak_gflops;
    } else {
        rec_skip(b->r, rows->frac, b->col, "no peak measured");
    }
}

/* A built training graph: Adam, plan, time its steps into rows; *stage names the part that failed. */
static clg_status bench_graph(bdev *b, clg_graph *g, int x, const float *hx, int y, const int32_t *hy, int batch,
                              const step_rows *rows, const char **stage)
{
    clg_optim_options oo = clg_optim_defaults(CLG_OPTIM_ADAM);
    clg_status st;
    *stage = "plan";
    if ((st = clg_graph_set_optimizer(g, &oo)) || (st = clg_graph_plan(g, CLG_PLAN_TRAIN)))
        return st;
    *stage = "step";
    if ((st = time_steps(b, g, x, hx, y, hy, batch, rows->rate)))
        return st;
    rec_step_stats(b, g, batch, rows);
    return CLG_OK;
}

/* The bench's MLP (784-256-256-10, batch 128) with a batch for it: *hx, *hy malloc'd (freed by
 * the caller, also on failure). */
#define MLP_BATCH 128
static clg_status mlp_with_batch(clg_ctx *ctx, clg_mlp *m, float **hx, int32_t **hy)
{
    static const int widths[] = { 784, 256, 256, 10 };
    *hx = malloc((size_t)MLP_BATCH * 784 * sizeof(float));
    *hy = malloc((size_t)MLP_BATCH * sizeof(int32_t));
    if (!*hx || !*hy)
        return CLG_ERR_OUT_OF_MEMORY;
    fill_rand(*hx, (size_t)MLP_BATCH * 784, 3);
    for (int i = 0; i < MLP_BATCH; i++)
        (*hy)[i] = (int32_t)((i * 7919u) % 10u);
    return clg_mlp_build(ctx, widths, 4, MLP_BATCH, 1, m);
}

/* The MLP's step in the state a run reaches from its second epoch: the batch 0 on each image's
 * 4-pixel frame (Fashion-MNIST's borders nearly are) and every Adam moment at 1e-39, below float's
 * normal range (2^-126), where a zero gradient keeps the frame's weights' moments (the others turn
 * normal at the first step).  On x86 each denormal operand costs a microcode assist: with the
 * kernels' denormals flushed (clg_ctx_options.flush_denormals, the default) a device runs this at
 * the plain step's speed; PoCL without (CLGRAD_FLUSH_DENORMALS=0) at ~0.6 of it. */
static clg_status denormal_state(clg_graph *g, float *hx)
{
    for (int i = 0; i < MLP_BATCH * 784; i++) {
        int r = i % 784 / 28, c = i % 28;
        if (r < 4 || r >= 24 || c < 4 || c >= 24)
            hx[i] = 0.0f;
    }
    clg_status st = CLG_OK;
    for (int p = 0; p < clg_graph_param_count(g) && !st; p++) {
        clg_shape s;
        if ((st = clg_graph_param_shape(g, p, &s)))
            break;
        int64_t n = clg_shape_numel(&s);
        float *h = malloc((size_t)(n > 0 ? n : 1) * sizeof *h);
        if (!h)
            return CLG_ERR_OUT_OF_MEMORY;
        for (int64_t i = 0; i < n; i++)
            h[i] = 1e-39f;
        for (int w = 0; w < 2 && !st; w++) {
            clg_tensor *t = NULL;
            if (!(st = clg_graph_param_tensor(g, p, w ? CLG_STATE_ADAM_V : CLG_STATE_ADAM_M, &t)) && t)
                st = clg_tensor_write(t, h);
        }
        free(h);
    }
    return st;
}

static void bench_mlp(bdev *b)
{
    step_rows rows = train_rows(b->r, "train/mlp", "MLP", "MLP 784-256-256-10 b128 Adam step");
    int row = rows.rate;
    int drow = metric_row(b->r, "train/mlp_denormal", "MLP step, Adam moments denormal (input frame 0)", "samples/s");
    clg_mlp m = { 0 };
    float *hx = NULL;
    int32_t *hy = NULL;
    const char *stage = "build";
    clg_status st;
    if ((st = mlp_with_batch(b->ctx, &m, &hx, &hy)) ||
        (st = bench_graph(b, m.g, m.x, hx, m.labels, hy, MLP_BATCH, &rows, &stage)))
        goto fail;
    if ((st = denormal_state(m.g, hx)) || (st = time_steps(b, m.g, m.x, hx, m.labels, hy, MLP_BATCH, drow)))
        rec_fail(b->r, drow, b->col, st, "denormal state");
    goto out;
fail:
    rec_fail(b->r, row, b->col, st, stage);
    rec_fail(b->r, drow, b->col, st, stage);
out:
    clg_mlp_free(&m);
    free(hx);
    free(hy);
}

static void bench_mae(bdev *b)
{
    step_rows rows = train_rows(b->r, "train/mae", "MAE", "MAE 784-512-128 b256 Adam step");
    int row = rows.rate;
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
        (st = bench_graph(b, m.g, m.x, hx, -1, NULL, cfg.batch, &rows, &stage)))
        goto fail;
    goto out;
fail:
    rec_fail(b->r, row, b->col, st, stage);
out:
    clg_mae_free(&m);
    free(hx);
}

/* SimCLR step at the reference recipe: 256 images, two device-augmented views each (crop, flip,
 * cutout, noise), 784-512-128 encoder, 128-128-64 head, NT-Xent; images (not views) per second. */
static void bench_simclr(bdev *b)
{
    step_rows rows = train_rows(b->r, "train/simclr", "SimCLR", "SimCLR 784-512-128 b256 x2 views Adam step");
    int row = rows.rate;
    clg_simclr_config cfg = clg_simclr_defaults();
    clg_simclr m = { 0 };
    float *hx = malloc((size_t)cfg.batch * 784 * sizeof(float));
    const char *stage = "build";
    clg_status st = CLG_ERR_OUT_OF_MEMORY;
    if (!hx)
        goto fail;
    fill_rand(hx, (size_t)cfg.batch * 784, 5);
    for (int i = 0; i < cfg.batch * 784; i++)
        hx[i] += 0.5f;
    if ((st = clg_simclr_build(b->ctx, &cfg, &m)) ||
        (st = bench_graph(b, m.g, m.x, hx, -1, NULL, cfg.batch, &rows, &stage)))
        goto fail;
    goto out;
fail:
    rec_fail(b->r, row, b->col, st, stage);
out:
    clg_simclr_free(&m);
    free(hx);
}

/* Skip-gram negative-sampling launches over a synthetic Zipf-distributed chunk (vocabulary 30,000,
 * dim 100, window 5, 5 negatives, 32,768 positions per launch as `train sgns` uses): centre positions
 * trained per second.  `train sgns` reports words read, before subsampling drops the frequent ones,
 * so its words/s is higher than this for the same speed. */
static void bench_sgns(bdev *b)
{
    int row = metric_row(b->r, "train/sgns", "SGNS d100 w5 neg5 launch", "positions/s");
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
    rec_times(b->r, row, b->col, t, b->reps, (double)n * steps, 1.0);
    goto out;
fail:
    rec_fail(b->r, row, b->col, st, stage);
out:
    clg_sgns_destroy(m);
    free(tok);
    free(span);
    free(ng);
}

/* ---- time to first step ---------------------------------------------------------------------- */

/* The first thing on a device: from t0 (before clg_ctx_create) through building the MLP training
 * graph, planning it with Adam and one step finished, so it includes the program builds that step
 * needs, from whatever caches are present (PoCL's, Mesa's, clgrad's): warm on a second run, cold
 * with empty cache folders (tools/coldstart.sh measures both); on PoCL with the compile helper, as
 * `clgrad train` (helper.c), which is then waited for before anything else is measured. */
static void bench_first_step(bdev *b, double t0, double t_ctx)
{
    int row = metric_row(b->r, "start/mlp_first_step", "time to first MLP step (ctx, build, plan, 1 step)",
                         "s");
    clg_mlp m = { 0 };
    float *hx = NULL;
    int32_t *hy = NULL;
    clg_optim_options oo = clg_optim_defaults(CLG_OPTIM_ADAM);
    const char *stage = "build";
    clg_status st;
    if ((st = mlp_with_batch(b->ctx, &m, &hx, &hy)))
        goto fail;
    stage = "plan";
    if ((st = clg_graph_set_optimizer(m.g, &oo)) || (st = clg_graph_plan(m.g, CLG_PLAN_TRAIN)))
        goto fail;
    cli_helper_send_step(m.g); /* as clgrad train: the compile helper, where it runs */
    stage = "step";
    if ((st = clg_graph_set_input(m.g, m.x, hx)) || (st = clg_graph_set_input(m.g, m.labels, hy)) ||
        (st = clg_graph_step(m.g, NULL)) || (st = clg_ctx_finish(b->ctx)))
        goto fail;
    double v = util_now() - t0;
    cli_helper_wait(10.0); /* nothing of it left running beside the measurements */
    cli_helper_mark_warm();
    rec_values(b->r, row, b->col, &v, 1);
    v = t_ctx - t0;
    rec_values(b->r, metric_row(b->r, "start/ctx", "of which clg_ctx_create", "s"), b->col, &v, 1);
    goto out;
fail:
    rec_fail(b->r, row, b->col, st, stage);
out:
    clg_mlp_free(&m);
    free(hx);
    free(hy);
}

/* ---- one device ------------------------------------------------------------------------------ */

static void bench_device(results *r, const clg_device_info *d, int col, const opts *o)
{
    bdev b;
    memset(&b, 0, sizeof b);
    b.r = r;
    b.col = col;
    b.o = o;
    b.info = d;
    b.rusticl = strstr(d->platform_name, "rusticl") != NULL;
    b.reps = o->reps > 0 ? o->reps : b.rusticl ? 3 : o->quick ? 3 : 7;
    if (b.reps > 64)
        b.reps = 64;
    column *c = &r->col[col];
    snprintf(c->id, sizeof c->id, "%d:%d", d->platform_index, d->device_index);
    snprintf(c->name, sizeof c->name, "%s", d->name);
    snprintf(c->platform, sizeof c->platform, "%s", d->platform_name);
    snprintf(c->driver, sizeof c->driver, "%s", d->driver_version);
    double t0 = util_now();
    cli_helper_start(d);
    clg_status st = clg_ctx_create(d, NULL, &b.ctx);
    if (st) {
        int row = metric_row(r, "peak_gflops", "peak FLOP/s (multiply-add chains, best of float1/4/8/16)", "GFLOP/s");
        rec_fail(r, row, col, st, "context");
        return;
    }
    b.q = (cl_command_queue)clg_ctx_cl_queue(b.ctx);
    cli_helper_send_gemm(b.ctx);
    snprintf(r->section, sizeof r->section, "start");
    bench_first_step(&b, t0, util_now());
    snprintf(r->section, sizeof r->section, "device");
    bench_peak(&b);
    if (getenv("CLGRAD_BENCH_VERBOSE"))
        fprintf(stderr, "  peak done (%.1f s)\n", util_now() - t0);
    bench_bandwidth(&b);
    if (getenv("CLGRAD_BENCH_VERBOSE"))
        fprintf(stderr, "  bandwidth done (%.1f s)\n", util_now() - t0);
    bench_launch(&b);
    fprintf(stderr, "clgrad bench: D%d micro-benchmarks done (%.1f s)\n", col, util_now() - t0);
    snprintf(r->section, sizeof r->section, "gemm");
    bench_gemm(&b);
    fprintf(stderr, "clgrad bench: D%d gemm done (%.1f s)\n", col, util_now() - t0);
    snprintf(r->section, sizeof r->section, "ops");
    for (int i = 0; i < bench_ncases; i++)
        if (bench_cases[i].bench_label)
            bench_op(&b, &bench_cases[i]);
    bench_adam(&b);
    snprintf(r->section, sizeof r->section, "training");
    bench_mlp(&b);
    bench_mae(&b);
    bench_simclr(&b);
    bench_sgns(&b);
    if (b.micro)
        clReleaseProgram(b.micro);
    clg_ctx_destroy(b.ctx);
    fprintf(stderr, "clgrad bench: D%d %s done in %.1f s\n", col, d->name, util_now() - t0);
}

/* ---- across ranks (under mpirun -n N): the gradient exchange ----------------------------------- */

/* Bytes of a planned gradient arena: every param's gradient at a 128-byte aligned offset. */
static size_t arena_bytes(const clg_graph *g)
{
    size_t bytes = 0;
    for (int i = 0; i < clg_graph_param_count(g); i++) {
        clg_shape sh;
        if (clg_graph_param_shape(g, i, &sh) == CLG_OK)
            bytes += ((size_t)clg_shape_numel(&sh) * 4 + 127) / 128 * 128;
    }
    return bytes;
}

/* The exchange clg_graph_step makes between backward and the optimizer, on a device buffer of
 * `bytes`: map and unmap it (CPU devices, as the runtime does) or read it and write it back, around
 * clg_dist_allreduce_mean_f32.  A barrier before each repetition, so a rank's wait for the others is
 * not timed.  Rows: the whole exchange, its host staging and its MPI part (ms), the algorithm
 * bandwidth (bytes / exchange time) and the ring allreduce's bus bandwidth (2(N-1)/N x bytes / time,
 * of the exchange and of the MPI part alone). */
static clg_status bench_exchange(results *r, clg_ctx *ctx, int map, const char *key, const char *what, size_t bytes,
                                 int reps)
{
    int N = clg_dist_size();
    char k[80], l[80];
    int rows[6];
    static const char *const kk[] = { "ms", "staging_ms", "mpi_ms", "algbw", "busbw", "mpi_busbw" };
    static const char *const ll[] = { "exchange", "host staging (%s)", "MPI_Allreduce", "bytes / exchange",
                                      "bus bandwidth, exchange", "bus bandwidth, MPI" };
    static const char *const uu[] = { "ms", "ms", "ms", "GB/s", "GB/s", "GB/s" };
    for (int i = 0; i < 6; i++) {
        char lab[48];
        snprintf(lab, sizeof lab, ll[i], map ? "map+unmap" : "read+write");
        snprintf(k, sizeof k, "dist/%s_%s", key, kk[i]);
        snprintf(l, sizeof l, "%s %.2f MB x%d: %s", what, (double)bytes / 1e6, N, lab);
        rows[i] = metric_row(r, k, l, uu[i]);
    }
    size_t n = bytes / 4;
    cl_int err;
    cl_command_queue q = (cl_command_queue)clg_ctx_cl_queue(ctx);
    cl_mem buf = clCreateBuffer((cl_context)clg_ctx_cl_context(ctx), CL_MEM_READ_WRITE, bytes, NULL, &err);
    float *host = malloc(bytes);
    double *t = calloc((size_t)reps * 6, sizeof *t);
    clg_status st = CLG_OK;
    if (err || !host || !t) {
        st = CLG_ERR_OUT_OF_MEMORY;
        goto out;
    }
    fill_rand(host, n, 7u + (uint32_t)clg_dist_rank());
    if (clEnqueueWriteBuffer(q, buf, CL_TRUE, 0, bytes, host, 0, NULL, NULL)) {
        st = CLG_ERR_OPENCL;
        goto out;
    }
    double ring = 2.0 * (N - 1) / N * (double)bytes / 1e9;
    for (int rep = -1; rep < reps; rep++) { /* rep -1: warm-up */
        if ((st = clg_dist_barrier()))
            goto out;
        double t0 = util_now();
        float *p = map ? clEnqueueMapBuffer(q, buf, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, bytes, 0, NULL, NULL, &err)
                       : (err = clEnqueueReadBuffer(q, buf, CL_TRUE, 0, bytes, host, 0, NULL, NULL), host);
        if (err) {
            st = CLG_ERR_OPENCL;
            goto out;
        }
        double t1 = util_now();
        if ((st = clg_dist_allreduce_mean_f32(p, n)))
            goto out;
        double t2 = util_now();
        err = map ? clEnqueueUnmapMemObject(q, buf, p, 0, NULL, NULL)
                  : clEnqueueWriteBuffer(q, buf, CL_FALSE, 0, bytes, host, 0, NULL, NULL);
        if (err || clFinish(q)) {
            st = CLG_ERR_OPENCL;
            goto out;
        }
        double t3 = util_now();
        if (rep < 0)
            continue;
        double ex = t3 - t0, mpi = t2 - t1;
        double v[6] = { ex * 1e3, (ex - mpi) * 1e3, mpi * 1e3, (double)bytes / 1e9 / ex, ring / ex, ring / mpi };
        for (int i = 0; i < 6; i++)
            t[(size_t)i * reps + rep] = v[i];
    }
    for (int i = 0; i < 6; i++)
        rec_values(r, rows[i], 0, t + (size_t)i * reps, reps);
out:
    if (st)
        for (int i = 0; i < 6; i++)
            rec_fail(r, rows[i], 0, st, "exchange");
    if (buf)
        clReleaseMemObject(buf);
    free(host);
    free(t);
    return st;
}

/* Under mpirun: only the exchange rows, for the gradient arenas of the MLP (784-256-256-10) and the
 * MAE (784-512-128-512-784) as the models build them; column 0 is rank 0's device. */
static int bench_distributed(results *r, const opts *o)
{
    clg_device_info d;
    clg_ctx *ctx;
    if (cli_open_device(o->device, &d, &ctx))
        return 1;
    column *c = &r->col[0];
    snprintf(c->id, sizeof c->id, "%d:%d", d.platform_index, d.device_index);
    snprintf(c->name, sizeof c->name, "%.100s, rank 0 of %d", d.name, clg_dist_size());
    snprintf(c->platform, sizeof c->platform, "%s", d.platform_name);
    snprintf(c->driver, sizeof c->driver, "%s", d.driver_version);
    r->ncol = 1;
    snprintf(r->section, sizeof r->section, "distributed");
    int reps = o->reps > 0 ? (o->reps > 1000 ? 1000 : o->reps) : o->quick ? 7 : 21;
    const int widths[] = { 784, 256, 256, 10 };
    clg_mlp mlp = { 0 };
    clg_mae mae = { 0 };
    clg_mae_config cfg = clg_mae_defaults();
    clg_status st;
    int rc = 0;
    if ((st = clg_mlp_build(ctx, widths, 4, 128, 1, &mlp)) || (st = clg_mae_build(ctx, &cfg, &mae))) {
        rc = cli_fail("bench: building the models", st);
        goto out;
    }
    int map = d.type == CLG_DEVICE_CPU;
    if (bench_exchange(r, ctx, map, "mlp_grads", "MLP grads", arena_bytes(mlp.g), reps) ||
        bench_exchange(r, ctx, map, "mae_grads", "MAE grads", arena_bytes(mae.g), reps))
        rc = 1;
out:
    clg_mlp_free(&mlp);
    clg_mae_free(&mae);
    clg_ctx_destroy(ctx);
    return rc;
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

static void print_table(const results *r)
{
    printf("Columns:\n");
    for (int c = 0; c < r->ncol; c++)
        printf("  %-5s %s (%s, %s)\n", r->col[c].id, r->col[c].name, r->col[c].platform, r->col[c].driver);
    printf("Cells: median (min-max) of the repetitions; n/a = op not in this build; - = skipped; err = failed.\n");
    int wl = 6, wu = 4, wc[MAX_COLS];
    char buf[128];
    for (int c = 0; c < r->ncol; c++)
        wc[c] = (int)strlen(r->col[c].id);
    for (int i = 0; i < r->nm; i++) {
        int l = (int)strlen(r->m[i].label);
        wl = l > wl ? l : wl;
        l = (int)strlen(r->m[i].unit);
        wu = l > wu ? l : wu;
        for (int c = 0; c < r->ncol; c++) {
            fmt_cell(buf, sizeof buf, &r->c[i][c]);
            l = (int)strlen(buf);
            wc[c] = l > wc[c] ? l : wc[c];
        }
    }
    const char *sec = "";
    for (int i = 0; i < r->nm; i++) {
        if (strcmp(sec, r->m[i].section)) {
            sec = r->m[i].section;
            printf("\n%-*s  %-*s", wl, sec, wu, "unit");
            for (int c = 0; c < r->ncol; c++)
                printf("  %*s", wc[c], r->col[c].id);
            printf("\n");
        }
        char line[1024];
        int len = snprintf(line, sizeof line, "%-*s  %-*s", wl, r->m[i].label, wu, r->m[i].unit);
        for (int c = 0; c < r->ncol && len < (int)sizeof line; c++) {
            fmt_cell(buf, sizeof buf, &r->c[i][c]);
            len += snprintf(line + len, sizeof line - (size_t)len, "  %*s", wc[c], buf);
        }
        len = len < (int)sizeof line ? len : (int)sizeof line - 1;
        while (len > 0 && line[len - 1] == ' ')
            line[--len] = 0;
        printf("%s\n", line);
    }
    int first = 1;
    for (int i = 0; i < r->nm; i++)
        for (int c = 0; c < r->ncol; c++)
            if (r->c[i][c].state == ST_ERR) {
                if (first)
                    printf("\nErrors:\n");
                first = 0;
                printf("  %s %s: %s\n", r->col[c].id, r->m[i].key, r->c[i][c].msg);
            }
}

/* One device and one metric per line (easy to diff and grep); `bench compare` reads it with jansson. */
static int write_json(const results *r, const char *path, const opts *o)
{
    clg_file_writer *w;
    clg_status st = clg_file_writer_open(path, &w);
    if (st)
        return cli_fail("bench --json", st);
    FILE *f = clg_file_writer_stream(w);
    fprintf(f, "{\n  \"format\": \"clgrad-bench-1\",\n  \"version\": \"%s\",\n  \"quick\": %s,\n  \"full\": %s,\n",
            CLGRAD_VERSION_STRING, o->quick ? "true" : "false", o->full ? "true" : "false");
    fprintf(f, "  \"devices\": [\n");
    for (int c = 0; c < r->ncol; c++) {
        fprintf(f, "    {\"index\": %d, \"id\": ", c);
        util_json_str(f, r->col[c].id);
        fprintf(f, ", \"name\": ");
        util_json_str(f, r->col[c].name);
        fprintf(f, ", \"platform\": ");
        util_json_str(f, r->col[c].platform);
        fprintf(f, ", \"driver\": ");
        util_json_str(f, r->col[c].driver);
        fprintf(f, "}%s\n", c + 1 < r->ncol ? "," : "");
    }
    fprintf(f, "  ],\n  \"metrics\": [\n");
    int first = 1;
    for (int i = 0; i < r->nm; i++)
        for (int c = 0; c < r->ncol; c++) {
            const cellv *v = &r->c[i][c];
            if (v->state == ST_NONE)
                continue;
            fprintf(f, "%s    {\"device\": %d, \"key\": ", first ? "" : ",\n", c);
            first = 0;
            util_json_str(f, r->m[i].key);
            fprintf(f, ", \"label\": ");
            util_json_str(f, r->m[i].label);
            fprintf(f, ", \"section\": \"%s\", \"unit\": \"%s\", \"status\": \"%s\"", r->m[i].section, r->m[i].unit,
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

/* The string member `name` of object o copied into out (n bytes, truncated); "" when absent. */
static void jcopy(json_t *o, const char *name, char *out, size_t n)
{
    json_t *v = json_object_get(o, name);
    snprintf(out, n, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static int bad_file(const char *path, const char *why)
{
    fprintf(stderr, "clgrad bench compare: %s: %s\n", path, why);
    return 1;
}

/* A `clgrad bench --json` file: its devices, and its metrics with status "ok" and a numeric median.
 * Any JSON error (a repeated key included) or a file of another format is an error naming it. */
static int read_results(const char *path, jfile *jf)
{
    memset(jf, 0, sizeof *jf);
    FILE *f;
    clg_status st = clg_file_open_read(path, "bench results", &f);
    if (st)
        return cli_fail("bench compare", st);
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!root) {
        fprintf(stderr, "clgrad bench compare: %s: malformed JSON at line %d, column %d: %s\n", path, je.line,
                je.column, je.text);
        return 1;
    }
    int rc = 1;
    json_t *fmt = json_object_get(root, "format"), *devs = json_object_get(root, "devices"),
           *mets = json_object_get(root, "metrics");
    if (!json_is_string(fmt) || strncmp(json_string_value(fmt), "clgrad-bench-", 13)) {
        fprintf(stderr, "clgrad bench compare: %s is not a `clgrad bench --json` file\n", path);
        goto out;
    }
    if (!json_is_array(devs) || !json_is_array(mets)) {
        bad_file(path, "\"devices\" and \"metrics\" must be arrays");
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(devs, i, v) {
        if (!json_is_object(v)) {
            bad_file(path, "a device is not an object");
            goto out;
        }
        if (jf->ndev == MAX_COLS)
            continue;
        column *c = &jf->dev[jf->ndev++];
        jcopy(v, "id", c->id, sizeof c->id);
        jcopy(v, "name", c->name, sizeof c->name);
        jcopy(v, "platform", c->platform, sizeof c->platform);
        jcopy(v, "driver", c->driver, sizeof c->driver);
    }
    if (json_array_size(mets) && !(jf->m = calloc(json_array_size(mets), sizeof *jf->m))) {
        bad_file(path, "out of memory");
        goto out;
    }
    json_array_foreach(mets, i, v) {
        json_t *dev = json_object_get(v, "device"), *status = json_object_get(v, "status"),
               *med = json_object_get(v, "median");
        if (!json_is_object(v) || !json_is_integer(dev) || !json_is_string(json_object_get(v, "key"))) {
            bad_file(path, "a metric lacks an integer \"device\" or a string \"key\"");
            goto out;
        }
        if (!json_is_string(status) || strcmp(json_string_value(status), "ok") || !json_is_number(med))
            continue;
        jmetric *m = &jf->m[jf->nm++];
        m->dev = json_integer_value(dev) >= 0 && json_integer_value(dev) < MAX_COLS ? (int)json_integer_value(dev) : -1;
        m->med = json_number_value(med);
        jcopy(v, "key", m->key, sizeof m->key);
        jcopy(v, "label", m->label, sizeof m->label);
        jcopy(v, "unit", m->unit, sizeof m->unit);
    }
    rc = 0;
out:
    json_decref(root);
    if (rc) {
        free(jf->m);
        jf->m = NULL;
    }
    return rc;
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
            "Measures, per device side by side: time to first MLP step, peak FLOP/s, copy bandwidth, launch\n"
            "latency, GEMM GFLOP/s per path at the MLP shapes and 512^3 (beside host OpenBLAS when linked),\n"
            "op times, and for the MLP, MAE and SimCLR steps samples/s, kernel launches, GEMM FLOP/s and\n"
            "their fraction of the peak; SGNS positions/s.  Cells are medians with (min-max).\n"
            "Time to first step: from clg_ctx_create through building and planning the MLP and its first\n"
            "step, before anything else runs on the device; it includes the program builds from whatever\n"
            "caches are present (PoCL's, Mesa's, clgrad's), so it depends on their state: tools/coldstart.sh\n"
            "measures it cold and warm.  GEMM FLOP/s: the graph's step_flops (2*M*N*K per product a step\n"
            "runs; element-wise work not counted) times steps/s.\n"
            "  --device   devices to measure (default: all; auto, cpu, gpu, P:D, name substring)\n"
            "  --quick    fewer repetitions and only 512^3 NN among the square shapes\n"
            "  --full     also 2048^3, and on rusticl the tiled path, CLBlast and 512^3 on all paths\n"
            "  --reps N   repetitions per measurement\n"
            "  --paths    GEMM paths to measure (default tiled,local,simple,clblast)\n"
            "  --json F   write every result (median, min, max, unit, device, driver) to F\n"
            "  compare    for each metric in both files: A, B and B/A\n"
            "Under mpirun -n N: only the gradient exchange of the MLP and MAE arenas (host staging, MPI,\n"
            "bandwidths), on each rank's device; rank 0 prints and writes --json.\n");
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
    results *r = calloc(1, sizeof *r);
    if (!r)
        return cli_fail("bench", CLG_ERR_OUT_OF_MEMORY);
    if (clg_dist_size() > 1) {
        /* under mpirun: the gradient exchange only (the other rows would contend across ranks) */
        int rc = bench_distributed(r, &o);
        if (!rc && clg_dist_rank() == 0) {
            print_table(r);
            if (o.json && write_json(r, o.json, &o))
                rc = 1;
        }
        free(r);
        return rc;
    }
    snprintf(r->section, sizeof r->section, "device");
#ifdef HAVE_OPENBLAS
    blas_run *bl = calloc(1, sizeof *bl);
    int have_blas = bl && blas_open(bl);
    if (have_blas)
        util_pin_blas_threads();
#endif
    /* PoCL's workers stay as the user has them (unlike bench_gemm and tune), so the training
     * rows show what a user's run gets; the single-call GEMM rows are then often ~2x slow
     * (see util.h), the queued rows are not. */
    clg_device_info *devs = NULL;
    int ndev = 0, rc = 0;
    if (util_select_devices(o.device, &devs, &ndev)) {
        rc = cli_fail("bench", CLG_ERR_NO_DEVICE);
        goto out;
    }
    if (ndev > MAX_COLS - 1)
        ndev = MAX_COLS - 1;
    r->ncol = ndev;
#ifdef HAVE_OPENBLAS
    if (have_blas) {
        util_pin_caller(1);
        bench_blas(bl, &o);
        util_pin_caller(0);
    }
#endif
    for (int d = 0; d < ndev; d++)
        bench_device(r, &devs[d], d, &o);
#ifdef HAVE_OPENBLAS
    column *h = have_blas ? &r->col[r->ncol] : NULL;
    if (h) {
        snprintf(h->id, sizeof h->id, "host");
        snprintf(h->name, sizeof h->name, "OpenBLAS cblas_sgemm");
        snprintf(h->platform, sizeof h->platform, "host CPU");
        snprintf(h->driver, sizeof h->driver, "%s", bl->config());
        snprintf(r->section, sizeof r->section, "gemm");
        record_blas(r, bl, &o, r->ncol);
        r->ncol++;
    }
#endif
    print_table(r);
    if (o.json && write_json(r, o.json, &o))
        rc = 1;
    for (int i = 0; i < r->nm; i++)
        for (int c = 0; c < r->ncol; c++)
            rc |= r->c[i][c].state == ST_ERR;
out:
    clg_devices_free(devs);
#ifdef HAVE_OPENBLAS
    free(bl);
#endif
    free(r);
    return rc;
}
