/* slice.c: a landscape slice end to end (Li et al. 2018; design §7):
 * choose the directions, evaluate the grid, project a trajectory honestly
 * (plane coordinates by least squares, the loss at the real θ_t and its
 * distance from the plane), add the quadratic model beside a 1-D
 * eigenvector slice, and write the files of `pothole slice`.
 *
 * Does not: load checkpoints or data (the caller passes an objective), or
 * print. Conventions in docs/landscape.md.
 */
#include "landscape/slice.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/afile.h"
#include "core/alloc.h"
#include "core/csv.h"
#include "core/json.h"
#include "core/npy.h"
#include "core/vec.h"

/* Toys and tiny models below this size get a dense eigen-solve. */
#define SLICE_DENSE_MAX 64

static const char *const dir_names[] = {"random", "hessian", "pca",   "pothole",
                                        "models", "axes",    "given", NULL};

const char *ph_slice_dirs_name(ph_slice_dirs d) {
  return (unsigned)d < 7 ? dir_names[d] : "?";
}

int ph_slice_dirs_parse(const char *s) {
  for (int i = 0; dir_names[i]; i++)
    if (strcmp(s, dir_names[i]) == 0) return i;
  return -1;
}

ph_slice_config ph_slice_config_default(void) {
  ph_slice_config c;
  memset(&c, 0, sizeof c);
  c.dirs = PH_SLICE_RANDOM;
  c.norm = PH_DIR_NORM_FILTER;
  c.two_d = 1;
  c.nx = c.ny = 51;
  c.x_lo = c.y_lo = -1.0;
  c.x_hi = c.y_hi = 1.0;
  c.threads = 1;
  return c;
}

void ph_slice_result_free(ph_slice_result *r) {
  free(r->x);
  free(r->y);
  free(r->dirs);
  free(r->loss);
  free(r->acc);
  free(r->loss2);
  free(r->acc2);
  free(r->quad);
  free(r->t_step);
  free(r->t_x);
  free(r->t_y);
  free(r->t_loss);
  free(r->t_off);
  memset(r, 0, sizeof *r);
}

/* Fix signs and record the true residuals ‖Hv − λv‖ (k more products). */
static ph_status eig_residuals(ph_objective *o, const double *theta,
                               const ph_slice_config *cfg, size_t k,
                               ph_slice_result *r, ph_error *err) {
  size_t n = o->n;
  double *hv = ph_malloc(n, sizeof(double), "residual", err);
  if (!hv) return PH_ERR_NOMEM;
  ph_status st = PH_OK;
  for (size_t i = 0; i < k && st == PH_OK; i++) {
    double *v = r->dirs + i * n;
    ph_landscape_fix_sign(n, v);
    st = ph_objective_hvp(o, theta, &cfg->batch, v, hv, err);
    if (st == PH_OK) {
      ph_vec_axpy(n, -r->eigval[i], v, hv);
      r->eig_resid[i] = ph_vec_nrm2(n, hv);
      r->products++;
    }
  }
  free(hv);
  return st;
}

