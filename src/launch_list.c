/* launch_list.c — launch lists (program.h): made from a ctx's recorded launches, written to and
 * read from a file, and replayed on zero-filled buffers (by a helper process compiling ahead).
 *
 * File format (little-endian): "CLGLNCH1", u32 nprograms, u32 nlaunches; per program u32 length
 * and bytes of the source, then of the options; per launch u32 program, u32 name length and
 * bytes, u32 dims, u64 global[3], u64 local[3], u32 nargs, per argument u32 kind, u64 size and 8
 * value bytes; then u64 FNV-1a of everything before it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "io_internal.h"

#define LL_MAGIC "CLGLNCH1"
#define LL_MAX_PROGRAMS 64
#define LL_MAX_LAUNCHES 4096
#define LL_MAX_TEXT (16u << 20)
#define LL_MAX_FILE ((size_t)256 << 20)

void clg_launch_list_free(clg_launch_list *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->nprograms; i++) {
        if (l->source)
            free(l->source[i]);
        if (l->options)
            free(l->options[i]);
    }
    free(l->source);
    free(l->options);
    free(l->launch);
    memset(l, 0, sizeof *l);
}

/* ---- from recorded launches -------------------------------------------------------------- */

static char *program_text(cl_program p, cl_program_info what, cl_device_id dev)
{
    size_t n = 0;
    cl_int err = what == CL_PROGRAM_SOURCE ? clGetProgramInfo(p, what, 0, NULL, &n)
                                           : clGetProgramBuildInfo(p, dev, (cl_program_build_info)what, 0, NULL, &n);
    if (err != CL_SUCCESS)
        return NULL;
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    s[0] = 0;
    err = what == CL_PROGRAM_SOURCE ? clGetProgramInfo(p, what, n, s, NULL)
                                    : clGetProgramBuildInfo(p, dev, (cl_program_build_info)what, n, s, NULL);
    s[n] = 0;
    if (err != CL_SUCCESS) {
        free(s);
        return NULL;
    }
    return s;
}

/* The options p was built with, as the driver reports them, in the spelling a build takes back:
 * PoCL and rusticl report -cl-denorms-are-zero (clg_ctx_options.flush_denormals) as clang's
 * -fdenormal-fp-math=positive-zero, which their own option checks then refuse in a build (the
 * compile helper's builds of a step's programs failed, and the command compiled them itself). */
static char *build_options_of(cl_program p, cl_device_id dev)
{
    static const char driver[] = "-fdenormal-fp-math=positive-zero", ours[] = "-cl-denorms-are-zero";
    char *s = program_text(p, CL_PROGRAM_BUILD_OPTIONS, dev), *at = s ? strstr(s, driver) : NULL;
    if (at) {
        memcpy(at, ours, sizeof ours - 1);
        memmove(at + sizeof ours - 1, at + sizeof driver - 1, strlen(at + sizeof driver - 1) + 1);
    }
    return s;
}

