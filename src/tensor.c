/* tensor.c — shapes, device tensor allocation, views and host transfers. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

clg_shape clg_shape_make(clg_dtype dt, int ndim, const int64_t *dims)
{
    clg_shape s;
    memset(&s, 0, sizeof s);
    s.dtype = dt;
    s.ndim = ndim < 0 ? 0 : ndim > CLG_MAX_DIMS ? CLG_MAX_DIMS : ndim;
    for (int i = 0; i < s.ndim; i++)
        s.dim[i] = dims[i];
    return s;
}

int64_t clg_shape_numel(const clg_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->dim[i];
    return n;
}

int clg_shape_equal(const clg_shape *a, const clg_shape *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i])
            return 0;
    return 1;
}

const char *clg_dtype_name(clg_dtype dt) { return dt == CLG_I32 ? "i32" : "f32"; }

char *clg_shape_str(const clg_shape *s, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s[", clg_dtype_name(s->dtype));
    for (int i = 0; i < s->ndim && n > 0 && (size_t)n < size; i++)
        n += snprintf(buf + n, size - (size_t)n, "%s%" PRId64, i ? "," : "", s->dim[i]);
    if (n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, "]");
    return buf;
}

static clg_status check_shape(const clg_shape *s)
{
    if (s->ndim < 0 || s->ndim > CLG_MAX_DIMS)
        return clg__fail(CLG_ERR_SHAPE, "tensor: ndim %d outside [0, %d]", s->ndim, CLG_MAX_DIMS);
    if (s->dtype != CLG_F32 && s->dtype != CLG_I32)
        return clg__fail(CLG_ERR_DTYPE, "tensor: unknown dtype %d", (int)s->dtype);
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->dim[i] < 0)
            return clg__fail(CLG_ERR_SHAPE, "tensor: negative dimension %" PRId64, s->dim[i]);
        n *= s->dim[i];
        if (n > INT32_MAX)
            return clg__fail(CLG_ERR_SHAPE, "tensor: more than 2^31-1 elements");
    }
    return CLG_OK;
}

clg_status clg_tensor_new(clg_ctx *ctx, const clg_shape *s, clg_tensor *out)
{
    if (!ctx || !s || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_tensor_new: NULL argument");
    memset(out, 0, sizeof *out);
    clg_status st = check_shape(s);
    if (st)
        return st;
    out->s = *s;
    out->ctx = ctx;
    size_t bytes = (size_t)clg_shape_numel(s) * 4;
    if (bytes == 0)
        return CLG_OK;
    if (bytes > ctx->info.max_alloc && ctx->info.max_alloc)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY,
                         "tensor of %zu bytes exceeds the device's max allocation (%llu bytes) on %s",
                         bytes, (unsigned long long)ctx->info.max_alloc, ctx->info.name);
    cl_int err;
    cl_mem m = clg__create_buffer(ctx, bytes, &err);
    if (err != CL_SUCCESS) {
        char sb[96];
        return clg__cl_fail(err, "clCreateBuffer(%s, %zu bytes)", clg_shape_str(s, sb, sizeof sb), bytes);
    }
    out->buf = m;
    out->owns = 1;
    return CLG_OK;
}

/* Oclgrind 21.10's --uninitialized check tracks a buffer's defined bytes exactly through kernel
 * stores, but not through the host API: clEnqueueFillBuffer marks nothing as written, and a write
 * or copy into part of a buffer (offset > 0 or fewer bytes than the buffer) resets what it knew of
 * the whole buffer, so every view of a pool or arena would read as uninitialized.  There
 * (ctx->kernel_stores, decided in clg_ctx_create) fills and copies run as common.cl's clg_fill /
 * clg_copy and a host write goes through a whole staging buffer; other devices use the driver's
 * commands.  Same bits either way. */
static clg_status words_launch(clg_ctx *ctx, clg_kid kid, const clg_karg *args, int nargs, size_t n)
{
    const char *kname = clg__kname(kid);
    if (n > (size_t)INT32_MAX)
        return clg__fail(CLG_ERR_UNSUPPORTED, "%s: %zu words exceed the int range", kname, n);
    cl_kernel k;
    clg_status st = clg__kernel_id(ctx, kid, &k);
    if (st || (st = clg__set_args(ctx, k, kname, args, nargs)))
        return st;
    size_t l = ctx->wg_default, g = (n + l - 1) / l * l;
    cl_event *ev = clg__prof_slot(ctx, &st);
    if (st)
        return st;
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &g, &l, 0, NULL, ev);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "clEnqueueNDRangeKernel(%s, %zu words)", kname, n);
    clg__prof_keep(ctx);
    return CLG_OK;
}

