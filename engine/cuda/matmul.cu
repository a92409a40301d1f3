/* engine/cuda/matmul.cu — y = x·Wᵀ (+b) for every weight dtype, get_rows, conv2d (im2col + GEMM).
 *
 * Why two paths:
 *  - small M (≤ JN_GEMV_MAX_M: decode steps, CFG pairs): our own GEMV kernels read W once per
 *    call in its native dtype (f32/f16/bf16/q8_0/q4_0 ggml blocks), one warp per output row,
 *    16-byte vector loads, fp32 FMA accumulation and a warp-shuffle reduction. This is the
 *    memory-bound hot path of generation.
 *  - large M (prefill, ViT, VQ convs): W is converted to f32 in row chunks (≤ 128 MiB of
 *    scratch) and multiplied with cuBLAS SGEMM in pedantic FP32 (no TF32), so the result meets the
 *    f32 contract of backend.h: relative error ~1e-6 vs the f64 reference, not the ~1e-3 of a
 *    bf16-activation GEMM. Cost: one extra pass over W per call (cheap next to the GEMM at large M).
 *    JANUS_CUDA_GEMM=bf16|f16 sends this path to tensor cores instead (gemm_lt.cu).
 * Convolution: channels-last im2col in bounded chunks into device scratch with the weight
 * converted once per call to f32 and permuted to [Cout, kh, kw, Cin] (so each im2col row is
 * contiguous Cin runs of x), then SGEMM; with cuDNN loaded (conv_cudnn.cu) that permuted weight
 * goes to cuDNN instead. 1×1 stride-1 unpadded convs go straight to matmul. */
#include "common.cuh"

#define JN_GEMV_MAX_M 16
#define JN_GEMV_WARPS 8
#define JN_WCHUNK_FLOATS ((int64_t)32 << 20) /* 128 MiB of converted weight rows per SGEMM */
#define JN_COL_FLOATS ((int64_t)64 << 20)    /* 256 MiB of im2col columns per chunk */

/* ---------------------------------------------------------------- GEMV (small M) */

template <int MB>
__device__ __forceinline__ void fma8(float (&acc)[MB], const float *wf, const float *x, int64_t K, int M,
                                     int64_t off) {
#pragma unroll
    for (int m = 0; m < MB; m++) {
        if (m < M) {
            const float4 *xp = (const float4 *)(x + (size_t)m * K + off);
            float4 a = xp[0], b = xp[1];
            acc[m] += wf[0] * a.x + wf[1] * a.y + wf[2] * a.z + wf[3] * a.w + wf[4] * b.x + wf[5] * b.y +
                      wf[6] * b.z + wf[7] * b.w;
        }
    }
}

/* y[M, N] = x[M, K] · W[N, K]^T + bias; one warp per row n; M ≤ MB. T: dtype, vectorised path
 * (requires 16-byte aligned x and K % 8 == 0 for f16/bf16, K % 4 == 0 for f32).
 * Launch bounds: MB = 16 (8 CFG pairs) with the default register heuristic (64) spilled 24 bytes
 * per thread for f16/bf16 (ptxas -v, docs/cuda.md); the "2 blocks per SM" hint lets it use 96
 * registers without spills. MB ≤ 8 keep the default (no spills, ≤ 64 registers). */
