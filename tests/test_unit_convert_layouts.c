// janus-test-libs: janus_static
/* tests/test_unit_convert_layouts.c — `janus convert` reads the Hugging Face transformers layout of
 * Janus-Pro (deepseek-community/Janus-Pro-*: JanusForConditionalGeneration) and gives the same GGUF
 * tensors as the official layout; and a model path that is not a GGUF gets a message naming what it
 * is and the convert command.
 *
 * The transformers fixture is made here from tiny-a the way transformers' own
 * convert_janus_weights_to_hf.py renames a checkpoint: its ordered renaming rules are restated
 * below, from the official names (the converter maps from our GGUF names instead: two independent
 * routes that must meet), SigLIP's fused qkv split into q_proj/k_proj/v_proj (sub-ranges of the same
 * safetensors data), pos_embed squeezed to [N, W], the attention-pool head and codebook_used dropped;
 * config.json rewritten as JanusConfig (text_config, vision_config, vq_config) and the image
 * processor config as JanusImageProcessor saves it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/janus.h"
#include "engine/io/gguf.h"
#include "engine/io/json.h"
#include "testutil.h"

static char *slurp(const char *path, size_t *len) {
    char *b = tu_read_file(path, len);
    if (!b) {
        fprintf(stderr, "FAIL cannot read %s\n", path);
        exit(1);
    }
    return b;
}

static void put(const char *dir, const char *name, const void *data, size_t len) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "FAIL cannot write %s\n", p);
        exit(1);
    }
}

static void copy_file(const char *from_dir, const char *to_dir, const char *name) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", from_dir, name);
    size_t n;
    char *b = slurp(p, &n);
    put(to_dir, name, b, n);
    free(b);
}

/* Replaces the first occurrence of from (when present) in s[cap]. */
static int rep(char *s, size_t cap, const char *from, const char *to) {
    char *p = strstr(s, from);
    if (!p) return 0;
    size_t fl = strlen(from), tl = strlen(to), rest = strlen(p + fl);
    if ((size_t)(p - s) + tl + rest + 1 > cap) return 0;
    memmove(p + tl, p + fl, rest + 1);
    memcpy(p, to, tl);
    return 1;
}

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

/* transformers' MAPPINGS, in its order, applied to one official name. Returns 0 for a dropped tensor. */
static int hf_name(const char *official, char *s, size_t cap) {
    snprintf(s, cap, "%s", official);
    if (starts(s, "vision_model.vision_tower.attn_pool.") || !strcmp(s, "gen_vision_model.quantize.codebook_used"))
        return 0;
    if (starts(s, "vision_model.")) {
        if (starts(s, "vision_model.vision_tower.blocks.")) {
            rep(s, cap, "vision_model.vision_tower.blocks.", "model.vision_model.encoder.layers.");
            rep(s, cap, ".attn.", ".self_attn.");
        }
        rep(s, cap, "vision_model.vision_tower.pos_embed", "model.vision_model.embeddings.position_embedding.weight");
        rep(s, cap, "vision_model.vision_tower.patch_embed.proj", "model.vision_model.embeddings.patch_embedding");
        rep(s, cap, "vision_model.vision_tower.norm", "model.vision_model.post_layernorm");
        rep(s, cap, ".proj.", ".projection_layer.");
        rep(s, cap, ".norm1.", ".layer_norm1.");
        rep(s, cap, ".norm2.", ".layer_norm2.");
    }
    if (rep(s, cap, "gen_vision_model", "model.vqmodel")) {
        rep(s, cap, ".decoder.conv_blocks.", ".decoder.up.");
        rep(s, cap, ".encoder.conv_blocks.", ".encoder.down.");
        rep(s, cap, ".res.", ".block.");
        rep(s, cap, ".mid.0.", ".mid.block_1.");
        rep(s, cap, ".mid.1.", ".mid.attn_1.");
        rep(s, cap, ".mid.2.", ".mid.block_2.");
    }
    if (!rep(s, cap, "gen_aligner.layers.0", "model.generation_aligner.fc1"))
        rep(s, cap, "gen_aligner.layers.2", "model.generation_aligner.hidden_layers.0");
    if (starts(s, "aligner.") && !rep(s, cap, "aligner.layers.0", "model.aligner.fc1"))
        rep(s, cap, "aligner.layers.2", "model.aligner.hidden_layers.0");
    rep(s, cap, "gen_head.output_mlp_projector", "model.generation_head.proj_out");
    if (starts(s, "gen_embed")) rep(s, cap, "gen_embed", "model.generation_embeddings");
    if (starts(s, "gen_head")) rep(s, cap, "gen_head", "model.generation_head");
    if (starts(s, "language_model.model")) rep(s, cap, "language_model.model", "model.language_model");
    if (!strcmp(s, "language_model.lm_head.weight")) snprintf(s, cap, "lm_head.weight");
    return 1;
}

