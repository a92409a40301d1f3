/* tests/fuzz/fuzz_safetensors.c — a .safetensors file: header length, JSON header, dtypes,
 * shapes, data_offsets (ranges, overlaps, coverage), then reads of every tensor. */
#include "fuzz_util.h"

#include "engine/io/ckpt.h"

void fuzz_read_checkpoint(jn_ckpt *c); /* fuzz_ckpt_read.c */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600];
    fuzz_file(path, sizeof path, "model.safetensors", data, size);
    jn_error err = {0};
    jn_ckpt *c = jn_ckpt_open_file(path, &err);
    fuzz_report("open", &err);
    if (!c) return 0;
    fuzz_read_checkpoint(c);
    jn_ckpt_close(c);
    return 0;
}
