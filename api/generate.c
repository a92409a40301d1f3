/* api/generate.c — text-to-image (janus-spec §4-5): prompt without system prompt +
 * <begin_of_image>; n images -> 2n interleaved rows (even cond, odd uncond with positions
 * 1..T-2 replaced by pad) in one batched forward; gen_head; CFG u + w(c - u); temperature and
 * optional top-k/top-p; sampling from a counter-based RNG keyed by (seed, image, step) so an
 * image depends only on its seed and index, never on threads, backend or n; the sampled code is
 * fed back to both rows through gen_embed + gen_aligner; 576 steps; VQ decode.
 *
 * Phases: build rows (tokenize; cond + uncond) -> prefill the pair once and copy its KV to the
 * other images' rows -> per step: gen head over every live row, CFG + sample per image, feed
 * back, one batched forward. A janus_gen_batch drives any number of independent requests through
 * the same forward; janus_generate is a batch of one on a temporary session. */
#define _POSIX_C_SOURCE 200809L
#include "session.h"
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

enum { N_RAW_DUMP = 8 }; /* raw cond/uncond logits of image 0 for the first steps (--dump) */

typedef struct gen_request {
    int state;          /* JANUS_GEN_RUNNING / DONE / CANCELLED; -1: slot of the request table unused */
    int n_images, slot0, step;
    int first_index;    /* image i samples as image first_index + i (janus_gen_params.first_index) */
    float cfg;
    jn_sampler sampler; /* stream = image index, step = image-token position */
    int32_t *teacher;   /* [576] or NULL */
    int32_t *tokens;    /* [n_images, 576] */
    janus_progress_fn progress;
    void *progress_user;
    char *dump_dir;
    float *cfg_dump, *raw_dump; /* [576, C], [2, N_RAW_DUMP, C] when dumping */
} gen_request;

struct janus_gen_batch {
    janus_session *s;
    jn_lm_session *lm;
    int n_rows, n_ctx, n_tok_max; /* capacity of the current LM session */
    int *slot_owner;    /* [n_rows]: request id or -1 */
    gen_request *reqs;
    int n_reqs, cap_reqs;
    float *x;           /* backend [n_tok_max, E] */
    float *hidden_slot; /* backend [n_rows, E]: last hidden state of each slot */
    float *h_live;      /* backend [n_rows, E] */
    float *logits;      /* backend [n_rows, C] */
    float *gen_scratch; /* backend */
    float *logits_host; /* host [n_rows, C] */
    float *mixed;       /* host [C] */
    int *live, *go;     /* host [n_rows] slot lists */
    int32_t *feed;      /* host [n_rows] */
};

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
    if (!uncond) return JN_OK;
    *uncond = malloc(*T * sizeof(int32_t));
    if (!*uncond) {
        free(*cond);
        *cond = NULL;
        return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < *T; i++) (*uncond)[i] = (i == 0 || i + 1 == *T) ? (*cond)[i] : pc->pad;
    return JN_OK;
}

static void batch_free_buffers(janus_gen_batch *b) {
    jn_backend *be = b->s->be;
    jn_lm_session_free(b->lm);
    b->lm = NULL;
    be->free(be, b->x);
    be->free(be, b->hidden_slot);
    be->free(be, b->h_live);
    be->free(be, b->logits);
    be->free(be, b->gen_scratch);
    b->x = b->hidden_slot = b->h_live = b->logits = b->gen_scratch = NULL;
    free(b->logits_host);
    free(b->mixed);
    free(b->slot_owner);
    free(b->live);
    free(b->go);
    free(b->feed);
    b->logits_host = b->mixed = NULL;
    b->slot_owner = b->live = b->go = NULL;
    b->feed = NULL;
    b->n_rows = b->n_ctx = b->n_tok_max = 0;
}

