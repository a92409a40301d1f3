// janus-test-libs: janus_engine
/* tests/test_unit_json.c — the strict JSON parser, jn_buf and the JSON string writer.
 *
 * Covers: every value kind; integers vs doubles at the int64/2^53 edges; strings with U+0000,
 * surrogate pairs, raw UTF-8; a catalogue of invalid documents (each must fail with a
 * "line L col C" message); nesting depth 512 ok / 513 rejected; every prefix of a valid document
 * rejected (under ASan this proves no read past len); the tiny-a tokenizer.json and, when gzip
 * is available, the large real tokenizer.json files; a generated ~10 MB document (timed); and
 * write_string -> parse round trips. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base.h"
#include "engine/io/json.h"
#include "testutil.h"

static jn_json *parse_str(const char *s, jn_error *err) { return jn_json_parse(s, strlen(s), err); }

static void expect_invalid(const char *doc, size_t len, const char *why) {
    jn_error err = {0};
    jn_json *j = jn_json_parse(doc, len, &err);
    TU_CHECK(j == NULL, "accepted invalid document (%s)", why);
    if (j) {
        jn_json_free(j);
        return;
    }
    TU_CHECK(err.code == JN_ERR_FORMAT, "%s: code %d", why, err.code);
    TU_CHECK(strstr(err.msg, "json: line ") != NULL && strstr(err.msg, " col ") != NULL, "%s: message '%s'", why,
             err.msg);
}
#define INVALID(lit) expect_invalid(lit, sizeof(lit) - 1, #lit)

static void test_valid(void) {
    jn_error err = {0};
    jn_json *j;
    j = parse_str(" null ", &err);
    TU_CHECK(j && j->type == JN_JSON_NULL, "null: %s", err.msg);
    jn_json_free(j);
    j = parse_str("true", &err);
    TU_CHECK(j && j->type == JN_JSON_BOOL && j->boolean == 1, "true");
    jn_json_free(j);
    j = parse_str("\tfalse\r\n", &err);
    TU_CHECK(j && j->type == JN_JSON_BOOL && j->boolean == 0, "false");
    jn_json_free(j);

    struct {
        const char *text;
        int is_int;
        int64_t i;
        double d;
    } nums[] = {
        {"0", 1, 0, 0.0},
        {"-0", 1, 0, -0.0},
        {"42", 1, 42, 42.0},
        {"-17", 1, -17, -17.0},
        {"1.5", 0, 0, 1.5},
        {"-2.5e3", 0, 0, -2500.0},
        {"1E2", 0, 0, 100.0},
        {"1e-2", 0, 0, 0.01},
        {"1.0", 0, 0, 1.0},
        {"0.1", 0, 0, 0.1},
        {"9007199254740993", 1, 9007199254740993LL, 9007199254740992.0},
        {"9223372036854775807", 1, INT64_MAX, 9223372036854775807.0},
        {"-9223372036854775808", 1, INT64_MIN, -9223372036854775808.0},
        {"9223372036854775808", 0, 0, 9223372036854775808.0},
        {"123456789012345678901234567890", 0, 0, 1.2345678901234568e29},
        {"2.2250738585072014e-308", 0, 0, 2.2250738585072014e-308},
        {"1e-400", 0, 0, 0.0}, /* underflow to 0 is fine, like Python */
    };
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
        j = parse_str(nums[k].text, &err);
        TU_CHECK(j && j->type == JN_JSON_NUMBER, "%s: %s", nums[k].text, err.msg);
        if (!j) continue;
        TU_CHECK(j->is_integer == nums[k].is_int, "%s: is_integer %d", nums[k].text, j->is_integer);
        if (nums[k].is_int) TU_CHECK(j->integer == nums[k].i, "%s: integer %lld", nums[k].text, (long long)j->integer);
        TU_CHECK(j->number == nums[k].d && signbit(j->number) == signbit(nums[k].d), "%s: number %.17g", nums[k].text,
                 j->number);
        jn_json_free(j);
    }

    /* strings: NUL, escapes, surrogate pair, raw UTF-8 */
    j = parse_str("\"a\\u0000b\"", &err);
    TU_CHECK(j && j->type == JN_JSON_STRING && j->len == 3 && memcmp(j->str, "a\0b", 4) == 0, "NUL in string");
    jn_json_free(j);
    j = parse_str("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", &err);
    TU_CHECK(j && j->len == 8 && memcmp(j->str, "\"\\/\b\f\n\r\t", 8) == 0, "simple escapes");
    jn_json_free(j);
    j = parse_str("\"\\ud83d\\ude00|\\u00e9|\\u20AC|\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", &err);
    TU_CHECK(j && j->len == 4 + 1 + 2 + 1 + 3 + 1 + 2 + 3 + 4, "unicode len %zu", j ? j->len : 0);
    if (j)
        TU_CHECK(memcmp(j->str, "\xf0\x9f\x98\x80|\xc3\xa9|\xe2\x82\xac|\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", j->len) == 0,
                 "unicode bytes");
    jn_json_free(j);
    j = parse_str("\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"", &err); /* U+FFFF and U+10FFFF are valid scalars */
    TU_CHECK(j && j->len == 7, "max code points");
    jn_json_free(j);

    /* containers, duplicates, getters */
    const char *doc = "{\"a\": 1, \"b\": [true, null, \"x\", 2.5, {}], \"c\": {\"d\": \"e\"}, \"a\": 7, "
                      "\"s\": \"str\", \"k\\u0000z\": 3, \"\": 4, \"f\": 1.25, \"t\": true}";
    j = parse_str(doc, &err);
    TU_CHECK(j && j->type == JN_JSON_OBJECT && j->n == 9, "object: %s", err.msg);
    if (j) {
        int64_t iv = 0;
        double dv = 0;
        int bv = 0;
        TU_CHECK(jn_json_get_int(j, "a", &iv) && iv == 7, "duplicate key: last wins (%lld)", (long long)iv);
        const jn_json *b = jn_json_get(j, "b");
        TU_CHECK(b && b->type == JN_JSON_ARRAY && b->n == 5, "array");
        if (b && b->n == 5) {
            TU_CHECK(b->items[0]->type == JN_JSON_BOOL && b->items[1]->type == JN_JSON_NULL, "items");
            TU_CHECK(b->items[2]->type == JN_JSON_STRING && strcmp(b->items[2]->str, "x") == 0, "item str");
            TU_CHECK(b->items[4]->type == JN_JSON_OBJECT && b->items[4]->n == 0, "empty object");
        }
        TU_CHECK(strcmp(jn_json_get_str(jn_json_get(j, "c"), "d"), "e") == 0, "nested get");
        TU_CHECK(jn_json_get_str(j, "a") == NULL, "wrong type -> NULL");
        TU_CHECK(jn_json_get(j, "zz") == NULL && jn_json_get(b, "a") == NULL, "absent / not object");
        TU_CHECK(!jn_json_get_int(j, "f", &iv) && iv == 7, "non-integer leaves out untouched");
        TU_CHECK(jn_json_get_num(j, "f", &dv) && dv == 1.25, "get_num");
        TU_CHECK(jn_json_get_bool(j, "t", &bv) && bv == 1, "get_bool");
        TU_CHECK(j->key_lens[5] == 3 && memcmp(j->keys[5], "k\0z", 4) == 0, "key with NUL keeps its length");
        TU_CHECK(jn_json_get_int(j, "", &iv) && iv == 4, "empty key");
        TU_CHECK(strcmp(jn_json_get_str(j, "s"), "str") == 0, "get_str");
    }
    jn_json_free(j);

    /* input need not be NUL-terminated: only len bytes are read */
    j = jn_json_parse("[1,2]garbage", 5, &err);
    TU_CHECK(j && j->n == 2, "len-bounded parse");
    jn_json_free(j);
    jn_json_free(NULL);
}

