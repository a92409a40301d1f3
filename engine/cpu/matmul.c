/* engine/cpu/matmul.c — y[M,N] = x[M,K] · W[N,K]^T (+ bias) for the cpu backend.
 *
 * Why this design:
 *  - Float weights (f32/f16/bf16): W is processed in chunks of NB rows sized for L2; f16/bf16
 *    chunks are converted to f32 into per-thread scratch (exact), f32 is used in place. A 4×3
 *    register-blocked dot-product micro-kernel (8-lane f32 FMA accumulators, one fixed
 *    horizontal sum) computes 4 x rows × 3 W rows at a time. Decode (M ≤ 8 rows per task)
 *    streams each weight row once for all M rows, converting f16/bf16 in registers and
 *    prefetching the next tile (decode is bandwidth-bound; W rows are contiguous, so the tile
 *    after this one is the next stretch of the stream); prefill re-uses each converted chunk
 *    for 4-row x tiles. Activations are never quantized for float weights (f32 accuracy).
 *  - q8_0/q4_0 weights: x rows are quantized once per call to 8-bit blocks with an f32 scale
 *    (ggml-style), then exact int8 dot products into int32 lanes (AVX2 maddubs/madd, or one
 *    vpdpbusd with AVX-VNNI: same int32 values, same bits), scaled by d_w·d_x, accumulated in
 *    f32; 4×4 micro-tiles (matmul_qk.h), next tile prefetched as above.
 *  - Each output element's arithmetic is one fixed sequence (same lanes, same K order, same
 *    horizontal sum) whatever the tile shape, thread count or M: bit-identical results for any
 *    partition, and a row's result does not depend on the batch it is in.
 *  - The task grid (W-chunk × x-row-block) is fixed by the shapes; threads take tasks from an
 *    atomic counter (an early finisher takes more instead of spinning), x is quantized inside
 *    the same pool run (one dispatch per matmul).
 *  - Float weights use these 256-bit tiles on AVX-512 instances too: 512-bit versions of the
 *    same dot-product tiles measured slower (bench_ops --what gemm, by CPU time: 126-152 vs
 *    158-164 GFLOP/s on a 2-core Xeon); a 512-bit float path needs a broadcast GEMM over packed
 *    weight panels instead.
 *  - Float weights of the image encoders and the VQ decoder (jn_weight.many_rows) go to the panel
 *    GEMM of gemm_panel.c (broadcast FMAs over packed panels, 512-bit where available).
 *  - Packed q4_0/q8_0 weights (made by AVX2/AVX-512 instances) go to matmul_packed.c; a scalar
 *    instance handed one unpacks each chunk into scratch and runs the kernels below. */
#include "cpu_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_simd.h"

#define MR 4 /* x rows per micro-tile */
#define NR 3 /* W rows per micro-tile (float) */
#define MRQ 4 /* x rows per micro-tile (quantized); matmul_qk.h's switch assumes 4 */
#define NRQ 4 /* W rows per micro-tile (quantized); matmul_qk.h's switch assumes 4 */



static inline int imin(int a, int b) { return a < b ? a : b; }

/* ================================================================ scalar kernels */

static void mm_f32_scalar(float *y, size_t ldy, const float *x, size_t ldx, int M, const float *w, size_t ldw,
                          int N, int K, const float *bias) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            const float *xr = x + (size_t)m * ldx, *wr = w + (size_t)n * ldw;
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += xr[k] * wr[k];
            y[(size_t)m * ldy + n] = bias ? acc + bias[n] : acc;
        }
}

static void quantize_scalar(const float *x, size_t ldx, int M, int K, jn_q8x *q) {
    int nb = K / 32;
    for (int m = 0; m < M; m++)
        for (int b = 0; b < nb; b++) {
            const float *xb = x + (size_t)m * ldx + (size_t)b * 32;
            jn_q8x *o = q + (size_t)m * nb + b;
            float amax = 0.0f;
            for (int j = 0; j < 32; j++) {
                float a = xb[j] < 0 ? -xb[j] : xb[j];
                if (a > amax) amax = a;
            }
            float id = amax != 0.0f ? 127.0f / amax : 0.0f;
            o->d = amax / 127.0f;
            for (int j = 0; j < 32; j++) o->qs[j] = (int8_t)nearbyintf(xb[j] * id);
            for (int l = 0; l < 8; l++)
                o->ns[l] = -8 * (o->qs[4 * l] + o->qs[4 * l + 1] + o->qs[4 * l + 2] + o->qs[4 * l + 3]);
        }
}

