/* util.h — CLI helpers: option parsing, progress bar, CSV log, SVG loss curve, timing. */
#ifndef CLGRAD_CLI_UTIL_H
#define CLGRAD_CLI_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "clgrad/status.h"

double util_now(void);
/* Sort v[0..n) ascending in place (benchmark repetitions); returns the median. */
double util_sort_median(double *v, int n);

/* Devices for a comma-separated list of specs (auto, cpu, gpu, P:D, name substring; each as
 * clg_device_select), or every device when spec is NULL or empty.  *devs is freed with
 * clg_devices_free.  Returns 1 on failure (clg_last_error() tells why, except out of memory). */
struct clg_device_info;
int util_select_devices(const char *spec, struct clg_device_info **devs, int *ndev);

/* For the timing tools (tune, bench_ops, bench_gemm), before any OpenCL call: pin PoCL's worker
 * threads (POCL_AFFINITY=1, a value the user set is kept).  Unpinned, Linux often keeps both on
 * one core between isolated calls for many milliseconds, so a single product times ~2x slow
 * (128x784·784x256 ~490 instead of ~250 us on a 2-core PoCL).  Other drivers ignore it. */
void util_pin_pocl_workers(void);

/* The same for a host BLAS (OpenBLAS is built NO_AFFINITY): util_pin_blas_threads(), first thing
 * in main while the only other threads are the BLAS's workers, pins them round robin to the
 * allowed CPUs after the first; util_pin_caller(1) pins the calling thread to the first, (0)
 * gives it back its mask — around the BLAS timings only.  Unpinned, OpenBLAS's worker often
 * shares a core with the caller and a call runs at one core's speed (128x256·256x256: 97
 * instead of 180 GFLOP/s here), the whole run long. */
void util_pin_blas_threads(void);
void util_pin_caller(int pin);

/* splitmix64, the tools' host-side stream (shuffles, synthetic data); util_u01: [0, 1), 53 bits. */
uint64_t util_splitmix64(uint64_t *s);
double util_u01(uint64_t *s);

/* Remove dir and everything below it (scratch folders; links are removed, not followed). */
void util_rm_tree(const char *dir);
/* mkdir -p (mode 0755); 0 on success. */
int util_mkdir_p(const char *path);

/* Parse "--name value" / "--name=value" options: returns the value for name, or NULL.
 * Marks consumed argv entries in used[] (size argc). */
const char *util_opt(int argc, char **argv, char *used, const char *name);
int util_flag(int argc, char **argv, char *used, const char *name);
/* First argv entry (from 1) not consumed and not starting with "--", or NULL; marks it used. */
const char *util_positional(int argc, char **argv, char *used);
/* Start parsing a command's arguments: returns the zeroed used[] array (argc + 1 entries; free
 * it), or NULL after printing usage to stdout for --help/-h (*rc = 0) or when out of memory
 * (*rc = 1). */
char *util_args_begin(int argc, char **argv, void (*usage)(FILE *), int *rc);
/* Report unconsumed arguments (an option given twice is named as such); returns 1 if any. */
int util_unknown(const char *cmd, int argc, char **argv, const char *used);

/* Strict numbers, for every option and environment variable the tools read: the whole string
 * (no trailing characters, no empty string), in range, no overflow.  They return 0 and store the
 * value, or print "clgrad CMD: NAME must be ..., got 'S'" and return 1 (*out untouched). */
int util_parse_int(const char *cmd, const char *name, const char *s, long lo, long hi, int *out);
int util_parse_long(const char *cmd, const char *name, const char *s, long lo, long hi, long *out);
int util_parse_u64(const char *cmd, const char *name, const char *s, uint64_t *out);
/* A finite number in [lo, hi] (exclusive of lo when lo_open). */
int util_parse_double(const char *cmd, const char *name, const char *s, double lo, int lo_open, double hi, double *out);
int util_parse_float(const char *cmd, const char *name, const char *s, double lo, int lo_open, double hi, float *out);
/* A comma-separated list of 1..max integers, each in [lo, hi], no empty element ("256,128"). */
int util_parse_int_list(const char *cmd, const char *name, const char *s, long lo, long hi, int *out, int max, int *n);

/* The same for an option: absent (0, *out untouched), or util_parse_* on its value. */
int util_opt_int(const char *cmd, int argc, char **argv, char *used, const char *name, long lo, long hi, int *out);
int util_opt_long(const char *cmd, int argc, char **argv, char *used, const char *name, long lo, long hi, long *out);
int util_opt_u64(const char *cmd, int argc, char **argv, char *used, const char *name, uint64_t *out);
int util_opt_float(const char *cmd, int argc, char **argv, char *used, const char *name, double lo, int lo_open,
                   double hi, float *out);

/* Progress line: on a terminal a redrawn bar with rate and ETA; otherwise nothing until done. */
typedef struct util_progress {
    const char *label;
    long total, done;
    double t0, last_draw;
    int tty;
    const char *unit;
} util_progress;
void util_progress_start(util_progress *p, const char *label, long total, const char *unit);
void util_progress_update(util_progress *p, long done, const char *extra);
void util_progress_end(util_progress *p);

/* Write an SVG line chart of up to 4 series (x = index + 1), atomically (clg_file_writer). */
clg_status util_svg_curves(const char *path, const char *title, const char *xlabel, int n,
                           const double *const *series, const char *const *names, int nseries);

/* Write s as a JSON string literal (quotes, backslashes and control characters escaped). */
void util_json_str(FILE *f, const char *s);

#endif
