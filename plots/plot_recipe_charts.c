/* plot_recipe_charts.c: recipes for spectra, training curves, escape rates and
 * amplification (see plot_recipes.h); slices are in plot_recipe_slices.c. Each
 * recipe reads and validates every input first, then draws and writes one
 * file atomically. Does not recompute anything it draws.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/json.h"
#include "plot_int.h"
#include "plot_recipes.h"

/* run.json: the optimiser's name, wherever the trainer put it. */
static void run_name(const cJSON *root, const char *dir, char *buf,
                     size_t len) {
  static const char *const keys[] = {"optimizer", "optimiser", "optim", "name",
                                     NULL};
  const cJSON *scopes[2] = {root,
                            cJSON_GetObjectItemCaseSensitive(root, "config")};
  for (int sc = 0; sc < 2; sc++) {
    if (!cJSON_IsObject(scopes[sc])) continue;
    for (int k = 0; keys[k]; k++) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(scopes[sc], keys[k]);
      if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "name");
      if (cJSON_IsString(v) && v->valuestring[0]) {
        snprintf(buf, len, "%s", v->valuestring);
        return;
      }
    }
  }
  snprintf(buf, len, "%.63s", ph_plot__base_name(dir));
}

static ph_status recipe_curves(const char *const *in, size_t n,
                               const ph_plot_recipe_opts *o, const char *out,
                               ph_error *err) {
  ph_plot_table t[MAX_SERIES];
  char names[MAX_SERIES][64];
  size_t loaded = 0;
  ph_plot_fig *f = NULL;
  ph_status st = PH_OK;
  if (n > MAX_SERIES)
    return ph_error_set(err, PH_ERR_ARG, "at most %d inputs", MAX_SERIES);
  memset(t, 0, sizeof t);
  for (; loaded < n && st == PH_OK; loaded++) {
    size_t k = loaded;
    char *js = ph_path_join(in[k], "run.json", err);
    if (!js) {
      st = PH_ERR_NOMEM;
      break;
    }
    cJSON *root = NULL;
    st = ph_json_read_file(js, &root, err);
    if (st == PH_OK) run_name(root, in[k], names[k], sizeof names[k]);
    cJSON_Delete(root);
    free(js);
    if (st == PH_OK)
      st = ph_plot__load_table(in[k], "log.csv", &t[k], 0, NULL, err);
    if (st == PH_OK && ph_plot_table_col(&t[k], "step") < 0)
      st = ph_error_set(err, PH_ERR_FORMAT, "%s/log.csv: no column 'step'",
                        in[k]);
    if (st == PH_OK && ph_plot_table_col(&t[k], "train_loss") < 0)
      st = ph_error_set(err, PH_ERR_FORMAT,
                        "%s/log.csv: no column 'train_loss'", in[k]);
  }
  if (st != PH_OK) goto done;
  int has_acc = 0;
  for (size_t k = 0; k < n; k++)
    has_acc |= ph_plot_table_col(&t[k], "train_acc") >= 0 ||
               ph_plot_table_col(&t[k], "test_acc") >= 0;
  int ncol = has_acc ? 2 : 1;
  if ((st = ph_plot__fig_open(
           o, has_acc ? PH_PLOT_TWOCOLUMN_IN : PH_PLOT_COLUMN_IN, 2.3, 1, ncol,
           out, &f, err)) != PH_OK)
    goto done;
  static const char *const cols[2][2] = {{"train_loss", "test_loss"},
                                         {"train_acc", "test_acc"}};
  for (int p = 0; p < ncol; p++) {
    ph_plot_axes *a = ph_plot_fig_axes(f, 0, p);
    int lg = p == 0 && o->log;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t k = 0; k < n; k++) {
      int cs = ph_plot_table_col(&t[k], "step");
      for (size_t r = 0; r < t[k].nrows; r++) {
        ph_plot_range_of(&t[k].v[r * t[k].ncols + cs], 1, 0, &xlo, &xhi);
        for (int q = 0; q < 2; q++) {
          int c = ph_plot_table_col(&t[k], cols[p][q]);
          if (c >= 0)
            ph_plot_range_of(&t[k].v[r * t[k].ncols + c], 1, lg, &ylo, &yhi);
        }
      }
    }
    if (p == 0 && isfinite(o->vmin)) ylo = o->vmin;
    if (p == 0 && isfinite(o->vmax)) yhi = o->vmax;
    ph_plot_range_pad(&ylo, &yhi, 0.04, lg);
    if (!(xhi > xlo)) ph_plot_range_pad(&xlo, &xhi, 0, 0);
    ph_plot_axes_xrange(a, xlo, xhi, 0);
    ph_plot_axes_yrange(a, ylo, yhi, lg);
    ph_plot_axes_labels(
        a, p == 0 ? o->title : NULL, ph_plot__or_default(o->xlabel, "step"),
        p == 0 ? ph_plot__or_default(o->ylabel, "loss") : "accuracy");
    ph_plot_axes_grid(a, 1);
    if ((st = ph_plot_axes_layout(a, err)) != PH_OK) goto done;
    for (size_t k = 0; k < n; k++) {
      int cs = ph_plot_table_col(&t[k], "step");
      double *x = ph_plot__col_copy(&t[k], cs);
      for (int q = 0; q < 2 && x; q++) {
        int c = ph_plot_table_col(&t[k], cols[p][q]);
        if (c < 0) continue;
        double *y = ph_plot__col_copy(&t[k], c);
        if (!y) continue;
        /* evaluated rows only: compact away NaN rows so sparse test points
         * connect */
        size_t m = 0;
        double *xx = malloc((t[k].nrows ? t[k].nrows : 1) * sizeof *xx);
        if (xx) {
          for (size_t r = 0; r < t[k].nrows; r++)
            if (isfinite(y[r]) && isfinite(x[r])) {
              xx[m] = x[r];
              y[m++] = y[r];
            }
          ph_plot_style ls;
          ph_plot_style_series(&ls, (int)k, q == 0 ? names[k] : NULL);
          ls.width_pt = q == 0 ? 0.9 : 0.9;
          ls.dash = q == 1;
          ph_plot_line(a, xx, y, m, &ls);
        }
        free(xx);
        free(y);
      }
      free(x);
    }
    /* key for the line styles */
    ph_plot_style key;
    ph_plot_style_series(&key, 7, "train");
    key.rgb[0] = key.rgb[1] = key.rgb[2] = 0.35;
    key.width_pt = 0.9;
    ph_plot__legend_add(a, &key, 0);
    key.label = "test";
    key.dash = 1;
    ph_plot__legend_add(a, &key, 0);
    ph_plot_axes_finish(a);
  }
  st = ph_plot_fig_save(f, out, err);
