/* cli/cmd_tokenize.c — `janus tokenize`: encode text to ids or decode ids to text with a model's
 * tokenizer (--model FILE.gguf) or a Hugging Face tokenizer.json (--tokenizer FILE).
 *
 *   janus tokenize --tokenizer tokenizer.json "Hello world"        -> 17464 1843
 *   janus tokenize -m m.gguf --add-special --jsonl < in.jsonl      ({"text": …} -> {"ids": […]})
 *   janus tokenize -m m.gguf --decode --jsonl < ids.jsonl          ({"ids": […]} -> {"text": …})
 *   janus tokenize -m m.gguf --decode 17464 1843                   -> Hello world
 *
 * The CLI sees only janus.h, so the JSONL records are read by a small strict JSON reader here (any
 * other members of a record are skipped) and written with the same escaping as the engine's
 * jn_json_write_string (", \, control characters, DEL, U+2028/2029 escaped; other UTF-8 raw).
 * Exit codes: 2 usage, 3 unreadable tokenizer / malformed input line (named by its number). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "tokenize"

/* ------------------------------------------------------------------ growable buffer */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static int sb_put(sbuf *b, const void *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *np = (char *)realloc(b->p, cap);
        if (!np) return 0;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 1;
}

/* JSON string literal, escaped like jn_json_write_string. */
static int sb_json_string(sbuf *b, const char *s, size_t n) {
    int ok = sb_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char tmp[8];
        size_t skip = 1;
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c == '\b') esc = "\\b";
        else if (c == '\f') esc = "\\f";
        else if (c < 0x20 || c == 0x7F) { snprintf(tmp, sizeof tmp, "\\u%04x", c); esc = tmp; }
        else if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                 ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
            esc = (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
            skip = 3;
        }
        if (esc) {
            ok &= sb_put(b, s + run, i - run);
            ok &= sb_put(b, esc, strlen(esc));
            i += skip - 1;
            run = i + 1;
        }
    }
    ok &= sb_put(b, s + run, n - run);
    ok &= sb_put(b, "\"", 1);
    return ok;
}

/* ------------------------------------------------------------------ minimal strict JSON reader */

typedef struct jr {
    const char *s;
    size_t n, i;
    const char *err;
} jr;

static void jr_ws(jr *r) {
    while (r->i < r->n && (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' || r->s[r->i] == '\r')) r->i++;
}

static int jr_fail(jr *r, const char *msg) {
    if (!r->err) r->err = msg;
    return 0;
}

static int hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static int put_cp(sbuf *b, unsigned cp) {
    char o[4];
    size_t l;
    if (cp < 0x80) { o[0] = (char)cp; l = 1; }
    else if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); l = 2; }
    else if (cp < 0x10000) { o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F)); l = 3; }
    else { o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F)); o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F)); l = 4; }
    return sb_put(b, o, l);
}

/* Reads a string literal at r->i into out (out may be NULL to skip). */
static int jr_string(jr *r, sbuf *out) {
    if (r->i >= r->n || r->s[r->i] != '"') return jr_fail(r, "expected a string");
    r->i++;
    size_t run = r->i;
    sbuf tmp = {0};
    sbuf *o = out ? out : &tmp;
    while (r->i < r->n) {
        unsigned char c = (unsigned char)r->s[r->i];
        if (c == '"') {
            int ok = sb_put(o, r->s + run, r->i - run);
            r->i++;
            free(tmp.p);
            return ok ? 1 : jr_fail(r, "out of memory");
        }
        if (c < 0x20) { free(tmp.p); return jr_fail(r, "raw control character in a string"); }
        if (c != '\\') { r->i++; continue; }
        sb_put(o, r->s + run, r->i - run);
        if (r->i + 1 >= r->n) break;
        char e = r->s[r->i + 1];
        r->i += 2;
        const char *simple = NULL;
        switch (e) {
        case '"': simple = "\""; break;
        case '\\': simple = "\\"; break;
        case '/': simple = "/"; break;
        case 'b': simple = "\b"; break;
        case 'f': simple = "\f"; break;
        case 'n': simple = "\n"; break;
        case 'r': simple = "\r"; break;
        case 't': simple = "\t"; break;
        case 'u': {
            unsigned cp, lo;
            if (r->i + 4 > r->n || !hex4(r->s + r->i, &cp)) { free(tmp.p); return jr_fail(r, "bad \\u escape"); }
            r->i += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) { free(tmp.p); return jr_fail(r, "lone low surrogate in \\u escape"); }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (r->i + 6 > r->n || r->s[r->i] != '\\' || r->s[r->i + 1] != 'u' || !hex4(r->s + r->i + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF) {
                    free(tmp.p);
                    return jr_fail(r, "lone high surrogate in \\u escape");
                }
                r->i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_cp(o, cp);
            break;
        }
        default: free(tmp.p); return jr_fail(r, "bad escape in a string");
        }
        if (simple) sb_put(o, simple, 1);
        run = r->i;
    }
    free(tmp.p);
    return jr_fail(r, "unterminated string");
}

