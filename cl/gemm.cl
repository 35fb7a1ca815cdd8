/* gemm.cl — matrix products C = alpha·op(A)·op(B) + beta·C: simple, local-memory tiled, register-tiled and packed cache-blocked kernels, and a transpose. */

/* All kernels share one argument list (row-major, batch = get_global_id(2)):
 *   A, ao, lda, sa   stored A (op(A) is [M,K]), element offset, row length, batch stride
 *   B, bo, ldb, sb   stored B (op(B) is [K,N])
 *   C, co, ldc, sc   C [M,N]
 *   M, N, K, alpha, beta   beta == 0 never reads C.
 *   bias, bias_o, ep  the epilogue: ep 0 none (bias any buffer, never read), GEMM_EP_BIAS adds
 *                     bias[bias_o + j] to column j, GEMM_EP_RELU then takes relu (the linear op)
 * The simple and local kernels take the transposes at run time (ta, tb); gemm_tiled_k and
 * gemm_block get them, and every register-tiled kernel its tile and block sizes, as -D
 * defines; gemm_tiled_n comes as four kernels, one per pair of transposes (gemm_tiled_n,
 * _ta, _tb, _tatb), so that one program serves every product of a tile size.
 * Built with -DGEMM_ONE -DGEMM_ONE_<kernel> (gemm.c's variant programs), the file compiles
 * that one kernel only, or with -DGEMM_ONE_gemm_tiled the four gemm_tiled_n, gemm_tiled_t and
 * gemm_tiled_p, those of them that GEMM_KSET names (one program per tile size, or gemm.c's tiles
 * program: this file once per tile size, names suffixed, GEMM_F); without GEMM_ONE, every kernel
 * (clg_ctx_build_all). */

#ifndef GEMM_TA
#define GEMM_TA 0
#endif
#ifndef GEMM_TB
#define GEMM_TB 0
#endif
#ifndef GEMM_TM          /* rows of C per work-item (register tile) */
#define GEMM_TM 8
#endif
#ifndef GEMM_VW          /* vector width: along N (gemm_tiled_n) or along K (gemm_tiled_k) */
#define GEMM_VW 16
#endif
#ifndef GEMM_NV          /* vectors per row of the tile along N (gemm_tiled_n) */
#define GEMM_NV 2
#endif
#ifndef GEMM_TNK         /* columns of C per work-item in gemm_tiled_k */
#define GEMM_TNK 4
#endif
#ifndef GEMM_LTS         /* local-memory tile side (work-group LTS x LTS) */
#define GEMM_LTS 16
#endif

#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)
/* GEMM_F(name): a function's or tiled kernel's name with the suffix GEMM_SFX (empty by default),
 * so that one program can hold the gemm_tiled family at several tile sizes: gemm.c's tiles program
 * is common.cl, then this file once per tile size, each time after #undef and #define of GEMM_TM,
 * GEMM_VW, GEMM_NV, GEMM_KC, GEMM_KSET and GEMM_SFX (gemm_tiled_p_8_16_2, ...). */
#ifndef GEMM_SFX
#define GEMM_SFX
#endif
#define GEMM_F(name) GEMM_CAT(name, GEMM_SFX)
#define VT GEMM_CAT(float, GEMM_VW)
#define VLOAD GEMM_CAT(vload, GEMM_VW)
#define VSTORE GEMM_CAT(vstore, GEMM_VW)
#define GEMM_TN (GEMM_VW * GEMM_NV)

#define GEMM_ARGS                                                                        \
    __global const float *A, int ao, int lda, int sa, __global const float *B, int bo, \
    int ldb, int sb, __global float *C, int co, int ldc, int sc, int M, int N, int K,  \
    float alpha, float beta, __global const float *bias, int bias_o, int ep

/* The epilogue (the linear op): ep 0 none, GEMM_EP_BIAS C + bias[j], GEMM_EP_RELU relu of that,
 * applied after alpha·acc + beta·C with the expressions of bias_act (elementwise.cl), so a fused
 * product gives the bits of matmul then bias_act.  bias is read only when ep != 0. */
#define GEMM_EP_BIAS 1
#define GEMM_EP_RELU 2

CLG_STATIC inline void GEMM_F(gemm_store1)(__global float *c, float v, float alpha, float beta,
                                           __global const float *bj, int ep)
{
    float o = beta != 0.0f ? alpha * v + beta * *c : alpha * v;
    if (ep) {
        o = o + *bj;
        if (ep == GEMM_EP_RELU)
            o = o > 0.0f ? o : 0.0f;
    }
    *c = o;
}

/* The first `left` (< VW) lanes of a at c.  Out of line: the tile stores inline a store per
 * vector, and this edge path copied at each made each variant's code (and PoCL's per-kernel
 * compile time) larger without making anything faster. */
CLG_STATIC __attribute__((noinline)) void GEMM_F(gemm_store_part)(__global float *c, VT a, int left, float alpha,
                                                                  float beta, __global const float *bj, int ep)
{
    float tmp[GEMM_VW];
    VSTORE(a, 0, tmp);
    for (int e = 0; e < left; e++)
        GEMM_F(gemm_store1)(c + e, tmp[e], alpha, beta, bj + e, ep);
}

/* Store vector v of a register-tile row at crow: C = alpha·a + beta·C, then the epilogue ep with
 * the bias slice at bj (the tile's first column).  left = columns of C from crow + v*VW to the end
 * of the row; a vector past the edge stores only those. */
