/* cli/cmd_chat.c — `janus chat -m MODEL [--image IMG]...`: an interactive conversation about
 * images. The model loads once; the conversation lives in one session (janus_chat_*), so every
 * image is encoded once and each turn prefills only its own tokens. Lines come from the terminal
 * (line editing and history through libedit when built with it, else the terminal's own cooked
 * mode) or from a pipe, which makes it scriptable: the first
 * answer after "/image X" and a question is `janus ask --image X question`'s answer.
 * Answers stream to stdout; prompts, command replies and timings go to stderr. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifdef JANUS_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

static void help(FILE *f) {
    fprintf(f,
            "usage: janus chat -m MODEL.gguf [--image IMG]... [options]\n\n"
            "A conversation about images: type a question and the answer streams back; the model keeps\n"
            "the whole conversation. Lines starting with / are commands:\n"
            "  /image PATH    attach an image to the next question (PNG, JPEG, or what FFmpeg reads)\n"
            "  /clear         forget the conversation and its images\n"
            "  /save FILE     write the transcript as JSON\n"
            "  /quit          leave (end of input, Ctrl-D, does the same)\n"
            "  /help          this list\n"
            "Input from a pipe works the same, one line per question or command.\n"
#ifdef JANUS_HAVE_LIBEDIT
            "On a terminal: line editing and history (libedit): arrows, Ctrl-A/E, Ctrl-R search.\n\n"
#else
            "On a terminal: plain line input (this janus was built without libedit).\n\n"
#endif
            "  -m, --model FILE      converted model (janus convert)\n"
            "  -i, --image FILE      attach an image to the first question; repeatable\n"
            "  -n, --max-tokens N    answer length limit [512]\n"
            "      --temp T          0 = greedy, as the official inference [0]\n"
            "      --top-k K, --top-p P, -s/--seed S   sampling, as in janus ask\n"
            "  -t, --threads N       CPU threads [all cores]\n"
            "      --backend NAME    auto (CUDA when built and a GPU answers, else CPU), cpu or cuda [auto]\n"
            CLI_HELP_MEMORY
            "  -v, --verbose         a timing line after every answer\n"
            "  -q, --quiet           no prompt, banner or summary on stderr\n");
}

static int on_token(void *user, const char *s, size_t n) {
    (void)user;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
    return 0;
}

/* The transcript as {"model": ..., "turns": [{"user": ..., "assistant": ...}, ...]}. */
static int save_transcript(janus_session *s, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "janus chat: cannot write '%s': %s\n", path, strerror(errno));
        return 1;
    }
    fputs("{\"model\":", f);
    cli_json_string(f, janus_model_name(janus_session_model(s)));
    fputs(",\"turns\":[", f);
    for (int i = 0; i < janus_chat_n_turns(s); i++) {
        const janus_turn_text *t = janus_chat_turn(s, i);
        fputs(i ? ",{\"user\":" : "{\"user\":", f);
        cli_json_string(f, t->user);
        fputs(",\"assistant\":", f);
        cli_json_string(f, t->assistant);
        fputc('}', f);
    }
    fputs("]}\n", f);
    int bad = ferror(f);
    if (fclose(f) || bad) {
        fprintf(stderr, "janus chat: writing '%s' failed\n", path);
        return 1;
    }
    fprintf(stderr, "saved %d turn(s) to %s\n", janus_chat_n_turns(s), path);
    return 0;
}

/* Reads one line (any length) without its newline; NULL at end of input. */
static char *read_line(FILE *in) {
    size_t cap = 256, n = 0;
    char *buf = malloc(cap);
    int ch = EOF;
    while (buf && (ch = fgetc(in)) != EOF && ch != '\n') {
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); return NULL; }
            buf = nb;
        }
        buf[n++] = (char)ch;
    }
    if (!buf || (ch == EOF && n == 0)) { free(buf); return NULL; }
    if (n && buf[n - 1] == '\r') n--;
    buf[n] = 0;
    return buf;
}

/* One line from the terminal with line editing and history (libedit: arrows, Ctrl-A/E/W/R,
 * history of this session's lines); the prompt goes to stderr so stdout keeps only answers.
 * Without libedit: the prompt, then a plain line. NULL at end of input. */
static char *read_line_tty(const char *prompt, int show_prompt) {
#ifdef JANUS_HAVE_LIBEDIT
    rl_outstream = stderr;
    char *l = readline(show_prompt ? prompt : "");
    if (l && *l) add_history(l);
    return l;
#else
    if (show_prompt) fputs(prompt, stderr);
    return read_line(stdin);
#endif
}

