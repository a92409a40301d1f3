/* server/jobs.c — see jobs.h. The generation worker is here; the understanding worker is in
 * server/chat_worker.c. */
#define _POSIX_C_SOURCE 200809L
#include "jobs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int srv_job_finished(const srv_job *j) { return j->state == JOB_DONE || j->state == JOB_FAILED || j->state == JOB_CANCELLED; }

/* ---- job lifetime ---- */

srv_job *srv_job_new(srv_engine *e, srv_job_kind kind, int async) {
    srv_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->kind = kind;
    j->async = async;
    j->refs = 1;
    j->batch_id = -1;
    j->t_created = now_s();
    pthread_mutex_lock(&e->mu);
    unsigned long n = ++e->seq;
    pthread_mutex_unlock(&e->mu);
    /* the replica name routes job lookups behind a load balancer; the counter makes it unique
     * within the process, the start time across restarts */
    snprintf(j->id, sizeof j->id, "%s-%s-%lx%04lx", kind == JOB_GEN ? "img" : "chat", e->cfg->replica,
             (unsigned long)time(NULL), n & 0xffff);
    return j;
}

static void job_free(srv_job *j) {
    if (j->files)
        for (int i = 0; i < j->gen.n; i++) free(j->files[i].data);
    free(j->files);
    srv_gen_req_free(&j->gen);
    srv_chat_req_free(&j->chat);
    if (j->file_names) {
        for (char **p = j->file_names; *p; p++) free(*p);
        free(j->file_names);
    }
    if (j->rgb) janus_images_free(j->rgb, j->n_rgb);
    free(j->text.p);
    free(j);
}

void srv_job_release_locked(srv_engine *e, srv_job *j) {
    (void)e;
    if (--j->refs == 0) job_free(j);
}

void srv_job_release(srv_engine *e, srv_job *j) {
    if (!j) return;
    pthread_mutex_lock(&e->mu);
    /* the last client reference of an unfinished job: nobody waits for it any more */
    if (!j->async && !srv_job_finished(j) && j->refs <= 2) j->cancel = 1;
    pthread_cond_broadcast(&e->cv);
    srv_job_release_locked(e, j);
    pthread_mutex_unlock(&e->mu);
}

/* Keeps at most cfg->max_jobs finished async jobs: the oldest finished one goes first. */
static void table_trim(srv_engine *e) {
    while (e->n_table > e->cfg->max_jobs) {
        int victim = -1;
        for (int i = 0; i < e->n_table && victim < 0; i++)
            if (srv_job_finished(e->table[i])) victim = i;
        if (victim < 0) return;
        srv_job *j = e->table[victim];
        memmove(e->table + victim, e->table + victim + 1, (size_t)(e->n_table - victim - 1) * sizeof *e->table);
        e->n_table--;
        srv_job_release_locked(e, j);
    }
}

