/* vq_tokenizer/gen.c — gen_head (hidden → codebook logits) and gen_embed + gen_aligner (sampled code →
 * next LM input). See gen.h. */
#include "gen.h"
#include "table.h"

#include <string.h>

#include "engine/nn.h"

jn_status jn_gen_bind(jn_gen_weights *w, jn_wstore *store, const jn_gen_hparams *hp, jn_error *err) {
    memset(w, 0, sizeof *w);
    if (hp->n_embd <= 0 || hp->codebook_size <= 0 || hp->codebook_dim <= 0 || hp->head_embd <= 0)
        return jn_fail(err, JN_ERR_FORMAT,
                       "generation head sizes must be positive (n_embd %d, codebook_size %d, codebook_dim %d, "
                       "head_embd %d)",
                       hp->n_embd, hp->codebook_size, hp->codebook_dim, hp->head_embd);
    jn_gen_weights t;
    memset(&t, 0, sizeof t);
    jn_bind_sink sink;
    jn_bind_sink_init(&sink, store, err);
    jn_gen_tensors(hp, &t, &sink.base);
    if (sink.base.failed) return err ? err->code : JN_ERR_FORMAT;
    *w = t;
    return JN_OK;
}

jn_status jn_gen_weights_upload(jn_backend *be, jn_gen_weights *w, jn_error *err) {
    jn_weight *ws[9] = {w->embed,   w->align_w1, w->align_b1, w->align_w2, w->align_b2,
                        w->head_w1, w->head_b1,  w->head_w2,  w->head_b2};
    for (int i = 0; i < 9; i++) {
        jn_status st = be->weight_upload(be, ws[i], err);
        if (st != JN_OK) return st;
    }
    return JN_OK;
}

void jn_gen_feedback(jn_backend *be, const jn_gen_weights *w, const jn_gen_hparams *hp, const int32_t *ids_host, int n,
                     float *out, float *scratch) {
    for (int i = 0; i < n; i++) JN_ASSERT(ids_host[i] >= 0 && ids_host[i] < hp->codebook_size);
    float *hidden = scratch;                          /* [n, n_embd] */
    float *e = scratch + (size_t)n * hp->n_embd;      /* [n, codebook_dim] */
    be->get_rows(be, e, w->embed, ids_host, n);
    jn_mlp2_gelu(be, out, e, n, w->align_w1, w->align_b1, w->align_w2, w->align_b2, hidden); /* out: [n, n_embd] */
}

void jn_gen_head(jn_backend *be, const jn_gen_weights *w, const jn_gen_hparams *hp, const float *h, int n,
                 float *logits, float *scratch) {
    (void)hp;
    /* scratch: [n, head_embd]; logits: [n, codebook_size] */
    jn_mlp2_gelu(be, logits, h, n, w->head_w1, w->head_b1, w->head_w2, w->head_b2, scratch);
}
