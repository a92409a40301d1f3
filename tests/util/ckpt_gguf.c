/* tests/util/ckpt_gguf.c — see ckpt_gguf.h */
#include "ckpt_gguf.h"

#include <stdio.h>
#include <stdlib.h>

#include "engine/io/ckpt.h"

int tu_write_gguf_from_ckpt(const char *model_dir, const char *path, tu_name_map_fn map, tu_kv_fn kv) {
    jn_error err = {0};
    jn_ckpt *c = jn_ckpt_open_dir(model_dir, &err);
    if (!c) {
        fprintf(stderr, "ckpt: %s\n", err.msg);
        return 0;
    }
    jn_gguf_writer *gw = jn_gguf_writer_open(path, &err);
    if (!gw) {
        fprintf(stderr, "gguf writer: %s\n", err.msg);
        jn_ckpt_close(c);
        return 0;
    }
    kv(gw);
    char buf[256];
    int64_t n = jn_ckpt_count(c);
    for (int64_t i = 0; i < n; i++) {
        const jn_ckpt_tensor *t = jn_ckpt_at(c, i);
        const char *gn = map(t->name, buf, sizeof buf);
        if (gn) jn_gguf_writer_add_tensor(gw, gn, t->n_dims == 1 ? JN_F32 : JN_BF16, t->n_dims, t->shape);
    }
    jn_status st = jn_gguf_writer_write_header(gw, &err);
    for (int64_t i = 0; st == JN_OK && i < n; i++) {
        const jn_ckpt_tensor *t = jn_ckpt_at(c, i);
        if (!map(t->name, buf, sizeof buf)) continue;
        float *f = malloc((size_t)t->numel * sizeof(float));
        st = f ? jn_ckpt_read_f32(c, t, 0, t->numel, f, &err) : jn_fail(&err, JN_ERR_NOMEM, "out of memory");
        if (st == JN_OK) {
            if (t->n_dims == 1) {
                st = jn_gguf_writer_write_data(gw, f, (size_t)t->numel * 4, &err);
            } else {
                uint16_t *h = malloc((size_t)t->numel * 2);
                if (!h) {
                    st = jn_fail(&err, JN_ERR_NOMEM, "out of memory");
                } else {
                    jn_from_f32_ref(JN_BF16, f, h, t->numel); /* exact: the source is bf16 */
                    st = jn_gguf_writer_write_data(gw, h, (size_t)t->numel * 2, &err);
                    free(h);
                }
            }
        }
        free(f);
    }
    if (st == JN_OK) {
        st = jn_gguf_writer_finish(gw, &err);
        if (st != JN_OK) jn_gguf_writer_abort(gw); /* finish frees only on success */
    } else {
        jn_gguf_writer_abort(gw);
    }
    if (st != JN_OK) fprintf(stderr, "writing %s: %s\n", path, err.msg);
    jn_ckpt_close(c);
    return st == JN_OK;
}
