/* engine/npy.h — NumPy .npy (v1/v2/v3) read and write for float32/uint8/int32/int64 arrays:
 * --dump outputs and golden fixtures. Little-endian, C order only; anything else is an error. */
#ifndef JANUS_ENGINE_NPY_H
#define JANUS_ENGINE_NPY_H

#include "engine/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum jn_npy_dtype { JN_NPY_F32, JN_NPY_U8, JN_NPY_I32, JN_NPY_I64, JN_NPY_F64 } jn_npy_dtype;

typedef struct jn_npy {
    jn_npy_dtype dtype;
    int n_dims;
    int64_t shape[8];
    int64_t n_elems;
    void *data;  /* malloc'ed, n_elems elements */
} jn_npy;

/* Reads a whole .npy file. err names the file and the problem. */
jn_status jn_npy_read(const char *path, jn_npy *out, jn_error *err);
void jn_npy_free(jn_npy *a);
/* Writes data (n_dims/shape in C order) as a v1.0 .npy: to "<path>.partial", renamed over path at
 * the end (an existing file is replaced only by a complete one). */
jn_status jn_npy_write(const char *path, jn_npy_dtype dtype, int n_dims, const int64_t *shape, const void *data,
                       jn_error *err);

/* The same into an open stream (not closed; flushed). path names it in messages. */
jn_status jn_npy_write_stream(FILE *f, const char *path, jn_npy_dtype dtype, int n_dims, const int64_t *shape,
                              const void *data, jn_error *err);

#ifdef __cplusplus
}
#endif
#endif
