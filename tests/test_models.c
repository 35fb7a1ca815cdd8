/* test_models.c — model builders and checkpoints: save -> load gives identical outputs, mismatched
 * or truncated checkpoints are rejected with clear messages, a clgrad checkpoint reads in Python,
 * a classifier picks up a masked auto-encoder's encoder, training steps of the MLP, the MAE, SimCLR
 * and the CLIP-style model create no device buffer and read no CLGRAD_* environment variable once planned,
 * the plain auto-encoder (mask ratio 0) matches a double-precision forward and MSE on every pixel,
 * the denoising one's input is the clean image plus fresh N(0, sigma^2) noise each step, with
 * gradients matching finite differences, and the CLIP-style model's loss and temperature gradient
 * match a double-precision reference. */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "ref_ops.h"

static char path[256];

static void make_path(const char *tag)
{
    snprintf(path, sizeof path, "/tmp/clgrad-test-models-%ld-%d-%s.safetensors", (long)getpid(),
             tdev->platform_index, tag);
}

static void forward_logits(clg_mlp *m, const float *x, float *logits)
{
    int32_t lab[4] = { 0, 1, 2, 0 };
    assert_clg_ok(clg_graph_set_input(m->g, m->x, x));
    assert_clg_ok(clg_graph_set_input(m->g, m->labels, lab));
    assert_clg_ok(clg_graph_forward(m->g));
    assert_clg_ok(clg_graph_read(m->g, m->logits, logits));
}

static void test_save_load_identical(void **s)
{
    (void)s;
    make_path("mlp");
    const int w[] = { 12, 8, 3 };
    clg_mlp a, b;
    assert_clg_ok(clg_mlp_build(tctx, w, 3, 4, 7, &a));
    assert_clg_ok(clg_mlp_build(tctx, w, 3, 4, 99, &b)); /* different init */
    clg_optim_options o = clg_optim_defaults(CLG_OPTIM_ADAM);
    assert_clg_ok(clg_graph_set_optimizer(a.g, &o));
    assert_clg_ok(clg_graph_plan(a.g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_plan(b.g, CLG_PLAN_INFERENCE));
    float x[4 * 12], la[4 * 3], lb[4 * 3];
    for (int i = 0; i < 4 * 12; i++)
        x[i] = (float)((i * 37) % 11) / 11.0f;
    int32_t lab[4] = { 0, 1, 2, 0 };
    assert_clg_ok(clg_graph_set_input(a.g, a.x, x));
    assert_clg_ok(clg_graph_set_input(a.g, a.labels, lab));
    for (int i = 0; i < 3; i++)
        assert_clg_ok(clg_graph_step(a.g, NULL));
    const char *meta[] = { "model", "mlp", "arch", "12-8-3", NULL };
    assert_clg_ok(clg_checkpoint_save(a.g, path, meta));
    int loaded = 0;
    assert_clg_ok(clg_checkpoint_load(b.g, path, 0, &loaded));
    assert_int_equal(loaded, 4);
    forward_logits(&a, x, la);
    forward_logits(&b, x, lb);
    assert_memory_equal(la, lb, sizeof la);

    /* optimizer state round trip: resuming restores the step count */
    clg_mlp c;
    assert_clg_ok(clg_mlp_build(tctx, w, 3, 4, 5, &c));
    assert_clg_ok(clg_graph_set_optimizer(c.g, &o));
    assert_clg_ok(clg_graph_plan(c.g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_checkpoint_load(c.g, path, CLG_LOAD_OPTIM_STATE, NULL));
    assert_int_equal(clg_graph_step_count(c.g), 3);
    clg_mlp_free(&c);
    clg_mlp_free(&a);
    clg_mlp_free(&b);
}

static void test_mismatched_and_truncated(void **s)
{
    (void)s;
    make_path("bad");
    const int w[] = { 12, 8, 3 }, w2[] = { 12, 9, 3 };
    clg_mlp a, b;
    assert_clg_ok(clg_mlp_build(tctx, w, 3, 4, 7, &a));
    assert_clg_ok(clg_graph_plan(a.g, CLG_PLAN_INFERENCE));
    assert_clg_ok(clg_checkpoint_save(a.g, path, NULL));
    assert_clg_ok(clg_mlp_build(tctx, w2, 3, 4, 7, &b));
    assert_clg_ok(clg_graph_plan(b.g, CLG_PLAN_INFERENCE));
    float before[9 * 3], after[9 * 3]; /* b's fc2.weight is [9,3] */
    assert_clg_ok(clg_graph_param_read(b.g, 2, before));
    assert_int_equal(clg_checkpoint_load(b.g, path, 0, NULL), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "fc1.weight"));
    assert_non_null(strstr(clg_last_error(), "f32[12,8]"));
    assert_non_null(strstr(clg_last_error(), "f32[12,9]"));
    assert_clg_ok(clg_graph_param_read(b.g, 2, after)); /* nothing was written */
    assert_memory_equal(before, after, sizeof before);

    /* truncated file */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    f = fopen(path, "wb");
    fwrite(buf, 1, n / 2, f);
    fclose(f);
    assert_int_equal(clg_checkpoint_load(a.g, path, 0, NULL), CLG_ERR_FORMAT);
    assert_non_null(strstr(clg_last_error(), path));
    unlink(path);
    clg_mlp_free(&a);
    clg_mlp_free(&b);
}

static void test_encoder_into_classifier(void **s)
{
    (void)s;
    make_path("mae");
    clg_mae_config c = clg_mae_defaults();
    c.height = 8;
    c.width = 8;
    c.patch = 2;
    c.enc[0] = 64;
    c.enc[1] = 16;
    c.enc[2] = 6;
    c.n_enc = 3;
    c.batch = 4;
    clg_mae ae;
    assert_clg_ok(clg_mae_build(tctx, &c, &ae));
    assert_clg_ok(clg_graph_plan(ae.g, CLG_PLAN_INFERENCE));
    assert_clg_ok(clg_checkpoint_save(ae.g, path, NULL));
    clg_mlp m;
    const int enc[] = { 64, 16, 6 };
    assert_clg_ok(clg_classifier_build(tctx, enc, 3, 10, 4, 3, &m));
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_INFERENCE));
    int loaded = 0;
    assert_int_equal(clg_checkpoint_load(m.g, path, 0, NULL), CLG_ERR_FORMAT); /* head missing */
    assert_non_null(strstr(clg_last_error(), "head"));
    assert_clg_ok(clg_checkpoint_load(m.g, path, CLG_LOAD_PARTIAL, &loaded));
    assert_int_equal(loaded, 4);
    float w1a[64 * 16], w1b[64 * 16];
    assert_clg_ok(clg_graph_param_read(ae.g, 0, w1a));
    assert_clg_ok(clg_graph_param_read(m.g, 0, w1b));
    assert_string_equal(clg_graph_param_name(m.g, 0), "enc.fc1.weight");
    assert_memory_equal(w1a, w1b, sizeof w1a);
    unlink(path);
    clg_mae_free(&ae);
    clg_mlp_free(&m);
}

