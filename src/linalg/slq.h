/* slq.h: spectral density (stochastic Lanczos quadrature), Hutchinson trace
 * and the dense reference spectrum.
 *
 * SLQ (Golub & Meurant; Ubaru, Chen & Saad 2017; Ghorbani et al. 2019; as in
 * PyHessian): for probe i, a Rademacher vector z_i from
 * ph_probe_rng(seed, PH_PROBE_SLQ, i, n), v = z_i/√n, m Lanczos steps with
 * full reorthogonalisation give T_m; its eigenvalues θ_j (nodes) and squared
 * first eigenvector components τ_j (weights, Σ τ_j = 1) form a Gauss
 * quadrature for vᵀ f(A) v. The density is
 *     φ_i(t) = Σ_j τ_j N(t; θ_j, σ²),   φ = mean_i φ_i,
 * where σ follows the spectrum's own resolution (PH_SLQ_SIGMA_SPACING, the
 * default): the median over probes of the median gap between consecutive
 * nodes of T_m (nodes of zero weight left out), at least 1e-5·(λmax − λmin)
 * so the grid stays bounded; or PyHessian's σ² = sigma2_scale ·
 * max(1, λmax − λmin) (PH_SLQ_SIGMA_PYHESSIAN, scale 1e-5); or cfg.sigma
 * when > 0. λmin/λmax are the extreme nodes over all probes. docs/spectra.md
 * says why. The band is mean ± one
 * standard error across probes (s_i/√n_v, s the sample standard deviation
 * of φ_i(t)), clipped at 0 below.
 *
 * Hutchinson: tr(A) ≈ mean_i z_iᵀ A z_i with Rademacher z_i from
 * ph_probe_rng(seed, PH_PROBE_HUTCH, i, n); stderr = sample std / √n_v.
 *
 * In an MPI job of R ranks (core/dist.h), probe i runs on rank i mod R and
 * every rank returns the same result, bit for bit the single-process one;
 * R must not exceed the probe count (PH_ERR_ARG). Dense and everything else
 * here run on one process.
 *
 * Dense: column i of A is A e_i (n products); the matrix is symmetrised,
 * (A + Aᵀ)/2, and its full spectrum taken with LAPACKE_dsyevd.
 */
#ifndef PH_LINALG_SLQ_H
#define PH_LINALG_SLQ_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/progress.h"
#include "linalg/linop.h"

typedef enum ph_slq_sigma_rule {
  PH_SLQ_SIGMA_SPACING = 0,
  PH_SLQ_SIGMA_PYHESSIAN = 1
} ph_slq_sigma_rule;

typedef struct ph_slq_config {
  size_t probes; /* n_v (default 10) */
  size_t steps;  /* m (default 100; clamped to n) */
  size_t grid;   /* grid points (0 = auto: spacing ≤ σ/2, 1,001..200,001) */
  double sigma2_scale; /* PyHessian rule: default 1e-5 */
  double sigma;        /* > 0: this σ; 0: from sigma_rule */
  int sigma_rule;      /* ph_slq_sigma_rule, default SPACING */
  uint64_t seed;
  /* probes run in lockstep groups of `block` (default 8; 1 = one at a
   * time): each Lanczos step is one block product (ph_linop_apply_block)
   * for the group. Capped at PH_SLQ_BLOCK_MAX and so that the group's
   * bases stay under PH_SLQ_BLOCK_DOUBLES doubles (64 MB). The probes and
   * their vectors are the same for any block; results agree to rounding
   * (to the bit when the block product is k single products, as a
   * network's is). */
  size_t block;
  /* optional, borrowed: a team of threads (core/pool.h) that runs a
   * group's orthogonalisation steps after each block product, each probe
   * on one thread, so the results are the same bits for any team; NULL
   * (the default): the caller runs them. Pass the team the operator's
   * products run on (ph_net_pool), which idles between products. */
  struct ph_pool *pool;
} ph_slq_config;

#define PH_SLQ_BLOCK_MAX 64
/* A group needs kb bases where one probe at a time reuses one, and its
 * lockstep orthogonalisation reads all of them at every step: beyond a few
 * tens of MB the fresh memory and the cache misses cost more than the
 * block product saves. On mlp:256-256:relu (269,322 parameters, one basis
 * of 31 vectors 67 MB) `spectrum --block 8` took ~10 % more CPU than
 * --block 1, 0.9 s of it zeroing the bases' first pages; a 9k-parameter
 * MLP's or CNN's 8 bases (35 MB at 60 steps) gain from the block
 * (docs/performance-history.md, seventh session). */
#define PH_SLQ_BLOCK_DOUBLES ((size_t)1 << 23)

ph_slq_config ph_slq_config_default(void);

typedef struct ph_slq_result {
  size_t n; /* operator dimension */
  size_t probes, steps;
  double *nodes;                 /* (probes, steps) θ_j per probe, ascending */
  double *weights;               /* (probes, steps) τ_j per probe */
  double sigma;                  /* Gaussian standard deviation used */
  double lambda_min, lambda_max; /* extreme nodes */
  size_t n_grid;
  double *t;                     /* (n_grid) */
  double *density;               /* (n_grid) φ(t) */
  double *band_lo;               /* (n_grid) φ − stderr (≥ 0) */
  double *band_hi;               /* (n_grid) φ + stderr */
  double *count_above;           /* (n_grid) N(λ > t) ≈ n ∫_t^∞ φ */
  double negative_mass;          /* mean_i Σ_{θ_j < 0} τ_j (nodes) */
  double negative_mass_smoothed; /* ∫_{-∞}^0 φ */
  double moment1, moment2;       /* mean_i Σ τ_j θ_j, Σ τ_j θ_j² */
  size_t products;
  size_t block; /* the group size used */
  double seconds;
} ph_slq_result;

ph_status ph_slq_run(ph_linop *a, const ph_slq_config *cfg, ph_slq_result *res,
                     ph_error *err);
void ph_slq_result_free(ph_slq_result *r);

typedef struct ph_trace_result {
  double mean;    /* estimate of tr(A) */
  double stderr_; /* sample standard error of the mean */
  size_t probes;
  size_t products;
} ph_trace_result;

ph_status ph_hutchinson(ph_linop *a, size_t probes, uint64_t seed,
                        ph_trace_result *res, ph_error *err);
/* The same with the probes' products in blocks of `block` (same probes,
 * same estimate up to rounding). */
ph_status ph_hutchinson_block(ph_linop *a, size_t probes, uint64_t seed,
                              size_t block, ph_trace_result *res,
                              ph_error *err);

/* Full spectrum (ascending) into eig[0..n). If mat is non-NULL it receives
 * the symmetrised (n, n) matrix. asym (may be NULL): max |A_ij − A_ji| /
 * max |A_ij| before symmetrising. n ≤ PH_DENSE_MAX. */
#define PH_DENSE_MAX 20000
ph_status ph_dense_spectrum(ph_linop *a, double *eig, double *mat, double *asym,
                            ph_error *err);
/* The same, reporting to pg (NULL = silent): n steps for the n products
 * that build the matrix, then one for the eigensolve (LAPACK gives no
 * progress of its own; the bar shows the elapsed time until it ends). */
ph_status ph_dense_spectrum_progress(ph_linop *a, double *eig, double *mat,
                                     double *asym, ph_progress *pg,
                                     ph_error *err);

#endif
