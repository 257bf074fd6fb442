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
 * do not copy it after initialising (pass a pointer). ph_geom_init_* borrow
 * their storage; ph_geom_load owns what it reads, and ph_geom_free releases
 * it (a no-op for a borrowing geometry).
 *
 * A diagonal P, however it is stored (a .npy, a run directory, a checkpoint
 * or a toy's fitted diagonal), is applied by ph_geom_init_diag: P^{1/2} v
 * as sqrt(p_i) v_i and P⁻¹ v as v_i / p_i, both correctly rounded (IEEE
 * 754), where precond.h's products go through pow(), which the C library
 * need not round correctly. So every command that loads the same diagonal
 * gets the same bits.
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
  double *own_diag;   /* ph_geom_load: the diagonal it owns, or NULL */
  ph_precond *own_pc; /* ph_geom_load: the structured P it owns, or NULL */
} ph_geom;

/* P = diag(p) (borrowed, all entries > 0). */
void ph_geom_init_diag(ph_geom *g, size_t n, const double *p);
/* P = the preconditioner p (borrowed). */
void ph_geom_init_precond(ph_geom *g, const ph_precond *p);

/* Read P as ph_precond_read does (a .npy diagonal of length n, a run
 * directory, a .ckpt) and initialise g over storage it owns: a diagonal
 * (kind diag) is floored at PH_PRECOND_EIG_FLOOR and applied
 * through ph_geom_init_diag, a Kronecker-structured P through
 * ph_geom_init_precond. On failure g is left empty (ph_geom_free is safe). */
ph_status ph_geom_load(ph_geom *g, const char *path, size_t n, size_t n_blocks,
                       const ph_block *blocks, ph_error *err);
/* g over p = diag (n entries), taking ownership of diag (malloc'ed). */
void ph_geom_init_diag_owned(ph_geom *g, size_t n, double *diag);
/* Release what ph_geom_load or ph_geom_init_diag_owned owns; g is empty. */
void ph_geom_free(ph_geom *g);

#endif