done:
  ph_plot_fig_free(f);
  for (size_t k = 0; k < loaded; k++) ph_plot_table_free(&t[k]);
  return st;
}

/* A file given directly, or `name` inside a directory. */
static char *file_or_dir(const char *in, const char *name, ph_error *err) {
  if (ph_is_dir(in)) return ph_path_join(in, name, err);
  char *p = strdup(in);
  if (!p) ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  return p;
}

static ph_status recipe_escape(const char *in, const ph_plot_recipe_opts *o,
                               const char *out, ph_error *err) {
  char *path = file_or_dir(in, "escape.csv", err);
  if (!path) return PH_ERR_NOMEM;
  ph_plot_table t;
  ph_plot_fig *f = NULL;
  double *v = NULL, *lo = NULL, *hi = NULL;
  ph_status st = ph_plot_table_read(path, &t, err);
  if (st != PH_OK) {
    free(path);
    return st;
  }
  int idx[5];
  static const char *const c[] = {"optimizer", "escape_rate", "ci_lo", "ci_hi",
                                  NULL};
  st = ph_plot__need_cols(&t, path, c, idx, err);
  if (st == PH_OK && (t.nrows == 0 || t.nrows > PH_PLOT_MAX_CATS))
    st = ph_error_set(err, PH_ERR_FORMAT, "%s: %zu rows (need 1..%d)", path,
                      t.nrows, PH_PLOT_MAX_CATS);
  if (st != PH_OK) goto done;
  v = ph_plot__col_copy(&t, idx[1]);
  lo = ph_plot__col_copy(&t, idx[2]);
  hi = ph_plot__col_copy(&t, idx[3]);
  if (!v || !lo || !hi) {
    st = ph_error_set(err, PH_ERR_NOMEM, "out of memory");
    goto done;
  }
  const char *names[PH_PLOT_MAX_CATS];
  double ymax = 0;
  for (size_t r = 0; r < t.nrows; r++) {
    names[r] = t.text[r * t.ncols + idx[0]];
    if (!isfinite(v[r])) {
      st = ph_error_set(err, PH_ERR_FORMAT,
                        "%s:%zu: escape_rate is not a number", path, r + 2);
      goto done;
    }
    ymax = fmax(ymax, fmax(v[r], isfinite(hi[r]) ? hi[r] : 0));
  }
  if ((st = ph_plot__fig_open(o, PH_PLOT_COLUMN_IN, 2.2, 1, 1, out, &f, err)) !=
      PH_OK)
    goto done;
  ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
  ph_plot_axes_xrange(a, -0.6, t.nrows - 0.4, 0);
  ph_plot_axes_yrange(
      a, 0, ymax > 0 ? (ymax > 0.8 && ymax <= 1 ? 1.05 : ymax * 1.12) : 1, 0);
  ph_plot_axes_xcategories(a, names, (int)t.nrows);
  ph_plot_axes_labels(a, o->title, o->xlabel ? o->xlabel : "",
                      ph_plot__or_default(o->ylabel, "escape rate"));
  ph_plot_axes_grid(a, 0);
  if ((st = ph_plot_axes_layout(a, err)) != PH_OK) goto done;
  ph_plot_style bs;
  ph_plot_style_series(&bs, 0, NULL);
  ph_plot_bars(a, v, lo, hi, t.nrows, &bs);
  ph_plot_axes_finish(a);
  st = ph_plot_fig_save(f, out, err);
done:
  free(v);
  free(lo);
  free(hi);
  ph_plot_fig_free(f);
  ph_plot_table_free(&t);
  free(path);
  return st;
}