typedef struct st_entry {
    char name[256], dtype[8];
    int nd;
    int64_t shape[4];
    uint64_t s0, s1; /* in the source data section */
} st_entry;

/* One safetensors file holding entries e[0..n) (shard k of n_shards when n_shards > 1: entry i goes
 * to shard i * n_shards / n), data copied from the source data section. */
static void write_st(const char *dir, const char *file, const st_entry *e, size_t n, const uint8_t *data) {
    jn_buf b = {0};
    jn_buf_puts(&b, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        jn_buf_puts(&b, ",");
        jn_json_write_string(&b, e[i].name, strlen(e[i].name));
        jn_buf_printf(&b, ":{\"dtype\":\"%s\",\"shape\":[", e[i].dtype);
        for (int d = 0; d < e[i].nd; d++) jn_buf_printf(&b, "%s%lld", d ? "," : "", (long long)e[i].shape[d]);
        uint64_t sz = e[i].s1 - e[i].s0;
        jn_buf_printf(&b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + sz));
        off += sz;
    }
    jn_buf_puts(&b, "}");
    while (b.len % 8) jn_buf_puts(&b, " ");
    size_t nl = 8 + b.len + off;
    uint8_t *nf = malloc(nl);
    for (int i = 0; i < 8; i++) nf[i] = (uint8_t)((uint64_t)b.len >> (8 * i));
    memcpy(nf + 8, b.data, b.len);
    uint8_t *p = nf + 8 + b.len;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, data + e[i].s0, e[i].s1 - e[i].s0);
        p += e[i].s1 - e[i].s0;
    }
    put(dir, file, nf, nl);
    free(nf);
    jn_buf_free(&b);
}

/* tiny-a-safetensors/model.safetensors renamed to the transformers layout: one model.safetensors,
 * or (shards = 2) model-0000K-of-00002.safetensors + model.safetensors.index.json as transformers
 * saves big models (Janus-Pro-7B). drop: one tensor left out, or NULL. */
static void write_hf_safetensors(const char *dir, const char *drop, int shards) {
    size_t len;
    uint8_t *f = (uint8_t *)slurp(tu_fixture("janus-tiny-a/models/tiny-a-safetensors/model.safetensors"), &len);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)f[i] << (8 * i);
    jn_error err = {0};
    jn_json *h = jn_json_parse((const char *)f + 8, (size_t)hl, &err);
    if (!h) {
        fprintf(stderr, "FAIL header: %s\n", err.msg);
        exit(1);
    }
    st_entry *e = calloc(3 * h->n + 1, sizeof *e);
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (!strcmp(h->keys[i], "__metadata__")) continue;
        const jn_json *v = h->items[i], *sh = jn_json_get(v, "shape"), *of = jn_json_get(v, "data_offsets");
        st_entry t;
        memset(&t, 0, sizeof t);
        if (!hf_name(h->keys[i], t.name, sizeof t.name)) continue;
        t.nd = (int)sh->n;
        for (int d = 0; d < t.nd; d++) t.shape[d] = sh->items[d]->integer;
        t.s0 = (uint64_t)of->items[0]->integer;
        t.s1 = (uint64_t)of->items[1]->integer;
        snprintf(t.dtype, sizeof t.dtype, "%s", jn_json_get_str(v, "dtype"));
        if (strstr(t.name, "position_embedding")) { /* squeeze(0) */
            t.shape[0] = t.shape[1], t.shape[1] = t.shape[2];
            t.nd = 2;
        }
        if (strstr(t.name, "qkv")) { /* torch.split(dim 0) into three: contiguous thirds */
            static const char *const P[3] = {"q_proj", "k_proj", "v_proj"};
            uint64_t third = (t.s1 - t.s0) / 3, s0 = t.s0;
            t.shape[0] /= 3;
            for (int k = 0; k < 3; k++) {
                st_entry q = t;
                rep(q.name, sizeof q.name, "qkv", P[k]);
                q.s0 = s0 + k * third;
                q.s1 = q.s0 + third;
                if (!drop || strcmp(q.name, drop)) e[n++] = q;
            }
            continue;
        }
        if (!drop || strcmp(t.name, drop)) e[n++] = t;
    }
    const uint8_t *data = f + 8 + hl;
    if (shards <= 1) {
        write_st(dir, "model.safetensors", e, n, data);
    } else {
        jn_buf ix = {0};
        jn_buf_puts(&ix, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
        for (int k = 0; k < shards; k++) {
            size_t a = n * (size_t)k / (size_t)shards, z = n * (size_t)(k + 1) / (size_t)shards;
            char file[64];
            snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", k + 1, shards);
            write_st(dir, file, e + a, z - a, data);
            for (size_t i = a; i < z; i++) {
                if (i) jn_buf_puts(&ix, ", ");
                jn_json_write_string(&ix, e[i].name, strlen(e[i].name));
                jn_buf_printf(&ix, ": \"%s\"", file);
            }
        }
        jn_buf_puts(&ix, "}}\n");
        put(dir, "model.safetensors.index.json", ix.data, ix.len);
        jn_buf_free(&ix);
    }
    free(e);
    jn_json_free(h);
    free(f);
}

