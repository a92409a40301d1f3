/* engine/table.h — component tables: the one place a model component (vision/, vq_tokenizer/,
 * decoder/) describes its GGUF metadata keys and its tensors.
 *
 * Why: the converter writes a file, the loader reads it back and docs/gguf-format.md describes it.
 * When each of them lists keys and tensors by hand they drift apart. A component instead declares
 *   - a key table (jn_key_spec[]): name, GGUF type, the field of the component's settings struct
 *     that holds it, required or optional with its default, the valid range;
 *   - a tensor enumerator: a function that, given the hparams, announces every tensor once (name,
 *     shape from the hparams, dtype rule, unused flag) to a sink, together with the jn_weight slot
 *     the loader binds it to.
 * The converter fills the settings structs from the checkpoint's JSON and writes them with
 * jn_keys_write(); the loader reads and range-checks them with jn_keys_read(); binding runs the
 * enumerator into a jn_bind_sink; the converter runs the same enumerator into a list; a test
 * checks every key and tensor against the document. Adding a tensor is one line in an enumerator. */
#ifndef JANUS_ENGINE_TABLE_H
#define JANUS_ENGINE_TABLE_H

#include <stddef.h>

#include "io/gguf.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ metadata keys */

/* How a key's value is stored in the component's settings struct. */
typedef enum jn_field {
    JN_FIELD_NONE = 0, /* no field: the key is written and read by hand (documented and type-checked only) */
    JN_FIELD_INT,      /* int (u32/i32/bool keys, or int[n] for integer arrays) */
    JN_FIELD_U8,       /* uint8_t[n] (integer arrays with range 0..255) */
    JN_FIELD_FLOAT,    /* float (f32 key or f32 array) */
    JN_FIELD_DOUBLE,   /* double (f64 key) */
    JN_FIELD_STR,      /* char * (malloc'ed by jn_keys_read, freed by jn_keys_free) */
    JN_FIELD_CHARS,    /* char[field_size], NUL-terminated */
} jn_field;

typedef struct jn_key_spec {
    const char *key;
    jn_gguf_type type;   /* JN_GGUF_UINT32 / INT32 / FLOAT32 / FLOAT64 / BOOL / STRING, or ARRAY */
    jn_gguf_type elem;   /* element type of an ARRAY */
    jn_field field;
    size_t offset;       /* offsetof(struct, member) */
    size_t field_size;   /* JN_FIELD_CHARS: capacity */
    int n_min, n_max;    /* ARRAY: length bounds */
    size_t count_offset; /* ARRAY with n_min < n_max: int member receiving the length */
    int required;        /* 0: absent -> default (numbers: def; strings: ""; arrays: not allowed) */
    double def;
    double lo, hi;       /* valid range of a number (each array element); NaN/inf always refused */
    int lo_open;         /* 1: value must be > lo (e.g. eps, std, rope_theta) */
    const char *doc;     /* one line: what the value is */
} jn_key_spec;

/* Table entry helpers: JN_KEY_*(key, struct type, member, required, default, range..., doc). */
#define JN_KEY_INT(k, T, m, req, def, lo, hi, doc) \
    {k, JN_GGUF_UINT32, 0, JN_FIELD_INT, offsetof(T, m), 0, 0, 0, 0, req, def, lo, hi, 0, doc}
#define JN_KEY_BOOL(k, T, m, req, def, lo, doc) \
    {k, JN_GGUF_BOOL, 0, JN_FIELD_INT, offsetof(T, m), 0, 0, 0, 0, req, def, lo, 1, 0, doc}
#define JN_KEY_F32_POS(k, T, m, req, def, hi, doc) \
    {k, JN_GGUF_FLOAT32, 0, JN_FIELD_FLOAT, offsetof(T, m), 0, 0, 0, 0, req, def, 0, hi, 1, doc}
#define JN_KEY_F64_POS(k, T, m, req, def, hi, doc) \
    {k, JN_GGUF_FLOAT64, 0, JN_FIELD_DOUBLE, offsetof(T, m), 0, 0, 0, 0, req, def, 0, hi, 1, doc}
#define JN_KEY_STR(k, T, m, req, doc) \
    {k, JN_GGUF_STRING, 0, JN_FIELD_STR, offsetof(T, m), 0, 0, 0, 0, req, 0, 0, 0, 0, doc}
#define JN_KEY_CHARS(k, T, m, req, doc) \
    {k, JN_GGUF_STRING, 0, JN_FIELD_CHARS, offsetof(T, m), sizeof(((T *)0)->m), 0, 0, 0, req, 0, 0, 0, 0, doc}
/* Fixed-length numeric array (elements in [lo, hi], or > lo when lo_open). */
#define JN_KEY_ARR(k, elem, fld, T, m, len, lo, hi, lo_open, doc) \
    {k, JN_GGUF_ARRAY, elem, fld, offsetof(T, m), 0, len, len, 0, 1, 0, lo, hi, lo_open, doc}
