/* test_cli.c — the clgrad tool run as a user runs it (a child process per command) on small
 * synthetic MNIST-format data: strict arguments, checkpoint/data shape checks, outputs validated
 * before training, atomic outputs under a size limit and under SIGINT at random moments, and
 * exact resume after an interruption.  argv[1] is the clgrad executable; argv[2] "--no-plain" leaves
 * out the tests that need no device. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dict_fixture.h"
#include "harness.h"
#include "util.h"

static const char *g_exe;
static char g_dir[256];      /* scratch folder of this process */
static char g_data[300];     /* 8x8 images: 512 train, 64 test */
static char g_data4[300];    /* 4x4 images */
static char g_test_only[300];/* 8x8 test images only */
static char g_empty[300];    /* 8x8 train images, a test set of 0 images */
static char g_icd_env[400];  /* "OCL_ICD_VENDORS=DIR" for the children on PoCL (pocl_alone), or "" */
static int g_icd_platform = -1; /* the platform index that g_icd_env stands for (-1: none) */

/* ---- running the tool ------------------------------------------------------------------- */

typedef struct run_opts {
    const char *const *env;     /* "NAME=value" entries, NULL-terminated, or NULL */
    const char *sig_after;      /* send SIGINT once this text has been printed ... */
    int sig_delay_us;           /* ... this long after it (or after the start when sig_after is NULL and sig_delay_us > 0) */
    long fsize;                 /* RLIMIT_FSIZE set on the child (0: none) once fsize_after has been printed: */
    const char *fsize_after;    /* writes past it fail like on a full disk (the driver's own files before it do not) */
} run_opts;