/* (Re)creates the LM session and buffers for n_rows slots of n_ctx positions (batch empty). */
static jn_status batch_alloc(janus_gen_batch *b, int n_rows, int n_ctx, int n_tok_max, jn_error *err) {
    janus_session *s = b->s;
    janus_model *m = s->m;
    jn_backend *be = s->be;
    const size_t E = (size_t)m->lm_hp.n_embd, C = (size_t)m->gen_hp.codebook_size;
    batch_free_buffers(b);
    if (n_tok_max < n_rows) n_tok_max = n_rows;
    jn_status st = janus_session_check_memory(s, "generating", n_rows, n_ctx, n_tok_max, err);
    if (st) return st;
    b->lm = jn_lm_session_create(be, &m->lm_hp, &m->lm_w, n_rows, n_ctx, n_tok_max, m->kv_type, err);
    if (!b->lm) return err->code ? err->code : JN_ERR_NOMEM;
    b->n_rows = n_rows;
    b->n_ctx = n_ctx;
    b->n_tok_max = n_tok_max;
    size_t gen_scratch_n = (size_t)n_rows * (E + m->gen_hp.codebook_dim + m->gen_hp.head_embd);
    b->x = be->alloc(be, (size_t)n_tok_max * E * sizeof(float));
    b->hidden_slot = be->alloc(be, (size_t)n_rows * E * sizeof(float));
    b->h_live = be->alloc(be, (size_t)n_rows * E * sizeof(float));
    b->logits = be->alloc(be, (size_t)n_rows * C * sizeof(float));
    b->gen_scratch = be->alloc(be, gen_scratch_n * sizeof(float));
    b->logits_host = malloc((size_t)n_rows * C * sizeof(float));
    b->mixed = malloc(C * sizeof(float));
    b->slot_owner = malloc((size_t)n_rows * sizeof(int));
    b->live = malloc((size_t)n_rows * sizeof(int));
    b->go = malloc((size_t)n_rows * sizeof(int));
    b->feed = malloc((size_t)n_rows * sizeof(int32_t));
    if (!b->x || !b->hidden_slot || !b->h_live || !b->logits || !b->gen_scratch || !b->logits_host || !b->mixed ||
        !b->slot_owner || !b->live || !b->go || !b->feed) {
        batch_free_buffers(b);
        return jn_fail(err, JN_ERR_NOMEM, "out of memory for a generation batch of %d rows", n_rows);
    }
    for (int i = 0; i < n_rows; i++) b->slot_owner[i] = -1;
    return JN_OK;
}

