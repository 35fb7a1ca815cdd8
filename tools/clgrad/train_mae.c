/* train_mae.c — `clgrad train mae`: the masked auto-encoder on MNIST-format images: train with a
 * fresh patch mask (and, with --noise, fresh input noise) per step, report the test MSE (on the
 * masked pixels; on all pixels with --mask-ratio 0, the plain or denoising auto-encoder) beside the
 * mean-image baseline, and write a reconstructions PNG, a CSV log, an SVG curve and a checkpoint. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mlp.h"
#include "util.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
#define GRID_IMAGES 8
#define GRID_SCALE 3

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clgrad train mae [options]\n"
            "  --data DIR        MNIST-format data folder (default " DEFAULT_DATA ")\n"
            "  --patch P         patch side (default 4)\n"
            "  --mask-ratio X    fraction of patches hidden per image (default 0.75); 0 = plain auto-encoder,\n"
            "                    loss on every pixel\n"
            "  --noise SIGMA     add N(0, SIGMA^2) noise to the input, loss against the clean image\n"
            "                    (denoising auto-encoder; default 0)\n"
            "  --encoder LIST    encoder widths after the input, e.g. 512,128 (default); the decoder mirrors it\n"
            "  --epochs N        (default 20)\n"
            "  --batch N         (default 256)\n"
            "  --lr X            Adam learning rate (default 1e-3)\n"
            "  --seed N          (default 1)\n"
            "  --device SPEC     auto | cpu | gpu | P:D | name substring\n"
            "  --out FILE        checkpoint (default mae.safetensors); the log (.csv), curve (.svg) and\n"
            "                    reconstructions (.png) are written beside it\n"
            "  --train-limit N   use only the first N training images\n"
            "  --profile         time every op and print a table at the end (its kernels on the device's\n"
            "                    clock; the host's where the driver has none)\n"
            "  --dot FILE        write the training graph as Graphviz DOT\n"
            "  --resume FILE     continue the interrupted run saved in FILE (same options; Ctrl-C saves\n"
            "                    the checkpoint's name with .resume.safetensors)\n");
}

/* Masked MSE (all pixels when the model has no mask) of the model and of the mean-image baseline
 * over the test set (fixed masks and noise: the step count does not change during evaluation). */
clg_status mae_evaluate(clg_mae *m, const float *images, int n, const float *mean_img, double *mse,
                           double *base_mse)
{
    int B = m->cfg.batch, D = m->cfg.enc[0];
    float *xb = malloc((size_t)B * (size_t)D * sizeof(float));
    float *mask = malloc((size_t)B * (size_t)D * sizeof(float));
    float *rec = malloc((size_t)B * (size_t)D * sizeof(float));
    clg_status st = CLG_OK;
    double se = 0, sb = 0, cnt = 0;
    if (!xb || !mask || !rec) {
        st = CLG_ERR_OUT_OF_MEMORY;
        goto out;
    }
    for (int s = 0; s < n; s += B) {
        int rows = n - s < B ? n - s : B;
        memcpy(xb, images + (size_t)s * (size_t)D, (size_t)rows * (size_t)D * sizeof(float));
        memset(xb + (size_t)rows * (size_t)D, 0, (size_t)(B - rows) * (size_t)D * sizeof(float));
        if ((st = clg_graph_set_input(m->g, m->x, xb)) || (st = clg_graph_forward(m->g)) ||
            (m->mask >= 0 && (st = clg_graph_read(m->g, m->mask, mask))) ||
            (st = clg_graph_read(m->g, m->recon, rec)))
            goto out;
        if (m->mask < 0)
            for (size_t i = 0; i < (size_t)rows * (size_t)D; i++)
                mask[i] = 1;
        for (size_t i = 0; i < (size_t)rows * (size_t)D; i++) {
            if (mask[i] == 0)
                continue;
            double d = rec[i] - xb[i], e = (mean_img ? mean_img[i % (size_t)D] : 0) - xb[i];
            se += d * d;
            sb += e * e;
            cnt += 1;
        }
    }
    *mse = cnt > 0 ? se / cnt : 0;
    *base_mse = cnt > 0 ? sb / cnt : 0;
out:
    free(xb);
    free(mask);
    free(rec);
    return st;
}

static uint8_t px(float v)
{
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    return (uint8_t)lrintf(v * 255.0f);
}