int srv_job_submit(srv_engine *e, srv_job *j, srv_error *err) {
    pthread_mutex_lock(&e->mu);
    int rc = 0;
    if (e->stopping) {
        rc = srv_fail(err, 503, "server_error", "shutting_down", "", "the server is shutting down");
    } else if (!e->ready) {
        rc = srv_fail(err, 503, "server_error", "loading", "", "the model is still loading");
    } else if (e->n_gen_queued + e->n_chat_queued >= e->cfg->max_queue) {
        rc = srv_fail(err, 503, "server_error", "queue_full", "", "%d requests are waiting, the limit (--max-queue) is %d; retry later",
                      e->n_gen_queued + e->n_chat_queued, e->cfg->max_queue);
    } else if (j->async && e->n_table >= 4 * e->cfg->max_jobs) {
        rc = srv_fail(err, 503, "server_error", "too_many_jobs", "", "%d jobs are held; retry later", e->n_table);
    }
    if (!rc && j->async) {
        if (e->n_table == e->cap_table) {
            int cap = e->cap_table ? 2 * e->cap_table : 64;
            srv_job **t = realloc(e->table, (size_t)cap * sizeof *t);
            if (!t) rc = srv_fail(err, 503, "server_error", "out_of_memory", "", "out of memory");
            else e->table = t, e->cap_table = cap;
        }
        if (!rc) {
            e->table[e->n_table++] = j;
            j->refs++;
            table_trim(e);
        }
    }
    if (!rc) {
        j->state = JOB_QUEUED;
        j->refs++; /* the queue's, then the worker's */
        j->next = NULL;
        if (j->kind == JOB_GEN) {
            if (e->gen_tail) e->gen_tail->next = j;
            else e->gen_head = j;
            e->gen_tail = j;
            e->n_gen_queued++;
        } else {
            if (e->chat_tail) e->chat_tail->next = j;
            else e->chat_head = j;
            e->chat_tail = j;
            e->n_chat_queued++;
        }
        e->n_requests++;
        pthread_cond_broadcast(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

srv_job *srv_job_find(srv_engine *e, const char *id) {
    srv_job *found = NULL;
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < e->n_table && !found; i++)
        if (!strcmp(e->table[i]->id, id)) found = e->table[i];
    if (found) found->refs++;
    pthread_mutex_unlock(&e->mu);
    return found;
}

int srv_job_queue_position(srv_engine *e, const srv_job *j) {
    if (j->state != JOB_QUEUED) return -1;
    int k = 0;
    for (const srv_job *q = j->kind == JOB_GEN ? e->gen_head : e->chat_head; q; q = q->next, k++)
        if (q == j) return k;
    return -1;
}

double srv_job_eta(srv_engine *e, const srv_job *j) {
    if (j->kind != JOB_GEN || e->gen_step_s <= 0) return -1;
    if (j->state == JOB_RUNNING) return (GEN_STEPS - j->steps) * e->gen_step_s;
    if (j->state != JOB_QUEUED) return 0;
    /* queued: the running requests finish first (one at a time is the pessimistic bound) */
    int ahead = srv_job_queue_position(e, j) + e->n_gen_running;
    return (ahead + 1) * GEN_STEPS * e->gen_step_s;
}

/* Pops the head of a queue; mutex held. */
static srv_job *pop(srv_job **head, srv_job **tail, int *count) {
    srv_job *j = *head;
    if (!j) return NULL;
    *head = j->next;
    if (!*head) *tail = NULL;
    j->next = NULL;
    (*count)--;
    return j;
}

/* Ends a job (mutex held): state, time, wake waiters, drop the worker's reference. */
static void job_end(srv_engine *e, srv_job *j, srv_job_state st) {
    j->state = st;
    j->t_done = now_s();
    if (st == JOB_FAILED) e->n_failed++;
    pthread_cond_broadcast(&e->cv);
    srv_job_release_locked(e, j);
}

static int status_for(int code) {
    return code == JANUS_ERR_USAGE || code == JANUS_ERR_FORMAT || code == JANUS_ERR_IO ? 400 : code == JANUS_ERR_NOMEM ? 503 : 500;
}

void srv_job_fail_janus(srv_engine *e, srv_job *j, const janus_error *err) {
    srv_fail(&j->err, status_for(err->code), status_for(err->code) == 400 ? "invalid_request_error" : "server_error",
             err->code == JANUS_ERR_NOMEM ? "out_of_memory" : NULL, "", "%s", err->msg[0] ? err->msg : "failed");
    job_end(e, j, JOB_FAILED);
}

/* ---- generation worker ---- */

/* Writes a finished request's images as PNG/JPEG files with the metadata `janus generate` writes,
 * so the same seed gives the same file, and reads them back (the library writes files only). */
static int encode_images(srv_engine *e, srv_job *j, const janus_image *imgs, janus_error *err) {
    const srv_gen_req *g = &j->gen;
    char seed[32], cfg[32], temp[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)g->seed);
    snprintf(cfg, sizeof cfg, "%g", (double)(float)g->cfg);
    snprintf(temp, sizeof temp, "%g", (double)(float)g->temperature);
    const char *kv[] = {"prompt", g->prompt, "seed", seed, "cfg", cfg, "temperature", temp, "model", e->model_name,
                        "software", "janus.c " JANUS_VERSION_STRING};
    const char *ext = g->output_format == SRV_FMT_JPEG ? "jpg" : "png";
    j->files = calloc((size_t)g->n, sizeof *j->files);
    if (g->response_format == SRV_RESP_URL) j->file_names = calloc((size_t)g->n + 1, sizeof *j->file_names);
    if (!j->files || (g->response_format == SRV_RESP_URL && !j->file_names)) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        err->code = JANUS_ERR_NOMEM;
        return -1;
    }
    for (int i = 0; i < g->n; i++) {
        char name[160], path[4400];
        snprintf(name, sizeof name, "%s-%d.%s", j->id, i, ext);
        int keep = g->response_format == SRV_RESP_URL;
        snprintf(path, sizeof path, "%s/%s", keep ? e->out_dir : e->tmp_dir, name);
        if (janus_image_write(&imgs[i], path, kv, 6, 1, 95, err)) return -1;
        FILE *f = fopen(path, "rb");
        long len = -1;
        if (f && fseek(f, 0, SEEK_END) == 0) len = ftell(f);
        if (f && len >= 0 && fseek(f, 0, SEEK_SET) == 0 && (j->files[i].data = malloc((size_t)len + 1)))
            j->files[i].len = fread(j->files[i].data, 1, (size_t)len, f);
        if (f) fclose(f);
        if (!keep) unlink(path);
        if (!j->files[i].data || (long)j->files[i].len != len) {
            snprintf(err->msg, sizeof err->msg, "cannot read back %.900s", path);
            err->code = JANUS_ERR_IO;
            return -1;
        }
        if (keep && !(j->file_names[i] = strdup(name))) {
            err->code = JANUS_ERR_NOMEM;
            return -1;
        }
    }
    return 0;
}

