/* tests/util/weightpool.h — random in-memory weights for component tests: a pool of jn_weight
 * with host data in any dtype (made from uniform random f32 through the reference quantizer), and
 * helpers to hand them to a backend. */
#ifndef JANUS_TESTS_WEIGHTPOOL_H
#define JANUS_TESTS_WEIGHTPOOL_H

#include <stdint.h>

#include "engine/backend.h"

/* Deterministic xorshift stream: uniform [-1, 1). tu_seed resets it. */
void tu_seed(uint64_t seed);
float tu_frand(void);

/* New pool weight of type t, n_dims nd, shape (d0, d1, d2, d3) (unused dims 1): values
 * offset + scale * tu_frand(), converted with jn_from_f32_ref. Owned by the pool. */
jn_weight *tu_weight_new(jn_dtype t, int nd, int64_t d0, int64_t d1, int64_t d2, int64_t d3, float scale,
                         float offset);
/* be->weight_upload / weight_release on every pool weight. */
void tu_weights_upload(jn_backend *be);
void tu_weights_release(jn_backend *be);
/* Frees every pool weight (the pool is empty afterwards). */
void tu_weights_free(void);
/* malloc'ed f32 copy of a weight's values. */
float *tu_weight_f32(const jn_weight *w);

#endif
