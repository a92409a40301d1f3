// janus-test-libs: janus_engine
/* tests/test_unit_dtype.c — dtype table, exact f16/bf16 conversions, q8_0/q4_0 layouts and
 * round-trip error bounds.
 *
 * f16: every one of the 65536 half values round-trips; every midpoint between adjacent halves
 * rounds to the even neighbour (and one float ulp either side to the nearer one); random floats
 * are checked against an independent nearest-value search over the sorted table of halves.
 * Quant: hand-computed blocks with exact scales check the byte layout; random blocks check the
 * per-block error against the bound that follows from the algorithm (|err| <= d/2 for q8_0,
 * <= d for q4_0 whose top value may clip to 15, plus the fp16 rounding of d). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dtype.h"
#include "testutil.h"

static uint32_t rng_state = 12345u;
static uint32_t xr(void) { /* xorshift32: deterministic test data */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)(xr() >> 8) * (1.0f / 16777216.0f); }

static float bits_f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* table of the 31744 non-negative finite halves, increasing */
static float pos_half[0x7c00];

/* independent reference: nearest half by binary search, ties to even */
static uint16_t ref_f32_to_f16(float f) {
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    double a = fabs((double)f);
    if (isnan(f)) return 0x7e00;
    if (a >= 65520.0) return sign | 0x7c00;
    int lo = 0, hi = 0x7bff;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if ((double)pos_half[mid] <= a) lo = mid;
        else hi = mid;
    }
    double dl = a - pos_half[lo], dh = (double)pos_half[hi] - a;
    int pick;
    if (dl < dh) pick = lo;
    else if (dh < dl) pick = hi;
    else pick = (lo & 1) ? hi : lo;
    return (uint16_t)(sign | pick);
}

static void test_names(void) {
    TU_CHECK(strcmp(jn_dtype_name(JN_F32), "f32") == 0, "f32");
    TU_CHECK(strcmp(jn_dtype_name(JN_Q4_0), "q4_0") == 0, "q4_0");
    TU_CHECK(jn_dtype_name(3) == NULL, "type 3 is not ours");
    TU_CHECK(jn_dtype_from_name("bf16") == JN_BF16, "bf16");
    TU_CHECK(jn_dtype_from_name("q8_0") == JN_Q8_0, "q8_0");
    TU_CHECK(jn_dtype_from_name("q8") == -1, "q8");
    TU_CHECK(jn_dtype_valid(30) && !jn_dtype_valid(31) && !jn_dtype_valid(-1), "valid");
    TU_CHECK(jn_dtype_block_elems(JN_Q8_0) == 32 && jn_dtype_block_elems(JN_F16) == 1, "block elems");
    TU_CHECK(jn_dtype_block_bytes(JN_Q8_0) == 34 && jn_dtype_block_bytes(JN_Q4_0) == 18, "block bytes");
    TU_CHECK(jn_row_bytes(JN_F32, 7) == 28, "f32 row");
    TU_CHECK(jn_row_bytes(JN_BF16, 7) == 14, "bf16 row");
    TU_CHECK(jn_row_bytes(JN_Q8_0, 64) == 68, "q8 row");
    TU_CHECK(jn_row_bytes(JN_Q4_0, 4096) == 128 * 18, "q4 row");
    TU_CHECK(jn_row_bytes(JN_Q8_0, 33) == 0, "q8 row not multiple");
    TU_CHECK(jn_row_bytes(JN_F32, -1) == 0, "negative");
}

