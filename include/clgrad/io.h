/* clgrad/io.h — data and checkpoint files: MNIST-format IDX (gzip or plain), safetensors, PNG.
 *
 * Everything here works on host memory only; no OpenCL is involved.  Like the
 * rest of clgrad, these functions never print or abort: every failure returns
 * a clg_status and clg_last_error() names the file and what was wrong with it.
 *
 *   CLG_ERR_INVALID_ARG  a NULL pointer or an out-of-range argument
 *   CLG_ERR_IO           a file could not be opened, read, written or renamed
 *   CLG_ERR_FORMAT       a file's content is malformed, truncated or corrupt
 *   CLG_ERR_UNSUPPORTED  valid content this build cannot represent
 *   CLG_ERR_OUT_OF_MEMORY
 *
 * Writers are atomic: they write a temp file in the destination's folder and
 * rename it into place, so a reader never sees a half-written file and a
 * failed write leaves any previous file untouched.
 */
#ifndef CLGRAD_IO_H
#define CLGRAD_IO_H

#include <stddef.h>
#include <stdint.h>

#include "clgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- IDX (the MNIST file format) ----------------------------------------
 *
 * Big-endian header: two zero bytes, a dtype byte (only 0x08 = unsigned byte
 * is supported), a dimension count (1..4), then one 32-bit size per
 * dimension, then exactly prod(sizes) bytes.  Files may be gzip-compressed
 * (detected from the content, not the name).  A payload shorter or longer
 * than the header promises is CLG_ERR_FORMAT.
 */
typedef struct clg_idx {
    int ndim;
    int64_t dim[CLG_MAX_DIMS];
    uint8_t *data;      /* prod(dim) bytes, row-major; owned, free with clg_idx_free */
    size_t size;        /* prod(dim) */
} clg_idx;

/* Read an IDX file into *out (reset first; left empty on failure). */
clg_status clg_idx_read(const char *path, clg_idx *out);
/* Release out->data and reset *out.  NULL and already-freed are fine. */
void clg_idx_free(clg_idx *idx);

/* Load an MNIST-layout split from dir: "<split>-images-idx3-ubyte" and
 * "<split>-labels-idx1-ubyte", each either plain or with a ".gz" suffix (the
 * plain file is preferred when both exist).  split is usually "train" or
 * "t10k".  On success:
 *   *images  malloc'ed float[n * rows * cols], pixel / 255 (so in [0, 1])
 *   *labels  malloc'ed int32_t[n], each in 0..9
 * and the caller frees both with free().  Image and label counts must match
 * and every label must be < 10 (the message names the first bad label, its
 * index and the file).  A missing file is CLG_ERR_IO naming the path tried.
 * On failure the outputs are set to NULL / 0. */
clg_status clg_mnist_load(const char *dir, const char *split, float **images, int32_t **labels,
                          int *n, int *rows, int *cols);

#ifdef __cplusplus
}
#endif
#endif
