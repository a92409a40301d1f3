/* decoder/unicode_norm.c — Unicode normalization (NFC/NFD/NFKC/NFKD) and lowercasing for the
 * tokenizer's normalizers, via utf8proc (a small, well-maintained C library that implements exactly
 * these Unicode algorithms from the Unicode data files; Debian: libutf8proc-dev).
 *
 * Why a library: normalization needs the Unicode decomposition, composition and combining-class
 * tables (tens of thousands of entries); writing and maintaining our own tables is error-prone and
 * Debian ships no Unicode data files in the base image. The build enables this file's real code when
 * CMake finds libutf8proc (JANUS_HAVE_UTF8PROC); otherwise a tokenizer.json that asks for one of these
 * normalizers is refused at load time with a message saying so. Text made only of code points below
 * U+0300 (NFC) or ASCII (the others) is returned unchanged without calling the library. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/json.h"
#include "tokenizer_impl.h"

#ifdef JANUS_HAVE_UTF8PROC
#include <utf8proc.h>
#endif

int jn_tok_have_unicode_norm(void) {
#ifdef JANUS_HAVE_UTF8PROC
    return 1;
#else
    return 0;
#endif
}

/* 1 if s is pure ASCII */
static int all_ascii(const char *s, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ull) return 0;
    }
    for (; i < n; i++)
        if ((unsigned char)s[i] & 0x80) return 0;
    return 1;
}

/* 1 if every code point is below U+0300 (such text is already in NFC: nothing there composes or
 * reorders without a combining mark, and all combining marks are >= U+0300). In UTF-8 these are the
 * ASCII bytes and two-byte sequences with lead bytes C2..CB. */
static int below_0300(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x80) continue;
        if (s[i] >= 0xC2 && s[i] <= 0xCB) { i++; continue; }
        return 0;
    }
    return 1;
}

jn_status jn_unicode_normalize(int kind, const char *s, size_t n, char **out, size_t *out_len, int *owned,
                               jn_error *err) {
    *out = (char *)s;
    *out_len = n;
    *owned = 0;
    if (kind == JN_NORM_NFC ? below_0300(s, n) : all_ascii(s, n)) {
        if (kind != JN_NORM_LOWERCASE) return JN_OK;
        /* ASCII lowercase without the library */
        int upper = 0;
        for (size_t i = 0; i < n; i++) upper |= (s[i] >= 'A' && s[i] <= 'Z');
        if (!upper) return JN_OK;
        char *o = (char *)malloc(n ? n : 1);
        if (!o) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) o[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
        *out = o;
        *owned = 1;
        return JN_OK;
    }
#ifdef JANUS_HAVE_UTF8PROC
    if (kind == JN_NORM_LOWERCASE) {
        /* per code point, as Rust's char::to_lowercase (U+0130 is the one multi-char mapping) */
        char *o = (char *)malloc(n * 2 + 4);
        if (!o) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        size_t i = 0, k = 0;
        while (i < n) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
            if (l <= 0) { free(o); return jn_fail(err, JN_ERR_FORMAT, "invalid UTF-8 at byte %zu", i); }
            i += (size_t)l;
            if (cp == 0x130) {
                memcpy(o + k, "i\xCC\x87", 3);
                k += 3;
                continue;
            }
            k += (size_t)utf8proc_encode_char(utf8proc_tolower(cp), (utf8proc_uint8_t *)o + k);
        }
        *out = o;
        *out_len = k;
        *owned = 1;
        return JN_OK;
    }
    utf8proc_option_t opt = UTF8PROC_STABLE;
    switch (kind) {
    case JN_NORM_NFC: opt |= UTF8PROC_COMPOSE; break;
    case JN_NORM_NFD: opt |= UTF8PROC_DECOMPOSE; break;
    case JN_NORM_NFKC: opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    default: opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst, opt);
    if (r < 0) {
        free(dst);
        if (r == UTF8PROC_ERROR_NOMEM) return jn_fail(err, JN_ERR_NOMEM, "out of memory (Unicode normalization)");
        return jn_fail(err, JN_ERR_FORMAT, "Unicode normalization failed: %s", utf8proc_errmsg(r));
    }
    *out = (char *)dst;
    *out_len = (size_t)r;
    *owned = 1;
    return JN_OK;
#else
    return jn_fail(err, JN_ERR_FORMAT, "Unicode normalization is not available in this build (no utf8proc)");
#endif
}

/* ------------------------------------------------------------------ general categories
 *
 * Regex \p{L}, \p{N}, \p{P}, \p{S}, ... depend on the Unicode version of the regex engine's tables.
 * Debian's Oniguruma 6.9.8 has Unicode 14 tables, while the Rust library bundles a newer Oniguruma
 * (Unicode 15.x): emoji such as U+1FABF are \p{So} there but unassigned here, which changes how
 * DeepSeek-V3's pre-tokenizer splits them. So, when utf8proc (Unicode 15) is available, general
 * category escapes in tokenizer regexes are rewritten into explicit code point classes from its
 * tables, plus the 627 characters Unicode 15.1 added (CJK Extension I, U+2FFC..2FFF, U+31EF). */

#ifdef JANUS_HAVE_UTF8PROC
typedef struct gc_run {
    uint32_t lo, hi;
    uint8_t cat;
} gc_run;

