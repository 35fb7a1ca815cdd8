/* io_internal.h — what the readers and writers of files share: opening a file to read without blocking on a
 * FIFO, and atomic file writes (temp file in the same folder, then rename), also used by the binary cache (program.c). */
#ifndef CLGRAD_IO_INTERNAL_H
#define CLGRAD_IO_INTERNAL_H

#include <stdio.h>
#include <sys/stat.h>

#include "clgrad/status.h"

/* Open path for reading as a regular file: the open never blocks (O_NONBLOCK, cleared once the file is
 * known to be regular), and a FIFO, socket, device or directory is CLG_ERR_IO "<what> '<path>' is not a
 * regular file (a FIFO)".  Readers that seek, know the size or read the file more than once use it.
 * *fd_out: an O_CLOEXEC descriptor; sb (may be NULL) gets its fstat. */
clg_status clg__open_regular(const char *path, const char *what, int *fd_out, struct stat *sb);
/* As a FILE * opened "rb": clg_file_open_read (public, clgrad/io.h). */

/* Read up to n bytes of fd from offset `at` into buf (pread, retried after EINTR, the file offset
 * left alone); returns how many arrived: fewer than n at the end of the file or on an error. */
size_t clg__read_at(int fd, void *buf, size_t n, off_t at);

typedef struct clg__afile {
    FILE *f;            /* write here */
    const char *path;   /* final name */
    char tmp[4200];     /* temp name: "<path>.tmp-<pid>-<n>" */
} clg__afile;

/* Create the temp file next to path. */
clg_status clg__afile_open(clg__afile *af, const char *path);
/* Write n bytes (CLG_ERR_IO naming the final path on failure). */
clg_status clg__afile_write(clg__afile *af, const void *data, size_t n);
/* Flush, sync, close and rename over path; on failure the temp file is removed. */
clg_status clg__afile_commit(clg__afile *af);
/* Close and remove the temp file (after a failure); safe to call twice. */
void clg__afile_abort(clg__afile *af);

/* How this thread's last clg_idx_read decoded its file: 1 in one libdeflate call (io_idx.c's
 * gz_whole), 0 through zlib's stream (or before reading) — for the tests. */
extern _Thread_local int clg__idx_last_whole;

#endif
