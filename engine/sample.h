/* engine/sample.h — host-side samplers over f32 logit rows: CFG combine, argmax, and
 * temperature / top-k / top-p sampling with an externally supplied uniform number.
 *
 * Why the uniform is an argument: the caller draws it from the counter-based RNG (rng.h) by
 * (seed, stream, step), so a run is reproducible on every backend and thread count. Nothing here
 * allocates; scratch buffers of the row length come from the caller (the session). */
#ifndef JANUS_ENGINE_SAMPLE_H
#define JANUS_ENGINE_SAMPLE_H

#ifdef __cplusplus
extern "C" {
#endif

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
 * get 0. idx[n] is scratch. Returns the number of kept tokens (>= 1), 0 if n <= 0. */
int jn_sample_dist(const float *logits, int n, float temperature, int top_k, float top_p, float *probs, int *idx);

/* Draws one token: jn_sample_dist, then inverse CDF with u in [0, 1) over the kept tokens in
 * index order (the first i whose cumulative probability exceeds u * total). Deterministic for
 * a given u. scratch[n], scratch_idx[n] are caller-owned. Returns -1 if n <= 0. */
int jn_sample(const float *logits, int n, float temperature, int top_k, float top_p, float u, float *scratch,
              int *scratch_idx);

#ifdef __cplusplus
}
#endif
#endif