static void test_f16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = jn_f16_to_f32((uint16_t)h);
        uint16_t back = jn_f32_to_f16(f);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan) {
            if (!isnan(f) || (back & 0x7c00) != 0x7c00 || !(back & 0x3ff) || back != (uint16_t)(h | 0x200)) bad++;
        } else if (back != h) {
            if (bad < 5) fprintf(stderr, "h=0x%04x -> %g -> 0x%04x\n", h, f, back);
            bad++;
        }
        if (h < 0x7c00) pos_half[h] = f;
    }
    TU_CHECK(bad == 0, "%d halves do not round-trip", bad);
    /* spot values */
    TU_CHECK(jn_f16_to_f32(0x3c00) == 1.0f && jn_f16_to_f32(0xc000) == -2.0f, "1, -2");
    TU_CHECK(jn_f16_to_f32(0x0001) == ldexpf(1.0f, -24), "min subnormal");
    TU_CHECK(jn_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24), "max subnormal");
    TU_CHECK(jn_f16_to_f32(0x0400) == ldexpf(1.0f, -14), "min normal");
    TU_CHECK(jn_f16_to_f32(0x7bff) == 65504.0f, "max");
    TU_CHECK(isinf(jn_f16_to_f32(0x7c00)) && jn_f16_to_f32(0xfc00) < 0, "inf");
    TU_CHECK(signbit(jn_f16_to_f32(0x8000)) && jn_f16_to_f32(0x8000) == 0.0f, "-0");
    /* monotone table */
    for (int i = 1; i < 0x7c00; i++)
        if (!(pos_half[i] > pos_half[i - 1])) bad++;
    TU_CHECK(bad == 0, "half table not increasing");
    /* midpoints: ties to even, one float ulp away goes to the nearer neighbour */
    int tie_bad = 0;
    for (int h = 0; h < 0x7bff; h++) {
        float a = pos_half[h], b = pos_half[h + 1];
        float mid = (a + b) * 0.5f; /* exact: 12 significant bits */
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        if (jn_f32_to_f16(mid) != even) tie_bad++;
        if (jn_f32_to_f16(-mid) != (uint16_t)(0x8000 | even)) tie_bad++;
        if (jn_f32_to_f16(nextafterf(mid, 0.0f)) != h) tie_bad++;
        if (jn_f32_to_f16(nextafterf(mid, INFINITY)) != h + 1) tie_bad++;
    }
    TU_CHECK(tie_bad == 0, "%d midpoint rounding errors", tie_bad);
    /* overflow / underflow edges */
    TU_CHECK(jn_f32_to_f16(65504.0f) == 0x7bff, "65504");
    TU_CHECK(jn_f32_to_f16(nextafterf(65520.0f, 0)) == 0x7bff, "just below 65520");
    TU_CHECK(jn_f32_to_f16(65520.0f) == 0x7c00, "65520 -> inf");
    TU_CHECK(jn_f32_to_f16(1e10f) == 0x7c00 && jn_f32_to_f16(-1e10f) == 0xfc00, "big -> inf");
    TU_CHECK(jn_f32_to_f16(INFINITY) == 0x7c00 && jn_f32_to_f16(-INFINITY) == 0xfc00, "inf");
    uint16_t qn = jn_f32_to_f16(NAN);
    TU_CHECK((qn & 0x7c00) == 0x7c00 && (qn & 0x3ff), "nan stays nan");
    TU_CHECK(jn_f32_to_f16(bits_f(0x7f800001u)) & 0x200, "signalling nan made quiet");
    TU_CHECK(jn_f32_to_f16(ldexpf(1.0f, -25)) == 0, "2^-25 ties to 0");
    TU_CHECK(jn_f32_to_f16(nextafterf(ldexpf(1.0f, -25), 1.0f)) == 1, "just above 2^-25");
    TU_CHECK(jn_f32_to_f16(ldexpf(1.5f, -24)) == 2, "1.5 ulp subnormal ties to 2");
    TU_CHECK(jn_f32_to_f16(ldexpf(2.5f, -24)) == 2, "2.5 ulp subnormal ties to 2");
    TU_CHECK(jn_f32_to_f16(ldexpf(1023.5f, -24)) == 0x400, "rounds up into the normal range");
    TU_CHECK(jn_f32_to_f16(-0.0f) == 0x8000 && jn_f32_to_f16(1e-30f) == 0, "zeros");
    /* random floats against the independent reference */
    int rbad = 0;
    for (int i = 0; i < 2000000; i++) {
        float f;
        if (i & 1) {
            f = bits_f(xr());
        } else {
            /* concentrate on the half range */
            f = ldexpf(frand(1.0f, 2.0f), (int)(xr() % 44) - 28);
            if (xr() & 1) f = -f;
        }
        if (isnan(f)) continue;
        uint16_t got = jn_f32_to_f16(f), want = ref_f32_to_f16(f);
        if (got != want) {
            if (rbad < 5) fprintf(stderr, "f=%a got 0x%04x want 0x%04x\n", f, got, want);
            rbad++;
        }
    }
    TU_CHECK(rbad == 0, "%d random floats disagree with the reference", rbad);
}

