/* server/request.c — see request.h. */
#define _POSIX_C_SOURCE 200809L
#include "request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/json.h"

#define IMAGE_TAG "<image_placeholder>"

int srv_fail(srv_error *e, int status, const char *type, const char *code, const char *param, const char *fmt, ...) {
    e->status = status;
    e->type = type;
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

static int bad(srv_error *e, const char *param, const char *fmt, const char *detail) {
    return srv_fail(e, 400, "invalid_request_error", "invalid_value", param, fmt, detail);
}

void srv_limits_default(srv_limits *l) {
    l->max_n = 16;
    l->max_tokens = 4096;
    l->max_image_bytes = (size_t)20 << 20;
    l->max_images = 8;
    l->max_text_bytes = (size_t)1 << 20;
}

/* ---- base64 ---- */

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int srv_base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    size_t pad = 0;
    while (pad < 2 && n > pad && s[n - 1 - pad] == '=') pad++;
    size_t body = n - pad;
    if (pad && (n % 4)) return -1; /* padded input comes in whole quads */
    if (body % 4 == 1) return -1;  /* one leftover character carries no whole byte */
    uint8_t *o = malloc(body / 4 * 3 + 3);
    if (!o) return -1;
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < body; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            free(o);
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (uint8_t)(acc >> bits);
        }
    }
    *out = o;
    *out_len = k;
    return 0;
}

char *srv_base64_encode(const uint8_t *p, size_t n, size_t *out_len) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = (n + 2) / 3 * 4;
    char *o = malloc(len + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        o[k++] = tab[(v >> 18) & 63];
        o[k++] = tab[(v >> 12) & 63];
        o[k++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        o[k++] = i + 2 < n ? tab[v & 63] : '=';
    }
    o[k] = 0;
    if (out_len) *out_len = k;
    return o;
}

const char *srv_sniff_image(const uint8_t *p, size_t n) {
    if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) return "png";
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return "jpeg";
    return NULL;
}

/* ---- typed field readers: absent leaves *out alone and returns 0; wrong type/range is a 400 ---- */

static int get_number(const jn_json *o, const char *key, double lo, double hi, int lo_open, double *out, srv_error *e) {
    const jn_json *v = jn_json_get(o, key);
    if (!v || v->type == JN_JSON_NULL) return 0;
    if (v->type != JN_JSON_NUMBER || !isfinite(v->number))
        return srv_fail(e, 400, "invalid_request_error", "invalid_type", key, "'%s' must be a number", key);
    if (v->number < lo || v->number > hi || (lo_open && v->number == lo))
        return srv_fail(e, 400, "invalid_request_error", "invalid_value", key, "'%s' must be in %s%g, %g] (got %g)", key,
                        lo_open ? "(" : "[", lo, hi, v->number);
    *out = v->number;
    return 0;
}

static int get_int(const jn_json *o, const char *key, long lo, long hi, long *out, srv_error *e) {
    const jn_json *v = jn_json_get(o, key);
    if (!v || v->type == JN_JSON_NULL) return 0;
    if (v->type != JN_JSON_NUMBER || !v->is_integer)
        return srv_fail(e, 400, "invalid_request_error", "invalid_type", key, "'%s' must be an integer", key);
    if (v->integer < lo || v->integer > hi)
        return srv_fail(e, 400, "invalid_request_error", "invalid_value", key, "'%s' must be in [%ld, %ld] (got %lld)", key,
                        lo, hi, (long long)v->integer);
    *out = (long)v->integer;
    return 0;
}

static int get_seed(const jn_json *o, uint64_t *out, srv_error *e) {
    const jn_json *v = jn_json_get(o, "seed");
    if (!v || v->type == JN_JSON_NULL) return 0;
    if (v->type != JN_JSON_NUMBER || !v->is_integer || v->integer < 0)
        return srv_fail(e, 400, "invalid_request_error", "invalid_type", "seed", "'seed' must be a non-negative integer");
    *out = (uint64_t)v->integer;
    return 0;
}

static int get_bool(const jn_json *o, const char *key, int *out, srv_error *e) {
    const jn_json *v = jn_json_get(o, key);
    if (!v || v->type == JN_JSON_NULL) return 0;
    if (v->type != JN_JSON_BOOL)
        return srv_fail(e, 400, "invalid_request_error", "invalid_type", key, "'%s' must be true or false", key);
    *out = v->boolean;
    return 0;
}

