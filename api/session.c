/* api/session.c — janus_session: the per-request state on top of an immutable, shared model.
 *
 * Why: the model (weights, hparams, tokenizer, settings) is loaded once and read by any number of
 * threads; everything a request mutates lives here — the session's own backend instance (thread
 * pool + scratch, or CUDA stream), the understanding conversation (api/understand.c), a
 * generation batch (api/generate.c) and the VQ decoder buffers, all reused between requests. */
#define _POSIX_C_SOURCE 200809L
#include "session.h"

#include <stdio.h>
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
    s->mem_limit = p->mem_limit;
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
    return jn_backend_status(s->be, err);
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

/* ---------------------------------------------------------------- memory planning */

static size_t read_size_file(const char *path, const char *key) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[256];
    size_t v = 0;
    while (fgets(line, sizeof line, f)) {
        if (key) {
            size_t kl = strlen(key);
            unsigned long long kb;
            if (!strncmp(line, key, kl) && sscanf(line + kl, " %llu", &kb) == 1) {
                v = (size_t)kb * 1024;
                break;
            }
        } else {
            unsigned long long x;
            if (sscanf(line, "%llu", &x) == 1) v = (size_t)x; /* "max" reads as no limit */
            break;
        }
    }
    fclose(f);
    return v;
}

size_t janus_memory_available(void) {
    size_t avail = read_size_file("/proc/meminfo", "MemAvailable:");
    /* cgroup v2, then v1: the limit minus what the group already uses */
    const char *limits[2][2] = {{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
                                {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"}};
    for (int i = 0; i < 2; i++) {
        size_t lim = read_size_file(limits[i][0], NULL), used = read_size_file(limits[i][1], NULL);
        if (lim > 0 && lim < ((size_t)1 << 60) && used <= lim && (avail == 0 || lim - used < avail)) avail = lim - used;
    }
    return avail;
}

int janus_memory_plan_for(const janus_model *m, int rows, int ctx, int prefill_rows, int images, int vq,
                          janus_memory_plan *out) {
    memset(out, 0, sizeof *out);
    if (rows < 1) return JANUS_ERR_USAGE;
    if (ctx <= 0) ctx = 64 + JANUS_GEN_GRID * JANUS_GEN_GRID;
    if (prefill_rows <= 0) prefill_rows = 2 * 64;
    if (prefill_rows < rows) prefill_rows = rows;
    for (int64_t i = 0; i < jn_wstore_count(m->store); i++) out->weights += jn_wstore_at(m->store, i)->nbytes;
    size_t lm = jn_lm_session_bytes(&m->lm_hp, rows, ctx, prefill_rows, m->kv_type, &out->kv_cache);
    if (lm == SIZE_MAX) return JANUS_ERR_USAGE;
    out->activations = lm - out->kv_cache;
    if (images > 0) out->vision = jn_vision_session_bytes(&m->vis_hp, images);
    if (vq) out->vq_decoder = jn_vq_session_bytes(&m->vq_hp, JANUS_GEN_GRID);
    out->total = out->weights + out->kv_cache + out->activations + out->vision + out->vq_decoder;
    out->available = janus_memory_available();
    return JANUS_OK;
}

/* "1.25 GiB" / "310.0 MiB" into buf */
static const char *human_bytes(char *buf, size_t n, size_t b) {
    if (b >= ((size_t)1 << 30)) snprintf(buf, n, "%.2f GiB", (double)b / (1024.0 * 1024.0 * 1024.0));
    else snprintf(buf, n, "%.1f MiB", (double)b / (1024.0 * 1024.0));
    return buf;
}

jn_status janus_session_check_memory(janus_session *s, const char *what, int rows, int ctx, int prefill_rows,
                                     jn_error *err) {
    if (s->mem_limit == SIZE_MAX) return JN_OK;
    janus_memory_plan plan;
    if (janus_memory_plan_for(s->m, rows, ctx, prefill_rows, 0, 0, &plan))
        return jn_fail(err, JN_ERR_USAGE, "%s: %d rows x %d positions is too large", what, rows, ctx);
    size_t limit = s->mem_limit ? s->mem_limit : plan.available;
    size_t need = plan.kv_cache + plan.activations;
    if (limit == 0 || need <= limit) return JN_OK;
    int fit = 0; /* the largest row count that fits */
    for (int r = rows - 1; r >= 1 && !fit; r--) {
        janus_memory_plan p2;
        if (!janus_memory_plan_for(s->m, r, ctx, prefill_rows > r ? prefill_rows : r, 0, 0, &p2) &&
            p2.kv_cache + p2.activations <= limit)
            fit = r;
    }
    /* a q8_0 cache (0.53x f16) may make the whole batch fit: say so */
    char hint[96] = "";
    if (s->m->kv_type != JN_Q8_0 && s->be->kv_q8_0) {
        size_t q8 = jn_lm_session_bytes(&s->m->lm_hp, rows, ctx, prefill_rows, JN_Q8_0, NULL);
        if (q8 != SIZE_MAX && q8 <= limit) snprintf(hint, sizeof hint, "; with --kv-type q8_0 all %d rows fit", rows);
    }
    char b1[32], b2[32], b3[32], b4[32];
    return jn_fail(err, JN_ERR_NOMEM,
                   "%s needs %s (KV cache %s for %d rows x %d positions, activations %s) but %s %s; at most %d rows "
                   "fit (2 rows per generated image, 1 per caption)%s",
                   what, human_bytes(b1, 32, need), human_bytes(b2, 32, plan.kv_cache), rows, ctx,
                   human_bytes(b3, 32, plan.activations), human_bytes(b4, 32, limit),
                   s->mem_limit ? "is the memory limit" : "are available", fit, hint);
}
