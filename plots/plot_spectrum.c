/* plot_spectrum.c: the spectrum figure (`pothole plot spectrum DIR...`): one
 * row per input, four panels per row: the SLQ density of the bulk and, on
 * its own axis, of the outliers (log density, the same y range, the
 * certified top Ritz values marked), then the Ritz values of the top end and
 * of the bottom end, each against its own index with residual bars. The
 * bulk/outlier split is ph_plot_spectrum_split (docs/spectra.md). Reads
 * spectrum.json and density.csv; recomputes nothing it draws.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/json.h"
#include "plot_int.h"
#include "plot_recipes.h"

int ph_plot_spectrum_split(const double *t, const double *phi, size_t n,
                           double *bulk_hi, double *out_lo) {
  *bulk_hi = *out_lo = NAN;
  if (n < 3) return 0;
  double peak = 0, total = 0;
  size_t mode = 0;
  for (size_t i = 0; i < n; i++)
    if (phi[i] > peak) peak = phi[i], mode = i;
  double *cum = malloc(n * sizeof *cum);
  if (!cum || !(peak > 0)) {
    free(cum);
    return 0;
  }
  cum[0] = 0;
  for (size_t i = 1; i < n; i++)
    cum[i] = cum[i - 1] + 0.5 * (t[i] - t[i - 1]) * (phi[i] + phi[i - 1]);
  total = cum[n - 1];
  /* The first gap right of the mode (a run where the density is below
   * 1e-6 of its peak, invisible on the plot) with ≥ 90 % of the mass to its
   * left and something after it. */
  const double floor = 1e-6 * peak;
  int found = 0;
  for (size_t i = mode + 1; i < n && !found; i++) {
    if (phi[i] >= floor) continue;
    size_t j = i;
    while (j < n && phi[j] < floor) j++;
    if (j < n && cum[i] >= 0.9 * total) {
      *bulk_hi = t[i];
      *out_lo = t[j - 1];
      found = 1;
    }
    i = j;
  }
  if (!found) /* no gap: the tail above the 99 % mass quantile */
    for (size_t i = 1; i < n; i++)
      if (cum[i] >= 0.99 * total) {
        *bulk_hi = *out_lo = t[i];
        break;
      }
  free(cum);
  return found;
}

/* spectrum.json: operator name, eigenvalues, residual_bounds (optional),
 * config.which and config.k (top k first, then bottom k, for "both"). */
typedef struct spec_in {
  char op[64];
  double *eig, *res;
  size_t k;
  size_t n_top, n_bottom; /* how many of eig are each end */
  ph_plot_table dens;
  int has_band;
} spec_in;

static void spec_free(spec_in *s) {
  free(s->eig);
  free(s->res);
  ph_plot_table_free(&s->dens);
}

static ph_status json_array(const cJSON *root, const char *key,
                            const char *file, int optional, double **out,
                            size_t *n, ph_error *err) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);
  *out = NULL;
  if (!a && optional) return PH_OK;
  if (!cJSON_IsArray(a))
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: '%s' must be an array of numbers", file, key);
  size_t m = (size_t)cJSON_GetArraySize(a);
  double *v = malloc((m ? m : 1) * sizeof *v);
  if (!v) return ph_error_set(err, PH_ERR_NOMEM, "%s: out of memory", file);
  size_t i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, a) {
    if (cJSON_IsNumber(e))
      v[i++] = e->valuedouble;
    else if (cJSON_IsNull(e))
      v[i++] = NAN;
    else {
      free(v);
      return ph_error_set(err, PH_ERR_FORMAT, "%s: '%s'[%zu] is not a number",
                          file, key, i);
    }
  }
  *out = v;
  *n = m;
  return PH_OK;
}

/* Which end each eigenvalue belongs to: config.which = top | bottom | both
 * (both: the first half is the top end); without a config, the positive
 * values are "top" and the rest "bottom". */
static void spec_ends(const cJSON *root, spec_in *s) {
  const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
  const cJSON *w = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "which") : NULL;
  const char *which = cJSON_IsString(w) ? w->valuestring : "";
  if (!strcmp(which, "top")) {
    s->n_top = s->k;
  } else if (!strcmp(which, "bottom")) {
    s->n_bottom = s->k;
  } else if (!strcmp(which, "both")) {
    s->n_top = (s->k + 1) / 2;
    s->n_bottom = s->k - s->n_top;
  } else {
    while (s->n_top < s->k && s->eig[s->n_top] > 0) s->n_top++;
    s->n_bottom = s->k - s->n_top;
  }
}

