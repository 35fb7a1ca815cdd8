/* ref_ops.h — plain-C double-precision reference of every op, and the generic op checkers.
 *
 * Each op `name` in clgrad/ops.def has `int ref_<name>(const ref_tensor *in, const clg_attrs *a,
 * ref_tensor *out)` in tests/ref_<family>.c.  The caller sets out->s (from clg_op_infer) and
 * allocates out->d; i32 tensors hold their integers as doubles.  Returns 0, or -1 if the
 * reference does not exist yet.
 */
#ifndef CLGRAD_REF_OPS_H
#define CLGRAD_REF_OPS_H

#include <stdint.h>
#include "clgrad/clgrad.h"

typedef struct ref_tensor {
    clg_shape s;
    double *d;
} ref_tensor;

typedef int (*ref_fn)(const ref_tensor *in, const clg_attrs *a, ref_tensor *out);

#define CLG_OP(ID, name, nin, family) int ref_##name(const ref_tensor *in, const clg_attrs *a, ref_tensor *out);
#include "clgrad/ops.def"
#undef CLG_OP

extern const ref_fn ref_table[CLG_OP_COUNT];

/* ---- generic checks driven by one case description ------------------------ */

typedef enum {
    IN_UNIFORM = 0,   /* f32 uniform in [lo, hi) (default [-1, 1)) */
    IN_POSITIVE,      /* f32 uniform in [lo, hi) with lo > 0 (default [0.1, 2)) */
    IN_INDEX,         /* i32 uniform integers in [lo, hi) */
    IN_MASK,          /* f32 0/1 with P(1) = lo (default 0.5) */
} in_kind;

typedef struct in_spec {
    clg_shape s;
    in_kind kind;
    double lo, hi;
    int no_grad;      /* 1: do not check this input's gradient */
} in_spec;

typedef struct op_case {
    clg_op op;
    int nin;
    in_spec in[4];
    clg_attrs attrs;
    double atol, rtol;    /* forward: |dev - ref| <= atol + rtol*|ref| (defaults 1e-5, 1e-4) */
    double gtol;          /* backward: |dev - fd| <= gtol * max(1, max|fd|)  (default 2e-3) */
    int max_fd;           /* at most this many elements per input are checked by FD (default 64) */
} op_case;

/* Helpers for building shapes in case tables. */
#define SHAPE1(dt, a) ((clg_shape){ .dtype = (dt), .ndim = 1, .dim = { (a) } })
#define SHAPE2(dt, a, b) ((clg_shape){ .dtype = (dt), .ndim = 2, .dim = { (a), (b) } })
#define SHAPE3(dt, a, b, c) ((clg_shape){ .dtype = (dt), .ndim = 3, .dim = { (a), (b), (c) } })
#define SHAPE4(dt, a, b, c, d) ((clg_shape){ .dtype = (dt), .ndim = 4, .dim = { (a), (b), (c), (d) } })
#define SCALAR(dt) ((clg_shape){ .dtype = (dt), .ndim = 0 })

/* Forward on the device vs the reference (cmocka assertions).  */
void check_op_forward(clg_ctx *ctx, const op_case *c, uint64_t seed);
/* Backward on the device vs central finite differences of sum(R * ref_forward(x)),
 * in double on the host; also checks that accumulate=1 adds. */
void check_op_backward(clg_ctx *ctx, const op_case *c, uint64_t seed);

/* Deterministic host random numbers for test data. */
typedef struct { uint64_t s; } trng;
double trng_uniform(trng *r);  /* [0, 1) */

/* Upload a reference tensor as a new device tensor (f32 or i32). */
void ref_upload(clg_ctx *ctx, const ref_tensor *r, clg_tensor *t);
/* Download a device tensor into a new reference tensor (caller frees ->d). */
void ref_download(const clg_tensor *t, ref_tensor *r);
void ref_alloc(ref_tensor *r, const clg_shape *s);
void ref_free(ref_tensor *r);

#endif
