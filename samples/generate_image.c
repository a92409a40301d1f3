/* samples/generate_image.c — the smallest text-to-image program on the public API.
 * usage: sample_generate_image MODEL.gguf "prompt" OUT.png [seed] */
#include <stdio.h>
#include <stdlib.h>

#include "janus.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL.gguf \"prompt\" OUT.png [seed]\n", argv[0]);
        return 2;
    }
    janus_error err = {0};
    janus_model *m = janus_model_load(argv[1], NULL, &err);
    if (!m) {
        fprintf(stderr, "%s\n", err.msg);
        return janus_exit_code(err.code);
    }
    janus_gen_params p = janus_gen_default_params();
    p.prompt = argv[2];
    p.seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 42;
    janus_image *img = NULL;
    int st = janus_generate(m, &p, &img, NULL, &err);
    if (!st) {
        const char *kv[] = {"prompt", argv[2]};
        st = janus_image_write(&img[0], argv[3], kv, 1, 0, 0, &err);
        janus_images_free(img, 1);
    }
    if (st) fprintf(stderr, "%s\n", err.msg);
    else printf("%s\n", argv[3]);
    janus_model_free(m);
    return janus_exit_code(st);
}
