/* cmd_train.c — `clgrad train mlp`: train the MLP classifier on an MNIST-format data set on the
 * chosen device, with a progress bar, per-epoch metrics, a CSV log, an SVG loss curve and a
 * safetensors checkpoint. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mlp.h"
#include "util.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

static void usage_mlp(FILE *f)
{
    fprintf(f,
            "usage: clgrad train mlp [options]\n"
            "  --data DIR          MNIST-format data folder (default " DEFAULT_DATA ")\n"
            "  --hidden LIST       hidden layer widths, comma-separated (default 256,256)\n"
            "  --epochs N          (default 10)\n"
            "  --batch N           (default 128)\n"
            "  --lr X              learning rate (default 1e-3)\n"
            "  --optimizer NAME    adam | adamw | sgd (default adam)\n"
            "  --schedule NAME     cosine (from --lr to 0 over the run; default) | constant\n"
            "  --seed N            (default 1)\n"
            "  --device SPEC       auto | cpu | gpu | P:D | name substring (default auto)\n"
            "  --out FILE          checkpoint (.safetensors; default mlp.safetensors)\n"
            "  --log FILE          CSV log (default: the checkpoint's name with .csv)\n"
            "  --train-limit N     use only the first N training images\n"
            "  --profile           time every op (training and evaluation) and print a table at the end:\n"
            "                      its kernels on the device's clock (the host's where the driver has none)\n"
            "  --dot FILE          write the training graph as Graphviz DOT\n"
            "  --resume FILE       continue the interrupted run saved in FILE (same options; Ctrl-C saves\n"
            "                      the checkpoint's name with .resume.safetensors)\n");
}

int cmd_train(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout, "usage: clgrad train mlp|mae|simclr|sgns|clip [options]  (--help after the model for its options)\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "mlp"))
        return cmd_train_mlp(argc - 1, argv + 1);
    if (!strcmp(argv[1], "mae"))
        return cmd_train_mae(argc - 1, argv + 1);
    if (!strcmp(argv[1], "simclr"))
        return cmd_train_simclr(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sgns"))
        return cmd_train_sgns(argc - 1, argv + 1);
    if (!strcmp(argv[1], "clip"))
        return cmd_train_clip(argc - 1, argv + 1);
    fprintf(stderr, "clgrad train: unknown model '%s' (mlp, mae, simclr, sgns, clip)\n", argv[1]);
    return 2;
}

int cmd_train_mlp(int argc, char **argv)
{
    const char *cmd = "train mlp";
    int rc0;
    char *used = util_args_begin(argc, argv, usage_mlp, &rc0);
    if (!used)
        return rc0;
    mlp_config cfg;
    mlp_config_default(&cfg);
    const char *v;
    const char *data = DEFAULT_DATA, *device = NULL, *out = "mlp.safetensors", *log = NULL;
    long train_limit = 0;
    int bad = 0;
    if ((v = util_opt(argc, argv, used, "--data"))) data = v;
    if ((v = util_opt(argc, argv, used, "--device"))) device = v;
    if ((v = util_opt(argc, argv, used, "--out"))) out = v;
    if ((v = util_opt(argc, argv, used, "--log"))) log = v;
    if ((v = util_opt(argc, argv, used, "--resume"))) cfg.resume = v;
    bad |= util_opt_int(cmd, argc, argv, used, "--epochs", 1, 100000, &cfg.epochs);
    bad |= util_opt_int(cmd, argc, argv, used, "--batch", 1, 1 << 20, &cfg.batch);
    bad |= util_opt_float(cmd, argc, argv, used, "--lr", 0, 1, 1e6, &cfg.lr);
    bad |= util_opt_u64(cmd, argc, argv, used, "--seed", &cfg.seed);
    bad |= util_opt_long(cmd, argc, argv, used, "--train-limit", 1, INT_MAX, &train_limit);
    if ((v = util_opt(argc, argv, used, "--dot"))) cfg.dot = v;
    cfg.profile = util_flag(argc, argv, used, "--profile");
    if ((v = util_opt(argc, argv, used, "--optimizer"))) {
        if (!strcmp(v, "adam")) cfg.optim = CLG_OPTIM_ADAM;
        else if (!strcmp(v, "adamw")) cfg.optim = CLG_OPTIM_ADAMW;
        else if (!strcmp(v, "sgd")) cfg.optim = CLG_OPTIM_SGD;
        else {
            fprintf(stderr, "clgrad train mlp: unknown optimizer '%s' (adam, adamw, sgd)\n", v);
            bad = 1;
        }
    }
    if ((v = util_opt(argc, argv, used, "--schedule"))) {
        if (!strcmp(v, "constant")) cfg.cosine = 0;
        else if (!strcmp(v, "cosine")) cfg.cosine = 1;
        else {
            fprintf(stderr, "clgrad train mlp: unknown schedule '%s' (constant, cosine)\n", v);
            bad = 1;
        }
    }
    if ((v = util_opt(argc, argv, used, "--hidden")))
        bad |= util_parse_int_list(cmd, "--hidden", v, 1, 1 << 24, cfg.hidden, MLP_MAX_LAYERS - 1, &cfg.n_hidden);
    bad |= util_unknown(cmd, argc, argv, used);
    free(used);
    if (bad)
        return 2;

    char logpath[1100];
    if (!log) {
        cli_paths paths;
        cli_derive_paths(out, &paths);
        snprintf(logpath, sizeof logpath, "%s", paths.csv);
        log = logpath;
    }
    return mlp_train_run(&cfg, data, device, out, log, train_limit);
}