clg_status clg__fill_words(clg_ctx *ctx, cl_mem buf, size_t off, size_t n, uint32_t pattern)
{
    if (n == 0 || ctx->recording) /* recording (launch.c): nothing runs */
        return CLG_OK;
    if (ctx->kernel_stores) {
        if (off + n > (size_t)INT32_MAX)
            return clg__fail(CLG_ERR_UNSUPPORTED, "clg_fill: %zu words at offset %zu exceed the int range", n, off);
        const clg_karg args[] = { KMEM(buf), KINT(off), KINT(n), KUINT(pattern) };
        return words_launch(ctx, CLG_K_clg_fill, args, 4, n);
    }
    cl_int err = clEnqueueFillBuffer(ctx->queue, buf, &pattern, sizeof pattern, off * 4, n * 4, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "clEnqueueFillBuffer(%zu elements)", n);
    return CLG_OK;
}

clg_status clg__copy_words(clg_ctx *ctx, cl_mem src, size_t so, cl_mem dst, size_t dst_off, size_t n)
{
    if (n == 0 || ctx->recording) /* recording (launch.c): nothing runs */
        return CLG_OK;
    if (ctx->kernel_stores) {
        if (so + n > (size_t)INT32_MAX || dst_off + n > (size_t)INT32_MAX)
            return clg__fail(CLG_ERR_UNSUPPORTED, "clg_copy: %zu words at offsets %zu, %zu exceed the int range", n,
                             so, dst_off);
        const clg_karg args[] = { KMEM(src), KINT(so), KMEM(dst), KINT(dst_off), KINT(n) };
        return words_launch(ctx, CLG_K_clg_copy, args, 5, n);
    }
    cl_int err = clEnqueueCopyBuffer(ctx->queue, src, dst, so * 4, dst_off * 4, n * 4, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "clEnqueueCopyBuffer(%zu elements)", n);
    return CLG_OK;
}

/* Oclgrind also keeps its record of a freed buffer and hands it to the next buffer given the same
 * id: a larger new buffer then reads as uninitialized past the old size, whatever kernels store
 * there.  Only a whole-buffer host write resizes that record, so with ctx->kernel_stores every new
 * buffer is written once, with the quiet NaN CLG_UNWRITTEN_BITS rather than zeros: Oclgrind then
 * no longer reports a read of a word nothing wrote, but such a read still shows, as a NaN in a
 * float result or, as an index, an out-of-range one that the device flags. */
#define CLG_UNWRITTEN_BITS 0x7fc0deadu

cl_mem clg__create_buffer(clg_ctx *ctx, size_t bytes, cl_int *err)
{
    cl_mem m = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, err);
    ctx->buffers_created++;
    if (*err != CL_SUCCESS || !ctx->kernel_stores)
        return m;
    uint32_t *fill = malloc(bytes);
    if (fill)
        for (size_t i = 0; i < bytes / 4; i++)
            fill[i] = CLG_UNWRITTEN_BITS;
    if (fill && bytes % 4)
        memset((char *)fill + bytes / 4 * 4, 0xff, bytes % 4);
    *err = fill ? clEnqueueWriteBuffer(ctx->queue, m, CL_TRUE, 0, bytes, fill, 0, NULL, NULL) : CL_OUT_OF_HOST_MEMORY;
    free(fill);
    if (*err != CL_SUCCESS) {
        clReleaseMemObject(m);
        return NULL;
    }
    return m;
}

