/* train_clip.c — `clgrad train clip`: the CLIP-style image/text model on Fashion-MNIST images paired
 * with captions of their class (GCIDE definitions, mean word vectors), optionally with classes held
 * out for zero-shot tests; plus the helpers `zeroshot` and `search` share (clip.h).
 *
 * Pairing: a batch of B images gets, per class, ONE caption drawn for that step, given to every image
 * of that class in the batch.  With 10 classes a batch of 256 holds ~25 images of each class; with
 * distinct captions per image, the loss would push an image away from the other captions of its own
 * class (false negatives).  With one caption per class per step the same-class texts are identical
 * rows, so the image-to-text half is a softmax over the class texts in the batch (the zero-shot
 * classifier itself, the log of the class count a constant), the text-to-image half pulls a class
 * text towards all its images, and the captions still vary from step to step.  (B images of B
 * distinct classes would be exact but limits B to the 8 seen classes.) */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "clip.h"
#include "util.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* ---- shared with zeroshot / search ----------------------------------------------------------- */

int clip_texts_load(const char *cmd, const char *dict, const char *index, const char *vectors, clg_vectors **v,
                    clip_texts *t)
{
    memset(t, 0, sizeof *t);
    *v = NULL;
    char err[512] = "";
    if (captions_build(dict, index, captions_fashion, CLIP_CLASSES, CLIP_PER_WORD, &t->caps, err, sizeof err)) {
        fprintf(stderr, "clgrad %s: captions: %s\n", cmd, err);
        return 1;
    }
    clg_status st = clg_vectors_load(vectors, CLG_VEC_AUTO, v);
    if (st) {
        fprintf(stderr, "clgrad %s: word vectors %s: %s (make them with `clgrad train sgns`)\n", cmd, vectors,
                clg_last_error());
        clip_texts_free(t);
        return 1;
    }
    t->dim = (*v)->dim;
    for (int c = 0; c < CLIP_CLASSES; c++) {
        t->vec[c] = malloc((size_t)t->caps.count[c] * (size_t)t->dim * sizeof(float) + 1);
        if (!t->vec[c]) {
            fprintf(stderr, "clgrad %s: out of memory\n", cmd);
            goto fail;
        }
        for (int k = 0; k < t->caps.count[c]; k++)
            if (captions_embed(*v, t->caps.text[c][k], t->vec[c] + (size_t)t->count[c] * (size_t)t->dim) > 0) {
                if (t->count[c] != k) { /* keep the text beside its vector */
                    char *s = t->caps.text[c][t->count[c]];
                    t->caps.text[c][t->count[c]] = t->caps.text[c][k];
                    t->caps.text[c][k] = s;
                }
                t->count[c]++;
            }
    }
    return 0;
fail:
    clip_texts_free(t);
    clg_vectors_free(*v);
    *v = NULL;
    return 1;
}

void clip_texts_free(clip_texts *t)
{
    captions_free(&t->caps);
    for (int c = 0; c < CLIP_CLASSES; c++) {
        free(t->vec[c]);
        t->vec[c] = NULL;
    }
}

int clip_parse_classes(const char *cmd, const char *opt, const char *s, int *mask)
{
    memset(mask, 0, CLIP_CLASSES * sizeof *mask);
    const char *p = s;
    while (1) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int c = 0; c < CLIP_CLASSES; c++)
            if (strlen(captions_fashion[c].name) == n && !strncasecmp(p, captions_fashion[c].name, n))
                found = c;
        if (found < 0 && n == 1 && isdigit((unsigned char)*p))
            found = *p - '0';
        if (found < 0 || mask[found]) {
            fprintf(stderr, "clgrad %s: %s: '%.*s' is %s (classes: t-shirt, trouser, pullover, dress, coat, sandal, "
                            "shirt, sneaker, bag, ankle boot, or 0-9)\n",
                    cmd, opt, (int)n, p, found < 0 ? "not a class" : "given twice");
            return 1;
        }
        mask[found] = 1;
        if (!p[n])
            return 0;
        p += n + 1;
    }
}

static void normalize_rows(float *x, int n, int E)
{
    for (int i = 0; i < n; i++) {
        float *r = x + (size_t)i * (size_t)E;
        double s = 0;
        for (int j = 0; j < E; j++)
            s += (double)r[j] * r[j];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0;
        for (int j = 0; j < E; j++)
            r[j] *= inv;
    }
}

