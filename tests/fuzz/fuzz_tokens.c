/* tests/fuzz/fuzz_tokens.c — the --tokens / --teacher-tokens file parser (cli/tokens_file.c). */
#include "fuzz_util.h"

#include "cli/tokens_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int32_t *ids = NULL;
    size_t n = 0;
    char msg[512] = "";
    int rc = cli_parse_tokens("fuzz.txt", (const char *)data, size, &ids, &n, msg, sizeof msg);
    if (rc == 0) {
        if (n > (size + 1) / 2) abort(); /* an id and its separator take at least two bytes */
        fuzz_touch(ids, n * sizeof *ids);
        free(ids);
    } else if (!msg[0]) {
        abort(); /* an error always says why */
    }
    return 0;
}
