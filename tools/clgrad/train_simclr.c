/* train_simclr.c — `clgrad train simclr`: contrastive pretraining of the MLP encoder on two
 * device-augmented views of each MNIST-format image (NT-Xent); reports the test NT-Xent loss and
 * positive-pair top-1, and writes a views PNG, a CSV log, an SVG curve and a checkpoint whose
 * encoder `clgrad adapt --from` reuses. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
#define GRID_IMAGES 8
#define GRID_VIEWS 6
#define GRID_SCALE 3

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clgrad train simclr [options]\n"
            "  --data DIR         MNIST-format data folder (default " DEFAULT_DATA ")\n"
            "  --encoder LIST     encoder widths after the input (default 512,128; ReLU after each)\n"
            "  --head LIST        projection head widths after the code (default 128,64)\n"
            "  --temperature T    NT-Xent temperature (default 0.1)\n"
            "  --epochs N         (default 30)\n"
            "  --batch N          images per step, two views each (default 256)\n"
            "  --lr X             Adam learning rate (default 1e-3)\n"
            "  --seed N           (default 1)\n"
            "augmentations (each view draws its own, on the device):\n"
            "  --crop-scale LO,HI random resized crop: area fraction (default 0.8,1)\n"
            "  --crop-ratio LO,HI aspect ratio w/h, log-uniform (default 0.75,1.3333)\n"
            "  --no-crop          no resized crop (scale 1,1 and ratio 1,1)\n"
            "  --translate PX     extra shift of the crop window, up to ±PX pixels (default 0)\n"
            "  --flip P           horizontal flip probability (default 0.5; 0 = off)\n"
            "  --cutout SIDE      side of the zeroed square (default 8; 0 = off)\n"
            "  --cutout-p P       cutout probability (default 0.5)\n"
            "  --noise SIGMA      Gaussian noise std (default 0.05; 0 = off)\n"
            "  --device SPEC      auto | cpu | gpu | P:D | name substring\n"
            "  --out FILE         checkpoint (default simclr.safetensors); the log (.csv), curve (.svg)\n"
            "                     and views (.png: each row an image, then views of it) beside it\n"
            "  --train-limit N    use only the first N training images\n"
            "  --profile          time every op and print a table at the end (its kernels on the device's\n"
            "                     clock; the host's where the driver has none)\n"
            "  --dot FILE         write the training graph as Graphviz DOT\n"
            "  --resume FILE      continue the interrupted run saved in FILE (same options)\n");
}

/* "LO,HI" with lo_min < (or <=) LO <= HI <= hi_max. */
static int parse_range(const char *cmd, const char *name, const char *s, double lo_min, double hi_max, float *lo,
                       float *hi)
{
    const char *comma = s ? strchr(s, ',') : NULL;
    char a[64];
    if (!comma || (size_t)(comma - s) >= sizeof a) {
        fprintf(stderr, "clgrad %s: %s must be LO,HI (got '%s')\n", cmd, name, s ? s : "");
        return 1;
    }
    memcpy(a, s, (size_t)(comma - s));
    a[comma - s] = 0;
    if (util_parse_float(cmd, name, a, lo_min, 1, hi_max, lo) || util_parse_float(cmd, name, comma + 1, lo_min, 1, hi_max, hi))
        return 1;
    if (*lo > *hi) {
        fprintf(stderr, "clgrad %s: %s: LO %g is above HI %g\n", cmd, name, (double)*lo, (double)*hi);
        return 1;
    }
    return 0;
}

/* NT-Xent loss and positive-pair top-1 over the test set's full batches (the views of a batch are
 * fixed while the step count does not change). */
