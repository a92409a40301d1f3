/* engine/cuda/gemm_lt.cu — tensor-core GEMMs for the large-M matmul path (prefill, SigLIP, VQ
 * convolutions, batched rows): y[M, N] (f32) = x[M, K] · W[N, K]ᵀ with x and W rounded to bf16 or
 * f16 and products accumulated in f32 by cuBLASLt (CUBLAS_COMPUTE_32F).
 *
 * Why opt-in: backend.h promises f32 activations; a bf16 GEMM rounds x and W to 8 significant
 * bits (relative error of a K-term dot product ~1e-3 instead of ~1e-6), f16 to 11 bits (with a
 * ±65504 range that the VQ decoder's activations can exceed). The default stays the pedantic FP32
 * SGEMM; JANUS_CUDA_GEMM=bf16|f16 (or jn_backend_cuda_set(be, "gemm", ...)) selects the tensor cores.
 * Weights already stored in the chosen half type are used in place; other dtypes are converted
 * row chunk by row chunk into scratch (one pass over W, as the f32 path does). Decode (M ≤ 16)
 * keeps the native-dtype GEMV kernels of matmul.cu, which read q8_0/q4_0/bf16 directly. */
#include <stdlib.h>
#include <string.h>

#include "common.cuh"

#define JN_LT_WORKSPACE ((size_t)32 << 20)

const char *jn_cuda_gemm_name(int mode) {
    return mode == JN_CUDA_GEMM_BF16 ? "bf16" : mode == JN_CUDA_GEMM_F16 ? "f16" : "f32";
}

int jn_cuda_gemm_parse(const char *s) {
    if (!s || !*s || !strcmp(s, "f32") || !strcmp(s, "fp32")) return JN_CUDA_GEMM_F32;
    if (!strcmp(s, "bf16")) return JN_CUDA_GEMM_BF16;
    if (!strcmp(s, "f16") || !strcmp(s, "fp16")) return JN_CUDA_GEMM_F16;
    return -1;
}

template <typename T> __device__ __forceinline__ T jn_to_half(float v);
template <> __device__ __forceinline__ __nv_bfloat16 jn_to_half<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ __half jn_to_half<__half>(float v) { return __float2half_rn(v); }

template <typename T>
__global__ void f32_to_half_kernel(T *__restrict__ dst, const float *__restrict__ src, int64_t rows, int64_t cols,
                                   int64_t ld_src) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= rows * cols) return;
    int64_t r = e / cols, k = e - r * cols;
    dst[e] = jn_to_half<T>(src[r * ld_src + k]);
}

/* dst[r, k] = W[n0 + r, k] rounded to T, r < nr (any weight dtype) */
template <typename T>
__global__ void weight_rows_half_kernel(T *__restrict__ dst, const uint8_t *__restrict__ W, size_t rb, int type,
                                        int64_t n0, int64_t nr, int64_t K) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= nr * K) return;
    int64_t r = e / K, k = e - r * K;
    dst[e] = jn_to_half<T>(jn_load_w(type, W + (size_t)(n0 + r) * rb, k));
}

static size_t half_bytes(int64_t n) { return (size_t)n * 2; }

