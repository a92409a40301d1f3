// janus-test-libs: janus_engine
/* tests/test_cuda_graph.c — step capture: the *_dpos ops, the step scalars and CUDA graph replay.
 *
 * Part 1 (every machine): on the ref and cpu backends, rope_dpos / attention_dpos / copy2d_dpos
 * with a delta d equal the plain ops with the shifted positions / key count / destination,
 * sample with index_dev equals sample at index + d, and the f16/bf16 K/V cache ops equal the f32
 * ops on the rounded values: the reference semantics of the entries.
 * Part 2 (CUDA device, else exit 77): a miniature decode step — matmul to q/k/v, RoPE at the
 * current position, K/V written into a cache row, causal attention over the cache, an output
 * projection to logits, CFG sampling, the sampled ids embedded with get_rows_dev as the next
 * input — run eagerly for S steps and, from the same start, captured once at step 0 and replayed
 * S times with the position delta in step_scalar(0): ids and the final hidden state must be
 * bitwise identical. Prints eager vs replay time per step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend.h"
#include "engine/sample.h"
#include "testutil.h"
#include "weightpool.h"


static void host_part(jn_backend *be) {
    enum { NS = 2, NT = 3, NH = 2, D = 8, LD = NH * D, NKV = 9 };
    float x1[NS * NT * LD], x2[NS * NT * LD];
    for (int i = 0; i < NS * NT * LD; i++) x1[i] = x2[i] = tu_frand();
    int32_t pos[NS] = {4, 7}, shifted[NS] = {4 + 5, 7 + 5};
    int32_t *d = be->step_scalar(be, 1);
    be->set_step_scalar(be, 1, 5);
    TU_CHECK(d && *d == 5, "%s: step scalar", be->name);
    be->rope_dpos(be, x1, NS, NT, NH, D, LD, pos, d, 10000.0f);
    be->rope(be, x2, NS, NT, NH, D, LD, shifted, 10000.0f);
    TU_CHECK(memcmp(x1, x2, sizeof x1) == 0, "%s: rope_dpos == rope at pos + d", be->name);

    float q[NS * 1 * LD], k[NS * 16 * LD], v[NS * 16 * LD], o1[NS * LD], o2[NS * LD];
    for (int i = 0; i < NS * LD; i++) q[i] = tu_frand();
    for (int i = 0; i < NS * 16 * LD; i++) k[i] = tu_frand(), v[i] = tu_frand();
    be->set_step_scalar(be, 1, 4);
    be->attention_dpos(be, o1, q, k, v, NS, 1, NKV, NH, D, LD, LD, (size_t)16 * LD, LD, 1, 0.3f, d);
    be->attention(be, o2, q, k, v, NS, 1, NKV + 4, NH, D, LD, LD, (size_t)16 * LD, LD, 1, 0.3f);
    TU_CHECK(memcmp(o1, o2, sizeof o1) == 0, "%s: attention_dpos == attention over n_kv + d", be->name);

    float cache1[16 * LD], cache2[16 * LD];
    memset(cache1, 0, sizeof cache1);
    memset(cache2, 0, sizeof cache2);
    be->copy2d_dpos(be, cache1, LD, q, LD, 2, LD, d);
    be->copy2d(be, cache2 + 4 * LD, LD, q, LD, 2, LD);
    TU_CHECK(memcmp(cache1, cache2, sizeof cache1) == 0, "%s: copy2d_dpos writes row d", be->name);

    /* half K/V caches: copy2d_kv rounds like jn_from_f32_ref; attention_kv == attention on the
     * rounded values converted back to f32 */
    const jn_dtype kts[2] = {JN_F16, JN_BF16};
    for (int t = 0; t < 2; t++) {
        uint16_t kh[NS * 16 * LD], vh[NS * 16 * LD], want[2 * LD];
        memset(kh, 0, sizeof kh);
        be->set_step_scalar(be, 1, 3);
        be->copy2d_kv(be, kh, kts[t], LD, q, LD, 2, LD, d); /* rows 3, 4 */
        jn_from_f32_ref(kts[t], q, want, 2 * LD);
        TU_CHECK(memcmp(kh + 3 * LD, want, sizeof want) == 0 && kh[2 * LD] == 0 && kh[5 * LD] == 0,
                 "%s: copy2d_kv %s rows d, d+1", be->name, jn_dtype_name(kts[t]));
        jn_from_f32_ref(kts[t], k, kh, NS * 16 * LD);
        jn_from_f32_ref(kts[t], v, vh, NS * 16 * LD);
        float kr[NS * 16 * LD], vr[NS * 16 * LD];
        jn_to_f32_ref(kts[t], kh, kr, NS * 16 * LD);
        jn_to_f32_ref(kts[t], vh, vr, NS * 16 * LD);
        be->set_step_scalar(be, 1, 4);
        be->attention_kv(be, o1, q, kh, vh, kts[t], NS, 1, NKV, NH, D, LD, LD, (size_t)16 * LD, LD, 1, 0.3f, d);
        be->attention(be, o2, q, kr, vr, NS, 1, NKV + 4, NH, D, LD, LD, (size_t)16 * LD, LD, 1, 0.3f);
        TU_CHECK(memcmp(o1, o2, sizeof o1) == 0, "%s: attention_kv %s == attention on the rounded cache", be->name,
                 jn_dtype_name(kts[t]));
    }

    enum { C = 300 };
    float lg[2 * 3 * C];
    for (int i = 0; i < 2 * 3 * C; i++) lg[i] = 3.0f * tu_frand();
    jn_sample_params sp = {1.0f, 0, 1.0f, 4.0f, 9};
    int32_t a[6], b[6];
    jn_error err = {0};
    be->set_step_scalar(be, 1, 37);
    TU_CHECK(be->sample(be, a, 2, lg, 3, C, 1, &sp, 0, 100, d, &err) == JN_OK, "%s", err.msg);
    TU_CHECK(be->sample(be, b, 2, lg, 3, C, 1, &sp, 0, 137, NULL, &err) == JN_OK, "%s", err.msg);
    TU_CHECK(memcmp(a, b, sizeof a) == 0, "%s: sample index_dev == sample at index + d", be->name);
    TU_CHECK(be->capture_begin == NULL, "%s: host backends do not capture", be->name);
}

