/* api/session.c — janus_session: the per-request state on top of an immutable, shared model.
 *
 * Why: the model (weights, hparams, tokenizer, settings) is loaded once and read by any number of
 * threads; everything a request mutates lives here — the session's own backend instance (thread
 * pool + scratch, or CUDA stream), the understanding conversation (api/understand.c), a
 * generation batch (api/generate.c) and the VQ decoder buffers, all reused between requests. */
#define _POSIX_C_SOURCE 200809L
#include "session.h"

#include <stdlib.h>
#include <string.h>

janus_session_params janus_session_default_params(void) {
    janus_session_params p;
    memset(&p, 0, sizeof p);
    p.max_rows = 8;
    return p;
}

jn_backend *janus_backend_create(const char *name, int n_threads, jn_error *err) {
    if (!name) name = "cpu";
    if (!strcmp(name, "cpu")) return jn_backend_cpu_create(n_threads, err);
    if (!strcmp(name, "cuda")) return jn_backend_cuda_create(0, err);
    if (!strcmp(name, "ref")) return jn_backend_ref_create(err);
    jn_fail(err, JN_ERR_USAGE, "unknown backend '%s' (expected cpu or cuda)", name);
    return NULL;
}

janus_session *janus_session_create(janus_model *m, const janus_session_params *params, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    janus_session_params defaults = janus_session_default_params();
    const janus_session_params *p = params ? params : &defaults;
    if (!m) {
        jn_fail(err, JN_ERR_USAGE, "janus_session_create: no model");
        return NULL;
    }
    /* weights were uploaded by the model's backend: a session computes with the same kind */
    if (p->backend && strcmp(p->backend, m->be->name)) {
        jn_fail(err, JN_ERR_USAGE, "session backend '%s' differs from the model's '%s' (load the model with it)",
                p->backend, m->be->name);
        return NULL;
    }
    if (p->max_ctx > m->lm_hp.max_ctx) {
        jn_fail(err, JN_ERR_USAGE, "session context %d exceeds the model's context of %d", p->max_ctx, m->lm_hp.max_ctx);
        return NULL;
    }
    janus_session *s = calloc(1, sizeof *s);
    if (!s) {
        jn_fail(err, JN_ERR_NOMEM, "out of memory creating a session");
        return NULL;
    }
    s->m = m;
    s->max_rows = p->max_rows > 0 ? p->max_rows : defaults.max_rows;
    s->max_ctx = p->max_ctx > 0 ? p->max_ctx : m->lm_hp.max_ctx;
    s->be = janus_backend_create(m->be->name, p->n_threads > 0 ? p->n_threads : m->n_threads, err);
    if (!s->be) {
        free(s);
        return NULL;
    }
    return s;
}

void janus_session_free(janus_session *s) {
    if (!s) return;
    if (s->gen) janus_gen_batch_free(s->gen);
    janus_chat_free_state(s);
    jn_vq_session_free(s->vq);
    free(s->vq_chw);
    s->be->destroy(s->be);
    free(s);
}

janus_model *janus_session_model(janus_session *s) { return s->m; }

void janus_session_get_stats(const janus_session *s, janus_session_stats *out) { *out = s->stats; }

jn_status janus_session_check_backend(janus_session *s, jn_error *err) {
    return jn_backend_cuda_last_error(s->be, err);
}

int janus_session_decode(janus_session *s, const int32_t *tokens, int n_images, janus_image **images,
                         janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    janus_model *m = s->m;
    const int grid = JANUS_GEN_GRID, n_tok = grid * grid;
    *images = NULL;
    if (n_images < 1) return jn_fail(err, JN_ERR_USAGE, "no image tokens to decode");
    for (size_t i = 0; i < (size_t)n_images * n_tok; i++)
        if (tokens[i] < 0 || tokens[i] >= m->vq_hp.codebook_size)
            return jn_fail(err, JN_ERR_USAGE, "image token %d (image %zu, position %zu) is outside the codebook [0, %d)",
                           tokens[i], i / n_tok, i % n_tok, m->vq_hp.codebook_size);
    if (!s->vq) { /* buffers made once per session, reused by every later decode */
        s->vq = jn_vq_session_create(s->be, &m->vq_hp, &m->vq_w, grid, err);
        if (!s->vq) return err->code ? err->code : JN_ERR_NOMEM;
        /* output side from the decoder's own level count (grid * 2^(n_levels-1); 384 for Janus-Pro) */
        int HW = jn_vq_session_out_size(s->vq);
        s->vq_chw = malloc((size_t)3 * HW * HW * sizeof(float));
        if (!s->vq_chw) {
            jn_vq_session_free(s->vq);
            s->vq = NULL;
            return jn_fail(err, JN_ERR_NOMEM, "out of memory for the VQ decoder output");
        }
    }
    const int HW = jn_vq_session_out_size(s->vq);
    janus_image *imgs = calloc((size_t)n_images, sizeof *imgs);
    if (!imgs) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    jn_status st = JN_OK;
    for (int i = 0; i < n_images && !st; i++) {
        double t0 = jn_time_s();
        if ((st = jn_vq_decode(s->vq, tokens + (size_t)i * n_tok, s->vq_chw, err))) break;
        if ((st = janus_session_check_backend(s, err))) break;
        imgs[i].width = imgs[i].height = HW;
        imgs[i].rgb = malloc((size_t)HW * HW * 3);
        if (!imgs[i].rgb) {
            st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
            break;
        }
        jn_vq_to_rgb8(s->vq_chw, HW, HW, imgs[i].rgb);
        s->stats.images_decoded++;
        s->stats.vq_s += jn_time_s() - t0;
    }
    if (st) {
        janus_images_free(imgs, n_images);
        return st;
    }
    *images = imgs;
    return JN_OK;
}

int janus_decode_tokens(janus_model *m, const int32_t *tokens, int n_images, janus_image **images, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    *images = NULL;
    janus_session *s = janus_session_create(m, NULL, (janus_error *)err);
    if (!s) return err->code ? err->code : JN_ERR_NOMEM;
    int st = janus_session_decode(s, tokens, n_images, images, (janus_error *)err);
    janus_session_free(s);
    return st;
}
