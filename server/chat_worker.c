/* server/chat_worker.c — the understanding worker: queued chat jobs join one janus_ask_batch
 * whenever a sequence is free (continuous batching); answers stream through on_token into the
 * job, where stop sequences are applied. */
#define _POSIX_C_SOURCE 200809L
#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct chat_worker {
    srv_engine *e;
    janus_session *s;
    janus_ask_batch *b;
    srv_job **running;
    int n_running, cap_running;
} chat_worker;

static chat_worker g_chat; /* one per process, as the engine */

/* Cuts the text at the first stop sequence; returns 1 if one was found. */
static int apply_stop(srv_job *j) {
    size_t cut = j->text.len;
    for (int i = 0; i < j->chat.n_stop; i++) {
        const char *p = strstr(j->text.p ? j->text.p : "", j->chat.stop[i]);
        if (p && (size_t)(p - j->text.p) < cut) cut = (size_t)(p - j->text.p);
    }
    if (cut == j->text.len) return 0;
    j->text.len = cut;
    j->text.p[cut] = 0;
    return 1;
}

/* What may be streamed: everything but a tail that could still become a stop sequence, cut back
 * to a UTF-8 character boundary. */
static void update_visible(srv_job *j) {
    size_t hold = 0;
    for (int i = 0; i < j->chat.n_stop; i++) {
        size_t n = strlen(j->chat.stop[i]);
        if (n - 1 > hold) hold = n - 1;
    }
    size_t v = j->text.len > hold ? j->text.len - hold : 0;
    while (v > 0 && v < j->text.len && ((unsigned char)j->text.p[v] & 0xC0) == 0x80) v--;
    if (v > j->visible) j->visible = v;
}

static int on_token(void *user, const char *piece, size_t len) {
    srv_job *j = user;
    srv_engine *e = g_chat.e;
    pthread_mutex_lock(&e->mu);
    int stop = j->cancel;
    if (!stop && srv_text_append(&j->text, piece, len)) stop = 1;
    if (!stop && apply_stop(j)) stop = 1, j->finish_reason = "stop";
    update_visible(j);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return stop;
}

/* The ask parameters of a job (history points into the job's turns). */
static janus_ask_params job_params(srv_job *j, janus_turn_text *hist) {
    const srv_chat_req *c = &j->chat;
    for (int i = 0; i + 1 < c->n_turns; i++) hist[i] = (janus_turn_text){c->turns[i].user, c->turns[i].assistant};
    janus_ask_params p = janus_ask_default_params();
    p.history = hist;
    p.n_history = c->n_turns - 1;
    p.question = c->turns[c->n_turns - 1].user;
    p.rgb_images = j->rgb;
    p.n_rgb_images = j->n_rgb;
    p.max_tokens = c->max_tokens;
    p.temperature = (float)c->temperature;
    p.top_p = (float)c->top_p;
    p.top_k = c->top_k;
    p.seed = c->seed;
    p.on_token = on_token;
    p.on_token_user = j;
    return p;
}

/* Moves queued jobs into the batch while sequences are free. Mutex held; released around each
 * janus_ask_batch_add. One question per call: when a call fails as a whole (the backend, memory),
 * the ids of questions added before the failure are not reported, so a call never holds more than
 * the one job it can fail. */
static void chat_admit(chat_worker *w) {
    srv_engine *e = w->e;
    while (e->chat_head && !e->stopping && janus_ask_batch_free_seqs(w->b) > 0) {
        srv_job *j = e->chat_head;
        e->chat_head = j->next;
        if (!e->chat_head) e->chat_tail = NULL;
        j->next = NULL;
        e->n_chat_queued--;
        if (j->cancel) {
            j->state = JOB_CANCELLED;
            pthread_cond_broadcast(&e->cv);
            srv_job_release_locked(e, j);
            continue;
        }
        if (w->n_running == w->cap_running) {
            int cap = w->cap_running ? 2 * w->cap_running : 16;
            srv_job **r = realloc(w->running, (size_t)cap * sizeof *r);
            if (!r) {
                janus_error oom = {JANUS_ERR_NOMEM, "out of memory"};
                srv_job_fail_janus(e, j, &oom);
                continue;
            }
            w->running = r;
            w->cap_running = cap;
        }
        j->state = JOB_RUNNING;
        e->n_chat_running++;
        janus_turn_text *hist = calloc((size_t)j->chat.n_turns, sizeof *hist);
        pthread_mutex_unlock(&e->mu);
        janus_error err = {0}, one = {0};
        int id = -1, rc;
        if (!hist) {
            err.code = rc = JANUS_ERR_NOMEM;
            snprintf(err.msg, sizeof err.msg, "out of memory");
        } else {
            janus_ask_params p = job_params(j, hist);
            rc = janus_ask_batch_add(w->b, &p, 1, &id, &one, &err);
        }
        free(hist);
        pthread_mutex_lock(&e->mu);
        if (rc < 0 || id < 0) {
            e->n_chat_running--;
            srv_job_fail_janus(e, j, rc < 0 ? &err : &one);
            continue;
        }
        j->batch_id = id;
        w->running[w->n_running++] = j;
    }
}

