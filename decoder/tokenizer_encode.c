/* decoder/tokenizer_encode.c — the encode pipeline of jn_tokenizer: added-token extraction,
 * normalizers, pre-tokenizer splits, byte-level BPE.
 *
 * Order and semantics follow the Rust `tokenizers` library step by step:
 *   text -> cut out non-normalized added tokens (leftmost-longest) -> normalize each remaining piece
 *   -> cut out normalized added tokens -> pre-tokenizer steps -> BPE per word.
 * Pre-tokenizer steps run depth-first: each piece produced by step k is immediately fed to step k+1,
 * so no list of all pieces of a long text is ever built. Every Split step reproduces the library's
 * find_matches (Oniguruma search from the previous match end over that piece only, the `onig` crate's
 * rule for empty matches) and its five delimiter behaviours, streamed with a one-piece look-behind.
 * ByteLevel's byte->char mapping is never materialized: BPE works on raw bytes with the vocabulary
 * re-keyed by raw bytes at load (tokenizer.c), which gives the same ids.
 *
 * BPE: repeatedly merge the adjacent pair of lowest merge rank, leftmost first (the library's
 * priority queue order). Short words use a rank array scanned linearly, long words a binary heap
 * (identical results). Each call owns its scratch buffers, so concurrent encodes on one tokenizer are
 * safe (Oniguruma regexes are only read during a search). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "engine/io/json.h"
#include "tokenizer_impl.h"

#define BPE_SMALL 48 /* words up to this many symbols use the linear-scan merger */

typedef struct heap_ent {
    uint32_t rank, pos;
    int32_t new_id;
} heap_ent;

typedef struct enc_ctx {
    const jn_tokenizer *t;
    int32_t *ids;
    size_t n, cap;
    OnigRegion *region;
    char *pfx;
    size_t pfx_cap;
    /* BPE scratch: [scap] each */
    int32_t *sid, *nxt, *prv, *nid;
    uint32_t *rk;
    uint8_t *dead;
    size_t scap;
    heap_ent *heap;
    size_t hn, hcap;
    jn_error *err;
    int oom;
} enc_ctx;

static inline void emit(enc_ctx *c, int32_t id) {
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 256;
        int32_t *ni = (int32_t *)realloc(c->ids, nc * sizeof *ni);
        if (!ni) { c->oom = 1; return; }
        c->ids = ni;
        c->cap = nc;
    }
    c->ids[c->n++] = id;
}

static inline size_t u8len(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

static size_t get_cp(const unsigned char *s, uint32_t *cp) {
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    if (s[0] < 0xE0) { *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F); return 2; }
    if (s[0] < 0xF0) { *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F); return 3; }
    *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
}

/* Code point ending at s[end-1] (end > 0); *start receives its first byte index. */
static uint32_t cp_before(const char *s, size_t end, size_t *start) {
    size_t i = end - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    uint32_t cp;
    get_cp((const unsigned char *)s + i, &cp);
    *start = i;
    return cp;
}

static int is_space_cp(uint32_t cp) { return ONIGENC_IS_CODE_SPACE(ONIG_ENCODING_UTF8, cp) != 0; }
static int is_word_cp(uint32_t cp) { return ONIGENC_IS_CODE_WORD(ONIG_ENCODING_UTF8, cp) != 0; }

/* ------------------------------------------------------------------ regex */

