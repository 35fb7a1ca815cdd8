/* bench_gemm.c — GFLOP/s of each matmul path per OpenCL device at MLP and 512^3 shapes, beside OpenBLAS sgemm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CL/cl.h>

#include "clgrad/clgrad.h"
#include "util.h"

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

/* Usage: bench_gemm [--device SPEC] [--paths tiled,local,simple,clblast] [--reps N] [--full] [--only SUBSTR] [--min]
 * Without --device every device is measured.  On rusticl (launches ~0.6 ms, big CLBlast
 * kernels very slow) only the batch-128 MLP shapes run, and CLBlast only the smallest one,
 * unless --full is given; 2048^3 runs only with --full.  --only mae: the masked
 * auto-encoder's products (batch 256); --only "dX " / "fwd " / "dW " / "^3" pick a kind.  For a fair OpenBLAS number run it as
 *   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE build/bench_gemm */

typedef struct bcase {
    const char *name;
    int M, K, N, ta, tb;
    int mlp;              /* 1: a batch-128 MLP shape (run everywhere); 2: large, only with --full */
} bcase;

static const bcase cases[] = {
    { "fwd 128x784 . 784x256", 128, 784, 256, 0, 0, 1 },
    { "fwd 128x256 . 256x256", 128, 256, 256, 0, 0, 1 },
    { "fwd 128x256 . 256x10", 128, 256, 10, 0, 0, 1 },
    { "dW  784x128T . 128x256", 784, 128, 256, 1, 0, 1 },
    { "dW  256x128T . 128x256", 256, 128, 256, 1, 0, 1 },
    { "dW  256x128T . 128x10", 256, 128, 10, 1, 0, 1 },
    { "dX  128x256 . 256x256T", 128, 256, 256, 0, 1, 1 },
    { "dX  128x10 . 10x256T", 128, 10, 256, 0, 1, 1 },
    { "dX  128x256 . 256x784T", 128, 256, 784, 0, 1, 1 },
    /* masked auto-encoder 784-512-128-512-784, batch 256 (--only mae) */
    { "mae fwd 256x784 . 784x512", 256, 784, 512, 0, 0, 0 },
    { "mae fwd 256x512 . 512x128", 256, 512, 128, 0, 0, 0 },
    { "mae fwd 256x128 . 128x512", 256, 128, 512, 0, 0, 0 },
    { "mae fwd 256x512 . 512x784", 256, 512, 784, 0, 0, 0 },
    { "mae dW 784x256T . 256x512", 784, 256, 512, 1, 0, 0 },
    { "mae dW 512x256T . 256x128", 512, 256, 128, 1, 0, 0 },
    { "mae dW 128x256T . 256x512", 128, 256, 512, 1, 0, 0 },
    { "mae dW 512x256T . 256x784", 512, 256, 784, 1, 0, 0 },
    { "mae dX 256x512 . 512x784T", 256, 512, 784, 0, 1, 0 },
    { "mae dX 256x128 . 128x512T", 256, 128, 512, 0, 1, 0 },
    { "mae dX 256x512 . 512x128T", 256, 512, 128, 0, 1, 0 },
    { "mae dX 256x784 . 784x512T", 256, 784, 512, 0, 1, 0 },
    { "512^3 NN", 512, 512, 512, 0, 0, 0 },
    { "512^3 TN", 512, 512, 512, 1, 0, 0 },
    { "512^3 NT", 512, 512, 512, 0, 1, 0 },
    { "2048^3 NN", 2048, 2048, 2048, 0, 0, 2 },
    { "2048^3 NT", 2048, 2048, 2048, 0, 1, 2 },
    { "floor 1x1 . 1x1", 1, 1, 1, 0, 0, 2 },   /* per-call cost: launch and finish */
};
#define N_CASES (sizeof cases / sizeof cases[0])

static int use_min; /* --min: fastest repetition instead of the median (comparing variants on a noisy machine) */