static void test_bf16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = jn_bf16_to_f32((uint16_t)h);
        uint16_t back = jn_f32_to_bf16(f);
        int is_nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        if (is_nan ? !(isnan(f) && (back & 0x7f80) == 0x7f80 && (back & 0x7f)) : back != h) bad++;
    }
    TU_CHECK(bad == 0, "%d bf16 values do not round-trip", bad);
    TU_CHECK(jn_f32_to_bf16(1.0f + ldexpf(1.0f, -8)) == 0x3f80, "tie to even (down)");
    TU_CHECK(jn_f32_to_bf16(1.0f + 3 * ldexpf(1.0f, -8)) == 0x3f82, "tie to even (up)");
    TU_CHECK(jn_f32_to_bf16(nextafterf(1.0f + ldexpf(1.0f, -8), 2.0f)) == 0x3f81, "above tie");
    TU_CHECK(jn_f32_to_bf16(3.4e38f) == 0x7f80, "overflow to inf");
    /* array paths agree with the scalars */
    float src[67], back[67];
    uint16_t h16[67];
    for (int i = 0; i < 67; i++) src[i] = frand(-100, 100);
    jn_from_f32_ref(JN_BF16, src, h16, 67);
    jn_to_f32_ref(JN_BF16, h16, back, 67);
    for (int i = 0; i < 67; i++) TU_CHECK(h16[i] == jn_f32_to_bf16(src[i]) && back[i] == jn_bf16_to_f32(h16[i]), "bf16[%d]", i);
    jn_from_f32_ref(JN_F16, src, h16, 67);
    jn_to_f32_ref(JN_F16, h16, back, 67);
    for (int i = 0; i < 67; i++) TU_CHECK(h16[i] == jn_f32_to_f16(src[i]) && back[i] == jn_f16_to_f32(h16[i]), "f16[%d]", i);
    jn_from_f32_ref(JN_F32, src, back, 67);
    TU_CHECK(memcmp(src, back, sizeof src) == 0, "f32 copy");
}

