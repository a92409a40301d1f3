/* tests/fuzz/fuzz_shard_index.c — model.safetensors.index.json (the same loader reads
 * pytorch_model.bin.index.json) in a directory that holds two small valid shards, a.safetensors
 * (tensors w, b) and b.safetensors (tensor v), so mapped names can also resolve. */
#include "fuzz_util.h"

#include "engine/io/ckpt.h"

void fuzz_read_checkpoint(jn_ckpt *c); /* fuzz_ckpt_read.c */

static void write_shard(const char *name, const char *header, const uint8_t *payload, size_t n) {
    size_t hl = strlen(header);
    uint8_t buf[512];
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    memcpy(buf + 8 + hl, payload, n);
    char path[600];
    fuzz_file(path, sizeof path, name, buf, 8 + hl + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        static const uint8_t a[12] = {0, 0, 128, 63, 0, 0, 0, 64, 128, 63, 0, 64};
        write_shard("a.safetensors",
                    "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]}}",
                    a, sizeof a);
        static const uint8_t b[2] = {0, 60};
        write_shard("b.safetensors", "{\"v\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", b, sizeof b);
        ready = 1;
    }
    char path[600];
    fuzz_file(path, sizeof path, "model.safetensors.index.json", data, size);
    jn_error err = {0};
    jn_ckpt *c = jn_ckpt_open_dir(fuzz_dir(), &err);
    fuzz_report("open_dir", &err);
    if (!c) return 0;
    fuzz_read_checkpoint(c);
    jn_ckpt_close(c);
    return 0;
}
