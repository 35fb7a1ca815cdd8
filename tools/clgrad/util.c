/* util.c — CLI helpers: option parsing, progress bar, SVG loss curves. */
#include "util.h"
#include "clgrad/clgrad.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double util_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double util_sort_median(double *v, int n)
{
    if (n <= 0)
        return 0.0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int util_select_devices(const char *spec, clg_device_info **devs, int *ndev)
{
    if (!spec || !*spec)
        return clg_devices_list(devs, ndev) != CLG_OK;
    int cap = 1;
    for (const char *p = spec; *p; p++)
        cap += *p == ',';
    *devs = calloc((size_t)cap, sizeof **devs);
    *ndev = 0;
    if (!*devs)
        return 1;
    for (const char *p = spec; p;) {
        char one[256];
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        snprintf(one, sizeof one, "%.*s", (int)(l < sizeof one ? l : sizeof one - 1), p);
        if (clg_device_select(one, &(*devs)[*ndev])) {
            free(*devs);
            *devs = NULL;
            return 1;
        }
        (*ndev)++;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

void util_pin_pocl_workers(void)
{
    setenv("POCL_AFFINITY", "1", 0);
}

static cpu_set_t g_mask;   /* the process's CPUs, saved by util_pin_blas_threads */
static int g_mask_ok;

static int nth_cpu(int n)
{
    int count = CPU_COUNT(&g_mask);
    n %= count;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &g_mask) && n-- == 0)
            return c;
    return 0;
}

void util_pin_blas_threads(void)
{
    if (sched_getaffinity(0, sizeof g_mask, &g_mask) || CPU_COUNT(&g_mask) < 2)
        return;
    g_mask_ok = 1;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return;
    pid_t self = (pid_t)syscall(SYS_gettid);
    int k = 1;
    struct dirent *e;
    while ((e = readdir(d))) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0 || tid == self)
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(nth_cpu(k++), &one);
        sched_setaffinity(tid, sizeof one, &one);
    }
    closedir(d);
}

void util_pin_caller(int pin)
{
    if (!g_mask_ok)
        return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(nth_cpu(0), &one);
    sched_setaffinity(0, sizeof one, pin ? &one : &g_mask);
}

uint64_t util_splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double util_u01(uint64_t *s) { return (double)(util_splitmix64(s) >> 11) * 0x1.0p-53; }

int util_mkdir_p(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1;; p++)
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return 1;
            if (!c)
                return 0;
            *p = c;
        }
}

void util_rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[2048];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            util_rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

const char *util_opt(int argc, char **argv, char *used, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        if (used[i] || strncmp(argv[i], name, n) != 0)
            continue;
        if (argv[i][n] == '=') {
            used[i] = 1;
            return argv[i] + n + 1;
        }
        if (argv[i][n] == 0 && i + 1 < argc) {
            used[i] = used[i + 1] = 1;
            return argv[i + 1];
        }
    }
    return NULL;
}

int util_flag(int argc, char **argv, char *used, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (!used[i] && !strcmp(argv[i], name)) {
            used[i] = 1;
            return 1;
        }
    return 0;
}

char *util_args_begin(int argc, char **argv, void (*usage)(FILE *), int *rc)
{
    char *used = calloc((size_t)argc + 1, 1);
    *rc = 1;
    if (!used)
        return NULL;
    if (util_flag(argc, argv, used, "--help") || util_flag(argc, argv, used, "-h")) {
        usage(stdout);
        free(used);
        *rc = 0;
        return NULL;
    }
    return used;
}

const char *util_positional(int argc, char **argv, char *used)
{
    for (int i = 1; i < argc; i++)
        if (!used[i] && strncmp(argv[i], "--", 2) != 0) {
            used[i] = 1;
            return argv[i];
        }
    return NULL;
}

/* Length of an option's name in "--name=value" or "--name". */
static size_t opt_name_len(const char *a)
{
    const char *eq = strchr(a, '=');
    return eq ? (size_t)(eq - a) : strlen(a);
}

