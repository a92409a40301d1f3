/* engine/cpu/gemm_panel.c — the float-weight GEMM of the image encoders and the VQ decoder:
 * y[M, N] = x[M, K] · W[N, K]^T (+ bias) for M in the hundreds to hundreds of thousands (image
 * tokens, pixels), and the same kernel as a conv2d without im2col.
 *
 * Why this design:
 *  - Broadcast GEMM over packed weight panels: W (f32/f16/bf16, row-major as in the file) is
 *    converted into f32 panels of PANEL_N = 64 columns, K-major ([K][64] for AVX-512, four
 *    contiguous [K][16] quarters for AVX2), so a micro-kernel keeps 6 rows × 64 columns of
 *    accumulators (24 zmm on AVX-512, 12 ymm per 16-column quarter on AVX2) and does one
 *    broadcast of x and 4 (2) vector loads of W per k: all FMA slots, no horizontal sums
 *    (bench_ops --what gemm: 290-320 GFLOP/s of the 430-460 peak of a 2-core Xeon on SigLIP's
 *    fc1, against 170-180 for matmul.c's dot-product tiles; 80-85 of 96 on one Zen 3 core).
 *  - A task is (a group of up to 2 panels = 128 output columns) × (a chunk of rows, all of M
 *    when there are enough column groups to share out). The thread packs its group into its own
 *    scratch (2·K·64 floats: 0.5 MB for K = 1024) and keeps it for the next task of the same
 *    group, so W is read from memory once per row chunk and the f32 panels stay in cache.
 *  - Every output is one FMA chain in K order from 0, then + bias: acc = fma(x[k], w[k], acc) for
 *    k = 0 … K−1. K is blocked (KC) but the partial sums are stored to y and reloaded exactly, so
 *    the result depends neither on M, the m/n tiling, the thread count nor the ISA: AVX-512, AVX2
 *    and scalar (fmaf) give the same bits, and an image's features do not depend on the batch.
 *  - conv2d: the K order is (ky, kx, ci) instead of PyTorch's (ci, ky, kx) (the panels are packed
 *    in that order), so for a K block inside one tap the x values of an output pixel are Cin
 *    contiguous floats of the channels-last input: the micro-kernel reads them in place through a
 *    row pointer (a zero row outside the image). No im2col buffer.
 *  - Threads take tasks from an atomic counter (group-major, so consecutive tasks share a group). */
#include "cpu_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "cpu_simd.h"

#define PANEL_N 64   /* columns per packed panel */
#define TILE_M 6     /* rows per micro-tile */
#define KC_MAX 512   /* K values per block (panel block 128 KB, x micro-panel 12 KB) */
#define TASK_PANELS 2
#define CHUNK_M_MIN 192 /* fewest rows per task when M is split (packing a group costs ~1/CHUNK of it) */
#define CHUNK_Y_BYTES (512 * 1024) /* most y bytes per task (~L2): its partial sums stay cached across K blocks */

#define JN_PANEL512_TARGET "avx512f,avx2,fma,f16c"

static const float k_zero_row[KC_MAX] __attribute__((aligned(64)));

static inline int imin(int a, int b) { return a < b ? a : b; }

typedef struct gp_ctx {
    const jn_cpu *c;
    float *y;            /* [M, N] */
    const jn_gemm_x *x;
    const uint8_t *w;    /* [N, K] row-major of type wt */
    jn_dtype wt;
    size_t row_bytes;
    const float *bias;   /* [N] or NULL */
    int M, N, K;
    int taps, cin;       /* K = taps · cin; x order k = tap · cin + ci, W order ci · taps + tap */
    int kc, n_kc;        /* ci per K block, blocks per tap */
    int n_panels, n_groups;
    int subw;            /* sub-panel width: 64 (AVX-512: one [K][64] panel) or 16 (AVX2, scalar) */
    int chunk_m, n_chunks; /* rows per task (a multiple of TILE_M), chunks of M */
    long n_tasks;
    atomic_long next;
} gp_ctx;

/* ------------------------------------------------------------------ packing */
/* A panel is PANEL_N / subw sub-panels of subw columns, each K-major: column j of the panel at k
 * is at [j / subw][k][j % subw]. AVX-512 reads a whole 64-wide row per k (subw = 64); AVX2 works on
 * one 16-column quarter at a time and reads it as one contiguous stream (subw = 16) — with the
 * quarters interleaved in one [K][64] panel it read one 64-byte line per 256 bytes (on a Zen 3 core,
 * this layout with the AVX2 packer and plain y stores: 65-69 → 80-85 GFLOP/s of 96). */
