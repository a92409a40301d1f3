/* engine/cpu/backend_cpu.c — the cpu backend: ops table, memory, scratch, and the light ops
 * (rms/layer/group norm, rope, get_rows, copy2d, upsample2x). matmul, conv2d, attention and the
 * element-wise ops live in their own files.
 *
 * Why: host memory with a persistent thread pool; every op splits its output statically over
 * the pool (rows, pixels, fixed-size chunks), so results never depend on the thread count.
 * AVX-512 / AVX2+FMA+F16C kernels are chosen once per instance at run time
 * (__builtin_cpu_supports) with scalar fallbacks; JANUS_CPU_ISA=avx512|avx2|scalar lowers the
 * choice (JANUS_CPU_SCALAR=1 = scalar), used by the op tests to cover every path.
 * Ops never abort: a failure (scratch OOM, JANUS_FAULT_OP) is kept as the instance's sticky
 * error (status()), and later ops do nothing.
 * Scratch is grown on demand by jn_cpu_reserve before a pool run and freed in destroy: no
 * allocation per op call in steady state. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise */
#include "cpu_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <string.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---------------------------------------------------------------- memory and scratch */

static void *aligned64(size_t nbytes) {
    size_t n = (nbytes + 63) & ~(size_t)63;
    if (n < nbytes) return NULL;
    if (n == 0) n = 64;
    return aligned_alloc(64, n);
}

/* Packed weights are read end to end on every token. They live in chunks of at least 64 MiB,
 * 2 MiB aligned and marked for transparent huge pages (THP "madvise" mode is common), so
 * streaming them costs one TLB entry per 2 MiB instead of one per 4 KiB (1B q4_0 decode 18.4 ->
 * 21.0 tok/s measured), and weights share chunks so no memory goes to partly used huge pages
 * (one per weight would cost 260 MB on the 1B). A chunk counts the weights in it (+1 while it is
 * a backend's current chunk) and is freed with the last. Falls back to 4 KiB pages silently. */
struct jn_cpu_arena {
    atomic_long refs;
    size_t size, used; /* bytes; the first 64 hold this header */
};

#define ARENA_HUGE ((size_t)2 << 20)
#define ARENA_CHUNK ((size_t)64 << 20)

/* n bytes, 2 MiB aligned, the whole 2 MiB stretches marked for transparent huge pages (a tail past
 * the last one keeps 4 KiB pages, so no partly used huge page is added). posix_memalign, since
 * aligned_alloc wants a size that is a multiple of the alignment. */
static void *alloc_huge(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, ARENA_HUGE, n) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, n & ~(ARENA_HUGE - 1), MADV_HUGEPAGE);
#endif
    return p;
}

static void arena_unref(jn_cpu_arena *a) {
    if (a && atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1) free(a);
}

/* nbytes (64-byte aligned) from the backend's current chunk, or a new one */
static void *arena_alloc(jn_cpu *c, size_t nbytes, jn_cpu_arena **owner) {
    size_t n = (nbytes + 63) & ~(size_t)63;
    if (n < nbytes) return NULL;
    jn_cpu_arena *a = c->arena;
    if (!a || a->size - a->used < n) {
        size_t size = n + 64 > ARENA_CHUNK ? n + 64 : ARENA_CHUNK;
        size = (size + ARENA_HUGE - 1) & ~(ARENA_HUGE - 1);
        if (size < n) return NULL;
        jn_cpu_arena *fresh = (jn_cpu_arena *)alloc_huge(size);
        if (!fresh) return NULL;
        atomic_init(&fresh->refs, 1); /* the backend's reference */
        fresh->size = size;
        fresh->used = 64;
        arena_unref(c->arena);
        c->arena = a = fresh;
    }
    void *p = (uint8_t *)a + a->used;
    a->used += n;
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    *owner = a;
    return p;
}

