/* study_figures.c: the figures of `pothole study`, drawn with
 * libpothole-plot from the files the runs wrote (never recomputed):
 *  bars.{png,pdf}            test accuracy and test loss (bits per character
 *                            for text) per optimiser, one column per task,
 *                            mean with the 95 % t-interval over the seeds;
 *  lr_sensitivity.{png,pdf}  final validation loss of every tuning run
 *                            against its learning rate, the chosen rate
 *                            filled;
 *  curvature.{png,pdf}       λmax(H) over training from curvature.csv
 *                            (`train --watch-every`, seed 1) with the GD
 *                            stability line 2/η; runs without curvature.csv
 *                            show the final λmax(H) against λmax(P½HP½)
 *                            per seed instead, and the title says so. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "optim/watch.h"
#include "plot.h"
#include "plot_recipes.h"
#include "study.h"

static ph_status fig_open(const char *path, int rows, int cols, double h,
                          ph_plot_fig **f, ph_error *err) {
  ph_plot_format fmt;
  PH_TRY(ph_plot_format_from_path(path, &fmt, err));
  ph_plot_fig_opts fo;
  ph_plot_fig_opts_default(&fo);
  fo.width_in = PH_PLOT_TWOCOLUMN_IN;
  fo.height_in = h;
  fo.rows = rows;
  fo.cols = cols;
  fo.panel_labels = rows * cols > 1;
  return ph_plot_fig_create(&fo, fmt, f, err);
}

/* A column as a new array (NULL on OOM). */
static double *column(const ph_plot_table *tb, const char *name) {
  int c = ph_plot_table_col(tb, name);
  double *x = malloc((tb->nrows ? tb->nrows : 1) * sizeof *x);
  if (!x || c < 0) return x;
  for (size_t r = 0; r < tb->nrows; r++) x[r] = tb->v[r * tb->ncols + c];
  return x;
}

/* Short optimiser names for category axes. */
static const char *const *opt_names(const st_cfg *c) {
  static const char *names[ST_MAX_OPTS];
  for (size_t o = 0; o < c->n_opts; o++) names[o] = c->opts[o];
  return names;
}

static ph_status bars(const st_cfg *c, const char *path, ph_error *err) {
  ph_plot_fig *f = NULL;
  PH_TRY(fig_open(path, 2, (int)c->n_tasks, 3.8, &f, err));
  ph_status st = PH_OK;
  for (size_t t = 0; t < c->n_tasks && !st; t++)
    for (int row = 0; row < 2 && !st; row++) {
      int text = study_is_text(&c->tasks[t]);
      int field = row == 0 ? 0 : text ? 2 : 1;
      double v[ST_MAX_OPTS], lo[ST_MAX_OPTS], hi[ST_MAX_OPTS];
      double ylo = INFINITY, yhi = -INFINITY;
      for (size_t o = 0; o < c->n_opts; o++) {
        ph_stats_summary sm[8];
        size_t nf;
        study_summaries(c, t, o, sm, &nf);
        v[o] = sm[field].mean;
        lo[o] = isfinite(sm[field].lo) ? sm[field].lo : v[o];
        hi[o] = isfinite(sm[field].hi) ? sm[field].hi : v[o];
        ph_plot_range_of(&lo[o], 1, 0, &ylo, &yhi);
        ph_plot_range_of(&hi[o], 1, 0, &ylo, &yhi);
      }
      if (!(yhi >= ylo)) ylo = 0, yhi = 1;
      /* A bar's length is its value, so the axis starts at zero (accuracy,
       * loss and bits per character are all non-negative); the intervals
       * show how little the optimisers differ. */
      ylo = 0;
      ph_plot_range_pad(&ylo, &yhi, 0.08, 0);
      ylo = 0;
      if (row == 0 && yhi > 1) yhi = 1;
      ph_plot_axes *a = ph_plot_fig_axes(f, row, (int)t);
      ph_plot_axes_xrange(a, -0.6, (double)c->n_opts - 0.4, 0);
      ph_plot_axes_yrange(a, ylo, yhi, 0);
      ph_plot_axes_xcategories(a, opt_names(c), (int)c->n_opts);
      ph_plot_axes_labels(a, row == 0 ? c->tasks[t].name : NULL, NULL,
                          t          ? NULL
                          : row == 0 ? "test accuracy"
                                     : "test loss (text: bits/char)");
      ph_plot_axes_grid(a, 1);
      ph_plot_axes_legend_pos(a, PH_PLOT_LEGEND_NONE);
      if ((st = ph_plot_axes_layout(a, err))) break;
      ph_plot_style s;
      ph_plot_style_series(&s, 0, NULL);
      ph_plot_bars(a, v, lo, hi, c->n_opts, &s);
      ph_plot_axes_finish(a);
    }
  if (!st) st = ph_plot_fig_save(f, path, err);
  ph_plot_fig_free(f);
  return st;
}

