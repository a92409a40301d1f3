/* cli/cmd_ask.c — `janus ask -m MODEL [--image IMG]... "question"`: image question answering;
 * the answer streams to stdout as it is produced (or comes as one JSON object with --json).
 * Runs on a session (janus_chat_ask), the same path as `janus chat`, so a chat's first answer is
 * this command's answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: janus ask -m MODEL.gguf [--image IMG]... [options] \"question\"\n"
            "       janus ask -m MODEL.gguf [--image IMG]... -f QUESTION.txt   (or - for stdin)\n\n"
            "Answers a question about images (none: a text-only chat with the same system prompt).\n"
            "If the question contains <image_placeholder> it is used as written; otherwise one placeholder\n"
            "per image is put first, each followed by a newline.\n\n"
            "  -m, --model FILE      converted model (janus convert)\n"
            "  -i, --image FILE      image (PNG, JPEG, or anything FFmpeg reads); repeatable\n"
            "  -p, --prompt TEXT     the question (instead of the positional argument)\n"
            "  -f, --file FILE       read the question from FILE; '-' (or a lone - as the question): stdin\n"
            "      --at SECONDS      frame time when an image is a video [first frame]\n"
            "      --turn USER ANSWER  an earlier turn of the conversation (repeatable, in order);\n"
            "                        images are matched to <image_placeholder> tags across all turns\n"
            "  -n, --max-tokens N    stop after N tokens [512]\n"
            "      --temp T          0 = greedy, as the official inference [0]\n"
            "      --top-k K         keep the K most likely tokens (0 = off) [0]\n"
            "      --top-p P         nucleus sampling (1 = off) [1]\n"
            "  -s, --seed S          sampling seed [42]\n"
            "      --json            print one JSON object (answer, token counts, timings) instead of text\n"
            "  -t, --threads N       CPU threads [all cores]\n"
            "      --backend NAME    auto (CUDA when built and a GPU answers, else CPU), cpu or cuda [auto]\n"
            CLI_HELP_MEMORY
            "      --dump DIR        write intermediates (.npy, .json) for bisecting\n"
            "  -v, --verbose         per-phase timings and load details\n"
            "  -q, --quiet           no progress and no summary line\n"
            "  --                    end of options (a question starting with '-' follows)\n");
}

typedef struct ask_out {
    cli_common *c;
    int json, n_tokens, started;
} ask_out;

static int on_token(void *user, const char *s, size_t n) {
    ask_out *o = user;
    if (!o->started) { /* the prefill is over: the progress line gives way to the answer */
        cli_status_clear(o->c);
        o->started = 1;
    }
    o->n_tokens++;
    if (!o->json) {
        fwrite(s, 1, n, stdout);
        fflush(stdout);
    }
    return 0;
}

int cmd_ask(int argc, char **argv) {
    const char *model = NULL, *question = NULL, *question_file = NULL;
    const char **images = calloc((size_t)argc + 1, sizeof *images);
    janus_turn_text *turns = calloc((size_t)argc + 1, sizeof *turns);
    int n_turns = 0, n_images = 0, json = 0, rc = 0, options_done = 0;
    char *question_text = NULL;
    cli_common c;
    cli_common_init(&c);
    janus_ask_params ap = janus_ask_default_params();
    janus_model *m = NULL;
    janus_session *s = NULL;
    if (!images || !turns) { rc = 1; goto out; }
#define USAGE(...) do { rc = cli_usage_error("ask", __VA_ARGS__); goto out; } while (0)
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int k;
#define NEED() do { if (!v) USAGE("%s needs a value", a); i++; } while (0)
        if (options_done || a[0] != '-' || !strcmp(a, "-")) {
            if (question || question_file) USAGE("more than one question given ('%s'); quote the question", a);
            if (!strcmp(a, "-") && !options_done) question_file = "-";
            else question = a;
        }
        else if (!strcmp(a, "--")) options_done = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(stdout); goto out; }
        else if ((k = cli_common_opt(&c, "ask", argc, argv, &i)) < 0) { rc = -k; goto out; }
        else if (k) continue;
        else if ((k = cli_answer_opt(&ap, "ask", argc, argv, &i)) < 0) { rc = -k; goto out; }
        else if (k) continue;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { NEED(); model = v; }
        else if (!strcmp(a, "-i") || !strcmp(a, "--image")) { NEED(); images[n_images++] = v; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            NEED();
            if (question || question_file) USAGE("more than one question given ('%s'); quote the question", v);
            question = v;
        }
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            NEED();
            if (question || question_file) USAGE("more than one question given (-f '%s')", v);
            question_file = v;
        }
        else if (!strcmp(a, "--turn")) {
            if (i + 2 >= argc) USAGE("--turn needs two values: USER ANSWER");
            turns[n_turns].user = argv[i + 1];
            turns[n_turns].assistant = argv[i + 2];
            n_turns++;
            i += 2;
        }
        else if (!strcmp(a, "--at")) { NEED(); float t; if (cli_parse_float(v, &t) || t < 0) USAGE("--at needs seconds >= 0, got '%s'", v); ap.at_seconds = t; }
        else if (!strcmp(a, "--dump")) { NEED(); ap.dump_dir = v; }
        else if (!strcmp(a, "--json")) json = 1;
        else USAGE("unknown option '%s'", a);
