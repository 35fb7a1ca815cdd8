/* test_loss.c — cross_entropy, mse, masked_mse vs the double reference and finite differences,
 * per device.  Tolerances: forward atol 1e-5, rtol 1e-4 (scalar means of up to ~35k terms,
 * Kahan-summed); backward gtol 2e-3 relative to the largest finite-difference gradient. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref_ops.h"

static void test_cross_entropy(void **s)
{
    (void)s;
    /* up to 16384 rows of fewer than 65536 logits: one work-group (ce_mean); 100 x 1031 and
     * 20000 rows: ce_rows, then sum_scaled */
    const int64_t Ns[] = { 1, 7, 33, 100, 20000 }, Cs[] = { 10, 1, 1031 };
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 3; j++) {
            if (Ns[i] * Cs[j] > 1000000)
                continue;
            op_case c = { .op = CLG_OP_CROSS_ENTROPY, .nin = 2, .attrs = clg_attrs_defaults() };
            c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, Ns[i], Cs[j]), .kind = IN_UNIFORM, .lo = -4, .hi = 4 };
            c.in[1] = (in_spec){ .s = SHAPE1(CLG_I32, Ns[i]), .kind = IN_INDEX, .lo = 0, .hi = (double)Cs[j] };
            c.max_fd = 40;
            check_op_forward(tctx, &c, 10 + i * 3 + j);
            check_op_backward(tctx, &c, 40 + i * 3 + j);
        }
}

static void test_cross_entropy_large_logits(void **s)
{
    (void)s;
    op_case c = { .op = CLG_OP_CROSS_ENTROPY, .nin = 2, .attrs = clg_attrs_defaults() };
    c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, 33, 10), .kind = IN_UNIFORM, .lo = 80, .hi = 120 };
    c.in[1] = (in_spec){ .s = SHAPE1(CLG_I32, 33), .kind = IN_INDEX, .lo = 0, .hi = 10 };
    c.atol = 1e-4;
    check_op_forward(tctx, &c, 31);
    check_op_backward(tctx, &c, 32);
}

static void test_mse(void **s)
{
    (void)s;
    const int64_t sizes[] = { 1, 7, 33, 1031, 35000 };
    for (size_t i = 0; i < 5; i++) {
        op_case c = { .op = CLG_OP_MSE, .nin = 2, .attrs = clg_attrs_defaults() };
        c.in[0] = (in_spec){ .s = SHAPE1(CLG_F32, sizes[i]) };
        c.in[1] = (in_spec){ .s = SHAPE1(CLG_F32, sizes[i]) };
        check_op_forward(tctx, &c, 40 + i);
        check_op_backward(tctx, &c, 50 + i);
    }
}

static void test_masked_mse(void **s)
{
    (void)s;
    const int64_t rows[] = { 1, 7, 33, 257 }, cols[] = { 1, 33, 1031, 100 };
    for (size_t i = 0; i < 4; i++) {
        op_case c = { .op = CLG_OP_MASKED_MSE, .nin = 3, .attrs = clg_attrs_defaults() };
        c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, rows[i], cols[i]) };
        c.in[1] = (in_spec){ .s = SHAPE2(CLG_F32, rows[i], cols[i]) };
        c.in[2] = (in_spec){ .s = SHAPE2(CLG_F32, rows[i], cols[i]), .kind = IN_MASK, .lo = 0.75, .no_grad = 1 };
        check_op_forward(tctx, &c, 60 + i);
        check_op_backward(tctx, &c, 70 + i);
    }
}

static void test_masked_mse_counts_only_masked(void **s)
{
    (void)s;
    /* pred - target = 1 on masked pixels and 100 elsewhere: the loss must be exactly 1 */
    float p[8] = { 1, 100, 1, 100, 1, 100, 100, 100 }, t[8] = { 0 }, m[8] = { 1, 0, 1, 0, 1, 0, 0, 0 }, y = -1;
    clg_shape sh = SHAPE2(CLG_F32, 2, 4), sc = SCALAR(CLG_F32);
    clg_tensor tp, tt, tm, ty;
    assert_clg_ok(clg_tensor_new(tctx, &sh, &tp));
    assert_clg_ok(clg_tensor_new(tctx, &sh, &tt));
    assert_clg_ok(clg_tensor_new(tctx, &sh, &tm));
    assert_clg_ok(clg_tensor_new(tctx, &sc, &ty));
    assert_clg_ok(clg_tensor_write(&tp, p));
    assert_clg_ok(clg_tensor_write(&tt, t));
    assert_clg_ok(clg_tensor_write(&tm, m));
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_MASKED_MSE, (const clg_tensor *[]){ &tp, &tt, &tm }, &ty, NULL));
    assert_clg_ok(clg_tensor_read(&ty, &y));
    assert_float_equal(y, 1.0f, 0);
    clg_tensor_free(&tp);
    clg_tensor_free(&tt);
    clg_tensor_free(&tm);
    clg_tensor_free(&ty);
}

/* Both kernel families on every device (the default picks one per device type):
 * CLGRAD_VEC_KERNELS=0 (grid-stride work-groups) and =1 (float16 chunks in groups of one). */
static void test_sq_styles(void **s)
{
    void (*const fns[])(void **) = { test_mse, test_masked_mse, test_masked_mse_counts_only_masked };
    clg_test_each_vec_kernels(fns, 3, s);
}

/* From 16 classes the kernels take their own exp (cl/loss.cl's ce_exp): rows [0, x, -1e30 x 14]
 * with label 0 have d logit 1 = e^x / (1 + e^x) / N, checked against double within 3 float
 * epsilons relative over x in [-78, 0] (N = 4096 keeps it above float's denormals). */