/* ---- SimCLR ---------------------------------------------------------------------------------- */

/* NT-Xent in double over z [n, d] (pairs i, (i + n/2) mod n); acc gets the fraction of rows whose
 * most similar other row is the pair. */
/* NT-Xent of n = 2B rows (row i's positive: i + B mod n) in double; *acc gets the fraction of rows
 * whose most similar other row is clearly the positive, *acc_hi that plus the rows where the positive
 * and the best other row are within 1e-4 (float rounding breaks such ties either way: a tiny random
 * network's parallel projections on Oclgrind's GEMM did). */
static double ref_nt_xent(const double *z, int n, int d, double tau, double *acc, double *acc_hi)
{
    double *u = malloc(sizeof *u * (size_t)n * (size_t)d);
    assert_non_null(u);
    for (int i = 0; i < n; i++) {
        double nn = 0;
        for (int k = 0; k < d; k++)
            nn += z[i * d + k] * z[i * d + k];
        nn = sqrt(nn);
        for (int k = 0; k < d; k++)
            u[i * d + k] = z[i * d + k] / (nn > 1e-12 ? nn : 1e-12);
    }
    double loss = 0, hits = 0, ties = 0;
    for (int i = 0; i < n; i++) {
        int pos = (i + n / 2) % n, best = -1;
        double mx = -1e300, sum = 0, lp = 0, bv = -1e300;
        double l[64];
        for (int j = 0; j < n; j++) {
            double sdot = 0;
            for (int k = 0; k < d; k++)
                sdot += u[i * d + k] * u[j * d + k];
            l[j] = sdot / tau;
            if (j != i && l[j] > mx)
                mx = l[j];
            if (j != i && l[j] > bv) {
                bv = l[j];
                best = j;
            }
        }
        for (int j = 0; j < n; j++)
            if (j != i)
                sum += exp(l[j] - mx);
        lp = l[pos] - mx - log(sum);
        loss -= lp;
        double other = -1e300;
        for (int j = 0; j < n; j++)
            if (j != i && j != pos && l[j] > other)
                other = l[j];
        int tie = fabs(l[pos] - other) <= 1e-4 * (1 + fabs(other));
        hits += best == pos && !tie;
        ties += tie;
    }
    free(u);
    if (acc)
        *acc = hits / n;
    if (acc_hi)
        *acc_hi = (hits + ties) / n;
    return loss / n;
}

/* clg_nt_xent on a parameter z: the loss against the double reference and its gradient against
 * central differences of the reference, for two temperatures. */
static void test_nt_xent_vs_reference(void **s)
{
    (void)s;
    enum { N = 8, D = 5 };
    const float taus[] = { 0.2f, 0.5f };
    for (int t = 0; t < 2; t++) {
        clg_graph *g;
        assert_clg_ok(clg_graph_create(tctx, &g));
        clg_graph_set_seed(g, 5 + t);
        clg_shape sz = SHAPE2(CLG_F32, N, D);
        clg_init init = { .kind = CLG_INIT_UNIFORM, .a = -1.0f, .b = 1.0f };
        int z, loss, logits;
        assert_clg_ok(clg_graph_param(g, "z", &sz, &init, 0, &z));
        assert_clg_ok(clg_nt_xent(g, z, taus[t], &logits, &loss));
        assert_clg_ok(clg_graph_set_loss(g, loss));
        assert_clg_ok(clg_graph_plan(g, CLG_PLAN_TRAIN));
        float zv[N * D], gv[N * D], lv;
        assert_clg_ok(clg_graph_param_read(g, 0, zv));
        assert_clg_ok(clg_graph_step(g, &lv));
        assert_clg_ok(clg_graph_grad_read(g, z, gv));
        double zd[N * D];
        for (int i = 0; i < N * D; i++)
            zd[i] = zv[i];
        double want = ref_nt_xent(zd, N, D, taus[t], NULL, NULL);
        assert_true(fabs(lv - want) <= 1e-5 * (1 + fabs(want)));
        for (int i = 0; i < N * D; i++) {
            double keep = zd[i], h = 1e-5;
            zd[i] = keep + h;
            double lp = ref_nt_xent(zd, N, D, taus[t], NULL, NULL);
            zd[i] = keep - h;
            double lm = ref_nt_xent(zd, N, D, taus[t], NULL, NULL);
            zd[i] = keep;
            double fd = (lp - lm) / (2 * h);
            if (fabs(gv[i] - fd) > 1e-4 * (1 + fabs(fd)))
                fail_msg("nt_xent grad[%d]: device %g, reference %g (tau %g)", i, gv[i], fd, taus[t]);
        }
        clg_graph_destroy(g);
    }
    clg_graph *g;
    assert_clg_ok(clg_graph_create(tctx, &g));
    clg_shape odd = SHAPE2(CLG_F32, 5, 3);
    int z, loss;
    assert_clg_ok(clg_graph_param(g, "z", &odd, NULL, 0, &z));
    assert_int_equal(clg_nt_xent(g, z, 0.5f, NULL, &loss), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "nt_xent"));
    clg_graph_destroy(g);
}

/* The model: identity augmentation gives two copies of x, the loss and pair accuracy of a
 * forward equal the reference on its projections, parameters are named and grouped so the
 * classifier loads the encoder, and a few steps on fixed data lower the loss. */
