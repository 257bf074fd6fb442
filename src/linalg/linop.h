/* linop.h: symmetric linear operators v -> A v on R^n.
 *
 * Lanczos, power iteration, SLQ and Hutchinson see only this. The Hessian,
 * the Gauss-Newton matrix, the preconditioned Hessian P^{1/2} H P^{1/2}, a
 * single parameter block's Hessian and plain dense matrices are all
 * operators (constructors in linalg/operators.h).
 */
#ifndef PH_LINALG_LINOP_H
#define PH_LINALG_LINOP_H

#include <stddef.h>

#include "core/error.h"

typedef struct ph_linop {
  size_t n;
  void *ctx;
  ph_status (*apply)(void *ctx, const double *v, double *out, ph_error *err);
  size_t n_applies; /* incremented by ph_linop_apply: the product count */
} ph_linop;

static inline ph_status ph_linop_apply(ph_linop *A, const double *v,
                                       double *out, ph_error *err) {
  A->n_applies++;
  return A->apply(A->ctx, v, out, err);
}

#endif
