/* fuzz_text.c: libFuzzer harness for character-level corpora
 * (data/load_text.c: UTF-8 decoding, vocabulary, windows of 8), plain or
 * gzip: ph_gz_decode (inflation, as for a file), then ph_text_parse, which
 * is what ph_load_text does after reading the file. The bytes are not
 * written to a file (that cost most of the time, at ~280 inputs/s on
 * ext4). The data cap is 64 KiB, checked at start-up
 * (fuzz_check_data_cap) and by a seed input that inflates past it. */
#include <stddef.h>
#include <stdint.h>

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
  unsigned char *text = NULL;
  size_t len = 0;
  ph_error err = {0};
  ph_dataset *d = calloc(1, sizeof *d);
  if (!d) abort();
  ph_status st =
      ph_gz_decode(fuzz_dup(data, size), size, "corpus.txt", &text, &len, &err);
  if (st == PH_OK) st = ph_text_parse(d, text, len, "corpus.txt", 8, &err);
  if (st != PH_OK) fuzz_check_message(&err);
  free(text);
  ph_dataset_free(d);
  return 0;
}
