/* engine/cpu/attention.c — scaled dot-product attention for the cpu backend.
 *
 * Why this design: one task per (sequence, head, block of up to QB query rows), taken by the
 * pool threads from an atomic counter (each task's result does not depend on who runs it). Per task: S[qb, n_kv] = Q·Kᵀ with the matmul micro-kernel (K rows act as the
 * weight rows, so no transpose), scale, causal mask, f32 softmax with max subtraction (vector
 * exp), then O[qb, d] = P·V as an outer-product FMA sweep over keys (4 query rows × 16 columns
 * register tile, V streamed once per tile), divided by the row sum; a single query (decode) streams
 * V once with its whole output row in registers (pv1_*). Masked keys get P = 0, so a
 * query's bits do not depend on the other queries in its block, on n_q or on the thread count.
 * With more than a few queries the head's K and V slices are first packed contiguously into
 * scratch: rows ldkv floats apart (4 KB for 16×64) alias in L1 and would be re-read from L2.
 * Half-precision caches (f16, bf16: jn_cpu_attention_kv): with up to 4 queries (decode, CFG
 * rows) the AVX2/AVX-512 kernels read the 2-byte values directly and convert them in registers
 * (Q·Kᵀ through the matmul's f16/bf16 weight path, P·V through vload8/vload16); with more, the
 * head's slices are converted while packed. Conversions are exact and every FMA sequence is the
 * f32 one, so a row equals the f32 kernel's on the converted cache bit for bit, and a decode row
 * its prefill row. q8_0 caches (34 bytes per 32 values: a scale times int8s, exact in f32) are
 * read in registers by the keys-outer decode kernel (attn1_heads) for any number of sequences,
 * and converted while packed otherwise; the same bit-for-bit property holds.
 * Scratch: per-thread QB·n_kv scores (+ 2·n_kv·d_head packed K/V), reserved before the pool
 * runs (no allocation per call in steady state). */
#include "cpu_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "cpu_simd.h"

#define QB 32 /* query rows per task */


typedef struct attn_ctx {
    const jn_cpu *c;
    float *out;
    const float *q;
    const void *k, *v; /* kv_type elements */
    jn_dtype kv_type;
    int n_seq, n_q, n_kv, n_head, d_head, ldq, ldkv, ldo, causal;
    size_t seq_stride;
    float scale;
    int n_qblk;
    int heads_per_task; /* keys-outer decode (attn1_task): heads of one sequence per task */
    atomic_long next; /* next task to take */
} attn_ctx;

/* dst[j*d + c] = element col0 + c of row j of src (rows ld elements of type t apart, the first
 * at src), as f32 (exact), j < n, c < d */
static void pack_rows_scalar(float *dst, const void *src, jn_dtype t, size_t ld, int col0, int n, int d) {
    const size_t rs = jn_elem_offset(t, ld);
    for (int j = 0; j < n; j++) {
        const uint8_t *row = (const uint8_t *)src + (size_t)j * rs;
        if (t == JN_F32) memcpy(dst + (size_t)j * d, (const float *)row + col0, (size_t)d * sizeof(float));
        else
            for (int c = 0; c < d; c++) dst[(size_t)j * d + c] = jn_row_get(t, row, (size_t)(col0 + c));
    }
}

/* element codes of the K/V the kernels read: 0 f32 (or packed), 1 f16, 2 bf16, 3 q8_0 */
static int kv_code(jn_dtype t) { return t == JN_F32 ? 0 : t == JN_F16 ? 1 : t == JN_BF16 ? 2 : 3; }

/* V element i of a cache of type vt (0 f32, 1 f16, 2 bf16), as f32 (exact): the d_head % 8 tails */
static inline float vget(const int vt, const void *v, size_t i) {
    static const jn_dtype types[3] = {JN_F32, JN_F16, JN_BF16};
    return jn_row_get(types[vt], v, i);
}

/* o[i*ldo + c] = sum_j p[i*ldp + j] * v[j*ldv + c] / sum[i], i < nq, j < nk, c < d (V: f32) */
static void pv_scalar(float *o, int ldo, const float *p, int ldp, const float *v, size_t ldv, int nq, int nk, int d,
                      const float *sum) {
    for (int i = 0; i < nq; i++)
        for (int c = 0; c < d; c++) {
            float acc = 0.0f;
            for (int j = 0; j < nk; j++) acc += p[(size_t)i * ldp + j] * v[(size_t)j * ldv + c];
            o[(size_t)i * ldo + c] = acc / sum[i];
        }
}

