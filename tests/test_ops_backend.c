// janus-test-libs: janus_engine
/* tests/test_ops_backend.c — every op of every available backend against engine/ref on random
 * inputs over a sweep of shapes and weight dtypes (ggml test-backend-ops style).
 *
 * Backends under test: cpu with 1, 2 and 3 threads (the best ISA of the machine: AVX-512 or
 * AVX2), cpu forced to AVX2 (JANUS_CPU_ISA=avx2) with 1 and 2 threads and with VNNI off, cpu with
 * the scalar fallback forced (JANUS_CPU_ISA=scalar) with 1 and 2 threads, and cuda when
 * jn_backend_cuda_create succeeds. The packed q4_0/q8_0 matmul (every SIMD path) must equal the
 * scalar path bit for bit, and a weight packed by one instance must give the same results on
 * instances of the other ISAs (weights shared between sessions). Everything goes through be->alloc/upload/download/weight_upload
 * so device backends run the same code. Checks:
 *   - each backend vs ref: NMSE = Σ(got−ref)²/Σref² and max|got−ref| / max|ref| within a per-op,
 *     per-dtype tolerance (set ~10× above the values measured on AVX2 and scalar paths);
 *   - cpu 1 vs 2 vs 3 threads (and avx2 1 vs 2, scalar 1 vs 2) bit-identical for every op;
 *   - in-place calls (y == x) equal the out-of-place result where the contract allows it.
 * Prints the worst NMSE / max-rel per op class at the end. Exit 0 pass, 1 fail. */
#define _POSIX_C_SOURCE 200809L
#include "engine/backend.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- backends */

enum { B_REF, B_CPU1, B_CPU2, B_CPU3, B_AVX1, B_AVX2, B_NOVNNI, B_SC1, B_SC2, B_CUDA, B_MAX };
static jn_backend *g_be[B_MAX];
static const char *g_bname[B_MAX] = {"ref", "cpu1", "cpu2", "cpu3", "avx2-1", "avx2-2", "avx2-novnni", "scalar1",
                                     "scalar2", "cuda"};
static int g_avx512; /* the best-ISA cpu backends run the AVX-512 kernels */

/* ---------------------------------------------------------------- random */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static float frand(void) { /* uniform [-1, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}
static float *rand_vec(size_t n, float scale, float offset) {
    float *v = (float *)malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = frand() * scale + offset;
    return v;
}

/* ---------------------------------------------------------------- stats */

/* op classes for the summary / tolerances */
typedef struct tol {
    const char *cls;
    double nmse;     /* max NMSE */
    double rel;      /* max |got − ref| / max |ref| */
    double worst_nmse, worst_rel; /* measured, over all backends */
} tol;

/* Tolerances: ~4-10× the worst values measured over all cpu variants (AVX2 and scalar) on this
 * sweep (measured: float matmul/attention nmse ≤ 6.6e-13, max_rel ≤ 1.3e-6, conv2d (one FMA chain over K = 5400) 1.35e-12 / 2e-6; q8_0/q4_0
 * (x quantized to q8) nmse ≤ 2.9e-5, max_rel ≤ 6.5e-3; norms 7e-14 / 2.7e-7; gelu 1e-13 / 3.2e-7 (a one-element input: 3 ulps);
 * silu/swiglu 1e-14 / 1e-7; rope, get_rows, add/mul/scale, copies exact). */
static tol g_tol[] = {
    {"matmul f32", 4e-12, 1e-5, 0, 0},
    {"matmul f16", 4e-12, 1e-5, 0, 0},
    {"matmul bf16", 4e-12, 1e-5, 0, 0},
    {"matmul q8_0", 1e-4, 3e-2, 0, 0},
    {"matmul q4_0", 1e-4, 3e-2, 0, 0},
    {"get_rows", 0, 0, 0, 0},
    {"norm", 1e-12, 3e-6, 0, 0},
    {"rope", 1e-12, 1e-6, 0, 0}, /* cpu is bit-exact (same f32 formula); slack for device sin/cos */
    {"attention", 4e-12, 1e-5, 0, 0},
    {"add/mul/scale", 0, 0, 0, 0},
    {"gelu", 2.5e-13, 5e-7, 0, 0}, /* a few f32 ulps; a one-element input's nmse is max_rel² (3.2e-7 seen: 3 ulps) */
    {"silu/swiglu", 1e-13, 1e-6, 0, 0},
    {"copy2d/upsample", 0, 0, 0, 0},
    {"conv2d float", 4e-12, 1e-5, 0, 0},
    {"conv2d q8_0", 1e-4, 3e-2, 0, 0},
    {"conv2d q4_0", 1e-4, 3e-2, 0, 0},
};
#define N_TOL ((int)(sizeof g_tol / sizeof g_tol[0]))

static tol *find_tol(const char *cls) {
    for (int i = 0; i < N_TOL; i++)
        if (!strcmp(g_tol[i].cls, cls)) return &g_tol[i];
    fprintf(stderr, "test bug: unknown class %s\n", cls);
    exit(1);
}

static int g_cases = 0;

/* outs[b]: host copies of each backend's output (NULL = backend absent); n floats */
static void check(const char *cls, const char *what, float **outs, size_t n) {
    tol *t = find_tol(cls);
    g_cases++;
    const float *ref = outs[B_REF];
    double ref_max = 0.0, ref_ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(ref[i]) > ref_max) ref_max = fabs(ref[i]);
        ref_ss += (double)ref[i] * ref[i];
    }
    for (int b = 1; b < B_MAX; b++) {
        if (!outs[b]) continue;
        double ss = 0.0, mx = 0.0;
        size_t worst = 0;
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            double d = (double)outs[b][i] - ref[i];
            if (!isfinite(outs[b][i]) && isfinite(ref[i])) bad = 1;
            ss += d * d;
            if (fabs(d) > mx) {
                mx = fabs(d);
                worst = i;
            }
        }
        double nmse = ref_ss > 0 ? ss / ref_ss : ss;
        double rel = ref_max > 0 ? mx / ref_max : mx;
        /* cuda may reorder float sums differently (f32, atomics-free): 10× the cpu tolerance */
        double k = b == B_CUDA ? 10.0 : 1.0;
        if (nmse > t->worst_nmse) t->worst_nmse = nmse;
        if (rel > t->worst_rel) t->worst_rel = rel;
        if (bad || nmse > t->nmse * k || rel > t->rel * k) {
            fprintf(stderr, "FAIL %s [%s] %s: nmse=%.3g (tol %.3g) max_rel=%.3g (tol %.3g) worst i=%zu got=%.9g ref=%.9g\n",
                    cls, g_bname[b], what, nmse, t->nmse * k, rel, t->rel * k, worst, outs[b][worst], ref[worst]);
            tu_failures++;
        }
    }
    /* thread-count invariance: bit-identical */
    const int groups[3][3] = {{B_CPU1, B_CPU2, B_CPU3}, {B_AVX1, B_AVX2, -1}, {B_SC1, B_SC2, -1}};
    for (int g = 0; g < 3; g++)
        for (int j = 1; j < 3; j++) {
            int a = groups[g][0], b = groups[g][j];
            if (b < 0 || !outs[a] || !outs[b]) continue;
            if (memcmp(outs[a], outs[b], n * sizeof(float)) != 0) {
                size_t i = 0;
                while (i < n && memcmp(&outs[a][i], &outs[b][i], sizeof(float)) == 0) i++;
                fprintf(stderr, "FAIL %s %s: %s and %s differ at %zu (%.9g vs %.9g): not thread-count invariant\n",
                        cls, what, g_bname[a], g_bname[b], i, outs[a][i], outs[b][i]);
                tu_failures++;
            }
        }
}

