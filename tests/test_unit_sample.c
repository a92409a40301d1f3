// janus-test-libs: janus_engine
/* tests/test_unit_sample.c — CFG combine, argmax and temperature/top-k/top-p sampling.
 *
 * The distribution is checked against an independent double-precision reference that follows
 * HF's warpers literally (temperature -> top-k -> top-p by ascending cumsum <= 1 - p -> softmax);
 * the draw is checked by inverse-CDF positions and by a chi-square test over 200k draws with
 * Philox uniforms (bound: the 1e-4 tail of the chi-square distribution). Also: top-k=1 == argmax,
 * tiny top-p keeps exactly one, top-p=1 / top-k=0 / top-k>=n are no-ops, ties go to the lower
 * index, -inf/NaN logits are never drawn, and timing on a 102400-token row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base.h"
#include "engine/rng.h"
#include "engine/sample.h"
#include "testutil.h"

static uint32_t rs = 99;
static uint32_t xr(void) {
    rs ^= rs << 13;
    rs ^= rs >> 17;
    rs ^= rs << 5;
    return rs;
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)(xr() >> 8) / 16777216.0f; }

/* HF reference in double. Returns kept count; p[n] the final distribution. near != NULL is set if
 * some top-p cumulative sum lies within 1e-5 of the threshold (ambiguous under f32 rounding). */
typedef struct {
    double v;
    int i;
} vi;
static int cmp_asc(const void *a, const void *b) { /* ascending value; ties: higher index first */
    const vi *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return y->i - x->i;
}
static int ref_dist(const float *logits, int n, float T, int k, float top_p, double *p, int *near) {
    double *x = malloc(sizeof(double) * (size_t)n);
    int *keep = malloc(sizeof(int) * (size_t)n);
    vi *s = malloc(sizeof(vi) * (size_t)n);
    for (int i = 0; i < n; i++) {
        x[i] = (double)(logits[i] / T); /* the f32 division, as HF does on f32 scores */
        keep[i] = 1;
        s[i].v = x[i];
        s[i].i = i;
    }
    qsort(s, (size_t)n, sizeof *s, cmp_asc); /* ascending; among equals the lower index is later (= kept first) */
    if (k > 0 && k < n)
        for (int j = 0; j < n - k; j++) keep[s[j].i] = 0;
    if (top_p < 1.0f) {
        double mx = -INFINITY, sum = 0;
        for (int i = 0; i < n; i++)
            if (keep[i] && x[i] > mx) mx = x[i];
        for (int i = 0; i < n; i++)
            if (keep[i]) sum += exp(x[i] - mx);
        double cum = 0;
        int last_kept = -1;
        for (int j = 0; j < n; j++) {
            if (!keep[s[j].i]) continue;
            cum += exp(s[j].v - mx) / sum;
            if (near && cum < 1.0 - 1e-9 && fabs(cum - (1.0 - top_p)) < 1e-5) *near = 1;
            if (cum <= 1.0 - top_p) keep[s[j].i] = 0;
            last_kept = s[j].i;
        }
        if (last_kept >= 0) keep[last_kept] = 1; /* min_tokens_to_keep = 1: the top token */
    }
    double mx = -INFINITY, sum = 0;
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (keep[i] && x[i] > mx) mx = x[i];
    for (int i = 0; i < n; i++) {
        p[i] = keep[i] ? exp(x[i] - mx) : 0;
        sum += p[i];
        kept += keep[i];
    }
    for (int i = 0; i < n; i++) p[i] /= sum;
    free(x);
    free(keep);
    free(s);
    return kept;
}

static void test_cfg_argmax(void) {
    float c[5] = {1, 2, 3, -4, 0.5f}, u[5] = {0.5f, 2, -1, 4, 0.25f}, o[5];
    jn_cfg_combine(o, c, u, 5, 5.0f);
    for (int i = 0; i < 5; i++) TU_CHECK(o[i] == u[i] + 5.0f * (c[i] - u[i]), "cfg[%d]", i);
    jn_cfg_combine(o, c, u, 5, 0.0f);
    TU_CHECK(memcmp(o, u, sizeof o) == 0, "cfg 0 = uncond");
    float c2[5];
    memcpy(c2, c, sizeof c);
    jn_cfg_combine(c2, c2, u, 5, 3.0f); /* aliasing out == cond */
    for (int i = 0; i < 5; i++) TU_CHECK(c2[i] == u[i] + 3.0f * (c[i] - u[i]), "cfg alias[%d]", i);

    float a[6] = {1, 5, 2, 5, NAN, 5};
    TU_CHECK(jn_sample_argmax(a, 6) == 1, "first max");
    float b[3] = {NAN, -INFINITY, -INFINITY};
    TU_CHECK(jn_sample_argmax(b, 3) == 1, "NaN skipped, -inf ok");
    float n3[2] = {NAN, NAN};
    TU_CHECK(jn_sample_argmax(n3, 2) == 0, "all NaN -> 0");
    TU_CHECK(jn_sample_argmax(a, 0) == -1, "empty");
}