/* Variable-length integer array; cnt: int member receiving the length. */
#define JN_KEY_INT_ARR(k, T, m, cnt, nmin, nmax, lo, hi, doc) \
    {k, JN_GGUF_ARRAY, JN_GGUF_UINT32, JN_FIELD_INT, offsetof(T, m), 0, nmin, nmax, offsetof(T, cnt), 1, 0, lo, hi, 0, doc}
/* A key written and read by hand (tokenizer arrays, general.*): documented and type-checked. */
#define JN_KEY_BY_HAND(k, type, elem, req, doc) {k, type, elem, JN_FIELD_NONE, 0, 0, 1, 1 << 30, 0, req, 0, 0, 0, 0, doc}

/* Reads every key of the table from g into the struct at dst (fields not in the table are left
 * alone). Missing required key, wrong type, wrong array length, a non-finite or out-of-range value:
 * JN_ERR_FORMAT "FILE: metadata 'KEY' = VALUE must be > 0" (the key and the file named). */
jn_status jn_keys_read(const jn_gguf *g, const jn_key_spec *t, size_t n, void *dst, jn_error *err);
/* Range checks of the values in src (what jn_keys_read checks after reading); where names the
 * source in messages ("config.json"). The converter runs it before writing anything. */
jn_status jn_keys_check(const jn_key_spec *t, size_t n, const void *src, const char *where, jn_error *err);
/* Writes every key that has a field (optional empty strings are left out). */
void jn_keys_write(jn_gguf_writer *w, const jn_key_spec *t, size_t n, const void *src);
/* Frees the JN_FIELD_STR members jn_keys_read allocated (and sets them to NULL). */
void jn_keys_free(const jn_key_spec *t, size_t n, void *dst);
/* "u32", "f32", "str", "u32[3]", "u32[1..8]", "str[]" for documentation. */
void jn_key_type_name(const jn_key_spec *k, char *buf, size_t n);

/* ------------------------------------------------------------------ tensors */

/* What dtype a tensor is written as and which ones the loader accepts. */
typedef enum jn_tensor_rule {
    JN_TENSOR_F32,    /* norms and biases: always f32 */
    JN_TENSOR_QUANT,  /* big matmul weights: the --type, q8_0/q4_0 when the row length is a multiple of 32 */
    JN_TENSOR_MATRIX, /* other matmul weights: the --type, bf16 in quantized files; loader accepts any type */
    JN_TENSOR_FLOAT,  /* convolutions, tables: the --type, bf16 in quantized files; loader accepts f32/f16/bf16 */
} jn_tensor_rule;

typedef struct jn_tensor_desc {
    char name[64];                     /* GGUF name */
    int n_dims;
    int64_t shape[JN_GGUF_MAX_DIMS];   /* PyTorch order */
    jn_tensor_rule rule;
    int unused;                        /* never read at inference: dropped unless --keep-unused */
} jn_tensor_desc;

/* Receives the tensors of an enumerator. dst: the loader's slot (NULL when the enumerator runs
 * without a weights struct, and for unused tensors). Returns 0 to stop (an error is recorded in the
 * sink). */
typedef struct jn_tensor_sink jn_tensor_sink;
struct jn_tensor_sink {
    int (*add)(jn_tensor_sink *s, const jn_tensor_desc *d, jn_weight **dst);
    int failed;
    jn_error *err; /* may be NULL */
};

/* Announces one tensor: the name is printf(pattern, ...). Shape: n_dims values d0..d3 (unused
 * trailing ones ignored). No-op once the sink failed. */
void jn_tensor(jn_tensor_sink *s, jn_weight **dst, jn_tensor_rule rule, int unused, int n_dims, int64_t d0,
               int64_t d1, int64_t d2, int64_t d3, const char *pattern, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 10, 11)))
#endif
    ;

/* Dtypes the loader accepts for a rule (jn_wstore_get mask). */
unsigned jn_tensor_rule_mask(jn_tensor_rule rule);

/* Binding sink: looks each tensor up in the store with its shape and the rule's dtype mask and
 * stores it in *dst. Unused tensors are optional: when present they are shape-checked and marked
 * used (so jn_wstore_check_unused only reports tensors no table knows). */
typedef struct jn_bind_sink {
    jn_tensor_sink base;
    jn_wstore *store;
    int many_rows; /* set jn_weight.many_rows on every tensor bound (components whose matmuls are
                      over image tokens or pixels) */
} jn_bind_sink;
void jn_bind_sink_init(jn_bind_sink *s, jn_wstore *store, jn_error *err);

/* Collecting sink: a growing array of descriptors (the converter, the documentation test). */
typedef struct jn_tensor_list {
    jn_tensor_sink base;
    jn_tensor_desc *t;
    size_t n, cap;
} jn_tensor_list;
void jn_tensor_list_init(jn_tensor_list *l, jn_error *err);
void jn_tensor_list_free(jn_tensor_list *l);

#ifdef __cplusplus
}
#endif
#endif
