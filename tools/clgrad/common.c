/* common.c — what the training commands share: data loading, device opening, output paths, shuffling. */
#include <ctype.h>
#include <math.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_cases.h"
#include "cli.h"
#include "util.h"

int cli_load_mnist(const char *dir, long train_limit, int test_only, cli_data *d)
{
    memset(d, 0, sizeof *d);
    int r2 = 0, c2 = 0;
    clg_status st;
    if ((!test_only && (st = clg_mnist_load(dir, "train", &d->train_x, &d->train_y, &d->n_train, &d->rows, &d->cols))) ||
        (st = clg_mnist_load(dir, "t10k", &d->test_x, &d->test_y, &d->n_test, &r2, &c2))) {
        cli_fail("loading data", st);
        cli_data_free(d);
        return 1;
    }
    if (test_only) {
        d->rows = r2;
        d->cols = c2;
    }
    if (r2 != d->rows || c2 != d->cols) {
        fprintf(stderr, "clgrad: %s: train images are %dx%d but test images %dx%d\n", dir, d->rows, d->cols, r2, c2);
        cli_data_free(d);
        return 1;
    }
    if ((!test_only && d->n_train < 1) || d->n_test < 1) {
        fprintf(stderr, "clgrad: %s: the %s set has no images\n", dir, d->n_test < 1 ? "test (t10k)" : "training");
        cli_data_free(d);
        return 1;
    }
    if (train_limit > 0 && train_limit < d->n_train)
        d->n_train = (int)train_limit;
    return 0;
}

void cli_data_free(cli_data *d)
{
    free(d->train_x);
    free(d->train_y);
    free(d->test_x);
    free(d->test_y);
    memset(d, 0, sizeof *d);
}

/* Under mpirun: a comma list gives rank i entry i mod its length; "auto" gives local rank i the
 * machine's GPU i mod their count when it has several (else auto's one device). */
static int rank_device_spec(const char *spec, char *buf, size_t size)
{
    int N = clg_dist_size(), r = clg_dist_rank();
    if (spec && strchr(spec, ',')) {
        int n = 1;
        for (const char *c = spec; *c; c++)
            n += *c == ',';
        const char *s = spec;
        for (int k = r % n; k > 0; k--)
            s = strchr(s, ',') + 1;
        size_t len = strcspn(s, ",");
        if (len == 0 || len >= size) {
            fprintf(stderr, "clgrad: --device '%s': entry %d (for rank %d) is empty or too long\n", spec, r % n, r);
            return 1;
        }
        memcpy(buf, s, len);
        buf[len] = 0;
        return 0;
    }
    snprintf(buf, size, "%s", spec ? spec : "");
    if (N > 1 && (!spec || !strcmp(spec, "auto"))) {
        clg_device_info *l = NULL;
        int n = 0, gpus = 0;
        if (!clg_devices_list(&l, &n)) {
            for (int i = 0; i < n; i++)
                gpus += l[i].type == CLG_DEVICE_GPU;
            for (int i = 0, g = 0; gpus > 1 && i < n; i++)
                if (l[i].type == CLG_DEVICE_GPU && g++ == clg_dist_local_rank() % gpus)
                    snprintf(buf, size, "%d:%d", l[i].platform_index, l[i].device_index);
            clg_devices_free(l);
        }
    }
    return 0;
}

/* cli_open_device, with the compile helper when `helper` (the training commands) and a profiling
 * queue when `profiling`. */
static int open_device(const char *spec, clg_device_info *dev, clg_ctx **ctx, int helper, int profiling)
{
    clg_status st;
    char one[256];
    if (rank_device_spec(spec, one, sizeof one))
        return 1;
    if ((st = clg_device_select(one[0] ? one : NULL, dev)))
        return cli_fail("device", st);
    if (helper)
        cli_helper_start(dev);
    clg_ctx_options o = { .profiling = profiling };
    if ((st = clg_ctx_create(dev, &o, ctx)))
        return cli_fail("device", st);
    if (helper)
        cli_helper_send_gemm(*ctx);
    return 0;
}

