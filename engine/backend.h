/* engine/backend.h — the backend interface: memory + one entry per op family.
 *
 * Model code (vision/, decoder/, vq_tokenizer/) is written once against this table and never
 * contains a backend #ifdef. Implementations: engine/ref (obviously correct scalar loops, the
 * oracle for tests), engine/cpu (threaded, AVX-512 / AVX2+FMA chosen at run time with a scalar
 * fallback; JANUS_CPU_ISA=avx512|avx2|scalar lowers the choice),
 * engine/cuda (cuBLAS + own kernels; compiled only when CUDA is found).
 *
 * Conventions for every op:
 *  - Pointers named y/x/q/k/v/out are backend memory (host memory for ref/cpu, device memory for
 *    cuda) holding f32, row-major, contiguous unless a leading dimension (ld*, in floats) is given.
 *  - Arguments named *_host are host memory on every backend (small index arrays).
 *  - Weights are jn_weight: dtype f32/f16/bf16/q8_0/q4_0, shape in PyTorch order, host bytes in
 *    ->data and the backend's copy in ->dev (== data on ref; on cpu == data except 2-D
 *    q8_0/q4_0 weights uploaded by an AVX2/AVX-512 instance, which get a packed copy). A weight
 *    uploaded by one instance may be used by other instances of the same kind concurrently
 *    (read-only; each instance has its own threads and scratch); release it with that kind's
 *    weight_release. A weight used as a matrix is [N, K] with N = shape[0] and K = the product
 *    of the other dims (row-major). Biases and norm weights are always f32 1-D weights.
 *  - Precision: activations, accumulations, norms, softmax and RoPE angles are f32.
 *  - Determinism: results never depend on the thread count (static partitions, each output
 *    element reduced by one thread in a fixed order).
 *  - y may alias x only where the contract says "in place allowed".
 *  - Ops are asynchronous on cuda: call synchronize() (or download(), which synchronizes)
 *    before reading results on the host.
 */
#ifndef JANUS_ENGINE_BACKEND_H
#define JANUS_ENGINE_BACKEND_H

#include "base.h"
#include "dtype.h"
#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jn_weight {
    const char *name;
    jn_dtype type;
    int n_dims;
    int64_t shape[4];   /* PyTorch order; unused trailing dims 1 */
    const void *data;   /* host bytes (the mmapped file on CPU) */
    size_t nbytes;
    void *dev;          /* backend copy: == data on ref/cpu, device pointer on cuda */
    int many_rows;      /* 1: every matmul with it has hundreds of rows or more (image tokens, pixels;
                           set when a component binds it): a backend may pick a kernel built for
                           large M, for every M, so results still never depend on M */
} jn_weight;

/* rows/cols of a weight viewed as a matrix [N, K] */
static inline int64_t jn_weight_rows(const jn_weight *w) { return w->shape[0]; }
static inline int64_t jn_weight_cols(const jn_weight *w) {
    int64_t k = 1;
    for (int i = 1; i < w->n_dims; i++) k *= w->shape[i];
    return k;
}

typedef struct jn_backend jn_backend;
#define JN_BACKEND_GRAPH_SLOTS 8  /* captured graphs per backend (capture_end) */
#define JN_BACKEND_STEP_SCALARS 8 /* device int32 scalars per backend (step_scalar) */
struct jn_backend {
    const char *name; /* "ref", "cpu", "cuda" */
    void *impl;       /* implementation state (thread pool, cuBLAS handle, stream, scratch) */
    int kv_q8_0;      /* 1: copy2d_kv / attention_kv take q8_0 K/V caches (ref, cpu; not cuda) */

