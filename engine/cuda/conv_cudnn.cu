/* engine/cuda/conv_cudnn.cu — conv2d through cuDNN (the VQ decoder's 3×3 convolutions), with the
 * backend's own im2col + GEMM path (matmul.cu) as the fallback.
 *
 * Why dlopen: a janus built where cudnn.h exists must still start on a machine without
 * libcudnn.so.9 (cuDNN is a separate download from the driver and toolkit), so the library is
 * loaded at backend creation and every entry point used is looked up by name; its absence is a
 * reason string, not a link failure. JANUS_CUDNN=AUTO (default: use it when it loads), ON (refuse
 * to create the backend without it), OFF (never); jn_backend_cuda_set(be, "cudnn", ...) changes it
 * later. Data stay f32 channels-last (NHWC tensors, [Cout, kh, kw, Cin] filters = the permuted
 * weight the fallback builds anyway); math is FP32 FMA (no TF32) unless the GEMM precision is
 * bf16/f16, which allows tensor-op conversion. Only deterministic algorithms are chosen. A shape
 * cuDNN rejects falls back to the own kernels under AUTO and is an error under ON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.cuh"

#if defined(JANUS_HAVE_CUDNN_H)
#include <cudnn.h>
#include <dlfcn.h>

#define JN_CUDNN_FNS(X)                                                                                         \
    X(cudnnGetVersion)                                                                                          \
    X(cudnnGetErrorString)                                                                                      \
    X(cudnnCreate)                                                                                              \
    X(cudnnDestroy)                                                                                             \
    X(cudnnSetStream)                                                                                           \
    X(cudnnCreateTensorDescriptor)                                                                              \
    X(cudnnDestroyTensorDescriptor)                                                                             \
    X(cudnnSetTensor4dDescriptor)                                                                               \
    X(cudnnCreateFilterDescriptor)                                                                              \
    X(cudnnDestroyFilterDescriptor)                                                                             \
    X(cudnnSetFilter4dDescriptor)                                                                               \
    X(cudnnCreateConvolutionDescriptor)                                                                         \
    X(cudnnDestroyConvolutionDescriptor)                                                                        \
    X(cudnnSetConvolution2dDescriptor)                                                                          \
    X(cudnnSetConvolutionMathType)                                                                              \
    X(cudnnGetConvolutionForwardAlgorithm_v7)                                                                   \
    X(cudnnConvolutionForward)

struct jn_cudnn {
    void *lib;
    cudnnHandle_t h;
#define JN_CUDNN_DECL(f) decltype(&::f) f;
    JN_CUDNN_FNS(JN_CUDNN_DECL)
#undef JN_CUDNN_DECL
};

#define JN_CUDNN_WS_MAX ((size_t)256 << 20)

static void cudnn_unload(jn_cudnn *d) {
    if (!d) return;
    if (d->h) d->cudnnDestroy(d->h);
    if (d->lib) dlclose(d->lib);
    free(d);
}

/* Loads libcudnn and creates a handle on c's stream; NULL + why[] on failure. */
static jn_cudnn *cudnn_load(jn_cuda_impl *c, char *why, size_t why_n) {
    jn_cudnn *d = (jn_cudnn *)calloc(1, sizeof *d);
    if (!d) {
        snprintf(why, why_n, "out of host memory");
        return NULL;
    }
    const char *names[] = {"libcudnn.so.9", "libcudnn.so"};
    for (int i = 0; i < 2 && !d->lib; i++) d->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!d->lib) {
        const char *e = dlerror();
        snprintf(why, why_n, "libcudnn.so.9 not loadable (%s)", e ? e : "not found");
        free(d);
        return NULL;
    }
