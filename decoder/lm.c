/* decoder/lm.c — LLaMA-style transformer forward with a preallocated KV cache (see lm.h).
 *
 * Why this shape: every forward call pushes all n_seq * n_tok rows through each weight matrix in
 * one backend matmul (the 2 CFG rows of image generation share each weight read; a prompt prefill
 * is one GEMM per matrix). All buffers come from session creation, so the decode loop allocates
 * nothing. The code is written once against the jn_backend ops table (ref, cpu, cuda). */
#include "lm.h"
#include "table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct jn_lm_session {
    jn_backend *be;
    const jn_lm_hparams *hp;
    const jn_lm_weights *w;
    int n_seq_max, n_ctx, n_tok_max;
    jn_dtype kv_type; /* JN_F32, JN_F16, JN_BF16 or JN_Q8_0 */
    size_t kv_row;    /* bytes of one cached position of one sequence: kv_dim values of kv_type */
    int *seq_len;   /* host [n_seq_max]: cached positions of each sequence slot */
    int *slot_ids;  /* host [n_seq_max]: scratch for jn_lm_forward's identity slot list */
    size_t nbytes;
    /* KV cache, per layer: [n_seq_max][n_ctx][kv_dim] (K after RoPE), kv_type elements */
    uint8_t *k_cache; /* [n_layer][n_seq_max][n_ctx][kv_dim] */
    uint8_t *v_cache; /* same */
    /* activation scratch, R = n_tok_max rows */
    float *cur;     /* [R, n_embd]  residual stream */
    float *xn;      /* [R, n_embd]  normed input of a sub-layer */
    float *q;       /* [R, q_dim] */
    float *k;       /* [R, kv_dim] */
    float *v;       /* [R, kv_dim] */
    float *att;     /* [R, q_dim]  attention output */
    float *tmp;     /* [R, n_embd] sub-layer output */
    float *gate;    /* [R, n_ff] */
    float *up;      /* [R, n_ff] */
    int32_t *pos0;  /* host [n_seq_max] */
};

/* ------------------------------------------------------------------ binding */

static jn_status check_hparams(const jn_lm_hparams *hp, jn_error *err) {
    if (hp->n_embd <= 0 || hp->n_layer <= 0 || hp->n_head <= 0 || hp->n_kv_head <= 0 || hp->d_head <= 0 ||
        hp->n_ff <= 0 || hp->n_vocab <= 0 || hp->max_ctx <= 0)
        return jn_fail(err, JN_ERR_FORMAT,
                       "LM hyper-parameters must be positive (n_embd %d, n_layer %d, n_head %d, n_kv_head %d, "
                       "d_head %d, n_ff %d, n_vocab %d, max_ctx %d)",
                       hp->n_embd, hp->n_layer, hp->n_head, hp->n_kv_head, hp->d_head, hp->n_ff, hp->n_vocab,
                       hp->max_ctx);
    if (hp->d_head % 2 != 0)
        return jn_fail(err, JN_ERR_FORMAT, "LM head size d_head = %d must be even for rotary embeddings", hp->d_head);
    if (hp->n_kv_head != hp->n_head)
        return jn_fail(err, JN_ERR_FORMAT,
                       "LM has %d key/value heads for %d query heads: grouped-query attention is not supported "
                       "(Janus-Pro uses n_kv_head == n_head)",
                       hp->n_kv_head, hp->n_head);
    if (!(hp->rms_eps > 0.0f) || !(hp->rope_theta > 0.0f))
        return jn_fail(err, JN_ERR_FORMAT, "LM rms_eps (%g) and rope_theta (%g) must be positive",
                       (double)hp->rms_eps, (double)hp->rope_theta);
    return JN_OK;
}

