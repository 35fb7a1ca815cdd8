/* helper.c — the compile helper: a second clgrad process that compiles kernels ahead on the other core.
 *
 * PoCL compiles each kernel's machine code at its first launch, one compile at a time per process
 * (a cold `clgrad train mlp` spent ~2.7 s so, one compile after another: tools/BENCHMARKS.md, #17's
 * fourth pass), and keeps what it compiled in its disk cache, where every process finds it.  So on
 * a PoCL device, when a training command opens its device (cli_open_device_loading; `bench` for its
 * first step), clgrad starts `clgrad __compile-helper P:D` (its own process group, so Ctrl-C stays
 * with the command), which
 *   1. builds the GEMM program (gemm.c's tiles program: the register-tiled kernels at every tile
 *      size, whatever the model) and compiles the kernels of a dense layer's backward products
 *      (clg_ctx_describe_gemm) while this process builds its op programs, then
 *   2. once this process has planned its training graph and its op programs came cold (their build
 *      took COLD_BUILD_S or more: PoCL had no cache entry), makes the step's launches
 *      (clg_graph_describe_step) last to first on zero-filled buffers, while this process makes them
 *      first to last: each compile either process finishes first is a cache hit for the other.
 * Lists go through temp files named on the helper's stdin (a socket: a helper gone is no signal
 * here); it answers one byte when a list's programs are built and one when it is done.  It ends
 * when this process closes its end (at exit, or when it dies), between two compiles.  A command
 * that ran a training step marks itself warm (below): its next run starts no helper.  Anything
 * going wrong leaves the command as it would be without a helper: it compiles itself.
 * CLGRAD_COMPILE_HELPER=0 turns it off, =always starts it and sends the step however warm the
 * caches (tests: the whole protocol without a cold compile); never under mpirun
 * (clg_dist_size() > 1).  The helper's stderr goes to CLGRAD_COMPILE_HELPER_LOG when set (a
 * driver's debug output: POCL_DEBUG=llvm). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

extern char **environ;

/* An op program build this long or longer was a compile, not a hit in PoCL's cache (~0.06 s). */
#define COLD_BUILD_S 0.25
/* The longest wait for the helper's GEMM program (it takes ~0.35 s more than its first build). */
#define MAX_WAIT_S 1.5

static int g_fd = -1;           /* our end of the helper's stdin; -1: no helper */
static pid_t g_pid;
static int g_exe_ok;            /* main() is clgrad's: /proc/self/exe runs the helper command */
static char g_files[4][64];     /* lists written for the helper (it removes each once read; any
                                 * left are removed at exit) */
static int g_nfiles;
static double g_op_build_s;     /* seconds the op programs' builds took (cli_helper_op_build) */
static int g_nsent, g_built, g_done; /* lists sent; of them, with programs built, finished */
static int g_always;            /* CLGRAD_COMPILE_HELPER=always: send the step even when warm */
static char g_tag[64];          /* the command ("train mlp"), for the warm mark */
static char g_mark[1024];       /* the warm mark's path ("": none) */

void cli_helper_allow(const char *tag)
{
    g_exe_ok = 1;
    snprintf(g_tag, sizeof g_tag, "%s", tag ? tag : "");
}

/* ---- the warm mark ---------------------------------------------------------------------------
 * Warm, the helper only costs (~0.1 s CPU beside the data's decompression, +0.1 s of a warm
 * `train mlp`).  So a command that has run a training step marks it warm: an empty file
 * <cache dir>/warm-<hash> of the command (g_tag), clgrad's version, the device and driver, and
 * where PoCL keeps its cache (POCL_CACHE_DIR, XDG_CACHE_HOME, HOME); with the mark the next run
 * starts no helper.  A stale mark (PoCL's cache emptied since, new kernels in the same version)
 * costs that run the helper's gain, and goes: its op programs build cold (>= COLD_BUILD_S). */
