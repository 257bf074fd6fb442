/* cmd_plot.c: `pothole plot` -- PLACEHOLDER until its issue lands. */
#include <stdio.h>

#include "commands.h"

int ph_cmd_plot(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "pothole plot: not built yet\n");
  return 1;
}