jn_status jn_lm_bind(jn_lm_weights *w, jn_wstore *store, const jn_lm_hparams *hp, jn_error *err) {
    memset(w, 0, sizeof *w);
    jn_status st = check_hparams(hp, err);
    if (st != JN_OK) return st;
    jn_lm_weights t;
    memset(&t, 0, sizeof t);
    t.layers = calloc((size_t)hp->n_layer, sizeof *t.layers);
    if (!t.layers) return jn_fail(err, JN_ERR_NOMEM, "out of memory binding %d LM layers", hp->n_layer);
    jn_bind_sink sink;
    jn_bind_sink_init(&sink, store, err);
    jn_lm_tensors(hp, &t, &sink.base);
    if (sink.base.failed) {
        free(t.layers);
        return err ? err->code : JN_ERR_FORMAT;
    }
    *w = t;
    return JN_OK;
}

void jn_lm_weights_free(jn_lm_weights *w) {
    if (!w) return;
    free(w->layers);
    memset(w, 0, sizeof *w);
}

jn_status jn_lm_weights_upload(jn_backend *be, jn_lm_weights *w, const jn_lm_hparams *hp, jn_error *err) {
    jn_weight *top[3] = {w->tok_embd, w->norm, w->lm_head};
    for (int i = 0; i < 3; i++) {
        jn_status st = be->weight_upload(be, top[i], err);
        if (st != JN_OK) return st;
    }
    for (int l = 0; l < hp->n_layer; l++) {
        jn_lm_layer *L = &w->layers[l];
        jn_weight *ws[9] = {L->attn_norm, L->wq, L->wk, L->wv, L->wo, L->ffn_norm, L->w_gate, L->w_up, L->w_down};
        for (int i = 0; i < 9; i++) {
            jn_status st = be->weight_upload(be, ws[i], err);
            if (st != JN_OK) return st;
        }
    }
    return JN_OK;
}

/* ------------------------------------------------------------------ session */

enum { JN_LM_N_BUFFERS = 11 };

static size_t kv_row_bytes(const jn_lm_hparams *hp, jn_dtype kv_type) {
    return jn_row_bytes(kv_type, (int64_t)hp->n_kv_head * hp->d_head);
}

/* Bytes of each session buffer, in the order of jn_lm_session_create's table: K cache, V cache
 * ([n_layer][n_seq][n_ctx][kv_dim] kv_type elements each), then the f32 activations of n_tok_max
 * rows. 0 on overflow. */
static int lm_buffer_sizes(const jn_lm_hparams *hp, int n_seq_max, int n_ctx, int n_tok_max, jn_dtype kv_type,
                           size_t out[JN_LM_N_BUFFERS]) {
    const size_t E = (size_t)hp->n_embd, QD = (size_t)hp->n_head * hp->d_head,
                 KVD = (size_t)hp->n_kv_head * hp->d_head, FF = (size_t)hp->n_ff, R = (size_t)n_tok_max;
    size_t cache = 0;
    int ok = jn_mul_ok((size_t)hp->n_layer, (size_t)n_seq_max, &cache) && jn_mul_ok(cache, (size_t)n_ctx, &cache) &&
             jn_mul_ok(cache, kv_row_bytes(hp, kv_type), &cache);
    const size_t per_row[JN_LM_N_BUFFERS - 2] = {E, E, QD, KVD, KVD, QD, E, FF, FF};
    out[0] = out[1] = cache;
    for (int i = 0; i < JN_LM_N_BUFFERS - 2; i++) ok = ok && jn_mul_ok(R * sizeof(float), per_row[i], &out[2 + i]);
    return ok;
}

size_t jn_lm_session_bytes(const jn_lm_hparams *hp, int n_seq_max, int n_ctx, int n_tok_max, jn_dtype kv_type,
                           size_t *kv_bytes) {
    size_t sizes[JN_LM_N_BUFFERS], total = 0;
    if (!lm_buffer_sizes(hp, n_seq_max, n_ctx, n_tok_max, kv_type, sizes)) return SIZE_MAX;
    for (int i = 0; i < JN_LM_N_BUFFERS; i++) total += sizes[i];
    if (kv_bytes) *kv_bytes = sizes[0] + sizes[1];
    return total;
}