int jn_cpu_reserve(jn_cpu *c, size_t per_thread_bytes, size_t shared_bytes) {
    if (c->err.code != JN_OK) return 0;
    if (per_thread_bytes > c->tsize) {
        size_t n = per_thread_bytes + per_thread_bytes / 4 + 4096;
        for (int i = 0; i < c->nth; i++) {
            free(c->tscratch[i]);
            c->tscratch[i] = aligned64(n);
            if (!c->tscratch[i]) {
                for (int j = 0; j <= i; j++) {
                    free(c->tscratch[j]);
                    c->tscratch[j] = NULL;
                }
                c->tsize = 0;
                jn_fail(&c->err, JN_ERR_NOMEM, "cpu backend: out of memory growing per-thread scratch to %zu bytes "
                        "x %d threads", n, c->nth);
                return 0;
            }
        }
        c->tsize = n;
    }
    if (shared_bytes > c->shared_size) {
        size_t n = shared_bytes + shared_bytes / 4 + 4096;
        free(c->shared);
        c->shared = aligned64(n);
        c->shared_size = c->shared ? n : 0;
        if (!c->shared) {
            jn_fail(&c->err, JN_ERR_NOMEM, "cpu backend: out of memory growing shared scratch to %zu bytes", n);
            return 0;
        }
    }
    return 1;
}

/* Large buffers (K/V caches, activations of batches) are streamed like the weights: huge pages. */
static void *cpu_alloc(jn_backend *be, size_t nbytes) {
    (void)be;
    if (nbytes < 2 * ARENA_HUGE) return aligned64(nbytes);
    size_t n = (nbytes + 63) & ~(size_t)63;
    return n < nbytes ? NULL : alloc_huge(n);
}
static void cpu_free(jn_backend *be, void *p) {
    (void)be;
    free(p);
}
static void cpu_upload(jn_backend *be, void *dst, const void *src_host, size_t nbytes) {
    (void)be;
    if (nbytes) memcpy(dst, src_host, nbytes);
}
static void cpu_download(jn_backend *be, void *dst_host, const void *src, size_t nbytes) {
    (void)be;
    if (nbytes) memcpy(dst_host, src, nbytes);
}
static void cpu_copy(jn_backend *be, void *dst, const void *src, size_t nbytes) {
    (void)be;
    if (nbytes) memmove(dst, src, nbytes);
}
static void cpu_memset0(jn_backend *be, void *dst, size_t nbytes) {
    (void)be;
    if (nbytes) memset(dst, 0, nbytes);
}
static void run(jn_cpu *c, jn_task_fn fn, void *ctx, double work);

typedef struct pack_ctx {
    const jn_weight *w;
    void *dst;
    int n_groups;
} pack_ctx;

static void pack_task(void *arg, int ith, int nth) {
    pack_ctx *t = (pack_ctx *)arg;
    long b, e;
    jn_split_range(t->n_groups, ith, nth, &b, &e);
    if (e > b) jn_cpu_pack_groups(t->w, t->dst, (int)b, (int)e);
}

/* Pages wholly inside [p, p + n) are handed back to the kernel without losing their contents
 * (MADV_PAGEOUT: clean file pages of the mmapped model are dropped and re-read if ever touched;
 * anonymous memory is kept or swapped): after packing, the plain copy would otherwise stay
 * resident next to the packed one. */
static void page_out(const void *p, size_t n) {
#ifdef MADV_PAGEOUT
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0) return;
    uintptr_t a = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t e = ((uintptr_t)p + n) & ~((uintptr_t)pg - 1);
    if (e > a) (void)madvise((void *)a, e - a, MADV_PAGEOUT);
#else
    (void)p;
    (void)n;
#endif
}

/* AVX2 and AVX-512 instances pack 2-D q4_0/q8_0 weights (cpu_internal.h, jn_cpu_packed) into w->dev,
 * using the pool; everything else uses the host bytes in place. */
static jn_status cpu_weight_upload(jn_backend *be, jn_weight *w, jn_error *err) {
    jn_cpu *c = (jn_cpu *)be->impl;
    if (jn_cpu_packed_of(w)) return JN_OK; /* already packed by a cpu instance: usable by all */
    w->dev = (void *)w->data;
    int64_t K = jn_weight_cols(w), N = jn_weight_rows(w);
    if (c->avx2 && (w->type == JN_Q4_0 || w->type == JN_Q8_0) && w->n_dims == 2 && K % 32 == 0 && K > 0 &&
        N > 0 && K <= INT32_MAX && N <= INT32_MAX) {
        size_t nbytes = jn_cpu_packed_bytes(w->type, N, K);
        jn_cpu_arena *arena = NULL;
        void *p = arena_alloc(c, nbytes, &arena);
        if (!p)
            return jn_fail(err, JN_ERR_NOMEM, "cpu backend: out of memory packing weight %s (%zu bytes)",
                           w->name ? w->name : "?", nbytes);
        jn_cpu_pack_header(w, p);
        ((jn_cpu_packed *)p)->arena = arena;
        pack_ctx t = {w, p, ((const jn_cpu_packed *)p)->n_groups};
        run(c, pack_task, &t, (double)w->nbytes);
        page_out(w->data, w->nbytes);
        w->dev = p;
    }
    return JN_OK;
}
static void cpu_weight_release(jn_backend *be, jn_weight *w) {
    (void)be;
    const jn_cpu_packed *p = jn_cpu_packed_of(w);
    if (p) arena_unref((jn_cpu_arena *)p->arena);
    w->dev = NULL;
}
static void cpu_synchronize(jn_backend *be) { (void)be; }

