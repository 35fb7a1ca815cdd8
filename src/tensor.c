/* tensor.c — shapes, device tensor allocation, views and host transfers. */
#include <inttypes.h>
#include <stdio.h>
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
    cl_mem m = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        char sb[96];
        return clg__cl_fail(err, "clCreateBuffer(%s, %zu bytes)", clg_shape_str(s, sb, sizeof sb), bytes);
    }
    out->buf = m;
    out->owns = 1;
    return CLG_OK;
}

clg_status clg__fill_pattern(clg_ctx *ctx, clg_tensor *t, uint32_t pattern)
{
    size_t n = (size_t)clg_shape_numel(&t->s);
    if (n == 0)
        return CLG_OK;
    cl_int err = clEnqueueFillBuffer(ctx->queue, (cl_mem)t->buf, &pattern, sizeof pattern,
                                     t->offset * 4, n * 4, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "clEnqueueFillBuffer(%zu elements)", n);
    return CLG_OK;
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
