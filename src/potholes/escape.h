/* escape.h: escape experiments on toy landscapes, regime maps and the
 * amplification sweep (algorithms.md §3.3, §5-6; docs/potholes.md).
 *
 * ONE optimiser path: every run goes through src/optim (ph_optim_create /
 * ph_optim_step). "Fixed P" is that same optimiser with refresh period 0 and
 * P set from outside (ph_optim_set_precond); "live P" refreshes every K
 * steps with the LLQR knobs of `pothole train` (metric, floor, damping, EMA
 * β, inner steps and lr, first refresh at start or after K, refresh batch
 * from its own stream).
 *
 * Optimisers (names in the list): any src/optim name (sgd, sam, llqr,
 * llqr-sam, ...) and the lab's controls, each one src/optim optimiser with
 * one factor changed:
 *   sam-matched      sam at η·p_v, p_v = vᵀPv along the pit direction v, so
 *                    its step along v equals LLQR's (same ρ);
 *   llqr-sam-euclid  llqr-sam with ε = ρ g/‖g‖ (U only in the descent);
 *   llqr-sam-ponly   llqr-sam's preconditioned ε with plain descent g'.
 * llqr itself (same P, no perturbation) is the fourth control.
 *
 * OUTCOME of a run started in a pit (the pit's local minimum θ_pit plus
 * N(0, jitter² I)):
 *   escaped   it reached the basin: ‖θ_t − θ_basin‖ ≤ basin_frac·‖θ_pit −
 *             θ_basin‖ at some step t (absorbing: the run stops there; t is
 *             the escape step);
 *   diverged  θ became non-finite or ‖θ_t − θ_pit‖ > 1e6·(1 + ‖θ_pit −
 *             θ_basin‖) (stops there);
 *   trapped   at step T within R = escape_k·width of θ_pit;
 *   orbiting  neither (e.g. circling the pit's rim or a saddle).
 * Runs started elsewhere (basin, a point, random) have no basin target:
 * "escaped" there means ending outside the ball of radius R around the
 * reference (the basin minimum or the point), trapped = inside it.
 *
 * RANDOMNESS: run r of cell c draws its start jitter, its minibatches and
 * its refresh batches from counter-based streams keyed by (seed, c, r), the
 * same for every optimiser (common random numbers). A cell's result is a
 * pure function of (config, cell), whatever the thread count.
 */
#ifndef PH_POTHOLES_ESCAPE_H
#define PH_POTHOLES_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/json.h"
#include "core/objective.h"
#include "optim/optim.h"

#define PH_ESCAPE_MAX_OPT 8
/* The lab's first landscape: a wide flat basin (averaged curvature 0.2)
 * with a narrow pit (curvature ≈ d/s² = 50) at (2.5, 0); π ≈ 250 under the
 * fitted P, which is isotropic (5·I) here. */
#define PH_ESCAPE_DEFAULT_LANDSCAPE "pothole2d:a=0.2,b=0.2,cx=2.5"
/* The selectivity landscape: the same pit along x (basin curvature 0.2,
 * π_x ≈ 250) and a control feature along y with the SAME local curvature
 * (b = 50) that the fitted P has learned (P_yy = 1/50, π_y ≈ 1); the pit is
 * wide in y (sy = 10) so it hardly adds y-curvature. P = diag(5, 0.02) is
 * not a multiple of I. */
#define PH_ESCAPE_SELECTIVE_LANDSCAPE "pothole2d:a=0.2,b=50,sx=0.1,sy=10,cx=2.5"
#define PH_ESCAPE_DEFAULT_LR 0.02
#define PH_ESCAPE_DEFAULT_RHO 0.05
#define PH_ESCAPE_MAX_SWEEP 32
#define PH_ESCAPE_PLOG_MAX 8 /* per-coordinate P statistics up to this n */

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

typedef enum ph_escape_outcome {
  PH_OUT_ESCAPED = 0,
  PH_OUT_TRAPPED,
  PH_OUT_ORBITING,
  PH_OUT_DIVERGED,
  PH_OUT_COUNT
} ph_escape_outcome;
extern const char *const ph_escape_outcome_names[PH_OUT_COUNT];

typedef struct ph_escape_config {
  char landscape[512];
  size_t n_opt;
  char opt[PH_ESCAPE_MAX_OPT][32];
  size_t seeds;  /* S (200) */
  size_t steps;  /* T (2000) */
  uint64_t seed; /* base seed (0) */
  ph_escape_start start;
  double point[64];      /* PH_START_POINT (first n entries) */
  double jitter;         /* start jitter σ; <0 = default s/4 (pit) or 0.1 */
  double random_box;     /* 2 */
  double lr;             /* η (0.02) */
  double rho;            /* ρ for every SAM-type optimiser (0.05) */
  double momentum;       /* 0 */
  size_t batch;          /* minibatch size when the toy has a sample (8) */
  ph_precond_from pfrom; /* fit */
  size_t burnin;         /* 500 */
  double burnin_spread;  /* 1 */
  /* LLQR knobs, the names of `pothole train` (src/optim's meaning) */
  ph_metric metric;               /* gn */
  double curvature_floor;         /* 0 */
  double damping;                 /* 0 */
  double ema_beta;                /* 0.95 */
  size_t refresh_every;           /* K; 0 = never (fixed P, the default) */
  ph_refresh_first refresh_first; /* start */
  size_t inner_steps;             /* 50 */
  double inner_lr;                /* 0.1 */
  size_t refresh_batch;           /* 128, drawn from its own stream */
  double escape_k;                /* 3: trapped radius R = k·width */
  double basin_frac;              /* 0.5: escaped radius around the basin */
  size_t n_traj; /* runs whose trajectory and P(t) are kept (4) */
  size_t threads;
} ph_escape_config;

