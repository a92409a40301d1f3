/* engine/cuda/common.cuh — shared state and helpers of the CUDA backend (private to engine/cuda/).
 *
 * Why: the ops in matmul.cu / ops.cu and the memory functions in backend_cuda.cu share one impl
 * struct (stream, cuBLAS handle, grow-only device scratch buffers, the first recorded error), the
 * error-recording macros, warp reductions and the device-side weight element loader that defines
 * how each dtype (f32/f16/bf16/q8_0/q4_0, ggml block layouts) turns into f32.
 *
 * Error model: ops return void, so a failing CUDA/cuBLAS call records "file:line: stmt: reason" in
 * the impl the first time (sticky) and later ops keep running (or skip); the owner reads it with
 * jn_backend_cuda_last_error(). Nothing here prints or exits. */
#ifndef JANUS_ENGINE_CUDA_COMMON_CUH
#define JANUS_ENGINE_CUDA_COMMON_CUH

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "../backend.h"

#define JN_CEIL_DIV(a, b) (((a) + (b) - 1) / (b))

/* A grow-only device buffer (never shrinks; freed at destroy). */
struct jn_cuda_buf {
    void *p;
    size_t cap;
};

/* precision of the large-M GEMMs (gemm_lt.cu) */
enum { JN_CUDA_GEMM_F32 = 0, JN_CUDA_GEMM_BF16 = 1, JN_CUDA_GEMM_F16 = 2 };
/* use of cuDNN for conv2d (conv_cudnn.cu) */
enum { JN_CUDNN_AUTO = 0, JN_CUDNN_ON = 1, JN_CUDNN_OFF = 2 };
struct jn_cudnn; /* the dlopen'ed library and its handle (conv_cudnn.cu) */

struct jn_cuda_impl {
    int device;
    cudaStream_t stream;
    cublasHandle_t cublas;
    cublasLtHandle_t lt; /* created on first half-precision GEMM */
    int gemm_mode;       /* JN_CUDA_GEMM_*: JANUS_CUDA_GEMM at create, jn_backend_cuda_set "gemm" */
    jn_cudnn *dnn;       /* NULL: conv2d uses the own kernels */
    int cudnn_mode;      /* JN_CUDNN_*: JANUS_CUDNN at create, jn_backend_cuda_set "cudnn" */
    char cudnn_why[192]; /* why dnn is NULL */
    /* scratch (device): converted weights, im2col columns, small index arrays, group-norm and
     * split-attention partials */
    jn_cuda_buf s_w, s_col, s_idx, s_gn, s_att;
    jn_cuda_buf s_samp;               /* sampler: scaled logits and weights [2, n_out, C] */
    jn_cuda_buf s_xh, s_wh, s_ltws;   /* half GEMM: converted x, converted W rows, cuBLASLt workspace */
    jn_cuda_buf s_dnnws;              /* cuDNN workspace */
    int n_sm; /* multiprocessors (sizes the split of decode attention) */
    /* pinned host staging for weight uploads (two halves, double-buffered with events) */
    void *pinned;
    size_t pinned_cap;
    cudaEvent_t ev[2];
    int ev_ok;
    /* step capture: instantiated graphs, the stream being captured, device int32 step scalars */
    cudaGraphExec_t graphs[JN_BACKEND_GRAPH_SLOTS];
    int capturing;
    int32_t *scalars; /* [JN_BACKEND_STEP_SCALARS] */
    /* first failure (sticky) */
    int failed;
    jn_status code;
    char msg[JN_ERROR_MAX];
};

static inline jn_cuda_impl *jn_cuda(jn_backend *be) { return (jn_cuda_impl *)be->impl; }

/* Records the first failure; later ones are dropped (the first is the cause). */
void jn_cuda_record(jn_cuda_impl *c, jn_status code, const char *file, int line, const char *stmt,
                    const char *reason);

