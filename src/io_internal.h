/* io_internal.h — atomic file writes (temp file in the same folder, then rename), shared by the io_*.c writers and the binary cache (program.c). */
#ifndef CLGRAD_IO_INTERNAL_H
#define CLGRAD_IO_INTERNAL_H

#include <stdio.h>

#include "clgrad/status.h"

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

#endif
