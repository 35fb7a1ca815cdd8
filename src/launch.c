/* launch.c — setting kernel arguments and enqueuing launches with rounded-up global sizes. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

clg_status clg__set_args(cl_kernel k, const char *kname, const clg_karg *args, int nargs)
{
    for (int i = 0; i < nargs; i++) {
        cl_int err;
        switch (args[i].kind) {
        case CLG_KARG_MEM: err = clSetKernelArg(k, (cl_uint)i, sizeof(cl_mem), &args[i].v.mem); break;
        case CLG_KARG_INT: err = clSetKernelArg(k, (cl_uint)i, sizeof(cl_int), &args[i].v.i); break;
        case CLG_KARG_UINT: err = clSetKernelArg(k, (cl_uint)i, sizeof(cl_uint), &args[i].v.u); break;
        case CLG_KARG_FLOAT: err = clSetKernelArg(k, (cl_uint)i, sizeof(cl_float), &args[i].v.f); break;
        case CLG_KARG_LOCAL: err = clSetKernelArg(k, (cl_uint)i, args[i].v.local_bytes, NULL); break;
        default: err = CL_INVALID_ARG_VALUE; break;
        }
        if (err != CL_SUCCESS)
            return clg__cl_fail(err, "clSetKernelArg(%s, arg %d)", kname, i);
    }
    return CLG_OK;
}

clg_status clg__enqueue(clg_ctx *ctx, cl_kernel k, const char *kname, cl_uint dims,
                        const size_t *gsize, const size_t *lsize)
{
    size_t g[3] = { 1, 1, 1 };
    for (cl_uint d = 0; d < dims; d++) {
        if (gsize[d] == 0)
            return CLG_OK; /* nothing to do */
        g[d] = gsize[d];
        if (lsize && lsize[d])
            g[d] = (g[d] + lsize[d] - 1) / lsize[d] * lsize[d];
    }
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, k, dims, NULL, g, lsize, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        /* the sizes asked for, and what the device allows, for resource errors */
        size_t kwg = 0;
        cl_ulong klocal = 0;
        clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL);
        clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof klocal, &klocal, NULL);
        size_t lprod = 1;
        for (cl_uint d = 0; d < dims; d++)
            lprod *= lsize && lsize[d] ? lsize[d] : 1;
        return clg__cl_fail(err,
                            "clEnqueueNDRangeKernel(%s: %u-D, global %zu x %zu x %zu, local %s%zu items; kernel "
                            "allows %zu items and uses %llu bytes of local memory, %s has %llu)",
                            kname, dims, g[0], dims > 1 ? g[1] : 1, dims > 2 ? g[2] : 1, lsize ? "" : "driver's choice, ",
                            lprod, kwg, (unsigned long long)klocal, ctx->info.name,
                            (unsigned long long)ctx->info.local_mem);
    }
    ctx->launches++;
    return CLG_OK;
}

/* Fetch kernel kid, set its arguments and enqueue it. */
static clg_status launch(clg_ctx *ctx, clg_kid kid, cl_uint dims, const size_t *gsize, const size_t *lsize,
                         const clg_karg *args, int nargs)
{
    cl_kernel k;
    clg_status st = clg__kernel_id(ctx, kid, &k);
    if (st || (st = clg__set_args(k, clg__kname(kid), args, nargs)))
        return st;
    return clg__enqueue(ctx, k, clg__kname(kid), dims, gsize, lsize);
}

clg_status clg__launch1d(clg_ctx *ctx, clg_kid kid, size_t n, const clg_karg *args, int nargs)
{
    if (n == 0)
        return CLG_OK;
    size_t l = ctx->wg_default;
    return launch(ctx, kid, 1, &n, &l, args, nargs);
}

clg_status clg__launch2d(clg_ctx *ctx, clg_kid kid, const size_t gsize[2], const size_t *lsize,
                         const clg_karg *args, int nargs)
{
    if (gsize[0] == 0 || gsize[1] == 0)
        return CLG_OK;
    return launch(ctx, kid, 2, gsize, lsize, args, nargs);
}

clg_status clg__launch_groups_of_one(clg_ctx *ctx, clg_kid kid, size_t n, const clg_karg *args, int nargs)
{
    if (n == 0)
        return CLG_OK;
    size_t one = 1;
    return launch(ctx, kid, 1, &n, &one, args, nargs);
}
