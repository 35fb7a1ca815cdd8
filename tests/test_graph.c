/* test_graph.c — the graph runtime per device: building errors, autodiff vs finite differences, memory plan, runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "ref_ops.h"

/* ---- helpers ------------------------------------------------------------------------------------ */

/* An op is in this build unless its shape inference says CLG_ERR_UNSUPPORTED. */
static int op_available(clg_op op)
{
    clg_shape s = SHAPE2(CLG_F32, 2, 2);
    const clg_shape *in[4] = { &s, &s, &s, &s };
    clg_shape out;
    clg_attrs a = clg_attrs_defaults();
    return clg_op_infer(op, in, &a, &out) != CLG_ERR_UNSUPPORTED;
}

static int optim_available(clg_optim_kind kind)
{
    clg_shape s = SHAPE1(CLG_F32, 1);
    clg_tensor p, gr, m, v;
    assert_clg_ok(clg_tensor_zeros(tctx, &s, &p));
    assert_clg_ok(clg_tensor_zeros(tctx, &s, &gr));
    assert_clg_ok(clg_tensor_zeros(tctx, &s, &m));
    assert_clg_ok(clg_tensor_zeros(tctx, &s, &v));
    clg_status st = kind == CLG_OPTIM_SGD ? clg_sgd_update(tctx, &p, &gr, &m, 0.1f, 0.9f, 0.0f)
                                          : clg_adam_update(tctx, &p, &gr, &m, &v, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f,
                                                            kind == CLG_OPTIM_ADAMW, 1);
    assert_clg_ok(clg_ctx_finish(tctx));
    clg_tensor_free(&p);
    clg_tensor_free(&gr);
    clg_tensor_free(&m);
    clg_tensor_free(&v);
    return st != CLG_ERR_UNSUPPORTED;
}

static int skip_unless_ops(const clg_op *ops, int n)
{
    for (int i = 0; i < n; i++)
        if (!op_available(ops[i])) {
            print_message("  [ skipped: op %s is not in this build yet ]\n", clg_op_name(ops[i]));
            return 1;
        }
    return 0;
}

/* Double host value and derivative of a unary op. */
static double host_unary(clg_op op, float alpha, double x, double *dx)
{
    *dx = 0;
    const double k = sqrt(2.0 / M_PI);
    switch (op) {
    case CLG_OP_TANH: { double t = tanh(x); *dx = 1 - t * t; return t; }
    case CLG_OP_SIGMOID: { double s = 1 / (1 + exp(-x)); *dx = s * (1 - s); return s; }
    case CLG_OP_EXP: *dx = exp(x); return exp(x);
    case CLG_OP_LOG: *dx = 1 / x; return log(x);
    case CLG_OP_RELU: *dx = x > 0 ? 1 : 0; return x > 0 ? x : 0;
    case CLG_OP_SCALE: *dx = alpha; return alpha * x;
    case CLG_OP_GELU: {
        double u = k * (x + 0.044715 * x * x * x), t = tanh(u);
        *dx = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
        return 0.5 * x * (1 + t);
    }
    default: fail_msg("host_unary: op %s", clg_op_name(op)); return 0;
    }
}

/* Append a unary op node; returns its id. */
static int unary(clg_graph *g, clg_op op, int x, float alpha)
{
    clg_attrs a = clg_attrs_defaults();
    a.alpha = alpha;
    int id = -1;
    assert_clg_ok(clg_graph_op(g, op, (int[]){ x }, 1, &a, &id));
    return id;
}

static int binary(clg_graph *g, clg_op op, int x, int y)
{
    int id = -1;
    assert_clg_ok(clg_graph_op(g, op, (int[]){ x, y }, 2, NULL, &id));
    return id;
}

static void fill_uniform(float *v, size_t n, double lo, double hi, uint64_t seed)
{
    trng r = { seed };
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(lo + (hi - lo) * trng_uniform(&r));
}

/* Loss (sum of the loss node's elements, in double) after a forward. */
static double graph_loss(clg_graph *g, int loss, size_t n)
{
    float *v = malloc(sizeof *v * (n ? n : 1));
    assert_non_null(v);
    assert_clg_ok(clg_graph_forward(g));
    assert_clg_ok(clg_graph_read(g, loss, v));
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    free(v);
    return s;
}

/* Central finite differences of the whole loss for up to max_fd elements of every trainable param,
 * compared with the gradients the last step left: |g - fd| <= tol * max(1, |fd|). */
static void check_param_grads_fd(clg_graph *g, int loss, double h, double tol, int max_fd)
{
    clg_shape ls;
    assert_clg_ok(clg_graph_node_shape(g, loss, &ls));
    size_t ln = (size_t)clg_shape_numel(&ls);
    for (int p = 0; p < clg_graph_param_count(g); p++) {
        int id = clg_graph_param_id(g, p);
        clg_shape s;
        assert_clg_ok(clg_graph_param_shape(g, p, &s));
        size_t n = (size_t)clg_shape_numel(&s);
        float *val = malloc(sizeof *val * n), *grad = malloc(sizeof *grad * n);
        assert_non_null(val);
        assert_non_null(grad);
        assert_clg_ok(clg_graph_param_read(g, p, val));
        assert_clg_ok(clg_graph_grad_read(g, id, grad));
        size_t stride = n > (size_t)max_fd ? n / (size_t)max_fd : 1;
        for (size_t i = 0; i < n; i += stride) {
            float keep = val[i];
            val[i] = (float)(keep + h);
            double hp = (double)val[i] - keep;
            assert_clg_ok(clg_graph_param_write(g, p, val));
            double lp = graph_loss(g, loss, ln);
            val[i] = (float)(keep - h);
            double hm = keep - (double)val[i];
            assert_clg_ok(clg_graph_param_write(g, p, val));
            double lm = graph_loss(g, loss, ln);
            val[i] = keep;
            double fd = (lp - lm) / (hp + hm);
            if (fabs(grad[i] - fd) > tol * fmax(1.0, fabs(fd)))
                fail_msg("param %s[%zu]: gradient %.7g, finite difference %.7g", clg_graph_param_name(g, p), i,
                         grad[i], fd);
        }
        assert_clg_ok(clg_graph_param_write(g, p, val));
        free(val);
        free(grad);
    }
}

/* ---- building ----------------------------------------------------------------------------------- */

static void test_build_errors(void **s)
{
    (void)s;
    clg_graph *g;
    assert_clg_ok(clg_graph_create(tctx, &g));
    int x, lab, id = -7;
    clg_shape sx = SHAPE2(CLG_F32, 4, 5), sl = SHAPE1(CLG_I32, 4);
    assert_clg_ok(clg_graph_input(g, "x", &sx, &x));
    assert_clg_ok(clg_graph_input(g, "labels", &sl, &lab));

    assert_clg_status(clg_graph_op(g, CLG_OP_RELU, (int[]){ lab }, 1, NULL, &id), CLG_ERR_DTYPE);
    assert_non_null(strstr(clg_last_error(), "relu"));
    assert_non_null(strstr(clg_last_error(), "labels"));
    assert_non_null(strstr(clg_last_error(), "i32"));
    assert_int_equal(id, -7);

    assert_clg_status(clg_graph_op(g, CLG_OP_RELU, (int[]){ x, x }, 2, NULL, &id), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "clg_graph_op(relu): 2 inputs given, the op takes 1"));
    assert_clg_status(clg_graph_op(g, CLG_OP_TANH, (int[]){ 99 }, 1, NULL, &id), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "node id 99"));
    assert_clg_status(clg_graph_input(g, "x", &sx, &id), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "\"x\" is already used"));

    clg_shape bad = SHAPE2(CLG_F32, 3, -2), si = SHAPE1(CLG_I32, 3);
    assert_clg_status(clg_graph_param(g, "w", &bad, NULL, 0, &id), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_last_error(), "negative dimension -2"));
    assert_clg_status(clg_graph_param(g, "w", &si, NULL, 0, &id), CLG_ERR_DTYPE);
    assert_non_null(strstr(clg_last_error(), "parameters must be f32"));
    clg_init un = { .kind = CLG_INIT_UNIFORM, .a = 1, .b = 0 };
    assert_clg_status(clg_graph_param(g, "w", &sx, &un, 0, &id), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "a <= b"));

    assert_clg_status(clg_graph_set_loss(g, lab), CLG_ERR_DTYPE);
    assert_non_null(strstr(clg_last_error(), "labels"));

    /* A real shape mismatch needs a binary op: x·x with x [4,5]. */
    clg_status st = clg_graph_op(g, CLG_OP_MATMUL, (int[]){ x, x }, 2, NULL, &id);
    if (op_available(CLG_OP_MATMUL)) {
        assert_int_equal(st, CLG_ERR_SHAPE);
        assert_non_null(strstr(clg_last_error(), "matmul"));
        assert_non_null(strstr(clg_last_error(), "f32[4,5]"));
    } else {
        assert_int_equal(st, CLG_ERR_UNSUPPORTED);
        assert_non_null(strstr(clg_last_error(), "matmul"));
    }
    assert_int_equal(clg_graph_node_count(g), 2);

    float loss;
    assert_clg_status(clg_graph_step(g, &loss), CLG_ERR_STATE);
    assert_non_null(strstr(clg_last_error(), "plan"));
    assert_clg_status(clg_graph_plan(g, CLG_PLAN_TRAIN), CLG_ERR_STATE);
    assert_non_null(strstr(clg_last_error(), "loss"));

    int y = unary(g, CLG_OP_TANH, x, 1);
    assert_string_equal(clg_graph_node_name(g, y), "tanh_2");
    assert_clg_ok(clg_graph_set_name(g, y, "hidden"));
    assert_int_equal(clg_graph_find(g, "hidden"), y);
    assert_clg_status(clg_graph_set_name(g, y, "labels"), CLG_ERR_INVALID_ARG);
    assert_clg_status(clg_graph_set_input(g, y, &loss), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "not an input"));
    clg_graph_destroy(g);
}

/* ---- autodiff ------------------------------------------------------------------------------------ */

static const int64_t sizes[] = { 1, 7, 33, 1031 };

