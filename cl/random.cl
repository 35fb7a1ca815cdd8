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

CLG_STATIC uint4 philox4x32_10(uint4 c, uint2 k)
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
CLG_STATIC uint4 rng_block(uint b, uint tag, uint k0, uint k1, uint c2, uint c3)
{
    return philox4x32_10((uint4)(b, tag, c2, c3), (uint2)(k0, k1));
}

CLG_STATIC uint rng_word(uint4 r, int j)
{
    return j == 0 ? r.x : j == 1 ? r.y : j == 2 ? r.z : r.w;
}

/* [0, 1) with 24 random bits: exactly representable. */
CLG_STATIC float rng_u01(uint w) { return (float)(w >> 8) * 0x1.0p-24f; }

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
 * probability (k - taken)/(np - t), so exactly k patches are taken.  Draw t of sample s is word
 * t%4 of block s*nblk + t/4.  Two passes: one work-item per sample runs its draws once and writes
 * np 0/1 flags to sel, then one work-item per pixel row writes the pixels. */
__kernel void patch_mask_select(__global int *sel, int nsamples, int np, int k, uint k0, uint k1, uint c2,
                                uint c3)
{
    int s = get_global_id(0);
    if (s >= nsamples)
        return;
    int nblk = (np + 3) / 4;
    int taken = 0;
    __global int *out = sel + (size_t)s * np;
    for (int b = 0; b < nblk; b++) {
        uint4 r = rng_block((uint)(s * nblk + b), RNG_TAG_PATCH, k0, k1, c2, c3);
        uint w[4] = { r.x, r.y, r.z, r.w };
        int q0 = b * 4;
        for (int j = 0; j < 4 && q0 + j < np; j++) {
            int take = (int)mul_hi(w[j], (uint)(np - q0 - j)) < k - taken;
            taken += take;
            out[q0 + j] = take;
        }
    }
}

/* Pixel pass: one work-item per (sample, pixel row) writes the row's W pixels. */
__kernel void patch_mask_fill(__global const int *sel, __global float *m, int mo, int nsamples, int H, int W,
                              int P)
{
    int gid = get_global_id(0);
    if (gid >= nsamples * H)
        return;
    int s = gid / H, y = gid - s * H;
    int pw = W / P;
    __global const int *f = sel + (size_t)s * (H / P) * pw + (y / P) * pw;
    __global float *row = m + mo + (size_t)gid * W;
    for (int px = 0; px < pw; px++) {
        float v = f[px] ? 1.0f : 0.0f;
        for (int dx = 0; dx < P; dx++)
            row[px * P + dx] = v;
    }
}

/* Dropout, forward (src = x, dst = y, acc = 0) and backward (src = gy, dst = gx, which the
 * backward regenerates from (seed, counter)): element i is kept when its 24-bit draw >= thr
 * (= ceil(p * 2^24)), then scaled; acc adds into dst. */
__kernel void dropout_apply(__global const float *src, int so, __global float *dst, int dso, int n, uint thr,
                            float scale, uint k0, uint k1, uint c2, uint c3, int acc)
{
    int b = get_global_id(0);
    if (b * 4 >= n)
        return;
    uint4 r = rng_block((uint)b, RNG_TAG_DROPOUT, k0, k1, c2, c3);
    for (int j = 0; j < 4 && b * 4 + j < n; j++) {
        int i = b * 4 + j;
        float g = (rng_word(r, j) >> 8) >= thr ? src[so + i] * scale : 0.0f;
        dst[dso + i] = acc ? dst[dso + i] + g : g;
    }
}

/* ---- CPU style (clg__vec_kernels): 16 Philox blocks per work-item as uint16 lanes ----------
 * Same streams, element for element, as the kernels above (the integer rounds are exact);
 * work-groups of one, global size ceil(blocks / 16) (patch_mask_select_vec: one per sample). */

