/* api/generate.c — text-to-image (janus-spec §4-5): prompt without system prompt +
 * <begin_of_image>; n images -> 2n interleaved rows (even cond, odd uncond with positions
 * 1..T-2 replaced by pad) in one batched forward; gen_head; CFG u + w(c - u); temperature and
 * optional top-k/top-p; sampling from a counter-based RNG keyed by (seed, image, step) so an
 * image depends only on its seed and index, never on threads, backend or n; the sampled code is
 * fed back to both rows through gen_embed + gen_aligner; 576 steps; VQ decode. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "decoder/chat_template.h"

#include <stdlib.h>
#include <string.h>

#include "engine/rng.h"
#include "engine/sample.h"

janus_gen_params janus_gen_default_params(void) {
    janus_gen_params p;
    memset(&p, 0, sizeof p);
    p.n_images = 1;
    p.cfg = 5.0f;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.seed = 42;
    return p;
}

/* Cond and uncond prompt rows: *cond [T], *uncond [T] (malloc'ed). */
static jn_status gen_prompt_rows(janus_model *m, const char *prompt, int32_t **cond, int32_t **uncond, size_t *T,
                                 jn_error *err) {
    const jn_chat_template *pc = &m->prompt;
    jn_chat_turn turns[2] = {{pc->user_role, prompt}, {pc->assistant_role, ""}};
    char *sft = jn_chat_format(pc, "", turns, 2);
    if (!sft) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    size_t n = strlen(sft), ns = strlen(pc->image_start_tag);
    char *text = malloc(n + ns + 1);
    if (!text) {
        free(sft);
        return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    }
    memcpy(text, sft, n);
    memcpy(text + n, pc->image_start_tag, ns + 1);
    free(sft);
    jn_status st = jn_tokenizer_encode(m->tokenizer.tok, text, n + ns, 1, cond, T, err);
    free(text);
    if (st) return st;
    *uncond = malloc(*T * sizeof(int32_t));
    if (!*uncond) {
        free(*cond);
        *cond = NULL;
        return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < *T; i++) (*uncond)[i] = (i == 0 || i + 1 == *T) ? (*cond)[i] : pc->pad;
    return JN_OK;
}

int janus_decode_tokens(janus_model *m, const int32_t *tokens, int n_images, janus_image **images, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    const int grid = JANUS_GEN_GRID, n_tok = grid * grid;
    *images = NULL;
    if (n_images < 1) return jn_fail(err, JN_ERR_USAGE, "no image tokens to decode");
    for (size_t i = 0; i < (size_t)n_images * n_tok; i++)
        if (tokens[i] < 0 || tokens[i] >= m->vq_hp.codebook_size)
            return jn_fail(err, JN_ERR_USAGE, "image token %d (image %zu, position %zu) is outside the codebook [0, %d)",
                           tokens[i], i / n_tok, i % n_tok, m->vq_hp.codebook_size);
    jn_vq_session *vs = jn_vq_session_create(m->be, &m->vq_hp, &m->vq_w, grid, err);
    /* output side from the decoder's own level count (grid * 2^(n_levels-1); 384 for Janus-Pro) */
    int HW = vs ? jn_vq_session_out_size(vs) : 0;
    janus_image *imgs = calloc((size_t)n_images, sizeof *imgs);
    float *chw = malloc((size_t)3 * HW * HW * sizeof(float));
    jn_status st = JN_OK;
    if (!imgs || !chw || !vs) {
        st = vs ? jn_fail(err, JN_ERR_NOMEM, "out of memory") : (err->code ? err->code : JN_ERR_NOMEM);
        goto done;
    }
    for (int i = 0; i < n_images; i++) {
        if ((st = jn_vq_decode(vs, tokens + (size_t)i * n_tok, chw, err))) goto done;
        imgs[i].width = imgs[i].height = HW;
        imgs[i].rgb = malloc((size_t)HW * HW * 3);
        if (!imgs[i].rgb) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); goto done; }
        jn_vq_to_rgb8(chw, HW, HW, imgs[i].rgb);
    }
done:
    jn_vq_session_free(vs);
    free(chw);
    if (st) {
        janus_images_free(imgs, n_images);
        return st;
    }
    *images = imgs;
    return JN_OK;
}

