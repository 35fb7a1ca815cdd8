/* test_program.c — build errors carry the log, the binary cache stores/hits/rebuilds corrupt,
 * truncated, swapped and rotated entries, fails writes cleanly and survives concurrent fills, and
 * CLGRAD_CL_DIR loads kernels from disk. */
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include "harness.h"
#include "ref_ops.h"

static void test_syntax_error_has_log(void **s)
{
    (void)s;
    const char *bad = "__kernel void broken(__global float *x) { x[0] = undefined_thing + ; }\n";
    void *p = NULL;
    clg_ctx_set_cache_policy(tctx, CLG_CACHE_OFF);
    assert_int_equal(clg_program_build_source(tctx, "cl/broken.cl", bad, NULL, &p, NULL), CLG_ERR_BUILD);
    const char *m = clg_last_error();
    assert_non_null(strstr(m, "cl/broken.cl"));
    assert_non_null(strstr(m, "build log"));
    assert_non_null(strstr(m, "undefined_thing"));
    assert_int_equal(clg_last_raw_code(), CL_BUILD_PROGRAM_FAILURE);
    assert_null(p);
}

static char tmpdir[256];

/* Point the binary cache at dir (NULL: the default): for tctx, which read the variable when it was
 * created, and for the child processes, which read it in their own. */
static void use_cache_dir(const char *dir)
{
    if (dir)
        setenv("CLGRAD_CACHE_DIR", dir, 1);
    else
        unsetenv("CLGRAD_CACHE_DIR");
    assert_clg_ok(clg_ctx_set_cache_dir(tctx, NULL));
}

static void set_tmp_cache(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/clgrad-test-cache-%ld-%d", (long)getpid(), tdev->platform_index);
    use_cache_dir(tmpdir);
}