static int mark_path(const clg_device_info *dev, char *out, size_t size)
{
    char dir[900];
    if (getenv("CLGRAD_CL_DIR") && *getenv("CLGRAD_CL_DIR"))
        return 0; /* the kernels may change between runs */
    if (clg_cache_dir(dir, sizeof dir) || !dir[0])
        return 0;
    const char *parts[] = { g_tag, CLGRAD_VERSION_STRING, dev->platform_version, dev->name, dev->driver_version,
                            getenv("POCL_CACHE_DIR"), getenv("XDG_CACHE_HOME"), getenv("HOME") };
    uint64_t h = 14695981039346656037ull; /* FNV-1a 64 */
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        for (const char *c = parts[i] ? parts[i] : ""; ; c++) {
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
            if (!*c)
                break;
        }
    return snprintf(out, size, "%s/warm-%016llx", dir, (unsigned long long)h) < (int)size;
}

void cli_helper_mark_warm(void)
{
    static int done;
    if (done || !g_mark[0])
        return;
    done = 1;
    char dir[sizeof g_mark];
    snprintf(dir, sizeof dir, "%s", g_mark);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    (void)util_mkdir_p(dir);
    int fd = open(g_mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
}

void cli_helper_op_build(double seconds)
{
    g_op_build_s += seconds;
    if (g_op_build_s >= COLD_BUILD_S && g_mark[0])
        unlink(g_mark); /* stale: the next run starts the helper */
}

static void helper_atexit(void)
{
    if (g_fd >= 0)
        close(g_fd); /* the helper sees the end and stops */
    g_fd = -1;
    for (int i = 0; i < g_nfiles; i++)
        unlink(g_files[i]); /* one the helper never read */
    if (g_pid > 0)
        waitpid(g_pid, NULL, WNOHANG);
}

/* Write l to a temp file and name it on the helper's stdin. */
static void send_list(const clg_launch_list *l)
{
    if (g_fd < 0 || g_nfiles == (int)(sizeof g_files / sizeof g_files[0]))
        return;
    const char *tmp = getenv("TMPDIR");
    char path[64];
    if (snprintf(path, sizeof path, "%s/clgrad-helper-XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp") >=
        (int)sizeof path)
        return;
    int fd = mkstemp(path);
    if (fd < 0)
        return;
    close(fd);
    if (clg_launch_list_save(l, path)) {
        unlink(path);
        return;
    }
    snprintf(g_files[g_nfiles++], sizeof g_files[0], "%s", path);
    char line[80];
    int n = snprintf(line, sizeof line, "%s\n", path);
    if (send(g_fd, line, (size_t)n, MSG_NOSIGNAL) == n) {
        g_nsent++;
    } else {
        close(g_fd); /* the helper is gone: compile alone */
        g_fd = -1;
    }
}

void cli_helper_start(const clg_device_info *dev)
{
    static int tried;
    const char *e = getenv("CLGRAD_COMPILE_HELPER");
    g_always = e && !strcmp(e, "always");
    if (tried || !g_exe_ok || (e && !strcmp(e, "0")) || clg_dist_size() > 1 || !dev ||
        !strstr(dev->platform_name, "Portable Computing Language"))
        return;
    tried = 1;
    if (!mark_path(dev, g_mark, sizeof g_mark))
        g_mark[0] = 0;
    else if (!g_always && access(g_mark, F_OK) == 0)
        return; /* warm */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        return;
    char spec[32];
    snprintf(spec, sizeof spec, "%d:%d", dev->platform_index, dev->device_index);
    char *argv[] = { "clgrad", "__compile-helper", spec, NULL };
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int ok = !posix_spawn_file_actions_init(&fa);
    if (ok && !posix_spawnattr_init(&at)) {
        /* stdin the socket, stdout and stderr /dev/null, no other descriptor of ours (glibc 2.34+);
         * its own process group, SIGINT and SIGTERM unblocked (cli_signals_install blocks them here)
         * and at their default action */
        const char *log = getenv("CLGRAD_COMPILE_HELPER_LOG");
        sigset_t none, def;
        sigemptyset(&none);
        sigemptyset(&def);
        sigaddset(&def, SIGINT);
        sigaddset(&def, SIGTERM);
        ok = !posix_spawn_file_actions_adddup2(&fa, sv[1], 0) &&
             !posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) &&
             !posix_spawn_file_actions_addopen(&fa, 2, log && *log ? log : "/dev/null",
                                               O_WRONLY | O_CREAT | O_APPEND, 0644) &&
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
             !posix_spawn_file_actions_addclosefrom_np(&fa, 3) &&
#endif
             !posix_spawnattr_setpgroup(&at, 0) && !posix_spawnattr_setsigmask(&at, &none) &&
             !posix_spawnattr_setsigdefault(&at, &def) &&
             !posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) &&
             !posix_spawn(&g_pid, "/proc/self/exe", &fa, &at, argv, environ);
        posix_spawnattr_destroy(&at);
    } else {
        ok = 0;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    if (!ok) {
        close(sv[0]);
        g_pid = 0;
        return;
    }
    g_fd = sv[0];
    atexit(helper_atexit);
}

