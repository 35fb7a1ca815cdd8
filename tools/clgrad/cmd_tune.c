/* cmd_tune.c — `clgrad tune`: time the tiled GEMM's register tiles, the simple and local-memory kernels and CLBlast per device and shape class, store the winners. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

/* Classes and file format must match src/tune.c: <cache dir>/gemm_tune.txt, lines
 * "device name \t driver version \t class \t TM,VW,NV" (tiled with that tile) or "... \t clblast|local|simple". */
static const char *const class_names[] = { "nn", "tn", "nt", "narrow" };
#define N_CLASSES 4

typedef struct tshape {
    int cls, M, K, N, ta, tb;
} tshape;

/* The MLP's (784-256-256-10, batch 128) products, by class (narrow = N < 32). */
static const tshape shapes[] = {
    { 0, 128, 784, 256, 0, 0 }, { 0, 128, 256, 256, 0, 0 },
    { 1, 784, 128, 256, 1, 0 }, { 1, 256, 128, 256, 1, 0 },
    { 2, 128, 10, 256, 0, 1 }, { 2, 128, 256, 256, 0, 1 },
    { 3, 128, 256, 10, 0, 0 }, { 3, 256, 128, 10, 1, 0 },
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

typedef struct sdata {
    float *a, *b;
    double *ref;
} sdata;

static void fill(float *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
}

static int make_data(const tshape *s, sdata *d)
{
    size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N;
    d->a = malloc(na * 4);
    d->b = malloc(nb * 4);
    d->ref = malloc((size_t)s->M * s->N * sizeof(double));
    if (!d->a || !d->b || !d->ref)
        return 1;
    fill(d->a, na, 1);
    fill(d->b, nb, 2);
    for (int i = 0; i < s->M; i++)
        for (int j = 0; j < s->N; j++) {
            double acc = 0;
            for (int k = 0; k < s->K; k++) {
                double x = s->ta ? d->a[(size_t)k * s->M + i] : d->a[(size_t)i * s->K + k];
                double y = s->tb ? d->b[(size_t)j * s->K + k] : d->b[(size_t)k * s->N + j];
                acc += x * y;
            }
            d->ref[(size_t)i * s->N + j] = acc;
        }
    return 0;
}

/* Check the product against the reference, then return its fastest seconds (the least disturbed repetition on a shared machine); <0: wrong or failed. */
static double run_shape(clg_ctx *ctx, const tshape *s, const sdata *d, int reps, char *why, size_t whysz)
{
    clg_shape sa = clg_shape_make(CLG_F32, 2, (int64_t[]){ s->ta ? s->K : s->M, s->ta ? s->M : s->K });
    clg_shape sb = clg_shape_make(CLG_F32, 2, (int64_t[]){ s->tb ? s->N : s->K, s->tb ? s->K : s->N });
    clg_shape so = clg_shape_make(CLG_F32, 2, (int64_t[]){ s->M, s->N });
    clg_tensor ta = { 0 }, tb = { 0 }, to = { 0 };
    double res = -1, t[32];
    size_t no = (size_t)s->M * s->N;
    float *out = malloc(no * 4);
    clg_attrs at = clg_attrs_defaults();
    at.trans_a = s->ta;
    at.trans_b = s->tb;
    const clg_tensor *in[2] = { &ta, &tb };
    if (!out || clg_tensor_new(ctx, &sa, &ta) || clg_tensor_new(ctx, &sb, &tb) || clg_tensor_new(ctx, &so, &to) ||
        clg_tensor_write(&ta, d->a) || clg_tensor_write(&tb, d->b) ||
        clg_op_forward(ctx, CLG_OP_MATMUL, in, &to, &at) || clg_tensor_read(&to, out) || clg_ctx_finish(ctx)) {
        snprintf(why, whysz, "%s", clg_last_error());
        goto out;
    }
    for (size_t i = 0; i < no; i++) {
        double tol = 1e-5 * s->K + 1e-4 * fabs(d->ref[i]);
        if (!(fabs(out[i] - d->ref[i]) <= tol)) {
            snprintf(why, whysz, "wrong result at %zu: %g, expected %g", i, out[i], d->ref[i]);
            goto out;
        }
    }
    for (int r = 0; r < reps; r++) {
        double t0 = util_now();
        if (clg_op_forward(ctx, CLG_OP_MATMUL, in, &to, &at) || clg_ctx_finish(ctx)) {
            snprintf(why, whysz, "%s", clg_last_error());
            goto out;
        }
        t[r] = util_now() - t0;
    }
    for (int i = 1; i < reps; i++)
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    res = t[0];
out:
    free(out);
    clg_tensor_free(&ta);
    clg_tensor_free(&tb);
    clg_tensor_free(&to);
    return res;
}

/* Replace this device's lines (any driver version) by the winners, via a temp file and rename. */
static int store(const clg_device_info *d, const int win[N_CLASSES][3], const char *const winpath[N_CLASSES],
                 const int have[N_CLASSES], char *path, size_t psz)
{
    char dir[1024], line[600];
    if (clg_cache_dir(dir, sizeof dir) || util_mkdir_p(dir))
        return 1;
    snprintf(path, psz, "%s/gemm_tune.txt", dir);
    clg_file_writer *w;
    if (clg_file_writer_open(path, &w))
        return 1;
    FILE *out = clg_file_writer_stream(w);
    FILE *in = NULL; /* the old results, if any (never blocks on a FIFO) */
    if (access(path, F_OK) == 0 && clg_file_open_read(path, "tuning file", &in))
        in = NULL;
    size_t nl = strlen(d->name);
    if (in) {
        while (fgets(line, sizeof line, in))
            if (!(strncmp(line, d->name, nl) == 0 && line[nl] == '\t'))
                fputs(line, out);
        fclose(in);
    }
    for (int c = 0; c < N_CLASSES; c++) {
        if (!have[c])
            continue;
        if (winpath[c])
            fprintf(out, "%s\t%s\t%s\t%s\n", d->name, d->driver_version, class_names[c], winpath[c]);
        else
            fprintf(out, "%s\t%s\t%s\t%d,%d,%d\n", d->name, d->driver_version, class_names[c], win[c][0],
                    win[c][1], win[c][2]);
    }
    return clg_file_writer_commit(w) != CLG_OK;
}

/* One candidate (GEMM options gemm): a fresh ctx, every shape checked and timed; sum[c] = total
 * fastest seconds of class c, bad[c] = 1 if rejected.  1 if no ctx. */
static int time_candidate(const clg_device_info *d, const clg_gemm_options *gemm, const sdata *data, int reps,
                          const char *label, double sum[N_CLASSES], int bad[N_CLASSES])
{
    clg_ctx *ctx = NULL;
    clg_ctx_options o = { .gemm = *gemm };
    if (clg_ctx_create(d, &o, &ctx)) {
        fprintf(stderr, "clgrad tune: %s\n", clg_last_error());
        return 1;
    }
    for (int c = 0; c < N_CLASSES; c++) {
        sum[c] = 0;
        bad[c] = 0;
    }
    for (int s = 0; s < N_SHAPES; s++) {
        int c = shapes[s].cls;
        if (bad[c])
            continue;
        char why[512] = "";
        double t = run_shape(ctx, &shapes[s], &data[s], reps, why, sizeof why);
        if (t < 0) {
            bad[c] = 1;
            printf("  %-8s %-6s rejected: %s\n", label, class_names[c], why);
        } else
            sum[c] += t;
    }
    clg_ctx_destroy(ctx);
    return 0;
}

static int tune_device(const clg_device_info *d, const sdata *data, int quick)
{
    /* --quick: the vector widths of the untuned defaults (16, and the device's native width: 8
     * on AVX2) and TM 6..16; 4 vectors per row only of float16 (6,16,4 is a default) */
    static const int tms[] = { 4, 6, 8, 12, 16 }, vws[] = { 4, 8, 16 }, nvs[] = { 1, 2, 4 };
    int cand[40][3], nc = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++) {
                if (quick && (tms[i] == 4 || (vws[j] != 16 && vws[j] != (int)d->float_width)))
                    continue;
                if (nvs[k] == 4 && vws[j] != 16)
                    continue;
                cand[nc][0] = tms[i];
                cand[nc][1] = vws[j];
                cand[nc][2] = nvs[k];
                nc++;
            }
    int reps = quick ? 5 : 15;
    double best[N_CLASSES], deflt[N_CLASSES];
    int win[N_CLASSES][3], have[N_CLASSES] = { 0 };
    const char *winpath[N_CLASSES] = { NULL };
    for (int c = 0; c < N_CLASSES; c++)
        best[c] = deflt[c] = -1;
    /* The untuned default path of src/gemm.c (choose_path): tiled on CPUs (its default tiles
     * below), simple on rusticl, CLBlast elsewhere.  rusticl's llvmpipe runs the tiled kernels'
     * float16 tiles lane by lane (~30x slower than simple): their tiles are not timed there. */
    int rusticl = strstr(d->platform_name, "rusticl") != NULL;
    const char *dpath = rusticl ? "simple" : d->type == CLG_DEVICE_CPU ? NULL : "clblast";
    if (rusticl)
        nc = 0;
    printf("\n== %d:%d %s (%s, driver %s): %d candidates TM,VW,NV%s\n", d->platform_index, d->device_index, d->name,
           d->platform_name, d->driver_version, nc, rusticl ? " (tiled path not timed on rusticl)" : "");
    for (int k = 0; k < nc; k++) {
        char tile[32];
        snprintf(tile, sizeof tile, "%d,%d,%d", cand[k][0], cand[k][1], cand[k][2]);
        clg_gemm_options go = { .path = CLG_GEMM_PATH_TILED, .tile = { cand[k][0], cand[k][1], cand[k][2] } };
        double sum[N_CLASSES];
        int bad[N_CLASSES];
        if (time_candidate(d, &go, data, reps, tile, sum, bad))
            break;
        for (int c = 0; c < N_CLASSES; c++) {
            if (bad[c])
                continue;
            /* the untuned defaults of src/gemm.c (tile_params) at these shapes (M = 128, 256, 784):
             * 16-wide devices nn 8,16,2, tn and nt 6,16,4, narrow 8,16,1; narrower ones 6,8,2 */
            static const int dtm[N_CLASSES] = { 8, 6, 6, 8 }, dnv[N_CLASSES] = { 2, 4, 4, 1 };
            int w16 = d->float_width == 0 || d->float_width >= 16;
            if (w16 ? cand[k][0] == dtm[c] && cand[k][1] == 16 && cand[k][2] == dnv[c]
                    : cand[k][0] == 6 && cand[k][1] == 8 && cand[k][2] == 2)
                deflt[c] = sum[c];
            if (best[c] < 0 || sum[c] < best[c]) {
                best[c] = sum[c];
                memcpy(win[c], cand[k], sizeof win[c]);
                winpath[c] = NULL;
                have[c] = 1;
            }
        }
    }
    /* The other paths as whole candidates: the simple kernel (rusticl's default), the
     * local-memory kernel and CLBlast (the GPU default; its first call compiles for seconds on a
     * CPU runtime, so --quick skips it there). */
    static const char *const paths[] = { "simple", "local", "clblast" };
    for (int p = 0; p < 3; p++) {
        if (quick && !strcmp(paths[p], "clblast") && d->type == CLG_DEVICE_CPU)
            continue; /* on other devices it is the default, so always a candidate */
        clg_gemm_options go = { .path = clg_gemm_path_parse(paths[p]) };
        double sum[N_CLASSES];
        int bad[N_CLASSES];
        if (time_candidate(d, &go, data, reps, paths[p], sum, bad))
            break;
        printf("  %-8s", paths[p]);
        for (int c = 0; c < N_CLASSES; c++)
            if (!bad[c])
                printf("  %s %.1f us", class_names[c], sum[c] * 1e6);
        printf("\n");
        for (int c = 0; c < N_CLASSES; c++) {
            if (bad[c])
                continue;
            if (dpath && !strcmp(paths[p], dpath))
                deflt[c] = sum[c];
            if (best[c] < 0 || sum[c] < best[c]) {
                best[c] = sum[c];
                winpath[c] = paths[p];
                have[c] = 1;
            }
        }
    }
    printf("%-7s %-12s %-10s %-12s %s\n", "class", "default us", "best", "best us", "speed-up");
    for (int c = 0; c < N_CLASSES; c++) {
        if (!have[c]) {
            printf("%-7s no valid candidate\n", class_names[c]);
            continue;
        }
        char w[32];
        if (winpath[c])
            snprintf(w, sizeof w, "%s", winpath[c]);
        else
            snprintf(w, sizeof w, "%d,%d,%d", win[c][0], win[c][1], win[c][2]);
        printf("%-7s %-12.1f %-10s %-12.1f %.2fx\n", class_names[c], deflt[c] * 1e6, w, best[c] * 1e6,
               deflt[c] > 0 ? deflt[c] / best[c] : 0.0);
    }
    char path[1200];
    if (store(d, (const int(*)[3])win, winpath, have, path, sizeof path)) {
        fprintf(stderr, "clgrad tune: could not write the result (%s)\n", strerror(errno));
        return 1;
    }
    printf("stored in %s (used by GEMMs on this device while the driver version stays %s)\n", path,
           d->driver_version);
    return 0;
}

