/* test_elementwise.c — element-wise ops vs the double reference and finite differences, per device. */
/* Tolerances: unary forward atol 1e-5 rtol 1e-5; binary forward atol 1e-5 rtol 1e-4 (defaults);
 * backward via check_op_backward gtol 2e-3 (default: |dev - fd| <= gtol * max(1, max|fd|)). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref_ops.h"

static const int64_t sizes[] = { 1, 7, 33, 1031 };

static void unary_cases(clg_op op, in_kind kind)
{
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        op_case c = { .op = op, .nin = 1, .attrs = clg_attrs_defaults() };
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

/* Binary cases: {a shape, b shape}. */
static void binary_cases(clg_op op)
{
    const clg_shape cases[][2] = {
        { SHAPE2(CLG_F32, 7, 33), SHAPE2(CLG_F32, 7, 33) },          /* same shape */
        { SHAPE1(CLG_F32, 1031), SHAPE1(CLG_F32, 1031) },
        { SHAPE2(CLG_F32, 33, 7), SHAPE1(CLG_F32, 7) },              /* bias row [N,C] + [C] */
        { SHAPE2(CLG_F32, 7, 1031), SHAPE1(CLG_F32, 1031) },        /* wide rows: 2-D fast path */
        { SHAPE1(CLG_F32, 100), SHAPE3(CLG_F32, 3, 1, 100) },
        { SHAPE2(CLG_F32, 1031, 1), SHAPE2(CLG_F32, 1031, 7) },      /* column [N,1] with [N,C] */
        { SHAPE2(CLG_F32, 33, 7), SHAPE2(CLG_F32, 33, 1) },
        { SHAPE1(CLG_F32, 1), SHAPE2(CLG_F32, 7, 33) },              /* scalar-like [1] */
        { SHAPE2(CLG_F32, 1031, 3), SHAPE1(CLG_F32, 1) },
        { SHAPE1(CLG_F32, 1), SHAPE1(CLG_F32, 1) },
        { SCALAR(CLG_F32), SHAPE3(CLG_F32, 2, 1, 7) },
        { SHAPE3(CLG_F32, 7, 1, 33), SHAPE2(CLG_F32, 3, 1) },        /* both sides broadcast */
        { SHAPE4(CLG_F32, 2, 1, 3, 1), SHAPE4(CLG_F32, 1, 7, 1, 5) },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        op_case c = { .op = op, .nin = 2, .attrs = clg_attrs_defaults() };
        c.in[0] = (in_spec){ .s = cases[i][0], .kind = IN_UNIFORM, .lo = -2, .hi = 2 };
        c.in[1] = (in_spec){ .s = cases[i][1], .kind = IN_UNIFORM, .lo = -2, .hi = 2 };
        check_op_forward(tctx, &c, 300 + i);
        check_op_backward(tctx, &c, 400 + i);
    }
}

static void test_add(void **s) { (void)s; binary_cases(CLG_OP_ADD); }
static void test_sub(void **s) { (void)s; binary_cases(CLG_OP_SUB); }
static void test_mul(void **s) { (void)s; binary_cases(CLG_OP_MUL); }

/* A long broadcast extent: the bias gradient sums 4099 rows. */
static void test_bias_grad_long(void **s)
{
    (void)s;
    op_case c = { .op = CLG_OP_ADD, .nin = 2, .attrs = clg_attrs_defaults() };
    c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, 4099, 2), .no_grad = 1 };
    c.in[1] = (in_spec){ .s = SHAPE1(CLG_F32, 2) };
    check_op_backward(tctx, &c, 500);
}

/* bias_act: every activation over shapes with 1, 7, 33 and >1000 rows/cols; rows > 256 take the
 * two-pass bias gradient.  x avoids |v| < 0.05 near relu's kink only statistically: FD steps are 1e-6. */
