/* fuzz_landscape_spec.c: libFuzzer harness for toy landscape specs
 * ("name:key=value,...", potholes/toys.c): parse, then format the canonical
 * spec and parse that again, which must succeed and give the same kind. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "potholes/toys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char spec[256];
  if (!fuzz_string(data, size, spec, sizeof spec)) return 0;
  ph_error err = {0};
  ph_toy_spec s;
  if (ph_toy_spec_parse(spec, &s, &err) != PH_OK) {
    fuzz_check_message(&err);
    return 0;
  }
  char canon[1024];
  ph_toy_spec_format(&s, canon, sizeof canon);
  ph_toy_spec again;
  if (ph_toy_spec_parse(canon, &again, &err) != PH_OK || again.kind != s.kind) {
    fprintf(stderr, "fuzz: canonical spec '%s' of '%s' does not parse: %s\n",
            canon, spec, err.msg);
    abort();
  }
  return 0;
}
