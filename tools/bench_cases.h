/* bench_cases.h — the op cases that bench_ops and `clgrad bench` time: one table, in the cli_util library. */
#ifndef CLGRAD_BENCH_CASES_H
#define CLGRAD_BENCH_CASES_H

#include <stdint.h>

#include "clgrad/clgrad.h"

typedef enum { BIN_UNIFORM, BIN_POSITIVE, BIN_INDEX, BIN_MASK } bench_in_kind;

/* One input of a case: its shape and how its values are drawn. */
typedef struct bench_in {
    clg_shape s;
    bench_in_kind kind;
    double lo, hi;  /* value range; indices in [lo, hi); BIN_MASK: P(1) = lo */
    int no_grad;    /* backward does not ask for this input's gradient (targets, masks) */
} bench_in;

/* One case: an op, its inputs and attributes.  bench_ops times every case (forward, and backward
 * where the op has one and an f32 input takes a gradient); `clgrad bench` times those with a
 * bench_label, under the metric keys "op/<bench_label>/fwd" and ".../bwd" (kept stable: `bench
 * compare` pairs metrics of older files by key). */
typedef struct bench_case {
    clg_op op;
    int nin;
    bench_in in[4];
    clg_attrs a;            /* zero fields are the op's "unused"; ops that read axis/alpha set them */
    const char *note;       /* attrs worth showing in bench_ops' case column */
    const char *bench_label; /* NULL: not in `clgrad bench` */
    int bench_fwd_only;     /* `clgrad bench` times the forward only */
} bench_case;

extern const bench_case bench_cases[];
extern const int bench_ncases;

/* Upload t's values drawn as sp says from the splitmix64 stream *rng (util_u01). */
clg_status bench_fill(clg_tensor *t, const bench_in *sp, uint64_t *rng);

#endif