static void test_bias_act(void **s)
{
    (void)s;
    const int64_t shapes[][2] = { { 1, 1 }, { 7, 33 }, { 33, 7 }, { 1031, 3 }, { 3, 1031 }, { 300, 5 } };
    for (int act = 0; act < CLG_ACT_COUNT; act++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            op_case c = { .op = CLG_OP_BIAS_ACT, .nin = 2, .attrs = clg_attrs_defaults() };
            c.attrs.act = act;
            c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, shapes[i][0], shapes[i][1]), .lo = -2, .hi = 2 };
            c.in[1] = (in_spec){ .s = SHAPE1(CLG_F32, shapes[i][1]), .lo = -1, .hi = 1 };
            check_op_forward(tctx, &c, 600 + 10 * act + i);
            check_op_backward(tctx, &c, 700 + 10 * act + i);
        }
    /* 1-D x (one row), 3-D x (rows over the two leading axes) */
    op_case c = { .op = CLG_OP_BIAS_ACT, .nin = 2, .attrs = clg_attrs_defaults() };
    c.attrs.act = CLG_ACT_TANH;
    c.in[0] = (in_spec){ .s = SHAPE1(CLG_F32, 33) };
    c.in[1] = (in_spec){ .s = SHAPE1(CLG_F32, 33) };
    check_op_forward(tctx, &c, 800);
    check_op_backward(tctx, &c, 801);
    c.in[0] = (in_spec){ .s = SHAPE3(CLG_F32, 3, 7, 5) };
    c.in[1] = (in_spec){ .s = SHAPE1(CLG_F32, 5) };
    c.attrs.act = CLG_ACT_SIGMOID;
    check_op_forward(tctx, &c, 802);
    check_op_backward(tctx, &c, 803);
}

/* The bias gradient of a long column (4099 rows: 65 partial blocks), with and without dx. */
static void test_bias_act_long(void **s)
{
    (void)s;
    op_case c = { .op = CLG_OP_BIAS_ACT, .nin = 2, .attrs = clg_attrs_defaults() };
    c.attrs.act = CLG_ACT_GELU;
    c.in[0] = (in_spec){ .s = SHAPE2(CLG_F32, 4099, 6), .no_grad = 1 };
    c.in[1] = (in_spec){ .s = SHAPE1(CLG_F32, 6) };
    check_op_backward(tctx, &c, 900);
    c.in[0].no_grad = 0;
    c.in[1].no_grad = 1;
    check_op_backward(tctx, &c, 901);
}