#undef NEED
    }
    if (!model) USAGE("no model given (-m MODEL.gguf)");
    if (question_file) {
        char msg[512];
        if (!(question_text = cli_read_text(question_file, msg, sizeof msg))) {
            fprintf(stderr, "janus ask: %s\n", msg);
            rc = 3;
            goto out;
        }
        size_t n = strlen(question_text); /* a file's final newline is not part of the question */
        while (n && (question_text[n - 1] == '\n' || question_text[n - 1] == '\r')) question_text[--n] = 0;
        question = question_text;
    }
    if (!question || !question[0]) USAGE("no question given");
#undef USAGE
    /* bad images fail now, not after a model load */
    if ((rc = cli_check_images("ask", images, n_images, n_images ? ap.at_seconds : -1))) goto out;
    janus_error err = {0};
    if (!(m = cli_load_model("ask", model, &c, &err))) { rc = cli_fail("ask", &err); goto out; }
    ask_out o = {&c, json, 0, 0};
    ap.question = question;
    ap.on_token = on_token;
    ap.on_token_user = &o;
    char *answer = NULL;
    const char *finish = "stop";
    janus_session_stats stats;
    memset(&stats, 0, sizeof stats);
    int st;
    if (n_turns) {
        /* earlier turns given as text: the one-shot path (a session's conversation holds only
         * turns it answered itself) */
        ap.images = images;
        ap.n_images = n_images;
        ap.history = turns;
        ap.n_history = n_turns;
        cli_status(&c, 0, "prefill…");
        st = janus_ask(m, &ap, &answer, &err);
    } else {
        janus_session_params sp = cli_session_params(&c);
        if (!(s = janus_session_create(m, &sp, &err))) { rc = cli_fail("ask", &err); goto out; }
        st = 0;
        for (int i = 0; i < n_images && !st; i++) {
            cli_status(&c, 0, "encode image %d/%d", i + 1, n_images);
            st = janus_chat_add_image_file(s, images[i], ap.at_seconds, &err);
        }
        cli_status(&c, 0, "prefill…");
        if (!st) st = janus_chat_ask(s, &ap, &answer, &finish, &err);
        janus_session_get_stats(s, &stats);
    }
    cli_status_clear(&c);
    if (st) {
        if (o.started && !json) fputc('\n', stdout);
        free(answer);
        rc = cli_fail("ask", &err);
        goto out;
    }
    if (json) {
        fputs("{\"answer\":", stdout);
        cli_json_string(stdout, answer);
        fputs(",\"finish_reason\":", stdout);
        cli_json_string(stdout, finish);
        printf(",\"tokens\":%ld,\"prompt_tokens\":%ld,\"images\":[", s ? stats.tokens_decoded : (long)o.n_tokens,
               stats.tokens_prefilled);
        for (int i = 0; i < n_images; i++) {
            if (i) fputc(',', stdout);
            cli_json_string(stdout, images[i]);
        }
        fputs("],\"backend\":", stdout);
        cli_json_string(stdout, c.backend_used);
        fputs(",\"timings\":", stdout);
        cli_timings_json(stdout, &c, &stats);
        fputs("}\n", stdout);
    } else {
        fputc('\n', stdout);
    }
    fflush(stdout);
    free(answer);
    if (!strcmp(finish, "length")) /* never cut silently */
        fprintf(stderr, "janus ask: note: the answer was cut off at --max-tokens %d or at the end of the model's context "
                        "(finish_reason \"length\")\n", ap.max_tokens);
    if (!c.quiet) cli_summary("ask", &c, n_turns ? NULL : &stats);
out:
    janus_session_free(s);
    janus_model_free(m);
    free(question_text);
    free(images);
    free(turns);
    return rc;
}
