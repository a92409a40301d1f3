/* decoder/tokenizer.h — an exact Hugging Face `tokenizer.json` byte-level BPE tokenizer.
 *
 * Reproduces what the Rust `tokenizers` library (0.2x) does with such a file, token for token:
 *   1. added tokens (special and not) are cut out first, leftmost-longest as its Aho-Corasick
 *      matcher does, honouring each token's single_word / lstrip / rstrip / normalized flags
 *      ("normalized" ones are matched in the normalized text);
 *   2. the normalizer (Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend) runs on each
 *      remaining piece;
 *   3. pre-tokenizers (Sequence, Split with all five behaviours and invert, Digits, ByteLevel with
 *      its GPT-2 regex, Whitespace, WhitespaceSplit) cut the pieces into words;
 *   4. the BPE model merges each word (rank order, leftmost first; ignore_merges; unk/byte_fallback).
 * Decoding maps ids back through the ByteLevel decoder and replaces invalid UTF-8 the way Rust's
 * String::from_utf8_lossy does (one U+FFFD per maximal invalid subpart).
 *
 * Regexes are compiled with Oniguruma using the file's own patterns, because that is the engine the
 * Rust library itself uses (its `onig` crate, default syntax, UTF-8): the same engine gives the same
 * matches on every pattern quirk (\s, \p{..}, (?i:..), lookahead, `$`), which a hand-written matcher
 * or another engine could not promise. Unicode normalization uses utf8proc when the build has it
 * (JANUS_HAVE_UTF8PROC); without it a file with an NFC/NFKC normalizer is refused at load.
 *
 * "add_special" means what Python transformers' tokenizer.encode(text) returns: for
 * LlamaTokenizerFast configs BOS (when add_bos_token, default true) and EOS (when add_eos_token);
 * for other classes, or without a tokenizer_config, what the file's post_processor adds
 * (TemplateProcessing single template; ByteLevel adds nothing).
 *
 * A loaded tokenizer is immutable: encode/decode may run concurrently on one tokenizer. */
#ifndef JANUS_DECODER_TOKENIZER_H
#define JANUS_DECODER_TOKENIZER_H

#include "engine/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jn_tokenizer jn_tokenizer;

/* Parses tokenizer.json (and optionally tokenizer_config.json; NULL/0 = none). Every regex is
 * compiled here. NULL + err (JN_ERR_FORMAT naming the field, e.g. "model.merges[12]: token 'xy' not
 * in vocab") on a malformed or unsupported file. */
jn_tokenizer *jn_tokenizer_load(const char *tokenizer_json, size_t len, const char *tokenizer_config_json,
                                size_t cfg_len, jn_error *err);
void jn_tokenizer_free(jn_tokenizer *t);

/* Encodes text[0..len) (must be valid UTF-8, may contain NUL). *ids is malloc'ed (non-NULL even when
 * *n == 0); the caller frees it. Thread-safe. */
jn_status jn_tokenizer_encode(const jn_tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids,
                              size_t *n, jn_error *err);
/* Decodes ids; ids outside the vocabulary are dropped (as the Rust library does). *text is malloc'ed
 * and NUL-terminated (may contain NUL: use *len). skip_special drops special added tokens. */
jn_status jn_tokenizer_decode(const jn_tokenizer *t, const int32_t *ids, size_t n, int skip_special, char **text,
                              size_t *len, jn_error *err);

/* Id of a token string (added tokens first, then the model vocabulary, as written in the file);
 * -1 if absent. */
int32_t jn_tokenizer_token_id(const jn_tokenizer *t, const char *token, size_t len);
/* Token string of an id (added token content or vocabulary entry, as written in the file); NULL if
 * the id is unknown. Not NUL-terminated: use *len. */
const char *jn_tokenizer_token_str(const jn_tokenizer *t, int32_t id, size_t *len);
/* 1 if id is an added token (added_tokens of the file, special or not), else 0. */
int jn_tokenizer_is_added(const jn_tokenizer *t, int32_t id);
/* 1 if id is a special added token (dropped by skip_special), else 0. */
int jn_tokenizer_is_special(const jn_tokenizer *t, int32_t id);
/* BOS / EOS ids from tokenizer_config.json (bos_token / eos_token), -1 when not known. */
int32_t jn_tokenizer_bos(const jn_tokenizer *t);
int32_t jn_tokenizer_eos(const jn_tokenizer *t);
/* One past the largest id (model vocabulary and added tokens). */
size_t jn_tokenizer_vocab_size(const jn_tokenizer *t);

/* Streaming decode for printing tokens as they are generated: push ids one at a time and get back
 * only complete UTF-8 (bytes of a character split across tokens are held back until completed;
 * invalid bytes become U+FFFD at once). flush() emits U+FFFD for a dangling partial sequence, as the
 * Rust library's lossy decode does. The returned piece points into the stream and stays valid until
 * the next call on it. Concatenating all pieces equals jn_tokenizer_decode() of all pushed ids. */
typedef struct jn_detok_stream jn_detok_stream;
jn_detok_stream *jn_detok_stream_create(const jn_tokenizer *t, int skip_special); /* NULL: out of memory */
jn_status jn_detok_stream_push(jn_detok_stream *s, int32_t id, const char **piece, size_t *len, jn_error *err);
void jn_detok_stream_flush(jn_detok_stream *s, const char **piece, size_t *len);
void jn_detok_stream_free(jn_detok_stream *s);

/* Strict UTF-8 check (no overlongs, surrogates or code points above U+10FFFF). Returns len if valid,
 * else the byte offset of the first invalid sequence. */
size_t jn_utf8_valid_prefix(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