/* Same results as add then the activation (forward bit-identical, gradients within tolerance). */
static void test_bias_act_matches_unfused(void **s)
{
    (void)s;
    const clg_op acts[] = { CLG_OP_COUNT, CLG_OP_RELU, CLG_OP_GELU, CLG_OP_TANH, CLG_OP_SIGMOID };
    clg_shape sx = SHAPE2(CLG_F32, 300, 37), sb = SHAPE1(CLG_F32, 37);
    int64_t n = 300 * 37;
    ref_tensor rx, rb, rg;
    ref_alloc(&rx, &sx);
    ref_alloc(&rb, &sb);
    ref_alloc(&rg, &sx);
    trng g = { 77 };
    for (int64_t i = 0; i < n; i++) {
        rx.d[i] = (float)(4 * trng_uniform(&g) - 2);
        rg.d[i] = (float)(2 * trng_uniform(&g) - 1);
    }
    for (int i = 0; i < 37; i++)
        rb.d[i] = (float)(2 * trng_uniform(&g) - 1);
    clg_tensor x, b, gy, z, y1, y2, gz, gx1, gb1, gx2, gb2;
    ref_upload(tctx, &rx, &x);
    ref_upload(tctx, &rb, &b);
    ref_upload(tctx, &rg, &gy);
    assert_clg_ok(clg_tensor_new(tctx, &sx, &z));
    assert_clg_ok(clg_tensor_new(tctx, &sx, &y1));
    assert_clg_ok(clg_tensor_new(tctx, &sx, &y2));
    assert_clg_ok(clg_tensor_new(tctx, &sx, &gz));
    assert_clg_ok(clg_tensor_new(tctx, &sx, &gx1));
    assert_clg_ok(clg_tensor_new(tctx, &sx, &gx2));
    assert_clg_ok(clg_tensor_new(tctx, &sb, &gb1));
    assert_clg_ok(clg_tensor_new(tctx, &sb, &gb2));
    for (int k = 0; k < 5; k++) {
        clg_attrs a = clg_attrs_defaults();
        a.act = k;
        const clg_tensor *xb[2] = { &x, &b };
        assert_clg_ok(clg_op_forward(tctx, CLG_OP_ADD, xb, k ? &z : &y1, NULL));
        if (k)
            assert_clg_ok(clg_op_forward(tctx, acts[k], (const clg_tensor *[]){ &z }, &y1, NULL));
        assert_clg_ok(clg_op_forward(tctx, CLG_OP_BIAS_ACT, xb, &y2, &a));
        if (k)
            assert_clg_ok(clg_op_backward(tctx, acts[k], (const clg_tensor *[]){ &z }, &y1, &gy,
                                          (clg_tensor *[]){ &gz }, NULL, 0));
        assert_clg_ok(clg_op_backward(tctx, CLG_OP_ADD, xb, k ? &z : &y1, k ? &gz : &gy,
                                      (clg_tensor *[]){ &gx1, &gb1 }, NULL, 0));
        assert_clg_ok(clg_op_backward(tctx, CLG_OP_BIAS_ACT, xb, &y2, &gy, (clg_tensor *[]){ &gx2, &gb2 }, &a, 0));
        ref_tensor a1, a2, dx1, dx2, db1, db2;
        ref_download(&y1, &a1);
        ref_download(&y2, &a2);
        ref_download(&gx1, &dx1);
        ref_download(&gx2, &dx2);
        ref_download(&gb1, &db1);
        ref_download(&gb2, &db2);
        for (int64_t i = 0; i < n; i++) {
            if (a1.d[i] != a2.d[i])
                fail_msg("bias_act act %d forward [%lld]: %.9g, add+act %.9g", k, (long long)i, a2.d[i], a1.d[i]);
            if (dx1.d[i] != dx2.d[i])
                fail_msg("bias_act act %d dx [%lld]: %.9g, add+act %.9g", k, (long long)i, dx2.d[i], dx1.d[i]);
        }
        for (int i = 0; i < 37; i++)
            if (!(fabs(db1.d[i] - db2.d[i]) <= 1e-5 * (1 + fabs(db1.d[i]))))
                fail_msg("bias_act act %d db [%d]: %.9g, add+act %.9g", k, i, db2.d[i], db1.d[i]);
        ref_free(&a1);
        ref_free(&a2);
        ref_free(&dx1);
        ref_free(&dx2);
        ref_free(&db1);
        ref_free(&db2);
    }
    clg_tensor *all[] = { &x, &b, &gy, &z, &y1, &y2, &gz, &gx1, &gb1, &gx2, &gb2 };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        clg_tensor_free(all[i]);
    ref_free(&rx);
    ref_free(&rb);
    ref_free(&rg);
}

/* Both kernel families on every device (the default picks one per device type):
 * CLGRAD_VEC_KERNELS=0 (a work-item per element; 2-D bias_act) and =1 (float16 in groups of one). */
static void test_vec_styles(void **s)
{
    void (*const fns[])(void **) = { test_relu, test_exp, test_log, test_scale, test_bias_act, test_bias_act_long,
                                     test_bias_act_matches_unfused };
    clg_test_each_vec_kernels(fns, sizeof fns / sizeof fns[0], s);
}

