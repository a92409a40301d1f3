/* engine/cuda/backend_cuda.cu — the CUDA backend object: device selection, one stream and one
 * cuBLAS handle per backend, memory ops, weight upload, grow-only scratch, the sticky error.
 *
 * Why: model code sees only the jn_backend table; everything CUDA-specific (streams, handles,
 * pinned staging, error strings) stays in this folder. Ops are queued on the backend's stream and
 * run asynchronously; download()/synchronize() wait. The first failing CUDA/cuBLAS call is kept
 * ("file:line: statement: reason") and reported by jn_backend_cuda_last_error(), by
 * weight_upload(), and never printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.cuh"

/* ---------------------------------------------------------------- errors */

void jn_cuda_record(jn_cuda_impl *c, jn_status code, const char *file, int line, const char *stmt,
                    const char *reason) {
    if (!c || c->failed) return;
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    c->failed = 1;
    c->code = code;
    snprintf(c->msg, sizeof c->msg, "%s:%d: %s failed: %s", base, line, stmt, reason ? reason : "?");
}

const char *jn_cublas_status_str(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "cuBLAS not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "cuBLAS allocation failed (out of device memory)";
    case CUBLAS_STATUS_INVALID_VALUE: return "cuBLAS invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "cuBLAS architecture mismatch";
    case CUBLAS_STATUS_MAPPING_ERROR: return "cuBLAS mapping error";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "cuBLAS execution failed";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "cuBLAS internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "cuBLAS not supported";
    default: return "cuBLAS error";
    }
}

extern "C" jn_status jn_backend_cuda_last_error(jn_backend *be, jn_error *err) {
    if (!be || !be->name || strcmp(be->name, "cuda") != 0 || !be->impl) return JN_OK;
    jn_cuda_impl *c = jn_cuda(be);
    if (!c->failed) return JN_OK;
    return jn_fail(err, c->code, "cuda device %d: %s", c->device, c->msg);
}

extern "C" jn_status jn_backend_cuda_set(jn_backend *be, const char *key, const char *value, jn_error *err) {
    if (!be || !be->name || strcmp(be->name, "cuda") != 0 || !be->impl)
        return jn_fail(err, JN_ERR_USAGE, "%s=%s: only the cuda backend has this setting", key ? key : "?",
                       value ? value : "");
    jn_cuda_impl *c = jn_cuda(be);
    if (key && !strcmp(key, "gemm")) {
        int m = jn_cuda_gemm_parse(value);
        if (m < 0) return jn_fail(err, JN_ERR_USAGE, "GEMM precision '%s': expected f32, bf16 or f16", value);
        c->gemm_mode = m;
        return JN_OK;
    }
    if (key && !strcmp(key, "cudnn")) {
        int m = jn_cuda_cudnn_parse(value);
        if (m < 0) return jn_fail(err, JN_ERR_USAGE, "cudnn '%s': expected auto, on or off", value);
        return jn_cuda_cudnn_setup(c, m, err);
    }
    return jn_fail(err, JN_ERR_USAGE, "cuda setting '%s': expected gemm or cudnn", key ? key : "(null)");
}

extern "C" jn_status jn_backend_cuda_memory(jn_backend *be, size_t *free_bytes, size_t *total_bytes, jn_error *err) {
    if (!be || !be->name || strcmp(be->name, "cuda") != 0 || !be->impl)
        return jn_fail(err, JN_ERR_USAGE, "device memory: not a cuda backend");
    jn_cuda_impl *c = jn_cuda(be);
    size_t fr = 0, tot = 0;
    cudaError_t e = cudaMemGetInfo(&fr, &tot);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return jn_fail(err, JN_ERR_RUNTIME, "cuda device %d: cudaMemGetInfo failed: %s", c->device, cudaGetErrorString(e));
    }
    if (free_bytes) *free_bytes = fr;
    if (total_bytes) *total_bytes = tot;
    return JN_OK;
}

