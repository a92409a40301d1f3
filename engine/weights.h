/* engine/weights.h — the weight store: named jn_weight views over a GGUF mapping, with shape
 * validation at bind time.
 *
 * Components ask for each tensor by name with the shape the metadata implies; a missing tensor
 * or a shape mismatch is a format error worded like
 *   "model.gguf: tensor lm.layers.3.self_attn.q_proj.weight: got [64, 96], expected [64, 64]".
 * jn_wstore_check_unused() then reports tensors nobody asked for (a converter/loader mismatch). */
#ifndef JANUS_ENGINE_WEIGHTS_H
#define JANUS_ENGINE_WEIGHTS_H

#include "backend.h"
#include "io/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jn_wstore jn_wstore;

/* Builds views for every tensor of g (g must outlive the store). */
jn_wstore *jn_wstore_create(const jn_gguf *g, jn_error *err);
void jn_wstore_free(jn_wstore *s);
int64_t jn_wstore_count(const jn_wstore *s);
jn_weight *jn_wstore_at(jn_wstore *s, int64_t i);

/* Looks up name and checks n_dims/shape (PyTorch order). dtype_mask: bit (1u << dtype) for each
 * accepted dtype, or 0 for "any type the kernels support". Marks the tensor used.
 * Returns NULL + err (JN_ERR_FORMAT) if absent, misshapen or of an unaccepted dtype. */
jn_weight *jn_wstore_get(jn_wstore *s, const char *name, int n_dims, const int64_t *shape, unsigned dtype_mask,
                         jn_error *err);
/* Same, name built printf-style; shape given as n_dims trailing int64_t varargs is awkward in C,
 * so this takes the shape array too. */
jn_weight *jn_wstore_getf(jn_wstore *s, jn_error *err, int n_dims, const int64_t *shape, unsigned dtype_mask,
                          const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
/* 1 if a tensor with this name exists (does not mark it used). */
int jn_wstore_has(const jn_wstore *s, const char *name);
/* Error listing the first unused tensor names (JN_ERR_FORMAT), or JN_OK. Tensors whose names
 * start with one of the n_allowed prefixes (e.g. weights kept for completeness but never read)
 * are not counted. */
jn_status jn_wstore_check_unused(const jn_wstore *s, const char *const *allowed_prefixes, int n_allowed,
                                 jn_error *err);

#define JN_DTYPE_MASK_F32 (1u << JN_F32)
#define JN_DTYPE_MASK_FLOAT ((1u << JN_F32) | (1u << JN_F16) | (1u << JN_BF16))
#define JN_DTYPE_MASK_ANY ((1u << JN_F32) | (1u << JN_F16) | (1u << JN_BF16) | (1u << JN_Q8_0) | (1u << JN_Q4_0))

/* "[64, 96]" */
void jn_shape_format(char *buf, size_t n, int n_dims, const int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif
