/* engine/ref/backend_ref.c — the reference backend: every op of engine/backend.h as plain scalar
 * loops over host memory.
 *
 * Why: it is the oracle the cpu and cuda backends are tested against, and the backend model
 * engineers debug with. Clarity over speed: single-threaded, f64 accumulation for dot products,
 * norms and softmax, weights converted row by row with jn_to_f32_ref (the dtype spec). Scratch is
 * malloc'ed per call (allowed here, never in cpu/cuda). Where the contract fixes an f32 formula
 * (RoPE angles) the loops follow it literally. */
#define _POSIX_C_SOURCE 200809L
#include "../backend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- memory */

static void *ref_alloc(jn_backend *be, size_t nbytes) {
    (void)be;
    size_t n = (nbytes + 63) & ~(size_t)63;
    if (n < nbytes) return NULL; /* overflow */
    if (n == 0) n = 64;
    return aligned_alloc(64, n);
}
static void ref_free(jn_backend *be, void *p) {
    (void)be;
    free(p);
}
static void ref_upload(jn_backend *be, void *dst, const void *src_host, size_t nbytes) {
    (void)be;
    if (nbytes) memcpy(dst, src_host, nbytes);
}
static void ref_download(jn_backend *be, void *dst_host, const void *src, size_t nbytes) {
    (void)be;
    if (nbytes) memcpy(dst_host, src, nbytes);
}
static void ref_copy(jn_backend *be, void *dst, const void *src, size_t nbytes) {
    (void)be;
    if (nbytes) memmove(dst, src, nbytes);
}
static void ref_memset0(jn_backend *be, void *dst, size_t nbytes) {
    (void)be;
    if (nbytes) memset(dst, 0, nbytes);
}
static jn_status ref_weight_upload(jn_backend *be, jn_weight *w, jn_error *err) {
    (void)be;
    (void)err;
    w->dev = (void *)w->data;
    return JN_OK;
}
static void ref_weight_release(jn_backend *be, jn_weight *w) {
    (void)be;
    w->dev = NULL;
}
static void ref_synchronize(jn_backend *be) { (void)be; }
/* the oracle has no recoverable failure (its per-call mallocs assert) */
static jn_status ref_status(jn_backend *be, jn_error *err) {
    (void)be;
    (void)err;
    return JN_OK;
}
static void ref_destroy(jn_backend *be) { free(be); }

/* ---------------------------------------------------------------- helpers */

/* Row n of weight w (viewed as [N, K]) converted to f32 into dst[K]. */
static void weight_row_f32(const jn_weight *w, int64_t n, float *dst) {
    int64_t K = jn_weight_cols(w);
    size_t rb = jn_row_bytes(w->type, K);
    JN_ASSERT(rb != 0);
    jn_to_f32_ref(w->type, (const uint8_t *)w->data + (size_t)n * rb, dst, K);
}

/* Whole weight as f32 [N*K] (malloc'ed; caller frees). */
static float *weight_all_f32(const jn_weight *w) {
    int64_t N = jn_weight_rows(w), K = jn_weight_cols(w);
    float *out = (float *)malloc((size_t)(N * K) * sizeof(float) + 1);
    JN_ASSERT(out != NULL);
    for (int64_t n = 0; n < N; n++) weight_row_f32(w, n, out + n * K);
    return out;
}

/* ---------------------------------------------------------------- linear algebra */

/* y[M,N] = x[M,K] · W[N,K]^T + bias[N] */
static void ref_matmul(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias,
                       int M) {
    (void)be;
    int64_t N = jn_weight_rows(w), K = jn_weight_cols(w);
    const float *b = bias ? (const float *)bias->data : NULL;
    float *wrow = (float *)malloc((size_t)K * sizeof(float) + 1); /* [K] */
    JN_ASSERT(wrow != NULL);
    for (int64_t n = 0; n < N; n++) {
        weight_row_f32(w, n, wrow);
        for (int m = 0; m < M; m++) {
            const float *xr = x + (size_t)m * (size_t)K;
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) acc += (double)xr[k] * (double)wrow[k];
            if (b) acc += (double)b[n];
            y[(size_t)m * (size_t)N + (size_t)n] = (float)acc;
        }
    }
    free(wrow);
}