static void test_q8_layout(void) {
    float x[32];
    /* amax 127 -> d = 1 exactly, id = 1: qs = roundf(x) (half away from zero) */
    static const float vals[32] = {127, -127, 0.5f, -0.5f, 1.5f, 2.49f, -2.51f, 0,  3, 4, 5, 6, 7, 8, 9, 10,
                                   -1,  -2,   -3,   100,   -100, 126.5f, 63.5f, -63.5f, 1, 1, 1, 1, 1, 1, 1, 1};
    static const int8_t want[32] = {127, -127, 1,  -1, 2,   2,    -3, 0, 3, 4, 5, 6, 7, 8, 9, 10,
                                    -1,  -2,   -3, 100, -100, 127, 64, -64, 1, 1, 1, 1, 1, 1, 1, 1};
    memcpy(x, vals, sizeof x);
    uint8_t raw[34];
    jn_from_f32_ref(JN_Q8_0, x, raw, 32);
    TU_CHECK(raw[0] == 0x00 && raw[1] == 0x3c, "d bytes %02x %02x (want 00 3c = fp16 1.0, little-endian)", raw[0],
             raw[1]);
    TU_CHECK(memcmp(raw + 2, want, 32) == 0, "q8_0 qs bytes");
    float back[32];
    jn_to_f32_ref(JN_Q8_0, raw, back, 32);
    for (int j = 0; j < 32; j++) TU_CHECK(back[j] == (float)want[j], "q8 dequant[%d]", j);
    /* all-zero block: d = 0, id = 0, qs = 0 */
    memset(x, 0, sizeof x);
    jn_from_f32_ref(JN_Q8_0, x, raw, 32);
    for (int j = 0; j < 34; j++) TU_CHECK(raw[j] == 0, "zero block byte %d", j);
    /* a scale that is not exact in fp16: d = 1/127 stored rounded, q computed with the f32 d */
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16) / 16.0f; /* amax 1 */
    jn_from_f32_ref(JN_Q8_0, x, raw, 32);
    uint16_t d16;
    memcpy(&d16, raw, 2);
    TU_CHECK(d16 == jn_f32_to_f16(1.0f / 127.0f), "q8 d = fp16(amax/127)");
    const float id = 1.0f / (1.0f / 127.0f);
    for (int j = 0; j < 32; j++) TU_CHECK((int8_t)raw[2 + j] == (int8_t)roundf(x[j] * id), "q8 qs[%d]", j);
}

static void test_q4_layout(void) {
    /* largest magnitude is -8 -> d = -8 / -8 = 1, id = 1; q = min(15, trunc(x + 8.5)) */
    float x[32] = {-8, 7, 7.4f, 0, -0.6f, 0.49f, 0.5f, -7.6f, 1, 2, 3, 4, 5, 6, -1, -2,
                   -3, -4, -5, -6, -7, 7.9f, 6.5f, -0.5f, 0.1f, 0.2f, 0.3f, 0.4f, 0.6f, 0.7f, 0.8f, 0.9f};
    int want[32];
    for (int j = 0; j < 32; j++) {
        int q = (int)(x[j] + 8.5f);
        want[j] = q > 15 ? 15 : q;
    }
    /* a few by hand, to pin the formula itself */
    TU_CHECK(want[0] == 0 && want[1] == 15 && want[2] == 15 && want[3] == 8 && want[4] == 7 && want[5] == 8 &&
                 want[6] == 9 && want[7] == 0 && want[21] == 15,
             "hand values");
    uint8_t raw[18];
    jn_from_f32_ref(JN_Q4_0, x, raw, 32);
    TU_CHECK(raw[0] == 0x00 && raw[1] == 0x3c, "q4 d bytes %02x %02x", raw[0], raw[1]);
    for (int j = 0; j < 16; j++) {
        TU_CHECK((raw[2 + j] & 0x0f) == want[j], "low nibble %d: %d vs %d", j, raw[2 + j] & 0x0f, want[j]);
        TU_CHECK((raw[2 + j] >> 4) == want[j + 16], "high nibble %d", j);
    }
    float back[32];
    jn_to_f32_ref(JN_Q4_0, raw, back, 32);
    for (int j = 0; j < 32; j++) TU_CHECK(back[j] == (float)(want[j] - 8), "q4 dequant[%d]", j);
    /* positive extreme: max = 8 -> d = -1; x = 8 -> 0, x = -7 -> 15 */
    memset(x, 0, sizeof x);
    x[0] = 8;
    x[1] = -7;
    x[17] = 4;
    jn_from_f32_ref(JN_Q4_0, x, raw, 32);
    TU_CHECK(raw[0] == 0x00 && raw[1] == 0xbc, "d = -1 (0xbc00)");
    TU_CHECK(raw[2] == (0 | (8 << 4)), "x0=8 -> 0, x16=0 -> 8: %02x", raw[2]);
    TU_CHECK(raw[3] == (15 | (4 << 4)), "x1=-7 -> 15, x17=4 -> 4: %02x", raw[3]);
}

