/* load_csv.c: numeric CSV parsing, the generic csv:PATH loader and the
 * rows-to-data-set helper it shares with digits. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/zio.h"
#include "data/data_int.h"

static int line_is_numeric(const char *p, const char *end) {
  while (p < end && (isspace((unsigned char)*p) || *p == ',')) p++;
  if (p == end) return 1;
  char *e;
  strtod(p, &e);
  return e != p;
}

ph_status ph_csv_parse_numeric(const char *text, size_t len, const char *name,
                               double **vals, size_t *rows, size_t *cols,
                               ph_error *err) {
  *vals = NULL;
  *rows = *cols = 0;
  size_t cap = 0, n = 0, ncol = 0, line_no = 0;
  double *v = NULL;
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    line_no++;
    const char *q = p;
    const char *stop = eol;
    if (stop > q && stop[-1] == '\r') stop--;
    int blank = 1;
    for (const char *c = q; c < stop; c++)
      if (!isspace((unsigned char)*c)) blank = 0;
    if (blank) {
      p = eol + 1;
      continue;
    }
    if (n == 0 && ncol == 0 && !line_is_numeric(q, stop)) { /* header */
      p = eol + 1;
      continue;
    }
    size_t k = 0;
    while (q <= stop) {
      char *e;
      double x = strtod(q, &e);
      const char *after = e;
      while (after < stop && (*after == ' ' || *after == '\t')) after++;
      if (e == q || (after < stop && *after != ',') || !isfinite(x)) {
        free(v);
        return ph_error_set(err, PH_ERR_FORMAT,
                            "%s:%zu: field %zu is not a number", name, line_no,
                            k + 1);
      }
      if (n * (ncol ? ncol : 1) + k >= cap) {
        size_t nc = cap ? 2 * cap : 4096;
        double *nv = ph_realloc(v, nc, sizeof *nv, name, err);
        if (!nv) {
          free(v);
          return PH_ERR_NOMEM;
        }
        v = nv;
        cap = nc;
      }
      v[n * (ncol ? ncol : 0) + k] = x;
      k++;
      if (after >= stop) break;
      q = after + 1;
    }
    if (ncol == 0)
      ncol = k;
    else if (k != ncol) {
      free(v);
      return ph_error_set(err, PH_ERR_FORMAT,
                          "%s:%zu: ragged row: %zu fields, expected %zu", name,
                          line_no, k, ncol);
    }
    n++;
    p = eol + 1;
  }
  if (n == 0) {
    free(v);
    return ph_error_set(err, PH_ERR_FORMAT, "%s: no data rows", name);
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
  PH_TRY(ph_dataset_alloc(d, n_train, n_test, err));
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