/* Evaluates a cudaError_t statement; on failure records it and evaluates to 0 (else 1). */
#define JN_CUDA_OK(c, stmt) jn_cuda_check_((c), (stmt), __FILE__, __LINE__, #stmt)
static inline int jn_cuda_check_(jn_cuda_impl *c, cudaError_t e, const char *file, int line, const char *stmt) {
    if (e == cudaSuccess) return 1;
    jn_cuda_record(c, e == cudaErrorMemoryAllocation ? JN_ERR_NOMEM : JN_ERR_RUNTIME, file, line, stmt,
                   cudaGetErrorString(e));
    return 0;
}
/* Statement form: records and returns from the current (void) function on failure. */
#define JN_CUDA_CHECK(c, stmt)                 \
    do {                                       \
        if (!JN_CUDA_OK((c), (stmt))) return;  \
    } while (0)
/* After a kernel launch: catches launch-configuration errors. */
#define JN_CUDA_LAUNCHED(c) (void)JN_CUDA_OK((c), cudaGetLastError())

/* cuBLAS / cuBLASLt entry points, dlopen'ed by jn_cublas_load (cublas_dl.cu); every call goes
 * through JN_BLAS(f). The names are those of the headers (cublas_v2.h maps some to *_v2). */
#define JN_CUBLAS_FNS(X) X(cublasCreate) X(cublasDestroy) X(cublasSetStream) X(cublasSetMathMode) X(cublasSgemm)
#define JN_CUBLASLT_FNS(X)                                                                                   \
    X(cublasLtCreate) X(cublasLtDestroy) X(cublasLtMatmul) X(cublasLtMatmulAlgoGetHeuristic)                 \
    X(cublasLtMatmulDescCreate) X(cublasLtMatmulDescDestroy) X(cublasLtMatmulDescSetAttribute)               \
    X(cublasLtMatmulPreferenceCreate) X(cublasLtMatmulPreferenceDestroy)                                     \
    X(cublasLtMatmulPreferenceSetAttribute) X(cublasLtMatrixLayoutCreate) X(cublasLtMatrixLayoutDestroy)
struct jn_cublas_api {
#define JN_CUBLAS_DECL(f) decltype(&::f) f;
    JN_CUBLAS_FNS(JN_CUBLAS_DECL)
    JN_CUBLASLT_FNS(JN_CUBLAS_DECL)
#undef JN_CUBLAS_DECL
};
extern jn_cublas_api jn_blas;
#define JN_BLAS(f) (jn_blas.f)
/* Loads both libraries once per process (thread-safe): NULL when every entry point resolved,
 * else why not (a static string naming the library or symbol). */
extern "C" const char *jn_cublas_load(void);

const char *jn_cublas_status_str(cublasStatus_t s);
#define JN_CUBLAS_OK(c, stmt) jn_cublas_check_((c), (stmt), __FILE__, __LINE__, #stmt)
static inline int jn_cublas_check_(jn_cuda_impl *c, cublasStatus_t s, const char *file, int line, const char *stmt) {
    if (s == CUBLAS_STATUS_SUCCESS) return 1;
    jn_cuda_record(c, s == CUBLAS_STATUS_ALLOC_FAILED ? JN_ERR_NOMEM : JN_ERR_RUNTIME, file, line, stmt,
                   jn_cublas_status_str(s));
    return 0;
}

/* Makes b hold at least nbytes (synchronizes the stream before freeing a smaller buffer, so
 * queued kernels never see freed memory). Returns NULL (error recorded) on failure. */
void *jn_cuda_scratch(jn_cuda_impl *c, jn_cuda_buf *b, size_t nbytes);

/* Uploads n int32 from host into the s_idx scratch (stream-ordered; the host array may be reused
 * when this returns). Returns the device pointer or NULL (error recorded). */
int32_t *jn_cuda_upload_i32(jn_cuda_impl *c, const int32_t *host, int n);

/* y[i, :] += bias[:] for a [M, N] row-major f32 matrix (bias f32 [N]) */
void jn_cuda_add_bias(jn_cuda_impl *c, float *y, const float *bias, int64_t M, int64_t N);

