/* program.c — kernel sources, device build options, program builds with the binary cache, kernel lookup. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define CACHE_FORMAT_VERSION 1u
#define CACHE_MAGIC "CLGRADPB"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- hashing ------------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Hash a field with its length, so ("ab","c") != ("a","bc"). */
static void hash_field(uint64_t h[2], const void *data, size_t n)
{
    uint64_t len = n;
    h[0] = fnv1a(fnv1a(h[0], &len, sizeof len), data, n);
    h[1] = fnv1a(fnv1a(h[1], data, n), &len, sizeof len);
}

/* ---- sources ------------------------------------------------------------- */

int clg_program_count(void) { return clg__cl_source_count; }
const char *clg_program_name(int i)
{
    return (i >= 0 && i < clg__cl_source_count) ? clg__cl_sources[i].name : NULL;
}

static clg_status read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return clg__fail(CLG_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    clg_status st = CLG_OK;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "reading %s: out of memory", path);
                goto out;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        st = clg__fail(CLG_ERR_IO, "reading %s failed", path);
        goto out;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return st;
}

/* One file's text, from CLGRAD_CL_DIR or the embedded copy. */
static clg_status file_source(int i, char **out, size_t *len)
{
    const char *dir = getenv("CLGRAD_CL_DIR");
    if (dir && *dir) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, clg__cl_sources[i].name);
        char *body = NULL;
        size_t blen = 0;
        clg_status st = read_file(path, &body, &blen);
        if (st)
            return st;
        /* keep compiler messages pointing at the file */
        char head[1100];
        int hl = snprintf(head, sizeof head, "#line 1 \"%s\"\n", path);
        char *all = malloc((size_t)hl + blen + 1);
        if (!all) {
            free(body);
            return clg__fail(CLG_ERR_OUT_OF_MEMORY, "out of memory");
        }
        memcpy(all, head, (size_t)hl);
        memcpy(all + hl, body, blen + 1);
        free(body);
        *out = all;
        *len = (size_t)hl + blen;
        return CLG_OK;
    }
    char *s = malloc(clg__cl_sources[i].len + 1);
    if (!s)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(s, clg__cl_sources[i].data, clg__cl_sources[i].len);
    s[clg__cl_sources[i].len] = 0;
    *out = s;
    *len = clg__cl_sources[i].len;
    return CLG_OK;
}

