/* study_figures.c: the figures of `pothole study`, drawn with
 * libpothole-plot from the files the runs wrote (never recomputed):
 *  results.{png,pdf}         one column per task: test accuracy (bits per
 *                            character for text) per optimiser, mean with the
 *                            95 % t-interval over the seeds and each seed's
 *                            value, on an axis zoomed to the data; under it,
 *                            the difference from sgd with Welch's 95 %
 *                            interval (the statistic study.md reports);
 *  lr_sensitivity.{png,pdf}  final validation loss of every tuning run
 *                            against its learning rate, the chosen rate
 *                            filled, a failed or diverged run marked × at
 *                            the panel's top;
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
#include "core/stats.h"
#include "optim/watch.h"
#include "plot.h"
#include "plot_recipes.h"
#include "study.h"

/* A two-column figure; `legend`: one legend row for the whole figure. */
static ph_status fig_open(const char *path, int rows, int cols, double h,
                          int legend, ph_plot_fig **f, ph_error *err) {
  ph_plot_format fmt;
  PH_TRY(ph_plot_format_from_path(path, &fmt, err));
  ph_plot_fig_opts fo;
  ph_plot_fig_opts_default(&fo);
  fo.width_in = cols > 1 ? PH_PLOT_TWOCOLUMN_IN : PH_PLOT_COLUMN_IN;
  fo.height_in = h;
  fo.rows = rows;
  fo.cols = cols;
  fo.panel_labels = rows * cols > 1;
  PH_TRY(ph_plot_fig_create(&fo, fmt, f, err));
  ph_plot_fig_legend(*f, legend && cols > 1);
  return PH_OK;
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

/* The figures' headline metric of a task: test accuracy, or bits per
 * character for text (lower is better); its index in study_summaries'
 * order, its value in one run (NaN for a failed run) and its axis name. */
static int metric_field(const st_task *k) {
  return study_is_text(k) ? 2 : 0;
}
static double metric_of(const st_cfg *c, size_t t, size_t o, size_t seed) {
  st_run r;
  study_run_read(c, t, o, seed, &r);
  if (!r.ok) return NAN;
  return study_is_text(&c->tasks[t]) ? r.loss / log(2.0) : r.acc;
}
static const char *metric_name(const st_task *k, int diff) {
  if (study_is_text(k)) return diff ? "Δ bits/char vs sgd" : "test bits/char";
  return diff ? "Δ accuracy vs sgd" : "test accuracy";
}

/* The y label of panel t: every panel whose metric differs from the
 * first panel's names its own. */
static const char *metric_label(const st_cfg *c, size_t t, int diff) {
  int first = study_is_text(&c->tasks[0]);
  if (t && study_is_text(&c->tasks[t]) == first) return NULL;
  return metric_name(&c->tasks[t], diff);
}

static ph_status cat_axes(const st_cfg *c, size_t t, int diff, double ylo,
                          double yhi, const char *const *names, size_t n,
                          ph_plot_axes *a, ph_error *err) {
  ph_plot_range_pad(&ylo, &yhi, 0.12, 0);
  ph_plot_axes_xrange(a, -0.6, (double)n - 0.4, 0);
  ph_plot_axes_yrange(a, ylo, yhi, 0);
  ph_plot_axes_xcategories(a, names, (int)n);
  ph_plot_axes_labels(a, diff ? NULL : c->tasks[t].name, NULL,
                      metric_label(c, t, diff));
  ph_plot_axes_grid(a, 1);
  ph_plot_axes_legend_pos(a, PH_PLOT_LEGEND_NONE);
  return ph_plot_axes_layout(a, err);
}

/* "no run" or "k failed" under a category whose runs failed. */
static void note_failed(ph_plot_axes *a, double x, double ylo, double yhi,
                        size_t nf, size_t n) {
  static const double grey[3] = {0.35, 0.35, 0.35};
  char txt[32];
  if (!nf) return;
  if (nf == n)
    snprintf(txt, sizeof txt, "all failed");
  else
    snprintf(txt, sizeof txt, "%zu failed", nf);
  ph_plot_text(a, x, ylo + 0.06 * (yhi - ylo), txt, 5.5, grey);
}

/* Row 0 of results: each optimiser's mean with its t-interval and, beside
 * it, every seed's value (open circles). */
static ph_status metric_panel(const st_cfg *c, size_t t, ph_plot_axes *a,
                              ph_error *err) {
  int field = metric_field(&c->tasks[t]);
  ph_stats_summary sm[ST_MAX_OPTS][8];
  size_t nf[ST_MAX_OPTS];
  double sy[ST_MAX_OPTS][ST_MAX_SEEDS]; /* each seed's value, read once */
  double ylo = INFINITY, yhi = -INFINITY;
  for (size_t o = 0; o < c->n_opts; o++) {
    study_summaries(c, t, o, sm[o], &nf[o]);
    ph_plot_range_of(&sm[o][field].lo, 1, 0, &ylo, &yhi);
    ph_plot_range_of(&sm[o][field].hi, 1, 0, &ylo, &yhi);
    for (size_t q = 0; q < c->seeds; q++) sy[o][q] = metric_of(c, t, o, q + 1);
    ph_plot_range_of(sy[o], c->seeds, 0, &ylo, &yhi);
  }
  if (!(yhi >= ylo)) ylo = 0, yhi = 1;
  double y0 = ylo, y1 = yhi;
  PH_TRY(cat_axes(c, t, 0, ylo, yhi, opt_names(c), c->n_opts, a, err));
  for (size_t o = 0; o < c->n_opts; o++) {
    ph_plot_style s;
    ph_plot_style_series(&s, (int)o, NULL);
    double x = (double)o - 0.1, m = sm[o][field].mean;
    double lo = sm[o][field].lo, hi = sm[o][field].hi;
    if (isfinite(lo) && isfinite(hi)) ph_plot_errorbars(a, &x, &lo, &hi, 1, &s);
    s.marker = PH_PLOT_MARK_CIRCLE;
    s.marker_pt = 4;
    if (isfinite(m)) ph_plot_markers(a, &x, &m, NULL, 1, &s);
    double sx[ST_MAX_SEEDS];
    for (size_t q = 0; q < c->seeds; q++) sx[q] = (double)o + 0.22;
    s.marker_pt = 2.6;
    s.marker_filled = 0;
    s.width_pt = 0.5;
    ph_plot_markers(a, sx, sy[o], NULL, c->seeds, &s);
    note_failed(a, (double)o, y0, y1, nf[o], c->seeds);
  }
  ph_plot_axes_finish(a);
  return PH_OK;
}

/* Row 1 of results: each optimiser's difference from sgd, Welch's 95 %
 * interval, and the zero line. */
static ph_status diff_panel(const st_cfg *c, size_t t, size_t sgd,
                            ph_plot_axes *a, ph_error *err) {
  int field = metric_field(&c->tasks[t]);
  ph_stats_summary base[8], sm[8];
  size_t nf;
  study_summaries(c, t, sgd, base, &nf);
  const char *names[ST_MAX_OPTS];
  double d[ST_MAX_OPTS], h[ST_MAX_OPTS];
  size_t idx[ST_MAX_OPTS], fails[ST_MAX_OPTS], n = 0;
  double ylo = 0, yhi = 0;
  for (size_t o = 0; o < c->n_opts; o++) {
    if (o == sgd) continue;
    study_summaries(c, t, o, sm, &nf);
    ph_stats_welch(sm[field], base[field], PH_STATS_LEVEL, &d[n], &h[n]);
    double lo = d[n] - h[n], hi = d[n] + h[n];
    ph_plot_range_of(&d[n], 1, 0, &ylo, &yhi);
    ph_plot_range_of(&lo, 1, 0, &ylo, &yhi);
    ph_plot_range_of(&hi, 1, 0, &ylo, &yhi);
    names[n] = c->opts[o];
    fails[n] = nf;
    idx[n++] = o;
  }
  double y0 = ylo, y1 = yhi;
  PH_TRY(cat_axes(c, t, 1, ylo, yhi, names, n, a, err));
  ph_plot_style z;
  ph_plot_style_series(&z, 0, NULL);
  z.rgb[0] = z.rgb[1] = z.rgb[2] = 0.3;
  z.width_pt = 0.6;
  z.dash = 1;
  ph_plot_refline(a, 0, 0, 1, 0, &z);
  for (size_t i = 0; i < n; i++) {
    ph_plot_style s;
    ph_plot_style_series(&s, (int)idx[i], NULL);
    double x = (double)i, lo = d[i] - h[i], hi = d[i] + h[i];
    if (isfinite(lo) && isfinite(hi)) ph_plot_errorbars(a, &x, &lo, &hi, 1, &s);
    s.marker = PH_PLOT_MARK_CIRCLE;
    s.marker_pt = 4;
    if (isfinite(d[i])) ph_plot_markers(a, &x, &d[i], NULL, 1, &s);
    note_failed(a, x, y0, y1, fails[i], c->seeds);
  }
  ph_plot_axes_finish(a);
  return PH_OK;
}

static ph_status results(const st_cfg *c, const char *path, ph_error *err) {
  size_t sgd = c->n_opts;
  for (size_t o = 0; o < c->n_opts; o++)
    if (!strcmp(c->opts[o], "sgd")) sgd = o;
  int rows = sgd < c->n_opts && c->n_opts > 1 ? 2 : 1;
  ph_plot_fig *f = NULL;
  PH_TRY(
      fig_open(path, rows, (int)c->n_tasks, rows == 2 ? 4.0 : 2.3, 0, &f, err));
  ph_status st = PH_OK;
  for (size_t t = 0; t < c->n_tasks && !st; t++) {
    st = metric_panel(c, t, ph_plot_fig_axes(f, 0, (int)t), err);
    if (!st && rows == 2)
      st = diff_panel(c, t, sgd, ph_plot_fig_axes(f, 1, (int)t), err);
  }
  if (!st) st = ph_plot_fig_save(f, path, err);
  ph_plot_fig_free(f);
  return st;
}

/* Panel t on log-log axes: the task's name on top, the y label on the
 * first panel only, the legend the figure's (or the panel's for one
 * task). */
static ph_status loglog_axes(const st_cfg *c, size_t t, double xlo, double xhi,
                             double ylo, double yhi, const char *xlabel,
                             const char *ylabel, ph_plot_axes *a,
                             ph_error *err) {
  ph_plot_axes_xrange(a, xlo, xhi, 1);
  ph_plot_axes_yrange(a, ylo, yhi, 1);
  ph_plot_axes_labels(a, c->tasks[t].name, xlabel, t ? NULL : ylabel);
  ph_plot_axes_grid(a, 1);
  ph_plot_axes_legend_pos(a, c->n_tasks > 1 ? PH_PLOT_LEGEND_NONE
                                            : PH_PLOT_LEGEND_BEST);
  return ph_plot_axes_layout(a, err);
}

/* Markers by optimiser, so that equal values stay told apart in print. */
static ph_plot_marker opt_marker(size_t o) {
  static const ph_plot_marker m[] = {PH_PLOT_MARK_CIRCLE, PH_PLOT_MARK_SQUARE,
                                     PH_PLOT_MARK_TRIANGLE,
                                     PH_PLOT_MARK_DIAMOND, PH_PLOT_MARK_STAR};
  return m[o % (sizeof m / sizeof *m)];
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
  /* the grid's own range with a margin: the ticks follow it (narrow log
   * ranges get 1-2-5 ticks) instead of whole empty decades */
  ph_plot_range_pad(&xlo, &xhi, 0.12, 1);
  ph_plot_range_pad(&ylo, &yhi, 0.1, 1);
  PH_TRY(loglog_axes(c, t, xlo, xhi, ylo, yhi, "learning rate",
                     "final validation loss", a, err));
  for (size_t o = 0; o < c->n_opts; o++) {
    double x[ST_MAX_LRS], y[ST_MAX_LRS], fx[ST_MAX_LRS], fy[ST_MAX_LRS];
    double bx = NAN, by = NAN;
    size_t m = 0, nfail = 0;
    /* optimisers side by side by a few per cent of the rate, so that equal
     * losses (every run that collapsed to ln 10) do not hide each other */
    double dodge = pow(10, 0.012 * ((double)o - 0.5 * (double)(c->n_opts - 1)));
    for (size_t r = 0; r < tb->nrows && m < ST_MAX_LRS; r++) {
      if (strcmp(tb->text[r * tb->ncols + ct], c->tasks[t].name) ||
          strcmp(tb->text[r * tb->ncols + co], c->opts[o]))
        continue;
      double lr = tb->v[r * tb->ncols + cl];
      x[m] = lr * dodge;
      y[m] = tb->v[r * tb->ncols + cv];
      if (!isfinite(y[m])) {
        /* failed or diverged: a gap in the line, × at the top */
        y[m] = NAN;
        fx[nfail] = x[m];
        fy[nfail++] = yhi / pow(yhi / ylo, 0.04);
      }
      if (fabs(lr - sel->lr[t][o]) <= 1e-9 * lr) bx = x[m], by = y[m];
      m++;
    }
    ph_plot_style s;
    ph_plot_style_series(&s, (int)o, c->opts[o]);
    s.marker = opt_marker(o);
    s.marker_pt = 3.8;
    s.marker_filled = 0;
    s.width_pt = 0.9;
    ph_plot_line(a, x, y, m, &s);
    ph_plot_markers(a, x, y, NULL, m, &s);
    s.label = NULL;
    s.marker_filled = 1;
    if (isfinite(by)) ph_plot_markers(a, &bx, &by, NULL, 1, &s);
    if (nfail) {
      ph_plot_style e = s;
      e.marker = PH_PLOT_MARK_CROSS;
      e.marker_pt = 4.5;
      e.width_pt = 1.0;
      e.label = "failed / diverged";
      e.rgb[0] = e.rgb[1] = e.rgb[2] = 0;
      ph_plot_markers(a, fx, fy, NULL, nfail, &e);
      /* the colour says whose: a second, coloured cross on top */
      e = s;
      e.marker = PH_PLOT_MARK_CROSS;
      e.marker_pt = 4.5;
      e.width_pt = 0.9;
      ph_plot_markers(a, fx, fy, NULL, nfail, &e);
    }
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
  ph_status st = fig_open(path, 1, (int)c->n_tasks, 2.5, 1, &f, err);
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

/* The final λmax(H) against λmax(P½HP½) of every seed (runs without a
 * watch). */
static ph_status final_curv_panel(const st_cfg *c, size_t t, ph_plot_axes *a,
                                  ph_error *err) {
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (size_t o = 0; o < c->n_opts; o++)
    for (size_t s = 1; s <= c->seeds; s++) {
      st_run r;
      study_run_read(c, t, o, s, &r);
      ph_plot_range_of(&r.plmax, 1, 1, &xlo, &xhi);
      ph_plot_range_of(&r.lmax, 1, 1, &ylo, &yhi);
    }
  if (!(yhi > 0)) ylo = 1e-3, yhi = 1;
  if (!(xhi > 0)) xlo = 1e-3, xhi = 1;
  ph_plot_range_pad(&ylo, &yhi, 0.08, 1);
  ph_plot_range_pad(&xlo, &xhi, 0.08, 1);
  PH_TRY(loglog_axes(c, t, xlo, xhi, ylo, yhi, "final λmax(P½HP½)",
                     "final λmax(H)", a, err));
  for (size_t o = 0; o < c->n_opts; o++) {
    ph_plot_style s;
    ph_plot_style_series(&s, (int)o, c->opts[o]);
    double x[ST_MAX_SEEDS], y[ST_MAX_SEEDS];
    size_t m = 0;
    for (size_t k = 1; k <= c->seeds; k++) {
      st_run r;
      study_run_read(c, t, o, k, &r);
      x[m] = r.plmax;
      y[m++] = r.lmax;
    }
    s.width_pt = 0;
    s.marker = opt_marker(o);
    s.marker_pt = 3.5;
    ph_plot_markers(a, x, y, NULL, m, &s);
  }
  ph_plot_axes_finish(a);
  return PH_OK;
}

/* Seed 1's pothole events of (t, o): steps and π into x, y (at most max);
 * the count. */
static size_t load_events(const st_cfg *c, size_t t, size_t o, double *x,
                          double *y, size_t max) {
  char dir[1024], p[1200];
  study_final_dir(c, t, o, 1, dir, sizeof dir);
  snprintf(p, sizeof p, "%s/events.csv", dir);
  ph_plot_table tb;
  ph_error err = {0};
  if (!ph_path_exists(p) || ph_plot_table_read(p, &tb, &err)) return 0;
  int cs = ph_plot_table_col(&tb, "step"), cp = ph_plot_table_col(&tb, "pi");
  size_t n = 0;
  for (size_t r = 0; cs >= 0 && cp >= 0 && r < tb.nrows && n < max; r++) {
    x[n] = tb.v[r * tb.ncols + cs];
    y[n++] = tb.v[r * tb.ncols + cp];
  }
  ph_plot_table_free(&tb);
  return n;
}

/* Whether a column of a table has a positive finite value. */
static int col_has(const ph_plot_table *tb, const char *name) {
  int c = ph_plot_table_col(tb, name);
  for (size_t r = 0; c >= 0 && r < tb->nrows; r++)
    if (tb->v[r * tb->ncols + c] > 0 && isfinite(tb->v[r * tb->ncols + c]))
      return 1;
  return 0;
}

/* The stability edges of a watched run, from its first row: 2/η for
 * gradient descent and 2(1 + μ)/η for heavy-ball momentum μ (the step the
 * trainer takes; the event threshold). */
static void edges(const ph_plot_table *tb, double lr, double e[2]) {
  int cl = ph_plot_table_col(tb, "lr"), cm = ph_plot_table_col(tb, "momentum");
  double mu = 0;
  if (tb->nrows && cl >= 0 && tb->v[cl] > 0) lr = tb->v[cl];
  if (tb->nrows && cm >= 0 && isfinite(tb->v[cm])) mu = tb->v[cm];
  e[0] = 2 / lr;
  e[1] = ph_watch_event_threshold(lr, mu);
}

/* Row 0: λmax(H) over training; row 1: λmax(P½HP½) of the runs with a
 * preconditioner, with their pothole events. Seed 1 of each optimiser,
 * the stability edges in its colour. */
static ph_status watched_panel(const st_cfg *c, const st_sel *sel, size_t t,
                               int row, int last_row, ph_plot_axes *a,
                               ph_error *err) {
  const char *col = row ? PH_WATCH_COL_LMAX_PC : PH_WATCH_COL_LMAX_H;
  ph_plot_table tb[ST_MAX_OPTS];
  int have[ST_MAX_OPTS];
  enum { MAXEV = 256 };
  double ex[ST_MAX_OPTS][MAXEV], ey[ST_MAX_OPTS][MAXEV];
  size_t nev[ST_MAX_OPTS];
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (size_t o = 0; o < c->n_opts; o++) {
    nev[o] = 0;
    have[o] = study_curv_load(c, t, o, &tb[o]) == 0;
    if (have[o] && !col_has(&tb[o], col)) {
      ph_plot_table_free(&tb[o]);
      have[o] = 0;
    }
    if (!have[o]) continue;
    int cs = ph_plot_table_col(&tb[o], PH_WATCH_COL_STEP);
    int cl = ph_plot_table_col(&tb[o], col);
    for (size_t r = 0; r < tb[o].nrows; r++) {
      ph_plot_range_of(&tb[o].v[r * tb[o].ncols + cs], 1, 0, &xlo, &xhi);
      ph_plot_range_of(&tb[o].v[r * tb[o].ncols + cl], 1, 1, &ylo, &yhi);
    }
    double e[2];
    edges(&tb[o], sel->lr[t][o], e);
    ph_plot_range_of(e, 2, 1, &ylo, &yhi);
    if (row) {
      nev[o] = load_events(c, t, o, ex[o], ey[o], MAXEV);
      ph_plot_range_of(ey[o], nev[o], 1, &ylo, &yhi);
    }
  }
  /* 2 % each side, so that an event marker at step 0 or at the last
   * step is drawn whole instead of clipped by the frame */
  ph_plot_range_pad(&xlo, &xhi, 0.02, 0);
  if (!(yhi > 0)) ylo = 1e-3, yhi = 1;
  ph_plot_range_pad(&ylo, &yhi, 0.08, 1);
  ph_plot_axes_xrange(a, xlo, xhi, 0);
  ph_plot_axes_yrange(a, ylo, yhi, 1);
  ph_plot_axes_labels(a, row ? NULL : c->tasks[t].name,
                      last_row ? "step" : NULL,
                      t     ? NULL
                      : row ? "λmax(P½HP½)"
                            : "λmax(H)");
  ph_plot_axes_grid(a, 1);
  /* one legend: the figure's, or the top panel's of a single task */
  ph_plot_axes_legend_pos(a, c->n_tasks > 1 || row ? PH_PLOT_LEGEND_NONE
                                                   : PH_PLOT_LEGEND_BEST);
  ph_status st = ph_plot_axes_layout(a, err);
  for (size_t o = 0; o < c->n_opts && !st; o++) {
    ph_plot_style s;
    ph_plot_style_series(&s, (int)o, c->opts[o]);
    if (!have[o]) {
      /* the figure legend keys every optimiser, in the same order */
      if (c->n_tasks > 1) ph_plot_legend_entry(a, &s);
      continue;
    }
    double *x = column(&tb[o], PH_WATCH_COL_STEP);
    double *y = column(&tb[o], col);
    s.marker = opt_marker(o);
    s.marker_pt = 2.8;
    if (x && y) {
      ph_plot_line(a, x, y, tb[o].nrows, &s);
      ph_plot_markers(a, x, y, NULL, tb[o].nrows, &s);
    }
    free(x);
    free(y);
    double e[2];
    edges(&tb[o], sel->lr[t][o], e);
    for (int k = 0; k < 2; k++) {
      ph_plot_style l = s;
      l.label = NULL;
      l.marker = PH_PLOT_MARK_NONE;
      l.dash = k ? 2 : 1;
      l.width_pt = 0.7;
      ph_plot_refline(a, 0, e[k], 1, e[k], &l);
    }
    if (nev[o]) {
      ph_plot_style v = s;
      v.label = "pothole event";
      v.marker = PH_PLOT_MARK_CROSS;
      v.marker_pt = 4.5;
      v.width_pt = 1.0;
      v.rgb[0] = v.rgb[1] = v.rgb[2] = 0;
      ph_plot_markers(a, ex[o], ey[o], NULL, nev[o], &v);
    }
  }
  if (!st) {
    ph_plot_style k;
    ph_plot_style_series(&k, 0, "2/η");
    k.rgb[0] = k.rgb[1] = k.rgb[2] = 0.45;
    k.width_pt = 0.7;
    k.dash = 1;
    ph_plot_legend_entry(a, &k);
    k.dash = 2;
    k.label = "2(1+μ)/η";
    ph_plot_legend_entry(a, &k);
    ph_plot_axes_finish(a);
  }
  for (size_t o = 0; o < c->n_opts; o++)
    if (have[o]) ph_plot_table_free(&tb[o]);
  return st;
}

/* Whether any watched run of the study measured λmax(P½HP½). */
static int any_precond(const st_cfg *c) {
  for (size_t t = 0; t < c->n_tasks; t++)
    for (size_t o = 0; o < c->n_opts; o++) {
      ph_plot_table tb;
      if (study_curv_load(c, t, o, &tb)) continue;
      int has = col_has(&tb, PH_WATCH_COL_LMAX_PC);
      ph_plot_table_free(&tb);
      if (has) return 1;
    }
  return 0;
}

static ph_status curvature(const st_cfg *c, const st_sel *sel, const char *path,
                           ph_error *err) {
  int watched = study_curv_count(c) > 0;
  int rows = watched && any_precond(c) ? 2 : 1;
  ph_plot_fig *f = NULL;
  PH_TRY(
      fig_open(path, rows, (int)c->n_tasks, rows == 2 ? 4.6 : 2.7, 1, &f, err));
  ph_plot_fig_title(f, watched ? "curvature during training (seed 1)"
                               : "final curvature per seed (no watch)");
  ph_status st = PH_OK;
  for (size_t t = 0; t < c->n_tasks && !st; t++)
    for (int r = 0; r < rows && !st; r++)
      st = watched
               ? watched_panel(c, sel, t, r, r == rows - 1,
                               ph_plot_fig_axes(f, r, (int)t), err)
               : final_curv_panel(c, t, ph_plot_fig_axes(f, 0, (int)t), err);
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
    snprintf(p, sizeof p, "%s/results.%s", dir, ext[e]);
    PH_TRY(results(c, p, err));
    snprintf(p, sizeof p, "%s/lr_sensitivity.%s", dir, ext[e]);
    PH_TRY(lr_sensitivity(c, sel, p, err));
    snprintf(p, sizeof p, "%s/curvature.%s", dir, ext[e]);
    PH_TRY(curvature(c, sel, p, err));
  }
  return PH_OK;
}