/* p -> tanh -> gelu -> exp -> scale(0.5) = loss (non-scalar: the sum), plus a dead branch sigmoid(tanh). */
static void test_autodiff_chain(void **s)
{
    (void)s;
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        int64_t n = sizes[c];
        clg_graph *g;
        assert_clg_ok(clg_graph_create(tctx, &g));
        clg_graph_set_seed(g, 11 + c);
        clg_shape sp = SHAPE1(CLG_F32, n);
        clg_init init = { .kind = CLG_INIT_UNIFORM, .a = -1.5f, .b = 1.5f };
        int p, a, b, e, loss, dead;
        assert_clg_ok(clg_graph_param(g, "p", &sp, &init, 0, &p));
        a = unary(g, CLG_OP_TANH, p, 1);
        b = unary(g, CLG_OP_GELU, a, 1);
        e = unary(g, CLG_OP_EXP, b, 1);
        loss = unary(g, CLG_OP_SCALE, e, 0.5f);
        dead = unary(g, CLG_OP_SIGMOID, a, 1);
        assert_clg_ok(clg_graph_set_loss(g, loss));
        assert_clg_ok(clg_graph_plan(g, CLG_PLAN_TRAIN));

        clg_graph_stats st0, st1;
        assert_clg_ok(clg_graph_stats_get(g, &st0));
        assert_int_equal(st0.grad_buffers, 5); /* p, tanh, gelu, exp, scale — not the sigmoid branch */
        float lossv;
        assert_clg_ok(clg_graph_step(g, &lossv));
        assert_clg_ok(clg_graph_stats_get(g, &st1));
        assert_int_equal(st1.launches - st0.launches, 5 + 4); /* 5 forward, 4 backward */

        float *pv = malloc(sizeof *pv * (size_t)n), *gv = malloc(sizeof *gv * (size_t)n);
        float *dv = malloc(sizeof *dv * (size_t)n);
        assert_clg_ok(clg_graph_param_read(g, 0, pv));
        assert_clg_ok(clg_graph_grad_read(g, p, gv));
        assert_clg_ok(clg_graph_read(g, dead, dv));
        double want = 0;
        for (int64_t i = 0; i < n; i++) {
            double d1 = 0, d2 = 0, d3 = 0, d4 = 0, d5 = 0;
            double v = host_unary(CLG_OP_TANH, 1, pv[i], &d1);
            double sg = host_unary(CLG_OP_SIGMOID, 1, v, &d5);
            v = host_unary(CLG_OP_GELU, 1, v, &d2);
            v = host_unary(CLG_OP_EXP, 1, v, &d3);
            v = host_unary(CLG_OP_SCALE, 0.5f, v, &d4);
            want += v;
            double gw = d1 * d2 * d3 * d4;
            if (fabs(gv[i] - gw) > 1e-5 + 1e-4 * fabs(gw))
                fail_msg("n=%lld: grad[%lld] = %.7g, want %.7g", (long long)n, (long long)i, gv[i], gw);
            if (fabs(dv[i] - sg) > 1e-5)
                fail_msg("n=%lld: sigmoid[%lld] = %.7g, want %.7g", (long long)n, (long long)i, dv[i], sg);
        }
        assert_true(fabs(lossv - want) <= 1e-5 * fmax(1, fabs(want)));
        check_param_grads_fd(g, loss, 1e-2, 2e-3, 5);
        free(pv);
        free(gv);
        free(dv);
        clg_graph_destroy(g);
    }
}

/* Constants: loss = sum((p - c)^2) with c an f32 const, and an i32 const as cross-entropy labels.
 * A const keeps its values (readable), gets no gradient, and p's gradient is 2 (p - c). */
static void test_const(void **s)
{
    (void)s;
    enum { N = 37 };
    float cv[N], pv[N], gv[N], back[N];
    for (int i = 0; i < N; i++)
        cv[i] = (float)i * 0.25f - 3.0f;
    clg_graph *g;
    assert_clg_ok(clg_graph_create(tctx, &g));
    clg_shape sn = SHAPE1(CLG_F32, N);
    clg_init init = { .kind = CLG_INIT_UNIFORM, .a = -1.0f, .b = 1.0f };
    int p, c, bad;
    assert_clg_ok(clg_graph_param(g, "p", &sn, &init, 0, &p));
    assert_int_equal(clg_graph_const(g, "nodata", &sn, NULL, &bad), CLG_ERR_INVALID_ARG);
    assert_clg_ok(clg_graph_const(g, "c", &sn, cv, &c));
    int d = binary(g, CLG_OP_SUB, p, c), sq = binary(g, CLG_OP_MUL, d, d);
    int loss = unary(g, CLG_OP_SUM, sq, 1);
    assert_clg_ok(clg_graph_set_loss(g, loss));
    assert_clg_ok(clg_graph_plan(g, CLG_PLAN_TRAIN));
    float lv;
    assert_clg_ok(clg_graph_step(g, &lv));
    assert_clg_ok(clg_graph_read(g, c, back));
    assert_memory_equal(back, cv, sizeof cv);
    assert_int_equal(clg_graph_grad_read(g, c, gv), CLG_ERR_INVALID_ARG);
    assert_clg_ok(clg_graph_param_read(g, 0, pv));
    assert_clg_ok(clg_graph_grad_read(g, p, gv));
    double want = 0;
    for (int i = 0; i < N; i++) {
        double e = (double)pv[i] - cv[i];
        want += e * e;
        assert_true(fabs(gv[i] - 2 * e) <= 1e-5 * fmax(1, fabs(2 * e)));
    }
    assert_true(fabs(lv - want) <= 1e-5 * fmax(1, want));
    clg_graph_destroy(g);

    /* i32 labels as a const: the loss equals the one with the same labels fed as an input */
    float x[3 * 4] = { 1, 2, 3, 4, -1, 0, 1, 0.5f, 2, 2, -2, 0 };
    int32_t lab[3] = { 3, 0, 1 };
    float l1, l2;
    for (int pass = 0; pass < 2; pass++) {
        clg_shape sx = SHAPE2(CLG_F32, 3, 4), sl = SHAPE1(CLG_I32, 3);
        int xi, li, ce;
        assert_clg_ok(clg_graph_create(tctx, &g));
        assert_clg_ok(clg_graph_const(g, "x", &sx, x, &xi));
        if (pass)
            assert_clg_ok(clg_graph_input(g, "labels", &sl, &li));
        else
            assert_clg_ok(clg_graph_const(g, "labels", &sl, lab, &li));
        assert_clg_ok(clg_graph_op(g, CLG_OP_CROSS_ENTROPY, (int[]){ xi, li }, 2, NULL, &ce));
        assert_clg_ok(clg_graph_keep(g, ce));
        assert_clg_ok(clg_graph_plan(g, CLG_PLAN_INFERENCE));
        if (pass)
            assert_clg_ok(clg_graph_set_input(g, li, lab));
        assert_clg_ok(clg_graph_forward(g));
        assert_clg_ok(clg_graph_read(g, ce, pass ? &l2 : &l1));
        clg_graph_destroy(g);
    }
    assert_true(l1 == l2 && l1 > 0);
}

/* a = tanh(p) feeds three ops, and one add takes the same node twice:
 * loss = u, u = t + t, t = (exp(a) + sigmoid(a)) + a. */
