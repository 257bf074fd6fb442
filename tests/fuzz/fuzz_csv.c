/* fuzz_csv.c: libFuzzer harness for the numeric CSV parser behind csv:PATH
 * data sets (data/load_csv.c), then the row-to-data-set conversion. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_int.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The loader hands the parser a NUL-terminated buffer (ph_read_file). */
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  ph_error err = {0};
  double *rows = NULL;
  size_t n = 0, cols = 0;
  if (ph_csv_parse_numeric(text, size, "fuzz.csv", &rows, &n, &cols, &err) ==
      PH_OK) {
    ph_dataset *d = calloc(1, sizeof *d);
    if (d) {
      if (ph_data_from_rows(d, rows, n, cols, "fuzz.csv", 0, 1.0, &err) !=
          PH_OK)
        fuzz_check_message(&err);
      ph_dataset_free(d);
    }
    free(rows);
  } else {
    fuzz_check_message(&err);
  }
  free(text);
  return 0;
}
