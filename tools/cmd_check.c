/* cmd_check.c: `pothole check` -- PLACEHOLDER until its issue lands. */
#include <stdio.h>

#include "commands.h"

int ph_cmd_check(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "pothole check: not built yet\n");
  return 1;
}
