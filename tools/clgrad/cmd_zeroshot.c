/* cmd_zeroshot.c — `clgrad zeroshot` (test images classified by the nearest class text of a `train
 * clip` model: the soft dictionary lookup with class texts as keys) and `clgrad search` (the test
 * images nearest a free-text query, as a PNG). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clip.h"
#include "util.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* A clip checkpoint opened for inference: the model, its texts and the test images' embeddings. */
typedef struct clip_job {
    clg_ctx *ctx;
    clg_clip m;
    clg_vectors *vecs;
    clip_texts texts;
    cli_data d;
    float *emb;            /* n_test x embed, unit rows */
    int holdout[CLIP_CLASSES];
    char hold_s[256];
} clip_job;

static void job_free(clip_job *j)
{
    clg_clip_free(&j->m);
    clg_ctx_destroy(j->ctx);
    clip_texts_free(&j->texts);
    clg_vectors_free(j->vecs);
    cli_data_free(&j->d);
    free(j->emb);
}

/* Read the checkpoint's metadata, rebuild the model, load it, embed the test images. */
static int job_open(const char *cmd, const char *model, const char *data, const char *device, const char *vectors,
                    const char *dict, const char *index, clip_job *j)
{
    memset(j, 0, sizeof *j);
    clg_st_file *f;
    clg_status st = clg_safetensors_open(model, &f);
    if (st)
        return cli_fail("reading the model", st);
    const char *mo = clg_safetensors_meta(f, "model"), *arch = clg_safetensors_meta(f, "arch");
    const char *em = clg_safetensors_meta(f, "embed"), *th = clg_safetensors_meta(f, "text_hidden");
    const char *hd = clg_safetensors_meta(f, "holdout");
    clg_clip_config cfg = clg_clip_defaults();
    int bad = !mo || strcmp(mo, "clip") != 0 || !arch || !em || !th;
    if (!bad) {
        cfg.n_enc = cli_parse_arch(arch, cfg.enc, CLG_MLP_MAX_LAYERS);
        bad = cfg.n_enc < 2 || util_parse_int(cmd, "embed", em, 1, 1024, &cfg.embed) ||
              util_parse_int(cmd, "text_hidden", th, 0, 1 << 16, &cfg.text_hidden);
    }
    if (!bad && hd && *hd)
        bad = clip_parse_classes(cmd, "the model's holdout", hd, j->holdout);
    snprintf(j->hold_s, sizeof j->hold_s, "%s", hd ? hd : "");
    char vbuf[1100], dbuf[1100], ibuf[1100];
    const char *mv = clg_safetensors_meta(f, "vectors"), *md = clg_safetensors_meta(f, "dict"),
               *mi = clg_safetensors_meta(f, "index");
    snprintf(vbuf, sizeof vbuf, "%s", vectors ? vectors : mv ? mv : "vectors.vec");
    snprintf(dbuf, sizeof dbuf, "%s", dict ? dict : md ? md : CLIP_DICT);
    snprintf(ibuf, sizeof ibuf, "%s", index ? index : mi ? mi : CLIP_INDEX);
    clg_safetensors_close(f);
    if (bad) {
        fprintf(stderr, "clgrad %s: %s is not a `clgrad train clip` checkpoint (metadata model=%s)\n", cmd, model,
                mo ? mo : "none");
        return 1;
    }
    if (clip_texts_load(cmd, dbuf, ibuf, vbuf, &j->vecs, &j->texts))
        return 1;
    cfg.text_dim = j->texts.dim;
    if (cli_load_mnist(data, 0, 1, &j->d))
        return 1;
    if (j->d.rows * j->d.cols != cfg.enc[0]) {
        fprintf(stderr, "clgrad %s: %s takes %d pixels, the images of %s have %dx%d\n", cmd, model, cfg.enc[0], data,
                j->d.rows, j->d.cols);
        return 1;
    }
    clg_device_info dev;
    if (cli_open_device(device, &dev, &j->ctx))
        return 1;
    if ((st = clg_clip_build(j->ctx, &cfg, &j->m)) || (st = clg_graph_plan(j->m.g, CLG_PLAN_INFERENCE)))
        return cli_fail("building the model", st);
    if ((st = clg_checkpoint_load(j->m.g, model, 0, NULL)))
        return cli_fail("loading the model", st);
    j->emb = malloc((size_t)j->d.n_test * (size_t)cfg.embed * sizeof(float));
    if (!j->emb) {
        fprintf(stderr, "clgrad %s: out of memory\n", cmd);
        return 1;
    }
    if ((st = clip_embed_images(&j->m, j->d.test_x, j->d.n_test, j->emb)))
        return cli_fail("embedding the test images", st);
    return 0;
}

