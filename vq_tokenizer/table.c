/* vq_tokenizer/table.c — the GGUF keys and tensors of the generation head, the image-token feedback
 * and the LlamaGen VQ-16 decoder (see table.h and vq_decoder.h for the structure). */
#include "table.h"

#include <stdio.h>
#include <string.h>

#define GH jn_gen_hparams
const jn_key_spec jn_gen_keys[] = {
    JN_KEY_INT("janus.gen_aligner.input_dim", GH, codebook_dim, 1, 0, 1, 4096, "gen_embed row width"),
    JN_KEY_INT("janus.gen_aligner.n_embd", GH, n_embd, 1, 0, 1, 1 << 20, "gen_aligner output (= LM width)"),
    JN_KEY_INT("janus.gen_aligner.depth", GH, aligner_depth, 1, 0, 2, 2, "Linear layers of gen_aligner"),
    JN_KEY_INT("janus.gen_head.n_embd", GH, head_in, 1, 0, 1, 1 << 20, "gen_head input (= LM width)"),
    JN_KEY_INT("janus.gen_head.image_token_embed", GH, head_embd, 1, 0, 1, 1 << 20, "gen_head hidden width"),
    JN_KEY_INT("janus.gen_head.image_token_size", GH, codebook_size, 1, 0, 1, 1 << 24, "image-token ids"),
};
const size_t jn_gen_n_keys = sizeof jn_gen_keys / sizeof jn_gen_keys[0];
#undef GH

#define VQ jn_vq_hparams
const jn_key_spec jn_vq_keys[] = {
    JN_KEY_INT("janus.vq.codebook_size", VQ, codebook_size, 1, 0, 1, 1 << 24, "codebook rows"),
    JN_KEY_INT("janus.vq.codebook_dim", VQ, codebook_dim, 1, 0, 1, 4096, "codebook row width"),
    JN_KEY_INT("janus.vq.z_channels", VQ, z_channels, 1, 0, 1, 65536, "latent channels"),
    JN_KEY_INT("janus.vq.ch", VQ, ch, 1, 0, 1, 65536, "base channels"),
    JN_KEY_INT_ARR("janus.vq.ch_mult", VQ, ch_mult, n_levels, 1, JN_VQ_MAX_LEVELS, 1, 64,
                   "channel multiplier per level"),
    JN_KEY_INT("janus.vq.num_res_blocks", VQ, num_res_blocks, 1, 0, 0, JN_VQ_MAX_RES - 1,
               "encoder ResBlocks per level (decoder: + 1)"),
    JN_KEY_INT("janus.vq.n_groups", VQ, n_groups, 1, 0, 1, 65536, "GroupNorm groups"),
    JN_KEY_F32_POS("janus.vq.norm_eps", VQ, eps, 1, 0, 1, "GroupNorm epsilon"),
    JN_KEY_BOOL("janus.vq.codebook_l2_norm", VQ, l2_norm, 0, 1, 0, "codebook rows L2-normalised before use"),
};
const size_t jn_vq_n_keys = sizeof jn_vq_keys / sizeof jn_vq_keys[0];
#undef VQ

void jn_gen_tensors(const jn_gen_hparams *hp, jn_gen_weights *w, jn_tensor_sink *s) {
    const int64_t E = hp->n_embd, C = hp->codebook_size, CD = hp->codebook_dim, HE = hp->head_embd;
#define SLOT(field) (w ? &w->field : NULL)
    /* gen_aligner (MlpProjector mlp_gelu, depth 2): Linear(CD, E), GELU, Linear(E, E) */
    jn_tensor(s, SLOT(align_w1), JN_TENSOR_MATRIX, 0, 2, E, CD, 0, 0, "gen_aligner.layers.0.weight");
    jn_tensor(s, SLOT(align_b1), JN_TENSOR_F32, 0, 1, E, 0, 0, 0, "gen_aligner.layers.0.bias");
    jn_tensor(s, SLOT(align_w2), JN_TENSOR_MATRIX, 0, 2, E, E, 0, 0, "gen_aligner.layers.2.weight");
    jn_tensor(s, SLOT(align_b2), JN_TENSOR_F32, 0, 1, E, 0, 0, 0, "gen_aligner.layers.2.bias");
    jn_tensor(s, SLOT(head_w1), JN_TENSOR_QUANT, 0, 2, HE, E, 0, 0, "gen_head.output_mlp_projector.weight");
    jn_tensor(s, SLOT(head_b1), JN_TENSOR_F32, 0, 1, HE, 0, 0, 0, "gen_head.output_mlp_projector.bias");
    jn_tensor(s, SLOT(head_w2), JN_TENSOR_QUANT, 0, 2, C, HE, 0, 0, "gen_head.vision_head.weight");
    jn_tensor(s, SLOT(head_b2), JN_TENSOR_F32, 0, 1, C, 0, 0, 0, "gen_head.vision_head.bias");
    jn_tensor(s, SLOT(embed), JN_TENSOR_MATRIX, 0, 2, C, CD, 0, 0, "gen_embed.weight");
#undef SLOT
}

