/* cmd_init.c: `pothole init` -- PLACEHOLDER until its issue lands. */
#include <stdio.h>

#include "commands.h"

int ph_cmd_init(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "pothole init: not built yet\n");
  return 1;
}
