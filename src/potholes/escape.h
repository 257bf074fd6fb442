/* escape.h: escape experiments on toy landscapes and the amplification
 * sweep (algorithms.md §5-6, docs/potholes.md §4-5).
 *
 * An experiment starts each of S seeds near a point (the pit's local
 * minimum, the basin minimum, a random point or a given one), runs each
 * optimiser T steps and records whether and when it ESCAPED: the first step
 * at which ‖θ_t − θ_ref‖ > R, θ_ref the pit minimum (or the basin minimum on
 * a landscape without a pit) and R = escape_k · s (s the pit width; 1
 * without a pit). ESCAPED means: outside the ball at the end of the run;
 * the escape step is the first step after the last visit inside, so
 * excursions that fall back into the pit (large oscillations at the edge
 * of stability) do not count. A non-finite iterate counts as escaped (at
 * that step) and as diverged. With --start random the reference is still
 * the pit (the rate is then the fraction of runs NOT ending in the pit);
 * with --start X it is X.
 *
 * Optimisers: "optim" backend = src/optim (ph_optim_create/ph_optim_step,
 * any name it knows); "builtin" backend = a small reference implementation
 * here of sgd, sam, llqr, llqr-sam with a FIXED preconditioner P (no
 * refresh), used when optim is not built and to cross-check it:
 *   sgd: d = g;  sam: d = ∇L_B(θ + ρ g/‖g‖);  llqr: d = P g;
 *   llqr-sam: d = P ∇L_B(θ + ρ Pg/‖Pg‖);  m ← μm + d;  θ ← θ − η m.
 * The preconditioner of llqr / llqr-sam is obtained by one of (recorded in
 * the summary, since P's slow memory decides π):
 *   identity: P = I;
 *   fit:      P = diag(1/λ̄), the averaged (basin) curvature of the toy
 *             without its pits (ph_toy_basin_curvature);
 *   burnin:   the optimiser itself run `burnin` steps in the wide basin
 *             (from basin + N(0, burnin_spread² I), refreshing its EMA
 *             preconditioner), then its P is carried into the pit (optim
 *             backend only).
 * Each seed draws its start jitter and its minibatches from (seed, ...)
 * counter-based streams, so a result is a pure function of the config.
 */
#ifndef PH_POTHOLES_ESCAPE_H
#define PH_POTHOLES_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/json.h"
#include "core/objective.h"

#define PH_ESCAPE_MAX_OPT 8
/* The lab's default: a wide flat basin (averaged curvature 0.2) with a
 * narrow pit (curvature ≈ d/s² = 50) at (2.5, 0): π ≈ 250 under the fitted
 * P, and the pit is shallower than the basin minimum. */
#define PH_ESCAPE_DEFAULT_LANDSCAPE "pothole2d:a=0.2,b=0.2,cx=2.5"
#define PH_ESCAPE_DEFAULT_LR 0.02
#define PH_ESCAPE_DEFAULT_RHO_LLQR 0.1
#define PH_ESCAPE_MAX_SWEEP 32

typedef enum ph_escape_start {
  PH_START_PIT = 0,
  PH_START_BASIN,
  PH_START_RANDOM, /* uniform in [-random_box, random_box]^n */
  PH_START_POINT
} ph_escape_start;

typedef enum ph_precond_from {
  PH_PFROM_BURNIN = 0,
  PH_PFROM_FIT,
  PH_PFROM_IDENTITY
} ph_precond_from;

typedef enum ph_escape_backend {
  PH_BACKEND_AUTO = 0, /* optim when built, else builtin */
  PH_BACKEND_OPTIM,
  PH_BACKEND_BUILTIN
} ph_escape_backend;

typedef struct ph_escape_config {
  char landscape[512];
  size_t n_opt;
  char opt[PH_ESCAPE_MAX_OPT][32];
  size_t seeds;  /* S (200) */
  size_t steps;  /* T (2000) */
  uint64_t seed; /* base seed (0); seed i uses seed + i */
  ph_escape_start start;
  double point[64];      /* PH_START_POINT (first n entries) */
  double jitter;         /* start jitter σ; <0 = default s/4 (pit) or 0.1 */
  double random_box;     /* 2 */
  double lr;             /* 0.02 */
  double rho;            /* 0 = default: SAM 0.05, LLQR+SAM 0.1 */
  double momentum;       /* 0 */
  size_t batch;          /* minibatch size when the toy has a sample (8) */
  ph_precond_from pfrom; /* fit */
  size_t burnin;         /* 500 */
  double burnin_spread;  /* 1 */
  long refresh_every;    /* optim backend: -1 = optimiser default, 0 never */
  double escape_k;       /* 3 */
  size_t n_traj;         /* seeds whose trajectories are kept (4) */
  ph_escape_backend backend;
} ph_escape_config;

ph_escape_config ph_escape_config_default(void);
/* Parse "sgd,sam,llqr,llqr-sam" into cfg->opt. */
ph_status ph_escape_parse_opts(ph_escape_config *cfg, const char *list,
                               ph_error *err);

typedef struct ph_escape_row {
  char opt[32];
  size_t seeds, escaped, diverged;
  double escape_rate, ci_lo, ci_hi;
  double median_escape_step;              /* NaN when none escaped */
  double final_loss_mean, final_loss_std; /* clean landscape, finite runs */
  double final_dist_mean;                 /* ‖θ_T − θ_ref‖ */
  double rho;                             /* radius used (0 for sgd/llqr) */
  double *traj;                           /* (n_traj, steps + 1, n) row-major */
  size_t n_traj;
  double *precond_diag; /* (n) diag(P) used, NULL for sgd/sam */
  double seconds;
} ph_escape_row;

typedef struct ph_escape_result {
  size_t n, n_rows;
  ph_escape_row rows[PH_ESCAPE_MAX_OPT];
  double *ref;   /* (n) θ_ref */
  double radius; /* R */
  int has_pit;
  double jitter;       /* σ actually used */
  const char *backend; /* "optim" or "builtin" */
  double seconds;      /* all optimisers, all seeds */
} ph_escape_result;

ph_status ph_escape_run(const ph_escape_config *cfg, ph_escape_result *res,
                        ph_error *err);
void ph_escape_result_free(ph_escape_result *r);

/* DIR/escape.csv, DIR/trajectories/<opt>.npy, DIR/toy.json (config + results
 * + timing + the `extra` object if non-NULL, borrowed). Files written before
 * a failure are removed again. */
ph_status ph_escape_write(const ph_escape_config *cfg,
                          const ph_escape_result *res, const cJSON *extra,
                          const char *dir, ph_error *err);

/* Amplification sweep on potholeNd: for each value of `param` ("depth" or
 * "width"), at S points θ = pit + N(0, jitter² I), with P obtained as in
 * cfg->pfrom, the measured A(v) along the top generalised eigenvector v
 * (mean and 95 % normal interval over points), π(v), and the first-order
 * predictions. */
typedef struct ph_amp_row {
  double value;
  double pi, predicted, predicted_sq;
  double measured, ci_lo, ci_hi;
  double drift_ratio; /* mean measured correction-to-drift ratio */
  double escape_sam, escape_llqr_sam; /* escape rates (NaN if not run) */
} ph_amp_row;

ph_status ph_amp_sweep(const ph_escape_config *cfg, const char *param,
                       const double *values, size_t n_values, ph_amp_row *rows,
                       int with_escape, ph_error *err);
ph_status ph_amp_write(const char *path, const char *param,
                       const ph_amp_row *rows, size_t n, ph_error *err);

#endif