static ph_status recipe_amplification(const char *in,
                                      const ph_plot_recipe_opts *o,
                                      const char *out, ph_error *err) {
  char *path = file_or_dir(in, "amplification.csv", err);
  if (!path) return PH_ERR_NOMEM;
  ph_plot_table t;
  ph_plot_fig *f = NULL;
  double *pr = NULL, *me = NULL, *lo = NULL, *hi = NULL;
  ph_status st = ph_plot_table_read(path, &t, err);
  if (st != PH_OK) {
    free(path);
    return st;
  }
  int idx[3];
  static const char *const c[] = {"predicted", "measured", NULL};
  st = ph_plot__need_cols(&t, path, c, idx, err);
  if (st == PH_OK && t.nrows == 0)
    st = ph_error_set(err, PH_ERR_FORMAT, "%s: no rows", path);
  if (st != PH_OK) goto done;
  pr = ph_plot__col_copy(&t, idx[0]);
  me = ph_plot__col_copy(&t, idx[1]);
  int clo = ph_plot_table_col(&t, "ci_lo"),
      chi = ph_plot_table_col(&t, "ci_hi");
  if (clo >= 0 && chi >= 0) {
    lo = ph_plot__col_copy(&t, clo);
    hi = ph_plot__col_copy(&t, chi);
  }
  if (!pr || !me) {
    st = ph_error_set(err, PH_ERR_NOMEM, "out of memory");
    goto done;
  }
  double rlo = INFINITY, rhi = -INFINITY;
  ph_plot_range_of(pr, t.nrows, o->log, &rlo, &rhi);
  ph_plot_range_of(me, t.nrows, o->log, &rlo, &rhi);
  if (lo && hi) {
    ph_plot_range_of(lo, t.nrows, o->log, &rlo, &rhi);
    ph_plot_range_of(hi, t.nrows, o->log, &rlo, &rhi);
  }
  if (!(rhi >= rlo)) {
    st = ph_error_set(err, PH_ERR_FORMAT, "%s: no %svalues to draw", path,
                      o->log ? "positive " : "");
    goto done;
  }
  ph_plot_range_pad(&rlo, &rhi, 0.06, o->log);
  if ((st = ph_plot__fig_open(o, PH_PLOT_COLUMN_IN, 2.8, 1, 1, out, &f, err)) !=
      PH_OK)
    goto done;
  ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
  ph_plot_axes_xrange(a, rlo, rhi, o->log);
  ph_plot_axes_yrange(a, rlo, rhi, o->log);
  ph_plot_axes_equal(a, 1);
  ph_plot_axes_grid(a, 1);
  ph_plot_axes_labels(a, o->title,
                      ph_plot__or_default(o->xlabel, "predicted amplification"),
                      ph_plot__or_default(o->ylabel, "measured amplification"));
  ph_plot_axes_legend_pos(a, PH_PLOT_LEGEND_NW);
  if ((st = ph_plot_axes_layout(a, err)) != PH_OK) goto done;
  ph_plot_style ref;
  ph_plot_style_series(&ref, 7, "y = x");
  ref.rgb[0] = ref.rgb[1] = ref.rgb[2] = 0.45;
  ref.width_pt = 0.7;
  ref.dash = 1;
  if (o->log)
    ph_plot_line(a, (double[2]){rlo, rhi}, (double[2]){rlo, rhi}, 2, &ref);
  else
    ph_plot_refline(a, 0, 0, 1, 1, &ref);
  ph_plot_style ms;
  ph_plot_style_series(&ms, 0, "measured (95% CI)");
  ms.marker = PH_PLOT_MARK_CIRCLE;
  ms.marker_pt = 4;
  if (lo && hi) ph_plot_errorbars(a, pr, lo, hi, t.nrows, &ms);
  ph_plot_markers(a, pr, me, NULL, t.nrows, &ms);
  ph_plot_axes_finish(a);
  st = ph_plot_fig_save(f, out, err);
done:
  free(pr);
  free(me);
  free(lo);
  free(hi);
  ph_plot_fig_free(f);
  ph_plot_table_free(&t);
  free(path);
  return st;
}

