/* test_graph.c — tests of include/clgrad/graph.h. */
#include "harness.h"

static void test_placeholder(void **s) { (void)s; assert_true(1); }

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_placeholder) };
    return clg_test_run("graph", tests, sizeof tests / sizeof tests[0]);
}
