/* escape_amp.c: the amplification sweep on potholeNd (algorithms.md §5):
 * for each depth or width, at S points near the pit, the measured A(v)
 * along the top generalised eigenvector against the first-order
 * predictions (sharpness.c computes A), optionally with escape rates of
 * sam and llqr-sam from the one escape engine (escape.c).
 */
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/csv.h"
#include "core/rng.h"
#include "core/stats.h"
#include "core/vec.h"
#include "potholes/escape.h"
#include "potholes/sharpness.h"
#include "potholes/toys.h"

enum { AMP_STREAM = PH_RNG_STREAM_USER + 611 };

ph_status ph_amp_sweep(const ph_escape_config *cfg, const char *param,
                       const double *values, size_t n_values, ph_amp_row *rows,
                       int with_escape, ph_error *err) {
  if (strcmp(param, "depth") != 0 && strcmp(param, "width") != 0)
    return ph_error_set(err, PH_ERR_ARG,
                        "--sweep %s: expected depth or "
                        "width",
                        param);
  ph_toy_spec spec;
  PH_TRY(ph_toy_spec_parse(cfg->landscape, &spec, err));
  if (spec.kind != PH_TOY_POTHOLEND)
    return ph_error_set(err, PH_ERR_ARG,
                        "--sweep needs a potholeNd "
                        "landscape, got '%s'",
                        cfg->landscape);
  ph_status st = PH_OK;
  for (size_t iv = 0; st == PH_OK && iv < n_values; iv++) {
    ph_amp_row *row = &rows[iv];
    memset(row, 0, sizeof *row);
    row->value = values[iv];
    row->escape_sam = row->escape_llqr_sam = NAN;
    ph_escape_config c2 = *cfg;
    int len = snprintf(c2.landscape, sizeof c2.landscape, "%s%s%s=%.17g",
                       cfg->landscape, strchr(cfg->landscape, ':') ? "," : ":",
                       param, values[iv]);
    if (len < 0 || (size_t)len >= sizeof c2.landscape)
      return ph_error_set(err, PH_ERR_ARG, "landscape spec too long");
    ph_objective *obj;
    PH_TRY(ph_toy_create_str(c2.landscape, &obj, err));
    size_t n = obj->n;
    ph_toy_geometry geo;
    st = ph_toy_geometry_get(obj, &geo, err);
    if (st != PH_OK) {
      ph_objective_free(obj);
      break;
    }
    double *pdiag = ph_malloc(n, sizeof(double), "precond", err);
    double *theta = ph_malloc(n, sizeof(double), "point", err);
    double *v = ph_malloc(n, sizeof(double), "direction", err);
    double *amp = ph_malloc(cfg->seeds, sizeof(double), "amplifications", err);
    if (!pdiag || !theta || !v || !amp) st = PH_ERR_NOMEM;
    if (st == PH_OK)
      st = ph_escape_obtain_precond(cfg, obj, geo.basin, pdiag, err);
    ph_geom P;
    ph_geom_init_diag(&P, n, pdiag);
    double jit = cfg->jitter >= 0 ? cfg->jitter : geo.scale / 4;
    double rho = cfg->rho;
    size_t cnt = 0;
    double pi_s = 0, pr_s = 0, pr2_s = 0, dr_s = 0;
    for (size_t s = 0; st == PH_OK && s < cfg->seeds; s++) {
      ph_rng r = ph_rng_make(cfg->seed + s, AMP_STREAM);
      ph_rng_fill_gauss(&r, theta, n, jit);
      ph_vec_axpy(n, 1.0, geo.pit, theta);
      ph_pothole_dir d;
      st = ph_sharpness_directions(obj, theta, NULL, &P, 1, cfg->seed, 512, &d,
                                   v, err);
      if (st != PH_OK) break;
      ph_escape_sig sg;
      st = ph_escape_signal(obj, theta, NULL, &P, rho, v, &sg, err);
      if (st != PH_OK) break;
      if (sg.undefined) continue; /* g = 0 or no SAM signal along v */
      amp[cnt++] = sg.amplification;
      pi_s += d.pi;
      pr_s += sg.predicted;
      pr2_s += sg.predicted_sq;
      dr_s += sg.drift_ratio;
    }
    if (st == PH_OK && cnt >= 2) {
      /* a Student-t interval over the points (core/stats.h) */
      ph_stats_summary sm = ph_stats_summarise(amp, 1, cnt, PH_STATS_LEVEL);
      row->measured = sm.mean;
      row->ci_lo = sm.lo;
      row->ci_hi = sm.hi;
      row->pi = pi_s / (double)cnt;
      row->predicted = pr_s / (double)cnt;
      row->predicted_sq = pr2_s / (double)cnt;
      row->drift_ratio = dr_s / (double)cnt;
    } else if (st == PH_OK) {
      st = ph_error_set(err, PH_ERR_NUMERIC,
                        "%s: fewer than 2 points with a "
                        "defined amplification",
                        c2.landscape);
    }
    ph_free(pdiag);
    ph_free(theta);
    ph_free(v);
    ph_free(amp);
    ph_toy_geometry_free(&geo);
    ph_objective_free(obj);
    if (st == PH_OK && with_escape) {
      ph_escape_config c3 = c2;
      c3.n_opt = 2;
      snprintf(c3.opt[0], sizeof c3.opt[0], "sam");
      snprintf(c3.opt[1], sizeof c3.opt[1], "llqr-sam");
      c3.n_traj = 0;
      ph_escape_result er;
      st = ph_escape_run(&c3, &er, err);
      if (st == PH_OK) {
        row->escape_sam = er.rows[0].rate[PH_OUT_ESCAPED];
        row->escape_llqr_sam = er.rows[1].rate[PH_OUT_ESCAPED];
        ph_escape_result_free(&er);
      }
    }
  }
  return st;
}