static void test_cache_store_hit_rebuild(void **s)
{
    (void)s;
    set_tmp_cache();
    clg_ctx_set_cache_policy(tctx, CLG_CACHE_FORCE);
    char src[256];
    snprintf(src, sizeof src,
             "__kernel void k(__global float *x) { x[get_global_id(0)] *= 2.0f; } /* %ld */\n",
             (long)getpid());
    clg_build_report r;
    void *p = NULL;
    assert_clg_ok(clg_program_build_source(tctx, "cache-test", src, NULL, &p, &r));
    clReleaseProgram((cl_program)p);
    if (r.origin == CLG_ORIGIN_SOURCE) {
        /* the driver gave us no binary: the mechanism cannot be exercised here */
        skip();
    }
    assert_int_equal(r.origin, CLG_ORIGIN_CACHE_STORED);
    assert_true(strlen(r.cache_path) > 0);
    assert_int_equal(access(r.cache_path, R_OK), 0);

    assert_clg_ok(clg_program_build_source(tctx, "cache-test", src, NULL, &p, &r));
    assert_int_equal(r.origin, CLG_ORIGIN_CACHE_HIT);
    /* the cached program really runs */
    cl_int err;
    cl_kernel k = clCreateKernel((cl_program)p, "k", &err);
    assert_int_equal(err, CL_SUCCESS);
    clReleaseKernel(k);
    clReleaseProgram((cl_program)p);

    /* corrupt one byte (of the key material since format 2): checksum mismatch -> rebuilt, not fatal */
    FILE *f = fopen(r.cache_path, "r+b");
    assert_non_null(f);
    fseek(f, 40, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 40, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    assert_clg_ok(clg_program_build_source(tctx, "cache-test", src, NULL, &p, &r));
    assert_int_equal(r.origin, CLG_ORIGIN_CACHE_REBUILT);
    clReleaseProgram((cl_program)p);
    assert_clg_ok(clg_program_build_source(tctx, "cache-test", src, NULL, &p, &r));
    assert_int_equal(r.origin, CLG_ORIGIN_CACHE_HIT);
    clReleaseProgram((cl_program)p);

    /* truncate it */
    assert_int_equal(truncate(r.cache_path, 20), 0);
    assert_clg_ok(clg_program_build_source(tctx, "cache-test", src, NULL, &p, &r));
    assert_int_equal(r.origin, CLG_ORIGIN_CACHE_REBUILT);
    clReleaseProgram((cl_program)p);

    /* a different option is a different key */
    assert_clg_ok(clg_program_build_source(tctx, "cache-test", src, "-DSOMETHING=1", &p, &r));
    assert_int_equal(r.origin, CLG_ORIGIN_CACHE_STORED);
    clReleaseProgram((cl_program)p);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    use_cache_dir(NULL);
}

/* ---- binary cache: entries under another entry's name, corruption, concurrent fills ---------
 *
 * The programs below are tiny (one kernel writing one int) so that PoCL's compiles stay cheap;
 * each test uses its own empty cache folder and CLG_CACHE_FORCE (PoCL is off by default). */

/* Program i of the cache tests: kernel "k<i>" writes 100 * i + VAL, with VAL from the options. */
static void tiny_source(char *buf, size_t size, int i)
{
    snprintf(buf, size, "__kernel void k%d(__global int *x) { x[0] = 100 * %d + VAL; }\n", i, i);
}

/* Run kernel kname of program p on one work-item; the int it writes. */
static int run_tiny(clg_ctx *ctx, void *p, const char *kname)
{
    cl_int err;
    cl_kernel k = clCreateKernel((cl_program)p, kname, &err);
    if (err != CL_SUCCESS) {
        fprintf(stderr, "clCreateKernel(%s): %d\n", kname, (int)err);
        return -1;
    }
    cl_mem m = clCreateBuffer((cl_context)clg_ctx_cl_context(ctx), CL_MEM_READ_WRITE, sizeof(cl_int), NULL, &err);
    if (err != CL_SUCCESS) {
        clReleaseKernel(k);
        return -2;
    }
    cl_int got = -3;
    size_t one = 1;
    cl_command_queue q = (cl_command_queue)clg_ctx_cl_queue(ctx);
    if (clSetKernelArg(k, 0, sizeof m, &m) != CL_SUCCESS ||
        clEnqueueNDRangeKernel(q, k, 1, NULL, &one, NULL, 0, NULL, NULL) != CL_SUCCESS ||
        clEnqueueReadBuffer(q, m, CL_TRUE, 0, sizeof got, &got, 0, NULL, NULL) != CL_SUCCESS)
        got = -4;
    clReleaseMemObject(m);
    clReleaseKernel(k);
    return got;
}

/* Build tiny program i with -DVAL=val on ctx; its origin, or -1 on a build error; *value gets
 * what its kernel writes (-1.. on failure). */
static int build_tiny(clg_ctx *ctx, int i, int val, int *value, char *path, size_t psize)
{
    char src[200], opts[40], kname[16];
    tiny_source(src, sizeof src, i);
    snprintf(opts, sizeof opts, "-DVAL=%d", val);
    snprintf(kname, sizeof kname, "k%d", i);
    clg_build_report r;
    void *p = NULL;
    if (clg_program_build_source(ctx, "cache-tiny", src, opts, &p, &r) != CLG_OK) {
        fprintf(stderr, "building tiny program %d: %s\n", i, clg_last_error());
        return -1;
    }
    *value = run_tiny(ctx, p, kname);
    clReleaseProgram((cl_program)p);
    if (path)
        snprintf(path, psize, "%s", r.cache_path);
    return (int)r.origin;
}

/* A fresh, empty cache folder for this test and device (made by the first store). */
static void fresh_cache(char *dir, size_t size, const char *tag)
{
    snprintf(dir, size, "/tmp/clgrad-test-cache-%s-%ld-%d", tag, (long)getpid(), tdev->platform_index);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    use_cache_dir(dir);
    clg_ctx_set_cache_policy(tctx, CLG_CACHE_FORCE);
}

static void drop_cache(const char *dir)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    use_cache_dir(NULL);
    clg_ctx_set_cache_policy(tctx, CLG_CACHE_AUTO);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    assert_true(len > 0);
    rewind(f);
    unsigned char *b = malloc((size_t)len);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Count the files of dir: entries ("<32 hex digits>.bin") and anything else. */
static void count_files(const char *dir, int *entries, int *others)
{
    *entries = *others = 0;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, ".."))
            continue;
        size_t len = strlen(n);
        int hex = len == 36 && !strcmp(n + 32, ".bin");
        for (size_t i = 0; hex && i < 32; i++)
            hex = isxdigit((unsigned char)n[i]) != 0;
        if (hex)
            (*entries)++;
        else {
            fprintf(stderr, "unexpected file in the cache: %s\n", n);
            (*others)++;
        }
    }
    closedir(d);
}

/* The defect: two GEMM entries (one source, two -D tile options) swapped on disk were
 * loaded as each other.  Each must be detected, rebuilt, rewritten, and run its own code. */
static void test_cache_swapped_entries(void **s)
{
    (void)s;
    char dir[300], pa[1024], pb[1024], tmp[1100];
    fresh_cache(dir, sizeof dir, "swap");
    int va = 0, vb = 0;
    int oa = build_tiny(tctx, 1, 1, &va, pa, sizeof pa);
    if (oa == CLG_ORIGIN_SOURCE) {
        drop_cache(dir);
        skip(); /* the driver gives no binary: nothing to cache here */
    }
    assert_int_equal(oa, CLG_ORIGIN_CACHE_STORED);
    assert_int_equal(build_tiny(tctx, 1, 2, &vb, pb, sizeof pb), CLG_ORIGIN_CACHE_STORED);
    assert_int_equal(va, 101);
    assert_int_equal(vb, 102);
    assert_string_not_equal(pa, pb);
    snprintf(tmp, sizeof tmp, "%s.swap", pa);
    assert_int_equal(rename(pa, tmp), 0);
    assert_int_equal(rename(pb, pa), 0);
    assert_int_equal(rename(tmp, pb), 0);

    va = vb = 0;
    int o1 = build_tiny(tctx, 1, 1, &va, NULL, 0), o2 = build_tiny(tctx, 1, 2, &vb, NULL, 0);
    assert_int_equal(va, 101); /* the old format ran the other entry's kernel: 102 */
    assert_int_equal(vb, 102);
    assert_int_equal(o1, CLG_ORIGIN_CACHE_REBUILT);
    assert_int_equal(o2, CLG_ORIGIN_CACHE_REBUILT);
    /* rewritten: both load now */
    assert_int_equal(build_tiny(tctx, 1, 1, &va, NULL, 0), CLG_ORIGIN_CACHE_HIT);
    assert_int_equal(va, 101);
    assert_int_equal(build_tiny(tctx, 1, 2, &vb, NULL, 0), CLG_ORIGIN_CACHE_HIT);
    assert_int_equal(vb, 102);
    int entries, others;
    count_files(dir, &entries, &others);
    assert_int_equal(entries, 2);
    assert_int_equal(others, 0);
    drop_cache(dir);
}

