/* io_file.c — atomic file writes for the io writers: a temp file in the destination's folder, then rename. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "io_internal.h"

static atomic_uint g_tmp_counter;

clg_status clg__afile_open(clg__afile *af, const char *path)
{
    memset(af, 0, sizeof *af);
    if (!path || !*path)
        return clg__fail(CLG_ERR_INVALID_ARG, "empty output path");
    af->path = path;
    for (int tries = 0; tries < 100; tries++) {
        unsigned k = atomic_fetch_add(&g_tmp_counter, 1);
        int len = snprintf(af->tmp, sizeof af->tmp, "%s.tmp-%ld-%u", path, (long)getpid(), k);
        if (len < 0 || (size_t)len >= sizeof af->tmp)
            return clg__fail(CLG_ERR_INVALID_ARG, "output path too long: %s", path);
        int fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0) {
            if (errno == EEXIST)
                continue;
            int e = errno;
            af->tmp[0] = 0;
            return clg__fail(CLG_ERR_IO, "cannot create a temp file for %s: %s", path, strerror(e));
        }
        af->f = fdopen(fd, "wb");
        if (!af->f) {
            int e = errno;
            close(fd);
            unlink(af->tmp);
            af->tmp[0] = 0;
            return clg__fail(CLG_ERR_IO, "cannot open a temp file for %s: %s", path, strerror(e));
        }
        return CLG_OK;
    }
    af->tmp[0] = 0;
    return clg__fail(CLG_ERR_IO, "cannot create a temp file for %s: too many exist", path);
}

clg_status clg__afile_write(clg__afile *af, const void *data, size_t n)
{
    if (n && fwrite(data, 1, n, af->f) != n)
        return clg__fail(CLG_ERR_IO, "writing %s: %s", af->path, strerror(errno));
    return CLG_OK;
}

void clg__afile_abort(clg__afile *af)
{
    if (af->f)
        fclose(af->f);
    af->f = NULL;
    if (af->tmp[0])
        unlink(af->tmp);
    af->tmp[0] = 0;
}

clg_status clg__afile_commit(clg__afile *af)
{
    clg_status st = CLG_OK;
    if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0) {
        st = clg__fail(CLG_ERR_IO, "writing %s: %s", af->path, strerror(errno));
        goto fail;
    }
    int rc = fclose(af->f);
    af->f = NULL;
    if (rc != 0) {
        st = clg__fail(CLG_ERR_IO, "writing %s: %s", af->path, strerror(errno));
        goto fail;
    }
    if (rename(af->tmp, af->path) != 0) {
        st = clg__fail(CLG_ERR_IO, "cannot rename %s to %s: %s", af->tmp, af->path, strerror(errno));
        goto fail;
    }
    af->tmp[0] = 0;
    return CLG_OK;
fail:
    clg__afile_abort(af);
    return st;
}