static gc_run *g_runs;
static size_t g_n_runs;
static pthread_once_t g_runs_once = PTHREAD_ONCE_INIT;

static int cat_of(uint32_t cp) {
    if (cp >= 0x2EBF0 && cp <= 0x2EE5D) return UTF8PROC_CATEGORY_LO; /* Unicode 15.1 */
    if (cp == 0x31EF || (cp >= 0x2FFC && cp <= 0x2FFF)) return UTF8PROC_CATEGORY_SO;
    return (int)utf8proc_category((utf8proc_int32_t)cp);
}

static void build_runs(void) {
    size_t cap = 8192, n = 0;
    gc_run *r = (gc_run *)malloc(cap * sizeof *r);
    if (!r) return;
    int cur = -1;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue; /* not encodable in UTF-8 */
        int c = cat_of(cp);
        if (c == cur && n && r[n - 1].hi + 1 == cp) {
            r[n - 1].hi = cp;
            continue;
        }
        if (n == cap) {
            cap *= 2;
            gc_run *nr = (gc_run *)realloc(r, cap * sizeof *r);
            if (!nr) { free(r); return; }
            r = nr;
        }
        r[n].lo = r[n].hi = cp;
        r[n].cat = (uint8_t)c;
        n++;
        cur = c;
    }
    g_runs = r;
    g_n_runs = n;
}

/* category masks by short name */
static uint32_t gc_mask(const char *name, size_t len) {
    static const struct { const char *n; int c; } one[] = {
        {"Cn", UTF8PROC_CATEGORY_CN}, {"Lu", UTF8PROC_CATEGORY_LU}, {"Ll", UTF8PROC_CATEGORY_LL},
        {"Lt", UTF8PROC_CATEGORY_LT}, {"Lm", UTF8PROC_CATEGORY_LM}, {"Lo", UTF8PROC_CATEGORY_LO},
        {"Mn", UTF8PROC_CATEGORY_MN}, {"Mc", UTF8PROC_CATEGORY_MC}, {"Me", UTF8PROC_CATEGORY_ME},
        {"Nd", UTF8PROC_CATEGORY_ND}, {"Nl", UTF8PROC_CATEGORY_NL}, {"No", UTF8PROC_CATEGORY_NO},
        {"Pc", UTF8PROC_CATEGORY_PC}, {"Pd", UTF8PROC_CATEGORY_PD}, {"Ps", UTF8PROC_CATEGORY_PS},
        {"Pe", UTF8PROC_CATEGORY_PE}, {"Pi", UTF8PROC_CATEGORY_PI}, {"Pf", UTF8PROC_CATEGORY_PF},
        {"Po", UTF8PROC_CATEGORY_PO}, {"Sm", UTF8PROC_CATEGORY_SM}, {"Sc", UTF8PROC_CATEGORY_SC},
        {"Sk", UTF8PROC_CATEGORY_SK}, {"So", UTF8PROC_CATEGORY_SO}, {"Zs", UTF8PROC_CATEGORY_ZS},
        {"Zl", UTF8PROC_CATEGORY_ZL}, {"Zp", UTF8PROC_CATEGORY_ZP}, {"Cc", UTF8PROC_CATEGORY_CC},
        {"Cf", UTF8PROC_CATEGORY_CF}, {"Co", UTF8PROC_CATEGORY_CO},
    };
    if (len == 2)
        for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
            if (memcmp(one[i].n, name, 2) == 0) return 1u << one[i].c;
    if (len != 1) return 0;
    uint32_t m = 0;
    const char *pre;
    switch (name[0]) {
    case 'L': pre = "L"; break;
    case 'M': pre = "M"; break;
    case 'N': pre = "N"; break;
    case 'P': pre = "P"; break;
    case 'S': pre = "S"; break;
    case 'Z': pre = "Z"; break;
    case 'C': pre = "C"; break;
    default: return 0;
    }
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        if (one[i].n[0] == pre[0]) m |= 1u << one[i].c;
    return m;
}

int jn_unicode_gc_class(const char *name, size_t len, int negate, jn_buf *out) {
    uint32_t mask = gc_mask(name, len);
    if (!mask) return 0;
    pthread_once(&g_runs_once, build_runs);
    if (!g_runs) return 0;
    jn_buf_puts(out, negate ? "[^" : "[");
    size_t i = 0;
    while (i < g_n_runs) {
        if (!(mask & (1u << g_runs[i].cat))) { i++; continue; }
        uint32_t lo = g_runs[i].lo, hi = g_runs[i].hi;
        size_t j = i + 1;
        while (j < g_n_runs && (mask & (1u << g_runs[j].cat)) && g_runs[j].lo == hi + 1) hi = g_runs[j++].hi;
        char tmp[48];
        if (lo == hi) snprintf(tmp, sizeof tmp, "\\x{%X}", (unsigned)lo);
        else snprintf(tmp, sizeof tmp, "\\x{%X}-\\x{%X}", (unsigned)lo, (unsigned)hi);
        jn_buf_puts(out, tmp);
        i = j;
    }
    jn_buf_puts(out, "]");
    return 1;
}
#else
int jn_unicode_gc_class(const char *name, size_t len, int negate, jn_buf *out) {
    (void)name; (void)len; (void)negate; (void)out;
    return 0;
}
#endif
