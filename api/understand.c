/* api/understand.c — image question answering (janus-spec §2): template with the system prompt,
 * BPE ids with BOS, each <image_placeholder> expanded to <begin_of_image> + 576 placeholders +
 * <end_of_image>, images decoded and preprocessed exactly, SigLIP + aligner, image rows written
 * over the placeholder embeddings, LLaMA prefill + KV-cache decode, greedy or sampled, streamed.
 *
 * Phases, shared by the three entry points: encode images (once per image) -> build the
 * conversation's ids -> prefill what the KV cache does not hold yet -> decode steps (one batched
 * forward over every live sequence) -> detokenize. janus_chat_* keeps one conversation in the
 * session; janus_ask_batch_* runs independent questions side by side (captioning); janus_ask is a
 * one-shot conversation on a temporary session. */
#define _POSIX_C_SOURCE 200809L
#include "session.h"
#include "decoder/chat_template.h"

#include <stdlib.h>
#include <string.h>

#include "engine/io/image_io.h"
#include "engine/io/json.h"
#include "engine/rng.h"
#include "engine/sample.h"
#include "vision/preprocess.h"

janus_ask_params janus_ask_default_params(void) {
    janus_ask_params p;
    memset(&p, 0, sizeof p);
    p.at_seconds = -1;
    p.max_tokens = 512;
    p.temperature = 0.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.seed = 42;
    return p;
}

/* Decodes and preprocesses image i into pixels [3, S, S]. */
static jn_status load_pixels(janus_model *m, const char *path, double at, float *pixels, jn_error *err) {
    jn_rgb_image img = {0}, sq = {0};
    jn_status st = jn_image_decode_file(path, at, &img, err);
    if (st) return st;
    st = jn_preprocess_image(&img, m->image.size, m->image.min_size, m->image.background, &sq, err);
    jn_rgb_image_free(&img);
    if (st) return jn_error_prefix(err, "%s", path);
    jn_pixels_normalize(&sq, m->image.mean, m->image.std, m->image.rescale, pixels);
    jn_rgb_image_free(&sq);
    return JN_OK;
}

/* ---------------------------------------------------------------- prompt ids */

/* question with one image tag (+ "\n") per image in front, unless it has tags already.
 * malloc'ed; NULL on out of memory. */
