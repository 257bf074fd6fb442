/* csv.h: CSV logs with a header row, written atomically (numbers printed
 * with %.17g, round-trip exact; non-finite as nan/inf), and the one CSV
 * reader. */
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

/* ---- Reading ---------------------------------------------------------------
 * The one CSV reader (csv_read.c) behind csv:PATH data sets and the plots'
 * tables: records split on commas, LF or CRLF line ends, optional double
 * quotes with "" escapes (a quoted field does not span lines), lines that
 * are empty or only blanks (spaces, tabs) skipped. Fields come as text; the
 * caller decides what a header, a number or a ragged row means, and names
 * r->name and r->line in its messages (one line: "FILE:LINE: what").
 *
 *   ph_csv_reader r;
 *   ph_csv_reader_init(&r, text, len, path);
 *   int more;
 *   while ((st = ph_csv_reader_next(&r, &more, err)) == PH_OK && more)
 *     use(r.field, r.n_fields);   // valid until the next call
 *   ph_csv_reader_free(&r);
 */
typedef struct ph_csv_reader {
  const char *p, *end; /* the unread input (borrowed, not modified) */
  const char *name;    /* the file, for messages */
  size_t line;         /* 1-based line of the current record */
  char **field;        /* the current record's fields, NUL-terminated */
  size_t n_fields;
  char *buf; /* the current line, split in place */
  size_t buf_cap, field_cap;
} ph_csv_reader;

void ph_csv_reader_init(ph_csv_reader *r, const char *text, size_t len,
                        const char *name);
/* The next record: *more = 1 with r->field set, or *more = 0 at the end.
 * PH_ERR_FORMAT "NAME:LINE: bad quoting (...)" for an unclosed quote or text
 * after a closing one, "NAME:LINE: a NUL byte"; PH_ERR_NOMEM. */
ph_status ph_csv_reader_next(ph_csv_reader *r, int *more, ph_error *err);
void ph_csv_reader_free(ph_csv_reader *r);
/* A field as a number, in strtod's syntax (so "nan" and "inf", as
 * ph_csv_num writes them), with blanks around it allowed: 0, or -1 when the
 * field is empty or not one number (*out untouched). */
int ph_csv_number(const char *field, double *out);

#endif
