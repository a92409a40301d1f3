/* api/convert.c — `janus convert` and `janus info`: a Janus-Pro download (official deepseek-ai
 * layout or the transformers JanusForConditionalGeneration layout) -> one GGUF file.
 *
 * Why here: this is the only place that knows the checkpoint layouts (config.json conventions,
 * tensor names). What the GGUF holds is not written here: the components' tables
 * (decoder/table.c, vision/table.c, vq_tokenizer/table.c) list every key and tensor; this file
 * fills the components' settings structs from the JSON files and maps each GGUF tensor name to
 * its checkpoint name(s). The engine readers (engine/io/ckpt*.c) stay model-agnostic.
 *
 * Flow: read the JSON files -> the components' settings (every value explicit; a missing field is
 * an error naming the field and the file, documented defaults are listed in docs/gguf-format.md)
 * -> the tables' range checks -> the tables' tensor list with shapes implied by the settings ->
 * check the checkpoint against it (unknown names, missing tensors, wrong shapes are errors) ->
 * declare metadata and tensor infos -> stream tensor by tensor (read a slice of rows, convert,
 * write), so peak memory is one slice of one tensor (~40 MB), whatever the checkpoint size. The
 * GGUF writer writes to a temporary file renamed at the end; an existing output is refused unless
 * force. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "janus.h"
#include "convert.h"

#include "engine/base.h"
#include "engine/io/ckpt.h"
#include "engine/dtype.h"
#include "engine/io/gguf.h"
#include "engine/io/file.h"
#include "engine/io/json.h"
#include "decoder/table.h"
#include "decoder/tokenizer.h"
#include "vision/table.h"
#include "vq_tokenizer/table.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int janus_exit_code(int status) {
    switch (status) {
    case JANUS_OK: return 0;
    case JANUS_ERR_USAGE: return 2;
    case JANUS_ERR_FORMAT:
    case JANUS_ERR_IO: return 3;
    default: return 1;
    }
}

janus_convert_params janus_convert_default_params(void) {
    janus_convert_params p;
    memset(&p, 0, sizeof p);
    p.type = "bf16";
    return p;
}

static void to_public(janus_error *out, const jn_error *e) {
    if (!out) return;
    out->code = e->code;
    snprintf(out->msg, sizeof out->msg, "%s", e->msg);
}

const jn_key_spec janus_general_keys[] = {
    JN_KEY_BY_HAND("general.architecture", JN_GGUF_STRING, 0, 1, "janus-pro"),
    JN_KEY_BY_HAND("general.name", JN_GGUF_STRING, 0, 0, "model folder name"),
    JN_KEY_BY_HAND("general.file_type", JN_GGUF_UINT32, 0, 0, "llama.cpp ftype of --type"),
    JN_KEY_BY_HAND("general.quantization_version", JN_GGUF_UINT32, 0, 0, "2"),
    JN_KEY_BY_HAND("general.alignment", JN_GGUF_UINT32, 0, 0, "32"),
};
const size_t janus_general_n_keys = sizeof janus_general_keys / sizeof janus_general_keys[0];

/* ------------------------------------------------------------------ configuration */

/* What the converter learns from the JSON files, held in the components' own settings structs:
 * their tables (vision/table.c, vq_tokenizer/table.c, decoder/table.c) write them out. */
typedef struct cv_model {
    jn_lm_hparams lm;
    jn_vision_hparams vis;
    jn_gen_hparams gen;
    jn_vq_hparams vq;
    jn_image_cfg img;
    jn_chat_template chat;
} cv_model;

/* Constants of the Janus-Pro architecture that neither config layout spells out. */
static void set_constants(cv_model *h) {
    h->vis.ln_eps = 1e-6f;     /* timm LayerNorm in SigLIP */
    h->vis.aligner_depth = 2;
    h->gen.aligner_depth = 2;
    h->vq.n_groups = 32;       /* GroupNorm */
    h->vq.eps = 1e-6f;
    h->vq.l2_norm = 1;         /* VQ-16 codebook_l2_norm */
    h->img.do_normalize = 1;
}

typedef struct cv_ctx {
    jn_error *err;
    const char *file; /* for messages */
} cv_ctx;

static const jn_json *obj_at(cv_ctx *c, const jn_json *root, const char *path, int required) {
    /* path: dotted keys, e.g. "vision_config.params" */
    const jn_json *v = root;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *tok = buf, *dot; tok; tok = dot) {
        dot = strchr(tok, '.');
        if (dot) *dot++ = 0;
        v = jn_json_get(v, tok);
        if (!v) break;
    }
    if ((!v || v->type != JN_JSON_OBJECT) && required) {
        jn_fail(c->err, JN_ERR_FORMAT, "%s: missing object \"%s\"", c->file, path);
        return NULL;
    }
    return v && v->type == JN_JSON_OBJECT ? v : NULL;
}

/* v is a JSON integer in [lo, hi] (the one integer check of every config field). */
static int json_int_in(const jn_json *v, int64_t lo, int64_t hi) {
    return v && v->type == JN_JSON_NUMBER && v->is_integer && v->integer >= lo && v->integer <= hi;
}

/* Required/optional integer in [lo, hi]; *out = def when optional and absent. */
static int get_int(cv_ctx *c, const jn_json *obj, const char *where, const char *key, int required, int def, int lo,
                   int hi, int *out) {
    const jn_json *v = jn_json_get(obj, key);
    if (!v || v->type == JN_JSON_NULL) {
        if (required) {
            jn_fail(c->err, JN_ERR_FORMAT, "%s: missing field %s%s%s", c->file, where, *where ? "." : "", key);
            return 0;
        }
        *out = def;
        return 1;
    }
    if (!json_int_in(v, lo, hi)) {
        jn_fail(c->err, JN_ERR_FORMAT, "%s: field %s%s%s must be an integer in [%d, %d]", c->file, where, *where ? "." : "",
                key, lo, hi);
        return 0;
    }
    *out = (int)v->integer;
    return 1;
}

static int get_f64(cv_ctx *c, const jn_json *obj, const char *where, const char *key, int required, double def,
                   double *out) {
    const jn_json *v = jn_json_get(obj, key);
    if (!v || v->type == JN_JSON_NULL) {
        if (required) {
            jn_fail(c->err, JN_ERR_FORMAT, "%s: missing field %s%s%s", c->file, where, *where ? "." : "", key);
            return 0;
        }
        *out = def;
        return 1;
    }
    if (v->type != JN_JSON_NUMBER || !isfinite(v->number)) {
        jn_fail(c->err, JN_ERR_FORMAT, "%s: field %s%s%s must be a number", c->file, where, *where ? "." : "", key);
        return 0;
    }
    *out = v->number;
    return 1;
}

static int get_f32(cv_ctx *c, const jn_json *obj, const char *where, const char *key, int required, double def,
                   float *out) {
    double d;
    if (!get_f64(c, obj, where, key, required, def, &d)) return 0;
    *out = (float)d;
    return 1;
}

static const char *get_str(cv_ctx *c, const jn_json *obj, const char *where, const char *key) {
    const char *s = jn_json_get_str(obj, key);
    if (!s) jn_fail(c->err, JN_ERR_FORMAT, "%s: missing string field %s%s%s", c->file, where, *where ? "." : "", key);
    return s;
}

/* A special token given as "text" or {"content": "text", ...} (HF AddedToken). */
static const char *token_str(const jn_json *v) {
    if (!v) return NULL;
    if (v->type == JN_JSON_STRING) return v->str;
    if (v->type == JN_JSON_OBJECT) return jn_json_get_str(v, "content");
    return NULL;
}

/* SigLIP sizes of the official create_siglip_vit table (janus/models/siglip_vit.py). */
static const struct {
    const char *name;
    int width, layers, heads, patch;
    double mlp_ratio;
} SIGLIP_TABLE[] = {
    {"siglip_large_patch16_384", 1024, 24, 16, 16, 4.0},
};

/* LLaMA settings: config.json language_config (official) or text_config (transformers). Defaults
 * are LlamaConfig's (transformers) for fields the Janus-Pro-7B config leaves out. */