static const char *skip_space(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

int cmd_chat(int argc, char **argv) {
    const char *model = NULL;
    const char **images = calloc((size_t)argc + 1, sizeof *images);
    int n_images = 0, rc = 0;
    cli_common c;
    cli_common_init(&c);
    janus_ask_params ap = janus_ask_default_params();
    if (!images) return 1;
#define USAGE(...) do { free(images); return cli_usage_error("chat", __VA_ARGS__); } while (0)
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int k;
#define NEED() do { if (!v) USAGE("%s needs a value", a); i++; } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(stdout); free(images); return 0; }
        else if ((k = cli_common_opt(&c, "chat", argc, argv, &i)) < 0) { free(images); return -k; }
        else if (k) continue;
        else if ((k = cli_answer_opt(&ap, "chat", argc, argv, &i)) < 0) { free(images); return -k; }
        else if (k) continue;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { NEED(); model = v; }
        else if (!strcmp(a, "-i") || !strcmp(a, "--image")) { NEED(); images[n_images++] = v; }
        else USAGE("unexpected argument '%s' (questions are typed after it starts)", a);
#undef NEED
    }
    if (!model) USAGE("no model given (-m MODEL.gguf)");
#undef USAGE
    if ((rc = cli_check_images("chat", images, n_images, -1))) { free(images); return rc; }
    janus_error err = {0};
    janus_model *m = cli_load_model("chat", model, &c, &err);
    janus_session_params sp = cli_session_params(&c);
    janus_session *s = m ? janus_session_create(m, &sp, &err) : NULL;
    if (!s) {
        rc = cli_fail("chat", &err);
        janus_model_free(m);
        free(images);
        return rc;
    }
    int tty = isatty(0) && isatty(2);
    int pending_images = 0; /* attached since the last question */
    for (int i = 0; i < n_images && !rc; i++) {
        cli_status(&c, 0, "encode image %d/%d", i + 1, n_images);
        if (janus_chat_add_image_file(s, images[i], -1, &err)) rc = cli_fail("chat", &err);
        else pending_images++;
    }
    cli_status_clear(&c);
    free(images);
    if (tty && !c.quiet && !rc) fprintf(stderr, "Type a question, /image PATH to add an image, /help for commands.\n");
    int failures = 0;
    while (!rc) {
        const char *prompt = pending_images ? "> [image] " : "> ";
        char *line = tty ? read_line_tty(prompt, !c.quiet) : read_line(stdin);
        if (!line) break;
        const char *l = skip_space(line);
        if (!*l) { free(line); continue; }
        if (*l == '/') {
            const char *arg = l + strcspn(l, " \t");
            arg = skip_space(arg);
            size_t cmd_n = strcspn(l, " \t");
            if (cmd_n == 5 && !strncmp(l, "/quit", 5)) { free(line); break; }
            else if (cmd_n == 5 && !strncmp(l, "/exit", 5)) { free(line); break; }
            else if (cmd_n == 5 && !strncmp(l, "/help", 5)) fprintf(stderr, "/image PATH, /clear, /save FILE, /quit\n");
            else if (cmd_n == 6 && !strncmp(l, "/clear", 6)) {
                janus_chat_reset(s);
                pending_images = 0;
                if (!c.quiet) fprintf(stderr, "conversation cleared\n");
            } else if (cmd_n == 6 && !strncmp(l, "/image", 6)) {
                if (!*arg) {
                    fprintf(stderr, "janus chat: /image needs a file name\n");
                    failures++;
                } else {
                    cli_status(&c, 0, "encode %s", arg);
                    int st = janus_chat_add_image_file(s, arg, -1, &err);
                    cli_status_clear(&c);
                    if (st) { /* the conversation goes on without it */
                        cli_fail("chat", &err);
                        failures++;
                    } else {
                        pending_images++;
                    }
                }
            } else if (cmd_n == 5 && !strncmp(l, "/save", 5)) {
                if (!*arg) {
                    fprintf(stderr, "janus chat: /save needs a file name\n");
                    failures++;
                } else {
                    failures += save_transcript(s, arg) != 0;
                }
            } else {
                fprintf(stderr, "janus chat: unknown command '%.*s' (/help lists them)\n", (int)cmd_n, l);
                failures++;
            }
            free(line);
            continue;
        }
        ap.question = l;
        ap.on_token = on_token;
        cli_status(&c, 0, "prefill…");
        janus_session_stats before, after;
        janus_session_get_stats(s, &before);
        double t0 = cli_now();
        const char *finish = NULL;
        int st = janus_chat_ask(s, &ap, NULL, &finish, &err);
        cli_status_clear(&c);
        fputc('\n', stdout);
        fflush(stdout);
        free(line);
        if (st) {
            /* a question too long for what is left of the context is the user's to fix (/clear);
             * anything else ends the chat */
            int code = cli_fail("chat", &err);
            if (st == JANUS_ERR_USAGE) failures++;
            else rc = code;
            continue;
        }
        pending_images = 0;
        if (c.verbose) {
            janus_session_get_stats(s, &after);
            long tok = after.tokens_decoded - before.tokens_decoded;
            double dec = after.decode_s - before.decode_s;
            fprintf(stderr, "[%ld prompt tokens, %ld answer tokens, %.1f tok/s, %.2f s%s]\n",
                    after.tokens_prefilled - before.tokens_prefilled, tok, dec > 0 ? (double)tok / dec : 0.0,
                    cli_now() - t0, finish && !strcmp(finish, "length") ? ", stopped at --max-tokens" : "");
        }
    }
    if (!rc) cli_session_summary("chat", &c, s);
    janus_session_free(s);
    janus_model_free(m);
    /* piped input: a failed command makes the script's exit status say so */
    return rc ? rc : (failures && !tty ? 1 : 0);
}