jn_status jn_tok_regex_compile(const char *pat, size_t len, int literal, OnigRegex *out, const char *field,
                               jn_error *err) {
    *out = NULL;
    char *esc = NULL;
    const char *p = pat;
    size_t len0 = len;
    if (literal) {
        /* a "String" pattern: escape the characters that are special outside classes */
        esc = (char *)malloc(len * 2 + 1);
        if (!esc) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        size_t k = 0;
        for (size_t i = 0; i < len; i++) {
            if (strchr("\\.+*?()|[]{}^$#", pat[i]) && pat[i]) esc[k++] = '\\';
            esc[k++] = pat[i];
        }
        p = esc;
        len = k;
    }
    jn_buf rw = {0};
    if (!literal) {
        /* \p{<general category>} -> explicit classes from this build's Unicode tables (see
         * unicode_norm.c: the system Oniguruma's tables are older than the Rust library's). */
        int changed = 0;
        for (size_t i = 0; i < len;) {
            if (pat[i] == '\\' && i + 2 < len && (pat[i + 1] == 'p' || pat[i + 1] == 'P') && pat[i + 2] == '{') {
                const char *close = (const char *)memchr(pat + i + 3, '}', len - i - 3);
                if (close) {
                    const char *nm = pat + i + 3;
                    size_t nl = (size_t)(close - nm);
                    int neg = pat[i + 1] == 'P';
                    if (nl > 0 && nm[0] == '^') { neg = !neg; nm++; nl--; }
                    if (jn_unicode_gc_class(nm, nl, neg, &rw)) {
                        changed = 1;
                        i = (size_t)(close - pat) + 1;
                        continue;
                    }
                }
            }
            size_t step = (pat[i] == '\\' && i + 1 < len) ? 2 : 1;
            jn_buf_append(&rw, pat + i, step);
            i += step;
        }
        if (rw.oom) {
            jn_buf_free(&rw);
            return jn_fail(err, JN_ERR_NOMEM, "out of memory");
        }
        if (changed) {
            p = rw.data;
            len = rw.len;
        }
    }
    OnigErrorInfo einfo;
    memset(&einfo, 0, sizeof einfo);
    int r = onig_new(out, (const UChar *)p, (const UChar *)p + len, ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                     ONIG_SYNTAX_DEFAULT, &einfo);
    if (r != ONIG_NORMAL) {
        UChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(msg, r, &einfo);
        *out = NULL;
        jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s: invalid regex '%.*s': %s", field, len0 > 300 ? 300 : (int)len0, pat,
                (const char *)msg);
        free(esc);
        jn_buf_free(&rw);
        return JN_ERR_FORMAT;
    }
    free(esc);
    jn_buf_free(&rw);
    return JN_OK;
}

/* Iterates the matches of re in s[0..n) exactly like the Rust `onig` crate's find_iter (search from
 * the previous match end; an empty match advances one char and is dropped once after a non-empty
 * match). Calls cb(user, start, end) for each. */
typedef jn_status (*match_cb)(void *user, size_t s, size_t e);

static jn_status find_iter(OnigRegex re, OnigRegion *region, const char *s, size_t n, match_cb cb, void *user,
                           jn_error *err) {
    const UChar *str = (const UChar *)s, *end = str + n;
    size_t pos = 0;
    int skip_next_empty = 0;
    while (pos <= n) {
        int r = onig_search(re, str, end, str + pos, end, region, ONIG_OPTION_NONE);
        if (r == ONIG_MISMATCH) break;
        if (r < 0) {
            UChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
            onig_error_code_to_str(msg, r);
            return jn_fail(err, JN_ERR_RUNTIME, "tokenizer: regex search failed: %s", (const char *)msg);
        }
        size_t ms = (size_t)region->beg[0], me = (size_t)region->end[0];
        pos = me;
        if (me == ms) {
            pos += pos < n ? u8len(str[pos]) : 1;
            if (skip_next_empty) {
                skip_next_empty = 0;
                continue;
            }
        } else {
            skip_next_empty = 1;
        }
        jn_status st = cb(user, ms, me);
        if (st) return st;
    }
    return JN_OK;
}

/* ------------------------------------------------------------------ normalizers */

typedef struct replace_ctx {
    jn_buf out;
    const char *s;
    size_t prev;
    const char *content;
    size_t clen;
} replace_ctx;

static jn_status replace_cb(void *user, size_t s, size_t e) {
    replace_ctx *r = (replace_ctx *)user;
    jn_buf_append(&r->out, r->s + r->prev, s - r->prev);
    jn_buf_append(&r->out, r->content, r->clen);
    r->prev = e;
    return JN_OK;
}