/* signed values of one weight block into q[32]; returns its scale */
static inline float wblock_scalar(const uint8_t *blk, jn_dtype wt, int8_t *q) {
    uint16_t h;
    memcpy(&h, blk, 2);
    if (wt == JN_Q8_0) {
        memcpy(q, blk + 2, 32);
    } else {
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)((blk[2 + j] & 15) - 8);
            q[j + 16] = (int8_t)((blk[2 + j] >> 4) - 8);
        }
    }
    return jn_f16_to_f32(h);
}

static void mm_q_scalar(float *y, size_t ldy, const jn_q8x *xq, int M, const uint8_t *w, size_t row_bytes,
                        jn_dtype wt, int N, int nb, const float *bias) {
    size_t bb = wt == JN_Q8_0 ? sizeof(jn_block_q8_0) : sizeof(jn_block_q4_0);
    int8_t q[32];
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++) {
            float acc = 0.0f;
            for (int b = 0; b < nb; b++) {
                float dw = wblock_scalar(w + (size_t)n * row_bytes + (size_t)b * bb, wt, q);
                const jn_q8x *xb = xq + (size_t)m * nb + b;
                int32_t s = 0;
                for (int j = 0; j < 32; j++) s += (int32_t)q[j] * xb->qs[j];
                acc += (float)s * (dw * xb->d);
            }
            y[(size_t)m * ldy + n] = bias ? acc + bias[n] : acc;
        }
}

/* ================================================================ AVX2 kernels */
#ifdef JN_X86

static const int32_t k_mask_tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* 8 weights at w[k..k+8) as f32; wt: 0 f32, 1 f16, 2 bf16 (conversions are exact) */
JN_AVX2_INLINE __m256 wload8(const int wt, const void *w, size_t k) {
    if (wt == 0) return _mm256_loadu_ps((const float *)w + k);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + k));
    if (wt == 1) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* the last K - k (< 8) weights, zero padded, as f32 (same values a masked load of the converted
 * row gives) */
JN_AVX2_INLINE __m256 wtail8(const int wt, const void *w, int k, int K, __m256i mask) {
    if (wt == 0) return _mm256_maskload_ps((const float *)w + k, mask);
    float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const uint16_t *h = (const uint16_t *)w + k;
    for (int i = 0; i < K - k; i++) t[i] = wt == 1 ? _cvtsh_ss(h[i]) : jn_bf16_to_f32(h[i]);
    return _mm256_loadu_ps(t);
}

/* y[i, j] for i < mr, j < nr: one 8-lane FMA accumulator per output, masked K tail. W rows are
 * ldw elements apart, of type wt (f16/bf16 converted in registers: same values, same FMAs as
 * the f32 copy, so the direct and converted paths give identical bits). */