/* Every entry moved to the next one's name (programs with other kernel names): the old format
 * loaded them and clCreateKernel failed with CL_INVALID_KERNEL_NAME. */
static void test_cache_rotated_entries(void **s)
{
    (void)s;
    enum { N = 3 };
    char dir[300], path[N][1024], tmp[1100];
    fresh_cache(dir, sizeof dir, "rot");
    int v;
    for (int i = 0; i < N; i++) {
        int o = build_tiny(tctx, i, 7, &v, path[i], sizeof path[i]);
        if (o == CLG_ORIGIN_SOURCE) {
            drop_cache(dir);
            skip();
        }
        assert_int_equal(o, CLG_ORIGIN_CACHE_STORED);
        assert_int_equal(v, 100 * i + 7);
    }
    /* 0 -> 1 -> 2 -> 0 */
    snprintf(tmp, sizeof tmp, "%s.rot", path[N - 1]);
    assert_int_equal(rename(path[N - 1], tmp), 0);
    for (int i = N - 1; i > 0; i--)
        assert_int_equal(rename(path[i - 1], path[i]), 0);
    assert_int_equal(rename(tmp, path[0]), 0);
    for (int i = 0; i < N; i++) {
        v = -100;
        int o = build_tiny(tctx, i, 7, &v, NULL, 0);
        assert_int_equal(v, 100 * i + 7); /* the old format: CL_INVALID_KERNEL_NAME, v = -1 */
        assert_int_equal(o, CLG_ORIGIN_CACHE_REBUILT);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(build_tiny(tctx, i, 7, &v, NULL, 0), CLG_ORIGIN_CACHE_HIT);
        assert_int_equal(v, 100 * i + 7);
    }
    drop_cache(dir);
}

/* Damage anywhere in an entry (header fields, key, binary, checksum; truncation; extra bytes)
 * is rebuilt and rewritten.  The old format did not check its header's spare word (offset 12). */
static void test_cache_damaged_entry(void **s)
{
    (void)s;
    char dir[300], path[1024];
    fresh_cache(dir, sizeof dir, "dmg");
    int v;
    int o = build_tiny(tctx, 4, 3, &v, path, sizeof path);
    if (o == CLG_ORIGIN_SOURCE) {
        drop_cache(dir);
        skip();
    }
    assert_int_equal(o, CLG_ORIGIN_CACHE_STORED);
    size_t n;
    unsigned char *good = slurp(path, &n);
    assert_true(n > 64);
    const long flips[] = { 0, 8, 12, 16, 30, (long)n / 2, (long)n - 9, (long)n - 1 };
    const long cuts[] = { 0, 10, (long)n - 1, (long)n + 1 };
    unsigned char *bad = malloc(n + 1);
    assert_non_null(bad);
    for (size_t i = 0; i < sizeof flips / sizeof flips[0] + sizeof cuts / sizeof cuts[0]; i++) {
        size_t len = n;
        memcpy(bad, good, n);
        bad[n] = 0x5a;
        if (i < sizeof flips / sizeof flips[0])
            bad[flips[i]] ^= 0x10;
        else
            len = (size_t)cuts[i - sizeof flips / sizeof flips[0]];
        spit(path, bad, len);
        v = -100;
        int got = build_tiny(tctx, 4, 3, &v, NULL, 0);
        if (got != CLG_ORIGIN_CACHE_REBUILT)
            fail_msg("damage %zu (flip at %ld / length %zu of %zu): origin %d, not rebuilt", i,
                     i < sizeof flips / sizeof flips[0] ? flips[i] : -1L, len, n, got);
        assert_int_equal(v, 403);
        assert_int_equal(build_tiny(tctx, 4, 3, &v, NULL, 0), CLG_ORIGIN_CACHE_HIT);
        assert_int_equal(v, 403);
    }
    free(bad);
    free(good);
    /* a FIFO under the entry's name must neither block nor be fatal */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(build_tiny(tctx, 4, 3, &v, NULL, 0), CLG_ORIGIN_CACHE_REBUILT);
    assert_int_equal(v, 403);
    int entries, others;
    count_files(dir, &entries, &others);
    assert_int_equal(entries, 1);
    assert_int_equal(others, 0);
    drop_cache(dir);
}

/* A self-consistent entry (its own key, a right checksum) whose binary lacks the kernel asked
 * for (a driver that cannot be trusted, or a forged entry): clg__build_kernel, the library's
 * way to build the GEMM variants, must rebuild it rather than fail with
 * CL_INVALID_KERNEL_NAME.  The entry is forged from two real ones with the format written in
 * src/program.c (24-byte header, key material, binary, FNV-1a of everything before it). */
