/* engine/io/file.c — see file.h. */
#define _GNU_SOURCE /* O_NOFOLLOW, O_CLOEXEC, flock */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- inputs */

static const char *special_kind(mode_t m) {
    if (S_ISDIR(m)) return "is a directory, not a file";
    if (S_ISFIFO(m)) return "is a FIFO (named pipe), not a regular file; refusing to read it";
    if (S_ISSOCK(m)) return "is a socket, not a regular file; refusing to read it";
    if (S_ISCHR(m) || S_ISBLK(m)) return "is a device, not a regular file; refusing to read it";
    if (!S_ISREG(m)) return "is not a regular file";
    return NULL;
}

int jn_open_input(const char *path, uint64_t *size, jn_error *err) {
    /* O_NONBLOCK: opening a FIFO without a writer returns at once instead of blocking; O_NOCTTY: a
     * terminal device never becomes our controlling tty. Both are dropped/irrelevant afterwards. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        struct stat sb;
        const char *kind = (e == ENXIO || e == EOPNOTSUPP) && stat(path, &sb) == 0 ? special_kind(sb.st_mode) : NULL;
        if (kind) jn_fail(err, JN_ERR_IO, "%s: %s", path, kind);
        else jn_fail(err, JN_ERR_IO, "%s: cannot open: %s", path, strerror(e));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        jn_fail(err, JN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    const char *kind = special_kind(sb.st_mode);
    if (kind) {
        jn_fail(err, JN_ERR_IO, "%s: %s", path, kind);
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (size) *size = (uint64_t)sb.st_size;
    return fd;
}

FILE *jn_fopen_input(const char *path, uint64_t *size, jn_error *err) {
    int fd = jn_open_input(path, size, err);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        jn_fail(err, JN_ERR_NOMEM, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

jn_status jn_check_input(const char *path, jn_error *err) {
    int fd = jn_open_input(path, NULL, err);
    if (fd < 0) return err ? err->code : JN_ERR_IO;
    close(fd);
    return JN_OK;
}

jn_status jn_read_input(const char *path, size_t max_bytes, char **buf, size_t *len, jn_error *err) {
    *buf = NULL;
    *len = 0;
    uint64_t size = 0;
    int fd = jn_open_input(path, &size, err);
    if (fd < 0) return err ? err->code : JN_ERR_IO;
    jn_status st = JN_OK;
    if (size > max_bytes) {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: %llu bytes; larger than the %zu-byte limit for this file", path,
                     (unsigned long long)size, max_bytes);
        close(fd);
        return st;
    }
    /* the size is a hint (the file may grow or shrink while read); the limit holds regardless */
    size_t cap = (size_t)size + 1, n = 0;
    char *b = malloc(cap + 1);
    for (;;) {
        if (!b) {
            st = jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        if (n == cap) {
            if (cap > max_bytes) {
                st = jn_fail(err, JN_ERR_FORMAT, "%s: larger than the %zu-byte limit for this file", path, max_bytes);
                break;
            }
            size_t nc = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
            char *nb = realloc(b, nc + 1);
            if (!nb) {
                st = jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            b = nb;
            cap = nc;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            st = jn_fail(err, JN_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (st == JN_OK && n > max_bytes)
        st = jn_fail(err, JN_ERR_FORMAT, "%s: larger than the %zu-byte limit for this file", path, max_bytes);
    if (st != JN_OK) {
        free(b);
        return st;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return JN_OK;
}

jn_status jn_output_status(int errnum) {
    /* a full disk or a failing device is a condition of the machine (exit 1), not a bad path */
    int machine = errnum == ENOSPC || errnum == EDQUOT || errnum == EIO || errnum == EFBIG || errnum == EROFS;
    return machine ? JN_ERR_RUNTIME : JN_ERR_IO;
}

jn_status jn_output_fail(jn_error *err, const char *path, const char *what, int errnum) {
    return jn_fail(err, jn_output_status(errnum), "%s: cannot %s: %s", path, what, strerror(errnum));
}

/* ---------------------------------------------------------------- signal cleanup registry */

/* Fixed slots so the handler touches no heap and takes no lock: a slot's path is written before
 * its flag is set and the flag is cleared before the slot is reused. */
#define PARTIAL_SLOTS 64
#define PARTIAL_PATH_MAX 4096
static char partial_paths[PARTIAL_SLOTS][PARTIAL_PATH_MAX];
static volatile sig_atomic_t partial_used[PARTIAL_SLOTS];
static pthread_mutex_t partial_mu = PTHREAD_MUTEX_INITIALIZER;

static int partial_register(const char *path) {
    size_t n = strlen(path);
    if (n >= PARTIAL_PATH_MAX) return -1;
    int slot = -1;
    pthread_mutex_lock(&partial_mu);
    for (int i = 0; i < PARTIAL_SLOTS && slot < 0; i++)
        if (!partial_used[i]) {
            memcpy(partial_paths[i], path, n + 1);
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            partial_used[i] = 1;
            slot = i;
        }
    pthread_mutex_unlock(&partial_mu);
    return slot;
}

static void partial_unregister(int slot) {
    if (slot < 0 || slot >= PARTIAL_SLOTS) return;
    pthread_mutex_lock(&partial_mu);
    partial_used[slot] = 0;
    pthread_mutex_unlock(&partial_mu);
}

static void on_fatal_signal(int sig) {
    int saved = errno;
    for (int i = 0; i < PARTIAL_SLOTS; i++)
        if (partial_used[i]) (void)unlink(partial_paths[i]); /* async-signal-safe */
    errno = saved;
    signal(sig, SIG_DFL);
    raise(sig); /* die of the signal, so the parent sees the right status */
}

void jn_partial_remove_on_signals(void) {
    static int installed;
    pthread_mutex_lock(&partial_mu);
    if (!installed) {
        static const int SIGS[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
        for (size_t i = 0; i < sizeof SIGS / sizeof SIGS[0]; i++) {
            struct sigaction old;
            /* only signals nobody handles: an ignored one stays ignored (nohup), a program's own
             * handler stays in charge */
            if (sigaction(SIGS[i], NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_fatal_signal;
            sigemptyset(&sa.sa_mask);
            sigaction(SIGS[i], &sa, NULL);
        }
        installed = 1;
    }
    pthread_mutex_unlock(&partial_mu);
}

/* ---------------------------------------------------------------- partial outputs */

static void partial_release(jn_partial *p) {
    partial_unregister(p->slot);
    p->slot = -1;
    if (p->tmp_path && p->fd >= 0) close(p->fd); /* drops the lock: after unlink/rename, never before */
    p->fd = -1;
    free(p->tmp_path);
    free(p->path);
    p->tmp_path = p->path = NULL;
}

static jn_status open_locked(jn_partial *p, const char *path, const char *tmp, jn_error *err);

jn_status jn_partial_open(jn_partial *p, const char *path, jn_error *err) {
    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->slot = -1;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return jn_fail(err, JN_ERR_USAGE, "%s is a directory; give the output a file name", path);
    size_t pl = strlen(path);
    p->path = malloc(pl + 1);
    p->tmp_path = malloc(pl + sizeof JN_PARTIAL_SUFFIX);
    if (!p->path || !p->tmp_path) {
        partial_release(p);
        return jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(p->path, path, pl + 1);
    memcpy(p->tmp_path, path, pl);
    memcpy(p->tmp_path + pl, JN_PARTIAL_SUFFIX, sizeof JN_PARTIAL_SUFFIX);
    const char *tmp = p->tmp_path;
    /* The cleanup handlers go in first, and the signals they handle are held off from the
     * O_CREAT to the registration: a SIGINT in between would otherwise leave the new file behind. */
    jn_partial_remove_on_signals();
    sigset_t fatal, saved;
    sigemptyset(&fatal);
    sigaddset(&fatal, SIGINT);
    sigaddset(&fatal, SIGTERM);
    sigaddset(&fatal, SIGHUP);
    sigaddset(&fatal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &fatal, &saved);
    jn_status st = open_locked(p, path, tmp, err);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return st;
}

/* jn_partial_open's body, with the fatal signals blocked. */
static jn_status open_locked(jn_partial *p, const char *path, const char *tmp, jn_error *err) {
    for (int attempt = 0; attempt < 16; attempt++) {
        /* O_NOFOLLOW: a symlink planted at the temp name is refused, never written through;
         * O_NONBLOCK: a FIFO planted there does not block the open (refused by the fstat below) */
        int fd = open(tmp, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
        jn_status st = JN_OK;
        if (fd < 0) {
            st = errno == ELOOP ? jn_fail(err, JN_ERR_IO, "%s: is a symbolic link; refusing to write through it", tmp)
                                : jn_output_fail(err, tmp, "create", errno);
            partial_release(p); /* frees tmp: after the message */
            return st;
        }
        struct stat fs, ps;
        if (fstat(fd, &fs) != 0 || !S_ISREG(fs.st_mode))
            st = jn_fail(err, JN_ERR_IO, "%s: exists and is not a regular file; remove it", tmp);
        else if (flock(fd, LOCK_EX | LOCK_NB) != 0)
            st = errno == EWOULDBLOCK
                     ? jn_fail(err, JN_ERR_USAGE, "%s: another process is writing this output (%s is locked)", path, tmp)
                     : jn_output_fail(err, tmp, "lock", errno);
        if (st) {
            close(fd);
            partial_release(p);
            return st;
        }
        /* the name may have been renamed into place or removed by its previous holder between our
         * open and our lock: then we locked a file that is no longer the temp file; retry */
        if (stat(tmp, &ps) != 0 || ps.st_dev != fs.st_dev || ps.st_ino != fs.st_ino) {
            close(fd);
            continue;
        }
        /* ours now; a leftover from a killed run (any size) is emptied and reused */
        if (ftruncate(fd, 0) != 0) {
            st = jn_output_fail(err, tmp, "truncate", errno);
            (void)unlink(tmp);
            close(fd);
            partial_release(p);
            return st;
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        (void)fchmod(fd, 0644);
        p->fd = fd;
        p->slot = partial_register(tmp);
        return JN_OK;
    }
    partial_release(p);
    return jn_fail(err, JN_ERR_USAGE, "%s: %s keeps changing under us; is another process writing it?", path, tmp);
}

jn_status jn_partial_commit(jn_partial *p, int no_clobber, jn_error *err) {
    jn_status st = JN_OK;
    if (p->fd < 0) return jn_fail(err, JN_ERR_USAGE, "output already finished");
    /* from here the name may stop being ours (renamed; then another run may create it anew): a
     * signal now leaves at worst a stale partial file, which the next run takes over */
    partial_unregister(p->slot);
    p->slot = -1;
    if (fsync(p->fd) != 0) {
        st = jn_output_fail(err, p->tmp_path, "write (fsync)", errno);
    } else if (no_clobber) {
        /* link() fails if the target exists: no window between a check and the move */
        if (link(p->tmp_path, p->path) != 0)
            st = errno == EEXIST ? jn_fail(err, JN_ERR_USAGE, "%s already exists; use --force to overwrite it", p->path)
                                 : jn_output_fail(err, p->path, "create", errno);
        else
            (void)unlink(p->tmp_path);
    } else if (rename(p->tmp_path, p->path) != 0) {
        st = errno == EISDIR ? jn_fail(err, JN_ERR_USAGE, "%s is a directory; give the output a file name", p->path)
                             : jn_output_fail(err, p->path, "move the finished file into place", errno);
    }
    if (st != JN_OK) {
        jn_partial_discard(p);
        return st;
    }
    /* best effort: make the rename durable */
    char *slash = strrchr(p->path, '/');
    if (slash) *slash = 0;
    int dfd = open(slash ? (slash == p->path ? "/" : p->path) : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    partial_release(p);
    return JN_OK;
}

void jn_partial_discard(jn_partial *p) {
    if (!p) return;
    partial_unregister(p->slot); /* before the unlink: after it the name may be another run's */
    p->slot = -1;
    if (p->fd >= 0 && p->tmp_path) (void)unlink(p->tmp_path); /* we hold the lock: the file is ours */
    partial_release(p);
}