#ifdef JN_X86
/* 8 values of V at element i as f32 (exact conversions; q8_0: v is a row start, i a multiple
 * of 8, so the 8 values share one block and its scale) */
JN_AVX2_INLINE __m256 vload8(const int vt, const void *v, size_t i) {
    if (vt == 0) return _mm256_loadu_ps((const float *)v + i);
    if (vt == 3) {
        const jn_block_q8_0 *b = (const jn_block_q8_0 *)v + i / JN_QK8_0;
        __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b->qs + i % JN_QK8_0)));
        return _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(_cvtsh_ss(b->d)));
    }
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)v + i));
    if (vt == 1) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* pv_scalar's result for up to 4 query rows per register tile (V elements of type vt, ldv in
 * elements); the FMA sequence of each column over j does not depend on vt, so a half cache gives
 * the bits of its f32 conversion. */
JN_AVX2_INLINE void pv_avx2_t(const int vt, float *o, int ldo, const float *p, int ldp, const void *v, size_t ldv,
                              int nq, int nk, int d, const float *sum) {
    for (int i0 = 0; i0 < nq; i0 += 4) {
        int mr = nq - i0 < 4 ? nq - i0 : 4;
        const float *pp[4];
        for (int i = 0; i < 4; i++) pp[i] = p + (size_t)(i0 + (i < mr ? i : 0)) * ldp;
        int c = 0;
        for (; c + 16 <= d; c += 16) {
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
                   a31 = a00;
            for (int j = 0; j < nk; j++) {
                const size_t at = (size_t)j * ldv + c;
                __m256 v0 = vload8(vt, v, at), v1 = vload8(vt, v, at + 8);
                __m256 b0 = _mm256_broadcast_ss(pp[0] + j), b1 = _mm256_broadcast_ss(pp[1] + j);
                __m256 b2 = _mm256_broadcast_ss(pp[2] + j), b3 = _mm256_broadcast_ss(pp[3] + j);
                a00 = _mm256_fmadd_ps(b0, v0, a00);
                a01 = _mm256_fmadd_ps(b0, v1, a01);
                a10 = _mm256_fmadd_ps(b1, v0, a10);
                a11 = _mm256_fmadd_ps(b1, v1, a11);
                a20 = _mm256_fmadd_ps(b2, v0, a20);
                a21 = _mm256_fmadd_ps(b2, v1, a21);
                a30 = _mm256_fmadd_ps(b3, v0, a30);
                a31 = _mm256_fmadd_ps(b3, v1, a31);
            }
            __m256 r[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
            for (int i = 0; i < mr; i++) {
                __m256 s = _mm256_set1_ps(sum[i0 + i]);
                _mm256_storeu_ps(o + (size_t)(i0 + i) * ldo + c, _mm256_div_ps(r[i][0], s));
                _mm256_storeu_ps(o + (size_t)(i0 + i) * ldo + c + 8, _mm256_div_ps(r[i][1], s));
            }
        }
        for (; c + 8 <= d; c += 8) {
            __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
            for (int j = 0; j < nk; j++) {
                __m256 v0 = vload8(vt, v, (size_t)j * ldv + c);
                for (int i = 0; i < 4; i++) a[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(pp[i] + j), v0, a[i]);
            }
            for (int i = 0; i < mr; i++)
                _mm256_storeu_ps(o + (size_t)(i0 + i) * ldo + c, _mm256_div_ps(a[i], _mm256_set1_ps(sum[i0 + i])));
        }
        for (; c < d; c++)
            for (int i = 0; i < mr; i++) {
                float acc = 0.0f;
                for (int j = 0; j < nk; j++) acc = fmaf(pp[i][j], vget(vt, v, (size_t)j * ldv + c), acc);
                o[(size_t)(i0 + i) * ldo + c] = acc / sum[i0 + i];
            }
    }
}

/* One query row (decode): o[c] = Σ_j p[j]·v[j*ldv + c] / sum, V streamed once, row by row, with
 * the output in registers (64 columns per pass on AVX2, 128 on AVX-512). Each column is the same
 * fma sequence over j as in pv_avx2_t, so a decode row has its prefill row's bits on either ISA. */
JN_AVX2_INLINE void pv1_avx2_t(const int vt, float *o, const float *p, const void *v, size_t ldv, int nk, int d,
                               float sum) {
    int c = 0;
    for (; c + 64 <= d; c += 64) {
        __m256 a[8];
        for (int i = 0; i < 8; i++) a[i] = _mm256_setzero_ps();
        for (int j = 0; j < nk; j++) {
            const size_t at = (size_t)j * ldv + c;
            __m256 b = _mm256_broadcast_ss(p + j);
            for (int i = 0; i < 8; i++) a[i] = _mm256_fmadd_ps(b, vload8(vt, v, at + 8 * i), a[i]);
        }
        for (int i = 0; i < 8; i++) _mm256_storeu_ps(o + c + 8 * i, _mm256_div_ps(a[i], _mm256_set1_ps(sum)));
    }
    for (; c + 8 <= d; c += 8) {
        __m256 a = _mm256_setzero_ps();
        for (int j = 0; j < nk; j++) a = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), vload8(vt, v, (size_t)j * ldv + c), a);
        _mm256_storeu_ps(o + c, _mm256_div_ps(a, _mm256_set1_ps(sum)));
    }
    for (; c < d; c++) {
        float acc = 0.0f;
        for (int j = 0; j < nk; j++) acc = fmaf(p[j], vget(vt, v, (size_t)j * ldv + c), acc);
        o[c] = acc / sum;
    }
}

