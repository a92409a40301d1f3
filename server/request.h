/* server/request.h — parsing and validating the JSON bodies of `janus serve`'s POST routes into
 * plain structs, and the OpenAI error shape. Pure functions of (bytes, limits): no model, no
 * files, no threads, so tests/fuzz/fuzz_server_request.c can drive them with arbitrary input.
 *
 * Why its own unit: every byte a client sends reaches the engine only through here, so this is
 * where limits are enforced (body already bounded by the HTTP layer; here: n, max_tokens, image
 * bytes, number of images, text lengths) and where a bad request gets a 4xx with a message that
 * names the field. */
#ifndef JANUS_SERVER_REQUEST_H
#define JANUS_SERVER_REQUEST_H

#include <stddef.h>
#include <stdint.h>

/* An HTTP error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}. */
typedef struct srv_error {
    int status;        /* HTTP status, 400 unless said otherwise */
    const char *type;  /* "invalid_request_error", "authentication_error", "server_error", ... */
    const char *code;  /* short machine-readable reason, NULL for none */
    char param[64];    /* offending field ("messages[1].content[0].image_url"), "" for none */
    char message[512];
} srv_error;

/* Fills e and returns -1 (so parsers can `return srv_fail(...)`). */
int srv_fail(srv_error *e, int status, const char *type, const char *code, const char *param, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

typedef struct srv_limits {
    int max_n;              /* images per generation request */
    int max_tokens;         /* answer tokens per chat request */
    size_t max_image_bytes; /* one decoded upload (bytes of the file, after base64) */
    int max_images;         /* images per chat request */
    size_t max_text_bytes;  /* all text of one request */
} srv_limits;
void srv_limits_default(srv_limits *l);

/* One image of a chat request: the bytes of an upload (data: URL) or a local path (to be checked
 * against --allow-dir by the caller). */
typedef struct srv_image_ref {
    uint8_t *bytes;
    size_t len;
    char *path;
} srv_image_ref;

typedef struct srv_chat_turn {
    char *user;      /* with one <image_placeholder> per image, at its place */
    char *assistant; /* NULL for the last (new) user turn */
} srv_chat_turn;

enum { SRV_MAX_STOP = 4 };

typedef struct srv_chat_req {
    srv_chat_turn *turns; /* earlier turns, then the new question (turns[n_turns-1].assistant == NULL) */
    int n_turns;
    srv_image_ref *images; /* in placeholder order over the whole conversation */
    int n_images;
    int max_tokens;
    double temperature, top_p;
    int top_k;
    uint64_t seed;
    int stream, include_usage;
    char *stop[SRV_MAX_STOP];
    int n_stop;
} srv_chat_req;

enum { SRV_FMT_PNG = 0, SRV_FMT_JPEG = 1 };
enum { SRV_RESP_B64 = 0, SRV_RESP_URL = 1 };

typedef struct srv_gen_req {
    char *prompt;
    char *negative_prompt; /* NULL: the official unconditional row */
    int n;
    double cfg, temperature;
    uint64_t seed;
    int response_format; /* SRV_RESP_* */
    int output_format;   /* SRV_FMT_* */
    int stream;
} srv_gen_req;

/* Parse body[0..len) (any bytes). 0 on success (free with the matching _free), -1 with e filled. */
int srv_parse_chat(const char *body, size_t len, const srv_limits *lim, srv_chat_req *out, srv_error *e);
void srv_chat_req_free(srv_chat_req *r);
int srv_parse_gen(const char *body, size_t len, const srv_limits *lim, srv_gen_req *out, srv_error *e);
void srv_gen_req_free(srv_gen_req *r);

/* A growable NUL-terminated string (the chat turns here, an answer in the server). */
typedef struct srv_text {
    char *p;
    size_t len, cap;
} srv_text;
int srv_text_append(srv_text *t, const char *s, size_t n); /* 0, or -1 when out of memory */

/* Strict RFC 4648 base64 (padding optional at the very end, no whitespace inside). 0 on success,
 * *out malloc'ed; -1 on a bad character or length. */
int srv_base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len);
/* Appends the base64 of p[0..n) to a malloc'ed buffer; NULL on out of memory. */
char *srv_base64_encode(const uint8_t *p, size_t n, size_t *out_len);

/* "png" / "jpeg" by magic bytes, NULL for anything else (uploads are limited to these two so that
 * untrusted bytes never reach a general-purpose demuxer). */
const char *srv_sniff_image(const uint8_t *p, size_t n);

#endif
