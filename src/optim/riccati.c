/* riccati.c: the exact steepest-descent step under a metric,
 * δ = −(M + λI)⁻¹ g, for the mean loss over a batch (riccati.h).
 *
 * The dense solver builds M column by column from n products (ggnvp for
 * the Gauss-Newton metric, hvp for Newton), symmetrises it, adds λI and
 * solves with LAPACKE: Cholesky (dposv) when M + λI is positive definite,
 * otherwise a symmetric indefinite factorisation (dsysv), which is what a
 * Newton step at a saddle needs. It serves any objective with n up to a few
 * thousand, and is the reference the LLQR relaxation is compared against.
 *
 * PH_SOLVER_RICCATI runs the backward Riccati recursion over the layers of
 * an MLP (riccati_mlp.c); other objectives get PH_ERR_UNSUPPORTED. */
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "optim/riccati_int.h"

#define DENSE_MAX 8000

ph_status ph_llqr_exact_step(ph_objective *obj, const double *theta,
                             const ph_batch *batch, ph_metric metric,
                             double damping, ph_step_solver solver,
                             double *step, ph_error *err) {
  size_t n = obj->n;
  if (solver == PH_SOLVER_RICCATI)
    return ph_riccati_mlp_step(obj, theta, batch, metric, damping, step, err);
  if (n > DENSE_MAX)
    return ph_error_set(err, PH_ERR_ARG,
                        "dense step: %zu parameters (at most %d)", n,
                        DENSE_MAX);
  double *M = ph_malloc(n * n, sizeof(double), "metric", err);
  double *e = ph_calloc(n, sizeof(double), "basis vector", err);
  lapack_int *ipiv = ph_malloc(n, sizeof(lapack_int), "pivots", err);
  ph_status s = (M && e && ipiv) ? PH_OK : PH_ERR_NOMEM;
  double loss;
  if (!s) s = ph_objective_loss_grad(obj, theta, batch, &loss, step, err);
  for (size_t j = 0; j < n && !s; j++) {
    e[j] = 1;
    s = metric == PH_METRIC_NEWTON
            ? ph_objective_hvp(obj, theta, batch, e, M + j * n, err)
            : ph_objective_ggnvp(obj, theta, batch, e, M + j * n, err);
    e[j] = 0;
  }
  if (!s) {
    for (size_t i = 0; i < n; i++) {
      for (size_t j = 0; j < i; j++)
        M[i * n + j] = M[j * n + i] = 0.5 * (M[i * n + j] + M[j * n + i]);
      M[i * n + i] += damping;
    }
    for (size_t i = 0; i < n; i++) step[i] = -step[i];
    double *Mc = ph_malloc(n * n, sizeof(double), "metric copy", err);
    if (!Mc)
      s = PH_ERR_NOMEM;
    else {
      memcpy(Mc, M, n * n * sizeof(double));
      double *rhs = ph_malloc(n, sizeof(double), "rhs", err);
      if (!rhs) {
        free(Mc);
        free(M);
        free(e);
        free(ipiv);
        return PH_ERR_NOMEM;
      }
      memcpy(rhs, step, n * sizeof(double));
      lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)n, 1,
                                      Mc, (lapack_int)n, step, 1);
      if (info > 0) { /* not positive definite: symmetric indefinite solve */
        memcpy(step, rhs, n * sizeof(double));
        info = LAPACKE_dsysv(LAPACK_ROW_MAJOR, 'U', (lapack_int)n, 1, M,
                             (lapack_int)n, ipiv, step, 1);
      }
      if (info != 0)
        s = ph_error_set(
            err, PH_ERR_NUMERIC,
            "dense step: M + %gI is singular (LAPACK info %d); add --damping",
            damping, (int)info);
      free(rhs);
      free(Mc);
    }
  }
  free(M);
  free(e);
  free(ipiv);
  return s;
}
