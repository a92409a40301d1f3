/* tests/test_model_session.c — the resident engine on the tiny-a fixture:
 *  - 4 sessions on one model in 4 threads (2 asking, 2 generating with different seeds), each
 *    running several requests, match the sequential results bit for bit;
 *  - a second question in the same session equals janus_ask with the first turn as history, the
 *    image encoded once and only the new tokens prefilled;
 *  - an ask batch (continuous batching, more questions than sequences) equals janus_ask per question;
 *  - a generation batch with a request joining mid-way equals janus_generate per request, and
 *    image 0 of n = 2 equals n = 1 (rows never influence each other).
 * Build with -DJANUS_SANITIZE=thread for the ThreadSanitizer run (scripts/test.sh --tsan). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "janus.h"
#include "testutil.h"


static janus_model *model;
static const char *img_a, *img_b;
enum { N_STEPS = 576, N_REQ = 2 };

static char *ask_once(const char *img, const char *q, int max_tokens) {
    janus_ask_params ap = janus_ask_default_params();
    const char *imgs[1] = {img};
    ap.images = imgs;
    ap.n_images = img ? 1 : 0;
    ap.question = q;
    ap.max_tokens = max_tokens;
    char *answer = NULL;
    janus_error err = {0};
    if (janus_ask(model, &ap, &answer, &err)) {
        fprintf(stderr, "FAIL ask: %s\n", err.msg);
        tu_failures++;
    }
    return answer;
}

static int32_t *generate_once(const char *prompt, uint64_t seed, int n) {
    janus_gen_params gp = janus_gen_default_params();
    gp.prompt = prompt;
    gp.seed = seed;
    gp.n_images = n;
    int32_t *tokens = NULL;
    janus_error err = {0};
    if (janus_generate(model, &gp, NULL, &tokens, &err)) {
        fprintf(stderr, "FAIL generate: %s\n", err.msg);
        tu_failures++;
    }
    return tokens;
}

/* ---- 4 threads, each with its own session, several requests each ---- */

typedef struct worker {
    int kind; /* 0 ask, 1 generate */
    int index;
    char *answers[N_REQ];
    int32_t *tokens[N_REQ];
    int failed;
} worker;

static const char *questions[2][N_REQ] = {{"What is in this picture?", "Describe the colours."},
                                          {"Is there text?", "What is the main object?"}};
static const char *prompts[2] = {"a red fox in the snow", "a lighthouse at dusk"};

static void *worker_main(void *arg) {
    worker *w = arg;
    janus_error err = {0};
    janus_session *s = janus_session_create(model, NULL, &err);
    if (!s) {
        w->failed = 1;
        return NULL;
    }
    for (int r = 0; r < N_REQ && !w->failed; r++) {
        if (w->kind == 0) {
            janus_chat_reset(s); /* independent questions, one session reused */
            janus_ask_params ap = janus_ask_default_params();
            const char *imgs[1] = {w->index ? img_b : img_a};
            ap.images = imgs;
            ap.n_images = 1;
            ap.question = questions[w->index][r];
            ap.max_tokens = 12;
            if (janus_chat_ask(s, &ap, &w->answers[r], NULL, &err)) w->failed = 1;
        } else {
            janus_gen_batch *b = janus_gen_batch_create(s, &err);
            janus_gen_params gp = janus_gen_default_params();
            gp.prompt = prompts[w->index];
            gp.seed = 100 + (uint64_t)(10 * w->index + r);
            int id = b ? janus_gen_batch_add(b, &gp, &err) : -1;
            int live = id >= 0 ? 1 : -1;
            while (live > 0) live = janus_gen_batch_step(b, &err);
            if (live < 0 || janus_gen_batch_take_tokens(b, id, &w->tokens[r], NULL, &err)) w->failed = 1;
            janus_gen_batch_free(b);
        }
    }
    if (w->failed) fprintf(stderr, "FAIL worker %d/%d: %s\n", w->kind, w->index, err.msg);
    janus_session_free(s);
    return NULL;
}

