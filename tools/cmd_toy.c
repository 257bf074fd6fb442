/* cmd_toy.c: `pothole toy` -- PLACEHOLDER until its issue lands. */
#include <stdio.h>

#include "commands.h"

int ph_cmd_toy(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "pothole toy: not built yet\n");
  return 1;
}