static clg_status simclr_evaluate(clg_simclr *m, const float *images, int n, double *loss, double *acc)
{
    int B = m->cfg.batch, D = m->cfg.enc[0], nb = 0;
    double sl = 0, sa = 0;
    clg_status st = CLG_OK;
    for (int s = 0; s + B <= n; s += B, nb++) {
        float l, a;
        if ((st = clg_graph_set_input(m->g, m->x, images + (size_t)s * (size_t)D)) || (st = clg_graph_forward(m->g)) ||
            (st = clg_graph_read(m->g, m->loss, &l)) || (st = clg_graph_read(m->g, m->acc, &a)))
            return st;
        sl += l;
        sa += a;
    }
    *loss = nb ? sl / nb : NAN;
    *acc = nb ? sa / nb : NAN;
    return st;
}

static uint8_t px(float v)
{
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    return (uint8_t)lrintf(v * 255.0f);
}

typedef struct grid_job {
    clg_ctx *ctx;
    const clg_simclr *m;
    const float *images;
    int n;
    uint64_t counter;
    const char *path;
} grid_job;

/* One row per test image: the image, then GRID_VIEWS views drawn by the augment op with the
 * model's settings (pixels clamped to [0, 1]). */
static clg_status grid_extra(void *user)
{
    grid_job *j = user;
    const clg_simclr_config *c = &j->m->cfg;
    int H = c->height, W = c->width, D = H * W, k = j->n < GRID_IMAGES ? j->n : GRID_IMAGES, S = GRID_SCALE, gap = 2;
    int cols = 1 + GRID_VIEWS, gw = (cols * (W + gap) - gap) * S, gh = (k * (H + gap) - gap) * S;
    clg_attrs a = clg_attrs_defaults();
    a.height = H;
    a.width = W;
    a.aug = c->aug;
    a.aug.views = GRID_VIEWS;
    a.seed = c->seed * 0x9e3779b97f4a7c15ULL + 29;
    a.counter = j->counter;
    clg_shape sx = clg_shape_make(CLG_F32, 2, (int64_t[]){ k, D }), sv;
    const clg_shape *ins[1] = { &sx };
    clg_tensor x = { 0 }, v = { 0 };
    float *views = malloc((size_t)GRID_VIEWS * (size_t)k * (size_t)D * sizeof(float));
    uint8_t *img = malloc((size_t)gw * (size_t)gh);
    clg_status st = CLG_OK;
    if (!views || !img) {
        st = CLG_ERR_OUT_OF_MEMORY;
        goto out;
    }
    if ((st = clg_op_infer(CLG_OP_AUGMENT, ins, &a, &sv)) || (st = clg_tensor_new(j->ctx, &sx, &x)) ||
        (st = clg_tensor_new(j->ctx, &sv, &v)) || (st = clg_tensor_write(&x, j->images)) ||
        (st = clg_op_forward(j->ctx, CLG_OP_AUGMENT, (const clg_tensor *const[]){ &x }, &v, &a)) ||
        (st = clg_tensor_read(&v, views)))
        goto out;
    memset(img, 255, (size_t)gw * (size_t)gh);
    for (int r = 0; r < k; r++)
        for (int col = 0; col < cols; col++)
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) {
                    float val = col == 0 ? j->images[(size_t)r * (size_t)D + (size_t)(y * W + xx)]
                                         : views[((size_t)(col - 1) * (size_t)k + (size_t)r) * (size_t)D + (size_t)(y * W + xx)];
                    int ox = (col * (W + gap) + xx) * S, oy = (r * (H + gap) + y) * S;
                    for (int dy = 0; dy < S; dy++)
                        memset(img + (size_t)(oy + dy) * (size_t)gw + ox, px(val), (size_t)S);
                }
    st = clg_png_write(j->path, img, gw, gh, 1);
out:
    clg_tensor_free(&x);
    clg_tensor_free(&v);
    free(views);
    free(img);
    return st;
}

