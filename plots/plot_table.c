/* plot_table.c: read the CSV logs pothole writes (header row, comma
 * separated, optional double quotes with "" escapes, LF or CRLF). Every cell
 * is kept as text and as a number (NaN when empty or not a number), so a
 * column of names (escape.csv's optimizer) and columns with gaps (log.csv's
 * test_loss) read the same way. Errors name the file and the line. Does not
 * guess types or handle multi-line quoted fields.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "plot_recipes.h"

static char *dupn(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

/* Split one line into fields (quotes handled); returns count or -1. */
static long split(char *line, char ***fields, size_t *cap) {
  size_t n = 0;
  char *p = line;
  for (;;) {
    if (n == *cap) {
      size_t c = *cap ? 2 * *cap : 16;
      char **f = realloc(*fields, c * sizeof *f);
      if (!f) return -1;
      *fields = f;
      *cap = c;
    }
    char *start = p, *w = p;
    if (*p == '"') {
      p++;
      start = w = p;
      for (;;) {
        if (*p == 0) return -2; /* unterminated quote */
        if (*p == '"' && p[1] == '"') {
          *w++ = '"';
          p += 2;
        } else if (*p == '"') {
          p++;
          break;
        } else {
          *w++ = *p++;
        }
      }
      if (*p != ',' && *p != 0) return -2;
    } else {
      while (*p && *p != ',') p++;
      w = p;
    }
    char sep = *p;
    *w = 0;
    (*fields)[n++] = start;
    if (sep != ',') break;
    p++;
  }
  return (long)n;
}

static double to_num(const char *s) {
  while (*s == ' ') s++;
  if (!*s) return NAN;
  char *end;
  double v = strtod(s, &end);
  while (*end == ' ') end++;
  return (end == s || *end) ? NAN : v;
}

ph_status ph_plot_table_read(const char *path, ph_plot_table *t,
                             ph_error *err) {
  memset(t, 0, sizeof *t);
  unsigned char *buf = NULL;
  size_t len = 0;
  PH_TRY(ph_read_file(path, &buf, &len, err));
  ph_status st = PH_OK;
  char **fields = NULL;
  size_t fcap = 0, rcap = 0;
  char *p = (char *)buf, *end = (char *)buf + len;
  size_t lineno = 0;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *le = nl ? nl : end;
    lineno++;
    if (le > p && le[-1] == '\r') le[-1] = 0;
    *le = 0;
    char *line = p;
    p = nl ? nl + 1 : end;
    if (line[0] == 0) continue; /* blank lines */
    long nf = split(line, &fields, &fcap);
    if (nf == -1) {
      st = ph_error_set(err, PH_ERR_NOMEM, "%s: out of memory", path);
      break;
    }
    if (nf == -2) {
      st =
          ph_error_set(err, PH_ERR_FORMAT, "%s:%zu: bad quoting", path, lineno);
      break;
    }
    if (!t->names) {
      t->ncols = (size_t)nf;
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
    if ((size_t)nf != t->ncols) {
      st = ph_error_set(err, PH_ERR_FORMAT,
                        "%s:%zu: %ld fields, the header has %zu", path, lineno,
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
      t->v[k] = to_num(fields[c]);
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
  free(fields);
  free(buf);
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