static char *with_image_tags(const jn_chat_template *pc, const char *question, int n_tags) {
    jn_buf b = {0};
    if (!strstr(question, pc->image_tag))
        for (int i = 0; i < n_tags; i++) {
            jn_buf_puts(&b, pc->image_tag);
            jn_buf_puts(&b, "\n");
        }
    jn_buf_puts(&b, question);
    jn_buf_append(&b, "", 1);
    if (b.oom) {
        jn_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* The conversation's ids with every image placeholder expanded to <begin_of_image> + N
 * placeholders + <end_of_image>: system prompt, the earlier turns, the new user turn `user` and an
 * empty assistant turn. n_images: images in the whole conversation (one per tag). *ids malloc'ed. */
static jn_status conversation_ids(janus_model *m, const janus_turn_text *history, int n_history, const char *user,
                                  int n_images, int32_t **ids_out, size_t *n_out, jn_error *err) {
    const jn_chat_template *pc = &m->prompt;
    int n_turns = 2 * n_history + 2;
    jn_chat_turn *turns = malloc((size_t)n_turns * sizeof *turns);
    if (!turns) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n_history; i++) {
        turns[2 * i] = (jn_chat_turn){pc->user_role, history[i].user ? history[i].user : ""};
        turns[2 * i + 1] = (jn_chat_turn){pc->assistant_role, history[i].assistant ? history[i].assistant : ""};
    }
    turns[n_turns - 2] = (jn_chat_turn){pc->user_role, user};
    turns[n_turns - 1] = (jn_chat_turn){pc->assistant_role, ""};
    char *text = jn_chat_format(pc, pc->system, turns, n_turns);
    free(turns);
    if (!text) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    int32_t *raw = NULL;
    size_t n_raw = 0;
    jn_status st = jn_tokenizer_encode(m->tokenizer.tok, text, strlen(text), 1, &raw, &n_raw, err);
    free(text);
    if (st) return st;
    size_t n_ph = 0;
    for (size_t i = 0; i < n_raw; i++) n_ph += raw[i] == pc->image_placeholder;
    if ((int)n_ph != n_images) {
        free(raw);
        return jn_fail(err, JN_ERR_USAGE, "the conversation has %zu %s tag(s) but %d image(s) were given", n_ph,
                       pc->image_tag, n_images);
    }
    size_t n_tok_img = (size_t)m->image.n_image_tokens;
    int32_t *ids = malloc((n_raw + n_ph * (n_tok_img + 1)) * sizeof *ids);
    if (!ids) {
        free(raw);
        return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < n_raw; i++) {
        if (raw[i] != pc->image_placeholder) {
            ids[k++] = raw[i];
            continue;
        }
        ids[k++] = pc->image_start;
        for (size_t j = 0; j < n_tok_img; j++) ids[k++] = pc->image_placeholder;
        ids[k++] = pc->image_end;
    }
    free(raw);
    *ids_out = ids;
    *n_out = k;
    return JN_OK;
}

/* ---------------------------------------------------------------- image encoding */

/* Decodes and preprocesses image files into pixels [n, 3, S, S]. */
static jn_status load_all_pixels(janus_model *m, const char *const *paths, int n, double at, float *pixels,
                                 jn_error *err) {
    const size_t per = (size_t)3 * m->image.size * m->image.size;
    for (int i = 0; i < n; i++) {
        jn_status st = load_pixels(m, paths[i], at, pixels + (size_t)i * per, err);
        if (st) return st;
    }
    return JN_OK;
}

/* SigLIP + aligner over n images in one call: out[i] = malloc'ed backend [N, n_embd] rows of image i. */
static jn_status encode_pixels(janus_session *s, const float *pixels, int n, float **out, const char *dump_dir,
                               jn_error *err) {
    janus_model *m = s->m;
    jn_backend *be = s->be;
    const int N = m->image.n_image_tokens, E = m->lm_hp.n_embd, W = m->vis_hp.width, S = m->image.size;
    double t0 = jn_time_s();
    if (n > s->vis_max) { /* sized for the largest request so far, then reused */
        jn_vision_session_free(s->vis);
        be->free(be, s->vis_features);
        s->vis_max = 0;
        s->vis = jn_vision_session_create(be, &m->vis_hp, &m->vis_w, n, err);
        if (!s->vis) return err->code ? err->code : JN_ERR_NOMEM;
        s->vis_features = be->alloc(be, (size_t)n * N * W * sizeof(float));
        if (!s->vis_features) return jn_fail(err, JN_ERR_NOMEM, "out of memory for the features of %d images", n);
        s->vis_max = n;
    }
    float *aligned = be->alloc(be, (size_t)n * N * E * sizeof(float));
    if (!aligned) return jn_fail(err, JN_ERR_NOMEM, "out of memory for the features of %d images", n);
    jn_status st = jn_vision_encode(s->vis, pixels, n, s->vis_features, aligned, err);
    if (!st) st = janus_session_check_backend(s, err);
    if (!st && dump_dir) {
        size_t rows = (size_t)n * N;
        int64_t sh_px[4] = {n, 3, S, S}, sh_f[2] = {(int64_t)rows, W}, sh_a[2] = {(int64_t)rows, E};
        float *tmp = malloc(rows * (size_t)(W > E ? W : E) * sizeof(float));
        if (!tmp) st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
        if (!st) st = janus_dump_f32(dump_dir, "pixel_values.npy", pixels, n == 1 ? 3 : 4, n == 1 ? sh_px + 1 : sh_px, err);
        if (!st) {
            be->download(be, tmp, s->vis_features, rows * W * sizeof(float));
            st = janus_dump_f32(dump_dir, "vision_features.npy", tmp, 2, sh_f, err);
        }
        if (!st) {
            be->download(be, tmp, aligned, rows * E * sizeof(float));
            st = janus_dump_f32(dump_dir, "aligned.npy", tmp, 2, sh_a, err);
        }
        free(tmp);
    }
    for (int i = 0; i < n && !st; i++) {
        out[i] = be->alloc(be, (size_t)N * E * sizeof(float));
        if (!out[i]) {
            st = jn_fail(err, JN_ERR_NOMEM, "out of memory for image features");
            break;
        }
        be->copy(be, out[i], aligned + (size_t)i * N * E, (size_t)N * E * sizeof(float));
    }
    if (st)
        for (int i = 0; i < n; i++) {
            be->free(be, out[i]);
            out[i] = NULL;
        }
    be->free(be, aligned);
    if (!st) {
        s->stats.images_encoded += n;
        s->stats.encode_s += jn_time_s() - t0;
    }
    return st;
}

/* ---------------------------------------------------------------- the text engine */

/* LM slots with their logits: what chat (one slot) and ask batches (many) decode with. */
typedef struct text_engine {
    janus_session *s;
    jn_lm_session *lm;
    int n_slots, n_ctx, n_tok_max;
    float *x;           /* backend [n_tok_max, E] input rows */
    float *hidden;      /* backend [n_slots, E] */
    float *logits;      /* backend [n_slots, V] */
    float *logits_host; /* host [n_slots, V]: row `slot` holds the logits for that slot's next token */
    float *staging;     /* host [n_slots, V] */
    int *slots_tmp;     /* host [n_slots] */
    int32_t *ids_tmp;   /* host [n_slots] */
} text_engine;

static void text_engine_free(text_engine *te) {
    if (!te->s) return;
    jn_backend *be = te->s->be;
    jn_lm_session_free(te->lm);
    be->free(be, te->x);
    be->free(be, te->hidden);
    be->free(be, te->logits);
    free(te->logits_host);
    free(te->staging);
    free(te->slots_tmp);
    free(te->ids_tmp);
    memset(te, 0, sizeof *te);
}

static jn_status text_engine_init(text_engine *te, janus_session *s, int n_slots, int n_ctx, int n_tok_max,
                                  jn_error *err) {
    janus_model *m = s->m;
    const size_t E = (size_t)m->lm_hp.n_embd, V = (size_t)m->lm_hp.n_vocab;
    memset(te, 0, sizeof *te);
    te->s = s;
    te->n_slots = n_slots;
    te->n_ctx = n_ctx;
    te->n_tok_max = n_tok_max > n_slots ? n_tok_max : n_slots;
    jn_status st0 = janus_session_check_memory(s, n_slots > 1 ? "this batch of questions" : "this conversation",
                                               n_slots, n_ctx, te->n_tok_max, err);
    if (st0) {
        memset(te, 0, sizeof *te);
        return st0;
    }
    if ((st0 = janus_model_need_text_head(m, err))) {
        memset(te, 0, sizeof *te);
        return st0;
    }
    te->lm = jn_lm_session_create(s->be, &m->lm_hp, &m->lm_w, n_slots, n_ctx, te->n_tok_max, m->kv_type, err);
    if (!te->lm) {
        jn_status st = err->code ? err->code : JN_ERR_NOMEM;
        text_engine_free(te);
        return st;
    }
    jn_backend *be = s->be;
    te->x = be->alloc(be, (size_t)te->n_tok_max * E * sizeof(float));
    te->hidden = be->alloc(be, (size_t)n_slots * E * sizeof(float));
    te->logits = be->alloc(be, (size_t)n_slots * V * sizeof(float));
    te->logits_host = malloc((size_t)n_slots * V * sizeof(float));
    te->staging = malloc((size_t)n_slots * V * sizeof(float));
    te->slots_tmp = malloc((size_t)n_slots * sizeof(int));
    te->ids_tmp = malloc((size_t)n_slots * sizeof(int32_t));
    if (!te->x || !te->hidden || !te->logits || !te->logits_host || !te->staging || !te->slots_tmp || !te->ids_tmp) {
        text_engine_free(te);
        return jn_fail(err, JN_ERR_NOMEM, "out of memory for %d understanding sequences", n_slots);
    }
    return JN_OK;
}

/* logits of the last forward ([n, V] in the order of slots[]) to the slots' host rows */
static jn_status fetch_logits(text_engine *te, const int *slots, int n, jn_error *err) {
    janus_session *s = te->s;
    const size_t V = (size_t)s->m->lm_hp.n_vocab;
    jn_lm_logits(te->lm, te->hidden, n, te->logits);
    s->be->download(s->be, te->staging, te->logits, (size_t)n * V * sizeof(float));
    jn_status st = janus_session_check_backend(s, err);
    if (st) return st;
    for (int i = 0; i < n; i++) memcpy(te->logits_host + (size_t)slots[i] * V, te->staging + (size_t)i * V, V * sizeof(float));
    return JN_OK;
}

static jn_status seq_reserve_ids(janus_text_seq *q, size_t n, jn_error *err) {
    if (n <= q->cap_ids) return JN_OK;
    size_t cap = q->cap_ids ? q->cap_ids : 256;
    while (cap < n) cap *= 2;
    int32_t *p = realloc(q->ids, cap * sizeof *p);
    if (!p) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    q->ids = p;
    q->cap_ids = cap;
    return JN_OK;
}

/* Prefills sequence q (slot q->slot) so that its cache holds ids[0..n): the prefix it already
 * holds is kept, the rest is computed; image placeholder runs take their rows from images[k] (the
 * k-th run of the whole id list). Leaves the logits for the next token in the slot's host row. */
static jn_status seq_prefill(text_engine *te, janus_text_seq *q, const int32_t *ids, size_t n, float *const *images,
                             int n_images, jn_error *err) {
    janus_session *s = te->s;
    janus_model *m = s->m;
    jn_backend *be = s->be;
    const int E = m->lm_hp.n_embd, N = m->image.n_image_tokens;
    const int32_t ph = m->prompt.image_placeholder;
    if (n < 1) return jn_fail(err, JN_ERR_USAGE, "empty prompt");
    if (n > (size_t)te->n_ctx)
        return jn_fail(err, JN_ERR_USAGE, "the prompt is %zu tokens, more than the context of %d", n, te->n_ctx);
    size_t keep = 0;
    const size_t held = (size_t)jn_lm_seq_len(te->lm, q->slot) < q->n_ids ? (size_t)jn_lm_seq_len(te->lm, q->slot) : q->n_ids;
    while (keep < held && keep < n && q->ids[keep] == ids[keep]) keep++;
    if (keep == n) keep = n - 1; /* the last token is computed again: its logits are needed */
    jn_status st = seq_reserve_ids(q, n, err);
    if (st) return st;
    jn_lm_seq_truncate(te->lm, q->slot, (int)keep);
    q->n_ids = keep;
    double t0 = jn_time_s();
    for (size_t from = keep; from < n;) { /* chunks of at most n_tok_max rows */
        size_t len = n - from < (size_t)te->n_tok_max ? n - from : (size_t)te->n_tok_max;
        jn_lm_embed(te->lm, ids + from, (int)len, te->x);
        /* image rows over the placeholders: run k of the whole list is image k */
        int k = -1;
        size_t run_start = 0;
        for (size_t i = 0; i < from + len; i++) {
            if (ids[i] != ph) continue;
            if (i == 0 || ids[i - 1] != ph) {
                k++;
                run_start = i;
            }
            if (i < from) continue;
            size_t j = i; /* copy the rest of this run inside the chunk at once */
            while (j + 1 < from + len && ids[j + 1] == ph) j++;
            if (k >= n_images || j - run_start + 1 > (size_t)N)
                return jn_fail(err, JN_ERR_USAGE, "image placeholder run %d has no encoded image", k);
            be->copy2d(be, te->x + (i - from) * E, E, images[k] + (i - run_start) * E, E, (int)(j - i + 1), E);
            i = j;
        }
        int slot = q->slot;
        if ((st = jn_lm_forward_slots(te->lm, te->x, &slot, 1, (int)len, te->hidden, 1, err))) return st;
        memcpy(q->ids + from, ids + from, len * sizeof *ids);
        q->n_ids = from + len;
        from += len;
    }
    if ((st = fetch_logits(te, &q->slot, 1, err))) return st;
    s->stats.tokens_prefilled += (long)(n - keep);
    s->stats.prefill_s += jn_time_s() - t0;
    return JN_OK;
}

/* Starts an answer on q: sampling settings from p, limits from the context. */
static jn_status seq_begin_answer(text_engine *te, janus_text_seq *q, const janus_ask_params *p, jn_error *err) {
    const int max_ctx = te->n_ctx < te->s->max_ctx ? te->n_ctx : te->s->max_ctx, n_ids = (int)q->n_ids;
    /* prompt + answer, capped at the context; the last answer token is sampled at the context end
     * and never fed */
    int ctx_end = p->max_tokens > max_ctx - n_ids ? max_ctx : n_ids + p->max_tokens;
    q->max_answer = ctx_end - n_ids + 1 < p->max_tokens ? ctx_end - n_ids + 1 : p->max_tokens;
    q->ctx_end = ctx_end;
    free(q->answer);
    q->answer = malloc((size_t)q->max_answer * sizeof *q->answer);
    if (q->detok) jn_detok_stream_free(q->detok);
    q->detok = jn_detok_stream_create(te->s->m->tokenizer.tok, 1);
    if (!q->answer || !q->detok) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    q->n_answer = 0;
    jn_sampler_free(&q->sampler);
    jn_status st = jn_sampler_init(&q->sampler, te->s->m->lm_hp.n_vocab, p->temperature, p->top_k, p->top_p, p->seed, err);
    if (st) return st;
    q->on_token = p->on_token;
    q->on_token_user = p->on_token_user;
    q->done = 0;
    q->finish_reason = NULL;
    return JN_OK;
}

static void seq_emit(janus_text_seq *q, const char *piece, size_t len) {
    if (!q->on_token || len == 0) return;
    if (q->on_token(q->on_token_user, piece, len)) {
        q->on_token = NULL; /* the caller asked to stop */
        q->done = 1;
        q->finish_reason = "stop";
    }
}

/* Samples the next token of q from its slot's logits; marks q done at EOS or a limit. Returns
 * the token to feed, or -1 when q is done. */
static int32_t seq_sample(text_engine *te, janus_text_seq *q, jn_error *err, jn_status *st) {
    janus_model *m = te->s->m;
    const int V = m->lm_hp.n_vocab;
    /* stream 0, step = answer position: the draw of janus_ask for the same turn */
    int32_t next = jn_sampler_draw(&q->sampler, te->logits_host + (size_t)q->slot * V, 0, (uint64_t)q->n_answer);
    q->answer[q->n_answer++] = next;
    if (next == m->prompt.eos) {
        q->done = 1;
        q->finish_reason = "stop";
    } else {
        const char *piece;
        size_t len;
        if ((*st = jn_detok_stream_push(q->detok, next, &piece, &len, err))) return -1;
        seq_emit(q, piece, len);
        if (!q->done && (q->n_answer >= q->max_answer || (int)q->n_ids >= q->ctx_end)) {
            q->done = 1;
            q->finish_reason = "length";
        }
    }
    if (q->done) {
        const char *piece;
        size_t len;
        jn_detok_stream_flush(q->detok, &piece, &len);
        if (q->on_token && len) q->on_token(q->on_token_user, piece, len);
        return -1;
    }
    return next;
}

/* One decode step over the live sequences qs[0..n): sample each, then one batched forward for
 * those that go on. */
static jn_status text_step(text_engine *te, janus_text_seq **qs, int n, jn_error *err) {
    janus_session *s = te->s;
    int n_go = 0;
    jn_status st = JN_OK;
    for (int i = 0; i < n; i++) {
        janus_text_seq *q = qs[i];
        if (q->done) continue;
        int32_t next = seq_sample(te, q, err, &st);
        if (st) return st;
        if (next < 0) continue;
        te->slots_tmp[n_go] = q->slot;
        te->ids_tmp[n_go] = next;
        n_go++;
    }
    if (n_go == 0) return JN_OK;
    double t0 = jn_time_s();
    jn_lm_embed(te->lm, te->ids_tmp, n_go, te->x);
    if ((st = jn_lm_forward_slots(te->lm, te->x, te->slots_tmp, n_go, 1, te->hidden, 1, err))) return st;
    if ((st = fetch_logits(te, te->slots_tmp, n_go, err))) return st;
    for (int i = 0, g = 0; i < n; i++) {
        janus_text_seq *q = qs[i];
        if (q->done || g >= n_go || q->slot != te->slots_tmp[g]) continue;
        if ((st = seq_reserve_ids(q, q->n_ids + 1, err))) return st;
        q->ids[q->n_ids++] = te->ids_tmp[g++];
    }
    s->stats.tokens_decoded += n_go;
    s->stats.decode_s += jn_time_s() - t0;
    return JN_OK;
}

static void seq_free(janus_text_seq *q) {
    jn_sampler_free(&q->sampler);
    free(q->ids);
    free(q->answer);
    if (q->detok) jn_detok_stream_free(q->detok);
    memset(q, 0, sizeof *q);
}

static jn_status validate_sampling(const janus_ask_params *p, jn_error *err) {
    if (!p || !p->question) return jn_fail(err, JN_ERR_USAGE, "no question given");
    if (p->n_images < 0 || (p->n_images > 0 && !p->images) || p->n_rgb_images < 0 ||
        (p->n_rgb_images > 0 && !p->rgb_images))
        return jn_fail(err, JN_ERR_USAGE, "bad image list");
    if (p->max_tokens < 1) return jn_fail(err, JN_ERR_USAGE, "max_tokens must be >= 1 (got %d)", p->max_tokens);
    if (p->top_k < 0) return jn_fail(err, JN_ERR_USAGE, "top-k must be >= 0 (got %d)", p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f)) return jn_fail(err, JN_ERR_USAGE, "top-p must be in (0, 1] (got %g)", (double)p->top_p);
    return JN_OK;
}