janus_gen_batch *janus_gen_batch_create(janus_session *s, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    if (s->gen) {
        jn_fail(err, JN_ERR_USAGE, "the session already has a generation batch (one at a time)");
        return NULL;
    }
    janus_gen_batch *b = calloc(1, sizeof *b);
    if (!b) {
        jn_fail(err, JN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    b->s = s;
    s->gen = b;
    return b;
}

static void request_release(janus_gen_batch *b, gen_request *r) {
    for (int i = 0; i < 2 * r->n_images && b->slot_owner; i++) b->slot_owner[r->slot0 + i] = -1;
    jn_sampler_free(&r->sampler);
    free(r->teacher);
    free(r->dump_dir);
    free(r->cfg_dump);
    free(r->raw_dump);
    r->teacher = NULL;
    r->dump_dir = NULL;
    r->cfg_dump = r->raw_dump = NULL;
}

void janus_gen_batch_free(janus_gen_batch *b) {
    if (!b) return;
    for (int i = 0; i < b->n_reqs; i++) {
        request_release(b, &b->reqs[i]);
        free(b->reqs[i].tokens);
    }
    free(b->reqs);
    batch_free_buffers(b);
    b->s->gen = NULL;
    free(b);
}

int janus_gen_batch_n_live(const janus_gen_batch *b) {
    int n = 0;
    for (int i = 0; i < b->n_reqs; i++) n += b->reqs[i].state == JANUS_GEN_RUNNING;
    return n;
}

int janus_gen_batch_free_rows(const janus_gen_batch *b) {
    if (!b->lm) return b->s->max_rows;
    int n = 0;
    for (int i = 0; i < b->n_rows; i++) n += b->slot_owner[i] < 0;
    return n;
}

int janus_gen_batch_state(const janus_gen_batch *b, int id, int *steps_done) {
    if (id < 0 || id >= b->n_reqs || b->reqs[id].state < 0) return -1;
    if (steps_done) *steps_done = b->reqs[id].step;
    return b->reqs[id].state;
}

static jn_status validate_gen(janus_model *m, const janus_gen_params *p, jn_error *err) {
    const int C = m->gen_hp.codebook_size, n_steps = JANUS_GEN_GRID * JANUS_GEN_GRID;
    if (!p || !p->prompt) return jn_fail(err, JN_ERR_USAGE, "no prompt given");
    if (p->n_images < 1 || p->n_images > 256)
        return jn_fail(err, JN_ERR_USAGE, "the number of images must be 1..256 (got %d)", p->n_images);
    if (!(p->temperature > 0.0f)) return jn_fail(err, JN_ERR_USAGE, "temperature must be > 0 (got %g)", (double)p->temperature);
    if (p->first_index < 0) return jn_fail(err, JN_ERR_USAGE, "first image index must be >= 0 (got %d)", p->first_index);
    if (p->top_k < 0) return jn_fail(err, JN_ERR_USAGE, "top-k must be >= 0 (got %d)", p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f)) return jn_fail(err, JN_ERR_USAGE, "top-p must be in (0, 1] (got %g)", (double)p->top_p);
    if (p->teacher_tokens)
        for (int i = 0; i < n_steps; i++)
            if (p->teacher_tokens[i] < 0 || p->teacher_tokens[i] >= C)
                return jn_fail(err, JN_ERR_USAGE, "teacher token %d at position %d is outside the codebook [0, %d)",
                               p->teacher_tokens[i], i, C);
    return JN_OK;
}

/* Prefills rows slot0 (cond) and slot0 + 1 (uncond), then copies them to the other images' rows. */
static jn_status prefill_request(janus_gen_batch *b, gen_request *r, const int32_t *cond, size_t Tc,
                                 const int32_t *uncond, size_t Tu, jn_error *err) {
    janus_session *s = b->s;
    jn_backend *be = s->be;
    const int E = s->m->lm_hp.n_embd;
    double t0 = jn_time_s();
    int pair[2] = {r->slot0, r->slot0 + 1};
    jn_status st;
    jn_lm_seq_truncate(b->lm, pair[0], 0);
    jn_lm_seq_truncate(b->lm, pair[1], 0);
    if (Tc == Tu) { /* the official rows: one forward of two sequences */
        jn_lm_embed(b->lm, cond, (int)Tc, b->x);
        jn_lm_embed(b->lm, uncond, (int)Tu, b->x + Tc * E);
        if ((st = jn_lm_forward_slots(b->lm, b->x, pair, 2, (int)Tc, b->h_live, 1, err))) return st;
        be->copy2d(be, b->hidden_slot + (size_t)r->slot0 * E, E, b->h_live, E, 2, E);
    } else { /* a negative prompt: rows of different lengths */
        const int32_t *rows[2] = {cond, uncond};
        size_t lens[2] = {Tc, Tu};
        for (int k = 0; k < 2; k++) {
            jn_lm_embed(b->lm, rows[k], (int)lens[k], b->x);
            if ((st = jn_lm_forward_slots(b->lm, b->x, &pair[k], 1, (int)lens[k], b->h_live, 1, err))) return st;
            be->copy2d(be, b->hidden_slot + (size_t)pair[k] * E, E, b->h_live, E, 1, E);
        }
    }
    for (int i = 1; i < r->n_images; i++) /* every image starts from the same prompt */
        for (int k = 0; k < 2; k++) {
            jn_lm_seq_copy(b->lm, r->slot0 + 2 * i + k, pair[k]);
            be->copy2d(be, b->hidden_slot + (size_t)(r->slot0 + 2 * i + k) * E, E, b->hidden_slot + (size_t)pair[k] * E,
                       E, 1, E);
        }
    s->stats.tokens_prefilled += (long)(Tc + Tu);
    s->stats.prefill_s += jn_time_s() - t0;
    return janus_session_check_backend(s, err);
}

int janus_gen_batch_add(janus_gen_batch *b, const janus_gen_params *p, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    janus_session *s = b->s;
    janus_model *m = s->m;
    const int C = m->gen_hp.codebook_size, n_steps = JANUS_GEN_GRID * JANUS_GEN_GRID;
    jn_status st = validate_gen(m, p, err);
    if (st) return st;
    const int rows = 2 * p->n_images;
    if (rows > s->max_rows)
        return jn_fail(err, JN_ERR_USAGE, "%d images need %d rows; the session holds %d (janus_session_params.max_rows)",
                       p->n_images, rows, s->max_rows);
    int32_t *cond = NULL, *uncond = NULL, *neg = NULL;
    size_t Tc = 0, Tu = 0;
    if ((st = gen_prompt_rows(m, p->prompt, &cond, &uncond, &Tc, err))) return st;
    Tu = Tc;
    if (p->negative_prompt) { /* its template rows replace the pad row */
        if ((st = gen_prompt_rows(m, p->negative_prompt, &neg, NULL, &Tu, err))) goto done;
        free(uncond);
        uncond = neg;
        neg = NULL;
    }
    size_t T = Tc > Tu ? Tc : Tu;
    if ((long)T + n_steps > s->max_ctx) {
        st = jn_fail(err, JN_ERR_USAGE, "the prompt is %zu tokens; with %d image tokens it exceeds the context of %d", T,
                     n_steps, s->max_ctx);
        goto done;
    }
    if (!b->lm || (janus_gen_batch_n_live(b) == 0 && ((int)T + n_steps > b->n_ctx || rows > b->n_rows ||
                                                       2 * (int)T > b->n_tok_max))) {
        /* an empty batch is sized for the session's rows, with room for prompts 64 tokens longer */
        int want_rows = s->max_rows;
        int want_ctx = (int)T + n_steps + 64;
        if (want_ctx > s->max_ctx) want_ctx = s->max_ctx;
        if ((st = batch_alloc(b, want_rows, want_ctx, 2 * ((int)T + 64), err))) goto done;
    }
    if ((int)T + n_steps > b->n_ctx || 2 * (int)T > b->n_tok_max) {
        st = jn_fail(err, JN_ERR_USAGE, "a %zu-token prompt does not fit beside the running requests (room for %d)", T,
                     b->n_ctx - n_steps);
        goto done;
    }
    int slot0 = -1;
    for (int i = 0; i + rows <= b->n_rows && slot0 < 0; i++) {
        int j = 0;
        while (j < rows && b->slot_owner[i + j] < 0) j++;
        if (j == rows) slot0 = i;
        else i += j;
    }
    if (slot0 < 0) {
        st = jn_fail(err, JN_ERR_USAGE, "%d images need %d free rows; %d of the batch's %d rows are free", p->n_images,
                     rows, janus_gen_batch_free_rows(b), b->n_rows);
        goto done;
    }
    int id = 0; /* an entry whose tokens were taken is used again: a server's table stays small */
    while (id < b->n_reqs && !(b->reqs[id].state == -1 && !b->reqs[id].tokens)) id++;
    if (id == b->n_reqs && b->n_reqs == b->cap_reqs) {
        int cap = b->cap_reqs ? 2 * b->cap_reqs : 8;
        gen_request *q = realloc(b->reqs, (size_t)cap * sizeof *q);
        if (!q) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); goto done; }
        b->reqs = q;
        b->cap_reqs = cap;
    }
    gen_request *r = &b->reqs[id];
    memset(r, 0, sizeof *r);
    r->state = -1;
    r->n_images = p->n_images;
    r->slot0 = slot0;
    r->cfg = p->cfg;
    r->first_index = p->first_index;
    if ((st = jn_sampler_init(&r->sampler, C, p->temperature, p->top_k, p->top_p, p->seed, err))) goto done;
    r->progress = p->progress;
    r->progress_user = p->progress_user;
    r->tokens = malloc((size_t)p->n_images * n_steps * sizeof(int32_t));
    if (p->teacher_tokens && (r->teacher = malloc((size_t)n_steps * sizeof(int32_t))))
        memcpy(r->teacher, p->teacher_tokens, (size_t)n_steps * sizeof(int32_t));
    if (p->dump_dir) {
        r->dump_dir = strdup(p->dump_dir);
        r->cfg_dump = malloc((size_t)n_steps * C * sizeof(float));
        r->raw_dump = malloc((size_t)2 * N_RAW_DUMP * C * sizeof(float));
    }
    if (!r->tokens || (p->teacher_tokens && !r->teacher) || (p->dump_dir && (!r->dump_dir || !r->cfg_dump || !r->raw_dump))) {
        request_release(b, r);
        free(r->tokens);
        st = jn_fail(err, JN_ERR_NOMEM, "out of memory for %d images", p->n_images);
        goto done;
    }
    if ((st = janus_dump_prepare(p->dump_dir, err)) || (st = janus_dump_ids(p->dump_dir, "input_ids_cond.json", cond, Tc, err)) ||
        (st = janus_dump_ids(p->dump_dir, "input_ids_uncond.json", uncond, Tu, err)) ||
        (st = prefill_request(b, r, cond, Tc, uncond, Tu, err))) {
        request_release(b, r);
        free(r->tokens);
        goto done;
    }
    for (int i = 0; i < rows; i++) b->slot_owner[slot0 + i] = id;
    r->state = JANUS_GEN_RUNNING;
    if (id == b->n_reqs) b->n_reqs++;
    st = id;
