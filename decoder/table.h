/* decoder/table.h — everything decoder/ stores in the GGUF file, described once (decoder/table.c):
 * the LM hyperparameters (jn_lm_hparams), the chat template and special-token ids
 * (jn_chat_template), the tokenizer keys, and the LM tensors. The converter writes from these
 * tables, the loader reads and validates with them, tests/test_unit_tables.c checks
 * docs/gguf-format.md against them. */
#ifndef JANUS_DECODER_TABLE_H
#define JANUS_DECODER_TABLE_H

#include "chat_template.h"
#include "engine/table.h"
#include "lm.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const jn_key_spec jn_lm_keys[]; /* -> jn_lm_hparams (d_head derived: n_embd / n_head) */
extern const size_t jn_lm_n_keys;
extern const jn_key_spec jn_chat_keys[]; /* -> jn_chat_template */
extern const size_t jn_chat_n_keys;
/* tokenizer.* and janus.tokenizer.*: written by the converter's tokenizer export, read by
 * jn_tokenizer_load (tokenizer.huggingface.json) — listed for validation and the documentation. */
extern const jn_key_spec jn_tokenizer_keys[];
extern const size_t jn_tokenizer_n_keys;

/* lm.*, lm_head.weight (w may be NULL; otherwise w->layers holds hp->n_layer entries). */
void jn_lm_tensors(const jn_lm_hparams *hp, jn_lm_weights *w, jn_tensor_sink *s);

/* Reads the jn_lm_keys and derives d_head (n_embd must be a multiple of n_head). */
jn_status jn_lm_hparams_from_gguf(const jn_gguf *g, jn_lm_hparams *hp, jn_error *err);

#ifdef __cplusplus
}
#endif
#endif