static jn_status request_pixels(janus_model *m, const janus_ask_params *p, float *pixels, jn_error *err);

/* ---------------------------------------------------------------- chat: one conversation */

void janus_chat_free_state(janus_session *s) {
    for (int i = 0; i < s->n_images; i++) s->be->free(s->be, s->images[i].aligned);
    free(s->images);
    s->images = NULL;
    s->n_images = s->cap_images = s->n_images_pending = 0;
    for (int i = 0; i < s->n_turns; i++) {
        free((char *)s->turns[i].user);
        free((char *)s->turns[i].assistant);
    }
    free(s->turns);
    s->turns = NULL;
    s->n_turns = s->cap_turns = 0;
    seq_free(&s->chat_seq);
    if (s->chat_te) {
        text_engine_free(s->chat_te);
        free(s->chat_te);
        s->chat_te = NULL;
    }
    jn_vision_session_free(s->vis);
    s->vis = NULL;
    s->be->free(s->be, s->vis_features);
    s->vis_features = NULL;
    s->vis_max = 0;
}

int janus_chat_reset(janus_session *s) {
    for (int i = 0; i < s->n_images; i++) s->be->free(s->be, s->images[i].aligned);
    s->n_images = s->n_images_pending = 0;
    for (int i = 0; i < s->n_turns; i++) {
        free((char *)s->turns[i].user);
        free((char *)s->turns[i].assistant);
    }
    s->n_turns = 0;
    s->chat_seq.n_ids = 0; /* the cache is overwritten from position 0 */
    return JANUS_OK;
}

