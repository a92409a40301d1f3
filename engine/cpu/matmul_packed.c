/* engine/cpu/matmul_packed.c — q4_0/q8_0 matmul with a packed weight layout (512-bit and 256-bit VNNI).
 *
 * Why this design (decode and the CFG step loop are bandwidth-bound on the quantized weights):
 *  - The plain ggml layout puts one f16 scale in front of every 16/32 quant bytes of one row, so
 *    a kernel converts scales one by one and needs a horizontal sum per row. weight_upload on
 *    AVX2/AVX-512 instances therefore packs each 2-D q4_0/q8_0 weight once (cpu_internal.h,
 *    jn_cpu_packed): groups of 16 rows, per 32-block the 16 scales (one vcvtph2ps gives a vector
 *    of them) and the quants transposed so 32-bit lane r of every 64-byte vector belongs to
 *    row r. One vpdpbusd against a broadcast 4-byte piece of x then adds 4 products to each of
 *    the 16 rows: no shuffles, no horizontal sums, 16 outputs per vector.
 *  - Activations are quantized once per matmul (same rounding as the scalar path: q =
 *    nearbyint(x·127/amax), d = amax/127) into a compact per-row layout [qs: nb·32 int8 | d: nb
 *    f32 | corr: nb int32], inside the same pool run as the product: one dispatch per matmul.
 *    Up to 16 rows every thread quantizes all of them into its own scratch (no barrier); more
 *    rows are split over the threads, which then meet at a barrier.
 *  - vpdpbusd multiplies unsigned by signed bytes: q4_0 nibbles are used as stored (q + 8) and
 *    q8_0 quants are stored XOR 0x80 (q + 128); corr = −8·Σq_x or −128·Σq_x starts the int32 sum,
 *    which is then exactly Σ q_w·q_x. Per block the f32 contribution is (float)s · (d_w · d_x),
 *    added in block order: the same operations as the scalar kernel, so results are bit-identical
 *    to JANUS_CPU_ISA=scalar and independent of M, the tile and the thread count.
 *  - Micro-kernels for 1..8 x rows × 16 weight rows (decode, CFG pair, batches); M > 8 walks the
 *    same 16-row group (L1/L2 resident) in 8-row tiles. Tasks (a run of groups × a block of up
 *    to 64 x rows) are taken from an atomic counter, so a thread that finishes early takes more
 *    instead of spinning; each output is still computed by one task in one fixed order.
 *  - AVX2 instances run the same layout as two 8-row ymm halves per vector (matmul_packed256.h,
 *    AVX-VNNI or maddubs), with the same bits.
 * Compiled with per-function target attributes (no global -mavx512*, -mavx2): only called when
 * the instance's ISA allows (cpu_internal.h). */
#include "cpu_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "cpu_simd.h"

static inline size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }
static inline int32_t pk_load_i32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline int qk_bytes(jn_dtype t) { return t == JN_Q4_0 ? 16 : 32; } /* quant bytes per row-block */

/* ================================================================ packing (portable) */

size_t jn_cpu_packed_bytes(jn_dtype t, int64_t N, int64_t K) {
    int64_t groups = (N + JN_PACK_ROWS - 1) / JN_PACK_ROWS, nb = K / 32;
    size_t gb = (size_t)JN_PACK_ROWS * (2 + (size_t)qk_bytes(t));
    return sizeof(jn_cpu_packed) + (size_t)groups * (size_t)nb * gb;
}

void jn_cpu_pack_header(const jn_weight *w, void *dst) {
    const jn_dtype t = w->type;
    const int64_t N = jn_weight_rows(w), K = jn_weight_cols(w);
    jn_cpu_packed *h = (jn_cpu_packed *)dst;
    memset(h, 0, sizeof *h);
    h->magic = JN_PACK_MAGIC;
    h->type = (int32_t)t;
    h->N = (int32_t)N;
    h->K = (int32_t)K;
    h->n_groups = (int32_t)((N + JN_PACK_ROWS - 1) / JN_PACK_ROWS);
    h->nb = (int32_t)(K / 32);
    h->group_bytes = JN_PACK_ROWS * (2 + qk_bytes(t));
}