typedef struct gen_worker {
    srv_engine *e;
    janus_session *s;
    janus_gen_batch *b;
    srv_job **running;
    int n_running, cap_running;
} gen_worker;

/* Admits queued requests while their rows fit (mutex held; released around the prefill). */
static void gen_admit(gen_worker *w) {
    srv_engine *e = w->e;
    while (e->gen_head && !e->stopping) {
        srv_job *j = e->gen_head;
        if (j->cancel) {
            pop(&e->gen_head, &e->gen_tail, &e->n_gen_queued);
            job_end(e, j, JOB_CANCELLED);
            continue;
        }
        int live = janus_gen_batch_n_live(w->b);
        if (j->needs_empty && live > 0) return;
        if (2 * j->gen.n > janus_gen_batch_free_rows(w->b) && live > 0) return;
        if (w->n_running == w->cap_running) {
            int cap = w->cap_running ? 2 * w->cap_running : 16;
            srv_job **r = realloc(w->running, (size_t)cap * sizeof *r);
            if (!r) return;
            w->running = r;
            w->cap_running = cap;
        }
        pop(&e->gen_head, &e->gen_tail, &e->n_gen_queued);
        j->state = JOB_RUNNING;
        j->t_started = now_s();
        janus_gen_params p = janus_gen_default_params();
        p.prompt = j->gen.prompt;
        p.negative_prompt = j->gen.negative_prompt;
        p.n_images = j->gen.n;
        p.seed = j->gen.seed;
        p.cfg = (float)j->gen.cfg;
        p.temperature = (float)j->gen.temperature;
        e->n_gen_running++;
        pthread_mutex_unlock(&e->mu);
        janus_error err = {0};
        int id = janus_gen_batch_add(w->b, &p, &err);
        pthread_mutex_lock(&e->mu);
        if (id < 0 && err.code == JANUS_ERR_USAGE && live > 0 && !j->needs_empty) {
            /* does not fit beside the running requests (rows or context): first in line once they end */
            e->n_gen_running--;
            j->needs_empty = 1;
            j->state = JOB_QUEUED;
            j->next = e->gen_head;
            e->gen_head = j;
            if (!e->gen_tail) e->gen_tail = j;
            e->n_gen_queued++;
            return;
        }
        if (id < 0) {
            e->n_gen_running--;
            srv_job_fail_janus(e, j, &err);
            continue;
        }
        j->batch_id = id;
        w->running[w->n_running++] = j;
        pthread_cond_broadcast(&e->cv);
    }
}