static jn_status parse_llama(cv_ctx *c, const jn_json *lc, const char *where, jn_lm_hparams *lm) {
    jn_error *err = c->err;
    if (!get_int(c, lc, where, "hidden_size", 0, 4096, 1, 1 << 16, &lm->n_embd) ||
        !get_int(c, lc, where, "intermediate_size", 0, 11008, 1, 1 << 20, &lm->n_ff) ||
        !get_int(c, lc, where, "num_attention_heads", 0, 32, 1, 4096, &lm->n_head) ||
        !get_int(c, lc, where, "num_key_value_heads", 0, lm->n_head, 1, 4096, &lm->n_kv_head) ||
        !get_int(c, lc, where, "num_hidden_layers", 1, 0, 1, 4096, &lm->n_layer) ||
        !get_int(c, lc, where, "vocab_size", 1, 0, 1, 1 << 24, &lm->n_vocab) ||
        !get_int(c, lc, where, "max_position_embeddings", 1, 0, 1, 1 << 24, &lm->max_ctx) ||
        !get_f32(c, lc, where, "rms_norm_eps", 0, 1e-6, &lm->rms_eps) ||
        !get_f32(c, lc, where, "rope_theta", 0, 10000.0, &lm->rope_theta))
        return err->code;
    if (lm->n_embd % lm->n_head || lm->n_head % lm->n_kv_head)
        return jn_fail(err, JN_ERR_FORMAT, "%s: %s: hidden_size %d, num_attention_heads %d, num_key_value_heads %d do not divide",
                       c->file, where, lm->n_embd, lm->n_head, lm->n_kv_head);
    lm->d_head = lm->n_embd / lm->n_head;
    const jn_json *rs = jn_json_get(lc, "rope_scaling");
    if (rs && rs->type != JN_JSON_NULL)
        return jn_fail(err, JN_ERR_FORMAT, "%s: %s.rope_scaling is set; RoPE scaling is not supported", c->file, where);
    const char *act = jn_json_get_str(lc, "hidden_act");
    if (act && strcmp(act, "silu"))
        return jn_fail(err, JN_ERR_FORMAT, "%s: %s.hidden_act is '%s'; only silu is supported", c->file, where, act);
    int b;
    if (jn_json_get_bool(lc, "attention_bias", &b) && b)
        return jn_fail(err, JN_ERR_FORMAT, "%s: %s.attention_bias true is not supported", c->file, where);
    if (jn_json_get_bool(lc, "tie_word_embeddings", &b) && b)
        return jn_fail(err, JN_ERR_FORMAT, "%s: %s.tie_word_embeddings true is not supported (Janus-Pro has a separate lm_head)",
                       c->file, where);
    return JN_OK;
}

/* Checks shared by both layouts: the components must fit together. */
static jn_status cross_check(const cv_model *h, jn_error *err) {
    const char *F = "config.json";
    if (h->vis.width % h->vis.n_head || h->vis.image_size % h->vis.patch_size)
        return jn_fail(err, JN_ERR_FORMAT, "%s: vision width %d / heads %d or image_size %d / patch %d do not divide", F,
                       h->vis.width, h->vis.n_head, h->vis.image_size, h->vis.patch_size);
    if (h->vis.aligner_in != h->vis.width)
        return jn_fail(err, JN_ERR_FORMAT, "%s: aligner input_dim %d != vision width %d", F, h->vis.aligner_in, h->vis.width);
    if (h->vis.aligner_out != h->lm.n_embd || h->gen.n_embd != h->lm.n_embd || h->gen.head_in != h->lm.n_embd)
        return jn_fail(err, JN_ERR_FORMAT, "%s: aligner/gen_aligner/gen_head n_embed (%d/%d/%d) must equal the LM hidden_size %d",
                       F, h->vis.aligner_out, h->gen.n_embd, h->gen.head_in, h->lm.n_embd);
    if (h->gen.codebook_dim != h->vq.codebook_dim)
        return jn_fail(err, JN_ERR_FORMAT, "%s: gen_aligner input_dim %d != VQ embedding width %d", F, h->gen.codebook_dim,
                       h->vq.codebook_dim);
    if (h->gen.codebook_size != h->vq.codebook_size)
        return jn_fail(err, JN_ERR_FORMAT, "%s: gen_head image_token_size %d != VQ codebook size %d", F,
                       h->gen.codebook_size, h->vq.codebook_size);
    for (int i = 0; i < h->vq.n_levels; i++)
        if ((h->vq.ch * h->vq.ch_mult[i]) % h->vq.n_groups)
            return jn_fail(err, JN_ERR_FORMAT, "%s: VQ channels %d x ch_mult[%d] = %d are not a multiple of %d GroupNorm groups",
                           F, h->vq.ch, i, h->vq.ch_mult[i], h->vq.n_groups);
    return JN_OK;
}

/* ch_mult / channel_multiplier: a list of 1..JN_VQ_MAX_LEVELS integers, or the VQ-16 default. */
static jn_status parse_ch_mult(cv_ctx *c, const jn_json *cm, const char *where, jn_vq_hparams *vq) {
    if (!cm) {
        static const int def[5] = {1, 1, 2, 2, 4};
        memcpy(vq->ch_mult, def, sizeof def);
        vq->n_levels = 5;
        return JN_OK;
    }
    if (cm->type != JN_JSON_ARRAY || cm->n == 0 || cm->n > JN_VQ_MAX_LEVELS)
        return jn_fail(c->err, JN_ERR_FORMAT, "%s: %s must be a list of 1..%d integers", c->file, where, JN_VQ_MAX_LEVELS);
    for (size_t i = 0; i < cm->n; i++) {
        const jn_json *x = cm->items[i];
        if (!json_int_in(x, 1, 64))
            return jn_fail(c->err, JN_ERR_FORMAT, "%s: %s[%zu] is not an integer in [1, 64]", c->file, where, i);
        vq->ch_mult[i] = (int)x->integer;
    }
    vq->n_levels = (int)cm->n;
    return JN_OK;
}

/* Official layout (deepseek-ai/Janus-Pro-*): language_config, vision_config.params, ... */
static jn_status parse_config(const jn_json *cfg, cv_model *h, jn_error *err) {
    cv_ctx c = {err, "config.json"};
    const jn_json *lc = obj_at(&c, cfg, "language_config", 1);
    if (!lc) return err->code;
    jn_status st = parse_llama(&c, lc, "language_config", &h->lm);
    if (st) return st;

    /* vision */
    const jn_json *vp = obj_at(&c, cfg, "vision_config.params", 1);
    if (!vp) return err->code;
    const char *vcls = jn_json_get_str(jn_json_get(cfg, "vision_config"), "cls");
    if (vcls && strcmp(vcls, "CLIPVisionTower"))
        return jn_fail(err, JN_ERR_FORMAT, "config.json: vision_config.cls is '%s'; expected CLIPVisionTower", vcls);
    const char *mn = get_str(&c, vp, "vision_config.params", "model_name");
    if (!mn) return err->code;
    if (strlen(mn) >= sizeof h->vis.model_name)
        return jn_fail(err, JN_ERR_FORMAT, "config.json: vision_config.params.model_name is longer than %zu bytes",
                       sizeof h->vis.model_name - 1);
    snprintf(h->vis.model_name, sizeof h->vis.model_name, "%s", mn);
    if (!get_int(&c, vp, "vision_config.params", "image_size", 1, 0, 1, 1 << 14, &h->vis.image_size)) return err->code;
    int64_t sl;
    if (!jn_json_get_int(vp, "select_layer", &sl))
        return jn_fail(err, JN_ERR_FORMAT, "config.json: missing field vision_config.params.select_layer");
    const char *sf = jn_json_get_str(vp, "select_feature");
    if (sf && strcmp(sf, "same"))
        return jn_fail(err, JN_ERR_FORMAT, "config.json: vision_config.params.select_feature is '%s'; only 'same' is supported", sf);
    int known = -1, layers_full;
    for (size_t i = 0; i < sizeof SIGLIP_TABLE / sizeof SIGLIP_TABLE[0]; i++)
        if (!strcmp(mn, SIGLIP_TABLE[i].name)) known = (int)i;
    double ratio;
    if (known >= 0) {
        h->vis.width = SIGLIP_TABLE[known].width;
        layers_full = SIGLIP_TABLE[known].layers;
        h->vis.n_head = SIGLIP_TABLE[known].heads;
        h->vis.patch_size = SIGLIP_TABLE[known].patch;
        ratio = SIGLIP_TABLE[known].mlp_ratio;
    } else {
        if (!jn_json_get(vp, "width")) {
            return jn_fail(err, JN_ERR_FORMAT,
                           "config.json: vision_config.params.model_name '%s' is not a known SigLIP model "
                           "(known: siglip_large_patch16_384) and no explicit width/layers/heads/patch_size/mlp_ratio are given",
                           mn);
        }
        if (!get_int(&c, vp, "vision_config.params", "width", 1, 0, 1, 1 << 16, &h->vis.width) ||
            !get_int(&c, vp, "vision_config.params", "layers", 1, 0, 1, 4096, &layers_full) ||
            !get_int(&c, vp, "vision_config.params", "heads", 1, 0, 1, 4096, &h->vis.n_head) ||
            !get_int(&c, vp, "vision_config.params", "patch_size", 1, 0, 1, 4096, &h->vis.patch_size) ||
            !get_f64(&c, vp, "vision_config.params", "mlp_ratio", 1, 0, &ratio))
            return err->code;
    }
    if (ratio <= 0 || ratio > 64) return jn_fail(err, JN_ERR_FORMAT, "config.json: vision mlp_ratio %g out of range", ratio);
    h->vis.n_ff = (int)(h->vis.width * ratio); /* timm: int(embed_dim * mlp_ratio) */
    /* official create_siglip_vit: select_layer <= 0 keeps layers + select_layer + 1 blocks */
    int64_t nl = sl <= 0 ? (int64_t)layers_full + sl + 1 : sl;
    if (nl > layers_full) nl = layers_full;
    if (nl < 1) return jn_fail(err, JN_ERR_FORMAT, "config.json: vision_config.params.select_layer %lld leaves no layers", (long long)sl);
    h->vis.n_layer = (int)nl;

    /* projectors */
    static const char *const PROJ[2] = {"aligner_config", "gen_aligner_config"};
    for (int k = 0; k < 2; k++) {
        char where[64];
        snprintf(where, sizeof where, "%s.params", PROJ[k]);
        const jn_json *pp = obj_at(&c, cfg, where, 1);
        if (!pp) return err->code;
        const char *pt = get_str(&c, pp, where, "projector_type");
        if (!pt) return err->code;
        if (strcmp(pt, "mlp_gelu"))
            return jn_fail(err, JN_ERR_FORMAT, "config.json: %s.projector_type is '%s'; only mlp_gelu is supported", where, pt);
        int *in = k ? &h->gen.codebook_dim : &h->vis.aligner_in, *ne = k ? &h->gen.n_embd : &h->vis.aligner_out;
        int *dp = k ? &h->gen.aligner_depth : &h->vis.aligner_depth;
        if (!get_int(&c, pp, where, "input_dim", 1, 0, 1, 1 << 16, in) ||
            !get_int(&c, pp, where, "n_embed", 1, 0, 1, 1 << 16, ne) || !get_int(&c, pp, where, "depth", 1, 0, 1, 64, dp))
            return err->code;
    }
    /* generation head */
    const jn_json *gp = obj_at(&c, cfg, "gen_head_config.params", 1);
    if (!gp) return err->code;
    if (!get_int(&c, gp, "gen_head_config.params", "n_embed", 1, 0, 1, 1 << 16, &h->gen.head_in) ||
        !get_int(&c, gp, "gen_head_config.params", "image_token_embed", 1, 0, 1, 1 << 16, &h->gen.head_embd) ||
        !get_int(&c, gp, "gen_head_config.params", "image_token_size", 1, 0, 1, 1 << 24, &h->gen.codebook_size))
        return err->code;
    /* VQ-16 (LlamaGen) — class defaults unless given explicitly */
    const jn_json *vq = obj_at(&c, cfg, "gen_vision_config.params", 1);
    if (!vq) return err->code;
    const char *vqcls = jn_json_get_str(jn_json_get(cfg, "gen_vision_config"), "cls");
    if (!vqcls) return jn_fail(err, JN_ERR_FORMAT, "config.json: missing string field gen_vision_config.cls");
    if (strcmp(vqcls, "VQ-16"))
        return jn_fail(err, JN_ERR_FORMAT, "config.json: gen_vision_config.cls is '%s'; only VQ-16 is supported", vqcls);
    if (!get_int(&c, vq, "gen_vision_config.params", "image_token_size", 1, 0, 1, 1 << 24, &h->vq.codebook_size) ||
        !get_int(&c, vq, "gen_vision_config.params", "n_embed", 1, 0, 1, 4096, &h->vq.codebook_dim) ||
        !get_int(&c, vq, "gen_vision_config.params", "ch", 0, 128, 1, 1 << 14, &h->vq.ch) ||
        !get_int(&c, vq, "gen_vision_config.params", "z_channels", 0, 256, 1, 1 << 14, &h->vq.z_channels) ||
        !get_int(&c, vq, "gen_vision_config.params", "num_res_blocks", 0, 2, 1, 64, &h->vq.num_res_blocks))
        return err->code;
    if ((st = parse_ch_mult(&c, jn_json_get(vq, "ch_mult"), "gen_vision_config.params.ch_mult", &h->vq))) return st;
    if (h->gen.codebook_dim != h->vq.codebook_dim)
        return jn_fail(err, JN_ERR_FORMAT, "config.json: gen_aligner_config.params.input_dim %d != gen_vision_config.params.n_embed %d",
                       h->gen.codebook_dim, h->vq.codebook_dim);
    return cross_check(h, err);
}