static void test_simclr_model(void **s)
{
    (void)s;
    make_path("simclr");
    clg_simclr_config c = clg_simclr_defaults();
    c.height = 8;
    c.width = 8;
    c.enc[0] = 64;
    c.enc[1] = 16;
    c.enc[2] = 6;
    c.head[0] = 6;
    c.head[1] = 4;
    c.batch = 6;
    c.temperature = 0.3f;
    c.aug.cutout = 3;
    c.aug.scale_lo = 0.5f;  /* pinned: with milder crops this tiny network's trained projections tie */
    clg_simclr m;
    assert_clg_ok(clg_simclr_build(tctx, &c, &m));
    clg_optim_options oo = clg_optim_defaults(CLG_OPTIM_ADAM);
    oo.lr = 1e-2f;
    assert_clg_ok(clg_graph_set_optimizer(m.g, &oo));
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_TRAIN));
    assert_string_equal(clg_graph_param_name(m.g, 0), "enc.fc1.weight");
    for (int p = 0; p < clg_graph_param_count(m.g); p++)
        assert_int_equal(clg_graph_param_group(m.g, p), strncmp(clg_graph_param_name(m.g, p), "enc.", 4) ? 1 : 0);
    float x[6 * 64], views[12 * 64], proj[12 * 4], lv, acc;
    trng r = { 99 };
    for (int i = 0; i < 6 * 64; i++)
        x[i] = (float)trng_uniform(&r);
    assert_clg_ok(clg_graph_set_input(m.g, m.x, x));
    assert_clg_ok(clg_graph_forward(m.g));
    assert_clg_ok(clg_graph_read(m.g, m.views, views));
    assert_clg_ok(clg_graph_read(m.g, m.proj, proj));
    assert_clg_ok(clg_graph_read(m.g, m.loss, &lv));
    assert_clg_ok(clg_graph_read(m.g, m.acc, &acc));
    double pd[12 * 4], want_acc, want_hi;
    for (int i = 0; i < 12 * 4; i++)
        pd[i] = proj[i];
    double want = ref_nt_xent(pd, 12, 4, 0.3, &want_acc, &want_hi);
    assert_true(fabs(lv - want) <= 1e-5 * (1 + fabs(want)));
    if (acc < want_acc - 1e-6 || acc > want_hi + 1e-6)
        fail_msg("pair accuracy %g, reference %g (%g with near-ties as hits)", acc, want_acc, want_hi);
    int differ = 0;
    for (int i = 0; i < 6 * 64; i++)
        differ += views[i] != views[6 * 64 + i];
    assert_true(differ > 6 * 64 / 4); /* two different views of each image */
    float first = 0, last = 0;
    for (int k = 0; k < 30; k++) {
        assert_clg_ok(clg_graph_step(m.g, &lv));
        if (k < 5)
            first += lv;
        if (k >= 25)
            last += lv;
    }
    assert_true(last < first);
    /* trained, the projections spread out: the accuracy against the reference again, with few ties */
    assert_clg_ok(clg_graph_forward(m.g));
    assert_clg_ok(clg_graph_read(m.g, m.proj, proj));
    assert_clg_ok(clg_graph_read(m.g, m.acc, &acc));
    for (int i = 0; i < 12 * 4; i++)
        pd[i] = proj[i];
    ref_nt_xent(pd, 12, 4, 0.3, &want_acc, &want_hi);
    if (acc < want_acc - 1e-6 || acc > want_hi + 1e-6 || want_hi - want_acc > 1.5 / 12)
        fail_msg("trained: pair accuracy %g, reference %g (%g with near-ties as hits)", acc, want_acc, want_hi);
    assert_clg_ok(clg_checkpoint_save(m.g, path, NULL));
    clg_mlp cl;
    const int enc[] = { 64, 16, 6 };
    assert_clg_ok(clg_classifier_build(tctx, enc, 3, 10, 4, 3, &cl));
    assert_clg_ok(clg_graph_plan(cl.g, CLG_PLAN_INFERENCE));
    int loaded = 0;
    assert_clg_ok(clg_checkpoint_load(cl.g, path, CLG_LOAD_PARTIAL, &loaded));
    assert_int_equal(loaded, 4);
    unlink(path);
    clg_mlp_free(&cl);
    clg_simclr_free(&m);
    /* identity augmentation: both views are the images */
    c.aug = clg_attrs_defaults().aug;
    assert_clg_ok(clg_simclr_build(tctx, &c, &m));
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_INFERENCE));
    assert_clg_ok(clg_graph_set_input(m.g, m.x, x));
    assert_clg_ok(clg_graph_forward(m.g));
    assert_clg_ok(clg_graph_read(m.g, m.views, views));
    assert_memory_equal(views, x, sizeof x);
    assert_memory_equal(views + 6 * 64, x, sizeof x);
    clg_simclr_free(&m);
}

static void test_python_reads_checkpoint(void **s)
{
    (void)s;
    if (access("/usr/bin/python3", X_OK) != 0)
        skip();
    make_path("py");
    const int w[] = { 5, 4, 2 };
    clg_mlp a;
    assert_clg_ok(clg_mlp_build(tctx, w, 3, 2, 11, &a));
    assert_clg_ok(clg_graph_plan(a.g, CLG_PLAN_INFERENCE));
    assert_clg_ok(clg_checkpoint_save(a.g, path, NULL));
    float w1[5 * 4];
    assert_clg_ok(clg_graph_param_read(a.g, 0, w1));
    /* Python parses the file with json + struct and prints fc1.weight[1][2] and the shape */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import json,struct,sys; b=open('%s','rb').read(); n=struct.unpack('<Q',b[:8])[0]; "
             "h=json.loads(b[8:8+n]); t=h['fc1.weight']; o=8+n+t['data_offsets'][0]; "
             "v=struct.unpack('<20f', b[o:o+80]); print(t['dtype'], t['shape'][0], t['shape'][1], repr(v[1*4+2]))\"",
             path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof line, p));
    assert_int_equal(pclose(p), 0);
    char dtype[8];
    int r, c;
    double v;
    assert_int_equal(sscanf(line, "%7s %d %d %lf", dtype, &r, &c, &v), 4);
    assert_string_equal(dtype, "F32");
    assert_int_equal(r, 5);
    assert_int_equal(c, 4);
    assert_true((float)v == w1[1 * 4 + 2]);
    unlink(path);
    clg_mlp_free(&a);
}

/* The memory plan shares buffers between activations and gradients whose lifetimes do not
 * overlap: its peak must be below the naive sum for both the MLP and the auto-encoder. */
