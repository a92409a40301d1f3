/* cli/cmd_generate.c — placeholder until the command lands. */
#include <stdio.h>
#include "cli.h"
int cmd_generate(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "janus generate: not available in this build yet\n");
    return 1;
}