/* ctx->kernel_stores: the host data written whole into a staging buffer, then copied by kernel. */
static clg_status staged_write(const clg_tensor *t, const void *host, size_t bytes)
{
    clg_ctx *ctx = t->ctx;
    size_t whole = 0;
    cl_int err = clGetMemObjectInfo((cl_mem)t->buf, CL_MEM_SIZE, sizeof whole, &whole, NULL);
    if (err == CL_SUCCESS && t->offset == 0 && bytes == whole) { /* the whole buffer: written directly */
        err = clEnqueueWriteBuffer(ctx->queue, (cl_mem)t->buf, CL_TRUE, 0, bytes, host, 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return clg__cl_fail(err, "clEnqueueWriteBuffer(%zu bytes)", bytes);
        return CLG_OK;
    }
    cl_mem tmp = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err); /* written whole next */
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "clCreateBuffer(staging, %zu bytes)", bytes);
    clg_status st = CLG_OK;
    err = clEnqueueWriteBuffer(ctx->queue, tmp, CL_TRUE, 0, bytes, host, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        st = clg__cl_fail(err, "clEnqueueWriteBuffer(staging, %zu bytes)", bytes);
    else
        st = clg__copy_words(ctx, tmp, 0, (cl_mem)t->buf, t->offset, bytes / 4);
    clReleaseMemObject(tmp); /* kept by OpenCL until the queued copy has run */
    return st;
}

clg_status clg__fill_pattern(clg_ctx *ctx, clg_tensor *t, uint32_t pattern)
{
    return clg__fill_words(ctx, (cl_mem)t->buf, t->offset, (size_t)clg_shape_numel(&t->s), pattern);
}

clg_status clg_tensor_zeros(clg_ctx *ctx, const clg_shape *s, clg_tensor *out)
{
    clg_status st = clg_tensor_new(ctx, s, out);
    if (st)
        return st;
    st = clg__fill_pattern(ctx, out, 0);
    if (st)
        clg_tensor_free(out);
    return st;
}

void clg_tensor_free(clg_tensor *t)
{
    if (!t)
        return;
    if (t->owns && t->buf)
        clReleaseMemObject((cl_mem)t->buf);
    memset(t, 0, sizeof *t);
}

clg_status clg_tensor_view(const clg_tensor *base, size_t offset, const clg_shape *s, clg_tensor *out)
{
    if (!base || !s || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_tensor_view: NULL argument");
    clg_status st = check_shape(s);
    if (st)
        return st;
    size_t n = (size_t)clg_shape_numel(s);
    size_t bn = (size_t)clg_shape_numel(&base->s);
    if (offset + n > bn) {
        char a[96], b[96];
        return clg__fail(CLG_ERR_SHAPE, "view %s at offset %zu does not fit in %s",
                         clg_shape_str(s, a, sizeof a), offset, clg_shape_str(&base->s, b, sizeof b));
    }
    if (s->dtype != base->s.dtype)
        return clg__fail(CLG_ERR_DTYPE, "view dtype %s differs from base %s", clg_dtype_name(s->dtype),
                         clg_dtype_name(base->s.dtype));
    memset(out, 0, sizeof *out);
    out->s = *s;
    out->buf = base->buf;
    out->offset = base->offset + offset;
    out->ctx = base->ctx;
    out->owns = 0;
    return CLG_OK;
}

size_t clg_tensor_bytes(const clg_tensor *t) { return t ? (size_t)clg_shape_numel(&t->s) * 4 : 0; }

static clg_status transfer(const clg_tensor *t, void *host, int write, int blocking)
{
    if (!t || (!host && clg_shape_numel(&t->s) > 0))
        return clg__fail(CLG_ERR_INVALID_ARG, "tensor %s: NULL argument", write ? "write" : "read");
    size_t bytes = clg_tensor_bytes(t);
    if (bytes == 0)
        return CLG_OK;
    if (!t->ctx || !t->buf)
        return clg__fail(CLG_ERR_STATE, "tensor %s: tensor has no buffer", write ? "write" : "read");
    if (write && t->ctx->kernel_stores)
        return staged_write(t, host, bytes);
    cl_int err = write ? clEnqueueWriteBuffer(t->ctx->queue, (cl_mem)t->buf, blocking ? CL_TRUE : CL_FALSE,
                                              t->offset * 4, bytes, host, 0, NULL, NULL)
                       : clEnqueueReadBuffer(t->ctx->queue, (cl_mem)t->buf, CL_TRUE, t->offset * 4,
                                             bytes, host, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "%s(%zu bytes)", write ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer",
                            bytes);
    return CLG_OK;
}

clg_status clg_tensor_write(clg_tensor *t, const void *host) { return transfer(t, (void *)host, 1, 1); }
clg_status clg_tensor_write_async(clg_tensor *t, const void *host) { return transfer(t, (void *)host, 1, 0); }
clg_status clg_tensor_read(const clg_tensor *t, void *host) { return transfer(t, host, 0, 1); }

clg_status clg_tensor_copy(clg_tensor *dst, const clg_tensor *src)
{
    if (!dst || !src)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_tensor_copy: NULL argument");
    size_t n = (size_t)clg_shape_numel(&src->s);
    if (n != (size_t)clg_shape_numel(&dst->s) || src->s.dtype != dst->s.dtype) {
        char a[96], b[96];
        return clg__fail(src->s.dtype != dst->s.dtype ? CLG_ERR_DTYPE : CLG_ERR_SHAPE,
                         "clg_tensor_copy: %s into %s (the same element type and count needed)",
                         clg_shape_str(&src->s, a, sizeof a), clg_shape_str(&dst->s, b, sizeof b));
    }
    if (n == 0)
        return CLG_OK;
    if (!src->buf || !dst->buf || !src->ctx)
        return clg__fail(CLG_ERR_STATE, "clg_tensor_copy: tensor has no buffer");
    if (src->ctx != dst->ctx)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_tensor_copy: the tensors belong to two contexts");
    if (src->buf == dst->buf && src->offset == dst->offset)
        return CLG_OK;
    if (src->buf == dst->buf && src->offset < dst->offset + n && dst->offset < src->offset + n)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_tensor_copy: %zu elements at offset %zu overlap their copy at %zu",
                         n, src->offset, dst->offset);
    return clg__copy_words(src->ctx, (cl_mem)src->buf, src->offset, (cl_mem)dst->buf, dst->offset, n);
}

