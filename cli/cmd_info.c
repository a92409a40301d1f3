/* cli/cmd_info.c — `janus info FILE.gguf [--all]`: metadata and tensor table of a GGUF file.
 * Long strings and arrays are abbreviated unless --all. Exit 3 for an unreadable/invalid file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int all = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: janus info FILE.gguf [--all]\n\n"
                   "Prints a GGUF file's metadata and its tensors (name, dtype, shape, bytes).\n"
                   "  -a, --all   print long strings and arrays in full (JSON-escaped)\n");
            return 0;
        } else if (!strcmp(a, "--all") || !strcmp(a, "-a")) {
            all = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("info", "unknown option '%s'", a);
        } else if (!path) {
            path = a;
        } else {
            return cli_usage_error("info", "unexpected argument '%s' (one file only)", a);
        }
    }
    if (!path) return cli_usage_error("info", "missing FILE.gguf");
    janus_error err = {0};
    if (janus_info(path, stdout, all, &err) != JANUS_OK) return cli_fail("info", &err);
    return 0;
}