static void test_dist_vs_reference(void) {
    enum { N = 300 };
    float logits[N], probs[N];
    int idx[N];
    double ref[N];
    int cases = 0, skipped = 0;
    double worst = 0;
    const float temps[] = {1.0f, 0.7f, 1.5f, 0.1f};
    const int ks[] = {0, 1, 5, 50, N, N + 10};
    const float ps[] = {1.0f, 0.95f, 0.5f, 0.1f, 1e-9f};
    for (int trial = 0; trial < 6; trial++) {
        for (int i = 0; i < N; i++) logits[i] = frand(-8, 8) * (trial % 3 + 1) * 0.5f;
        if (trial >= 3) /* ties */
            for (int i = 0; i < N; i++) logits[i] = (float)(int)(logits[i] * 0.5f);
        for (size_t a = 0; a < sizeof temps / sizeof *temps; a++)
            for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
                for (size_t c = 0; c < sizeof ps / sizeof *ps; c++) {
                    int near = 0;
                    int kref = ref_dist(logits, N, temps[a], ks[b], ps[c], ref, &near);
                    if (near) {
                        skipped++;
                        continue;
                    }
                    int kept = jn_sample_dist(logits, N, temps[a], ks[b], ps[c], probs, idx);
                    cases++;
                    TU_CHECK(kept == kref, "T %g k %d p %g: kept %d, reference %d", temps[a], ks[b], ps[c], kept, kref);
                    double s = 0;
                    for (int i = 0; i < N; i++) {
                        double d = fabs(probs[i] - ref[i]);
                        if (d > worst) worst = d;
                        if ((probs[i] > 0) != (ref[i] > 0) && ref[i] > 1e-30) {
                            TU_CHECK(0, "T %g k %d p %g: token %d kept mismatch", temps[a], ks[b], ps[c], i);
                            break;
                        }
                        s += probs[i];
                    }
                    TU_CHECK(fabs(s - 1) < 1e-5, "sum %.8f", s);
                }
    }
    printf("distribution vs HF reference: %d cases (%d skipped at the top-p boundary), max |dp| %.2e\n", cases, skipped,
           worst);
    TU_CHECK(worst < 2e-6, "max |dp| %.2e", worst);
}

