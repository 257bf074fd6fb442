/* plot_recipes.c: the figures of `pothole plot`, from the files the slice,
 * spectrum, train, toy and sharpness commands write (formats in
 * plot_recipes.h and docs/figures.md). Each recipe reads and validates every
 * input first, then draws one figure and writes it atomically, so a bad
 * input leaves no output. Does not recompute anything it draws.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/json.h"
#include "core/npy.h"
#include "plot_int.h"
#include "plot_recipes.h"

#define MAX_SERIES 8

static const char *const k_kind_names[PH_PLOT_N_KINDS] = {
    [PH_PLOT_KIND_SURFACE] = "surface",
    [PH_PLOT_KIND_CONTOUR] = "contour",
    [PH_PLOT_KIND_SURFACE3D] = "surface3d",
    [PH_PLOT_KIND_SLICE1D] = "slice1d",
    [PH_PLOT_KIND_SPECTRUM] = "spectrum",
    [PH_PLOT_KIND_CURVES] = "curves",
    [PH_PLOT_KIND_ESCAPE] = "escape",
    [PH_PLOT_KIND_AMPLIFICATION] = "amplification",
};

const char *ph_plot_kind_name(ph_plot_kind k) { return k_kind_names[k]; }

ph_status ph_plot_kind_from_name(const char *name, ph_plot_kind *k,
                                 ph_error *err) {
  for (int i = 0; i < PH_PLOT_N_KINDS; i++)
    if (!strcmp(name, k_kind_names[i])) return *k = (ph_plot_kind)i, PH_OK;
  return ph_error_set(err, PH_ERR_ARG,
                      "unknown figure kind '%s' (surface, contour, surface3d, "
                      "slice1d, spectrum, curves, escape, amplification)",
                      name);
}

void ph_plot_recipe_opts_default(ph_plot_recipe_opts *o) {
  memset(o, 0, sizeof *o);
  o->vmin = o->vmax = NAN;
  o->levels = 10;
  o->cmap = PH_PLOT_VIRIDIS;
  o->dpi = 300;
  o->family = "DejaVu Sans";
  o->font_pt = 8;
  o->azim = -60;
  o->elev = 30;
}

static const char *or_default(const char *s, const char *d) {
  return s ? s : d;
}

/* ---- loading ----------------------------------------------------------- */

static ph_status load_npy(const char *dir, const char *name, ph_npy *a,
                          ph_error *err) {
  char *p = ph_path_join(dir, name, err);
  if (!p) return PH_ERR_NOMEM;
  ph_status s = ph_npy_read(p, a, err);
  free(p);
  return s;
}

static ph_status load_table(const char *dir, const char *name,
                            ph_plot_table *t, int optional, int *present,
                            ph_error *err) {
  char *p = ph_path_join(dir, name, err);
  if (!p) return PH_ERR_NOMEM;
  if (present) *present = 0;
  if (optional && !ph_path_exists(p)) {
    free(p);
    return PH_OK;
  }
  ph_status s = ph_plot_table_read(p, t, err);
  free(p);
  if (s == PH_OK && present) *present = 1;
  return s;
}

static ph_status need_cols(const ph_plot_table *t, const char *file,
                           const char *const *cols, int *idx, ph_error *err) {
  for (int i = 0; cols[i]; i++) {
    idx[i] = ph_plot_table_col(t, cols[i]);
    if (idx[i] < 0)
      return ph_error_set(err, PH_ERR_FORMAT, "%s: no column '%s'", file,
                          cols[i]);
  }
  return PH_OK;
}

/* Column c of t as a fresh array. */
static double *col_copy(const ph_plot_table *t, int c) {
  double *v = malloc((t->nrows ? t->nrows : 1) * sizeof *v);
  if (v)
    for (size_t r = 0; r < t->nrows; r++) v[r] = t->v[r * t->ncols + c];
  return v;
}

static const char *base_name(const char *path) {
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') n--;
  static char buf[128];
  size_t s = n;
  while (s > 0 && path[s - 1] != '/') s--;
  snprintf(buf, sizeof buf, "%.*s", (int)(n - s), path + s);
  return buf;
}

typedef struct slice_in {
  ph_npy z, x, y;
  size_t nx, ny;
  int has_traj;
  ph_plot_table traj;
  int has_1d;
  ph_plot_table s1d;
} slice_in;

static void slice_free(slice_in *s) {
  ph_npy_free(&s->z);
  ph_npy_free(&s->x);
  ph_npy_free(&s->y);
  ph_plot_table_free(&s->traj);
  ph_plot_table_free(&s->s1d);
}

