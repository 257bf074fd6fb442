/* escape_write.c: the files of one escape experiment: escape.csv (per
 * optimiser: every outcome's count, rate and Wilson interval), runs.csv (per
 * run: outcome, step and how P moved, so each escape can be attributed),
 * trajectories/<opt>.npy and precond/<opt>.npy ([run, step, dim]), toy.json
 * (the whole configuration, the criterion, the pit direction and timing).
 * Every file is written atomically; a failure removes what was written.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/alloc.h"
#include "core/csv.h"
#include "core/npy.h"
#include "potholes/escape.h"
#include "potholes/toys.h"

static const char *start_name(ph_escape_start s) {
  static const char *n[] = {"pit", "basin", "random", "point"};
  return n[s];
}
static const char *pfrom_name(ph_precond_from p) {
  static const char *n[] = {"burnin", "fit", "identity"};
  return n[p];
}
static const char *pfrom_text(ph_precond_from p) {
  switch (p) {
  case PH_PFROM_BURNIN:
    return "burn-in: src/optim's llqr run in the wide basin from identity, "
           "refreshing its EMA preconditioner, then carried into the start";
  case PH_PFROM_FIT:
    return "fitted: P = diag(1/averaged basin curvature) of the landscape "
           "without its pits";
  default: return "identity: P = I";
  }
}

cJSON *ph_escape_config_json(const ph_escape_config *cfg,
                             const ph_escape_result *res) {
  cJSON *c = cJSON_CreateObject();
  if (!c) return NULL;
  ph_toy_spec spec;
  char canon[PH_TOY_SPEC_MAX];
  if (ph_toy_spec_parse(cfg->landscape, &spec, NULL) == PH_OK) {
    ph_toy_spec_format(&spec, canon, sizeof canon);
    cJSON_AddStringToObject(c, "landscape", canon);
  }
  cJSON_AddStringToObject(c, "landscape_arg", cfg->landscape);
  cJSON *opts = cJSON_AddArrayToObject(c, "optimisers");
  for (size_t k = 0; opts && k < cfg->n_opt; k++)
    cJSON_AddItemToArray(opts, cJSON_CreateString(cfg->opt[k]));
  ph_json_add_number(c, "seeds", (double)cfg->seeds);
  ph_json_add_number(c, "steps", (double)cfg->steps);
  ph_json_add_number(c, "seed", (double)cfg->seed);
  cJSON_AddStringToObject(c, "start", start_name(cfg->start));
  if (cfg->start == PH_START_POINT && res)
    cJSON_AddItemToObject(c, "point", ph_json_array(cfg->point, res->n));
  ph_json_add_number(c, "jitter", res ? res->jitter : cfg->jitter);
  ph_json_add_number(c, "random_box", cfg->random_box);
  ph_json_add_number(c, "lr", cfg->lr);
  ph_json_add_number(c, "rho", cfg->rho);
  ph_json_add_number(c, "momentum", cfg->momentum);
  ph_json_add_number(c, "batch", (double)cfg->batch);
  cJSON_AddStringToObject(c, "engine", "src/optim (ph_optim_step)");
  cJSON *pc = cJSON_AddObjectToObject(c, "preconditioner");
  if (pc) {
    cJSON_AddStringToObject(pc, "from", pfrom_name(cfg->pfrom));
    cJSON_AddStringToObject(pc, "how", pfrom_text(cfg->pfrom));
    if (cfg->pfrom == PH_PFROM_BURNIN) {
      ph_json_add_number(pc, "burnin_steps", (double)cfg->burnin);
      ph_json_add_number(pc, "burnin_spread", cfg->burnin_spread);
    }
    cJSON_AddStringToObject(pc, "metric",
                            cfg->metric == PH_METRIC_NEWTON ? "newton" : "gn");
    ph_json_add_number(pc, "curvature_floor", cfg->curvature_floor);
    ph_json_add_number(pc, "damping", cfg->damping);
    ph_json_add_number(pc, "ema", cfg->ema_beta);
    ph_json_add_number(pc, "refresh", (double)cfg->refresh_every);
    cJSON_AddStringToObject(
        pc, "refresh_first",
        cfg->refresh_first == PH_REFRESH_FIRST_AFTER_K ? "k" : "start");
    ph_json_add_number(pc, "inner_steps", (double)cfg->inner_steps);
    ph_json_add_number(pc, "inner_lr", cfg->inner_lr);
    ph_json_add_number(pc, "refresh_batch", (double)cfg->refresh_batch);
    cJSON_AddStringToObject(pc, "refresh_note",
                            cfg->refresh_every == 0
                                ? "fixed P: never refreshed during the run"
                                : "live P: refreshed every `refresh` steps "
                                  "on a batch from its own stream");
  }
  cJSON *ec = cJSON_AddObjectToObject(c, "escape_criterion");
  if (ec && res) {
    cJSON_AddStringToObject(
        ec, "rule",
        res->basin_target
            ? "escaped: reached |theta - basin| <= basin_radius (absorbing; "
              "step = first arrival); diverged: non-finite or |theta - ref| "
              "> 1e6 (1 + |pit - basin|); trapped: |theta_T - ref| <= "
              "radius; orbiting: neither"
            : "escaped: |theta_T - ref| > radius at the end; trapped: "
              "inside; diverged: non-finite");
    cJSON_AddItemToObject(ec, "ref", ph_json_array(res->ref, res->n));
    cJSON_AddItemToObject(ec, "basin", ph_json_array(res->basin, res->n));
    ph_json_add_number(ec, "k", cfg->escape_k);
    ph_json_add_number(ec, "radius", res->radius);
    ph_json_add_number(ec, "basin_frac", cfg->basin_frac);
    ph_json_add_number(ec, "basin_radius", res->basin_radius);
    cJSON_AddBoolToObject(ec, "has_pit", res->has_pit);
  }
  if (res) {
    cJSON *pd = cJSON_AddObjectToObject(c, "pit_direction");
    ph_json_add_number(pd, "p_v", res->pit_dir_p);
    ph_json_add_number(pd, "lambda_v", res->pit_lambda);
    ph_json_add_number(pd, "pi_v", res->pit_pi);
    ph_json_add_number(pd, "llqr_lr_threshold", res->lr_threshold);
    ph_json_add_number(pd, "lr_over_threshold", cfg->lr / res->lr_threshold);
  }
  ph_json_add_number(c, "n_traj", (double)cfg->n_traj);
  if (res) ph_json_add_number(c, "threads", (double)cfg->threads);
  return c;
}

static ph_status write_summary(const ph_escape_result *res, const char *path,
                               ph_error *err) {
  ph_csv c;
  PH_TRY(ph_csv_open(
      &c, path,
      "optimiser,base,lr,rho,seeds,escape_rate,ci_lo,ci_hi,escaped,trapped,"
      "trapped_lo,trapped_hi,orbiting,orbiting_lo,orbiting_hi,diverged,"
      "diverged_lo,diverged_hi,median_escape_step,final_loss_mean,"
      "final_loss_std,final_dist_mean",
      err));
  for (size_t k = 0; k < res->n_rows; k++) {
    const ph_escape_row *r = &res->rows[k];
    ph_csv_str(&c, r->opt);
    ph_csv_str(&c, r->base);
    ph_csv_num(&c, r->lr);
    ph_csv_num(&c, r->rho);
    ph_csv_int(&c, (long long)r->seeds);
    ph_csv_num(&c, r->rate[PH_OUT_ESCAPED]);
    ph_csv_num(&c, r->lo[PH_OUT_ESCAPED]);
    ph_csv_num(&c, r->hi[PH_OUT_ESCAPED]);
    ph_csv_int(&c, (long long)r->count[PH_OUT_ESCAPED]);
    for (int o = PH_OUT_TRAPPED; o < PH_OUT_COUNT; o++) {
      ph_csv_int(&c, (long long)r->count[o]);
      ph_csv_num(&c, r->lo[o]);
      ph_csv_num(&c, r->hi[o]);
    }
    ph_csv_num(&c, r->median_escape_step);
    ph_csv_num(&c, r->final_loss_mean);
    ph_csv_num(&c, r->final_loss_std);
    ph_csv_num(&c, r->final_dist_mean);
    ph_csv_end_row(&c);
  }
  return ph_csv_commit(&c, err);
}

static ph_status write_runs(const ph_escape_result *res, const char *path,
                            ph_error *err) {
  size_t np = res->n <= PH_ESCAPE_PLOG_MAX ? res->n : 1;
  char head[2048];
  int len = snprintf(head, sizeof head,
                     "optimiser,run,outcome,step,final_dist,final_loss,"
                     "n_refresh");
  const char *what[3] = {"pmin", "pmax", "pend"};
  for (int w = 0; w < 3; w++)
    for (size_t i = 0; i < np; i++)
      len += snprintf(head + len, sizeof head - (size_t)len,
                      res->n <= PH_ESCAPE_PLOG_MAX ? ",%s_%zu" : ",%s_all",
                      what[w], i);
  ph_csv c;
  PH_TRY(ph_csv_open(&c, path, head, err));
  for (size_t k = 0; k < res->n_rows; k++) {
    const ph_escape_row *r = &res->rows[k];
    for (size_t s = 0; s < r->seeds; s++) {
      const ph_escape_rec *e = &r->recs[s];
      ph_csv_str(&c, r->opt);
      ph_csv_int(&c, (long long)s);
      ph_csv_str(&c, ph_escape_outcome_names[e->outcome]);
      ph_csv_int(&c, (long long)e->step);
      ph_csv_num(&c, e->final_dist);
      ph_csv_num(&c, e->final_loss);
      ph_csv_int(&c, (long long)e->n_refresh);
      const double *arr[3] = {e->pmin, e->pmax, e->pend};
      for (int w = 0; w < 3; w++)
        for (size_t i = 0; i < np; i++)
          ph_csv_num(&c, r->precond_diag ? arr[w][i] : NAN);
      ph_csv_end_row(&c);
    }
  }
  return ph_csv_commit(&c, err);
}

ph_status ph_escape_write(const ph_escape_config *cfg,
                          const ph_escape_result *res, const cJSON *extra,
                          const char *dir, ph_error *err) {
  char *written[2 * PH_ESCAPE_MAX_OPT + 4] = {0};
  size_t nw = 0;
  char *tdir = NULL, *pdir = NULL, *path = NULL;
  cJSON *root = NULL;
  ph_status st = ph_mkdir_p(dir, err);
  if (st == PH_OK) {
    tdir = ph_path_join(dir, "trajectories", err);
    pdir = ph_path_join(dir, "precond", err);
    st = tdir && pdir ? ph_mkdir_p(tdir, err) : PH_ERR_NOMEM;
    if (st == PH_OK) st = ph_mkdir_p(pdir, err);
  }
  const char *csvs[2] = {"escape.csv", "runs.csv"};
  for (int f = 0; st == PH_OK && f < 2; f++) {
    path = ph_path_join(dir, csvs[f], err);
    if (!path) {
      st = PH_ERR_NOMEM;
      break;
    }
    st = f == 0 ? write_summary(res, path, err) : write_runs(res, path, err);
    if (st == PH_OK) written[nw++] = path, path = NULL;
  }
  for (size_t k = 0; st == PH_OK && k < res->n_rows; k++) {
    const ph_escape_row *r = &res->rows[k];
    char name[64];
    snprintf(name, sizeof name, "%s.npy", r->opt);
    size_t shape[3] = {res->n_traj, cfg->steps + 1, res->n};
    for (int w = 0; st == PH_OK && w < 2; w++) {
      const double *data = w == 0 ? r->traj : r->plog;
      if (!data) continue;
      path = ph_path_join(w == 0 ? tdir : pdir, name, err);
      if (!path) {
        st = PH_ERR_NOMEM;
        break;
      }
      st = ph_npy_write(path, data, 3, shape, err);
      if (st == PH_OK) written[nw++] = path, path = NULL;
    }
  }
  if (st == PH_OK) {
    root = cJSON_CreateObject();
    cJSON *c = root ? ph_escape_config_json(cfg, res) : NULL;
    if (!c) st = ph_error_set(err, PH_ERR_NOMEM, "building toy.json");
    if (st == PH_OK) {
      cJSON_AddItemToObject(root, "config", c);
      cJSON *rows = cJSON_AddArrayToObject(root, "results");
      for (size_t k = 0; rows && k < res->n_rows; k++) {
        const ph_escape_row *r = &res->rows[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(rows, o);
        cJSON_AddStringToObject(o, "optimiser", r->opt);
        cJSON_AddStringToObject(o, "base", r->base);
        ph_json_add_number(o, "lr", r->lr);
        ph_json_add_number(o, "rho", r->rho);
        for (int q = 0; q < PH_OUT_COUNT; q++) {
          cJSON *oc = cJSON_AddObjectToObject(o, ph_escape_outcome_names[q]);
          ph_json_add_number(oc, "count", (double)r->count[q]);
          ph_json_add_number(oc, "rate", r->rate[q]);
          ph_json_add_number(oc, "ci_lo", r->lo[q]);
          ph_json_add_number(oc, "ci_hi", r->hi[q]);
        }
        ph_json_add_number(o, "median_escape_step", r->median_escape_step);
        ph_json_add_number(o, "final_loss_mean", r->final_loss_mean);
        ph_json_add_number(o, "final_loss_std", r->final_loss_std);
        ph_json_add_number(o, "final_dist_mean", r->final_dist_mean);
        if (r->precond_diag)
          cJSON_AddItemToObject(o, "precond_diag",
                                ph_json_array(r->precond_diag, res->n));
      }
      cJSON *tm = cJSON_AddObjectToObject(root, "timing");
      if (tm) {
        ph_json_add_number(tm, "seconds", res->seconds);
        ph_json_add_number(tm, "runs", (double)(res->n_rows * cfg->seeds));
      }
      if (extra)
        cJSON_AddItemToObject(root, "extra", cJSON_Duplicate(extra, 1));
      ph_json_add_stamp(root);
      path = ph_path_join(dir, "toy.json", err);
      st = path ? ph_json_write_file(path, root, err) : PH_ERR_NOMEM;
      if (st == PH_OK) written[nw++] = path, path = NULL;
    }
  }
  if (st != PH_OK)
    for (size_t i = 0; i < nw; i++) remove(written[i]);
  for (size_t i = 0; i < nw; i++) ph_free(written[i]);
  ph_free(path);
  ph_free(tdir);
  ph_free(pdir);
  cJSON_Delete(root);
  return st;
}
