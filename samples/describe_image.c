/* samples/describe_image.c — the smallest image question answering program on the public API.
 * usage: sample_describe_image MODEL.gguf IMAGE ["question"] */
#include <stdio.h>
#include <stdlib.h>

#include "janus.h"

static int print_piece(void *user, const char *s, size_t n) {
    (void)user;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
    return 0; /* keep going */
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.gguf IMAGE [\"question\"]\n", argv[0]);
        return 2;
    }
    janus_error err = {0};
    janus_model *m = janus_model_load(argv[1], NULL, &err);
    if (!m) {
        fprintf(stderr, "%s\n", err.msg);
        return janus_exit_code(err.code);
    }
    const char *images[1] = {argv[2]};
    janus_ask_params p = janus_ask_default_params();
    p.images = images;
    p.n_images = 1;
    p.question = argc > 3 ? argv[3] : "Describe this image in detail.";
    p.max_tokens = 64;
    p.on_token = print_piece;
    int st = janus_ask(m, &p, NULL, &err);
    printf("\n");
    if (st) fprintf(stderr, "%s\n", err.msg);
    janus_model_free(m);
    return janus_exit_code(st);
}
