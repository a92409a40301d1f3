/* tests/fuzz/fuzz_unpickler.c — the restricted unpickler on arbitrary bytes (as data.pkl). Also
 * asserts the memory bound: the parser may not hold more than its budget for an input. */
#include "fuzz_util.h"

#include "engine/io/ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    jn_error err = {0};
    jn_pickle_tensor *t = NULL;
    size_t n = 0;
    jn_status st = jn_pickle_load_state_dict(data, size, "fuzz/pytorch_model.bin", &t, &n, &err);
    fuzz_report("unpickle", &err);
    if (st == JN_OK) {
        for (size_t i = 0; i < n; i++) {
            fuzz_touch(t[i].name, strlen(t[i].name));
            fuzz_touch(t[i].storage_key, strlen(t[i].storage_key));
            if (t[i].n_dims < 0 || t[i].n_dims > JN_CKPT_MAX_DIMS) abort();
        }
        jn_pickle_free(t, n);
    }
    return 0;
}
