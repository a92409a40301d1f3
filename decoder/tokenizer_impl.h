/* decoder/tokenizer_impl.h — private layout of jn_tokenizer, shared by tokenizer.c (loading,
 * decoding, lookups) and tokenizer_encode.c (the encode pipeline). Not for other components.
 *
 * All token strings live in one byte pool owned by the tokenizer (offsets, not pointers, so the
 * pool can grow while loading). Hash tables are open-addressing with linear probing. */
#ifndef JANUS_DECODER_TOKENIZER_IMPL_H
#define JANUS_DECODER_TOKENIZER_IMPL_H

#include <oniguruma.h>
#include <pthread.h>
#include <stdint.h>

#include "tokenizer.h"

/* ---- string -> id map over the pool ---- */
typedef struct jn_strmap {
    uint32_t *slots;  /* entry index + 1, 0 = empty; capacity mask+1 (power of two) */
    size_t mask;
    uint32_t *off, *len; /* entries: key = pool[off .. off+len) */
    uint64_t *hash;
    int32_t *val;
    size_t n, cap;
} jn_strmap;

/* ---- (left id, right id) -> (rank, merged id) ---- */
typedef struct jn_pair_ent {
    uint64_t key;  /* left << 32 | right; UINT64_MAX = empty */
    uint32_t rank;
    int32_t id;
} jn_pair_ent;

typedef struct jn_pairmap {
    jn_pair_ent *e; /* one 16-byte entry per slot: a lookup touches one cache line */
    size_t mask, n;
} jn_pairmap;

/* ---- added tokens and their leftmost-longest matcher ---- */
typedef struct jn_added {
    uint32_t off, len;       /* content in the pool */
    int32_t id;
    uint8_t special, single_word, lstrip, rstrip, normalized;
} jn_added;

typedef struct jn_trie_node {
    int32_t child, sibling; /* first child, next sibling; -1 = none */
    int32_t token;          /* index into the pattern list, -1 = none */
    uint8_t byte;
} jn_trie_node;

typedef struct jn_trie {
    jn_trie_node *nodes;   /* node 0 = root (its children are in root_child) */
    size_t n, cap;
    int32_t root_child[256];
    uint32_t *pat_off, *pat_len; /* pattern bytes in the pool (normalized content for the normalized trie) */
    int32_t *pat_added;          /* index into t->added */
    size_t n_pat;
} jn_trie;

/* ---- normalizers ---- */
typedef enum jn_norm_kind {
    JN_NORM_NFC, JN_NORM_NFD, JN_NORM_NFKC, JN_NORM_NFKD, JN_NORM_LOWERCASE, JN_NORM_REPLACE, JN_NORM_PREPEND,
    JN_NORM_STRIP,
} jn_norm_kind;

typedef struct jn_norm {
    jn_norm_kind kind;
    OnigRegex re;            /* REPLACE */
    uint32_t off, len;       /* REPLACE content / PREPEND text in the pool */
    int strip_left, strip_right;
} jn_norm;

/* ---- pre-tokenizers ---- */
typedef enum jn_split_behavior {
    JN_SPLIT_REMOVED, JN_SPLIT_ISOLATED, JN_SPLIT_MERGED_PREV, JN_SPLIT_MERGED_NEXT, JN_SPLIT_CONTIGUOUS,
} jn_split_behavior;

typedef enum jn_pretok_kind { JN_PT_SPLIT, JN_PT_PREFIX_SPACE } jn_pretok_kind;

typedef struct jn_pretok {
    jn_pretok_kind kind;
    OnigRegex re;
    jn_split_behavior behavior;
    int invert;
} jn_pretok;

#define JN_TOK_MAX_PRETOK 32
#define JN_TOK_MAX_NORM 32

enum { JN_DEC_BYTELEVEL = 1, JN_DEC_NONE = 0 };

/* BPE word cache (word bytes -> ids), shared by all encode calls on a tokenizer: direct-mapped,
 * lock-striped, and only try-locked, so concurrent encodes never wait on it (a busy stripe is simply
 * a cache miss). Words up to 62 bytes with up to 16 ids are cached. */
