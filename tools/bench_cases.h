/* bench_cases.h — the op cases that bench_ops and `clgrad bench` time (one table) and the peak FLOP/s
 * measurement of `clgrad bench` and `train --profile`, in the cli_util library. */
#ifndef CLGRAD_BENCH_CASES_H
#define CLGRAD_BENCH_CASES_H

#include <stddef.h>
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

/* The device's peak FLOP/s as `clgrad bench` measures it: 8 independent multiply-add chains per
 * work-item (fma() where the ctx's device fuses in hardware, else mad()) of float, float4, float8
 * and float16 (runtimes vectorise differently), over max(8192, 2048 x compute_units) work-items,
 * iterations calibrated to ~target_s per launch, then reps (1..64) timed launches (enqueue +
 * finish) of each.  The variant with the best median wins: rates[0..reps) gets its FLOP/s per
 * launch, ascending, *width its vector width, *launch_s (may be NULL) the seconds of its fastest
 * launch (about target_s: a first, untimed launch compiles the kernel where the driver compiles at
 * launch, as PoCL does).  Builds a small program (from the caches when warm);
 * with target_s 0.01 and 3 reps the whole takes ~0.3 s on a 2-core CPU (0.02: ~0.5 s).  On failure
 * why (may be truncated) says which part failed. */
clg_status bench_peak_flops(clg_ctx *ctx, int compute_units, double target_s, int reps, double *rates, int *width,
                            double *launch_s, char *why, size_t why_size);

#endif
