/* env.c — the CLGRAD_* environment variables, read and checked once when a ctx is created, into the
 * defaults of its options: a malformed or unknown value is an error naming the variable, never
 * silently ignored.  No other file reads the policy variables (CLGRAD_GEMM*, _VEC_KERNELS, _FUSE). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The variables that take one of a fixed set of words ("" = unset, always allowed); a word's
 * value is its index + 1 (0 = unset), which for the GEMM enums is the option's enum value. */
enum { E_GEMM, E_GEMM_KERNEL, E_GEMM_NT, E_VEC, E_FUSE, E_DENORM, E_CACHE, E_COUNT };
static const struct {
    const char *name;
    const char *words[6];
} enums[E_COUNT] = {
    [E_GEMM] = { "CLGRAD_GEMM", { "tiled", "local", "simple", "clblast" } },
    [E_GEMM_KERNEL] = { "CLGRAD_GEMM_KERNEL", { "block", "tiled", "tiled_k", "strip" } },
    [E_GEMM_NT] = { "CLGRAD_GEMM_NT", { "transpose", "direct" } },
    [E_VEC] = { "CLGRAD_VEC_KERNELS", { "0", "1" } },
    [E_FUSE] = { "CLGRAD_FUSE", { "0", "1" } },
    [E_DENORM] = { "CLGRAD_FLUSH_DENORMALS", { "0", "1" } },
    [E_CACHE] = { "CLGRAD_CACHE", { "0", "off", "1", "on", "2", "force" } },
};