#define JN_TOK_CACHE_SLOTS 16384
#define JN_TOK_CACHE_STRIPES 64
#define JN_TOK_CACHE_KEY 62
#define JN_TOK_CACHE_IDS 16
typedef struct jn_cache_slot {
    uint64_t hash;
    uint8_t klen, nids; /* klen 0 = empty */
    char key[JN_TOK_CACHE_KEY];
    int32_t ids[JN_TOK_CACHE_IDS];
} jn_cache_slot;

struct jn_tokenizer {
    char *pool;
    size_t pool_len, pool_cap;

    /* model vocabulary */
    jn_strmap vocab;     /* token string as written -> id */
    jn_strmap vocab_raw; /* byte-level: the raw bytes a token stands for -> id */
    size_t vocab_count;  /* distinct entries (the Rust model's vocab size) */
    jn_pairmap merges;
    int byte_level;      /* the pre-tokenizer maps bytes to chars: BPE symbols are bytes */
    int32_t byte_id[256];/* byte-level: id of each single byte, -1 = not in vocab */
    int ignore_merges, byte_fallback, fuse_unk;
    int32_t unk_id;      /* -1 = none */
    int32_t byte_fallback_id[256];

    /* ids */
    size_t n_ids;                 /* one past the largest id */
    uint32_t *tok_off, *tok_len;  /* token string per id (added content wins); len UINT32_MAX = no token */
    uint32_t *dec_off, *dec_len;  /* what the decoder makes of each id */
    uint8_t *id_special;
    int decoder;

    /* added tokens */
    jn_added *added;
    size_t n_added;
    jn_strmap added_map; /* content -> id */
    jn_trie trie_raw, trie_norm;

    jn_norm norms[JN_TOK_MAX_NORM];
    int n_norm;
    jn_pretok pretoks[JN_TOK_MAX_PRETOK];
    int n_pretok;

    /* add_special */
    int32_t *prefix, *suffix;
    size_t n_prefix, n_suffix;
    int32_t bos, eos;

    jn_cache_slot *cache; /* [JN_TOK_CACHE_SLOTS], NULL = no cache */
    pthread_mutex_t cache_lock[JN_TOK_CACHE_STRIPES];
};

/* Pool / map helpers (tokenizer.c). */
uint64_t jn_tok_hash(const void *p, size_t n);
int32_t jn_strmap_get(const jn_strmap *m, const char *pool, const char *s, size_t n);
static inline int jn_pairmap_get(const jn_pairmap *m, int32_t a, int32_t b, uint32_t *rank, int32_t *id) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h ^ (h >> 32)) & m->mask;
    for (;;) {
        uint64_t k = m->e[i].key;
        if (k == key) {
            *rank = m->e[i].rank;
            *id = m->e[i].id;
            return 1;
        }
        if (k == UINT64_MAX) return 0;
        i = (i + 1) & m->mask;
    }
}

/* Regex helpers (tokenizer_encode.c). */
jn_status jn_tok_regex_compile(const char *pat, size_t len, int literal, OnigRegex *out, const char *field,
                               jn_error *err);
/* Applies the normalizers to s[0..n); *out is malloc'ed (may be s itself when nothing changed:
 * then *out_owned = 0). */
jn_status jn_tok_normalize(const jn_tokenizer *t, const char *s, size_t n, char **out, size_t *out_len,
                           int *out_owned, jn_error *err);
int jn_tok_have_unicode_norm(void);
/* unicode_norm.c: kind is JN_NORM_NFC/NFD/NFKC/NFKD/LOWERCASE; *out is s itself (owned 0) when the
 * text is unchanged, else malloc'ed (owned 1). */
jn_status jn_unicode_normalize(int kind, const char *s, size_t n, char **out, size_t *out_len, int *owned,
                               jn_error *err);
/* unicode_norm.c: appends "[<ranges>]" ("[^…]" if negate) for a general category short name
 * (L, Lu, N, Nd, P, S, M, Z, C, …) from the Unicode tables of this build; 0 (nothing appended) when
 * the name is not one, or the build has no tables (the regex engine's own \p{} is used then). */
struct jn_buf;
int jn_unicode_gc_class(const char *name, size_t len, int negate, struct jn_buf *out);

#endif
