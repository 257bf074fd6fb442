/* precond.h: structured preconditioners U ≈ (averaged curvature)^{-1}.
 *
 * One structure per parameter block (ph_block): identity, diagonal
 * (U g = u ⊙ g) or Kronecker for a weight matrix of shape (rows, cols)
 * (U g = vec(A G Bᵀ) with G the block's gradient reshaped row-major, A
 * rows×rows, B cols×cols; biases and other blocks diagonal).
 * LLQR learns it (optim/llqr.c) and keeps it as a slow EMA; the spectra and
 * potholes modules use it as the averaged geometry P (P := U).
 *
 * For sqrt_apply, inv_apply and inverse_quadratic the symmetric part of each
 * factor is used, with eigenvalues floored at PH_PRECOND_EIG_FLOOR, so that
 * P is symmetric positive definite whatever the inner loop produced.
 */
#ifndef PH_PRECOND_PRECOND_H
#define PH_PRECOND_PRECOND_H

#include <stddef.h>

#include "core/error.h"
#include "core/objective.h"

#define PH_PRECOND_EIG_FLOOR 1e-8

typedef enum ph_precond_kind {
  PH_PRECOND_IDENTITY = 0,
  PH_PRECOND_DIAG,
  PH_PRECOND_KRON
} ph_precond_kind;

typedef struct ph_precond ph_precond;

/* The constructors below (and ph_precond_read) make a preconditioner on the
 * heap for the caller, who releases it with ph_precond_free; on failure
 * *out is NULL and nothing is left allocated. */

/* Identity-initialised preconditioner over the objective's blocks. For
 * PH_PRECOND_KRON, weight blocks get Kronecker factors, others diagonal. */
ph_status ph_precond_create(size_t n, size_t n_blocks, const ph_block *blocks,
                            ph_precond_kind kind, ph_precond **out,
                            ph_error *err);
/* A diagonal preconditioner with u = diag[0..n) (copied). */
ph_status ph_precond_diag_create(size_t n, const double *diag, ph_precond **out,
                                 ph_error *err);
/* A deep copy of p (factors and diagonals; the eigen caches are rebuilt on
 * first use). */
ph_status ph_precond_copy_create(const ph_precond *p, ph_precond **out,
                                 ph_error *err);
void ph_precond_free(ph_precond *p);

size_t ph_precond_n(const ph_precond *p);
ph_precond_kind ph_precond_get_kind(const ph_precond *p);

/* out = U g (out may alias g). */
void ph_precond_apply(const ph_precond *p, const double *g, double *out);
/* out = U^{1/2} v and out = U^{-1} v (symmetric PD part; see above). */
ph_status ph_precond_sqrt_apply(const ph_precond *p, const double *v,
                                double *out, ph_error *err);
ph_status ph_precond_inv_apply(const ph_precond *p, const double *v,
                               double *out, ph_error *err);
/* vᵀ U^{-1} v: the averaged curvature κ_avg(v) for a unit v. */
double ph_precond_inverse_quadratic(const ph_precond *p, const double *v);
/* p = beta p + (1 - beta) q (same structure). */
ph_status ph_precond_ema_merge(ph_precond *p, const ph_precond *q, double beta,
                               ph_error *err);
/* Summary statistics of the diagonal (or of diag(U) for Kronecker). */
void ph_precond_stats(const ph_precond *p, double *min, double *max,
                      double *mean);
/* Make U symmetric positive definite in place: diagonal entries below
 * PH_PRECOND_EIG_FLOOR are raised to it; each Kronecker factor is replaced
 * by its symmetric part with eigenvalues floored at PH_PRECOND_EIG_FLOOR
 * (the factor is kept when its symmetric part already has all eigenvalues
 * above the floor, checked by a Cholesky factorisation). Afterwards apply,
 * sqrt_apply and inv_apply describe the same matrix. */
ph_status ph_precond_project_spd(ph_precond *p, ph_error *err);
/* The trust region on U alone (what each refresh applies): with the scale
 * s = max(the block's median, the median over all diagonal entries), every
 * entry of a diagonal block is capped at cap × s and, when floor_div > 0,
 * raised to s / floor_div; Kronecker blocks are left alone (their damping
 * bounds them); cap 0 and floor_div 0 are off. Returns the number of entries
 * moved (lowered or raised); *max_before / *max_after get the largest
 * diagonal entry (NaN when U has no diagonal block). scratch:
 * ph_precond_n(p) doubles. */
size_t ph_precond_trust_cap(ph_precond *p, double cap, double floor_div,
                            double *scratch, double *max_before,
                            double *max_after);

/* diag(U) into out[0..n). */
void ph_precond_diag(const ph_precond *p, double *out);

/* Serialisation: a flat double array + a kind tag, so it fits a checkpoint
 * section or a .npy. ph_precond_flat_size tells the length. */
size_t ph_precond_flat_size(const ph_precond *p);
void ph_precond_to_flat(const ph_precond *p, double *out);
ph_status ph_precond_from_flat(ph_precond *p, const double *flat, size_t len,
                               ph_error *err);

/* Read a new preconditioner from a file or run directory: a .npy of length n
 * is a diagonal U; a run directory uses DIR/precond.npy (+ DIR/precond.json
 * for Kronecker); a .ckpt uses its preconditioner section. The caller frees
 * *out with ph_precond_free; *out is NULL on failure. */
ph_status ph_precond_read(const char *path, size_t n, size_t n_blocks,
                          const ph_block *blocks, ph_precond **out,
                          ph_error *err);
ph_status ph_precond_save(const ph_precond *p, const char *dir, ph_error *err);

#endif
