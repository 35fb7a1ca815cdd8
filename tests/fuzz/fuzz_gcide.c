/* fuzz_gcide.c — libFuzzer harness of the GCIDE dictionary parser (tools/clgrad/gcide.c): the input cut into
 * lines as gzgets cuts them; no crash, hang or read out of bounds on any bytes; the output is lowercase words. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gcide.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = NULL;
    size_t tlen = 0;
    FILE *out = open_memstream(&text, &tlen);
    if (!out)
        abort();
    gcide e;
    gcide_init(&e, out);
    size_t i = 0;
    while (i < size) {
        /* exactly the line gzgets would hand over: up to a newline, at most GCIDE_LINE - 1 bytes */
        size_t n = 0;
        while (i + n < size && n < GCIDE_LINE - 1)
            if (data[i + n++] == '\n')
                break;
        char *line = malloc(n + 1);
        if (!line)
            abort();
        memcpy(line, data + i, n);
        line[n] = 0;
        gcide_line(&e, line);
        free(line);     /* a heap copy of exact size: ASan sees any read past the NUL */
        i += n;
    }
    gcide_finish(&e);
    if (fclose(out) != 0)
        abort();
    /* lowercase letters, apostrophes and hyphens, single spaces, newline-ended lines */
    for (size_t k = 0; k < tlen; k++) {
        char c = text[k];
        if (!((c >= 'a' && c <= 'z') || c == '\'' || c == '-' || c == ' ' || c == '\n'))
            abort();
    }
    if (tlen && text[tlen - 1] != '\n')
        abort();
    free(text);
    return 0;
}