static ph_status lr_panel(const st_cfg *c, const st_sel *sel,
                          const ph_plot_table *tb, size_t t, ph_plot_axes *a,
                          ph_error *err) {
  int ct = ph_plot_table_col(tb, "task"),
      co = ph_plot_table_col(tb, "optimizer");
  int cl = ph_plot_table_col(tb, "lr"), cv = ph_plot_table_col(tb, "val_loss");
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (size_t r = 0; r < tb->nrows; r++) {
    if (strcmp(tb->text[r * tb->ncols + ct], c->tasks[t].name)) continue;
    ph_plot_range_of(&tb->v[r * tb->ncols + cl], 1, 1, &xlo, &xhi);
    ph_plot_range_of(&tb->v[r * tb->ncols + cv], 1, 1, &ylo, &yhi);
  }
  if (!(xhi > 0)) xlo = 1e-3, xhi = 1;
  if (!(yhi > 0)) ylo = 0.1, yhi = 1;
  /* whole decades: a log axis spanning less than two falls back to crowded
   * linear labels */
  xlo = pow(10, floor(log10(xlo) - 0.02));
  xhi = pow(10, ceil(log10(xhi) + 0.02));
  if (xhi / xlo < 99) xlo = xhi / 100;
  ph_plot_range_pad(&ylo, &yhi, 0.08, 1);
  ph_plot_axes_xrange(a, xlo, xhi, 1);
  ph_plot_axes_yrange(a, ylo, yhi, 1);
  ph_plot_axes_labels(a, c->tasks[t].name, "learning rate",
                      t ? NULL : "final validation loss");
  ph_plot_axes_grid(a, 1);
  ph_plot_axes_legend_pos(a, t + 1 == c->n_tasks ? PH_PLOT_LEGEND_BEST
                                                 : PH_PLOT_LEGEND_NONE);
  PH_TRY(ph_plot_axes_layout(a, err));
  for (size_t o = 0; o < c->n_opts; o++) {
    double x[ST_MAX_LRS], y[ST_MAX_LRS], bx = NAN, by = NAN;
    size_t m = 0;
    for (size_t r = 0; r < tb->nrows && m < ST_MAX_LRS; r++) {
      if (strcmp(tb->text[r * tb->ncols + ct], c->tasks[t].name) ||
          strcmp(tb->text[r * tb->ncols + co], c->opts[o]))
        continue;
      x[m] = tb->v[r * tb->ncols + cl];
      y[m] = tb->v[r * tb->ncols + cv];
      if (!isfinite(y[m])) y[m] = NAN; /* diverged: a gap */
      if (fabs(x[m] - sel->lr[t][o]) <= 1e-9 * x[m]) bx = x[m], by = y[m];
      m++;
    }
    ph_plot_style s;
    ph_plot_style_series(&s, (int)o, c->opts[o]);
    s.marker = PH_PLOT_MARK_CIRCLE;
    s.marker_pt = 3.5;
    s.marker_filled = 0;
    ph_plot_line(a, x, y, m, &s);
    ph_plot_markers(a, x, y, NULL, m, &s);
    s.label = NULL;
    s.marker_filled = 1;
    if (isfinite(by)) ph_plot_markers(a, &bx, &by, NULL, 1, &s);
  }
  ph_plot_axes_finish(a);
  return PH_OK;
}