CLG_STATIC inline void GEMM_F(gemm_store_vec)(__global float *crow, int v, VT a, int left, float alpha, float beta,
                                              __global const float *bj, int ep)
{
    if (left >= GEMM_VW) {
        VT o = alpha * a;
        if (beta != 0.0f)
            o += beta * VLOAD(v, crow);
        if (ep) {
            o = o + VLOAD(v, bj);
            if (ep == GEMM_EP_RELU)
                o = select((VT)(0.0f), o, o > 0.0f);
        }
        VSTORE(o, v, crow);
    } else {
        GEMM_F(gemm_store_part)(crow + v * GEMM_VW, a, left, alpha, beta, bj + v * GEMM_VW, ep);
    }
}

/* One row of a register tile, a[0..NV), at crow (left = columns of C from crow to the end of the
 * row).  Out of line, as gemm_store_part: inlined TM times per tile store, with the epilogue, the
 * stores took PoCL ~0.25 s more codegen for the MLP's three GEMM kernels (0.66-0.75 -> 0.88-0.97 s
 * CPU); called per row, 0.59 s, at the same speed (bench_gemm 128x784·784x256 and
 * 256x128·128x512, 8 alternating rounds: 1.00x). */
CLG_STATIC __attribute__((noinline)) void GEMM_F(gemm_store_row)(__global float *crow, const VT *a, int left,
                                                                 float alpha, float beta, __global const float *bj,
                                                                 int ep)
{
    _Pragma("unroll") for (int v = 0; v < GEMM_NV; v++)
        GEMM_F(gemm_store_vec)(crow, v, a[v], left - v * GEMM_VW, alpha, beta, bj, ep);
}

/* Store the TM x (VW*NV) register tile acc whose top-left element is C[I0][J0], with epilogue EP
 * (bias: the kernel's, already offset). */
#define GEMM_STORE_TILE(I0, J0, BETA, EP)                                        \
    _Pragma("unroll") for (int r = 0; r < GEMM_TM; r++)                          \
    {                                                                            \
        if ((I0) + r >= M)                                                       \
            break;                                                               \
        GEMM_F(gemm_store_row)(C + (size_t)((I0) + r) * ldc + (J0), acc[r], N - (J0), alpha, (BETA), \
                               bias + (J0), (EP));                               \
    }

/* Straight from global memory, any transposes (run-time ta, tb): a work-item computes a block of
 * GEMM_SR rows by GEMM_SC columns of C, the columns strided by the number of
 * work-items along N (get_global_size(0)), so neighbouring work-items, which SIMD-lane devices
 * such as rusticl's llvmpipe run in lanes, touch neighbouring columns.  Each element loaded
 * serves GEMM_SC (of op(A)) or GEMM_SR (of op(B)) multiply-adds, where one output per
 * work-item paid two loads per multiply-add: llvmpipe loads lane by lane (~9 cycles a float on
 * 256 bits, uniform or not), and 4x4 blocks made the MLP's products there 3-9x faster (4x8 and
 * 8x4 were slower); on 256-bit llvmpipe path_simple builds 8x8 blocks with int offsets
 * (GEMM_SR, GEMM_SC, GEMM_IDX) and launches groups of 8 lanes along N, 1.6-2x faster again
 * where N >= 64.  Rows and columns past the edge are clamped for loading and not stored.
 * Global size (ceil(N/GEMM_SC), ceil(M/GEMM_SR), batch). */