static void cpu_destroy(jn_backend *be) {
    if (!be) return;
    jn_cpu *c = (jn_cpu *)be->impl;
    if (c) {
        jn_pool_free(c->pool);
        if (c->tscratch)
            for (int i = 0; i < c->nth; i++) free(c->tscratch[i]);
        free(c->tscratch);
        free(c->shared);
        arena_unref(c->arena);
        free(c);
    }
    free(be);
}

/* runs fn over the pool, or inline when the work is small */
static void run(jn_cpu *c, jn_task_fn fn, void *ctx, double work) {
    if (c->nth == 1 || work < 32768.0) fn(ctx, 0, 1);
    else jn_pool_run(c->pool, fn, ctx);
}

/* ---------------------------------------------------------------- rms / layer norm */

typedef struct norm_ctx {
    float *y;
    const float *x, *w, *b;
    int M, N;
    float eps;
    int layer; /* 0 rms, 1 layer */
} norm_ctx;

static void norm_task(void *arg, int ith, int nth) {
    norm_ctx *t = (norm_ctx *)arg;
    long rb, re;
    jn_split_range(t->M, ith, nth, &rb, &re);
    const int N = t->N;
    for (long m = rb; m < re; m++) {
        const float *xr = t->x + (size_t)m * N;
        float *yr = t->y + (size_t)m * N;
        if (!t->layer) {
            double ss = 0.0;
            for (int i = 0; i < N; i++) ss += (double)xr[i] * xr[i];
            float r = (float)(1.0 / sqrt(ss / N + (double)t->eps));
            for (int i = 0; i < N; i++) yr[i] = (xr[i] * r) * t->w[i];
        } else {
            double mean = 0.0, var = 0.0;
            for (int i = 0; i < N; i++) mean += xr[i];
            mean /= N;
            for (int i = 0; i < N; i++) {
                double d = xr[i] - mean;
                var += d * d;
            }
            var /= N;
            float r = (float)(1.0 / sqrt(var + (double)t->eps)), mf = (float)mean;
            for (int i = 0; i < N; i++) {
                float v = (xr[i] - mf) * r * t->w[i];
                yr[i] = t->b ? v + t->b[i] : v;
            }
        }
    }
}

static void cpu_rms_norm(jn_backend *be, float *y, const float *x, const jn_weight *w, int M, int N, float eps) {
    norm_ctx t = {y, x, (const float *)w->data, NULL, M, N, eps, 0};
    run((jn_cpu *)be->impl, norm_task, &t, (double)M * N);
}

static void cpu_layer_norm(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *b, int M,
                           int N, float eps) {
    norm_ctx t = {y, x, (const float *)w->data, b ? (const float *)b->data : NULL, M, N, eps, 1};
    run((jn_cpu *)be->impl, norm_task, &t, (double)M * N);
}

/* ---------------------------------------------------------------- group norm */

/* Statistics are reduced over fixed chunks of GN_CHUNK pixels (partials in chunk order), so the
 * summation order is independent of the thread count. Two passes (mean, then squared deviations)
 * in f64, then one normalising pass. */
#define GN_CHUNK 256

typedef struct gn_ctx {
    jn_cpu *c;
    float *y;
    const float *x, *w, *b;
    int HW, C, G;
    long n_chunks;
    double *part;        /* [n_chunks, G] */
    const double *mean;  /* [G] (pass 2 and 3) */
    const double *rstd;  /* [G] (pass 3) */
    int pass;
} gn_ctx;