static void test_rules(void) {
    float l[7] = {1, 3, 3, 2, 3, -INFINITY, NAN};
    float pr[7], sc[7];
    int idx[7];
    /* temperature <= 0 and top-k = 1: argmax for every u */
    for (int k = 0; k < 10; k++) {
        float u = k / 10.0f;
        TU_CHECK(jn_sample(l, 7, 0.0f, 0, 1.0f, u, sc, idx) == 1, "T=0 -> argmax");
        TU_CHECK(jn_sample(l, 7, -1.0f, 40, 0.5f, u, sc, idx) == 1, "T<0 -> argmax");
        TU_CHECK(jn_sample(l, 7, 1.0f, 1, 1.0f, u, sc, idx) == 1, "top-k 1 -> argmax (first of ties)");
        TU_CHECK(jn_sample(l, 7, 1.0f, 0, 1e-9f, u, sc, idx) == 1, "tiny top-p -> argmax");
    }
    TU_CHECK(jn_sample_dist(l, 7, 1.0f, 0, 1e-9f, pr, idx) == 1 && pr[1] == 1.0f, "tiny top-p keeps exactly one");
    TU_CHECK(jn_sample_dist(l, 7, 1.0f, 2, 1.0f, pr, idx) == 2 && pr[1] > 0 && pr[2] > 0 && pr[4] == 0,
             "top-k ties by lower index");
    TU_CHECK(fabsf(pr[1] - 0.5f) < 1e-7f, "two equal kept -> 0.5");
    /* no-ops */
    float base[7], tmp[7];
    jn_sample_dist(l, 7, 1.0f, 0, 1.0f, base, idx);
    TU_CHECK(base[5] == 0 && base[6] == 0, "-inf and NaN get 0");
    jn_sample_dist(l, 7, 1.0f, 7, 1.0f, tmp, idx);
    TU_CHECK(memcmp(base, tmp, sizeof tmp) == 0, "top-k = n is a no-op");
    jn_sample_dist(l, 7, 1.0f, 100, 1.0f, tmp, idx);
    TU_CHECK(memcmp(base, tmp, sizeof tmp) == 0, "top-k > n is a no-op");
    jn_sample_dist(l, 7, 1.0f, 0, 2.0f, tmp, idx);
    TU_CHECK(memcmp(base, tmp, sizeof tmp) == 0, "top-p > 1 is a no-op");
    /* never draw a zero-probability token */
    for (int k = 0; k <= 100; k++) {
        int t = jn_sample(l, 7, 1.0f, 0, 1.0f, k / 100.0f * 0.99999994f, sc, idx);
        TU_CHECK(t >= 0 && t <= 4, "drew token %d", t);
    }
    float onlyinf[3] = {-INFINITY, -INFINITY, -INFINITY};
    TU_CHECK(jn_sample(onlyinf, 3, 1.0f, 0, 0.9f, 0.5f, sc, idx) == 0, "all -inf -> 0");
    float posinf[3] = {0, INFINITY, INFINITY};
    TU_CHECK(jn_sample(posinf, 3, 1.0f, 0, 1.0f, 0.9f, sc, idx) == 1, "+inf -> first +inf");
    TU_CHECK(jn_sample(l, 0, 1.0f, 0, 1.0f, 0.5f, sc, idx) == -1, "n = 0");

    /* inverse CDF in index order: probs 0.25, 0.25, 0.5 */
    float q[3] = {logf(0.25f), logf(0.25f), logf(0.5f)};
    const float us[] = {0.0f, 0.1f, 0.2499f, 0.2501f, 0.4999f, 0.5001f, 0.9f, 0.99999994f};
    const int want[] = {0, 0, 0, 1, 1, 2, 2, 2};
    for (int k = 0; k < 8; k++) TU_CHECK(jn_sample(q, 3, 1.0f, 0, 1.0f, us[k], sc, idx) == want[k], "u=%g", us[k]);
    /* temperature: T scales logits before softmax */
    float two[2] = {0.0f, 1.0f};
    jn_sample_dist(two, 2, 0.5f, 0, 1.0f, pr, idx);
    double want1 = exp(2.0) / (1 + exp(2.0));
    TU_CHECK(fabs(pr[1] - want1) < 1e-6, "T=0.5: %g vs %g", pr[1], want1);
    jn_sample_dist(two, 2, 4.0f, 0, 1.0f, pr, idx);
    want1 = exp(0.25) / (1 + exp(0.25));
    TU_CHECK(fabs(pr[1] - want1) < 1e-6, "T=4: %g vs %g", pr[1], want1);
    /* top-p boundary, HF semantics: probs 0.5 0.3 0.2 */
    float h[3] = {logf(0.5f), logf(0.3f), logf(0.2f)};
    TU_CHECK(jn_sample_dist(h, 3, 1.0f, 0, 0.4f, pr, idx) == 1, "p 0.4 -> 1");
    TU_CHECK(jn_sample_dist(h, 3, 1.0f, 0, 0.75f, pr, idx) == 2 && fabsf(pr[0] - 0.625f) < 1e-6f, "p 0.75 -> 2");
    TU_CHECK(jn_sample_dist(h, 3, 1.0f, 0, 0.85f, pr, idx) == 3, "p 0.85 -> 3");
    TU_CHECK(jn_sample_dist(h, 3, 1.0f, 2, 0.7f, pr, idx) == 2, "k 2 then p 0.7 of renormalised (0.625, 0.375) -> 2");
    TU_CHECK(jn_sample_dist(h, 3, 1.0f, 2, 0.6f, pr, idx) == 1, "k 2 then p 0.6 -> 1");
}