/* n rows of `rows` (dim floats each) through input node `in` (the other input zero), read node `node`. */
static clg_status embed_rows(clg_clip *m, int in, int other, int other_dim, const float *rows, int dim, int n, int node,
                             float *out)
{
    int B = m->cfg.batch, E = m->cfg.embed;
    float *buf = calloc((size_t)B * (size_t)(dim > other_dim ? dim : other_dim), sizeof(float));
    float *o = malloc((size_t)B * (size_t)E * sizeof(float));
    clg_status st = CLG_OK;
    if (!buf || !o) {
        st = CLG_ERR_OUT_OF_MEMORY;
        goto out;
    }
    if ((st = clg_graph_set_input(m->g, other, buf)))
        goto out;
    for (int s = 0; s < n; s += B) {
        int r = n - s < B ? n - s : B;
        memcpy(buf, rows + (size_t)s * (size_t)dim, (size_t)r * (size_t)dim * sizeof(float));
        memset(buf + (size_t)r * (size_t)dim, 0, (size_t)(B - r) * (size_t)dim * sizeof(float));
        if ((st = clg_graph_set_input(m->g, in, buf)) || (st = clg_graph_forward(m->g)) ||
            (st = clg_graph_read(m->g, node, o)))
            goto out;
        memcpy(out + (size_t)s * (size_t)E, o, (size_t)r * (size_t)E * sizeof(float));
    }
    normalize_rows(out, n, E);
out:
    free(buf);
    free(o);
    return st;
}

clg_status clip_embed_images(clg_clip *m, const float *images, int n, float *out)
{
    return embed_rows(m, m->x, m->t, m->cfg.text_dim, images, m->cfg.enc[0], n, m->img, out);
}

clg_status clip_embed_texts(clg_clip *m, const float *feats, int n, float *out)
{
    return embed_rows(m, m->t, m->x, m->cfg.enc[0], feats, m->cfg.text_dim, n, m->txt, out);
}

clg_status clip_class_keys(clg_clip *m, const clip_texts *t, float *keys)
{
    int E = m->cfg.embed;
    memset(keys, 0, (size_t)CLIP_CLASSES * (size_t)E * sizeof(float));
    for (int c = 0; c < CLIP_CLASSES; c++) {
        if (!t->count[c])
            continue;
        float *e = malloc((size_t)t->count[c] * (size_t)E * sizeof(float));
        if (!e)
            return CLG_ERR_OUT_OF_MEMORY;
        clg_status st = clip_embed_texts(m, t->vec[c], t->count[c], e);
        for (int k = 0; !st && k < t->count[c]; k++)
            for (int j = 0; j < E; j++)
                keys[(size_t)c * (size_t)E + (size_t)j] += e[(size_t)k * (size_t)E + (size_t)j];
        free(e);
        if (st)
            return st;
    }
    normalize_rows(keys, CLIP_CLASSES, E);
    return CLG_OK;
}

double clip_accuracy(const float *emb, const int32_t *labels, int n, int E, const float *keys, const int *of,
                     const int *among, const double *bias, int *count)
{
    long right = 0, total = 0;
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= CLIP_CLASSES || !of[labels[i]])
            continue;
        int best = -1;
        double bs = -INFINITY;
        for (int c = 0; c < CLIP_CLASSES; c++) {
            if (!among[c])
                continue;
            double s = bias ? -bias[c] : 0;
            for (int j = 0; j < E; j++)
                s += (double)emb[(size_t)i * (size_t)E + (size_t)j] * keys[(size_t)c * (size_t)E + (size_t)j];
            if (s > bs)
                bs = s, best = c;
        }
        right += best == labels[i];
        total++;
    }
    if (count)
        *count = (int)total;
    return total ? (double)right / (double)total : 0;
}