static ph_status spec_load(const char *dir, spec_in *s, ph_error *err) {
  memset(s, 0, sizeof *s);
  char *js = ph_path_join(dir, "spectrum.json", err);
  if (!js) return PH_ERR_NOMEM;
  cJSON *root = NULL;
  ph_status st = ph_json_read_file(js, &root, err);
  if (st == PH_OK) {
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(root, "operator");
    if (cJSON_IsString(op))
      snprintf(s->op, sizeof s->op, "%s", op->valuestring);
    else if (cJSON_IsObject(op) &&
             cJSON_IsString(cJSON_GetObjectItemCaseSensitive(op, "name")))
      snprintf(s->op, sizeof s->op, "%s",
               cJSON_GetObjectItemCaseSensitive(op, "name")->valuestring);
    else
      snprintf(s->op, sizeof s->op, "%.63s", ph_plot__base_name(dir));
    st = json_array(root, "eigenvalues", js, 0, &s->eig, &s->k, err);
    size_t kr = 0;
    if (st == PH_OK)
      st = json_array(root, "residual_bounds", js, 1, &s->res, &kr, err);
    if (st == PH_OK && s->res && kr != s->k)
      st = ph_error_set(err, PH_ERR_FORMAT,
                        "%s: %zu residual_bounds for %zu eigenvalues", js, kr,
                        s->k);
    if (st == PH_OK) spec_ends(root, s);
  }
  cJSON_Delete(root);
  free(js);
  if (st != PH_OK) return st;
  PH_TRY(ph_plot__load_table(dir, "density.csv", &s->dens, 0, NULL, err));
  int idx[3];
  static const char *const c[] = {"t", "density", NULL};
  PH_TRY(ph_plot__need_cols(&s->dens, "density.csv", c, idx, err));
  s->has_band = ph_plot_table_col(&s->dens, "band_lo") >= 0 &&
                ph_plot_table_col(&s->dens, "band_hi") >= 0;
  return PH_OK;
}

/* One density panel over [xlo, xhi] (log y over [ylo, yhi]); marks the
 * top-end Ritz values inside it as dotted verticals. */
static ph_status density_panel(ph_plot_axes *a, const spec_in *s, int series,
                               double xlo, double xhi, double ylo, double yhi,
                               const char *title, const char *ylabel,
                               const ph_plot_recipe_opts *o, ph_error *err) {
  ph_plot_axes_xrange(a, xlo, xhi, 0);
  ph_plot_axes_yrange(a, ylo, yhi, 1);
  ph_plot_axes_labels(a, title, ph_plot__or_default(o->xlabel, "eigenvalue λ"),
                      ylabel);
  ph_plot_axes_legend_pos(a, PH_PLOT_LEGEND_NONE);
  PH_TRY(ph_plot_axes_layout(a, err));
  const ph_plot_table *t = &s->dens;
  double *x = ph_plot__col_copy(t, ph_plot_table_col(t, "t"));
  double *d = ph_plot__col_copy(t, ph_plot_table_col(t, "density"));
  ph_plot_style ls;
  ph_plot_style_series(&ls, series, NULL);
  if (s->has_band) {
    double *lo = ph_plot__col_copy(t, ph_plot_table_col(t, "band_lo"));
    double *hi = ph_plot__col_copy(t, ph_plot_table_col(t, "band_hi"));
    ph_plot_style bs = ls;
    bs.alpha = 0.22;
    if (lo && hi) {
      for (size_t r = 0; r < t->nrows; r++) lo[r] = fmax(lo[r], ylo);
      ph_plot_band(a, x, lo, hi, t->nrows, &bs);
    }
    free(lo);
    free(hi);
  }
  if (x && d) {
    /* below the axis floor the log line would plunge: clamp to the floor */
    for (size_t r = 0; r < t->nrows; r++) d[r] = fmax(d[r], ylo);
    ph_plot_line(a, x, d, t->nrows, &ls);
  }
  free(x);
  free(d);
  ph_plot_style vs;
  ph_plot_style_series(&vs, 7, NULL);
  vs.rgb[0] = vs.rgb[1] = vs.rgb[2] = 0.25;
  vs.width_pt = 0.6;
  vs.dash = 2;
  for (size_t i = 0; i < s->n_top; i++)
    if (s->eig[i] >= xlo && s->eig[i] <= xhi)
      ph_plot_refline(a, s->eig[i], ylo, s->eig[i], yhi, &vs);
  ph_plot_axes_finish(a);
  return PH_OK;
}

/* Ritz values eig[0..k) against their index 1..k, with residual bars. */
static ph_status ritz_panel(ph_plot_axes *a, const double *eig,
                            const double *res, size_t k, int series,
                            const char *title, const char *xlabel,
                            ph_error *err) {
  double elo = INFINITY, ehi = -INFINITY;
  double *xi = malloc((k ? k : 1) * 3 * sizeof *xi);
  if (!xi) return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  double *lo = xi + k, *hi = lo + k;
  for (size_t i = 0; i < k; i++) {
    double r = res && isfinite(res[i]) ? res[i] : 0;
    xi[i] = (double)i + 1;
    lo[i] = eig[i] - r;
    hi[i] = eig[i] + r;
    ph_plot_range_of(&lo[i], 1, 0, &elo, &ehi);
    ph_plot_range_of(&hi[i], 1, 0, &elo, &ehi);
  }
  if (!(ehi >= elo)) elo = -1, ehi = 1;
  ph_plot_range_pad(&elo, &ehi, 0.08, 0);
  ph_plot_axes_xrange(a, 0.4, (double)k + 0.6, 0);
  ph_plot_axes_yrange(a, elo, ehi, 0);
  ph_plot_axes_labels(a, title, xlabel, "Ritz value");
  ph_plot_axes_grid(a, 1);
  ph_plot_axes_legend_pos(a, PH_PLOT_LEGEND_NONE);
  ph_status st = ph_plot_axes_layout(a, err);
  if (!st) {
    ph_plot_style ms;
    ph_plot_style_series(&ms, series, NULL);
    ms.marker = PH_PLOT_MARK_CIRCLE;
    ms.marker_pt = 3.5;
    ms.marker_filled = 1;
    if (res) ph_plot_errorbars(a, xi, lo, hi, k, &ms);
    ph_plot_markers(a, xi, eig, NULL, k, &ms);
    ph_plot_axes_finish(a);
  }
  free(xi);
  return st;
}

