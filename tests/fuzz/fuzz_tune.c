/* fuzz_tune.c — libFuzzer harness of the tuning-file reader (src/tune.c, <cache dir>/gemm_tune.txt): no crash,
 * leak or hang on any bytes; what it returns is a path it knows, tiles in their ranges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write("gemm_tune.txt", data, size);
    clg_device_info d;
    memset(&d, 0, sizeof d);
    strcpy(d.name, "dev");
    strcpy(d.driver_version, "1");
    for (int cls = 0; cls < CLG_GEMM_CLASSES; cls++) {
        int path = -1, tm = 0, vw = 0, nv = 0;
        if (!clg__gemm_tune_lookup(fuzz_dir(), &d, cls, &path, &tm, &vw, &nv))
            continue;
        if (path == CLG_GEMM_PATH_TILED) {
            if (tm < 1 || tm > 16 || (vw != 4 && vw != 8 && vw != 16) || nv < 1 || nv > 4)
                abort();
        } else if (path != CLG_GEMM_PATH_CLBLAST && path != CLG_GEMM_PATH_LOCAL && path != CLG_GEMM_PATH_SIMPLE) {
            abort();
        }
    }
    return 0;
}
