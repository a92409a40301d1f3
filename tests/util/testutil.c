/* tests/util/testutil.c — see testutil.h */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "engine/io/npy.h"

int tu_failures = 0;

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return (v && *v) ? v : fallback;
}

static char *rotating_buffer(void) {
    static char bufs[8][4096];
    static int next = 0;
    char *b = bufs[next];
    next = (next + 1) % 8;
    return b;
}

const char *tu_fixture(const char *rel) {
    char *b = rotating_buffer();
    snprintf(b, 4096, "%s/%s", env_or("JANUS_FIXTURES", "tests/fixtures"), rel);
    return b;
}

const char *tu_tmp(const char *rel) {
    char *b = rotating_buffer();
    snprintf(b, 4096, "%s/%s", env_or("JANUS_TEST_TMP", "/tmp"), rel);
    return b;
}

const char *tu_janus_bin(void) { return env_or("JANUS_BIN", "janus"); }

int tu_close(const char *name, const float *got, const float *want, size_t n, double max_abs, double rel_l2) {
    double worst = 0, num = 0, den = 0;
    size_t worst_i = 0;
    int nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)want[i];
        if (!isfinite(got[i])) nonfinite = 1;
        if (fabs(d) > worst || !isfinite(d)) {
            worst = isfinite(d) ? fabs(d) : INFINITY;
            worst_i = i;
        }
        num += d * d;
        den += (double)want[i] * (double)want[i];
    }
    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    int ok = !nonfinite && worst <= max_abs && rel <= rel_l2;
    fprintf(stderr, "%s %s: max_abs=%.3g rel_l2=%.3g (tol %.3g / %.3g)", ok ? "ok  " : "FAIL", name, worst, rel,
            max_abs, rel_l2);
    if (!ok && n) fprintf(stderr, " worst at %zu: got %.9g want %.9g", worst_i, got[worst_i], want[worst_i]);
    fprintf(stderr, "\n");
    if (!ok) tu_failures++;
    return ok;
}

static void *load_npy(const char *path, size_t *n, jn_npy_dtype want) {
    jn_npy a;
    jn_error err = {0};
    if (jn_npy_read(path, &a, &err) != JN_OK) {
        fprintf(stderr, "FAIL cannot read golden: %s\n", err.msg);
        exit(1);
    }
    if (a.dtype != want) {
        fprintf(stderr, "FAIL %s: unexpected dtype\n", path);
        exit(1);
    }
    *n = (size_t)a.n_elems;
    return a.data;
}

float *tu_load_npy_f32(const char *path, size_t *n) { return load_npy(path, n, JN_NPY_F32); }
uint8_t *tu_load_npy_u8(const char *path, size_t *n) { return load_npy(path, n, JN_NPY_U8); }

char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[sz] = 0;
        if (len) *len = (size_t)sz;
    }
    return buf;
}

int tu_system(const char *cmd) {
    int st = system(cmd);
    if (st == -1) return -1;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return -1;
}