static void gn_task(void *arg, int ith, int nth) {
    gn_ctx *t = (gn_ctx *)arg;
    const int C = t->C, cg = t->C / t->G;
    if (t->pass < 2) {
        double *acc = (double *)t->c->tscratch[ith]; /* [C] */
        double *meanc = acc + C;                      /* [C] per-channel copy of the group mean */
        if (t->pass == 1)
            for (int ci = 0; ci < C; ci++) meanc[ci] = t->mean[ci / cg];
        long cb, ce;
        jn_split_range(t->n_chunks, ith, nth, &cb, &ce);
        for (long ch = cb; ch < ce; ch++) {
            int p0 = (int)(ch * GN_CHUNK), p1 = p0 + GN_CHUNK < t->HW ? p0 + GN_CHUNK : t->HW;
            for (int ci = 0; ci < C; ci++) acc[ci] = 0.0;
            for (int p = p0; p < p1; p++) {
                const float *xr = t->x + (size_t)p * C;
                if (t->pass == 0) {
                    for (int ci = 0; ci < C; ci++) acc[ci] += xr[ci];
                } else {
                    for (int ci = 0; ci < C; ci++) {
                        double d = xr[ci] - meanc[ci];
                        acc[ci] += d * d;
                    }
                }
            }
            for (int g = 0; g < t->G; g++) {
                double s = 0.0;
                for (int ci = g * cg; ci < (g + 1) * cg; ci++) s += acc[ci];
                t->part[ch * t->G + g] = s;
            }
        }
    } else {
        /* per-channel float factors, then y = (x − mean)·a + b */
        float *af = (float *)t->c->tscratch[ith]; /* [C] a, [C] mean, [C] bias */
        float *mf = af + C, *bf = af + 2 * C;
        for (int ci = 0; ci < C; ci++) {
            int g = ci / cg;
            af[ci] = (float)(t->rstd[g] * t->w[ci]);
            mf[ci] = (float)t->mean[g];
            bf[ci] = t->b ? t->b[ci] : 0.0f;
        }
        long pb, pe;
        jn_split_range(t->HW, ith, nth, &pb, &pe);
        for (long p = pb; p < pe; p++) {
            const float *xr = t->x + (size_t)p * C;
            float *yr = t->y + (size_t)p * C;
            for (int ci = 0; ci < C; ci++) yr[ci] = (xr[ci] - mf[ci]) * af[ci] + bf[ci];
        }
    }
}

static void cpu_group_norm(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *b, int HW,
                           int C, int G, float eps) {
    jn_cpu *c = (jn_cpu *)be->impl;
    if (HW <= 0 || C <= 0 || G <= 0) return;
    gn_ctx t;
    memset(&t, 0, sizeof t);
    t.c = c;
    t.y = y;
    t.x = x;
    t.w = (const float *)w->data;
    t.b = b ? (const float *)b->data : NULL;
    t.HW = HW;
    t.C = C;
    t.G = G;
    t.n_chunks = (HW + GN_CHUNK - 1) / GN_CHUNK;
    size_t per_thread = (size_t)C * 2 * sizeof(double); /* pass 0/1: acc, meanc; pass 2: 3 float arrays */
    size_t shared = ((size_t)t.n_chunks * G + 2 * (size_t)G) * sizeof(double);
    if (!jn_cpu_reserve(c, per_thread, shared)) return;
    t.part = (double *)c->shared;
    double *mean = t.part + (size_t)t.n_chunks * G, *rstd = mean + G;
    const double cnt = (double)HW * (C / G), work = (double)HW * C;
    for (int pass = 0; pass < 3; pass++) {
        t.pass = pass;
        run(c, gn_task, &t, work);
        if (pass == 0) {
            for (int g = 0; g < G; g++) {
                double s = 0.0;
                for (long ch = 0; ch < t.n_chunks; ch++) s += t.part[ch * G + g];
                mean[g] = s / cnt;
            }
            t.mean = mean;
        } else if (pass == 1) {
            for (int g = 0; g < G; g++) {
                double s = 0.0;
                for (long ch = 0; ch < t.n_chunks; ch++) s += t.part[ch * G + g];
                rstd[g] = 1.0 / sqrt(s / cnt + (double)eps);
            }
            t.rstd = rstd;
        }
    }
}

