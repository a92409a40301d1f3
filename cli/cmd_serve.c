/* cli/cmd_serve.c — `janus serve -m MODEL [options]`: the OpenAI-compatible HTTP server
 * (server/) with its web page. Flags map one to one onto srv_config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifdef JANUS_HAVE_SERVER
#include "server.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: janus serve -m MODEL.gguf [options]\n\n"
            "Serves the model over HTTP: OpenAI-compatible /v1/chat/completions (text and images in),\n"
            "/v1/images/generations (images out), /v1/models, async jobs under /v1/jobs, /health, /props,\n"
            "and a web page at /. See docs/server.md.\n\n"
            "  -m, --model FILE         converted model (janus convert)\n"
            "      --host ADDR          IPv4 address to bind [127.0.0.1]\n"
            "      --port N             TCP port, 0 = any free one (printed) [8080]\n"
            "      --api-key KEY        require 'Authorization: Bearer KEY' on every route but / and /health\n"
            "                           (or set JANUS_API_KEY)\n"
            "      --cors ORIGIN        allow browser pages from ORIGIN to call the API [off]\n"
            "      --allow-dir DIR      chat images may be local paths under DIR [no local paths]\n"
            "      --output-dir DIR     where response_format=url images are kept [a temporary directory]\n"
            "      --replica NAME       carried by job ids, for routing behind a load balancer [r0]\n"
            "      --max-n N            images per generation request [16]\n"
            "      --max-tokens N       answer tokens per chat request [4096]\n"
            "      --max-images N       images per chat request [8]\n"
            "      --max-image-bytes N  bytes of one uploaded image [20971520]\n"
            "      --max-image-pixels N width x height of one uploaded image [50000000]\n"
            "      --max-body N         request body bytes [33554432]\n"
            "      --max-queue N        waiting requests before 503 + Retry-After [64]\n"
            "      --max-conn N         concurrent connections [64]\n"
            "      --timeout S          idle connection timeout, seconds [30]\n"
            "      --max-jobs N         finished async jobs kept for GET /v1/jobs/ID [256]\n"
            "      --chat-batch N       understanding requests decoded together [4]\n"
            "      --chat-ctx N         KV positions per understanding request (prompt + answer) [2048]\n"
            "      --grace S            on SIGTERM, running work may finish for S seconds [30]\n"
            "  -t, --threads N          CPU threads per worker (two workers) [all cores]\n"
            "      --backend NAME       cpu or cuda [cpu]\n"
            "      --kv-type T          K/V cache elements: f16 (half the memory), q8_0 (cpu), bf16, f32 [f16]\n"
            "      --mem-limit SIZE     per session (image and chat each): refuse, with the numbers,\n"
            "                           work whose K/V cache and buffers exceed SIZE (e.g. 6G) [available]\n"
            "  -v, --verbose            log model loading\n");
}

int cmd_serve(int argc, char **argv) {
    srv_config c;
    srv_config_default(&c);
    const char *env_key = getenv("JANUS_API_KEY");
    if (env_key && *env_key) c.api_key = env_key;
    for (int i = 1, k; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long lv = 0;
#define NEED() do { if (!v) return cli_usage_error("serve", "%s needs a value", a); i++; } while (0)
#define INT_FLAG(name, lo, hi, dst)                                                                      \
    else if (!strcmp(a, name)) {                                                                         \
        NEED();                                                                                          \
        if (cli_parse_int(v, &lv) || lv < (lo) || lv > (hi))                                             \
            return cli_usage_error("serve", "%s needs an integer in [%ld, %ld], got '%s'", a, (long)(lo), \
                                   (long)(hi), v);                                                       \
        dst = lv;                                                                                        \
    }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(stdout); return 0; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { NEED(); c.model_path = v; }
        else if (!strcmp(a, "--host")) { NEED(); c.host = v; }
        else if (!strcmp(a, "--api-key")) { NEED(); c.api_key = *v ? v : NULL; }
        else if (!strcmp(a, "--cors")) { NEED(); c.cors_origin = v; }
        else if (!strcmp(a, "--allow-dir")) { NEED(); c.allow_dir = v; }
        else if (!strcmp(a, "--output-dir")) { NEED(); c.output_dir = v; }
        else if (!strcmp(a, "--replica")) {
            NEED();
            for (const char *p = v; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) || p - v > 30)
                    return cli_usage_error("serve", "--replica needs 1-32 letters or digits, got '%s'", v);
            if (!*v) return cli_usage_error("serve", "--replica needs 1-32 letters or digits");
            c.replica = v;
        }
        else if (!strcmp(a, "--backend")) { NEED(); c.backend = v; }
        else if ((k = cli_memory_opt("serve", argc, argv, &i, &c.kv_type, &c.mem_limit)) != 0) { if (k < 0) return -k; }
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) c.verbose = 1;
        INT_FLAG("--port", 0, 65535, c.port)
        INT_FLAG("--max-n", 1, 128, c.limits.max_n)
        INT_FLAG("--max-tokens", 1, 1000000, c.limits.max_tokens)
        INT_FLAG("--max-images", 1, 64, c.limits.max_images)
        INT_FLAG("--max-image-bytes", 1, 1L << 30, c.limits.max_image_bytes)
        INT_FLAG("--max-image-pixels", 1, 1L << 30, c.max_image_pixels)
        INT_FLAG("--max-body", 1024, 1L << 31, c.max_body)
        INT_FLAG("--max-queue", 1, 100000, c.max_queue)
        INT_FLAG("--max-conn", 2, 10000, c.max_conn)
        INT_FLAG("--timeout", 1, 3600, c.timeout_s)
        INT_FLAG("--max-jobs", 1, 100000, c.max_jobs)
        INT_FLAG("--chat-batch", 1, 256, c.chat_batch)
        INT_FLAG("--chat-ctx", 64, 1 << 20, c.chat_ctx)
        INT_FLAG("--grace", 0, 86400, c.shutdown_grace_s)
        INT_FLAG("-t", 1, 1024, c.n_threads)
        INT_FLAG("--threads", 1, 1024, c.n_threads)
        else return cli_usage_error("serve", "unexpected argument '%s'", a);
#undef INT_FLAG
#undef NEED
    }
    if (!c.model_path) return cli_usage_error("serve", "no model given (-m MODEL.gguf)");
    return srv_run(&c);
}

#else

int cmd_serve(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "janus serve: this build has no server (install libmicrohttpd-dev and rebuild)\n");
    return 1;
}

#endif
