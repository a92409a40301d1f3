/* api/convert.c — `janus convert` and `janus info`: official Janus-Pro download -> one GGUF file.
 *
 * Why here: this is the only place that knows both the official checkpoint layout (tensor names,
 * config.json conventions) and our GGUF layout (short names, explicit metadata keys). The engine
 * readers (engine/ckpt*.c) stay model-agnostic.
 *
 * Flow: read the JSON files -> hyperparameters (every value explicit; a missing field is an
 * error naming the field and the file, documented defaults are listed in docs/gguf-format.md) ->
 * the list of expected tensors with shapes implied by the hyperparameters -> check the checkpoint
 * against it (unknown names, missing tensors, wrong shapes are errors) -> declare metadata and
 * tensor infos -> stream tensor by tensor (read a slice of rows, convert, write), so peak memory is
 * one slice of one tensor (~40 MB), whatever the checkpoint size. The GGUF writer writes to a
 * temporary file renamed at the end; an existing output is refused unless force. */
#define _POSIX_C_SOURCE 200809L
#include "janus.h"

#include "engine/base.h"
#include "engine/io/ckpt.h"
#include "engine/dtype.h"
#include "engine/io/gguf.h"
#include "engine/io/json.h"

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

/* ------------------------------------------------------------------ configuration */

#define CV_MAX_MULT 8

typedef struct cv_cfg {
    /* language model */
    uint32_t n_embd, n_layer, n_head, n_kv_head, n_ff, n_vocab, max_ctx;
    float rms_eps, rope_theta;
    /* SigLIP */
    char v_model_name[128];
    uint32_t v_image, v_patch, v_width, v_layers_full, v_n_layer, v_heads, v_ff;
    int32_t v_select_layer;
    /* projectors / heads */
    uint32_t al_in, al_embd, al_depth, gal_in, gal_embd, gal_depth;
    uint32_t gh_embd, gh_tok_embed, gh_tok_size;
    /* VQ */
    uint32_t vq_cb_size, vq_cb_dim, vq_z, vq_ch, vq_nres, vq_mult[CV_MAX_MULT], vq_n_mult;
    /* image processor */
    uint32_t img_size, img_min, img_ntok, bg[3];
    float mean[3], std[3];
    double rescale;
    int do_norm;
} cv_cfg;

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

/* Required/optional integer in [lo, hi]; *out = def when optional and absent. */
static int get_u32(cv_ctx *c, const jn_json *obj, const char *where, const char *key, int required, uint32_t def,
                   uint32_t lo, uint32_t hi, uint32_t *out) {
    const jn_json *v = jn_json_get(obj, key);
    if (!v || v->type == JN_JSON_NULL) {
        if (required) {
            jn_fail(c->err, JN_ERR_FORMAT, "%s: missing field %s%s%s", c->file, where, *where ? "." : "", key);
            return 0;
        }
        *out = def;
        return 1;
    }
    if (v->type != JN_JSON_NUMBER || !v->is_integer || v->integer < (int64_t)lo || v->integer > (int64_t)hi) {
        jn_fail(c->err, JN_ERR_FORMAT, "%s: field %s%s%s must be an integer in [%u, %u]", c->file, where, *where ? "." : "",
                key, lo, hi);
        return 0;
    }
    *out = (uint32_t)v->integer;
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
    uint32_t width, layers, heads, patch;
    double mlp_ratio;
} SIGLIP_TABLE[] = {
    {"siglip_large_patch16_384", 1024, 24, 16, 16, 4.0},
};