/* A string field; NULL *out when absent. Text with U+0000 is refused (prompts are C strings). */
static int get_string(const jn_json *o, const char *key, int required, const char **out, srv_error *e) {
    const jn_json *v = jn_json_get(o, key);
    *out = NULL;
    if (!v || v->type == JN_JSON_NULL) {
        if (required) return srv_fail(e, 400, "invalid_request_error", "missing_field", key, "'%s' is required", key);
        return 0;
    }
    if (v->type != JN_JSON_STRING)
        return srv_fail(e, 400, "invalid_request_error", "invalid_type", key, "'%s' must be a string", key);
    if (strlen(v->str) != v->len)
        return srv_fail(e, 400, "invalid_request_error", "invalid_value", key, "'%s' contains U+0000", key);
    *out = v->str;
    return 0;
}

static jn_json *parse_object(const char *body, size_t len, srv_error *e) {
    jn_error jerr = {0};
    jn_json *root = jn_json_parse(body, len, &jerr);
    if (!root) {
        srv_fail(e, 400, "invalid_request_error", "invalid_json", "", "the body is not valid JSON: %s", jerr.msg);
        return NULL;
    }
    if (root->type != JN_JSON_OBJECT) {
        jn_json_free(root);
        srv_fail(e, 400, "invalid_request_error", "invalid_json", "", "the body must be a JSON object");
        return NULL;
    }
    return root;
}

/* ---- chat ---- */

int srv_text_append(srv_text *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

/* e->param = base + suffix (truncated to fit); returns -1. */
static int set_param(srv_error *e, const char *base, const char *suffix) {
    size_t nb = strlen(base), ns = strlen(suffix), cap = sizeof e->param - 1;
    if (nb > cap) nb = cap;
    if (ns > cap - nb) ns = cap - nb;
    memcpy(e->param, base, nb);
    memcpy(e->param + nb, suffix, ns);
    e->param[nb + ns] = 0;
    return -1;
}

static int oom(srv_error *e) { return srv_fail(e, 500, "server_error", "out_of_memory", "", "out of memory"); }

/* One image_url part -> r->images[r->n_images++]. */
static int add_image(srv_chat_req *r, const jn_json *part, const srv_limits *lim, const char *param, srv_error *e) {
    const jn_json *iu = jn_json_get(part, "image_url");
    const char *url = NULL;
    if (iu && iu->type == JN_JSON_OBJECT) {
        if (get_string(iu, "url", 1, &url, e)) return set_param(e, param, ".url");
    } else if (iu && iu->type == JN_JSON_STRING) {
        url = iu->str;
    } else {
        return srv_fail(e, 400, "invalid_request_error", "invalid_type", param, "%s must be an object {\"url\": ...}", param);
    }
    if (r->n_images >= lim->max_images)
        return srv_fail(e, 400, "invalid_request_error", "too_many_images", param, "at most %d images per request",
                        lim->max_images);
    srv_image_ref ref = {0};
    if (!strncmp(url, "data:", 5)) {
        const char *comma = strchr(url, ',');
        const char *b64 = comma ? strstr(url, ";base64,") : NULL;
        if (!comma || !b64 || b64 + 7 != comma)
            return srv_fail(e, 400, "invalid_request_error", "invalid_image_url", param,
                            "%s: expected a data URL 'data:image/png;base64,...'", param);
        const char *data = comma + 1;
        size_t n = strlen(data);
        if (n / 4 * 3 > lim->max_image_bytes + 3)
            return srv_fail(e, 413, "invalid_request_error", "image_too_large", param,
                            "%s: the image is about %zu bytes; the limit is %zu (--max-image-bytes)", param, n / 4 * 3,
                            lim->max_image_bytes);
        if (srv_base64_decode(data, n, &ref.bytes, &ref.len))
            return srv_fail(e, 400, "invalid_request_error", "invalid_base64", param, "%s: the data URL is not valid base64",
                            param);
        if (ref.len > lim->max_image_bytes) {
            free(ref.bytes);
            return srv_fail(e, 413, "invalid_request_error", "image_too_large", param,
                            "%s: the image is %zu bytes; the limit is %zu (--max-image-bytes)", param, ref.len,
                            lim->max_image_bytes);
        }
        if (!srv_sniff_image(ref.bytes, ref.len)) {
            free(ref.bytes);
            return srv_fail(e, 400, "invalid_request_error", "invalid_image", param,
                            "%s: the data is not a PNG or JPEG image", param);
        }
    } else if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) {
        return srv_fail(e, 400, "invalid_request_error", "remote_url_refused", param,
                        "%s: remote image URLs are not fetched; send the image as a data: URL", param);
    } else {
        const char *path = !strncmp(url, "file://", 7) ? url + 7 : url;
        if (path[0] != '/')
            return srv_fail(e, 400, "invalid_request_error", "invalid_image_url", param,
                            "%s: expected a data: URL or an absolute local path", param);
        if (!(ref.path = strdup(path))) return oom(e);
    }
    srv_image_ref *q = realloc(r->images, (size_t)(r->n_images + 1) * sizeof *q);
    if (!q) {
        free(ref.bytes);
        free(ref.path);
        return oom(e);
    }
    r->images = q;
    r->images[r->n_images++] = ref;
    return 0;
}

