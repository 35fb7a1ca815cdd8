/* gemm.h — the GEMM engine (gemm.c) as the matmul/bmm ops (ops_gemm.c) call it. */
#ifndef CLGRAD_GEMM_H
#define CLGRAD_GEMM_H

#include "internal.h"

/* One strided, batched product in row-major storage:
 * C[z] = alpha·op(A[z])·op(B[z]) + beta·C[z] for z < batch. */
typedef struct gemm_call {
    int ta, tb, M, N, K, batch;
    cl_mem a, b, c;
    int ao, bo, co;         /* element offsets */
    int lda, ldb, ldc;      /* row lengths as stored */
    int sa, sb, sc;         /* batch strides */
    float alpha, beta;
    /* The epilogue (the linear op): with bias set, C = act(alpha·op(A)·op(B) + beta·C + bias[j])
     * for act CLG_ACT_NONE or CLG_ACT_RELU, in the store of our kernels.  clg__gemm_run sets
     * ep_done when it applied it; where it did not (CLBlast, K == 0), C holds the product alone
     * and the caller applies bias and act. */
    cl_mem bias;
    int bias_o, act;
    int ep_done;
} gemm_call;

/* Run the product on the path the ctx's GEMM options, the tuning file and the device choose
 * (gemm.c's opening comment); records the path for clg_gemm_last_path. */
clg_status clg__gemm_run(clg_ctx *ctx, gemm_call *g);
/* What the tiled path takes for g on this ctx, without building or running anything: the
 * register tile (TM, VW, NV) and whether the packed gemm_block runs it (for the tile policy's
 * tests). */
void clg__gemm_tiled_choice(clg_ctx *ctx, const gemm_call *g, int tile[3], int *packed);
/* The kernels the gemm_tiled program of `tile` holds on this ctx, as cl/gemm.cl's GEMM_KSET bits
 * (1, 2, 4, 8: gemm_tiled_n, _ta, _tb, _tatb; 16 gemm_tiled_t; 32 gemm_tiled_p). */
int clg__gemm_tile_kset(clg_ctx *ctx, const int tile[3]);
/* The tiles program's tile sizes (TM, VW, NV, KC; at most max of them) and GEMM_KSET kernel sets
 * for ctx's policy as it stands (found afresh), in tiles[] and ksets[]; returns how many it holds
 * (-1: out of memory). */
int clg__gemm_tiles(clg_ctx *ctx, int tiles[][4], int *ksets, int max);
/* Bytes of scratch (one slot) clg__gemm_run takes for g: B transposed when that form is chosen. */
size_t clg__gemm_scratch(const clg_ctx *ctx, const gemm_call *g);

#endif