template <int T, int MB>
__global__ void __launch_bounds__(JN_GEMV_WARPS * 32, MB >= 16 ? 2 : 0)
    gemv_vec_kernel(float *__restrict__ y, const float *__restrict__ x, const uint8_t *__restrict__ W, size_t rb,
                    const float *__restrict__ bias, int M, int N, int K) {
    const int lane = threadIdx.x & 31;
    const int n = blockIdx.x * JN_GEMV_WARPS + (threadIdx.x >> 5);
    if (n >= N) return;
    const uint8_t *wr = W + (size_t)n * rb;
    float acc[MB];
#pragma unroll
    for (int m = 0; m < MB; m++) acc[m] = 0.0f;

    if (T == JN_F32) {
        const float4 *w4 = (const float4 *)wr;
        for (int i = lane; i < K / 4; i += 32) {
            float4 wv = w4[i];
#pragma unroll
            for (int m = 0; m < MB; m++) {
                if (m < M) {
                    float4 xv = ((const float4 *)(x + (size_t)m * K))[i];
                    acc[m] += wv.x * xv.x + wv.y * xv.y + wv.z * xv.z + wv.w * xv.w;
                }
            }
        }
    } else if (T == JN_F16 || T == JN_BF16) {
        const uint4 *w8 = (const uint4 *)wr;
        for (int i = lane; i < K / 8; i += 32) {
            uint4 raw = w8[i];
            uint32_t u[4] = {raw.x, raw.y, raw.z, raw.w};
            float wf[8];
#pragma unroll
            for (int j = 0; j < 4; j++) {
                uint16_t lo = (uint16_t)(u[j] & 0xffffu), hi = (uint16_t)(u[j] >> 16);
                wf[2 * j] = T == JN_F16 ? jn_h2f(lo) : jn_bf2f(lo);
                wf[2 * j + 1] = T == JN_F16 ? jn_h2f(hi) : jn_bf2f(hi);
            }
            fma8<MB>(acc, wf, x, K, M, (int64_t)i * 8);
        }
    } else if (T == JN_Q8_0) {
        /* 4 lanes per 34-byte block, 8 quants each; a warp covers 8 blocks per step */
        const int sub = lane & 3, nb = K / 32;
        for (int b = lane >> 2; b < nb; b += 8) {
            const uint8_t *blk = wr + (size_t)b * 34;
            const float d = jn_h2f(*(const uint16_t *)blk);
            const uint16_t *q16 = (const uint16_t *)(blk + 2 + 8 * sub);
            float wf[8];
#pragma unroll
            for (int j = 0; j < 4; j++) {
                uint16_t v = q16[j];
                wf[2 * j] = d * (float)(int8_t)(v & 0xff);
                wf[2 * j + 1] = d * (float)(int8_t)(v >> 8);
            }
            fma8<MB>(acc, wf, x, K, M, (int64_t)b * 32 + 8 * sub);
        }
    } else if (T == JN_Q4_0) {
        /* 4 lanes per 18-byte block: lane sub owns quant bytes 4sub..4sub+3, i.e. elements
         * 4sub..4sub+3 (low nibbles) and 16+4sub..16+4sub+3 (high nibbles) */
        const int sub = lane & 3, nb = K / 32;
        for (int b = lane >> 2; b < nb; b += 8) {
            const uint8_t *blk = wr + (size_t)b * 18;
            const float d = jn_h2f(*(const uint16_t *)blk);
            const uint16_t *q16 = (const uint16_t *)(blk + 2 + 4 * sub);
            uint32_t q = (uint32_t)q16[0] | ((uint32_t)q16[1] << 16);
            float lo[4], hi[4];
#pragma unroll
            for (int j = 0; j < 4; j++) {
                uint32_t byte = (q >> (8 * j)) & 0xffu;
                lo[j] = d * (float)((int)(byte & 0x0f) - 8);
                hi[j] = d * (float)((int)(byte >> 4) - 8);
            }
#pragma unroll
            for (int m = 0; m < MB; m++) {
                if (m < M) {
                    const float *xr = x + (size_t)m * K + (size_t)b * 32;
                    float4 a = *(const float4 *)(xr + 4 * sub), c = *(const float4 *)(xr + 16 + 4 * sub);
                    acc[m] += lo[0] * a.x + lo[1] * a.y + lo[2] * a.z + lo[3] * a.w + hi[0] * c.x + hi[1] * c.y +
                              hi[2] * c.z + hi[3] * c.w;
                }
            }
        }
    }

    const float bv = bias ? bias[n] : 0.0f;
#pragma unroll
    for (int m = 0; m < MB; m++) {
        float s = jn_warp_sum(acc[m]);
        if (m < M && lane == (m & 31)) y[(size_t)m * N + n] = s + bv;
    }
}

