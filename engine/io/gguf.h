/* engine/gguf.h — GGUF v3: a bounds-checked mmap reader and a streaming writer.
 *
 * Reader: the file is mmapped read-only; every count, string length, array length, tensor offset
 * and tensor size is checked against the file size before use (a hostile file yields a message,
 * never an out-of-bounds read). Tensor shapes are returned in PyTorch order (outermost first);
 * GGUF stores them innermost first (ggml ne order) and this module flips them once.
 *
 * Writer: declare all metadata and tensor infos, then stream tensor data in declaration order.
 * Output goes to "<path>.tmp-XXXXXX" beside the target and is renamed over it only by a successful
 * jn_gguf_writer_finish(); jn_gguf_writer_abort() (or any failure) removes the temporary file, so
 * an error never leaves a partial output and never clobbers an existing file. */
#ifndef JANUS_ENGINE_GGUF_H
#define JANUS_ENGINE_GGUF_H

#include "engine/base.h"
#include "engine/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum jn_gguf_type {
    JN_GGUF_UINT8 = 0,
    JN_GGUF_INT8 = 1,
    JN_GGUF_UINT16 = 2,
    JN_GGUF_INT16 = 3,
    JN_GGUF_UINT32 = 4,
    JN_GGUF_INT32 = 5,
    JN_GGUF_FLOAT32 = 6,
    JN_GGUF_BOOL = 7,
    JN_GGUF_STRING = 8,
    JN_GGUF_ARRAY = 9,
    JN_GGUF_UINT64 = 10,
    JN_GGUF_INT64 = 11,
    JN_GGUF_FLOAT64 = 12,
} jn_gguf_type;

#define JN_GGUF_MAX_DIMS 4
#define JN_GGUF_DEFAULT_ALIGNMENT 32

typedef struct jn_gguf_tensor {
    const char *name;          /* NUL-terminated copy */
    jn_dtype type;
    int n_dims;
    int64_t shape[JN_GGUF_MAX_DIMS]; /* PyTorch order; unused dims are 1 */
    uint64_t offset;           /* from the start of the data section */
    const void *data;          /* pointer into the mapping */
    size_t nbytes;
} jn_gguf_tensor;

typedef struct jn_gguf jn_gguf;

jn_gguf *jn_gguf_open(const char *path, jn_error *err);
void jn_gguf_close(jn_gguf *g);
const char *jn_gguf_path(const jn_gguf *g);
uint32_t jn_gguf_version(const jn_gguf *g);
size_t jn_gguf_file_size(const jn_gguf *g);

int64_t jn_gguf_n_tensors(const jn_gguf *g);
const jn_gguf_tensor *jn_gguf_tensor_at(const jn_gguf *g, int64_t i);
const jn_gguf_tensor *jn_gguf_find_tensor(const jn_gguf *g, const char *name); /* NULL if absent */

/* ---- metadata ---- */
int64_t jn_gguf_n_kv(const jn_gguf *g);
const char *jn_gguf_kv_key(const jn_gguf *g, int64_t i);
jn_gguf_type jn_gguf_kv_type(const jn_gguf *g, int64_t i);
int64_t jn_gguf_find_kv(const jn_gguf *g, const char *key); /* index or -1 */

/* Typed getters by key. A missing key or a wrong type is an error naming the key and the file.
 * Integer getters accept any GGUF integer type whose value fits. f32 accepts FLOAT32/FLOAT64. */
jn_status jn_gguf_get_u32(const jn_gguf *g, const char *key, uint32_t *out, jn_error *err);
jn_status jn_gguf_get_i64(const jn_gguf *g, const char *key, int64_t *out, jn_error *err);
jn_status jn_gguf_get_f32(const jn_gguf *g, const char *key, float *out, jn_error *err);
jn_status jn_gguf_get_f64(const jn_gguf *g, const char *key, double *out, jn_error *err);
jn_status jn_gguf_get_bool(const jn_gguf *g, const char *key, int *out, jn_error *err);
/* String value: pointer into the mapping, NOT NUL-terminated; use len. */
jn_status jn_gguf_get_str(const jn_gguf *g, const char *key, const char **s, size_t *len, jn_error *err);
/* Arrays: element type and count; numeric arrays expose a pointer to the packed little-endian
 * elements (may be unaligned: memcpy them); string arrays are read with jn_gguf_get_arr_str. */