static double median(double *v, int n)
{
    double m = util_sort_median(v, n);
    return use_min ? v[0] : m;
}

static void fill(float *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
}

#define MAX_REPS 64

/* Median seconds per call of the device matmul on the current path; <0 on error. */
static double time_device(clg_ctx *ctx, const bcase *c, int reps, double *first_s)
{
    clg_shape sa = clg_shape_make(CLG_F32, 2, (int64_t[]){ c->ta ? c->K : c->M, c->ta ? c->M : c->K });
    clg_shape sb = clg_shape_make(CLG_F32, 2, (int64_t[]){ c->tb ? c->N : c->K, c->tb ? c->K : c->N });
    clg_shape so = clg_shape_make(CLG_F32, 2, (int64_t[]){ c->M, c->N });
    clg_tensor a, b, o;
    double res = -1;
    float *h = malloc((size_t)(c->M > c->N ? c->M : c->N) * (size_t)c->K * sizeof(float));
    if (!h)
        return -1;
    if (clg_tensor_new(ctx, &sa, &a) || clg_tensor_new(ctx, &sb, &b) || clg_tensor_new(ctx, &so, &o)) {
        free(h);
        return -1;
    }
    fill(h, (size_t)clg_shape_numel(&sa), 1);
    clg_tensor_write(&a, h);
    fill(h, (size_t)clg_shape_numel(&sb), 2);
    clg_tensor_write(&b, h);
    clg_attrs at = clg_attrs_default();
    at.trans_a = c->ta;
    at.trans_b = c->tb;
    const clg_tensor *in[2] = { &a, &b };
    cl_command_queue q = (cl_command_queue)clg_ctx_cl_queue(ctx);
    double t0 = util_now();
    if (clg_op_forward(ctx, CLG_OP_MATMUL, in, &o, &at) || clFinish(q) != CL_SUCCESS)
        goto out;
    *first_s = util_now() - t0;
    double t[MAX_REPS];
    /* one slow call (> 1 s) is measurement enough */
    int n = *first_s > 1.0 ? 1 : reps;
    for (int r = 0; r < n; r++) {
        t0 = util_now();
        if (clg_op_forward(ctx, CLG_OP_MATMUL, in, &o, &at) || clFinish(q) != CL_SUCCESS)
            goto out;
        t[r] = util_now() - t0;
    }
    res = median(t, n);
out:
    if (res < 0)
        fprintf(stderr, "  error: %s\n", clg_last_error());
    free(h);
    clg_tensor_free(&a);
    clg_tensor_free(&b);
    clg_tensor_free(&o);
    return res;
}

#ifdef HAVE_OPENBLAS
static double time_blas(const bcase *c, int reps)
{
    size_t na = (size_t)c->M * (size_t)c->K, nb = (size_t)c->K * (size_t)c->N, nc = (size_t)c->M * (size_t)c->N;
    float *a = malloc(na * 4), *b = malloc(nb * 4), *o = malloc(nc * 4);
    if (!a || !b || !o) {
        free(a);
        free(b);
        free(o);
        return -1;
    }
    fill(a, na, 1);
    fill(b, nb, 2);
    int lda = c->ta ? c->M : c->K, ldb = c->tb ? c->K : c->N;
    double t[MAX_REPS];
    for (int r = -2; r < reps; r++) {
        double t0 = util_now();
        cblas_sgemm(CblasRowMajor, c->ta ? CblasTrans : CblasNoTrans, c->tb ? CblasTrans : CblasNoTrans, c->M,
                    c->N, c->K, 1.0f, a, lda, b, ldb, 0.0f, o, c->N);
        if (r >= 0)
            t[r] = util_now() - t0;
    }
    free(a);
    free(b);
    free(o);
    /* OpenBLAS's idle threads spin for a while after a call and would steal the cores
     * from the OpenCL runtime measured next */
    nanosleep(&(struct timespec){ .tv_sec = 0, .tv_nsec = 300000000 }, NULL);
    return median(t, reps);
}
#endif