/* ---------------------------------------------------------------- rope */

#define ROPE_MAX_HALF 1024

typedef struct rope_ctx {
    float *x;
    int n_seq, n_tok, n_head, d_head, ld;
    const int32_t *pos0;
    const float *inv_freq; /* [d_head/2] */
} rope_ctx;

static void rope_task(void *arg, int ith, int nth) {
    rope_ctx *t = (rope_ctx *)arg;
    long rb, re;
    jn_split_range((long)t->n_seq * t->n_tok, ith, nth, &rb, &re);
    const int half = t->d_head / 2;
    float cs[ROPE_MAX_HALF], sn[ROPE_MAX_HALF];
    for (long r = rb; r < re; r++) {
        int s = (int)(r / t->n_tok), tk = (int)(r % t->n_tok);
        float pos = (float)(t->pos0[s] + tk);
        for (int i = 0; i < half; i++) {
            float angle = t->inv_freq[i] * pos;
            cs[i] = cosf(angle);
            sn[i] = sinf(angle);
        }
        float *row = t->x + (size_t)r * t->ld;
        for (int h = 0; h < t->n_head; h++) {
            float *v = row + (size_t)h * t->d_head;
            for (int i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * cs[i] - b * sn[i];
                v[i + half] = b * cs[i] + a * sn[i];
            }
        }
    }
}

static void cpu_rope(jn_backend *be, float *x, int n_seq, int n_tok, int n_head, int d_head, int ld,
                     const int32_t *pos0_host, float theta) {
    int half = d_head / 2;
    JN_ASSERT(half <= ROPE_MAX_HALF);
    float inv_freq[ROPE_MAX_HALF];
    for (int i = 0; i < half; i++) inv_freq[i] = 1.0f / powf(theta, (float)(2 * i) / (float)d_head);
    rope_ctx t = {x, n_seq, n_tok, n_head, d_head, ld, pos0_host, inv_freq};
    run((jn_cpu *)be->impl, rope_task, &t, (double)n_seq * n_tok * n_head * d_head * 4.0);
}

/* ---------------------------------------------------------------- get_rows, copy2d, upsample */

static void cpu_get_rows(jn_backend *be, float *y, const jn_weight *w, const int32_t *ids_host, int n) {
    jn_cpu *c = (jn_cpu *)be->impl;
    int64_t K = jn_weight_cols(w);
    size_t rb = jn_row_bytes(w->type, K);
    JN_ASSERT(rb != 0);
    const jn_cpu_packed *p = jn_cpu_packed_of(w);
    if (p) { /* one plain block at a time from the packed copy */
        for (int i = 0; i < n; i++)
            for (int b = 0; b < p->nb; b++) {
                uint8_t blk[sizeof(jn_block_q8_0)];
                jn_cpu_packed_block(p, ids_host[i], b, blk);
                jn_to_f32_ref(w->type, blk, y + (size_t)i * (size_t)K + 32 * (size_t)b, 32);
            }
        return;
    }
    for (int i = 0; i < n; i++)
        jn_cpu_rows_to_f32(c, w->type, (const uint8_t *)w->data + (size_t)ids_host[i] * rb, rb, 1, (int)K,
                           y + (size_t)i * (size_t)K);
}

static void cpu_copy2d(jn_backend *be, float *y, int ldy, const float *x, int ldx, int rows, int cols) {
    (void)be;
    for (int r = 0; r < rows; r++) memcpy(y + (size_t)r * ldy, x + (size_t)r * ldx, (size_t)cols * sizeof(float));
}

/* f32 rows → rows of a half K/V cache (rounded to nearest-even, as jn_from_f32_ref: the same bits
 * for finite values); F16C converts 8 at a time. */
#ifdef JN_X86
JN_AVX2_FN static void rows_to_f16_avx2(uint16_t *y, int ldy, const float *x, int ldx, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        uint16_t *yr = y + (size_t)r * ldy;
        const float *xr = x + (size_t)r * ldx;
        int c = 0;
        for (; c + 8 <= cols; c += 8)
            _mm_storeu_si128((__m128i *)(yr + c), _mm256_cvtps_ph(_mm256_loadu_ps(xr + c), _MM_FROUND_TO_NEAREST_INT));
        if (c < cols) jn_from_f32_ref(JN_F16, xr + c, yr + c, cols - c);
    }
}
#endif

