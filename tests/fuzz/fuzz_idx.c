/* fuzz_idx.c: libFuzzer harness for IDX data sets (data/load_idx.c), plain
 * or gzip. The input is split into an image file and a label file (the
 * first two bytes give the image file's length); each goes through
 * ph_gz_decode (inflation, as for a file) and the pair is parsed as the
 * train split and again as the test split (ph_idx_parse_split), which is
 * what ph_load_idx does after reading the four files.
 *
 * The bytes are not written to files: writing and reading four files per
 * input on ext4 held the harness at ~100 inputs/s, most of it in the
 * kernel (perf record). The data cap is 64 KiB (a plain input is at most
 * -max_len = 64 KiB), so inflation bombs stop within 64 KiB instead of
 * being inflated and converted to doubles up to a larger cap; the cap path
 * is checked at start-up (fuzz_check_data_cap) and by seed inputs. */
#include <stddef.h>
#include <stdint.h>

#include "core/alloc.h"
#include "core/zio.h"
#include "data/data_int.h"
#include "data/dataset.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_check_data_cap((size_t)64 << 10);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t ilen = (size_t)data[0] << 8 | data[1];
  data += 2, size -= 2;
  if (ilen > size) ilen = size;
  static const char iname[] = "train-images-idx3-ubyte",
                    lname[] = "train-labels-idx1-ubyte";
  unsigned char *img = NULL, *lab = NULL;
  size_t img_len = 0, lab_len = 0;
  ph_error err = {0};
  ph_dataset *d = calloc(1, sizeof *d);
  if (!d) abort();
  ph_status st =
      ph_gz_decode(fuzz_dup(data, ilen), ilen, iname, &img, &img_len, &err);
  if (st == PH_OK)
    st = ph_gz_decode(fuzz_dup(data + ilen, size - ilen), size - ilen, lname,
                      &lab, &lab_len, &err);
  for (int s = 0; s < 2 && st == PH_OK; s++)
    st = ph_idx_parse_split(d, s == 0 ? PH_SPLIT_TRAIN : PH_SPLIT_TEST, img,
                            img_len, iname, lab, lab_len, lname, &err);
  if (st != PH_OK) fuzz_check_message(&err);
  free(img);
  free(lab);
  ph_dataset_free(d);
  return 0;
}
