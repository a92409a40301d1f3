/* engine/rng.c — Philox4x32-10 and the uniform / exponential draws built on it (see rng.h).
 *
 * Why exponentials through double log: -log(1-u) is evaluated as double and rounded once to
 * float, so the result is the correctly rounded value on any libm (float logf differs by an ulp
 * between implementations), keeping a seed's meaning portable. */
#include "rng.h"

#include <math.h>

#include "sample_arith.h"

void jn_philox_u32x4(uint64_t seed, uint64_t counter_hi, uint64_t counter_lo, uint32_t out[4]) {
    jn_sa_philox(seed, counter_hi, counter_lo, out); /* shared with the CUDA sampler */
}

static inline float unit_to_exp(float u) { return (float)-log(1.0 - (double)u); }

float jn_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index) { return jn_sa_uniform(seed, stream, index); }

float jn_rng_exponential(uint64_t seed, uint64_t stream, uint64_t index) {
    return unit_to_exp(jn_rng_uniform(seed, stream, index));
}

void jn_rng_uniform_fill(uint64_t seed, uint64_t stream, uint64_t index0, float *out, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint64_t idx = index0 + i;
        uint32_t b[4];
        jn_philox_u32x4(seed, stream, idx >> 2, b);
        for (unsigned w = (unsigned)(idx & 3); w < 4 && i < n; w++, i++) out[i] = jn_sa_u32_to_unit(b[w]);
    }
}

void jn_rng_exponential_fill(uint64_t seed, uint64_t stream, uint64_t index0, float *out, size_t n) {
    jn_rng_uniform_fill(seed, stream, index0, out, n);
    for (size_t i = 0; i < n; i++) out[i] = unit_to_exp(out[i]);
}
