/* riccati.h: the exact LLQR step for MLPs (algorithms.md §3.1).
 *
 * For the mean loss over a batch, the steepest-descent step under the metric
 * M (Gauss-Newton or Newton) with damping λ solves (M + λI) δ = −g. LLQR
 * computes it by the backward Riccati recursion over the layers of the
 * network; the dense solver builds M with n products and solves with
 * LAPACKE. The two must agree (tests/optim). */
#ifndef PH_OPTIM_RICCATI_H
#define PH_OPTIM_RICCATI_H

#include "core/error.h"
#include "core/objective.h"
#include "optim/optim.h"

typedef enum ph_step_solver {
  PH_SOLVER_RICCATI = 0,
  PH_SOLVER_DENSE = 1
} ph_step_solver;

/* step = −(M + λI)^{-1} g at θ for the batch. Riccati needs an MLP network
 * objective (PH_ERR_UNSUPPORTED otherwise); dense works for any objective
 * with n up to a few thousand. */
ph_status ph_llqr_exact_step(ph_objective *obj, const double *theta,
                             const ph_batch *batch, ph_metric metric,
                             double damping, ph_step_solver solver,
                             double *step, ph_error *err);

#endif