static int jr_value(jr *r, int depth);

static int jr_number(jr *r, long long *out) {
    size_t st = r->i;
    if (r->i < r->n && r->s[r->i] == '-') r->i++;
    if (r->i >= r->n || r->s[r->i] < '0' || r->s[r->i] > '9') return jr_fail(r, "bad number");
    if (r->s[r->i] == '0' && r->i + 1 < r->n && r->s[r->i + 1] >= '0' && r->s[r->i + 1] <= '9') return jr_fail(r, "bad number");
    int integer = 1;
    while (r->i < r->n) {
        char c = r->s[r->i];
        if (c >= '0' && c <= '9') r->i++;
        else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') { integer = 0; r->i++; }
        else break;
    }
    if (out) {
        if (!integer) return jr_fail(r, "ids must be integers");
        char buf[32];
        size_t l = r->i - st;
        if (l >= sizeof buf) return jr_fail(r, "id out of range");
        memcpy(buf, r->s + st, l);
        buf[l] = 0;
        errno = 0;
        *out = strtoll(buf, NULL, 10);
        if (errno) return jr_fail(r, "id out of range");
    }
    return 1;
}

static int jr_literal(jr *r, const char *w) {
    size_t l = strlen(w);
    if (r->i + l > r->n || memcmp(r->s + r->i, w, l) != 0) return jr_fail(r, "unexpected character");
    r->i += l;
    return 1;
}

