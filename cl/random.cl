/* random.cl — counter-based randomness (Philox4x32-10): uniform, normal, patch masks, dropout. */

/* Bit-exact agreement with the host reference needs the same rounding steps. */
#pragma OPENCL FP_CONTRACT OFF

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* Stream tags (counter word 1) keep the ops' streams apart for one (seed, counter). */
#define RNG_TAG_UNIFORM 0x55u
#define RNG_TAG_NORMAL  0x4Eu
#define RNG_TAG_PATCH   0x50u
#define RNG_TAG_DROPOUT 0x44u

uint4 philox4x32_10(uint4 c, uint2 k)
{
    for (int r = 0; r < 10; r++) {
        uint hi0 = mul_hi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
        uint hi1 = mul_hi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k.x += PHILOX_W0;
        k.y += PHILOX_W1;
    }
    return c;
}

/* Block b of the stream `tag` for key (k0,k1) and counter (c2,c3). */
uint4 rng_block(uint b, uint tag, uint k0, uint k1, uint c2, uint c3)
{
    return philox4x32_10((uint4)(b, tag, c2, c3), (uint2)(k0, k1));
}

uint rng_word(uint4 r, int j)
{
    return j == 0 ? r.x : j == 1 ? r.y : j == 2 ? r.z : r.w;
}

/* [0, 1) with 24 random bits: exactly representable. */
float rng_u01(uint w) { return (float)(w >> 8) * 0x1.0p-24f; }

/* One work-item per block of 4 outputs: element i uses word i%4 of block i/4. */
__kernel void random_uniform_fwd(__global float *y, int yo, int n, uint k0, uint k1, uint c2, uint c3,
                                 float lo, float hi)
{
    int b = get_global_id(0);
    if (b * 4 >= n)
        return;
    uint4 r = rng_block((uint)b, RNG_TAG_UNIFORM, k0, k1, c2, c3);
    float span = hi - lo;
    for (int j = 0; j < 4 && b * 4 + j < n; j++) {
        float v = lo + span * rng_u01(rng_word(r, j));
        y[yo + b * 4 + j] = v < hi ? v : nextafter(hi, lo);
    }
}

/* Box-Muller: words (0,1) give elements 0,1 and words (2,3) elements 2,3 of the block. */
__kernel void random_normal_fwd(__global float *y, int yo, int n, uint k0, uint k1, uint c2, uint c3,
                                float mean, float std)
{
    int b = get_global_id(0);
    if (b * 4 >= n)
        return;
    uint4 r = rng_block((uint)b, RNG_TAG_NORMAL, k0, k1, c2, c3);
    for (int j = 0; j < 4 && b * 4 + j < n; j++) {
        int p = j & ~1;
        float u1 = (float)((rng_word(r, p) >> 8) + 1u) * 0x1.0p-24f; /* (0, 1] */
        float t = (float)(rng_word(r, p + 1) >> 8) * 0x1.0p-23f;     /* 2*u2 in [0, 2) */
        float rad = sqrt(-2.0f * log(u1));
        float z = rad * ((j & 1) ? sinpi(t) : cospi(t));
        y[yo + b * 4 + j] = mean + std * z;
    }
}

/* Patch masks by selection sampling (Knuth's algorithm S): patch t of sample s is taken with
 * probability (k - taken)/(np - t), so exactly k patches are taken.  One work-item per
 * (sample, patch) replays the draws for patches 0..t of its sample and writes its P*P pixels.
 * Draw t of sample s is word t%4 of block s*nblk + t/4. */
__kernel void patch_mask_fwd(__global float *m, int mo, int nsamples, int H, int W, int P, int k,
                             uint k0, uint k1, uint c2, uint c3)
{
    int gid = get_global_id(0);
    int pw = W / P, np = (H / P) * pw;
    if (gid >= nsamples * np)
        return;
    int s = gid / np, t = gid % np;
    int nblk = (np + 3) / 4;
    int taken = 0, mine = 0;
    uint4 r = (uint4)(0u);
    for (int q = 0; q <= t; q++) {
        if ((q & 3) == 0)
            r = rng_block((uint)(s * nblk + q / 4), RNG_TAG_PATCH, k0, k1, c2, c3);
        int sel = (int)mul_hi(rng_word(r, q & 3), (uint)(np - q)) < k - taken;
        taken += sel;
        mine = sel;
    }
    float v = mine ? 1.0f : 0.0f;
    int py = (t / pw) * P, px = (t % pw) * P;
    __global float *row = m + mo + (size_t)s * H * W;
    for (int dy = 0; dy < P; dy++)
        for (int dx = 0; dx < P; dx++)
            row[(py + dy) * W + px + dx] = v;
}

/* Dropout: element i is kept when its 24-bit draw >= thr (= ceil(p * 2^24)), then scaled. */
__kernel void dropout_fwd(__global const float *x, int xo, __global float *y, int yo, int n, uint thr,
                          float scale, uint k0, uint k1, uint c2, uint c3)
{
    int b = get_global_id(0);
    if (b * 4 >= n)
        return;
    uint4 r = rng_block((uint)b, RNG_TAG_DROPOUT, k0, k1, c2, c3);
    for (int j = 0; j < 4 && b * 4 + j < n; j++) {
        int i = b * 4 + j;
        y[yo + i] = (rng_word(r, j) >> 8) >= thr ? x[xo + i] * scale : 0.0f;
    }
}

/* Backward regenerates the forward's mask from (seed, counter). */
__kernel void dropout_bwd(__global const float *gy, int gyo, __global float *gx, int gxo, int n, uint thr,
                          float scale, uint k0, uint k1, uint c2, uint c3, int acc)
{
    int b = get_global_id(0);
    if (b * 4 >= n)
        return;
    uint4 r = rng_block((uint)b, RNG_TAG_DROPOUT, k0, k1, c2, c3);
    for (int j = 0; j < 4 && b * 4 + j < n; j++) {
        int i = b * 4 + j;
        float g = (rng_word(r, j) >> 8) >= thr ? gy[gyo + i] * scale : 0.0f;
        gx[gxo + i] = acc ? gx[gxo + i] + g : g;
    }
}
