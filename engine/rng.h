/* engine/rng.h — counter-based random numbers: Philox4x32-10 keyed by a 64-bit seed.
 *
 * Why counter-based: a value is a pure function of (seed, stream, index), so sampling is the same
 * on every backend, thread count and batch composition, with no RNG state to carry or share.
 * Convention: stream = which sequence (e.g. image number), index = which draw in it (e.g.
 * step * vocab + token). Philox4x32-10 is the Random123 generator (Salmon et al., SC'11), the
 * same family PyTorch/cuRAND use; its output is checked against the Random123 test vectors. */
#ifndef JANUS_ENGINE_RNG_H
#define JANUS_ENGINE_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One Philox4x32-10 block: key = {seed low 32 bits, seed high 32 bits}, counter =
 * {counter_lo low, counter_lo high, counter_hi low, counter_hi high} (32-bit words). */
void jn_philox_u32x4(uint64_t seed, uint64_t counter_hi, uint64_t counter_lo, uint32_t out[4]);

/* Uniform float in [0, 1) with 24-bit resolution: word (index & 3) of the block at counter
 * (hi = stream, lo = index >> 2), top 24 bits * 2^-24. */
float jn_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index);
/* Exponential(1): -log(1 - u) with u = jn_rng_uniform(seed, stream, index); in [0, 16.64]. */
float jn_rng_exponential(uint64_t seed, uint64_t stream, uint64_t index);

/* out[i] = jn_rng_uniform(seed, stream, index0 + i) / jn_rng_exponential(...), for i < n,
 * computing each Philox block once (about 4x cheaper than calling the scalar versions). */
void jn_rng_uniform_fill(uint64_t seed, uint64_t stream, uint64_t index0, float *out, size_t n);
void jn_rng_exponential_fill(uint64_t seed, uint64_t stream, uint64_t index0, float *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
