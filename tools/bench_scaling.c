/* bench_scaling.c — one CSV line per point: MLP Adam-step samples/s at batch B and width W, and
 * square-GEMM GFLOP/s on the device or host OpenBLAS (the clgrad side of tools/scaling.sh, #17). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clgrad/clgrad.h"
#include "util.h"

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

/* Usage: bench_scaling [--device SPEC] [--mlp B,W]... [--gemm N]... [--impl clgrad|openblas]
 *                      [--time S] [--header] [--info] [--serve]
 *
 * --mlp B,W: a 784-W-W-10 MLP (clg_mlp_build: ReLU, softmax cross-entropy, Adam lr 1e-3 from
 *   clg_optim_defaults) trained at batch B on the device, its batch uploaded every step as
 *   `clgrad train` does; 2 warm-up steps, then chunks of k steps (k so that a chunk takes about
 *   0.1 s) each closed by clg_ctx_finish: samples/s per chunk.
 * --gemm N: C = A·B, all N×N float32 row-major, on the device's default GEMM path (the one
 *   training uses: CLGRAD_GEMM or `clgrad tune` apply) or, with --impl openblas, by cblas_sgemm;
 *   1 warm-up call, then chunks of k calls back to back (one clFinish per chunk): GFLOP/s.
 * Each point runs about --time seconds (default 1.0; at least 3 chunks, at most 64).
 * Output: "kind,batch,size,impl,median,min,max,unit,chunks" lines (--header prints the column
 * names first; lines from '#' are comments); gemm lines leave batch empty.  --info prints
 * "# device: ..." for the sweep's header and exits.  --serve answers points read from stdin
 * (see serve() below) in one process, as tools/scaling.sh drives it.  OpenBLAS's threads and PoCL's workers are
 * pinned one per core as in bench_gemm; run OpenBLAS without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE
 * (tools/scaling.sh unsets them). */

#define MAX_POINTS 64
#define MAX_CHUNKS 64
#define CHUNK_S 0.1 /* target seconds per timed chunk */

typedef struct point {
    int gemm;     /* 0: mlp, 1: gemm */
    int batch, size;
} point;

static double target_s = 1.0;

static void fill(float *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
}

/* Chunk and repetition plan from the time of one warm call: k calls per chunk, n chunks. */
static void plan_chunks(double one_s, int *k, int *n)
{
    if (one_s < 1e-7)
        one_s = 1e-7;
    *k = one_s >= CHUNK_S ? 1 : (int)(CHUNK_S / one_s + 0.5);
    double chunk = one_s * *k;
    *n = (int)(target_s / chunk + 0.5);
    if (*n < 3)
        *n = 3;
    if (*n > MAX_CHUNKS)
        *n = MAX_CHUNKS;
}

/* "kind,batch,size,impl,median,min,max,unit,chunks" from per-chunk rates v[0..n) (sorted here). */
static void emit(const point *p, const char *impl, double *v, int n, const char *unit)
{
    double med = util_sort_median(v, n);
    if (p->gemm)
        printf("gemm,,%d,%s,%.1f,%.1f,%.1f,%s,%d\n", p->size, impl, med, v[0], v[n - 1], unit, n);
    else
        printf("mlp,%d,%d,%s,%.1f,%.1f,%.1f,%s,%d\n", p->batch, p->size, impl, med, v[0], v[n - 1], unit, n);
    fflush(stdout);
}

/* k Adam steps (batch uploaded each step), then clg_ctx_finish; seconds, or < 0 on error. */
static double mlp_chunk(clg_ctx *ctx, clg_mlp *m, const float *hx, const int32_t *hy, int k, clg_status *st)
{
    double t0 = util_now();
    for (int s = 0; s < k; s++)
        if ((*st = clg_graph_set_input(m->g, m->x, hx)) || (*st = clg_graph_set_input(m->g, m->labels, hy)) ||
            (*st = clg_graph_step(m->g, NULL)))
            return -1;
    if ((*st = clg_ctx_finish(ctx)))
        return -1;
    return util_now() - t0;
}

