/* test_device.c — enumeration, selection specs and their errors, and a probe kernel per device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void test_list_and_select(void **s)
{
    (void)s;
    clg_device_info *l;
    int n;
    assert_clg_ok(clg_devices_list(&l, &n));
    assert_true(n >= 1);
    clg_device_info d;
    assert_clg_ok(clg_device_select("auto", &d));
    /* "cpu" and "gpu" pick a device of that type where the list has one, and otherwise fail
     * naming the spec and listing the devices (a GPU-only list, such as Oclgrind's, has no CPU) */
    const struct { const char *spec; clg_device_type type; } kinds[] = { { "cpu", CLG_DEVICE_CPU },
                                                                         { "gpu", CLG_DEVICE_GPU } };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        int have = 0;
        for (int i = 0; i < n; i++)
            have |= l[i].type == kinds[k].type;
        if (have) {
            assert_clg_ok(clg_device_select(kinds[k].spec, &d));
            assert_int_equal(d.type, kinds[k].type);
        } else {
            assert_int_equal(clg_device_select(kinds[k].spec, &d), CLG_ERR_DEVICE_NOT_FOUND);
            assert_non_null(strstr(clg_last_error(), kinds[k].spec));
            assert_non_null(strstr(clg_last_error(), "available devices"));
        }
    }
    char spec[32];
    snprintf(spec, sizeof spec, "%d:%d", l[n - 1].platform_index, l[n - 1].device_index);
    assert_clg_ok(clg_device_select(spec, &d));
    assert_string_equal(d.name, l[n - 1].name);
    /* a name substring, case-insensitive */
    char sub[8];
    snprintf(sub, sizeof sub, "%.4s", l[0].name);
    for (char *p = sub; *p; p++)
        *p = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : *p);
    assert_clg_ok(clg_device_select(sub, &d));
    clg_devices_free(l);
}

static void test_bad_spec_lists_devices(void **s)
{
    (void)s;
    clg_device_info d;
    assert_int_equal(clg_device_select("no-such-device-xyz", &d), CLG_ERR_DEVICE_NOT_FOUND);
    const char *m = clg_last_error();
    assert_non_null(strstr(m, "no-such-device-xyz"));
    assert_non_null(strstr(m, "available devices"));
    assert_non_null(strstr(m, tdev->name));
    assert_int_equal(clg_device_select("9:9", &d), CLG_ERR_DEVICE_NOT_FOUND);
}

static void test_env_device(void **s)
{
    (void)s;
    char spec[32];
    snprintf(spec, sizeof spec, "%d:%d", tdev->platform_index, tdev->device_index);
    setenv("CLGRAD_DEVICE", spec, 1);
    clg_device_info d;
    assert_clg_ok(clg_device_select(NULL, &d));
    assert_string_equal(d.name, tdev->name);
    unsetenv("CLGRAD_DEVICE");
}

static void test_device_record(void **s)
{
    (void)s;
    assert_true(strlen(tdev->name) > 0);
    assert_true(tdev->compute_units >= 1);
    assert_true(tdev->global_mem > 0);
    assert_true(tdev->max_work_group >= 1);
    assert_true(tdev->c_major >= 1);
}

static void test_probe_kernel(void **s)
{
    (void)s;
    enum { N = 1000 };
    float x[N], y[N], out[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)i;
        y[i] = 1.0f;
    }
    clg_shape sh = clg_shape_make(CLG_F32, 1, (int64_t[]){ N });
    clg_tensor tx, ty;
    assert_clg_ok(clg_tensor_new(tctx, &sh, &tx));
    assert_clg_ok(clg_tensor_new(tctx, &sh, &ty));
    assert_clg_ok(clg_tensor_write(&tx, x));
    assert_clg_ok(clg_tensor_write(&ty, y));
    /* scale via the op table too: y2 = 0.5 * x */
    clg_attrs a = clg_attrs_defaults();
    a.alpha = 0.5f;
    const clg_tensor *in[1] = { &tx };
    assert_clg_ok(clg_op_forward(tctx, CLG_OP_SCALE, in, &ty, &a));
    assert_clg_ok(clg_tensor_read(&ty, out));
    for (int i = 0; i < N; i++)
        assert_float_equal(out[i], 0.5f * (float)i, 0);
    clg_tensor_free(&tx);
    clg_tensor_free(&ty);
}

