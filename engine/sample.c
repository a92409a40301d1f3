/* engine/sample.c — CFG combine, argmax and temperature/top-k/top-p sampling (see sample.h): THE
 * CPU sampler, and the definition the CUDA sampler (cuda/sample.cu) reproduces bit for bit.
 *
 * The arithmetic (scaled logits, a private exp, blocked tile sums, the threshold form of top-k /
 * top-p and the tiled CDF walk) is defined once in sample_arith.h; this file implements it with
 * sequential host loops. Top-k and top-p need the best tokens in order, not a full sort: a
 * bounded heap of size m keeps the m best (O(n log m)) and heap-sorts them; top-p starts with
 * m = 64 and grows the heap 8x only when the mass is not reached, then binary-searches the
 * shortest prefix (the blocked mass is monotone in the prefix). Ordering is by the scaled logit
 * (equivalent to probability, but without the ties exp() underflow would create), ties broken by
 * lower index, so results are deterministic. */
#include "sample.h"

#include "backend.h"
#include "sample_arith.h"

/* clang may contract a*b+c into an FMA on targets that have one; the shared arithmetic needs
 * every operation rounded on its own (gcc in C11 mode never contracts) */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

void jn_cfg_combine(float *out, const float *cond, const float *uncond, int n, float cfg) {
    for (int i = 0; i < n; i++) out[i] = jn_sa_cfg(cond[i], uncond[i], cfg);
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

static int one_hot(float *probs, int n, int k) {
    memset(probs, 0, (size_t)n * sizeof *probs);
    probs[k] = 1.0f;
    return 1;
}

/* e_i of token i (step 4 of sample_arith.h) if it is kept (R_i >= rthr), else 0 */
static inline float kept_weight(const float *x, int n, float mx, uint64_t rthr, int i) {
    return rthr == 0 || jn_sa_rank(x[i], i, n) >= rthr ? jn_sa_exp(jn_sa_sub(x[i], mx)) : 0.0f;
}

/* the pairwise tree over a tile's JN_SA_TILE slots (step 6): strides 128, 64, …, 1 */
static float tree_sum(float *a) {
    for (int s = JN_SA_TILE / 2; s > 0; s >>= 1)
        for (int j = 0; j < s; j++) a[j] = jn_sa_add(a[j], a[j + s]);
    return a[0];
}

/* tile sum of tile t over the kept tokens (step 6) */
static float tile_mass(const float *x, int n, float mx, uint64_t rthr, int t) {
    float a[JN_SA_TILE];
    const int i0 = t * JN_SA_TILE;
    int any = 0;
    for (int j = 0; j < JN_SA_TILE; j++) {
        int i = i0 + j;
        a[j] = i < n ? kept_weight(x, n, mx, rthr, i) : 0.0f;
        any |= a[j] > 0.0f;
    }
    return any ? tree_sum(a) : 0.0f; /* 0: the tree of zeros */
}

static inline int n_tiles(int n) { return (n + JN_SA_TILE - 1) / JN_SA_TILE; }

/* M({R_i >= rthr}): tile sums added in tile order (step 6) */
static float kept_mass(const float *x, int n, float mx, uint64_t rthr) {
    float m = 0.0f;
    for (int t = 0; t < n_tiles(n); t++) m = jn_sa_add(m, tile_mass(x, n, mx, rthr, t));
    return m;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The same tile sums as tile_mass for a kept set given as its members sorted by index
 * (sorted[p, q) = the members in tile t); untouched tiles add +0, which changes no sum. */
static float group_mass(const float *x, float mx, const int *sorted, int p, int q, int t) {
    float a[JN_SA_TILE];
    memset(a, 0, sizeof a);
    int any = 0;
    for (int k = p; k < q; k++) {
        float e = jn_sa_exp(jn_sa_sub(x[sorted[k]], mx));
        a[sorted[k] - t * JN_SA_TILE] = e;
        any |= e > 0.0f;
    }
    return any ? tree_sum(a) : 0.0f;
}

/* end of the group of sorted[p]'s tile */
static int group_end(const int *sorted, int p, int j) {
    const int t = sorted[p] / JN_SA_TILE;
    int q = p + 1;
    while (q < j && sorted[q] / JN_SA_TILE == t) q++;
    return q;
}

static float sorted_mass(const float *x, float mx, const int *sorted, int j) {
    float m = 0.0f;
    for (int p = 0; p < j;) {
        int q = group_end(sorted, p, j);
        m = jn_sa_add(m, group_mass(x, mx, sorted, p, q, sorted[p] / JN_SA_TILE));
        p = q;
    }
    return m;
}

/* M(idx[0, j)) for the rank-sorted candidates idx[0, m): sparse through a sorted copy in
 * idx[m, m + j) when that fits, else the dense scan with the threshold of idx[j - 1] */
static float prefix_mass(const float *x, int n, float mx, int *idx, int j, int m) {
    if ((int64_t)m + j > n) return kept_mass(x, n, mx, jn_sa_rank(x[idx[j - 1]], idx[j - 1], n));
    int *tmp = idx + m;
    memcpy(tmp, idx, (size_t)j * sizeof *tmp);
    qsort(tmp, (size_t)j, sizeof *tmp, cmp_int);
    return sorted_mass(x, mx, tmp, j);
}

/* Steps 3, 5, 7, 8: x[n] = scaled logits, *mx, *rthr = the kept-set threshold; when top-k/top-p
 * apply, *n_members = j > 0 and idx[0, j) are the kept tokens in rank order (else 0: all kept).
 * idx[n] is heap scratch. Returns 0, or -1 when the row has no finite maximum (the caller takes
 * the argmax). */
static int blocked_plan(const float *logits, int n, float temperature, int top_k, float top_p, float *x, int *idx,
                        float *mx_out, uint64_t *rthr_out, int *n_members) {
    float mx = jn_sa_from_bits(0xFF800000u); /* -inf */
    for (int i = 0; i < n; i++) {
        x[i] = jn_sa_scaled(logits[i], temperature);
        if (x[i] > mx) mx = x[i];
    }
    if (mx == -INFINITY || mx == INFINITY) return -1;
    uint64_t rthr = 0;
    *n_members = 0;
    const int use_k = top_k > 0 && top_k < n;
    const int use_p = top_p < 1.0f; /* false for NaN */
    if (use_k) {
        top_m(x, n, top_k, idx);
        rthr = jn_sa_rank(x[idx[top_k - 1]], idx[top_k - 1], n);
        *n_members = top_k;
    }
    if (use_p) {
        const float target = jn_sa_mul(top_p, use_k ? prefix_mass(x, n, mx, idx, top_k, top_k) : kept_mass(x, n, mx, 0));
        int m = use_k ? top_k : (n < 64 ? n : 64);
        for (;;) {
            if (!use_k) top_m(x, n, m, idx);
            /* the m-prefix reaches the target (always true when it is the whole kept set) */
            if (use_k || m == n || prefix_mass(x, n, mx, idx, m, m) >= target) break;
            m = m > n / 8 ? n : m * 8;
        }
        /* shortest prefix j in [1, m] whose mass reaches the target */
        int lo = 1, hi = m;
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (prefix_mass(x, n, mx, idx, mid, m) >= target)
                hi = mid;
            else
                lo = mid + 1;
        }
        rthr = jn_sa_rank(x[idx[lo - 1]], idx[lo - 1], n);
        *n_members = lo;
    }
    *mx_out = mx;
    *rthr_out = rthr;
    return 0;
}

int jn_sample_dist(const float *logits, int n, float temperature, int top_k, float top_p, float *probs, int *idx) {
    if (n <= 0) return 0;
    if (!(temperature > 0)) return one_hot(probs, n, jn_sample_argmax(logits, n));
    float mx;
    uint64_t rthr;
    int members;
    if (blocked_plan(logits, n, temperature, top_k, top_p, probs, idx, &mx, &rthr, &members))
        return one_hot(probs, n, jn_sample_argmax(logits, n));
    /* probs holds x; each x_i is read (for its rank and weight) before it is overwritten */
    const float inv = jn_sa_div(1.0f, kept_mass(probs, n, mx, rthr));
    int kept = 0;
    for (int i = 0; i < n; i++) {
        int keep = jn_sa_rank(probs[i], i, n) >= rthr;
        kept += keep;
        probs[i] = keep ? jn_sa_mul(jn_sa_exp(jn_sa_sub(probs[i], mx)), inv) : 0.0f;
    }
    return kept;
}

int jn_sample(const float *logits, int n, float temperature, int top_k, float top_p, float u, float *scratch,
              int *scratch_idx) {
    if (n <= 0) return -1;
    if (!(temperature > 0)) return jn_sample_argmax(logits, n);
    float mx;
    uint64_t rthr;
    int j;
    const float *x = scratch;
    if (blocked_plan(logits, n, temperature, top_k, top_p, scratch, scratch_idx, &mx, &rthr, &j))
        return jn_sample_argmax(logits, n);
    if (j > 0) { /* top-k / top-p: the same walk over the members only (the others weigh 0) */
        int *sorted = scratch_idx;
        qsort(sorted, (size_t)j, sizeof *sorted, cmp_int);
        if (!(u >= 0)) u = 0;
        const float target = jn_sa_mul(u, sorted_mass(x, mx, sorted, j));
        float S = 0.0f;
        for (int p = 0; p < j;) {
            int q = group_end(sorted, p, j);
            float next = jn_sa_add(S, group_mass(x, mx, sorted, p, q, sorted[p] / JN_SA_TILE));
            if (target < next) {
                float s = S;
                int last = -1;
                for (int k = p; k < q; k++) {
                    float e = jn_sa_exp(jn_sa_sub(x[sorted[k]], mx));
                    if (e <= 0.0f) continue;
                    s = jn_sa_add(s, e);
                    last = sorted[k];
                    if (target < s) return sorted[k];
                }
                return last;
            }
            S = next;
            p = q;
        }
        for (int k = j - 1; k >= 0; k--)
            if (jn_sa_exp(jn_sa_sub(x[sorted[k]], mx)) > 0.0f) return sorted[k];
        return jn_sample_argmax(logits, n);
    }
    /* step 9: the tiled CDF walk. The tile sums of rows up to 512 tiles (both Janus vocabularies)
     * are kept on the stack, so the walk recomputes the weights of one tile only. */
    if (!(u >= 0)) u = 0;
    float tsum[512];
    const int NT = n_tiles(n), keep = NT <= 512;
    float total = 0.0f;
    for (int t = 0; t < NT; t++) {
        float ts = tile_mass(x, n, mx, rthr, t);
        if (keep) tsum[t] = ts;
        total = jn_sa_add(total, ts);
    }
    const float target = jn_sa_mul(u, total);
    float S = 0.0f;
    for (int t = 0; t < NT; t++) {
        float next = jn_sa_add(S, keep ? tsum[t] : tile_mass(x, n, mx, rthr, t));
        if (target < next) {
            float s = S;
            int last = -1, end = (t + 1) * JN_SA_TILE < n ? (t + 1) * JN_SA_TILE : n;
            for (int i = t * JN_SA_TILE; i < end; i++) {
                float e = kept_weight(x, n, mx, rthr, i);
                if (e <= 0.0f) continue;
                s = jn_sa_add(s, e);
                last = i;
                if (target < s) return i;
            }
            return last; /* the tile's partial sums rounded below its tree sum */
        }
        S = next;
    }
    for (int i = n - 1; i >= 0; i--) /* target rounded up to the total */
        if (kept_weight(x, n, mx, rthr, i) > 0.0f) return i;
    return jn_sample_argmax(logits, n);
}

void jn_sample_rows(int32_t *ids, int repeat, const float *logits, int n_out, int C, int cfg_pairs,
                    const jn_sample_params *sp, uint64_t stream0, uint64_t index, float *work_f, int *work_i) {
    for (int r = 0; r < n_out; r++) {
        const float *row = logits + (size_t)r * C * (cfg_pairs ? 2 : 1);
        float *m = work_f + C; /* the mixed row; jn_sample's scratch is work_f[0, C) */
        if (cfg_pairs) {
            jn_cfg_combine(m, row, row + C, C, sp->cfg);
            row = m;
        }
        float u = jn_rng_uniform(sp->seed, stream0 + (uint64_t)r, index);
        int32_t id = jn_sample(row, C, sp->temperature, sp->top_k, sp->top_p, u, work_f, work_i);
        for (int k = 0; k < repeat; k++) ids[(size_t)r * repeat + k] = id;
    }
}

jn_status jn_backend_host_sample(jn_backend *be, int32_t *ids, int repeat, const float *logits, int n_out, int C,
                                 int cfg_pairs, const jn_sample_params *sp, uint64_t stream0, uint64_t index,
                                 const int32_t *index_dev, jn_error *err) {
    (void)be;
    if (index_dev) index += (uint64_t)(int64_t)*index_dev;
    if (n_out <= 0) return JN_OK;
    if (C <= 0 || repeat < 1 || repeat > 256 || !sp)
        return jn_fail(err, JN_ERR_USAGE, "sample: bad arguments (C %d, repeat %d, params %s)", C, repeat,
                       sp ? "set" : "NULL");
    float *wf = malloc((size_t)C * 2 * sizeof *wf);
    int *wi = malloc((size_t)C * sizeof *wi);
    if (!wf || !wi) {
        free(wf);
        free(wi);
        return jn_fail(err, JN_ERR_NOMEM, "sample: out of memory for %d-token rows", C);
    }
    jn_sample_rows(ids, repeat, logits, n_out, C, cfg_pairs, sp, stream0, index, wf, wi);
    free(wf);
    free(wi);
    return JN_OK;
}