/* Hugging Face transformers layout (deepseek-community/Janus-Pro-*, JanusForConditionalGeneration):
 * text_config (LlamaConfig), vision_config (JanusVisionConfig), vq_config (JanusVQVAEConfig); the
 * defaults are those classes' (transformers' configuration_janus.py) for absent fields. */
static jn_status parse_config_hf(const jn_json *cfg, cv_model *h, jn_error *err) {
    cv_ctx c = {err, "config.json"};
    const jn_json *tc = obj_at(&c, cfg, "text_config", 1), *vc = obj_at(&c, cfg, "vision_config", 1),
                  *qc = obj_at(&c, cfg, "vq_config", 1);
    if (!tc || !vc || !qc) return err->code;
    jn_status st = parse_llama(&c, tc, "text_config", &h->lm);
    if (st) return st;
    double ratio;
    if (!get_int(&c, vc, "vision_config", "hidden_size", 0, 1024, 1, 1 << 16, &h->vis.width) ||
        !get_int(&c, vc, "vision_config", "num_hidden_layers", 0, 24, 1, 4096, &h->vis.n_layer) ||
        !get_int(&c, vc, "vision_config", "num_attention_heads", 0, 16, 1, 4096, &h->vis.n_head) ||
        !get_int(&c, vc, "vision_config", "patch_size", 0, 16, 1, 4096, &h->vis.patch_size) ||
        !get_int(&c, vc, "vision_config", "image_size", 0, 384, 1, 1 << 14, &h->vis.image_size) ||
        !get_f64(&c, vc, "vision_config", "mlp_ratio", 0, 4.0, &ratio) ||
        !get_f32(&c, vc, "vision_config", "layer_norm_eps", 0, 1e-6, &h->vis.ln_eps) ||
        !get_int(&c, vc, "vision_config", "projection_dim", 0, 2048, 1, 1 << 16, &h->vis.aligner_out) ||
        !get_int(&c, vc, "vision_config", "depth", 0, 2, 1, 64, &h->vis.aligner_depth) ||
        !get_int(&c, vc, "vision_config", "num_image_tokens", 0, 576, 1, 1 << 20, &h->img.n_image_tokens))
        return err->code;
    if (ratio <= 0 || ratio > 64) return jn_fail(err, JN_ERR_FORMAT, "config.json: vision_config.mlp_ratio %g out of range", ratio);
    h->vis.n_ff = (int)(h->vis.width * ratio);
    h->vis.aligner_in = h->vis.width;
    const char *act = jn_json_get_str(vc, "hidden_act");
    if (act && strcmp(act, "gelu"))
        return jn_fail(err, JN_ERR_FORMAT, "config.json: vision_config.hidden_act is '%s'; only gelu is supported", act);
    int b;
    if (jn_json_get_bool(vc, "use_qk_norm", &b) && b)
        return jn_fail(err, JN_ERR_FORMAT, "config.json: vision_config.use_qk_norm true is not supported");
    /* the official name when the sizes are the official SigLIP-L ones, else left out (optional) */
    const double eps = 1e-9;
    for (size_t i = 0; i < sizeof SIGLIP_TABLE / sizeof SIGLIP_TABLE[0]; i++)
        if (SIGLIP_TABLE[i].width == h->vis.width && SIGLIP_TABLE[i].layers == h->vis.n_layer &&
            SIGLIP_TABLE[i].heads == h->vis.n_head && SIGLIP_TABLE[i].patch == h->vis.patch_size &&
            fabs(SIGLIP_TABLE[i].mlp_ratio - ratio) < eps)
            snprintf(h->vis.model_name, sizeof h->vis.model_name, "%s", SIGLIP_TABLE[i].name);
    if (!get_int(&c, qc, "vq_config", "embed_dim", 0, 8, 1, 4096, &h->vq.codebook_dim) ||
        !get_int(&c, qc, "vq_config", "num_embeddings", 0, 16384, 1, 1 << 24, &h->vq.codebook_size) ||
        !get_int(&c, qc, "vq_config", "latent_channels", 0, 256, 1, 1 << 14, &h->vq.z_channels) ||
        !get_int(&c, qc, "vq_config", "base_channels", 0, 128, 1, 1 << 14, &h->vq.ch) ||
        !get_int(&c, qc, "vq_config", "num_res_blocks", 0, 2, 1, 64, &h->vq.num_res_blocks) ||
        !get_int(&c, qc, "vq_config", "projection_dim", 0, 2048, 1, 1 << 16, &h->gen.n_embd) ||
        !get_int(&c, qc, "vq_config", "num_hidden_layers", 0, 2, 1, 64, &h->gen.aligner_depth) ||
        !get_int(&c, qc, "vq_config", "image_token_embed_dim", 0, 2048, 1, 1 << 16, &h->gen.head_embd))
        return err->code;
    if (jn_json_get_bool(qc, "double_latent", &b) && b)
        return jn_fail(err, JN_ERR_FORMAT, "config.json: vq_config.double_latent true is not supported");
    if ((st = parse_ch_mult(&c, jn_json_get(qc, "channel_multiplier"), "vq_config.channel_multiplier", &h->vq))) return st;
    /* JanusVQVAEHead: proj_out Linear(image_token_embed_dim... ) reads the LM hidden state */
    h->gen.codebook_dim = h->vq.codebook_dim;
    h->gen.codebook_size = h->vq.codebook_size;
    h->gen.head_in = h->lm.n_embd;
    return cross_check(h, err);
}

/* Image processor: preprocessor_config.json (both layouts; transformers may give size as
 * {"height", "width"} and leave background_color to its default int(mean * 255)), and
 * processor_config.json num_image_tokens (official; optional in the transformers layout). */
