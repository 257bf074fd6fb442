/* watch.h: curvature watched through training (`pothole train
 * --watch-every N`, docs/optimisers.md "Curvature through training").
 *
 * Every N steps, on a fixed evaluation batch (the first n training
 * examples), the trainer measures λmax(H), λmax(P½HP½) and the top-k
 * pothole ratios π (the top eigenvalues of P½HP½; algorithms.md §5) with the
 * local curvature vᵀHv along the top pothole direction, the Hutchinson trace
 * of H with its standard error, and λmax of each weight block's Hessian.
 * Each Lanczos run is warm-started from the previous watch's eigenvectors,
 * which the checkpoint carries, so a resumed run writes the same rows, and
 * stops as soon as its pairs meet the tolerance (docs/optimisers.md
 * "Curvature through training" gives the cost per model). Trace and
 * per-layer λmax can be left out (probes 0, layers 0) when only λmax and
 * the pothole ratios are wanted: they are most of a watch's products.
 *
 * Pothole events (ph_watch_events) are read back from curvature.csv: the
 * top π crossing a threshold upwards, and whether the next watch finds π
 * and the loss both lower ("left") or not ("stayed"). */
#ifndef PH_OPTIM_WATCH_H
#define PH_OPTIM_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/ckpt.h"
#include "core/error.h"
#include "core/objective.h"
#include "precond/precond.h"

/* Column names of curvature.csv that readers look up by name (the study's
 * figures, ph_watch_events): the header below is built from these. */
#define PH_WATCH_COL_STEP "step"
#define PH_WATCH_COL_LMAX_H "lmax_h"
#define PH_WATCH_COL_LMAX_PC "lmax_pc"

typedef struct ph_watch_config {
  size_t every;  /* watch every N outer steps; 0 = off */
  size_t n;      /* the fixed batch: the first n training examples (256) */
  size_t k;      /* pothole ratios reported (3) */
  size_t probes; /* Hutchinson probes (16); 0: no trace (NaN) */
  int layers;    /* 1: λmax of each weight block (default); 0: NaN there */
  /* relative residual tolerance of each Lanczos run (1e-3): each value
   * written is within tol·|λ| of an eigenvalue of its operator (for a
   * Ritz pair, |θ − λ| ≤ ‖Ay − θy‖), in practice within (tol·λ)²/gap */
  double tol;
  uint64_t seed; /* random start / probe vectors */
} ph_watch_config;

ph_watch_config ph_watch_config_default(void);

typedef struct ph_watch ph_watch;

/* A watcher for obj (n parameters, its blocks); with_precond: the run has
 * a preconditioner P (llqr, llqr-sam), so λmax(P½HP½) and π are measured. */
ph_status ph_watch_create(const ph_watch_config *cfg, const ph_objective *obj,
                          int with_precond, ph_watch **out, ph_error *err);
void ph_watch_free(ph_watch *w);

/* The CSV header of curvature.csv (no newline):
 * step,lr,momentum,loss,lmax_h,lmax_pc,pi_1..pi_k,kappa_loc,trace,trace_se,
 * lmax_<block> for each weight block, products. */
const char *ph_watch_header(const ph_watch *w);
size_t ph_watch_ncols(const ph_watch *w);

/* One watch at θ (P may be NULL). vals receives ph_watch_ncols values in
 * header order (NaN where a quantity does not apply). */
ph_status ph_watch_measure(ph_watch *w, ph_objective *obj, const double *theta,
                           const ph_precond *P, uint64_t step, double lr,
                           double momentum, double *vals, ph_error *err);

/* The warm-start vectors into / out of a checkpoint ("watch.*"). */
ph_status ph_watch_save(const ph_watch *w, ph_ckpt *ck, ph_error *err);
ph_status ph_watch_load(ph_watch *w, const ph_ckpt *ck, ph_error *err);

/* ----------------------------------------------------- pothole events */

/* The default event threshold: the edge of stability of the preconditioned
 * heavy-ball step, π > 2(1 + μ)/η (algorithms.md §5: LLQR moves along a
 * direction with effective curvature η·π). */
double ph_watch_event_threshold(double lr, double momentum);

typedef struct ph_watch_event {
  uint64_t step;
  double pi, lambda, loss; /* top π, vᵀHv along its direction, batch loss */
  double threshold;
  /* the next watch: 1 left (π and the loss both fell), 0 stayed, -1 the
   * run ended first */
  int left;
  uint64_t next_step;
  double next_pi, next_loss;
} ph_watch_event;

/* Events in curvature.csv at `path` (or DIR/curvature.csv): a watch whose
 * pi_1 exceeds the threshold while the previous watch's did not (the first
 * eligible watch counts when it is above). Watches at steps before
 * `from_step` are not eligible: before LLQR's first refresh P is the
 * identity start, π₁ is just λmax(H), and a crossing there is the ordinary
 * edge of stability at initialisation, not a pothole
 * (ph_watch_first_fitted_step). threshold > 0 fixes it; 0 uses
 * ph_watch_event_threshold of each row's lr and momentum. *events is
 * malloc'ed (free it); NULL with *n = 0 when there are none. A file
 * without pi_1 (no preconditioner) is PH_ERR_ARG. */
ph_status ph_watch_events(const char *path, double threshold,
                          uint64_t from_step, ph_watch_event **events,
                          size_t *n, ph_error *err);

/* The first step whose watch sees a fitted preconditioner, for a run whose
 * first refresh happens before step 1 (refresh_first_after_k = 0: 1) or
 * only after K = refresh_every steps (K + 1); UINT64_MAX when it never
 * refreshes (refresh_every = 0). */
uint64_t ph_watch_first_fitted_step(size_t refresh_every,
                                    int refresh_first_after_k);

/* Counts for one run: events, and how many of them left / stayed. */
typedef struct ph_watch_event_count {
  size_t events, left, stayed, open;
} ph_watch_event_count;
ph_status ph_watch_count_events(const char *path, double threshold,
                                uint64_t from_step, ph_watch_event_count *out,
                                ph_error *err);

#endif
