/* status.c — status names, the thread-local error message, and the log callback. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define CLG_MSG_SIZE 16384

static _Thread_local char tl_msg[CLG_MSG_SIZE];
static _Thread_local int tl_raw;

static clg_log_fn g_log_fn;
static void *g_log_user;

const char *clg_status_name(clg_status s)
{
    switch (s) {
    case CLG_OK: return "CLG_OK";
    case CLG_ERR_INVALID_ARG: return "CLG_ERR_INVALID_ARG";
    case CLG_ERR_SHAPE: return "CLG_ERR_SHAPE";
    case CLG_ERR_DTYPE: return "CLG_ERR_DTYPE";
    case CLG_ERR_INDEX: return "CLG_ERR_INDEX";
    case CLG_ERR_NO_DEVICE: return "CLG_ERR_NO_DEVICE";
    case CLG_ERR_DEVICE_NOT_FOUND: return "CLG_ERR_DEVICE_NOT_FOUND";
    case CLG_ERR_OPENCL: return "CLG_ERR_OPENCL";
    case CLG_ERR_BUILD: return "CLG_ERR_BUILD";
    case CLG_ERR_OUT_OF_MEMORY: return "CLG_ERR_OUT_OF_MEMORY";
    case CLG_ERR_IO: return "CLG_ERR_IO";
    case CLG_ERR_FORMAT: return "CLG_ERR_FORMAT";
    case CLG_ERR_UNSUPPORTED: return "CLG_ERR_UNSUPPORTED";
    case CLG_ERR_CLBLAST: return "CLG_ERR_CLBLAST";
    case CLG_ERR_NUMERIC: return "CLG_ERR_NUMERIC";
    case CLG_ERR_STATE: return "CLG_ERR_STATE";
    case CLG_ERR_DIST: return "CLG_ERR_DIST";
    }
    return "CLG_ERR_UNKNOWN";
}

const char *clg_last_error(void) { return tl_msg; }
int clg_last_raw_code(void) { return tl_raw; }
void clg__set_raw(int code) { tl_raw = code; }
void clg__clear_error(void) { tl_msg[0] = 0; tl_raw = 0; }

void clg_set_log_callback(clg_log_fn fn, void *user)
{
    g_log_fn = fn;
    g_log_user = user;
}

void clg__log(clg_log_level lvl, const char *fmt, ...)
{
    if (!g_log_fn)
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_log_fn(lvl, buf, g_log_user);
}

clg_status clg__fail(clg_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
    va_end(ap);
    tl_raw = 0;
    clg__log(CLG_LOG_DEBUG, "%s: %s", clg_status_name(s), tl_msg);
    return s;
}

void clg__append(const char *fmt, ...)
{
    size_t used = strlen(tl_msg);
    if (used + 1 >= sizeof tl_msg)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_msg + used, sizeof tl_msg - used, fmt, ap);
    va_end(ap);
}

clg_status clg__cl_fail(cl_int err, const char *what, ...)
{
    va_list ap;
    va_start(ap, what);
    vsnprintf(tl_msg, sizeof tl_msg, what, ap);
    va_end(ap);
    clg__append(" failed: %s (%d)", clg_cl_error_name(err), (int)err);
    tl_raw = err;
    clg_status s = (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY ||
                    err == CL_INVALID_BUFFER_SIZE)
                       ? CLG_ERR_OUT_OF_MEMORY
                       : CLG_ERR_OPENCL;
    clg__log(CLG_LOG_DEBUG, "%s: %s", clg_status_name(s), tl_msg);
    return s;
}

const char *clg_cl_error_name(int e)
{
    switch (e) {
#define N(x) case x: return #x;
    N(CL_SUCCESS) N(CL_DEVICE_NOT_FOUND) N(CL_DEVICE_NOT_AVAILABLE) N(CL_COMPILER_NOT_AVAILABLE)
    N(CL_MEM_OBJECT_ALLOCATION_FAILURE) N(CL_OUT_OF_RESOURCES) N(CL_OUT_OF_HOST_MEMORY)
    N(CL_PROFILING_INFO_NOT_AVAILABLE) N(CL_MEM_COPY_OVERLAP) N(CL_IMAGE_FORMAT_MISMATCH)
    N(CL_IMAGE_FORMAT_NOT_SUPPORTED) N(CL_BUILD_PROGRAM_FAILURE) N(CL_MAP_FAILURE)
    N(CL_MISALIGNED_SUB_BUFFER_OFFSET) N(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    N(CL_COMPILE_PROGRAM_FAILURE) N(CL_LINKER_NOT_AVAILABLE) N(CL_LINK_PROGRAM_FAILURE)
    N(CL_DEVICE_PARTITION_FAILED) N(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    N(CL_INVALID_VALUE) N(CL_INVALID_DEVICE_TYPE) N(CL_INVALID_PLATFORM) N(CL_INVALID_DEVICE)
    N(CL_INVALID_CONTEXT) N(CL_INVALID_QUEUE_PROPERTIES) N(CL_INVALID_COMMAND_QUEUE)
    N(CL_INVALID_HOST_PTR) N(CL_INVALID_MEM_OBJECT) N(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    N(CL_INVALID_IMAGE_SIZE) N(CL_INVALID_SAMPLER) N(CL_INVALID_BINARY) N(CL_INVALID_BUILD_OPTIONS)
    N(CL_INVALID_PROGRAM) N(CL_INVALID_PROGRAM_EXECUTABLE) N(CL_INVALID_KERNEL_NAME)
    N(CL_INVALID_KERNEL_DEFINITION) N(CL_INVALID_KERNEL) N(CL_INVALID_ARG_INDEX)
    N(CL_INVALID_ARG_VALUE) N(CL_INVALID_ARG_SIZE) N(CL_INVALID_KERNEL_ARGS)
    N(CL_INVALID_WORK_DIMENSION) N(CL_INVALID_WORK_GROUP_SIZE) N(CL_INVALID_WORK_ITEM_SIZE)
    N(CL_INVALID_GLOBAL_OFFSET) N(CL_INVALID_EVENT_WAIT_LIST) N(CL_INVALID_EVENT)
    N(CL_INVALID_OPERATION) N(CL_INVALID_GL_OBJECT) N(CL_INVALID_BUFFER_SIZE)
    N(CL_INVALID_MIP_LEVEL) N(CL_INVALID_GLOBAL_WORK_SIZE) N(CL_INVALID_PROPERTY)
    N(CL_INVALID_IMAGE_DESCRIPTOR) N(CL_INVALID_COMPILER_OPTIONS) N(CL_INVALID_LINKER_OPTIONS)
    N(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef N
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "CL_UNKNOWN_ERROR";
    }
}
