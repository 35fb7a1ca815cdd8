/* gcide.h — the GCIDE dictionary parser behind `clgrad corpus gcide`: dictd text in, one lowercase definition a line out. */
#ifndef CLGRAD_TOOLS_GCIDE_H
#define CLGRAD_TOOLS_GCIDE_H

#include <stdio.h>
#include <zlib.h>

/* Longest line the caller hands over at once; a longer one arrives in pieces (as gzgets cuts it). */
#define GCIDE_LINE 8192

typedef struct gcide {
    FILE *out;
    int in_word, line_words;
    int bdepth;         /* [ ] brackets open across lines */
    int skipping;       /* inside dictd's 00-database header entries */
    long lines, words;  /* written so far */
} gcide;

/* Open the dictionary (gzip or plain) for one streaming read: a regular file, or a FIFO or pipe from
 * another process.  The open never blocks; a FIFO that no process writes to within wait_ms is refused
 * instead of waited on forever (once data flows, reads block as usual).  A directory or socket is
 * refused.  NULL with the reason in err. */
gzFile gcide_open(const char *path, int wait_ms, char *err, size_t errlen);

void gcide_init(gcide *e, FILE *out);
/* One line of the dictionary (NUL-terminated, its newline optional; modified in place). */
void gcide_line(gcide *e, char *line);
/* End of input: close the last definition. */
void gcide_finish(gcide *e);

#endif
