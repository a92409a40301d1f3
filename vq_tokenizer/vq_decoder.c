/* vq_tokenizer/vq_decoder.c — LlamaGen VQ-16 decoder: binding, preallocated session, decode (see
 * vq_decoder.h for the structure).
 *
 * Memory plan (channels-last f32, backend memory): three buffers X, A, B of the largest stage
 * (real model: 384·384·128 floats = 75 MB each) plus q/k/v for the attention blocks at the lowest
 * resolution. The running activation always lives in X; every block writes its temporaries to A/B
 * and leaves its result in X. 1×1 convolutions are matmuls on [HW, C] rows. The L2-normalised
 * codebook is computed once per session on the host (tiny: codebook_size × codebook_dim). */
#include "vq_decoder.h"
#include "table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct jn_vq_session {
    jn_backend *be;
    const jn_vq_hparams *hp;
    const jn_vq_weights *w;
    int grid, out_size;
    size_t buf_elems;    /* floats in each of X, A, B */
    size_t attn_elems;   /* floats in each of q, k, v */
    float *codebook;     /* host [codebook_size, cd], normalised if hp->l2_norm */
    float *z_host;       /* host [grid², cd] */
    float *out_host;     /* host [H·H, 3] channels-last decoder output */
    float *z;            /* backend [grid², cd] */
    float *X, *A, *B;    /* backend, buf_elems each */
    float *q, *k, *v;    /* backend, attn_elems each */
};

/* ------------------------------------------------------------------ hparams */

jn_status jn_vq_hparams_check(const jn_vq_hparams *hp, jn_error *err) {
    if (hp->codebook_size <= 0 || hp->codebook_dim <= 0 || hp->z_channels <= 0 || hp->ch <= 0 ||
        hp->num_res_blocks < 0 || hp->n_groups <= 0)
        return jn_fail(err, JN_ERR_FORMAT,
                       "vq hparams: sizes must be positive (codebook %dx%d, z_channels %d, ch %d, num_res_blocks %d, "
                       "n_groups %d)",
                       hp->codebook_size, hp->codebook_dim, hp->z_channels, hp->ch, hp->num_res_blocks, hp->n_groups);
    if (hp->codebook_size > (1 << 24) || hp->codebook_dim > 4096 || hp->z_channels > 65536 || hp->ch > 65536)
        return jn_fail(err, JN_ERR_FORMAT, "vq hparams: implausibly large sizes (codebook %dx%d, z %d, ch %d)",
                       hp->codebook_size, hp->codebook_dim, hp->z_channels, hp->ch);
    if (hp->n_levels < 1 || hp->n_levels > JN_VQ_MAX_LEVELS)
        return jn_fail(err, JN_ERR_FORMAT, "vq hparams: ch_mult has %d entries, supported 1..%d", hp->n_levels,
                       JN_VQ_MAX_LEVELS);
    if (hp->num_res_blocks + 1 > JN_VQ_MAX_RES)
        return jn_fail(err, JN_ERR_FORMAT, "vq hparams: num_res_blocks %d, supported 0..%d", hp->num_res_blocks,
                       JN_VQ_MAX_RES - 1);
    for (int i = 0; i < hp->n_levels; i++) {
        if (hp->ch_mult[i] <= 0 || hp->ch_mult[i] > 64)
            return jn_fail(err, JN_ERR_FORMAT, "vq hparams: ch_mult[%d] = %d out of range", i, hp->ch_mult[i]);
        int c = hp->ch * hp->ch_mult[i];
        if (c % hp->n_groups != 0)
            return jn_fail(err, JN_ERR_FORMAT, "vq hparams: %d channels (ch %d x ch_mult[%d]) not divisible by %d groups",
                           c, hp->ch, i, hp->n_groups);
    }
    if (!(hp->eps > 0.0f) || !isfinite(hp->eps))
        return jn_fail(err, JN_ERR_FORMAT, "vq hparams: norm_eps must be a positive number");
    return JN_OK;
}

jn_status jn_vq_hparams_from_gguf(const jn_gguf *g, jn_vq_hparams *hp, jn_error *err) {
    jn_vq_hparams h;
    memset(&h, 0, sizeof h);
    jn_status st = jn_keys_read(g, jn_vq_keys, jn_vq_n_keys, &h, err);
    if (st != JN_OK) return st;
    if ((st = jn_vq_hparams_check(&h, err)) != JN_OK) return jn_error_prefix(err, "%s", jn_gguf_path(g));
    *hp = h;
    return JN_OK;
}

/* ------------------------------------------------------------------ binding */

void jn_vq_weights_free(jn_vq_weights *w) {
    if (w) memset(w, 0, sizeof *w);
}

