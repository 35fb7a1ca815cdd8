/* test_misc.c — the misc ops (argmax, accuracy, fill, copy, transpose) vs the double reference, per device. */
/* Tolerances: all these ops are exact (selection, counting, data movement): atol 1e-7 rtol 1e-7;
 * accuracy compares against the float quotient hit/N. No backward. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "ref_ops.h"

#define EXACT(c) ((c).atol = 1e-7, (c).rtol = 1e-7)

static void test_argmax(void **s)
{
    (void)s;
    const clg_shape cases[] = { SHAPE2(CLG_F32, 1, 1), SHAPE2(CLG_F32, 7, 33), SHAPE2(CLG_F32, 33, 7),
                                SHAPE2(CLG_F32, 3, 1031), SHAPE2(CLG_F32, 1031, 3) };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        op_case c = { .op = CLG_OP_ARGMAX, .nin = 1, .attrs = clg_attrs_defaults() };
        c.in[0] = (in_spec){ .s = cases[i] };
        EXACT(c);
        check_op_forward(tctx, &c, 100 + i);
    }
}

/* Ties pick the first maximum; -inf rows still give a valid index. */
static void test_argmax_ties(void **s)
{
    (void)s;
    const float x[3][4] = { { 1, 3, 3, 0 }, { 2, 2, 2, 2 }, { -INFINITY, -INFINITY, -1, -1 } };
    clg_shape sx = SHAPE2(CLG_F32, 3, 4), sy = SHAPE1(CLG_I32, 3);
    clg_tensor tx, ty;
    assert_clg_ok(clg_tensor_new(tctx, &sx, &tx));
    assert_clg_ok(clg_tensor_new(tctx, &sy, &ty));
    assert_clg_ok(clg_tensor_write(&tx, x));
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_ARGMAX, (const clg_tensor *[]){ &tx }, &ty, NULL));
    int32_t y[3];
    assert_clg_ok(clg_tensor_read(&ty, y));
    assert_int_equal(y[0], 1);
    assert_int_equal(y[1], 0);
    assert_int_equal(y[2], 2);
    clg_tensor_free(&tx);
    clg_tensor_free(&ty);
}

static void test_accuracy(void **s)
{
    (void)s;
    const int64_t shapes[][2] = { { 1, 1 }, { 7, 33 }, { 1031, 3 }, { 33, 2 } };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        op_case c = { .op = CLG_OP_ACCURACY, .nin = 2, .attrs = clg_attrs_defaults() };
        c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, shapes[i][0], shapes[i][1]) };
        c.in[1] = (in_spec){ .s = SHAPE1(CLG_I32, shapes[i][0]), .kind = IN_INDEX, .lo = 0,
                             .hi = (double)shapes[i][1] };
        EXACT(c);
        check_op_forward(tctx, &c, 200 + i);
    }
}

/* A known answer, then a label out of range: counted wrong and flagged at clg_ctx_finish. */
static void test_accuracy_labels(void **s)
{
    (void)s;
    const float x[4][3] = { { 0, 1, 0 }, { 5, 1, 2 }, { 0, 0, 9 }, { 1, 1, 0 } };
    int32_t lab[4] = { 1, 0, 1, 0 };
    clg_shape sx = SHAPE2(CLG_F32, 4, 3), sl = SHAPE1(CLG_I32, 4), sy = SCALAR(CLG_F32);
    clg_tensor tx, tl, ty;
    assert_clg_ok(clg_tensor_new(tctx, &sx, &tx));
    assert_clg_ok(clg_tensor_new(tctx, &sl, &tl));
    assert_clg_ok(clg_tensor_new(tctx, &sy, &ty));
    assert_clg_ok(clg_tensor_write(&tx, x));
    assert_clg_ok(clg_tensor_write(&tl, lab));
    const clg_tensor *in[2] = { &tx, &tl };
    float y;
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_ACCURACY, in, &ty, NULL));
    assert_clg_ok(clg_ctx_finish(tctx));
    assert_clg_ok(clg_tensor_read(&ty, &y));
    assert_true(y == 0.75f);
    lab[0] = 3;
    assert_clg_ok(clg_tensor_write(&tl, lab));
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_ACCURACY, in, &ty, NULL));
    assert_int_equal(clg_ctx_finish(tctx), CLG_ERR_INDEX);
    assert_non_null(strstr(clg_last_error(), "accuracy"));
    assert_non_null(strstr(clg_last_error(), "3"));
    assert_clg_ok(clg_tensor_read(&ty, &y));
    assert_true(y == 0.5f);
    lab[0] = -1;
    assert_clg_ok(clg_tensor_write(&tl, lab));
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_ACCURACY, in, &ty, NULL));
    assert_int_equal(clg_ctx_finish(tctx), CLG_ERR_INDEX);
    assert_non_null(strstr(clg_last_error(), "-1"));
    assert_clg_ok(clg_ctx_finish(tctx)); /* flags were cleared */
    clg_tensor_free(&tx);
    clg_tensor_free(&tl);
    clg_tensor_free(&ty);
}

static void test_fill(void **s)
{
    (void)s;
    const clg_shape shapes[] = { SHAPE2(CLG_F32, 7, 33), SHAPE1(CLG_F32, 1031), SCALAR(CLG_F32),
                                 SHAPE1(CLG_I32, 1031), SHAPE3(CLG_I32, 1, 7, 1), SHAPE2(CLG_I32, 2, 3) };
    const float vals[] = { 2.5f, -1e-3f, 7.0f, -3.0f, 2.7f, -2.7f };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        op_case c = { .op = CLG_OP_FILL, .nin = 0, .attrs = clg_attrs_defaults() };
        c.attrs.shape = shapes[i];
        c.attrs.alpha = vals[i];
        EXACT(c);
        check_op_forward(tctx, &c, 300 + i);
    }
}

