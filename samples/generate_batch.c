/* samples/generate_batch.c — several prompts with their own seeds through one batched step loop:
 * every step is one forward over all requests' rows; each image equals what janus_generate gives
 * for the same prompt and seed alone.
 * usage: sample_generate_batch MODEL.gguf OUT_PREFIX "prompt" ["prompt" ...] */
#include <stdio.h>
#include <stdlib.h>

#include "janus.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL.gguf OUT_PREFIX \"prompt\" [\"prompt\" ...]\n", argv[0]);
        return 2;
    }
    const int n = argc - 3;
    janus_error err = {0};
    janus_model *m = janus_model_load(argv[1], NULL, &err);
    janus_session_params sp = janus_session_default_params();
    sp.max_rows = 2 * n; /* two CFG rows per image */
    janus_session *s = m ? janus_session_create(m, &sp, &err) : NULL;
    janus_gen_batch *b = s ? janus_gen_batch_create(s, &err) : NULL;
    int *ids = calloc((size_t)n, sizeof *ids);
    int st = b && ids ? 0 : (err.code ? err.code : JANUS_ERR_NOMEM);
    for (int i = 0; i < n && !st; i++) {
        janus_gen_params p = janus_gen_default_params();
        p.prompt = argv[3 + i];
        p.seed = 1000 + (uint64_t)i;
        ids[i] = janus_gen_batch_add(b, &p, &err);
        if (ids[i] < 0) st = ids[i];
    }
    for (int live = n; live > 0 && !st;) {
        live = janus_gen_batch_step(b, &err);
        if (live < 0) st = live;
        int done = 0;
        janus_gen_batch_state(b, ids[0], &done);
        if (done % 64 == 0) fprintf(stderr, "step %d/576\n", done);
    }
    for (int i = 0; i < n && !st; i++) {
        int32_t *tokens = NULL;
        janus_image *img = NULL;
        char path[4096];
        snprintf(path, sizeof path, "%s%d.png", argv[2], i);
        if (!(st = janus_gen_batch_take_tokens(b, ids[i], &tokens, NULL, &err)) &&
            !(st = janus_session_decode(s, tokens, 1, &img, &err)) &&
            !(st = janus_image_write(&img[0], path, NULL, 0, 0, 0, &err)))
            printf("%s\n", path);
        janus_images_free(img, img ? 1 : 0);
        free(tokens);
    }
    if (st) fprintf(stderr, "%s\n", err.msg);
    free(ids);
    janus_gen_batch_free(b);
    janus_session_free(s);
    janus_model_free(m);
    return janus_exit_code(st);
}