jn_status jn_tok_normalize(const jn_tokenizer *t, const char *s, size_t n, char **out, size_t *out_len,
                           int *out_owned, jn_error *err) {
    char *cur = (char *)s;
    size_t cl = n;
    int cur_owned = 0;
    jn_status st = JN_OK;
    OnigRegion *region = NULL;
    for (int k = 0; k < t->n_norm; k++) {
        const jn_norm *nm = &t->norms[k];
        char *o = NULL;
        size_t ol = 0;
        int owned = 0;
        switch (nm->kind) {
        case JN_NORM_NFC:
        case JN_NORM_NFD:
        case JN_NORM_NFKC:
        case JN_NORM_NFKD:
        case JN_NORM_LOWERCASE:
            st = jn_unicode_normalize((int)nm->kind, cur, cl, &o, &ol, &owned, err);
            break;
        case JN_NORM_PREPEND:
            if (cl == 0) break;
            o = (char *)malloc(cl + nm->len + 1);
            if (!o) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); break; }
            memcpy(o, t->pool + nm->off, nm->len);
            memcpy(o + nm->len, cur, cl);
            ol = cl + nm->len;
            owned = 1;
            break;
        case JN_NORM_STRIP: {
            size_t a = 0, b = cl;
            uint32_t cp;
            if (nm->strip_left)
                while (a < b) {
                    size_t l = get_cp((const unsigned char *)cur + a, &cp);
                    if (!is_space_cp(cp)) break;
                    a += l;
                }
            if (nm->strip_right)
                while (b > a) {
                    size_t st0;
                    cp = cp_before(cur, b, &st0);
                    if (!is_space_cp(cp)) break;
                    b = st0;
                }
            if (a == 0 && b == cl) break;
            o = (char *)malloc(b - a + 1);
            if (!o) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); break; }
            memcpy(o, cur + a, b - a);
            ol = b - a;
            owned = 1;
            break;
        }
        case JN_NORM_REPLACE: {
            if (!region) region = onig_region_new();
            if (!region) { st = jn_fail(err, JN_ERR_NOMEM, "out of memory"); break; }
            replace_ctx r = {{0}, cur, 0, t->pool + nm->off, nm->len};
            st = find_iter(nm->re, region, cur, cl, replace_cb, &r, err);
            if (!st) {
                jn_buf_append(&r.out, cur + r.prev, cl - r.prev);
                jn_buf_append(&r.out, "", 1);
                if (r.out.oom) st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
            }
            if (st) { jn_buf_free(&r.out); break; }
            o = r.out.data;
            ol = r.out.len - 1;
            owned = 1;
            break;
        }
        }
        if (st) break;
        if (owned) {
            if (cur_owned) free(cur);
            cur = o;
            cl = ol;
            cur_owned = 1;
        }
    }
    if (region) onig_region_free(region, 1);
    if (st) {
        if (cur_owned) free(cur);
        *out = NULL;
        *out_len = 0;
        *out_owned = 0;
        return st;
    }
    *out = cur;
    *out_len = cl;
    *out_owned = cur_owned;
    return JN_OK;
}

/* ------------------------------------------------------------------ BPE */

static int bpe_reserve(enc_ctx *c, size_t n) {
    if (n <= c->scap) return 1;
    size_t cap = c->scap ? c->scap : 64;
    while (cap < n) cap *= 2;
    int32_t *a = (int32_t *)realloc(c->sid, cap * sizeof *a);
    if (!a) return 0;
    c->sid = a;
    if (!(a = (int32_t *)realloc(c->nxt, cap * sizeof *a))) return 0;
    c->nxt = a;
    if (!(a = (int32_t *)realloc(c->prv, cap * sizeof *a))) return 0;
    c->prv = a;
    if (!(a = (int32_t *)realloc(c->nid, cap * sizeof *a))) return 0;
    c->nid = a;
    uint32_t *r = (uint32_t *)realloc(c->rk, cap * sizeof *r);
    if (!r) return 0;
    c->rk = r;
    uint8_t *d = (uint8_t *)realloc(c->dead, cap);
    if (!d) return 0;
    c->dead = d;
    c->scap = cap;
    return 1;
}

static inline int heap_less(const heap_ent *a, const heap_ent *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static int heap_push(enc_ctx *c, uint32_t rank, uint32_t pos, int32_t id) {
    if (c->hn == c->hcap) {
        size_t nc = c->hcap ? c->hcap * 2 : 256;
        heap_ent *nh = (heap_ent *)realloc(c->heap, nc * sizeof *nh);
        if (!nh) return 0;
        c->heap = nh;
        c->hcap = nc;
    }
    heap_ent e = {rank, pos, id};
    size_t i = c->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&e, &c->heap[p])) break;
        c->heap[i] = c->heap[p];
        i = p;
    }
    c->heap[i] = e;
    return 1;
}