clg_status clg__tensor_read_async(const clg_tensor *t, void *host, cl_event *ev)
{
    *ev = NULL;
    size_t bytes = clg_tensor_bytes(t);
    if (!bytes)
        return CLG_OK;
    if (!t->ctx || !t->buf)
        return clg__fail(CLG_ERR_STATE, "tensor read: tensor has no buffer");
    cl_int err = clEnqueueReadBuffer(t->ctx->queue, (cl_mem)t->buf, CL_FALSE, t->offset * 4, bytes, host, 0, NULL,
                                     ev);
    if (err != CL_SUCCESS) {
        *ev = NULL;
        return clg__cl_fail(err, "clEnqueueReadBuffer(%zu bytes, non-blocking)", bytes);
    }
    return CLG_OK;
}

clg_status clg__event_wait(cl_event *ev, const char *who)
{
    if (!*ev)
        return CLG_OK;
    cl_int status = CL_COMPLETE, err = clWaitForEvents(1, ev);
    if (err == CL_SUCCESS)
        err = clGetEventInfo(*ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL);
    clReleaseEvent(*ev);
    *ev = NULL;
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "%s: clWaitForEvents", who);
    return status < 0 ? clg__cl_fail(status, "%s: the read failed on the device", who) : CLG_OK;
}

/* ---- host access in place (gradient exchange, word-vector syncs) -------------------------------- */

clg_status clg__tensor_host_update(const clg_tensor *t, float *host, clg__host_fn fn, void *user, const char *who)
{
    size_t n = (size_t)clg_shape_numel(&t->s);
    if (!n)
        return CLG_OK;
    clg_ctx *ctx = t->ctx;
    clg_status st;
    if (!ctx->host_map) {
        if ((st = clg_tensor_read(t, host)) || (st = fn(host, n, user)))
            return st;
        return transfer(t, host, 1, 0);
    }
    cl_int err;
    float *p = clEnqueueMapBuffer(ctx->queue, (cl_mem)t->buf, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, t->offset * 4,
                                  n * 4, 0, NULL, NULL, &err);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "%s: clEnqueueMapBuffer(%zu bytes)", who, n * 4);
    st = fn(p, n, user);
    err = clEnqueueUnmapMemObject(ctx->queue, (cl_mem)t->buf, p, 0, NULL, NULL);
    if (!st && err != CL_SUCCESS)
        st = clg__cl_fail(err, "%s: clEnqueueUnmapMemObject", who);
    return st;
}

/* ---- waits (the graph's profiler) ------------------------------------------------------------ */

clg_status clg__queue_finish(clg_ctx *ctx, const char *who)
{
    cl_int err = clFinish(ctx->queue);
    return err == CL_SUCCESS ? CLG_OK : clg__cl_fail(err, "%s: clFinish", who);
}