static void test_autodiff_fanout(void **s)
{
    (void)s;
    if (skip_unless_ops((clg_op[]){ CLG_OP_ADD }, 1)) {
        skip();
        return;
    }
    clg_graph *g;
    assert_clg_ok(clg_graph_create(tctx, &g));
    clg_shape sp = SHAPE2(CLG_F32, 7, 33);
    clg_init init = { .kind = CLG_INIT_UNIFORM, .a = -1, .b = 1 };
    int p;
    assert_clg_ok(clg_graph_param(g, "p", &sp, &init, 0, &p));
    int a = unary(g, CLG_OP_TANH, p, 1);
    int b = unary(g, CLG_OP_EXP, a, 1), c = unary(g, CLG_OP_SIGMOID, a, 1);
    int t = binary(g, CLG_OP_ADD, binary(g, CLG_OP_ADD, b, c), a);
    int u = binary(g, CLG_OP_ADD, t, t);
    int loss = u;
    if (op_available(CLG_OP_SUM)) {
        clg_attrs sa = clg_attrs_defaults();
        assert_clg_ok(clg_graph_op(g, CLG_OP_SUM, (int[]){ u }, 1, &sa, &loss));
    }
    assert_clg_ok(clg_graph_set_loss(g, loss));
    assert_clg_ok(clg_graph_plan(g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_step(g, NULL));
    size_t n = 7 * 33;
    float pv[7 * 33], gv[7 * 33];
    assert_clg_ok(clg_graph_param_read(g, 0, pv));
    assert_clg_ok(clg_graph_grad_read(g, p, gv));
    for (size_t i = 0; i < n; i++) {
        double da = 0, ds = 0, de = 0;
        double av = host_unary(CLG_OP_TANH, 1, pv[i], &da);
        host_unary(CLG_OP_SIGMOID, 1, av, &ds);
        host_unary(CLG_OP_EXP, 1, av, &de);
        double gw = 2 * (de + ds + 1) * da;
        if (fabs(gv[i] - gw) > 1e-5 + 1e-4 * fabs(gw))
            fail_msg("grad[%zu] = %.7g, want %.7g", i, gv[i], gw);
    }
    check_param_grads_fd(g, loss, 1e-2, 2e-3, 6);
    clg_graph_destroy(g);
}

/* ---- memory plan ------------------------------------------------------------------------------ */

static const clg_op chain_ops[] = { CLG_OP_TANH, CLG_OP_SCALE, CLG_OP_SIGMOID, CLG_OP_SCALE,
                                    CLG_OP_TANH, CLG_OP_EXP,   CLG_OP_SCALE,   CLG_OP_TANH };
static const float chain_alpha[] = { 1, 0.9f, 1, 1.1f, 1, 1, 0.5f, 1 };
#define CHAIN_N ((int)(sizeof chain_ops / sizeof chain_ops[0]))

static double host_chain(double x, double *dx)
{
    double d = 1;
    for (int k = 0; k < CHAIN_N; k++) {
        double dk = 0;
        x = host_unary(chain_ops[k], chain_alpha[k], x, &dk);
        d *= dk;
    }
    *dx = d;
    return x;
}

static void test_plan_chain(void **s)
{
    (void)s;
    const int64_t R = 33, C = 31;
    size_t n = (size_t)(R * C);
    clg_shape sx = SHAPE2(CLG_F32, R, C);
    float *xv = malloc(n * sizeof *xv), *yv = malloc(n * sizeof *yv), *gv = malloc(n * sizeof *gv);
    fill_uniform(xv, n, -2, 2, 5);

    /* Inference: the intermediates ping-pong between two pool slices; no gradient buffers. */
    clg_graph *g;
    assert_clg_ok(clg_graph_create(tctx, &g));
    int x, y;
    assert_clg_ok(clg_graph_input(g, "x", &sx, &x));
    y = x;
    for (int k = 0; k < CHAIN_N; k++)
        y = unary(g, chain_ops[k], y, chain_alpha[k]);
    assert_clg_ok(clg_graph_plan(g, CLG_PLAN_INFERENCE));
    size_t planned, naive;
    assert_clg_ok(clg_graph_memory(g, &planned, &naive));
    clg_graph_stats st;
    assert_clg_ok(clg_graph_stats_get(g, &st));
    assert_int_equal(st.grad_buffers, 0);
    assert_int_equal(st.grad_bytes, 0);
    assert_int_equal(st.pooled_tensors, CHAIN_N - 1);
    assert_true(planned < naive);
    size_t slice = (n + 31) / 32 * 32 * 4;
    assert_true(st.pool_bytes <= 2 * slice);
    assert_int_equal(naive - planned, (CHAIN_N - 1) * n * 4 - st.pool_bytes);
    assert_clg_ok(clg_graph_set_input(g, x, xv));
    assert_clg_ok(clg_graph_forward(g));
    assert_clg_ok(clg_graph_read(g, y, yv));
    assert_clg_status(clg_graph_read(g, y - 1, yv + 0), CLG_ERR_STATE);
    assert_non_null(strstr(clg_last_error(), "clg_graph_keep"));
    assert_clg_ok(clg_graph_read(g, y, yv));
    for (size_t i = 0; i < n; i++) {
        double d, w = host_chain(xv[i], &d);
        if (fabs(yv[i] - w) > 1e-5 + 1e-5 * fabs(w))
            fail_msg("inference y[%zu] = %.7g, want %.7g", i, yv[i], w);
    }
    /* A step needs a TRAIN plan. */
    assert_clg_status(clg_graph_step(g, NULL), CLG_ERR_STATE);
    clg_graph_destroy(g);

    /* Training: activations live until their backward, gradients share the pool too. */
    assert_clg_ok(clg_graph_create(tctx, &g));
    int p;
    assert_clg_ok(clg_graph_param(g, "p", &sx, NULL, 0, &p));
    assert_clg_ok(clg_graph_param_write(g, 0, xv));
    y = p;
    for (int k = 0; k < CHAIN_N; k++)
        y = unary(g, chain_ops[k], y, chain_alpha[k]);
    assert_clg_ok(clg_graph_set_loss(g, y));
    assert_clg_ok(clg_graph_plan(g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_memory(g, &planned, &naive));
    assert_clg_ok(clg_graph_stats_get(g, &st));
    assert_true(planned < naive);
    assert_int_equal(st.grad_buffers, CHAIN_N + 1);
    assert_true(st.grad_bytes > 0);
    float lossv;
    assert_clg_ok(clg_graph_step(g, &lossv));
    assert_clg_ok(clg_graph_grad_read(g, p, gv));
    double want = 0;
    for (size_t i = 0; i < n; i++) {
        double d, w = host_chain(xv[i], &d);
        want += w;
        if (fabs(gv[i] - d) > 1e-5 + 1e-4 * fabs(d))
            fail_msg("train grad[%zu] = %.7g, want %.7g", i, gv[i], d);
    }
    assert_true(fabs(lossv - want) <= 1e-5 * fabs(want) + 1e-4);
    clg_graph_destroy(g);
    free(xv);
    free(yv);
    free(gv);
}

/* ---- runs ----------------------------------------------------------------------------------------- */

static void test_blocking_reads(void **s)
{
    (void)s;
    clg_graph *g;
    assert_clg_ok(clg_graph_create(tctx, &g));
    clg_shape sp = SHAPE2(CLG_F32, 7, 3), sc = SCALAR(CLG_F32);
    clg_init k = { .kind = CLG_INIT_CONSTANT, .a = 0.25f };
    int p, q, x;
    assert_clg_ok(clg_graph_param(g, "p", &sp, &k, 0, &p));
    assert_clg_ok(clg_graph_param(g, "q", &sc, &k, 1, &q));
    assert_clg_ok(clg_graph_input(g, "x", &sp, &x));
    int loss = unary(g, CLG_OP_EXP, unary(g, CLG_OP_TANH, q, 1), 1); /* scalar loss */
    unary(g, CLG_OP_RELU, unary(g, CLG_OP_SCALE, p, 2), 1);
    int sgd = optim_available(CLG_OPTIM_SGD);
    if (sgd) {
        clg_optim_options o = clg_optim_defaults(CLG_OPTIM_SGD);
        o.lr = 0.1f;
        assert_clg_ok(clg_graph_set_optimizer(g, &o));
    }
    assert_clg_ok(clg_graph_set_loss(g, loss));
    assert_clg_ok(clg_graph_plan(g, CLG_PLAN_TRAIN));
    float xin[21] = { 0 };
    assert_clg_ok(clg_graph_set_input(g, x, xin));
    clg_graph_stats a, b, c;
    assert_clg_ok(clg_graph_stats_get(g, &a));
    float lossv = -1;
    assert_clg_ok(clg_graph_step(g, &lossv));
    assert_clg_ok(clg_graph_stats_get(g, &b));
    assert_int_equal(b.blocking_reads - a.blocking_reads, 1);
    assert_true(fabs(lossv - exp(tanh(0.25))) < 1e-5);
    for (int i = 0; i < 3; i++)
        assert_clg_ok(clg_graph_step(g, NULL));
    assert_clg_ok(clg_graph_forward(g));
    assert_clg_ok(clg_graph_stats_get(g, &c));
    assert_int_equal(c.blocking_reads, b.blocking_reads);
    assert_int_equal(c.steps, 4);
    assert_int_equal(c.forwards, 1);
    assert_int_equal(clg_graph_step_count(g), 4);
    float qv;
    assert_clg_ok(clg_graph_param_read(g, 1, &qv));
    if (sgd) {
        /* 4 plain SGD steps on q with d/dq exp(tanh q) */
        double qh = 0.25;
        for (int i = 0; i < 4; i++)
            qh -= 0.1 * exp(tanh(qh)) * (1 - tanh(qh) * tanh(qh));
        assert_true(fabs(qv - qh) < 1e-5);
    } else {
        assert_true(qv == 0.25f);
    }
    assert_clg_ok(clg_ctx_finish(tctx));
    clg_graph_destroy(g);
}

static void test_freeze(void **s)
{
    (void)s;
    clg_graph *g;
    assert_clg_ok(clg_graph_create(tctx, &g));
    clg_shape sp = SHAPE1(CLG_F32, 33);
    clg_init init = { .kind = CLG_INIT_UNIFORM, .a = -1, .b = 1 };
    int enc, head;
    assert_clg_ok(clg_graph_param(g, "enc", &sp, &init, 1, &enc));
    assert_clg_ok(clg_graph_param(g, "head", &sp, &init, 2, &head));
    int loss = unary(g, CLG_OP_EXP, unary(g, CLG_OP_TANH, enc, 1), 1);
    unary(g, CLG_OP_SIGMOID, head, 1);
    assert_clg_ok(clg_graph_set_loss(g, loss));
    assert_clg_ok(clg_graph_freeze_group(g, 1, 1));
    assert_clg_ok(clg_graph_plan(g, CLG_PLAN_TRAIN));
    clg_graph_stats a, b;
    assert_clg_ok(clg_graph_stats_get(g, &a));
    assert_int_equal(a.grad_buffers, 0);
    assert_clg_ok(clg_graph_step(g, NULL));
    assert_clg_ok(clg_graph_stats_get(g, &b));
    assert_int_equal(b.launches - a.launches, 3); /* forward only */
    float gv[33];
    assert_clg_status(clg_graph_grad_read(g, enc, gv), CLG_ERR_STATE);
    assert_non_null(strstr(clg_last_error(), "frozen"));
    assert_clg_status(clg_graph_grad_read(g, head, gv), CLG_ERR_STATE);
    assert_non_null(strstr(clg_last_error(), "does not reach the loss"));
    clg_tensor *t = (clg_tensor *)1;
    assert_clg_ok(clg_graph_param_tensor(g, 0, CLG_STATE_GRAD, &t));
    assert_null(t);
    assert_clg_ok(clg_graph_freeze_group(g, 1, 0));
    assert_clg_status(clg_graph_step(g, NULL), CLG_ERR_STATE); /* unfreezing drops the plan */
    assert_clg_ok(clg_graph_plan(g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_step(g, NULL));
    assert_clg_ok(clg_graph_grad_read(g, enc, gv));
    assert_clg_ok(clg_graph_param_tensor(g, 0, CLG_STATE_GRAD, &t));
    assert_non_null(t);
    clg_graph_destroy(g);
}

/* ---- insight ------------------------------------------------------------------------------------ */

static void test_dot(void **s)
{
    (void)s;
    clg_graph *g;
    assert_clg_ok(clg_graph_create(tctx, &g));
    clg_shape sp = SHAPE2(CLG_F32, 7, 3);
    int x, w;
    assert_clg_ok(clg_graph_input(g, "images", &sp, &x));
    assert_clg_ok(clg_graph_param(g, "w_enc", &sp, NULL, 3, &w));
    int h = unary(g, CLG_OP_TANH, w, 1);
    assert_clg_ok(clg_graph_set_name(g, h, "hidden"));
    unary(g, CLG_OP_RELU, x, 1);
    assert_clg_ok(clg_graph_set_loss(g, h));
    assert_clg_ok(clg_graph_freeze_group(g, 3, 1));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_clg_ok(clg_graph_dot(g, f));
    fclose(f);
    assert_non_null(strstr(text, "digraph"));
    assert_non_null(strstr(text, "images"));
    assert_non_null(strstr(text, "w_enc"));
    assert_non_null(strstr(text, "hidden"));
    assert_non_null(strstr(text, "relu_3"));
    assert_non_null(strstr(text, "f32[7,3]"));
    assert_non_null(strstr(text, "n1 -> n2"));
    assert_non_null(strstr(text, "dashed"));
    assert_non_null(strstr(text, "doublecircle"));
    free(text);
    clg_graph_destroy(g);
}

/* Two profiled steps of exp(tanh(p)) on ctx, whose report must name `clock`; on a profiling
 * ctx (device) the ops' times are their kernels' device times, and the stats' per-step kernel time
 * is their sum, within the step's span; a device whose profiling clock is none (rusticl 22.3:
 * the same 0-3 ns for every command) falls back to the host's clock and says so. */
static void profile_on(clg_ctx *ctx, const char *clock, int device)
{
    clg_graph *g;
    assert_clg_ok(clg_graph_create(ctx, &g));
    clg_shape sp = SHAPE1(CLG_F32, 1031);
    clg_init init = { .kind = CLG_INIT_UNIFORM, .a = -1, .b = 1 };
    int p;
    assert_clg_ok(clg_graph_param(g, "p", &sp, &init, 0, &p));
    int loss = unary(g, CLG_OP_EXP, unary(g, CLG_OP_TANH, p, 1), 1);
    assert_clg_ok(clg_graph_set_loss(g, loss));
    assert_clg_ok(clg_graph_plan(g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_set_profile(g, 1));
    float l1, l2;
    assert_clg_ok(clg_graph_step(g, &l1));
    assert_clg_ok(clg_graph_step(g, &l2));
    assert_true(l1 == l2); /* no optimizer */
    char buf[4096];
    size_t need = 0;
    assert_clg_ok(clg_graph_profile_report(g, buf, sizeof buf, &need));
    assert_true(need <= sizeof buf);
    assert_non_null(strstr(buf, "tanh_1"));
    assert_non_null(strstr(buf, "exp_2"));
    int no_clock = device && strstr(buf, "profiling clock gives no times") != NULL;
    if (!strcmp(tdev->platform_name, "Portable Computing Language"))
        assert_false(no_clock); /* PoCL's clock gives times */
    assert_non_null(strstr(buf, no_clock ? "host clock" : clock));
    clg_graph_stats gs;
    assert_clg_ok(clg_graph_stats_get(g, &gs));
    /* Each op ran forward and backward twice. */
    double sum = 0;
    const char *names[] = { "tanh_1", "exp_2" };
    for (int i = 0; i < 2; i++) {
        const char *row = strstr(buf, names[i]);
        double fms, bms;
        unsigned long fn, bn;
        char nm[64], op[64];
        assert_int_equal(sscanf(row, "%63s %63s %lf %lu %lf %lu", nm, op, &fms, &fn, &bms, &bn), 6);
        assert_int_equal(fn, 2);
        assert_int_equal(bn, 2);
        assert_true(fms >= 0 && bms >= 0);
        if (device && !no_clock)
            assert_true(fms > 0 && bms > 0); /* each ran kernels both ways */
        sum += fms + bms;
    }
    if (device && !no_clock) {
        /* the table's kernel times (printed to 1 us each, 4 cells) are the steps' kernel time */
        assert_int_equal(gs.profiled_steps, 2);
        assert_true(gs.profiled_kernel_ms > 0);
        assert_true(fabs(gs.profiled_kernel_ms - sum) <= 4 * 0.0005 + 1e-9);
        assert_true(gs.profiled_span_ms >= gs.profiled_kernel_ms - 1e-6); /* one in-order queue */
        assert_non_null(strstr(buf, "per training step (device clock, 2 steps)"));
    } else {
        assert_int_equal(gs.profiled_steps, 0);
        assert_true(gs.profiled_kernel_ms == 0 && gs.profiled_span_ms == 0);
        assert_null(strstr(buf, "per training step (device clock"));
    }
    char small[16];
    assert_clg_ok(clg_graph_profile_report(g, small, sizeof small, NULL));
    assert_int_equal(strlen(small), sizeof small - 1);
    clg_graph_destroy(g);
}

static void test_profile(void **s)
{
    (void)s;
    profile_on(tctx, "host clock", 0);
    clg_ctx *pctx;
    clg_ctx_options o = { .profiling = 1 };
    assert_clg_ok(clg_ctx_create(tdev, &o, &pctx));
    profile_on(pctx, "device clock", 1);
    clg_ctx_destroy(pctx);
}

/* ---- parameters ---------------------------------------------------------------------------------- */

static void stats_of(const float *v, size_t n, double *mean, double *sd, double *maxabs)
{
    double s = 0, s2 = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        s += v[i];
        s2 += (double)v[i] * v[i];
        m = fmax(m, fabs(v[i]));
    }
    *mean = s / (double)n;
    *sd = sqrt(s2 / (double)n - *mean * *mean);
    *maxabs = m;
}

static void test_param_init(void **s)
{
    (void)s;
    enum { R = 64, C = 50, N = R * C };
    clg_shape sw = SHAPE2(CLG_F32, R, C);
    float *v = malloc(sizeof *v * N), *v2 = malloc(sizeof *v2 * N);
    double mean, sd, mx;
    clg_graph *g, *g2;
    assert_clg_ok(clg_graph_create(tctx, &g));
    clg_graph_set_seed(g, 42);
    clg_init inits[] = {
        { .kind = CLG_INIT_ZEROS }, { .kind = CLG_INIT_CONSTANT, .a = 0.25f },
        { .kind = CLG_INIT_UNIFORM, .a = 2, .b = 3 }, { .kind = CLG_INIT_XAVIER_UNIFORM },
        { .kind = CLG_INIT_HE_NORMAL }, { .kind = CLG_INIT_HE_UNIFORM, .gain = 2 },
    };
    int ni = (int)(sizeof inits / sizeof inits[0]);
    for (int i = 0; i < ni; i++)
        assert_clg_ok(clg_graph_param(g, NULL, &sw, &inits[i], 0, NULL));
    assert_int_equal(clg_graph_param_count(g), ni);
    assert_string_equal(clg_graph_param_name(g, 2), "param_2");

    assert_clg_ok(clg_graph_param_read(g, 0, v));
    stats_of(v, N, &mean, &sd, &mx);
    assert_true(mx == 0);
    assert_clg_ok(clg_graph_param_read(g, 1, v));
    stats_of(v, N, &mean, &sd, &mx);
    assert_true(mean == 0.25 && sd < 1e-6);
    assert_clg_ok(clg_graph_param_read(g, 2, v));
    stats_of(v, N, &mean, &sd, &mx);
    for (int i = 0; i < N; i++)
        assert_true(v[i] >= 2 && v[i] < 3);
    assert_true(fabs(mean - 2.5) < 0.02 && fabs(sd - sqrt(1.0 / 12)) < 0.01);
    double r = sqrt(6.0 / (R + C));
    assert_clg_ok(clg_graph_param_read(g, 3, v));
    stats_of(v, N, &mean, &sd, &mx);
    assert_true(mx <= r && mx > 0.98 * r && fabs(mean) < 0.02 * r);
    assert_clg_ok(clg_graph_param_read(g, 4, v));
    stats_of(v, N, &mean, &sd, &mx);
    assert_true(fabs(sd - sqrt(2.0 / R)) < 0.05 * sqrt(2.0 / R) && fabs(mean) < 0.01);
    r = 2 * sqrt(6.0 / R);
    assert_clg_ok(clg_graph_param_read(g, 5, v));
    stats_of(v, N, &mean, &sd, &mx);
    assert_true(mx <= r && mx > 0.98 * r);

    /* Same seed, same values; another seed, other values; streams differ between params. */
    assert_clg_ok(clg_graph_create(tctx, &g2));
    clg_graph_set_seed(g2, 42);
    for (int i = 0; i < ni; i++)
        assert_clg_ok(clg_graph_param(g2, NULL, &sw, &inits[i], 0, NULL));
    for (int i = 0; i < ni; i++) {
        assert_clg_ok(clg_graph_param_read(g, i, v));
        assert_clg_ok(clg_graph_param_read(g2, i, v2));
        assert_memory_equal(v, v2, sizeof *v * N);
    }
    clg_graph_set_seed(g2, 43);
    assert_clg_ok(clg_graph_param(g2, NULL, &sw, &inits[3], 0, NULL));
    assert_clg_ok(clg_graph_param_read(g2, ni, v2));
    assert_clg_ok(clg_graph_param_read(g, 3, v));
    assert_memory_not_equal(v, v2, sizeof *v * N);
    assert_clg_ok(clg_graph_param_read(g, 5, v2));
    assert_memory_not_equal(v, v2, sizeof *v * N);
    clg_graph_destroy(g);
    clg_graph_destroy(g2);
    free(v);
    free(v2);
}

static void test_lr_schedule(void **s)
{
    (void)s;
    clg_optim_options o = clg_optim_defaults(CLG_OPTIM_ADAMW);
    o.lr = 0.5f;
    assert_true(clg_optim_lr_at(&o, 0) == 0.5f && clg_optim_lr_at(&o, 12345) == 0.5f);
    o.warmup_steps = 4;
    assert_float_equal(clg_optim_lr_at(&o, 0), 0.125, 1e-7);
    assert_float_equal(clg_optim_lr_at(&o, 2), 0.375, 1e-7);
    assert_float_equal(clg_optim_lr_at(&o, 3), 0.5, 1e-7);
    assert_float_equal(clg_optim_lr_at(&o, 4), 0.5, 1e-7);
    o.schedule = CLG_LR_STEP;
    o.step_size = 10;
    o.gamma = 0.5f;
    assert_float_equal(clg_optim_lr_at(&o, 13), 0.5, 1e-7);
    assert_float_equal(clg_optim_lr_at(&o, 14), 0.25, 1e-7);
    assert_float_equal(clg_optim_lr_at(&o, 4 + 25), 0.125, 1e-7);
    o.schedule = CLG_LR_COSINE;
    o.warmup_steps = 0;
    o.total_steps = 100;
    o.min_lr = 0.1f;
    assert_float_equal(clg_optim_lr_at(&o, 0), 0.5, 1e-6);
    assert_float_equal(clg_optim_lr_at(&o, 50), 0.3, 1e-6);
    assert_float_equal(clg_optim_lr_at(&o, 100), 0.1, 1e-6);
    assert_float_equal(clg_optim_lr_at(&o, 1000), 0.1, 1e-6);
    o.lr = -1;
    clg_graph *g;
    assert_clg_ok(clg_graph_create(tctx, &g));
    assert_clg_status(clg_graph_set_optimizer(g, &o), CLG_ERR_INVALID_ARG);
    assert_non_null(strstr(clg_last_error(), "lr -1"));
    clg_graph_destroy(g);
}

/* ---- MLP (runs once matmul, add and cross_entropy land) ------------------------------------------ */

enum { MLP_D = 8, MLP_H = 16, MLP_C = 3 };

typedef struct mlp { clg_graph *g; int x, y, w1, b1, w2, b2, logits, loss; } mlp;

static void mlp_build(mlp *m, int64_t n, int64_t d, int64_t h, int64_t c, clg_op act, uint64_t seed)
{
    assert_clg_ok(clg_graph_create(tctx, &m->g));
    clg_graph *g = m->g;
    clg_graph_set_seed(g, seed);
    clg_shape sx = SHAPE2(CLG_F32, n, d), sy = SHAPE1(CLG_I32, n);
    clg_shape sw1 = SHAPE2(CLG_F32, d, h), sb1 = SHAPE1(CLG_F32, h);
    clg_shape sw2 = SHAPE2(CLG_F32, h, c), sb2 = SHAPE1(CLG_F32, c);
    clg_init xav = { .kind = CLG_INIT_XAVIER_UNIFORM }, he = { .kind = CLG_INIT_HE_UNIFORM };
    clg_init bias = { .kind = CLG_INIT_UNIFORM, .a = -0.1f, .b = 0.1f };
    assert_clg_ok(clg_graph_input(g, "x", &sx, &m->x));
    assert_clg_ok(clg_graph_input(g, "y", &sy, &m->y));
    assert_clg_ok(clg_graph_param(g, "enc.w", &sw1, &he, 0, &m->w1));
    assert_clg_ok(clg_graph_param(g, "enc.b", &sb1, &bias, 0, &m->b1));
    assert_clg_ok(clg_graph_param(g, "head.w", &sw2, &xav, 1, &m->w2));
    assert_clg_ok(clg_graph_param(g, "head.b", &sb2, &bias, 1, &m->b2));
    int hid = unary(g, act, binary(g, CLG_OP_ADD, binary(g, CLG_OP_MATMUL, m->x, m->w1), m->b1), 1);
    m->logits = binary(g, CLG_OP_ADD, binary(g, CLG_OP_MATMUL, hid, m->w2), m->b2);
    m->loss = binary(g, CLG_OP_CROSS_ENTROPY, m->logits, m->y);
    assert_clg_ok(clg_graph_set_loss(g, m->loss));
}

/* Separable data: class k's points sit around a random centre. */
static void blobs(float *x, int32_t *y, int n, int d, int c, uint64_t seed)
{
    trng r = { seed };
    float centre[MLP_C][MLP_D];
    for (int k = 0; k < c; k++)
        for (int j = 0; j < d; j++)
            centre[k][j] = (float)(4 * trng_uniform(&r) - 2);
    for (int i = 0; i < n; i++) {
        y[i] = i % c;
        for (int j = 0; j < d; j++)
            x[i * d + j] = centre[y[i]][j] + (float)(0.6 * (trng_uniform(&r) - 0.5));
    }
}

static const clg_op mlp_ops[] = { CLG_OP_MATMUL, CLG_OP_ADD, CLG_OP_CROSS_ENTROPY, CLG_OP_RELU };

static void test_mlp_gradients(void **s)
{
    (void)s;
    if (skip_unless_ops(mlp_ops, 4)) {
        skip();
        return;
    }
    const int n = 7, d = 5, h = 6, c = 3;
    mlp m;
    mlp_build(&m, n, d, h, c, CLG_OP_TANH, 3);
    float x[7 * 5];
    int32_t y[7];
    fill_uniform(x, (size_t)(n * d), -1, 1, 9);
    for (int i = 0; i < n; i++)
        y[i] = (i * 5) % c;
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_set_input(m.g, m.x, x));
    assert_clg_ok(clg_graph_set_input(m.g, m.y, y));
    float loss;
    assert_clg_ok(clg_graph_step(m.g, &loss));
    assert_true(isfinite(loss) && loss > 0);
    check_param_grads_fd(m.g, m.loss, 1e-2, 2e-3, 8);
    assert_clg_ok(clg_ctx_finish(tctx));
    clg_graph_destroy(m.g);
}

static void mlp_train_fuse(float *losses, int steps, uint64_t seed, int fuse, uint64_t *launches)
{
    enum { N = 64 };
    static float x[N * MLP_D];
    static int32_t y[N];
    blobs(x, y, N, MLP_D, MLP_C, 1234);
    mlp m;
    mlp_build(&m, N, MLP_D, MLP_H, MLP_C, CLG_OP_RELU, seed);
    assert_clg_ok(clg_graph_set_fusion(m.g, fuse));
    clg_optim_options o = clg_optim_defaults(CLG_OPTIM_ADAM);
    o.lr = 0.03f;
    o.warmup_steps = 5;
    assert_clg_ok(clg_graph_set_optimizer(m.g, &o));
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_set_input(m.g, m.x, x));
    assert_clg_ok(clg_graph_set_input(m.g, m.y, y));
    for (int i = 0; i < steps; i++)
        assert_clg_ok(clg_graph_step(m.g, &losses[i]));
    if (launches) {
        clg_graph_stats gs;
        assert_clg_ok(clg_graph_stats_get(m.g, &gs));
        *launches = gs.step_launches;
    }
    clg_tensor *t;
    assert_clg_ok(clg_graph_param_tensor(m.g, 0, CLG_STATE_ADAM_M, &t));
    assert_non_null(t);
    assert_clg_ok(clg_graph_param_tensor(m.g, 0, CLG_STATE_VELOCITY, &t));
    assert_null(t);
    assert_clg_ok(clg_ctx_finish(tctx));
    clg_graph_destroy(m.g);
}

/* A graph with inputs x [N, D] (f32) and y [N] (i32) and a param w [D, C] (He-uniform, group 0,
 * the graph seeded with seed). */
static clg_graph *xyw_graph(int N, int D, int C, uint64_t seed, int *xi, int *yi, int *wi)
{
    clg_graph *g;
    assert_clg_ok(clg_graph_create(tctx, &g));
    clg_graph_set_seed(g, seed);
    clg_shape sx = SHAPE2(CLG_F32, N, D), sy = SHAPE1(CLG_I32, N), sw = SHAPE2(CLG_F32, D, C);
    clg_init he = { .kind = CLG_INIT_HE_UNIFORM };
    assert_clg_ok(clg_graph_input(g, "x", &sx, xi));
    assert_clg_ok(clg_graph_input(g, "y", &sy, yi));
    assert_clg_ok(clg_graph_param(g, "w", &sw, &he, 0, wi));
    return g;
}

/* The fused loss entry (cross_entropy's gradient written by its forward, no seed fill or backward
 * call): the same loss and gradient bits as fusion off on a graph where nothing else fuses
 * (logits = x·W), one launch fewer per step; clg_graph_forward on that plan gives the same loss;
 * a label out of range is still reported.  37 x 7 logits take one work-group (ce_mean), 70 x 1000
 * one work-item per row (ce_rows_grad or its _vec, then sum_scaled; x·W with 2 columns of x: the Oclgrind
 * check spent 88 s on it with 20, 31 s with 2). */
static void fused_loss_case(int N, int D, int C)
{
    float *x = malloc(sizeof(float) * (size_t)N * (size_t)D), *gw = malloc(sizeof(float) * 2 * (size_t)D * (size_t)C);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)N), *bad = malloc(sizeof(int32_t) * (size_t)N);
    assert_true(x && gw && y && bad);
    float loss[2], fwd_loss;
    fill_uniform(x, N * D, -1, 1, 5);
    for (int i = 0; i < N; i++)
        y[i] = (i * 3) % C;
    uint64_t launches[2];
    for (int fuse = 0; fuse < 2; fuse++) {
        int xi, yi, wi;
        clg_graph *g = xyw_graph(N, D, C, 11, &xi, &yi, &wi);
        int li = binary(g, CLG_OP_CROSS_ENTROPY, binary(g, CLG_OP_MATMUL, xi, wi), yi);
        assert_clg_ok(clg_graph_set_loss(g, li));
        assert_clg_ok(clg_graph_set_fusion(g, fuse));
        assert_clg_ok(clg_graph_plan(g, CLG_PLAN_TRAIN));
        assert_clg_ok(clg_graph_set_input(g, xi, x));
        assert_clg_ok(clg_graph_set_input(g, yi, y));
        assert_clg_ok(clg_graph_step(g, &loss[fuse]));
        assert_clg_ok(clg_graph_grad_read(g, wi, gw + (size_t)fuse * (size_t)D * (size_t)C));
        clg_graph_stats gs;
        assert_clg_ok(clg_graph_stats_get(g, &gs));
        launches[fuse] = gs.step_launches;
        if (fuse) {
            assert_clg_ok(clg_graph_forward(g));
            assert_clg_ok(clg_graph_read(g, li, &fwd_loss));
            assert_true(fwd_loss == loss[1]);
            memcpy(bad, y, sizeof(int32_t) * (size_t)N);
            bad[N - 1] = C;
            assert_clg_ok(clg_graph_set_input(g, yi, bad));
            assert_clg_ok(clg_graph_step(g, &fwd_loss));
            assert_clg_status(clg_ctx_finish(tctx), CLG_ERR_INDEX);
            assert_non_null(strstr(clg_last_error(), "cross_entropy"));
        }
        clg_graph_destroy(g);
    }
    assert_true(loss[0] == loss[1]);
    assert_memory_equal(gw, gw + (size_t)D * (size_t)C, sizeof(float) * (size_t)D * (size_t)C);
    assert_int_equal(launches[1] + 1, launches[0]);
    free(x);
    free(gw);
    free(y);
    free(bad);
}

