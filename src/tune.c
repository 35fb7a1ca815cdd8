/* tune.c — lookup of the GEMM path and register tiles stored by `clgrad tune` in the cache dir. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "io_internal.h"

/* File <cache dir>/gemm_tune.txt, one line per device and shape class, tab-separated:
 *   device name \t driver version \t class \t TM,VW,NV | clblast | local | simple
 * (tiles mean the tiled path with that register tile; a name, that path for the class).
 * A line whose driver version differs from the device's is ignored (re-tune after an update).
 * The reader is strict and never fatal: a line that is not exactly four non-empty fields, a
 * value that is neither a path name nor three in-range numbers "TM,VW,NV" with nothing around
 * them, an overlong line, a file that is not regular (a FIFO) or over 1 MiB, is ignored (a
 * warning in the log) and the class keeps its default.  The first valid line of a class wins.
 * `clgrad tune` (tools/clgrad/cmd_tune.c) writes the file. */

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

/* "TM,VW,NV": three decimal numbers (at most 4 digits) and nothing else; 1 if so. */
static int parse_tile(const char *s, int v[3])
{
    for (int i = 0; i < 3; i++) {
        int x = 0, digits = 0;
        for (; *s >= '0' && *s <= '9'; s++)
            if (++digits > 4)
                return 0;
            else
                x = 10 * x + (*s - '0');
        if (!digits || (i < 2 && *s++ != ','))
            return 0;
        v[i] = x;
    }
    return *s == 0;
}

/* Split line (its newline removed) at tabs into exactly n non-empty fields; 1 if so. */
static int split_fields(char *line, char **f, int n)
{
    for (int i = 0; i < n; i++) {
        f[i] = line;
        char *t = strchr(line, '\t');
        if ((i < n - 1) != (t != NULL) || t == line || !*line)
            return 0;
        if (t) {
            *t = 0;
            line = t + 1;
        }
    }
    return 1;
}

#define TUNE_MAX_BYTES (1 << 20)

int clg__gemm_tile_ok(long tm, long vw, long nv)
{
    return tm >= 1 && tm <= 16 && (vw == 4 || vw == 8 || vw == 16) && nv >= 1 && nv <= 4;
}

int clg__gemm_tune_lookup(const char *dir, const clg_device_info *d, int cls, int *path_out, int *tm, int *vw,
                          int *nv)
{
    char path[1100], line[600];
    if (!dir || !*dir)
        return 0;
    snprintf(path, sizeof path, "%s/gemm_tune.txt", dir);
    if (access(path, F_OK) != 0)
        return 0;
    int fd;
    struct stat sb;
    if (clg__open_regular(path, "tuning file", &fd, &sb) != CLG_OK) {
        /* e.g. a FIFO put there: never wait on it, run untuned */
        clg__log(CLG_LOG_WARN, "%s; GEMM defaults used", clg_last_error());
        clg__clear_error();
        return 0;
    }
    FILE *f = sb.st_size <= TUNE_MAX_BYTES ? fdopen(fd, "rb") : NULL;
    if (!f) {
        clg__log(CLG_LOG_WARN, "%s: over %d bytes or unreadable, ignored", path, TUNE_MAX_BYTES);
        close(fd);
        return 0;
    }
    int found = 0, lineno = 0;
    const char *want = clg__gemm_class_name(cls);
    while (!found && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n') {
            line[--len] = 0;
        } else if (!feof(f)) {
            /* longer than any line of ours: skip the rest of it */
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            clg__log(CLG_LOG_WARN, "%s:%d: line too long, ignored", path, lineno);
            continue;
        }
        char *fld[4];
        if (!split_fields(line, fld, 4)) {
            clg__log(CLG_LOG_WARN, "%s:%d: not 4 tab-separated fields, ignored", path, lineno);
            continue;
        }
        if (strcmp(fld[0], d->name) || strcmp(fld[1], d->driver_version) || strcmp(fld[2], want))
            continue;
        const char *val = fld[3];
        int p = !strcmp(val, "clblast") ? CLG_GEMM_PATH_CLBLAST : !strcmp(val, "local") ? CLG_GEMM_PATH_LOCAL
              : !strcmp(val, "simple") ? CLG_GEMM_PATH_SIMPLE : -1;
        if (p >= 0) {
            *path_out = p;
            found = 1;
            continue;
        }
        int t[3];
        if (!parse_tile(val, t) || !clg__gemm_tile_ok(t[0], t[1], t[2])) {
            clg__log(CLG_LOG_WARN, "%s:%d: \"%s\" is neither a GEMM path nor a tile TM,VW,NV, ignored", path, lineno,
                     val);
            continue;
        }
        *path_out = CLG_GEMM_PATH_TILED;
        *tm = t[0];
        *vw = t[1];
        *nv = t[2];
        found = 1;
    }
    fclose(f);
    return found;
}