static void test_views_and_transfers(void **s)
{
    (void)s;
    clg_shape sh = clg_shape_make(CLG_F32, 1, (int64_t[]){ 10 });
    clg_tensor t, v;
    assert_clg_ok(clg_tensor_zeros(tctx, &sh, &t));
    clg_shape vs = clg_shape_make(CLG_F32, 2, (int64_t[]){ 2, 3 });
    assert_clg_ok(clg_tensor_view(&t, 4, &vs, &v));
    float six[6] = { 1, 2, 3, 4, 5, 6 }, all[10];
    assert_clg_ok(clg_tensor_write(&v, six));
    assert_clg_ok(clg_tensor_read(&t, all));
    float want[10] = { 0, 0, 0, 0, 1, 2, 3, 4, 5, 6 };
    assert_memory_equal(all, want, sizeof want);
    clg_shape big = clg_shape_make(CLG_F32, 1, (int64_t[]){ 7 });
    assert_int_equal(clg_tensor_view(&t, 4, &big, &v), CLG_ERR_SHAPE);
    clg_tensor_free(&t);
}

/* clg_tensor_copy: between buffers and between views of one buffer, as a reshape, on the driver's
 * copy and on the kernel_stores path (a copy kernel); bad pairs refused, nothing written. */
static void test_tensor_copy(void **s)
{
    (void)s;
    clg_ctx_options o = { .kernel_stores = 1 };
    clg_ctx *c2;
    assert_clg_ok(clg_ctx_create(tdev, &o, &c2));
    clg_ctx *cs[2] = { tctx, c2 };
    for (int k = 0; k < 2; k++) {
        clg_shape s40 = clg_shape_make(CLG_F32, 1, (int64_t[]){ 40 });
        clg_tensor a, b, va, vb, w;
        assert_clg_ok(clg_tensor_new(cs[k], &s40, &a));
        assert_clg_ok(clg_tensor_zeros(cs[k], &s40, &b));
        float h[40], got[40];
        for (int i = 0; i < 40; i++)
            h[i] = (float)i * 1.5f - 7.0f;
        assert_clg_ok(clg_tensor_write(&a, h));
        /* a [3, 5] view of a at 4 into a [15] view of b at 20 */
        clg_shape s35 = clg_shape_make(CLG_F32, 2, (int64_t[]){ 3, 5 });
        clg_shape s15 = clg_shape_make(CLG_F32, 1, (int64_t[]){ 15 });
        assert_clg_ok(clg_tensor_view(&a, 4, &s35, &va));
        assert_clg_ok(clg_tensor_view(&b, 20, &s15, &vb));
        assert_clg_ok(clg_tensor_copy(&vb, &va));
        assert_clg_ok(clg_tensor_read(&b, got));
        for (int i = 0; i < 40; i++)
            assert_float_equal(got[i], i >= 20 && i < 35 ? h[i - 16] : 0.0f, 0);
        /* within one buffer, ranges apart; the same range: nothing to do */
        assert_clg_ok(clg_tensor_view(&a, 25, &s15, &w));
        assert_clg_ok(clg_tensor_copy(&w, &va));
        assert_clg_ok(clg_tensor_copy(&va, &va));
        assert_clg_ok(clg_tensor_read(&a, got));
        for (int i = 0; i < 40; i++)
            assert_float_equal(got[i], i >= 25 ? h[i - 21] : h[i], 0);
        /* refused: overlapping ranges, another count, another type, another context, NULL */
        assert_clg_ok(clg_tensor_view(&a, 10, &s15, &w));
        assert_clg_status(clg_tensor_copy(&w, &va), CLG_ERR_INVALID_ARG);
        assert_non_null(strstr(clg_last_error(), "overlap"));
        assert_clg_status(clg_tensor_copy(&b, &va), CLG_ERR_SHAPE);
        assert_non_null(strstr(clg_last_error(), "f32[3,5] into f32[40]"));
        clg_tensor ib = b;
        ib.s.dtype = CLG_I32;
        assert_clg_status(clg_tensor_copy(&ib, &a), CLG_ERR_DTYPE);
        clg_tensor other;
        assert_clg_ok(clg_tensor_zeros(cs[1 - k], &s40, &other));
        assert_clg_status(clg_tensor_copy(&other, &a), CLG_ERR_INVALID_ARG);
        assert_non_null(strstr(clg_last_error(), "two contexts"));
        assert_clg_status(clg_tensor_copy(NULL, &a), CLG_ERR_INVALID_ARG);
        assert_clg_ok(clg_tensor_read(&a, got));
        for (int i = 0; i < 40; i++)
            assert_float_equal(got[i], i >= 25 ? h[i - 21] : h[i], 0);
        clg_tensor_free(&other);
        clg_tensor_free(&a);
        clg_tensor_free(&b);
    }
    clg_ctx_destroy(c2);
}