typedef struct run_result {
    int status;                 /* exit code, or 128 + the terminating signal */
    int signaled;               /* ended by a signal (its default action) */
    char out[1 << 16];          /* stdout and stderr together (truncated) */
} run_result;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Run `clgrad args...` (NULL-terminated); fails the test if it runs past 300 s. */
static void run_v(run_result *r, const run_opts *o, const char *const *args)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = g_exe;
    for (; args[n - 1] && n < 63; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null_in = open("/dev/null", O_RDONLY); /* never the terminal */
        if (null_in > 0) {
            dup2(null_in, 0);
            close(null_in);
        }
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        if (tdev && tdev->platform_index == g_icd_platform)
            putenv(g_icd_env);
        for (int i = 0; o && o->env && o->env[i]; i++)
            putenv((char *)o->env[i]);
        if (o && o->fsize)
            signal(SIGXFSZ, SIG_IGN);
        execv(g_exe, (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    size_t len = 0;
    int sent = 0, armed = o && !o->sig_after && o->sig_delay_us > 0;
    double t0 = now_s(), fire = armed ? t0 + o->sig_delay_us * 1e-6 : 0;
    for (;;) {
        double t = now_s();
        if (t - t0 > 300) {
            kill(pid, SIGKILL);
            fail_msg("clgrad %s ran over 300 s", args[0]);
        }
        if (armed && !sent && t >= fire) {
            kill(pid, SIGINT);
            sent = 1;
        }
        int wait_ms = armed && !sent ? (int)((fire - t) * 1000) : 1000;
        struct pollfd p = { fd[0], POLLIN, 0 };
        if (poll(&p, 1, wait_ms < 0 ? 0 : wait_ms) <= 0)
            continue;
        ssize_t k = read(fd[0], r->out + len, sizeof r->out - 1 - len);
        if (k <= 0)
            break;
        len += (size_t)k;
        r->out[len] = 0;
        if (o && o->fsize && o->fsize_after && strstr(r->out, o->fsize_after)) {
            struct rlimit rl = { (rlim_t)o->fsize, (rlim_t)o->fsize };
            assert_int_equal(prlimit(pid, RLIMIT_FSIZE, &rl, NULL), 0);
        }
        if (o && o->sig_after && !armed && strstr(r->out, o->sig_after)) {
            armed = 1;
            fire = now_s() + o->sig_delay_us * 1e-6;
        }
        if (len == sizeof r->out - 1)
            len = 0; /* keep reading; the head is lost */
    }
    r->out[len] = 0;
    close(fd[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    r->signaled = WIFSIGNALED(ws);
}

#define RUN(r, o, ...) run_v((r), (o), (const char *const[]){ __VA_ARGS__, NULL })

static void expect(const run_result *r, int status, const char *text)
{
    if (r->status != status || (text && !strstr(r->out, text)))
        fail_msg("expected exit %d and '%s', got exit %d:\n%s", status, text ? text : "", r->status, r->out);
}

/* ---- files ------------------------------------------------------------------------------- */

static char *path(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static void put_be32(FILE *f, uint32_t v)
{
    unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                           (unsigned char)v };
    fwrite(b, 1, 4, f);
}

/* An MNIST-format split: class c lights pixel column c % side (and a little noise), learnable. */
static void write_split(const char *dir, const char *split, int n, int side, uint64_t seed)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte", dir, split);
    FILE *fi = fopen(p, "wb");
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte", dir, split);
    FILE *fl = fopen(p, "wb");
    assert_non_null(fi);
    assert_non_null(fl);
    put_be32(fi, 0x803);
    put_be32(fi, (uint32_t)n);
    put_be32(fi, (uint32_t)side);
    put_be32(fi, (uint32_t)side);
    put_be32(fl, 0x801);
    put_be32(fl, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        int c = (int)(util_splitmix64(&seed) % 10);
        fputc(c, fl);
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++) {
                int lit = x == c % side && (y < side / 2) == (c < side);
                fputc(lit ? 200 + (int)(util_splitmix64(&seed) % 56) : (int)(util_splitmix64(&seed) % 40), fi);
            }
    }
    assert_int_equal(fclose(fi), 0);
    assert_int_equal(fclose(fl), 0);
}

static void write_text(const char *p, const char *text)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* The whole file (NUL-terminated, *len bytes), or NULL when absent. */
static char *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    if (len)
        *len = (size_t)n;
    return b;
}

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* No "*.tmp-*" file is left in the scratch folder. */
static void assert_no_temp(void)
{
    DIR *d = opendir(g_dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp-"))
            fail_msg("temp file left behind: %s/%s", g_dir, e->d_name);
    closedir(d);
}

static void rm(const char *name) { unlink(path(name)); }

/* Remove what training runs named names[0..n) wrote (X.safetensors, .csv, .svg, .png). */
static void rm_runs(const char *const *names, int n)
{
    static const char *const ext[] = { ".safetensors", ".csv", ".svg", ".png" };
    char f[64];
    for (int i = 0; i < n; i++)
        for (int e = 0; e < 4; e++) {
            snprintf(f, sizeof f, "%s%s", names[i], ext[e]);
            rm(f);
        }
}

/* ---- set-up ------------------------------------------------------------------------------ */

static int setup_data(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/clgrad-cli-XXXXXX");
    if (!mkdtemp(g_dir))
        return 1;
    snprintf(g_data, sizeof g_data, "%s/d8", g_dir);
    snprintf(g_data4, sizeof g_data4, "%s/d4", g_dir);
    snprintf(g_test_only, sizeof g_test_only, "%s/t8", g_dir);
    snprintf(g_empty, sizeof g_empty, "%s/e8", g_dir);
    mkdir(g_data, 0777);
    mkdir(g_data4, 0777);
    mkdir(g_test_only, 0777);
    mkdir(g_empty, 0777);
    write_split(g_data, "train", 512, 8, 1);
    write_split(g_data, "t10k", 64, 8, 2);
    write_split(g_data4, "train", 512, 4, 3);
    write_split(g_data4, "t10k", 64, 4, 4);
    write_split(g_test_only, "t10k", 64, 8, 2);
    write_split(g_empty, "train", 512, 8, 1);
    write_split(g_empty, "t10k", 0, 8, 2);
    return 0;
}

/* On PoCL, the children load PoCL's ICD alone (OCL_ICD_VENDORS, a folder holding only pocl.icd):
 * loading every driver costs each child ~0.2 s more, of about 0.5 s (rusticl's children gain
 * nothing from it, so they keep the full set, which also exercises a spec on a second platform).
 * Not when OCL_ICD_FILENAMES adds drivers, or there is no pocl.icd to copy. */
static int pocl_alone(void **state)
{
    (void)state;
    g_icd_env[0] = 0;
    g_icd_platform = -1;
    const char *extra = getenv("OCL_ICD_FILENAMES"), *vendors = getenv("OCL_ICD_VENDORS");
    if (strcmp(tdev->platform_name, "Portable Computing Language") != 0 || (extra && *extra))
        return 0;
    char src[600], dir[300], dst[400];
    snprintf(src, sizeof src, "%s/pocl.icd", vendors && *vendors ? vendors : "/etc/OpenCL/vendors");
    snprintf(dir, sizeof dir, "%s/icd-pocl", g_dir);
    snprintf(dst, sizeof dst, "%s/pocl.icd", dir);
    FILE *in = fopen(src, "rb");
    if (!in)
        return 0;
    mkdir(dir, 0777);
    FILE *out = fopen(dst, "wb");
    char buf[4096];
    size_t n;
    int ok = out != NULL;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    fclose(in);
    if (out && fclose(out) != 0)
        ok = 0;
    if (!ok)
        return 1; /* the setup fails: the test reports it */
    snprintf(g_icd_env, sizeof g_icd_env, "OCL_ICD_VENDORS=%s", dir);
    g_icd_platform = tdev->platform_index;
    return 0;
}

/* The device the group runs on, as a --device spec for the children (platform 0 when they load
 * PoCL alone). */
static const char *dev_spec(void)
{
    static char spec[32];
    snprintf(spec, sizeof spec, "%d:%d", tdev->platform_index == g_icd_platform ? 0 : tdev->platform_index,
             tdev->device_index);
    return spec;
}

/* A small MLP run: 8x8 images, one hidden layer of 16, batch 32 (16 steps an epoch). */
#define MLP_ARGS(out, epochs) "train", "mlp", "--data", g_data, "--hidden", "16", "--batch", "32", "--epochs", epochs, \
                              "--device", dev_spec(), "--out", path(out)

/* ---- arguments (no device needed) -------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
    (void)state;
    static const struct {
        const char *args[12];
        const char *msg;
    } cases[] = {
        { { "train", "mlp", "--batch", "12abc" }, "--batch must be an integer" },
        { { "train", "mlp", "--batch", "99999999999" }, "--batch must be an integer" },
        { { "train", "mlp", "--batch", " 12" }, "--batch must be an integer" },
        { { "train", "mlp", "--seed", "abc" }, "--seed must be an integer" },
        { { "train", "mlp", "--seed", "-1" }, "--seed must be an integer" },
        { { "train", "mlp", "--lr", "0" }, "--lr must be a number" },
        { { "train", "mlp", "--lr", "1e39" }, "--lr must be a number" },
        { { "train", "mlp", "--lr", "nan" }, "--lr must be a number" },
        { { "train", "mlp", "--epochs", "0" }, "--epochs must be an integer" },
        { { "train", "mlp", "--hidden", "1,2,3,4,5,6,7,8,9,10,11" }, "--hidden takes at most 7 values" },
        { { "train", "mlp", "--hidden", ",," }, "--hidden must be" },
        { { "train", "mlp", "--hidden", "16,,16" }, "--hidden must be" },
        { { "train", "mlp", "--hidden", "16,0" }, "--hidden must be an integer in 1.." },
        { { "train", "mlp", "--train-limit", "0" }, "--train-limit must be an integer in 1.." },
        { { "train", "mlp", "--train-limit", "-5" }, "--train-limit must be an integer in 1.." },
        { { "train", "mlp", "--batch", "8", "--batch", "16" }, "option '--batch' given more than once" },
        { { "train", "mlp", "--profile", "--profile" }, "option '--profile' given more than once" },
        { { "train", "mae", "--encoder", "0" }, "--encoder must be an integer in 1.." },
        { { "train", "simclr", "--temperature", "0" }, "--temperature must be a number" },
        { { "train", "simclr", "--crop-scale", "0.5" }, "--crop-scale must be LO,HI" },
        { { "train", "simclr", "--crop-scale", "0.9,0.5" }, "LO 0.9 is above HI 0.5" },
        { { "train", "simclr", "--flip", "2" }, "--flip must be a number" },
        { { "train", "simclr", "--no-crop", "--crop-ratio", "1,2" }, "exclude each other" },
        { { "train", "mae", "--epochs", "x" }, "--epochs must be an integer" },
        { { "train", "mae", "--mask-ratio", "1.5" }, "--mask-ratio must be a number" },
        { { "train", "mae", "--mask-ratio", "-0.1" }, "--mask-ratio must be a number in [0, 1]" },
        { { "train", "mae", "--noise", "-0.1" }, "--noise must be a number in [0, 10]" },
        { { "train", "mae", "--noise", "0.3x" }, "--noise must be a number" },
        { { "train", "mae", "--lr", "-1" }, "--lr must be a number" },
        { { "adapt", "--from", "none", "--labels", "0" }, "--labels must be an integer in 1.." },
        { { "adapt", "--from", "none", "--labels", "abc" }, "--labels must be an integer" },
        { { "adapt", "--from", "pixels", "--encoder", "64" }, "--encoder applies to --from none only" },
        { { "adapt", "--from", "pixels", "--mode", "finetune" }, "--mode applies to a pretrained encoder" },
        { { "adapt", "--from", "none", "--mode", "probe" }, "--mode applies to a pretrained encoder" },
        { { "eval", "x.safetensors", "--batch", "0" }, "--batch must be an integer" },
        { { "train", "sgns", "--corpus", "c", "--out", "v", "--seed", "1x" }, "--seed must be an integer" },
        { { "train", "sgns", "--corpus", "c", "--out", "v", "--sample", "2" }, "--sample must be a number" },
        { { "similar", "--vectors", "v", "w", "-k", "0" }, "-k must be an integer" },
        { { "bench", "--reps", "3x" }, "--reps must be an integer" },
        { { "train", "clip", "--holdout", "sandal,hat" }, "--holdout: 'hat' is not a class" },
        { { "train", "clip", "--holdout", "shirt,6" }, "'6' is given twice" },
        { { "train", "clip", "--holdout", "0,1,2,3,4,5,6,7,8" }, "fewer than 2 classes" },
        { { "train", "clip", "--embed", "0" }, "--embed must be an integer" },
        { { "train", "clip", "--temperature", "0" }, "--temperature must be a number" },
        { { "zeroshot", "--model", "m", "--classes", "," }, "--classes: '' is not a class" },
        { { "zeroshot", "--classes", "bag" }, "--model is required" },
        { { "search", "--model", "m" }, "need --model FILE and a query" },
        { { "search", "--model", "m", "q", "--top", "0" }, "--top must be an integer" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result *r = malloc(sizeof *r);
        assert_non_null(r);
        run_v(r, NULL, cases[i].args);
        if (r->status != 2 || !strstr(r->out, cases[i].msg))
            fail_msg("case %zu (%s %s %s): expected exit 2 and '%s', got %d:\n%s", i, cases[i].args[0],
                     cases[i].args[1], cases[i].args[2] ? cases[i].args[2] : "", cases[i].msg, r->status, r->out);
        free(r);
    }
}

/* Checkpoint metadata is parsed as strictly as arguments. */
static void test_bad_metadata(void **state)
{
    (void)state;
    static const char *const archs[] = { "64-16x-10", "64-99999999999-10", "64--10", "-64-10", "64", "64-16-10-" };
    float w[4] = { 0 };
    clg_st_tensor t = { "fc1.weight", CLG_F32, 2, { 2, 2 }, w };
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        const char *meta[] = { "model", "mlp", "arch", archs[i], NULL };
        assert_clg_ok(clg_safetensors_write(path("meta.safetensors"), &t, 1, meta));
        RUN(r, NULL, "eval", path("meta.safetensors"), "--data", g_data);
        if (r->status != 1 || !strstr(r->out, "no valid clgrad model metadata"))
            fail_msg("arch '%s': expected exit 1 and a metadata error, got %d:\n%s", archs[i], r->status, r->out);
    }
    const char *meta[] = { "model", "mae", "arch", "64-16-64", "patch", "2x", NULL };
    assert_clg_ok(clg_safetensors_write(path("meta.safetensors"), &t, 1, meta));
    RUN(r, NULL, "eval", path("meta.safetensors"), "--data", g_data);
    expect(r, 1, "metadata patch must be an integer");
    const char *meta_n[] = { "model", "mae", "arch", "64-16-64", "patch", "2", "noise", "-1", NULL };
    assert_clg_ok(clg_safetensors_write(path("meta.safetensors"), &t, 1, meta_n));
    RUN(r, NULL, "eval", path("meta.safetensors"), "--data", g_data);
    expect(r, 1, "metadata noise must be a number");
    rm("meta.safetensors");
    free(r);
}

/* Defect: a FIFO given as an input blocked forever; the tool's own readers refuse it at once. */
static void test_fifo_inputs(void **state)
{
    (void)state;
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    assert_int_equal(mkfifo(path("fifo"), 0600), 0);
    double t0 = now_s();
    RUN(r, NULL, "bench", "compare", path("fifo"), path("fifo"));
    expect(r, 1, "not a regular file");
    RUN(r, NULL, "eval", path("fifo"), "--data", g_data);
    expect(r, 1, "not a regular file");
    assert_true(now_s() - t0 < 30);
    rm("fifo");
    free(r);
}

/* `bench compare` pairs metrics by device and key and prints B/A; a file that is not strict JSON
 * (a repeated key, a truncated text) or not a bench file is refused with its name and the place. */
static void test_bench_compare(void **state)
{
    (void)state;
    static const char head[] =
        "{\n  \"format\": \"clgrad-bench-1\",\n  \"version\": \"0.1.0\",\n  \"quick\": true,\n"
        "  \"full\": false,\n  \"devices\": [\n    {\"index\": 0, \"id\": \"0:0\", \"name\": \"cpu \\u00e9\", "
        "\"platform\": \"P\", \"driver\": \"1\"}\n  ],\n  \"metrics\": [\n";
    char text[2048];
    snprintf(text, sizeof text,
             "%s    {\"device\": 0, \"key\": \"train/mlp\", \"label\": \"MLP step\", \"section\": \"training\", "
             "\"unit\": \"samples/s\", \"status\": \"ok\", \"median\": 1000, \"min\": 900, \"max\": 1100, \"reps\": 3},\n"
             "    {\"device\": 0, \"key\": \"launch_us\", \"label\": \"launch latency\", \"section\": \"device\", "
             "\"unit\": \"us\", \"status\": \"err\", \"median\": null, \"message\": \"x\"}\n  ]\n}\n",
             head);
    write_text(path("a.json"), text);
    char *m = strstr(text, "1000");
    memcpy(m, "1500", 4);
    write_text(path("b.json"), text);
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    RUN(r, NULL, "bench", "compare", path("a.json"), path("b.json"));
    expect(r, 0, "1.50x");
    expect(r, 0, "cpu \xc3\xa9"); /* \u00e9 decoded */
    if (strstr(r->out, "launch latency"))
        fail_msg("a metric without status ok was compared:\n%s", r->out);
    /* a repeated key: refused, not read as either value */
    char *q = strstr(text, "\"quick\": true,");
    char dup[2100];
    snprintf(dup, sizeof dup, "%.*s\"quick\": true, \"quick\": false,%s", (int)(q - text), text,
             q + strlen("\"quick\": true,"));
    write_text(path("dup.json"), dup);
    RUN(r, NULL, "bench", "compare", path("a.json"), path("dup.json"));
    expect(r, 1, "dup.json: malformed JSON at line 4, column");
    expect(r, 1, "duplicate object key near '\"quick\"'");
    text[300] = 0;
    write_text(path("cut.json"), text);
    RUN(r, NULL, "bench", "compare", path("cut.json"), path("a.json"));
    expect(r, 1, "cut.json: malformed JSON at line");
    write_text(path("other.json"), "{\"format\": \"other\", \"devices\": [], \"metrics\": []}");
    RUN(r, NULL, "bench", "compare", path("a.json"), path("other.json"));
    expect(r, 1, "other.json is not a `clgrad bench --json` file");
    write_text(path("other.json"), "{\"format\": \"clgrad-bench-1\", \"devices\": {}, \"metrics\": []}");
    RUN(r, NULL, "bench", "compare", path("a.json"), path("other.json"));
    expect(r, 1, "\"devices\" and \"metrics\" must be arrays");
    RUN(r, NULL, "bench", "compare", path("a.json"));
    expect(r, 2, "usage: clgrad bench compare A.json B.json");
    rm("a.json");
    rm("b.json");
    rm("dup.json");
    rm("cut.json");
    rm("other.json");
    free(r);
}

/* ---- per device ------------------------------------------------------------------------ */

/* A malformed CLGRAD_* variable stops the ctx with a message naming it. */
static void test_bad_environment(void **state)
{
    (void)state;
    static const char *const envs[][2] = {
        { "CLGRAD_GEMM=bogus", "CLGRAD_GEMM='bogus' is not one of" },
        { "CLGRAD_GEMM_TILE=8,8", "CLGRAD_GEMM_TILE='8,8' is malformed" },
        { "CLGRAD_GEMM_TILE=8,7,1", "CLGRAD_GEMM_TILE='8,7,1' is malformed" },
        { "CLGRAD_GEMM_TILE=8,8,1x", "CLGRAD_GEMM_TILE='8,8,1x' is malformed" },
        { "CLGRAD_GEMM_RM=0", "CLGRAD_GEMM_RM='0' is malformed" },
        { "CLGRAD_VEC_KERNELS=yes", "CLGRAD_VEC_KERNELS='yes' is not one of" },
    };
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        const char *env[] = { envs[i][0], NULL };
        run_opts o = { .env = env };
        RUN(r, &o, MLP_ARGS("env.safetensors", "1"));
        expect(r, 1, envs[i][1]);
        assert_false(exists(path("env.safetensors")));
    }
    free(r);
}