static ph_status lr_sensitivity(const st_cfg *c, const st_sel *sel,
                                const char *path, ph_error *err) {
  char p[1200];
  snprintf(p, sizeof p, "%s/tune.csv", c->dir);
  ph_plot_table tb;
  PH_TRY(ph_plot_table_read(p, &tb, err));
  ph_plot_fig *f = NULL;
  ph_status st = fig_open(path, 1, (int)c->n_tasks, 2.3, &f, err);
  for (size_t t = 0; t < c->n_tasks && !st; t++)
    st = lr_panel(c, sel, &tb, t, ph_plot_fig_axes(f, 0, (int)t), err);
  if (!st) st = ph_plot_fig_save(f, path, err);
  ph_plot_fig_free(f);
  ph_plot_table_free(&tb);
  return st;
}

int study_curv_load(const st_cfg *c, size_t t, size_t o, ph_plot_table *tb) {
  char dir[1024], p[1200];
  study_final_dir(c, t, o, 1, dir, sizeof dir);
  snprintf(p, sizeof p, "%s/curvature.csv", dir);
  ph_error err = {0};
  if (!ph_path_exists(p) || ph_plot_table_read(p, tb, &err)) return -1;
  if (ph_plot_table_col(tb, PH_WATCH_COL_STEP) < 0 ||
      ph_plot_table_col(tb, PH_WATCH_COL_LMAX_H) < 0) {
    ph_plot_table_free(tb);
    return -1;
  }
  return 0;
}

size_t study_curv_count(const st_cfg *c) {
  size_t n = 0;
  for (size_t t = 0; t < c->n_tasks; t++)
    for (size_t o = 0; o < c->n_opts; o++) {
      ph_plot_table tb;
      if (study_curv_load(c, t, o, &tb) == 0) {
        n++;
        ph_plot_table_free(&tb);
      }
    }
  return n;
}