static inline size_t panel_index(const gp_ctx *t, int k, int j) {
    return ((size_t)(j / t->subw) * t->K + k) * t->subw + j % t->subw;
}

static inline float w_at(jn_dtype t, const uint8_t *row, int k) {
    if (t == JN_F32) return ((const float *)row)[k];
    uint16_t h = ((const uint16_t *)row)[k];
    return t == JN_F16 ? jn_f16_to_f32(h) : jn_bf16_to_f32(h);
}

/* panel p: dst[panel_index(tap·cin + ci, j)] = W[64p + j][ci·taps + tap], zero past N */
static void pack_panel_scalar(const gp_ctx *t, int p, float *dst) {
    for (int j = 0; j < PANEL_N; j++) {
        const int n = p * PANEL_N + j;
        if (n >= t->N) {
            for (int k = 0; k < t->K; k++) dst[panel_index(t, k, j)] = 0.0f;
            continue;
        }
        const uint8_t *row = t->w + (size_t)n * t->row_bytes;
        for (int ci = 0; ci < t->cin; ci++)
            for (int tap = 0; tap < t->taps; tap++)
                dst[panel_index(t, tap * t->cin + ci, j)] = w_at(t->wt, row, ci * t->taps + tap);
    }
}

/* k0 .. K-1 of a plain (taps = 1) panel, one value at a time: pack_panel_512's remainder */
static void pack_tail_k(const gp_ctx *t, int p, int k0, float *dst) {
    for (int k = k0; k < t->K; k++)
        for (int j = 0; j < PANEL_N; j++) {
            const int n = p * PANEL_N + j;
            dst[panel_index(t, k, j)] = n < t->N ? w_at(t->wt, t->w + (size_t)n * t->row_bytes, k) : 0.0f;
        }
}

#ifdef JN_X86
/* 16 rows × 16 k of a plain (taps = 1) weight, transposed with 512-bit shuffles: the common case
 * (SigLIP, aligners, 1×1 convs), where packing would otherwise cost ~10% of the GEMM */
__attribute__((target(JN_PANEL512_TARGET))) static void pack_panel_512(const gp_ctx *t, int p, float *dst) {
    const int K = t->K, n0 = p * PANEL_N;
    int k = 0;
    for (; k + 16 <= K; k += 16)
        for (int j0 = 0; j0 < PANEL_N; j0 += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                const int n = n0 + j0 + i;
                if (n >= t->N) {
                    r[i] = _mm512_setzero_ps();
                    continue;
                }
                const uint8_t *row = t->w + (size_t)n * t->row_bytes;
                if (t->wt == JN_F32) {
                    r[i] = _mm512_loadu_ps((const float *)row + k);
                } else {
                    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + k));
                    r[i] = t->wt == JN_F16 ? _mm512_cvtph_ps(h)
                                           : _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
                }
            }
            /* 16×16 transpose: 32-bit, 64-bit, 128-bit, 256-bit interleaves */
            __m512 a[16], b[16];
            for (int i = 0; i < 16; i += 2) {
                a[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
                a[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
            }
            for (int i = 0; i < 16; i += 4)
                for (int h = 0; h < 2; h++) {
                    b[i + h] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a[i + h]), _mm512_castps_pd(a[i + 2 + h])));
                    b[i + 2 + h] =
                        _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a[i + h]), _mm512_castps_pd(a[i + 2 + h])));
                }
            for (int i = 0; i < 16; i += 8)
                for (int h = 0; h < 4; h++) {
                    a[i + h] = _mm512_shuffle_f32x4(b[i + h], b[i + 4 + h], 0x88);
                    a[i + 4 + h] = _mm512_shuffle_f32x4(b[i + h], b[i + 4 + h], 0xDD);
                }
            for (int h = 0; h < 8; h++) {
                r[h] = _mm512_shuffle_f32x4(a[h], a[h + 8], 0x88);
                r[h + 8] = _mm512_shuffle_f32x4(a[h], a[h + 8], 0xDD);
            }
            /* r[q] now holds row k + perm(q): lanes i = W[n0 + j0 + i][k + perm(q)] */
            static const int perm[16] = {0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15};
            for (int q = 0; q < 16; q++) _mm512_storeu_ps(dst + panel_index(t, k + perm[q], j0), r[q]);
        }
    pack_tail_k(t, p, k, dst);
}

