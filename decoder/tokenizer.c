/* decoder/tokenizer.c — loading a Hugging Face tokenizer.json (+ tokenizer_config.json) into an
 * immutable jn_tokenizer, id <-> string lookups, decoding (whole and streaming).
 *
 * Loading follows the Rust `tokenizers` library's deserializer: the model vocabulary and merges
 * (either "a b" strings or [a, b] pairs; a merge naming an unknown token is an error), added tokens
 * re-registered one by one exactly as its AddedVocabulary does (an added token that is already in the
 * vocabulary keeps the vocabulary id, a new one gets the next id after the vocabulary), the
 * normalizer / pre-tokenizer / post-processor / decoder descriptions. Anything this port does not
 * implement is refused with a message naming the field, so a file is never silently tokenized
 * differently. The encode pipeline itself is in tokenizer_encode.c. */
#define _POSIX_C_SOURCE 200809L
#include "tokenizer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/json.h"
#include "tokenizer_impl.h"

#define TOK_MAX_IDS ((size_t)1 << 26) /* refuse ids beyond 64M: a hostile file must not allocate GBs */

/* ------------------------------------------------------------------ UTF-8 */

size_t jn_utf8_valid_prefix(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path, 8 bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= len) break;
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) { need = 2; lo = 0xA0; }
        else if (c >= 0xE1 && c <= 0xEC) need = 2;
        else if (c == 0xED) { need = 2; hi = 0x9F; }
        else if (c >= 0xEE && c <= 0xEF) need = 2;
        else if (c == 0xF0) { need = 3; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else if (c == 0xF4) { need = 3; hi = 0x8F; }
        else return i;
        if (i + need >= len) return i; /* truncated */
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += need + 1;
    }
    return len;
}

/* Length of the valid UTF-8 sequence at s[0..n) (1..4), or 0 if invalid; *maximal receives the
 * length of the maximal invalid subpart (Unicode "substitution of maximal subparts", as Rust's
 * from_utf8_lossy), *truncated is set when the sequence was cut only by the end of the input. */
static size_t utf8_seq_len(const unsigned char *s, size_t n, size_t *maximal, int *truncated) {
    unsigned c = s[0];
    *truncated = 0;
    *maximal = 1;
    if (c < 0x80) return 1;
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) { need = 2; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) need = 2;
    else if (c == 0xED) { need = 2; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) need = 2;
    else if (c == 0xF0) { need = 3; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) { need = 3; hi = 0x8F; }
    else return 0;
    if (n < 2) { *truncated = 1; return 0; }
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k <= need; k++) {
        if (n <= k) { *maximal = k; *truncated = 1; return 0; }
        if ((s[k] & 0xC0) != 0x80) { *maximal = k; return 0; }
    }
    return need + 1;
}

/* Appends s[0..n) to b replacing invalid UTF-8 like from_utf8_lossy. If hold != NULL, a trailing
 * sequence cut only by the end of the input is not emitted: *hold receives its length. */
static void append_lossy(jn_buf *b, const char *str, size_t n, size_t *hold) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    if (hold) *hold = 0;
    while (i < n) {
        if (s[i] < 0x80) { i++; continue; }
        size_t maximal;
        int trunc;
        size_t l = utf8_seq_len(s + i, n - i, &maximal, &trunc);
        if (l) { i += l; continue; }
        if (i > run) jn_buf_append(b, s + run, i - run);
        if (trunc && hold) {
            *hold = n - i;
            return;
        }
        jn_buf_append(b, "\xEF\xBF\xBD", 3);
        i += maximal;
        run = i;
    }
    if (n > run) jn_buf_append(b, s + run, n - run);
}

/* ------------------------------------------------------------------ pool and maps */

uint64_t jn_tok_hash(const void *p, size_t n) {
    const unsigned char *s = (const unsigned char *)p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ (w * 0xFF51AFD7ED558CCDull)) * 0xC4CEB9FE1A85EC53ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)s[i] << (8 * i);
    h = (h ^ (w * 0xFF51AFD7ED558CCDull)) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 32;
    return h;
}

static int pool_add(jn_tokenizer *t, const void *p, size_t n, uint32_t *off) {
    if (n > UINT32_MAX || t->pool_len + n > UINT32_MAX) return 0;
    if (t->pool_len + n > t->pool_cap) {
        size_t cap = t->pool_cap ? t->pool_cap : 4096;
        while (cap < t->pool_len + n) cap *= 2;
        char *np = (char *)realloc(t->pool, cap);
        if (!np) return 0;
        t->pool = np;
        t->pool_cap = cap;
    }
    if (n) memcpy(t->pool + t->pool_len, p, n);
    *off = (uint32_t)t->pool_len;
    t->pool_len += n;
    return 1;
}

static void strmap_free(jn_strmap *m) {
    free(m->slots);
    free(m->off);
    free(m->len);
    free(m->hash);
    free(m->val);
    memset(m, 0, sizeof *m);
}

static int strmap_rehash(jn_strmap *m, size_t nslots) {
    uint32_t *s = (uint32_t *)calloc(nslots, sizeof *s);
    if (!s) return 0;
    for (size_t e = 0; e < m->n; e++) {
        size_t i = (size_t)m->hash[e] & (nslots - 1);
        while (s[i]) i = (i + 1) & (nslots - 1);
        s[i] = (uint32_t)(e + 1);
    }
    free(m->slots);
    m->slots = s;
    m->mask = nslots - 1;
    return 1;
}

int32_t jn_strmap_get(const jn_strmap *m, const char *pool, const char *s, size_t n) {
    if (!m->slots) return -1;
    uint64_t h = jn_tok_hash(s, n);
    size_t i = (size_t)h & m->mask;
    for (;;) {
        uint32_t e = m->slots[i];
        if (!e) return -1;
        e--;
        if (m->hash[e] == h && m->len[e] == n && memcmp(pool + m->off[e], s, n) == 0) return m->val[e];
        i = (i + 1) & m->mask;
    }
}

/* Inserts or overwrites key pool[off..off+len) -> val. 0 on OOM. */
static int strmap_put(jn_strmap *m, const char *pool, uint32_t off, uint32_t len, int32_t val) {
    if ((m->n + 1) * 2 > m->mask + 1 || !m->slots) {
        size_t ns = m->slots ? (m->mask + 1) * 2 : 64;
        while ((m->n + 1) * 2 > ns) ns *= 2;
        if (!strmap_rehash(m, ns)) return 0;
    }
    uint64_t h = jn_tok_hash(pool + off, len);
    size_t i = (size_t)h & m->mask;
    for (;;) {
        uint32_t e = m->slots[i];
        if (!e) break;
        e--;
        if (m->hash[e] == h && m->len[e] == len && memcmp(pool + m->off[e], pool + off, len) == 0) {
            m->val[e] = val;
            return 1;
        }
        i = (i + 1) & m->mask;
    }
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 64;
        uint32_t *no = (uint32_t *)realloc(m->off, nc * sizeof *no);
        if (!no) return 0;
        m->off = no;
        uint32_t *nl = (uint32_t *)realloc(m->len, nc * sizeof *nl);
        if (!nl) return 0;
        m->len = nl;
        uint64_t *nh = (uint64_t *)realloc(m->hash, nc * sizeof *nh);
        if (!nh) return 0;
        m->hash = nh;
        int32_t *nv = (int32_t *)realloc(m->val, nc * sizeof *nv);
        if (!nv) return 0;
        m->val = nv;
        m->cap = nc;
    }
    m->off[m->n] = off;
    m->len[m->n] = len;
    m->hash[m->n] = h;
    m->val[m->n] = val;
    m->slots[i] = (uint32_t)(m->n + 1);
    m->n++;
    return 1;
}

