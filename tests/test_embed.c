/* test_embed.c — the embed ops vs the double reference and finite differences, per device. */
/* Tolerances: forward |dev - ref| <= atol + rtol*|ref|, atol 1e-5 rtol 1e-4 (the defaults) for
 * embedding (exact copies) and l2_normalize; atol 1e-4 for similarity, similarity_matrix and
 * attention_lookup (float sums of up to 1031 products of size ~1); contrastive_loss atol 1e-4
 * rtol 1e-4 (log-sum-exps of logits up to exp(2.5) ~ 12, and up to 100 in the large-temperature
 * case).  Backward via check_op_backward: |dev - fd| <= gtol * max(1, max|fd|), gtol 2e-3 (the
 * default), 5e-3 for contrastive_loss and attention_lookup (softmax of float logits).  The
 * deterministic embedding gradient is compared bit for bit between two runs and within
 * 1e-4 * (1 + |want|) of the double sum of 1000 rows into 7. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref_ops.h"

static void run_case(const op_case *c, uint64_t seed)
{
    check_op_forward(tctx, c, seed);
    check_op_backward(tctx, c, seed + 1000);
}

/* ---- embedding ------------------------------------------------------------------------------------ */

static void test_embedding(void **s)
{
    (void)s;
    const struct { int64_t V, D; clg_shape idx; } cases[] = {
        { 1, 1, SHAPE1(CLG_I32, 1) },
        { 7, 33, SHAPE1(CLG_I32, 33) },            /* repeated rows */
        { 33, 7, SHAPE2(CLG_I32, 7, 1) },
        { 5, 3, SHAPE3(CLG_I32, 2, 3, 4) },        /* 24 indices into 5 rows */
        { 1, 7, SHAPE1(CLG_I32, 7) },              /* every index the same row */
        { 1500, 1031, SHAPE1(CLG_I32, 3) },        /* a big table, few rows */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        op_case c = { .op = CLG_OP_EMBEDDING, .nin = 2, .attrs = clg_attrs_defaults() };
        c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, cases[i].V, cases[i].D) };
        c.in[1] = (in_spec){ .s = cases[i].idx, .kind = IN_INDEX, .lo = 0, .hi = (double)cases[i].V, .no_grad = 1 };
        run_case(&c, 10 + i);
    }
}

/* The gradient sums 1000 rows into 7: bit-identical run to run, and close to the double sum. */
static void test_embedding_deterministic(void **s)
{
    (void)s;
    enum { V = 7, D = 33, N = 1000 };
    clg_shape st = SHAPE2(CLG_F32, V, D), si = SHAPE1(CLG_I32, N), so = SHAPE2(CLG_F32, N, D);
    int32_t *idx = malloc(N * sizeof *idx);
    float *gy = malloc((size_t)N * D * sizeof *gy), *g1 = malloc(V * D * sizeof *g1), *g2 = malloc(V * D * sizeof *g2);
    double *want = calloc(V * D, sizeof *want);
    assert_non_null(idx);
    assert_non_null(gy);
    assert_non_null(g1);
    assert_non_null(g2);
    assert_non_null(want);
    trng r = { 77 };
    for (int i = 0; i < N; i++)
        idx[i] = (int32_t)(trng_uniform(&r) * V);
    for (int i = 0; i < N * D; i++)
        gy[i] = (float)(2 * trng_uniform(&r) - 1);
    for (int i = 0; i < N; i++)
        for (int c = 0; c < D; c++)
            want[idx[i] * D + c] += gy[i * D + c];
    clg_tensor tt, ti, to, tg, tgt;
    assert_clg_ok(clg_tensor_zeros(tctx, &st, &tt));
    assert_clg_ok(clg_tensor_new(tctx, &si, &ti));
    assert_clg_ok(clg_tensor_new(tctx, &so, &to));
    assert_clg_ok(clg_tensor_new(tctx, &so, &tg));
    assert_clg_ok(clg_tensor_new(tctx, &st, &tgt));
    assert_clg_ok(clg_tensor_write(&ti, idx));
    assert_clg_ok(clg_tensor_write(&tg, gy));
    clg_attrs a = clg_attrs_defaults();
    a.deterministic = 1;
    const clg_tensor *in[2] = { &tt, &ti };
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_EMBEDDING, in, &to, &a));
    for (int run = 0; run < 2; run++) {
        assert_clg_ok(clg_op_backward(tctx, CLG_OP_EMBEDDING, in, &to, &tg, (clg_tensor *const[]){ &tgt, NULL }, &a, 0));
        assert_clg_ok(clg_tensor_read(&tgt, run ? g2 : g1));
    }
    assert_memory_equal(g1, g2, V * D * sizeof *g1);
    for (int k = 0; k < V * D; k++)
        if (!(fabs(g1[k] - want[k]) <= 1e-4 * (1 + fabs(want[k]))))
            fail_msg("embedding backward [%d] = %.9g, want %.9g", k, g1[k], want[k]);
    clg_tensor_free(&tt);
    clg_tensor_free(&ti);
    clg_tensor_free(&to);
    clg_tensor_free(&tg);
    clg_tensor_free(&tgt);
    free(idx);
    free(gy);
    free(g1);
    free(g2);
    free(want);
}