static ph_status choose_directions(ph_objective *o, const double *theta,
                                   const ph_slice_config *cfg,
                                   ph_slice_result *r, ph_error *err) {
  size_t n = o->n, k = cfg->two_d ? 2 : 1;
  double *d = r->dirs;
  switch (cfg->dirs) {
  case PH_SLICE_RANDOM:
    for (size_t i = 0; i < k; i++)
      ph_landscape_random_direction(o, theta, cfg->seed, (unsigned)i, cfg->norm,
                                    cfg->include_bias, d + i * n);
    for (size_t i = 0; i < k; i++)
      if (!(ph_vec_nrm2(n, d + i * n) > 0))
        return ph_error_set(err, PH_ERR_ARG,
                            "random direction %zu is zero after %s "
                            "normalisation (all-zero weights? try --norm none "
                            "or --include-bias)",
                            i + 1, ph_dir_norm_name(cfg->norm));
    return PH_OK;
  case PH_SLICE_HESSIAN: {
    size_t prods = 0;
    r->solver =
        "potholes/sharpness ph_sharpness_eigs (linalg Lanczos, tol 1e-8)";
    PH_TRY(ph_sharpness_eigs(o, theta, &cfg->batch, NULL, k, cfg->seed,
                             SLICE_DENSE_MAX, r->eigval, d, NULL, &prods, err));
    r->products = prods;
    return eig_residuals(o, theta, cfg, k, r, err);
  }
  case PH_SLICE_PCA:
    if (!cfg->traj || cfg->traj_T < k)
      return ph_error_set(err, PH_ERR_ARG,
                          "pca directions need a trajectory of at least %zu "
                          "snapshots (got %zu)",
                          k, cfg->traj ? cfg->traj_T : 0);
    return ph_landscape_pca(cfg->traj, cfg->traj_T, n, theta, k, d,
                            r->explained, err);
  case PH_SLICE_POTHOLE: {
    if (!cfg->geom)
      return ph_error_set(err, PH_ERR_ARG,
                          "pothole directions need a preconditioner");
    ph_pothole_dir pd[2];
    r->solver = "potholes/sharpness ph_sharpness_directions";
    PH_TRY(ph_sharpness_directions(o, theta, &cfg->batch, cfg->geom, k,
                                   cfg->seed, SLICE_DENSE_MAX, pd, d, err));
    for (size_t i = 0; i < k; i++) {
      r->eigval[i] = pd[i].mu;
      ph_landscape_fix_sign(n, d + i * n);
    }
    return PH_OK;
  }
  case PH_SLICE_MODELS:
    if (!cfg->models || cfg->n_models != k + 1)
      return ph_error_set(
          err, PH_ERR_ARG, "a %s models slice needs %zu models, got %zu",
          cfg->two_d ? "2-D" : "1-D", k + 1, cfg->models ? cfg->n_models : 0);
    return ph_landscape_models_directions(cfg->models, cfg->n_models, n, d,
                                          err);
  case PH_SLICE_AXES:
    if (n < k)
      return ph_error_set(err, PH_ERR_ARG, "axes directions need n >= %zu", k);
    d[0] = 1.0;
    if (k == 2) d[n + 1] = 1.0;
    return PH_OK;
  case PH_SLICE_GIVEN:
    for (size_t i = 0; i < k; i++) {
      if (!cfg->given[i])
        return ph_error_set(err, PH_ERR_ARG, "direction %zu not given", i + 1);
      ph_vec_copy(n, cfg->given[i], d + i * n);
    }
    return PH_OK;
  }
  return ph_error_set(err, PH_ERR_ARG, "unknown direction kind %d",
                      (int)cfg->dirs);
}

/* ---- the slice ----------------------------------------------------------- */

static void auto_range(const double *v, size_t T, double *lo, double *hi) {
  double a = 0.0, b = 0.0; /* always include the centre */
  for (size_t t = 0; t < T; t++) {
    if (isfinite(v[t])) {
      a = fmin(a, v[t]);
      b = fmax(b, v[t]);
    }
  }
  double span = b - a;
  if (!(span > 0)) span = 1.0;
  *lo = a - 0.1 * span;
  *hi = b + 0.1 * span;
}