#ifndef GEMM_SR /* path_simple launches ceil(N/GEMM_SC) x ceil(M/GEMM_SR) work-items to match */
#define GEMM_SR 4
#endif
#ifndef GEMM_SC
#define GEMM_SC 4
#endif
#ifndef GEMM_IDX /* the type of offsets within one matrix: int where the host found them to fit */
#define GEMM_IDX size_t
#endif
#if !defined(GEMM_ONE) || defined(GEMM_ONE_gemm_simple)
__kernel void gemm_simple(GEMM_ARGS, int ta, int tb)
{
    int j0 = get_global_id(0), i0 = get_global_id(1) * GEMM_SR, z = get_global_id(2);
    int sj = get_global_size(0);
    A += ao + (size_t)z * sa;
    B += bo + (size_t)z * sb;
    C += co + (size_t)z * sc;
    bias += bias_o;
    GEMM_IDX ai[GEMM_SR], bj[GEMM_SC];
    GEMM_IDX ak = ta ? (GEMM_IDX)lda : 1, bk = tb ? 1 : (GEMM_IDX)ldb;
    _Pragma("unroll") for (int r = 0; r < GEMM_SR; r++)
    {
        int i = min(i0 + r, M - 1);
        ai[r] = ta ? (GEMM_IDX)i : (GEMM_IDX)i * lda;
    }
    _Pragma("unroll") for (int q = 0; q < GEMM_SC; q++)
    {
        int j = min(j0 + q * sj, N - 1);
        bj[q] = tb ? (GEMM_IDX)j * ldb : (GEMM_IDX)j;
    }
    float acc[GEMM_SR][GEMM_SC];
    _Pragma("unroll") for (int r = 0; r < GEMM_SR; r++)
        _Pragma("unroll") for (int q = 0; q < GEMM_SC; q++)
            acc[r][q] = 0.0f;
    for (int k = 0; k < K; k++) {
        float a[GEMM_SR], b[GEMM_SC];
        _Pragma("unroll") for (int r = 0; r < GEMM_SR; r++)
            a[r] = A[ai[r] + k * ak];
        _Pragma("unroll") for (int q = 0; q < GEMM_SC; q++)
            b[q] = B[bj[q] + k * bk];
        _Pragma("unroll") for (int r = 0; r < GEMM_SR; r++)
            _Pragma("unroll") for (int q = 0; q < GEMM_SC; q++)
                acc[r][q] = CLG_MAD(a[r], b[q], acc[r][q]);
    }
#if GEMM_SR * GEMM_SC > 16
    /* Stores from a copy: with 64 epilogues unrolled, llvmpipe's compiler left the store loops
     * rolled and acc in per-lane scratch memory for the whole k loop (3x slower than 4x4); the
     * copy alone is indexed at run time. */
    float out[GEMM_SR * GEMM_SC];
    _Pragma("unroll") for (int r = 0; r < GEMM_SR; r++)
        _Pragma("unroll") for (int q = 0; q < GEMM_SC; q++)
            out[r * GEMM_SC + q] = acc[r][q];
#define GEMM_SIMPLE_OUT(r, q) out[(r) * GEMM_SC + (q)]
#define GEMM_SIMPLE_UNROLL _Pragma("unroll 1")
#else
#define GEMM_SIMPLE_OUT(r, q) acc[r][q]
#define GEMM_SIMPLE_UNROLL _Pragma("unroll")
#endif
    GEMM_SIMPLE_UNROLL for (int r = 0; r < GEMM_SR; r++)
    {
        if (i0 + r >= M)
            break;
        GEMM_SIMPLE_UNROLL for (int q = 0; q < GEMM_SC; q++)
        {
            int j = j0 + q * sj;
            if (j < N)
                GEMM_F(gemm_store1)(C + (size_t)(i0 + r) * ldc + j, GEMM_SIMPLE_OUT(r, q), alpha, beta, bias + j, ep);
        }
    }
#undef GEMM_SIMPLE_OUT
#undef GEMM_SIMPLE_UNROLL
}
#endif

/* GPU style: a work-group computes an LTS x LTS tile of C, staging LTS-wide
 * slices of op(A) and op(B) in local memory; one output per work-item. */
#if !defined(GEMM_ONE) || defined(GEMM_ONE_gemm_local)
__kernel void gemm_local(GEMM_ARGS, int ta, int tb)
{
    __local float As[GEMM_LTS][GEMM_LTS];
    __local float Bs[GEMM_LTS][GEMM_LTS + 1];
    int lx = get_local_id(0), ly = get_local_id(1);
    int j = get_group_id(0) * GEMM_LTS + lx, i = get_group_id(1) * GEMM_LTS + ly;
    int z = get_global_id(2);
    A += ao + (size_t)z * sa;
    B += bo + (size_t)z * sb;
    C += co + (size_t)z * sc;
    bias += bias_o;
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += GEMM_LTS) {
        /* As[ly][lx] = op(A)(i, k0+lx); Bs[ly][lx] = op(B)(k0+ly, j) */
        int ka = k0 + lx, kb = k0 + ly;
        float av = 0.0f, bv = 0.0f;
        if (i < M && ka < K)
            av = ta ? A[(size_t)ka * lda + i] : A[(size_t)i * lda + ka];
        if (j < N && kb < K)
            bv = tb ? B[(size_t)j * ldb + kb] : B[(size_t)kb * ldb + j];
        As[ly][lx] = av;
        Bs[ly][lx] = bv;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < GEMM_LTS; kk++)
            acc = CLG_MAD(As[ly][kk], Bs[kk][lx], acc);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (i < M && j < N)
        GEMM_F(gemm_store1)(C + (size_t)i * ldc + j, acc, alpha, beta, bias + j, ep);
}
#endif

/* The register tile's step at one k: acc[r][v] += a_r * b[v], with a_r = AEXPR (an expression
 * in r: op(A)'s element of tile row r at this k) and b[] op(B)'s row slice.  Shared by
 * gemm_tiled_n, gemm_block and gemm_tiled_t, which differ only in where a_r and b[] come from. */
#define GEMM_TILE_FMA(AEXPR)                                                     \
    _Pragma("unroll") for (int r = 0; r < GEMM_TM; r++)                          \
    {                                                                            \
        float a = (AEXPR);                                                       \
        _Pragma("unroll") for (int v = 0; v < GEMM_NV; v++)                      \
            acc[r][v] = CLG_MAD((VT)(a), b[v], acc[r][v]);                       \
    }

/* b[] = row k of a packed op(B) panel P (rows of GEMM_TN floats). */
#define GEMM_PANEL_ROW(P)                                                        \
    VT b[GEMM_NV];                                                               \
    _Pragma("unroll") for (int v = 0; v < GEMM_NV; v++)                          \
        b[v] = VLOAD(v, (P) + k * GEMM_TN);

/* CPU style, vectorised along N: a work-item computes a TM x (VW*NV) tile of C
 * in vector registers, loading a row slice of op(B) per k and broadcasting TM
 * scalars of op(A).  Partial tiles stay vectorised: rows past M are clamped
 * (computed twice, never stored); columns past N are loaded as zeros, or, for
 * TB=0 where the row slice stays inside op(B), loaded as they lie and not stored.
 * Global size (ceil(N/TN), ceil(M/(TM*RM)), batch). */