/* One row per test image: original | encoder input (noisy; hidden pixels grey) | reconstruction. */
static clg_status write_grid(clg_mae *m, const float *images, const char *path)
{
    int B = m->cfg.batch, H = m->cfg.height, W = m->cfg.width, D = H * W;
    int k = GRID_IMAGES < B ? GRID_IMAGES : B, S = GRID_SCALE, gap = 2;
    int gw = (3 * W + 2 * gap) * S, gh = k * (H + gap) * S;
    float *xb = calloc((size_t)B * (size_t)D, sizeof(float));
    float *mask = malloc((size_t)B * (size_t)D * sizeof(float));
    float *rec = malloc((size_t)B * (size_t)D * sizeof(float));
    float *in = malloc((size_t)B * (size_t)D * sizeof(float));
    uint8_t *img = malloc((size_t)gw * (size_t)gh);
    clg_status st = CLG_OK;
    if (!xb || !mask || !rec || !in || !img) {
        st = CLG_ERR_OUT_OF_MEMORY;
        goto out;
    }
    memset(img, 255, (size_t)gw * (size_t)gh);
    memcpy(xb, images, (size_t)k * (size_t)D * sizeof(float));
    if ((st = clg_graph_set_input(m->g, m->x, xb)) || (st = clg_graph_forward(m->g)) ||
        (st = clg_graph_read(m->g, m->masked_input, in)) || (st = clg_graph_read(m->g, m->recon, rec)))
        goto out;
    if (m->mask < 0)
        memset(mask, 0, (size_t)B * (size_t)D * sizeof(float));
    else if ((st = clg_graph_read(m->g, m->mask, mask)))
        goto out;
    for (int r = 0; r < k; r++)
        for (int col = 0; col < 3; col++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    size_t i = (size_t)r * (size_t)D + (size_t)(y * W + x);
                    uint8_t v = col == 0 ? px(xb[i]) : col == 1 ? (mask[i] != 0 ? 128 : px(in[i])) : px(rec[i]);
                    int ox = (col * (W + gap) + x) * S, oy = (r * (H + gap) + y) * S;
                    for (int dy = 0; dy < S; dy++)
                        memset(img + (size_t)(oy + dy) * (size_t)gw + ox, v, (size_t)S);
                }
    st = clg_png_write(path, img, gw, gh, 1);
out:
    free(xb);
    free(mask);
    free(rec);
    free(in);
    free(img);
    return st;
}

/* cli_run_finish's extra output: the reconstructions PNG. */
typedef struct grid_job {
    clg_mae *m;
    const float *images;
    const char *path;
} grid_job;

static clg_status grid_extra(void *user)
{
    grid_job *j = user;
    return write_grid(j->m, j->images, j->path);
}

