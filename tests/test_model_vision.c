/* tests/test_model_vision.c — SigLIP ViT encoder + understanding aligner.
 *
 * 1. Random weights (f32, bf16 and f16 matrices) on a small config (S 32, P 8, W 32, 4 heads,
 *    2 layers, aligner 32→48) against a direct double-precision scalar ViT written here (direct
 *    strided patch conv, LayerNorm, per-head softmax attention, erf GELU) on ref, cpu and cuda when
 *    present; batching 2 images must equal encoding them one by one (bitwise on ref/cpu), and cpu
 *    with 1 vs 2 threads must be bit-identical.
 * 2. Golden: the 4 vision cases of cases.json (SigLIP features and aligner output, case tolerances)
 *    on every backend, from two GGUFs: the tiny checkpoint converted by `$JANUS_BIN convert` (the
 *    real converter's names and keys; skipped without the CLI) and one written here from jn_ckpt
 *    with the converter's names (`v.`, `aligner.`; 1-D tensors f32, the rest bf16), independent of
 *    the CLI. JANUS_VISION_GGUF=<file> uses an existing GGUF instead. */
// janus-test-libs: janus_vision janus_engine
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/backend.h"
#include "engine/io/ckpt.h"
#include "engine/io/gguf.h"
#include "engine/io/json.h"
#include "engine/weights.h"
#include "testutil.h"
#include "weightpool.h"
#include "ckpt_gguf.h"
#include "vision/siglip.h"


/* ------------------------------------------------------------------ random weights */


/* ------------------------------------------------------------------ scalar reference ViT (double) */

