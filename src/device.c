/* device.c — platform/device enumeration, device selection, and the ctx lifecycle. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_PLATFORMS 16
#define MAX_DEVICES_PER_PLATFORM 16

const char *clg_device_type_name(clg_device_type t)
{
    switch (t) {
    case CLG_DEVICE_CPU: return "CPU";
    case CLG_DEVICE_GPU: return "GPU";
    case CLG_DEVICE_ACCELERATOR: return "ACCELERATOR";
    default: return "OTHER";
    }
}

static void get_str(cl_device_id d, cl_device_info what, char *buf, size_t size)
{
    buf[0] = 0;
    if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS) {
        /* too long (e.g. extensions): fetch whole and truncate */
        size_t need = 0;
        if (clGetDeviceInfo(d, what, 0, NULL, &need) == CL_SUCCESS && need > 0) {
            char *tmp = malloc(need);
            if (tmp && clGetDeviceInfo(d, what, need, tmp, NULL) == CL_SUCCESS) {
                snprintf(buf, size, "%s", tmp);
            }
            free(tmp);
        }
    }
    buf[size - 1] = 0;
}

/* A cl_uint / cl_ulong device property (0 when the query fails). */
static cl_uint dev_uint(cl_device_id d, cl_device_info what)
{
    cl_uint v = 0;
    clGetDeviceInfo(d, what, sizeof v, &v, NULL);
    return v;
}

static cl_ulong dev_ulong(cl_device_id d, cl_device_info what)
{
    cl_ulong v = 0;
    clGetDeviceInfo(d, what, sizeof v, &v, NULL);
    return v;
}

static void fill_info(cl_platform_id p, cl_device_id d, int pi, int di, clg_device_info *o)
{
    memset(o, 0, sizeof *o);
    o->platform_index = pi;
    o->device_index = di;
    o->platform_id = p;
    o->device_id = d;
    clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof o->platform_name, o->platform_name, NULL);
    clGetPlatformInfo(p, CL_PLATFORM_VERSION, sizeof o->platform_version, o->platform_version, NULL);
    o->platform_name[sizeof o->platform_name - 1] = 0;
    o->platform_version[sizeof o->platform_version - 1] = 0;
    get_str(d, CL_DEVICE_NAME, o->name, sizeof o->name);
    get_str(d, CL_DEVICE_VENDOR, o->vendor, sizeof o->vendor);
    get_str(d, CL_DRIVER_VERSION, o->driver_version, sizeof o->driver_version);
    get_str(d, CL_DEVICE_VERSION, o->device_version, sizeof o->device_version);
    get_str(d, CL_DEVICE_OPENCL_C_VERSION, o->opencl_c_version, sizeof o->opencl_c_version);
    get_str(d, CL_DEVICE_EXTENSIONS, o->extensions, sizeof o->extensions);
    /* trim trailing spaces (rusticl reports "OpenCL C 1.2 ") */
    for (size_t n = strlen(o->opencl_c_version); n > 0 && o->opencl_c_version[n - 1] == ' '; n--)
        o->opencl_c_version[n - 1] = 0;
    o->c_major = 1;
    o->c_minor = 0;
    sscanf(o->opencl_c_version, "OpenCL C %d.%d", &o->c_major, &o->c_minor);

    cl_device_type t = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
    o->type = (t & CL_DEVICE_TYPE_GPU)           ? CLG_DEVICE_GPU
              : (t & CL_DEVICE_TYPE_ACCELERATOR) ? CLG_DEVICE_ACCELERATOR
              : (t & CL_DEVICE_TYPE_CPU)         ? CLG_DEVICE_CPU
                                                 : CLG_DEVICE_OTHER;
    o->compute_units = dev_uint(d, CL_DEVICE_MAX_COMPUTE_UNITS);
    o->clock_mhz = dev_uint(d, CL_DEVICE_MAX_CLOCK_FREQUENCY);
    o->global_mem = dev_ulong(d, CL_DEVICE_GLOBAL_MEM_SIZE);
    o->local_mem = dev_ulong(d, CL_DEVICE_LOCAL_MEM_SIZE);
    o->max_alloc = dev_ulong(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
    o->float_width = dev_uint(d, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT);
    size_t wg = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    o->max_work_group = wg;
    o->fp16 = strstr(o->extensions, "cl_khr_fp16") != NULL;
    cl_device_fp_config fp = 0;
    clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp, &fp, NULL);
    o->fp64 = fp != 0 || strstr(o->extensions, "cl_khr_fp64") != NULL;
    fp = 0;
    clGetDeviceInfo(d, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
    o->fma = (fp & CL_FP_FMA) != 0;
}