/* Defect: eval/adapt never checked the model's input width against the images (a read past the
 * host batch, or a meaningless accuracy with exit 0). */
static void test_shape_mismatch(void **state)
{
    (void)state;
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    RUN(r, NULL, MLP_ARGS("m8.safetensors", "1"));
    expect(r, 0, "done: test accuracy");
    RUN(r, NULL, "eval", path("m8.safetensors"), "--data", g_data4, "--batch", "500", "--device", dev_spec());
    expect(r, 1, "takes 64 inputs");
    /* eval needs only the test split */
    RUN(r, NULL, "eval", path("m8.safetensors"), "--data", g_test_only, "--device", dev_spec());
    expect(r, 0, "test accuracy");
    /* an empty test set is an error, not accuracy 0 */
    RUN(r, NULL, "eval", path("m8.safetensors"), "--data", g_empty, "--device", dev_spec());
    expect(r, 1, "has no images");
    RUN(r, NULL, "train", "mlp", "--data", g_empty, "--hidden", "16", "--batch", "32", "--epochs", "1", "--device",
        dev_spec(), "--out", path("e.safetensors"));
    expect(r, 1, "has no images");
    assert_false(exists(path("e.safetensors")));
    /* the data loads in a second thread while the device opens (cli_open_device_loading): a bad
     * device, bad data or both are each reported, the exit status is 1, nothing is written */
    RUN(r, NULL, "train", "mlp", "--data", g_data, "--epochs", "1", "--device", "no-such-device", "--out",
        path("nd.safetensors"));
    expect(r, 1, "clgrad: device:");
    RUN(r, NULL, "train", "mae", "--data", path("no-such-dir"), "--epochs", "1", "--device", "no-such-device",
        "--out", path("nd.safetensors"));
    expect(r, 1, "clgrad: device:");
    expect(r, 1, "clgrad: loading data:");
    RUN(r, NULL, "train", "simclr", "--data", path("no-such-dir"), "--epochs", "1", "--device", dev_spec(), "--out",
        path("nd.safetensors"));
    expect(r, 1, "clgrad: loading data:");
    assert_false(exists(path("nd.safetensors")));
    /* an auto-encoder's encoder on images of another size */
    RUN(r, NULL, "train", "mae", "--data", g_data, "--patch", "2", "--encoder", "16,8", "--batch", "64", "--epochs",
        "1", "--device", dev_spec(), "--out", path("ae8.safetensors"));
    expect(r, 0, "done: test masked mse");
    RUN(r, NULL, "adapt", "--from", path("ae8.safetensors"), "--data", g_data4, "--epochs", "1", "--device",
        dev_spec(), "--out", path("a4.safetensors"));
    expect(r, 1, "takes 64 inputs");
    assert_false(exists(path("a4.safetensors")));
    RUN(r, NULL, "eval", path("ae8.safetensors"), "--data", g_data4, "--device", dev_spec());
    expect(r, 1, "takes 64 inputs");
    RUN(r, NULL, "train", "mae", "--data", g_data, "--patch", "3", "--epochs", "1", "--device", dev_spec(), "--out",
        path("p3.safetensors"));
    expect(r, 2, "--patch 3 does not divide");
    rm_runs((const char *const[]){ "m8", "ae8" }, 2);
    free(r);
}

