/* clgrad/io.h — data and checkpoint files: MNIST-format IDX (gzip or plain), safetensors, PNG. */
#ifndef CLGRAD_IO_H
#define CLGRAD_IO_H

#include "clgrad/tensor.h"

#endif