ph_status ph_plot_recipe(ph_plot_kind kind, const char *const *inputs,
                         size_t n_inputs, const ph_plot_recipe_opts *o,
                         const char *out, ph_error *err) {
  ph_plot_format fmt;
  PH_TRY(ph_plot_format_from_path(out, &fmt, err));
  if (n_inputs == 0)
    return ph_error_set(err, PH_ERR_ARG, "%s: needs an input",
                        ph_plot_kind_name(kind));
  int single = kind == PH_PLOT_KIND_SURFACE || kind == PH_PLOT_KIND_CONTOUR ||
               kind == PH_PLOT_KIND_SURFACE3D || kind == PH_PLOT_KIND_ESCAPE ||
               kind == PH_PLOT_KIND_AMPLIFICATION ||
               kind == PH_PLOT_KIND_REGIME;
  if (single && n_inputs > 1)
    return ph_error_set(err, PH_ERR_ARG, "%s takes one input, got %zu",
                        ph_plot_kind_name(kind), n_inputs);
  for (size_t i = 0; i < n_inputs; i++)
    if (!ph_path_exists(inputs[i]))
      return ph_error_set(err, PH_ERR_IO, "%s: no such file or directory",
                          inputs[i]);
  switch (kind) {
  case PH_PLOT_KIND_SURFACE:
  case PH_PLOT_KIND_CONTOUR:
  case PH_PLOT_KIND_SURFACE3D:
    return ph_plot__recipe_2d(kind, inputs[0], o, out, err);
  case PH_PLOT_KIND_SLICE1D:
    return ph_plot__recipe_slice1d(inputs, n_inputs, o, out, err);
  case PH_PLOT_KIND_SPECTRUM:
    return ph_plot__recipe_spectrum(inputs, n_inputs, o, out, err);
  case PH_PLOT_KIND_CURVES: return recipe_curves(inputs, n_inputs, o, out, err);
  case PH_PLOT_KIND_CURVATURE:
    return ph_plot__recipe_curvature(inputs, n_inputs, o, out, err);
  case PH_PLOT_KIND_ESCAPE: return recipe_escape(inputs[0], o, out, err);
  case PH_PLOT_KIND_AMPLIFICATION:
    return recipe_amplification(inputs[0], o, out, err);
  case PH_PLOT_KIND_REGIME:
    return ph_plot__recipe_regime(inputs[0], o, out, err);
  default: return ph_error_set(err, PH_ERR_ARG, "unknown figure kind");
  }
}
