/* engine/json.c — strict RFC 8259 JSON parser into a pooled DOM, plus jn_buf and JSON string
 * escaping for writers.
 *
 * Why this shape: tokenizer.json files are several MB with hundreds of thousands of nodes, so
 * every node, string and item array is bump-allocated from large chunks owned by the document
 * (one free() per chunk, no per-node malloc). Arrays/objects collect their children on a shared
 * growable stack and copy them into the pool once the container closes. Strings are decoded in
 * place into the pool with explicit lengths (U+0000 survives). Strictness matches Python's json
 * minus its extensions: no NaN/Infinity, no trailing commas, no comments, no leading zeros, raw
 * control characters and invalid UTF-8 rejected, lone surrogates rejected, nesting limited. */
#define _POSIX_C_SOURCE 200809L
#include "json.h"
#include "file.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 512
#define CHUNK_MIN ((size_t)64 * 1024)
#define CHUNK_MAX ((size_t)8 * 1024 * 1024)

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    max_align_t data[];
} chunk;

/* The document: pool chunks + the root node; jn_json_free(root) finds it with offsetof. */
typedef struct json_doc {
    chunk *chunks;
    size_t next_cap;
    jn_json root;
} json_doc;

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    json_doc *doc;
    jn_error *err;
    int failed;
    int depth;
    jn_json **vstack; /* pending container values (all open levels) */
    size_t vn, vcap;
    char **kstack;    /* pending object keys */
    size_t *klstack;
    size_t kn, kcap;
} parser;

/* ---------------------------------------------------------------- pool */

static void *pool_alloc(parser *p, size_t size) {
    size = (size + 7u) & ~(size_t)7u;
    chunk *c = p->doc->chunks;
    if (!c || c->cap - c->used < size) {
        size_t cap = p->doc->next_cap;
        if (cap < size) cap = size;
        chunk *nc = (chunk *)malloc(sizeof(chunk) + cap);
        if (!nc) return NULL;
        nc->cap = cap;
        nc->used = 0;
        nc->next = c;
        p->doc->chunks = nc;
        if (p->doc->next_cap < CHUNK_MAX) p->doc->next_cap *= 2;
        c = nc;
    }
    void *r = (char *)c->data + c->used;
    c->used += size;
    return r;
}

static void doc_free(json_doc *d) {
    if (!d) return;
    chunk *c = d->chunks;
    while (c) {
        chunk *n = c->next;
        free(c);
        c = n;
    }
    free(d);
}

/* ---------------------------------------------------------------- errors */