static void fused_loss_cases(void **s)
{
    (void)s;
    fused_loss_case(37, 20, 7);
    fused_loss_case(70, 2, 1000);
}

/* In both kernel styles: the CPU style's ce_rows_grad_vec (float16 exps, kept in the gradient's
 * row) against the unfused ce_rows and ce_bwd. */
static void test_fused_loss(void **s)
{
    void (*const fns[])(void **) = { fused_loss_cases };
    clg_test_each_vec_kernels(fns, 1, s);
}

/* clg_graph_metric: a step leaves the metric and a node computed from it out (two launches fewer
 * than the same graph with both kept) and keeps the same loss; clg_graph_forward computes them
 * (the logits' accuracy against the host's); a loss computed from a metric does not plan; only op
 * nodes can be metrics. */
static void test_metric(void **s)
{
    (void)s;
    enum { N = 24, D = 5, C = 3 };
    float x[N * D], logits[N * C], loss[2], acc, twice;
    int32_t y[N];
    fill_uniform(x, N * D, -1, 1, 7);
    for (int i = 0; i < N; i++)
        y[i] = i % C;
    uint64_t launches[2];
    for (int metric = 0; metric < 2; metric++) {
        int xi, yi, wi;
        clg_graph *g = xyw_graph(N, D, C, 3, &xi, &yi, &wi);
        int li = binary(g, CLG_OP_MATMUL, xi, wi), ce = binary(g, CLG_OP_CROSS_ENTROPY, li, yi);
        int ai = binary(g, CLG_OP_ACCURACY, li, yi), di = unary(g, CLG_OP_SCALE, ai, 2.0f);
        assert_clg_ok(clg_graph_keep(g, li));
        assert_clg_ok(clg_graph_keep(g, di));
        assert_clg_ok(metric ? clg_graph_metric(g, ai) : clg_graph_keep(g, ai));
        assert_clg_ok(clg_graph_set_loss(g, ce));
        assert_clg_ok(clg_graph_plan(g, CLG_PLAN_TRAIN));
        assert_clg_ok(clg_graph_set_input(g, xi, x));
        assert_clg_ok(clg_graph_set_input(g, yi, y));
        assert_clg_ok(clg_graph_step(g, &loss[metric]));
        clg_graph_stats gs;
        assert_clg_ok(clg_graph_stats_get(g, &gs));
        launches[metric] = gs.step_launches;
        if (metric) {
            assert_clg_ok(clg_graph_forward(g));
            assert_clg_ok(clg_graph_read(g, li, logits));
            assert_clg_ok(clg_graph_read(g, ai, &acc));
            assert_clg_ok(clg_graph_read(g, di, &twice));
            int hits = 0;
            for (int i = 0; i < N; i++) {
                int best = 0;
                for (int c = 1; c < C; c++)
                    best = logits[i * C + c] > logits[i * C + best] ? c : best;
                hits += best == y[i];
            }
            assert_true(acc == (float)hits / (float)N);
            assert_true(twice == 2.0f * acc);
            assert_int_equal(clg_graph_metric(g, xi), CLG_ERR_INVALID_ARG);
            assert_non_null(strstr(clg_last_error(), "not an op"));
            /* a loss computed from the metric */
            assert_clg_ok(clg_graph_set_loss(g, di));
            assert_int_equal(clg_graph_plan(g, CLG_PLAN_TRAIN), CLG_ERR_STATE);
            assert_non_null(strstr(clg_last_error(), "metric"));
        }
        clg_graph_destroy(g);
    }
    assert_true(loss[0] == loss[1]);
    assert_int_equal(launches[1] + 2, launches[0]);
}

