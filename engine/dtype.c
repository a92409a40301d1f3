/* engine/dtype.c — dtype names and sizes, exact IEEE binary16 conversions, and the reference
 * (de)quantizers for q8_0 / q4_0.
 *
 * Why: every other piece of the engine (GGUF reader/writer, converter, kernels, tests) needs one
 * agreed definition of these numbers. The quantizers reproduce ggml's quantize_row_q8_0_ref /
 * quantize_row_q4_0_ref bit for bit (same operation order in f32, same fp16 rounding), so files
 * we write are identical to what ggml-based tools would produce from the same f32 input. */
#include "dtype.h"

#include <math.h>

#include "base.h"

const char *jn_dtype_name(int type) {
    switch (type) {
    case JN_F32: return "f32";
    case JN_F16: return "f16";
    case JN_BF16: return "bf16";
    case JN_Q8_0: return "q8_0";
    case JN_Q4_0: return "q4_0";
    default: return NULL;
    }
}

int jn_dtype_from_name(const char *name) {
    static const int ids[] = {JN_F32, JN_F16, JN_BF16, JN_Q8_0, JN_Q4_0};
    if (!name) return -1;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (strcmp(name, jn_dtype_name(ids[i])) == 0) return ids[i];
    return -1;
}

int jn_dtype_valid(int type) { return jn_dtype_name(type) != NULL; }

int jn_dtype_block_elems(jn_dtype t) {
    switch (t) {
    case JN_Q8_0: return JN_QK8_0;
    case JN_Q4_0: return JN_QK4_0;
    default: return 1;
    }
}

size_t jn_dtype_block_bytes(jn_dtype t) {
    switch (t) {
    case JN_F32: return 4;
    case JN_F16: return 2;
    case JN_BF16: return 2;
    case JN_Q8_0: return sizeof(jn_block_q8_0);
    case JN_Q4_0: return sizeof(jn_block_q4_0);
    default: return 0;
    }
}

size_t jn_row_bytes(jn_dtype t, int64_t n) {
    if (!jn_dtype_valid((int)t) || n < 0) return 0;
    int64_t be = jn_dtype_block_elems(t);
    if (n % be != 0) return 0;
    size_t out;
    if (!jn_mul_ok((size_t)(n / be), jn_dtype_block_bytes(t), &out)) return 0;
    return out;
}

/* ---- binary16 ---- */

float jn_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (mant == 0) {
            u = sign;
        } else {
            /* subnormal: mant * 2^-24; normalise so the leading 1 lands on bit 10 */
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while ((mant & 0x400u) == 0);
            u = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (mant << 13); /* inf / nan (payload kept) */
    } else {
        u = sign | ((exp + 112u) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t jn_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    u &= 0x7fffffffu;
    if (u > 0x7f800000u) /* NaN: keep the top payload bits, force quiet */
        return (uint16_t)(sign | 0x7e00u | ((u >> 13) & 0x3ffu));
    if (u >= 0x477ff000u) /* >= 65520 rounds to infinity (65504 has an odd mantissa) */
        return (uint16_t)(sign | 0x7c00u);
    if (u >= 0x38800000u) { /* normal half: rebias, round to nearest even on the 13 dropped bits */
        u -= 112u << 23;
        u += 0xfffu + ((u >> 13) & 1u);
        return (uint16_t)(sign | (u >> 13));
    }
    if (u <= 0x33000000u) /* <= 2^-25 (the tie goes to even = 0) */
        return sign;
    /* subnormal half: value = round(f * 2^24) */
    uint32_t e = u >> 23;                 /* 102..112 */
    uint32_t m = (u & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e;            /* 14..24 */
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q);          /* q == 0x400 becomes the smallest normal: correct */
}

/* ---- block quantizers (ggml reference order of operations) ---- */

/* float -> int8 for a value the algorithm guarantees is within range; NaN/inf (only reachable
 * from non-finite inputs) map to 0 / the bounds instead of undefined behaviour. */
static inline int clamp_to_int(float v, int lo, int hi) {
    if (!(v == v)) return 0;
    if (v <= (float)lo) return lo;
    if (v >= (float)hi) return hi;
    return (int)v;
}

static void quantize_q8_0(const float *x, jn_block_q8_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * JN_QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < JN_QK8_0; j++) {
            const float v = fabsf(xb[j]);
            amax = amax > v ? amax : v; /* ggml MAX() */
        }
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = jn_f32_to_f16(d);
        for (int j = 0; j < JN_QK8_0; j++) {
            const float x0 = xb[j] * id;
            y[i].qs[j] = (int8_t)clamp_to_int(roundf(x0), -128, 127);
        }
    }
}

