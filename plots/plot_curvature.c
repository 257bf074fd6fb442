/* plot_curvature.c: `pothole plot curvature`: the curvature watched through
 * training (curvature.csv of `pothole train --watch-every N`) against the
 * edge of stability. Left: λmax(H) of each run (per-layer λmax thin), with
 * 2/η (gradient descent's edge, Cohen et al. 2021) and 2(1 + μ)/η (heavy
 * ball with momentum μ, the step the trainer takes). Right, when a run has
 * a preconditioner: λmax(P½HP½) = π_1, which plays the same role for the
 * preconditioned step ηU g, against the same two lines. The y axis is
 * logarithmic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/json.h"
#include "plot_int.h"

/* y = f(lr, momentum) per row: the stepped edge line of a run */
static void edge_line(ph_plot_axes *a, const ph_plot_table *t, int hb,
                      const ph_plot_style *s) {
  int cs = ph_plot_table_col(t, "step"), cl = ph_plot_table_col(t, "lr"),
      cm = ph_plot_table_col(t, "momentum");
  double *x = malloc((t->nrows ? t->nrows : 1) * sizeof *x);
  double *y = malloc((t->nrows ? t->nrows : 1) * sizeof *y);
  if (x && y) {
    for (size_t r = 0; r < t->nrows; r++) {
      const double *row = t->v + r * t->ncols;
      x[r] = row[cs];
      double lr = row[cl], mu = cm >= 0 ? row[cm] : 0;
      y[r] = lr > 0 ? 2 * (hb ? 1 + mu : 1) / lr : NAN;
    }
    ph_plot_line(a, x, y, t->nrows, s);
  }
  free(x);
  free(y);
}

static void range_cols(const ph_plot_table *t, int c, int lg, double *lo,
                       double *hi) {
  if (c < 0) return;
  for (size_t r = 0; r < t->nrows; r++)
    ph_plot_range_of(&t->v[r * t->ncols + c], 1, lg, lo, hi);
}