    /* ---- memory ---- */
    void *(*alloc)(jn_backend *be, size_t nbytes);            /* NULL on failure; 64-byte aligned */
    void (*free)(jn_backend *be, void *p);                      /* NULL ok */
    void (*upload)(jn_backend *be, void *dst, const void *src_host, size_t nbytes);
    void (*download)(jn_backend *be, void *dst_host, const void *src, size_t nbytes); /* synchronizes */
    void (*copy)(jn_backend *be, void *dst, const void *src, size_t nbytes);
    void (*memset0)(jn_backend *be, void *dst, size_t nbytes);
    /* Makes w->dev usable by this backend (cpu: w->dev = data; cuda: device copy). */
    jn_status (*weight_upload)(jn_backend *be, jn_weight *w, jn_error *err);
    void (*weight_release)(jn_backend *be, jn_weight *w);
    void (*synchronize)(jn_backend *be);
    void (*destroy)(jn_backend *be);                            /* frees the backend itself */

    /* ---- linear algebra ---- */
    /* y[M,N] = x[M,K] · W[N,K]^T (+ bias[N] if bias != NULL). K must equal jn_weight_cols(w);
     * for q8_0/q4_0 weights K is a multiple of 32 (x is used at full f32 precision: the reference
     * dequantizes W to f32; the cpu backend may quantize x to q8 blocks like ggml and is tested
     * against the reference with a measured tolerance). */
    void (*matmul)(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int M);
    /* y[n, K] = rows ids_host[i] of W[N, K], converted to f32. ids in [0, N) (checked by callers). */
    void (*get_rows)(jn_backend *be, float *y, const jn_weight *w, const int32_t *ids_host, int n);

    /* ---- normalisation ---- */
    /* y[M,N] = x · rsqrt(mean(x², row) + eps) · w[N]   (LLaMA RMSNorm; in place allowed) */
    void (*rms_norm)(jn_backend *be, float *y, const float *x, const jn_weight *w, int M, int N, float eps);
    /* y[M,N] = (x − mean) · rsqrt(biased var + eps) · w + b   (LayerNorm; in place allowed) */
    void (*layer_norm)(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *b, int M,
                       int N, float eps);
    /* GroupNorm on one channels-last image x[HW, C]: G groups of C/G consecutive channels,
     * statistics over (C/G)·HW values (biased variance), then per-channel affine w[C], b[C].
     * In place allowed. */
    void (*group_norm)(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *b, int HW,
                       int C, int G, float eps);

    /* ---- position / attention ---- */
    /* In-place rotate-half ("NeoX") RoPE on x viewed as [n_seq*n_tok rows, ld floats]; each row
     * holds n_head heads of d_head values starting at column 0. Row s*n_tok + t has position
     * pos0_host[s] + t. inv_freq[i] = 1 / theta^(2i/d_head) computed in f32 (powf, as PyTorch),
     * angle = f32(inv_freq[i] · pos), c = cosf(angle), s = sinf(angle);
     * out[i] = x[i]·c − x[i+d/2]·s, out[i+d/2] = x[i+d/2]·c + x[i]·s for i < d_head/2. */
    void (*rope)(jn_backend *be, float *x, int n_seq, int n_tok, int n_head, int d_head, int ld,
                 const int32_t *pos0_host, float theta);
    /* Scaled dot-product attention, per sequence s < n_seq and head h < n_head:
     *   query rows   q + (s*n_q + i)*ldq + h*d_head          (i < n_q)
     *   key rows     k + s*seq_stride + j*ldkv + h*d_head    (j < n_kv); same for v
     *   output rows  out + (s*n_q + i)*ldo + h*d_head
     *   out = softmax(scale · q·kᵀ + mask) · v, softmax in f32 with max subtraction;
     *   causal != 0: query i sees keys j <= n_kv − n_q + i (the queries are the last n_q
     *   positions); causal == 0: all keys. out must not alias q/k/v. */
    void (*attention)(jn_backend *be, float *out, const float *q, const float *k, const float *v, int n_seq,
                      int n_q, int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride, int ldo,
                      int causal, float scale);