int cmd_tune(int argc, char **argv)
{
    char *used = calloc((size_t)argc + 1, 1);
    if (!used)
        return 1;
    if (util_flag(argc, argv, used, "--help") || util_flag(argc, argv, used, "-h")) {
        printf("usage: clgrad tune [--device SPEC[,SPEC]] [--quick]\n"
               "Times the tiled GEMM's register tiles (TM,VW,NV as in CLGRAD_GEMM_TILE), the simple and\n"
               "local-memory kernels and CLBlast on the MLP's shape classes (nn, tn = AᵀB, nt = ABᵀ,\n"
               "narrow = N < 32), checks each candidate against a host reference before timing it, and\n"
               "stores the fastest per class, device name and driver version in the clgrad cache dir\n"
               "(gemm_tune.txt); GEMMs of that class then take it.  --quick: fewer tiles, and no CLBlast\n"
               "on CPU devices (whose first call compiles for seconds there).  rusticl devices are tuned only\n"
               "when named with --device, and without the tiled path (~30x slower than simple there).\n");
        free(used);
        return 0;
    }
    int quick = util_flag(argc, argv, used, "--quick");
    const char *spec = util_opt(argc, argv, used, "--device");
    if (util_unknown("tune", argc, argv, used)) {
        free(used);
        return 2;
    }
    free(used);
    util_pin_pocl_workers(); /* else the timings are noise: see util.h */
    sdata data[N_SHAPES];
    memset(data, 0, sizeof data);
    int rc = 0;
    for (int s = 0; s < N_SHAPES; s++)
        if (make_data(&shapes[s], &data[s])) {
            rc = 1;
            goto out;
        }
    if (spec) {
        char list[512];
        snprintf(list, sizeof list, "%s", spec);
        char *sv = NULL;
        for (char *p = strtok_r(list, ",", &sv); p; p = strtok_r(NULL, ",", &sv)) {
            clg_device_info d;
            clg_status st = clg_device_select(p, &d);
            if (st) {
                rc = cli_fail("tune", st);
                goto out;
            }
            rc |= tune_device(&d, data, quick);
        }
    } else {
        clg_device_info *l;
        int n;
        clg_status st = clg_devices_list(&l, &n);
        if (st) {
            rc = cli_fail("tune", st);
            goto out;
        }
        for (int i = 0; i < n; i++) {
            if (strstr(l[i].platform_name, "rusticl")) {
                printf("\n== %d:%d %s (%s): skipped (slow to time: name it with --device)\n",
                       l[i].platform_index, l[i].device_index, l[i].name, l[i].platform_name);
                continue;
            }
            rc |= tune_device(&l[i], data, quick);
        }
        clg_devices_free(l);
    }
out:
    for (int s = 0; s < N_SHAPES; s++) {
        free(data[s].a);
        free(data[s].b);
        free(data[s].ref);
    }
    return rc;
}