static int pairmap_init(jn_pairmap *m, size_t n_expected) {
    size_t cap = 64;
    while (cap < n_expected * 2 + 2) cap *= 2;
    m->e = (jn_pair_ent *)malloc(cap * sizeof *m->e);
    if (!m->e) return 0;
    for (size_t i = 0; i < cap; i++) m->e[i].key = UINT64_MAX;
    m->mask = cap - 1;
    m->n = 0;
    return 1;
}

/* Inserts or overwrites (the last duplicate wins, as the Rust HashMap collect does). */
static void pairmap_put(jn_pairmap *m, int32_t a, int32_t b, uint32_t rank, int32_t id) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h ^ (h >> 32)) & m->mask;
    while (m->e[i].key != UINT64_MAX && m->e[i].key != key) i = (i + 1) & m->mask;
    if (m->e[i].key == UINT64_MAX) m->n++;
    m->e[i].key = key;
    m->e[i].rank = rank;
    m->e[i].id = id;
}

/* ------------------------------------------------------------------ byte-level alphabet */

/* GPT-2's reversible byte <-> printable char mapping. */
static void bytelevel_tables(uint32_t byte2cp[256], int16_t cp2byte[0x144]) {
    int n = 0;
    for (int i = 0; i < 0x144; i++) cp2byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        byte2cp[b] = printable ? (uint32_t)b : (uint32_t)(256 + n++);
        cp2byte[byte2cp[b]] = (int16_t)b;
    }
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes one code point from valid UTF-8; returns its length. */
static size_t get_utf8(const unsigned char *s, uint32_t *cp) {
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    if (s[0] < 0xE0) { *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F); return 2; }
    if (s[0] < 0xF0) { *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F); return 3; }
    *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
}

/* Maps a byte-level token string to its raw bytes (out has room for n bytes). Returns the raw
 * length, or -1 if some char is not in the byte-level alphabet. */
static long bytelevel_unmap(const int16_t cp2byte[0x144], const char *s, size_t n, char *out) {
    size_t i = 0, o = 0;
    while (i < n) {
        uint32_t cp;
        i += get_utf8((const unsigned char *)s + i, &cp);
        if (cp >= 0x144 || cp2byte[cp] < 0) return -1;
        out[o++] = (char)cp2byte[cp];
    }
    return (long)o;
}

/* ------------------------------------------------------------------ JSON helpers */

static const char *type_name(const jn_json *v) {
    if (!v) return "nothing";
    switch (v->type) {
    case JN_JSON_NULL: return "null";
    case JN_JSON_BOOL: return "a boolean";
    case JN_JSON_NUMBER: return "a number";
    case JN_JSON_STRING: return "a string";
    case JN_JSON_ARRAY: return "an array";
    case JN_JSON_OBJECT: return "an object";
    }
    return "?";
}

static jn_status want_type(const jn_json *v, jn_json_type ty, const char *field, jn_error *err) {
    if (v && v->type == ty) return JN_OK;
    static const char *names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
    return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: expected %s, got %s", field, names[ty], type_name(v));
}

/* Optional boolean member: absent or null -> def. */
static jn_status opt_bool(const jn_json *obj, const char *key, int def, int *out, const char *ctx, jn_error *err) {
    const jn_json *v = jn_json_get(obj, key);
    if (!v || v->type == JN_JSON_NULL) { *out = def; return JN_OK; }
    if (v->type != JN_JSON_BOOL)
        return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s.%s: expected a boolean, got %s", ctx, key, type_name(v));
    *out = v->boolean;
    return JN_OK;
}

/* v is an integer usable as a token id: 0 <= v < TOK_MAX_IDS (the one id check of every field) */
static int is_token_id(const jn_json *v) {
    return v && v->type == JN_JSON_NUMBER && v->is_integer && v->integer >= 0 && (uint64_t)v->integer < TOK_MAX_IDS;
}

static int str_is(const jn_json *v, const char *s) {
    return v && v->type == JN_JSON_STRING && strlen(s) == v->len && memcmp(v->str, s, v->len) == 0;
}

/* ------------------------------------------------------------------ normalizers */

static jn_status parse_pattern(const jn_json *obj, const char *ctx, OnigRegex *re, jn_error *err) {
    char field[256];
    snprintf(field, sizeof field, "%s.pattern", ctx);
    const jn_json *p = jn_json_get(obj, "pattern");
    if (!p || p->type != JN_JSON_OBJECT)
        return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: expected an object {\"Regex\": ...} or {\"String\": ...}, got %s",
                       field, type_name(p));
    const jn_json *r = jn_json_get(p, "Regex");
    const jn_json *s = jn_json_get(p, "String");
    if (r) {
        if (r->type != JN_JSON_STRING) return want_type(r, JN_JSON_STRING, field, err);
        return jn_tok_regex_compile(r->str, r->len, 0, re, field, err);
    }
    if (s) {
        if (s->type != JN_JSON_STRING) return want_type(s, JN_JSON_STRING, field, err);
        return jn_tok_regex_compile(s->str, s->len, 1, re, field, err);
    }
    return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: expected a \"Regex\" or \"String\" member", field);
}

static jn_status parse_normalizer(jn_tokenizer *t, const jn_json *n, const char *ctx, jn_error *err) {
    if (!n || n->type == JN_JSON_NULL) return JN_OK;
    jn_status st;
    if ((st = want_type(n, JN_JSON_OBJECT, ctx, err))) return st;
    const jn_json *ty = jn_json_get(n, "type");
    char sub[256];
    snprintf(sub, sizeof sub, "%s.type", ctx);
    if ((st = want_type(ty, JN_JSON_STRING, sub, err))) return st;
    if (str_is(ty, "Sequence")) {
        const jn_json *arr = jn_json_get(n, "normalizers");
        snprintf(sub, sizeof sub, "%s.normalizers", ctx);
        if ((st = want_type(arr, JN_JSON_ARRAY, sub, err))) return st;
        for (size_t i = 0; i < arr->n; i++) {
            snprintf(sub, sizeof sub, "%s.normalizers[%zu]", ctx, i);
            if ((st = parse_normalizer(t, arr->items[i], sub, err))) return st;
        }
        return JN_OK;
    }
    if (t->n_norm >= JN_TOK_MAX_NORM)
        return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: more than %d normalizers", ctx, JN_TOK_MAX_NORM);
    jn_norm *nm = &t->norms[t->n_norm];
    memset(nm, 0, sizeof *nm);
    if (str_is(ty, "NFC") || str_is(ty, "NFD") || str_is(ty, "NFKC") || str_is(ty, "NFKD") || str_is(ty, "Lowercase")) {
        if (!jn_tok_have_unicode_norm())
            return jn_fail(err, JN_ERR_FORMAT,
                           "tokenizer.json: %s: normalizer '%s' needs Unicode tables (utf8proc), and this build has "
                           "none; rebuild with libutf8proc-dev installed",
                           ctx, ty->str);
        nm->kind = str_is(ty, "NFC") ? JN_NORM_NFC : str_is(ty, "NFD") ? JN_NORM_NFD : str_is(ty, "NFKC") ? JN_NORM_NFKC
                 : str_is(ty, "NFKD") ? JN_NORM_NFKD : JN_NORM_LOWERCASE;
    } else if (str_is(ty, "Replace")) {
        nm->kind = JN_NORM_REPLACE;
        const jn_json *c = jn_json_get(n, "content");
        snprintf(sub, sizeof sub, "%s.content", ctx);
        if ((st = want_type(c, JN_JSON_STRING, sub, err))) return st;
        if (!pool_add(t, c->str, c->len, &nm->off)) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        nm->len = (uint32_t)c->len;
        if ((st = parse_pattern(n, ctx, &nm->re, err))) return st;
    } else if (str_is(ty, "Prepend")) {
        nm->kind = JN_NORM_PREPEND;
        const jn_json *c = jn_json_get(n, "prepend");
        snprintf(sub, sizeof sub, "%s.prepend", ctx);
        if ((st = want_type(c, JN_JSON_STRING, sub, err))) return st;
        if (!pool_add(t, c->str, c->len, &nm->off)) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        nm->len = (uint32_t)c->len;
    } else if (str_is(ty, "Strip")) {
        nm->kind = JN_NORM_STRIP;
        if ((st = opt_bool(n, "strip_left", 1, &nm->strip_left, ctx, err))) return st;
        if ((st = opt_bool(n, "strip_right", 1, &nm->strip_right, ctx, err))) return st;
    } else {
        return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: unsupported normalizer '%s'", sub, ty->str);
    }
    t->n_norm++;
    return JN_OK;
}

