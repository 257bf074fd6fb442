/* fuzz_npy.c: libFuzzer harness for the .npy parser (core/npy.c) and the
 * value checks applied at load (finite, non-negative). */
#include <stddef.h>
#include <stdint.h>

#include "core/npy.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ph_error err = {0};
  ph_npy a;
  if (ph_npy_parse(data, size, "fuzz.npy", &a, &err) == PH_OK) {
    if (ph_npy_check(&a, "fuzz.npy", PH_NPY_FINITE | PH_NPY_NONNEG, "a vector",
                     &err) != PH_OK)
      fuzz_check_message(&err);
    ph_npy_free(&a);
  } else {
    fuzz_check_message(&err);
  }
  return 0;
}