/* pack_rows_scalar's result, 8 columns at a time */
JN_AVX2_FN static void pack_rows_avx2(float *dst, const void *src, jn_dtype t, size_t ld, int col0, int n, int d) {
    if (t == JN_F32 || (d & 7) || (col0 & 7)) {
        pack_rows_scalar(dst, src, t, ld, col0, n, d);
        return;
    }
    const int vt = kv_code(t);
    const size_t rs = jn_elem_offset(t, ld);
    for (int j = 0; j < n; j++) {
        const uint8_t *row = (const uint8_t *)src + (size_t)j * rs;
        float *o = dst + (size_t)j * d;
        if (vt == 1)
            for (int c = 0; c < d; c += 8) _mm256_storeu_ps(o + c, vload8(1, row, (size_t)(col0 + c)));
        else if (vt == 2)
            for (int c = 0; c < d; c += 8) _mm256_storeu_ps(o + c, vload8(2, row, (size_t)(col0 + c)));
        else
            for (int c = 0; c < d; c += 8) _mm256_storeu_ps(o + c, vload8(3, row, (size_t)(col0 + c)));
    }
}

JN_AVX2_FN static void pv_avx2(int vt, float *o, int ldo, const float *p, int ldp, const void *v, size_t ldv, int nq,
                               int nk, int d, const float *sum) {
    if (vt == 0) pv_avx2_t(0, o, ldo, p, ldp, v, ldv, nq, nk, d, sum);
    else if (vt == 1) pv_avx2_t(1, o, ldo, p, ldp, v, ldv, nq, nk, d, sum);
    else pv_avx2_t(2, o, ldo, p, ldp, v, ldv, nq, nk, d, sum);
}
JN_AVX2_FN static void pv1_avx2(int vt, float *o, const float *p, const void *v, size_t ldv, int nk, int d, float sum) {
    if (vt == 0) pv1_avx2_t(0, o, p, v, ldv, nk, d, sum);
    else if (vt == 1) pv1_avx2_t(1, o, p, v, ldv, nk, d, sum);
    else pv1_avx2_t(2, o, p, v, ldv, nk, d, sum);
}

#define JN_AVX512_TARGET "avx512f,avx2,fma,f16c"
__attribute__((target(JN_AVX512_TARGET), always_inline)) static inline __m512 vload16(const int vt, const void *v,
                                                                                     size_t i) {
    if (vt == 0) return _mm512_loadu_ps((const float *)v + i);
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)v + i));
    if (vt == 1) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* V row j + 8 is prefetched (all of its d values) as row j is read: the rows of one head are a
 * cache row apart (4-8 KB), which the hardware prefetchers do not follow. */