static void test_memory_plan_below_naive(void **s)
{
    (void)s;
    const int w[] = { 784, 256, 256, 10 };
    clg_mlp m;
    assert_clg_ok(clg_mlp_build(tctx, w, 4, 128, 1, &m));
    clg_optim_options o = clg_optim_defaults(CLG_OPTIM_ADAM);
    assert_clg_ok(clg_graph_set_optimizer(m.g, &o));
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_TRAIN));
    size_t planned, naive;
    assert_clg_ok(clg_graph_memory(m.g, &planned, &naive));
    assert_true(planned < naive);
    clg_mlp_free(&m);

    clg_mae_config c = clg_mae_defaults();
    clg_mae ae;
    assert_clg_ok(clg_mae_build(tctx, &c, &ae));
    assert_clg_ok(clg_graph_set_optimizer(ae.g, &o));
    assert_clg_ok(clg_graph_plan(ae.g, CLG_PLAN_TRAIN));
    size_t p2, n2;
    assert_clg_ok(clg_graph_memory(ae.g, &p2, &n2));
    assert_true(p2 < n2);
    print_message("memory plan on %s: MLP %zu of %zu naive bytes, MAE %zu of %zu\n", tdev->name, planned, naive, p2, n2);
    clg_mae_free(&ae);
}

/* clg_graph_stats.step_flops counts the GEMM products a plan runs, 2·M·N·K each, worked out here
 * from the layer sizes: the 1.21 MFLOP per MLP sample and 4.8 MFLOP per MAE sample. */
static void test_step_flops(void **s)
{
    (void)s;
    const int w[] = { 784, 256, 256, 10 }, B = 128;
    clg_mlp m;
    clg_graph_stats st;
    assert_clg_ok(clg_mlp_build(tctx, w, 4, B, 1, &m));
    assert_clg_ok(clg_graph_stats_get(m.g, &st));
    assert_true(st.step_flops == 0); /* not planned */
    /* per sample: forward 784·256 + 256·256 + 256·10 = 268800 multiply-adds; backward the same for
     * every dW, and dX for layers 2 and 3 only (the data needs no gradient): 65536 + 2560 */
    const double fwd = 784.0 * 256 + 256.0 * 256 + 256.0 * 10, dx = 256.0 * 256 + 256.0 * 10;
    assert_true(fwd == 268800 && dx == 68096);
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_INFERENCE));
    assert_clg_ok(clg_graph_stats_get(m.g, &st));
    assert_true(st.step_flops == 2.0 * B * fwd);
    clg_optim_options o = clg_optim_defaults(CLG_OPTIM_ADAM);
    assert_clg_ok(clg_graph_set_optimizer(m.g, &o));
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_stats_get(m.g, &st));
    assert_true(st.step_flops == 2.0 * B * (2 * fwd + dx));
    assert_true(fabs(st.step_flops / B / 1e6 - 1.21) < 0.005); /* 1.211392 MFLOP per sample */
    /* layer 1 frozen: no dW for it, and its output needs no gradient, so no dX for layer 2 */
    assert_clg_ok(clg_graph_freeze_group(m.g, 0, 1));
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_stats_get(m.g, &st));
    assert_true(st.step_flops == 2.0 * B * (fwd + (256.0 * 256 + 256.0 * 10) + 256.0 * 10));
    clg_mlp_free(&m);

    /* MAE defaults 784-512-128-512-784: forward 2·(784·512 + 512·128) multiply-adds per sample,
     * backward every dW and every dX but the first layer's */
    clg_mae_config c = clg_mae_defaults();
    assert_true(c.n_enc == 3 && c.enc[0] == 784 && c.enc[1] == 512 && c.enc[2] == 128);
    clg_mae ae;
    assert_clg_ok(clg_mae_build(tctx, &c, &ae));
    assert_clg_ok(clg_graph_set_optimizer(ae.g, &o));
    assert_clg_ok(clg_graph_plan(ae.g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_stats_get(ae.g, &st));
    const double afwd = 2 * (784.0 * 512 + 512.0 * 128);
    assert_true(st.step_flops == 2.0 * c.batch * (3 * afwd - 784.0 * 512));
    assert_true(fabs(st.step_flops / c.batch / 1e6 - 4.8) < 0.005); /* 4.800512 MFLOP per sample */
    clg_mae_free(&ae);
}

/* getenv interposed (the executable's definition wins over libc's for the library too): counts
 * reads of CLGRAD_* variables while `watch_env` is set. */
static int watch_env, clgrad_env_reads;
char *getenv(const char *name)
{
    static char *(*real)(const char *);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "getenv");
    if (watch_env && !strncmp(name, "CLGRAD_", 7))
        clgrad_env_reads++;
    return real ? real(name) : NULL;
}

/* Plan g (inputs already set; on ctx, fresh, so that nothing it keeps between calls, such as scratch,
 * GEMM state or built programs, exists yet), then 3 training steps: the plan creates buffers, the
 * steps none (the first builds the programs), and nothing reads CLGRAD_* meanwhile (the policy and
 * the cache folder were read by clg_ctx_create). */
static void steps_allocate_nothing(clg_ctx *ctx, clg_graph *g, const char *what)
{
    watch_env = 1;
    clgrad_env_reads = 0;
    uint64_t b0 = clg_ctx_buffer_count(ctx);
    assert_clg_ok(clg_graph_plan(g, CLG_PLAN_TRAIN));
    uint64_t b1 = clg_ctx_buffer_count(ctx);
    assert_true(b1 > b0); /* the counter sees the plan's pool and arenas */
    float loss = 0;
    for (int i = 0; i < 3; i++)
        assert_clg_ok(clg_graph_step(g, &loss));
    assert_clg_ok(clg_ctx_finish(ctx));
    watch_env = 0;
    assert_true(isfinite(loss));
    if (clg_ctx_buffer_count(ctx) != b1 || clgrad_env_reads)
        print_message("%s on %s: %llu buffers created in 3 steps, %d CLGRAD_* reads in plan and steps\n", what,
                      tdev->name,
                      (unsigned long long)(clg_ctx_buffer_count(ctx) - b1), clgrad_env_reads);
    assert_int_equal(clg_ctx_buffer_count(ctx), b1);
    assert_int_equal(clgrad_env_reads, 0);
}

