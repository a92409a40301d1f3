/* engine/rng.c — Philox4x32-10 and the uniform / exponential draws built on it (see rng.h).
 *
 * Why exponentials through double log: -log(1-u) is evaluated as double and rounded once to
 * float, so the result is the correctly rounded value on any libm (float logf differs by an ulp
 * between implementations), keeping a seed's meaning portable. */
#include "rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void jn_philox_u32x4(uint64_t seed, uint64_t counter_hi, uint64_t counter_lo, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)counter_lo, c1 = (uint32_t)(counter_lo >> 32);
    uint32_t c2 = (uint32_t)counter_hi, c3 = (uint32_t)(counter_hi >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        if (r > 0) { /* key schedule: bump before every round but the first */
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static inline float u32_to_unit(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }
static inline float unit_to_exp(float u) { return (float)-log(1.0 - (double)u); }

float jn_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
    uint32_t b[4];
    jn_philox_u32x4(seed, stream, index >> 2, b);
    return u32_to_unit(b[index & 3]);
}

float jn_rng_exponential(uint64_t seed, uint64_t stream, uint64_t index) {
    return unit_to_exp(jn_rng_uniform(seed, stream, index));
}

void jn_rng_uniform_fill(uint64_t seed, uint64_t stream, uint64_t index0, float *out, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint64_t idx = index0 + i;
        uint32_t b[4];
        jn_philox_u32x4(seed, stream, idx >> 2, b);
        for (unsigned w = (unsigned)(idx & 3); w < 4 && i < n; w++, i++) out[i] = u32_to_unit(b[w]);
    }
}

void jn_rng_exponential_fill(uint64_t seed, uint64_t stream, uint64_t index0, float *out, size_t n) {
    jn_rng_uniform_fill(seed, stream, index0, out, n);
    for (size_t i = 0; i < n; i++) out[i] = unit_to_exp(out[i]);
}