static jn_status parse_preprocessor(const jn_json *pp, const jn_json *proc, int transformers, cv_model *h,
                                    jn_error *err) {
    cv_ctx c = {err, "preprocessor_config.json"};
    jn_image_cfg *im = &h->img;
    const jn_json *size = jn_json_get(pp, "size");
    if (!jn_json_get(pp, "image_size") && size && size->type == JN_JSON_OBJECT) {
        int hh, ww;
        if (!get_int(&c, size, "size", "height", 1, 0, 1, 1 << 14, &hh) || !get_int(&c, size, "size", "width", 1, 0, 1, 1 << 14, &ww))
            return err->code;
        if (hh != ww) return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: size %dx%d is not square", ww, hh);
        im->size = hh;
    } else if (!get_int(&c, pp, "", "image_size", 1, 0, 1, 1 << 14, &im->size)) {
        return err->code;
    }
    if (!get_int(&c, pp, "", "min_size", 1, 0, 1, 1 << 14, &im->min_size)) return err->code;
    static const char *const ARR[3] = {"image_mean", "image_std", "background_color"};
    for (int k = 0; k < 3; k++) {
        const jn_json *a = jn_json_get(pp, ARR[k]);
        if (!a && k == 2 && transformers) { /* transformers JanusImageProcessor default */
            for (int i = 0; i < 3; i++) im->background[i] = (uint8_t)(int)(im->mean[i] * 255);
            continue;
        }
        if (!a) return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: missing field %s", ARR[k]);
        if (a->type != JN_JSON_ARRAY || a->n != 3)
            return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: %s must be a list of 3 numbers", ARR[k]);
        for (int i = 0; i < 3; i++) {
            const jn_json *x = a->items[i];
            if (x->type != JN_JSON_NUMBER) return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: %s[%d] is not a number", ARR[k], i);
            if (k == 2) {
                if (!json_int_in(x, 0, 255))
                    return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: background_color[%d] must be an integer 0..255", i);
                im->background[i] = (uint8_t)x->integer;
            } else {
                (k == 0 ? im->mean : im->std)[i] = (float)x->number;
            }
        }
    }
    if (!get_f64(&c, pp, "", "rescale_factor", 1, 0, &im->rescale)) return err->code;
    if (!jn_json_get_bool(pp, "do_normalize", &im->do_normalize))
        return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: missing boolean field do_normalize");
    if (im->size != h->vis.image_size)
        return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: image_size %d != config.json vision image_size %d",
                       im->size, h->vis.image_size);
    if (proc) {
        cv_ctx c2 = {err, "processor_config.json"};
        if (!get_int(&c2, proc, "", "num_image_tokens", 1, 0, 1, 1 << 20, &im->n_image_tokens)) return err->code;
    }
    int g = h->vis.image_size / h->vis.patch_size;
    if (im->n_image_tokens != g * g)
        return jn_fail(err, JN_ERR_FORMAT, "%s: num_image_tokens %d != (image_size/patch)^2 = %d",
                       proc ? "processor_config.json" : "config.json", im->n_image_tokens, g * g);
    return JN_OK;
}

/* ------------------------------------------------------------------ tensor sources */

/* The two checkpoint layouts janus convert reads. */
typedef enum cv_layout {
    CV_OFFICIAL,     /* deepseek-ai/Janus-Pro-*: language_model.model.*, vision_model.vision_tower.*, ... */
    CV_TRANSFORMERS, /* deepseek-community/Janus-Pro-*: JanusForConditionalGeneration (model.language_model.*, ...) */
} cv_layout;

/* A GGUF tensor (from the component tables) and where it comes from: up to three checkpoint tensors
 * concatenated along dim 0 (transformers splits SigLIP's fused qkv into q_proj, k_proj, v_proj). */
typedef struct cv_tensor {
    jn_tensor_desc d;
    char src[3][128];
    int n_src;                  /* 0: the layout does not store it (transformers drops attn_pool, codebook_used) */
    int src_dims;               /* shape of each part */
    int64_t src_shape[JN_GGUF_MAX_DIMS];
    const jn_ckpt_tensor *part[3];
    jn_dtype out;
} cv_tensor;

/* Replaces the first occurrence of from in s (capacity cap); 0 if absent or too long. */
static int subst(char *s, size_t cap, const char *from, const char *to) {
    char *p = strstr(s, from);
    if (!p) return 0;
    size_t fl = strlen(from), tl = strlen(to), rest = strlen(p + fl);
    if ((size_t)(p - s) + tl + rest + 1 > cap) return 0;
    memmove(p + tl, p + fl, rest + 1);
    memcpy(p, to, tl);
    return 1;
}

/* Official names are the GGUF names with the long prefixes (GGUF names are limited to 63 bytes). */
static void official_source(cv_tensor *t) {
    static const struct {
        const char *gguf, *official;
    } MAP[] = {
        {"lm.", "language_model.model."},
        {"lm_head.", "language_model.lm_head."},
        {"v.", "vision_model.vision_tower."},
        {"vq.", "gen_vision_model."},
    };
    const char *n = t->d.name;
    snprintf(t->src[0], sizeof t->src[0], "%s", n);
    for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++) {
        size_t l = strlen(MAP[i].gguf);
        if (!strncmp(n, MAP[i].gguf, l)) snprintf(t->src[0], sizeof t->src[0], "%s%s", MAP[i].official, n + l);
    }
    t->n_src = 1;
}

/* transformers names (its convert_janus_weights_to_hf.py renames the official ones; this is the
 * same mapping seen from our GGUF names). */
static void transformers_source(cv_tensor *t) {
    char b[128];
    const char *n = t->d.name;
    const size_t cap = sizeof b;
    t->n_src = 1;
    if (!strncmp(n, "v.attn_pool.", 12) || !strcmp(n, "vq.quantize.codebook_used")) {
        t->n_src = 0; /* not in JanusForConditionalGeneration */
        return;
    }
    if (!strncmp(n, "lm.", 3)) snprintf(b, cap, "model.language_model.%s", n + 3);
    else if (!strncmp(n, "v.", 2)) snprintf(b, cap, "model.vision_model.%s", n + 2);
    else if (!strncmp(n, "vq.", 3)) snprintf(b, cap, "model.vqmodel.%s", n + 3);
    else if (!strncmp(n, "gen_aligner.", 12)) snprintf(b, cap, "model.generation_aligner.%s", n + 12);
    else if (!strncmp(n, "aligner.", 8)) snprintf(b, cap, "model.aligner.%s", n + 8);
    else if (!strncmp(n, "gen_head.", 9)) snprintf(b, cap, "model.generation_head.%s", n + 9);
    else if (!strncmp(n, "gen_embed.", 10)) snprintf(b, cap, "model.generation_embeddings.%s", n + 10);
    else snprintf(b, cap, "%s", n); /* lm_head.weight */
    if (!strncmp(n, "v.", 2)) {
        subst(b, cap, ".patch_embed.proj.", ".embeddings.patch_embedding.");
        subst(b, cap, ".vision_model.norm.", ".vision_model.post_layernorm.");
        if (subst(b, cap, ".vision_model.pos_embed", ".vision_model.embeddings.position_embedding.weight")) {
            t->src_dims = 2; /* squeezed: [N, W] */
            t->src_shape[0] = t->d.shape[1];
            t->src_shape[1] = t->d.shape[2];
        }
        if (subst(b, cap, ".vision_model.blocks.", ".vision_model.encoder.layers.")) {
            subst(b, cap, ".norm1.", ".layer_norm1.");
            subst(b, cap, ".norm2.", ".layer_norm2.");
            subst(b, cap, ".attn.proj.", ".self_attn.projection_layer.");
            if (subst(b, cap, ".attn.qkv.", ".self_attn.@.")) {
                static const char *const QKV[3] = {"q_proj", "k_proj", "v_proj"};
                for (int k = 0; k < 3; k++) {
                    snprintf(t->src[k], sizeof t->src[k], "%s", b);
                    subst(t->src[k], sizeof t->src[k], "@", QKV[k]);
                }
                t->n_src = 3;
                t->src_shape[0] = t->d.shape[0] / 3;
                return;
            }
        }
    } else if (!strncmp(n, "aligner.", 8) || !strncmp(n, "gen_aligner.", 12)) {
        /* MlpProjector layers.0 -> fc1, layers.2j -> hidden_layers.(j-1) */
        const char *l = strstr(n, ".layers.");
        int idx = l ? atoi(l + 8) : 0;
        const char *rest = l ? strchr(l + 8, '.') : NULL;
        char head[128];
        memcpy(head, b, sizeof head);
        char *cut = strstr(head, ".layers.");
        if (cut && rest) {
            *cut = 0;
            if (idx == 0) snprintf(b, cap, "%.60s.fc1%.40s", head, rest);
            else snprintf(b, cap, "%.60s.hidden_layers.%d%.40s", head, idx / 2 - 1, rest);
        }
    } else if (!strncmp(n, "gen_head.", 9)) {
        subst(b, cap, ".output_mlp_projector.", ".proj_out.");
    } else if (!strncmp(n, "vq.", 3)) {
        subst(b, cap, ".decoder.conv_blocks.", ".decoder.up.");
        subst(b, cap, ".encoder.conv_blocks.", ".encoder.down.");
        subst(b, cap, ".res.", ".block.");
        subst(b, cap, ".mid.0.", ".mid.block_1.");
        subst(b, cap, ".mid.1.", ".mid.attn_1.");
        subst(b, cap, ".mid.2.", ".mid.block_2.");
    }
    snprintf(t->src[0], sizeof t->src[0], "%s", b);
}