static ph_status curv_panel(const st_cfg *c, const st_sel *sel, size_t t,
                            int watched, ph_plot_axes *a, ph_error *err) {
  ph_plot_table tb[ST_MAX_OPTS];
  int have[ST_MAX_OPTS];
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (size_t o = 0; o < c->n_opts; o++) {
    have[o] = watched && study_curv_load(c, t, o, &tb[o]) == 0;
    if (have[o]) {
      int cs = ph_plot_table_col(&tb[o], PH_WATCH_COL_STEP);
      int cl = ph_plot_table_col(&tb[o], PH_WATCH_COL_LMAX_H);
      for (size_t r = 0; r < tb[o].nrows; r++) {
        ph_plot_range_of(&tb[o].v[r * tb[o].ncols + cs], 1, 0, &xlo, &xhi);
        ph_plot_range_of(&tb[o].v[r * tb[o].ncols + cl], 1, 1, &ylo, &yhi);
      }
      double eos = 2 / sel->lr[t][o];
      ph_plot_range_of(&eos, 1, 1, &ylo, &yhi);
    } else if (!watched) {
      for (size_t s = 1; s <= c->seeds; s++) {
        st_run r;
        study_run_read(c, t, o, s, &r);
        ph_plot_range_of(&r.plmax, 1, 1, &xlo, &xhi);
        ph_plot_range_of(&r.lmax, 1, 1, &ylo, &yhi);
      }
    }
  }
  if (!(xhi > xlo)) ph_plot_range_pad(&xlo, &xhi, 0, !watched);
  if (!(yhi > 0)) ylo = 1e-3, yhi = 1;
  if (!watched && !(xlo > 0)) xlo = 1e-3, xhi = 1;
  ph_plot_range_pad(&ylo, &yhi, 0.08, 1);
  if (!watched) ph_plot_range_pad(&xlo, &xhi, 0.08, 1);
  ph_plot_axes_xrange(a, xlo, xhi, !watched);
  ph_plot_axes_yrange(a, ylo, yhi, 1);
  ph_plot_axes_labels(a, c->tasks[t].name,
                      watched ? "step" : "final λmax(P½HP½)",
                      t         ? NULL
                      : watched ? "λmax(H)"
                                : "final λmax(H)");
  ph_plot_axes_grid(a, 1);
  ph_plot_axes_legend_pos(a, t + 1 == c->n_tasks ? PH_PLOT_LEGEND_BEST
                                                 : PH_PLOT_LEGEND_NONE);
  ph_status st = ph_plot_axes_layout(a, err);
  for (size_t o = 0; o < c->n_opts && !st; o++) {
    ph_plot_style s;
    ph_plot_style_series(&s, (int)o, c->opts[o]);
    if (have[o]) {
      double *x = column(&tb[o], PH_WATCH_COL_STEP);
      double *y = column(&tb[o], PH_WATCH_COL_LMAX_H);
      if (x && y) ph_plot_line(a, x, y, tb[o].nrows, &s);
      free(x);
      free(y);
      /* GD is stable while λmax < 2/η (with momentum the line moves; the
       * dashed line is the plain-GD one for the chosen rate). */
      ph_plot_style e = s;
      e.label = NULL;
      e.dash = 1;
      e.width_pt = 0.7;
      ph_plot_refline(a, 0, 2 / sel->lr[t][o], 1, 2 / sel->lr[t][o], &e);
    } else if (!watched) {
      double x[ST_MAX_SEEDS], y[ST_MAX_SEEDS];
      size_t m = 0;
      for (size_t k = 1; k <= c->seeds; k++) {
        st_run r;
        study_run_read(c, t, o, k, &r);
        x[m] = r.plmax;
        y[m++] = r.lmax;
      }
      s.width_pt = 0;
      s.marker = PH_PLOT_MARK_CIRCLE;
      s.marker_pt = 3.5;
      s.marker_filled = 1;
      ph_plot_markers(a, x, y, NULL, m, &s);
    }
  }
  for (size_t o = 0; o < c->n_opts; o++)
    if (have[o]) ph_plot_table_free(&tb[o]);
  if (!st) ph_plot_axes_finish(a);
  return st;
}

static ph_status curvature(const st_cfg *c, const st_sel *sel, const char *path,
                           ph_error *err) {
  int watched = study_curv_count(c) > 0;
  ph_plot_fig *f = NULL;
  PH_TRY(fig_open(path, 1, (int)c->n_tasks, 2.5, &f, err));
  ph_plot_fig_title(f, watched ? "λmax(H) during training (seed 1); dashed: "
                                 "2/η"
                               : "final curvature per seed (runs without "
                                 "--watch-every)");
  ph_status st = PH_OK;
  for (size_t t = 0; t < c->n_tasks && !st; t++)
    st = curv_panel(c, sel, t, watched, ph_plot_fig_axes(f, 0, (int)t), err);
  if (!st) st = ph_plot_fig_save(f, path, err);
  ph_plot_fig_free(f);
  return st;
}

ph_status study_figures(const st_cfg *c, const st_sel *sel, ph_error *err) {
  char dir[1200], p[1300];
  snprintf(dir, sizeof dir, "%s/figures", c->dir);
  PH_TRY(ph_mkdir_p(dir, err));
  static const char *const ext[] = {"png", "pdf"};
  for (int e = 0; e < 2; e++) {
    snprintf(p, sizeof p, "%s/bars.%s", dir, ext[e]);
    PH_TRY(bars(c, p, err));
    snprintf(p, sizeof p, "%s/lr_sensitivity.%s", dir, ext[e]);
    PH_TRY(lr_sensitivity(c, sel, p, err));
    snprintf(p, sizeof p, "%s/curvature.%s", dir, ext[e]);
    PH_TRY(curvature(c, sel, p, err));
  }
  return PH_OK;
}