/* y[n, K] = W[ids[i], :] */
static void ref_get_rows(jn_backend *be, float *y, const jn_weight *w, const int32_t *ids_host, int n) {
    (void)be;
    int64_t K = jn_weight_cols(w);
    for (int i = 0; i < n; i++) weight_row_f32(w, ids_host[i], y + (size_t)i * (size_t)K);
}

/* ---------------------------------------------------------------- normalisation */

static void ref_rms_norm(jn_backend *be, float *y, const float *x, const jn_weight *w, int M, int N, float eps) {
    (void)be;
    const float *g = (const float *)w->data; /* [N] */
    for (int m = 0; m < M; m++) {
        const float *xr = x + (size_t)m * N;
        float *yr = y + (size_t)m * N;
        double ss = 0.0;
        for (int i = 0; i < N; i++) ss += (double)xr[i] * (double)xr[i];
        double r = 1.0 / sqrt(ss / N + (double)eps);
        for (int i = 0; i < N; i++) yr[i] = (float)((double)xr[i] * r * (double)g[i]);
    }
}

static void ref_layer_norm(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *b, int M,
                           int N, float eps) {
    (void)be;
    const float *g = (const float *)w->data;               /* [N] */
    const float *bb = b ? (const float *)b->data : NULL;  /* [N] */
    for (int m = 0; m < M; m++) {
        const float *xr = x + (size_t)m * N;
        float *yr = y + (size_t)m * N;
        double mean = 0.0, var = 0.0;
        for (int i = 0; i < N; i++) mean += xr[i];
        mean /= N;
        for (int i = 0; i < N; i++) var += ((double)xr[i] - mean) * ((double)xr[i] - mean);
        var /= N;
        double r = 1.0 / sqrt(var + (double)eps);
        for (int i = 0; i < N; i++)
            yr[i] = (float)(((double)xr[i] - mean) * r * (double)g[i] + (bb ? (double)bb[i] : 0.0));
    }
}

/* x: [HW, C] channels-last; groups of C/G consecutive channels */
static void ref_group_norm(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *b, int HW,
                           int C, int G, float eps) {
    (void)be;
    const float *g = (const float *)w->data;
    const float *bb = b ? (const float *)b->data : NULL;
    int cg = C / G;
    for (int grp = 0; grp < G; grp++) {
        int c0 = grp * cg;
        double mean = 0.0, var = 0.0;
        for (int p = 0; p < HW; p++)
            for (int c = c0; c < c0 + cg; c++) mean += x[(size_t)p * C + c];
        mean /= (double)HW * cg;
        for (int p = 0; p < HW; p++)
            for (int c = c0; c < c0 + cg; c++) {
                double d = x[(size_t)p * C + c] - mean;
                var += d * d;
            }
        var /= (double)HW * cg;
        double r = 1.0 / sqrt(var + (double)eps);
        for (int p = 0; p < HW; p++)
            for (int c = c0; c < c0 + cg; c++) {
                size_t i = (size_t)p * C + c;
                y[i] = (float)((x[i] - mean) * r * g[c] + (bb ? bb[c] : 0.0));
            }
    }
}

/* ---------------------------------------------------------------- position / attention */

