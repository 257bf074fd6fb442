/* cmd_demo.c: `pothole demo` -- PLACEHOLDER until its issue lands. */
#include <stdio.h>

#include "commands.h"

int ph_cmd_demo(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "pothole demo: not built yet\n");
  return 1;
}
