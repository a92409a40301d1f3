/* engine/cpu/cpu_internal.h — shared state and kernel entry points of the cpu backend.
 *
 * Why: the cpu backend is split by op family (backend_cpu.c: table, memory, norms, rope,
 * element-wise; matmul.c; conv2d.c; attention.c). They share one impl struct (thread pool,
 * scratch grown on demand, the AVX2 switch) and the single-threaded matmul block kernels, which
 * conv2d reuses on im2col tiles.
 *
 * Numerics: every output element is reduced by exactly one thread with an arithmetic sequence
 * that depends neither on the thread count nor on the tile it falls in nor on M (so a row gives
 * the same bits in a batch of 1 or of 300). AVX2 and scalar paths differ from each other. */
#ifndef JANUS_ENGINE_CPU_INTERNAL_H
#define JANUS_ENGINE_CPU_INTERNAL_H

#include "../backend.h"
#include "../threadpool.h"

/* x quantized to 8 bits per 32-block, f32 scale (internal, not a file format). ns[l] =
 * -8·(qs[4l] + … + qs[4l+3]): the per-lane correction that lets the q4_0 kernel multiply the
 * unsigned nibbles (q + 8) directly (Σ(q+8)·x − 8·Σx = Σq·x, exact in int32). */
typedef struct jn_q8x {
    float d;
    int8_t qs[32];
    int32_t ns[8];
} jn_q8x;

typedef struct jn_cpu {
    jn_pool *pool;
    int nth;
    int avx2;              /* AVX2 + FMA + F16C usable */
    int vnni;              /* avx2 and AVX-VNNI usable (quantized matmul; same results as avx2) */
    /* per-thread scratch: nth buffers of tsize bytes, 64-byte aligned */
    void **tscratch;
    size_t tsize;
    /* shared scratch (quantized activations, converted conv weights) */
    void *shared;
    size_t shared_size;
} jn_cpu;

/* Grows the scratch (called on the calling thread before a pool run; aborts on OOM because ops
 * cannot report errors). */
void jn_cpu_reserve(jn_cpu *c, size_t per_thread_bytes, size_t shared_bytes);

/* ---- matmul building blocks (single-threaded; matmul.c) ---- */
/* y[m*ldy + n] = x[m*ldx, :K] · w[n*ldw, :K] (+ bias[n]) for m < M, n < N, f32 weights. */
void jn_cpu_mm_f32(const jn_cpu *c, float *y, size_t ldy, const float *x, size_t ldx, int M, const float *w,
                   size_t ldw, int N, int K, const float *bias);
/* Quantizes rows x[m*ldx, :K] (K % 32 == 0) into q[m*(K/32) + b]. */
void jn_cpu_quantize_q8x(const jn_cpu *c, const float *x, size_t ldx, int M, int K, jn_q8x *q);
/* y[m*ldy + n] = xq[m] · W[n] for q8_0 / q4_0 weight rows (row_bytes apart), K = 32*nb. */
void jn_cpu_mm_q(const jn_cpu *c, float *y, size_t ldy, const jn_q8x *xq, int M, const uint8_t *w,
                 size_t row_bytes, jn_dtype wt, int N, int nb, const float *bias);
/* Converts n_rows rows of K elements (float dtypes) to f32 out[r*K + k]. */
void jn_cpu_rows_to_f32(const jn_cpu *c, jn_dtype t, const void *src, size_t row_bytes, int n_rows, int K,
                        float *out);

/* ---- op entry points (threaded) ---- */
void jn_cpu_matmul(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int M);
void jn_cpu_conv2d(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int H, int W,
                   int stride, int pad);
void jn_cpu_attention(jn_backend *be, float *out, const float *q, const float *k, const float *v, int n_seq, int n_q,
                      int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride, int ldo, int causal,
                      float scale);

/* ---- vector math (elementwise.c); AVX2 variants used when c->avx2 ---- */
void jn_cpu_exp_inplace(const jn_cpu *c, float *x, int n); /* x = exp(x), max rel err ~2 ulp */
void jn_cpu_add(jn_backend *be, float *y, const float *a, const float *b, size_t n);
void jn_cpu_mul(jn_backend *be, float *y, const float *a, const float *b, size_t n);
void jn_cpu_scale(jn_backend *be, float *y, const float *x, float s, size_t n);
void jn_cpu_gelu(jn_backend *be, float *y, const float *x, size_t n);
void jn_cpu_silu(jn_backend *be, float *y, const float *x, size_t n);
void jn_cpu_swiglu(jn_backend *be, float *y, const float *gate, const float *up, size_t n);

#endif