/* The text of one message with images as placeholders at their place: an image is
 * "<image_placeholder>\n" (what `janus ask --image` puts before the question), text parts follow
 * each other separated by "\n". */
static int message_text(srv_chat_req *r, const jn_json *content, int allow_images, const srv_limits *lim, int mi,
                        srv_text *out, srv_error *e) {
    char param[64];
    snprintf(param, sizeof param, "messages[%d].content", mi);
    if (content->type == JN_JSON_STRING) {
        if (strlen(content->str) != content->len)
            return srv_fail(e, 400, "invalid_request_error", "invalid_value", param, "%s contains U+0000", param);
        return srv_text_append(out, content->str, content->len) ? oom(e) : 0;
    }
    if (content->type != JN_JSON_ARRAY)
        return srv_fail(e, 400, "invalid_request_error", "invalid_type", param, "%s must be a string or an array of parts",
                        param);
    int prev_text = 0;
    for (size_t i = 0; i < content->n; i++) {
        const jn_json *part = content->items[i];
        char pp[64];
        snprintf(pp, sizeof pp, "messages[%d].content[%zu]", mi, i);
        const char *type = part->type == JN_JSON_OBJECT ? jn_json_get_str(part, "type") : NULL;
        if (!type)
            return srv_fail(e, 400, "invalid_request_error", "invalid_type", pp, "%s must be an object with a 'type'", pp);
        if (!strcmp(type, "text")) {
            const char *t;
            if (get_string(part, "text", 1, &t, e)) return set_param(e, pp, ".text");
            if ((prev_text && srv_text_append(out, "\n", 1)) || srv_text_append(out, t, strlen(t))) return oom(e);
            prev_text = 1;
        } else if (!strcmp(type, "image_url")) {
            if (!allow_images)
                return srv_fail(e, 400, "invalid_request_error", "invalid_value", pp, "%s: only user messages carry images", pp);
            if (add_image(r, part, lim, pp, e)) return -1;
            if (prev_text && out->len && out->p[out->len - 1] != '\n' && srv_text_append(out, "\n", 1)) return oom(e);
            if (srv_text_append(out, IMAGE_TAG "\n", strlen(IMAGE_TAG) + 1)) return oom(e);
            prev_text = 0;
        } else {
            return srv_fail(e, 400, "invalid_request_error", "invalid_value", pp,
                            "%s: unsupported part type '%.40s' (expected text or image_url)", pp, type);
        }
    }
    return 0;
}

void srv_chat_req_free(srv_chat_req *r) {
    for (int i = 0; i < r->n_turns; i++) {
        free(r->turns[i].user);
        free(r->turns[i].assistant);
    }
    free(r->turns);
    for (int i = 0; i < r->n_images; i++) {
        free(r->images[i].bytes);
        free(r->images[i].path);
    }
    free(r->images);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    memset(r, 0, sizeof *r);
}

static int parse_stop(const jn_json *o, srv_chat_req *r, srv_error *e) {
    const jn_json *v = jn_json_get(o, "stop");
    if (!v || v->type == JN_JSON_NULL) return 0;
    const jn_json *one[1] = {v};
    const jn_json *const *items = one;
    size_t n = 1;
    if (v->type == JN_JSON_ARRAY) {
        items = (const jn_json *const *)v->items;
        n = v->n;
    }
    if (n > SRV_MAX_STOP) return srv_fail(e, 400, "invalid_request_error", "invalid_value", "stop", "at most %d stop sequences", SRV_MAX_STOP);
    for (size_t i = 0; i < n; i++) {
        if (items[i]->type != JN_JSON_STRING || items[i]->len == 0 || strlen(items[i]->str) != items[i]->len)
            return bad(e, "stop", "'stop' must be a non-empty string or an array of them%s", "");
        if (!(r->stop[r->n_stop] = strdup(items[i]->str))) return oom(e);
        r->n_stop++;
    }
    return 0;
}