static jn_status parse_config(const jn_json *cfg, cv_cfg *h, jn_error *err) {
    cv_ctx c = {err, "config.json"};
    const jn_json *lc = obj_at(&c, cfg, "language_config", 1);
    if (!lc) return err->code;
    /* LlamaConfig defaults (transformers) for fields the Janus-Pro-7B config leaves out */
    if (!get_u32(&c, lc, "language_config", "hidden_size", 0, 4096, 1, 1u << 16, &h->n_embd) ||
        !get_u32(&c, lc, "language_config", "intermediate_size", 0, 11008, 1, 1u << 20, &h->n_ff) ||
        !get_u32(&c, lc, "language_config", "num_attention_heads", 0, 32, 1, 4096, &h->n_head) ||
        !get_u32(&c, lc, "language_config", "num_key_value_heads", 0, h->n_head, 1, 4096, &h->n_kv_head) ||
        !get_u32(&c, lc, "language_config", "num_hidden_layers", 1, 0, 1, 4096, &h->n_layer) ||
        !get_u32(&c, lc, "language_config", "vocab_size", 1, 0, 1, 1u << 24, &h->n_vocab) ||
        !get_u32(&c, lc, "language_config", "max_position_embeddings", 1, 0, 1, 1u << 24, &h->max_ctx))
        return err->code;
    double d;
    if (!get_f64(&c, lc, "language_config", "rms_norm_eps", 0, 1e-6, &d)) return err->code;
    h->rms_eps = (float)d;
    if (!get_f64(&c, lc, "language_config", "rope_theta", 0, 10000.0, &d)) return err->code;
    h->rope_theta = (float)d;
    if (h->n_embd % h->n_head || h->n_head % h->n_kv_head)
        return jn_fail(err, JN_ERR_FORMAT, "config.json: language_config: hidden_size %u, num_attention_heads %u, num_key_value_heads %u do not divide",
                       h->n_embd, h->n_head, h->n_kv_head);
    const jn_json *rs = jn_json_get(lc, "rope_scaling");
    if (rs && rs->type != JN_JSON_NULL)
        return jn_fail(err, JN_ERR_FORMAT, "config.json: language_config.rope_scaling is set; RoPE scaling is not supported");
    const char *act = jn_json_get_str(lc, "hidden_act");
    if (act && strcmp(act, "silu"))
        return jn_fail(err, JN_ERR_FORMAT, "config.json: language_config.hidden_act is '%s'; only silu is supported", act);
    int b;
    if (jn_json_get_bool(lc, "attention_bias", &b) && b)
        return jn_fail(err, JN_ERR_FORMAT, "config.json: language_config.attention_bias true is not supported");
    if (jn_json_get_bool(lc, "tie_word_embeddings", &b) && b)
        return jn_fail(err, JN_ERR_FORMAT, "config.json: language_config.tie_word_embeddings true is not supported (Janus-Pro has a separate lm_head)");

    /* vision */
    const jn_json *vp = obj_at(&c, cfg, "vision_config.params", 1);
    if (!vp) return err->code;
    const char *vcls = jn_json_get_str(jn_json_get(cfg, "vision_config"), "cls");
    if (vcls && strcmp(vcls, "CLIPVisionTower"))
        return jn_fail(err, JN_ERR_FORMAT, "config.json: vision_config.cls is '%s'; expected CLIPVisionTower", vcls);
    const char *mn = get_str(&c, vp, "vision_config.params", "model_name");
    if (!mn) return err->code;
    snprintf(h->v_model_name, sizeof h->v_model_name, "%s", mn);
    if (!get_u32(&c, vp, "vision_config.params", "image_size", 1, 0, 1, 1u << 14, &h->v_image)) return err->code;
    int64_t sl;
    if (!jn_json_get_int(vp, "select_layer", &sl))
        return jn_fail(err, JN_ERR_FORMAT, "config.json: missing field vision_config.params.select_layer");
    h->v_select_layer = (int32_t)sl;
    const char *sf = jn_json_get_str(vp, "select_feature");
    if (sf && strcmp(sf, "same"))
        return jn_fail(err, JN_ERR_FORMAT, "config.json: vision_config.params.select_feature is '%s'; only 'same' is supported", sf);
    int known = -1;
    for (size_t i = 0; i < sizeof SIGLIP_TABLE / sizeof SIGLIP_TABLE[0]; i++)
        if (!strcmp(mn, SIGLIP_TABLE[i].name)) known = (int)i;
    double ratio;
    if (known >= 0) {
        h->v_width = SIGLIP_TABLE[known].width;
        h->v_layers_full = SIGLIP_TABLE[known].layers;
        h->v_heads = SIGLIP_TABLE[known].heads;
        h->v_patch = SIGLIP_TABLE[known].patch;
        ratio = SIGLIP_TABLE[known].mlp_ratio;
    } else {
        cv_ctx c2 = c;
        if (!jn_json_get(vp, "width")) {
            return jn_fail(err, JN_ERR_FORMAT,
                           "config.json: vision_config.params.model_name '%s' is not a known SigLIP model "
                           "(known: siglip_large_patch16_384) and no explicit width/layers/heads/patch_size/mlp_ratio are given",
                           mn);
        }
        if (!get_u32(&c2, vp, "vision_config.params", "width", 1, 0, 1, 1u << 16, &h->v_width) ||
            !get_u32(&c2, vp, "vision_config.params", "layers", 1, 0, 1, 4096, &h->v_layers_full) ||
            !get_u32(&c2, vp, "vision_config.params", "heads", 1, 0, 1, 4096, &h->v_heads) ||
            !get_u32(&c2, vp, "vision_config.params", "patch_size", 1, 0, 1, 4096, &h->v_patch) ||
            !get_f64(&c2, vp, "vision_config.params", "mlp_ratio", 1, 0, &ratio))
            return err->code;
    }
    if (ratio <= 0 || ratio > 64) return jn_fail(err, JN_ERR_FORMAT, "config.json: vision mlp_ratio %g out of range", ratio);
    h->v_ff = (uint32_t)(h->v_width * ratio); /* timm: int(embed_dim * mlp_ratio) */
    /* official create_siglip_vit: select_layer <= 0 keeps layers + select_layer + 1 blocks */
    int64_t nl = sl <= 0 ? (int64_t)h->v_layers_full + sl + 1 : sl;
    if (nl > (int64_t)h->v_layers_full) nl = h->v_layers_full;
    if (nl < 1) return jn_fail(err, JN_ERR_FORMAT, "config.json: vision_config.params.select_layer %lld leaves no layers", (long long)sl);
    h->v_n_layer = (uint32_t)nl;
    if (h->v_width % h->v_heads || h->v_image % h->v_patch)
        return jn_fail(err, JN_ERR_FORMAT, "config.json: vision width %u / heads %u or image_size %u / patch %u do not divide",
                       h->v_width, h->v_heads, h->v_image, h->v_patch);

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
        uint32_t *in = k ? &h->gal_in : &h->al_in, *ne = k ? &h->gal_embd : &h->al_embd, *dp = k ? &h->gal_depth : &h->al_depth;
        if (!get_u32(&c, pp, where, "input_dim", 1, 0, 1, 1u << 16, in) ||
            !get_u32(&c, pp, where, "n_embed", 1, 0, 1, 1u << 16, ne) ||
            !get_u32(&c, pp, where, "depth", 1, 0, 1, 64, dp))
            return err->code;
    }
    /* generation head */
    const jn_json *gp = obj_at(&c, cfg, "gen_head_config.params", 1);
    if (!gp) return err->code;
    if (!get_u32(&c, gp, "gen_head_config.params", "n_embed", 1, 0, 1, 1u << 16, &h->gh_embd) ||
        !get_u32(&c, gp, "gen_head_config.params", "image_token_embed", 1, 0, 1, 1u << 16, &h->gh_tok_embed) ||
        !get_u32(&c, gp, "gen_head_config.params", "image_token_size", 1, 0, 1, 1u << 24, &h->gh_tok_size))
        return err->code;
    /* VQ-16 (LlamaGen) — class defaults unless given explicitly */
    const jn_json *vq = obj_at(&c, cfg, "gen_vision_config.params", 1);
    if (!vq) return err->code;
    const char *vqcls = jn_json_get_str(jn_json_get(cfg, "gen_vision_config"), "cls");
    if (!vqcls) return jn_fail(err, JN_ERR_FORMAT, "config.json: missing string field gen_vision_config.cls");
    if (strcmp(vqcls, "VQ-16"))
        return jn_fail(err, JN_ERR_FORMAT, "config.json: gen_vision_config.cls is '%s'; only VQ-16 is supported", vqcls);
    if (!get_u32(&c, vq, "gen_vision_config.params", "image_token_size", 1, 0, 1, 1u << 24, &h->vq_cb_size) ||
        !get_u32(&c, vq, "gen_vision_config.params", "n_embed", 1, 0, 1, 4096, &h->vq_cb_dim) ||
        !get_u32(&c, vq, "gen_vision_config.params", "ch", 0, 128, 1, 1u << 14, &h->vq_ch) ||
        !get_u32(&c, vq, "gen_vision_config.params", "z_channels", 0, 256, 1, 1u << 14, &h->vq_z) ||
        !get_u32(&c, vq, "gen_vision_config.params", "num_res_blocks", 0, 2, 1, 64, &h->vq_nres))
        return err->code;
    const jn_json *cm = jn_json_get(vq, "ch_mult");
    if (cm) {
        if (cm->type != JN_JSON_ARRAY || cm->n == 0 || cm->n > CV_MAX_MULT)
            return jn_fail(err, JN_ERR_FORMAT, "config.json: gen_vision_config.params.ch_mult must be a list of 1..%d integers", CV_MAX_MULT);
        for (size_t i = 0; i < cm->n; i++) {
            const jn_json *x = cm->items[i];
            if (x->type != JN_JSON_NUMBER || !x->is_integer || x->integer < 1 || x->integer > 64)
                return jn_fail(err, JN_ERR_FORMAT, "config.json: gen_vision_config.params.ch_mult[%zu] is not an integer in [1, 64]", i);
            h->vq_mult[i] = (uint32_t)x->integer;
        }
        h->vq_n_mult = (uint32_t)cm->n;
    } else {
        static const uint32_t def[5] = {1, 1, 2, 2, 4};
        memcpy(h->vq_mult, def, sizeof def);
        h->vq_n_mult = 5;
    }
    /* cross-checks between components */
    if (h->al_in != h->v_width)
        return jn_fail(err, JN_ERR_FORMAT, "config.json: aligner_config.params.input_dim %u != vision width %u", h->al_in, h->v_width);
    if (h->al_embd != h->n_embd || h->gal_embd != h->n_embd || h->gh_embd != h->n_embd)
        return jn_fail(err, JN_ERR_FORMAT, "config.json: aligner/gen_aligner/gen_head n_embed (%u/%u/%u) must equal language_config.hidden_size %u",
                       h->al_embd, h->gal_embd, h->gh_embd, h->n_embd);
    if (h->gal_in != h->vq_cb_dim)
        return jn_fail(err, JN_ERR_FORMAT, "config.json: gen_aligner_config.params.input_dim %u != gen_vision_config.params.n_embed %u",
                       h->gal_in, h->vq_cb_dim);
    if (h->gh_tok_size != h->vq_cb_size)
        return jn_fail(err, JN_ERR_FORMAT, "config.json: gen_head_config image_token_size %u != gen_vision_config image_token_size %u",
                       h->gh_tok_size, h->vq_cb_size);
    return JN_OK;
}