jn_lm_session *jn_lm_session_create(jn_backend *be, const jn_lm_hparams *hp, const jn_lm_weights *w, int n_seq_max,
                                    int n_ctx, int n_tok_max, jn_dtype kv_type, jn_error *err) {
    if (check_hparams(hp, err) != JN_OK) return NULL;
    if (kv_type != JN_F32 && kv_type != JN_F16 && kv_type != JN_BF16 && kv_type != JN_Q8_0) {
        jn_fail(err, JN_ERR_USAGE, "KV cache type must be f32, f16, bf16 or q8_0 (got dtype %d)", (int)kv_type);
        return NULL;
    }
    if (kv_type == JN_Q8_0 && !be->kv_q8_0) {
        jn_fail(err, JN_ERR_USAGE, "the %s backend has no q8_0 K/V cache: use --kv-type f16 (or bf16, f32)", be->name);
        return NULL;
    }
    if (kv_type == JN_Q8_0 && kv_row_bytes(hp, kv_type) == 0) {
        jn_fail(err, JN_ERR_USAGE, "a q8_0 K/V cache needs a key/value width in 32-value blocks (this LM has %d x %d)",
                hp->n_kv_head, hp->d_head);
        return NULL;
    }
    if (n_seq_max < 1 || n_ctx < 1 || n_tok_max < 1) {
        jn_fail(err, JN_ERR_USAGE, "LM session sizes must be positive (n_seq_max %d, n_ctx %d, n_tok_max %d)",
                n_seq_max, n_ctx, n_tok_max);
        return NULL;
    }
    if (n_ctx > hp->max_ctx) {
        jn_fail(err, JN_ERR_USAGE, "requested context of %d positions exceeds the model's maximum of %d", n_ctx,
                hp->max_ctx);
        return NULL;
    }
    jn_lm_session *s = calloc(1, sizeof *s);
    if (!s) {
        jn_fail(err, JN_ERR_NOMEM, "out of memory creating the LM session");
        return NULL;
    }
    s->be = be;
    s->hp = hp;
    s->w = w;
    s->n_seq_max = n_seq_max;
    s->n_ctx = n_ctx;
    s->n_tok_max = n_tok_max;
    s->kv_type = kv_type;
    s->kv_row = kv_row_bytes(hp, kv_type);
    s->pos0 = calloc((size_t)n_seq_max, sizeof *s->pos0);
    s->seq_len = calloc((size_t)n_seq_max, sizeof *s->seq_len);
    s->slot_ids = calloc((size_t)n_seq_max, sizeof *s->slot_ids);
    if (!s->pos0 || !s->seq_len || !s->slot_ids) {
        jn_lm_session_free(s);
        jn_fail(err, JN_ERR_NOMEM, "out of memory creating the LM session");
        return NULL;
    }

    size_t sizes[JN_LM_N_BUFFERS];
    if (!lm_buffer_sizes(hp, n_seq_max, n_ctx, n_tok_max, kv_type, sizes)) {
        jn_lm_session_free(s);
        jn_fail(err, JN_ERR_USAGE, "KV cache size overflows (n_seq %d x n_ctx %d)", n_seq_max, n_ctx);
        return NULL;
    }
    /* in lm_buffer_sizes' order: K cache, V cache, then the activations */
    void *mem[JN_LM_N_BUFFERS] = {0};
    for (int i = 0; i < JN_LM_N_BUFFERS; i++) {
        mem[i] = be->alloc(be, sizes[i]);
        if (!mem[i]) {
            for (int j = 0; j < i; j++) be->free(be, mem[j]);
            jn_lm_session_free(s);
            jn_fail(err, JN_ERR_NOMEM,
                    "out of %s memory allocating the LM %s (%.1f MiB; n_seq %d, n_ctx %d, n_tok_max %d)", be->name,
                    i == 0 ? "K cache" : i == 1 ? "V cache" : "activations", (double)sizes[i] / (1024.0 * 1024.0),
                    n_seq_max, n_ctx, n_tok_max);
            return NULL;
        }
        s->nbytes += sizes[i];
    }
    s->k_cache = mem[0];
    s->v_cache = mem[1];
    s->cur = mem[2];
    s->xn = mem[3];
    s->q = mem[4];
    s->k = mem[5];
    s->v = mem[6];
    s->att = mem[7];
    s->tmp = mem[8];
    s->gate = mem[9];
    s->up = mem[10];
    return s;
}