clg_status clg_devices_list(clg_device_info **out, int *n)
{
    if (!out || !n)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_devices_list: NULL argument");
    *out = NULL;
    *n = 0;
    cl_platform_id plats[MAX_PLATFORMS];
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(MAX_PLATFORMS, plats, &np);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && np == 0))
        return clg__fail(CLG_ERR_NO_DEVICE,
                         "no OpenCL platform found: is an ICD installed? (e.g. apt-get install "
                         "pocl-opencl-icd; check /etc/OpenCL/vendors and OCL_ICD_VENDORS)");
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "clGetPlatformIDs");
    if (np > MAX_PLATFORMS)
        np = MAX_PLATFORMS;

    clg_device_info *list = calloc(MAX_PLATFORMS * MAX_DEVICES_PER_PLATFORM, sizeof *list);
    if (!list)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_devices_list: out of host memory");
    int count = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id devs[MAX_DEVICES_PER_PLATFORM];
        cl_uint nd = 0;
        err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES_PER_PLATFORM, devs, &nd);
        if (err != CL_SUCCESS || nd == 0)
            continue; /* empty platform (Mesa's Clover without devices): skip */
        if (nd > MAX_DEVICES_PER_PLATFORM)
            nd = MAX_DEVICES_PER_PLATFORM;
        for (cl_uint d = 0; d < nd; d++)
            fill_info(plats[p], devs[d], (int)p, (int)d, &list[count++]);
    }
    if (count == 0) {
        free(list);
        return clg__fail(CLG_ERR_NO_DEVICE,
                         "%u OpenCL platform(s) found but no device on any of them "
                         "(for Mesa's rusticl set RUSTICL_ENABLE=llvmpipe)", np);
    }
    *out = list;
    *n = count;
    return CLG_OK;
}

void clg_devices_free(clg_device_info *list) { free(list); }

static int icontains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return 1;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

clg_runtime clg__runtime_kind(const clg_device_info *d)
{
    if (strstr(d->platform_name, "rusticl"))
        return CLG_RT_RUSTICL;
    if (strstr(d->platform_name, "Portable Computing Language") || strstr(d->platform_name, "PoCL"))
        return CLG_RT_POCL;
    if (strstr(d->platform_name, "Oclgrind"))
        return CLG_RT_OCLGRIND;
    if (d->type != CLG_DEVICE_GPU)
        return CLG_RT_OTHER;
    if (icontains(d->vendor, "NVIDIA"))
        return CLG_RT_GPU_NVIDIA;
    if (icontains(d->vendor, "AMD") || icontains(d->vendor, "Advanced Micro Devices"))
        return CLG_RT_GPU_AMD;
    if (icontains(d->vendor, "Intel"))
        return CLG_RT_GPU_INTEL;
    return CLG_RT_GPU_OTHER;
}

/* Score for "auto": type class first, then a size estimate.  Among CPUs,
 * PoCL wins (rusticl's llvmpipe over-reports compute units and launches
 * are ~100x costlier). */
static double auto_score(const clg_device_info *d)
{
    double cls = d->type == CLG_DEVICE_GPU ? 3e18 : d->type == CLG_DEVICE_ACCELERATOR ? 2e18 : 1e18;
    if (d->type == CLG_DEVICE_CPU || d->type == CLG_DEVICE_OTHER)
        return cls + (clg__runtime_kind(d) == CLG_RT_POCL ? 1e17 : 0) + (double)d->compute_units;
    return cls + (double)d->compute_units * (double)(d->clock_mhz ? d->clock_mhz : 1) * 1e3 +
           (double)(d->global_mem >> 20);
}

