/* engine/json.h — a small strict JSON (RFC 8259) DOM parser and writer helpers.
 *
 * Why our own and not cJSON: strings here carry explicit lengths, so text containing U+0000
 * (the tokenizer corpus has some) survives; every length is bounded; nesting depth is limited;
 * duplicate keys keep the last value (as Python's json and serde do). Invalid UTF-8 and lone
 * surrogates in \u escapes are errors with the byte offset in the message. */
#ifndef JANUS_ENGINE_JSON_H
#define JANUS_ENGINE_JSON_H

#include "engine/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum jn_json_type {
    JN_JSON_NULL,
    JN_JSON_BOOL,
    JN_JSON_NUMBER,
    JN_JSON_STRING,
    JN_JSON_ARRAY,
    JN_JSON_OBJECT,
} jn_json_type;

typedef struct jn_json jn_json;
struct jn_json {
    jn_json_type type;
    int boolean;          /* JN_JSON_BOOL */
    double number;        /* JN_JSON_NUMBER */
    int is_integer;       /* number written without fraction/exponent and fits in int64 */
    int64_t integer;      /* valid when is_integer */
    char *str;            /* JN_JSON_STRING: UTF-8, NUL-terminated, may contain NUL: use len */
    size_t len;
    size_t n;             /* ARRAY/OBJECT: number of items */
    jn_json **items;      /* ARRAY elements / OBJECT values, in document order */
    char **keys;          /* OBJECT keys (NUL-terminated) */
    size_t *key_lens;
};

/* Parses a whole document (trailing whitespace allowed, nothing else). All nodes live in one
 * allocation pool freed by jn_json_free(root). NULL + err on failure
 * ("json: line 3 col 7: expected ',' or '}'"). */
jn_json *jn_json_parse(const char *text, size_t len, jn_error *err);
/* Reads and parses a file; error messages name the file. */
jn_json *jn_json_parse_file(const char *path, jn_error *err);
void jn_json_free(jn_json *root);

/* Object member by key (last one wins), NULL if absent or v is not an object. */
const jn_json *jn_json_get(const jn_json *obj, const char *key);
/* Convenience: typed getters that return 0 and leave *out untouched if absent/wrong type. */
int jn_json_get_int(const jn_json *obj, const char *key, int64_t *out);
int jn_json_get_num(const jn_json *obj, const char *key, double *out);
int jn_json_get_bool(const jn_json *obj, const char *key, int *out);
const char *jn_json_get_str(const jn_json *obj, const char *key); /* NULL if absent/not string */

/* Growable byte buffer for writing JSON (and anything else). */
typedef struct jn_buf {
    char *data;
    size_t len, cap;
    int oom; /* set when an append failed; data stays valid */
} jn_buf;
void jn_buf_append(jn_buf *b, const void *p, size_t n);
void jn_buf_puts(jn_buf *b, const char *s);
void jn_buf_printf(jn_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void jn_buf_free(jn_buf *b);
/* Appends s[0..n) as a JSON string literal with quotes; escapes ", \, control chars (\n \r \t
 * \b \f, others \u00XX), DEL and U+2028/U+2029 as \uXXXX; other UTF-8 is written raw. */
void jn_json_write_string(jn_buf *b, const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
