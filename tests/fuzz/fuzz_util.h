/* tests/fuzz/fuzz_util.h — shared by the libFuzzer targets: a private scratch directory (on
 * /dev/shm when present: the file-based readers are fuzzed through their real open-by-path entry
 * points) and FUZZ_VERBOSE=1 to print each input's error message (seeing why a seed is refused). */
#ifndef JANUS_FUZZ_UTIL_H
#define JANUS_FUZZ_UTIL_H
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/base.h"

static char fuzz_dir_[512];

static inline void fuzz_rm_dir_(void) {
    if (!fuzz_dir_[0]) return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: cannot remove %s\n", fuzz_dir_);
}

/* The scratch directory of this process (created on first use, removed at exit). */
static inline const char *fuzz_dir(void) {
    if (!fuzz_dir_[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/janus-fuzz-XXXXXX", base);
        if (!mkdtemp(fuzz_dir_)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_rm_dir_);
    }
    return fuzz_dir_;
}

/* Writes data to <fuzz_dir>/name; returns path (the caller's buffer). */
static inline const char *fuzz_file(char *path, size_t path_size, const char *name, const uint8_t *data, size_t n) {
    snprintf(path, path_size, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

/* Reads tests/fixtures/<rel> into buf (at most cap bytes); aborts when missing. Returns the size. */
static inline size_t fuzz_read_fixture(const char *rel, char *buf, size_t cap) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", JANUS_FUZZ_FIXTURES, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        abort();
    }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static inline void fuzz_report(const char *what, const jn_error *err) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("FUZZ_VERBOSE") && atoi(getenv("FUZZ_VERBOSE")) > 0;
    if (verbose) fprintf(stderr, "%s: %s\n", what, err->code ? err->msg : "ok");
    /* every failure must carry a message a user can act on */
    if (err->code && !err->msg[0]) {
        fprintf(stderr, "fuzz: %s failed with status %d and an empty message\n", what, (int)err->code);
        abort();
    }
}

/* Keeps a computed value alive so the reads that produced it are not optimized away. */
static volatile uint64_t fuzz_sink;
static inline void fuzz_touch(const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p;
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) s += b[i];
    fuzz_sink += s;
}
#endif
