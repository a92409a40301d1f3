/* cli/tokens_file.h — reading whitespace/comma/bracket-separated integer id files
 * (576 per image for `decode`, `--teacher-tokens`). */
#ifndef JANUS_CLI_TOKENS_FILE_H
#define JANUS_CLI_TOKENS_FILE_H
#include <stddef.h>
#include <stdint.h>
/* Reads all integers of a file (separators: whitespace, ',', '[', ']'); anything else is an
 * error. Returns 0 ok, 1 unreadable (msg says why), 2 malformed. *ids malloc'ed. */
int cli_read_token_file(const char *path, int32_t **ids, size_t *n, char *msg, size_t msg_size);
#endif