int janus_generate(janus_model *m, const janus_gen_params *p, janus_image **images, int32_t **tokens_out,
                   janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    jn_backend *be = m->be;
    /* n_steps: one code per cell of the VQ grid janus_decode_tokens decodes (576; teacher_tokens is [576]) */
    const int n_embd = m->lm_hp.n_embd, C = m->gen_hp.codebook_size, n_steps = JANUS_GEN_GRID * JANUS_GEN_GRID;
    jn_status st = JN_OK;
    int32_t *cond = NULL, *uncond = NULL, *tokens = NULL, *row_ids = NULL, *feed = NULL;
    size_t T = 0;
    float *x = NULL, *hidden = NULL, *logits = NULL, *gen_scratch = NULL;
    float *logits_host = NULL, *mixed = NULL, *scratch = NULL, *cfg_dump = NULL, *raw_dump = NULL;
    enum { N_RAW_DUMP = 8 }; /* raw cond/uncond logits of image 0 for the first steps */
    int *scratch_idx = NULL;
    jn_lm_session *ls = NULL;
    if (images) *images = NULL;
    if (tokens_out) *tokens_out = NULL;

    if (!p || !p->prompt) return jn_fail(err, JN_ERR_USAGE, "no prompt given");
    const int n = p->n_images, rows = 2 * n;
    if (n < 1 || n > 256) return jn_fail(err, JN_ERR_USAGE, "the number of images must be 1..256 (got %d)", n);
    if (!(p->temperature > 0.0f)) return jn_fail(err, JN_ERR_USAGE, "temperature must be > 0 (got %g)", (double)p->temperature);
    if (p->top_k < 0) return jn_fail(err, JN_ERR_USAGE, "top-k must be >= 0 (got %d)", p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f)) return jn_fail(err, JN_ERR_USAGE, "top-p must be in (0, 1] (got %g)", (double)p->top_p);
    if (p->teacher_tokens)
        for (int i = 0; i < n_steps; i++)
            if (p->teacher_tokens[i] < 0 || p->teacher_tokens[i] >= C)
                return jn_fail(err, JN_ERR_USAGE, "teacher token %d at position %d is outside the codebook [0, %d)",
                               p->teacher_tokens[i], i, C);
    if ((st = janus_dump_prepare(p->dump_dir, err))) return st;
    if ((st = gen_prompt_rows(m, p->prompt, &cond, &uncond, &T, err))) return st;
    if ((st = janus_dump_ids(p->dump_dir, "input_ids_cond.json", cond, T, err))) goto done;
    if ((st = janus_dump_ids(p->dump_dir, "input_ids_uncond.json", uncond, T, err))) goto done;
    int n_ctx = (int)T + n_steps;
    if (n_ctx > m->lm_hp.max_ctx) {
        st = jn_fail(err, JN_ERR_USAGE, "the prompt is %zu tokens; with %d image tokens it exceeds the context of %d",
                     T, n_steps, m->lm_hp.max_ctx);
        goto done;
    }

    ls = jn_lm_session_create(be, &m->lm_hp, &m->lm_w, rows, n_ctx, rows * (int)T, err);
    if (!ls) { st = err->code ? err->code : JN_ERR_NOMEM; goto done; }
    size_t gen_scratch_n = (size_t)rows * (n_embd + m->gen_hp.codebook_dim + m->gen_hp.head_embd);
    x = be->alloc(be, (size_t)rows * T * n_embd * sizeof(float));
    hidden = be->alloc(be, (size_t)rows * n_embd * sizeof(float));
    logits = be->alloc(be, (size_t)rows * C * sizeof(float));
    gen_scratch = be->alloc(be, gen_scratch_n * sizeof(float));
    row_ids = malloc((size_t)rows * T * sizeof(int32_t));
    feed = malloc((size_t)rows * sizeof(int32_t));
    tokens = malloc((size_t)n * n_steps * sizeof(int32_t));
    logits_host = malloc((size_t)rows * C * sizeof(float));
    mixed = malloc((size_t)C * sizeof(float));
    scratch = malloc((size_t)C * sizeof(float));
    scratch_idx = malloc((size_t)C * sizeof(int));
    if (p->dump_dir) {
        cfg_dump = malloc((size_t)n_steps * C * sizeof(float));
        raw_dump = malloc((size_t)2 * N_RAW_DUMP * C * sizeof(float));
    }
    if (!x || !hidden || !logits || !gen_scratch || !row_ids || !feed || !tokens || !logits_host || !mixed || !scratch ||
        !scratch_idx || (p->dump_dir && (!cfg_dump || !raw_dump))) {
        st = jn_fail(err, JN_ERR_NOMEM, "out of memory for %d images", n);
        goto done;
    }
    for (int r = 0; r < rows; r++) memcpy(row_ids + (size_t)r * T, (r % 2 == 0) ? cond : uncond, T * sizeof(int32_t));
    jn_lm_embed(ls, row_ids, rows * (int)T, x);
    if ((st = jn_lm_forward(ls, x, rows, (int)T, hidden, 1, err))) goto done;

    for (int step = 0; step < n_steps; step++) {
        jn_gen_head(be, &m->gen_w, &m->gen_hp, hidden, rows, logits, gen_scratch);
        be->download(be, logits_host, logits, (size_t)rows * C * sizeof(float));
        if (raw_dump && step < N_RAW_DUMP) {
            memcpy(raw_dump + (size_t)step * C, logits_host, (size_t)C * sizeof(float));
            memcpy(raw_dump + (size_t)(N_RAW_DUMP + step) * C, logits_host + C, (size_t)C * sizeof(float));
        }
        for (int i = 0; i < n; i++) {
            const float *lc = logits_host + (size_t)(2 * i) * C, *lu = logits_host + (size_t)(2 * i + 1) * C;
            jn_cfg_combine(mixed, lc, lu, C, p->cfg);
            if (i == 0 && cfg_dump) memcpy(cfg_dump + (size_t)step * C, mixed, (size_t)C * sizeof(float));
            int32_t tok;
            if (p->teacher_tokens) {
                tok = p->teacher_tokens[step];
            } else {
                float u = jn_rng_uniform(p->seed, (uint64_t)i, (uint64_t)step);
                tok = jn_sample(mixed, C, p->temperature, p->top_k, p->top_p, u, scratch, scratch_idx);
            }
            tokens[(size_t)i * n_steps + step] = tok;
            feed[2 * i] = feed[2 * i + 1] = tok;
        }
        if (p->progress && p->progress(p->progress_user, "generate", step + 1, n_steps)) {
            st = jn_fail(err, JN_ERR_RUNTIME, "cancelled");
            goto done;
        }
        if (step + 1 == n_steps) break; /* the last code is never fed back */
        jn_gen_feedback(be, &m->gen_w, &m->gen_hp, feed, rows, x, gen_scratch);
        if ((st = jn_lm_forward(ls, x, rows, 1, hidden, 1, err))) goto done;
    }
    if (cfg_dump) {
        int64_t sh[2] = {n_steps, C};
        if ((st = janus_dump_f32(p->dump_dir, "cfg_logits.npy", cfg_dump, 2, sh, err))) goto done;
        int64_t sh_raw[2] = {n_steps < N_RAW_DUMP ? n_steps : N_RAW_DUMP, C};
        if ((st = janus_dump_f32(p->dump_dir, "cond_logits_first8.npy", raw_dump, 2, sh_raw, err))) goto done;
        if ((st = janus_dump_f32(p->dump_dir, "uncond_logits_first8.npy", raw_dump + (size_t)N_RAW_DUMP * C, 2, sh_raw, err)))
            goto done;
    }
    if ((st = janus_dump_ids(p->dump_dir, "image_tokens.json", tokens, (size_t)n * n_steps, err))) goto done;
    jn_lm_session_free(ls);
    ls = NULL;
    if (images && (st = janus_decode_tokens(m, tokens, n, images, perr))) goto done;
    if (tokens_out) {
        *tokens_out = tokens;
        tokens = NULL;
    }
done:
    if (ls) jn_lm_session_free(ls);
    be->free(be, x);
    be->free(be, hidden);
    be->free(be, logits);
    be->free(be, gen_scratch);
    free(cond);
    free(uncond);
    free(row_ids);
    free(feed);
    free(tokens);
    free(logits_host);
    free(mixed);
    free(scratch);
    free(scratch_idx);
    free(cfg_dump);
    free(raw_dump);
    return st;
}