static heap_ent heap_pop(enc_ctx *c) {
    heap_ent top = c->heap[0];
    heap_ent last = c->heap[--c->hn];
    size_t i = 0, n = c->hn;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= n) break;
        size_t m = (l + 1 < n && heap_less(&c->heap[l + 1], &c->heap[l])) ? l + 1 : l;
        if (!heap_less(&c->heap[m], &last)) break;
        c->heap[i] = c->heap[m];
        i = m;
    }
    if (n) c->heap[i] = last;
    return top;
}

static void merge_small(enc_ctx *c, int m) {
    const jn_pairmap *pm = &c->t->merges;
    int32_t *sid = c->sid, *nxt = c->nxt, *prv = c->prv, *nid = c->nid;
    uint32_t *rk = c->rk;
    for (int i = 0; i < m; i++) {
        nxt[i] = i + 1 < m ? i + 1 : -1;
        prv[i] = i - 1;
        uint32_t r;
        int32_t id;
        rk[i] = (i + 1 < m && jn_pairmap_get(pm, sid[i], sid[i + 1], &r, &id)) ? (nid[i] = id, r) : UINT32_MAX;
    }
    for (;;) {
        int best = -1;
        uint32_t br = UINT32_MAX;
        for (int i = 0; i >= 0; i = nxt[i])
            if (rk[i] < br) { br = rk[i]; best = i; }
        if (best < 0) break;
        int j = nxt[best];
        sid[best] = nid[best];
        nxt[best] = nxt[j];
        if (nxt[j] >= 0) prv[nxt[j]] = best;
        uint32_t r;
        int32_t id;
        rk[best] = (nxt[best] >= 0 && jn_pairmap_get(pm, sid[best], sid[nxt[best]], &r, &id)) ? (nid[best] = id, r) : UINT32_MAX;
        int p = prv[best];
        if (p >= 0) rk[p] = jn_pairmap_get(pm, sid[p], sid[best], &r, &id) ? (nid[p] = id, r) : UINT32_MAX;
    }
}

static int merge_heap(enc_ctx *c, int m) {
    const jn_pairmap *pm = &c->t->merges;
    int32_t *sid = c->sid, *nxt = c->nxt, *prv = c->prv;
    uint8_t *dead = c->dead;
    c->hn = 0;
    for (int i = 0; i < m; i++) {
        nxt[i] = i + 1 < m ? i + 1 : -1;
        prv[i] = i - 1;
        dead[i] = 0;
    }
    for (int i = 0; i + 1 < m; i++) {
        uint32_t r;
        int32_t id;
        if (jn_pairmap_get(pm, sid[i], sid[i + 1], &r, &id) && !heap_push(c, r, (uint32_t)i, id)) return 0;
    }
    while (c->hn) {
        heap_ent e = heap_pop(c);
        int i = (int)e.pos;
        if (dead[i] || nxt[i] < 0) continue;
        int j = nxt[i];
        uint32_t r;
        int32_t id;
        if (!jn_pairmap_get(pm, sid[i], sid[j], &r, &id) || id != e.new_id) continue; /* stale entry */
        sid[i] = id;
        dead[j] = 1;
        nxt[i] = nxt[j];
        if (nxt[j] >= 0) prv[nxt[j]] = i;
        int p = prv[i];
        if (p >= 0 && jn_pairmap_get(pm, sid[p], sid[i], &r, &id) && !heap_push(c, r, (uint32_t)p, id)) return 0;
        if (nxt[i] >= 0 && jn_pairmap_get(pm, sid[i], sid[nxt[i]], &r, &id) && !heap_push(c, r, (uint32_t)i, id)) return 0;
    }
    return 1;
}