    /* ---- element-wise (n elements; in place allowed) ---- */
    void (*add)(jn_backend *be, float *y, const float *a, const float *b, size_t n);  /* y = a + b */
    void (*mul)(jn_backend *be, float *y, const float *a, const float *b, size_t n);  /* y = a ⊙ b */
    void (*scale)(jn_backend *be, float *y, const float *x, float s, size_t n);       /* y = s·x */
    void (*gelu)(jn_backend *be, float *y, const float *x, size_t n);   /* exact: 0.5x(1+erf(x/√2)) */
    void (*silu)(jn_backend *be, float *y, const float *x, size_t n);   /* x·sigmoid(x) (= swish) */
    void (*swiglu)(jn_backend *be, float *y, const float *gate, const float *up, size_t n); /* silu(g)⊙u */
    /* y[rows, cols] (row stride ldy) = x[rows, cols] (row stride ldx): strided 2-D copy, used to
     * write K/V rows into the cache and to gather columns. No aliasing. */
    void (*copy2d)(jn_backend *be, float *y, int ldy, const float *x, int ldx, int rows, int cols);

    /* ---- convolution (VQ decoder, patch embedding), channels-last ---- */
    /* x[H, W, Cin] (channels-last), W[Cout, Cin, kh, kw] any dtype, bias f32 [Cout] or NULL,
     * zero padding pad, stride s: y[Ho, Wo, Cout], Ho = (H + 2·pad − kh)/s + 1 (same for Wo).
     * Equivalent to PyTorch conv2d on the CHW tensor. */
    void (*conv2d)(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int H,
                   int W, int stride, int pad);
    /* y[2H, 2W, C] = x[H, W, C] nearest-neighbour ×2 (out[y][x] = in[y/2][x/2]). */
    void (*upsample2x)(jn_backend *be, float *y, const float *x, int H, int W, int C);