ph_escape_config ph_escape_config_default(void);
/* Parse "sgd,sam,llqr,llqr-sam" into cfg->opt (names checked). */
ph_status ph_escape_parse_opts(ph_escape_config *cfg, const char *list,
                               ph_error *err);
/* Range checks of every field; PH_ERR_ARG naming the option. */
ph_status ph_escape_config_validate(const ph_escape_config *cfg, ph_error *err);

/* One run's record (attribution: how P moved during the run). */
typedef struct ph_escape_rec {
  int outcome;       /* ph_escape_outcome */
  long step;         /* escape / divergence step, -1 otherwise */
  double final_dist; /* ‖θ_end − ref‖ */
  double final_loss; /* clean landscape at θ_end (NaN if diverged) */
  size_t n_refresh;
  double pmin[PH_ESCAPE_PLOG_MAX], pmax[PH_ESCAPE_PLOG_MAX],
      pend[PH_ESCAPE_PLOG_MAX]; /* diag(P) over the run (coordinate i, or
                                   i = 0 the min/max over all when n > 8) */
} ph_escape_rec;

typedef struct ph_escape_row {
  char opt[32];
  char base[32];  /* the src/optim optimiser it runs */
  double lr, rho; /* as used (sam-matched: η·p_v) */
  size_t seeds, count[PH_OUT_COUNT];
  double rate[PH_OUT_COUNT], lo[PH_OUT_COUNT], hi[PH_OUT_COUNT];
  double median_escape_step;              /* NaN when none escaped */
  double final_loss_mean, final_loss_std; /* clean landscape, finite runs */
  double final_dist_mean;
  ph_escape_rec *recs;  /* (seeds) */
  double *traj;         /* (n_traj, steps + 1, n) row-major */
  double *plog;         /* (n_traj, steps + 1, n) diag(P) per step, or NULL */
  double *precond_diag; /* (n) P at the start, NULL without one */
} ph_escape_row;

typedef struct ph_escape_result {
  size_t n, n_rows, n_traj;
  ph_escape_row rows[PH_ESCAPE_MAX_OPT];
  double *ref;   /* (n) θ_ref */
  double *basin; /* (n) */
  double width;  /* the pit's width along the pit direction (pothole2d:
                    √((v_x s_x)² + (v_y s_y)²); else the toy's scale) */
  double radius, basin_radius;
  int has_pit, basin_target; /* basin_target: escape = reaching the basin */
  double jitter;
  double pit_dir_p, pit_lambda, pit_pi; /* p_v, vᵀHv, π along v at ref */
  double lr_threshold;                  /* LLQR's η* = 2/(p_v λ_v) */
  double seconds;
} ph_escape_result;

/* A whole experiment (one cell, cell index 0). */
ph_status ph_escape_run(const ph_escape_config *cfg, ph_escape_result *res,
                        ph_error *err);
/* The same with an explicit cell index (the RNG key) and without
 * trajectories: what a regime map calls per cell. */
ph_status ph_escape_run_cell(const ph_escape_config *cfg, uint64_t cell,
                             ph_escape_result *res, ph_error *err);
void ph_escape_result_free(ph_escape_result *r);

/* The pit direction of cfg's experiment without running it: p_v, λ_v, π_v,
 * LLQR's threshold η* = 2/(p_v λ_v) and the pit width. */
typedef struct ph_escape_pit {
  double p_v, lambda_v, pi_v, lr_threshold, width;
} ph_escape_pit;
ph_status ph_escape_pit_info(const ph_escape_config *cfg, ph_escape_pit *out,
                             ph_error *err);

/* DIR/escape.csv (one row per optimiser: counts and Wilson intervals of
 * each outcome), DIR/runs.csv (one row per optimiser and run: outcome,
 * step, P statistics), DIR/trajectories/<opt>.npy and DIR/precond/<opt>.npy
 * ([run, step, dim]) and DIR/toy.json. Files written before a failure are
 * removed again. */
ph_status ph_escape_write(const ph_escape_config *cfg,
                          const ph_escape_result *res, const cJSON *extra,
                          const char *dir, ph_error *err);
cJSON *ph_escape_config_json(const ph_escape_config *cfg,
                             const ph_escape_result *res);