static int jr_container(jr *r, int depth, int obj) {
    if (depth > 64) return jr_fail(r, "nesting too deep");
    r->i++;
    jr_ws(r);
    char close = obj ? '}' : ']';
    if (r->i < r->n && r->s[r->i] == close) { r->i++; return 1; }
    for (;;) {
        jr_ws(r);
        if (obj) {
            if (!jr_string(r, NULL)) return 0;
            jr_ws(r);
            if (r->i >= r->n || r->s[r->i] != ':') return jr_fail(r, "expected ':'");
            r->i++;
            jr_ws(r);
        }
        if (!jr_value(r, depth + 1)) return 0;
        jr_ws(r);
        if (r->i < r->n && r->s[r->i] == ',') { r->i++; continue; }
        if (r->i < r->n && r->s[r->i] == close) { r->i++; return 1; }
        return jr_fail(r, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int jr_value(jr *r, int depth) {
    if (r->i >= r->n) return jr_fail(r, "unexpected end of line");
    char c = r->s[r->i];
    if (c == '"') return jr_string(r, NULL);
    if (c == '{') return jr_container(r, depth, 1);
    if (c == '[') return jr_container(r, depth, 0);
    if (c == 't') return jr_literal(r, "true");
    if (c == 'f') return jr_literal(r, "false");
    if (c == 'n') return jr_literal(r, "null");
    return jr_number(r, NULL);
}

/* Parses one record; fills text (want_ids == 0) or ids. Returns 1 if the member was found. */
static int parse_record(const char *line, size_t n, int want_ids, sbuf *text, int32_t **ids, size_t *n_ids,
                        const char **err) {
    jr r = {line, n, 0, NULL};
    int found = 0;
    jr_ws(&r);
    if (r.i >= r.n || r.s[r.i] != '{') { *err = "expected a JSON object"; return 0; }
    r.i++;
    jr_ws(&r);
    if (r.i < r.n && r.s[r.i] == '}') r.i++;
    else
        for (;;) {
            jr_ws(&r);
            sbuf key = {0};
            if (!jr_string(&r, &key)) { free(key.p); break; }
            jr_ws(&r);
            if (r.i >= r.n || r.s[r.i] != ':') { free(key.p); jr_fail(&r, "expected ':'"); break; }
            r.i++;
            jr_ws(&r);
            int is_text = !want_ids && key.p && strcmp(key.p, "text") == 0 && key.n == 4;
            int is_ids = want_ids && key.p && strcmp(key.p, "ids") == 0 && key.n == 3;
            free(key.p);
            if (is_text) {
                text->n = 0;
                if (r.i >= r.n || r.s[r.i] != '"') { jr_fail(&r, "\"text\" must be a string"); break; }
                if (!jr_string(&r, text)) break;
                found = 1;
            } else if (is_ids) {
                *n_ids = 0;
                if (r.i >= r.n || r.s[r.i] != '[') { jr_fail(&r, "\"ids\" must be an array of integers"); break; }
                r.i++;
                size_t cap = 0;
                jr_ws(&r);
                if (r.i < r.n && r.s[r.i] == ']') r.i++;
                else
                    for (;;) {
                        jr_ws(&r);
                        long long v;
                        if (!jr_number(&r, &v)) break;
                        if (v < 0 || v > INT32_MAX) { jr_fail(&r, "id out of range"); break; }
                        if (*n_ids == cap) {
                            cap = cap ? cap * 2 : 64;
                            int32_t *ni = (int32_t *)realloc(*ids, cap * sizeof *ni);
                            if (!ni) { jr_fail(&r, "out of memory"); break; }
                            *ids = ni;
                        }
                        (*ids)[(*n_ids)++] = (int32_t)v;
                        jr_ws(&r);
                        if (r.i < r.n && r.s[r.i] == ',') { r.i++; continue; }
                        if (r.i < r.n && r.s[r.i] == ']') { r.i++; break; }
                        jr_fail(&r, "expected ',' or ']' in \"ids\"");
                        break;
                    }
                if (r.err) break;
                found = 1;
            } else if (!jr_value(&r, 1)) {
                break;
            }
            jr_ws(&r);
            if (r.i < r.n && r.s[r.i] == ',') { r.i++; continue; }
            if (r.i < r.n && r.s[r.i] == '}') { r.i++; break; }
            jr_fail(&r, "expected ',' or '}'");
            break;
        }
    if (!r.err) {
        jr_ws(&r);
        if (r.i != r.n) jr_fail(&r, "trailing characters after the object");
    }
    if (r.err) { *err = r.err; return 0; }
    if (!found) { *err = want_ids ? "missing \"ids\"" : "missing \"text\""; return 0; }
    return 1;
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

static int emit_ids(sbuf *o, const int32_t *ids, size_t n, int json) {
    int ok = sb_put(o, json ? "{\"ids\":[" : "", json ? 8 : 0);
    char tmp[16];
    for (size_t i = 0; i < n; i++) {
        int l = snprintf(tmp, sizeof tmp, "%s%d", i ? (json ? "," : " ") : "", ids[i]);
        ok &= sb_put(o, tmp, (size_t)l);
    }
    ok &= sb_put(o, json ? "]}\n" : "\n", json ? 3 : 1);
    return ok;
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
    sbuf out = {0}, text = {0};
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
                if (i) sb_put(&text, " ", 1);
                sb_put(&text, rest[i], strlen(rest[i]));
            }
            int32_t *enc = NULL;
            size_t ne = 0;
            if (janus_tokenizer_encode(tok, text.p ? text.p : "", text.n, add_special, &enc, &ne, &err)) {
                rc = cli_fail(CMD, &err);
                goto done;
            }
            emit_ids(&out, enc, ne, 0);
            fwrite(out.p, 1, out.n, stdout);
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
        const char *perr = NULL;
        out.n = 0;
        if (!parse_record(line, ll, decode, &text, &ids, &n_ids, &perr)) {
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
            sb_put(&out, "{\"text\":", 8);
            sb_json_string(&out, s, l);
            sb_put(&out, "}\n", 2);
            free(s);
        } else {
            int32_t *enc = NULL;
            size_t ne = 0;
            if (janus_tokenizer_encode(tok, text.p ? text.p : "", text.n, add_special, &enc, &ne, &err)) {
                fprintf(stderr, "janus tokenize: line %ld: %s\n", lineno, err.msg);
                rc = janus_exit_code(err.code);
                break;
            }
            emit_ids(&out, enc, ne, 1);
            free(enc);
        }
        if (fwrite(out.p, 1, out.n, stdout) != out.n) {
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
    free(out.p);
    free(text.p);
    free(ids);
    free(rest);
    janus_tokenizer_free(tok);
    return rc;
}
