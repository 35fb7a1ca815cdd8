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

/* Usage: bench_gemm [--device SPEC] [--paths tiled,local,simple,clblast] [--reps N] [--rounds R]
 *                   [--full] [--only SUBSTR] [--shape M,K,N,TA,TB] [--min]
 * Without --device every device is measured.  On rusticl (launches ~0.6 ms, big CLBlast
 * kernels very slow) only the batch-128 MLP shapes run, and CLBlast only the smallest one,
 * unless --full is given; 2048^3 runs only with --full.  --only mae: the masked
 * auto-encoder's products (batch 256); --only "dX " / "fwd " / "dW " / "^3" pick a kind;
 * --shape times one product of your own instead.
 *
 * Each case runs R rounds (default 3); a round times N back-to-back OpenBLAS calls, then per
 * path N single products (enqueue + clFinish: the "ms" column) and N samples of 10 products
 * queued back to back before one clFinish (the "stream ms" column, per product: how a
 * training step runs them, paying the runtime's wake-up and sleep once).  Interleaving keeps
 * OpenBLAS and the device under the same machine load; cells are medians over all rounds
 * (--min: the fastest).  OpenBLAS's threads and PoCL's workers are pinned one per core (see
 * tools/clgrad/util.h).  For a fair OpenBLAS number run it as
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
#define MAX_ROUNDS 16
#define MAX_SAMPLES (MAX_REPS * MAX_ROUNDS)
#define STREAM_CALLS 10 /* products queued back to back per streamed sample */

/* One case's operands on one device. */
typedef struct devcase {
    clg_tensor a, b, o;
    const clg_tensor *in[2];
    clg_attrs at;
    cl_command_queue q;
} devcase;

static void devcase_free(devcase *d)
{
    clg_tensor_free(&d->a);
    clg_tensor_free(&d->b);
    clg_tensor_free(&d->o);
}

static int devcase_init(clg_ctx *ctx, const bcase *c, devcase *d)
{
    memset(d, 0, sizeof *d);
    clg_shape sa = clg_shape_make(CLG_F32, 2, (int64_t[]){ c->ta ? c->K : c->M, c->ta ? c->M : c->K });
    clg_shape sb = clg_shape_make(CLG_F32, 2, (int64_t[]){ c->tb ? c->N : c->K, c->tb ? c->K : c->N });
    clg_shape so = clg_shape_make(CLG_F32, 2, (int64_t[]){ c->M, c->N });
    float *h = malloc((size_t)(c->M > c->N ? c->M : c->N) * (size_t)c->K * sizeof(float));
    if (!h || clg_tensor_new(ctx, &sa, &d->a) || clg_tensor_new(ctx, &sb, &d->b) || clg_tensor_new(ctx, &so, &d->o)) {
        free(h);
        devcase_free(d);
        return -1;
    }
    fill(h, (size_t)clg_shape_numel(&sa), 1);
    clg_tensor_write(&d->a, h);
    fill(h, (size_t)clg_shape_numel(&sb), 2);
    clg_tensor_write(&d->b, h);
    free(h);
    d->at = clg_attrs_defaults();
    d->at.trans_a = c->ta;
    d->at.trans_b = c->tb;
    d->in[0] = &d->a;
    d->in[1] = &d->b;
    d->q = (cl_command_queue)clg_ctx_cl_queue(ctx);
    return 0;
}

/* `calls` products queued back to back, then one clFinish: seconds per product; <0 on error. */
static double devcase_time(clg_ctx *ctx, devcase *d, int calls)
{
    double t0 = util_now();
    for (int i = 0; i < calls; i++)
        if (clg_op_forward(ctx, CLG_OP_MATMUL, d->in, &d->o, &d->at))
            return -1;
    if (clFinish(d->q) != CL_SUCCESS)
        return -1;
    return (util_now() - t0) / calls;
}

#ifdef HAVE_OPENBLAS
typedef struct blascase {
    float *a, *b, *o;
} blascase;

static int blas_init(const bcase *c, blascase *h)
{
    size_t na = (size_t)c->M * (size_t)c->K, nb = (size_t)c->K * (size_t)c->N, nc = (size_t)c->M * (size_t)c->N;
    h->a = malloc(na * 4);
    h->b = malloc(nb * 4);
    h->o = malloc(nc * 4);
    if (!h->a || !h->b || !h->o)
        return -1;
    fill(h->a, na, 1);
    fill(h->b, nb, 2);
    return 0;
}

static void blas_free(blascase *h)
{
    free(h->a);
    free(h->b);
    free(h->o);
}