JN_AVX2_INLINE void mk_f32(const int mr, const int nr, const int wt, const int pf, const float *x, size_t ldx, const void *w,
                           size_t ldw, int K, float *y, size_t ldy, const float *bias) {
    const size_t esz = wt == 0 ? 4 : 2;
    const uint8_t *wb = (const uint8_t *)w;
    __m256 acc[MR][NR];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) acc[i][j] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 wv[NR];
        for (int j = 0; j < nr; j++) wv[j] = wload8(wt, wb + (size_t)j * ldw * esz, (size_t)k);
        if (pf && (k & 15) == 0) /* streaming W from DRAM (small M): prefetch the next tile */
            for (int j = 0; j < nr; j++) _mm_prefetch((const char *)(wb + ((size_t)(j + nr) * ldw + k) * esz), _MM_HINT_T0);
        for (int i = 0; i < mr; i++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)i * ldx + k);
            for (int j = 0; j < nr; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    if (k < K) {
        __m256i mask = _mm256_loadu_si256((const __m256i *)(k_mask_tab + 8 - (K - k)));
        __m256 wv[NR];
        for (int j = 0; j < nr; j++) wv[j] = wtail8(wt, wb + (size_t)j * ldw * esz, k, K, mask);
        for (int i = 0; i < mr; i++) {
            __m256 xv = _mm256_maskload_ps(x + (size_t)i * ldx + k, mask);
            for (int j = 0; j < nr; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float s = jn_hsum8(acc[i][j]);
            y[(size_t)i * ldy + j] = bias ? s + bias[j] : s;
        }
}

/* W of type wt (0 f32, 1 f16, 2 bf16), rows ldw elements apart */
JN_AVX2_INLINE void mm_w_avx2(const int wt, float *y, size_t ldy, const float *x, size_t ldx, int M, const void *w,
                              size_t ldw, int N, int K, const float *bias) {
    const size_t esz = wt == 0 ? 4 : 2;
    const int pf = M <= 8;
    /* W chunk of nbk rows (~128 KB as f32) stays in L2 while the 4-row x tiles walk over it */
    int nbk = (int)((128u * 1024u) / ((size_t)K * 4u + 1u));
    nbk = nbk < NR ? NR : (nbk / NR) * NR;
    for (int n0 = 0; n0 < N; n0 += nbk) {
        int n1 = imin(N, n0 + nbk);
        for (int m = 0; m < M; m += MR) {
            int mr = imin(MR, M - m);
            for (int n = n0; n < n1; n += NR) {
                int nr = imin(NR, n1 - n);
                const float *xp = x + (size_t)m * ldx;
                const void *wp = (const uint8_t *)w + (size_t)n * ldw * esz;
                float *yp = y + (size_t)m * ldy + n;
                const float *bp = bias ? bias + n : NULL;
#define JN_MK(a, b) \
    case (a) * 4 + (b):                                                             \
        if (pf) mk_f32(a, b, wt, 1, xp, ldx, wp, ldw, K, yp, ldy, bp);              \
        else mk_f32(a, b, wt, 0, xp, ldx, wp, ldw, K, yp, ldy, bp);                 \
        break
                switch (mr * 4 + nr) {
                    JN_MK(1, 1); JN_MK(1, 2); JN_MK(1, 3);
                    JN_MK(2, 1); JN_MK(2, 2); JN_MK(2, 3);
                    JN_MK(3, 1); JN_MK(3, 2); JN_MK(3, 3);
                    JN_MK(4, 1); JN_MK(4, 2); JN_MK(4, 3);
                    default: break;
                }
#undef JN_MK
            }
        }
    }
}

JN_AVX2_FN static void mm_f32_avx2(float *y, size_t ldy, const float *x, size_t ldx, int M, const float *w,
                                   size_t ldw, int N, int K, const float *bias) {
    mm_w_avx2(0, y, ldy, x, ldx, M, w, ldw, N, K, bias);
}
JN_AVX2_FN static void mm_f16_avx2(float *y, size_t ldy, const float *x, size_t ldx, int M, const void *w,
                                   size_t ldw, int N, int K, const float *bias) {
    mm_w_avx2(1, y, ldy, x, ldx, M, w, ldw, N, K, bias);
}
JN_AVX2_FN static void mm_bf16_avx2(float *y, size_t ldy, const float *x, size_t ldx, int M, const void *w,
                                    size_t ldw, int N, int K, const float *bias) {
    mm_w_avx2(2, y, ldy, x, ldx, M, w, ldw, N, K, bias);
}

JN_AVX2_FN static void quantize_avx2(const float *x, size_t ldx, int M, int K, jn_q8x *q) {
    int nb = K / 32;
    const __m256 signbit = _mm256_set1_ps(-0.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int m = 0; m < M; m++)
        for (int b = 0; b < nb; b++) {
            const float *xb = x + (size_t)m * ldx + (size_t)b * 32;
            jn_q8x *o = q + (size_t)m * nb + b;
            __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
            __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
            __m256 a = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(signbit, v0), _mm256_andnot_ps(signbit, v1)),
                                     _mm256_max_ps(_mm256_andnot_ps(signbit, v2), _mm256_andnot_ps(signbit, v3)));
            __m128 h = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
            h = _mm_max_ps(h, _mm_movehl_ps(h, h));
            h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
            float amax = _mm_cvtss_f32(h);
            float id = amax != 0.0f ? 127.0f / amax : 0.0f;
            o->d = amax / 127.0f;
            __m256 vid = _mm256_set1_ps(id);
            /* cvtps rounds to nearest even (MXCSR default), as nearbyintf in the scalar path */
            __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, vid));
            __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, vid));
            __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, vid));
            __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, vid));
            i0 = _mm256_packs_epi32(i0, i1);
            i2 = _mm256_packs_epi32(i2, i3);
            i0 = _mm256_packs_epi16(i0, i2);
            i0 = _mm256_permutevar8x32_epi32(i0, perm);
            _mm256_storeu_si256((__m256i *)o->qs, i0);
            /* ns: -8 × the sums of 4 consecutive values (maddubs with 8·1, madd with −1) */
            __m256i s8 = _mm256_maddubs_epi16(_mm256_set1_epi8(8), i0);
            _mm256_storeu_si256((__m256i *)o->ns, _mm256_madd_epi16(s8, _mm256_set1_epi16(-1)));
        }
}