static jn_status parse_preprocessor(const jn_json *pp, const jn_json *proc, cv_cfg *h, jn_error *err) {
    cv_ctx c = {err, "preprocessor_config.json"};
    if (!get_u32(&c, pp, "", "image_size", 1, 0, 1, 1u << 14, &h->img_size) ||
        !get_u32(&c, pp, "", "min_size", 1, 0, 1, 1u << 14, &h->img_min))
        return err->code;
    static const char *const ARR[3] = {"background_color", "image_mean", "image_std"};
    for (int k = 0; k < 3; k++) {
        const jn_json *a = jn_json_get(pp, ARR[k]);
        if (!a) return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: missing field %s", ARR[k]);
        if (a->type != JN_JSON_ARRAY || a->n != 3)
            return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: %s must be a list of 3 numbers", ARR[k]);
        for (int i = 0; i < 3; i++) {
            const jn_json *x = a->items[i];
            if (x->type != JN_JSON_NUMBER) return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: %s[%d] is not a number", ARR[k], i);
            if (k == 0) {
                if (!x->is_integer || x->integer < 0 || x->integer > 255)
                    return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: background_color[%d] must be an integer 0..255", i);
                h->bg[i] = (uint32_t)x->integer;
            } else if (k == 1) {
                h->mean[i] = (float)x->number;
            } else {
                h->std[i] = (float)x->number;
                if (!(h->std[i] > 0)) return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: image_std[%d] must be > 0", i);
            }
        }
    }
    if (!get_f64(&c, pp, "", "rescale_factor", 1, 0, &h->rescale)) return err->code;
    if (!jn_json_get_bool(pp, "do_normalize", &h->do_norm))
        return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: missing boolean field do_normalize");
    if (h->img_size != h->v_image)
        return jn_fail(err, JN_ERR_FORMAT, "preprocessor_config.json: image_size %u != config.json vision image_size %u",
                       h->img_size, h->v_image);
    cv_ctx c2 = {err, "processor_config.json"};
    if (!get_u32(&c2, proc, "", "num_image_tokens", 1, 0, 1, 1u << 20, &h->img_ntok)) return err->code;
    uint32_t g = h->v_image / h->v_patch;
    if (h->img_ntok != g * g)
        return jn_fail(err, JN_ERR_FORMAT, "processor_config.json: num_image_tokens %u != (image_size/patch)^2 = %u", h->img_ntok, g * g);
    return JN_OK;
}

/* ------------------------------------------------------------------ expected tensors */

typedef struct cv_tensor {
    char name[112];     /* official name */
    char gname[64];     /* GGUF name */
    int n_dims;
    int64_t shape[4];
    int unused;         /* never read at inference (dropped unless keep_unused) */
    int quant;          /* candidate for q8_0 / q4_0 */
    const jn_ckpt_tensor *src;
    jn_dtype out;
} cv_tensor;

typedef struct cv_list {
    cv_tensor *t;
    size_t n, cap;
    int oom;
} cv_list;

static void add_t(cv_list *l, int unused, int quant, int n_dims, int64_t a, int64_t b, int64_t c, int64_t d,
                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 9, 10)))
#endif
    ;
static void add_t(cv_list *l, int unused, int quant, int n_dims, int64_t a, int64_t b, int64_t c, int64_t d,
                  const char *fmt, ...) {
    if (l->oom) return;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 512;
        cv_tensor *nt = realloc(l->t, nc * sizeof *nt);
        if (!nt) {
            l->oom = 1;
            return;
        }
        l->t = nt;
        l->cap = nc;
    }
    cv_tensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->n_dims = n_dims;
    int64_t s[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++) t->shape[i] = i < n_dims ? s[i] : 1;
    t->unused = unused;
    t->quant = quant;
}

#define W1(u, q, n0, ...) add_t(l, u, q, 1, n0, 0, 0, 0, __VA_ARGS__)
#define W2(u, q, n0, n1, ...) add_t(l, u, q, 2, n0, n1, 0, 0, __VA_ARGS__)

static void add_resblock(cv_list *l, int unused, const char *pre, int64_t cin, int64_t cout) {
    add_t(l, unused, 0, 1, cin, 0, 0, 0, "%s.norm1.weight", pre);
    add_t(l, unused, 0, 1, cin, 0, 0, 0, "%s.norm1.bias", pre);
    add_t(l, unused, 0, 4, cout, cin, 3, 3, "%s.conv1.weight", pre);
    add_t(l, unused, 0, 1, cout, 0, 0, 0, "%s.conv1.bias", pre);
    add_t(l, unused, 0, 1, cout, 0, 0, 0, "%s.norm2.weight", pre);
    add_t(l, unused, 0, 1, cout, 0, 0, 0, "%s.norm2.bias", pre);
    add_t(l, unused, 0, 4, cout, cout, 3, 3, "%s.conv2.weight", pre);
    add_t(l, unused, 0, 1, cout, 0, 0, 0, "%s.conv2.bias", pre);
    if (cin != cout) {
        add_t(l, unused, 0, 4, cout, cin, 1, 1, "%s.nin_shortcut.weight", pre);
        add_t(l, unused, 0, 1, cout, 0, 0, 0, "%s.nin_shortcut.bias", pre);
    }
}

