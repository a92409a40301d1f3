/* vision/table.h — everything vision/ stores in the GGUF file, described once (vision/table.c):
 * the SigLIP + aligner hyperparameters (jn_vision_hparams), the image-processor settings
 * (jn_image_cfg) and the tensors. The converter writes from these tables, the loader reads and
 * validates with them, tests/test_unit_tables.c checks docs/gguf-format.md against them. */
#ifndef JANUS_VISION_TABLE_H
#define JANUS_VISION_TABLE_H

#include "engine/table.h"
#include "preprocess.h"
#include "siglip.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const jn_key_spec jn_vision_keys[]; /* -> jn_vision_hparams */
extern const size_t jn_vision_n_keys;
extern const jn_key_spec jn_image_keys[];  /* -> jn_image_cfg */
extern const size_t jn_image_n_keys;

/* Every SigLIP and aligner tensor (v.*, aligner.*), in file order, including the attention-pool
 * head timm builds but Janus never runs (unused). w: NULL, or a struct whose blocks array holds
 * hp->n_layer entries: each tensor's slot is passed to the sink. */
void jn_vision_tensors(const jn_vision_hparams *hp, jn_vision_weights *w, jn_tensor_sink *s);

/* Reads and checks the jn_image_keys (also that the sizes fit hp: image size and token count). */
jn_status jn_image_cfg_from_gguf(const jn_gguf *g, const jn_vision_hparams *hp, jn_image_cfg *cfg, jn_error *err);

#ifdef __cplusplus
}
#endif
#endif