static void ref_ln(double *y, const double *x, int M, int N, const float *g, const float *b, double eps) {
    for (int i = 0; i < M; i++) {
        const double *r = x + (size_t)i * N;
        double mu = 0, var = 0;
        for (int j = 0; j < N; j++) mu += r[j];
        mu /= N;
        for (int j = 0; j < N; j++) var += (r[j] - mu) * (r[j] - mu);
        var /= N;
        for (int j = 0; j < N; j++) y[(size_t)i * N + j] = (r[j] - mu) / sqrt(var + eps) * g[j] + b[j];
    }
}
/* y[M, N] = x[M, K] W[N, K]^T + b */
static void ref_lin(double *y, const double *x, int M, const jn_weight *w, const jn_weight *b) {
    int N = (int)jn_weight_rows(w), K = (int)jn_weight_cols(w);
    float *wf = tu_weight_f32(w), *bf = b ? tu_weight_f32(b) : NULL;
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) {
            double a = bf ? bf[n] : 0;
            for (int k = 0; k < K; k++) a += x[(size_t)i * K + k] * wf[(size_t)n * K + k];
            y[(size_t)i * N + n] = a;
        }
    free(wf);
    free(bf);
}
static double gelu(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

/* one image: pix [3, S, S] -> feat [N, W], al [N, D] */
static void ref_vit(const jn_vision_hparams *hp, const jn_vision_weights *w, const float *pix, double *feat,
                    double *al) {
    int S = hp->image_size, P = hp->patch_size, G = S / P, N = G * G, W = hp->width, F = hp->n_ff;
    int H = hp->n_head, dh = W / H, D = hp->aligner_out;
    double *x = calloc((size_t)N * W, sizeof(double)), *xn = calloc((size_t)N * W, sizeof(double));
    double *qkv = calloc((size_t)N * 3 * W, sizeof(double)), *att = calloc((size_t)N * W, sizeof(double));
    double *t = calloc((size_t)N * W, sizeof(double)), *hid = calloc((size_t)N * (F > D ? F : D), sizeof(double));
    double *p = calloc((size_t)N, sizeof(double));
    float *pw = tu_weight_f32(w->patch_w), *pb = tu_weight_f32(w->patch_b), *pos = tu_weight_f32(w->pos_embed);
    /* direct strided convolution */
    for (int py = 0; py < G; py++)
        for (int px = 0; px < G; px++)
            for (int o = 0; o < W; o++) {
                double a = pb[o];
                for (int c = 0; c < 3; c++)
                    for (int ky = 0; ky < P; ky++)
                        for (int kx = 0; kx < P; kx++)
                            a += (double)pix[((size_t)c * S + py * P + ky) * S + px * P + kx] *
                                 pw[(((size_t)o * 3 + c) * P + ky) * P + kx];
                x[((size_t)py * G + px) * W + o] = a + pos[((size_t)py * G + px) * W + o];
            }
    for (int l = 0; l < hp->n_layer; l++) {
        const jn_vision_block_weights *b = &w->blocks[l];
        float *g1 = tu_weight_f32(b->norm1_w), *b1 = tu_weight_f32(b->norm1_b), *g2 = tu_weight_f32(b->norm2_w), *b2 = tu_weight_f32(b->norm2_b);
        ref_ln(xn, x, N, W, g1, b1, hp->ln_eps);
        ref_lin(qkv, xn, N, b->qkv_w, b->qkv_b);
        for (int h = 0; h < H; h++)
            for (int i = 0; i < N; i++) {
                double mx = -1e300, sum = 0;
                for (int j = 0; j < N; j++) {
                    double d = 0;
                    for (int c = 0; c < dh; c++)
                        d += qkv[(size_t)i * 3 * W + h * dh + c] * qkv[(size_t)j * 3 * W + W + h * dh + c];
                    p[j] = d / sqrt((double)dh);
                    if (p[j] > mx) mx = p[j];
                }
                for (int j = 0; j < N; j++) sum += (p[j] = exp(p[j] - mx));
                for (int c = 0; c < dh; c++) {
                    double a = 0;
                    for (int j = 0; j < N; j++) a += p[j] * qkv[(size_t)j * 3 * W + 2 * W + h * dh + c];
                    att[(size_t)i * W + h * dh + c] = a / sum;
                }
            }
        ref_lin(t, att, N, b->proj_w, b->proj_b);
        for (size_t i = 0; i < (size_t)N * W; i++) x[i] += t[i];
        ref_ln(xn, x, N, W, g2, b2, hp->ln_eps);
        ref_lin(hid, xn, N, b->fc1_w, b->fc1_b);
        for (size_t i = 0; i < (size_t)N * F; i++) hid[i] = gelu(hid[i]);
        ref_lin(t, hid, N, b->fc2_w, b->fc2_b);
        for (size_t i = 0; i < (size_t)N * W; i++) x[i] += t[i];
        free(g1), free(b1), free(g2), free(b2);
    }
    float *gn = tu_weight_f32(w->norm_w), *bn = tu_weight_f32(w->norm_b);
    ref_ln(feat, x, N, W, gn, bn, hp->ln_eps);
    ref_lin(hid, feat, N, w->al1_w, w->al1_b);
    for (size_t i = 0; i < (size_t)N * D; i++) hid[i] = gelu(hid[i]);
    ref_lin(al, hid, N, w->al2_w, w->al2_b);
    free(gn), free(bn), free(pw), free(pb), free(pos);
    free(x), free(xn), free(qkv), free(att), free(t), free(hid), free(p);
}

/* ------------------------------------------------------------------ helpers */

static jn_backend *make_backend(const char *name, int threads) {
    jn_error err = {0};
    jn_backend *be = NULL;
    if (!strcmp(name, "ref")) be = jn_backend_ref_create(&err);
    else if (!strcmp(name, "cpu")) be = jn_backend_cpu_create(threads, &err);
    else if (!strcmp(name, "cuda")) be = jn_backend_cuda_create(0, &err);
    if (!be) fprintf(stderr, "backend %s: %s\n", name, err.msg);
    return be;
}

/* encodes n images, returns host copies (malloc) of features and aligned */
static int run_encode(jn_backend *be, const jn_vision_hparams *hp, const jn_vision_weights *w, const float *pix,
                      int n, float **feat_out, float **al_out) {
    jn_error err = {0};
    int N = jn_vision_n_tokens(hp);
    jn_vision_session *s = jn_vision_session_create(be, hp, w, n, &err);
    if (!s) {
        fprintf(stderr, "session: %s\n", err.msg);
        return 0;
    }
    size_t nf = (size_t)n * N * hp->width, na = (size_t)n * N * hp->aligner_out;
    float *f = be->alloc(be, nf * sizeof(float)), *a = be->alloc(be, na * sizeof(float));
    jn_status st = jn_vision_encode(s, pix, n, f, a, &err);
    if (st != JN_OK) fprintf(stderr, "encode: %s\n", err.msg);
    *feat_out = malloc(nf * sizeof(float));
    *al_out = malloc(na * sizeof(float));
    be->download(be, *feat_out, f, nf * sizeof(float));
    be->download(be, *al_out, a, na * sizeof(float));
    be->free(be, f);
    be->free(be, a);
    jn_vision_session_free(s);
    return st == JN_OK;
}

static void to_f32(float *dst, const double *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
}

/* ------------------------------------------------------------------ 1. random weights */

static void test_random(jn_dtype mat_type, const int have[3]) {
    jn_vision_hparams hp = {.image_size = 32, .patch_size = 8, .width = 32, .n_layer = 2, .n_head = 4, .n_ff = 64,
                            .ln_eps = 1e-6f, .aligner_in = 32, .aligner_out = 48};
    int W = hp.width, F = hp.n_ff, D = hp.aligner_out, P = hp.patch_size, N = jn_vision_n_tokens(&hp);
    int S = hp.image_size;
    jn_vision_block_weights blocks[2];
    jn_vision_weights w;
    memset(&w, 0, sizeof w);
    float ws = 0.25f;
    w.patch_w = tu_weight_new(mat_type, 4, W, 3, P, P, 0.1f, 0);
    w.patch_b = tu_weight_new(JN_F32, 1, W, 1, 1, 1, 0.1f, 0);
    w.pos_embed = tu_weight_new(mat_type == JN_F32 ? JN_F32 : JN_BF16, 3, 1, N, W, 1, 0.5f, 0);
    for (int l = 0; l < 2; l++) {
        jn_vision_block_weights *b = &blocks[l];
        b->norm1_w = tu_weight_new(JN_F32, 1, W, 1, 1, 1, 0.2f, 1.0f);
        b->norm1_b = tu_weight_new(JN_F32, 1, W, 1, 1, 1, 0.1f, 0);
        b->qkv_w = tu_weight_new(mat_type, 2, 3 * W, W, 1, 1, ws, 0);
        b->qkv_b = tu_weight_new(JN_F32, 1, 3 * W, 1, 1, 1, 0.1f, 0);
        b->proj_w = tu_weight_new(mat_type, 2, W, W, 1, 1, ws, 0);
        b->proj_b = tu_weight_new(JN_F32, 1, W, 1, 1, 1, 0.1f, 0);
        b->norm2_w = tu_weight_new(JN_F32, 1, W, 1, 1, 1, 0.2f, 1.0f);
        b->norm2_b = tu_weight_new(JN_F32, 1, W, 1, 1, 1, 0.1f, 0);
        b->fc1_w = tu_weight_new(mat_type, 2, F, W, 1, 1, ws, 0);
        b->fc1_b = tu_weight_new(JN_F32, 1, F, 1, 1, 1, 0.1f, 0);
        b->fc2_w = tu_weight_new(mat_type, 2, W, F, 1, 1, ws * 0.7f, 0);
        b->fc2_b = tu_weight_new(JN_F32, 1, W, 1, 1, 1, 0.1f, 0);
    }
    w.blocks = blocks;
    w.n_blocks = 2;
    w.norm_w = tu_weight_new(JN_F32, 1, W, 1, 1, 1, 0.2f, 1.0f);
    w.norm_b = tu_weight_new(JN_F32, 1, W, 1, 1, 1, 0.1f, 0);
    w.al1_w = tu_weight_new(mat_type, 2, D, W, 1, 1, ws, 0);
    w.al1_b = tu_weight_new(JN_F32, 1, D, 1, 1, 1, 0.1f, 0);
    w.al2_w = tu_weight_new(mat_type, 2, D, D, 1, 1, ws, 0);
    w.al2_b = tu_weight_new(JN_F32, 1, D, 1, 1, 1, 0.1f, 0);

    const int n_img = 2;
    size_t npix = (size_t)3 * S * S;
    float *pix = malloc(n_img * npix * sizeof(float));
    for (size_t i = 0; i < n_img * npix; i++) pix[i] = tu_frand();
    size_t nf = (size_t)N * W, na = (size_t)N * D;
    double *rf = malloc(n_img * nf * sizeof(double)), *ra = malloc(n_img * na * sizeof(double));
    for (int i = 0; i < n_img; i++) ref_vit(&hp, &w, pix + i * npix, rf + i * nf, ra + i * na);
    float *want_f = malloc(n_img * nf * sizeof(float)), *want_a = malloc(n_img * na * sizeof(float));
    to_f32(want_f, rf, n_img * nf);
    to_f32(want_a, ra, n_img * na);

    const char *names[3] = {"ref", "cpu", "cuda"};
    for (int bi = 0; bi < 3; bi++) {
        if (!have[bi]) continue;
        jn_backend *be = make_backend(names[bi], 2);
        TU_CHECK(be != NULL, "backend %s", names[bi]);
        if (!be) continue;
        tu_weights_upload(be);
        float *f = NULL, *a = NULL, *f1 = NULL, *a1 = NULL;
        TU_CHECK(run_encode(be, &hp, &w, pix, n_img, &f, &a), "encode");
        char lbl[96];
        snprintf(lbl, sizeof lbl, "random %s %s features", names[bi], jn_dtype_name((int)mat_type));
        TU_CHECK(tu_close(lbl, f, want_f, n_img * nf, 2e-5, 2e-6), "%s", lbl);
        snprintf(lbl, sizeof lbl, "random %s %s aligned", names[bi], jn_dtype_name((int)mat_type));
        TU_CHECK(tu_close(lbl, a, want_a, n_img * na, 2e-5, 2e-6), "%s", lbl);
        /* the second image alone equals its row block of the batch (bitwise) */
        TU_CHECK(run_encode(be, &hp, &w, pix + npix, 1, &f1, &a1), "encode 1");
        if (bi < 2) /* host backends: bitwise; cuda (GEMM shapes differ): within rounding */
            TU_CHECK(!memcmp(f1, f + nf, nf * sizeof(float)) && !memcmp(a1, a + na, na * sizeof(float)),
                     "%s: batch of 2 differs from single-image encode", names[bi]);
        else
            TU_CHECK(tu_close("cuda batch vs single", f1, f + nf, nf, 1e-5, 1e-6), "cuda batch vs single");
        free(f1), free(a1);
        if (bi == 1) { /* thread-count invariance */
            jn_backend *be1 = make_backend("cpu", 1);
            TU_CHECK(run_encode(be1, &hp, &w, pix, n_img, &f1, &a1), "encode 1 thread");
            TU_CHECK(!memcmp(f1, f, n_img * nf * sizeof(float)) && !memcmp(a1, a, n_img * na * sizeof(float)),
                     "cpu: 1 thread differs from 2 threads");
            free(f1), free(a1);
            be1->destroy(be1);
        }
        /* errors: n_images out of range, features and aligned NULL is a no-op */
        jn_error err = {0};
        jn_vision_session *s = jn_vision_session_create(be, &hp, &w, 1, &err);
        TU_CHECK(s && jn_vision_encode(s, pix, 2, NULL, NULL, &err) == JN_ERR_USAGE, "n_images > max");
        TU_CHECK(s && jn_vision_encode(s, pix, 0, NULL, NULL, &err) == JN_ERR_USAGE, "n_images 0");
        jn_vision_session_free(s);
        free(f), free(a);
        tu_weights_release(be);
        be->destroy(be);
    }
    /* hparams check */
    jn_error err = {0};
    jn_vision_hparams bad = hp;
    bad.image_size = 33;
    TU_CHECK(jn_vision_hparams_check(&bad, &err) == JN_ERR_FORMAT, "S %% P");
    bad = hp;
    bad.aligner_in = 31;
    TU_CHECK(jn_vision_hparams_check(&bad, &err) == JN_ERR_FORMAT, "aligner_in");
    free(pix), free(rf), free(ra), free(want_f), free(want_a);
    tu_weights_free();
}

/* ------------------------------------------------------------------ 2. golden (tiny checkpoint) */

/* official name -> GGUF name; NULL for tensors the vision test does not need */
static const char *gguf_name(const char *n, char *buf, size_t sz) {
    const char *vt = "vision_model.vision_tower.";
    if (!strncmp(n, vt, strlen(vt))) {
        if (strstr(n, "attn_pool")) return NULL;
        snprintf(buf, sz, "v.%s", n + strlen(vt));
        return buf;
    }
    if (!strncmp(n, "aligner.", 8)) {
        snprintf(buf, sz, "%s", n);
        return buf;
    }
    return NULL;
}

/* writes the vision + aligner tensors of the checkpoint and the hparam keys to path */
static void vision_kv(jn_gguf_writer *gw) {
    jn_gguf_writer_set_u32(gw, "janus.vision.image_size", 384);
    jn_gguf_writer_set_u32(gw, "janus.vision.patch_size", 16);
    jn_gguf_writer_set_u32(gw, "janus.vision.width", 64);
    jn_gguf_writer_set_u32(gw, "janus.vision.n_layer", 2);
    jn_gguf_writer_set_u32(gw, "janus.vision.n_head", 4);
    jn_gguf_writer_set_u32(gw, "janus.vision.n_ff", 256);
    jn_gguf_writer_set_f32(gw, "janus.vision.ln_eps", 1e-6f);
    jn_gguf_writer_set_u32(gw, "janus.aligner.input_dim", 64);
    jn_gguf_writer_set_u32(gw, "janus.aligner.n_embd", 64);
    jn_gguf_writer_set_u32(gw, "janus.aligner.depth", 2);
}

static int write_vision_gguf(const char *model_dir, const char *path) {
    return tu_write_gguf_from_ckpt(model_dir, path, gguf_name, vision_kv);
}

static double tol_of(const jn_json *c, const char *out, const char *what) {
    const jn_json *t = jn_json_get(jn_json_get(c, "tolerance"), out);
    double v = -1;
    if (!t || !jn_json_get_num(t, what, &v)) return -1;
    return v;
}

/* gpath: a GGUF holding the tensors (converted by `janus convert` or written by this test) */
static void test_golden(jn_backend *be, const char *gpath) {
    jn_error err = {0};
    const int fails0 = tu_failures;
    printf("golden vision on %s from %s\n", be->name, gpath);
    jn_gguf *g = jn_gguf_open(gpath, &err);
    TU_CHECK(g != NULL, "%s", err.msg);
    if (!g) return;
    jn_wstore *store = jn_wstore_create(g, &err);
    jn_vision_hparams hp;
    jn_vision_weights w;
    TU_CHECK(jn_vision_hparams_from_gguf(g, &hp, &err) == JN_OK, "%s", err.msg);
    TU_CHECK(jn_vision_bind(&w, store, &hp, &err) == JN_OK, "%s", err.msg);
    if (tu_failures != fails0) return;
    for (int64_t i = 0; i < jn_wstore_count(store); i++) be->weight_upload(be, jn_wstore_at(store, i), &err);

    jn_json *cases = jn_json_parse_file(tu_fixture("janus-tiny-a/golden/tiny-a/cases.json"), &err);
    TU_CHECK(cases != NULL, "%s", err.msg);
    if (!cases) return;
    const jn_json *arr = jn_json_get(cases, "cases");
    int N = jn_vision_n_tokens(&hp), W = hp.width, D = hp.aligner_out;
    jn_vision_session *s = jn_vision_session_create(be, &hp, &w, 1, &err);
    TU_CHECK(s != NULL, "%s", err.msg);
    float *df = be->alloc(be, (size_t)N * W * 4), *da = be->alloc(be, (size_t)N * D * 4);
    float *f = malloc((size_t)N * W * 4), *a = malloc((size_t)N * D * 4);
    int n_cases = 0;
    double t_total = 0;
    for (size_t ci = 0; s && arr && arr->type == JN_JSON_ARRAY && ci < arr->n; ci++) {
        const jn_json *c = arr->items[ci];
        const char *kind = jn_json_get_str(c, "kind");
        if (!kind || strcmp(kind, "vision")) continue;
        const char *id = jn_json_get_str(c, "id");
        char rel[512];
        snprintf(rel, sizeof rel, "janus-tiny-a/golden/tiny-a/%s",
                 jn_json_get_str(jn_json_get(c, "input"), "pixel_values"));
        size_t npx = 0;
        float *pix = tu_load_npy_f32(tu_fixture(rel), &npx);
        TU_CHECK(npx == (size_t)3 * hp.image_size * hp.image_size, "%s: pixel count %zu", id, npx);
        double t0 = jn_time_s();
        TU_CHECK(jn_vision_encode(s, pix, 1, df, da, &err) == JN_OK, "%s", err.msg);
        be->download(be, f, df, (size_t)N * W * 4);
        be->download(be, a, da, (size_t)N * D * 4);
        t_total += jn_time_s() - t0;
        const char *outs[2] = {"siglip_features", "aligner_output"};
        float *got[2] = {f, a};
        size_t cnt[2] = {(size_t)N * W, (size_t)N * D};
        for (int k = 0; k < 2; k++) {
            snprintf(rel, sizeof rel, "janus-tiny-a/golden/tiny-a/%s",
                     jn_json_get_str(jn_json_get(jn_json_get(c, "outputs"), outs[k]), "file"));
            size_t nw = 0;
            float *want = tu_load_npy_f32(tu_fixture(rel), &nw);
            TU_CHECK(nw == cnt[k], "%s %s: golden has %zu values", id, outs[k], nw);
            double ma = tol_of(c, outs[k], "max_abs"), rl = tol_of(c, outs[k], "rel_l2");
            TU_CHECK(ma > 0 && rl > 0, "%s: tolerance missing", id);
            char lbl[160];
            snprintf(lbl, sizeof lbl, "%s %s %s", be->name, id, outs[k]);
            if (nw == cnt[k]) TU_CHECK(tu_close(lbl, got[k], want, nw, ma, rl), "%s", lbl);
            free(want);
        }
        free(pix);
        n_cases++;
    }
    TU_CHECK(n_cases == 4, "expected 4 vision cases, found %d", n_cases);
    printf("golden vision on %s: %d images, %.1f ms per image (encode + aligner)\n", be->name, n_cases,
           n_cases ? 1e3 * t_total / n_cases : 0.0);
    be->free(be, df);
    be->free(be, da);
    free(f), free(a);
    jn_vision_session_free(s);
    jn_json_free(cases);
    jn_vision_weights_free(&w);
    for (int64_t i = 0; i < jn_wstore_count(store); i++) be->weight_release(be, jn_wstore_at(store, i));
    jn_wstore_free(store);
    jn_gguf_close(g);
}

int main(void) {
    tu_seed(0x9E3779B97F4A7C15ull);
    int have[3] = {1, 0, jn_backend_cuda_available()}; /* ref, cpu, cuda */
    {
        jn_error err = {0};
        jn_backend *be = jn_backend_cpu_create(1, &err);
        if (be) {
            have[1] = 1;
            be->destroy(be);
        }
    }
    test_random(JN_F32, have);
    test_random(JN_BF16, have);
    test_random(JN_F16, have);
    /* GGUF sources: $JANUS_VISION_GGUF if set; else the tiny checkpoint converted by the janus CLI (the real
     * converter's names and keys) plus a bf16 GGUF written by this test (independent of the CLI) */
    const char *ggufs[2];
    int n_gguf = 0;
    const char *env = getenv("JANUS_VISION_GGUF");
    if (env && *env) {
        ggufs[n_gguf++] = env;
    } else {
        static char conv[4096], own[4096], cmd[8192];
        snprintf(conv, sizeof conv, "%s", tu_tmp("vision_conv_tiny_a.gguf"));
        snprintf(own, sizeof own, "%s", tu_tmp("vision_own_tiny_a.gguf"));
        const char *bin = tu_janus_bin();
        if (strchr(bin, '/') && access(bin, X_OK) == 0) {
            snprintf(cmd, sizeof cmd, "\"%s\" convert \"%s\" -o \"%s\" --force", bin,
                     tu_fixture("janus-tiny-a/models/tiny-a"), conv);
            int rc = tu_system(cmd);
            TU_CHECK(rc == 0, "%s: exit %d", cmd, rc);
            if (rc == 0) ggufs[n_gguf++] = conv;
        } else {
            printf("JANUS_BIN (%s) is not an executable path: converter leg skipped\n", bin);
        }
        if (write_vision_gguf(tu_fixture("janus-tiny-a/models/tiny-a"), own)) ggufs[n_gguf++] = own;
        else TU_CHECK(0, "could not write %s from the tiny checkpoint", own);
    }
    /* golden on every backend (ref is fast enough at this size) */
    const char *names[3] = {"ref", "cpu", "cuda"};
    for (int bi = 0; bi < 3; bi++) {
        if (!have[bi]) continue;
        jn_backend *be = make_backend(names[bi], 0);
        TU_CHECK(be != NULL, "backend %s", names[bi]);
        if (be) {
            for (int k = 0; k < n_gguf; k++) test_golden(be, ggufs[k]);
            be->destroy(be);
        }
    }
    return TU_RESULT();
}