clg_status clg__build_kernel(clg_ctx *ctx, const char *name, const char *source, const char *extra_options,
                             const char *kname, cl_program *prog, cl_kernel *kernel);

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void test_cache_entry_without_kernel(void **s)
{
    (void)s;
    char dir[300], pa[1024], pb[1024];
    fresh_cache(dir, sizeof dir, "nokern");
    int v;
    if (build_tiny(tctx, 6, 1, &v, pa, sizeof pa) == CLG_ORIGIN_SOURCE) {
        drop_cache(dir);
        skip();
    }
    assert_int_equal(build_tiny(tctx, 7, 1, &v, pb, sizeof pb), CLG_ORIGIN_CACHE_STORED);
    size_t na, nb;
    unsigned char *a = slurp(pa, &na), *b = slurp(pb, &nb);
    assert_true(na > 32 && nb > 32);
    uint64_t ka = le(a + 12, 4), kb = le(b + 12, 4), bb = le(b + 16, 8);
    assert_int_equal(24 + ka + le(a + 16, 8) + 8, na);
    assert_int_equal(24 + kb + bb + 8, nb);
    /* program 6's header and key, program 7's binary */
    size_t n = 24 + (size_t)ka + (size_t)bb + 8;
    unsigned char *f = malloc(n);
    assert_non_null(f);
    memcpy(f, a, 24 + (size_t)ka);
    for (int i = 0; i < 8; i++)
        f[16 + i] = (unsigned char)(bb >> (8 * i));
    memcpy(f + 24 + ka, b + 24 + kb, (size_t)bb);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n - 8; i++) {
        h ^= f[i];
        h *= 0x100000001b3ULL;
    }
    for (int i = 0; i < 8; i++)
        f[n - 8 + i] = (unsigned char)(h >> (8 * i));
    spit(pa, f, n);
    free(f);
    free(a);
    free(b);
    /* the forged entry passes every check of the file: it loads, without kernel k6 */
    clg_build_report r;
    void *p = NULL;
    char src[200];
    tiny_source(src, sizeof src, 6);
    assert_clg_ok(clg_program_build_source(tctx, "cache-tiny", src, "-DVAL=1", &p, &r));
    assert_int_equal(r.origin, CLG_ORIGIN_CACHE_HIT);
    assert_int_equal(run_tiny(tctx, p, "k7"), 701);
    clReleaseProgram((cl_program)p);
    /* clg__build_kernel notices, rebuilds and rewrites it */
    cl_program prog = NULL;
    cl_kernel k = NULL;
    assert_clg_ok(clg__build_kernel(tctx, "cache-tiny", src, "-DVAL=1", "k6", &prog, &k));
    clReleaseKernel(k);
    assert_int_equal(run_tiny(tctx, prog, "k6"), 601);
    clReleaseProgram(prog);
    assert_int_equal(build_tiny(tctx, 6, 1, &v, NULL, 0), CLG_ORIGIN_CACHE_HIT);
    assert_int_equal(v, 601);
    drop_cache(dir);
}

/* Failed writes, simulated for the cache's temp files only: this executable's fwrite and fsync
 * take the place of libc's for every library (the dynamic linker looks in the executable first),
 * and pass through except while fail_mode is set and the stream is a cache temp file.
 *   1: fwrite writes half of what it is given and fails with ENOSPC (a full disk);
 *   2: fsync fails with EIO after every write succeeded. */
static int fail_mode;
static char fail_seen[1024]; /* the temp file that a simulated failure hit */

static int is_cache_temp(int fd)
{
    char link[64], target[1024];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
        return 0;
    target[n] = 0;
    if (!strstr(target, "/clgrad-test-cache-") || !strstr(target, ".bin.tmp-"))
        return 0;
    snprintf(fail_seen, sizeof fail_seen, "%s", target);
    return 1;
}

size_t fwrite(const void *ptr, size_t size, size_t n, FILE *f)
{
    static size_t (*real)(const void *, size_t, size_t, FILE *);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "fwrite");
    if (fail_mode == 1 && size == 1 && n > 1 && is_cache_temp(fileno(f))) {
        size_t done = real(ptr, 1, n / 2, f);
        fflush(f);
        errno = ENOSPC;
        return done;
    }
    return real(ptr, size, n, f);
}

int fsync(int fd)
{
    if (fail_mode == 2 && is_cache_temp(fd)) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fsync, fd);
}

/* A write that fails part-way, or whose sync fails, leaves neither an entry nor a temp file,
 * and the build itself still succeeds from source. */
