/* train_mlp.c — the MLP classifier's training loop: shuffled batches, per-epoch train loss and
 * accuracy, test accuracy (on an inference copy of the model at 1000 rows), CSV log, SVG curve,
 * checkpoint, final summary. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mlp.h"
#include "util.h"

void mlp_config_default(mlp_config *c)
{
    memset(c, 0, sizeof *c);
    c->hidden[0] = 256;
    c->hidden[1] = 256;
    c->n_hidden = 2;
    c->epochs = 10;
    c->batch = 128;
    c->lr = 1e-3f;
    c->optim = CLG_OPTIM_ADAM;
    c->cosine = 1;
    c->seed = 1;
    c->title = "train mlp";
}

/* Accuracy of `model` on (images, labels), in batches of the model's batch size; the last partial
 * batch is padded and only its real rows count. */
clg_status mlp_evaluate(clg_mlp *m, const float *images, const int32_t *labels, int n, int dim,
                           double *acc_out)
{
    int B = m->batch, C = m->widths[m->n_layers];
    float *xb = calloc((size_t)B * (size_t)dim, sizeof(float));
    int32_t *yb = calloc((size_t)B, sizeof(int32_t));
    float *logits = malloc((size_t)B * (size_t)C * sizeof(float));
    clg_status st = CLG_OK;
    long correct = 0;
    if (!xb || !yb || !logits) {
        st = CLG_ERR_OUT_OF_MEMORY;
        goto out;
    }
    for (int s = 0; s < n; s += B) {
        int rows = n - s < B ? n - s : B;
        const float *x = images + (size_t)s * (size_t)dim; /* a whole batch uploads from the data */
        const int32_t *y = labels + s;
        if (rows < B) { /* the last, padded */
            memcpy(xb, x, (size_t)rows * (size_t)dim * sizeof(float));
            memset(xb + (size_t)rows * (size_t)dim, 0, (size_t)(B - rows) * (size_t)dim * sizeof(float));
            memcpy(yb, y, (size_t)rows * sizeof(int32_t));
            memset(yb + rows, 0, (size_t)(B - rows) * sizeof(int32_t));
            x = xb;
            y = yb;
        }
        if ((st = clg_graph_set_input(m->g, m->x, x)) || (st = clg_graph_set_input(m->g, m->labels, y)) ||
            (st = clg_graph_forward(m->g)) || (st = clg_graph_read(m->g, m->logits, logits)))
            goto out;
        for (int r = 0; r < rows; r++) {
            const float *row = logits + (size_t)r * (size_t)C;
            int best = 0;
            for (int c = 1; c < C; c++)
                if (row[c] > row[best])
                    best = c;
            correct += best == y[r];
        }
    }
    *acc_out = n > 0 ? (double)correct / n : 0;
out:
    free(xb);
    free(yb);
    free(logits);
    return st;
}

/* Rows of the per-epoch evaluation's forward passes: 157 passes of 128 rows took ~72 ms an epoch
 * of `train mlp` (a wait after each), 20 of 1000 rows ~40 ms. */
#define EVAL_BATCH 1000

/* An inference copy of the trained model at EVAL_BATCH rows, for the per-epoch evaluation
 * (eval_copy_params fills it); *ev stays zeroed when it cannot be built (the device's memory,
 * say), and the evaluation then runs on the training graph. */
static void eval_model(clg_ctx *ctx, const mlp_config *cfg, const int *widths, int nw, clg_mlp *ev)
{
    clg_status st;
    memset(ev, 0, sizeof *ev);
    if (cfg->classifier)
        st = clg_classifier_build(ctx, widths, nw - 1, widths[nw - 1], EVAL_BATCH, cfg->seed, ev);
    else
        st = clg_mlp_build(ctx, widths, nw, EVAL_BATCH, cfg->seed, ev);
    if (!st && (st = clg_graph_plan(ev->g, CLG_PLAN_INFERENCE)))
        clg_mlp_free(ev);
    if (st)
        memset(ev, 0, sizeof *ev);
}

/* ev's parameters = m's (device copies: the driver's buffer copies, so a cold run compiles no copy
 * kernel at the end of its first epoch). */
static clg_status eval_copy_params(clg_mlp *m, clg_mlp *ev)
{
    for (int p = 0; p < clg_graph_param_count(m->g); p++) {
        clg_tensor *src, *dst;
        clg_status st = clg_graph_param_tensor(m->g, p, CLG_STATE_VALUE, &src);
        if (st || (st = clg_graph_param_tensor(ev->g, p, CLG_STATE_VALUE, &dst)) ||
            (st = clg_tensor_copy(dst, src)))
            return st;
    }
    return CLG_OK;
}

