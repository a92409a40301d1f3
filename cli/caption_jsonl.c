/* cli/caption_jsonl.c — JSON records of `janus caption` (see caption_jsonl.h). A record line is
 * parsed whole by the project's JSON parser; only two fields are kept. */
#define _POSIX_C_SOURCE 200809L
#include "caption_jsonl.h"
#include "caption_input.h"
#include "engine/io/json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void caption_buf_free(caption_buf *b) {
    free(b->s);
    b->s = NULL;
    b->n = b->cap = 0;
    b->oom = 0;
}

static int buf_reserve(caption_buf *b, size_t extra) {
    if (b->oom) return -1;
    if (b->n + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) { b->oom = 1; return -1; }
    b->s = s;
    b->cap = cap;
    return 0;
}

void caption_buf_add(caption_buf *b, const char *s, size_t n) {
    if (buf_reserve(b, n)) return;
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void caption_buf_addf(caption_buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) { caption_buf_add(b, tmp, (size_t)n); return; }
    if (buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid (overlong, surrogate, > U+10FFFF). */
static size_t utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!n || c > 0xF4) return 0;
    uint32_t cp = c & (0x3F >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* Bytes an invalid sequence at s spans (>= 1): the "maximal subpart" of Unicode's U+FFFD
 * substitution practice, as Python's decode(errors="replace") and WHATWG decoders count it. */
static size_t utf8_invalid_len(const unsigned char *s) {
    unsigned c = s[0];
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (c < 0xC2 || c > 0xF4) return 1;
    unsigned lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
    if (c == 0xE0) lo = 0xA0;
    else if (c == 0xED) hi = 0x9F;
    else if (c == 0xF0) lo = 0x90;
    else if (c == 0xF4) hi = 0x8F;
    size_t i = 1;
    if (s[1] < lo || s[1] > hi) return 1;
    for (i = 2; i < n && (s[i] & 0xC0) == 0x80; i++) {}
    return i;
}

/* s with invalid UTF-8 replaced by U+FFFD (malloc'ed). */
static char *utf8_sanitize(const char *s) {
    size_t len = strlen(s);
    char *o = malloc(3 * len + 1), *p = o;
    if (!o) return NULL;
    for (const unsigned char *q = (const unsigned char *)s; *q;) {
        size_t n = utf8_len(q);
        if (n) { memcpy(p, q, n); p += n; q += n; }
        else { memcpy(p, "\xEF\xBF\xBD", 3); p += 3; q += utf8_invalid_len(q); }
    }
    *p = 0;
    return o;
}

void caption_buf_add_json_string(caption_buf *b, const char *s) {
    char *clean = utf8_sanitize(s);
    if (!clean) { b->oom = 1; return; }
    caption_buf_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)clean; *p; p++) {
        unsigned c = *p;
        if (c == '"') caption_buf_add(b, "\\\"", 2);
        else if (c == '\\') caption_buf_add(b, "\\\\", 2);
        else if (c == '\n') caption_buf_add(b, "\\n", 2);
        else if (c == '\r') caption_buf_add(b, "\\r", 2);
        else if (c == '\t') caption_buf_add(b, "\\t", 2);
        else if (c < 0x20 || c == 0x7F) caption_buf_addf(b, "\\u%04x", c);
        else caption_buf_add(b, (const char *)p, 1);
    }
    caption_buf_add(b, "\"", 1);
    free(clean);
}

static char *key_from(const char *clean_path, int has_time, double t) {
    caption_buf b = {0};
    caption_buf_add(&b, clean_path, strlen(clean_path));
    caption_buf_add(&b, "\x1f", 1);
    if (has_time) caption_buf_addf(&b, "%.3f", t);
    if (b.oom || !b.s) { caption_buf_free(&b); return NULL; }
    return b.s;
}

char *caption_record_key(const char *path, double frame_time) {
    char *clean = utf8_sanitize(path);
    if (!clean) return NULL;
    char *k = key_from(clean, frame_time >= 0, frame_time);
    free(clean);
    return k;
}

/* ---- record lines: the project's JSON parser (engine/io/json.c) ---- */

char *caption_parse_record_key(const char *line, size_t len, const char *key_field) {
    jn_json *root = jn_json_parse(line, len, NULL);
    char *out = NULL;
    if (root && root->type == JN_JSON_OBJECT) {
        const jn_json *k = jn_json_get(root, key_field), *t = jn_json_get(root, "frame_time");
        const int has_time = t && t->type == JN_JSON_NUMBER;
        /* a NUL inside a path: not a record of ours */
        if (k && k->type == JN_JSON_STRING && !memchr(k->str, 0, k->len))
            out = key_from(k->str, has_time, has_time ? t->number : 0.0);
    }
    jn_json_free(root);
    return out;
}

/* ---- key set: open addressing on the shard hash ---- */

void caption_keyset_free(caption_keyset *s) {
    for (size_t i = 0; i < s->cap; i++) free(s->slots[i]);
    free(s->slots);
    s->slots = NULL;
    s->cap = s->n = 0;
}

static void keyset_insert(char **slots, size_t cap, char *key) {
    size_t i = (size_t)(caption_hash(key) & (cap - 1));
    while (slots[i]) i = (i + 1) & (cap - 1);
    slots[i] = key;
}

int caption_keyset_add(caption_keyset *s, char *key) {
    if (caption_keyset_has(s, key)) { free(key); return 0; }
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **slots = calloc(cap, sizeof *slots);
        if (!slots) { free(key); return -1; }
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i]) keyset_insert(slots, cap, s->slots[i]);
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    keyset_insert(s->slots, s->cap, key);
    s->n++;
    return 0;
}

int caption_keyset_has(const caption_keyset *s, const char *key) {
    if (!s->cap) return 0;
    for (size_t i = (size_t)(caption_hash(key) & (s->cap - 1)); s->slots[i]; i = (i + 1) & (s->cap - 1))
        if (!strcmp(s->slots[i], key)) return 1;
    return 0;
}

long caption_scan_output(const char *buf, size_t len, const char *key_field, caption_keyset *keys, long *n_records,
                         long *n_bad) {
    *n_records = *n_bad = 0;
    size_t intact = 0, i = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl) break; /* torn last line */
        size_t n = (size_t)(nl - (buf + i));
        intact = (size_t)(nl - buf) + 1;
        char *k = caption_parse_record_key(buf + i, n, key_field);
        if (k) {
            if (caption_keyset_add(keys, k)) return -1;
            (*n_records)++;
        } else if (n > 0) {
            (*n_bad)++;
        }
        i = intact;
    }
    return (long)intact;
}