/* ---- launch lists (a step described for the compile helper) --------------------------------- */

/* An MLP on ctx ready to step (Adam, inputs set). */
static void mlp_ready(clg_ctx *ctx, mlp *m, const float *x, const int32_t *y, int n)
{
    clg_ctx *keep = tctx;
    tctx = ctx; /* mlp_build builds on tctx */
    mlp_build(m, n, MLP_D, MLP_H, MLP_C, CLG_OP_RELU, 5);
    tctx = keep;
    clg_optim_options o = clg_optim_defaults(CLG_OPTIM_ADAM);
    assert_clg_ok(clg_graph_set_optimizer(m->g, &o));
    assert_clg_ok(clg_graph_plan(m->g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_set_input(m->g, m->x, x));
    assert_clg_ok(clg_graph_set_input(m->g, m->y, y));
}

/* The set-up of the launch-list tests: a fresh ctx with the binary cache off (every program keeps
 * its source) and an MLP `a` of n rows on it ready to step; NULL when the ops are not in this build. */
static clg_ctx *describe_setup(mlp *a, float *x, int32_t *y, int n, uint64_t seed)
{
    if (skip_unless_ops(mlp_ops, 4) || !optim_available(CLG_OPTIM_ADAM))
        return NULL;
    blobs(x, y, n, MLP_D, MLP_C, seed);
    clg_ctx *ctx;
    assert_clg_ok(clg_ctx_create(tdev, NULL, &ctx));
    clg_ctx_set_cache_policy(ctx, CLG_CACHE_OFF);
    mlp_ready(ctx, a, x, y, n);
    return ctx;
}

/* Whether src defines kernel `name`: by name, or a GEMM kernel of the tiles program
 * (src/gemm.c) as its name in cl/gemm.cl with its tile size's suffix "_TM_VW_NV", which src
 * defines as GEMM_SFX. */
static int names_kernel(const char *src, const char *name)
{
    if (strstr(src, name))
        return 1;
    int tm, vw, nv, at = -1;
    const char *u = strchr(name, '_');
    for (; u && at < 0; u = strchr(u + 1, '_')) {
        int n = -1;
        if (sscanf(u, "_%d_%d_%d%n", &tm, &vw, &nv, &n) == 3 && n > 0 && !u[n])
            at = (int)(u - name);
    }
    if (at <= 0)
        return 0;
    char base[64], sfx[96];
    snprintf(base, sizeof base, "%.*s", at, name);
    snprintf(sfx, sizeof sfx, "#define GEMM_SFX _%d_%d_%d\n", tm, vw, nv);
    return strstr(src, base) && strstr(src, sfx);
}

/* clg_graph_describe_step: every launch of the step once per kernel and work-group size (the GEMM
 * products, the optimizer), each naming a kernel of its program's source with sized buffers; and
 * describing runs nothing: no launch, the parameters and the step count unchanged, and the next
 * step has the bits of a twin graph's that was never described.  A fresh ctx with the binary
 * cache off, so every program has its source. */
static void test_describe_step(void **s)
{
    (void)s;
    enum { N = 40 };
    float x[N * MLP_D];
    int32_t y[N];
    mlp a, b;
    clg_ctx *ctx = describe_setup(&a, x, y, N, 77);
    if (!ctx) {
        skip();
        return;
    }
    mlp_ready(ctx, &b, x, y, N);
    clg_launch_list l;
    clg_graph *unplanned;
    assert_clg_ok(clg_graph_create(ctx, &unplanned));
    assert_clg_status(clg_graph_describe_step(unplanned, &l), CLG_ERR_STATE);
    clg_graph_destroy(unplanned);

    float w_before[MLP_D * MLP_H], w_after[MLP_D * MLP_H];
    assert_clg_ok(clg_graph_param_read(a.g, 0, w_before));
    uint64_t launches = clg_ctx_launch_count(ctx);
    assert_clg_ok(clg_graph_describe_step(a.g, &l));
    assert_true(clg_ctx_launch_count(ctx) == launches);
    assert_clg_ok(clg_graph_param_read(a.g, 0, w_after));
    assert_memory_equal(w_before, w_after, sizeof w_before);
    assert_int_equal(clg_graph_step_count(a.g), 0);

    int gemm = 0, adam = 0;
    assert_true(l.n >= 3 && l.nprograms >= 1);
    for (int i = 0; i < l.n; i++) {
        const clg_launch *d = &l.launch[i];
        assert_true(d->program >= 0 && d->program < l.nprograms);
        assert_true(names_kernel(l.source[d->program], d->kernel));
        assert_true(d->dims >= 1 && d->dims <= 3 && d->nargs > 0);
        for (int k = i + 1; k < l.n; k++) /* one per kernel and work-group size */
            assert_false(!strcmp(l.launch[k].kernel, d->kernel) && l.launch[k].dims == d->dims &&
                         !memcmp(l.launch[k].local, d->local, sizeof d->local));
        for (int j = 0; j < d->nargs; j++)
            if (d->args[j].kind == CLG_LARG_BUFFER)
                assert_true(d->args[j].size > 0 && d->args[j].size < ((uint64_t)1 << 32));
        gemm += strstr(d->kernel, "gemm") != NULL;
        adam += strstr(d->kernel, "adam") != NULL;
    }
    assert_int_equal(adam, 1);
    float la, lb, wa[MLP_D * MLP_H], wb[MLP_D * MLP_H];
    assert_clg_ok(clg_graph_step(a.g, &la));
    assert_clg_ok(clg_graph_step(b.g, &lb));
    const char *path = clg_gemm_last_path(ctx);
    if (!path || strcmp(path, "clblast")) /* CLBlast's launches are not ours to record */
        assert_true(gemm >= 1);
    assert_true(la == lb);
    assert_clg_ok(clg_graph_param_read(a.g, 0, wa));
    assert_clg_ok(clg_graph_param_read(b.g, 0, wb));
    assert_memory_equal(wa, wb, sizeof wa);
    clg_launch_list_free(&l);
    assert_int_equal(l.n, 0);
    clg_graph_destroy(a.g);
    clg_graph_destroy(b.g);
    clg_ctx_destroy(ctx);
}

static void expect_same_list(const clg_launch_list *a, const clg_launch_list *b)
{
    assert_int_equal(a->nprograms, b->nprograms);
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->nprograms; i++) {
        assert_string_equal(a->source[i], b->source[i]);
        assert_string_equal(a->options[i], b->options[i]);
    }
    for (int i = 0; i < a->n; i++) {
        const clg_launch *p = &a->launch[i], *q = &b->launch[i];
        assert_int_equal(p->program, q->program);
        assert_string_equal(p->kernel, q->kernel);
        assert_int_equal(p->dims, q->dims);
        assert_memory_equal(p->global, q->global, sizeof p->global);
        assert_memory_equal(p->local, q->local, sizeof p->local);
        assert_int_equal(p->nargs, q->nargs);
        for (int j = 0; j < p->nargs; j++) {
            assert_int_equal(p->args[j].kind, q->args[j].kind);
            assert_true(p->args[j].size == q->args[j].size);
            assert_memory_equal(p->args[j].value, q->args[j].value, 8);
        }
    }
}