/* JanusConfig as transformers saves it for tiny-a (values from tiny-a/config.json). */
static const char HF_CONFIG[] =
    "{\n"
    "  \"architectures\": [\"JanusForConditionalGeneration\"],\n"
    "  \"model_type\": \"janus\",\n"
    "  \"image_token_id\": 1000,\n"
    "  \"text_config\": {\"model_type\": \"llama\", \"hidden_size\": 64, \"intermediate_size\": 172,\n"
    "    \"max_position_embeddings\": 16384, \"num_attention_heads\": 4, \"num_hidden_layers\": 2,\n"
    "    \"num_key_value_heads\": 4, \"vocab_size\": 1024, \"hidden_act\": \"silu\", \"rms_norm_eps\": 1e-06,\n"
    "    \"rope_theta\": 10000.0, \"rope_scaling\": null, \"attention_bias\": false, \"tie_word_embeddings\": false},\n"
    "  \"vision_config\": {\"model_type\": \"janus_vision_model\", \"hidden_size\": 64, \"num_hidden_layers\": 2,\n"
    "    \"num_attention_heads\": 4, \"num_channels\": 3, \"patch_size\": 16, \"image_size\": 384, \"mlp_ratio\": 4.0,\n"
    "    \"layer_norm_eps\": 1e-06, \"hidden_act\": \"gelu\", \"projection_dim\": 64, \"depth\": 2,\n"
    "    \"num_image_tokens\": 576, \"use_qk_norm\": false},\n"
    "  \"vq_config\": {\"model_type\": \"janus_vqgan\", \"embed_dim\": 8, \"num_embeddings\": 512,\n"
    "    \"double_latent\": false, \"latent_channels\": 32, \"base_channels\": 32,\n"
    "    \"channel_multiplier\": [1, 1, 2, 2, 4], \"num_res_blocks\": 2, \"projection_dim\": 64,\n"
    "    \"num_hidden_layers\": 2, \"image_token_embed_dim\": 64, \"num_patches\": 24}\n"
    "}\n";

static const char HF_PREPROCESSOR[] =
    "{\"image_processor_type\": \"JanusImageProcessor\", \"do_normalize\": true, \"do_rescale\": true,\n"
    " \"image_mean\": [0.5, 0.5, 0.5], \"image_std\": [0.5, 0.5, 0.5], \"min_size\": 14,\n"
    " \"rescale_factor\": 0.00392156862745098, \"size\": {\"height\": 384, \"width\": 384}}\n";

/* A transformers-layout copy of tiny-a in dir (drop: one tensor left out, or NULL; shards: files). */
static void make_hf_dir(const char *dir, const char *drop, int shards) {
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (tu_system(cmd) != 0) exit(1);
    const char *src = tu_fixture("janus-tiny-a/models/tiny-a");
    copy_file(src, dir, "tokenizer.json");
    copy_file(src, dir, "tokenizer_config.json");
    /* special_tokens_map.json as the transformers tokenizer saves it: plus its extra special tokens */
    char p[4200];
    snprintf(p, sizeof p, "%s/special_tokens_map.json", src);
    size_t n;
    char *sm = slurp(p, &n);
    char *close = strrchr(sm, '}');
    jn_buf b = {0};
    jn_buf_append(&b, sm, (size_t)(close - sm));
    jn_buf_puts(&b, ",\n  \"image_token\": \"<image_placeholder>\", \"boi_token\": \"<begin_of_image>\", "
                    "\"eoi_token\": \"<end_of_image>\"\n}\n");
    put(dir, "special_tokens_map.json", b.data, b.len);
    jn_buf_free(&b);
    free(sm);
    put(dir, "config.json", HF_CONFIG, sizeof HF_CONFIG - 1);
    put(dir, "preprocessor_config.json", HF_PREPROCESSOR, sizeof HF_PREPROCESSOR - 1);
    write_hf_safetensors(dir, drop, shards);
}

