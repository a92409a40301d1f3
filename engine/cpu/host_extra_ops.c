/* engine/cpu/host_extra_ops.c — the entries appended to backend.h with the CUDA work, for
 * host-memory backends (ref, cpu), by composition of each backend's own ops: the *_dpos ops read
 * their delta from host memory and call rope / attention / copy2d, f16/bf16/q8_0 K/V caches are
 * converted to an f32 copy, group_norm_silu is group_norm then silu, the step scalars live in the backend
 * struct, and there is no capture (capture_begin == NULL tells callers to run eagerly). One
 * implementation for both backends, so the reference semantics of those entries are these lines. */
#include <math.h>
#include <stdlib.h>

#include "../backend.h"

/* sequences in chunks of 64 so the shifted positions fit on the stack (rows of sequence s
 * start at x + s·n_tok·ld) */
static void host_rope_dpos(jn_backend *be, float *x, int n_seq, int n_tok, int n_head, int d_head, int ld,
                           const int32_t *pos0_host, const int32_t *dpos, float theta) {
    int32_t pos[64];
    for (int s = 0; s < n_seq; s += 64) {
        int ns = n_seq - s < 64 ? n_seq - s : 64;
        for (int i = 0; i < ns; i++) pos[i] = pos0_host[s + i] + (dpos ? *dpos : 0);
        be->rope(be, x + (size_t)s * n_tok * ld, ns, n_tok, n_head, d_head, ld, pos, theta);
    }
}

static void host_attention_dpos(jn_backend *be, float *out, const float *q, const float *k, const float *v, int n_seq,
                                int n_q, int n_kv, int n_head, int d_head, int ldq, int ldkv, size_t seq_stride,
                                int ldo, int causal, float scale, const int32_t *dpos) {
    be->attention(be, out, q, k, v, n_seq, n_q, n_kv + (dpos ? *dpos : 0), n_head, d_head, ldq, ldkv, seq_stride, ldo, causal,
                  scale);
}

static void host_copy2d_dpos(jn_backend *be, float *y, int ldy, const float *x, int ldx, int rows, int cols,
                             const int32_t *dpos) {
    be->copy2d(be, y + (ptrdiff_t)(dpos ? *dpos : 0) * ldy, ldy, x, ldx, rows, cols);
}

static void host_copy2d_kv(jn_backend *be, void *y, jn_dtype kv_type, int ldy, const float *x, int ldx, int rows,
                           int cols, const int32_t *dpos) {
    if (kv_type == JN_F32) {
        host_copy2d_dpos(be, (float *)y, ldy, x, ldx, rows, cols, dpos);
        return;
    }
    const int d = dpos ? *dpos : 0;
    for (int r = 0; r < rows; r++)
        jn_from_f32_ref(kv_type, x + (size_t)r * ldx, (uint8_t *)y + jn_elem_offset(kv_type, (size_t)(d + r) * ldy), cols);
}

/* k/v rows [0, n_kv + d) of every sequence converted to a packed f32 copy [n_seq, n_kv + d, n_head·d_head] */
static void host_attention_kv(jn_backend *be, float *out, const float *q, const void *k, const void *v,
                              jn_dtype kv_type, int n_seq, int n_q, int n_kv, int n_head, int d_head, int ldq, int ldkv,
                              size_t seq_stride, int ldo, int causal, float scale, const int32_t *dpos) {
    if (kv_type == JN_F32) {
        host_attention_dpos(be, out, q, (const float *)k, (const float *)v, n_seq, n_q, n_kv, n_head, d_head, ldq,
                            ldkv, seq_stride, ldo, causal, scale, dpos);
        return;
    }
    const int nk = n_kv + (dpos ? *dpos : 0), w = n_head * d_head;
    size_t n = (size_t)n_seq * (nk > 0 ? nk : 0) * w;
    float *kf = malloc((n ? n : 1) * sizeof *kf), *vf = malloc((n ? n : 1) * sizeof *vf);
    if (!kf || !vf) {
        free(kf);
        free(vf);
        for (int r = 0; r < n_seq * n_q; r++)
            for (int c = 0; c < w; c++) out[(size_t)r * ldo + c] = NAN;
        return;
    }
    for (int s = 0; s < n_seq; s++)
        for (int j = 0; j < nk; j++) {
            size_t src = jn_elem_offset(kv_type, (size_t)s * seq_stride + (size_t)j * ldkv), dst = ((size_t)s * nk + j) * w;
            for (int c = 0; c < w; c++) {
                kf[dst + c] = jn_row_get(kv_type, (const uint8_t *)k + src, (size_t)c);
                vf[dst + c] = jn_row_get(kv_type, (const uint8_t *)v + src, (size_t)c);
            }
        }
    be->attention(be, out, q, kf, vf, n_seq, n_q, nk, n_head, d_head, ldq, w, (size_t)nk * w, ldo, causal, scale);
    free(kf);
    free(vf);
}

static void host_group_norm_silu(jn_backend *be, float *y, const float *x, const jn_weight *w, const jn_weight *b,
                                 int HW, int C, int G, float eps) {
    be->group_norm(be, y, x, w, b, HW, C, G, eps);
    be->silu(be, y, y, (size_t)HW * C);
}

static int32_t *host_step_scalar(jn_backend *be, int i) {
    return i >= 0 && i < JN_BACKEND_STEP_SCALARS ? &be->step_scalars_host[i] : NULL;
}

static void host_set_step_scalar(jn_backend *be, int i, int32_t value) {
    if (i >= 0 && i < JN_BACKEND_STEP_SCALARS) be->step_scalars_host[i] = value;
}

void jn_backend_host_extra_ops(jn_backend *be) {
    be->sample = jn_backend_host_sample;
    be->get_rows_dev = be->get_rows; /* backend memory is host memory */
    be->rope_dpos = host_rope_dpos;
    be->attention_dpos = host_attention_dpos;
    be->copy2d_dpos = host_copy2d_dpos;
    be->copy2d_kv = host_copy2d_kv;
    be->attention_kv = host_attention_kv;
    be->kv_q8_0 = 1;
    be->group_norm_silu = host_group_norm_silu;
    be->capture_begin = NULL;
    be->capture_end = NULL;
    be->replay = NULL;
    be->step_scalar = host_step_scalar;
    be->set_step_scalar = host_set_step_scalar;
}
