/* study.h: `pothole study`, a resumable grid of tasks (model × data) ×
 * optimisers × learning rates × seeds, run as child `pothole` processes
 * through the demo's staged runner (demo_runner.h).
 *
 * Three phases, each a list of independent, indexed jobs:
 *  1. tune:    every (task, optimiser, learning rate) trained once on the
 *              tuning seed with a validation split carved from train
 *              (`train --val N`); same grid size for every optimiser;
 *  2. (select) the best rate per (task, optimiser) by the stated rule
 *              (lowest final validation loss; a diverged run counts as +inf;
 *              ties -> the smaller rate), written to DIR/selection.csv;
 *  3. final:   the selected rate re-run on seeds 1..S on the whole train
 *              split, then λmax of H and of P½HP½ on each final checkpoint.
 * study_jobs() lists the jobs of a phase in a fixed order and
 * study_exec_one() runs job i alone, so the jobs can be spread over
 * processes or MPI ranks. A job whose output exists is done; a job that
 * failed (e.g. training diverged) leaves DIR/.../failed.txt, is reported as
 * such and is not re-run on resume. DIR/study.cfg holds the configuration;
 * a directory made by another configuration is refused (exit 2).
 * See docs/study.md. */
#ifndef PH_TOOLS_STUDY_H
#define PH_TOOLS_STUDY_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/stats.h"
#include "demo_runner.h"

#define ST_MAX_TASKS 8
#define ST_MAX_OPTS 8
#define ST_MAX_LRS 8
#define ST_MAX_SEEDS 32
#define ST_WATCH_TENTH ((size_t)-1)
/* What the study's watch measures (train --watch-n/-k/-probes/-layers):
 * λmax(H), π_1 = λmax(P½HP½) and κ_loc on a fixed batch of 128, the
 * quantities of the curvature figure and the pothole events; no trace and
 * no per-layer λmax, which were most of a watch's products
 * (docs/study.md "Curvature over training"). */
#define ST_WATCH_ARGS                                                          \
  "--watch-n", "128", "--watch-k", "1", "--watch-probes", "0",                 \
      "--watch-layers", "off"
/* How the final models' λmax(H) and λmax(P½HP½) are computed (pothole
 * spectrum's options besides --ckpt, --n, --operator, --precond, --out):
 * the top pair to the default tolerance, stopping at the first product
 * that meets it and without the verification cycle, which for one top
 * pair cannot change λmax (docs/spectra.md "Stopping early"). study.cfg
 * records them, so a directory made with other settings is refused. */
#define ST_CURV_ARGS "--k", "1", "--tol", "1e-06", "--early", "--no-verify"
/* The watch interval of task t (0: not watched). */
struct st_cfg;
size_t study_watch_every(const struct st_cfg *c, size_t t);

typedef struct st_task {
  char name[32];   /* digits-mlp, fmnist-mlp, fmnist-cnn, text-tf, custom */
  char model[128]; /* model spec */
  char data[128];  /* data spec */
  size_t n_train;  /* --n (0 = the whole train split) */
  size_t steps, batch;
  size_t val;      /* validation examples carved from train for tuning */
  size_t curv_n;   /* examples for the final λmax (0 = the study's) */
  size_t eval_n;   /* train --eval-n (0 = the study's) */
  double expect_s; /* expected seconds of one sgd run on a free core */
} st_task;

typedef struct st_cfg {
  const char *dir;
  const char *profile;
  st_task tasks[ST_MAX_TASKS];
  size_t n_tasks;
  char opts[ST_MAX_OPTS][16];
  size_t n_opts;
  double lr_mult[ST_MAX_LRS]; /* × each optimiser's default learning rate */
  size_t n_lrs;
  size_t seeds;  /* final seeds 1..seeds; tuning uses seed 0 */
  size_t eval_n; /* train --eval-n */
  size_t curv_n; /* examples for the final λmax */
  /* train --watch-every of the final runs: N; 0 = off; ST_WATCH_TENTH
   * (the default) = each task's steps / 10 */
  size_t watch_every;
  int jobs;
  int accept_build; /* resume a directory another build made (its settings
                       must still match; DIR/builds.txt records it) */
} st_cfg;

