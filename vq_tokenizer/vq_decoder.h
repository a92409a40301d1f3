/* vq_tokenizer/vq_decoder.h — the LlamaGen VQ-16 pixel decoder: a grid of codebook ids → an RGB
 * image (grid·2^(n_levels−1) pixels a side; 24 → 384 for Janus-Pro).
 *
 * Why: text-to-image generation samples grid² code ids; this turns them into pixels. Everything is
 * f32 and channels-last ([H, W, C]) in backend memory; the session preallocates every activation
 * (three buffers of the largest stage plus a small q/k/v buffer), so a decode allocates nothing.
 *
 * Structure (spec §5; official LlamaGen Decoder, ch_mult read from the back):
 *   z = l2norm(codebook)[ids] as [grid, grid, cd]; z = post_quant_conv(z) (1×1, cd → z_channels)
 *   h = conv_in(z) (3×3, z_channels → ch·ch_mult[L−1]); mid = Res, Attn, Res
 *   level i = 0..L−1 (out channels ch·ch_mult[L−1−i]): (num_res_blocks+1) × { Res; Attn if i == 0 },
 *     then Upsample (nearest ×2, 3×3 conv) unless i == L−1
 *   out = conv_out(swish(GroupNorm(h))) (3×3 → 3 channels)
 * Res(cin→cout): h = conv1(swish(GN1(x))); h = conv2(swish(GN2(h))); out = (cin≠cout ? nin(x) : x) + h.
 * Attn(c): n = GN(x); single-head attention of q(n), k(n), v(n) over all positions, scale c^−½;
 *   out = x + proj_out(attn). */
#ifndef JANUS_VQ_TOKENIZER_VQ_DECODER_H
#define JANUS_VQ_TOKENIZER_VQ_DECODER_H

#include "engine/backend.h"
#include "engine/io/gguf.h"
#include "engine/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JN_VQ_MAX_LEVELS 8
#define JN_VQ_MAX_RES 8 /* res blocks per level (num_res_blocks + 1) */

typedef struct jn_vq_hparams {
    int codebook_size, codebook_dim, z_channels, ch, n_levels, ch_mult[JN_VQ_MAX_LEVELS];
    int num_res_blocks; /* the decoder uses num_res_blocks + 1 per level */
    int n_groups;
    float eps;
    int l2_norm; /* 1: rows of the codebook are L2-normalised (F.normalize, eps 1e-12) before use */
} jn_vq_hparams;

typedef struct jn_vq_res_weights {
    int cin, cout;
    jn_weight *norm1_w, *norm1_b; /* [cin] f32 */
    jn_weight *conv1_w, *conv1_b; /* [cout, cin, 3, 3], [cout] */
    jn_weight *norm2_w, *norm2_b; /* [cout] f32 */
    jn_weight *conv2_w, *conv2_b; /* [cout, cout, 3, 3], [cout] */
    jn_weight *nin_w, *nin_b;     /* [cout, cin, 1, 1], [cout]; NULL when cin == cout */
} jn_vq_res_weights;

typedef struct jn_vq_attn_weights {
    int c;
    jn_weight *norm_w, *norm_b;                           /* [c] f32 */
    jn_weight *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;         /* [c, c, 1, 1], [c] */
    jn_weight *proj_w, *proj_b;                           /* [c, c, 1, 1], [c] */
} jn_vq_attn_weights;

typedef struct jn_vq_level_weights {
    int cin, cout, n_res, n_attn; /* n_attn is 0 or n_res */
    jn_vq_res_weights res[JN_VQ_MAX_RES];
    jn_vq_attn_weights attn[JN_VQ_MAX_RES];
    jn_weight *up_w, *up_b; /* [cout, cout, 3, 3], [cout]; NULL on the last level */
} jn_vq_level_weights;

/* Views into the weight store (not owned); may also be filled by hand (tests). */
typedef struct jn_vq_weights {
    jn_weight *codebook;           /* [codebook_size, codebook_dim] any float dtype */
    jn_weight *pq_w, *pq_b;        /* post_quant_conv [z, cd, 1, 1], [z] */
    jn_weight *conv_in_w, *conv_in_b; /* [c0, z, 3, 3], [c0] */
    jn_vq_res_weights mid0, mid2;
    jn_vq_attn_weights mid1;
    jn_vq_level_weights levels[JN_VQ_MAX_LEVELS];
    jn_weight *norm_out_w, *norm_out_b; /* [c_last] f32 */
    jn_weight *conv_out_w, *conv_out_b; /* [3, c_last, 3, 3], [3] */
} jn_vq_weights;

/* Channels of decoder level i (i = 0 is the lowest resolution): ch · ch_mult[n_levels − 1 − i]. */
static inline int jn_vq_level_channels(const jn_vq_hparams *hp, int i) {
    return hp->ch * hp->ch_mult[hp->n_levels - 1 - i];
}

/* Reads janus.vq.{codebook_size,codebook_dim,z_channels,ch,ch_mult,num_res_blocks,n_groups,norm_eps}
 * (and janus.vq.codebook_l2_norm if present; default 1) and validates them. */
jn_status jn_vq_hparams_from_gguf(const jn_gguf *g, jn_vq_hparams *hp, jn_error *err);
/* Positive sizes, 1 <= n_levels <= 8, num_res_blocks + 1 <= 8, every level's channels divisible by
 * n_groups: JN_ERR_FORMAT otherwise. */
jn_status jn_vq_hparams_check(const jn_vq_hparams *hp, jn_error *err);

/* Binds `vq.quantize.embedding.weight`, `vq.post_quant_conv.*`, `vq.decoder.*` with the shapes the
 * hparams imply. Norm weights/biases and conv biases must be f32, conv weights f32/f16/bf16, the
 * codebook any float dtype. */
jn_status jn_vq_bind(jn_vq_weights *w, jn_wstore *store, const jn_vq_hparams *hp, jn_error *err);
void jn_vq_weights_free(jn_vq_weights *w);

typedef struct jn_vq_session jn_vq_session;
/* grid: latent side (24 for 384×384 output). hp and w must outlive the session; weights must be
 * usable by be (w->dev valid). */
jn_vq_session *jn_vq_session_create(jn_backend *be, const jn_vq_hparams *hp, const jn_vq_weights *w, int grid,
                                    jn_error *err);
void jn_vq_session_free(jn_vq_session *s);
/* Bytes (backend + host) such a session allocates. */
size_t jn_vq_session_bytes(const jn_vq_hparams *hp, int grid);
/* Output side in pixels: grid · 2^(n_levels − 1). */
int jn_vq_session_out_size(const jn_vq_session *s);

/* ids_host: [grid·grid] codebook ids in raster order (id i → row i / grid, column i % grid);
 * an id outside [0, codebook_size) is JN_ERR_USAGE. out_chw_host: [3, H, H] f32 host, H = out size,
 * the decoder output before the uint8 post-processing. */
jn_status jn_vq_decode(jn_vq_session *s, const int32_t *ids_host, float *out_chw_host, jn_error *err);

/* Official post-processing: clip((x + 1) / 2 · 255, 0, 255) in f32, truncated to uint8 (NaN → 0);
 * chw [3, H, W] → rgb_hwc [H, W, 3] (channel 0 = R). */
void jn_vq_to_rgb8(const float *chw, int H, int W, uint8_t *rgb_hwc);

#ifdef __cplusplus
}
#endif
#endif