/* 8 rows × 8 k of a weight, transposed in ymm registers, into 16-wide sub-panels. A conv weight
 * (taps > 1: PyTorch's (ci, ky, kx) order in the row) is first put in the panels' (tap, ci) order,
 * 8 rows at a time, as f32 in rows8 ([8][K]): sequential writes there instead of one 64-byte line
 * per value in the panels. */
JN_AVX2_FN static void pack_panel_avx2(const gp_ctx *t, int p, float *dst, float *rows8) {
    const int K = t->K, n0 = p * PANEL_N;
    const int conv = t->taps > 1;
    for (int j0 = 0; j0 < PANEL_N; j0 += 8) {
        if (conv)
            for (int i = 0; i < 8; i++) {
                const int n = n0 + j0 + i;
                float *ri = rows8 + (size_t)i * K;
                if (n >= t->N) {
                    memset(ri, 0, (size_t)K * sizeof(float));
                    continue;
                }
                const uint8_t *row = t->w + (size_t)n * t->row_bytes;
                for (int tap = 0; tap < t->taps; tap++)
                    for (int ci = 0; ci < t->cin; ci++) ri[tap * t->cin + ci] = w_at(t->wt, row, ci * t->taps + tap);
            }
        int k = 0;
        for (; k + 8 <= K; k += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) {
                const int n = n0 + j0 + i;
                if (conv) {
                    r[i] = _mm256_loadu_ps(rows8 + (size_t)i * K + k);
                    continue;
                }
                if (n >= t->N) {
                    r[i] = _mm256_setzero_ps();
                    continue;
                }
                const uint8_t *row = t->w + (size_t)n * t->row_bytes;
                if (t->wt == JN_F32) {
                    r[i] = _mm256_loadu_ps((const float *)row + k);
                } else {
                    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + k));
                    r[i] = t->wt == JN_F16 ? _mm256_cvtph_ps(h)
                                           : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
                }
            }
            /* 8×8 transpose: u[q] = rows 0-3 at k+q | k+q+4 (q < 4), rows 4-7 likewise in u[q+4] */
            __m256 a[8], u[8];
            for (int i = 0; i < 8; i += 2) {
                a[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
                a[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
            }
            for (int h = 0; h < 8; h += 4) {
                u[h + 0] = _mm256_shuffle_ps(a[h + 0], a[h + 2], 0x44);
                u[h + 1] = _mm256_shuffle_ps(a[h + 0], a[h + 2], 0xEE);
                u[h + 2] = _mm256_shuffle_ps(a[h + 1], a[h + 3], 0x44);
                u[h + 3] = _mm256_shuffle_ps(a[h + 1], a[h + 3], 0xEE);
            }
            for (int q = 0; q < 4; q++) {
                _mm256_storeu_ps(dst + panel_index(t, k + q, j0), _mm256_permute2f128_ps(u[q], u[q + 4], 0x20));
                _mm256_storeu_ps(dst + panel_index(t, k + q + 4, j0), _mm256_permute2f128_ps(u[q], u[q + 4], 0x31));
            }
        }
        for (; k < K; k++) /* K tail of these 8 columns */
            for (int i = 0; i < 8; i++) {
                const int n = n0 + j0 + i;
                dst[panel_index(t, k, j0 + i)] =
                    conv ? rows8[(size_t)i * K + k] : n < t->N ? w_at(t->wt, t->w + (size_t)n * t->row_bytes, k) : 0.0f;
            }
    }
}
#endif

/* panels [p0, p1) into dst ([p1 - p0][K · PANEL_N]); rows8: [8][K] floats of scratch */
static void pack_group(const gp_ctx *t, int p0, int p1, float *dst, float *rows8) {
    for (int p = p0; p < p1; p++, dst += (size_t)t->K * PANEL_N) {
#ifdef JN_X86
        if (t->taps == 1 && t->c->isa == JN_ISA_AVX512) {
            pack_panel_512(t, p, dst);
            continue;
        }
        if (t->c->avx2 && t->c->isa != JN_ISA_AVX512) {
            pack_panel_avx2(t, p, dst, rows8);
            continue;
        }
#endif
        pack_panel_scalar(t, p, dst);
    }
}