/* Any dtype, any alignment: element-wise loads through jn_load_w. */
template <int MB>
__global__ void __launch_bounds__(JN_GEMV_WARPS * 32)
    gemv_any_kernel(float *__restrict__ y, const float *__restrict__ x, const uint8_t *__restrict__ W, size_t rb,
                    int type, const float *__restrict__ bias, int M, int N, int K) {
    const int lane = threadIdx.x & 31;
    const int n = blockIdx.x * JN_GEMV_WARPS + (threadIdx.x >> 5);
    if (n >= N) return;
    const uint8_t *wr = W + (size_t)n * rb;
    float acc[MB];
#pragma unroll
    for (int m = 0; m < MB; m++) acc[m] = 0.0f;
    for (int k = lane; k < K; k += 32) {
        float wv = jn_load_w(type, wr, k);
#pragma unroll
        for (int m = 0; m < MB; m++)
            if (m < M) acc[m] += wv * x[(size_t)m * K + k];
    }
    const float bv = bias ? bias[n] : 0.0f;
#pragma unroll
    for (int m = 0; m < MB; m++) {
        float s = jn_warp_sum(acc[m]);
        if (m < M && lane == (m & 31)) y[(size_t)m * N + n] = s + bv;
    }
}

template <int MB>
static void gemv_launch_mb(jn_cuda_impl *c, float *y, const float *x, const jn_weight *w, const float *bias, int M,
                           int N, int K, size_t rb) {
    dim3 grid((unsigned)JN_CEIL_DIV(N, JN_GEMV_WARPS)), block(JN_GEMV_WARPS * 32);
    const uint8_t *W = (const uint8_t *)w->dev;
    int xal = ((uintptr_t)x % 16) == 0;
    int wal = ((uintptr_t)W % 16) == 0;
    int vec = 0;
    switch (w->type) {
    case JN_F32: vec = xal && wal && K % 4 == 0; break;
    case JN_F16:
    case JN_BF16: vec = xal && wal && K % 8 == 0; break;
    case JN_Q8_0:
    case JN_Q4_0: vec = xal && ((uintptr_t)W % 2) == 0 && K % 32 == 0; break;
    default: break;
    }
    if (!vec) {
        gemv_any_kernel<MB><<<grid, block, 0, c->stream>>>(y, x, W, rb, (int)w->type, bias, M, N, K);
    } else {
        switch (w->type) {
        case JN_F32: gemv_vec_kernel<JN_F32, MB><<<grid, block, 0, c->stream>>>(y, x, W, rb, bias, M, N, K); break;
        case JN_F16: gemv_vec_kernel<JN_F16, MB><<<grid, block, 0, c->stream>>>(y, x, W, rb, bias, M, N, K); break;
        case JN_BF16: gemv_vec_kernel<JN_BF16, MB><<<grid, block, 0, c->stream>>>(y, x, W, rb, bias, M, N, K); break;
        case JN_Q8_0: gemv_vec_kernel<JN_Q8_0, MB><<<grid, block, 0, c->stream>>>(y, x, W, rb, bias, M, N, K); break;
        case JN_Q4_0: gemv_vec_kernel<JN_Q4_0, MB><<<grid, block, 0, c->stream>>>(y, x, W, rb, bias, M, N, K); break;
        default: break;
        }
    }
    JN_CUDA_LAUNCHED(c);
}

static void gemv(jn_cuda_impl *c, float *y, const float *x, const jn_weight *w, const float *bias, int M, int N, int K,
                 size_t rb) {
    if (M <= 1) gemv_launch_mb<1>(c, y, x, w, bias, M, N, K, rb);
    else if (M <= 2) gemv_launch_mb<2>(c, y, x, w, bias, M, N, K, rb);
    else if (M <= 4) gemv_launch_mb<4>(c, y, x, w, bias, M, N, K, rb);
    else if (M <= 8) gemv_launch_mb<8>(c, y, x, w, bias, M, N, K, rb);
    else gemv_launch_mb<16>(c, y, x, w, bias, M, N, K, rb);
}

/* ---------------------------------------------------------------- conversions, bias */

