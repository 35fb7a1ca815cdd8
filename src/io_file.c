/* io_file.c — opening files to read (never blocking on a FIFO) and atomic writes, the one way clgrad writes
 * a file: a temp file in the destination's folder, checked writes, fsync, rename (then the folder synced);
 * the temp file is removed on any failure. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "io_internal.h"
#include "clgrad/io.h"

static atomic_uint g_tmp_counter;

static const char *kind_name(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISSOCK(m))
        return "a socket";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    return "not a plain file";
}

/* pread until n bytes or the end (io_internal.h). */
size_t clg__read_at(int fd, void *buf, size_t n, off_t at)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, at + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* open(O_NONBLOCK) then fstat: no open of a FIFO waits for a writer.  (Single-pass streaming readers of
 * pipes live in the tools: tools/clgrad/gcide.c.) */
clg_status clg__open_regular(const char *path, const char *what, int *fd_out, struct stat *sb_out)
{
    *fd_out = -1;
    if (!path || !*path)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: empty path", what);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return clg__fail(errno == ENOMEM ? CLG_ERR_OUT_OF_MEMORY : CLG_ERR_IO, "cannot open %s '%s': %s", what, path,
                         strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return clg__fail(CLG_ERR_IO, "cannot stat %s '%s': %s", what, path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return clg__fail(CLG_ERR_IO, "%s '%s' is not a regular file (%s)", what, path, kind_name(sb.st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return clg__fail(CLG_ERR_IO, "cannot read %s '%s': %s", what, path, strerror(e));
    }
    if (sb_out)
        *sb_out = sb;
    *fd_out = fd;
    return CLG_OK;
}

clg_status clg_file_open_read(const char *path, const char *what, FILE **out)
{
    if (!out)
        return clg__fail(CLG_ERR_INVALID_ARG, "%s: NULL argument", what ? what : "file");
    *out = NULL;
    int fd;
    clg_status st = clg__open_regular(path, what, &fd, NULL);
    if (st)
        return st;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        return clg__fail(e == ENOMEM ? CLG_ERR_OUT_OF_MEMORY : CLG_ERR_IO, "cannot open %s '%s': %s", what, path, strerror(e));
    }
    *out = f;
    return CLG_OK;
}

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

/* Make the rename itself durable: sync the folder that holds path (best effort: some file
 * systems refuse fsync on a folder, which loses nothing already written). */
static void sync_parent(const char *path)
{
    char buf[4200];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

clg_status clg__afile_commit(clg__afile *af)
{
    clg_status st = CLG_OK;
    if (!af->f)
        return clg__fail(CLG_ERR_INVALID_ARG, "writing %s: the file was not opened", af->path ? af->path : "?");
    /* ferror: a formatted write (fprintf) through the stream failed earlier, e.g. a full disk */
    if (ferror(af->f)) {
        st = clg__fail(CLG_ERR_IO, "writing %s: a write failed (disk full?)", af->path);
        goto fail;
    }
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
    sync_parent(af->path);
    return CLG_OK;
fail:
    clg__afile_abort(af);
    return st;
}

/* ---- the public face: clg_file_writer ------------------------------------------------------ */

struct clg_file_writer {
    clg__afile af;
    char path[4096];
};

clg_status clg_file_writer_open(const char *path, clg_file_writer **out)
{
    if (!out)
        return clg__fail(CLG_ERR_INVALID_ARG, "file writer: NULL argument");
    *out = NULL;
    if (!path || !*path)
        return clg__fail(CLG_ERR_INVALID_ARG, "empty output path");
    if (strlen(path) >= sizeof((clg_file_writer *)0)->path)
        return clg__fail(CLG_ERR_INVALID_ARG, "output path too long: %.64s...", path);
    clg_file_writer *w = calloc(1, sizeof *w);
    if (!w)
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "file writer: out of host memory");
    snprintf(w->path, sizeof w->path, "%s", path);
    clg_status st = clg__afile_open(&w->af, w->path);
    if (st) {
        free(w);
        return st;
    }
    *out = w;
    return CLG_OK;
}

FILE *clg_file_writer_stream(clg_file_writer *w) { return w ? w->af.f : NULL; }

clg_status clg_file_writer_commit(clg_file_writer *w)
{
    if (!w)
        return clg__fail(CLG_ERR_INVALID_ARG, "file writer: NULL argument");
    clg_status st = clg__afile_commit(&w->af);
    free(w);
    return st;
}

void clg_file_writer_abort(clg_file_writer *w)
{
    if (!w)
        return;
    clg__afile_abort(&w->af);
    free(w);
}

clg_status clg_file_write(const char *path, const void *data, size_t n)
{
    clg_file_writer *w;
    clg_status st = clg_file_writer_open(path, &w);
    if (st)
        return st;
    if ((st = clg__afile_write(&w->af, data, n))) {
        clg_file_writer_abort(w);
        return st;
    }
    return clg_file_writer_commit(w);
}
