/* escape_amp.c: the amplification sweep on potholeNd (algorithms.md §5):
 * for each depth or width, at S points near the pit, the measured A(v)
 * along the top generalised eigenvector against the first-order
 * predictions (sharpness.c computes A), optionally with escape rates of
 * sam and llqr-sam from the one escape engine (escape.c).
 */
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
    ph_objective *obj = ph_toy_create_str(c2.landscape, err);
    if (!obj) return err && err->code ? err->code : PH_ERR_ARG;
    size_t n = obj->n;
    ph_toy_geometry geo;
    st = ph_toy_geometry_get(obj, &geo, err);
    if (st != PH_OK) {
      ph_objective_destroy(obj);
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
      st = ph_sharp_directions(obj, theta, NULL, &P, 1, cfg->seed, 512, &d, v,
                               err);
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
    ph_objective_destroy(obj);
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