static void free_outs(float **outs) {
    for (int b = 0; b < B_MAX; b++) {
        free(outs[b]);
        outs[b] = NULL;
    }
}

/* ---------------------------------------------------------------- memory helpers */

static float *dev_from(jn_backend *be, const float *h, size_t n) {
    float *d = (float *)be->alloc(be, (n ? n : 1) * sizeof(float));
    TU_CHECK(d != NULL, "%s alloc %zu floats", be->name, n);
    if (!d) exit(1);
    be->upload(be, d, h, n * sizeof(float));
    return d;
}
static float *dev_zero(jn_backend *be, size_t n) {
    float *d = (float *)be->alloc(be, (n ? n : 1) * sizeof(float));
    if (!d) exit(1);
    be->memset0(be, d, n * sizeof(float));
    return d;
}
/* downloads n floats and frees the device buffer */
static float *take(jn_backend *be, float *d, size_t n) {
    float *h = (float *)malloc((n ? n : 1) * sizeof(float));
    be->download(be, h, d, n * sizeof(float));
    be->free(be, d);
    return h;
}

typedef struct tweight {
    jn_weight w;    /* host description (data = bytes) */
    void *bytes;
} tweight;

static tweight make_weight(jn_dtype t, int n_dims, const int64_t *shape, const float *vals) {
    tweight tw;
    memset(&tw, 0, sizeof tw);
    tw.w.name = "test";
    tw.w.type = t;
    tw.w.n_dims = n_dims;
    int64_t n = 1;
    for (int i = 0; i < 4; i++) {
        tw.w.shape[i] = i < n_dims ? shape[i] : 1;
        n *= tw.w.shape[i];
    }
    int64_t K = jn_weight_cols(&tw.w);
    size_t rb = jn_row_bytes(t, K);
    tw.w.nbytes = rb * (size_t)tw.w.shape[0];
    tw.bytes = malloc(tw.w.nbytes + 64);
    jn_from_f32_ref(t, vals, tw.bytes, n);
    tw.w.data = tw.bytes;
    return tw;
}
/* the backend's view of a weight (device copy on cuda) */
static jn_weight up(jn_backend *be, const tweight *tw) {
    jn_weight w = tw->w;
    jn_error err;
    jn_error_clear(&err);
    jn_status st = be->weight_upload(be, &w, &err);
    TU_CHECK(st == JN_OK, "%s weight_upload: %s", be->name, err.msg);
    if (st != JN_OK) exit(1);
    return w;
}

static const jn_dtype k_all_types[5] = {JN_F32, JN_F16, JN_BF16, JN_Q8_0, JN_Q4_0};

static const char *mm_cls(jn_dtype t) {
    switch (t) {
    case JN_F32: return "matmul f32";
    case JN_F16: return "matmul f16";
    case JN_BF16: return "matmul bf16";
    case JN_Q8_0: return "matmul q8_0";
    default: return "matmul q4_0";
    }
}

/* ---------------------------------------------------------------- matmul / get_rows */

/* the cpu variants (every ISA, every thread count) give identical bits */
static void check_cpu_bits_equal(const char *op, const char *what, float *const *outs, size_t n) {
    for (int b = B_CPU1; b <= B_SC2; b++)
        if (outs[b] && outs[B_SC1])
            TU_CHECK(memcmp(outs[b], outs[B_SC1], n * sizeof(float)) == 0, "%s %s: %s differs from scalar1", op, what,
                     g_bname[b]);
}