#define TILED_N_FMA GEMM_TILE_FMA(ap[r][ka])

/* Register tiles per work-item, consecutive along M (tiled_n, tiled_k, tiled_t): RM of them,
 * where the host launched ceil(ceil(M/TM)/RM) work-items down M (global size 1).  Read back from
 * the global size rather than built in, so that programs do not differ per RM (on PoCL each
 * program and kernel variant costs a cold build): ceil(tiles/work-items) covers every tile for
 * any global size, also one padded to a multiple of the local size. */
#define GEMM_RM_OF_LAUNCH(TM) ((((M) + (TM) - 1) / (TM) + (int)get_global_size(1) - 1) / (int)get_global_size(1))

/* Work-items of a few microseconds: each takes RM tiles down M (fewer work-groups,
 * whose fixed cost on PoCL is ~0.5 us each; op(B)'s panel is reused from cache).
 * TILE(..., i0, j0, EXTRA...): EXTRA are the tile function's last arguments. */
#define GEMM_RM_LOOP(TILE, TW, ...)                                              \
    int j0 = get_global_id(0) * (TW), z = get_global_id(2);                      \
    int rm = GEMM_RM_OF_LAUNCH(GEMM_TM);                                         \
    A += ao + (size_t)z * sa;                                                    \
    B += bo + (size_t)z * sb;                                                    \
    C += co + (size_t)z * sc;                                                    \
    for (int q = 0; q < rm; q++) {                                               \
        int i0 = ((int)get_global_id(1) * rm + q) * GEMM_TM;                     \
        if (i0 >= M || j0 >= N)                                                  \
            return;                                                              \
        TILE(A, lda, B, ldb, C, ldc, M, N, K, alpha, beta, bias + bias_o, ep, i0, j0, __VA_ARGS__); \
    }

/* ta, tb: the transposes, constants of each gemm_tiled_n* kernel, folded once inlined.  Inlined
 * always: with four kernels calling it, PoCL's inliner kept one out-of-line copy with run-time
 * ta/tb, and the MLP's products ran 15-30% slower (128x784·784x256: 54-69 against 87-96 GFLOP/s). */
CLG_STATIC __attribute__((always_inline)) inline void GEMM_F(tiled_n_tile)(__global const float *A, int lda,
                                                                           __global const float *B, int ldb,
                                                                           __global float *C, int ldc, int M, int N,
                                                                           int K, float alpha, float beta,
                                                                           __global const float *bias, int ep, int i0,
                                                                           int j0, const int ta, const int tb)
{
    /* Row pointers, and one index per k shared by every row (ka below): with A[ir[r] * lda + k]
     * LLVM's SLP vectoriser put the TM row offsets in vectors and added k to them in vector
     * registers, then took each address out lane by lane (vmovq, vpextrq, vextracti: ~15 µops per
     * k beside the 16 multiply-adds of an 8 x 32 tile on AVX-512, on the ports the FMAs use) */
    __global const float *ap[GEMM_TM];
    VT acc[GEMM_TM][GEMM_NV];
    #pragma unroll
    for (int r = 0; r < GEMM_TM; r++) {
        int i = min(i0 + r, M - 1);
        ap[r] = A + (ta ? (size_t)i : (size_t)i * lda);
        #pragma unroll
        for (int v = 0; v < GEMM_NV; v++)
            acc[r][v] = (VT)(0.0f);
    }
    /* One k loop (one copy of the unrolled FMA body: PoCL's compile time grows with it): rows
     * k < kv load op(B)'s slice whole (TB=0: plain vector loads, also for a partial tile
     * whose TN-wide slice lies inside op(B): the lanes past N hold neighbouring elements
     * and are never stored), the rest gather it with zeros past N.  kv depends on the tile,
     * not on k, so the branch is uniform and cheap beside TM x NV vector multiply-adds. */
    int full_n = j0 + GEMM_TN <= N;
    int room = K * ldb - j0 - GEMM_TN;
    int kv = full_n ? K : tb ? 0 : room >= 0 ? min(K, room / ldb + 1) : 0;
    for (int k = 0; k < K; k++) {
        size_t ka = ta ? (size_t)k * lda : (size_t)k;
        VT b[GEMM_NV];
        if (k < kv) {
            if (tb) {
                #pragma unroll
                for (int v = 0; v < GEMM_NV; v++) {
                    float tmp[GEMM_VW];
                    #pragma unroll
                    for (int e = 0; e < GEMM_VW; e++)
                        tmp[e] = B[(size_t)(j0 + v * GEMM_VW + e) * ldb + k];
                    b[v] = VLOAD(0, tmp);
                }
            } else {
                __global const float *brow = B + (size_t)k * ldb + j0;
                #pragma unroll
                for (int v = 0; v < GEMM_NV; v++)
                    b[v] = VLOAD(v, brow);
            }
        } else {
            #pragma unroll
            for (int v = 0; v < GEMM_NV; v++) {
                float tmp[GEMM_VW];
                #pragma unroll 1
                for (int e = 0; e < GEMM_VW; e++) {
                    int j = j0 + v * GEMM_VW + e;
                    tmp[e] = j < N ? (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]) : 0.0f;
                }
                b[v] = VLOAD(0, tmp);
            }
        }
        TILED_N_FMA
    }
    GEMM_STORE_TILE(i0, j0, beta, ep)
}