/* After a step: progress, cancels, and finished requests (mutex held; released for decoding). */
static void gen_collect(gen_worker *w) {
    srv_engine *e = w->e;
    for (int i = 0; i < w->n_running;) {
        srv_job *j = w->running[i];
        int steps = 0;
        int st = janus_gen_batch_state(w->b, j->batch_id, &steps);
        j->steps = steps;
        if (st == JANUS_GEN_RUNNING && j->cancel) {
            janus_gen_batch_cancel(w->b, j->batch_id);
            st = JANUS_GEN_CANCELLED;
        }
        if (st == JANUS_GEN_RUNNING) {
            i++;
            continue;
        }
        w->running[i] = w->running[--w->n_running];
        e->n_gen_running--;
        int32_t *tokens = NULL;
        janus_error err = {0};
        if (st != JANUS_GEN_DONE) {
            janus_gen_batch_take_tokens(w->b, j->batch_id, &tokens, NULL, &err); /* forgets the id */
            free(tokens);
            job_end(e, j, JOB_CANCELLED);
            continue;
        }
        int rc = janus_gen_batch_take_tokens(w->b, j->batch_id, &tokens, NULL, &err);
        pthread_mutex_unlock(&e->mu);
        janus_image *imgs = NULL;
        if (!rc) rc = janus_session_decode(w->s, tokens, j->gen.n, &imgs, &err);
        if (!rc) rc = encode_images(e, j, imgs, &err);
        if (imgs) janus_images_free(imgs, j->gen.n);
        free(tokens);
        pthread_mutex_lock(&e->mu);
        if (rc) srv_job_fail_janus(e, j, &err);
        else job_end(e, j, JOB_DONE);
    }
    pthread_cond_broadcast(&e->cv);
}

static void *gen_worker_main(void *arg) {
    gen_worker *w = arg;
    srv_engine *e = w->e;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        gen_admit(w);
        if (w->n_running == 0) {
            if (e->stopping) break;
            pthread_cond_wait(&e->cv, &e->mu);
            continue;
        }
        pthread_mutex_unlock(&e->mu);
        janus_error err = {0};
        double t0 = now_s();
        int live = janus_gen_batch_step(w->b, &err);
        double dt = now_s() - t0;
        pthread_mutex_lock(&e->mu);
        e->gen_step_s = e->gen_step_s > 0 ? 0.9 * e->gen_step_s + 0.1 * dt : dt;
        if (live < 0) { /* a backend failure ends every live request */
            for (int i = 0; i < w->n_running; i++) srv_job_fail_janus(e, w->running[i], &err);
            e->n_gen_running -= w->n_running;
            w->n_running = 0;
            continue;
        }
        gen_collect(w);
    }
    /* shutdown: whatever is still queued is cancelled */
    while (e->gen_head) job_end(e, pop(&e->gen_head, &e->gen_tail, &e->n_gen_queued), JOB_CANCELLED);
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ---- engine ---- */

static gen_worker g_gen; /* one per process, as the engine */