clg_status clg__rec_describe(clg_ctx *ctx, clg_launch_list *out)
{
    memset(out, 0, sizeof *out);
    cl_program progs[LL_MAX_PROGRAMS];
    int n = ctx->nrec < LL_MAX_LAUNCHES ? ctx->nrec : LL_MAX_LAUNCHES;
    out->source = calloc(LL_MAX_PROGRAMS, sizeof *out->source);
    out->options = calloc(LL_MAX_PROGRAMS, sizeof *out->options);
    out->launch = calloc((size_t)(n ? n : 1), sizeof *out->launch);
    if (!out->source || !out->options || !out->launch)
        goto oom;
    for (int i = 0; i < n; i++) {
        const clg__launch_rec *r = &ctx->rec[i];
        cl_program p = NULL;
        if (clGetKernelInfo(r->k, CL_KERNEL_PROGRAM, sizeof p, &p, NULL) != CL_SUCCESS)
            continue;
        int pi = 0;
        while (pi < out->nprograms && progs[pi] != p)
            pi++;
        if (pi == out->nprograms) {
            if (pi == LL_MAX_PROGRAMS)
                continue;
            char *src = program_text(p, CL_PROGRAM_SOURCE, ctx->device);
            if (!src || !*src) { /* from a binary: nothing to compile ahead */
                free(src);
                continue;
            }
            char *opt = build_options_of(p, ctx->device);
            if (!opt) {
                free(src);
                goto oom;
            }
            progs[pi] = p;
            out->source[pi] = src;
            out->options[pi] = opt;
            out->nprograms++;
        }
        clg_launch *d = &out->launch[out->n];
        memset(d, 0, sizeof *d);
        if (clGetKernelInfo(r->k, CL_KERNEL_FUNCTION_NAME, sizeof d->kernel, d->kernel, NULL) != CL_SUCCESS)
            continue;
        d->program = pi;
        d->dims = r->dims;
        for (int k = 0; k < 3; k++) {
            d->global[k] = r->g[k];
            d->local[k] = r->l[k];
        }
        d->nargs = r->nargs;
        for (int a = 0; a < r->nargs; a++) {
            const clg_karg *ka = &r->args[a];
            clg_launch_arg *la = &d->args[a];
            switch (ka->kind) {
            case CLG_KARG_MEM: {
                size_t sz = 0;
                la->kind = CLG_LARG_BUFFER;
                if (ka->v.mem && clGetMemObjectInfo(ka->v.mem, CL_MEM_SIZE, sizeof sz, &sz, NULL) != CL_SUCCESS)
                    sz = 0;
                la->size = sz;
                break;
            }
            case CLG_KARG_LOCAL:
                la->kind = CLG_LARG_LOCAL;
                la->size = ka->v.local_bytes;
                break;
            default: /* int, uint, float: four bytes */
                la->kind = CLG_LARG_SCALAR;
                la->size = 4;
                memcpy(la->value, &ka->v, 4);
                break;
            }
        }
        out->n++;
    }
    return CLG_OK;
oom:
    clg_launch_list_free(out);
    return clg__fail(CLG_ERR_OUT_OF_MEMORY, "describing launches: out of host memory");
}

/* ---- file -------------------------------------------------------------------------------- */

typedef struct wbuf {
    unsigned char *p;
    size_t n, cap;
    int oom;
} wbuf;

static void put(wbuf *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put_u32(wbuf *b, uint32_t v)
{
    unsigned char c[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24) };
    put(b, c, 4);
}