/* Converts rows [n0, n0+nr) of weight w ([N, K], any dtype, device copy) to f32 dst[nr, K]. */
void jn_cuda_weight_rows_f32(jn_cuda_impl *c, float *dst, const jn_weight *w, int64_t n0, int64_t nr);

/* y[M, N] = x[M, K] · Wf[N, K]^T with Wf f32 in device memory (cuBLAS SGEMM, FP32 compute);
 * ldy is the row stride of y in floats. */
void jn_cuda_sgemm_xwt(jn_cuda_impl *c, float *y, int64_t ldy, const float *x, const float *wf, int M, int N,
                       int K);

/* gemm_lt.cu: y[M, N] (row stride ldy) = x[M, K] · Wᵀ with x and W rounded to the half type of
 * c->gemm_mode (≠ F32) and f32 accumulation on tensor cores; W is the weight w (any dtype) or,
 * when w == NULL, the f32 device matrix wf[N, K]. Returns 1 if queued (or an error recorded),
 * 0 if the shape needs the FP32 path (K not a multiple of 8). */
int jn_cuda_half_gemm(jn_cuda_impl *c, float *y, int64_t ldy, const float *x, const jn_weight *w, const float *wf,
                       int M, int N, int K);
int jn_cuda_gemm_parse(const char *s); /* "f32"/"bf16"/"f16" (NULL/"" = f32) → JN_CUDA_GEMM_*, -1 if unknown */
const char *jn_cuda_gemm_name(int mode);

/* conv_cudnn.cu */
int jn_cuda_cudnn_parse(const char *s); /* "auto"/"on"/"off" (NULL/"" = auto) → JN_CUDNN_*, -1 if unknown */
/* Applies mode: loads cuDNN unless OFF; error only for ON without a usable cuDNN. */
jn_status jn_cuda_cudnn_setup(jn_cuda_impl *c, int mode, jn_error *err);
void jn_cuda_cudnn_free(jn_cuda_impl *c);
size_t jn_cuda_cudnn_version(const jn_cuda_impl *c); /* 0: not in use */
/* y[Ho, Wo, Cout] = conv(x[H, W, Cin], wf[Cout, kh, kw, Cin] f32), no bias. Returns 1 if done (or
 * an error was recorded), 0 if the caller must use the own kernels. */
int jn_cuda_conv_cudnn(jn_cuda_impl *c, float *y, const float *x, const float *wf, int H, int W, int Cin, int Cout,
                       int kh, int kw, int stride, int pad, int Ho, int Wo);

/* ---------------------------------------------------------------- op entry points (jn_backend table) */
/* matmul.cu */
void jn_cuda_matmul(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int M);
void jn_cuda_get_rows(jn_backend *be, float *y, const jn_weight *w, const int32_t *ids_host, int n);
void jn_cuda_conv2d(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int H, int W,
                    int stride, int pad);
void jn_cuda_get_rows_dev(jn_backend *be, float *y, const jn_weight *w, const int32_t *ids, int n);
/* sample.cu */
jn_status jn_cuda_sample(jn_backend *be, int32_t *ids, int repeat, const float *logits, int n_out, int C, int cfg_pairs,
                         const jn_sample_params *sp, uint64_t stream0, uint64_t index, const int32_t *index_dev,
                         jn_error *err);
/* ops.cu */
void jn_cuda_group_norm_silu(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *b, int HW,
                             int C, int G, float eps);
void jn_cuda_rope_dpos(jn_backend *be, float *x, int n_seq, int n_tok, int n_head, int d_head, int ld,
                       const int32_t *pos0_host, const int32_t *dpos, float theta);
void jn_cuda_attention_dpos(jn_backend *be, float *out, const float *q, const float *k, const float *v, int n_seq,
                            int n_q, int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride, int ldo,
                            int causal, float scale, const int32_t *dpos);