static void test_threads(void) {
    char *want_answers[2][N_REQ];
    int32_t *want_tokens[2][N_REQ];
    for (int i = 0; i < 2; i++)
        for (int r = 0; r < N_REQ; r++) {
            want_answers[i][r] = ask_once(i ? img_b : img_a, questions[i][r], 12);
            want_tokens[i][r] = generate_once(prompts[i], 100 + (uint64_t)(10 * i + r), 1);
        }
    worker ws[4];
    pthread_t th[4];
    memset(ws, 0, sizeof ws);
    for (int t = 0; t < 4; t++) {
        ws[t].kind = t / 2;
        ws[t].index = t % 2;
        TU_CHECK(pthread_create(&th[t], NULL, worker_main, &ws[t]) == 0, "thread %d", t);
    }
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 4; t++) {
        TU_CHECK(!ws[t].failed, "worker %d failed", t);
        for (int r = 0; r < N_REQ && !ws[t].failed; r++) {
            if (ws[t].kind == 0) {
                const char *want = want_answers[ws[t].index][r];
                TU_CHECK(want && ws[t].answers[r] && !strcmp(want, ws[t].answers[r]),
                         "threaded answer %d/%d '%s' != sequential '%s'", t, r, ws[t].answers[r], want);
            } else {
                const int32_t *want = want_tokens[ws[t].index][r];
                TU_CHECK(want && ws[t].tokens[r] && !memcmp(want, ws[t].tokens[r], N_STEPS * sizeof(int32_t)),
                         "threaded image tokens %d/%d differ from sequential", t, r);
            }
            free(ws[t].answers[r]);
            free(ws[t].tokens[r]);
        }
    }
    for (int i = 0; i < 2; i++)
        for (int r = 0; r < N_REQ; r++) {
            free(want_answers[i][r]);
            free(want_tokens[i][r]);
        }
    fprintf(stderr, "threads: 4 sessions x %d requests match the sequential results\n", N_REQ);
}

/* ---- a conversation continues from the cached KV ---- */

static void test_conversation(void) {
    janus_error err = {0};
    janus_session *s = janus_session_create(model, NULL, &err);
    TU_CHECK(s != NULL, "%s", err.msg);
    if (!s) return;
    TU_CHECK(janus_chat_add_image_file(s, img_a, -1, &err) == 0, "%s", err.msg);
    janus_ask_params ap = janus_ask_default_params();
    ap.max_tokens = 10;
    ap.question = "What is in this picture?";
    char *a1 = NULL, *a2 = NULL;
    const char *finish = NULL;
    TU_CHECK(janus_chat_ask(s, &ap, &a1, &finish, &err) == 0, "%s", err.msg);
    TU_CHECK(finish && (!strcmp(finish, "stop") || !strcmp(finish, "length")), "finish reason");
    janus_session_stats st1;
    janus_session_get_stats(s, &st1);
    ap.question = "Tell me more.";
    TU_CHECK(janus_chat_ask(s, &ap, &a2, NULL, &err) == 0, "%s", err.msg);
    janus_session_stats st2;
    janus_session_get_stats(s, &st2);
    TU_CHECK(st2.images_encoded == 1, "the image was encoded %ld times", st2.images_encoded);
    long second = st2.tokens_prefilled - st1.tokens_prefilled;
    TU_CHECK(second > 0 && second < 100, "second turn prefilled %ld tokens (the image alone is 576)", second);
    TU_CHECK(janus_chat_n_turns(s) == 2, "turns %d", janus_chat_n_turns(s));

    /* the same as a one-shot ask with the first turn as history (what `ask --turn` sends) */
    const janus_turn_text *t0 = janus_chat_turn(s, 0);
    janus_ask_params one = janus_ask_default_params();
    const char *imgs[1] = {img_a};
    janus_turn_text hist = {t0->user, a1};
    one.images = imgs;
    one.n_images = 1;
    one.history = &hist;
    one.n_history = 1;
    one.question = "Tell me more.";
    one.max_tokens = 10;
    char *want = NULL;
    TU_CHECK(janus_ask(model, &one, &want, &err) == 0, "%s", err.msg);
    TU_CHECK(want && a2 && !strcmp(want, a2), "chat turn 2 '%s' != ask with history '%s'", a2, want);
    fprintf(stderr, "conversation: turn 2 prefilled %ld tokens, 1 image encode, answer equals ask --turn\n", second);
    free(want);
    free(a1);
    free(a2);
    janus_session_free(s);
}

/* ---- ask batch: continuous batching ---- */