/* GEMM_KSET: which of a tile size's six kernels its program holds (gemm.c's tile_kset: those the
 * ctx's policy can launch at that tile; each kernel costs PoCL's front end ~0.01-0.02 s cold). */
#ifndef GEMM_KSET
#define GEMM_KSET 63
#endif
#define GEMM_HAS(bit) ((GEMM_KSET) & (bit))

#if !defined(GEMM_ONE) || defined(GEMM_ONE_gemm_tiled)
#if GEMM_HAS(1)
__kernel void GEMM_F(gemm_tiled_n)(GEMM_ARGS)
{
    GEMM_RM_LOOP(GEMM_F(tiled_n_tile), GEMM_TN, 0, 0)
}
#endif
#if GEMM_HAS(2)
__kernel void GEMM_F(gemm_tiled_n_ta)(GEMM_ARGS)
{
    GEMM_RM_LOOP(GEMM_F(tiled_n_tile), GEMM_TN, 1, 0)
}
#endif
#if GEMM_HAS(4)
__kernel void GEMM_F(gemm_tiled_n_tb)(GEMM_ARGS)
{
    GEMM_RM_LOOP(GEMM_F(tiled_n_tile), GEMM_TN, 0, 1)
}
#endif
#if GEMM_HAS(8)
__kernel void GEMM_F(gemm_tiled_n_tatb)(GEMM_ARGS)
{
    GEMM_RM_LOOP(GEMM_F(tiled_n_tile), GEMM_TN, 1, 1)
}
#endif
#endif

CLG_STATIC inline float GEMM_F(gemm_hsum)(VT v)
{
#if GEMM_VW == 16
    float8 h8 = CLG_LO16(v) + CLG_HI16(v);
    float4 h4 = h8.lo + h8.hi;
#elif GEMM_VW == 8
    float4 h4 = v.lo + v.hi;
#else
    float4 h4 = v;
#endif
    float2 h2 = h4.lo + h4.hi;
    return h2.x + h2.y;
}

/* CPU style for A·Bᵀ (TA=0, TB=1: both operands contiguous along K): a
 * work-item computes TM x TNK dot products with vector accumulators along K,
 * reduced at the end.  Rows/columns past the edge are clamped, never stored.
 * Global size (ceil(N/TNK), ceil(M/(TM*RM)), batch). */
CLG_STATIC inline void GEMM_F(tiled_k_tile)(__global const float *A, int lda, __global const float *B, int ldb,
                                            __global float *C, int ldc, int M, int N, int K, float alpha, float beta,
                                            __global const float *bias, int ep, int i0, int j0, int unused)
{
    int ir[GEMM_TM], jc[GEMM_TNK];
    VT acc[GEMM_TM][GEMM_TNK];
    #pragma unroll
    for (int r = 0; r < GEMM_TM; r++) {
        ir[r] = min(i0 + r, M - 1);
        #pragma unroll
        for (int c = 0; c < GEMM_TNK; c++)
            acc[r][c] = (VT)(0.0f);
    }
    #pragma unroll
    for (int c = 0; c < GEMM_TNK; c++)
        jc[c] = min(j0 + c, N - 1);
    int kv = K - K % GEMM_VW;
    for (int k = 0; k < kv; k += GEMM_VW) {
        VT a[GEMM_TM], b[GEMM_TNK];
        #pragma unroll
        for (int r = 0; r < GEMM_TM; r++)
            a[r] = VLOAD(0, A + (size_t)ir[r] * lda + k);
        #pragma unroll
        for (int c = 0; c < GEMM_TNK; c++)
            b[c] = VLOAD(0, B + (size_t)jc[c] * ldb + k);
        #pragma unroll
        for (int r = 0; r < GEMM_TM; r++)
            #pragma unroll
            for (int c = 0; c < GEMM_TNK; c++)
                acc[r][c] = CLG_MAD(a[r], b[c], acc[r][c]);
    }
    #pragma unroll
    for (int r = 0; r < GEMM_TM; r++)
        #pragma unroll
        for (int c = 0; c < GEMM_TNK; c++) {
            float s = GEMM_F(gemm_hsum)(acc[r][c]);
            for (int k = kv; k < K; k++)
                s = CLG_MAD(A[(size_t)ir[r] * lda + k], B[(size_t)jc[c] * ldb + k], s);
            if (i0 + r < M && j0 + c < N)
                GEMM_F(gemm_store1)(C + (size_t)(i0 + r) * ldc + j0 + c, s, alpha, beta, bias + j0 + c, ep);
        }
}

#if !defined(GEMM_ONE) || defined(GEMM_ONE_gemm_tiled_k)
__kernel void gemm_tiled_k(GEMM_ARGS)
{
    GEMM_RM_LOOP(tiled_k_tile, GEMM_TNK, 0)
}
#endif

/* CPU style with packing, for every transpose: a work-item (work-group 1x1x1)
 * computes an MB x NB block of C.  Per k-block of at most KB it copies its slice
 * of op(A) and op(B) into local memory in the layout the register tile reads
 * (op(A) rows contiguous along k, padded so rows do not share cache sets, for
 * TA=0; TM-row micro-panels [k][TM] for TA=1; op(B) micro-panels [k][TN]), then
 * runs TM x (VW*NV) register tiles over it.  Packing removes the strided and
 * cache-set-conflicting accesses of power-of-two leading dimensions.  Partial
 * sums between k-blocks stay in local memory (Cs); only the last one writes C.  Edges: rows past M are clamped copies, columns past N
 * zeros, neither stored.  Global size (ceil(N/NB), ceil(M/MB), batch). */