/* --profile ends with the step's GEMM work (2*M*N*K per product the step runs: per 8x8 image
 * 64*16 + 16*10 multiply-adds forward, the same for the weight gradients, 16*10 for the hidden
 * layer's input gradient; batch 32), its GFLOP/s and their share of the FMA peak measured there
 * in launches of ~10 ms.  Where the device's profiling clock gives times (PoCL), the GFLOP/s are
 * the GEMM work over the step's span on that clock, the kernels' time within it; rusticl's gives
 * none (0-3 ns for every command), and the host's clock times the steps, with a wait after every
 * op.  On empty caches (PoCL's and clgrad's): the defect was that the peak kernel's first launch,
 * its compile, was timed and ended the calibration at 16 iterations, so a cold run timed launches
 * of microseconds (112 GFLOP/s against ~450 on an AVX-512 Xeon, in `clgrad bench` too); a busy
 * machine only makes launches longer. */
static void test_profile_flops(void **state)
{
    (void)state;
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    char pocl[700], cache[700];
    snprintf(pocl, sizeof pocl, "POCL_CACHE_DIR=%s", path("pocl-cold"));
    snprintf(cache, sizeof cache, "CLGRAD_CACHE_DIR=%s", path("cache-cold"));
    assert_int_equal(mkdir(path("pocl-cold"), 0777), 0);
    const char *env[] = { pocl, cache, NULL };
    run_opts o = { .env = env };
    RUN(r, &o, MLP_ARGS("pf.safetensors", "1"), "--profile");
    expect(r, 0, "kernel launches per training step");
    const double expect_mflop = 2.0 * 32 * (2 * (64.0 * 16 + 16.0 * 10) + 16.0 * 10) * 1e-6;
    const char *w = strstr(r->out, "GEMM work ");
    double mflop = 0, gflops = 0, pct = 0, peak = 0;
    if (!w || sscanf(w, "GEMM work %lf MFLOP per step", &mflop) != 1 || fabs(mflop - expect_mflop) > 1e-6)
        fail_msg("expected 'GEMM work %g MFLOP per step':\n%s", expect_mflop, r->out);
    double dev_ms = 0, host_ms = 0, kern_ms = 0, span_ms = 0, gap_ms = 0;
    unsigned long steps = 0;
    const char *d = strstr(w, "per product; element-wise work not counted), ");
    const char *t = strstr(r->out, "per training step (device clock, ");
    if (strstr(r->out, "profiling clock gives no times")) {
        /* rusticl 22.3 (its times are 0-3 ns): the host's clock, a wait after every op */
        if (!strcmp(tdev->platform_name, "Portable Computing Language") || t || !d ||
            sscanf(d, "per product; element-wise work not counted), %lf ms per profiled step (synchronised after "
                      "every op)", &dev_ms) != 1 || !(dev_ms > 0))
            fail_msg("expected the host's clock where the device's gives no times (never on PoCL):\n%s", r->out);
    } else if (!d ||
               sscanf(d, "per product; element-wise work not counted), %lf ms per profiled step on the device (%lf ms "
                         "on the host clock", &dev_ms, &host_ms) != 2 || !(dev_ms > 0) || !(host_ms > 0) ||
               !t ||
               sscanf(t, "per training step (device clock, %lu steps): %lf ms in kernels, %lf ms from the first "
                         "kernel's start to the last's end, %lf ms", &steps, &kern_ms, &span_ms, &gap_ms) != 4 ||
               !steps || !(kern_ms > 0) || !(span_ms >= kern_ms - 0.0015) || fabs(span_ms - dev_ms) > 0.0015)
        fail_msg("expected the steps on the device's profiling clock (kernels within the span; the span as the "
                 "step's time):\n%s", r->out);
    const char *p = strstr(r->out, " GFLOP/s per step = ");
    if (!p)
        p = strstr(r->out, " GFLOP/s per step, above ");
    while (p && p > r->out && p[-1] != '\n')
        p--;
    /* either a share of the peak, at most 100%, or the line that says the step ran above it */
    int chains = 0, best = 0;
    double ms = 0;
    if (p && sscanf(p, "%lf GFLOP/s per step, above this device's FMA peak as measured after the run (%lf GFLOP/s, "
                       "float%d chains, best of %d launches of %lf ms)", &gflops, &peak, &chains, &best, &ms) == 5) {
        if (!(gflops > peak) || !(peak > 0) || best != 5)
            fail_msg("'above the peak' with a step at or below it (%g, %g GFLOP/s):\n%s", gflops, peak, r->out);
    } else if (!p ||
               sscanf(p, "%lf GFLOP/s per step = %lf%% of this device's measured FMA peak (%lf GFLOP/s, float%d chains, "
                         "best of %d launches of %lf ms)", &gflops, &pct, &peak, &chains, &best, &ms) != 6 ||
               !(gflops > 0) || !(peak > 0) || !(pct > 0 && pct <= 100.5) || best != 5 ||
               fabs(pct - 100 * gflops / peak) > 0.01 * pct + 0.01 ||
               fabs(gflops - mflop / dev_ms) > 0.01 * gflops + mflop / dev_ms * 0.0006 / dev_ms)
        fail_msg("expected 'G GFLOP/s per step = P%% of this device's measured FMA peak (F GFLOP/s, floatW chains, best "
                 "of 5 launches of T ms)' with P in (0, 100], or the line for a step above the peak:\n%s",
                 r->out);
    if (chains != 1 && chains != 4 && chains != 8 && chains != 16)
        fail_msg("float%d chains: not one of the peak's widths\n%s", chains, r->out);
    if (!(ms >= 5))
        fail_msg("the peak's launches took %g ms, not ~10: its calibration stopped early\n%s", ms, r->out);
    util_rm_tree(path("pocl-cold"));
    util_rm_tree(path("cache-cold"));
    rm_runs((const char *const[]){ "pf" }, 1);
    free(r);
}

/* The per-epoch evaluation of train mlp and adapt runs on an inference copy of the model at 1000
 * rows (train_mlp.c's eval_model), except under train mlp --profile, which evaluates on the
 * training graph: both give the same losses and accuracies, epoch by epoch.  adapt (a classifier:
 * the other builder) reports the test accuracy that `clgrad eval` finds in its checkpoint. */
static void test_eval_graph(void **state)
{
    (void)state;
    run_result *r = malloc(sizeof *r);
    char lines[2][2048] = { "", "" };
    assert_non_null(r);
    for (int prof = 0; prof < 2; prof++) {
        if (prof)
            RUN(r, NULL, MLP_ARGS("ev.safetensors", "3"), "--profile");
        else
            RUN(r, NULL, MLP_ARGS("ev.safetensors", "3"));
        expect(r, 0, "epoch  3  train loss ");
        /* every epoch line up to its test accuracy */
        size_t k = 0;
        for (const char *e = strstr(r->out, "epoch  1 "); e; e = strstr(e + 1, "\nepoch ")) {
            e += *e == '\n';
            const char *t = strstr(e, " test acc ");
            assert_non_null(t);
            k += (size_t)snprintf(lines[prof] + k, sizeof lines[prof] - k, "%.*s\n", (int)(t + 16 - e), e);
        }
    }
    if (strcmp(lines[0], lines[1]))
        fail_msg("evaluation graph:\n%s\ntraining graph (--profile):\n%s", lines[0], lines[1]);
    RUN(r, NULL, "adapt", "--from", "none", "--data", g_data, "--epochs", "2", "--batch", "32", "--device", dev_spec(),
        "--out", path("ev.safetensors"));
    const char *d = strstr(r->out, "done: test accuracy ");
    double acc = -1, eacc = -2;
    if (!d || sscanf(d, "done: test accuracy %lf", &acc) != 1)
        fail_msg("adapt:\n%s", r->out);
    RUN(r, NULL, "eval", path("ev.safetensors"), "--data", g_data, "--device", dev_spec());
    const char *t = strstr(r->out, ", test accuracy ");
    if (!t || sscanf(t, ", test accuracy %lf", &eacc) != 1 || eacc != acc)
        fail_msg("adapt reported test accuracy %.4f; eval:\n%s", acc, r->out);
    rm_runs((const char *const[]){ "ev" }, 1);
    free(r);
}