void jn_cpu_pack_groups(const jn_weight *w, void *dst, int g0, int g1) {
    const jn_cpu_packed *h = (const jn_cpu_packed *)dst;
    const jn_dtype t = w->type;
    const int nb = h->nb, qb = qk_bytes(t), N = h->N;
    const size_t bb = t == JN_Q4_0 ? sizeof(jn_block_q4_0) : sizeof(jn_block_q8_0);
    const size_t row_bytes = (size_t)nb * bb;
    const uint8_t flip = t == JN_Q4_0 ? 0 : 0x80;
    uint8_t *out = (uint8_t *)dst + sizeof *h;
    const uint8_t *src = (const uint8_t *)w->data;
    for (int g = g0; g < g1; g++)
        for (int r = 0; r < JN_PACK_ROWS; r++) {
            int64_t n = (int64_t)g * JN_PACK_ROWS + r;
            for (int b = 0; b < nb; b++) {
                uint8_t *o = out + ((size_t)g * nb + b) * (size_t)h->group_bytes;
                uint8_t *quants = o + 2 * JN_PACK_ROWS;
                uint8_t blk[sizeof(jn_block_q8_0)];
                if (n < N) memcpy(blk, src + (size_t)n * row_bytes + (size_t)b * bb, bb);
                else memset(blk, t == JN_Q4_0 ? 0x88 : 0, bb); /* zero values, scale 0 */
                memcpy(o + 2 * r, blk, 2);
                /* chunk c, lane r: quant bytes 4c..4c+3 of this row */
                for (int c = 0; c < qb / 4; c++) {
                    uint8_t *q = quants + (size_t)c * 4 * JN_PACK_ROWS + 4 * r;
                    for (int i = 0; i < 4; i++) q[i] = (uint8_t)(blk[2 + 4 * c + i] ^ flip);
                }
            }
        }
}

void jn_cpu_packed_block(const jn_cpu_packed *p, int n, int b, uint8_t *out) {
    const int g = n / JN_PACK_ROWS, r = n % JN_PACK_ROWS, qb = p->group_bytes / JN_PACK_ROWS - 2;
    const uint8_t *o = (const uint8_t *)(p + 1) + ((size_t)g * p->nb + b) * (size_t)p->group_bytes;
    const uint8_t *quants = o + 2 * JN_PACK_ROWS;
    memcpy(out, o + 2 * r, 2);
    for (int c = 0; c < qb / 4; c++)
        for (int i = 0; i < 4; i++) {
            uint8_t q = quants[(size_t)c * 4 * JN_PACK_ROWS + 4 * r + i];
            out[2 + 4 * c + i] = p->type == JN_Q4_0 ? q : (uint8_t)(q ^ 0x80);
        }
}

/* ================================================================ AVX-512 kernels */
#ifdef JN_X86

#define JN_AVX512_TARGET "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
#define JN_AVX512_FN __attribute__((target(JN_AVX512_TARGET)))
#define JN_AVX512_INLINE __attribute__((target(JN_AVX512_TARGET), always_inline)) static inline

#define MR512 8 /* x rows per micro-tile */

/* bytes of one row of the quantized-activation layout */
static inline size_t xq_stride(int nb) { return round64((size_t)nb * 40); }

/* x rows [m0, m1) of x[M, K] → the compact layout (see the file comment). corr uses the weight
 * type's offset: 8 for q4_0 nibbles, 128 for q8_0 quants stored + 128. */
JN_AVX512_FN static void quantize_rows_512(const float *x, int K, int m0, int m1, uint8_t *xq, int q4) {
    const int nb = K / 32;
    const size_t xs = xq_stride(nb);
    const int off = q4 ? 8 : 128;
    for (int m = m0; m < m1; m++) {
        int8_t *qs = (int8_t *)(xq + (size_t)m * xs);
        float *d = (float *)(qs + (size_t)nb * 32);
        int32_t *corr = (int32_t *)(d + nb);
        const float *xr = x + (size_t)m * K;
        for (int b = 0; b < nb; b++) {
            __m512 v0 = _mm512_loadu_ps(xr + 32 * b), v1 = _mm512_loadu_ps(xr + 32 * b + 16);
            __m512 a = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
            float amax = _mm512_reduce_max_ps(a);
            float id = amax != 0.0f ? 127.0f / amax : 0.0f;
            d[b] = amax / 127.0f;
            __m512 vid = _mm512_set1_ps(id);
            /* cvtps rounds to nearest even (MXCSR default), as nearbyintf in the scalar path */
            __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid)), i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
            _mm_storeu_si128((__m128i *)(qs + 32 * b), _mm512_cvtsepi32_epi8(i0));
            _mm_storeu_si128((__m128i *)(qs + 32 * b + 16), _mm512_cvtsepi32_epi8(i1));
            corr[b] = -off * _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
        }
    }
}

