/* cli/cli.h — sub-command entry points and small shared helpers of the `janus` command.
 * The CLI includes only the public janus.h. Contract: results on stdout, logs/progress on stderr,
 * exit 0 ok / 1 runtime / 2 usage / 3 model or input format. */
#ifndef JANUS_CLI_H
#define JANUS_CLI_H

#include "janus.h"

int cmd_convert(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_ask(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_caption(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Prints "janus <cmd>: <msg>" to stderr and returns janus_exit_code(err->code). */
int cli_fail(const char *cmd, const janus_error *err);
/* Prints a usage error ("janus <cmd>: <msg>\nTry 'janus <cmd> --help'.") and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Strict number parsing for flag values: 0 on success, else non-zero (no partial parses). */
int cli_parse_int(const char *s, long *out);
int cli_parse_u64(const char *s, uint64_t *out);
int cli_parse_float(const char *s, float *out);
/* A byte count: digits with an optional K, M, G or T suffix (powers of 1024; "KiB"/"MB" forms
 * too), e.g. 512M, 6G, 1.5G. */
int cli_parse_size(const char *s, size_t *out);
/* --kv-type and --mem-limit, for the help texts of the commands that take them */
#define CLI_HELP_MEMORY                                                                                       \
    "      --kv-type T       K/V cache elements: f16 (half the memory and attention bandwidth), q8_0\n"   \
    "                        (0.53x f16; cpu only), bf16, or f32 (the official code's exact cache) [f16]\n"   \
    "      --mem-limit SIZE  refuse, with the numbers, work whose K/V cache and buffers exceed SIZE\n"      \
    "                        (e.g. 6G, 512M) [the memory available to the process]\n"
/* Progress printer for janus_progress_fn: a live bar on a terminal, sparse lines otherwise. */
int cli_progress(void *user, const char *what, long done, long total);

/* ---- shared by the model-running commands (cli/cli_util.c) ---- */
typedef struct cli_common {
    const char *backend;      /* --backend: auto (default), cpu, cuda */
    const char *backend_used; /* what cli_load_model chose */
    int threads;              /* -t; 0: all cores */
    const char *kv_type;      /* --kv-type: NULL = the library's default (f16) */
    size_t mem_limit;         /* --mem-limit: 0 = the memory available to the process */
    int verbose, quiet;       /* -v: per-phase detail; -q: no progress, no banner */
    double t_start, load_s;   /* timings for the summary line */
    double last_status;       /* cli_status throttling */
    char last_label[32];      /* first word of the last status line: a new phase always shows */
    int status_open;          /* a live status line is on the terminal */
} cli_common;

double cli_now(void); /* monotonic seconds */
void cli_common_init(cli_common *c);
/* Consumes argv[*i] (and its value) when it is -t/--threads, --backend, -v or -q: returns 1;
 * 0 when it is something else; a negative exit code (-2) after printing a usage error. */
int cli_common_opt(cli_common *c, const char *cmd, int argc, char **argv, int *i);
/* The same for the answer flags of ask and chat: -n/--max-tokens, --temp, --top-k, --top-p, -s. */
int cli_answer_opt(janus_ask_params *ap, const char *cmd, int argc, char **argv, int *i);
/* Loads with c->backend ("auto": CUDA when built and a device answers, else CPU) and prints the
 * first stderr line: backend, device, threads, model (unless -q). */
janus_model *cli_load_model(const char *cmd, const char *path, cli_common *c, janus_error *err);
/* --kv-type T and --mem-limit SIZE (validated): 1 consumed (with its value), 0 not one of them,
 * < 0: -(exit code) after a usage error. cli_common_opt calls it; caption and serve too. */
int cli_memory_opt(const char *cmd, int argc, char **argv, int *i, const char **kv_type, size_t *mem_limit);
/* Session parameters carrying the common flags (--mem-limit). */
janus_session_params cli_session_params(const cli_common *c);
/* One line on stderr: load, image encode, prefill tok/s, decode tok/s, s/step, VQ s/image, total;
 * -v adds a line of per-phase seconds. st may be NULL (load and total only). */
void cli_summary(const char *cmd, const cli_common *c, const janus_session_stats *st);
/* cli_summary of a session's stats (s may be NULL); nothing with -q. */
void cli_session_summary(const char *cmd, const cli_common *c, const janus_session *s);
void cli_timings_json(FILE *f, const cli_common *c, const janus_session_stats *st);
/* Progress on stderr (nothing with -q): a live line on a terminal (final ends it), else a line
 * every 5 s and the final one. cli_status_clear erases an open live line. */
void cli_status(cli_common *c, int final, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void cli_status_clear(cli_common *c);
void cli_json_string(FILE *f, const char *s); /* s as a JSON string literal */
/* Whole text file ("-": stdin), NUL-terminated, malloc'ed; NULL with msg filled on failure. */
char *cli_read_text(const char *path, char *msg, size_t msg_n);
/* The folder of path exists and is writable; else prints why and returns 2. */
int cli_check_output_dir(const char *cmd, const char *path);
/* Every image file decodes (before a model is loaded); else prints why and returns its exit code. */
int cli_check_images(const char *cmd, const char *const *paths, int n, double at_seconds);

#endif