static ph_status slice_load(const char *dir, int two_d, slice_in *s,
                            ph_error *err) {
  memset(s, 0, sizeof *s);
  if (!ph_is_dir(dir))
    return ph_error_set(err, PH_ERR_IO, "%s: not a slice directory", dir);
  char *js = ph_path_join(dir, "slice.json", err);
  if (!js) return PH_ERR_NOMEM;
  if (ph_path_exists(js)) {
    cJSON *root = NULL;
    ph_status st = ph_json_read_file(js, &root, err);
    cJSON_Delete(root);
    if (st != PH_OK) {
      free(js);
      return st;
    }
  } else if (two_d) {
    ph_status st = ph_error_set(err, PH_ERR_IO, "%s: missing", js);
    free(js);
    return st;
  }
  free(js);
  char *s1 = ph_path_join(dir, "slice1d.csv", err);
  if (!s1) return PH_ERR_NOMEM;
  int want_arrays = two_d || !ph_path_exists(s1);
  free(s1);
  if (!two_d) {
    PH_TRY(load_table(dir, "slice1d.csv", &s->s1d, 1, &s->has_1d, err));
    if (s->has_1d) {
      int idx[3];
      static const char *const c[] = {"alpha", "loss", NULL};
      PH_TRY(need_cols(&s->s1d, "slice1d.csv", c, idx, err));
    }
  }
  if (want_arrays) {
    PH_TRY(load_npy(dir, "surface_loss.npy", &s->z, err));
    PH_TRY(load_npy(dir, "x.npy", &s->x, err));
    if (s->x.ndim != 1)
      return ph_error_set(err, PH_ERR_FORMAT, "%s/x.npy: expected a vector", dir);
    s->nx = s->x.size;
    if (two_d) {
      PH_TRY(load_npy(dir, "y.npy", &s->y, err));
      if (s->y.ndim != 1)
        return ph_error_set(err, PH_ERR_FORMAT, "%s/y.npy: expected a vector", dir);
      s->ny = s->y.size;
      if (s->z.ndim != 2 || s->z.shape[0] != s->ny || s->z.shape[1] != s->nx)
        return ph_error_set(err, PH_ERR_FORMAT,
                            "%s/surface_loss.npy: shape must be [ny=%zu, nx=%zu] "
                            "(from y.npy, x.npy)",
                            dir, s->ny, s->nx);
      if (s->nx < 2 || s->ny < 2)
        return ph_error_set(err, PH_ERR_FORMAT,
                            "%s/surface_loss.npy: need at least 2x2 points", dir);
    } else {
      if (s->z.ndim != 1 || s->z.shape[0] != s->nx)
        return ph_error_set(err, PH_ERR_FORMAT,
                            "%s/surface_loss.npy: shape must be [nx=%zu] for a "
                            "1-D slice",
                            dir, s->nx);
    }
    for (size_t i = 0; i + 1 < s->nx; i++)
      if (!(s->x.data[i + 1] > s->x.data[i]))
        return ph_error_set(err, PH_ERR_FORMAT, "%s/x.npy: not increasing at %zu",
                            dir, i);
    for (size_t j = 0; j + 1 < s->ny; j++)
      if (!(s->y.data[j + 1] > s->y.data[j]))
        return ph_error_set(err, PH_ERR_FORMAT, "%s/y.npy: not increasing at %zu",
                            dir, j);
    int any = 0;
    for (size_t k = 0; k < s->z.size; k++) any |= isfinite(s->z.data[k]);
    if (!any)
      return ph_error_set(err, PH_ERR_FORMAT,
                          "%s/surface_loss.npy: no finite values", dir);
  }
  if (two_d) {
    PH_TRY(load_table(dir, "trajectory.csv", &s->traj, 1, &s->has_traj, err));
    if (s->has_traj) {
      int idx[3];
      static const char *const c[] = {"x", "y", NULL};
      PH_TRY(need_cols(&s->traj, "trajectory.csv", c, idx, err));
    }
  }
  return PH_OK;
}

typedef struct toy_traj {
  int n;
  char name[MAX_SERIES][64];
  ph_npy t[MAX_SERIES]; /* (seed, step, dim) */
} toy_traj;

static void toy_free(toy_traj *t) {
  for (int i = 0; i < t->n; i++) ph_npy_free(&t->t[i]);
}

static ph_status toy_load(const char *dir, toy_traj *out, ph_error *err) {
  memset(out, 0, sizeof *out);
  ph_plot_table esc;
  PH_TRY(load_table(dir, "escape.csv", &esc, 0, NULL, err));
  int c = ph_plot_table_col(&esc, "optimizer");
  if (c < 0) {
    ph_plot_table_free(&esc);
    return ph_error_set(err, PH_ERR_FORMAT, "%s/escape.csv: no column 'optimizer'",
                        dir);
  }
  ph_status st = PH_OK;
  char *tdir = ph_path_join(dir, "trajectories", err);
  if (!tdir) st = PH_ERR_NOMEM;
  for (size_t r = 0; st == PH_OK && r < esc.nrows && out->n < MAX_SERIES; r++) {
    const char *name = esc.text[r * esc.ncols + c];
    char file[96];
    snprintf(file, sizeof file, "%.60s.npy", name);
    ph_npy *a = &out->t[out->n];
    st = load_npy(tdir, file, a, err);
    if (st != PH_OK) break;
    snprintf(out->name[out->n], sizeof out->name[0], "%s", name);
    out->n++;
    if (a->ndim != 3 || a->shape[2] < 2 || a->shape[1] < 1)
      st = ph_error_set(err, PH_ERR_FORMAT,
                        "%s/%s: expected [seed, step, dim>=2]", tdir, file);
  }
  free(tdir);
  ph_plot_table_free(&esc);
  if (st != PH_OK) toy_free(out);
  return st;
}