jn_status jn_gguf_get_arr(const jn_gguf *g, const char *key, jn_gguf_type *elem_type, uint64_t *n,
                          const void **data, jn_error *err);
jn_status jn_gguf_get_arr_str(const jn_gguf *g, const char *key, uint64_t i, const char **s, size_t *len,
                              jn_error *err);
/* Numeric array elements converted: fails on wrong element type/count mismatch. */
jn_status jn_gguf_get_arr_i64(const jn_gguf *g, const char *key, int64_t *out, uint64_t n_expected, jn_error *err);
jn_status jn_gguf_get_arr_f32(const jn_gguf *g, const char *key, float *out, uint64_t n_expected, jn_error *err);

/* Renders the value of kv i as short text (arrays abbreviated: "[u32 x 5: 1, 1, 2, 2, 4]",
 * long strings truncated with their byte count) into buf; for `janus info`. */
void jn_gguf_kv_format(const jn_gguf *g, int64_t i, char *buf, size_t bufsize);

/* ---- writer ---- */
typedef struct jn_gguf_writer jn_gguf_writer;

jn_gguf_writer *jn_gguf_writer_open(const char *path, jn_error *err);
void jn_gguf_writer_set_u32(jn_gguf_writer *w, const char *key, uint32_t v);
void jn_gguf_writer_set_i32(jn_gguf_writer *w, const char *key, int32_t v);
void jn_gguf_writer_set_u64(jn_gguf_writer *w, const char *key, uint64_t v);
void jn_gguf_writer_set_f32(jn_gguf_writer *w, const char *key, float v);
void jn_gguf_writer_set_f64(jn_gguf_writer *w, const char *key, double v);
void jn_gguf_writer_set_bool(jn_gguf_writer *w, const char *key, int v);
void jn_gguf_writer_set_str(jn_gguf_writer *w, const char *key, const char *s, size_t len);
/* Numeric array: elem_type one of the scalar types; data holds n packed elements (copied). */
void jn_gguf_writer_set_arr(jn_gguf_writer *w, const char *key, jn_gguf_type elem_type, const void *data, uint64_t n);
void jn_gguf_writer_set_arr_str(jn_gguf_writer *w, const char *key, const char *const *strs, const size_t *lens,
                                uint64_t n);
/* Declares a tensor (shape in PyTorch order). Names longer than 63 bytes or duplicates are errors
 * reported by the next call that returns a status. */
void jn_gguf_writer_add_tensor(jn_gguf_writer *w, const char *name, jn_dtype type, int n_dims, const int64_t *shape);
/* Writes header + metadata + tensor infos (after all declarations). */
jn_status jn_gguf_writer_write_header(jn_gguf_writer *w, jn_error *err);
/* Appends the next tensor's bytes, in declaration order; may be called several times per tensor
 * (chunks); the tensor is complete when its nbytes have been written. Pads to the alignment. */
jn_status jn_gguf_writer_write_data(jn_gguf_writer *w, const void *data, size_t nbytes, jn_error *err);
/* Checks every tensor was written completely, flushes, fsyncs, renames to the final path. */
jn_status jn_gguf_writer_finish(jn_gguf_writer *w, jn_error *err);
/* no_clobber != 0: finish refuses (JN_ERR_USAGE) to replace a target that exists at that moment,
 * atomically (link + unlink instead of rename). Default 0: an existing target is replaced. */
void jn_gguf_writer_set_no_clobber(jn_gguf_writer *w, int no_clobber);
/* Removes the temporary file and frees the writer (safe after a failed finish; NULL ok). */
void jn_gguf_writer_abort(jn_gguf_writer *w);

#ifdef __cplusplus
}
#endif
#endif