/* Every GGUF tensor, from the component tables, in file order (LM, SigLIP + aligner, generation
 * head + feedback, VQ). */
static jn_status list_tensors(const cv_model *h, jn_tensor_list *l, jn_error *err) {
    jn_tensor_list_init(l, err);
    jn_lm_tensors(&h->lm, NULL, &l->base);
    jn_vision_tensors(&h->vis, NULL, &l->base);
    jn_gen_tensors(&h->gen, NULL, &l->base);
    jn_vq_tensors(&h->vq, NULL, &l->base);
    return l->base.failed ? (err->code ? err->code : JN_ERR_FORMAT) : JN_OK;
}

static void shape_str(char *buf, size_t n, int nd, const int64_t *s) {
    size_t p = 0;
    p += (size_t)snprintf(buf + p, n - p, "[");
    for (int i = 0; i < nd && p < n; i++) p += (size_t)snprintf(buf + p, n - p, "%s%lld", i ? ", " : "", (long long)s[i]);
    if (p < n) snprintf(buf + p, n - p, "]");
}

/* ------------------------------------------------------------------ tokenizer */

/* The tokenizer as the GGUF tokenizer.ggml.* arrays. tokenizer.json is read by the decoder's
 * tokenizer, the loader inference uses (so a file janus could not tokenize with is refused here, not
 * at the first run); only the merges are copied from the JSON as written. */
typedef struct cv_vocab {
    jn_tokenizer *tok;
    const char **str;
    size_t *len;
    int32_t *type;
    int64_t n;
    char *pads; /* storage for "[PAD<id>]" strings */
    const char **merges;
    size_t *merge_len;
    char *merge_store;
    int64_t n_merges;
} cv_vocab;

static void vocab_free(cv_vocab *v) {
    if (v->tok) jn_tokenizer_free(v->tok);
    free(v->str);
    free(v->len);
    free(v->type);
    free(v->pads);
    free(v->merges);
    free(v->merge_len);
    free(v->merge_store);
    memset(v, 0, sizeof *v);
}

static jn_status build_vocab(const char *tok_json, size_t tok_len, const char *cfg_json, size_t cfg_len,
                             const jn_json *tj, cv_vocab *v, jn_error *err) {
    v->tok = jn_tokenizer_load(tok_json, tok_len, cfg_json, cfg_len, err);
    if (!v->tok) return err->code;
    int64_t n = (int64_t)jn_tokenizer_vocab_size(v->tok);
    if (n <= 0) return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: empty vocabulary");
    v->n = n;
    v->str = calloc((size_t)n, sizeof *v->str);
    v->len = calloc((size_t)n, sizeof *v->len);
    v->type = calloc((size_t)n, sizeof *v->type);
    v->pads = malloc((size_t)n * 20);
    if (!v->str || !v->len || !v->type || !v->pads) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    for (int64_t id = 0; id < n; id++) {
        v->str[id] = jn_tokenizer_token_str(v->tok, (int32_t)id, &v->len[id]);
        if (!v->str[id]) { /* a hole in the ids */
            char *p = v->pads + id * 20;
            v->len[id] = (size_t)snprintf(p, 20, "[PAD%lld]", (long long)id);
            v->str[id] = p;
            v->type[id] = 5; /* unused */
        } else if (jn_tokenizer_is_added(v->tok, (int32_t)id)) {
            v->type[id] = jn_tokenizer_is_special(v->tok, (int32_t)id) ? 3 : 4; /* control / user-defined */
        } else {
            v->type[id] = 1; /* normal */
        }
    }
    /* merges: "a b" strings as written, ["a", "b"] pairs joined with a space (the tokenizer load
     * has checked both forms) */
    const jn_json *merges = jn_json_get(jn_json_get(tj, "model"), "merges");
    size_t nm = merges && merges->type == JN_JSON_ARRAY ? merges->n : 0;
    v->n_merges = (int64_t)nm;
    v->merges = calloc(nm + 1, sizeof *v->merges);
    v->merge_len = calloc(nm + 1, sizeof *v->merge_len);
    size_t pair_bytes = 0;
    for (size_t i = 0; i < nm; i++)
        if (merges->items[i]->type == JN_JSON_ARRAY)
            pair_bytes += merges->items[i]->items[0]->len + merges->items[i]->items[1]->len + 2;
    v->merge_store = malloc(pair_bytes + 1);
    if (!v->merges || !v->merge_len || !v->merge_store) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    size_t sp = 0;
    for (size_t i = 0; i < nm; i++) {
        const jn_json *m = merges->items[i];
        if (m->type == JN_JSON_STRING) {
            v->merges[i] = m->str;
            v->merge_len[i] = m->len;
            continue;
        }
        const jn_json *a = m->items[0], *b = m->items[1];
        if (memchr(a->str, ' ', a->len) || memchr(b->str, ' ', b->len))
            return jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: model.merges[%zu] has a space; cannot store it as \"a b\"", i);
        char *d = v->merge_store + sp;
        memcpy(d, a->str, a->len);
        d[a->len] = ' ';
        memcpy(d + a->len + 1, b->str, b->len);
        v->merges[i] = d;
        v->merge_len[i] = a->len + 1 + b->len;
        sp += a->len + b->len + 2;
    }
    return JN_OK;
}

/* ------------------------------------------------------------------ file helpers */

static char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

static char *read_text(const char *dir, const char *name, size_t *len, jn_error *err) {
    char *p = path_join(dir, name);
    if (!p) {
        jn_fail(err, JN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    char *buf = NULL;
    /* the shared opener refuses FIFOs, sockets, devices and directories before a read blocks */
    if (jn_read_input(p, (size_t)256 << 20, &buf, len, err) != JN_OK) {
        if (err && err->code == JN_ERR_IO) jn_error_prefix(err, "%s is part of a Janus-Pro download", name);
        buf = NULL;
    }
    free(p);
    return buf;
}

static jn_json *parse_text(const char *name, const char *text, size_t len, jn_error *err) {
    jn_json *j = jn_json_parse(text, len, err);
    if (!j) jn_error_prefix(err, "%s", name);
    else if (j->type != JN_JSON_OBJECT) {
        jn_fail(err, JN_ERR_FORMAT, "%s: not a JSON object", name);
        jn_json_free(j);
        return NULL;
    }
    return j;
}

/* ------------------------------------------------------------------ conversion */

static jn_dtype out_dtype(const cv_tensor *t, jn_dtype want) {
    int quant_type = want == JN_Q8_0 || want == JN_Q4_0;
    switch (t->d.rule) {
    case JN_TENSOR_F32: return JN_F32;
    case JN_TENSOR_QUANT:
        if (quant_type) return t->d.shape[t->d.n_dims - 1] % 32 == 0 ? want : JN_BF16;
        return want;
    default: return quant_type ? JN_BF16 : want;
    }
}

static uint32_t file_type_of(jn_dtype t) {
    switch (t) {
    case JN_F32: return 0;
    case JN_F16: return 1;
    case JN_Q4_0: return 2;
    case JN_Q8_0: return 7;
    default: return 32; /* MOSTLY_BF16 */
    }
}

#define CV_CHUNK_ELEMS ((int64_t)1 << 22)

/* Streams one tensor: each source part (concatenated along dim 0) in slices of whole rows, read ->
 * convert -> write. */
static jn_status convert_tensor(jn_ckpt *ck, const cv_tensor *t, jn_gguf_writer *w, float *fbuf, void *obuf,
                                int64_t chunk_elems, jn_error *err) {
    int64_t row = t->d.n_dims ? t->d.shape[t->d.n_dims - 1] : 1;
    if (row <= 0) row = 1;
    int64_t rows_per = chunk_elems / row;
    if (rows_per < 1) rows_per = 1;
    int64_t step = rows_per * row;
    for (int k = 0; k < t->n_src; k++) {
        const jn_ckpt_tensor *s = t->part[k];
        const char *fname = jn_ckpt_file_name(ck, s);
        for (int64_t first = 0; first < s->numel; first += step) {
            int64_t n = s->numel - first < step ? s->numel - first : step;
            jn_status st;
            size_t nbytes;
            if (t->out == s->dtype && (t->out == JN_BF16 || t->out == JN_F16 || t->out == JN_F32)) {
                /* exact copy of the source bits */
                st = jn_ckpt_read_raw(ck, s, first, n, obuf, err);
                nbytes = (size_t)n * jn_ckpt_elem_size(s->dtype);
            } else {
                if (s->dtype == JN_F32) {
                    st = jn_ckpt_read_raw(ck, s, first, n, fbuf, err);
                } else { /* one big read of the 16-bit values into obuf, widened into fbuf */
                    st = jn_ckpt_read_raw(ck, s, first, n, obuf, err);
                    if (st == JN_OK) jn_to_f32_ref(s->dtype, obuf, fbuf, n);
                }
                if (st) return st;
                if (t->out == JN_F16) {
                    uint16_t *o = obuf;
                    for (int64_t i = 0; i < n; i++) {
                        o[i] = jn_f32_to_f16(fbuf[i]);
                        if ((o[i] & 0x7fff) == 0x7c00 && isfinite(fbuf[i]))
                            return jn_fail(err, JN_ERR_FORMAT,
                                           "%s: tensor %s: value %g at element %lld is outside the f16 range; use --type bf16 or f32",
                                           fname, s->name, (double)fbuf[i], (long long)(first + i));
                    }
                    nbytes = (size_t)n * 2;
                } else {
                    jn_from_f32_ref(t->out, fbuf, obuf, n);
                    nbytes = jn_row_bytes(t->out, n);
                }
            }
            if (st) return st;
            st = jn_gguf_writer_write_data(w, obuf, nbytes, err);
            if (st) return st;
        }
    }
    return JN_OK;
}

static const char *dir_base(const char *dir, char *buf, size_t n) {
    size_t l = strlen(dir);
    while (l > 1 && dir[l - 1] == '/') l--;
    size_t b = l;
    while (b > 0 && dir[b - 1] != '/') b--;
    size_t k = l - b < n - 1 ? l - b : n - 1;
    memcpy(buf, dir + b, k);
    buf[k] = 0;
    if (!k) snprintf(buf, n, "janus-pro");
    return buf;
}

/* The folder a file is in ("." for a bare name). */
static void folder_of(const char *path, char *dir, size_t n) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, n, ".");
    else if (slash == path) snprintf(dir, n, "/");
    else snprintf(dir, n, "%.*s", (int)(slash - path), path);
}

