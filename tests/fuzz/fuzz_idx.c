/* fuzz_idx.c: libFuzzer harness for IDX data sets (data/load_idx.c), plain
 * or gzip. The input is split into an image file and a label file (the
 * first two bytes give the image file's length); both splits (train-, t10k-)
 * get the same pair, in a private temporary directory, and the whole loader
 * runs: ph_dataset_load("idx:DIR"). The data cap is 4 MiB so that inflation
 * bombs are refused quickly. */
#include <stddef.h>
#include <stdint.h>

#include "core/afile.h"
#include "data/dataset.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  ph_input_cap_set(PH_INPUT_DATA, (size_t)4 << 20);
  size_t ilen = (size_t)data[0] << 8 | data[1];
  data += 2, size -= 2;
  if (ilen > size) ilen = size;
  const char *dir = fuzz_tmpdir();
  static const char *const names[2][2] = {
      {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
      {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}};
  for (int s = 0; s < 2; s++) {
    fuzz_write(dir, names[s][0], data, ilen);
    fuzz_write(dir, names[s][1], data + ilen, size - ilen);
  }
  char spec[600];
  snprintf(spec, sizeof spec, "idx:%s", dir);
  fuzz_load_data(spec, 0);
  return 0;
}
