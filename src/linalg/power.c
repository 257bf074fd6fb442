/* power.c: power iteration with deflation, the baseline PyHessian uses
 * (Yao et al., "PyHessian: neural networks through the lens of the
 * Hessian", 2020): eigenpair i is found by iterating v <- A v / ‖A v‖ with v
 * kept orthogonal to the eigenvectors already found. It converges to the
 * largest |λ| remaining, at the rate |λ_{i+1}/λ_i| per product.
 *
 * Stopping uses the same certificate as Lanczos (docs/spectra.md):
 * ‖A v − θ v‖ ≤ max(tol·|θ|, 10·sqrt(n)·ε·|θ|), θ = vᵀA v, so the two
 * methods are compared at equal accuracy (PyHessian itself stops on the
 * relative change of θ, which is weaker). Not done: shifts, acceleration.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "core/vec.h"
#include "linalg/lanczos.h"

static void orth_against(size_t n, size_t nq, const double *q, double *x) {
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < nq; i++)
      ph_vec_axpy(n, -ph_vec_dot(n, q + i * n, x), q + i * n, x);
}

ph_status ph_power_run(ph_linop *a, const ph_eig_config *cfg,
                       ph_eig_result *res, ph_error *err) {
  memset(res, 0, sizeof(*res));
  if (!a || a->n == 0 || cfg->k == 0)
    return ph_error_set(err, PH_ERR_ARG, "power: empty operator or k = 0");
  if (cfg->which != PH_EIG_TOP)
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "power iteration finds the top (largest |λ|) end only; "
                        "use lanczos for bottom/both");
  if (!(cfg->tol > 0) || cfg->tol >= 1)
    return ph_error_set(err, PH_ERR_ARG, "power: tol %g not in (0, 1)",
                        cfg->tol);
  double t0 = ph_now();
  size_t n = a->n, k = cfg->k < n ? cfg->k : n;
  size_t budget = cfg->max_products ? cfg->max_products : 100 * n + 1000;
  ph_status st = PH_OK;
  double *q = ph_calloc(k * n, sizeof(double), "power eigenvectors", err);
  double *v = ph_calloc(n, sizeof(double), "power vector", err);
  double *w = ph_calloc(n, sizeof(double), "power vector", err);
  res->values = ph_calloc(k, sizeof(double), "eigenvalues", err);
  res->bounds = ph_calloc(k, sizeof(double), "residual bounds", err);
  res->converged = ph_calloc(k, sizeof(int), "converged flags", err);
  if (!q || !v || !w || !res->values || !res->bounds || !res->converged) {
    st = PH_ERR_NOMEM;
    goto done;
  }
  res->n = n;
  res->k = k;
  size_t products = 0, iters = 0;
  int all = 1;
  for (size_t i = 0; i < k; i++) {
    ph_rng r = ph_probe_rng(cfg->seed, PH_PROBE_POWER, i, n);
    ph_rng_fill_gauss(&r, v, n, 1.0);
    orth_against(n, i, q, v);
    ph_vec_scal(n, 1.0 / ph_vec_nrm2(n, v), v);
    double th = NAN, rn = INFINITY;
    int conv = 0;
    while (products < budget) {
      st = ph_linop_apply(a, v, w, err);
      products++;
      iters++;
      if (st != PH_OK) goto done;
      if (!ph_vec_all_finite(n, w)) {
        st = ph_error_set(err, PH_ERR_NUMERIC,
                          "power: operator product %zu is not finite", products);
        goto done;
      }
      /* Deflation: w is A restricted to the complement of found vectors. */
      orth_against(n, i, q, w);
      th = ph_vec_dot(n, v, w);
      ph_vec_axpy(n, -th, v, w); /* w = A v − θ v: the residual */
      rn = ph_vec_nrm2(n, w);
      /* Stop at tol/100 on the deflated operator: the error of earlier
       * vectors leaks into later ones through the deflation, and the final
       * certificate (ph_eig_certify) is the residual with A itself. */
      if (rn <= fmax(0.01 * cfg->tol, 10.0 * sqrt((double)n) * DBL_EPSILON) * fabs(th)) {
        conv = 1;
        break;
      }
      ph_vec_axpy(n, th, v, w); /* back to A v */
      double nw = ph_vec_nrm2(n, w);
      if (nw == 0) { /* A v = 0 on the complement: θ = 0 exactly */
        conv = 1;
        break;
      }
      ph_vec_scal(n, 1.0 / nw, w);
      memcpy(v, w, n * sizeof(double));
    }
    memcpy(q + i * n, v, n * sizeof(double));
    res->values[i] = th;
    res->bounds[i] = rn;
    res->converged[i] = conv;
    all &= conv;
    if (!conv) {
      for (size_t j = i + 1; j < k; j++) {
        res->values[j] = NAN;
        res->bounds[j] = INFINITY;
      }
      break;
    }
  }
  /* Sort descending (found in order of |λ|), NaN last. */
  size_t *perm = ph_calloc(k, sizeof(size_t), "power order", err);
  if (!perm) {
    st = PH_ERR_NOMEM;
    goto done;
  }
  for (size_t i = 0; i < k; i++) perm[i] = i;
  for (size_t i = 1; i < k; i++)
    for (size_t j = i; j > 0; j--) {
      double x = res->values[perm[j - 1]], y = res->values[perm[j]];
      if ((isnan(x) && !isnan(y)) || x < y) {
        size_t tmp = perm[j];
        perm[j] = perm[j - 1];
        perm[j - 1] = tmp;
      } else {
        break;
      }
    }
  double *vals = ph_calloc(k, sizeof(double), "eigenvalues", err);
  double *bnds = ph_calloc(k, sizeof(double), "residual bounds", err);
  int *cv = ph_calloc(k, sizeof(int), "converged flags", err);
  if (cfg->want_vectors)
    res->vectors = ph_calloc(k * n, sizeof(double), "eigenvectors", err);
  if (!vals || !bnds || !cv || (cfg->want_vectors && !res->vectors)) {
    ph_free(vals);
    ph_free(bnds);
    ph_free(cv);
    ph_free(perm);
    st = PH_ERR_NOMEM;
    goto done;
  }
  for (size_t i = 0; i < k; i++) {
    vals[i] = res->values[perm[i]];
    bnds[i] = res->bounds[perm[i]];
    cv[i] = res->converged[perm[i]];
    if (res->vectors) {
      memcpy(res->vectors + i * n, q + perm[i] * n, n * sizeof(double));
      double *y = res->vectors + i * n;
      size_t imax = 0;
      for (size_t t = 1; t < n; t++)
        if (fabs(y[t]) > fabs(y[imax])) imax = t;
      if (y[imax] < 0) ph_vec_scal(n, -1.0, y);
    }
  }
  ph_free(res->values);
  ph_free(res->bounds);
  ph_free(res->converged);
  res->values = vals;
  res->bounds = bnds;
  res->converged = cv;
  ph_free(perm);
  res->products = products;
  res->restarts = iters;
  res->all_converged = all;
  /* Deflated residuals are not residuals of A: certify with A itself. */
  if (res->vectors) st = ph_eig_certify(a, res, cfg->tol, err);
done:
  res->seconds = ph_now() - t0;
  ph_free(q);
  ph_free(v);
  ph_free(w);
  if (st != PH_OK) ph_eig_result_free(res);
  return st;
}