    /* ---- added after the first table (NULL where a backend does not provide it) ---- */
    /* Sticky error of this instance: JN_OK, or the first failure of an op (scratch growth out
     * of memory; on cpu also the JANUS_FAULT_OP test fault below) copied into err. Ops after a
     * failure do nothing, so a caller checks once after a batch of ops (e.g. per step), then
     * destroys the instance. cpu: JANUS_FAULT_OP=N in the environment at jn_backend_cpu_create
     * makes that instance's N-th op call (1-based, every compute op of this table counts, memory
     * entries do not) fail with "cpu backend: injected fault in op call N (op), ...", for tests
     * of callers' error paths. Use jn_backend_status() (handles NULL and cuda). */
    jn_status (*status)(jn_backend *be, jn_error *err);
    /* ==== added by the CUDA work (issue 14): device sampling, step capture, half K/V caches,
     * fused GroupNorm+SiLU. ref/cpu fill these with jn_backend_host_extra_ops. ==== */
    /* Samples n_out ids from f32 logits (backend memory): rows as in jn_sample_rows (sample.h),
     * cfg_pairs != 0: logits [2·n_out, C] in (cond, uncond) pairs mixed with sp->cfg, else
     * [n_out, C]; the draw for row r uses jn_rng_uniform(sp->seed, stream0 + r, index + d) with
     * d = *index_dev (an int32 in backend memory, e.g. step_scalar(be, 0)) or 0 if index_dev is
     * NULL. Writes each id repeat times (1 ≤ repeat ≤ 256) to ids (backend memory: device memory on cuda, so the ids
     * can feed get_rows_dev without a host round trip; download 4·n_out·repeat bytes to read
     * them). Every backend returns the ids jn_sample_rows computes on the host (same arithmetic).
     * Returns JN_OK or an error (host: out of memory; cuda: the sticky status). */
    jn_status (*sample)(jn_backend *be, int32_t *ids, int repeat, const float *logits, int n_out, int C,
                        int cfg_pairs, const jn_sample_params *sp, uint64_t stream0, uint64_t index,
                        const int32_t *index_dev, jn_error *err);
    /* get_rows with the ids in backend memory (ids [n] int32 in [0, N), unchecked on the device:
     * out-of-range ids are clamped on cuda). */
    void (*get_rows_dev)(jn_backend *be, float *y, const jn_weight *w, const int32_t *ids, int n);
    /* Position-delta variants for captured steps: identical to rope / attention / copy2d with an
     * int32 delta d = *dpos read from backend memory when the op runs (dpos = step_scalar(be, i);
     * NULL: d = 0):
     * rope positions pos0_host[s] + d + t; attention over n_kv + d keys (n_kv ≥ 1 is the count at
     * capture and sizes the key split); copy2d writes to y + d·ldy (the KV cache row). */
    void (*rope_dpos)(jn_backend *be, float *x, int n_seq, int n_tok, int n_head, int d_head, int ld,
                      const int32_t *pos0_host, const int32_t *dpos, float theta);
    void (*attention_dpos)(jn_backend *be, float *out, const float *q, const float *k, const float *v, int n_seq,
                           int n_q, int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride, int ldo,
                           int causal, float scale, const int32_t *dpos);
    void (*copy2d_dpos)(jn_backend *be, float *y, int ldy, const float *x, int ldx, int rows, int cols,
                        const int32_t *dpos);
    /* Compact K/V caches (kv_type JN_F16, JN_BF16, or JN_Q8_0 where be->kv_q8_0; JN_F32 = the
     * plain ops): copy2d_kv writes x[rows, cols] (f32) rounded to nearest-even (q8_0: ggml's
     * reference quantizer, one f16 scale per 32 values) into rows d .. d + rows − 1 of the cache
     * y (kv_type elements, row stride ldy elements; d = *dpos, 0 if NULL); attention_kv is
     * attention_dpos reading k/v as kv_type (ldkv, seq_stride in elements) and converting each
     * value to f32 exactly; q, out and all arithmetic stay f32. Element offsets address block
     * types through jn_elem_offset: with q8_0, cols, ldy, ldkv and seq_stride are multiples of 32
     * (rows start on a block; a head may start inside one). f16/bf16 halve the cache's bytes and
     * the bandwidth of decode attention, q8_0 takes 34 bytes per 32 values (0.53× f16). ref/cpu
     * convert the visible rows to an f32 copy and run their attention (a failed allocation there
     * writes NaN to out, as a void op can report). */
    void (*copy2d_kv)(jn_backend *be, void *y, jn_dtype kv_type, int ldy, const float *x, int ldx, int rows, int cols,
                      const int32_t *dpos);
    void (*attention_kv)(jn_backend *be, float *out, const float *q, const void *k, const void *v, jn_dtype kv_type,
                         int n_seq, int n_q, int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride,
                         int ldo, int causal, float scale, const int32_t *dpos);
    /* y = silu(group_norm(x)) (the VQ decoder's norm → nonlinearity pairs; one pass on cuda,
     * group_norm then silu in place on ref/cpu). In place allowed. */
    void (*group_norm_silu)(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *b, int HW,
                            int C, int G, float eps);
    /* Step capture (CUDA graphs; NULL on ref/cpu, where callers run the ops eagerly, using
     * step_scalar/set_step_scalar there too). capture_begin() starts recording the ops queued on
     * the backend's stream (nothing runs); capture_end() instantiates them as graph slot `slot`
     * (0 ≤ slot < JN_BACKEND_GRAPH_SLOTS, replacing an earlier one) and returns JN_OK or why not;
     * replay(slot) launches it. Rules for captured ops (docs/cuda.md): run the same step once
     * eagerly first (grow-only scratch must not grow inside a capture), take per-step values
     * only from device memory (ids via sample + get_rows_dev, positions via the *_dpos ops and
     * index_dev), no upload/download/synchronize inside. step_scalar(be, i) (i < 8) is an int32
     * in backend memory; set_step_scalar writes it in stream order (before the next replay). */
    void (*capture_begin)(jn_backend *be);
    jn_status (*capture_end)(jn_backend *be, int slot, jn_error *err);
    jn_status (*replay)(jn_backend *be, int slot, jn_error *err);
    int32_t *(*step_scalar)(jn_backend *be, int i);
    void (*set_step_scalar)(jn_backend *be, int i, int32_t value);
    int32_t step_scalars_host[JN_BACKEND_STEP_SCALARS]; /* their storage on host backends */
    /* ==== end of the CUDA block ==== */
};