static void test_invalid(void) {
    INVALID("");
    INVALID("   ");
    INVALID("[1,]");
    INVALID("{\"a\":1,}");
    INVALID("[,1]");
    INVALID("[1 2]");
    INVALID("[1,,2]");
    INVALID("01");
    INVALID("-01");
    INVALID("00");
    INVALID("-");
    INVALID("1.");
    INVALID(".5");
    INVALID("1e");
    INVALID("1e+");
    INVALID("+1");
    INVALID("0x10");
    INVALID("NaN");
    INVALID("Infinity");
    INVALID("-Infinity");
    INVALID("nul");
    INVALID("tru");
    INVALID("truex");
    INVALID("True");
    INVALID("'a'");
    INVALID("\"abc");
    INVALID("\"\\x\"");
    INVALID("\"\\u12\"");
    INVALID("\"\\u12G4\"");
    INVALID("\"\\ud800\"");
    INVALID("\"\\udc00\"");
    INVALID("\"\\ud800\\u0041\"");
    INVALID("\"\\ud800\\ud800\"");
    INVALID("\"\\ud800x\"");
    INVALID("\"a\tb\"");
    INVALID("\"a\nb\"");
    INVALID("\"\x01\"");
    INVALID("\"\x1f\"");
    INVALID("\xef\xbb\xbf{}");
    INVALID("{\"a\" 1}");
    INVALID("{1:2}");
    INVALID("{a:2}");
    INVALID("[1]x");
    INVALID("[1] [2]");
    INVALID("/*c*/1");
    INVALID("//c\n1");
    INVALID("1 // c");
    INVALID("\"\xc0\xaf\"");         /* overlong */
    INVALID("\"\xe0\x80\xaf\"");     /* overlong */
    INVALID("\"\xed\xa0\x80\"");     /* UTF-8-encoded surrogate */
    INVALID("\"\xf4\x90\x80\x80\""); /* > U+10FFFF */
    INVALID("\"\xf5\x80\x80\x80\"");
    INVALID("\"\x80\"");
    INVALID("\"\xe2\x82\"");
    INVALID("\"\xff\"");
    INVALID("1e400");
    INVALID("-1e400");
    INVALID("[");
    INVALID("{");
    INVALID("{\"a\"");
    INVALID("{\"a\":");
    INVALID("[1,");
    INVALID("\"\\");
    INVALID("]");
    INVALID("\x00");
    INVALID("[\x00]");
    INVALID("[1]\x00");
    INVALID("\xc3\xa9");

    /* message position */
    jn_error err = {0};
    jn_json *j = parse_str("[\n  1,\n  ]", &err);
    TU_CHECK(!j && strstr(err.msg, "line 3 col 3") && strstr(err.msg, "trailing comma"), "position: '%s'", err.msg);
    j = parse_str("{\"k\": \"v\",\n \"x\": tru}", &err);
    TU_CHECK(!j && strstr(err.msg, "line 2 col 7"), "position: '%s'", err.msg);
    printf("sample error: %s\n", err.msg);
    TU_CHECK(jn_json_parse("x", 1, NULL) == NULL, "NULL err is allowed");
}