ph_status ph_amp_write(const char *path, const char *param,
                       const ph_amp_row *rows, size_t n, ph_error *err) {
  ph_csv c;
  PH_TRY(ph_csv_open(&c, path,
                     "param,value,pi,predicted,measured,ci_lo,ci_hi,"
                     "predicted_squared,drift_ratio,escape_sam,"
                     "escape_llqr_sam",
                     err));
  for (size_t i = 0; i < n; i++) {
    ph_csv_str(&c, param);
    ph_csv_num(&c, rows[i].value);
    ph_csv_num(&c, rows[i].pi);
    ph_csv_num(&c, rows[i].predicted);
    ph_csv_num(&c, rows[i].measured);
    ph_csv_num(&c, rows[i].ci_lo);
    ph_csv_num(&c, rows[i].ci_hi);
    ph_csv_num(&c, rows[i].predicted_sq);
    ph_csv_num(&c, rows[i].drift_ratio);
    ph_csv_num(&c, rows[i].escape_sam);
    ph_csv_num(&c, rows[i].escape_llqr_sam);
    ph_csv_end_row(&c);
  }
  return ph_csv_commit(&c, err);
}

/* ------------------------------------------- like-with-like amplification */

/* Along the pit direction v (fixed: the top generalised eigenvector at the
 * pit minimum), at points θ = θ_pit + t v + ξ (|t| log-uniform in
 * [w/100, w], random sign; ξ ~ N(0, (w/10)² I) off v so that Pg is not
 * parallel to g), per ρ:
 *   LLQR+SAM vs LLQR: A = vᵀP∇L(θ + ρPg/‖Pg‖) / vᵀPg, first order
 *                     1 + ρπ/‖Pg‖ (π = λ_v p_v for a common eigenvector);
 *   SAM vs GD:        S = vᵀ∇L(θ + ρg/‖g‖) / vᵀg, first order 1 + ρλ/‖g‖.
 * Both compare a step with its own perturbation to the same step without
 * it, along the same v, with λ and π the curvatures at θ. One row per
 * point. */
