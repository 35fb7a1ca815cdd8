/* bench_ops.c — op benchmark driven by the op table: wall time per call of each op's forward and backward, per device. */
#include <CL/cl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clgrad/clgrad.h"
#include "bench_cases.h" /* the case table, shared with `clgrad bench` */
#include "util.h"        /* tools/clgrad/util.h */

/* ---- results -------------------------------------------------------------- */

typedef enum { R_NONE = 0, R_OK, R_NA, R_ERR } rstate;

typedef struct timing {
    int done;
    int reps;
    double med, min, max;   /* seconds per call */
    long launches;          /* kernel launches per call */
} timing;

typedef struct result {
    rstate state;
    int has_bwd;
    timing fwd, bwd;
    char msg[512];
} result;

typedef struct row {
    const bench_case *c;         /* NULL: the op has no case in the table */
    clg_op op;
    char label[160];
} row;

typedef struct opts {
    int quick, reps, minmax;
    const char *device, *json, *only;
} opts;


/* ---- running one case on one ctx ------------------------------------------ */

typedef struct bench {
    clg_ctx *ctx;
    const bench_case *c;
    clg_tensor in[4], out, gout, gin[4];
    const clg_tensor *inp[4];
    clg_tensor *ginp[4];
} bench;

static clg_status call_fwd(bench *b)
{
    return clg_op_forward(b->ctx, b->c->op, b->c->nin ? b->inp : NULL, &b->out, &b->c->a);
}

static clg_status call_bwd(bench *b)
{
    return clg_op_backward(b->ctx, b->c->op, b->c->nin ? b->inp : NULL, &b->out, &b->gout, b->ginp,
                           &b->c->a, 0);
}

static clg_status finish(clg_ctx *ctx, const char *what)
{
    cl_int err = clFinish((cl_command_queue)clg_ctx_cl_queue(ctx));
    if (err != CL_SUCCESS) {
        fprintf(stderr, "bench_ops: clFinish after %s: %s (%d)\n", what, clg_cl_error_name(err), err);
        return CLG_ERR_OPENCL;
    }
    return CLG_OK;
}

/* Warm up once (the first call builds the program), then time reps calls, each as
 * clFinish; t0; call; clFinish; t1.  The first timed call sizes the repetition count. */
static clg_status time_calls(bench *b, clg_status (*fn)(bench *), const opts *o, timing *t)
{
    clg_status st;
    if ((st = fn(b)) || (st = clg_ctx_finish(b->ctx)))
        return st;
    double budget = o->quick ? 0.02 : 0.2;
    int minreps = o->quick ? 3 : 5, maxreps = o->quick ? 10 : 2000;
    double *s = malloc(sizeof(double) * (size_t)(o->reps > maxreps ? o->reps : maxreps));
    if (!s)
        return CLG_ERR_OUT_OF_MEMORY;
    int n = 1;
    for (int i = 0; i < n; i++) {
        uint64_t l0 = clg_ctx_launch_count(b->ctx);
        double t0 = util_now();
        if ((st = fn(b)) || (st = finish(b->ctx, clg_op_name(b->c->op))))
            break;
        s[i] = util_now() - t0;
        if (i == 0) {
            t->launches = (long)(clg_ctx_launch_count(b->ctx) - l0);
            if (o->reps > 0)
                n = o->reps;
            else {
                double want = budget / (s[0] > 1e-7 ? s[0] : 1e-7);
                n = want < minreps ? minreps : want > maxreps ? maxreps : (int)want;
            }
        }
    }
    if (!st)
        st = clg_ctx_finish(b->ctx);
    if (!st) {
        t->med = util_sort_median(s, n);
        t->reps = n;
        t->min = s[0];
        t->max = s[n - 1];
        t->done = 1;
    }
    free(s);
    return st;
}

static void bench_free(bench *b)
{
    for (int i = 0; i < 4; i++) {
        clg_tensor_free(&b->in[i]);
        clg_tensor_free(&b->gin[i]);
    }
    clg_tensor_free(&b->out);
    clg_tensor_free(&b->gout);
}