/* A program's full source: common.cl followed by its own file. */
clg_status clg__program_source(int prog, char **out, size_t *len)
{
    if (prog < 0 || prog >= clg__cl_source_count)
        return clg__fail(CLG_ERR_INVALID_ARG, "no embedded program %d", prog);
    if (prog == CLG_PROG_COMMON)
        return file_source(prog, out, len);
    char *a, *b;
    size_t la, lb;
    clg_status st = file_source(CLG_PROG_COMMON, &a, &la);
    if (st)
        return st;
    st = file_source(prog, &b, &lb);
    if (st) {
        free(a);
        return st;
    }
    char *all = malloc(la + lb + 2);
    if (!all) {
        free(a);
        free(b);
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    memcpy(all, a, la);
    all[la] = '\n';
    memcpy(all + la + 1, b, lb + 1);
    free(a);
    free(b);
    *out = all;
    *len = la + lb + 1;
    return CLG_OK;
}

void clg__build_options(const clg_ctx *ctx, const char *extra, char *buf, size_t size)
{
    const clg_device_info *d = &ctx->info;
    /* Our kernels are OpenCL C 1.2; ask for the device's version capped at 1.2. */
    const char *std = (d->c_major > 1 || d->c_minor >= 2) ? "CL1.2" : d->c_minor == 1 ? "CL1.1" : "";
    const char *user = getenv("CLGRAD_BUILD_OPTIONS");
    snprintf(buf, size, "%s%s -DCLG_DEVICE_%s=1 -DCLG_WG=%zu -DCLG_FMA=%d%s %s %s", *std ? "-cl-std=" : "", std,
             clg_device_type_name(d->type), ctx->wg_default, d->fma,
             ctx->kernel_stores ? " -DCLG_SPLIT16_BY_LANES=1" : "", extra ? extra : "", user ? user : "");
}

/* ---- cache ----------------------------------------------------------------- */

clg_status clg_cache_dir(char *buf, size_t size)
{
    const char *e = getenv("CLGRAD_CACHE_DIR");
    int n;
    if (e && *e) {
        n = snprintf(buf, size, "%s", e);
    } else if ((e = getenv("XDG_CACHE_HOME")) && *e) {
        n = snprintf(buf, size, "%s/clgrad", e);
    } else if ((e = getenv("HOME")) && *e) {
        n = snprintf(buf, size, "%s/.cache/clgrad", e);
    } else {
        return clg__fail(CLG_ERR_IO, "no cache directory: set CLGRAD_CACHE_DIR or HOME");
    }
    if (n < 0 || (size_t)n >= size)
        return clg__fail(CLG_ERR_INVALID_ARG, "cache directory path too long");
    return CLG_OK;
}

static int mkdir_p(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int is_pocl_ctx(const clg_ctx *ctx)
{
    return strstr(ctx->info.platform_name, "Portable Computing Language") != NULL;
}

static int cache_enabled(const clg_ctx *ctx)
{
    if (ctx->cache_policy == CLG_CACHE_OFF)
        return 0;
    if (ctx->cache_policy == CLG_CACHE_FORCE)
        return 1;
    /* PoCL keeps its own kernel cache (~/.cache/pocl) and re-compiles when
     * given a binary, so ours would only add work there. */
    return !is_pocl_ctx(ctx);
}

static void cache_key(const clg_ctx *ctx, const char *src, size_t len, const char *opts, char out[33])
{
    uint64_t h[2] = { 0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL };
    uint32_t ver = CACHE_FORMAT_VERSION;
    hash_field(h, &ver, sizeof ver);
    hash_field(h, ctx->info.platform_version, strlen(ctx->info.platform_version));
    hash_field(h, ctx->info.name, strlen(ctx->info.name));
    hash_field(h, ctx->info.driver_version, strlen(ctx->info.driver_version));
    hash_field(h, src, len);
    hash_field(h, opts, strlen(opts));
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h[0], (unsigned long long)h[1]);
}

typedef struct cache_header {
    char magic[8];
    uint32_t version;
    uint32_t reserved;
    uint64_t size;
    uint64_t checksum;
} cache_header;

/* Returns 1 and a malloc'ed binary on a valid entry, 0 if absent, -1 if corrupt. */
static int cache_load(const char *path, unsigned char **bin, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    int rc = -1;
    cache_header h;
    unsigned char *b = NULL;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, CACHE_MAGIC, 8) != 0 ||
        h.version != CACHE_FORMAT_VERSION || h.size == 0 || h.size > (1u << 30))
        goto out;
    b = malloc(h.size);
    if (!b || fread(b, 1, h.size, f) != h.size)
        goto out;
    if (fgetc(f) != EOF) /* trailing garbage */
        goto out;
    if (fnv1a(0xcbf29ce484222325ULL, b, h.size) != h.checksum)
        goto out;
    *bin = b;
    *size = h.size;
    b = NULL;
    rc = 1;
out:
    free(b);
    fclose(f);
    return rc;
}

