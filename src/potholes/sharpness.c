/* sharpness.c: λ_max and top eigenvalues of H, the pothole ratio and the
 * generalised eigenpairs H v = μP⁻¹v, SAM sharpness by projected ascent
 * (ball and ellipsoid), average-case sharpness, escape signals and their
 * amplification.
 *
 * References: Foret et al. 2021 (SAM); Keskar et al. 2017 (sharpness);
 * Golub & Van Loan §8 (symmetric eigenproblems); algorithms.md §5.
 * Derivations and the first-order predictions: docs/potholes.md §2-3.
 * Not here: the escape experiments (escape.c), landscape slices, and
 * loading of preconditioners (precond/: P enters as precond/geom.h's
 * operators).
 */
#include "potholes/sharpness.h"

#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/vec.h"
#include "linalg/lanczos.h"
#include "linalg/operators.h"

/* RNG streams of this module (all keyed by the caller's seed). */
enum {
  SHARP_STREAM_SAM = PH_RNG_STREAM_USER + 601,
  SHARP_STREAM_AVG = PH_RNG_STREAM_USER + 602
};

/* ------------------------------------------------------------- eigen */

ph_status ph_sharpness_eigs(ph_objective *o, const double *theta,
                            const ph_batch *b, const ph_geom *P, size_t k,
                            uint64_t seed, size_t dense_max, double *values,
                            double *vectors, double *lambda_min,
                            size_t *products, ph_error *err) {
  size_t n = o->n;
  if (k == 0 || k > n)
    return ph_error_set(err, PH_ERR_ARG,
                        "eigenpairs: k = %zu must be in "
                        "[1, n = %zu]",
                        k, n);
  /* H, or P^{1/2} H P^{1/2} (linalg's sandwich over the Hessian). */
  ph_op *hess, *sand = NULL;
  ph_status st = ph_op_hessian_create(o, theta, b, &hess, err);
  if (st == PH_OK && P)
    st = ph_op_sandwich_create(ph_op_linop(hess), &P->sqrt_P, &sand, err);
  if (st != PH_OK) goto done;
  ph_linop *A = ph_op_linop(sand ? sand : hess);
  if (lambda_min) *lambda_min = NAN;
  if (n <= dense_max) {
    double *m = ph_malloc(n * n, sizeof(double), "dense Hessian", err);
    double *e = ph_calloc(n, sizeof(double), "unit vector", err);
    double *col = ph_malloc(n, sizeof(double), "Hessian column", err);
    double *w = ph_malloc(n, sizeof(double), "eigenvalues", err);
    if (!m || !e || !col || !w) st = PH_ERR_NOMEM;
    for (size_t j = 0; st == PH_OK && j < n; j++) {
      e[j] = 1;
      st = ph_linop_apply(A, e, col, err);
      e[j] = 0;
      for (size_t i = 0; i < n; i++) m[i * n + j] = col[i];
    }
    if (st == PH_OK) {
      for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
          m[i * n + j] = m[j * n + i] = 0.5 * (m[i * n + j] + m[j * n + i]);
      lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U',
                                       (lapack_int)n, m, (lapack_int)n, w);
      if (info != 0)
        st = ph_error_set(err, PH_ERR_NUMERIC,
                          "dense eigensolver failed "
                          "(dsyevd info %d, n = %zu)",
                          (int)info, n);
    }
    if (st == PH_OK) {
      if (lambda_min) *lambda_min = w[0];
      for (size_t j = 0; j < k; j++) {
        size_t src = n - 1 - j; /* ascending -> descending */
        values[j] = w[src];
        if (vectors)
          for (size_t i = 0; i < n; i++) vectors[j * n + i] = m[i * n + src];
      }
    }
    ph_free(m);
    ph_free(e);
    ph_free(col);
    ph_free(w);
  } else {
    ph_eig_config cfg = ph_eig_config_default();
    cfg.k = k;
    cfg.which = PH_EIG_TOP;
    cfg.tol = 1e-8;
    cfg.seed = seed;
    cfg.want_vectors = vectors != NULL;
    ph_eig_result r;
    memset(&r, 0, sizeof r);
    st = ph_lanczos_run(A, &cfg, NULL, &r, err);
    if (st == PH_OK && r.k < k)
      st = ph_error_set(err, PH_ERR_NUMERIC,
                        "Lanczos returned %zu of %zu "
                        "eigenpairs",
                        r.k, k);
    if (st == PH_OK) {
      memcpy(values, r.values, k * sizeof(double));
      if (vectors) memcpy(vectors, r.vectors, k * n * sizeof(double));
    }
    ph_eig_result_free(&r);
  }