ph_status ph_slice_run(ph_objective *o, const double *theta,
                       const ph_slice_config *cfg, ph_slice_result *r,
                       ph_error *err) {
  size_t n = o->n, nx = cfg->nx, ny = cfg->two_d ? cfg->ny : 1, np;
  memset(r, 0, sizeof *r);
  if (nx < 1 || ny < 1 || ph_mul_size(nx, ny, &np))
    return ph_error_set(err, PH_ERR_ARG, "bad grid %zux%zu", nx, ny);
  if (cfg->batch.n < 1 && o->n_examples[cfg->batch.split] > 0)
    return ph_error_set(err, PH_ERR_ARG, "empty evaluation set");
  r->n = n;
  r->nx = nx;
  r->ny = ny;
  r->two_d = cfg->two_d;
  r->center =
      cfg->dirs == PH_SLICE_MODELS && cfg->models ? cfg->models[0] : theta;
  for (int i = 0; i < 2; i++)
    r->explained[i] = r->eigval[i] = r->eig_resid[i] = NAN;
  r->loss0 = r->gdotv = r->curvature = NAN;
  r->x = ph_malloc(nx, sizeof(double), "slice axis", err);
  r->y = ph_malloc(ny, sizeof(double), "slice axis", err);
  r->dirs = ph_calloc(2 * n, sizeof(double), "slice directions", err);
  r->loss = ph_malloc(np, sizeof(double), "slice surface", err);
  r->acc = ph_malloc(np, sizeof(double), "slice surface", err);
  if (!r->x || !r->y || !r->dirs || !r->loss || !r->acc) return PH_ERR_NOMEM;

  double t0 = ph_now();
  PH_TRY(choose_directions(o, r->center, cfg, r, err));
  r->dir_seconds = ph_now() - t0;
  const double *d1 = r->dirs, *d2 = cfg->two_d ? r->dirs + n : NULL;
  r->norms[0] = ph_vec_nrm2(n, d1);
  r->norms[1] = d2 ? ph_vec_nrm2(n, d2) : NAN;
  r->cos12 = d2 ? ph_vec_dot(n, d1, d2) / (r->norms[0] * r->norms[1]) : NAN;

  /* Trajectory coordinates first: they may set the range. */
  if (cfg->traj && cfg->traj_T > 0) {
    size_t T = cfg->traj_T;
    r->traj_T = T;
    r->t_step = ph_malloc(T, sizeof(double), "trajectory", err);
    r->t_x = ph_malloc(T, sizeof(double), "trajectory", err);
    r->t_y = ph_malloc(T, sizeof(double), "trajectory", err);
    r->t_loss = ph_malloc(T, sizeof(double), "trajectory", err);
    r->t_off = ph_malloc(T, sizeof(double), "trajectory", err);
    if (!r->t_step || !r->t_x || !r->t_y || !r->t_loss || !r->t_off)
      return PH_ERR_NOMEM;
    double t1 = ph_now();
    for (size_t t = 0; t < T; t++) {
      const double *p = cfg->traj + t * n;
      r->t_step[t] = cfg->traj_steps ? cfg->traj_steps[t] : (double)t;
      PH_TRY(ph_landscape_project(n, r->center, d1, d2, p, &r->t_x[t],
                                  &r->t_y[t], &r->t_off[t], err));
      double acc;
      ph_status s = o->eval(o->ctx, p, &cfg->batch, &r->t_loss[t], &acc, err);
      if (s == PH_ERR_NUMERIC) {
        r->t_loss[t] = NAN;
        if (err) ph_error_clear(err);
      } else if (s != PH_OK) {
        ph_error_prefix(err, "trajectory row %zu: ", t);
        return s;
      }
    }
    r->traj_seconds = ph_now() - t1;
  }
  r->x_lo = cfg->x_lo;
  r->x_hi = cfg->x_hi;
  r->y_lo = cfg->y_lo;
  r->y_hi = cfg->y_hi;
  if (cfg->auto_range && r->traj_T > 0) {
    auto_range(r->t_x, r->traj_T, &r->x_lo, &r->x_hi);
    if (d2) auto_range(r->t_y, r->traj_T, &r->y_lo, &r->y_hi);
  }
  if (!d2) r->y_lo = r->y_hi = 0.0;

  ph_grid_axes ax = {nx, ny, r->x_lo, r->x_hi, r->y_lo, r->y_hi};
  ph_grid_axis(nx, r->x_lo, r->x_hi, r->x);
  if (d2)
    ph_grid_axis(ny, r->y_lo, r->y_hi, r->y);
  else
    r->y[0] = 0.0;
  ph_grid_options go = ph_grid_options_default();
  go.threads = cfg->threads;
  go.direct = cfg->direct;
  go.state_path = cfg->state_path;
  if (cfg->save_interval > 0) go.save_interval = cfg->save_interval;
  go.progress = cfg->progress;
  go.interrupt = cfg->interrupt;
  go.hold_after = cfg->hold_after;
  PH_TRY(ph_grid_eval(o, r->center, d1, d2, &cfg->batch, &ax, &go, r->loss,
                      r->acc, &r->grid, err));
  if (cfg->with_second) {
    r->loss2 = ph_malloc(np, sizeof(double), "slice surface", err);
    r->acc2 = ph_malloc(np, sizeof(double), "slice surface", err);
    char *sp2 = NULL;
    if (cfg->state_path) {
      size_t len = strlen(cfg->state_path) + 8;
      sp2 = malloc(len);
      if (sp2) snprintf(sp2, len, "%s.second", cfg->state_path);
    }
    if (!r->loss2 || !r->acc2 || (cfg->state_path && !sp2)) {
      free(sp2);
      return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
    }
    go.state_path = sp2;
    ph_status s2 = ph_grid_eval(o, r->center, d1, d2, &cfg->second_batch, &ax,
                                &go, r->loss2, r->acc2, &r->grid2, err);
    free(sp2);
    if (s2 != PH_OK) return s2;
  }

  /* Quadratic model along an eigen-direction: L0 + α gᵀv + ½ (vᵀHv) α². For
   * a Hessian eigenvector vᵀHv is its eigenvalue; for a pothole direction it
   * is the local curvature κ_loc(v). */
  if (!d2 && (cfg->dirs == PH_SLICE_HESSIAN || cfg->dirs == PH_SLICE_POTHOLE)) {
    double *g = ph_malloc(n, sizeof(double), "quadratic model", err);
    double *hv = ph_malloc(n, sizeof(double), "quadratic model", err);
    r->quad = ph_malloc(nx, sizeof(double), "quadratic model", err);
    ph_status st = PH_OK;
    if (!g || !hv || !r->quad) st = PH_ERR_NOMEM;
    if (st == PH_OK)
      st = ph_objective_loss_grad(o, r->center, &cfg->batch, &r->loss0, g, err);
    if (st == PH_OK)
      st = ph_objective_hvp(o, r->center, &cfg->batch, d1, hv, err);
    if (st == PH_OK) {
      double nn = ph_vec_dot(n, d1, d1);
      r->gdotv = ph_vec_dot(n, g, d1);
      double curv = ph_vec_dot(n, d1, hv) / nn;
      r->curvature = curv;
      for (size_t i = 0; i < nx; i++) {
        double a = r->x[i];
        r->quad[i] = r->loss0 + a * r->gdotv + 0.5 * curv * nn * a * a;
      }
    }
    free(g);
    free(hv);
    if (st != PH_OK) return st;
  }
  return PH_OK;
}

