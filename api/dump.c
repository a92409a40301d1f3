/* api/dump.c — --dump DIR: named intermediates as float32 .npy and ids as JSON, so a divergence
 * from the reference can be bisected. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/io/json.h"
#include "engine/io/npy.h"

jn_status janus_dump_prepare(const char *dir, jn_error *err) {
    if (!dir) return JN_OK;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return jn_fail(err, JN_ERR_IO, "cannot create dump directory %s: %s", dir, strerror(errno));
    return JN_OK;
}

jn_status janus_dump_f32(const char *dir, const char *name, const float *data, int n_dims, const int64_t *shape,
                         jn_error *err) {
    if (!dir) return JN_OK;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return jn_npy_write(path, JN_NPY_F32, n_dims, shape, data, err);
}

jn_status janus_dump_ids(const char *dir, const char *name, const int32_t *ids, size_t n, jn_error *err) {
    if (!dir) return JN_OK;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return jn_fail(err, JN_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    fputc('[', f);
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%d", i ? ", " : "", ids[i]);
    fputs("]\n", f);
    if (fclose(f) != 0) return jn_fail(err, JN_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return JN_OK;
}
