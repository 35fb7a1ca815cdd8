/* cmd_eval.c — `clgrad eval FILE.safetensors`: rebuild the model a checkpoint describes (its
 * metadata), load it strictly and report test accuracy (classifiers) or masked MSE (auto-encoder;
 * the MSE on all pixels with mask ratio 0, from the noisy input for a denoising one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mlp.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: clgrad eval FILE.safetensors [--data DIR] [--device SPEC] [--batch N]\n");
}

int cmd_eval(int argc, char **argv)
{
    const char *cmd = "eval";
    int rc0;
    char *used = util_args_begin(argc, argv, usage, &rc0);
    if (!used)
        return rc0;
    const char *v, *data = "/usr/share/datasets/fashion-mnist", *device = NULL;
    int batch = 500;
    if ((v = util_opt(argc, argv, used, "--data"))) data = v;
    if ((v = util_opt(argc, argv, used, "--device"))) device = v;
    int bad = util_opt_int(cmd, argc, argv, used, "--batch", 1, 1 << 20, &batch);
    const char *path = util_positional(argc, argv, used);
    bad |= util_unknown(cmd, argc, argv, used);
    free(used);
    if (bad || !path) {
        usage(stderr);
        return 2;
    }
    clg_st_file *f;
    clg_status st = clg_safetensors_open(path, &f);
    if (st)
        return cli_fail("eval", st);
    char model[32] = "", arch[256] = "";
    float ratio = 0.75f, noise = 0;
    int patch = 4, n = -1, meta_bad = 0;
    int w[2 * CLG_MLP_MAX_LAYERS + 2];
    const char *mv = clg_safetensors_meta(f, "model"), *av = clg_safetensors_meta(f, "arch");
    if (mv)
        snprintf(model, sizeof model, "%s", mv);
    if (av) {
        snprintf(arch, sizeof arch, "%s", av);
        n = cli_parse_arch(av, w, 2 * CLG_MLP_MAX_LAYERS + 1);
    }
    if ((mv = clg_safetensors_meta(f, "mask_ratio")))
        meta_bad |= util_parse_float(cmd, "metadata mask_ratio", mv, 0, 0, 1, &ratio);
    if ((mv = clg_safetensors_meta(f, "noise")))
        meta_bad |= util_parse_float(cmd, "metadata noise", mv, 0, 0, 10, &noise);
    if ((mv = clg_safetensors_meta(f, "patch")))
        meta_bad |= util_parse_int(cmd, "metadata patch", mv, 1, 1 << 16, &patch);
    clg_safetensors_close(f);
    if (!*model || n < 2 || meta_bad) {
        fprintf(stderr, "clgrad eval: %s has no valid clgrad model metadata (model=%s, arch=%s)\n", path,
                *model ? model : "?", *arch ? arch : "?");
        return 1;
    }
    if (!strcmp(model, "simclr")) {
        fprintf(stderr, "clgrad eval: %s is a SimCLR encoder (no classifier); measure it with "
                "`clgrad adapt --from %s --mode probe`\n", path, path);
        return 1;
    }
    if (!strcmp(model, "clip")) {
        fprintf(stderr, "clgrad eval: %s is a CLIP-style model: use clgrad zeroshot --model %s\n", path, path);
        return 1;
    }
    int rc = 1;
    cli_data d = { 0 };
    clg_ctx *ctx = NULL;
    clg_mlp m = { 0 };
    clg_mae ae = { 0 };
    clg_device_info dev;
    if (cli_load_mnist(data, 0, 1, &d))
        goto out;
    /* the model must take these images and, for a classifier, give these labels' classes */
    int dim = d.rows * d.cols, mae = !strcmp(model, "mae");
    if (w[0] != dim) {
        fprintf(stderr, "clgrad eval: %s takes %d inputs (arch %s) but the images in %s are %dx%d = %d pixels\n", path,
                w[0], arch, data, d.rows, d.cols, dim);
        goto out;
    }
    if (mae && (n % 2 == 0 || w[n - 1] != dim || d.rows % patch || d.cols % patch)) {
        fprintf(stderr, "clgrad eval: %s: auto-encoder arch %s with patch %d does not fit the %dx%d images of %s\n",
                path, arch, patch, d.rows, d.cols, data);
        goto out;
    }
    if (!mae && w[n - 1] != 10) {
        fprintf(stderr, "clgrad eval: %s has %d classes (arch %s) but the labels of %s are 0..9\n", path, w[n - 1],
                arch, data);
        goto out;
    }
    if (cli_open_device(device, &dev, &ctx))
        goto out;
    clg_graph *g = NULL;
    if (!strcmp(model, "mlp")) {
        st = clg_mlp_build(ctx, w, n, batch, 1, &m);
        g = m.g;
    } else if (!strcmp(model, "classifier")) {
        st = clg_classifier_build(ctx, w, n - 1, w[n - 1], batch, 1, &m);
        g = m.g;
    } else if (mae) {
        clg_mae_config c = clg_mae_defaults();
        c.height = d.rows;
        c.width = d.cols;
        c.patch = patch;
        c.mask_ratio = ratio;
        c.noise = noise;
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
        if ((st = mlp_evaluate(&m, d.test_x, d.test_y, d.n_test, dim, &acc))) {
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
        printf("%s: mae %s, test %s MSE %.5f on %d images (%s)\n", path, arch,
               ratio > 0 ? "masked-pixel" : noise > 0 ? "all-pixel (noisy input)" : "all-pixel", mse, d.n_test, dev.name);
    }
    rc = 0;
out:
    clg_mlp_free(&m);
    clg_mae_free(&ae);
    clg_ctx_destroy(ctx);
    cli_data_free(&d);
    return rc;
}
