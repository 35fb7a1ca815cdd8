/* ref_random.c — double-precision references of the random ops (host Philox4x32-10, same streams). */
#include <math.h>
#include "ref_ops.h"

/* Must match cl/random.cl. */
#define RNG_TAG_UNIFORM 0x55u
#define RNG_TAG_NORMAL  0x4Eu
#define RNG_TAG_PATCH   0x50u
#define RNG_TAG_DROPOUT 0x44u

/* Philox4x32-10 (Salmon et al. 2011); exported for the known-answer test in test_random.c. */
void ref_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* Word i%4 of block b of stream `tag`: the draw of element i when b = i/4. */
static uint32_t draw(const clg_attrs *a, uint32_t tag, uint32_t block, int word)
{
    uint32_t ctr[4] = { block, tag, (uint32_t)a->counter, (uint32_t)(a->counter >> 32) };
    uint32_t key[2] = { (uint32_t)a->seed, (uint32_t)(a->seed >> 32) };
    uint32_t r[4];
    ref_philox4x32_10(ctr, key, r);
    return r[word];
}

int ref_random_uniform(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)in;
    int64_t n = clg_shape_numel(&out->s);
    double lo = a->alpha, hi = a->beta;
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(draw(a, RNG_TAG_UNIFORM, (uint32_t)(i / 4), (int)(i % 4)) >> 8) / 16777216.0;
        out->d[i] = lo + (hi - lo) * u;
    }
    return 0;
}

int ref_random_normal(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    (void)in;
    int64_t n = clg_shape_numel(&out->s);
    for (int64_t i = 0; i < n; i++) {
        int j = (int)(i % 4), p = j & ~1;
        uint32_t b = (uint32_t)(i / 4);
        double u1 = (double)((draw(a, RNG_TAG_NORMAL, b, p) >> 8) + 1u) / 16777216.0;
        double t = (double)(draw(a, RNG_TAG_NORMAL, b, p + 1) >> 8) / 8388608.0;
        double rad = sqrt(-2.0 * log(u1));
        double z = rad * ((j & 1) ? sin(M_PI * t) : cos(M_PI * t));
        out->d[i] = (double)a->alpha + (double)a->beta * z;
    }
    return 0;
}

/* Selection sampling over the patches of each sample (same draws as the kernel). */
int ref_patch_mask(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    int N = (int)in->s.dim[0], H = a->height, W = a->width, P = a->patch;
    int pw = W / P, np = (H / P) * pw, nblk = (np + 3) / 4;
    int k = (int)floor((double)a->p * np + 0.5);
    for (int s = 0; s < N; s++) {
        int taken = 0;
        for (int t = 0; t < np; t++) {
            uint32_t w = draw(a, RNG_TAG_PATCH, (uint32_t)(s * nblk + t / 4), t % 4);
            int sel = (int)(((uint64_t)w * (uint64_t)(np - t)) >> 32) < k - taken;
            taken += sel;
            int py = (t / pw) * P, px = (t % pw) * P;
            for (int dy = 0; dy < P; dy++)
                for (int dx = 0; dx < P; dx++)
                    out->d[(int64_t)s * H * W + (py + dy) * W + px + dx] = sel ? 1.0 : 0.0;
        }
    }
    return 0;
}

int ref_dropout(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    int64_t n = clg_shape_numel(&in->s);
    double p = a->p;
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(draw(a, RNG_TAG_DROPOUT, (uint32_t)(i / 4), (int)(i % 4)) >> 8) / 16777216.0;
        out->d[i] = u >= p ? in->d[i] / (1.0 - p) : 0.0;
    }
    return 0;
}

/* Must match cl/random.cl's augment_fwd. */
#define RNG_TAG_AUGMENT  0x41u
#define RNG_TAG_AUGNOISE 0x47u

static double u24(uint32_t w) { return (double)(w >> 8) / 16777216.0; }

static double aug_px(const double *img, int H, int W, int x, int y)
{
    return (x >= 0 && x < W && y >= 0 && y < H) ? img[y * W + x] : 0.0;
}

int ref_augment(const ref_tensor *in, const clg_attrs *a, ref_tensor *out)
{
    const struct clg_augment_attrs *g = &a->aug;
    int N = (int)in->s.dim[0], H = a->height, W = a->width, rows = (int)out->s.dim[0];
    uint32_t flip_thr = (uint32_t)ceil((double)g->flip_p * 16777216.0);
    uint32_t cut_thr = (uint32_t)ceil((double)g->cutout_p * 16777216.0);
    for (int r = 0; r < rows; r++) {
        uint32_t w[12];
        for (int k = 0; k < 12; k++)
            w[k] = draw(a, RNG_TAG_AUGMENT, (uint32_t)(3 * r + k / 4), k % 4);
        double s = g->scale_lo + ((double)g->scale_hi - g->scale_lo) * u24(w[0]);
        double llo = log((double)g->ratio_lo), lhi = log((double)g->ratio_hi);
        double ar = exp(llo + (lhi - llo) * u24(w[1]));
        double area = s * H * W;
        double cw = fmin(sqrt(area * ar), W), ch = fmin(sqrt(area / ar), H);
        double x0 = u24(w[2]) * (W - cw) + g->translate * (2.0 * u24(w[3]) - 1.0);
        double y0 = u24(w[4]) * (H - ch) + g->translate * (2.0 * u24(w[5]) - 1.0);
        int flip = (w[6] >> 8) < flip_thr;
        int cut = g->cutout > 0 && (w[7] >> 8) < cut_thr;
        int cx = (int)(((uint64_t)w[8] * (uint64_t)(W - g->cutout + 1)) >> 32);
        int cy = (int)(((uint64_t)w[9] * (uint64_t)(H - g->cutout + 1)) >> 32);
        const double *img = in->d + (int64_t)(r % N) * H * W;
        for (int y = 0; y < H; y++)
            for (int px = 0; px < W; px++) {
                int xs = flip ? W - 1 - px : px;
                double sx = x0 + (xs + 0.5) * cw / W - 0.5, sy = y0 + (y + 0.5) * ch / H - 0.5;
                double fx = floor(sx), fy = floor(sy), ax = sx - fx, ay = sy - fy;
                int ix = (int)fx, iy = (int)fy;
                double v = (1 - ay) * ((1 - ax) * aug_px(img, H, W, ix, iy) + ax * aug_px(img, H, W, ix + 1, iy)) +
                           ay * ((1 - ax) * aug_px(img, H, W, ix, iy + 1) + ax * aug_px(img, H, W, ix + 1, iy + 1));
                if (cut && y >= cy && y < cy + g->cutout && px >= cx && px < cx + g->cutout)
                    v = 0.0;
                if (g->noise_std > 0) {
                    int64_t i = ((int64_t)r * H + y) * W + px;
                    int j = (int)(i % 4), p = j & ~1;
                    uint32_t b = (uint32_t)(i / 4);
                    double u1 = (double)((draw(a, RNG_TAG_AUGNOISE, b, p) >> 8) + 1u) / 16777216.0;
                    double t = (double)(draw(a, RNG_TAG_AUGNOISE, b, p + 1) >> 8) / 8388608.0;
                    v += g->noise_std * sqrt(-2.0 * log(u1)) * ((j & 1) ? sin(M_PI * t) : cos(M_PI * t));
                }
                out->d[((int64_t)r * H + y) * W + px] = v;
            }
    }
    return 0;
}
