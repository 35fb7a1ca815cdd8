/* fuzz_vec.c — libFuzzer harness of the word-vector reader (text .vec and word2vec binary, each format and
 * AUTO): no crash, leak or hang on any bytes; what loads is finite, unique and the size the header says. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clgrad/sgns.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_write("in.vec", data, size);
    for (int fmt = CLG_VEC_AUTO; fmt <= CLG_VEC_BINARY; fmt++) {
        clg_vectors *v = NULL;
        if (clg_vectors_load(p, (clg_vec_format)fmt, &v) != CLG_OK) {
            if (v)
                abort();
            continue;
        }
        if (v->n < 0 || v->dim < 1)
            abort();
        for (int i = 0; i < v->n; i++) {
            size_t len = strlen(v->words[i]);
            if (len == 0 || len > CLG_SGNS_MAX_WORD)
                abort();
            for (int d = 0; d < v->dim; d++)
                if (!isfinite(v->data[(size_t)i * (size_t)v->dim + (size_t)d]))
                    abort();
            for (int j = 0; j < i && v->n <= 64; j++)
                if (!strcmp(v->words[i], v->words[j]))
                    abort();
        }
        clg_vectors_free(v);
    }
    return 0;
}
