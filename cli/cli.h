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
/* Progress printer for janus_progress_fn: a live bar on a terminal, sparse lines otherwise. */
int cli_progress(void *user, const char *what, long done, long total);

#endif