static void usage_zeroshot(FILE *f)
{
    fprintf(f, "usage: clgrad zeroshot --model clip.safetensors [--classes LIST] [options]\n"
               "  Classify every test image by the most similar class text (the mean embedding of the class's\n"
               "  captions) and report accuracy on the seen classes, on the model's held-out classes among all\n"
               "  class texts and among themselves, with chance levels.\n"
               "  --classes LIST    only these classes, as keys and as test images (e.g. sandal,shirt,sneaker)\n"
               "  --calibrate G     also report with G subtracted from the seen classes' similarities\n"
               "                    (calibrated stacking, Chao et al. 2016: trades seen for held-out accuracy)\n"
               "  --data DIR        (default " DEFAULT_DATA ")\n"
               "  --vectors FILE    word vectors (default: the path recorded in the model)\n"
               "  --dict FILE, --index FILE  the dictionary (default: recorded in the model)\n"
               "  --device SPEC\n");
}

int cmd_zeroshot(int argc, char **argv)
{
    const char *cmd = "zeroshot";
    int rc0;
    char *used = util_args_begin(argc, argv, usage_zeroshot, &rc0);
    if (!used)
        return rc0;
    const char *model = util_opt(argc, argv, used, "--model"), *data = util_opt(argc, argv, used, "--data");
    const char *device = util_opt(argc, argv, used, "--device"), *vectors = util_opt(argc, argv, used, "--vectors");
    const char *dict = util_opt(argc, argv, used, "--dict"), *index = util_opt(argc, argv, used, "--index");
    const char *cls = util_opt(argc, argv, used, "--classes");
    int only[CLIP_CLASSES], bad = 0;
    float gamma = 0;
    bad |= util_opt_float(cmd, argc, argv, used, "--calibrate", -2, 0, 2, &gamma);
    for (int c = 0; c < CLIP_CLASSES; c++)
        only[c] = 1;
    if (cls)
        bad |= clip_parse_classes(cmd, "--classes", cls, only);
    bad |= util_unknown(cmd, argc, argv, used);
    free(used);
    if (!model && !bad) {
        fprintf(stderr, "clgrad zeroshot: --model is required\n");
        bad = 1;
    }
    if (bad)
        return 2;
    cli_signals_install();
    clip_job j;
    int rc = 1;
    if (job_open(cmd, model, data ? data : DEFAULT_DATA, device, vectors, dict, index, &j))
        goto out;
    int E = j.m.cfg.embed, seen[CLIP_CLASSES], held[CLIP_CLASSES], among[CLIP_CLASSES], n_among = 0, n_held = 0, n;
    float keys[CLIP_CLASSES * 1024];
    clg_status st = clip_class_keys(&j.m, &j.texts, keys);
    if (st) {
        rc = cli_fail("embedding the class texts", st);
        goto out;
    }
    for (int c = 0; c < CLIP_CLASSES; c++) {
        among[c] = only[c] && j.texts.count[c] > 0;
        seen[c] = among[c] && !j.holdout[c];
        held[c] = among[c] && j.holdout[c];
        n_among += among[c];
        n_held += held[c];
    }
    printf("clgrad zeroshot: %s (held out in training: %s), %d test images, %d class texts\n", model,
           *j.hold_s ? j.hold_s : "none", j.d.n_test, n_among);
    double bias[CLIP_CLASSES];
    for (int pass = 0; pass < 1 + (gamma != 0); pass++) {
        for (int c = 0; c < CLIP_CLASSES; c++)
            bias[c] = pass && seen[c] ? gamma : 0;
        if (pass)
            printf("calibrated (seen similarities - %g):\n", gamma);
        double a = clip_accuracy(j.emb, j.d.test_y, j.d.n_test, E, keys, seen, among, bias, &n);
        printf("seen classes:     accuracy %.4f over %5d images, %d-way (chance %.3f)\n", a, n, n_among,
               1.0 / n_among);
        if (n_held) {
            a = clip_accuracy(j.emb, j.d.test_y, j.d.n_test, E, keys, held, among, bias, &n);
            printf("held-out classes: accuracy %.4f over %5d images, %d-way (chance %.3f)\n", a, n, n_among,
                   1.0 / n_among);
        }
    }
    if (n_held) {
        double a = clip_accuracy(j.emb, j.d.test_y, j.d.n_test, E, keys, held, held, NULL, &n);
        printf("held-out classes among themselves: accuracy %.4f, %d-way (chance %.3f)\n", a, n_held, 1.0 / n_held);
    }
    printf("per class (all %d texts):", n_among);
    for (int c = 0; c < CLIP_CLASSES; c++) {
        if (!among[c])
            continue;
        int one[CLIP_CLASSES] = { 0 };
        one[c] = 1;
        printf(" %s %.3f%s", captions_fashion[c].name, clip_accuracy(j.emb, j.d.test_y, j.d.n_test, E, keys, one, among, NULL, NULL),
               j.holdout[c] ? "*" : "");
    }
    printf("%s\n", n_held ? "  (* held out)" : "");
    rc = 0;
out:
    job_free(&j);
    return rc;
}

/* ---- search ------------------------------------------------------------------------------------- */

static void usage_search(FILE *f)
{
    fprintf(f, "usage: clgrad search --model clip.safetensors \"QUERY TEXT\" [--top 16] [--out search.png] [options]\n"
               "  Embed the query (mean word vector through the model's text projection) and write the test\n"
               "  images nearest it (cosine) as a PNG grid, best first, left to right.\n"
               "  --data DIR, --vectors FILE, --dict FILE, --index FILE, --device SPEC: as for zeroshot\n");
}