/* BPE::merge_word + Word::merge_all for one pre-tokenized word (raw bytes when byte-level). */
static jn_status bpe_word(enc_ctx *c, const char *w, size_t n) {
    const jn_tokenizer *t = c->t;
    if (t->byte_level && n == 1 && t->byte_id[(unsigned char)w[0]] >= 0) {
        emit(c, t->byte_id[(unsigned char)w[0]]);
        return JN_OK;
    }
    if (t->ignore_merges) {
        int32_t id = jn_strmap_get(t->byte_level ? &t->vocab_raw : &t->vocab, t->pool, w, n);
        if (id >= 0) {
            emit(c, id);
            return JN_OK;
        }
    }
    jn_cache_slot *slot = NULL;
    pthread_mutex_t *lock = NULL;
    uint64_t h = 0;
    if (t->cache && n <= JN_TOK_CACHE_KEY) {
        h = jn_tok_hash(w, n);
        size_t si = (size_t)(h ^ (h >> 29)) & (JN_TOK_CACHE_SLOTS - 1);
        slot = &t->cache[si];
        lock = (pthread_mutex_t *)&t->cache_lock[si % JN_TOK_CACHE_STRIPES];
        if (pthread_mutex_trylock(lock) == 0) {
            int hit = slot->klen == n && slot->hash == h && memcmp(slot->key, w, n) == 0;
            int32_t got[JN_TOK_CACHE_IDS];
            int ng = hit ? slot->nids : 0;
            if (hit) memcpy(got, slot->ids, (size_t)ng * sizeof got[0]);
            pthread_mutex_unlock(lock);
            if (hit) {
                for (int k = 0; k < ng; k++) emit(c, got[k]);
                return c->oom ? jn_fail(c->err, JN_ERR_NOMEM, "out of memory") : JN_OK;
            }
        }
    }
    size_t first_out = c->n;
    if (!bpe_reserve(c, n + 8)) return jn_fail(c->err, JN_ERR_NOMEM, "out of memory");
    int m = 0;
    int32_t *sid = c->sid;
    int has_unk = 0;
    size_t i = 0;
    while (i < n) {
        size_t l = t->byte_level ? 1 : u8len((unsigned char)w[i]);
        if (i + l > n) l = n - i;
        int32_t id = t->byte_level ? t->byte_id[(unsigned char)w[i]] : jn_strmap_get(&t->vocab, t->pool, w + i, l);
        if (id >= 0) {
            if (has_unk) { sid[m++] = t->unk_id; has_unk = 0; }
            sid[m++] = id;
        } else {
            int done = 0;
            if (t->byte_fallback && !t->byte_level) {
                done = 1;
                for (size_t k = 0; k < l; k++)
                    if (t->byte_fallback_id[(unsigned char)w[i + k]] < 0) done = 0;
                if (done)
                    for (size_t k = 0; k < l; k++) sid[m++] = t->byte_fallback_id[(unsigned char)w[i + k]];
            }
            if (!done && t->unk_id >= 0) {
                if (has_unk && !t->fuse_unk) sid[m++] = t->unk_id;
                has_unk = 1;
            }
        }
        i += l;
    }
    if (has_unk) sid[m++] = t->unk_id;
    if (m > 1) {
        if (m <= BPE_SMALL) merge_small(c, m);
        else if (!merge_heap(c, m)) return jn_fail(c->err, JN_ERR_NOMEM, "out of memory");
        for (int k = 0; k >= 0; k = c->nxt[k]) emit(c, sid[k]);
    } else if (m == 1) {
        emit(c, sid[0]);
    }
    if (c->oom) return jn_fail(c->err, JN_ERR_NOMEM, "out of memory");
    size_t made = c->n - first_out;
    if (slot && made <= JN_TOK_CACHE_IDS && pthread_mutex_trylock(lock) == 0) {
        slot->hash = h;
        slot->klen = (uint8_t)n;
        slot->nids = (uint8_t)made;
        memcpy(slot->key, w, n);
        memcpy(slot->ids, c->ids + first_out, made * sizeof(int32_t));
        pthread_mutex_unlock(lock);
    }
    return JN_OK;
}

/* ------------------------------------------------------------------ pre-tokenizers */

static jn_status pretok(enc_ctx *c, int stage, const char *s, size_t n);

typedef struct split_state {
    enc_ctx *c;
    int stage;
    const jn_pretok *pt;
    const char *base;
    size_t prev;
    /* pending piece of the behaviour merger */
    int has, pm, prev_m, waiting;
    size_t ps, pe;
} split_state;

