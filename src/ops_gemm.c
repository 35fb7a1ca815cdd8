/* ops_gemm.c — matrix products (CLBlast and our own kernels): matmul with transposes, batched matmul. */
#include "internal.h"

CLG_OP_UNAVAILABLE(matmul)
CLG_OP_UNAVAILABLE(bmm)