static void fill_uniform(float *v, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)(seed >> 8) / 16777216.0f;
    }
}

/* Batches above bias_act's one-block backward (256 rows) and gradient clipping on, so the
 * partial-sum scratch of both is in play.  The hidden widths are small (784-64-16 encoders, not the
 * defaults' 784-512-128): the batch decides that scratch, and on rusticl the defaults' steps took
 * ~25 s. */
static void small_encoder(int *enc, int *n_enc)
{
    enc[0] = 784;
    enc[1] = 64;
    enc[2] = 16;
    *n_enc = 3;
}

static void test_steps_allocate_nothing(void **s)
{
    (void)s;
    enum { B = 320 };
    float *x = malloc(sizeof *x * B * 784);
    int32_t lab[B];
    assert_non_null(x);
    fill_uniform(x, (size_t)B * 784, 7);
    for (int i = 0; i < B; i++)
        lab[i] = i % 10;
    clg_optim_options o = clg_optim_defaults(CLG_OPTIM_ADAM);
    o.clip_norm = 1.0f;

    clg_ctx *ctx;
    const int w[] = { 784, 64, 64, 10 };
    clg_mlp m;
    watch_env = 1;
    clgrad_env_reads = 0;
    assert_clg_ok(clg_ctx_create(tdev, NULL, &ctx));
    watch_env = 0;
    assert_true(clgrad_env_reads > 0); /* the interposition works: ctx create reads them */
    assert_clg_ok(clg_mlp_build(ctx, w, 4, B, 1, &m));
    assert_clg_ok(clg_graph_set_optimizer(m.g, &o));
    assert_clg_ok(clg_graph_set_input(m.g, m.x, x));
    assert_clg_ok(clg_graph_set_input(m.g, m.labels, lab));
    steps_allocate_nothing(ctx, m.g, "MLP");
    clg_mlp_free(&m);
    clg_ctx_destroy(ctx);

    clg_mae_config c = clg_mae_defaults();
    c.batch = B;
    small_encoder(c.enc, &c.n_enc);
    clg_mae ae;
    assert_clg_ok(clg_ctx_create(tdev, NULL, &ctx));
    assert_clg_ok(clg_mae_build(ctx, &c, &ae));
    assert_clg_ok(clg_graph_set_optimizer(ae.g, &o));
    assert_clg_ok(clg_graph_set_input(ae.g, ae.x, x));
    steps_allocate_nothing(ctx, ae.g, "MAE");
    clg_mae_free(&ae);
    clg_ctx_destroy(ctx);

    clg_clip_config cc = clg_clip_defaults();
    cc.batch = B;
    small_encoder(cc.enc, &cc.n_enc);
    cc.embed = 16;
    float *tx = malloc(sizeof *tx * B * 100);
    assert_non_null(tx);
    fill_uniform(tx, (size_t)B * 100, 9);
    clg_clip cm;
    assert_clg_ok(clg_ctx_create(tdev, NULL, &ctx));
    assert_clg_ok(clg_clip_build(ctx, &cc, &cm));
    assert_clg_ok(clg_graph_set_optimizer(cm.g, &o));
    assert_clg_ok(clg_graph_set_input(cm.g, cm.x, x));
    assert_clg_ok(clg_graph_set_input(cm.g, cm.t, tx));
    steps_allocate_nothing(ctx, cm.g, "CLIP");
    clg_clip_free(&cm);
    clg_ctx_destroy(ctx);
    free(tx);

    /* SimCLR: augment's per-view parameters, the NT-Xent's similarity matrix and its matmuls */
    clg_simclr_config sc = clg_simclr_defaults();
    sc.batch = B / 2;
    small_encoder(sc.enc, &sc.n_enc);
    sc.head[0] = 16;
    sc.head[1] = 8;
    clg_simclr sm;
    assert_clg_ok(clg_ctx_create(tdev, NULL, &ctx));
    assert_clg_ok(clg_simclr_build(ctx, &sc, &sm));
    assert_clg_ok(clg_graph_set_optimizer(sm.g, &o));
    assert_clg_ok(clg_graph_set_input(sm.g, sm.x, x));
    steps_allocate_nothing(ctx, sm.g, "SimCLR");
    clg_simclr_free(&sm);
    clg_ctx_destroy(ctx);
    free(x);
}

/* A small auto-encoder 64-16-6-16-64 on 8x8 images, 2x2 patches, planned for training with Adam. */
static void small_ae(float ratio, float noise, int batch, clg_mae *ae)
{
    clg_mae_config c = clg_mae_defaults();
    c.height = 8;
    c.width = 8;
    c.patch = 2;
    c.enc[0] = 64;
    c.enc[1] = 16;
    c.enc[2] = 6;
    c.n_enc = 3;
    c.batch = batch;
    c.mask_ratio = ratio;
    c.noise = noise;
    c.seed = 5;
    assert_clg_ok(clg_mae_build(tctx, &c, ae));
    clg_optim_options o = clg_optim_defaults(CLG_OPTIM_ADAM);
    assert_clg_ok(clg_graph_set_optimizer(ae->g, &o));
    assert_clg_ok(clg_graph_plan(ae->g, CLG_PLAN_TRAIN));
}

static void ae_images(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((i * 37 + i / 7) % 17) / 16.0f;
}

/* Plain auto-encoder: no mask, the encoder sees x itself, and the loss is the MSE over every pixel
 * (checked against a double-precision forward from the graph's parameters, after a few steps). */