/* the quantized kernel: plain AVX2 and AVX-VNNI instantiations (identical results) */
#define JN_QK_INLINE JN_AVX2_INLINE
#define JN_QK_FN JN_AVX2_FN
#define JN_QK_MK mk_q_avx2
#define JN_QK_MM mm_q_avx2
#define JN_QK_DOT(acc, u, s) \
    _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)), (acc))
#include "matmul_qk.h"
#undef JN_QK_INLINE
#undef JN_QK_FN
#undef JN_QK_MK
#undef JN_QK_MM
#undef JN_QK_DOT

#define JN_VNNI_TARGET "avx2,fma,f16c,avxvnni"
#define JN_QK_INLINE __attribute__((target(JN_VNNI_TARGET), always_inline)) static inline
#define JN_QK_FN __attribute__((target(JN_VNNI_TARGET)))
#define JN_QK_MK mk_q_vnni
#define JN_QK_MM mm_q_vnni
#define JN_QK_DOT(acc, u, s) _mm256_dpbusd_avx_epi32((acc), (u), (s))
#include "matmul_qk.h"
#undef JN_QK_INLINE
#undef JN_QK_FN
#undef JN_QK_MK
#undef JN_QK_MM
#undef JN_QK_DOT

JN_AVX2_FN static void rows_to_f32_avx2(jn_dtype t, const void *src, size_t row_bytes, int n_rows, int K,
                                        float *out) {
    for (int r = 0; r < n_rows; r++) {
        const uint16_t *s = (const uint16_t *)((const uint8_t *)src + (size_t)r * row_bytes);
        float *o = out + (size_t)r * K;
        int k = 0;
        if (t == JN_F16) {
            for (; k + 8 <= K; k += 8) _mm256_storeu_ps(o + k, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + k))));
            for (; k < K; k++) o[k] = jn_f16_to_f32(s[k]);
        } else {
            for (; k + 8 <= K; k += 8) {
                __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + k)));
                _mm256_storeu_ps(o + k, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
            }
            for (; k < K; k++) o[k] = jn_bf16_to_f32(s[k]);
        }
    }
}

#endif /* JN_X86 */

/* ================================================================ dispatch */

void jn_cpu_mm_f32(const jn_cpu *c, float *y, size_t ldy, const float *x, size_t ldx, int M, const float *w,
                   size_t ldw, int N, int K, const float *bias) {
#ifdef JN_X86
    if (c->avx2) {
        mm_f32_avx2(y, ldy, x, ldx, M, w, ldw, N, K, bias);
        return;
    }
#endif
    mm_f32_scalar(y, ldy, x, ldx, M, w, ldw, N, K, bias);
}

void jn_cpu_mm_half(const jn_cpu *c, jn_dtype t, float *y, size_t ldy, const float *x, size_t ldx, int M,
                    const void *w, size_t ldw, int N, int K) {
    /* only AVX2 instances read half rows directly (scalar attention converts them while packing) */
    JN_ASSERT(c->avx2);
#ifdef JN_X86
    if (t == JN_F16) mm_f16_avx2(y, ldy, x, ldx, M, w, ldw, N, K, NULL);
    else mm_bf16_avx2(y, ldy, x, ldx, M, w, ldw, N, K, NULL);
#else
    (void)t, (void)y, (void)ldy, (void)x, (void)ldx, (void)M, (void)w, (void)ldw, (void)N, (void)K;
#endif
}

void jn_cpu_quantize_q8x(const jn_cpu *c, const float *x, size_t ldx, int M, int K, jn_q8x *q) {
#ifdef JN_X86
    if (c->avx2) {
        quantize_avx2(x, ldx, M, K, q);
        return;
    }
#endif
    quantize_scalar(x, ldx, M, K, q);
}

