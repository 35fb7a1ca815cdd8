/* main.c — `clgrad` entry point: dispatch to the subcommands. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

int cli_fail(const char *what, clg_status st)
{
    if (clg_dist_size() > 1)
        fprintf(stderr, "clgrad (rank %d of %d): %s: %s (%s)\n", clg_dist_rank(), clg_dist_size(), what,
                clg_last_error(), clg_status_name(st));
    else
        fprintf(stderr, "clgrad: %s: %s (%s)\n", what, clg_last_error(), clg_status_name(st));
    return 1;
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    { "devices", cmd_devices, "list OpenCL devices (--json, --check)" },
    { "train", cmd_train, "train a model: mlp (classifier), mae (masked auto-encoder), simclr (contrastive), sgns (word vectors), clip (image/text)" },
    { "eval", cmd_eval, "evaluate a checkpoint on the test set" },
    { "adapt", cmd_adapt, "reuse a pretrained encoder: new final layer (probe) or fine-tune" },
    { "bench", cmd_bench, "measure devices side by side (--quick, --json F; bench compare A B)" },
    { "tune", cmd_tune, "tune the tiled GEMM's tiles per device, stored in the cache dir (--quick)" },
    { "corpus", cmd_corpus, "make a plain-text corpus (gcide)" },
    { "similar", cmd_similar, "nearest words by cosine similarity" },
    { "analogy", cmd_analogy, "b - a + c word analogies" },
    { "lookup", cmd_lookup, "soft dictionary lookup over word vectors" },
    { "zeroshot", cmd_zeroshot, "classify test images by the nearest class text of a clip model" },
    { "search", cmd_search, "test images nearest a free-text query under a clip model (PNG)" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: clgrad COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nclgrad %s. Run 'clgrad COMMAND --help' for a command's options.\n", CLGRAD_VERSION_STRING);
}

/* Under mpirun (Open MPI sets OMPI_COMM_WORLD_SIZE; a plain run never starts MPI): split the
 * cores between the ranks on this machine for PoCL (3.1 reads POCL_MAX_PTHREAD_COUNT once, when it
 * loads, and MPI_Init may load it through hwloc), then MPI_Init before any OpenCL call.  Ranks
 * other than 0 print no progress or results (their stdout goes to /dev/null); errors still reach
 * stderr, naming the rank. */
static int dist_start(int *argc, char ***argv)
{
    const char *size = getenv("OMPI_COMM_WORLD_SIZE"), *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    int n = 1, ln = 1;
    if (size && util_parse_int("mpirun", "OMPI_COMM_WORLD_SIZE", size, 1, INT_MAX, &n))
        return 1;
    if (n < 2)
        return 0;
    if (local && util_parse_int("mpirun", "OMPI_COMM_WORLD_LOCAL_SIZE", local, 1, n, &ln))
        return 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (ln > 1 && !getenv("POCL_MAX_PTHREAD_COUNT")) {
        char v[32];
        snprintf(v, sizeof v, "%ld", cores / ln > 1 ? cores / ln : 1L);
        setenv("POCL_MAX_PTHREAD_COUNT", v, 0);
    }
    clg_status st = clg_dist_init(argc, argv);
    if (st) {
        cli_fail("starting MPI", st);
        return 1;
    }
    if (clg_dist_size() > 1 && !clg_dist_available()) {
        fprintf(stderr, "clgrad: started by mpirun with %s ranks, but built without MPI (meson -Dmpi=enabled)\n", size);
        return 1;
    }
    if (clg_dist_rank() != 0 && !freopen("/dev/null", "w", stdout))
        return 1;
    return 0;
}

static int dist_end(const char *cmd, int rc)
{
    if (clg_dist_size() > 1 && rc != 0 && rc < 128) {
        /* the other ranks may be waiting in a collective: end them all */
        fprintf(stderr, "clgrad: %s failed on rank %d of %d (exit status %d); ending every rank\n", cmd,
                clg_dist_rank(), clg_dist_size(), rc);
        fflush(stderr);
        clg_dist_abort(rc);
    }
    if (clg_dist_size() > 1 && rc >= 128)
        clg_dist_barrier(); /* an agreed interruption: rank 0 may still be writing the resume file */
    clg_dist_finalize();
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "__compile-helper"))
        return cmd_compile_helper(argc - 1, argv + 1);
    char tag[64]; /* the command, for the compile helper's warm mark */
    snprintf(tag, sizeof tag, "%s %s", argc > 1 ? argv[1] : "", argc > 2 ? argv[2] : "");
    cli_helper_allow(tag);
    if (dist_start(&argc, &argv)) {
        /* built without MPI under mpirun, or MPI_Init failed: this process cannot reach the others */
        return 1;
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("clgrad %s\n", CLGRAD_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return dist_end(argv[1], commands[i].fn(argc - 1, argv + 1));
    fprintf(stderr, "clgrad: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
