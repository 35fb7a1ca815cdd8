/* fuzz_file.h — for harnesses of readers that take a path: the input written to a per-process temp file. */
#ifndef CLGRAD_FUZZ_FILE_H
#define CLGRAD_FUZZ_FILE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir_[512];

static void fuzz_cleanup_(void)
{
    char cmd[600];
    if (fuzz_dir_[0] && strlen(fuzz_dir_) > 8) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_);
        if (system(cmd) != 0)
            fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir_);
    }
}

/* A private folder (in /dev/shm when there is one: no disk writes per execution). */
static const char *fuzz_dir(void)
{
    if (!fuzz_dir_[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/clgrad-fuzz-XXXXXX", base);
        if (!mkdtemp(fuzz_dir_)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup_);
    }
    return fuzz_dir_;
}

/* Write data to <fuzz dir>/name (replacing it) and return the path (a static buffer per call site is not
 * needed: the caller uses it before the next call). */
static const char *fuzz_write(const char *name, const uint8_t *data, size_t n)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror("fuzz: open");
        abort();
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, data + done, n - done);
        if (w <= 0) {
            perror("fuzz: write");
            abort();
        }
        done += (size_t)w;
    }
    close(fd);
    return path;
}

#endif