int cmd_search(int argc, char **argv)
{
    const char *cmd = "search";
    int rc0;
    char *used = util_args_begin(argc, argv, usage_search, &rc0);
    if (!used)
        return rc0;
    const char *model = util_opt(argc, argv, used, "--model"), *data = util_opt(argc, argv, used, "--data");
    const char *device = util_opt(argc, argv, used, "--device"), *vectors = util_opt(argc, argv, used, "--vectors");
    const char *dict = util_opt(argc, argv, used, "--dict"), *index = util_opt(argc, argv, used, "--index");
    const char *out = util_opt(argc, argv, used, "--out");
    int top = 16, bad = 0;
    bad |= util_opt_int(cmd, argc, argv, used, "--top", 1, 1000, &top);
    const char *query = util_positional(argc, argv, used);
    bad |= util_unknown(cmd, argc, argv, used);
    free(used);
    if (!bad && (!model || !query)) {
        fprintf(stderr, "clgrad search: need --model FILE and a query\n");
        bad = 1;
    }
    if (bad)
        return 2;
    if (!out)
        out = "search.png";
    const char *what = "--out";
    if (cli_check_outputs(cmd, &out, &what, 1))
        return 2;
    cli_signals_install();
    clip_job j;
    int rc = 1;
    float *q = NULL, *qe = NULL;
    int *best = NULL;
    float *bs = NULL;
    uint8_t *img = NULL;
    if (job_open(cmd, model, data ? data : DEFAULT_DATA, device, vectors, dict, index, &j))
        goto out;
    int E = j.m.cfg.embed, T = j.m.cfg.text_dim, n = j.d.n_test;
    if (top > n)
        top = n;
    q = calloc((size_t)T, sizeof(float));
    qe = malloc((size_t)E * sizeof(float));
    best = malloc((size_t)top * sizeof(int));
    bs = malloc((size_t)top * sizeof(float));
    if (!q || !qe || !best || !bs) {
        fprintf(stderr, "clgrad search: out of memory\n");
        goto out;
    }
    int words = captions_embed(j.vecs, query, q);
    if (!words) {
        fprintf(stderr, "clgrad search: no word of \"%s\" is in the word vectors\n", query);
        goto out;
    }
    clg_status st = clip_embed_texts(&j.m, q, 1, qe);
    if (st) {
        rc = cli_fail("embedding the query", st);
        goto out;
    }
    int k = 0;                                  /* top-k by insertion */
    for (int i = 0; i < n; i++) {
        float s = 0;
        for (int e = 0; e < E; e++)
            s += j.emb[(size_t)i * (size_t)E + (size_t)e] * qe[e];
        if (k == top && s <= bs[k - 1])
            continue;
        int p = k < top ? k++ : k - 1;
        while (p > 0 && bs[p - 1] < s) {
            bs[p] = bs[p - 1];
            best[p] = best[p - 1];
            p--;
        }
        bs[p] = s;
        best[p] = i;
    }
    int H = j.d.rows, W = j.d.cols, cols = k < 8 ? k : 8, rows = (k + cols - 1) / cols, S = 2, gap = 2;
    int gw = cols * (W + gap) * S, gh = rows * (H + gap) * S;
    img = malloc((size_t)gw * (size_t)gh);
    if (!img) {
        fprintf(stderr, "clgrad search: out of memory\n");
        goto out;
    }
    memset(img, 255, (size_t)gw * (size_t)gh);
    int hist[CLIP_CLASSES] = { 0 };
    for (int r = 0; r < k; r++) {
        const float *px = j.d.test_x + (size_t)best[r] * (size_t)(H * W);
        int ox = (r % cols) * (W + gap) * S, oy = (r / cols) * (H + gap) * S;
        for (int y = 0; y < H * S; y++)
            for (int x = 0; x < W * S; x++) {
                float v = 1.0f - px[(y / S) * W + x / S]; /* dark clothes on white */
                img[(size_t)(oy + y) * (size_t)gw + (size_t)(ox + x)] = (uint8_t)lrintf((v < 0 ? 0 : v > 1 ? 1 : v) * 255);
            }
        int lab = j.d.test_y[best[r]];
        if (lab >= 0 && lab < CLIP_CLASSES)
            hist[lab]++;
    }
    if ((st = clg_png_write(out, img, gw, gh, 1))) {
        rc = cli_fail("writing the PNG", st);
        goto out;
    }
    printf("clgrad search: \"%s\" (%d known words): top %d test images by cosine %.3f..%.3f -> %s\n", query, words, k,
           bs[0], bs[k - 1], out);
    printf("their classes:");
    for (int c = 0; c < CLIP_CLASSES; c++)
        if (hist[c])
            printf(" %s %d%s", captions_fashion[c].name, hist[c], j.holdout[c] ? " (held out)" : "");
    printf("\n");
    rc = 0;
out:
    job_free(&j);
    free(q);
    free(qe);
    free(best);
    free(bs);
    free(img);
    return rc;
}
