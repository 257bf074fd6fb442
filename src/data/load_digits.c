/* load_digits.c: the UCI optical digits (8x8, 1,797 examples, 10 classes),
 * shipped as data/digits.csv.gz (provenance in data/README.md). Pixels are
 * 0..16; they are scaled to [0, 1] and shaped (1, 8, 8) so the CNN builder
 * can use them too. The 80/20 split is a permutation from the seed. */
#include <stdlib.h>

#include "core/zio.h"
#include "data/data_int.h"

ph_status ph_load_digits(ph_dataset *d, ph_spec *s, const ph_data_options *o,
                         ph_error *err) {
  if (s->arg[0])
    return ph_error_set(err, PH_ERR_ARG, "data spec digits: takes no argument");
  char *path = ph_data_file("digits.csv.gz", err);
  if (!path) return PH_ERR_NOMEM;
  unsigned char *buf;
  size_t len;
  ph_status st = ph_gz_read_file(path, &buf, &len, err);
  if (st != PH_OK) {
    free(path);
    return st;
  }
  double *rows;
  size_t n, cols;
  st =
      ph_csv_parse_numeric((const char *)buf, len, path, &rows, &n, &cols, err);
  free(buf);
  if (st == PH_OK && (n != 1797 || cols != 65)) {
    st = ph_error_set(err, PH_ERR_FORMAT,
                      "%s: expected 1797 rows of 65 fields, found %zu of %zu",
                      path, n, cols);
    free(rows);
  }
  if (st == PH_OK) {
    d->in_ndim = 3;
    d->in_shape[0] = 1;
    d->in_shape[1] = 8;
    d->in_shape[2] = 8;
    snprintf(d->provenance, sizeof d->provenance,
             "UCI optical recognition of handwritten digits (Alpaydin & Kaynak "
             "1998), CC BY 4.0, via scikit-learn; %s",
             path);
    st = ph_data_from_rows(d, rows, n, cols, path, o->seed, 1.0 / 16.0, err);
    free(rows);
  }
  free(path);
  return st;
}
