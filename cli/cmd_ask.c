/* cli/cmd_ask.c — `janus ask -m MODEL [--image IMG]... "question"`: image question answering;
 * the answer streams to stdout as it is produced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: janus ask -m MODEL.gguf [--image IMG]... [options] \"question\"\n\n"
            "Answers a question about images (none: a text-only chat with the same system prompt).\n"
            "If the question contains <image_placeholder> it is used as written; otherwise one placeholder\n"
            "per image is put first, each followed by a newline.\n\n"
            "  -m, --model FILE      converted model (janus convert)\n"
            "  -i, --image FILE      image (PNG, JPEG, or anything FFmpeg reads); repeatable\n"
            "      --at SECONDS      frame time when an image is a video [first frame]\n"
            "      --turn USER ANSWER  an earlier turn of the conversation (repeatable, in order);\n"
            "                        images are matched to <image_placeholder> tags across all turns\n"
            "  -n, --max-tokens N    stop after N tokens [512]\n"
            "      --temp T          0 = greedy, as the official inference [0]\n"
            "      --top-k K         keep the K most likely tokens (0 = off) [0]\n"
            "      --top-p P         nucleus sampling (1 = off) [1]\n"
            "  -s, --seed S          sampling seed [42]\n"
            "  -t, --threads N       CPU threads [all cores]\n"
            "      --backend NAME    cpu or cuda [cpu]\n"
            "      --dump DIR        write intermediates (.npy, .json) for bisecting\n"
            "  -v, --verbose         log timings to stderr\n");
}

static int on_token(void *user, const char *s, size_t n) {
    (void)user;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
    return 0;
}

int cmd_ask(int argc, char **argv) {
    const char *model = NULL, *question = NULL, *backend = "cpu";
    const char **images = calloc((size_t)argc + 1, sizeof *images);
    janus_turn_text *turns = calloc((size_t)argc + 1, sizeof *turns);
    int n_turns = 0;
    int n_images = 0, verbose = 0;
    long threads = 0;
    janus_ask_params ap = janus_ask_default_params();
    if (!images || !turns) { free(images); free(turns); return 1; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long lv;
#define NEED()                                                                  \
    do {                                                                        \
        if (!v) { free(images); free(turns); return cli_usage_error("ask", "%s needs a value", a); } \
        i++;                                                                    \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(stdout); free(images); free(turns); return 0; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { NEED(); model = v; }
        else if (!strcmp(a, "-i") || !strcmp(a, "--image")) { NEED(); images[n_images++] = v; }
        else if (!strcmp(a, "--turn")) {
            if (i + 2 >= argc) { free(images); free(turns); return cli_usage_error("ask", "--turn needs two values: USER ANSWER"); }
            turns[n_turns].user = argv[i + 1];
            turns[n_turns].assistant = argv[i + 2];
            n_turns++;
            i += 2;
        }
        else if (!strcmp(a, "--at")) { NEED(); float t; if (cli_parse_float(v, &t) || t < 0) { free(images); free(turns); return cli_usage_error("ask", "--at needs seconds >= 0, got '%s'", v); } ap.at_seconds = t; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) { NEED(); if (cli_parse_int(v, &lv) || lv < 1 || lv > 1000000) { free(images); free(turns); return cli_usage_error("ask", "--max-tokens needs a positive integer, got '%s'", v); } ap.max_tokens = (int)lv; }
        else if (!strcmp(a, "--temp")) { NEED(); if (cli_parse_float(v, &ap.temperature) || ap.temperature < 0) { free(images); free(turns); return cli_usage_error("ask", "--temp needs a number >= 0, got '%s'", v); } }
        else if (!strcmp(a, "--top-k")) { NEED(); if (cli_parse_int(v, &lv) || lv < 0) { free(images); free(turns); return cli_usage_error("ask", "--top-k needs an integer >= 0, got '%s'", v); } ap.top_k = (int)lv; }
        else if (!strcmp(a, "--top-p")) { NEED(); if (cli_parse_float(v, &ap.top_p) || ap.top_p <= 0 || ap.top_p > 1) { free(images); free(turns); return cli_usage_error("ask", "--top-p needs a number in (0, 1], got '%s'", v); } }
        else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) { NEED(); if (cli_parse_u64(v, &ap.seed)) { free(images); free(turns); return cli_usage_error("ask", "--seed needs a non-negative integer, got '%s'", v); } }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { NEED(); if (cli_parse_int(v, &threads) || threads < 1 || threads > 1024) { free(images); free(turns); return cli_usage_error("ask", "--threads needs a positive integer, got '%s'", v); } }
        else if (!strcmp(a, "--backend")) { NEED(); backend = v; }
        else if (!strcmp(a, "--dump")) { NEED(); ap.dump_dir = v; }
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) verbose = 1;
        else if (a[0] == '-' && a[1]) { free(images); free(turns); return cli_usage_error("ask", "unknown option '%s'", a); }
        else if (!question) question = a;
        else { free(images); free(turns); return cli_usage_error("ask", "more than one question given ('%s'); quote the question", a); }
#undef NEED
    }
    if (!model) { free(images); free(turns); return cli_usage_error("ask", "no model given (-m MODEL.gguf)"); }
    if (!question) { free(images); free(turns); return cli_usage_error("ask", "no question given"); }
    janus_error err = {0};
    janus_load_params lp = janus_load_default_params();
    lp.backend = backend;
    lp.n_threads = (int)threads;
    lp.verbose = verbose;
    janus_model *m = janus_model_load(model, &lp, &err);
    if (!m) { free(images); free(turns); return cli_fail("ask", &err); }
    ap.images = images;
    ap.n_images = n_images;
    ap.history = turns;
    ap.n_history = n_turns;
    ap.question = question;
    ap.on_token = on_token;
    int st = janus_ask(m, &ap, NULL, &err);
    fputc('\n', stdout);
    fflush(stdout);
    janus_model_free(m);
    free(images);
    free(turns);
    if (st) return cli_fail("ask", &err);
    return 0;
}