static void fail_at(parser *p, size_t pos, jn_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void fail_at(parser *p, size_t pos, jn_status code, const char *fmt, ...) {
    if (p->failed) return;
    p->failed = 1;
    if (!p->err) return;
    if (pos > p->len) pos = p->len;
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < pos; i++)
        if (p->s[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    char msg[JN_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jn_fail(p->err, code, "json: line %zu col %zu (byte %zu): %s", line, pos - line_start + 1, pos, msg);
}

static void fail_oom(parser *p) { fail_at(p, p->pos, JN_ERR_NOMEM, "out of memory"); }

static void describe_byte(char *buf, size_t n, const unsigned char *s, size_t len, size_t pos) {
    if (pos >= len)
        snprintf(buf, n, "end of input");
    else if (s[pos] >= 0x20 && s[pos] < 0x7f)
        snprintf(buf, n, "'%c'", s[pos]);
    else
        snprintf(buf, n, "byte 0x%02x", s[pos]);
}

/* ---------------------------------------------------------------- lexing helpers */

static inline void skip_ws(parser *p) {
    const unsigned char *s = p->s;
    size_t i = p->pos, n = p->len;
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++;
    p->pos = i;
}

static int hex4(const unsigned char *s, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (Unicode table 3-7), 0 if ill-formed. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    unsigned lo = 0x80, hi = 0xbf;
    size_t len;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

/* p->pos is at the opening quote. Decodes into the pool; *out is NUL-terminated. */
static int parse_string(parser *p, char **out, size_t *out_len) {
    const unsigned char *s = p->s;
    const size_t start = p->pos;
    size_t i = start + 1;
    /* pass 1: find the closing quote */
    while (i < p->len) {
        unsigned char c = s[i];
        if (c == '"') break;
        if (c == '\\') i++;
        i++;
    }
    if (i >= p->len) {
        fail_at(p, start, JN_ERR_FORMAT, "unterminated string");
        return 0;
    }
    const size_t end = i; /* index of the closing quote */
    char *buf = (char *)pool_alloc(p, end - start);
    if (!buf) {
        fail_oom(p);
        return 0;
    }
    /* pass 2: decode + validate */
    size_t o = 0;
    i = start + 1;
    while (i < end) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '\\' && c < 0x80) {
            /* run of plain ASCII */
            size_t j = i + 1;
            while (j < end && s[j] >= 0x20 && s[j] != '\\' && s[j] < 0x80) j++;
            memcpy(buf + o, s + i, j - i);
            o += j - i;
            i = j;
            continue;
        }
        if (c < 0x20) {
            fail_at(p, i, JN_ERR_FORMAT, "raw control character U+%04X in string (must be escaped)", c);
            return 0;
        }
        if (c >= 0x80) {
            size_t n = utf8_seq(s + i, end - i);
            if (!n) {
                fail_at(p, i, JN_ERR_FORMAT, "invalid UTF-8 byte 0x%02x in string", c);
                return 0;
            }
            memcpy(buf + o, s + i, n);
            o += n;
            i += n;
            continue;
        }
        /* backslash escape; end > i+1 is guaranteed by pass 1 */
        unsigned char e = s[i + 1];
        switch (e) {
        case '"': buf[o++] = '"'; i += 2; break;
        case '\\': buf[o++] = '\\'; i += 2; break;
        case '/': buf[o++] = '/'; i += 2; break;
        case 'b': buf[o++] = '\b'; i += 2; break;
        case 'f': buf[o++] = '\f'; i += 2; break;
        case 'n': buf[o++] = '\n'; i += 2; break;
        case 'r': buf[o++] = '\r'; i += 2; break;
        case 't': buf[o++] = '\t'; i += 2; break;
        case 'u': {
            uint32_t cp;
            if (end - i < 6 || !hex4(s + i + 2, &cp)) {
                fail_at(p, i, JN_ERR_FORMAT, "invalid \\u escape (expected 4 hex digits)");
                return 0;
            }
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                fail_at(p, i, JN_ERR_FORMAT, "lone low surrogate \\u%04X", (unsigned)cp);
                return 0;
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                uint32_t lo;
                if (end - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u' || !hex4(s + i + 8, &lo) || lo < 0xdc00 ||
                    lo > 0xdfff) {
                    fail_at(p, i, JN_ERR_FORMAT, "lone high surrogate \\u%04X (not followed by a low surrogate)",
                            (unsigned)cp);
                    return 0;
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 12;
            } else {
                i += 6;
            }
            o += put_utf8(buf + o, cp);
            break;
        }
        default: {
            char what[32];
            describe_byte(what, sizeof what, s, p->len, i + 1);
            fail_at(p, i, JN_ERR_FORMAT, "invalid escape '\\' followed by %s", what);
            return 0;
        }
        }
    }
    buf[o] = 0;
    *out = buf;
    *out_len = o;
    p->pos = end + 1;
    return 1;
}

static int parse_number(parser *p, jn_json *v) {
    const unsigned char *s = p->s;
    const size_t n = p->len, start = p->pos;
    size_t i = start;
    int neg = 0, is_int = 1;
    if (s[i] == '-') {
        neg = 1;
        i++;
    }
    if (i >= n || s[i] < '0' || s[i] > '9') {
        fail_at(p, i, JN_ERR_FORMAT, "expected a digit in number");
        return 0;
    }
    uint64_t mag = 0;
    int overflow = 0;
    if (s[i] == '0') {
        i++;
        if (i < n && s[i] >= '0' && s[i] <= '9') {
            fail_at(p, start, JN_ERR_FORMAT, "leading zeros are not allowed in numbers");
            return 0;
        }
    } else {
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            unsigned d = s[i] - '0';
            if (mag > (UINT64_MAX - d) / 10) overflow = 1;
            else mag = mag * 10 + d;
            i++;
        }
    }
    if (i < n && s[i] == '.') {
        is_int = 0;
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9') {
            fail_at(p, i, JN_ERR_FORMAT, "expected a digit after the decimal point");
            return 0;
        }
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        is_int = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || s[i] < '0' || s[i] > '9') {
            fail_at(p, i, JN_ERR_FORMAT, "expected a digit in the exponent");
            return 0;
        }
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    v->type = JN_JSON_NUMBER;
    v->is_integer = 0;
    v->integer = 0;
    if (is_int && !overflow && (neg ? mag <= (uint64_t)INT64_MAX + 1u : mag <= (uint64_t)INT64_MAX)) {
        v->is_integer = 1;
        v->integer = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    }
    if (is_int && !overflow && mag <= ((uint64_t)1 << 53)) {
        v->number = neg ? -(double)mag : (double)mag;
    } else {
        /* correctly rounded conversion by strtod on a NUL-terminated copy */
        size_t len = i - start;
        char small[128];
        char *tmp = len < sizeof small ? small : (char *)malloc(len + 1);
        if (!tmp) {
            fail_oom(p);
            return 0;
        }
        memcpy(tmp, s + start, len);
        tmp[len] = 0;
        errno = 0;
        double d = strtod(tmp, NULL);
        int range = errno == ERANGE && isinf(d);
        if (tmp != small) free(tmp);
        if (range) {
            fail_at(p, start, JN_ERR_FORMAT, "number out of the range of a double");
            return 0;
        }
        v->number = d;
    }
    p->pos = i;
    return 1;
}