static int bench_mlp(clg_ctx *ctx, const point *p)
{
    const int widths[] = { 784, p->size, p->size, 10 };
    clg_mlp m = { 0 };
    clg_optim_options oo = clg_optim_defaults(CLG_OPTIM_ADAM);
    float *hx = malloc((size_t)p->batch * 784 * sizeof(float));
    int32_t *hy = malloc((size_t)p->batch * sizeof(int32_t));
    clg_status st = CLG_ERR_OUT_OF_MEMORY;
    double v[MAX_CHUNKS];
    int k, n, rc = 1;
    if (!hx || !hy)
        goto out;
    fill(hx, (size_t)p->batch * 784, 3);
    for (int i = 0; i < p->batch; i++)
        hy[i] = (int32_t)((i * 7919u) % 10u);
    if ((st = clg_mlp_build(ctx, widths, 4, p->batch, 1, &m)) || (st = clg_graph_set_optimizer(m.g, &oo)) ||
        (st = clg_graph_plan(m.g, CLG_PLAN_TRAIN)))
        goto out;
    double one = mlp_chunk(ctx, &m, hx, hy, 2, &st);
    if (one < 0 || (one = mlp_chunk(ctx, &m, hx, hy, 1, &st)) < 0)
        goto out;
    plan_chunks(one, &k, &n);
    for (int r = 0; r < n; r++) {
        double t = mlp_chunk(ctx, &m, hx, hy, k, &st);
        if (t < 0)
            goto out;
        v[r] = (double)p->batch * k / t;
    }
    emit(p, "clgrad", v, n, "samples/s");
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench_scaling: mlp B=%d W=%d: %s\n", p->batch, p->size, clg_last_error());
    clg_mlp_free(&m);
    free(hx);
    free(hy);
    return rc;
}

/* k products queued back to back, then clg_ctx_finish; seconds, or < 0 on error. */
static double gemm_chunk(clg_ctx *ctx, const clg_tensor *const *in, clg_tensor *o, const clg_attrs *at, int k)
{
    double t0 = util_now();
    for (int i = 0; i < k; i++)
        if (clg_op_forward(ctx, CLG_OP_MATMUL, in, o, at))
            return -1;
    if (clg_ctx_finish(ctx))
        return -1;
    return util_now() - t0;
}

static int bench_gemm_dev(clg_ctx *ctx, const point *p)
{
    clg_shape s = clg_shape_make(CLG_F32, 2, (int64_t[]){ p->size, p->size });
    size_t nn = (size_t)p->size * (size_t)p->size;
    clg_tensor a = { 0 }, b = { 0 }, o = { 0 };
    const clg_tensor *in[2] = { &a, &b };
    clg_attrs at = clg_attrs_defaults();
    double flop = 2.0 * nn * p->size, v[MAX_CHUNKS];
    float *h = malloc(nn * sizeof(float));
    int k, n, rc = 1;
    if (!h || clg_tensor_new(ctx, &s, &a) || clg_tensor_new(ctx, &s, &b) || clg_tensor_new(ctx, &s, &o))
        goto out;
    fill(h, nn, 1);
    if (clg_tensor_write(&a, h))
        goto out;
    fill(h, nn, 2);
    if (clg_tensor_write(&b, h))
        goto out;
    double one = gemm_chunk(ctx, in, &o, &at, 1);
    if (one < 0 || (one = gemm_chunk(ctx, in, &o, &at, 1)) < 0)
        goto out;
    plan_chunks(one, &k, &n);
    for (int r = 0; r < n; r++) {
        double t = gemm_chunk(ctx, in, &o, &at, k);
        if (t < 0)
            goto out;
        v[r] = flop * k / t * 1e-9;
    }
    emit(p, "clgrad", v, n, "GFLOP/s");
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench_scaling: gemm n=%d: %s\n", p->size, clg_last_error());
    clg_tensor_free(&a);
    clg_tensor_free(&b);
    clg_tensor_free(&o);
    free(h);
    return rc;
}

#ifdef HAVE_OPENBLAS
static double blas_chunk(int n, const float *a, const float *b, float *c, int k)
{
    double t0 = util_now();
    for (int i = 0; i < k; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    return util_now() - t0;
}

static int bench_gemm_blas(const point *p)
{
    size_t nn = (size_t)p->size * (size_t)p->size;
    double flop = 2.0 * nn * p->size, v[MAX_CHUNKS];
    float *a = malloc(nn * 4), *b = malloc(nn * 4), *c = malloc(nn * 4);
    int k, n, rc = 1;
    if (!a || !b || !c) {
        fprintf(stderr, "bench_scaling: gemm n=%d: out of memory\n", p->size);
        goto out;
    }
    fill(a, nn, 1);
    fill(b, nn, 2);
    util_pin_caller(1);
    blas_chunk(p->size, a, b, c, 1);
    plan_chunks(blas_chunk(p->size, a, b, c, 1), &k, &n);
    for (int r = 0; r < n; r++)
        v[r] = flop * k / blas_chunk(p->size, a, b, c, k) * 1e-9;
    util_pin_caller(0);
    emit(p, "openblas", v, n, "GFLOP/s");
    rc = 0;
out:
    free(a);
    free(b);
    free(c);
    return rc;
}
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_scaling [--device SPEC] [--mlp B,W]... [--gemm N]... [--impl clgrad|openblas]\n"
               "                     [--time S] [--header] [--info] [--serve]\n");
}

