/* cli/caption_engine.c — reader thread and batched decode loop of `janus caption`
 * (see caption_engine.h). */
#define _POSIX_C_SOURCE 200809L
#include "caption_engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void caption_job_clear(caption_job *job) {
    janus_image_free(&job->image);
    free(job->question);
    memset(job, 0, sizeof *job);
}

/* ---- reader: a bounded queue filled by one thread ---- */

struct caption_reader {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t changed;  /* a job was queued or taken, or the reader ended */
    const size_t *order;
    size_t n, next;          /* next: order index the thread prepares next */
    caption_prepare_fn prepare;
    void *user;
    caption_job *ring;
    int depth, head, count;  /* ring[head .. head+count) (mod depth) are ready */
    int finished, stop;
};

static void *reader_main(void *arg) {
    caption_reader *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->stop && r->count == r->depth) pthread_cond_wait(&r->changed, &r->mu);
        if (r->stop || r->next == r->n) break;
        size_t item = r->order[r->next++];
        pthread_mutex_unlock(&r->mu);

        caption_job job = {0};
        job.item = item;
        int failed = r->prepare(r->user, item, &job);

        pthread_mutex_lock(&r->mu);
        if (failed) {
            caption_job_clear(&job);
            break;
        }
        r->ring[(r->head + r->count) % r->depth] = job;
        r->count++;
        pthread_cond_broadcast(&r->changed);
        pthread_mutex_unlock(&r->mu);
    }
    r->finished = 1;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

caption_reader *caption_reader_start(const size_t *order, size_t n, int depth, caption_prepare_fn prepare,
                                     void *user) {
    caption_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->ring = calloc((size_t)(depth > 0 ? depth : 1), sizeof *r->ring);
    r->order = order;
    r->n = n;
    r->depth = depth > 0 ? depth : 1;
    r->prepare = prepare;
    r->user = user;
    if (!r->ring) { free(r); return NULL; }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->changed, NULL);
    if (pthread_create(&r->thread, NULL, reader_main, r)) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->changed);
        free(r->ring);
        free(r);
        return NULL;
    }
    return r;
}

int caption_reader_next(caption_reader *r, caption_job *job, int wait) {
    pthread_mutex_lock(&r->mu);
    while (wait && r->count == 0 && !r->finished) pthread_cond_wait(&r->changed, &r->mu);
    int got = 0;
    if (r->count > 0) {
        *job = r->ring[r->head];
        memset(&r->ring[r->head], 0, sizeof r->ring[r->head]);
        r->head = (r->head + 1) % r->depth;
        r->count--;
        got = 1;
        pthread_cond_broadcast(&r->changed);
    } else if (r->finished) {
        got = -1;
    }
    pthread_mutex_unlock(&r->mu);
    return got;
}

void caption_reader_stop(caption_reader *r) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    for (int i = 0; i < r->count; i++) caption_job_clear(&r->ring[(r->head + i) % r->depth]);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->changed);
    free(r->ring);
    free(r);
}

/* ---- the decode loop ---- */

double caption_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static janus_ask_params job_params(const caption_engine_params *p, const caption_job *job) {
    janus_ask_params ap = janus_ask_default_params();
    ap.question = job->question;
    ap.rgb_images = &job->image;
    ap.n_rgb_images = 1;
    ap.max_tokens = p->max_tokens;
    ap.temperature = p->temperature;
    ap.top_k = p->top_k;
    ap.top_p = p->top_p;
    ap.seed = job->seed;
    return ap;
}

static int report_failure(caption_result_fn on_result, void *user, size_t item, int status, const janus_error *e) {
    caption_result res = {.item = item, .status = status ? status : JANUS_ERR_RUNTIME, .err = e};
    return on_result(user, &res);
}

/* A question in flight. */
typedef struct live_seq {
    int id;          /* janus_ask_batch id; -1: the slot is empty */
    caption_job job;
    double t_start;
} live_seq;