static void test_depth(void) {
    enum { D = 600 };
    char buf[6 * D];
    jn_error err = {0};
    for (int depth = 511; depth <= 513; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++) buf[n++] = '[';
        for (int i = 0; i < depth; i++) buf[n++] = ']';
        jn_json *j = jn_json_parse(buf, n, &err);
        if (depth <= 512) TU_CHECK(j != NULL, "depth %d rejected: %s", depth, err.msg);
        else TU_CHECK(j == NULL && strstr(err.msg, "nesting"), "depth %d accepted", depth);
        jn_json_free(j);
    }
    /* deep objects too */
    size_t n = 0;
    for (int i = 0; i < 513; i++) {
        memcpy(buf + n, "{\"a\":", 5);
        n += 5;
    }
    TU_CHECK(jn_json_parse(buf, n, &err) == NULL && strstr(err.msg, "nesting"), "deep objects: %s", err.msg);
}

static void test_prefixes(void) {
    const char *doc = "{\"a\": [1, -2.5e-3, true, false, null, \"x\\u00e9\\ud83d\\ude00\xc3\xa9\"], \"b\": {\"c\": {}}}";
    size_t len = strlen(doc);
    jn_error err = {0};
    jn_json *j = jn_json_parse(doc, len, &err);
    TU_CHECK(j != NULL, "full doc: %s", err.msg);
    jn_json_free(j);
    int accepted = 0;
    for (size_t n = 0; n < len; n++) {
        char *copy = malloc(n ? n : 1); /* exact-size buffer: ASan catches any over-read */
        memcpy(copy, doc, n);
        j = jn_json_parse(copy, n, &err);
        if (j) accepted++;
        jn_json_free(j);
        free(copy);
    }
    TU_CHECK(accepted == 0, "%d prefixes accepted", accepted);
}