static double blas_call(const bcase *c, blascase *h)
{
    int lda = c->ta ? c->M : c->K, ldb = c->tb ? c->K : c->N;
    double t0 = util_now();
    cblas_sgemm(CblasRowMajor, c->ta ? CblasTrans : CblasNoTrans, c->tb ? CblasTrans : CblasNoTrans, c->M, c->N,
                c->K, 1.0f, h->a, lda, h->b, ldb, 0.0f, h->o, c->N);
    return util_now() - t0;
}

/* reps timed back-to-back cblas_sgemm calls (after two untimed ones) appended to t. */
static void blas_time(const bcase *c, blascase *h, int reps, double *t)
{
    util_pin_caller(1);
    for (int r = -2; r < reps; r++) {
        double dt = blas_call(c, h);
        if (r >= 0)
            t[r] = dt;
    }
    util_pin_caller(0);
    /* OpenBLAS's idle threads spin for ~0.1 s after a call and would steal the cores
     * from the OpenCL runtime measured next */
    nanosleep(&(struct timespec){ .tv_sec = 0, .tv_nsec = 200000000 }, NULL);
}
#endif

static const char *only; /* --only SUBSTR: cases whose name contains it */
static bcase user_case;   /* --shape M,K,N,TA,TB: this product instead of the list */
static char user_name[64];

#define MAX_PATHS 4

/* Every case: `rounds` rounds, each timing OpenBLAS, then each path per call (enqueue +
 * clFinish, `reps` calls) and streamed (STREAM_CALLS queued, one clFinish, `reps` times), so
 * that OpenBLAS and the device see the same load; the cells are medians (--min: fastest)
 * over all rounds. */
