/* operators.h: the symmetric operators whose spectra pothole studies.
 *
 * Each constructor returns a ph_op (owned by the caller, ph_op_free) whose
 * linop (ph_op_linop) is what Lanczos, power iteration, SLQ, Hutchinson and
 * the dense reference consume. Borrowed arguments (objective, θ, batch
 * indices, inner operators, the S of a sandwich, dense matrix) must outlive the
 * ph_op. Buffers are allocated once here, never per product.
 *
 *   Hessian   v -> ∇²L_B(θ) v       (ph_objective_hvp)
 *   GGN       v -> G_B(θ) v         (ph_objective_ggnvp)
 *   sandwich  v -> S A S v          S symmetric, itself an operator; with
 *                                   S = P^{1/2} (precond/geom.h: sqrt_P) this
 *                                   is P^{1/2} H P^{1/2}
 *   block     v_b -> [A (E v_b)]_b  one parameter block: embed v_b into R^n
 *                                   (zeros elsewhere), apply, restrict
 *   dense     v -> A v              an explicit (n, n) row-major matrix
 */
#ifndef PH_LINALG_OPERATORS_H
#define PH_LINALG_OPERATORS_H

#include <stddef.h>

#include "core/error.h"
#include "core/objective.h"
#include "linalg/linop.h"

typedef struct ph_op ph_op;

/* Each constructor makes an operator on the heap for the caller, who
 * releases it with ph_op_free; on failure *out is NULL and nothing is left
 * allocated. Borrowed arguments must outlive the operator. */

/* Hessian of o at theta on batch b; b may be NULL for an objective without
 * data (a toy landscape). */
ph_status ph_op_hessian_create(ph_objective *o, const double *theta,
                               const ph_batch *b, ph_op **out, ph_error *err);
/* Gauss-Newton matrix; PH_ERR_UNSUPPORTED when the objective has no
 * Gauss-Newton product. */
ph_status ph_op_ggn_create(ph_objective *o, const double *theta,
                           const ph_batch *b, ph_op **out, ph_error *err);
/* S A S; s borrowed, applied without counting (inner's count is the
 * product count). */
ph_status ph_op_sandwich_create(ph_linop *inner, const ph_linop *s, ph_op **out,
                                ph_error *err);
/* Restriction of inner (dimension n) to coordinates [offset, offset+size). */
ph_status ph_op_block_create(ph_linop *inner, size_t offset, size_t size,
                             ph_op **out, ph_error *err);
/* A: (n, n) row-major, symmetric (not checked), borrowed. */
ph_status ph_op_dense_create(size_t n, const double *a, ph_op **out,
                             ph_error *err);
/* Diagonal operator diag(d), d (n) borrowed: cheap large tests. */
ph_status ph_op_diag_create(size_t n, const double *d, ph_op **out,
                            ph_error *err);

ph_linop *ph_op_linop(ph_op *op);
void ph_op_free(ph_op *op);

#endif
