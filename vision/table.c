/* vision/table.c — the GGUF keys and tensors of the understanding encoder and the image processor
 * (see table.h). Ranges: sizes positive and bounded so products fit int; eps and std > 0. */
#include "table.h"

#include <math.h>
#include <string.h>

#define HP jn_vision_hparams
const jn_key_spec jn_vision_keys[] = {
    JN_KEY_CHARS("janus.vision.model_name", HP, model_name, 0, "SigLIP variant of the official config"),
    JN_KEY_INT("janus.vision.image_size", HP, image_size, 1, 0, 1, 8192, "input side S in pixels"),
    JN_KEY_INT("janus.vision.patch_size", HP, patch_size, 1, 0, 1, 8192, "patch side P"),
    JN_KEY_INT("janus.vision.width", HP, width, 1, 0, 1, 65536, "ViT width W"),
    JN_KEY_INT("janus.vision.n_layer", HP, n_layer, 1, 0, 1, 1024, "ViT blocks run"),
    JN_KEY_INT("janus.vision.n_head", HP, n_head, 1, 0, 1, 65536, "attention heads"),
    JN_KEY_INT("janus.vision.n_ff", HP, n_ff, 1, 0, 1, 1 << 20, "MLP hidden width F"),
    JN_KEY_F32_POS("janus.vision.ln_eps", HP, ln_eps, 1, 0, 1, "LayerNorm epsilon"),
    JN_KEY_INT("janus.aligner.input_dim", HP, aligner_in, 1, 0, 1, 65536, "aligner input (= W)"),
    JN_KEY_INT("janus.aligner.n_embd", HP, aligner_out, 1, 0, 1, 1 << 20, "aligner output D (= LM width)"),
    JN_KEY_INT("janus.aligner.depth", HP, aligner_depth, 0, 2, 2, 2, "Linear layers of the aligner MLP"),
};
const size_t jn_vision_n_keys = sizeof jn_vision_keys / sizeof jn_vision_keys[0];
#undef HP

#define IC jn_image_cfg
const jn_key_spec jn_image_keys[] = {
    JN_KEY_INT("janus.image.size", IC, size, 1, 0, 1, 8192, "square side after resize and pad"),
    JN_KEY_INT("janus.image.min_size", IC, min_size, 1, 0, 1, 8192, "smallest side after the resize"),
    JN_KEY_INT("janus.image.num_image_tokens", IC, n_image_tokens, 1, 0, 1, 1 << 20, "placeholders per image"),
    JN_KEY_ARR("janus.image.background_color", JN_GGUF_UINT32, JN_FIELD_U8, IC, background, 3, 0, 255, 0,
               "padding colour RGB"),
    JN_KEY_ARR("janus.image.mean", JN_GGUF_FLOAT32, JN_FIELD_FLOAT, IC, mean, 3, -INFINITY, INFINITY, 0,
               "normalisation mean per channel"),
    JN_KEY_ARR("janus.image.std", JN_GGUF_FLOAT32, JN_FIELD_FLOAT, IC, std, 3, 0, INFINITY, 1,
               "normalisation std per channel"),
    JN_KEY_F64_POS("janus.image.rescale_factor", IC, rescale, 1, 0, 1, "pixel scale (1/255)"),
    JN_KEY_BOOL("janus.image.do_normalize", IC, do_normalize, 1, 1, 1, "normalise after rescaling (must be true)"),
};
const size_t jn_image_n_keys = sizeof jn_image_keys / sizeof jn_image_keys[0];
#undef IC

jn_status jn_image_cfg_from_gguf(const jn_gguf *g, const jn_vision_hparams *hp, jn_image_cfg *cfg, jn_error *err) {
    jn_image_cfg c;
    memset(&c, 0, sizeof c);
    jn_status st = jn_keys_read(g, jn_image_keys, jn_image_n_keys, &c, err);
    if (st) return st;
    int grid = hp->image_size / hp->patch_size;
    if (c.size != hp->image_size || grid * grid != c.n_image_tokens)
        return jn_fail(err, JN_ERR_FORMAT,
                       "%s: image size %d / patch %d gives %d tokens, but janus.image.num_image_tokens is %d (image.size %d)",
                       jn_gguf_path(g), hp->image_size, hp->patch_size, grid * grid, c.n_image_tokens, c.size);
    *cfg = c;
    return JN_OK;
}