ph_status ph_amp_like(const ph_escape_config *cfg, const double *rhos,
                      size_t n_rho, ph_amp_point **out, size_t *n_out,
                      ph_error *err) {
  *out = NULL;
  *n_out = 0;
  ph_objective *obj;
  PH_TRY(ph_toy_create_str(cfg->landscape, &obj, err));
  size_t n = obj->n;
  ph_toy_geometry geo;
  memset(&geo, 0, sizeof geo);
  ph_status st = ph_toy_geometry_get(obj, &geo, err);
  if (st == PH_OK && !geo.has_pit)
    st = ph_error_set(err, PH_ERR_ARG,
                      "--sweep like needs a landscape with a pit");
  double *buf = ph_malloc(8 * n + n * n, sizeof(double), "amplification", err);
  ph_amp_point *pts =
      ph_calloc(n_rho * cfg->seeds, sizeof *pts, "amplification", err);
  if (st == PH_OK && (!buf || !pts)) st = PH_ERR_NOMEM;
  double *P = buf, *v = P + n, *th = v + n, *g = th + n, *pg = g + n,
         *x = pg + n, *g1 = x + n, *tmp = g1 + n, *h = tmp + n;
  if (st == PH_OK) st = ph_escape_obtain_precond(cfg, obj, geo.basin, P, err);
  double w = geo.scale, qv = 0;
  if (st == PH_OK) {
    /* v: top eigenvector of P^{1/2} H P^{1/2} at the pit, v ∝ P^{1/2} w */
    ph_toy_eval_clean(obj, geo.pit, NULL, NULL, h);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++) h[i * n + j] *= sqrt(P[i] * P[j]);
    if (LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n, h,
                      (lapack_int)n, tmp) != 0)
      st = ph_error_set(err, PH_ERR_NUMERIC, "amplification: dsyev failed");
  }
  if (st == PH_OK) {
    for (size_t i = 0; i < n; i++) v[i] = sqrt(P[i]) * h[i * n + n - 1];
    ph_vec_scal(n, 1 / ph_vec_nrm2(n, v), v);
    for (size_t i = 0; i < n; i++) qv += v[i] * v[i] / P[i];
    const ph_toy_spec *sp = ph_toy_get_spec(obj);
    if (sp->kind == PH_TOY_POTHOLE2D)
      w = sqrt(v[0] * v[0] * pow(ph_toy_spec_get(sp, "sx"), 2) +
               v[1] * v[1] * pow(ph_toy_spec_get(sp, "sy"), 2));
  }
  size_t m = 0;
  for (size_t r = 0; st == PH_OK && r < n_rho; r++)
    for (size_t s = 0; s < cfg->seeds; s++) {
      ph_rng rg = ph_rng_make(cfg->seed + s, AMP_STREAM + 7);
      double u = ph_rng_uniform(&rg), sg = ph_rng_uniform(&rg) < 0.5 ? -1 : 1;
      double t = sg * w * pow(10.0, -2 + 2 * u);
      ph_rng_fill_gauss(&rg, th, n, w / 10);
      double along = ph_vec_dot(n, th, v);
      ph_vec_axpy(n, -along, v, th); /* ξ orthogonal to v */
      ph_vec_axpy(n, 1.0, geo.pit, th);
      ph_vec_axpy(n, t, v, th);
      double rho = rhos[r];
      /* the first order uses the curvature here: λ(θ) = vᵀH(θ)v and
       * π(θ) = λ(θ)/vᵀP⁻¹v */
      ph_toy_eval_clean(obj, th, NULL, g, h);
      double lam_t = 0;
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) lam_t += v[i] * h[i * n + j] * v[j];
      double pi_t = lam_t / qv;
      for (size_t i = 0; i < n; i++) pg[i] = P[i] * g[i];
      double gn = ph_vec_nrm2(n, g), pgn = ph_vec_nrm2(n, pg);
      double vg = ph_vec_dot(n, v, g), vpg = ph_vec_dot(n, v, pg);
      ph_amp_point *q = &pts[m++];
      q->rho = rho;
      q->t = t;
      q->pi = pi_t;
      if (!(gn > 0 && pgn > 0 && vg != 0 && vpg != 0)) {
        q->measured = q->predicted = q->sam_measured = q->sam_predicted = NAN;
        continue;
      }
      for (size_t i = 0; i < n; i++) x[i] = th[i] + rho * pg[i] / pgn;
      ph_toy_eval_clean(obj, x, NULL, g1, NULL);
      for (size_t i = 0; i < n; i++) tmp[i] = P[i] * g1[i];
      q->measured = ph_vec_dot(n, v, tmp) / vpg;
      q->predicted = 1 + rho * pi_t / pgn;
      for (size_t i = 0; i < n; i++) x[i] = th[i] + rho * g[i] / gn;
      ph_toy_eval_clean(obj, x, NULL, g1, NULL);
      q->sam_measured = ph_vec_dot(n, v, g1) / vg;
      q->sam_predicted = 1 + rho * lam_t / gn;
    }
  ph_free(buf);
  ph_toy_geometry_free(&geo);
  ph_objective_free(obj);
  if (st != PH_OK) {
    ph_free(pts);
    return st;
  }
  *out = pts;
  *n_out = m;
  return PH_OK;
}

/* Median and quartiles of the measured factor per band of the predicted
 * one (bands 1–1.5, 1.5–2, 2–3, 3–5, 5–10, > 10). */
void ph_amp_like_bands(const ph_amp_point *p, size_t n, int sam,
                       ph_amp_band bands[PH_AMP_BANDS]) {
  static const double edges[PH_AMP_BANDS + 1] = {1, 1.5, 2, 3, 5, 10, INFINITY};
  double *a = malloc((n ? n : 1) * sizeof(double)),
         *b = malloc((n ? n : 1) * sizeof(double));
  for (int k = 0; k < PH_AMP_BANDS; k++) {
    ph_amp_band *bd = &bands[k];
    memset(bd, 0, sizeof *bd);
    bd->lo = edges[k];
    bd->hi = edges[k + 1];
    size_t c = 0;
    for (size_t i = 0; a && b && i < n; i++) {
      double pr = sam ? p[i].sam_predicted : p[i].predicted;
      double me = sam ? p[i].sam_measured : p[i].measured;
      if (isfinite(pr) && isfinite(me) && pr >= bd->lo && pr < bd->hi)
        a[c] = me, b[c] = pr, c++;
    }
    bd->n = c;
    bd->pred_median = c ? ph_stats_quantile_inplace(b, c, 0.5) : NAN;
    bd->median = c ? ph_stats_quantile_inplace(a, c, 0.5) : NAN;
    bd->q1 = c ? ph_stats_quantile_inplace(a, c, 0.25) : NAN;
    bd->q3 = c ? ph_stats_quantile_inplace(a, c, 0.75) : NAN;
  }
  free(a);
  free(b);
}