static void quantize_q4_0(const float *x, jn_block_q4_0 *y, int64_t nb) {
    const int qk = JN_QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * qk;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < qk; j++) {
            const float v = xb[j];
            if (amax < fabsf(v)) {
                amax = fabsf(v);
                max = v;
            }
        }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = jn_f32_to_f16(d);
        for (int j = 0; j < qk / 2; j++) {
            const float x0 = xb[j] * id;
            const float x1 = xb[qk / 2 + j] * id;
            /* ggml: MIN(15, (int8_t)(x + 8.5f)); the cast truncates toward zero */
            int xi0 = clamp_to_int(x0 + 8.5f, -128, 127);
            int xi1 = clamp_to_int(x1 + 8.5f, -128, 127);
            if (xi0 > 15) xi0 = 15;
            if (xi1 > 15) xi1 = 15;
            y[i].qs[j] = (uint8_t)((uint8_t)(xi0 & 0xf) | (uint8_t)((xi1 & 0xf) << 4));
        }
    }
}

void jn_to_f32_ref(jn_dtype t, const void *src, float *dst, int64_t n) {
    switch (t) {
    case JN_F32:
        memcpy(dst, src, (size_t)n * 4);
        break;
    case JN_F16: {
        const uint8_t *s = (const uint8_t *)src;
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = jn_f16_to_f32(h);
        }
        break;
    }
    case JN_BF16: {
        const uint8_t *s = (const uint8_t *)src;
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = jn_bf16_to_f32(h);
        }
        break;
    }
    case JN_Q8_0: {
        const jn_block_q8_0 *b = (const jn_block_q8_0 *)src;
        for (int64_t i = 0; i < n / JN_QK8_0; i++) {
            const float d = jn_f16_to_f32(b[i].d);
            for (int j = 0; j < JN_QK8_0; j++) dst[i * JN_QK8_0 + j] = (float)b[i].qs[j] * d;
        }
        break;
    }
    case JN_Q4_0: {
        const jn_block_q4_0 *b = (const jn_block_q4_0 *)src;
        for (int64_t i = 0; i < n / JN_QK4_0; i++) {
            const float d = jn_f16_to_f32(b[i].d);
            for (int j = 0; j < JN_QK4_0 / 2; j++) {
                dst[i * JN_QK4_0 + j] = (float)((b[i].qs[j] & 0x0f) - 8) * d;
                dst[i * JN_QK4_0 + j + JN_QK4_0 / 2] = (float)((b[i].qs[j] >> 4) - 8) * d;
            }
        }
        break;
    }
    default:
        JN_ASSERT(!"jn_to_f32_ref: unknown dtype");
    }
}

float jn_row_get(jn_dtype t, const void *row, size_t c) {
    switch (t) {
    case JN_F32: return ((const float *)row)[c];
    case JN_F16: return jn_f16_to_f32(((const uint16_t *)row)[c]);
    case JN_BF16: return jn_bf16_to_f32(((const uint16_t *)row)[c]);
    case JN_Q8_0: {
        const jn_block_q8_0 *b = (const jn_block_q8_0 *)row + c / JN_QK8_0;
        return (float)b->qs[c % JN_QK8_0] * jn_f16_to_f32(b->d);
    }
    default:
        JN_ASSERT(!"jn_row_get: unsupported dtype");
    }
    return 0.0f;
}

void jn_from_f32_ref(jn_dtype t, const float *src, void *dst, int64_t n) {
    switch (t) {
    case JN_F32:
        memcpy(dst, src, (size_t)n * 4);
        break;
    case JN_F16: {
        uint8_t *d = (uint8_t *)dst;
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = jn_f32_to_f16(src[i]);
            memcpy(d + 2 * i, &h, 2);
        }
        break;
    }
    case JN_BF16: {
        uint8_t *d = (uint8_t *)dst;
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = jn_f32_to_bf16(src[i]);
            memcpy(d + 2 * i, &h, 2);
        }
        break;
    }
    case JN_Q8_0:
        JN_ASSERT(n % JN_QK8_0 == 0);
        quantize_q8_0(src, (jn_block_q8_0 *)dst, n / JN_QK8_0);
        break;
    case JN_Q4_0:
        JN_ASSERT(n % JN_QK4_0 == 0);
        quantize_q4_0(src, (jn_block_q4_0 *)dst, n / JN_QK4_0);
        break;
    default:
        JN_ASSERT(!"jn_from_f32_ref: unknown dtype");
    }
}
