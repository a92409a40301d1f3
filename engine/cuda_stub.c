/* engine/cuda_stub.c — the CUDA backend entry points in a build without CUDA. */
#include "backend.h"

#include <stdio.h>

jn_backend *jn_backend_cuda_create(int device, jn_error *err) {
    (void)device;
    jn_fail(err, JN_ERR_USAGE, "this janus was built without CUDA (install the CUDA toolkit and rebuild)");
    return NULL;
}

int jn_backend_cuda_available(void) { return 0; }

jn_status jn_backend_cuda_load_libraries(jn_error *err) {
    return jn_fail(err, JN_ERR_USAGE, "this janus was built without CUDA");
}

jn_status jn_backend_cuda_last_error(jn_backend *be, jn_error *err) {
    (void)be;
    (void)err;
    return JN_OK;
}

jn_status jn_backend_cuda_set(jn_backend *be, const char *key, const char *value, jn_error *err) {
    (void)be;
    return jn_fail(err, JN_ERR_USAGE, "%s=%s: this janus was built without CUDA", key ? key : "?", value ? value : "");
}

int jn_backend_cuda_describe(jn_backend *be, char *buf, size_t n) {
    (void)be;
    return snprintf(buf, n, "built without CUDA");
}

jn_status jn_backend_cuda_memory(jn_backend *be, size_t *free_bytes, size_t *total_bytes, jn_error *err) {
    (void)be;
    (void)free_bytes;
    (void)total_bytes;
    return jn_fail(err, JN_ERR_USAGE, "device memory: this janus was built without CUDA");
}
