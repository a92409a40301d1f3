/* engine/dtype.h — element types, ggml-identical quant block layouts, scalar conversions.
 *
 * Type ids equal ggml's (so GGUF files are readable by stock tools). Block layouts are byte for
 * byte ggml's block_q8_0 / block_q4_0; this header is shared by C and CUDA code. */
#ifndef JANUS_ENGINE_DTYPE_H
#define JANUS_ENGINE_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum jn_dtype {
    JN_F32 = 0,
    JN_F16 = 1,
    JN_Q4_0 = 2,
    JN_Q8_0 = 8,
    JN_BF16 = 30,
} jn_dtype;

#define JN_QK8_0 32
#define JN_QK4_0 32

/* ggml block_q8_0: x[i] = d * qs[i] */
typedef struct {
    uint16_t d;            /* fp16 scale */
    int8_t qs[JN_QK8_0];
} jn_block_q8_0;

/* ggml block_q4_0: element j (j < 16) is the low nibble of qs[j], element j+16 its high nibble;
 * x = d * (q - 8) */
typedef struct {
    uint16_t d;            /* fp16 scale */
    uint8_t qs[JN_QK4_0 / 2];
} jn_block_q4_0;

#ifdef __cplusplus
static_assert(sizeof(jn_block_q8_0) == 34, "block_q8_0 must be 34 bytes (ggml layout)");
static_assert(sizeof(jn_block_q4_0) == 18, "block_q4_0 must be 18 bytes (ggml layout)");
#else
_Static_assert(sizeof(jn_block_q8_0) == 34, "block_q8_0 must be 34 bytes (ggml layout)");
_Static_assert(sizeof(jn_block_q4_0) == 18, "block_q4_0 must be 18 bytes (ggml layout)");
#endif

/* "f32", "f16", "bf16", "q8_0", "q4_0"; NULL for an unknown id. */
const char *jn_dtype_name(int type);
/* Parses the names above; returns -1 if unknown. */
int jn_dtype_from_name(const char *name);
/* 1 if the id is one of the types above. */
int jn_dtype_valid(int type);
/* Elements per block (1 for float types) and bytes per block. */
int jn_dtype_block_elems(jn_dtype t);
size_t jn_dtype_block_bytes(jn_dtype t);
/* Bytes of a row of n elements; 0 if n is not a multiple of the block size. */
size_t jn_row_bytes(jn_dtype t, int64_t n);

/* ---- scalar conversions (the reference) ---- */
static inline float jn_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
/* round-to-nearest-even, NaN kept quiet (as PyTorch) */
static inline uint16_t jn_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
float jn_f16_to_f32(uint16_t h);
uint16_t jn_f32_to_f16(float f); /* round-to-nearest-even, IEEE binary16 */

/* Dequantize/convert n elements (n a multiple of the block size) of type t to f32. */
void jn_to_f32_ref(jn_dtype t, const void *src, float *dst, int64_t n);
/* Convert/quantize n f32 values to type t (ggml's reference quantizers for q8_0/q4_0). */
void jn_from_f32_ref(jn_dtype t, const float *src, void *dst, int64_t n);

/* Byte offset of element e of an array of type t: e·size for float types; for block types e
 * must start a block (e/32 whole blocks). Row-major arrays of block types (K/V caches, weights)
 * keep every row start block-aligned, so element offsets of rows convert this way. */
static inline size_t jn_elem_offset(jn_dtype t, size_t e) {
    switch (t) {
    case JN_F32: return e * 4;
    case JN_F16: case JN_BF16: return e * 2;
    case JN_Q8_0: return e / JN_QK8_0 * sizeof(jn_block_q8_0);
    case JN_Q4_0: return e / JN_QK4_0 * sizeof(jn_block_q4_0);
    }
    return 0;
}
/* Element c of a row of type t (f32, f16, bf16 or q8_0) starting at row, as f32. Exact for
 * every type: a q8_0 value is an f16 scale times an int8, 11 + 8 significant bits. */
float jn_row_get(jn_dtype t, const void *row, size_t c);

#ifdef __cplusplus
}
#endif
#endif
