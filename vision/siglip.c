/* vision/siglip.c — SigLIP ViT encoder: binding, preallocated session, forward (see siglip.h).
 *
 * Patch embedding is a stride-P, kernel-P convolution without overlap, i.e. exactly a matmul of the
 * weight [W, 3·P·P] with the patch rows [N, 3·P·P] (channel-major, then ky, kx — PyTorch's
 * [Cout, Cin, kh, kw] flattening). The patch rows are gathered on the host while the pixels are
 * uploaded (a 576×768 rearrangement, negligible), so the hot op is the backend's matmul. */
#include "siglip.h"
#include "table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct jn_vision_session {
    jn_backend *be;
    const jn_vision_hparams *hp;
    const jn_vision_weights *w;
    int n_max, N, W, F, D, K; /* K = 3·P·P */
    float *patches_host; /* host [n_max·N, K] */
    float *patches;      /* backend [n_max·N, K] */
    float *pos;          /* backend [N, W] (pos_embed as f32) */
    float *x;            /* backend [n_max·N, W] residual stream */
    float *xn;           /* backend [n_max·N, W] normed / attention output */
    float *tmp;          /* backend [n_max·N, W] projections before the residual add */
    float *qkv;          /* backend [n_max·N, 3W] */
    float *hidden;       /* backend [n_max·N, max(F, D)] */
    float *feat;         /* backend [n_max·N, W] features when the caller passes NULL */
};

/* ------------------------------------------------------------------ hparams */

jn_status jn_vision_hparams_check(const jn_vision_hparams *hp, jn_error *err) {
    if (hp->image_size <= 0 || hp->patch_size <= 0 || hp->width <= 0 || hp->n_layer <= 0 || hp->n_head <= 0 ||
        hp->n_ff <= 0 || hp->aligner_in <= 0 || hp->aligner_out <= 0)
        return jn_fail(err, JN_ERR_FORMAT,
                       "vision hparams: sizes must be positive (image_size %d, patch_size %d, width %d, n_layer %d, "
                       "n_head %d, n_ff %d, aligner %d->%d)",
                       hp->image_size, hp->patch_size, hp->width, hp->n_layer, hp->n_head, hp->n_ff, hp->aligner_in,
                       hp->aligner_out);
    if (hp->image_size % hp->patch_size != 0)
        return jn_fail(err, JN_ERR_FORMAT, "vision hparams: image_size %d is not a multiple of patch_size %d",
                       hp->image_size, hp->patch_size);
    if (hp->image_size > 8192 || hp->width > 65536 || hp->n_ff > 1 << 20 || hp->n_layer > 1024 ||
        hp->aligner_out > 1 << 20)
        return jn_fail(err, JN_ERR_FORMAT, "vision hparams: implausibly large sizes (image_size %d, width %d, n_ff %d)",
                       hp->image_size, hp->width, hp->n_ff);
    if (hp->width % hp->n_head != 0)
        return jn_fail(err, JN_ERR_FORMAT, "vision hparams: width %d is not a multiple of n_head %d", hp->width,
                       hp->n_head);
    if (hp->aligner_in != hp->width)
        return jn_fail(err, JN_ERR_FORMAT, "vision hparams: aligner input_dim %d != vision width %d", hp->aligner_in,
                       hp->width);
    if (!(hp->ln_eps > 0.0f) || !isfinite(hp->ln_eps))
        return jn_fail(err, JN_ERR_FORMAT, "vision hparams: ln_eps must be a positive number");
    return JN_OK;
}

jn_status jn_vision_hparams_from_gguf(const jn_gguf *g, jn_vision_hparams *hp, jn_error *err) {
    jn_vision_hparams h;
    memset(&h, 0, sizeof h);
    jn_status st = jn_keys_read(g, jn_vision_keys, jn_vision_n_keys, &h, err);
    if (st != JN_OK) return st;
    if ((st = jn_vision_hparams_check(&h, err)) != JN_OK) return jn_error_prefix(err, "%s", jn_gguf_path(g));
    *hp = h;
    return JN_OK;
}

/* ------------------------------------------------------------------ binding */

void jn_vision_weights_free(jn_vision_weights *w) {
    if (!w) return;
    if (w->owns_blocks) free(w->blocks);
    memset(w, 0, sizeof *w);
}

jn_status jn_vision_bind(jn_vision_weights *w, jn_wstore *store, const jn_vision_hparams *hp, jn_error *err) {
    memset(w, 0, sizeof *w);
    jn_status st = jn_vision_hparams_check(hp, err);
    if (st != JN_OK) return st;
    w->blocks = (jn_vision_block_weights *)calloc((size_t)hp->n_layer, sizeof *w->blocks);
    if (!w->blocks) return jn_fail(err, JN_ERR_NOMEM, "vision: out of memory binding %d blocks", hp->n_layer);
    w->owns_blocks = 1;
    w->n_blocks = hp->n_layer;
    jn_bind_sink sink;
    jn_bind_sink_init(&sink, store, err);
    sink.many_rows = 1; /* every matmul is over image tokens or pixels */
    jn_vision_tensors(hp, w, &sink.base);
    if (!sink.base.failed) return JN_OK;
    jn_vision_weights_free(w);
    return err ? err->code : JN_ERR_FORMAT;
}