done:
  if (products && hess) *products += ph_op_linop(hess)->n_applies;
  ph_op_free(sand);
  ph_op_free(hess);
  return st;
}

ph_status ph_sharpness_pothole_ratio(ph_objective *o, const double *theta,
                                     const ph_batch *b, const ph_geom *P,
                                     const double *v, ph_pothole_dir *out,
                                     ph_error *err) {
  size_t n = o->n;
  double *u = ph_malloc(2 * n, sizeof(double), "pothole ratio buffer", err);
  if (!u) return PH_ERR_NOMEM;
  double *hu = u + n;
  double nv = ph_vec_nrm2(n, v);
  ph_status st = PH_OK;
  if (!(nv > 0)) {
    st = ph_error_set(err, PH_ERR_ARG, "pothole ratio of a zero direction");
  } else {
    ph_vec_copy(n, v, u);
    ph_vec_scal(n, 1.0 / nv, u);
    st = ph_objective_hvp(o, theta, b, u, hu, err);
    if (st == PH_OK) {
      out->kappa_loc = ph_vec_dot(n, u, hu);
      st = ph_linop_apply_const(&P->inv_P, u, hu, err);
    }
    if (st == PH_OK) {
      out->kappa_avg = ph_vec_dot(n, u, hu);
      out->pi = out->kappa_loc / out->kappa_avg;
      out->mu = out->pi;
    }
  }
  ph_free(u);
  return st;
}

ph_status ph_sharpness_directions(ph_objective *o, const double *theta,
                                  const ph_batch *b, const ph_geom *P, size_t k,
                                  uint64_t seed, size_t dense_max,
                                  ph_pothole_dir *dirs, double *vectors,
                                  ph_error *err) {
  size_t n = o->n;
  double *mu = ph_malloc(k, sizeof(double), "generalised eigenvalues", err);
  double *w = ph_malloc(k * n + n, sizeof(double), "generalised vectors", err);
  ph_status st = (mu && w) ? PH_OK : PH_ERR_NOMEM;
  if (st == PH_OK)
    st = ph_sharpness_eigs(o, theta, b, P, k, seed, dense_max, mu, w, NULL,
                           NULL, err);
  double *v = w ? w + k * n : NULL;
  for (size_t j = 0; st == PH_OK && j < k; j++) {
    /* v = P^{1/2} w / ‖P^{1/2} w‖ */
    st = ph_linop_apply_const(&P->sqrt_P, w + j * n, v, err);
    if (st != PH_OK) break;
    ph_vec_scal(n, 1.0 / ph_vec_nrm2(n, v), v);
    st = ph_sharpness_pothole_ratio(o, theta, b, P, v, &dirs[j], err);
    dirs[j].mu = mu[j];
    if (vectors) ph_vec_copy(n, v, vectors + j * n);
  }
  ph_free(mu);
  ph_free(w);
  return st;
}

/* ------------------------------------------------------ SAM sharpness */

/* ε = ρ Pd/√(dᵀPd) (ellipsoid) or ρ d/‖d‖ (ball); tmp (n). 0 if d = 0. */
static ph_status linear_max(const ph_geom *P, size_t n, const double *d,
                            double rho, double *eps, int *ok, ph_error *err) {
  double nrm;
  if (P) {
    PH_TRY(ph_linop_apply_const(&P->P, d, eps, err));
    nrm = sqrt(fmax(ph_vec_dot(n, d, eps), 0));
  } else {
    ph_vec_copy(n, d, eps);
    nrm = ph_vec_nrm2(n, d);
  }
  *ok = nrm > 0 && isfinite(nrm);
  if (*ok) ph_vec_scal(n, rho / nrm, eps);
  return PH_OK;
}

