/* engine/sample.h — host-side samplers over f32 logit rows: CFG combine, argmax, and
 * temperature / top-k / top-p sampling with an externally supplied uniform number. The
 * arithmetic is the blocked definition of sample_arith.h, which the CUDA sampler (the backend's
 * sample() op) reproduces exactly: the same logits and seed give the same ids on cpu and cuda.
 *
 * Why the uniform is an argument: the caller draws it from the counter-based RNG (rng.h) by
 * (seed, stream, step), so a run is reproducible on every backend and thread count. Nothing here
 * allocates; scratch buffers of the row length come from the caller (the session). */
#ifndef JANUS_ENGINE_SAMPLE_H
#define JANUS_ENGINE_SAMPLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a sampling step does with a logit row (the backend sample() op and jn_sample_rows). */
typedef struct jn_sample_params {
    float temperature; /* <= 0 (or NaN): greedy argmax */
    int top_k;         /* keep the k best; <= 0 or >= n: off */
    float top_p;       /* keep the smallest rank prefix with mass >= top_p; >= 1 (or NaN): off */
    float cfg;         /* CFG weight, used when rows come in (cond, uncond) pairs */
    uint64_t seed;     /* the draw for output row r uses jn_rng_uniform(seed, stream0 + r, index) */
} jn_sample_params;

/* out[i] = uncond[i] + cfg * (cond[i] - uncond[i]) in f32, for i < n. out may alias either input. */
void jn_cfg_combine(float *out, const float *cond, const float *uncond, int n, float cfg);

/* Index of the first maximum (NaNs ignored; 0 if all are NaN); -1 if n <= 0. */
int jn_sample_argmax(const float *x, int n);

/* The distribution jn_sample draws from, written to probs[n] (may be the same buffer as
 * scratch in jn_sample): temperature <= 0 gives a one-hot at the argmax; otherwise
 * softmax(logits / temperature) in f32 with max subtraction, then top-k if 0 < top_k < n (keep
 * the k largest, ties broken by lower index), then top-p if top_p < 1 (keep the smallest prefix of
 * the remaining tokens sorted by decreasing probability whose renormalised mass is >= top_p,
 * always at least one, as HF TopPLogitsWarper), renormalised over the kept tokens; removed tokens
 * get 0. The exp, the sums and the mass test follow the blocked definition in sample_arith.h
 * (f32, tile sums). idx[n] is scratch. Returns the number of kept tokens (>= 1), 0 if n <= 0. */
int jn_sample_dist(const float *logits, int n, float temperature, int top_k, float top_p, float *probs, int *idx);

/* Draws one token from the kept set of jn_sample_dist: inverse CDF with u in [0, 1) over the
 * unnormalised weights in index order (the first i whose cumulative weight exceeds u · total;
 * the tiled walk of sample_arith.h step 9). Deterministic for a given u. scratch[n],
 * scratch_idx[n] are caller-owned. Returns -1 if n <= 0. */
int jn_sample(const float *logits, int n, float temperature, int top_k, float top_p, float u, float *scratch,
              int *scratch_idx);

/* For r < n_out: the row r of logits[n_out, C] (cfg_pairs == 0), or the CFG mix of rows 2r (cond)
 * and 2r + 1 (uncond) of logits[2·n_out, C]; then jn_sample with u = jn_rng_uniform(sp->seed,
 * stream0 + r, index); the id is written repeat times to ids[r·repeat ...]. Generation: stream0 =
 * first image number, index = step, repeat = 2 (the id feeds both rows of the pair);
 * understanding: stream0 = 0, index = answer position. work_f[2·C], work_i[C] are scratch. */
void jn_sample_rows(int32_t *ids, int repeat, const float *logits, int n_out, int C, int cfg_pairs,
                    const jn_sample_params *sp, uint64_t stream0, uint64_t index, float *work_f, int *work_i);

#ifdef __cplusplus
}
#endif
#endif
