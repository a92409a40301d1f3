/* engine/cpu/cpu_internal.h — shared state and kernel entry points of the cpu backend.
 *
 * Why: the cpu backend is split by op family (backend_cpu.c: table, memory, norms, rope,
 * element-wise; matmul.c; conv2d.c; attention.c). They share one impl struct (thread pool,
 * scratch grown on demand, the ISA chosen at creation, the sticky error) and the single-threaded
 * matmul block kernels, which conv2d reuses on im2col tiles.
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

/* Instruction sets, chosen once per backend instance (jn_backend_cpu_create): the best the CPU
 * and OS support, lowered by JANUS_CPU_ISA=avx512|avx2|scalar (never raised above what the CPU
 * has). JANUS_CPU_SCALAR=1 is JANUS_CPU_ISA=scalar; JANUS_CPU_NO_VNNI=1 keeps the ISA but turns
 * off VNNI dot products (AVX-512 quantized matmul then falls back to the AVX2 kernels). */
typedef enum jn_cpu_isa {
    JN_ISA_SCALAR = 0,
    JN_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C (+ AVX-VNNI when present) */
    JN_ISA_AVX512 = 2, /* AVX-512 F/BW/VL/VNNI + the AVX2 set */
} jn_cpu_isa;

/* The quantized weight layout made by weight_upload on AVX2/AVX-512 instances (matmul_packed.c):
 * rows in groups of JN_PACK_ROWS; per group and 32-block: JN_PACK_ROWS f16 scales, then the
 * quants transposed so that each 32-bit lane of a 64-byte vector holds 4 bytes of one row (q4_0:
 * 4 chunks of the 16 nibble bytes; q8_0: 8 chunks of the 32 bytes XOR 0x80, i.e. q + 128
 * unsigned). Missing rows of the last group are zero with scale 0. The buffer starts with this
 * header, so any instance recognises it from w->dev and w->type alone. */
#define JN_PACK_ROWS 16
#define JN_PACK_MAGIC 0x314b4350554a4e4aull /* "JNJUPCK1" */
typedef struct jn_cpu_packed {
    uint64_t magic;
    int32_t type; /* jn_dtype of the source (q4_0 / q8_0) */
    int32_t N, K;
    int32_t n_groups, nb;
    int32_t group_bytes; /* bytes of one group's 32-block: 2·16 scales + 16·16 or 16·32 quants */
    void *arena;         /* the backend_cpu.c arena chunk holding this copy (reference counted) */
    uint8_t pad_[24];
} jn_cpu_packed; /* 64 bytes; the data follows */

/* the packed header of w->dev, or NULL when w is in the plain file layout */
static inline const jn_cpu_packed *jn_cpu_packed_of(const jn_weight *w) {
    if (!w->dev || w->dev == w->data || (w->type != JN_Q4_0 && w->type != JN_Q8_0)) return NULL;
    const jn_cpu_packed *p = (const jn_cpu_packed *)w->dev;
    return p->magic == JN_PACK_MAGIC && p->type == (int32_t)w->type ? p : NULL;
}

typedef struct jn_cpu_arena jn_cpu_arena; /* backend_cpu.c: huge-page chunks for packed weights */

typedef struct jn_cpu {
    jn_pool *pool;
    int nth;
    jn_cpu_isa isa;
    int avx2;              /* isa >= AVX2: AVX2 + FMA + F16C usable */
    int vnni;              /* avx2 and AVX-VNNI usable (quantized matmul; same results as avx2) */
    int avx512;            /* isa == AVX512 and VNNI allowed: 512-bit kernels for packed weights
                              (else AVX2 instances use the 256-bit packed kernels) */
    /* sticky error: the first failure (scratch OOM, injected fault); later ops are no-ops */
    jn_error err;
    long n_ops;            /* op calls so far (for JANUS_FAULT_OP) */
    long fault_op;         /* JANUS_FAULT_OP: the 1-based op call that fails, 0 = none */
    /* per-thread scratch: nth buffers of tsize bytes, 64-byte aligned */
    void **tscratch;
    size_t tsize;
    /* shared scratch (quantized activations) */
    void *shared;
    size_t shared_size;
    /* the arena chunk packed weights are placed in next (weight_upload is called from one
     * thread: the model's load) */
    jn_cpu_arena *arena;
} jn_cpu;