/* ------------------------------------------------------------------ session */

void jn_vision_session_free(jn_vision_session *s) {
    if (!s) return;
    jn_backend *be = s->be;
    be->free(be, s->patches);
    be->free(be, s->pos);
    be->free(be, s->x);
    be->free(be, s->xn);
    be->free(be, s->tmp);
    be->free(be, s->qkv);
    be->free(be, s->hidden);
    be->free(be, s->feat);
    free(s->patches_host);
    free(s);
}

static float *balloc(jn_backend *be, size_t n_floats, int *ok) {
    float *p = (float *)be->alloc(be, n_floats * sizeof(float));
    if (!p) *ok = 0;
    return p;
}

/* Checks the fields of a hand-filled weights struct (bind checks shapes already). */
static jn_status check_weights(const jn_vision_hparams *hp, const jn_vision_weights *w, jn_error *err) {
    if (!w->patch_w || !w->patch_b || !w->pos_embed || !w->blocks || w->n_blocks < hp->n_layer || !w->norm_w ||
        !w->norm_b || !w->al1_w || !w->al1_b || !w->al2_w || !w->al2_b)
        return jn_fail(err, JN_ERR_USAGE, "vision session: weights are not bound");
    int64_t N = jn_vision_n_tokens(hp), W = hp->width;
    int64_t pe = 1;
    for (int i = 0; i < w->pos_embed->n_dims; i++) pe *= w->pos_embed->shape[i];
    if (pe != N * W || !jn_dtype_valid((int)w->pos_embed->type) || jn_dtype_block_elems(w->pos_embed->type) != 1)
        return jn_fail(err, JN_ERR_FORMAT, "vision: pos_embed must hold %lld float values",
                       (long long)(N * W));
    if (jn_weight_rows(w->patch_w) != W ||
        jn_weight_cols(w->patch_w) != 3LL * hp->patch_size * hp->patch_size)
        return jn_fail(err, JN_ERR_FORMAT, "vision: patch_embed weight must be [%d, 3, %d, %d]", hp->width,
                       hp->patch_size, hp->patch_size);
    return JN_OK;
}

size_t jn_vision_session_bytes(const jn_vision_hparams *hp, int n_images) {
    const size_t N = (size_t)jn_vision_n_tokens(hp), W = (size_t)hp->width, K = 3 * (size_t)hp->patch_size * hp->patch_size;
    const size_t rows = (size_t)n_images * N, hid = (size_t)(hp->n_ff > hp->aligner_out ? hp->n_ff : hp->aligner_out);
    /* patches (host + backend), pos, x, xn, tmp, qkv (3W), hidden, feat: as jn_vision_session_create */
    return (rows * (2 * K + 7 * W + hid) + N * W) * sizeof(float);
}

jn_vision_session *jn_vision_session_create(jn_backend *be, const jn_vision_hparams *hp, const jn_vision_weights *w,
                                            int n_images_max, jn_error *err) {
    if (jn_vision_hparams_check(hp, err) != JN_OK) return NULL;
    if (n_images_max < 1 || n_images_max > 4096) {
        jn_fail(err, JN_ERR_USAGE, "vision session: n_images_max %d out of range [1, 4096]", n_images_max);
        return NULL;
    }
    if (check_weights(hp, w, err) != JN_OK) return NULL;
    jn_vision_session *s = (jn_vision_session *)calloc(1, sizeof *s);
    if (!s) {
        jn_fail(err, JN_ERR_NOMEM, "vision session: out of memory");
        return NULL;
    }
    s->be = be;
    s->hp = hp;
    s->w = w;
    s->n_max = n_images_max;
    s->N = jn_vision_n_tokens(hp);
    s->W = hp->width;
    s->F = hp->n_ff;
    s->D = hp->aligner_out;
    s->K = 3 * hp->patch_size * hp->patch_size;
    size_t rows = (size_t)n_images_max * (size_t)s->N;
    size_t hid = (size_t)(s->F > s->D ? s->F : s->D);
    int ok = 1;
    s->patches_host = (float *)malloc(rows * (size_t)s->K * sizeof(float));
    if (!s->patches_host) ok = 0;
    s->patches = balloc(be, rows * (size_t)s->K, &ok);
    s->pos = balloc(be, (size_t)s->N * (size_t)s->W, &ok);
    s->x = balloc(be, rows * (size_t)s->W, &ok);
    s->xn = balloc(be, rows * (size_t)s->W, &ok);
    s->tmp = balloc(be, rows * (size_t)s->W, &ok);
    s->qkv = balloc(be, rows * 3 * (size_t)s->W, &ok);
    s->hidden = balloc(be, rows * hid, &ok);
    s->feat = balloc(be, rows * (size_t)s->W, &ok);
    if (!ok) {
        jn_fail(err, JN_ERR_NOMEM, "vision session: out of memory for activations of %d image(s) (%.1f MB)",
                n_images_max, (double)rows * (6.0 * s->W + s->K + (double)hid) * 4.0 / 1e6);
        jn_vision_session_free(s);
        return NULL;
    }
    /* pos_embed -> f32 once (host bytes are always available) */
    float *pos_host = (float *)malloc((size_t)s->N * (size_t)s->W * sizeof(float));
    if (!pos_host) {
        jn_fail(err, JN_ERR_NOMEM, "vision session: out of memory");
        jn_vision_session_free(s);
        return NULL;
    }
    jn_to_f32_ref(w->pos_embed->type, w->pos_embed->data, pos_host, (int64_t)s->N * s->W);
    be->upload(be, s->pos, pos_host, (size_t)s->N * (size_t)s->W * sizeof(float));
    be->synchronize(be);
    free(pos_host);
    return s;
}

