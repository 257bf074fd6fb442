/* csv.c: CSV writer (see csv.h). */
#include "core/csv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ph_format_double(char *buf, size_t len, double v) {
  if (isnan(v)) {
    snprintf(buf, len, "nan");
    return;
  }
  if (isinf(v)) {
    snprintf(buf, len, v > 0 ? "inf" : "-inf");
    return;
  }
  /* Shortest %.{15,16,17}g that round-trips. */
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, len, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
}

ph_status ph_csv_open(ph_csv *c, const char *path, const char *header,
                      ph_error *err) {
  memset(c, 0, sizeof *c);
  PH_TRY(ph_afile_open(&c->file, path, err));
  c->n_cols = 1;
  for (const char *p = header; *p; p++) c->n_cols += *p == ',';
  ph_afile_write(&c->file, header, strlen(header));
  ph_afile_write(&c->file, "\n", 1);
  return PH_OK;
}

static void sep(ph_csv *c) {
  if (c->col++ > 0) ph_afile_write(&c->file, ",", 1);
}

void ph_csv_num(ph_csv *c, double v) {
  char buf[40];
  ph_format_double(buf, sizeof buf, v);
  sep(c);
  ph_afile_write(&c->file, buf, strlen(buf));
}

void ph_csv_int(ph_csv *c, long long v) {
  char buf[32];
  int k = snprintf(buf, sizeof buf, "%lld", v);
  sep(c);
  ph_afile_write(&c->file, buf, (size_t)k);
}

void ph_csv_str(ph_csv *c, const char *s) {
  sep(c);
  if (strpbrk(s, ",\"\n\r") == NULL) {
    ph_afile_write(&c->file, s, strlen(s));
    return;
  }
  ph_afile_write(&c->file, "\"", 1);
  for (const char *p = s; *p; p++) {
    if (*p == '"') ph_afile_write(&c->file, "\"", 1);
    ph_afile_write(&c->file, p, 1);
  }
  ph_afile_write(&c->file, "\"", 1);
}

void ph_csv_end_row(ph_csv *c) {
  PH_ASSERT(c->col == c->n_cols);
  ph_afile_write(&c->file, "\n", 1);
  c->col = 0;
}

ph_status ph_csv_commit(ph_csv *c, ph_error *err) {
  return ph_afile_commit(&c->file, err);
}

void ph_csv_abort(ph_csv *c) {
  ph_afile_abort(&c->file);
}
