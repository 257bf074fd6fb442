/* plot_recipe_slices.c: the slice figures of `pothole plot` (surface,
 * contour, surface3d, slice1d) and the loaders every recipe shares, from the
 * files the slice, spectrum, train, toy and sharpness commands write (formats
 * in plot_recipes.h and docs/figures.md). Each recipe reads and validates every
 * input first, then draws one figure and writes it atomically, so a bad
 * input leaves no output. Does not recompute anything it draws.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/h5.h"
#include "core/json.h"
#include "core/npy.h"
#include "plot_int.h"
#include "plot_recipes.h"

static const char *const k_kind_names[PH_PLOT_N_KINDS] = {
    [PH_PLOT_KIND_SURFACE] = "surface",
    [PH_PLOT_KIND_CONTOUR] = "contour",
    [PH_PLOT_KIND_SURFACE3D] = "surface3d",
    [PH_PLOT_KIND_SLICE1D] = "slice1d",
    [PH_PLOT_KIND_SPECTRUM] = "spectrum",
    [PH_PLOT_KIND_CURVES] = "curves",
    [PH_PLOT_KIND_ESCAPE] = "escape",
    [PH_PLOT_KIND_AMPLIFICATION] = "amplification",
    [PH_PLOT_KIND_REGIME] = "regime",
    [PH_PLOT_KIND_CURVATURE] = "curvature",
};

const char *ph_plot_kind_name(ph_plot_kind k) {
  return k_kind_names[k];
}

ph_status ph_plot_kind_from_name(const char *name, ph_plot_kind *k,
                                 ph_error *err) {
  for (int i = 0; i < PH_PLOT_N_KINDS; i++)
    if (!strcmp(name, k_kind_names[i])) return *k = (ph_plot_kind)i, PH_OK;
  return ph_error_set(
      err, PH_ERR_ARG,
      "unknown figure kind '%s' (surface, contour, surface3d, "
      "slice1d, spectrum, curves, escape, amplification, regime)",
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

const char *ph_plot__or_default(const char *s, const char *d) {
  return s ? s : d;
}

/* ---- loading ----------------------------------------------------------- */

ph_status ph_plot__load_npy(const char *dir, const char *name, ph_npy *a,
                            ph_error *err) {
  char *p = ph_path_join(dir, name, err);
  if (!p) return PH_ERR_NOMEM;
  ph_status s = ph_npy_read(p, a, err);
  free(p);
  return s;
}