static void test_cache_failed_write(void **s)
{
    (void)s;
    char dir[300], path[1024];
    fresh_cache(dir, sizeof dir, "wfail");
    int v;
    if (build_tiny(tctx, 5, 1, &v, path, sizeof path) == CLG_ORIGIN_SOURCE) {
        drop_cache(dir);
        skip();
    }
    assert_int_equal(unlink(path), 0);
    for (int mode = 1; mode <= 2; mode++) {
        fail_seen[0] = 0;
        fail_mode = mode;
        int o = build_tiny(tctx, 5, 1, &v, NULL, 0);
        fail_mode = 0;
        assert_int_equal(o, CLG_ORIGIN_SOURCE); /* built, not stored */
        assert_int_equal(v, 501);
        assert_true(fail_seen[0] != 0);          /* the simulated failure did hit a temp file */
        assert_int_equal(access(fail_seen, F_OK), -1);
        int entries, others;
        count_files(dir, &entries, &others);
        assert_int_equal(entries, 0);
        assert_int_equal(others, 0);
    }
    /* with writes working again the entry is stored */
    assert_int_equal(build_tiny(tctx, 5, 1, &v, NULL, 0), CLG_ORIGIN_CACHE_STORED);
    assert_int_equal(v, 501);
    drop_cache(dir);
}

/* ---- concurrent fill: this binary re-run as child processes -----------------------------------
 *
 *   test_program --cache-child MODE P D DIR GO_FD READY_FD
 *
 * builds the CHILD_PROGRAMS tiny programs on device P:D into cache folder DIR with
 * CLG_CACHE_FORCE, after writing a byte to READY_FD and waiting for EOF on GO_FD (so the
 * children start together), checks what each kernel computes, and exits 0 if every program was
 * stored or loaded (MODE "fill") or loaded from the cache (MODE "hit"). */

#define CHILD_PROGRAMS 3

extern char **environ;

static int cache_child(int argc, char **argv)
{
    if (argc != 8)
        return 2;
    const char *mode = argv[2];
    int pi = atoi(argv[3]), di = atoi(argv[4]), go = atoi(argv[6]), ready = atoi(argv[7]);
    setenv("CLGRAD_CACHE_DIR", argv[5], 1);
    clg_device_info *list = NULL;
    int nd = 0, rc = 1;
    clg_ctx *ctx = NULL;
    if (clg_devices_list(&list, &nd)) {
        fprintf(stderr, "cache child: %s\n", clg_last_error());
        return 1;
    }
    for (int i = 0; i < nd && !ctx; i++)
        if (list[i].platform_index == pi && list[i].device_index == di && clg_ctx_create(&list[i], NULL, &ctx))
            fprintf(stderr, "cache child: %s\n", clg_last_error());
    if (!ctx)
        goto out;
    clg_ctx_set_cache_policy(ctx, CLG_CACHE_FORCE);
    char b = 'r';
    if (write(ready, &b, 1) != 1)
        goto out;
    close(ready);
    while (read(go, &b, 1) > 0)
        ;
    rc = 0;
    char origins[CHILD_PROGRAMS + 1] = "";
    for (int i = 0; i < CHILD_PROGRAMS; i++) {
        int v = -100;
        int o = build_tiny(ctx, i, 40 + i, &v, NULL, 0);
        origins[i] = (char)('0' + o);
        int ok = !strcmp(mode, "hit") ? o == CLG_ORIGIN_CACHE_HIT
                                      : (o == CLG_ORIGIN_CACHE_HIT || o == CLG_ORIGIN_CACHE_STORED);
        if (!ok || v != 100 * i + 40 + i) {
            fprintf(stderr, "cache child %ld (%s): program %d: origin %d, value %d\n", (long)getpid(), mode, i, o, v);
            rc = 1;
        }
    }
    printf("cache child %ld (%s): origins %s (1 loaded, 2 stored)\n", (long)getpid(), mode, origins);
out:
    if (ctx)
        clg_ctx_destroy(ctx);
    clg_devices_free(list);
    return rc;
}

/* Start n children in mode; after all are ready, release them at once; 0 if all exit 0. */
static int run_children(const char *mode, int n, const char *dir)
{
    int go[2], ready[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(ready), 0);
    char p[16], d[16], gofd[16], rdfd[16];
    snprintf(p, sizeof p, "%d", tdev->platform_index);
    snprintf(d, sizeof d, "%d", tdev->device_index);
    snprintf(gofd, sizeof gofd, "%d", go[0]);
    snprintf(rdfd, sizeof rdfd, "%d", ready[1]);
    char *args[] = { "/proc/self/exe", "--cache-child", (char *)mode, p, d, (char *)dir, gofd, rdfd, NULL };
    posix_spawn_file_actions_t fa;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_addclose(&fa, go[1]), 0);
    assert_int_equal(posix_spawn_file_actions_addclose(&fa, ready[0]), 0);
    pid_t pids[8];
    assert_true(n <= 8);
    for (int i = 0; i < n; i++)
        assert_int_equal(posix_spawn(&pids[i], "/proc/self/exe", &fa, NULL, args, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(go[0]);
    close(ready[1]);
    char b;
    int nready = 0;
    while (nready < n && read(ready[0], &b, 1) == 1)
        nready++;
    close(ready[0]);
    close(go[1]); /* go */
    int bad = nready != n;
    for (int i = 0; i < n; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "cache child %d (%s) failed: status 0x%x\n", i, mode, status);
            bad = 1;
        }
    }
    return bad;
}

/* Four processes fill one empty (not yet created) cache folder at the same time: every entry is
 * complete and verifies, no temp file is left, and a fifth process loads all without a build. */