void jn_lm_session_free(jn_lm_session *s) {
    if (!s) return;
    void *bufs[] = {s->k_cache, s->v_cache, s->cur, s->xn, s->q, s->k, s->v, s->att, s->tmp, s->gate, s->up};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) s->be->free(s->be, bufs[i]);
    free(s->pos0);
    free(s->seq_len);
    free(s->slot_ids);
    free(s);
}

void jn_lm_session_reset(jn_lm_session *s) {
    for (int i = 0; i < s->n_seq_max; i++) s->seq_len[i] = 0;
}
int jn_lm_session_n_past(const jn_lm_session *s) { return s->seq_len[0]; }
void jn_lm_session_truncate(jn_lm_session *s, int n_past) {
    JN_ASSERT(n_past >= 0);
    for (int i = 0; i < s->n_seq_max; i++)
        if (s->seq_len[i] > n_past) s->seq_len[i] = n_past;
}
int jn_lm_session_n_seq_max(const jn_lm_session *s) { return s->n_seq_max; }
int jn_lm_session_n_ctx(const jn_lm_session *s) { return s->n_ctx; }
int jn_lm_seq_len(const jn_lm_session *s, int slot) {
    JN_ASSERT(slot >= 0 && slot < s->n_seq_max);
    return s->seq_len[slot];
}
void jn_lm_seq_truncate(jn_lm_session *s, int slot, int n_past) {
    JN_ASSERT(slot >= 0 && slot < s->n_seq_max && n_past >= 0);
    if (s->seq_len[slot] > n_past) s->seq_len[slot] = n_past;
}
void jn_lm_seq_copy(jn_lm_session *s, int dst, int src) {
    JN_ASSERT(dst >= 0 && dst < s->n_seq_max && src >= 0 && src < s->n_seq_max);
    if (dst == src) return;
    /* byte strides */
    const size_t seq_stride = (size_t)s->n_ctx * s->kv_row;
    const size_t layer_stride = (size_t)s->n_seq_max * seq_stride, n = (size_t)s->seq_len[src] * s->kv_row;
    for (int l = 0; l < s->hp->n_layer && n; l++) {
        size_t off = (size_t)l * layer_stride;
        s->be->copy(s->be, s->k_cache + off + (size_t)dst * seq_stride, s->k_cache + off + (size_t)src * seq_stride, n);
        s->be->copy(s->be, s->v_cache + off + (size_t)dst * seq_stride, s->v_cache + off + (size_t)src * seq_stride, n);
    }
    s->seq_len[dst] = s->seq_len[src];
}
void jn_lm_seq_transfer(jn_lm_session *dst, int dst_slot, const jn_lm_session *src, int src_slot) {
    JN_ASSERT(dst->hp == src->hp && dst->be == src->be && dst->kv_type == src->kv_type && dst_slot >= 0 && dst_slot < dst->n_seq_max && src_slot >= 0 &&
              src_slot < src->n_seq_max);
    const size_t row = src->kv_row; /* bytes per position */
    const int n = src->seq_len[src_slot] < dst->n_ctx ? src->seq_len[src_slot] : dst->n_ctx;
    for (int l = 0; l < src->hp->n_layer && n > 0; l++) {
        size_t so = ((size_t)l * src->n_seq_max + (size_t)src_slot) * src->n_ctx * row;
        size_t d0 = ((size_t)l * dst->n_seq_max + (size_t)dst_slot) * dst->n_ctx * row;
        src->be->copy(src->be, dst->k_cache + d0, src->k_cache + so, (size_t)n * row);
        src->be->copy(src->be, dst->v_cache + d0, src->v_cache + so, (size_t)n * row);
    }
    dst->seq_len[dst_slot] = n;
}

size_t jn_lm_session_nbytes(const jn_lm_session *s) { return s->nbytes; }

/* ------------------------------------------------------------------ forward */

