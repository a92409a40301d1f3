/* decoder/table.c — the GGUF keys and tensors of the language model, the chat template and the
 * tokenizer (see table.h). */
#include "table.h"

#include <math.h>
#include <string.h>

#define LM jn_lm_hparams
const jn_key_spec jn_lm_keys[] = {
    JN_KEY_INT("janus.lm.n_embd", LM, n_embd, 1, 0, 1, 1 << 16, "hidden size E"),
    JN_KEY_INT("janus.lm.n_layer", LM, n_layer, 1, 0, 1, 4096, "decoder layers"),
    JN_KEY_INT("janus.lm.n_head", LM, n_head, 1, 0, 1, 4096, "attention heads"),
    JN_KEY_INT("janus.lm.n_kv_head", LM, n_kv_head, 1, 0, 1, 4096, "key/value heads (= n_head)"),
    JN_KEY_INT("janus.lm.n_ff", LM, n_ff, 1, 0, 1, 1 << 20, "MLP hidden size"),
    JN_KEY_INT("janus.lm.n_vocab", LM, n_vocab, 1, 0, 1, 1 << 24, "embedding / lm_head rows"),
    JN_KEY_INT("janus.lm.max_ctx", LM, max_ctx, 1, 0, 1, 1 << 24, "context positions"),
    JN_KEY_F32_POS("janus.lm.rms_eps", LM, rms_eps, 1, 0, 1, "RMSNorm epsilon"),
    JN_KEY_F32_POS("janus.lm.rope_theta", LM, rope_theta, 1, 0, INFINITY, "RoPE base"),
};
const size_t jn_lm_n_keys = sizeof jn_lm_keys / sizeof jn_lm_keys[0];
#undef LM

_Static_assert(sizeof(int32_t) == sizeof(int), "token ids are read as int fields");
#define CT jn_chat_template
#define TOKEN_ID(k, m, doc) JN_KEY_INT(k, CT, m, 1, 0, 0, (1 << 24) - 1, doc)
const jn_key_spec jn_chat_keys[] = {
    JN_KEY_STR("janus.prompt.system", CT, system, 1, "default system prompt"),
    JN_KEY_STR("janus.prompt.sep", CT, sep, 1, "separator after a user turn"),
    JN_KEY_STR("janus.prompt.sep2", CT, sep2, 1, "separator after an assistant turn (EOS text)"),
    JN_KEY_STR("janus.prompt.user_role", CT, user_role, 1, "user role tag"),
    JN_KEY_STR("janus.prompt.assistant_role", CT, assistant_role, 1, "assistant role tag"),
    JN_KEY_STR("janus.prompt.image_tag", CT, image_tag, 1, "image placeholder text"),
    JN_KEY_STR("janus.prompt.image_start_tag", CT, image_start_tag, 1, "text before an image"),
    JN_KEY_STR("janus.prompt.image_end_tag", CT, image_end_tag, 1, "text after an image"),
    JN_KEY_STR("janus.prompt.pad_tag", CT, pad_tag, 1, "pad token text"),
    TOKEN_ID("janus.token.bos", bos, "BOS id"),
    TOKEN_ID("janus.token.eos", eos, "EOS id"),
    TOKEN_ID("janus.token.pad", pad, "pad id (unconditional CFG rows)"),
    TOKEN_ID("janus.token.image_placeholder", image_placeholder, "image placeholder id"),
    TOKEN_ID("janus.token.image_start", image_start, "begin-of-image id"),
    TOKEN_ID("janus.token.image_end", image_end, "end-of-image id"),
};
const size_t jn_chat_n_keys = sizeof jn_chat_keys / sizeof jn_chat_keys[0];
#undef TOKEN_ID
#undef CT