/* The selected rate per (task, optimiser). */
typedef struct st_sel {
  double lr[ST_MAX_TASKS][ST_MAX_OPTS];
  double val_loss[ST_MAX_TASKS][ST_MAX_OPTS];
  double val_acc[ST_MAX_TASKS][ST_MAX_OPTS];
  int all_failed[ST_MAX_TASKS][ST_MAX_OPTS];
} st_sel;

enum { ST_PHASE_TUNE = 0, ST_PHASE_FINAL = 1 };

/* The default learning rate of an optimiser (ph_optim_config_default). */
double study_default_lr(const char *opt);
/* Rate k of optimiser o. */
double study_lr(const st_cfg *c, size_t o, size_t k);

/* The configuration as "key value" lines (DIR/study.cfg): the grid, then
 * "build pothole VERSION git COMMIT" and one "train OPT --name value" line
 * per default each optimiser's train runs resolve. Caller frees; NULL when
 * out of memory. */
char *study_cfg_text(const st_cfg *c);
/* Write DIR/study.cfg, or compare with the one there: PH_ERR_ARG naming the
 * first differing line when another configuration made DIR. With
 * c->accept_build the build line is not compared (nor the defaults when
 * the directory predates their record) and DIR/builds.txt notes it. */
ph_status study_cfg_claim(const st_cfg *c, ph_error *err);

/* Directories of one run (buffers of PATH_MAX-ish size 1024). */
void study_tune_dir(const st_cfg *c, size_t t, size_t o, size_t k, char *buf,
                    size_t len);
void study_final_dir(const st_cfg *c, size_t t, size_t o, size_t seed,
                     char *buf, size_t len);

/* Add the jobs of a phase to d in their fixed order (sel is needed for
 * ST_PHASE_FINAL). Jobs that failed before (failed.txt) are left out.
 * Returns the number of jobs added, or -1 on OOM. */
long study_jobs(const st_cfg *c, int phase, const st_sel *sel, ph_demo *d);
/* Run job i of d alone (0 success, 1 failure). */
int study_exec_one(ph_demo *d, size_t i);
/* After ph_demo_run: record failed jobs as DIR/.../failed.txt. */
void study_mark_failures(const ph_demo *d);

/* One final run as measured: ok = finished with a finite loss; NaN for
 * whatever is missing (e.g. no events.csv). */
typedef struct st_run {
  int ok;
  double acc, loss, lmax, plmax, events, wall, pps;
} st_run;
void study_run_read(const st_cfg *c, size_t t, size_t o, size_t seed,
                    st_run *r);
int study_is_text(const st_task *k);
/* Summaries over the seeds of: test acc, test loss, bits/char, λmax,
 * λmax(P½HP½), events, wall time, products/step (in that order, 8). */
void study_summaries(const st_cfg *c, size_t t, size_t o, ph_stats_summary *out,
                     size_t *n_failed);

/* Phase 2: read the tuning runs, choose, write DIR/tune.csv and
 * DIR/selection.csv. */
ph_status study_select(const st_cfg *c, st_sel *sel, ph_error *err);

/* Read the final runs, write DIR/runs.csv, DIR/study.csv, DIR/study.md. */
ph_status study_report(const st_cfg *c, const st_sel *sel, const ph_demo *d,
                       double seconds, ph_error *err);
/* Seed 1's DIR/.../curvature.csv of (t, o) into tb (free with
 * ph_plot_table_free): 0, or -1 when the run has none or it lacks the
 * step / λmax(H) columns (PH_WATCH_COL_STEP, PH_WATCH_COL_LMAX_H). */
struct ph_plot_table;
int study_curv_load(const st_cfg *c, size_t t, size_t o,
                    struct ph_plot_table *tb);
/* How many (task, optimiser) pairs have a readable curvature.csv. */
size_t study_curv_count(const st_cfg *c);
/* DIR/figures/{bars,curvature,lr_sensitivity}.{png,pdf}. */
ph_status study_figures(const st_cfg *c, const st_sel *sel, ph_error *err);

#endif
