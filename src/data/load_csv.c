/* load_csv.c: numeric CSV parsing (on core/csv.h's reader), the generic
 * csv:PATH loader and the rows-to-data-set helper it shares with digits. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/csv.h"
#include "core/zio.h"
#include "data/data_int.h"

/* The header test of a csv:PATH file: a record is a header when its first
 * non-empty field does not start with a number. */
static int starts_numeric(const ph_csv_reader *r) {
  for (size_t i = 0; i < r->n_fields; i++) {
    const char *f = r->field[i];
    while (isspace((unsigned char)*f)) f++;
    if (!*f) continue;
    char *e;
    strtod(f, &e);
    return e != f;
  }
  return 1;
}

/* Records through core/csv.h's reader; every field a finite number, every
 * row as long as the first; header rows before the first data row skipped. */
ph_status ph_csv_parse_numeric(const char *text, size_t len, const char *name,
                               double **vals, size_t *rows, size_t *cols,
                               ph_error *err) {
  *vals = NULL;
  *rows = *cols = 0;
  size_t cap = 0, n = 0, ncol = 0;
  double *v = NULL;
  ph_csv_reader r;
  ph_csv_reader_init(&r, text, len, name);
  ph_status st;
  int more;
  while ((st = ph_csv_reader_next(&r, &more, err)) == PH_OK && more) {
    if (n == 0 && !starts_numeric(&r)) continue; /* a header */
    size_t k = r.n_fields;
    if (ncol && k != ncol) {
      st = ph_error_set(err, PH_ERR_FORMAT,
                        "%s:%zu: ragged row: %zu fields, expected %zu", name,
                        r.line, k, ncol);
      break;
    }
    ncol = k;
    if ((n + 1) * ncol > cap) {
      size_t nc = cap ? 2 * cap : 4096;
      while (nc < (n + 1) * ncol) nc *= 2;
      double *nv = ph_realloc(v, nc, sizeof *nv, name, err);
      if (!nv) {
        st = PH_ERR_NOMEM;
        break;
      }
      v = nv;
      cap = nc;
    }
    for (size_t j = 0; j < k && st == PH_OK; j++) {
      double x;
      if (ph_csv_number(r.field[j], &x) || !isfinite(x))
        st = ph_error_set(err, PH_ERR_FORMAT,
                          "%s:%zu: field %zu is not a number", name, r.line,
                          j + 1);
      else
        v[n * ncol + j] = x;
    }
    if (st != PH_OK) break;
    n++;
  }
  ph_csv_reader_free(&r);
  if (st == PH_OK && n == 0)
    st = ph_error_set(err, PH_ERR_FORMAT, "%s: no data rows", name);
  if (st != PH_OK) {
    free(v);
    return st;
  }
  *vals = v;
  *rows = n;
  *cols = ncol;
  return PH_OK;
}

ph_status ph_data_from_rows(ph_dataset *d, const double *rows, size_t n,
                            size_t cols, const char *name, uint64_t seed,
                            double scale, ph_error *err) {
  if (cols < 2)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: need at least one feature and a label per row",
                        name);
  size_t f = cols - 1;
  size_t max_label = 0;
  for (size_t i = 0; i < n; i++) {
    double l = rows[i * cols + f];
    if (l < 0 || l != floor(l) || l > 1e6)
      return ph_error_set(err, PH_ERR_FORMAT,
                          "%s: row %zu: label %g is not a class index", name,
                          i + 1, l);
    if ((size_t)l > max_label) max_label = (size_t)l;
  }
  if (n < 2)
    return ph_error_set(err, PH_ERR_FORMAT, "%s: need at least 2 rows", name);
  if (!d->in_ndim) {
    d->in_ndim = 1;
    d->in_shape[0] = f;
  }
  d->in_size = f;
  d->task = PH_TASK_CLASSIFY;
  d->n_classes = max_label + 1;
  d->n_targets = 1;
  size_t n_test = n / 5, n_train = n - n_test;
  PH_TRY(ph_dataset_init(d, n_train, n_test, err));
  size_t *perm;
  PH_TRY(ph_split_perm(seed, n, &perm, err));
  double *x = ph_malloc(f, sizeof *x, name, err);
  if (!x) {
    free(perm);
    return PH_ERR_NOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const double *r = rows + perm[i] * cols;
    for (size_t j = 0; j < f; j++) x[j] = r[j] * scale;
    int32_t y = (int32_t)r[f];
    if (i < n_train)
      ph_dataset_put(d, PH_SPLIT_TRAIN, i, x, &y, NULL);
    else
      ph_dataset_put(d, PH_SPLIT_TEST, i - n_train, x, &y, NULL);
  }
  free(x);
  free(perm);
  return PH_OK;
}

ph_status ph_load_csv(ph_dataset *d, ph_spec *s, const ph_data_options *o,
                      ph_error *err) {
  if (!s->arg[0])
    return ph_error_set(err, PH_ERR_ARG, "data spec csv: needs csv:PATH");
  unsigned char *buf;
  size_t len;
  PH_TRY(ph_gz_read_file(s->arg, &buf, &len, err));
  double *rows;
  size_t n, cols;
  ph_status st = ph_csv_parse_numeric((const char *)buf, len, s->arg, &rows, &n,
                                      &cols, err);
  free(buf);
  if (st != PH_OK) return st;
  snprintf(d->provenance, sizeof d->provenance, "CSV file %.200s", s->arg);
  st = ph_data_from_rows(d, rows, n, cols, s->arg, o->seed, 1.0, err);
  free(rows);
  return st;
}