static void cpu_copy2d_kv(jn_backend *be, void *y, jn_dtype kv_type, int ldy, const float *x, int ldx, int rows,
                          int cols, const int32_t *dpos) {
    const int d = dpos ? *dpos : 0;
    if (kv_type == JN_F32) {
        cpu_copy2d(be, (float *)y + (ptrdiff_t)d * ldy, ldy, x, ldx, rows, cols);
        return;
    }
    if (kv_type == JN_Q8_0 && (cols % JN_QK8_0 || ldy % JN_QK8_0)) {
        jn_fail(&((jn_cpu *)be->impl)->err, JN_ERR_USAGE,
                "copy2d_kv: a q8_0 cache needs cols (%d) and ldy (%d) in whole 32-value blocks", cols, ldy);
        return;
    }
#ifdef JN_X86
    if (kv_type == JN_F16 && ((jn_cpu *)be->impl)->avx2) {
        rows_to_f16_avx2((uint16_t *)y + (ptrdiff_t)d * ldy, ldy, x, ldx, rows, cols);
        return;
    }
#endif
    /* bf16, and q8_0 with ggml's reference quantizer (a few rows per call: not hot) */
    for (int r = 0; r < rows; r++)
        jn_from_f32_ref(kv_type, x + (size_t)r * ldx, (uint8_t *)y + jn_elem_offset(kv_type, (size_t)(d + r) * ldy), cols);
}

typedef struct up_ctx {
    float *y;
    const float *x;
    int H, W, C;
} up_ctx;

static void up_task(void *arg, int ith, int nth) {
    up_ctx *t = (up_ctx *)arg;
    long rb, re;
    jn_split_range(2L * t->H, ith, nth, &rb, &re);
    const size_t C = (size_t)t->C, W2 = 2 * (size_t)t->W;
    for (long oy = rb; oy < re; oy++) {
        const float *xr = t->x + (size_t)(oy / 2) * t->W * C;
        float *yr = t->y + (size_t)oy * W2 * C;
        for (int ix = 0; ix < t->W; ix++) {
            memcpy(yr + (2 * (size_t)ix) * C, xr + (size_t)ix * C, C * sizeof(float));
            memcpy(yr + (2 * (size_t)ix + 1) * C, xr + (size_t)ix * C, C * sizeof(float));
        }
    }
}

static void cpu_upsample2x(jn_backend *be, float *y, const float *x, int H, int W, int C) {
    up_ctx t = {y, x, H, W, C};
    run((jn_cpu *)be->impl, up_task, &t, 4.0 * H * W * C / 8.0);
}

/* ---------------------------------------------------------------- op gate: sticky error, fault injection */

/* Every op of the table goes through here: after a failure (scratch OOM, injected fault) ops are
 * no-ops until the instance is destroyed; status() reports the first failure. JANUS_FAULT_OP=N
 * makes the N-th op call (1-based, counted per instance) fail, for tests of callers' error
 * paths. */
static int op_begin(jn_backend *be, const char *op) {
    jn_cpu *c = (jn_cpu *)be->impl;
    if (c->err.code != JN_OK) return 0;
    c->n_ops++;
    if (c->fault_op > 0 && c->n_ops == c->fault_op) {
        jn_fail(&c->err, JN_ERR_RUNTIME, "cpu backend: injected fault in op call %ld (%s), JANUS_FAULT_OP=%ld",
                c->n_ops, op, c->fault_op);
        return 0;
    }
    return 1;
}

static jn_status cpu_status(jn_backend *be, jn_error *err) {
    jn_cpu *c = (jn_cpu *)be->impl;
    if (c->err.code == JN_OK) return JN_OK;
    if (err) *err = c->err;
    return c->err.code;
}