/* ------------------------------------------------------------------ micro-kernels */
/* y[i, 0:nv] (+)= Σ_k xr[i][k] · W[k][0:nv] for i < mr, k < kc, in K order, where panel is the
 * panel's first sub-panel at this K block and qstride the floats from one sub-panel to the next.
 * first: start from 0 instead of y; bias (last block only): added after the sum. */

#define SUBW_NARROW 16 /* the sub-panel width of the AVX2 and scalar kernels */

static void mk_scalar(int mr, const float *const *xr, const float *panel, size_t qstride, int kc, float *y,
                      size_t ldy, int nv, int first, const float *bias) {
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nv; j++) {
            const float *wj = panel + (size_t)(j / SUBW_NARROW) * qstride + j % SUBW_NARROW;
            float acc = first ? 0.0f : y[(size_t)i * ldy + j];
            for (int k = 0; k < kc; k++) acc = fmaf(xr[i][k], wj[(size_t)k * SUBW_NARROW], acc);
            y[(size_t)i * ldy + j] = bias ? acc + bias[j] : acc;
        }
}

#ifdef JN_X86
/* AVX2: 6 rows × one 16-column sub-panel ([kc][16], contiguous), 12 accumulators. Plain loads and
 * stores of y for a full sub-panel: vmaskmovps stores are microcoded on Zen (~10% of the kernel). */
JN_AVX2_INLINE void mk2_body(const int mr, const float *const *xr, const float *sub, int kc, float *y, size_t ldy,
                             int nv, int first, const float *bias) {
    __m256 acc[TILE_M][2];
    const int full = nv >= 16;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nv), lane);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nv - 8), lane);
    for (int i = 0; i < mr; i++) {
        float *yi = y + (size_t)i * ldy;
        if (first) {
            acc[i][0] = acc[i][1] = _mm256_setzero_ps();
        } else if (full) {
            acc[i][0] = _mm256_loadu_ps(yi);
            acc[i][1] = _mm256_loadu_ps(yi + 8);
        } else {
            acc[i][0] = _mm256_maskload_ps(yi, m0);
            acc[i][1] = _mm256_maskload_ps(yi + 8, m1);
        }
    }
    for (int k = 0; k < kc; k++) {
        const __m256 w0 = _mm256_loadu_ps(sub + (size_t)k * SUBW_NARROW);
        const __m256 w1 = _mm256_loadu_ps(sub + (size_t)k * SUBW_NARROW + 8);
        for (int i = 0; i < mr; i++) {
            const __m256 xb = _mm256_broadcast_ss(xr[i] + k);
            acc[i][0] = _mm256_fmadd_ps(xb, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(xb, w1, acc[i][1]);
        }
    }
    if (bias) {
        const __m256 b0 = _mm256_maskload_ps(bias, m0), b1 = _mm256_maskload_ps(bias + 8, m1);
        for (int i = 0; i < mr; i++) {
            acc[i][0] = _mm256_add_ps(acc[i][0], b0);
            acc[i][1] = _mm256_add_ps(acc[i][1], b1);
        }
    }
    for (int i = 0; i < mr; i++) {
        float *yi = y + (size_t)i * ldy;
        if (full) {
            _mm256_storeu_ps(yi, acc[i][0]);
            _mm256_storeu_ps(yi + 8, acc[i][1]);
        } else {
            _mm256_maskstore_ps(yi, m0, acc[i][0]);
            _mm256_maskstore_ps(yi + 8, m1, acc[i][1]);
        }
    }
}

JN_AVX2_FN static void mk_avx2(int mr, const float *const *xr, const float *panel, size_t qstride, int kc, float *y,
                               size_t ldy, int nv, int first, const float *bias) {
    for (int q = 0; q < PANEL_N && q < nv; q += SUBW_NARROW) {
        const float *bq = bias ? bias + q : NULL;
        const float *sub = panel + (size_t)(q / SUBW_NARROW) * qstride;
        switch (mr) {
#define JN_MK2(r) \
    case r: mk2_body(r, xr, sub, kc, y + q, ldy, nv - q, first, bq); break
            JN_MK2(1); JN_MK2(2); JN_MK2(3); JN_MK2(4); JN_MK2(5); JN_MK2(6);
#undef JN_MK2
            default: break;
        }
    }
}

#define JN_512_INLINE __attribute__((target(JN_PANEL512_TARGET), always_inline)) static inline