static void test_ask_batch(void) {
    janus_error err = {0};
    const char *qs[3] = {"What is in this picture?", "Describe it briefly.", "Is it day or night?"};
    const char *ims[3] = {img_a, img_b, img_a};
    const int max_tok[3] = {6, 12, 9};
    janus_session *s = janus_session_create(model, NULL, &err);
    janus_ask_batch *b = s ? janus_ask_batch_create(s, 2, 0, &err) : NULL;
    TU_CHECK(b != NULL, "%s", err.msg);
    if (!b) {
        janus_session_free(s);
        return;
    }
    janus_ask_params ps[3];
    const char *img_lists[3][1];
    for (int i = 0; i < 3; i++) {
        ps[i] = janus_ask_default_params();
        img_lists[i][0] = ims[i];
        ps[i].images = img_lists[i];
        ps[i].n_images = 1;
        ps[i].question = qs[i];
        ps[i].max_tokens = max_tok[i];
    }
    int ids[3] = {-1, -1, -1};
    TU_CHECK(janus_ask_batch_add(b, ps, 2, ids, NULL, &err) == 2, "%s", err.msg);
    int added_third = 0, steps = 0;
    for (;;) {
        int live = janus_ask_batch_step(b, &err);
        TU_CHECK(live >= 0, "%s", err.msg);
        steps++;
        if (!added_third && janus_ask_batch_free_seqs(b) > 0) { /* refill a finished row at once */
            TU_CHECK(janus_ask_batch_add(b, &ps[2], 1, &ids[2], NULL, &err) == 1, "%s", err.msg);
            added_third = 1;
            live = janus_ask_batch_n_live(b);
        }
        if (live <= 0 || steps > 100) break;
    }
    TU_CHECK(added_third, "no row freed");
    for (int i = 0; i < 3; i++) {
        char *got = NULL;
        TU_CHECK(janus_ask_batch_state(b, ids[i], NULL) == JANUS_GEN_DONE, "question %d not done", i);
        TU_CHECK(janus_ask_batch_take(b, ids[i], &got, NULL, NULL, &err) == 0, "%s", err.msg);
        char *want = ask_once(ims[i], qs[i], max_tok[i]);
        TU_CHECK(got && want && !strcmp(got, want), "batched answer %d '%s' != janus_ask '%s'", i, got, want);
        free(got);
        free(want);
    }
    /* a bad image fails its own question only */
    janus_ask_params bad[2] = {ps[0], ps[1]};
    const char *missing[1] = {"/nonexistent/image.png"};
    bad[1].images = missing;
    int bad_ids[2];
    janus_error errs[2];
    memset(errs, 0, sizeof errs);
    TU_CHECK(janus_ask_batch_add(b, bad, 2, bad_ids, errs, &err) == 1, "%s", err.msg);
    TU_CHECK(bad_ids[0] >= 0 && bad_ids[1] < 0 && strstr(errs[1].msg, "nonexistent"), "per-item error: %s", errs[1].msg);
    janus_ask_batch_free(b);
    janus_session_free(s);
    fprintf(stderr, "ask batch: 3 questions through 2 sequences equal janus_ask\n");
}

/* ---- generation batch: a request joins mid-way ---- */

static void test_gen_batch(void) {
    janus_error err = {0};
    janus_session_params sp = janus_session_default_params();
    sp.max_rows = 6;
    janus_session *s = janus_session_create(model, &sp, &err);
    janus_gen_batch *b = s ? janus_gen_batch_create(s, &err) : NULL;
    TU_CHECK(b != NULL, "%s", err.msg);
    if (!b) {
        janus_session_free(s);
        return;
    }
    janus_gen_params g1 = janus_gen_default_params(), g2 = janus_gen_default_params();
    g1.prompt = prompts[0];
    g1.seed = 7;
    g1.n_images = 2;
    g2.prompt = "a bowl of fruit on a wooden table, oil painting";
    g2.seed = 8;
    g2.temperature = 0.8f;
    g2.cfg = 3.0f;
    int id1 = janus_gen_batch_add(b, &g1, &err), id2 = -1;
    TU_CHECK(id1 >= 0, "%s", err.msg);
    int live = 1, steps = 0;
    while (live > 0) {
        live = janus_gen_batch_step(b, &err);
        TU_CHECK(live >= 0, "%s", err.msg);
        if (++steps == 100) {
            id2 = janus_gen_batch_add(b, &g2, &err);
            TU_CHECK(id2 >= 0, "%s", err.msg);
            live = janus_gen_batch_n_live(b);
            TU_CHECK(janus_gen_batch_release_memory(b, &err) == JANUS_ERR_USAGE, "released the cache of live requests");
        }
    }
    /* the cache goes once nothing runs; finished requests keep their tokens, and the batch works again */
    TU_CHECK(janus_gen_batch_release_memory(b, &err) == 0, "%s", err.msg);
    TU_CHECK(janus_gen_batch_step(b, &err) == 0, "a step of an empty, released batch: %s", err.msg);
    int32_t *t1 = NULL, *t2 = NULL, *t1_again = NULL;
    TU_CHECK(janus_gen_batch_take_tokens(b, id1, &t1, NULL, &err) == 0, "%s", err.msg);
    TU_CHECK(janus_gen_batch_take_tokens(b, id2, &t2, NULL, &err) == 0, "%s", err.msg);
    int id3 = janus_gen_batch_add(b, &g1, &err);
    TU_CHECK(id3 >= 0, "add after release: %s", err.msg);
    for (live = 1; live > 0;) live = janus_gen_batch_step(b, &err);
    TU_CHECK(live == 0 && janus_gen_batch_take_tokens(b, id3, &t1_again, NULL, &err) == 0, "%s", err.msg);
    TU_CHECK(t1 && t1_again && !memcmp(t1, t1_again, 2 * N_STEPS * sizeof(int32_t)),
             "a request after release_memory differs from the same request before");
    free(t1_again);
    janus_gen_params g1b = g1;
    int32_t *want1 = NULL, *want2 = NULL;
    TU_CHECK(janus_generate(model, &g1b, NULL, &want1, &err) == 0, "%s", err.msg);
    TU_CHECK(janus_generate(model, &g2, NULL, &want2, &err) == 0, "%s", err.msg);
    TU_CHECK(t1 && want1 && !memcmp(t1, want1, 2 * N_STEPS * sizeof(int32_t)), "request 1 differs from janus_generate");
    TU_CHECK(t2 && want2 && !memcmp(t2, want2, N_STEPS * sizeof(int32_t)), "joining request differs from janus_generate");
    int32_t *single = generate_once(prompts[0], 7, 1);
    TU_CHECK(single && want1 && !memcmp(single, want1, N_STEPS * sizeof(int32_t)), "image 0 of n=2 differs from n=1");
    free(single);
    free(t1);
    free(t2);
    free(want1);
    free(want2);
    janus_gen_batch_free(b);
    janus_session_free(s);
    fprintf(stderr, "generation batch: joining request and n=2 rows equal separate runs\n");
}