static void cache_store(const char *dir, const char *path, const unsigned char *bin, size_t size)
{
    if (mkdir_p(dir) != 0) {
        clg__log(CLG_LOG_WARN, "cache: cannot create %s: %s", dir, strerror(errno));
        return;
    }
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        clg__log(CLG_LOG_WARN, "cache: cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    cache_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.version = CACHE_FORMAT_VERSION;
    h.size = size;
    h.checksum = fnv1a(0xcbf29ce484222325ULL, bin, size);
    int ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(bin, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        clg__log(CLG_LOG_WARN, "cache: storing %s failed", path);
        remove(tmp);
    }
}

static clg_status build_log_fail(clg_ctx *ctx, cl_program p, const char *name, cl_int err)
{
    size_t n = 0;
    clGetProgramBuildInfo(p, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    char *log = malloc(n + 1);
    if (log) {
        log[0] = 0;
        clGetProgramBuildInfo(p, ctx->device, CL_PROGRAM_BUILD_LOG, n, log, NULL);
        log[n] = 0;
    }
    clg__fail(CLG_ERR_BUILD, "building %s for %s failed: %s (%d)\nbuild log:\n%s", name,
              ctx->info.name, clg_cl_error_name(err), (int)err, log ? log : "(no log)");
    clg__set_raw(err);
    free(log);
    return CLG_ERR_BUILD;
}

static clg_status build_from_source(clg_ctx *ctx, const char *name, const char *src, size_t len,
                                    const char *opts, cl_program *out)
{
    cl_int err;
    const char *srcs[1] = { src };
    size_t lens[1] = { len };
    cl_program p = clCreateProgramWithSource(ctx->context, 1, srcs, lens, &err);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "clCreateProgramWithSource(%s)", name);
    err = clBuildProgram(p, 1, &ctx->device, opts, NULL, NULL);
    if (err != CL_SUCCESS) {
        clg_status st = build_log_fail(ctx, p, name, err);
        clReleaseProgram(p);
        return st;
    }
    *out = p;
    return CLG_OK;
}

static int program_binary(clg_ctx *ctx, cl_program p, unsigned char **bin, size_t *size)
{
    size_t sz = 0;
    if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof sz, &sz, NULL) != CL_SUCCESS || sz == 0)
        return 0;
    unsigned char *b = malloc(sz);
    if (!b)
        return 0;
    unsigned char *ptrs[1] = { b };
    if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof ptrs, ptrs, NULL) != CL_SUCCESS) {
        free(b);
        return 0;
    }
    (void)ctx;
    *bin = b;
    *size = sz;
    return 1;
}

clg_status clg_program_build_source(clg_ctx *ctx, const char *name, const char *source,
                                    const char *extra_options, void **out, clg_build_report *rep)
{
    if (!ctx || !name || !source || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_program_build_source: NULL argument");
    clg_build_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    double t0 = now_s();
    char opts[2048];
    clg__build_options(ctx, extra_options, opts, sizeof opts);
    size_t len = strlen(source);
    cl_program p = NULL;
    clg_status st;

    char dir[900], path[1024], key[33];
    path[0] = 0;
    int use_cache = cache_enabled(ctx) && clg_cache_dir(dir, sizeof dir) == CLG_OK;
    clg__clear_error();
    int corrupt = 0;
    if (use_cache) {
        cache_key(ctx, source, len, opts, key);
        snprintf(path, sizeof path, "%s/%s.bin", dir, key);
        memcpy(rep->cache_path, path, sizeof rep->cache_path - 1);
        rep->cache_path[sizeof rep->cache_path - 1] = 0;
        unsigned char *bin = NULL;
        size_t bsz = 0;
        int rc = cache_load(path, &bin, &bsz);
        if (rc == 1) {
            cl_int err, berr;
            const unsigned char *bins[1] = { bin };
            p = clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &bsz, bins, &berr, &err);
            free(bin);
            if (err == CL_SUCCESS && berr == CL_SUCCESS &&
                clBuildProgram(p, 1, &ctx->device, opts, NULL, NULL) == CL_SUCCESS) {
                rep->origin = CLG_ORIGIN_CACHE_HIT;
                rep->seconds = now_s() - t0;
                *out = p;
                return CLG_OK;
            }
            if (p)
                clReleaseProgram(p);
            p = NULL;
            corrupt = 1; /* the driver rejected it: rebuild and overwrite */
            clg__log(CLG_LOG_WARN, "cache: %s rejected by the driver, rebuilding", path);
        } else if (rc < 0) {
            corrupt = 1;
            clg__log(CLG_LOG_WARN, "cache: %s is corrupt or truncated, rebuilding", path);
        }
    }
    st = build_from_source(ctx, name, source, len, opts, &p);
    if (st)
        return st;
    rep->origin = CLG_ORIGIN_SOURCE;
    if (use_cache) {
        unsigned char *bin;
        size_t bsz;
        if (program_binary(ctx, p, &bin, &bsz)) {
            cache_store(dir, path, bin, bsz);
            free(bin);
            rep->origin = corrupt ? CLG_ORIGIN_CACHE_REBUILT : CLG_ORIGIN_CACHE_STORED;
        }
    }
    rep->seconds = now_s() - t0;
    *out = p;
    return CLG_OK;
}

