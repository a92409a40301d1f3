/* decoder/lm.h — the LLaMA-style autoregressive language model core of Janus-Pro.
 *
 * Why: both Janus paths run through this one transformer: understanding (text + image embeddings →
 * text logits through lm_head) and generation (2 CFG rows per image, hidden states fed to the
 * generation head in vq_tokenizer/gen.h). The model weights (jn_lm_weights, immutable, bound from
 * the GGUF store) are kept apart from the mutable session (KV cache + activation scratch, all
 * allocated on the backend when the session is created; jn_lm_forward never allocates).
 *
 * Layer (pre-norm, HF LlamaDecoderLayer): r = x; x = RMSNorm_in(x); x = r + o(attn(rope(q), rope(k), v));
 * r = x; x = RMSNorm_post(x); x = r + down(silu(gate(x)) ⊙ up(x)); after the last layer RMSNorm_final.
 * RoPE is rotate-half with positions n_past + t; attention is causal over the cache, scale 1/sqrt(d_head).
 *
 * GGUF names: lm.embed_tokens.weight, lm.layers.{i}.{input_layernorm, self_attn.{q,k,v,o}_proj,
 * post_attention_layernorm, mlp.{gate,up,down}_proj}.weight, lm.norm.weight, lm_head.weight. */
#ifndef JANUS_DECODER_LM_H
#define JANUS_DECODER_LM_H

#include "engine/backend.h"
#include "engine/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jn_lm_hparams {
    int n_embd, n_layer, n_head, n_kv_head, d_head, n_ff, n_vocab, max_ctx;
    float rms_eps, rope_theta;
} jn_lm_hparams;

typedef struct jn_lm_layer {
    jn_weight *attn_norm; /* [n_embd] f32 */
    jn_weight *wq;        /* [n_head*d_head, n_embd] */
    jn_weight *wk;        /* [n_kv_head*d_head, n_embd] */
    jn_weight *wv;        /* [n_kv_head*d_head, n_embd] */
    jn_weight *wo;        /* [n_embd, n_head*d_head] */
    jn_weight *ffn_norm;  /* [n_embd] f32 */
    jn_weight *w_gate;    /* [n_ff, n_embd] */
    jn_weight *w_up;      /* [n_ff, n_embd] */
    jn_weight *w_down;    /* [n_embd, n_ff] */
} jn_lm_layer;

typedef struct jn_lm_weights {
    jn_weight *tok_embd;  /* [n_vocab, n_embd] */
    jn_weight *norm;      /* [n_embd] f32 */
    jn_weight *lm_head;   /* [n_vocab, n_embd] */
    jn_lm_layer *layers;  /* [n_layer] malloc'ed */
} jn_lm_weights;

/* Checks the hparams (positive sizes, even d_head, n_kv_head == n_head: grouped-query attention is
 * not supported) and binds every tensor, checking shape and dtype (norms f32, matrices any
 * supported type). On failure *w is left empty (nothing to free). Does not upload weights. */
jn_status jn_lm_bind(jn_lm_weights *w, jn_wstore *store, const jn_lm_hparams *hp, jn_error *err);
void jn_lm_weights_free(jn_lm_weights *w);

/* Calls be->weight_upload on every LM weight (no-op copy on ref/cpu). */
jn_status jn_lm_weights_upload(jn_backend *be, jn_lm_weights *w, const jn_lm_hparams *hp, jn_error *err);

typedef struct jn_lm_session jn_lm_session;

/* KV cache [n_layer][n_seq_max][n_ctx][n_kv_head*d_head] for K (post-RoPE) and V, in kv_type
 * (JN_F32, or JN_F16 / JN_BF16: values rounded to nearest-even when written, half the bytes and
 * half the attention bandwidth; or JN_Q8_0 on backends with be->kv_q8_0: ggml q8_0 blocks, 0.53×
 * the f16 bytes, kv_dim a multiple of 32), plus f32 activation scratch for n_tok_max rows (n_seq * n_tok per
 * forward call), all allocated on be up front. hp and w must outlive the session.
 * n_ctx <= hp->max_ctx. Returns NULL + err (JN_ERR_NOMEM with the byte count, or JN_ERR_USAGE for
 * bad sizes or types). */