/* many_rows: the weight is marked as an encoder's (the cpu backend's panel GEMM for float types) */
static void test_matmul_w(int M, int K, int N, jn_dtype t, int with_bias, int many_rows) {
    float *x = rand_vec((size_t)M * K, 1.0f, 0.0f);
    float *wv = rand_vec((size_t)N * K, 0.5f, 0.0f);
    float *bv = rand_vec((size_t)N, 1.0f, 0.0f);
    int64_t ws[2] = {N, K}, bs[1] = {N};
    tweight W = make_weight(t, 2, ws, wv), B = make_weight(JN_F32, 1, bs, bv);
    W.w.many_rows = many_rows;
    float *outs[B_MAX] = {0};
    for (int b = 0; b < B_MAX; b++) {
        jn_backend *be = g_be[b];
        if (!be) continue;
        jn_weight w = up(be, &W), bias = up(be, &B);
        float *dx = dev_from(be, x, (size_t)M * K), *dy = dev_zero(be, (size_t)M * N);
        be->matmul(be, dy, dx, &w, with_bias ? &bias : NULL, M);
        outs[b] = take(be, dy, (size_t)M * N);
        be->free(be, dx);
        be->weight_release(be, &w);
        be->weight_release(be, &bias);
    }
    char what[96];
    snprintf(what, sizeof what, "M=%d K=%d N=%d bias=%d%s", M, K, N, with_bias, many_rows ? " many_rows" : "");
    check(mm_cls(t), what, outs, (size_t)M * N);
    const int quant = t == JN_Q8_0 || t == JN_Q4_0;
    /* the panel GEMM: one FMA chain per output whatever the ISA */
    if (many_rows && !quant) check_cpu_bits_equal("matmul", what, outs, (size_t)M * N);
    /* every packed kernel (AVX-512, AVX-VNNI, AVX2) does the scalar kernel's arithmetic on 2-D
     * q weights: identical bits on every cpu variant */
    for (int b = B_CPU1; quant && b <= B_NOVNNI; b++)
        if (outs[b] && outs[B_SC2])
            TU_CHECK(memcmp(outs[b], outs[B_SC2], (size_t)M * N * sizeof(float)) == 0,
                     "matmul %s %s: %s differs from scalar", jn_dtype_name(t), what, g_bname[b]);
    /* a weight uploaded (packed) by one instance, used by instances of other ISAs */
    if (quant && g_be[B_CPU2]) {
        jn_weight w = up(g_be[B_CPU2], &W), bias = up(g_be[B_CPU2], &B);
        const int users[3] = {B_AVX2, B_NOVNNI, B_SC1};
        for (int u = 0; u < 3; u++) {
            jn_backend *be = g_be[users[u]];
            if (!be || !outs[users[u]]) continue;
            float *dx = dev_from(be, x, (size_t)M * K), *dy = dev_zero(be, (size_t)M * N);
            be->matmul(be, dy, dx, &w, with_bias ? &bias : NULL, M);
            float *got = take(be, dy, (size_t)M * N);
            TU_CHECK(memcmp(got, outs[users[u]], (size_t)M * N * sizeof(float)) == 0,
                     "matmul %s %s: %s with a weight uploaded by cpu2 differs from its own upload", jn_dtype_name(t),
                     what, g_bname[users[u]]);
            free(got);
            be->free(be, dx);
        }
        g_be[B_CPU2]->weight_release(g_be[B_CPU2], &w);
        g_be[B_CPU2]->weight_release(g_be[B_CPU2], &bias);
    }

    /* batch invariance on cpu: row m of the M-row product equals a 1-row product */
    if (g_be[B_CPU2] && M > 1) {
        jn_backend *be = g_be[B_CPU2];
        int m = M - 1;
        jn_weight w = up(be, &W), bias = up(be, &B);
        float *dx = dev_from(be, x + (size_t)m * K, (size_t)K), *dy = dev_zero(be, (size_t)N);
        be->matmul(be, dy, dx, &w, with_bias ? &bias : NULL, 1);
        float *row = take(be, dy, (size_t)N);
        TU_CHECK(memcmp(row, outs[B_CPU2] + (size_t)m * N, (size_t)N * sizeof(float)) == 0,
                 "matmul %s %s: row %d differs between M=%d and M=1 (batch variance)", jn_dtype_name(t), what, m, M);
        free(row);
        be->free(be, dx);
        be->weight_release(be, &w);
        be->weight_release(be, &bias);
    }
    free_outs(outs);
    free(x);
    free(wv);
    free(bv);
    free(W.bytes);
    free(B.bytes);
}

static void test_matmul(int M, int K, int N, jn_dtype t, int with_bias) { test_matmul_w(M, K, N, t, with_bias, 0); }

static void test_get_rows(jn_dtype t) {
    int N = 37, K = 96;
    float *wv = rand_vec((size_t)N * K, 1.0f, 0.0f);
    int64_t ws[2] = {N, K};
    tweight W = make_weight(t, 2, ws, wv);
    int32_t ids[5] = {0, 36, 3, 3, 17};
    float *outs[B_MAX] = {0};
    for (int b = 0; b < B_MAX; b++) {
        jn_backend *be = g_be[b];
        if (!be) continue;
        jn_weight w = up(be, &W);
        float *dy = dev_zero(be, 5 * (size_t)K);
        be->get_rows(be, dy, &w, ids, 5);
        outs[b] = take(be, dy, 5 * (size_t)K);
        be->weight_release(be, &w);
    }
    check("get_rows", jn_dtype_name(t), outs, 5 * (size_t)K);
    free_outs(outs);
    free(wv);
    free(W.bytes);
}

/* ---------------------------------------------------------------- norms */