/* ---- figure helpers ---------------------------------------------------- */

static ph_status fig_open(const ph_plot_recipe_opts *o, double w, double h,
                          int rows, int cols, const char *out,
                          ph_plot_fig **f, ph_error *err) {
  ph_plot_format fmt;
  PH_TRY(ph_plot_format_from_path(out, &fmt, err));
  ph_plot_fig_opts fo;
  ph_plot_fig_opts_default(&fo);
  fo.width_in = o->width_in > 0 ? o->width_in : w;
  fo.height_in = o->height_in > 0 ? o->height_in : h;
  fo.dpi = o->dpi > 0 ? o->dpi : 300;
  if (o->family) fo.family = o->family;
  if (o->font_pt > 0) fo.font_pt = o->font_pt;
  fo.rows = rows;
  fo.cols = cols;
  return ph_plot_fig_new(&fo, fmt, f, err);
}

static ph_status color_norm(const ph_plot_recipe_opts *o, const double *z,
                            size_t n, ph_plot_norm *nm, ph_error *err) {
  double lo = INFINITY, hi = -INFINITY;
  ph_plot_range_of(z, n, o->log, &lo, &hi);
  if (isfinite(o->vmin)) lo = o->vmin;
  if (isfinite(o->vmax)) hi = o->vmax;
  if (o->log && !(lo > 0))
    return ph_error_set(err, PH_ERR_ARG,
                        "--log needs positive values (vmin %g)", lo);
  if (!isfinite(lo) || !isfinite(hi))
    return ph_error_set(err, PH_ERR_FORMAT, "no values to colour");
  if (!(hi > lo)) {
    if (isfinite(o->vmin) && isfinite(o->vmax))
      return ph_error_set(err, PH_ERR_ARG, "--vmin %g must be below --vmax %g",
                          lo, hi);
    ph_plot_range_pad(&lo, &hi, 0, o->log);
  }
  nm->vmin = lo;
  nm->vmax = hi;
  nm->log = o->log;
  return PH_OK;
}

static void draw_toy_trajs(ph_plot_axes *a, const toy_traj *tt) {
  for (int s = 0; s < tt->n; s++) {
    const ph_npy *t = &tt->t[s];
    size_t nseed = t->shape[0], nstep = t->shape[1], dim = t->shape[2];
    size_t show = nseed < 6 ? nseed : 6;
    double *x = malloc(nstep * sizeof *x), *y = malloc(nstep * sizeof *y);
    if (!x || !y) {
      free(x);
      free(y);
      return;
    }
    ph_plot_style st;
    ph_plot_style_series(&st, s, tt->name[s]);
    st.width_pt = 0.8;
    st.alpha = 0.85;
    for (size_t k = 0; k < show; k++) {
      for (size_t i = 0; i < nstep; i++) {
        x[i] = t->data[(k * nstep + i) * dim + 0];
        y[i] = t->data[(k * nstep + i) * dim + 1];
      }
      st.label = k == 0 ? tt->name[s] : NULL;
      ph_plot_line(a, x, y, nstep, &st);
      ph_plot_style m = st;
      m.label = NULL;
      m.marker = PH_PLOT_MARK_CIRCLE;
      m.marker_pt = 3.6;
      m.marker_filled = 0;
      ph_plot_markers(a, x, y, NULL, 1, &m);
      m.marker = PH_PLOT_MARK_STAR;
      m.marker_filled = 1;
      m.marker_pt = 5.5;
      ph_plot_markers(a, x + nstep - 1, y + nstep - 1, NULL, 1, &m);
    }
    free(x);
    free(y);
  }
  if (tt->n) {
    ph_plot_style k;
    ph_plot_style_series(&k, 7, "start");
    k.width_pt = 0;
    k.marker_filled = 0;
    k.marker = PH_PLOT_MARK_CIRCLE;
    k.marker_pt = 3.6;
    ph_plot__legend_add(a, &k, 0);
    k.label = "end";
    k.marker = PH_PLOT_MARK_STAR;
    k.marker_filled = 1;
    k.marker_pt = 5.5;
    ph_plot__legend_add(a, &k, 0);
  }
}