int cli_open_device(const char *spec, clg_device_info *dev, clg_ctx **ctx) { return open_device(spec, dev, ctx, 0, 0); }

typedef struct data_job {
    const char *dir;
    long train_limit;
    int rc;
    cli_data *d;
} data_job;

static void *data_thread(void *p)
{
    data_job *j = p;
    j->rc = cli_load_mnist(j->dir, j->train_limit, 0, j->d);
    return NULL;
}

int cli_open_device_loading(const char *spec, const char *data_dir, long train_limit, unsigned op_groups,
                            int profiling, cli_data *d, clg_device_info *dev, clg_ctx **ctx)
{
    data_job j = { .dir = data_dir, .train_limit = train_limit, .d = d };
    pthread_t t;
    int threaded = pthread_create(&t, NULL, data_thread, &j) == 0;
    if (!threaded && (j.rc = cli_load_mnist(data_dir, train_limit, 0, d)))
        return 1;
    int bad = open_device(spec, dev, ctx, 1, profiling);
    clg_build_report rep;
    if (!bad && !clg_ctx_build_op_programs(*ctx, op_groups, &rep)) /* a failure: reported at first use */
        cli_helper_op_build(rep.seconds);
    if (threaded)
        pthread_join(t, NULL);
    if (!j.rc && !bad)
        return 0;
    if (!bad)
        clg_ctx_destroy(*ctx);
    *ctx = NULL;
    if (!j.rc)
        cli_data_free(d);
    return 1;
}

int cli_dist_batch(const char *cmd, int B, int *local)
{
    int N = clg_dist_size();
    if (B % N) {
        fprintf(stderr, "clgrad %s: --batch %d (the global batch) is not a multiple of the %d ranks; each rank "
                "takes batch / ranks rows\n", cmd, B, N);
        return 1;
    }
    *local = B / N;
    return 0;
}

int cli_dist_start(clg_graph *g)
{
    clg_status st;
    if ((st = clg_graph_set_distributed(g, clg_dist_size() > 1)) || (st = clg_graph_broadcast_params(g)))
        return cli_fail("distributing the parameters", st);
    return 0;
}

int cli_dist_refuse(const char *cmd, const char *why)
{
    if (clg_dist_size() < 2)
        return 0;
    fprintf(stderr, "clgrad %s: does not run across ranks (%s); run it as one process\n", cmd, why);
    return 1;
}

int cli_interrupted_all(void)
{
    int sig = cli_interrupted();
    if (clg_dist_size() > 1 && clg_dist_max_int(&sig))
        return cli_fail("agreeing on an interruption", CLG_ERR_DIST), SIGTERM;
    return sig;
}

void cli_derive_paths(const char *out, cli_paths *p)
{
    char base[1024];
    snprintf(base, sizeof base, "%s", out);
    char *dot = strrchr(base, '.');
    if (dot && !strchr(dot, '/'))
        *dot = 0;
    snprintf(p->csv, sizeof p->csv, "%s.csv", base);
    snprintf(p->svg, sizeof p->svg, "%s.svg", base);
    snprintf(p->png, sizeof p->png, "%s.png", base);
    snprintf(p->resume, sizeof p->resume, "%s.resume.safetensors", base);
}

int cli_parse_arch(const char *arch, int *w, int max)
{
    int n = 0;
    const char *p = arch;
    if (!p || !*p)
        return -1;
    for (;;) {
        if (n == max || !isdigit((unsigned char)*p))
            return -1;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || v < 1 || v > (1L << 24))
            return -1;
        w[n++] = (int)v;
        if (*end == 0)
            break;
        if (*end != '-')
            return -1;
        p = end + 1;
    }
    return n >= 2 ? n : -1;
}

/* ---- interruption ------------------------------------------------------------------------ */