static void test_copy(void **s)
{
    (void)s;
    const clg_shape shapes[] = { SHAPE2(CLG_F32, 7, 33), SHAPE1(CLG_F32, 1031), SCALAR(CLG_F32),
                                 SHAPE2(CLG_I32, 33, 7) };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        op_case c = { .op = CLG_OP_COPY, .nin = 1, .attrs = clg_attrs_defaults() };
        c.in[0] = (in_spec){ .s = shapes[i], .kind = shapes[i].dtype == CLG_I32 ? IN_INDEX : IN_UNIFORM,
                             .lo = -1000, .hi = 1000 };
        EXACT(c);
        check_op_forward(tctx, &c, 400 + i);
    }
}

static void test_transpose(void **s)
{
    (void)s;
    const clg_shape shapes[] = { SHAPE2(CLG_F32, 1, 1),     SHAPE2(CLG_F32, 7, 33),   SHAPE2(CLG_F32, 33, 7),
                                 SHAPE2(CLG_F32, 1, 1031),  SHAPE2(CLG_F32, 1031, 3), SHAPE3(CLG_F32, 3, 33, 17),
                                 SHAPE4(CLG_F32, 2, 3, 7, 33), SHAPE2(CLG_I32, 33, 7) };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        op_case c = { .op = CLG_OP_TRANSPOSE, .nin = 1, .attrs = clg_attrs_defaults() };
        c.in[0] = (in_spec){ .s = shapes[i], .kind = shapes[i].dtype == CLG_I32 ? IN_INDEX : IN_UNIFORM,
                             .lo = -1000, .hi = 1000 };
        EXACT(c);
        check_op_forward(tctx, &c, 500 + i);
    }
    clg_shape out, in4 = SHAPE4(CLG_F32, 2, 3, 7, 33);
    assert_clg_ok(clg_op_infer(CLG_OP_TRANSPOSE, (const clg_shape *[]){ &in4 }, NULL, &out));
    assert_int_equal(out.ndim, 4);
    assert_int_equal(out.dim[0], 2);
    assert_int_equal(out.dim[1], 3);
    assert_int_equal(out.dim[2], 33);
    assert_int_equal(out.dim[3], 7);
}

static void test_bad_inputs(void **s)
{
    (void)s;
    clg_shape x = SHAPE2(CLG_F32, 4, 5), x3 = SHAPE3(CLG_F32, 2, 4, 5), v = SHAPE1(CLG_F32, 5),
              li = SHAPE1(CLG_I32, 4), lbad = SHAPE1(CLG_I32, 5), lf = SHAPE1(CLG_F32, 4), out;
    assert_int_equal(clg_op_infer(CLG_OP_ARGMAX, (const clg_shape *[]){ &x3 }, NULL, &out), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "argmax"));
    assert_non_null(strstr(clg_last_error(), "f32[2,4,5]"));
    assert_int_equal(clg_op_infer(CLG_OP_ARGMAX, (const clg_shape *[]){ &li }, NULL, &out), CLG_ERR_DTYPE);
    assert_int_equal(clg_op_infer(CLG_OP_ACCURACY, (const clg_shape *[]){ &x, &lbad }, NULL, &out),
                     CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "accuracy"));
    assert_non_null(strstr(clg_last_error(), "i32[5]"));
    assert_int_equal(clg_op_infer(CLG_OP_ACCURACY, (const clg_shape *[]){ &x, &lf }, NULL, &out),
                     CLG_ERR_DTYPE);
    assert_non_null(strstr(clg_last_error(), "accuracy"));
    assert_clg_ok(clg_op_infer(CLG_OP_ACCURACY, (const clg_shape *[]){ &x, &li }, NULL, &out));
    assert_int_equal(out.ndim, 0);
    assert_int_equal(clg_op_infer(CLG_OP_TRANSPOSE, (const clg_shape *[]){ &v }, NULL, &out), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "transpose"));
    clg_attrs a = clg_attrs_defaults();
    a.shape = SHAPE2(CLG_F32, 3, -1);
    assert_int_equal(clg_op_infer(CLG_OP_FILL, NULL, &a, &out), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "fill"));
    a.shape = SHAPE1(CLG_I32, 3);
    a.alpha = 1e10f;
    assert_int_equal(clg_op_infer(CLG_OP_FILL, NULL, &a, &out), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "fill"));
    /* copy into a tensor of another dtype */
    clg_tensor tf, ti;
    clg_shape si = SHAPE2(CLG_I32, 4, 5);
    assert_clg_ok(clg_tensor_new(tctx, &x, &tf));
    assert_clg_ok(clg_tensor_new(tctx, &si, &ti));
    assert_int_equal(clg_op_forward(tctx, CLG_OP_COPY, (const clg_tensor *[]){ &tf }, &ti, NULL), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "copy"));
    clg_tensor_free(&tf);
    clg_tensor_free(&ti);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argmax),   cmocka_unit_test(test_argmax_ties), cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_accuracy_labels), cmocka_unit_test(test_fill), cmocka_unit_test(test_copy),
        cmocka_unit_test(test_transpose), cmocka_unit_test(test_bad_inputs),
    };
    return clg_test_run_per_device("misc", tests, sizeof tests / sizeof tests[0]);
}
