// janus-test-libs: janus_engine
/* tests/test_unit_sampler_blocked.c — the blocked sampler (engine/sample.c, the arithmetic of
 * engine/sample_arith.h that the CUDA sampler shares) against the straightforward sampler it
 * replaced (copied below verbatim as old_*: libm expf, double sums, sorted top-p walk), on random
 * and adversarial logits: ties, −inf/NaN/+inf entries, all −inf rows, huge and tiny temperatures,
 * top-k = 1 and n − 1, tiny/zero/near-one top-p, rows across tile boundaries (n = 255, 256, 257).
 *
 * The two must give the same id for every (logits, u) except where the draw is decided by
 * rounding: u within AMBIG (2e-6) of a CDF boundary, or a top-p cumulative mass within a
 * relative AMBIG of the threshold, both computed in double. Those cases are counted and printed, never compared: the
 * old and new sums round differently (double vs f32 tiles, libm expf vs a private exp with
 * ~1e-7 relative error), so a different id there is unavoidable and either is a correct draw.
 * Also: the private exp against exp(), jn_sample_rows (CFG pairs, repeat) against explicit
 * combine + jn_sample, and the ref/cpu sample() op against jn_sample_rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend.h"
#include "engine/rng.h"
#include "engine/sample.h"
#include "engine/sample_arith.h"
#include "testutil.h"
#include "weightpool.h"

/* ---------------------------------------------------------------- the old sampler (reference) */
/* a ranks before b: larger key, then lower index (keys are NaN-free) */
static inline int old_better(const float *x, int a, int b) { return x[a] > x[b] || (x[a] == x[b] && a < b); }

/* heap of indices with the WORST element at the root */
static void old_sift_down(const float *x, int *h, int m, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < m && old_better(x, h[w], h[l])) w = l;
        if (r < m && old_better(x, h[w], h[r])) w = r;
        if (w == i) return;
        int t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* idx[0..m) = the m best indices of x[0..n), sorted best first. */
static void old_top_m(const float *x, int n, int m, int *idx) {
    for (int i = 0; i < m; i++) idx[i] = i;
    for (int i = m / 2 - 1; i >= 0; i--) old_sift_down(x, idx, m, i);
    for (int i = m; i < n; i++)
        if (old_better(x, i, idx[0])) {
            idx[0] = i;
            old_sift_down(x, idx, m, 0);
        }
    for (int end = m - 1; end > 0; end--) {
        int t = idx[0];
        idx[0] = idx[end];
        idx[end] = t;
        old_sift_down(x, idx, end, 0);
    }
}

static int old_cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int old_one_hot(float *probs, int n, int k) {
    memset(probs, 0, (size_t)n * sizeof *probs);
    probs[k] = 1.0f;
    return 1;
}

static int old_sample_dist(const float *logits, int n, float temperature, int top_k, float top_p, float *probs, int *idx) {
    if (n <= 0) return 0;
    if (!(temperature > 0)) return old_one_hot(probs, n, jn_sample_argmax(logits, n));
    /* x = logits / T (NaN -> -inf); probs holds x until the kept set is known */
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        float v = logits[i] / temperature;
        if (v != v) v = -INFINITY;
        probs[i] = v;
        if (v > mx) mx = v;
    }
    if (mx == -INFINITY || mx == INFINITY) return old_one_hot(probs, n, jn_sample_argmax(logits, n));
    const int use_k = top_k > 0 && top_k < n;
    const int use_p = top_p < 1.0f; /* false for NaN */
    if (!use_k && !use_p) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = expf(probs[i] - mx);
            probs[i] = e;
            sum += e;
        }
        const float inv = (float)(1.0 / sum);
        for (int i = 0; i < n; i++) probs[i] *= inv;
        return n;
    }
    int kept;
    double sum_kept = 0;
    if (use_k) {
        old_top_m(probs, n, top_k, idx);
        kept = top_k;
        for (int j = 0; j < kept; j++) sum_kept += expf(probs[idx[j]] - mx);
        if (use_p) {
            double cum = 0, s2 = 0;
            int j = 0;
            while (j < kept) {
                double e = expf(probs[idx[j]] - mx);
                cum += e / sum_kept;
                s2 += e;
                j++;
                if (cum >= top_p) break;
            }
            kept = j;
            sum_kept = s2;
        }
    } else {
        double sum_all = 0;
        for (int i = 0; i < n; i++) sum_all += expf(probs[i] - mx);
        int m = n < 64 ? n : 64;
        for (;;) {
            old_top_m(probs, n, m, idx);
            double cum = 0, s2 = 0;
            int j = 0, reached = 0;
            while (j < m) {
                double e = expf(probs[idx[j]] - mx);
                cum += e / sum_all;
                s2 += e;
                j++;
                if (cum >= top_p) {
                    reached = 1;
                    break;
                }
            }
            if (reached || m == n) {
                kept = j;
                sum_kept = s2;
                break;
            }
            m = m > n / 8 ? n : m * 8;
        }
    }
    /* renormalised kept probabilities in index order, 0 elsewhere; probs[i] still holds x[i]
     * when the walk reaches i */
    const float inv = (float)(1.0 / sum_kept);
    qsort(idx, (size_t)kept, sizeof *idx, old_cmp_int);
    int ptr = 0;
    for (int i = 0; i < n; i++) {
        if (ptr < kept && idx[ptr] == i) {
            probs[i] = expf(probs[i] - mx) * inv;
            ptr++;
        } else {
            probs[i] = 0.0f;
        }
    }
    return kept;
}