#ifndef GEMM_MB
#define GEMM_MB 64
#endif
#ifndef GEMM_NB
#define GEMM_NB 64
#endif
#ifndef GEMM_KB
#define GEMM_KB 256
#endif
#define GEMM_KBP (GEMM_KB + 16)
#if GEMM_TA
#define GEMM_AP_SIZE (GEMM_MB * GEMM_KB)
#define APK(ap, r, k) ap[(k) * GEMM_TM + (r)]
#else
#define GEMM_AP_SIZE (GEMM_MB * GEMM_KBP)
#define APK(ap, r, k) ap[(r) * GEMM_KBP + (k)]
#endif

#if !defined(GEMM_ONE) || defined(GEMM_ONE_gemm_block)
__kernel void gemm_block(GEMM_ARGS)
{
    __local float Ap[GEMM_AP_SIZE];
    __local float Bp[GEMM_NB * GEMM_KB];
    __local float Cs[GEMM_MB * GEMM_NB];    /* partial sums between k-blocks */
    int j0 = get_global_id(0) * GEMM_NB, i0 = get_global_id(1) * GEMM_MB, z = get_global_id(2);
    if (i0 >= M || j0 >= N)
        return;
    A += ao + (size_t)z * sa;
    B += bo + (size_t)z * sb;
    C += co + (size_t)z * sc;
    bias += bias_o;
    int mrows = min(GEMM_MB, M - i0), ncols = min(GEMM_NB, N - j0);
    int mpack = min(GEMM_MB, (mrows + GEMM_TM - 1) / GEMM_TM * GEMM_TM);
    int npack = min(GEMM_NB, (ncols + GEMM_TN - 1) / GEMM_TN * GEMM_TN);
    int nkb = (K + GEMM_KB - 1) / GEMM_KB;
    int kstep = (K + nkb - 1) / nkb;
    for (int k0 = 0; k0 < K; k0 += kstep) {
        int kb = min(kstep, K - k0);
        /* pack op(A)[i0 .. i0+mpack, k0 .. k0+kb] */
#if GEMM_TA
        for (int r0 = 0; r0 < mpack; r0 += GEMM_TM) {
            __local float *ap = Ap + r0 * GEMM_KB;
            if (i0 + r0 + GEMM_TM <= M) {
                for (int k = 0; k < kb; k++) {
                    __global const float *src = A + (size_t)(k0 + k) * lda + i0 + r0;
                    #pragma unroll
                    for (int r = 0; r < GEMM_TM; r++)
                        ap[k * GEMM_TM + r] = src[r];
                }
            } else {
                for (int k = 0; k < kb; k++) {
                    __global const float *src = A + (size_t)(k0 + k) * lda;
                    for (int r = 0; r < GEMM_TM; r++)
                        ap[k * GEMM_TM + r] = src[min(i0 + r0 + r, M - 1)];
                }
            }
        }
#else
        for (int r = 0; r < mpack; r++) {
            __global const float *src = A + (size_t)min(i0 + r, M - 1) * lda + k0;
            __local float *dst = Ap + r * GEMM_KBP;
            int k = 0;
            for (; k + 16 <= kb; k += 16)
                vstore16(vload16(0, src + k), 0, dst + k);
            for (; k < kb; k++)
                dst[k] = src[k];
        }
#endif
        /* pack op(B)[k0 .. k0+kb, j0 .. j0+npack] as [npack/TN][kb][TN] */
        for (int c0 = 0; c0 < npack; c0 += GEMM_TN) {
            __local float *bp = Bp + c0 * GEMM_KB;
            int full = j0 + c0 + GEMM_TN <= N;
#if GEMM_TB
            for (int c = 0; c < GEMM_TN; c++) {
                int j = j0 + c0 + c;
                if (j < N) {
                    __global const float *src = B + (size_t)j * ldb + k0;
                    for (int k = 0; k < kb; k++)
                        bp[k * GEMM_TN + c] = src[k];
                } else {
                    for (int k = 0; k < kb; k++)
                        bp[k * GEMM_TN + c] = 0.0f;
                }
            }
            (void)full;
#else
            if (full) {
                for (int k = 0; k < kb; k++) {
                    __global const float *src = B + (size_t)(k0 + k) * ldb + j0 + c0;
                    #pragma unroll
                    for (int v = 0; v < GEMM_NV; v++)
                        VSTORE(VLOAD(v, src), v, bp + k * GEMM_TN);
                }
            } else {
                for (int k = 0; k < kb; k++) {
                    __global const float *src = B + (size_t)(k0 + k) * ldb;
                    for (int c = 0; c < GEMM_TN; c++)
                        bp[k * GEMM_TN + c] = j0 + c0 + c < N ? src[j0 + c0 + c] : 0.0f;
                }
            }
#endif
        }
        int first = k0 == 0, last = k0 + kb >= K;
        for (int c0 = 0; c0 < npack; c0 += GEMM_TN) {
            __local const float *bp = Bp + c0 * GEMM_KB;
            for (int r0 = 0; r0 < mpack; r0 += GEMM_TM) {
#if GEMM_TA
                __local const float *ap = Ap + r0 * GEMM_KB;
#else
                __local const float *ap = Ap + r0 * GEMM_KBP;
#endif
                VT acc[GEMM_TM][GEMM_NV];
                __local float *cs = Cs + r0 * GEMM_NB + c0;
                #pragma unroll
                for (int r = 0; r < GEMM_TM; r++)
                    #pragma unroll
                    for (int v = 0; v < GEMM_NV; v++)
                        acc[r][v] = first ? (VT)(0.0f) : VLOAD(v, cs + r * GEMM_NB);
                for (int k = 0; k < kb; k++) {
                    GEMM_PANEL_ROW(bp)
                    GEMM_TILE_FMA(APK(ap, r, k))
                }
                if (!last) {
                    #pragma unroll
                    for (int r = 0; r < GEMM_TM; r++)
                        #pragma unroll
                        for (int v = 0; v < GEMM_NV; v++)
                            VSTORE(acc[r][v], v, cs + r * GEMM_NB);
                    continue;
                }
                GEMM_STORE_TILE(i0 + r0, j0 + c0, beta, ep)
            }
        }
    }
}
#endif