static void test_norms(int M, int N, float offset) {
    float *x = rand_vec((size_t)M * N, 2.0f, offset);
    float *g = rand_vec((size_t)N, 1.0f, 1.0f), *bb = rand_vec((size_t)N, 1.0f, 0.0f);
    int64_t s[1] = {N};
    tweight G = make_weight(JN_F32, 1, s, g), Bw = make_weight(JN_F32, 1, s, bb);
    char what[96];
    for (int kind = 0; kind < 3; kind++) {
        float *outs[B_MAX] = {0};
        for (int b = 0; b < B_MAX; b++) {
            jn_backend *be = g_be[b];
            if (!be) continue;
            jn_weight gw = up(be, &G), bw = up(be, &Bw);
            float *dx = dev_from(be, x, (size_t)M * N), *dy = dev_zero(be, (size_t)M * N);
            if (kind == 0) be->rms_norm(be, dy, dx, &gw, M, N, 1e-6f);
            else if (kind == 1) be->layer_norm(be, dy, dx, &gw, &bw, M, N, 1e-5f);
            else be->layer_norm(be, dy, dx, &gw, NULL, M, N, 1e-5f);
            outs[b] = take(be, dy, (size_t)M * N);
            if (b == B_CPU2) { /* in place equals out of place */
                if (kind == 0) be->rms_norm(be, dx, dx, &gw, M, N, 1e-6f);
                else be->layer_norm(be, dx, dx, &gw, kind == 1 ? &bw : NULL, M, N, 1e-5f);
                float *ip = take(be, dx, (size_t)M * N);
                TU_CHECK(memcmp(ip, outs[b], (size_t)M * N * sizeof(float)) == 0, "norm %d in place differs", kind);
                free(ip);
            } else {
                be->free(be, dx);
            }
            be->weight_release(be, &gw);
            be->weight_release(be, &bw);
        }
        snprintf(what, sizeof what, "%s M=%d N=%d offset=%g", kind == 0 ? "rms" : kind == 1 ? "layer" : "layer(no b)",
                 M, N, offset);
        check("norm", what, outs, (size_t)M * N);
        free_outs(outs);
    }
    free(x);
    free(g);
    free(bb);
    free(G.bytes);
    free(Bw.bytes);
}

static void test_group_norm(int HW, int C, int G, float offset) {
    float *x = rand_vec((size_t)HW * C, 2.0f, offset);
    float *g = rand_vec((size_t)C, 1.0f, 1.0f), *bb = rand_vec((size_t)C, 1.0f, 0.0f);
    int64_t s[1] = {C};
    tweight Gw = make_weight(JN_F32, 1, s, g), Bw = make_weight(JN_F32, 1, s, bb);
    float *outs[B_MAX] = {0};
    for (int b = 0; b < B_MAX; b++) {
        jn_backend *be = g_be[b];
        if (!be) continue;
        jn_weight gw = up(be, &Gw), bw = up(be, &Bw);
        float *dx = dev_from(be, x, (size_t)HW * C), *dy = dev_zero(be, (size_t)HW * C);
        be->group_norm(be, dy, dx, &gw, &bw, HW, C, G, 1e-6f);
        outs[b] = take(be, dy, (size_t)HW * C);
        if (b == B_CPU2) {
            be->group_norm(be, dx, dx, &gw, &bw, HW, C, G, 1e-6f);
            float *ip = take(be, dx, (size_t)HW * C);
            TU_CHECK(memcmp(ip, outs[b], (size_t)HW * C * sizeof(float)) == 0, "group_norm in place differs");
            free(ip);
        } else {
            be->free(be, dx);
        }
        be->weight_release(be, &gw);
        be->weight_release(be, &bw);
    }
    char what[96];
    snprintf(what, sizeof what, "group_norm HW=%d C=%d G=%d offset=%g", HW, C, G, offset);
    check("norm", what, outs, (size_t)HW * C);
    free_outs(outs);
    free(x);
    free(g);
    free(bb);
    free(Gw.bytes);
    free(Bw.bytes);
}

/* ---------------------------------------------------------------- rope / attention */

static void test_rope(int n_seq, int n_tok, int n_head, int d_head, int ld, int p0, int p1, float theta) {
    size_t n = (size_t)n_seq * n_tok * ld;
    float *x = rand_vec(n, 1.0f, 0.0f);
    int32_t pos0[2] = {p0, p1};
    float *outs[B_MAX] = {0};
    for (int b = 0; b < B_MAX; b++) {
        jn_backend *be = g_be[b];
        if (!be) continue;
        float *dx = dev_from(be, x, n);
        be->rope(be, dx, n_seq, n_tok, n_head, d_head, ld, pos0, theta);
        outs[b] = take(be, dx, n);
    }
    char what[96];
    snprintf(what, sizeof what, "seq=%d tok=%d head=%d d=%d ld=%d pos=%d,%d", n_seq, n_tok, n_head, d_head, ld, p0, p1);
    check("rope", what, outs, n);
    free_outs(outs);
    free(x);
}

static void test_attention(int n_seq, int n_q, int n_kv, int n_head, int d_head, int causal, int pad) {
    int ldq = n_head * d_head + pad, ldkv = n_head * d_head + 2 * pad, ldo = n_head * d_head + 3 * pad;
    int cap = n_kv + 3; /* cache rows per sequence */
    size_t seq_stride = (size_t)cap * ldkv;
    size_t nq = (size_t)n_seq * n_q * ldq, nkv = (size_t)n_seq * seq_stride, no = (size_t)n_seq * n_q * ldo;
    float *q = rand_vec(nq, 1.0f, 0.0f), *k = rand_vec(nkv, 1.0f, 0.0f), *v = rand_vec(nkv, 1.0f, 0.0f);
    float *o0 = rand_vec(no, 1.0f, 0.0f); /* padding columns must stay untouched */
    float scale = 1.0f / sqrtf((float)d_head) * 2.0f;
    float *outs[B_MAX] = {0};
    for (int b = 0; b < B_MAX; b++) {
        jn_backend *be = g_be[b];
        if (!be) continue;
        float *dq = dev_from(be, q, nq), *dk = dev_from(be, k, nkv), *dv = dev_from(be, v, nkv);
        float *dout = dev_from(be, o0, no);
        be->attention(be, dout, dq, dk, dv, n_seq, n_q, n_kv, n_head, d_head, ldq, ldkv, seq_stride, ldo, causal,
                      scale);
        outs[b] = take(be, dout, no);
        be->free(be, dq);
        be->free(be, dk);
        be->free(be, dv);
    }
    char what[128];
    snprintf(what, sizeof what, "seq=%d n_q=%d n_kv=%d head=%d d=%d causal=%d pad=%d", n_seq, n_q, n_kv, n_head,
             d_head, causal, pad);
    check("attention", what, outs, no);
    /* decode == prefill row: the last query computed alone (n_q = 1, causal) gives the same bits */
    if (g_be[B_CPU2] && causal && n_q > 1) {
        jn_backend *be = g_be[B_CPU2];
        float *q1 = (float *)malloc((size_t)n_seq * ldq * sizeof(float));
        for (int s = 0; s < n_seq; s++)
            memcpy(q1 + (size_t)s * ldq, q + ((size_t)s * n_q + n_q - 1) * ldq, (size_t)ldq * sizeof(float));
        float *dq = dev_from(be, q1, (size_t)n_seq * ldq), *dk = dev_from(be, k, nkv), *dv = dev_from(be, v, nkv);
        float *dout = dev_zero(be, (size_t)n_seq * ldo);
        be->attention(be, dout, dq, dk, dv, n_seq, 1, n_kv, n_head, d_head, ldq, ldkv, seq_stride, ldo, 1, scale);
        float *o1 = take(be, dout, (size_t)n_seq * ldo);
        for (int s = 0; s < n_seq; s++)
            TU_CHECK(memcmp(o1 + (size_t)s * ldo, outs[B_CPU2] + ((size_t)s * n_q + n_q - 1) * ldo,
                            (size_t)n_head * d_head * sizeof(float)) == 0,
                     "attention %s: last query alone differs from its prefill row", what);
        free(o1);
        free(q1);
        be->free(be, dq);
        be->free(be, dk);
        be->free(be, dv);
    }
    free_outs(outs);
    free(q);
    free(k);
    free(v);
    free(o0);
}