/* ---- files --------------------------------------------------------------- */

typedef struct written {
  char *paths[12];
  int n;
} written;

static ph_status out_path(const char *dir, const char *name, written *w,
                          char **path, ph_error *err) {
  *path = ph_path_join(dir, name, err);
  if (!*path) return PH_ERR_NOMEM;
  PH_ASSERT(w->n < 12);
  w->paths[w->n++] = *path;
  return PH_OK;
}

static cJSON *range_json(double lo, double hi) {
  double v[2] = {lo, hi};
  return ph_json_array(v, 2);
}

static cJSON *slice_json(const ph_objective *o, const ph_slice_config *cfg,
                         const ph_slice_result *r, const cJSON *extra) {
  cJSON *root = cJSON_CreateObject();
  ph_json_add_stamp(root);
  if (extra) cJSON_AddItemToObject(root, "config", cJSON_Duplicate(extra, 1));
  cJSON_AddStringToObject(root, "objective", o->name ? o->name : "");
  cJSON_AddNumberToObject(root, "n_params", (double)o->n);

  cJSON *d = cJSON_AddObjectToObject(root, "directions");
  cJSON_AddStringToObject(d, "kind", ph_slice_dirs_name(cfg->dirs));
  const char *norm = "none";
  if (cfg->dirs == PH_SLICE_RANDOM)
    norm = ph_dir_norm_name(cfg->norm);
  else if (cfg->dirs == PH_SLICE_HESSIAN || cfg->dirs == PH_SLICE_PCA ||
           cfg->dirs == PH_SLICE_POTHOLE)
    norm = "unit";
  cJSON_AddStringToObject(d, "normalization", norm);
  cJSON_AddBoolToObject(d, "include_bias", cfg->include_bias);
  cJSON_AddNumberToObject(d, "seed", (double)cfg->seed);
  cJSON_AddItemToObject(d, "norms", ph_json_array(r->norms, r->two_d ? 2 : 1));
  ph_json_add_number(d, "cosine", r->cos12);
  if (cfg->dirs == PH_SLICE_PCA)
    cJSON_AddItemToObject(d, "explained_variance",
                          ph_json_array(r->explained, r->two_d ? 2 : 1));
  if (cfg->dirs == PH_SLICE_HESSIAN || cfg->dirs == PH_SLICE_POTHOLE) {
    cJSON_AddItemToObject(d,
                          cfg->dirs == PH_SLICE_HESSIAN ? "eigenvalues" : "mu",
                          ph_json_array(r->eigval, r->two_d ? 2 : 1));
    cJSON_AddItemToObject(d, "residuals",
                          ph_json_array(r->eig_resid, r->two_d ? 2 : 1));
    cJSON_AddNumberToObject(d, "products", (double)r->products);
    cJSON_AddStringToObject(d, "solver", r->solver ? r->solver : "");
  }
  ph_json_add_number(d, "seconds", r->dir_seconds);

  cJSON *g = cJSON_AddObjectToObject(root, "grid");
  cJSON_AddNumberToObject(g, "dims", r->two_d ? 2 : 1);
  cJSON_AddNumberToObject(g, "nx", (double)r->nx);
  cJSON_AddNumberToObject(g, "ny", (double)r->ny);
  cJSON_AddItemToObject(g, "x_range", range_json(r->x_lo, r->x_hi));
  if (r->two_d)
    cJSON_AddItemToObject(g, "y_range", range_json(r->y_lo, r->y_hi));
  cJSON_AddBoolToObject(g, "auto_range", cfg->auto_range && r->traj_T > 0);
  double lmin = INFINITY, lmax = -INFINITY;
  size_t np = r->nx * r->ny;
  for (size_t k = 0; k < np; k++)
    if (isfinite(r->loss[k])) {
      lmin = fmin(lmin, r->loss[k]);
      lmax = fmax(lmax, r->loss[k]);
    }
  ph_json_add_number(g, "loss_min", lmin);
  ph_json_add_number(g, "loss_max", lmax);
  cJSON_AddNumberToObject(g, "nonfinite", (double)r->grid.nonfinite);

  cJSON *e = cJSON_AddObjectToObject(root, "eval_set");
  cJSON_AddStringToObject(e, "split",
                          cfg->batch.split == PH_SPLIT_TEST ? "test" : "train");
  cJSON_AddNumberToObject(e, "n", (double)cfg->batch.n);
  cJSON_AddStringToObject(e, "which", cfg->batch.idx ? "indices" : "first n");
  if (r->loss2) {
    cJSON *e2 = cJSON_AddObjectToObject(root, "second_eval_set");
    cJSON_AddStringToObject(e2, "split",
                            cfg->second_batch.split == PH_SPLIT_TEST ? "test"
                                                                     : "train");
    cJSON_AddNumberToObject(e2, "n", (double)cfg->second_batch.n);
    cJSON_AddStringToObject(e2, "files",
                            "surface_test_loss.npy, surface_test_acc.npy");
    ph_json_add_number(e2, "grid_seconds", r->grid2.seconds);
  }

  cJSON *t = cJSON_AddObjectToObject(root, "timing");
  ph_json_add_number(t, "grid_seconds", r->grid.seconds);
  ph_json_add_number(t, "points_per_second", r->grid.points_per_second);
  cJSON_AddNumberToObject(t, "threads", r->grid.threads);
  cJSON_AddNumberToObject(t, "ranks", r->grid.ranks);
  cJSON_AddStringToObject(t, "evaluation", r->grid.plane ? "plane" : "direct");
  ph_json_add_number(t, "work_seconds", r->grid.work_seconds);
  ph_json_add_number(t, "comm_seconds", r->grid.comm_seconds);
  cJSON_AddNumberToObject(t, "points", (double)r->grid.points);
  cJSON_AddNumberToObject(t, "computed", (double)r->grid.computed);
  cJSON_AddNumberToObject(t, "resumed", (double)r->grid.resumed);
  ph_json_add_number(t, "directions_seconds", r->dir_seconds);
  ph_json_add_number(t, "trajectory_seconds", r->traj_seconds);

  if (r->quad) {
    cJSON *q = cJSON_AddObjectToObject(root, "quadratic_model");
    ph_json_add_number(q, "loss0", r->loss0);
    ph_json_add_number(q, "gTv", r->gdotv);
    ph_json_add_number(q, "curvature", r->curvature);
  }
  if (r->traj_T > 0) {
    cJSON *tr = cJSON_AddObjectToObject(root, "trajectory");
    cJSON_AddNumberToObject(tr, "points", (double)r->traj_T);
    double mo = 0, rel = 0;
    for (size_t k = 0; k < r->traj_T; k++) mo = fmax(mo, r->t_off[k]);
    for (size_t k = 0; k < r->traj_T; k++) {
      double inplane = hypot(r->t_x[k] * r->norms[0],
                             r->two_d ? r->t_y[k] * r->norms[1] : 0.0);
      if (inplane + r->t_off[k] > 0)
        rel = fmax(rel, r->t_off[k] / (inplane + r->t_off[k]));
    }
    ph_json_add_number(tr, "max_off_plane", mo);
    ph_json_add_number(tr, "max_off_plane_fraction", rel);
  }
  return root;
}

