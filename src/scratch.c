/* scratch.c — ctx-owned scratch buffers for the temporaries of op calls, reserved by a plan. */
#include <string.h>

#include "internal.h"

/* Slot k holds at least bytes (grown by replacing it: OpenCL keeps the old buffer until the
 * kernels already queued on it have run). */
static clg_status grow(clg_ctx *ctx, int k, size_t bytes, const char *who)
{
    if (bytes <= ctx->scratch_bytes[k])
        return CLG_OK;
    cl_int err;
    cl_mem m = clg__create_buffer(ctx, bytes, &err);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "%s: clCreateBuffer(%zu bytes of scratch)", who, bytes);
    if (ctx->scratch[k])
        clReleaseMemObject(ctx->scratch[k]);
    ctx->scratch[k] = m;
    ctx->scratch_bytes[k] = bytes;
    return CLG_OK;
}

clg_status clg__scratch_mem(clg_ctx *ctx, size_t bytes, cl_mem *out, const char *who)
{
    if (ctx->scratch_top >= CLG_SCRATCH_SLOTS)
        return clg__fail(CLG_ERR_STATE, "%s: more than %d scratch buffers in one op call", who, CLG_SCRATCH_SLOTS);
    int k = ctx->scratch_top;
    clg_status st = grow(ctx, k, bytes ? bytes : 4, who);
    if (st)
        return st;
    ctx->scratch_top++;
    *out = ctx->scratch[k];
    return CLG_OK;
}

clg_status clg__scratch_tensor(clg_ctx *ctx, const clg_shape *s, clg_tensor *out, const char *who)
{
    cl_mem m = NULL;
    clg_status st = clg__scratch_mem(ctx, (size_t)clg_shape_numel(s) * 4, &m, who); /* f32 and i32 */
    if (st)
        return st;
    memset(out, 0, sizeof *out);
    out->ctx = ctx;
    out->s = *s;
    out->buf = m;
    out->owns = 0;
    return CLG_OK;
}

clg_status clg__scratch_reserve(clg_ctx *ctx, const size_t *bytes, int n)
{
    for (int k = 0; k < n && k < CLG_SCRATCH_SLOTS; k++) {
        clg_status st = grow(ctx, k, bytes[k], "graph plan");
        if (st)
            return st;
    }
    return CLG_OK;
}

void clg__scratch_release(clg_ctx *ctx)
{
    for (int k = 0; k < CLG_SCRATCH_SLOTS; k++) {
        if (ctx->scratch[k])
            clReleaseMemObject(ctx->scratch[k]);
        ctx->scratch[k] = NULL;
        ctx->scratch_bytes[k] = 0;
    }
}
