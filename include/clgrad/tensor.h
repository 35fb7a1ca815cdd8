/* clgrad/tensor.h — device tensors: a buffer, an element offset and a row-major shape.
 *
 * A tensor is always contiguous and row-major, up to CLG_MAX_DIMS dimensions
 * (ndim 0 is a scalar of one element).  Elements are f32 or i32.  A tensor
 * either owns its cl_mem or is a view (clg_tensor_view) into another tensor's
 * buffer at an element offset — views use offsets, never OpenCL sub-buffers,
 * whose alignment rules differ between vendors.  Zero-sized tensors are legal
 * (no buffer is allocated for them; ops on them do nothing).
 */
#ifndef CLGRAD_TENSOR_H
#define CLGRAD_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "clgrad/status.h"
#include "clgrad/device.h"

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* the public API (the library builds with -fvisibility=hidden) */
#endif

#define CLG_MAX_DIMS 4

typedef enum clg_dtype { CLG_F32 = 0, CLG_I32 = 1 } clg_dtype;

/* Element type and shape, without storage (used by shape inference). */
typedef struct clg_shape {
    clg_dtype dtype;
    int ndim;
    int64_t dim[CLG_MAX_DIMS];
} clg_shape;

typedef struct clg_tensor {
    clg_shape s;
    void *buf;          /* cl_mem; NULL for zero-sized tensors */
    size_t offset;      /* in elements */
    clg_ctx *ctx;
    int owns;           /* 1 if clg_tensor_free releases buf */
} clg_tensor;

/* Build a shape: clg_shape_make(CLG_F32, 2, (int64_t[]){128, 784}). */
clg_shape clg_shape_make(clg_dtype dt, int ndim, const int64_t *dims);
int64_t clg_shape_numel(const clg_shape *s);
int clg_shape_equal(const clg_shape *a, const clg_shape *b);
/* Format like "f32[128,784]" into buf; returns buf. */
char *clg_shape_str(const clg_shape *s, char *buf, size_t size);
const char *clg_dtype_name(clg_dtype dt);

/* Allocate an uninitialised device tensor. */
clg_status clg_tensor_new(clg_ctx *ctx, const clg_shape *s, clg_tensor *out);
/* Allocate and fill with zeros. */
clg_status clg_tensor_zeros(clg_ctx *ctx, const clg_shape *s, clg_tensor *out);
/* Release (no-op for views and zero tensors); resets *t. */
void clg_tensor_free(clg_tensor *t);
/* A view of `base` starting at element `offset` (relative to base) with shape s. */
clg_status clg_tensor_view(const clg_tensor *base, size_t offset, const clg_shape *s, clg_tensor *out);

size_t clg_tensor_bytes(const clg_tensor *t);

/* Blocking host <-> device copies of the whole tensor (numel * 4 bytes). */
clg_status clg_tensor_write(clg_tensor *t, const void *host);
clg_status clg_tensor_read(const clg_tensor *t, void *host);
/* Non-blocking upload; host memory must stay valid until the queue passes it. */
clg_status clg_tensor_write_async(clg_tensor *t, const void *host);
/* Queue a device-side copy of src's elements into dst: the same element type and count (the
 * shapes may differ, as in a reshape), one context, and, within one buffer, ranges that do not
 * overlap (CLG_ERR_INVALID_ARG; dst == src is a no-op).  Runs as the driver's buffer copy, so no
 * kernel is built for it. */
clg_status clg_tensor_copy(clg_tensor *dst, const clg_tensor *src);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