void jn_cpu_mm_q(const jn_cpu *c, float *y, size_t ldy, const jn_q8x *xq, int M, const uint8_t *w,
                 size_t row_bytes, jn_dtype wt, int N, int nb, const float *bias) {
#ifdef JN_X86
    if (c->vnni) {
        mm_q_vnni(y, ldy, xq, M, w, row_bytes, wt, N, nb, bias);
        return;
    }
    if (c->avx2) {
        mm_q_avx2(y, ldy, xq, M, w, row_bytes, wt, N, nb, bias);
        return;
    }
#endif
    mm_q_scalar(y, ldy, xq, M, w, row_bytes, wt, N, nb, bias);
}

void jn_cpu_rows_to_f32(const jn_cpu *c, jn_dtype t, const void *src, size_t row_bytes, int n_rows, int K,
                        float *out) {
    if (t == JN_F32) {
        for (int r = 0; r < n_rows; r++)
            memcpy(out + (size_t)r * K, (const uint8_t *)src + (size_t)r * row_bytes, (size_t)K * sizeof(float));
        return;
    }
#ifdef JN_X86
    if (c->avx2 && (t == JN_F16 || t == JN_BF16)) {
        rows_to_f32_avx2(t, src, row_bytes, n_rows, K, out);
        return;
    }
#endif
    for (int r = 0; r < n_rows; r++)
        jn_to_f32_ref(t, (const uint8_t *)src + (size_t)r * row_bytes, out + (size_t)r * K, K);
}

/* ================================================================ threaded matmul */

typedef struct mm_ctx {
    jn_cpu *c;
    float *y;          /* [M, N] */
    const float *x;    /* [M, K] */
    const uint8_t *w;  /* [N, K] of type wt (plain layout), or NULL with packed */
    const jn_cpu_packed *packed; /* packed q weight used by a scalar instance */
    jn_dtype wt;
    size_t row_bytes;
    const float *bias; /* [N] or NULL */
    int M, N, K;
    int nbk;           /* W rows per task */
    int mb;            /* x rows per task */
    int n_mblk;
    long n_tasks;
    atomic_long next;  /* next task to take */
    jn_q8x *xq;        /* [M, K/32] for quantized weights */
} mm_ctx;

/* One pool run per matmul: (quantized weights) each thread quantizes its share of x rows, all
 * meet at a barrier, then threads take (W-chunk, x-row-block) tasks from a counter. A task's
 * outputs are computed in one fixed sequence, so which thread runs it does not matter. */
static void mm_task(void *arg, int ith, int nth) {
    mm_ctx *t = (mm_ctx *)arg;
    const int quant = t->wt == JN_Q8_0 || t->wt == JN_Q4_0;
    const size_t K = (size_t)t->K;
    if (quant) {
        long b, e;
        jn_split_range(t->M, ith, nth, &b, &e);
        if (e > b) jn_cpu_quantize_q8x(t->c, t->x + (size_t)b * K, K, (int)(e - b), t->K, t->xq + (size_t)b * (K / 32));
        jn_pool_barrier(t->c->pool, nth);
    }
    float *wbuf = (float *)t->c->tscratch[ith];
    long last_chunk = -1;
    for (;;) {
        long task = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
        if (task >= t->n_tasks) break;
        long nc = task / t->n_mblk;
        int mbi = (int)(task % t->n_mblk);
        int n0 = (int)(nc * t->nbk), nn = imin(t->nbk, t->N - n0);
        int m0 = mbi * t->mb, mm = imin(t->mb, t->M - m0);
        const uint8_t *wrow = t->w ? t->w + (size_t)n0 * t->row_bytes : NULL;
        float *yp = t->y + (size_t)m0 * t->N + n0;
        const float *bp = t->bias ? t->bias + n0 : NULL;
        if (quant) {
            if (t->packed) { /* back to the plain layout, chunk by chunk, in per-thread scratch */
                uint8_t *plain = (uint8_t *)wbuf;
                const size_t bb = t->row_bytes / (K / 32);
                if (nc != last_chunk)
                    for (int r = 0; r < nn; r++)
                        for (int b = 0; b < (int)(K / 32); b++)
                            jn_cpu_packed_block(t->packed, n0 + r, b, plain + (size_t)r * t->row_bytes + (size_t)b * bb);
                last_chunk = nc;
                wrow = plain;
            }
            jn_cpu_mm_q(t->c, yp, (size_t)t->N, t->xq + (size_t)m0 * (K / 32), mm, wrow, t->row_bytes, t->wt, nn,
                        (int)(K / 32), bp);
        } else {
            const float *wf;
#ifdef JN_X86
            /* small M: convert f16/bf16 in registers while streaming W once (same bits as below) */
            if (t->c->avx2 && mm <= 8 && t->wt != JN_F32) {
                if (t->wt == JN_F16) mm_f16_avx2(yp, (size_t)t->N, t->x + (size_t)m0 * K, K, mm, wrow, K, nn, (int)K, bp);
                else mm_bf16_avx2(yp, (size_t)t->N, t->x + (size_t)m0 * K, K, mm, wrow, K, nn, (int)K, bp);
                continue;
            }
#endif
            if (t->wt == JN_F32) {
                wf = (const float *)wrow;
            } else {
                if (nc != last_chunk) jn_cpu_rows_to_f32(t->c, t->wt, wrow, t->row_bytes, nn, (int)K, wbuf);
                last_chunk = nc;
                wf = wbuf;
            }
            jn_cpu_mm_f32(t->c, yp, (size_t)t->N, t->x + (size_t)m0 * K, K, mm, wf, K, nn, (int)K, bp);
        }
    }
}