/* The values every table checks at load, checked before anything is written. */
static jn_status check_tables(const cv_model *h, jn_error *err) {
    jn_status st;
    if ((st = jn_keys_check(jn_lm_keys, jn_lm_n_keys, &h->lm, "config.json", err)) ||
        (st = jn_keys_check(jn_vision_keys, jn_vision_n_keys, &h->vis, "config.json", err)) ||
        (st = jn_keys_check(jn_gen_keys, jn_gen_n_keys, &h->gen, "config.json", err)) ||
        (st = jn_keys_check(jn_vq_keys, jn_vq_n_keys, &h->vq, "config.json", err)) ||
        (st = jn_keys_check(jn_image_keys, jn_image_n_keys, &h->img, "preprocessor_config.json", err)))
        return st;
    return JN_OK;
}

/* Matches the expected tensors against the checkpoint: shapes, missing and unknown names. */
static jn_status match_checkpoint(jn_ckpt *ck, cv_tensor *t, size_t n, cv_layout layout, int keep_unused,
                                  jn_dtype want, jn_error *err) {
    for (size_t i = 0; i < n; i++) {
        cv_tensor *x = &t[i];
        x->src_dims = x->d.n_dims;
        memcpy(x->src_shape, x->d.shape, sizeof x->src_shape);
        if (layout == CV_OFFICIAL) official_source(x);
        else transformers_source(x);
        x->out = out_dtype(x, want);
        for (int k = 0; k < x->n_src; k++) {
            const jn_ckpt_tensor *s = jn_ckpt_find(ck, x->src[k]);
            x->part[k] = s;
            if (s) {
                int ok = s->n_dims == x->src_dims;
                for (int d = 0; ok && d < x->src_dims; d++) ok = s->shape[d] == x->src_shape[d];
                if (!ok) {
                    char got[96], exp[96];
                    shape_str(got, sizeof got, s->n_dims, s->shape);
                    shape_str(exp, sizeof exp, x->src_dims, x->src_shape);
                    return jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: got %s, expected %s", jn_ckpt_file_name(ck, s),
                                   x->src[k], got, exp);
                }
            } else if (!x->d.unused || keep_unused) {
                return jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s is missing (expected shape from config.json)",
                               jn_ckpt_format(ck), x->src[k]);
            }
        }
        /* an unused tensor is written only when kept and complete */
        int complete = x->n_src > 0;
        for (int k = 0; k < x->n_src; k++) complete = complete && x->part[k];
        if (!complete || (x->d.unused && !keep_unused)) x->n_src = 0;
    }
    for (int64_t i = 0; i < jn_ckpt_count(ck); i++) {
        const jn_ckpt_tensor *s = jn_ckpt_at(ck, i);
        int found = 0;
        for (size_t k = 0; k < n && !found; k++)
            for (int j = 0; j < 3 && !found; j++) found = t[k].part[j] == s;
        if (!found)
            return jn_fail(err, JN_ERR_FORMAT, "%s: unknown tensor %s (not part of Janus-Pro as configured by config.json)",
                           jn_ckpt_file_name(ck, s), s->name);
    }
    return JN_OK;
}

/* The input files of a layout; optional ones may be absent. */
enum { F_CONFIG, F_PREPROC, F_PROC, F_SPECIAL, F_TOKCFG, F_TOKENIZER, N_FILES };
static const char *const FILES[N_FILES] = {"config.json",           "preprocessor_config.json", "processor_config.json",
                                           "special_tokens_map.json", "tokenizer_config.json",  "tokenizer.json"};

static int file_exists(const char *dir, const char *name) {
    char *p = path_join(dir, name);
    struct stat st;
    int ok = p && stat(p, &st) == 0;
    free(p);
    return ok;
}

