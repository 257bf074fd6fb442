/* plot_recipes.h: the figures of `pothole plot` (and of `pothole demo`),
 * drawn from the files the other commands write. Every recipe loads and
 * validates all its inputs first (a missing or malformed file is an error
 * naming the file), then draws and writes one output file atomically; on
 * failure nothing is written. Plotting never recomputes numbers.
 *
 * Inputs (see docs/figures.md):
 *  slice DIR    surface_loss.npy (ny, nx) or (nx), x.npy, y.npy, slice.json,
 *               optional trajectory.csv (step,x,y,loss_at_point,off_plane),
 *               optional slice1d.csv (alpha,loss,quadratic)
 *  spectrum DIR spectrum.json (operator, eigenvalues, residual_bounds),
 *               density.csv (t,density,band_lo,band_hi)
 *  train DIR    log.csv (step,...,train_loss,test_loss,train_acc,test_acc),
 *               run.json (optimiser name)
 *  toy DIR      escape.csv, trajectories/<opt>.npy (seed, step, dim)
 *  amplification.csv (pi,predicted,measured,ci_lo,ci_hi), or a DIR with it
 *  curvature DIR curvature.csv (step,lr,momentum,lmax_h,lmax_pc,lmax_<block>)
 *               of `pothole train --watch-every`, optional run.json
 */
#ifndef PH_PLOTS_PLOT_RECIPES_H
#define PH_PLOTS_PLOT_RECIPES_H

#include <stddef.h>

#include "core/error.h"
#include "plot.h"

/* A CSV table with a header row: numeric cells as doubles (empty, "nan",
 * "NaN" -> NaN), every cell also kept as text (for names). */
typedef struct ph_plot_table {
  size_t nrows, ncols;
  char **names; /* (ncols) */
  double *v;    /* (nrows, ncols) row-major */
  char **text;  /* (nrows, ncols) row-major */
} ph_plot_table;
/* Errors name the file and the line. */
ph_status ph_plot_table_read(const char *path, ph_plot_table *t, ph_error *err);
/* The parsing half of ph_plot_table_read: a table from len bytes of text
 * already read (path names it in messages). On failure t is empty. */
ph_status ph_plot_table_parse(const char *text, size_t len, const char *path,
                              ph_plot_table *t, ph_error *err);
/* Column index by name, -1 when absent. */
int ph_plot_table_col(const ph_plot_table *t, const char *name);
void ph_plot_table_free(ph_plot_table *t);

typedef enum ph_plot_kind {
  PH_PLOT_KIND_SURFACE = 0, /* heatmap with iso-lines and colour bar */
  PH_PLOT_KIND_CONTOUR,     /* filled + line contours, trajectories */
  PH_PLOT_KIND_SURFACE3D,
  PH_PLOT_KIND_SLICE1D,
  PH_PLOT_KIND_SPECTRUM,
  PH_PLOT_KIND_CURVES,
  PH_PLOT_KIND_ESCAPE,
  PH_PLOT_KIND_AMPLIFICATION,
  PH_PLOT_KIND_REGIME,    /* toy regime map: heatmaps + difference map */
  PH_PLOT_KIND_CURVATURE, /* curvature.csv against the edge of stability */
  PH_PLOT_N_KINDS
} ph_plot_kind;

const char *ph_plot_kind_name(ph_plot_kind k);
ph_status ph_plot_kind_from_name(const char *name, ph_plot_kind *k,
                                 ph_error *err);

typedef struct ph_plot_recipe_opts {
  const char *title, *xlabel, *ylabel; /* NULL = the recipe's default */
  double vmin, vmax;                   /* NaN = from the data */
  int levels;                          /* contour levels (default 10) */
  int log;                             /* log colours / log y */
  ph_plot_cmap cmap;
  int labels;                 /* contour labels */
  double width_in, height_in; /* 0 = the recipe's default */
  double dpi;
  const char *family;
  double font_pt;
  double azim, elev;    /* surface3d view */
  const char *traj_dir; /* contour: toy DIR trajectories */
} ph_plot_recipe_opts;
void ph_plot_recipe_opts_default(ph_plot_recipe_opts *o);

/* Draw kind from inputs[0..n_inputs) into out (.png/.pdf/.svg). */
ph_status ph_plot_recipe(ph_plot_kind kind, const char *const *inputs,
                         size_t n_inputs, const ph_plot_recipe_opts *o,
                         const char *out, ph_error *err);

#endif
