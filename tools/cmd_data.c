/* cmd_data.c: `pothole data` -- PLACEHOLDER until its issue lands. */
#include <stdio.h>

#include "commands.h"

int ph_cmd_data(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "pothole data: not built yet\n");
  return 1;
}
