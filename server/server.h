/* server/server.h — `janus serve`: an OpenAI-compatible HTTP server for both directions of
 * Janus-Pro (chat with images in, images out) with a web page at "/".
 *
 * Layers: cli/cmd_serve.c parses flags into a srv_config and calls srv_run; server/http.c is the
 * libmicrohttpd glue (routes, auth, CORS, limits, access log, SSE); server/jobs.c owns the model,
 * the job queues and the two worker threads that drive janus_gen_batch and janus_ask_batch;
 * server/request.c parses request bodies. Only api/janus.h and engine/io/json.h are used. */
#ifndef JANUS_SERVER_H
#define JANUS_SERVER_H

#include <stddef.h>

#include "janus.h"
#include "request.h"

typedef struct srv_config {
    const char *model_path;
    const char *backend;    /* "cpu" / "cuda" */
    int n_threads;          /* per session; <= 0: all cores */
    const char *kv_type;    /* K/V cache elements, NULL: f16 */
    size_t mem_limit;       /* per session (image and chat each); 0: available memory */
    const char *host;       /* IPv4 address to bind, "127.0.0.1" */
    int port;               /* 0: any free port (printed) */
    const char *api_key;    /* NULL: no auth */
    const char *cors_origin;/* NULL: no CORS headers */
    const char *allow_dir;  /* local image paths allowed under this directory, NULL: none */
    const char *output_dir; /* where response_format=url images are kept; NULL: a fresh temp dir */
    const char *replica;    /* carried by job ids (routing behind a load balancer) */
    size_t max_body;        /* bytes */
    int max_queue;          /* queued (not yet running) requests before 503 */
    int max_conn;           /* concurrent connections */
    int timeout_s;          /* idle connection timeout (slow clients) */
    int max_jobs;           /* finished async jobs kept for GET /v1/jobs/{id} */
    int chat_batch;         /* understanding sequences decoded together */
    int chat_ctx;           /* KV positions per understanding sequence */
    long max_image_pixels;  /* decoded upload width x height */
    int shutdown_grace_s;   /* on SIGTERM: let running work finish this long, then cancel */
    srv_limits limits;
    int verbose;
} srv_config;

void srv_config_default(srv_config *c);
/* Runs until SIGTERM/SIGINT. Returns the process exit code (0 after a graceful shutdown). */
int srv_run(const srv_config *c);

#endif