extern "C" int jn_backend_cuda_describe(jn_backend *be, char *buf, size_t n) {
    if (!be || !be->name || strcmp(be->name, "cuda") != 0 || !be->impl) return snprintf(buf, n, "not a cuda backend");
    jn_cuda_impl *c = jn_cuda(be);
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, c->device) != cudaSuccess) {
        (void)cudaGetLastError();
        snprintf(p.name, sizeof p.name, "?");
        p.major = p.minor = 0;
        p.totalGlobalMem = 0;
    }
    size_t v = jn_cuda_cudnn_version(c);
    char conv[256];
    if (v)
        snprintf(conv, sizeof conv, "cuDNN %zu.%zu.%zu", v / 10000, v / 100 % 100, v % 100);
    else
        snprintf(conv, sizeof conv, "own im2col kernels (%s)", c->cudnn_why);
    return snprintf(buf, n, "cuda device %d: %s (sm_%d%d, %zu MiB), %d SMs; large GEMMs %s; conv2d %s", c->device,
                    p.name, p.major, p.minor, (size_t)(p.totalGlobalMem >> 20), c->n_sm,
                    c->gemm_mode == JN_CUDA_GEMM_F32 ? "FP32 (pedantic SGEMM)" : jn_cuda_gemm_name(c->gemm_mode),
                    conv);
}

/* ---------------------------------------------------------------- scratch */

void *jn_cuda_scratch(jn_cuda_impl *c, jn_cuda_buf *b, size_t nbytes) {
    if (nbytes == 0) nbytes = 1;
    if (b->p && b->cap >= nbytes) return b->p;
    size_t want = (nbytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1); /* 1 MiB granules */
    if (b->p) {
        /* kernels already queued may still read the old buffer */
        if (!JN_CUDA_OK(c, cudaStreamSynchronize(c->stream))) return NULL;
        cudaFree(b->p);
        b->p = NULL;
        b->cap = 0;
    }
    void *p = NULL;
    if (!JN_CUDA_OK(c, cudaMalloc(&p, want))) return NULL;
    b->p = p;
    b->cap = want;
    return p;
}

int32_t *jn_cuda_upload_i32(jn_cuda_impl *c, const int32_t *host, int n) {
    int32_t *d = (int32_t *)jn_cuda_scratch(c, &c->s_idx, (size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    if (!d) return NULL;
    /* pageable source: the call returns once the bytes are staged, so the host array may be reused */
    if (n > 0 && !JN_CUDA_OK(c, cudaMemcpyAsync(d, host, (size_t)n * sizeof(int32_t), cudaMemcpyHostToDevice,
                                                 c->stream)))
        return NULL;
    return d;
}

/* ---------------------------------------------------------------- memory */

static void *cu_alloc(jn_backend *be, size_t nbytes) {
    jn_cuda_impl *c = jn_cuda(be);
    void *p = NULL;
    if (cudaMalloc(&p, nbytes ? nbytes : 1) != cudaSuccess) {
        (void)cudaGetLastError(); /* out of memory is reported by the NULL return, not sticky */
        return NULL;
    }
    (void)c;
    return p;
}

static void cu_free(jn_backend *be, void *p) {
    if (!p) return;
    jn_cuda_impl *c = jn_cuda(be);
    (void)JN_CUDA_OK(c, cudaFree(p)); /* cudaFree waits for queued work using p */
}

static void cu_upload(jn_backend *be, void *dst, const void *src_host, size_t nbytes) {
    jn_cuda_impl *c = jn_cuda(be);
    if (!nbytes) return;
    JN_CUDA_CHECK(c, cudaMemcpyAsync(dst, src_host, nbytes, cudaMemcpyHostToDevice, c->stream));
    /* synchronous contract: the caller may overwrite src_host as soon as we return */
    JN_CUDA_CHECK(c, cudaStreamSynchronize(c->stream));
}

static void cu_download(jn_backend *be, void *dst_host, const void *src, size_t nbytes) {
    jn_cuda_impl *c = jn_cuda(be);
    if (nbytes) JN_CUDA_CHECK(c, cudaMemcpyAsync(dst_host, src, nbytes, cudaMemcpyDeviceToHost, c->stream));
    JN_CUDA_CHECK(c, cudaStreamSynchronize(c->stream));
}

static void cu_copy(jn_backend *be, void *dst, const void *src, size_t nbytes) {
    jn_cuda_impl *c = jn_cuda(be);
    if (!nbytes || dst == src) return;
    JN_CUDA_CHECK(c, cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, c->stream));
}

static void cu_memset0(jn_backend *be, void *dst, size_t nbytes) {
    jn_cuda_impl *c = jn_cuda(be);
    if (!nbytes) return;
    JN_CUDA_CHECK(c, cudaMemsetAsync(dst, 0, nbytes, c->stream));
}

static void cu_synchronize(jn_backend *be) {
    jn_cuda_impl *c = jn_cuda(be);
    JN_CUDA_CHECK(c, cudaStreamSynchronize(c->stream));
}

/* ---------------------------------------------------------------- step capture (CUDA graphs) */

static void cu_capture_begin(jn_backend *be) {
    jn_cuda_impl *c = jn_cuda(be);
    if (c->failed) return;
    if (c->capturing) {
        jn_cuda_record(c, JN_ERR_USAGE, __FILE__, __LINE__, "capture_begin", "a capture is already in progress");
        return;
    }
    /* thread-local mode: other threads' unsafe CUDA calls are not affected by this capture */
    if (JN_CUDA_OK(c, cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal))) c->capturing = 1;
}

