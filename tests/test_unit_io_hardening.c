/* tests/test_unit_io_hardening.c — regression tests for the hostile-input fixes (docs/robustness.md):
 * special files refused before a read could block; OUT.partial outputs (locked, stale ones taken
 * over, symlinks refused, removed on SIGTERM, no-clobber); a full disk names the path; the
 * unpickler's memory is bounded by its input; zip entries that overlap are refused; --dump never
 * truncates, follows links out of DIR, or writes into a non-empty DIR unasked. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/io/ckpt.h"
#include "engine/io/file.h"
#include "engine/io/gguf.h"
#include "engine/io/image_io.h"
#include "engine/io/npy.h"
#include "testutil.h"

/* api/dump.c (declared in api/internal.h / api/dump.c) */
jn_status janus_dump_prepare(const char *dir, jn_error *err);
jn_status janus_dump_prepare_ex(const char *dir, int force, jn_error *err);
jn_status janus_dump_ids(const char *dir, const char *name, const int32_t *ids, size_t n, jn_error *err);

static char dir[2048];

static const char *in_dir(const char *name) {
    static char buf[4][4096 + 64];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void spit(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    TU_CHECK(f != NULL, "cannot create %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static int file_is(const char *path, const char *text) {
    size_t n;
    char *c = tu_read_file(path, &n);
    int ok = c && n == strlen(text) && memcmp(c, text, n) == 0;
    free(c);
    return ok;
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL: an open blocked (special file not refused in time)\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(1);
    _exit(1);
}

static void test_special_files(void) {
    signal(SIGALRM, on_alarm);
    alarm(20);
    jn_error err = {0};
    const char *fifo = in_dir("fifo");
    TU_CHECK(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
    TU_CHECK(jn_open_input(fifo, NULL, &err) < 0 && err.code == JN_ERR_IO && strstr(err.msg, "FIFO") &&
                 strstr(err.msg, fifo),
             "FIFO: %s", err.msg);
    TU_CHECK(jn_fopen_input(fifo, NULL, &err) == NULL && strstr(err.msg, "FIFO"), "fopen FIFO: %s", err.msg);
    char *buf;
    size_t len;
    TU_CHECK(jn_read_input(fifo, 100, &buf, &len, &err) != JN_OK && strstr(err.msg, "FIFO"), "read FIFO: %s", err.msg);
    TU_CHECK(jn_check_input("/dev/zero", &err) == JN_ERR_IO && strstr(err.msg, "device"), "device: %s", err.msg);
    TU_CHECK(jn_check_input(dir, &err) == JN_ERR_IO && strstr(err.msg, "is a directory"), "dir: %s", err.msg);
    TU_CHECK(jn_check_input(in_dir("missing"), &err) == JN_ERR_IO && strstr(err.msg, "No such file"), "missing: %s",
             err.msg);
    /* a Unix socket: open() fails with ENXIO; the message still says what it is */
    const char *sock = in_dir("sock");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (s >= 0 && strlen(sock) < sizeof sa.sun_path) {
        memcpy(sa.sun_path, sock, strlen(sock) + 1);
        if (bind(s, (struct sockaddr *)&sa, sizeof sa) == 0)
            TU_CHECK(jn_check_input(sock, &err) == JN_ERR_IO && strstr(err.msg, "socket"), "socket: %s", err.msg);
    }
    if (s >= 0) close(s);
    /* the readers use it: a GGUF, checkpoint, JSON, .npy and image reader given the FIFO */
    jn_npy a;
    TU_CHECK(jn_npy_read(fifo, &a, &err) != JN_OK && strstr(err.msg, "FIFO"), "npy: %s", err.msg);
    TU_CHECK(jn_ckpt_open_file(fifo, &err) == NULL && strstr(err.msg, "FIFO"), "ckpt: %s", err.msg);
    /* a regular file still reads, NUL-terminated, and the size limit holds */
    spit(in_dir("plain.txt"), "hello");
    buf = NULL;
    TU_CHECK(jn_read_input(in_dir("plain.txt"), 100, &buf, &len, &err) == JN_OK && len == 5 && !strcmp(buf, "hello"),
             "plain: %s", err.msg);
    free(buf); /* err still holds the FIFO checks' messages: it says nothing about this call */
    buf = NULL;
    TU_CHECK(jn_read_input(in_dir("plain.txt"), 4, &buf, &len, &err) == JN_ERR_FORMAT && strstr(err.msg, "limit"),
             "limit: %s", err.msg);
    alarm(0);
}

static void test_partial_outputs(void) {
    jn_error err = {0};
    const char *out = in_dir("out.bin"), *tmp = in_dir("out.bin" JN_PARTIAL_SUFFIX);
    /* a stale temp file from a killed run is taken over and emptied */
    spit(tmp, "stale bytes from a SIGKILLed run");
    jn_partial p;
    TU_CHECK(jn_partial_open(&p, out, &err) == JN_OK, "open: %s", err.msg);
    struct stat sb;
    TU_CHECK(stat(tmp, &sb) == 0 && sb.st_size == 0, "stale temp not emptied");
    /* a second writer of the same output (another process) is refused while the first holds it */
    pid_t pid = fork();
    if (pid == 0) {
        jn_partial q;
        jn_error e = {0};
        int refused = jn_partial_open(&q, out, &e) == JN_ERR_USAGE && strstr(e.msg, "another process");
        _exit(refused ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    TU_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a concurrent writer was not refused");
    TU_CHECK(write(p.fd, "new", 3) == 3, "write");
    /* no-clobber: an existing target is refused and kept; the temp file goes */
    spit(out, "OLD");
    TU_CHECK(jn_partial_commit(&p, 1, &err) == JN_ERR_USAGE && strstr(err.msg, "--force"), "no-clobber: %s", err.msg);
    TU_CHECK(file_is(out, "OLD") && access(tmp, F_OK) != 0, "no-clobber changed the target or left the temp");
    /* replace */
    TU_CHECK(jn_partial_open(&p, out, &err) == JN_OK, "open 2: %s", err.msg);
    TU_CHECK(write(p.fd, "NEW", 3) == 3, "write");
    TU_CHECK(jn_partial_commit(&p, 0, &err) == JN_OK && file_is(out, "NEW") && access(tmp, F_OK) != 0, "commit: %s",
             err.msg);
    /* discard */
    TU_CHECK(jn_partial_open(&p, out, &err) == JN_OK, "open 3: %s", err.msg);
    jn_partial_discard(&p);
    TU_CHECK(access(tmp, F_OK) != 0 && file_is(out, "NEW"), "discard");
    /* a symlink planted at the temp name is not written through */
    const char *victim = in_dir("victim");
    spit(victim, "precious");
    TU_CHECK(symlink(victim, tmp) == 0, "symlink");
    TU_CHECK(jn_partial_open(&p, out, &err) == JN_ERR_IO && strstr(err.msg, "symbolic link"), "symlink: %s", err.msg);
    TU_CHECK(file_is(victim, "precious"), "symlink target written");
    unlink(tmp);
    /* the output is a directory: said so */
    TU_CHECK(jn_partial_open(&p, dir, &err) == JN_ERR_USAGE && strstr(err.msg, "is a directory"), "dir: %s", err.msg);
    /* SIGTERM while writing removes the temp file, and the process dies of the signal */
    pid = fork();
    if (pid == 0) {
        jn_partial q;
        jn_error e = {0};
        if (jn_partial_open(&q, out, &e) != JN_OK) _exit(3);
        if (write(q.fd, "half", 4) != 4) _exit(4);
        raise(SIGTERM);
        _exit(5);
    }
    waitpid(pid, &status, 0);
    TU_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "child did not die of SIGTERM (status %d)", status);
    TU_CHECK(access(tmp, F_OK) != 0, "SIGTERM left %s", tmp);
    TU_CHECK(file_is(out, "NEW"), "SIGTERM touched the target");
}

static void test_full_disk(void) {
    FILE *f = fopen("/dev/full", "wb");
    if (!f) {
        printf("skip: no /dev/full\n");
        return;
    }
    jn_error err = {0};
    int64_t shape[1] = {100000};
    float *data = calloc(100000, sizeof *data);
    jn_status st = jn_npy_write_stream(f, "/dev/full", JN_NPY_F32, 1, shape, data, &err);
    fclose(f);
    free(data);
    TU_CHECK(st == JN_ERR_RUNTIME && strstr(err.msg, "No space left on device") && strstr(err.msg, "/dev/full"),
             "ENOSPC: status %d: %s", st, err.msg);
}

/* Peak RSS growth of running the unpickler on pkl in a child (KiB), or -1. */
static long child_peak_growth_kib(const uint8_t *pkl, size_t len, int *refused_for_size) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        struct rusage r0, r1;
        getrusage(RUSAGE_SELF, &r0);
        jn_error e = {0};
        jn_pickle_tensor *t = NULL;
        size_t n = 0;
        jn_status st = jn_pickle_load_state_dict(pkl, len, "hostile.bin", &t, &n, &e);
        if (st == JN_OK) jn_pickle_free(t, n);
        getrusage(RUSAGE_SELF, &r1);
        long out[2] = {r1.ru_maxrss - r0.ru_maxrss, strstr(e.msg, "for the size of the file") != NULL};
        if (write(fds[1], out, sizeof out) != (ssize_t)sizeof out) _exit(1);
        _exit(0);
    }
    close(fds[1]);
    long got[2] = {-1, 0};
    if (read(fds[0], got, sizeof got) != (ssize_t)sizeof got) got[0] = -1;
    close(fds[0]);
    waitpid(pid, NULL, 0);
    *refused_for_size = (int)got[1];
    return got[0];
}

static void test_unpickler_memory(void) {
    jn_error err = {0};
    jn_pickle_tensor *t = NULL;
    size_t n = 0;
    /* a 9-byte pickle storing into memo slot 2^24-1 used to reserve 64 MiB */
    static const uint8_t sparse_memo[] = {0x80, 2, 'N', 'r', 0xff, 0xff, 0xff, 0x00, '.'};
    TU_CHECK(jn_pickle_load_state_dict(sparse_memo, sizeof sparse_memo, "x.bin", &t, &n, &err) == JN_ERR_FORMAT &&
                 strstr(err.msg, "for the size of the file"),
             "sparse memo: %s", err.msg);
    /* 4 MB hostile pickles: tiny lists ("]Naa": a list holding None, appended to the outer one;
     * was ~0.5 GB), nested one-element tuples ("N" then TUPLE1 repeated; was ~1.5 GB), values
     * kept on the stack: memory must stay a bounded multiple of the input */
#if defined(__SANITIZE_ADDRESS__)
    const int asan = 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    const int asan = 1;
#else
    const int asan = 0;
#endif
#else
    const int asan = 0;
#endif
    size_t len = (size_t)4 << 20;
    uint8_t *p = malloc(len + 16);
    for (int pattern = 0; pattern < 3; pattern++) {
        size_t k = 0;
        p[k++] = 0x80, p[k++] = 2;
        if (pattern == 0) {
            p[k++] = ']';
            while (k + 8 < len) p[k++] = ']', p[k++] = 'N', p[k++] = 'a', p[k++] = 'a';
        } else if (pattern == 1) {
            p[k++] = 'N';
            while (k + 4 < len) p[k++] = 0x85;
        } else {
            p[k++] = '(';
            while (k + 4 < len) p[k++] = 'N';
            p[k++] = 't';
        }
        p[k++] = '.';
        int refused = 0;
        long kib = child_peak_growth_kib(p, k, &refused);
        /* budget 32 B/B + 1 MiB, realloc transients (old + new block), 64 MiB of slack */
        long limit_kib = (long)(k / 1024) * 48 + 64 * 1024;
        printf("unpickler: %zu-byte hostile pickle %d: peak RSS growth %ld KiB (limit %ld KiB)%s\n", k, pattern, kib,
               limit_kib, refused ? ", refused for its size" : "");
        if (!asan) TU_CHECK(kib >= 0 && kib <= limit_kib, "hostile pickle %d: %ld KiB", pattern, kib);
    }
    free(p);
}

/* Finds the central-directory record of name in a zip image; returns its offset or -1. */
static long find_cd_record(const uint8_t *z, size_t n, const char *name) {
    size_t nl = strlen(name);
    for (size_t i = 0; i + 46 + nl <= n; i++)
        if (!memcmp(z + i, "PK\x01\x02", 4) && (size_t)(z[i + 28] | z[i + 29] << 8) == nl && !memcmp(z + i + 46, name, nl))
            return (long)i;
    return -1;
}

static void test_zip_overlap(void) {
    char seed[4096];
    const char *src = getenv("JANUS_SOURCE_DIR");
    snprintf(seed, sizeof seed, "%s/tests/fuzz/corpus/zip/small.bin", src ? src : ".");
    size_t n;
    uint8_t *z = (uint8_t *)tu_read_file(seed, &n);
    TU_CHECK(z != NULL, "missing %s", seed);
    if (!z) return;
    jn_error err = {0};
    const char *good = in_dir("good.bin");
    FILE *f = fopen(good, "wb");
    fwrite(z, 1, n, f);
    fclose(f);
    jn_ckpt *c = jn_ckpt_open_file(good, &err);
    TU_CHECK(c != NULL, "the seed zip does not open: %s", err.msg);
    jn_ckpt_close(c);
    /* point data/1's central record at data/0's local header (same name length): without the
     * overlap check, tensor a.bias silently reads a.weight's bytes */
    long r0 = find_cd_record(z, n, "archive/data/0"), r1 = find_cd_record(z, n, "archive/data/1");
    TU_CHECK(r0 >= 0 && r1 >= 0, "seed zip layout");
    if (r0 >= 0 && r1 >= 0) {
        memcpy(z + r1 + 42, z + r0 + 42, 4);
        const char *bad = in_dir("overlap.bin");
        f = fopen(bad, "wb");
        fwrite(z, 1, n, f);
        fclose(f);
        c = jn_ckpt_open_file(bad, &err);
        TU_CHECK(c == NULL && err.code == JN_ERR_FORMAT && strstr(err.msg, "overlap"), "overlap accepted: %s",
                 c ? "(opened)" : err.msg);
        jn_ckpt_close(c);
    }
    free(z);
}

/* Replays the fuzzers' regression inputs (tests/fuzz/corpus/<target>/regress-*) through the same
 * entry points in the normal (and --sanitize) test build: each must fail or succeed cleanly. */
static void test_fuzz_regressions(void) {
    const char *src = getenv("JANUS_SOURCE_DIR");
    static const char *const TARGETS[] = {"zip", "safetensors", "gguf", "png", "jpeg", "image_ffmpeg"};
    int n_run = 0;
    for (size_t t = 0; t < sizeof TARGETS / sizeof TARGETS[0]; t++) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "ls '%s/tests/fuzz/corpus/%s/' 2>/dev/null | grep '^regress-'", src ? src : ".",
                 TARGETS[t]);
        FILE *ls = popen(cmd, "r");
        char name[512];
        while (ls && fgets(name, sizeof name, ls)) {
            name[strcspn(name, "\n")] = 0;
            char path[4096 + 600];
            snprintf(path, sizeof path, "%s/tests/fuzz/corpus/%s/%s", src ? src : ".", TARGETS[t], name);
            jn_error err = {0};
            if (!strcmp(TARGETS[t], "zip") || !strcmp(TARGETS[t], "safetensors")) {
                /* the zip target names its file pytorch_model.bin; safetensors needs the extension */
                const char *copy = in_dir(!strcmp(TARGETS[t], "zip") ? "regress.bin" : "regress.safetensors");
                char cp[2 * 4096 + 700];
                snprintf(cp, sizeof cp, "cp '%s' '%s'", path, copy);
                if (tu_system(cp) != 0) continue;
                jn_ckpt *c = jn_ckpt_open_file(copy, &err);
                jn_ckpt_close(c);
            } else if (!strcmp(TARGETS[t], "gguf")) {
                jn_gguf_close(jn_gguf_open(path, &err));
            } else {
                jn_rgb_image img = {0};
                if (jn_image_decode_file(path, -1, &img, &err) == JN_OK) jn_rgb_image_free(&img);
            }
            TU_CHECK(err.code == JN_OK || err.msg[0], "%s/%s: failure without a message", TARGETS[t], name);
            n_run++;
        }
        if (ls) pclose(ls);
    }
    printf("fuzz regression inputs replayed: %d\n", n_run);
    TU_CHECK(n_run > 0, "no regression inputs found under %s/tests/fuzz/corpus", src ? src : ".");
}

