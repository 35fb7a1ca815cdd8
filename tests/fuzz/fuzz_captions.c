/* fuzz_captions.c — libFuzzer harness of the CLIP caption builder (tools/clgrad/captions.c): a dictd index and
 * dictionary from arbitrary bytes (index, then a NUL, then the dictionary, read as plain text or gzip).  No crash,
 * hang, leak or read out of bounds; on success every class has its name first and at most
 * CAPTIONS_MAX_PER_CLASS captions, each "name" or "name: definition"; the caption encoder handles each one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "captions.h"

static char index_path[64], dict_path[64];

static void put(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0)
        abort();
}

static void cleanup(void)
{
    unlink(index_path);
    unlink(dict_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!index_path[0]) {
        snprintf(index_path, sizeof index_path, "/tmp/fuzz_captions_%ld.index", (long)getpid());
        snprintf(dict_path, sizeof dict_path, "/tmp/fuzz_captions_%ld.dict", (long)getpid());
        atexit(cleanup);
    }
    const uint8_t *sep = memchr(data, 0, size);
    size_t ni = sep ? (size_t)(sep - data) : size;
    put(index_path, data, ni);
    put(dict_path, sep ? sep + 1 : data, sep ? size - ni - 1 : 0);

    /* a tiny vector table for the encoder: two words, 3-d */
    char w0[] = "shoe", w1[] = "coat";
    char *words[] = { w0, w1 };
    float vec[] = { 1, 0, 0, 0, 2, 0 };
    clg_vectors v = { .n = 2, .dim = 3, .words = words, .data = vec };
    float out3[3];

    captions c;
    char err[256] = "";
    if (captions_build(dict_path, index_path, captions_fashion, 10, 3, &c, err, sizeof err) != 0) {
        if (!err[0])
            abort();            /* a failure always says why */
        return 0;
    }
    for (int k = 0; k < 10; k++) {
        const char *name = captions_fashion[k].name;
        size_t nl = strlen(name);
        if (c.count[k] < 1 || c.count[k] > CAPTIONS_MAX_PER_CLASS || strcmp(c.text[k][0], name) != 0)
            abort();
        for (int i = 1; i < c.count[k]; i++)
            if (strncmp(c.text[k][i], name, nl) != 0 || strncmp(c.text[k][i] + nl, ": ", 2) != 0)
                abort();
        for (int i = 0; i < c.count[k]; i++) {
            int used = captions_embed(&v, c.text[k][i], out3);
            if (used < 0 || (used == 0 && (out3[0] != 0 || out3[1] != 0 || out3[2] != 0)))
                abort();
        }
    }
    captions_free(&c);
    return 0;
}