done:
    free(cond);
    free(uncond);
    free(neg);
    return st;
}

int janus_gen_batch_cancel(janus_gen_batch *b, int id) {
    if (id < 0 || id >= b->n_reqs || b->reqs[id].state < 0) return JANUS_ERR_USAGE;
    gen_request *r = &b->reqs[id];
    if (r->state == JANUS_GEN_RUNNING) {
        r->state = JANUS_GEN_CANCELLED;
        request_release(b, r);
    }
    return JANUS_OK;
}

static jn_status finish_request(gen_request *r, int C, jn_error *err) {
    const int n_steps = JANUS_GEN_GRID * JANUS_GEN_GRID;
    jn_status st = JN_OK;
    if (r->dump_dir) {
        int64_t sh[2] = {n_steps, C}, sh_raw[2] = {N_RAW_DUMP, C};
        if (!st) st = janus_dump_f32(r->dump_dir, "cfg_logits.npy", r->cfg_dump, 2, sh, err);
        if (!st) st = janus_dump_f32(r->dump_dir, "cond_logits_first8.npy", r->raw_dump, 2, sh_raw, err);
        if (!st) st = janus_dump_f32(r->dump_dir, "uncond_logits_first8.npy", r->raw_dump + (size_t)N_RAW_DUMP * C, 2, sh_raw, err);
        if (!st) st = janus_dump_ids(r->dump_dir, "image_tokens.json", r->tokens, (size_t)r->n_images * n_steps, err);
    }
    return st;
}

