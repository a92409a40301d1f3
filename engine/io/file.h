/* engine/io/file.h — opening the files a user names, and writing outputs without ever leaving a
 * torn or clobbered file.
 *
 * Inputs: every reader (GGUF, checkpoints and shards, JSON, .npy, images, token files) opens
 * through jn_open_input(), which opens with O_NONBLOCK and checks fstat() before anything reads:
 * a FIFO, socket or device named as a model or image is refused at once (a plain open() of a FIFO
 * blocks until a writer appears, a read of a tty waits for a keyboard), and a directory given as a
 * file says so. The error is JN_ERR_IO and names the path.
 *
 * Outputs: jn_partial_open() writes to "<path>.partial" beside the target, holding an exclusive
 * flock() on it for the whole write; jn_partial_commit() moves it into place (rename, or link +
 * unlink when an existing target must not be replaced). The fixed name means a temp file left by a
 * SIGKILLed run is found and replaced by the next run for the same output; the lock means two
 * concurrent writers of one output are refused instead of interleaved. On SIGINT, SIGTERM, SIGHUP
 * or SIGPIPE the open partial files are removed before the process dies of the signal (see
 * jn_partial_remove_on_signals). Write errors name the path and the errno text ("No space left on
 * device"). */
#ifndef JANUS_ENGINE_IO_FILE_H
#define JANUS_ENGINE_IO_FILE_H

#include "engine/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opens an existing regular file read-only (O_CLOEXEC, blocking mode restored after the check).
 * Returns the fd, or -1 with a JN_ERR_IO message naming the path: missing/unreadable (errno
 * text), a directory, a FIFO, a socket or a device. *size (if non-NULL) receives the file size. */
int jn_open_input(const char *path, uint64_t *size, jn_error *err);
/* The same as a stdio stream ("rb"). */
FILE *jn_fopen_input(const char *path, uint64_t *size, jn_error *err);
/* Only the check (for libraries that open by name themselves, e.g. FFmpeg). */
jn_status jn_check_input(const char *path, jn_error *err);
/* Reads a whole input file (at most max_bytes, else JN_ERR_FORMAT naming the limit) into a
 * malloc'ed buffer with a NUL appended; *len excludes it. */
jn_status jn_read_input(const char *path, size_t max_bytes, char **buf, size_t *len, jn_error *err);

/* "PATH: cannot write: No space left on device" style message for a failed output operation
 * (what: "write", "create", "rename", ...), with errnum's text. Returns JN_ERR_RUNTIME for a full
 * disk, quota, read-only file system or device error (exit 1), else JN_ERR_IO (a bad path). */
jn_status jn_output_fail(jn_error *err, const char *path, const char *what, int errnum);
/* The status alone (for writers that format their own message). */
jn_status jn_output_status(int errnum);

/* An output being written: fd is the open "<path>.partial" (O_WRONLY, truncated, locked). */
typedef struct jn_partial {
    int fd;
    char *tmp_path;  /* "<path>.partial", malloc'ed */
    char *path;      /* final path, malloc'ed */
    int slot;        /* signal-cleanup registration, -1 if none */
} jn_partial;

/* Suffix of the temporary file beside the output (one fact, used by tests and docs). */
#define JN_PARTIAL_SUFFIX ".partial"

/* Creates (or takes over a stale) "<path>.partial". Errors: path is a directory (JN_ERR_USAGE,
 * "is a directory"), another process holds the lock (JN_ERR_USAGE), cannot create (JN_ERR_IO). */
jn_status jn_partial_open(jn_partial *p, const char *path, jn_error *err);
/* fsyncs and moves the partial file to the final path. no_clobber: fail (JN_ERR_USAGE "exists;
 * use --force") rather than replace an existing target, atomically. On failure the partial file
 * is removed. Either way p is released afterwards. */
jn_status jn_partial_commit(jn_partial *p, int no_clobber, jn_error *err);
/* Removes the partial file and releases p (safe on a zeroed or already released p). */
void jn_partial_discard(jn_partial *p);

/* Installs (once per process; jn_partial_open calls it) handlers for those of SIGINT, SIGTERM,
 * SIGHUP and SIGPIPE whose disposition is still the default (terminate): the handler unlinks every
 * partial file still open, restores the default and re-raises, so the process dies of the same
 * signal as before. Signals a program ignores or handles itself are left alone (such a program
 * calls jn_partial_discard from its own handling). */
void jn_partial_remove_on_signals(void);

#ifdef __cplusplus
}
#endif
#endif