/* Set up, time and tear down one case; fills r (state, message, timings). */
static void run_case(clg_ctx *ctx, const bench_case *c, const opts *o, result *r)
{
    bench b;
    memset(&b, 0, sizeof b);
    b.ctx = ctx;
    b.c = c;
    uint64_t rng = 0x5EED0000u + (uint64_t)c->op;
    const char *stage = "infer";
    const clg_shape *shp[4];
    for (int i = 0; i < c->nin; i++)
        shp[i] = &c->in[i].s;
    clg_shape os;
    clg_status st = clg_op_infer(c->op, c->nin ? shp : NULL, &c->a, &os);
    if (st)
        goto out;
    stage = "setup";
    for (int i = 0; i < c->nin; i++) {
        if ((st = clg_tensor_new(ctx, &c->in[i].s, &b.in[i])) || (st = bench_fill(&b.in[i], &c->in[i], &rng)))
            goto out;
        b.inp[i] = &b.in[i];
    }
    if ((st = clg_tensor_new(ctx, &os, &b.out)))
        goto out;
    stage = "forward";
    if ((st = time_calls(&b, call_fwd, o, &r->fwd)))
        goto out;
    int want_bwd = 0;
    if (clg_op_has_backward(c->op) && os.dtype == CLG_F32)
        for (int i = 0; i < c->nin; i++)
            want_bwd |= c->in[i].s.dtype == CLG_F32 && !c->in[i].no_grad;
    r->has_bwd = want_bwd;
    if (want_bwd) {
        stage = "backward setup";
        bench_in gs = { .s = os, .kind = BIN_UNIFORM, .lo = -1, .hi = 1 };
        if ((st = clg_tensor_new(ctx, &os, &b.gout)) || (st = bench_fill(&b.gout, &gs, &rng)))
            goto out;
        for (int i = 0; i < c->nin; i++) {
            if (c->in[i].s.dtype != CLG_F32 || c->in[i].no_grad)
                continue;
            if ((st = clg_tensor_new(ctx, &c->in[i].s, &b.gin[i])))
                goto out;
            b.ginp[i] = &b.gin[i];
        }
        stage = "backward";
        if ((st = time_calls(&b, call_bwd, o, &r->bwd)))
            goto out;
    }
out:
    if (st == CLG_OK)
        r->state = R_OK;
    else {
        r->state = st == CLG_ERR_UNSUPPORTED ? R_NA : R_ERR;
        snprintf(r->msg, sizeof r->msg, "%s: %s: %s", stage, clg_status_name(st), clg_last_error());
    }
    bench_free(&b);
}

/* ---- table and JSON output -------------------------------------------------- */

static void fmt_us(char *buf, size_t n, double sec)
{
    double us = sec * 1e6;
    snprintf(buf, n, us < 1000 ? "%.1f" : "%.0f", us);
}

/* One cell: median (and [min-max] with --minmax), "n/a", "err", or "-" (no backward). */
static void cell(char *buf, size_t n, const result *r, int bwd, const opts *o)
{
    const timing *t = bwd ? &r->bwd : &r->fwd;
    if (t->done) {
        char a[32], b[32], c[32];
        fmt_us(a, sizeof a, t->med);
        if (o->minmax) {
            fmt_us(b, sizeof b, t->min);
            fmt_us(c, sizeof c, t->max);
            snprintf(buf, n, "%s [%s-%s]", a, b, c);
        } else
            snprintf(buf, n, "%s", a);
    } else if (r->state == R_NA)
        snprintf(buf, n, "n/a");
    else if (r->state == R_ERR)
        snprintf(buf, n, "err");
    else
        snprintf(buf, n, "-");
}

/* Launches per call as fwd/bwd; when devices differ, one entry per device. */
static void launches_cell(char *buf, size_t n, const result *rs, int ndev)
{
    char parts[8][32];
    int np = 0;
    for (int d = 0; d < ndev; d++) {
        const result *r = &rs[d];
        if (!r->fwd.done)
            continue;
        char one[32];
        if (r->bwd.done)
            snprintf(one, sizeof one, "%ld/%ld", r->fwd.launches, r->bwd.launches);
        else
            snprintf(one, sizeof one, "%ld/-", r->fwd.launches);
        int dup = 0;
        for (int k = 0; k < np; k++)
            dup |= !strcmp(parts[k], one);
        if (!dup && np < 8)
            snprintf(parts[np++], sizeof parts[0], "%s", one);
    }
    buf[0] = 0;
    if (!np)
        snprintf(buf, n, "-");
    for (int k = 0; k < np; k++) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s", k ? "," : "", parts[k]);
    }
}