/* ---- train clip ---------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clgrad train clip [options]\n"
            "  --vectors FILE      word vectors from `clgrad train sgns` (default vectors.vec)\n"
            "  --holdout LIST      classes whose images are never trained on, e.g. sandal,shirt\n"
            "  --from FILE         initialise the image encoder (enc.*) from a mae/simclr/clip checkpoint\n"
            "  --encoder LIST      image encoder widths after the input (default 512,128)\n"
            "  --embed N           shared embedding width (default 64)\n"
            "  --text-hidden N     hidden ReLU layer of the text projection (default 0: linear)\n"
            "  --temperature T     initial temperature (default 0.07)\n"
            "  --fixed-temperature keep it (default: learned)\n"
            "  --epochs N          (default 10)\n"
            "  --batch N           (default 256)\n"
            "  --lr X              Adam learning rate (default 1e-3)\n"
            "  --seed N            (default 1)\n"
            "  --data DIR          MNIST-format data with Fashion-MNIST's 10 labels (default " DEFAULT_DATA ")\n"
            "  --dict FILE         dictd dictionary (default " CLIP_DICT ")\n"
            "  --index FILE        its index (default " CLIP_INDEX ")\n"
            "  --device SPEC       auto | cpu | gpu | P:D | name substring\n"
            "  --out FILE          checkpoint (default clip.safetensors); log (.csv) and curve (.svg) beside it\n"
            "  --train-limit N     use only the first N training images\n"
            "  --resume FILE       continue the interrupted run saved in FILE (same options)\n"
            "Each batch pairs every image with one caption of its class, drawn per class and step.\n");
}

/* The per-(step, class) caption choice: a hash, so a resumed run draws the same captions. */
static int pick_caption(uint64_t seed, long step, int c, int count)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ULL ^ (uint64_t)step * 0xbf58476d1ce4e5b9ULL ^ (uint64_t)(c + 1) * 0x94d049bb133111ebULL;
    return (int)(util_splitmix64(&s) % (uint64_t)count);
}

/* The texts of a training batch (cli_epoch's inputs): each image's row gets one caption of its
 * class, the same per (step, class) in the batch. */
typedef struct text_job {
    clg_clip *m;
    const clip_texts *texts;
    uint64_t seed;
    int steps, B, T;
    float *tb;              /* two batches of texts: step s's in half s & 1 (cli_epoch's inputs) */
} text_job;

static clg_status set_texts(void *user, int ep, int s, const float *xb, const int32_t *yb)
{
    (void)xb;
    text_job *j = user;
    int pick[CLIP_CLASSES];
    for (int c = 0; c < CLIP_CLASSES; c++)
        pick[c] = j->texts->count[c] ? pick_caption(j->seed, (long)ep * j->steps + s, c, j->texts->count[c]) : 0;
    float *tb = j->tb + (size_t)(s & 1) * (size_t)j->B * (size_t)j->T;
    for (int r = 0; r < j->B; r++)
        memcpy(tb + (size_t)r * (size_t)j->T, j->texts->vec[yb[r]] + (size_t)pick[yb[r]] * (size_t)j->T,
               (size_t)j->T * sizeof(float));
    return clg_graph_set_input(j->m->g, j->m->t, tb);
}

/* Zero-shot numbers on the test set: seen images among all 10 texts, held-out among all 10 and
 * among themselves. */
typedef struct zs_result {
    double seen, held10, heldh;
    int n_seen, n_held, n_holdout;
} zs_result;

static clg_status zeroshot_eval(clg_clip *m, const clip_texts *t, const cli_data *d, const int *holdout, float *emb,
                                zs_result *r)
{
    int E = m->cfg.embed, all[CLIP_CLASSES], seen[CLIP_CLASSES];
    float keys[CLIP_CLASSES * 1024];
    if (E > 1024)
        return CLG_ERR_INVALID_ARG;
    clg_status st;
    if ((st = clip_class_keys(m, t, keys)) || (st = clip_embed_images(m, d->test_x, d->n_test, emb)))
        return st;
    r->n_holdout = 0;
    for (int c = 0; c < CLIP_CLASSES; c++) {
        all[c] = t->count[c] > 0;
        seen[c] = !holdout[c];
        r->n_holdout += holdout[c];
    }
    r->seen = clip_accuracy(emb, d->test_y, d->n_test, E, keys, seen, all, NULL, &r->n_seen);
    r->held10 = clip_accuracy(emb, d->test_y, d->n_test, E, keys, holdout, all, NULL, &r->n_held);
    r->heldh = clip_accuracy(emb, d->test_y, d->n_test, E, keys, holdout, holdout, NULL, NULL);
    return CLG_OK;
}

