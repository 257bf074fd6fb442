/* linop.h: symmetric linear operators v -> A v on R^n, the one interface for
 * every "A·v" in pothole.
 *
 * Lanczos, power iteration, SLQ and Hutchinson see only this. The Hessian,
 * the Gauss-Newton matrix, a sandwich S A S (P^{1/2} H P^{1/2}), a single
 * parameter block's Hessian, dense and diagonal matrices
 * (linalg/operators.h), and the averaged geometry P, P^{1/2}, P⁻¹
 * (precond/geom.h) are all operators.
 *
 * Build one with ph_linop_make (or a designated initialiser), never a
 * positional one: fields added later (a block apply for k vectors at once,
 * say) then start unset and callers fall back to apply.
 */
#ifndef PH_LINALG_LINOP_H
#define PH_LINALG_LINOP_H

#include <stddef.h>

#include "core/error.h"

/* out = A v; out never aliases v. */
typedef ph_status (*ph_linop_fn)(void *ctx, const double *v, double *out,
                                 ph_error *err);

typedef struct ph_linop {
  size_t n;
  void *ctx;
  ph_linop_fn apply;
  size_t n_applies; /* incremented by ph_linop_apply: the product count */
  /* Optional block product W = A V for k vectors at once (V, W: k vectors
   * of n, one after another), equal to k applies up to rounding; NULL
   * means k applies (ph_linop_apply_block). */
  ph_status (*apply_block)(void *ctx, size_t k, const double *V, double *W,
                           ph_error *err);
} ph_linop;

static inline ph_linop ph_linop_make(size_t n, void *ctx, ph_linop_fn apply) {
  return (ph_linop){.n = n, .ctx = ctx, .apply = apply};
}

static inline ph_status ph_linop_apply(ph_linop *A, const double *v,
                                       double *out, ph_error *err) {
  A->n_applies++;
  return A->apply(A->ctx, v, out, err);
}

/* A borrowed operator the caller may not modify (a shared geometry, the S of
 * a sandwich): applied without counting. */
static inline ph_status ph_linop_apply_const(const ph_linop *A, const double *v,
                                             double *out, ph_error *err) {
  return A->apply(A->ctx, v, out, err);
}

/* W = A V for k vectors; counts k products. */
static inline ph_status ph_linop_apply_block(ph_linop *A, size_t k,
                                             const double *V, double *W,
                                             ph_error *err) {
  if (A->apply_block) {
    A->n_applies += k;
    return A->apply_block(A->ctx, k, V, W, err);
  }
  for (size_t j = 0; j < k; j++) {
    ph_status s = ph_linop_apply(A, V + j * A->n, W + j * A->n, err);
    if (s != PH_OK) return s;
  }
  return PH_OK;
}

#endif