static jn_status do_convert(const janus_convert_params *p, jn_error *err) {
    if (!p || !p->model_dir || !p->out_path || !*p->model_dir || !*p->out_path)
        return jn_fail(err, JN_ERR_USAGE, "convert: model_dir and out_path are required");
    const char *type = p->type ? p->type : "bf16";
    int ti = jn_dtype_from_name(type);
    if (ti < 0) return jn_fail(err, JN_ERR_USAGE, "unknown --type '%s' (expected f32, f16, bf16, q8_0 or q4_0)", type);
    jn_dtype want = (jn_dtype)ti;
    struct stat st_out;
    if (!p->force && stat(p->out_path, &st_out) == 0)
        return jn_fail(err, JN_ERR_USAGE, "%s already exists; use --force to overwrite it", p->out_path);
    struct stat st_dir;
    if (stat(p->model_dir, &st_dir) == 0 && S_ISREG(st_dir.st_mode)) { /* a weight file of a download */
        char dir[4096];
        folder_of(p->model_dir, dir, sizeof dir);
        return jn_fail(err, JN_ERR_USAGE, "%s is a file; janus convert reads the whole download folder: janus convert %s -o %s",
                       p->model_dir, dir, p->out_path);
    }
    if (stat(p->model_dir, &st_dir) != 0 || !S_ISDIR(st_dir.st_mode))
        return jn_fail(err, JN_ERR_IO, "%s: not a directory (expected a Janus-Pro download folder)", p->model_dir);

    jn_status st = JN_OK;
    char *text[N_FILES] = {0};
    size_t tlen[N_FILES] = {0};
    jn_json *js[N_FILES] = {0};
    cv_model h;
    memset(&h, 0, sizeof h);
    set_constants(&h);
    jn_tensor_list tl;
    jn_tensor_list_init(&tl, err);
    cv_tensor *tt = NULL;
    cv_vocab voc;
    memset(&voc, 0, sizeof voc);
    jn_ckpt *ck = NULL;
    jn_gguf_writer *w = NULL;
    float *fbuf = NULL;
    void *obuf = NULL;

    /* config.json decides the layout; processor_config.json is optional in the transformers one */
    text[F_CONFIG] = read_text(p->model_dir, FILES[F_CONFIG], &tlen[F_CONFIG], err);
    if (!text[F_CONFIG] || !(js[F_CONFIG] = parse_text(FILES[F_CONFIG], text[F_CONFIG], tlen[F_CONFIG], err))) {
        st = err->code;
        goto done;
    }
    cv_layout layout = CV_OFFICIAL;
    if (jn_json_get(js[F_CONFIG], "text_config") && !jn_json_get(js[F_CONFIG], "language_config")) layout = CV_TRANSFORMERS;
    for (int i = 1; i < N_FILES && st == JN_OK; i++) {
        if (i == F_PROC && layout == CV_TRANSFORMERS && !file_exists(p->model_dir, FILES[i])) continue;
        text[i] = read_text(p->model_dir, FILES[i], &tlen[i], err);
        if (!text[i]) st = err->code;
        else if (!(js[i] = parse_text(FILES[i], text[i], tlen[i], err))) st = err->code;
    }
    if (st == JN_OK) st = layout == CV_OFFICIAL ? parse_config(js[F_CONFIG], &h, err) : parse_config_hf(js[F_CONFIG], &h, err);
    if (st == JN_OK) st = parse_preprocessor(js[F_PREPROC], js[F_PROC], layout == CV_TRANSFORMERS, &h, err);
    if (st == JN_OK) st = check_tables(&h, err);
    if (st == JN_OK)
        st = build_vocab(text[F_TOKENIZER], tlen[F_TOKENIZER], text[F_TOKCFG], tlen[F_TOKCFG], js[F_TOKENIZER], &voc, err);
    if (st) goto done;
    if (voc.n > (int64_t)h.lm.n_vocab) {
        st = jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: token id %lld exceeds config.json language_config.vocab_size %d",
                     (long long)voc.n - 1, h.lm.n_vocab);
        goto done;
    }
    /* prompt template and special tokens by string */
    jn_chat_template *ct = &h.chat;
    const char *image_tag = js[F_PROC] ? jn_json_get_str(js[F_PROC], layout == CV_OFFICIAL ? "image_tag" : "image_token") : NULL;
    if (!image_tag && layout == CV_TRANSFORMERS) {
        image_tag = token_str(jn_json_get(js[F_SPECIAL], "image_token"));
        if (!image_tag) image_tag = "<image_placeholder>"; /* what transformers' conversion script sets */
    }
    if (!image_tag) {
        st = jn_fail(err, JN_ERR_FORMAT, "processor_config.json: missing string field image_tag");
        goto done;
    }
    const char *bos_s = token_str(jn_json_get(js[F_TOKCFG], "bos_token"));
    if (!bos_s) bos_s = token_str(jn_json_get(js[F_SPECIAL], "bos_token"));
    const char *eos_s = token_str(jn_json_get(js[F_TOKCFG], "eos_token"));
    if (!eos_s) eos_s = token_str(jn_json_get(js[F_SPECIAL], "eos_token"));
    const char *pad_s = token_str(jn_json_get(js[F_SPECIAL], "pad_token"));
    if (!pad_s) pad_s = token_str(jn_json_get(js[F_TOKCFG], "pad_token"));
    if (!bos_s || !eos_s || !pad_s) {
        st = jn_fail(err, JN_ERR_FORMAT, "tokenizer_config.json / special_tokens_map.json: missing %s",
                     !bos_s ? "bos_token" : !eos_s ? "eos_token" : "pad_token");
        goto done;
    }
    static const char SYS[] = "You are a helpful language and vision assistant. You are able to understand the visual "
                              "content that the user provides, and assist the user with a variety of tasks using natural language.";
    ct->system = (char *)SYS;
    ct->sep = "\n\n";
    ct->sep2 = (char *)eos_s;
    ct->user_role = "<|User|>";
    ct->assistant_role = "<|Assistant|>";
    ct->image_tag = (char *)image_tag;
    ct->image_start_tag = "<begin_of_image>";
    ct->image_end_tag = "<end_of_image>";
    ct->pad_tag = (char *)pad_s;
    struct {
        const char *what, *str;
        int32_t *id;
    } SPEC[6] = {
        {"bos", bos_s, &ct->bos}, {"eos", eos_s, &ct->eos}, {"pad", pad_s, &ct->pad},
        {"image_placeholder", image_tag, &ct->image_placeholder},
        {"image_start", ct->image_start_tag, &ct->image_start}, {"image_end", ct->image_end_tag, &ct->image_end},
    };
    for (int i = 0; i < 6; i++) {
        int64_t id = jn_tokenizer_token_id(voc.tok, SPEC[i].str, strlen(SPEC[i].str));
        if (id < 0) {
            st = jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s token '%s' is not in the vocabulary or added_tokens",
                         SPEC[i].what, SPEC[i].str);
            goto done;
        }
        *SPEC[i].id = (int32_t)id;
    }
    int add_bos = 1, add_eos = 0;
    jn_json_get_bool(js[F_TOKCFG], "add_bos_token", &add_bos);
    jn_json_get_bool(js[F_TOKCFG], "add_eos_token", &add_eos);

    /* checkpoint vs the tensors the tables expect */
    ck = jn_ckpt_open_dir(p->model_dir, err);
    if (!ck) {
        st = err->code;
        goto done;
    }
    if ((st = list_tensors(&h, &tl, err))) goto done;
    tt = calloc(tl.n ? tl.n : 1, sizeof *tt);
    if (!tt) {
        st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < tl.n; i++) tt[i].d = tl.t[i];
    if ((st = match_checkpoint(ck, tt, tl.n, layout, p->keep_unused, want, err))) goto done;

    /* metadata: general.* here, every component key from its table */
    w = jn_gguf_writer_open(p->out_path, err);
    if (!w) {
        st = err->code;
        goto done;
    }
    jn_gguf_writer_set_no_clobber(w, !p->force); /* a file created while converting is not replaced either */
    char name[256];
    dir_base(p->model_dir, name, sizeof name);
    jn_gguf_writer_set_str(w, "general.architecture", "janus-pro", 9);
    jn_gguf_writer_set_str(w, "general.name", name, strlen(name));
    jn_gguf_writer_set_u32(w, "general.file_type", file_type_of(want));
    jn_gguf_writer_set_u32(w, "general.quantization_version", 2);
    jn_gguf_writer_set_u32(w, "general.alignment", 32);
    jn_keys_write(w, jn_lm_keys, jn_lm_n_keys, &h.lm);
    jn_keys_write(w, jn_vision_keys, jn_vision_n_keys, &h.vis);
    jn_keys_write(w, jn_gen_keys, jn_gen_n_keys, &h.gen);
    jn_keys_write(w, jn_vq_keys, jn_vq_n_keys, &h.vq);
    jn_keys_write(w, jn_image_keys, jn_image_n_keys, &h.img);
    jn_keys_write(w, jn_chat_keys, jn_chat_n_keys, &h.chat);
    jn_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2", 4);
    jn_gguf_writer_set_str(w, "tokenizer.ggml.pre", "deepseek-llm", 12);
    jn_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", voc.str, voc.len, (uint64_t)voc.n);
    jn_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", JN_GGUF_INT32, voc.type, (uint64_t)voc.n);
    jn_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", voc.merges, voc.merge_len, (uint64_t)voc.n_merges);
    jn_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)ct->bos);
    jn_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)ct->eos);
    jn_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)ct->pad);
    jn_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", add_bos);
    jn_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", add_eos);
    jn_gguf_writer_set_str(w, "tokenizer.huggingface.json", text[F_TOKENIZER], tlen[F_TOKENIZER]);
    jn_gguf_writer_set_str(w, "janus.tokenizer.config_json", text[F_TOKCFG], tlen[F_TOKCFG]);
    long total = 0;
    for (size_t i = 0; i < tl.n; i++) {
        cv_tensor *t = &tt[i];
        if (!t->n_src) continue;
        jn_gguf_writer_add_tensor(w, t->d.name, t->out, t->d.n_dims, t->d.shape);
        total++;
    }
    st = jn_gguf_writer_write_header(w, err);
    if (st) goto done;

    fbuf = malloc((size_t)CV_CHUNK_ELEMS * sizeof(float));
    obuf = malloc((size_t)CV_CHUNK_ELEMS * sizeof(float));
    if (!fbuf || !obuf) {
        st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
        goto done;
    }
    long done_n = 0;
    if (p->progress && p->progress(p->progress_user, "convert", 0, total)) {
        st = jn_fail(err, JN_ERR_RUNTIME, "conversion cancelled");
        goto done;
    }
    for (size_t i = 0; i < tl.n; i++) {
        cv_tensor *t = &tt[i];
        if (!t->n_src) continue;
        int64_t chunk = CV_CHUNK_ELEMS;
        int64_t row = t->d.n_dims ? t->d.shape[t->d.n_dims - 1] : 1;
        if (row > chunk) { /* a row longer than the buffers: grow them (never for Janus) */
            float *nf = realloc(fbuf, (size_t)row * sizeof(float));
            if (nf) fbuf = nf;
            void *no = nf ? realloc(obuf, (size_t)row * sizeof(float)) : NULL;
            if (!nf || !no) {
                st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
                goto done;
            }
            obuf = no;
            chunk = row;
        }
        st = convert_tensor(ck, t, w, fbuf, obuf, chunk, err);
        if (st) goto done;
        done_n++;
        if (p->progress && p->progress(p->progress_user, "convert", done_n, total)) {
            st = jn_fail(err, JN_ERR_RUNTIME, "conversion cancelled");
            goto done;
        }
    }
    st = jn_gguf_writer_finish(w, err);
    if (st == JN_OK) w = NULL; /* freed by a successful finish */

done:
    jn_gguf_writer_abort(w);
    free(fbuf);
    free(obuf);
    jn_ckpt_close(ck);
    vocab_free(&voc);
    free(tt);
    jn_tensor_list_free(&tl);
    for (int i = 0; i < N_FILES; i++) {
        jn_json_free(js[i]);
        free(text[i]);
    }
    return st;
}

int janus_convert(const janus_convert_params *p, janus_error *err) {
    jn_error e = {0};
    jn_status st = do_convert(p, &e);
    if (st) to_public(err, &e);
    return st;
}

/* ------------------------------------------------------------------ info */