static void chat_collect(chat_worker *w) {
    srv_engine *e = w->e;
    for (int i = 0; i < w->n_running;) {
        srv_job *j = w->running[i];
        int id = j->batch_id, n_tok = 0;
        int st = janus_ask_batch_state(w->b, id, &n_tok);
        if (st >= 0 && j->prompt_tokens == 0) j->prompt_tokens = janus_ask_batch_prompt_tokens(w->b, id);
        if (st == JANUS_GEN_RUNNING && j->cancel) {
            janus_ask_batch_cancel(w->b, id);
            st = janus_ask_batch_state(w->b, id, &n_tok);
        }
        if (st == JANUS_GEN_RUNNING) {
            j->completion_tokens = n_tok;
            i++;
            continue;
        }
        w->running[i] = w->running[--w->n_running];
        e->n_chat_running--;
        char *answer = NULL;
        const char *finish = NULL;
        janus_error err = {0};
        int rc = janus_ask_batch_take(w->b, id, &answer, &finish, &n_tok, &err);
        if (st != JANUS_GEN_DONE || j->cancel) {
            free(answer);
            j->state = JOB_CANCELLED;
            pthread_cond_broadcast(&e->cv);
            srv_job_release_locked(e, j);
            continue;
        }
        if (rc) {
            srv_job_fail_janus(e, j, &err);
            continue;
        }
        /* the final answer is the library's (exactly janus_ask's), cut at a stop sequence */
        j->text.len = 0;
        if (srv_text_append(&j->text, answer, strlen(answer))) {
            free(answer);
            janus_error oom = {JANUS_ERR_NOMEM, "out of memory"};
            srv_job_fail_janus(e, j, &oom);
            continue;
        }
        free(answer);
        if (apply_stop(j)) j->finish_reason = "stop";
        if (!j->finish_reason) j->finish_reason = finish ? finish : "stop";
        j->visible = j->text.len;
        j->completion_tokens = n_tok;
        j->state = JOB_DONE;
        pthread_cond_broadcast(&e->cv);
        srv_job_release_locked(e, j);
    }
    pthread_cond_broadcast(&e->cv);
}

void *srv_chat_worker(void *arg) {
    srv_engine *e = arg;
    chat_worker *w = &g_chat;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        chat_admit(w);
        if (w->n_running == 0) {
            if (e->stopping) break;
            pthread_cond_wait(&e->cv, &e->mu);
            continue;
        }
        pthread_mutex_unlock(&e->mu);
        janus_error err = {0};
        int live = janus_ask_batch_step(w->b, &err);
        pthread_mutex_lock(&e->mu);
        if (live < 0) {
            for (int i = 0; i < w->n_running; i++) srv_job_fail_janus(e, w->running[i], &err);
            e->n_chat_running -= w->n_running;
            w->n_running = 0;
            continue;
        }
        chat_collect(w);
    }
    while (e->chat_head) {
        srv_job *j = e->chat_head;
        e->chat_head = j->next;
        e->n_chat_queued--;
        j->state = JOB_CANCELLED;
        srv_job_release_locked(e, j);
    }
    e->chat_tail = NULL;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

int srv_chat_worker_create(srv_engine *e, char *msg, size_t n) {
    const srv_config *c = e->cfg;
    janus_error err = {0};
    janus_session_params sp = janus_session_default_params();
    sp.n_threads = c->n_threads;
    sp.max_rows = c->chat_batch;
    sp.mem_limit = c->mem_limit;
    g_chat.e = e;
    g_chat.s = janus_session_create(e->model, &sp, &err);
    g_chat.b = g_chat.s ? janus_ask_batch_create(g_chat.s, c->chat_batch, c->chat_ctx, &err) : NULL;
    if (!g_chat.b) {
        snprintf(msg, n, "understanding session: %s", err.msg);
        return -1;
    }
    return 0;
}

/* Marks every running understanding job for cancellation (shutdown); mutex held. */
void srv_chat_worker_cancel_all(srv_engine *e) {
    (void)e;
    for (int i = 0; i < g_chat.n_running; i++) g_chat.running[i]->cancel = 1;
}

void srv_chat_worker_destroy(srv_engine *e) {
    (void)e;
    if (g_chat.b) janus_ask_batch_free(g_chat.b);
    if (g_chat.s) janus_session_free(g_chat.s);
    free(g_chat.running);
    memset(&g_chat, 0, sizeof g_chat);
}
