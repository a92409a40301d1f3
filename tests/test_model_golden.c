/* tests/test_model_golden.c — end to end on the tiny-a fixture against the official PyTorch
 * goldens (tests/fixtures/janus-tiny-a/golden/tiny-a/cases.json): convert the official checkpoint,
 * load it, and check understanding (input ids, pixel values, SigLIP, aligner, last-prompt logits,
 * 24 greedy ids and their logits), text-only logits at every position, generation (cond/uncond
 * rows, raw logits of both rows for the first steps, teacher-forced CFG logits at all 576 steps)
 * and VQ decoding (float output and uint8 image).
 *
 * Usage: test_model_golden [f32|bf16|q8_0 [KV]] (default f32; KV: the K/V cache type, f32 by
 * default, f16, bf16 or q8_0 to bound what a compact cache costs against the goldens). The f32 run uses the cases.json
 * tolerances (10x the official code's own float32-vs-float64 noise). bf16 weights are exactly the
 * checkpoint's values, so the bf16 run must match as tightly as f32. q8_0 quantizes the LM-side
 * linears; its tolerances below are measured on this fixture (see the note at the table) and
 * only bound the damage — greedy ids are not required to match there. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "api/internal.h"
#include "engine/io/json.h"
#include "engine/io/npy.h"

static const char *G(const char *rel) {
    static char bufs[4][4096];
    static int k = 0;
    char *b = bufs[k++ % 4];
    snprintf(b, 4096, "%s", tu_fixture(""));
    strncat(b, "janus-tiny-a/golden/tiny-a/", 4095 - strlen(b));
    strncat(b, rel, 4095 - strlen(b));
    return b;
}

static jn_json *cases;

static const jn_json *find_case(const char *id) {
    const jn_json *arr = jn_json_get(cases, "cases");
    for (size_t i = 0; arr && i < arr->n; i++) {
        const char *cid = jn_json_get_str(arr->items[i], "id");
        if (cid && !strcmp(cid, id)) return arr->items[i];
    }
    fprintf(stderr, "FAIL: case %s missing from cases.json\n", id);
    exit(1);
}

/* tolerance of a case output (path like "tolerance.siglip_features"), scaled */
typedef struct { double max_abs, rel_l2; } tol_t;
/* q8_0 weights (LM-side linears only): floors for LM-derived outputs, measured on this fixture
 * (last-prompt/text logits rel_l2 0.013, max_abs 0.19; CFG logits rel_l2 0.033, max_abs 0.52)
 * with about 2x margin. Vision, preprocessing and the VQ decoder stay bf16 and keep the strict
 * golden tolerances. */
static int q8_mode = 0;
/* f16 K/V cache: floors for LM-derived outputs measured on this fixture with f32 weights (text
 * logits at all positions max_abs 2.2e-3, rel_l2 1.3e-4; last-prompt and greedy-step logits
 * 3.7e-4 / 2.9e-5; CFG logits 5.6e-3 / 2.6e-4; first cond/uncond logits 6.9e-4 / 2.6e-4) with
 * 3.5-5x margin; the greedy ids match (checked). With q8_0 the q8_0 floors dominate.
 * q8_0 K/V cache, f32 weights: measured text logits at all positions max_abs 0.068, rel_l2
 * 3.2e-3; last-prompt / greedy-step 0.0125 / 9e-4; CFG logits 0.137 / 6.4e-3; first cond/uncond
 * logits 0.025 / 6.6e-3 — floors with 3-8x margin; the greedy ids match. */
static int kv_half_mode = 0, kv_q8_mode = 0;
static tol_t tolerance(const jn_json *c, const char *sub);
static tol_t tolerance_lm(const jn_json *c, const char *sub, int cfg) {
    tol_t t = tolerance(c, sub);
    double fa = 0, fr = 0;
    if (kv_half_mode) fa = cfg ? 0.02 : 0.01, fr = 1e-3;
    if (kv_q8_mode) fa = cfg ? 0.4 : 0.2, fr = 0.02;
    if (q8_mode) fa = cfg ? 1.0 : 0.4, fr = cfg ? 0.07 : 0.03;
    if (t.max_abs < fa) t.max_abs = fa;
    if (t.rel_l2 < fr) t.rel_l2 = fr;
    return t;
}
static tol_t tolerance(const jn_json *c, const char *sub) {
    const jn_json *t = jn_json_get(c, "tolerance");
    if (sub) t = jn_json_get(t, sub);
    tol_t r = {0, 0};
    if (!t || !jn_json_get_num(t, "max_abs", &r.max_abs) || !jn_json_get_num(t, "rel_l2", &r.rel_l2)) {
        fprintf(stderr, "FAIL: no tolerance %s\n", sub ? sub : "");
        exit(1);
    }
    return r;
}