static void shape_short(char *buf, size_t n, const clg_shape *s)
{
    size_t len = (size_t)snprintf(buf, n, "%s[", s->dtype == CLG_I32 ? "i32" : "");
    for (int d = 0; d < s->ndim && len < n; d++)
        len += (size_t)snprintf(buf + len, n - len, d ? ",%lld" : "%lld", (long long)s->dim[d]);
    if (len < n)
        snprintf(buf + len, n - len, "]");
}

static void case_label(char *buf, size_t n, const bench_case *c)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < c->nin && len < n; i++) {
        char sb[64];
        shape_short(sb, sizeof sb, &c->in[i].s);
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? " " : "", sb);
    }
    if (c->nin == 0 && len < n) {
        char sb[64];
        shape_short(sb, sizeof sb, &c->a.shape);
        len += (size_t)snprintf(buf + len, n - len, "-> %s", sb);
    }
    if (c->note && len < n)
        snprintf(buf + len, n - len, " %s", c->note);
}

static void pad(const char *s, int w, int right)
{
    int l = (int)strlen(s);
    if (right)
        printf("%*s%s", w > l ? w - l : 0, "", s);
    else
        printf("%s%*s", s, w > l ? w - l : 0, "");
}

static void print_table(const row *rows, int nrows, result *res, const clg_device_info *devs, int ndev,
                        const opts *o)
{
    printf("Devices:\n");
    for (int d = 0; d < ndev; d++)
        printf("  D%d  %d:%d %s (%s)\n", d, devs[d].platform_index, devs[d].device_index, devs[d].name,
               devs[d].platform_name);
    printf("Times: wall us (median) per call, measured as clFinish; t0; call; clFinish; t1%s.\n\n",
           o->minmax ? " [min-max]" : "");

    char buf[256];
    int wop = 2, wcase = 4, wl = 8, wd = 8;
    for (int i = 0; i < nrows; i++) {
        int l = (int)strlen(clg_op_name(rows[i].op));
        wop = l > wop ? l : wop;
        l = (int)strlen(rows[i].label);
        wcase = l > wcase ? l : wcase;
        for (int d = 0; d < ndev; d++)
            for (int k = 0; k < 2; k++) {
                cell(buf, sizeof buf, &res[i * ndev + d], k, o);
                l = (int)strlen(buf);
                wd = l > wd ? l : wd;
            }
        launches_cell(buf, sizeof buf, &res[i * ndev], ndev);
        l = (int)strlen(buf);
        wl = l > wl ? l : wl;
    }
    const char *gf = "fwd wall us (median)", *gb = "bwd wall us (median)";
    int glen = (int)strlen(gf);
    while (ndev * wd + (ndev - 1) * 2 < glen)
        wd++;
    int wg = ndev * wd + (ndev - 1) * 2;

    pad("", wop + 2 + wcase, 0);
    printf(" | ");
    pad(gf, wg, 1);
    printf(" | ");
    pad(gb, wg, 1);
    printf(" |\n");
    pad("op", wop, 0);
    printf("  ");
    pad("case", wcase, 0);
    for (int k = 0; k < 2; k++) {
        printf(" | ");
        for (int d = 0; d < ndev; d++) {
            snprintf(buf, sizeof buf, "D%d", d);
            if (d)
                printf("  ");
            pad(buf, wd, 1);
        }
    }
    printf(" | launches\n");
    pad("", wop + 2 + wcase, 0);
    printf(" | ");
    pad("", wg, 0);
    printf(" | ");
    pad("", wg, 0);
    printf(" | fwd/bwd\n");
    for (int i = 0; i < nrows; i++) {
        pad(clg_op_name(rows[i].op), wop, 0);
        printf("  ");
        pad(rows[i].label, wcase, 0);
        for (int k = 0; k < 2; k++) {
            printf(" | ");
            for (int d = 0; d < ndev; d++) {
                cell(buf, sizeof buf, &res[i * ndev + d], k, o);
                if (d)
                    printf("  ");
                pad(buf, wd, 1);
            }
        }
        printf(" | ");
        launches_cell(buf, sizeof buf, &res[i * ndev], ndev);
        printf("%s\n", buf);
    }
    int first = 1;
    for (int i = 0; i < nrows; i++)
        for (int d = 0; d < ndev; d++)
            if (res[i * ndev + d].state == R_ERR) {
                if (first)
                    printf("\nErrors:\n");
                first = 0;
                printf("  D%d %s: %s\n", d, clg_op_name(rows[i].op), res[i * ndev + d].msg);
            }
}