/* dst[r, k] = W[n0 + r, k] as f32, r < nr */
__global__ void weight_rows_f32_kernel(float *__restrict__ dst, const uint8_t *__restrict__ W, size_t rb, int type,
                                       int64_t n0, int64_t nr, int64_t K) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= nr * K) return;
    int64_t r = e / K, k = e - r * K;
    dst[e] = jn_load_w(type, W + (size_t)(n0 + r) * rb, k);
}

void jn_cuda_weight_rows_f32(jn_cuda_impl *c, float *dst, const jn_weight *w, int64_t n0, int64_t nr) {
    int64_t K = jn_weight_cols(w), tot = nr * K;
    if (tot <= 0) return;
    size_t rb = jn_row_bytes(w->type, K);
    weight_rows_f32_kernel<<<(unsigned)JN_CEIL_DIV(tot, 256), 256, 0, c->stream>>>(dst, (const uint8_t *)w->dev, rb,
                                                                                    (int)w->type, n0, nr, K);
    JN_CUDA_LAUNCHED(c);
}

/* conv weight [Cout, Cin, kh, kw] (any dtype) → f32 [Cout, kh, kw, Cin] */
__global__ void conv_weight_f32_kernel(float *__restrict__ dst, const uint8_t *__restrict__ W, size_t rb, int type,
                                       int Cout, int Cin, int kh, int kw) {
    int64_t K = (int64_t)Cin * kh * kw;
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (int64_t)Cout * K) return;
    int64_t co = e / K, r = e - co * K;
    int ci = (int)(r % Cin);
    int kk = (int)(r / Cin); /* ky*kw + kx */
    dst[e] = jn_load_w(type, W + (size_t)co * rb, (int64_t)ci * kh * kw + kk);
}

__global__ void add_bias_kernel(float *__restrict__ y, const float *__restrict__ b, int64_t M, int64_t N) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= M * N) return;
    y[e] += b[e % N];
}

void jn_cuda_add_bias(jn_cuda_impl *c, float *y, const float *bias, int64_t M, int64_t N) {
    if (!bias || M * N <= 0) return;
    add_bias_kernel<<<(unsigned)JN_CEIL_DIV(M * N, 256), 256, 0, c->stream>>>(y, bias, M, N);
    JN_CUDA_LAUNCHED(c);
}

void jn_cuda_sgemm_xwt(jn_cuda_impl *c, float *y, int64_t ldy, const float *x, const float *wf, int M, int N, int K) {
    if (M <= 0 || N <= 0) return;
    /* tensor cores (conv2d's im2col GEMMs) when chosen and the shape allows */
    if (c->gemm_mode != JN_CUDA_GEMM_F32 && jn_cuda_half_gemm(c, y, ldy, x, NULL, wf, M, N, K)) return;
    const float one = 1.0f, zero = 0.0f;
    /* column-major view: yᵀ[N, M] = Wf[N, K] · xᵀ[K, M]  (Wf row-major [N,K] = col-major [K,N], op T) */
    (void)JN_CUBLAS_OK(c, JN_BLAS(cublasSgemm)(c->cublas, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, wf, K, x, K, &zero, y,
                                      (int)ldy));
}

/* ---------------------------------------------------------------- matmul */

