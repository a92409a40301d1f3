/* cli/cmd_bench.c — placeholder until the command lands. */
#include <stdio.h>
#include "cli.h"
int cmd_bench(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "janus bench: not available in this build yet\n");
    return 1;
}