/* ------------------------------------------------------------------ pre-tokenizers */

static const char GPT2_REGEX[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static jn_status add_split(jn_tokenizer *t, const char *pat, jn_split_behavior b, int invert, const char *ctx,
                           jn_error *err) {
    if (t->n_pretok >= JN_TOK_MAX_PRETOK)
        return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: more than %d pre-tokenizer steps", ctx, JN_TOK_MAX_PRETOK);
    jn_pretok *p = &t->pretoks[t->n_pretok];
    memset(p, 0, sizeof *p);
    p->kind = JN_PT_SPLIT;
    p->behavior = b;
    p->invert = invert;
    jn_status st = jn_tok_regex_compile(pat, strlen(pat), 0, &p->re, ctx, err);
    if (st) return st;
    t->n_pretok++;
    return JN_OK;
}

static jn_status parse_pretok(jn_tokenizer *t, const jn_json *n, const char *ctx, jn_error *err) {
    if (!n || n->type == JN_JSON_NULL) return JN_OK;
    jn_status st;
    if ((st = want_type(n, JN_JSON_OBJECT, ctx, err))) return st;
    char sub[256];
    if (t->byte_level)
        return jn_fail(err, JN_ERR_FORMAT,
                       "tokenizer.json: %s: a pre-tokenizer after ByteLevel is not supported (ByteLevel must be last)", ctx);
    const jn_json *ty = jn_json_get(n, "type");
    snprintf(sub, sizeof sub, "%s.type", ctx);
    if ((st = want_type(ty, JN_JSON_STRING, sub, err))) return st;
    if (str_is(ty, "Sequence")) {
        const jn_json *arr = jn_json_get(n, "pretokenizers");
        snprintf(sub, sizeof sub, "%s.pretokenizers", ctx);
        if ((st = want_type(arr, JN_JSON_ARRAY, sub, err))) return st;
        for (size_t i = 0; i < arr->n; i++) {
            snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", ctx, i);
            if ((st = parse_pretok(t, arr->items[i], sub, err))) return st;
        }
        return JN_OK;
    }
    if (str_is(ty, "Split")) {
        const jn_json *b = jn_json_get(n, "behavior");
        snprintf(sub, sizeof sub, "%s.behavior", ctx);
        if ((st = want_type(b, JN_JSON_STRING, sub, err))) return st;
        jn_split_behavior beh;
        if (str_is(b, "Removed")) beh = JN_SPLIT_REMOVED;
        else if (str_is(b, "Isolated")) beh = JN_SPLIT_ISOLATED;
        else if (str_is(b, "MergedWithPrevious")) beh = JN_SPLIT_MERGED_PREV;
        else if (str_is(b, "MergedWithNext")) beh = JN_SPLIT_MERGED_NEXT;
        else if (str_is(b, "Contiguous")) beh = JN_SPLIT_CONTIGUOUS;
        else return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: unknown behavior '%s'", sub, b->str);
        int invert = 0;
        if ((st = opt_bool(n, "invert", 0, &invert, ctx, err))) return st;
        if (t->n_pretok >= JN_TOK_MAX_PRETOK)
            return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: more than %d pre-tokenizer steps", ctx, JN_TOK_MAX_PRETOK);
        jn_pretok *p = &t->pretoks[t->n_pretok];
        memset(p, 0, sizeof *p);
        p->kind = JN_PT_SPLIT;
        p->behavior = beh;
        p->invert = invert;
        if ((st = parse_pattern(n, ctx, &p->re, err))) return st;
        t->n_pretok++;
        return JN_OK;
    }
    if (str_is(ty, "Digits")) {
        int individual = 0;
        if ((st = opt_bool(n, "individual_digits", 0, &individual, ctx, err))) return st;
        /* Rust: split on char::is_numeric (general category N*), Isolated or Contiguous */
        return add_split(t, "\\p{N}", individual ? JN_SPLIT_ISOLATED : JN_SPLIT_CONTIGUOUS, 0, ctx, err);
    }
    if (str_is(ty, "Whitespace")) return add_split(t, "\\w+|[^\\w\\s]+", JN_SPLIT_REMOVED, 1, ctx, err);
    if (str_is(ty, "WhitespaceSplit")) return add_split(t, "\\s+", JN_SPLIT_REMOVED, 0, ctx, err);
    if (str_is(ty, "Punctuation")) {
        jn_split_behavior beh = JN_SPLIT_ISOLATED;
        const jn_json *b = jn_json_get(n, "behavior");
        if (b && b->type == JN_JSON_STRING) {
            if (str_is(b, "Removed")) beh = JN_SPLIT_REMOVED;
            else if (str_is(b, "MergedWithPrevious")) beh = JN_SPLIT_MERGED_PREV;
            else if (str_is(b, "MergedWithNext")) beh = JN_SPLIT_MERGED_NEXT;
            else if (str_is(b, "Contiguous")) beh = JN_SPLIT_CONTIGUOUS;
        }
        return add_split(t, "[\\p{P}!-/:-@\\[-`{-~]", beh, 0, ctx, err);
    }
    if (str_is(ty, "ByteLevel")) {
        int aps = 1, use_regex = 1;
        if ((st = opt_bool(n, "add_prefix_space", 1, &aps, ctx, err))) return st;
        if ((st = opt_bool(n, "use_regex", 1, &use_regex, ctx, err))) return st;
        if (aps) {
            if (t->n_pretok >= JN_TOK_MAX_PRETOK)
                return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: too many pre-tokenizer steps", ctx);
            memset(&t->pretoks[t->n_pretok], 0, sizeof t->pretoks[0]);
            t->pretoks[t->n_pretok++].kind = JN_PT_PREFIX_SPACE;
        }
        if (use_regex && (st = add_split(t, GPT2_REGEX, JN_SPLIT_ISOLATED, 0, ctx, err))) return st;
        t->byte_level = 1;
        return JN_OK;
    }
    return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: unsupported pre-tokenizer '%s'", sub, ty->str);
}

/* ------------------------------------------------------------------ model */

static jn_status parse_model(jn_tokenizer *t, const jn_json *m, jn_error *err) {
    jn_status st;
    if ((st = want_type(m, JN_JSON_OBJECT, "model", err))) return st;
    const jn_json *ty = jn_json_get(m, "type");
    if (ty && !str_is(ty, "BPE"))
        return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: model.type: only \"BPE\" is supported, got %s%s%s",
                       ty->type == JN_JSON_STRING ? "'" : "", ty->type == JN_JSON_STRING ? ty->str : type_name(ty),
                       ty->type == JN_JSON_STRING ? "'" : "");
    const jn_json *d = jn_json_get(m, "dropout");
    if (d && d->type == JN_JSON_NUMBER && d->number != 0.0)
        return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: model.dropout: BPE dropout (%g) is not supported", d->number);
    if (d && d->type != JN_JSON_NULL && d->type != JN_JSON_NUMBER) return want_type(d, JN_JSON_NUMBER, "model.dropout", err);
    const char *affix[2] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int k = 0; k < 2; k++) {
        const jn_json *a = jn_json_get(m, affix[k]);
        if (a && a->type == JN_JSON_STRING && a->len > 0)
            return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: model.%s: non-empty value '%s' is not supported", affix[k], a->str);
        if (a && a->type != JN_JSON_NULL && a->type != JN_JSON_STRING) {
            char f[64];
            snprintf(f, sizeof f, "model.%s", affix[k]);
            return want_type(a, JN_JSON_STRING, f, err);
        }
    }
    if ((st = opt_bool(m, "ignore_merges", 0, &t->ignore_merges, "model", err))) return st;
    if ((st = opt_bool(m, "byte_fallback", 0, &t->byte_fallback, "model", err))) return st;
    if ((st = opt_bool(m, "fuse_unk", 0, &t->fuse_unk, "model", err))) return st;

    const jn_json *vocab = jn_json_get(m, "vocab");
    if ((st = want_type(vocab, JN_JSON_OBJECT, "model.vocab", err))) return st;
    for (size_t i = 0; i < vocab->n; i++) {
        const jn_json *v = vocab->items[i];
        if (!is_token_id(v))
            return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: model.vocab['%s']: expected an id in [0, %zu), got %s",
                           vocab->keys[i], TOK_MAX_IDS, v && v->type == JN_JSON_NUMBER ? "another number" : type_name(v));
        uint32_t off;
        if (!pool_add(t, vocab->keys[i], vocab->key_lens[i], &off) ||
            !strmap_put(&t->vocab, t->pool, off, (uint32_t)vocab->key_lens[i], (int32_t)v->integer))
            return jn_fail(err, JN_ERR_NOMEM, "out of memory (vocabulary)");
    }
    t->vocab_count = t->vocab.n;

    t->unk_id = -1;
    const jn_json *unk = jn_json_get(m, "unk_token");
    if (unk && unk->type == JN_JSON_STRING) {
        t->unk_id = jn_strmap_get(&t->vocab, t->pool, unk->str, unk->len);
        if (t->unk_id < 0)
            return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: model.unk_token: '%s' is not in model.vocab", unk->str);
    } else if (unk && unk->type != JN_JSON_NULL) {
        return want_type(unk, JN_JSON_STRING, "model.unk_token", err);
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_fallback_id[b] = jn_strmap_get(&t->vocab, t->pool, name, 6);
    }

    const jn_json *merges = jn_json_get(m, "merges");
    if (!merges || merges->type == JN_JSON_NULL) {
        if (!pairmap_init(&t->merges, 0)) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        return JN_OK;
    }
    if ((st = want_type(merges, JN_JSON_ARRAY, "model.merges", err))) return st;
    if (merges->n >= UINT32_MAX) return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: model.merges: too many merges");
    if (!pairmap_init(&t->merges, merges->n)) return jn_fail(err, JN_ERR_NOMEM, "out of memory (merges)");
    char *cat = NULL;
    size_t cat_cap = 0;
    for (size_t i = 0; i < merges->n; i++) {
        const jn_json *e = merges->items[i];
        const char *a, *b;
        size_t al, bl;
        if (e->type == JN_JSON_STRING) {
            const char *sp = (const char *)memchr(e->str, ' ', e->len);
            if (!sp) {
                free(cat);
                return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: model.merges[%zu]: '%s' is not two tokens separated by a space",
                               i, e->str);
            }
            a = e->str;
            al = (size_t)(sp - e->str);
            b = sp + 1;
            bl = e->len - al - 1;
        } else if (e->type == JN_JSON_ARRAY && e->n == 2 && e->items[0]->type == JN_JSON_STRING &&
                   e->items[1]->type == JN_JSON_STRING) {
            a = e->items[0]->str;
            al = e->items[0]->len;
            b = e->items[1]->str;
            bl = e->items[1]->len;
        } else {
            free(cat);
            return jn_fail(err, JN_ERR_FORMAT,
                           "tokenizer.json: model.merges[%zu]: expected \"a b\" or [\"a\", \"b\"], got %s", i, type_name(e));
        }
        int32_t ia = jn_strmap_get(&t->vocab, t->pool, a, al);
        int32_t ib = jn_strmap_get(&t->vocab, t->pool, b, bl);
        if (al + bl > cat_cap) {
            cat_cap = (al + bl) * 2 + 16;
            char *nc = (char *)realloc(cat, cat_cap);
            if (!nc) { free(cat); return jn_fail(err, JN_ERR_NOMEM, "out of memory"); }
            cat = nc;
        }
        memcpy(cat, a, al);
        memcpy(cat + al, b, bl);
        int32_t inew = jn_strmap_get(&t->vocab, t->pool, cat, al + bl);
        if (ia < 0 || ib < 0 || inew < 0) {
            const char *which = ia < 0 ? a : ib < 0 ? b : cat;
            int wl = (int)(ia < 0 ? al : ib < 0 ? bl : al + bl);
            jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: model.merges[%zu]: token '%.*s' is not in model.vocab", i,
                    wl > 200 ? 200 : wl, which);
            free(cat);
            return JN_ERR_FORMAT;
        }
        pairmap_put(&t->merges, ia, ib, (uint32_t)i, inew);
    }
    free(cat);
    return JN_OK;
}