int util_unknown(const char *cmd, int argc, char **argv, const char *used)
{
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        if (used[i])
            continue;
        bad = 1;
        size_t n = opt_name_len(argv[i]);
        int twice = 0;
        for (int j = 1; j < argc && !twice && argv[i][0] == '-'; j++)
            twice = j != i && used[j] && !strncmp(argv[j], argv[i], n) && (argv[j][n] == 0 || argv[j][n] == '=');
        if (twice)
            fprintf(stderr, "clgrad %s: option '%.*s' given more than once\n", cmd, (int)n, argv[i]);
        else
            fprintf(stderr, "clgrad %s: unknown or incomplete argument '%s'\n", cmd, argv[i]);
    }
    return bad;
}

int util_parse_long(const char *cmd, const char *name, const char *s, long lo, long hi, long *out)
{
    char *e;
    errno = 0;
    long v = s ? strtol(s, &e, 10) : 0;
    /* strtol skips leading blanks; the whole string must be the number */
    if (!s || !*s || isspace((unsigned char)*s) || *e || errno || v < lo || v > hi) {
        fprintf(stderr, "clgrad %s: %s must be an integer in %ld..%ld, got '%s'\n", cmd, name, lo, hi, s ? s : "");
        return 1;
    }
    *out = v;
    return 0;
}

int util_parse_int(const char *cmd, const char *name, const char *s, long lo, long hi, int *out)
{
    long v;
    if (lo < INT_MIN)
        lo = INT_MIN;
    if (hi > INT_MAX)
        hi = INT_MAX;
    if (util_parse_long(cmd, name, s, lo, hi, &v))
        return 1;
    *out = (int)v;
    return 0;
}

int util_parse_u64(const char *cmd, const char *name, const char *s, uint64_t *out)
{
    char *e;
    errno = 0;
    unsigned long long v = s && isdigit((unsigned char)*s) ? strtoull(s, &e, 10) : 0;
    if (!s || !isdigit((unsigned char)*s) || *e || errno) {
        fprintf(stderr, "clgrad %s: %s must be an integer in 0..%llu, got '%s'\n", cmd, name,
                (unsigned long long)UINT64_MAX, s ? s : "");
        return 1;
    }
    *out = (uint64_t)v;
    return 0;
}

int util_parse_double(const char *cmd, const char *name, const char *s, double lo, int lo_open, double hi, double *out)
{
    char *e;
    errno = 0;
    double v = s ? strtod(s, &e) : 0;
    if (!s || !*s || isspace((unsigned char)*s) || *e || errno == ERANGE || !isfinite(v) || v < lo ||
        (lo_open && v == lo) || v > hi) {
        fprintf(stderr, "clgrad %s: %s must be a number in %s%g, %g], got '%s'\n", cmd, name, lo_open ? "(" : "[",
                lo, hi, s ? s : "");
        return 1;
    }
    *out = v;
    return 0;
}

int util_parse_float(const char *cmd, const char *name, const char *s, double lo, int lo_open, double hi, float *out)
{
    double v;
    if (hi > FLT_MAX)
        hi = FLT_MAX;
    if (util_parse_double(cmd, name, s, lo, lo_open, hi, &v))
        return 1;
    *out = (float)v;
    return 0;
}

int util_parse_int_list(const char *cmd, const char *name, const char *s, long lo, long hi, int *out, int max, int *n)
{
    char one[32];
    int k = 0;
    for (const char *p = s ? s : ""; k <= max;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (k == max) {
            fprintf(stderr, "clgrad %s: %s takes at most %d values, got '%s'\n", cmd, name, max, s);
            return 1;
        }
        if (len == 0 || len >= sizeof one) {
            fprintf(stderr, "clgrad %s: %s must be %d..%d comma-separated integers in %ld..%ld, got '%s'\n", cmd,
                    name, 1, max, lo, hi, s ? s : "");
            return 1;
        }
        memcpy(one, p, len);
        one[len] = 0;
        if (util_parse_int(cmd, name, one, lo, hi, &out[k]))
            return 1;
        k++;
        if (!c)
            break;
        p = c + 1;
    }
    *n = k;
    return 0;
}

