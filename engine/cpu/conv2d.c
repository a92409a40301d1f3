/* engine/cpu/conv2d.c — channels-last conv2d for the cpu backend (VQ decoder, patch embedding).
 *
 * Why this design: float weights (every conv of the official model) go to the panel GEMM
 * (gemm_panel.c), which reads the input pixels in place: no im2col. q8_0/q4_0 conv weights (a
 * file converted with them) keep the matmul of im2col rows [Ho·Wo, Cin·kh·kw] with W[Cout, K]^T,
 * built in tiles of TP output pixels (≤ 256 KB per thread: the full im2col of a 384×384×128 3×3
 * layer would be 680 MB) and quantized to q8 blocks per tile; 1×1 / stride 1 / pad 0 is a plain
 * matmul over the pixels. Threads take tiles from an atomic counter; each output element is
 * computed by one micro-kernel sequence, so results do not depend on the thread count.
 * im2col column order matches W's [Cin, kh, kw] flattening: k = (ci·kh + ky)·kw + kx. */
#include "cpu_internal.h"

#include <stdatomic.h>
#include <string.h>

typedef struct conv_ctx {
    const jn_cpu *c;
    float *y;           /* [Ho*Wo, Cout] */
    const float *x;     /* [H, W, Cin] */
    const uint8_t *wq;  /* [Cout] rows of row_bytes (quantized weights) */
    jn_dtype wt;
    size_t row_bytes;
    const float *bias;  /* [Cout] or NULL */
    int H, W, Cin, Cout, kh, kw, stride, pad, Ho, Wo, K;
    int tp;             /* output pixels per tile */
    long n_tiles;
    atomic_long next;   /* next tile to take */
} conv_ctx;

/* col[r*K + k] for output pixels p0 .. p0+np-1 */
static void im2col_tile(const conv_ctx *t, int p0, int np, float *col) {
    const int K = t->K, khw = t->kh * t->kw, Cin = t->Cin;
    for (int r = 0; r < np; r++) {
        int p = p0 + r, oy = p / t->Wo, ox = p % t->Wo;
        float *cr = col + (size_t)r * K;
        for (int ky = 0; ky < t->kh; ky++) {
            int iy = oy * t->stride - t->pad + ky;
            for (int kx = 0; kx < t->kw; kx++) {
                int ix = ox * t->stride - t->pad + kx;
                float *dst = cr + ky * t->kw + kx;
                if (iy < 0 || iy >= t->H || ix < 0 || ix >= t->W) {
                    for (int ci = 0; ci < Cin; ci++) dst[(size_t)ci * khw] = 0.0f;
                } else {
                    const float *src = t->x + ((size_t)iy * t->W + ix) * (size_t)Cin;
                    if (khw == 1) memcpy(dst, src, (size_t)Cin * sizeof(float));
                    else
                        for (int ci = 0; ci < Cin; ci++) dst[(size_t)ci * khw] = src[ci];
                }
            }
        }
    }
}

static void conv_task(void *arg, int ith, int nth) {
    conv_ctx *t = (conv_ctx *)arg;
    (void)nth;
    float *col = (float *)t->c->tscratch[ith];                         /* [tp, K] */
    jn_q8x *colq = (jn_q8x *)(col + (size_t)t->tp * (size_t)t->K);     /* [tp, K/32] */
    const int P = t->Ho * t->Wo;
    for (;;) {
        long tile = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
        if (tile >= t->n_tiles) break;
        int p0 = (int)(tile * t->tp), np = P - p0 < t->tp ? P - p0 : t->tp;
        im2col_tile(t, p0, np, col);
        float *yp = t->y + (size_t)p0 * t->Cout;
        jn_cpu_quantize_q8x(t->c, col, (size_t)t->K, np, t->K, colq);
        jn_cpu_mm_q(t->c, yp, (size_t)t->Cout, colq, np, t->wq, t->row_bytes, t->wt, t->Cout, t->K / 32, t->bias);
    }
}

void jn_cpu_conv2d(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int H, int W,
                   int stride, int pad) {
    jn_cpu *c = (jn_cpu *)be->impl;
    conv_ctx t;
    memset(&t, 0, sizeof t);
    t.c = c;
    t.y = y;
    t.x = x;
    t.wt = w->type;
    t.Cout = (int)w->shape[0];
    t.Cin = (int)w->shape[1];
    t.kh = (int)w->shape[2];
    t.kw = (int)w->shape[3];
    t.K = t.Cin * t.kh * t.kw;
    t.H = H;
    t.W = W;
    t.stride = stride;
    t.pad = pad;
    t.Ho = (H + 2 * pad - t.kh) / stride + 1;
    t.Wo = (W + 2 * pad - t.kw) / stride + 1;
    t.bias = bias ? (const float *)bias->data : NULL;
    t.row_bytes = jn_row_bytes(t.wt, t.K);
    JN_ASSERT(t.row_bytes != 0 && (int64_t)t.K == jn_weight_cols(w));
    if (t.Ho <= 0 || t.Wo <= 0) return;

    const int quant = t.wt == JN_Q8_0 || t.wt == JN_Q4_0;
    const int plain = t.kh == 1 && t.kw == 1 && stride == 1 && pad == 0; /* the pixels are the rows */
    if (!quant) {
        const jn_gemm_x gx = {.x = x, .ldx = (size_t)t.Cin, .conv = !plain, .H = H, .W = W, .Cin = t.Cin,
                              .kh = t.kh, .kw = t.kw, .stride = stride, .pad = pad, .Wo = t.Wo};
        jn_cpu_gemm_panel(c, y, &gx, t.Ho * t.Wo, w, t.bias);
        return;
    }
    if (plain) {
        jn_cpu_matmul(be, y, x, w, bias, H * W);
        return;
    }

    const int P = t.Ho * t.Wo, nth = c->nth;
    int tp = (int)((256u * 1024u) / ((size_t)t.K * 4u));
    tp = tp < 4 ? 4 : (tp > 256 ? 256 : tp / 4 * 4);
    int tp_bal = ((P + 4 * nth - 1) / (4 * nth) + 3) / 4 * 4; /* at least ~4 tiles per thread */
    if (tp_bal < tp) tp = tp_bal < 4 ? 4 : tp_bal;
    t.tp = tp;
    t.n_tiles = (P + tp - 1) / tp;
    atomic_init(&t.next, 0);

    size_t per_thread = (size_t)tp * (size_t)t.K * sizeof(float) + 64 + (size_t)tp * (size_t)(t.K / 32) * sizeof(jn_q8x);
    if (!jn_cpu_reserve(c, per_thread, 0)) return;
    t.wq = (const uint8_t *)w->data;
    if (nth > 1 && t.n_tiles > 1) jn_pool_run(c->pool, conv_task, &t);
    else conv_task(&t, 0, 1);
}
