/* power.c: power iteration with deflation, the baseline PyHessian uses
 * (Yao et al., "PyHessian: neural networks through the lens of the
 * Hessian", 2020): eigenpair i is found by iterating v <- A v / ‖A v‖ with v
 * kept orthogonal to the eigenvectors already found. It converges to the
 * largest |λ| remaining, at the rate |λ_{i+1}/λ_i| per product.
 *
 * Each pair is iterated until its deflated residual is ≤ tol/100·|θ| (the
 * error of earlier vectors leaks into later ones through the deflation); a
 * final Rayleigh-Ritz step on the k found vectors (k more products) turns
 * them into Ritz pairs whose bounds are true residuals ‖A y − θ y‖, judged
 * against max(tol·|θ|, 10·sqrt(n)·ε·|θ|) exactly as Lanczos's are
 * (docs/spectra.md). PyHessian itself stops on the relative change of θ,
 * which certifies less. Not done: shifts, acceleration.
 */
#include <float.h>
#include <lapacke.h>
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
        st =
            ph_error_set(err, PH_ERR_NUMERIC,
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
       * certificate (the Rayleigh-Ritz step below) is the residual with A
       * itself. */
      if (rn <= fmax(0.01 * cfg->tol, 10.0 * sqrt((double)n) * DBL_EPSILON) *
                    fabs(th)) {
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
  /* Rayleigh-Ritz on the found vectors Q (nf more products): deflation
   * leaves each q_i with components along earlier residuals, which the
   * rotation removes; the bounds are then true residuals ‖A y − θ y‖. */
  size_t nf = 0;
  while (nf < k && res->converged[nf]) nf++;
  if (nf > 0) {
    double *aq = ph_calloc(nf * n, sizeof(double), "power products", err);
    double *kk = ph_calloc(nf * nf, sizeof(double), "power projection", err);
    double *ev = ph_calloc(nf, sizeof(double), "power ritz values", err);
    double *y = ph_calloc(nf * n, sizeof(double), "power ritz vectors", err);
    if (!aq || !kk || !ev || !y) {
      ph_free(aq), ph_free(kk), ph_free(ev), ph_free(y);
      st = PH_ERR_NOMEM;
      goto done;
    }
    st = ph_linop_apply_block(a, nf, q, aq, err); /* A Q: one block */
    products += nf;
    if (st == PH_OK) {
      /* K = Qᵀ A Q, symmetrised; column-major (nf, nf) */
      for (size_t i = 0; i < nf; i++)
        for (size_t j = 0; j <= i; j++) {
          double x = 0.5 * (ph_vec_dot(n, q + i * n, aq + j * n) +
                            ph_vec_dot(n, q + j * n, aq + i * n));
          kk[i * nf + j] = kk[j * nf + i] = x;
        }
      lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U',
                                      (lapack_int)nf, kk, (lapack_int)nf, ev);
      if (info != 0)
        st = ph_error_set(err, PH_ERR_NUMERIC,
                          "power: dsyev on the %zu x %zu projection failed", nf,
                          nf);
    }
    if (st == PH_OK) {
      double floor_abs = 10.0 * sqrt((double)n) * DBL_EPSILON *
                         fmax(fabs(ev[0]), fabs(ev[nf - 1]));
      /* descending: column nf-1-i of the eigenvectors */
      for (size_t i = 0; i < nf; i++) {
        const double *sc = kk + (nf - 1 - i) * nf;
        double th = ev[nf - 1 - i];
        double *yi = y + i * n;
        ph_vec_zero(n, yi);
        ph_vec_zero(n, w);
        for (size_t j = 0; j < nf; j++) {
          ph_vec_axpy(n, sc[j], q + j * n, yi);
          ph_vec_axpy(n, sc[j], aq + j * n, w);
        }
        ph_vec_axpy(n, -th, yi, w);
        res->values[i] = th;
        res->bounds[i] = ph_vec_nrm2(n, w);
        res->converged[i] =
            res->bounds[i] <= fmax(cfg->tol * fabs(th), floor_abs);
        all &= res->converged[i];
        size_t imax = 0;
        for (size_t t = 1; t < n; t++)
          if (fabs(yi[t]) > fabs(yi[imax])) imax = t;
        if (yi[imax] < 0) ph_vec_scal(n, -1.0, yi);
      }
      if (cfg->want_vectors) {
        res->vectors = ph_calloc(k * n, sizeof(double), "eigenvectors", err);
        if (!res->vectors)
          st = PH_ERR_NOMEM;
        else
          memcpy(res->vectors, y, nf * n * sizeof(double));
      }
    }
    ph_free(aq), ph_free(kk), ph_free(ev), ph_free(y);
    if (st != PH_OK) goto done;
  }
  res->products = products;
  res->restarts = iters;
  res->all_converged = all;
done:
  res->seconds = ph_now() - t0;
  ph_free(q);
  ph_free(v);
  ph_free(w);
  if (st != PH_OK) ph_eig_result_free(res);
  return st;
}