jn_status jn_vq_bind(jn_vq_weights *w, jn_wstore *store, const jn_vq_hparams *hp, jn_error *err) {
    memset(w, 0, sizeof *w);
    jn_status st = jn_vq_hparams_check(hp, err);
    if (st != JN_OK) return st;
    jn_bind_sink sink;
    jn_bind_sink_init(&sink, store, err);
    sink.many_rows = 1; /* every matmul is over image tokens or pixels */
    jn_vq_tensors(hp, w, &sink.base);
    if (!sink.base.failed) return JN_OK;
    jn_vq_weights_free(w);
    return err ? err->code : JN_ERR_FORMAT;
}

/* ------------------------------------------------------------------ session */

void jn_vq_session_free(jn_vq_session *s) {
    if (!s) return;
    jn_backend *be = s->be;
    be->free(be, s->z);
    be->free(be, s->X);
    be->free(be, s->A);
    be->free(be, s->B);
    be->free(be, s->q);
    be->free(be, s->k);
    be->free(be, s->v);
    free(s->codebook);
    free(s->z_host);
    free(s->out_host);
    free(s);
}

int jn_vq_session_out_size(const jn_vq_session *s) { return s->out_size; }

static size_t zmax(size_t a, size_t b) { return a > b ? a : b; }

/* Walks the decoder stages: floats in each of the three stage buffers (the largest activation),
 * in each of the attention q/k/v buffers, and the output side. */
static void vq_buffer_sizes(const jn_vq_hparams *hp, int grid, size_t *need_out, size_t *attn_out, int *out_size) {
    size_t r = (size_t)grid, hw = r * r;
    size_t c0 = (size_t)jn_vq_level_channels(hp, 0);
    size_t need = zmax(hw * (size_t)hp->z_channels, hw * c0);
    size_t cattn = c0;
    size_t cin = c0;
    for (int i = 0; i < hp->n_levels; i++) {
        size_t cout = (size_t)jn_vq_level_channels(hp, i);
        need = zmax(need, r * r * zmax(cin, cout));
        if (i == 0) cattn = zmax(cattn, cout);
        if (i != hp->n_levels - 1) {
            r *= 2;
            need = zmax(need, r * r * cout);
        }
        cin = cout;
    }
    *need_out = zmax(need, r * r * 3);
    *attn_out = hw * cattn;
    *out_size = (int)r;
}

size_t jn_vq_session_bytes(const jn_vq_hparams *hp, int grid) {
    size_t need, attn;
    int out;
    vq_buffer_sizes(hp, grid, &need, &attn, &out);
    const size_t hw = (size_t)grid * grid, cb = (size_t)hp->codebook_size * hp->codebook_dim;
    return (3 * need + 3 * attn + cb + 2 * hw * hp->codebook_dim + 2 * (size_t)out * out * 3) * sizeof(float);
}

static int res_ok(const jn_vq_res_weights *r) {
    return r->norm1_w && r->norm1_b && r->conv1_w && r->conv1_b && r->norm2_w && r->norm2_b && r->conv2_w &&
           r->conv2_b && (r->cin == r->cout || (r->nin_w && r->nin_b));
}
static int attn_ok(const jn_vq_attn_weights *a) {
    return a->norm_w && a->norm_b && a->q_w && a->q_b && a->k_w && a->k_b && a->v_w && a->v_b && a->proj_w &&
           a->proj_b;
}

static jn_status check_weights(const jn_vq_hparams *hp, const jn_vq_weights *w, jn_error *err) {
    int ok = w->codebook && w->pq_w && w->pq_b && w->conv_in_w && w->conv_in_b && res_ok(&w->mid0) &&
             attn_ok(&w->mid1) && res_ok(&w->mid2) && w->norm_out_w && w->norm_out_b && w->conv_out_w &&
             w->conv_out_b;
    for (int i = 0; ok && i < hp->n_levels; i++) {
        const jn_vq_level_weights *lv = &w->levels[i];
        if (lv->n_res != hp->num_res_blocks + 1 || (lv->n_attn != 0 && lv->n_attn != lv->n_res)) ok = 0;
        for (int j = 0; ok && j < lv->n_res; j++) {
            ok = res_ok(&lv->res[j]);
            if (ok && lv->n_attn) ok = attn_ok(&lv->attn[j]);
        }
        if (ok && i != hp->n_levels - 1) ok = lv->up_w && lv->up_b;
    }
    if (!ok) return jn_fail(err, JN_ERR_USAGE, "vq session: decoder weights are not fully bound");
    if (jn_dtype_block_elems(w->codebook->type) != 1 || jn_weight_rows(w->codebook) != hp->codebook_size ||
        jn_weight_cols(w->codebook) != hp->codebook_dim)
        return jn_fail(err, JN_ERR_FORMAT, "vq: codebook must be a float [%d, %d] tensor", hp->codebook_size,
                       hp->codebook_dim);
    return JN_OK;
}

