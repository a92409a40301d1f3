/* cli/cmd_decode.c — placeholder until the command lands. */
#include <stdio.h>
#include "cli.h"
int cmd_decode(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "janus decode: not available in this build yet\n");
    return 1;
}