int srv_parse_chat(const char *body, size_t len, const srv_limits *lim, srv_chat_req *r, srv_error *e) {
    memset(r, 0, sizeof *r);
    r->max_tokens = 512; /* janus ask's default */
    r->temperature = 0;  /* greedy, as janus ask */
    r->top_p = 1;
    r->seed = 42;
    jn_json *root = parse_object(body, len, e);
    if (!root) return -1;
    int rc = -1;
    long lv;
    const char *s;
    const jn_json *msgs = jn_json_get(root, "messages");
    if (!msgs) { srv_fail(e, 400, "invalid_request_error", "missing_field", "messages", "'messages' is required"); goto done; }
    if (msgs->type != JN_JSON_ARRAY || msgs->n == 0) { bad(e, "messages", "'messages' must be a non-empty array%s", ""); goto done; }
    if (get_string(root, "model", 0, &s, e)) goto done;
    lv = 1;
    if (get_int(root, "n", 1, 1, &lv, e)) goto done;
    lv = r->max_tokens;
    if (jn_json_get(root, "max_completion_tokens")) {
        if (get_int(root, "max_completion_tokens", 1, lim->max_tokens, &lv, e)) goto done;
    } else if (get_int(root, "max_tokens", 1, lim->max_tokens, &lv, e)) goto done;
    r->max_tokens = (int)lv;
    if (get_number(root, "temperature", 0, 2, 0, &r->temperature, e)) goto done;
    if (get_number(root, "top_p", 0, 1, 1, &r->top_p, e)) goto done;
    lv = 0;
    if (get_int(root, "top_k", 0, 1 << 20, &lv, e)) goto done;
    r->top_k = (int)lv;
    if (get_seed(root, &r->seed, e) || get_bool(root, "stream", &r->stream, e) || parse_stop(root, r, e)) goto done;
    const jn_json *so = jn_json_get(root, "stream_options");
    if (so && so->type == JN_JSON_OBJECT && get_bool(so, "include_usage", &r->include_usage, e)) goto done;

    r->turns = calloc(msgs->n, sizeof *r->turns);
    if (!r->turns) { oom(e); goto done; }
    size_t text_total = 0;
    for (size_t i = 0; i < msgs->n; i++) {
        const jn_json *m = msgs->items[i];
        char param[48];
        snprintf(param, sizeof param, "messages[%zu]", i);
        const char *role = m->type == JN_JSON_OBJECT ? jn_json_get_str(m, "role") : NULL;
        if (!role) { srv_fail(e, 400, "invalid_request_error", "invalid_type", param, "%s must be an object with a 'role'", param); goto done; }
        const jn_json *content = jn_json_get(m, "content");
        /* Janus-Pro has a fixed system prompt of its own: system/developer messages are ignored */
        if (!strcmp(role, "system") || !strcmp(role, "developer")) continue;
        int is_user = !strcmp(role, "user");
        if (!is_user && strcmp(role, "assistant")) {
            srv_fail(e, 400, "invalid_request_error", "invalid_value", param, "%s: unsupported role '%.40s'", param, role);
            goto done;
        }
        if (!content || content->type == JN_JSON_NULL) {
            srv_fail(e, 400, "invalid_request_error", "missing_field", param, "%s has no 'content'", param);
            goto done;
        }
        srv_text tb = {0};
        if (message_text(r, content, is_user, lim, (int)i, &tb, e)) { free(tb.p); goto done; }
        if (!tb.p && srv_text_append(&tb, "", 0)) { oom(e); goto done; }
        text_total += tb.len;
        /* a literal tag in the text would be taken for an image: only our own tags may be there */
        int n_tags = 0;
        for (const char *t = tb.p; (t = strstr(t, IMAGE_TAG)); t += strlen(IMAGE_TAG)) n_tags++;
        int n_img_here = 0;
        if (content->type == JN_JSON_ARRAY)
            for (size_t k = 0; k < content->n; k++) {
                const char *ty = jn_json_get_str(content->items[k], "type");
                n_img_here += ty && !strcmp(ty, "image_url");
            }
        if (n_tags != n_img_here) {
            free(tb.p);
            srv_fail(e, 400, "invalid_request_error", "invalid_value", param, "%s: the text must not contain %s", param, IMAGE_TAG);
            goto done;
        }
        srv_chat_turn *last = r->n_turns ? &r->turns[r->n_turns - 1] : NULL;
        if (is_user) {
            if (last && !last->assistant) { /* consecutive user messages form one turn */
                srv_text merged = {last->user, strlen(last->user), strlen(last->user) + 1};
                if (srv_text_append(&merged, "\n", 1) || srv_text_append(&merged, tb.p, tb.len)) { free(tb.p); oom(e); goto done; }
                last->user = merged.p;
                free(tb.p);
            } else {
                r->turns[r->n_turns++].user = tb.p;
            }
        } else {
            if (!last || last->assistant) {
                free(tb.p);
                srv_fail(e, 400, "invalid_request_error", "invalid_value", param,
                         "%s: an assistant message must follow a user message", param);
                goto done;
            }
            last->assistant = tb.p;
        }
    }
    if (r->n_turns == 0 || r->turns[r->n_turns - 1].assistant) {
        srv_fail(e, 400, "invalid_request_error", "invalid_value", "messages", "the last message must be from the user");
        goto done;
    }
    if (text_total > lim->max_text_bytes) {
        srv_fail(e, 413, "invalid_request_error", "text_too_long", "messages", "the messages hold %zu bytes of text; the limit is %zu",
                 text_total, lim->max_text_bytes);
        goto done;
    }
    rc = 0;
done:
    jn_json_free(root);
    if (rc) srv_chat_req_free(r);
    return rc;
}