static void json_timing(FILE *f, const timing *t)
{
    if (!t->done) {
        fprintf(f, "null");
        return;
    }
    fprintf(f, "{\"median_us\": %.3f, \"min_us\": %.3f, \"max_us\": %.3f, \"reps\": %d, \"launches\": %ld}",
            t->med * 1e6, t->min * 1e6, t->max * 1e6, t->reps, t->launches);
}

static int write_json(const char *path, const row *rows, int nrows, const result *res,
                      const clg_device_info *devs, int ndev, const opts *o)
{
    clg_file_writer *w;
    if (clg_file_writer_open(path, &w)) {
        fprintf(stderr, "bench_ops: %s\n", clg_last_error());
        return 1;
    }
    FILE *f = clg_file_writer_stream(w);
    fprintf(f, "{\n  \"timing\": \"wall us per call: clFinish; t0; call; clFinish; t1\",\n");
    fprintf(f, "  \"quick\": %s,\n  \"devices\": [\n", o->quick ? "true" : "false");
    for (int d = 0; d < ndev; d++) {
        fprintf(f, "    {\"id\": \"%d:%d\", \"name\": ", devs[d].platform_index, devs[d].device_index);
        util_json_str(f, devs[d].name);
        fprintf(f, ", \"platform\": ");
        util_json_str(f, devs[d].platform_name);
        fprintf(f, "}%s\n", d + 1 < ndev ? "," : "");
    }
    fprintf(f, "  ],\n  \"results\": [\n");
    static const char *const names[] = { "none", "ok", "n/a", "err" };
    int first = 1;
    for (int i = 0; i < nrows; i++)
        for (int d = 0; d < ndev; d++) {
            const result *r = &res[i * ndev + d];
            fprintf(f, "%s    {\"op\": ", first ? "" : ",\n");
            first = 0;
            util_json_str(f, clg_op_name(rows[i].op));
            fprintf(f, ", \"case\": ");
            util_json_str(f, rows[i].label);
            fprintf(f, ", \"device\": \"%d:%d\", \"status\": \"%s\", \"message\": ", devs[d].platform_index,
                    devs[d].device_index, names[r->state]);
            util_json_str(f, r->msg);
            fprintf(f, ", \"fwd\": ");
            json_timing(f, &r->fwd);
            fprintf(f, ", \"bwd\": ");
            json_timing(f, &r->bwd);
            fprintf(f, "}");
        }
    fprintf(f, "\n  ]\n}\n");
    if (clg_file_writer_commit(w)) {
        fprintf(stderr, "bench_ops: %s\n", clg_last_error());
        return 1;
    }
    return 0;
}