/* ------------------------------------------------------------------ added tokens */

static int added_same(const jn_tokenizer *t, const jn_added *x, const jn_added *y) {
    return x->len == y->len && memcmp(t->pool + x->off, t->pool + y->off, x->len) == 0 && x->special == y->special &&
           x->single_word == y->single_word && x->lstrip == y->lstrip && x->rstrip == y->rstrip &&
           x->normalized == y->normalized;
}

static int trie_add(jn_trie *tr, const char *s, size_t n, uint32_t off, int32_t added_idx) {
    if (n == 0) return 1;
    if (tr->n_pat % 64 == 0) {
        size_t nc = tr->n_pat + 64;
        uint32_t *a = (uint32_t *)realloc(tr->pat_off, nc * sizeof *a);
        if (!a) return 0;
        tr->pat_off = a;
        uint32_t *b = (uint32_t *)realloc(tr->pat_len, nc * sizeof *b);
        if (!b) return 0;
        tr->pat_len = b;
        int32_t *c = (int32_t *)realloc(tr->pat_added, nc * sizeof *c);
        if (!c) return 0;
        tr->pat_added = c;
    }
    if (!tr->nodes) {
        for (int i = 0; i < 256; i++) tr->root_child[i] = -1;
    }
    int32_t pat = (int32_t)tr->n_pat;
    tr->pat_off[pat] = off;
    tr->pat_len[pat] = (uint32_t)n;
    tr->pat_added[pat] = added_idx;
    tr->n_pat++;
    int32_t *link = &tr->root_child[(unsigned char)s[0]];
    int32_t node = -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i > 0) {
            link = &tr->nodes[node].child;
            while (*link >= 0 && tr->nodes[*link].byte != c) link = &tr->nodes[*link].sibling;
        }
        if (*link < 0) {
            if (tr->n == tr->cap) {
                size_t nc = tr->cap ? tr->cap * 2 : 256;
                ptrdiff_t li = -1;
                /* link may point into nodes: remember it as an index across realloc */
                if (tr->nodes && link >= &tr->nodes[0].child && link < (int32_t *)(tr->nodes + tr->n))
                    li = (char *)link - (char *)tr->nodes;
                jn_trie_node *nn = (jn_trie_node *)realloc(tr->nodes, nc * sizeof *nn);
                if (!nn) return 0;
                tr->nodes = nn;
                tr->cap = nc;
                if (li >= 0) link = (int32_t *)(void *)((char *)tr->nodes + li);
            }
            int32_t k = (int32_t)tr->n++;
            tr->nodes[k].child = -1;
            tr->nodes[k].sibling = -1;
            tr->nodes[k].token = -1;
            tr->nodes[k].byte = c;
            *link = k;
        }
        node = *link;
    }
    if (tr->nodes[node].token < 0) tr->nodes[node].token = pat; /* first pattern wins on duplicates */
    return 1;
}