static void test_writer(void) {
    jn_buf b = {0};
    const char in[] = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f\0z\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9\xf0\x9f\x98\x80/";
    jn_json_write_string(&b, in, sizeof in - 1);
    const char *want = "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f\\u0000z\\u2028\\u2029\xc3\xa9\xf0\x9f\x98\x80/\"";
    TU_CHECK(!b.oom && b.len == strlen(want) && memcmp(b.data, want, b.len) == 0, "escaped: %s", b.data);
    jn_error err = {0};
    jn_json *j = jn_json_parse(b.data, b.len, &err);
    TU_CHECK(j && j->type == JN_JSON_STRING && j->len == sizeof in - 1 && memcmp(j->str, in, j->len) == 0,
             "round trip: %s", err.msg);
    jn_json_free(j);
    /* every single byte value that is valid alone (ASCII) round-trips */
    jn_buf_free(&b);
    char all[128];
    for (int i = 0; i < 128; i++) all[i] = (char)i;
    jn_json_write_string(&b, all, 128);
    j = jn_json_parse(b.data, b.len, &err);
    TU_CHECK(j && j->len == 128 && memcmp(j->str, all, 128) == 0, "ascii round trip");
    jn_json_free(j);
    jn_buf_free(&b);
    /* buf helpers */
    jn_buf_puts(&b, "x=");
    jn_buf_printf(&b, "%d,%s", 42, "y");
    for (int i = 0; i < 1000; i++) jn_buf_printf(&b, "%04d", i);
    TU_CHECK(b.len == 2 + 4 + 4000 && memcmp(b.data, "x=42,y0000", 10) == 0 && b.data[b.len] == 0, "buf printf");
    jn_buf_free(&b);
    TU_CHECK(b.data == NULL && b.len == 0, "buf free");
}

static void test_tiny_tokenizer(void) {
    jn_error err = {0};
    const char *path = tu_fixture("janus-tiny-a/models/tiny-a/tokenizer.json");
    jn_json *j = jn_json_parse_file(path, &err);
    TU_CHECK(j != NULL, "%s", err.msg);
    if (!j) return;
    const jn_json *model = jn_json_get(j, "model");
    const jn_json *vocab = jn_json_get(model, "vocab");
    TU_CHECK(vocab && vocab->type == JN_JSON_OBJECT && vocab->n > 100, "tiny vocab");
    printf("tiny-a tokenizer.json: model.type=%s, %zu vocab entries\n", jn_json_get_str(model, "type"),
           vocab ? vocab->n : 0);
    jn_json_free(j);
    TU_CHECK(jn_json_parse_file(tu_fixture("does/not/exist.json"), &err) == NULL && err.code == JN_ERR_IO &&
                 strstr(err.msg, "exist.json"),
             "missing file: %s", err.msg);
}