int cmd_train_clip(int argc, char **argv)
{
    const char *cmd = "train clip";
    int rc0;
    char *used = util_args_begin(argc, argv, usage, &rc0);
    if (!used)
        return rc0;
    clg_clip_config cfg = clg_clip_defaults();
    int epochs = 10, bad = 0, holdout[CLIP_CLASSES] = { 0 };
    float lr = 1e-3f;
    long train_limit = 0;
    const char *v, *data = DEFAULT_DATA, *device = NULL, *out = "clip.safetensors", *resume = NULL;
    const char *vectors = "vectors.vec", *dict = CLIP_DICT, *index = CLIP_INDEX, *from = NULL, *hold_s = "";
    if ((v = util_opt(argc, argv, used, "--data"))) data = v;
    if ((v = util_opt(argc, argv, used, "--device"))) device = v;
    if ((v = util_opt(argc, argv, used, "--out"))) out = v;
    if ((v = util_opt(argc, argv, used, "--resume"))) resume = v;
    if ((v = util_opt(argc, argv, used, "--vectors"))) vectors = v;
    if ((v = util_opt(argc, argv, used, "--dict"))) dict = v;
    if ((v = util_opt(argc, argv, used, "--index"))) index = v;
    if ((v = util_opt(argc, argv, used, "--from"))) from = v;
    if ((v = util_opt(argc, argv, used, "--holdout"))) {
        hold_s = v;
        bad |= clip_parse_classes(cmd, "--holdout", v, holdout);
    }
    bad |= util_opt_int(cmd, argc, argv, used, "--embed", 1, 1024, &cfg.embed);
    bad |= util_opt_int(cmd, argc, argv, used, "--text-hidden", 0, 1 << 16, &cfg.text_hidden);
    bad |= util_opt_float(cmd, argc, argv, used, "--temperature", 0, 1, 100, &cfg.temperature);
    int fixed_t = util_flag(argc, argv, used, "--fixed-temperature");
    bad |= util_opt_int(cmd, argc, argv, used, "--epochs", 1, 100000, &epochs);
    bad |= util_opt_int(cmd, argc, argv, used, "--batch", 2, 1 << 16, &cfg.batch);
    bad |= util_opt_float(cmd, argc, argv, used, "--lr", 0, 1, 1e6, &lr);
    bad |= util_opt_u64(cmd, argc, argv, used, "--seed", &cfg.seed);
    bad |= util_opt_long(cmd, argc, argv, used, "--train-limit", 1, INT_MAX, &train_limit);
    if ((v = util_opt(argc, argv, used, "--encoder"))) {
        int n = 0;
        bad |= util_parse_int_list(cmd, "--encoder", v, 1, 1 << 24, cfg.enc + 1, CLG_MLP_MAX_LAYERS - 1, &n);
        cfg.n_enc = 1 + n;
    }
    bad |= util_unknown(cmd, argc, argv, used);
    free(used);
    if (bad)
        return 2;
    int n_hold = 0;
    for (int c = 0; c < CLIP_CLASSES; c++)
        n_hold += holdout[c];
    if (n_hold > CLIP_CLASSES - 2) {
        fprintf(stderr, "clgrad train clip: --holdout leaves fewer than 2 classes to train on\n");
        return 2;
    }

    int rc = 1;
    clg_status st;
    cli_data d = { 0 };
    clg_ctx *ctx = NULL;
    clg_clip m = { 0 };
    clg_vectors *vecs = NULL;
    clip_texts texts = { 0 };
    float *xb = NULL, *tb = NULL, *emb = NULL;
    int32_t *yb = NULL;
    int *order = NULL;
    cli_run run = { 0 };
    cli_paths paths;
    cli_derive_paths(out, &paths);
    const char *outs[] = { out, paths.csv, paths.svg, paths.resume };
    const char *whats[] = { "--out", "the log (.csv)", "the curve (.svg)", "the resume file" };
    if (cli_check_outputs(cmd, outs, whats, 4))
        return 2;
    if (cli_dist_refuse(cmd, "its contrastive loss's negatives are the whole batch: a rank would contrast only its shard"))
        return 2;
    cli_signals_install();
    if (cli_run_init(&run, cmd, epochs))
        goto out;
    run.out = out;
    run.csv = paths.csv;
    run.svg = paths.svg;
    run.resume_out = paths.resume;

    if (clip_texts_load(cmd, dict, index, vectors, &vecs, &texts))
        goto out;
    for (int c = 0; c < CLIP_CLASSES; c++)
        if (!holdout[c] && texts.count[c] == 0) {
            fprintf(stderr, "clgrad train clip: class %s has no caption with a word of %s\n", captions_fashion[c].name,
                    vectors);
            goto out;
        }
    cfg.text_dim = texts.dim;
    clg_device_info dev;
    if (cli_open_device_loading(device, data, train_limit, CLG_OPS_ALL, 0, &d, &dev, &ctx))
        goto out;
    cfg.enc[0] = d.rows * d.cols;
    int D = cfg.enc[0], B = cfg.batch, T = cfg.text_dim, n_tr = 0;
    order = malloc((size_t)d.n_train * sizeof(int));
    if (!order)
        goto oom;
    for (int i = 0; i < d.n_train; i++) {
        if (d.train_y[i] < 0 || d.train_y[i] >= CLIP_CLASSES) {
            fprintf(stderr, "clgrad train clip: %s: label %d of training image %d is not one of the 10 classes\n", data,
                    d.train_y[i], i);
            goto out;
        }
        if (!holdout[d.train_y[i]])
            order[n_tr++] = i;
    }
    if (n_tr < B) {
        fprintf(stderr, "clgrad train clip: %d training images outside --holdout is fewer than one batch of %d\n", n_tr, B);
        goto out;
    }
    if ((st = clg_clip_build(ctx, &cfg, &m))) {
        cli_fail("building the model", st);
        goto out;
    }
    clg_optim_options oo = clg_optim_defaults(CLG_OPTIM_ADAM);
    oo.lr = lr;
    if (fixed_t && (st = clg_graph_freeze_group(m.g, 3, 1))) {
        cli_fail("planning", st);
        goto out;
    }
    if (cli_plan_training(m.g, &oo, NULL, 0))
        goto out;
    char arch[128];
    int an = 0;
    for (int i = 0; i < cfg.n_enc; i++)
        an += snprintf(arch + an, sizeof arch - (size_t)an, "%s%d", i ? "-" : "", cfg.enc[i]);
    if (from && !resume) {
        int loaded = 0;
        if ((st = clg_checkpoint_load(m.g, from, CLG_LOAD_PARTIAL, &loaded))) {
            cli_fail("loading --from", st);
            goto out;
        }
        int want = 2 * (cfg.n_enc - 1);
        if (loaded < want || clg_graph_find(m.g, "enc.fc1.weight") < 0) {
            fprintf(stderr, "clgrad train clip: %s holds %d of the encoder's %d tensors (enc.fc<i>.weight/bias)\n", from,
                    loaded, want);
            goto out;
        }
    }
    snprintf(run.config, sizeof run.config,
             "arch=%s embed=%d text_hidden=%d text_dim=%d temperature=%.9g fixed=%d batch=%d epochs=%d lr=%.9g seed=%llu "
             "images=%d holdout=%s from=%s vectors=%s",
             arch, cfg.embed, cfg.text_hidden, T, (double)cfg.temperature, fixed_t, B, epochs, (double)lr,
             (unsigned long long)cfg.seed, n_tr, hold_s, from ? from : "-", vectors);
    if (resume && cli_run_resume(&run, m.g, resume))
        goto out;
    printf("clgrad train clip: image %s -> %d, text %d -> %s%d, on %s (%s)\n", arch, cfg.embed, T,
           cfg.text_hidden ? "hidden -> " : "", cfg.embed, dev.name, dev.platform_name);
    printf("data: %s (%d of %d train images, held out: %s; %d test); batch %d, %d epochs, adam lr %g, T %g%s\n", data,
           n_tr, d.n_train, *hold_s ? hold_s : "none", d.n_test, B, epochs, lr, cfg.temperature,
           fixed_t ? " (fixed)" : " (learned)");
    for (int c = 0; c < CLIP_CLASSES; c++)
        printf("  %-10s %d captions%s\n", captions_fashion[c].name, texts.count[c], holdout[c] ? " (held out)" : "");
    if (resume)
        printf("resuming %s at epoch %d, step %d\n", resume, run.start_epoch + 1, run.start_step);

    int steps = cli_epoch_steps(n_tr, B);
    xb = malloc((size_t)B * (size_t)D * sizeof(float));
    tb = malloc(2 * (size_t)B * (size_t)T * sizeof(float));
    yb = malloc((size_t)B * sizeof(int32_t));
    emb = malloc((size_t)d.n_test * (size_t)cfg.embed * sizeof(float) + 1);
    if (!xb || !tb || !yb || !emb)
        goto oom;
    uint64_t rng = cfg.seed ^ 0x5eedda7aULL;
    for (int ep = 0; ep < run.start_epoch; ep++)
        cli_shuffle(order, n_tr, &rng);
    if (cli_interrupted_all()) {
        fprintf(stderr, "clgrad train clip: interrupted before training; nothing written\n");
        rc = 128 + cli_interrupted();
        goto out;
    }
    char embed_s[16], hidden_s[16], tdim_s[16];
    snprintf(embed_s, sizeof embed_s, "%d", cfg.embed);
    snprintf(hidden_s, sizeof hidden_s, "%d", cfg.text_hidden);
    snprintf(tdim_s, sizeof tdim_s, "%d", T);
    const char *meta[] = { "model", "clip", "arch", arch, "embed", embed_s, "text_hidden", hidden_s, "text_dim", tdim_s,
                           "holdout", hold_s, "vectors", vectors, "dict", dict, "index", index, NULL };
    double t_all = util_now(), train_s = run.train_s;
    zs_result zr = { 0 };
    for (int ep = run.start_epoch; ep < epochs; ep++) {
        cli_shuffle(order, n_tr, &rng);
        text_job tj = { &m, &texts, cfg.seed, steps, B, T, tb };
        cli_epoch e = { .run = &run, .ctx = ctx, .g = m.g, .meta = meta, .what = "loss", .epoch = ep, .steps = steps,
                        .B = B, .order = order, .n = n_tr, .dim = D, .x = d.train_x, .y = d.train_y, .xb = xb,
                        .yb = yb, .x_id = m.x, .y_id = -1, .inputs = set_texts, .user = &tj, .train_s = train_s };
        if ((rc = cli_train_epoch(&e)) >= 0)
            goto out;
        rc = 1;
        int s0 = e.s0;
        double ep_s = e.seconds, sum = e.loss_sum;
        train_s += ep_s;
        float ls = 0;
        if ((st = zeroshot_eval(&m, &texts, &d, holdout, emb, &zr)) || (st = clg_graph_read(m.g, m.log_scale, &ls))) {
            cli_fail("evaluation", st);
            goto out;
        }
        double sps = (double)(steps - s0) * B / ep_s, tr = sum / steps, temp = exp(-(double)ls);
        printf("epoch %2d  train loss %.4f  T %.4f  zero-shot: seen %.4f", ep + 1, tr, temp, zr.seen);
        if (zr.n_holdout)
            printf("  held-out 10-way %.4f  %d-way %.4f", zr.held10, zr.n_holdout, zr.heldh);
        printf("  %.1f s  %.0f samples/s\n", ep_s, sps);
        fflush(stdout);
        if (cli_run_log(&run, ep, tr, zr.seen, "%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f", ep + 1, tr, temp, zr.seen,
                        zr.held10, zr.heldh, ep_s, sps))
            goto out;
        if (cli_interrupted_all() && ep + 1 < epochs) {
            rc = cli_run_save_interrupted(&run, m.g, meta, ep + 1, 0, steps, 0, train_s);
            goto out;
        }
    }
    const char *names[2] = { "train loss", "zero-shot accuracy (seen classes, 10 texts)" };
    if (cli_run_finish(&run, m.g, meta,
                       "epoch,train_loss,temperature,zeroshot_seen,zeroshot_heldout_10way,zeroshot_heldout_among,seconds,"
                       "samples_per_s",
                       "clgrad train clip", names, NULL, NULL))
        goto out;
    double trained = (double)steps * B * epochs - (double)run.start_epoch * steps * B - (double)run.start_step * B;
    printf("done: zero-shot seen %.4f (chance 0.1)", zr.seen);
    if (zr.n_holdout)
        printf(", held-out 10-way %.4f (chance 0.1), %d-way %.4f (chance %.3g)", zr.held10, zr.n_holdout, zr.heldh,
               1.0 / zr.n_holdout);
    printf("; %.1f s total, %.0f samples/s on %s\n", util_now() - t_all,
           train_s > run.train_s ? trained / (train_s - run.train_s) : 0, dev.name);
    printf("wrote %s, %s, %s\n", out, paths.csv, paths.svg);
    rc = 0;
    goto out;
oom:
    fprintf(stderr, "clgrad train clip: out of memory\n");
out:
    cli_run_free(&run);
    clg_clip_free(&m);
    clg_ctx_destroy(ctx);
    cli_data_free(&d);
    clip_texts_free(&texts);
    clg_vectors_free(vecs);
    free(xb);
    free(tb);
    free(yb);
    free(emb);
    free(order);
    return rc;
}