int cmd_train_simclr(int argc, char **argv)
{
    const char *cmd = "train simclr";
    int rc0;
    char *used = util_args_begin(argc, argv, usage, &rc0);
    if (!used)
        return rc0;
    clg_simclr_config cfg = clg_simclr_defaults();
    int epochs = 30, bad = 0;
    float lr = 1e-3f;
    long train_limit = 0;
    const char *v, *data = DEFAULT_DATA, *device = NULL, *out = "simclr.safetensors", *resume = NULL;
    if ((v = util_opt(argc, argv, used, "--data"))) data = v;
    if ((v = util_opt(argc, argv, used, "--device"))) device = v;
    if ((v = util_opt(argc, argv, used, "--out"))) out = v;
    if ((v = util_opt(argc, argv, used, "--resume"))) resume = v;
    bad |= util_opt_float(cmd, argc, argv, used, "--temperature", 0, 1, 1e6, &cfg.temperature);
    bad |= util_opt_int(cmd, argc, argv, used, "--epochs", 1, 100000, &epochs);
    bad |= util_opt_int(cmd, argc, argv, used, "--batch", 1, 16384, &cfg.batch);
    bad |= util_opt_float(cmd, argc, argv, used, "--lr", 0, 1, 1e6, &lr);
    bad |= util_opt_u64(cmd, argc, argv, used, "--seed", &cfg.seed);
    bad |= util_opt_long(cmd, argc, argv, used, "--train-limit", 1, INT_MAX, &train_limit);
    const char *cscale = util_opt(argc, argv, used, "--crop-scale"), *cratio = util_opt(argc, argv, used, "--crop-ratio");
    if (cscale)
        bad |= parse_range(cmd, "--crop-scale", cscale, 0, 1, &cfg.aug.scale_lo, &cfg.aug.scale_hi);
    if (cratio)
        bad |= parse_range(cmd, "--crop-ratio", cratio, 0, 100, &cfg.aug.ratio_lo, &cfg.aug.ratio_hi);
    if (util_flag(argc, argv, used, "--no-crop")) {
        if (cscale || cratio) {
            fprintf(stderr, "clgrad %s: --no-crop and --crop-scale/--crop-ratio exclude each other\n", cmd);
            bad = 1;
        }
        cfg.aug.scale_lo = cfg.aug.scale_hi = cfg.aug.ratio_lo = cfg.aug.ratio_hi = 1.0f;
    }
    bad |= util_opt_float(cmd, argc, argv, used, "--translate", 0, 0, 1e4, &cfg.aug.translate);
    bad |= util_opt_float(cmd, argc, argv, used, "--flip", 0, 0, 1, &cfg.aug.flip_p);
    bad |= util_opt_int(cmd, argc, argv, used, "--cutout", 0, 1 << 16, &cfg.aug.cutout);
    bad |= util_opt_float(cmd, argc, argv, used, "--cutout-p", 0, 0, 1, &cfg.aug.cutout_p);
    bad |= util_opt_float(cmd, argc, argv, used, "--noise", 0, 0, 1e4, &cfg.aug.noise_std);
    const char *dot = util_opt(argc, argv, used, "--dot");
    int profile = util_flag(argc, argv, used, "--profile");
    if ((v = util_opt(argc, argv, used, "--encoder"))) {
        int n = 0;
        bad |= util_parse_int_list(cmd, "--encoder", v, 1, 1 << 24, cfg.enc + 1, CLG_MLP_MAX_LAYERS - 1, &n);
        cfg.n_enc = 1 + n;
    }
    if ((v = util_opt(argc, argv, used, "--head")))
        bad |= util_parse_int_list(cmd, "--head", v, 1, 1 << 24, cfg.head, CLG_MLP_MAX_LAYERS, &cfg.n_head);
    bad |= util_unknown(cmd, argc, argv, used);
    free(used);
    if (bad)
        return 2;

    int rc = 1;
    clg_status st;
    cli_data d = { 0 };
    clg_ctx *ctx = NULL;
    clg_simclr m = { 0 };
    float *xb = NULL;
    int *order = NULL;
    cli_run run = { 0 };
    cli_paths paths;
    cli_derive_paths(out, &paths);
    const char *outs[] = { out, paths.csv, paths.svg, paths.png, paths.resume, dot };
    const char *whats[] = { "--out", "the log (.csv)", "the curve (.svg)", "the views (.png)", "the resume file",
                            "--dot" };
    if (cli_check_outputs(cmd, outs, whats, dot ? 6 : 5))
        return 2;
    if (cli_dist_refuse(cmd, "NT-Xent's negatives are the whole batch: a rank would contrast only its shard"))
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
    if (cfg.aug.cutout > d.rows || cfg.aug.cutout > d.cols) {
        fprintf(stderr, "clgrad train simclr: --cutout %d is larger than the %dx%d images of %s\n", cfg.aug.cutout,
                d.rows, d.cols, data);
        rc = 2;
        goto out;
    }
    cfg.height = d.rows;
    cfg.width = d.cols;
    cfg.enc[0] = d.rows * d.cols;
    int D = cfg.enc[0], B = cfg.batch;
    if (d.n_train < B) {
        fprintf(stderr, "clgrad train simclr: %d training images is fewer than one batch of %d\n", d.n_train, B);
        goto out;
    }
    if ((st = clg_simclr_build(ctx, &cfg, &m))) {
        cli_fail("building the model", st);
        goto out;
    }
    clg_optim_options oo = clg_optim_defaults(CLG_OPTIM_ADAM);
    oo.lr = lr;
    if (cli_plan_training(m.g, &oo, dot, profile))
        goto out;
    char arch[128], head[128], augs[256];
    int an = 0, hn = 0;
    for (int i = 0; i < cfg.n_enc; i++)
        an += snprintf(arch + an, sizeof arch - (size_t)an, "%s%d", i ? "-" : "", cfg.enc[i]);
    hn += snprintf(head, sizeof head, "%d", cfg.enc[cfg.n_enc - 1]);
    for (int i = 0; i < cfg.n_head; i++)
        hn += snprintf(head + hn, sizeof head - (size_t)hn, "-%d", cfg.head[i]);
    const struct clg_augment_attrs *ag = &cfg.aug;
    snprintf(augs, sizeof augs, "crop_scale=%.9g,%.9g crop_ratio=%.9g,%.9g translate=%.9g flip=%.9g cutout=%d cutout_p=%.9g noise=%.9g",
             (double)ag->scale_lo, (double)ag->scale_hi, (double)ag->ratio_lo, (double)ag->ratio_hi, (double)ag->translate,
             (double)ag->flip_p, ag->cutout, (double)ag->cutout_p, (double)ag->noise_std);
    snprintf(run.config, sizeof run.config, "arch=%s head=%s temperature=%.9g %s batch=%d epochs=%d lr=%.9g seed=%llu images=%d",
             arch, head, (double)cfg.temperature, augs, B, epochs, (double)lr, (unsigned long long)cfg.seed, d.n_train);
    if (resume && cli_run_resume(&run, m.g, resume))
        goto out;
    printf("clgrad train simclr: encoder %s, head %s, temperature %g, on %s (%s)\n", arch, head, (double)cfg.temperature,
           dev.name, dev.platform_name);
    printf("augmentations: %s\n", augs);
    printf("data: %s (%d train, %d test); batch %d images (%d views), %d epochs, adam lr %g, seed %llu\n", data,
           d.n_train, d.n_test, B, 2 * B, epochs, lr, (unsigned long long)cfg.seed);
    if (resume)
        printf("resuming %s at epoch %d, step %d\n", resume, run.start_epoch + 1, run.start_step);

    int steps = cli_epoch_steps(d.n_train, B);
    xb = malloc((size_t)B * (size_t)D * sizeof(float));
    order = malloc((size_t)d.n_train * sizeof(int));
    if (!xb || !order) {
        fprintf(stderr, "clgrad train simclr: out of memory\n");
        goto out;
    }
    for (int i = 0; i < d.n_train; i++)
        order[i] = i;
    uint64_t rng = cfg.seed ^ 0x5eedda7aULL;
    for (int ep = 0; ep < run.start_epoch; ep++)
        cli_shuffle(order, d.n_train, &rng);
    if (cli_interrupted_all()) {
        fprintf(stderr, "clgrad train simclr: interrupted before training; nothing written\n");
        rc = 128 + cli_interrupted();
        goto out;
    }
    char temp[32];
    snprintf(temp, sizeof temp, "%g", (double)cfg.temperature);
    const char *meta[] = { "model", "simclr", "arch", arch, "head", head, "temperature", temp, "augment", augs, NULL };
    double t_all = util_now(), train_s = run.train_s, te = NAN, tacc = NAN;
    for (int ep = run.start_epoch; ep < epochs; ep++) {
        cli_shuffle(order, d.n_train, &rng);
        cli_epoch e = { .run = &run, .ctx = ctx, .g = m.g, .meta = meta, .what = "nt-xent", .epoch = ep, .steps = steps,
                        .B = B, .order = order, .n = d.n_train, .dim = D, .x = d.train_x, .y = NULL, .xb = xb, .yb = NULL,
                        .x_id = m.x, .y_id = -1, .train_s = train_s };
        if ((rc = cli_train_epoch(&e)) >= 0)
            goto out;
        rc = 1;
        int s0 = e.s0;
        double ep_s = e.seconds, sum = e.loss_sum;
        train_s += ep_s;
        if ((st = simclr_evaluate(&m, d.test_x, d.n_test, &te, &tacc))) {
            cli_fail("evaluation", st);
            goto out;
        }
        double sps = (double)(steps - s0) * B / ep_s, tr = sum / steps;
        printf("epoch %2d  train nt-xent %.5f  test nt-xent %.5f  test pair top-1 %.4f  %.1f s  %.0f samples/s\n",
               ep + 1, tr, te, tacc, ep_s, sps);
        fflush(stdout);
        if (cli_run_log(&run, ep, tr, te, "%d,%.6f,%.6f,%.6f,%.3f,%.1f", ep + 1, tr, te, tacc, ep_s, sps))
            goto out;
        if (cli_interrupted_all() && ep + 1 < epochs) {
            rc = cli_run_save_interrupted(&run, m.g, meta, ep + 1, 0, steps, 0, train_s);
            goto out;
        }
    }
    const char *names[2] = { "train NT-Xent", "test NT-Xent" };
    grid_job job = { ctx, &m, d.n_test ? d.test_x : d.train_x, d.n_test ? d.n_test : d.n_train,
                     (uint64_t)clg_graph_step_count(m.g), paths.png };
    if (cli_run_finish(&run, m.g, meta, "epoch,train_nt_xent,test_nt_xent,test_pair_top1,seconds,samples_per_s",
                       "clgrad train simclr", names, grid_extra, &job))
        goto out;
    double trained = (double)steps * B * epochs - (double)run.start_epoch * steps * B - (double)run.start_step * B;
    printf("done: test nt-xent %.5f, test pair top-1 %.4f (views of %d-image batches); %.1f s total, %.0f samples/s "
           "(images, two views each) on %s\n", te, tacc, B, util_now() - t_all,
           train_s > run.train_s ? trained / (train_s - run.train_s) : 0, dev.name);
    printf("wrote %s, %s, %s, %s\n", out, paths.csv, paths.svg, paths.png);
    if (profile)
        cli_profile_print(m.g, stdout);
    rc = 0;
out:
    cli_run_free(&run);
    clg_simclr_free(&m);
    clg_ctx_destroy(ctx);
    cli_data_free(&d);
    free(xb);
    free(order);
    return rc;
}
