/* main.c — `clgrad` entry point: dispatch to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_fail(const char *what, clg_status st)
{
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

int main(int argc, char **argv)
{
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
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "clgrad: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
