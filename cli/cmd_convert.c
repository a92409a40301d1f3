/* cli/cmd_convert.c — placeholder until the command lands. */
#include <stdio.h>
#include "cli.h"
int cmd_convert(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "janus convert: not available in this build yet\n");
    return 1;
}
