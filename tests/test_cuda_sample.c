// janus-test-libs: janus_engine
/* tests/test_cuda_sample.c — the CUDA sample() op against the CPU sampler (jn_sample_rows, the
 * blocked arithmetic of engine/sample_arith.h): the ids must be identical, not merely close, on
 * random and adversarial rows (ties, −inf/NaN/+inf entries, all −inf, huge magnitudes), every
 * sampling mode (greedy, temperature only, top-k incl. 1 and n − 1, top-p incl. tiny and 0.999,
 * both, huge and tiny temperatures), CFG pairs and plain rows, row lengths across tile
 * boundaries and the real vocabularies (16384 image codes, 102400 text tokens). Also get_rows_dev
 * == get_rows, the sticky status after all of it, and the kernel time per step (n = 1 and 16
 * images at C = 16384). Skips (77) without a device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend.h"
#include "engine/sample.h"
#include "testutil.h"
#include "weightpool.h"

static jn_backend *G;
/* the shared test stream (tests/util/weightpool.h): integers and uniforms in [lo, hi) */
static uint32_t xr(void) { return (uint32_t)((tu_frand() + 1.0f) * 8388608.0f); }
static float frand(float lo, float hi) { return lo + (hi - lo) * 0.5f * (tu_frand() + 1.0f); }

static void fill(float *l, size_t n, int kind) {
    for (size_t i = 0; i < n; i++) l[i] = frand(-4, 4);
    for (size_t i = 0; i < n; i++) switch (kind) {
        case 1: l[i] *= 10.0f; break;
        case 2: l[i] = (float)(int)l[i]; break; /* ties */
        case 3: l[i] = 0.5f; break;              /* all equal */
        case 4: if (xr() % 3 == 0) l[i] = (xr() & 1) ? -INFINITY : NAN; break;
        case 5: l[i] = -INFINITY; break;
        case 6: if (xr() % 7 == 0) l[i] = INFINITY; break;
        case 7: l[i] *= 1e37f; break;
        default: break;
        }
    if (kind == 0) l[xr() % n] += 12.0f; /* a peak */
}

static int n_cmp, n_bad;

static void compare(const float *logits_host, int n_out, int C, int cfg_pairs, const jn_sample_params *sp, uint64_t step) {
    const size_t rows = (size_t)n_out * (cfg_pairs ? 2 : 1);
    float *d = G->alloc(G, rows * C * sizeof(float));
    int32_t *ids_d = G->alloc(G, (size_t)n_out * 2 * sizeof(int32_t));
    int32_t *got = malloc((size_t)n_out * 2 * sizeof(int32_t)), *want = malloc((size_t)n_out * 2 * sizeof(int32_t));
    float *wf = malloc((size_t)C * 2 * sizeof(float));
    int *wi = malloc((size_t)C * sizeof(int));
    TU_CHECK(d && ids_d, "alloc");
    G->upload(G, d, logits_host, rows * C * sizeof(float));
    jn_error err = {0};
    TU_CHECK(G->sample(G, ids_d, 2, d, n_out, C, cfg_pairs, sp, 5, step, NULL, &err) == JN_OK, "sample: %s", err.msg);
    G->download(G, got, ids_d, (size_t)n_out * 2 * sizeof(int32_t));
    jn_sample_rows(want, 2, logits_host, n_out, C, cfg_pairs, sp, 5, step, wf, wi);
    for (int r = 0; r < n_out; r++) {
        n_cmp++;
        if (got[2 * r] != want[2 * r] || got[2 * r + 1] != want[2 * r]) {
            if (n_bad++ < 10)
                fprintf(stderr, "FAIL C %d pairs %d T %g k %d p %g cfg %g row %d: cuda %d/%d, cpu %d\n", C, cfg_pairs,
                        sp->temperature, sp->top_k, sp->top_p, sp->cfg, r, got[2 * r], got[2 * r + 1], want[2 * r]);
            tu_failures++;
        }
    }
    G->free(G, d);
    G->free(G, ids_d);
    free(got);
    free(want);
    free(wf);
    free(wi);
}

