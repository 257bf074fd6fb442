/* fuzz_data_spec.c: libFuzzer harness for data-set spec strings
 * ("name[:arg][,key=value...]", data/spec.c and every loader's options).
 * The whole loader runs (ph_dataset_load), capped to 64/16 examples. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char spec[256];
  if (!fuzz_string(data, size, spec, sizeof spec)) return 0;
  /* Keep each run short: large synthetic sets are legal and merely slow.
   * No '/': file-backed kinds then name files relative to the (empty)
   * working directory, never a device such as /dev/stdin. */
  if (fuzz_has_big_number(spec) || strchr(spec, '/')) return 0;
  fuzz_load_data(spec, 64);
  return 0;
}