static void trie_free(jn_trie *tr) {
    free(tr->nodes);
    free(tr->pat_off);
    free(tr->pat_len);
    free(tr->pat_added);
    memset(tr, 0, sizeof *tr);
    for (int i = 0; i < 256; i++) tr->root_child[i] = -1;
}

static jn_status parse_added(jn_tokenizer *t, const jn_json *arr, jn_error *err) {
    jn_status st;
    if (!arr || arr->type == JN_JSON_NULL) return JN_OK;
    if ((st = want_type(arr, JN_JSON_ARRAY, "added_tokens", err))) return st;
    t->added = (jn_added *)calloc(arr->n + 1, sizeof *t->added);
    int32_t *special_list = (int32_t *)malloc((arr->n + 1) * sizeof(int32_t));
    int32_t *classic_list = (int32_t *)malloc((arr->n + 1) * sizeof(int32_t));
    jn_strmap special_set = {0};
    jn_pairmap map_r = {0}; /* id -> index into t->added (key (id, 0)) */
    size_t n_special = 0, n_classic = 0;
    int64_t max_added = -1;
    if (!t->added || !special_list || !classic_list || !pairmap_init(&map_r, arr->n)) {
        st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < arr->n; i++) {
        const jn_json *o = arr->items[i];
        char ctx[64];
        snprintf(ctx, sizeof ctx, "added_tokens[%zu]", i);
        if ((st = want_type(o, JN_JSON_OBJECT, ctx, err))) goto done;
        const jn_json *c = jn_json_get(o, "content");
        char f[96];
        snprintf(f, sizeof f, "%s.content", ctx);
        if ((st = want_type(c, JN_JSON_STRING, f, err))) goto done;
        const jn_json *idv = jn_json_get(o, "id");
        snprintf(f, sizeof f, "%s.id", ctx);
        if (!is_token_id(idv)) {
            st = jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: expected an id in [0, %zu)", f, TOK_MAX_IDS);
            goto done;
        }
        jn_added a;
        memset(&a, 0, sizeof a);
        int sp = 0, sw = 0, ls = 0, rs = 0, nm = 0;
        if ((st = opt_bool(o, "special", 0, &sp, ctx, err)) || (st = opt_bool(o, "single_word", 0, &sw, ctx, err)) ||
            (st = opt_bool(o, "lstrip", 0, &ls, ctx, err)) || (st = opt_bool(o, "rstrip", 0, &rs, ctx, err)) ||
            (st = opt_bool(o, "normalized", !sp, &nm, ctx, err)))
            goto done;
        a.special = (uint8_t)sp;
        a.single_word = (uint8_t)sw;
        a.lstrip = (uint8_t)ls;
        a.rstrip = (uint8_t)rs;
        a.normalized = (uint8_t)nm;
        if (!pool_add(t, c->str, c->len, &a.off)) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); goto done; }
        a.len = (uint32_t)c->len;
        a.id = -1;
        size_t ai = t->n_added++;
        t->added[ai] = a;
        /* AddedVocabulary::add_tokens, one token at a time as the deserializer calls it */
        if (a.special && a.len > 0 && jn_strmap_get(&special_set, t->pool, c->str, c->len) < 0) {
            if (!strmap_put(&special_set, t->pool, a.off, a.len, 1)) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); goto done; }
            special_list[n_special++] = (int32_t)ai;
        }
        if (a.len == 0) continue;
        int32_t prev_id = jn_strmap_get(&t->added_map, t->pool, c->str, c->len);
        if (prev_id >= 0) {
            uint32_t r;
            int32_t pidx;
            if (jn_pairmap_get(&map_r, prev_id, 0, &r, &pidx) && added_same(t, &t->added[pidx], &a)) continue;
        }
        int32_t new_id = prev_id;
        if (new_id < 0) new_id = jn_strmap_get(&t->vocab, t->pool, c->str, c->len);
        if (new_id < 0) {
            if (max_added < 0) new_id = (int32_t)t->vocab_count;
            else if ((uint64_t)max_added >= t->vocab_count || t->vocab_count == 0) new_id = (int32_t)(max_added + 1);
            else new_id = (int32_t)t->vocab_count;
        }
        if ((size_t)new_id >= TOK_MAX_IDS) {
            st = jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: id %d too large", ctx, new_id);
            goto done;
        }
        if (new_id > max_added) max_added = new_id;
        t->added[ai].id = new_id;
        if (!strmap_put(&t->added_map, t->pool, a.off, a.len, new_id)) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); goto done; }
        pairmap_put(&map_r, new_id, 0, 0, (int32_t)ai);
        if (jn_strmap_get(&special_set, t->pool, c->str, c->len) < 0) classic_list[n_classic++] = (int32_t)ai;
    }
    /* Matchers: special tokens then classic ones; flags come from the token registered for the id. */
    for (int pass = 0; pass < 2; pass++) {
        const int32_t *list = pass == 0 ? special_list : classic_list;
        size_t cnt = pass == 0 ? n_special : n_classic;
        for (size_t k = 0; k < cnt; k++) {
            const jn_added *a = &t->added[list[k]];
            int32_t id = jn_strmap_get(&t->added_map, t->pool, t->pool + a->off, a->len);
            uint32_t r;
            int32_t owner;
            if (id < 0 || !jn_pairmap_get(&map_r, id, 0, &r, &owner)) continue;
            if (!a->normalized) {
                if (!trie_add(&t->trie_raw, t->pool + a->off, a->len, a->off, owner)) {
                    st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
                    goto done;
                }
            } else {
                char *nb = NULL;
                size_t nl = 0;
                int owned = 0;
                if ((st = jn_tok_normalize(t, t->pool + a->off, a->len, &nb, &nl, &owned, err))) {
                    jn_error_prefix(err, "tokenizer.json: added_tokens: normalizing '%.*s'", (int)a->len, t->pool + a->off);
                    goto done;
                }
                uint32_t off = a->off;
                int ok = 1;
                if (owned) ok = pool_add(t, nb, nl, &off);
                if (ok) ok = trie_add(&t->trie_norm, t->pool + off, nl, off, owner);
                if (owned) free(nb);
                if (!ok) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); goto done; }
            }
        }
    }
    /* Mark the final id of each added token for id tables (a later duplicate may have re-registered it). */
    for (size_t i = 0; i < t->n_added; i++) {
        jn_added *a = &t->added[i];
        if (a->len == 0) { a->id = -1; continue; }
        int32_t id = jn_strmap_get(&t->added_map, t->pool, t->pool + a->off, a->len);
        uint32_t r;
        int32_t owner;
        a->id = (id >= 0 && jn_pairmap_get(&map_r, id, 0, &r, &owner) && owner == (int32_t)i) ? id : -1;
    }
    st = JN_OK;
