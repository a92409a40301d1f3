/* api/understand.c — image question answering (janus-spec §2): template with the system prompt,
 * BPE ids with BOS, each <image_placeholder> expanded to <begin_of_image> + 576 placeholders +
 * <end_of_image>, images decoded and preprocessed exactly, SigLIP + aligner, image rows written
 * over the placeholder embeddings, LLaMA prefill + KV-cache decode, greedy or sampled, streamed. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
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

/* Builds the understanding prompt ids with the image placeholders expanded.
 * *ids: malloc'ed [*n]. */
static jn_status build_prompt_ids(janus_model *m, const janus_ask_params *p, int32_t **ids_out, size_t *n_out,
                                  jn_error *err) {
    const jn_chat_template *pc = &m->prompt;
    int tagged = strstr(p->question, pc->image_tag) != NULL;
    for (int i = 0; i < p->n_history; i++)
        if (p->history[i].user && strstr(p->history[i].user, pc->image_tag)) tagged = 1;
    jn_buf content = {0};
    if (!tagged) {
        for (int i = 0; i < p->n_images; i++) {
            jn_buf_puts(&content, pc->image_tag);
            jn_buf_puts(&content, "\n");
        }
    }
    jn_buf_puts(&content, p->question);
    jn_buf_append(&content, "", 1);
    int n_turns = 2 * p->n_history + 2;
    jn_chat_turn *turns = malloc((size_t)n_turns * sizeof *turns);
    if (content.oom || !turns) {
        jn_buf_free(&content);
        free(turns);
        return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < p->n_history; i++) {
        turns[2 * i] = (jn_chat_turn){pc->user_role, p->history[i].user ? p->history[i].user : ""};
        turns[2 * i + 1] = (jn_chat_turn){pc->assistant_role, p->history[i].assistant ? p->history[i].assistant : ""};
    }
    turns[n_turns - 2] = (jn_chat_turn){pc->user_role, content.data};
    turns[n_turns - 1] = (jn_chat_turn){pc->assistant_role, ""};
    char *text = jn_chat_format(pc, pc->system, turns, n_turns);
    jn_buf_free(&content);
    free(turns);
    if (!text) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    const int n_images = p->n_images;
    int32_t *raw = NULL;
    size_t n_raw = 0;
    jn_status st = jn_tokenizer_encode(m->tokenizer.tok, text, strlen(text), 1, &raw, &n_raw, err);
    free(text);
    if (st) return st;
    size_t n_ph = 0;
    for (size_t i = 0; i < n_raw; i++) n_ph += raw[i] == pc->image_placeholder;
    if ((int)n_ph != n_images) {
        free(raw);
        return jn_fail(err, JN_ERR_USAGE, "the question has %zu %s tag(s) but %d image(s) were given", n_ph,
                       pc->image_tag, n_images);
    }
    size_t n_tok_img = (size_t)m->image.n_image_tokens;
    size_t n = n_raw + n_ph * (n_tok_img + 1);
    int32_t *ids = malloc(n * sizeof *ids);
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

typedef struct {
    jn_detok_stream *stream;
    janus_token_fn fn;
    void *user;
    int stopped;
} emitter;

static void emit_piece(emitter *e, const char *s, size_t n) {
    if (!e->fn || e->stopped || n == 0) return;
    if (e->fn(e->user, s, n)) e->stopped = 1;
}

int janus_ask(janus_model *m, const janus_ask_params *p, char **answer, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    jn_backend *be = m->be;
    const int n_embd = m->lm_hp.n_embd, n_vocab = m->lm_hp.n_vocab;
    const int S = m->image.size, n_img_tok = m->image.n_image_tokens;
    jn_status st = JN_OK;
    int32_t *ids = NULL, *answer_ids = NULL;
    size_t n_ids = 0;
    float *pixels = NULL, *logits_host = NULL, *answer_logits = NULL, *scratch = NULL;
    int *scratch_idx = NULL;
    float *x = NULL, *hidden = NULL, *logits = NULL, *features = NULL, *aligned = NULL;
    jn_vision_session *vs = NULL;
    jn_lm_session *ls = NULL;
    jn_detok_stream *ds = NULL;
    int n_answer = 0;
    if (answer) *answer = NULL;

    if (!p || !p->question) return jn_fail(err, JN_ERR_USAGE, "no question given");
    if (p->n_images < 0 || (p->n_images > 0 && !p->images)) return jn_fail(err, JN_ERR_USAGE, "bad image list");
    if (p->n_history < 0 || (p->n_history > 0 && !p->history)) return jn_fail(err, JN_ERR_USAGE, "bad conversation history");
    if (p->max_tokens < 1) return jn_fail(err, JN_ERR_USAGE, "max_tokens must be >= 1 (got %d)", p->max_tokens);
    if ((st = janus_dump_prepare(p->dump_dir, err))) return st;

    if ((st = build_prompt_ids(m, p, &ids, &n_ids, err))) goto done;
    if (n_ids >= (size_t)m->lm_hp.max_ctx) {
        st = jn_fail(err, JN_ERR_USAGE, "the prompt is %zu tokens long, more than the model's context of %d tokens",
                     n_ids, m->lm_hp.max_ctx);
        goto done;
    }
    /* prompt + answer, capped at the model's context (no int overflow for a huge max_tokens) */
    int n_ctx = p->max_tokens > m->lm_hp.max_ctx - (int)n_ids ? m->lm_hp.max_ctx : (int)n_ids + p->max_tokens;
    /* answer tokens that can be produced: the last one is sampled at n_past == n_ctx and never fed */
    const int max_answer = n_ctx - (int)n_ids + 1 < p->max_tokens ? n_ctx - (int)n_ids + 1 : p->max_tokens;

    /* images -> aligned features [n_images * 576, n_embd] on the backend */
    if (p->n_images > 0) {
        pixels = malloc((size_t)p->n_images * 3 * S * S * sizeof *pixels);
        if (!pixels) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); goto done; }
        for (int i = 0; i < p->n_images; i++)
            if ((st = load_pixels(m, p->images[i], p->at_seconds, pixels + (size_t)i * 3 * S * S, err))) goto done;
        vs = jn_vision_session_create(be, &m->vis_hp, &m->vis_w, p->n_images, err);
        if (!vs) { st = err->code ? err->code : JN_ERR_NOMEM; goto done; }
        size_t n_rows = (size_t)p->n_images * n_img_tok;
        features = be->alloc(be, n_rows * m->vis_hp.width * sizeof(float));
        aligned = be->alloc(be, n_rows * n_embd * sizeof(float));
        if (!features || !aligned) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory for image features"); goto done; }
        if ((st = jn_vision_encode(vs, pixels, p->n_images, features, aligned, err))) goto done;
        if (p->dump_dir) {
            int64_t sh_px[4] = {p->n_images, 3, S, S};
            int64_t sh_f[2] = {(int64_t)n_rows, m->vis_hp.width}, sh_a[2] = {(int64_t)n_rows, n_embd};
            float *tmp = malloc(n_rows * (size_t)(m->vis_hp.width > n_embd ? m->vis_hp.width : n_embd) * sizeof(float));
            if (!tmp) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); goto done; }
            st = janus_dump_f32(p->dump_dir, "pixel_values.npy", pixels, p->n_images == 1 ? 3 : 4,
                                p->n_images == 1 ? sh_px + 1 : sh_px, err);
            if (!st) {
                be->download(be, tmp, features, n_rows * m->vis_hp.width * sizeof(float));
                st = janus_dump_f32(p->dump_dir, "vision_features.npy", tmp, 2, sh_f, err);
            }
            if (!st) {
                be->download(be, tmp, aligned, n_rows * n_embd * sizeof(float));
                st = janus_dump_f32(p->dump_dir, "aligned.npy", tmp, 2, sh_a, err);
            }
            free(tmp);
            if (st) goto done;
        }
        jn_vision_session_free(vs);
        vs = NULL;
        be->free(be, features);
        features = NULL;
    }
    if ((st = janus_dump_ids(p->dump_dir, "input_ids.json", ids, n_ids, err))) goto done;

    /* prompt embeddings: text rows from embed_tokens, image rows from the aligner */
    ls = jn_lm_session_create(be, &m->lm_hp, &m->lm_w, 1, n_ctx, (int)n_ids, err);
    if (!ls) { st = err->code ? err->code : JN_ERR_NOMEM; goto done; }
    x = be->alloc(be, n_ids * n_embd * sizeof(float));
    hidden = be->alloc(be, (size_t)n_embd * sizeof(float));
    logits = be->alloc(be, (size_t)n_vocab * sizeof(float));
    logits_host = malloc((size_t)n_vocab * sizeof(float));
    scratch = malloc((size_t)n_vocab * sizeof(float));
    scratch_idx = malloc((size_t)n_vocab * sizeof(int));
    answer_ids = malloc((size_t)max_answer * sizeof(int32_t));
    if (p->dump_dir) answer_logits = malloc((size_t)max_answer * n_vocab * sizeof(float));
    if (!x || !hidden || !logits || !logits_host || !scratch || !scratch_idx || !answer_ids ||
        (p->dump_dir && !answer_logits)) {
        st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
        goto done;
    }
    jn_lm_embed(ls, ids, (int)n_ids, x);
    {
        size_t img_row = 0;
        for (size_t i = 0; i < n_ids;) {
            if (ids[i] != m->prompt.image_placeholder) { i++; continue; }
            size_t run = 0;
            while (i + run < n_ids && ids[i + run] == m->prompt.image_placeholder) run++;
            be->copy2d(be, x + i * n_embd, n_embd, aligned + img_row * n_embd, n_embd, (int)run, n_embd);
            img_row += run;
            i += run;
        }
    }

    ds = jn_detok_stream_create(m->tokenizer.tok, 1);
    if (!ds) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); goto done; }
    emitter em = {ds, p->on_token, p->on_token_user, 0};

    if ((st = jn_lm_forward(ls, x, 1, (int)n_ids, hidden, 1, err))) goto done;
    for (;;) {
        jn_lm_logits(ls, hidden, 1, logits);
        be->download(be, logits_host, logits, (size_t)n_vocab * sizeof(float));
        if (n_answer == 0 && p->dump_dir) {
            int64_t sh[1] = {n_vocab};
            if ((st = janus_dump_f32(p->dump_dir, "logits_last.npy", logits_host, 1, sh, err))) goto done;
        }
        if (answer_logits) memcpy(answer_logits + (size_t)n_answer * n_vocab, logits_host, (size_t)n_vocab * sizeof(float));
        int32_t next;
        if (p->temperature <= 0.0f) {
            next = jn_sample_argmax(logits_host, n_vocab);
        } else {
            float u = jn_rng_uniform(p->seed, 0, (uint64_t)n_answer);
            next = jn_sample(logits_host, n_vocab, p->temperature, p->top_k, p->top_p, u, scratch, scratch_idx);
        }
        answer_ids[n_answer++] = next;
        if (next == m->prompt.eos) break;
        /* stream the text of this token */
        const char *piece;
        size_t piece_len;
        if ((st = jn_detok_stream_push(ds, next, &piece, &piece_len, err))) goto done;
        emit_piece(&em, piece, piece_len);
        if (em.stopped || n_answer >= max_answer || jn_lm_session_n_past(ls) >= n_ctx) break;
        jn_lm_embed(ls, &next, 1, x);
        if ((st = jn_lm_forward(ls, x, 1, 1, hidden, 1, err))) goto done;
    }
    {
        const char *piece;
        size_t piece_len;
        jn_detok_stream_flush(ds, &piece, &piece_len);
        emit_piece(&em, piece, piece_len);
    }
    if ((st = janus_dump_ids(p->dump_dir, "answer_ids.json", answer_ids, (size_t)n_answer, err))) goto done;
    if (answer_logits) {
        int64_t sh[2] = {n_answer, n_vocab};
        if ((st = janus_dump_f32(p->dump_dir, "answer_logits.npy", answer_logits, 2, sh, err))) goto done;
    }
    if (answer) {
        char *text = NULL;
        size_t len = 0;
        if ((st = jn_tokenizer_decode(m->tokenizer.tok, answer_ids, (size_t)n_answer, 1, &text, &len, err))) goto done;
        *answer = text;
    }
done:
    if (ds) jn_detok_stream_free(ds);
    if (vs) jn_vision_session_free(vs);
    if (ls) jn_lm_session_free(ls);
    be->free(be, features);
    be->free(be, aligned);
    be->free(be, x);
    be->free(be, hidden);
    be->free(be, logits);
    free(ids);
    free(answer_ids);
    free(pixels);
    free(logits_host);
    free(answer_logits);
    free(scratch);
    free(scratch_idx);
    return st;
}
