// janus-test-libs: janus_decoder janus_vq_tokenizer janus_engine
/* tests/test_model_lm_golden.c — the LM core and the generation head/feedback against the
 * official-code goldens of the tiny model (tests/fixtures/janus-tiny-a, float32 compute):
 *   - text_only: logits at all 157 positions of a text prompt (one prefill), and again with the
 *     last 8 positions decoded one token at a time through the KV cache;
 *   - generation_cfg: the 2-row CFG batch (cond / uncond prompt), teacher-forced with the 576
 *     recorded image tokens: cond/uncond gen_head logits of the first 8 steps and the CFG-combined
 *     logits of all 576 steps.
 * The model is converted to an f32 GGUF with `janus convert` (or taken from $JANUS_LM_GGUF), bound
 * through jn_gguf_open + jn_wstore + jn_lm_bind/jn_gen_bind with hparams read from the metadata.
 * Tolerances are the ones cases.json suggests (10 x the fp32-vs-fp64 noise floor of the official
 * code). Runs on the ref and cpu backends (and cuda when a device is present), for an f32 and a
 * bf16 conversion. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decoder/lm.h"
#include "engine/io/gguf.h"
#include "engine/io/json.h"
#include "engine/weights.h"
#include "testutil.h"
#include "vq_tokenizer/gen.h"

#define GOLDEN "janus-tiny-a/golden/tiny-a/"

static int get_int(const jn_gguf *g, const char *key, int *out) {
    int64_t v;
    jn_error err = {0};
    if (jn_gguf_get_i64(g, key, &v, &err) != JN_OK) {
        fprintf(stderr, "FAIL metadata: %s\n", err.msg);
        return 0;
    }
    *out = (int)v;
    return 1;
}
static int get_f32(const jn_gguf *g, const char *key, float *out) {
    jn_error err = {0};
    if (jn_gguf_get_f32(g, key, out, &err) != JN_OK) {
        fprintf(stderr, "FAIL metadata: %s\n", err.msg);
        return 0;
    }
    return 1;
}

/* ids array `key` of a golden json file → malloc'ed int32, *n */
static int32_t *json_ids(const jn_json *arr, int *n) {
    if (!arr || arr->type != JN_JSON_ARRAY) return NULL;
    int32_t *ids = malloc(sizeof(int32_t) * (arr->n ? arr->n : 1));
    for (size_t i = 0; i < arr->n; i++) ids[i] = (int32_t)arr->items[i]->number;
    *n = (int)arr->n;
    return ids;
}

static const jn_json *find_case(const jn_json *cases, const char *id) {
    const jn_json *list = jn_json_get(cases, "cases");
    for (size_t i = 0; list && i < list->n; i++) {
        const char *cid = jn_json_get_str(list->items[i], "id");
        if (cid && !strcmp(cid, id)) return list->items[i];
    }
    return NULL;
}
static void tolerance(const jn_json *c, const char *sub, double *max_abs, double *rel) {
    const jn_json *t = jn_json_get(c, "tolerance");
    if (sub) t = jn_json_get(t, sub);
    *max_abs = *rel = 0;
    if (!t || !jn_json_get_num(t, "max_abs", max_abs) || !jn_json_get_num(t, "rel_l2", rel)) {
        fprintf(stderr, "FAIL cases.json: no tolerance for %s\n", sub ? sub : "case");
        tu_failures++;
    }
}

typedef struct model {
    jn_lm_hparams hp;
    jn_lm_weights w;
    jn_gen_hparams gh;
    jn_gen_weights gw;
} model;

