/* bench/bench_ops.c — cpu backend kernel timings and the machine's floors, for bench/bench_all.sh.
 *
 * usage: bench_ops [--threads N] [--reps R] [--what LIST]
 *   LIST (comma): machine (read bandwidth and f32 FMA peak), matmul (the Janus-Pro-1B LLM layer
 *   shapes at q4_0/q8_0 for M = 1, 2, 8, 32), gemm (a SigLIP MLP matmul, f32 and bf16 weights),
 *   attention (decode: one query per sequence, 2 and 32 sequences, f32 and f16 caches, cold).
 * Kernels run on every ISA path this CPU has (JANUS_CPU_ISA=avx512, avx2, scalar for matmul M=1
 * only); weights are random bytes with small scales, 24 layers' worth so they stream from DRAM
 * as in a decode step. Times are the minimum over R repetitions (the machine is shared; the
 * minimum is the least disturbed figure). Prints markdown table rows. */
#define _POSIX_C_SOURCE 200809L
#include "engine/backend.h"
#include "engine/threadpool.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BENCH_X86 1
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t g_rng = 0x1234567887654321ull;
static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/* ---------------------------------------------------------------- machine floors */

typedef struct bw_ctx {
    const uint64_t *buf;
    size_t n; /* uint64 words */
    uint64_t sink[64];
} bw_ctx;

static void bw_task(void *arg, int ith, int nth) {
    bw_ctx *t = (bw_ctx *)arg;
    long b, e;
    jn_split_range((long)t->n, ith, nth, &b, &e);
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (long i = b; i + 4 <= e; i += 4) {
        a0 += t->buf[i];
        a1 += t->buf[i + 1];
        a2 += t->buf[i + 2];
        a3 += t->buf[i + 3];
    }
    t->sink[ith % 64] = a0 + a1 + a2 + a3;
}

/* GB/s reading a 1 GiB buffer with all pool threads */
static double read_bandwidth(jn_pool *pool, int reps) {
    size_t bytes = (size_t)1 << 30;
    uint64_t *buf = (uint64_t *)malloc(bytes);
    if (!buf) return 0.0;
    for (size_t i = 0; i < bytes / 8; i++) buf[i] = i;
    bw_ctx t = {buf, bytes / 8, {0}};
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        jn_pool_run(pool, bw_task, &t);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    free(buf);
    return (double)bytes / best / 1e9;
}

#ifdef BENCH_X86
/* 12 independent FMA chains of `width` floats: the FMA throughput peak (flop = 2 per lane) */
__attribute__((target("avx512f"))) static void fma512(float *out, long iters) {
    __m512 a[12], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], m, c);
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    _mm512_storeu_ps(out, s);
}
__attribute__((target("avx2,fma"))) static void fma256(float *out, long iters) {
    __m256 a[12], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], m, c);
    __m256 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
    _mm256_storeu_ps(out, s);
}
#endif

typedef struct fma_ctx {
    int width;
    long iters;
    float out[64][16];
} fma_ctx;

static void fma_task(void *arg, int ith, int nth) {
    (void)nth;
    fma_ctx *t = (fma_ctx *)arg;
#ifdef BENCH_X86
    if (t->width == 16) fma512(t->out[ith % 64], t->iters);
    else fma256(t->out[ith % 64], t->iters);
#else
    (void)t;
    (void)ith;
#endif
}

/* GFLOP/s over all pool threads with `width`-lane FMAs */
static double fma_peak(jn_pool *pool, int width, int reps) {
    fma_ctx t;
    memset(&t, 0, sizeof t);
    t.width = width;
    t.iters = 20L * 1000 * 1000;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        jn_pool_run(pool, fma_task, &t);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    return 2.0 * 12.0 * width * (double)t.iters * jn_pool_size(pool) / best / 1e9;
}

/* ---------------------------------------------------------------- matmul */

typedef struct shape {
    const char *name;
    int N, K;
} shape;
/* one Janus-Pro-1B decoder layer: q, k, v, o (2048²), gate, up (5632×2048), down (2048×5632) */
static const shape k_layer[] = {{"q", 2048, 2048}, {"k", 2048, 2048}, {"v", 2048, 2048}, {"o", 2048, 2048},
                                {"gate", 5632, 2048}, {"up", 5632, 2048}, {"down", 2048, 5632}};