static int push_value(parser *p, jn_json *v) {
    if (p->vn == p->vcap) {
        size_t nc = p->vcap ? p->vcap * 2 : 1024;
        jn_json **ns = (jn_json **)realloc(p->vstack, nc * sizeof *ns);
        if (!ns) {
            fail_oom(p);
            return 0;
        }
        p->vstack = ns;
        p->vcap = nc;
    }
    p->vstack[p->vn++] = v;
    return 1;
}

static int push_key(parser *p, char *k, size_t kl) {
    if (p->kn == p->kcap) {
        size_t nc = p->kcap ? p->kcap * 2 : 1024;
        char **nk = (char **)realloc(p->kstack, nc * sizeof *nk);
        if (!nk) {
            fail_oom(p);
            return 0;
        }
        p->kstack = nk;
        size_t *nl = (size_t *)realloc(p->klstack, nc * sizeof *nl);
        if (!nl) {
            fail_oom(p);
            return 0;
        }
        p->klstack = nl;
        p->kcap = nc;
    }
    p->kstack[p->kn] = k;
    p->klstack[p->kn] = kl;
    p->kn++;
    return 1;
}

static int parse_value(parser *p, jn_json *v);

static int parse_container(parser *p, jn_json *v, int is_obj) {
    const char close = is_obj ? '}' : ']';
    if (++p->depth > JSON_MAX_DEPTH) {
        fail_at(p, p->pos, JN_ERR_FORMAT, "nesting deeper than %d levels", JSON_MAX_DEPTH);
        return 0;
    }
    v->type = is_obj ? JN_JSON_OBJECT : JN_JSON_ARRAY;
    const size_t vbase = p->vn, kbase = p->kn;
    p->pos++; /* '[' or '{' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (is_obj) {
                if (p->pos >= p->len || p->s[p->pos] != '"') {
                    char what[32];
                    describe_byte(what, sizeof what, p->s, p->len, p->pos);
                    if (p->pos < p->len && p->s[p->pos] == '}' && p->vn > vbase)
                        fail_at(p, p->pos, JN_ERR_FORMAT, "trailing comma before '}'");
                    else
                        fail_at(p, p->pos, JN_ERR_FORMAT, "expected a string key, got %s", what);
                    return 0;
                }
                char *k;
                size_t kl;
                if (!parse_string(p, &k, &kl) || !push_key(p, k, kl)) return 0;
                skip_ws(p);
                if (p->pos >= p->len || p->s[p->pos] != ':') {
                    char what[32];
                    describe_byte(what, sizeof what, p->s, p->len, p->pos);
                    fail_at(p, p->pos, JN_ERR_FORMAT, "expected ':' after object key, got %s", what);
                    return 0;
                }
                p->pos++;
                skip_ws(p);
            } else if (p->pos < p->len && p->s[p->pos] == ']' && p->vn > vbase) {
                fail_at(p, p->pos, JN_ERR_FORMAT, "trailing comma before ']'");
                return 0;
            }
            jn_json *item = (jn_json *)pool_alloc(p, sizeof(jn_json));
            if (!item) {
                fail_oom(p);
                return 0;
            }
            if (!parse_value(p, item) || !push_value(p, item)) return 0;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->len && p->s[p->pos] == close) {
                p->pos++;
                break;
            }
            char what[32];
            describe_byte(what, sizeof what, p->s, p->len, p->pos);
            fail_at(p, p->pos, JN_ERR_FORMAT, "expected ',' or '%c', got %s", close, what);
            return 0;
        }
    }
    const size_t n = p->vn - vbase;
    v->n = n;
    v->items = NULL;
    v->keys = NULL;
    v->key_lens = NULL;
    if (n) {
        v->items = (jn_json **)pool_alloc(p, n * sizeof(jn_json *));
        if (!v->items) {
            fail_oom(p);
            return 0;
        }
        memcpy(v->items, p->vstack + vbase, n * sizeof(jn_json *));
        if (is_obj) {
            v->keys = (char **)pool_alloc(p, n * sizeof(char *));
            v->key_lens = (size_t *)pool_alloc(p, n * sizeof(size_t));
            if (!v->keys || !v->key_lens) {
                fail_oom(p);
                return 0;
            }
            memcpy(v->keys, p->kstack + kbase, n * sizeof(char *));
            memcpy(v->key_lens, p->klstack + kbase, n * sizeof(size_t));
        }
    }
    p->vn = vbase;
    p->kn = kbase;
    p->depth--;
    return 1;
}

static int parse_literal(parser *p, const char *word, size_t wl) {
    if (p->len - p->pos >= wl && memcmp(p->s + p->pos, word, wl) == 0) {
        p->pos += wl;
        return 1;
    }
    fail_at(p, p->pos, JN_ERR_FORMAT, "invalid literal (expected '%s')", word);
    return 0;
}

static int parse_value(parser *p, jn_json *v) {
    memset(v, 0, sizeof *v);
    skip_ws(p);
    if (p->pos >= p->len) {
        fail_at(p, p->pos, JN_ERR_FORMAT, "unexpected end of input (expected a value)");
        return 0;
    }
    unsigned char c = p->s[p->pos];
    switch (c) {
    case '{': return parse_container(p, v, 1);
    case '[': return parse_container(p, v, 0);
    case '"':
        v->type = JN_JSON_STRING;
        return parse_string(p, &v->str, &v->len);
    case 't':
        v->type = JN_JSON_BOOL;
        v->boolean = 1;
        return parse_literal(p, "true", 4);
    case 'f':
        v->type = JN_JSON_BOOL;
        return parse_literal(p, "false", 5);
    case 'n':
        v->type = JN_JSON_NULL;
        return parse_literal(p, "null", 4);
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
        {
            char what[32];
            describe_byte(what, sizeof what, p->s, p->len, p->pos);
            fail_at(p, p->pos, JN_ERR_FORMAT, "unexpected %s (expected a value)", what);
        }
        return 0;
    }
}

jn_json *jn_json_parse(const char *text, size_t len, jn_error *err) {
    json_doc *d = (json_doc *)calloc(1, sizeof *d);
    if (!d) {
        jn_fail(err, JN_ERR_NOMEM, "json: out of memory");
        return NULL;
    }
    d->next_cap = CHUNK_MIN;
    /* size the first chunk from the input: the DOM is usually ~2-4x the text */
    if (len / 2 > d->next_cap) d->next_cap = len / 2 < CHUNK_MAX ? len / 2 : CHUNK_MAX;
    parser p;
    memset(&p, 0, sizeof p);
    p.s = (const unsigned char *)(text ? text : "");
    p.len = text ? len : 0;
    p.doc = d;
    p.err = err;
    int ok = 0;
    if (p.len >= 3 && p.s[0] == 0xef && p.s[1] == 0xbb && p.s[2] == 0xbf) {
        fail_at(&p, 0, JN_ERR_FORMAT, "UTF-8 byte order mark is not allowed");
    } else if (parse_value(&p, &d->root)) {
        skip_ws(&p);
        if (p.pos != p.len) {
            char what[32];
            describe_byte(what, sizeof what, p.s, p.len, p.pos);
            fail_at(&p, p.pos, JN_ERR_FORMAT, "unexpected %s after the JSON value", what);
        } else {
            ok = 1;
        }
    }
    free(p.vstack);
    free(p.kstack);
    free(p.klstack);
    if (!ok) {
        doc_free(d);
        return NULL;
    }
    return &d->root;
}

