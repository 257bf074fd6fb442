/* cmd_eval.c: `pothole eval` -- PLACEHOLDER until its issue lands. */
#include <stdio.h>

#include "commands.h"

int ph_cmd_eval(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "pothole eval: not built yet\n");
  return 1;
}