/* An index outside [0, V): the row reads as zero, its gradient is skipped, finish reports it. */
static void test_embedding_bad_index(void **s)
{
    (void)s;
    float table[6] = { 1, 2, 3, 4, 5, 6 }, out[6], gout[6] = { 1, 1, 1, 1, 1, 1 }, gt[6];
    int32_t idx[3] = { 2, 9, 0 };
    clg_shape st = SHAPE2(CLG_F32, 3, 2), si = SHAPE1(CLG_I32, 3), so = SHAPE2(CLG_F32, 3, 2);
    clg_tensor tt, ti, to, tg, tgt;
    assert_clg_ok(clg_tensor_new(tctx, &st, &tt));
    assert_clg_ok(clg_tensor_new(tctx, &si, &ti));
    assert_clg_ok(clg_tensor_new(tctx, &so, &to));
    assert_clg_ok(clg_tensor_new(tctx, &so, &tg));
    assert_clg_ok(clg_tensor_new(tctx, &st, &tgt));
    assert_clg_ok(clg_tensor_write(&tt, table));
    assert_clg_ok(clg_tensor_write(&ti, idx));
    assert_clg_ok(clg_tensor_write(&tg, gout));
    const clg_tensor *in[2] = { &tt, &ti };
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_EMBEDDING, in, &to, NULL));
    assert_int_equal(clg_ctx_finish(tctx), CLG_ERR_INDEX);
    assert_non_null(strstr(clg_last_error(), "embedding"));
    assert_non_null(strstr(clg_last_error(), "9"));
    assert_clg_ok(clg_ctx_finish(tctx));
    assert_clg_ok(clg_tensor_read(&to, out));
    const float want[6] = { 5, 6, 0, 0, 1, 2 };
    assert_memory_equal(out, want, sizeof want);
    assert_clg_ok(clg_op_backward(tctx, CLG_OP_EMBEDDING, in, &to, &tg, (clg_tensor *const[]){ &tgt, NULL }, NULL, 0));
    assert_clg_ok(clg_tensor_read(&tgt, gt));
    const float wantg[6] = { 1, 1, 0, 0, 1, 1 };
    assert_memory_equal(gt, wantg, sizeof wantg);
    clg_tensor_free(&tt);
    clg_tensor_free(&ti);
    clg_tensor_free(&to);
    clg_tensor_free(&tg);
    clg_tensor_free(&tgt);
}

/* ---- l2_normalize, similarity, similarity_matrix --------------------------------------------------- */

