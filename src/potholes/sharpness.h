/* sharpness.h: the sharpness suite and pothole metrics (algorithms.md §5).
 *
 * Local geometry is the Hessian H of the objective at θ on a batch; the
 * averaged geometry is a symmetric positive definite P (the slow EMA
 * preconditioner, P ≈ (averaged curvature)⁻¹). P enters only through a
 * ph_geom (precond/geom.h): the operators P, P^{1/2} and P⁻¹, so this
 * module does not depend on how P is stored.
 *
 * For a unit direction v:
 *   κ_loc(v) = vᵀHv,  κ_avg(v) = vᵀP⁻¹v,  π(v) = κ_loc/κ_avg.
 * The maximisers of π are the generalised eigenvectors H v = μ P⁻¹ v,
 * obtained as eigenpairs (μ, w) of P^{1/2} H P^{1/2} with v = P^{1/2}w/‖·‖.
 *
 * Escape signal (docs/potholes.md §3): with g = ∇L_B(θ),
 *   SAM:       Δ⁰ = −g,   Δ¹ = −∇L_B(θ + ρ g/‖g‖)
 *   LLQR+SAM:  Δ⁰ = −Pg,  Δ¹ = −P ∇L_B(θ + ρ Pg/‖Pg‖)
 *   s(v) = vᵀ(Δ¹ − Δ⁰)/‖Δ¹‖ (each normalised by its own update), and the
 *   amplification A(v) = s_LLQR(v)/s_SAM(v). The first-order prediction of
 *   algorithms.md §5 is A ≈ p_v‖g‖/‖Pg‖ with p_v = 1/κ_avg(v); it is the
 *   first-order value of the correction-to-drift ratio r(v) =
 *   [vᵀ(Δ¹−Δ⁰)/vᵀΔ⁰]_LLQR / [same]_SAM, which is measured too. For the
 *   normalised signal s, first order instead gives (p_v‖g‖/‖Pg‖)² along a
 *   common eigenvector of H and P: both are reported (docs/potholes.md).
 */
#ifndef PH_POTHOLES_SHARPNESS_H
#define PH_POTHOLES_SHARPNESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/json.h"
#include "core/objective.h"
#include "precond/geom.h"

/* Eigenpairs of H (P NULL) or of P^{1/2} H P^{1/2}: the k largest
 * (algebraic), values descending, vectors (k, n) row-major (may be NULL).
 * n <= dense_max: dense reference (n products + LAPACKE dsyevd), which also
 * gives *lambda_min; else thick-restart Lanczos (linalg/lanczos.h, tol
 * 1e-8) and *lambda_min = NAN. *products counts Hessian products. */
ph_status ph_sharpness_eigs(ph_objective *o, const double *theta,
                            const ph_batch *b, const ph_geom *P, size_t k,
                            uint64_t seed, size_t dense_max, double *values,
                            double *vectors, double *lambda_min,
                            size_t *products, ph_error *err);

typedef struct ph_pothole_dir {
  double mu;        /* generalised eigenvalue */
  double kappa_loc; /* vᵀHv */
  double kappa_avg; /* vᵀP⁻¹v */
  double pi;        /* κ_loc/κ_avg (= μ up to rounding) */
} ph_pothole_dir;

/* Top-k generalised eigenpairs H v = μP⁻¹v; vectors (k, n) unit v, may be
 * NULL. */
ph_status ph_sharpness_directions(ph_objective *o, const double *theta,
                                  const ph_batch *b, const ph_geom *P, size_t k,
                                  uint64_t seed, size_t dense_max,
                                  ph_pothole_dir *dirs, double *vectors,
                                  ph_error *err);

/* κ_loc, κ_avg and π of one direction v (need not be unit). */
ph_status ph_sharpness_pothole_ratio(ph_objective *o, const double *theta,
                                     const ph_batch *b, const ph_geom *P,
                                     const double *v, ph_pothole_dir *out,
                                     ph_error *err);