static void test_text(jn_backend *be, model *m, const jn_json *cases) {
    const jn_json *c = find_case(cases, "text_only");
    TU_CHECK(c != NULL, "case text_only missing");
    if (!c) return;
    double tol_abs, tol_rel;
    tolerance(c, NULL, &tol_abs, &tol_rel);
    jn_error err = {0};
    jn_json *idj = jn_json_parse_file(tu_fixture(GOLDEN "text_ids.json"), &err);
    TU_CHECK(idj != NULL, "%s", err.msg);
    if (!idj) return;
    int T = 0;
    int32_t *ids = json_ids(jn_json_get(idj, "input_ids"), &T);
    TU_CHECK(ids && T > 8, "text_ids.json: input_ids");
    size_t nw;
    float *want = tu_load_npy_f32(tu_fixture(GOLDEN "text_logits.npy"), &nw);
    const int E = m->hp.n_embd, V = m->hp.n_vocab;
    TU_CHECK(nw == (size_t)T * V, "text_logits.npy has %zu values, expected %d x %d", nw, T, V);
    if (!ids || nw != (size_t)T * V) return;

    jn_lm_session *s = jn_lm_session_create(be, &m->hp, &m->w, 1, T, T, JN_F32, &err);
    TU_CHECK(s != NULL, "%s", err.msg);
    float *x = be->alloc(be, sizeof(float) * T * E), *h = be->alloc(be, sizeof(float) * T * E);
    float *lg = be->alloc(be, sizeof(float) * T * V), *got = malloc(sizeof(float) * T * V);
    char name[128];

    /* one prefill, logits at every position */
    jn_lm_embed(s, ids, T, x);
    TU_CHECK(jn_lm_forward(s, x, 1, T, h, 0, &err) == JN_OK, "%s", err.msg);
    jn_lm_logits(s, h, T, lg);
    be->download(be, got, lg, sizeof(float) * T * V);
    snprintf(name, sizeof name, "%s text_only logits (prefill, %d positions)", be->name, T);
    tu_close(name, got, want, (size_t)T * V, tol_abs, tol_rel);

    /* prefill T-8, then 8 single-token steps (last_only) through the cache */
    jn_lm_session_reset(s);
    const int P = T - 8;
    jn_lm_embed(s, ids, P, x);
    TU_CHECK(jn_lm_forward(s, x, 1, P, h, 1, &err) == JN_OK, "%s", err.msg);
    jn_lm_logits(s, h, 1, lg);
    be->download(be, got + (size_t)(P - 1) * V, lg, sizeof(float) * V);
    for (int t = P; t < T; t++) {
        jn_lm_embed(s, ids + t, 1, x);
        TU_CHECK(jn_lm_forward(s, x, 1, 1, h, 1, &err) == JN_OK, "%s", err.msg);
        jn_lm_logits(s, h, 1, lg);
        be->download(be, got + (size_t)t * V, lg, sizeof(float) * V);
    }
    snprintf(name, sizeof name, "%s text_only logits (prefill %d + 8 decode steps)", be->name, P);
    tu_close(name, got + (size_t)(P - 1) * V, want + (size_t)(P - 1) * V, (size_t)9 * V, tol_abs, tol_rel);

    be->free(be, x), be->free(be, h), be->free(be, lg);
    free(got), free(want), free(ids);
    jn_json_free(idj);
    jn_lm_session_free(s);
}