ph_status ph_sharpness_sam(ph_objective *o, const double *theta,
                           const ph_batch *b, const ph_geom *P, double rho,
                           size_t steps, uint64_t seed, double *value,
                           ph_error *err) {
  size_t n = o->n;
  double *buf = ph_malloc(3 * n, sizeof(double), "SAM ascent buffers", err);
  if (!buf) return PH_ERR_NOMEM;
  double *g = buf, *eps = buf + n, *x = buf + 2 * n;
  double l0, l;
  ph_status st = ph_objective_loss_grad(o, theta, b, &l0, g, err);
  int ok = 0;
  if (st == PH_OK) st = linear_max(P, n, g, rho, eps, &ok, err);
  if (st == PH_OK && !ok) { /* g = 0: a seeded random start on the boundary */
    ph_rng r = ph_rng_make(seed, SHARP_STREAM_SAM);
    ph_rng_fill_gauss(&r, x, n, 1.0);
    if (P) {
      st = ph_linop_apply_const(&P->sqrt_P, x, eps, err);
    } else {
      ph_vec_copy(n, x, eps);
    }
    double z = ph_vec_nrm2(n, x);
    ph_vec_scal(n, rho / z, eps); /* εᵀP⁻¹ε = ρ² for ε = ρP^{1/2}z/‖z‖ */
  }
  double best = 0; /* ε = 0 is feasible */
  for (size_t t = 0; st == PH_OK && t <= steps; t++) {
    for (size_t i = 0; i < n; i++) x[i] = theta[i] + eps[i];
    st = ph_objective_loss_grad(o, x, b, &l, t < steps ? g : NULL, err);
    if (st != PH_OK) break;
    if (l - l0 > best) best = l - l0;
    if (t == steps) break;
    st = linear_max(P, n, g, rho, eps, &ok, err);
    if (!ok) break; /* stationary point of the ascent */
  }
  if (st == PH_OK) *value = best;
  ph_free(buf);
  return st;
}

ph_status ph_sharpness_average(ph_objective *o, const double *theta,
                               const ph_batch *b, double sigma, size_t pairs,
                               uint64_t seed, double *mean, double *stderr_out,
                               ph_error *err) {
  size_t n = o->n;
  if (pairs < 2)
    return ph_error_set(err, PH_ERR_ARG,
                        "average sharpness needs >= 2 "
                        "pairs, got %zu",
                        pairs);
  double *buf = ph_malloc(2 * n, sizeof(double), "average sharpness", err);
  if (!buf) return PH_ERR_NOMEM;
  double *xi = buf, *x = buf + n, l0, lp, lm;
  ph_status st = ph_objective_loss_grad(o, theta, b, &l0, NULL, err);
  ph_rng r = ph_rng_make(seed, SHARP_STREAM_AVG);
  double m = 0, s2 = 0; /* Welford */
  for (size_t k = 0; st == PH_OK && k < pairs; k++) {
    ph_rng_fill_gauss(&r, xi, n, sigma);
    for (size_t i = 0; i < n; i++) x[i] = theta[i] + xi[i];
    st = ph_objective_loss_grad(o, x, b, &lp, NULL, err);
    if (st != PH_OK) break;
    for (size_t i = 0; i < n; i++) x[i] = theta[i] - xi[i];
    st = ph_objective_loss_grad(o, x, b, &lm, NULL, err);
    if (st != PH_OK) break;
    double y = 0.5 * (lp + lm) - l0, d = y - m;
    m += d / (double)(k + 1);
    s2 += d * (y - m);
  }
  if (st == PH_OK) {
    *mean = m;
    *stderr_out = sqrt(s2 / (double)(pairs - 1) / (double)pairs);
  }
  ph_free(buf);
  return st;
}

/* ------------------------------------------------------ escape signal */