static jn_status cu_capture_end(jn_backend *be, int slot, jn_error *err) {
    jn_cuda_impl *c = jn_cuda(be);
    if (slot < 0 || slot >= JN_BACKEND_GRAPH_SLOTS)
        return jn_fail(err, JN_ERR_USAGE, "capture_end: slot %d outside 0..%d", slot, JN_BACKEND_GRAPH_SLOTS - 1);
    if (!c->capturing) {
        if (c->failed) return jn_backend_cuda_last_error(be, err);
        return jn_fail(err, JN_ERR_USAGE, "capture_end without capture_begin");
    }
    c->capturing = 0;
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture(c->stream, &g);
    if (c->failed) { /* an op inside the capture failed (e.g. scratch growth: run the step eagerly first) */
        if (g) cudaGraphDestroy(g);
        (void)cudaGetLastError();
        return jn_fail(err, c->code, "cuda device %d: capture failed: %s (run the step once eagerly before capturing it)",
                       c->device, c->msg);
    }
    if (e != cudaSuccess || !g) {
        jn_cuda_record(c, JN_ERR_RUNTIME, __FILE__, __LINE__, "cudaStreamEndCapture",
                       e != cudaSuccess ? cudaGetErrorString(e) : "no graph");
        return jn_backend_cuda_last_error(be, err);
    }
    cudaGraphExec_t x = NULL;
    e = cudaGraphInstantiate(&x, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess) {
        jn_cuda_record(c, JN_ERR_RUNTIME, __FILE__, __LINE__, "cudaGraphInstantiate", cudaGetErrorString(e));
        return jn_backend_cuda_last_error(be, err);
    }
    if (c->graphs[slot]) cudaGraphExecDestroy(c->graphs[slot]);
    c->graphs[slot] = x;
    return JN_OK;
}

static jn_status cu_replay(jn_backend *be, int slot, jn_error *err) {
    jn_cuda_impl *c = jn_cuda(be);
    if (slot < 0 || slot >= JN_BACKEND_GRAPH_SLOTS || !c->graphs[slot])
        return jn_fail(err, JN_ERR_USAGE, "replay: no graph captured in slot %d", slot);
    if (!c->failed) (void)JN_CUDA_OK(c, cudaGraphLaunch(c->graphs[slot], c->stream));
    return jn_backend_cuda_last_error(be, err);
}

static int32_t *cu_step_scalar(jn_backend *be, int i) {
    jn_cuda_impl *c = jn_cuda(be);
    return i >= 0 && i < JN_BACKEND_STEP_SCALARS ? c->scalars + i : NULL;
}

__global__ void set_scalar_kernel(int32_t *p, int32_t v) { *p = v; }