/* In-register transpose of a 16 x 16 block held as 16 row vectors: four rounds of
 * interleaving row i with row i+8 (a perfect shuffle of the index bits), which the
 * compiler turns into two-source permutes instead of element-wise gathers. */
#define GEMM_ILO(a, b) \
    (float16)(a.s0, b.s0, a.s1, b.s1, a.s2, b.s2, a.s3, b.s3, a.s4, b.s4, a.s5, b.s5, a.s6, b.s6, a.s7, b.s7)
#define GEMM_IHI(a, b) \
    (float16)(a.s8, b.s8, a.s9, b.s9, a.sa, b.sa, a.sb, b.sb, a.sc, b.sc, a.sd, b.sd, a.se, b.se, a.sf, b.sf)

CLG_STATIC inline void GEMM_F(gemm_transpose16)(float16 *v)
{
    #pragma unroll
    for (int s = 0; s < 4; s++) {
        float16 o[16];
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            o[2 * i] = GEMM_ILO(v[i], v[i + 8]);
            o[2 * i + 1] = GEMM_IHI(v[i], v[i + 8]);
        }
        #pragma unroll
        for (int i = 0; i < 16; i++)
            v[i] = o[i];
    }
}

/* Transpose of a stored [rows, cols] matrix (row length ld, batch stride ss, batch =
 * get_global_id(2)) into a contiguous [cols, rows] one (batch stride rows*cols), for
 * A·Bᵀ run as A·(Bᵀ) by gemm_tiled_n / gemm_block.  A work-item moves a 16 x 16 block:
 * sixteen row loads, gemm_transpose16, sixteen row stores;
 * partial blocks element by element.  Global size (ceil(cols/16), ceil(rows/16), batch). */
#if !defined(GEMM_ONE) || defined(GEMM_ONE_gemm_transpose)
__kernel void gemm_transpose(__global const float *S, int so, int ld, int ss, __global float *D, int rows,
                             int cols)
{
    int c0 = get_global_id(0) * 16, r0 = get_global_id(1) * 16, z = get_global_id(2);
    if (r0 >= rows || c0 >= cols)
        return;
    S += so + (size_t)z * ss;
    D += (size_t)z * rows * cols;
    if (r0 + 16 <= rows && c0 + 16 <= cols) {
        float16 t[16];
        #pragma unroll
        for (int r = 0; r < 16; r++)
            t[r] = vload16(0, S + (size_t)(r0 + r) * ld + c0);
        GEMM_F(gemm_transpose16)(t);
        #pragma unroll
        for (int c = 0; c < 16; c++)
            vstore16(t[c], 0, D + (size_t)(c0 + c) * rows + r0);
    } else {
        int nr = min(16, rows - r0), nc = min(16, cols - c0);
        for (int c = 0; c < nc; c++)
            for (int r = 0; r < nr; r++)
                D[(size_t)(c0 + c) * rows + r0 + r] = S[(size_t)(r0 + r) * ld + c0 + c];
    }
}
#endif

/* CPU style with B strips in local memory, for A·Bᵀ (gemm_tiled_t: TA=0, TB=1, without the
 * horizontal sums of gemm_tiled_k) and A·B (gemm_tiled_p: TA=0, TB=0): a work-item owns a
 * TN-wide column strip of C and RM register tiles down M.  Per k-chunk of at most KC it
 * copies its strip of op(B) into local memory as [k][TN] (B's TN rows transposed in 4 x 4
 * blocks through float4 registers, or B's row slices as they lie), then runs gemm_tiled_n's
 * TM x (VW*NV) tile over it, so the packing is paid once per strip and chunk, not per tile,
 * and the tile reads op(B) contiguously (gemm_tiled_n reads B's rows at a stride of ldb,
 * which for power-of-two widths falls into a few L1 sets).  Columns past N are clamped
 * copies, never stored.  The first chunk writes alpha·acc (+ beta·C), later ones add
 * alpha·acc.  Work-groups of one work-item (the strip is the group's local memory).
 * Global size (ceil(N/TN), ceil(M/(TM*RM)), batch). */
#ifndef GEMM_KC
#define GEMM_KC 256
#endif