static void test_bias_act_bad(void **s)
{
    (void)s;
    clg_shape x = SHAPE2(CLG_F32, 4, 5), b3 = SHAPE1(CLG_F32, 3), b2d = SHAPE2(CLG_F32, 1, 5), bi = SHAPE1(CLG_I32, 5),
              b5 = SHAPE1(CLG_F32, 5), out;
    clg_attrs a = clg_attrs_defaults();
    assert_int_equal(clg_op_infer(CLG_OP_BIAS_ACT, (const clg_shape *[]){ &x, &b3 }, &a, &out), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "bias_act"));
    assert_non_null(strstr(clg_last_error(), "f32[4,5]"));
    assert_non_null(strstr(clg_last_error(), "f32[3]"));
    assert_int_equal(clg_op_infer(CLG_OP_BIAS_ACT, (const clg_shape *[]){ &x, &b2d }, &a, &out), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "f32[1,5]"));
    assert_int_equal(clg_op_infer(CLG_OP_BIAS_ACT, (const clg_shape *[]){ &x, &bi }, &a, &out), CLG_ERR_DTYPE);
    assert_non_null(strstr(clg_last_error(), "bias_act"));
    assert_non_null(strstr(clg_last_error(), "i32"));
    a.act = CLG_ACT_COUNT;
    assert_int_equal(clg_op_infer(CLG_OP_BIAS_ACT, (const clg_shape *[]){ &x, &b5 }, &a, &out), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "bias_act: unknown activation 5"));
    a.act = -1;
    assert_int_equal(clg_op_infer(CLG_OP_BIAS_ACT, (const clg_shape *[]){ &x, &b5 }, &a, &out), CLG_ERR_INVALID_ARG);
    a.act = CLG_ACT_RELU;
    assert_clg_ok(clg_op_infer(CLG_OP_BIAS_ACT, (const clg_shape *[]){ &x, &b5 }, &a, &out));
    assert_true(clg_shape_equal(&out, &x));
}

static void test_binary_bad(void **s)
{
    (void)s;
    clg_shape a = SHAPE2(CLG_F32, 4, 5), b = SHAPE1(CLG_F32, 3), out;
    const clg_shape *in[2] = { &a, &b };
    assert_int_equal(clg_op_infer(CLG_OP_ADD, in, NULL, &out), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "add"));
    assert_non_null(strstr(clg_last_error(), "f32[4,5]"));
    assert_non_null(strstr(clg_last_error(), "f32[3]"));
    clg_shape c = SHAPE3(CLG_F32, 2, 3, 5), d = SHAPE3(CLG_F32, 3, 3, 5);
    const clg_shape *in2[2] = { &c, &d };
    assert_int_equal(clg_op_infer(CLG_OP_MUL, in2, NULL, &out), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "mul"));
    clg_shape e = SHAPE2(CLG_I32, 4, 5);
    const clg_shape *in3[2] = { &a, &e };
    assert_int_equal(clg_op_infer(CLG_OP_SUB, in3, NULL, &out), CLG_ERR_DTYPE);
    assert_non_null(strstr(clg_last_error(), "sub"));
    assert_non_null(strstr(clg_last_error(), "i32"));
    /* an output of the wrong (un-broadcast) shape is rejected by forward */
    clg_tensor ta, tb, ty;
    clg_shape sb = SHAPE1(CLG_F32, 5);
    assert_clg_ok(clg_tensor_new(tctx, &a, &ta));
    assert_clg_ok(clg_tensor_new(tctx, &sb, &tb));
    assert_clg_ok(clg_tensor_new(tctx, &sb, &ty));
    assert_int_equal(clg_op_forward(tctx, CLG_OP_ADD, (const clg_tensor *[]){ &ta, &tb }, &ty, NULL),
                     CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "f32[4,5]"));
    clg_tensor_free(&ta);
    clg_tensor_free(&tb);
    clg_tensor_free(&ty);
}

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
        cmocka_unit_test(test_scale), cmocka_unit_test(test_add), cmocka_unit_test(test_sub),
        cmocka_unit_test(test_mul), cmocka_unit_test(test_bias_grad_long), cmocka_unit_test(test_binary_bad),
        cmocka_unit_test(test_bad_inputs),     cmocka_unit_test(test_bias_act),
        cmocka_unit_test(test_bias_act_long),  cmocka_unit_test(test_bias_act_matches_unfused),
        cmocka_unit_test(test_vec_styles), cmocka_unit_test(test_bias_act_bad),
        cmocka_unit_test(test_zero_sized),
    };
    return clg_test_run_per_device("elementwise", tests, sizeof tests / sizeof tests[0]);
}