static void test_l2_normalize(void **s)
{
    (void)s;
    const clg_shape shapes[] = { SHAPE2(CLG_F32, 1, 1), SHAPE2(CLG_F32, 7, 33), SHAPE2(CLG_F32, 33, 7),
                                 SHAPE2(CLG_F32, 2, 1031), SHAPE3(CLG_F32, 2, 3, 5), SHAPE1(CLG_F32, 7) };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        op_case c = { .op = CLG_OP_L2_NORMALIZE, .nin = 1, .attrs = clg_attrs_defaults() };
        c.in[0] = (in_spec){ .s = shapes[i], .lo = -2, .hi = 2 };
        run_case(&c, 100 + i);
    }
}

/* A zero row stays zero (no NaN from 0/0). */
static void test_l2_normalize_zero_row(void **s)
{
    (void)s;
    float x[6] = { 0, 0, 0, 3, 4, 0 }, y[6];
    clg_shape sx = SHAPE2(CLG_F32, 2, 3);
    clg_tensor tx, ty;
    assert_clg_ok(clg_tensor_new(tctx, &sx, &tx));
    assert_clg_ok(clg_tensor_new(tctx, &sx, &ty));
    assert_clg_ok(clg_tensor_write(&tx, x));
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_L2_NORMALIZE, (const clg_tensor *[]){ &tx }, &ty, NULL));
    assert_clg_ok(clg_tensor_read(&ty, y));
    const float want[6] = { 0, 0, 0, 0.6f, 0.8f, 0 };
    for (int i = 0; i < 6; i++)
        assert_true(fabsf(y[i] - want[i]) <= 1e-6f);
    clg_tensor_free(&tx);
    clg_tensor_free(&ty);
}

static void test_similarity(void **s)
{
    (void)s;
    const int64_t nd[][2] = { { 1, 1 }, { 7, 33 }, { 33, 7 }, { 2, 1031 } };
    for (size_t i = 0; i < sizeof nd / sizeof nd[0]; i++) {
        op_case c = { .op = CLG_OP_SIMILARITY, .nin = 2, .attrs = clg_attrs_defaults() };
        c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, nd[i][0], nd[i][1]) };
        c.in[1] = (in_spec){ .s = SHAPE2(CLG_F32, nd[i][0], nd[i][1]) };
        c.atol = 1e-4;
        run_case(&c, 200 + i);
    }
}

static void test_similarity_matrix(void **s)
{
    (void)s;
    const int64_t nmd[][3] = { { 1, 1, 1 }, { 7, 33, 33 }, { 33, 1, 7 }, { 2, 3, 1031 } };
    for (size_t i = 0; i < sizeof nmd / sizeof nmd[0]; i++) {
        op_case c = { .op = CLG_OP_SIMILARITY_MATRIX, .nin = 2, .attrs = clg_attrs_defaults() };
        c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, nmd[i][0], nmd[i][2]) };
        c.in[1] = (in_spec){ .s = SHAPE2(CLG_F32, nmd[i][1], nmd[i][2]) };
        c.atol = 1e-4;
        run_case(&c, 300 + i);
    }
}

/* ---- contrastive_loss, attention_lookup ------------------------------------------------------------ */