/* ---------------------------------------------------------------- element-wise */

static void test_elementwise(size_t n, float range) {
    float *a = rand_vec(n, range, 0.0f), *bvals = rand_vec(n, range, 0.0f);
    if (n > 8) { /* special values */
        a[0] = 0.0f;
        a[1] = -0.0f;
        a[2] = 1e-30f;
        a[3] = -100.0f;
        a[4] = 100.0f;
        a[5] = -9.5f;
        a[6] = 5.0f;
        a[7] = -30.0f;
    }
    static const char *names[6] = {"add", "mul", "scale", "gelu", "silu", "swiglu"};
    for (int op = 0; op < 6; op++) {
        float *outs[B_MAX] = {0};
        for (int b = 0; b < B_MAX; b++) {
            jn_backend *be = g_be[b];
            if (!be) continue;
            float *da = dev_from(be, a, n), *db = dev_from(be, bvals, n), *dy = dev_zero(be, n);
            switch (op) {
            case 0: be->add(be, dy, da, db, n); break;
            case 1: be->mul(be, dy, da, db, n); break;
            case 2: be->scale(be, dy, da, 0.37f, n); break;
            case 3: be->gelu(be, dy, da, n); break;
            case 4: be->silu(be, dy, da, n); break;
            default: be->swiglu(be, dy, da, db, n); break;
            }
            outs[b] = take(be, dy, n);
            if (b == B_CPU2) { /* in place */
                switch (op) {
                case 0: be->add(be, da, da, db, n); break;
                case 1: be->mul(be, da, da, db, n); break;
                case 2: be->scale(be, da, da, 0.37f, n); break;
                case 3: be->gelu(be, da, da, n); break;
                case 4: be->silu(be, da, da, n); break;
                default: be->swiglu(be, da, da, db, n); break;
                }
                float *ip = take(be, da, n);
                TU_CHECK(memcmp(ip, outs[b], n * sizeof(float)) == 0, "%s in place differs (n=%zu)", names[op], n);
                free(ip);
            } else {
                be->free(be, da);
            }
            be->free(be, db);
        }
        char what[64];
        snprintf(what, sizeof what, "%s n=%zu range=%g", names[op], n, range);
        check(op < 3 ? "add/mul/scale" : op == 3 ? "gelu" : "silu/swiglu", what, outs, n);
        free_outs(outs);
    }
    free(a);
    free(bvals);
}

/* Compact K/V caches: attention_kv over f16/bf16/q8_0 K/V against ref's (which converts to f32
 * and runs its attention), and on every cpu instance bit-identical to the f32 attention over the
 * converted values (conversion is exact, the kernel is the f32 one); copy2d_kv rounds exactly as
 * jn_from_f32_ref (bytes compared) and writes at the dpos row. q8_0 strides are whole blocks. */
static void *dev_bytes(jn_backend *be, const void *h, size_t nbytes) {
    void *d = be->alloc(be, nbytes ? nbytes : 1);
    TU_CHECK(d != NULL, "%s alloc %zu bytes", be->name, nbytes);
    if (!d) exit(1);
    be->upload(be, d, h, nbytes);
    return d;
}