/* ---------------------------------------------------------------- the device part */

enum { E = 64, H = 2, DH = 32, V = 512, NIMG = 2, ROWS = 2 * NIMG, CTX = 64, S = 40 };

typedef struct {
    jn_weight wq, wk, wv, wo, emb;
    float *x, *q, *k, *v, *att, *logits, *kc, *vc;
    int32_t *ids;
} mini;

static void mk_weight(jn_weight *w, const char *name, int n, int k) {
    float *f = malloc(sizeof(float) * (size_t)n * k);
    for (int i = 0; i < n * k; i++) f[i] = 0.2f * tu_frand();
    memset(w, 0, sizeof *w);
    w->name = name;
    w->type = JN_F32;
    w->n_dims = 2;
    w->shape[0] = n;
    w->shape[1] = k;
    w->shape[2] = w->shape[3] = 1;
    w->data = f;
    w->nbytes = sizeof(float) * (size_t)n * k;
}

/* one decode step of the miniature model; positions relative to *dpos (captured or eager) */
static void mini_step(jn_backend *be, mini *m, int pos_base, const int32_t *dpos, const jn_sample_params *sp) {
    int32_t pos0[ROWS];
    for (int r = 0; r < ROWS; r++) pos0[r] = pos_base;
    be->matmul(be, m->q, m->x, &m->wq, NULL, ROWS);
    be->matmul(be, m->k, m->x, &m->wk, NULL, ROWS);
    be->matmul(be, m->v, m->x, &m->wv, NULL, ROWS);
    be->rope_dpos(be, m->q, ROWS, 1, H, DH, E, pos0, dpos, 10000.0f);
    be->rope_dpos(be, m->k, ROWS, 1, H, DH, E, pos0, dpos, 10000.0f);
    for (int r = 0; r < ROWS; r++) { /* the cache row of this position, per sequence */
        be->copy2d_dpos(be, m->kc + (size_t)r * CTX * E + (size_t)pos_base * E, E, m->k + (size_t)r * E, E, 1, E, dpos);
        be->copy2d_dpos(be, m->vc + (size_t)r * CTX * E + (size_t)pos_base * E, E, m->v + (size_t)r * E, E, 1, E, dpos);
    }
    be->attention_dpos(be, m->att, m->q, m->kc, m->vc, ROWS, 1, pos_base + 1, H, DH, E, E, (size_t)CTX * E, E, 1,
                       1.0f / sqrtf((float)DH), dpos);
    be->matmul(be, m->logits, m->att, &m->wo, NULL, ROWS);
    jn_error err = {0};
    be->sample(be, m->ids, 2, m->logits, NIMG, V, 1, sp, 0, (uint64_t)pos_base, dpos, &err);
    be->get_rows_dev(be, m->x, &m->emb, m->ids, ROWS);
}