/* AVX-512: 6 rows × 64 columns, 24 accumulators */
JN_512_INLINE void mk512_body(const int mr, const float *const *xr, const float *panel, int kc, float *y, size_t ldy,
                              int nv, int first, const float *bias) {
    __m512 acc[TILE_M][4];
    __mmask16 m[4];
    for (int j = 0; j < 4; j++) {
        const int r = nv - 16 * j;
        m[j] = r >= 16 ? (__mmask16)0xFFFF : r <= 0 ? (__mmask16)0 : (__mmask16)((1u << r) - 1);
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < 4; j++)
            acc[i][j] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m[j], y + (size_t)i * ldy + 16 * j);
    for (int k = 0; k < kc; k++) {
        const float *pk = panel + (size_t)k * PANEL_N;
        const __m512 w0 = _mm512_loadu_ps(pk), w1 = _mm512_loadu_ps(pk + 16);
        const __m512 w2 = _mm512_loadu_ps(pk + 32), w3 = _mm512_loadu_ps(pk + 48);
        for (int i = 0; i < mr; i++) {
            const __m512 xb = _mm512_set1_ps(xr[i][k]);
            acc[i][0] = _mm512_fmadd_ps(xb, w0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(xb, w1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(xb, w2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(xb, w3, acc[i][3]);
        }
    }
    if (bias)
        for (int j = 0; j < 4; j++) {
            const __m512 b = _mm512_maskz_loadu_ps(m[j], bias + 16 * j);
            for (int i = 0; i < mr; i++) acc[i][j] = _mm512_add_ps(acc[i][j], b);
        }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < 4; j++) _mm512_mask_storeu_ps(y + (size_t)i * ldy + 16 * j, m[j], acc[i][j]);
}

__attribute__((target(JN_PANEL512_TARGET))) static void mk_512(int mr, const float *const *xr, const float *panel,
                                                             size_t qstride, int kc, float *y, size_t ldy, int nv,
                                                             int first, const float *bias) {
    (void)qstride; /* one 64-wide sub-panel */
    switch (mr) {
#define JN_MK512(r) \
    case r: mk512_body(r, xr, panel, kc, y, ldy, nv, first, bias); break
        JN_MK512(1); JN_MK512(2); JN_MK512(3); JN_MK512(4); JN_MK512(5); JN_MK512(6);
#undef JN_MK512
        default: break;
    }
}
#endif

typedef void (*gp_kernel)(int mr, const float *const *xr, const float *panel, size_t qstride, int kc, float *y,
                          size_t ldy, int nv, int first, const float *bias);

/* ------------------------------------------------------------------ tasks */

/* row pointers of rows m0 .. m0+mr-1 for the x values of K block (tap, ci0) */
static void x_rows(const gp_ctx *t, int m0, int mr, int tap, int ci0, const float **xr) {
    const jn_gemm_x *x = t->x;
    if (!x->conv) {
        for (int i = 0; i < mr; i++) xr[i] = x->x + (size_t)(m0 + i) * x->ldx + ci0;
        return;
    }
    const int ky = tap / x->kw, kx = tap % x->kw;
    for (int i = 0; i < mr; i++) {
        const int p = m0 + i, oy = p / x->Wo, ox = p % x->Wo;
        const int iy = oy * x->stride - x->pad + ky, ix = ox * x->stride - x->pad + kx;
        xr[i] = (iy < 0 || iy >= x->H || ix < 0 || ix >= x->W) ? k_zero_row
                                                                 : x->x + ((size_t)iy * x->W + ix) * x->Cin + ci0;
    }
}

static void gemm_task(void *arg, int ith, int nth) {
    gp_ctx *t = (gp_ctx *)arg;
    (void)nth;
    gp_kernel mk = mk_scalar;
#ifdef JN_X86
    if (t->c->isa == JN_ISA_AVX512) mk = mk_512;
    else if (t->c->avx2) mk = mk_avx2;
#endif
    float *panels = (float *)t->c->tscratch[ith]; /* [TASK_PANELS][K · PANEL_N]: this thread's group */
    float *rows8 = panels + (size_t)TASK_PANELS * t->K * PANEL_N; /* [8][K]: pack_panel_avx2's conv rows */
    int packed_group = -1;
    const int n_blocks = t->taps * t->n_kc;
    for (;;) {
        long task = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
        if (task >= t->n_tasks) break;
        const int g = (int)(task / t->n_chunks), chunk = (int)(task % t->n_chunks);
        const int p0 = g * TASK_PANELS, p1 = imin(t->n_panels, p0 + TASK_PANELS);
        const int m0 = chunk * t->chunk_m, m1 = imin(t->M, m0 + t->chunk_m);
        if (g != packed_group) pack_group(t, p0, p1, panels, rows8);
        packed_group = g;
        for (int blk = 0; blk < n_blocks; blk++) {
            const int tap = blk / t->n_kc, ci0 = (blk % t->n_kc) * t->kc, kc = imin(t->kc, t->cin - ci0);
            const size_t k0 = (size_t)tap * t->cin + ci0;
            const int first = blk == 0, last = blk == n_blocks - 1;
            for (int m = m0; m < m1; m += TILE_M) {
                const int mr = imin(TILE_M, m1 - m);
                const float *xr[TILE_M];
                x_rows(t, m, mr, tap, ci0, xr);
                for (int p = p0; p < p1; p++) {
                    const int n = p * PANEL_N, nv = imin(PANEL_N, t->N - n);
                    const float *panel = panels + (size_t)(p - p0) * t->K * PANEL_N + k0 * t->subw;
                    mk(mr, xr, panel, (size_t)t->K * t->subw, kc, t->y + (size_t)m * t->N + n, (size_t)t->N, nv, first,
                       last && t->bias ? t->bias + n : NULL);
                }
            }
        }
    }
}

void jn_cpu_gemm_panel(jn_cpu *c, float *y, const jn_gemm_x *x, int M, const jn_weight *w, const float *bias) {
    if (M <= 0) return;
    JN_ASSERT(w->type == JN_F32 || w->type == JN_F16 || w->type == JN_BF16);
    gp_ctx t;
    memset(&t, 0, sizeof t);
    t.c = c;
    t.y = y;
    t.x = x;
    t.w = (const uint8_t *)w->data;
    t.wt = w->type;
    t.bias = bias;
    t.M = M;
    t.N = (int)jn_weight_rows(w);
    t.K = (int)jn_weight_cols(w);
    t.row_bytes = jn_row_bytes(w->type, t.K);
    t.taps = x->conv ? x->kh * x->kw : 1;
    t.cin = t.K / t.taps;
    JN_ASSERT(t.cin * t.taps == t.K && (!x->conv || t.cin == x->Cin));
    t.n_kc = (t.cin + KC_MAX - 1) / KC_MAX;
    t.kc = (t.cin + t.n_kc - 1) / t.n_kc; /* equal blocks */
    t.n_panels = (t.N + PANEL_N - 1) / PANEL_N;
    t.subw = c->isa == JN_ISA_AVX512 ? PANEL_N : SUBW_NARROW;
    t.n_groups = (t.n_panels + TASK_PANELS - 1) / TASK_PANELS;
    /* enough tasks for the threads to balance (~4 each), rows split only when the groups are few */
    const int want = 4 * c->nth;
    int n_chunks = t.n_groups >= want ? 1 : (want + t.n_groups - 1) / t.n_groups;
    int chunk_m = (M + n_chunks - 1) / n_chunks;
    if (chunk_m < CHUNK_M_MIN) chunk_m = CHUNK_M_MIN;
    const int group_cols = imin(t.N, TASK_PANELS * PANEL_N);
    const int chunk_m_cache = (int)(CHUNK_Y_BYTES / ((size_t)group_cols * sizeof(float)));
    if (t.taps * t.n_kc > 1 && chunk_m > chunk_m_cache) chunk_m = chunk_m_cache > TILE_M ? chunk_m_cache : TILE_M;
    t.chunk_m = (chunk_m + TILE_M - 1) / TILE_M * TILE_M;
    t.n_chunks = (M + t.chunk_m - 1) / t.chunk_m;
    t.n_tasks = (long)t.n_groups * t.n_chunks;
    atomic_init(&t.next, 0);
    /* per thread: its group's panels, then pack_panel_avx2's 8 reordered conv rows */
    if (!jn_cpu_reserve(c, ((size_t)TASK_PANELS * PANEL_N + 8) * t.K * sizeof(float), 0)) return;
    if (c->nth > 1 && t.n_tasks > 1 && (double)M * t.N * t.K >= 256.0 * 1024.0) jn_pool_run(c->pool, gemm_task, &t);
    else gemm_task(&t, 0, 1);
}