static void draw_slice_traj(ph_plot_axes *a, const ph_plot_table *t) {
  int cx = ph_plot_table_col(t, "x"), cy = ph_plot_table_col(t, "y");
  int co = ph_plot_table_col(t, "off_plane");
  double *x = col_copy(t, cx), *y = col_copy(t, cy);
  double *sz = co >= 0 ? col_copy(t, co) : NULL;
  if (!x || !y || (co >= 0 && !sz)) goto done;
  if (sz) {
    double mx = 0;
    for (size_t i = 0; i < t->nrows; i++)
      if (isfinite(sz[i])) mx = fmax(mx, fabs(sz[i]));
    for (size_t i = 0; i < t->nrows; i++)
      sz[i] = mx > 0 && isfinite(sz[i]) ? 0.5 + 1.5 * fabs(sz[i]) / mx : 1.0;
  }
  ph_plot_style st;
  ph_plot_style_series(&st, 7, NULL);
  st.rgb[0] = st.rgb[1] = st.rgb[2] = 1.0;
  st.width_pt = 1.8;
  ph_plot_line(a, x, y, t->nrows, &st); /* white halo */
  ph_plot_style_series(&st, 7, "trajectory");
  st.width_pt = 0.8;
  st.marker = PH_PLOT_MARK_CIRCLE;
  st.marker_pt = 3.0;
  ph_plot_line(a, x, y, t->nrows, &st);
  st.label = NULL;
  ph_plot_markers(a, x, y, sz, t->nrows, &st);
  if (t->nrows > 0) {
    ph_plot_style m = st;
    m.rgb[0] = m.rgb[1] = m.rgb[2] = 1;
    m.marker_pt = 5.5;
    ph_plot_markers(a, x, y, NULL, 1, &m);
    m.rgb[0] = m.rgb[1] = m.rgb[2] = 0;
    m.marker_filled = 0;
    m.label = "start";
    ph_plot_markers(a, x, y, NULL, 1, &m);
    m.marker = PH_PLOT_MARK_STAR;
    m.marker_filled = 1;
    m.marker_pt = 7;
    m.label = "end";
    ph_plot_markers(a, x + t->nrows - 1, y + t->nrows - 1, NULL, 1, &m);
  }
done:
  free(x);
  free(y);
  free(sz);
}

/* ---- recipes ----------------------------------------------------------- */

static ph_status recipe_2d(ph_plot_kind kind, const char *dir,
                           const ph_plot_recipe_opts *o, const char *out,
                           ph_error *err) {
  slice_in s;
  toy_traj tt = {0};
  ph_plot_fig *f = NULL;
  ph_status st = slice_load(dir, 1, &s, err);
  if (st == PH_OK && kind == PH_PLOT_KIND_CONTOUR && o->traj_dir)
    st = toy_load(o->traj_dir, &tt, err);
  ph_plot_norm nm;
  if (st == PH_OK) st = color_norm(o, s.z.data, s.z.size, &nm, err);
  if (st != PH_OK) goto done;
  double lev[64];
  int nlev = ph_plot_contour_levels(nm.vmin, nm.vmax, o->levels, nm.log, lev, 64);
  const double *x = s.x.data, *y = s.y.data;
  if (kind == PH_PLOT_KIND_SURFACE3D) {
    st = fig_open(o, PH_PLOT_COLUMN_IN, 2.8, 1, 1, out, &f, err);
    if (st != PH_OK) goto done;
    ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
    ph_plot_axes_hide(a);
    ph_plot_axes_labels(a, o->title, NULL, NULL);
    if ((st = ph_plot_axes_layout(a, err)) != PH_OK) goto done;
    ph_plot_view3d v = {o->azim, o->elev, or_default(o->xlabel, "α"),
                        or_default(o->ylabel, "β"), "loss"};
    st = ph_plot_surface3d(a, s.z.data, s.nx, s.ny, x, y, o->cmap, &nm, &v, err);
    if (st != PH_OK) goto done;
    ph_plot_axes_finish(a);
  } else {
    st = fig_open(o, PH_PLOT_COLUMN_IN, 2.6, 1, 1, out, &f, err);
    if (st != PH_OK) goto done;
    ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
    double dx = (x[s.nx - 1] - x[0]) / (s.nx - 1), dy = (y[s.ny - 1] - y[0]) / (s.ny - 1);
    if (kind == PH_PLOT_KIND_SURFACE) {
      ph_plot_axes_xrange(a, x[0] - dx / 2, x[s.nx - 1] + dx / 2, 0);
      ph_plot_axes_yrange(a, y[0] - dy / 2, y[s.ny - 1] + dy / 2, 0);
    } else {
      ph_plot_axes_xrange(a, x[0], x[s.nx - 1], 0);
      ph_plot_axes_yrange(a, y[0], y[s.ny - 1], 0);
    }
    ph_plot_axes_labels(a, o->title, or_default(o->xlabel, "α"),
                        or_default(o->ylabel, "β"));
    ph_plot_axes_colorbar(a, o->cmap, &nm, nm.log ? "loss (log)" : "loss");
    if ((st = ph_plot_axes_layout(a, err)) != PH_OK) goto done;
    double white[3] = {1, 1, 1}, dark[3] = {0.15, 0.15, 0.15};
    if (kind == PH_PLOT_KIND_SURFACE) {
      st = ph_plot_heatmap(a, s.z.data, s.nx, s.ny, x, y, o->cmap, &nm, err);
      if (st == PH_OK)
        st = ph_plot_contour(a, s.z.data, s.nx, s.ny, x, y, lev, nlev, o->cmap,
                             &nm, white, 0.4, o->labels, err);
    } else {
      st = ph_plot_contour_filled(a, s.z.data, s.nx, s.ny, x, y, lev, nlev,
                                  o->cmap, &nm, err);
      if (st == PH_OK)
        st = ph_plot_contour(a, s.z.data, s.nx, s.ny, x, y, lev, nlev, o->cmap,
                             &nm, dark, 0.35, o->labels, err);
      if (st == PH_OK && tt.n) draw_toy_trajs(a, &tt);
    }
    if (st != PH_OK) goto done;
    if (s.has_traj) draw_slice_traj(a, &s.traj);
    ph_plot_axes_finish(a);
  }
  st = ph_plot_fig_save(f, out, err);
done:
  ph_plot_fig_free(f);
  slice_free(&s);
  toy_free(&tt);
  return st;
}

