// janus-test-libs: janus_engine
/* tests/test_unit_rng.c — Philox4x32-10 against the Random123 known-answer vectors, the
 * uniform/exponential mappings (exact formula, range, fill == scalar), and distribution checks
 * with bounds from theory (mean within 5 sigma, chi-square over 64 bins below the 1e-6 tail). */
#include <math.h>
#include <string.h>

#include "engine/rng.h"
#include "testutil.h"

int main(void) {
    uint32_t o[4];
    jn_philox_u32x4(0, 0, 0, o);
    TU_CHECK(o[0] == 0x6627e8d5u && o[1] == 0xe169c58du && o[2] == 0xbc57ac4cu && o[3] == 0x9b00dbd8u,
             "KAT zero: %08x %08x %08x %08x", o[0], o[1], o[2], o[3]);
    jn_philox_u32x4(UINT64_MAX, UINT64_MAX, UINT64_MAX, o);
    TU_CHECK(o[0] == 0x408f276du && o[1] == 0x41c83b0eu && o[2] == 0xa20bc7c6u && o[3] == 0x6d5451fdu,
             "KAT ones: %08x %08x %08x %08x", o[0], o[1], o[2], o[3]);
    /* ctr {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, key {0xa4093822, 0x299f31d0} */
    jn_philox_u32x4(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull, o);
    TU_CHECK(o[0] == 0xd16cfe09u && o[1] == 0x94fdccebu && o[2] == 0x5001e420u && o[3] == 0x24126ea1u,
             "KAT pi: %08x %08x %08x %08x", o[0], o[1], o[2], o[3]);

    /* uniform = top 24 bits of word (index & 3) of block (stream, index >> 2) */
    const uint64_t seed = 42;
    int bad = 0;
    for (uint64_t i = 0; i < 64; i++) {
        jn_philox_u32x4(seed, 7, i >> 2, o);
        float want = (float)(o[i & 3] >> 8) / 16777216.0f;
        if (jn_rng_uniform(seed, 7, i) != want) bad++;
        if (jn_rng_exponential(seed, 7, i) != (float)-log(1.0 - (double)want)) bad++;
    }
    TU_CHECK(bad == 0, "%d uniform/exponential mismatches", bad);

    /* fill == scalar, unaligned start */
    enum { N = 1001 };
    float f[N], e[N];
    jn_rng_uniform_fill(seed, 3, 5, f, N);
    jn_rng_exponential_fill(seed, 3, 5, e, N);
    bad = 0;
    for (int i = 0; i < N; i++)
        if (f[i] != jn_rng_uniform(seed, 3, 5 + (uint64_t)i) || e[i] != jn_rng_exponential(seed, 3, 5 + (uint64_t)i)) bad++;
    TU_CHECK(bad == 0, "fill differs from scalar at %d places", bad);

    /* distribution */
    const int M = 1000000;
    double sum = 0, esum = 0, emax = 0;
    int bins[64] = {0};
    float umin = 1, umax = 0;
    float buf[4096];
    for (int i = 0; i < M; i += 4096) {
        int n = M - i < 4096 ? M - i : 4096;
        jn_rng_uniform_fill(1234, 0, (uint64_t)i, buf, (size_t)n);
        for (int k = 0; k < n; k++) {
            float u = buf[k];
            if (u < umin) umin = u;
            if (u > umax) umax = u;
            sum += u;
            bins[(int)(u * 64)]++;
            double ex = -log(1.0 - u);
            esum += ex;
            if (ex > emax) emax = ex;
        }
    }
    double mean = sum / M, emean = esum / M;
    double chi2 = 0, expct = M / 64.0;
    for (int b = 0; b < 64; b++) chi2 += (bins[b] - expct) * (bins[b] - expct) / expct;
    printf("uniform: mean %.6f (5 sigma %.6f), min %g max %.8f, chi2(63 dof) %.1f; exponential mean %.5f max %.3f\n",
           mean, 5 * sqrt(1.0 / 12 / M), umin, umax, chi2, emean, emax);
    TU_CHECK(umin >= 0 && umax < 1, "range");
    TU_CHECK(fabs(mean - 0.5) < 5 * sqrt(1.0 / 12 / M), "uniform mean %.6f", mean);
    TU_CHECK(chi2 < 125.0, "chi2 %.1f (1e-6 tail of chi2(63) is ~125)", chi2);
    TU_CHECK(fabs(emean - 1.0) < 5.0 / sqrt((double)M), "exponential mean %.5f", emean);
    TU_CHECK(emax <= 16.64, "exponential max %.3f", emax);

    /* streams and seeds are independent-looking; same inputs, same outputs */
    int same_stream = 0, same_seed = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        if (jn_rng_uniform(9, 0, i) == jn_rng_uniform(9, 1, i)) same_stream++;
        if (jn_rng_uniform(9, 0, i) == jn_rng_uniform(10, 0, i)) same_seed++;
    }
    TU_CHECK(same_stream < 3 && same_seed < 3, "streams %d seeds %d collide", same_stream, same_seed);
    TU_CHECK(jn_rng_uniform(5, 6, 7) == jn_rng_uniform(5, 6, 7), "deterministic");
    if (!tu_failures) printf("test_unit_rng: ok\n");
    return TU_RESULT();
}