done:
    free(special_list);
    free(classic_list);
    strmap_free(&special_set);
    free(map_r.e);
    return st;
}

/* ------------------------------------------------------------------ decoder / post-processor / config */

static jn_status parse_decoder(jn_tokenizer *t, const jn_json *d, const char *ctx, jn_error *err) {
    if (!d || d->type == JN_JSON_NULL) return JN_OK;
    jn_status st;
    if ((st = want_type(d, JN_JSON_OBJECT, ctx, err))) return st;
    const jn_json *ty = jn_json_get(d, "type");
    char sub[128];
    snprintf(sub, sizeof sub, "%s.type", ctx);
    if ((st = want_type(ty, JN_JSON_STRING, sub, err))) return st;
    if (str_is(ty, "ByteLevel")) {
        t->decoder = JN_DEC_BYTELEVEL;
        return JN_OK;
    }
    if (str_is(ty, "Sequence")) {
        const jn_json *arr = jn_json_get(d, "decoders");
        snprintf(sub, sizeof sub, "%s.decoders", ctx);
        if ((st = want_type(arr, JN_JSON_ARRAY, sub, err))) return st;
        for (size_t i = 0; i < arr->n; i++) {
            snprintf(sub, sizeof sub, "%s.decoders[%zu]", ctx, i);
            if ((st = parse_decoder(t, arr->items[i], sub, err))) return st;
        }
        return JN_OK;
    }
    return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: unsupported decoder '%s'", sub, ty->str);
}

static int push_id(int32_t **arr, size_t *n, int32_t id) {
    int32_t *na = (int32_t *)realloc(*arr, (*n + 1) * sizeof *na);
    if (!na) return 0;
    na[(*n)++] = id;
    *arr = na;
    return 1;
}

static jn_status special_ids_from_template(jn_tokenizer *t, const jn_json *pp, const char *ctx, jn_error *err) {
    const jn_json *single = jn_json_get(pp, "single");
    const jn_json *specials = jn_json_get(pp, "special_tokens");
    char sub[128];
    snprintf(sub, sizeof sub, "%s.single", ctx);
    jn_status st;
    if ((st = want_type(single, JN_JSON_ARRAY, sub, err))) return st;
    int after = 0;
    for (size_t i = 0; i < single->n; i++) {
        const jn_json *it = single->items[i];
        if (jn_json_get(it, "Sequence")) { after = 1; continue; }
        const jn_json *sp = jn_json_get(it, "SpecialToken");
        const jn_json *name = sp ? jn_json_get(sp, "id") : NULL;
        if (!name || name->type != JN_JSON_STRING)
            return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s[%zu]: expected {\"Sequence\":…} or {\"SpecialToken\":{\"id\":…}}", sub, i);
        const jn_json *entry = specials ? jn_json_get(specials, name->str) : NULL;
        const jn_json *ids = entry ? jn_json_get(entry, "ids") : NULL;
        if (!ids || ids->type != JN_JSON_ARRAY)
            return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s.special_tokens['%s'].ids: missing", ctx, name->str);
        for (size_t k = 0; k < ids->n; k++) {
            const jn_json *v = ids->items[k];
            if (!is_token_id(v))
                return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s.special_tokens['%s'].ids[%zu]: bad id", ctx, name->str, k);
            if (!(after ? push_id(&t->suffix, &t->n_suffix, (int32_t)v->integer)
                        : push_id(&t->prefix, &t->n_prefix, (int32_t)v->integer)))
                return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        }
    }
    return JN_OK;
}

static jn_status parse_post(jn_tokenizer *t, const jn_json *pp, const char *ctx, jn_error *err) {
    if (!pp || pp->type == JN_JSON_NULL) return JN_OK;
    jn_status st;
    if ((st = want_type(pp, JN_JSON_OBJECT, ctx, err))) return st;
    const jn_json *ty = jn_json_get(pp, "type");
    char sub[128];
    snprintf(sub, sizeof sub, "%s.type", ctx);
    if ((st = want_type(ty, JN_JSON_STRING, sub, err))) return st;
    if (str_is(ty, "ByteLevel")) return JN_OK;
    if (str_is(ty, "TemplateProcessing")) return special_ids_from_template(t, pp, ctx, err);
    if (str_is(ty, "Sequence")) {
        const jn_json *arr = jn_json_get(pp, "processors");
        snprintf(sub, sizeof sub, "%s.processors", ctx);
        if ((st = want_type(arr, JN_JSON_ARRAY, sub, err))) return st;
        for (size_t i = 0; i < arr->n; i++) {
            snprintf(sub, sizeof sub, "%s.processors[%zu]", ctx, i);
            if ((st = parse_post(t, arr->items[i], sub, err))) return st;
        }
        return JN_OK;
    }
    if (str_is(ty, "RobertaProcessing") || str_is(ty, "BertProcessing")) {
        const jn_json *cls = jn_json_get(pp, "cls"), *sep = jn_json_get(pp, "sep");
        if (!cls || cls->type != JN_JSON_ARRAY || cls->n != 2 || !cls->items[1]->is_integer || !sep ||
            sep->type != JN_JSON_ARRAY || sep->n != 2 || !sep->items[1]->is_integer)
            return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: expected cls/sep as [token, id]", ctx);
        if (!push_id(&t->prefix, &t->n_prefix, (int32_t)cls->items[1]->integer) ||
            !push_id(&t->suffix, &t->n_suffix, (int32_t)sep->items[1]->integer))
            return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        return JN_OK;
    }
    return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: unsupported post-processor '%s'", sub, ty->str);
}

/* bos_token / eos_token in tokenizer_config.json: a string, an AddedToken dict, or null. */
static jn_status config_token(const jn_tokenizer *t, const jn_json *cfg, const char *key, int32_t *out, jn_error *err) {
    *out = -1;
    const jn_json *v = jn_json_get(cfg, key);
    if (!v || v->type == JN_JSON_NULL) return JN_OK;
    if (v->type == JN_JSON_OBJECT) v = jn_json_get(v, "content");
    if (!v || v->type != JN_JSON_STRING)
        return jn_fail(err, JN_ERR_FORMAT, "tokenizer_config.json: %s: expected a string, {\"content\": …} or null", key);
    *out = jn_tokenizer_token_id(t, v->str, v->len);
    return JN_OK;
}

