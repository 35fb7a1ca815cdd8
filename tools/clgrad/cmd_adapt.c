/* cmd_adapt.c — `clgrad adapt`: reuse a pretrained masked auto-encoder's encoder for classification,
 * either as a frozen feature extractor with a new final layer (probe) or trained further (finetune),
 * optionally with only the first N labels; `--from none` trains the same network from scratch and
 * `--from pixels` a linear classifier on raw pixels, for comparison. */
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
            "  --from FILE       a `clgrad train mae` checkpoint; its enc.* tensors initialise the encoder\n"
            "  --from none       the same network trained from scratch\n"
            "  --from pixels     a linear classifier on raw pixels\n"
            "  --mode probe      train only a new final layer on the frozen encoder (default)\n"
            "  --mode finetune   train the encoder and the new final layer\n"
            "  --encoder LIST    encoder widths after the input when --from none (default 512,128)\n"
            "  --labels N        use only the first N training labels (default: all)\n"
            "  --epochs N        (default 30)    --batch N (default 128)    --lr X (default 1e-3)\n"
            "  --seed N          (default 1)     --device SPEC    --data DIR\n"
            "  --schedule NAME   constant (default) | cosine (lr decays to 0)\n"
            "  --out FILE        classifier checkpoint (default adapt.safetensors; .csv/.svg beside it)\n");
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
    if (!model || strcmp(model, "mae") != 0 || !arch) {
        fprintf(stderr, "clgrad adapt: %s is not a masked auto-encoder checkpoint (metadata model=%s)\n", path,
                model ? model : "none");
        rc = 1;
        goto out;
    }
    for (const char *p = arch; *p && n < 2 * MLP_MAX_LAYERS + 1;) {
        w[n++] = atoi(p);
        p = strchr(p, '-');
        if (!p)
            break;
        p++;
    }
    if (n < 3 || n % 2 == 0) {
        fprintf(stderr, "clgrad adapt: %s: cannot read the architecture '%s'\n", path, arch);
        rc = 1;
        goto out;
    }
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
    const char *v, *from = NULL, *mode = "probe", *data = "/usr/share/datasets/fashion-mnist", *device = NULL;
    const char *out = "adapt.safetensors";
    long labels = 0;
    if ((v = util_opt(argc, argv, used, "--from"))) from = v;
    if ((v = util_opt(argc, argv, used, "--mode"))) mode = v;
    if ((v = util_opt(argc, argv, used, "--data"))) data = v;
    if ((v = util_opt(argc, argv, used, "--device"))) device = v;
    if ((v = util_opt(argc, argv, used, "--out"))) out = v;
    if ((v = util_opt(argc, argv, used, "--labels"))) labels = atol(v);
    if ((v = util_opt(argc, argv, used, "--epochs"))) cfg.epochs = atoi(v);
    if ((v = util_opt(argc, argv, used, "--batch"))) cfg.batch = atoi(v);
    if ((v = util_opt(argc, argv, used, "--lr"))) cfg.lr = (float)atof(v);
    if ((v = util_opt(argc, argv, used, "--seed"))) cfg.seed = strtoull(v, NULL, 10);
    if ((v = util_opt(argc, argv, used, "--schedule"))) {
        if (strcmp(v, "constant") && strcmp(v, "cosine")) {
            fprintf(stderr, "clgrad adapt: unknown schedule '%s' (constant, cosine)\n", v);
            free(used);
            return 2;
        }
        cfg.cosine = !strcmp(v, "cosine");
    }
    const char *enc = util_opt(argc, argv, used, "--encoder");
    int bad = util_unknown("adapt", argc, argv, used);
    free(used);
    if (bad)
        return 2;
    if (!from) {
        fprintf(stderr, "clgrad adapt: --from is required (a checkpoint, none or pixels)\n");
        usage(stderr);
        return 2;
    }
    if (strcmp(mode, "probe") != 0 && strcmp(mode, "finetune") != 0) {
        fprintf(stderr, "clgrad adapt: --mode must be probe or finetune\n");
        return 2;
    }
    if (cfg.epochs < 1 || cfg.batch < 1 || !(cfg.lr > 0) || labels < 0) {
        fprintf(stderr, "clgrad adapt: --epochs, --batch, --lr and --labels must be positive\n");
        return 2;
    }
    char title[64];
    if (!strcmp(from, "pixels")) {
        cfg.n_hidden = 0;
        snprintf(title, sizeof title, "adapt (linear on pixels)");
    } else if (!strcmp(from, "none")) {
        if (enc) {
            cfg.n_hidden = 0;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", enc);
            for (char *tok = strtok(buf, ","); tok && cfg.n_hidden < MLP_MAX_LAYERS - 1; tok = strtok(NULL, ","))
                cfg.hidden[cfg.n_hidden++] = atoi(tok);
        }
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