jn_json *jn_json_parse_file(const char *path, jn_error *err) {
    FILE *f = jn_fopen_input(path, NULL, err);
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = (char *)malloc(cap);
    if (!buf) {
        fclose(f);
        jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0) {
        long sz = ftell(f);
        if (sz > 0 && (unsigned long)sz + 1 > cap) {
            char *nb = (char *)realloc(buf, (size_t)sz + 1);
            if (nb) {
                buf = nb;
                cap = (size_t)sz + 1;
            }
        }
        fseek(f, 0, SEEK_SET);
    }
    for (;;) {
        if (len == cap) {
            char *nb = cap <= SIZE_MAX / 2 ? (char *)realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", path);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        jn_fail(err, JN_ERR_IO, "%s: read error", path);
        return NULL;
    }
    jn_json *root = jn_json_parse(buf, len, err);
    free(buf);
    if (!root) jn_error_prefix(err, "%s", path);
    return root;
}

void jn_json_free(jn_json *root) {
    if (!root) return;
    doc_free((json_doc *)(void *)((char *)root - offsetof(json_doc, root)));
}

/* ---------------------------------------------------------------- getters */

const jn_json *jn_json_get(const jn_json *obj, const char *key) {
    if (!obj || obj->type != JN_JSON_OBJECT || !key) return NULL;
    size_t kl = strlen(key);
    for (size_t i = obj->n; i-- > 0;)
        if (obj->key_lens[i] == kl && memcmp(obj->keys[i], key, kl) == 0) return obj->items[i];
    return NULL;
}

int jn_json_get_int(const jn_json *obj, const char *key, int64_t *out) {
    const jn_json *v = jn_json_get(obj, key);
    if (!v || v->type != JN_JSON_NUMBER || !v->is_integer) return 0;
    *out = v->integer;
    return 1;
}

int jn_json_get_num(const jn_json *obj, const char *key, double *out) {
    const jn_json *v = jn_json_get(obj, key);
    if (!v || v->type != JN_JSON_NUMBER) return 0;
    *out = v->number;
    return 1;
}

int jn_json_get_bool(const jn_json *obj, const char *key, int *out) {
    const jn_json *v = jn_json_get(obj, key);
    if (!v || v->type != JN_JSON_BOOL) return 0;
    *out = v->boolean;
    return 1;
}

const char *jn_json_get_str(const jn_json *obj, const char *key) {
    const jn_json *v = jn_json_get(obj, key);
    if (!v || v->type != JN_JSON_STRING) return NULL;
    return v->str;
}

/* ---------------------------------------------------------------- jn_buf */

static int buf_reserve(jn_buf *b, size_t extra) {
    if (b->oom) return 0;
    size_t need;
    if (!jn_add_ok(b->len, extra, &need) || !jn_add_ok(need, 1, &need)) {
        b->oom = 1;
        return 0;
    }
    if (need <= b->cap) return 1;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < need) nc = nc > SIZE_MAX / 2 ? need : nc * 2;
    char *nd = (char *)realloc(b->data, nc);
    if (!nd) {
        b->oom = 1;
        return 0;
    }
    b->data = nd;
    b->cap = nc;
    return 1;
}