__attribute__((target(JN_AVX512_TARGET), always_inline)) static inline void pv1_avx512_t(const int vt, float *o,
                                                                                        const float *p, const void *v,
                                                                                        size_t ldv, int nk, int d,
                                                                                        float sum) {
    const size_t es = vt == 0 ? 4 : 2;
    int c = 0;
    for (; c + 128 <= d; c += 128) {
        __m512 a[8];
        for (int i = 0; i < 8; i++) a[i] = _mm512_setzero_ps();
        for (int j = 0; j < nk; j++) {
            const size_t at = (size_t)j * ldv + c;
            for (size_t l = 0; l < 128 * es; l += 64) _mm_prefetch((const char *)v + (at + 8 * ldv) * es + l, _MM_HINT_T0);
            __m512 b = _mm512_set1_ps(p[j]);
            for (int i = 0; i < 8; i++) a[i] = _mm512_fmadd_ps(b, vload16(vt, v, at + 16 * i), a[i]);
        }
        for (int i = 0; i < 8; i++) _mm512_storeu_ps(o + c + 16 * i, _mm512_div_ps(a[i], _mm512_set1_ps(sum)));
    }
    if (c < d) pv1_avx2(vt, o + c, p, (const uint8_t *)v + (size_t)c * es, ldv, nk, d - c, sum);
}

__attribute__((target(JN_AVX512_TARGET))) static void pv1_avx512(int vt, float *o, const float *p, const void *v,
                                                                  size_t ldv, int nk, int d, float sum) {
    if (vt == 0) pv1_avx512_t(0, o, p, v, ldv, nk, d, sum);
    else if (vt == 1) pv1_avx512_t(1, o, p, v, ldv, nk, d, sum);
    else pv1_avx512_t(2, o, p, v, ldv, nk, d, sum);
}
#endif

/* row[j] = exp(scale·row[j] − max) for j < vis, 0 for vis <= j < nk; returns the sum (fixed order) */
static float softmax_row_scalar(float *row, int vis, int nk, float scale) {
    float mx = -INFINITY;
    for (int j = 0; j < vis; j++) {
        row[j] *= scale;
        if (row[j] > mx) mx = row[j];
    }
    float sum = 0.0f;
    for (int j = 0; j < vis; j++) {
        row[j] = expf(row[j] - mx);
        sum += row[j];
    }
    for (int j = vis; j < nk; j++) row[j] = 0.0f;
    return sum;
}

#ifdef JN_X86
JN_AVX2_FN static float softmax_row_avx2(float *row, int vis, int nk, float scale) {
    const __m256 vs = _mm256_set1_ps(scale);
    __m256 vmx = _mm256_set1_ps(-INFINITY);
    int j = 0;
    for (; j + 8 <= vis; j += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(row + j), vs);
        _mm256_storeu_ps(row + j, v);
        vmx = _mm256_max_ps(vmx, v);
    }
    float mx = jn_hmax8(vmx);
    for (; j < vis; j++) {
        row[j] *= scale;
        if (row[j] > mx) mx = row[j];
    }
    const __m256 m8 = _mm256_set1_ps(mx);
    __m256 vsum = _mm256_setzero_ps();
    for (j = 0; j + 8 <= vis; j += 8) {
        __m256 e = jn_exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), m8));
        _mm256_storeu_ps(row + j, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    if (j < vis) { /* tail through the same exp, padded with −inf (exp → 0) */
        float t[8];
        for (int i = 0; i < 8; i++) t[i] = j + i < vis ? row[j + i] - mx : -INFINITY;
        __m256 e = jn_exp8(_mm256_loadu_ps(t));
        _mm256_storeu_ps(t, e);
        for (int i = 0; j + i < vis; i++) row[j + i] = t[i];
        vsum = _mm256_add_ps(vsum, e);
    }
    for (j = vis; j < nk; j++) row[j] = 0.0f;
    return jn_hsum8(vsum);
}
#endif

#ifdef JN_X86
/* n8 (1 or 4) vectors of 8 values of a K/V row at element i, as vload8 gives them (q8_0 with
 * n8 = 4: i starts a block, whose scale is converted once for its 32 values) */
JN_AVX2_INLINE void vload_n(const int vt, const int n8, const void *v, size_t i, __m256 *out) {
    if (vt == 3 && n8 == 4) {
        const jn_block_q8_0 *b = (const jn_block_q8_0 *)v + i / JN_QK8_0;
        const __m256 sc = _mm256_set1_ps(_cvtsh_ss(b->d));
        for (int u = 0; u < 4; u++)
            out[u] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b->qs + 8 * u)))), sc);
        return;
    }
    for (int u = 0; u < n8; u++) out[u] = vload8(vt, v, i + 8 * (size_t)u);
}

