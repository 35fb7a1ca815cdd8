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
