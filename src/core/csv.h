/* csv.h: CSV logs with a header row, written atomically.
 * Numbers are printed with %.17g (round-trip exact); non-finite as nan/inf. */
#ifndef PH_CORE_CSV_H
#define PH_CORE_CSV_H

#include <stddef.h>

#include "core/afile.h"
#include "core/error.h"

typedef struct ph_csv {
  ph_afile file;
  size_t n_cols;
  size_t col; /* position in the current row */
} ph_csv;

/* Columns given as one comma-separated string, e.g. "step,loss,acc". */
ph_status ph_csv_open(ph_csv *c, const char *path, const char *header,
                      ph_error *err);
void ph_csv_num(ph_csv *c, double v);
void ph_csv_int(ph_csv *c, long long v);
void ph_csv_str(ph_csv *c, const char *s); /* quoted if it needs to be */
void ph_csv_end_row(ph_csv *c);
ph_status ph_csv_commit(ph_csv *c, ph_error *err);
void ph_csv_abort(ph_csv *c);

/* Format a double as ph_csv_num would (shortest round-trip form). */
void ph_format_double(char *buf, size_t len, double v);

#endif