/* patches[t, c·P·P + ky·P + kx] = pixels[c, py·P + ky, px·P + kx], t = py·G + px */
static void im2col_host(float *patches, const float *pix, int S, int P) {
    int G = S / P, K = 3 * P * P;
    for (int py = 0; py < G; py++)
        for (int px = 0; px < G; px++) {
            float *row = patches + ((size_t)py * G + px) * (size_t)K;
            for (int c = 0; c < 3; c++)
                for (int ky = 0; ky < P; ky++)
                    memcpy(row + (size_t)c * P * P + (size_t)ky * P,
                           pix + ((size_t)c * S + (size_t)py * P + ky) * (size_t)S + (size_t)px * P,
                           (size_t)P * sizeof(float));
        }
}

jn_status jn_vision_encode(jn_vision_session *s, const float *pixels_chw_host, int n_images, float *features,
                           float *aligned, jn_error *err) {
    if (!s || !pixels_chw_host) return jn_fail(err, JN_ERR_USAGE, "vision encode: NULL session or pixels");
    if (n_images < 1 || n_images > s->n_max)
        return jn_fail(err, JN_ERR_USAGE, "vision encode: %d images, session holds 1..%d", n_images, s->n_max);
    if (!features && !aligned) return JN_OK;
    jn_backend *be = s->be;
    const jn_vision_hparams *hp = s->hp;
    const jn_vision_weights *w = s->w;
    const int N = s->N, W = s->W, S = hp->image_size, P = hp->patch_size;
    const int M = n_images * N; /* rows of every activation */
    const int dh = W / hp->n_head;
    const float scale = 1.0f / sqrtf((float)dh);
    float *feat = features ? features : s->feat;

    /* patch rows: [M, K] */
    for (int i = 0; i < n_images; i++)
        im2col_host(s->patches_host + (size_t)i * N * s->K, pixels_chw_host + (size_t)i * 3 * S * S, S, P);
    be->upload(be, s->patches, s->patches_host, (size_t)M * s->K * sizeof(float));

    /* x = patches · Wpᵀ + bp + pos: [M, W] */
    be->matmul(be, s->x, s->patches, w->patch_w, w->patch_b, M);
    for (int i = 0; i < n_images; i++)
        be->add(be, s->x + (size_t)i * N * W, s->x + (size_t)i * N * W, s->pos, (size_t)N * W);

    for (int l = 0; l < hp->n_layer; l++) {
        const jn_vision_block_weights *b = &w->blocks[l];
        /* attention: xn = LN1(x); qkv = xn·Wqkvᵀ + b: [M, 3W] (q | k | v, head h = dh columns) */
        be->layer_norm(be, s->xn, s->x, b->norm1_w, b->norm1_b, M, W, hp->ln_eps);
        be->matmul(be, s->qkv, s->xn, b->qkv_w, b->qkv_b, M);
        /* xn <- attention output [M, W] (heads concatenated) */
        be->attention(be, s->xn, s->qkv, s->qkv + W, s->qkv + 2 * W, n_images, N, N, hp->n_head, dh, 3 * W, 3 * W,
                      (size_t)N * 3 * W, W, 0, scale);
        be->matmul(be, s->tmp, s->xn, b->proj_w, b->proj_b, M);
        be->add(be, s->x, s->x, s->tmp, (size_t)M * W);
        /* MLP: x += fc2(gelu(fc1(LN2(x)))) ; hidden [M, F] */
        be->layer_norm(be, s->xn, s->x, b->norm2_w, b->norm2_b, M, W, hp->ln_eps);
        be->matmul(be, s->hidden, s->xn, b->fc1_w, b->fc1_b, M);
        be->gelu(be, s->hidden, s->hidden, (size_t)M * s->F);
        be->matmul(be, s->tmp, s->hidden, b->fc2_w, b->fc2_b, M);
        be->add(be, s->x, s->x, s->tmp, (size_t)M * W);
    }
    /* features = LN(x): [M, W] */
    be->layer_norm(be, feat, s->x, w->norm_w, w->norm_b, M, W, hp->ln_eps);
    if (aligned) jn_vision_align(be, w, aligned, feat, M, s->hidden);
    return JN_OK;
}
