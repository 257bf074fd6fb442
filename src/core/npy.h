/* npy.h: NumPy .npy arrays (format 1.0 and 2.0).
 * Write: little-endian float64 ("<f8") or int64 ("<i8"), C order, always
 * atomically. Read: <f8, <f4, <i8, <i4, |u1, converted to double; Fortran
 * order, big-endian data and malformed headers are rejected with a message
 * naming the file and the problem. numpy.load reads every file written here.
 */
#ifndef PH_CORE_NPY_H
#define PH_CORE_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define PH_NPY_MAX_DIM 8

typedef struct ph_npy {
  int ndim;
  size_t shape[PH_NPY_MAX_DIM];
  size_t size;   /* product of shape (1 for a 0-d array) */
  double *data;  /* malloc'ed, converted to double */
  char dtype[8]; /* as stored: "<f8", "<f4", "<i8", "<i4", "|u1" */
} ph_npy;

ph_status ph_npy_write(const char *path, const double *data, int ndim,
                       const size_t *shape, ph_error *err);
ph_status ph_npy_write_i64(const char *path, const int64_t *data, int ndim,
                           const size_t *shape, ph_error *err);
/* Vector shorthand: shape (n,). */
ph_status ph_npy_write_vec(const char *path, const double *data, size_t n,
                           ph_error *err);

ph_status ph_npy_read(const char *path, ph_npy *out, ph_error *err);
/* Parse from memory (for tests and embedded data); name is for messages. */
ph_status ph_npy_parse(const unsigned char *buf, size_t len, const char *name,
                       ph_npy *out, ph_error *err);
void ph_npy_free(ph_npy *a);

/* Value checks at load (PH_ERR_FORMAT naming the file and the first bad
 * entry by its index, e.g. "v.npy: entry [3, 17] is nan; ..."). */
enum { PH_NPY_FINITE = 1, PH_NPY_NONNEG = 2 };
ph_status ph_npy_check(const ph_npy *a, const char *name, int flags,
                       const char *what, ph_error *err);
/* Same on a flat vector (index printed as [i]). */
ph_status ph_values_check(const double *v, size_t n, const char *name,
                          int flags, const char *what, ph_error *err);

#endif