static void test_gen(jn_backend *be, model *m, const jn_json *cases) {
    const jn_json *c = find_case(cases, "generation_cfg");
    TU_CHECK(c != NULL, "case generation_cfg missing");
    if (!c) return;
    double cfg_abs, cfg_rel, cond_abs, cond_rel, cfg_w = 0;
    tolerance(c, "cfg_logits", &cfg_abs, &cfg_rel);
    tolerance(c, "cond_logits", &cond_abs, &cond_rel);
    TU_CHECK(jn_json_get_num(jn_json_get(c, "input"), "cfg_weight", &cfg_w), "cfg_weight");
    jn_error err = {0};
    jn_json *gj = jn_json_parse_file(tu_fixture(GOLDEN "gen_ids.json"), &err);
    TU_CHECK(gj != NULL, "%s", err.msg);
    if (!gj) return;
    const jn_json *rows = jn_json_get(gj, "tokens_cond_uncond");
    TU_CHECK(rows && rows->type == JN_JSON_ARRAY && rows->n == 2, "gen_ids.json: tokens_cond_uncond");
    int T0 = 0, T1 = 0, NF = 0;
    int32_t *r0 = json_ids(rows->items[0], &T0), *r1 = json_ids(rows->items[1], &T1);
    int32_t *forced = json_ids(jn_json_get(gj, "forced_image_tokens"), &NF);
    TU_CHECK(r0 && r1 && T0 == T1 && forced && NF > 8, "gen_ids.json: rows/forced tokens");
    const int C = m->gh.codebook_size, E = m->hp.n_embd, T = T0;
    size_t ncfg, ncond, nunc;
    float *w_cfg = tu_load_npy_f32(tu_fixture(GOLDEN "gen_cfg_logits.npy"), &ncfg);
    float *w_cond = tu_load_npy_f32(tu_fixture(GOLDEN "gen_cond_logits_first8.npy"), &ncond);
    float *w_unc = tu_load_npy_f32(tu_fixture(GOLDEN "gen_uncond_logits_first8.npy"), &nunc);
    TU_CHECK(ncfg == (size_t)NF * C && ncond == (size_t)8 * C && nunc == ncond, "golden sizes");
    if (ncfg != (size_t)NF * C || ncond != (size_t)8 * C || nunc != ncond) return;

    int32_t *both = malloc(sizeof(int32_t) * 2 * T);
    memcpy(both, r0, sizeof(int32_t) * T);
    memcpy(both + T, r1, sizeof(int32_t) * T);
    jn_lm_session *s = jn_lm_session_create(be, &m->hp, &m->w, 2, T + NF, 2 * T, JN_F32, &err);
    TU_CHECK(s != NULL, "%s", err.msg);
    float *x = be->alloc(be, sizeof(float) * 2 * T * E), *h = be->alloc(be, sizeof(float) * 2 * E);
    float *lg = be->alloc(be, sizeof(float) * 2 * C);
    float *scratch = be->alloc(be, sizeof(float) * 2 * (E + m->gh.codebook_dim + m->gh.head_embd));
    float *cfg = malloc(sizeof(float) * NF * C), *cond = malloc(sizeof(float) * 8 * C),
          *unc = malloc(sizeof(float) * 8 * C), *lh = malloc(sizeof(float) * 2 * C);
    const float wcfg = (float)cfg_w;

    jn_lm_embed(s, both, 2 * T, x);
    TU_CHECK(jn_lm_forward(s, x, 2, T, h, 1, &err) == JN_OK, "%s", err.msg);
    for (int i = 0; i < NF; i++) {
        jn_gen_head(be, &m->gw, &m->gh, h, 2, lg, scratch); /* row 0 cond, row 1 uncond */
        be->download(be, lh, lg, sizeof(float) * 2 * C);
        for (int k = 0; k < C; k++) cfg[(size_t)i * C + k] = lh[C + k] + wcfg * (lh[k] - lh[C + k]);
        if (i < 8) {
            memcpy(cond + (size_t)i * C, lh, sizeof(float) * C);
            memcpy(unc + (size_t)i * C, lh + C, sizeof(float) * C);
        }
        if (i == NF - 1) break; /* the last sampled token is never fed back */
        int32_t feed[2] = {forced[i], forced[i]};
        jn_gen_feedback(be, &m->gw, &m->gh, feed, 2, x, scratch);
        if (jn_lm_forward(s, x, 2, 1, h, 1, &err) != JN_OK) {
            TU_CHECK(0, "step %d: %s", i, err.msg);
            break;
        }
    }
    char name[128];
    snprintf(name, sizeof name, "%s generation cond logits, first 8 steps", be->name);
    tu_close(name, cond, w_cond, (size_t)8 * C, cond_abs, cond_rel);
    snprintf(name, sizeof name, "%s generation uncond logits, first 8 steps", be->name);
    tu_close(name, unc, w_unc, (size_t)8 * C, cond_abs, cond_rel);
    snprintf(name, sizeof name, "%s generation CFG logits, all %d steps", be->name, NF);
    tu_close(name, cfg, w_cfg, (size_t)NF * C, cfg_abs, cfg_rel);

    be->free(be, x), be->free(be, h), be->free(be, lg), be->free(be, scratch);
    free(cfg), free(cond), free(unc), free(lh), free(both), free(r0), free(r1), free(forced);
    free(w_cfg), free(w_cond), free(w_unc);
    jn_json_free(gj);
    jn_lm_session_free(s);
}

