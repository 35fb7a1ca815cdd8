/* tune.c — lookup of the GEMM path and register tiles stored by `clgrad tune` in the cache dir. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "io_internal.h"

/* File <cache dir>/gemm_tune.txt, one line per device and shape class, tab-separated:
 *   device name \t driver version \t class \t TM,VW,NV | clblast | local | simple
 * (tiles mean the tiled path with that register tile; a name, that path for the class).
 * A line whose driver version differs from the device's is ignored (re-tune after an update). */

int clg__gemm_class(int ta, int tb, int n)
{
    if (n < 32)
        return CLG_GEMM_CLASS_NARROW;
    if (ta)
        return CLG_GEMM_CLASS_TN;
    return tb ? CLG_GEMM_CLASS_NT : CLG_GEMM_CLASS_NN;
}

const char *clg__gemm_class_name(int cls)
{
    static const char *const names[CLG_GEMM_CLASSES] = { "nn", "tn", "nt", "narrow" };
    return cls >= 0 && cls < CLG_GEMM_CLASSES ? names[cls] : "?";
}

int clg__gemm_tune_lookup(const clg_device_info *d, int cls, int *path_out, int *tm, int *vw, int *nv)
{
    char dir[1024], path[1100], line[600];
    if (clg_cache_dir(dir, sizeof dir) != CLG_OK) {
        clg__clear_error();
        return 0;
    }
    snprintf(path, sizeof path, "%s/gemm_tune.txt", dir);
    FILE *f;
    if (access(path, F_OK) != 0)
        return 0;
    if (clg__fopen_regular(path, "tuning file", &f) != CLG_OK) {
        /* e.g. a FIFO put there: never wait on it, run untuned */
        clg__log(CLG_LOG_WARN, "%s; GEMM defaults used", clg_last_error());
        clg__clear_error();
        return 0;
    }
    int found = 0;
    const char *want = clg__gemm_class_name(cls);
    while (!found && fgets(line, sizeof line, f)) {
        char *sv = NULL;
        char *name = strtok_r(line, "\t\n", &sv), *drv = strtok_r(NULL, "\t\n", &sv);
        char *c = strtok_r(NULL, "\t\n", &sv), *val = strtok_r(NULL, "\t\n", &sv);
        int a, b, e;
        if (!name || !drv || !c || !val || strcmp(name, d->name) || strcmp(drv, d->driver_version) || strcmp(c, want))
            continue;
        int p = !strcmp(val, "clblast") ? CLG_GEMM_PATH_CLBLAST : !strcmp(val, "local") ? CLG_GEMM_PATH_LOCAL
              : !strcmp(val, "simple") ? CLG_GEMM_PATH_SIMPLE : -1;
        if (p >= 0) {
            *path_out = p;
            found = 1;
            continue;
        }
        if (sscanf(val, "%d,%d,%d", &a, &b, &e) != 3)
            continue;
        if (a < 1 || a > 16 || (b != 4 && b != 8 && b != 16) || e < 1 || e > 4)
            continue;
        *path_out = CLG_GEMM_PATH_TILED;
        *tm = a;
        *vw = b;
        *nv = e;
        found = 1;
    }
    fclose(f);
    return found;
}