/* Decode (one query per sequence), heads h0 .. h0+G-1 of sequence s, keys in the outer loop.
 * Why: consecutive keys of one head are a cache row apart (n_head·d_head elements, 4-8 KB: a
 * page), so a head-by-head sweep reads 256-512 bytes per page and, with many sequences (whose
 * caches do not stay in L2/L3), ran at half the memory bandwidth; walking the keys once for all G
 * heads reads each row's G·d contiguous values in order. Same arithmetic as the per-head path,
 * value for value: each score is the matmul micro-kernel's 8-lane FMA chain over d plus
 * jn_hsum8, the softmax is softmax_row_avx2, and each output column is the fma chain over j of
 * pv1/pv_avx2 (accumulated in L1 instead of registers), so a decode row keeps its prefill row's
 * bits. Four keys are taken at a time (four independent score chains; one accumulator load and
 * store per four FMAs) and, when d_head is a multiple of 32, 32 columns per inner step (n8 = 4:
 * a q8_0 block's scale once); neither changes any value's FMA order.
 * S: [G][nk] scores; acc: [G·d] accumulators. */
JN_AVX2_INLINE void attn1_heads_t(const int vt, const int n8, const attn_ctx *t, int s, int h0, int G, float *S,
                                  float *acc) {
    const int d = t->d_head, nk = t->n_kv, w = G * d, col0 = h0 * d, cw = 8 * n8; /* col0: the group's first column */
    const size_t rs = jn_elem_offset(t->kv_type, (size_t)t->ldkv); /* row stride, bytes */
    const float *q = t->q + (size_t)s * t->n_q * (size_t)t->ldq + (size_t)col0;
    float *o = t->out + (size_t)s * t->n_q * (size_t)t->ldo + (size_t)col0;
    const size_t off = jn_elem_offset(t->kv_type, (size_t)s * t->seq_stride); /* the sequence's first row */
    const char *kb = (const char *)t->k + off, *vb = (const char *)t->v + off;
    if (nk <= 0) {
        memset(o, 0, (size_t)w * sizeof(float));
        return;
    }
    __m256 x[4];
    int j = 0;
    for (; j + 4 <= nk; j += 4) {
        const char *r[4] = {kb + (size_t)j * rs, kb + (size_t)(j + 1) * rs, kb + (size_t)(j + 2) * rs,
                            kb + (size_t)(j + 3) * rs};
        for (int g = 0; g < G; g++) {
            __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
            for (int c = 0; c < d; c += cw) {
                __m256 qv[4];
                for (int u = 0; u < n8; u++) qv[u] = _mm256_loadu_ps(q + g * d + c + 8 * u);
                for (int i = 0; i < 4; i++) {
                    vload_n(vt, n8, r[i], (size_t)(col0 + g * d + c), x);
                    for (int u = 0; u < n8; u++) a[i] = _mm256_fmadd_ps(qv[u], x[u], a[i]);
                }
            }
            for (int i = 0; i < 4; i++) S[(size_t)g * nk + j + i] = jn_hsum8(a[i]);
        }
    }
    for (; j < nk; j++) {
        const char *row = kb + (size_t)j * rs;
        for (int g = 0; g < G; g++) {
            __m256 a = _mm256_setzero_ps();
            for (int c = 0; c < d; c += 8)
                a = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * d + c), vload8(vt, row, (size_t)(col0 + g * d + c)), a);
            S[(size_t)g * nk + j] = jn_hsum8(a);
        }
    }
    float sums[64];
    for (int g = 0; g < G; g++) sums[g] = softmax_row_avx2(S + (size_t)g * nk, nk, nk, t->scale);
    for (int c = 0; c < w; c += 8) _mm256_storeu_ps(acc + c, _mm256_setzero_ps());
    for (j = 0; j + 4 <= nk; j += 4) {
        const char *r[4] = {vb + (size_t)j * rs, vb + (size_t)(j + 1) * rs, vb + (size_t)(j + 2) * rs,
                            vb + (size_t)(j + 3) * rs};
        for (int g = 0; g < G; g++) {
            const float *sg = S + (size_t)g * nk + j;
            const __m256 p[4] = {_mm256_broadcast_ss(sg), _mm256_broadcast_ss(sg + 1), _mm256_broadcast_ss(sg + 2),
                                 _mm256_broadcast_ss(sg + 3)};
            float *ag = acc + g * d;
            for (int c = 0; c < d; c += cw) {
                __m256 a[4];
                for (int u = 0; u < n8; u++) a[u] = _mm256_loadu_ps(ag + c + 8 * u);
                for (int i = 0; i < 4; i++) {
                    vload_n(vt, n8, r[i], (size_t)(col0 + g * d + c), x);
                    for (int u = 0; u < n8; u++) a[u] = _mm256_fmadd_ps(p[i], x[u], a[u]);
                }
                for (int u = 0; u < n8; u++) _mm256_storeu_ps(ag + c + 8 * u, a[u]);
            }
        }
    }
    for (; j < nk; j++) {
        const char *row = vb + (size_t)j * rs;
        for (int g = 0; g < G; g++) {
            const __m256 p = _mm256_broadcast_ss(S + (size_t)g * nk + j);
            float *ag = acc + g * d;
            for (int c = 0; c < d; c += 8)
                _mm256_storeu_ps(ag + c, _mm256_fmadd_ps(p, vload8(vt, row, (size_t)(col0 + g * d + c)), _mm256_loadu_ps(ag + c)));
        }
    }
    for (int g = 0; g < G; g++) {
        const __m256 sm = _mm256_set1_ps(sums[g]);
        for (int c = 0; c < d; c += 8) _mm256_storeu_ps(o + g * d + c, _mm256_div_ps(_mm256_loadu_ps(acc + g * d + c), sm));
    }
}