static void add_attnblock(cv_list *l, int unused, const char *pre, int64_t ch) {
    add_t(l, unused, 0, 1, ch, 0, 0, 0, "%s.norm.weight", pre);
    add_t(l, unused, 0, 1, ch, 0, 0, 0, "%s.norm.bias", pre);
    static const char *const P[4] = {"q", "k", "v", "proj_out"};
    for (int i = 0; i < 4; i++) {
        add_t(l, unused, 0, 4, ch, ch, 1, 1, "%s.%s.weight", pre, P[i]);
        add_t(l, unused, 0, 1, ch, 0, 0, 0, "%s.%s.bias", pre, P[i]);
    }
}

static void build_expected(const cv_cfg *h, cv_list *l) {
    /* language model */
    const int64_t H = h->n_embd, I = h->n_ff, V = h->n_vocab, KV = (int64_t)h->n_kv_head * (H / h->n_head);
    W2(0, 0, V, H, "language_model.model.embed_tokens.weight");
    for (uint32_t i = 0; i < h->n_layer; i++) {
        W2(0, 1, H, H, "language_model.model.layers.%u.self_attn.q_proj.weight", i);
        W2(0, 1, KV, H, "language_model.model.layers.%u.self_attn.k_proj.weight", i);
        W2(0, 1, KV, H, "language_model.model.layers.%u.self_attn.v_proj.weight", i);
        W2(0, 1, H, H, "language_model.model.layers.%u.self_attn.o_proj.weight", i);
        W2(0, 1, I, H, "language_model.model.layers.%u.mlp.gate_proj.weight", i);
        W2(0, 1, I, H, "language_model.model.layers.%u.mlp.up_proj.weight", i);
        W2(0, 1, H, I, "language_model.model.layers.%u.mlp.down_proj.weight", i);
        W1(0, 0, H, "language_model.model.layers.%u.input_layernorm.weight", i);
        W1(0, 0, H, "language_model.model.layers.%u.post_attention_layernorm.weight", i);
    }
    W1(0, 0, H, "language_model.model.norm.weight");
    W2(0, 1, V, H, "language_model.lm_head.weight");
    /* SigLIP */
    const int64_t W = h->v_width, F = h->v_ff, P = h->v_patch, G = h->v_image / h->v_patch;
    const char *vt = "vision_model.vision_tower";
    add_t(l, 0, 0, 4, W, 3, P, P, "%s.patch_embed.proj.weight", vt);
    W1(0, 0, W, "%s.patch_embed.proj.bias", vt);
    add_t(l, 0, 0, 3, 1, G * G, W, 0, "%s.pos_embed", vt);
    for (uint32_t i = 0; i < h->v_n_layer; i++) {
        W1(0, 0, W, "%s.blocks.%u.norm1.weight", vt, i);
        W1(0, 0, W, "%s.blocks.%u.norm1.bias", vt, i);
        W2(0, 0, 3 * W, W, "%s.blocks.%u.attn.qkv.weight", vt, i);
        W1(0, 0, 3 * W, "%s.blocks.%u.attn.qkv.bias", vt, i);
        W2(0, 0, W, W, "%s.blocks.%u.attn.proj.weight", vt, i);
        W1(0, 0, W, "%s.blocks.%u.attn.proj.bias", vt, i);
        W1(0, 0, W, "%s.blocks.%u.norm2.weight", vt, i);
        W1(0, 0, W, "%s.blocks.%u.norm2.bias", vt, i);
        W2(0, 0, F, W, "%s.blocks.%u.mlp.fc1.weight", vt, i);
        W1(0, 0, F, "%s.blocks.%u.mlp.fc1.bias", vt, i);
        W2(0, 0, W, F, "%s.blocks.%u.mlp.fc2.weight", vt, i);
        W1(0, 0, W, "%s.blocks.%u.mlp.fc2.bias", vt, i);
    }
    W1(0, 0, W, "%s.norm.weight", vt);
    W1(0, 0, W, "%s.norm.bias", vt);
    /* attention-pool head: built by timm, never called by Janus */
    add_t(l, 1, 0, 3, 1, 1, W, 0, "%s.attn_pool.latent", vt);
    W2(1, 0, W, W, "%s.attn_pool.q.weight", vt);
    W1(1, 0, W, "%s.attn_pool.q.bias", vt);
    W2(1, 0, 2 * W, W, "%s.attn_pool.kv.weight", vt);
    W1(1, 0, 2 * W, "%s.attn_pool.kv.bias", vt);
    W2(1, 0, W, W, "%s.attn_pool.proj.weight", vt);
    W1(1, 0, W, "%s.attn_pool.proj.bias", vt);
    W1(1, 0, W, "%s.attn_pool.norm.weight", vt);
    W1(1, 0, W, "%s.attn_pool.norm.bias", vt);
    W2(1, 0, F, W, "%s.attn_pool.mlp.fc1.weight", vt);
    W1(1, 0, F, "%s.attn_pool.mlp.fc1.bias", vt);
    W2(1, 0, W, F, "%s.attn_pool.mlp.fc2.weight", vt);
    W1(1, 0, W, "%s.attn_pool.mlp.fc2.bias", vt);
    /* projectors: Linear(in, E), then (GELU, Linear(E, E)) x (depth - 1) at indices 0, 2, 4, ... */
    for (int k = 0; k < 2; k++) {
        const char *pre = k ? "gen_aligner" : "aligner";
        int64_t in = k ? h->gal_in : h->al_in, E = k ? h->gal_embd : h->al_embd;
        uint32_t depth = k ? h->gal_depth : h->al_depth;
        for (uint32_t j = 0; j < depth; j++) {
            W2(0, 0, E, j ? E : in, "%s.layers.%u.weight", pre, 2 * j);
            W1(0, 0, E, "%s.layers.%u.bias", pre, 2 * j);
        }
    }
    /* generation head + feedback embedding */
    W2(0, 1, h->gh_tok_embed, h->gh_embd, "gen_head.output_mlp_projector.weight");
    W1(0, 0, h->gh_tok_embed, "gen_head.output_mlp_projector.bias");
    W2(0, 1, h->gh_tok_size, h->gh_tok_embed, "gen_head.vision_head.weight");
    W1(0, 0, h->gh_tok_size, "gen_head.vision_head.bias");
    W2(0, 0, h->vq_cb_size, h->vq_cb_dim, "gen_embed.weight");
    /* VQ-16 (LlamaGen VQModel) */
    const int64_t ch = h->vq_ch, z = h->vq_z;
    const int nl = (int)h->vq_n_mult;
    char pre[128];
    /* encoder (unused: Janus never encodes images to tokens) */
    add_t(l, 1, 0, 4, ch, 3, 3, 3, "gen_vision_model.encoder.conv_in.weight");
    W1(1, 0, ch, "gen_vision_model.encoder.conv_in.bias");
    int64_t bin = ch;
    for (int i = 0; i < nl; i++) {
        bin = ch * (i ? h->vq_mult[i - 1] : 1);
        int64_t bout = ch * h->vq_mult[i];
        for (uint32_t j = 0; j < h->vq_nres; j++) {
            snprintf(pre, sizeof pre, "gen_vision_model.encoder.conv_blocks.%d.res.%u", i, j);
            add_resblock(l, 1, pre, bin, bout);
            bin = bout;
        }
        if (i == nl - 1)
            for (uint32_t j = 0; j < h->vq_nres; j++) {
                snprintf(pre, sizeof pre, "gen_vision_model.encoder.conv_blocks.%d.attn.%u", i, j);
                add_attnblock(l, 1, pre, bin);
            }
        if (i != nl - 1) {
            add_t(l, 1, 0, 4, bin, bin, 3, 3, "gen_vision_model.encoder.conv_blocks.%d.downsample.conv.weight", i);
            W1(1, 0, bin, "gen_vision_model.encoder.conv_blocks.%d.downsample.conv.bias", i);
        }
    }
    add_resblock(l, 1, "gen_vision_model.encoder.mid.0", bin, bin);
    add_attnblock(l, 1, "gen_vision_model.encoder.mid.1", bin);
    add_resblock(l, 1, "gen_vision_model.encoder.mid.2", bin, bin);
    W1(1, 0, bin, "gen_vision_model.encoder.norm_out.weight");
    W1(1, 0, bin, "gen_vision_model.encoder.norm_out.bias");
    add_t(l, 1, 0, 4, z, bin, 3, 3, "gen_vision_model.encoder.conv_out.weight");
    W1(1, 0, z, "gen_vision_model.encoder.conv_out.bias");
    add_t(l, 1, 0, 4, h->vq_cb_dim, z, 1, 1, "gen_vision_model.quant_conv.weight");
    W1(1, 0, h->vq_cb_dim, "gen_vision_model.quant_conv.bias");
    W2(0, 0, h->vq_cb_size, h->vq_cb_dim, "gen_vision_model.quantize.embedding.weight");
    W1(1, 0, 65536, "gen_vision_model.quantize.codebook_used"); /* fixed-size training buffer */
    add_t(l, 0, 0, 4, z, h->vq_cb_dim, 1, 1, "gen_vision_model.post_quant_conv.weight");
    W1(0, 0, z, "gen_vision_model.post_quant_conv.bias");
    /* decoder: num_res_blocks + 1 ResBlocks per level, attention at level 0, upsample except last */
    bin = ch * h->vq_mult[nl - 1];
    add_t(l, 0, 0, 4, bin, z, 3, 3, "gen_vision_model.decoder.conv_in.weight");
    W1(0, 0, bin, "gen_vision_model.decoder.conv_in.bias");
    add_resblock(l, 0, "gen_vision_model.decoder.mid.0", bin, bin);
    add_attnblock(l, 0, "gen_vision_model.decoder.mid.1", bin);
    add_resblock(l, 0, "gen_vision_model.decoder.mid.2", bin, bin);
    for (int i = 0; i < nl; i++) {
        int64_t bout = ch * h->vq_mult[nl - 1 - i];
        for (uint32_t j = 0; j < h->vq_nres + 1; j++) {
            snprintf(pre, sizeof pre, "gen_vision_model.decoder.conv_blocks.%d.res.%u", i, j);
            add_resblock(l, 0, pre, bin, bout);
            bin = bout;
        }
        if (i == 0)
            for (uint32_t j = 0; j < h->vq_nres + 1; j++) {
                snprintf(pre, sizeof pre, "gen_vision_model.decoder.conv_blocks.%d.attn.%u", i, j);
                add_attnblock(l, 0, pre, bin);
            }
        if (i != nl - 1) {
            add_t(l, 0, 0, 4, bin, bin, 3, 3, "gen_vision_model.decoder.conv_blocks.%d.upsample.conv.weight", i);
            W1(0, 0, bin, "gen_vision_model.decoder.conv_blocks.%d.upsample.conv.bias", i);
        }
    }
    W1(0, 0, bin, "gen_vision_model.decoder.norm_out.weight");
    W1(0, 0, bin, "gen_vision_model.decoder.norm_out.bias");
    add_t(l, 0, 0, 4, 3, bin, 3, 3, "gen_vision_model.decoder.conv_out.weight");
    W1(0, 0, 3, "gen_vision_model.decoder.conv_out.bias");
}