static void test_cache_concurrent_fill(void **s)
{
    (void)s;
    char dir[300], sub[400];
    fresh_cache(dir, sizeof dir, "conc");
    int v;
    /* does the driver give binaries at all?  (probe in a folder of its own) */
    snprintf(sub, sizeof sub, "%s/probe", dir);
    use_cache_dir(sub);
    if (build_tiny(tctx, 0, 1, &v, NULL, 0) == CLG_ORIGIN_SOURCE) {
        drop_cache(dir);
        skip();
    }
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    assert_int_equal(run_children("fill", 4, sub), 0);
    int entries, others;
    count_files(sub, &entries, &others);
    assert_int_equal(entries, CHILD_PROGRAMS);
    assert_int_equal(others, 0);
    assert_int_equal(run_children("hit", 1, sub), 0);
    /* and this process loads them too */
    use_cache_dir(sub);
    for (int i = 0; i < CHILD_PROGRAMS; i++) {
        assert_int_equal(build_tiny(tctx, i, 40 + i, &v, NULL, 0), CLG_ORIGIN_CACHE_HIT);
        assert_int_equal(v, 100 * i + 40 + i);
    }
    drop_cache(dir);
}

static void test_cache_off(void **s)
{
    (void)s;
    set_tmp_cache();
    clg_ctx_set_cache_policy(tctx, CLG_CACHE_OFF);
    clg_build_report r;
    void *p = NULL;
    assert_clg_ok(clg_program_build_source(tctx, "nocache", "__kernel void k(__global int *x) { x[0] = 1; }\n",
                                           NULL, &p, &r));
    assert_int_equal(r.origin, CLG_ORIGIN_SOURCE);
    assert_int_equal(access(tmpdir, F_OK), -1);
    clReleaseProgram((cl_program)p);
    use_cache_dir(NULL);
}

static void test_cl_dir_override(void **s)
{
    (void)s;
    /* A broken common.cl on disk must be what gets compiled. */
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "/tmp/clgrad-test-cldir-%ld-%d", (long)getpid(), tdev->platform_index);
    snprintf(path, sizeof path, "%s/common.cl", dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("__kernel void oops( { }\n", f);
    fclose(f);
    setenv("CLGRAD_CL_DIR", dir, 1);
    clg_ctx *c2;
    assert_clg_ok(clg_ctx_create(tdev, NULL, &c2));
    clg_ctx_set_cache_policy(c2, CLG_CACHE_OFF);
    clg_status st = clg_ctx_build_program(c2, 0, NULL);
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", clg_last_error());
    /* undo before checking: a failed check must not leave the broken common.cl selected for the
     * tests that follow (under Oclgrind it did, and test_build_all_programs failed on it) */
    clg_ctx_destroy(c2);
    unsetenv("CLGRAD_CL_DIR");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(st, CLG_ERR_BUILD);
    /* the message names the folder, whether or not the compiler's log does */
    assert_non_null(strstr(msg, dir));
    assert_non_null(strstr(msg, "CLGRAD_CL_DIR"));
}

/* Kernels see -DCLG_FMA=1 exactly where the device fuses multiply-adds in hardware (CL_FP_FMA),
 * so common.cl's CLG_MAD is fma() there and mad() elsewhere (rusticl's llvmpipe emulates fma()). */
static void test_fma_define(void **s)
{
    (void)s;
    cl_device_fp_config fp = 0;
    assert_int_equal(clGetDeviceInfo((cl_device_id)tdev->device_id, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp,
                                     NULL), CL_SUCCESS);
    assert_int_equal(tdev->fma, (fp & CL_FP_FMA) != 0);
    static const char src[] = "__kernel void k(__global int *x) { x[0] = CLG_FMA; x[1] = 22; }\n";
    void *p = NULL;
    assert_clg_ok(clg_program_build_source(tctx, "fma-define", src, NULL, &p, NULL));
    cl_int err;
    cl_kernel k = clCreateKernel((cl_program)p, "k", &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_mem m = clCreateBuffer((cl_context)clg_ctx_cl_context(tctx), CL_MEM_READ_WRITE, 2 * sizeof(cl_int), NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    clSetKernelArg(k, 0, sizeof m, &m);
    size_t one = 1;
    cl_command_queue q = (cl_command_queue)clg_ctx_cl_queue(tctx);
    assert_int_equal(clEnqueueNDRangeKernel(q, k, 1, NULL, &one, NULL, 0, NULL, NULL), CL_SUCCESS);
    cl_int got[2] = { -1, -1 };
    assert_int_equal(clEnqueueReadBuffer(q, m, CL_TRUE, 0, sizeof got, got, 0, NULL, NULL), CL_SUCCESS);
    assert_int_equal(got[0], tdev->fma);
    assert_int_equal(got[1], 22);
    clReleaseMemObject(m);
    clReleaseKernel(k);
    clReleaseProgram((cl_program)p);
}

/* Our builds pass -w: PoCL printed "N warnings generated." on the process's stderr for each build
 * with warnings (on AVX2 hosts clang's -Wpsabi at every float16: a dozen lines per cold
 * `clgrad train mae`).  A kernel with a warning clang gives by default (-Warray-bounds) builds
 * with no warning in its log.  Oclgrind ignores -w (its simulator is for finding faults). */
static void test_builds_without_warnings(void **s)
{
    (void)s;
    if (strstr(tdev->platform_name, "Oclgrind")) {
        skip();
        return;
    }
    static const char src[] = "__kernel void k(__global int *x) { int a[2]; a[x[0]] = 1; a[5] = 2; x[1] = a[1]; }\n";
    void *p = NULL;
    clg_ctx_set_cache_policy(tctx, CLG_CACHE_OFF);
    assert_clg_ok(clg_program_build_source(tctx, "warn.cl", src, NULL, &p, NULL));
    char log[8192] = "";
    size_t n = 0;
    assert_int_equal(clGetProgramBuildInfo((cl_program)p, (cl_device_id)tdev->device_id, CL_PROGRAM_BUILD_LOG,
                                           sizeof log - 1, log, &n), CL_SUCCESS);
    clReleaseProgram((cl_program)p);
    clg_ctx_set_cache_policy(tctx, CLG_CACHE_AUTO);
    if (strstr(log, "warning"))
        fail_msg("build log has a warning:\n%s", log);
}

/* Number of binary cache entries (*.bin) in dir. */
static int cache_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        n += len > 4 && !strcmp(e->d_name + len - 4, ".bin");
    }
    closedir(d);
    return n;
}