static void device_part(void) {
    jn_error err = {0};
    jn_backend *G = jn_backend_cuda_create(0, &err);
    if (!G) {
        fprintf(stderr, "FAIL cuda create: %s\n", err.msg);
        tu_failures++;
        return;
    }
    mini m;
    mk_weight(&m.wq, "wq", E, E);
    mk_weight(&m.wk, "wk", E, E);
    mk_weight(&m.wv, "wv", E, E);
    mk_weight(&m.wo, "wo", V, E);
    mk_weight(&m.emb, "emb", V, E);
    jn_weight *ws[] = {&m.wq, &m.wk, &m.wv, &m.wo, &m.emb};
    for (int i = 0; i < 5; i++) TU_CHECK(G->weight_upload(G, ws[i], &err) == JN_OK, "%s", err.msg);
    float **bufs[] = {&m.x, &m.q, &m.k, &m.v, &m.att};
    for (int i = 0; i < 5; i++) *bufs[i] = G->alloc(G, sizeof(float) * ROWS * E);
    m.logits = G->alloc(G, sizeof(float) * ROWS * V);
    m.kc = G->alloc(G, sizeof(float) * ROWS * CTX * E);
    m.vc = G->alloc(G, sizeof(float) * ROWS * CTX * E);
    m.ids = G->alloc(G, sizeof(int32_t) * ROWS);
    float *x0 = malloc(sizeof(float) * ROWS * E);
    for (int i = 0; i < ROWS * E; i++) x0[i] = tu_frand();
    const jn_sample_params sp = {1.0f, 0, 1.0f, 3.0f, 4242};
    int32_t eager[S][ROWS], replayed[S][ROWS];
    float xe[ROWS * E], xr[ROWS * E];
    int32_t *d = G->step_scalar(G, 0);
    double te = 0, tr = 0;

    for (int pass = 0; pass < 2; pass++) {
        G->upload(G, m.x, x0, sizeof(float) * ROWS * E);
        G->memset0(G, m.kc, sizeof(float) * ROWS * CTX * E);
        G->memset0(G, m.vc, sizeof(float) * ROWS * CTX * E);
        G->set_step_scalar(G, 0, 0);
        G->synchronize(G);
        double t0 = jn_time_s();
        for (int s = 0; s < S; s++) {
            if (pass == 0) {
                mini_step(G, &m, s, NULL, &sp); /* eager: positions from the host */
            } else {
                if (s == 0) { /* scratch is sized by the eager pass; capture the step at position 0 */
                    G->capture_begin(G);
                    mini_step(G, &m, 0, d, &sp);
                    TU_CHECK(G->capture_end(G, 0, &err) == JN_OK, "capture: %s", err.msg);
                }
                G->set_step_scalar(G, 0, s);
                TU_CHECK(G->replay(G, 0, &err) == JN_OK, "replay: %s", err.msg);
            }
            G->download(G, pass ? replayed[s] : eager[s], m.ids, sizeof(int32_t) * ROWS);
        }
        G->synchronize(G);
        *(pass ? &tr : &te) = (jn_time_s() - t0) / S;
        G->download(G, pass ? xr : xe, m.x, sizeof xe);
    }
    TU_CHECK(memcmp(eager, replayed, sizeof eager) == 0, "replayed ids == eager ids");
    TU_CHECK(memcmp(xe, xr, sizeof xe) == 0, "replayed state == eager state");
    printf("mini step (%d launches): eager %.1f us, graph replay %.1f us (incl. a 16-byte download per step)\n",
           3 + 2 + 2 * ROWS + 1 + 1 + 1 + 1, te * 1e6, tr * 1e6);
    TU_CHECK(G->replay(G, 5, &err) == JN_ERR_USAGE, "empty slot refused");
    TU_CHECK(G->capture_end(G, 0, &err) == JN_ERR_USAGE, "capture_end without begin refused");
    TU_CHECK(jn_backend_cuda_last_error(G, &err) == JN_OK, "sticky: %s", err.msg);
    for (int i = 0; i < 5; i++) {
        G->weight_release(G, ws[i]);
        free((void *)ws[i]->data);
    }
    for (int i = 0; i < 5; i++) G->free(G, *bufs[i]);
    G->free(G, m.logits);
    G->free(G, m.kc);
    G->free(G, m.vc);
    G->free(G, m.ids);
    free(x0);
    G->destroy(G);
}

int main(void) {
    tu_seed(777);
    jn_error err = {0};
    jn_backend *hb[2] = {jn_backend_ref_create(&err), jn_backend_cpu_create(2, &err)};
    for (int i = 0; i < 2; i++) {
        TU_CHECK(hb[i] != NULL, "backend: %s", err.msg);
        if (!hb[i]) continue;
        host_part(hb[i]);
        hb[i]->destroy(hb[i]);
    }
    if (tu_failures) return 1;
    if (!jn_backend_cuda_available()) {
        printf("host part ok; no CUDA device: graph replay skipped\n");
        return 77;
    }
    device_part();
    if (!tu_failures) printf("test_cuda_graph: ok\n");
    return TU_RESULT();
}
