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
#include <stdio.h>

#include "clgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* the public API (the library builds with -fvisibility=hidden) */
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

/* Read an IDX file into *out (reset first; left empty on failure).  Only a regular file is read: a
 * FIFO, device or directory is CLG_ERR_IO at once (never a wait for a writer). */
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

/* ---- safetensors ----------------------------------------------------------
 *
 * The format of https://github.com/huggingface/safetensors: an 8-byte
 * little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
 *    ..., "__metadata__": {"key": "value", ...}}
 * (possibly padded with spaces), then the tensors' raw little-endian bytes;
 * offsets are relative to the end of the header.
 *
 * One struct describes a tensor both for writing and for reading.  Shapes
 * have 0..CLG_MAX_DIMS dimensions (0 = a scalar of one element); data is
 * row-major host memory of numel elements of 4 bytes.
 */
typedef struct clg_st_tensor {
    const char *name;
    clg_dtype dtype;                /* CLG_F32 or CLG_I32 */
    int ndim;
    int64_t shape[CLG_MAX_DIMS];
    const void *data;               /* host memory; may be NULL when numel is 0 */
} clg_st_tensor;

/* Write n tensors (in that order) to path.  meta_kv is NULL or a list of
 * key, value strings ended by a NULL key, stored in "__metadata__".  Names
 * must be unique, non-empty and not "__metadata__"; keys must be unique.
 * The header is padded with spaces so that the data starts 8-byte aligned.
 * Written to a temp file in the same folder, then renamed over path. */
clg_status clg_safetensors_write(const char *path, const clg_st_tensor *tensors, int n,
                                 const char *const *meta_kv);

/* An opened safetensors file, read entirely into memory. */
typedef struct clg_st_file clg_st_file;

/* Read and validate a whole file (a regular file: a FIFO or directory is CLG_ERR_IO at once, since
 * the size is checked first).  The header is parsed strictly as JSON (any
 * valid JSON is understood; malformed JSON, a key repeated in any object,
 * invalid UTF-8, a NUL character in a string, integers beyond int64 and more
 * than 64 levels of nesting are rejected): a truncated file, a header length
 * past the end of the file, a missing or ill-typed field, an unknown dtype,
 * duplicate names, offsets out of range, overlapping or leaving holes, or a
 * byte count that does not match dtype x shape are all CLG_ERR_FORMAT, with
 * the file name and the offending tensor (or the JSON line and column) in
 * the message.
 *
 * Element types: F32 and I32 are used as they are; F64, F16 and BF16 are
 * converted to F32 and I64, I16, I8, U8, U16, U32, U64 and BOOL to I32 when
 * opened (an integer that does not fit is CLG_ERR_UNSUPPORTED).  Tensors of
 * other valid types (F8_*) and tensors of more than CLG_MAX_DIMS dimensions
 * do not stop the file from opening; clg_safetensors_get reports them as
 * CLG_ERR_UNSUPPORTED. */
clg_status clg_safetensors_open(const char *path, clg_st_file **out);

/* Number of tensors (metadata excluded); 0 for NULL. */
int clg_safetensors_count(const clg_st_file *f);

/* A view of tensor `index` (in data-offset order, which is the order the
 * writer was given).  name and data point into f and stay valid until
 * clg_safetensors_close(f).  Data is 4-byte aligned. */
clg_status clg_safetensors_get(const clg_st_file *f, int index, clg_st_tensor *out);

/* The same, by name; a missing name is CLG_ERR_INVALID_ARG naming it and the file. */
clg_status clg_safetensors_find(const clg_st_file *f, const char *name, clg_st_tensor *out);

/* The metadata value of key, or NULL when absent.  Valid until close. */
const char *clg_safetensors_meta(const clg_st_file *f, const char *key);

/* Release everything; NULL is fine. */
void clg_safetensors_close(clg_st_file *f);

/* ---- PNG -------------------------------------------------------------------
 *
 * Write an 8-bit image: pixels is height rows of width * channels bytes,
 * top row first; channels is 1 (gray), 2 (gray + alpha), 3 (RGB) or
 * 4 (RGBA).  width and height are 1..1000000.  Written through libpng (its
 * warnings are dropped, its errors become CLG_ERR_IO naming the file) to a
 * temp file that is renamed over path. */
clg_status clg_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels);

/* ---- reading a file ------------------------------------------------------------
 *
 * Open path to read ("rb") if it is a regular file; the open never blocks, so a
 * FIFO (or a folder, a device) is CLG_ERR_IO at once, naming `what` and the
 * kind of file.  Every reader of clgrad opens files this way. */
clg_status clg_file_open_read(const char *path, const char *what, FILE **out);

/* ---- atomic file writes -------------------------------------------------------
 *
 * The one way clgrad writes a file, for callers too: the bytes go to a temp file
 * "<path>.tmp-<pid>-<n>" in the destination's folder; commit checks every write,
 * flushes, fsyncs, closes and renames it over path (then syncs the folder), so a
 * reader sees the old file or the complete new one, never a mix; on any failure,
 * and on abort, the temp file is removed and path is untouched.  A process that
 * wants the same on SIGINT/SIGTERM lets the signal set a flag and aborts or
 * commits from its normal flow (the clgrad tool does). */
typedef struct clg_file_writer clg_file_writer;

/* Create the temp file for path (CLG_ERR_IO naming path when the folder is not writable). */
clg_status clg_file_writer_open(const char *path, clg_file_writer **out);
/* The temp file's stream: write with fwrite/fprintf; errors are caught at commit (ferror). */
FILE *clg_file_writer_stream(clg_file_writer *w);
/* Finish as above; frees w whatever the result. */
clg_status clg_file_writer_commit(clg_file_writer *w);
/* Remove the temp file and free w; NULL is fine. */
void clg_file_writer_abort(clg_file_writer *w);
/* Write n bytes as path in one call (open, write, commit). */
clg_status clg_file_write(const char *path, const void *data, size_t n);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