static int stop_now(void *user)
{
    ++*(int *)user;
    return 1;
}

/* A launch list's file: written and read back field for field; every truncation, a flipped byte, a
 * foreign file and a missing one are clear errors that leave the list empty.  Replay: the list's
 * launches run on a ctx of their own (the GEMM description: on PoCL the tiled Aᵀ·B and A·Bᵀ, then
 * the step) and a stop answer ends it before the first build. */
static void test_launch_list_file(void **s)
{
    (void)s;
    enum { N = 24 };
    float x[N * MLP_D];
    int32_t y[N];
    mlp a;
    clg_ctx *ctx = describe_setup(&a, x, y, N, 78);
    if (!ctx) {
        skip();
        return;
    }
    clg_launch_list l, back;
    assert_clg_ok(clg_graph_describe_step(a.g, &l));
    char path[96];
    snprintf(path, sizeof path, "/tmp/clgrad-test-launches-%ld-%d", (long)getpid(), tdev->platform_index);
    assert_clg_ok(clg_launch_list_save(&l, path));
    assert_clg_ok(clg_launch_list_load(path, &back));
    expect_same_list(&l, &back);
    clg_launch_list_free(&back);

    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    unsigned char *bytes = malloc((size_t)size);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    for (long cut = 0; cut < size; cut += cut < 64 ? 1 : 97) {
        f = fopen(path, "wb");
        fwrite(bytes, 1, (size_t)cut, f);
        fclose(f);
        memset(&back, 0x5a, sizeof back);
        assert_clg_status(clg_launch_list_load(path, &back), CLG_ERR_FORMAT);
        assert_true(back.n == 0 && back.nprograms == 0 && !back.launch);
    }
    bytes[size / 2] ^= 0x10;
    f = fopen(path, "wb");
    fwrite(bytes, 1, (size_t)size, f);
    fclose(f);
    assert_clg_status(clg_launch_list_load(path, &back), CLG_ERR_FORMAT);
    assert_non_null(strstr(clg_last_error(), "checksum"));
    free(bytes);
    unlink(path);
    assert_clg_status(clg_launch_list_load(path, &back), CLG_ERR_IO);

    clg_ctx *other;
    assert_clg_ok(clg_ctx_create(tdev, NULL, &other));
    clg_launch_list gl;
    assert_clg_ok(clg_ctx_describe_gemm(other, &gl));
    assert_true(gl.n == 0 || gl.n == 2); /* the tiled path's Aᵀ·B and A·Bᵀ, or none */
    for (int i = 0; i < gl.n; i++)
        assert_non_null(strstr(gl.launch[i].kernel, "gemm"));
    if (!strcmp(tdev->platform_name, "Portable Computing Language")) {
        /* one program, the tiles program, which every GEMM launch of the step also names: the
         * helper's first build is all the step's GEMM kernels need */
        assert_int_equal(gl.n, 2);
        assert_int_equal(gl.nprograms, 1);
        int gemms = 0;
        for (int i = 0; i < l.n; i++)
            if (!strncmp(l.launch[i].kernel, "gemm_", 5)) {
                gemms++;
                assert_string_equal(l.options[l.launch[i].program], gl.options[0]);
                assert_string_equal(l.source[l.launch[i].program], gl.source[0]);
            }
        assert_true(gemms >= 3);
    }
    assert_clg_ok(clg_launch_list_replay(other, &gl, 1, NULL, NULL));
    clg_launch_list_free(&gl);
    int asked = 0;
    assert_clg_ok(clg_launch_list_replay(other, &l, 1, stop_now, &asked));
    assert_int_equal(asked, 1);
    uint64_t before = clg_ctx_launch_count(other);
    assert_clg_ok(clg_launch_list_replay(other, &l, 1, NULL, NULL));
    assert_true(clg_ctx_launch_count(other) == before); /* its own launches, not the ctx's ops */
    clg_ctx_destroy(other);
    clg_launch_list_free(&l);
    clg_graph_destroy(a.g);
    clg_ctx_destroy(ctx);
}

static void mlp_train(float *losses, int steps, uint64_t seed) { mlp_train_fuse(losses, steps, seed, 1, NULL); }

static void test_mlp_train(void **s)
{
    (void)s;
    if (skip_unless_ops(mlp_ops, 4) || !optim_available(CLG_OPTIM_ADAM)) {
        skip();
        return;
    }
    enum { STEPS = 60 };
    float l1[STEPS], l2[STEPS];
    mlp_train(l1, STEPS, 7);
    assert_true(l1[0] > 0.5f);
    if (!(l1[STEPS - 1] < 0.05f))
        fail_msg("loss after %d steps: %g (first %g), want < 0.05", STEPS, l1[STEPS - 1], l1[0]);
    mlp_train(l2, STEPS, 7);
    assert_memory_equal(l1, l2, sizeof l1); /* bit-identical */
}

/* Pipelined steps: clg_graph_step_async with clg_graph_loss_wait one step behind, the host batch
 * alternating between two buffers (each refilled only after the step that read it has run), gives
 * the same losses and parameters, bit for bit, as clg_graph_step(g, &loss) on fixed batches; one
 * blocking read per waited loss and none per step; losses no longer held, not run asynchronously,
 * or dropped by a new plan are CLG_ERR_STATE; pending reads at destroy are waited for (ASan). */