static double chi2_draws(const float *logits, int n, float T, int k, float p, int draws, uint64_t seed) {
    double *ref = malloc(sizeof(double) * (size_t)n);
    float *sc = malloc(sizeof(float) * (size_t)n);
    int *idx = malloc(sizeof(int) * (size_t)n);
    int *cnt = calloc((size_t)n, sizeof(int));
    ref_dist(logits, n, T, k, p, ref, NULL);
    for (int d = 0; d < draws; d++) {
        int t = jn_sample(logits, n, T, k, p, jn_rng_uniform(seed, 0, (uint64_t)d), sc, idx);
        cnt[t]++;
    }
    double chi2 = 0;
    int dof = -1, zero_bad = 0;
    for (int i = 0; i < n; i++) {
        if (ref[i] == 0) {
            if (cnt[i]) zero_bad++;
            continue;
        }
        double e = ref[i] * draws;
        chi2 += (cnt[i] - e) * (cnt[i] - e) / e;
        dof++;
    }
    TU_CHECK(zero_bad == 0, "removed tokens were drawn");
    printf("chi2 over %d draws: T %g k %d p %g: %.2f with %d dof\n", draws, T, k, p, chi2, dof);
    free(ref);
    free(sc);
    free(idx);
    free(cnt);
    /* upper 1e-4 tail of chi-square with 1..7 degrees of freedom */
    static const double crit[8] = {0, 15.14, 18.42, 21.11, 23.51, 25.74, 27.86, 29.88};
    TU_CHECK(dof >= 1 && dof <= 7, "dof %d", dof);
    return dof >= 1 && dof <= 7 ? chi2 / crit[dof] : 99.0;
}

static void test_chi2(void) {
    /* 8 tokens, all probabilities >= ~1% so every expected count is large */
    float l[8] = {0.0f, 1.0f, -1.0f, 2.0f, 0.5f, -0.5f, 1.5f, 0.25f};
    const int D = 200000;
    /* chi2_draws returns chi2 / (its 1e-4 critical value): < 1 passes */
    TU_CHECK(chi2_draws(l, 8, 1.0f, 0, 1.0f, D, 1) < 1.0, "chi2 plain");
    TU_CHECK(chi2_draws(l, 8, 0.7f, 0, 1.0f, D, 2) < 1.0, "chi2 T=0.7");
    TU_CHECK(chi2_draws(l, 8, 1.0f, 5, 1.0f, D, 3) < 1.0, "chi2 top-k 5");
    TU_CHECK(chi2_draws(l, 8, 1.0f, 0, 0.8f, D, 4) < 1.0, "chi2 top-p 0.8");
    TU_CHECK(chi2_draws(l, 8, 1.3f, 6, 0.9f, D, 5) < 1.0, "chi2 top-k 6 + top-p 0.9");
}

static void test_speed(void) {
    enum { V = 102400 };
    float *l = malloc(sizeof(float) * V), *sc = malloc(sizeof(float) * V);
    int *idx = malloc(sizeof(int) * V);
    for (int i = 0; i < V; i++) l[i] = frand(-10, 10) + (i % 1000 == 0 ? 12.0f : 0.0f);
    struct {
        float T, p;
        int k;
    } cfgs[] = {{1.0f, 1.0f, 0}, {0.1f, 0.95f, 50}, {1.0f, 0.95f, 0}, {1.0f, 0.95f, 50}};
    for (size_t c = 0; c < sizeof cfgs / sizeof *cfgs; c++) {
        const int reps = 20;
        double t0 = jn_time_s();
        int acc = 0;
        for (int r = 0; r < reps; r++) acc += jn_sample(l, V, cfgs[c].T, cfgs[c].k, cfgs[c].p, jn_rng_uniform(7, 0, (uint64_t)r), sc, idx);
        double dt = (jn_time_s() - t0) / reps;
        int kept = jn_sample_dist(l, V, cfgs[c].T, cfgs[c].k, cfgs[c].p, sc, idx);
        printf("V=%d T %.1f k %d p %.2f: %.2f ms per draw (%d kept)%s\n", V, cfgs[c].T, cfgs[c].k, cfgs[c].p, dt * 1e3,
               kept, acc < 0 ? "!" : "");
    }
    free(l);
    free(sc);
    free(idx);
}

int main(void) {
    test_cfg_argmax();
    test_dist_vs_reference();
    test_rules();
    test_chi2();
    test_speed();
    if (!tu_failures) printf("test_unit_sample: ok\n");
    return TU_RESULT();
}
