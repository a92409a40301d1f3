/* engine/sample_arith.h — the arithmetic the C sampler (sample.c) and the CUDA sampler
 * (cuda/sample.cu) share, written once as inline functions compiled by both the C compiler and
 * nvcc, so that the same logits and seed give the same token ids on every backend.
 *
 * Why a private exp and explicit rounding ops: libm's expf and CUDA's expf differ by an ulp here
 * and there, and nvcc contracts a*b+c into one FMA (one rounding instead of two) where a C
 * compiler may not. Every float operation below is therefore a single IEEE-754 binary32
 * operation with round-to-nearest-even: on the device through the __f*_rn intrinsics (never
 * contracted), on the host as plain C (C11 mode: gcc does not contract; sample.c turns clang's
 * contraction off). Division is IEEE on both (nvcc without --use_fast_math), denormals are kept.
 *
 * THE BLOCKED SAMPLER (the definition both implementations follow; n = row length):
 *   1. m_i = u_i + cfg·(c_i − u_i) for a CFG pair (cond row c, uncond row u), else the row itself.
 *   2. temperature T ≤ 0 (or NaN): argmax(m) (first maximum, NaNs ignored, 0 if all NaN). Done.
 *   3. x_i = m_i / T; NaN → −inf; −0 → +0.  mx = max_i x_i. mx = ±inf: argmax(m). Done.
 *   4. e_i = jn_sa_exp(x_i − mx)  (in [0, 1]; exactly 1 at the maximum).
 *   5. Rank key R_i = key32(x_i)·2^32 + (n − 1 − i): a larger R is a larger x, ties broken by the
 *      lower index. Every kept set is {i : R_i ≥ R*} for a threshold R* (R* = 0: all tokens).
 *   6. Mass of a set S, M(S): split the row into tiles of JN_SA_TILE = 256 consecutive tokens;
 *      tile sum = the pairwise tree over the tile's 256 slots (e_i for members of S, 0 for
 *      non-members and for slots past n): for s = 128, 64, …, 1: a[j] = a[j] + a[j + s] (j < s);
 *      M(S) = Σ over tiles in order, sequentially from 0 (((0 + t_0) + t_1) + …).
 *      M is monotone in S (IEEE addition is monotone), so thresholds can be searched.
 *   7. top-k (0 < k < n): R* = the k-th largest R (exact: selection, no arithmetic).
 *   8. top-p (p < 1): Z = M(kept so far); R* = the largest R with M(kept ∩ {R_i ≥ R}) ≥ p·Z
 *      (f32 product), i.e. the smallest prefix in rank order whose mass reaches p·Z; it always
 *      holds the top token.
 *   9. The draw: u = jn_rng_uniform(seed, stream, index); total = M(kept); target = u·total.
 *      Walk the tiles in order with S = 0: if target < S + t_r the token is in tile r, else
 *      S = S + t_r. Inside tile r: s = S; for each kept i in index order s = s + e_i, return the
 *      first i with target < s; if none (rounding), the last kept token of tile r. If no tile is
 *      chosen (target rounded up to total), the last kept token of the row.
 * On the GPU a warp computes a tile sum with lane l holding slots l + 32·j (j < 8): the strides
 * 128, 64, 32 are register adds, 16 … 1 are xor shuffles; because IEEE addition is commutative
 * every lane of the butterfly holds exactly the value of the tree above. */
#ifndef JANUS_ENGINE_SAMPLE_ARITH_H
#define JANUS_ENGINE_SAMPLE_ARITH_H

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define JN_SA_FN static __host__ __device__ __forceinline__
#else
#define JN_SA_FN static inline
#endif

#define JN_SA_TILE 256 /* tokens per tile of the blocked sums (8 warps × 32 lanes on the GPU) */

#if defined(__CUDA_ARCH__)
JN_SA_FN float jn_sa_add(float a, float b) { return __fadd_rn(a, b); }
JN_SA_FN float jn_sa_sub(float a, float b) { return __fsub_rn(a, b); }
JN_SA_FN float jn_sa_mul(float a, float b) { return __fmul_rn(a, b); }
JN_SA_FN float jn_sa_div(float a, float b) { return __fdiv_rn(a, b); }
JN_SA_FN uint32_t jn_sa_bits(float f) { return __float_as_uint(f); }
JN_SA_FN float jn_sa_from_bits(uint32_t u) { return __uint_as_float(u); }
JN_SA_FN uint32_t jn_sa_mulhi(uint32_t a, uint32_t b) { return __umulhi(a, b); }
#else
JN_SA_FN float jn_sa_add(float a, float b) { return a + b; }
JN_SA_FN float jn_sa_sub(float a, float b) { return a - b; }
JN_SA_FN float jn_sa_mul(float a, float b) { return a * b; }
JN_SA_FN float jn_sa_div(float a, float b) { return a / b; }
JN_SA_FN uint32_t jn_sa_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
JN_SA_FN float jn_sa_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
JN_SA_FN uint32_t jn_sa_mulhi(uint32_t a, uint32_t b) { return (uint32_t)(((uint64_t)a * b) >> 32); }
#endif

