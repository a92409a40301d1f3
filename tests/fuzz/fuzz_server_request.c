/* tests/fuzz/fuzz_server_request.c — libFuzzer entry point for the request-body parsers of
 * `janus serve` (server/request.c): arbitrary bytes as a chat completion body and as an image
 * generation body, plus the base64 decoder and the image sniffer. Every input must either parse
 * (then the parsed request is walked and freed) or fail with a 4xx/5xx srv_error; never crash,
 * leak or read out of bounds.
 *
 * In tests/fuzz/CMakeLists.txt: janus_fuzz_target(server_request ../../server/request.c janus_engine) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/request.h"

static void check_error(const srv_error *e) {
    /* a failure always says why, with an HTTP error status */
    if (e->status < 400 || e->status > 599 || !e->message[0] || !e->type) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    srv_limits lim;
    srv_limits_default(&lim);
    lim.max_image_bytes = 1 << 16; /* keep the fuzzer's allocations small */
    srv_error e;
    srv_chat_req chat;
    memset(&e, 0, sizeof e);
    if (srv_parse_chat((const char *)data, size, &lim, &chat, &e) == 0) {
        if (chat.n_turns < 1 || chat.turns[chat.n_turns - 1].assistant) abort();
        for (int i = 0; i < chat.n_turns; i++)
            if (!chat.turns[i].user || (i + 1 < chat.n_turns && !chat.turns[i].assistant)) abort();
        for (int i = 0; i < chat.n_images; i++) {
            const srv_image_ref *r = &chat.images[i];
            if (!r->path && !srv_sniff_image(r->bytes, r->len)) abort(); /* only PNG/JPEG bytes get through */
            if (r->len > lim.max_image_bytes) abort();
        }
        srv_chat_req_free(&chat);
    } else {
        check_error(&e);
    }
    srv_gen_req gen;
    memset(&e, 0, sizeof e);
    if (srv_parse_gen((const char *)data, size, &lim, &gen, &e) == 0) {
        if (!gen.prompt || gen.n < 1 || gen.n > lim.max_n) abort();
        srv_gen_req_free(&gen);
    } else {
        check_error(&e);
    }
    /* base64 round trip: whatever decodes re-encodes to something that decodes to the same bytes */
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (srv_base64_decode((const char *)data, size, &bytes, &n) == 0) {
        size_t m = 0;
        char *enc = srv_base64_encode(bytes, n, &m);
        uint8_t *again = NULL;
        size_t k = 0;
        if (enc && (srv_base64_decode(enc, m, &again, &k) || k != n || (n && memcmp(again, bytes, n)))) abort();
        free(again);
        free(enc);
        free(bytes);
    }
    (void)srv_sniff_image(data, size);
    return 0;
}
