/* cmd_adapt.c — `clgrad adapt`: reuse a pretrained masked auto-encoder's encoder for classification,
 * either as a frozen feature extractor with a new final layer (probe) or trained further (finetune),
 * optionally with only the first N labels; `--from none` trains the same network from scratch and
 * `--from pixels` a linear classifier on raw pixels, for comparison. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mlp.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clgrad adapt --from ENCODER.safetensors|none|pixels [--mode probe|finetune] [options]\n"
            "  --from FILE       a `clgrad train mae` or `train simclr` checkpoint; its enc.* tensors initialise the encoder\n"
            "  --from none       the same network trained from scratch\n"
            "  --from pixels     a linear classifier on raw pixels\n"
            "  --mode probe      train only a new final layer on the frozen encoder (default)\n"
            "  --mode finetune   train the encoder and the new final layer\n"
            "  --encoder LIST    encoder widths after the input when --from none (default 512,128)\n"
            "  --labels N        use only the first N training labels (default: all)\n"
            "  --epochs N        (default 30)    --batch N (default 128)    --lr X (default 1e-3)\n"
            "  --seed N          (default 1)     --device SPEC    --data DIR\n"
            "  --schedule NAME   constant (default) | cosine (lr decays to 0)\n"
            "  --out FILE        classifier checkpoint (default adapt.safetensors; .csv/.svg beside it)\n"
            "  --resume FILE     continue the interrupted run saved in FILE (same options)\n");
}

/* Encoder widths from a checkpoint's "arch" metadata ("784-512-128-512-784": the first half). */
static int encoder_from_checkpoint(const char *path, mlp_config *cfg)
{
    clg_st_file *f;
    clg_status st = clg_safetensors_open(path, &f);
    if (st)
        return cli_fail("reading the encoder checkpoint", st);
    const char *model = clg_safetensors_meta(f, "model"), *arch = clg_safetensors_meta(f, "arch");
    int w[2 * MLP_MAX_LAYERS + 1], n = 0, rc = 0;
    int simclr = model && !strcmp(model, "simclr"); /* its "arch" is the encoder alone */
    if (!model || (strcmp(model, "mae") != 0 && !simclr) || !arch) {
        fprintf(stderr, "clgrad adapt: %s is not a masked auto-encoder or SimCLR checkpoint (metadata model=%s)\n",
                path, model ? model : "none");
        rc = 1;
        goto out;
    }
    n = cli_parse_arch(arch, w, 2 * MLP_MAX_LAYERS + 1);
    if (simclr && n >= 2 && n <= MLP_MAX_LAYERS) {
        cfg->from_width = w[0];
        cfg->n_hidden = 0;
        for (int i = 1; i < n; i++)
            cfg->hidden[cfg->n_hidden++] = w[i];
        goto out;
    }
    if (simclr || n < 3 || n % 2 == 0 || w[0] != w[n - 1]) {
        fprintf(stderr, "clgrad adapt: %s: cannot read the architecture '%s'\n", path, arch);
        rc = 1;
        goto out;
    }
    cfg->from_width = w[0];
    cfg->n_hidden = 0;
    for (int i = 1; i <= n / 2; i++)
        cfg->hidden[cfg->n_hidden++] = w[i];
out:
    clg_safetensors_close(f);
    return rc;
}

int cmd_adapt(int argc, char **argv)
{
    int rc0;
    char *used = util_args_begin(argc, argv, usage, &rc0);
    if (!used)
        return rc0;
    mlp_config cfg;
    mlp_config_default(&cfg);
    cfg.classifier = 1;
    cfg.epochs = 30;
    cfg.cosine = 0; /* few-label runs are short: a constant lr trains the new head further */
    cfg.hidden[0] = 512;
    cfg.hidden[1] = 128;
    cfg.n_hidden = 2;
    const char *cmd = "adapt";
    const char *v, *from = NULL, *mode = NULL, *data = "/usr/share/datasets/fashion-mnist", *device = NULL;
    const char *out = "adapt.safetensors";
    long labels = 0;
    int bad = 0;
    if ((v = util_opt(argc, argv, used, "--from"))) from = v;
    if ((v = util_opt(argc, argv, used, "--mode"))) mode = v;
    if ((v = util_opt(argc, argv, used, "--data"))) data = v;
    if ((v = util_opt(argc, argv, used, "--device"))) device = v;
    if ((v = util_opt(argc, argv, used, "--out"))) out = v;
    if ((v = util_opt(argc, argv, used, "--resume"))) cfg.resume = v;
    bad |= util_opt_long(cmd, argc, argv, used, "--labels", 1, INT_MAX, &labels);
    bad |= util_opt_int(cmd, argc, argv, used, "--epochs", 1, 100000, &cfg.epochs);
    bad |= util_opt_int(cmd, argc, argv, used, "--batch", 1, 1 << 20, &cfg.batch);
    bad |= util_opt_float(cmd, argc, argv, used, "--lr", 0, 1, 1e6, &cfg.lr);
    bad |= util_opt_u64(cmd, argc, argv, used, "--seed", &cfg.seed);
    if ((v = util_opt(argc, argv, used, "--schedule"))) {
        if (strcmp(v, "constant") && strcmp(v, "cosine")) {
            fprintf(stderr, "clgrad adapt: unknown schedule '%s' (constant, cosine)\n", v);
            bad = 1;
        }
        cfg.cosine = !strcmp(v, "cosine");
    }
    const char *enc = util_opt(argc, argv, used, "--encoder");
    bad |= util_unknown(cmd, argc, argv, used);
    free(used);
    if (bad)
        return 2;
    if (!from) {
        fprintf(stderr, "clgrad adapt: --from is required (a checkpoint, none or pixels)\n");
        usage(stderr);
        return 2;
    }
    int from_file = strcmp(from, "pixels") != 0 && strcmp(from, "none") != 0;
    if (mode && strcmp(mode, "probe") != 0 && strcmp(mode, "finetune") != 0) {
        fprintf(stderr, "clgrad adapt: --mode must be probe or finetune, got '%s'\n", mode);
        return 2;
    }
    if (mode && !from_file) {
        fprintf(stderr, "clgrad adapt: --mode applies to a pretrained encoder; --from %s trains every layer\n", from);
        return 2;
    }
    if (enc && strcmp(from, "none") != 0) {
        fprintf(stderr, "clgrad adapt: --encoder applies to --from none only (%s)\n",
                from_file ? "a checkpoint's encoder has its own widths" : "--from pixels has no encoder");
        return 2;
    }
    if (!mode)
        mode = "probe";
    char title[64];
    if (!strcmp(from, "pixels")) {
        cfg.n_hidden = 0;
        snprintf(title, sizeof title, "adapt (linear on pixels)");
    } else if (!strcmp(from, "none")) {
        if (enc && util_parse_int_list(cmd, "--encoder", enc, 1, 1 << 24, cfg.hidden, MLP_MAX_LAYERS - 1, &cfg.n_hidden))
            return 2;
        snprintf(title, sizeof title, "adapt (from scratch)");
    } else {
        if (encoder_from_checkpoint(from, &cfg))
            return 1;
        cfg.from = from;
        cfg.freeze_encoder = !strcmp(mode, "probe");
        snprintf(title, sizeof title, "adapt (%s)", cfg.freeze_encoder ? "new final layer, frozen encoder" : "fine-tune");
    }
    cfg.title = title;
    cli_paths paths;
    cli_derive_paths(out, &paths);
    return mlp_train_run(&cfg, data, device, out, paths.csv, labels);
}