static void put_u64(wbuf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_text(wbuf *b, const char *s)
{
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

static int list_valid(const clg_launch_list *l)
{
    if (l->nprograms < 0 || l->nprograms > LL_MAX_PROGRAMS || l->n < 0 || l->n > LL_MAX_LAUNCHES ||
        (l->nprograms && (!l->source || !l->options)) || (l->n && !l->launch))
        return 0;
    for (int i = 0; i < l->nprograms; i++)
        if (!l->source[i] || !l->options[i] || strlen(l->source[i]) > LL_MAX_TEXT ||
            strlen(l->options[i]) > LL_MAX_TEXT)
            return 0;
    for (int i = 0; i < l->n; i++) {
        const clg_launch *d = &l->launch[i];
        if (d->program < 0 || d->program >= l->nprograms || d->dims < 1 || d->dims > 3 || d->nargs < 0 ||
            d->nargs > CLG_LAUNCH_MAX_ARGS || !memchr(d->kernel, 0, sizeof d->kernel) || !d->kernel[0])
            return 0;
        for (int a = 0; a < d->nargs; a++)
            if ((unsigned)d->args[a].kind > CLG_LARG_LOCAL ||
                (d->args[a].kind == CLG_LARG_SCALAR && (d->args[a].size < 1 || d->args[a].size > 8)))
                return 0;
    }
    return 1;
}

clg_status clg_launch_list_save(const clg_launch_list *l, const char *path)
{
    if (!l || !path || !list_valid(l))
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_launch_list_save: NULL argument or an invalid list");
    wbuf b = { 0 };
    put(&b, LL_MAGIC, 8);
    put_u32(&b, (uint32_t)l->nprograms);
    put_u32(&b, (uint32_t)l->n);
    for (int i = 0; i < l->nprograms; i++) {
        put_text(&b, l->source[i]);
        put_text(&b, l->options[i]);
    }
    for (int i = 0; i < l->n; i++) {
        const clg_launch *d = &l->launch[i];
        put_u32(&b, (uint32_t)d->program);
        put_text(&b, d->kernel);
        put_u32(&b, d->dims);
        for (int k = 0; k < 3; k++)
            put_u64(&b, d->global[k]);
        for (int k = 0; k < 3; k++)
            put_u64(&b, d->local[k]);
        put_u32(&b, (uint32_t)d->nargs);
        for (int a = 0; a < d->nargs; a++) {
            put_u32(&b, (uint32_t)d->args[a].kind);
            put_u64(&b, d->args[a].size);
            put(&b, d->args[a].value, 8);
        }
    }
    if (!b.oom)
        put_u64(&b, clg__fnv1a(CLG_FNV_OFFSET, b.p, b.n));
    if (b.oom) {
        free(b.p);
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_launch_list_save: out of host memory");
    }
    clg__afile af;
    clg_status st = clg__afile_open(&af, path);
    if (!st && (st = clg__afile_write(&af, b.p, b.n)))
        clg__afile_abort(&af);
    else if (!st)
        st = clg__afile_commit(&af);
    free(b.p);
    return st;
}

typedef struct rbuf {
    const unsigned char *p;
    size_t n, at;
    const char *why; /* the first problem */
} rbuf;

static int get(rbuf *b, void *out, size_t n, const char *what)
{
    if (b->why)
        return 0;
    if (n > b->n - b->at) {
        b->why = what;
        return 0;
    }
    memcpy(out, b->p + b->at, n);
    b->at += n;
    return 1;
}

static uint32_t get_u32(rbuf *b, const char *what)
{
    unsigned char c[4] = { 0 };
    get(b, c, 4, what);
    return (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
}

static uint64_t get_u64(rbuf *b, const char *what)
{
    uint64_t lo = get_u32(b, what);
    return lo | (uint64_t)get_u32(b, what) << 32;
}

/* A text of at most max bytes (NUL-terminated into a new string, or into buf of max + 1). */
static char *get_text(rbuf *b, uint32_t max, char *buf, const char *what)
{
    uint32_t n = get_u32(b, what);
    if (b->why)
        return NULL;
    if (n > max || n > b->n - b->at) {
        b->why = what;
        return NULL;
    }
    char *s = buf ? buf : malloc((size_t)n + 1);
    if (!s) {
        b->why = "out of host memory";
        return NULL;
    }
    memcpy(s, b->p + b->at, n);
    s[n] = 0;
    b->at += n;
    if (memchr(s, 0, n)) {
        if (!buf)
            free(s);
        b->why = what;
        return NULL;
    }
    return s;
}

static clg_status parse(const unsigned char *p, size_t n, const char *path, clg_launch_list *out)
{
    rbuf b = { p, n, 0, NULL };
    char magic[8];
    if (n < 8 || !get(&b, magic, 8, "") || memcmp(magic, LL_MAGIC, 8))
        return clg__fail(CLG_ERR_FORMAT, "launch list '%s': not a launch list (no %s header)", path, LL_MAGIC);
    if (n < 8 + 8 + 8)
        return clg__fail(CLG_ERR_FORMAT, "launch list '%s': truncated (%zu bytes)", path, n);
    uint64_t sum = 0;
    for (int k = 0; k < 8; k++)
        sum |= (uint64_t)p[n - 8 + (size_t)k] << (8 * k);
    if (sum != clg__fnv1a(CLG_FNV_OFFSET, p, n - 8))
        return clg__fail(CLG_ERR_FORMAT, "launch list '%s': checksum mismatch (truncated or corrupt)", path);
    b.n = n - 8;
    uint32_t np = get_u32(&b, "the counts"), nl = get_u32(&b, "the counts");
    if (!b.why && (np > LL_MAX_PROGRAMS || nl > LL_MAX_LAUNCHES))
        return clg__fail(CLG_ERR_FORMAT, "launch list '%s': %u programs and %u launches (at most %d and %d)", path,
                         np, nl, LL_MAX_PROGRAMS, LL_MAX_LAUNCHES);
    out->source = calloc(np ? np : 1, sizeof *out->source);
    out->options = calloc(np ? np : 1, sizeof *out->options);
    out->launch = calloc(nl ? nl : 1, sizeof *out->launch);
    if (!out->source || !out->options || !out->launch) {
        clg_launch_list_free(out);
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "launch list '%s': out of host memory", path);
    }
    for (uint32_t i = 0; i < np && !b.why; i++) {
        out->source[i] = get_text(&b, LL_MAX_TEXT, NULL, "a program's source");
        out->options[i] = get_text(&b, LL_MAX_TEXT, NULL, "a program's options");
        out->nprograms = (int)i + 1;
    }
    for (uint32_t i = 0; i < nl && !b.why; i++) {
        clg_launch *d = &out->launch[i];
        d->program = (int)get_u32(&b, "a launch");
        get_text(&b, sizeof d->kernel - 1, d->kernel, "a kernel name");
        d->dims = get_u32(&b, "a launch");
        for (int k = 0; k < 3; k++)
            d->global[k] = get_u64(&b, "a launch");
        for (int k = 0; k < 3; k++)
            d->local[k] = get_u64(&b, "a launch");
        uint32_t na = get_u32(&b, "a launch");
        if (!b.why && na > CLG_LAUNCH_MAX_ARGS)
            b.why = "a launch's argument count";
        for (uint32_t a = 0; a < na && !b.why; a++) {
            d->args[a].kind = (clg_launch_arg_kind)get_u32(&b, "an argument");
            d->args[a].size = get_u64(&b, "an argument");
            get(&b, d->args[a].value, 8, "an argument");
        }
        d->nargs = (int)na;
        out->n = (int)i + 1;
    }
    if (!b.why && b.at != b.n)
        b.why = "bytes after the last launch";
    if (!b.why && !list_valid(out))
        b.why = "a value out of range";
    if (b.why) {
        clg_launch_list_free(out);
        return clg__fail(CLG_ERR_FORMAT, "launch list '%s': bad %s", path, b.why);
    }
    return CLG_OK;
}

clg_status clg_launch_list_load(const char *path, clg_launch_list *out)
{
    if (!path || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_launch_list_load: NULL argument");
    memset(out, 0, sizeof *out);
    int fd;
    struct stat sb;
    clg_status st = clg__open_regular(path, "launch list", &fd, &sb);
    if (st)
        return st;
    if ((uint64_t)sb.st_size > LL_MAX_FILE) {
        close(fd);
        return clg__fail(CLG_ERR_FORMAT, "launch list '%s': %lld bytes (at most %zu)", path, (long long)sb.st_size,
                         LL_MAX_FILE);
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *p = malloc(n ? n : 1);
    if (!p) {
        close(fd);
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "launch list '%s': out of host memory", path);
    }
    size_t got = clg__read_at(fd, p, n, 0);
    close(fd);
    st = got == n ? parse(p, n, path, out)
                  : clg__fail(CLG_ERR_IO, "launch list '%s': read %zu of %zu bytes", path, got, n);
    free(p);
    return st;
}

/* ---- replay -------------------------------------------------------------------------------- */

static clg_status replay_one(clg_ctx *ctx, cl_program p, const clg_launch *d)
{
    cl_int err;
    cl_kernel k = clCreateKernel(p, d->kernel, &err);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "replay: clCreateKernel(%s)", d->kernel);
    cl_mem mem[CLG_LAUNCH_MAX_ARGS] = { 0 };
    clg_status st = CLG_OK;
    for (int a = 0; a < d->nargs && !st; a++) {
        const clg_launch_arg *la = &d->args[a];
        if (la->kind == CLG_LARG_BUFFER && la->size) {
            static const unsigned char zero = 0;
            mem[a] = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, (size_t)la->size, NULL, &err);
            if (err == CL_SUCCESS)
                err = clEnqueueFillBuffer(ctx->queue, mem[a], &zero, 1, 0, (size_t)la->size, 0, NULL, NULL);
            if (err == CL_SUCCESS)
                err = clSetKernelArg(k, (cl_uint)a, sizeof(cl_mem), &mem[a]);
        } else if (la->kind == CLG_LARG_BUFFER) {
            err = clSetKernelArg(k, (cl_uint)a, sizeof(cl_mem), &mem[a]); /* a NULL buffer */
        } else if (la->kind == CLG_LARG_LOCAL) {
            err = clSetKernelArg(k, (cl_uint)a, (size_t)la->size, NULL);
        } else {
            err = clSetKernelArg(k, (cl_uint)a, (size_t)la->size, la->value);
        }
        if (err != CL_SUCCESS)
            st = clg__cl_fail(err, "replay: %s argument %d", d->kernel, a);
    }
    if (!st) {
        size_t g[3], l[3];
        int has_l = 0;
        for (int i = 0; i < 3; i++) {
            g[i] = (size_t)d->global[i];
            l[i] = (size_t)d->local[i];
            has_l |= l[i] != 0;
        }
        err = clEnqueueNDRangeKernel(ctx->queue, k, d->dims, NULL, g, has_l ? l : NULL, 0, NULL, NULL);
        if (err == CL_SUCCESS)
            err = clFinish(ctx->queue);
        if (err != CL_SUCCESS)
            st = clg__cl_fail(err, "replay: launching %s", d->kernel);
    }
    clFinish(ctx->queue);
    for (int a = 0; a < d->nargs; a++)
        if (mem[a])
            clReleaseMemObject(mem[a]);
    clReleaseKernel(k);
    return st;
}

clg_status clg_launch_list_replay(clg_ctx *ctx, const clg_launch_list *l, int reverse, int (*stop)(void *),
                                  void *user)
{
    if (!ctx || !l || !list_valid(l))
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_launch_list_replay: NULL argument or an invalid list");
    cl_program *progs = calloc((size_t)(l->nprograms ? l->nprograms : 1), sizeof *progs);
    if (!progs)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_launch_list_replay: out of host memory");
    clg_status st = CLG_OK;
    for (int i = 0; i < l->nprograms && !st; i++) {
        if (stop && stop(user))
            goto out;
        cl_int err;
        const char *src = l->source[i];
        progs[i] = clCreateProgramWithSource(ctx->context, 1, &src, NULL, &err);
        if (err == CL_SUCCESS)
            err = clBuildProgram(progs[i], 1, &ctx->device, l->options[i], NULL, NULL);
        if (err != CL_SUCCESS)
            st = clg__cl_fail(err, "replay: building program %d of %d", i + 1, l->nprograms);
    }
    for (int j = 0; j < l->n && !st; j++) {
        if (stop && stop(user))
            break;
        const clg_launch *d = &l->launch[reverse ? l->n - 1 - j : j];
        st = replay_one(ctx, progs[d->program], d);
    }
out:
    for (int i = 0; i < l->nprograms; i++)
        if (progs[i])
            clReleaseProgram(progs[i]);
    free(progs);
    return st;
}
