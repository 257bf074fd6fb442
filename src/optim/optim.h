/* optim.h: optimisers behind one small vtable, selected by name.
 *
 * Every optimiser works on any ph_objective (network or toy landscape) and
 * saves/loads its whole state into a checkpoint, so a resumed run continues
 * bit for bit. Names: sgd, adamw, sam, asam, fisher-sam, fsam, llqr, llqr-sam.
 * Formulas and defaults: docs/optimisers.md (from algorithms.md §2-3).
 */
#ifndef PH_OPTIM_OPTIM_H
#define PH_OPTIM_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/ckpt.h"
#include "core/error.h"
#include "core/objective.h"
#include "precond/precond.h"

typedef enum ph_metric { PH_METRIC_GN = 0, PH_METRIC_NEWTON = 1 } ph_metric;
typedef enum ph_outer { PH_OUTER_SGD = 0, PH_OUTER_ADAMW = 1 } ph_outer;
typedef enum ph_perturb {
  PH_PERTURB_L2 = 0,    /* ε = ρ v/‖v‖ */
  PH_PERTURB_DUAL = 1,  /* ε = ρ Ug/√(gᵀUg) */
  PH_PERTURB_EUCLID = 2 /* ε = ρ g/‖g‖: SAM's ascent, U only in the descent
                           (the lab's control for what U adds to ε) */
} ph_perturb;
/* When the first LLQR refresh happens: before the first step (on the start
 * point, the default), or only after K steps (so a preconditioner set from
 * outside is used unchanged for K steps). */
typedef enum ph_refresh_first {
  PH_REFRESH_FIRST_START = 0,
  PH_REFRESH_FIRST_AFTER_K = 1
} ph_refresh_first;

typedef struct ph_optim_config {
  char name[32];
  /* outer step */
  double lr;       /* base learning rate (the trainer's schedule scales it) */
  double momentum; /* heavy ball, 0.9 */
  int nesterov;
  double weight_decay;      /* added after any preconditioner (decoupled) */
  double beta1, beta2, eps; /* AdamW */
  ph_outer outer;           /* for llqr / llqr-sam */
  /* SAM family */
  double rho;         /* 0 = the optimiser's default */
  size_t m_sharpness; /* sam only: ε per chunk of m examples; 0 = whole batch */
  double asam_eta;    /* 0.01 */
  double fisher_eta;  /* 1.0 */
  double fsam_beta;   /* 0.9, friendly-SAM gradient EMA */
  ph_perturb perturb; /* llqr-sam perturbation norm */
  int perturb_only;   /* llqr-sam: descend with g' instead of U g' */
  /* LLQR preconditioner */
  ph_precond_kind precond_kind; /* diagonal by default */
  ph_metric metric;
  size_t refresh_every; /* K outer steps between refreshes; 0 = never (P stays
                           as created or as set by ph_optim_set_precond) */
  ph_refresh_first refresh_first; /* refresh at step 0 or first at step K */
  size_t inner_steps;             /* 50 */
  double inner_lr;
  double inner_momentum;  /* 0.9 */
  double inner_clip;      /* 5.0 per block */
  size_t refresh_batch;   /* 128 */
  double ema_beta;        /* 0.95 by default; `pothole train --metric newton`
                            uses 0.9 unless --ema is given */
  double damping;         /* λ added to the metric in the inner objective (0;
                            `pothole train --precond kron` uses 0.01) */
  double curvature_floor; /* how U behaves under negative curvature: see docs */
  double trust_cap;       /* trust region on U: after each refresh, diagonal
                             entries are capped at trust_cap × a median
                             (ph_precond_trust_cap; PH_OPTIM_TRUST_CAP);
                             0 = off */
  double trust_floor;     /* ... and raised to that median / trust_floor;
                             0 = off */
  double step_cap; /* step-length trust region: ‖U v‖ ≤ step_cap·‖v‖
                      for the gradient v that U preconditions; 0 = off
                      (`pothole train` sets 1) */
} ph_optim_config;

/* The default trust-region cap (docs/optimisers.md, "Trust region"). */
#define PH_OPTIM_TRUST_CAP 10.0
/* `pothole train`'s default step-length cap (docs/optimisers.md, "Second
 * round"); the library default is 0 (off). */
#define PH_TRAIN_STEP_CAP 1.0

/* The documented defaults for `name`; PH_ERR_ARG for an unknown name. */
ph_status ph_optim_config_default(const char *name, ph_optim_config *cfg,
                                  ph_error *err);
/* Range checks (ρ ≥ 0, β in [0,1), ...): PH_ERR_ARG naming the option. */
ph_status ph_optim_config_validate(const ph_optim_config *cfg, ph_error *err);

/* Where LLQR draws its fresh refresh batches from (the trainer's data). */
typedef struct ph_batch_source {
  void *ctx;
  void (*next)(void *ctx, ph_batch *out);
} ph_batch_source;

/* What one step did, for logs. */
typedef struct ph_step_info {
  double loss;        /* L_B(θ) before the step */
  double grad_norm;   /* ‖∇L_B(θ)‖ */
  double update_norm; /* ‖θ_new − θ‖ */
  double rho;         /* perturbation radius used (0 if none) */
  int refreshed;      /* 1 if the preconditioner was refreshed this step */
  /* the trust region at this step's refresh (valid when refreshed) */
  size_t n_capped;     /* diagonal entries of U lowered to the cap */
  double u_max_before; /* largest diagonal entry before the cap */
  double u_max_after;  /* ... and after */
  double step_ratio; /* ‖U v‖/‖v‖ before the step cap (NaN without U) */
  size_t n_grad, n_hvp, n_ggnvp; /* products spent in this step */
} ph_step_info;

typedef struct ph_optim ph_optim;

ph_status ph_optim_create(const ph_optim_config *cfg, const ph_objective *obj,
                          ph_optim **out, ph_error *err);
void ph_optim_free(ph_optim *o);
const ph_optim_config *ph_optim_get_config(const ph_optim *o);

/* One step on the batch: θ ← θ + Δ. lr is this step's learning rate. fresh
 * may be NULL for optimisers without a refresh (or to reuse `batch`). */
ph_status ph_optim_step(ph_optim *o, double *theta, ph_objective *obj,
                        const ph_batch *batch, double lr,
                        ph_batch_source *fresh, ph_step_info *info,
                        ph_error *err);

/* The current (EMA) preconditioner, NULL for optimisers without one. The
 * optimiser keeps ownership. ph_optim_set_precond replaces it (copied), e.g.
 * to start from a preconditioner fitted elsewhere. */
const ph_precond *ph_optim_precond(const ph_optim *o);
ph_status ph_optim_set_precond(ph_optim *o, const ph_precond *p, ph_error *err);
/* Force a preconditioner refresh now, on `batch`, at θ. */
ph_status ph_optim_refresh(ph_optim *o, const double *theta, ph_objective *obj,
                           const ph_batch *batch, ph_error *err);

/* Whole state into / out of a checkpoint, under sections "optim.*". */
ph_status ph_optim_save(const ph_optim *o, ph_ckpt *ck, ph_error *err);
ph_status ph_optim_load(ph_optim *o, const ph_ckpt *ck, ph_error *err);

#endif