static void test_step_async(void **s)
{
    (void)s;
    if (skip_unless_ops(mlp_ops, 4) || !optim_available(CLG_OPTIM_ADAM)) {
        skip();
        return;
    }
    enum { N = 64, K = 3, STEPS = 9 };
    static float x[K][N * MLP_D], hx[2][N * MLP_D];
    static int32_t y[K][N], hy[2][N];
    for (int k = 0; k < K; k++)
        blobs(x[k], y[k], N, MLP_D, MLP_C, 100 + (uint64_t)k);
    clg_optim_options o = clg_optim_defaults(CLG_OPTIM_ADAM);
    o.lr = 0.03f;
    mlp a, b;
    mlp_build(&a, N, MLP_D, MLP_H, MLP_C, CLG_OP_RELU, 11);
    mlp_build(&b, N, MLP_D, MLP_H, MLP_C, CLG_OP_RELU, 11);
    float want[STEPS], got[STEPS];
    assert_clg_ok(clg_graph_set_optimizer(a.g, &o));
    assert_clg_ok(clg_graph_plan(a.g, CLG_PLAN_TRAIN));
    for (int i = 0; i < STEPS; i++) {
        assert_clg_ok(clg_graph_set_input(a.g, a.x, x[i % K]));
        assert_clg_ok(clg_graph_set_input(a.g, a.y, y[i % K]));
        assert_clg_ok(clg_graph_step(a.g, &want[i]));
    }
    assert_clg_status(clg_graph_step_async(b.g), CLG_ERR_STATE); /* not planned */
    assert_clg_ok(clg_graph_set_optimizer(b.g, &o));
    assert_clg_ok(clg_graph_plan(b.g, CLG_PLAN_TRAIN));
    clg_graph_stats s0, s1;
    assert_clg_ok(clg_graph_stats_get(b.g, &s0));
    for (int i = 0; i < STEPS; i++) {
        memcpy(hx[i & 1], x[i % K], sizeof hx[0]);
        memcpy(hy[i & 1], y[i % K], sizeof hy[0]);
        assert_clg_ok(clg_graph_set_input(b.g, b.x, hx[i & 1]));
        assert_clg_ok(clg_graph_set_input(b.g, b.y, hy[i & 1]));
        assert_clg_ok(clg_graph_step_async(b.g));
        if (i == 0) {
            assert_clg_ok(clg_graph_stats_get(b.g, &s1));
            assert_int_equal(s1.blocking_reads, s0.blocking_reads);
        } else {
            assert_clg_ok(clg_graph_loss_wait(b.g, i - 1, &got[i - 1]));
            memset(hx[(i - 1) & 1], 0xff, sizeof hx[0]); /* step i - 1 has run: its batch is free */
            memset(hy[(i - 1) & 1], 0xff, sizeof hy[0]);
        }
    }
    assert_clg_ok(clg_graph_loss_wait(b.g, STEPS - 1, &got[STEPS - 1]));
    assert_clg_ok(clg_graph_stats_get(b.g, &s1));
    assert_int_equal(s1.blocking_reads - s0.blocking_reads, STEPS);
    assert_int_equal(s1.steps, STEPS);
    assert_memory_equal(got, want, sizeof want);
    float again = -1;
    assert_clg_ok(clg_graph_loss_wait(b.g, STEPS - 1, &again)); /* held until replaced */
    assert_memory_equal(&again, &want[STEPS - 1], sizeof again);
    size_t na, nb;
    float *pa = clg_test_params(a.g, &na), *pb = clg_test_params(b.g, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, na * sizeof *pa);
    free(pa);
    free(pb);
    /* steps 0 .. STEPS - 1 - CLG_GRAPH_LOSSES_HELD are replaced; a step from clg_graph_step is not held */
    float l;
    assert_clg_status(clg_graph_loss_wait(b.g, STEPS - 1 - CLG_GRAPH_LOSSES_HELD, &l), CLG_ERR_STATE);
    assert_non_null(strstr(clg_last_error(), "no loss held for step"));
    assert_clg_status(clg_graph_loss_wait(b.g, -1, &l), CLG_ERR_STATE);
    assert_clg_status(clg_graph_loss_wait(b.g, STEPS - 1, NULL), CLG_ERR_INVALID_ARG);
    assert_clg_ok(clg_graph_step(b.g, NULL));
    assert_clg_status(clg_graph_loss_wait(b.g, STEPS, &l), CLG_ERR_STATE);
    assert_clg_ok(clg_graph_loss_wait(b.g, STEPS - CLG_GRAPH_LOSSES_HELD, &l)); /* still held */
    assert_memory_equal(&l, &want[STEPS - CLG_GRAPH_LOSSES_HELD], sizeof l);
    assert_clg_ok(clg_graph_step_async(b.g));
    assert_clg_ok(clg_graph_plan(b.g, CLG_PLAN_TRAIN)); /* drops the held losses */
    assert_clg_status(clg_graph_loss_wait(b.g, STEPS + 1, &l), CLG_ERR_STATE);
    assert_clg_ok(clg_graph_step_async(b.g));
    assert_clg_ok(clg_graph_step_async(b.g)); /* left pending: clg_graph_destroy waits */
    clg_graph_destroy(b.g);
    assert_clg_ok(clg_ctx_finish(tctx));
    clg_graph_destroy(a.g);
}

/* Fusion on and off: the same loss trajectory (within float rounding: bias gradients are summed in
 * another order), fewer launches per step with fusion; gradients vs FD with fusion off too. */
static void test_fusion_on_off(void **s)
{
    (void)s;
    if (skip_unless_ops(mlp_ops, 4) || !optim_available(CLG_OPTIM_ADAM)) {
        skip();
        return;
    }
    enum { STEPS = 30 };
    float l1[STEPS], l2[STEPS];
    uint64_t n1 = 0, n2 = 0;
    mlp_train_fuse(l1, STEPS, 7, 1, &n1);
    mlp_train_fuse(l2, STEPS, 7, 0, &n2);
    for (int i = 0; i < STEPS; i++)
        if (!(fabsf(l1[i] - l2[i]) <= 1e-4f + 1e-3f * fabsf(l2[i])))
            fail_msg("step %d: loss %.9g with fusion, %.9g without", i, l1[i], l2[i]);
    assert_memory_equal(l1, l2, sizeof(float)); /* the first forward is bit-identical */
    /* 16 launches unfused; fused 9: add+relu and add into bias_act (forward 2 fewer), the
     * matmuls into linear (forward 2 fewer, and the backward's d copy for the logits), the loss's
     * gradient in its forward (ce_bwd) */
    if (!(n1 + 7 <= n2))
        fail_msg("launches per step: %llu with fusion, %llu without", (unsigned long long)n1,
                 (unsigned long long)n2);

    /* FD gradients with fusion off; a fused add cannot be read, the DOT keeps the built graph */
    mlp m;
    mlp_build(&m, 7, 5, 6, 3, CLG_OP_SIGMOID, 3);
    float x[7 * 5];
    int32_t y[7];
    fill_uniform(x, 35, -1, 1, 9);
    for (int i = 0; i < 7; i++)
        y[i] = (i * 5) % 3;
    assert_clg_ok(clg_graph_set_fusion(m.g, 0));
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_set_input(m.g, m.x, x));
    assert_clg_ok(clg_graph_set_input(m.g, m.y, y));
    float loss_off, loss_on;
    assert_clg_ok(clg_graph_step(m.g, &loss_off));
    check_param_grads_fd(m.g, m.loss, 1e-2, 2e-3, 8);
    assert_clg_ok(clg_graph_set_fusion(m.g, 1));
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_forward(m.g));
    int add1 = -1;
    for (int id = 0; id < clg_graph_node_count(m.g); id++)
        if (add1 < 0 && !strncmp(clg_graph_node_name(m.g, id), "add_", 4))
            add1 = id;
    assert_true(add1 >= 0);
    float tmp[7 * 6];
    assert_clg_status(clg_graph_read(m.g, add1, tmp), CLG_ERR_STATE);
    assert_non_null(strstr(clg_last_error(), "fused"));
    char *dot = NULL;
    size_t dlen = 0;
    FILE *f = open_memstream(&dot, &dlen);
    assert_non_null(f);
    assert_clg_ok(clg_graph_dot(m.g, f));
    fclose(f);
    char edge[32];
    snprintf(edge, sizeof edge, "n%d -> n%d;", add1, add1 + 1); /* add -> sigmoid stays drawn */
    assert_non_null(strstr(dot, edge));
    assert_non_null(strstr(dot, "xlabel=\"fused\""));
    assert_non_null(strstr(dot, "xlabel=\"linear\"")); /* matmul, add, sigmoid: linear:sigmoid */
    free(dot);
    /* a fused matmul cannot be read either; kept, it stays a node of its own and can */
    int mm1 = add1 - 1;
    assert_string_equal(clg_graph_node_name(m.g, mm1), "matmul_6");
    assert_clg_status(clg_graph_read(m.g, mm1, tmp), CLG_ERR_STATE);
    assert_clg_ok(clg_graph_keep(m.g, mm1));
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_forward(m.g));
    assert_clg_ok(clg_graph_read(m.g, mm1, tmp));
    /* the fused plan gives the same loss */
    assert_clg_ok(clg_graph_step(m.g, &loss_on));
    clg_graph_destroy(m.g);
    mlp_build(&m, 7, 5, 6, 3, CLG_OP_SIGMOID, 3);
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_TRAIN));
    assert_clg_ok(clg_graph_set_input(m.g, m.x, x));
    assert_clg_ok(clg_graph_set_input(m.g, m.y, y));
    assert_clg_ok(clg_graph_step(m.g, &loss_on));
    assert_true(loss_on == loss_off);
    check_param_grads_fd(m.g, m.loss, 1e-2, 2e-3, 8);
    assert_clg_ok(clg_ctx_finish(tctx));
    clg_graph_destroy(m.g);
}

/* The single-launch update over the optimizer arena (AdamW with weight decay and clipping, the
 * encoder frozen) equals per-parameter clg_adam_update / clip calls on a graph without optimizer
 * (within 1e-6 + 1e-5 relative: the global norm is summed over one flat tensor instead of four); the arena is re-laid out when the frozen set changes, keeping values and Adam state;
 * the optimizer (and the clipping) costs one launch each per step. */
static void expect_close_f(const float *got, const float *want, size_t n, const char *what, int p)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(got[i] - want[i]) <= 1e-6f + 1e-5f * fabsf(want[i])))
            fail_msg("%s %d [%zu]: %.9g (arena), %.9g (per param)", what, p, i, got[i], want[i]);
}

