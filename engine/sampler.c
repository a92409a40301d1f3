/* engine/sampler.c — see sampler.h. */
#include "sampler.h"

#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "sample.h"

jn_status jn_sampler_init(jn_sampler *s, int n, float temperature, int top_k, float top_p, uint64_t seed,
                          jn_error *err) {
    memset(s, 0, sizeof *s);
    if (n < 1) return jn_fail(err, JN_ERR_USAGE, "sampler: row length %d", n);
    if (top_k < 0) return jn_fail(err, JN_ERR_USAGE, "top-k must be >= 0 (got %d)", top_k);
    if (!(top_p > 0.0f && top_p <= 1.0f)) return jn_fail(err, JN_ERR_USAGE, "top-p must be in (0, 1] (got %g)", (double)top_p);
    s->n = n;
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    s->seed = seed;
    if (temperature > 0.0f) { /* greedy needs no scratch */
        s->scratch = malloc((size_t)n * sizeof(float));
        s->scratch_idx = malloc((size_t)n * sizeof(int));
        if (!s->scratch || !s->scratch_idx) {
            jn_sampler_free(s);
            return jn_fail(err, JN_ERR_NOMEM, "out of memory for the sampler (%d entries)", n);
        }
    }
    return JN_OK;
}

void jn_sampler_free(jn_sampler *s) {
    free(s->scratch);
    free(s->scratch_idx);
    memset(s, 0, sizeof *s);
}

int32_t jn_sampler_draw(jn_sampler *s, const float *logits, uint64_t stream, uint64_t step) {
    if (s->temperature <= 0.0f) return jn_sample_argmax(logits, s->n);
    float u = jn_rng_uniform(s->seed, stream, step);
    return jn_sample(logits, s->n, s->temperature, s->top_k, s->top_p, u, s->scratch, s->scratch_idx);
}