static void op_matmul(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int M) {
    if (op_begin(be, "matmul")) jn_cpu_matmul(be, y, x, w, bias, M);
}
static void op_get_rows(jn_backend *be, float *y, const jn_weight *w, const int32_t *ids_host, int n) {
    if (op_begin(be, "get_rows")) cpu_get_rows(be, y, w, ids_host, n);
}
static void op_rms_norm(jn_backend *be, float *y, const float *x, const jn_weight *w, int M, int N, float eps) {
    if (op_begin(be, "rms_norm")) cpu_rms_norm(be, y, x, w, M, N, eps);
}
static void op_layer_norm(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *b, int M,
                          int N, float eps) {
    if (op_begin(be, "layer_norm")) cpu_layer_norm(be, y, x, w, b, M, N, eps);
}
static void op_group_norm(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *b, int HW,
                          int C, int G, float eps) {
    if (op_begin(be, "group_norm")) cpu_group_norm(be, y, x, w, b, HW, C, G, eps);
}
static void op_rope(jn_backend *be, float *x, int n_seq, int n_tok, int n_head, int d_head, int ld,
                    const int32_t *pos0_host, float theta) {
    if (op_begin(be, "rope")) cpu_rope(be, x, n_seq, n_tok, n_head, d_head, ld, pos0_host, theta);
}
static void op_attention(jn_backend *be, float *out, const float *q, const float *k, const float *v, int n_seq,
                         int n_q, int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride, int ldo,
                         int causal, float scale) {
    if (op_begin(be, "attention"))
        jn_cpu_attention(be, out, q, k, v, n_seq, n_q, n_kv, n_head, d_head, ldq, ldkv, seq_stride, ldo, causal, scale);
}
static void op_attention_kv(jn_backend *be, float *out, const float *q, const void *k, const void *v, jn_dtype kv_type,
                            int n_seq, int n_q, int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride,
                            int ldo, int causal, float scale, const int32_t *dpos) {
    if (op_begin(be, "attention_kv"))
        jn_cpu_attention_kv(be, out, q, k, v, kv_type, n_seq, n_q, n_kv + (dpos ? *dpos : 0), n_head, d_head, ldq, ldkv,
                            seq_stride, ldo, causal, scale);
}
static void op_copy2d_kv(jn_backend *be, void *y, jn_dtype kv_type, int ldy, const float *x, int ldx, int rows,
                         int cols, const int32_t *dpos) {
    if (op_begin(be, "copy2d_kv")) cpu_copy2d_kv(be, y, kv_type, ldy, x, ldx, rows, cols, dpos);
}
static void op_add(jn_backend *be, float *y, const float *a, const float *b, size_t n) {
    if (op_begin(be, "add")) jn_cpu_add(be, y, a, b, n);
}
static void op_mul(jn_backend *be, float *y, const float *a, const float *b, size_t n) {
    if (op_begin(be, "mul")) jn_cpu_mul(be, y, a, b, n);
}
static void op_scale(jn_backend *be, float *y, const float *x, float s, size_t n) {
    if (op_begin(be, "scale")) jn_cpu_scale(be, y, x, s, n);
}
static void op_gelu(jn_backend *be, float *y, const float *x, size_t n) {
    if (op_begin(be, "gelu")) jn_cpu_gelu(be, y, x, n);
}
static void op_silu(jn_backend *be, float *y, const float *x, size_t n) {
    if (op_begin(be, "silu")) jn_cpu_silu(be, y, x, n);
}
static void op_swiglu(jn_backend *be, float *y, const float *gate, const float *up, size_t n) {
    if (op_begin(be, "swiglu")) jn_cpu_swiglu(be, y, gate, up, n);
}
static void op_copy2d(jn_backend *be, float *y, int ldy, const float *x, int ldx, int rows, int cols) {
    if (op_begin(be, "copy2d")) cpu_copy2d(be, y, ldy, x, ldx, rows, cols);
}
static void op_conv2d(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *bias, int H,
                      int W, int stride, int pad) {
    if (op_begin(be, "conv2d")) jn_cpu_conv2d(be, y, x, w, bias, H, W, stride, pad);
}
static void op_upsample2x(jn_backend *be, float *y, const float *x, int H, int W, int C) {
    if (op_begin(be, "upsample2x")) cpu_upsample2x(be, y, x, H, W, C);
}

/* ---------------------------------------------------------------- ISA choice */

static int env_on(const char *name) {
    const char *e = getenv(name);
    return e && e[0] && e[0] != '0';
}