static void test_cross_entropy_own_exp(void **s)
{
    (void)s;
    enum { N = 4096, C = 16 };
    float *x = malloc(sizeof(float) * N * C), *g = malloc(sizeof(float) * N * C), one = 1.0f;
    int32_t *lab = calloc(N, sizeof(int32_t));
    assert_true(x && g && lab);
    for (int r = 0; r < N; r++) {
        x[r * C] = 0.0f;
        x[r * C + 1] = -78.0f * (float)r / (float)(N - 1);
        for (int c = 2; c < C; c++)
            x[r * C + c] = -1e30f;
    }
    clg_shape sx = SHAPE2(CLG_F32, N, C), sl = SHAPE1(CLG_I32, N), sc = SCALAR(CLG_F32);
    clg_tensor tx, tl, ty, tg, gx;
    assert_clg_ok(clg_tensor_new(tctx, &sx, &tx));
    assert_clg_ok(clg_tensor_new(tctx, &sl, &tl));
    assert_clg_ok(clg_tensor_new(tctx, &sc, &ty));
    assert_clg_ok(clg_tensor_new(tctx, &sc, &tg));
    assert_clg_ok(clg_tensor_new(tctx, &sx, &gx));
    assert_clg_ok(clg_tensor_write(&tx, x));
    assert_clg_ok(clg_tensor_write(&tl, lab));
    assert_clg_ok(clg_tensor_write(&tg, &one));
    const clg_tensor *in[] = { &tx, &tl };
    clg_tensor *gin[] = { &gx, NULL };
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_CROSS_ENTROPY, in, &ty, NULL));
    assert_clg_ok(clg_op_backward(tctx, CLG_OP_CROSS_ENTROPY, in, &ty, &tg, gin, NULL, 0));
    assert_clg_ok(clg_tensor_read(&gx, g));
    double worst = 0;
    for (int r = 0; r < N; r++) {
        double e = exp((double)x[r * C + 1]), want = e / (1.0 + e), got = (double)g[r * C + 1] * N;
        double rel = fabs(got - want) / want;
        if (rel > worst)
            worst = rel;
        if (rel > 3 * FLT_EPSILON) {
            print_error("x = %.9g: d logit %.9g, double %.9g (relative error %.3g)\n", (double)x[r * C + 1], got,
                        want, rel);
            fail();
        }
        assert_true(g[r * C + 2] == 0.0f);
    }
    print_message("cross_entropy's exp from 16 classes: worst relative error %.3g (float epsilon %.3g)\n", worst,
                  (double)FLT_EPSILON);
    clg_tensor_free(&tx);
    clg_tensor_free(&tl);
    clg_tensor_free(&ty);
    clg_tensor_free(&tg);
    clg_tensor_free(&gx);
    free(x);
    free(g);
    free(lab);
}

static void test_bad_label_flagged(void **s)
{
    (void)s;
    float x[6] = { 0, 1, 2, 3, 4, 5 };
    int32_t lab[2] = { 1, 7 };
    clg_shape sx = SHAPE2(CLG_F32, 2, 3), sl = SHAPE1(CLG_I32, 2), sc = SCALAR(CLG_F32);
    clg_tensor tx, tl, ty;
    assert_clg_ok(clg_tensor_new(tctx, &sx, &tx));
    assert_clg_ok(clg_tensor_new(tctx, &sl, &tl));
    assert_clg_ok(clg_tensor_new(tctx, &sc, &ty));
    assert_clg_ok(clg_tensor_write(&tx, x));
    assert_clg_ok(clg_tensor_write(&tl, lab));
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_CROSS_ENTROPY, (const clg_tensor *[]){ &tx, &tl }, &ty, NULL));
    assert_int_equal(clg_ctx_finish(tctx), CLG_ERR_INDEX);
    assert_non_null(strstr(clg_last_error(), "cross_entropy"));
    assert_non_null(strstr(clg_last_error(), "7"));
    assert_clg_ok(clg_ctx_finish(tctx)); /* the flag is cleared */
    clg_tensor_free(&tx);
    clg_tensor_free(&tl);
    clg_tensor_free(&ty);
}

static void test_bad_inputs(void **s)
{
    (void)s;
    clg_shape x = SHAPE2(CLG_F32, 4, 3), lf = SHAPE1(CLG_F32, 4), li = SHAPE1(CLG_I32, 5), o;
    assert_int_equal(clg_op_infer(CLG_OP_CROSS_ENTROPY, (const clg_shape *[]){ &x, &lf }, NULL, &o), CLG_ERR_DTYPE);
    assert_non_null(strstr(clg_last_error(), "cross_entropy"));
    assert_int_equal(clg_op_infer(CLG_OP_CROSS_ENTROPY, (const clg_shape *[]){ &x, &li }, NULL, &o), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "i32[5]"));
    clg_shape y = SHAPE2(CLG_F32, 3, 4);
    assert_int_equal(clg_op_infer(CLG_OP_MSE, (const clg_shape *[]){ &x, &y }, NULL, &o), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "mse"));
    assert_int_equal(clg_op_infer(CLG_OP_MASKED_MSE, (const clg_shape *[]){ &x, &x, &y }, NULL, &o), CLG_ERR_SHAPE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cross_entropy), cmocka_unit_test(test_cross_entropy_large_logits),
        cmocka_unit_test(test_mse), cmocka_unit_test(test_masked_mse),
        cmocka_unit_test(test_masked_mse_counts_only_masked), cmocka_unit_test(test_sq_styles),
        cmocka_unit_test(test_cross_entropy_own_exp),
        cmocka_unit_test(test_bad_label_flagged),
        cmocka_unit_test(test_bad_inputs),
    };
    return clg_test_run_per_device("loss", tests, sizeof tests / sizeof tests[0]);
}