static void test_plain_ae_loss(void **s)
{
    (void)s;
    enum { B = 4, D = 64 };
    clg_mae ae;
    small_ae(0, 0, B, &ae);
    assert_int_equal(ae.mask, -1);
    assert_int_equal(ae.noise, -1);
    assert_int_equal(ae.masked_input, ae.x);
    float x[B * D], rec[B * D], loss;
    ae_images(x, B * D);
    assert_clg_ok(clg_graph_set_input(ae.g, ae.x, x));
    for (int i = 0; i < 3; i++)
        assert_clg_ok(clg_graph_step(ae.g, NULL));
    assert_clg_ok(clg_graph_forward(ae.g));
    assert_clg_ok(clg_graph_read(ae.g, ae.recon, rec));
    assert_clg_ok(clg_graph_read(ae.g, ae.loss, &loss));
    /* host forward: 64 -relu-> 16 -> 6 -relu-> 16 -> 64 (ReLU after all but the code and output) */
    const int w[] = { 64, 16, 6, 16, 64 };
    double h[B * 64], nh[B * 64], se_rec = 0, se_ref = 0, maxd = 0;
    for (int i = 0; i < B * D; i++)
        h[i] = x[i];
    for (int l = 0; l < 4; l++) {
        float W[64 * 16], bias[64];
        assert_string_equal(clg_graph_param_name(ae.g, 2 * l), l < 2 ? (l ? "enc.fc2.weight" : "enc.fc1.weight")
                                                                      : (l == 2 ? "dec.fc1.weight" : "dec.fc2.weight"));
        assert_clg_ok(clg_graph_param_read(ae.g, 2 * l, W));
        assert_clg_ok(clg_graph_param_read(ae.g, 2 * l + 1, bias));
        for (int r = 0; r < B; r++)
            for (int j = 0; j < w[l + 1]; j++) {
                double z = bias[j];
                for (int k = 0; k < w[l]; k++)
                    z += h[r * w[l] + k] * (double)W[k * w[l + 1] + j];
                nh[r * w[l + 1] + j] = (l == 0 || l == 2) && z < 0 ? 0 : z;
            }
        memcpy(h, nh, sizeof(double) * (size_t)(B * w[l + 1]));
    }
    for (int i = 0; i < B * D; i++) {
        maxd = fmax(maxd, fabs(h[i] - rec[i]));
        se_ref += (h[i] - x[i]) * (h[i] - x[i]);
        se_rec += ((double)rec[i] - x[i]) * ((double)rec[i] - x[i]);
    }
    assert_true(maxd < 1e-4);
    double mse = se_rec / (B * D), mse_ref = se_ref / (B * D);
    if (fabs(loss - mse) > 1e-5 * fmax(1, mse) || fabs(loss - mse_ref) > 1e-4 * fmax(1, mse_ref))
        fail_msg("plain AE loss %.8g, MSE of the read recon %.8g, double reference %.8g", loss, mse, mse_ref);
    assert_true(loss > 0);
    clg_mae_free(&ae);
}

/* Denoising: the encoder's input is x + noise, the kept noise node has mean 0 and std sigma within
 * statistical bounds and is redrawn every step, and the loss is against the clean image; with a
 * mask as well, the hidden pixels of the noisy image are zeroed and the loss covers them only. */
static void test_denoising_input(void **s)
{
    (void)s;
    enum { B = 64, D = 64, N = B * D };
    const float sigma = 0.5f;
    for (int masked = 0; masked < 2; masked++) {
        clg_mae ae;
        small_ae(masked ? 0.5f : 0, sigma, B, &ae);
        assert_true(ae.noise >= 0);
        assert_true(masked ? ae.mask >= 0 : ae.mask == -1);
        static float x[N], in[N], nz[N], nz2[N], rec[N], mask[N];
        float loss;
        ae_images(x, N);
        assert_clg_ok(clg_graph_set_input(ae.g, ae.x, x));
        assert_clg_ok(clg_graph_forward(ae.g));
        assert_clg_ok(clg_graph_read(ae.g, ae.masked_input, in));
        assert_clg_ok(clg_graph_read(ae.g, ae.noise, nz));
        assert_clg_ok(clg_graph_read(ae.g, ae.recon, rec));
        assert_clg_ok(clg_graph_read(ae.g, ae.loss, &loss));
        for (int i = 0; i < N; i++)
            mask[i] = 0;
        if (masked)
            assert_clg_ok(clg_graph_read(ae.g, ae.mask, mask));
        double sum = 0, sq = 0, se = 0, cnt = 0;
        for (int i = 0; i < N; i++) {
            float noisy = x[i] + nz[i], want = mask[i] != 0 ? 0.0f : noisy;
            if (fabsf(in[i] - want) > 1e-6f)
                fail_msg("encoder input[%d] = %g, want %g (x %g + noise %g, mask %g)", i, in[i], want, x[i], nz[i],
                         mask[i]);
            sum += nz[i];
            sq += (double)nz[i] * nz[i];
            if (!masked || mask[i] != 0) {
                se += ((double)rec[i] - x[i]) * ((double)rec[i] - x[i]);
                cnt++;
            }
        }
        double mean = sum / N, sd = sqrt(sq / N - mean * mean);
        /* 5 standard errors: of the mean sigma/sqrt(N), of the std about sigma/sqrt(2N) */
        if (fabs(mean) > 5 * sigma / sqrt(N) || fabs(sd - sigma) > 5 * sigma / sqrt(2.0 * N))
            fail_msg("noise mean %.5f, std %.5f; want 0, %.2f", mean, sd, sigma);
        if (fabs(loss - se / cnt) > 1e-5 * fmax(1, se / cnt))
            fail_msg("loss %.8g, MSE against the clean image %.8g", loss, se / cnt);
        /* a step moves the counter: the next forward draws new noise; a forward alone does not */
        assert_clg_ok(clg_graph_forward(ae.g));
        assert_clg_ok(clg_graph_read(ae.g, ae.noise, nz2));
        assert_memory_equal(nz, nz2, sizeof nz);
        assert_clg_ok(clg_graph_step(ae.g, NULL));
        assert_clg_ok(clg_graph_forward(ae.g));
        assert_clg_ok(clg_graph_read(ae.g, ae.noise, nz2));
        int same = 0;
        double cross = 0;
        for (int i = 0; i < N; i++) {
            same += nz[i] == nz2[i];
            cross += (double)nz[i] * nz2[i];
        }
        assert_true(same < N / 100);
        assert_true(fabs(cross / N) < 5 * sigma * sigma / sqrt(N)); /* uncorrelated draws */
        clg_mae_free(&ae);
    }
}

/* Gradients of the denoising auto-encoder (with a mask) vs central finite differences of the loss,
 * the noise and mask held fixed by rewinding the step count to the step's (no optimizer: the step
 * leaves the parameters as they are). */