ph_status ph_escape_signal(ph_objective *o, const double *theta,
                           const ph_batch *b, const ph_geom *P, double rho,
                           const double *v_in, ph_escape_sig *out,
                           ph_error *err) {
  size_t n = o->n;
  double *buf = ph_malloc(7 * n, sizeof(double), "escape signal", err);
  if (!buf) return PH_ERR_NOMEM;
  double *g = buf, *pg = buf + n, *x = buf + 2 * n, *g1 = buf + 3 * n;
  double *g2 = buf + 4 * n, *pg2 = buf + 5 * n, *v = buf + 6 * n;
  double l;
  memset(out, 0, sizeof *out);
  ph_vec_copy(n, v_in, v);
  ph_vec_scal(n, 1.0 / ph_vec_nrm2(n, v), v);
  ph_status st = ph_objective_loss_grad(o, theta, b, &l, g, err);
  if (st == PH_OK) st = ph_linop_apply_const(&P->P, g, pg, err);
  double gn = ph_vec_nrm2(n, g), pgn = ph_vec_nrm2(n, pg);
  if (st == PH_OK && !(gn > 0 && pgn > 0)) {
    /* at a stationary point ε = ρg/‖g‖ has no direction: nothing here is
     * defined (a status, not an error: the rest of the suite is) */
    out->s_sam = out->s_llqr = out->amplification = out->drift_ratio = NAN;
    out->predicted = out->predicted_sq = out->p_v = NAN;
    out->grad_norm = gn;
    out->pgrad_norm = pgn;
    out->undefined = "the gradient is zero at this point, so SAM's "
                     "perturbation has no direction";
    ph_free(buf);
    return PH_OK;
  }
  /* SAM */
  if (st == PH_OK) {
    for (size_t i = 0; i < n; i++) x[i] = theta[i] + rho * g[i] / gn;
    st = ph_objective_loss_grad(o, x, b, &l, g1, err);
  }
  /* LLQR+SAM */
  if (st == PH_OK) {
    for (size_t i = 0; i < n; i++) x[i] = theta[i] + rho * pg[i] / pgn;
    st = ph_objective_loss_grad(o, x, b, &l, g2, err);
  }
  if (st == PH_OK) st = ph_linop_apply_const(&P->P, g2, pg2, err);
  if (st == PH_OK) st = ph_linop_apply_const(&P->inv_P, v, x, err);
  if (st == PH_OK) {
    double vg = ph_vec_dot(n, v, g), vpg = ph_vec_dot(n, v, pg);
    double c_sam = -(ph_vec_dot(n, v, g1) - vg); /* vᵀ(Δ¹ − Δ⁰) */
    double c_llqr = -(ph_vec_dot(n, v, pg2) - vpg);
    out->s_sam = c_sam / ph_vec_nrm2(n, g1);
    out->s_llqr = c_llqr / ph_vec_nrm2(n, pg2);
    out->amplification = out->s_llqr / out->s_sam;
    out->drift_ratio = (c_llqr / -vpg) / (c_sam / -vg);
    out->p_v = 1.0 / ph_vec_dot(n, v, x);
    out->grad_norm = gn;
    out->pgrad_norm = pgn;
    out->predicted = out->p_v * gn / pgn;
    out->predicted_sq = out->predicted * out->predicted;
    if (!(out->s_sam != 0) || !isfinite(out->amplification))
      out->undefined = "SAM's correction along this direction is zero, so "
                       "the ratio A = s_llqr_sam / s_sam is undefined";
  }
  ph_free(buf);
  return st;
}

/* ------------------------------------------------------------- suite */

ph_sharpness_config ph_sharpness_config_default(void) {
  ph_sharpness_config c = {0.05, 5, 0, 20, 0.0, 100, 512};
  return c;
}

void ph_sharpness_result_free(ph_sharpness_result *r) {
  if (!r) return;
  ph_free(r->top);
  ph_free(r->dirs);
  ph_free(r->sig);
  ph_free(r->dir_vectors);
  memset(r, 0, sizeof *r);
}

ph_status ph_sharpness_run(ph_objective *o, const double *theta,
                           const ph_batch *b, const ph_geom *P,
                           const ph_sharpness_config *cfg,
                           ph_sharpness_result *res, ph_error *err) {
  memset(res, 0, sizeof *res);
  double t0 = ph_now();
  size_t n = o->n, k = cfg->k < n ? cfg->k : n;
  if (!(cfg->rho > 0) || cfg->k == 0)
    return ph_error_set(err, PH_ERR_ARG, "sharpness: need rho > 0 and k >= 1");
  res->n = n;
  res->k = k;
  res->has_precond = P != NULL;
  res->top = ph_calloc(k, sizeof(double), "top eigenvalues", err);
  if (!res->top) return PH_ERR_NOMEM;
  double *g = ph_malloc(n, sizeof(double), "gradient", err);
  if (!g) {
    ph_sharpness_result_free(res);
    return PH_ERR_NOMEM;
  }
  ph_status st = ph_objective_loss_grad(o, theta, b, &res->loss, g, err);
  res->grad_norm = ph_vec_nrm2(n, g);
  ph_free(g);
  if (st == PH_OK)
    st = ph_sharpness_eigs(o, theta, b, NULL, k, cfg->seed, cfg->dense_max,
                           res->top, NULL, &res->lambda_min, &res->products,
                           err);
  if (st == PH_OK) res->lambda_max = res->top[0];
  res->sam_ellipsoid = NAN;
  res->precond_lambda_max = NAN;
  if (st == PH_OK && P) {
    res->dirs = ph_calloc(k, sizeof *res->dirs, "pothole directions", err);
    res->sig = ph_calloc(k, sizeof *res->sig, "escape signals", err);
    res->dir_vectors = ph_calloc(k * n, sizeof(double), "directions", err);
    if (!res->dirs || !res->sig || !res->dir_vectors) st = PH_ERR_NOMEM;
    if (st == PH_OK)
      st = ph_sharpness_directions(o, theta, b, P, k, cfg->seed, cfg->dense_max,
                                   res->dirs, res->dir_vectors, err);
    if (st == PH_OK) res->precond_lambda_max = res->dirs[0].mu;
    for (size_t j = 0; st == PH_OK && j < k; j++) {
      st = ph_escape_signal(o, theta, b, P, cfg->rho, res->dir_vectors + j * n,
                            &res->sig[j], err);
    }
    if (st == PH_OK)
      st = ph_sharpness_sam(o, theta, b, P, cfg->rho, cfg->sam_steps, cfg->seed,
                            &res->sam_ellipsoid, err);
  }
  if (st == PH_OK)
    st = ph_sharpness_sam(o, theta, b, NULL, cfg->rho, cfg->sam_steps,
                          cfg->seed, &res->sam_euclidean, err);
  res->avg_sigma = cfg->sigma > 0 ? cfg->sigma : cfg->rho / sqrt((double)n);
  if (st == PH_OK)
    st = ph_sharpness_average(o, theta, b, res->avg_sigma, cfg->avg_pairs,
                              cfg->seed, &res->avg_mean, &res->avg_stderr, err);
  res->seconds = ph_now() - t0;
  if (st != PH_OK) ph_sharpness_result_free(res);
  return st;
}