static void cu_set_step_scalar(jn_backend *be, int i, int32_t value) {
    jn_cuda_impl *c = jn_cuda(be);
    if (c->failed || i < 0 || i >= JN_BACKEND_STEP_SCALARS) return;
    /* a kernel argument, not a host copy: stream-ordered, nothing on the host to keep alive */
    set_scalar_kernel<<<1, 1, 0, c->stream>>>(c->scalars + i, value);
    JN_CUDA_LAUNCHED(c);
}

#define JN_PINNED_BYTES ((size_t)64 << 20) /* two 32 MiB halves */

/* Copies nbytes host → device through the pinned double buffer (falls back to a plain copy
 * if pinned memory is unavailable). Returns 1 on success (0: error recorded). */
static int upload_staged(jn_cuda_impl *c, void *dst, const void *src, size_t nbytes) {
    if (!c->pinned && nbytes >= ((size_t)1 << 20)) {
        if (cudaMallocHost(&c->pinned, JN_PINNED_BYTES) == cudaSuccess &&
            cudaEventCreateWithFlags(&c->ev[0], cudaEventDisableTiming) == cudaSuccess &&
            cudaEventCreateWithFlags(&c->ev[1], cudaEventDisableTiming) == cudaSuccess) {
            c->pinned_cap = JN_PINNED_BYTES;
            c->ev_ok = 1;
        } else {
            (void)cudaGetLastError();
            if (c->pinned) cudaFreeHost(c->pinned);
            c->pinned = NULL;
            c->pinned_cap = 0;
        }
    }
    if (!c->pinned || !c->ev_ok || nbytes < ((size_t)1 << 20)) {
        if (!JN_CUDA_OK(c, cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, c->stream))) return 0;
        return JN_CUDA_OK(c, cudaStreamSynchronize(c->stream));
    }
    size_t half = c->pinned_cap / 2;
    size_t off = 0;
    for (int i = 0; off < nbytes; i++) {
        size_t len = nbytes - off < half ? nbytes - off : half;
        uint8_t *buf = (uint8_t *)c->pinned + (size_t)(i & 1) * half;
        if (i >= 2 && !JN_CUDA_OK(c, cudaEventSynchronize(c->ev[i & 1]))) return 0;
        memcpy(buf, (const uint8_t *)src + off, len);
        if (!JN_CUDA_OK(c, cudaMemcpyAsync((uint8_t *)dst + off, buf, len, cudaMemcpyHostToDevice, c->stream)))
            return 0;
        if (!JN_CUDA_OK(c, cudaEventRecord(c->ev[i & 1], c->stream))) return 0;
        off += len;
    }
    return JN_CUDA_OK(c, cudaStreamSynchronize(c->stream));
}

static jn_status cu_weight_upload(jn_backend *be, jn_weight *w, jn_error *err) {
    jn_cuda_impl *c = jn_cuda(be);
    const char *name = w->name ? w->name : "(unnamed)";
    if (c->failed)
        return jn_fail(err, c->code, "cuda: cannot upload weight %s: an earlier CUDA call failed: %s", name, c->msg);
    if (!jn_dtype_valid((int)w->type))
        return jn_fail(err, JN_ERR_FORMAT, "cuda: weight %s: unsupported dtype %d", name, (int)w->type);
    int64_t N = jn_weight_rows(w), K = jn_weight_cols(w);
    size_t rb = jn_row_bytes(w->type, K), need = 0;
    if (N <= 0 || rb == 0 || !jn_mul_ok(rb, (size_t)N, &need) || need != w->nbytes || !w->data)
        return jn_fail(err, JN_ERR_FORMAT,
                       "cuda: weight %s: %s [%lld, %lld] needs %zu bytes of data, got %zu%s", name,
                       jn_dtype_name((int)w->type), (long long)N, (long long)K, need, w->nbytes,
                       w->data ? "" : " (no host data)");
    void *d = NULL;
    cudaError_t e = cudaMalloc(&d, w->nbytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        size_t fr = 0, tot = 0;
        cudaMemGetInfo(&fr, &tot);
        return jn_fail(err, JN_ERR_NOMEM,
                       "cuda: weight %s: cannot allocate %zu bytes of device memory (%s; %zu MiB free of %zu MiB)",
                       name, w->nbytes, cudaGetErrorString(e), fr >> 20, tot >> 20);
    }
    if (!upload_staged(c, d, w->data, w->nbytes)) {
        cudaFree(d);
        return jn_fail(err, c->code, "cuda: uploading weight %s (%zu bytes): %s", name, w->nbytes, c->msg);
    }
    w->dev = d;
    return JN_OK;
}