static const char *only; /* --only SUBSTR: cases whose name contains it */

static void bench_device(const clg_device_info *d, const char *paths, int reps, int full)
{
    clg_ctx *ctx;
    if (clg_ctx_create(d, NULL, &ctx)) {
        fprintf(stderr, "%d:%d: %s\n", d->platform_index, d->device_index, clg_last_error());
        return;
    }
    int rusticl = strstr(d->platform_name, "rusticl") != NULL;
    printf("\n== %d:%d %s (%s)%s\n", d->platform_index, d->device_index, d->name, d->platform_name,
           rusticl && !full ? "  [MLP shapes only; --full for all]" : "");
    printf("%-28s %-8s %10s %9s %10s %8s\n", "case", "path", "ms", "GFLOP/s", "first ms", "vs BLAS");
    for (size_t i = 0; i < N_CASES; i++) {
        const bcase *c = &cases[i];
        if ((rusticl && !full && c->mlp != 1) || (!full && c->mlp == 2) || (only && !strstr(c->name, only)))
            continue;
        double flop = 2.0 * c->M * c->N * c->K, blas_gf = 0;
#ifdef HAVE_OPENBLAS
        double tb = time_blas(c, reps);
        blas_gf = flop / tb * 1e-9;
        printf("%-28s %-8s %10.3f %9.1f %10s %8s\n", c->name, "openblas", tb * 1e3, blas_gf, "", "");
#endif
        char list[128];
        snprintf(list, sizeof list, "%s", paths);
        for (char *p = strtok(list, ","); p; p = strtok(NULL, ",")) {
            if (rusticl && !full && !strcmp(p, "clblast") && i != 2)
                continue;
            setenv("CLGRAD_GEMM", p, 1);
            double first = 0, t = time_device(ctx, c, reps, &first);
            if (t < 0) {
                printf("%-28s %-8s %10s\n", c->name, p, "failed");
                continue;
            }
            double gf = flop / t * 1e-9;
            char ratio[32] = "";
            if (blas_gf > 0)
                snprintf(ratio, sizeof ratio, "%.2fx", gf / blas_gf);
            printf("%-28s %-8s %10.3f %9.1f %10.1f %8s\n", c->name, p, t * 1e3, gf, first * 1e3, ratio);
            fflush(stdout);
        }
    }
    unsetenv("CLGRAD_GEMM");
    clg_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
    util_pin_pocl_workers();
    const char *dev = NULL, *paths = "tiled,local,simple,clblast";
    int reps = 9, full = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc)
            dev = argv[++i];
        else if (!strcmp(argv[i], "--paths") && i + 1 < argc)
            paths = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--min"))
            use_min = 1;
        else if (!strcmp(argv[i], "--full"))
            full = 1;
        else {
            fprintf(stderr, "usage: %s [--device SPEC] [--paths tiled,local,simple,clblast] [--reps N] [--full] [--only SUBSTR] [--min]\n",
                    argv[0]);
            return 2;
        }
    }
    if (reps < 1)
        reps = 1;
    if (reps > MAX_REPS)
        reps = MAX_REPS;
#ifndef HAVE_OPENBLAS
    printf("(built without OpenBLAS: no reference column)\n");
#endif
    if (dev) {
        clg_device_info d;
        if (clg_device_select(dev, &d)) {
            fprintf(stderr, "%s\n", clg_last_error());
            return 1;
        }
        bench_device(&d, paths, reps, full);
        return 0;
    }
    clg_device_info *list;
    int n;
    if (clg_devices_list(&list, &n)) {
        fprintf(stderr, "%s\n", clg_last_error());
        return 1;
    }
    for (int i = 0; i < n; i++)
        bench_device(&list[i], paths, reps, full);
    clg_devices_free(list);
    return 0;
}