static void test_dump_dir(void) {
    jn_error err = {0};
    char d[4096 + 64];
    snprintf(d, sizeof d, "%s", in_dir("dump"));
    TU_CHECK(janus_dump_prepare(d, &err) == JN_OK, "new dump dir: %s", err.msg);
    int32_t ids[3] = {1, 2, 3};
    TU_CHECK(janus_dump_ids(d, "ids.json", ids, 3, &err) == JN_OK, "dump: %s", err.msg);
    TU_CHECK(janus_dump_prepare(d, &err) == JN_OK, "the same process may add to its own dump dir: %s", err.msg);
    const char *other = in_dir("dump-users");
    TU_CHECK(mkdir(other, 0777) == 0, "mkdir");
    spit(in_dir("dump-users/notes.txt"), "keep");
    TU_CHECK(janus_dump_prepare(other, &err) == JN_ERR_USAGE && strstr(err.msg, "not empty"), "non-empty: %s", err.msg);
    TU_CHECK(file_is(in_dir("dump-users/notes.txt"), "keep"), "user file changed");
    /* forced: a symlink and a hard link planted under dump names are replaced, never written through */
    const char *victim = in_dir("dump-victim"), *linked = in_dir("dump-linked");
    spit(victim, "precious");
    spit(linked, "mine");
    char p1[4096 + 128], p2[4096 + 128];
    snprintf(p1, sizeof p1, "%s/a.json", d);
    snprintf(p2, sizeof p2, "%s/b.json", d);
    TU_CHECK(symlink(victim, p1) == 0 && link(linked, p2) == 0, "links");
    TU_CHECK(janus_dump_prepare_ex(d, 1, &err) == JN_OK, "forced: %s", err.msg);
    TU_CHECK(janus_dump_ids(d, "a.json", ids, 3, &err) == JN_OK && janus_dump_ids(d, "b.json", ids, 3, &err) == JN_OK,
             "dump over links: %s", err.msg);
    struct stat sb;
    TU_CHECK(file_is(victim, "precious") && file_is(linked, "mine"), "a dump wrote through a link");
    TU_CHECK(lstat(p1, &sb) == 0 && S_ISREG(sb.st_mode) && file_is(p1, "[1, 2, 3]\n"), "dump file not replaced");
    /* a file (not a directory) named as DIR */
    TU_CHECK(janus_dump_prepare(victim, &err) == JN_ERR_USAGE && strstr(err.msg, "not a directory"), "file as dir: %s",
             err.msg);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s-%d", tu_tmp("io-hardening"), (int)getpid());
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (tu_system(cmd) != 0) return 1;
    test_special_files();
    test_partial_outputs();
    test_full_disk();
    test_unpickler_memory();
    test_zip_overlap();
    test_dump_dir();
    test_fuzz_regressions();
    if (!tu_failures) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        tu_system(cmd);
    }
    printf("%s\n", tu_failures ? "FAILED" : "all ok");
    return TU_RESULT();
}