static int32_t *json_ids(const jn_json *arr, size_t *n) {
    *n = arr ? arr->n : 0;
    int32_t *ids = malloc((*n + 1) * sizeof *ids);
    for (size_t i = 0; i < *n; i++) ids[i] = (int32_t)arr->items[i]->integer;
    return ids;
}

static jn_json *load_json(const char *path) {
    jn_error err = {0};
    jn_json *j = jn_json_parse_file(path, &err);
    if (!j) {
        fprintf(stderr, "FAIL: %s\n", err.msg);
        exit(1);
    }
    return j;
}

static void check_ids(const char *name, const int32_t *got, size_t n_got, const int32_t *want, size_t n_want) {
    size_t first = n_got < n_want ? n_got : n_want;
    for (size_t i = 0; i < first; i++)
        if (got[i] != want[i]) {
            first = i;
            break;
        }
    int ok = n_got == n_want && first == n_want;
    fprintf(stderr, "%s %s: %zu ids vs %zu golden%s", ok ? "ok  " : "FAIL", name, n_got, n_want, ok ? "\n" : "");
    if (!ok) {
        fprintf(stderr, ", first difference at %zu\n", first);
        tu_failures++;
    }
}

static void compare_npy(const char *name, const char *dump_path, const char *golden_path, tol_t t) {
    size_t n1, n2;
    float *a = tu_load_npy_f32(dump_path, &n1), *b = tu_load_npy_f32(golden_path, &n2);
    if (n1 != n2) {
        fprintf(stderr, "FAIL %s: %zu values vs %zu golden\n", name, n1, n2);
        tu_failures++;
    } else {
        tu_close(name, a, b, n1, t.max_abs, t.rel_l2);
    }
    free(a);
    free(b);
}

static int32_t *read_ids_file(const char *path, size_t *n) {
    jn_json *j = load_json(path);
    int32_t *ids = json_ids(j, n);
    jn_json_free(j);
    return ids;
}

static void understanding(janus_model *m, const char *case_id, const char *ids_file, const char *pre_name,
                          const char *vis_name, const char *golden_prefix, int check_greedy, const char *dir) {
    const jn_json *c = find_case(case_id);
    const jn_json *in = jn_json_get(c, "input");
    const jn_json *conv = jn_json_get(in, "conversation");
    const char *content = jn_json_get_str(conv->items[0], "content");
    const char *img = jn_json_get_str(in, "image");
    jn_json *gold = load_json(G(ids_file));
    size_t n_greedy;
    int32_t *greedy = json_ids(jn_json_get(gold, "greedy_ids"), &n_greedy);

    janus_ask_params ap = janus_ask_default_params();
    const char *imgs[1] = {G(img)};
    ap.images = imgs;
    ap.n_images = 1;
    ap.question = content;
    ap.max_tokens = (int)n_greedy;
    ap.dump_dir = dir;
    janus_error err = {0};
    if (janus_ask(m, &ap, NULL, &err)) {
        fprintf(stderr, "FAIL %s: %s\n", case_id, err.msg);
        tu_failures++;
        free(greedy);
        jn_json_free(gold);
        return;
    }
    char p[8192], q[4096];
    size_t n;
    int32_t *ids, *want;
    snprintf(p, sizeof p, "%s/input_ids.json", dir);
    ids = read_ids_file(p, &n);
    size_t n_want;
    want = json_ids(jn_json_get(gold, "input_ids"), &n_want);
    check_ids("input_ids", ids, n, want, n_want);
    free(ids);
    free(want);

    const jn_json *pc = find_case(pre_name);
    snprintf(p, sizeof p, "%s/pixel_values.npy", dir);
    snprintf(q, sizeof q, "pre_%s_pixel_values.npy", pre_name + strlen("preprocess_"));
    compare_npy("pixel_values", p, G(q), tolerance(pc, NULL));
    const jn_json *vc = find_case(vis_name);
    snprintf(p, sizeof p, "%s/vision_features.npy", dir);
    snprintf(q, sizeof q, "vis_%s_siglip.npy", vis_name + strlen("vision_"));
    compare_npy("siglip_features", p, G(q), tolerance(vc, "siglip_features"));
    snprintf(p, sizeof p, "%s/aligned.npy", dir);
    snprintf(q, sizeof q, "vis_%s_aligner.npy", vis_name + strlen("vision_"));
    compare_npy("aligner_output", p, G(q), tolerance(vc, "aligner_output"));
    snprintf(p, sizeof p, "%s/logits_last.npy", dir);
    snprintf(q, sizeof q, "%s_last_logits.npy", golden_prefix);
    compare_npy("last_prompt_logits", p, G(q), tolerance_lm(c, "last_prompt_logits", 0));
    snprintf(p, sizeof p, "%s/answer_logits.npy", dir);
    snprintf(q, sizeof q, "%s_step_logits.npy", golden_prefix);
    if (check_greedy) {
        compare_npy("greedy_step_logits", p, G(q), tolerance_lm(c, "greedy_step_logits", 0));
        snprintf(p, sizeof p, "%s/answer_ids.json", dir);
        ids = read_ids_file(p, &n);
        check_ids("greedy_ids", ids, n, greedy, n_greedy);
        free(ids);
    }
    free(greedy);
    jn_json_free(gold);
}