/* ---- images ---- */

void srv_gen_req_free(srv_gen_req *r) {
    free(r->prompt);
    free(r->negative_prompt);
    memset(r, 0, sizeof *r);
}

int srv_parse_gen(const char *body, size_t len, const srv_limits *lim, srv_gen_req *r, srv_error *e) {
    memset(r, 0, sizeof *r);
    r->n = 1;
    r->cfg = 5;         /* janus generate's defaults */
    r->temperature = 1;
    r->seed = 42;
    jn_json *root = parse_object(body, len, e);
    if (!root) return -1;
    int rc = -1;
    const char *s;
    long lv = 1;
    if (get_string(root, "prompt", 1, &s, e)) goto done;
    if (!*s) { bad(e, "prompt", "'prompt' must not be empty%s", ""); goto done; }
    if (strlen(s) > lim->max_text_bytes) {
        srv_fail(e, 413, "invalid_request_error", "text_too_long", "prompt", "the prompt is %zu bytes; the limit is %zu", strlen(s),
                 lim->max_text_bytes);
        goto done;
    }
    if (!(r->prompt = strdup(s))) { oom(e); goto done; }
    if (get_string(root, "negative_prompt", 0, &s, e)) goto done;
    if (s && !(r->negative_prompt = strdup(s))) { oom(e); goto done; }
    if (get_string(root, "model", 0, &s, e)) goto done;
    const jn_json *nv = jn_json_get(root, "n");
    if (nv && nv->type == JN_JSON_NUMBER && nv->is_integer && (nv->integer < 1 || nv->integer > lim->max_n)) {
        srv_fail(e, 400, "invalid_request_error", "invalid_value", "n", "'n' must be in [1, %d] (got %lld; the server's --max-n)",
                 lim->max_n, (long long)nv->integer);
        goto done;
    }
    if (get_int(root, "n", 1, lim->max_n, &lv, e)) goto done;
    r->n = (int)lv;
    if (get_string(root, "size", 0, &s, e)) goto done;
    if (s && strcmp(s, "384x384") && strcmp(s, "auto")) {
        srv_fail(e, 400, "invalid_request_error", "unsupported_size", "size",
                 "size '%.40s' is not supported: Janus-Pro generates 384x384 images only", s);
        goto done;
    }
    if (get_string(root, "response_format", 0, &s, e)) goto done;
    if (s && strcmp(s, "b64_json") && strcmp(s, "url")) { bad(e, "response_format", "'response_format' must be b64_json or url (got '%.40s')", s); goto done; }
    r->response_format = s && !strcmp(s, "url") ? SRV_RESP_URL : SRV_RESP_B64;
    if (get_string(root, "output_format", 0, &s, e)) goto done;
    if (s && strcmp(s, "png") && strcmp(s, "jpeg") && strcmp(s, "jpg")) { bad(e, "output_format", "'output_format' must be png or jpeg (got '%.40s')", s); goto done; }
    r->output_format = s && strcmp(s, "png") ? SRV_FMT_JPEG : SRV_FMT_PNG;
    if (get_seed(root, &r->seed, e)) goto done;
    if (get_number(root, "cfg", -100, 100, 0, &r->cfg, e)) goto done;
    if (get_number(root, "temperature", 0, 100, 1, &r->temperature, e)) goto done;
    if (get_bool(root, "stream", &r->stream, e)) goto done;
    rc = 0;
done:
    jn_json_free(root);
    if (rc) srv_gen_req_free(r);
    return rc;
}