/* Constructors. n_threads <= 0: all online CPUs. Return NULL + err on failure. */
jn_backend *jn_backend_ref_create(jn_error *err);
jn_backend *jn_backend_cpu_create(int n_threads, jn_error *err);
/* Returns NULL + err ("no CUDA device" / "built without CUDA") when unavailable. */
jn_backend *jn_backend_cuda_create(int device, jn_error *err);
/* 1 if this build contains the CUDA backend and a device is present. */
int jn_backend_cuda_available(void);
/* Loads the CUDA backend's run-time libraries (cuBLAS, cuBLASLt; no device needed): JN_OK, or
 * JN_ERR_USAGE in a build without CUDA, or JN_ERR_RUNTIME naming the library or entry point missing. */
jn_status jn_backend_cuda_load_libraries(jn_error *err);
/* CUDA ops return void and run asynchronously: the first failing CUDA/cuBLAS call is kept in the
 * backend (sticky). Returns JN_OK if none failed (and for any non-cuda backend), else records
 * "cuda device N: file:line: statement failed: reason" in err and returns its status. Call it
 * after synchronize()/download() to check a batch of ops. */
jn_status jn_backend_cuda_last_error(jn_backend *be, jn_error *err);

/* The sticky error of any backend: be->status when set, else the cuda last error (JN_OK for a
 * backend with neither). */
static inline jn_status jn_backend_status(jn_backend *be, jn_error *err) {
    return be->status ? be->status(be, err) : jn_backend_cuda_last_error(be, err);
}
/* Settings of the cuda backend (error for other backends and unknown keys/values):
 *  "gemm"  = "f32" (default: pedantic FP32 SGEMM, the f32 contract above) | "bf16" | "f16": the
 *            large-M GEMMs (prefill, SigLIP, VQ convolutions) round x and W to that type and
 *            accumulate in f32 on tensor cores (~1e-3 relative error). Initial: $JANUS_CUDA_GEMM.
 *  "cudnn" = "auto" (default: cuDNN for conv2d when libcudnn.so.9 loads) | "on" (error if it
 *            does not) | "off" (own kernels). Initial: $JANUS_CUDNN (AUTO|ON|OFF); with ON an
 *            unusable cuDNN already fails jn_backend_cuda_create. */
jn_status jn_backend_cuda_set(jn_backend *be, const char *key, const char *value, jn_error *err);
/* One line for `janus info`: device, memory, GEMM precision, conv2d engine (and why not cuDNN).
 * Returns snprintf's count. */
int jn_backend_cuda_describe(jn_backend *be, char *buf, size_t n);
/* Free and total bytes of the cuda backend's device now (for planning what fits before loading). */
jn_status jn_backend_cuda_memory(jn_backend *be, size_t *free_bytes, size_t *total_bytes, jn_error *err);

/* Host-memory backends (ref, cpu) share these implementations of the entries above
 * (engine/sample.c, engine/cpu/host_extra_ops.c): they read the scalars directly and call the
 * backend's own rope / attention / copy2d / group_norm / silu. */
jn_status jn_backend_host_sample(jn_backend *be, int32_t *ids, int repeat, const float *logits, int n_out, int C,
                                 int cfg_pairs, const jn_sample_params *sp, uint64_t stream0, uint64_t index,
                                 const int32_t *index_dev, jn_error *err);
void jn_backend_host_extra_ops(jn_backend *be); /* fills every entry of the CUDA block */

#ifdef __cplusplus
}
#endif
#endif
