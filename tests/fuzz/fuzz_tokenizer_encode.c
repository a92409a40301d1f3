/* tests/fuzz/fuzz_tokenizer_encode.c — the tiny fixture's tokenizer (byte-level BPE with the
 * Janus/DeepSeek pre-tokenizer) on arbitrary input: the longest valid UTF-8 prefix is encoded and
 * decoded back (byte-level BPE must round-trip it exactly); the raw bytes, read as little-endian
 * int32 ids (any value, out-of-vocabulary included), are decoded at once and through the
 * streaming detokenizer, which must agree. */
#include "fuzz_util.h"

#include <stdlib.h>

#include "decoder/tokenizer.h"
#include "engine/io/json.h" /* jn_buf */

static jn_tokenizer *tok;

static void load_tokenizer(void) {
    static char buf[1 << 20];
    size_t n = fuzz_read_fixture("janus-tiny-a/models/tiny-a/tokenizer.json", buf, sizeof buf);
    jn_error err = {0};
    tok = jn_tokenizer_load(buf, n, NULL, 0, &err);
    if (!tok) {
        fprintf(stderr, "fuzz: %s\n", err.msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok) load_tokenizer();
    jn_error err = {0};
    size_t valid = jn_utf8_valid_prefix((const char *)data, size);
    int32_t *ids = NULL;
    size_t n = 0;
    if (jn_tokenizer_encode(tok, (const char *)data, valid, 0, &ids, &n, &err) == JN_OK) {
        char *back = NULL;
        size_t bl = 0;
        if (jn_tokenizer_decode(tok, ids, n, 0, &back, &bl, &err) == JN_OK) {
            /* no normalizer in this tokenizer: decode(encode(text)) is the text */
            if (bl != valid || memcmp(back, data, valid)) abort();
        }
        free(back);
    } else {
        fuzz_report("encode", &err);
    }
    free(ids);

    size_t n_ids = size / 4;
    int32_t *raw = malloc((n_ids ? n_ids : 1) * sizeof *raw);
    if (!raw) return 0;
    memcpy(raw, data, n_ids * 4);
    for (int skip = 0; skip < 2; skip++) {
        char *all = NULL;
        size_t al = 0;
        if (jn_tokenizer_decode(tok, raw, n_ids, skip, &all, &al, &err) != JN_OK) continue;
        jn_detok_stream *s = jn_detok_stream_create(tok, skip);
        if (s) {
            jn_buf b = {0};
            const char *piece;
            size_t pl;
            int ok = 1;
            for (size_t i = 0; i < n_ids && ok; i++) {
                if (jn_detok_stream_push(s, raw[i], &piece, &pl, &err) != JN_OK) ok = 0;
                else jn_buf_append(&b, piece, pl);
            }
            if (ok) {
                jn_detok_stream_flush(s, &piece, &pl);
                jn_buf_append(&b, piece, pl);
                if (!b.oom && (b.len != al || memcmp(b.data, all, al))) abort(); /* stream == batch */
            }
            jn_buf_free(&b);
            jn_detok_stream_free(s);
        }
        free(all);
    }
    free(raw);
    return 0;
}
