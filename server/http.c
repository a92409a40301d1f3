/* server/http.c — libmicrohttpd glue: routes, API key, CORS, body limits, access log, JSON
 * responses and server-sent events, and srv_run (startup, signals, graceful shutdown).
 *
 * Threading: libmicrohttpd runs one thread per connection (bounded by --max-conn), so a handler
 * may block while its job runs: it waits on the engine's condition variable and watches its
 * socket, and a client that goes away cancels its job. Streams are MHD callback responses whose
 * reader blocks the same way. Idle connections time out after --timeout seconds, so slow
 * clients cannot hold threads. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>

#include "engine/io/json.h"
#include "jobs.h"

extern const unsigned char srv_index_html[]; /* server/web/index.html, embedded at build time */
extern const size_t srv_index_html_len;

typedef struct srv_http {
    const srv_config *cfg;
    srv_engine *e;
    struct MHD_Daemon *d;
} srv_http;

/* Per-request state. */
typedef struct conn_ctx {
    jn_buf body;
    int too_big;
    double t0;
    int status;
    size_t bytes_out;
    int streamed;
    int started;     /* the access handler has seen this request */
    int busy;        /* counted in srv_engine.n_busy until the response is sent */
    char method[12];
    char uri[200];   /* for the access log (query string included, truncated) */
} conn_ctx;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void logf_(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    fputs("janus serve: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}

/* ---- responses ---- */

static void add_common_headers(srv_http *h, struct MHD_Response *r) {
    if (h->cfg->cors_origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", h->cfg->cors_origin);
        MHD_add_response_header(r, "Vary", "Origin");
    }
}

static enum MHD_Result queue(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx, int status, struct MHD_Response *r) {
    if (!r) return MHD_NO;
    add_common_headers(h, r);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    ctx->status = status;
    return ok;
}

static enum MHD_Result send_bytes(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx, int status, const char *type,
                                  const void *data, size_t len, const char *retry_after) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    if (retry_after) MHD_add_response_header(r, "Retry-After", retry_after);
    ctx->bytes_out = len;
    return queue(h, c, ctx, status, r);
}

static enum MHD_Result send_json(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx, int status, jn_buf *b) {
    if (b->oom) {
        jn_buf_free(b);
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":\"out_of_memory\"}}";
        return send_bytes(h, c, ctx, 500, "application/json", oom, sizeof oom - 1, NULL);
    }
    enum MHD_Result ok = send_bytes(h, c, ctx, status, "application/json", b->data ? b->data : "", b->len, NULL);
    jn_buf_free(b);
    return ok;
}

static void write_error_object(jn_buf *b, const srv_error *e) {
    jn_buf_puts(b, "{\"message\":");
    jn_json_write_string(b, e->message, strlen(e->message));
    jn_buf_puts(b, ",\"type\":");
    jn_json_write_string(b, e->type ? e->type : "invalid_request_error", strlen(e->type ? e->type : "invalid_request_error"));
    jn_buf_puts(b, ",\"param\":");
    if (e->param[0]) jn_json_write_string(b, e->param, strlen(e->param));
    else jn_buf_puts(b, "null");
    jn_buf_puts(b, ",\"code\":");
    if (e->code) jn_json_write_string(b, e->code, strlen(e->code));
    else jn_buf_puts(b, "null");
    jn_buf_puts(b, "}");
}

static enum MHD_Result send_error(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx, const srv_error *e) {
    jn_buf b = {0};
    jn_buf_puts(&b, "{\"error\":");
    write_error_object(&b, e);
    jn_buf_puts(&b, "}");
    const char *retry = e->status == 503 ? "5" : NULL;
    struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_COPY);
    ctx->bytes_out = b.len;
    jn_buf_free(&b);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (retry) MHD_add_response_header(r, "Retry-After", retry);
    if (e->status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    return queue(h, c, ctx, e->status, r);
}

static enum MHD_Result fail(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx, int status, const char *type,
                            const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;
static enum MHD_Result fail(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx, int status, const char *type,
                            const char *code, const char *fmt, ...) {
    srv_error e = {0};
    e.status = status;
    e.type = type;
    e.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    return send_error(h, c, ctx, &e);
}

/* ---- JSON bodies of results ---- */

static void write_images_result(jn_buf *b, srv_engine *e, const srv_job *j, const char *host) {
    const srv_gen_req *g = &j->gen;
    jn_buf_printf(b, "{\"created\":%lld,\"data\":[", (long long)time(NULL));
    for (int i = 0; i < g->n; i++) {
        if (i) jn_buf_puts(b, ",");
        if (g->response_format == SRV_RESP_URL) {
            jn_buf_puts(b, "{\"url\":\"");
            if (host) jn_buf_printf(b, "http://%s", host);
            jn_buf_printf(b, "/v1/files/%s\"", j->file_names[i]);
        } else {
            size_t n = 0;
            char *b64 = srv_base64_encode(j->files[i].data, j->files[i].len, &n);
            if (!b64) {
                b->oom = 1;
                return;
            }
            jn_buf_puts(b, "{\"b64_json\":\"");
            jn_buf_append(b, b64, n);
            jn_buf_puts(b, "\"");
            free(b64);
        }
        jn_buf_printf(b, ",\"index\":%d,\"revised_prompt\":null}", i);
    }
    jn_buf_printf(b, "],\"output_format\":\"%s\",\"size\":\"384x384\",\"seed\":%llu,\"model\":",
                  g->output_format == SRV_FMT_JPEG ? "jpeg" : "png", (unsigned long long)g->seed);
    jn_json_write_string(b, e->model_name, strlen(e->model_name));
    jn_buf_puts(b, "}");
}

static const char *state_name(srv_job_state s) {
    static const char *names[] = {"queued", "running", "done", "failed", "cancelled"};
    return names[s];
}

/* mutex held */
static void write_job(jn_buf *b, srv_engine *e, const srv_job *j, const char *host) {
    jn_buf_puts(b, "{\"id\":");
    jn_json_write_string(b, j->id, strlen(j->id));
    jn_buf_printf(b, ",\"object\":\"job\",\"status\":\"%s\",\"step\":%d,\"total_steps\":%d,\"n\":%d,\"seed\":%llu",
                  state_name(j->state), j->steps, GEN_STEPS, j->gen.n, (unsigned long long)j->gen.seed);
    int pos = srv_job_queue_position(e, j);
    if (pos >= 0) jn_buf_printf(b, ",\"queue_position\":%d", pos);
    double eta = srv_job_eta(e, j);
    if (eta >= 0) jn_buf_printf(b, ",\"eta_s\":%.1f", eta);
    else jn_buf_puts(b, ",\"eta_s\":null");
    if (j->state == JOB_DONE) {
        jn_buf_puts(b, ",\"result\":");
        write_images_result(b, e, j, host);
    } else if (j->state == JOB_FAILED) {
        jn_buf_puts(b, ",\"error\":");
        write_error_object(b, &j->err);
    }
    jn_buf_puts(b, "}");
}

static void write_chat_result(jn_buf *b, srv_engine *e, const srv_job *j) {
    jn_buf_printf(b, "{\"id\":\"chatcmpl-%s\",\"object\":\"chat.completion\",\"created\":%lld,\"model\":", j->id,
                  (long long)time(NULL));
    jn_json_write_string(b, e->model_name, strlen(e->model_name));
    jn_buf_puts(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    jn_json_write_string(b, j->text.p ? j->text.p : "", j->text.len);
    jn_buf_printf(b, "},\"logprobs\":null,\"finish_reason\":\"%s\"}],", j->finish_reason ? j->finish_reason : "stop");
    jn_buf_printf(b, "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}", j->prompt_tokens,
                  j->completion_tokens, j->prompt_tokens + j->completion_tokens);
}

/* ---- waiting for a job ---- */

/* The client closed its side (an orderly shutdown reads as 0 bytes). */
static int client_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 0;
    char byte;
    ssize_t n = recv(ci->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void timed_wait(srv_engine *e, double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long ns = ts.tv_nsec + (long)(seconds * 1e9);
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    pthread_cond_timedwait(&e->cv, &e->mu, &ts);
}

/* Blocks until j ends; 0 when it did, -1 when the client went away (the job is then cancelled). */
static int wait_job(srv_engine *e, struct MHD_Connection *c, srv_job *j) {
    int rc = 0;
    pthread_mutex_lock(&e->mu);
    while (!srv_job_finished(j)) {
        timed_wait(e, 0.25);
        if (!srv_job_finished(j) && client_gone(c)) {
            j->cancel = 1;
            pthread_cond_broadcast(&e->cv);
            rc = -1;
            break;
        }
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* Handlers that still owe a client a response (shutdown waits for them before closing sockets). */
static void busy_add(srv_engine *e, int d) {
    pthread_mutex_lock(&e->mu);
    e->n_busy += d;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

/* A finished job that did not succeed, as an error response. */
static enum MHD_Result send_job_failure(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx, const srv_job *j) {
    if (j->state == JOB_FAILED) return send_error(h, c, ctx, &j->err);
    return fail(h, c, ctx, h->e->stopping ? 503 : 499, "server_error", "cancelled", "the request was cancelled%s",
                h->e->stopping ? " (the server is shutting down)" : "");
}

/* ---- server-sent events ---- */

typedef struct sse {
    srv_http *h;
    srv_job *job;
    jn_buf out;
    size_t out_pos;
    size_t sent;   /* chat: text bytes sent */
    int last_step; /* generation: the step of the last progress event */
    int started, finished;
    double last_event;
    char host[256];
} sse;

static void sse_data_begin(jn_buf *b) { jn_buf_puts(b, "data: "); }
static void sse_data_end(jn_buf *b) { jn_buf_puts(b, "\n\n"); }

static void chat_chunk(sse *s, const char *delta_text, size_t n, int role, const char *finish) {
    srv_job *j = s->job;
    jn_buf *b = &s->out;
    sse_data_begin(b);
    jn_buf_printf(b, "{\"id\":\"chatcmpl-%s\",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":", j->id,
                  (long long)time(NULL));
    jn_json_write_string(b, s->h->e->model_name, strlen(s->h->e->model_name));
    jn_buf_puts(b, ",\"choices\":[{\"index\":0,\"delta\":{");
    if (role) jn_buf_puts(b, "\"role\":\"assistant\",");
    jn_buf_puts(b, "\"content\":");
    if (finish && !n) jn_buf_puts(b, "null");
    else jn_json_write_string(b, delta_text ? delta_text : "", n);
    jn_buf_puts(b, "},\"logprobs\":null,\"finish_reason\":");
    if (finish) jn_buf_printf(b, "\"%s\"", finish);
    else jn_buf_puts(b, "null");
    jn_buf_puts(b, "}]");
    if (j->chat.include_usage) jn_buf_puts(b, ",\"usage\":null");
    jn_buf_puts(b, "}");
    sse_data_end(b);
}

static void sse_end(sse *s) {
    srv_job *j = s->job;
    if (j->state != JOB_DONE) {
        srv_error err = j->err;
        if (j->state != JOB_FAILED)
            srv_fail(&err, 499, "server_error", "cancelled", "", "the request was cancelled");
        sse_data_begin(&s->out);
        jn_buf_puts(&s->out, "{\"error\":");
        write_error_object(&s->out, &err);
        jn_buf_puts(&s->out, "}");
        sse_data_end(&s->out);
    }
    jn_buf_puts(&s->out, "data: [DONE]\n\n");
    s->finished = 1;
}

/* Produces the next events into s->out (mutex held). */
static void sse_produce_chat(sse *s) {
    srv_job *j = s->job;
    if (!s->started) {
        chat_chunk(s, "", 0, 1, NULL);
        s->started = 1;
        return;
    }
    if (j->visible > s->sent) {
        chat_chunk(s, j->text.p + s->sent, j->visible - s->sent, 0, NULL);
        s->sent = j->visible;
        return;
    }
    if (!srv_job_finished(j)) return;
    if (j->state == JOB_DONE) {
        chat_chunk(s, NULL, 0, 0, j->finish_reason ? j->finish_reason : "stop");
        if (j->chat.include_usage) {
            sse_data_begin(&s->out);
            jn_buf_printf(&s->out,
                          "{\"id\":\"chatcmpl-%s\",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"choices\":[],"
                          "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}",
                          j->id, (long long)time(NULL), j->prompt_tokens, j->completion_tokens,
                          j->prompt_tokens + j->completion_tokens);
            sse_data_end(&s->out);
        }
    }
    sse_end(s);
}

static void sse_produce_gen(sse *s) {
    srv_job *j = s->job;
    srv_engine *e = s->h->e;
    double t = now_s();
    if (!srv_job_finished(j)) {
        if (s->started && (j->steps == s->last_step || t - s->last_event < 0.1)) return;
        s->started = 1;
        s->last_step = j->steps;
        s->last_event = t;
        sse_data_begin(&s->out);
        jn_buf_printf(&s->out, "{\"type\":\"image_generation.progress\",\"id\":\"%s\",\"status\":\"%s\",\"step\":%d,\"total_steps\":%d",
                      j->id, state_name(j->state), j->steps, GEN_STEPS);
        int pos = srv_job_queue_position(e, j);
        if (pos >= 0) jn_buf_printf(&s->out, ",\"queue_position\":%d", pos);
        double eta = srv_job_eta(e, j);
        if (eta >= 0) jn_buf_printf(&s->out, ",\"eta_s\":%.1f", eta);
        jn_buf_puts(&s->out, "}");
        sse_data_end(&s->out);
        return;
    }
    if (j->state == JOB_DONE) {
        for (int i = 0; i < j->gen.n && !s->out.oom; i++) {
            sse_data_begin(&s->out);
            jn_buf_printf(&s->out, "{\"type\":\"image_generation.completed\",\"index\":%d,", i);
            if (j->gen.response_format == SRV_RESP_URL) {
                jn_buf_puts(&s->out, "\"url\":\"");
                if (s->host[0]) jn_buf_printf(&s->out, "http://%s", s->host);
                jn_buf_printf(&s->out, "/v1/files/%s\"", j->file_names[i]);
            } else {
                size_t n = 0;
                char *b64 = srv_base64_encode(j->files[i].data, j->files[i].len, &n);
                if (!b64) {
                    s->out.oom = 1;
                    break;
                }
                jn_buf_puts(&s->out, "\"b64_json\":\"");
                jn_buf_append(&s->out, b64, n);
                jn_buf_puts(&s->out, "\"");
                free(b64);
            }
            jn_buf_printf(&s->out, ",\"output_format\":\"%s\",\"size\":\"384x384\",\"seed\":%llu}",
                          j->gen.output_format == SRV_FMT_JPEG ? "jpeg" : "png", (unsigned long long)j->gen.seed);
            sse_data_end(&s->out);
        }
    }
    sse_end(s);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    sse *s = cls;
    srv_engine *e = s->h->e;
    if (s->out_pos == s->out.len) {
        if (s->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        s->out.len = 0;
        s->out_pos = 0;
        pthread_mutex_lock(&e->mu);
        double t0 = now_s();
        for (;;) {
            if (s->job->kind == JOB_CHAT) sse_produce_chat(s);
            else sse_produce_gen(s);
            if (s->out.len || s->out.oom) break;
            if (now_s() - t0 > 15) { /* a comment keeps proxies from timing the stream out */
                jn_buf_puts(&s->out, ": keep-alive\n\n");
                break;
            }
            timed_wait(e, 0.1);
        }
        pthread_mutex_unlock(&e->mu);
        if (s->out.oom) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = s->out.len - s->out_pos;
    if (n > max) n = max;
    memcpy(buf, s->out.data + s->out_pos, n);
    s->out_pos += n;
    return (ssize_t)n;
}

static void sse_free(void *cls) {
    sse *s = cls;
    srv_job_release(s->h->e, s->job); /* a client that left mid-stream cancels its job */
    busy_add(s->h->e, -1);
    jn_buf_free(&s->out);
    free(s);
}

static enum MHD_Result start_stream(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx, srv_job *j) {
    sse *s = calloc(1, sizeof *s);
    if (!s) {
        srv_job_release(h->e, j);
        return fail(h, c, ctx, 500, "server_error", "out_of_memory", "out of memory");
    }
    s->h = h;
    s->job = j;
    s->last_step = -1;
    busy_add(h->e, 1);
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (host && strlen(host) < sizeof s->host && !strpbrk(host, "\"\\ \r\n")) snprintf(s->host, sizeof s->host, "%s", host);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, sse_read, s, sse_free);
    if (!r) {
        sse_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* nginx: pass events on at once */
    ctx->streamed = 1;
    return queue(h, c, ctx, 200, r);
}

/* ---- routes ---- */

static const char *safe_host(struct MHD_Connection *c) {
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!host || strlen(host) > 255 || strpbrk(host, "\"\\ \r\n")) return NULL;
    return host;
}

/* Decodes the images of a chat request into RGB: uploads from memory (janus_image_load_memory),
 * local paths under --allow-dir from their files. */
static int load_chat_images(srv_http *h, srv_chat_req *r, janus_image **out, srv_error *err) {
    janus_image *imgs = calloc((size_t)(r->n_images ? r->n_images : 1), sizeof *imgs);
    if (!imgs) return srv_fail(err, 500, "server_error", "out_of_memory", "", "out of memory");
    int rc = 0;
    for (int i = 0; i < r->n_images; i++) {
        srv_image_ref *ref = &r->images[i];
        janus_error je = {0};
        if (ref->path) {
            char real[PATH_MAX], root[PATH_MAX];
            if (!h->cfg->allow_dir) {
                rc = srv_fail(err, 400, "invalid_request_error", "local_path_refused", "image_url",
                              "image %d: local paths are refused (the server was started without --allow-dir)", i + 1);
                goto fail;
            }
            if (!realpath(ref->path, real) || !realpath(h->cfg->allow_dir, root) ||
                strncmp(real, root, strlen(root)) || (real[strlen(root)] != '/' && strcmp(root, "/"))) {
                rc = srv_fail(err, 400, "invalid_request_error", "local_path_refused", "image_url",
                              "image %d: %s is not an existing file under the allowed directory", i + 1, ref->path);
                goto fail;
            }
            rc = janus_image_load(real, -1, &imgs[i], &je);
        } else {
            /* uploads are PNG or JPEG (checked by their bytes when the request was parsed): decoded
             * from memory, never written to disk */
            rc = janus_image_load_memory(ref->bytes, ref->len, "the uploaded image", &imgs[i], &je);
            free(ref->bytes); /* decoded: the bytes are not needed any more */
            ref->bytes = NULL;
        }
        if (rc) {
            rc = srv_fail(err, 400, "invalid_request_error", "invalid_image", "image_url", "image %d: %s", i + 1, je.msg);
            goto fail;
        }
        if ((long)imgs[i].width * imgs[i].height > h->cfg->max_image_pixels) {
            rc = srv_fail(err, 413, "invalid_request_error", "image_too_large", "image_url",
                          "image %d is %dx%d; the limit is %ld pixels (--max-image-pixels)", i + 1, imgs[i].width,
                          imgs[i].height, h->cfg->max_image_pixels);
            goto fail;
        }
    }
    *out = imgs;
    return 0;
fail:
    janus_images_free(imgs, r->n_images ? r->n_images : 1);
    return rc;
}

/* A non-streamed request waits here (counted busy until its answer is sent, see on_completed) for
 * its job to end. 1 when the client left first: the job is released and the caller answers 499
 * anyway (the connection just closes). */
static int wait_answer(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx, srv_job *j) {
    busy_add(h->e, 1);
    ctx->busy = 1;
    if (!wait_job(h->e, c, j)) return 0;
    srv_job_release(h->e, j);
    return 1;
}

static enum MHD_Result route_chat(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx) {
    srv_error err = {0};
    srv_chat_req req;
    if (srv_parse_chat(ctx->body.data ? ctx->body.data : "", ctx->body.len, &h->cfg->limits, &req, &err))
        return send_error(h, c, ctx, &err);
    janus_image *imgs = NULL;
    if (load_chat_images(h, &req, &imgs, &err)) {
        srv_chat_req_free(&req);
        return send_error(h, c, ctx, &err);
    }
    srv_job *j = srv_job_new(h->e, JOB_CHAT, 0);
    if (!j) {
        janus_images_free(imgs, req.n_images ? req.n_images : 1);
        srv_chat_req_free(&req);
        return fail(h, c, ctx, 500, "server_error", "out_of_memory", "out of memory");
    }
    j->chat = req;
    j->rgb = imgs;
    j->n_rgb = req.n_images;
    if (!j->n_rgb) { /* keep the one-element array owned */
        janus_images_free(imgs, 1);
        j->rgb = NULL;
    }
    if (srv_job_submit(h->e, j, &err)) {
        srv_job_release(h->e, j);
        return send_error(h, c, ctx, &err);
    }
    if (j->chat.stream) return start_stream(h, c, ctx, j);
    if (wait_answer(h, c, ctx, j)) return fail(h, c, ctx, 499, "invalid_request_error", "client_closed",
                                               "the client closed the connection");
    enum MHD_Result ok;
    if (j->state == JOB_DONE) {
        jn_buf b = {0};
        write_chat_result(&b, h->e, j);
        ok = send_json(h, c, ctx, 200, &b);
    } else {
        ok = send_job_failure(h, c, ctx, j);
    }
    srv_job_release(h->e, j);
    return ok;
}

static enum MHD_Result route_images(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx, int async) {
    srv_error err = {0};
    srv_gen_req req;
    if (srv_parse_gen(ctx->body.data ? ctx->body.data : "", ctx->body.len, &h->cfg->limits, &req, &err))
        return send_error(h, c, ctx, &err);
    srv_job *j = srv_job_new(h->e, JOB_GEN, async);
    if (!j) {
        srv_gen_req_free(&req);
        return fail(h, c, ctx, 500, "server_error", "out_of_memory", "out of memory");
    }
    j->gen = req;
    if (srv_job_submit(h->e, j, &err)) {
        srv_job_release(h->e, j);
        return send_error(h, c, ctx, &err);
    }
    const char *host = safe_host(c);
    enum MHD_Result ok;
    if (async) {
        jn_buf b = {0};
        pthread_mutex_lock(&h->e->mu);
        write_job(&b, h->e, j, host);
        pthread_mutex_unlock(&h->e->mu);
        char loc[160];
        snprintf(loc, sizeof loc, "/v1/jobs/%s", j->id);
        srv_job_release(h->e, j);
        struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_COPY);
        ctx->bytes_out = b.len;
        jn_buf_free(&b);
        if (!r) return MHD_NO;
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "Location", loc);
        return queue(h, c, ctx, 202, r);
    }
    if (j->gen.stream) return start_stream(h, c, ctx, j);
    if (wait_answer(h, c, ctx, j)) return fail(h, c, ctx, 499, "invalid_request_error", "client_closed",
                                               "the client closed the connection");
    if (j->state == JOB_DONE) {
        jn_buf b = {0};
        write_images_result(&b, h->e, j, host);
        ok = send_json(h, c, ctx, 200, &b);
    } else {
        ok = send_job_failure(h, c, ctx, j);
    }
    srv_job_release(h->e, j);
    return ok;
}

static enum MHD_Result route_job(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx, const char *rest, const char *method) {
    char id[96];
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    int cancel = slash && !strcmp(slash, "/cancel");
    if (n == 0 || n >= sizeof id || (slash && !cancel))
        return fail(h, c, ctx, 404, "invalid_request_error", "not_found", "unknown route %s /v1/jobs/%.100s", method, rest);
    memcpy(id, rest, n);
    id[n] = 0;
    if (cancel ? strcmp(method, "POST") : strcmp(method, "GET"))
        return fail(h, c, ctx, 405, "invalid_request_error", "method_not_allowed", "use %s for this route", cancel ? "POST" : "GET");
    srv_job *j = srv_job_find(h->e, id);
    if (!j) return fail(h, c, ctx, 404, "invalid_request_error", "job_not_found", "no job '%s' on this replica (%s)", id, h->cfg->replica);
    jn_buf b = {0};
    pthread_mutex_lock(&h->e->mu);
    if (cancel && !srv_job_finished(j)) {
        j->cancel = 1;
        pthread_cond_broadcast(&h->e->cv);
    }
    write_job(&b, h->e, j, safe_host(c));
    pthread_mutex_unlock(&h->e->mu);
    srv_job_release(h->e, j);
    return send_json(h, c, ctx, 200, &b);
}

static enum MHD_Result route_file(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx, const char *name) {
    size_t n = strlen(name);
    int ok = n > 0 && n < 200 && name[0] != '.';
    for (size_t i = 0; i < n && ok; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '-' || name[i] == '_' || name[i] == '.';
    const char *dot = strrchr(name, '.');
    const char *type = dot && !strcmp(dot, ".png") ? "image/png" : dot && !strcmp(dot, ".jpg") ? "image/jpeg" : NULL;
    if (!ok || !type || strstr(name, ".."))
        return fail(h, c, ctx, 404, "invalid_request_error", "not_found", "no file '%.100s'", name);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", h->e->out_dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        if (fd >= 0) close(fd);
        return fail(h, c, ctx, 404, "invalid_request_error", "not_found", "no file '%.100s'", name);
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    ctx->bytes_out = (size_t)sb.st_size;
    return queue(h, c, ctx, 200, r);
}

static enum MHD_Result route_models(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx) {
    jn_buf b = {0};
    jn_buf_puts(&b, "{\"object\":\"list\",\"data\":[{\"id\":");
    jn_json_write_string(&b, h->e->model_name, strlen(h->e->model_name));
    jn_buf_puts(&b, ",\"object\":\"model\",\"created\":0,\"owned_by\":\"janus.c\"}]}");
    return send_json(h, c, ctx, 200, &b);
}

static enum MHD_Result route_props(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx) {
    const srv_config *cf = h->cfg;
    jn_buf b = {0};
    jn_buf_puts(&b, "{\"model\":");
    jn_json_write_string(&b, h->e->model_name, strlen(h->e->model_name));
    jn_buf_puts(&b, ",\"replica\":");
    jn_json_write_string(&b, cf->replica, strlen(cf->replica));
    jn_buf_printf(&b, ",\"version\":\"%s\",\"capabilities\":[\"chat\",\"vision\",\"image_generation\",\"jobs\"]", JANUS_VERSION_STRING);
    jn_buf_printf(&b,
                  ",\"limits\":{\"max_n\":%d,\"max_tokens\":%d,\"max_images\":%d,\"max_image_bytes\":%zu,"
                  "\"max_image_pixels\":%ld,\"max_body_bytes\":%zu,\"max_queue\":%d,\"max_connections\":%d,"
                  "\"timeout_s\":%d,\"chat_batch\":%d,\"chat_ctx\":%d,\"sizes\":[\"384x384\"]}",
                  cf->limits.max_n, cf->limits.max_tokens, cf->limits.max_images, cf->limits.max_image_bytes,
                  cf->max_image_pixels, cf->max_body, cf->max_queue, cf->max_conn, cf->timeout_s, cf->chat_batch,
                  cf->chat_ctx);
    jn_buf_puts(&b, ",\"defaults\":{\"chat\":{\"temperature\":0,\"top_p\":1,\"top_k\":0,\"max_tokens\":512,\"seed\":42},"
                    "\"images\":{\"n\":1,\"size\":\"384x384\",\"cfg\":5,\"temperature\":1,\"seed\":42,"
                    "\"response_format\":\"b64_json\",\"output_format\":\"png\",\"steps\":576}}}");
    return send_json(h, c, ctx, 200, &b);
}

static enum MHD_Result route_health(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx) {
    srv_engine *e = h->e;
    jn_buf b = {0};
    pthread_mutex_lock(&e->mu);
    const char *status = e->stopping ? "stopping" : e->ready ? "ok" : e->fatal[0] ? "error" : "loading";
    jn_buf_printf(&b, "{\"status\":\"%s\",\"queued\":%d,\"running\":%d,\"requests\":%ld,\"failed\":%ld}", status,
                  e->n_gen_queued + e->n_chat_queued, e->n_gen_running + e->n_chat_running, e->n_requests, e->n_failed);
    int ok = e->ready && !e->stopping;
    pthread_mutex_unlock(&e->mu);
    return send_json(h, c, ctx, ok ? 200 : 503, &b);
}

static int auth_ok(srv_http *h, struct MHD_Connection *c) {
    if (!h->cfg->api_key) return 1;
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!a || strncmp(a, "Bearer ", 7)) return 0;
    a += 7;
    size_t n = strlen(a), m = strlen(h->cfg->api_key);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)a[i] ^ (unsigned char)h->cfg->api_key[i % (m ? m : 1)];
    return diff == 0;
}

static enum MHD_Result dispatch(srv_http *h, struct MHD_Connection *c, conn_ctx *ctx, const char *url, const char *method) {
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    if (!strcmp(method, "OPTIONS")) {
        if (!h->cfg->cors_origin)
            return fail(h, c, ctx, 405, "invalid_request_error", "method_not_allowed", "CORS is off (start the server with --cors ORIGIN)");
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        MHD_add_response_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        MHD_add_response_header(r, "Access-Control-Max-Age", "600");
        return queue(h, c, ctx, 204, r);
    }
    /* the page and /health need no key: a browser cannot send one when it opens the page, and the
     * page holds no data (it asks for the key when the API answers 401) */
    if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
        if (!get) return fail(h, c, ctx, 405, "invalid_request_error", "method_not_allowed", "use GET for %s", url);
        struct MHD_Response *r =
            MHD_create_response_from_buffer(srv_index_html_len, (void *)srv_index_html, MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data: blob:; style-src 'unsafe-inline'; "
                                "script-src 'unsafe-inline'; connect-src 'self'");
        ctx->bytes_out = srv_index_html_len;
        return queue(h, c, ctx, 200, r);
    }
    if (!strcmp(url, "/health")) return route_health(h, c, ctx);
    if (!auth_ok(h, c))
        return fail(h, c, ctx, 401, "authentication_error", "invalid_api_key",
                    "missing or wrong API key (send 'Authorization: Bearer KEY')");
    struct { const char *path; int post; } fixed[] = {
        {"/v1/models", 0}, {"/props", 0}, {"/v1/capabilities", 0},
        {"/v1/chat/completions", 1}, {"/v1/images/generations", 1}, {"/v1/jobs/images", 1},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (strcmp(url, fixed[i].path)) continue;
        if (fixed[i].post ? !post : !get)
            return fail(h, c, ctx, 405, "invalid_request_error", "method_not_allowed", "use %s for %s",
                        fixed[i].post ? "POST" : "GET", url);
        pthread_mutex_lock(&h->e->mu);
        int ready = h->e->ready, stopping = h->e->stopping;
        pthread_mutex_unlock(&h->e->mu);
        if (stopping) return fail(h, c, ctx, 503, "server_error", "shutting_down", "the server is shutting down");
        if (!ready) return fail(h, c, ctx, 503, "server_error", "loading", "the model is still loading");
        switch (i) {
        case 0: return route_models(h, c, ctx);
        case 1: case 2: return route_props(h, c, ctx);
        case 3: return route_chat(h, c, ctx);
        case 4: return route_images(h, c, ctx, 0);
        default: return route_images(h, c, ctx, 1);
        }
    }
    if (!strncmp(url, "/v1/jobs/", 9)) return route_job(h, c, ctx, url + 9, method);
    if (!strncmp(url, "/v1/files/", 10)) {
        if (!get) return fail(h, c, ctx, 405, "invalid_request_error", "method_not_allowed", "use GET for files");
        return route_file(h, c, ctx, url + 10);
    }
    return fail(h, c, ctx, 404, "invalid_request_error", "not_found", "unknown route %.16s %.200s", method, url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    srv_http *h = cls;
    conn_ctx *ctx = *con_cls;
    if (!ctx) return MHD_NO; /* on_uri could not allocate it */
    if (!ctx->started) {
        ctx->started = 1;
        snprintf(ctx->method, sizeof ctx->method, "%s", method);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > h->cfg->max_body)
            return fail(h, c, ctx, 413, "invalid_request_error", "body_too_large",
                        "the body is %s bytes; the limit is %zu (--max-body)", cl, h->cfg->max_body);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!ctx->too_big && ctx->body.len + *upload_size > h->cfg->max_body) {
            ctx->too_big = 1;
            jn_buf_free(&ctx->body);
        }
        if (!ctx->too_big) jn_buf_append(&ctx->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (ctx->status) return MHD_YES; /* answered on the first call (413) */
    if (ctx->too_big)
        return fail(h, c, ctx, 413, "invalid_request_error", "body_too_large", "the body exceeds the limit of %zu bytes (--max-body)",
                    h->cfg->max_body);
    if (ctx->body.oom) return fail(h, c, ctx, 503, "server_error", "out_of_memory", "out of memory for the request body");
    jn_buf_append(&ctx->body, "", 1); /* NUL-terminated for the parsers' convenience */
    ctx->body.len--;
    return dispatch(h, c, ctx, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    srv_http *h = cls;
    conn_ctx *ctx = *con_cls;
    if (!ctx) return;
    if (ctx->busy) busy_add(h->e, -1);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char addr[64] = "-";
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, addr, sizeof addr);
    /* one line per request: client, request, status, bytes (streams: "stream"), seconds */
    char bytes[32];
    if (ctx->streamed) snprintf(bytes, sizeof bytes, "stream");
    else snprintf(bytes, sizeof bytes, "%zu", ctx->bytes_out);
    logf_("%s \"%s %s\" %d %s %.3fs%s", addr, ctx->method[0] ? ctx->method : "-", ctx->uri, ctx->status, bytes,
          now_s() - ctx->t0, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
    jn_buf_free(&ctx->body);
    free(ctx);
    *con_cls = NULL;
}

/* Called first for every request, with the full URI: the request's state starts here so the
 * access log has the URI as the client sent it. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls;
    (void)c;
    conn_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->t0 = now_s();
    size_t i = 0;
    for (; uri && uri[i] && i + 1 < sizeof ctx->uri; i++) /* no control characters in the log */
        ctx->uri[i] = (unsigned char)uri[i] < 0x20 || uri[i] == '"' ? '?' : uri[i];
    ctx->uri[i] = 0;
    return ctx;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    flockfile(stderr);
    fputs("janus serve: http: ", stderr);
    vfprintf(stderr, fmt, ap);
    funlockfile(stderr);
}

/* ---- run ---- */

void srv_config_default(srv_config *c) {
    memset(c, 0, sizeof *c);
    c->backend = "cpu";
    c->host = "127.0.0.1";
    c->port = 8080;
    c->replica = "r0";
    c->max_body = (size_t)32 << 20;
    c->max_queue = 64;
    c->max_conn = 64;
    c->timeout_s = 30;
    c->max_jobs = 256;
    c->chat_batch = 4;
    c->chat_ctx = 2048;
    c->max_image_pixels = 50000000;
    c->shutdown_grace_s = 30;
    srv_limits_default(&c->limits);
}

typedef struct loader {
    srv_engine *e;
    int failed;
    char msg[1024];
} loader;

static void *load_main(void *arg) {
    loader *l = arg;
    if (srv_engine_start(l->e, l->msg, sizeof l->msg)) {
        l->failed = 1;
        pthread_mutex_lock(&l->e->mu);
        snprintf(l->e->fatal, sizeof l->e->fatal, "%.500s", l->msg);
        pthread_mutex_unlock(&l->e->mu);
        kill(getpid(), SIGUSR1);
    }
    return NULL;
}

int srv_run(const srv_config *cfg) {
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* every thread started from here inherits the mask */
    signal(SIGPIPE, SIG_IGN);

    static srv_engine engine;
    static srv_http http;
    char msg[1024];
    if (srv_engine_init(&engine, cfg, msg, sizeof msg)) {
        logf_("%s", msg);
        return 1;
    }
    http.cfg = cfg;
    http.e = &engine;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->host, &sa.sin_addr) != 1) {
        logf_("--host '%s' is not an IPv4 address", cfg->host);
        srv_engine_free(&engine);
        return 2;
    }
    http.d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                                  MHD_USE_ERROR_LOG,
                              0, NULL, NULL, on_request, &http,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &http,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_conn,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->timeout_s,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, /* request line + headers */
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, &http,
                              MHD_OPTION_URI_LOG_CALLBACK, on_uri, &http,
                              MHD_OPTION_END);
    if (!http.d) {
        logf_("cannot listen on %s:%d: %s", cfg->host, cfg->port, strerror(errno));
        srv_engine_free(&engine);
        return 1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(http.d, MHD_DAEMON_INFO_BIND_PORT);
    logf_("listening on http://%s:%u (replica %s)", cfg->host, di ? (unsigned)di->port : (unsigned)cfg->port, cfg->replica);
    loader ld = {.e = &engine};
    pthread_t lt;
    if (pthread_create(&lt, NULL, load_main, &ld)) {
        logf_("cannot start the loader thread");
        MHD_stop_daemon(http.d);
        srv_engine_free(&engine);
        return 1;
    }
    int sig = 0;
    for (;;) {
        sigwait(&sigs, &sig);
        if (sig != SIGUSR1 || ld.failed) break;
    }
    pthread_join(lt, NULL);
    int rc = 0;
    if (ld.failed) {
        logf_("%s", ld.msg);
        rc = 3;
    } else {
        logf_("%s: stopping (no new requests; running work gets %d s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
              cfg->shutdown_grace_s);
    }
    MHD_socket ls = MHD_quiesce_daemon(http.d); /* stop accepting; open connections go on */
    if (ls != MHD_INVALID_SOCKET) close(ls);
    srv_engine_shutdown(&engine, cfg->shutdown_grace_s);
    /* every job has ended: let the handlers send their answers before the sockets close */
    pthread_mutex_lock(&engine.mu);
    for (double t0 = now_s(); engine.n_busy > 0 && now_s() - t0 < 5;) timed_wait(&engine, 0.05);
    pthread_mutex_unlock(&engine.mu);
    MHD_stop_daemon(http.d);
    srv_engine_free(&engine);
    if (!rc) logf_("stopped");
    return rc;
}