ph_status ph_plot__recipe_curvature(const char *const *in, size_t n,
                                    const ph_plot_recipe_opts *o,
                                    const char *out, ph_error *err) {
  ph_plot_table t[MAX_SERIES];
  char names[MAX_SERIES][64];
  size_t loaded = 0;
  ph_plot_fig *f = NULL;
  ph_status st = PH_OK;
  if (n > MAX_SERIES)
    return ph_error_set(err, PH_ERR_ARG, "at most %d inputs", MAX_SERIES);
  memset(t, 0, sizeof t);
  static const char *const need[] = {"step", "lr", "lmax_h", NULL};
  int idx[3];
  for (; loaded < n && st == PH_OK; loaded++) {
    size_t k = loaded;
    snprintf(names[k], sizeof names[k], "%.63s", ph_plot__base_name(in[k]));
    char *js = ph_path_join(in[k], "run.json", err);
    if (!js) {
      st = PH_ERR_NOMEM;
      break;
    }
    cJSON *root = NULL;
    if (ph_path_exists(js) && ph_json_read_file(js, &root, err) == PH_OK) {
      const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "config");
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "optimizer");
      if (cJSON_IsString(v))
        snprintf(names[k], sizeof names[k], "%.63s", v->valuestring);
    }
    cJSON_Delete(root);
    free(js);
    st = ph_plot__load_table(in[k], "curvature.csv", &t[k], 0, NULL, err);
    if (st == PH_OK) st = ph_plot__need_cols(&t[k], in[k], need, idx, err);
  }
  if (st != PH_OK) goto done;
  int has_pc = 0;
  for (size_t k = 0; k < n; k++) {
    int c = ph_plot_table_col(&t[k], "lmax_pc");
    for (size_t r = 0; c >= 0 && r < t[k].nrows; r++)
      has_pc |= isfinite(t[k].v[r * t[k].ncols + c]);
  }
  int npan = has_pc ? 2 : 1;
  if ((st = ph_plot__fig_open(o,
                              has_pc ? PH_PLOT_TWOCOLUMN_IN : PH_PLOT_COLUMN_IN,
                              2.6, 1, npan, out, &f, err)) != PH_OK)
    goto done;
  /* one y range for both panels (log): λmax(H), per layer, λmax(P½HP½)
   * and the edges; the panels then compare directly */
  int lg = 1;
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (size_t k = 0; k < n; k++) {
    range_cols(&t[k], ph_plot_table_col(&t[k], "step"), 0, &xlo, &xhi);
    for (size_t c = 0; c < t[k].ncols; c++)
      if (!strncmp(t[k].names[c], "lmax_", 5))
        range_cols(&t[k], (int)c, lg, &ylo, &yhi);
    int cl = ph_plot_table_col(&t[k], "lr"),
        cm = ph_plot_table_col(&t[k], "momentum");
    for (size_t r = 0; r < t[k].nrows; r++) {
      double lr = t[k].v[r * t[k].ncols + cl];
      double mu = cm >= 0 ? t[k].v[r * t[k].ncols + cm] : 0;
      double e2[2] = {2 / lr, 2 * (1 + mu) / lr};
      if (lr > 0) ph_plot_range_of(e2, 2, lg, &ylo, &yhi);
    }
  }
  if (isfinite(o->vmin)) ylo = o->vmin;
  if (isfinite(o->vmax)) yhi = o->vmax;
  ph_plot_range_pad(&ylo, &yhi, 0.04, lg);
  if (!(xhi > xlo)) ph_plot_range_pad(&xlo, &xhi, 0, 0);
  for (int p = 0; p < npan; p++) {
    ph_plot_axes *a = ph_plot_fig_axes(f, 0, p);
    const char *main = p == 0 ? "lmax_h" : "lmax_pc";
    ph_plot_axes_xrange(a, xlo, xhi, 0);
    ph_plot_axes_yrange(a, ylo, yhi, lg);
    ph_plot_axes_labels(a, p == 0 ? o->title : NULL,
                        ph_plot__or_default(o->xlabel, "step"),
                        p == 0 ? ph_plot__or_default(o->ylabel, "λmax(H)")
                               : "λmax(P½HP½) = π₁");
    ph_plot_axes_grid(a, 1);
    if ((st = ph_plot_axes_layout(a, err)) != PH_OK) goto done;
    for (size_t k = 0; k < n; k++) {
      int cs = ph_plot_table_col(&t[k], "step");
      int cm = ph_plot_table_col(&t[k], main);
      if (cm < 0) continue;
      double *x = ph_plot__col_copy(&t[k], cs);
      double *y = ph_plot__col_copy(&t[k], cm);
      int any = 0;
      for (size_t r = 0; y && r < t[k].nrows; r++) any |= isfinite(y[r]);
      if (x && y && any) {
        ph_plot_style ls;
        ph_plot_style_series(&ls, (int)k, names[k]);
        ls.width_pt = 1.1;
        ph_plot_line(a, x, y, t[k].nrows, &ls);
        if (p == 0)
          for (size_t c = 0; c < t[k].ncols; c++) {
            if (strncmp(t[k].names[c], "lmax_", 5) ||
                !strcmp(t[k].names[c], "lmax_pc") ||
                !strcmp(t[k].names[c], "lmax_h"))
              continue;
            double *yl = ph_plot__col_copy(&t[k], (int)c);
            if (!yl) continue;
            ph_plot_style th;
            ph_plot_style_series(&th, (int)k, NULL);
            th.width_pt = 0.5;
            th.alpha = 0.6;
            ph_plot_line(a, x, yl, t[k].nrows, &th);
            free(yl);
          }
      }
      free(x);
      free(y);
    }
    /* the edges, from the first run (runs of one comparison share η) */
    ph_plot_style e;
    ph_plot_style_series(&e, 0, p == 0 ? "2/η" : NULL);
    e.rgb[0] = e.rgb[1] = e.rgb[2] = 0.3;
    e.width_pt = 0.8;
    e.dash = 1;
    edge_line(a, &t[0], 0, &e);
    e.label = p == 0 ? "2(1+μ)/η" : NULL;
    e.dash = 2;
    edge_line(a, &t[0], 1, &e);
    if (p == 0 && n == 1) {
      ph_plot_style th;
      ph_plot_style_series(&th, 0, "per layer");
      th.width_pt = 0.5;
      th.alpha = 0.6;
      ph_plot__legend_add(a, &th, 0);
    }
    ph_plot_axes_finish(a);
  }
  st = ph_plot_fig_save(f, out, err);
done:
  ph_plot_fig_free(f);
  for (size_t k = 0; k < loaded; k++) ph_plot_table_free(&t[k]);
  return st;
}
