/* bench/bench_tokenizer.c — single-threaded encode throughput of the janus tokenizer.
 *
 * usage: bench_tokenizer TOKENIZER_JSON CORPUS_JSONL [BIG_MB] [REPS]
 * Encodes (a) every corpus line as its own call, REPS times, and (b) one text of about BIG_MB
 * megabytes made of the corpus lines joined with "\n" and repeated, once. Prints one line per mode:
 * "janus <mode> bytes=<n> seconds=<s> MB/s=<x> tokens=<k>" (MB = 1e6 bytes of UTF-8 input). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder/tokenizer.h"
#include "engine/io/json.h"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    jn_buf b = {0};
    char chunk[1 << 16];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) jn_buf_append(&b, chunk, r);
    fclose(f);
    *len = b.len;
    return b.data;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s TOKENIZER_JSON CORPUS_JSONL [BIG_MB] [REPS]\n", argv[0]);
        return 2;
    }
    double big_mb = argc > 3 ? atof(argv[3]) : 10.0;
    int reps = argc > 4 ? atoi(argv[4]) : 5;
    size_t tl, cl;
    char *tj = slurp(argv[1], &tl);
    char *corpus = slurp(argv[2], &cl);
    if (!tj || !corpus) {
        fprintf(stderr, "cannot read %s or %s\n", argv[1], argv[2]);
        return 3;
    }
    /* tokenizer_config.json beside the tokenizer, if any */
    char cfg_path[4096];
    snprintf(cfg_path, sizeof cfg_path, "%s", argv[1]);
    char *slash = strrchr(cfg_path, '/');
    snprintf(slash ? slash + 1 : cfg_path, sizeof cfg_path - (size_t)(slash ? slash + 1 - cfg_path : 0), "tokenizer_config.json");
    size_t gl = 0;
    char *cfg = slurp(cfg_path, &gl);
    jn_error err = {0};
    double t0 = jn_time_s();
    jn_tokenizer *t = jn_tokenizer_load(tj, tl, cfg, gl, &err);
    double t_load = jn_time_s() - t0;
    if (!t) {
        fprintf(stderr, "load: %s\n", err.msg);
        return 3;
    }
    fprintf(stderr, "loaded %s in %.0f ms\n", argv[1], 1e3 * t_load);
    /* corpus lines */
    size_t n_lines = 0, cap = 1024;
    char **lines = malloc(cap * sizeof *lines);
    size_t *lens = malloc(cap * sizeof *lens);
    for (char *p = corpus; p < corpus + cl;) {
        char *nl = memchr(p, '\n', (size_t)(corpus + cl - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(corpus + cl - p);
        jn_json *rec = ll ? jn_json_parse(p, ll, &err) : NULL;
        p += ll + 1;
        const jn_json *tx = rec ? jn_json_get(rec, "text") : NULL;
        if (tx && tx->type == JN_JSON_STRING) {
            if (n_lines == cap) {
                cap *= 2;
                lines = realloc(lines, cap * sizeof *lines);
                lens = realloc(lens, cap * sizeof *lens);
            }
            lines[n_lines] = malloc(tx->len + 1);
            memcpy(lines[n_lines], tx->str, tx->len);
            lens[n_lines++] = tx->len;
        }
        jn_json_free(rec);
    }
    /* (a) per line */
    size_t bytes = 0, toks = 0;
    t0 = jn_time_s();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < n_lines; i++) {
            int32_t *ids;
            size_t n;
            if (jn_tokenizer_encode(t, lines[i], lens[i], 0, &ids, &n, &err)) {
                fprintf(stderr, "encode: %s\n", err.msg);
                return 1;
            }
            bytes += lens[i];
            toks += n;
            free(ids);
        }
    double dt = jn_time_s() - t0;
    printf("janus corpus-lines bytes=%zu seconds=%.4f MB/s=%.2f tokens=%zu\n", bytes, dt, bytes / dt / 1e6, toks);
    /* (b) one big text */
    jn_buf big = {0};
    while (big.len < (size_t)(big_mb * 1e6))
        for (size_t i = 0; i < n_lines; i++) {
            jn_buf_append(&big, lines[i], lens[i]);
            jn_buf_append(&big, "\n", 1);
        }
    int32_t *ids;
    size_t n;
    t0 = jn_time_s();
    if (jn_tokenizer_encode(t, big.data, big.len, 0, &ids, &n, &err)) {
        fprintf(stderr, "encode: %s\n", err.msg);
        return 1;
    }
    dt = jn_time_s() - t0;
    printf("janus big-text bytes=%zu seconds=%.4f MB/s=%.2f tokens=%zu\n", big.len, dt, big.len / dt / 1e6, n);
    free(ids);
    jn_buf_free(&big);
    for (size_t i = 0; i < n_lines; i++) free(lines[i]);
    free(lines);
    free(lens);
    jn_tokenizer_free(t);
    free(tj);
    free(corpus);
    free(cfg);
    return 0;
}
