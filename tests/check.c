/* check.c — generic op checks: device forward vs double reference, device backward vs
 * central finite differences of the double reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref_ops.h"

double trng_uniform(trng *r)
{
    /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

void ref_alloc(ref_tensor *r, const clg_shape *s)
{
    r->s = *s;
    int64_t n = clg_shape_numel(s);
    r->d = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    assert_non_null(r->d);
}

void ref_free(ref_tensor *r)
{
    free(r->d);
    r->d = NULL;
}

void ref_upload(clg_ctx *ctx, const ref_tensor *r, clg_tensor *t)
{
    int64_t n = clg_shape_numel(&r->s);
    assert_clg_ok(clg_tensor_new(ctx, &r->s, t));
    void *h = malloc((size_t)(n > 0 ? n : 1) * 4);
    assert_non_null(h);
    for (int64_t i = 0; i < n; i++) {
        if (r->s.dtype == CLG_I32)
            ((int32_t *)h)[i] = (int32_t)r->d[i];
        else
            ((float *)h)[i] = (float)r->d[i];
    }
    assert_clg_ok(clg_tensor_write(t, h));
    free(h);
}

void ref_download(const clg_tensor *t, ref_tensor *r)
{
    ref_alloc(r, &t->s);
    int64_t n = clg_shape_numel(&t->s);
    void *h = malloc((size_t)(n > 0 ? n : 1) * 4);
    assert_non_null(h);
    assert_clg_ok(clg_tensor_read(t, h));
    for (int64_t i = 0; i < n; i++)
        r->d[i] = t->s.dtype == CLG_I32 ? (double)((int32_t *)h)[i] : (double)((float *)h)[i];
    free(h);
}

static void gen_input(const in_spec *sp, trng *g, ref_tensor *r)
{
    ref_alloc(r, &sp->s);
    int64_t n = clg_shape_numel(&sp->s);
    double lo = sp->lo, hi = sp->hi;
    switch (sp->kind) {
    case IN_UNIFORM:
        if (lo == 0 && hi == 0) { lo = -1; hi = 1; }
        break;
    case IN_POSITIVE:
        if (lo == 0 && hi == 0) { lo = 0.1; hi = 2; }
        break;
    case IN_INDEX:
        break;
    case IN_MASK:
        if (lo == 0) lo = 0.5;
        break;
    }
    for (int64_t i = 0; i < n; i++) {
        double u = trng_uniform(g);
        switch (sp->kind) {
        case IN_INDEX: r->d[i] = floor(lo + u * (hi - lo)); break;
        case IN_MASK: r->d[i] = u < lo ? 1.0 : 0.0; break;
        default: r->d[i] = (double)(float)(lo + u * (hi - lo)); break;
        }
    }
}

static const char *opname(const op_case *c) { return clg_op_name(c->op); }

/* Reference forward; fails the test if the reference is missing. */
static void ref_forward(const op_case *c, const ref_tensor *in, const clg_shape *os, ref_tensor *out)
{
    ref_alloc(out, os);
    int rc = ref_table[c->op](in, &c->attrs, out);
    if (rc != 0)
        fail_msg("%s: no reference implementation", opname(c));
}

static void infer_out(const op_case *c, const ref_tensor *in, clg_shape *os)
{
    const clg_shape *shp[4];
    for (int i = 0; i < c->nin; i++)
        shp[i] = &in[i].s;
    assert_clg_ok(clg_op_infer(c->op, shp, &c->attrs, os));
}

void check_op_forward(clg_ctx *ctx, const op_case *c, uint64_t seed)
{
    trng g = { seed };
    ref_tensor in[4];
    clg_tensor tin[4];
    const clg_tensor *tp[4];
    for (int i = 0; i < c->nin; i++) {
        gen_input(&c->in[i], &g, &in[i]);
        ref_upload(ctx, &in[i], &tin[i]);
        tp[i] = &tin[i];
    }
    clg_shape os;
    infer_out(c, in, &os);
    ref_tensor want;
    ref_forward(c, in, &os, &want);
    clg_tensor tout;
    assert_clg_ok(clg_tensor_new(ctx, &os, &tout));
    assert_clg_ok(clg_op_forward(ctx, c->op, tp, &tout, &c->attrs));
    assert_clg_ok(clg_ctx_finish(ctx));
    ref_tensor got;
    ref_download(&tout, &got);
    double atol = c->atol > 0 ? c->atol : 1e-5, rtol = c->rtol > 0 ? c->rtol : 1e-4;
    int64_t n = clg_shape_numel(&os);
    int64_t bad = -1;
    for (int64_t i = 0; i < n && bad < 0; i++) {
        double e = fabs(got.d[i] - want.d[i]);
        if (!(e <= atol + rtol * fabs(want.d[i])))
            bad = i;
    }
    char sb[96];
    if (bad >= 0)
        fail_msg("%s forward %s: element %lld is %.9g, reference %.9g (atol %g rtol %g)", opname(c),
                 clg_shape_str(&os, sb, sizeof sb), (long long)bad, got.d[bad], want.d[bad], atol, rtol);
    for (int i = 0; i < c->nin; i++) {
        clg_tensor_free(&tin[i]);
        ref_free(&in[i]);
    }
    clg_tensor_free(&tout);
    ref_free(&want);
    ref_free(&got);
}