/* y[i, j] for i < mr x rows (xq rows xs bytes apart) and the 16 rows j of one packed group
 * (only j < nvalid are stored). */
JN_AVX512_INLINE void mk_q512(const int mr, const int q4, const uint8_t *xq, size_t xs, int nb, const uint8_t *grp,
                              int gb, float *y, size_t ldy, int nvalid, const float *bias) {
    const __m512i lo4 = _mm512_set1_epi8(0x0f);
    const size_t dofs = (size_t)nb * 32, cofs = dofs + (size_t)nb * 4;
    __m512 facc[MR512];
    for (int i = 0; i < mr; i++) facc[i] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = grp + (size_t)b * gb;
        for (int o = 0; o < gb; o += 64) _mm_prefetch((const char *)blk + 2048 + o, _MM_HINT_T0);
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)blk));
        const uint8_t *qw = blk + 2 * JN_PACK_ROWS;
        __m512i acc[MR512];
        for (int i = 0; i < mr; i++) {
            int32_t c;
            memcpy(&c, xq + (size_t)i * xs + cofs + 4 * (size_t)b, 4);
            acc[i] = _mm512_set1_epi32(c);
        }
        if (q4) {
            for (int k = 0; k < 4; k++) {
                __m512i v = _mm512_loadu_si512((const void *)(qw + 64 * k));
                __m512i lo = _mm512_and_si512(v, lo4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
                for (int i = 0; i < mr; i++) {
                    const uint8_t *xb = xq + (size_t)i * xs + 32 * (size_t)b;
                    int32_t a0, a1;
                    memcpy(&a0, xb + 4 * k, 4);
                    memcpy(&a1, xb + 16 + 4 * k, 4);
                    acc[i] = _mm512_dpbusd_epi32(acc[i], lo, _mm512_set1_epi32(a0));
                    acc[i] = _mm512_dpbusd_epi32(acc[i], hi, _mm512_set1_epi32(a1));
                }
            }
        } else {
            for (int k = 0; k < 8; k++) {
                __m512i v = _mm512_loadu_si512((const void *)(qw + 64 * k));
                for (int i = 0; i < mr; i++) {
                    int32_t a0;
                    memcpy(&a0, xq + (size_t)i * xs + 32 * (size_t)b + 4 * k, 4);
                    acc[i] = _mm512_dpbusd_epi32(acc[i], v, _mm512_set1_epi32(a0));
                }
            }
        }
        for (int i = 0; i < mr; i++) {
            float dx;
            memcpy(&dx, xq + (size_t)i * xs + dofs + 4 * (size_t)b, 4);
            /* (float)s · (d_w · d_x), then added: the scalar kernel's operations */
            __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(dx));
            facc[i] = _mm512_add_ps(facc[i], _mm512_mul_ps(_mm512_cvtepi32_ps(acc[i]), scale));
        }
    }
    const __mmask16 mask = (__mmask16)((1u << nvalid) - 1u);
    const __m512 bv = bias ? _mm512_maskz_loadu_ps(mask, bias) : _mm512_setzero_ps();
    for (int i = 0; i < mr; i++) {
        __m512 r = bias ? _mm512_add_ps(facc[i], bv) : facc[i];
        _mm512_mask_storeu_ps(y + (size_t)i * ldy, mask, r);
    }
}