#define JN_CUDNN_SYM(f)                                                                \
    if (!(d->f = (decltype(&::f))dlsym(d->lib, #f))) {                                 \
        snprintf(why, why_n, "libcudnn.so.9 lacks %s (cuDNN 9 needed)", #f);           \
        cudnn_unload(d);                                                               \
        return NULL;                                                                   \
    }
    JN_CUDNN_FNS(JN_CUDNN_SYM)
#undef JN_CUDNN_SYM
    if (d->cudnnGetVersion() / 10000 < 9) {
        snprintf(why, why_n, "cuDNN %zu is too old (9 needed)", d->cudnnGetVersion());
        cudnn_unload(d);
        return NULL;
    }
    cudnnStatus_t s = d->cudnnCreate(&d->h);
    if (s != CUDNN_STATUS_SUCCESS || (s = d->cudnnSetStream(d->h, c->stream)) != CUDNN_STATUS_SUCCESS) {
        snprintf(why, why_n, "cudnnCreate failed: %s", d->cudnnGetErrorString(s));
        cudnn_unload(d);
        return NULL;
    }
    return d;
}

size_t jn_cuda_cudnn_version(const jn_cuda_impl *c) { return c->dnn ? c->dnn->cudnnGetVersion() : 0; }

void jn_cuda_cudnn_free(jn_cuda_impl *c) {
    cudnn_unload(c->dnn);
    c->dnn = NULL;
}

jn_status jn_cuda_cudnn_setup(jn_cuda_impl *c, int mode, jn_error *err) {
    c->cudnn_mode = mode;
    if (mode == JN_CUDNN_OFF) {
        jn_cuda_cudnn_free(c);
        snprintf(c->cudnn_why, sizeof c->cudnn_why, "JANUS_CUDNN=OFF");
        return JN_OK;
    }
    if (!c->dnn) c->dnn = cudnn_load(c, c->cudnn_why, sizeof c->cudnn_why);
    if (!c->dnn && mode == JN_CUDNN_ON)
        return jn_fail(err, JN_ERR_RUNTIME, "cuda device %d: JANUS_CUDNN=ON but cuDNN is unavailable: %s", c->device,
                       c->cudnn_why);
    return JN_OK;
}

/* AUTO: a failing call means "use the fallback" (returns 0); ON: recorded (returns 1) */
static int cudnn_failed(jn_cuda_impl *c, const char *stmt, cudnnStatus_t s, int line) {
    if (c->cudnn_mode == JN_CUDNN_ON) {
        jn_cuda_record(c, JN_ERR_RUNTIME, __FILE__, line, stmt, c->dnn->cudnnGetErrorString(s));
        return 1;
    }
    return 0;
}

int jn_cuda_conv_cudnn(jn_cuda_impl *c, float *y, const float *x, const float *wf, int H, int W, int Cin, int Cout,
                       int kh, int kw, int stride, int pad, int Ho, int Wo) {
    jn_cudnn *d = c->dnn;
    if (!d || c->failed) return 0;
    cudnnTensorDescriptor_t xd = NULL, yd = NULL;
    cudnnFilterDescriptor_t fd = NULL;
    cudnnConvolutionDescriptor_t cd = NULL;
    cudnnStatus_t s = CUDNN_STATUS_SUCCESS;
    int done = 0, line = 0;
    const char *stmt = "";
#define JN_DNN(call)                                                \
    if (s == CUDNN_STATUS_SUCCESS && (s = (call)) != CUDNN_STATUS_SUCCESS) { \
        stmt = #call;                                               \
        line = __LINE__;                                            \
    }
    JN_DNN(d->cudnnCreateTensorDescriptor(&xd));
    JN_DNN(d->cudnnCreateTensorDescriptor(&yd));
    JN_DNN(d->cudnnCreateFilterDescriptor(&fd));
    JN_DNN(d->cudnnCreateConvolutionDescriptor(&cd));
    JN_DNN(d->cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, Cin, H, W));
    JN_DNN(d->cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, Cout, Ho, Wo));
    JN_DNN(d->cudnnSetFilter4dDescriptor(fd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, Cout, Cin, kh, kw));
    JN_DNN(d->cudnnSetConvolution2dDescriptor(cd, pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
    const cudnnMathType_t want_math =
        c->gemm_mode == JN_CUDA_GEMM_F32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    JN_DNN(d->cudnnSetConvolutionMathType(cd, want_math));
    cudnnConvolutionFwdAlgoPerf_t perf[8];
    int n_perf = 0;
    JN_DNN(d->cudnnGetConvolutionForwardAlgorithm_v7(d->h, xd, fd, cd, yd, 8, &n_perf, perf));
    if (s == CUDNN_STATUS_SUCCESS) {
        int pick = -1;
        for (int i = 0; i < n_perf && pick < 0; i++)
            if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
                perf[i].memory <= JN_CUDNN_WS_MAX &&
                (want_math != CUDNN_FMA_MATH || perf[i].mathType == CUDNN_FMA_MATH))
                pick = i;
        if (pick < 0) {
            s = CUDNN_STATUS_NOT_SUPPORTED;
            stmt = "choosing a deterministic FP32 cuDNN algorithm";
            line = __LINE__;
        } else {
            void *ws = perf[pick].memory ? jn_cuda_scratch(c, &c->s_dnnws, perf[pick].memory) : NULL;
            if (perf[pick].memory && !ws) {
                done = 1; /* recorded by jn_cuda_scratch */
            } else {
                const float one = 1.0f, zero = 0.0f;
                JN_DNN(d->cudnnSetConvolutionMathType(cd, perf[pick].mathType));
                JN_DNN(d->cudnnConvolutionForward(d->h, &one, xd, x, fd, wf, cd, perf[pick].algo, ws,
                                                  perf[pick].memory, &zero, yd, y));
                if (s == CUDNN_STATUS_SUCCESS) done = 1;
            }
        }
    }
#undef JN_DNN
    if (s != CUDNN_STATUS_SUCCESS) done = cudnn_failed(c, stmt, s, line);
    if (cd) d->cudnnDestroyConvolutionDescriptor(cd);
    if (fd) d->cudnnDestroyFilterDescriptor(fd);
    if (yd) d->cudnnDestroyTensorDescriptor(yd);
    if (xd) d->cudnnDestroyTensorDescriptor(xd);
    return done;
}

#else /* built without cudnn.h: the own kernels only */

struct jn_cudnn {
    int unused;
};
size_t jn_cuda_cudnn_version(const jn_cuda_impl *c) { return 0; }
void jn_cuda_cudnn_free(jn_cuda_impl *c) { c->dnn = NULL; }
jn_status jn_cuda_cudnn_setup(jn_cuda_impl *c, int mode, jn_error *err) {
    c->cudnn_mode = mode;
    snprintf(c->cudnn_why, sizeof c->cudnn_why, "built without cudnn.h");
    if (mode == JN_CUDNN_ON)
        return jn_fail(err, JN_ERR_RUNTIME, "JANUS_CUDNN=ON but this janus was built without cuDNN headers");
    return JN_OK;
}
int jn_cuda_conv_cudnn(jn_cuda_impl *c, float *y, const float *x, const float *wf, int H, int W, int Cin, int Cout,
                       int kh, int kw, int stride, int pad, int Ho, int Wo) {
    return 0;
}
#endif

int jn_cuda_cudnn_parse(const char *s) {
    if (!s || !*s || !strcasecmp(s, "auto")) return JN_CUDNN_AUTO;
    if (!strcasecmp(s, "on") || !strcmp(s, "1")) return JN_CUDNN_ON;
    if (!strcasecmp(s, "off") || !strcmp(s, "0")) return JN_CUDNN_OFF;
    return -1;
}
