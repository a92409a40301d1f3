/* tests/fuzz/fuzz_ckpt_file.c — one checkpoint file end to end, built twice (CMakeLists.txt):
 *   fuzz_zip          the input as pytorch_model.bin: zip central directory, local headers,
 *                     overlap checks, data.pkl (CRC, unpickler), storage lookup;
 *   fuzz_safetensors  the input as model.safetensors: header length, JSON header, dtypes,
 *                     shapes, data_offsets (ranges, overlaps, coverage);
 * then reads of every tensor (first and last elements, strided gathers). */
#include "fuzz_util.h"

#include "engine/io/ckpt.h"

void fuzz_read_checkpoint(jn_ckpt *c); /* fuzz_ckpt_read.c */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600];
    const char *name = strcmp(JANUS_FUZZ_TARGET, "safetensors") == 0 ? "model.safetensors" : "pytorch_model.bin";
    fuzz_file(path, sizeof path, name, data, size);
    jn_error err = {0};
    jn_ckpt *c = jn_ckpt_open_file(path, &err);
    fuzz_report("open", &err);
    if (!c) return 0;
    fuzz_read_checkpoint(c);
    jn_ckpt_close(c);
    return 0;
}