void jn_buf_append(jn_buf *b, const void *p, size_t n) {
    if (!buf_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0; /* always NUL-terminated after a successful append */
}

void jn_buf_puts(jn_buf *b, const char *s) { jn_buf_append(b, s, strlen(s)); }

void jn_buf_printf(jn_buf *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n)) {
        if (n < 0) b->oom = 1;
        va_end(ap2);
        return;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}

void jn_buf_free(jn_buf *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void jn_json_write_string(jn_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    jn_buf_append(b, "\"", 1);
    size_t run = 0; /* start of the pending run of bytes written as-is */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = u[i];
        char esc[8];
        size_t el = 0;
        size_t skip = 1;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            el = 2;
        } else if (c < 0x20 || c == 0x7f) {
            esc[0] = '\\';
            switch (c) {
            case '\n': esc[1] = 'n'; el = 2; break;
            case '\r': esc[1] = 'r'; el = 2; break;
            case '\t': esc[1] = 't'; el = 2; break;
            case '\b': esc[1] = 'b'; el = 2; break;
            case '\f': esc[1] = 'f'; el = 2; break;
            default:
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                el = 6;
            }
        } else if (c == 0xe2 && i + 2 < n && u[i + 1] == 0x80 && (u[i + 2] == 0xa8 || u[i + 2] == 0xa9)) {
            memcpy(esc, u[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
            el = 6;
            skip = 3;
        }
        if (el) {
            if (i > run) jn_buf_append(b, s + run, i - run);
            jn_buf_append(b, esc, el);
            i += skip - 1;
            run = i + 1;
        }
    }
    if (n > run) jn_buf_append(b, s + run, n - run);
    jn_buf_append(b, "\"", 1);
}