/* ---- main ------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_ops [--device SPEC[,SPEC...]] [--quick] [--reps N] [--op NAME[,NAME...]]\n"
            "                 [--minmax] [--json FILE]\n"
            "Times every op of clgrad/ops.def (forward, and backward where it has one) on every\n"
            "OpenCL device, or on the devices SPEC selects (auto, cpu, gpu, P:D, name substring).\n"
            "  --quick    fewer repetitions (~0.02 s per op and direction instead of ~0.2 s)\n"
            "  --reps N   exactly N timed calls after the warm-up call\n"
            "  --op LIST  only these ops\n"
            "  --minmax   show [min-max] next to each median\n"
            "  --json F   also write the results as JSON to F\n");
}

static int name_in_list(const char *name, const char *list)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !strncmp(p, name, n))
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        const char *eq = strchr(a, '=');
        char key[32];
        size_t kl = eq ? (size_t)(eq - a) : strlen(a);
        snprintf(key, sizeof key, "%.*s", (int)(kl < sizeof key ? kl : sizeof key - 1), a);
        int takes = !strcmp(key, "--device") || !strcmp(key, "--json") || !strcmp(key, "--reps") ||
                    !strcmp(key, "--op");
        if (takes) {
            v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                fprintf(stderr, "bench_ops: %s needs a value\n", key);
                return 1;
            }
        }
        if (!strcmp(key, "--device"))
            o->device = v;
        else if (!strcmp(key, "--json"))
            o->json = v;
        else if (!strcmp(key, "--op"))
            o->only = v;
        else if (!strcmp(key, "--reps")) {
            if (util_parse_int("bench_ops", "--reps", v, 1, 1000000, &o->reps))
                return 1;
        } else if (!strcmp(a, "--quick"))
            o->quick = 1;
        else if (!strcmp(a, "--minmax"))
            o->minmax = 1;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "bench_ops: unknown argument '%s'\n", a);
            usage(stderr);
            return 1;
        }
    }
    if (o->only)
        for (const char *p = o->only; *p;) {
            char nm[64];
            const char *e = strchr(p, ',');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            snprintf(nm, sizeof nm, "%.*s", (int)(l < sizeof nm ? l : sizeof nm - 1), p);
            if (clg_op_from_name(nm) == CLG_OP_COUNT) {
                fprintf(stderr, "bench_ops: unknown op '%s'\n", nm);
                return 1;
            }
            p = e ? e + 1 : p + l;
        }
    return 0;
}

int main(int argc, char **argv)
{
    util_pin_pocl_workers();
    opts o = { 0 };
    if (parse_args(argc, argv, &o))
        return 2;

    /* Rows: every op of the table, in table order, each with its cases (or a "no case" row). */
    row *rows = calloc((size_t)(bench_ncases + CLG_OP_COUNT), sizeof *rows);
    if (!rows)
        return 1;
    int nrows = 0;
    for (int op = 0; op < CLG_OP_COUNT; op++) {
        if (o.only && !name_in_list(clg_op_name((clg_op)op), o.only))
            continue;
        int found = 0;
        for (int k = 0; k < bench_ncases; k++)
            if (bench_cases[k].op == (clg_op)op) {
                rows[nrows].c = &bench_cases[k];
                rows[nrows].op = (clg_op)op;
                case_label(rows[nrows].label, sizeof rows[nrows].label, &bench_cases[k]);
                nrows++;
                found = 1;
            }
        if (!found) {
            rows[nrows].op = (clg_op)op;
            snprintf(rows[nrows].label, sizeof rows[nrows].label, "(no case in bench_ops.c)");
            nrows++;
        }
    }

    clg_device_info *devs = NULL;
    int ndev = 0;
    if (util_select_devices(o.device, &devs, &ndev)) {
        fprintf(stderr, "bench_ops: %s\n", clg_last_error());
        free(rows);
        return 1;
    }
    result *res = calloc((size_t)(nrows * ndev), sizeof *res);
    if (!res)
        return 1;
    int failed = 0;
    for (int d = 0; d < ndev; d++) {
        clg_ctx_options co = { .profiling = 1 };
        clg_ctx *ctx = NULL;
        double t0 = util_now();
        if (clg_ctx_create(&devs[d], &co, &ctx)) {
            for (int i = 0; i < nrows; i++) {
                res[i * ndev + d].state = R_ERR;
                snprintf(res[i * ndev + d].msg, sizeof res[0].msg, "context: %s", clg_last_error());
            }
            failed = 1;
            continue;
        }
        for (int i = 0; i < nrows; i++) {
            result *r = &res[i * ndev + d];
            if (!rows[i].c) {
                r->state = R_NA;
                snprintf(r->msg, sizeof r->msg, "no case in bench_ops.c");
                continue;
            }
            run_case(ctx, rows[i].c, &o, r);
            failed |= r->state == R_ERR;
        }
        clg_ctx_destroy(ctx);
        fprintf(stderr, "bench_ops: D%d %s done in %.1f s\n", d, devs[d].name, util_now() - t0);
    }
    print_table(rows, nrows, res, devs, ndev, &o);
    if (o.json && write_json(o.json, rows, nrows, res, devs, ndev, &o))
        failed = 1;
    free(res);
    free(rows);
    clg_devices_free(devs);
    return failed ? 1 : 0;
}