#define N_LAYER_W 7
#define N_LAYERS 24

static void random_qweight(jn_weight *w, jn_dtype t, int N, int K) {
    memset(w, 0, sizeof *w);
    w->name = "bench";
    w->type = t;
    w->n_dims = 2;
    w->shape[0] = N;
    w->shape[1] = K;
    w->shape[2] = w->shape[3] = 1;
    size_t rb = jn_row_bytes(t, K), bb = jn_row_bytes(t, 32);
    w->nbytes = rb * (size_t)N;
    uint8_t *d = (uint8_t *)malloc(w->nbytes);
    for (size_t i = 0; i + 8 <= w->nbytes; i += 8) {
        uint64_t r = rnd();
        memcpy(d + i, &r, 8);
    }
    uint16_t h = jn_f32_to_f16(0.001f);
    for (size_t b = 0; b < w->nbytes / bb; b++) memcpy(d + b * bb, &h, 2);
    w->data = d;
}

/* ms per decoder layer (7 matmuls) at M rows, averaged over the 24 layers, min over reps; *cpu_ms
 * the same by process CPU time per thread (less disturbed by other load on a shared machine) */
static double time_layers(jn_backend *be, jn_weight (*ws)[N_LAYER_W], int M, int reps, int threads, double *gbs,
                          double *cpu_ms) {
    float *x = (float *)be->alloc(be, (size_t)M * 5632 * sizeof(float));
    float *y = (float *)be->alloc(be, (size_t)M * 5632 * sizeof(float));
    for (size_t i = 0; i < (size_t)M * 5632; i++) x[i] = (float)((double)(rnd() >> 11) / 9007199254740992.0 - 0.5);
    double best = 1e30, best_cpu = 1e30, bytes = 0;
    for (int l = 0; l < N_LAYERS; l++)
        for (int j = 0; j < N_LAYER_W; j++) bytes += (double)ws[l][j].nbytes;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s(), c0 = cpu_s();
        for (int l = 0; l < N_LAYERS; l++)
            for (int j = 0; j < N_LAYER_W; j++) be->matmul(be, y, x, &ws[l][j], NULL, M);
        double dt = now_s() - t0, dc = (cpu_s() - c0) / threads;
        if (dt < best) best = dt;
        if (dc < best_cpu) best_cpu = dc;
    }
    *cpu_ms = best_cpu * 1e3 / N_LAYERS;
    be->free(be, x);
    be->free(be, y);
    *gbs = bytes / best / 1e9;
    return best * 1e3 / N_LAYERS;
}

static jn_backend *make_cpu(const char *isa, int threads) {
    jn_error err;
    jn_error_clear(&err);
    if (isa) setenv("JANUS_CPU_ISA", isa, 1);
    jn_backend *be = jn_backend_cpu_create(threads, &err);
    unsetenv("JANUS_CPU_ISA");
    if (!be) fprintf(stderr, "cpu backend (%s): %s\n", isa ? isa : "best", err.msg);
    return be;
}

static void bench_matmul(int threads, int reps) {
    static const char *isas[3] = {"avx512", "avx2", "scalar"};
    static const int Ms[4] = {1, 2, 8, 32};
    printf("| matmul: one 1B decoder layer (7 weights): ms wall / ms CPU per thread (GB/s of weights by wall) | M=1 | M=2 | M=8 | M=32 |\n");
    printf("|---|---|---|---|---|\n");
    for (int ti = 0; ti < 2; ti++) {
        jn_dtype t = ti == 0 ? JN_Q4_0 : JN_Q8_0;
        static jn_weight ws[N_LAYERS][N_LAYER_W];
        for (int l = 0; l < N_LAYERS; l++)
            for (int j = 0; j < N_LAYER_W; j++) random_qweight(&ws[l][j], t, k_layer[j].N, k_layer[j].K);
        for (int ii = 0; ii < 3; ii++) {
            jn_backend *be = make_cpu(isas[ii], threads);
            if (!be) continue;
            jn_weight up[N_LAYERS][N_LAYER_W];
            jn_error err;
            for (int l = 0; l < N_LAYERS; l++)
                for (int j = 0; j < N_LAYER_W; j++) {
                    up[l][j] = ws[l][j];
                    be->weight_upload(be, &up[l][j], &err);
                }
            printf("| %s %s |", jn_dtype_name(t), isas[ii]);
            for (int mi = 0; mi < 4; mi++) {
                if (ii == 2 && mi > 0) {
                    printf(" – |");
                    continue;
                }
                double gbs, cpu_ms;
                double ms = time_layers(be, up, Ms[mi], ii == 2 ? 1 : reps, threads, &gbs, &cpu_ms);
                printf(" %.2f / %.2f (%.1f) |", ms, cpu_ms, gbs);
                fflush(stdout);
            }
            printf("\n");
            for (int l = 0; l < N_LAYERS; l++)
                for (int j = 0; j < N_LAYER_W; j++) be->weight_release(be, &up[l][j]);
            be->destroy(be);
        }
        for (int l = 0; l < N_LAYERS; l++)
            for (int j = 0; j < N_LAYER_W; j++) free((void *)ws[l][j].data);
    }
}

