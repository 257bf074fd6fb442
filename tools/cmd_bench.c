/* cmd_bench.c: `pothole bench` -- PLACEHOLDER until its issue lands. */
#include <stdio.h>

#include "commands.h"

int ph_cmd_bench(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "pothole bench: not built yet\n");
  return 1;
}
