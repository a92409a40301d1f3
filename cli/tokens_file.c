/* cli/tokens_file.c — see tokens_file.h */
#include "tokens_file.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_read_token_file(const char *path, int32_t **ids_out, size_t *n_out, char *msg, size_t msg_size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, msg_size, "cannot open %s: %s", path, strerror(errno));
        return 1;
    }
    size_t cap = 1024, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    int c, rc = 0;
    long long cur = 0;
    int in_num = 0, neg = 0;
    size_t pos = 0;
    while (ids) {
        c = fgetc(f);
        pos++;
        if (c != EOF && isdigit(c)) {
            cur = cur * 10 + (c - '0');
            if (cur > 2147483647LL) { snprintf(msg, msg_size, "%s: number too large at byte %zu", path, pos); rc = 2; break; }
            in_num = 1;
            continue;
        }
        if (in_num) {
            if (n == cap) {
                int32_t *t = realloc(ids, (cap *= 2) * sizeof *ids);
                if (!t) { free(ids); ids = NULL; break; }
                ids = t;
            }
            ids[n++] = (int32_t)(neg ? -cur : cur);
            in_num = 0; neg = 0; cur = 0;
        } else if (neg) {
            snprintf(msg, msg_size, "%s: stray '-' at byte %zu", path, pos); rc = 2; break;
        }
        if (c == EOF) break;
        if (c == '-') { neg = 1; continue; }
        if (isspace(c) || c == ',' || c == '[' || c == ']') continue;
        snprintf(msg, msg_size, "%s: unexpected character '%c' at byte %zu (expected integers separated by spaces)", path,
                 isprint(c) ? c : '?', pos);
        rc = 2;
        break;
    }
    fclose(f);
    if (!ids) { snprintf(msg, msg_size, "out of memory reading %s", path); return 1; }
    if (rc) { free(ids); return rc; }
    *ids_out = ids;
    *n_out = n;
    return 0;
}
