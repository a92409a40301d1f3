/* tests/fuzz/fuzz_json.c — the JSON parser on arbitrary bytes; a parsed document is walked and
 * its strings written back through the JSON string writer, which must reparse to the same bytes. */
#include "fuzz_util.h"

#include "engine/io/json.h"

static void walk(const jn_json *v, int depth) {
    if (v->type == JN_JSON_STRING) {
        jn_buf b = {0};
        jn_json_write_string(&b, v->str, v->len);
        if (!b.oom) {
            jn_error err = {0};
            jn_json *back = jn_json_parse(b.data, b.len, &err);
            if (!back || back->type != JN_JSON_STRING || back->len != v->len || memcmp(back->str, v->str, v->len)) abort();
            jn_json_free(back);
        }
        jn_buf_free(&b);
    }
    if (v->type == JN_JSON_ARRAY || v->type == JN_JSON_OBJECT)
        for (size_t i = 0; i < v->n; i++) {
            if (v->type == JN_JSON_OBJECT && strlen(v->keys[i]) == v->key_lens[i] && !jn_json_get(v, v->keys[i])) abort();
            walk(v->items[i], depth + 1);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    jn_error err = {0};
    jn_json *root = jn_json_parse((const char *)data, size, &err);
    fuzz_report("parse", &err);
    if (!root) return 0;
    walk(root, 0);
    jn_json_free(root);
    return 0;
}