static ph_status spectrum_row(ph_plot_fig *f, int row, const spec_in *s,
                              const ph_plot_recipe_opts *o, int ncols,
                              ph_error *err) {
  const ph_plot_table *t = &s->dens;
  double *x = ph_plot__col_copy(t, ph_plot_table_col(t, "t"));
  double *d = ph_plot__col_copy(t, ph_plot_table_col(t, "density"));
  if (!x || !d) {
    free(x);
    free(d);
    return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  }
  double bulk_hi, out_lo, ylo = INFINITY, yhi = -INFINITY;
  int gap = ph_plot_spectrum_split(x, d, t->nrows, &bulk_hi, &out_lo);
  ph_plot_range_of(d, t->nrows, 1, &ylo, &yhi);
  double xlo = x[0], xhi = x[t->nrows - 1];
  free(x);
  free(d);
  if (!(yhi > 0) || !isfinite(bulk_hi))
    return ph_error_set(err, PH_ERR_FORMAT,
                        "density.csv of %s: no positive "
                        "density",
                        s->op);
  if (isfinite(o->vmin)) ylo = o->vmin;
  if (isfinite(o->vmax)) yhi = o->vmax;
  ylo = fmax(ylo, yhi * 1e-6);
  ph_plot_range_pad(&ylo, &yhi, 0.04, 1);
  char title[160];
  snprintf(title, sizeof title, "%s: bulk", s->op);
  PH_TRY(density_panel(
      ph_plot_fig_axes(f, row, 0), s, row, xlo, bulk_hi, ylo, yhi, title,
      ph_plot__or_default(o->ylabel, "spectral density"), o, err));
  snprintf(title, sizeof title, "%s", gap ? "outliers" : "tail (top 1 % mass)");
  PH_TRY(density_panel(ph_plot_fig_axes(f, row, 1), s, row, out_lo, xhi, ylo,
                       yhi, title, NULL, o, err));
  int col = 2;
  if (s->n_top && col < ncols)
    PH_TRY(ritz_panel(ph_plot_fig_axes(f, row, col++), s->eig, s->res, s->n_top,
                      row, "top end", "k (from λ₁ down)", err));
  if (s->n_bottom && col < ncols) {
    /* bottom end from the smallest: λₙ, λₙ₋₁, … */
    size_t nb = s->n_bottom;
    double *e = malloc(2 * nb * sizeof *e);
    if (!e) return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nb; i++) {
      e[i] = s->eig[s->k - 1 - i];
      e[nb + i] = s->res ? s->res[s->k - 1 - i] : 0;
    }
    ph_status st =
        ritz_panel(ph_plot_fig_axes(f, row, col++), e, s->res ? e + nb : NULL,
                   nb, row, "bottom end", "k (from λₙ up)", err);
    free(e);
    PH_TRY(st);
  }
  return PH_OK;
}

ph_status ph_plot__recipe_spectrum(const char *const *in, size_t n,
                                   const ph_plot_recipe_opts *o,
                                   const char *out, ph_error *err) {
  spec_in s[MAX_SERIES];
  size_t loaded = 0;
  ph_plot_fig *f = NULL;
  ph_status st = PH_OK;
  if (n > 3)
    return ph_error_set(err, PH_ERR_ARG, "at most 3 spectra (one per row)");
  for (; loaded < n && st == PH_OK; loaded++)
    st = spec_load(in[loaded], &s[loaded], err);
  if (st != PH_OK) goto done; /* spec_free is safe on a partial load */
  int ncols = 2, any_top = 0, any_bottom = 0;
  for (size_t k = 0; k < n; k++) {
    any_top |= s[k].n_top > 0;
    any_bottom |= s[k].n_bottom > 0;
  }
  ncols += any_top + any_bottom;
  if ((st = ph_plot__fig_open(o, PH_PLOT_TWOCOLUMN_IN, 1.9 * (double)n + 0.3,
                              (int)n, ncols, out, &f, err)) != PH_OK)
    goto done;
  if (o->title) ph_plot_fig_title(f, o->title);
  for (size_t k = 0; k < n && st == PH_OK; k++)
    st = spectrum_row(f, (int)k, &s[k], o, ncols, err);
  if (st == PH_OK) st = ph_plot_fig_save(f, out, err);
done:
  ph_plot_fig_free(f);
  for (size_t k = 0; k < loaded; k++) spec_free(&s[k]);
  return st;
}