/* Official name -> GGUF name (prefix shortening). Returns 0 if it does not fit 63 bytes. */
static int gguf_name(const char *name, char *out, size_t n) {
    static const struct {
        const char *from, *to;
    } MAP[] = {
        {"language_model.model.", "lm."},
        {"language_model.lm_head.", "lm_head."},
        {"vision_model.vision_tower.", "v."},
        {"gen_vision_model.", "vq."},
    };
    for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++) {
        size_t fl = strlen(MAP[i].from);
        if (!strncmp(name, MAP[i].from, fl)) {
            int r = snprintf(out, n, "%s%s", MAP[i].to, name + fl);
            return r >= 0 && (size_t)r < n;
        }
    }
    int r = snprintf(out, n, "%s", name);
    return r >= 0 && (size_t)r < n;
}

static void shape_str(char *buf, size_t n, int nd, const int64_t *s) {
    size_t p = 0;
    p += (size_t)snprintf(buf + p, n - p, "[");
    for (int i = 0; i < nd && p < n; i++) p += (size_t)snprintf(buf + p, n - p, "%s%lld", i ? ", " : "", (long long)s[i]);
    if (p < n) snprintf(buf + p, n - p, "]");
}

/* ------------------------------------------------------------------ tokenizer */

typedef struct cv_vocab {
    const char **tok;
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
    free(v->tok);
    free(v->len);
    free(v->type);
    free(v->pads);
    free(v->merges);
    free(v->merge_len);
    free(v->merge_store);
    memset(v, 0, sizeof *v);
}