/* The stores Oclgrind needs (clg_ctx_options.kernel_stores: fills, copies and partial writes by
 * kernel, new buffers NaN-filled) give the same bits as the driver's commands on any device. */
static void test_kernel_stores(void **s)
{
    (void)s;
    clg_ctx_options o = { .kernel_stores = 1 };
    clg_ctx *c2;
    assert_clg_ok(clg_ctx_create(tdev, &o, &c2));
    clg_ctx *cs[2] = { tctx, c2 };
    float got[2][300];
    for (int k = 0; k < 2; k++) {
        clg_shape sh = clg_shape_make(CLG_F32, 1, (int64_t[]){ 300 });
        clg_tensor t, v, u;
        assert_clg_ok(clg_tensor_zeros(cs[k], &sh, &t));
        /* a view in the middle, written from the host, then scaled into another view */
        clg_shape vs = clg_shape_make(CLG_F32, 1, (int64_t[]){ 97 });
        assert_clg_ok(clg_tensor_view(&t, 33, &vs, &v));
        assert_clg_ok(clg_tensor_view(&t, 170, &vs, &u));
        float h[97];
        for (int i = 0; i < 97; i++)
            h[i] = (float)i - 40.5f;
        assert_clg_ok(clg_tensor_write(&v, h));
        clg_attrs a = clg_attrs_defaults();
        a.alpha = 0.25f;
        const clg_tensor *in[1] = { &v };
        assert_clg_ok(clg_op_forward(cs[k], CLG_OP_SCALE, in, &u, &a));
        assert_clg_ok(clg_ctx_finish(cs[k]));
        assert_clg_ok(clg_tensor_read(&t, got[k]));
        clg_tensor_free(&t);
    }
    assert_memory_equal(got[0], got[1], sizeof got[0]);
    for (int i = 0; i < 300; i++) {
        float want = i >= 33 && i < 130 ? (float)(i - 33) - 40.5f : i >= 170 && i < 267 ? 0.25f * ((float)(i - 170) - 40.5f) : 0.0f;
        assert_float_equal(got[1][i], want, 0);
    }
    clg_ctx_destroy(c2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_and_select), cmocka_unit_test(test_bad_spec_lists_devices),
        cmocka_unit_test(test_env_device), cmocka_unit_test(test_device_record),
        cmocka_unit_test(test_probe_kernel), cmocka_unit_test(test_views_and_transfers),
        cmocka_unit_test(test_kernel_stores), cmocka_unit_test(test_tensor_copy),
    };
    return clg_test_run_per_device("device", tests, sizeof tests / sizeof tests[0]);
}