static jn_status parse_config(jn_tokenizer *t, const char *cfg_text, size_t cfg_len, const jn_json *post,
                              jn_error *err) {
    jn_status st;
    t->bos = t->eos = -1;
    if (!cfg_text) return parse_post(t, post, "post_processor", err);
    jn_json *cfg = jn_json_parse(cfg_text, cfg_len, err);
    if (!cfg) return jn_error_prefix(err, "tokenizer_config.json");
    if (cfg->type != JN_JSON_OBJECT) {
        jn_json_free(cfg);
        return jn_fail(err, JN_ERR_FORMAT, "tokenizer_config.json: expected an object");
    }
    if ((st = config_token(t, cfg, "bos_token", &t->bos, err)) || (st = config_token(t, cfg, "eos_token", &t->eos, err))) {
        jn_json_free(cfg);
        return st;
    }
    const char *cls = jn_json_get_str(cfg, "tokenizer_class");
    int llama = cls && (strcmp(cls, "LlamaTokenizerFast") == 0 || strcmp(cls, "LlamaTokenizer") == 0 ||
                        strcmp(cls, "CodeLlamaTokenizerFast") == 0 || strcmp(cls, "CodeLlamaTokenizer") == 0);
    if (llama) {
        /* transformers' LlamaTokenizerFast rebuilds the post-processor from add_bos_token (default
         * true) and add_eos_token (default false). */
        int add_bos = 1, add_eos = 0;
        const jn_json *v = jn_json_get(cfg, "add_bos_token");
        if (v && v->type == JN_JSON_BOOL) add_bos = v->boolean;
        v = jn_json_get(cfg, "add_eos_token");
        if (v && v->type == JN_JSON_BOOL) add_eos = v->boolean;
        if (add_bos && t->bos >= 0 && !push_id(&t->prefix, &t->n_prefix, t->bos)) st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
        if (!st && add_eos && t->eos >= 0 && !push_id(&t->suffix, &t->n_suffix, t->eos))
            st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
    } else {
        st = parse_post(t, post, "post_processor", err);
    }
    jn_json_free(cfg);
    return st;
}

/* ------------------------------------------------------------------ id tables */

static jn_status build_id_tables(jn_tokenizer *t, jn_error *err) {
    size_t n_ids = 0;
    for (size_t e = 0; e < t->vocab.n; e++)
        if ((size_t)t->vocab.val[e] + 1 > n_ids) n_ids = (size_t)t->vocab.val[e] + 1;
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].id >= 0 && (size_t)t->added[i].id + 1 > n_ids) n_ids = (size_t)t->added[i].id + 1;
    t->n_ids = n_ids;
    size_t na = n_ids ? n_ids : 1;
    t->tok_off = (uint32_t *)malloc(na * sizeof(uint32_t));
    t->tok_len = (uint32_t *)malloc(na * sizeof(uint32_t));
    t->dec_off = (uint32_t *)malloc(na * sizeof(uint32_t));
    t->dec_len = (uint32_t *)malloc(na * sizeof(uint32_t));
    t->id_special = (uint8_t *)calloc(na, 1);
    if (!t->tok_off || !t->tok_len || !t->dec_off || !t->dec_len || !t->id_special)
        return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_ids; i++) t->tok_len[i] = UINT32_MAX;
    for (size_t e = 0; e < t->vocab.n; e++) {
        t->tok_off[t->vocab.val[e]] = t->vocab.off[e];
        t->tok_len[t->vocab.val[e]] = t->vocab.len[e];
    }
    for (size_t i = 0; i < t->n_added; i++) {
        const jn_added *a = &t->added[i];
        if (a->id < 0) continue;
        t->tok_off[a->id] = a->off;
        t->tok_len[a->id] = a->len;
    }
    /* special: the id's token string is the content of a special added token */
    for (size_t i = 0; i < t->n_added; i++) {
        const jn_added *a = &t->added[i];
        if (!a->special || a->len == 0) continue;
        for (size_t j = 0; j < t->n_added; j++) {
            const jn_added *b = &t->added[j];
            if (b->id >= 0 && b->len == a->len && memcmp(t->pool + a->off, t->pool + b->off, a->len) == 0)
                t->id_special[b->id] = 1;
        }
        int32_t v = jn_strmap_get(&t->vocab, t->pool, t->pool + a->off, a->len);
        if (v >= 0 && t->tok_len[v] == a->len && memcmp(t->pool + t->tok_off[v], t->pool + a->off, a->len) == 0)
            t->id_special[v] = 1;
    }
    /* decoded bytes per id */
    uint32_t byte2cp[256];
    int16_t cp2byte[0x144];
    bytelevel_tables(byte2cp, cp2byte);
    char *tmp = NULL;
    size_t tmp_cap = 0;
    for (size_t i = 0; i < n_ids; i++) {
        if (t->tok_len[i] == UINT32_MAX) { t->dec_len[i] = UINT32_MAX; continue; }
        if (t->decoder != JN_DEC_BYTELEVEL) {
            t->dec_off[i] = t->tok_off[i];
            t->dec_len[i] = t->tok_len[i];
            continue;
        }
        size_t l = t->tok_len[i];
        if (l > tmp_cap) {
            tmp_cap = l * 2 + 16;
            char *nt = (char *)realloc(tmp, tmp_cap);
            if (!nt) { free(tmp); return jn_fail(err, JN_ERR_NOMEM, "out of memory"); }
            tmp = nt;
        }
        long r = bytelevel_unmap(cp2byte, t->pool + t->tok_off[i], l, tmp);
        if (r < 0) {
            t->dec_off[i] = t->tok_off[i];
            t->dec_len[i] = t->tok_len[i];
        } else if (!pool_add(t, tmp, (size_t)r, &t->dec_off[i])) {
            free(tmp);
            return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        } else {
            t->dec_len[i] = (uint32_t)r;
        }
    }
    free(tmp);
    /* byte-level encode tables: single bytes and raw-bytes -> id */
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    if (t->byte_level) {
        for (int b = 0; b < 256; b++) {
            char u[4];
            size_t ul = put_utf8(u, byte2cp[b]);
            t->byte_id[b] = jn_strmap_get(&t->vocab, t->pool, u, ul);
        }
        char *raw = NULL;
        size_t raw_cap = 0;
        size_t nv = t->vocab.n;
        for (size_t e = 0; e < nv; e++) {
            size_t l = t->vocab.len[e];
            if (l > raw_cap) {
                raw_cap = l * 2 + 16;
                char *nr = (char *)realloc(raw, raw_cap);
                if (!nr) { free(raw); return jn_fail(err, JN_ERR_NOMEM, "out of memory"); }
                raw = nr;
            }
            long r = bytelevel_unmap(cp2byte, t->pool + t->vocab.off[e], l, raw);
            if (r < 0) continue;
            uint32_t off;
            if (!pool_add(t, raw, (size_t)r, &off) || !strmap_put(&t->vocab_raw, t->pool, off, (uint32_t)r, t->vocab.val[e])) {
                free(raw);
                return jn_fail(err, JN_ERR_NOMEM, "out of memory");
            }
        }
        free(raw);
    }
    return JN_OK;
}

/* ------------------------------------------------------------------ public */

static pthread_once_t onig_once = PTHREAD_ONCE_INIT;
static void onig_init_once(void) {
    OnigEncoding enc = ONIG_ENCODING_UTF8;
    onig_initialize(&enc, 1);
}

