/* cmd_sharpness.c: `pothole sharpness` -- PLACEHOLDER until its issue lands. */
#include <stdio.h>

#include "commands.h"

int ph_cmd_sharpness(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "pothole sharpness: not built yet\n");
  return 1;
}