/* SIGINT and SIGTERM are blocked in every thread (set before the first OpenCL call, so the driver's
 * threads inherit the mask) and taken by one thread in sigwait.  No handler ever runs in the
 * middle of other code: in particular not LLVM's, which a run-time compiler inside the OpenCL
 * driver installs and which deletes the compiler's temp files (a build under way then fails). */
static atomic_int g_signal, g_critical; /* set by the signal thread, read by the command */

static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0)
            continue;
        if (g_signal && !g_critical) {
            /* a second signal outside a file write: the user insists, end now */
            static const char msg[] = "clgrad: interrupted again; quitting without saving\n";
            ssize_t w = write(2, msg, sizeof msg - 1);
            (void)w;
            _exit(128 + sig);
        }
        g_signal = sig;
    }
    return NULL;
}

void cli_signals_install(void)
{
    static sigset_t set;
    static int done;
    if (done)
        return;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_t t;
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 || pthread_create(&t, NULL, signal_thread, &set) != 0) {
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        return; /* the default action stays: a signal ends the process */
    }
    pthread_detach(t);
    done = 1;
}

int cli_interrupted(void) { return g_signal; }

void cli_signals_critical(int on) { g_critical = on; }

/* ---- outputs ----------------------------------------------------------------------------- */

/* "folder/name" with the folder resolved (symlinks, ..), so that two spellings of one file compare
 * equal; returns 1 and prints when the folder does not exist or is not writable. */
static int canonical(const char *cmd, const char *what, const char *path, char *out, size_t cap)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        snprintf(dir, sizeof dir, ".");
    if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
        fprintf(stderr, "clgrad %s: %s '%s' names a folder, not a file\n", cmd, what, path);
        return 1;
    }
    struct stat sd;
    if (!realpath(dir, real) || stat(real, &sd) != 0 || !S_ISDIR(sd.st_mode)) {
        fprintf(stderr, "clgrad %s: %s '%s': folder '%s' does not exist\n", cmd, what, path, dir);
        return 1;
    }
    if (access(real, W_OK | X_OK) != 0) {
        fprintf(stderr, "clgrad %s: %s '%s': folder '%s' is not writable: %s\n", cmd, what, path, dir, strerror(errno));
        return 1;
    }
    snprintf(out, cap, "%s/%s", real, name);
    return 0;
}

int cli_check_outputs(const char *cmd, const char *const *paths, const char *const *what, int n)
{
    char canon[8][PATH_MAX + 256];
    if (n > 8)
        n = 8;
    for (int i = 0; i < n; i++) {
        const char *p = paths[i];
        if (!p || !*p) {
            fprintf(stderr, "clgrad %s: %s is an empty path\n", cmd, what[i]);
            return 1;
        }
        struct stat sb;
        if (stat(p, &sb) == 0 && !S_ISREG(sb.st_mode)) {
            fprintf(stderr, "clgrad %s: %s '%s' exists and is %s, not a file\n", cmd, what[i], p,
                    S_ISDIR(sb.st_mode) ? "a folder" : "a special file");
            return 1;
        }
        if (canonical(cmd, what[i], p, canon[i], sizeof canon[i]))
            return 1;
        for (int j = 0; j < i; j++)
            if (!strcmp(canon[i], canon[j])) {
                fprintf(stderr, "clgrad %s: %s and %s are the same file (%s)\n", cmd, what[j], what[i], p);
                return 1;
            }
    }
    return 0;
}

/* ---- a training run ---------------------------------------------------------------------- */

int cli_run_init(cli_run *r, const char *cmd, int epochs)
{
    memset(r, 0, sizeof *r);
    r->cmd = cmd;
    r->epochs = epochs;
    r->curve[0] = calloc((size_t)epochs, sizeof(double));
    r->curve[1] = calloc((size_t)epochs, sizeof(double));
    if (!r->curve[0] || !r->curve[1]) {
        fprintf(stderr, "clgrad %s: out of memory\n", cmd);
        return 1;
    }
    return 0;
}

void cli_run_free(cli_run *r)
{
    free(r->log);
    free(r->curve[0]);
    free(r->curve[1]);
    memset(r, 0, sizeof *r);
}

