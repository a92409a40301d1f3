/* cli/cmd_tokenize.c — placeholder until the command lands. */
#include <stdio.h>
#include "cli.h"
int cmd_tokenize(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "janus tokenize: not available in this build yet\n");
    return 1;
}