static double weighted_loss(const op_case *c, const ref_tensor *in, const clg_shape *os, const ref_tensor *R)
{
    ref_tensor o;
    ref_forward(c, in, os, &o);
    double L = 0;
    int64_t n = clg_shape_numel(os);
    for (int64_t i = 0; i < n; i++)
        L += R->d[i] * o.d[i];
    ref_free(&o);
    return L;
}

void check_op_backward(clg_ctx *ctx, const op_case *c, uint64_t seed)
{
    trng g = { seed };
    ref_tensor in[4];
    clg_tensor tin[4], tgin[4];
    const clg_tensor *tp[4];
    clg_tensor *gp[4];
    for (int i = 0; i < c->nin; i++) {
        gen_input(&c->in[i], &g, &in[i]);
        ref_upload(ctx, &in[i], &tin[i]);
        tp[i] = &tin[i];
        gp[i] = NULL;
        if (in[i].s.dtype == CLG_F32 && !c->in[i].no_grad) {
            assert_clg_ok(clg_tensor_new(ctx, &in[i].s, &tgin[i]));
            gp[i] = &tgin[i];
        }
    }
    clg_shape os;
    infer_out(c, in, &os);
    ref_tensor R;
    ref_alloc(&R, &os);
    for (int64_t i = 0; i < clg_shape_numel(&os); i++)
        R.d[i] = (double)(float)(2 * trng_uniform(&g) - 1);
    clg_tensor tout, tR;
    assert_clg_ok(clg_tensor_new(ctx, &os, &tout));
    ref_upload(ctx, &R, &tR);
    assert_clg_ok(clg_op_forward(ctx, c->op, tp, &tout, &c->attrs));
    assert_clg_ok(clg_op_backward(ctx, c->op, tp, &tout, &tR, gp, &c->attrs, 0));
    assert_clg_ok(clg_ctx_finish(ctx));

    double gtol = c->gtol > 0 ? c->gtol : 2e-3;
    int max_fd = c->max_fd > 0 ? c->max_fd : 64;
    for (int i = 0; i < c->nin; i++) {
        if (!gp[i])
            continue;
        ref_tensor gd;
        ref_download(gp[i], &gd);
        int64_t n = clg_shape_numel(&in[i].s);
        double *fd = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
        char *checked = calloc((size_t)(n > 0 ? n : 1), 1);
        int64_t count = n < max_fd ? n : max_fd;
        double maxfd = 0;
        for (int64_t k = 0; k < count; k++) {
            int64_t j = n <= max_fd ? k : (int64_t)(trng_uniform(&g) * (double)n);
            double x0 = in[i].d[j];
            double h = 1e-6 * (fabs(x0) > 1 ? fabs(x0) : 1);
            in[i].d[j] = x0 + h;
            double lp = weighted_loss(c, in, &os, &R);
            in[i].d[j] = x0 - h;
            double lm = weighted_loss(c, in, &os, &R);
            in[i].d[j] = x0;
            fd[j] = (lp - lm) / (2 * h);
            checked[j] = 1;
            if (fabs(fd[j]) > maxfd)
                maxfd = fabs(fd[j]);
        }
        double tol = gtol * (maxfd > 1 ? maxfd : 1);
        for (int64_t j = 0; j < n; j++) {
            if (checked[j] && !(fabs(gd.d[j] - fd[j]) <= tol))
                fail_msg("%s backward: d/d input %d [%lld] = %.9g, finite difference %.9g (tol %g)",
                         opname(c), i, (long long)j, gd.d[j], fd[j], tol);
        }
        /* accumulate: a second backward with accumulate=1 must give 2x */
        assert_clg_ok(clg_op_backward(ctx, c->op, tp, &tout, &tR, (clg_tensor *const[]){
                                              i == 0 ? gp[0] : NULL, i == 1 ? gp[1] : NULL,
                                              i == 2 ? gp[2] : NULL, i == 3 ? gp[3] : NULL },
                                      &c->attrs, 1));
        ref_tensor g2;
        ref_download(gp[i], &g2);
        for (int64_t j = 0; j < n; j++)
            if (!(fabs(g2.d[j] - 2 * gd.d[j]) <= 1e-5 + 1e-4 * fabs(gd.d[j])))
                fail_msg("%s backward accumulate: input %d [%lld] = %.9g, expected 2 x %.9g", opname(c),
                         i, (long long)j, g2.d[j], gd.d[j]);
        ref_free(&g2);
        free(fd);
        free(checked);
        ref_free(&gd);
    }
    for (int i = 0; i < c->nin; i++) {
        if (gp[i])
            clg_tensor_free(gp[i]);
        clg_tensor_free(&tin[i]);
        ref_free(&in[i]);
    }
    clg_tensor_free(&tout);
    clg_tensor_free(&tR);
    ref_free(&R);
}
