/* cli/tokens_file.c — see tokens_file.h */
#include "tokens_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one input opener of the project (refuses FIFOs, sockets, devices and directories before a
 * read could block); the CLI otherwise includes only janus.h. */
#include "engine/io/file.h"

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_sep(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == ',' || c == '[' || c == ']'; }

int cli_parse_tokens(const char *name, const char *text, size_t len, int32_t **ids_out, size_t *n_out, char *msg,
                     size_t msg_size) {
    size_t cap = 1024, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) {
        snprintf(msg, msg_size, "out of memory reading %s", name);
        return 1;
    }
    for (size_t pos = 0; pos < len;) {
        char c = text[pos];
        if (is_sep(c)) {
            pos++;
            continue;
        }
        size_t start = pos;
        int neg = c == '-';
        if (neg) pos++;
        if (pos >= len || !is_digit(text[pos])) {
            char bad = pos < len ? text[pos] : c;
            if (neg) snprintf(msg, msg_size, "%s: stray '-' at byte %zu", name, start + 1);
            else
                snprintf(msg, msg_size, "%s: unexpected character '%c' at byte %zu (expected integers separated by spaces)",
                         name, bad >= 0x20 && bad < 0x7f ? bad : '?', pos + 1);
            free(ids);
            return 2;
        }
        long long cur = 0;
        for (; pos < len && is_digit(text[pos]); pos++) {
            cur = cur * 10 + (text[pos] - '0');
            if (cur > 2147483647LL) {
                snprintf(msg, msg_size, "%s: number too large at byte %zu", name, pos + 1);
                free(ids);
                return 2;
            }
        }
        if (pos < len && !is_sep(text[pos])) {
            char bad = text[pos];
            snprintf(msg, msg_size, "%s: unexpected character '%c' at byte %zu (expected integers separated by spaces)",
                     name, bad >= 0x20 && bad < 0x7f ? bad : '?', pos + 1);
            free(ids);
            return 2;
        }
        if (n == cap) {
            int32_t *t = realloc(ids, (cap *= 2) * sizeof *ids);
            if (!t) {
                free(ids);
                snprintf(msg, msg_size, "out of memory reading %s", name);
                return 1;
            }
            ids = t;
        }
        ids[n++] = (int32_t)(neg ? -cur : cur);
    }
    *ids_out = ids;
    *n_out = n;
    return 0;
}

int cli_read_token_file(const char *path, int32_t **ids_out, size_t *n_out, char *msg, size_t msg_size) {
    char *text = NULL;
    size_t len = 0;
    jn_error err = {0};
    if (jn_read_input(path, CLI_TOKENS_FILE_MAX_BYTES, &text, &len, &err) != JN_OK) {
        snprintf(msg, msg_size, "%s", err.msg);
        return err.code == JN_ERR_FORMAT ? 2 : 1;
    }
    int rc = cli_parse_tokens(path, text, len, ids_out, n_out, msg, msg_size);
    free(text);
    return rc;
}
