/* llqr.c: the LLQR preconditioner refresh (algorithms.md §3.2; LLQR paper,
 * arXiv 2605.04230). Restricting the steepest-descent step to δ = −U g with a
 * structured U, minimise on a fresh batch, with the linearisation fixed,
 *     J(U) = gᵀδ + ½ δᵀ M δ,    M = GGN (metric gn) or Hessian (newton),
 * by a short SGD-with-momentum loop warm-started from the current U:
 *     r = g + Mδ;  diagonal ∂J/∂u = −g ⊙ r;
 *     Kronecker (U g = vec(A G Bᵀ))  ∂J/∂A = −R B Gᵀ,  ∂J/∂B = −Rᵀ A G.
 * One M-product per inner step. Then diagonal entries are clipped to
 * ≥ 1e-8, Kronecker factors are replaced by their symmetric part with
 * eigenvalues floored at 1e-8 (the gradient steps above make them
 * non-symmetric and can make one indefinite, and an indefinite U g is an
 * ascent direction), and U_new is merged into the slow EMA.
 *
 * Choices of this implementation (docs/optimisers.md):
 *  - Scale-free inner steps: the raw gradient −g_i r_i is tiny where g is
 *    (it scales with g²), so the step is divided by κ·(g_i² + 1e-3·mean g²)
 *    with κ = gᵀMg/gᵀg the curvature along g (one extra product). For a
 *    diagonal M this makes u_i ← u_i + lr(1 − M_ii u_i)/κ: it converges to
 *    1/M_ii at a rate set by M_ii/κ, so flat directions move slowly from the
 *    warm start in 50 steps (the "bounded inner loop").
 *  - Negative curvature (newton metric, toy pits): J is unbounded below
 *    along such directions; U stays finite only through the finite loop,
 *    the per-block clip and the u ≥ 1e-8 floor. `curvature_floor` c adds
 *    c·κ·δ to Mδ (a Levenberg-Marquardt shift relative to the curvature
 *    along g) and `damping` λ adds λδ; both 0 by default.
 *  - The EMA is bias-corrected: refresh k merges with weight
 *    (1−β)/(1−β^k), so the first refresh replaces the identity start and
 *    later ones average with time constant 1/(1−β) refreshes. A
 *    preconditioner handed in with ph_optim_set_precond (fitted elsewhere,
 *    e.g. by a burn-in in the wide basin) counts as a warm EMA: refreshes
 *    then merge with weight 1 − β from the first one on.
 *  - A trust region (on by default): after the merge, each diagonal block's
 *    entries are capped at trust_cap (10) × max(the block's median, the
 *    median over all of U),
 *    so flat directions of one refresh batch cannot make the step there
 *    orders of magnitude larger than elsewhere. docs/optimisers.md has the
 *    measurement behind the rule. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/vec.h"
#include "optim/optim_int.h"

double *ph_precond_block_data(ph_precond *p, size_t i, int which, size_t *len);
size_t ph_precond_n_blocks(const ph_precond *p);
void ph_precond_block_range(const ph_precond *p, size_t i, size_t *off,
                            size_t *size);
int ph_precond_block_is_kron(const ph_precond *p, size_t i);

static ph_status metric(ph_optim *o, ph_objective *obj, const double *theta,
                        const ph_batch *b, const double *v, double *out,
                        double kappa, ph_step_info *info, ph_error *err) {
  const ph_optim_config *c = &o->cfg;
  if (c->metric == PH_METRIC_NEWTON) {
    info->n_hvp++;
    PH_TRY(ph_objective_hvp(obj, theta, b, v, out, err));
  } else {
    info->n_ggnvp++;
    PH_TRY(ph_objective_ggnvp(obj, theta, b, v, out, err));
  }
  double shift = c->damping + c->curvature_floor * fabs(kappa);
  if (shift > 0) ph_vec_axpy(o->n, shift, v, out);
  return PH_OK;
}

ph_status ph_llqr_refresh(ph_optim *o, const double *theta, ph_objective *obj,
                          const ph_batch *b, ph_step_info *info,
                          ph_error *err) {
  const ph_optim_config *c = &o->cfg;
  size_t n = o->n;
  if (!o->Pnew) {
    PH_TRY(ph_precond_copy_create(o->P, &o->Pnew, err));
    size_t fs = ph_precond_flat_size(o->P);
    o->im = ph_calloc(fs, sizeof(double), "llqr momentum", err);
    o->ib = ph_calloc(fs, sizeof(double), "llqr gradient", err);
    o->r = ph_calloc(n, sizeof(double), "llqr residual", err);
    o->delta = ph_calloc(n, sizeof(double), "llqr step", err);
    if (!o->Pnew || !o->im || !o->ib || !o->r || !o->delta) return PH_ERR_NOMEM;
    size_t kt = 1; /* GEMM scratch: the largest Kronecker block's rows·cols */
    for (size_t bi = 0; bi < ph_precond_n_blocks(o->Pnew); bi++)
      if (ph_precond_block_is_kron(o->Pnew, bi)) {
        size_t off, sz;
        ph_precond_block_range(o->Pnew, bi, &off, &sz);
        if (sz > kt) kt = sz;
      }
    if (!(o->ktmp =
              ph_calloc(kt, sizeof(double), "llqr kronecker scratch", err)))
      return PH_ERR_NOMEM;
  }
  /* warm start from the current EMA */
  size_t fs = ph_precond_flat_size(o->P);
  double *flat = o->ib; /* reuse as scratch for the copy */
  ph_precond_to_flat(o->P, flat);
  PH_TRY(ph_precond_from_flat(o->Pnew, flat, fs, err));
  memset(o->im, 0, fs * sizeof(double));
  double *g = o->t, *r = o->r,
         *delta = o->delta; /* o->t: θ+ε scratch, free here */
  double loss;
  info->n_grad++;
  PH_TRY(ph_objective_loss_grad(obj, theta, b, &loss, g, err));
  double gg = ph_vec_dot(n, g, g);
  if (!(gg > 0)) return PH_OK; /* at a stationary point: nothing to fit */
  PH_TRY(metric(o, obj, theta, b, g, r, 0, info, err));
  double kappa = ph_vec_dot(n, g, r) / gg;
  double kscale = fabs(kappa) > 1e-12 ? fabs(kappa) : 1e-12;
  size_t nb = ph_precond_n_blocks(o->Pnew);
  for (size_t step = 0; step < c->inner_steps; step++) {
    ph_precond_apply(o->Pnew, g, delta);
    ph_vec_scal(n, -1.0, delta);
    PH_TRY(metric(o, obj, theta, b, delta, r, kappa, info, err));
    ph_vec_axpy(n, 1.0, g, r); /* r = g + Mδ */
    size_t pos = 0;
    for (size_t bi = 0; bi < nb; bi++) {
      size_t off, sz; /* the preconditioner's own blocks (a loaded diagonal
                          may be one block over all of θ) */
      ph_precond_block_range(o->Pnew, bi, &off, &sz);
      double mg2 = 0;
      for (size_t k = 0; k < sz; k++) mg2 += g[off + k] * g[off + k];
      double blk_g2 = mg2;
      mg2 /= (double)(sz ? sz : 1);
      size_t la, lb;
      double *A = ph_precond_block_data(o->Pnew, bi, 0, &la);
      double *grad = o->ib + pos;
      if (!ph_precond_block_is_kron(o->Pnew, bi)) {
        for (size_t k = 0; k < sz; k++)
          grad[k] = -g[off + k] * r[off + k] /
                    (kscale * (g[off + k] * g[off + k] + 1e-3 * mg2 + 1e-300));
      } else {
        double *Bm = ph_precond_block_data(o->Pnew, bi, 1, &lb);
        size_t rows = (size_t)sqrt((double)la), cols = (size_t)sqrt((double)lb);
        const double *G = g + off, *R = r + off;
        double *tmp = o->ktmp; /* (rows, cols) */
        double norm = -1.0 / (kscale * (blk_g2 + 1e-300));
        /* ∂J/∂A = −R B Gᵀ : tmp = R B (rows, cols); grad_A = tmp Gᵀ */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows,
                    (int)cols, (int)cols, 1.0, R, (int)cols, Bm, (int)cols, 0.0,
                    tmp, (int)cols);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows,
                    (int)rows, (int)cols, norm, tmp, (int)cols, G, (int)cols,
                    0.0, grad, (int)rows);
        /* ∂J/∂B = −Rᵀ A G : tmp = A G (rows, cols); grad_B = Rᵀ tmp */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows,
                    (int)cols, (int)rows, 1.0, A, (int)rows, G, (int)cols, 0.0,
                    tmp, (int)cols);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)cols,
                    (int)cols, (int)rows, norm, R, (int)cols, tmp, (int)cols,
                    0.0, grad + la, (int)cols);
        sz = la + lb;
      }
      if (!ph_precond_block_is_kron(o->Pnew, bi)) sz = la;
      /* per-block clip of the (normalised) gradient norm */
      double gn = ph_vec_nrm2(sz, grad);
      if (gn > c->inner_clip) ph_vec_scal(sz, c->inner_clip / gn, grad);
      /* SGD with momentum on the block's parameters (A then B) */
      double *mom = o->im + pos;
      double *params[2] = {A, NULL};
      size_t lens[2] = {la, 0};
      if (ph_precond_block_is_kron(o->Pnew, bi)) {
        params[1] = ph_precond_block_data(o->Pnew, bi, 1, &lens[1]);
      }
      size_t q = 0;
      for (int w = 0; w < 2; w++)
        for (size_t k = 0; k < lens[w]; k++, q++) {
          mom[q] = c->inner_momentum * mom[q] + grad[q];
          params[w][k] -= c->inner_lr * mom[q];
        }
      pos += sz;
    }
  }
  /* clip diagonal entries at 1e-8, make Kronecker factors SPD (symmetric
   * part, eigenvalues ≥ 1e-8), and merge into the bias-corrected EMA */
  PH_TRY(ph_precond_project_spd(o->Pnew, err));
  o->n_refresh++;
  double beta = c->ema_beta;
  double w = o->ema_warm ? 1 - beta
                         : (1 - beta) / (1 - pow(beta, (double)o->n_refresh));
  PH_TRY(ph_precond_ema_merge(o->P, o->Pnew, 1 - w, err));
  /* the trust region: cap the EMA's diagonal entries relative to their
   * block's median (o->delta is free scratch of length n here) */
  info->n_capped =
      ph_precond_trust_cap(o->P, c->trust_cap, c->trust_floor, o->delta,
                           &info->u_max_before, &info->u_max_after);
  return PH_OK;
}
