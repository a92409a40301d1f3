/* vision/preprocess.c — Janus understanding preprocessing (janus-spec §2.3), bit-exact with the
 * Python reference: size rule, Pillow's fixed-point antialiased bicubic resize, expand2square,
 * float normalisation.
 *
 * The resize is our own implementation of the algorithm of Pillow's src/libImaging/Resample.c
 * (8-bit path), every rounding reproduced:
 *   per axis: scale = in/out; filterscale = max(scale, 1); support = 2 * filterscale;
 *   ksize = ceil(support) * 2 + 1; for output index i: center = (i + 0.5) * scale,
 *   lo = max((int)(center - support + 0.5), 0), n = min((int)(center + support + 0.5), in) - lo,
 *   w_j = K(((lo + j) - center + 0.5) * (1 / filterscale)) in double, normalised by their sum;
 *   fixed point k_j = (int)(w_j * 2^22 ± 0.5); sample = clamp((2^21 + Σ v·k_j) >> 22, 0, 255).
 *   Horizontal pass first into an 8-bit image holding only the source rows the vertical pass reads,
 *   then the vertical pass; a pass is skipped when its axis keeps its size; both skipped = copy.
 * K is Keys' cubic with a = -0.5. No FMA contraction may change the double arithmetic: this file
 * is compiled as ISO C (GCC: -ffp-contract=off) and says FP_CONTRACT OFF for clang. */
#define _POSIX_C_SOURCE 200809L
#include "preprocess.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define RS_PRECISION_BITS 22 /* Pillow: 32 - 8 - 2 */

void jn_preprocess_target_size(int w, int h, int image_size, int min_size, int *out_w, int *out_h) {
    const double m = (double)(w > h ? w : h);
    /* Python: int(h / max_size * image_size), division then multiplication, truncation toward 0. */
    int hh = (int)((double)h / m * (double)image_size);
    int ww = (int)((double)w / m * (double)image_size);
    *out_h = hh > min_size ? hh : min_size;
    *out_w = ww > min_size ? ww : min_size;
}