static void test_ids(void) {
    /* JANUS_TEST_QUICK=1 (compute-sanitizer runs): three row lengths instead of eight */
    const char *quick = getenv("JANUS_TEST_QUICK");
    const int all_sizes[] = {1, 3, 255, 256, 257, 1000, 16384, 102400}, quick_sizes[] = {3, 257, 16384};
    const int *sizes = quick && *quick == '1' ? quick_sizes : all_sizes;
    const size_t n_sizes = quick && *quick == '1' ? 3 : 8;
    const float temps[] = {1.0f, 0.0f, 0.7f, 1e-6f, 1e30f};
    const float ps[] = {1.0f, 0.9f, 0.999f, 1e-9f};
    for (size_t si = 0; si < n_sizes; si++) {
        const int C = sizes[si], n_out = C >= 102400 ? 2 : 4;
        const int ks[] = {0, 1, 50, C - 1};
        float *l = malloc(sizeof(float) * 2 * n_out * (size_t)C);
        for (int kind = 0; kind < 8; kind++) {
            for (int r = 0; r < 2 * n_out; r++) fill(l + (size_t)r * C, (size_t)C, kind);
            for (size_t a = 0; a < sizeof temps / sizeof *temps; a++)
                for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
                    for (size_t c = 0; c < sizeof ps / sizeof *ps; c++) {
                        if (C >= 16384 && (a + b + c) % 3) continue; /* a subset on the long rows */
                        jn_sample_params sp = {temps[a], ks[b], ps[c], 5.0f, 1000 + (uint64_t)kind};
                        compare(l, n_out, C, 1, &sp, a * 100 + b * 10 + c);
                        compare(l, n_out, C, 0, &sp, a * 100 + b * 10 + c);
                    }
        }
        free(l);
    }
    printf("cuda sample vs cpu: %d rows compared, %d differ\n", n_cmp, n_bad);
}

static void test_get_rows_dev(void) {
    enum { N = 50, K = 96, n = 40 };
    float *wf = malloc(sizeof(float) * N * K);
    for (int i = 0; i < N * K; i++) wf[i] = frand(-1, 1);
    jn_weight w = {"emb", JN_F32, 2, {N, K, 1, 1}, wf, sizeof(float) * N * K, NULL, 0};
    jn_error err = {0};
    TU_CHECK(G->weight_upload(G, &w, &err) == JN_OK, "%s", err.msg);
    int32_t ids[n];
    for (int i = 0; i < n; i++) ids[i] = (int32_t)((i * 37 + 5) % N);
    float *a = G->alloc(G, sizeof(float) * n * K), *b = G->alloc(G, sizeof(float) * n * K);
    int32_t *ids_d = G->alloc(G, sizeof ids);
    G->upload(G, ids_d, ids, sizeof ids);
    G->get_rows(G, a, &w, ids, n);
    G->get_rows_dev(G, b, &w, ids_d, n);
    float *ha = malloc(sizeof(float) * n * K), *hb = malloc(sizeof(float) * n * K);
    G->download(G, ha, a, sizeof(float) * n * K);
    G->download(G, hb, b, sizeof(float) * n * K);
    TU_CHECK(memcmp(ha, hb, sizeof(float) * n * K) == 0, "get_rows_dev == get_rows");
    TU_CHECK(memcmp(ha + K, wf + (size_t)ids[1] * K, sizeof(float) * K) == 0, "row 1 is W[ids[1]]");
    G->free(G, a);
    G->free(G, b);
    G->free(G, ids_d);
    G->weight_release(G, &w);
    free(wf);
    free(ha);
    free(hb);
}

static void test_speed(void) {
    enum { C = 16384 };
    const int nouts[] = {1, 16};
    for (int q = 0; q < 2; q++) {
        const int n_out = nouts[q];
        float *l = malloc(sizeof(float) * 2 * n_out * C);
        for (int r = 0; r < 2 * n_out; r++) fill(l + (size_t)r * C, C, 0);
        float *d = G->alloc(G, sizeof(float) * 2 * n_out * C);
        int32_t *ids_d = G->alloc(G, sizeof(int32_t) * 2 * n_out);
        G->upload(G, d, l, sizeof(float) * 2 * n_out * C);
        const jn_sample_params modes[] = {{1.0f, 0, 1.0f, 5.0f, 1}, {1.0f, 0, 0.9f, 5.0f, 1}, {1.0f, 100, 1.0f, 5.0f, 1}};
        const char *names[] = {"temperature only", "top-p 0.9", "top-k 100"};
        for (int m = 0; m < 3; m++) {
            jn_error err = {0};
            G->sample(G, ids_d, 2, d, n_out, C, 1, &modes[m], 0, 0, NULL, &err); /* warm-up */
            G->synchronize(G);
            const int reps = 50;
            double t0 = jn_time_s();
            for (int r = 0; r < reps; r++) G->sample(G, ids_d, 2, d, n_out, C, 1, &modes[m], 0, (uint64_t)r, NULL, &err);
            G->synchronize(G);
            printf("cuda sample C=%d n=%d %s: %.1f us per step\n", C, n_out, names[m], (jn_time_s() - t0) / reps * 1e6);
        }
        G->free(G, d);
        G->free(G, ids_d);
        free(l);
    }
}

int main(void) {
    tu_seed(2024);
    if (!jn_backend_cuda_available()) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    jn_error err = {0};
    G = jn_backend_cuda_create(0, &err);
    if (!G) {
        fprintf(stderr, "FAIL cuda backend: %s\n", err.msg);
        return 1;
    }
    test_ids();
    test_get_rows_dev();
    test_speed();
    TU_CHECK(jn_backend_cuda_last_error(G, &err) == JN_OK, "sticky error: %s", err.msg);
    G->destroy(G);
    if (!tu_failures) printf("test_cuda_sample: ok\n");
    return TU_RESULT();
}
