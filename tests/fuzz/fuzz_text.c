/* fuzz_text.c: libFuzzer harness for character-level corpora
 * (data/load_text.c: UTF-8 decoding, vocabulary, windows), plain or gzip,
 * through ph_dataset_load("text:FILE,len=8"). */
#include <stddef.h>
#include <stdint.h>

#include "core/afile.h"
#include "data/dataset.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ph_input_cap_set(PH_INPUT_DATA, (size_t)4 << 20);
  const char *dir = fuzz_tmpdir();
  fuzz_write(dir, "corpus.txt", data, size);
  char spec[600];
  snprintf(spec, sizeof spec, "text:%s/corpus.txt,len=8", dir);
  fuzz_load_data(spec, 0);
  return 0;
}