/* ---- regime maps (escape_map.c) -------------------------------------- */
typedef enum ph_map_axis {
  PH_AXIS_ETA = 0, /* η */
  PH_AXIS_ETA_REL, /* η / η*, η* = 2/(p_v λ_v) LLQR's threshold */
  PH_AXIS_RHO,     /* ρ */
  PH_AXIS_RHO_REL, /* ρ / pit width */
  PH_AXIS_DEPTH,   /* pit depth d (pothole2d) or depth (potholeNd) */
  PH_AXIS_PI,      /* nominal π = (d/s²)/a: sets the basin curvature a */
  PH_AXIS_BETA,    /* EMA β */
  PH_AXIS_K,       /* refresh period K (rounded) */
  PH_AXIS_COUNT
} ph_map_axis;
extern const char *const ph_map_axis_names[PH_AXIS_COUNT];
#define PH_MAP_MAX_CELLS 4096
#define PH_MAP_MAX_STEPS 2e10 /* cells·optimisers·seeds·steps */

typedef struct ph_map_spec {
  ph_map_axis ax[2];
  double lo[2], hi[2];
  size_t nx, ny;
  int logscale[2];
} ph_map_spec;

/* Parse "eta,rho" into spec->ax (PH_ERR_ARG for an unknown axis or the same
 * axis twice). */
ph_status ph_map_parse_axes(ph_map_spec *spec, const char *s, ph_error *err);
/* Checks the axes against the landscape and the size limits. */
ph_status ph_map_validate(const ph_escape_config *base, const ph_map_spec *m,
                          ph_error *err);
/* The value of axis a at cell (i along x, j along y). */
double ph_map_value(const ph_map_spec *m, int a, size_t i);
/* The configuration of cell c = j·nx + i. */
ph_status ph_map_cell_config(const ph_escape_config *base, const ph_map_spec *m,
                             size_t cell, ph_escape_config *out, ph_error *err);
/* One cell's result as the map keeps it. */
typedef struct ph_map_cell {
  double x, y, lr, rho, lr_rel, pi_v;
  size_t count[PH_ESCAPE_MAX_OPT][PH_OUT_COUNT];
  double median[PH_ESCAPE_MAX_OPT];
} ph_map_cell;
/* Run cell c of the map (what an MPI rank would call). */
ph_status ph_map_run_one(const ph_escape_config *base, const ph_map_spec *m,
                         size_t cell, ph_map_cell *out, ph_error *err);
/* Run the whole map into DIR/map.csv and DIR/map.json (written atomically
 * at the end, so a killed map leaves no partial CSV under its final name).
 * Completed cells go to DIR/map.journal as they finish (flushed per cell);
 * with resume, cells already in a journal of the same configuration are
 * not run again. stop_after > 0 stops after that many new cells (tests of
 * resuming), returning with *complete = 0. */
ph_status ph_map_run(const ph_escape_config *base, const ph_map_spec *m,
                     const char *dir, int resume, size_t stop_after,
                     int *complete, size_t *cells_run, ph_error *err);

/* ---- amplification (escape_amp.c) ------------------------------------ */
typedef struct ph_amp_row {
  double value;
  double pi, predicted, predicted_sq;
  double measured, ci_lo, ci_hi;
  double drift_ratio;
  double escape_sam, escape_llqr_sam;
} ph_amp_row;

ph_status ph_amp_sweep(const ph_escape_config *cfg, const char *param,
                       const double *values, size_t n_values, ph_amp_row *rows,
                       int with_escape, ph_error *err);
ph_status ph_amp_write(const char *path, const char *param,
                       const ph_amp_row *rows, size_t n, ph_error *err);

/* Like with like (issue 13): per point, LLQR+SAM's step along the pit
 * direction over LLQR's, vᵀP∇L(θ+ε)/vᵀPg against 1 + ρπ/‖Pg‖, and SAM's
 * over GD's, vᵀ∇L(θ+ε)/vᵀg against 1 + ρλ/‖g‖ (escape_amp.c). */
typedef struct ph_amp_point {
  double rho, t, pi;          /* t: offset from the pit minimum along v */
  double measured, predicted; /* LLQR+SAM / LLQR */
  double sam_measured, sam_predicted; /* SAM / GD */
} ph_amp_point;
ph_status ph_amp_like(const ph_escape_config *cfg, const double *rhos,
                      size_t n_rho, ph_amp_point **out, size_t *n_out,
                      ph_error *err);
#define PH_AMP_BANDS 6
typedef struct ph_amp_band {
  double lo, hi; /* band of the predicted factor */
  size_t n;
  double pred_median, median, q1, q3; /* of the measured factor */
} ph_amp_band;
void ph_amp_like_bands(const ph_amp_point *p, size_t n, int sam,
                       ph_amp_band bands[PH_AMP_BANDS]);

/* The fitted / identity / burn-in diagonal P for an LLQR optimiser, into
 * pdiag (n) (escape.c; burn-in runs src/optim's llqr in the wide basin). */
ph_status ph_escape_obtain_precond(const ph_escape_config *cfg,
                                   ph_objective *obj, const double *basin,
                                   double *pdiag, ph_error *err);

#endif