/* GroupNorm / conv pairs: "<pre>.<name>.{weight,bias}". */
static void norm_t(jn_tensor_sink *s, int unused, const char *pre, const char *name, int64_t c, jn_weight **wt,
                   jn_weight **bs) {
    jn_tensor(s, wt, JN_TENSOR_F32, unused, 1, c, 0, 0, 0, "%s.%s.weight", pre, name);
    jn_tensor(s, bs, JN_TENSOR_F32, unused, 1, c, 0, 0, 0, "%s.%s.bias", pre, name);
}
static void conv_t(jn_tensor_sink *s, int unused, const char *pre, const char *name, int64_t cout, int64_t cin,
                   int64_t k, jn_weight **wt, jn_weight **bs) {
    jn_tensor(s, wt, JN_TENSOR_FLOAT, unused, 4, cout, cin, k, k, "%s.%s.weight", pre, name);
    jn_tensor(s, bs, JN_TENSOR_F32, unused, 1, cout, 0, 0, 0, "%s.%s.bias", pre, name);
}

/* r may be NULL (encoder blocks, or no weights struct). */
static void res_t(jn_tensor_sink *s, int unused, const char *pre, int64_t cin, int64_t cout, jn_vq_res_weights *r) {
    jn_vq_res_weights dummy;
    if (!r) r = &dummy;
    memset(r, 0, sizeof *r);
    r->cin = (int)cin;
    r->cout = (int)cout;
    norm_t(s, unused, pre, "norm1", cin, &r->norm1_w, &r->norm1_b);
    conv_t(s, unused, pre, "conv1", cout, cin, 3, &r->conv1_w, &r->conv1_b);
    norm_t(s, unused, pre, "norm2", cout, &r->norm2_w, &r->norm2_b);
    conv_t(s, unused, pre, "conv2", cout, cout, 3, &r->conv2_w, &r->conv2_b);
    if (cin != cout) conv_t(s, unused, pre, "nin_shortcut", cout, cin, 1, &r->nin_w, &r->nin_b);
}

static void attn_t(jn_tensor_sink *s, int unused, const char *pre, int64_t c, jn_vq_attn_weights *a) {
    jn_vq_attn_weights dummy;
    if (!a) a = &dummy;
    memset(a, 0, sizeof *a);
    a->c = (int)c;
    norm_t(s, unused, pre, "norm", c, &a->norm_w, &a->norm_b);
    conv_t(s, unused, pre, "q", c, c, 1, &a->q_w, &a->q_b);
    conv_t(s, unused, pre, "k", c, c, 1, &a->k_w, &a->k_b);
    conv_t(s, unused, pre, "v", c, c, 1, &a->v_w, &a->v_b);
    conv_t(s, unused, pre, "proj_out", c, c, 1, &a->proj_w, &a->proj_b);
}