static ph_status recipe_slice1d(const char *const *in, size_t n,
                                const ph_plot_recipe_opts *o, const char *out,
                                ph_error *err) {
  slice_in s[MAX_SERIES];
  size_t loaded = 0;
  ph_plot_fig *f = NULL;
  ph_status st = PH_OK;
  if (n > MAX_SERIES)
    return ph_error_set(err, PH_ERR_ARG, "at most %d inputs", MAX_SERIES);
  for (; loaded < n && st == PH_OK; loaded++) st = slice_load(in[loaded], 0, &s[loaded], err);
  if (st != PH_OK) goto done;
  if ((st = fig_open(o, PH_PLOT_COLUMN_IN, 2.2, 1, 1, out, &f, err)) != PH_OK) goto done;
  ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (size_t k = 0; k < n; k++) {
    if (s[k].has_1d) {
      ph_plot_table *t = &s[k].s1d;
      for (size_t r = 0; r < t->nrows; r++) {
        double xv = t->v[r * t->ncols + ph_plot_table_col(t, "alpha")];
        double yv = t->v[r * t->ncols + ph_plot_table_col(t, "loss")];
        ph_plot_range_of(&xv, 1, 0, &xlo, &xhi);
        ph_plot_range_of(&yv, 1, o->log, &ylo, &yhi);
      }
    } else {
      ph_plot_range_of(s[k].x.data, s[k].nx, 0, &xlo, &xhi);
      ph_plot_range_of(s[k].z.data, s[k].nx, o->log, &ylo, &yhi);
    }
  }
  if (isfinite(o->vmin)) ylo = o->vmin;
  if (isfinite(o->vmax)) yhi = o->vmax;
  if (!(yhi >= ylo)) {
    st = ph_error_set(err, PH_ERR_FORMAT, "%s: no values to draw", in[0]);
    goto done;
  }
  ph_plot_range_pad(&ylo, &yhi, 0.05, o->log);
  ph_plot_axes_xrange(a, xlo, xhi, 0);
  ph_plot_axes_yrange(a, ylo, yhi, o->log);
  ph_plot_axes_labels(a, o->title, or_default(o->xlabel, "α"),
                      or_default(o->ylabel, "loss"));
  if ((st = ph_plot_axes_layout(a, err)) != PH_OK) goto done;
  for (size_t k = 0; k < n; k++) {
    ph_plot_style ls;
    ph_plot_style_series(&ls, (int)k, n > 1 ? base_name(in[k]) : "loss");
    if (s[k].has_1d) {
      ph_plot_table *t = &s[k].s1d;
      double *x = col_copy(t, ph_plot_table_col(t, "alpha"));
      double *y = col_copy(t, ph_plot_table_col(t, "loss"));
      int cq = ph_plot_table_col(t, "quadratic");
      double *q = cq >= 0 ? col_copy(t, cq) : NULL;
      if (x && y) ph_plot_line(a, x, y, t->nrows, &ls);
      if (x && q) {
        ls.dash = 1;
        ls.width_pt = 0.8;
        ls.label = k == 0 ? "quadratic model" : NULL;
        ph_plot_line(a, x, q, t->nrows, &ls);
      }
      free(x);
      free(y);
      free(q);
    } else {
      ph_plot_line(a, s[k].x.data, s[k].z.data, s[k].nx, &ls);
    }
  }
  ph_plot_axes_finish(a);
  st = ph_plot_fig_save(f, out, err);
done:
  ph_plot_fig_free(f);
  for (size_t k = 0; k < loaded; k++) slice_free(&s[k]);
  return st;
}