int janus_chat_n_turns(const janus_session *s) { return s->n_turns; }
const janus_turn_text *janus_chat_turn(const janus_session *s, int i) {
    return i >= 0 && i < s->n_turns ? &s->turns[i] : NULL;
}

static jn_status chat_push_images(janus_session *s, float **aligned, int n, jn_error *err) {
    if (s->n_images + n > s->cap_images) {
        int cap = s->cap_images ? s->cap_images : 4;
        while (cap < s->n_images + n) cap *= 2;
        janus_chat_image *p = realloc(s->images, (size_t)cap * sizeof *p);
        if (!p) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        s->images = p;
        s->cap_images = cap;
    }
    for (int i = 0; i < n; i++) s->images[s->n_images++].aligned = aligned[i];
    s->n_images_pending += n;
    return JN_OK;
}

/* Encodes pixels [n, 3, S, S] and attaches the images to the next user turn. */
static jn_status chat_add_pixels(janus_session *s, const float *pixels, int n, const char *dump_dir, jn_error *err) {
    float *stack_buf[8], **aligned = n <= 8 ? stack_buf : calloc((size_t)n, sizeof *aligned);
    if (!aligned) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    memset(aligned, 0, (size_t)n * sizeof *aligned);
    jn_status st = encode_pixels(s, pixels, n, aligned, dump_dir, err);
    if (!st && (st = chat_push_images(s, aligned, n, err)))
        for (int i = 0; i < n; i++) s->be->free(s->be, aligned[i]);
    if (aligned != stack_buf) free(aligned);
    return st;
}