/* Grows the scratch (called on the calling thread before a pool run). Returns 0 and records a
 * sticky JN_ERR_NOMEM in c->err when it cannot; the op must then return without computing. */
int jn_cpu_reserve(jn_cpu *c, size_t per_thread_bytes, size_t shared_bytes);

/* ---- packed quantized weights (matmul_packed.c) ---- */
/* bytes of the packed copy of an [N, K] q4_0/q8_0 weight, header included */
size_t jn_cpu_packed_bytes(jn_dtype t, int64_t N, int64_t K);
/* The packed copy of w (plain layout in w->data) in dst (jn_cpu_packed_bytes bytes, 64-byte
 * aligned): the header first, then groups [g0, g1) (any split, e.g. over threads). */
void jn_cpu_pack_header(const jn_weight *w, void *dst);
void jn_cpu_pack_groups(const jn_weight *w, void *dst, int g0, int g1);
/* plain q4_0/q8_0 block of row n, block b of a packed weight (for get_rows and the scalar
 * paths): writes sizeof(jn_block_q*_0) bytes to out */
void jn_cpu_packed_block(const jn_cpu_packed *p, int n, int b, uint8_t *out);
/* the matmul over a packed weight (AVX2 or AVX-512 instances): y[M, N] = x[M, K]·Wᵀ (+ bias),
 * threaded (one pool dispatch, activations quantized inside it) */
void jn_cpu_matmul_packed(jn_cpu *c, float *y, const float *x, const jn_cpu_packed *p, const float *bias, int M);

/* ---- panel GEMM for float weights times many rows (gemm_panel.c) ---- */
/* The x operand: plain rows (x + m·ldx, K values), or the output pixels of a conv over a
 * channels-last input [H, W, Cin] (row m = output pixel m of a Wo-wide output, K values in
 * (ky, kx, ci) order, zero outside the image). */
typedef struct jn_gemm_x {
    const float *x;
    size_t ldx;
    int conv;
    int H, W, Cin, kh, kw, stride, pad, Wo;
} jn_gemm_x;
/* y[M, N] = x · W[N, K]^T (+ bias[N]) for f32/f16/bf16 W, threaded. Each output is one FMA chain
 * in K order, then + bias: the same bits for any M, thread count or ISA. Scratch: 2·K·64 floats
 * per thread (the packed panels of one task). */
void jn_cpu_gemm_panel(jn_cpu *c, float *y, const jn_gemm_x *x, int M, const jn_weight *w, const float *bias);

/* ---- matmul building blocks (single-threaded; matmul.c) ---- */
/* y[m*ldy + n] = x[m*ldx, :K] · w[n*ldw, :K] (+ bias[n]) for m < M, n < N, f32 weights. */
void jn_cpu_mm_f32(const jn_cpu *c, float *y, size_t ldy, const float *x, size_t ldx, int M, const float *w,
                   size_t ldw, int N, int K, const float *bias);
/* The same with W rows of f16 or bf16 (t) read directly, ldw in elements, no bias: bit-identical
 * to jn_cpu_mm_f32 on the converted rows. AVX2 instances only (c->avx2). */
void jn_cpu_mm_half(const jn_cpu *c, jn_dtype t, float *y, size_t ldy, const float *x, size_t ldx, int M,
                    const void *w, size_t ldw, int N, int K);
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
/* The same over a K/V cache of kv_type elements (JN_F32, JN_F16, JN_BF16; strides in elements). */
void jn_cpu_attention_kv(jn_backend *be, float *out, const float *q, const void *k, const void *v, jn_dtype kv_type,
                         int n_seq, int n_q, int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride,
                         int ldo, int causal, float scale);

/* ---- vector math (elementwise.c); AVX2 variants used when c->avx2 ---- */
void jn_cpu_exp_inplace(const jn_cpu *c, float *x, int n); /* x = exp(x), max rel err ~2 ulp */
void jn_cpu_add(jn_backend *be, float *y, const float *a, const float *b, size_t n);
void jn_cpu_mul(jn_backend *be, float *y, const float *a, const float *b, size_t n);
void jn_cpu_scale(jn_backend *be, float *y, const float *x, float s, size_t n);
void jn_cpu_gelu(jn_backend *be, float *y, const float *x, size_t n);
void jn_cpu_silu(jn_backend *be, float *y, const float *x, size_t n);
void jn_cpu_swiglu(jn_backend *be, float *y, const float *gate, const float *up, size_t n);

#endif
