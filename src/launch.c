/* launch.c — setting kernel arguments and enqueuing launches with rounded-up global sizes, or
 * recording them (clg_graph_describe_step), and keeping their events for the graph's profiler. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

clg_status clg__set_args(clg_ctx *ctx, cl_kernel k, const char *kname, const clg_karg *args, int nargs)
{
    if (ctx->recording) {
        /* kept for clg__enqueue's record; more arguments than a record holds: not recorded */
        ctx->rec_nargs = nargs <= CLG_LAUNCH_MAX_ARGS ? nargs : -1;
        if (nargs <= CLG_LAUNCH_MAX_ARGS)
            memcpy(ctx->rec_args, args, (size_t)nargs * sizeof *args);
    }
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

void clg__rec_clear(clg_ctx *ctx)
{
    for (int i = 0; i < ctx->nrec; i++)
        clReleaseKernel(ctx->rec[i].k);
    free(ctx->rec);
    ctx->rec = NULL;
    ctx->nrec = ctx->caprec = 0;
}

/* Store a launch while recording: the first of each kernel and work-group size (a driver compiles
 * one machine code per pair), with the arguments clg__set_args kept. */
static clg_status record(clg_ctx *ctx, cl_kernel k, cl_uint dims, const size_t g[3], const size_t *lsize)
{
    size_t l[3] = { 0, 0, 0 };
    for (cl_uint d = 0; d < dims && lsize; d++)
        l[d] = lsize[d];
    if (ctx->rec_nargs < 0)
        return CLG_OK;
    for (int i = 0; i < ctx->nrec; i++)
        if (ctx->rec[i].k == k && ctx->rec[i].dims == dims && !memcmp(ctx->rec[i].l, l, sizeof l))
            return CLG_OK;
    clg__launch_rec *grown = clg__grow(ctx->rec, ctx->nrec, &ctx->caprec, sizeof *grown, 16);
    if (!grown)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "recording launches: out of host memory");
    ctx->rec = grown;
    clg__launch_rec *r = &ctx->rec[ctx->nrec++];
    memset(r, 0, sizeof *r);
    clRetainKernel(k);
    r->k = k;
    r->dims = dims;
    memcpy(r->g, g, sizeof r->g);
    memcpy(r->l, l, sizeof r->l);
    r->nargs = ctx->rec_nargs;
    memcpy(r->args, ctx->rec_args, (size_t)r->nargs * sizeof *r->args);
    return CLG_OK;
}

cl_event *clg__prof_slot(clg_ctx *ctx, clg_status *st)
{
    *st = CLG_OK;
    if (!ctx->prof_collect)
        return NULL;
    clg__prof_ev *grown = clg__grow(ctx->prof_ev, ctx->n_prof_ev, &ctx->cap_prof_ev, sizeof *grown, 64);
    if (!grown) {
        *st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "profiling launches: out of host memory");
        return NULL;
    }
    ctx->prof_ev = grown;
    ctx->prof_ev[ctx->n_prof_ev].ev = NULL;
    return &ctx->prof_ev[ctx->n_prof_ev].ev;
}

void clg__prof_keep(clg_ctx *ctx)
{
    if (ctx->prof_collect && ctx->prof_ev[ctx->n_prof_ev].ev)
        ctx->prof_ev[ctx->n_prof_ev++].tag = ctx->prof_tag;
}

clg_status clg__prof_times(cl_event ev, double *start_ms, double *end_ms, const char *who)
{
    cl_ulong t0 = 0, t1 = 0;
    cl_int err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "%s: clGetEventProfilingInfo(CL_PROFILING_COMMAND_START)", who);
    if ((err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL)) != CL_SUCCESS)
        return clg__cl_fail(err, "%s: clGetEventProfilingInfo(CL_PROFILING_COMMAND_END)", who);
    *start_ms = (double)t0 * 1e-6;
    *end_ms = (double)t1 * 1e-6;
    return CLG_OK;
}

void clg__prof_clear(clg_ctx *ctx)
{
    for (int i = 0; i < ctx->n_prof_ev; i++)
        clReleaseEvent(ctx->prof_ev[i].ev);
    ctx->n_prof_ev = 0;
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
    if (ctx->recording)
        return record(ctx, k, dims, g, lsize);
    clg_status st;
    cl_event *ev = clg__prof_slot(ctx, &st);
    if (st)
        return st;
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, k, dims, NULL, g, lsize, 0, NULL, ev);
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
    clg__prof_keep(ctx);
    ctx->launches++;
    return CLG_OK;
}

/* Fetch kernel kid, set its arguments and enqueue it. */
static clg_status launch(clg_ctx *ctx, clg_kid kid, cl_uint dims, const size_t *gsize, const size_t *lsize,
                         const clg_karg *args, int nargs)
{
    cl_kernel k;
    clg_status st = clg__kernel_id(ctx, kid, &k);
    if (st || (st = clg__set_args(ctx, k, clg__kname(kid), args, nargs)))
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