void jn_cuda_copy2d_dpos(jn_backend *be, float *y, int ldy, const float *x, int ldx, int rows, int cols,
                         const int32_t *dpos);
void jn_cuda_copy2d_kv(jn_backend *be, void *y, jn_dtype kv_type, int ldy, const float *x, int ldx, int rows, int cols,
                       const int32_t *dpos);
void jn_cuda_attention_kv(jn_backend *be, float *out, const float *q, const void *k, const void *v, jn_dtype kv_type,
                          int n_seq, int n_q, int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride,
                          int ldo, int causal, float scale, const int32_t *dpos);
void jn_cuda_rms_norm(jn_backend *be, float *y, const float *x, const jn_weight *w, int M, int N, float eps);
void jn_cuda_layer_norm(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *b, int M, int N,
                        float eps);
void jn_cuda_group_norm(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *b, int HW,
                        int C, int G, float eps);
void jn_cuda_rope(jn_backend *be, float *x, int n_seq, int n_tok, int n_head, int d_head, int ld,
                  const int32_t *pos0_host, float theta);
void jn_cuda_attention(jn_backend *be, float *out, const float *q, const float *k, const float *v, int n_seq, int n_q,
                       int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride, int ldo, int causal,
                       float scale);
void jn_cuda_add(jn_backend *be, float *y, const float *a, const float *b, size_t n);
void jn_cuda_mul(jn_backend *be, float *y, const float *a, const float *b, size_t n);
void jn_cuda_scale(jn_backend *be, float *y, const float *x, float s, size_t n);
void jn_cuda_gelu(jn_backend *be, float *y, const float *x, size_t n);
void jn_cuda_silu(jn_backend *be, float *y, const float *x, size_t n);
void jn_cuda_swiglu(jn_backend *be, float *y, const float *gate, const float *up, size_t n);
void jn_cuda_copy2d(jn_backend *be, float *y, int ldy, const float *x, int ldx, int rows, int cols);
void jn_cuda_upsample2x(jn_backend *be, float *y, const float *x, int H, int W, int C);

/* ---------------------------------------------------------------- device helpers */

__device__ __forceinline__ float jn_warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float jn_warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ double jn_warp_sum_d(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Block-wide sum (blockDim.x a multiple of 32, ≤ 1024); every thread gets the result.
 * sh: __shared__ float[32]. Fixed reduction order → deterministic. */
__device__ __forceinline__ float jn_block_sum(float v, float *sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = jn_warp_sum(v);
    __syncthreads(); /* sh may still be read from a previous call */
    if (lane == 0) sh[w] = v;
    __syncthreads();
    float t = lane < nw ? sh[lane] : 0.0f;
    return jn_warp_sum(t);
}

__device__ __forceinline__ float jn_h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ float jn_bf2f(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }

/* Element k of a weight row (row = start of the row's bytes), converted to f32: the device twin
 * of jn_to_f32_ref. */
__device__ __forceinline__ float jn_load_w(int type, const uint8_t *row, int64_t k) {
    switch (type) {
    case JN_F32: return ((const float *)row)[k];
    case JN_F16: return jn_h2f(((const uint16_t *)row)[k]);
    case JN_BF16: return jn_bf2f(((const uint16_t *)row)[k]);
    case JN_Q8_0: {
        const uint8_t *b = row + (k / 32) * 34;
        uint16_t d = (uint16_t)(b[0] | (b[1] << 8));
        return jn_h2f(d) * (float)(int8_t)b[2 + (k % 32)];
    }
    case JN_Q4_0: {
        const uint8_t *b = row + (k / 32) * 18;
        uint16_t d = (uint16_t)(b[0] | (b[1] << 8));
        int j = (int)(k % 32);
        int q = j < 16 ? (b[2 + j] & 0x0F) : (b[2 + j - 16] >> 4);
        return jn_h2f(d) * (float)(q - 8);
    }
    default: return 0.0f;
    }
}

#endif