static void ref_rope(jn_backend *be, float *x, int n_seq, int n_tok, int n_head, int d_head, int ld,
                     const int32_t *pos0_host, float theta) {
    (void)be;
    int half = d_head / 2;
    for (int s = 0; s < n_seq; s++)
        for (int t = 0; t < n_tok; t++) {
            float pos = (float)(pos0_host[s] + t);
            float *row = x + ((size_t)s * n_tok + t) * (size_t)ld;
            for (int h = 0; h < n_head; h++) {
                float *v = row + (size_t)h * d_head;
                for (int i = 0; i < half; i++) {
                    float inv_freq = 1.0f / powf(theta, (float)(2 * i) / (float)d_head);
                    float angle = inv_freq * pos;
                    float c = cosf(angle), sn = sinf(angle);
                    float a = v[i], bv = v[i + half];
                    v[i] = a * c - bv * sn;
                    v[i + half] = bv * c + a * sn;
                }
            }
        }
}

static void ref_attention(jn_backend *be, float *out, const float *q, const float *k, const float *v, int n_seq,
                          int n_q, int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride, int ldo,
                          int causal, float scale) {
    (void)be;
    double *p = (double *)malloc((size_t)(n_kv > 0 ? n_kv : 1) * sizeof(double)); /* [n_kv] */
    double *acc = (double *)malloc((size_t)(d_head > 0 ? d_head : 1) * sizeof(double));
    JN_ASSERT(p && acc);
    for (int s = 0; s < n_seq; s++)
        for (int h = 0; h < n_head; h++)
            for (int i = 0; i < n_q; i++) {
                const float *qr = q + ((size_t)s * n_q + i) * (size_t)ldq + (size_t)h * d_head;
                float *o = out + ((size_t)s * n_q + i) * (size_t)ldo + (size_t)h * d_head;
                int last = causal ? n_kv - n_q + i : n_kv - 1; /* last visible key */
                if (last > n_kv - 1) last = n_kv - 1;
                double mx = -INFINITY;
                for (int j = 0; j <= last; j++) {
                    const float *kr = k + (size_t)s * seq_stride + (size_t)j * ldkv + (size_t)h * d_head;
                    double d = 0.0;
                    for (int c = 0; c < d_head; c++) d += (double)qr[c] * (double)kr[c];
                    p[j] = d * (double)scale;
                    if (p[j] > mx) mx = p[j];
                }
                double sum = 0.0;
                for (int j = 0; j <= last; j++) {
                    p[j] = exp(p[j] - mx);
                    sum += p[j];
                }
                for (int c = 0; c < d_head; c++) acc[c] = 0.0;
                for (int j = 0; j <= last; j++) {
                    const float *vr = v + (size_t)s * seq_stride + (size_t)j * ldkv + (size_t)h * d_head;
                    for (int c = 0; c < d_head; c++) acc[c] += p[j] * (double)vr[c];
                }
                for (int c = 0; c < d_head; c++) o[c] = last >= 0 ? (float)(acc[c] / sum) : 0.0f;
            }
    free(p);
    free(acc);
}

/* ---------------------------------------------------------------- element-wise */

static void ref_add(jn_backend *be, float *y, const float *a, const float *b, size_t n) {
    (void)be;
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}
static void ref_mul(jn_backend *be, float *y, const float *a, const float *b, size_t n) {
    (void)be;
    for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}
static void ref_scale(jn_backend *be, float *y, const float *x, float s, size_t n) {
    (void)be;
    for (size_t i = 0; i < n; i++) y[i] = s * x[i];
}
static void ref_gelu(jn_backend *be, float *y, const float *x, size_t n) {
    (void)be;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        y[i] = (float)(0.5 * v * erfc(-v / sqrt(2.0))); /* = 0.5v(1 + erf(v/√2)), no cancellation for v << 0 */
    }
}
static void ref_silu(jn_backend *be, float *y, const float *x, size_t n) {
    (void)be;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        y[i] = (float)(v / (1.0 + exp(-v)));
    }
}
static void ref_swiglu(jn_backend *be, float *y, const float *gate, const float *up, size_t n) {
    (void)be;
    for (size_t i = 0; i < n; i++) {
        double g = gate[i];
        y[i] = (float)(g / (1.0 + exp(-g)) * (double)up[i]);
    }
}
static void ref_copy2d(jn_backend *be, float *y, int ldy, const float *x, int ldx, int rows, int cols) {
    (void)be;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) y[(size_t)r * ldy + c] = x[(size_t)r * ldx + c];
}

