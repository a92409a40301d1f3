/* api/internal.h — the model object shared by the API's translation units. The only place that
 * knows the whole Janus-Pro model: it wires vision -> aligner -> LM and LM -> gen head -> sampler
 * -> gen feedback -> LM -> VQ decoder. */
#ifndef JANUS_API_INTERNAL_H
#define JANUS_API_INTERNAL_H

#include "janus.h"

#include <pthread.h>
#include <string.h>

#include "engine/backend.h"
#include "engine/io/gguf.h"
#include "engine/weights.h"
#include "decoder/chat_template.h"
#include "decoder/lm.h"
#include "decoder/tokenizer.h"
#include "vision/preprocess.h"
#include "vision/siglip.h"
#include "vq_tokenizer/gen.h"
#include "vq_tokenizer/vq_decoder.h"

struct janus_tokenizer {
    jn_tokenizer *tok;
    int owned; /* 0 when it belongs to a model */
};

struct janus_model {
    char *path;
    char name[256];
    int verbose;
    int n_threads;      /* load-time thread count: the default for sessions */
    jn_dtype kv_type;   /* LM K/V cache elements of every session (janus_load_params.kv_type) */
    jn_gguf *gguf;
    jn_wstore *store;
    jn_backend *be;     /* uploads the weights (device copies on CUDA); sessions compute with their own */
    /* The text LM head ([n_vocab, n_embd], 118 MB packed at q4_0 for 1B) is uploaded on the first
     * use of text answers (janus_model_need_text_head): image generation never reads it. */
    pthread_mutex_t head_mu;
    int text_head_ready; /* under head_mu */
    jn_lm_hparams lm_hp;
    jn_lm_weights lm_w;
    jn_gen_hparams gen_hp;
    jn_gen_weights gen_w;
    jn_vision_hparams vis_hp;
    jn_vision_weights vis_w;
    jn_vq_hparams vq_hp;
    jn_vq_weights vq_w;
    struct janus_tokenizer tokenizer;
    jn_chat_template prompt; /* decoder/chat_template.h */
    jn_image_cfg image;      /* vision/preprocess.h */
};

/* Uploads the text LM head if no session has yet (thread-safe); every caller of jn_lm_logits on
 * the model's weights calls it first. */
jn_status janus_model_need_text_head(janus_model *m, jn_error *err);

/* Side of the generated image-token grid (official generate(): 384 px / patch 16 = 24, 576 tokens);
 * janus.h documents 576 ids per image for generation, teacher tokens and decoding. */
#define JANUS_GEN_GRID 24

/* jn_error and janus_error share their layout. */
#define JN_ERR(e) ((jn_error *)(void *)(e))
/* The caller's error record, or a local one when the caller passed NULL (errors are then only
 * returned as status codes). */
#define JN_ERR_OR_LOCAL(perr, local) ((perr) ? JN_ERR(perr) : (memset(&(local), 0, sizeof(local)), &(local)))

/* Dump helpers (api/dump.c): write into dir/name (each file created anew with O_EXCL|O_NOFOLLOW,
 * never through a link); no-ops when dir is NULL. */
jn_status janus_dump_f32(const char *dir, const char *name, const float *data, int n_dims, const int64_t *shape,
                         jn_error *err);
jn_status janus_dump_ids(const char *dir, const char *name, const int32_t *ids, size_t n, jn_error *err);
/* Creates dir if missing (one level); refuses an existing non-empty dir unless this process
 * prepared it before (a session's next turn). */
jn_status janus_dump_prepare(const char *dir, jn_error *err);

#endif
