/* api/model.c — loading a converted GGUF into a janus_model: hyperparameters from explicit
 * metadata (a missing key is an error, nothing is guessed from shapes), every tensor bound with
 * its expected shape, the tokenizer and prompt template from the same file, weights handed to the
 * chosen backend (mmapped and used in place on the CPU). */
#define _POSIX_C_SOURCE 200809L
#include "session.h"

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

static jn_status get_int(const jn_gguf *g, const char *key, int *out, jn_error *err) {
    uint32_t v;
    jn_status st = jn_gguf_get_u32(g, key, &v, err);
    if (st) return st;
    if (v > (uint32_t)INT32_MAX) return jn_fail(err, JN_ERR_FORMAT, "%s: %s = %u is out of range", jn_gguf_path(g), key, v);
    *out = (int)v;
    return JN_OK;
}

static jn_status get_string(const jn_gguf *g, const char *key, char **out, jn_error *err) {
    const char *s;
    size_t len;
    jn_status st = jn_gguf_get_str(g, key, &s, &len, err);
    if (st) return st;
    *out = malloc(len + 1);
    if (!*out) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    memcpy(*out, s, len);
    (*out)[len] = 0;
    return JN_OK;
}

static jn_status read_hparams(janus_model *m, jn_error *err) {
    const jn_gguf *g = m->gguf;
    jn_status st = JN_OK;
#define I(key, dst) do { if ((st = get_int(g, key, &(dst), err))) return st; } while (0)
#define F(key, dst) do { if ((st = jn_gguf_get_f32(g, key, &(dst), err))) return st; } while (0)
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

    jn_lm_hparams *lm = &m->lm_hp;
    I("janus.lm.n_embd", lm->n_embd);
    I("janus.lm.n_layer", lm->n_layer);
    I("janus.lm.n_head", lm->n_head);
    I("janus.lm.n_kv_head", lm->n_kv_head);
    I("janus.lm.n_ff", lm->n_ff);
    I("janus.lm.n_vocab", lm->n_vocab);
    I("janus.lm.max_ctx", lm->max_ctx);
    F("janus.lm.rms_eps", lm->rms_eps);
    F("janus.lm.rope_theta", lm->rope_theta);
    if (lm->n_head <= 0 || lm->n_embd % lm->n_head)
        return jn_fail(err, JN_ERR_FORMAT, "%s: janus.lm.n_embd %d is not a multiple of n_head %d", m->path, lm->n_embd,
                       lm->n_head);
    lm->d_head = lm->n_embd / lm->n_head;

    /* the components read and validate their own keys */
    jn_vision_hparams *v = &m->vis_hp;
    if ((st = jn_vision_hparams_from_gguf(g, v, err))) return st;
    if (v->aligner_out != lm->n_embd)
        return jn_fail(err, JN_ERR_FORMAT, "%s: janus.aligner.n_embd %d != janus.lm.n_embd %d", m->path, v->aligner_out,
                       lm->n_embd);

    jn_gen_hparams *gh = &m->gen_hp;
    gh->n_embd = lm->n_embd;
    I("janus.gen_head.image_token_size", gh->codebook_size);
    I("janus.gen_head.image_token_embed", gh->head_embd);
    I("janus.vq.codebook_dim", gh->codebook_dim);

    jn_vq_hparams *q = &m->vq_hp;
    if ((st = jn_vq_hparams_from_gguf(g, q, err))) return st;
    if (q->codebook_size != gh->codebook_size)
        return jn_fail(err, JN_ERR_FORMAT, "%s: janus.vq.codebook_size %d != janus.gen_head.image_token_size %d", m->path,
                       q->codebook_size, gh->codebook_size);

    janus_image_cfg *ic = &m->image;
    I("janus.image.size", ic->size);
    I("janus.image.min_size", ic->min_size);
    I("janus.image.num_image_tokens", ic->n_image_tokens);
    {
        int64_t bg[3];
        if ((st = jn_gguf_get_arr_i64(g, "janus.image.background_color", bg, 3, err))) return st;
        for (int c = 0; c < 3; c++) {
            if (bg[c] < 0 || bg[c] > 255)
                return jn_fail(err, JN_ERR_FORMAT, "%s: janus.image.background_color[%d] = %lld", m->path, c, (long long)bg[c]);
            ic->background[c] = (uint8_t)bg[c];
        }
    }
    if ((st = jn_gguf_get_arr_f32(g, "janus.image.mean", ic->mean, 3, err))) return st;
    if ((st = jn_gguf_get_arr_f32(g, "janus.image.std", ic->std, 3, err))) return st;
    if ((st = jn_gguf_get_f64(g, "janus.image.rescale_factor", &ic->rescale, err))) return st;
    int grid = v->image_size / v->patch_size;
    if (ic->size != v->image_size || grid * grid != ic->n_image_tokens)
        return jn_fail(err, JN_ERR_FORMAT,
                       "%s: image size %d / patch %d gives %d tokens, but janus.image.num_image_tokens is %d (image.size %d)",
                       m->path, v->image_size, v->patch_size, grid * grid, ic->n_image_tokens, ic->size);

    janus_prompt_cfg *p = &m->prompt;
    if ((st = get_string(g, "janus.prompt.system", &p->system, err))) return st;
    if ((st = get_string(g, "janus.prompt.sep", &p->sep, err))) return st;
    if ((st = get_string(g, "janus.prompt.sep2", &p->sep2, err))) return st;
    if ((st = get_string(g, "janus.prompt.user_role", &p->user_role, err))) return st;
    if ((st = get_string(g, "janus.prompt.assistant_role", &p->assistant_role, err))) return st;
    if ((st = get_string(g, "janus.prompt.image_tag", &p->image_tag, err))) return st;
    if ((st = get_string(g, "janus.prompt.image_start_tag", &p->image_start_tag, err))) return st;
    if ((st = get_string(g, "janus.prompt.image_end_tag", &p->image_end_tag, err))) return st;
    if ((st = get_string(g, "janus.prompt.pad_tag", &p->pad_tag, err))) return st;
    int tmp;
    I("janus.token.bos", tmp); p->bos = tmp;
    I("janus.token.eos", tmp); p->eos = tmp;
    I("janus.token.pad", tmp); p->pad = tmp;
    I("janus.token.image_placeholder", tmp); p->image_placeholder = tmp;
    I("janus.token.image_start", tmp); p->image_start = tmp;
    I("janus.token.image_end", tmp); p->image_end = tmp;
    int32_t ids[6] = {p->bos, p->eos, p->pad, p->image_placeholder, p->image_start, p->image_end};
    for (int i = 0; i < 6; i++)
        if (ids[i] < 0 || ids[i] >= lm->n_vocab)
            return jn_fail(err, JN_ERR_FORMAT, "%s: special token id %d is outside the vocabulary (%d rows)", m->path,
                           ids[i], lm->n_vocab);
#undef I
#undef F
    return JN_OK;
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
    m->verbose = p->verbose;
    m->n_threads = p->n_threads;
    m->path = strdup(gguf_path);
    jn_status st = JN_OK;
    if (!m->path) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); goto fail; }
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
        /* tensors `janus convert --keep-unused` adds; anything else unread means the file and this
         * version of janus disagree about the model */
        static const char *const kept_unused[] = {"v.attn_pool.", "vq.encoder.", "vq.quant_conv.",
                                                  "vq.quantize.codebook_used"};
        if ((st = jn_wstore_check_unused(m->store, kept_unused, 4, err))) goto fail;
    }
    if ((st = load_tokenizer(m, err))) goto fail;
    /* one thread: this instance only uploads weights; sessions bring their own pools */
    m->be = janus_backend_create(p->backend, 1, err);
    if (!m->be) { st = err ? err->code : JN_ERR_RUNTIME; goto fail; }
    for (int64_t i = 0; i < jn_wstore_count(m->store); i++)
        if ((st = m->be->weight_upload(m->be, jn_wstore_at(m->store, i), err))) goto fail;
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
    janus_prompt_cfg *p = &m->prompt;
    free(p->system); free(p->sep); free(p->sep2); free(p->user_role); free(p->assistant_role);
    free(p->image_tag); free(p->image_start_tag); free(p->image_end_tag); free(p->pad_tag);
    jn_wstore_free(m->store);
    jn_gguf_close(m->gguf);
    free(m->path);
    free(m);
}

janus_tokenizer *janus_model_tokenizer(janus_model *m) { return &m->tokenizer; }
const char *janus_model_name(const janus_model *m) { return m->name; }
