/* slice.h: one landscape slice end to end -- directions, grid, trajectory
 * projection, 1-D quadratic model -- and the files `pothole slice` writes.
 * The library entry point behind the CLI, for the demo and for tests.
 *
 * Files (ph_slice_write, all atomic; on failure the ones written are
 * removed): surface_loss.npy, surface_acc.npy ([ny, nx], or [nx] for 1-D;
 * entry [j, i] is at θ + x[i]·d1 + y[j]·d2), x.npy, y.npy (2-D only),
 * surface_test_loss.npy, surface_test_acc.npy (the second evaluation set,
 * when given), directions.npy ([2, n] or [1, n], flat in block order),
 * trajectory.csv
 * (step, x, y, loss_at_point, off_plane) when a trajectory was given,
 * slice1d.csv (alpha, loss, quadratic) for a 1-D hessian/pothole slice, and
 * slice.json (configuration, direction kind, normalisation, seed, evaluation
 * set, timing, points per second, explained variance for pca, eigenvalues
 * for hessian/pothole). See docs/landscape.md.
 */
#ifndef PH_LANDSCAPE_SLICE_H
#define PH_LANDSCAPE_SLICE_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/objective.h"
#include "core/progress.h"
#include "landscape/directions.h"
#include "landscape/grid.h"
#include "potholes/sharpness.h"

typedef enum ph_slice_dirs {
  PH_SLICE_RANDOM = 0,
  PH_SLICE_HESSIAN,
  PH_SLICE_PCA,
  PH_SLICE_POTHOLE,
  PH_SLICE_MODELS,
  PH_SLICE_AXES,
  PH_SLICE_GIVEN /* directions supplied by the caller */
} ph_slice_dirs;

const char *ph_slice_dirs_name(ph_slice_dirs d);
/* Parse "random", "hessian", ...; -1 if unknown. */
int ph_slice_dirs_parse(const char *s);

typedef struct ph_slice_config {
  ph_slice_dirs dirs;
  ph_dir_norm norm; /* random directions only */
  int include_bias;
  uint64_t seed; /* random directions, Lanczos start vectors */
  int two_d;     /* 0: 1-D slice along d1 */
  size_t nx, ny; /* ny ignored for 1-D */
  double x_lo, x_hi, y_lo, y_hi;
  int auto_range;        /* range from the trajectory (±10% margin) */
  ph_batch batch;        /* the fixed evaluation set */
  int with_second;       /* also evaluate the grid on second_batch (e.g. */
  ph_batch second_batch; /* the test split: surface_test_*.npy) */
  int threads;
  int direct; /* eval at every point, not by plane (ph_grid_options) */
  /* Optional trajectory (T, n) row-major, e.g. RUN/trajectory.npy: PCA
   * directions and trajectory.csv. steps (T) may be NULL (0, 1, ...). */
  const double *traj;
  size_t traj_T;
  const double *traj_steps;
  /* models: 2 or 3 parameter vectors; the slice is centred at models[0]. */
  const double *const *models;
  size_t n_models;
  /* pothole: the averaged geometry P (potholes/sharpness.h); the
   * directions solve H v = μ P⁻¹ v there. */
  const ph_geom *geom;
  /* given: d1 (and d2 for 2-D), each n. */
  const double *given[2];
  const char *state_path; /* grid resume file, or NULL */
  double save_interval;   /* seconds between state saves (0: the grid's) */
  size_t hold_after;      /* test hook (ph_grid_options), 0 = never */
  ph_progress *progress;
  volatile sig_atomic_t *interrupt;
} ph_slice_config;

/* Defaults: random, filter, no bias, seed 0, 51×51 on [−1,1]², 1 thread. */
ph_slice_config ph_slice_config_default(void);

typedef struct ph_slice_result {
  size_t n, nx, ny;
  int two_d;
  const double *center; /* θ the grid is centred at (borrowed) */
  double *x, *y;        /* (nx), (ny) */
  double *dirs;         /* (2, n): d2 zero for 1-D */
  double *loss, *acc;   /* (ny, nx) */
  double *loss2, *acc2; /* (ny, nx) on second_batch, or NULL */
  double x_lo, x_hi, y_lo, y_hi;
  /* direction diagnostics (NaN when not applicable) */
  double explained[2];
  double eigval[2], eig_resid[2];
  size_t products;
  const char *solver; /* which eigen-solver gave the directions */
  double dir_seconds;
  double norms[2]; /* ‖d1‖, ‖d2‖ */
  double cos12;    /* cosine between d1 and d2 */
  /* 1-D quadratic model L0 + α gᵀd1 + ½ λ α² (hessian/pothole, else NULL) */
  double loss0, gdotv;
  double curvature; /* vᵀHv/vᵀv along d1 */
  double *quad;     /* (nx) */
  /* trajectory projection (T rows; NULL when none) */
  size_t traj_T;
  double *t_step, *t_x, *t_y, *t_loss, *t_off;
  double traj_seconds;
  ph_grid_stats grid;
  ph_grid_stats grid2; /* the second evaluation set's grid */
} ph_slice_result;

/* Compute a slice of o around theta. r must be zeroed (or freed) first. */
ph_status ph_slice_run(ph_objective *o, const double *theta,
                       const ph_slice_config *cfg, ph_slice_result *r,
                       ph_error *err);
void ph_slice_result_free(ph_slice_result *r);

/* Write the files into dir (created). `extra` (may be NULL) is merged into
 * slice.json under "config" by the caller beforehand: pass the CLI's
 * options, checkpoint path and checksum, data spec, ... (borrowed). */
ph_status ph_slice_write(const char *dir, const ph_objective *o,
                         const ph_slice_config *cfg, const ph_slice_result *r,
                         const cJSON *extra, ph_error *err);

/* The same slice in other tools' formats (slice_formats.c,
 * docs/formats.md); each removes what it wrote when it fails.
 * ph_slice_write_h5: loss-landscape's layout (Li et al. 2018): dir/surface.h5
 * (xcoordinates, ycoordinates, <split>_loss, <split>_acc in percent,
 * dir_file), dir/directions.h5 (xdirection/ydirection groups, one dataset
 * per parameter tensor; explained_variance_ratio_ for pca) and, for a 2-D
 * slice with a trajectory, dir/projection.h5 (proj_xcoord, proj_ycoord).
 * PH_ERR_UNSUPPORTED when built without HDF5.
 * ph_slice_write_vtk: dir/surface.vts, a VTK XML StructuredGrid with
 * points (x, y, loss) and point scalars loss, accuracy and finite. */
ph_status ph_slice_write_h5(const char *dir, const ph_objective *o,
                            const ph_slice_config *cfg,
                            const ph_slice_result *r, ph_error *err);
ph_status ph_slice_write_vtk(const char *dir, const ph_slice_result *r,
                             ph_error *err);
/* Remove whatever the two above may have written in dir. */
void ph_slice_formats_remove(const char *dir);

#endif
