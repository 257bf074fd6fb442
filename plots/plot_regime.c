/* plot_regime.c: the `regime` figure of a toy regime map (pothole toy --map,
 * DIR/map.csv): one heatmap of the escape rate per optimiser, then the
 * difference map llqr-sam minus the best control in each cell (coolwarm,
 * −1..1) with a dot on every cell whose Wilson intervals do not overlap,
 * and on every panel the contour η/η* = 1 (LLQR's own threshold) when the
 * map varies it. Plotting never recomputes numbers: rates and intervals are
 * the columns of map.csv.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_int.h"

#define MAX_OPT 8

/* The controls against which llqr-sam is compared, in this order. */
static int is_control(const char *name) {
  static const char *const c[] = {
      "llqr", "sam-matched", "llqr-sam-euclid", "llqr-sam-ponly", "sam", "sgd"};
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
    if (!strcmp(name, c[i])) return 1;
  return 0;
}

/* Axis names of map.csv as a figure labels them. */
static const char *axis_label(const char *name) {
  static const char *const m[][2] = {
      {"eta", "η"},           {"eta_rel", "η / η*"},
      {"rho", "ρ"},           {"rho_rel", "ρ / pit width"},
      {"depth", "pit depth"}, {"pi", "π"},
      {"beta", "EMA β"},      {"K", "refresh period K"}};
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
    if (!strcmp(name, m[i][0])) return m[i][1];
  return name;
}

