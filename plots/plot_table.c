/* plot_table.c: read the CSV logs pothole writes (a header row, then
 * records) through core/csv.h's reader (comma separated, optional double
 * quotes with "" escapes, LF or CRLF, blank lines skipped). Every cell is
 * kept as text and as a number (NaN when empty or not a number; "nan" and
 * "inf" as ph_csv_num writes them), so a column of names (escape.csv's
 * optimizer) and columns with gaps (log.csv's test_loss) read the same way.
 * Errors name the file and the line. Does not guess types.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/csv.h"
#include "plot_recipes.h"

static char *dupn(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

ph_status ph_plot_table_read(const char *path, ph_plot_table *t,
                             ph_error *err) {
  memset(t, 0, sizeof *t);
  unsigned char *buf = NULL;
  size_t len = 0;
  PH_TRY(ph_read_file(path, &buf, &len, err));
  ph_status st = ph_plot_table_parse((const char *)buf, len, path, t, err);
  free(buf);
  return st;
}

ph_status ph_plot_table_parse(const char *text, size_t len, const char *path,
                              ph_plot_table *t, ph_error *err) {
  memset(t, 0, sizeof *t);
  ph_csv_reader r;
  ph_csv_reader_init(&r, text, len, path);
  ph_status st;
  size_t rcap = 0;
  int more;
  while ((st = ph_csv_reader_next(&r, &more, err)) == PH_OK && more) {
    char **fields = r.field;
    size_t nf = r.n_fields;
    if (!t->names) {
      t->ncols = nf;
      t->names = calloc(t->ncols, sizeof *t->names);
      if (!t->names) {
        st = ph_error_set(err, PH_ERR_NOMEM, "%s: out of memory", path);
        break;
      }
      for (size_t c = 0; c < t->ncols; c++) {
        t->names[c] = dupn(fields[c], strlen(fields[c]));
        if (!t->names[c]) {
          st = ph_error_set(err, PH_ERR_NOMEM, "%s: out of memory", path);
          break;
        }
      }
      if (st != PH_OK) break;
      continue;
    }
    if (nf != t->ncols) {
      st = ph_error_set(err, PH_ERR_FORMAT,
                        "%s:%zu: %zu fields, the header has %zu", path, r.line,
                        nf, t->ncols);
      break;
    }
    if (t->nrows == rcap) {
      size_t c = rcap ? 2 * rcap : 64;
      double *v = realloc(t->v, c * t->ncols * sizeof *v);
      if (v) t->v = v;
      char **tx = realloc(t->text, c * t->ncols * sizeof *tx);
      if (tx) t->text = tx;
      if (!v || !tx) {
        st = ph_error_set(err, PH_ERR_NOMEM, "%s: out of memory", path);
        break;
      }
      rcap = c;
    }
    for (size_t c = 0; c < t->ncols; c++) {
      size_t k = t->nrows * t->ncols + c;
      if (ph_csv_number(fields[c], &t->v[k])) t->v[k] = NAN;
      t->text[k] = dupn(fields[c], strlen(fields[c]));
      if (!t->text[k]) {
        for (size_t q = 0; q < c; q++) free(t->text[t->nrows * t->ncols + q]);
        st = ph_error_set(err, PH_ERR_NOMEM, "%s: out of memory", path);
        break;
      }
    }
    if (st != PH_OK) break;
    t->nrows++;
  }
  ph_csv_reader_free(&r);
  if (st == PH_OK && !t->names)
    st = ph_error_set(err, PH_ERR_FORMAT, "%s: empty file (no header row)",
                      path);
  if (st != PH_OK) ph_plot_table_free(t);
  return st;
}

int ph_plot_table_col(const ph_plot_table *t, const char *name) {
  for (size_t c = 0; c < t->ncols; c++)
    if (!strcmp(t->names[c], name)) return (int)c;
  /* The toy lab writes British "optimiser"; accept either spelling. */
  if (!strcmp(name, "optimizer")) return ph_plot_table_col(t, "optimiser");
  return -1;
}

void ph_plot_table_free(ph_plot_table *t) {
  if (t->names)
    for (size_t c = 0; c < t->ncols; c++) free(t->names[c]);
  if (t->text)
    for (size_t k = 0; k < t->nrows * t->ncols; k++) free(t->text[k]);
  free(t->names);
  free(t->v);
  free(t->text);
  memset(t, 0, sizeof *t);
}