/* spectrum.json: operator name, eigenvalues, residual_bounds (optional). */
typedef struct spec_in {
  char op[64];
  double *eig, *res;
  size_t k;
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
    return ph_error_set(err, PH_ERR_FORMAT, "%s: '%s' must be an array of numbers",
                        file, key);
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
      snprintf(s->op, sizeof s->op, "%.63s", base_name(dir));
    st = json_array(root, "eigenvalues", js, 0, &s->eig, &s->k, err);
    size_t kr = 0;
    if (st == PH_OK)
      st = json_array(root, "residual_bounds", js, 1, &s->res, &kr, err);
    if (st == PH_OK && s->res && kr != s->k)
      st = ph_error_set(err, PH_ERR_FORMAT,
                        "%s: %zu residual_bounds for %zu eigenvalues", js, kr, s->k);
  }
  cJSON_Delete(root);
  free(js);
  if (st != PH_OK) return st;
  PH_TRY(load_table(dir, "density.csv", &s->dens, 0, NULL, err));
  int idx[3];
  static const char *const c[] = {"t", "density", NULL};
  PH_TRY(need_cols(&s->dens, "density.csv", c, idx, err));
  s->has_band = ph_plot_table_col(&s->dens, "band_lo") >= 0 &&
                ph_plot_table_col(&s->dens, "band_hi") >= 0;
  return PH_OK;
}

static ph_status recipe_spectrum(const char *const *in, size_t n,
                                 const ph_plot_recipe_opts *o, const char *out,
                                 ph_error *err) {
  spec_in s[MAX_SERIES];
  size_t loaded = 0;
  ph_plot_fig *f = NULL;
  ph_status st = PH_OK;
  if (n > MAX_SERIES)
    return ph_error_set(err, PH_ERR_ARG, "at most %d inputs", MAX_SERIES);
  for (; loaded < n && st == PH_OK; loaded++) st = spec_load(in[loaded], &s[loaded], err);
  if (st != PH_OK) goto done;
  if ((st = fig_open(o, PH_PLOT_TWOCOLUMN_IN, 2.4, 1, 2, out, &f, err)) != PH_OK)
    goto done;
  /* (a) density, semilog-y */
  ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (size_t k = 0; k < n; k++) {
    ph_plot_table *t = &s[k].dens;
    int ct = ph_plot_table_col(t, "t"), cd = ph_plot_table_col(t, "density");
    for (size_t r = 0; r < t->nrows; r++) {
      ph_plot_range_of(&t->v[r * t->ncols + ct], 1, 0, &xlo, &xhi);
      ph_plot_range_of(&t->v[r * t->ncols + cd], 1, 1, &ylo, &yhi);
    }
  }
  if (!(xhi >= xlo) || !(yhi >= ylo)) {
    st = ph_error_set(err, PH_ERR_FORMAT, "%s/density.csv: no positive density",
                      in[0]);
    goto done;
  }
  if (isfinite(o->vmin)) ylo = o->vmin;
  if (isfinite(o->vmax)) yhi = o->vmax;
  ylo = fmax(ylo, yhi * 1e-10);
  ph_plot_range_pad(&ylo, &yhi, 0.04, 1);
  ph_plot_axes_xrange(a, xlo, xhi, 0);
  ph_plot_axes_yrange(a, ylo, yhi, 1);
  ph_plot_axes_labels(a, o->title, or_default(o->xlabel, "eigenvalue λ"),
                      or_default(o->ylabel, "spectral density"));
  if ((st = ph_plot_axes_layout(a, err)) != PH_OK) goto done;
  for (size_t k = 0; k < n; k++) {
    ph_plot_table *t = &s[k].dens;
    double *x = col_copy(t, ph_plot_table_col(t, "t"));
    double *d = col_copy(t, ph_plot_table_col(t, "density"));
    ph_plot_style ls;
    ph_plot_style_series(&ls, (int)k, s[k].op);
    if (s[k].has_band) {
      double *lo = col_copy(t, ph_plot_table_col(t, "band_lo"));
      double *hi = col_copy(t, ph_plot_table_col(t, "band_hi"));
      ph_plot_style bs = ls;
      bs.label = NULL;
      bs.alpha = 0.22;
      if (lo && hi) {
        for (size_t r = 0; r < t->nrows; r++) lo[r] = fmax(lo[r], ylo);
        ph_plot_band(a, x, lo, hi, t->nrows, &bs);
      }
      free(lo);
      free(hi);
    }
    if (x && d) ph_plot_line(a, x, d, t->nrows, &ls);
    free(x);
    free(d);
  }
  ph_plot_axes_finish(a);
  /* (b) Ritz values with residual bars, by index */
  ph_plot_axes *b = ph_plot_fig_axes(f, 0, 1);
  size_t kmax = 0;
  double elo = INFINITY, ehi = -INFINITY;
  for (size_t k = 0; k < n; k++) {
    kmax = s[k].k > kmax ? s[k].k : kmax;
    for (size_t i = 0; i < s[k].k; i++) {
      double r = s[k].res && isfinite(s[k].res[i]) ? s[k].res[i] : 0;
      double lo = s[k].eig[i] - r, hi = s[k].eig[i] + r;
      ph_plot_range_of(&lo, 1, 0, &elo, &ehi);
      ph_plot_range_of(&hi, 1, 0, &elo, &ehi);
    }
  }
  if (kmax == 0 || !(ehi >= elo)) {
    st = ph_error_set(err, PH_ERR_FORMAT, "%s/spectrum.json: no eigenvalues", in[0]);
    goto done;
  }
  ph_plot_range_pad(&elo, &ehi, 0.06, 0);
  ph_plot_axes_xrange(b, 0.4, kmax + 0.6, 0);
  ph_plot_axes_yrange(b, elo, ehi, 0);
  ph_plot_axes_labels(b, NULL, "index k", "Ritz value λₖ");
  if ((st = ph_plot_axes_layout(b, err)) != PH_OK) goto done;
  for (size_t k = 0; k < n; k++) {
    double *xi = malloc((s[k].k ? s[k].k : 1) * 3 * sizeof *xi);
    if (!xi) break;
    double *lo = xi + s[k].k, *hi = lo + s[k].k;
    for (size_t i = 0; i < s[k].k; i++) {
      xi[i] = i + 1 + (n > 1 ? 0.25 * ((double)k - (n - 1) / 2.0) / n * 2 : 0);
      double r = s[k].res && isfinite(s[k].res[i]) ? s[k].res[i] : 0;
      lo[i] = s[k].eig[i] - r;
      hi[i] = s[k].eig[i] + r;
    }
    ph_plot_style ms;
    ph_plot_style_series(&ms, (int)k, s[k].op);
    ms.marker = k % 2 ? PH_PLOT_MARK_SQUARE : PH_PLOT_MARK_CIRCLE;
    ms.marker_pt = 3.5;
    if (s[k].res) ph_plot_errorbars(b, xi, lo, hi, s[k].k, &ms);
    ph_plot_markers(b, xi, s[k].eig, NULL, s[k].k, &ms);
    free(xi);
  }
  ph_plot_axes_finish(b);
  st = ph_plot_fig_save(f, out, err);
done:
  ph_plot_fig_free(f);
  for (size_t k = 0; k < loaded; k++) spec_free(&s[k]);
  return st;
}

