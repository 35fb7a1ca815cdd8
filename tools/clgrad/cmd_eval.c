/* cmd_eval.c — `clgrad eval FILE.safetensors`: rebuild the model a checkpoint describes (its
 * metadata), load it strictly and report test accuracy (classifiers) or masked MSE (auto-encoder). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mlp.h"
#include "util.h"

/* "784-256-256-10" -> widths; returns the count or -1. */
static int parse_arch(const char *arch, int *w, int max)
{
    int n = 0;
    for (const char *p = arch; p && *p && n < max; n++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1)
            return -1;
        w[n] = (int)v;
        p = *end == '-' ? end + 1 : NULL;
    }
    return n;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: clgrad eval FILE.safetensors [--data DIR] [--device SPEC] [--batch N]\n");
}

int cmd_eval(int argc, char **argv)
{
    int rc0;
    char *used = util_args_begin(argc, argv, usage, &rc0);
    if (!used)
        return rc0;
    const char *v, *data = "/usr/share/datasets/fashion-mnist", *device = NULL;
    int batch = 500;
    if ((v = util_opt(argc, argv, used, "--data"))) data = v;
    if ((v = util_opt(argc, argv, used, "--device"))) device = v;
    if ((v = util_opt(argc, argv, used, "--batch"))) batch = atoi(v);
    const char *path = util_positional(argc, argv, used);
    int bad = util_unknown("eval", argc, argv, used);
    free(used);
    if (bad || !path || batch < 1) {
        usage(stderr);
        return 2;
    }
    clg_st_file *f;
    clg_status st = clg_safetensors_open(path, &f);
    if (st)
        return cli_fail("eval", st);
    char model[32] = "", arch[256] = "";
    float ratio = 0.75f;
    int patch = 4;
    const char *mv = clg_safetensors_meta(f, "model"), *av = clg_safetensors_meta(f, "arch");
    if (mv)
        snprintf(model, sizeof model, "%s", mv);
    if (av)
        snprintf(arch, sizeof arch, "%s", av);
    if ((mv = clg_safetensors_meta(f, "mask_ratio")))
        ratio = (float)atof(mv);
    if ((mv = clg_safetensors_meta(f, "patch")))
        patch = atoi(mv);
    clg_safetensors_close(f);
    int w[2 * CLG_MLP_MAX_LAYERS + 2];
    int n = parse_arch(arch, w, 2 * CLG_MLP_MAX_LAYERS + 1);
    if (!*model || n < 2) {
        fprintf(stderr, "clgrad eval: %s has no clgrad model metadata (model=%s, arch=%s)\n", path,
                *model ? model : "?", *arch ? arch : "?");
        return 1;
    }
    int rc = 1;
    cli_data d = { 0 };
    clg_ctx *ctx = NULL;
    clg_mlp m = { 0 };
    clg_mae ae = { 0 };
    clg_device_info dev;
    if (cli_load_mnist(data, 0, &d) || cli_open_device(device, &dev, &ctx))
        goto out;
    clg_graph *g = NULL;
    if (!strcmp(model, "mlp")) {
        st = clg_mlp_build(ctx, w, n, batch, 1, &m);
        g = m.g;
    } else if (!strcmp(model, "classifier")) {
        st = clg_classifier_build(ctx, w, n - 1, w[n - 1], batch, 1, &m);
        g = m.g;
    } else if (!strcmp(model, "mae")) {
        clg_mae_config c = clg_mae_defaults();
        c.height = d.rows;
        c.width = d.cols;
        c.patch = patch;
        c.mask_ratio = ratio;
        c.batch = batch;
        c.n_enc = n / 2 + 1;
        for (int i = 0; i < c.n_enc && i < CLG_MLP_MAX_LAYERS; i++)
            c.enc[i] = w[i];
        st = clg_mae_build(ctx, &c, &ae);
        g = ae.g;
    } else {
        fprintf(stderr, "clgrad eval: %s: unknown model '%s'\n", path, model);
        goto out;
    }
    if (st || (st = clg_graph_plan(g, CLG_PLAN_INFERENCE)) || (st = clg_checkpoint_load(g, path, 0, NULL))) {
        cli_fail("eval", st);
        goto out;
    }
    if (g == m.g) {
        double acc;
        if ((st = mlp_evaluate(&m, d.test_x, d.test_y, d.n_test, d.rows * d.cols, &acc))) {
            cli_fail("eval", st);
            goto out;
        }
        printf("%s: %s %s, test accuracy %.4f on %d images (%s)\n", path, model, arch, acc, d.n_test, dev.name);
    } else {
        double mse, base;
        if ((st = mae_evaluate(&ae, d.test_x, d.n_test, NULL, &mse, &base))) {
            cli_fail("eval", st);
            goto out;
        }
        printf("%s: mae %s, test masked-pixel MSE %.5f on %d images (%s)\n", path, arch, mse, d.n_test, dev.name);
    }
    rc = 0;
out:
    clg_mlp_destroy(&m);
    clg_mae_destroy(&ae);
    clg_ctx_destroy(ctx);
    cli_data_free(&d);
    return rc;
}
