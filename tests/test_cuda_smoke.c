/* tests/test_cuda_smoke.c — every op of the CUDA backend once or a few times against the ref
 * backend (the exhaustive shape sweep is tests/test_ops_backend.c). Skips (77) without a device.
 *
 * Covers both matmul paths (GEMV for M ≤ 16 incl. the unaligned fallback, converted-weight
 * SGEMM for M > 16) for every dtype, get_rows (inline and uploaded ids), the three norms,
 * RoPE, attention (tiled prefill, key-split decode, causal and not, d_head 16..512, strided
 * K/V cache layout), element-wise ops, copy2d, conv2d (3×3, 1×1, patchify, stride 2) and
 * upsample2x, then checks jn_backend_cuda_last_error() is clean and that it reports a failure.
 * Tolerances: f32 compute both sides (ref accumulates in f64), so ~1e-6 relative is expected;
 * the limits below leave ~10× headroom. */
// janus-test-libs: janus_engine
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend.h"
#include "testutil.h"

static jn_backend *R, *C;
/* tolerances of the GEMM-based ops (matmul M > 16, conv2d): f32 by default; the tensor-core pass
 * (JANUS_CUDA_GEMM bf16/f16) loosens them, see main() */
static double gemm_abs = 2e-4, gemm_rel = 1e-5, conv_abs = 1e-4, conv_rel = 1e-5;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static float frand(void) { /* uniform [-1, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}
static float *rnd(size_t n, float amp) {
    float *p = (float *)malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) p[i] = amp * frand();
    return p;
}

/* the same weight for both backends: wr uses host bytes, wc a device copy */
typedef struct {
    jn_weight wr, wc;
    void *host;
} tw;

static void tw_make(tw *t, jn_dtype type, int n_dims, const int64_t *shape, float amp) {
    memset(t, 0, sizeof *t);
    int64_t n = 1;
    for (int i = 0; i < n_dims; i++) n *= shape[i];
    float *f = rnd((size_t)n, amp);
    size_t nb = jn_row_bytes(type, n);
    t->host = malloc(nb);
    jn_from_f32_ref(type, f, t->host, n);
    free(f);
    jn_weight *ws[2] = {&t->wr, &t->wc};
    for (int k = 0; k < 2; k++) {
        jn_weight *w = ws[k];
        w->name = "test.weight";
        w->type = type;
        w->n_dims = n_dims;
        for (int i = 0; i < 4; i++) w->shape[i] = i < n_dims ? shape[i] : 1;
        w->data = t->host;
        w->nbytes = nb;
    }
    jn_error err = {0};
    if (R->weight_upload(R, &t->wr, &err) != JN_OK || C->weight_upload(C, &t->wc, &err) != JN_OK) {
        fprintf(stderr, "FAIL weight_upload: %s\n", err.msg);
        exit(1);
    }
}
static void tw_free(tw *t) {
    C->weight_release(C, &t->wc);
    R->weight_release(R, &t->wr);
    free(t->host);
}

static float *dev_from(const float *h, size_t n) {
    float *d = (float *)C->alloc(C, n * sizeof(float) + 16);
    if (!d) {
        fprintf(stderr, "FAIL cuda alloc of %zu floats\n", n);
        exit(1);
    }
    if (h) C->upload(C, d, h, n * sizeof(float));
    else C->memset0(C, d, n * sizeof(float));
    return d;
}
static float *host_from(const float *d, size_t n) {
    float *h = (float *)malloc(n * sizeof(float) + 4);
    C->download(C, h, d, n * sizeof(float));
    return h;
}

/* ---------------------------------------------------------------- cases */

static void t_matmul(jn_dtype type, int M, int N, int K, int with_bias, int x_off) {
    int64_t ws[2] = {N, K}, bs[1] = {N};
    tw w, b;
    tw_make(&w, type, 2, ws, 0.5f);
    if (with_bias) tw_make(&b, JN_F32, 1, bs, 0.5f);
    float *x = rnd((size_t)M * K, 1.0f), *yr = (float *)calloc((size_t)M * N, sizeof(float));
    R->matmul(R, yr, x, &w.wr, with_bias ? &b.wr : NULL, M);
    float *xbuf = dev_from(NULL, (size_t)M * K + (size_t)x_off);
    C->upload(C, xbuf + x_off, x, (size_t)M * K * sizeof(float));
    float *yd = dev_from(NULL, (size_t)M * N);
    C->matmul(C, yd, xbuf + x_off, &w.wc, with_bias ? &b.wc : NULL, M);
    float *yc = host_from(yd, (size_t)M * N);
    char name[128];
    snprintf(name, sizeof name, "matmul %s M=%d N=%d K=%d bias=%d xoff=%d", jn_dtype_name(type), M, N, K, with_bias,
             x_off);
    tu_close(name, yc, yr, (size_t)M * N, M > 16 ? gemm_abs : 2e-4, M > 16 ? gemm_rel : 1e-5);
    C->free(C, xbuf);
    C->free(C, yd);
    free(x);
    free(yr);
    free(yc);
    tw_free(&w);
    if (with_bias) tw_free(&b);
}

static void t_get_rows(jn_dtype type, int N, int K, int n) {
    int64_t ws[2] = {N, K};
    tw w;
    tw_make(&w, type, 2, ws, 1.0f);
    int32_t *ids = (int32_t *)malloc((size_t)n * sizeof(int32_t));
    for (int i = 0; i < n; i++) ids[i] = (int32_t)((i * 7919u + 3u) % (unsigned)N);
    float *yr = (float *)calloc((size_t)n * K, sizeof(float));
    R->get_rows(R, yr, &w.wr, ids, n);
    float *yd = dev_from(NULL, (size_t)n * K);
    C->get_rows(C, yd, &w.wc, ids, n);
    memset(ids, 0, (size_t)n * sizeof(int32_t)); /* the host array may be reused right away */
    float *yc = host_from(yd, (size_t)n * K);
    char name[96];
    snprintf(name, sizeof name, "get_rows %s n=%d K=%d", jn_dtype_name(type), n, K);
    tu_close(name, yc, yr, (size_t)n * K, 0.0, 0.0);
    C->free(C, yd);
    free(ids);
    free(yr);
    free(yc);
    tw_free(&w);
}

static void t_norms(void) {
    int M = 7, N = 300;
    int64_t s[1] = {N};
    tw g, b;
    tw_make(&g, JN_F32, 1, s, 1.0f);
    tw_make(&b, JN_F32, 1, s, 1.0f);
    float *x = rnd((size_t)M * N, 3.0f), *yr = (float *)malloc((size_t)M * N * sizeof(float));
    float *xd = dev_from(x, (size_t)M * N), *yd = dev_from(NULL, (size_t)M * N);

    R->rms_norm(R, yr, x, &g.wr, M, N, 1e-6f);
    C->rms_norm(C, yd, xd, &g.wc, M, N, 1e-6f);
    float *yc = host_from(yd, (size_t)M * N);
    tu_close("rms_norm", yc, yr, (size_t)M * N, 1e-5, 1e-6);
    free(yc);

    R->layer_norm(R, yr, x, &g.wr, &b.wr, M, N, 1e-6f);
    C->layer_norm(C, yd, xd, &g.wc, &b.wc, M, N, 1e-6f);
    yc = host_from(yd, (size_t)M * N);
    tu_close("layer_norm", yc, yr, (size_t)M * N, 1e-5, 1e-6);
    free(yc);

    R->layer_norm(R, yr, x, &g.wr, NULL, M, N, 1e-5f);
    C->layer_norm(C, xd, xd, &g.wc, NULL, M, N, 1e-5f); /* in place */
    yc = host_from(xd, (size_t)M * N);
    tu_close("layer_norm in place, no bias", yc, yr, (size_t)M * N, 1e-5, 1e-6);
    free(yc);
    C->free(C, xd);
    C->free(C, yd);
    free(x);
    free(yr);
    tw_free(&g);
    tw_free(&b);

    /* group norm: small and VQ-like (128 channels, 32 groups, offset mean) */
    int cases[2][3] = {{100, 64, 32}, {48 * 48, 128, 32}};
    for (int k = 0; k < 2; k++) {
        int HW = cases[k][0], Cc = cases[k][1], G = cases[k][2];
        int64_t cs[1] = {Cc};
        tw gw, gb;
        tw_make(&gw, JN_F32, 1, cs, 1.0f);
        tw_make(&gb, JN_F32, 1, cs, 1.0f);
        size_t n = (size_t)HW * Cc;
        float *gx = rnd(n, 2.0f);
        for (size_t i = 0; i < n; i++) gx[i] += 5.0f;
        float *gr = (float *)malloc(n * sizeof(float));
        R->group_norm(R, gr, gx, &gw.wr, &gb.wr, HW, Cc, G, 1e-6f);
        float *gd = dev_from(gx, n);
        C->group_norm(C, gd, gd, &gw.wc, &gb.wc, HW, Cc, G, 1e-6f); /* in place */
        float *gc = host_from(gd, n);
        char name[64];
        snprintf(name, sizeof name, "group_norm HW=%d C=%d G=%d", HW, Cc, G);
        tu_close(name, gc, gr, n, 2e-5, 2e-6);
        /* fused GroupNorm + SiLU against the ref composition */
        R->group_norm_silu(R, gr, gx, &gw.wr, &gb.wr, HW, Cc, G, 1e-6f);
        C->upload(C, gd, gx, n * sizeof(float));
        C->group_norm_silu(C, gd, gd, &gw.wc, &gb.wc, HW, Cc, G, 1e-6f);
        free(gc);
        gc = host_from(gd, n);
        snprintf(name, sizeof name, "group_norm_silu HW=%d C=%d G=%d", HW, Cc, G);
        tu_close(name, gc, gr, n, 2e-5, 2e-6);
        C->free(C, gd);
        free(gx);
        free(gr);
        free(gc);
        tw_free(&gw);
        tw_free(&gb);
    }
}

static void t_rope(void) {
    int n_seq = 2, n_tok = 5, n_head = 3, d = 64, ld = n_head * d + 16;
    int32_t pos0[2] = {0, 1000};
    size_t n = (size_t)n_seq * n_tok * ld;
    float *x = rnd(n, 1.0f), *xr = (float *)malloc(n * sizeof(float));
    memcpy(xr, x, n * sizeof(float));
    R->rope(R, xr, n_seq, n_tok, n_head, d, ld, pos0, 10000.0f);
    float *xd = dev_from(x, n);
    C->rope(C, xd, n_seq, n_tok, n_head, d, ld, pos0, 10000.0f);
    float *xc = host_from(xd, n);
    tu_close("rope (pos 0 and 1000, padded rows)", xc, xr, n, 2e-5, 2e-6);
    C->free(C, xd);
    free(x);
    free(xr);
    free(xc);
}

static void t_attention(int n_seq, int n_q, int n_kv, int n_head, int d, int causal) {
    int ldq = n_head * d + 8, ldkv = n_head * d, ldo = n_head * d + 4, n_ctx = n_kv + 3;
    size_t seq_stride = (size_t)n_ctx * ldkv;
    size_t nq = (size_t)n_seq * n_q * ldq, nkv = (size_t)n_seq * seq_stride, no = (size_t)n_seq * n_q * ldo;
    float *q = rnd(nq, 1.0f), *k = rnd(nkv, 1.0f), *v = rnd(nkv, 1.0f);
    float *oref = (float *)calloc(no, sizeof(float));
    float scale = 1.0f / sqrtf((float)d) * 2.0f; /* sharper than usual: stresses the softmax */
    R->attention(R, oref, q, k, v, n_seq, n_q, n_kv, n_head, d, ldq, ldkv, seq_stride, ldo, causal, scale);
    float *qd = dev_from(q, nq), *kd = dev_from(k, nkv), *vd = dev_from(v, nkv), *od = dev_from(NULL, no);
    C->attention(C, od, qd, kd, vd, n_seq, n_q, n_kv, n_head, d, ldq, ldkv, seq_stride, ldo, causal, scale);
    float *oc = host_from(od, no);
    char name[128];
    snprintf(name, sizeof name, "attention seq=%d q=%d kv=%d heads=%d d=%d causal=%d", n_seq, n_q, n_kv, n_head, d,
             causal);
    tu_close(name, oc, oref, no, 1e-5, 1e-5);
    C->free(C, qd);
    C->free(C, kd);
    C->free(C, vd);
    C->free(C, od);
    free(q);
    free(k);
    free(v);
    free(oref);
    free(oc);
}

static void t_elementwise(void) {
    size_t n = 1001;
    float *a = rnd(n, 6.0f), *b = rnd(n, 2.0f), *yr = (float *)malloc(n * sizeof(float));
    float *ad = dev_from(a, n), *bd = dev_from(b, n), *yd = dev_from(NULL, n), *yc;
#define EW(label, rcall, ccall)            \
    do {                                   \
        rcall;                             \
        ccall;                             \
        yc = host_from(yd, n);             \
        tu_close(label, yc, yr, n, 2e-6, 1e-6); \
        free(yc);                          \
    } while (0)
    EW("add", R->add(R, yr, a, b, n), C->add(C, yd, ad, bd, n));
    EW("mul", R->mul(R, yr, a, b, n), C->mul(C, yd, ad, bd, n));
    EW("scale", R->scale(R, yr, a, -0.37f, n), C->scale(C, yd, ad, -0.37f, n));
    EW("gelu", R->gelu(R, yr, a, n), C->gelu(C, yd, ad, n));
    EW("silu", R->silu(R, yr, a, n), C->silu(C, yd, ad, n));
    EW("swiglu", R->swiglu(R, yr, a, b, n), C->swiglu(C, yd, ad, bd, n));
#undef EW
    /* copy2d: 7 rows × 13 cols from stride 20 into stride 16 */
    float *cr = (float *)calloc(7 * 16, sizeof(float));
    R->copy2d(R, cr, 16, a, 20, 7, 13);
    float *cd = dev_from(NULL, 7 * 16);
    C->copy2d(C, cd, 16, ad, 20, 7, 13);
    float *cc = host_from(cd, 7 * 16);
    tu_close("copy2d", cc, cr, 7 * 16, 0.0, 0.0);
    /* upsample2x: [5, 3, 7] → [10, 6, 7] */
    float *ur = (float *)malloc(4 * 5 * 3 * 7 * sizeof(float)), *ud = dev_from(NULL, 4 * 5 * 3 * 7);
    R->upsample2x(R, ur, a, 5, 3, 7);
    C->upsample2x(C, ud, ad, 5, 3, 7);
    float *uc = host_from(ud, 4 * 5 * 3 * 7);
    tu_close("upsample2x", uc, ur, 4 * 5 * 3 * 7, 0.0, 0.0);
    C->free(C, ad);
    C->free(C, bd);
    C->free(C, yd);
    C->free(C, cd);
    C->free(C, ud);
    free(a);
    free(b);
    free(yr);
    free(cr);
    free(cc);
    free(ur);
    free(uc);
}

static void t_conv(jn_dtype type, int Cout, int Cin, int kh, int kw, int H, int W, int stride, int pad, int bias,
                   int n_dims) {
    int64_t ws[4] = {Cout, Cin, kh, kw}, bs[1] = {Cout};
    tw w, b;
    tw_make(&w, type, n_dims, ws, 0.3f);
    if (bias) tw_make(&b, JN_F32, 1, bs, 0.5f);
    int Ho = (H + 2 * pad - kh) / stride + 1, Wo = (W + 2 * pad - kw) / stride + 1;
    size_t nx = (size_t)H * W * Cin, ny = (size_t)Ho * Wo * Cout;
    float *x = rnd(nx, 1.0f), *yr = (float *)calloc(ny, sizeof(float));
    R->conv2d(R, yr, x, &w.wr, bias ? &b.wr : NULL, H, W, stride, pad);
    float *xd = dev_from(x, nx), *yd = dev_from(NULL, ny);
    C->conv2d(C, yd, xd, &w.wc, bias ? &b.wc : NULL, H, W, stride, pad);
    float *yc = host_from(yd, ny);
    char name[128];
    snprintf(name, sizeof name, "conv2d %s [%d,%d,%d,%d] on %dx%d stride %d pad %d", jn_dtype_name(type), Cout, Cin,
             kh, kw, H, W, stride, pad);
    tu_close(name, yc, yr, ny, conv_abs, conv_rel);
    C->free(C, xd);
    C->free(C, yd);
    free(x);
    free(yr);
    free(yc);
    tw_free(&w);
    if (bias) tw_free(&b);
}


/* ---------------------------------------------------------------- optional timings */

/* JANUS_CUDA_BENCH=1: prints per-call times of the hot ops at Janus sizes (not a test). */
static double time_it(void (*fn)(void *), void *ctx, int reps) {
    fn(ctx); /* warm-up (scratch growth, cuBLAS heuristics) */
    C->synchronize(C);
    double t0 = jn_time_s();
    for (int i = 0; i < reps; i++) fn(ctx);
    C->synchronize(C);
    return (jn_time_s() - t0) / reps;
}
typedef struct {
    float *y, *x;
    jn_weight *w;
    int M;
} mm_ctx;
static void mm_run(void *p) {
    mm_ctx *c = (mm_ctx *)p;
    C->matmul(C, c->y, c->x, c->w, NULL, c->M);
}
typedef struct {
    float *o, *q, *k, *v;
    int n_seq, n_q, n_kv, n_head, d, causal;
} at_ctx;
static void at_run(void *p) {
    at_ctx *a = (at_ctx *)p;
    int ld = a->n_head * a->d;
    C->attention(C, a->o, a->q, a->k, a->v, a->n_seq, a->n_q, a->n_kv, a->n_head, a->d, ld, ld,
                 (size_t)a->n_kv * ld, ld, a->causal, 0.088f);
}
typedef struct {
    float *y, *x;
    jn_weight *w, *b;
    int H;
} cv_ctx;
static void cv_run(void *p) {
    cv_ctx *c = (cv_ctx *)p;
    C->conv2d(C, c->y, c->x, c->w, c->b, c->H, c->H, 1, 1);
}
static void gn_run(void *p) {
    cv_ctx *c = (cv_ctx *)p;
    C->group_norm(C, c->y, c->x, c->b, c->b, c->H * c->H, 128, 32, 1e-6f);
}

static void bench(void) {
    const jn_dtype types[5] = {JN_F32, JN_F16, JN_BF16, JN_Q8_0, JN_Q4_0};
    int shapes[3][2] = {{4096, 4096}, {16384, 2048}, {11008, 4096}};
    for (int s = 0; s < 3; s++)
        for (int t = 0; t < 5; t++) {
            int N = shapes[s][0], K = shapes[s][1];
            int64_t ws[2] = {N, K};
            tw w;
            tw_make(&w, types[t], 2, ws, 0.5f);
            float *x = dev_from(NULL, (size_t)600 * K), *y = dev_from(NULL, (size_t)600 * N);
            int Ms[5] = {1, 2, 16, 32, 600};
            for (int m = 0; m < 5; m++) {
                mm_ctx c = {y, x, &w.wc, Ms[m]};
                double dt = time_it(mm_run, &c, Ms[m] >= 32 ? 5 : 50);
                fprintf(stderr, "bench matmul %-4s N=%5d K=%5d M=%3d: %8.1f us  %7.1f GB/s(W)  %7.2f TFLOP/s\n",
                        jn_dtype_name(types[t]), N, K, Ms[m], dt * 1e6, (double)w.wc.nbytes / dt * 1e-9,
                        2.0 * Ms[m] * N * K / dt * 1e-12);
            }
            C->free(C, x);
            C->free(C, y);
            tw_free(&w);
        }
    int ac[4][6] = {{1, 576, 576, 1, 512, 0}, {1, 576, 576, 16, 64, 0}, {2, 600, 600, 16, 128, 1}, {2, 1, 1000, 32, 128, 1}};
    for (int i = 0; i < 4; i++) {
        at_ctx a = {0};
        a.n_seq = ac[i][0];
        a.n_q = ac[i][1];
        a.n_kv = ac[i][2];
        a.n_head = ac[i][3];
        a.d = ac[i][4];
        a.causal = ac[i][5];
        size_t ld = (size_t)a.n_head * a.d;
        a.q = dev_from(NULL, a.n_seq * a.n_q * ld);
        a.o = dev_from(NULL, a.n_seq * a.n_q * ld);
        a.k = dev_from(NULL, a.n_seq * a.n_kv * ld);
        a.v = dev_from(NULL, a.n_seq * a.n_kv * ld);
        double dt = time_it(at_run, &a, 10);
        fprintf(stderr, "bench attention seq=%d q=%d kv=%d heads=%d d=%d causal=%d: %8.1f us\n", a.n_seq, a.n_q,
                a.n_kv, a.n_head, a.d, a.causal, dt * 1e6);
        C->free(C, a.q);
        C->free(C, a.o);
        C->free(C, a.k);
        C->free(C, a.v);
    }
    {
        int64_t ws[4] = {128, 128, 3, 3}, bs[1] = {128};
        tw w, b;
        tw_make(&w, JN_F16, 4, ws, 0.1f);
        tw_make(&b, JN_F32, 1, bs, 0.1f);
        cv_ctx c = {dev_from(NULL, (size_t)384 * 384 * 128), dev_from(NULL, (size_t)384 * 384 * 128), &w.wc, &b.wc, 384};
        double dt = time_it(cv_run, &c, 3);
        fprintf(stderr, "bench conv2d f16 3x3 128->128 on 384x384: %8.1f us  %.2f TFLOP/s\n", dt * 1e6,
                2.0 * 384 * 384 * 128 * 1152 / dt * 1e-12);
        dt = time_it(gn_run, &c, 5);
        fprintf(stderr, "bench group_norm 384x384x128 G=32: %8.1f us\n", dt * 1e6);
        C->free(C, c.x);
        C->free(C, c.y);
        tw_free(&w);
        tw_free(&b);
    }
}

/* attention over f16/bf16 K/V caches (written with copy2d_kv) against the ref backend's
 * attention_kv: the same rounded inputs, f32 arithmetic on both sides */
static void t_attention_kv(jn_dtype kt, int n_seq, int n_q, int n_kv, int n_head, int d_head, int causal) {
    const int w = n_head * d_head;
    const size_t nq = (size_t)n_seq * n_q * w, nkv = (size_t)n_seq * n_kv * w;
    float *q = rnd(nq, 1.0f), *k = rnd(nkv, 1.0f), *v = rnd(nkv, 1.0f), *outr = calloc(nq, sizeof(float));
    uint16_t *kh = malloc(nkv * 2), *vh = malloc(nkv * 2);
    R->copy2d_kv(R, kh, kt, w, k, w, n_seq * n_kv, w, NULL);
    R->copy2d_kv(R, vh, kt, w, v, w, n_seq * n_kv, w, NULL);
    const float sc = 1.0f / sqrtf((float)d_head);
    R->attention_kv(R, outr, q, kh, vh, kt, n_seq, n_q, n_kv, n_head, d_head, w, w, (size_t)n_kv * w, w, causal, sc, NULL);
    float *qd = dev_from(q, nq), *kd = dev_from(k, nkv), *vd = dev_from(v, nkv), *od = dev_from(NULL, nq);
    void *khd = C->alloc(C, nkv * 2), *vhd = C->alloc(C, nkv * 2);
    C->copy2d_kv(C, khd, kt, w, kd, w, n_seq * n_kv, w, NULL);
    C->copy2d_kv(C, vhd, kt, w, vd, w, n_seq * n_kv, w, NULL);
    uint16_t *khc = malloc(nkv * 2);
    C->download(C, khc, khd, nkv * 2);
    TU_CHECK(memcmp(khc, kh, nkv * 2) == 0, "copy2d_kv %s: device rounding == host rounding", jn_dtype_name(kt));
    C->attention_kv(C, od, qd, khd, vhd, kt, n_seq, n_q, n_kv, n_head, d_head, w, w, (size_t)n_kv * w, w, causal, sc,
                    NULL);
    float *oc = host_from(od, nq);
    char name[128];
    snprintf(name, sizeof name, "attention_kv %s seq %d q %d kv %d heads %d d %d causal %d", jn_dtype_name(kt), n_seq,
             n_q, n_kv, n_head, d_head, causal);
    tu_close(name, oc, outr, nq, 2e-5, 2e-6);
    C->free(C, qd);
    C->free(C, kd);
    C->free(C, vd);
    C->free(C, od);
    C->free(C, khd);
    C->free(C, vhd);
    free(q);
    free(k);
    free(v);
    free(outr);
    free(kh);
    free(vh);
    free(khc);
    free(oc);
}

/* conv2d through cuDNN against the own im2col path (both f32 FMA: a few ulps apart) */
static void t_conv_engines(void) {
    jn_error err = {0};
    char info[512];
    if (jn_backend_cuda_set(C, "cudnn", "on", &err) != JN_OK) {
        fprintf(stderr, "skip cuDNN comparison: %s\n", err.msg);
        TU_CHECK(jn_backend_cuda_set(C, "cudnn", "auto", &err) == JN_OK, "%s", err.msg);
        return;
    }
    jn_backend_cuda_describe(C, info, sizeof info);
    fprintf(stderr, "%s\n", info);
    TU_CHECK(strstr(info, "cuDNN") != NULL, "describe names cuDNN: %s", info);
    struct {
        jn_dtype t;
        int Cout, Cin, k, H, W, stride, pad;
    } cs[] = {{JN_F32, 128, 128, 3, 24, 24, 1, 1}, {JN_BF16, 64, 32, 3, 17, 13, 2, 1}, {JN_F16, 32, 3, 4, 16, 16, 4, 0},
              {JN_Q8_0, 8, 32, 3, 11, 10, 2, 1}};
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        int64_t ws[4] = {cs[i].Cout, cs[i].Cin, cs[i].k, cs[i].k}, bs[1] = {cs[i].Cout};
        tw w, b;
        tw_make(&w, cs[i].t, 4, ws, 0.3f);
        tw_make(&b, JN_F32, 1, bs, 0.5f);
        int Ho = (cs[i].H + 2 * cs[i].pad - cs[i].k) / cs[i].stride + 1;
        int Wo = (cs[i].W + 2 * cs[i].pad - cs[i].k) / cs[i].stride + 1;
        size_t nx = (size_t)cs[i].H * cs[i].W * cs[i].Cin, ny = (size_t)Ho * Wo * cs[i].Cout;
        float *x = rnd(nx, 1.0f);
        float *xd = dev_from(x, nx), *y1 = dev_from(NULL, ny), *y2 = dev_from(NULL, ny);
        jn_backend_cuda_set(C, "cudnn", "on", &err);
        C->conv2d(C, y1, xd, &w.wc, &b.wc, cs[i].H, cs[i].W, cs[i].stride, cs[i].pad);
        jn_backend_cuda_set(C, "cudnn", "off", &err);
        C->conv2d(C, y2, xd, &w.wc, &b.wc, cs[i].H, cs[i].W, cs[i].stride, cs[i].pad);
        float *h1 = host_from(y1, ny), *h2 = host_from(y2, ny);
        char name[128];
        snprintf(name, sizeof name, "conv2d cuDNN vs own %s [%d,%d,%d,%d] on %dx%d stride %d", jn_dtype_name(cs[i].t),
                 cs[i].Cout, cs[i].Cin, cs[i].k, cs[i].k, cs[i].H, cs[i].W, cs[i].stride);
        tu_close(name, h1, h2, ny, 1e-4, 1e-6);
        C->free(C, xd);
        C->free(C, y1);
        C->free(C, y2);
        free(x);
        free(h1);
        free(h2);
        tw_free(&w);
        tw_free(&b);
    }
    TU_CHECK(jn_backend_cuda_set(C, "cudnn", "maybe", &err) == JN_ERR_USAGE, "bad cudnn value refused");
    TU_CHECK(jn_backend_cuda_set(C, "cudnn", "auto", &err) == JN_OK, "%s", err.msg);
}