static int program_index(const char *name)
{
    for (int i = 0; i < clg_program_count(); i++)
        if (!strcmp(clg_program_name(i), name))
            return i;
    fail_msg("no embedded program %s", name);
    return -1;
}

/* clg_ctx_build_programs compiles a set of files as one program (#17: one compile instead of one
 * per file): each file is then built (asking again compiles nothing) and ops whose kernels live
 * in those files run from it; where the cache stores entries by default (not PoCL, which caches
 * itself; forcing it there makes PoCL compile every kernel of the set), the set is one entry that a
 * second ctx loads; bad arguments are refused. */
static void test_build_programs_together(void **s)
{
    (void)s;
    set_tmp_cache();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    const int idx[2] = { program_index("loss.cl"), program_index("reduce.cl") };
    for (int round = 0; round < 2; round++) {
        clg_ctx *c;
        assert_clg_ok(clg_ctx_create(tdev, NULL, &c)); /* reads CLGRAD_CACHE_DIR = tmpdir */
        clg_build_report r;
        assert_clg_ok(clg_ctx_build_programs(c, idx, 2, &r));
        int cached = r.origin != CLG_ORIGIN_SOURCE;
        if (round == 1 && !cached) {
            clg_ctx_destroy(c);
            break;
        }
        if (cached) {
            assert_int_equal(r.origin, round ? CLG_ORIGIN_CACHE_HIT : CLG_ORIGIN_CACHE_STORED);
            assert_int_equal(cache_entries(tmpdir), 1);
        }
        for (int j = 0; j < 2; j++) {
            assert_clg_ok(clg_ctx_build_program(c, idx[j], &r));
            assert_int_equal(r.origin, CLG_ORIGIN_CACHE_HIT);
            assert_string_equal(r.cache_path, ""); /* already built: neither loaded nor compiled */
        }
        assert_clg_ok(clg_ctx_build_programs(c, idx, 2, &r));
        assert_string_equal(r.cache_path, "");
        /* softmax (reduce.cl) and cross-entropy (loss.cl) of 2 rows x 3 against double sums */
        const float x[6] = { 0.5f, -1.0f, 2.0f, 0.0f, 0.25f, -0.75f };
        const int32_t lab[2] = { 2, 0 };
        clg_shape sx = SHAPE2(CLG_F32, 2, 3), sl = SHAPE1(CLG_I32, 2), s0 = clg_shape_make(CLG_F32, 0, NULL);
        clg_tensor tx, tl, ty, tloss;
        assert_clg_ok(clg_tensor_new(c, &sx, &tx));
        assert_clg_ok(clg_tensor_write(&tx, x));
        assert_clg_ok(clg_tensor_new(c, &sl, &tl));
        assert_clg_ok(clg_tensor_write(&tl, lab));
        assert_clg_ok(clg_tensor_new(c, &sx, &ty));
        assert_clg_ok(clg_tensor_new(c, &s0, &tloss));
        assert_clg_ok(clg_op_forward(c, CLG_OP_SOFTMAX, (const clg_tensor *[]){ &tx }, &ty, NULL));
        assert_clg_ok(clg_op_forward(c, CLG_OP_CROSS_ENTROPY, (const clg_tensor *[]){ &tx, &tl }, &tloss, NULL));
        float y[6], loss;
        assert_clg_ok(clg_tensor_read(&ty, y));
        assert_clg_ok(clg_tensor_read(&tloss, &loss));
        double want_loss = 0;
        for (int i = 0; i < 2; i++) {
            double z = 0;
            for (int k = 0; k < 3; k++)
                z += exp((double)x[3 * i + k]);
            for (int k = 0; k < 3; k++)
                assert_true(fabs(y[3 * i + k] - exp((double)x[3 * i + k]) / z) < 1e-6);
            want_loss += (log(z) - x[3 * i + lab[i]]) / 2;
        }
        assert_true(fabs(loss - want_loss) < 1e-5);
        assert_int_equal(cache_entries(tmpdir), cached); /* no file built on its own */
        clg_tensor_free(&tx);
        clg_tensor_free(&tl);
        clg_tensor_free(&ty);
        clg_tensor_free(&tloss);
        clg_ctx_destroy(c);
    }
    const int bad[1] = { 9999 };
    assert_int_equal(clg_ctx_build_programs(tctx, bad, 1, NULL), CLG_ERR_INVALID_ARG);
    assert_int_equal(clg_ctx_build_programs(tctx, NULL, 1, NULL), CLG_ERR_INVALID_ARG);
    assert_clg_ok(clg_ctx_build_programs(tctx, NULL, 0, NULL));
    assert_int_equal(system(cmd), 0);
    use_cache_dir(NULL);
}