int janus_gen_batch_step(janus_gen_batch *b, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    janus_session *s = b->s;
    janus_model *m = s->m;
    jn_backend *be = s->be;
    const int E = m->lm_hp.n_embd, C = m->gen_hp.codebook_size, n_steps = JANUS_GEN_GRID * JANUS_GEN_GRID;
    if (!b->lm) return 0;
    double t0 = jn_time_s();
    /* live rows in slot order (each request's rows are consecutive) */
    int n_live = 0;
    for (int i = 0; i < b->n_rows; i++)
        if (b->slot_owner[i] >= 0) b->live[n_live++] = i;
    if (n_live == 0) return 0;
    for (int i0 = 0; i0 < n_live;) { /* gather hidden rows, one copy per run of consecutive slots */
        int i1 = i0 + 1;
        while (i1 < n_live && b->live[i1] == b->live[i1 - 1] + 1) i1++;
        be->copy2d(be, b->h_live + (size_t)i0 * E, E, b->hidden_slot + (size_t)b->live[i0] * E, E, i1 - i0, E);
        i0 = i1;
    }
    jn_gen_head(be, &m->gen_w, &m->gen_hp, b->h_live, n_live, b->logits, b->gen_scratch);
    be->download(be, b->logits_host, b->logits, (size_t)n_live * C * sizeof(float));
    jn_status st = janus_session_check_backend(s, err);
    if (st) goto fail;
    int n_go = 0;
    for (int li = 0; li < n_live;) {
        gen_request *r = &b->reqs[b->slot_owner[b->live[li]]];
        const int step = r->step;
        for (int i = 0; i < r->n_images; i++) {
            const float *lc = b->logits_host + (size_t)(li + 2 * i) * C, *lu = lc + C;
            if (r->raw_dump && step < N_RAW_DUMP && i == 0) {
                memcpy(r->raw_dump + (size_t)step * C, lc, (size_t)C * sizeof(float));
                memcpy(r->raw_dump + (size_t)(N_RAW_DUMP + step) * C, lu, (size_t)C * sizeof(float));
            }
            jn_cfg_combine(b->mixed, lc, lu, C, r->cfg);
            if (i == 0 && r->cfg_dump) memcpy(r->cfg_dump + (size_t)step * C, b->mixed, (size_t)C * sizeof(float));
            int32_t tok;
            if (r->teacher) {
                tok = r->teacher[step];
            } else {
                tok = jn_sampler_draw(&r->sampler, b->mixed, (uint64_t)(r->first_index + i), (uint64_t)step);
            }
            r->tokens[(size_t)i * n_steps + step] = tok;
            b->feed[n_go + 2 * i] = b->feed[n_go + 2 * i + 1] = tok;
        }
        const int rows = 2 * r->n_images;
        r->step = step + 1;
        if (r->progress && r->progress(r->progress_user, "generate", r->step, n_steps)) {
            r->state = JANUS_GEN_CANCELLED;
            request_release(b, r);
        } else if (r->step == n_steps) { /* the last code is never fed back */
            r->state = JANUS_GEN_DONE;
            st = finish_request(r, C, err);
            request_release(b, r);
            if (st) goto fail;
        } else {
            for (int k = 0; k < rows; k++) b->go[n_go + k] = b->live[li + k];
            n_go += rows;
        }
        li += rows;
    }
    if (n_go > 0) {
        jn_gen_feedback(be, &m->gen_w, &m->gen_hp, b->feed, n_go, b->x, b->gen_scratch);
        if ((st = jn_lm_forward_slots(b->lm, b->x, b->go, n_go, 1, b->h_live, 1, err))) goto fail;
        for (int i0 = 0; i0 < n_go;) { /* scatter the new hidden rows back to their slots */
            int i1 = i0 + 1;
            while (i1 < n_go && b->go[i1] == b->go[i1 - 1] + 1) i1++;
            be->copy2d(be, b->hidden_slot + (size_t)b->go[i0] * E, E, b->h_live + (size_t)i0 * E, E, i1 - i0, E);
            i0 = i1;
        }
    }
    s->stats.gen_steps++;
    s->stats.gen_s += jn_time_s() - t0;
    return janus_gen_batch_n_live(b);
fail: /* a backend failure leaves no request in a usable state */
    for (int i = 0; i < b->n_reqs; i++)
        if (b->reqs[i].state == JANUS_GEN_RUNNING) {
            b->reqs[i].state = JANUS_GEN_CANCELLED;
            request_release(b, &b->reqs[i]);
        }
    return st;
}