/* rows [m0, m1) of x (quantized) × groups [g0, g1) */
JN_AVX512_FN static void mm_packed_tile(const jn_cpu_packed *p, const uint8_t *xq, float *y, int N, const float *bias,
                                        int g0, int g1, int m0, int m1) {
    const int q4 = p->type == JN_Q4_0, nb = p->nb, gb = p->group_bytes;
    const size_t xs = xq_stride(nb);
    const uint8_t *data = (const uint8_t *)(p + 1);
    for (int g = g0; g < g1; g++) {
        const uint8_t *grp = data + (size_t)g * nb * (size_t)gb;
        int n0 = g * JN_PACK_ROWS, nvalid = N - n0 < JN_PACK_ROWS ? N - n0 : JN_PACK_ROWS;
        const float *bp = bias ? bias + n0 : NULL;
        for (int m = m0; m < m1; m += MR512) {
            int mr = m1 - m < MR512 ? m1 - m : MR512;
            const uint8_t *xp = xq + (size_t)m * xs;
            float *yp = y + (size_t)m * N + n0;
#define JN_MK(a)                                                                    \
    case a:                                                                         \
        if (q4) mk_q512(a, 1, xp, xs, nb, grp, gb, yp, (size_t)N, nvalid, bp);      \
        else mk_q512(a, 0, xp, xs, nb, grp, gb, yp, (size_t)N, nvalid, bp);         \
        break
            switch (mr) {
                JN_MK(1); JN_MK(2); JN_MK(3); JN_MK(4); JN_MK(5); JN_MK(6); JN_MK(7); JN_MK(8);
                default: break;
            }
#undef JN_MK
        }
    }
}

/* ---------------------------------------------------------------- 256-bit (AVX2 instances) */

/* quantize_rows_512's layout and rounding with AVX2 (same values: the scalar path's formula) */
JN_AVX2_FN static void quantize_rows_256(const float *x, int K, int m0, int m1, uint8_t *xq, int q4) {
    const int nb = K / 32;
    const size_t xs = xq_stride(nb);
    const int off = q4 ? 8 : 128;
    const __m256 signbit = _mm256_set1_ps(-0.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int m = m0; m < m1; m++) {
        int8_t *qs = (int8_t *)(xq + (size_t)m * xs);
        float *d = (float *)(qs + (size_t)nb * 32);
        int32_t *corr = (int32_t *)(d + nb);
        const float *xb = x + (size_t)m * K;
        for (int b = 0; b < nb; b++, xb += 32) {
            __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
            __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
            __m256 a = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(signbit, v0), _mm256_andnot_ps(signbit, v1)),
                                     _mm256_max_ps(_mm256_andnot_ps(signbit, v2), _mm256_andnot_ps(signbit, v3)));
            float amax = jn_hmax8(a);
            float id = amax != 0.0f ? 127.0f / amax : 0.0f;
            d[b] = amax / 127.0f;
            __m256 vid = _mm256_set1_ps(id);
            __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, vid)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, vid));
            __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, vid)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, vid));
            __m256i sum = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
            __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
            _mm256_storeu_si256((__m256i *)(qs + 32 * b), _mm256_permutevar8x32_epi32(p, perm));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
            corr[b] = -off * _mm_cvtsi128_si32(s4);
        }
    }
}

#define JN_PK_INLINE __attribute__((target("avx2,fma,f16c,avxvnni"), always_inline)) static inline
#define JN_PK_FN __attribute__((target("avx2,fma,f16c,avxvnni")))
#define JN_PK_MK mk_q256_vnni
#define JN_PK_TILE tile_q256_vnni
#define JN_PK_VNNI 1
#define JN_PK_DOT(acc, u, s) _mm256_dpbusd_avx_epi32((acc), (u), (s))
#define JN_PK_DOT_Q4 JN_PK_DOT
#include "matmul_packed256.h"
#undef JN_PK_INLINE
#undef JN_PK_FN
#undef JN_PK_MK
#undef JN_PK_TILE
#undef JN_PK_VNNI
#undef JN_PK_DOT
#undef JN_PK_DOT_Q4

#define JN_PK_INLINE JN_AVX2_INLINE
#define JN_PK_FN JN_AVX2_FN
#define JN_PK_MK mk_q256_avx2
#define JN_PK_TILE tile_q256_avx2
#define JN_PK_VNNI 0
#define JN_PK_DOT(acc, u, s) \
    _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)), (acc))
#define JN_PK_DOT_Q4(acc16, u, s) _mm256_add_epi16((acc16), _mm256_maddubs_epi16((u), (s))) /* s16 sums */
#include "matmul_packed256.h"
#undef JN_PK_INLINE
#undef JN_PK_FN
#undef JN_PK_MK
#undef JN_PK_TILE
#undef JN_PK_VNNI
#undef JN_PK_DOT
#undef JN_PK_DOT_Q4