jn_tokenizer *jn_tokenizer_load(const char *tokenizer_json, size_t len, const char *tokenizer_config_json,
                                size_t cfg_len, jn_error *err) {
    pthread_once(&onig_once, onig_init_once);
    jn_tokenizer *t = (jn_tokenizer *)calloc(1, sizeof *t);
    if (!t) { jn_fail(err, JN_ERR_NOMEM, "out of memory"); return NULL; }
    t->unk_id = t->bos = t->eos = -1;
    for (int i = 0; i < 256; i++) t->trie_raw.root_child[i] = t->trie_norm.root_child[i] = -1;
    jn_json *root = jn_json_parse(tokenizer_json, len, err);
    if (!root) {
        jn_error_prefix(err, "tokenizer.json");
        free(t);
        return NULL;
    }
    jn_status st;
    if ((st = want_type(root, JN_JSON_OBJECT, "top level", err))) goto fail;
    if ((st = parse_normalizer(t, jn_json_get(root, "normalizer"), "normalizer", err))) goto fail;
    if ((st = parse_pretok(t, jn_json_get(root, "pre_tokenizer"), "pre_tokenizer", err))) goto fail;
    if ((st = parse_model(t, jn_json_get(root, "model"), err))) goto fail;
    if ((st = parse_added(t, jn_json_get(root, "added_tokens"), err))) goto fail;
    if ((st = parse_decoder(t, jn_json_get(root, "decoder"), "decoder", err))) goto fail;
    if ((st = build_id_tables(t, err))) goto fail;
    if ((st = parse_config(t, tokenizer_config_json, cfg_len, jn_json_get(root, "post_processor"), err))) goto fail;
    jn_json_free(root);
    t->cache = (jn_cache_slot *)calloc(JN_TOK_CACHE_SLOTS, sizeof *t->cache); /* optional: NULL = no cache */
    for (int i = 0; i < JN_TOK_CACHE_STRIPES; i++) pthread_mutex_init(&t->cache_lock[i], NULL);
    return t;
fail:
    jn_json_free(root);
    jn_tokenizer_free(t);
    return NULL;
}

void jn_tokenizer_free(jn_tokenizer *t) {
    if (!t) return;
    if (t->cache) {
        for (int i = 0; i < JN_TOK_CACHE_STRIPES; i++) pthread_mutex_destroy(&t->cache_lock[i]);
        free(t->cache);
    }
    for (int i = 0; i < t->n_norm; i++)
        if (t->norms[i].re) onig_free(t->norms[i].re);
    for (int i = 0; i < t->n_pretok; i++)
        if (t->pretoks[i].re) onig_free(t->pretoks[i].re);
    strmap_free(&t->vocab);
    strmap_free(&t->vocab_raw);
    strmap_free(&t->added_map);
    free(t->merges.e);
    free(t->tok_off);
    free(t->tok_len);
    free(t->dec_off);
    free(t->dec_len);
    free(t->id_special);
    free(t->added);
    trie_free(&t->trie_raw);
    trie_free(&t->trie_norm);
    free(t->prefix);
    free(t->suffix);
    free(t->pool);
    free(t);
}

int32_t jn_tokenizer_token_id(const jn_tokenizer *t, const char *token, size_t len) {
    if (!t || !token) return -1;
    int32_t id = jn_strmap_get(&t->added_map, t->pool, token, len);
    if (id >= 0) return id;
    return jn_strmap_get(&t->vocab, t->pool, token, len);
}

const char *jn_tokenizer_token_str(const jn_tokenizer *t, int32_t id, size_t *len) {
    if (!t || id < 0 || (size_t)id >= t->n_ids || t->tok_len[id] == UINT32_MAX) return NULL;
    if (len) *len = t->tok_len[id];
    return t->pool + t->tok_off[id];
}

int jn_tokenizer_is_added(const jn_tokenizer *t, int32_t id) {
    if (!t || id < 0 || (size_t)id >= t->n_ids) return 0;
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].id == id) return 1;
    return 0;
}

int jn_tokenizer_is_special(const jn_tokenizer *t, int32_t id) {
    return t && id >= 0 && (size_t)id < t->n_ids && t->id_special[id];
}

int32_t jn_tokenizer_bos(const jn_tokenizer *t) { return t ? t->bos : -1; }
int32_t jn_tokenizer_eos(const jn_tokenizer *t) { return t ? t->eos : -1; }
size_t jn_tokenizer_vocab_size(const jn_tokenizer *t) { return t ? t->n_ids : 0; }

/* Appends the decoder's bytes of one id (no lossy fix yet). 0 if the id is skipped. */
static int id_bytes(const jn_tokenizer *t, int32_t id, int skip_special, const char **p, size_t *n) {
    if (id < 0 || (size_t)id >= t->n_ids || t->dec_len[id] == UINT32_MAX) return 0;
    if (skip_special && t->id_special[id]) return 0;
    *p = t->pool + t->dec_off[id];
    *n = t->dec_len[id];
    return 1;
}

jn_status jn_tokenizer_decode(const jn_tokenizer *t, const int32_t *ids, size_t n, int skip_special, char **text,
                              size_t *len, jn_error *err) {
    *text = NULL;
    *len = 0;
    jn_buf raw = {0}, out = {0};
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        const char *p;
        size_t l;
        if (!id_bytes(t, ids[i], skip_special, &p, &l)) continue;
        if (t->decoder == JN_DEC_NONE && !first) jn_buf_append(&raw, " ", 1);
        jn_buf_append(&raw, p, l);
        first = 0;
    }
    if (raw.len) append_lossy(&out, raw.data, raw.len, NULL);
    jn_buf_append(&out, "", 1); /* NUL terminator (not counted) */
    int oom = out.oom || raw.oom;
    jn_buf_free(&raw);
    if (oom) {
        jn_buf_free(&out);
        return jn_fail(err, JN_ERR_NOMEM, "out of memory decoding %zu ids", n);
    }
    *text = out.data;
    *len = out.len - 1;
    return JN_OK;
}

/* ------------------------------------------------------------------ streaming decode */

struct jn_detok_stream {
    const jn_tokenizer *t;
    int skip_special;
    int first;
    char hold[8];
    size_t n_hold;
    jn_buf in, out;
};

jn_detok_stream *jn_detok_stream_create(const jn_tokenizer *t, int skip_special) {
    jn_detok_stream *s = (jn_detok_stream *)calloc(1, sizeof *s);
    if (!s) return NULL;
    s->t = t;
    s->skip_special = skip_special;
    s->first = 1;
    return s;
}

jn_status jn_detok_stream_push(jn_detok_stream *s, int32_t id, const char **piece, size_t *len, jn_error *err) {
    s->out.len = 0;
    s->in.len = 0;
    const char *p;
    size_t l;
    *piece = "";
    *len = 0;
    if (!id_bytes(s->t, id, s->skip_special, &p, &l)) return JN_OK;
    jn_buf_append(&s->in, s->hold, s->n_hold);
    if (s->t->decoder == JN_DEC_NONE && !s->first) jn_buf_append(&s->in, " ", 1);
    jn_buf_append(&s->in, p, l);
    s->first = 0;
    size_t hold = 0;
    if (s->in.len) append_lossy(&s->out, s->in.data, s->in.len, &hold);
    if (s->in.oom || s->out.oom) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    /* a held tail is at most 3 bytes (a truncated but so far valid sequence) */
    memcpy(s->hold, s->in.data + s->in.len - hold, hold);
    s->n_hold = hold;
    *piece = s->out.data ? s->out.data : "";
    *len = s->out.len;
    return JN_OK;
}

void jn_detok_stream_flush(jn_detok_stream *s, const char **piece, size_t *len) {
    s->out.len = 0;
    if (s->n_hold) append_lossy(&s->out, s->hold, s->n_hold, NULL);
    s->n_hold = 0;
    *piece = (s->out.data && !s->out.oom) ? s->out.data : "";
    *len = s->out.oom ? 0 : s->out.len;
}

void jn_detok_stream_free(jn_detok_stream *s) {
    if (!s) return;
    jn_buf_free(&s->in);
    jn_buf_free(&s->out);
    free(s);
}