static void test_denoising_grads_fd(void **s)
{
    (void)s;
    enum { B = 4, D = 64 };
    clg_mae_config c = clg_mae_defaults();
    c.height = c.width = 8;
    c.patch = 2;
    c.enc[0] = 64;
    c.enc[1] = 16;
    c.enc[2] = 6;
    c.n_enc = 3;
    c.batch = B;
    c.mask_ratio = 0.25f;
    c.noise = 0.3f;
    clg_mae ae;
    assert_clg_ok(clg_mae_build(tctx, &c, &ae));
    assert_clg_ok(clg_graph_plan(ae.g, CLG_PLAN_TRAIN));
    float x[B * D], loss;
    ae_images(x, B * D);
    assert_clg_ok(clg_graph_set_input(ae.g, ae.x, x));
    clg_graph_set_step_count(ae.g, 3);
    assert_clg_ok(clg_graph_step(ae.g, &loss));
    assert_true(isfinite(loss) && loss > 0);
    const double h = 1e-3;
    double maxg = 0, maxe = 0;
    for (int p = 0; p < clg_graph_param_count(ae.g); p++) {
        clg_shape sh;
        assert_clg_ok(clg_graph_param_shape(ae.g, p, &sh));
        size_t n = (size_t)clg_shape_numel(&sh);
        float *val = malloc(n * sizeof *val), *grad = malloc(n * sizeof *grad);
        assert_non_null(val);
        assert_non_null(grad);
        assert_clg_ok(clg_graph_param_read(ae.g, p, val));
        assert_clg_ok(clg_graph_grad_read(ae.g, clg_graph_param_id(ae.g, p), grad));
        for (size_t i = 0; i < n; i += n > 6 ? n / 6 : 1) {
            float keep = val[i], lp, lm;
            val[i] = (float)(keep + h);
            double hp = (double)val[i] - keep;
            assert_clg_ok(clg_graph_param_write(ae.g, p, val));
            clg_graph_set_step_count(ae.g, 3);
            assert_clg_ok(clg_graph_forward(ae.g));
            assert_clg_ok(clg_graph_read(ae.g, ae.loss, &lp));
            val[i] = (float)(keep - h);
            double hm = keep - (double)val[i];
            assert_clg_ok(clg_graph_param_write(ae.g, p, val));
            clg_graph_set_step_count(ae.g, 3);
            assert_clg_ok(clg_graph_forward(ae.g));
            assert_clg_ok(clg_graph_read(ae.g, ae.loss, &lm));
            val[i] = keep;
            assert_clg_ok(clg_graph_param_write(ae.g, p, val));
            double fd = ((double)lp - lm) / (hp + hm);
            maxg = fmax(maxg, fabs(fd));
            maxe = fmax(maxe, fabs(grad[i] - fd));
            if (fabs(grad[i] - fd) > 2e-2 * fabs(fd) + 2e-4)
                fail_msg("param %s[%zu]: gradient %.7g, finite difference %.7g", clg_graph_param_name(ae.g, p), i,
                         grad[i], fd);
        }
        free(val);
        free(grad);
    }
    print_message("denoising AE gradients on %s: max |fd| %.3g, max |grad - fd| %.3g\n", tdev->name, maxg, maxe);
    /* the rewound forward reproduces the step's loss: same noise and mask */
    clg_graph_set_step_count(ae.g, 3);
    float again;
    assert_clg_ok(clg_graph_forward(ae.g));
    assert_clg_ok(clg_graph_read(ae.g, ae.loss, &again));
    assert_true(again == loss);
    clg_mae_free(&ae);
}

/* ---- CLIP-style model against a double-precision reference ----------------------------------- */

static int param_index(clg_graph *g, const char *name)
{
    for (int i = 0; i < clg_graph_param_count(g); i++)
        if (!strcmp(clg_graph_param_name(g, i), name))
            return i;
    fail_msg("no parameter %s", name);
    return -1;
}

/* The whole parameter in double; n (at most its size) is what the caller uses. */
static double *read_param_d(clg_graph *g, const char *name, size_t n)
{
    clg_shape sh;
    int ix = param_index(g, name);
    assert_clg_ok(clg_graph_param_shape(g, ix, &sh));
    assert_true(n <= (size_t)clg_shape_numel(&sh));
    n = (size_t)clg_shape_numel(&sh);
    float *f = malloc(n * sizeof *f);
    double *d = malloc(n * sizeof *d);
    assert_non_null(f);
    assert_non_null(d);
    assert_clg_ok(clg_graph_param_read(g, ix, f));
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    free(f);
    return d;
}

/* out[N, o] = act(in[N, k] · W[k, o] + b) in double. */
static void ref_dense(const double *in, int N, int k, int o, const double *W, const double *b, int relu, double *out)
{
    for (int r = 0; r < N; r++)
        for (int j = 0; j < o; j++) {
            double s = b[j];
            for (int i = 0; i < k; i++)
                s += in[r * k + i] * W[i * o + j];
            out[r * o + j] = relu && s < 0 ? 0 : s;
        }
}

/* The symmetric contrastive loss of unit rows of A and B (N x E) at scale exp(ls). */
static double ref_clip_loss(const double *A, const double *B, int N, int E, double ls)
{
    double *a = malloc(sizeof *a * (size_t)(N * E)), *b = malloc(sizeof *b * (size_t)(N * E)), total = 0;
    double *L = malloc(sizeof *L * (size_t)(N * N));
    for (int r = 0; r < N; r++) {
        double na = 0, nb = 0;
        for (int j = 0; j < E; j++)
            na += A[r * E + j] * A[r * E + j], nb += B[r * E + j] * B[r * E + j];
        for (int j = 0; j < E; j++)
            a[r * E + j] = A[r * E + j] / sqrt(na), b[r * E + j] = B[r * E + j] / sqrt(nb);
    }
    for (int i = 0; i < N; i++)
        for (int k = 0; k < N; k++) {
            double s = 0;
            for (int j = 0; j < E; j++)
                s += a[i * E + j] * b[k * E + j];
            L[i * N + k] = exp(ls) * s;
        }
    for (int i = 0; i < N; i++) {
        double sr = 0, sc = 0;
        for (int k = 0; k < N; k++)
            sr += exp(L[i * N + k]), sc += exp(L[k * N + i]);
        total += (log(sr) - L[i * N + i]) + (log(sc) - L[i * N + i]);
    }
    free(a);
    free(b);
    free(L);
    return total / (2.0 * N);
}

/* The whole model in double from the graph's parameters: encoder with ReLUs, both projections
 * (a hidden text layer when th > 0), the loss at log_scale + dls. */