/* ---- Philox4x32-10 (Random123), key = seed, counter = {lo, hi} as four 32-bit words ---- */
JN_SA_FN void jn_sa_philox(uint64_t seed, uint64_t counter_hi, uint64_t counter_lo, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)counter_lo, c1 = (uint32_t)(counter_lo >> 32);
    uint32_t c2 = (uint32_t)counter_hi, c3 = (uint32_t)(counter_hi >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        if (r > 0) { /* key schedule: bump before every round but the first */
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const uint32_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
        uint32_t hi0 = jn_sa_mulhi(m0, c0), lo0 = m0 * c0;
        uint32_t hi1 = jn_sa_mulhi(m1, c2), lo1 = m1 * c2;
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

/* top 24 bits · 2^-24: exact in binary32, in [0, 1) */
JN_SA_FN float jn_sa_u32_to_unit(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

/* == jn_rng_uniform(seed, stream, index) (rng.h) */
JN_SA_FN float jn_sa_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
    uint32_t b[4];
    jn_sa_philox(seed, stream, index >> 2, b);
    return jn_sa_u32_to_unit(b[index & 3]);
}

/* ---- the sampler's float arithmetic ---- */

/* CFG mix: u + cfg·(c − u), two roundings (no FMA) */
JN_SA_FN float jn_sa_cfg(float c, float u, float cfg) { return jn_sa_add(u, jn_sa_mul(cfg, jn_sa_sub(c, u))); }

/* x = m / T with NaN → −inf and −0 → +0 (so equal values get equal keys) */
JN_SA_FN float jn_sa_scaled(float m, float T) {
    float x = jn_sa_div(m, T);
    if (x != x) return jn_sa_from_bits(0xFF800000u); /* -inf */
    return x == 0.0f ? 0.0f : x;
}

/* e^x for x ≤ 0 (Cephes expf scheme: x = n·ln2 + r, |r| ≤ ln2/2, degree-7 polynomial, exact
 * scaling by 2^n); relative error ~1e-7. x < −87 (and −inf, NaN) gives 0: e^−87 ≈ 1.6e−38 is
 * below anything a probability can resolve next to the maximum's 1. */
JN_SA_FN float jn_sa_exp(float x) {
    if (!(x >= -87.0f)) return 0.0f;
    if (x > 0.0f) x = 0.0f;
    float t = jn_sa_add(jn_sa_mul(x, 1.44269504088896341f), 0.5f);
    float n = (float)(int)t; /* t in (-125.1, 0.5]: floor via truncation, fixed up below */
    if (n > t) n = jn_sa_sub(n, 1.0f);
    /* r = x − n·ln2 in two steps; n·0.693359375 is exact (9-bit constant, |n| ≤ 126) */
    float r = jn_sa_sub(x, jn_sa_mul(n, 0.693359375f));
    r = jn_sa_sub(r, jn_sa_mul(n, -2.12194440e-4f));
    float z = jn_sa_mul(r, r);
    float p = 1.9875691500e-4f;
    p = jn_sa_add(jn_sa_mul(p, r), 1.3981999507e-3f);
    p = jn_sa_add(jn_sa_mul(p, r), 8.3334519073e-3f);
    p = jn_sa_add(jn_sa_mul(p, r), 4.1665795894e-2f);
    p = jn_sa_add(jn_sa_mul(p, r), 1.6666665459e-1f);
    p = jn_sa_add(jn_sa_mul(p, r), 5.0000001201e-1f);
    float y = jn_sa_add(jn_sa_add(jn_sa_mul(p, z), r), 1.0f);
    int ni = (int)n; /* in [-126, 0]: 2^n is a normal float */
    return jn_sa_mul(y, jn_sa_from_bits((uint32_t)(ni + 127) << 23));
}

/* order-preserving map of a (NaN-free) float to uint32: a < b ⇔ key(a) < key(b) */
JN_SA_FN uint32_t jn_sa_key32(float x) {
    uint32_t u = jn_sa_bits(x);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* rank key of token i of a row of n (step 5 above) */
JN_SA_FN uint64_t jn_sa_rank(float x, int i, int n) {
    return ((uint64_t)jn_sa_key32(x) << 32) | (uint32_t)(n - 1 - i);
}

/* bits of the index part of a rank key that can be nonzero for a row of n (n ≥ 1) */
JN_SA_FN int jn_sa_index_bits(int n) {
    int b = 0;
    while (b < 31 && ((uint32_t)1 << b) < (uint32_t)n) b++;
    return b;
}

#endif
