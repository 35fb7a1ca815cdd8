/* harness.c — per-device test runner: enumerate devices, filter, one ctx per device per process. */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

clg_ctx *tctx;
const clg_device_info *tdev;

static int ieq_sub(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && (hay[i] | 32) == (needle[i] | 32))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

/* Does the device match the list in variable var (unset or empty: every device)?  Tokens are
 * comma-separated, each "P:D" or a name substring (of the device or its platform, any case); a
 * token starting with '!' excludes the devices it matches.  A device matches when it matches no
 * '!' token and, if there is any other token, at least one of those (so "!rusticl" is every
 * device but rusticl's, a real GPU included). */
static int matches(const clg_device_info *d, const char *var)
{
    const char *f = getenv(var);
    if (!f || !*f)
        return 1;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", f);
    int any_plus = 0, plus = 0, minus = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int neg = *tok == '!';
        tok += neg;
        int p, q, hit;
        char c;
        if (sscanf(tok, "%d:%d%c", &p, &q, &c) == 2)
            hit = p == d->platform_index && q == d->device_index;
        else
            hit = ieq_sub(d->name, tok) || ieq_sub(d->platform_name, tok);
        if (neg) {
            minus |= hit;
        } else {
            any_plus = 1;
            plus |= hit;
        }
    }
    return !minus && (plus || !any_plus);
}

/* CLGRAD_TEST_DEVICES is the user's choice; CLGRAD_TEST_SHARE, in the same form, is set by
 * tests/meson.build where it runs a suite as two tests, each on a share of the devices. */
static int selected(const clg_device_info *d)
{
    return matches(d, "CLGRAD_TEST_DEVICES") && matches(d, "CLGRAD_TEST_SHARE");
}

int clg_test_is_rusticl(void)
{
    return tdev && strstr(tdev->platform_name, "rusticl") != NULL;
}

/* Under LeakSanitizer, drivers that the ICD loader unloads at exit leave their leaks
 * unnamed ("<unknown module>"), so the driver-only suppressions cannot match them.  With
 * CLGRAD_TEST_PIN_DRIVERS=1, load every ICD library once more with RTLD_NODELETE so that
 * stack traces keep their module names. */
static void pin_drivers(void)
{
    const char *pin = getenv("CLGRAD_TEST_PIN_DRIVERS");
    if (!pin || strcmp(pin, "1") != 0)
        return;
    const char *dir = getenv("OCL_ICD_VENDORS");
    if (!dir || !*dir)
        dir = "/etc/OpenCL/vendors";
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".icd") != 0)
            continue;
        char path[1024], lib[512] = "";
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(lib, sizeof lib, f)) {
            lib[strcspn(lib, "\r\n")] = 0;
            if (*lib)
                dlopen(lib, RTLD_NOW | RTLD_NODELETE);
        }
        fclose(f);
    }
    closedir(d);
}

/* CLGRAD_TEST_FILTER / CLGRAD_TEST_SKIP: cmocka's test-name patterns ('*' and '?'), to run or skip
 * some tests of a suite (tools/oclgrind-check.sh skips the ones too slow for the simulator). */
static void set_filters(void)
{
    const char *f = getenv("CLGRAD_TEST_FILTER"), *k = getenv("CLGRAD_TEST_SKIP");
    if (f && *f)
        cmocka_set_test_filter(f);
    if (k && *k)
        cmocka_set_skip_filter(k);
}

int clg_test_run_per_device(const char *suite, const struct CMUnitTest *tests, size_t n)
{
    pin_drivers();
    set_filters();
    clg_device_info *list = NULL;
    int nd = 0;
    clg_status st = clg_devices_list(&list, &nd);
    const char *ci = getenv("CI");
    int in_ci = ci && !strcmp(ci, "true");
    if (st) {
        fprintf(stderr, "[%s] no OpenCL device: %s\n", suite, clg_last_error());
        return in_ci ? 1 : 77; /* 77: meson's "skipped" */
    }
    int failures = 0, ran = 0;
    for (int i = 0; i < nd; i++) {
        if (!selected(&list[i]))
            continue;
        clg_ctx *ctx = NULL;
        if (clg_ctx_create(&list[i], NULL, &ctx)) {
            fprintf(stderr, "[%s] cannot create a context on %s: %s\n", suite, list[i].name, clg_last_error());
            failures++;
            continue;
        }
        tctx = ctx;
        tdev = clg_ctx_device(ctx);
        char group[300];
        snprintf(group, sizeof group, "%s on %d:%d %s (%s)", suite, list[i].platform_index,
                 list[i].device_index, list[i].name, list[i].platform_name);
        failures += _cmocka_run_group_tests(group, tests, n, NULL, NULL);
        clg_ctx_destroy(ctx);
        tctx = NULL;
        tdev = NULL;
        ran++;
    }
    clg_devices_free(list);
    /* Under CI, a silent skip must not pass: every device suite runs on both PoCL and rusticl.  A
     * run given CLGRAD_TEST_DEVICES or CLGRAD_TEST_SHARE is one share of them (tests/meson.build
     * runs the slowest suites as a rusticl test and a test of the others), so there one device is
     * enough, none is not. */
    const char *filter = getenv("CLGRAD_TEST_DEVICES"), *share = getenv("CLGRAD_TEST_SHARE");
    int need = (filter && *filter) || (share && *share) ? 1 : 2;
    if (in_ci && ran < need) {
        fprintf(stderr, "[%s] CI=true needs at least %s, found %d selected\n", suite,
                need == 2 ? "two OpenCL devices (PoCL and rusticl)"
                          : "one OpenCL device of CLGRAD_TEST_DEVICES/SHARE",
                ran);
        return failures + 1;
    }
    if (ran == 0)
        return 77;
    return failures;
}

int clg_test_run(const char *suite, const struct CMUnitTest *tests, size_t n)
{
    set_filters();
    return _cmocka_run_group_tests(suite, tests, n, NULL, NULL);
}

void clg_test_each_vec_kernels(void (*const *fns)(void **), size_t n, void **state)
{
    const clg_switch on[] = { CLG_SWITCH_OFF, CLG_SWITCH_ON };
    for (int i = 0; i < 2; i++) {
        clg_ctx_set_vec_kernels(tctx, on[i]);
        for (size_t k = 0; k < n; k++)
            fns[k](state);
    }
    clg_ctx_set_vec_kernels(tctx, CLG_SWITCH_DEFAULT);
}

static void on_hang(int sig)
{
    (void)sig;
    static const char m[] = "\nFAIL: a reader blocked on a FIFO for 10 s (hang)\n";
    ssize_t r = write(2, m, sizeof m - 1);
    (void)r;
    _exit(3);
}

void clg_test_hang_guard(int on)
{
    signal(SIGALRM, on ? on_hang : SIG_DFL);
    alarm(on ? 10 : 0);
}

float *clg_test_params(clg_graph *g, size_t *n)
{
    size_t total = 0;
    int np = clg_graph_param_count(g);
    for (int i = 0; i < np; i++) {
        clg_shape s;
        assert_clg_ok(clg_graph_param_shape(g, i, &s));
        total += (size_t)clg_shape_numel(&s);
    }
    float *p = malloc((total ? total : 1) * sizeof *p);
    assert_non_null(p);
    size_t off = 0;
    for (int i = 0; i < np; i++) {
        clg_shape s;
        assert_clg_ok(clg_graph_param_shape(g, i, &s));
        assert_clg_ok(clg_graph_read(g, clg_graph_param_id(g, i), p + off));
        off += (size_t)clg_shape_numel(&s);
    }
    *n = total;
    return p;
}
