/* decoder/chat_template.c — the Janus-Pro chat template and Python-compatible str.strip() (see
 * chat_template.h). */
#include "chat_template.h"

#include "engine/io/json.h"

#include <stdlib.h>
#include <string.h>

/* Length in bytes of the Python-whitespace code point at s (0 if none). Python's str.isspace():
 * \t\n\v\f\r, \x1c-\x1f, space, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000. */
static size_t space_at(const unsigned char *s, size_t n) {
    if (n >= 1 && ((s[0] >= 0x09 && s[0] <= 0x0d) || (s[0] >= 0x1c && s[0] <= 0x20))) return 1;
    if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0)) return 2;
    if (n >= 3 && s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) return 3;
    if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf))
        return 3;
    if (n >= 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) return 3;
    if (n >= 3 && s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80) return 3;
    return 0;
}

static size_t space_before(const unsigned char *s, size_t end) {
    for (size_t k = 1; k <= 3 && k <= end; k++) {
        size_t l = space_at(s + end - k, k);
        if (l == k) return k;
    }
    return 0;
}

void jn_py_strip(const char *s, size_t n, size_t *begin, size_t *len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t b = 0, e = n, k;
    while (b < e && (k = space_at(u + b, e - b)) > 0) b += k;
    while (e > b && (k = space_before(u, e)) > 0 && e - k >= b) e -= k;
    *begin = b;
    *len = e - b;
}

static void append_stripped(jn_buf *b, const char *s) {
    size_t off, len;
    jn_py_strip(s, strlen(s), &off, &len);
    jn_buf_append(b, s + off, len);
}

char *jn_chat_format(const jn_chat_template *p, const char *system, const jn_chat_turn *turns, int n_turns) {
    jn_buf b = {0};
    if (system && *system) {
        jn_buf_puts(&b, system);
        jn_buf_puts(&b, p->sep);
    }
    for (int i = 0; i < n_turns; i++) {
        size_t off, len;
        const char *c = turns[i].content ? turns[i].content : "";
        jn_py_strip(c, strlen(c), &off, &len);
        jn_buf_puts(&b, turns[i].role);
        if (len) {
            jn_buf_puts(&b, ": ");
            append_stripped(&b, c);
            jn_buf_puts(&b, (i % 2 == 0) ? p->sep : p->sep2);
        } else {
            jn_buf_puts(&b, ":");
        }
    }
    jn_buf_append(&b, "", 1);
    if (b.oom) {
        jn_buf_free(&b);
        return NULL;
    }
    size_t off, len;
    jn_py_strip(b.data, b.len - 1, &off, &len);
    memmove(b.data, b.data + off, len);
    b.data[len] = 0;
    return b.data;
}