static void test_attention_kv(jn_dtype kt, int n_seq, int n_q, int n_kv, int n_head, int d_head, int pad) {
    int ldq = n_head * d_head + pad, ldkv = n_head * d_head + 2 * pad, ldo = n_head * d_head + 3 * pad;
    int cap = n_kv + 3;
    size_t seq_stride = (size_t)cap * ldkv;
    size_t nq = (size_t)n_seq * n_q * ldq, nkv = (size_t)n_seq * seq_stride, no = (size_t)n_seq * n_q * ldo;
    float *q = rand_vec(nq, 1.0f, 0.0f), *k = rand_vec(nkv, 1.0f, 0.0f), *v = rand_vec(nkv, 1.0f, 0.0f);
    const size_t kv_bytes = jn_row_bytes(kt, (int64_t)nkv);
    TU_CHECK(kv_bytes > 0 && (kt != JN_Q8_0 || ldkv % 32 == 0), "test case: %s strides in whole blocks", jn_dtype_name(kt));
    uint8_t *kh = malloc(kv_bytes), *vh = malloc(kv_bytes);
    jn_from_f32_ref(kt, k, kh, (int64_t)nkv);
    jn_from_f32_ref(kt, v, vh, (int64_t)nkv);
    jn_to_f32_ref(kt, kh, k, (int64_t)nkv); /* k, v: the exact values the half cache holds */
    jn_to_f32_ref(kt, vh, v, (int64_t)nkv);
    float scale = 1.0f / sqrtf((float)d_head);
    float *outs[B_MAX] = {0};
    char what[128];
    snprintf(what, sizeof what, "%s K/V seq=%d n_q=%d n_kv=%d head=%d d=%d pad=%d", jn_dtype_name(kt), n_seq, n_q,
             n_kv, n_head, d_head, pad);
    for (int b = 0; b < B_MAX; b++) {
        jn_backend *be = g_be[b];
        if (!be) continue;
        float *dq = dev_from(be, q, nq), *dout = dev_zero(be, no);
        void *dk = dev_bytes(be, kh, kv_bytes), *dv = dev_bytes(be, vh, kv_bytes);
        /* n_kv - 2 keys at capture, 2 more through dpos (the captured-step form) */
        int32_t *dpos = be->step_scalar(be, 0);
        be->set_step_scalar(be, 0, 2);
        be->attention_kv(be, dout, dq, dk, dv, kt, n_seq, n_q, n_kv - 2, n_head, d_head, ldq, ldkv, seq_stride, ldo,
                         1, scale, dpos);
        outs[b] = take(be, dout, no);
        if (!strcmp(be->name, "cpu")) { /* == the f32 kernel on the converted values, bit for bit */
            float *fk = dev_from(be, k, nkv), *fv = dev_from(be, v, nkv), *fo = dev_zero(be, no);
            be->attention(be, fo, dq, fk, fv, n_seq, n_q, n_kv, n_head, d_head, ldq, ldkv, seq_stride, ldo, 1, scale);
            float *f32out = take(be, fo, no);
            TU_CHECK(memcmp(f32out, outs[b], no * sizeof(float)) == 0, "[%s] attention_kv %s differs from f32 attention",
                     g_bname[b], what);
            free(f32out);
            be->free(be, fk);
            be->free(be, fv);
        }
        be->free(be, dq);
        be->free(be, dk);
        be->free(be, dv);
    }
    check("attention", what, outs, no);
    free_outs(outs);

    /* copy2d_kv: rows 1..3 of a 5-row cache (dpos = 1), ld 9 → 11 (q8_0: 64 columns, ld 70 → 96) */
    const int q8 = kt == JN_Q8_0, rows = 3, cols = q8 ? 64 : 7, ldx = q8 ? 70 : 9, ldy = q8 ? 96 : 11;
    float *x = rand_vec((size_t)rows * ldx, 3.0f, 0.0f);
    x[0] = 65504.0f * 1.5f, x[1] = 1e-7f, x[2] = -0.0f; /* f16 overflow → inf, subnormal, signed zero */
    const size_t cache_bytes = jn_elem_offset(kt, (size_t)5 * ldy);
    uint8_t *want = calloc(cache_bytes, 1), *got = malloc(cache_bytes);
    for (int r = 0; r < rows; r++)
        jn_from_f32_ref(kt, x + (size_t)r * ldx, want + jn_elem_offset(kt, (size_t)(1 + r) * ldy), cols);
    for (int b = 0; b < B_MAX; b++) {
        jn_backend *be = g_be[b];
        if (!be) continue;
        float *dx = dev_from(be, x, (size_t)rows * ldx);
        void *dy = be->alloc(be, cache_bytes);
        be->memset0(be, dy, cache_bytes);
        be->set_step_scalar(be, 0, 1);
        be->copy2d_kv(be, dy, kt, ldy, dx, ldx, rows, cols, be->step_scalar(be, 0));
        be->download(be, got, dy, cache_bytes);
        TU_CHECK(memcmp(got, want, cache_bytes) == 0, "[%s] copy2d_kv %s: rounding or placement differs",
                 g_bname[b], jn_dtype_name(kt));
        be->free(be, dx);
        be->free(be, dy);
    }
    free(x), free(want), free(got);
    free(q), free(k), free(v), free(kh), free(vh);
}

static void test_copy_upsample(void) {
    int rows = 5, cols = 7, ldx = 9, ldy = 11, H = 3, W = 5, C = 7;
    float *x = rand_vec((size_t)rows * ldx, 1.0f, 0.0f), *y0 = rand_vec((size_t)rows * ldy, 1.0f, 0.0f);
    float *u = rand_vec((size_t)H * W * C, 1.0f, 0.0f);
    float *outs[B_MAX] = {0}, *outs2[B_MAX] = {0};
    for (int b = 0; b < B_MAX; b++) {
        jn_backend *be = g_be[b];
        if (!be) continue;
        float *dx = dev_from(be, x, (size_t)rows * ldx), *dy = dev_from(be, y0, (size_t)rows * ldy);
        be->copy2d(be, dy, ldy, dx, ldx, rows, cols);
        outs[b] = take(be, dy, (size_t)rows * ldy);
        be->free(be, dx);
        float *du = dev_from(be, u, (size_t)H * W * C), *dz = dev_zero(be, (size_t)4 * H * W * C);
        be->upsample2x(be, dz, du, H, W, C);
        outs2[b] = take(be, dz, (size_t)4 * H * W * C);
        be->free(be, du);
    }
    check("copy2d/upsample", "copy2d 5x7 ld 9->11", outs, (size_t)rows * ldy);
    check("copy2d/upsample", "upsample2x 3x5x7", outs2, (size_t)4 * H * W * C);
    free_outs(outs);
    free_outs(outs2);
    free(x);
    free(y0);
    free(u);
}

/* ---------------------------------------------------------------- conv2d */