JN_AVX2_FN static void attn1_heads(const attn_ctx *t, int s, int h0, int G, float *S, float *acc) {
    const int vt = kv_code(t->kv_type);
    if (t->d_head % 32 == 0) {
        if (vt == 0) attn1_heads_t(0, 4, t, s, h0, G, S, acc);
        else if (vt == 1) attn1_heads_t(1, 4, t, s, h0, G, S, acc);
        else if (vt == 2) attn1_heads_t(2, 4, t, s, h0, G, S, acc);
        else attn1_heads_t(3, 4, t, s, h0, G, S, acc);
    } else {
        if (vt == 0) attn1_heads_t(0, 1, t, s, h0, G, S, acc);
        else if (vt == 1) attn1_heads_t(1, 1, t, s, h0, G, S, acc);
        else if (vt == 2) attn1_heads_t(2, 1, t, s, h0, G, S, acc);
        else attn1_heads_t(3, 1, t, s, h0, G, S, acc);
    }
}
#endif

/* heads per decode task for the keys-outer kernel: the fewest groups that still give every
 * thread two tasks; 0 when it does not apply (more than one query, fewer than 4 sequences of a
 * float cache, no AVX2, d_head not a multiple of 8, more than 64 heads in a group) */
static int attn1_group(const jn_cpu *c, jn_dtype kv_type, int n_seq, int n_q, int n_head, int d_head) {
    /* with 1-3 sequences the per-head sweep is as fast (their caches stay in the last-level cache
     * more often; measured with bench_ops --what attention); a q8_0 cache always takes this
     * kernel (the per-head one would convert it to f32 scratch first) */
    if (n_q != 1 || (n_seq < 4 && kv_type != JN_Q8_0) || !c->avx2 || d_head % 8 != 0) return 0;
    int groups = (2 * c->nth + n_seq - 1) / n_seq;
    if (groups > n_head) groups = n_head;
    while (n_head % groups) groups++;
    int G = n_head / groups;
    return G <= 64 ? G : 0;
}

static void attn1_task(void *arg, int ith, int nth) {
    attn_ctx *t = (attn_ctx *)arg;
    (void)nth;
#ifdef JN_X86
    const int G = t->heads_per_task;
    const long groups = t->n_head / G, n_tasks = (long)t->n_seq * groups;
    float *S = (float *)t->c->tscratch[ith];                        /* [G, n_kv] */
    float *acc = S + (size_t)G * (size_t)(t->n_kv > 0 ? t->n_kv : 1); /* [G·d] */
    for (;;) {
        long task = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
        if (task >= n_tasks) break;
        attn1_heads(t, (int)(task / groups), (int)(task % groups) * G, G, S, acc);
    }
#else
    (void)ith;
    (void)t;
#endif
}

