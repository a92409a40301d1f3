/* vision/siglip.h — the SigLIP ViT understanding encoder (siglip_large_patch16_384 layout) and the
 * understanding aligner (MlpProjector "mlp_gelu", depth 2).
 *
 * Why: the understanding path turns a normalised 384×384 image into N = (S/P)² patch features
 * (after the final LayerNorm) and maps them to the LM width; the pipeline then writes those rows
 * over the image placeholders. All activations are f32 backend memory; weights are bound by name
 * from the GGUF (converter names: `v.` = vision_model.vision_tower., `aligner.` as official).
 *
 * Forward (spec §2.4/§2.5), per image:
 *   x = patch_embed(pixels) + pos_embed                   x: [N, W]
 *   n_layer × { x += proj(attn(LN1(x))); x += fc2(gelu(fc1(LN2(x)))) }
 *   features = LN(x)                                      [N, W]
 *   aligned  = L2(gelu(L1(features)))                     [N, D]
 */
#ifndef JANUS_VISION_SIGLIP_H
#define JANUS_VISION_SIGLIP_H

#include "engine/backend.h"
#include "engine/io/gguf.h"
#include "engine/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jn_vision_hparams {
    int image_size, patch_size, width, n_layer, n_head, n_ff;
    float ln_eps;
    int aligner_in, aligner_out; /* aligner_in must equal width */
    int aligner_depth;           /* 2: Linear, GELU, Linear (the only depth supported) */
    char model_name[64];         /* informational ("siglip_large_patch16_384"); may be empty */
} jn_vision_hparams;

typedef struct jn_vision_block_weights {
    jn_weight *norm1_w, *norm1_b; /* [W] f32 */
    jn_weight *qkv_w, *qkv_b;     /* [3W, W], [3W] */
    jn_weight *proj_w, *proj_b;   /* [W, W], [W] */
    jn_weight *norm2_w, *norm2_b; /* [W] f32 */
    jn_weight *fc1_w, *fc1_b;     /* [F, W], [F] */
    jn_weight *fc2_w, *fc2_b;     /* [W, F], [W] */
} jn_vision_block_weights;

/* Views into the weight store (not owned) plus the malloc'ed block array. A caller may also fill
 * this struct by hand (tests): set every pointer and blocks (n_layer entries). */
typedef struct jn_vision_weights {
    jn_weight *patch_w, *patch_b;  /* [W, 3, P, P] (used as a [W, 3·P·P] matrix), [W] */
    jn_weight *pos_embed;          /* [1, N, W] any float dtype */
    jn_vision_block_weights *blocks; /* [n_layer] */
    int n_blocks;                  /* entries in blocks */
    int owns_blocks;               /* 1 when jn_vision_bind allocated blocks */
    jn_weight *norm_w, *norm_b;    /* [W] f32 (final LayerNorm) */
    jn_weight *al1_w, *al1_b;      /* aligner.layers.0: [D, W], [D] */
    jn_weight *al2_w, *al2_b;      /* aligner.layers.2: [D, D], [D] */
} jn_vision_weights;

/* Reads the jn_vision_keys (janus.vision.*, janus.aligner.*: vision/table.c) and validates them
 * (jn_vision_hparams_check). */
jn_status jn_vision_hparams_from_gguf(const jn_gguf *g, jn_vision_hparams *hp, jn_error *err);
/* Sanity checks (positive sizes, S divisible by P, W divisible by n_head, aligner_in == width):
 * JN_ERR_FORMAT with a message naming the offending value. */
jn_status jn_vision_hparams_check(const jn_vision_hparams *hp, jn_error *err);

/* Binds every ViT + aligner tensor of jn_vision_tensors by name with the shapes the hparams imply
 * (JN_ERR_FORMAT on a missing/misshapen tensor). Norm weights and biases must be f32; matrices any supported dtype;
 * pos_embed any float dtype. On failure *w is left freed. */
jn_status jn_vision_bind(jn_vision_weights *w, jn_wstore *store, const jn_vision_hparams *hp, jn_error *err);
void jn_vision_weights_free(jn_vision_weights *w);

/* Preallocated activations for up to n_images_max images; weights must already be usable by be
 * (w->dev valid: be->weight_upload done by the owner of the store). The session keeps pointers to
 * hp and w: both must outlive it. */
typedef struct jn_vision_session jn_vision_session;
jn_vision_session *jn_vision_session_create(jn_backend *be, const jn_vision_hparams *hp, const jn_vision_weights *w,
                                            int n_images_max, jn_error *err);
void jn_vision_session_free(jn_vision_session *s);
/* Bytes (backend + host) a session for n_images allocates. */
size_t jn_vision_session_bytes(const jn_vision_hparams *hp, int n_images);

/* pixels_chw_host: [n_images, 3, S, S] f32 host (normalised, [-1, 1]).
 * features: backend [n_images·N, W] (after the final LayerNorm) or NULL;
 * aligned:  backend [n_images·N, aligner_out] or NULL (computed from internal features).
 * n_images in [1, n_images_max] (JN_ERR_USAGE otherwise). Synchronous on the host side only for
 * the upload; call be->synchronize/download before reading results. */
jn_status jn_vision_encode(jn_vision_session *s, const float *pixels_chw_host, int n_images, float *features,
                           float *aligned, jn_error *err);

/* N = (image_size / patch_size)². */
static inline int jn_vision_n_tokens(const jn_vision_hparams *hp) {
    int g = hp->image_size / hp->patch_size;
    return g * g;
}

/* vision/aligner.c — aligned[M, D] = L2 · gelu(L1 · x + b1) + b2.
 * x: backend [M, W]; hidden: backend scratch of M·D floats. */
void jn_vision_align(jn_backend *be, const jn_vision_weights *w, float *aligned, const float *x, int M,
                     float *hidden);

#ifdef __cplusplus
}
#endif
#endif