static void text_only(janus_model *m) {
    const jn_json *c = find_case("text_only");
    jn_json *gold = load_json(G("text_ids.json"));
    size_t T;
    int32_t *ids = json_ids(jn_json_get(gold, "input_ids"), &T);
    /* our own prompt ids for the same conversation must equal the golden ids */
    const jn_json *conv = jn_json_get(jn_json_get(c, "input"), "conversation");
    const char *sft = jn_json_get_str(jn_json_get(c, "input"), "sft_format");
    int32_t *mine = NULL;
    size_t n_mine = 0;
    jn_error err = {0};
    (void)conv;
    if (jn_tokenizer_encode(m->tokenizer.tok, sft, strlen(sft), 1, &mine, &n_mine, &err)) {
        fprintf(stderr, "FAIL text_only encode: %s\n", err.msg);
        tu_failures++;
    } else {
        check_ids("text_only input_ids", mine, n_mine, ids, T);
    }
    free(mine);
    jn_backend *be = m->be;
    int E = m->lm_hp.n_embd, V = m->lm_hp.n_vocab;
    TU_CHECK(janus_model_need_text_head(m, &err) == JN_OK, "text head: %s", err.msg);
    jn_lm_session *ls = jn_lm_session_create(be, &m->lm_hp, &m->lm_w, 1, (int)T, (int)T, m->kv_type, &err);
    float *x = be->alloc(be, T * E * sizeof(float)), *h = be->alloc(be, T * E * sizeof(float));
    float *lg = be->alloc(be, T * V * sizeof(float)), *host = malloc(T * V * sizeof(float));
    jn_lm_embed(ls, ids, (int)T, x);
    if (jn_lm_forward(ls, x, 1, (int)T, h, 0, &err)) {
        fprintf(stderr, "FAIL text_only forward: %s\n", err.msg);
        tu_failures++;
    } else {
        jn_lm_logits(ls, h, (int)T, lg);
        be->download(be, host, lg, T * V * sizeof(float));
        size_t n;
        float *want = tu_load_npy_f32(G("text_logits.npy"), &n);
        tol_t t = tolerance_lm(c, NULL, 0);
        if (n != T * (size_t)V) {
            fprintf(stderr, "FAIL text logits size\n");
            tu_failures++;
        } else {
            tu_close("text_logits_all_positions", host, want, n, t.max_abs, t.rel_l2);
        }
        free(want);
    }
    be->free(be, x);
    be->free(be, h);
    be->free(be, lg);
    free(host);
    free(ids);
    jn_lm_session_free(ls);
    jn_json_free(gold);
}

