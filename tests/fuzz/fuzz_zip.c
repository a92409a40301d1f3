/* tests/fuzz/fuzz_zip.c — a torch.save zip checkpoint end to end: central directory, local
 * headers, overlap checks, data.pkl (CRC, unpickler), storage lookup, then reads of every tensor
 * (first elements, strided gathers). */
#include "fuzz_util.h"

#include "engine/io/ckpt.h"

void fuzz_read_checkpoint(jn_ckpt *c); /* fuzz_ckpt_read.c */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600];
    fuzz_file(path, sizeof path, "pytorch_model.bin", data, size);
    jn_error err = {0};
    jn_ckpt *c = jn_ckpt_open_file(path, &err);
    fuzz_report("open", &err);
    if (!c) return 0;
    fuzz_read_checkpoint(c);
    jn_ckpt_close(c);
    return 0;
}
