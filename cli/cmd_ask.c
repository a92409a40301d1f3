/* cli/cmd_ask.c — placeholder until the command lands. */
#include <stdio.h>
#include "cli.h"
int cmd_ask(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "janus ask: not available in this build yet\n");
    return 1;
}