/* "--mlp"/"--gemm" and its value into *p; 0, or 2 after a message. */
static int parse_point(const char *opt, const char *v, point *p)
{
    int vals[2], nv, gemm = !strcmp(opt, "--gemm");
    if (!gemm && strcmp(opt, "--mlp")) {
        fprintf(stderr, "bench_scaling: unknown point kind '%s' (--mlp, --gemm)\n", opt);
        return 2;
    }
    if (util_parse_int_list("bench_scaling", opt, v, 1, 8192, vals, 2, &nv))
        return 2;
    if (nv != 2 - gemm) {
        fprintf(stderr, "bench_scaling: %s wants %s, got '%s'\n", opt, gemm ? "N" : "B,W", v);
        return 2;
    }
    *p = (point){ .gemm = gemm, .batch = gemm ? 0 : vals[0], .size = vals[nv - 1] };
    return 0;
}

/* One point with impl "clgrad" (on the device; the ctx is created at the first) or "openblas". */
static int run_point(const clg_device_info *d, clg_ctx **ctx, int blas, const point *p)
{
    if (blas) {
#ifdef HAVE_OPENBLAS
        if (p->gemm)
            return bench_gemm_blas(p);
        fprintf(stderr, "bench_scaling: --impl openblas measures --gemm only\n");
#else
        fprintf(stderr, "bench_scaling: built without OpenBLAS\n");
#endif
        return 2;
    }
    if (!*ctx && clg_ctx_create(d, NULL, ctx)) {
        fprintf(stderr, "bench_scaling: %s\n", clg_last_error());
        *ctx = NULL;
        return 1;
    }
    return p->gemm ? bench_gemm_dev(*ctx, p) : bench_mlp(*ctx, p);
}

/* --serve: read "IMPL KIND ARG" lines ("clgrad mlp 128,256", "openblas gemm 1024") from stdin,
 * answer each with its CSV line(s) and a line ".", so tools/scaling.sh can alternate with the
 * JAX side point by point without paying a process start, a context and program loads each time. */
static int serve(const clg_device_info *d, clg_ctx **ctx)
{
    char line[256], impl[32], kind[32], arg[64], opt[40];
    while (fgets(line, sizeof line, stdin)) {
        point p;
        if (sscanf(line, "%31s %31s %63s", impl, kind, arg) != 3) {
            if (sscanf(line, "%31s", impl) != 1)
                continue;
            fprintf(stderr, "bench_scaling: --serve wants 'IMPL KIND ARG' lines, got '%s'\n", impl);
        } else {
            snprintf(opt, sizeof opt, "--%s", kind);
            int blas = !strcmp(impl, "openblas");
            if (!blas && strcmp(impl, "clgrad"))
                fprintf(stderr, "bench_scaling: impl must be clgrad or openblas, got '%s'\n", impl);
            else if (!parse_point(opt, arg, &p))
                run_point(d, ctx, blas, &p);
        }
        printf(".\n");
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
#ifdef HAVE_OPENBLAS
    util_pin_blas_threads();
#endif
    util_pin_pocl_workers();
    static point pts[MAX_POINTS];
    const char *dev = "auto", *impl = "clgrad";
    int np = 0, header = 0, info = 0, srv = 0, rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--header"))
            header = 1;
        else if (!strcmp(a, "--info"))
            info = 1;
        else if (!strcmp(a, "--serve"))
            srv = 1;
        else if (!v) {
            usage(stderr);
            return 2;
        } else if (!strcmp(a, "--device"))
            dev = v, i++;
        else if (!strcmp(a, "--impl"))
            impl = v, i++;
        else if (!strcmp(a, "--time")) {
            if (util_parse_double("bench_scaling", "--time", v, 0.0, 1, 60.0, &target_s))
                return 2;
            i++;
        } else if (!strcmp(a, "--mlp") || !strcmp(a, "--gemm")) {
            if (np == MAX_POINTS) {
                fprintf(stderr, "bench_scaling: at most %d points\n", MAX_POINTS);
                return 2;
            }
            if (parse_point(a, v, &pts[np++]))
                return 2;
            i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    int blas = !strcmp(impl, "openblas");
    if (!blas && strcmp(impl, "clgrad")) {
        fprintf(stderr, "bench_scaling: --impl must be clgrad or openblas, got '%s'\n", impl);
        return 2;
    }
    if (header)
        printf("kind,batch,size,impl,median,min,max,unit,chunks\n");
    clg_device_info d;
    clg_ctx *ctx = NULL;
    if ((info || srv || !blas) && clg_device_select(dev, &d)) {
        fprintf(stderr, "bench_scaling: %s\n", clg_last_error());
        return 1;
    }
    if (info) {
        printf("# device: %d:%d %s (%s, driver %s)\n", d.platform_index, d.device_index, d.name, d.platform_name,
               d.driver_version);
        return 0;
    }
    if (srv)
        rc = serve(&d, &ctx);
    for (int i = 0; i < np; i++)
        rc |= run_point(&d, &ctx, blas, &pts[i]);
    if (ctx)
        clg_ctx_destroy(ctx);
    return rc;
}