ph_status ph_slice_write(const char *dir, const ph_objective *o,
                         const ph_slice_config *cfg, const ph_slice_result *r,
                         const cJSON *extra, ph_error *err) {
  written w = {{0}, 0};
  ph_status st;
  char *p;
  cJSON *root = NULL;
  size_t n = r->n;
  if ((st = ph_mkdir_p(dir, err)) != PH_OK) return st;
  size_t shape2[2] = {r->ny, r->nx}, shaped[2] = {r->two_d ? 2 : 1, n};
  int nd = r->two_d ? 2 : 1;
  const size_t *shape = r->two_d ? shape2 : shape2 + 1;
  if ((st = out_path(dir, "surface_loss.npy", &w, &p, err)) ||
      (st = ph_npy_write(p, r->loss, nd, shape, err)) ||
      (st = out_path(dir, "surface_acc.npy", &w, &p, err)) ||
      (st = ph_npy_write(p, r->acc, nd, shape, err)) ||
      (st = out_path(dir, "x.npy", &w, &p, err)) ||
      (st = ph_npy_write_vec(p, r->x, r->nx, err)) ||
      (st = out_path(dir, "directions.npy", &w, &p, err)) ||
      (st = ph_npy_write(p, r->dirs, 2, shaped, err)))
    goto fail;
  if (r->loss2 && ((st = out_path(dir, "surface_test_loss.npy", &w, &p, err)) ||
                   (st = ph_npy_write(p, r->loss2, nd, shape, err)) ||
                   (st = out_path(dir, "surface_test_acc.npy", &w, &p, err)) ||
                   (st = ph_npy_write(p, r->acc2, nd, shape, err))))
    goto fail;
  if (r->two_d && ((st = out_path(dir, "y.npy", &w, &p, err)) ||
                   (st = ph_npy_write_vec(p, r->y, r->ny, err))))
    goto fail;
  if (r->traj_T > 0) {
    ph_csv c;
    if ((st = out_path(dir, "trajectory.csv", &w, &p, err)) ||
        (st = ph_csv_open(&c, p, "step,x,y,loss_at_point,off_plane", err)))
      goto fail;
    for (size_t t = 0; t < r->traj_T; t++) {
      ph_csv_num(&c, r->t_step[t]);
      ph_csv_num(&c, r->t_x[t]);
      ph_csv_num(&c, r->t_y[t]);
      ph_csv_num(&c, r->t_loss[t]);
      ph_csv_num(&c, r->t_off[t]);
      ph_csv_end_row(&c);
    }
    if ((st = ph_csv_commit(&c, err))) goto fail;
  }
  if (r->quad) {
    ph_csv c;
    if ((st = out_path(dir, "slice1d.csv", &w, &p, err)) ||
        (st = ph_csv_open(&c, p, "alpha,loss,quadratic", err)))
      goto fail;
    for (size_t i = 0; i < r->nx; i++) {
      ph_csv_num(&c, r->x[i]);
      ph_csv_num(&c, r->loss[i]);
      ph_csv_num(&c, r->quad[i]);
      ph_csv_end_row(&c);
    }
    if ((st = ph_csv_commit(&c, err))) goto fail;
  }
  root = slice_json(o, cfg, r, extra);
  if (!root) {
    st = ph_error_set(err, PH_ERR_NOMEM, "slice.json: out of memory");
    goto fail;
  }
  if ((st = out_path(dir, "slice.json", &w, &p, err)) ||
      (st = ph_json_write_file(p, root, err)))
    goto fail;
  cJSON_Delete(root);
  for (int i = 0; i < w.n; i++) free(w.paths[i]);
  return PH_OK;
fail:
  cJSON_Delete(root);
  for (int i = 0; i < w.n; i++) {
    unlink(w.paths[i]);
    free(w.paths[i]);
  }
  return st;
}