/* ---------------------------------------------------------------- float GEMM (SigLIP shapes) */

/* SigLIP-L MLP fc1: x[576, 1024] · W[4096, 1024]ᵀ with bf16 weights; GFLOP/s by wall and by
 * process CPU time (the latter is less disturbed by other load on a shared machine) */
static void bench_gemm(int threads, int reps) {
    static const char *isas[3] = {"avx512", "avx2", "scalar"};
    const int M = 576, K = 1024, N = 4096;
    float *wv = (float *)malloc((size_t)N * K * sizeof(float));
    for (size_t i = 0; i < (size_t)N * K; i++) wv[i] = (float)((double)(rnd() >> 11) / 9007199254740992.0 - 0.5);
    printf("| f32 GEMM 576×1024 · (4096×1024)ᵀ, GFLOP/s wall (by CPU time) | bf16 W | f32 W |\n|---|---|---|\n");
    for (int row = 0; row < 4; row++) {
        const int ii = row / 2, panel = row % 2; /* panel: an encoder weight (many_rows), else the LM tiles */
        jn_backend *be = make_cpu(isas[ii], threads);
        if (!be) continue;
        printf("| %s %s |", isas[ii], panel ? "panel GEMM (encoders)" : "dot-product tiles (LM)");
        for (int ti = 0; ti < 2; ti++) {
            jn_dtype t = ti == 0 ? JN_BF16 : JN_F32;
            jn_weight w;
            memset(&w, 0, sizeof w);
            w.name = "gemm";
            w.many_rows = panel;
            w.type = t;
            w.n_dims = 2;
            w.shape[0] = N;
            w.shape[1] = K;
            w.shape[2] = w.shape[3] = 1;
            w.nbytes = jn_row_bytes(t, K) * (size_t)N;
            void *bytes = malloc(w.nbytes);
            jn_from_f32_ref(t, wv, bytes, (int64_t)N * K);
            w.data = bytes;
            jn_error err;
            be->weight_upload(be, &w, &err);
            float *x = (float *)be->alloc(be, (size_t)M * K * sizeof(float));
            float *y = (float *)be->alloc(be, (size_t)M * N * sizeof(float));
            memcpy(x, wv, (size_t)M * K * sizeof(float));
            double best = 1e30, best_cpu = 1e30;
            for (int r = 0; r < reps; r++) {
                double t0 = now_s(), c0 = cpu_s();
                be->matmul(be, y, x, &w, NULL, M);
                double dt = now_s() - t0, dc = (cpu_s() - c0) / threads;
                if (dt < best) best = dt;
                if (dc < best_cpu) best_cpu = dc;
            }
            double fl = 2.0 * M * N * K;
            printf(" %.0f (%.0f) |", fl / best / 1e9, fl / best_cpu / 1e9);
            fflush(stdout);
            be->weight_release(be, &w);
            be->free(be, x);
            be->free(be, y);
            free(bytes);
        }
        printf("\n");
        be->destroy(be);
    }
    free(wv);
    printf("\n");
}

/* ---------------------------------------------------------------- attention */

/* Decode attention as a generation step meets it: one query per sequence over its own cache, 8
 * layers' worth of distinct caches swept in turn (so K/V come from memory, as in a real step where
 * the weights stream in between), for a CFG pair and for 16 images (32 rows), f32, f16 and q8_0
 * caches.
 * Reports µs per layer and the GB/s of K/V read; compare with the machine's read bandwidth. */
