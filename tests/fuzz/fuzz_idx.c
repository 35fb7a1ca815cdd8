/* fuzz_idx.c — libFuzzer harness of the IDX reader (plain and gzip): no crash, leak or hang on any bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "clgrad/io.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_write("in.idx", data, size);
    clg_idx idx;
    if (clg_idx_read(p, &idx) == CLG_OK) {
        /* the promise kept: ndim dims whose product is the byte count, every byte readable */
        size_t numel = 1;
        for (int d = 0; d < idx.ndim; d++)
            numel *= (size_t)idx.dim[d];
        if (idx.ndim < 1 || idx.ndim > CLG_MAX_DIMS || numel != idx.size)
            abort();
        unsigned sum = 0;
        for (size_t i = 0; i < idx.size; i++)
            sum += idx.data[i];
        if (sum == 0xdeadbeef)
            abort();
        clg_idx_free(&idx);
    } else if (idx.data || idx.size) {
        abort();    /* a failure leaves out zeroed */
    }
    return 0;
}
