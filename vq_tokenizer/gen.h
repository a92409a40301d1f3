/* vq_tokenizer/gen.h — the generation head and the image-token feedback embedding of Janus-Pro.
 *
 * Why: text-to-image generation reads the LM's last hidden state through gen_head to get logits
 * over the VQ codebook (never the text lm_head), and feeds each sampled code back to the LM
 * through gen_embed (a raw [codebook_size, codebook_dim] table, not the L2-normalised VQ
 * codebook) and gen_aligner. Both are two-layer exact-GELU MLPs (jn_mlp2_gelu).
 *
 * GGUF names: gen_embed.weight [codebook_size, codebook_dim];
 * gen_aligner.layers.0.{weight,bias} [n_embd, codebook_dim]/[n_embd];
 * gen_aligner.layers.2.{weight,bias} [n_embd, n_embd]/[n_embd];
 * gen_head.output_mlp_projector.{weight,bias} [head_embd, n_embd]/[head_embd];
 * gen_head.vision_head.{weight,bias} [codebook_size, head_embd]/[codebook_size]. Biases f32. */
#ifndef JANUS_VQ_TOKENIZER_GEN_H
#define JANUS_VQ_TOKENIZER_GEN_H

#include "engine/backend.h"
#include "engine/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jn_gen_hparams {
    int n_embd;        /* LM width */
    int codebook_size; /* number of image-token ids (16384 in Janus-Pro) */
    int codebook_dim;  /* gen_embed row width (8) */
    int head_embd;     /* gen_head hidden width (image_token_embed) */
    int head_in;       /* gen_head input width (= n_embd; checked by the loader) */
    int aligner_depth; /* Linear layers of gen_aligner (2) */
} jn_gen_hparams;

typedef struct jn_gen_weights {
    jn_weight *embed;              /* [codebook_size, codebook_dim] */
    jn_weight *align_w1, *align_b1; /* [n_embd, codebook_dim], [n_embd] */
    jn_weight *align_w2, *align_b2; /* [n_embd, n_embd], [n_embd] */
    jn_weight *head_w1, *head_b1;   /* [head_embd, n_embd], [head_embd] */
    jn_weight *head_w2, *head_b2;   /* [codebook_size, head_embd], [codebook_size] */
} jn_gen_weights;

/* Binds and shape-checks every tensor above (biases must be f32). On failure *w is zeroed. */
jn_status jn_gen_bind(jn_gen_weights *w, jn_wstore *store, const jn_gen_hparams *hp, jn_error *err);
/* Calls be->weight_upload on every weight. */
jn_status jn_gen_weights_upload(jn_backend *be, jn_gen_weights *w, jn_error *err);

/* out[n, n_embd] (backend) = gen_aligner(gen_embed[ids_host]); ids in [0, codebook_size) (asserted).
 * scratch: backend, >= n * (n_embd + codebook_dim) floats. */
void jn_gen_feedback(jn_backend *be, const jn_gen_weights *w, const jn_gen_hparams *hp, const int32_t *ids_host, int n,
                     float *out, float *scratch);
/* logits[n, codebook_size] (backend) = vision_head(gelu(output_mlp_projector(h[n, n_embd])));
 * scratch: backend, >= n * head_embd floats. */
void jn_gen_head(jn_backend *be, const jn_gen_weights *w, const jn_gen_hparams *hp, const float *h, int n,
                 float *logits, float *scratch);

#ifdef __cplusplus
}
#endif
#endif