static void bench_device(const clg_device_info *d, const char *paths, int reps, int rounds, int full)
{
    clg_ctx *ctx;
    if (clg_ctx_create(d, NULL, &ctx)) {
        fprintf(stderr, "%d:%d: %s\n", d->platform_index, d->device_index, clg_last_error());
        return;
    }
    int rusticl = strstr(d->platform_name, "rusticl") != NULL;
    printf("\n== %d:%d %s (%s)%s\n", d->platform_index, d->device_index, d->name, d->platform_name,
           rusticl && !full ? "  [MLP shapes only; --full for all]" : "");
    printf("%-28s %-8s %9s %9s %9s %9s %8s %8s\n", "case", "path", "ms", "GFLOP/s", "stream ms", "first ms",
           "vs BLAS", "stream");
    char list[128];
    snprintf(list, sizeof list, "%s", paths);
    const char *pv[MAX_PATHS];
    int np = 0;
    for (char *p = strtok(list, ","); p && np < MAX_PATHS; p = strtok(NULL, ","))
        pv[np++] = p;
    static double tb[MAX_SAMPLES], ti[MAX_PATHS][MAX_SAMPLES], ts[MAX_PATHS][MAX_SAMPLES];

    for (size_t i = 0; i < N_CASES + (size_t)(user_case.name != NULL); i++) {
        const bcase *c = i < N_CASES ? &cases[i] : &user_case;
        if (i < N_CASES && user_case.name)
            continue;
        if ((rusticl && !full && c->mlp != 1) || (!full && c->mlp == 2) || (only && !strstr(c->name, only)))
            continue;
        double flop = 2.0 * c->M * c->N * c->K, first[MAX_PATHS], warm[MAX_PATHS];
        /* use: 1 measure, 0 skipped, -1 failed; inited: dc[p] holds tensors */
        int use[MAX_PATHS], inited[MAX_PATHS] = { 0 }, nb = 0, ns[MAX_PATHS] = { 0 };
        devcase dc[MAX_PATHS];
        for (int p = 0; p < np; p++) {
            /* on rusticl CLBlast is slow beyond the narrow layer */
            use[p] = !(rusticl && !full && !strcmp(pv[p], "clblast") && i != 2);
            if (!use[p])
                continue;
            clg_ctx_set_gemm_options(ctx, &(clg_gemm_options){ .path = clg_gemm_path_parse(pv[p]) });
            if (devcase_init(ctx, c, &dc[p])) {
                use[p] = -1;
                continue;
            }
            inited[p] = 1;
            first[p] = devcase_time(ctx, &dc[p], 1);
            warm[p] = first[p] < 0 || first[p] > 1.0 ? first[p] : devcase_time(ctx, &dc[p], 1);
            if (first[p] < 0 || warm[p] < 0)
                use[p] = -1;
        }
#ifdef HAVE_OPENBLAS
        blascase bc = { 0 };
        int have_blas = blas_init(c, &bc) == 0;
#endif
        for (int r = 0; r < rounds; r++) {
#ifdef HAVE_OPENBLAS
            if (have_blas) {
                blas_time(c, &bc, reps, tb + nb);
                nb += reps;
            }
#endif
            for (int p = 0; p < np; p++) {
                if (use[p] != 1)
                    continue;
                clg_ctx_set_gemm_options(ctx, &(clg_gemm_options){ .path = clg_gemm_path_parse(pv[p]) });
                /* slow calls (rusticl, the simple paths): one call (> 1 s) is measurement
                 * enough, else about 0.3 s of calls per round; calls over 5 ms are not streamed
                 * (their per-call cost is noise there) */
                int n = warm[p] > 1.0 ? (r == 0) : warm[p] * reps > 0.3 ? (int)(0.3 / warm[p]) + 1 : reps;
                int calls = warm[p] > 0.005 ? 1 : STREAM_CALLS;
                for (int k = 0; k < n && use[p] == 1; k++) {
                    double t1 = devcase_time(ctx, &dc[p], 1), t2 = devcase_time(ctx, &dc[p], calls);
                    if (t1 < 0 || t2 < 0)
                        use[p] = -1;
                    ti[p][ns[p]] = t1;
                    ts[p][ns[p]++] = t2;
                }
            }
        }
        double blas_t = 0;
#ifdef HAVE_OPENBLAS
        if (have_blas) {
            blas_t = median(tb, nb);
            printf("%-28s %-8s %9.3f %9.1f\n", c->name, "openblas", blas_t * 1e3, flop / blas_t * 1e-9);
        }
        blas_free(&bc);
#endif
        for (int p = 0; p < np; p++) {
            if (use[p] == 0)
                continue;
            if (use[p] < 0) {
                printf("%-28s %-8s %9s   %s\n", c->name, pv[p], "failed", clg_last_error());
                continue;
            }
            double t1 = median(ti[p], ns[p]), t2 = median(ts[p], ns[p]);
            char r1[32] = "", r2[32] = "";
            if (blas_t > 0) {
                snprintf(r1, sizeof r1, "%.2fx", blas_t / t1);
                snprintf(r2, sizeof r2, "%.2fx", blas_t / t2);
            }
            printf("%-28s %-8s %9.3f %9.1f %9.3f %9.1f %8s %8s\n", c->name, pv[p], t1 * 1e3, flop / t1 * 1e-9,
                   t2 * 1e3, first[p] * 1e3, r1, r2);
        }
        for (int p = 0; p < np; p++)
            if (inited[p])
                devcase_free(&dc[p]);
        fflush(stdout);
    }
    clg_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
#ifdef HAVE_OPENBLAS
    util_pin_blas_threads();
#endif
    util_pin_pocl_workers();
    const char *dev = NULL, *paths = "tiled,local,simple,clblast";
    int reps = 9, rounds = 3, full = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc)
            dev = argv[++i];
        else if (!strcmp(argv[i], "--paths") && i + 1 < argc)
            paths = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            if (util_parse_int("bench_gemm", "--reps", argv[++i], 1, 1000000, &reps))
                return 2;
        }
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            bcase *u = &user_case;
            if (sscanf(argv[++i], "%d,%d,%d,%d,%d", &u->M, &u->K, &u->N, &u->ta, &u->tb) != 5 || u->M < 1 ||
                u->K < 1 || u->N < 1) {
                fprintf(stderr, "--shape wants M,K,N,TA,TB (op(A) is MxK, op(B) KxN)\n");
                return 2;
            }
            snprintf(user_name, sizeof user_name, "%dx%d%s . %dx%d%s", u->M, u->K, u->ta ? "T" : "", u->K, u->N,
                     u->tb ? "T" : "");
            u->name = user_name;
            u->mlp = 1;
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            if (util_parse_int("bench_gemm", "--rounds", argv[++i], 1, 1000000, &rounds))
                return 2;
        }
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--min"))
            use_min = 1;
        else if (!strcmp(argv[i], "--full"))
            full = 1;
        else {
            fprintf(stderr, "usage: %s [--device SPEC] [--paths tiled,local,simple,clblast] [--reps N] [--rounds R] [--full] [--only SUBSTR] [--shape M,K,N,TA,TB] [--min]\n",
                    argv[0]);
            return 2;
        }
    }
    if (reps < 1)
        reps = 1;
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    if (rounds < 1)
        rounds = 1;
    if (rounds > MAX_ROUNDS)
        rounds = MAX_ROUNDS;
#ifndef HAVE_OPENBLAS
    printf("(built without OpenBLAS: no reference column)\n");
#endif
    if (dev) {
        clg_device_info d;
        if (clg_device_select(dev, &d)) {
            fprintf(stderr, "%s\n", clg_last_error());
            return 1;
        }
        bench_device(&d, paths, reps, rounds, full);
        return 0;
    }
    clg_device_info *list;
    int n;
    if (clg_devices_list(&list, &n)) {
        fprintf(stderr, "%s\n", clg_last_error());
        return 1;
    }
    for (int i = 0; i < n; i++)
        bench_device(&list[i], paths, reps, rounds, full);
    clg_devices_free(list);
    return 0;
}
