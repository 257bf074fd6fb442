/* fuzz_ckpt.c: libFuzzer harness for the checkpoint parser (core/ckpt.c):
 * any byte string must give PH_OK or a one-line error, never a crash, a
 * leak or undefined behaviour. */
#include <stddef.h>
#include <stdint.h>

#include "core/ckpt.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ph_error err = {0};
  ph_ckpt *ck = NULL;
  if (ph_ckpt_parse(data, size, "fuzz.ckpt", &ck, &err) == PH_OK)
    ph_ckpt_free(ck);
  else
    fuzz_check_message(&err);
  return 0;
}
