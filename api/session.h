/* api/session.h — the janus_session object shared by the API's translation units (session.c,
 * understand.c, generate.c). */
#ifndef JANUS_API_SESSION_H
#define JANUS_API_SESSION_H

#include "internal.h"
#include "engine/sampler.h"

/* One encoded image of a conversation: its aligner rows, kept for as long as the conversation. */
typedef struct janus_chat_image {
    float *aligned; /* backend [n_image_tokens, n_embd] */
} janus_chat_image;

/* A live understanding sequence (one LM slot): what it has cached and how it samples. */
typedef struct janus_text_seq {
    int slot;                 /* LM sequence slot */
    int32_t *ids;             /* [n_ids] tokens whose K/V the slot holds, in order (prompt, then answer) */
    size_t n_ids, cap_ids;
    int32_t *answer;          /* [max_answer] ids sampled for the current answer */
    int n_answer, max_answer;
    int ctx_end;              /* the answer stops when the cache reaches this many positions */
    jn_sampler sampler;        /* settings + scratch; greedy when temperature <= 0 */
    int done;                 /* 1: stopped (EOS, max_tokens, context end or callback) */
    const char *finish_reason;
    jn_detok_stream *detok;
    janus_token_fn on_token;
    void *on_token_user;
} janus_text_seq;

struct janus_session {
    janus_model *m;
    jn_backend *be;           /* this session's own instance; the model's weights are used in place */
    int max_rows, max_ctx;
    size_t mem_limit;         /* janus_session_params.mem_limit */
    janus_session_stats stats;

    /* understanding: one conversation */
    struct text_engine *chat_te; /* one LM slot, capacity grown on demand (understand.c) */
    janus_text_seq chat_seq;
    janus_chat_image *images; /* [n_images] attached so far, in conversation order */
    int n_images, cap_images, n_images_pending; /* pending: attached to the next user turn */
    janus_turn_text *turns;   /* [n_turns] malloc'ed strings */
    int n_turns, cap_turns;
    jn_vision_session *vis;   /* for up to vis_max images per encode */
    int vis_max;
    float *vis_features;      /* backend [vis_max * n_image_tokens, width] */

    /* generation: at most one batch at a time */
    janus_gen_batch *gen;

    /* VQ decoder, made on first use */
    jn_vq_session *vq;
    float *vq_chw;            /* host [3, H, W] */
};

/* Backend by name ("cpu", "cuda", "ref"). */
jn_backend *janus_backend_create(const char *name, int n_threads, jn_error *err);
/* The backend's sticky status (a failed CUDA launch, exhausted scratch): JN_OK or the error. */
jn_status janus_session_check_backend(janus_session *s, jn_error *err);
/* Refuses (JN_ERR_NOMEM, with the numbers and the largest row count that fits) an LM session of
 * rows x ctx positions that exceeds the session's memory limit or the available memory. */
jn_status janus_session_check_memory(janus_session *s, const char *what, int rows, int ctx, int prefill_rows,
                                     jn_error *err);
/* Frees the conversation state (understand.c). */
void janus_chat_free_state(janus_session *s);

#endif
