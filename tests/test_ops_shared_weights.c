// janus-test-libs: janus_engine
/* tests/test_ops_shared_weights.c — weights uploaded once by one cpu instance, used by other
 * instances concurrently (the model/session split: one upload, one backend per session).
 *
 * One instance uploads q4_0, q8_0 and bf16 weights (AVX-512 machines: the q weights are packed
 * into w->dev); three other instances (2, 1 and 3 threads; one forced to AVX2 where it exists)
 * each run matmuls with them from their own thread at the same time, many rounds, M = 1, 2, 9
 * and 40. Every result must equal, bit for bit, what that instance computes alone beforehand
 * (no shared mutable state); the uploader is destroyed before the threads start (the weights
 * outlive it). Run under TSan in CI for data races. */
#define _POSIX_C_SOURCE 200809L
#include "engine/backend.h"
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { K = 256, N = 72, MAXM = 40, N_W = 3, N_USERS = 3, ROUNDS = 30 };
static const int k_ms[4] = {1, 2, 9, 40};

static jn_weight g_w[N_W];
static float g_x[MAXM * K];

typedef struct user {
    jn_backend *be;
    float *want[N_W][4]; /* results computed alone */
    int bad;
} user;

static void run_all(jn_backend *be, float *out[N_W][4]) {
    for (int wi = 0; wi < N_W; wi++)
        for (int mi = 0; mi < 4; mi++) be->matmul(be, out[wi][mi], g_x, &g_w[wi], NULL, k_ms[mi]);
}

static void *user_main(void *arg) {
    user *u = (user *)arg;
    float *got[N_W][4];
    for (int wi = 0; wi < N_W; wi++)
        for (int mi = 0; mi < 4; mi++) got[wi][mi] = (float *)malloc((size_t)MAXM * N * sizeof(float));
    for (int r = 0; r < ROUNDS && !u->bad; r++) {
        run_all(u->be, got);
        for (int wi = 0; wi < N_W; wi++)
            for (int mi = 0; mi < 4; mi++)
                if (memcmp(got[wi][mi], u->want[wi][mi], (size_t)k_ms[mi] * N * sizeof(float)) != 0) u->bad = 1;
    }
    for (int wi = 0; wi < N_W; wi++)
        for (int mi = 0; mi < 4; mi++) free(got[wi][mi]);
    return NULL;
}

int main(void) {
    jn_error err;
    jn_error_clear(&err);
    uint64_t s = 0x243f6a8885a308d3ull;
    float *wv = (float *)malloc((size_t)N * K * sizeof(float));
    for (int i = 0; i < N * K; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        wv[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
    }
    for (int i = 0; i < MAXM * K; i++) g_x[i] = sinf(0.013f * (float)i) * 2.0f;
    static const jn_dtype types[N_W] = {JN_Q4_0, JN_Q8_0, JN_BF16};
    void *bytes[N_W];
    jn_backend *uploader = jn_backend_cpu_create(2, &err);
    TU_CHECK(uploader != NULL, "cpu: %s", err.msg);
    if (!uploader) return 1;
    for (int wi = 0; wi < N_W; wi++) {
        jn_weight *w = &g_w[wi];
        memset(w, 0, sizeof *w);
        w->name = "shared";
        w->type = types[wi];
        w->n_dims = 2;
        w->shape[0] = N;
        w->shape[1] = K;
        w->shape[2] = w->shape[3] = 1;
        w->nbytes = jn_row_bytes(types[wi], K) * N;
        bytes[wi] = malloc(w->nbytes);
        jn_from_f32_ref(types[wi], wv, bytes[wi], (int64_t)N * K);
        w->data = bytes[wi];
        TU_CHECK(uploader->weight_upload(uploader, w, &err) == JN_OK, "upload: %s", err.msg);
    }
    uploader->destroy(uploader); /* the weights do not depend on the instance that made them */

    user users[N_USERS];
    memset(users, 0, sizeof users);
    static const int threads[N_USERS] = {2, 1, 3};
    for (int u = 0; u < N_USERS; u++) {
        if (u == 1) setenv("JANUS_CPU_ISA", "avx2", 1); /* lowered where the CPU has more */
        users[u].be = jn_backend_cpu_create(threads[u], &err);
        unsetenv("JANUS_CPU_ISA");
        TU_CHECK(users[u].be != NULL, "cpu: %s", err.msg);
        if (!users[u].be) return 1;
        for (int wi = 0; wi < N_W; wi++)
            for (int mi = 0; mi < 4; mi++) users[u].want[wi][mi] = (float *)malloc((size_t)MAXM * N * sizeof(float));
        run_all(users[u].be, users[u].want);
    }
    pthread_t th[N_USERS];
    for (int u = 0; u < N_USERS; u++) TU_CHECK(pthread_create(&th[u], NULL, user_main, &users[u]) == 0, "thread");
    for (int u = 0; u < N_USERS; u++) pthread_join(th[u], NULL);
    for (int u = 0; u < N_USERS; u++) {
        TU_CHECK(!users[u].bad, "instance %d: concurrent result differs from its result alone", u);
        TU_CHECK(jn_backend_status(users[u].be, &err) == JN_OK, "instance %d status: %s", u, err.msg);
    }

    /* the results agree with ref within the op test's tolerance (the sharing did not corrupt) */
    jn_backend *ref = jn_backend_ref_create(&err);
    float *want = (float *)malloc((size_t)MAXM * N * sizeof(float));
    for (int wi = 0; wi < N_W; wi++) {
        jn_weight wr = g_w[wi];
        ref->weight_upload(ref, &wr, &err);
        ref->matmul(ref, want, g_x, &wr, NULL, MAXM);
        double mx = 0, worst = 0;
        for (int i = 0; i < MAXM * N; i++) {
            mx = fmax(mx, fabs((double)want[i]));
            worst = fmax(worst, fabs((double)want[i] - users[0].want[wi][3][i]));
        }
        TU_CHECK(worst <= 3e-2 * mx, "%s: max err %g of %g vs ref", jn_dtype_name(types[wi]), worst, mx);
    }
    free(want);
    ref->destroy(ref);

    jn_backend *releaser = jn_backend_cpu_create(1, &err);
    for (int wi = 0; wi < N_W; wi++) {
        releaser->weight_release(releaser, &g_w[wi]);
        free(bytes[wi]);
    }
    releaser->destroy(releaser);
    for (int u = 0; u < N_USERS; u++) {
        for (int wi = 0; wi < N_W; wi++)
            for (int mi = 0; mi < 4; mi++) free(users[u].want[wi][mi]);
        users[u].be->destroy(users[u].be);
    }
    free(wv);
    fprintf(stderr, "%s\n", tu_failures ? "FAILED" : "ok");
    return TU_RESULT();
}