/* The plain (--mask-ratio 0) and denoising (--noise) auto-encoders: the loss and the summary cover
 * every pixel (the defect: ratio 0 trained nothing and reported 0 vs 0), the checkpoint records the
 * noise, and eval and adapt take it. */
static void test_plain_denoising_ae(void **state)
{
    (void)state;
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    for (int noisy = 0; noisy < 2; noisy++) {
        const char *out = path(noisy ? "dae.safetensors" : "pae.safetensors");
        RUN(r, NULL, "train", "mae", "--data", g_data, "--patch", "2", "--encoder", "16,8", "--batch", "64", "--epochs",
            "2", "--mask-ratio", "0", "--noise", noisy ? "0.3" : "0", "--device", dev_spec(), "--out", out);
        expect(r, 0, "(plain auto-encoder, loss on all pixels)");
        if (noisy)
            expect(r, 0, "input noise sigma 0.3");
        const char *done = strstr(r->out, "done: test mse ");
        double mse = 0, base = 0;
        if (!done || sscanf(done, "done: test mse %lf vs mean-image baseline %lf", &mse, &base) != 2 || !(mse > 0) ||
            !(base > 0))
            fail_msg("expected a positive test mse and baseline on all pixels:\n%s", r->out);
        RUN(r, NULL, "eval", out, "--data", g_data, "--device", dev_spec());
        expect(r, 0, noisy ? "test all-pixel (noisy input) MSE" : "test all-pixel MSE");
        RUN(r, NULL, "adapt", "--from", out, "--data", g_data, "--epochs", "1", "--batch", "64", "--device", dev_spec(),
            "--out", path("pa.safetensors"));
        expect(r, 0, "done: test accuracy");
    }
    rm_runs((const char *const[]){ "pae", "dae", "pa" }, 3);
    free(r);
}

/* A diverging run (SGD at lr 1e6; two hidden layers of 64: MLP_ARGS' one of 16 dies under it and
 * its loss stays finite): the step whose loss is not finite is named, nothing is written, exit 1
 * (cli_train_epoch checks each loss as it claims it, one step behind the device). */
static void test_loss_diverges(void **state)
{
    (void)state;
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    RUN(r, NULL, "train", "mlp", "--data", g_data, "--hidden", "64,64", "--batch", "32", "--epochs", "1", "--device",
        dev_spec(), "--out", path("nan.safetensors"), "--optimizer", "sgd", "--lr", "1e6", "--schedule", "constant");
    expect(r, 1, "; lower --lr");
    if (!strstr(r->out, "loss is nan at epoch 1 step ") && !strstr(r->out, "loss is inf at epoch 1 step "))
        fail_msg("output:\n%s", r->out);
    assert_false(exists(path("nan.safetensors")) || exists(path("nan.csv")) || exists(path("nan.svg")));
    assert_no_temp();
    free(r);
}

/* Defect: a bad --out failed only after training (leaving .csv/.svg); --log equal to --out lost the
 * log.  Outputs are checked before any work, and nothing is written. */
static void test_outputs_checked_first(void **state)
{
    (void)state;
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    mkdir(path("adir"), 0777);
    RUN(r, NULL, MLP_ARGS("adir", "1"));
    expect(r, 2, "exists and is a folder");
    RUN(r, NULL, "train", "mlp", "--data", g_data, "--out", "", "--device", dev_spec());
    expect(r, 2, "--out is an empty path");
    RUN(r, NULL, MLP_ARGS("x.safetensors", "1"), "--log", path("x.safetensors"));
    expect(r, 2, "--out and --log are the same file");
    RUN(r, NULL, MLP_ARGS("x.safetensors", "1"), "--log", path("adir/../x.safetensors"));
    expect(r, 2, "--out and --log are the same file");
    RUN(r, NULL, MLP_ARGS("nodir/x.safetensors", "1"));
    expect(r, 2, "does not exist");
    RUN(r, NULL, "train", "mae", "--data", g_data, "--out", path("adir/"), "--device", dev_spec());
    expect(r, 2, "folder");
    RUN(r, NULL, "train", "mae", "--data", g_data, "--out", path("new/"), "--device", dev_spec());
    expect(r, 2, "names a folder");
    RUN(r, NULL, "train", "sgns", "--corpus", g_data, "--out", path("adir"));
    expect(r, 2, "exists and is a folder");
    assert_false(exists(path("x.safetensors")) || exists(path("x.csv")) || exists(path("x.svg")));
    assert_false(exists(path("adir.csv")) || exists(path("adir.svg")));
    rmdir(path("adir"));
    assert_no_temp();
    free(r);
}

/* Defect: with a full disk the CSV and SVG writes failed silently ("wrote ...", exit 0, 0-byte
 * files).  Writes past RLIMIT_FSIZE fail like a full disk: the run fails, names the file, and the
 * previous outputs are intact.  The limit comes once epoch 1 is printed (every kernel compiled:
 * PoCL's cache writes are done) and must be in place before the outputs are written at the end:
 * 50 epochs on PoCL leave tens of milliseconds for that where 2 epochs of this tiny MLP took
 * ~2 ms on a fast host, and the checkpoint was written before the limit came (a CI failure);
 * rusticl's launches make 3 epochs take longer than that. */
static void test_write_errors(void **state)
{
    (void)state;
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    write_text(path("w.safetensors"), "old checkpoint");
    write_text(path("w.csv"), "old log");
    write_text(path("w.svg"), "old curve");
    run_opts o = { .fsize = 1000, .fsize_after = "epoch  1" };
    RUN(r, &o, MLP_ARGS("w.safetensors", clg_test_is_rusticl() ? "3" : "50"));
    if (r->status == 0 || !strstr(r->out, "w.safetensors") || strstr(r->out, "wrote "))
        fail_msg("a failed write must fail the run, naming the file; got %d:\n%s", r->status, r->out);
    char *a = slurp(path("w.safetensors"), NULL), *b = slurp(path("w.csv"), NULL), *c = slurp(path("w.svg"), NULL);
    assert_string_equal(a, "old checkpoint");
    assert_string_equal(b, "old log");
    assert_string_equal(c, "old curve");
    free(a);
    free(b);
    free(c);
    assert_no_temp();
    /* the SVG writer alone, in a child limited to 100 bytes */
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = { 100, 100 };
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        double v[3] = { 1, 2, 3 };
        const double *series[1] = { v };
        const char *names[1] = { "x" };
        clg_status st = util_svg_curves(path("w.svg"), "t", "epoch", 3, series, names, 1);
        _exit(st == CLG_ERR_IO ? 0 : 1);
    }
    int ws;
    waitpid(pid, &ws, 0);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    c = slurp(path("w.svg"), NULL);
    assert_string_equal(c, "old curve");
    free(c);
    assert_no_temp();
    rm("w.safetensors");
    rm("w.csv");
    rm("w.svg");
    free(r);
}

