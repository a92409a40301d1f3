// janus-test-libs: janus_decoder janus_engine z
/* tests/test_unit_tokenizer.c — the tokenizer against the Rust `tokenizers` library's own outputs.
 *
 * 1. Five real tokenizer.json files (DeepSeek-LLM, DeepSeek-V3, Llama-3, Qwen3, GPT-4o-style; gzip'ed
 *    fixtures read with zlib) × 433 corpus lines: ids, ids_transformers (add_special), decoded and
 *    decoded_skip_special must all match exactly; counts are printed per tokenizer. Streaming decode
 *    of every record must concatenate to the whole decode.
 * 2. The janus-tiny-a tokenizer cases (BOS + both decodes) and the 47 llama.cpp reference cases.
 * 3. Malformed tokenizer.json variants and invalid UTF-8 input give errors (never a crash); streaming
 *    decode of an emoji split across byte tokens holds bytes back and flushes U+FFFD when cut. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "decoder/tokenizer.h"
#include "decoder/tokenizer_impl.h"
#include "engine/io/json.h"
#include "testutil.h"

static char *read_gz(const char *path, size_t *len) {
    gzFile f = gzopen(path, "rb");
    if (!f) return NULL;
    jn_buf b = {0};
    char chunk[1 << 16];
    int r;
    while ((r = gzread(f, chunk, sizeof chunk)) > 0) jn_buf_append(&b, chunk, (size_t)r);
    gzclose(f);
    if (r < 0 || b.oom) {
        jn_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data;
}

static jn_tokenizer *load_fixture(const char *name) {
    char rel[256];
    size_t len = 0, cl = 0;
    snprintf(rel, sizeof rel, "tokenizers/%s/tokenizer.json.gz", name);
    char *text = read_gz(tu_fixture(rel), &len);
    if (!text) {
        fprintf(stderr, "FAIL cannot read %s\n", tu_fixture(rel));
        tu_failures++;
        return NULL;
    }
    snprintf(rel, sizeof rel, "tokenizers/%s/tokenizer_config.json", name);
    char *cfg = tu_read_file(tu_fixture(rel), &cl);
    jn_error err = {0};
    double t0 = jn_time_s();
    jn_tokenizer *t = jn_tokenizer_load(text, len, cfg, cl, &err);
    double t1 = jn_time_s();
    free(text);
    free(cfg);
    if (!t) {
        fprintf(stderr, "FAIL %s: load: %s\n", name, err.msg);
        tu_failures++;
        return NULL;
    }
    fprintf(stderr, "%s: loaded in %.0f ms, %zu ids\n", name, 1e3 * (t1 - t0), jn_tokenizer_vocab_size(t));
    return t;
}

static int ids_equal(const int32_t *a, size_t na, const jn_json *want) {
    if (!want || want->type != JN_JSON_ARRAY || want->n != na) return 0;
    for (size_t i = 0; i < na; i++)
        if (!want->items[i]->is_integer || want->items[i]->integer != a[i]) return 0;
    return 1;
}

static void print_ids(const char *label, const int32_t *a, size_t n, const jn_json *want) {
    fprintf(stderr, "    %s got [", label);
    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, "%s%d", i ? "," : "", a[i]);
    fprintf(stderr, "%s]\n    want [", n > 40 ? ",…" : "");
    for (size_t i = 0; want && i < want->n && i < 40; i++) fprintf(stderr, "%s%lld", i ? "," : "", (long long)want->items[i]->integer);
    fprintf(stderr, "]\n");
}

static int str_equal(const char *s, size_t n, const jn_json *want) {
    return want && want->type == JN_JSON_STRING && want->len == n && memcmp(want->str, s, n) == 0;
}

/* Streams ids through jn_detok_stream and compares the concatenation with want. */
static int stream_equal(const jn_tokenizer *t, const int32_t *ids, size_t n, int skip, const char *want, size_t wl) {
    jn_detok_stream *s = jn_detok_stream_create(t, skip);
    jn_buf b = {0};
    jn_error err = {0};
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        const char *p;
        size_t l;
        if (jn_detok_stream_push(s, ids[i], &p, &l, &err)) ok = 0;
        /* every piece must be valid UTF-8 on its own */
        if (jn_utf8_valid_prefix(p, l) != l) ok = 0;
        jn_buf_append(&b, p, l);
    }
    const char *p;
    size_t l;
    jn_detok_stream_flush(s, &p, &l);
    jn_buf_append(&b, p, l);
    ok = ok && b.len == wl && (wl == 0 || memcmp(b.data, want, wl) == 0);
    jn_buf_free(&b);
    jn_detok_stream_free(s);
    return ok;
}