jn_vq_session *jn_vq_session_create(jn_backend *be, const jn_vq_hparams *hp, const jn_vq_weights *w, int grid,
                                    jn_error *err) {
    if (jn_vq_hparams_check(hp, err) != JN_OK) return NULL;
    if (grid < 1 || grid > 256) {
        jn_fail(err, JN_ERR_USAGE, "vq session: grid %d out of range [1, 256]", grid);
        return NULL;
    }
    if (check_weights(hp, w, err) != JN_OK) return NULL;
    jn_vq_session *s = (jn_vq_session *)calloc(1, sizeof *s);
    if (!s) {
        jn_fail(err, JN_ERR_NOMEM, "vq session: out of memory");
        return NULL;
    }
    s->be = be;
    s->hp = hp;
    s->w = w;
    s->grid = grid;

    size_t need, attn_elems;
    int out_size;
    vq_buffer_sizes(hp, grid, &need, &attn_elems, &out_size);
    size_t hw = (size_t)grid * grid, r = (size_t)out_size;
    s->out_size = out_size;
    s->buf_elems = need;
    s->attn_elems = attn_elems;

    int ok = 1;
    size_t ncb = (size_t)hp->codebook_size * (size_t)hp->codebook_dim;
    s->codebook = (float *)malloc(ncb * sizeof(float));
    s->z_host = (float *)malloc(hw * (size_t)hp->codebook_dim * sizeof(float));
    s->out_host = (float *)malloc(r * r * 3 * sizeof(float));
    if (!s->codebook || !s->z_host || !s->out_host) ok = 0;
    if (ok) {
        s->z = (float *)be->alloc(be, hw * (size_t)hp->codebook_dim * sizeof(float));
        s->X = (float *)be->alloc(be, need * sizeof(float));
        s->A = (float *)be->alloc(be, need * sizeof(float));
        s->B = (float *)be->alloc(be, need * sizeof(float));
        s->q = (float *)be->alloc(be, s->attn_elems * sizeof(float));
        s->k = (float *)be->alloc(be, s->attn_elems * sizeof(float));
        s->v = (float *)be->alloc(be, s->attn_elems * sizeof(float));
        if (!s->z || !s->X || !s->A || !s->B || !s->q || !s->k || !s->v) ok = 0;
    }
    if (!ok) {
        jn_fail(err, JN_ERR_NOMEM, "vq session: out of memory for the decoder activations (%.1f MB)",
                (3.0 * (double)need + 3.0 * (double)s->attn_elems) * 4.0 / 1e6);
        jn_vq_session_free(s);
        return NULL;
    }
    /* codebook -> f32, rows L2-normalised like F.normalize(p=2, dim=-1, eps=1e-12) in f32 */
    jn_to_f32_ref(w->codebook->type, w->codebook->data, s->codebook, (int64_t)ncb);
    if (hp->l2_norm) {
        for (int i = 0; i < hp->codebook_size; i++) {
            float *e = s->codebook + (size_t)i * hp->codebook_dim;
            double ss = 0.0;
            for (int j = 0; j < hp->codebook_dim; j++) ss += (double)e[j] * (double)e[j];
            float nrm = (float)sqrt(ss);
            if (!(nrm > 1e-12f)) nrm = 1e-12f;
            for (int j = 0; j < hp->codebook_dim; j++) e[j] = e[j] / nrm;
        }
    }
    return s;
}

/* ------------------------------------------------------------------ blocks (result in X) */

/* X[HW, cin] <- Res(X)[HW, cout] */
static void res_block(jn_vq_session *s, const jn_vq_res_weights *r, int H, int W) {
    jn_backend *be = s->be;
    const jn_vq_hparams *hp = s->hp;
    const int hw = H * W;
    be->group_norm(be, s->A, s->X, r->norm1_w, r->norm1_b, hw, r->cin, hp->n_groups, hp->eps); /* A: [hw, cin] */
    be->silu(be, s->A, s->A, (size_t)hw * r->cin);
    be->conv2d(be, s->B, s->A, r->conv1_w, r->conv1_b, H, W, 1, 1); /* B: [hw, cout] */
    be->group_norm(be, s->B, s->B, r->norm2_w, r->norm2_b, hw, r->cout, hp->n_groups, hp->eps);
    be->silu(be, s->B, s->B, (size_t)hw * r->cout);
    be->conv2d(be, s->A, s->B, r->conv2_w, r->conv2_b, H, W, 1, 1); /* A: [hw, cout] */
    if (r->nin_w) {
        be->matmul(be, s->B, s->X, r->nin_w, r->nin_b, hw); /* B: [hw, cout] shortcut */
        be->add(be, s->X, s->B, s->A, (size_t)hw * r->cout);
    } else {
        be->add(be, s->X, s->X, s->A, (size_t)hw * r->cout);
    }
}