int util_opt_int(const char *cmd, int argc, char **argv, char *used, const char *name, long lo, long hi, int *out)
{
    const char *v = util_opt(argc, argv, used, name);
    return v ? util_parse_int(cmd, name, v, lo, hi, out) : 0;
}

int util_opt_long(const char *cmd, int argc, char **argv, char *used, const char *name, long lo, long hi, long *out)
{
    const char *v = util_opt(argc, argv, used, name);
    return v ? util_parse_long(cmd, name, v, lo, hi, out) : 0;
}

int util_opt_u64(const char *cmd, int argc, char **argv, char *used, const char *name, uint64_t *out)
{
    const char *v = util_opt(argc, argv, used, name);
    return v ? util_parse_u64(cmd, name, v, out) : 0;
}

int util_opt_float(const char *cmd, int argc, char **argv, char *used, const char *name, double lo, int lo_open,
                   double hi, float *out)
{
    const char *v = util_opt(argc, argv, used, name);
    return v ? util_parse_float(cmd, name, v, lo, lo_open, hi, out) : 0;
}

void util_progress_start(util_progress *p, const char *label, long total, const char *unit)
{
    p->label = label;
    p->total = total;
    p->done = 0;
    p->t0 = util_now();
    p->last_draw = 0;
    p->tty = isatty(fileno(stderr));
    p->unit = unit;
}

void util_progress_update(util_progress *p, long done, const char *extra)
{
    p->done = done;
    if (!p->tty)
        return;
    double t = util_now();
    if (t - p->last_draw < 0.1 && done < p->total)
        return;
    p->last_draw = t;
    double el = t - p->t0, rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
    int width = 30, fill = p->total > 0 ? (int)((double)width * (double)done / (double)p->total) : 0;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r%s [%s] %ld/%ld %.0f %s/s ETA %.0fs %s\033[K", p->label, bar, done, p->total, rate,
            p->unit, eta, extra ? extra : "");
    fflush(stderr);
}

void util_progress_end(util_progress *p)
{
    if (p->tty)
        fprintf(stderr, "\r\033[K");
}

clg_status util_svg_curves(const char *path, const char *title, const char *xlabel, int n,
                           const double *const *series, const char *const *names, int nseries)
{
    clg_file_writer *w;
    clg_status st = clg_file_writer_open(path, &w);
    if (st)
        return st;
    FILE *f = clg_file_writer_stream(w);
    const double W = 640, H = 400, L = 60, R = 20, T = 40, B = 50;
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < nseries; s++)
        for (int i = 0; i < n; i++)
            if (isfinite(series[s][i])) {
                lo = fmin(lo, series[s][i]);
                hi = fmax(hi, series[s][i]);
            }
    if (!(lo < hi)) {
        lo = isfinite(lo) ? lo - 1 : 0;
        hi = lo + 2;
    }
    static const char *colors[] = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd" };
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%.0f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">%s</text>\n", W / 2, title);
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L, H - B, W - R, H - B);
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L, T, L, H - B);
    for (int k = 0; k <= 4; k++) {
        double v = lo + (hi - lo) * k / 4, y = H - B - (H - T - B) * k / 4;
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n", L - 5, y + 4, v);
        fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, y, W - R, y);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", (L + W - R) / 2, H - 12, xlabel);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">1</text>\n", L, H - B + 15);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%d</text>\n", W - R, H - B + 15, n);
    for (int s = 0; s < nseries; s++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colors[s % 4]);
        for (int i = 0; i < n; i++) {
            double x = L + (n > 1 ? (W - L - R) * i / (n - 1) : 0);
            double y = H - B - (H - T - B) * (series[s][i] - lo) / (hi - lo);
            if (isfinite(y))
                fprintf(f, "%.1f,%.1f ", x, y);
        }
        fprintf(f, "\"/>\n<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">%s</text>\n", W - R - 150, T + 15 + 15 * s,
                colors[s % 4], names[s]);
    }
    fprintf(f, "</svg>\n");
    return clg_file_writer_commit(w);
}

void util_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}