int janus_gen_batch_release_memory(janus_gen_batch *b, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    const int live = janus_gen_batch_n_live(b);
    if (live) return jn_fail(err, JN_ERR_USAGE, "%d generation requests are still running", live);
    batch_free_buffers(b);
    return JN_OK;
}

int janus_gen_batch_take_tokens(janus_gen_batch *b, int id, int32_t **tokens, int *n_images, janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    if (id < 0 || id >= b->n_reqs || b->reqs[id].state < 0) return jn_fail(err, JN_ERR_USAGE, "unknown request %d", id);
    gen_request *r = &b->reqs[id];
    if (r->state != JANUS_GEN_DONE)
        return jn_fail(err, r->state == JANUS_GEN_CANCELLED ? JN_ERR_RUNTIME : JN_ERR_USAGE, "request %d is %s", id,
                       r->state == JANUS_GEN_CANCELLED ? "cancelled" : "still running");
    *tokens = r->tokens;
    if (n_images) *n_images = r->n_images;
    r->tokens = NULL;
    r->state = -1;
    return JN_OK;
}

int janus_generate(janus_model *m, const janus_gen_params *p, janus_image **images, int32_t **tokens_out,
                   janus_error *perr) {
    jn_error local_err, *err = JN_ERR_OR_LOCAL(perr, local_err);
    if (images) *images = NULL;
    if (tokens_out) *tokens_out = NULL;
    jn_status st = validate_gen(m, p, err);
    if (st) return st;
    janus_session_params sp = janus_session_default_params();
    sp.max_rows = 2 * p->n_images;
    janus_session *s = janus_session_create(m, &sp, (janus_error *)err);
    if (!s) return err->code ? err->code : JN_ERR_NOMEM;
    janus_gen_batch *b = janus_gen_batch_create(s, (janus_error *)err);
    int32_t *tokens = NULL;
    int id = b ? janus_gen_batch_add(b, p, (janus_error *)err) : (err->code ? err->code : JN_ERR_NOMEM);
    st = id < 0 ? id : JN_OK;
    while (!st) {
        int live = janus_gen_batch_step(b, (janus_error *)err);
        if (live < 0) st = live;
        if (live <= 0) break;
    }
    if (!st && janus_gen_batch_state(b, id, NULL) == JANUS_GEN_CANCELLED) st = jn_fail(err, JN_ERR_RUNTIME, "cancelled");
    if (!st) st = janus_gen_batch_take_tokens(b, id, &tokens, NULL, (janus_error *)err);
    janus_gen_batch_free(b);
    if (!st && images) st = janus_session_decode(s, tokens, p->n_images, images, (janus_error *)err);
    janus_session_free(s);
    if (!st && tokens_out) {
        *tokens_out = tokens;
        tokens = NULL;
    }
    free(tokens);
    return st;
}