int janus_chat_add_image_file(janus_session *s, const char *path, double at_seconds, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    const int S = s->m->image.size;
    float *pixels = malloc((size_t)3 * S * S * sizeof *pixels);
    if (!pixels) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    jn_status st = load_pixels(s->m, path, at_seconds, pixels, err);
    if (!st) st = chat_add_pixels(s, pixels, 1, NULL, err);
    free(pixels);
    return st;
}

/* Preprocesses decoded RGB into pixels [3, S, S]. */
static jn_status rgb_pixels(janus_model *m, const janus_image *img, float *pixels, jn_error *err) {
    if (!img || !img->rgb || img->width < 1 || img->height < 1)
        return jn_fail(err, JN_ERR_USAGE, "no image pixels given");
    jn_rgb_image in = {img->width, img->height, img->rgb}, sq = {0};
    jn_status st = jn_preprocess_image(&in, m->image.size, m->image.min_size, m->image.background, &sq, err);
    if (st) return st;
    jn_pixels_normalize(&sq, m->image.mean, m->image.std, m->image.rescale, pixels);
    jn_rgb_image_free(&sq);
    return JN_OK;
}

int janus_chat_add_image(janus_session *s, const janus_image *img, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    const int S = s->m->image.size;
    float *pixels = malloc((size_t)3 * S * S * sizeof *pixels);
    if (!pixels) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    jn_status st = rgb_pixels(s->m, img, pixels, err);
    if (!st) st = chat_add_pixels(s, pixels, 1, NULL, err);
    free(pixels);
    return st;
}

/* The conversation's text engine, with room for n_ctx positions (grown, never shrunk: the cache is
 * then prefilled again from the conversation's ids, the images are not encoded again). */
static jn_status chat_engine(janus_session *s, int n_ctx, jn_error *err) {
    if (s->chat_te && s->chat_te->n_ctx >= n_ctx) return JN_OK;
    text_engine *old = s->chat_te, *te = calloc(1, sizeof *te);
    if (!te) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    /* headroom for a few follow-up turns before the cache moves again */
    int cap = n_ctx + 256 > (old ? 2 * old->n_ctx : 0) ? n_ctx + 256 : 2 * old->n_ctx;
    if (cap > s->max_ctx) cap = s->max_ctx;
    jn_status st = text_engine_init(te, s, 1, cap, cap, err);
    if (st) {
        free(te);
        return st;
    }
    if (old) { /* the cached conversation moves along: nothing is computed again */
        jn_lm_seq_transfer(te->lm, 0, old->lm, 0);
        text_engine_free(old);
        free(old);
    }
    s->chat_te = te;
    s->chat_seq.slot = 0;
    return JN_OK;
}

static jn_status chat_push_turn(janus_session *s, const char *user, const char *assistant, jn_error *err) {
    if (s->n_turns == s->cap_turns) {
        int cap = s->cap_turns ? 2 * s->cap_turns : 8;
        janus_turn_text *p = realloc(s->turns, (size_t)cap * sizeof *p);
        if (!p) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        s->turns = p;
        s->cap_turns = cap;
    }
    char *u = strdup(user), *a = strdup(assistant);
    if (!u || !a) {
        free(u);
        free(a);
        return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    }
    s->turns[s->n_turns++] = (janus_turn_text){u, a};
    return JN_OK;
}