static void list_devices_into_message(const clg_device_info *l, int n)
{
    clg__append("\navailable devices:");
    for (int i = 0; i < n; i++)
        clg__append("\n  %d:%d  %-4s %s (%s, %s)", l[i].platform_index, l[i].device_index,
                    clg_device_type_name(l[i].type), l[i].name, l[i].platform_name,
                    l[i].driver_version);
}

clg_status clg_device_select(const char *spec, clg_device_info *out)
{
    if (!out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_device_select: NULL out");
    if (!spec || !*spec) {
        spec = getenv("CLGRAD_DEVICE");
        if (!spec || !*spec)
            spec = "auto";
    }
    clg_device_info *l;
    int n;
    clg_status st = clg_devices_list(&l, &n);
    if (st)
        return st;
    int best = -1;
    int pi, di;
    char tail;
    if (!strcmp(spec, "auto") || !strcmp(spec, "cpu") || !strcmp(spec, "gpu") ||
        !strcmp(spec, "accelerator")) {
        clg_device_type want = !strcmp(spec, "cpu") ? CLG_DEVICE_CPU
                               : !strcmp(spec, "gpu") ? CLG_DEVICE_GPU
                               : !strcmp(spec, "accelerator") ? CLG_DEVICE_ACCELERATOR
                                                              : 0;
        for (int i = 0; i < n; i++) {
            if (want && l[i].type != want)
                continue;
            if (best < 0 || auto_score(&l[i]) > auto_score(&l[best]))
                best = i;
        }
    } else if (sscanf(spec, "%d:%d%c", &pi, &di, &tail) == 2) {
        for (int i = 0; i < n; i++)
            if (l[i].platform_index == pi && l[i].device_index == di)
                best = i;
    } else {
        for (int i = 0; i < n && best < 0; i++)
            if (icontains(l[i].name, spec))
                best = i;
        for (int i = 0; i < n && best < 0; i++)
            if (icontains(l[i].platform_name, spec) || icontains(l[i].vendor, spec))
                best = i;
    }
    if (best < 0) {
        clg__fail(CLG_ERR_DEVICE_NOT_FOUND,
                  "no OpenCL device matches '%s' (use auto, cpu, gpu, P:D or a name substring)",
                  spec);
        list_devices_into_message(l, n);
        clg_devices_free(l);
        return CLG_ERR_DEVICE_NOT_FOUND;
    }
    *out = l[best];
    clg_devices_free(l);
    return CLG_OK;
}

/* The kernel family for a user's choice v (DEFAULT: the environment's, else CPUs but rusticl). */
static int vec_kernels_for(const clg_ctx *c, clg_switch v)
{
    if (!v)
        v = c->env.vec_kernels;
    return v ? v == CLG_SWITCH_ON : c->info.type == CLG_DEVICE_CPU && c->runtime != CLG_RT_RUSTICL;
}

/* The policy knobs in force: the user's options over the environment's, then the device's defaults. */
static void decide_policy(clg_ctx *c, const clg_ctx_options *opts)
{
    const clg_device_info *d = &c->info;
    c->runtime = clg__runtime_kind(d);
    clg_switch fuse = opts && opts->fuse ? opts->fuse : c->env.fuse;
    c->vec_kernels = vec_kernels_for(c, opts ? opts->vec_kernels : CLG_SWITCH_DEFAULT);
    c->fuse = fuse != CLG_SWITCH_OFF;
    clg_switch fd = opts && opts->flush_denormals ? opts->flush_denormals : c->env.flush_denormals;
    c->flush_denormals = fd != CLG_SWITCH_OFF;
    clg__gemm_options_merge(opts ? &opts->gemm : NULL, &c->env.gemm, &c->gemm);
    /* rusticl/llvmpipe vectorises across work-items and runs a per-work-item register tile of
     * float16 vectors lane by lane (~30x slower than gemm_simple's scalar blocks), and
     * miscompiles gemm_block's k-block loop (gemm.c) */
    c->gemm_no_block = c->runtime == CLG_RT_RUSTICL;
    /* llvmpipe loads global memory lane by lane, ~9 cycles a float on 256 bits: gemm_simple's 8x8
     * blocks (16 loads per 64 multiply-adds) run its products faster than 4x4 there (gemm.c).
     * Not measured on 512-bit llvmpipe, which keeps 4x4. */
    const char *lp = c->runtime == CLG_RT_RUSTICL ? strstr(d->name, "llvmpipe") : NULL;
    c->simple_lanes = lp && strstr(lp, " 256 bits)") ? 8 : 0; /* "llvmpipe (LLVM 15.0.6, 256 bits)" */
    c->gemm_default_path = c->runtime == CLG_RT_RUSTICL  ? CLG_GEMM_PATH_SIMPLE
                           : d->type == CLG_DEVICE_CPU ? CLG_GEMM_PATH_TILED
                                                       : CLG_GEMM_PATH_CLBLAST;
    /* Oclgrind's --uninitialized check loses track of fills, copies and partial writes (tensor.c) */
    c->kernel_stores = (opts && opts->kernel_stores) || c->runtime == CLG_RT_OCLGRIND;
    c->host_map = d->type == CLG_DEVICE_CPU && !c->kernel_stores;
    c->wg_default = d->max_work_group >= 64 ? 64 : (d->max_work_group ? d->max_work_group : 1);
}

clg_status clg_ctx_create(const clg_device_info *dev, const clg_ctx_options *opts, clg_ctx **out)
{
    if (!dev || !out)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_ctx_create: NULL argument");
    *out = NULL;
    clg_ctx_options env;
    clg_cache_policy cache;
    clg_status est = clg__env_options(&env, &cache);
    if (est || (opts && (est = clg__gemm_options_check(&opts->gemm))))
        return est;
    clg_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_ctx_create: out of host memory");
    c->info = *dev;
    c->platform = (cl_platform_id)dev->platform_id;
    c->device = (cl_device_id)dev->device_id;
    c->profiling = opts ? opts->profiling : 0;
    c->cache_policy = cache;
    c->env = env;
    decide_policy(c, opts);
    clg_status st;
    /* the program builds' variables and the cache directory, read here too */
    if (clg_ctx_set_cache_dir(c, NULL) != CLG_OK)
        clg__clear_error(); /* no HOME: builds go uncached */
    const char *cl_dir = getenv("CLGRAD_CL_DIR"), *bopts = getenv("CLGRAD_BUILD_OPTIONS");
    if ((cl_dir && *cl_dir && !(c->cl_dir = strdup(cl_dir))) ||
        (bopts && *bopts && !(c->build_options = strdup(bopts)))) {
        st = clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_ctx_create: out of host memory");
        goto out_free;
    }
    cl_int err;
    cl_context_properties props[] = { CL_CONTEXT_PLATFORM, (cl_context_properties)c->platform, 0 };
    c->context = clCreateContext(props, 1, &c->device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        st = clg__cl_fail(err, "clCreateContext(%s)", dev->name);
        goto out_free;
    }
    c->queue = clCreateCommandQueue(c->context, c->device,
                                    c->profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
    if (err != CL_SUCCESS) {
        st = clg__cl_fail(err, "clCreateCommandQueue(%s)", dev->name);
        goto out_context;
    }
    c->errflags = clCreateBuffer(c->context, CL_MEM_READ_WRITE, CLG_ERRFLAG_WORDS * sizeof(cl_int),
                                 NULL, &err);
    if (err != CL_SUCCESS) {
        st = clg__cl_fail(err, "clCreateBuffer(error flags)");
        goto out_queue;
    }
    /* written, not filled: Oclgrind's uninitialized check sees writes, not clEnqueueFillBuffer */
    const cl_int zeros[CLG_ERRFLAG_WORDS] = { 0 };
    err = clEnqueueWriteBuffer(c->queue, c->errflags, CL_TRUE, 0, sizeof zeros, zeros, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        st = clg__cl_fail(err, "clEnqueueWriteBuffer(error flags)");
        goto out_flags;
    }
    *out = c;
    return CLG_OK;

out_flags:
    clReleaseMemObject(c->errflags);
out_queue:
    clReleaseCommandQueue(c->queue);
out_context:
    clReleaseContext(c->context);
out_free:
    free(c->cl_dir);
    free(c->build_options);
    free(c);
    return st;
}

void clg_ctx_destroy(clg_ctx *c)
{
    if (!c)
        return;
    if (c->queue)
        clFinish(c->queue);
    if (c->gemm_state && c->gemm_state_free)
        c->gemm_state_free(c->gemm_state);
    clg__scratch_release(c);
    clg__rec_clear(c);
    clg__prof_clear(c);
    free(c->prof_ev);
    for (int i = 0; i < CLG_K_COUNT; i++)
        if (c->kernels[i])
            clReleaseKernel(c->kernels[i]);
    for (int i = 0; i < CLG_PROG_COUNT; i++)
        if (c->programs[i])
            clReleaseProgram(c->programs[i]);
    if (c->errflags)
        clReleaseMemObject(c->errflags);
    if (c->queue)
        clReleaseCommandQueue(c->queue);
    if (c->context)
        clReleaseContext(c->context);
    free(c->cl_dir);
    free(c->build_options);
    free(c);
}

const clg_device_info *clg_ctx_device(const clg_ctx *ctx) { return ctx ? &ctx->info : NULL; }
void *clg_ctx_cl_context(clg_ctx *ctx) { return ctx ? ctx->context : NULL; }
void *clg_ctx_cl_queue(clg_ctx *ctx) { return ctx ? ctx->queue : NULL; }
uint64_t clg_ctx_launch_count(const clg_ctx *ctx) { return ctx ? ctx->launches : 0; }
uint64_t clg_ctx_buffer_count(const clg_ctx *ctx) { return ctx ? ctx->buffers_created : 0; }
clg_status clg_ctx_set_gemm_options(clg_ctx *ctx, const clg_gemm_options *gemm)
{
    if (!ctx)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_ctx_set_gemm_options: NULL ctx");
    clg_status st = gemm ? clg__gemm_options_check(gemm) : CLG_OK;
    if (!st)
        clg__gemm_options_merge(gemm, &ctx->env.gemm, &ctx->gemm);
    return st;
}

void clg_ctx_set_vec_kernels(clg_ctx *ctx, clg_switch vec_kernels)
{
    if (!ctx)
        return;
    ctx->vec_kernels = vec_kernels_for(ctx, vec_kernels);
}

clg_status clg_ctx_set_cache_dir(clg_ctx *ctx, const char *dir)
{
    if (!ctx)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_ctx_set_cache_dir: NULL ctx");
    char buf[sizeof ctx->cache_dir];
    if (!dir) {
        ctx->cache_dir[0] = 0;
        clg_status st = clg_cache_dir(buf, sizeof buf);
        if (st)
            return st;
        dir = buf;
    }
    if (strlen(dir) >= sizeof ctx->cache_dir)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_ctx_set_cache_dir: path longer than %zu bytes",
                         sizeof ctx->cache_dir - 1);
    snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", dir);
    return CLG_OK;
}

const char *clg_ctx_cache_dir(const clg_ctx *ctx) { return ctx ? ctx->cache_dir : ""; }

void clg_ctx_set_cache_policy(clg_ctx *ctx, clg_cache_policy p)
{
    if (ctx)
        ctx->cache_policy = p;
}

clg_status clg_ctx_finish(clg_ctx *ctx)
{
    if (!ctx)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_ctx_finish: NULL ctx");
    cl_int flags[CLG_ERRFLAG_WORDS];
    cl_int err = clEnqueueReadBuffer(ctx->queue, ctx->errflags, CL_TRUE, 0, sizeof flags, flags, 0,
                                     NULL, NULL);
    if (err != CL_SUCCESS)
        return clg__cl_fail(err, "clg_ctx_finish: reading the device error flags");
    if (flags[0] != 0) {
        const cl_int zeros[CLG_ERRFLAG_WORDS] = { 0 };
        clEnqueueWriteBuffer(ctx->queue, ctx->errflags, CL_TRUE, 0, sizeof zeros, zeros, 0, NULL, NULL);
        int op = flags[0] - 1;
        const char *name = (op >= 0 && op < CLG_OP_COUNT) ? clg_op_name((clg_op)op) : "kernel";
        return clg__fail(CLG_ERR_INDEX, "%s: index %d out of range [0, %d) (element skipped)", name,
                         (int)flags[1], (int)flags[2]);
    }
    return CLG_OK;
}