static void generation(janus_model *m, const char *dir) {
    const jn_json *c = find_case("generation_cfg");
    jn_json *gold = load_json(G("gen_ids.json"));
    size_t n_forced, n;
    int32_t *forced = json_ids(jn_json_get(gold, "forced_image_tokens"), &n_forced);
    const jn_json *rows = jn_json_get(gold, "tokens_cond_uncond");
    janus_gen_params gp = janus_gen_default_params();
    gp.prompt = jn_json_get_str(jn_json_get(jn_json_get(c, "input"), "conversation")->items[0], "content");
    gp.teacher_tokens = forced;
    gp.dump_dir = dir;
    janus_error err = {0};
    int32_t *tokens = NULL;
    if (janus_generate(m, &gp, NULL, &tokens, &err)) {
        fprintf(stderr, "FAIL generation: %s\n", err.msg);
        tu_failures++;
    } else {
        char p[8192];
        snprintf(p, sizeof p, "%s/input_ids_cond.json", dir);
        int32_t *got = read_ids_file(p, &n), *want;
        size_t n_want;
        want = json_ids(rows->items[0], &n_want);
        check_ids("input_ids_cond", got, n, want, n_want);
        free(got);
        free(want);
        snprintf(p, sizeof p, "%s/input_ids_uncond.json", dir);
        got = read_ids_file(p, &n);
        want = json_ids(rows->items[1], &n_want);
        check_ids("input_ids_uncond", got, n, want, n_want);
        free(got);
        free(want);
        snprintf(p, sizeof p, "%s/cfg_logits.npy", dir);
        compare_npy("cfg_logits_576_steps", p, G("gen_cfg_logits.npy"), tolerance_lm(c, "cfg_logits", 1));
        snprintf(p, sizeof p, "%s/cond_logits_first8.npy", dir);
        compare_npy("cond_logits_first8", p, G("gen_cond_logits_first8.npy"), tolerance_lm(c, "cond_logits", 0));
        snprintf(p, sizeof p, "%s/uncond_logits_first8.npy", dir);
        compare_npy("uncond_logits_first8", p, G("gen_uncond_logits_first8.npy"), tolerance_lm(c, "cond_logits", 0));
    }
    free(tokens);
    free(forced);
    jn_json_free(gold);
}

static void vq_decode(janus_model *m, const char *case_id, const char *prefix) {
    const jn_json *c = find_case(case_id);
    char q[512];
    snprintf(q, sizeof q, "%s_tokens.json", prefix);
    /* [24][24] grid of ids, raster order */
    jn_json *grid = load_json(G(q));
    int32_t ids[576];
    size_t n = 0;
    for (size_t r = 0; r < grid->n && r < 24; r++)
        for (size_t c = 0; c < grid->items[r]->n && c < 24; c++) ids[n++] = (int32_t)grid->items[r]->items[c]->integer;
    jn_json_free(grid);
    if (n != 576) {
        fprintf(stderr, "FAIL %s: token grid is not 24x24\n", case_id);
        tu_failures++;
        return;
    }
    jn_error err = {0};
    jn_vq_session *vs = jn_vq_session_create(m->be, &m->vq_hp, &m->vq_w, 24, &err);
    float *chw = malloc(3 * 384 * 384 * sizeof(float));
    if (!vs || jn_vq_decode(vs, ids, chw, &err)) {
        fprintf(stderr, "FAIL %s: %s\n", case_id, err.msg);
        tu_failures++;
    } else {
        snprintf(q, sizeof q, "%s_decoded.npy", prefix);
        float *want = tu_load_npy_f32(G(q), &n);
        tol_t t = tolerance(c, "decoded_chw");
        tu_close(case_id, chw, want, n, t.max_abs, t.rel_l2);
        free(want);
        /* the uint8 image through the public API */
        janus_image *imgs = NULL;
        janus_error perr = {0};
        if (janus_decode_tokens(m, ids, 1, &imgs, &perr)) {
            fprintf(stderr, "FAIL %s decode: %s\n", case_id, perr.msg);
            tu_failures++;
        } else {
            snprintf(q, sizeof q, "%s_u8.npy", prefix);
            uint8_t *w8 = tu_load_npy_u8(G(q), &n);
            size_t differ = 0;
            int maxd = 0;
            for (size_t i = 0; i < n; i++) {
                int d = abs((int)imgs[0].rgb[i] - (int)w8[i]);
                if (d) differ++;
                if (d > maxd) maxd = d;
            }
            int ok = maxd <= 1 && differ <= n / 1000;
            fprintf(stderr, "%s %s uint8: %zu of %zu values differ, max %d (tol: max 1, <= 0.1%%)\n", ok ? "ok  " : "FAIL",
                    case_id, differ, n, maxd);
            if (!ok) tu_failures++;
            free(w8);
            janus_images_free(imgs, 1);
        }
    }
    free(chw);
    jn_vq_session_free(vs);
}