/* Whether tasks copy each head's K/V slices into f32 scratch first: many queries (L1 aliasing of
 * the strided rows), a q8_0 cache (decode reads it in attn1_heads), or a half cache on an
 * instance without the AVX2 kernels that read it directly (a few queries on AVX2 read f16/bf16 in
 * registers: the cache streams at 2 bytes a value). */
static int attn_packs(const jn_cpu *c, int n_q, jn_dtype kv_type) {
    return n_q > 4 || kv_type == JN_Q8_0 || (kv_type != JN_F32 && !c->avx2);
}

static void attn_task(void *arg, int ith, int nth) {
    attn_ctx *t = (attn_ctx *)arg;
    (void)nth;
    const long n_tasks = (long)t->n_seq * t->n_head * t->n_qblk;
    float *S = (float *)t->c->tscratch[ith];                   /* [QB, n_kv] */
    float *Kp = S + (size_t)QB * (size_t)t->n_kv;                /* [n_kv, d] packed K of one head */
    float *Vp = Kp + (size_t)t->n_kv * (size_t)t->d_head;       /* [n_kv, d] packed V */
    long packed = -1;                                           /* s*n_head + h held in Kp/Vp */
    const int pack = attn_packs(t->c, t->n_q, t->kv_type);
    const int vt = pack ? 0 : kv_code(t->kv_type); /* what the kernels read: f32 (or packed), f16, bf16 */
    float sums[QB];
    const int n_kv = t->n_kv, d = t->d_head;
    for (;;) {
        long task = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
        if (task >= n_tasks) break;
        int qb = (int)(task % t->n_qblk);
        int h = (int)((task / t->n_qblk) % t->n_head);
        int s = (int)(task / ((long)t->n_qblk * t->n_head));
        int i0 = qb * QB, nq = t->n_q - i0 < QB ? t->n_q - i0 : QB;
        const float *qp = t->q + ((size_t)s * t->n_q + i0) * (size_t)t->ldq + (size_t)h * d;
        const size_t seq_off = jn_elem_offset(t->kv_type, (size_t)s * t->seq_stride); /* the sequence's first row */
        const uint8_t *krow = (const uint8_t *)t->k + seq_off, *vrow = (const uint8_t *)t->v + seq_off;
        /* the head's first value when the kernels read the cache in place (never a q8_0 one) */
        const size_t head_off = pack ? 0 : jn_elem_offset(t->kv_type, (size_t)h * d);
        const void *kraw = krow + head_off, *vraw = vrow + head_off;
        const float *kp = (const float *)kraw, *vp = (const float *)vraw; /* read only when kv_type is f32 */
        size_t ldkv = (size_t)t->ldkv;
        float *op = t->out + ((size_t)s * t->n_q + i0) * (size_t)t->ldo + (size_t)h * d;
        /* keys visible to the block: up to the last query's limit */
        int nk = n_kv;
        if (t->causal) {
            nk = n_kv - t->n_q + i0 + nq; /* last visible + 1 for the block's last query */
            if (nk > n_kv) nk = n_kv;
        }
        if (nk <= 0) {
            for (int i = 0; i < nq; i++) memset(op + (size_t)i * t->ldo, 0, (size_t)d * sizeof(float));
            continue;
        }
        if (pack) {
            long key = (long)s * t->n_head + h;
            if (key != packed) {
#ifdef JN_X86
                if (t->c->avx2) {
                    pack_rows_avx2(Kp, krow, t->kv_type, ldkv, h * d, n_kv, d);
                    pack_rows_avx2(Vp, vrow, t->kv_type, ldkv, h * d, n_kv, d);
                } else
#endif
                {
                    pack_rows_scalar(Kp, krow, t->kv_type, ldkv, h * d, n_kv, d);
                    pack_rows_scalar(Vp, vrow, t->kv_type, ldkv, h * d, n_kv, d);
                }
                packed = key;
            }
            kp = Kp;
            vp = Vp;
            ldkv = (size_t)d;
        }
        const void *vsrc = vt ? vraw : (const void *)vp;
        if (vt) jn_cpu_mm_half(t->c, t->kv_type, S, (size_t)nk, qp, (size_t)t->ldq, nq, kraw, ldkv, nk, d);
        else jn_cpu_mm_f32(t->c, S, (size_t)nk, qp, (size_t)t->ldq, nq, kp, ldkv, nk, d, NULL);
        for (int i = 0; i < nq; i++) {
            float *row = S + (size_t)i * nk;
            int vis = t->causal ? n_kv - t->n_q + i0 + i + 1 : n_kv; /* keys this query sees */
            if (vis > nk) vis = nk;
            if (vis <= 0) {
                memset(row, 0, (size_t)nk * sizeof(float));
                sums[i] = 1.0f;
                continue;
            }
#ifdef JN_X86
            if (t->c->avx2) {
                sums[i] = softmax_row_avx2(row, vis, nk, t->scale);
                continue;
            }
#endif
            sums[i] = softmax_row_scalar(row, vis, nk, t->scale);
        }
#ifdef JN_X86
        if (t->c->isa == JN_ISA_AVX512 && nq == 1) {
            pv1_avx512(vt, op, S, vsrc, ldkv, nk, d, sums[0]);
            continue;
        }
        if (t->c->avx2 && nq == 1) {
            pv1_avx2(vt, op, S, vsrc, ldkv, nk, d, sums[0]);
            continue;
        }
        if (t->c->avx2) {
            pv_avx2(vt, op, t->ldo, S, nk, vsrc, ldkv, nq, nk, d, sums);
            continue;
        }
#endif
        pv_scalar(op, t->ldo, S, nk, vp, ldkv, nq, nk, d, sums);
    }
}