static void test_arena_matches_per_param(void **s)
{
    (void)s;
    if (skip_unless_ops(mlp_ops, 4) || !optim_available(CLG_OPTIM_ADAMW)) {
        skip();
        return;
    }
    enum { N = 33, STEPS = 4 };
    float x[N * MLP_D];
    int32_t y[N];
    blobs(x, y, N, MLP_D, MLP_C, 98);
    mlp a, b;
    mlp_build(&a, N, MLP_D, MLP_H, MLP_C, CLG_OP_RELU, 6);
    mlp_build(&b, N, MLP_D, MLP_H, MLP_C, CLG_OP_RELU, 6);
    clg_optim_options o = clg_optim_defaults(CLG_OPTIM_ADAMW);
    o.lr = 0.05f;
    o.weight_decay = 0.1f;
    o.clip_norm = 0.5f;
    assert_clg_ok(clg_graph_set_optimizer(a.g, &o));
    clg_optim_options none = clg_optim_defaults(CLG_OPTIM_NONE);
    assert_clg_ok(clg_graph_set_optimizer(b.g, &none));
    clg_tensor m[4], v[4], sq;
    clg_shape sc = SCALAR(CLG_F32);
    assert_clg_ok(clg_tensor_zeros(tctx, &sc, &sq));
    for (int p = 0; p < 4; p++) {
        clg_shape ps;
        assert_clg_ok(clg_graph_param_shape(b.g, p, &ps));
        assert_clg_ok(clg_tensor_zeros(tctx, &ps, &m[p]));
        assert_clg_ok(clg_tensor_zeros(tctx, &ps, &v[p]));
    }
    int64_t step = 0;
    for (int phase = 0; phase < 2; phase++) {
        /* phase 0: all trainable; phase 1: the encoder (group 0) frozen */
        assert_clg_ok(clg_graph_freeze_group(a.g, 0, phase));
        assert_clg_ok(clg_graph_freeze_group(b.g, 0, phase));
        assert_clg_ok(clg_graph_plan(a.g, CLG_PLAN_TRAIN));
        assert_clg_ok(clg_graph_plan(b.g, CLG_PLAN_TRAIN));
        for (int k = 0; k < STEPS; k++, step++) {
            assert_clg_ok(clg_graph_set_input(a.g, a.x, x));
            assert_clg_ok(clg_graph_set_input(a.g, a.y, y));
            assert_clg_ok(clg_graph_set_input(b.g, b.x, x));
            assert_clg_ok(clg_graph_set_input(b.g, b.y, y));
            assert_clg_ok(clg_graph_step(a.g, NULL));
            clg_graph_stats st;
            assert_clg_ok(clg_graph_stats_get(a.g, &st));
            uint64_t la = st.step_launches;
            assert_clg_ok(clg_graph_step(b.g, NULL));
            assert_clg_ok(clg_graph_stats_get(b.g, &st));
            /* a: + sq_norm partial, final, clip, adam; b: no optimizer */
            assert_int_equal(la, st.step_launches + 4);
            clg_tensor *gr[4], *val[4];
            int nt = 0;
            for (int p = phase ? 2 : 0; p < 4; p++) {
                assert_clg_ok(clg_graph_param_tensor(b.g, p, CLG_STATE_GRAD, &gr[nt]));
                assert_clg_ok(clg_graph_param_tensor(b.g, p, CLG_STATE_VALUE, &val[nt]));
                nt++;
            }
            assert_clg_ok(clg_grad_sq_norm(tctx, (const clg_tensor *const *)gr, nt, &sq));
            assert_clg_ok(clg_grad_clip(tctx, gr, nt, &sq, o.clip_norm));
            for (int j = 0; j < nt; j++) {
                int p = j + (phase ? 2 : 0);
                assert_clg_ok(clg_adam_update(tctx, val[j], gr[j], &m[p], &v[p], clg_optim_lr_at(&o, step), o.beta1,
                                              o.beta2, o.eps, o.weight_decay, 1, (int)step + 1));
            }
        }
        for (int p = 0; p < 4; p++) {
            float pa[MLP_D * MLP_H], pb[MLP_D * MLP_H], ma[MLP_D * MLP_H], mb[MLP_D * MLP_H];
            clg_shape ps;
            assert_clg_ok(clg_graph_param_shape(a.g, p, &ps));
            size_t bytes = (size_t)clg_shape_numel(&ps) * 4;
            assert_clg_ok(clg_graph_param_read(a.g, p, pa));
            assert_clg_ok(clg_graph_param_read(b.g, p, pb));
            expect_close_f(pa, pb, bytes / 4, "param", p);
            clg_tensor *t;
            assert_clg_ok(clg_graph_param_tensor(a.g, p, CLG_STATE_ADAM_V, &t));
            assert_non_null(t);
            assert_clg_ok(clg_tensor_read(t, ma));
            assert_clg_ok(clg_tensor_read(&v[p], mb));
            expect_close_f(ma, mb, bytes / 4, "Adam v", p);
        }
    }
    /* the clipping kicked in (the sum of squared gradients is above 0.25 at the start) and the
     * frozen encoder kept its values through the re-layout */
    for (int p = 0; p < 4; p++) {
        clg_tensor_free(&m[p]);
        clg_tensor_free(&v[p]);
    }
    clg_tensor_free(&sq);
    assert_clg_ok(clg_ctx_finish(tctx));
    clg_graph_destroy(a.g);
    clg_graph_destroy(b.g);
}

/* A new head on a frozen encoder: the encoder does not move, the head does. */
static void test_mlp_frozen_encoder(void **s)
{
    (void)s;
    if (skip_unless_ops(mlp_ops, 4) || !optim_available(CLG_OPTIM_SGD)) {
        skip();
        return;
    }
    enum { N = 33 };
    float x[N * MLP_D];
    int32_t y[N];
    blobs(x, y, N, MLP_D, MLP_C, 99);
    mlp m;
    mlp_build(&m, N, MLP_D, MLP_H, MLP_C, CLG_OP_RELU, 5);
    clg_optim_options o = clg_optim_defaults(CLG_OPTIM_SGD);
    o.lr = 0.1f;
    o.momentum = 0.9f;
    assert_clg_ok(clg_graph_set_optimizer(m.g, &o));
    assert_clg_ok(clg_graph_freeze_group(m.g, 0, 1));
    assert_clg_ok(clg_graph_plan(m.g, CLG_PLAN_TRAIN));
    float w1a[MLP_D * MLP_H], w1b[MLP_D * MLP_H], w2a[MLP_H * MLP_C], w2b[MLP_H * MLP_C];
    assert_clg_ok(clg_graph_param_read(m.g, 0, w1a));
    assert_clg_ok(clg_graph_param_read(m.g, 2, w2a));
    assert_clg_ok(clg_graph_set_input(m.g, m.x, x));
    assert_clg_ok(clg_graph_set_input(m.g, m.y, y));
    float first, last;
    assert_clg_ok(clg_graph_step(m.g, &first));
    for (int i = 0; i < 20; i++)
        assert_clg_ok(clg_graph_step(m.g, NULL));
    assert_clg_ok(clg_graph_step(m.g, &last));
    assert_true(last < first);
    assert_clg_ok(clg_graph_param_read(m.g, 0, w1b));
    assert_clg_ok(clg_graph_param_read(m.g, 2, w2b));
    assert_memory_equal(w1a, w1b, sizeof w1a);
    assert_memory_not_equal(w2a, w2b, sizeof w2a);
    clg_tensor *t;
    assert_clg_ok(clg_graph_param_tensor(m.g, 2, CLG_STATE_VELOCITY, &t));
    assert_non_null(t);
    assert_clg_ok(clg_graph_param_tensor(m.g, 0, CLG_STATE_VELOCITY, &t));
    assert_null(t);
    assert_clg_ok(clg_ctx_finish(tctx));
    clg_graph_destroy(m.g);
}

/* ---- device memory ------------------------------------------------------------------------------ */

/* y = x·w with x [r,1] and w [1,c]: a big output from small inputs (nothing big is allocated
 * before the plan). */
static int outer(clg_graph *g, int64_t r, int64_t c, int keep)
{
    clg_shape sx = SHAPE2(CLG_F32, r, 1), sw = SHAPE2(CLG_F32, 1, c);
    int x, w, y;
    char nx[32], nw[32];
    snprintf(nx, sizeof nx, "x%d", clg_graph_node_count(g));
    snprintf(nw, sizeof nw, "w%d", clg_graph_node_count(g));
    assert_clg_ok(clg_graph_input(g, nx, &sx, &x));
    assert_clg_ok(clg_graph_input(g, nw, &sw, &w));
    assert_clg_ok(clg_graph_op(g, CLG_OP_MATMUL, (int[]){ x, w }, 2, NULL, &y));
    if (keep)
        assert_clg_ok(clg_graph_keep(g, y));
    return y;
}

/* A plan larger than the device's global memory fails before allocating, naming the size asked for
 * and the size available; so does a pool larger than one allocation may be. */
static void test_plan_exceeds_device_memory(void **s)
{
    (void)s;
    uint64_t gm = tdev->global_mem, ma = tdev->max_alloc ? tdev->max_alloc : gm;
    /* outputs of at most half an allocation (and < 2^31 elements), enough of them to pass global memory */
    uint64_t each = ma / 2 < (1ull << 33) ? ma / 2 : (1ull << 33) - 4;
    int64_t r = 4096, c = (int64_t)(each / 4 / (uint64_t)r);
    uint64_t bytes = (uint64_t)r * (uint64_t)c * 4;
    int k = (int)(gm / bytes) + 1;
    clg_graph *g;
    assert_clg_ok(clg_graph_create(tctx, &g));
    for (int i = 0; i < k; i++)
        outer(g, r, c, 1);
    assert_int_equal(clg_graph_plan(g, CLG_PLAN_INFERENCE), CLG_ERR_OUT_OF_MEMORY);
    const char *m = clg_last_error();
    char want[64];
    snprintf(want, sizeof want, "%llu bytes", (unsigned long long)gm);
    if (!strstr(m, want) || !strstr(m, "of global memory"))
        fail_msg("message \"%s\" lacks \"%s\"", m, want);
    snprintf(want, sizeof want, "needs %llu bytes", (unsigned long long)((uint64_t)k * (bytes + (uint64_t)(r + c) * 4)));
    if (!strstr(m, want))
        fail_msg("message \"%s\" lacks \"%s\"", m, want);
    assert_non_null(strstr(m, tdev->name));
    clg_graph_destroy(g);

    /* a pool holding two live outputs of 0.6 allocation each, where global memory holds them */
    uint64_t big = ma / 10 * 6;
    c = (int64_t)(big / 4 / (uint64_t)r);
    bytes = (uint64_t)r * (uint64_t)c * 4;
    if (ma > (1ull << 33) || 3 * bytes + (1u << 20) > gm) {
        print_message("(pool over max alloc: not testable on %s: %llu MiB global, %llu MiB per allocation)\n",
                      tdev->name, (unsigned long long)(gm >> 20), (unsigned long long)(ma >> 20));
        return;
    }
    assert_clg_ok(clg_graph_create(tctx, &g));
    int y1 = outer(g, r, c, 0), y2, y3;
    clg_attrs a = clg_attrs_defaults();
    assert_clg_ok(clg_graph_op(g, CLG_OP_RELU, (int[]){ y1 }, 1, &a, &y2));
    assert_clg_ok(clg_graph_op(g, CLG_OP_RELU, (int[]){ y2 }, 1, &a, &y3));
    assert_int_equal(clg_graph_plan(g, CLG_PLAN_INFERENCE), CLG_ERR_OUT_OF_MEMORY);
    m = clg_last_error();
    assert_non_null(strstr(m, "activation pool"));
    snprintf(want, sizeof want, "at most %llu bytes", (unsigned long long)ma);
    assert_non_null(strstr(m, want));
    clg_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_errors),   cmocka_unit_test(test_autodiff_chain),
        cmocka_unit_test(test_autodiff_fanout), cmocka_unit_test(test_plan_chain),
        cmocka_unit_test(test_blocking_reads), cmocka_unit_test(test_freeze),
        cmocka_unit_test(test_dot),            cmocka_unit_test(test_profile),
        cmocka_unit_test(test_param_init),     cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_mlp_gradients),  cmocka_unit_test(test_mlp_train), cmocka_unit_test(test_step_async),
        cmocka_unit_test(test_mlp_frozen_encoder), cmocka_unit_test(test_fusion_on_off),
        cmocka_unit_test(test_fused_loss),     cmocka_unit_test(test_metric),
        cmocka_unit_test(test_describe_step),
        cmocka_unit_test(test_launch_list_file),
        cmocka_unit_test(test_arena_matches_per_param), cmocka_unit_test(test_plan_exceeds_device_memory),
        cmocka_unit_test(test_const),
    };
    return clg_test_run_per_device("graph", tests, sizeof tests / sizeof tests[0]);
}