static jn_status flush_pending(split_state *ss) {
    if (!ss->has) return JN_OK;
    ss->has = 0;
    if (ss->pe > ss->ps) return pretok(ss->c, ss->stage + 1, ss->base + ss->ps, ss->pe - ss->ps);
    return JN_OK;
}

static jn_status set_pending(split_state *ss, size_t s, size_t e, int m) {
    jn_status st = flush_pending(ss);
    ss->has = 1;
    ss->ps = s;
    ss->pe = e;
    ss->pm = m;
    return st;
}

/* One (start, end, is_match) event of find_matches, through the delimiter behaviour. */
static jn_status feed(split_state *ss, size_t s, size_t e, int m) {
    if (ss->pt->invert) m = !m;
    jn_status st = JN_OK;
    switch (ss->pt->behavior) {
    case JN_SPLIT_ISOLATED:
        if (e > s) st = pretok(ss->c, ss->stage + 1, ss->base + s, e - s);
        break;
    case JN_SPLIT_REMOVED:
        if (!m && e > s) st = pretok(ss->c, ss->stage + 1, ss->base + s, e - s);
        break;
    case JN_SPLIT_CONTIGUOUS:
        if (ss->has && m == ss->pm) ss->pe = e;
        else st = set_pending(ss, s, e, m);
        break;
    case JN_SPLIT_MERGED_PREV:
        if (m && !ss->prev_m && ss->has) ss->pe = e;
        else st = set_pending(ss, s, e, m);
        ss->prev_m = m;
        break;
    case JN_SPLIT_MERGED_NEXT:
        if (ss->has && ss->waiting && !m) {
            ss->pe = e;
            ss->waiting = 0;
        } else {
            st = set_pending(ss, s, e, m);
            ss->waiting = m;
        }
        break;
    }
    return st;
}

static jn_status split_match(void *user, size_t s, size_t e) {
    split_state *ss = (split_state *)user;
    jn_status st = JN_OK;
    if (ss->prev != s) st = feed(ss, ss->prev, s, 0);
    if (!st) st = feed(ss, s, e, 1);
    ss->prev = e;
    return st;
}

static jn_status pretok(enc_ctx *c, int stage, const char *s, size_t n) {
    if (n == 0) return JN_OK;
    const jn_tokenizer *t = c->t;
    if (stage == t->n_pretok) return bpe_word(c, s, n);
    const jn_pretok *pt = &t->pretoks[stage];
    if (pt->kind == JN_PT_PREFIX_SPACE) {
        if (s[0] == ' ') return pretok(c, stage + 1, s, n);
        if (n + 1 > c->pfx_cap) {
            size_t cap = (n + 1) * 2;
            char *np = (char *)realloc(c->pfx, cap);
            if (!np) return jn_fail(c->err, JN_ERR_NOMEM, "out of memory");
            c->pfx = np;
            c->pfx_cap = cap;
        }
        c->pfx[0] = ' ';
        memcpy(c->pfx + 1, s, n);
        return pretok(c, stage + 1, c->pfx, n + 1);
    }
    split_state ss;
    memset(&ss, 0, sizeof ss);
    ss.c = c;
    ss.stage = stage;
    ss.pt = pt;
    ss.base = s;
    jn_status st = find_iter(pt->re, c->region, s, n, split_match, &ss, c->err);
    if (!st && ss.prev != n) st = feed(&ss, ss.prev, n, 0);
    if (!st) st = flush_pending(&ss);
    return st;
}

/* ------------------------------------------------------------------ added tokens */

typedef jn_status (*text_fn)(enc_ctx *c, const char *s, size_t n);