/* SAM sharpness max_{ε ∈ E} L_B(θ+ε) − L_B(θ) by `steps` steps of projected
 * ascent: E the ball ‖ε‖ ≤ ρ (P NULL) or the ellipsoid εᵀP⁻¹ε ≤ ρ². The
 * step is the linear maximiser over E (projected ascent with an unbounded
 * step, i.e. ε ← ρ P∇/√(∇ᵀP∇)), monotone for convex L; the best iterate is
 * kept, so the value is a certified lower bound of the maximum. Starts at
 * the SAM perturbation (a seeded random direction when g = 0). */
ph_status ph_sharpness_sam(ph_objective *o, const double *theta,
                           const ph_batch *b, const ph_geom *P, double rho,
                           size_t steps, uint64_t seed, double *value,
                           ph_error *err);

/* Average-case sharpness E L_B(θ+ξ) − L_B(θ), ξ ~ N(0, σ²I), Monte Carlo
 * over `pairs` antithetic pairs (ξ, −ξ) (which cancel the linear term);
 * stderr is the standard error of the mean over pairs. */
ph_status ph_sharpness_average(ph_objective *o, const double *theta,
                               const ph_batch *b, double sigma, size_t pairs,
                               uint64_t seed, double *mean, double *stderr_out,
                               ph_error *err);

typedef struct ph_escape_sig {
  double s_sam, s_llqr; /* normalised escape signals */
  double amplification; /* s_llqr / s_sam (measured A) */
  double predicted;     /* p_v ‖g‖/‖Pg‖ (algorithms.md §5) */
  double drift_ratio;   /* measured correction-to-drift ratio r(v) */
  double predicted_sq;  /* (p_v ‖g‖/‖Pg‖)², first order of A for s */
  double grad_norm, pgrad_norm, p_v;
  /* NULL when every quantity is defined; otherwise why the signals and the
   * amplification are undefined at θ (their fields are then NaN and must be
   * reported as undefined, never printed as numbers) */
  const char *undefined;
} ph_escape_sig;

/* Escape signals along unit v at θ (see the header comment). */
ph_status ph_escape_signal(ph_objective *o, const double *theta,
                           const ph_batch *b, const ph_geom *P, double rho,
                           const double *v, ph_escape_sig *out, ph_error *err);

/* The whole suite, as `pothole sharpness` and the demo run it. */
typedef struct ph_sharpness_config {
  double rho;       /* 0.05 */
  size_t k;         /* 5 */
  uint64_t seed;    /* 0 */
  size_t sam_steps; /* 20 */
  double sigma;     /* average sharpness σ; 0 = ρ/√n */
  size_t avg_pairs; /* 100 */
  size_t dense_max; /* 512 */
} ph_sharpness_config;
ph_sharpness_config ph_sharpness_config_default(void);

typedef struct ph_sharpness_result {
  size_t n, k;
  double lambda_max, lambda_min; /* lambda_min NAN unless dense */
  double *top;                   /* (k) descending */
  int has_precond;
  double precond_lambda_max;
  ph_pothole_dir *dirs;                /* (k) */
  ph_escape_sig *sig;                  /* (k) */
  double *dir_vectors;                 /* (k, n) */
  double sam_euclidean, sam_ellipsoid; /* ellipsoid NAN without P */
  double avg_mean, avg_stderr, avg_sigma;
  double loss, grad_norm;
  size_t products;
  double seconds;
} ph_sharpness_result;

ph_status ph_sharpness_run(ph_objective *o, const double *theta,
                           const ph_batch *b, const ph_geom *P,
                           const ph_sharpness_config *cfg,
                           ph_sharpness_result *res, ph_error *err);
void ph_sharpness_result_free(ph_sharpness_result *r);

/* Adds the result's fields (lambda_max, top_eigenvalues, ...) to obj. */
ph_status ph_sharpness_to_json(const ph_sharpness_result *r,
                               const ph_sharpness_config *cfg, cJSON *obj,
                               ph_error *err);

#endif
