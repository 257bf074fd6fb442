/* cmd_spectrum.c: `pothole spectrum` -- PLACEHOLDER until its issue lands. */
#include <stdio.h>

#include "commands.h"

int ph_cmd_spectrum(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "pothole spectrum: not built yet\n");
  return 1;
}
