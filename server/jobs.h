/* server/jobs.h — requests as jobs, the queues, and the two worker threads.
 *
 * Why two workers on two sessions: generation steps (2n CFG rows of every image request, one
 * batched forward per step) and understanding steps (one row per question, continuous batching)
 * are different forwards over different KV layouts; each worker owns one janus_session and
 * drives one batch object, so both directions make progress at once and neither waits for the
 * other's 576-step images. The model is loaded once and shared.
 *
 * Locking: one mutex (srv_engine.mu) guards every job field written after submission and the
 * queues; one condition variable is broadcast on any change (job progress, new work). Workers
 * never call into the library with the mutex held. */
#ifndef JANUS_SERVER_JOBS_H
#define JANUS_SERVER_JOBS_H

#include <pthread.h>
#include <stdint.h>

#include "server.h"

enum { GEN_STEPS = 576 }; /* 24 x 24 image tokens per image */

typedef enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED } srv_job_state;
typedef enum { JOB_GEN, JOB_CHAT } srv_job_kind;

typedef struct srv_blob {
    uint8_t *data;
    size_t len;
} srv_blob;

typedef struct srv_job {
    char id[80];
    srv_job_kind kind;
    srv_job_state state;
    int refs;     /* holders: the submitting connection, the job table (async), a worker */
    int cancel;   /* asked for by a client (cancel route, disconnect) or shutdown */
    int async;    /* kept in the table after it ends, for GET /v1/jobs/{id} */
    double t_created, t_started, t_done;
    srv_error err; /* when FAILED */
    /* generation */
    srv_gen_req gen;
    int steps;       /* done, of GEN_STEPS */
    int batch_id;
    int needs_empty; /* did not fit beside the running requests: waits for the batch to drain */
    srv_blob *files; /* encoded images (PNG/JPEG), n = gen.n */
    char **file_names; /* response_format=url: names under the output dir */
    /* understanding */
    srv_chat_req chat;
    janus_image *rgb; int n_rgb; /* decoded uploads, in placeholder order */
    srv_text text;   /* the answer so far */
    size_t visible;  /* bytes of text that can be sent (held back: a possible stop-sequence prefix) */
    const char *finish_reason;
    int completion_tokens, prompt_tokens;
    struct srv_job *next; /* queue link */
} srv_job;

typedef struct srv_engine {
    const srv_config *cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    janus_model *model;
    const char *model_name;
    int ready, stopping, workers_started;
    srv_job *gen_head, *gen_tail, *chat_head, *chat_tail;
    int n_gen_queued, n_chat_queued, n_gen_running, n_chat_running;
    srv_job **table; int n_table, cap_table; /* async jobs by id */
    unsigned long seq;
    double gen_step_s; /* moving average of one generation step, for ETAs */
    long gen_rows_max;
    char out_dir[4096], tmp_dir[4096];
    pthread_t gen_thread, chat_thread;
    char fatal[512]; /* a worker's setup failure */
    long n_requests, n_failed;
    int n_busy; /* connections waiting for a job or streaming one (server/http.c) */
} srv_engine;

/* Creates the temp and output directories; the model is loaded later by srv_engine_start. */
int srv_engine_init(srv_engine *e, const srv_config *cfg, char *msg, size_t n);
/* Loads the model and starts the workers (called after the HTTP server listens, so /health can
 * say "loading" meanwhile). */
int srv_engine_start(srv_engine *e, char *msg, size_t n);
/* Stops accepting jobs, waits up to grace_s for running ones, cancels the rest, joins workers. */
void srv_engine_shutdown(srv_engine *e, int grace_s);
void srv_engine_free(srv_engine *e);

srv_job *srv_job_new(srv_engine *e, srv_job_kind kind, int async);
/* Queues a job (refs += 1 for the queue). -1 + err when the queue is full or the server stops. */
int srv_job_submit(srv_engine *e, srv_job *j, srv_error *err);
void srv_job_release(srv_engine *e, srv_job *j);   /* drops one reference (mutex not held) */
void srv_job_release_locked(srv_engine *e, srv_job *j);
srv_job *srv_job_find(srv_engine *e, const char *id); /* +1 ref, NULL if unknown; mutex not held */
int srv_job_finished(const srv_job *j);
/* Queue position (0 = next) of a queued job, -1 otherwise; mutex held. */
int srv_job_queue_position(srv_engine *e, const srv_job *j);
/* Seconds to completion of a generation job (estimate; < 0 unknown); mutex held. */
double srv_job_eta(srv_engine *e, const srv_job *j);

/* Between jobs.c and chat_worker.c. */
void srv_job_fail_janus(srv_engine *e, srv_job *j, const janus_error *err); /* ends j (mutex held) */
void *srv_chat_worker(void *engine);
int srv_chat_worker_create(srv_engine *e, char *msg, size_t n);
void srv_chat_worker_cancel_all(srv_engine *e); /* mutex held */
void srv_chat_worker_destroy(srv_engine *e);

#endif