void jn_vision_tensors(const jn_vision_hparams *hp, jn_vision_weights *w, jn_tensor_sink *s) {
    const int64_t W = hp->width, P = hp->patch_size, F = hp->n_ff, D = hp->aligner_out;
    const int64_t N = (int64_t)jn_vision_n_tokens(hp);
#define SLOT(field) (w ? &w->field : NULL)
#define BLK(field) (w ? &w->blocks[i].field : NULL)
    jn_tensor(s, SLOT(patch_w), JN_TENSOR_MATRIX, 0, 4, W, 3, P, P, "v.patch_embed.proj.weight");
    jn_tensor(s, SLOT(patch_b), JN_TENSOR_F32, 0, 1, W, 0, 0, 0, "v.patch_embed.proj.bias");
    jn_tensor(s, SLOT(pos_embed), JN_TENSOR_FLOAT, 0, 3, 1, N, W, 0, "v.pos_embed");
    for (int i = 0; i < hp->n_layer; i++) {
        jn_tensor(s, BLK(norm1_w), JN_TENSOR_F32, 0, 1, W, 0, 0, 0, "v.blocks.%d.norm1.weight", i);
        jn_tensor(s, BLK(norm1_b), JN_TENSOR_F32, 0, 1, W, 0, 0, 0, "v.blocks.%d.norm1.bias", i);
        jn_tensor(s, BLK(qkv_w), JN_TENSOR_MATRIX, 0, 2, 3 * W, W, 0, 0, "v.blocks.%d.attn.qkv.weight", i);
        jn_tensor(s, BLK(qkv_b), JN_TENSOR_F32, 0, 1, 3 * W, 0, 0, 0, "v.blocks.%d.attn.qkv.bias", i);
        jn_tensor(s, BLK(proj_w), JN_TENSOR_MATRIX, 0, 2, W, W, 0, 0, "v.blocks.%d.attn.proj.weight", i);
        jn_tensor(s, BLK(proj_b), JN_TENSOR_F32, 0, 1, W, 0, 0, 0, "v.blocks.%d.attn.proj.bias", i);
        jn_tensor(s, BLK(norm2_w), JN_TENSOR_F32, 0, 1, W, 0, 0, 0, "v.blocks.%d.norm2.weight", i);
        jn_tensor(s, BLK(norm2_b), JN_TENSOR_F32, 0, 1, W, 0, 0, 0, "v.blocks.%d.norm2.bias", i);
        jn_tensor(s, BLK(fc1_w), JN_TENSOR_MATRIX, 0, 2, F, W, 0, 0, "v.blocks.%d.mlp.fc1.weight", i);
        jn_tensor(s, BLK(fc1_b), JN_TENSOR_F32, 0, 1, F, 0, 0, 0, "v.blocks.%d.mlp.fc1.bias", i);
        jn_tensor(s, BLK(fc2_w), JN_TENSOR_MATRIX, 0, 2, W, F, 0, 0, "v.blocks.%d.mlp.fc2.weight", i);
        jn_tensor(s, BLK(fc2_b), JN_TENSOR_F32, 0, 1, W, 0, 0, 0, "v.blocks.%d.mlp.fc2.bias", i);
    }
    jn_tensor(s, SLOT(norm_w), JN_TENSOR_F32, 0, 1, W, 0, 0, 0, "v.norm.weight");
    jn_tensor(s, SLOT(norm_b), JN_TENSOR_F32, 0, 1, W, 0, 0, 0, "v.norm.bias");
    /* attention-pool head: built by timm, never called by Janus */
    jn_tensor(s, NULL, JN_TENSOR_FLOAT, 1, 3, 1, 1, W, 0, "v.attn_pool.latent");
    jn_tensor(s, NULL, JN_TENSOR_MATRIX, 1, 2, W, W, 0, 0, "v.attn_pool.q.weight");
    jn_tensor(s, NULL, JN_TENSOR_F32, 1, 1, W, 0, 0, 0, "v.attn_pool.q.bias");
    jn_tensor(s, NULL, JN_TENSOR_MATRIX, 1, 2, 2 * W, W, 0, 0, "v.attn_pool.kv.weight");
    jn_tensor(s, NULL, JN_TENSOR_F32, 1, 1, 2 * W, 0, 0, 0, "v.attn_pool.kv.bias");
    jn_tensor(s, NULL, JN_TENSOR_MATRIX, 1, 2, W, W, 0, 0, "v.attn_pool.proj.weight");
    jn_tensor(s, NULL, JN_TENSOR_F32, 1, 1, W, 0, 0, 0, "v.attn_pool.proj.bias");
    jn_tensor(s, NULL, JN_TENSOR_F32, 1, 1, W, 0, 0, 0, "v.attn_pool.norm.weight");
    jn_tensor(s, NULL, JN_TENSOR_F32, 1, 1, W, 0, 0, 0, "v.attn_pool.norm.bias");
    jn_tensor(s, NULL, JN_TENSOR_MATRIX, 1, 2, F, W, 0, 0, "v.attn_pool.mlp.fc1.weight");
    jn_tensor(s, NULL, JN_TENSOR_F32, 1, 1, F, 0, 0, 0, "v.attn_pool.mlp.fc1.bias");
    jn_tensor(s, NULL, JN_TENSOR_MATRIX, 1, 2, W, F, 0, 0, "v.attn_pool.mlp.fc2.weight");
    jn_tensor(s, NULL, JN_TENSOR_F32, 1, 1, W, 0, 0, 0, "v.attn_pool.mlp.fc2.bias");
    /* understanding aligner (MlpProjector mlp_gelu, depth 2): Linear(W, D), GELU, Linear(D, D) */
    jn_tensor(s, SLOT(al1_w), JN_TENSOR_MATRIX, 0, 2, D, W, 0, 0, "aligner.layers.0.weight");
    jn_tensor(s, SLOT(al1_b), JN_TENSOR_F32, 0, 1, D, 0, 0, 0, "aligner.layers.0.bias");
    jn_tensor(s, SLOT(al2_w), JN_TENSOR_MATRIX, 0, 2, D, D, 0, 0, "aligner.layers.2.weight");
    jn_tensor(s, SLOT(al2_b), JN_TENSOR_F32, 0, 1, D, 0, 0, 0, "aligner.layers.2.bias");
#undef SLOT
#undef BLK
}