/* The new user turn `user` (tags already in place) against the session's conversation. */
static jn_status chat_answer(janus_session *s, const janus_ask_params *p, const char *user, char **answer,
                             const char **finish_reason, jn_error *err) {
    janus_model *m = s->m;
    const int V = m->lm_hp.n_vocab;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    float *answer_logits = NULL;
    float **img_rows = NULL;
    jn_status st = conversation_ids(m, s->turns, s->n_turns, user, s->n_images, &ids, &n_ids, err);
    if (st) return st;
    if (n_ids >= (size_t)s->max_ctx) {
        st = jn_fail(err, JN_ERR_USAGE, "the prompt is %zu tokens long, more than the context of %d tokens", n_ids,
                     s->max_ctx);
        goto done;
    }
    if ((st = janus_dump_ids(p->dump_dir, "input_ids.json", ids, n_ids, err))) goto done;
    {
        long want = (long)n_ids + p->max_tokens;
        if ((st = chat_engine(s, want > s->max_ctx ? s->max_ctx : (int)want, err))) goto done;
    }
    text_engine *te = s->chat_te;
    janus_text_seq *q = &s->chat_seq;
    img_rows = malloc((size_t)(s->n_images ? s->n_images : 1) * sizeof *img_rows);
    if (!img_rows) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); goto done; }
    for (int i = 0; i < s->n_images; i++) img_rows[i] = s->images[i].aligned;
    if ((st = seq_prefill(te, q, ids, n_ids, img_rows, s->n_images, err))) goto done;
    if ((st = seq_begin_answer(te, q, p, err))) goto done;
    if (p->dump_dir) {
        int64_t sh[1] = {V};
        if ((st = janus_dump_f32(p->dump_dir, "logits_last.npy", te->logits_host, 1, sh, err))) goto done;
        answer_logits = malloc((size_t)q->max_answer * V * sizeof(float));
        if (!answer_logits) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); goto done; }
    }
    while (!q->done) {
        if (answer_logits) memcpy(answer_logits + (size_t)q->n_answer * V, te->logits_host, (size_t)V * sizeof(float));
        janus_text_seq *one = q;
        if ((st = text_step(te, &one, 1, err))) goto done;
    }
    if ((st = janus_dump_ids(p->dump_dir, "answer_ids.json", q->answer, (size_t)q->n_answer, err))) goto done;
    if (answer_logits) {
        int64_t sh[2] = {q->n_answer, V};
        if ((st = janus_dump_f32(p->dump_dir, "answer_logits.npy", answer_logits, 2, sh, err))) goto done;
    }
    {
        char *text = NULL;
        size_t len = 0;
        if ((st = jn_tokenizer_decode(m->tokenizer.tok, q->answer, (size_t)q->n_answer, 1, &text, &len, err))) goto done;
        st = chat_push_turn(s, user, text, err);
        s->n_images_pending = 0;
        if (!st && answer) *answer = text;
        else free(text);
        if (finish_reason) *finish_reason = q->finish_reason;
    }
done:
    free(ids);
    free(img_rows);
    free(answer_logits);
    return st;
}

/* tag_question: put one tag per image of this turn before a question that has none */
static jn_status chat_ask(janus_session *s, const janus_ask_params *p, int tag_question, char **answer,
                          const char **finish_reason, jn_error *err) {
    if (answer) *answer = NULL;
    if (finish_reason) *finish_reason = NULL;
    jn_status st = validate_sampling(p, err);
    if (st) return st;
    if (p->n_history) return jn_fail(err, JN_ERR_USAGE, "janus_chat_ask: the session holds the history (n_history must be 0)");
    if ((st = janus_dump_prepare(p->dump_dir, err))) return st;
    const int n_before = s->n_images, pending_before = s->n_images_pending;
    const int n_new = p->n_images + p->n_rgb_images;
    if (n_new > 0) {
        const size_t per = (size_t)3 * s->m->image.size * s->m->image.size;
        float *pixels = malloc((size_t)n_new * per * sizeof *pixels);
        if (!pixels) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        st = request_pixels(s->m, p, pixels, err);
        if (!st) st = chat_add_pixels(s, pixels, n_new, p->dump_dir, err);
        free(pixels);
        if (st) return st;
    }
    char *user = with_image_tags(&s->m->prompt, p->question, tag_question ? s->n_images_pending : 0);
    if (!user) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    st = chat_answer(s, p, user, answer, finish_reason, err);
    free(user);
    if (st && s->n_images > n_before) { /* a failed turn leaves the conversation as it was */
        for (int i = n_before; i < s->n_images; i++) s->be->free(s->be, s->images[i].aligned);
        s->n_images = n_before;
        s->n_images_pending = pending_before;
    }
    return st;
}

int janus_chat_ask(janus_session *s, const janus_ask_params *p, char **answer, const char **finish_reason,
                   janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    return chat_ask(s, p, 1, answer, finish_reason, err);
}

int janus_ask(janus_model *m, const janus_ask_params *p, char **answer, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    if (answer) *answer = NULL;
    jn_status st = validate_sampling(p, err);
    if (st) return st;
    if (p->n_history < 0 || (p->n_history > 0 && !p->history)) return jn_fail(err, JN_ERR_USAGE, "bad conversation history");
    janus_session *s = janus_session_create(m, NULL, (janus_error *)err);
    if (!s) return err->code ? err->code : JN_ERR_NOMEM;
    /* images: placed by the tags of whichever turns have them, else before the question */
    int tagged = strstr(p->question, m->prompt.image_tag) != NULL;
    for (int i = 0; i < p->n_history; i++) {
        if (p->history[i].user && strstr(p->history[i].user, m->prompt.image_tag)) tagged = 1;
        if (!st) st = chat_push_turn(s, p->history[i].user ? p->history[i].user : "",
                                     p->history[i].assistant ? p->history[i].assistant : "", err);
    }
    janus_ask_params q = *p;
    q.history = NULL;
    q.n_history = 0;
    if (!st) st = chat_ask(s, &q, !tagged, answer, NULL, err);
    janus_session_free(s);
    return st;
}

/* ---------------------------------------------------------------- ask batches */

typedef struct ask_request {
    int state; /* JANUS_GEN_RUNNING / DONE / CANCELLED; -1: entry unused */
    int n_prompt; /* prompt tokens (image placeholders expanded), for usage counts */
    janus_text_seq seq;
} ask_request;

struct janus_ask_batch {
    janus_session *s;
    text_engine te;       /* made on the first add when max_ctx was left to the batch */
    int max_seqs, max_ctx;
    int *slot_owner;      /* [max_seqs]: request id or -1 */
    ask_request *reqs;
    int n_reqs, cap_reqs;
    janus_text_seq **live; /* [max_seqs] */
};