/* best ISA of this CPU + OS, lowered by JANUS_CPU_ISA / JANUS_CPU_SCALAR (cpu_internal.h) */
static jn_status choose_isa(jn_cpu *c, jn_error *err) {
    int has_avx2 = 0, has_avxvnni = 0, has_avx512 = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    unsigned a = 0, b = 0, cx = 0, d = 0;
    int f16c = __get_cpuid(1, &a, &b, &cx, &d) && (cx & (1u << 29)); /* CPUID.1:ECX.F16C */
    has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
    /* CPUID.(7,1):EAX bit 4 = AVX-VNNI (VEX vpdpbusd) */
    has_avxvnni = has_avx2 && __get_cpuid_count(7, 1, &a, &b, &cx, &d) && (a & (1u << 4));
    /* __builtin_cpu_supports checks the OS enables the zmm state (XGETBV) */
    has_avx512 = has_avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#endif
    jn_cpu_isa best = has_avx512 ? JN_ISA_AVX512 : has_avx2 ? JN_ISA_AVX2 : JN_ISA_SCALAR, want = best;
    const char *e = getenv("JANUS_CPU_ISA");
    if (e && e[0]) {
        if (!strcmp(e, "avx512")) want = JN_ISA_AVX512;
        else if (!strcmp(e, "avx2")) want = JN_ISA_AVX2;
        else if (!strcmp(e, "scalar")) want = JN_ISA_SCALAR;
        else
            return jn_fail(err, JN_ERR_USAGE, "cpu backend: JANUS_CPU_ISA=%s: expected avx512, avx2 or scalar", e);
    }
    if (env_on("JANUS_CPU_SCALAR")) want = JN_ISA_SCALAR;
    c->isa = want < best ? want : best; /* never above what the CPU has */
    c->avx2 = c->isa >= JN_ISA_AVX2;
    c->vnni = c->avx2 && has_avxvnni;
    c->avx512 = c->isa == JN_ISA_AVX512;
    if (env_on("JANUS_CPU_NO_VNNI")) c->vnni = c->avx512 = 0; /* plain AVX2 quantized kernels (tests, timing) */
    return JN_OK;
}

/* ---------------------------------------------------------------- constructor */

jn_backend *jn_backend_cpu_create(int n_threads, jn_error *err) {
    jn_backend *be = (jn_backend *)calloc(1, sizeof *be);
    jn_cpu *c = (jn_cpu *)calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        jn_fail(err, JN_ERR_NOMEM, "cpu backend: out of memory");
        return NULL;
    }
    be->impl = c;
    c->pool = jn_pool_create(n_threads);
    if (!c->pool) {
        cpu_destroy(be);
        jn_fail(err, JN_ERR_RUNTIME, "cpu backend: could not start %d worker threads", n_threads);
        return NULL;
    }
    c->nth = jn_pool_size(c->pool);
    c->tscratch = (void **)calloc((size_t)c->nth, sizeof(void *));
    if (!c->tscratch) {
        cpu_destroy(be);
        jn_fail(err, JN_ERR_NOMEM, "cpu backend: out of memory");
        return NULL;
    }
    if (choose_isa(c, err) != JN_OK) {
        cpu_destroy(be);
        return NULL;
    }
    const char *fault = getenv("JANUS_FAULT_OP");
    if (fault && fault[0]) c->fault_op = strtol(fault, NULL, 10);

    be->name = "cpu";
    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->upload = cpu_upload;
    be->download = cpu_download;
    be->copy = cpu_copy;
    be->memset0 = cpu_memset0;
    be->weight_upload = cpu_weight_upload;
    be->weight_release = cpu_weight_release;
    be->synchronize = cpu_synchronize;
    be->destroy = cpu_destroy;
    be->matmul = op_matmul;
    be->get_rows = op_get_rows;
    be->rms_norm = op_rms_norm;
    be->layer_norm = op_layer_norm;
    be->group_norm = op_group_norm;
    be->rope = op_rope;
    be->attention = op_attention;
    be->add = op_add;
    be->mul = op_mul;
    be->scale = op_scale;
    be->gelu = op_gelu;
    be->silu = op_silu;
    be->swiglu = op_swiglu;
    be->copy2d = op_copy2d;
    be->conv2d = op_conv2d;
    be->upsample2x = op_upsample2x;
    be->status = cpu_status;
    jn_backend_host_extra_ops(be); /* the entries of the CUDA block: sample, *_dpos, K/V, capture */
    be->attention_kv = op_attention_kv; /* f16/bf16/q8_0 K/V caches read natively (or converted per head in L2) */
    be->copy2d_kv = op_copy2d_kv;
    return be;
}