static void bench_attention(int threads, int reps) {
    static const char *isas[2] = {"avx512", "avx2"};
    const int n_head = 16, d = 128, n_kv = 330, cap = n_kv + 8, ld = n_head * d, L = 8;
    const jn_dtype kvt[3] = {JN_F32, JN_F16, JN_Q8_0};
    const int rows[2] = {2, 32};
    printf("| attention decode (16 heads × 128, %d keys, %d layers' caches in turn), µs per layer (GB/s of K/V) |", n_kv, L);
    for (int ii = 0; ii < 2; ii++) printf(" %s |", isas[ii]);
    printf("\n|---|---|---|\n");
    for (int ki = 0; ki < 3; ki++)
        for (int ri = 0; ri < 2; ri++) {
            const int ns = rows[ri];
            const size_t nkv = (size_t)ns * cap * ld, kv_bytes = jn_row_bytes(kvt[ki], (int64_t)nkv);
            printf("| %s cache, %d rows |", jn_dtype_name(kvt[ki]), ns);
            for (int ii = 0; ii < 2; ii++) {
                jn_backend *be = make_cpu(isas[ii], threads);
                if (!be) {
                    printf(" – |");
                    continue;
                }
                float *q = (float *)be->alloc(be, (size_t)ns * ld * sizeof(float));
                float *o = (float *)be->alloc(be, (size_t)ns * ld * sizeof(float));
                void *k[8], *v[8];
                for (int l = 0; l < L; l++) {
                    k[l] = be->alloc(be, kv_bytes);
                    v[l] = be->alloc(be, kv_bytes);
                    memset(k[l], 0x3a, kv_bytes); /* small finite values in every type */
                    memset(v[l], 0x31, kv_bytes);
                }
                for (int i = 0; i < ns * ld; i++) q[i] = (float)((double)(rnd() >> 11) / 9007199254740992.0 - 0.5);
                double best = 1e30;
                for (int r = 0; r < reps * 3; r++) {
                    double t0 = now_s();
                    for (int l = 0; l < L; l++)
                        be->attention_kv(be, o, q, k[l], v[l], kvt[ki], ns, 1, n_kv, n_head, d, ld, ld, (size_t)cap * ld,
                                         ld, 1, 0.088f, NULL);
                    double dt = (now_s() - t0) / L;
                    if (dt < best) best = dt;
                }
                double bytes = 2.0 * (double)jn_row_bytes(kvt[ki], (int64_t)ns * n_kv * ld);
                printf(" %.0f (%.1f) |", best * 1e6, bytes / best / 1e9);
                for (int l = 0; l < L; l++) {
                    be->free(be, k[l]);
                    be->free(be, v[l]);
                }
                be->free(be, q);
                be->free(be, o);
                be->destroy(be);
            }
            printf("\n");
        }
}

int main(int argc, char **argv) {
    int threads = 2, reps = 3;
    const char *what = "machine,matmul,gemm,attention";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--what") && i + 1 < argc) what = argv[++i];
        else {
            fprintf(stderr, "usage: bench_ops [--threads N] [--reps R] [--what machine,matmul,gemm,attention]\n");
            return 2;
        }
    }
    if (strstr(what, "machine")) {
        jn_pool *pool = jn_pool_create(threads);
        if (!pool) return 1;
        printf("| machine (%d threads) | value |\n|---|---|\n", threads);
        printf("| read bandwidth, GB/s | %.1f |\n", read_bandwidth(pool, reps));
#ifdef BENCH_X86
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f")) printf("| f32 FMA peak 512-bit, GFLOP/s | %.0f |\n", fma_peak(pool, 16, reps));
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            printf("| f32 FMA peak 256-bit, GFLOP/s | %.0f |\n", fma_peak(pool, 8, reps));
#endif
        printf("\n");
        jn_pool_free(pool);
    }
    if (strstr(what, "matmul")) {
        bench_matmul(threads, reps);
        printf("\n");
    }
    if (strstr(what, "gemm")) bench_gemm(threads, reps);
    if (strstr(what, "attention")) bench_attention(threads, reps);
    return 0;
}