static int old_sample(const float *logits, int n, float temperature, int top_k, float top_p, float u, float *scratch,
              int *scratch_idx) {
    if (n <= 0) return -1;
    if (!(temperature > 0)) return jn_sample_argmax(logits, n);
    old_sample_dist(logits, n, temperature, top_k, top_p, scratch, scratch_idx);
    double total = 0;
    int last = -1;
    for (int i = 0; i < n; i++)
        if (scratch[i] > 0) {
            total += scratch[i];
            last = i;
        }
    if (last < 0) return jn_sample_argmax(logits, n);
    if (!(u >= 0)) u = 0;
    const double target = (double)u * total;
    double cum = 0;
    for (int i = 0; i < n; i++) {
        if (scratch[i] <= 0) continue;
        cum += scratch[i];
        if (target < cum) return i;
    }
    return last; /* u * total rounded up to total */
}

/* ---------------------------------------------------------------- the ambiguity oracle (double) */

/* Rounding ambiguity bounds, from measurement: with 1e-7 the old and new samplers disagree on a few
 * near-uniform 16384-token rows (T = 1e6: the double sum and the f32 tile sums differ by ~2e-7
 * of the total), with 1e-6 never; AMBIG keeps 2x on top. Top-p: relative to top_p. */
#define AMBIG 2e-6

typedef struct {
    double v;
    int i;
} vi;
static int cmp_desc(const void *a, const void *b) { /* decreasing value, ties lower index first */
    const vi *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->i - y->i;
}

/* The kept set and index-order CDF of (logits, T, k, p) in double. Sets *near_p if a top-p prefix
 * mass lies within a relative AMBIG of top_p. cdf[n] = cumulative kept probability after token i. Returns 0,
 * or -1 for rows decided without a draw (greedy, no finite maximum). */
static int oracle(const float *logits, int n, float T, int k, float p, double *cdf, int *near_p) {
    if (!(T > 0)) return -1;
    vi *s = malloc(sizeof(vi) * (size_t)n);
    double *w = malloc(sizeof(double) * (size_t)n);
    char *keep = malloc((size_t)n);
    double mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        float x = logits[i] / T;
        s[i].v = x != x ? -INFINITY : (double)x;
        s[i].i = i;
        if (s[i].v > mx) mx = s[i].v;
        keep[i] = 1;
    }
    int rc = 0;
    if (mx == -INFINITY || mx == INFINITY) {
        rc = -1;
        goto out;
    }
    for (int i = 0; i < n; i++) w[i] = exp(s[i].v - mx);
    qsort(s, (size_t)n, sizeof *s, cmp_desc);
    int kk = (k > 0 && k < n) ? k : n;
    for (int j = kk; j < n; j++) keep[s[j].i] = 0;
    if (p < 1.0f) {
        double Z = 0, cum = 0;
        for (int j = 0; j < kk; j++) Z += w[s[j].i];
        int j = 0;
        for (; j < kk; j++) {
            cum += w[s[j].i] / Z;
            if (fabs(cum - p) < AMBIG * p) *near_p = 1;
            if (cum >= p) break;
        }
        for (int q = j + 1; q < kk; q++) keep[s[q].i] = 0;
    }
    double tot = 0;
    for (int i = 0; i < n; i++) tot += keep[i] ? w[i] : 0;
    double c = 0;
    for (int i = 0; i < n; i++) {
        c += keep[i] ? w[i] / tot : 0;
        cdf[i] = c;
    }
out:
    free(s);
    free(w);
    free(keep);
    return rc;
}

