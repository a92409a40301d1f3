/* cli/cmd_tokenize.c — `janus tokenize`: encode text to ids or decode ids to text with a model's
 * tokenizer (--model FILE.gguf) or a Hugging Face tokenizer.json (--tokenizer FILE).
 *
 *   janus tokenize --tokenizer tokenizer.json "Hello world"        -> 17464 1843
 *   janus tokenize -m m.gguf --add-special --jsonl < in.jsonl      ({"text": …} -> {"ids": […]})
 *   janus tokenize -m m.gguf --decode --jsonl < ids.jsonl          ({"ids": […]} -> {"text": …})
 *   janus tokenize -m m.gguf --decode 17464 1843                   -> Hello world
 *
 * JSONL records are read and written with the project's JSON code (engine/io/json.h: strict
 * RFC 8259, strings with explicit lengths; other members of a record are ignored).
 * Exit codes: 2 usage, 3 unreadable tokenizer / malformed input line (named by its number). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine/io/json.h"

#define CMD "tokenize"

/* Parses one record; fills text (want_ids == 0) or ids. Returns 1 on success, else 0 with the
 * reason in msg. */
static int parse_record(const char *line, size_t n, int want_ids, jn_buf *text, int32_t **ids, size_t *n_ids,
                        char *msg, size_t msg_n) {
    jn_error e = {0};
    jn_json *root = jn_json_parse(line, n, &e);
    int ok = 0;
    const jn_json *v = root && root->type == JN_JSON_OBJECT ? jn_json_get(root, want_ids ? "ids" : "text") : NULL;
    if (!root) snprintf(msg, msg_n, "%.200s", e.msg);
    else if (root->type != JN_JSON_OBJECT) snprintf(msg, msg_n, "expected a JSON object");
    else if (!v) snprintf(msg, msg_n, "missing \"%s\"", want_ids ? "ids" : "text");
    else if (!want_ids) {
        if (v->type != JN_JSON_STRING) snprintf(msg, msg_n, "\"text\" must be a string");
        else {
            text->len = 0;
            jn_buf_append(text, v->str, v->len);
            ok = !text->oom;
            if (!ok) snprintf(msg, msg_n, "out of memory");
        }
    } else if (v->type != JN_JSON_ARRAY) {
        snprintf(msg, msg_n, "\"ids\" must be an array of integers");
    } else {
        int32_t *ni = (int32_t *)realloc(*ids, (v->n ? v->n : 1) * sizeof *ni);
        ok = ni != NULL;
        if (ni) *ids = ni;
        else snprintf(msg, msg_n, "out of memory");
        for (size_t i = 0; ok && i < v->n; i++) {
            const jn_json *x = v->items[i];
            if (x->type != JN_JSON_NUMBER || !x->is_integer) ok = 0, snprintf(msg, msg_n, "ids must be integers");
            else if (x->integer < 0 || x->integer > INT32_MAX) ok = 0, snprintf(msg, msg_n, "id out of range");
            else (*ids)[i] = (int32_t)x->integer;
        }
        *n_ids = ok ? v->n : 0;
    }
    jn_json_free(root);
    return ok;
}

static void emit_ids(jn_buf *o, const int32_t *ids, size_t n, int json) {
    jn_buf_puts(o, json ? "{\"ids\":[" : "");
    for (size_t i = 0; i < n; i++) jn_buf_printf(o, "%s%d", i ? (json ? "," : " ") : "", ids[i]);
    jn_buf_puts(o, json ? "]}\n" : "\n");
}

/* ------------------------------------------------------------------ command */