/* y[M, N] (row stride ldy) = xh[M, K] · wh[N, K]ᵀ, halves of type dt, f32 accumulate/output */
static void lt_gemm(jn_cuda_impl *c, float *y, int64_t ldy, const void *xh, const void *wh, int M, int N, int K,
                    cudaDataType_t dt) {
    if (c->failed || M <= 0 || N <= 0) return;
    if (!c->lt && !JN_CUBLAS_OK(c, JN_BLAS(cublasLtCreate)(&c->lt))) return;
    void *ws = jn_cuda_scratch(c, &c->s_ltws, JN_LT_WORKSPACE);
    if (!ws) return;
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    const cublasOperation_t tA = CUBLAS_OP_T, tB = CUBLAS_OP_N;
    const size_t wsb = JN_LT_WORKSPACE;
    const float one = 1.0f, zero = 0.0f;
    cublasLtMatmulHeuristicResult_t h;
    int found = 0;
    /* column-major view: yᵀ[N, M] = W[N, K] · xᵀ[K, M] (W row-major [N, K] = col-major [K, N], op T) */
    if (JN_CUBLAS_OK(c, JN_BLAS(cublasLtMatmulDescCreate)(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F)) &&
        JN_CUBLAS_OK(c, JN_BLAS(cublasLtMatmulDescSetAttribute)(op, CUBLASLT_MATMUL_DESC_TRANSA, &tA, sizeof tA)) &&
        JN_CUBLAS_OK(c, JN_BLAS(cublasLtMatmulDescSetAttribute)(op, CUBLASLT_MATMUL_DESC_TRANSB, &tB, sizeof tB)) &&
        JN_CUBLAS_OK(c, JN_BLAS(cublasLtMatrixLayoutCreate)(&la, dt, K, N, K)) &&
        JN_CUBLAS_OK(c, JN_BLAS(cublasLtMatrixLayoutCreate)(&lb, dt, K, M, K)) &&
        JN_CUBLAS_OK(c, JN_BLAS(cublasLtMatrixLayoutCreate)(&lc, CUDA_R_32F, N, M, ldy)) &&
        JN_CUBLAS_OK(c, JN_BLAS(cublasLtMatmulPreferenceCreate)(&pref)) &&
        JN_CUBLAS_OK(c, JN_BLAS(cublasLtMatmulPreferenceSetAttribute)(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb,
                                                             sizeof wsb)) &&
        JN_CUBLAS_OK(c, JN_BLAS(cublasLtMatmulAlgoGetHeuristic)(c->lt, op, la, lb, lc, lc, pref, 1, &h, &found))) {
        if (found < 1)
            jn_cuda_record(c, JN_ERR_RUNTIME, __FILE__, __LINE__, "cublasLtMatmulAlgoGetHeuristic",
                           "no cuBLASLt algorithm for this half-precision GEMM shape");
        else
            (void)JN_CUBLAS_OK(c, JN_BLAS(cublasLtMatmul)(c->lt, op, &one, wh, la, xh, lb, &zero, y, lc, y, lc, &h.algo, ws, wsb,
                                                 c->stream));
    }
    if (pref) JN_BLAS(cublasLtMatmulPreferenceDestroy)(pref);
    if (lc) JN_BLAS(cublasLtMatrixLayoutDestroy)(lc);
    if (lb) JN_BLAS(cublasLtMatrixLayoutDestroy)(lb);
    if (la) JN_BLAS(cublasLtMatrixLayoutDestroy)(la);
    if (op) JN_BLAS(cublasLtMatmulDescDestroy)(op);
}

template <typename T>
static void half_matmul_t(jn_cuda_impl *c, float *y, int64_t ldy, const float *x, const jn_weight *w, const float *wf,
                          int M, int N, int K, cudaDataType_t dt, jn_dtype native) {
    T *xh = (T *)jn_cuda_scratch(c, &c->s_xh, half_bytes((int64_t)M * K));
    if (!xh) return;
    int64_t tot = (int64_t)M * K;
    f32_to_half_kernel<T><<<(unsigned)JN_CEIL_DIV(tot, 256), 256, 0, c->stream>>>(xh, x, M, K, K);
    JN_CUDA_LAUNCHED(c);
    if (w && w->type == native) { /* weights already in the compute type: no conversion */
        lt_gemm(c, y, ldy, xh, w->dev, M, N, K, dt);
        return;
    }
    int64_t nc = ((int64_t)32 << 20) / K; /* 64 MiB of converted rows per GEMM */
    if (nc < 1) nc = 1;
    if (nc > N) nc = N;
    T *wh = (T *)jn_cuda_scratch(c, &c->s_wh, half_bytes(nc * K));
    if (!wh) return;
    size_t rb = w ? jn_row_bytes(w->type, K) : 0;
    for (int64_t n0 = 0; n0 < N; n0 += nc) {
        int64_t nr = N - n0 < nc ? N - n0 : nc;
        if (w)
            weight_rows_half_kernel<T><<<(unsigned)JN_CEIL_DIV(nr * K, 256), 256, 0, c->stream>>>(
                wh, (const uint8_t *)w->dev, rb, (int)w->type, n0, nr, K);
        else
            f32_to_half_kernel<T><<<(unsigned)JN_CEIL_DIV(nr * K, 256), 256, 0, c->stream>>>(wh, wf + n0 * K, nr, K, K);
        JN_CUDA_LAUNCHED(c);
        lt_gemm(c, y + n0, ldy, xh, wh, M, (int)nr, K, dt);
    }
}

int jn_cuda_half_gemm(jn_cuda_impl *c, float *y, int64_t ldy, const float *x, const jn_weight *w, const float *wf,
                      int M, int N, int K) {
    /* half rows of K elements must stay 16-byte aligned for the tensor-core kernels; other K
     * (rare: none in Janus) take the FP32 path */
    if (K % 8 != 0) return 0;
    if (c->gemm_mode == JN_CUDA_GEMM_BF16)
        half_matmul_t<__nv_bfloat16>(c, y, ldy, x, w, wf, M, N, K, CUDA_R_16BF, JN_BF16);
    else
        half_matmul_t<__half>(c, y, ldy, x, w, wf, M, N, K, CUDA_R_16F, JN_F16);
    return 1;
}
