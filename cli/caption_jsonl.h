/* cli/caption_jsonl.h — the records `janus caption` writes and reads back: a growable string with
 * JSON string escaping, the parse of one record line (enough JSON for resume), and the set of items
 * an existing output already holds. */
#ifndef JANUS_CLI_CAPTION_JSONL_H
#define JANUS_CLI_CAPTION_JSONL_H

#include <stddef.h>

typedef struct caption_buf {
    char *s;
    size_t n, cap;
    int oom;  /* an append failed: the content is incomplete */
} caption_buf;

void caption_buf_free(caption_buf *b);
void caption_buf_add(caption_buf *b, const char *s, size_t n);
void caption_buf_addf(caption_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends s as a quoted JSON string. Bytes that are not valid UTF-8 become U+FFFD, so the output
 * is always valid JSON (file names need not be UTF-8). */
void caption_buf_add_json_string(caption_buf *b, const char *s);

/* The resume key of an item: its path (jsonl) or file_name (hf), as written to JSON, and its frame
 * time ("%.3f", empty for images). Malloc'ed. */
char *caption_record_key(const char *path, double frame_time);

/* Parses one line as a JSON object and returns the resume key of the record (the string value of
 * key_field, plus a "frame_time" number if present), malloc'ed; NULL when the line is not an object
 * with that string field. */
char *caption_parse_record_key(const char *line, size_t len, const char *key_field);

/* A set of keys (strings, owned). */
typedef struct caption_keyset {
    char **slots;
    size_t cap, n;
} caption_keyset;
void caption_keyset_free(caption_keyset *s);
int caption_keyset_add(caption_keyset *s, char *key); /* takes ownership; 0, or -1 out of memory */
int caption_keyset_has(const caption_keyset *s, const char *key);

/* Scans an existing output for resume: every complete line that is a record adds its key. Returns
 * the length of the intact part: up to and including the last '\n' (a torn last line from a crash
 * is past it and is to be cut off). *n_records: records found; *n_bad: complete lines that are not
 * records (kept as they are). -1: out of memory. */
long caption_scan_output(const char *buf, size_t len, const char *key_field, caption_keyset *keys, long *n_records,
                         long *n_bad);

#endif