static void test_contrastive_loss(void **s)
{
    (void)s;
    const int64_t nd[][2] = { { 1, 7 }, { 7, 33 }, { 33, 7 }, { 3, 1031 }, { 2, 1 } };
    for (size_t i = 0; i < sizeof nd / sizeof nd[0]; i++) {
        op_case c = { .op = CLG_OP_CONTRASTIVE_LOSS, .nin = 3, .attrs = clg_attrs_defaults() };
        c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, nd[i][0], nd[i][1]) };
        c.in[1] = (in_spec){ .s = SHAPE2(CLG_F32, nd[i][0], nd[i][1]) };
        c.in[2] = (in_spec){ .s = SCALAR(CLG_F32), .lo = 0, .hi = 2.5 };
        c.atol = 1e-4;
        c.rtol = 1e-4;
        c.gtol = 5e-3;
        run_case(&c, 400 + i);
    }
    /* CLIP's largest temperature: logits up to 100 must not overflow */
    op_case c = { .op = CLG_OP_CONTRASTIVE_LOSS, .nin = 3, .attrs = clg_attrs_defaults() };
    c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, 7, 33) };
    c.in[1] = (in_spec){ .s = SHAPE2(CLG_F32, 7, 33) };
    c.in[2] = (in_spec){ .s = SCALAR(CLG_F32), .lo = 4.5, .hi = 4.6 };
    c.atol = 1e-4;
    c.rtol = 1e-4;
    c.gtol = 5e-3;
    run_case(&c, 450);
}

static void test_attention_lookup(void **s)
{
    (void)s;
    /* Nq, Nk, D, Dv, alpha */
    const struct { int64_t nq, nk, d, dv; float alpha; } cases[] = {
        { 1, 1, 1, 1, 1.0f },
        { 7, 33, 33, 7, 0.5f },
        { 33, 7, 7, 33, 1.0f },
        { 2, 3, 1031, 5, 0.1f },
        { 3, 1031, 2, 2, 2.0f },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        op_case c = { .op = CLG_OP_ATTENTION_LOOKUP, .nin = 3, .attrs = clg_attrs_defaults() };
        c.attrs.alpha = cases[i].alpha;
        c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, cases[i].nq, cases[i].d) };
        c.in[1] = (in_spec){ .s = SHAPE2(CLG_F32, cases[i].nk, cases[i].d) };
        c.in[2] = (in_spec){ .s = SHAPE2(CLG_F32, cases[i].nk, cases[i].dv) };
        c.atol = 1e-4;
        c.gtol = 5e-3;
        run_case(&c, 500 + i);
    }
}

/* Both kernel families on every device (the default picks one per device type):
 * CLGRAD_VEC_KERNELS=0 (a work-item per row or column) and =1 (float16 in groups of one). */
static void test_embed_styles(void **s)
{
    void (*const fns[])(void **) = { test_embedding,         test_embedding_deterministic, test_embedding_bad_index,
                                     test_l2_normalize,      test_l2_normalize_zero_row,   test_similarity,
                                     test_contrastive_loss, test_attention_lookup };
    clg_test_each_vec_kernels(fns, sizeof fns / sizeof fns[0], s);
}

/* Empty inputs: nothing read out of bounds; gradients are zero, the empty contrastive loss is 0. */
static void test_zero_sized(void **s)
{
    (void)s;
    clg_shape st = SHAPE2(CLG_F32, 4, 3), si = SHAPE1(CLG_I32, 0), so = SHAPE2(CLG_F32, 0, 3);
    clg_shape sx = SHAPE2(CLG_F32, 0, 3), sc = SCALAR(CLG_F32);
    clg_tensor tt, ti, to, tgt, tx, tl, ty, tgx, tgl;
    float g[12], one = 1.0f, v;
    assert_clg_ok(clg_tensor_zeros(tctx, &st, &tt));
    assert_clg_ok(clg_tensor_new(tctx, &si, &ti));
    assert_clg_ok(clg_tensor_new(tctx, &so, &to));
    assert_clg_ok(clg_tensor_new(tctx, &st, &tgt));
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_EMBEDDING, (const clg_tensor *[]){ &tt, &ti }, &to, NULL));
    assert_clg_ok(clg_op_backward(tctx, CLG_OP_EMBEDDING, (const clg_tensor *[]){ &tt, &ti }, &to, &to,
                                  (clg_tensor *const[]){ &tgt, NULL }, NULL, 0));
    assert_clg_ok(clg_tensor_read(&tgt, g));
    for (int i = 0; i < 12; i++)
        assert_true(g[i] == 0.0f);
    assert_clg_ok(clg_tensor_new(tctx, &sx, &tx));
    assert_clg_ok(clg_tensor_new(tctx, &sc, &tl));
    assert_clg_ok(clg_tensor_new(tctx, &sc, &ty));
    assert_clg_ok(clg_tensor_new(tctx, &sx, &tgx));
    assert_clg_ok(clg_tensor_new(tctx, &sc, &tgl));
    assert_clg_ok(clg_tensor_write(&tl, &one));
    const clg_tensor *in[3] = { &tx, &tx, &tl };
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_CONTRASTIVE_LOSS, in, &ty, NULL));
    assert_clg_ok(clg_tensor_read(&ty, &v));
    assert_true(v == 0.0f);
    assert_clg_ok(clg_op_backward(tctx, CLG_OP_CONTRASTIVE_LOSS, in, &ty, &tl, (clg_tensor *const[]){ &tgx, NULL, &tgl },
                                  NULL, 0));
    assert_clg_ok(clg_tensor_read(&tgl, &v));
    assert_true(v == 0.0f);
    clg_tensor *all[] = { &tt, &ti, &to, &tgt, &tx, &tl, &ty, &tgx, &tgl };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        clg_tensor_free(all[i]);
}

