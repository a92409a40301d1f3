/* api/tokenizer_api.c — the public text-tokenizer API (janus.h) over decoder/tokenizer.h.
 *
 * A janus_tokenizer either owns its jn_tokenizer (loaded from a tokenizer.json or from a converted
 * GGUF: keys `tokenizer.huggingface.json` and, if present, `janus.tokenizer.config_json`) or is the
 * one embedded in a janus_model (owned = 0; janus_tokenizer_free then does nothing). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <sys/stat.h>

#include "engine/io/file.h"
#include "engine/io/gguf.h"
#include "engine/io/json.h"
#include "internal.h"

/* Reads a whole file into a malloc'ed buffer. NULL + err when it cannot be read. */
static char *slurp(const char *path, size_t *len, int quiet_missing, jn_error *err) {
    struct stat st;
    if (quiet_missing && stat(path, &st) != 0 && errno == ENOENT) return NULL;
    char *buf = NULL;
    /* the shared opener refuses FIFOs, sockets, devices and directories before a read blocks */
    if (jn_read_input(path, (size_t)1 << 30, &buf, len, err) != JN_OK) return NULL;
    return buf;
}

static janus_tokenizer *wrap(jn_tokenizer *tok, janus_error *err) {
    janus_tokenizer *t = (janus_tokenizer *)calloc(1, sizeof *t);
    if (!t) {
        jn_tokenizer_free(tok);
        jn_fail(JN_ERR(err), JN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->tok = tok;
    t->owned = 1;
    return t;
}

janus_tokenizer *janus_tokenizer_load_json(const char *tokenizer_json_path, janus_error *err) {
    jn_error *e = JN_ERR(err);
    if (!tokenizer_json_path) {
        jn_fail(e, JN_ERR_USAGE, "no tokenizer.json path given");
        return NULL;
    }
    size_t len = 0, cfg_len = 0;
    char *text = slurp(tokenizer_json_path, &len, 0, e);
    if (!text) return NULL;
    /* tokenizer_config.json beside it */
    size_t pl = strlen(tokenizer_json_path);
    char *cfg_path = (char *)malloc(pl + 32);
    char *cfg = NULL;
    if (cfg_path) {
        memcpy(cfg_path, tokenizer_json_path, pl + 1);
        char *slash = strrchr(cfg_path, '/');
        strcpy(slash ? slash + 1 : cfg_path, "tokenizer_config.json");
        cfg = slurp(cfg_path, &cfg_len, 1, e);
    }
    jn_tokenizer *tok = jn_tokenizer_load(text, len, cfg, cfg_len, e);
    free(text);
    free(cfg);
    if (!tok) {
        jn_error_prefix(e, "%s", tokenizer_json_path);
        free(cfg_path);
        return NULL;
    }
    free(cfg_path);
    return wrap(tok, err);
}

janus_tokenizer *janus_tokenizer_load_gguf(const char *gguf_path, janus_error *err) {
    jn_error *e = JN_ERR(err);
    jn_gguf *g = jn_gguf_open(gguf_path, e);
    if (!g) return NULL;
    const char *tj = NULL, *cj = NULL;
    size_t tl = 0, cl = 0;
    jn_tokenizer *tok = NULL;
    if (jn_gguf_get_str(g, "tokenizer.huggingface.json", &tj, &tl, e) == JN_OK &&
        (jn_gguf_find_kv(g, "janus.tokenizer.config_json") < 0 ||
         jn_gguf_get_str(g, "janus.tokenizer.config_json", &cj, &cl, e) == JN_OK)) {
        tok = jn_tokenizer_load(tj, tl, cj, cl, e);
        if (!tok) jn_error_prefix(e, "%s: tokenizer", gguf_path);
    }
    jn_gguf_close(g);
    return tok ? wrap(tok, err) : NULL;
}

void janus_tokenizer_free(janus_tokenizer *t) {
    if (!t || !t->owned) return;
    jn_tokenizer_free(t->tok);
    free(t);
}

int janus_tokenizer_encode(janus_tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids,
                           size_t *n_ids, janus_error *err) {
    if (!t || !t->tok) return jn_fail(JN_ERR(err), JN_ERR_USAGE, "no tokenizer");
    return jn_tokenizer_encode(t->tok, text, len, add_special, ids, n_ids, JN_ERR(err));
}

int janus_tokenizer_decode(janus_tokenizer *t, const int32_t *ids, size_t n_ids, int skip_special, char **text,
                           size_t *len, janus_error *err) {
    if (!t || !t->tok) return jn_fail(JN_ERR(err), JN_ERR_USAGE, "no tokenizer");
    return jn_tokenizer_decode(t->tok, ids, n_ids, skip_special, text, len, JN_ERR(err));
}

int32_t janus_tokenizer_token_id(const janus_tokenizer *t, const char *token) {
    if (!t || !t->tok || !token) return -1;
    return jn_tokenizer_token_id(t->tok, token, strlen(token));
}
