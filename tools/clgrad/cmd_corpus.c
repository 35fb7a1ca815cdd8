/* cmd_corpus.c — `clgrad corpus gcide OUT.txt`: Debian's dict-gcide turned into plain lowercase text, one definition a line. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "cli.h"
#include "gcide.h"

#define GCIDE_PATH "/usr/share/dictd/gcide.dict.dz"

static int convert_gcide(const char *in, const char *outp)
{
    char err[512];
    gzFile g = gcide_open(in, 10000, err, sizeof err);
    if (!g) {
        fprintf(stderr, "clgrad corpus: %s\n", err);
        return 1;
    }
    clg_file_writer *w;
    clg_status st = clg_file_writer_open(outp, &w);
    if (st) {
        gzclose(g);
        return cli_fail("corpus", st);
    }
    FILE *out = clg_file_writer_stream(w);
    gcide e;
    gcide_init(&e, out);
    char line[GCIDE_LINE];
    long in_bytes = 0;
    while (gzgets(g, line, sizeof line)) {
        if (cli_interrupted())
            break;
        in_bytes += (long)strlen(line);
        gcide_line(&e, line);
    }
    gcide_finish(&e);
    int bad = gzclose(g) != Z_OK;
    if (bad || cli_interrupted()) {
        clg_file_writer_abort(w);
        if (cli_interrupted()) {
            fprintf(stderr, "clgrad corpus: interrupted; %s not written\n", outp);
            return 128 + cli_interrupted();
        }
        fprintf(stderr, "clgrad corpus: error reading %s\n", in);
        return 1;
    }
    if (in_bytes == 0) {
        clg_file_writer_abort(w);
        fprintf(stderr, "clgrad corpus: %s is empty\n", in);
        return 1;
    }
    if ((st = clg_file_writer_commit(w)))
        return cli_fail("corpus", st);
    fprintf(stderr, "clgrad corpus: %ld lines, %ld words -> %s\n", e.lines, e.words, outp);
    return 0;
}

int cmd_corpus(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: clgrad corpus gcide OUT.txt [--dict PATH]\n"
               "  Turn the GNU Collaborative International Dictionary of English (Debian dict-gcide,\n"
               "  " GCIDE_PATH ") into plain text: lowercase words, one definition a line,\n"
               "  pronunciations, etymologies, sources and citations removed.  PATH (gzip or plain) may be a\n"
               "  pipe or FIFO: it is read once; a FIFO nobody writes to within 10 s is an error.\n");
        return 0;
    }
    const char *dict = GCIDE_PATH;
    if (argc == 5 && !strcmp(argv[3], "--dict"))
        dict = argv[4];
    else if (argc != 3) {
        fprintf(stderr, "usage: clgrad corpus gcide OUT.txt [--dict PATH]\n");
        return 2;
    }
    if (strcmp(argv[1], "gcide") != 0) {
        fprintf(stderr, "clgrad corpus: unknown corpus '%s' (known: gcide)\n", argv[1]);
        return 2;
    }
    const char *what = "OUT.txt";
    if (cli_check_outputs("corpus", (const char *const *)&argv[2], &what, 1))
        return 2;
    cli_signals_install();
    return convert_gcide(dict, argv[2]);
}
