/* tests/fuzz/fuzz_tokenizer_load.c — tokenizer.json parsing (vocab, merges, added tokens,
 * normalizers, pre-tokenizer regexes compiled by Oniguruma, post-processor); a loaded tokenizer
 * then encodes and decodes a fixed sentence. */
#include "fuzz_util.h"

#include <stdlib.h>

#include "decoder/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    jn_error err = {0};
    jn_tokenizer *t = jn_tokenizer_load((const char *)data, size, NULL, 0, &err);
    fuzz_report("load", &err);
    if (!t) return 0;
    static const char TEXT[] = "Hello <|User|> wörld 123 \xf0\x9f\x98\x80!\n";
    int32_t *ids = NULL;
    size_t n = 0;
    if (jn_tokenizer_encode(t, TEXT, sizeof TEXT - 1, 1, &ids, &n, &err) == JN_OK) {
        char *back = NULL;
        size_t bl = 0;
        if (jn_tokenizer_decode(t, ids, n, 0, &back, &bl, &err) == JN_OK) fuzz_touch(back, bl);
        free(back);
    }
    free(ids);
    jn_tokenizer_free(t);
    return 0;
}
