/* cli/tokens_file.h — reading whitespace/comma/bracket-separated integer id files
 * (576 per image for `decode`, `--teacher-tokens`). */
#ifndef JANUS_CLI_TOKENS_FILE_H
#define JANUS_CLI_TOKENS_FILE_H
#include <stddef.h>
#include <stdint.h>
/* Largest token file read (a 256-image batch of 576 ids is ~1.6 MB of text). */
#define CLI_TOKENS_FILE_MAX_BYTES ((size_t)64 << 20)
/* Reads all integers of a file (separators: whitespace, ',', '[', ']'); anything else is an
 * error. The file must be a regular file (a FIFO or device is refused without blocking). Returns
 * 0 ok, 1 unreadable (msg says why), 2 malformed. *ids malloc'ed. */
int cli_read_token_file(const char *path, int32_t **ids, size_t *n, char *msg, size_t msg_size);
/* The parser on text[0..len) (may contain NUL); name is used in messages. Same returns. */
int cli_parse_tokens(const char *name, const char *text, size_t len, int32_t **ids, size_t *n, char *msg,
                     size_t msg_size);
#endif
