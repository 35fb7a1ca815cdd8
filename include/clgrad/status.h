/* clgrad/status.h — status codes, error messages and the optional log callback.
 *
 * Every public clgrad function returns a clg_status.  On failure the library
 * also records a human-readable message (which call failed, the OpenCL error
 * name and code, the shapes that did not match, the compiler's build log)
 * in thread-local storage: read it with clg_last_error() right after the call,
 * the way one reads errno or dlerror().  The raw OpenCL or CLBlast code of the
 * last failure is kept too (clg_last_raw_code()).
 *
 * The library never aborts, exits or prints.  Diagnostics go to a log
 * callback, and only when one is installed.
 */
#ifndef CLGRAD_STATUS_H
#define CLGRAD_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* the public API (the library builds with -fvisibility=hidden) */
#endif

typedef enum clg_status {
    CLG_OK = 0,
    CLG_ERR_INVALID_ARG = 1,  /* a NULL pointer, a bad option value */
    CLG_ERR_SHAPE = 2,        /* shapes that do not fit the op */
    CLG_ERR_DTYPE = 3,        /* f32 where i32 was needed, or the reverse */
    CLG_ERR_INDEX = 4,        /* an index or label out of range (found on the device) */
    CLG_ERR_NO_DEVICE = 5,    /* no OpenCL platform or device at all */
    CLG_ERR_DEVICE_NOT_FOUND = 6, /* a --device spec that matches nothing */
    CLG_ERR_OPENCL = 7,       /* an OpenCL call failed; raw code in clg_last_raw_code() */
    CLG_ERR_BUILD = 8,        /* a kernel program failed to compile; message has the log */
    CLG_ERR_OUT_OF_MEMORY = 9,/* host or device allocation failed */
    CLG_ERR_IO = 10,          /* a file could not be read or written */
    CLG_ERR_FORMAT = 11,      /* a file's content is malformed, truncated or corrupt */
    CLG_ERR_UNSUPPORTED = 12, /* the device or build lacks what this needs */
    CLG_ERR_CLBLAST = 13,     /* CLBlast returned an error; raw code kept */
    CLG_ERR_NUMERIC = 14,     /* NaN/Inf where a finite value was required */
    CLG_ERR_STATE = 15,       /* call made in the wrong state (e.g. graph not planned) */
    CLG_ERR_DIST = 16         /* an MPI call failed (clgrad/dist.h); raw MPI error code kept */
} clg_status;

/* Short constant name of a status, e.g. "CLG_ERR_SHAPE". Never NULL. */
const char *clg_status_name(clg_status s);

/* The detailed message of the last failure on this thread ("" if none).
 * The pointer stays valid until the next clgrad call on this thread. */
const char *clg_last_error(void);

/* The raw cl_int (or CLBlast status) behind the last CLG_ERR_OPENCL /
 * CLG_ERR_CLBLAST / CLG_ERR_BUILD on this thread, 0 otherwise. */
int clg_last_raw_code(void);

/* Name of an OpenCL error code, e.g. "CL_OUT_OF_RESOURCES". Never NULL. */
const char *clg_cl_error_name(int cl_code);

typedef enum clg_log_level {
    CLG_LOG_DEBUG = 0, CLG_LOG_INFO = 1, CLG_LOG_WARN = 2, CLG_LOG_ERROR = 3
} clg_log_level;

typedef void (*clg_log_fn)(clg_log_level level, const char *msg, void *user);

/* Install (or with fn == NULL remove) the process-wide log callback. */
void clg_set_log_callback(clg_log_fn fn, void *user);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