void jn_cpu_attention_kv(jn_backend *be, float *out, const float *q, const void *k, const void *v, jn_dtype kv_type,
                         int n_seq, int n_q, int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride,
                         int ldo, int causal, float scale) {
    jn_cpu *c = (jn_cpu *)be->impl;
    if (n_seq <= 0 || n_q <= 0 || n_head <= 0 || d_head <= 0) return;
    if (kv_type != JN_F32 && kv_type != JN_F16 && kv_type != JN_BF16 && kv_type != JN_Q8_0) {
        jn_fail(&c->err, JN_ERR_USAGE, "attention_kv: K/V cache dtype %d is not f32, f16, bf16 or q8_0", (int)kv_type);
        return;
    }
    if (kv_type == JN_Q8_0 && (ldkv % JN_QK8_0 || seq_stride % JN_QK8_0)) {
        jn_fail(&c->err, JN_ERR_USAGE, "attention_kv: a q8_0 cache needs ldkv (%d) and seq_stride (%zu) in whole 32-value blocks",
                ldkv, seq_stride);
        return;
    }
    attn_ctx t = {c,      out,    q,          k,     v,     kv_type, n_seq, n_q, n_kv, n_head, d_head, ldq, ldkv,
                  ldo,    causal, seq_stride, scale, (n_q + QB - 1) / QB, 0, 0};
    atomic_init(&t.next, 0);
    size_t kv = (size_t)(n_kv > 0 ? n_kv : 1);
    const int pack = attn_packs(c, n_q, kv_type);
    if (!jn_cpu_reserve(c, ((size_t)QB * kv + (pack ? 2 * kv * (size_t)d_head : 0)) * sizeof(float), 0)) return;
    const int G = attn1_group(c, kv_type, n_seq, n_q, n_head, d_head);
    if (G) { /* decode: keys outer, G heads per task */
        if (!jn_cpu_reserve(c, ((size_t)G * kv + (size_t)G * d_head) * sizeof(float), 0)) return;
        t.heads_per_task = G;
        long n_tasks = (long)n_seq * (n_head / G);
        if (c->nth == 1 || n_tasks == 1) attn1_task(&t, 0, 1);
        else jn_pool_run(c->pool, attn1_task, &t);
        return;
    }
    long n_tasks = (long)n_seq * n_head * t.n_qblk;
    if (c->nth == 1 || n_tasks == 1 || (double)n_tasks * n_q * n_kv * d_head < 32768.0) {
        attn_task(&t, 0, 1);
        return;
    }
    jn_pool_run(c->pool, attn_task, &t);
}

void jn_cpu_attention(jn_backend *be, float *out, const float *q, const float *k, const float *v, int n_seq, int n_q,
                      int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride, int ldo, int causal,
                      float scale) {
    jn_cpu_attention_kv(be, out, q, k, v, JN_F32, n_seq, n_q, n_kv, n_head, d_head, ldq, ldkv, seq_stride, ldo, causal,
                        scale);
}