int mlp_train_run(const mlp_config *cfg, const char *data, const char *device, const char *out,
                  const char *log, long train_limit)
{
    int rc = 1;
    clg_status st;
    cli_data d = { 0 };
    float *xb = NULL;
    int32_t *yb = NULL;
    int *order = NULL;
    clg_ctx *ctx = NULL;
    clg_mlp m = { 0 }, ev = { 0 };
    cli_run run = { 0 };
    cli_paths opaths, lpaths;
    cli_derive_paths(out, &opaths);
    cli_derive_paths(log, &lpaths);
    const char *outs[] = { out, log, lpaths.svg, opaths.resume, cfg->dot };
    const char *whats[] = { "--out", "--log", "the curve (.svg beside the log)", "the resume file", "--dot" };
    if (cli_check_outputs(cfg->title, outs, whats, cfg->dot ? 5 : 4))
        return 2;
    cli_signals_install();
    if (cli_run_init(&run, cfg->title, cfg->epochs))
        goto out;
    run.out = out;
    run.csv = log;
    run.svg = lpaths.svg;
    run.resume_out = opaths.resume;

    clg_device_info dev;
    if (cli_open_device_loading(device, data, train_limit, CLG_OPS_CORE, cfg->profile, &d, &dev, &ctx))
        goto out;
    int dim = d.rows * d.cols, B = cfg->batch, n_tr = d.n_train, n_te = d.n_test, rows = d.rows, cols = d.cols;
    const float *tr_x = d.train_x, *te_x = d.test_x;
    const int32_t *tr_y = d.train_y, *te_y = d.test_y;
    if (n_tr < B) {
        fprintf(stderr, "clgrad %s: %d training images is fewer than one batch of %d\n", cfg->title, n_tr, B);
        goto out;
    }
    if (cfg->from_width && cfg->from_width != dim) {
        fprintf(stderr, "clgrad %s: %s takes %d inputs but the images in %s are %dx%d = %d pixels\n", cfg->title,
                cfg->from, cfg->from_width, data, rows, cols, dim);
        goto out;
    }
    int Bl; /* this rank's rows of each batch (B under one process) */
    if (cli_dist_batch(cfg->title, B, &Bl))
        goto out;
    int widths[MLP_MAX_LAYERS + 1], nw = 0;
    widths[nw++] = dim;
    for (int i = 0; i < cfg->n_hidden; i++)
        widths[nw++] = cfg->hidden[i];
    if (cfg->classifier) {
        /* hidden = the encoder's widths after the input; the head is added by the builder */
        st = clg_classifier_build(ctx, widths, nw, 10, Bl, cfg->seed, &m);
        widths[nw++] = 10;
    } else {
        widths[nw++] = 10;
        st = clg_mlp_build(ctx, widths, nw, Bl, cfg->seed, &m);
    }
    if (st) {
        cli_fail("building the model", st);
        goto out;
    }
    if (cfg->from && !cfg->resume) {
        int loaded = 0;
        if ((st = clg_checkpoint_load(m.g, cfg->from, CLG_LOAD_PARTIAL, &loaded))) {
            cli_fail("loading the encoder", st);
            goto out;
        }
        if (loaded != 2 * (nw - 2)) {
            fprintf(stderr, "clgrad adapt: %s holds %d of the encoder's %d tensors (enc.fc<i>.weight/bias)\n",
                    cfg->from, loaded, 2 * (nw - 2));
            goto out;
        }
    }
    if (cfg->freeze_encoder && (st = clg_graph_freeze_group(m.g, 0, 1))) {
        cli_fail("freezing the encoder", st);
        goto out;
    }
    int steps_per_epoch = cli_epoch_steps(n_tr, B);
    clg_optim_options oo = clg_optim_defaults(cfg->optim);
    oo.lr = cfg->lr;
    if (cfg->cosine) {
        oo.schedule = CLG_LR_COSINE;
        oo.total_steps = steps_per_epoch * cfg->epochs;
        oo.min_lr = 0.0f;
    }
    if (cli_plan_training(m.g, &oo, cfg->dot, cfg->profile))
        goto out;
    if (!cfg->profile) /* --profile times the evaluation on the training graph, as before */
        eval_model(ctx, cfg, widths, nw, &ev);
    clg_mlp *em = ev.g ? &ev : &m;
    char arch[128];
    int an = 0;
    for (int i = 0; i < nw; i++)
        an += snprintf(arch + an, sizeof arch - (size_t)an, "%s%d", i ? "-" : "", widths[i]);
    const char *optname = cfg->optim == CLG_OPTIM_SGD ? "sgd" : cfg->optim == CLG_OPTIM_ADAMW ? "adamw" : "adam";
    snprintf(run.config, sizeof run.config,
             "arch=%s batch=%d epochs=%d lr=%.9g optimizer=%s schedule=%s seed=%llu images=%d from=%s frozen=%d", arch,
             B, cfg->epochs, (double)cfg->lr, optname, cfg->cosine ? "cosine" : "constant",
             (unsigned long long)cfg->seed, n_tr, cfg->from ? cfg->from : "-", cfg->freeze_encoder);
    if ((cfg->resume && cli_run_resume(&run, m.g, cfg->resume)) || cli_dist_start(m.g))
        goto out;
    printf("clgrad %s: %s on %s (%s)\n", cfg->title, arch, dev.name, dev.platform_name);
    printf("data: %s (%d train, %d test, %dx%d); batch %d, %d epochs, %s lr %g%s, seed %llu\n", data, n_tr, n_te,
           rows, cols, B, cfg->epochs, optname, cfg->lr, cfg->cosine ? " (cosine decay)" : "",
           (unsigned long long)cfg->seed);
    if (cfg->resume)
        printf("resuming %s at epoch %d, step %d\n", cfg->resume, run.start_epoch + 1, run.start_step);

    xb = malloc((size_t)B * (size_t)dim * sizeof(float));
    yb = malloc((size_t)B * sizeof(int32_t));
    order = malloc((size_t)n_tr * sizeof(int));
    if (!xb || !yb || !order) {
        fprintf(stderr, "clgrad %s: out of memory\n", cfg->title);
        goto out;
    }
    for (int i = 0; i < n_tr; i++)
        order[i] = i;
    uint64_t rng = cfg->seed ^ 0x5eedda7aULL;
    /* a resumed run replays the shuffles of the epochs before its own */
    for (int ep = 0; ep < run.start_epoch; ep++)
        cli_shuffle(order, n_tr, &rng);
    if (cli_interrupted_all()) {
        fprintf(stderr, "clgrad %s: interrupted before training; nothing written\n", cfg->title);
        rc = 128 + cli_interrupted();
        goto out;
    }
    const char *meta[] = { "model", cfg->classifier ? "classifier" : "mlp", "arch", arch, NULL };
    double t_all = util_now(), train_s = run.train_s, last_test = 0;
    for (int ep = run.start_epoch; ep < cfg->epochs; ep++) {
        cli_shuffle(order, n_tr, &rng);
        cli_epoch e = { .run = &run, .ctx = ctx, .g = m.g, .meta = meta, .what = "loss", .epoch = ep,
                        .steps = steps_per_epoch, .B = B, .order = order, .n = n_tr, .dim = dim, .x = tr_x,
                        .y = tr_y, .xb = xb, .yb = yb, .x_id = m.x, .y_id = m.labels, .train_s = train_s };
        if ((rc = cli_train_epoch(&e)) >= 0)
            goto out;
        rc = 1;
        int s0 = e.s0;
        double ep_s = e.seconds, loss_sum = e.loss_sum;
        train_s += ep_s;
        double tr_acc, te_acc;
        if ((em != &m && (st = eval_copy_params(&m, em))) ||
            (st = mlp_evaluate(em, tr_x, tr_y, n_tr < 10000 ? n_tr : 10000, dim, &tr_acc)) ||
            (st = mlp_evaluate(em, te_x, te_y, n_te, dim, &te_acc))) {
            cli_fail("evaluation", st);
            goto out;
        }
        double sps = (double)(steps_per_epoch - s0) * B / ep_s, ep_loss = loss_sum / steps_per_epoch;
        last_test = te_acc;
        printf("epoch %2d  train loss %.4f  train acc %.4f  test acc %.4f  %.1f s  %.0f samples/s\n", ep + 1,
               ep_loss, tr_acc, te_acc, ep_s, sps);
        fflush(stdout);
        if (cli_run_log(&run, ep, ep_loss, te_acc, "%d,%.6f,%.6f,%.6f,%.3f,%.1f", ep + 1, ep_loss, tr_acc, te_acc,
                        ep_s, sps))
            goto out;
        if (cli_interrupted_all() && ep + 1 < cfg->epochs) {
            rc = cli_run_save_interrupted(&run, m.g, meta, ep + 1, 0, steps_per_epoch, 0, train_s);
            goto out;
        }
    }
    double total = util_now() - t_all;
    const char *names[2] = { "train loss", "test accuracy" };
    if (cli_run_finish(&run, m.g, meta, "epoch,train_loss,train_acc,test_acc,seconds,samples_per_s", cfg->title,
                       names, NULL, NULL))
        goto out;
    double trained = (double)steps_per_epoch * B * cfg->epochs - (double)run.start_epoch * steps_per_epoch * B -
                     (double)run.start_step * B;
    printf("done: test accuracy %.4f; %.1f s total, %.1f s training, %.0f samples/s on %s\n", last_test, total,
           train_s, train_s > run.train_s ? trained / (train_s - run.train_s) : 0, dev.name);
    printf("wrote %s, %s, %s\n", out, log, lpaths.svg);
    if (cfg->profile)
        cli_profile_print(m.g, stdout);
    rc = 0;
out:
    cli_run_free(&run);
    clg_mlp_free(&ev);
    clg_mlp_free(&m);
    clg_ctx_destroy(ctx);
    cli_data_free(&d);
    free(xb);
    free(yb);
    free(order);
    return rc;
}