typedef struct mmp_ctx {
    jn_cpu *c;
    float *y;
    const float *x;
    const jn_cpu_packed *p;
    const float *bias;
    int M;
    uint8_t *xq;
    int private_xq; /* each thread quantizes all rows into its own scratch (small M) */
    int gchunk, mb, n_mblk;
    long n_tasks;
    atomic_long next;
} mmp_ctx;

static void quantize_rows(const jn_cpu *c, const float *x, int K, int m0, int m1, uint8_t *xq, int q4) {
    if (c->avx512) quantize_rows_512(x, K, m0, m1, xq, q4);
    else quantize_rows_256(x, K, m0, m1, xq, q4);
}

static void mmp_task(void *arg, int ith, int nth) {
    mmp_ctx *t = (mmp_ctx *)arg;
    const int q4 = t->p->type == JN_Q4_0;
    const uint8_t *xq = t->xq;
    const jn_cpu *c = t->c;
    if (t->private_xq) {
        /* few rows: every thread quantizes all of x into its own scratch (cheaper than a barrier,
         * and a descheduled peer cannot hold the others up) */
        quantize_rows(c, t->x, t->p->K, 0, t->M, (uint8_t *)t->c->tscratch[ith], q4);
        xq = (const uint8_t *)t->c->tscratch[ith];
    } else {
        long b, e;
        jn_split_range(t->M, ith, nth, &b, &e);
        if (e > b) quantize_rows(c, t->x, t->p->K, (int)b, (int)e, t->xq, q4);
        jn_pool_barrier(t->c->pool, nth);
    }
    for (;;) {
        long task = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
        if (task >= t->n_tasks) break;
        int gc = (int)(task / t->n_mblk), mbi = (int)(task % t->n_mblk);
        int g0 = gc * t->gchunk, g1 = g0 + t->gchunk < t->p->n_groups ? g0 + t->gchunk : t->p->n_groups;
        int m0 = mbi * t->mb, m1 = m0 + t->mb < t->M ? m0 + t->mb : t->M;
        if (c->avx512) mm_packed_tile(t->p, xq, t->y, t->p->N, t->bias, g0, g1, m0, m1);
        else if (c->vnni) tile_q256_vnni(t->p, xq, t->y, t->p->N, t->bias, g0, g1, m0, m1);
        else tile_q256_avx2(t->p, xq, t->y, t->p->N, t->bias, g0, g1, m0, m1);
    }
}

void jn_cpu_matmul_packed(jn_cpu *c, float *y, const float *x, const jn_cpu_packed *p, const float *bias, int M) {
    mmp_ctx t;
    memset(&t, 0, sizeof t);
    t.c = c;
    t.y = y;
    t.x = x;
    t.p = p;
    t.bias = bias;
    t.M = M;
    const int nth = c->nth;
    const size_t xq_bytes = (size_t)M * xq_stride(p->nb);
    t.private_xq = M <= 16;
    if (!jn_cpu_reserve(c, t.private_xq ? xq_bytes : 0, t.private_xq ? 0 : xq_bytes)) return;
    t.xq = (uint8_t *)c->shared;
    t.mb = M <= 64 ? M : 64;
    t.n_mblk = (M + t.mb - 1) / t.mb;
    /* about 8 tasks per thread over the groups (≥ 1 group, ≤ 8 groups = 128 rows per task) */
    long want = 8L * nth / t.n_mblk + 1;
    t.gchunk = (int)(p->n_groups / want);
    t.gchunk = t.gchunk < 1 ? 1 : (t.gchunk > 8 ? 8 : t.gchunk);
    t.n_tasks = (long)((p->n_groups + t.gchunk - 1) / t.gchunk) * t.n_mblk;
    atomic_init(&t.next, 0);
    double work = (double)M * p->N * p->K;
    if (nth == 1 || work < 64.0 * 1024.0) mmp_task(&t, 0, 1);
    else jn_pool_run(c->pool, mmp_task, &t);
}

#else /* !JN_X86: never called (the ISA is scalar) */
void jn_cpu_matmul_packed(jn_cpu *c, float *y, const float *x, const jn_cpu_packed *p, const float *bias, int M) {
    (void)c, (void)y, (void)x, (void)p, (void)bias, (void)M;
}
#endif
