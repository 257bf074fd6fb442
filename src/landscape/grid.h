/* grid.h: loss and accuracy on a rectangular grid of a slice.
 *
 * Point (i, j) of an nx × ny grid is θ + x[i]·d1 + y[j]·d2 with
 * x[i] = x_lo + (x_hi − x_lo)·i/(nx − 1) (x_lo when nx = 1), likewise y; a
 * 1-D grid has ny = 1, d2 = NULL and y = 0. Surfaces are (ny, nx) row-major:
 * entry [j·nx + i] is point (i, j).
 *
 * Every point is computed on its own from θ, d1, d2 and the fixed batch,
 * and written to its own slot, so the numbers do not depend on the thread
 * count or on the order of evaluation, and a resumed grid equals an
 * uninterrupted one bit for bit.
 *
 * Distributed (core/dist.h, an MPI job of R ranks): the points still to
 * compute, in index order, are dealt to the ranks round robin (position p
 * to rank p mod R); every rank runs its threads on its share and streams
 * finished values to rank 0, which shows progress for the whole grid and
 * alone reads and writes the resume state (the same file as one process
 * writes, so a grid resumes with any rank count). At the end every rank
 * holds the whole surface. A failure or interruption on any rank stops all
 * of them with the state saved; a rank that dies ends the job (mpirun).
 *
 * Resume: with state_path set, the grid keeps its progress in that file (a
 * CRC-checked ph_ckpt container holding the finished values, a done-mask
 * and a fingerprint of θ, the directions, the axes and the batch), rewritten
 * atomically every save_interval seconds and when the run stops early,
 * whenever it would gain points: a file is never written with no finished
 * point (it would keep nothing, yet refuse every other grid there). A
 * call that finds a state file with the same fingerprint recomputes only the
 * missing points; a state file of another grid (or an unreadable one) is an
 * error (PH_ERR_ARG, PH_ERR_FORMAT), never silently replaced. When the grid
 * completes, the state file is removed.
 */
#ifndef PH_LANDSCAPE_GRID_H
#define PH_LANDSCAPE_GRID_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/objective.h"
#include "core/progress.h"

typedef struct ph_grid_axes {
  size_t nx, ny; /* ny = 1 for a 1-D slice */
  double x_lo, x_hi;
  double y_lo, y_hi; /* ignored when ny = 1 and d2 is NULL */
} ph_grid_axes;

/* x[0..nx) (and y[0..ny)) as the grid uses them. */
void ph_grid_axis(size_t n, double lo, double hi, double *out);

/* p = θ + x·d1 + y·d2 (d2 may be NULL), exactly as the grid forms it. */
void ph_grid_point(size_t n, const double *theta, const double *d1,
                   const double *d2, double x, double y, double *p);

typedef struct ph_grid_options {
  int threads;            /* workers (>= 1); each clones the objective */
  const char *state_path; /* resume file, or NULL (no persistence) */
  double save_interval;   /* seconds between state saves (default 5) */
  size_t stop_after;      /* test hook: stop after this many new points
                             (0 = never); returns PH_ERR_INTERRUPTED */
  size_t hold_after;      /* test hook: after this many new points stop
                             computing and wait, as a hung process would,
                             until *interrupt is set or (in an MPI job) the
                             job stops (0 = never): the fault tests kill a
                             rank held so, certain that the grid is not
                             finished (tests/dist/test_mpi_faults.sh) */
  volatile sig_atomic_t *interrupt; /* set (e.g. by SIGINT) to stop early */
  ph_progress *progress;            /* NULL = silent */
  /* 1: eval at every θ(a, b), never the objective's plane evaluation
   * (plane_eval, core/objective.h), which is the default when the
   * objective has one and differs from eval by rounding only; direct
   * reproduces grids computed before it to the bit */
  int direct;
} ph_grid_options;

ph_grid_options ph_grid_options_default(void);

typedef struct ph_grid_stats {
  size_t points;            /* nx·ny */
  size_t computed;          /* evaluated by this call (all ranks) */
  size_t resumed;           /* taken from the state file */
  size_t nonfinite;         /* points whose loss was NaN/Inf */
  double seconds;           /* wall time of this call */
  double points_per_second; /* computed / seconds */
  int threads;              /* per rank */
  int ranks;                /* processes of the job (1 without MPI) */
  double work_seconds;      /* CPU s evaluating, over workers and ranks */
  double comm_seconds;      /* CPU s in communication calls, over ranks */
  int plane;                /* 1: points by plane_eval, 0: by eval */
} ph_grid_stats;

/* Evaluate loss (and accuracy; NaN when the objective has none) at every
 * grid point on `batch` (o->plane_eval on the plane prepared once per
 * worker when the objective has it and opt->direct is 0, else o->eval at
 * θ(a, b)). The two ways differ by rounding only, and the resume state's
 * fingerprint names the way, so a grid is never finished the other way.
 * loss, acc: (ny, nx). o is used by worker 0; others use clones. Returns
 * PH_ERR_INTERRUPTED (state saved, when state_path is set) if stopped early by
 * the hook or the interrupt flag. */
ph_status ph_grid_eval(ph_objective *o, const double *theta, const double *d1,
                       const double *d2, const ph_batch *batch,
                       const ph_grid_axes *axes, const ph_grid_options *opt,
                       double *loss, double *acc, ph_grid_stats *stats,
                       ph_error *err);

#endif
