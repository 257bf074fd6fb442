/* lanczos.h: extreme eigenpairs of a symmetric operator.
 *
 * ph_lanczos_run: thick-restart Lanczos (Wu & Simon 2000) with full
 * reorthogonalisation (two classical Gram-Schmidt passes per step), for the
 * k largest, the k smallest (algebraic) or both. Each Ritz pair (θ, y)
 * comes with the residual bound |β_m s_{m,j}| = ‖A y − θ y‖ (exact for the
 * computed basis up to rounding) and is converged when
 *     bound ≤ max(tol·|θ|, 10·sqrt(n)·ε·‖T‖)
 * (the second term only lets eigenvalues at 0 be certified at rounding
 * level). After all wanted pairs converge, one verification cycle restarts
 * from the converged vectors plus a fresh random vector, which catches
 * copies of repeated eigenvalues a single Krylov sequence cannot see.
 *
 * ph_power_run: power iteration with deflation by orthogonalisation against
 * earlier eigenvectors (PyHessian's method), largest |λ| first; the same
 * residual certificate. A baseline.
 *
 * Everything is re-entrant: state lives in the caller's workspace and the
 * result; random start vectors come from (seed, PH_RNG_STREAM_PROBE) via
 * ph_probe_rng, so results are a pure function of the inputs.
 * docs/spectra.md explains the certificates.
 */
#ifndef PH_LINALG_LANCZOS_H
#define PH_LINALG_LANCZOS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"
#include "linalg/linop.h"

typedef enum ph_eig_which {
  PH_EIG_TOP = 0,    /* k largest (algebraic) */
  PH_EIG_BOTTOM = 1, /* k smallest (algebraic) */
  PH_EIG_BOTH = 2    /* k at each end */
} ph_eig_which;

/* Sub-streams of PH_RNG_STREAM_PROBE: which use a probe vector serves. */
enum {
  PH_PROBE_LANCZOS = 0, /* Lanczos start vector */
  PH_PROBE_RESTART = 1, /* breakdown / verification vectors */
  PH_PROBE_SLQ = 2,     /* SLQ probe i */
  PH_PROBE_HUTCH = 3,   /* Hutchinson probe i */
  PH_PROBE_POWER = 4    /* power iteration start for eigenpair i */
};
/* RNG positioned for probe `index` of use `tag` over vectors of length n:
 * stream PH_RNG_STREAM_PROBE, counter tag·2^56 + index·2n (a Gaussian
 * vector consumes 2n draws), so probe i never depends on probes < i. */
ph_rng ph_probe_rng(uint64_t seed, unsigned tag, uint64_t index, size_t n);

typedef struct ph_eig_config {
  size_t k; /* pairs per requested end */
  ph_eig_which which;
  double tol;          /* relative residual tolerance (default 1e-6) */
  size_t max_products; /* budget of operator applications (0 = 100 n) */
  size_t basis;        /* Lanczos basis size m (0 = auto: max(2kk+10, 30)) */
  uint64_t seed;
  int want_vectors; /* return eigenvectors */
  int verify;       /* one verification cycle (default 1) */
  /* Lanczos only: the start vector (length n, need not be unit; borrowed),
   * e.g. earlier eigenvectors for a warm start; NULL or a zero vector: a
   * random start from the seed */
  const double *start;
  /* Lanczos only: judge convergence after every product, not only when
   * the basis is full, and stop as soon as every wanted pair meets tol
   * (default 0; with verify on, only once the verification cycle began). The
   * test is a j×j eigenproblem per product, nothing against one product of a
   * network's Hessian; with a warm start a run then ends after a few products
   * instead of a whole cycle. */
  int early;
  /* skip ph_eig_certify's k extra products: the bounds are then the
   * Lanczos bounds |β_m s_mj| alone (exact up to rounding with the full
   * reorthogonalisation; default 0: certify) */
  int no_certify;
} ph_eig_config;

/* Defaults: k 5, top, tol 1e-6, budget auto, basis auto, seed 0, no
 * vectors, verify on. */
ph_eig_config ph_eig_config_default(void);

typedef struct ph_eig_result {
  size_t n;        /* operator dimension */
  size_t k;        /* pairs returned */
  double *values;  /* (k) sorted descending */
  double *bounds;  /* (k) residual bounds ‖A y − θ y‖ */
  int *converged;  /* (k) 1 when the bound met the tolerance */
  double *vectors; /* (k, n) row-major unit eigenvectors, or NULL */
  size_t products; /* operator applications used */
  size_t restarts; /* Lanczos restarts, or power iterations */
  int all_converged;
  double seconds;
} ph_eig_result;

void ph_eig_result_free(ph_eig_result *r);

/* Workspace for Lanczos on dimension n with basis m (after the defaults of
 * ph_lanczos_basis_size): about n·(m+1) + 256·m + 3m² doubles. */
typedef struct ph_lanczos_workspace ph_lanczos_workspace;
size_t ph_lanczos_basis_size(size_t n, const ph_eig_config *cfg);
ph_status ph_lanczos_workspace_create(size_t n, size_t m,
                                      ph_lanczos_workspace **out,
                                      ph_error *err);
void ph_lanczos_workspace_free(ph_lanczos_workspace *w);

/* ws may be NULL (allocated and freed inside). Not converging within the
 * budget is not an error: see res->converged. */
ph_status ph_lanczos_run(ph_linop *a, const ph_eig_config *cfg,
                         ph_lanczos_workspace *ws, ph_eig_result *res,
                         ph_error *err);

/* Recompute each returned pair's residual ‖Ay − θy‖ with the operator and
 * report max(bound, residual); needs vectors (no-op without). Both solvers
 * call it before returning. */
ph_status ph_eig_certify(ph_linop *a, ph_eig_result *res, double tol,
                         ph_error *err);

/* Power iteration; only PH_EIG_TOP (largest |λ|), else PH_ERR_UNSUPPORTED. */
ph_status ph_power_run(ph_linop *a, const ph_eig_config *cfg,
                       ph_eig_result *res, ph_error *err);

#endif
