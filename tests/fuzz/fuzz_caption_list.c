/* tests/fuzz/fuzz_caption_list.c — libFuzzer entry point for the parsers `janus caption` runs on
 * files it did not write: list files (@list, stdin) and the JSONL output read back by --resume
 * (record keys, torn-line detection). The input is used whole as both; the first byte also picks
 * the key field, so hf records are reached.
 * CMake: janus_fuzz_target(caption_list ../../cli/caption_input.c ../../cli/caption_jsonl.c) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/caption_input.h"
#include "cli/caption_jsonl.h"

static int count_line(void *user, const char *line, size_t len, long line_no) {
    (void)line_no;
    size_t *total = user;
    *total += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    char msg[256];
    size_t total = 0;
    if (caption_list_lines(buf, size, count_line, &total, msg, sizeof msg) == 0 && total > size) abort();

    const char *field = size > 0 && (data[0] & 1) ? "file_name" : "path";
    caption_keyset keys = {0};
    long n_records = 0, n_bad = 0;
    long intact = caption_scan_output(buf, size, field, &keys, &n_records, &n_bad);
    if (intact > (long)size || (intact > 0 && buf[intact - 1] != '\n')) abort(); /* cut only after a newline */
    if (intact >= 0 && (size_t)n_records < keys.n) abort();
    caption_keyset_free(&keys);

    /* a record written for any key reads back as that key */
    char *path = malloc(size + 1);
    if (!path) return 0;
    memcpy(path, data, size);
    path[size] = 0; /* a C string: up to the first NUL */
    caption_buf line = {0};
    caption_buf_add(&line, "{\"path\": ", 9);
    caption_buf_add_json_string(&line, path);
    caption_buf_add(&line, ", \"frame_time\": 1.500}", 22);
    char *want = caption_record_key(path, 1.5);
    char *got = line.oom ? NULL : caption_parse_record_key(line.s, line.n, "path");
    if (want && !line.oom && (!got || strcmp(got, want))) abort();
    free(want);
    free(got);
    caption_buf_free(&line);
    free(path);
    return 0;
}
