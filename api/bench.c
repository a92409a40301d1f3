/* api/bench.c — `janus bench`: times the pieces of both pipelines on the loaded model. Random
 * inputs cost the same as real ones; with a full-size random-weight checkpoint this measures what
 * a real model costs. */
#define _POSIX_C_SOURCE 200809L
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "engine/rng.h"

janus_bench_params janus_bench_default_params(void) {
    janus_bench_params p;
    memset(&p, 0, sizeof p);
    p.vision = 1;
    p.text = 1;
    p.prefill_tokens = 600;
    p.decode_tokens = 32;
    p.gen_images = 1;
    p.gen_steps = 576;
    p.vq = 1;
    return p;
}

static jn_status bench_vision(janus_session *sess, janus_bench_result *r, jn_error *err) {
    janus_model *m = sess->m;
    jn_backend *be = sess->be;
    int S = m->image.size, N = m->image.n_image_tokens;
    float *px = malloc((size_t)3 * S * S * sizeof(float));
    float *aligned = be->alloc(be, (size_t)N * m->lm_hp.n_embd * sizeof(float));
    jn_vision_session *vs = jn_vision_session_create(be, &m->vis_hp, &m->vis_w, 1, err);
    jn_status st = JN_OK;
    if (!px || !aligned || !vs) {
        st = vs ? jn_fail(err, JN_ERR_NOMEM, "out of memory") : err->code;
        goto done;
    }
    for (int i = 0; i < 3 * S * S; i++) px[i] = 2.0f * jn_rng_uniform(1, 0, (uint64_t)i) - 1.0f;
    double t0 = jn_time_s();
    st = jn_vision_encode(vs, px, 1, NULL, aligned, err);
    be->synchronize(be);
    r->vision_s = jn_time_s() - t0;
done:
    jn_vision_session_free(vs);
    be->free(be, aligned);
    free(px);
    return st;
}

static jn_status bench_text(janus_session *sess, const janus_bench_params *p, janus_bench_result *r, jn_error *err) {
    janus_model *m = sess->m;
    jn_backend *be = sess->be;
    int E = m->lm_hp.n_embd, V = m->lm_hp.n_vocab, T = p->prefill_tokens, D = p->decode_tokens;
    jn_status st0 = janus_model_need_text_head(m, err);
    if (st0) return st0;
    jn_lm_session *ls = jn_lm_session_create(be, &m->lm_hp, &m->lm_w, 1, T + D, T, m->kv_type, err);
    float *x = be->alloc(be, (size_t)T * E * sizeof(float));
    float *h = be->alloc(be, (size_t)E * sizeof(float));
    float *lg = be->alloc(be, (size_t)V * sizeof(float));
    int32_t *ids = malloc((size_t)T * sizeof(int32_t));
    float *host = malloc((size_t)V * sizeof(float));
    jn_status st = JN_OK;
    if (!ls || !x || !h || !lg || !ids || !host) {
        st = ls ? jn_fail(err, JN_ERR_NOMEM, "out of memory") : err->code;
        goto done;
    }
    for (int i = 0; i < T; i++) ids[i] = (int32_t)(jn_rng_uniform(2, 0, (uint64_t)i) * (float)(V - 1));
    jn_lm_embed(ls, ids, T, x);
    double t0 = jn_time_s();
    if ((st = jn_lm_forward(ls, x, 1, T, h, 1, err))) goto done;
    jn_lm_logits(ls, h, 1, lg);
    be->download(be, host, lg, (size_t)V * sizeof(float));
    r->prefill_tok_per_s = T / (jn_time_s() - t0);
    t0 = jn_time_s();
    for (int i = 0; i < D; i++) {
        jn_lm_embed(ls, &ids[i % T], 1, x); /* the prompt's ids again (D may exceed T) */
        if ((st = jn_lm_forward(ls, x, 1, 1, h, 1, err))) goto done;
        jn_lm_logits(ls, h, 1, lg);
        be->download(be, host, lg, (size_t)V * sizeof(float));
        if (p->progress) p->progress(p->progress_user, "text decode", i + 1, D);
    }
    r->decode_tok_per_s = D / (jn_time_s() - t0);
done:
    jn_lm_session_free(ls);
    be->free(be, x);
    be->free(be, h);
    be->free(be, lg);
    free(ids);
    free(host);
    return st;
}

typedef struct {
    janus_bench_params p;
    double t_start, t_first, t_last;
    int steps;
} gen_timer;

static int gen_progress(void *user, const char *what, long done, long total) {
    gen_timer *g = user;
    double now = jn_time_s();
    if (done == 1) g->t_first = now;
    g->t_last = now;
    g->steps = (int)done;
    if (g->p.progress) g->p.progress(g->p.progress_user, what, done, total);
    /* stop early (cancel) once the requested number of steps is timed */
    return done >= g->p.gen_steps && done < total;
}

int janus_bench(janus_model *m, const janus_bench_params *p, janus_bench_result *r, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    memset(r, 0, sizeof *r);
    jn_status st = JN_OK;
    if (p->vision || p->text) {
        janus_session *s = janus_session_create(m, NULL, perr);
        if (!s) return err->code ? err->code : JN_ERR_NOMEM;
        if (p->vision) st = bench_vision(s, r, err);
        if (!st && p->text) st = bench_text(s, p, r, err);
        janus_session_free(s);
        if (st) return st;
    }
    if (p->vq) {
        int32_t ids[576];
        for (int i = 0; i < 576; i++) ids[i] = (int32_t)(jn_rng_uniform(3, 0, (uint64_t)i) * (float)(m->vq_hp.codebook_size - 1));
        janus_image *img = NULL;
        double t0 = jn_time_s();
        if ((st = janus_decode_tokens(m, ids, 1, &img, perr))) return st;
        r->vq_decode_s = jn_time_s() - t0;
        janus_images_free(img, 1);
    }
    if (p->gen_images > 0) {
        gen_timer g = {*p, 0, 0, 0, 0};
        if (g.p.gen_steps < 2 || g.p.gen_steps > 576) g.p.gen_steps = 576;
        janus_gen_params gp = janus_gen_default_params();
        gp.prompt = "A close-up photo of a sunflower blooming in the sun with a bee on it.";
        gp.n_images = p->gen_images;
        gp.progress = gen_progress;
        gp.progress_user = &g;
        g.t_start = jn_time_s();
        int32_t *tokens = NULL;
        st = janus_generate(m, &gp, NULL, &tokens, perr);
        free(tokens);
        if (st && g.steps < g.p.gen_steps) return st; /* a real failure, not our cancel */
        jn_error_clear(err);
        r->gen_prefill_s = g.t_first - g.t_start;           /* prefill + first head */
        r->gen_step_s = (g.t_last - g.t_first) / (g.steps - 1);
        r->gen_image_s = (r->gen_prefill_s + 576 * r->gen_step_s) / p->gen_images + r->vq_decode_s;
    }
    r->peak_rss_bytes = jn_peak_rss_bytes();
    return JN_OK;
}
