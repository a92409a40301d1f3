/* vq_tokenizer/table.h — everything vq_tokenizer/ stores in the GGUF file, described once
 * (vq_tokenizer/table.c): the generation head / feedback hyperparameters (jn_gen_hparams), the VQ-16
 * decoder hyperparameters (jn_vq_hparams) and their tensors. The converter writes from these
 * tables, the loader reads and validates with them, tests/test_unit_tables.c checks
 * docs/gguf-format.md against them. */
#ifndef JANUS_VQ_TOKENIZER_TABLE_H
#define JANUS_VQ_TOKENIZER_TABLE_H

#include "engine/table.h"
#include "gen.h"
#include "vq_decoder.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const jn_key_spec jn_gen_keys[]; /* -> jn_gen_hparams */
extern const size_t jn_gen_n_keys;
extern const jn_key_spec jn_vq_keys[]; /* -> jn_vq_hparams */
extern const size_t jn_vq_n_keys;

/* gen_aligner.*, gen_head.*, gen_embed.weight (w may be NULL). */
void jn_gen_tensors(const jn_gen_hparams *hp, jn_gen_weights *w, jn_tensor_sink *s);
/* vq.*: the encoder and quant_conv (unused: Janus never encodes images to tokens), the codebook,
 * post_quant_conv and the decoder. w may be NULL; when given, its block structure (channels,
 * block counts) is filled in too. */
void jn_vq_tensors(const jn_vq_hparams *hp, jn_vq_weights *w, jn_tensor_sink *s);

#ifdef __cplusplus
}
#endif
#endif