#if (!defined(GEMM_ONE) || defined(GEMM_ONE_gemm_tiled)) && GEMM_KC > 0 /* KC 0: a tile without it */
/* tb: a constant of each kernel, folded once inlined (always, as tiled_n_tile). */
CLG_STATIC __attribute__((always_inline)) inline void GEMM_F(tiled_strip)(__global const float *A, int lda,
                                                                          __global const float *B, int ldb,
                                                                          __global float *C, int ldc, int M, int N,
                                                                          int K, float alpha, float beta,
                                                                          __global const float *bias, int ep,
                                                                          __local float *Bp, const int tb)
{
    int j0 = get_global_id(0) * GEMM_TN;
    int rm = GEMM_RM_OF_LAUNCH(GEMM_TM);
    int ib = (int)get_global_id(1) * rm * GEMM_TM;
    if (j0 >= N || ib >= M)
        return;
    for (int k0 = 0; k0 < K; k0 += GEMM_KC) {
        int kb = min(GEMM_KC, K - k0), kf = kb & ~3;
        if (tb) {
            for (int c0 = 0; c0 < GEMM_TN; c0 += 16) {
                __global const float *src[16];
                #pragma unroll
                for (int e = 0; e < 16; e++)
                    src[e] = B + (size_t)min(j0 + c0 + e, N - 1) * ldb + k0;
                /* 4 x 4 blocks through float4 registers: gemm_transpose16's float16 shuffles here
                 * took most of this kernel's compile time (PoCL codegen of the 16,16,1 variant,
                 * quiet: 1.3-1.7 -> 0.5-0.6 s CPU together with the one-FMA-body change) at the
                 * same speed (bench's queued A·Bᵀ rows 56-59 / 63-66 GFLOP/s either way).  The two
                 * copy loops stay rolled: unrolled they were ~40% of its codegen (6,8,2 variant:
                 * 0.45-0.66 -> 0.26 s CPU) for nothing (128x256·(256x256)ᵀ 87-101 vs 102-110 GFLOP/s). */
                for (int kk = 0; kk < kf; kk += 4)
                    #pragma unroll 1
                    for (int e = 0; e < 16; e += 4) {
                        float4 r0 = vload4(0, src[e] + kk), r1 = vload4(0, src[e + 1] + kk);
                        float4 r2 = vload4(0, src[e + 2] + kk), r3 = vload4(0, src[e + 3] + kk);
                        __local float *d = Bp + kk * GEMM_TN + c0 + e;
                        vstore4((float4)(r0.s0, r1.s0, r2.s0, r3.s0), 0, d);
                        vstore4((float4)(r0.s1, r1.s1, r2.s1, r3.s1), 0, d + GEMM_TN);
                        vstore4((float4)(r0.s2, r1.s2, r2.s2, r3.s2), 0, d + 2 * GEMM_TN);
                        vstore4((float4)(r0.s3, r1.s3, r2.s3, r3.s3), 0, d + 3 * GEMM_TN);
                    }
                for (int k = kf; k < kb; k++)
                    #pragma unroll 1
                    for (int e = 0; e < 16; e++)
                        Bp[k * GEMM_TN + c0 + e] = src[e][k];
            }
        } else if (j0 + GEMM_TN <= N) {
            /* op(B) = B: its rows' TN-wide slices, one after another */
            #pragma unroll 1
            for (int k = 0; k < kb; k++) {
                __global const float *src = B + (size_t)(k0 + k) * ldb + j0;
                #pragma unroll
                for (int v = 0; v < GEMM_NV; v++)
                    VSTORE(VLOAD(v, src), v, Bp + k * GEMM_TN);
            }
        } else {
            #pragma unroll 1
            for (int k = 0; k < kb; k++) {
                __global const float *src = B + (size_t)(k0 + k) * ldb;
                #pragma unroll 1
                for (int c = 0; c < GEMM_TN; c++)
                    Bp[k * GEMM_TN + c] = src[min(j0 + c, N - 1)];
            }
        }
        for (int q = 0; q < rm; q++) {
            int i0 = ib + q * GEMM_TM;
            if (i0 >= M)
                break;
            __global const float *arow[GEMM_TM];
            VT acc[GEMM_TM][GEMM_NV];
            #pragma unroll
            for (int r = 0; r < GEMM_TM; r++) {
                arow[r] = A + (size_t)min(i0 + r, M - 1) * lda + k0;
                #pragma unroll
                for (int v = 0; v < GEMM_NV; v++)
                    acc[r][v] = (VT)(0.0f);
            }
            for (int k = 0; k < kb; k++) {
                GEMM_PANEL_ROW(Bp)
                GEMM_TILE_FMA(arow[r][k])
            }
            float bet = k0 == 0 ? beta : 1.0f;
            GEMM_STORE_TILE(i0, j0, bet, k0 + kb >= K ? ep : 0) /* the epilogue on the whole sum */
        }
    }
}

#define GEMM_STRIP_KERNEL(NAME, TB)                                              \
    __kernel void NAME(GEMM_ARGS)                                                \
    {                                                                            \
        __local float Bp[GEMM_KC * GEMM_TN];                                     \
        int z = get_global_id(2);                                                \
        GEMM_F(tiled_strip)(A + ao + (size_t)z * sa, lda, B + bo + (size_t)z * sb, ldb, C + co + (size_t)z * sc, ldc, \
                    M, N, K, alpha, beta, bias + bias_o, ep, Bp, TB);            \
    }
#if GEMM_HAS(16)
GEMM_STRIP_KERNEL(GEMM_F(gemm_tiled_t), 1)
#endif
#if GEMM_HAS(32)
GEMM_STRIP_KERNEL(GEMM_F(gemm_tiled_p), 0)
#endif
#endif
