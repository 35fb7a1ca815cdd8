/* test_elementwise.c — element-wise ops vs the double reference and finite differences, per device. */
#include <string.h>

#include "harness.h"
#include "ref_ops.h"

static const int64_t sizes[] = { 1, 7, 33, 1031 };

static void unary_cases(clg_op op, in_kind kind)
{
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        op_case c = { .op = op, .nin = 1, .attrs = clg_attrs_default() };
        c.attrs.alpha = 0.75f;
        c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, sizes[i], 3), .kind = kind, .lo = kind == IN_UNIFORM ? -3 : 0.1, .hi = 3 };
        c.atol = 1e-5;
        c.rtol = 1e-5;
        check_op_forward(tctx, &c, 100 + i);
        check_op_backward(tctx, &c, 200 + i);
    }
}

static void test_relu(void **s) { (void)s; unary_cases(CLG_OP_RELU, IN_UNIFORM); }
static void test_gelu(void **s) { (void)s; unary_cases(CLG_OP_GELU, IN_UNIFORM); }
static void test_tanh(void **s) { (void)s; unary_cases(CLG_OP_TANH, IN_UNIFORM); }
static void test_sigmoid(void **s) { (void)s; unary_cases(CLG_OP_SIGMOID, IN_UNIFORM); }
static void test_exp(void **s) { (void)s; unary_cases(CLG_OP_EXP, IN_UNIFORM); }
static void test_log(void **s) { (void)s; unary_cases(CLG_OP_LOG, IN_POSITIVE); }
static void test_scale(void **s) { (void)s; unary_cases(CLG_OP_SCALE, IN_UNIFORM); }

static void test_bad_inputs(void **s)
{
    (void)s;
    clg_tensor x, y;
    clg_shape sx = SHAPE2(CLG_F32, 4, 5), sy = SHAPE2(CLG_F32, 5, 4);
    assert_clg_ok(clg_tensor_new(tctx, &sx, &x));
    assert_clg_ok(clg_tensor_new(tctx, &sy, &y));
    const clg_tensor *in[1] = { &x };
    assert_int_equal(clg_op_forward(tctx, CLG_OP_RELU, in, &y, NULL), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "relu"));
    assert_non_null(strstr(clg_last_error(), "f32[5,4]"));
    clg_tensor_free(&x);
    clg_tensor_free(&y);
}

static void test_zero_sized(void **s)
{
    (void)s;
    clg_tensor x, y;
    clg_shape sz = SHAPE2(CLG_F32, 0, 5);
    assert_clg_ok(clg_tensor_new(tctx, &sz, &x));
    assert_clg_ok(clg_tensor_new(tctx, &sz, &y));
    const clg_tensor *in[1] = { &x };
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_TANH, in, &y, NULL));
    assert_clg_ok(clg_ctx_finish(tctx));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu), cmocka_unit_test(test_gelu), cmocka_unit_test(test_tanh),
        cmocka_unit_test(test_sigmoid), cmocka_unit_test(test_exp), cmocka_unit_test(test_log),
        cmocka_unit_test(test_scale), cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_zero_sized),
    };
    return clg_test_run_per_device("elementwise", tests, sizeof tests / sizeof tests[0]);
}
