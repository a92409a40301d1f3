/* tests/fuzz/fuzz_gguf.c — GGUF reader: header, metadata (every typed getter on every key),
 * tensor infos, every tensor's bytes, then the weight store's load of the tensor table. */
#include "fuzz_util.h"

#include "engine/io/gguf.h"
#include "engine/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600];
    fuzz_file(path, sizeof path, "in.gguf", data, size);
    jn_error err = {0};
    jn_gguf *g = jn_gguf_open(path, &err);
    fuzz_report("open", &err);
    if (!g) return 0;
    char text[512];
    for (int64_t i = 0; i < jn_gguf_n_kv(g); i++) {
        const char *key = jn_gguf_kv_key(g, i);
        jn_gguf_kv_format(g, i, text, sizeof text);
        fuzz_touch(text, strlen(text));
        if (jn_gguf_find_kv(g, key) < 0) abort(); /* a listed key must be found */
        uint32_t u;
        int64_t l;
        float f;
        double d;
        int b;
        const char *s;
        size_t sl;
        jn_gguf_type et;
        uint64_t n;
        const void *p;
        jn_gguf_get_u32(g, key, &u, &err);
        jn_gguf_get_i64(g, key, &l, &err);
        jn_gguf_get_f32(g, key, &f, &err);
        jn_gguf_get_f64(g, key, &d, &err);
        jn_gguf_get_bool(g, key, &b, &err);
        if (jn_gguf_get_str(g, key, &s, &sl, &err) == JN_OK) fuzz_touch(s, sl);
        if (jn_gguf_get_arr(g, key, &et, &n, &p, &err) == JN_OK) {
            if (et == JN_GGUF_STRING) {
                for (uint64_t k = 0; k < n && k < 256; k++)
                    if (jn_gguf_get_arr_str(g, key, k, &s, &sl, &err) == JN_OK) fuzz_touch(s, sl);
            } else if (n <= 64) {
                int64_t iv[64];
                float fv[64];
                jn_gguf_get_arr_i64(g, key, iv, n, &err);
                jn_gguf_get_arr_f32(g, key, fv, n, &err);
            }
        }
    }
    for (int64_t i = 0; i < jn_gguf_n_tensors(g); i++) {
        const jn_gguf_tensor *t = jn_gguf_tensor_at(g, i);
        if (jn_gguf_find_tensor(g, t->name) != t) abort(); /* names are unique and found */
        fuzz_touch(t->data, t->nbytes);
    }
    jn_error_clear(&err);
    jn_wstore *ws = jn_wstore_create(g, &err);
    fuzz_report("wstore", &err);
    if (ws) {
        for (int64_t i = 0; i < jn_gguf_n_tensors(g); i++) {
            const jn_gguf_tensor *t = jn_gguf_tensor_at(g, i);
            jn_wstore_get(ws, t->name, t->n_dims, t->shape, 0, &err);
        }
        jn_wstore_check_unused(ws, NULL, 0, &err);
        jn_wstore_free(ws);
    }
    jn_gguf_close(g);
    return 0;
}
