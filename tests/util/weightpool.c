/* tests/util/weightpool.c — see weightpool.h */
#include "weightpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

void tu_seed(uint64_t seed) { rng_state = seed ? seed : 0x9E3779B97F4A7C15ull; }

float tu_frand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

#define MAX_W 256
static jn_weight pool[MAX_W];
static int n_pool;

jn_weight *tu_weight_new(jn_dtype t, int nd, int64_t d0, int64_t d1, int64_t d2, int64_t d3, float scale,
                         float offset) {
    JN_ASSERT(n_pool < MAX_W);
    jn_weight *w = &pool[n_pool++];
    memset(w, 0, sizeof *w);
    w->name = "random";
    w->type = t;
    w->n_dims = nd;
    int64_t s[4] = {d0, d1, d2, d3};
    int64_t n = 1;
    for (int i = 0; i < 4; i++) {
        w->shape[i] = i < nd ? s[i] : 1;
        n *= w->shape[i];
    }
    float *f = malloc((size_t)n * sizeof(float));
    JN_ASSERT(f != NULL);
    for (int64_t i = 0; i < n; i++) f[i] = offset + scale * tu_frand();
    w->nbytes = jn_row_bytes(t, n);
    void *data = malloc(w->nbytes);
    JN_ASSERT(data != NULL);
    jn_from_f32_ref(t, f, data, n);
    free(f);
    w->data = data;
    w->dev = data;
    return w;
}

void tu_weights_upload(jn_backend *be) {
    jn_error err = {0};
    for (int i = 0; i < n_pool; i++)
        if (be->weight_upload(be, &pool[i], &err) != JN_OK) fprintf(stderr, "upload: %s\n", err.msg);
}

void tu_weights_release(jn_backend *be) {
    for (int i = 0; i < n_pool; i++) be->weight_release(be, &pool[i]);
}

void tu_weights_free(void) {
    for (int i = 0; i < n_pool; i++) free((void *)pool[i].data);
    n_pool = 0;
}

float *tu_weight_f32(const jn_weight *w) {
    int64_t n = w->shape[0] * w->shape[1] * w->shape[2] * w->shape[3];
    float *f = malloc((size_t)n * sizeof(float));
    JN_ASSERT(f != NULL);
    jn_to_f32_ref(w->type, w->data, f, n);
    return f;
}
