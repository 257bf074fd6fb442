/* fuzz_ckpt.c: libFuzzer harness for the checkpoint parser (core/ckpt.c):
 * any byte string must give PH_OK or a one-line error, never a crash, a
 * leak or undefined behaviour. */
#include <stddef.h>
#include <stdint.h>

#include <stdlib.h>
#include <string.h>

#include "core/ckpt.h"
#include "core/zio.h"
#include "fuzz_common.h"

static void parse(const uint8_t *data, size_t size) {
  ph_error err = {0};
  ph_ckpt *ck = NULL;
  if (ph_ckpt_parse(data, size, "fuzz.ckpt", &ck, &err) == PH_OK)
    ph_ckpt_free(ck);
  else
    fuzz_check_message(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* As given (mostly refused by the CRC-32 in the last 4 bytes), then with
   * the CRC made right, so that mutations reach the section parser. */
  parse(data, size);
  if (size < 24) return 0;
  uint8_t *fixed = malloc(size);
  if (!fixed) return 0;
  memcpy(fixed, data, size);
  uint32_t crc = ph_crc32(0, fixed, size - 4);
  for (int k = 0; k < 4; k++) fixed[size - 4 + k] = (uint8_t)(crc >> (8 * k));
  parse(fixed, size);
  free(fixed);
  return 0;
}
