/* fuzz_model_spec.c: libFuzzer harness for model spec strings: the MLP/CNN
 * grammar (nn/net_build.c) and transformer:dDhHlL (nn/transformer.c).
 * Parsing only: a valid spec may describe a model of any size. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "nn/net_int.h"
#include "nn/transformer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char spec[256];
  if (!fuzz_string(data, size, spec, sizeof spec)) return 0;
  ph_error err = {0};
  ph_status st;
  if (strncmp(spec, "transformer", 11) == 0) {
    ph_transformer_config cfg;
    st = ph_transformer_spec_parse(spec, &cfg, &err);
  } else {
    st = nn_spec_check(spec, &err);
  }
  if (st != PH_OK) fuzz_check_message(&err);
  return 0;
}