janus_ask_batch *janus_ask_batch_create(janus_session *s, int max_seqs, int max_ctx, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    if (max_seqs < 1 || max_seqs > s->max_rows) {
        jn_fail(err, JN_ERR_USAGE, "an ask batch holds 1..%d sequences (janus_session_params.max_rows), not %d",
                s->max_rows, max_seqs);
        return NULL;
    }
    if (max_ctx > s->max_ctx) {
        jn_fail(err, JN_ERR_USAGE, "ask batch context %d exceeds the session's %d", max_ctx, s->max_ctx);
        return NULL;
    }
    janus_ask_batch *b = calloc(1, sizeof *b);
    if (!b || !(b->slot_owner = malloc((size_t)max_seqs * sizeof(int))) ||
        !(b->live = malloc((size_t)max_seqs * sizeof *b->live))) {
        if (b) free(b->slot_owner);
        free(b);
        jn_fail(err, JN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (int i = 0; i < max_seqs; i++) b->slot_owner[i] = -1;
    b->s = s;
    b->max_seqs = max_seqs;
    b->max_ctx = max_ctx;
    return b;
}

void janus_ask_batch_free(janus_ask_batch *b) {
    if (!b) return;
    for (int i = 0; i < b->n_reqs; i++) seq_free(&b->reqs[i].seq);
    free(b->reqs);
    text_engine_free(&b->te);
    free(b->slot_owner);
    free(b->live);
    free(b);
}

int janus_ask_batch_free_seqs(const janus_ask_batch *b) {
    int n = 0;
    for (int i = 0; i < b->max_seqs; i++) n += b->slot_owner[i] < 0;
    return n;
}

int janus_ask_batch_n_live(const janus_ask_batch *b) {
    int n = 0;
    for (int i = 0; i < b->n_reqs; i++) n += b->reqs[i].state == JANUS_GEN_RUNNING;
    return n;
}

int janus_ask_batch_state(const janus_ask_batch *b, int id, int *n_tokens) {
    if (id < 0 || id >= b->n_reqs || b->reqs[id].state < 0) return -1;
    if (n_tokens) *n_tokens = b->reqs[id].seq.n_answer;
    return b->reqs[id].state;
}

int janus_ask_batch_prompt_tokens(const janus_ask_batch *b, int id) {
    if (id < 0 || id >= b->n_reqs || b->reqs[id].state < 0) return -1;
    return b->reqs[id].n_prompt;
}

int janus_ask_batch_cancel(janus_ask_batch *b, int id) {
    if (id < 0 || id >= b->n_reqs || b->reqs[id].state < 0) return JANUS_ERR_USAGE;
    ask_request *r = &b->reqs[id];
    if (r->state == JANUS_GEN_RUNNING) {
        r->state = JANUS_GEN_CANCELLED;
        b->slot_owner[r->seq.slot] = -1;
    }
    return JANUS_OK;
}

static int ask_n_images(const janus_ask_params *p) { return p->n_images + p->n_rgb_images; }

/* Pixels [n, 3, S, S] of request p's images: files first, then decoded images. */
static jn_status request_pixels(janus_model *m, const janus_ask_params *p, float *pixels, jn_error *err) {
    const size_t per = (size_t)3 * m->image.size * m->image.size;
    jn_status st = load_all_pixels(m, p->images, p->n_images, p->at_seconds, pixels, err);
    for (int i = 0; i < p->n_rgb_images && !st; i++) st = rgb_pixels(m, &p->rgb_images[i], pixels + (p->n_images + i) * per, err);
    return st;
}

/* Prompt ids of a one-shot question: the images go where the turns' tags are, else before it. */
static jn_status request_ids(janus_model *m, const janus_ask_params *p, int32_t **ids, size_t *n, jn_error *err) {
    int tagged = strstr(p->question, m->prompt.image_tag) != NULL;
    for (int i = 0; i < p->n_history; i++)
        if (p->history[i].user && strstr(p->history[i].user, m->prompt.image_tag)) tagged = 1;
    char *user = with_image_tags(&m->prompt, p->question, tagged ? 0 : ask_n_images(p));
    if (!user) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    jn_status st = conversation_ids(m, p->history, p->n_history, user, ask_n_images(p), ids, n, err);
    free(user);
    return st;
}

int janus_ask_batch_add(janus_ask_batch *b, const janus_ask_params *ps, int n, int *ids_out, janus_error *errs,
                        janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    janus_session *s = b->s;
    janus_model *m = s->m;
    const size_t per = (size_t)3 * m->image.size * m->image.size;
    if (n < 1) return 0;
    if (n > janus_ask_batch_free_seqs(b))
        return jn_fail(err, JN_ERR_USAGE, "%d questions given, %d of the batch's %d sequences are free", n,
                       janus_ask_batch_free_seqs(b), b->max_seqs);
    jn_status st = JN_OK;
    int total_images = 0, n_added = 0;
    int *first_image = calloc((size_t)n, sizeof(int));
    jn_error *item_err = calloc((size_t)n, sizeof(jn_error));
    char *is_added = calloc((size_t)n, 1);
    if (!first_image || !item_err || !is_added) {
        free(first_image);
        free(item_err);
        free(is_added);
        return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        ids_out[i] = 0;
        first_image[i] = total_images;
        if (!ps[i].question || ask_n_images(&ps[i]) < 0 || (ps[i].n_images > 0 && !ps[i].images) ||
            (ps[i].n_rgb_images > 0 && !ps[i].rgb_images) || (ps[i].n_history > 0 && !ps[i].history))
            ids_out[i] = jn_fail(&item_err[i], JN_ERR_USAGE, "bad question, image list or history");
        else if ((st = validate_sampling(&ps[i], &item_err[i])))
            ids_out[i] = st;
        else
            total_images += ask_n_images(&ps[i]);
    }
    st = JN_OK;
    float *pixels = total_images ? malloc((size_t)total_images * per * sizeof(float)) : NULL;
    float **aligned = calloc((size_t)(total_images ? total_images : 1), sizeof *aligned);
    if ((total_images && !pixels) || !aligned) {
        st = jn_fail(err, JN_ERR_NOMEM, "out of memory for %d images", total_images);
        goto done;
    }
    /* every image of every question in one encoder call (a failed item's slots stay zero pixels) */
    for (int i = 0; i < n; i++) {
        if (ids_out[i] || ask_n_images(&ps[i]) == 0) continue; /* failed already, or text only */
        jn_status ist = request_pixels(m, &ps[i], pixels + (size_t)first_image[i] * per, &item_err[i]);
        if (ist) {
            ids_out[i] = ist;
            memset(pixels + (size_t)first_image[i] * per, 0, (size_t)ask_n_images(&ps[i]) * per * sizeof(float));
        }
    }
    if (total_images && (st = encode_pixels(s, pixels, total_images, aligned, NULL, err))) goto done;
    for (int i = 0; i < n; i++) {
        if (ids_out[i]) continue;
        int32_t *ids = NULL;
        size_t n_ids = 0;
        jn_status ist = request_ids(m, &ps[i], &ids, &n_ids, &item_err[i]);
        if (!ist && !b->te.s) { /* sized by the first question when the caller left it open */
            int ctx = b->max_ctx > 0 ? b->max_ctx : (int)n_ids + 256 + ps[i].max_tokens;
            if (ctx > s->max_ctx) ctx = s->max_ctx;
            if ((st = text_engine_init(&b->te, s, b->max_seqs, ctx, ctx, err))) {
                free(ids);
                goto done;
            }
        }
        if (!ist && n_ids >= (size_t)b->te.n_ctx)
            ist = jn_fail(&item_err[i], JN_ERR_USAGE, "the prompt is %zu tokens long, more than the context of %d tokens",
                          n_ids, b->te.n_ctx);
        int slot = 0;
        while (slot < b->max_seqs && b->slot_owner[slot] >= 0) slot++;
        int rid = 0; /* an entry whose answer was taken is used again: long runs keep a small table */
        while (rid < b->n_reqs && b->reqs[rid].state != -1) rid++;
        if (!ist && rid == b->n_reqs && b->n_reqs == b->cap_reqs) {
            int cap = b->cap_reqs ? 2 * b->cap_reqs : 16;
            ask_request *q = realloc(b->reqs, (size_t)cap * sizeof *q);
            if (!q) ist = jn_fail(&item_err[i], JN_ERR_NOMEM, "out of memory");
            else {
                b->reqs = q;
                b->cap_reqs = cap;
            }
        }
        if (!ist) {
            ask_request *r = &b->reqs[rid];
            memset(r, 0, sizeof *r);
            r->state = -1;
            r->seq.slot = slot;
            ist = seq_prefill(&b->te, &r->seq, ids, n_ids, aligned + first_image[i], ask_n_images(&ps[i]), &item_err[i]);
            if (!ist) ist = seq_begin_answer(&b->te, &r->seq, &ps[i], &item_err[i]);
            if (ist) {
                seq_free(&r->seq);
            } else {
                r->state = JANUS_GEN_RUNNING;
                r->n_prompt = (int)n_ids;
                b->slot_owner[slot] = rid;
                ids_out[i] = rid;
                is_added[i] = 1;
                if (rid == b->n_reqs) b->n_reqs++;
                n_added++;
            }
        }
        free(ids);
        if (ist) {
            ids_out[i] = ist;
            if (ist == JN_ERR_RUNTIME || ist == JN_ERR_NOMEM) { /* the backend or memory: nothing more runs */
                st = jn_fail(err, ist, "%s", item_err[i].msg);
                goto done;
            }
        }
    }
done:
    if (st) /* nothing more runs: every question not added yet gets the batch's status */
        for (int i = 0; i < n; i++)
            if (ids_out[i] >= 0 && !(is_added && is_added[i])) {
                ids_out[i] = st;
                memcpy(&item_err[i], err, sizeof(jn_error));
            }
    for (int i = 0; i < n && errs; i++)
        if (ids_out[i] < 0) memcpy(&errs[i], &item_err[i], sizeof(jn_error));
    for (int i = 0; i < total_images; i++) s->be->free(s->be, aligned ? aligned[i] : NULL);
    free(aligned);
    free(pixels);
    free(first_image);
    free(item_err);
    free(is_added);
    return st ? st : n_added;
}

int janus_ask_batch_step(janus_ask_batch *b, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    int n = 0;
    for (int i = 0; i < b->max_seqs; i++)
        if (b->slot_owner[i] >= 0) b->live[n++] = &b->reqs[b->slot_owner[i]].seq;
    if (n == 0) return 0;
    jn_status st = text_step(&b->te, b->live, n, err);
    for (int i = 0; i < b->max_seqs; i++) {
        int id = b->slot_owner[i];
        if (id < 0) continue;
        if (st) b->reqs[id].state = JANUS_GEN_CANCELLED; /* a backend failure ends every question */
        else if (b->reqs[id].seq.done) b->reqs[id].state = JANUS_GEN_DONE;
        if (b->reqs[id].state != JANUS_GEN_RUNNING) b->slot_owner[i] = -1;
    }
    return st ? st : janus_ask_batch_n_live(b);
}

int janus_ask_batch_take(janus_ask_batch *b, int id, char **answer, const char **finish_reason, int *n_tokens,
                         janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    if (id < 0 || id >= b->n_reqs || b->reqs[id].state < 0) return jn_fail(err, JN_ERR_USAGE, "unknown question %d", id);
    ask_request *r = &b->reqs[id];
    if (r->state != JANUS_GEN_DONE)
        return jn_fail(err, r->state == JANUS_GEN_CANCELLED ? JN_ERR_RUNTIME : JN_ERR_USAGE, "question %d is %s", id,
                       r->state == JANUS_GEN_CANCELLED ? "cancelled" : "still running");
    if (answer) {
        size_t len = 0;
        jn_status st = jn_tokenizer_decode(b->s->m->tokenizer.tok, r->seq.answer, (size_t)r->seq.n_answer, 1, answer,
                                           &len, err);
        if (st) return st;
    }
    if (finish_reason) *finish_reason = r->seq.finish_reason;
    if (n_tokens) *n_tokens = r->seq.n_answer;
    seq_free(&r->seq);
    r->state = -1;
    return JN_OK;
}