static void usage(FILE *f) {
    fprintf(f, "usage: janus tokenize (-m FILE.gguf | --tokenizer tokenizer.json) [options] [TEXT... | IDS...]\n\n"
               "Encodes text to token ids, or decodes ids to text (--decode).\n"
               "  -m, --model FILE       tokenizer of a converted model (.gguf)\n"
               "  --tokenizer FILE       a Hugging Face tokenizer.json (tokenizer_config.json beside it is read)\n"
               "  --add-special          add what Python transformers' tokenizer.encode() adds (BOS)\n"
               "  --decode               ids -> text\n"
               "  --skip-special         with --decode: drop special tokens\n"
               "  --jsonl [FILE]         read JSON lines from FILE or stdin: {\"text\": …} -> {\"ids\": […]}\n"
               "                         (with --decode: {\"ids\": […]} -> {\"text\": …}); one output line per record\n"
               "Without --jsonl the arguments joined by spaces are the text (ids are printed space-separated),\n"
               "or with --decode the ids (the text is printed followed by a newline).\n");
}

static int parse_ids_arg(const char *s, int32_t **ids, size_t *n, size_t *cap) {
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n' || *p == '[' || *p == ']') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && !strchr(" ,\t\n[]", *end))) return 0;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            int32_t *ni = (int32_t *)realloc(*ids, *cap * sizeof *ni);
            if (!ni) return 0;
            *ids = ni;
        }
        (*ids)[(*n)++] = (int32_t)v;
        p = end;
    }
    return 1;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *tokpath = NULL, *jsonl_file = NULL;
    int add_special = 0, decode = 0, skip_special = 0, jsonl = 0;
    char **rest = (char **)calloc((size_t)argc + 1, sizeof *rest);
    int n_rest = 0, only_args = 0;
    if (!rest) { fprintf(stderr, "janus tokenize: out of memory\n"); return 1; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_args && a[0] == '-' && a[1]) {
            if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); free(rest); return 0; }
            else if (!strcmp(a, "--")) only_args = 1;
            else if (!strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "--tokenizer")) {
                if (i + 1 >= argc) { free(rest); return cli_usage_error(CMD, "%s needs a file", a); }
                if (model || tokpath) { free(rest); return cli_usage_error(CMD, "give one of --model / --tokenizer, once"); }
                if (!strcmp(a, "--tokenizer")) tokpath = argv[++i];
                else model = argv[++i];
            } else if (!strcmp(a, "--add-special")) add_special = 1;
            else if (!strcmp(a, "--decode")) decode = 1;
            else if (!strcmp(a, "--skip-special")) skip_special = 1;
            else if (!strcmp(a, "--jsonl")) jsonl = 1;
            else if (decode && a[1] >= '0' && a[1] <= '9') rest[n_rest++] = argv[i]; /* negative id: rejected below */
            else { free(rest); return cli_usage_error(CMD, "unknown option '%s'", a); }
        } else {
            rest[n_rest++] = argv[i];
        }
    }
    if (!model && !tokpath) { free(rest); return cli_usage_error(CMD, "missing --model FILE.gguf or --tokenizer tokenizer.json"); }
    if (skip_special && !decode) { free(rest); return cli_usage_error(CMD, "--skip-special only applies with --decode"); }
    if (add_special && decode) { free(rest); return cli_usage_error(CMD, "--add-special only applies when encoding"); }
    if (jsonl) {
        if (n_rest > 1) { free(rest); return cli_usage_error(CMD, "--jsonl takes at most one input file"); }
        jsonl_file = n_rest ? rest[0] : NULL;
    } else if (n_rest == 0 && decode) {
        free(rest);
        return cli_usage_error(CMD, "no ids given (or use --jsonl)");
    }

    janus_error err = {0};
    janus_tokenizer *tok = model ? janus_tokenizer_load_gguf(model, &err) : janus_tokenizer_load_json(tokpath, &err);
    if (!tok) { free(rest); return cli_fail(CMD, &err); }
    int rc = 0;
    jn_buf out = {0}, text = {0};
    int32_t *ids = NULL;
    size_t n_ids = 0, cap = 0;

    if (!jsonl) {
        if (decode) {
            for (int i = 0; i < n_rest; i++)
                if (!parse_ids_arg(rest[i], &ids, &n_ids, &cap)) {
                    rc = cli_usage_error(CMD, "not a token id: '%s'", rest[i]);
                    goto done;
                }
            char *s = NULL;
            size_t l = 0;
            if (janus_tokenizer_decode(tok, ids, n_ids, skip_special, &s, &l, &err)) { rc = cli_fail(CMD, &err); goto done; }
            fwrite(s, 1, l, stdout);
            fputc('\n', stdout);
            free(s);
        } else {
            for (int i = 0; i < n_rest; i++) {
                if (i) jn_buf_puts(&text, " ");
                jn_buf_puts(&text, rest[i]);
            }
            int32_t *enc = NULL;
            size_t ne = 0;
            if (text.oom) { fprintf(stderr, "janus tokenize: out of memory\n"); rc = 1; goto done; }
            if (janus_tokenizer_encode(tok, text.data ? text.data : "", text.len, add_special, &enc, &ne, &err)) {
                rc = cli_fail(CMD, &err);
                goto done;
            }
            emit_ids(&out, enc, ne, 0);
            fwrite(out.data, 1, out.len, stdout);
            free(enc);
        }
        goto done;
    }

    FILE *in = stdin;
    if (jsonl_file && strcmp(jsonl_file, "-") != 0) {
        in = fopen(jsonl_file, "rb");
        if (!in) {
            fprintf(stderr, "janus tokenize: %s: cannot open: %s\n", jsonl_file, strerror(errno));
            rc = 3;
            goto done;
        }
    }
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t got;
    long lineno = 0;
    while ((got = getline(&line, &line_cap, in)) >= 0) {
        lineno++;
        size_t ll = (size_t)got;
        while (ll && (line[ll - 1] == '\n' || line[ll - 1] == '\r')) ll--;
        size_t k = 0;
        while (k < ll && (line[k] == ' ' || line[k] == '\t')) k++;
        if (k == ll) continue; /* blank line */
        char perr[300];
        out.len = 0;
        if (!parse_record(line, ll, decode, &text, &ids, &n_ids, perr, sizeof perr)) {
            fprintf(stderr, "janus tokenize: %s line %ld: %s\n", jsonl_file ? jsonl_file : "stdin", lineno, perr);
            rc = 3;
            break;
        }
        if (decode) {
            char *s = NULL;
            size_t l = 0;
            if (janus_tokenizer_decode(tok, ids, n_ids, skip_special, &s, &l, &err)) {
                fprintf(stderr, "janus tokenize: line %ld: %s\n", lineno, err.msg);
                rc = janus_exit_code(err.code);
                break;
            }
            jn_buf_puts(&out, "{\"text\":");
            jn_json_write_string(&out, s, l);
            jn_buf_puts(&out, "}\n");
            free(s);
        } else {
            int32_t *enc = NULL;
            size_t ne = 0;
            if (janus_tokenizer_encode(tok, text.data ? text.data : "", text.len, add_special, &enc, &ne, &err)) {
                fprintf(stderr, "janus tokenize: line %ld: %s\n", lineno, err.msg);
                rc = janus_exit_code(err.code);
                break;
            }
            emit_ids(&out, enc, ne, 1);
            free(enc);
        }
        if (out.oom) {
            fprintf(stderr, "janus tokenize: out of memory\n");
            rc = 1;
            break;
        }
        if (fwrite(out.data, 1, out.len, stdout) != out.len) {
            fprintf(stderr, "janus tokenize: write error: %s\n", strerror(errno));
            rc = 1;
            break;
        }
    }
    if (!rc && ferror(in)) {
        fprintf(stderr, "janus tokenize: read error: %s\n", strerror(errno));
        rc = 3;
    }
    free(line);
    if (in != stdin) fclose(in);
done:
    if (!rc && fflush(stdout) != 0) {
        fprintf(stderr, "janus tokenize: write error: %s\n", strerror(errno));
        rc = 1;
    }
    jn_buf_free(&out);
    jn_buf_free(&text);
    free(ids);
    free(rest);
    janus_tokenizer_free(tok);
    return rc;
}