/* philox4x32_10 on 16 counters: lane l of (x, y, z, w) is one block. */
CLG_STATIC inline void philox16(uint16 *x, uint16 *y, uint16 *z, uint16 *w, uint k0, uint k1)
{
    for (int r = 0; r < 10; r++) {
        uint16 hi0 = mul_hi((uint16)(PHILOX_M0), *x), lo0 = (uint16)(PHILOX_M0) * *x;
        uint16 hi1 = mul_hi((uint16)(PHILOX_M1), *z), lo1 = (uint16)(PHILOX_M1) * *z;
        uint16 nx = hi1 ^ *y ^ k0, nz = hi0 ^ *w ^ k1;
        *x = nx;
        *y = lo1;
        *z = nz;
        *w = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
}

/* The 16 blocks b0 .. b0+15 of stream tag, as four words per block in v[4][16]. */
CLG_STATIC inline void rng_blocks16(uint v[4][16], uint b0, uint tag, uint k0, uint k1, uint c2, uint c3)
{
    uint16 x = (uint16)(b0) + (uint16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    uint16 y = (uint16)(tag), z = (uint16)(c2), w = (uint16)(c3);
    philox16(&x, &y, &z, &w, k0, k1);
    vstore16(x, 0, v[0]);
    vstore16(y, 0, v[1]);
    vstore16(z, 0, v[2]);
    vstore16(w, 0, v[3]);
}

__kernel void random_uniform_fwd_vec(__global float *y, int yo, int n, uint k0, uint k1, uint c2, uint c3,
                                     float lo, float hi)
{
    uint v[4][16];
    int b0 = get_global_id(0) * 16;
    rng_blocks16(v, (uint)b0, RNG_TAG_UNIFORM, k0, k1, c2, c3);
    float span = hi - lo, top = nextafter(hi, lo);
    for (int l = 0; l < 16; l++)
        for (int j = 0; j < 4; j++) {
            int i = (b0 + l) * 4 + j;
            if (i >= n)
                return;
            float u = lo + span * rng_u01(v[j][l]);
            y[yo + i] = u < hi ? u : top;
        }
}

__kernel void random_normal_fwd_vec(__global float *y, int yo, int n, uint k0, uint k1, uint c2, uint c3,
                                    float mean, float std)
{
    uint v[4][16];
    int b0 = get_global_id(0) * 16;
    rng_blocks16(v, (uint)b0, RNG_TAG_NORMAL, k0, k1, c2, c3);
    float e[4][16];
    for (int p = 0; p < 4; p += 2) {
        uint16 a = vload16(0, v[p]), b = vload16(0, v[p + 1]);
        float16 u1 = convert_float16((a >> 8) + 1u) * 0x1.0p-24f;
        float16 t = convert_float16(b >> 8) * 0x1.0p-23f;
        float16 rad = sqrt(-2.0f * log(u1));
        vstore16(mean + std * (rad * cospi(t)), 0, e[p]);
        vstore16(mean + std * (rad * sinpi(t)), 0, e[p + 1]);
    }
    for (int l = 0; l < 16; l++)
        for (int j = 0; j < 4; j++) {
            int i = (b0 + l) * 4 + j;
            if (i >= n)
                return;
            y[yo + i] = e[j][l];
        }
}

__kernel void patch_mask_select_vec(__global int *sel, int nsamples, int np, int k, uint k0, uint k1, uint c2,
                                    uint c3)
{
    int s = get_global_id(0);
    int nblk = (np + 3) / 4, taken = 0;
    __global int *out = sel + (size_t)s * np;
    uint v[4][16];
    for (int b0 = 0; b0 < nblk; b0 += 16) {
        rng_blocks16(v, (uint)(s * nblk + b0), RNG_TAG_PATCH, k0, k1, c2, c3);
        for (int l = 0; l < 16 && b0 + l < nblk; l++)
            for (int j = 0; j < 4; j++) {
                int q = (b0 + l) * 4 + j;
                if (q >= np)
                    break;
                int take = (int)mul_hi(v[j][l], (uint)(np - q)) < k - taken;
                taken += take;
                out[q] = take;
            }
    }
}

__kernel void dropout_apply_vec(__global const float *src, int so, __global float *dst, int dso, int n, uint thr,
                                float scale, uint k0, uint k1, uint c2, uint c3, int acc)
{
    uint v[4][16];
    int b0 = get_global_id(0) * 16;
    rng_blocks16(v, (uint)b0, RNG_TAG_DROPOUT, k0, k1, c2, c3);
    for (int l = 0; l < 16; l++)
        for (int j = 0; j < 4; j++) {
            int i = (b0 + l) * 4 + j;
            if (i >= n)
                return;
            float g = (v[j][l] >> 8) >= thr ? src[so + i] * scale : 0.0f;
            dst[dso + i] = acc ? dst[dso + i] + g : g;
        }
}

/* ---- augment: per-view random resized crop, flip, cutout, noise ---------------------------
 * View row r (image r % nimg) draws its parameters from blocks 3r, 3r+1, 3r+2 of stream
 * RNG_TAG_AUGMENT (words 0..11: area scale, log aspect, x place, x shift, y place, y shift,
 * flip, cutout on, cutout x, cutout y, -, -); the noise of output element i is the Box-Muller
 * draw of random_normal at element i of stream RNG_TAG_AUGNOISE.  Two passes: augment_params,
 * one work-item per row, writes AUG_NPAR floats per row (x0, y0, crop w / W, crop h / H, flip,
 * cutout x or -1, cutout y); augment_apply, one work-item per Philox block of 4 output elements,
 * samples, cuts and adds the noise. */
#define RNG_TAG_AUGMENT  0x41u
#define RNG_TAG_AUGNOISE 0x47u
#define AUG_NPAR 8

__kernel void augment_params(__global float *par, int nrows, int H, int W, float scale_lo, float scale_hi,
                             float lratio_lo, float lratio_hi, float translate, uint flip_thr, int cutout,
                             uint cutout_thr, uint k0, uint k1, uint c2, uint c3)
{
    int r = get_global_id(0);
    if (r >= nrows)
        return;
    uint4 b0 = rng_block((uint)(3 * r), RNG_TAG_AUGMENT, k0, k1, c2, c3);
    uint4 b1 = rng_block((uint)(3 * r + 1), RNG_TAG_AUGMENT, k0, k1, c2, c3);
    uint4 b2 = rng_block((uint)(3 * r + 2), RNG_TAG_AUGMENT, k0, k1, c2, c3);
    float s = scale_lo + (scale_hi - scale_lo) * rng_u01(b0.x);
    float ar = exp(lratio_lo + (lratio_hi - lratio_lo) * rng_u01(b0.y));
    float area = s * (float)(H * W);
    float cw = fmin(sqrt(area * ar), (float)W), ch = fmin(sqrt(area / ar), (float)H);
    __global float *p = par + (size_t)r * AUG_NPAR;
    p[0] = rng_u01(b0.z) * ((float)W - cw) + translate * (2.0f * rng_u01(b0.w) - 1.0f);
    p[1] = rng_u01(b1.x) * ((float)H - ch) + translate * (2.0f * rng_u01(b1.y) - 1.0f);
    p[2] = cw / (float)W;
    p[3] = ch / (float)H;
    p[4] = (b1.z >> 8) < flip_thr ? 1.0f : 0.0f;
    int cut = cutout > 0 && (b1.w >> 8) < cutout_thr;
    p[5] = cut ? (float)(int)mul_hi(b2.x, (uint)(W - cutout + 1)) : -1.0f;
    p[6] = (float)(int)mul_hi(b2.y, (uint)(H - cutout + 1));
    p[7] = 0.0f;
}

CLG_STATIC inline float aug_px(__global const float *img, int H, int W, int x, int y)
{
    return (x >= 0 && x < W && y >= 0 && y < H) ? img[y * W + x] : 0.0f;
}

/* Output pixel (px, y) of a view with parameters p (crop origin, steps, flip, cutout corner; see
 * augment_params) sampled bilinearly from img, before the noise: both apply kernels' pixel. */
CLG_STATIC inline float aug_sample(__global const float *p, __global const float *img, int H, int W, int px, int y,
                                   int cutout)
{
    int xs = p[4] != 0.0f ? W - 1 - px : px;
    float sx = p[0] + ((float)xs + 0.5f) * p[2] - 0.5f;
    float sy = p[1] + ((float)y + 0.5f) * p[3] - 0.5f;
    float fx = floor(sx), ax = sx - fx, fy = floor(sy), ay = sy - fy;
    int ix = (int)fx, iy = (int)fy;
    float top = (1.0f - ax) * aug_px(img, H, W, ix, iy) + ax * aug_px(img, H, W, ix + 1, iy);
    float bot = (1.0f - ax) * aug_px(img, H, W, ix, iy + 1) + ax * aug_px(img, H, W, ix + 1, iy + 1);
    float v = (1.0f - ay) * top + ay * bot;
    int cx = (int)p[5], cy = (int)p[6];
    if (cx >= 0 && px >= cx && px < cx + cutout && y >= cy && y < cy + cutout)
        v = 0.0f;
    return v;
}

__kernel void augment_apply(__global const float *x, int xo, __global const float *par, __global float *out, int oo,
                            int n, int nimg, int H, int W, int cutout, float noise_std, uint k0, uint k1, uint c2,
                            uint c3)
{
    int b = get_global_id(0);
    if (b * 4 >= n)
        return;
    int HW = H * W;
    float z[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
    if (noise_std > 0.0f) {
        uint4 nb = rng_block((uint)b, RNG_TAG_AUGNOISE, k0, k1, c2, c3);
        for (int p = 0; p < 4; p += 2) {
            float u1 = (float)((rng_word(nb, p) >> 8) + 1u) * 0x1.0p-24f;
            float t = (float)(rng_word(nb, p + 1) >> 8) * 0x1.0p-23f;
            float rad = sqrt(-2.0f * log(u1));
            z[p] = rad * cospi(t);
            z[p + 1] = rad * sinpi(t);
        }
    }
    for (int j = 0; j < 4 && b * 4 + j < n; j++) {
        int i = b * 4 + j, r = i / HW, pix = i - r * HW, y = pix / W, px = pix - y * W;
        float v = aug_sample(par + (size_t)r * AUG_NPAR, x + xo + (size_t)(r % nimg) * HW, H, W, px, y, cutout);
        out[oo + i] = v + noise_std * z[j];
    }
}

/* CPU style of augment_apply: 16 blocks (64 elements) per work-item, the noise in uint16 lanes
 * and the pixels in float16 lanes: the same pixels as aug_sample's, bit for bit (the same
 * expressions, lane by lane; taps outside the image read a clamped address and select 0). */
__kernel void augment_apply_vec(__global const float *x, int xo, __global const float *par, __global float *out,
                                int oo, int n, int nimg, int H, int W, int cutout, float noise_std, uint k0, uint k1,
                                uint c2, uint c3)
{
    int b0 = get_global_id(0) * 16, HW = H * W;
    float e[4][16], ef[64 + 16]; /* the noise by word, then in element order (16 lanes past the end) */
    if (noise_std > 0.0f) {
        uint v[4][16];
        rng_blocks16(v, (uint)b0, RNG_TAG_AUGNOISE, k0, k1, c2, c3);
        for (int p = 0; p < 4; p += 2) {
            uint16 a = vload16(0, v[p]), b = vload16(0, v[p + 1]);
            float16 u1 = convert_float16((a >> 8) + 1u) * 0x1.0p-24f;
            float16 t = convert_float16(b >> 8) * 0x1.0p-23f;
            float16 rad = sqrt(-2.0f * log(u1));
            vstore16(rad * cospi(t), 0, e[p]);
            vstore16(rad * sinpi(t), 0, e[p + 1]);
        }
        for (int l = 0; l < 16; l++)
            for (int j = 0; j < 4; j++)
                ef[l * 4 + j] = e[j][l];
    } else {
        for (int j = 0; j < 4; j++)
            vstore16((float16)(0.0f), 0, ef + 16 * j);
    }
    vstore16((float16)(0.0f), 0, ef + 64);
    /* Row by row (a work-item's 64 elements span at most a few rows of a view): the view's
     * parameters and the row's vertical taps once per row, then 16 pixels of the row at a time. */
    const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int i = b0 * 4, r = i / HW, pix = i - r * HW, y = pix / W, px = pix - y * W;
    int t = 0, tn = min(64, n - i);
    while (t < tn) {
        __global const float *p = par + (size_t)r * AUG_NPAR;
        __global const float *img = x + xo + (size_t)(r % nimg) * HW;
        float p0 = p[0], p2 = p[2];
        int flip = p[4] != 0.0f, cx = (int)p[5], cy = (int)p[6];
        float sy = p[1] + ((float)y + 0.5f) * p[3] - 0.5f;
        float fy = floor(sy), ay = sy - fy;
        int iy = (int)fy;
        int v0 = iy >= 0 && iy < H, v1 = iy + 1 >= 0 && iy + 1 < H;
        __global const float *row0 = img + (size_t)(v0 ? iy : 0) * W, *row1 = img + (size_t)(v1 ? iy + 1 : 0) * W;
        int cut_row = cx >= 0 && y >= cy && y < cy + cutout;
        int seg = min(W - px, tn - t);
        for (int q = 0; q < seg; q += 16) {
            int16 xx = (int16)(px + q) + lane;
            int16 xs = flip ? (int16)(W - 1) - xx : xx;
            float16 sx = (float16)(p0) + (convert_float16(xs) + 0.5f) * p2 - 0.5f;
            float16 fx = floor(sx), ax = sx - fx;
            int16 ix = convert_int16(fx);
            int16 h0 = (ix >= 0) & (ix < W), h1 = (ix + 1 >= 0) & (ix + 1 < W);
            int ia[16];
            vstore16(ix, 0, ia);
            float g00[16], g01[16], g10[16], g11[16];
            for (int l = 0; l < 16; l++) {
                /* scalar bounds: Oclgrind 21.10 evaluates clamp(int16, int, int) wrongly */
                int a = min(max(ia[l], 0), W - 1), b = min(max(ia[l] + 1, 0), W - 1);
                g00[l] = row0[a];
                g01[l] = row0[b];
                g10[l] = row1[a];
                g11[l] = row1[b];
            }
            float16 z = (float16)(0.0f);
            float16 a00 = select(z, vload16(0, g00), h0 & (int16)(-v0));
            float16 a01 = select(z, vload16(0, g01), h1 & (int16)(-v0));
            float16 a10 = select(z, vload16(0, g10), h0 & (int16)(-v1));
            float16 a11 = select(z, vload16(0, g11), h1 & (int16)(-v1));
            float16 top = (1.0f - ax) * a00 + ax * a01;
            float16 bot = (1.0f - ax) * a10 + ax * a11;
            float16 val = (1.0f - ay) * top + ay * bot;
            val = select(val, z, (xx >= cx) & (xx < cx + cutout) & (int16)(-cut_row));
            float16 o = val + noise_std * vload16(0, ef + t + q);
            int m = min(16, seg - q);
            if (m == 16) {
                vstore16(o, 0, out + oo + i + q);
            } else {
                float tmp[16];
                vstore16(o, 0, tmp);
                for (int l = 0; l < m; l++)
                    out[oo + i + q + l] = tmp[l];
            }
        }
        t += seg;
        i += seg;
        px += seg;
        if (px == W) {
            px = 0;
            if (++y == H) {
                y = 0;
                r++;
            }
        }
    }
}