static int convert(const char *dir, const char *out, const char *type, int keep_unused, janus_error *err) {
    janus_convert_params p = janus_convert_default_params();
    p.model_dir = dir;
    p.out_path = out;
    p.type = type;
    p.keep_unused = keep_unused;
    p.force = 1;
    return janus_convert(&p, err);
}

/* Same tensors (names, order, dtypes, shapes, bytes) and the same metadata apart from the keys a
 * layout cannot carry (general.name: the folder; janus.vision.model_name: official configs only). */
static void expect_same(const char *label, const char *a, const char *b) {
    jn_error err = {0};
    jn_gguf *x = jn_gguf_open(a, &err), *y = jn_gguf_open(b, &err);
    TU_CHECK(x && y, "%s: open: %s", label, err.msg);
    if (!x || !y) return;
    TU_CHECK(jn_gguf_n_tensors(x) == jn_gguf_n_tensors(y), "%s: %lld vs %lld tensors", label,
             (long long)jn_gguf_n_tensors(x), (long long)jn_gguf_n_tensors(y));
    int bad = 0;
    for (int64_t i = 0; !bad && i < jn_gguf_n_tensors(x) && i < jn_gguf_n_tensors(y); i++) {
        const jn_gguf_tensor *s = jn_gguf_tensor_at(x, i), *t = jn_gguf_tensor_at(y, i);
        bad = strcmp(s->name, t->name) || s->type != t->type || s->nbytes != t->nbytes ||
              memcmp(s->shape, t->shape, sizeof s->shape) || memcmp(s->data, t->data, s->nbytes);
        TU_CHECK(!bad, "%s: tensor %lld differs: %s vs %s", label, (long long)i, s->name, t->name);
    }
    for (int64_t i = 0; i < jn_gguf_n_kv(x); i++) {
        const char *k = jn_gguf_kv_key(x, i);
        if (!strcmp(k, "general.name") || !strcmp(k, "janus.vision.model_name")) continue;
        int64_t j = jn_gguf_find_kv(y, k);
        char u[4096] = "", v[4096] = "";
        jn_gguf_kv_format(x, i, u, sizeof u);
        if (j >= 0) jn_gguf_kv_format(y, j, v, sizeof v);
        TU_CHECK(j >= 0 && !strcmp(u, v), "%s: metadata %s: %s vs %s", label, k, u, j >= 0 ? v : "(absent)");
    }
    TU_CHECK(jn_gguf_n_kv(x) == jn_gguf_n_kv(y) + 1, "%s: %lld vs %lld keys (model_name only in the official file)",
             label, (long long)jn_gguf_n_kv(x), (long long)jn_gguf_n_kv(y));
    jn_gguf_close(x);
    jn_gguf_close(y);
}

static void expect_load_error(const char *path, const char *what, const char *command) {
    janus_error err;
    memset(&err, 0, sizeof err);
    janus_load_params lp = janus_load_default_params();
    janus_model *m = janus_model_load(path, &lp, &err);
    TU_CHECK(!m && err.code == JANUS_ERR_FORMAT, "load %s: want a format error, got %d", path, err.code);
    TU_CHECK(strstr(err.msg, what) && strstr(err.msg, command), "load %s: message lacks '%s' / '%s':\n%s", path, what,
             command, err.msg);
    fprintf(stderr, "ok   -m %s:\n     %s\n", path, err.msg);
    janus_model_free(m);
}

