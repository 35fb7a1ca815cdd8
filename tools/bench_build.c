/* bench_build.c — per device, time to build each embedded program cold vs from clgrad's binary cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clgrad/clgrad.h"
#include "util.h"
#include "clgrad/program.h"

/* Build program i on a fresh ctx with the given policy; seconds, or -1 on failure. */
static double timed_build(const clg_device_info *dev, int i, clg_cache_policy pol, clg_program_origin *origin)
{
    clg_ctx *ctx;
    if (clg_ctx_create(dev, NULL, &ctx) != CLG_OK) {
        fprintf(stderr, "bench_build: ctx on %s: %s\n", dev->name, clg_last_error());
        return -1;
    }
    clg_ctx_set_cache_policy(ctx, pol);
    clg_build_report r;
    double t0 = util_now();
    clg_status st = clg_ctx_build_program(ctx, i, &r);
    double t = util_now() - t0;
    clg_ctx_destroy(ctx);
    if (st != CLG_OK) {
        fprintf(stderr, "bench_build: %s on %s: %s\n", clg_program_name(i), dev->name, clg_last_error());
        return -1;
    }
    if (origin)
        *origin = r.origin;
    return t;
}

static const char *origin_name(clg_program_origin o)
{
    switch (o) {
    case CLG_ORIGIN_SOURCE: return "source";
    case CLG_ORIGIN_CACHE_HIT: return "hit";
    case CLG_ORIGIN_CACHE_STORED: return "stored";
    case CLG_ORIGIN_CACHE_REBUILT: return "rebuilt";
    }
    return "?";
}

static int bench_device(const clg_device_info *dev, int reps, const char *cache_dir)
{
    int np = clg_program_count(), failures = 0;
    printf("\n%d:%d %s — %s %s\n", dev->platform_index, dev->device_index, dev->name, dev->platform_name,
           dev->driver_version);
    /* one untimed build first, so the compiler's own start-up is not charged to the first program */
    clg_program_origin o;
    if (timed_build(dev, 0, CLG_CACHE_OFF, &o) < 0)
        return 1;
    printf("  %-18s %10s %10s %10s %8s\n", "program", "cold s", "store s", "cached s", "speedup");
    double tot_cold = 0, tot_hit = 0;
    double *v = malloc((size_t)reps * sizeof *v);
    for (int i = 0; i < np; i++) {
        double cold, store = -1, hit = -1;
        int ok = 1;
        for (int r = 0; r < reps && ok; r++)
            ok = (v[r] = timed_build(dev, i, CLG_CACHE_OFF, &o)) >= 0;
        if (!ok) {
            failures++;
            continue;
        }
        cold = util_sort_median(v, reps);
        util_rm_tree(cache_dir);
        store = timed_build(dev, i, CLG_CACHE_FORCE, &o);
        const char *note = "";
        if (store < 0) {
            failures++;
            continue;
        }
        if (o != CLG_ORIGIN_CACHE_STORED) {
            note = "  (driver gave no binary: cache not used)";
        } else {
            for (int r = 0; r < reps && ok; r++) {
                ok = (v[r] = timed_build(dev, i, CLG_CACHE_FORCE, &o)) >= 0;
                if (ok && o != CLG_ORIGIN_CACHE_HIT) {
                    fprintf(stderr, "bench_build: %s: expected a cache hit, got %s\n", clg_program_name(i),
                            origin_name(o));
                    ok = 0;
                }
            }
            if (!ok) {
                failures++;
                continue;
            }
            hit = util_sort_median(v, reps);
        }
        tot_cold += cold;
        if (hit >= 0) {
            tot_hit += hit;
            printf("  %-18s %10.3f %10.3f %10.4f %7.1fx\n", clg_program_name(i), cold, store, hit, cold / hit);
        } else {
            tot_hit += cold;
            printf("  %-18s %10.3f %10.3f %10s %8s%s\n", clg_program_name(i), cold, store, "-", "-", note);
        }
    }
    printf("  %-18s %10.3f %10s %10.4f %7.1fx\n", "total", tot_cold, "", tot_hit,
           tot_hit > 0 ? tot_cold / tot_hit : 0.0);
    free(v);
    util_rm_tree(cache_dir);
    return failures;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_build [--reps N] [--device SPEC]\n"
                    "Times building each embedded OpenCL program on every device (or SPEC):\n"
                    "cold (no cache anywhere) vs loaded from clgrad's binary cache (CLG_CACHE_FORCE),\n"
                    "medians of N fresh contexts (default 3).\n");
}

int main(int argc, char **argv)
{
    int reps = 3;
    const char *spec = NULL;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--reps") && a + 1 < argc) {
            if (util_parse_int("bench_build", "--reps", argv[++a], 1, 1000000, &reps))
                return 2;
        } else if (!strcmp(argv[a], "--device") && a + 1 < argc) {
            spec = argv[++a];
        } else {
            usage();
            return 2;
        }
    }
    if (reps < 1 || reps > 100) {
        usage();
        return 2;
    }
    /* Before any OpenCL call: the drivers read these once.  Cold must mean cold, so PoCL's kernel
     * cache and Mesa's shader cache (used by rusticl) are off for the whole run (also making the
     * "cached" column pay for what loading our binary really costs). */
    setenv("RUSTICL_ENABLE", "llvmpipe", 0);
    setenv("POCL_KERNEL_CACHE", "0", 1);
    setenv("MESA_SHADER_CACHE_DISABLE", "true", 1);
    char cache_dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(cache_dir, sizeof cache_dir, "%s/clgrad-bench-build-%ld", tmp && *tmp ? tmp : "/tmp",
             (long)getpid());
    setenv("CLGRAD_CACHE_DIR", cache_dir, 1);

    clg_device_info *devs = NULL, one;
    int n = 0;
    if (spec) {
        if (clg_device_select(spec, &one) != CLG_OK) {
            fprintf(stderr, "bench_build: %s\n", clg_last_error());
            return 1;
        }
        devs = &one;
        n = 1;
    } else if (clg_devices_list(&devs, &n) != CLG_OK) {
        fprintf(stderr, "bench_build: %s\n", clg_last_error());
        return 1;
    }
    printf("program build times, median of %d fresh contexts each; POCL_KERNEL_CACHE=0, "
           "MESA_SHADER_CACHE_DISABLE=true\n"
           "cold = CLGRAD_CACHE off; store = first CLG_CACHE_FORCE build (compile + write); "
           "cached = later CLG_CACHE_FORCE builds (load binary)\n",
           reps);
    int failures = 0;
    for (int d = 0; d < n; d++)
        failures += bench_device(&devs[d], reps, cache_dir);
    if (!spec)
        clg_devices_free(devs);
    return failures ? 1 : 0;
}
