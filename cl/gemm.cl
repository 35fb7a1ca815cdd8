/* gemm.cl — matrix products (CLBlast and our own kernels): matmul with transposes, batched matmul. */
