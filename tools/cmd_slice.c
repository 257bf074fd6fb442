/* cmd_slice.c: `pothole slice` -- PLACEHOLDER until its issue lands. */
#include <stdio.h>

#include "commands.h"

int ph_cmd_slice(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "pothole slice: not built yet\n");
  return 1;
}