static jn_status build_vocab(const jn_json *tj, cv_vocab *v, jn_error *err) {
    const char *F = "tokenizer.json";
    const jn_json *model = jn_json_get(tj, "model");
    if (!model || model->type != JN_JSON_OBJECT) return jn_fail(err, JN_ERR_FORMAT, "%s: missing object \"model\"", F);
    const char *mt = jn_json_get_str(model, "type");
    if (!mt || strcmp(mt, "BPE")) return jn_fail(err, JN_ERR_FORMAT, "%s: model.type is '%s'; expected BPE", F, mt ? mt : "(missing)");
    const jn_json *vocab = jn_json_get(model, "vocab"), *merges = jn_json_get(model, "merges");
    const jn_json *added = jn_json_get(tj, "added_tokens");
    if (!vocab || vocab->type != JN_JSON_OBJECT) return jn_fail(err, JN_ERR_FORMAT, "%s: missing object model.vocab", F);
    if (!merges || merges->type != JN_JSON_ARRAY) return jn_fail(err, JN_ERR_FORMAT, "%s: missing list model.merges", F);
    if (added && added->type != JN_JSON_ARRAY) return jn_fail(err, JN_ERR_FORMAT, "%s: added_tokens is not a list", F);
    const int64_t MAXID = (int64_t)1 << 24;
    int64_t max_id = -1;
    for (size_t i = 0; i < vocab->n; i++) {
        const jn_json *x = vocab->items[i];
        if (x->type != JN_JSON_NUMBER || !x->is_integer || x->integer < 0 || x->integer >= MAXID)
            return jn_fail(err, JN_ERR_FORMAT, "%s: model.vocab[\"%s\"] is not a token id", F, vocab->keys[i]);
        if (x->integer > max_id) max_id = x->integer;
    }
    size_t n_added = added ? added->n : 0;
    for (size_t i = 0; i < n_added; i++) {
        int64_t id;
        const jn_json *a = added->items[i];
        if (!jn_json_get_int(a, "id", &id) || id < 0 || id >= MAXID || !jn_json_get_str(a, "content"))
            return jn_fail(err, JN_ERR_FORMAT, "%s: added_tokens[%zu] needs an integer \"id\" and a string \"content\"", F, i);
        if (id > max_id) max_id = id;
    }
    if (max_id < 0) return jn_fail(err, JN_ERR_FORMAT, "%s: empty vocabulary", F);
    int64_t n = max_id + 1;
    v->n = n;
    v->tok = calloc((size_t)n, sizeof *v->tok);
    v->len = calloc((size_t)n, sizeof *v->len);
    v->type = calloc((size_t)n, sizeof *v->type);
    v->pads = malloc((size_t)n * 20);
    if (!v->tok || !v->len || !v->type || !v->pads) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < vocab->n; i++) {
        int64_t id = vocab->items[i]->integer;
        if (v->tok[id])
            return jn_fail(err, JN_ERR_FORMAT, "%s: token id %lld is used by two vocabulary entries", F, (long long)id);
        v->tok[id] = vocab->keys[i];
        v->len[id] = vocab->key_lens[i];
        v->type[id] = 1; /* normal */
    }
    for (size_t i = 0; i < n_added; i++) {
        const jn_json *a = added->items[i], *c = jn_json_get(a, "content");
        int64_t id;
        jn_json_get_int(a, "id", &id);
        int special = 0;
        jn_json_get_bool(a, "special", &special);
        if (v->type[id] >= 3)
            return jn_fail(err, JN_ERR_FORMAT, "%s: token id %lld appears twice in added_tokens", F, (long long)id);
        v->tok[id] = c->str; /* an added token overrides a vocabulary entry with the same id */
        v->len[id] = c->len;
        v->type[id] = special ? 3 : 4; /* control / user-defined */
    }
    for (int64_t id = 0; id < n; id++)
        if (!v->tok[id]) {
            char *p = v->pads + id * 20;
            v->len[id] = (size_t)snprintf(p, 20, "[PAD%lld]", (long long)id);
            v->tok[id] = p;
            v->type[id] = 5; /* unused */
        }
    /* merges: "a b" strings or ["a", "b"] pairs */
    v->n_merges = (int64_t)merges->n;
    v->merges = calloc(merges->n + 1, sizeof *v->merges);
    v->merge_len = calloc(merges->n + 1, sizeof *v->merge_len);
    if (!v->merges || !v->merge_len) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    size_t pair_bytes = 0;
    for (size_t i = 0; i < merges->n; i++) {
        const jn_json *m = merges->items[i];
        if (m->type == JN_JSON_ARRAY && m->n == 2 && m->items[0]->type == JN_JSON_STRING && m->items[1]->type == JN_JSON_STRING)
            pair_bytes += m->items[0]->len + m->items[1]->len + 2;
    }
    v->merge_store = malloc(pair_bytes + 1);
    if (!v->merge_store) return jn_fail(err, JN_ERR_NOMEM, "out of memory");
    size_t sp = 0;
    for (size_t i = 0; i < merges->n; i++) {
        const jn_json *m = merges->items[i];
        if (m->type == JN_JSON_STRING) {
            const char *s = memchr(m->str, ' ', m->len);
            if (!s || s == m->str || s == m->str + m->len - 1 || memchr(s + 1, ' ', m->len - (size_t)(s + 1 - m->str)))
                return jn_fail(err, JN_ERR_FORMAT, "%s: model.merges[%zu] is not of the form \"a b\"", F, i);
            v->merges[i] = m->str;
            v->merge_len[i] = m->len;
        } else if (m->type == JN_JSON_ARRAY && m->n == 2 && m->items[0]->type == JN_JSON_STRING &&
                   m->items[1]->type == JN_JSON_STRING) {
            const jn_json *a = m->items[0], *b = m->items[1];
            if (!a->len || !b->len || memchr(a->str, ' ', a->len) || memchr(b->str, ' ', b->len))
                return jn_fail(err, JN_ERR_FORMAT, "%s: model.merges[%zu] has an empty part or a space; cannot store it as \"a b\"", F, i);
            char *d = v->merge_store + sp;
            memcpy(d, a->str, a->len);
            d[a->len] = ' ';
            memcpy(d + a->len + 1, b->str, b->len);
            v->merges[i] = d;
            v->merge_len[i] = a->len + 1 + b->len;
            sp += a->len + b->len + 2;
        } else {
            return jn_fail(err, JN_ERR_FORMAT, "%s: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", F, i);
        }
    }
    return JN_OK;
}

/* Id of a token string (added tokens take precedence), -1 if absent. */
static int64_t vocab_find(const cv_vocab *v, const char *s) {
    size_t n = strlen(s);
    for (int pass = 0; pass < 2; pass++)
        for (int64_t id = 0; id < v->n; id++) {
            if ((pass == 0) != (v->type[id] == 3 || v->type[id] == 4)) continue;
            if (v->len[id] == n && !memcmp(v->tok[id], s, n)) return id;
        }
    return -1;
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
    FILE *f = fopen(p, "rb");
    if (!f) {
        jn_fail(err, JN_ERR_IO, "%s: cannot open (%s is part of an official Janus-Pro download)", p, name);
        free(p);
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (cap - n < 65536) {
            if (cap > ((size_t)256 << 20)) {
                jn_fail(err, JN_ERR_FORMAT, "%s: larger than 256 MiB", p);
                break;
            }
            size_t nc = cap ? cap * 2 : 65536 * 2;
            char *nb = realloc(buf, nc + 1);
            if (!nb) {
                jn_fail(err, JN_ERR_NOMEM, "out of memory");
                break;
            }
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) jn_fail(err, JN_ERR_IO, "%s: read error", p);
            else {
                fclose(f);
                free(p);
                buf[n] = 0;
                *len = n;
                return buf;
            }
            break;
        }
    }
    fclose(f);
    free(p);
    free(buf);
    return NULL;
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
    if (t->n_dims <= 1) return JN_F32;
    if (want == JN_Q8_0 || want == JN_Q4_0) {
        if (t->quant && t->shape[t->n_dims - 1] % 32 == 0) return want;
        return JN_BF16;
    }
    return want;
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

