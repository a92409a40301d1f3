/* cli/caption_engine.h — the model side of `janus caption`: a reader thread that decodes the next
 * images while the model works, and the loop that keeps up to `batch` questions decoding together
 * (continuous batching through janus_ask_batch_*: a finished sequence's slot is refilled at once). */
#ifndef JANUS_CLI_CAPTION_ENGINE_H
#define JANUS_CLI_CAPTION_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "janus.h"

/* One question, ready to run. */
typedef struct caption_job {
    size_t item;         /* the caller's item index */
    janus_image image;   /* decoded pixels (rgb NULL when the load failed) */
    char *question;      /* malloc'ed */
    uint64_t seed;       /* per item, so sampled captions do not depend on the batch */
    int load_status;     /* non-zero: the image could not be read, load_err says why */
    janus_error load_err;
} caption_job;
void caption_job_clear(caption_job *job);

/* Monotonic wall-clock seconds. */
double caption_now_s(void);

/* Fills job for item (in the reader thread: must only read shared state). Returns 0, or non-zero
 * to stop reading (out of memory). */
typedef int (*caption_prepare_fn)(void *user, size_t item, caption_job *job);

/* Reads ahead up to `depth` jobs over the items order[0..n) in a thread of its own. */
typedef struct caption_reader caption_reader;
caption_reader *caption_reader_start(const size_t *order, size_t n, int depth, caption_prepare_fn prepare,
                                     void *user);
/* 1: *job filled (the caller owns it), 0: none ready yet (only when !wait), -1: no more. */
int caption_reader_next(caption_reader *r, caption_job *job, int wait);
/* Stops the thread (it finishes the job it is preparing) and frees what is queued. */
void caption_reader_stop(caption_reader *r);

/* A finished item. */
typedef struct caption_result {
    size_t item;
    int status;              /* 0, or the negative status of this item's failure (err says why) */
    const janus_error *err;
    const char *caption;     /* status 0: the answer (special tokens skipped) */
    const char *finish_reason; /* "stop" or "length" */
    int n_tokens;
    double seconds;          /* from its prefill to its last token */
} caption_result;
/* Non-zero stops the run (an output that cannot be written); that value is returned. */
typedef int (*caption_result_fn)(void *user, const caption_result *res);

typedef struct caption_engine_params {
    int batch;          /* sequences decoding together */
    int max_tokens;
    float temperature;  /* 0: greedy */
    int top_k;
    float top_p;
} caption_engine_params;

/* Runs every job the reader gives. Returns 0, the non-zero value of on_result, or a negative
 * status with err filled when the backend failed (the jobs in flight are then lost, unrecorded). */
int caption_engine_run(janus_session *s, const caption_engine_params *p, caption_reader *reader,
                       caption_result_fn on_result, void *user, janus_error *err);

#endif
