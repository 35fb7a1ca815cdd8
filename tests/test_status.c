/* test_status.c — status names, thread-local messages, shapes; no device needed. */
#include <string.h>

#include "harness.h"

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(clg_status_name(CLG_OK), "CLG_OK");
    assert_string_equal(clg_status_name(CLG_ERR_BUILD), "CLG_ERR_BUILD");
    assert_string_equal(clg_cl_error_name(-5), "CL_OUT_OF_RESOURCES");
    assert_string_equal(clg_cl_error_name(-11), "CL_BUILD_PROGRAM_FAILURE");
    assert_string_equal(clg_cl_error_name(12345), "CL_UNKNOWN_ERROR");
}

static void test_shape_helpers(void **state)
{
    (void)state;
    clg_shape s = clg_shape_make(CLG_F32, 2, (int64_t[]){ 128, 784 });
    assert_int_equal(clg_shape_numel(&s), 128 * 784);
    char buf[64];
    assert_string_equal(clg_shape_str(&s, buf, sizeof buf), "f32[128,784]");
    clg_shape sc = clg_shape_make(CLG_I32, 0, NULL);
    assert_int_equal(clg_shape_numel(&sc), 1);
    assert_string_equal(clg_shape_str(&sc, buf, sizeof buf), "i32[]");
    assert_false(clg_shape_equal(&s, &sc));
}

static void test_op_table(void **state)
{
    (void)state;
    assert_int_equal(clg_op_from_name("relu"), CLG_OP_RELU);
    assert_int_equal(clg_op_from_name("no_such_op"), CLG_OP_COUNT);
    assert_int_equal(clg_op_num_inputs(CLG_OP_MASKED_MSE), 3);
    assert_true(clg_op_has_backward(CLG_OP_RELU));
    for (int i = 0; i < CLG_OP_COUNT; i++)
        assert_int_equal(clg_op_from_name(clg_op_name((clg_op)i)), i);
}

static void test_infer_errors(void **state)
{
    (void)state;
    clg_shape si = clg_shape_make(CLG_I32, 1, (int64_t[]){ 4 });
    const clg_shape *in[1] = { &si };
    clg_shape out;
    assert_int_equal(clg_op_infer(CLG_OP_RELU, in, NULL, &out), CLG_ERR_DTYPE);
    assert_non_null(strstr(clg_last_error(), "relu"));
    assert_int_equal(clg_op_infer((clg_op)9999, in, NULL, &out), CLG_ERR_INVALID_ARG);
}

static int log_calls;
static void log_fn(clg_log_level lvl, const char *msg, void *user)
{
    (void)lvl;
    (void)msg;
    (void)user;
    log_calls++;
}

static void test_log_callback(void **state)
{
    (void)state;
    clg_set_log_callback(log_fn, NULL);
    clg_shape si = clg_shape_make(CLG_I32, 1, (int64_t[]){ 4 });
    const clg_shape *in[1] = { &si };
    clg_shape out;
    clg_op_infer(CLG_OP_RELU, in, NULL, &out);
    clg_set_log_callback(NULL, NULL);
    assert_true(log_calls > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names), cmocka_unit_test(test_shape_helpers),
        cmocka_unit_test(test_op_table), cmocka_unit_test(test_infer_errors),
        cmocka_unit_test(test_log_callback),
    };
    return clg_test_run("status", tests, sizeof tests / sizeof tests[0]);
}