void cli_helper_send_gemm(clg_ctx *ctx)
{
    clg_launch_list l;
    if (g_fd < 0 || clg_ctx_describe_gemm(ctx, &l))
        return;
    if (l.nprograms)
        send_list(&l);
    clg_launch_list_free(&l);
}

/* Wait up to max_s until the helper has built the programs of every list sent so far (programs) or
 * finished them (!programs): per list it answers 'p' once their programs are built, then 'k'.  A
 * program it is compiling is then a cache hit here instead of a second compile of the same. */
static void wait_for(int programs, double max_s)
{
    double t_end = util_now() + max_s;
    while (g_fd >= 0 && (programs ? g_built : g_done) < g_nsent) {
        double left = t_end - util_now();
        struct pollfd p = { .fd = g_fd, .events = POLLIN };
        if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            return;
        char buf[16];
        ssize_t r = recv(g_fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r <= 0) {
            if (r < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            close(g_fd); /* gone */
            g_fd = -1;
            return;
        }
        for (ssize_t i = 0; i < r; i++) {
            g_built += buf[i] == 'p';
            g_done += buf[i] == 'k';
        }
    }
}

void cli_helper_wait(double max_s) { wait_for(0, max_s); }

void cli_helper_send_step(clg_graph *g)
{
    if (g_fd < 0)
        return;
    /* the GEMM program first: describing the step builds it */
    wait_for(1, MAX_WAIT_S);
    double t0 = util_now();
    clg_launch_list l;
    if (clg_graph_describe_step(g, &l))
        return;
    /* cold: the op programs were compiled (at open, or just now for the step's record) */
    if (g_always || g_op_build_s >= COLD_BUILD_S || util_now() - t0 >= COLD_BUILD_S)
        send_list(&l);
    clg_launch_list_free(&l);
}

/* ---- the helper process --------------------------------------------------------------------- */

/* A replay in progress: asked before each build, then before each launch. */
typedef struct replay_state {
    int nprograms, asked, told;
} replay_state;

/* Tell the command that the list's programs are built ('p', once). */
static void tell_built(replay_state *r)
{
    if (!r->told)
        (void)send(0, "p", 1, MSG_NOSIGNAL);
    r->told = 1;
}

/* Stop between compiles once the command closed its end (exit, or died); the first question after
 * the last build says the programs are built. */
static int parent_gone(void *user)
{
    replay_state *r = user;
    if (r && ++r->asked > r->nprograms)
        tell_built(r);
    struct pollfd p = { .fd = 0, .events = POLLIN };
    if (poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLHUP | POLLERR))
        return 1;
    char c;
    return recv(0, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

int cmd_compile_helper(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    signal(SIGINT, SIG_IGN); /* the command's own process group gets Ctrl-C; the end of stdin stops us */
    clg_device_info dev;
    clg_ctx *ctx = NULL;
    if (clg_device_select(argv[1], &dev) || clg_ctx_create(&dev, NULL, &ctx))
        return 1;
    char line[256];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(0, line + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (line[n] != '\n') {
            n += n + 1 < sizeof line;
            continue;
        }
        line[n] = 0;
        n = 0;
        clg_launch_list l;
        clg_status st = clg_launch_list_load(line, &l);
        unlink(line); /* ours to remove once read (the command removes it at exit otherwise) */
        replay_state rs = { st ? 0 : l.nprograms, 0, 0 };
        if (!st)
            (void)clg_launch_list_replay(ctx, &l, 1, parent_gone, &rs);
        clg_launch_list_free(&l);
        tell_built(&rs);
        (void)send(0, "k", 1, MSG_NOSIGNAL); /* done with it */
        if (parent_gone(NULL))
            break;
    }
    clg_ctx_destroy(ctx);
    return 0;
}
