/* engine/base.h — status codes, per-context error messages, assertions.
 *
 * Why: the library never exits and never prints. Every failing function records a message a user
 * can act on (which file, which tensor, expected vs got) in a caller-owned jn_error and returns a
 * negative jn_status. The CLI maps the status class to its exit code (1 runtime, 2 usage,
 * 3 model/input format). */
#ifndef JANUS_ENGINE_BASE_H
#define JANUS_ENGINE_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum jn_status {
    JN_OK = 0,
    JN_ERR_RUNTIME = -1, /* I/O failure while running, out of memory, device failure (exit 1) */
    JN_ERR_USAGE = -2,   /* bad flag or argument from the caller (exit 2) */
    JN_ERR_FORMAT = -3,  /* malformed/unsupported model or input file (exit 3) */
    JN_ERR_NOMEM = -4,   /* allocation failed (exit 1) */
    JN_ERR_IO = -5,      /* missing/unreadable/unwritable file (exit 3 for inputs, see CLI) */
} jn_status;

#define JN_ERROR_MAX 1024

/* Caller-owned error record: one per context/thread, never global. */
typedef struct jn_error {
    jn_status code;
    char msg[JN_ERROR_MAX];
} jn_error;

/* Records code + printf-style message (if err != NULL) and returns code, so callers can write
 *   return jn_fail(err, JN_ERR_FORMAT, "%s: tensor %s: got [%d], expected [%d]", path, name, a, b);
 * A message already set is overwritten. */
jn_status jn_fail(jn_error *err, jn_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prefixes an existing message with context: "loading x.gguf: <old message>". Returns err->code. */
jn_status jn_error_prefix(jn_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

void jn_error_clear(jn_error *err);

/* Programmer errors / broken invariants (never bad input): stays on in release builds, prints
 * file:line:expr to stderr and aborts. Bad input must use jn_fail instead. */
void jn_abort(const char *file, int line, const char *expr);
#define JN_ASSERT(x) do { if (!(x)) jn_abort(__FILE__, __LINE__, #x); } while (0)

/* Overflow-checked size arithmetic for sizes read from files: return 0 on overflow. */
static inline int jn_mul_ok(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}
static inline int jn_add_ok(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

/* Monotonic wall clock in seconds (for timings and progress). */
double jn_time_s(void);

/* Peak resident set size of this process in bytes (0 if unknown). */
size_t jn_peak_rss_bytes(void);

#ifdef __cplusplus
}
#endif
#endif