static void test_real_tokenizers(void) {
    static const char *names[] = {"deepseek_llm_7b_base_recon", "deepseek_v3", "gpt4o", "llama3", "qwen3"};
    if (tu_system("command -v gzip >/dev/null 2>&1") != 0) {
        printf("gzip not available: skipping the large tokenizer.json files\n");
        return;
    }
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char cmd[8192], out[4096];
        snprintf(out, sizeof out, "%s", tu_tmp(names[k]));
        strcat(out, "-tokenizer.json");
        snprintf(cmd, sizeof cmd, "gzip -dc '%s/tokenizers/%s/tokenizer.json.gz' > '%s'",
                 getenv("JANUS_FIXTURES") ? getenv("JANUS_FIXTURES") : "tests/fixtures", names[k], out);
        if (tu_system(cmd) != 0) {
            TU_CHECK(0, "cannot gunzip %s", names[k]);
            continue;
        }
        jn_error err = {0};
        double t0 = jn_time_s();
        jn_json *j = jn_json_parse_file(out, &err);
        double dt = jn_time_s() - t0;
        TU_CHECK(j != NULL, "%s: %s", names[k], err.msg);
        if (!j) continue;
        const jn_json *model = jn_json_get(j, "model");
        const jn_json *vocab = jn_json_get(model, "vocab");
        const jn_json *merges = jn_json_get(model, "merges");
        size_t len = 0;
        char *raw = tu_read_file(out, &len);
        free(raw);
        printf("%-28s %7.2f MB parsed in %6.1f ms: vocab %zu, merges %zu\n", names[k], len / 1e6, dt * 1e3,
               vocab ? vocab->n : 0, merges ? merges->n : 0);
        TU_CHECK(vocab && vocab->n > 30000 && merges && merges->n > 30000, "%s: vocab/merges", names[k]);
        jn_json_free(j);
        remove(out);
    }
}

static void test_large_generated(void) {
    /* ~10 MB: an object with 300k keys -> ints, and an array of 300k escaped strings */
    jn_buf b = {0};
    enum { N = 300000 };
    jn_buf_puts(&b, "{\"vocab\": {");
    for (int i = 0; i < N; i++) jn_buf_printf(&b, "%s\"tok\\u0120%d\\n\": %d", i ? ", " : "", i, i);
    jn_buf_puts(&b, "}, \"merges\": [");
    for (int i = 0; i < N; i++) jn_buf_printf(&b, "%s[\"a%d\", \"\xc4\xa0" "b%d\"]", i ? "," : "", i, i);
    jn_buf_puts(&b, "]}");
    TU_CHECK(!b.oom, "oom");
    jn_error err = {0};
    double t0 = jn_time_s();
    jn_json *j = jn_json_parse(b.data, b.len, &err);
    double dt = jn_time_s() - t0;
    printf("generated %.1f MB parsed in %.1f ms (%.0f MB/s)\n", b.len / 1e6, dt * 1e3, b.len / 1e6 / dt);
    TU_CHECK(j != NULL, "%s", err.msg);
    if (j) {
        const jn_json *v = jn_json_get(j, "vocab");
        const jn_json *m = jn_json_get(j, "merges");
        TU_CHECK(v && v->n == N && m && m->n == N, "counts");
        if (v && v->n == N && m && m->n == N) {
            int bad = 0;
            for (int i = 0; i < N; i += 997) {
                char want[64];
                int wl = snprintf(want, sizeof want, "tok\xc4\xa0%d\n", i);
                if (v->key_lens[i] != (size_t)wl || memcmp(v->keys[i], want, (size_t)wl) != 0 ||
                    v->items[i]->integer != i)
                    bad++;
                snprintf(want, sizeof want, "\xc4\xa0" "b%d", i);
                if (m->items[i]->n != 2 || strcmp(m->items[i]->items[1]->str, want) != 0) bad++;
            }
            TU_CHECK(bad == 0, "%d wrong entries", bad);
        }
    }
    jn_json_free(j);
    jn_buf_free(&b);
}

int main(void) {
    test_valid();
    test_invalid();
    test_depth();
    test_prefixes();
    test_writer();
    test_tiny_tokenizer();
    test_large_generated();
    test_real_tokenizers();
    if (!tu_failures) printf("test_unit_json: ok\n");
    return TU_RESULT();
}