/* ---- memory planning refuses before allocating ---- */

static void test_memory_limit(void) {
    janus_memory_plan plan;
    TU_CHECK(janus_memory_plan_for(model, 4, 640, 0, 1, 1, &plan) == 0, "plan");
    TU_CHECK(plan.kv_cache > 0 && plan.activations > 0 && plan.vision > 0 && plan.vq_decoder > 0 && plan.weights > 0 &&
                 plan.total == plan.weights + plan.kv_cache + plan.activations + plan.vision + plan.vq_decoder,
             "plan parts");
    janus_memory_plan plan8;
    janus_memory_plan_for(model, 8, 640, 0, 0, 0, &plan8);
    TU_CHECK(plan8.kv_cache == 2 * plan.kv_cache, "KV cache grows with the rows: %zu vs %zu", plan8.kv_cache, plan.kv_cache);
    janus_error err = {0};
    janus_session_params sp = janus_session_default_params();
    sp.max_rows = 8;
    sp.mem_limit = plan.kv_cache + plan.activations; /* 4 rows fit, 8 do not */
    janus_session *s = janus_session_create(model, &sp, &err);
    janus_gen_batch *b = s ? janus_gen_batch_create(s, &err) : NULL;
    janus_gen_params gp = janus_gen_default_params();
    gp.prompt = prompts[0];
    gp.n_images = 1;
    int id = b ? janus_gen_batch_add(b, &gp, &err) : 0;
    TU_CHECK(id == JANUS_ERR_NOMEM && strstr(err.msg, "MiB") && strstr(err.msg, "at most"),
             "over the limit: %d %s", id, err.msg);
    janus_gen_batch_free(b);
    janus_session_free(s);
    fprintf(stderr, "memory: %s\n", err.msg);
}

/* argv[1] (optional): the K/V cache type every session uses (default f16); the batched-equals-
 * separate checks hold for each (ctest runs f16 and q8_0). */
int main(int argc, char **argv) {
    char gguf[4096];
    snprintf(gguf, sizeof gguf, "%ssession-tiny-%ld.gguf", tu_tmp(""), (long)getpid());
    char model_dir[4096];
    snprintf(model_dir, sizeof model_dir, "%s", tu_fixture("janus-tiny-a/models/tiny-a"));
    janus_convert_params cp = janus_convert_default_params();
    cp.model_dir = model_dir;
    cp.out_path = gguf;
    cp.type = "f32";
    cp.force = 1;
    janus_error err = {0};
    if (janus_convert(&cp, &err)) {
        fprintf(stderr, "FAIL convert: %s\n", err.msg);
        return 1;
    }
    janus_load_params lp = janus_load_default_params();
    lp.n_threads = 2; /* each session gets a 2-thread pool: the pool runs under TSan too */
    lp.kv_type = argc > 1 ? argv[1] : NULL;
    model = janus_model_load(gguf, &lp, &err);
    if (!model) {
        fprintf(stderr, "FAIL load: %s\n", err.msg);
        return 1;
    }
    static char a[4096], bimg[4096];
    snprintf(a, sizeof a, "%s", tu_fixture("janus-tiny-a/golden/tiny-a/images/img0_640x427.png"));
    snprintf(bimg, sizeof bimg, "%s", tu_fixture("janus-tiny-a/golden/tiny-a/images/img1_300x500.jpg"));
    img_a = a;
    img_b = bimg;
    test_conversation();
    test_ask_batch();
    test_gen_batch();
    test_threads();
    test_memory_limit();
    janus_model_free(model);
    unlink(gguf);
    return TU_RESULT();
}