static void print_value_full(const jn_gguf *g, int64_t i, FILE *out) {
    const char *key = jn_gguf_kv_key(g, i);
    jn_gguf_type ty = jn_gguf_kv_type(g, i);
    jn_buf b = {0};
    if (ty == JN_GGUF_STRING) {
        const char *s;
        size_t n;
        if (jn_gguf_get_str(g, key, &s, &n, NULL) == JN_OK) jn_json_write_string(&b, s, n);
    } else if (ty == JN_GGUF_ARRAY) {
        jn_gguf_type et;
        uint64_t n;
        const void *data;
        if (jn_gguf_get_arr(g, key, &et, &n, &data, NULL) == JN_OK) {
            jn_buf_puts(&b, "[");
            for (uint64_t k = 0; k < n; k++) {
                if (k) jn_buf_puts(&b, ", ");
                if (et == JN_GGUF_STRING) {
                    const char *s;
                    size_t sl;
                    if (jn_gguf_get_arr_str(g, key, k, &s, &sl, NULL) == JN_OK) jn_json_write_string(&b, s, sl);
                } else {
                    const uint8_t *p = data;
                    switch (et) {
                    case JN_GGUF_UINT8: jn_buf_printf(&b, "%u", p[k]); break;
                    case JN_GGUF_INT8: jn_buf_printf(&b, "%d", (int8_t)p[k]); break;
                    case JN_GGUF_BOOL: jn_buf_puts(&b, p[k] ? "true" : "false"); break;
                    case JN_GGUF_UINT16: case JN_GGUF_INT16: {
                        uint16_t v; memcpy(&v, p + 2 * k, 2);
                        if (et == JN_GGUF_UINT16) jn_buf_printf(&b, "%u", v); else jn_buf_printf(&b, "%d", (int16_t)v);
                        break;
                    }
                    case JN_GGUF_UINT32: case JN_GGUF_INT32: case JN_GGUF_FLOAT32: {
                        uint32_t v; memcpy(&v, p + 4 * k, 4);
                        if (et == JN_GGUF_UINT32) jn_buf_printf(&b, "%u", v);
                        else if (et == JN_GGUF_INT32) jn_buf_printf(&b, "%d", (int32_t)v);
                        else { float f; memcpy(&f, &v, 4); jn_buf_printf(&b, "%.9g", (double)f); }
                        break;
                    }
                    default: {
                        uint64_t v; memcpy(&v, p + 8 * k, 8);
                        if (et == JN_GGUF_UINT64) jn_buf_printf(&b, "%llu", (unsigned long long)v);
                        else if (et == JN_GGUF_INT64) jn_buf_printf(&b, "%lld", (long long)(int64_t)v);
                        else { double f; memcpy(&f, &v, 8); jn_buf_printf(&b, "%.17g", f); }
                    }
                    }
                }
            }
            jn_buf_puts(&b, "]");
        }
    } else {
        char buf[256];
        jn_gguf_kv_format(g, i, buf, sizeof buf);
        jn_buf_puts(&b, buf);
    }
    if (b.data) fwrite(b.data, 1, b.len, out);
    jn_buf_free(&b);
}

static const char *gguf_type_name(jn_gguf_type t) {
    static const char *const N[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};
    return (unsigned)t < sizeof N / sizeof N[0] ? N[t] : "?";
}

int janus_info(const char *gguf_path, FILE *out, int show_all, janus_error *perr) {
    jn_error e = {0};
    if (!gguf_path || !out) {
        jn_fail(&e, JN_ERR_USAGE, "info: a GGUF path and an output stream are required");
        to_public(perr, &e);
        return e.code;
    }
    jn_gguf *g = jn_gguf_open(gguf_path, &e);
    if (!g) {
        to_public(perr, &e);
        return e.code;
    }
    const char *arch = NULL, *nm = NULL;
    size_t al = 0, nl = 0;
    jn_gguf_get_str(g, "general.architecture", &arch, &al, NULL);
    jn_gguf_get_str(g, "general.name", &nm, &nl, NULL);
    uint32_t ft = 0;
    int have_ft = jn_gguf_get_u32(g, "general.file_type", &ft, NULL) == JN_OK;
    fprintf(out, "file: %s\n", gguf_path);
    fprintf(out, "size: %zu bytes, GGUF v%u, %lld metadata keys, %lld tensors\n", jn_gguf_file_size(g),
            jn_gguf_version(g), (long long)jn_gguf_n_kv(g), (long long)jn_gguf_n_tensors(g));
    fprintf(out, "architecture: %.*s\nname: %.*s\n", arch ? (int)al : 1, arch ? arch : "?", nm ? (int)nl : 1, nm ? nm : "?");
    if (have_ft) {
        const char *ftn = ft == 0 ? "f32" : ft == 1 ? "f16" : ft == 2 ? "q4_0" : ft == 7 ? "q8_0" : ft == 32 ? "bf16" : "other";
        fprintf(out, "file type: %u (%s)\n", ft, ftn);
    }
    fprintf(out, "\nmetadata:\n");
    for (int64_t i = 0; i < jn_gguf_n_kv(g); i++) {
        jn_gguf_type ty = jn_gguf_kv_type(g, i);
        fprintf(out, "  %-40s %-4s = ", jn_gguf_kv_key(g, i), gguf_type_name(ty));
        if (show_all) {
            print_value_full(g, i, out);
        } else {
            char buf[512];
            jn_gguf_kv_format(g, i, buf, sizeof buf);
            fputs(buf, out);
        }
        fputc('\n', out);
    }
    fprintf(out, "\ntensors:\n  %-56s %-5s %-24s %14s\n", "name", "dtype", "shape", "bytes");
    uint64_t total = 0, by_type[64] = {0};
    int64_t cnt[64] = {0};
    for (int64_t i = 0; i < jn_gguf_n_tensors(g); i++) {
        const jn_gguf_tensor *t = jn_gguf_tensor_at(g, i);
        char sh[96];
        shape_str(sh, sizeof sh, t->n_dims, t->shape);
        const char *dn = jn_dtype_name(t->type);
        fprintf(out, "  %-56s %-5s %-24s %14zu\n", t->name, dn ? dn : "?", sh, t->nbytes);
        total += t->nbytes;
        if ((unsigned)t->type < 64) {
            by_type[t->type] += t->nbytes;
            cnt[t->type]++;
        }
    }
    fprintf(out, "\ntotal: %lld tensors, %llu bytes (%.2f GiB)", (long long)jn_gguf_n_tensors(g),
            (unsigned long long)total, (double)total / (1024.0 * 1024.0 * 1024.0));
    for (int k = 0; k < 64; k++)
        if (cnt[k]) fprintf(out, "; %s: %lld (%llu bytes)", jn_dtype_name(k) ? jn_dtype_name(k) : "?", (long long)cnt[k], (unsigned long long)by_type[k]);
    fputc('\n', out);
    jn_gguf_close(g);
    if (ferror(out)) {
        jn_fail(&e, JN_ERR_RUNTIME, "info: write error on output");
        to_public(perr, &e);
        return e.code;
    }
    return JANUS_OK;
}

/* ------------------------------------------------------------------ model paths that are not GGUF */

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* s, single-quoted for a POSIX shell when it holds anything but [A-Za-z0-9._/+-]. */
static void shell_quote(const char *s, char *out, size_t n) {
    int plain = *s != 0;
    for (const char *p = s; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("._/+-", *p);
    if (plain) {
        snprintf(out, n, "%s", s);
        return;
    }
    size_t k = 0;
    if (k + 1 < n) out[k++] = '\'';
    for (const char *p = s; *p && k + 5 < n; p++) {
        if (*p == '\'') {
            memcpy(out + k, "'\\''", 4);
            k += 4;
        } else {
            out[k++] = *p;
        }
    }
    if (k + 1 < n) out[k++] = '\'';
    out[k < n ? k : n - 1] = 0;
}

/* Which layout a model folder's config.json describes; NULL when it is not Janus-Pro. */
static const char *folder_kind(const char *dir) {
    size_t len;
    jn_error e = {0};
    char *text = read_text(dir, "config.json", &len, &e);
    if (!text) return NULL;
    jn_json *j = jn_json_parse(text, len, &e);
    free(text);
    const char *kind = NULL;
    if (j && jn_json_get(j, "language_config") && jn_json_get(j, "vision_config"))
        kind = "an official Janus-Pro download folder (deepseek-ai layout)";
    else if (j && jn_json_get(j, "text_config") && jn_json_get(j, "vq_config"))
        kind = "a Hugging Face transformers Janus-Pro folder (JanusForConditionalGeneration)";
    jn_json_free(j);
    return kind;
}

jn_status janus_check_model_path(const char *path, jn_error *err) {
    struct stat st;
    if (!path || stat(path, &st) != 0) return JN_OK;
    char dir[4096], base[256], qdir[8192], qout[600];
    const char *kind = NULL;
    if (S_ISDIR(st.st_mode)) {
        snprintf(dir, sizeof dir, "%s", path);
        kind = folder_kind(dir);
        if (!kind)
            return jn_fail(err, JN_ERR_FORMAT,
                           "%s is a directory, not a model file: pass the .gguf file made by `janus convert MODEL_DIR -o FILE.gguf`",
                           path);
    } else if (S_ISREG(st.st_mode)) {
        unsigned char magic[8] = {0};
        FILE *f = fopen(path, "rb");
        size_t got = f ? fread(magic, 1, sizeof magic, f) : 0;
        if (f) fclose(f);
        if (got >= 4 && !memcmp(magic, "GGUF", 4)) return JN_OK;
        if (ends_with(path, ".safetensors")) kind = "a safetensors weight file";
        else if (ends_with(path, ".bin") || (got >= 4 && !memcmp(magic, "PK\3\4", 4))) kind = "a PyTorch checkpoint (.bin)";
        else if (ends_with(path, ".index.json")) kind = "a checkpoint shard index";
        else return JN_OK; /* the GGUF reader says what is wrong */
        folder_of(path, dir, sizeof dir); /* the converter reads the whole download folder */
    } else {
        return JN_OK;
    }
    char abs[4096];
    const char *named = dir;
    if (!strcmp(dir, ".") && realpath(".", abs)) named = abs; /* a name for the output file */
    dir_base(named, base, sizeof base);
    char out[300];
    snprintf(out, sizeof out, "%.250s.gguf", base);
    shell_quote(dir, qdir, sizeof qdir);
    shell_quote(out, qout, sizeof qout);
    return jn_fail(err, JN_ERR_FORMAT,
                   "%s is %s, not a converted model: convert the download once with\n  janus convert %s -o %s\nand "
                   "pass -m %s",
                   path, kind, qdir, qout, qout);
}