int cmd_train_mae(int argc, char **argv)
{
    const char *cmd = "train mae";
    int rc0;
    char *used = util_args_begin(argc, argv, usage, &rc0);
    if (!used)
        return rc0;
    clg_mae_config cfg = clg_mae_defaults();
    int epochs = 20, bad = 0;
    float lr = 1e-3f;
    long train_limit = 0;
    const char *v, *data = DEFAULT_DATA, *device = NULL, *out = "mae.safetensors", *resume = NULL;
    if ((v = util_opt(argc, argv, used, "--data"))) data = v;
    if ((v = util_opt(argc, argv, used, "--device"))) device = v;
    if ((v = util_opt(argc, argv, used, "--out"))) out = v;
    if ((v = util_opt(argc, argv, used, "--resume"))) resume = v;
    bad |= util_opt_int(cmd, argc, argv, used, "--patch", 1, 1 << 16, &cfg.patch);
    bad |= util_opt_float(cmd, argc, argv, used, "--mask-ratio", 0, 0, 1, &cfg.mask_ratio);
    bad |= util_opt_float(cmd, argc, argv, used, "--noise", 0, 0, 10, &cfg.noise);
    bad |= util_opt_int(cmd, argc, argv, used, "--epochs", 1, 100000, &epochs);
    bad |= util_opt_int(cmd, argc, argv, used, "--batch", 1, 1 << 20, &cfg.batch);
    bad |= util_opt_float(cmd, argc, argv, used, "--lr", 0, 1, 1e6, &lr);
    bad |= util_opt_u64(cmd, argc, argv, used, "--seed", &cfg.seed);
    bad |= util_opt_long(cmd, argc, argv, used, "--train-limit", 1, INT_MAX, &train_limit);
    const char *dot = util_opt(argc, argv, used, "--dot");
    int profile = util_flag(argc, argv, used, "--profile");
    if ((v = util_opt(argc, argv, used, "--encoder"))) {
        int n = 0;
        bad |= util_parse_int_list(cmd, "--encoder", v, 1, 1 << 24, cfg.enc + 1, CLG_MLP_MAX_LAYERS - 1, &n);
        cfg.n_enc = 1 + n;
    }
    bad |= util_unknown(cmd, argc, argv, used);
    free(used);
    if (bad)
        return 2;

    int rc = 1;
    clg_status st;
    cli_data d = { 0 };
    clg_ctx *ctx = NULL;
    clg_mae m = { 0 };
    float *xb = NULL, *mean_img = NULL;
    int *order = NULL;
    cli_run run = { 0 };
    cli_paths paths;
    cli_derive_paths(out, &paths);
    const char *outs[] = { out, paths.csv, paths.svg, paths.png, paths.resume, dot };
    const char *whats[] = { "--out", "the log (.csv)", "the curve (.svg)", "the reconstructions (.png)",
                            "the resume file", "--dot" };
    if (cli_check_outputs(cmd, outs, whats, dot ? 6 : 5))
        return 2;
    cli_signals_install();
    if (cli_run_init(&run, cmd, epochs))
        goto out;
    run.out = out;
    run.csv = paths.csv;
    run.svg = paths.svg;
    run.resume_out = paths.resume;

    clg_device_info dev;
    if (cli_open_device_loading(device, data, train_limit, CLG_OPS_ALL, profile, &d, &dev, &ctx))
        goto out;
    if (d.rows % cfg.patch || d.cols % cfg.patch) {
        fprintf(stderr, "clgrad train mae: --patch %d does not divide the %dx%d images of %s\n", cfg.patch, d.rows,
                d.cols, data);
        rc = 2;
        goto out;
    }
    cfg.height = d.rows;
    cfg.width = d.cols;
    cfg.enc[0] = d.rows * d.cols;
    int D = cfg.enc[0], B = cfg.batch;
    if (d.n_train < B) {
        fprintf(stderr, "clgrad train mae: %d training images is fewer than one batch of %d\n", d.n_train, B);
        goto out;
    }
    if (cli_dist_batch(cmd, B, &cfg.batch)) /* the model's batch: this rank's rows */
        goto out;
    if ((st = clg_mae_build(ctx, &cfg, &m))) {
        cli_fail("building the model", st);
        goto out;
    }
    clg_optim_options oo = clg_optim_defaults(CLG_OPTIM_ADAM);
    oo.lr = lr;
    if (cli_plan_training(m.g, &oo, dot, profile))
        goto out;
    char arch[128];
    int an = 0;
    for (int i = 0; i < cfg.n_enc; i++)
        an += snprintf(arch + an, sizeof arch - (size_t)an, "%s%d", i ? "-" : "", cfg.enc[i]);
    for (int i = cfg.n_enc - 2; i >= 0; i--)
        an += snprintf(arch + an, sizeof arch - (size_t)an, "-%d", cfg.enc[i]);
    snprintf(run.config, sizeof run.config, "arch=%s patch=%d mask_ratio=%.9g noise=%.9g batch=%d epochs=%d lr=%.9g seed=%llu images=%d",
             arch, cfg.patch, (double)cfg.mask_ratio, (double)cfg.noise, B, epochs, (double)lr, (unsigned long long)cfg.seed, d.n_train);
    if ((resume && cli_run_resume(&run, m.g, resume)) || cli_dist_start(m.g))
        goto out;
    char noise[40] = "";
    if (cfg.noise > 0)
        snprintf(noise, sizeof noise, ", input noise sigma %g", cfg.noise);
    printf("clgrad train mae: %s, %dx%d patches, %.0f%% masked%s%s, on %s (%s)\n", arch, cfg.patch, cfg.patch,
           100.0 * cfg.mask_ratio, cfg.mask_ratio > 0 ? "" : " (plain auto-encoder, loss on all pixels)", noise,
           dev.name, dev.platform_name);
    printf("data: %s (%d train, %d test); batch %d, %d epochs, adam lr %g, seed %llu\n", data, d.n_train, d.n_test, B,
           epochs, lr, (unsigned long long)cfg.seed);
    if (resume)
        printf("resuming %s at epoch %d, step %d\n", resume, run.start_epoch + 1, run.start_step);

    int steps = cli_epoch_steps(d.n_train, B);
    xb = malloc((size_t)B * (size_t)D * sizeof(float));
    mean_img = calloc((size_t)D, sizeof(float));
    order = malloc((size_t)d.n_train * sizeof(int));
    if (!xb || !mean_img || !order) {
        fprintf(stderr, "clgrad train mae: out of memory\n");
        goto out;
    }
    for (int i = 0; i < d.n_train; i++) {
        order[i] = i;
        for (int j = 0; j < D; j++)
            mean_img[j] += d.train_x[(size_t)i * (size_t)D + (size_t)j] / (float)d.n_train;
    }
    uint64_t rng = cfg.seed ^ 0x5eedda7aULL;
    for (int ep = 0; ep < run.start_epoch; ep++)
        cli_shuffle(order, d.n_train, &rng);
    if (cli_interrupted_all()) {
        fprintf(stderr, "clgrad train mae: interrupted before training; nothing written\n");
        rc = 128 + cli_interrupted();
        goto out;
    }
    char ratio[32], patch[16];
    snprintf(ratio, sizeof ratio, "%g", cfg.mask_ratio);
    snprintf(patch, sizeof patch, "%d", cfg.patch);
    char sigma[32];
    snprintf(sigma, sizeof sigma, "%.9g", cfg.noise);
    const char *meta[] = { "model", "mae", "arch", arch, "mask_ratio", ratio, "patch", patch, "noise", sigma, NULL };
    /* what the loss covers: the hidden pixels, or every pixel with no mask */
    const char *what = cfg.mask_ratio > 0 ? "masked mse" : "mse";
    double t_all = util_now(), train_s = run.train_s, te = 0, base = 0;
    for (int ep = run.start_epoch; ep < epochs; ep++) {
        cli_shuffle(order, d.n_train, &rng);
        cli_epoch e = { .run = &run, .ctx = ctx, .g = m.g, .meta = meta, .what = what, .epoch = ep, .steps = steps,
                        .B = B, .order = order, .n = d.n_train, .dim = D, .x = d.train_x, .y = NULL, .xb = xb, .yb = NULL,
                        .x_id = m.x, .y_id = -1, .train_s = train_s };
        if ((rc = cli_train_epoch(&e)) >= 0)
            goto out;
        rc = 1;
        int s0 = e.s0;
        double ep_s = e.seconds, sum = e.loss_sum;
        train_s += ep_s;
        if ((st = mae_evaluate(&m, d.test_x, d.n_test, mean_img, &te, &base))) {
            cli_fail("evaluation", st);
            goto out;
        }
        double sps = (double)(steps - s0) * B / ep_s, tr = sum / steps;
        printf("epoch %2d  train %s %.5f  test %s %.5f  (mean-image baseline %.5f)  %.1f s  %.0f samples/s\n",
               ep + 1, what, tr, what, te, base, ep_s, sps);
        fflush(stdout);
        if (cli_run_log(&run, ep, tr, te, "%d,%.6f,%.6f,%.6f,%.3f,%.1f", ep + 1, tr, te, base, ep_s, sps))
            goto out;
        if (cli_interrupted_all() && ep + 1 < epochs) {
            rc = cli_run_save_interrupted(&run, m.g, meta, ep + 1, 0, steps, 0, train_s);
            goto out;
        }
    }
    int masked = cfg.mask_ratio > 0;
    const char *names[2] = { masked ? "train masked MSE" : "train MSE", masked ? "test masked MSE" : "test MSE" };
    grid_job job = { &m, d.test_x, paths.png };
    if (cli_run_finish(&run, m.g, meta, masked ? "epoch,train_masked_mse,test_masked_mse,baseline_masked_mse,seconds,samples_per_s"
                              : "epoch,train_mse,test_mse,baseline_mse,seconds,samples_per_s",
                       "clgrad train mae", names, grid_extra, &job))
        goto out;
    double trained = (double)steps * B * epochs - (double)run.start_epoch * steps * B - (double)run.start_step * B;
    printf("done: test %s %.5f vs mean-image baseline %.5f; %.1f s total, %.0f samples/s on %s\n", what, te, base,
           util_now() - t_all, train_s > run.train_s ? trained / (train_s - run.train_s) : 0, dev.name);
    printf("wrote %s, %s, %s, %s\n", out, paths.csv, paths.svg, paths.png);
    if (profile)
        cli_profile_print(m.g, stdout);
    rc = 0;
out:
    cli_run_free(&run);
    clg_mae_free(&m);
    clg_ctx_destroy(ctx);
    cli_data_free(&d);
    free(xb);
    free(mean_img);
    free(order);
    return rc;
}