/* Takes out every finished sequence and reports it. */
static int collect_finished(janus_ask_batch *b, live_seq *live, int n_slots, caption_result_fn on_result, void *user,
                            int *n_live) {
    for (int i = 0; i < n_slots; i++) {
        if (live[i].id < 0) continue;
        int n_tokens = 0;
        int state = janus_ask_batch_state(b, live[i].id, &n_tokens);
        if (state == JANUS_GEN_RUNNING) continue;
        char *answer = NULL;
        const char *finish = NULL;
        janus_error e = {0};
        int st = janus_ask_batch_take(b, live[i].id, &answer, &finish, &n_tokens, &e);
        caption_result res = {.item = live[i].job.item, .status = st, .err = &e, .caption = answer,
                              .finish_reason = finish, .n_tokens = n_tokens, .seconds = caption_now_s() - live[i].t_start};
        if (!st && state == JANUS_GEN_CANCELLED) {
            res.status = JANUS_ERR_RUNTIME;
            snprintf(e.msg, sizeof e.msg, "cancelled");
        }
        int stop = on_result(user, &res);
        free(answer);
        caption_job_clear(&live[i].job);
        live[i].id = -1;
        (*n_live)--;
        if (stop) return stop;
    }
    return 0;
}

int caption_engine_run(janus_session *s, const caption_engine_params *p, caption_reader *reader,
                       caption_result_fn on_result, void *user, janus_error *err) {
    const int n_slots = p->batch;
    janus_ask_batch *b = janus_ask_batch_create(s, n_slots, 0, err);
    if (!b) return err->code ? err->code : JANUS_ERR_NOMEM;
    live_seq *live = calloc((size_t)n_slots, sizeof *live);
    caption_job *adding = calloc((size_t)n_slots, sizeof *adding);
    janus_ask_params *ps = calloc((size_t)n_slots, sizeof *ps);
    int *ids = calloc((size_t)n_slots, sizeof *ids);
    janus_error *errs = calloc((size_t)n_slots, sizeof *errs);
    int rc = 0, reader_done = 0, n_live = 0;
    if (!live || !adding || !ps || !ids || !errs) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        err->code = rc = JANUS_ERR_NOMEM;
    }
    for (int i = 0; rc == 0 && i < n_slots; i++) live[i].id = -1;
    while (rc == 0) {
        /* refill the free slots with what the reader has ready; when nothing runs, wait for a
         * whole batch (its images are then encoded in one call) */
        int n_add = 0, n_free = janus_ask_batch_free_seqs(b);
        while (!reader_done && n_add < n_free) {
            caption_job job;
            int got = caption_reader_next(reader, &job, n_live == 0);
            if (got < 0) reader_done = 1;
            if (got <= 0) break;
            if (job.load_status) {
                rc = report_failure(on_result, user, job.item, job.load_status, &job.load_err);
                caption_job_clear(&job);
                if (rc) break;
                continue;
            }
            adding[n_add] = job;
            ps[n_add] = job_params(p, &adding[n_add]);
            n_add++;
        }
        if (n_add > 0 && rc == 0) {
            memset(errs, 0, (size_t)n_add * sizeof *errs);
            double t0 = caption_now_s();
            int added = janus_ask_batch_add(b, ps, n_add, ids, errs, err);
            if (added < 0) rc = added;
            for (int i = 0; i < n_add; i++) {
                int slot = 0; /* finished sequences are taken after every step: a free one exists */
                while (slot < n_slots && live[slot].id >= 0) slot++;
                if (rc == 0 && ids[i] >= 0 && slot < n_slots) {
                    live[slot].id = ids[i];
                    live[slot].job = adding[i];
                    live[slot].t_start = t0;
                    janus_image_free(&live[slot].job.image); /* encoded by the add */
                    n_live++;
                    continue;
                }
                if (rc == 0) rc = report_failure(on_result, user, adding[i].item, ids[i], &errs[i]);
                caption_job_clear(&adding[i]);
            }
        } else if (n_add > 0) {
            for (int i = 0; i < n_add; i++) caption_job_clear(&adding[i]);
        }
        /* a sequence may end in its prefill already (end of sentence first) */
        if (rc == 0 && n_add > 0) rc = collect_finished(b, live, n_slots, on_result, user, &n_live);
        if (rc) break;
        if (n_live == 0) {
            if (reader_done) break;
            continue;
        }
        int st = janus_ask_batch_step(b, err);
        if (st < 0) { rc = st; break; }
        rc = collect_finished(b, live, n_slots, on_result, user, &n_live);
    }
    for (int i = 0; live && i < n_slots; i++)
        if (live[i].id >= 0) caption_job_clear(&live[i].job);
    free(live);
    free(adding);
    free(ps);
    free(ids);
    free(errs);
    janus_ask_batch_free(b);
    return rc;
}
