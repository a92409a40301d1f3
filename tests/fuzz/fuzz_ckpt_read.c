/* tests/fuzz/fuzz_ckpt_read.c — shared by the checkpoint targets: reads the first and last
 * elements of every tensor of an opened checkpoint (converted and raw, strided gathers included). */
#include "fuzz_util.h"

#include "engine/io/ckpt.h"

void fuzz_read_checkpoint(jn_ckpt *c); /* shared by the checkpoint targets */

void fuzz_read_checkpoint(jn_ckpt *c) {
    jn_error err = {0};
    float buf[64];
    for (int64_t i = 0; i < jn_ckpt_count(c); i++) {
        const jn_ckpt_tensor *t = jn_ckpt_at(c, i);
        if (jn_ckpt_find(c, t->name) != t) abort();
        fuzz_touch(jn_ckpt_file_name(c, t), strlen(jn_ckpt_file_name(c, t)));
        int64_t count = t->numel < 64 ? t->numel : 64;
        if (count > 0) {
            jn_ckpt_read_f32(c, t, 0, count, buf, &err);
            jn_ckpt_read_raw(c, t, t->numel - count, count, buf, &err);
        }
    }
}