jn_status jn_lm_forward(jn_lm_session *s, const float *x, int n_seq, int n_tok, float *hidden, int last_only,
                        jn_error *err) {
    if (n_seq < 1 || n_seq > s->n_seq_max)
        return jn_fail(err, JN_ERR_USAGE, "LM forward: n_seq %d out of range (session holds %d sequences)", n_seq,
                       s->n_seq_max);
    for (int i = 0; i < n_seq; i++) s->slot_ids[i] = i;
    return jn_lm_forward_slots(s, x, s->slot_ids, n_seq, n_tok, hidden, last_only, err);
}

jn_status jn_lm_forward_slots(jn_lm_session *s, const float *x, const int *slots, int n_seq, int n_tok, float *hidden,
                              int last_only, jn_error *err) {
    jn_backend *be = s->be;
    const jn_lm_hparams *hp = s->hp;
    const jn_lm_weights *w = s->w;
    if (n_seq < 1 || n_tok < 1 || n_seq > s->n_seq_max)
        return jn_fail(err, JN_ERR_USAGE, "LM forward: n_seq %d / n_tok %d out of range (session holds %d sequences)",
                       n_seq, n_tok, s->n_seq_max);
    if ((int64_t)n_seq * n_tok > s->n_tok_max)
        return jn_fail(err, JN_ERR_USAGE,
                       "LM forward: %d sequences x %d tokens = %lld rows exceed the session's %d rows per call",
                       n_seq, n_tok, (long long)n_seq * n_tok, s->n_tok_max);
    for (int i = 0; i < n_seq; i++) {
        if (slots[i] < 0 || slots[i] >= s->n_seq_max)
            return jn_fail(err, JN_ERR_USAGE, "LM forward: sequence slot %d out of range [0, %d)", slots[i],
                           s->n_seq_max);
        for (int j = 0; j < i; j++)
            if (slots[j] == slots[i]) return jn_fail(err, JN_ERR_USAGE, "LM forward: sequence slot %d given twice", slots[i]);
        if ((int64_t)s->seq_len[slots[i]] + n_tok > s->n_ctx)
            return jn_fail(err, JN_ERR_USAGE,
                           "context overflow: %d cached positions + %d new tokens exceed the context size of %d",
                           s->seq_len[slots[i]], n_tok, s->n_ctx);
    }

    const int E = hp->n_embd, D = hp->d_head, H = hp->n_head, KVH = hp->n_kv_head;
    const int QD = H * D, KVD = KVH * D, FF = hp->n_ff;
    const int R = n_seq * n_tok;           /* rows in this call */
    const size_t seq_stride = (size_t)s->n_ctx * KVD;             /* elements between sequences in a layer's cache */
    const size_t layer_bytes = (size_t)s->n_seq_max * s->n_ctx * s->kv_row; /* bytes between layers */
    const float scale = 1.0f / sqrtf((float)D);
    const int gather_last = last_only && n_tok > 1; /* last layer: only the last row of each sequence goes on */

    /* pos0[i]: position of the first new token of input sequence i (its slot's cached length) */
    for (int i = 0; i < n_seq; i++) s->pos0[i] = s->seq_len[slots[i]];

    float *cur = s->cur; /* [R, E] residual stream */
    be->copy(be, cur, x, (size_t)R * E * sizeof(float));

    for (int l = 0; l < hp->n_layer; l++) {
        const jn_lm_layer *L = &w->layers[l];
        const int last_layer = (l == hp->n_layer - 1);
        uint8_t *kc = s->k_cache + (size_t)l * layer_bytes; /* [n_seq_max][n_ctx][KVD] */
        uint8_t *vc = s->v_cache + (size_t)l * layer_bytes;

        /* ---- attention ---- */
        be->rms_norm(be, s->xn, cur, L->attn_norm, R, E, hp->rms_eps); /* xn: [R, E] */
        be->matmul(be, s->k, s->xn, L->wk, NULL, R);                    /* k: [R, KVD] */
        be->matmul(be, s->v, s->xn, L->wv, NULL, R);                    /* v: [R, KVD] */
        be->rope(be, s->k, n_seq, n_tok, KVH, D, KVD, s->pos0, hp->rope_theta);
        for (int i = 0; i < n_seq; i++) { /* append the new rows of input sequence i to its slot */
            size_t at = ((size_t)slots[i] * s->n_ctx + (size_t)s->seq_len[slots[i]]) * s->kv_row;
            be->copy2d_kv(be, kc + at, s->kv_type, KVD, s->k + (size_t)i * n_tok * KVD, KVD, n_tok, KVD, NULL);
            be->copy2d_kv(be, vc + at, s->kv_type, KVD, s->v + (size_t)i * n_tok * KVD, KVD, n_tok, KVD, NULL);
        }

        int nq = n_tok, Rq = R; /* query rows per sequence / in total */
        if (last_layer && gather_last) {
            /* Only the last position of each sequence is needed from here on: gather those rows of
             * the normed input and of the residual stream (row sq*n_tok + n_tok-1 → row sq). */
            nq = 1;
            Rq = n_seq;
            be->copy2d(be, s->tmp, E, s->xn + (size_t)(n_tok - 1) * E, n_tok * E, n_seq, E);
            be->copy(be, s->xn, s->tmp, (size_t)n_seq * E * sizeof(float));
            be->copy2d(be, s->tmp, E, cur + (size_t)(n_tok - 1) * E, n_tok * E, n_seq, E);
            be->copy(be, cur, s->tmp, (size_t)n_seq * E * sizeof(float));
            for (int i = 0; i < n_seq; i++) s->pos0[i] = s->seq_len[slots[i]] + n_tok - 1;
        }
        be->matmul(be, s->q, s->xn, L->wq, NULL, Rq); /* q: [Rq, QD] */
        be->rope(be, s->q, n_seq, nq, H, D, QD, s->pos0, hp->rope_theta);
        /* one attention call per run of consecutive slots with equal lengths (all rows of a CFG
         * batch are one run; continuous batching gives shorter runs) */
        for (int i0 = 0; i0 < n_seq;) {
            int i1 = i0 + 1;
            while (i1 < n_seq && slots[i1] == slots[i1 - 1] + 1 && s->seq_len[slots[i1]] == s->seq_len[slots[i0]]) i1++;
            const size_t kv0 = (size_t)slots[i0] * s->n_ctx * s->kv_row, q0 = (size_t)i0 * nq * QD;
            be->attention_kv(be, s->att + q0, s->q + q0, kc + kv0, vc + kv0, s->kv_type, i1 - i0, nq,
                             s->seq_len[slots[i0]] + n_tok, H, D, QD, KVD, seq_stride, QD, 1, scale, NULL);
            i0 = i1;
        }
        be->matmul(be, s->tmp, s->att, L->wo, NULL, Rq); /* tmp: [Rq, E] */
        be->add(be, cur, cur, s->tmp, (size_t)Rq * E);

        /* ---- MLP ---- */
        be->rms_norm(be, s->xn, cur, L->ffn_norm, Rq, E, hp->rms_eps);
        be->matmul(be, s->gate, s->xn, L->w_gate, NULL, Rq); /* gate: [Rq, FF] */
        be->matmul(be, s->up, s->xn, L->w_up, NULL, Rq);     /* up: [Rq, FF] */
        be->swiglu(be, s->gate, s->gate, s->up, (size_t)Rq * FF);
        be->matmul(be, s->tmp, s->gate, L->w_down, NULL, Rq); /* tmp: [Rq, E] */
        be->add(be, cur, cur, s->tmp, (size_t)Rq * E);

        if (last_layer) {
            /* ---- final norm ---- */
            /* Rq == n_seq when last_only (gathered above, or n_tok == 1), else Rq == R */
            be->rms_norm(be, hidden, cur, w->norm, Rq, E, hp->rms_eps); /* hidden: [Rq, E] */
        }
    }
    for (int i = 0; i < n_seq; i++) s->seq_len[slots[i]] += n_tok;
    return JN_OK;
}

void jn_lm_logits(jn_lm_session *s, const float *hidden, int M, float *logits) {
    s->be->matmul(s->be, logits, hidden, s->w->lm_head, NULL, M); /* logits: [M, n_vocab] */
}

void jn_lm_embed(jn_lm_session *s, const int32_t *ids_host, int n, float *out) {
    s->be->get_rows(s->be, out, s->w->tok_embd, ids_host, n); /* out: [n, n_embd] */
}
