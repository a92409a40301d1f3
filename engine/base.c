/* engine/base.c — error records, abort, clock, peak RSS. */
#define _POSIX_C_SOURCE 200809L
#include "base.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

jn_status jn_fail(jn_error *err, jn_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

jn_status jn_error_prefix(jn_error *err, const char *fmt, ...) {
    if (!err) return JN_ERR_RUNTIME;
    char old[JN_ERROR_MAX];
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    size_t off = n < 0 ? 0 : ((size_t)n < sizeof err->msg ? (size_t)n : sizeof err->msg - 1);
    /* append ": <old message>" piecewise (truncating), without a format the compiler must bound */
    const char *parts[2] = {": ", old};
    for (int k = 0; k < 2; k++)
        for (const char *c = parts[k]; *c && off + 1 < sizeof err->msg; c++) err->msg[off++] = *c;
    err->msg[off] = 0;
    if (err->code == JN_OK) err->code = JN_ERR_RUNTIME;
    return err->code;
}

void jn_error_clear(jn_error *err) {
    if (err) {
        err->code = JN_OK;
        err->msg[0] = 0;
    }
}

void jn_abort(const char *file, int line, const char *expr) {
    fprintf(stderr, "janus: internal error at %s:%d: assertion failed: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}

double jn_time_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t jn_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024u; /* Linux reports KiB */
}