/* The three dump directories of a run (tag: type and pid). */
static void remove_dumps(const char *tag) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'-'%s' '%s'-'%s' '%s'-'%s'", tu_tmp("golden-dump-q1"), tag,
             tu_tmp("golden-dump-q2"), tag, tu_tmp("golden-dump-gen"), tag);
    (void)tu_system(cmd);
}

int main(int argc, char **argv) {
    const char *type = argc > 1 ? argv[1] : "f32";
    const char *kv = argc > 2 ? argv[2] : "f32";
    q8_mode = !strcmp(type, "q8_0");
    kv_q8_mode = !strcmp(kv, "q8_0");
    kv_half_mode = strcmp(kv, "f32") != 0 && !kv_q8_mode;
    cases = load_json(G("cases.json"));
    if (getenv("JANUS_TEST_BACKEND") && !strcmp(getenv("JANUS_TEST_BACKEND"), "cuda") && !jn_backend_cuda_available()) {
        fprintf(stderr, "SKIP: no CUDA device\n");
        return 77;
    }
    char gguf[4096], dir[4096];
    /* every run (type x backend x env, possibly in parallel under ctest -j) gets its own files */
    char tag[128];
    snprintf(tag, sizeof tag, "%s-%s-%ld", type, kv, (long)getpid());
    snprintf(gguf, sizeof gguf, "%s", tu_tmp(""));
    strncat(gguf, "golden-tiny-", sizeof gguf - strlen(gguf) - 1);
    strncat(gguf, tag, sizeof gguf - strlen(gguf) - 1);
    strncat(gguf, ".gguf", sizeof gguf - strlen(gguf) - 1);
    janus_convert_params cp = janus_convert_default_params();
    char model_dir[4096];
    snprintf(model_dir, sizeof model_dir, "%s", tu_fixture("janus-tiny-a/models/tiny-a"));
    cp.model_dir = model_dir;
    cp.out_path = gguf;
    cp.type = type;
    cp.force = 1;
    janus_error err = {0};
    if (janus_convert(&cp, &err)) {
        fprintf(stderr, "FAIL convert: %s\n", err.msg);
        return 1;
    }
    janus_load_params lp = janus_load_default_params();
    lp.n_threads = 2;
    lp.kv_type = kv;
    /* JANUS_TEST_BACKEND=cuda runs the same goldens on the GPU (skipped without a device) */
    const char *backend = getenv("JANUS_TEST_BACKEND");
    if (backend && *backend) {
        if (!strcmp(backend, "cuda") && !jn_backend_cuda_available()) {
            fprintf(stderr, "SKIP: no CUDA device\n");
            return 77;
        }
        lp.backend = backend;
    }
    janus_model *m = janus_model_load(gguf, &lp, &err);
    if (!m) {
        fprintf(stderr, "FAIL load: %s\n", err.msg);
        return 1;
    }
    int strict = !q8_mode; /* greedy ids may legitimately change under q8_0 */
    remove_dumps(tag); /* kept by an earlier failing run with the same tag: --dump refuses a non-empty dir */
    snprintf(dir, sizeof dir, "%s-%s", tu_tmp("golden-dump-q1"), tag);
    understanding(m, "understanding_und_q1", "und_und_q1_ids.json", "preprocess_img0_640x427", "vision_img0_640x427",
                  "und_und_q1", strict, dir);
    snprintf(dir, sizeof dir, "%s-%s", tu_tmp("golden-dump-q2"), tag);
    understanding(m, "understanding_und_q2", "und_und_q2_ids.json", "preprocess_img1_300x500", "vision_img1_300x500",
                  "und_und_q2", strict, dir);
    text_only(m);
    snprintf(dir, sizeof dir, "%s-%s", tu_tmp("golden-dump-gen"), tag);
    generation(m, dir);
    vq_decode(m, "vq_decode_grid_a_forced_tokens", "vq_grid_a_forced_tokens");
    vq_decode(m, "vq_decode_grid_b_blocks", "vq_grid_b_blocks");
    janus_model_free(m);
    jn_json_free(cases);
    remove(gguf);
    if (!tu_failures) remove_dumps(tag); /* keep the dumps of a failing run for bisecting */
    return TU_RESULT();
}