ph_status ph_plot__recipe_regime(const char *in, const ph_plot_recipe_opts *o,
                                 const char *out, ph_error *err) {
  ph_plot_table t;
  ph_plot_fig *f = NULL;
  ph_status st = ph_plot__load_table(in, "map.csv", &t, 0, NULL, err);
  if (st != PH_OK) return st;
  double *buf = NULL;
  static const char *const need[] = {"i",     "j",     "optimiser",   "lr_rel",
                                     "ci_lo", "ci_hi", "escape_rate", NULL};
  int c[8];
  st = ph_plot__need_cols(&t, "map.csv", need, c, err);
  if (st == PH_OK && t.ncols < 5)
    st = ph_error_set(err, PH_ERR_FORMAT, "%s/map.csv: no axis columns", in);
  if (st != PH_OK) goto done;
  /* optimisers in order of appearance; grid size from i, j */
  const char *names[MAX_OPT];
  size_t n_opt = 0, nx = 0, ny = 0;
  for (size_t r = 0; r < t.nrows; r++) {
    const char *nm = t.text[r * t.ncols + c[2]];
    size_t k = 0;
    while (k < n_opt && strcmp(names[k], nm)) k++;
    if (k == n_opt) {
      if (n_opt == MAX_OPT) {
        st = ph_error_set(err, PH_ERR_FORMAT,
                          "%s/map.csv: more than %d optimisers", in, MAX_OPT);
        goto done;
      }
      names[n_opt++] = nm;
    }
    double i = t.v[r * t.ncols + c[0]], j = t.v[r * t.ncols + c[1]];
    if (!(i >= 0 && j >= 0 && i < 4096 && j < 4096)) {
      st = ph_error_set(err, PH_ERR_FORMAT, "%s/map.csv:%zu: bad cell index",
                        in, r + 2);
      goto done;
    }
    if ((size_t)i + 1 > nx) nx = (size_t)i + 1;
    if ((size_t)j + 1 > ny) ny = (size_t)j + 1;
  }
  if (n_opt == 0 || nx < 2 || ny < 2 || t.nrows != nx * ny * n_opt) {
    st = ph_error_set(err, PH_ERR_FORMAT,
                      "%s/map.csv: %zu rows for a %zux%zu map of %zu "
                      "optimisers (need at least 2x2, every cell)",
                      in, t.nrows, nx, ny, n_opt);
    goto done;
  }
  size_t cells = nx * ny;
  buf = calloc((3 * n_opt + 6) * cells + nx + ny, sizeof(double));
  if (!buf) {
    st = ph_error_set(err, PH_ERR_NOMEM, "out of memory");
    goto done;
  }
  double *rate = buf, *lo = rate + n_opt * cells, *hi = lo + n_opt * cells;
  double *diff = hi + n_opt * cells, *rel = diff + cells;
  double *mx = rel + cells, *my = mx + cells, *best_hi = my + cells,
         *best_lo = best_hi + cells;
  double *x = best_lo + cells, *y = x + nx;
  for (size_t r = 0; r < t.nrows; r++) {
    const double *row = t.v + r * t.ncols;
    size_t i = (size_t)row[c[0]], j = (size_t)row[c[1]], q = j * nx + i, k = 0;
    while (strcmp(names[k], t.text[r * t.ncols + c[2]])) k++;
    rate[k * cells + q] = row[c[6]];
    lo[k * cells + q] = row[c[4]];
    hi[k * cells + q] = row[c[5]];
    rel[q] = row[c[3]];
    x[i] = row[3]; /* the two axis columns follow cell, i, j */
    y[j] = row[4];
  }
  int target = -1;
  for (size_t k = 0; k < n_opt; k++)
    if (!strcmp(names[k], "llqr-sam")) target = (int)k;
  int has_diff = 0;
  if (target >= 0) {
    for (size_t q = 0; q < cells; q++) {
      double b = -1, bl = 0, bh = 0;
      for (size_t k = 0; k < n_opt; k++)
        if ((int)k != target && is_control(names[k]) && rate[k * cells + q] > b)
          b = rate[k * cells + q], bl = lo[k * cells + q],
          bh = hi[k * cells + q];
      if (b < 0) continue;
      has_diff = 1;
      diff[q] = rate[target * cells + q] - b;
      best_lo[q] = bl;
      best_hi[q] = bh;
    }
  }
  /* the threshold contour when η/η* varies over the map */
  double rmin = INFINITY, rmax = -INFINITY;
  for (size_t q = 0; q < cells; q++)
    rmin = fmin(rmin, rel[q]), rmax = fmax(rmax, rel[q]);
  int contour = rmin < 1 && rmax > 1;
  size_t panels = n_opt + (has_diff ? 1 : 0);
  int cols = panels < 4 ? (int)panels : 4;
  int rows = (int)((panels + (size_t)cols - 1) / (size_t)cols);
  st = ph_plot__fig_open(o, PH_PLOT_TWOCOLUMN_IN, 1.75 * rows, rows, cols, out,
                         &f, err);
  if (st != PH_OK) goto done;
  const char *xl = ph_plot__or_default(o->xlabel, axis_label(t.names[3]));
  const char *yl = ph_plot__or_default(o->ylabel, axis_label(t.names[4]));
  double dx = (x[nx - 1] - x[0]) / (double)(nx - 1),
         dy = (y[ny - 1] - y[0]) / (double)(ny - 1);
  double one = 1, black[3] = {0, 0, 0}, white[3] = {1, 1, 1};
  for (size_t p = 0; p < panels; p++) {
    ph_plot_axes *a =
        ph_plot_fig_axes(f, (int)(p / (size_t)cols), (int)(p % (size_t)cols));
    int dpanel = p == n_opt;
    char title[96];
    snprintf(title, sizeof title, "%s", dpanel ? "difference" : names[p]);
    ph_plot_axes_xrange(a, x[0] - dx / 2, x[nx - 1] + dx / 2, 0);
    ph_plot_axes_yrange(a, y[0] - dy / 2, y[ny - 1] + dy / 2, 0);
    ph_plot_axes_labels(a, title, xl, p % (size_t)cols == 0 ? yl : "");
    ph_plot_norm nm = {dpanel ? -1 : 0, 1, 0};
    ph_plot_cmap cm = dpanel ? PH_PLOT_COOLWARM : o->cmap;
    if (p % (size_t)cols == (size_t)cols - 1 || p == panels - 1)
      ph_plot_axes_colorbar(a, cm, &nm,
                            dpanel ? "llqr-sam − best control" : "escape rate");
    if ((st = ph_plot_axes_layout(a, err)) != PH_OK) goto done;
    const double *z = dpanel ? diff : rate + p * cells;
    st = ph_plot_heatmap(a, z, nx, ny, x, y, cm, &nm, err);
    if (st == PH_OK && contour)
      st = ph_plot_contour(a, rel, nx, ny, x, y, &one, 1, cm, &nm,
                           dpanel ? black : white, 1.0, 0, err);
    if (st != PH_OK) goto done;
    if (dpanel) {
      /* cells whose intervals do not overlap */
      size_t m = 0;
      for (size_t q = 0; q < cells; q++) {
        double tl = lo[target * cells + q], th = hi[target * cells + q];
        if (tl > best_hi[q] || th < best_lo[q])
          mx[m] = x[q % nx], my[m] = y[q / nx], m++;
      }
      ph_plot_style s;
      ph_plot_style_series(&s, 0, NULL);
      s.width_pt = 0;
      s.marker = PH_PLOT_MARK_CIRCLE;
      s.marker_pt = 2.2;
      s.marker_filled = 1;
      s.rgb[0] = s.rgb[1] = s.rgb[2] = 0;
      if (m) ph_plot_markers(a, mx, my, NULL, m, &s);
    }
    ph_plot_axes_finish(a);
  }
  st = ph_plot_fig_save(f, out, err);
done:
  free(buf);
  ph_plot_fig_free(f);
  ph_plot_table_free(&t);
  return st;
}