static void run_vectors(const char *name) {
    jn_tokenizer *t = load_fixture(name);
    if (!t) return;
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizers/vectors/%s.jsonl", name);
    size_t len;
    char *all = tu_read_file(tu_fixture(rel), &len);
    if (!all) {
        fprintf(stderr, "FAIL cannot read %s\n", tu_fixture(rel));
        tu_failures++;
        jn_tokenizer_free(t);
        return;
    }
    size_t n_rec = 0, ok_ids = 0, ok_tf = 0, ok_dec = 0, ok_skip = 0, ok_stream = 0, shown = 0;
    double t_enc = 0;
    size_t bytes = 0;
    char *line = all;
    while (line < all + len) {
        char *nl = memchr(line, '\n', (size_t)(all + len - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(all + len - line);
        jn_error err = {0};
        jn_json *rec = ll ? jn_json_parse(line, ll, &err) : NULL;
        line += ll + 1;
        if (!rec) {
            if (ll) { fprintf(stderr, "FAIL %s: bad record: %s\n", rel, err.msg); tu_failures++; }
            continue;
        }
        n_rec++;
        const jn_json *text = jn_json_get(rec, "text");
        int32_t *ids = NULL, *ids2 = NULL;
        size_t n = 0, n2 = 0;
        double t0 = jn_time_s();
        jn_status st = jn_tokenizer_encode(t, text->str, text->len, 0, &ids, &n, &err);
        t_enc += jn_time_s() - t0;
        bytes += text->len;
        if (st) {
            fprintf(stderr, "FAIL %s rec %zu: encode: %s\n", name, n_rec, err.msg);
            tu_failures++;
            jn_json_free(rec);
            continue;
        }
        if (ids_equal(ids, n, jn_json_get(rec, "ids"))) ok_ids++;
        else if (shown++ < 5) {
            fprintf(stderr, "  %s mismatch ids, text=\"%.*s\"\n", name, (int)(text->len > 200 ? 200 : text->len), text->str);
            print_ids("ids", ids, n, jn_json_get(rec, "ids"));
        }
        if (!jn_tokenizer_encode(t, text->str, text->len, 1, &ids2, &n2, &err) &&
            ids_equal(ids2, n2, jn_json_get(rec, "ids_transformers")))
            ok_tf++;
        else if (shown++ < 5) {
            fprintf(stderr, "  %s mismatch ids_transformers, text=\"%.*s\"\n", name, (int)(text->len > 200 ? 200 : text->len), text->str);
            print_ids("ids_transformers", ids2, n2, jn_json_get(rec, "ids_transformers"));
        }
        /* decode the reference ids (not ours), as the reference did */
        const jn_json *wids = jn_json_get(rec, "ids");
        int32_t *ref = (int32_t *)malloc((wids->n + 1) * sizeof *ref);
        for (size_t i = 0; i < wids->n; i++) ref[i] = (int32_t)wids->items[i]->integer;
        for (int skip = 0; skip < 2; skip++) {
            char *out = NULL;
            size_t ol = 0;
            const jn_json *want = jn_json_get(rec, skip ? "decoded_skip_special" : "decoded");
            if (!jn_tokenizer_decode(t, ref, wids->n, skip, &out, &ol, &err) && str_equal(out, ol, want)) {
                if (skip) ok_skip++;
                else ok_dec++;
            } else if (shown++ < 5) {
                fprintf(stderr, "  %s mismatch %s: got \"%.*s\" want \"%.*s\"\n", name, skip ? "decoded_skip_special" : "decoded",
                        (int)(ol > 200 ? 200 : ol), out ? out : "", (int)(want->len > 200 ? 200 : want->len), want->str);
            }
            if (!skip && out && stream_equal(t, ref, wids->n, 0, want->str, want->len)) ok_stream++;
            free(out);
        }
        free(ref);
        free(ids);
        free(ids2);
        jn_json_free(rec);
    }
    free(all);
    int pass = ok_ids == n_rec && ok_tf == n_rec && ok_dec == n_rec && ok_skip == n_rec && ok_stream == n_rec && n_rec > 0;
    fprintf(stderr, "%s %s: %zu records: ids %zu/%zu, ids_transformers %zu/%zu, decoded %zu/%zu, decoded_skip_special %zu/%zu, "
                    "stream %zu/%zu (encode %.2f MB/s)\n",
            pass ? "ok  " : "FAIL", name, n_rec, ok_ids, n_rec, ok_tf, n_rec, ok_dec, n_rec, ok_skip, n_rec, ok_stream, n_rec,
            t_enc > 0 ? bytes / t_enc / 1e6 : 0.0);
    if (!pass) tu_failures++;
    jn_tokenizer_free(t);
}

static void run_tiny(void) {
    size_t len, cl;
    char *text = tu_read_file(tu_fixture("janus-tiny-a/models/tiny-a/tokenizer.json"), &len);
    char *cfg = tu_read_file(tu_fixture("janus-tiny-a/models/tiny-a/tokenizer_config.json"), &cl);
    char *cases = tu_read_file(tu_fixture("janus-tiny-a/golden/tiny-a/tokenizer_cases.json"), &cl);
    TU_CHECK(text && cfg && cases, "tiny-a fixtures missing");
    if (!text || !cfg || !cases) { free(text); free(cfg); free(cases); return; }
    size_t cfg_len = strlen(cfg);
    jn_error err = {0};
    jn_tokenizer *t = jn_tokenizer_load(text, len, cfg, cfg_len, &err);
    TU_CHECK(t != NULL, "tiny-a load: %s", err.msg);
    jn_json *cs = jn_json_parse(cases, cl, &err);
    TU_CHECK(cs && cs->type == JN_JSON_ARRAY, "tokenizer_cases.json: %s", err.msg);
    size_t ok = 0, n_cases = cs ? cs->n : 0;
    for (size_t i = 0; t && cs && i < cs->n; i++) {
        const jn_json *c = cs->items[i];
        const jn_json *tx = jn_json_get(c, "text");
        int32_t *ids = NULL;
        size_t n = 0;
        int good = !jn_tokenizer_encode(t, tx->str, tx->len, 1, &ids, &n, &err) && ids_equal(ids, n, jn_json_get(c, "ids"));
        if (!good) print_ids("tiny-a", ids, n, jn_json_get(c, "ids"));
        for (int skip = 0; good && skip < 2; skip++) {
            char *out = NULL;
            size_t ol = 0;
            good = !jn_tokenizer_decode(t, ids, n, skip, &out, &ol, &err) &&
                   str_equal(out, ol, jn_json_get(c, skip ? "decode_skip_special" : "decode_keep_special"));
            if (!good) fprintf(stderr, "  tiny-a decode mismatch: \"%.*s\"\n", (int)ol, out ? out : "");
            free(out);
        }
        ok += good;
        free(ids);
    }
    fprintf(stderr, "%s tiny-a tokenizer_cases: %zu/%zu\n", ok == n_cases && n_cases ? "ok  " : "FAIL", ok, n_cases);
    TU_CHECK(ok == n_cases && n_cases > 0, "tiny-a cases");
    if (t) {
        TU_CHECK(jn_tokenizer_bos(t) == 996, "tiny-a bos %d", jn_tokenizer_bos(t));
        TU_CHECK(jn_tokenizer_token_id(t, "<｜begin▁of▁sentence｜>", strlen("<｜begin▁of▁sentence｜>")) == 996, "token_id");
        TU_CHECK(jn_tokenizer_is_special(t, 996) && !jn_tokenizer_is_special(t, 5), "is_special");
    }
    jn_json_free(cs);
    jn_tokenizer_free(t);
    free(text);
    free(cfg);
    free(cases);
}

static void run_llamacpp_cases(jn_tokenizer *t) {
    size_t len;
    char *all = tu_read_file(tu_fixture("tokenizers/deepseek_llm_7b_base_recon/hf_reference_cases_llamacpp.jsonl"), &len);
    TU_CHECK(all != NULL, "hf_reference_cases_llamacpp.jsonl missing");
    if (!all || !t) { free(all); return; }
    size_t n_rec = 0, ok = 0;
    char *line = all;
    while (line < all + len) {
        char *nl = memchr(line, '\n', (size_t)(all + len - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(all + len - line);
        jn_error err = {0};
        jn_json *rec = ll ? jn_json_parse(line, ll, &err) : NULL;
        line += ll + 1;
        if (!rec) continue;
        n_rec++;
        const jn_json *tx = jn_json_get(rec, "text");
        int32_t *ids = NULL;
        size_t n = 0;
        if (!jn_tokenizer_encode(t, tx->str, tx->len, 0, &ids, &n, &err) && ids_equal(ids, n, jn_json_get(rec, "ids"))) ok++;
        else print_ids(tx->str, ids, n, jn_json_get(rec, "ids"));
        free(ids);
        jn_json_free(rec);
    }
    fprintf(stderr, "%s llama.cpp reference cases: %zu/%zu\n", ok == n_rec && n_rec ? "ok  " : "FAIL", ok, n_rec);
    TU_CHECK(ok == n_rec && n_rec > 0, "llama.cpp cases");
    free(all);
}

/* Streaming decode: an emoji split over byte tokens. */
static void run_stream(jn_tokenizer *t) {
    if (!t) return;
    const char *emoji = "\xF0\x9F\x98\x80";  /* U+1F600 */
    const char *text = "a\xF0\x9F\xA6\x9C\xF0\x9F\x98\x80 b"; /* a🦜😀 b */
    int32_t *ids = NULL;
    size_t n = 0;
    jn_error err = {0};
    TU_CHECK(!jn_tokenizer_encode(t, text, strlen(text), 0, &ids, &n, &err), "%s", err.msg);
    fprintf(stderr, "stream: \"a🦜😀 b\" -> %zu ids\n", n);
    TU_CHECK(n >= 5, "expected the emoji split over several byte tokens, got %zu ids", n);
    jn_detok_stream *s = jn_detok_stream_create(t, 0);
    jn_buf all = {0};
    int held = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p;
        size_t l;
        TU_CHECK(!jn_detok_stream_push(s, ids[i], &p, &l, &err), "%s", err.msg);
        TU_CHECK(jn_utf8_valid_prefix(p, l) == l, "piece %zu is not valid UTF-8", i);
        if (l == 0) held++;
        jn_buf_append(&all, p, l);
    }
    const char *p;
    size_t l;
    jn_detok_stream_flush(s, &p, &l);
    TU_CHECK(l == 0, "nothing should be pending");
    TU_CHECK(held >= 2, "bytes of a split character must be held back (held %d)", held);
    TU_CHECK(all.len == strlen(text) && memcmp(all.data, text, all.len) == 0, "stream concatenation differs");
    jn_detok_stream_free(s);
    jn_buf_free(&all);
    /* cut in the middle of the last emoji: flush gives one U+FFFD */
    int32_t *e_ids = NULL;
    size_t en = 0;
    TU_CHECK(!jn_tokenizer_encode(t, emoji, 4, 0, &e_ids, &en, &err), "%s", err.msg);
    if (en >= 2) {
        s = jn_detok_stream_create(t, 0);
        size_t got = 0;
        for (size_t i = 0; i + 1 < en; i++) {
            TU_CHECK(!jn_detok_stream_push(s, e_ids[i], &p, &l, &err), "%s", err.msg);
            got += l;
        }
        TU_CHECK(got == 0, "partial emoji must not be emitted");
        jn_detok_stream_flush(s, &p, &l);
        TU_CHECK(l == 3 && memcmp(p, "\xEF\xBF\xBD", 3) == 0, "flush of a dangling sequence must give U+FFFD");
        jn_detok_stream_free(s);
        /* whole decode of the same cut ids agrees */
        char *out = NULL;
        size_t ol = 0;
        TU_CHECK(!jn_tokenizer_decode(t, e_ids, en - 1, 0, &out, &ol, &err), "%s", err.msg);
        TU_CHECK(ol == 3 && memcmp(out, "\xEF\xBF\xBD", 3) == 0, "decode of a cut emoji must be U+FFFD");
        free(out);
    } else {
        TU_CHECK(0, "emoji encoded to %zu ids; the test needs a split", en);
    }
    free(e_ids);
    free(ids);
    /* invalid UTF-8 input */
    const char *bad[] = {"abc\xFF", "\xC0\x80", "\xED\xA0\x80", "ok \xE2\x82", "\xF4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jn_error e2 = {0};
        int32_t *x = NULL;
        size_t xn = 0;
        jn_status st = jn_tokenizer_encode(t, bad[i], strlen(bad[i]), 0, &x, &xn, &e2);
        TU_CHECK(st == JN_ERR_FORMAT && strstr(e2.msg, "UTF-8"), "invalid UTF-8 #%zu: status %d msg '%s'", i, st, e2.msg);
        free(x);
    }
    /* text with NUL and an unknown id in decode */
    int32_t *x = NULL;
    size_t xn = 0;
    TU_CHECK(!jn_tokenizer_encode(t, "a\0b", 3, 0, &x, &xn, &err) && xn >= 2, "NUL in text");
    free(x);
    int32_t odd[] = {-5, 17464, 99999999};
    char *out = NULL;
    size_t ol;
    TU_CHECK(!jn_tokenizer_decode(t, odd, 3, 0, &out, &ol, &err) && ol == 5 && memcmp(out, "Hello", 5) == 0,
             "unknown ids are dropped in decode");
    free(out);
}

/* Concurrent encodes on one tokenizer (shared word cache) give the single-threaded ids. */
typedef struct thr_job {
    const jn_tokenizer *t;
    char **texts;
    size_t *lens, n;
    int32_t **want;
    size_t *want_n;
    int bad;
} thr_job;

static void *thr_main(void *arg) {
    thr_job *j = (thr_job *)arg;
    for (int rep = 0; rep < 3; rep++)
        for (size_t i = 0; i < j->n; i++) {
            int32_t *ids = NULL;
            size_t n = 0;
            jn_error err = {0};
            if (jn_tokenizer_encode(j->t, j->texts[i], j->lens[i], 1, &ids, &n, &err) || n != j->want_n[i] ||
                memcmp(ids, j->want[i], n * sizeof *ids) != 0)
                j->bad++;
            free(ids);
        }
    return NULL;
}

static void run_threads(jn_tokenizer *t) {
    if (!t) return;
    size_t len;
    char *all = tu_read_file(tu_fixture("tokenizers/vectors/corpus.jsonl"), &len);
    TU_CHECK(all != NULL, "corpus.jsonl");
    if (!all) return;
    size_t cap = 512, n = 0;
    char **texts = malloc(cap * sizeof *texts);
    size_t *lens = malloc(cap * sizeof *lens), *want_n = malloc(cap * sizeof *want_n);
    int32_t **want = malloc(cap * sizeof *want);
    for (char *p = all; p < all + len && n < cap;) {
        char *nl = memchr(p, '\n', (size_t)(all + len - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(all + len - p);
        jn_error err = {0};
        jn_json *rec = ll ? jn_json_parse(p, ll, &err) : NULL;
        p += ll + 1;
        const jn_json *tx = rec ? jn_json_get(rec, "text") : NULL;
        if (tx) {
            texts[n] = malloc(tx->len + 1);
            memcpy(texts[n], tx->str, tx->len);
            lens[n] = tx->len;
            if (jn_tokenizer_encode(t, texts[n], lens[n], 1, &want[n], &want_n[n], &err)) want[n] = NULL;
            n++;
        }
        jn_json_free(rec);
    }
    enum { NT = 4 };
    pthread_t th[NT];
    thr_job jobs[NT];
    for (int k = 0; k < NT; k++) {
        jobs[k] = (thr_job){t, texts, lens, n, want, want_n, 0};
        pthread_create(&th[k], NULL, thr_main, &jobs[k]);
    }
    int bad = 0;
    for (int k = 0; k < NT; k++) {
        pthread_join(th[k], NULL);
        bad += jobs[k].bad;
    }
    fprintf(stderr, "%s %d threads x %zu texts x 3: %d mismatches\n", bad ? "FAIL" : "ok  ", NT, n, bad);
    TU_CHECK(bad == 0 && n > 400, "concurrent encode");
    for (size_t i = 0; i < n; i++) { free(texts[i]); free(want[i]); }
    free(texts); free(lens); free(want_n); free(want); free(all);
}

/* Malformed tokenizer.json variants: each must fail with a message naming the field. */
static void run_malformed(void) {
    const char *good =
        "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":5,\"content\":\"<s>\",\"special\":true}],"
        "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true},"
        "\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\"},"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"Ġ\":3,\"Ġab\":4},\"merges\":[\"a b\",\"Ġ ab\"]}}";
    jn_error err = {0};
    jn_tokenizer *t = jn_tokenizer_load(good, strlen(good), NULL, 0, &err);
    TU_CHECK(t != NULL, "minimal tokenizer: %s", err.msg);
    if (t) {
        int32_t *ids = NULL;
        size_t n = 0;
        TU_CHECK(!jn_tokenizer_encode(t, "ab ab<s>b", 9, 0, &ids, &n, &err), "%s", err.msg);
        int32_t want[] = {2, 4, 5, 1};
        TU_CHECK(n == 4 && memcmp(ids, want, sizeof want) == 0, "minimal encode: n=%zu", n);
        free(ids);
        jn_tokenizer_free(t);
    }
    struct { const char *from, *to, *expect; } v[] = {
        {"\"a b\"", "\"a x\"", "model.merges[0]"},
        {"\"Ġ ab\"", "\"Ġab\"", "model.merges[1]"},
        {"\"type\":\"ByteLevel\",\"add_prefix_space\"", "\"type\":\"Whatever\",\"add_prefix_space\"", "pre_tokenizer.type"},
        {"\"normalizer\":null", "\"normalizer\":{\"type\":\"Bogus\"}", "normalizer.type"},
        {"\"normalizer\":null", "\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"(a\"},\"content\":\"\"}", "invalid regex"},
        {"\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}",
         "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[a\"},\"behavior\":\"Isolated\"}", "invalid regex"},
        {"\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}",
         "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Sideways\"}", "behavior"},
        {"\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"Ġ\":3,\"Ġab\":4}", "\"vocab\":[\"a\"]", "model.vocab: expected an object"},
        {"\"merges\":[\"a b\",\"Ġ ab\"]", "\"merges\":{}", "model.merges"},
        {"\"merges\":[\"a b\",\"Ġ ab\"]", "\"merges\":[\"a b\",7]", "model.merges[1]"},
        {"\"merges\":[\"a b\",\"Ġ ab\"]", "\"merges\":[\"ab\"]", "model.merges[0]"},
        {"\"type\":\"BPE\"", "\"type\":\"WordPiece\"", "model.type"},
        {"\"a\":0", "\"a\":-1", "model.vocab"},
        {"\"a\":0", "\"a\":\"zero\"", "model.vocab"},
        {"\"content\":\"<s>\"", "\"content\":5", "added_tokens[0].content"},
        {"\"id\":5,", "", "added_tokens[0].id"},
        {"\"special\":true", "\"special\":\"yes\"", "special"},
        {"\"decoder\":{\"type\":\"ByteLevel\"}", "\"decoder\":{\"type\":\"WordPiece\"}", "decoder.type"},
        {"\"post_processor\":null", "\"post_processor\":{\"type\":\"Mystery\"}", "post_processor.type"},
        {"\"model\":{", "\"model\":7,\"x\":{", "model"},
        {"}}", "}", "json"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        const char *at = strstr(good, v[i].from);
        TU_CHECK(at != NULL, "variant %zu: pattern not found", i);
        if (!at) continue;
        jn_buf b = {0};
        jn_buf_append(&b, good, (size_t)(at - good));
        jn_buf_puts(&b, v[i].to);
        jn_buf_puts(&b, at + strlen(v[i].from));
        jn_error e2 = {0};
        jn_tokenizer *bt = jn_tokenizer_load(b.data, b.len, NULL, 0, &e2);
        TU_CHECK(bt == NULL && e2.code < 0 && strstr(e2.msg, v[i].expect), "variant %zu (%s): got '%s'", i, v[i].expect,
                 bt ? "loaded!" : e2.msg);
        if (!bt) fprintf(stderr, "  malformed %zu -> %s\n", i, e2.msg);
        jn_tokenizer_free(bt);
        jn_buf_free(&b);
    }
    /* truncated input at every 7th length never crashes */
    size_t gl = strlen(good);
    for (size_t l = 0; l < gl; l += 7) {
        jn_error e2 = {0};
        jn_tokenizer *bt = jn_tokenizer_load(good, l, NULL, 0, &e2);
        TU_CHECK(bt == NULL && e2.msg[0], "truncated at %zu loaded", l);
        jn_tokenizer_free(bt);
    }
    /* bad tokenizer_config.json */
    jn_error e3 = {0};
    jn_tokenizer *ct = jn_tokenizer_load(good, gl, "{\"bos_token\": 5}", 16, &e3);
    TU_CHECK(ct == NULL && strstr(e3.msg, "bos_token"), "bad config: %s", e3.msg);
    jn_tokenizer_free(ct);
}

int main(void) {
    const char *names[] = {"deepseek_llm_7b_base_recon", "deepseek_v3", "llama3", "qwen3", "gpt4o"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(names[i], "qwen3") == 0 && !jn_tok_have_unicode_norm()) {
            fprintf(stderr, "SKIP qwen3: its NFC normalizer needs utf8proc, which this build lacks\n");
            continue;
        }
        run_vectors(names[i]);
    }
    run_tiny();
    jn_tokenizer *ds = load_fixture("deepseek_llm_7b_base_recon");
    run_llamacpp_cases(ds);
    run_stream(ds);
    run_threads(ds);
    jn_tokenizer_free(ds);
    run_malformed();
    fprintf(stderr, "%s\n", tu_failures ? "FAILED" : "all tokenizer tests passed");
    return TU_RESULT();
}