void jn_vq_tensors(const jn_vq_hparams *hp, jn_vq_weights *w, jn_tensor_sink *s) {
    const int L = hp->n_levels;
    const int64_t ch = hp->ch, z = hp->z_channels, cd = hp->codebook_dim;
    jn_vq_weights dummy;
    if (!w) w = &dummy;
    memset(w, 0, sizeof *w);
    char pre[96];
    /* encoder (unused): conv_in, L levels of num_res_blocks ResBlocks (attention at the last level,
     * downsample except there), mid, norm_out, conv_out, then quant_conv */
    conv_t(s, 1, "vq.encoder", "conv_in", ch, 3, 3, NULL, NULL);
    int64_t cin = ch;
    for (int i = 0; i < L; i++) {
        int64_t cout = ch * hp->ch_mult[i];
        for (int j = 0; j < hp->num_res_blocks; j++) {
            snprintf(pre, sizeof pre, "vq.encoder.conv_blocks.%d.res.%d", i, j);
            res_t(s, 1, pre, cin, cout, NULL);
            cin = cout;
        }
        if (i == L - 1)
            for (int j = 0; j < hp->num_res_blocks; j++) {
                snprintf(pre, sizeof pre, "vq.encoder.conv_blocks.%d.attn.%d", i, j);
                attn_t(s, 1, pre, cin, NULL);
            }
        if (i != L - 1) {
            snprintf(pre, sizeof pre, "vq.encoder.conv_blocks.%d.downsample", i);
            conv_t(s, 1, pre, "conv", cin, cin, 3, NULL, NULL);
        }
    }
    res_t(s, 1, "vq.encoder.mid.0", cin, cin, NULL);
    attn_t(s, 1, "vq.encoder.mid.1", cin, NULL);
    res_t(s, 1, "vq.encoder.mid.2", cin, cin, NULL);
    norm_t(s, 1, "vq.encoder", "norm_out", cin, NULL, NULL);
    conv_t(s, 1, "vq.encoder", "conv_out", z, cin, 3, NULL, NULL);
    conv_t(s, 1, "vq", "quant_conv", cd, z, 1, NULL, NULL);
    jn_tensor(s, &w->codebook, JN_TENSOR_FLOAT, 0, 2, hp->codebook_size, cd, 0, 0, "vq.quantize.embedding.weight");
    jn_tensor(s, NULL, JN_TENSOR_F32, 1, 1, 65536, 0, 0, 0, "vq.quantize.codebook_used"); /* fixed training buffer */
    conv_t(s, 0, "vq", "post_quant_conv", z, cd, 1, &w->pq_w, &w->pq_b);
    /* decoder: num_res_blocks + 1 ResBlocks per level, attention at level 0, upsample except last */
    const int64_t c0 = jn_vq_level_channels(hp, 0);
    conv_t(s, 0, "vq.decoder", "conv_in", c0, z, 3, &w->conv_in_w, &w->conv_in_b);
    res_t(s, 0, "vq.decoder.mid.0", c0, c0, &w->mid0);
    attn_t(s, 0, "vq.decoder.mid.1", c0, &w->mid1);
    res_t(s, 0, "vq.decoder.mid.2", c0, c0, &w->mid2);
    cin = c0;
    for (int i = 0; i < L; i++) {
        jn_vq_level_weights *lv = &w->levels[i];
        int64_t cout = jn_vq_level_channels(hp, i);
        lv->cin = (int)cin;
        lv->cout = (int)cout;
        lv->n_res = hp->num_res_blocks + 1;
        lv->n_attn = i == 0 ? lv->n_res : 0; /* attention only at the lowest resolution */
        for (int j = 0; j < lv->n_res; j++) {
            snprintf(pre, sizeof pre, "vq.decoder.conv_blocks.%d.res.%d", i, j);
            res_t(s, 0, pre, j == 0 ? cin : cout, cout, &lv->res[j]);
        }
        for (int j = 0; j < lv->n_attn; j++) {
            snprintf(pre, sizeof pre, "vq.decoder.conv_blocks.%d.attn.%d", i, j);
            attn_t(s, 0, pre, cout, &lv->attn[j]);
        }
        if (i != L - 1) {
            snprintf(pre, sizeof pre, "vq.decoder.conv_blocks.%d.upsample", i);
            conv_t(s, 0, pre, "conv", cout, cout, 3, &lv->up_w, &lv->up_b);
        }
        cin = cout;
    }
    norm_t(s, 0, "vq.decoder", "norm_out", cin, &w->norm_out_w, &w->norm_out_b);
    conv_t(s, 0, "vq.decoder", "conv_out", 3, cin, 3, &w->conv_out_w, &w->conv_out_b);
}