ph_status ph_sharpness_to_json(const ph_sharpness_result *r,
                               const ph_sharpness_config *cfg, cJSON *obj,
                               ph_error *err) {
  int ok = 1;
  ok &= ph_json_add_number(obj, "n", (double)r->n) != NULL;
  ok &= ph_json_add_number(obj, "loss", r->loss) != NULL;
  ok &= ph_json_add_number(obj, "grad_norm", r->grad_norm) != NULL;
  ok &= ph_json_add_number(obj, "lambda_max", r->lambda_max) != NULL;
  ok &= ph_json_add_number(obj, "lambda_min", r->lambda_min) != NULL;
  cJSON *top = ph_json_array(r->top, r->k);
  ok &= top && cJSON_AddItemToObject(obj, "top_eigenvalues", top);
  if (r->has_precond) {
    ok &= ph_json_add_number(obj, "precond_lambda_max",
                             r->precond_lambda_max) != NULL;
    cJSON *arr = cJSON_AddArrayToObject(obj, "directions");
    ok &= arr != NULL;
    for (size_t j = 0; ok && j < r->k; j++) {
      cJSON *d = cJSON_CreateObject();
      ok &= d && cJSON_AddItemToArray(arr, d);
      if (!ok) break;
      const ph_pothole_dir *pd = &r->dirs[j];
      const ph_escape_sig *s = &r->sig[j];
      ph_json_add_number(d, "mu", pd->mu);
      ph_json_add_number(d, "kappa_loc", pd->kappa_loc);
      ph_json_add_number(d, "kappa_avg", pd->kappa_avg);
      ph_json_add_number(d, "pi", pd->pi);
      if (s->undefined) {
        cJSON_AddNullToObject(d, "amplification");
        cJSON_AddStringToObject(d, "undefined", s->undefined);
      } else {
        ph_json_add_number(d, "amplification", s->amplification);
      }
      ph_json_add_number(d, "predicted", s->predicted);
      ph_json_add_number(d, "predicted_squared", s->predicted_sq);
      ph_json_add_number(d, "drift_ratio", s->drift_ratio);
      ph_json_add_number(d, "s_sam", s->s_sam);
      ph_json_add_number(d, "s_llqr_sam", s->s_llqr);
      ok &= ph_json_add_number(d, "p_v", s->p_v) != NULL;
    }
  }
  cJSON *sam = cJSON_AddObjectToObject(obj, "sam_sharpness");
  ok &= sam != NULL;
  if (sam) {
    ph_json_add_number(sam, "euclidean", r->sam_euclidean);
    ph_json_add_number(sam, "ellipsoid", r->sam_ellipsoid);
    ph_json_add_number(sam, "rho", cfg->rho);
    ph_json_add_number(sam, "steps", (double)cfg->sam_steps);
  }
  cJSON *avg = cJSON_AddObjectToObject(obj, "average_sharpness");
  ok &= avg != NULL;
  if (avg) {
    ph_json_add_number(avg, "mean", r->avg_mean);
    ph_json_add_number(avg, "stderr", r->avg_stderr);
    ph_json_add_number(avg, "sigma", r->avg_sigma);
    ph_json_add_number(avg, "pairs", (double)cfg->avg_pairs);
  }
  ok &=
      ph_json_add_number(obj, "hessian_products", (double)r->products) != NULL;
  ok &= ph_json_add_number(obj, "seconds", r->seconds) != NULL;
  if (!ok) return ph_error_set(err, PH_ERR_NOMEM, "building sharpness JSON");
  return PH_OK;
}
