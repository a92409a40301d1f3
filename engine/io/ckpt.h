/* engine/ckpt.h — model-agnostic readers for PyTorch and safetensors checkpoints.
 *
 * Why: `janus convert` reads the official downloads directly in C, so users need no Python. A
 * checkpoint is a flat list of named tensors (f32 / f16 / bf16, up to 4 dims, PyTorch order) whose
 * elements are read on demand with pread(), one slice at a time, so a 15 GB checkpoint converts in
 * bounded memory. Supported inputs:
 *   - PyTorch zip (torch.save >= 1.6, `pytorch_model.bin`): own zip reader (zip64 included, stored
 *     entries only) + a restricted unpickler that understands exactly what a state dict needs and
 *     refuses every other global (a hostile checkpoint cannot run code);
 *   - sharded PyTorch (`pytorch_model.bin.index.json` + shards);
 *   - safetensors (`model.safetensors`, or `model.safetensors.index.json` + shards).
 * Every offset and length read from a file is checked against the file size; bad input yields a
 * JN_ERR_FORMAT message naming the file (and tensor), never an out-of-bounds read.
 *
 * Integrity: zip CRC-32 of `data.pkl` is verified (it is small and decides what is loaded);
 * tensor data CRCs are not (cost: a full extra pass over gigabytes; a corrupt weight cannot do
 * harm beyond wrong numbers, and every structural field is bounds checked anyway). */
#ifndef JANUS_ENGINE_CKPT_H
#define JANUS_ENGINE_CKPT_H

#include "engine/base.h"
#include "engine/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JN_CKPT_MAX_DIMS 4

typedef struct jn_ckpt_tensor {
    char *name;                        /* NUL-terminated */
    jn_dtype dtype;                    /* JN_F32, JN_F16 or JN_BF16 */
    int n_dims;                        /* 0..4 */
    int64_t shape[JN_CKPT_MAX_DIMS];   /* PyTorch order; unused dims are 1 */
    int64_t stride[JN_CKPT_MAX_DIMS];  /* in elements; contiguous row-major unless contiguous == 0 */
    int64_t numel;
    int contiguous;
    int file;                          /* index of the file holding the data */
    uint64_t offset;                   /* absolute byte offset of element 0 (storage_offset applied) */
    uint64_t span;                     /* bytes from offset covering every element (checked in range) */
} jn_ckpt_tensor;

typedef struct jn_ckpt jn_ckpt;

/* Opens a model directory: model.safetensors.index.json, model.safetensors,
 * pytorch_model.bin.index.json or pytorch_model.bin (first found, in that order). */
jn_ckpt *jn_ckpt_open_dir(const char *dir, jn_error *err);
/* Opens one file by content: safetensors or PyTorch zip (detected from the first bytes). */
jn_ckpt *jn_ckpt_open_file(const char *path, jn_error *err);
void jn_ckpt_close(jn_ckpt *c);

/* "pytorch (zip)", "pytorch (zip, sharded)", "safetensors", "safetensors (sharded)" */
const char *jn_ckpt_format(const jn_ckpt *c);
int64_t jn_ckpt_count(const jn_ckpt *c);
const jn_ckpt_tensor *jn_ckpt_at(const jn_ckpt *c, int64_t i);
const jn_ckpt_tensor *jn_ckpt_find(const jn_ckpt *c, const char *name); /* NULL if absent */
/* The file name (no directory) that holds tensor t, for messages. */
const char *jn_ckpt_file_name(const jn_ckpt *c, const jn_ckpt_tensor *t);
size_t jn_ckpt_elem_size(jn_dtype t); /* 4 / 2 / 2 */

/* Reads elements [first, first+count) in logical row-major order, in the source dtype (raw bytes,
 * little-endian) into dst (count * elem_size bytes). Strided tensors are gathered correctly (the
 * storage span is cached, so one strided tensor costs one span of memory). */
jn_status jn_ckpt_read_raw(jn_ckpt *c, const jn_ckpt_tensor *t, int64_t first, int64_t count, void *dst,
                           jn_error *err);
/* Same, converted to f32 (exact for all three source types). */
jn_status jn_ckpt_read_f32(jn_ckpt *c, const jn_ckpt_tensor *t, int64_t first, int64_t count, float *dst,
                           jn_error *err);

/* ---------------- internal to engine/ckpt*.c (shared between the readers) ---------------- */

/* A zip entry located in the file: data bytes are [data_offset, data_offset + size). */
typedef struct jn_zip_entry {
    char *name;
    uint64_t data_offset;
    uint64_t size;
    uint32_t crc32;
    uint16_t method;      /* 0 = stored; anything else is refused when the entry is used */
    uint64_t header_offset; /* local header; the entry occupies [header_offset, data_offset + stored size) */
    uint64_t stored_size;   /* bytes on disk (compressed size) */
} jn_zip_entry;

/* Reads the central directory of the zip file open on fd (file_size bytes), locating every
 * entry's data through its local header. Entries whose byte ranges (local header through data)
 * overlap each other, or reach into the central directory, are refused, as Python's zipfile does:
 * otherwise a crafted directory could make one weight silently read another entry's bytes.
 * path is for messages. */
jn_status jn_zip_read_dir(int fd, uint64_t file_size, const char *path, jn_zip_entry **entries, size_t *n,
                          jn_error *err);
void jn_zip_free(jn_zip_entry *entries, size_t n);
uint32_t jn_crc32(uint32_t crc, const void *data, size_t n);

/* One tensor of a pickled state dict, before its storage is located. */
typedef struct jn_pickle_tensor {
    char *name;
    char *storage_key;
    jn_dtype dtype;       /* valid when dtype_ok */
    int dtype_ok;         /* 0 for a recognised but unsupported storage type (see dtype_name) */
    const char *dtype_name; /* e.g. "torch.LongStorage" (static) */
    int64_t storage_numel;
    int64_t storage_offset; /* elements */
    int n_dims;
    int64_t shape[JN_CKPT_MAX_DIMS];
    int64_t stride[JN_CKPT_MAX_DIMS];
} jn_pickle_tensor;

/* Parses a torch.save state-dict pickle (protocol 2..5 subset). path is for messages. */
jn_status jn_pickle_load_state_dict(const uint8_t *pkl, size_t len, const char *path, jn_pickle_tensor **out,
                                    size_t *n_out, jn_error *err);
void jn_pickle_free(jn_pickle_tensor *t, size_t n);

/* Builder used by the format readers: adds a file / a tensor to a checkpoint under construction. */
jn_ckpt *jn_ckpt_new_(const char *format);
int jn_ckpt_add_file_(jn_ckpt *c, const char *path, int fd, uint64_t size, jn_error *err); /* index or <0 */
jn_status jn_ckpt_add_tensor_(jn_ckpt *c, const jn_ckpt_tensor *t, jn_error *err); /* copies name */
/* File-level readers: append the tensors of one file (already added as file index fi). */
jn_status jn_ckpt_load_zip_(jn_ckpt *c, int fi, jn_error *err);
jn_status jn_ckpt_load_safetensors_(jn_ckpt *c, int fi, jn_error *err);
/* Path / fd / size of file i. */
const char *jn_ckpt_file_path_(const jn_ckpt *c, int fi);
int jn_ckpt_file_fd_(const jn_ckpt *c, int fi);
uint64_t jn_ckpt_file_size_(const jn_ckpt *c, int fi);
/* pread that loops and fails with a message on a short read. */
jn_status jn_pread_full_(int fd, void *buf, size_t n, uint64_t off, const char *path, jn_error *err);

#ifdef __cplusplus
}
#endif
#endif
