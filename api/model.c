/* api/model.c — loading a converted GGUF into a janus_model: hyperparameters from explicit
 * metadata (a missing key is an error, nothing is guessed from shapes), every tensor bound with
 * its expected shape, the tokenizer and prompt template from the same file, weights handed to the
 * chosen backend (mmapped and used in place on the CPU). */
#define _POSIX_C_SOURCE 200809L
#include "session.h"
#include "convert.h"

#include "decoder/table.h"
#include "vision/table.h"
#include "vq_tokenizer/table.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(janus_error) == sizeof(jn_error), "janus_error must mirror jn_error");
_Static_assert(offsetof(janus_error, msg) == offsetof(jn_error, msg), "janus_error must mirror jn_error");

janus_load_params janus_load_default_params(void) {
    janus_load_params p = {0};
    p.backend = "cpu";
    p.n_threads = 0;
    return p;
}

static jn_status read_hparams(janus_model *m, jn_error *err) {
    const jn_gguf *g = m->gguf;
    jn_status st = JN_OK;
    const char *arch;
    size_t arch_len;
    if ((st = jn_gguf_get_str(g, "general.architecture", &arch, &arch_len, err))) return st;
    if (arch_len != 9 || memcmp(arch, "janus-pro", 9))
        return jn_fail(err, JN_ERR_FORMAT, "%s: general.architecture is '%.*s', expected 'janus-pro'", m->path,
                       (int)arch_len, arch);
    const char *name;
    size_t name_len;
    if (jn_gguf_find_kv(g, "general.name") >= 0 && jn_gguf_get_str(g, "general.name", &name, &name_len, NULL) == JN_OK)
        snprintf(m->name, sizeof m->name, "%.*s", (int)name_len, name);
    else
        snprintf(m->name, sizeof m->name, "janus-pro");

    /* each component reads and range-checks its own keys (its table); here only the facts that
     * tie components together */
    jn_lm_hparams *lm = &m->lm_hp;
    if ((st = jn_lm_hparams_from_gguf(g, lm, err))) return st;
    jn_vision_hparams *v = &m->vis_hp;
    if ((st = jn_vision_hparams_from_gguf(g, v, err))) return st;
    if (v->aligner_out != lm->n_embd)
        return jn_fail(err, JN_ERR_FORMAT, "%s: janus.aligner.n_embd %d != janus.lm.n_embd %d", m->path, v->aligner_out,
                       lm->n_embd);
    jn_gen_hparams *gh = &m->gen_hp;
    if ((st = jn_keys_read(g, jn_gen_keys, jn_gen_n_keys, gh, err))) return st;
    if (gh->n_embd != lm->n_embd || gh->head_in != lm->n_embd)
        return jn_fail(err, JN_ERR_FORMAT, "%s: janus.gen_aligner.n_embd %d / janus.gen_head.n_embd %d != janus.lm.n_embd %d",
                       m->path, gh->n_embd, gh->head_in, lm->n_embd);
    jn_vq_hparams *q = &m->vq_hp;
    if ((st = jn_vq_hparams_from_gguf(g, q, err))) return st;
    if (q->codebook_size != gh->codebook_size)
        return jn_fail(err, JN_ERR_FORMAT, "%s: janus.vq.codebook_size %d != janus.gen_head.image_token_size %d", m->path,
                       q->codebook_size, gh->codebook_size);
    if (q->codebook_dim != gh->codebook_dim)
        return jn_fail(err, JN_ERR_FORMAT, "%s: janus.vq.codebook_dim %d != janus.gen_aligner.input_dim %d", m->path,
                       q->codebook_dim, gh->codebook_dim);
    if ((st = jn_image_cfg_from_gguf(g, v, &m->image, err))) return st;
    jn_chat_template *p = &m->prompt;
    if ((st = jn_keys_read(g, jn_chat_keys, jn_chat_n_keys, p, err))) return st;
    for (size_t i = 0; i < jn_chat_n_keys; i++) { /* the token ids (the table's integer keys) index embed_tokens */
        const jn_key_spec *k = &jn_chat_keys[i];
        if (k->field != JN_FIELD_INT) continue;
        int id = *(const int *)(const void *)((const char *)p + k->offset);
        if (id >= lm->n_vocab)
            return jn_fail(err, JN_ERR_FORMAT, "%s: metadata '%s' = %d is outside the vocabulary (janus.lm.n_vocab %d)",
                           m->path, k->key, id, lm->n_vocab);
    }
    if ((st = jn_keys_read(g, janus_general_keys, janus_general_n_keys, NULL, err))) return st;
    return jn_keys_read(g, jn_tokenizer_keys, jn_tokenizer_n_keys, NULL, err);
}

static jn_status load_tokenizer(janus_model *m, jn_error *err) {
    const char *tj, *cj = NULL;
    size_t tl, cl = 0;
    jn_status st = jn_gguf_get_str(m->gguf, "tokenizer.huggingface.json", &tj, &tl, err);
    if (st) return st;
    if (jn_gguf_find_kv(m->gguf, "janus.tokenizer.config_json") >= 0)
        if ((st = jn_gguf_get_str(m->gguf, "janus.tokenizer.config_json", &cj, &cl, err))) return st;
    m->tokenizer.tok = jn_tokenizer_load(tj, tl, cj, cl, err);
    if (!m->tokenizer.tok) return jn_error_prefix(err, "%s: tokenizer", m->path);
    m->tokenizer.owned = 0;
    /* token ids index embed_tokens rows unchecked (jn_lm_embed): the tokenizer must fit the vocabulary */
    if (jn_tokenizer_vocab_size(m->tokenizer.tok) > (size_t)m->lm_hp.n_vocab)
        return jn_fail(err, JN_ERR_FORMAT, "%s: the tokenizer has ids up to %zu, beyond janus.lm.n_vocab %d", m->path,
                       jn_tokenizer_vocab_size(m->tokenizer.tok) - 1, m->lm_hp.n_vocab);
    return JN_OK;
}

