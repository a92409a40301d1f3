/* api/dump.c — --dump DIR: named intermediates as float32 .npy and ids as JSON, so a divergence
 * from the reference can be bisected.
 *
 * Safety: DIR is created if missing; an existing DIR must be empty unless the caller forces
 * (janus_dump_prepare_ex(dir, 1, err)) or this process already prepared it (a session's next
 * turn), so a mistyped --dump never mixes with or replaces a user's files. Each dump file is created fresh with O_CREAT|O_EXCL|O_NOFOLLOW after unlinking the name:
 * an existing file (or a hard link to one elsewhere) is never truncated in place, and a symlink
 * planted in DIR is replaced, never followed out of it. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/io/file.h"
#include "engine/io/json.h"
#include "engine/io/npy.h"

/* force != 0: an existing non-empty DIR is used and same-named dump files in it are replaced. */
jn_status janus_dump_prepare_ex(const char *dir, int force, jn_error *err);

/* Directories this process created or accepted: later requests of the same run (a session's
 * next turn, the next batch) may add to them. Keyed by device and inode, not by spelling. */
#define DUMP_DIRS_MAX 64
static struct { dev_t dev; ino_t ino; } dump_dirs[DUMP_DIRS_MAX];
static int n_dump_dirs;
static pthread_mutex_t dump_mu = PTHREAD_MUTEX_INITIALIZER;

static int dump_dir_known(const struct stat *sb, int add) {
    int known = 0;
    pthread_mutex_lock(&dump_mu);
    for (int i = 0; i < n_dump_dirs && !known; i++) known = dump_dirs[i].dev == sb->st_dev && dump_dirs[i].ino == sb->st_ino;
    if (!known && add && n_dump_dirs < DUMP_DIRS_MAX) {
        dump_dirs[n_dump_dirs].dev = sb->st_dev;
        dump_dirs[n_dump_dirs].ino = sb->st_ino;
        n_dump_dirs++;
    }
    pthread_mutex_unlock(&dump_mu);
    return known;
}

jn_status janus_dump_prepare_ex(const char *dir, int force, jn_error *err) {
    if (!dir) return JN_OK;
    struct stat sb;
    if (mkdir(dir, 0777) == 0) {
        if (stat(dir, &sb) == 0) dump_dir_known(&sb, 1);
        return JN_OK;
    }
    if (errno != EEXIST) return jn_fail(err, JN_ERR_IO, "cannot create dump directory %s: %s", dir, strerror(errno));
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return jn_fail(err, JN_ERR_USAGE, "--dump %s: exists and is not a directory", dir);
    if (force || dump_dir_known(&sb, 0)) {
        dump_dir_known(&sb, 1);
        return JN_OK;
    }
    DIR *d = opendir(dir);
    if (!d) return jn_fail(err, JN_ERR_IO, "--dump %s: cannot read the directory: %s", dir, strerror(errno));
    char first[256] = "";
    long n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!n++) snprintf(first, sizeof first, "%s", e->d_name);
    }
    closedir(d);
    if (n)
        return jn_fail(err, JN_ERR_USAGE,
                       "--dump %s: directory is not empty (%ld entries, e.g. '%s'); give a new or empty directory",
                       dir, n, first);
    dump_dir_known(&sb, 1);
    return JN_OK;
}

jn_status janus_dump_prepare(const char *dir, jn_error *err) { return janus_dump_prepare_ex(dir, 0, err); }

/* Creates DIR/name as a new file (see the header comment). path receives the joined name. */
static FILE *dump_create(const char *dir, const char *name, char *path, size_t path_size, jn_error *err) {
    if (strchr(name, '/')) {
        jn_fail(err, JN_ERR_USAGE, "dump file name '%s' must not contain '/'", name);
        return NULL;
    }
    if ((size_t)snprintf(path, path_size, "%s/%s", dir, name) >= path_size) {
        jn_fail(err, JN_ERR_USAGE, "--dump %s: path too long", dir);
        return NULL;
    }
    if (unlink(path) != 0 && errno != ENOENT && errno != EISDIR && errno != EPERM) {
        jn_output_fail(err, path, "replace", errno);
        return NULL;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        jn_output_fail(err, path, "create", errno);
        return NULL;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        jn_output_fail(err, path, "create", errno);
        close(fd);
    }
    return f;
}

jn_status janus_dump_f32(const char *dir, const char *name, const float *data, int n_dims, const int64_t *shape,
                         jn_error *err) {
    if (!dir) return JN_OK;
    char path[4096];
    FILE *f = dump_create(dir, name, path, sizeof path, err);
    if (!f) return err ? err->code : JN_ERR_IO;
    jn_status st = jn_npy_write_stream(f, path, JN_NPY_F32, n_dims, shape, data, err);
    if (fclose(f) != 0 && st == JN_OK) st = jn_output_fail(err, path, "write", errno);
    return st;
}

jn_status janus_dump_ids(const char *dir, const char *name, const int32_t *ids, size_t n, jn_error *err) {
    if (!dir) return JN_OK;
    char path[4096];
    FILE *f = dump_create(dir, name, path, sizeof path, err);
    if (!f) return err ? err->code : JN_ERR_IO;
    fputc('[', f);
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%d", i ? ", " : "", ids[i]);
    fputs("]\n", f);
    int bad = ferror(f), e = errno;
    if (fclose(f) != 0 || bad) return jn_output_fail(err, path, "write", bad ? e : errno);
    return JN_OK;
}
