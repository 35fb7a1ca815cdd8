/* fuzz_safetensors.c — libFuzzer harness of the safetensors reader: no crash, leak or hang on any bytes; what
 * opens reads back whole through get/find, and writes and re-reads to the same tensors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clgrad/io.h"
#include "fuzz_file.h"

static size_t numel_of(const clg_st_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= (size_t)t->shape[d];
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_write("in.safetensors", data, size);
    clg_st_file *f = NULL;
    if (clg_safetensors_open(p, &f) != CLG_OK) {
        if (f)
            abort();
        return 0;
    }
    int n = clg_safetensors_count(f);
    clg_st_tensor *ts = calloc((size_t)n + 1, sizeof *ts);
    int good = 0;
    for (int i = 0; i < n; i++) {
        clg_st_tensor t, u;
        if (clg_safetensors_get(f, i, &t) != CLG_OK)
            continue;
        if (t.ndim < 0 || t.ndim > CLG_MAX_DIMS || (t.dtype != CLG_F32 && t.dtype != CLG_I32))
            abort();
        size_t numel = numel_of(&t);
        uint32_t acc = 0;
        for (size_t k = 0; k < numel * 4; k++)
            acc += ((const uint8_t *)t.data)[k];
        if (acc == 0xfeedf00d)
            abort();
        if (clg_safetensors_find(f, t.name, &u) != CLG_OK || u.data != t.data)
            abort();
        ts[good++] = t;
    }
    (void)clg_safetensors_meta(f, "format");
    (void)clg_safetensors_meta(f, "arch");
    /* what was read writes back and re-reads to the same bytes */
    char out[700];
    snprintf(out, sizeof out, "%s/out.safetensors", fuzz_dir());
    if (good == n && clg_safetensors_write(out, ts, n, NULL) == CLG_OK) {
        clg_st_file *g = NULL;
        if (clg_safetensors_open(out, &g) != CLG_OK || clg_safetensors_count(g) != n)
            abort();
        for (int i = 0; i < n; i++) {
            clg_st_tensor u;
            if (clg_safetensors_find(g, ts[i].name, &u) != CLG_OK || u.ndim != ts[i].ndim || u.dtype != ts[i].dtype ||
                memcmp(u.shape, ts[i].shape, sizeof u.shape[0] * (size_t)u.ndim) != 0 ||
                (numel_of(&u) && memcmp(u.data, ts[i].data, numel_of(&u) * 4) != 0))
                abort();
        }
        clg_safetensors_close(g);
    }
    free(ts);
    clg_safetensors_close(f);
    return 0;
}
