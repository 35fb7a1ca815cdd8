/* harness.h — run a cmocka group once per OpenCL device, with the current device's ctx in tctx. */
#ifndef CLGRAD_TEST_HARNESS_H
#define CLGRAD_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clgrad/clgrad.h"

/* The ctx of the device the group is running on (NULL in device-less suites). */
extern clg_ctx *tctx;
extern const clg_device_info *tdev;

/* Run the tests once per selected device.  Devices come from every platform,
 * filtered by CLGRAD_TEST_DEVICES (comma-separated name substrings or P:D; a
 * token "!X" excludes what X matches) and by CLGRAD_TEST_SHARE (the same form:
 * the share of the devices that tests/meson.build gives one of a suite's tests).
 * Under CI=true, fewer than two devices is a failure (fewer than one when either
 * variable is set), so a silent skip cannot pass.  Returns the number of failed
 * tests (the process exit code). */
int clg_test_run_per_device(const char *suite, const struct CMUnitTest *tests, size_t n);

/* Run device-less tests once. */
int clg_test_run(const char *suite, const struct CMUnitTest *tests, size_t n);

/* Assert a status, printing clg_last_error() on mismatch. */
#define assert_clg_ok(expr) assert_clg_status((expr), CLG_OK)
#define assert_clg_status(expr, want)                                                              \
    do {                                                                                           \
        clg_status st_ = (expr);                                                                   \
        if (st_ != (want))                                                                         \
            fail_msg("%s returned %s, expected %s: %s", #expr, clg_status_name(st_),               \
                     clg_status_name(want), clg_last_error());                                     \
    } while (0)

/* A hang guard for tests of readers that must never block (FIFOs): on(1) ends the process with
 * a FAIL message after 10 s unless on(0) comes first. */
void clg_test_hang_guard(int on);

/* Is this device rusticl (slow launches, slow CLBlast)?  Tests use it to keep shapes small. */
int clg_test_is_rusticl(void);

/* Run each of the n test bodies with tctx's vector kernels off, then on (both kernel families of
 * the ops that have a CPU-style variant, whatever the device's default), then back to the default
 * (clg_ctx_set_vec_kernels). */
void clg_test_each_vec_kernels(void (*const *fns)(void **), size_t n, void **state);

/* Every parameter's values of g, concatenated in parameter order (malloc'ed, *n floats; the
 * caller frees): two graphs' parameters compare with one memcmp. */
float *clg_test_params(clg_graph *g, size_t *n);

#endif
