/* tests/util/testutil.h — helpers shared by the C tests: fixture paths, golden comparison with
 * max-abs / relative-L2 tolerances, simple check macros. Tests return 0 pass, 1 fail, 77 skip. */
#ifndef JANUS_TESTS_TESTUTIL_H
#define JANUS_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* $JANUS_FIXTURES/<rel> into a static rotating buffer (8 slots). */
const char *tu_fixture(const char *rel);
/* $JANUS_TEST_TMP/<rel> (the directory exists). */
const char *tu_tmp(const char *rel);
/* $JANUS_BIN (the janus CLI). */
const char *tu_janus_bin(void);

/* Compares got vs want (n floats): prints "name: max_abs=… rel_l2=… (tol …)" and returns 1 if
 * within both tolerances, 0 otherwise (and prints the worst index). */
int tu_close(const char *name, const float *got, const float *want, size_t n, double max_abs, double rel_l2);
/* Reads a float32 .npy golden into a malloc'ed buffer; *n receives the element count. Aborts the
 * test (exit 1) with a message if missing. */
float *tu_load_npy_f32(const char *path, size_t *n);
uint8_t *tu_load_npy_u8(const char *path, size_t *n);
/* Reads a whole file; NULL if missing. */
char *tu_read_file(const char *path, size_t *len);
/* Runs a shell command, returns its exit status (0..255), or -1. */
int tu_system(const char *cmd);

extern int tu_failures;
#define TU_CHECK(cond, ...)                                                   \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fprintf(stderr, "\n");                                            \
            tu_failures++;                                                    \
        }                                                                     \
    } while (0)
#define TU_RESULT() (tu_failures ? 1 : 0)

#endif
