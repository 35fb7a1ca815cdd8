/* env.c — the CLGRAD_* environment variables checked once, when a ctx is created: a malformed or
 * unknown value is an error naming the variable, never silently ignored. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The variables that take one of a fixed set of words ("" = unset, always allowed). */
static const struct {
    const char *name;
    const char *words[6];
} enums[] = {
    { "CLGRAD_GEMM", { "tiled", "local", "simple", "clblast" } },
    { "CLGRAD_GEMM_KERNEL", { "block", "tiled", "tiled_k" } },
    { "CLGRAD_GEMM_NT", { "transpose", "direct" } },
    { "CLGRAD_VEC_KERNELS", { "0", "1" } },
    { "CLGRAD_FUSE", { "0", "1" } },
    { "CLGRAD_CACHE", { "0", "off", "1", "on", "2", "force" } },
};

/* The variables that take n comma-separated integers, each in [lo, hi]. */
static const struct {
    const char *name;
    int n;
    long lo, hi;
    const char *form;
} lists[] = {
    { "CLGRAD_GEMM_TILE", 3, 1, 16, "TM,VW,NV with TM 1..16, VW 4, 8 or 16, NV 1..4" },
    { "CLGRAD_GEMM_BLOCK", 3, 1, 4096, "MB,NB,KB with MB, NB 1..1024 and KB 1..4096" },
    { "CLGRAD_GEMM_RM", 1, 1, 1 << 20, "a positive count" },
    { "CLGRAD_GEMM_WG", 2, 0, 1 << 16, "X,Y work-group sizes (0,0: the driver's choice)" },
};

/* n integers from "a,b,c" into v (whole string, each in [lo, hi]); 0 on success. */
static int parse_ints(const char *s, int n, long lo, long hi, long *v)
{
    for (int i = 0; i < n; i++) {
        char *e;
        if (*s < '0' || *s > '9')
            return 1;
        errno = 0;
        v[i] = strtol(s, &e, 10);
        if (errno || v[i] < lo || v[i] > hi || *e != (i + 1 < n ? ',' : 0))
            return 1;
        s = e + (i + 1 < n);
    }
    return 0;
}

clg_status clg__env_check(void)
{
    for (size_t i = 0; i < sizeof enums / sizeof enums[0]; i++) {
        const char *e = getenv(enums[i].name);
        if (!e || !*e)
            continue;
        int ok = 0;
        char known[96] = "";
        for (int w = 0; w < 6 && enums[i].words[w]; w++) {
            ok |= !strcmp(e, enums[i].words[w]);
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", w ? ", " : "", enums[i].words[w]);
        }
        if (!ok)
            return clg__fail(CLG_ERR_INVALID_ARG, "environment variable %s='%s' is not one of: %s", enums[i].name, e,
                             known);
    }
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const char *e = getenv(lists[i].name);
        long v[3];
        if (!e || !*e)
            continue;
        int bad = parse_ints(e, lists[i].n, lists[i].lo, lists[i].hi, v);
        if (!bad && !strcmp(lists[i].name, "CLGRAD_GEMM_TILE"))
            bad = !clg__gemm_tile_ok(v[0], v[1], v[2]);
        if (!bad && !strcmp(lists[i].name, "CLGRAD_GEMM_BLOCK"))
            bad = v[0] > 1024 || v[1] > 1024;
        if (bad)
            return clg__fail(CLG_ERR_INVALID_ARG, "environment variable %s='%s' is malformed: expected %s",
                             lists[i].name, e, lists[i].form);
    }
    return CLG_OK;
}
