/* engine/cpu/cpu_simd.h — AVX2 helpers shared by the cpu kernels (vector exp, horizontal sum).
 *
 * Why: elementwise.c (silu/gelu), attention.c (softmax) and matmul.c need the same exp and the
 * same fixed-order horizontal sum; one definition keeps their numerics identical. Functions are
 * always_inline with target("avx2,fma,f16c") so callers compiled for that target inline them and
 * the build needs no global -mavx2. Only include from x86 code paths. */
#ifndef JANUS_ENGINE_CPU_SIMD_H
#define JANUS_ENGINE_CPU_SIMD_H

#if defined(__x86_64__) || defined(__i386__)
#define JN_X86 1
#include <immintrin.h>
#include <math.h>

#define JN_AVX2_FN __attribute__((target("avx2,fma,f16c")))
#define JN_AVX2_INLINE __attribute__((target("avx2,fma,f16c"), always_inline)) static inline

/* fixed-order sum of the 8 lanes */
JN_AVX2_INLINE float jn_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

JN_AVX2_INLINE float jn_hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* exp(x) by range reduction n = round(x·log2 e), r = x − n·ln2 (two-part ln2) and a degree-7
 * Taylor polynomial on |r| ≤ ln2/2 (truncation < 6e-9 relative). 0 below −87 (where the result
 * would be denormal), +inf above 88.3. */
JN_AVX2_INLINE __m256 jn_exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.0f), hi = _mm256_set1_ps(88.3f);
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 res = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    res = _mm256_blendv_ps(res, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
    res = _mm256_blendv_ps(res, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
    return res;
}
#endif
#endif