/* The first use of a kernel outside gemm.cl builds its op group's program, the group's files as
 * one (#17: one compile per process and group, and the same program, so one PoCL cache entry and
 * one machine-code compile per kernel, whatever ops a process runs): after one softmax on a fresh
 * ctx the core group is built (building it again compiles nothing), the representation group
 * (embed, random, sgns) is not; once built, each op file is; gemm.cl is in neither. */
static void test_op_program(void **s)
{
    (void)s;
    clg_ctx *c;
    assert_clg_ok(clg_ctx_create(tdev, NULL, &c));
    clg_ctx_set_cache_policy(c, CLG_CACHE_OFF);
    clg_shape sx = SHAPE2(CLG_F32, 2, 3);
    const float x[6] = { 1, 2, 3, 4, 5, 6 };
    float y[6];
    clg_tensor tx, ty;
    assert_clg_ok(clg_tensor_new(c, &sx, &tx));
    assert_clg_ok(clg_tensor_write(&tx, x));
    assert_clg_ok(clg_tensor_new(c, &sx, &ty));
    assert_clg_ok(clg_op_forward(c, CLG_OP_SOFTMAX, (const clg_tensor *[]){ &tx }, &ty, NULL));
    assert_clg_ok(clg_tensor_read(&ty, y));
    assert_true(fabs(y[2] - 1 / (1 + exp(-1.0) + exp(-2.0))) < 1e-6);
    clg_build_report r;
    assert_clg_ok(clg_ctx_build_op_programs(c, CLG_OPS_CORE, &r));
    assert_int_equal(r.origin, CLG_ORIGIN_CACHE_HIT); /* built by the softmax */
    assert_clg_ok(clg_ctx_build_op_programs(c, CLG_OPS_REPR, &r));
    assert_int_equal(r.origin, CLG_ORIGIN_SOURCE); /* compiled now */
    assert_clg_ok(clg_ctx_build_op_programs(c, CLG_OPS_ALL, &r));
    assert_int_equal(r.origin, CLG_ORIGIN_CACHE_HIT);
    assert_string_equal(r.cache_path, "");
    assert_clg_status(clg_ctx_build_op_programs(c, 4, &r), CLG_ERR_INVALID_ARG);
    int gemm = program_index("gemm.cl");
    for (int i = 1; i < clg_program_count(); i++) { /* 0: common.cl */
        if (i == gemm)
            continue;
        assert_clg_ok(clg_ctx_build_program(c, i, &r));
        if (r.origin != CLG_ORIGIN_CACHE_HIT || r.cache_path[0])
            fail_msg("%s was not built with its op group (origin %d)", clg_program_name(i), (int)r.origin);
    }
    assert_clg_ok(clg_ctx_build_program(c, gemm, &r));
    assert_int_equal(r.origin, CLG_ORIGIN_SOURCE); /* gemm.cl whole: in no group */
    clg_tensor_free(&tx);
    clg_tensor_free(&ty);
    clg_ctx_destroy(c);
}

static void test_build_all_programs(void **s)
{
    (void)s;
    clg_ctx_set_cache_policy(tctx, CLG_CACHE_AUTO);
    assert_true(clg_program_count() >= 2);
    assert_string_equal(clg_program_name(0), "common.cl");
    assert_clg_ok(clg_ctx_build_all(tctx));
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--cache-child"))
        return cache_child(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syntax_error_has_log), cmocka_unit_test(test_cache_store_hit_rebuild),
        cmocka_unit_test(test_cache_swapped_entries), cmocka_unit_test(test_cache_rotated_entries),
        cmocka_unit_test(test_cache_damaged_entry), cmocka_unit_test(test_cache_entry_without_kernel),
        cmocka_unit_test(test_cache_failed_write),
        cmocka_unit_test(test_cache_concurrent_fill),
        cmocka_unit_test(test_cache_off), cmocka_unit_test(test_cl_dir_override),
        cmocka_unit_test(test_fma_define), cmocka_unit_test(test_build_all_programs),
        cmocka_unit_test(test_build_programs_together), cmocka_unit_test(test_builds_without_warnings),
        cmocka_unit_test(test_op_program),
    };
    return clg_test_run_per_device("program", tests, sizeof tests / sizeof tests[0]);
}