/* ---- bad inputs -------------------------------------------------------------------------------------- */

static void expect_fail(clg_op op, const clg_shape *const *in, clg_status want, const char *what)
{
    clg_shape o;
    assert_int_equal(clg_op_infer(op, in, NULL, &o), want);
    assert_non_null(strstr(clg_last_error(), clg_op_name(op)));
    if (what)
        assert_non_null(strstr(clg_last_error(), what));
}

static void test_bad_inputs(void **s)
{
    (void)s;
    clg_shape t = SHAPE2(CLG_F32, 10, 4), ti = SHAPE2(CLG_I32, 10, 4), i1 = SHAPE1(CLG_I32, 3);
    clg_shape f1 = SHAPE1(CLG_F32, 3), t3 = SHAPE3(CLG_F32, 2, 2, 2), i4 = SHAPE4(CLG_I32, 1, 1, 1, 2);
    expect_fail(CLG_OP_EMBEDDING, (const clg_shape *[]){ &t, &f1 }, CLG_ERR_DTYPE, "i32");
    expect_fail(CLG_OP_EMBEDDING, (const clg_shape *[]){ &ti, &i1 }, CLG_ERR_DTYPE, "f32");
    expect_fail(CLG_OP_EMBEDDING, (const clg_shape *[]){ &t3, &i1 }, CLG_ERR_SHAPE, "f32[2,2,2]");
    expect_fail(CLG_OP_EMBEDDING, (const clg_shape *[]){ &t, &i4 }, CLG_ERR_SHAPE, "i32[1,1,1,2]");

    clg_shape x = SHAPE2(CLG_F32, 5, 4), y = SHAPE2(CLG_F32, 5, 3), z = SHAPE2(CLG_F32, 6, 4), sc = SCALAR(CLG_F32);
    clg_shape xi = SHAPE2(CLG_I32, 5, 4), sc1 = SHAPE1(CLG_F32, 1), e = SCALAR(CLG_F32);
    expect_fail(CLG_OP_L2_NORMALIZE, (const clg_shape *[]){ &xi }, CLG_ERR_DTYPE, "i32");
    expect_fail(CLG_OP_L2_NORMALIZE, (const clg_shape *[]){ &e }, CLG_ERR_SHAPE, NULL);
    expect_fail(CLG_OP_SIMILARITY, (const clg_shape *[]){ &x, &y }, CLG_ERR_SHAPE, "f32[5,3]");
    expect_fail(CLG_OP_SIMILARITY, (const clg_shape *[]){ &x, &z }, CLG_ERR_SHAPE, "f32[6,4]");
    expect_fail(CLG_OP_SIMILARITY, (const clg_shape *[]){ &x, &xi }, CLG_ERR_DTYPE, "i32");
    expect_fail(CLG_OP_SIMILARITY_MATRIX, (const clg_shape *[]){ &x, &y }, CLG_ERR_SHAPE, "f32[5,3]");
    expect_fail(CLG_OP_SIMILARITY_MATRIX, (const clg_shape *[]){ &x, &t3 }, CLG_ERR_SHAPE, NULL);
    expect_fail(CLG_OP_CONTRASTIVE_LOSS, (const clg_shape *[]){ &x, &z, &sc }, CLG_ERR_SHAPE, "f32[6,4]");
    expect_fail(CLG_OP_CONTRASTIVE_LOSS, (const clg_shape *[]){ &x, &x, &sc1 }, CLG_ERR_SHAPE, "log_scale");
    expect_fail(CLG_OP_CONTRASTIVE_LOSS, (const clg_shape *[]){ &x, &xi, &sc }, CLG_ERR_DTYPE, "i32");
    clg_shape q = SHAPE2(CLG_F32, 3, 4), k = SHAPE2(CLG_F32, 6, 4), v = SHAPE2(CLG_F32, 6, 2), v5 = SHAPE2(CLG_F32, 5, 2);
    clg_shape k3 = SHAPE2(CLG_F32, 6, 3), vi = SHAPE2(CLG_I32, 6, 2), k0 = SHAPE2(CLG_F32, 0, 4), v0 = SHAPE2(CLG_F32, 0, 2);
    expect_fail(CLG_OP_ATTENTION_LOOKUP, (const clg_shape *[]){ &q, &k3, &v }, CLG_ERR_SHAPE, "f32[6,3]");
    expect_fail(CLG_OP_ATTENTION_LOOKUP, (const clg_shape *[]){ &q, &k, &v5 }, CLG_ERR_SHAPE, "f32[5,2]");
    expect_fail(CLG_OP_ATTENTION_LOOKUP, (const clg_shape *[]){ &q, &k, &vi }, CLG_ERR_DTYPE, "i32");
    expect_fail(CLG_OP_ATTENTION_LOOKUP, (const clg_shape *[]){ &q, &k0, &v0 }, CLG_ERR_SHAPE, "key");

    /* the idx input of embedding has no gradient */
    clg_tensor tt, tidx, to, tg;
    clg_shape so = SHAPE2(CLG_F32, 3, 4);
    assert_clg_ok(clg_tensor_zeros(tctx, &t, &tt));
    assert_clg_ok(clg_tensor_zeros(tctx, &i1, &tidx));
    assert_clg_ok(clg_tensor_new(tctx, &so, &to));
    assert_clg_ok(clg_tensor_new(tctx, &i1, &tg));
    assert_int_equal(clg_op_backward(tctx, CLG_OP_EMBEDDING, (const clg_tensor *[]){ &tt, &tidx }, &to, &to,
                                     (clg_tensor *const[]){ NULL, &tg }, NULL, 0),
                     CLG_ERR_DTYPE);
    assert_non_null(strstr(clg_last_error(), "embedding"));
    clg_tensor_free(&tt);
    clg_tensor_free(&tidx);
    clg_tensor_free(&to);
    clg_tensor_free(&tg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedding),         cmocka_unit_test(test_embedding_deterministic),
        cmocka_unit_test(test_embedding_bad_index), cmocka_unit_test(test_l2_normalize),
        cmocka_unit_test(test_l2_normalize_zero_row), cmocka_unit_test(test_similarity),
        cmocka_unit_test(test_similarity_matrix), cmocka_unit_test(test_contrastive_loss),
        cmocka_unit_test(test_attention_lookup),  cmocka_unit_test(test_zero_sized),
        cmocka_unit_test(test_embed_styles), cmocka_unit_test(test_bad_inputs),
    };
    return clg_test_run_per_device("embed", tests, sizeof tests / sizeof tests[0]);
}