ph_status ph_plot__load_table(const char *dir, const char *name,
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

ph_status ph_plot__need_cols(const ph_plot_table *t, const char *file,
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
double *ph_plot__col_copy(const ph_plot_table *t, int c) {
  double *v = malloc((t->nrows ? t->nrows : 1) * sizeof *v);
  if (v)
    for (size_t r = 0; r < t->nrows; r++) v[r] = t->v[r * t->ncols + c];
  return v;
}

const char *ph_plot__base_name(const char *path) {
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

/* A loss-landscape surface file (Li et al.'s .h5, or pothole slice
 * --format h5) as the arrays of a slice: z (ny, nx), x, y. */
static ph_status slice_load_h5(const char *path, int two_d, slice_in *s,
                               ph_error *err) {
  ph_h5_grid g;
  PH_TRY(ph_h5_surface_read(path, NULL, &g, err));
  if (two_d != (g.y != NULL)) {
    ph_h5_grid_free(&g);
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: a %s surface, this plot needs "
                        "a %s one",
                        path, two_d ? "1-D" : "2-D", two_d ? "2-D" : "1-D");
  }
  s->x = (ph_npy){.ndim = 1, .shape = {g.nx}, .size = g.nx, .data = g.x};
  s->nx = g.nx;
  if (g.y) {
    s->y = (ph_npy){.ndim = 1, .shape = {g.ny}, .size = g.ny, .data = g.y};
    s->z = (ph_npy){
        .ndim = 2, .shape = {g.ny, g.nx}, .size = g.nx * g.ny, .data = g.z};
    s->ny = g.ny;
  } else {
    s->z = (ph_npy){.ndim = 1, .shape = {g.nx}, .size = g.nx, .data = g.z};
  }
  return PH_OK;
}

static int is_h5(const char *path) {
  size_t n = strlen(path);
  return n > 3 && strcmp(path + n - 3, ".h5") == 0 && !ph_is_dir(path);
}

static ph_status slice_load(const char *dir, int two_d, slice_in *s,
                            ph_error *err) {
  memset(s, 0, sizeof *s);
  int from_h5 = is_h5(dir);
  if (from_h5) PH_TRY(slice_load_h5(dir, two_d, s, err));
  if (!from_h5 && !ph_is_dir(dir))
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
  } else if (two_d && !from_h5) {
    ph_status st = ph_error_set(err, PH_ERR_IO, "%s: missing", js);
    free(js);
    return st;
  }
  free(js);
  char *s1 = ph_path_join(dir, "slice1d.csv", err);
  if (!s1) return PH_ERR_NOMEM;
  int want_arrays = !from_h5 && (two_d || !ph_path_exists(s1));
  free(s1);
  if (!two_d && !from_h5) {
    PH_TRY(
        ph_plot__load_table(dir, "slice1d.csv", &s->s1d, 1, &s->has_1d, err));
    if (s->has_1d) {
      int idx[3];
      static const char *const c[] = {"alpha", "loss", NULL};
      PH_TRY(ph_plot__need_cols(&s->s1d, "slice1d.csv", c, idx, err));
    }
  }
  if (from_h5 && !two_d && s->nx < 2)
    return ph_error_set(err, PH_ERR_FORMAT, "%s: need at least 2 points", dir);
  if (from_h5 && two_d && (s->nx < 2 || s->ny < 2))
    return ph_error_set(err, PH_ERR_FORMAT, "%s: need at least 2x2 points",
                        dir);
  if (want_arrays) {
    PH_TRY(ph_plot__load_npy(dir, "surface_loss.npy", &s->z, err));
    PH_TRY(ph_plot__load_npy(dir, "x.npy", &s->x, err));
    if (ph_npy_check(&s->x, "x.npy", PH_NPY_FINITE, "an axis", err)) {
      ph_error_prefix(err, "%s/", dir);
      return PH_ERR_FORMAT;
    }
    if (s->x.ndim != 1)
      return ph_error_set(err, PH_ERR_FORMAT, "%s/x.npy: expected a vector",
                          dir);
    s->nx = s->x.size;
    if (two_d) {
      PH_TRY(ph_plot__load_npy(dir, "y.npy", &s->y, err));
      if (ph_npy_check(&s->y, "y.npy", PH_NPY_FINITE, "an axis", err)) {
        ph_error_prefix(err, "%s/", dir);
        return PH_ERR_FORMAT;
      }
      if (s->y.ndim != 1)
        return ph_error_set(err, PH_ERR_FORMAT, "%s/y.npy: expected a vector",
                            dir);
      s->ny = s->y.size;
      if (s->z.ndim != 2 || s->z.shape[0] != s->ny || s->z.shape[1] != s->nx)
        return ph_error_set(
            err, PH_ERR_FORMAT,
            "%s/surface_loss.npy: shape must be [ny=%zu, nx=%zu] "
            "(from y.npy, x.npy)",
            dir, s->ny, s->nx);
      if (s->nx < 2 || s->ny < 2)
        return ph_error_set(err, PH_ERR_FORMAT,
                            "%s/surface_loss.npy: need at least 2x2 points",
                            dir);
    } else {
      if (s->z.ndim != 1 || s->z.shape[0] != s->nx)
        return ph_error_set(err, PH_ERR_FORMAT,
                            "%s/surface_loss.npy: shape must be [nx=%zu] for a "
                            "1-D slice",
                            dir, s->nx);
    }
  }
  if (want_arrays || from_h5) {
    for (size_t i = 0; i + 1 < s->nx; i++)
      if (!(s->x.data[i + 1] > s->x.data[i]))
        return ph_error_set(err, PH_ERR_FORMAT,
                            "%s/x.npy: not increasing at %zu", dir, i);
    for (size_t j = 0; j + 1 < s->ny; j++)
      if (!(s->y.data[j + 1] > s->y.data[j]))
        return ph_error_set(err, PH_ERR_FORMAT,
                            "%s/y.npy: not increasing at %zu", dir, j);
    int any = 0;
    for (size_t k = 0; k < s->z.size; k++) any |= isfinite(s->z.data[k]);
    if (!any)
      return ph_error_set(err, PH_ERR_FORMAT,
                          "%s/surface_loss.npy: no finite values", dir);
  }
  if (two_d) {
    PH_TRY(ph_plot__load_table(dir, "trajectory.csv", &s->traj, 1, &s->has_traj,
                               err));
    if (s->has_traj) {
      int idx[3];
      static const char *const c[] = {"x", "y", NULL};
      PH_TRY(ph_plot__need_cols(&s->traj, "trajectory.csv", c, idx, err));
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
  PH_TRY(ph_plot__load_table(dir, "escape.csv", &esc, 0, NULL, err));
  int c = ph_plot_table_col(&esc, "optimizer");
  if (c < 0) {
    ph_plot_table_free(&esc);
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s/escape.csv: no column 'optimizer'", dir);
  }
  ph_status st = PH_OK;
  char *tdir = ph_path_join(dir, "trajectories", err);
  if (!tdir) st = PH_ERR_NOMEM;
  for (size_t r = 0; st == PH_OK && r < esc.nrows && out->n < MAX_SERIES; r++) {
    const char *name = esc.text[r * esc.ncols + c];
    char file[96];
    snprintf(file, sizeof file, "%.60s.npy", name);
    ph_npy *a = &out->t[out->n];
    st = ph_plot__load_npy(tdir, file, a, err);
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

ph_status ph_plot__fig_open(const ph_plot_recipe_opts *o, double w, double h,
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
  return ph_plot_fig_create(&fo, fmt, f, err);
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
  double *x = ph_plot__col_copy(t, cx), *y = ph_plot__col_copy(t, cy);
  double *sz = co >= 0 ? ph_plot__col_copy(t, co) : NULL;
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

ph_status ph_plot__recipe_2d(ph_plot_kind kind, const char *dir,
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
  int nlev =
      ph_plot_contour_levels(nm.vmin, nm.vmax, o->levels, nm.log, lev, 64);
  const double *x = s.x.data, *y = s.y.data;
  if (kind == PH_PLOT_KIND_SURFACE3D) {
    st = ph_plot__fig_open(o, PH_PLOT_COLUMN_IN, 2.8, 1, 1, out, &f, err);
    if (st != PH_OK) goto done;
    ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
    ph_plot_axes_hide(a);
    ph_plot_axes_labels(a, o->title, NULL, NULL);
    if ((st = ph_plot_axes_layout(a, err)) != PH_OK) goto done;
    ph_plot_view3d v = {o->azim, o->elev, ph_plot__or_default(o->xlabel, "α"),
                        ph_plot__or_default(o->ylabel, "β"), "loss"};
    st =
        ph_plot_surface3d(a, s.z.data, s.nx, s.ny, x, y, o->cmap, &nm, &v, err);
    if (st != PH_OK) goto done;
    ph_plot_axes_finish(a);
  } else {
    st = ph_plot__fig_open(o, PH_PLOT_COLUMN_IN, 2.6, 1, 1, out, &f, err);
    if (st != PH_OK) goto done;
    ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
    double dx = (x[s.nx - 1] - x[0]) / (s.nx - 1),
           dy = (y[s.ny - 1] - y[0]) / (s.ny - 1);
    if (kind == PH_PLOT_KIND_SURFACE) {
      ph_plot_axes_xrange(a, x[0] - dx / 2, x[s.nx - 1] + dx / 2, 0);
      ph_plot_axes_yrange(a, y[0] - dy / 2, y[s.ny - 1] + dy / 2, 0);
    } else {
      ph_plot_axes_xrange(a, x[0], x[s.nx - 1], 0);
      ph_plot_axes_yrange(a, y[0], y[s.ny - 1], 0);
    }
    ph_plot_axes_labels(a, o->title, ph_plot__or_default(o->xlabel, "α"),
                        ph_plot__or_default(o->ylabel, "β"));
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

ph_status ph_plot__recipe_slice1d(const char *const *in, size_t n,
                                  const ph_plot_recipe_opts *o, const char *out,
                                  ph_error *err) {
  slice_in s[MAX_SERIES];
  size_t loaded = 0;
  ph_plot_fig *f = NULL;
  ph_status st = PH_OK;
  if (n > MAX_SERIES)
    return ph_error_set(err, PH_ERR_ARG, "at most %d inputs", MAX_SERIES);
  for (; loaded < n && st == PH_OK; loaded++)
    st = slice_load(in[loaded], 0, &s[loaded], err);
  if (st != PH_OK) goto done;
  if ((st = ph_plot__fig_open(o, PH_PLOT_COLUMN_IN, 2.2, 1, 1, out, &f, err)) !=
      PH_OK)
    goto done;
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
  ph_plot_axes_labels(a, o->title, ph_plot__or_default(o->xlabel, "α"),
                      ph_plot__or_default(o->ylabel, "loss"));
  if ((st = ph_plot_axes_layout(a, err)) != PH_OK) goto done;
  for (size_t k = 0; k < n; k++) {
    ph_plot_style ls;
    ph_plot_style_series(&ls, (int)k,
                         n > 1 ? ph_plot__base_name(in[k]) : "loss");
    if (s[k].has_1d) {
      ph_plot_table *t = &s[k].s1d;
      double *x = ph_plot__col_copy(t, ph_plot_table_col(t, "alpha"));
      double *y = ph_plot__col_copy(t, ph_plot_table_col(t, "loss"));
      int cq = ph_plot_table_col(t, "quadratic");
      double *q = cq >= 0 ? ph_plot__col_copy(t, cq) : NULL;
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