static double ref_clip(clg_clip *m, const float *x, const float *t, double dls)
{
    const clg_clip_config *c = &m->cfg;
    int N = c->batch, E = c->embed, w = c->enc[0];
    double *h = malloc(sizeof *h * (size_t)N * 1024), *h2 = malloc(sizeof *h2 * (size_t)N * 1024);
    double *img = malloc(sizeof *img * (size_t)(N * E)), *txt = malloc(sizeof *txt * (size_t)(N * E));
    for (int i = 0; i < N * w; i++)
        h[i] = x[i];
    char nm[48];
    for (int l = 0; l + 1 < c->n_enc; l++) {
        snprintf(nm, sizeof nm, "enc.fc%d.weight", l + 1);
        double *W = read_param_d(m->g, nm, (size_t)(c->enc[l] * c->enc[l + 1]));
        snprintf(nm, sizeof nm, "enc.fc%d.bias", l + 1);
        double *b = read_param_d(m->g, nm, (size_t)c->enc[l + 1]);
        ref_dense(h, N, c->enc[l], c->enc[l + 1], W, b, 1, h2);
        memcpy(h, h2, sizeof *h * (size_t)(N * c->enc[l + 1]));
        free(W);
        free(b);
    }
    int k = c->enc[c->n_enc - 1];
    double *W = read_param_d(m->g, "img_proj.weight", (size_t)(k * E)), *b = read_param_d(m->g, "img_proj.bias", (size_t)E);
    ref_dense(h, N, k, E, W, b, 0, img);
    free(W);
    free(b);
    for (int i = 0; i < N * c->text_dim; i++)
        h[i] = t[i];
    int tw = c->text_hidden ? c->text_hidden : E;
    W = read_param_d(m->g, "txt_proj.fc1.weight", (size_t)(c->text_dim * tw));
    b = read_param_d(m->g, "txt_proj.fc1.bias", (size_t)tw);
    ref_dense(h, N, c->text_dim, tw, W, b, c->text_hidden > 0, c->text_hidden ? h2 : txt);
    free(W);
    free(b);
    if (c->text_hidden) {
        W = read_param_d(m->g, "txt_proj.fc2.weight", (size_t)(tw * E));
        b = read_param_d(m->g, "txt_proj.fc2.bias", (size_t)E);
        ref_dense(h2, N, tw, E, W, b, 0, txt);
        free(W);
        free(b);
    }
    double *ls = read_param_d(m->g, "log_scale", 1), loss = ref_clip_loss(img, txt, N, E, *ls + dls);
    free(ls);
    free(h);
    free(h2);
    free(img);
    free(txt);
    return loss;
}

/* The CLIP model's loss equals the double-precision model's; one SGD step moves log_scale by
 * -lr * dL/dlog_scale (the reference's central difference), or not at all when group 3 is frozen
 * while the projections still move. */
static void test_clip_model(void **s)
{
    (void)s;
    for (int variant = 0; variant < 3; variant++) {
        clg_clip_config c = clg_clip_defaults();
        c.enc[0] = 12;
        c.enc[1] = 10;
        c.enc[2] = 6;
        c.text_dim = 5;
        c.text_hidden = variant == 1 ? 7 : 0;
        c.embed = 4;
        c.batch = 6;
        c.temperature = 0.5f;
        c.seed = 3 + (uint64_t)variant;
        float x[6 * 12], t[6 * 5];
        fill_uniform(x, sizeof x / sizeof x[0], 11 + variant);
        fill_uniform(t, sizeof t / sizeof t[0], 17 + variant);
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
            t[i] -= 0.5f;
        clg_clip m;
        assert_clg_ok(clg_clip_build(tctx, &c, &m));
        clg_optim_options o = clg_optim_defaults(CLG_OPTIM_SGD);
        o.lr = 0.1f;
        o.momentum = 0;
        int frozen = variant == 2;
        if (frozen)
            assert_clg_ok(clg_graph_freeze_group(m.g, 3, 1));
        assert_clg_ok(clg_graph_set_optimizer(m.g, &o));
        assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_TRAIN));
        assert_clg_ok(clg_graph_set_input(m.g, m.x, x));
        assert_clg_ok(clg_graph_set_input(m.g, m.t, t));
        double want = ref_clip(&m, x, t, 0), h = 1e-4;
        double dls = (ref_clip(&m, x, t, h) - ref_clip(&m, x, t, -h)) / (2 * h);
        double *ls0 = read_param_d(m.g, "log_scale", 1), *tw0 = read_param_d(m.g, "txt_proj.fc1.weight", 1);
        assert_true(fabs(*ls0 - log(2.0)) < 1e-6);
        float loss = 0;
        assert_clg_ok(clg_graph_step(m.g, &loss));
        if (fabs(loss - want) > 1e-5 * (1 + fabs(want)))
            fail_msg("variant %d: loss %.8f, reference %.8f", variant, (double)loss, want);
        double *ls1 = read_param_d(m.g, "log_scale", 1), *tw1 = read_param_d(m.g, "txt_proj.fc1.weight", 1);
        double moved = (*ls0 - *ls1) / 0.1, expect_moved = frozen ? 0 : dls;
        if (fabs(moved - expect_moved) > 1e-4 + 1e-3 * fabs(dls))
            fail_msg("variant %d: log_scale gradient %.7f, reference %.7f", variant, moved, expect_moved);
        assert_true(*tw0 != *tw1); /* the text projection trains */
        free(ls0);
        free(ls1);
        free(tw0);
        free(tw1);
        clg_clip_free(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_load_identical), cmocka_unit_test(test_mismatched_and_truncated),
        cmocka_unit_test(test_encoder_into_classifier), cmocka_unit_test(test_python_reads_checkpoint),
        cmocka_unit_test(test_memory_plan_below_naive), cmocka_unit_test(test_step_flops),
        cmocka_unit_test(test_steps_allocate_nothing),
        cmocka_unit_test(test_nt_xent_vs_reference), cmocka_unit_test(test_simclr_model),
        cmocka_unit_test(test_plain_ae_loss), cmocka_unit_test(test_denoising_input),
        cmocka_unit_test(test_denoising_grads_fd),
        cmocka_unit_test(test_clip_model),
    };
    return clg_test_run_per_device("models", tests, sizeof tests / sizeof tests[0]);
}
