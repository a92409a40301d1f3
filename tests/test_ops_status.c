// janus-test-libs: janus_engine
/* tests/test_ops_status.c — the backends' sticky error status and the cpu test fault
 * (JANUS_FAULT_OP), and the ISA override's input check.
 *
 * Checks: a fresh ref/cpu backend reports JN_OK; with JANUS_FAULT_OP=3 the third op call of a cpu
 * instance fails with a message naming the op and the call number, that op and every later op
 * leave their outputs untouched, status() keeps returning the first error; an instance created
 * without the variable is unaffected (the count is per instance); JANUS_CPU_ISA with an unknown
 * value makes jn_backend_cpu_create fail with a message naming the accepted values; every
 * accepted value creates a working backend (lower than the CPU has is honoured, higher is
 * clamped) whose matmul agrees with ref. */
#define _POSIX_C_SOURCE 200809L
#include "engine/backend.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int all_equal(const float *v, size_t n, float x) {
    for (size_t i = 0; i < n; i++)
        if (v[i] != x) return 0;
    return 1;
}

static void test_fault(void) {
    jn_error err;
    jn_error_clear(&err);
    setenv("JANUS_FAULT_OP", "3", 1);
    jn_backend *be = jn_backend_cpu_create(2, &err);
    unsetenv("JANUS_FAULT_OP");
    jn_backend *ok = jn_backend_cpu_create(2, &err);
    TU_CHECK(be && ok, "cpu create: %s", err.msg);
    if (!be || !ok) return;
    TU_CHECK(jn_backend_status(be, &err) == JN_OK, "fresh backend reports an error: %s", err.msg);

    enum { n = 1000 };
    float *a = (float *)be->alloc(be, n * sizeof(float)), *y = (float *)be->alloc(be, n * sizeof(float));
    for (int i = 0; i < n; i++) a[i] = (float)i;
    be->scale(be, y, a, 2.0f, n); /* op 1 */
    TU_CHECK(y[10] == 20.0f, "op 1 ran: y[10]=%g", y[10]);
    be->add(be, y, a, a, n); /* op 2 */
    TU_CHECK(y[10] == 20.0f, "op 2 ran: y[10]=%g", y[10]);
    for (int i = 0; i < n; i++) y[i] = -1.0f;
    be->add(be, y, a, a, n); /* op 3: injected fault */
    TU_CHECK(all_equal(y, n, -1.0f), "the failing op wrote its output");
    jn_error_clear(&err);
    jn_status st = jn_backend_status(be, &err);
    TU_CHECK(st == JN_ERR_RUNTIME, "status after the fault: %d", (int)st);
    TU_CHECK(strstr(err.msg, "op call 3") && strstr(err.msg, "add") && strstr(err.msg, "JANUS_FAULT_OP"),
             "fault message: %s", err.msg);
    be->scale(be, y, a, 3.0f, n); /* later ops are no-ops */
    be->silu(be, y, a, n);
    TU_CHECK(all_equal(y, n, -1.0f), "an op after the fault wrote its output");
    jn_error e2;
    jn_error_clear(&e2);
    TU_CHECK(jn_backend_status(be, &e2) == JN_ERR_RUNTIME && !strcmp(e2.msg, err.msg),
             "status changed after later ops: %s", e2.msg);

    /* the other instance (created without the variable) is unaffected */
    for (int op = 0; op < 5; op++) ok->scale(ok, y, a, 2.0f, n);
    TU_CHECK(y[10] == 20.0f && jn_backend_status(ok, &err) == JN_OK, "instance without the fault failed");
    be->free(be, a);
    be->free(be, y);
    be->destroy(be);
    ok->destroy(ok);

    jn_backend *ref = jn_backend_ref_create(&err);
    TU_CHECK(ref && jn_backend_status(ref, &err) == JN_OK, "ref status");
    if (ref) ref->destroy(ref);
}

static void test_isa_env(void) {
    jn_error err;
    jn_error_clear(&err);
    setenv("JANUS_CPU_ISA", "sse9", 1);
    jn_backend *bad = jn_backend_cpu_create(1, &err);
    unsetenv("JANUS_CPU_ISA");
    TU_CHECK(bad == NULL && err.code == JN_ERR_USAGE && strstr(err.msg, "JANUS_CPU_ISA=sse9") &&
                 strstr(err.msg, "avx512, avx2 or scalar"),
             "bad JANUS_CPU_ISA: %s", err.msg);
    if (bad) bad->destroy(bad);

    /* every value works; a q4_0 matmul agrees with ref within the op test's tolerance */
    jn_backend *ref = jn_backend_ref_create(&err);
    enum { M = 3, K = 64, N = 20 };
    float x[M * K], wv[N * K], want[M * N], got[M * N];
    for (int i = 0; i < M * K; i++) x[i] = sinf((float)i * 0.37f);
    for (int i = 0; i < N * K; i++) wv[i] = cosf((float)i * 0.11f) * 0.5f;
    uint8_t wq[N * K / 32 * sizeof(jn_block_q4_0)];
    jn_from_f32_ref(JN_Q4_0, wv, wq, N * K);
    jn_weight w;
    memset(&w, 0, sizeof w);
    w.name = "w";
    w.type = JN_Q4_0;
    w.n_dims = 2;
    w.shape[0] = N;
    w.shape[1] = K;
    w.shape[2] = w.shape[3] = 1;
    w.data = wq;
    w.nbytes = sizeof wq;
    jn_weight wr = w;
    ref->weight_upload(ref, &wr, &err);
    ref->matmul(ref, want, x, &wr, NULL, M);
    static const char *isas[3] = {"avx512", "avx2", "scalar"};
    for (int i = 0; i < 3; i++) {
        setenv("JANUS_CPU_ISA", isas[i], 1);
        jn_backend *be = jn_backend_cpu_create(2, &err);
        unsetenv("JANUS_CPU_ISA");
        TU_CHECK(be != NULL, "JANUS_CPU_ISA=%s: %s", isas[i], err.msg);
        if (!be) continue;
        jn_weight wc = w;
        TU_CHECK(be->weight_upload(be, &wc, &err) == JN_OK, "upload: %s", err.msg);
        be->matmul(be, got, x, &wc, NULL, M);
        double worst = 0, mx = 0;
        for (int j = 0; j < M * N; j++) {
            worst = fmax(worst, fabs((double)got[j] - want[j]));
            mx = fmax(mx, fabs((double)want[j]));
        }
        TU_CHECK(worst <= 3e-2 * mx && jn_backend_status(be, &err) == JN_OK, "JANUS_CPU_ISA=%s: max err %g of %g",
                 isas[i], worst, mx);
        be->weight_release(be, &wc);
        be->destroy(be);
    }
    ref->destroy(ref);
}

int main(void) {
    test_fault();
    test_isa_env();
    fprintf(stderr, "%s\n", tu_failures ? "FAILED" : "ok");
    return TU_RESULT();
}