/* X[HW, c] <- X + proj(attn(q, k, v of GN(X))) */
static void attn_block(jn_vq_session *s, const jn_vq_attn_weights *a, int hw) {
    jn_backend *be = s->be;
    const int c = a->c;
    be->group_norm(be, s->A, s->X, a->norm_w, a->norm_b, hw, c, s->hp->n_groups, s->hp->eps); /* A: [hw, c] */
    be->matmul(be, s->q, s->A, a->q_w, a->q_b, hw);
    be->matmul(be, s->k, s->A, a->k_w, a->k_b, hw);
    be->matmul(be, s->v, s->A, a->v_w, a->v_b, hw);
    /* A: [hw, c] = softmax(q·kᵀ · c^-½) · v, one head over all positions */
    be->attention(be, s->A, s->q, s->k, s->v, 1, hw, hw, 1, c, c, c, 0, c, 0, (float)(1.0 / sqrt((double)c)));
    be->matmul(be, s->B, s->A, a->proj_w, a->proj_b, hw);
    be->add(be, s->X, s->X, s->B, (size_t)hw * c);
}

jn_status jn_vq_decode(jn_vq_session *s, const int32_t *ids_host, float *out_chw_host, jn_error *err) {
    if (!s || !ids_host || !out_chw_host) return jn_fail(err, JN_ERR_USAGE, "vq decode: NULL argument");
    const jn_vq_hparams *hp = s->hp;
    const jn_vq_weights *w = s->w;
    jn_backend *be = s->be;
    const int G = s->grid, cd = hp->codebook_dim;
    for (int i = 0; i < G * G; i++)
        if (ids_host[i] < 0 || ids_host[i] >= hp->codebook_size)
            return jn_fail(err, JN_ERR_USAGE, "vq decode: code id %d at position %d is outside [0, %d)",
                           (int)ids_host[i], i, hp->codebook_size);
    /* z: [G, G, cd] channels-last = normalised codebook rows in raster order */
    for (int i = 0; i < G * G; i++)
        memcpy(s->z_host + (size_t)i * cd, s->codebook + (size_t)ids_host[i] * cd, (size_t)cd * sizeof(float));
    be->upload(be, s->z, s->z_host, (size_t)G * G * cd * sizeof(float));

    int H = G;
    be->matmul(be, s->A, s->z, w->pq_w, w->pq_b, G * G);             /* A: [G², z] */
    be->conv2d(be, s->X, s->A, w->conv_in_w, w->conv_in_b, H, H, 1, 1); /* X: [G², c0] */
    res_block(s, &w->mid0, H, H);
    attn_block(s, &w->mid1, H * H);
    res_block(s, &w->mid2, H, H);
    for (int i = 0; i < hp->n_levels; i++) {
        const jn_vq_level_weights *lv = &w->levels[i];
        for (int j = 0; j < lv->n_res; j++) {
            res_block(s, &lv->res[j], H, H);
            if (lv->n_attn) attn_block(s, &lv->attn[j], H * H);
        }
        if (lv->up_w) {
            be->upsample2x(be, s->A, s->X, H, H, lv->cout); /* A: [2H, 2H, c] */
            H *= 2;
            be->conv2d(be, s->X, s->A, lv->up_w, lv->up_b, H, H, 1, 1);
        }
    }
    const int cl = jn_vq_level_channels(hp, hp->n_levels - 1);
    be->group_norm(be, s->A, s->X, w->norm_out_w, w->norm_out_b, H * H, cl, hp->n_groups, hp->eps);
    be->silu(be, s->A, s->A, (size_t)H * H * cl);
    be->conv2d(be, s->B, s->A, w->conv_out_w, w->conv_out_b, H, H, 1, 1); /* B: [H, H, 3] */
    be->download(be, s->out_host, s->B, (size_t)H * H * 3 * sizeof(float));
    /* channels-last -> CHW */
    const size_t n = (size_t)H * H;
    for (size_t p = 0; p < n; p++)
        for (int c = 0; c < 3; c++) out_chw_host[(size_t)c * n + p] = s->out_host[p * 3 + c];
    return JN_OK;
}

void jn_vq_to_rgb8(const float *chw, int H, int W, uint8_t *rgb_hwc) {
    const size_t n = (size_t)H * W;
    for (size_t p = 0; p < n; p++)
        for (int c = 0; c < 3; c++) {
            float x = chw[(size_t)c * n + p];
            float v = (x + 1.0f) / 2.0f;
            v = v * 255.0f;
            if (!(v > 0.0f)) v = 0.0f; /* also NaN -> 0 */
            if (v > 255.0f) v = 255.0f;
            rgb_hwc[p * 3 + c] = (uint8_t)v;
        }
}