jn_lm_session *jn_lm_session_create(jn_backend *be, const jn_lm_hparams *hp, const jn_lm_weights *w, int n_seq_max,
                                    int n_ctx, int n_tok_max, jn_dtype kv_type, jn_error *err);
void jn_lm_session_free(jn_lm_session *s);
/* Backend bytes such a session allocates (SIZE_MAX on overflow); *kv_bytes (optional): the
 * K/V cache part. */
size_t jn_lm_session_bytes(const jn_lm_hparams *hp, int n_seq_max, int n_ctx, int n_tok_max, jn_dtype kv_type,
                           size_t *kv_bytes);
/* All sequences back to length 0 (the cache contents are simply overwritten later). */
void jn_lm_session_reset(jn_lm_session *s);
/* Cached length of sequence slot 0 (all slots, when they advance together through jn_lm_forward). */
int jn_lm_session_n_past(const jn_lm_session *s);
/* Every slot forgets its positions >= n_past, e.g. to reuse a cached prompt. */
void jn_lm_session_truncate(jn_lm_session *s, int n_past);
int jn_lm_session_n_seq_max(const jn_lm_session *s);
int jn_lm_session_n_ctx(const jn_lm_session *s);
/* Each sequence slot has its own cached length (continuous batching: rows join and leave). */
int jn_lm_seq_len(const jn_lm_session *s, int slot);
/* Slot forgets positions >= n_past (no-op if it holds fewer). */
void jn_lm_seq_truncate(jn_lm_session *s, int slot, int n_past);
/* Slot dst gets a copy of slot src's cached K/V and length (a shared prompt prefilled once). */
void jn_lm_seq_copy(jn_lm_session *s, int dst, int src);
/* The same between two sessions of one model, backend and KV type (a cache moved into a bigger session);
 * at most dst's context is copied. */
void jn_lm_seq_transfer(jn_lm_session *dst, int dst_slot, const jn_lm_session *src, int src_slot);
/* Bytes of backend memory the session holds (KV cache + scratch). */
size_t jn_lm_session_nbytes(const jn_lm_session *s);

/* x: backend memory [n_seq * n_tok, n_embd], row s*n_tok + t = token t of sequence s (all sequences
 * have the same current length n_past; positions n_past..n_past+n_tok-1; causal attention over
 * the cache).
 * hidden: backend memory, [n_seq * n_tok, n_embd] (last_only = 0) or [n_seq, n_embd] (last_only = 1):
 * hidden states AFTER the final RMSNorm. hidden may alias x.
 * Errors (nothing is changed): n_past + n_tok > n_ctx → JN_ERR_USAGE giving both numbers;
 * n_seq > n_seq_max or n_seq * n_tok > n_tok_max or n_seq/n_tok < 1 → JN_ERR_USAGE. */
jn_status jn_lm_forward(jn_lm_session *s, const float *x, int n_seq, int n_tok, float *hidden, int last_only,
                        jn_error *err);
/* The same for an arbitrary set of distinct sequence slots, each at its own cached length:
 * input sequence i (rows i*n_tok ..) extends slot slots[i] at positions seq_len(slots[i]) + t.
 * Rows never influence each other: the result for a row equals what a call with only its
 * sequence gives. Errors as jn_lm_forward (a repeated or out-of-range slot is JN_ERR_USAGE). */
jn_status jn_lm_forward_slots(jn_lm_session *s, const float *x, const int *slots, int n_seq, int n_tok, float *hidden,
                              int last_only, jn_error *err);
/* logits[M, n_vocab] = hidden[M, n_embd] · lm_head^T  (backend memory) */
void jn_lm_logits(jn_lm_session *s, const float *hidden, int M, float *logits);
/* out[n, n_embd] (backend memory) = rows ids_host[i] of embed_tokens (ids checked < n_vocab by the caller) */
void jn_lm_embed(jn_lm_session *s, const int32_t *ids_host, int n, float *out);

#ifdef __cplusplus
}
#endif
#endif
