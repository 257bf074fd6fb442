/* fuzz_plot_table.c: libFuzzer harness for the tables `pothole plot` reads
 * (log.csv, escape.csv, map.csv, density.csv, slice1d.csv, ...):
 * ph_plot_table_parse, the parsing half of ph_plot_table_read, over the
 * shared CSV reader (core/csv.h), then the column look-ups the recipes make.
 *
 * The input is handed over as libFuzzer gives it, without the trailing NUL
 * that ph_read_file adds, so a read past len (which the reader's contract
 * forbids) is an ASan report. A table that parses must be consistent: a
 * name per column, text for every cell, each number what ph_csv_number
 * makes of that text (NaN when it is not one), and each name found by
 * ph_plot_table_col at its first occurrence. A failure must name the file
 * in a proper message and leave the table empty. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/csv.h"
#include "fuzz_common.h"
#include "plot_recipes.h"

#define NAME "table.csv"

static void check_table(const ph_plot_table *t) {
  if (t->ncols == 0 || !t->names) abort();
  for (size_t c = 0; c < t->ncols; c++) {
    if (!t->names[c]) abort();
    /* Each look-up is linear: checking every column of a 30,000-column
     * header would make this check quadratic and the harness slow. */
    if (c >= 64) continue;
    int at = ph_plot_table_col(t, t->names[c]);
    if (at < 0 || (size_t)at > c || strcmp(t->names[at], t->names[c])) abort();
  }
  for (size_t k = 0; k < t->nrows * t->ncols; k++) {
    double v;
    if (!t->text[k]) abort();
    int bad = ph_csv_number(t->text[k], &v);
    if (bad ? !isnan(t->v[k]) : !(t->v[k] == v || (isnan(v) && isnan(t->v[k]))))
      abort();
  }
  /* The look-ups every recipe makes, the optimiser alias included. */
  static const char *const cols[] = {"step", "loss", "optimizer", "lambda"};
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
    int c = ph_plot_table_col(t, cols[i]);
    if (c >= (int)t->ncols) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ph_plot_table t;
  ph_error err = {0};
  if (ph_plot_table_parse((const char *)data, size, NAME, &t, &err) == PH_OK) {
    check_table(&t);
    ph_plot_table_free(&t);
    return 0;
  }
  fuzz_check_message(&err);
  if (strncmp(err.msg, NAME, strlen(NAME)) != 0) {
    fprintf(stderr, "fuzz_plot_table: the error does not name the file: %s\n",
            err.msg);
    abort();
  }
  if (t.names || t.v || t.text || t.nrows || t.ncols) abort();
  return 0;
}