/* Parameters of two checkpoints are the same bytes (the optimizer state too). */
static void assert_same_params(const char *a, const char *b)
{
    clg_st_file *fa, *fb;
    assert_clg_ok(clg_safetensors_open(a, &fa));
    assert_clg_ok(clg_safetensors_open(b, &fb));
    int n = clg_safetensors_count(fa);
    assert_int_equal(n, clg_safetensors_count(fb));
    assert_true(n >= 4);
    for (int i = 0; i < n; i++) {
        clg_st_tensor ta, tb;
        assert_clg_ok(clg_safetensors_get(fa, i, &ta));
        assert_clg_ok(clg_safetensors_find(fb, ta.name, &tb));
        int64_t numel = 1;
        for (int d = 0; d < ta.ndim; d++)
            numel *= ta.shape[d];
        if (memcmp(ta.data, tb.data, (size_t)numel * 4) != 0)
            fail_msg("%s: tensor %s differs from %s", b, ta.name, a);
    }
    assert_string_equal(clg_safetensors_meta(fa, "step"), clg_safetensors_meta(fb, "step"));
    clg_safetensors_close(fa);
    clg_safetensors_close(fb);
}

/* The compile helper (helper.c; PoCL only): a run with it, made to send the step whatever the
 * caches hold (CLGRAD_COMPILE_HELPER=always: the whole protocol, no cold compile in the suite),
 * ends with the checkpoint bits of a run without it, leaves no list file in TMPDIR and marks the
 * command warm in the cache folder (one warm-* file); its command refuses a wrong call and ends
 * quietly when its input ends. */
static void test_compile_helper(void **state)
{
    (void)state;
    if (strcmp(tdev->platform_name, "Portable Computing Language") != 0) {
        skip();
        return;
    }
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    char tmp[700], cache[700];
    snprintf(tmp, sizeof tmp, "TMPDIR=%s", path("tmp-helper"));
    snprintf(cache, sizeof cache, "CLGRAD_CACHE_DIR=%s", path("cache-helper"));
    mkdir(path("tmp-helper"), 0777);
    const char *on[] = { tmp, cache, "CLGRAD_COMPILE_HELPER=always", NULL };
    const char *off[] = { "CLGRAD_COMPILE_HELPER=0", NULL };
    run_opts o1 = { .env = on }, o0 = { .env = off };
    RUN(r, &o1, MLP_ARGS("h1.safetensors", "2"));
    expect(r, 0, "done:");
    RUN(r, &o0, MLP_ARGS("h0.safetensors", "2"));
    expect(r, 0, "done:");
    assert_same_params(path("h1.safetensors"), path("h0.safetensors"));
    DIR *d = opendir(path("tmp-helper"));
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            fail_msg("left in TMPDIR: %s", e->d_name);
    closedir(d);
    int marks = 0;
    assert_non_null(d = opendir(path("cache-helper")));
    for (struct dirent *e; (e = readdir(d));)
        marks += !strncmp(e->d_name, "warm-", 5);
    closedir(d);
    assert_int_equal(marks, 1);
    util_rm_tree(path("cache-helper"));
    RUN(r, NULL, "__compile-helper");
    assert_int_equal(r->status, 2);
    RUN(r, NULL, "__compile-helper", "99:99");
    assert_int_equal(r->status, 1);
    assert_string_equal(r->out, "");
    RUN(r, NULL, "__compile-helper", dev_spec()); /* stdin /dev/null: nothing to do */
    assert_int_equal(r->status, 0);
    assert_string_equal(r->out, "");
    rm_runs((const char *const[]){ "h1", "h0" }, 2);
    rmdir(path("tmp-helper"));
    free(r);
}

/* Interrupt `args` with SIGINT at a random moment after `after` appears, then resume it with
 * --resume (interrupting the resumed runs too, up to `times` interruptions) until it finishes; its
 * checkpoint must equal `ref` bit for bit. */
static void interrupt_and_resume(const char *const *args, int nargs, const char *resume_file, const char *out,
                                 const char *ref, const char *after, int times)
{
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    const char *argv[40];
    memcpy(argv, args, (size_t)nargs * sizeof *argv);
    int interrupted = 0, delay_us = 4000;
    uint64_t seed = 7;
    for (int round = 0; round < 20; round++) {
        int n = nargs;
        if (exists(resume_file)) {
            argv[n++] = "--resume";
            argv[n++] = resume_file;
        }
        argv[n] = NULL;
        run_opts o = { .sig_after = after, .sig_delay_us = (int)(util_splitmix64(&seed) % (uint64_t)delay_us) };
        run_v(r, interrupted < times ? &o : NULL, argv);
        if (r->status == 130) {
            if (!strstr(r->out, "--resume") || !exists(resume_file))
                fail_msg("an interrupted run must save %s and say how to resume:\n%s", resume_file, r->out);
            assert_false(exists(out));
            interrupted++;
            continue;
        }
        expect(r, 0, "done:");
        if (interrupted)
            break;
        /* finished before the signal: start again, sooner */
        unlink(out);
        delay_us = delay_us > 2 ? delay_us / 2 : 1;
    }
    if (!interrupted)
        fail_msg("no run was interrupted");
    print_message("%s: interrupted %d times, resumed to the end\n", out, interrupted);
    assert_false(exists(resume_file));
    assert_same_params(ref, out);
    free(r);
}

/* Exact resume: Ctrl-C during training saves a resumable checkpoint; --resume continues it and
 * gives the same parameters, bit for bit, as the uninterrupted run (MLP, MAE, adapt). */
static void test_resume_exact(void **state)
{
    (void)state;
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    RUN(r, NULL, MLP_ARGS("ref.safetensors", "4"));
    expect(r, 0, "done:");
    const char *mlp[] = { MLP_ARGS("res.safetensors", "4") };
    interrupt_and_resume(mlp, (int)(sizeof mlp / sizeof mlp[0]), path("res.resume.safetensors"),
                         path("res.safetensors"), path("ref.safetensors"), "  train ", 2);
    char *a = slurp(path("ref.csv"), NULL), *b = slurp(path("res.csv"), NULL);
    assert_non_null(a);
    assert_non_null(b);
    /* the same epochs logged (seconds and samples/s differ) */
    for (char *p = a, *q = b; p && q; p = strchr(p + 1, '\n'), q = strchr(q + 1, '\n'))
        assert_int_equal(strncmp(p, q, 30), 0);
    free(a);
    free(b);
    /* a resume with other options, or from a plain checkpoint, is refused */
    run_opts now = { .sig_after = "epoch  1", .sig_delay_us = 1 };
    for (int i = 0; i < 10 && !exists(path("res.resume.safetensors")); i++) {
        unlink(path("res.safetensors"));
        RUN(r, &now, MLP_ARGS("res.safetensors", "4"));
    }
    assert_true(exists(path("res.resume.safetensors")));
    RUN(r, NULL, MLP_ARGS("res.safetensors", "5"), "--resume", path("res.resume.safetensors"));
    expect(r, 1, "resume with the same options");
    RUN(r, NULL, MLP_ARGS("res.safetensors", "4"), "--lr", "0.002", "--resume", path("res.resume.safetensors"));
    expect(r, 1, "resume with the same options");
    RUN(r, NULL, MLP_ARGS("res.safetensors", "4"), "--resume", path("ref.safetensors"));
    expect(r, 1, "not the state of an interrupted run");
    rm("res.resume.safetensors");

#define MAE_ARGS(out) "train", "mae", "--data", g_data, "--patch", "2", "--encoder", "16,8", "--batch", "64", \
                      "--epochs", "4", "--device", dev_spec(), "--out", path(out)
    RUN(r, NULL, MAE_ARGS("aref.safetensors"));
    expect(r, 0, "done:");
    const char *mae[] = { MAE_ARGS("ares.safetensors") };
    interrupt_and_resume(mae, (int)(sizeof mae / sizeof mae[0]), path("ares.resume.safetensors"),
                         path("ares.safetensors"), path("aref.safetensors"), "  train ", 2);
#define ADAPT_ARGS(out) "adapt", "--from", path("aref.safetensors"), "--mode", "finetune", "--data", g_data, \
                        "--batch", "32", "--epochs", "3", "--device", dev_spec(), "--out", path(out)
    RUN(r, NULL, ADAPT_ARGS("fref.safetensors"));
    expect(r, 0, "done:");
    const char *adapt[] = { ADAPT_ARGS("fres.safetensors") };
    interrupt_and_resume(adapt, (int)(sizeof adapt / sizeof adapt[0]), path("fres.resume.safetensors"),
                         path("fres.safetensors"), path("fref.safetensors"), "  train ", 1);
    rm_runs((const char *const[]){ "ref", "res", "aref", "ares", "fref", "fres" }, 6);
    assert_no_temp();
    free(r);
}