/* ---------------------------------------------------------------- convolution */

/* x: [H, W, Cin]; W: [Cout, Cin, kh, kw]; y: [Ho, Wo, Cout] */
static void ref_conv2d(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int H,
                       int W, int stride, int pad) {
    (void)be;
    int Cout = (int)w->shape[0], Cin = (int)w->shape[1], kh = (int)w->shape[2], kw = (int)w->shape[3];
    if (w->n_dims < 4) kh = kw = 1; /* [Cout, Cin] treated as 1x1 */
    int Ho = (H + 2 * pad - kh) / stride + 1, Wo = (W + 2 * pad - kw) / stride + 1;
    const float *b = bias ? (const float *)bias->data : NULL;
    float *wf = weight_all_f32(w); /* [Cout, Cin, kh, kw] */
    for (int oy = 0; oy < Ho; oy++)
        for (int ox = 0; ox < Wo; ox++)
            for (int co = 0; co < Cout; co++) {
                double acc = b ? b[co] : 0.0;
                for (int ky = 0; ky < kh; ky++) {
                    int iy = oy * stride - pad + ky;
                    if (iy < 0 || iy >= H) continue;
                    for (int kx = 0; kx < kw; kx++) {
                        int ix = ox * stride - pad + kx;
                        if (ix < 0 || ix >= W) continue;
                        const float *xp = x + ((size_t)iy * W + ix) * (size_t)Cin;
                        for (int ci = 0; ci < Cin; ci++)
                            acc += (double)xp[ci] *
                                   (double)wf[(((size_t)co * Cin + ci) * kh + ky) * kw + kx];
                    }
                }
                y[((size_t)oy * Wo + ox) * (size_t)Cout + co] = (float)acc;
            }
    free(wf);
}

static void ref_upsample2x(jn_backend *be, float *y, const float *x, int H, int W, int C) {
    (void)be;
    for (int oy = 0; oy < 2 * H; oy++)
        for (int ox = 0; ox < 2 * W; ox++)
            memcpy(y + ((size_t)oy * 2 * W + ox) * C, x + ((size_t)(oy / 2) * W + ox / 2) * C,
                   (size_t)C * sizeof(float));
}

/* ---------------------------------------------------------------- constructor */

jn_backend *jn_backend_ref_create(jn_error *err) {
    jn_backend *be = (jn_backend *)calloc(1, sizeof *be);
    if (!be) {
        jn_fail(err, JN_ERR_NOMEM, "ref backend: out of memory");
        return NULL;
    }
    be->name = "ref";
    be->alloc = ref_alloc;
    be->free = ref_free;
    be->upload = ref_upload;
    be->download = ref_download;
    be->copy = ref_copy;
    be->memset0 = ref_memset0;
    be->weight_upload = ref_weight_upload;
    be->weight_release = ref_weight_release;
    be->synchronize = ref_synchronize;
    be->destroy = ref_destroy;
    be->status = ref_status;
    be->matmul = ref_matmul;
    be->get_rows = ref_get_rows;
    be->rms_norm = ref_rms_norm;
    be->layer_norm = ref_layer_norm;
    be->group_norm = ref_group_norm;
    be->rope = ref_rope;
    be->attention = ref_attention;
    be->add = ref_add;
    be->mul = ref_mul;
    be->scale = ref_scale;
    be->gelu = ref_gelu;
    be->silu = ref_silu;
    be->swiglu = ref_swiglu;
    be->copy2d = ref_copy2d;
    be->conv2d = ref_conv2d;
    be->upsample2x = ref_upsample2x;
    jn_backend_host_extra_ops(be); /* the entries of the CUDA block: sample, *_dpos, K/V, capture */
    return be;
}
