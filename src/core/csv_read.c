/* csv_read.c: the one CSV reader (core/csv.h) behind csv:PATH data sets
 * (data/load_csv.c) and the plots' tables (plots/plot_table.c): records
 * split on commas, LF or CRLF line ends, optional double quotes with ""
 * escapes (RFC 4180, except that a quoted field does not span lines),
 * blank lines skipped. It keeps fields as text and leaves their meaning
 * (header, numbers, a ragged row) to the caller, who reports problems with
 * r->name and r->line so that each message names the file and the line.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/csv.h"

void ph_csv_reader_init(ph_csv_reader *r, const char *text, size_t len,
                        const char *name) {
  memset(r, 0, sizeof *r);
  r->p = text;
  r->end = text + len;
  r->name = name;
}

void ph_csv_reader_free(ph_csv_reader *r) {
  free(r->buf);
  free(r->field);
  memset(r, 0, sizeof *r);
}

static int is_blank(const char *s, const char *e) {
  for (; s < e; s++)
    if (*s != ' ' && *s != '\t') return 0;
  return 1;
}

/* Split r->buf (NUL-terminated) in place into r->field. */
static ph_status split(ph_csv_reader *r, ph_error *err) {
  char *p = r->buf;
  r->n_fields = 0;
  for (;;) {
    if (r->n_fields == r->field_cap) {
      size_t c = r->field_cap ? 2 * r->field_cap : 16;
      char **f = ph_realloc(r->field, c, sizeof *f, r->name, err);
      if (!f) return PH_ERR_NOMEM;
      r->field = f;
      r->field_cap = c;
    }
    char *start = p, *w;
    if (*p == '"') {
      start = w = ++p;
      for (;;) {
        if (*p == 0)
          return ph_error_set(err, PH_ERR_FORMAT,
                              "%s:%zu: bad quoting (a quote is not closed)",
                              r->name, r->line);
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
      if (*p != ',' && *p != 0)
        return ph_error_set(err, PH_ERR_FORMAT,
                            "%s:%zu: bad quoting (text after a closing quote)",
                            r->name, r->line);
    } else {
      while (*p && *p != ',') p++;
      w = p;
    }
    char sep = *p;
    *w = 0;
    r->field[r->n_fields++] = start;
    if (sep != ',') return PH_OK;
    p++;
  }
}

ph_status ph_csv_reader_next(ph_csv_reader *r, int *more, ph_error *err) {
  *more = 0;
  while (r->p < r->end) {
    const char *s = r->p, *nl = memchr(s, '\n', (size_t)(r->end - s));
    const char *e = nl ? nl : r->end;
    r->p = nl ? nl + 1 : r->end;
    r->line++;
    if (e > s && e[-1] == '\r') e--;
    if (is_blank(s, e)) continue;
    size_t len = (size_t)(e - s);
    if (memchr(s, '\0', len))
      return ph_error_set(err, PH_ERR_FORMAT, "%s:%zu: a NUL byte", r->name,
                          r->line);
    if (len + 1 > r->buf_cap) {
      char *b = ph_realloc(r->buf, len + 1, 1, r->name, err);
      if (!b) return PH_ERR_NOMEM;
      r->buf = b;
      r->buf_cap = len + 1;
    }
    memcpy(r->buf, s, len);
    r->buf[len] = 0;
    PH_TRY(split(r, err));
    *more = 1;
    return PH_OK;
  }
  return PH_OK;
}

int ph_csv_number(const char *field, double *out) {
  while (*field == ' ' || *field == '\t') field++;
  char *end;
  double v = strtod(field, &end);
  if (end == field) return -1;
  while (*end == ' ' || *end == '\t') end++;
  if (*end) return -1;
  *out = v;
  return 0;
}