int main(void) {
    char hf[4200], off[4400], out_hf[4400], tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", tu_tmp("layouts"));
    mkdir(tmp, 0755);
    snprintf(hf, sizeof hf, "%s/tiny-a-transformers", tmp);
    make_hf_dir(hf, NULL, 1);
    janus_error err;
    static const char *const TYPES[] = {"bf16", "q8_0", "f32"};
    for (int ti = 0; ti < 3; ti++) {
        snprintf(off, sizeof off, "%s/official.%s.gguf", tmp, TYPES[ti]);
        snprintf(out_hf, sizeof out_hf, "%s/transformers.%s.gguf", tmp, TYPES[ti]);
        int rc = convert(tu_fixture("janus-tiny-a/models/tiny-a-safetensors"), off, TYPES[ti], 0, &err);
        TU_CHECK(rc == JANUS_OK, "convert official %s: %s", TYPES[ti], err.msg);
        rc = convert(hf, out_hf, TYPES[ti], 0, &err);
        TU_CHECK(rc == JANUS_OK, "convert transformers %s: %s", TYPES[ti], err.msg);
        if (tu_failures) break;
        expect_same(TYPES[ti], off, out_hf);
        fprintf(stderr, "ok   transformers layout converts to the official tensors (--type %s)\n", TYPES[ti]);
    }
    /* sharded as transformers saves Janus-Pro-7B: the same file */
    {
        char sh[4400], out_sh[4400];
        snprintf(sh, sizeof sh, "%s/tiny-a-transformers-sharded", tmp);
        make_hf_dir(sh, NULL, 2);
        snprintf(off, sizeof off, "%s/official.bf16.gguf", tmp);
        snprintf(out_sh, sizeof out_sh, "%s/transformers-sharded.bf16.gguf", tmp);
        TU_CHECK(convert(sh, out_sh, "bf16", 0, &err) == JANUS_OK, "convert sharded transformers: %s", err.msg);
        expect_same("sharded", off, out_sh);
        fprintf(stderr, "ok   sharded transformers layout converts to the official tensors\n");
    }
    /* the transformers file loads and runs like the official one */
    {
        janus_load_params lp = janus_load_default_params();
        janus_model *m = janus_model_load(out_hf, &lp, &err);
        TU_CHECK(m != NULL, "load transformers-converted file: %s", err.msg);
        janus_model_free(m);
    }
    /* --keep-unused: the transformers layout has no attention-pool head / codebook_used; the encoder is kept */
    snprintf(out_hf, sizeof out_hf, "%s/transformers.keep.gguf", tmp);
    TU_CHECK(convert(hf, out_hf, "bf16", 1, &err) == JANUS_OK, "keep-unused: %s", err.msg);
    {
        jn_error e = {0};
        jn_gguf *g = jn_gguf_open(out_hf, &e);
        TU_CHECK(g && jn_gguf_find_tensor(g, "vq.encoder.conv_in.weight") && !jn_gguf_find_tensor(g, "v.attn_pool.latent"),
                 "keep-unused contents: %s", e.msg);
        jn_gguf_close(g);
    }
    /* a missing part of the split qkv is named in the transformers spelling */
    char bad[4400];
    snprintf(bad, sizeof bad, "%s/tiny-a-transformers-no-k", tmp);
    make_hf_dir(bad, "model.vision_model.encoder.layers.1.self_attn.k_proj.weight", 1);
    snprintf(out_hf, sizeof out_hf, "%s/bad.gguf", tmp);
    unlink(out_hf);
    int rc = convert(bad, out_hf, "bf16", 0, &err);
    TU_CHECK(rc == JANUS_ERR_FORMAT && strstr(err.msg, "model.vision_model.encoder.layers.1.self_attn.k_proj.weight is missing"),
             "missing k_proj: %d %s", rc, err.msg);
    TU_CHECK(access(out_hf, F_OK) != 0, "failed convert left %s", out_hf);

    /* -m given something that is not a converted model */
    expect_load_error(hf, "transformers", "janus convert");
    expect_load_error(tu_fixture("janus-tiny-a/models/tiny-a"), "official Janus-Pro download folder", "janus convert");
    expect_load_error(tu_fixture("janus-tiny-a/models/tiny-a/pytorch_model.bin"), "PyTorch checkpoint",
                      "janus convert");
    char st_path[4400];
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", hf);
    char want_cmd[9400];
    snprintf(want_cmd, sizeof want_cmd, "janus convert %s -o tiny-a-transformers.gguf", hf);
    expect_load_error(st_path, "safetensors", want_cmd);
    expect_load_error(tmp, "is a directory", "janus convert");
    /* convert given a weight file names the folder */
    snprintf(out_hf, sizeof out_hf, "%s/file.gguf", tmp);
    rc = convert(st_path, out_hf, "bf16", 0, &err);
    snprintf(want_cmd, sizeof want_cmd, "janus convert %s -o %s", hf, out_hf);
    TU_CHECK(rc == JANUS_ERR_USAGE && strstr(err.msg, want_cmd), "convert FILE: %d %s", rc, err.msg);
    return TU_RESULT();
}