void jn_cpu_matmul(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int M) {
    jn_cpu *c = (jn_cpu *)be->impl;
    if (M <= 0) return;
    if (w->many_rows && (w->type == JN_F32 || w->type == JN_F16 || w->type == JN_BF16)) {
        const jn_gemm_x gx = {.x = x, .ldx = (size_t)jn_weight_cols(w)};
        jn_cpu_gemm_panel(c, y, &gx, M, w, bias ? (const float *)bias->data : NULL);
        return;
    }
    const jn_cpu_packed *packed = jn_cpu_packed_of(w);
    if (packed && c->avx2) {
        jn_cpu_matmul_packed(c, y, x, packed, bias ? (const float *)bias->data : NULL, M);
        return;
    }
    mm_ctx t;
    memset(&t, 0, sizeof t);
    t.c = c;
    t.y = y;
    t.x = x;
    t.packed = packed;
    t.w = packed ? NULL : (const uint8_t *)w->data;
    t.wt = w->type;
    t.M = M;
    t.N = (int)jn_weight_rows(w);
    t.K = (int)jn_weight_cols(w);
    t.row_bytes = jn_row_bytes(w->type, t.K);
    t.bias = bias ? (const float *)bias->data : NULL;
    JN_ASSERT(t.row_bytes != 0);
    const int quant = t.wt == JN_Q8_0 || t.wt == JN_Q4_0;
    const int nth = c->nth;

    /* task grid: W chunks of nbk rows × x blocks of mb rows */
    if (quant) {
        t.nbk = (int)((64u * 1024u) / (t.row_bytes + 1u));
        t.nbk = t.nbk < NRQ ? NRQ : (t.nbk > 128 ? 128 : t.nbk / NRQ * NRQ);
    } else {
        t.nbk = (int)((128u * 1024u) / ((size_t)t.K * 4u + 1u));
        t.nbk = t.nbk < NR ? NR : (t.nbk > 96 ? 96 : t.nbk / NR * NR);
    }
    long n_chunks = (t.N + t.nbk - 1) / t.nbk;
    t.mb = M <= 64 ? M : 64;
    while (t.mb > MR && n_chunks * ((M + t.mb - 1) / t.mb) < 4L * nth) t.mb = ((t.mb / 2) + MR - 1) / MR * MR;
    t.n_mblk = (M + t.mb - 1) / t.mb;
    t.n_tasks = n_chunks * t.n_mblk;
    atomic_init(&t.next, 0);

    size_t per_thread = t.wt == JN_F32 ? 0 : quant ? (packed ? (size_t)t.nbk * t.row_bytes : 0)
                                                   : (size_t)t.nbk * (size_t)t.K * sizeof(float);
    size_t shared = quant ? (size_t)M * (size_t)(t.K / 32) * sizeof(jn_q8x) : 0;
    if (!jn_cpu_reserve(c, per_thread, shared)) return;
    t.xq = (jn_q8x *)c->shared;

    /* tiny problems are not worth waking the pool */
    double work = (double)M * t.N * t.K;
    if (work < 64.0 * 1024.0 || nth == 1) mm_task(&t, 0, 1);
    else jn_pool_run(c->pool, mm_task, &t);
}
