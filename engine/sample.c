/* engine/sample.c — CFG combine, argmax and temperature/top-k/top-p sampling (see sample.h).
 *
 * Top-k and top-p need the best tokens in order, not a full sort: a bounded heap of size m keeps
 * the m best (O(n log m)) and heap-sorts them. top-p starts with m = 64 and grows the heap 8x only
 * when the mass is not reached, so the usual case (a peaked distribution over a 100k vocabulary)
 * costs one pass. Ordering is by the scaled logit (equivalent to probability, but without the
 * ties exp() underflow would create), ties broken by lower index, so results are deterministic. */
#include "sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void jn_cfg_combine(float *out, const float *cond, const float *uncond, int n, float cfg) {
    for (int i = 0; i < n; i++) out[i] = uncond[i] + cfg * (cond[i] - uncond[i]);
}

int jn_sample_argmax(const float *x, int n) {
    if (n <= 0) return -1;
    int best = -1;
    float bv = 0;
    for (int i = 0; i < n; i++) {
        float v = x[i];
        if (v != v) continue;
        if (best < 0 || v > bv) {
            best = i;
            bv = v;
        }
    }
    return best < 0 ? 0 : best;
}

/* a ranks before b: larger key, then lower index (keys are NaN-free) */
static inline int better(const float *x, int a, int b) { return x[a] > x[b] || (x[a] == x[b] && a < b); }

/* heap of indices with the WORST element at the root */
static void sift_down(const float *x, int *h, int m, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < m && better(x, h[w], h[l])) w = l;
        if (r < m && better(x, h[w], h[r])) w = r;
        if (w == i) return;
        int t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* idx[0..m) = the m best indices of x[0..n), sorted best first. */
static void top_m(const float *x, int n, int m, int *idx) {
    for (int i = 0; i < m; i++) idx[i] = i;
    for (int i = m / 2 - 1; i >= 0; i--) sift_down(x, idx, m, i);
    for (int i = m; i < n; i++)
        if (better(x, i, idx[0])) {
            idx[0] = i;
            sift_down(x, idx, m, 0);
        }
    for (int end = m - 1; end > 0; end--) {
        int t = idx[0];
        idx[0] = idx[end];
        idx[end] = t;
        sift_down(x, idx, end, 0);
    }
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int one_hot(float *probs, int n, int k) {
    memset(probs, 0, (size_t)n * sizeof *probs);
    probs[k] = 1.0f;
    return 1;
}

int jn_sample_dist(const float *logits, int n, float temperature, int top_k, float top_p, float *probs, int *idx) {
    if (n <= 0) return 0;
    if (!(temperature > 0)) return one_hot(probs, n, jn_sample_argmax(logits, n));
    /* x = logits / T (NaN -> -inf); probs holds x until the kept set is known */
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        float v = logits[i] / temperature;
        if (v != v) v = -INFINITY;
        probs[i] = v;
        if (v > mx) mx = v;
    }
    if (mx == -INFINITY || mx == INFINITY) return one_hot(probs, n, jn_sample_argmax(logits, n));
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
        top_m(probs, n, top_k, idx);
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
            top_m(probs, n, m, idx);
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
    qsort(idx, (size_t)kept, sizeof *idx, cmp_int);
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

int jn_sample(const float *logits, int n, float temperature, int top_k, float top_p, float u, float *scratch,
              int *scratch_idx) {
    if (n <= 0) return -1;
    if (!(temperature > 0)) return jn_sample_argmax(logits, n);
    jn_sample_dist(logits, n, temperature, top_k, top_p, scratch, scratch_idx);
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