static double bicubic_kernel(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* Fixed-point filter for one axis. bounds: [out, 2] = (first input index, tap count);
 * k: [out, ksize] int32 weights (zero past the tap count). */
typedef struct rs_axis {
    int ksize;
    int *bounds;
    int32_t *k;
} rs_axis;

static void rs_axis_free(rs_axis *a) {
    free(a->bounds);
    free(a->k);
    a->bounds = NULL;
    a->k = NULL;
}

static jn_status rs_axis_init(int in_size, int out_size, rs_axis *a, jn_error *err) {
    const double scale = (double)in_size / (double)out_size;
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = 2.0 * filterscale; /* bicubic support 2 */
    const int ksize = (int)ceil(support) * 2 + 1;
    const double inv_filterscale = 1.0 / filterscale;
    a->ksize = ksize;
    a->bounds = (int *)malloc((size_t)out_size * 2 * sizeof(int));
    a->k = (int32_t *)calloc((size_t)out_size * (size_t)ksize, sizeof(int32_t));
    double *w = (double *)malloc((size_t)ksize * sizeof(double));
    if (!a->bounds || !a->k || !w) {
        free(w);
        rs_axis_free(a);
        return jn_fail(err, JN_ERR_NOMEM, "resize: out of memory for %d x %d filter taps", out_size, ksize);
    }
    for (int i = 0; i < out_size; i++) {
        const double center = 0.0 + (i + 0.5) * scale;
        int lo = (int)(center - support + 0.5);
        if (lo < 0) lo = 0;
        int hi = (int)(center + support + 0.5);
        if (hi > in_size) hi = in_size;
        const int n = hi - lo;
        double ww = 0.0;
        for (int j = 0; j < n; j++) {
            w[j] = bicubic_kernel(((double)(j + lo) - center + 0.5) * inv_filterscale);
            ww += w[j];
        }
        int32_t *k = a->k + (size_t)i * ksize;
        for (int j = 0; j < n; j++) {
            double v = ww != 0.0 ? w[j] / ww : w[j];
            double s = v * (double)(1 << RS_PRECISION_BITS);
            k[j] = v < 0 ? (int32_t)(-0.5 + s) : (int32_t)(0.5 + s);
        }
        a->bounds[2 * i] = lo;
        a->bounds[2 * i + 1] = n;
    }
    free(w);
    return JN_OK;
}

static inline uint8_t rs_clip8(int32_t acc) {
    int32_t v = acc >> RS_PRECISION_BITS; /* arithmetic shift, as Pillow */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* dst: [n_rows, out_w, 3] from src rows [row0, row0 + n_rows) of [*, in_w, 3]. */
static void rs_horizontal(const uint8_t *src, int in_w, int row0, int n_rows, uint8_t *dst, int out_w,
                          const rs_axis *a) {
    const int ksize = a->ksize;
    for (int y = 0; y < n_rows; y++) {
        const uint8_t *line = src + (size_t)(row0 + y) * in_w * 3;
        uint8_t *out = dst + (size_t)y * out_w * 3;
        for (int x = 0; x < out_w; x++) {
            const int lo = a->bounds[2 * x], n = a->bounds[2 * x + 1];
            const int32_t *k = a->k + (size_t)x * ksize;
            const uint8_t *p = line + (size_t)lo * 3;
            int32_t s0 = 1 << (RS_PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int j = 0; j < n; j++) {
                s0 += p[3 * j] * k[j];
                s1 += p[3 * j + 1] * k[j];
                s2 += p[3 * j + 2] * k[j];
            }
            out[3 * x] = rs_clip8(s0);
            out[3 * x + 1] = rs_clip8(s1);
            out[3 * x + 2] = rs_clip8(s2);
        }
    }
}

/* dst: [out_h, w, 3] from src [*, w, 3]; bounds are relative to src's first row. acc: [w*3] scratch. */
static void rs_vertical(const uint8_t *src, int w, uint8_t *dst, int out_h, const rs_axis *a, int32_t *acc) {
    const int ksize = a->ksize;
    const size_t row = (size_t)w * 3;
    for (int y = 0; y < out_h; y++) {
        const int lo = a->bounds[2 * y], n = a->bounds[2 * y + 1];
        const int32_t *k = a->k + (size_t)y * ksize;
        for (size_t i = 0; i < row; i++) acc[i] = 1 << (RS_PRECISION_BITS - 1);
        /* integer sums: the tap order does not matter, so accumulate whole rows (vectorises) */
        for (int j = 0; j < n; j++) {
            const uint8_t *p = src + (size_t)(lo + j) * row;
            const int32_t kj = k[j];
            for (size_t i = 0; i < row; i++) acc[i] += p[i] * kj;
        }
        uint8_t *out = dst + (size_t)y * row;
        for (size_t i = 0; i < row; i++) out[i] = rs_clip8(acc[i]);
    }
}

/* Both passes are split by output rows over a few short-lived threads for large images (integer
 * arithmetic per output sample: the result does not depend on the split). */
typedef struct rs_job {
    int pass; /* 0 horizontal, 1 vertical */
    const uint8_t *src;
    uint8_t *dst;
    int in_w, row0, out_w, out_h; /* horizontal: rows [0, out_h) of dst from src rows row0 + y */
    const rs_axis *a;
    int begin, end;               /* output rows of this job */
    int32_t *acc;                 /* vertical scratch [out_w * 3] */
} rs_job;

static void *rs_run(void *arg) {
    rs_job *j = (rs_job *)arg;
    if (j->pass == 0) {
        rs_horizontal(j->src, j->in_w, j->row0 + j->begin, j->end - j->begin, j->dst + (size_t)j->begin * j->out_w * 3,
                      j->out_w, j->a);
    } else {
        /* a vertical job computes rows [begin, end) of the output */
        rs_axis sub = *j->a;
        sub.bounds = j->a->bounds + 2 * (size_t)j->begin;
        sub.k = j->a->k + (size_t)j->begin * j->a->ksize;
        rs_vertical(j->src, j->out_w, j->dst + (size_t)j->begin * j->out_w * 3, j->end - j->begin, &sub, j->acc);
    }
    return NULL;
}

#define RS_MAX_THREADS 8

/* Runs one pass over n_rows output rows; work = multiply-adds, used to decide on threading. */
static jn_status rs_pass(rs_job proto, int n_rows, double work, jn_error *err) {
    int nt = 1;
    if (work > 4e6) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        nt = ncpu > 1 ? (int)(ncpu < RS_MAX_THREADS ? ncpu : RS_MAX_THREADS) : 1;
        if (nt > n_rows) nt = n_rows;
    }
    rs_job jobs[RS_MAX_THREADS];
    pthread_t tid[RS_MAX_THREADS];
    int started[RS_MAX_THREADS] = {0};
    int32_t *acc = NULL;
    if (proto.pass == 1) {
        acc = (int32_t *)malloc((size_t)nt * proto.out_w * 3 * sizeof(int32_t));
        if (!acc) return jn_fail(err, JN_ERR_NOMEM, "resize: out of memory");
    }
    for (int t = 0; t < nt; t++) {
        jobs[t] = proto;
        jobs[t].begin = (int)((long)n_rows * t / nt);
        jobs[t].end = (int)((long)n_rows * (t + 1) / nt);
        jobs[t].acc = acc ? acc + (size_t)t * proto.out_w * 3 : NULL;
    }
    for (int t = 1; t < nt; t++) started[t] = pthread_create(&tid[t], NULL, rs_run, &jobs[t]) == 0;
    rs_run(&jobs[0]);
    for (int t = 1; t < nt; t++) {
        if (started[t]) {
            pthread_join(tid[t], NULL);
        } else {
            rs_run(&jobs[t]); /* could not start a thread: do it here */
        }
    }
    free(acc);
    return JN_OK;
}

jn_status jn_resize_bicubic_pil(const jn_rgb_image *in, int out_w, int out_h, jn_rgb_image *out, jn_error *err) {
    memset(out, 0, sizeof *out);
    if (!in || !in->rgb || in->w <= 0 || in->h <= 0 || out_w <= 0 || out_h <= 0)
        return jn_fail(err, JN_ERR_USAGE, "resize: bad sizes %dx%d -> %dx%d", in ? in->w : 0, in ? in->h : 0, out_w,
                       out_h);
    const int need_h = out_w != in->w, need_v = out_h != in->h;
    size_t out_bytes = (size_t)out_w * (size_t)out_h * 3;
    out->rgb = (uint8_t *)malloc(out_bytes);
    if (!out->rgb) return jn_fail(err, JN_ERR_NOMEM, "resize: out of memory for %dx%d", out_w, out_h);
    out->w = out_w;
    out->h = out_h;
    if (!need_h && !need_v) {
        memcpy(out->rgb, in->rgb, out_bytes);
        return JN_OK;
    }
    rs_axis av = {0}, ah = {0};
    uint8_t *tmp = NULL;
    jn_status st;
    /* Vertical coefficients first: they say which source rows the horizontal pass must produce. */
    if ((st = rs_axis_init(in->h, out_h, &av, err))) goto fail;
    const int row_first = av.bounds[0];
    const int row_last = av.bounds[2 * out_h - 2] + av.bounds[2 * out_h - 1];
    const uint8_t *vsrc = in->rgb; /* [*, vw, 3] */
    int vw = in->w;
    if (need_h) {
        if ((st = rs_axis_init(in->w, out_w, &ah, err))) goto fail;
        const int n_rows = row_last - row_first;
        uint8_t *hdst = need_v ? (tmp = (uint8_t *)malloc((size_t)out_w * (size_t)n_rows * 3)) : out->rgb;
        if (!hdst) {
            st = jn_fail(err, JN_ERR_NOMEM, "resize: out of memory");
            goto fail;
        }
        rs_job h = {0, in->rgb, hdst, in->w, row_first, out_w, n_rows, &ah, 0, 0, NULL};
        if ((st = rs_pass(h, n_rows, (double)n_rows * out_w * ah.ksize * 3, err))) goto fail;
        for (int i = 0; i < out_h; i++) av.bounds[2 * i] -= row_first;
        vsrc = hdst;
        vw = out_w;
    }
    if (need_v) {
        rs_job v = {1, vsrc, out->rgb, vw, 0, vw, out_h, &av, 0, 0, NULL};
        if ((st = rs_pass(v, out_h, (double)out_h * vw * av.ksize * 3, err))) goto fail;
    }
    free(tmp);
    rs_axis_free(&av);
    rs_axis_free(&ah);
    return JN_OK;
fail:
    free(tmp);
    rs_axis_free(&av);
    rs_axis_free(&ah);
    jn_rgb_image_free(out);
    return st;
}

jn_status jn_preprocess_image(const jn_rgb_image *in, int image_size, int min_size, const uint8_t background[3],
                              jn_rgb_image *resized_padded, jn_error *err) {
    memset(resized_padded, 0, sizeof *resized_padded);
    if (!in || !in->rgb || in->w <= 0 || in->h <= 0)
        return jn_fail(err, JN_ERR_USAGE, "preprocess: empty image (%dx%d)", in ? in->w : 0, in ? in->h : 0);
    if (image_size <= 0 || min_size <= 0 || min_size > image_size)
        return jn_fail(err, JN_ERR_USAGE, "preprocess: bad image_size %d / min_size %d", image_size, min_size);
    int tw, th;
    jn_preprocess_target_size(in->w, in->h, image_size, min_size, &tw, &th);
    /* The long side is int(m / m * S) = S exactly, so the square canvas is S x S. */
    JN_ASSERT((tw == image_size || th == image_size) && tw <= image_size && th <= image_size);
    jn_rgb_image r;
    jn_status st = jn_resize_bicubic_pil(in, tw, th, &r, err);
    if (st) return st;
    if (tw == th) { /* expand2square returns the image itself */
        *resized_padded = r;
        return JN_OK;
    }
    const int S = image_size;
    uint8_t *canvas = (uint8_t *)malloc((size_t)S * S * 3);
    if (!canvas) {
        jn_rgb_image_free(&r);
        return jn_fail(err, JN_ERR_NOMEM, "preprocess: out of memory");
    }
    for (size_t i = 0; i < (size_t)S * S; i++) memcpy(canvas + 3 * i, background, 3);
    const int ox = tw > th ? 0 : (S - tw) / 2; /* landscape: (0, (S-h')//2); portrait: ((S-w')//2, 0) */
    const int oy = tw > th ? (S - th) / 2 : 0;
    for (int y = 0; y < th; y++)
        memcpy(canvas + ((size_t)(oy + y) * S + ox) * 3, r.rgb + (size_t)y * tw * 3, (size_t)tw * 3);
    jn_rgb_image_free(&r);
    resized_padded->w = S;
    resized_padded->h = S;
    resized_padded->rgb = canvas;
    return JN_OK;
}

void jn_pixels_normalize(const jn_rgb_image *img, const float mean[3], const float std[3], double rescale,
                         float *out_chw) {
    /* The chain depends only on (v, channel): a 3 x 256 table computes it once per value. */
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            float x = (float)((double)v * rescale); /* float64 product, float32 result */
            float y = x - mean[c];
            lut[c][v] = y / std[c];
        }
    const size_t hw = (size_t)img->w * (size_t)img->h;
    for (size_t i = 0; i < hw; i++) {
        const uint8_t *p = img->rgb + 3 * i;
        out_chw[i] = lut[0][p[0]];
        out_chw[hw + i] = lut[1][p[1]];
        out_chw[2 * hw + i] = lut[2][p[2]];
    }
}