static void cu_weight_release(jn_backend *be, jn_weight *w) {
    if (!w || !w->dev) return;
    if (w->dev != w->data) cu_free(be, w->dev);
    w->dev = NULL;
}

static void cu_destroy(jn_backend *be) {
    if (!be) return;
    jn_cuda_impl *c = jn_cuda(be);
    if (c) {
        cudaStreamSynchronize(c->stream);
        jn_cuda_buf *bufs[] = {&c->s_w,  &c->s_col, &c->s_idx,  &c->s_gn,   &c->s_att,
                               &c->s_samp, &c->s_xh, &c->s_wh, &c->s_ltws, &c->s_dnnws};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
            if (bufs[i]->p) cudaFree(bufs[i]->p);
        if (c->pinned) cudaFreeHost(c->pinned);
        if (c->ev_ok) {
            cudaEventDestroy(c->ev[0]);
            cudaEventDestroy(c->ev[1]);
        }
        jn_cuda_cudnn_free(c);
        if (c->capturing) {
            cudaGraph_t g = NULL;
            if (cudaStreamEndCapture(c->stream, &g) == cudaSuccess && g) cudaGraphDestroy(g);
        }
        for (int i = 0; i < JN_BACKEND_GRAPH_SLOTS; i++)
            if (c->graphs[i]) cudaGraphExecDestroy(c->graphs[i]);
        if (c->scalars) cudaFree(c->scalars);
        if (c->lt) JN_BLAS(cublasLtDestroy)(c->lt);
        if (c->cublas) JN_BLAS(cublasDestroy)(c->cublas);
        if (c->stream) cudaStreamDestroy(c->stream);
        free(c);
    }
    free(be);
}

/* ---------------------------------------------------------------- constructor */

extern "C" int jn_backend_cuda_available(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n > 0;
}

