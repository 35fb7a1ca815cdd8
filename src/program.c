/* program.c — kernel sources, device build options, program builds with the binary cache, the op program
 * (every file but common.cl and gemm.cl as one), kernel lookup. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "io_internal.h"
#include "clgrad/io.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Hash a field with its length, so ("ab","c") != ("a","bc"). */
static void hash_field(uint64_t h[2], const void *data, size_t n)
{
    uint64_t len = n;
    h[0] = clg__fnv1a(clg__fnv1a(h[0], &len, sizeof len), data, n);
    h[1] = clg__fnv1a(clg__fnv1a(h[1], data, n), &len, sizeof len);
}

/* ---- sources ------------------------------------------------------------- */

int clg_program_count(void) { return clg__cl_source_count; }
const char *clg_program_name(int i)
{
    return (i >= 0 && i < clg__cl_source_count) ? clg__cl_sources[i].name : NULL;
}

static clg_status read_file(const char *path, char **out, size_t *len)
{
    FILE *f;
    clg_status st = clg_file_open_read(path, "kernel source", &f);
    if (st)
        return st;
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

/* One file's text, from CLGRAD_CL_DIR (as read at ctx create) or the embedded copy. */
static clg_status file_source(const clg_ctx *ctx, int i, char **out, size_t *len)
{
    const char *dir = ctx->cl_dir;
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

clg_status clg__file_source(const clg_ctx *ctx, int i, char **out, size_t *len)
{
    if (i < 0 || i >= clg__cl_source_count)
        return clg__fail(CLG_ERR_INVALID_ARG, "no embedded program %d", i);
    return file_source(ctx, i, out, len);
}

/* A program's full source: common.cl followed by its own file. */
clg_status clg__program_source(const clg_ctx *ctx, int prog, char **out, size_t *len)
{
    if (prog < 0 || prog >= clg__cl_source_count)
        return clg__fail(CLG_ERR_INVALID_ARG, "no embedded program %d", prog);
    if (prog == CLG_PROG_COMMON)
        return file_source(ctx, prog, out, len);
    char *a, *b;
    size_t la, lb;
    clg_status st = file_source(ctx, CLG_PROG_COMMON, &a, &la);
    if (st)
        return st;
    st = file_source(ctx, prog, &b, &lb);
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
    const char *user = ctx->build_options;
    /* -w (OpenCL's own option; PoCL refuses clang's -Wno-*): PoCL prints "N warnings generated."
     * to the process's stderr per build, and on AVX2 hosts clang warns at every float16 (-Wpsabi),
     * so a cold `clgrad train mae` printed a dozen such lines; a failed build's log keeps its errors. */
    /* No trailing or doubled spaces: the options read back from the driver (a step's launch list)
     * equal these, once launch_list.c's build_options_of has mapped back the spelling in which PoCL
     * and rusticl report -cl-denorms-are-zero (clg_ctx_options.flush_denormals: PoCL then runs
     * kernels with the CPU's flush-to-zero and denormals-are-zero modes; llvmpipe ignores it). */
    snprintf(buf, size, "%s%s -w%s -DCLG_DEVICE_%s=1 -DCLG_WG=%zu -DCLG_FMA=%d%s%s%s%s%s", *std ? "-cl-std=" : "",
             std, ctx->flush_denormals ? " -cl-denorms-are-zero" : "", clg_device_type_name(d->type), ctx->wg_default,
             d->fma, ctx->kernel_stores ? " -DCLG_SPLIT16_BY_LANES=1" : "", extra && *extra ? " " : "",
             extra ? extra : "", user && *user ? " " : "", user ? user : "");
}

/* ---- cache ----------------------------------------------------------------- */

/* The binary cache.  An entry is one file, <cache dir>/<name>.bin, whose name is a 128-bit hash
 * of the format version and the entry's key material; the file describes itself, so a file that
 * sits under another entry's name (copied, swapped, rotated, or a hash collision) is detected and
 * rebuilt instead of loaded.  Layout (integers little-endian):
 *
 *   0        "CLGRADPB"          magic
 *   8        u32 version         CACHE_FORMAT_VERSION
 *   12       u32 K               bytes of key material
 *   16       u64 B               bytes of binary, 1 .. CACHE_MAX_BINARY
 *   24       key material        for each of platform version, device name, driver version,
 *                                build options, program source: a u32 length and the bytes
 *   24+K     binary              CL_PROGRAM_BINARIES of the build
 *   24+K+B   u64 checksum        FNV-1a of bytes [0, 24+K+B)
 *
 * and the file is exactly 32+K+B bytes long.  An entry is used only if all of that holds and
 * its key material equals, byte for byte, the material of the build asked for (the full source
 * and options, not a hash of them).  Anything else (no file, a truncated one, trailing bytes, a
 * bad checksum, another format version, another key, a binary the driver rejects, a kernel
 * missing from the program it gives) means: build from source and rewrite the entry.  Never
 * fatal; a failure to store is a warning in the log.
 *
 * Writes go through clg__afile (io_file.c): a temp file "<entry>.tmp-<pid>-<n>" created with
 * O_EXCL in the same folder, every write checked, fsync, rename.  Processes filling one cache at
 * the same time each rename a complete entry into place (the last wins; all are equal), and a
 * failed write leaves nothing under an entry's name.  A process killed during a write leaves
 * its temp file behind (never read; safe to delete).
 *
 * Format 1 had a checksum over the binary alone and no key: a valid entry under another entry's
 * name was loaded (a GEMM kernel with other tiles, or CL_INVALID_KERNEL_NAME).  Its files have
 * other names and are ignored. */

#define CACHE_FORMAT_VERSION 2u
#define CACHE_MAGIC "CLGRADPB"
#define CACHE_HEAD 24u
#define CACHE_TAIL 8u
#define CACHE_MAX_BINARY ((uint64_t)1 << 30)
#define CACHE_MAX_KEY ((uint64_t)1 << 28)
#define CACHE_KEY_FIELDS 5

static const char *const key_field_names[CACHE_KEY_FIELDS] = {
    "platform version", "device name", "driver version", "build options", "source",
};

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
    int n = snprintf(tmp, sizeof tmp, "%s", path);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
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

static int cache_enabled(const clg_ctx *ctx)
{
    if (ctx->cache_policy == CLG_CACHE_OFF)
        return 0;
    if (ctx->cache_policy == CLG_CACHE_FORCE)
        return 1;
    /* PoCL keeps its own kernel cache (~/.cache/pocl) and re-compiles when
     * given a binary, so ours would only add work there. */
    return ctx->runtime != CLG_RT_POCL;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* What identifies an entry: its key material (owned) and the file name derived from it. */
typedef struct cache_key {
    unsigned char *mat;
    size_t len;
    char name[33];
} cache_key;

/* The key of building src with opts on ctx's device; 0 (and a warning) if it cannot be made. */
static int cache_key_make(const clg_ctx *ctx, const char *src, size_t slen, const char *opts, cache_key *k)
{
    const char *f[CACHE_KEY_FIELDS] = { ctx->info.platform_version, ctx->info.name, ctx->info.driver_version,
                                        opts, src };
    size_t n[CACHE_KEY_FIELDS] = { strlen(f[0]), strlen(f[1]), strlen(f[2]), strlen(opts), slen };
    uint64_t total = 0;
    for (int i = 0; i < CACHE_KEY_FIELDS; i++)
        total += 4 + (uint64_t)n[i];
    if (total > CACHE_MAX_KEY) {
        clg__log(CLG_LOG_WARN, "cache: source and options too large (%llu bytes) for the binary cache",
                 (unsigned long long)total);
        return 0;
    }
    unsigned char *m = malloc((size_t)total);
    if (!m) {
        clg__log(CLG_LOG_WARN, "cache: out of memory for the key, not using the binary cache");
        return 0;
    }
    size_t o = 0;
    for (int i = 0; i < CACHE_KEY_FIELDS; i++) {
        put_u32(m + o, (uint32_t)n[i]);
        memcpy(m + o + 4, f[i], n[i]);
        o += 4 + n[i];
    }
    uint64_t h[2] = { CLG_FNV_OFFSET, 0x84222325cbf29ce4ULL };
    uint32_t ver = CACHE_FORMAT_VERSION;
    hash_field(h, &ver, sizeof ver);
    hash_field(h, m, o);
    snprintf(k->name, sizeof k->name, "%016llx%016llx", (unsigned long long)h[0], (unsigned long long)h[1]);
    k->mat = m;
    k->len = o;
    return 1;
}

/* Which key field of a stored entry differs from want (for the log). */
static const char *key_mismatch(const unsigned char *got, size_t glen, const cache_key *want)
{
    size_t og = 0, ow = 0;
    for (int i = 0; i < CACHE_KEY_FIELDS; i++) {
        if (og + 4 > glen)
            return "malformed key";
        uint64_t lg = get_u32(got + og), lw = get_u32(want->mat + ow);
        if (og + 4 + lg > glen)
            return "malformed key";
        if (lg != lw || memcmp(got + og + 4, want->mat + ow + 4, (size_t)lg) != 0)
            return key_field_names[i];
        og += 4 + (size_t)lg;
        ow += 4 + (size_t)lw;
    }
    return og == glen ? "key" : "malformed key";
}

/* Read the entry at path and check it against key.  1: valid, and *bin, *bsz point into *buf,
 * which the caller frees; 0: there is no entry; -1: the entry is unusable, *why says how. */
static int cache_load(const char *path, const cache_key *key, unsigned char **buf, const unsigned char **bin,
                      size_t *bsz, char *why, size_t why_size)
{
    *buf = NULL;
    /* O_NONBLOCK: a FIFO under an entry's name must not block the open. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, why_size, "cannot be opened (%s)", strerror(errno));
        return -1;
    }
    int rc = -1;
    unsigned char *b = NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(why, why_size, "is not a regular file");
        goto out;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < CACHE_HEAD + CACHE_TAIL || size > CACHE_HEAD + CACHE_TAIL + CACHE_MAX_KEY + CACHE_MAX_BINARY) {
        snprintf(why, why_size, "has an impossible size (%llu bytes)", (unsigned long long)size);
        goto out;
    }
    b = malloc((size_t)size);
    if (!b) {
        snprintf(why, why_size, "does not fit in memory");
        goto out;
    }
    if (clg__read_at(fd, b, (size_t)size, 0) != size) {
        snprintf(why, why_size, "could not be read whole");
        goto out;
    }
    if (memcmp(b, CACHE_MAGIC, 8) != 0) {
        snprintf(why, why_size, "is not a clgrad cache entry");
        goto out;
    }
    if (get_u32(b + 8) != CACHE_FORMAT_VERSION) {
        snprintf(why, why_size, "has format version %lu, not %u", (unsigned long)get_u32(b + 8), CACHE_FORMAT_VERSION);
        goto out;
    }
    uint64_t klen = get_u32(b + 12), blen = get_u64(b + 16);
    if (klen > CACHE_MAX_KEY || blen == 0 || blen > CACHE_MAX_BINARY || CACHE_HEAD + klen + blen + CACHE_TAIL != size) {
        snprintf(why, why_size, "is truncated or has trailing bytes");
        goto out;
    }
    size_t body = CACHE_HEAD + (size_t)klen + (size_t)blen;
    if (clg__fnv1a(CLG_FNV_OFFSET, b, body) != get_u64(b + body)) {
        snprintf(why, why_size, "fails its checksum");
        goto out;
    }
    if (klen != key->len || memcmp(b + CACHE_HEAD, key->mat, key->len) != 0) {
        snprintf(why, why_size, "was built for another %s", key_mismatch(b + CACHE_HEAD, (size_t)klen, key));
        goto out;
    }
    *bin = b + CACHE_HEAD + klen;
    *bsz = (size_t)blen;
    *buf = b;
    b = NULL;
    rc = 1;
out:
    free(b);
    close(fd);
    return rc;
}

/* Write the entry of key with binary bin, atomically.  1 if it is in place; 0 (a warning in the
 * log, no error left set) if not. */
static int cache_store(const char *dir, const char *path, const cache_key *key, const unsigned char *bin,
                       size_t bsz)
{
    if (bsz == 0 || (uint64_t)bsz > CACHE_MAX_BINARY) {
        clg__log(CLG_LOG_WARN, "cache: not storing %s: a binary of %zu bytes", path, bsz);
        return 0;
    }
    if (mkdir_p(dir) != 0) {
        clg__log(CLG_LOG_WARN, "cache: cannot create %s: %s", dir, strerror(errno));
        return 0;
    }
    unsigned char head[CACHE_HEAD], tail[CACHE_TAIL];
    memcpy(head, CACHE_MAGIC, 8);
    put_u32(head + 8, CACHE_FORMAT_VERSION);
    put_u32(head + 12, (uint32_t)key->len);
    put_u64(head + 16, (uint64_t)bsz);
    put_u64(tail, clg__fnv1a(clg__fnv1a(clg__fnv1a(CLG_FNV_OFFSET, head, sizeof head), key->mat, key->len), bin, bsz));
    clg__afile af;
    clg_status st = clg__afile_open(&af, path);
    if (st)
        goto fail;
    if ((st = clg__afile_write(&af, head, sizeof head)) || (st = clg__afile_write(&af, key->mat, key->len)) ||
        (st = clg__afile_write(&af, bin, bsz)) || (st = clg__afile_write(&af, tail, sizeof tail))) {
        clg__afile_abort(&af);
        goto fail;
    }
    if ((st = clg__afile_commit(&af)))
        goto fail;
    return 1;
fail:
    clg__log(CLG_LOG_WARN, "cache: storing %s failed: %s", path, clg_last_error());
    clg__clear_error();
    return 0;
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

/* The program of a cached binary, or NULL (and *err) if the driver rejects it. */
static cl_program build_from_binary(clg_ctx *ctx, const unsigned char *bin, size_t size, const char *opts,
                                    cl_int *err)
{
    cl_int berr = CL_SUCCESS;
    const unsigned char *bins[1] = { bin };
    cl_program p = clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &size, bins, &berr, err);
    if (*err == CL_SUCCESS && berr != CL_SUCCESS)
        *err = berr;
    if (*err == CL_SUCCESS)
        *err = clBuildProgram(p, 1, &ctx->device, opts, NULL, NULL);
    if (*err != CL_SUCCESS) {
        if (p)
            clReleaseProgram(p);
        return NULL;
    }
    return p;
}

static int program_binary(cl_program p, unsigned char **bin, size_t *size)
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
    *bin = b;
    *size = sz;
    return 1;
}

/* Build source with the device's options plus extra_options: from its cache entry when `load`
 * and the entry is valid, else from source, then (re)writing the entry.  load = 0 is for a caller
 * that found the program of a loaded entry unusable (a kernel missing). */
static clg_status build_program(clg_ctx *ctx, const char *name, const char *source, const char *extra_options,
                                int load, cl_program *out, clg_build_report *rep)
{
    memset(rep, 0, sizeof *rep);
    double t0 = now_s();
    char opts[2048];
    clg__build_options(ctx, extra_options, opts, sizeof opts);
    size_t len = strlen(source);
    cl_program p = NULL;
    cache_key key = { 0 };
    char dir[900], path[1024];
    int use_cache = cache_enabled(ctx) && ctx->cache_dir[0];
    snprintf(dir, sizeof dir, "%s", ctx->cache_dir);
    clg__clear_error();
    if (use_cache && !cache_key_make(ctx, source, len, opts, &key))
        use_cache = 0;
    int bad = 0;
    if (use_cache) {
        snprintf(path, sizeof path, "%s/%s.bin", dir, key.name);
        snprintf(rep->cache_path, sizeof rep->cache_path, "%s", path);
        if (!load) {
            bad = 1;
        } else {
            unsigned char *buf = NULL;
            const unsigned char *bin = NULL;
            size_t bsz = 0;
            char why[160];
            int rc = cache_load(path, &key, &buf, &bin, &bsz, why, sizeof why);
            if (rc == 1) {
                cl_int err;
                p = build_from_binary(ctx, bin, bsz, opts, &err);
                free(buf);
                if (p) {
                    free(key.mat);
                    rep->origin = CLG_ORIGIN_CACHE_HIT;
                    rep->seconds = now_s() - t0;
                    *out = p;
                    return CLG_OK;
                }
                bad = 1;
                clg__log(CLG_LOG_WARN, "cache: %s (%s) rejected by the driver: %s, rebuilding", path, name,
                         clg_cl_error_name(err));
            } else if (rc < 0) {
                bad = 1;
                clg__log(CLG_LOG_WARN, "cache: %s (%s) %s, rebuilding", path, name, why);
            }
        }
    }
    clg_status st = build_from_source(ctx, name, source, len, opts, &p);
    if (st)
        goto out;
    rep->origin = CLG_ORIGIN_SOURCE;
    if (use_cache) {
        unsigned char *bin;
        size_t bsz;
        if (program_binary(p, &bin, &bsz)) {
            if (cache_store(dir, path, &key, bin, bsz))
                rep->origin = bad ? CLG_ORIGIN_CACHE_REBUILT : CLG_ORIGIN_CACHE_STORED;
            free(bin);
        }
    }
    rep->seconds = now_s() - t0;
    *out = p;
out:
    free(key.mat);
    return st;
}

clg_status clg_program_build_source(clg_ctx *ctx, const char *name, const char *source,
                                    const char *extra_options, void **out, clg_build_report *rep)
{
    if (!ctx || !name || !source || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_program_build_source: NULL argument");
    clg_build_report local;
    cl_program p = NULL;
    clg_status st = build_program(ctx, name, source, extra_options, 1, &p, rep ? rep : &local);
    if (!st)
        *out = p;
    return st;
}

clg_status clg__build_kernel(clg_ctx *ctx, const char *name, const char *source, const char *extra_options,
                             const char *kname, cl_program *prog, cl_kernel *kernel)
{
    clg_build_report rep;
    cl_program p = NULL;
    clg_status st = build_program(ctx, name, source, extra_options, 1, &p, &rep);
    if (st)
        return st;
    cl_int err;
    cl_kernel k = clCreateKernel(p, kname, &err);
    if (err != CL_SUCCESS && rep.origin == CLG_ORIGIN_CACHE_HIT) {
        clg__log(CLG_LOG_WARN, "cache: %s (%s) has no kernel %s: %s, rebuilding", rep.cache_path, name, kname,
                 clg_cl_error_name(err));
        clReleaseProgram(p);
        p = NULL;
        if ((st = build_program(ctx, name, source, extra_options, 0, &p, &rep)))
            return st;
        k = clCreateKernel(p, kname, &err);
    }
    if (err != CL_SUCCESS) {
        clReleaseProgram(p);
        return clg__cl_fail(err, "clCreateKernel(%s in %s%s%s)", kname, name, extra_options ? ", " : "",
                            extra_options ? extra_options : "");
    }
    *prog = p;
    *kernel = k;
    return CLG_OK;
}

/* Build embedded program i into ctx->programs[i] (replacing any there); load as in build_program. */
static clg_status build_embedded(clg_ctx *ctx, int i, int load, clg_build_report *rep)
{
    char *src;
    size_t len;
    clg_status st = clg__program_source(ctx, i, &src, &len);
    if (st)
        return st;
    /* Name the files actually compiled: with CLGRAD_CL_DIR the error names that folder even where
     * the compiler's log ignores the #line markers (Oclgrind reports "input.cl"). */
    char name[1200];
    const char *dir = ctx->cl_dir;
    if (dir && *dir)
        snprintf(name, sizeof name, "cl/%s (from CLGRAD_CL_DIR=%s)", clg__cl_sources[i].name, dir);
    else
        snprintf(name, sizeof name, "cl/%s", clg__cl_sources[i].name);
    cl_program p = NULL;
    st = build_program(ctx, name, src, NULL, load, &p, rep);
    free(src);
    if (st)
        return st;
    if (ctx->programs[i])
        clReleaseProgram(ctx->programs[i]); /* kernels made from it keep it alive */
    ctx->programs[i] = p;
    ctx->program_from_cache[i] = rep->origin == CLG_ORIGIN_CACHE_HIT;
    return CLG_OK;
}

clg_status clg_ctx_build_program(clg_ctx *ctx, int i, clg_build_report *report)
{
    if (!ctx || i < 0 || i >= clg__cl_source_count || i >= CLG_PROG_COUNT)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_ctx_build_program: bad program index %d", i);
    clg_build_report local;
    if (!report)
        report = &local;
    if (ctx->programs[i]) {
        memset(report, 0, sizeof *report);
        report->origin = CLG_ORIGIN_CACHE_HIT;
        return CLG_OK;
    }
    return build_embedded(ctx, i, 1, report);
}

clg_status clg_ctx_build_programs(clg_ctx *ctx, const int *progs, int n, clg_build_report *report)
{
    if (!ctx || (n > 0 && !progs) || n < 0)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_ctx_build_programs: NULL or bad argument");
    clg_build_report local;
    if (!report)
        report = &local;
    memset(report, 0, sizeof *report);
    report->origin = CLG_ORIGIN_CACHE_HIT;
    /* the files still to build, in index order (one set, one source text, one cache entry) */
    unsigned char want[CLG_PROG_COUNT] = { 0 };
    for (int j = 0; j < n; j++) {
        int i = progs[j];
        if (i < 0 || i >= clg__cl_source_count || i >= CLG_PROG_COUNT)
            return clg__fail(CLG_ERR_INVALID_ARG, "clg_ctx_build_programs: bad program index %d", i);
        want[i] = !ctx->programs[i];
    }
    int files[CLG_PROG_COUNT], nt = 0;
    for (int i = 0; i < CLG_PROG_COUNT && i < clg__cl_source_count; i++)
        if (want[i] && i != CLG_PROG_COMMON)
            files[nt++] = i;
    if (want[CLG_PROG_COMMON]) {
        clg_status st = build_embedded(ctx, CLG_PROG_COMMON, 1, report);
        if (st)
            return st;
    }
    if (nt <= 1)
        return nt ? build_embedded(ctx, files[0], 1, report) : CLG_OK;

    /* common.cl, then each file after a #line marker so that compiler messages name it */
    char *all = NULL, name[1400];
    size_t len = 0;
    int nl = snprintf(name, sizeof name, "cl/");
    clg_status st = file_source(ctx, CLG_PROG_COMMON, &all, &len);
    for (int j = 0; !st && j < nt; j++) {
        char *body;
        size_t blen;
        if ((st = file_source(ctx, files[j], &body, &blen)))
            break;
        char head[160];
        int hl = snprintf(head, sizeof head, "\n#line 1 \"cl/%s\"\n", clg__cl_sources[files[j]].name);
        char *grown = realloc(all, len + (size_t)hl + blen + 1);
        if (!grown) {
            free(body);
            st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "out of memory");
            break;
        }
        all = grown;
        memcpy(all + len, head, (size_t)hl);
        memcpy(all + len + hl, body, blen + 1);
        len += (size_t)hl + blen;
        free(body);
        if (nl < (int)sizeof name)
            nl += snprintf(name + nl, sizeof name - (size_t)nl, "%s%s", j ? " + " : "", clg__cl_sources[files[j]].name);
    }
    if (!st && ctx->cl_dir && *ctx->cl_dir && nl < (int)sizeof name)
        snprintf(name + nl, sizeof name - (size_t)nl, " (from CLGRAD_CL_DIR=%s)", ctx->cl_dir);
    cl_program p = NULL;
    if (!st)
        st = build_program(ctx, name, all, NULL, 1, &p, report);
    free(all);
    if (st)
        return st;
    for (int j = 0; j < nt; j++) {
        clRetainProgram(p);
        ctx->programs[files[j]] = p;
        ctx->program_from_cache[files[j]] = report->origin == CLG_ORIGIN_CACHE_HIT;
    }
    clReleaseProgram(p);
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

/* The op programs: every file but common.cl (each file's prefix) and gemm.cl (gemm.c builds its
 * own variant programs), in two groups, each built as one program (program.h): CLG_OPS_CORE,
 * what every model runs, and CLG_OPS_REPR (embed, random, sgns).  A file's group, 0 when none. */
static unsigned op_group(int i)
{
    switch (i) {
    case CLG_PROG_COMMON:
    case CLG_PROG_GEMM: return 0;
    case CLG_PROG_EMBED:
    case CLG_PROG_RANDOM:
    case CLG_PROG_SGNS: return CLG_OPS_REPR;
    default: return CLG_OPS_CORE;
    }
}

clg_status clg_ctx_build_op_programs(clg_ctx *ctx, unsigned groups, clg_build_report *report)
{
    if (!ctx || (groups & ~(unsigned)CLG_OPS_ALL))
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_ctx_build_op_programs: NULL ctx or unknown groups 0x%x", groups);
    clg_build_report one, sum;
    memset(&sum, 0, sizeof sum);
    sum.origin = CLG_ORIGIN_CACHE_HIT;
    for (unsigned grp = CLG_OPS_CORE; grp <= CLG_OPS_REPR; grp <<= 1) {
        if (!(groups & grp))
            continue;
        int idx[CLG_PROG_COUNT], n = 0;
        for (int i = 0; i < clg__cl_source_count && i < CLG_PROG_COUNT; i++)
            if (op_group(i) == grp)
                idx[n++] = i;
        clg_status st = clg_ctx_build_programs(ctx, idx, n, &one);
        if (st)
            return st;
        sum.seconds += one.seconds;
        if (one.origin != CLG_ORIGIN_CACHE_HIT || one.cache_path[0]) {
            sum.origin = one.origin;
            memcpy(sum.cache_path, one.cache_path, sizeof sum.cache_path);
        }
    }
    if (report)
        *report = sum;
    return CLG_OK;
}

/* A kernel's program: for a file of an op group, that group's program on first need (one compile
 * whatever a process runs, so every process shares PoCL's cache entry and each kernel's machine
 * code: per file, or per plan's set of files, the same kernels compiled again under each set). */
clg_status clg__program(clg_ctx *ctx, int prog, cl_program *out)
{
    unsigned grp = op_group(prog);
    clg_status st = !ctx->programs[prog] && grp ? clg_ctx_build_op_programs(ctx, grp, NULL)
                                                : clg_ctx_build_program(ctx, prog, NULL);
    if (st)
        return st;
    *out = ctx->programs[prog];
    return CLG_OK;
}

clg_status clg__kernel_id(clg_ctx *ctx, clg_kid kid, cl_kernel *out)
{
    if (ctx->kernels[kid]) {
        *out = ctx->kernels[kid];
        return CLG_OK;
    }
    int prog = clg__kernel_table[kid].prog;
    const char *name = clg__kernel_table[kid].name;
    cl_program p;
    clg_status st = clg__program(ctx, prog, &p);
    if (st)
        return st;
    cl_int err;
    cl_kernel k = clCreateKernel(p, name, &err);
    if (err != CL_SUCCESS && ctx->program_from_cache[prog]) {
        /* A binary that passed every check of its entry but lacks a kernel: rebuild it. */
        clg__log(CLG_LOG_WARN, "cache: cl/%s from the binary cache has no kernel %s: %s, rebuilding",
                 clg__cl_sources[prog].name, name, clg_cl_error_name(err));
        clg_build_report rep;
        if ((st = build_embedded(ctx, prog, 0, &rep)))
            return st;
        k = clCreateKernel(ctx->programs[prog], name, &err);
    }
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "clCreateKernel(%s in cl/%s)", name, clg__cl_sources[prog].name);
    ctx->kernels[kid] = k;
    *out = k;
    return CLG_OK;
}

clg_status clg__kernel_wg(clg_ctx *ctx, clg_kid kid, size_t cap, size_t *out)
{
    if (!ctx->kernel_wg[kid]) {
        cl_kernel k;
        size_t kw = 0;
        clg_status st = clg__kernel_id(ctx, kid, &k);
        if (st)
            return st;
        cl_int err = clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kw, &kw, NULL);
        if (err != CL_SUCCESS)
            return clg__cl_fail(err, "clGetKernelWorkGroupInfo(%s, CL_KERNEL_WORK_GROUP_SIZE)", clg__kname(kid));
        if (ctx->info.max_work_group && kw > ctx->info.max_work_group)
            kw = ctx->info.max_work_group;
        ctx->kernel_wg[kid] = kw ? kw : 1;
    }
    size_t w = 1;
    while (w * 2 <= ctx->kernel_wg[kid] && w * 2 <= cap)
        w *= 2;
    *out = w;
    return CLG_OK;
}
