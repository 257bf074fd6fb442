/* trainer.h: the training loop behind `pothole train`: minibatches, learning
 * rate schedule, evaluation, logs, periodic checkpoints with the whole state
 * (θ, optimiser and preconditioner, data position, log, trajectory), resume
 * that continues bit for bit, and a divergence guard. Files in out_dir:
 * run.json, log.csv, ckpt/last.ckpt (periodic), ckpt/final.ckpt,
 * trajectory.npy ([T, n]), precond.npy/.json (llqr, llqr-sam), and with a
 * watch curvature.csv (+ events.csv with a preconditioner). */
#ifndef PH_OPTIM_TRAINER_H
#define PH_OPTIM_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "data/dataset.h"
#include "optim/optim.h"
#include "optim/watch.h"

typedef enum ph_schedule {
  PH_SCHEDULE_CONST = 0,
  PH_SCHEDULE_COSINE,
  PH_SCHEDULE_STEP /* × 0.1 at 50 % and again at 75 % of the steps */
} ph_schedule;

typedef struct ph_train_config {
  char model[128];
  char data[PH_DATA_SPEC_MAX];
  ph_optim_config opt; /* opt.lr is the base learning rate */
  size_t steps;        /* 0: use epochs */
  double epochs;
  size_t batch; /* 64 */
  ph_schedule schedule;
  size_t eval_every; /* 0: steps/20 */
  size_t ckpt_every; /* 0: steps/10 */
  size_t traj_every; /* 0: steps/50 */
  size_t max_train;  /* 0: the whole train split */
  size_t val;        /* >0: the last val train examples replace the test
                        split (ph_dataset_hold_out); "test_*" then means
                        validation */
  size_t eval_n;     /* examples of each split per evaluation (2048) */
  uint64_t seed;     /* data split, initialisation and batch order */
  char out_dir[1024];
  int resume;
  int progress;      /* -1 auto (tty), 0 off, 1 on */
  size_t stop_after; /* testing aid: stop (as if killed) after this step */
  /* The whole configuration as "--name value" lines (tools: from the option
   * table, without the options that may change on resume). Stored in every
   * checkpoint; a resume whose config differs is refused (PH_ERR_ARG)
   * naming the first differing line. NULL: not stored, not compared. */
  const char *config;
  ph_watch_config watch; /* curvature.csv every watch.every steps (0: off) */
  double event_pi;       /* events.csv threshold on π; 0: 2(1 + μ)/η */
} ph_train_config;

ph_train_config ph_train_config_default(void);

typedef struct ph_train_summary {
  double train_loss, train_acc, test_loss, test_acc;
  double seconds;
  size_t steps;
} ph_train_summary;

ph_status ph_train_run(const ph_train_config *cfg, ph_train_summary *sum,
                       ph_error *err);

#endif