/* train clip on the synthetic data with captions from a tiny dictionary and word vectors: zero-shot
 * and search run on its checkpoint, --from takes an auto-encoder's encoder (and refuses another
 * shape), and an interrupted run resumes to the uninterrupted one's weights bit for bit. */
static void test_clip(void **state)
{
    (void)state;
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    assert_int_equal(dict_fixture_write(path("tiny.dict"), path("tiny.index")), 0);
    /* every class name has a word; the definition words too */
    static const char *const words[] = { "t", "shirt", "trouser", "pullover", "dress", "coat", "sandal", "sneaker",
                                         "bag", "ankle", "boot", "shoe", "foot", "sole", "leg", "body", "loose" };
    char vec[4096];
    int n = snprintf(vec, sizeof vec, "17 6\n");
    uint64_t seed = 5;
    for (int i = 0; i < 17; i++) {
        n += snprintf(vec + n, sizeof vec - (size_t)n, "%s", words[i]);
        for (int j = 0; j < 6; j++)
            n += snprintf(vec + n, sizeof vec - (size_t)n, " %.4f", util_u01(&seed) - 0.5);
        n += snprintf(vec + n, sizeof vec - (size_t)n, "\n");
    }
    write_text(path("tiny.vec"), vec);
#define CLIP_ARGS(out, epochs) "train", "clip", "--data", g_data, "--dict", path("tiny.dict"), "--index", \
                               path("tiny.index"), "--vectors", path("tiny.vec"), "--holdout", "sandal,shirt", \
                               "--encoder", "16,8", "--embed", "8", "--batch", "64", "--epochs", epochs, "--device", \
                               dev_spec(), "--out", path(out)
    RUN(r, NULL, CLIP_ARGS("clip.safetensors", "3"));
    expect(r, 0, "done: zero-shot seen");
    if (!strstr(r->out, "sandal     2 captions (held out)") || !strstr(r->out, "ankle boot 3 captions"))
        fail_msg("captions per class:\n%s", r->out);
    assert_true(exists(path("clip.csv")) && exists(path("clip.svg")));
    /* the dictionary and vectors are found through the checkpoint's metadata */
    RUN(r, NULL, "zeroshot", "--model", path("clip.safetensors"), "--data", g_data, "--device", dev_spec());
    expect(r, 0, "held-out classes among themselves: accuracy");
    expect(r, 0, "2-way (chance 0.500)");
    RUN(r, NULL, "zeroshot", "--model", path("clip.safetensors"), "--data", g_data, "--classes", "bag,sandal,shirt",
        "--device", dev_spec());
    expect(r, 0, "3-way (chance 0.333)");
    RUN(r, NULL, "search", "--model", path("clip.safetensors"), "--data", g_data, "a shoe for the foot", "--top", "5",
        "--out", path("found.png"), "--device", dev_spec());
    expect(r, 0, "top 5 test images");
    assert_true(exists(path("found.png")));
    RUN(r, NULL, "search", "--model", path("clip.safetensors"), "--data", g_data, "zzz qqq", "--out",
        path("none.png"), "--device", dev_spec());
    expect(r, 1, "no word of");
    assert_false(exists(path("none.png")));
    RUN(r, NULL, "zeroshot", "--model", path("clip.safetensors"), "--data", g_data4, "--device", dev_spec());
    expect(r, 1, "takes 64 pixels");
    RUN(r, NULL, "eval", path("clip.safetensors"), "--data", g_data, "--device", dev_spec());
    expect(r, 1, "use clgrad zeroshot");
    /* --from: an auto-encoder's encoder of the same widths, not another */
    RUN(r, NULL, "train", "mae", "--data", g_data, "--patch", "2", "--encoder", "16,8", "--batch", "64", "--epochs",
        "1", "--device", dev_spec(), "--out", path("cae.safetensors"));
    expect(r, 0, "done:");
    RUN(r, NULL, CLIP_ARGS("cf.safetensors", "1"), "--from", path("cae.safetensors"));
    expect(r, 0, "done: zero-shot seen");
    RUN(r, NULL, "train", "clip", "--data", g_data, "--dict", path("tiny.dict"), "--index", path("tiny.index"),
        "--vectors", path("tiny.vec"), "--encoder", "16,4", "--batch", "64", "--epochs", "1", "--device", dev_spec(),
        "--out", path("cg.safetensors"), "--from", path("cae.safetensors"));
    expect(r, 1, "enc.fc2");
    assert_false(exists(path("cg.safetensors")));
    /* exact resume */
    RUN(r, NULL, CLIP_ARGS("cref.safetensors", "4"));
    expect(r, 0, "done:");
    const char *clip[] = { CLIP_ARGS("cres.safetensors", "4") };
    interrupt_and_resume(clip, (int)(sizeof clip / sizeof clip[0]), path("cres.resume.safetensors"),
                         path("cres.safetensors"), path("cref.safetensors"), "  train ", 2);
    rm_runs((const char *const[]){ "clip", "cae", "cf", "cref", "cres", "found" }, 6);
    rm("tiny.dict");
    rm("tiny.index");
    rm("tiny.vec");
    assert_no_temp();
    free(r);
}

/* train simclr on 8x8 images: outputs, an encoder `adapt` takes, the views PNG, a cutout larger
 * than the images refused, and Ctrl-C + --resume giving the uninterrupted run's parameters. */
static void test_simclr(void **state)
{
    (void)state;
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
#define SIMCLR_ARGS(out) "train", "simclr", "--data", g_data, "--encoder", "16,8", "--head", "8,4", "--batch", "32", \
                         "--cutout", "3", "--translate", "1", "--epochs", "3", "--device", dev_spec(), "--out", path(out)
    RUN(r, NULL, SIMCLR_ARGS("sref.safetensors"));
    expect(r, 0, "done: test nt-xent");
    assert_non_null(strstr(r->out, "samples/s"));
    assert_true(exists(path("sref.csv")) && exists(path("sref.svg")) && exists(path("sref.png")));
    RUN(r, NULL, "adapt", "--from", path("sref.safetensors"), "--mode", "probe", "--data", g_data, "--batch", "32",
        "--epochs", "1", "--device", dev_spec(), "--out", path("sprobe.safetensors"));
    expect(r, 0, "done:");
    RUN(r, NULL, "eval", path("sref.safetensors"), "--data", g_data, "--device", dev_spec());
    expect(r, 1, "is a SimCLR encoder");
    RUN(r, NULL, "train", "simclr", "--data", g_data, "--cutout", "9", "--device", dev_spec(), "--out",
        path("s9.safetensors"));
    expect(r, 2, "--cutout 9 is larger than the 8x8 images");
    const char *args[] = { SIMCLR_ARGS("sres.safetensors") };
    interrupt_and_resume(args, (int)(sizeof args / sizeof args[0]), path("sres.resume.safetensors"),
                         path("sres.safetensors"), path("sref.safetensors"), "  train ", 1);
    rm_runs((const char *const[]){ "sref", "sres", "sprobe" }, 3);
    assert_no_temp();
    free(r);
}

/* train sgns --deterministic: Ctrl-C saves the state, --resume continues; the .vec equals the
 * uninterrupted run's byte for byte (CPU devices: deterministic mode is bit-exact there). */
