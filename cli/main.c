/* cli/main.c — `janus` command dispatcher. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <unistd.h>
#include <time.h>

#include "cli.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} command;

static const command COMMANDS[] = {
    {"convert", cmd_convert, "convert a Janus-Pro download (official or transformers layout) into one GGUF file"},
    {"info", cmd_info, "show a GGUF file's metadata and tensors"},
    {"tokenize", cmd_tokenize, "encode/decode text with the model's tokenizer (JSONL)"},
    {"ask", cmd_ask, "answer a question about images (image understanding)"},
    {"chat", cmd_chat, "a conversation about images (interactive, or scripted through a pipe)"},
    {"generate", cmd_generate, "generate 384x384 images from a text prompt"},
    {"decode", cmd_decode, "VQ-decode image token ids into images"},
    {"caption", cmd_caption, "caption folders, lists and videos into JSONL and sidecars (batched, resumable)"},
    {"bench", cmd_bench, "measure speed and memory"},
    {"serve", cmd_serve, "OpenAI-compatible HTTP server (chat with images, image generation) + web page"},
};

static void usage(FILE *f) {
    fprintf(f, "janus %s — native Janus-Pro inference\n\nusage: janus <command> [options]\n\ncommands:\n",
            JANUS_VERSION_STRING);
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(f, "\n'janus <command> --help' shows a command's options.\n"
               "exit codes: 0 ok, 1 runtime failure, 2 usage error, 3 model or input format error\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("janus %s\n", JANUS_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "janus: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

int cli_fail(const char *cmd, const janus_error *err) {
    fprintf(stderr, "janus %s: %s\n", cmd, err->msg[0] ? err->msg : "failed");
    return janus_exit_code(err->code);
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "janus %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'janus %s --help'.\n", cmd);
    return 2;
}

int cli_parse_int(const char *s, long *out) {
    if (!s || !*s) return 1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end) return 1;
    *out = v;
    return 0;
}

int cli_parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-') return 1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return 1;
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_size(const char *s, size_t *out) {
    if (!s || !*s || *s == '-') return 1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0) return 1;
    double mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024.0; end++; break;
    case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
    case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (mul > 1 && (!strcmp(end, "iB") || !strcmp(end, "B"))) end += strlen(end);
    if (*end == 'B' && mul == 1) end++;
    if (*end) return 1;
    v *= mul;
    if (v < 1 || v >= 18446744073709551615.0) return 1;
    *out = (size_t)v;
    return 0;
}

int cli_parse_float(const char *s, float *out) {
    if (!s || !*s) return 1;
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || *end || !isfinite(v)) return 1;
    *out = v;
    return 0;
}

int cli_progress(void *user, const char *what, long done, long total) {
    (void)user;
    static double t0 = 0, last = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    if (done <= 1 || t0 == 0) t0 = now, last = 0;
    int tty = isatty(2);
    if (!tty && done != total && now - last < 5.0) return 0;
    if (tty && done != total && now - last < 0.1) return 0;
    last = now;
    double el = now - t0, rate = el > 0 ? (double)(done - 1) / el : 0; /* t0 is the first report */
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    if (rate > 0)
        fprintf(stderr, "%s%s %ld/%ld  %.1f/s  ETA %.0fs%s", tty ? "\r" : "", what, done, total, rate, eta,
                tty ? (done == total ? "\n" : "   ") : "\n");
    else
        fprintf(stderr, "%s%s %ld/%ld%s", tty ? "\r" : "", what, done, total, tty ? "   " : "\n");
    return 0;
}