/* y[M, N] = x[M, K] · W^T (+ bias); internal form shared with conv2d's 1×1 path */
static void matmul_impl(jn_cuda_impl *c, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int M) {
    if (c->failed || M <= 0) return;
    int64_t N64 = jn_weight_rows(w), K64 = jn_weight_cols(w);
    size_t rb = jn_row_bytes(w->type, K64);
    if (rb == 0 || N64 <= 0 || N64 > INT32_MAX || K64 > INT32_MAX || !w->dev) {
        jn_cuda_record(c, JN_ERR_USAGE, __FILE__, __LINE__, "matmul", "weight not uploaded or unsupported shape/dtype");
        return;
    }
    int N = (int)N64, K = (int)K64;
    const float *b = bias ? (const float *)bias->dev : NULL;
    if (M <= JN_GEMV_MAX_M) {
        gemv(c, y, x, w, b, M, N, K, rb);
        return;
    }
    if (c->gemm_mode != JN_CUDA_GEMM_F32 && jn_cuda_half_gemm(c, y, N, x, w, NULL, M, N, K)) {
        /* queued on tensor cores */
    } else if (w->type == JN_F32) {
        jn_cuda_sgemm_xwt(c, y, N, x, (const float *)w->dev, M, N, K);
    } else {
        int64_t nc = JN_WCHUNK_FLOATS / K64;
        if (nc < 1) nc = 1;
        if (nc > N64) nc = N64;
        float *wf = (float *)jn_cuda_scratch(c, &c->s_w, (size_t)(nc * K64) * sizeof(float));
        if (!wf) return;
        for (int64_t n0 = 0; n0 < N64; n0 += nc) {
            int64_t nr = N64 - n0 < nc ? N64 - n0 : nc;
            jn_cuda_weight_rows_f32(c, wf, w, n0, nr);
            jn_cuda_sgemm_xwt(c, y + n0, N, x, wf, M, (int)nr, K);
        }
    }
    jn_cuda_add_bias(c, y, b, M, N);
}

void jn_cuda_matmul(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int M) {
    matmul_impl(jn_cuda(be), y, x, w, bias, M);
}

/* ---------------------------------------------------------------- get_rows */

#define JN_IDS_INLINE 256
struct ids_inline {
    int32_t v[JN_IDS_INLINE];
};

/* y[i, k] = W[ids[i], k] as f32; ids from the inline struct (dev_ids == NULL) or device memory */
__global__ void get_rows_kernel(float *__restrict__ y, const uint8_t *__restrict__ W, size_t rb, int type, int64_t K,
                                int n, ids_inline ids, const int32_t *__restrict__ dev_ids, int32_t N) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (int64_t)n * K) return;
    int i = (int)(e / K);
    int64_t k = e - (int64_t)i * K;
    int32_t id = dev_ids ? dev_ids[i] : ids.v[i];
    id = id < 0 ? 0 : id >= N ? N - 1 : id; /* device ids are not checked by the host */
    y[e] = jn_load_w(type, W + (size_t)id * rb, k);
}

/* ids_host != NULL: host ids (inline or uploaded); else dev_ids in device memory */
static void get_rows_impl(jn_backend *be, float *y, const jn_weight *w, const int32_t *ids_host, const int32_t *dev_ids,
                          int n) {
    jn_cuda_impl *c = jn_cuda(be);
    if (c->failed || n <= 0) return;
    int64_t K = jn_weight_cols(w);
    size_t rb = jn_row_bytes(w->type, K);
    if (rb == 0 || !w->dev) {
        jn_cuda_record(c, JN_ERR_USAGE, __FILE__, __LINE__, "get_rows", "weight not uploaded or unsupported dtype");
        return;
    }
    ids_inline ids;
    if (ids_host && n <= JN_IDS_INLINE) {
        memcpy(ids.v, ids_host, (size_t)n * sizeof(int32_t));
    } else if (ids_host) {
        dev_ids = jn_cuda_upload_i32(c, ids_host, n);
        if (!dev_ids) return;
    }
    int64_t tot = (int64_t)n * K;
    get_rows_kernel<<<(unsigned)JN_CEIL_DIV(tot, 256), 256, 0, c->stream>>>(y, (const uint8_t *)w->dev, rb,
                                                                             (int)w->type, K, n, ids, dev_ids,
                                                                             (int32_t)jn_weight_rows(w));
    JN_CUDA_LAUNCHED(c);
}

void jn_cuda_get_rows(jn_backend *be, float *y, const jn_weight *w, const int32_t *ids_host, int n) {
    get_rows_impl(be, y, w, ids_host, NULL, n);
}

void jn_cuda_get_rows_dev(jn_backend *be, float *y, const jn_weight *w, const int32_t *ids, int n) {
    get_rows_impl(be, y, w, NULL, ids, n);
}

/* ---------------------------------------------------------------- conv2d */