const jn_key_spec jn_tokenizer_keys[] = {
    JN_KEY_BY_HAND("tokenizer.ggml.model", JN_GGUF_STRING, 0, 0, "gpt2"),
    JN_KEY_BY_HAND("tokenizer.ggml.pre", JN_GGUF_STRING, 0, 0, "deepseek-llm"),
    JN_KEY_BY_HAND("tokenizer.ggml.tokens", JN_GGUF_ARRAY, JN_GGUF_STRING, 0, "token text per id"),
    JN_KEY_BY_HAND("tokenizer.ggml.token_type", JN_GGUF_ARRAY, JN_GGUF_INT32, 0, "token type per id"),
    JN_KEY_BY_HAND("tokenizer.ggml.merges", JN_GGUF_ARRAY, JN_GGUF_STRING, 0, "BPE merges \"a b\""),
    JN_KEY_BY_HAND("tokenizer.ggml.bos_token_id", JN_GGUF_UINT32, 0, 0, "BOS id"),
    JN_KEY_BY_HAND("tokenizer.ggml.eos_token_id", JN_GGUF_UINT32, 0, 0, "EOS id"),
    JN_KEY_BY_HAND("tokenizer.ggml.padding_token_id", JN_GGUF_UINT32, 0, 0, "pad id"),
    JN_KEY_BY_HAND("tokenizer.ggml.add_bos_token", JN_GGUF_BOOL, 0, 0, "encode adds BOS"),
    JN_KEY_BY_HAND("tokenizer.ggml.add_eos_token", JN_GGUF_BOOL, 0, 0, "encode adds EOS"),
    JN_KEY_BY_HAND("tokenizer.huggingface.json", JN_GGUF_STRING, 0, 1, "tokenizer.json verbatim (loaded from here)"),
    JN_KEY_BY_HAND("janus.tokenizer.config_json", JN_GGUF_STRING, 0, 0, "tokenizer_config.json verbatim"),
};
const size_t jn_tokenizer_n_keys = sizeof jn_tokenizer_keys / sizeof jn_tokenizer_keys[0];

jn_status jn_lm_hparams_from_gguf(const jn_gguf *g, jn_lm_hparams *hp, jn_error *err) {
    jn_lm_hparams h;
    memset(&h, 0, sizeof h);
    jn_status st = jn_keys_read(g, jn_lm_keys, jn_lm_n_keys, &h, err);
    if (st) return st;
    if (h.n_embd % h.n_head)
        return jn_fail(err, JN_ERR_FORMAT, "%s: janus.lm.n_embd %d is not a multiple of n_head %d", jn_gguf_path(g),
                       h.n_embd, h.n_head);
    h.d_head = h.n_embd / h.n_head;
    *hp = h;
    return JN_OK;
}

void jn_lm_tensors(const jn_lm_hparams *hp, jn_lm_weights *w, jn_tensor_sink *s) {
    const int64_t E = hp->n_embd, FF = hp->n_ff, V = hp->n_vocab;
    const int64_t QD = (int64_t)hp->n_head * hp->d_head, KVD = (int64_t)hp->n_kv_head * hp->d_head;
#define SLOT(field) (w ? &w->field : NULL)
#define LAYER(field) (w ? &w->layers[i].field : NULL)
    jn_tensor(s, SLOT(tok_embd), JN_TENSOR_MATRIX, 0, 2, V, E, 0, 0, "lm.embed_tokens.weight");
    for (int i = 0; i < hp->n_layer; i++) {
        jn_tensor(s, LAYER(wq), JN_TENSOR_QUANT, 0, 2, QD, E, 0, 0, "lm.layers.%d.self_attn.q_proj.weight", i);
        jn_tensor(s, LAYER(wk), JN_TENSOR_QUANT, 0, 2, KVD, E, 0, 0, "lm.layers.%d.self_attn.k_proj.weight", i);
        jn_tensor(s, LAYER(wv), JN_TENSOR_QUANT, 0, 2, KVD, E, 0, 0, "lm.layers.%d.self_attn.v_proj.weight", i);
        jn_tensor(s, LAYER(wo), JN_TENSOR_QUANT, 0, 2, E, QD, 0, 0, "lm.layers.%d.self_attn.o_proj.weight", i);
        jn_tensor(s, LAYER(w_gate), JN_TENSOR_QUANT, 0, 2, FF, E, 0, 0, "lm.layers.%d.mlp.gate_proj.weight", i);
        jn_tensor(s, LAYER(w_up), JN_TENSOR_QUANT, 0, 2, FF, E, 0, 0, "lm.layers.%d.mlp.up_proj.weight", i);
        jn_tensor(s, LAYER(w_down), JN_TENSOR_QUANT, 0, 2, E, FF, 0, 0, "lm.layers.%d.mlp.down_proj.weight", i);
        jn_tensor(s, LAYER(attn_norm), JN_TENSOR_F32, 0, 1, E, 0, 0, 0, "lm.layers.%d.input_layernorm.weight", i);
        jn_tensor(s, LAYER(ffn_norm), JN_TENSOR_F32, 0, 1, E, 0, 0, 0, "lm.layers.%d.post_attention_layernorm.weight", i);
    }
    jn_tensor(s, SLOT(norm), JN_TENSOR_F32, 0, 1, E, 0, 0, 0, "lm.norm.weight");
    jn_tensor(s, SLOT(lm_head), JN_TENSOR_QUANT, 0, 2, V, E, 0, 0, "lm_head.weight");
#undef SLOT
#undef LAYER
}