static void test_quant_errors(void) {
    enum { NB = 4000 };
    float *x = malloc(sizeof(float) * 32 * NB), *y = malloc(sizeof(float) * 32 * NB);
    uint8_t *q = malloc(34 * NB);
    for (int i = 0; i < 32 * NB; i++) {
        float s = ldexpf(1.0f, (int)(xr() % 16) - 8); /* blocks of varied scale */
        x[i] = frand(-1, 1) * s;
    }
    /* q8_0 */
    jn_from_f32_ref(JN_Q8_0, x, q, 32 * NB);
    jn_to_f32_ref(JN_Q8_0, q, y, 32 * NB);
    double worst8 = 0;
    for (int b = 0; b < NB; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[b * 32 + j]));
        double d = amax / 127.0;
        for (int j = 0; j < 32; j++) {
            double e = fabs((double)x[b * 32 + j] - y[b * 32 + j]) / d;
            if (e > worst8) worst8 = e;
        }
    }
    /* |x - q*fp16(d)| <= d/2 + 127*|fp16(d) - d| <= d * (0.5 + 127 * 2^-11) */
    printf("q8_0: worst |err| / d = %.4f (bound %.4f)\n", worst8, 0.5 + 127.0 / 2048);
    TU_CHECK(worst8 <= 0.5 + 127.0 / 2048 + 1e-4, "q8_0 error %.4f d", worst8);
    TU_CHECK(worst8 > 0.4, "q8_0 error suspiciously small (%.4f d)", worst8);
    /* q4_0 */
    jn_from_f32_ref(JN_Q4_0, x, q, 32 * NB);
    jn_to_f32_ref(JN_Q4_0, q, y, 32 * NB);
    double worst4 = 0, worst4_nonclip = 0;
    for (int b = 0; b < NB; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[b * 32 + j]));
        double d = amax / 8.0;
        for (int j = 0; j < 32; j++) {
            double e = fabs((double)x[b * 32 + j] - y[b * 32 + j]) / d;
            if (e > worst4) worst4 = e;
            if (fabs(x[b * 32 + j]) < 0.9 * amax && e > worst4_nonclip) worst4_nonclip = e;
        }
    }
    /* values of the opposite sign to max may clip from 16 to 15: error up to d; others d/2 */
    printf("q4_0: worst |err| / d = %.4f (bound %.4f), away from the clip %.4f (bound %.4f)\n", worst4,
           1.0 + 8.0 / 2048, worst4_nonclip, 0.5 + 8.0 / 2048);
    TU_CHECK(worst4 <= 1.0 + 8.0 / 2048 + 1e-4, "q4_0 error %.4f d", worst4);
    TU_CHECK(worst4_nonclip <= 0.5 + 8.0 / 2048 + 1e-4, "q4_0 non-clipped error %.4f d", worst4_nonclip);
    /* determinism of the byte layout across calls */
    uint8_t *q2 = malloc(34 * NB);
    jn_from_f32_ref(JN_Q4_0, x, q2, 32 * NB);
    TU_CHECK(memcmp(q, q2, 18 * NB) == 0, "q4 deterministic");
    /* non-finite input must not crash (values are unspecified) */
    x[3] = NAN;
    x[40] = INFINITY;
    jn_from_f32_ref(JN_Q8_0, x, q2, 64);
    jn_from_f32_ref(JN_Q4_0, x, q2, 64);
    free(x);
    free(y);
    free(q);
    free(q2);
}

int main(void) {
    test_names();
    test_f16();
    test_bf16();
    test_q8_layout();
    test_q4_layout();
    test_quant_errors();
    if (!tu_failures) printf("test_unit_dtype: ok\n");
    return TU_RESULT();
}