int srv_engine_init(srv_engine *e, const srv_config *cfg, char *msg, size_t n) {
    memset(e, 0, sizeof *e);
    e->cfg = cfg;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    const char *tmp = getenv("TMPDIR");
    snprintf(e->tmp_dir, sizeof e->tmp_dir, "%s/janus-serve-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(e->tmp_dir)) {
        snprintf(msg, n, "cannot create a temporary directory %s: %s", e->tmp_dir, strerror(errno));
        return -1;
    }
    if (cfg->output_dir) {
        snprintf(e->out_dir, sizeof e->out_dir, "%s", cfg->output_dir);
        if (mkdir(e->out_dir, 0755) && errno != EEXIST) {
            snprintf(msg, n, "cannot create the output directory %s: %s", e->out_dir, strerror(errno));
            return -1;
        }
    } else {
        snprintf(e->out_dir, sizeof e->out_dir, "%.4000s/files", e->tmp_dir);
        if (mkdir(e->out_dir, 0700)) {
            snprintf(msg, n, "cannot create %s: %s", e->out_dir, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int srv_engine_start(srv_engine *e, char *msg, size_t n) {
    const srv_config *c = e->cfg;
    janus_error err = {0};
    janus_load_params lp = janus_load_default_params();
    lp.backend = c->backend;
    lp.n_threads = c->n_threads;
    lp.verbose = c->verbose;
    lp.kv_type = c->kv_type;
    janus_model *m = janus_model_load(c->model_path, &lp, &err);
    if (!m) {
        snprintf(msg, n, "%s", err.msg);
        return -1;
    }
    e->model = m;
    e->model_name = janus_model_name(m);
    janus_session_params sp = janus_session_default_params();
    sp.n_threads = c->n_threads;
    sp.max_rows = 2 * c->limits.max_n;
    sp.mem_limit = c->mem_limit;
    g_gen.e = e;
    g_gen.s = janus_session_create(m, &sp, &err);
    g_gen.b = g_gen.s ? janus_gen_batch_create(g_gen.s, &err) : NULL;
    if (!g_gen.b) {
        snprintf(msg, n, "generation session: %s", err.msg);
        return -1;
    }
    if (srv_chat_worker_create(e, msg, n)) return -1;
    if (pthread_create(&e->gen_thread, NULL, gen_worker_main, &g_gen)) {
        snprintf(msg, n, "cannot start the generation worker");
        return -1;
    }
    if (pthread_create(&e->chat_thread, NULL, srv_chat_worker, e)) {
        pthread_mutex_lock(&e->mu);
        e->stopping = 1;
        pthread_cond_broadcast(&e->cv);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->gen_thread, NULL);
        snprintf(msg, n, "cannot start the understanding worker");
        return -1;
    }
    pthread_mutex_lock(&e->mu);
    e->workers_started = 1;
    e->ready = 1;
    pthread_mutex_unlock(&e->mu);
    return 0;
}

void srv_engine_shutdown(srv_engine *e, int grace_s) {
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    pthread_cond_broadcast(&e->cv);
    double deadline = now_s() + grace_s;
    while (e->workers_started && (e->n_gen_running || e->n_chat_running) && now_s() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&e->cv, &e->mu, &ts);
    }
    /* past the grace period: cancel what runs (async jobs too) */
    for (srv_job *q = e->gen_head; q; q = q->next) q->cancel = 1;
    for (srv_job *q = e->chat_head; q; q = q->next) q->cancel = 1;
    for (int i = 0; i < g_gen.n_running; i++) g_gen.running[i]->cancel = 1;
    srv_chat_worker_cancel_all(e);
    for (int i = 0; i < e->n_table; i++) e->table[i]->cancel = 1;
    pthread_cond_broadcast(&e->cv);
    int started = e->workers_started;
    pthread_mutex_unlock(&e->mu);
    if (started) {
        pthread_join(e->gen_thread, NULL);
        pthread_join(e->chat_thread, NULL);
    }
}

void srv_engine_free(srv_engine *e) {
    for (int i = 0; i < e->n_table; i++) srv_job_release_locked(e, e->table[i]);
    free(e->table);
    free(g_gen.running);
    if (g_gen.b) janus_gen_batch_free(g_gen.b);
    if (g_gen.s) janus_session_free(g_gen.s);
    memset(&g_gen, 0, sizeof g_gen);
    srv_chat_worker_destroy(e);
    if (e->model) janus_model_free(e->model);
    if (!e->cfg->output_dir) { /* the server's own temporary directory: its files go with it */
        DIR *d = opendir(e->out_dir);
        for (struct dirent *de; d && (de = readdir(d));) {
            char path[4400];
            if (de->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", e->out_dir, de->d_name);
            unlink(path);
        }
        if (d) closedir(d);
        rmdir(e->out_dir);
    }
    rmdir(e->tmp_dir);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
}