/* Streams one tensor: slices of whole rows, read -> convert -> write. */
static jn_status convert_tensor(jn_ckpt *ck, const cv_tensor *t, jn_gguf_writer *w, float *fbuf, void *obuf,
                                int64_t chunk_elems, jn_error *err) {
    const jn_ckpt_tensor *s = t->src;
    int64_t row = t->n_dims ? t->shape[t->n_dims - 1] : 1;
    if (row <= 0) row = 1;
    int64_t rows_per = chunk_elems / row;
    if (rows_per < 1) rows_per = 1;
    int64_t step = rows_per * row;
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
                                       fname, t->name, (double)fbuf[i], (long long)(first + i));
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
    if (stat(p->model_dir, &st_dir) != 0 || !S_ISDIR(st_dir.st_mode))
        return jn_fail(err, JN_ERR_IO, "%s: not a directory (expected an official Janus-Pro download)", p->model_dir);

    jn_status st = JN_OK;
    static const char *const FILES[6] = {"config.json",           "preprocessor_config.json", "processor_config.json",
                                         "special_tokens_map.json", "tokenizer_config.json",  "tokenizer.json"};
    char *text[6] = {0};
    size_t tlen[6] = {0};
    jn_json *js[6] = {0};
    cv_cfg h;
    memset(&h, 0, sizeof h);
    cv_list l = {0};
    cv_vocab voc;
    memset(&voc, 0, sizeof voc);
    jn_ckpt *ck = NULL;
    jn_gguf_writer *w = NULL;
    float *fbuf = NULL;
    void *obuf = NULL;

    for (int i = 0; i < 6 && st == JN_OK; i++) {
        text[i] = read_text(p->model_dir, FILES[i], &tlen[i], err);
        if (!text[i]) st = err->code;
        else if (!(js[i] = parse_text(FILES[i], text[i], tlen[i], err))) st = err->code;
    }
    if (st == JN_OK) st = parse_config(js[0], &h, err);
    if (st == JN_OK) st = parse_preprocessor(js[1], js[2], &h, err);
    if (st == JN_OK) st = build_vocab(js[5], &voc, err);
    if (st) goto done;
    if (voc.n > (int64_t)h.n_vocab) {
        st = jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: token id %lld exceeds config.json language_config.vocab_size %u",
                     (long long)voc.n - 1, h.n_vocab);
        goto done;
    }
    /* special tokens by string */
    const char *image_tag = jn_json_get_str(js[2], "image_tag");
    if (!image_tag) {
        st = jn_fail(err, JN_ERR_FORMAT, "processor_config.json: missing string field image_tag");
        goto done;
    }
    const char *bos_s = token_str(jn_json_get(js[4], "bos_token"));
    if (!bos_s) bos_s = token_str(jn_json_get(js[3], "bos_token"));
    const char *eos_s = token_str(jn_json_get(js[4], "eos_token"));
    if (!eos_s) eos_s = token_str(jn_json_get(js[3], "eos_token"));
    const char *pad_s = token_str(jn_json_get(js[3], "pad_token"));
    if (!pad_s) pad_s = token_str(jn_json_get(js[4], "pad_token"));
    if (!bos_s || !eos_s || !pad_s) {
        st = jn_fail(err, JN_ERR_FORMAT, "tokenizer_config.json / special_tokens_map.json: missing %s",
                     !bos_s ? "bos_token" : !eos_s ? "eos_token" : "pad_token");
        goto done;
    }
    struct {
        const char *key, *str;
        int64_t id;
    } SPEC[6] = {
        {"bos", bos_s, -1},         {"eos", eos_s, -1},         {"pad", pad_s, -1},
        {"image_placeholder", image_tag, -1}, {"image_start", "<begin_of_image>", -1}, {"image_end", "<end_of_image>", -1},
    };
    for (int i = 0; i < 6; i++) {
        SPEC[i].id = vocab_find(&voc, SPEC[i].str);
        if (SPEC[i].id < 0) {
            st = jn_fail(err, JN_ERR_FORMAT, "tokenizer.json: %s token '%s' is not in the vocabulary or added_tokens", SPEC[i].key,
                         SPEC[i].str);
            goto done;
        }
    }
    int add_bos = 1, add_eos = 0;
    jn_json_get_bool(js[4], "add_bos_token", &add_bos);
    jn_json_get_bool(js[4], "add_eos_token", &add_eos);

    /* checkpoint vs expected tensors */
    ck = jn_ckpt_open_dir(p->model_dir, err);
    if (!ck) {
        st = err->code;
        goto done;
    }
    build_expected(&h, &l);
    if (l.oom) {
        st = jn_fail(err, JN_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < l.n; i++) {
        cv_tensor *t = &l.t[i];
        if (!gguf_name(t->name, t->gname, sizeof t->gname)) {
            st = jn_fail(err, JN_ERR_FORMAT, "tensor %s: GGUF name longer than 63 bytes", t->name);
            goto done;
        }
        t->src = jn_ckpt_find(ck, t->name);
        if (t->src) {
            int ok = t->src->n_dims == t->n_dims;
            for (int d = 0; ok && d < t->n_dims; d++) ok = t->src->shape[d] == t->shape[d];
            if (!ok) {
                char got[96], exp[96];
                shape_str(got, sizeof got, t->src->n_dims, t->src->shape);
                shape_str(exp, sizeof exp, t->n_dims, t->shape);
                st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: got %s, expected %s", jn_ckpt_file_name(ck, t->src), t->name,
                             got, exp);
                goto done;
            }
        } else if (!t->unused || p->keep_unused) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s is missing (expected shape from config.json)",
                         jn_ckpt_format(ck), t->name);
            goto done;
        }
        t->out = out_dtype(t, want);
    }
    /* every checkpoint tensor must be known */
    for (int64_t i = 0; i < jn_ckpt_count(ck); i++) {
        const jn_ckpt_tensor *s = jn_ckpt_at(ck, i);
        int found = 0;
        for (size_t k = 0; k < l.n && !found; k++) found = l.t[k].src == s;
        if (!found) {
            st = jn_fail(err, JN_ERR_FORMAT,
                         "%s: unknown tensor %s (not part of Janus-Pro as configured by config.json)",
                         jn_ckpt_file_name(ck, s), s->name);
            goto done;
        }
    }

    /* metadata */
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
    jn_gguf_writer_set_u32(w, "janus.lm.n_embd", h.n_embd);
    jn_gguf_writer_set_u32(w, "janus.lm.n_layer", h.n_layer);
    jn_gguf_writer_set_u32(w, "janus.lm.n_head", h.n_head);
    jn_gguf_writer_set_u32(w, "janus.lm.n_kv_head", h.n_kv_head);
    jn_gguf_writer_set_u32(w, "janus.lm.n_ff", h.n_ff);
    jn_gguf_writer_set_u32(w, "janus.lm.n_vocab", h.n_vocab);
    jn_gguf_writer_set_u32(w, "janus.lm.max_ctx", h.max_ctx);
    jn_gguf_writer_set_f32(w, "janus.lm.rms_eps", h.rms_eps);
    jn_gguf_writer_set_f32(w, "janus.lm.rope_theta", h.rope_theta);
    jn_gguf_writer_set_str(w, "janus.vision.model_name", h.v_model_name, strlen(h.v_model_name));
    jn_gguf_writer_set_u32(w, "janus.vision.image_size", h.v_image);
    jn_gguf_writer_set_u32(w, "janus.vision.patch_size", h.v_patch);
    jn_gguf_writer_set_u32(w, "janus.vision.width", h.v_width);
    jn_gguf_writer_set_u32(w, "janus.vision.n_layer", h.v_n_layer);
    jn_gguf_writer_set_u32(w, "janus.vision.n_head", h.v_heads);
    jn_gguf_writer_set_u32(w, "janus.vision.n_ff", h.v_ff);
    jn_gguf_writer_set_f32(w, "janus.vision.ln_eps", 1e-6f);
    jn_gguf_writer_set_u32(w, "janus.aligner.input_dim", h.al_in);
    jn_gguf_writer_set_u32(w, "janus.aligner.n_embd", h.al_embd);
    jn_gguf_writer_set_u32(w, "janus.aligner.depth", h.al_depth);
    jn_gguf_writer_set_u32(w, "janus.gen_aligner.input_dim", h.gal_in);
    jn_gguf_writer_set_u32(w, "janus.gen_aligner.n_embd", h.gal_embd);
    jn_gguf_writer_set_u32(w, "janus.gen_aligner.depth", h.gal_depth);
    jn_gguf_writer_set_u32(w, "janus.gen_head.n_embd", h.gh_embd);
    jn_gguf_writer_set_u32(w, "janus.gen_head.image_token_embed", h.gh_tok_embed);
    jn_gguf_writer_set_u32(w, "janus.gen_head.image_token_size", h.gh_tok_size);
    jn_gguf_writer_set_u32(w, "janus.vq.codebook_size", h.vq_cb_size);
    jn_gguf_writer_set_u32(w, "janus.vq.codebook_dim", h.vq_cb_dim);
    jn_gguf_writer_set_u32(w, "janus.vq.z_channels", h.vq_z);
    jn_gguf_writer_set_u32(w, "janus.vq.ch", h.vq_ch);
    jn_gguf_writer_set_u32(w, "janus.vq.num_res_blocks", h.vq_nres);
    jn_gguf_writer_set_u32(w, "janus.vq.n_groups", 32);
    jn_gguf_writer_set_arr(w, "janus.vq.ch_mult", JN_GGUF_UINT32, h.vq_mult, h.vq_n_mult);
    jn_gguf_writer_set_f32(w, "janus.vq.norm_eps", 1e-6f);
    jn_gguf_writer_set_bool(w, "janus.vq.codebook_l2_norm", 1);
    jn_gguf_writer_set_u32(w, "janus.image.size", h.img_size);
    jn_gguf_writer_set_u32(w, "janus.image.min_size", h.img_min);
    jn_gguf_writer_set_u32(w, "janus.image.num_image_tokens", h.img_ntok);
    jn_gguf_writer_set_arr(w, "janus.image.background_color", JN_GGUF_UINT32, h.bg, 3);
    jn_gguf_writer_set_arr(w, "janus.image.mean", JN_GGUF_FLOAT32, h.mean, 3);
    jn_gguf_writer_set_arr(w, "janus.image.std", JN_GGUF_FLOAT32, h.std, 3);
    jn_gguf_writer_set_f64(w, "janus.image.rescale_factor", h.rescale);
    jn_gguf_writer_set_bool(w, "janus.image.do_normalize", h.do_norm);
    static const char SYS[] = "You are a helpful language and vision assistant. You are able to understand the visual "
                              "content that the user provides, and assist the user with a variety of tasks using natural language.";
    jn_gguf_writer_set_str(w, "janus.prompt.system", SYS, sizeof SYS - 1);
    jn_gguf_writer_set_str(w, "janus.prompt.sep", "\n\n", 2);
    jn_gguf_writer_set_str(w, "janus.prompt.sep2", eos_s, strlen(eos_s));
    jn_gguf_writer_set_str(w, "janus.prompt.user_role", "<|User|>", 8);
    jn_gguf_writer_set_str(w, "janus.prompt.assistant_role", "<|Assistant|>", 13);
    jn_gguf_writer_set_str(w, "janus.prompt.image_tag", image_tag, strlen(image_tag));
    jn_gguf_writer_set_str(w, "janus.prompt.image_start_tag", "<begin_of_image>", 16);
    jn_gguf_writer_set_str(w, "janus.prompt.image_end_tag", "<end_of_image>", 14);
    jn_gguf_writer_set_str(w, "janus.prompt.pad_tag", pad_s, strlen(pad_s));
    jn_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2", 4);
    jn_gguf_writer_set_str(w, "tokenizer.ggml.pre", "deepseek-llm", 12);
    jn_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", voc.tok, voc.len, (uint64_t)voc.n);
    jn_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", JN_GGUF_INT32, voc.type, (uint64_t)voc.n);
    jn_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", voc.merges, voc.merge_len, (uint64_t)voc.n_merges);
    jn_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)SPEC[0].id);
    jn_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)SPEC[1].id);
    jn_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)SPEC[2].id);
    jn_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", add_bos);
    jn_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", add_eos);
    jn_gguf_writer_set_str(w, "tokenizer.huggingface.json", text[5], tlen[5]);
    jn_gguf_writer_set_str(w, "janus.tokenizer.config_json", text[4], tlen[4]);
    for (int i = 0; i < 6; i++) {
        char key[64];
        snprintf(key, sizeof key, "janus.token.%s", SPEC[i].key);
        jn_gguf_writer_set_u32(w, key, (uint32_t)SPEC[i].id);
    }
    /* the JSON texts are copied by the writer; free them early */
    long total = 0;
    for (size_t i = 0; i < l.n; i++) {
        cv_tensor *t = &l.t[i];
        if (!t->src || (t->unused && !p->keep_unused)) continue;
        jn_gguf_writer_add_tensor(w, t->gname, t->out, t->n_dims, t->shape);
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
    for (size_t i = 0; i < l.n; i++) {
        cv_tensor *t = &l.t[i];
        if (!t->src || (t->unused && !p->keep_unused)) continue;
        int64_t chunk = CV_CHUNK_ELEMS;
        int64_t row = t->n_dims ? t->shape[t->n_dims - 1] : 1;
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
    free(l.t);
    for (int i = 0; i < 6; i++) {
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