/* AddedVocabulary::find_matches over s[0..n): added tokens become ids, the text between goes to fn. */
static jn_status added_split(enc_ctx *c, const jn_trie *tr, const char *s, size_t n, text_fn fn) {
    if (tr->n_pat == 0 || n == 0) return fn(c, s, n);
    const jn_tokenizer *t = c->t;
    size_t pos = 0, start_off = 0;
    jn_status st;
    while (pos < n) {
        int32_t best = -1;
        size_t best_len = 0, i;
        for (i = pos; i < n; i++) {
            int32_t node = tr->root_child[(unsigned char)s[i]];
            if (node < 0) continue;
            size_t k = i;
            for (;;) {
                k++;
                if (tr->nodes[node].token >= 0) {
                    best = tr->nodes[node].token;
                    best_len = k - i;
                }
                if (k >= n) break;
                int32_t ch = tr->nodes[node].child;
                while (ch >= 0 && tr->nodes[ch].byte != (unsigned char)s[k]) ch = tr->nodes[ch].sibling;
                if (ch < 0) break;
                node = ch;
            }
            if (best >= 0) break;
        }
        if (best < 0) break;
        size_t ms = i, me = i + best_len;
        pos = me;
        const jn_added *a = &t->added[tr->pat_added[best]];
        size_t start = ms, stop = me;
        if (a->single_word) {
            size_t st0;
            int start_space = ms == 0 || !is_word_cp(cp_before(s, ms, &st0));
            uint32_t cp = 0;
            if (me < n) get_cp((const unsigned char *)s + me, &cp);
            int stop_space = me == n || !is_word_cp(cp);
            if (!start_space || !stop_space) continue;
        }
        if (a->lstrip) {
            size_t ns = ms;
            while (ns > 0) {
                size_t st0;
                if (!is_space_cp(cp_before(s, ns, &st0))) break;
                ns = st0;
            }
            start = ns > start_off ? ns : start_off;
        }
        if (a->rstrip) {
            while (stop < n) {
                uint32_t cp;
                size_t l = get_cp((const unsigned char *)s + stop, &cp);
                if (!is_space_cp(cp)) break;
                stop += l;
            }
        }
        if (start_off < start && (st = fn(c, s + start_off, start - start_off))) return st;
        emit(c, a->id);
        start_off = stop;
    }
    if (start_off < n) return fn(c, s + start_off, n - start_off);
    return JN_OK;
}

static jn_status text_normalized(enc_ctx *c, const char *s, size_t n) { return pretok(c, 0, s, n); }

static jn_status text_raw(enc_ctx *c, const char *s, size_t n) {
    if (n == 0) return JN_OK;
    const jn_tokenizer *t = c->t;
    if (t->n_norm == 0) return added_split(c, &t->trie_norm, s, n, text_normalized);
    char *ns;
    size_t nl;
    int owned;
    jn_status st = jn_tok_normalize(t, s, n, &ns, &nl, &owned, c->err);
    if (st) return st;
    st = added_split(c, &t->trie_norm, ns, nl, text_normalized);
    if (owned) free(ns);
    return st;
}

/* ------------------------------------------------------------------ public */

jn_status jn_tokenizer_encode(const jn_tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids,
                              size_t *n, jn_error *err) {
    *ids = NULL;
    *n = 0;
    if (!t) return jn_fail(err, JN_ERR_USAGE, "tokenizer: no tokenizer");
    if (!text && len) return jn_fail(err, JN_ERR_USAGE, "tokenizer: NULL text");
    size_t bad = jn_utf8_valid_prefix(text, len);
    if (bad != len)
        return jn_fail(err, JN_ERR_FORMAT, "tokenizer: input text is not valid UTF-8 (byte 0x%02X at offset %zu)",
                       (unsigned char)text[bad], bad);
    enc_ctx c;
    memset(&c, 0, sizeof c);
    c.t = t;
    c.err = err;
    c.region = onig_region_new();
    jn_status st = JN_OK;
    if (!c.region) st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
    if (!st && add_special)
        for (size_t i = 0; i < t->n_prefix; i++) emit(&c, t->prefix[i]);
    if (!st && len) st = added_split(&c, &t->trie_raw, text, len, text_raw);
    if (!st && add_special)
        for (size_t i = 0; i < t->n_suffix; i++) emit(&c, t->suffix[i]);
    if (!st && !c.ids) emit(&c, 0), c.n = 0; /* always return an allocation */
    if (!st && c.oom) st = jn_fail(err, JN_ERR_NOMEM, "out of memory (%zu ids)", c.n);
    if (c.region) onig_region_free(c.region, 1);
    free(c.pfx);
    free(c.sid);
    free(c.nxt);
    free(c.prv);
    free(c.nid);
    free(c.rk);
    free(c.dead);
    free(c.heap);
    if (st) {
        free(c.ids);
        return st;
    }
    *ids = c.ids;
    *n = c.n;
    return JN_OK;
}