/* Binds the GGUF at path and runs every case on every backend present. */
static int run_file(const char *path, const jn_json *cases) {
    jn_error err = {0};
    jn_gguf *g = jn_gguf_open(path, &err);
    if (!g) {
        fprintf(stderr, "FAIL %s\n", err.msg);
        return 1;
    }
    model m;
    memset(&m, 0, sizeof m);
    jn_lm_hparams *hp = &m.hp;
    int ok = get_int(g, "janus.lm.n_embd", &hp->n_embd) && get_int(g, "janus.lm.n_layer", &hp->n_layer) &&
             get_int(g, "janus.lm.n_head", &hp->n_head) && get_int(g, "janus.lm.n_kv_head", &hp->n_kv_head) &&
             get_int(g, "janus.lm.n_ff", &hp->n_ff) && get_int(g, "janus.lm.n_vocab", &hp->n_vocab) &&
             get_int(g, "janus.lm.max_ctx", &hp->max_ctx) && get_f32(g, "janus.lm.rms_eps", &hp->rms_eps) &&
             get_f32(g, "janus.lm.rope_theta", &hp->rope_theta) &&
             get_int(g, "janus.gen_head.image_token_size", &m.gh.codebook_size) &&
             get_int(g, "janus.gen_head.image_token_embed", &m.gh.head_embd) &&
             get_int(g, "janus.vq.codebook_dim", &m.gh.codebook_dim);
    if (!ok || hp->n_head <= 0) {
        jn_gguf_close(g);
        return 1;
    }
    hp->d_head = hp->n_embd / hp->n_head;
    m.gh.n_embd = hp->n_embd;
    fprintf(stderr, "     %s: n_embd %d, n_layer %d, n_head %d, n_ff %d, n_vocab %d, eps %g, theta %g\n",
            path, hp->n_embd, hp->n_layer, hp->n_head, hp->n_ff, hp->n_vocab, (double)hp->rms_eps,
            (double)hp->rope_theta);
    jn_wstore *st = jn_wstore_create(g, &err);
    if (!st || jn_lm_bind(&m.w, st, hp, &err) != JN_OK || jn_gen_bind(&m.gw, st, &m.gh, &err) != JN_OK) {
        fprintf(stderr, "FAIL bind: %s\n", err.msg);
        jn_wstore_free(st);
        jn_gguf_close(g);
        return 1;
    }
    fprintf(stderr, "     matrices stored as %s\n", jn_dtype_name(m.w.layers[0].wq->type));

    jn_backend *bes[3] = {NULL, NULL, NULL};
    bes[0] = jn_backend_ref_create(&err);
    TU_CHECK(bes[0] != NULL, "ref backend: %s", err.msg);
    bes[1] = jn_backend_cpu_create(0, &err);
    TU_CHECK(bes[1] != NULL, "cpu backend: %s", err.msg);
    if (jn_backend_cuda_available()) {
        bes[2] = jn_backend_cuda_create(0, &err);
        TU_CHECK(bes[2] != NULL, "cuda backend: %s", err.msg);
    }
    for (int b = 0; b < 3; b++) {
        jn_backend *be = bes[b];
        if (!be) continue;
        for (int64_t i = 0; i < jn_wstore_count(st); i++)
            TU_CHECK(be->weight_upload(be, jn_wstore_at(st, i), &err) == JN_OK, "%s", err.msg);
        test_text(be, &m, cases);
        test_gen(be, &m, cases);
        for (int64_t i = 0; i < jn_wstore_count(st); i++) be->weight_release(be, jn_wstore_at(st, i));
        be->destroy(be);
    }
    jn_lm_weights_free(&m.w);
    jn_wstore_free(st);
    jn_gguf_close(g);
    return 0;
}

int main(void) {
    jn_error err = {0};
    jn_json *cases = jn_json_parse_file(tu_fixture(GOLDEN "cases.json"), &err);
    if (!cases) {
        fprintf(stderr, "FAIL %s\n", err.msg);
        return 1;
    }
    const char *given = getenv("JANUS_LM_GGUF");
    if (given && *given) {
        if (run_file(given, cases)) tu_failures++;
    } else {
        /* The checkpoint holds bf16 values: the f32 and the bf16 conversion carry the same numbers
         * (f32 vs bf16 matmul paths), so both must meet the fp32 golden tolerances. */
        static const char *types[2] = {"f32", "bf16"};
        for (int i = 0; i < 2; i++) {
            char path[4096], cmd[8192];
            snprintf(path, sizeof path, "%s", tu_tmp(i == 0 ? "lm_golden_tiny_a_f32.gguf" : "lm_golden_tiny_a_bf16.gguf"));
            snprintf(cmd, sizeof cmd, "\"%s\" convert \"%s\" -o \"%s\" --type %s --force", tu_janus_bin(),
                     tu_fixture("janus-tiny-a/models/tiny-a"), path, types[i]);
            int rc = tu_system(cmd);
            if (rc != 0) {
                fprintf(stderr, "FAIL `%s` exited with %d\n", cmd, rc);
                tu_failures++;
                continue;
            }
            if (run_file(path, cases)) tu_failures++;
        }
    }
    jn_json_free(cases);
    return TU_RESULT();
}
