// janus-test-libs: janus_engine
/* tests/test_unit_sampler_gpu_model.c — the algorithm of the CUDA sampler (engine/cuda/sample.cu)
 * run on the host, against the CPU sampler, so the part of "GPU ids == CPU ids" that does not
 * need a device is checked on every machine.
 *
 * The CUDA kernel finds top-k / top-p by a bitwise search over 64-bit rank keys and computes tile
 * sums with a warp butterfly (8 registers per lane, then xor shuffles); the CPU sampler uses a
 * heap, a binary search over prefixes and a sequential pairwise tree. This test re-implements the
 * kernel's formulation line by line in C — the butterfly with all 32 lanes exchanging at once, the
 * bit loop skipping the always-zero index bits, the masked tile sums, the walk over the tile sums
 * — on the shared arithmetic of sample_arith.h, and requires identical ids on random and
 * adversarial rows. What remains for a device: that nvcc compiles the kernel to this (checked by
 * tests/test_cuda_sample.c where a GPU exists). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/rng.h"
#include "engine/sample.h"
#include "engine/sample_arith.h"
#include "testutil.h"
#include "weightpool.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* one warp's tile sum as the kernel computes it: lane l holds slots l + 32j */
static float warp_tile_sum(const float *slot) {
    float v[32][8];
    for (int l = 0; l < 32; l++)
        for (int j = 0; j < 8; j++) v[l][j] = slot[l + 32 * j];
    for (int l = 0; l < 32; l++) {
        for (int j = 0; j < 4; j++) v[l][j] = jn_sa_add(v[l][j], v[l][j + 4]);
        v[l][0] = jn_sa_add(v[l][0], v[l][2]);
        v[l][1] = jn_sa_add(v[l][1], v[l][3]);
        v[l][0] = jn_sa_add(v[l][0], v[l][1]);
    }
    for (int o = 16; o > 0; o >>= 1) {
        float nv[32];
        for (int l = 0; l < 32; l++) nv[l] = jn_sa_add(v[l][0], v[l ^ o][0]); /* __shfl_xor_sync */
        for (int l = 0; l < 32; l++) v[l][0] = nv[l];
    }
    for (int l = 1; l < 32; l++)
        if (v[l][0] != v[0][0]) tu_failures++, fprintf(stderr, "FAIL butterfly lanes disagree\n");
    return v[0][0];
}

static float gpu_mass(const float *x, const float *e, int C, uint64_t rthr, float *tsum) {
    const int NT = (C + JN_SA_TILE - 1) / JN_SA_TILE;
    float slot[JN_SA_TILE];
    for (int t = 0; t < NT; t++) {
        for (int j = 0; j < JN_SA_TILE; j++) {
            int i = t * JN_SA_TILE + j;
            slot[j] = (i < C && jn_sa_rank(x[i], i, C) >= rthr) ? e[i] : 0.0f;
        }
        tsum[t] = warp_tile_sum(slot);
    }
    float m = 0.0f;
    for (int t = 0; t < NT; t++) m = jn_sa_add(m, tsum[t]);
    return m;
}

static int gpu_argmax(const float *m, int C) {
    int bi = -1;
    float bv = 0;
    for (int i = 0; i < C; i++)
        if (m[i] == m[i] && (bi < 0 || m[i] > bv)) bv = m[i], bi = i;
    return bi < 0 ? 0 : bi;
}