/* the text LM head waits for its first use (janus_model_need_text_head) unless it is also the
 * token embedding (tied weights), which every path reads */
static int is_lazy_text_head(const janus_model *m, const jn_weight *w) {
    return w == m->lm_w.lm_head && w != m->lm_w.tok_embd;
}

janus_model *janus_model_load(const char *gguf_path, const janus_load_params *params, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    janus_load_params defaults = janus_load_default_params();
    const janus_load_params *p = params ? params : &defaults;
    if (!gguf_path) {
        jn_fail(err, JN_ERR_USAGE, "janus_model_load: no model path given");
        return NULL;
    }
    janus_model *m = calloc(1, sizeof *m);
    if (!m) {
        jn_fail(err, JN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->head_mu, NULL);
    m->verbose = p->verbose;
    m->n_threads = p->n_threads;
    m->kv_type = JN_F16;
    if (p->kv_type && p->kv_type[0]) {
        int t = jn_dtype_from_name(p->kv_type);
        if (t != JN_F16 && t != JN_Q8_0 && t != JN_BF16 && t != JN_F32) {
            jn_fail(err, JN_ERR_USAGE, "KV cache type '%s' is not one of f16, q8_0, bf16, f32", p->kv_type);
            free(m);
            return NULL;
        }
        m->kv_type = (jn_dtype)t;
    }
    m->path = strdup(gguf_path);
    jn_status st = JN_OK;
    if (!m->path) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); goto fail; }
    if ((st = janus_check_model_path(gguf_path, err))) goto fail; /* a download folder, .bin, ...: say how to convert */
    m->gguf = jn_gguf_open(gguf_path, err);
    if (!m->gguf) { st = err ? err->code : JN_ERR_FORMAT; goto fail; }
    if ((st = read_hparams(m, err))) goto fail;
    m->store = jn_wstore_create(m->gguf, err);
    if (!m->store) { st = err ? err->code : JN_ERR_NOMEM; goto fail; }
    if ((st = jn_lm_bind(&m->lm_w, m->store, &m->lm_hp, err))) goto fail;
    if ((st = jn_gen_bind(&m->gen_w, m->store, &m->gen_hp, err))) goto fail;
    if ((st = jn_vision_bind(&m->vis_w, m->store, &m->vis_hp, err))) goto fail;
    if ((st = jn_vq_bind(&m->vq_w, m->store, &m->vq_hp, err))) goto fail;
    {
        /* the tables bind (and shape-check) what `janus convert --keep-unused` adds; anything else
         * unread means the file and this version of janus disagree about the model */
        if ((st = jn_wstore_check_unused(m->store, NULL, 0, err))) goto fail;
    }
    if ((st = load_tokenizer(m, err))) goto fail;
    /* one thread: this instance only uploads weights; sessions bring their own pools */
    m->be = janus_backend_create(p->backend, 1, err);
    if (!m->be) { st = err ? err->code : JN_ERR_RUNTIME; goto fail; }
    for (int64_t i = 0; i < jn_wstore_count(m->store); i++) {
        jn_weight *w = jn_wstore_at(m->store, i);
        if (is_lazy_text_head(m, w)) continue;
        if ((st = m->be->weight_upload(m->be, w, err))) goto fail;
    }
    m->text_head_ready = !m->lm_w.lm_head || !is_lazy_text_head(m, m->lm_w.lm_head);
    return m;
fail:
    if (err && st) err->code = st;
    janus_model_free(m);
    return NULL;
}

void janus_model_free(janus_model *m) {
    if (!m) return;
    if (m->be) {
        if (m->store)
            for (int64_t i = 0; i < jn_wstore_count(m->store); i++) m->be->weight_release(m->be, jn_wstore_at(m->store, i));
        m->be->destroy(m->be);
    }
    jn_lm_weights_free(&m->lm_w);
    jn_vision_weights_free(&m->vis_w);
    jn_vq_weights_free(&m->vq_w);
    if (m->tokenizer.tok) jn_tokenizer_free(m->tokenizer.tok);
    jn_keys_free(jn_chat_keys, jn_chat_n_keys, &m->prompt);
    jn_wstore_free(m->store);
    jn_gguf_close(m->gguf);
    pthread_mutex_destroy(&m->head_mu);
    free(m->path);
    free(m);
}

jn_status janus_model_need_text_head(janus_model *m, jn_error *err) {
    jn_status st = JN_OK;
    pthread_mutex_lock(&m->head_mu);
    if (!m->text_head_ready) {
        st = m->be->weight_upload(m->be, m->lm_w.lm_head, err);
        m->text_head_ready = st == JN_OK;
    }
    pthread_mutex_unlock(&m->head_mu);
    return st;
}

janus_tokenizer *janus_model_tokenizer(janus_model *m) { return &m->tokenizer; }
const char *janus_model_name(const janus_model *m) { return m->name; }