/* u within AMBIG of a CDF boundary (cdf is non-decreasing) */
static int near_boundary(const double *cdf, int n, double u) {
    int lo = 0, hi = n - 1;
    while (lo < hi) { /* first i with cdf[i] > u */
        int mid = (lo + hi) / 2;
        if (cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (fabs(cdf[lo] - u) < AMBIG) return 1;
    return lo > 0 && fabs(cdf[lo - 1] - u) < AMBIG;
}

/* ---------------------------------------------------------------- comparisons */

/* the shared test stream (tests/util/weightpool.h): integers and uniforms in [lo, hi) */
static uint32_t xr(void) { return (uint32_t)((tu_frand() + 1.0f) * 8388608.0f); }
static float frand(float lo, float hi) { return lo + (hi - lo) * 0.5f * (tu_frand() + 1.0f); }

static int n_cases, n_draws, n_ambiguous, n_ambiguous_p, n_mismatch;

/* every (T, k, p) of the sweep on one logit row, U uniforms each */
static void compare_row(const char *what, const float *logits, int n, int U, int stride) {
    static const float temps[] = {1.0f, 0.7f, 1.5f, 0.05f, 1e-6f, 1e-30f, 1e6f, 1e30f, 0.0f, -1.0f};
    static const float ps[] = {1.0f, 0.95f, 0.5f, 0.999f, 1e-9f, 0.0f};
    const int ks[] = {0, 1, 2, 50, n - 1, n, n + 3};
    float *sa = malloc(sizeof(float) * (size_t)n), *sb = malloc(sizeof(float) * (size_t)n);
    int *ia = malloc(sizeof(int) * (size_t)n), *ib = malloc(sizeof(int) * (size_t)n);
    double *cdf = malloc(sizeof(double) * (size_t)n);
    for (size_t a = 0; a < sizeof temps / sizeof *temps; a++)
        for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
            for (size_t c = 0; c < sizeof ps / sizeof *ps; c++) {
                if (((a * 7 + b) * 6 + c) % (size_t)stride != 0) continue; /* a subset on long rows */
                const float T = temps[a], p = ps[c];
                const int k = ks[b];
                int near_p = 0;
                int drawn = oracle(logits, n, T, k, p, cdf, &near_p) == 0;
                n_cases++;
                for (int d = 0; d < U; d++) {
                    float u = jn_rng_uniform(77, (uint64_t)n_cases, (uint64_t)d);
                    if (d == 0) u = 0.0f;
                    if (d == 1) u = 0.99999994f;
                    int want = old_sample(logits, n, T, k, p, u, sa, ia);
                    int got = jn_sample(logits, n, T, k, p, u, sb, ib);
                    n_draws++;
                    if (drawn && (near_p || near_boundary(cdf, n, u))) {
                        n_ambiguous++;
                        n_ambiguous_p += near_p;
                        continue;
                    }
                    if (got != want) {
                        if (n_mismatch++ < 10)
                            fprintf(stderr, "FAIL %s n %d T %g k %d p %g u %.9g: blocked %d, old %d\n", what, n, T, k,
                                    p, u, got, want);
                        tu_failures++;
                    }
                    /* a drawn token always has a positive weight in the double oracle */
                    if (drawn && got >= 0) {
                        double pr = cdf[got] - (got > 0 ? cdf[got - 1] : 0.0);
                        TU_CHECK(pr > 0 || near_p, "%s: T %g k %d p %g drew removed token %d", what, T, k, p, got);
                    }
                }
            }
    free(sa);
    free(sb);
    free(ia);
    free(ib);
    free(cdf);
}

static void test_against_old(void) {
    const int sizes[] = {1, 2, 7, 255, 256, 257, 1000, 16384};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        const int n = sizes[si];
        const int U = n >= 16384 ? 6 : 24, stride = n >= 16384 ? 7 : n >= 1000 ? 2 : 1;
        float *l = malloc(sizeof(float) * (size_t)n);
        for (int kind = 0; kind < 9; kind++) {
            const char *what = "?";
            for (int i = 0; i < n; i++) l[i] = frand(-4, 4);
            switch (kind) {
            case 0: what = "uniform[-4,4)"; break;
            case 1:
                what = "wide[-40,40)";
                for (int i = 0; i < n; i++) l[i] *= 10.0f;
                break;
            case 2:
                what = "peaked";
                l[xr() % (uint32_t)n] += 15.0f;
                break;
            case 3:
                what = "ties";
                for (int i = 0; i < n; i++) l[i] = (float)(int)l[i];
                break;
            case 4:
                what = "all equal";
                for (int i = 0; i < n; i++) l[i] = 1.25f;
                break;
            case 5:
                what = "-inf and NaN entries";
                for (int i = 0; i < n; i++)
                    if (xr() % 3 == 0) l[i] = (xr() & 1) ? -INFINITY : NAN;
                break;
            case 6:
                what = "all -inf";
                for (int i = 0; i < n; i++) l[i] = -INFINITY;
                break;
            case 7:
                what = "+inf entries";
                for (int i = 0; i < n; i++)
                    if (xr() % 5 == 0) l[i] = INFINITY;
                break;
            case 8:
                what = "huge magnitudes";
                for (int i = 0; i < n; i++) l[i] *= 1e37f;
                break;
            }
            compare_row(what, l, n, U, stride);
        }
        free(l);
    }
    printf("blocked vs old sampler: %d cases, %d draws, %d at a rounding boundary (not compared; %d of them at the "
           "top-p threshold), %d mismatches\n",
           n_cases, n_draws, n_ambiguous, n_ambiguous_p, n_mismatch);
    TU_CHECK(n_ambiguous * 10 < n_draws, "too many ambiguous draws to be meaningful: %d of %d", n_ambiguous, n_draws);
}

static void test_exp(void) {
    double worst = 0;
    float worst_x = 0;
    for (int i = 0; i <= 2000000; i++) {
        float x = -87.0f * (float)i / 2000000.0f;
        double want = exp((double)x), got = jn_sa_exp(x);
        double rel = fabs(got - want) / want;
        if (rel > worst) {
            worst = rel;
            worst_x = x;
        }
    }
    printf("jn_sa_exp on [-87, 0]: max relative error %.3g (at x = %.9g)\n", worst, worst_x);
    TU_CHECK(worst < 3e-7, "jn_sa_exp relative error %.3g", worst);
    TU_CHECK(jn_sa_exp(0.0f) == 1.0f, "exp(0) = 1 exactly");
    TU_CHECK(jn_sa_exp(-INFINITY) == 0.0f && jn_sa_exp(NAN) == 0.0f && jn_sa_exp(-88.0f) == 0.0f, "exp tails");
}

static void test_rows_and_ops(void) {
    enum { C = 777, NO = 5 };
    float *lg = malloc(sizeof(float) * 2 * NO * C), *mix = malloc(sizeof(float) * C);
    float *wf = malloc(sizeof(float) * 2 * C), *sc = malloc(sizeof(float) * C);
    int *wi = malloc(sizeof(int) * C), *si = malloc(sizeof(int) * C);
    for (int i = 0; i < 2 * NO * C; i++) lg[i] = frand(-3, 3);
    jn_sample_params sps[] = {{1.0f, 0, 1.0f, 5.0f, 42}, {0.8f, 40, 0.9f, 3.0f, 7}, {0.0f, 0, 1.0f, 5.0f, 1}};
    jn_error err = {0};
    jn_backend *bes[2] = {jn_backend_ref_create(&err), jn_backend_cpu_create(2, &err)};
    TU_CHECK(bes[0] && bes[1], "backends: %s", err.msg);
    for (size_t q = 0; q < sizeof sps / sizeof *sps; q++) {
        const jn_sample_params *sp = &sps[q];
        for (int pairs = 0; pairs < 2; pairs++) {
            int32_t ids[2 * NO], op_ids[2 * NO];
            jn_sample_rows(ids, 2, lg, NO, C, pairs, sp, 3, 11, wf, wi);
            for (int r = 0; r < NO; r++) {
                const float *row = lg + (size_t)r * C * (pairs ? 2 : 1);
                if (pairs) {
                    for (int i = 0; i < C; i++) mix[i] = row[i + C] + sp->cfg * (row[i] - row[i + C]);
                    row = mix;
                }
                int want = jn_sample(row, C, sp->temperature, sp->top_k, sp->top_p, jn_rng_uniform(sp->seed, 3 + (uint64_t)r, 11),
                                     sc, si);
                TU_CHECK(ids[2 * r] == want && ids[2 * r + 1] == want, "rows: params %zu pairs %d row %d: %d/%d vs %d", q,
                         pairs, r, ids[2 * r], ids[2 * r + 1], want);
            }
            for (int b = 0; b < 2; b++) {
                if (!bes[b]) continue;
                memset(op_ids, 0xff, sizeof op_ids);
                TU_CHECK(bes[b]->sample(bes[b], op_ids, 2, lg, NO, C, pairs, sp, 3, 11, NULL, &err) == JN_OK, "%s", err.msg);
                TU_CHECK(memcmp(op_ids, ids, sizeof ids) == 0, "%s sample op == jn_sample_rows (params %zu, pairs %d)",
                         bes[b]->name, q, pairs);
            }
        }
    }
    for (int b = 0; b < 2; b++) {
        if (!bes[b]) continue;
        int32_t one = 0;
        TU_CHECK(bes[b]->sample(bes[b], &one, 0, lg, 1, C, 0, &sps[0], 0, 0, NULL, &err) == JN_ERR_USAGE, "repeat 0 refused");
        TU_CHECK(bes[b]->capture_begin == NULL && bes[b]->replay == NULL, "no capture on host backends");
        bes[b]->destroy(bes[b]);
    }
    free(lg);
    free(mix);
    free(wf);
    free(sc);
    free(wi);
    free(si);
}

int main(void) {
    tu_seed(12345);
    test_exp();
    test_against_old();
    test_rows_and_ops();
    if (!tu_failures) printf("test_unit_sampler_blocked: ok\n");
    return TU_RESULT();
}
