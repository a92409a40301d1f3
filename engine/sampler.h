/* engine/sampler.h — a sampler object: settings + scratch for one request's token draws.
 *
 * Why an object: a request (an answer, an image) samples hundreds of times with the same
 * settings; the sampler owns the scratch rows sized once for the vocabulary and draws its
 * uniform numbers from the counter-based RNG keyed by (seed, stream, step), so a draw depends on
 * nothing but the logits and those three numbers (not on threads, batch composition or backend). */
#ifndef JANUS_ENGINE_SAMPLER_H
#define JANUS_ENGINE_SAMPLER_H
#include <stdint.h>

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jn_sampler {
    int n;               /* row length (vocabulary or codebook size) */
    float temperature;   /* <= 0: greedy (argmax) */
    int top_k;           /* 0: off */
    float top_p;         /* 1: off */
    uint64_t seed;
    float *scratch;      /* [n] */
    int *scratch_idx;    /* [n] */
} jn_sampler;

/* JN_ERR_USAGE for top_k < 0 or top_p outside (0, 1]; JN_ERR_NOMEM. */
jn_status jn_sampler_init(jn_sampler *s, int n, float temperature, int top_k, float top_p, uint64_t seed,
                          jn_error *err);
void jn_sampler_free(jn_sampler *s);
/* One token from logits[n]: argmax when greedy, else jn_sample with u = rng(seed, stream, step). */
int32_t jn_sampler_draw(jn_sampler *s, const float *logits, uint64_t stream, uint64_t step);

#ifdef __cplusplus
}
#endif
#endif