/* sample_rows_kernel for one row (m = the mixed row) */
static int gpu_model(const float *m, int C, const jn_sample_params *sp, uint64_t stream, uint64_t index, float *x,
                     float *e, float *tsum) {
    if (!(sp->temperature > 0)) return gpu_argmax(m, C);
    float mx = -INFINITY;
    for (int i = 0; i < C; i++) {
        x[i] = jn_sa_scaled(m[i], sp->temperature);
        mx = fmaxf(mx, x[i]);
    }
    if (mx == -INFINITY || mx == INFINITY) return gpu_argmax(m, C);
    for (int i = 0; i < C; i++) e[i] = jn_sa_exp(jn_sa_sub(x[i], mx));
    uint64_t rthr = 0;
    const int ib = jn_sa_index_bits(C);
    if (sp->top_k > 0 && sp->top_k < C)
        for (int b = 63; b >= 0; b--) {
            if (b < 32 && b >= ib) continue;
            uint64_t cand = rthr | ((uint64_t)1 << b);
            int cnt = 0;
            for (int i = 0; i < C; i++) cnt += jn_sa_rank(x[i], i, C) >= cand;
            if (cnt >= sp->top_k) rthr = cand;
        }
    if (sp->top_p < 1.0f) {
        const float target = jn_sa_mul(sp->top_p, gpu_mass(x, e, C, rthr, tsum));
        uint64_t pthr = 0;
        for (int b = 63; b >= 0; b--) {
            if (b < 32 && b >= ib) continue;
            uint64_t cand = pthr | ((uint64_t)1 << b);
            if (gpu_mass(x, e, C, cand > rthr ? cand : rthr, tsum) >= target) pthr = cand;
        }
        if (pthr > rthr) rthr = pthr;
    }
    const float total = gpu_mass(x, e, C, rthr, tsum);
    float u = jn_rng_uniform(sp->seed, stream, index);
    const float target = jn_sa_mul(u, total);
    const int NT = (C + JN_SA_TILE - 1) / JN_SA_TILE;
    float S = 0.0f;
    int pick = -1;
    for (int t = 0; t < NT && pick < 0; t++) {
        float next = jn_sa_add(S, tsum[t]);
        if (target < next) {
            float s = S;
            int end = (t + 1) * JN_SA_TILE < C ? (t + 1) * JN_SA_TILE : C;
            for (int i = t * JN_SA_TILE; i < end; i++) {
                float w = jn_sa_rank(x[i], i, C) >= rthr ? e[i] : 0.0f;
                if (w <= 0.0f) continue;
                s = jn_sa_add(s, w);
                pick = i;
                if (target < s) break;
            }
            if (pick < 0) pick = -2;
        }
        S = next;
    }
    if (pick == -1)
        for (int i = C - 1; i >= 0 && pick < 0; i--)
            if (jn_sa_rank(x[i], i, C) >= rthr && e[i] > 0.0f) pick = i;
    return pick < 0 ? gpu_argmax(m, C) : pick;
}

/* the shared test stream (tests/util/weightpool.h): integers and uniforms in [lo, hi) */
static uint32_t xr(void) { return (uint32_t)((tu_frand() + 1.0f) * 8388608.0f); }
static float frand(float lo, float hi) { return lo + (hi - lo) * 0.5f * (tu_frand() + 1.0f); }

int main(void) {
    tu_seed(2024);
    const int sizes[] = {1, 3, 255, 256, 257, 1000, 16384};
    const float temps[] = {1.0f, 0.0f, 0.7f, 1e-6f, 1e30f};
    const float ps[] = {1.0f, 0.9f, 0.999f, 1e-9f, 0.0f};
    int n_cmp = 0, n_bad = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        const int C = sizes[si];
        const int ks[] = {0, 1, 50, C - 1};
        float *l = malloc(sizeof(float) * (size_t)C), *x = malloc(sizeof(float) * (size_t)C);
        float *e = malloc(sizeof(float) * (size_t)C), *tsum = malloc(sizeof(float) * (size_t)(C / 256 + 1));
        float *wf = malloc(sizeof(float) * 2 * (size_t)C);
        int *wi = malloc(sizeof(int) * (size_t)C);
        for (int kind = 0; kind < 8; kind++) {
            for (int i = 0; i < C; i++) {
                l[i] = frand(-4, 4);
                if (kind == 1) l[i] *= 10.0f;
                if (kind == 2) l[i] = (float)(int)l[i];
                if (kind == 3) l[i] = 0.5f;
                if (kind == 4 && xr() % 3 == 0) l[i] = (xr() & 1) ? -INFINITY : NAN;
                if (kind == 5) l[i] = -INFINITY;
                if (kind == 6 && xr() % 7 == 0) l[i] = INFINITY;
                if (kind == 7) l[i] *= 1e37f;
            }
            for (size_t a = 0; a < sizeof temps / sizeof *temps; a++)
                for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
                    for (size_t c = 0; c < sizeof ps / sizeof *ps; c++) {
                        if (C >= 16384 && (a + b + c) % 4) continue;
                        jn_sample_params sp = {temps[a], ks[b], ps[c], 5.0f, 99 + (uint64_t)kind};
                        for (int d = 0; d < 4; d++) {
                            int32_t want;
                            jn_sample_rows(&want, 1, l, 1, C, 0, &sp, 3, (uint64_t)d, wf, wi);
                            int got = gpu_model(l, C, &sp, 3, (uint64_t)d, x, e, tsum);
                            n_cmp++;
                            if (got != want && n_bad++ < 10)
                                fprintf(stderr, "FAIL kind %d C %d T %g k %d p %g draw %d: gpu model %d, cpu %d\n", kind, C,
                                        sp.temperature, sp.top_k, sp.top_p, d, got, want);
                        }
                    }
        }
        free(l);
        free(x);
        free(e);
        free(tsum);
        free(wf);
        free(wi);
    }
    printf("gpu model vs cpu sampler: %d draws, %d differ\n", n_cmp, n_bad);
    TU_CHECK(n_bad == 0, "%d draws differ", n_bad);
    if (!tu_failures) printf("test_unit_sampler_gpu_model: ok\n");
    return TU_RESULT();
}