int main(void) {
    /* a CUDA build finds its dlopen'ed libraries without a device too: every entry point resolves */
    jn_error lib_err = {0};
    jn_status lib_st = jn_backend_cuda_load_libraries(&lib_err);
    if (lib_st != JN_ERR_USAGE && lib_st != JN_OK) {
        fprintf(stderr, "FAIL %s\n", lib_err.msg);
        return 1;
    }
    if (lib_st == JN_OK) fprintf(stderr, "cuBLAS and cuBLASLt loaded, every entry point found\n");
    if (!jn_backend_cuda_available()) {
        fprintf(stderr, "skip: no CUDA device (or built without CUDA)\n");
        return 77;
    }
    jn_error err = {0};
    R = jn_backend_ref_create(&err);
    C = jn_backend_cuda_create(0, &err);
    if (!R || !C) {
        fprintf(stderr, "FAIL backend create: %s\n", err.msg);
        return 1;
    }
    char info[512];
    jn_backend_cuda_describe(C, info, sizeof info);
    fprintf(stderr, "%s\n", info);

    const jn_dtype types[5] = {JN_F32, JN_F16, JN_BF16, JN_Q8_0, JN_Q4_0};
    const int Ms[6] = {1, 2, 5, 16, 17, 64};
    for (int t = 0; t < 5; t++)
        for (int m = 0; m < 6; m++) t_matmul(types[t], Ms[m], 67, 256, m % 2, 0);
    for (int t = 0; t < 5; t++) t_matmul(types[t], 2, 33, 96, 1, 1); /* unaligned x: generic GEMV */
    for (int t = 0; t < 3; t++) {                                      /* K not a multiple of 8 */
        t_matmul(types[t], 3, 19, 100, 1, 0);
        t_matmul(types[t], 40, 19, 100, 0, 0);
    }
    t_matmul(JN_BF16, 2, 2048, 2048, 0, 0); /* LM-sized decode row */
    t_matmul(JN_Q8_0, 300, 512, 1024, 1, 0);

    for (int t = 0; t < 5; t++) {
        t_get_rows(types[t], 50, 64, 5);
        t_get_rows(types[t], 50, 64, 300); /* ids uploaded */
    }
    t_norms();
    t_rope();

    t_attention(2, 37, 37, 3, 64, 1);  /* prefill, causal, 2 sequences */
    t_attention(1, 20, 45, 1, 512, 0); /* VQ-like single wide head, not causal */
    t_attention(2, 1, 300, 4, 128, 1); /* decode */
    t_attention(2, 3, 70, 2, 16, 1);   /* decode kernel, several queries, tiny head */
    t_attention(1, 100, 100, 2, 80, 0);
    t_attention(1, 9, 5, 1, 32, 1); /* more queries than keys: early queries see nothing */
    t_attention(1, 3, 1, 2, 64, 1);    /* decode kernel, queries 0 and 1 see no key */
    t_attention(2, 4, 130, 3, 256, 1); /* decode kernel split over blocks, wide head */
    t_attention(1, 1, 2000, 2, 128, 0); /* long context decode */

    for (int t = 0; t < 2; t++) {
        const jn_dtype kt = t ? JN_BF16 : JN_F16;
        t_attention_kv(kt, 2, 1, 300, 4, 128, 1); /* decode */
        t_attention_kv(kt, 4, 1, 700, 16, 64, 1); /* decode, CFG rows, 1B-like heads */
        t_attention_kv(kt, 1, 37, 37, 3, 64, 1);  /* prefill */
        t_attention_kv(kt, 1, 20, 45, 1, 512, 0); /* VQ-like wide head */
    }

    t_elementwise();

    t_conv(JN_F16, 12, 8, 3, 3, 9, 7, 1, 1, 1, 4);
    t_conv(JN_F32, 5, 16, 1, 1, 6, 4, 1, 0, 1, 4);
    t_conv(JN_F32, 5, 16, 1, 1, 6, 4, 1, 0, 0, 2); /* [Cout, Cin] weight as 1×1 */
    t_conv(JN_BF16, 32, 3, 4, 4, 16, 16, 4, 0, 1, 4);
    t_conv(JN_Q8_0, 8, 32, 3, 3, 11, 10, 2, 1, 1, 4);
    t_conv_engines();

    /* tensor cores: the large-M matmuls and the convolutions again with bf16 / f16 GEMMs. Bounds:
     * x and W each rounded to 8 (bf16) / 11 (f16) significant bits, K ≤ 1024 terms of random sign:
     * relative L2 error ≈ 2·2^-9·… ≈ 3e-3 (bf16), 4e-4 (f16); the limits are ~3x that. To be
     * replaced by the measured values from the first run on a device (docs/cuda.md). */
    const char *modes[2] = {"bf16", "f16"};
    const double rels[2] = {1e-2, 1.5e-3}, abss[2] = {0.15, 0.02};
    for (int q = 0; q < 2; q++) {
        TU_CHECK(jn_backend_cuda_set(C, "gemm", modes[q], &err) == JN_OK, "%s", err.msg);
        gemm_rel = conv_rel = rels[q];
        gemm_abs = conv_abs = abss[q];
        fprintf(stderr, "-- GEMM precision %s\n", modes[q]);
        for (int t = 0; t < 5; t++) t_matmul(types[t], 64, 67, 256, 1, 0);
        t_matmul(JN_F32, 40, 19, 100, 0, 0); /* K % 8 != 0: the FP32 fallback */
        t_matmul(JN_Q8_0, 300, 512, 1024, 1, 0);
        t_matmul(JN_BF16, 33, 2048, 2048, 0, 0);
        t_conv(JN_F16, 12, 8, 3, 3, 9, 7, 1, 1, 1, 4);
        t_conv(JN_BF16, 32, 3, 4, 4, 16, 16, 4, 0, 1, 4);
        t_conv(JN_F32, 5, 16, 1, 1, 6, 4, 1, 0, 1, 4);
    }
    TU_CHECK(jn_backend_cuda_set(C, "gemm", "f32", &err) == JN_OK, "%s", err.msg);
    TU_CHECK(jn_backend_cuda_set(C, "gemm", "tf32", &err) == JN_ERR_USAGE, "unknown precision refused");
    TU_CHECK(jn_backend_cuda_set(R, "gemm", "bf16", &err) == JN_ERR_USAGE, "ref backend has no GEMM precision");
    gemm_abs = 2e-4, gemm_rel = 1e-5, conv_abs = 1e-4, conv_rel = 1e-5;

    const char *bn = getenv("JANUS_CUDA_BENCH");
    if (bn && *bn == '1') bench();

    C->synchronize(C);
    jn_error e2 = {0};
    TU_CHECK(jn_backend_cuda_last_error(C, &e2) == JN_OK, "unexpected CUDA error: %s", e2.msg);
    TU_CHECK(jn_backend_cuda_last_error(R, &e2) == JN_OK, "ref backend must report JN_OK");

    /* a failure is recorded, sticky and reported with its cause */
    C->attention(C, NULL, NULL, NULL, NULL, 1, 1, 1, 1, 1024, 1024, 1024, 0, 1024, 0, 1.0f);
    TU_CHECK(jn_backend_cuda_last_error(C, &e2) != JN_OK && strstr(e2.msg, "d_head") != NULL,
             "expected a recorded d_head error, got '%s'", e2.msg);

    C->destroy(C);
    R->destroy(R);
    fprintf(stderr, "%s\n", tu_failures ? "FAILED" : "all ok");
    return TU_RESULT();
}
