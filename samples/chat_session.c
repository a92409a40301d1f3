/* samples/chat_session.c — a conversation on one session: the image is encoded once and every
 * follow-up question continues from the cached KV (only its own tokens are computed).
 * usage: sample_chat_session MODEL.gguf IMAGE "question" ["follow-up" ...] */
#include <stdio.h>
#include <stdlib.h>

#include "janus.h"

static int print_piece(void *user, const char *s, size_t n) {
    (void)user;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL.gguf IMAGE \"question\" [\"follow-up\" ...]\n", argv[0]);
        return 2;
    }
    janus_error err = {0};
    janus_model *m = janus_model_load(argv[1], NULL, &err); /* shared, immutable */
    janus_session *s = m ? janus_session_create(m, NULL, &err) : NULL;
    int st = s ? janus_chat_add_image_file(s, argv[2], -1, &err) : err.code;
    for (int i = 3; i < argc && !st; i++) {
        janus_ask_params p = janus_ask_default_params();
        p.question = argv[i];
        p.max_tokens = 128;
        p.on_token = print_piece;
        printf("> %s\n", argv[i]);
        st = janus_chat_ask(s, &p, NULL, NULL, &err);
        printf("\n");
    }
    if (st) fprintf(stderr, "%s\n", err.msg);
    janus_session_stats stats;
    if (s) {
        janus_session_get_stats(s, &stats);
        fprintf(stderr, "%ld image encode(s), %ld prompt tokens prefilled, %ld tokens decoded\n", stats.images_encoded,
                stats.tokens_prefilled, stats.tokens_decoded);
    }
    janus_session_free(s);
    janus_model_free(m);
    return janus_exit_code(st);
}