/* col[r, (ky*kw + kx)*Cin + ci] = x[iy, ix, ci] (0 outside), r = output pixel p0 + r */
__global__ void im2col_kernel(float *__restrict__ col, const float *__restrict__ x, int H, int W, int Cin, int kh,
                              int kw, int stride, int pad, int Wo, int64_t p0, int64_t nr) {
    int64_t K = (int64_t)Cin * kh * kw;
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= nr * K) return;
    int64_t r = e / K, q = e - r * K;
    int kk = (int)(q / Cin), ci = (int)(q - (int64_t)kk * Cin);
    int ky = kk / kw, kx = kk - ky * kw;
    int64_t p = p0 + r;
    int oy = (int)(p / Wo), ox = (int)(p - (int64_t)oy * Wo);
    int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
    col[e] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? x[((size_t)iy * W + ix) * Cin + ci] : 0.0f;
}

void jn_cuda_conv2d(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int H, int W,
                    int stride, int pad) {
    jn_cuda_impl *c = jn_cuda(be);
    if (c->failed) return;
    int Cout = (int)w->shape[0], Cin = (int)w->shape[1], kh = (int)w->shape[2], kw = (int)w->shape[3];
    if (w->n_dims < 4) kh = kw = 1;
    if (stride <= 0 || H + 2 * pad < kh || W + 2 * pad < kw) {
        jn_cuda_record(c, JN_ERR_USAGE, __FILE__, __LINE__, "conv2d", "bad stride/padding for the input size");
        return;
    }
    int Ho = (H + 2 * pad - kh) / stride + 1, Wo = (W + 2 * pad - kw) / stride + 1;
    int64_t P = (int64_t)Ho * Wo, K = (int64_t)Cin * kh * kw;
    if (P <= 0 || Cout <= 0) return;
    if (kh == 1 && kw == 1 && stride == 1 && pad == 0 && P <= INT32_MAX) {
        matmul_impl(c, y, x, w, bias, (int)P); /* x[H*W, Cin] is already the im2col matrix */
        return;
    }
    size_t rb = jn_row_bytes(w->type, K);
    if (rb == 0 || !w->dev || K > INT32_MAX) {
        jn_cuda_record(c, JN_ERR_USAGE, __FILE__, __LINE__, "conv2d", "weight not uploaded or unsupported shape/dtype");
        return;
    }
    /* f32 weight, permuted to [Cout, kh, kw, Cin] to match the im2col column order */
    float *wf = (float *)jn_cuda_scratch(c, &c->s_w, (size_t)Cout * (size_t)K * sizeof(float));
    if (!wf) return;
    int64_t tw = (int64_t)Cout * K;
    conv_weight_f32_kernel<<<(unsigned)JN_CEIL_DIV(tw, 256), 256, 0, c->stream>>>(wf, (const uint8_t *)w->dev, rb,
                                                                                   (int)w->type, Cout, Cin, kh, kw);
    JN_CUDA_LAUNCHED(c);
    if (c->dnn && jn_cuda_conv_cudnn(c, y, x, wf, H, W, Cin, Cout, kh, kw, stride, pad, Ho, Wo)) {
        jn_cuda_add_bias(c, y, bias ? (const float *)bias->dev : NULL, P, Cout);
        return;
    }
    int64_t pc = JN_COL_FLOATS / K;
    if (pc < 1) pc = 1;
    if (pc > P) pc = P;
    float *col = (float *)jn_cuda_scratch(c, &c->s_col, (size_t)(pc * K) * sizeof(float));
    if (!col) return;
    for (int64_t p0 = 0; p0 < P; p0 += pc) {
        int64_t nr = P - p0 < pc ? P - p0 : pc;
        im2col_kernel<<<(unsigned)JN_CEIL_DIV(nr * K, 256), 256, 0, c->stream>>>(col, x, H, W, Cin, kh, kw, stride,
                                                                                  pad, Wo, p0, nr);
        JN_CUDA_LAUNCHED(c);
        jn_cuda_sgemm_xwt(c, y + p0 * Cout, Cout, col, wf, (int)nr, Cout, (int)K);
    }
    jn_cuda_add_bias(c, y, bias ? (const float *)bias->dev : NULL, P, Cout);
}