static void test_conv(int H, int W, int Cin, int Cout, int k, int stride, int pad, jn_dtype t, int with_bias) {
    int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    float *x = rand_vec((size_t)H * W * Cin, 1.0f, 0.0f);
    float *wv = rand_vec((size_t)Cout * Cin * k * k, 0.3f, 0.0f), *bv = rand_vec((size_t)Cout, 1.0f, 0.0f);
    int64_t ws[4] = {Cout, Cin, k, k}, bs[1] = {Cout};
    tweight Wt = make_weight(t, 4, ws, wv), B = make_weight(JN_F32, 1, bs, bv);
    size_t no = (size_t)Ho * Wo * Cout;
    float *outs[B_MAX] = {0};
    for (int b = 0; b < B_MAX; b++) {
        jn_backend *be = g_be[b];
        if (!be) continue;
        jn_weight w = up(be, &Wt), bias = up(be, &B);
        float *dx = dev_from(be, x, (size_t)H * W * Cin), *dy = dev_zero(be, no);
        be->conv2d(be, dy, dx, &w, with_bias ? &bias : NULL, H, W, stride, pad);
        outs[b] = take(be, dy, no);
        be->free(be, dx);
        be->weight_release(be, &w);
        be->weight_release(be, &bias);
    }
    char what[128];
    snprintf(what, sizeof what, "%s H=%d W=%d Cin=%d Cout=%d k=%d s=%d p=%d bias=%d", jn_dtype_name(t), H, W, Cin,
             Cout, k, stride, pad, with_bias);
    check(t == JN_Q8_0 ? "conv2d q8_0" : t == JN_Q4_0 ? "conv2d q4_0" : "conv2d float", what, outs, no);
    if (t != JN_Q8_0 && t != JN_Q4_0) check_cpu_bits_equal("conv2d", what, outs, no); /* the panel GEMM */
    free_outs(outs);
    free(x);
    free(wv);
    free(bv);
    free(Wt.bytes);
    free(B.bytes);
}

/* ---------------------------------------------------------------- main */