/* The variables that take n comma-separated integers, each in [lo, hi]. */
enum { L_TILE, L_BLOCK, L_RM, L_WG, L_COUNT };
static const struct {
    const char *name;
    int n;
    long lo, hi;
    const char *form;
} lists[L_COUNT] = {
    [L_TILE] = { "CLGRAD_GEMM_TILE", 3, 1, 16, "TM,VW,NV with TM 1..16, VW 4, 8 or 16, NV 1..4" },
    [L_BLOCK] = { "CLGRAD_GEMM_BLOCK", 3, 1, 4096, "MB,NB,KB with MB, NB 1..1024 and KB 1..4096" },
    [L_RM] = { "CLGRAD_GEMM_RM", 1, 1, 1 << 20, "a positive count" },
    [L_WG] = { "CLGRAD_GEMM_WG", 2, 0, 1 << 16, "X,Y work-group sizes (0,0: the driver's choice)" },
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

/* The extra rules of the lists beyond their ranges (shared with clg__gemm_options_check). */
static int tile_bad(const long *v) { return !clg__gemm_tile_ok(v[0], v[1], v[2]); }
static int block_bad(const long *v) { return v[0] > 1024 || v[1] > 1024; }

/* Word variable i: 0 unset, else the index of its word + 1. */
static clg_status env_word(int i, int *out)
{
    *out = 0;
    const char *e = getenv(enums[i].name);
    if (!e || !*e)
        return CLG_OK;
    char known[96] = "";
    for (int w = 0; w < 6 && enums[i].words[w]; w++) {
        if (!strcmp(e, enums[i].words[w]))
            *out = w + 1;
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", w ? ", " : "", enums[i].words[w]);
    }
    if (!*out)
        return clg__fail(CLG_ERR_INVALID_ARG, "environment variable %s='%s' is not one of: %s", enums[i].name, e,
                         known);
    return CLG_OK;
}

/* List variable i into v: 0 unset, 1 set. */
static clg_status env_list(int i, long *v, int *set)
{
    *set = 0;
    const char *e = getenv(lists[i].name);
    if (!e || !*e)
        return CLG_OK;
    int bad = parse_ints(e, lists[i].n, lists[i].lo, lists[i].hi, v);
    if (!bad && i == L_TILE)
        bad = tile_bad(v);
    if (!bad && i == L_BLOCK)
        bad = block_bad(v);
    if (bad)
        return clg__fail(CLG_ERR_INVALID_ARG, "environment variable %s='%s' is malformed: expected %s",
                         lists[i].name, e, lists[i].form);
    *set = 1;
    return CLG_OK;
}

clg_status clg__env_options(clg_ctx_options *o, clg_cache_policy *cache)
{
    memset(o, 0, sizeof *o);
    int w[E_COUNT];
    clg_status st;
    for (int i = 0; i < E_COUNT; i++)
        if ((st = env_word(i, &w[i])))
            return st;
    long v[L_COUNT][3];
    int set[L_COUNT];
    for (int i = 0; i < L_COUNT; i++)
        if ((st = env_list(i, v[i], &set[i])))
            return st;
    o->gemm.path = (clg_gemm_path)w[E_GEMM];
    o->gemm.kernel = (clg_gemm_kernel)w[E_GEMM_KERNEL];
    o->gemm.nt = (clg_gemm_nt)w[E_GEMM_NT];
    static const clg_switch sw[3] = { CLG_SWITCH_DEFAULT, CLG_SWITCH_OFF, CLG_SWITCH_ON }; /* unset, "0", "1" */
    o->vec_kernels = sw[w[E_VEC]];
    o->fuse = sw[w[E_FUSE]];
    o->flush_denormals = sw[w[E_DENORM]];
    *cache = w[E_CACHE] == 0 ? CLG_CACHE_AUTO : w[E_CACHE] <= 2 ? CLG_CACHE_OFF
             : w[E_CACHE] <= 4 ? CLG_CACHE_AUTO : CLG_CACHE_FORCE;
    for (int j = 0; j < 3 && set[L_TILE]; j++)
        o->gemm.tile[j] = (int)v[L_TILE][j];
    for (int j = 0; j < 3 && set[L_BLOCK]; j++)
        o->gemm.block[j] = (int)v[L_BLOCK][j];
    if (set[L_RM])
        o->gemm.rm = (int)v[L_RM][0];
    if (set[L_WG]) {
        int drv = v[L_WG][0] == 0 || v[L_WG][1] == 0;
        o->gemm.wg[0] = drv ? CLG_GEMM_WG_DRIVER : (int)v[L_WG][0];
        o->gemm.wg[1] = drv ? CLG_GEMM_WG_DRIVER : (int)v[L_WG][1];
    }
    return CLG_OK;
}

clg_status clg__gemm_options_check(const clg_gemm_options *g)
{
    const char *bad = NULL;
    long t[3] = { g->tile[0], g->tile[1], g->tile[2] }, b[3] = { g->block[0], g->block[1], g->block[2] };
    int tile0 = !t[0] && !t[1] && !t[2], block0 = !b[0] && !b[1] && !b[2];
    if (g->path < CLG_GEMM_PATH_DEFAULT || g->path > CLG_GEMM_PATH_CLBLAST)
        bad = "path";
    else if (g->kernel < CLG_GEMM_KERNEL_DEFAULT || g->kernel > CLG_GEMM_KERNEL_STRIP)
        bad = "kernel";
    else if (g->nt < CLG_GEMM_NT_DEFAULT || g->nt > CLG_GEMM_NT_DIRECT)
        bad = "nt";
    else if (!tile0 && tile_bad(t))
        bad = "tile (TM 1..16, VW 4, 8 or 16, NV 1..4)";
    else if (!block0 && (b[0] < 1 || b[1] < 1 || b[2] < 1 || b[2] > 4096 || block_bad(b)))
        bad = "block (MB, NB 1..1024, KB 1..4096)";
    else if (g->rm < 0 || g->rm > 1 << 20)
        bad = "rm";
    else if (!(g->wg[0] == 0 && g->wg[1] == 0) &&
             !(g->wg[0] == CLG_GEMM_WG_DRIVER && g->wg[1] == CLG_GEMM_WG_DRIVER) &&
             !(g->wg[0] >= 1 && g->wg[1] >= 1 && g->wg[0] <= 1 << 16 && g->wg[1] <= 1 << 16))
        bad = "wg";
    return bad ? clg__fail(CLG_ERR_INVALID_ARG, "gemm options: bad %s", bad) : CLG_OK;
}

void clg__gemm_options_merge(const clg_gemm_options *over, const clg_gemm_options *under, clg_gemm_options *out)
{
    clg_gemm_options r = *under;
    if (over) {
        if (over->path)
            r.path = over->path;
        if (over->kernel)
            r.kernel = over->kernel;
        if (over->nt)
            r.nt = over->nt;
        if (over->tile[0] || over->tile[1] || over->tile[2])
            memcpy(r.tile, over->tile, sizeof r.tile);
        if (over->block[0] || over->block[1] || over->block[2])
            memcpy(r.block, over->block, sizeof r.block);
        if (over->rm)
            r.rm = over->rm;
        if (over->wg[0] || over->wg[1])
            memcpy(r.wg, over->wg, sizeof r.wg);
    }
    *out = r;
}