extern "C" jn_backend *jn_backend_cuda_create(int device, jn_error *err) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n <= 0) {
        (void)cudaGetLastError();
        jn_fail(err, JN_ERR_RUNTIME, "no CUDA device (%s)", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return NULL;
    }
    if (device < 0 || device >= n) {
        jn_fail(err, JN_ERR_USAGE, "CUDA device %d does not exist (this machine has %d: 0..%d)", device, n, n - 1);
        return NULL;
    }
    jn_backend *be = (jn_backend *)calloc(1, sizeof *be);
    jn_cuda_impl *c = (jn_cuda_impl *)calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        jn_fail(err, JN_ERR_NOMEM, "cuda backend: out of host memory");
        return NULL;
    }
    c->device = device;
    const char *gm = getenv("JANUS_CUDA_GEMM"), *dm = getenv("JANUS_CUDNN");
    int dnn_mode = jn_cuda_cudnn_parse(dm);
    if ((c->gemm_mode = jn_cuda_gemm_parse(gm)) < 0 || dnn_mode < 0) {
        if (dnn_mode < 0)
            jn_fail(err, JN_ERR_USAGE, "JANUS_CUDNN=%s: expected AUTO, ON or OFF", dm);
        else
            jn_fail(err, JN_ERR_USAGE, "JANUS_CUDA_GEMM=%s: expected f32, bf16 or f16", gm);
        free(be);
        free(c);
        return NULL;
    }
    be->name = "cuda";
    be->impl = c;
    if ((e = cudaSetDevice(device)) != cudaSuccess || (e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        jn_fail(err, JN_ERR_RUNTIME, "cuda device %d: cannot initialise: %s", device, cudaGetErrorString(e));
        cu_destroy(be);
        return NULL;
    }
    if (cudaDeviceGetAttribute(&c->n_sm, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || c->n_sm < 1) {
        (void)cudaGetLastError();
        c->n_sm = 1;
    }
    const char *blas_why = jn_cublas_load();
    if (blas_why) {
        jn_fail(err, JN_ERR_RUNTIME, "cuda device %d: cuBLAS is needed by the CUDA backend: %s", device, blas_why);
        cu_destroy(be);
        return NULL;
    }
    cublasStatus_t s = JN_BLAS(cublasCreate)(&c->cublas);
    if (s != CUBLAS_STATUS_SUCCESS) {
        c->cublas = NULL;
        jn_fail(err, JN_ERR_RUNTIME, "cuda device %d: cublasCreate failed: %s", device, jn_cublas_status_str(s));
        cu_destroy(be);
        return NULL;
    }
    /* FP32 accuracy: no TF32 tensor-op downgrade for SGEMM (see matmul.cu) */
    if ((s = JN_BLAS(cublasSetStream)(c->cublas, c->stream)) != CUBLAS_STATUS_SUCCESS ||
        (s = JN_BLAS(cublasSetMathMode)(c->cublas, CUBLAS_PEDANTIC_MATH)) != CUBLAS_STATUS_SUCCESS) {
        jn_fail(err, JN_ERR_RUNTIME, "cuda device %d: cuBLAS setup failed: %s", device, jn_cublas_status_str(s));
        cu_destroy(be);
        return NULL;
    }
    if ((e = cudaMalloc((void **)&c->scalars, JN_BACKEND_STEP_SCALARS * sizeof(int32_t))) != cudaSuccess ||
        (e = cudaMemsetAsync(c->scalars, 0, JN_BACKEND_STEP_SCALARS * sizeof(int32_t), c->stream)) != cudaSuccess) {
        jn_fail(err, JN_ERR_RUNTIME, "cuda device %d: cannot allocate the step scalars: %s", device,
                cudaGetErrorString(e));
        cu_destroy(be);
        return NULL;
    }
    if (jn_cuda_cudnn_setup(c, dnn_mode, err) != JN_OK) {
        cu_destroy(be);
        return NULL;
    }

    be->alloc = cu_alloc;
    be->free = cu_free;
    be->upload = cu_upload;
    be->download = cu_download;
    be->copy = cu_copy;
    be->memset0 = cu_memset0;
    be->weight_upload = cu_weight_upload;
    be->weight_release = cu_weight_release;
    be->synchronize = cu_synchronize;
    be->destroy = cu_destroy;
    be->matmul = jn_cuda_matmul;
    be->get_rows = jn_cuda_get_rows;
    be->rms_norm = jn_cuda_rms_norm;
    be->layer_norm = jn_cuda_layer_norm;
    be->group_norm = jn_cuda_group_norm;
    be->rope = jn_cuda_rope;
    be->attention = jn_cuda_attention;
    be->add = jn_cuda_add;
    be->mul = jn_cuda_mul;
    be->scale = jn_cuda_scale;
    be->gelu = jn_cuda_gelu;
    be->silu = jn_cuda_silu;
    be->swiglu = jn_cuda_swiglu;
    be->copy2d = jn_cuda_copy2d;
    be->conv2d = jn_cuda_conv2d;
    be->upsample2x = jn_cuda_upsample2x;
    be->sample = jn_cuda_sample;
    be->get_rows_dev = jn_cuda_get_rows_dev;
    be->rope_dpos = jn_cuda_rope_dpos;
    be->attention_dpos = jn_cuda_attention_dpos;
    be->copy2d_dpos = jn_cuda_copy2d_dpos;
    be->copy2d_kv = jn_cuda_copy2d_kv;
    be->attention_kv = jn_cuda_attention_kv;
    be->group_norm_silu = jn_cuda_group_norm_silu;
    be->capture_begin = cu_capture_begin;
    be->capture_end = cu_capture_end;
    be->replay = cu_replay;
    be->step_scalar = cu_step_scalar;
    be->set_step_scalar = cu_set_step_scalar;
    return be;
}