/* Append text to r->log. */
static int log_append(cli_run *r, const char *s, size_t n)
{
    char *p = realloc(r->log, r->log_len + n + 1);
    if (!p)
        return 1;
    memcpy(p + r->log_len, s, n);
    r->log_len += n;
    p[r->log_len] = 0;
    r->log = p;
    return 0;
}

int cli_run_log(cli_run *r, int epoch, double c0, double c1, const char *fmt, ...)
{
    char row[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(row, sizeof row - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof row - 1)
        n = (int)strlen(row);
    row[n++] = '\n';
    if (epoch >= 0 && epoch < r->epochs) {
        r->curve[0][epoch] = c0;
        r->curve[1][epoch] = c1;
    }
    if (log_append(r, row, (size_t)n)) {
        fprintf(stderr, "clgrad %s: out of memory\n", r->cmd);
        return 1;
    }
    return 0;
}

/* The metadata of a resumable checkpoint, beside the model's own. */
#define RESUME_KEYS 8

/* Curve values of epochs [0, n) as "%.17g,%.17g,..." (malloc'ed). */
static char *curve_str(const double *c, int n)
{
    char *s = malloc((size_t)n * 26 + 1);
    if (!s)
        return NULL;
    size_t k = 0;
    s[0] = 0;
    for (int i = 0; i < n; i++)
        k += (size_t)sprintf(s + k, "%s%.17g", i ? "," : "", c[i]);
    return s;
}

static int curve_parse(const char *s, double *c, int n)
{
    for (int i = 0; i < n; i++) {
        char *e;
        c[i] = strtod(s, &e);
        if (e == s || (*e != (i + 1 < n ? ',' : 0)))
            return 1;
        s = e + (i + 1 < n);
    }
    return n == 0 && *s ? 1 : 0;
}

int cli_run_save_interrupted(cli_run *r, clg_graph *g, const char *const *meta_kv, int epoch, int step, int steps,
                             double loss_sum, double train_s)
{
    int sig = cli_interrupted();
    if (clg_dist_rank() != 0)
        return 128 + (sig ? sig : SIGINT); /* rank 0 saves the ranks' common state */
    char ep[16], stp[16], ls[32], ts[32];
    char *c0 = curve_str(r->curve[0], epoch), *c1 = curve_str(r->curve[1], epoch);
    const char *meta[64];
    int k = 0;
    for (; meta_kv && meta_kv[k] && k < 64 - 2 * RESUME_KEYS - 2; k += 2) {
        meta[k] = meta_kv[k];
        meta[k + 1] = meta_kv[k + 1];
    }
    snprintf(ep, sizeof ep, "%d", epoch);
    snprintf(stp, sizeof stp, "%d", step);
    snprintf(ls, sizeof ls, "%.17g", loss_sum);
    snprintf(ts, sizeof ts, "%.17g", train_s);
    const char *kv[2 * RESUME_KEYS] = { "resume.command", r->cmd, "resume.config", r->config, "resume.epoch", ep,
                                        "resume.step", stp, "resume.loss_sum", ls, "resume.train_s", ts,
                                        "resume.log", r->log ? r->log : "", "resume.curves", "" };
    char *curves = NULL;
    if (c0 && c1 && (curves = malloc(strlen(c0) + strlen(c1) + 2)))
        sprintf(curves, "%s;%s", c0, c1);
    kv[15] = curves;
    memcpy(meta + k, kv, sizeof kv);
    meta[k + 2 * RESUME_KEYS] = NULL;
    int rc = 128 + sig;
    if (!curves) {
        fprintf(stderr, "clgrad %s: interrupted; out of memory saving the state\n", r->cmd);
    } else {
        cli_signals_critical(1);
        clg_status st = clg_checkpoint_save(g, r->resume_out, meta);
        cli_signals_critical(0);
        if (st)
            cli_fail("saving the interrupted run", st);
        else
            fprintf(stderr,
                    "clgrad %s: interrupted at epoch %d/%d, step %d/%d; saved %s\n"
                    "  resume with the same command and options plus --resume %s\n",
                    r->cmd, epoch + 1, r->epochs, step, steps, r->resume_out, r->resume_out);
    }
    free(c0);
    free(c1);
    free(curves);
    return rc;
}

int cli_run_resume(cli_run *r, clg_graph *g, const char *path)
{
    clg_st_file *f = NULL;
    clg_status st = clg_safetensors_open(path, &f);
    int rc = 1;
    if (st)
        return cli_fail("reading the --resume file", st);
    const char *cmd = clg_safetensors_meta(f, "resume.command"), *cfg = clg_safetensors_meta(f, "resume.config");
    const char *ep = clg_safetensors_meta(f, "resume.epoch"), *stp = clg_safetensors_meta(f, "resume.step");
    const char *ls = clg_safetensors_meta(f, "resume.loss_sum"), *ts = clg_safetensors_meta(f, "resume.train_s");
    const char *log = clg_safetensors_meta(f, "resume.log"), *cv = clg_safetensors_meta(f, "resume.curves");
    if (!cmd || !cfg || !ep || !stp || !ls || !ts || !log || !cv) {
        fprintf(stderr, "clgrad %s: %s is not the state of an interrupted run (no resume.* metadata)\n", r->cmd, path);
        goto out;
    }
    if (strcmp(cmd, r->cmd) != 0 || strcmp(cfg, r->config) != 0) {
        fprintf(stderr,
                "clgrad %s: %s was saved by `clgrad %s` with\n  %s\nbut this run has\n  %s\n"
                "resume with the same options\n", r->cmd, path, cmd, cfg, r->config);
        goto out;
    }
    int e, s;
    char *end;
    errno = 0;
    double lsum = strtod(ls, &end);
    int bad = *end != 0;
    double tsec = strtod(ts, &end);
    bad |= *end != 0;
    const char *semi = strchr(cv, ';');
    if (bad || util_parse_int(r->cmd, "resume.epoch", ep, 0, r->epochs - 1, &e) ||
        util_parse_int(r->cmd, "resume.step", stp, 0, 1 << 30, &s) || !semi) {
        fprintf(stderr, "clgrad %s: %s: malformed resume.* metadata\n", r->cmd, path);
        goto out;
    }
    char *c0 = strndup(cv, (size_t)(semi - cv));
    int cbad = !c0 || curve_parse(c0, r->curve[0], e) || curve_parse(semi + 1, r->curve[1], e);
    free(c0);
    if (cbad) {
        fprintf(stderr, "clgrad %s: %s: malformed resume.curves\n", r->cmd, path);
        goto out;
    }
    if ((st = clg_checkpoint_load(g, path, CLG_LOAD_OPTIM_STATE, NULL))) {
        cli_fail("loading the --resume file", st);
        goto out;
    }
    free(r->log);
    r->log = NULL;
    r->log_len = 0;
    if (log_append(r, log, strlen(log))) {
        fprintf(stderr, "clgrad %s: out of memory\n", r->cmd);
        goto out;
    }
    r->start_epoch = e;
    r->start_step = s;
    r->loss_sum = lsum;
    r->train_s = tsec;
    rc = 0;
out:
    clg_safetensors_close(f);
    return rc;
}

int cli_run_finish(cli_run *r, clg_graph *g, const char *const *meta_kv, const char *csv_header,
                   const char *title, const char *const *curve_names, clg_status (*extra)(void *), void *user)
{
    if (clg_dist_rank() != 0)
        return 0; /* the ranks hold the same parameters: rank 0 writes */
    int rc = 1;
    clg_status st;
    cli_signals_critical(1);
    if ((st = clg_checkpoint_save(g, r->out, meta_kv))) {
        cli_fail("saving the checkpoint", st);
        goto out;
    }
    size_t hl = strlen(csv_header);
    char *text = malloc(hl + r->log_len + 2);
    if (!text) {
        fprintf(stderr, "clgrad %s: out of memory\n", r->cmd);
        goto out;
    }
    memcpy(text, csv_header, hl);
    text[hl] = '\n';
    memcpy(text + hl + 1, r->log ? r->log : "", r->log_len);
    st = clg_file_write(r->csv, text, hl + 1 + r->log_len);
    free(text);
    if (st) {
        cli_fail("writing the log", st);
        goto out;
    }
    const double *series[2] = { r->curve[0], r->curve[1] };
    if (r->svg && (st = util_svg_curves(r->svg, title, "epoch", r->epochs, series, curve_names, 2))) {
        cli_fail("writing the curve", st);
        goto out;
    }
    if (extra && (st = extra(user))) {
        cli_fail("writing the output", st);
        goto out;
    }
    if (r->resume_out && unlink(r->resume_out) != 0 && errno != ENOENT)
        fprintf(stderr, "clgrad %s: cannot remove the old %s: %s\n", r->cmd, r->resume_out, strerror(errno));
    rc = 0;
out:
    cli_signals_critical(0);
    return rc;
}


void cli_shuffle(int *idx, int n, uint64_t *state)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(util_splitmix64(state) % (uint64_t)(i + 1));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

int cli_epoch_steps(int n, int B)
{
    return (n + B - 1) / B;
}

void cli_gather_batch(const int *order, int n, int step, int B, const float *x, int dim, const int32_t *y,
                      float *xb, int32_t *yb)
{
    cli_gather_rows(order, n, step, B, 0, B, x, dim, y, xb, yb);
}

void cli_gather_rows(const int *order, int n, int step, int B, int row0, int rows, const float *x, int dim,
                     const int32_t *y, float *xb, int32_t *yb)
{
    for (int r = 0; r < rows; r++) {
        int i = order[((size_t)step * (size_t)B + (size_t)(row0 + r)) % (size_t)n];
        memcpy(xb + (size_t)r * (size_t)dim, x + (size_t)i * (size_t)dim, (size_t)dim * sizeof(float));
        if (y && yb)
            yb[r] = y[i];
    }
}

/* The profiled graph's training steps and their wall time (cli_train_epoch), for cli_profile_print. */
static struct {
    const clg_graph *g;
    clg_ctx *ctx;
    long steps;
    double seconds;
} g_prof;

int cli_graph_insight(clg_graph *g, const char *dot_path, int profile)
{
    clg_status st;
    if (dot_path && clg_dist_rank() == 0) {
        clg_file_writer *w;
        if ((st = clg_file_writer_open(dot_path, &w)))
            return cli_fail("writing the graph", st);
        if ((st = clg_graph_dot(g, clg_file_writer_stream(w)))) {
            clg_file_writer_abort(w);
            return cli_fail("writing the graph", st);
        }
        if ((st = clg_file_writer_commit(w)))
            return cli_fail("writing the graph", st);
    }
    if (profile && (st = clg_graph_set_profile(g, 1)))
        return cli_fail("profiling", st);
    if (profile) {
        g_prof.g = g;
        g_prof.steps = 0;
        g_prof.seconds = 0;
    }
    return 0;
}

int cli_profile_print(clg_graph *g, FILE *f)
{
    clg_status st;
    if ((st = clg_graph_profile_print(g, f)))
        return cli_fail("profile", st);
    clg_graph_stats gs;
    if (g != g_prof.g || !g_prof.steps || g_prof.seconds <= 0 || clg_graph_stats_get(g, &gs) || gs.step_flops <= 0)
        return 0;
    /* the step's time: on the device clock (a profiling ctx: `--profile`), its span from the first
     * kernel's start to the last's end; else the host's, with a wait after every op */
    double ms = g_prof.seconds * 1e3 / (double)g_prof.steps;
    if (gs.profiled_steps && gs.profiled_span_ms > 0) {
        double span = gs.profiled_span_ms / (double)gs.profiled_steps;
        fprintf(f, "GEMM work %.6g MFLOP per step (2*M*N*K per product; element-wise work not counted), %.3f ms per "
                   "profiled step on the device (%.3f ms on the host clock, one wait per step)\n",
                gs.step_flops * 1e-6, span, ms);
        ms = span;
    } else {
        fprintf(f, "GEMM work %.6g MFLOP per step (2*M*N*K per product; element-wise work not counted), %.2f ms per "
                   "profiled step (synchronised after every op)\n", gs.step_flops * 1e-6, ms);
    }
    double gflops = gs.step_flops / ms * 1e-6;
    if (clg_dist_size() > 1) {
        fprintf(f, "%.1f GFLOP/s per step on this rank (the peak is not measured under mpirun)\n", gflops);
        return 0;
    }
    /* the FMA peak as `clgrad bench` measures it, with 10 ms launches (~0.4 s in all), but its
     * fastest launch: a peak is a ceiling, and a slow spell of the machine only lowers a reading
     * (the median of 3 read 59-198 GFLOP/s on one quiet VM and put a step at 122% of it) */
    enum { PEAK_REPS = 5 };
    double rates[PEAK_REPS], launch_s = 0;
    int width;
    char why[256];
    const clg_device_info *d = clg_ctx_device(g_prof.ctx);
    if ((st = bench_peak_flops(g_prof.ctx, d ? (int)d->compute_units : 1, 0.01, PEAK_REPS, rates, &width, &launch_s,
                               why, sizeof why))) {
        fprintf(f, "%.1f GFLOP/s per step (peak not measured: %s)\n", gflops, why);
        return 0;
    }
    double peak = rates[PEAK_REPS - 1] * 1e-9;
    if (gflops > peak)
        fprintf(f, "%.3g GFLOP/s per step, above this device's FMA peak as measured after the run (%.1f GFLOP/s, "
                   "float%d chains, best of %d launches of %.1f ms): the machine's speed changed meanwhile; `clgrad "
                   "bench` measures both side by side\n",
                gflops, peak, width, PEAK_REPS, launch_s * 1e3);
    else
        fprintf(f, "%.3g GFLOP/s per step = %.3g%% of this device's measured FMA peak (%.1f GFLOP/s, float%d "
                   "chains, best of %d launches of %.1f ms)\n",
                gflops, 100.0 * gflops / peak, peak, width, PEAK_REPS, launch_s * 1e3);
    return 0;
}

int cli_plan_training(clg_graph *g, const clg_optim_options *oo, const char *dot_path, int profile)
{
    clg_status st;
    if ((st = clg_graph_set_optimizer(g, oo)) || (st = clg_graph_plan(g, CLG_PLAN_TRAIN)))
        return cli_fail("planning", st);
    cli_helper_send_step(g);
    return cli_graph_insight(g, dot_path, profile);
}

/* Start step s: gather its batch into xb/yb (this rank's b rows), set the inputs, enqueue the step. */
static clg_status epoch_start(cli_epoch *e, int s, int b, int rank, float *xb, int32_t *yb)
{
    clg_status st;
    cli_gather_rows(e->order, e->n, s, e->B, rank * b, b, e->x, e->dim, e->y, xb, yb);
    if ((st = clg_graph_set_input(e->g, e->x_id, xb)) ||
        (e->y_id >= 0 && (st = clg_graph_set_input(e->g, e->y_id, yb))) ||
        (e->inputs && (st = e->inputs(e->user, e->epoch, s, xb, yb))))
        return st;
    return clg_graph_step_async(e->g);
}

int cli_train_epoch(cli_epoch *e)
{
    cli_run *r = e->run;
    clg_status st;
    int rc = 1;
    e->s0 = e->epoch == r->start_epoch ? r->start_step : 0;
    e->loss_sum = e->epoch == r->start_epoch ? r->loss_sum : 0;
    /* under mpirun: rank r takes rows [r b, (r + 1) b) of each global batch of B = N b rows, rank 0 reports */
    int N = clg_dist_size(), rank = clg_dist_rank(), b = e->B / N, show = rank == 0;
    /* Pipelined: step s + 1 is enqueued before step s's loss is waited for, so the host gathers
     * the next batch while the device runs a step.  The batches alternate between xb/yb and a
     * second pair, each refilled only once the step that read it has run (its loss claimed). */
    size_t xn = (size_t)b * (size_t)e->dim;
    float *xb[2] = { e->xb, malloc(xn * sizeof(float)) };
    int32_t *yb[2] = { e->yb, e->y ? malloc((size_t)b * sizeof(int32_t)) : NULL };
    if (!xb[1] || (e->y && !yb[1])) {
        free(xb[1]);
        free(yb[1]);
        fprintf(stderr, "clgrad %s: out of host memory\n", r->cmd);
        return 1;
    }
    util_progress p;
    char label[32];
    snprintf(label, sizeof label, "epoch %d/%d", e->epoch + 1, r->epochs);
    if (show)
        util_progress_start(&p, label, (long)e->steps * e->B, "samples");
    clg_graph_stats st0 = { 0 }, st1 = { 0 };
    clg_graph_stats_get(e->g, &st0);
    double t0 = util_now();
    int64_t ticket[2] = { 0, 0 };
    int started = e->s0, done = e->s0, sig = 0; /* steps [s0, started) enqueued, [s0, done) claimed */
    while (done < started || (started < e->steps && !sig)) {
        if (started < e->steps && !sig && started - done < 2) {
            int k = (started - e->s0) & 1;
            ticket[k] = clg_graph_step_count(e->g);
            if ((st = epoch_start(e, started, b, rank, xb[k], yb[k])))
                goto fail;
            started++;
            continue;
        }
        float loss;
        if ((st = clg_graph_loss_wait(e->g, ticket[(done - e->s0) & 1], &loss)))
            goto fail;
        if (!isfinite(loss)) {
            if (show)
                util_progress_end(&p);
            show = 0;
            fprintf(stderr, "clgrad %s: loss is %g at epoch %d step %d; lower --lr\n", r->cmd, loss, e->epoch + 1,
                    done);
            goto out;
        }
        e->loss_sum += loss;
        done++;
        cli_helper_mark_warm(); /* its kernels are compiled now */
        if (!sig)
            sig = N > 1 ? cli_interrupted_all() : cli_interrupted();
        char extra[48];
        snprintf(extra, sizeof extra, "%s %.4f", e->what, e->loss_sum / done);
        if (show)
            util_progress_update(&p, (long)done * e->B, extra);
    }
    if (sig) { /* every step started has run and been counted: save after the last */
        if (show)
            util_progress_end(&p);
        show = 0;
        rc = rank ? 128 + sig
                  : cli_run_save_interrupted(r, e->g, e->meta, e->epoch, done, e->steps, e->loss_sum,
                                             e->train_s + util_now() - t0);
        goto out;
    }
    if ((st = clg_ctx_finish(e->ctx))) {
        if (show)
            util_progress_end(&p);
        cli_fail("training", st);
        goto out;
    }
    e->seconds = util_now() - t0;
    if (e->g == g_prof.g) {
        g_prof.ctx = e->ctx;
        g_prof.steps += e->steps - e->s0;
        g_prof.seconds += e->seconds;
    }
    if (show)
        util_progress_end(&p);
    /* under several ranks: the time from the end of backward to the optimizer (staging, MPI and
     * waiting for the slowest rank), the epoch's mean per step */
    if (show && N > 1 && !clg_graph_stats_get(e->g, &st1) && st1.steps > st0.steps)
        printf("gradient exchange across %d ranks: %.3f ms per step\n", N,
               (st1.dist_ms - st0.dist_ms) / (double)(st1.steps - st0.steps));
    rc = -1;
    goto out;
fail:
    if (show)
        util_progress_end(&p);
    cli_fail("training step", st);
out:
    free(xb[1]);
    free(yb[1]);
    return rc;
}