/* run.json: the optimiser's name, wherever the trainer put it. */
static void run_name(const cJSON *root, const char *dir, char *buf, size_t len) {
  static const char *const keys[] = {"optimizer", "optimiser", "optim", "name", NULL};
  const cJSON *scopes[2] = {root, cJSON_GetObjectItemCaseSensitive(root, "config")};
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
  snprintf(buf, len, "%.63s", base_name(dir));
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
    if (st == PH_OK) st = load_table(in[k], "log.csv", &t[k], 0, NULL, err);
    if (st == PH_OK && ph_plot_table_col(&t[k], "step") < 0)
      st = ph_error_set(err, PH_ERR_FORMAT, "%s/log.csv: no column 'step'", in[k]);
    if (st == PH_OK && ph_plot_table_col(&t[k], "train_loss") < 0)
      st = ph_error_set(err, PH_ERR_FORMAT, "%s/log.csv: no column 'train_loss'",
                        in[k]);
  }
  if (st != PH_OK) goto done;
  int has_acc = 0;
  for (size_t k = 0; k < n; k++)
    has_acc |= ph_plot_table_col(&t[k], "train_acc") >= 0 ||
               ph_plot_table_col(&t[k], "test_acc") >= 0;
  int ncol = has_acc ? 2 : 1;
  if ((st = fig_open(o, has_acc ? PH_PLOT_TWOCOLUMN_IN : PH_PLOT_COLUMN_IN, 2.3, 1,
                     ncol, out, &f, err)) != PH_OK)
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
          if (c >= 0) ph_plot_range_of(&t[k].v[r * t[k].ncols + c], 1, lg, &ylo, &yhi);
        }
      }
    }
    if (p == 0 && isfinite(o->vmin)) ylo = o->vmin;
    if (p == 0 && isfinite(o->vmax)) yhi = o->vmax;
    ph_plot_range_pad(&ylo, &yhi, 0.04, lg);
    if (!(xhi > xlo)) ph_plot_range_pad(&xlo, &xhi, 0, 0);
    ph_plot_axes_xrange(a, xlo, xhi, 0);
    ph_plot_axes_yrange(a, ylo, yhi, lg);
    ph_plot_axes_labels(a, p == 0 ? o->title : NULL, or_default(o->xlabel, "step"),
                        p == 0 ? or_default(o->ylabel, "loss") : "accuracy");
    ph_plot_axes_grid(a, 1);
    if ((st = ph_plot_axes_layout(a, err)) != PH_OK) goto done;
    for (size_t k = 0; k < n; k++) {
      int cs = ph_plot_table_col(&t[k], "step");
      double *x = col_copy(&t[k], cs);
      for (int q = 0; q < 2 && x; q++) {
        int c = ph_plot_table_col(&t[k], cols[p][q]);
        if (c < 0) continue;
        double *y = col_copy(&t[k], c);
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
  static const char *const c[] = {"optimizer", "escape_rate", "ci_lo", "ci_hi", NULL};
  st = need_cols(&t, path, c, idx, err);
  if (st == PH_OK && (t.nrows == 0 || t.nrows > PH_PLOT_MAX_CATS))
    st = ph_error_set(err, PH_ERR_FORMAT, "%s: %zu rows (need 1..%d)", path,
                      t.nrows, PH_PLOT_MAX_CATS);
  if (st != PH_OK) goto done;
  v = col_copy(&t, idx[1]);
  lo = col_copy(&t, idx[2]);
  hi = col_copy(&t, idx[3]);
  if (!v || !lo || !hi) {
    st = ph_error_set(err, PH_ERR_NOMEM, "out of memory");
    goto done;
  }
  const char *names[PH_PLOT_MAX_CATS];
  double ymax = 0;
  for (size_t r = 0; r < t.nrows; r++) {
    names[r] = t.text[r * t.ncols + idx[0]];
    if (!isfinite(v[r]))
      {
        st = ph_error_set(err, PH_ERR_FORMAT, "%s:%zu: escape_rate is not a number",
                          path, r + 2);
        goto done;
      }
    ymax = fmax(ymax, fmax(v[r], isfinite(hi[r]) ? hi[r] : 0));
  }
  if ((st = fig_open(o, PH_PLOT_COLUMN_IN, 2.2, 1, 1, out, &f, err)) != PH_OK) goto done;
  ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
  ph_plot_axes_xrange(a, -0.6, t.nrows - 0.4, 0);
  ph_plot_axes_yrange(a, 0, ymax > 0 ? (ymax > 0.8 && ymax <= 1 ? 1.05 : ymax * 1.12) : 1,
                      0);
  ph_plot_axes_xcategories(a, names, (int)t.nrows);
  ph_plot_axes_labels(a, o->title, o->xlabel ? o->xlabel : "",
                      or_default(o->ylabel, "escape rate"));
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
  st = need_cols(&t, path, c, idx, err);
  if (st == PH_OK && t.nrows == 0)
    st = ph_error_set(err, PH_ERR_FORMAT, "%s: no rows", path);
  if (st != PH_OK) goto done;
  pr = col_copy(&t, idx[0]);
  me = col_copy(&t, idx[1]);
  int clo = ph_plot_table_col(&t, "ci_lo"), chi = ph_plot_table_col(&t, "ci_hi");
  if (clo >= 0 && chi >= 0) {
    lo = col_copy(&t, clo);
    hi = col_copy(&t, chi);
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
  if ((st = fig_open(o, PH_PLOT_COLUMN_IN, 2.8, 1, 1, out, &f, err)) != PH_OK) goto done;
  ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
  ph_plot_axes_xrange(a, rlo, rhi, o->log);
  ph_plot_axes_yrange(a, rlo, rhi, o->log);
  ph_plot_axes_equal(a, 1);
  ph_plot_axes_grid(a, 1);
  ph_plot_axes_labels(a, o->title, or_default(o->xlabel, "predicted amplification"),
                      or_default(o->ylabel, "measured amplification"));
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
    return ph_error_set(err, PH_ERR_ARG, "%s: needs an input", ph_plot_kind_name(kind));
  int single = kind == PH_PLOT_KIND_SURFACE || kind == PH_PLOT_KIND_CONTOUR ||
               kind == PH_PLOT_KIND_SURFACE3D || kind == PH_PLOT_KIND_ESCAPE ||
               kind == PH_PLOT_KIND_AMPLIFICATION;
  if (single && n_inputs > 1)
    return ph_error_set(err, PH_ERR_ARG, "%s takes one input, got %zu",
                        ph_plot_kind_name(kind), n_inputs);
  for (size_t i = 0; i < n_inputs; i++)
    if (!ph_path_exists(inputs[i]))
      return ph_error_set(err, PH_ERR_IO, "%s: no such file or directory", inputs[i]);
  switch (kind) {
  case PH_PLOT_KIND_SURFACE:
  case PH_PLOT_KIND_CONTOUR:
  case PH_PLOT_KIND_SURFACE3D:
    return recipe_2d(kind, inputs[0], o, out, err);
  case PH_PLOT_KIND_SLICE1D:
    return recipe_slice1d(inputs, n_inputs, o, out, err);
  case PH_PLOT_KIND_SPECTRUM:
    return recipe_spectrum(inputs, n_inputs, o, out, err);
  case PH_PLOT_KIND_CURVES:
    return recipe_curves(inputs, n_inputs, o, out, err);
  case PH_PLOT_KIND_ESCAPE:
    return recipe_escape(inputs[0], o, out, err);
  case PH_PLOT_KIND_AMPLIFICATION:
    return recipe_amplification(inputs[0], o, out, err);
  default:
    return ph_error_set(err, PH_ERR_ARG, "unknown figure kind");
  }
}
