/* geom.h: the averaged geometry P as operators.
 *
 * P is symmetric positive definite (the slow EMA preconditioner of LLQR,
 * P ≈ (averaged curvature)⁻¹). The sharpness suite, pothole directions,
 * slices and spectra use it only through products with P, P^{1/2} and P⁻¹:
 * three ph_linop (linalg/linop.h), so they do not depend on how P is
 * stored, a plain diagonal or a structured preconditioner (its symmetric PD
 * part, eigenvalues floored at PH_PRECOND_EIG_FLOOR, see precond.h).
 *
 * A ph_geom is initialised in place and its operators may point into it:
 * do not copy it after initialising (pass a pointer).
 */
#ifndef PH_PRECOND_GEOM_H
#define PH_PRECOND_GEOM_H

#include <stddef.h>

#include "linalg/linop.h"
#include "precond/precond.h"

typedef struct ph_geom {
  size_t n;
  ph_linop P;         /* out = P v */
  ph_linop sqrt_P;    /* out = P^{1/2} v */
  ph_linop inv_P;     /* out = P⁻¹ v */
  const double *diag; /* the diagonal of ph_geom_init_diag (borrowed) */
} ph_geom;

/* P = diag(p) (borrowed, all entries > 0). */
void ph_geom_init_diag(ph_geom *g, size_t n, const double *p);
/* P = the preconditioner p (borrowed). */
void ph_geom_init_precond(ph_geom *g, const ph_precond *p);

#endif