clg_status clg_ctx_build_program(clg_ctx *ctx, int i, clg_build_report *report)
{
    if (!ctx || i < 0 || i >= clg__cl_source_count || i >= CLG_PROG_COUNT)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_ctx_build_program: bad program index %d", i);
    if (ctx->programs[i]) {
        if (report) {
            memset(report, 0, sizeof *report);
            report->origin = CLG_ORIGIN_CACHE_HIT;
        }
        return CLG_OK;
    }
    char *src;
    size_t len;
    clg_status st = clg__program_source(i, &src, &len);
    if (st)
        return st;
    /* Name the files actually compiled: with CLGRAD_CL_DIR the error names that folder even where
     * the compiler's log ignores the #line markers (Oclgrind reports "input.cl"). */
    char name[1200];
    const char *dir = getenv("CLGRAD_CL_DIR");
    if (dir && *dir)
        snprintf(name, sizeof name, "cl/%s (from CLGRAD_CL_DIR=%s)", clg__cl_sources[i].name, dir);
    else
        snprintf(name, sizeof name, "cl/%s", clg__cl_sources[i].name);
    void *p = NULL;
    st = clg_program_build_source(ctx, name, src, NULL, &p, report);
    free(src);
    if (st)
        return st;
    ctx->programs[i] = (cl_program)p;
    return CLG_OK;
}

clg_status clg_ctx_build_all(clg_ctx *ctx)
{
    for (int i = 0; i < clg__cl_source_count && i < CLG_PROG_COUNT; i++) {
        clg_status st = clg_ctx_build_program(ctx, i, NULL);
        if (st)
            return st;
    }
    return CLG_OK;
}

clg_status clg__program(clg_ctx *ctx, int prog, cl_program *out)
{
    clg_status st = clg_ctx_build_program(ctx, prog, NULL);
    if (st)
        return st;
    *out = ctx->programs[prog];
    return CLG_OK;
}

clg_status clg__kernel(clg_ctx *ctx, int prog, const char *name, cl_kernel *out)
{
    for (int i = 0; i < ctx->n_kernels; i++) {
        clg_kernel_entry *e = &ctx->kernels[i];
        if (e->prog == prog && !strcmp(e->name, name)) {
            *out = e->k;
            return CLG_OK;
        }
    }
    if (ctx->n_kernels >= CLG_MAX_KERNELS)
        return clg__fail(CLG_ERR_UNSUPPORTED, "too many kernels (max %d)", CLG_MAX_KERNELS);
    cl_program p;
    clg_status st = clg__program(ctx, prog, &p);
    if (st)
        return st;
    cl_int err;
    cl_kernel k = clCreateKernel(p, name, &err);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "clCreateKernel(%s in cl/%s)", name, clg__cl_sources[prog].name);
    ctx->kernels[ctx->n_kernels].prog = prog;
    char *nm = strdup(name);
    if (!nm) {
        clReleaseKernel(k);
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    ctx->kernels[ctx->n_kernels].name = nm;
    ctx->kernels[ctx->n_kernels].k = k;
    ctx->n_kernels++;
    *out = k;
    return CLG_OK;
}