static void test_sgns_resume(void **state)
{
    (void)state;
    if (tdev->type != CLG_DEVICE_CPU)
        skip();
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    FILE *f = fopen(path("corpus.txt"), "w");
    assert_non_null(f);
    uint64_t s = 9;
    for (int l = 0; l < 400; l++) {
        int len = 3 + (int)(util_splitmix64(&s) % 8);
        for (int i = 0; i < len; i++)
            fprintf(f, "%sw%d", i ? " " : "", (int)(util_splitmix64(&s) % 50));
        fputc('\n', f);
    }
    assert_int_equal(fclose(f), 0);
#define SGNS_ARGS(out) "train", "sgns", "--corpus", path("corpus.txt"), "--dim", "8", "--epochs", "40", "--chunk", \
                       "64", "--min-count", "1", "--deterministic", "--device", dev_spec(), "--out", path(out)
    double t0 = now_s();
    RUN(r, NULL, SGNS_ARGS("ref.vec"));
    expect(r, 0, "sgns:");
    /* Training is a window inside the run, after start-up and before the writes; the first run's
     * time includes kernel builds. Search for the window: a delay that lets the run finish is too
     * late, one that stops it before any state is saved is too early, and each try draws its delay
     * between the latest too-early and the earliest too-late (halving the delay, as an earlier
     * version did, could skip the window whenever it lay late in the run). */
    int lo_us = 0, hi_us = (int)((now_s() - t0) * 1e6);
    uint64_t seed = 3;
    int interrupted = 0;
    for (int i = 0; i < 24 && !interrupted; i++) {
        int delay = lo_us + 1 + (int)(util_splitmix64(&seed) % (uint64_t)(hi_us - lo_us > 1 ? hi_us - lo_us : 1));
        run_opts o = { .sig_delay_us = delay };
        RUN(r, &o, SGNS_ARGS("res.vec"));
        if (r->status == 130 && exists(path("res.resume.safetensors"))) {
            interrupted = 1;
            assert_non_null(strstr(r->out, "--resume"));
            assert_false(exists(path("res.vec")));
            continue;
        }
        if (r->status == 0 || (r->status == 130 && strstr(r->out, "corpus words read in")))
            hi_us = delay; /* training had ended */
        else if (r->status == 130)
            lo_us = delay;
        else
            fail_msg("try %d (SIGINT after %d us): exit %d:\n%s", i, delay, r->status, r->out);
        unlink(path("res.vec"));
        unlink(path("res.resume.safetensors"));
    }
    assert_true(interrupted);
    RUN(r, NULL, SGNS_ARGS("res.vec"), "--dim", "9", "--resume", path("res.resume.safetensors"));
    expect(r, 2, "option '--dim' given more than once");
    RUN(r, NULL, "train", "sgns", "--corpus", path("corpus.txt"), "--dim", "9", "--epochs", "40", "--chunk", "64",
        "--min-count", "1", "--deterministic", "--device", dev_spec(), "--out", path("res.vec"), "--resume",
        path("res.resume.safetensors"));
    expect(r, 1, "resume with the same corpus and options");
    RUN(r, NULL, SGNS_ARGS("res.vec"), "--resume", path("res.resume.safetensors"));
    expect(r, 0, "sgns:");
    size_t na, nb;
    char *a = slurp(path("ref.vec"), &na), *b = slurp(path("res.vec"), &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    assert_false(exists(path("res.resume.safetensors")));
    free(a);
    free(b);
    rm("ref.vec");
    rm("res.vec");
    rm("corpus.txt");
    assert_no_temp();
    free(r);
}

/* Whether p is a complete checkpoint of the run (every tensor readable). */
static int complete_checkpoint(const char *p)
{
    clg_st_file *f;
    if (clg_safetensors_open(p, &f))
        return 0;
    int ok = clg_safetensors_count(f) >= 4 && clg_safetensors_meta(f, "arch");
    clg_safetensors_close(f);
    return ok;
}

/* SIGINT at random moments, 12 times (a moment is a uniform draw over the whole run: start-up,
 * training, the writes at the end): every output is the previous file or a complete new one,
 * no temp file is left, and the exit status is 0 (done) or 130 (interrupted, state saved). */
static void test_sigint_random(void **state)
{
    (void)state;
    run_result *r = malloc(sizeof *r);
    assert_non_null(r);
    double t0 = now_s();
    RUN(r, NULL, MLP_ARGS("s.safetensors", "3"));
    expect(r, 0, "done:");
    int span_us = (int)((now_s() - t0) * 1e6 * 1.2);
    uint64_t seed = 11;
    int counts[3] = { 0, 0, 0 };
    for (int i = 0; i < 12; i++) {
        write_text(path("s.safetensors"), "old checkpoint");
        write_text(path("s.csv"), "old log");
        write_text(path("s.svg"), "old curve");
        rm("s.resume.safetensors");
        run_opts o = { .sig_delay_us = 1 + (int)(util_splitmix64(&seed) % (uint64_t)span_us) };
        RUN(r, &o, MLP_ARGS("s.safetensors", "3"));
        size_t n;
        char *ck = slurp(path("s.safetensors"), &n), *csv = slurp(path("s.csv"), NULL), *svg = slurp(path("s.svg"), NULL);
        int old = !strcmp(ck, "old checkpoint"), csv_old = !strcmp(csv, "old log"), svg_old = !strcmp(svg, "old curve");
        if (r->status == 0) {
            counts[2]++;
            if (old || csv_old || svg_old || !complete_checkpoint(path("s.safetensors")))
                fail_msg("run %d finished but its outputs are not all new:\n%s", i, r->out);
            int rows = 0;
            for (char *p = csv; *p; p++)
                rows += *p == '\n';
            assert_int_equal(rows, 4);
            assert_non_null(strstr(svg, "</svg>\n"));
            assert_false(exists(path("s.resume.safetensors")));
        } else if (r->status == 130) {
            if (!old || !csv_old || !svg_old)
                fail_msg("run %d was interrupted but replaced an output:\n%s", i, r->out);
            if (exists(path("s.resume.safetensors"))) {
                counts[1]++;
                assert_true(complete_checkpoint(path("s.resume.safetensors")));
            } else {
                counts[0]++;
                /* a signal before the handling is installed (start-up) ends the process: nothing written */
                if (!r->signaled && !strstr(r->out, "nothing written"))
                    fail_msg("run %d: interrupted, no state saved and no word of it:\n%s", i, r->out);
            }
        } else {
            fail_msg("run %d: exit %d:\n%s", i, r->status, r->out);
        }
        free(ck);
        free(csv);
        free(svg);
        assert_no_temp();
    }
    print_message("SIGINT x12: %d before training, %d during (state saved), %d after the end\n", counts[0],
                  counts[1], counts[2]);
    rm("s.safetensors");
    rm("s.csv");
    rm("s.svg");
    rm("s.resume.safetensors");
    free(r);
}

int main(int argc, char **argv)
{
    /* --no-plain: the device tests only (tests/meson.build runs the suite as two shares of the
     * devices; the device-free tests run in one of them). */
    int plain_too = !(argc == 3 && !strcmp(argv[2], "--no-plain"));
    if (argc < 2 || (argc == 3 && plain_too) || argc > 3) {
        fprintf(stderr, "usage: test_cli PATH/TO/clgrad [--no-plain]\n");
        return 2;
    }
    g_exe = argv[1];
    if (setup_data())
        return 1;
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_bad_metadata),
        cmocka_unit_test(test_fifo_inputs),
        cmocka_unit_test(test_bench_compare),
    };
    const struct CMUnitTest dev[] = {
        cmocka_unit_test_setup(test_bad_environment, pocl_alone),
        cmocka_unit_test_setup(test_shape_mismatch, pocl_alone),
        cmocka_unit_test_setup(test_plain_denoising_ae, pocl_alone),
        cmocka_unit_test_setup(test_eval_graph, pocl_alone),
        cmocka_unit_test_setup(test_profile_flops, pocl_alone),
        cmocka_unit_test_setup(test_loss_diverges, pocl_alone),
        cmocka_unit_test_setup(test_outputs_checked_first, pocl_alone),
        cmocka_unit_test_setup(test_write_errors, pocl_alone),
        cmocka_unit_test_setup(test_resume_exact, pocl_alone),
        cmocka_unit_test_setup(test_sgns_resume, pocl_alone),
        cmocka_unit_test_setup(test_simclr, pocl_alone),
        cmocka_unit_test_setup(test_clip, pocl_alone),
        cmocka_unit_test_setup(test_sigint_random, pocl_alone),
        cmocka_unit_test_setup(test_compile_helper, pocl_alone),
    };
    int failed = plain_too ? clg_test_run("cli", plain, sizeof plain / sizeof plain[0]) : 0;
    failed += clg_test_run_per_device("cli", dev, sizeof dev / sizeof dev[0]);
    if (!failed)
        util_rm_tree(g_dir);
    return failed;
}