int main(void) {
    jn_error err;
    jn_error_clear(&err);
    g_be[B_REF] = jn_backend_ref_create(&err);
    TU_CHECK(g_be[B_REF] != NULL, "ref: %s", err.msg);
    g_be[B_CPU1] = jn_backend_cpu_create(1, &err);
    g_be[B_CPU2] = jn_backend_cpu_create(2, &err);
    g_be[B_CPU3] = jn_backend_cpu_create(3, &err);
    const char *no_vnni = getenv("JANUS_CPU_NO_VNNI"); /* the whole test without VNNI (ctest variant) */
    const int vnni_off = no_vnni && no_vnni[0] && no_vnni[0] != '0';
    setenv("JANUS_CPU_ISA", "avx2", 1);
    g_be[B_AVX1] = jn_backend_cpu_create(1, &err);
    g_be[B_AVX2] = jn_backend_cpu_create(2, &err);
    setenv("JANUS_CPU_NO_VNNI", "1", 1);
    g_be[B_NOVNNI] = jn_backend_cpu_create(2, &err);
    if (!vnni_off) unsetenv("JANUS_CPU_NO_VNNI");
    setenv("JANUS_CPU_ISA", "scalar", 1);
    g_be[B_SC1] = jn_backend_cpu_create(1, &err);
    g_be[B_SC2] = jn_backend_cpu_create(2, &err);
    unsetenv("JANUS_CPU_ISA");
    for (int b = B_CPU1; b <= B_SC2; b++) TU_CHECK(g_be[b] != NULL, "%s: %s", g_bname[b], err.msg);
    if (tu_failures) return 1;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    g_avx512 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vnni") && !vnni_off;
#endif
    g_be[B_CUDA] = jn_backend_cuda_create(0, &err);
    fprintf(stderr, "backends: ref cpu(1,2,3 threads; %s) cpu-avx2(1,2; 2 without VNNI) cpu-scalar(1,2)%s\n",
            g_avx512 ? "AVX-512" : "best ISA", g_be[B_CUDA] ? " cuda" : " (cuda: not available)");

    /* matmul: every dtype × a sweep of M, K, N */
    static const int Ms[] = {1, 2, 3, 7, 8, 9, 16, 64, 300};
    static const int KN[][2] = {{32, 1}, {64, 5}, {96, 67}, {352, 13}, {1024, 40}, {256, 48}};
    for (int ti = 0; ti < 5; ti++)
        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
            for (size_t ki = 0; ki < sizeof KN / sizeof KN[0]; ki++) {
                if (Ms[mi] == 300 && KN[ki][0] > 96) continue; /* keep the f64 reference quick */
                test_matmul(Ms[mi], KN[ki][0], KN[ki][1], k_all_types[ti], (int)((mi + ki) & 1));
            }
    /* quantized M = 65, 66: 1- and 2-row micro-tiles after a 64-row block of the packed kernels */
    for (int ti = 3; ti < 5; ti++)
        for (int M = 65; M <= 66; M++) test_matmul(M, 96, 67, k_all_types[ti], M & 1);
    /* float-only K (not a multiple of 8 or 32) */
    static const int Kodd[] = {1, 7, 33, 100, 1001};
    for (int ti = 0; ti < 3; ti++)
        for (size_t ki = 0; ki < sizeof Kodd / sizeof Kodd[0]; ki++) {
            test_matmul(1, Kodd[ki], 11, k_all_types[ti], 1);
            test_matmul(7, Kodd[ki], 23, k_all_types[ti], 0);
            test_matmul(64, Kodd[ki], 5, k_all_types[ti], 1);
        }
    /* encoder weights (panel GEMM): M, N and K tails, K blocks (K > 512), quantized types unaffected */
    static const int MKN_wide[][3] = {{1, 64, 64}, {7, 33, 5}, {6, 100, 130}, {100, 1100, 70}, {13, 1001, 64},
                                      {300, 96, 200}, {2, 16, 1}};
    for (int ti = 0; ti < 5; ti++)
        for (size_t i = 0; i < sizeof MKN_wide / sizeof MKN_wide[0]; i++)
            if (MKN_wide[i][1] % 32 == 0 || ti < 3)
                test_matmul_w(MKN_wide[i][0], MKN_wide[i][1], MKN_wide[i][2], k_all_types[ti], (int)(i & 1), 1);
    for (int ti = 0; ti < 5; ti++) test_get_rows(k_all_types[ti]);

    test_norms(1, 7, 0.0f);
    test_norms(3, 64, 0.0f);
    test_norms(64, 2048, 0.0f);
    test_norms(5, 1000, 10.0f);
    test_group_norm(1, 32, 32, 0.0f);
    test_group_norm(37, 64, 32, 0.0f);
    test_group_norm(600, 96, 32, 5.0f);
    test_group_norm(1000, 128, 32, 0.0f);

    test_rope(1, 1, 1, 8, 8, 0, 0, 10000.0f);
    test_rope(2, 3, 4, 64, 4 * 64 + 16, 0, 17, 10000.0f);
    test_rope(2, 5, 3, 128, 3 * 128, 1000, 577, 10000.0f);
    test_rope(1, 40, 2, 96, 2 * 96 + 4, 3, 0, 500000.0f);

    test_attention(1, 1, 1, 1, 8, 1, 0);
    test_attention(2, 1, 37, 3, 64, 1, 0);     /* decode, CFG pair */
    test_attention(2, 3, 40, 2, 72, 1, 5);     /* a few queries, padded strides */
    test_attention(1, 50, 50, 4, 64, 0, 0);    /* prefill, non-causal */
    test_attention(1, 45, 45, 2, 64, 1, 0);    /* prefill, causal, more than one query block */
    test_attention(2, 5, 17, 3, 24, 0, 3);     /* n_q != n_kv, non-causal */
    test_attention(1, 7, 9, 2, 20, 1, 1);      /* d_head not a multiple of 8 */
    test_attention(1, 3, 70, 1, 512, 0, 0);    /* large d_head */
    test_attention(1, 1, 1000, 2, 128, 1, 0);  /* long decode */
    test_attention(5, 1, 37, 3, 64, 1, 0);     /* decode, many sequences (keys-outer kernel) */
    test_attention(4, 6, 30, 4, 64, 1, 3);     /* ... and its rows vs their prefill rows */
    for (int kt = 0; kt < 2; kt++) {
        jn_dtype t = kt ? JN_BF16 : JN_F16;
        test_attention_kv(t, 2, 1, 37, 3, 64, 0);   /* decode, CFG pair */
        test_attention_kv(t, 1, 45, 45, 2, 64, 0);  /* prefill, more than one query block */
        test_attention_kv(t, 2, 3, 40, 2, 72, 5);   /* a few queries, padded strides */
        test_attention_kv(t, 1, 7, 9, 2, 20, 1);    /* d_head not a multiple of 8 */
        test_attention_kv(t, 1, 1, 600, 16, 128, 0); /* long decode, 1B head count */
        test_attention_kv(t, 6, 1, 40, 4, 64, 2);   /* decode, many sequences (keys-outer kernel) */
        test_attention_kv(t, 32, 1, 50, 16, 128, 0); /* 16 images' CFG rows */
    }
    /* q8_0: strides in whole 32-value blocks; heads may start inside a block (d 16, 20, 72) */
    test_attention_kv(JN_Q8_0, 2, 1, 37, 3, 64, 0);    /* decode, CFG pair (keys-outer kernel) */
    test_attention_kv(JN_Q8_0, 2, 1, 30, 4, 16, 0);    /* decode, the tiny model's heads */
    test_attention_kv(JN_Q8_0, 1, 45, 45, 2, 64, 0);   /* prefill, more than one query block */
    test_attention_kv(JN_Q8_0, 2, 3, 40, 2, 72, 8);    /* a few queries (packed), padded strides */
    test_attention_kv(JN_Q8_0, 1, 7, 9, 2, 20, 12);    /* d_head not a multiple of 8 */
    test_attention_kv(JN_Q8_0, 1, 1, 600, 16, 128, 0); /* long decode, 1B head count */
    test_attention_kv(JN_Q8_0, 6, 1, 40, 4, 64, 16);   /* decode, many sequences */
    test_attention_kv(JN_Q8_0, 32, 1, 50, 16, 128, 0); /* 16 images' CFG rows */

    test_elementwise(1, 3.0f);
    test_elementwise(7, 3.0f);
    test_elementwise(1000, 10.0f);
    test_elementwise(100003, 20.0f);
    test_copy_upsample();

    for (int ti = 0; ti < 5; ti++) {
        jn_dtype t = k_all_types[ti];
        int q = t == JN_Q8_0 || t == JN_Q4_0;
        if (!q) test_conv(5, 7, 3, 4, 3, 1, 1, t, 1);     /* K = 27 */
        test_conv(13, 11, 32, 24, 3, 1, 1, t, 1);         /* 3x3 pad 1, odd H/W */
        test_conv(8, 9, 64, 16, 1, 1, 0, t, 0);           /* 1x1 */
        test_conv(48, 32, 3, 64, 16, 16, 0, t, 1);        /* patch embedding */
        test_conv(9, 9, 32, 8, 3, 2, 1, t, 0);            /* stride 2 */
        test_conv(7, 5, 64, 5, 1, 2, 0, t, 1);            /* 1x1 stride 2 (general path) */
        if (!q) test_conv(20, 17, 5, 3, 3, 1, 1, t, 1);  /* few output channels */
        if (!q) test_conv(5, 4, 600, 70, 3, 1, 1, t, 1); /* K blocks inside a tap, N tail */
        if (t == JN_F16) test_conv(72, 40, 8, 130, 3, 1, 1, t, 1); /* rows split by the L2 cap on y (2880 × 128 > 512 KB) */
    }

    fprintf(stderr, "%d cases; worst error vs ref per class (all cpu variants%s):\n", g_cases,
            g_be[B_CUDA] ? ", cuda" : "");
    for (int i = 0; i < N_TOL; i++)
        fprintf(stderr, "  %-16s nmse %.3g (tol %.3g)  max_rel %.3g (tol %.3g)\n", g_tol[i].cls, g_tol[i].worst_nmse,
                g_tol[i].nmse, g_tol[i].worst_rel, g_tol[i].rel);
    for (int b = 0; b < B_MAX; b++)
        if (g_be[b]) g_be[b]->destroy(g_be[b]);
    fprintf(stderr, "%s\n", tu_failures ? "FAILED" : "ok");
    return TU_RESULT();
}
