/* operators_precond.c: the preconditioned operator P^{1/2} A P^{1/2}.
 *
 * Its top eigenpairs are the generalised eigenpairs of H v = μ P^{-1} v, the
 * pothole directions (docs/spectra.md, algorithms §5). P^{1/2} is the
 * symmetric PD square root that optim/precond.c provides; this file only
 * wires it into ph_op_sandwich. Kept apart from operators.c so programs that
 * never use a preconditioner do not need precond.c linked.
 */
#include "linalg/operators.h"
#include "optim/precond.h"

static ph_status precond_sqrt(void *ctx, const double *v, double *out,
                              ph_error *err) {
  return ph_precond_sqrt_apply((const ph_precond *)ctx, v, out, err);
}

ph_op *ph_op_precond(ph_linop *inner, const ph_precond *p, ph_error *err) {
  if (!inner || !p) {
    ph_error_set(err, PH_ERR_ARG, "precond operator: operator and P needed");
    return NULL;
  }
  if (ph_precond_n(p) != inner->n) {
    ph_error_set(err, PH_ERR_ARG,
                 "precond operator: P has %zu entries, operator has %zu",
                 ph_precond_n(p), inner->n);
    return NULL;
  }
  return ph_op_sandwich(inner, precond_sqrt, (void *)p, err);
}
