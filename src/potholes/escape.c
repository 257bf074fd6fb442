/* escape.c: escape experiments (start in a pit, run optimisers over seeds,
 * escape rate with Wilson intervals, median escape time, final loss,
 * trajectories) and the amplification sweep on potholeNd.
 *
 * References: Foret et al. 2021 (SAM); the LLQR+SAM seed paper
 * (algorithms.md §3.3); Wilson 1927 (score interval). Criterion, defaults
 * and the preconditioner's provenance: escape.h and docs/potholes.md §4-5.
 * Not here: the optimisers themselves (src/optim), except the small fixed-P
 * reference steppers of the "builtin" backend.
 */
#include "potholes/escape.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/alloc.h"
#include "core/csv.h"
#include "core/npy.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/stats.h"
#include "core/vec.h"
#include "potholes/have.h"
#include "potholes/sharpness.h"
#include "potholes/toys.h"
#if PH_POTHOLES_HAVE_OPTIM
#include "optim/optim.h"
#include "optim/precond.h"
#endif

enum {
  ESC_STREAM_START = PH_RNG_STREAM_USER + 611,
  ESC_STREAM_BURNIN = PH_RNG_STREAM_USER + 612
};

ph_escape_config ph_escape_config_default(void) {
  ph_escape_config c;
  memset(&c, 0, sizeof c);
  snprintf(c.landscape, sizeof c.landscape, "%s", PH_ESCAPE_DEFAULT_LANDSCAPE);
  c.n_opt = 4;
  const char *d[4] = {"sgd", "sam", "llqr", "llqr-sam"};
  for (int i = 0; i < 4; i++) snprintf(c.opt[i], sizeof c.opt[i], "%s", d[i]);
  c.seeds = 200;
  c.steps = 2000;
  c.start = PH_START_PIT;
  c.jitter = -1;
  c.random_box = 2;
  c.lr = PH_ESCAPE_DEFAULT_LR;
  c.momentum = 0;
  c.batch = 8;
  c.pfrom = PH_PFROM_FIT;
  c.burnin = 500;
  c.burnin_spread = 1;
  c.refresh_every = -1;
  c.escape_k = 3;
  c.n_traj = 4;
  return c;
}

ph_status ph_escape_parse_opts(ph_escape_config *cfg, const char *list,
                               ph_error *err) {
  cfg->n_opt = 0;
  const char *p = list;
  while (*p) {
    size_t len = strcspn(p, ",");
    if (len == 0 || len >= sizeof cfg->opt[0])
      return ph_error_set(err, PH_ERR_ARG, "bad optimiser list '%s'", list);
    if (cfg->n_opt == PH_ESCAPE_MAX_OPT)
      return ph_error_set(err, PH_ERR_ARG, "at most %d optimisers in '%s'",
                          PH_ESCAPE_MAX_OPT, list);
    memcpy(cfg->opt[cfg->n_opt], p, len);
    cfg->opt[cfg->n_opt][len] = 0;
    for (size_t j = 0; j < cfg->n_opt; j++)
      if (strcmp(cfg->opt[j], cfg->opt[cfg->n_opt]) == 0)
        return ph_error_set(err, PH_ERR_ARG, "optimiser '%s' listed twice",
                            cfg->opt[j]);
    cfg->n_opt++;
    p += len;
    if (*p == ',') p++;
  }
  if (cfg->n_opt == 0)
    return ph_error_set(err, PH_ERR_ARG, "empty optimiser list");
  return PH_OK;
}

/* ------------------------------------------------------------ steppers */

typedef enum { ST_SGD = 0, ST_SAM, ST_LLQR, ST_LLQR_SAM } st_kind;

typedef struct stepper {
  int builtin;
  st_kind kind;
  size_t n;
  double lr, rho, mom;
  double *pdiag;          /* (n) fixed P (builtin), NULL for sgd/sam */
  double *m, *g, *x, *pg; /* (n) builtin buffers */
#if PH_POTHOLES_HAVE_OPTIM
  ph_optim *o;
#endif
} stepper;

static int builtin_kind(const char *name, st_kind *k) {
  static const char *names[4] = {"sgd", "sam", "llqr", "llqr-sam"};
  for (int i = 0; i < 4; i++)
    if (strcmp(name, names[i]) == 0) {
      *k = (st_kind)i;
      return 1;
    }
  return 0;
}

static double default_rho(st_kind k) {
  return k == ST_SAM ? 0.05 : k == ST_LLQR_SAM ? 0.1 : 0.0;
}

static ph_status builtin_step(stepper *s, double *theta, ph_objective *obj,
                              const ph_batch *b, ph_error *err) {
  size_t n = s->n;
  double l;
  PH_TRY(ph_objective_loss_grad(obj, theta, b, &l, s->g, err));
  double *d = s->g;
  if (s->kind == ST_LLQR || s->kind == ST_LLQR_SAM) {
    for (size_t i = 0; i < n; i++) s->pg[i] = s->pdiag[i] * s->g[i];
    d = s->pg;
  }
  if (s->kind == ST_SAM || s->kind == ST_LLQR_SAM) {
    double nrm = ph_vec_nrm2(n, d);
    for (size_t i = 0; i < n; i++)
      s->x[i] = theta[i] + s->rho * d[i] / (nrm + 1e-12);
    PH_TRY(ph_objective_loss_grad(obj, s->x, b, &l, s->g, err));
    d = s->g;
    if (s->kind == ST_LLQR_SAM) {
      for (size_t i = 0; i < n; i++) s->pg[i] = s->pdiag[i] * s->g[i];
      d = s->pg;
    }
  }
  for (size_t i = 0; i < n; i++) {
    s->m[i] = s->mom * s->m[i] + d[i];
    theta[i] -= s->lr * s->m[i];
  }
  return PH_OK;
}

static void stepper_free(stepper *s) {
  ph_free(s->pdiag);
  ph_free(s->m);
  ph_free(s->g);
  ph_free(s->x);
  ph_free(s->pg);
#if PH_POTHOLES_HAVE_OPTIM
  ph_optim_free(s->o);
#endif
  memset(s, 0, sizeof *s);
}

/* Fresh-batch source for LLQR refreshes: draws from the seed's stream. */
typedef struct batch_src {
  size_t m, bs;
  ph_rng rng;
  size_t *idx; /* (bs) */
} batch_src;

static void draw_batch(batch_src *bsrc, ph_batch *out) {
  out->split = PH_SPLIT_TRAIN;
  if (bsrc->m == 0) {
    out->idx = NULL, out->n = 0;
    return;
  }
  for (size_t k = 0; k < bsrc->bs; k++)
    bsrc->idx[k] = (size_t)ph_rng_below(&bsrc->rng, bsrc->m);
  out->idx = bsrc->idx;
  out->n = bsrc->bs;
}

#if PH_POTHOLES_HAVE_OPTIM
static void src_next(void *ctx, ph_batch *out) {
  draw_batch(ctx, out);
}
#endif

/* The preconditioner diag for an LLQR stepper by cfg->pfrom (builtin: only
 * fit and identity). */
static ph_status make_stepper(const ph_escape_config *cfg, const char *name,
                              ph_objective *obj, const double *pdiag_in,
                              int builtin, stepper *s, ph_error *err) {
  memset(s, 0, sizeof *s);
  size_t n = obj->n;
  s->n = n;
  s->builtin = builtin;
  if (builtin) {
    if (!builtin_kind(name, &s->kind))
      return ph_error_set(err, PH_ERR_ARG,
                          "optimiser '%s' is not in the "
                          "builtin backend (sgd, sam, llqr, llqr-sam)",
                          name);
    s->lr = cfg->lr;
    s->mom = cfg->momentum;
    s->rho = cfg->rho > 0 ? cfg->rho : default_rho(s->kind);
    s->m = ph_calloc(n, sizeof(double), "momentum", err);
    s->g = ph_calloc(n, sizeof(double), "gradient", err);
    s->x = ph_calloc(n, sizeof(double), "perturbed point", err);
    s->pg = ph_calloc(n, sizeof(double), "preconditioned gradient", err);
    if (!s->m || !s->g || !s->x || !s->pg) {
      stepper_free(s);
      return PH_ERR_NOMEM;
    }
    if (s->kind == ST_LLQR || s->kind == ST_LLQR_SAM) {
      s->pdiag = ph_malloc(n, sizeof(double), "preconditioner", err);
      if (!s->pdiag) {
        stepper_free(s);
        return PH_ERR_NOMEM;
      }
      for (size_t i = 0; i < n; i++) s->pdiag[i] = pdiag_in ? pdiag_in[i] : 1;
    }
    return PH_OK;
  }
#if PH_POTHOLES_HAVE_OPTIM
  ph_optim_config oc;
  PH_TRY(ph_optim_config_default(name, &oc, err));
  oc.lr = cfg->lr;
  oc.momentum = cfg->momentum;
  oc.nesterov = 0;
  oc.weight_decay = 0; /* toys have no weights to decay */
  if (cfg->rho > 0) oc.rho = cfg->rho;
  if (cfg->refresh_every >= 0) oc.refresh_every = (size_t)cfg->refresh_every;
  PH_TRY(ph_optim_config_validate(&oc, err));
  PH_TRY(ph_optim_create(&oc, obj, &s->o, err));
  s->lr = cfg->lr;
  s->rho = ph_optim_get_config(s->o)->rho;
  if (ph_optim_precond(s->o) && pdiag_in) {
    ph_precond *p = ph_precond_from_diag(n, pdiag_in, err);
    if (!p) {
      stepper_free(s);
      return err && err->code ? err->code : PH_ERR_NOMEM;
    }
    ph_status st = ph_optim_set_precond(s->o, p, err);
    ph_precond_free(p);
    if (st != PH_OK) {
      stepper_free(s);
      return st;
    }
  }
  return PH_OK;
#else
  (void)cfg, (void)pdiag_in;
  return ph_error_set(err, PH_ERR_UNSUPPORTED,
                      "optimiser '%s': the optim "
                      "module is not built yet (use the builtin backend)",
                      name);
#endif
}

static ph_status stepper_step(stepper *s, double *theta, ph_objective *obj,
                              const ph_batch *b, batch_src *fresh,
                              ph_error *err) {
  if (s->builtin) return builtin_step(s, theta, obj, b, err);
#if PH_POTHOLES_HAVE_OPTIM
  ph_batch_source src = {fresh, src_next};
  ph_step_info info;
  return ph_optim_step(s->o, theta, obj, b, s->lr, &src, &info, err);
#else
  (void)fresh, (void)theta, (void)obj, (void)b;
  return ph_error_set(err, PH_ERR_UNSUPPORTED, "optim not built");
#endif
}

/* 1 if the stepper has a preconditioner (LLQR family). */
static int stepper_is_llqr(const stepper *s) {
  if (s->builtin) return s->kind == ST_LLQR || s->kind == ST_LLQR_SAM;
#if PH_POTHOLES_HAVE_OPTIM
  return ph_optim_precond(s->o) != NULL;
#else
  return 0;
#endif
}

/* diag(P) the stepper currently holds (ones when none). */
static void stepper_pdiag(const stepper *s, double *out) {
  if (s->builtin) {
    for (size_t i = 0; i < s->n; i++) out[i] = s->pdiag ? s->pdiag[i] : 1;
    return;
  }
#if PH_POTHOLES_HAVE_OPTIM
  const ph_precond *p = ph_optim_precond(s->o);
  if (p) {
    ph_precond_diag(p, out);
    return;
  }
#endif
  for (size_t i = 0; i < s->n; i++) out[i] = 1;
}

/* ---------------------------------------------------------- experiment */

/* P for an LLQR optimiser by cfg->pfrom, into pdiag (n). */
static ph_status obtain_precond(const ph_escape_config *cfg, const char *name,
                                ph_objective *obj, const double *basin,
                                int builtin, double *pdiag, ph_error *err) {
  size_t n = obj->n;
  if (cfg->pfrom == PH_PFROM_IDENTITY) {
    for (size_t i = 0; i < n; i++) pdiag[i] = 1;
    return PH_OK;
  }
  if (cfg->pfrom == PH_PFROM_FIT) {
    PH_TRY(ph_toy_basin_curvature(obj, pdiag, err));
    for (size_t i = 0; i < n; i++) pdiag[i] = 1 / pdiag[i];
    return PH_OK;
  }
  if (builtin)
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "--precond-from burnin needs "
                        "the optim backend (LLQR learns P there)");
  /* burn-in: the optimiser itself, in the wide basin, from identity */
  stepper s;
  PH_TRY(make_stepper(cfg, name, obj, NULL, 0, &s, err));
  double *theta = ph_malloc(n, sizeof(double), "burn-in point", err);
  size_t *idx =
      ph_calloc(cfg->batch ? cfg->batch : 1, sizeof(size_t), "batch", err);
  ph_status st = (theta && idx) ? PH_OK : PH_ERR_NOMEM;
  if (st == PH_OK) {
    ph_rng r = ph_rng_make(cfg->seed, ESC_STREAM_BURNIN);
    ph_rng_fill_gauss(&r, theta, n, cfg->burnin_spread);
    ph_vec_axpy(n, 1.0, basin, theta);
    batch_src bsrc = {obj->n_examples[0], cfg->batch,
                      ph_rng_make(cfg->seed, ESC_STREAM_BURNIN + 1), idx};
    ph_batch b;
    for (size_t t = 0; st == PH_OK && t < cfg->burnin; t++) {
      draw_batch(&bsrc, &b);
      st = stepper_step(&s, theta, obj, &b, &bsrc, err);
    }
    if (st != PH_OK) ph_error_prefix(err, "burn-in of %s: ", name);
  }
  if (st == PH_OK) stepper_pdiag(&s, pdiag);
  ph_free(theta);
  ph_free(idx);
  stepper_free(&s);
  return st;
}

void ph_escape_result_free(ph_escape_result *r) {
  if (!r) return;
  for (size_t i = 0; i < PH_ESCAPE_MAX_OPT; i++) {
    ph_free(r->rows[i].traj);
    ph_free(r->rows[i].precond_diag);
  }
  ph_free(r->ref);
  memset(r, 0, sizeof *r);
}

ph_status ph_escape_run(const ph_escape_config *cfg, ph_escape_result *res,
                        ph_error *err) {
  memset(res, 0, sizeof *res);
  if (cfg->seeds == 0 || cfg->steps == 0 || cfg->n_opt == 0)
    return ph_error_set(err, PH_ERR_ARG,
                        "escape: need seeds, steps and "
                        "optimisers");
  int builtin = cfg->backend == PH_BACKEND_BUILTIN;
#if !PH_POTHOLES_HAVE_OPTIM
  if (cfg->backend == PH_BACKEND_OPTIM)
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "the optim backend is not "
                        "built yet");
  builtin = 1;
#endif
  res->backend = builtin ? "builtin" : "optim";
  ph_objective *obj = ph_toy_create_str(cfg->landscape, err);
  if (!obj) return err && err->code ? err->code : PH_ERR_ARG;
  size_t n = obj->n, T = cfg->steps, m = obj->n_examples[0];
  res->n = n;
  ph_toy_geometry geo;
  ph_status st = ph_toy_geometry_get(obj, &geo, err);
  if (st != PH_OK) {
    ph_objective_destroy(obj);
    return st;
  }
  res->has_pit = geo.has_pit;
  res->radius = cfg->escape_k * geo.scale;
  res->jitter =
      cfg->jitter >= 0 ? cfg->jitter : (geo.has_pit ? geo.scale / 4 : 0.1);
  res->ref = ph_malloc(n, sizeof(double), "reference point", err);
  double *start = ph_malloc(n, sizeof(double), "start", err);
  double *theta = ph_malloc(n, sizeof(double), "iterate", err);
  double *pdiag = ph_malloc(n, sizeof(double), "preconditioner", err);
  double *esc = ph_malloc(cfg->seeds, sizeof(double), "escape steps", err);
  double *fl = ph_malloc(cfg->seeds, sizeof(double), "final losses", err);
  size_t *idx =
      ph_calloc(cfg->batch ? cfg->batch : 1, sizeof(size_t), "batch", err);
  if (!res->ref || !start || !theta || !pdiag || !esc || !fl || !idx) {
    st = PH_ERR_NOMEM;
    goto done;
  }
  /* θ_ref: the pit minimum (or the basin minimum without a pit) */
  ph_vec_copy(n, geo.has_pit ? geo.pit : geo.basin, res->ref);
  if (cfg->start == PH_START_BASIN) ph_vec_copy(n, geo.basin, res->ref);
  if (cfg->start == PH_START_POINT) ph_vec_copy(n, cfg->point, res->ref);
  if (cfg->start == PH_START_RANDOM && !geo.has_pit)
    ph_vec_copy(n, geo.basin, res->ref);
  double t_all = ph_now();
  for (size_t k = 0; st == PH_OK && k < cfg->n_opt; k++) {
    ph_escape_row *row = &res->rows[k];
    res->n_rows = k + 1;
    snprintf(row->opt, sizeof row->opt, "%s", cfg->opt[k]);
    double t0 = ph_now();
    /* is it an LLQR optimiser? make one stepper to ask */
    stepper probe;
    st = make_stepper(cfg, row->opt, obj, NULL, builtin, &probe, err);
    if (st != PH_OK) break;
    int llqr = stepper_is_llqr(&probe);
    stepper_free(&probe);
    if (llqr) {
      st = obtain_precond(cfg, row->opt, obj, geo.basin, builtin, pdiag, err);
      if (st != PH_OK) break;
      row->precond_diag = ph_malloc(n, sizeof(double), "precond diag", err);
      if (!row->precond_diag) {
        st = PH_ERR_NOMEM;
        break;
      }
      ph_vec_copy(n, pdiag, row->precond_diag);
    }
    row->n_traj = cfg->n_traj < cfg->seeds ? cfg->n_traj : cfg->seeds;
    size_t tlen;
    if (ph_mul_size(row->n_traj * (T + 1), n, &tlen) != 0) {
      st = ph_error_set(err, PH_ERR_NOMEM, "trajectory too large");
      break;
    }
    row->traj = ph_calloc(tlen ? tlen : 1, sizeof(double), "trajectories", err);
    if (!row->traj) {
      st = PH_ERR_NOMEM;
      break;
    }
    size_t n_esc = 0, n_div = 0, n_fin = 0;
    double dsum = 0;
    for (size_t s = 0; st == PH_OK && s < cfg->seeds; s++) {
      uint64_t sd = cfg->seed + s;
      stepper stp;
      st = make_stepper(cfg, row->opt, obj, llqr ? pdiag : NULL, builtin, &stp,
                        err);
      if (st != PH_OK) break;
      row->rho = stp.rho;
      /* start */
      ph_rng r = ph_rng_make(sd, ESC_STREAM_START);
      if (cfg->start == PH_START_RANDOM) {
        ph_rng_fill_uniform(&r, start, n, -cfg->random_box, cfg->random_box);
      } else {
        ph_rng_fill_gauss(&r, start, n, res->jitter);
        ph_vec_axpy(n, 1.0, res->ref, start);
      }
      ph_vec_copy(n, start, theta);
      batch_src bsrc = {m, cfg->batch, ph_rng_make(sd, PH_RNG_STREAM_BATCH),
                        idx};
      double *tr = s < row->n_traj ? row->traj + s * (T + 1) * n : NULL;
      if (tr) ph_vec_copy(n, theta, tr);
      long escaped_at = -1, last_inside = 0;
      int diverged = 0;
      double R2 = res->radius * res->radius;
      for (size_t t = 1; t <= T; t++) {
        ph_batch b;
        draw_batch(&bsrc, &b);
        ph_error e2 = {0};
        ph_status s2 = stepper_step(&stp, theta, obj, &b, &bsrc, &e2);
        if (s2 == PH_ERR_NUMERIC || !ph_vec_all_finite(n, theta)) {
          diverged = 1;
          if (escaped_at < 0) escaped_at = (long)t;
          if (tr)
            for (size_t u = t; u <= T; u++)
              for (size_t i = 0; i < n; i++) tr[u * n + i] = NAN;
          break;
        }
        if (s2 != PH_OK) {
          st = s2;
          if (err) *err = e2;
          break;
        }
        if (tr) ph_vec_copy(n, theta, tr + t * n);
        double d2 = 0;
        for (size_t i = 0; i < n; i++)
          d2 += (theta[i] - res->ref[i]) * (theta[i] - res->ref[i]);
        if (d2 <= R2) last_inside = (long)t;
      }
      /* escaped = outside the ball at the end; the escape step is the
       * first step after the last visit inside (excursions that fall
       * back into the pit do not count) */
      if (!diverged && last_inside < (long)T) escaped_at = last_inside + 1;
      stepper_free(&stp);
      if (st != PH_OK) break;
      if (escaped_at >= 0) esc[n_esc++] = (double)escaped_at;
      if (diverged) {
        n_div++;
      } else {
        double f;
        ph_toy_eval_clean(obj, theta, &f, NULL, NULL);
        fl[n_fin++] = f;
        double d2 = 0;
        for (size_t i = 0; i < n; i++)
          d2 += (theta[i] - res->ref[i]) * (theta[i] - res->ref[i]);
        dsum += sqrt(d2);
      }
    }
    if (st != PH_OK) break;
    row->seeds = cfg->seeds;
    row->escaped = n_esc;
    row->diverged = n_div;
    row->escape_rate = (double)n_esc / (double)cfg->seeds;
    ph_stats_wilson(n_esc, cfg->seeds, PH_STATS_LEVEL, &row->ci_lo,
                    &row->ci_hi);
    row->median_escape_step =
        n_esc ? ph_stats_quantile_inplace(esc, n_esc, 0.5) : NAN;
    ph_stats_summary fls = ph_stats_summarise(fl, 1, n_fin, PH_STATS_LEVEL);
    row->final_loss_mean = fls.mean;
    row->final_loss_std = fls.sd;
    row->final_dist_mean = n_fin ? dsum / (double)n_fin : NAN;
    row->seconds = ph_now() - t0;
  }
  res->seconds = ph_now() - t_all;
done:
  ph_free(start);
  ph_free(theta);
  ph_free(pdiag);
  ph_free(esc);
  ph_free(fl);
  ph_free(idx);
  ph_toy_geometry_free(&geo);
  ph_objective_destroy(obj);
  if (st != PH_OK) ph_escape_result_free(res);
  return st;
}

/* -------------------------------------------------------------- output */

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
    return "burn-in: the optimiser itself run in the wide basin from "
           "identity, refreshing its EMA preconditioner, then carried into "
           "the start";
  case PH_PFROM_FIT:
    return "fitted: P = diag(1/averaged basin curvature) of the landscape "
           "without its pits";
  default: return "identity: P = I";
  }
}

static cJSON *config_json(const ph_escape_config *cfg,
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
  if (cfg->start == PH_START_POINT)
    cJSON_AddItemToObject(c, "point", ph_json_array(cfg->point, res->n));
  ph_json_add_number(c, "jitter", res->jitter);
  ph_json_add_number(c, "random_box", cfg->random_box);
  ph_json_add_number(c, "lr", cfg->lr);
  ph_json_add_number(c, "rho", cfg->rho);
  ph_json_add_number(c, "momentum", cfg->momentum);
  ph_json_add_number(c, "batch", (double)cfg->batch);
  cJSON_AddStringToObject(c, "backend", res->backend);
  cJSON *pc = cJSON_AddObjectToObject(c, "preconditioner");
  if (pc) {
    cJSON_AddStringToObject(pc, "from", pfrom_name(cfg->pfrom));
    cJSON_AddStringToObject(pc, "how", pfrom_text(cfg->pfrom));
    if (cfg->pfrom == PH_PFROM_BURNIN) {
      ph_json_add_number(pc, "burnin_steps", (double)cfg->burnin);
      ph_json_add_number(pc, "burnin_spread", cfg->burnin_spread);
    }
    ph_json_add_number(pc, "refresh_every", (double)cfg->refresh_every);
    cJSON_AddStringToObject(pc, "refresh_note",
                            cfg->refresh_every < 0
                                ? "optimiser default (optim backend); the "
                                  "builtin backend never refreshes"
                                : "refresh period during the run (0 = never)");
  }
  cJSON *ec = cJSON_AddObjectToObject(c, "escape_criterion");
  if (ec) {
    cJSON_AddStringToObject(ec, "rule",
                            "escaped when |theta_T - ref| > radius at the "
                            "end; escape step = first step after the last "
                            "visit inside the ball; a non-finite iterate "
                            "counts as escaped (and diverged)");
    cJSON_AddItemToObject(ec, "ref", ph_json_array(res->ref, res->n));
    ph_json_add_number(ec, "k", cfg->escape_k);
    ph_json_add_number(ec, "radius", res->radius);
    cJSON_AddBoolToObject(ec, "has_pit", res->has_pit);
  }
  ph_json_add_number(c, "n_traj", (double)cfg->n_traj);
  return c;
}

ph_status ph_escape_write(const ph_escape_config *cfg,
                          const ph_escape_result *res, const cJSON *extra,
                          const char *dir, ph_error *err) {
  char *written[PH_ESCAPE_MAX_OPT + 4] = {0};
  size_t nw = 0;
  char *tdir = NULL, *path = NULL;
  cJSON *root = NULL;
  ph_status st = ph_mkdir_p(dir, err);
  if (st == PH_OK) {
    tdir = ph_path_join(dir, "trajectories", err);
    st = tdir ? ph_mkdir_p(tdir, err) : PH_ERR_NOMEM;
  }
  /* escape.csv */
  if (st == PH_OK) {
    path = ph_path_join(dir, "escape.csv", err);
    if (!path) st = PH_ERR_NOMEM;
  }
  if (st == PH_OK) {
    ph_csv c;
    st = ph_csv_open(&c, path,
                     "optimiser,escape_rate,ci_lo,ci_hi,median_escape_step,"
                     "final_loss_mean,final_loss_std,escaped,seeds,diverged,"
                     "final_dist_mean,rho",
                     err);
    if (st == PH_OK) {
      for (size_t k = 0; k < res->n_rows; k++) {
        const ph_escape_row *r = &res->rows[k];
        ph_csv_str(&c, r->opt);
        ph_csv_num(&c, r->escape_rate);
        ph_csv_num(&c, r->ci_lo);
        ph_csv_num(&c, r->ci_hi);
        ph_csv_num(&c, r->median_escape_step);
        ph_csv_num(&c, r->final_loss_mean);
        ph_csv_num(&c, r->final_loss_std);
        ph_csv_int(&c, (long long)r->escaped);
        ph_csv_int(&c, (long long)r->seeds);
        ph_csv_int(&c, (long long)r->diverged);
        ph_csv_num(&c, r->final_dist_mean);
        ph_csv_num(&c, r->rho);
        ph_csv_end_row(&c);
      }
      st = ph_csv_commit(&c, err);
    }
    if (st == PH_OK) written[nw++] = path, path = NULL;
  }
  /* trajectories */
  for (size_t k = 0; st == PH_OK && k < res->n_rows; k++) {
    const ph_escape_row *r = &res->rows[k];
    char name[64];
    snprintf(name, sizeof name, "%s.npy", r->opt);
    path = ph_path_join(tdir, name, err);
    if (!path) {
      st = PH_ERR_NOMEM;
      break;
    }
    size_t shape[3] = {r->n_traj, cfg->steps + 1, res->n};
    st = ph_npy_write(path, r->traj, 3, shape, err);
    if (st == PH_OK) written[nw++] = path, path = NULL;
  }
  /* toy.json */
  if (st == PH_OK) {
    root = cJSON_CreateObject();
    cJSON *c = root ? config_json(cfg, res) : NULL;
    if (!c) st = ph_error_set(err, PH_ERR_NOMEM, "building toy.json");
    if (st == PH_OK) {
      cJSON_AddItemToObject(root, "config", c);
      cJSON *rows = cJSON_AddArrayToObject(root, "results");
      for (size_t k = 0; rows && k < res->n_rows; k++) {
        const ph_escape_row *r = &res->rows[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(rows, o);
        cJSON_AddStringToObject(o, "optimiser", r->opt);
        ph_json_add_number(o, "escape_rate", r->escape_rate);
        ph_json_add_number(o, "ci_lo", r->ci_lo);
        ph_json_add_number(o, "ci_hi", r->ci_hi);
        ph_json_add_number(o, "median_escape_step", r->median_escape_step);
        ph_json_add_number(o, "final_loss_mean", r->final_loss_mean);
        ph_json_add_number(o, "final_loss_std", r->final_loss_std);
        ph_json_add_number(o, "escaped", (double)r->escaped);
        ph_json_add_number(o, "diverged", (double)r->diverged);
        ph_json_add_number(o, "final_dist_mean", r->final_dist_mean);
        ph_json_add_number(o, "rho", r->rho);
        ph_json_add_number(o, "seconds", r->seconds);
        if (r->precond_diag)
          cJSON_AddItemToObject(o, "precond_diag",
                                ph_json_array(r->precond_diag, res->n));
      }
      cJSON *tm = cJSON_AddObjectToObject(root, "timing");
      if (tm) {
        ph_json_add_number(tm, "seconds", res->seconds);
        ph_json_add_number(tm, "optimiser_steps",
                           (double)(res->n_rows * cfg->seeds * cfg->steps));
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
  cJSON_Delete(root);
  return st;
}

/* --------------------------------------------------- amplification sweep */

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
    int builtin = cfg->backend == PH_BACKEND_BUILTIN || !PH_POTHOLES_HAVE_OPTIM;
    if (st == PH_OK)
      st = obtain_precond(cfg, "llqr-sam", obj, geo.basin, builtin, pdiag, err);
    ph_geom P = ph_geom_diag(n, pdiag);
    double jit = cfg->jitter >= 0 ? cfg->jitter : geo.scale / 4;
    double rho = cfg->rho > 0 ? cfg->rho : 0.05;
    size_t cnt = 0;
    double pi_s = 0, pr_s = 0, pr2_s = 0, dr_s = 0;
    for (size_t s = 0; st == PH_OK && s < cfg->seeds; s++) {
      ph_rng r = ph_rng_make(cfg->seed + s, ESC_STREAM_START);
      ph_rng_fill_gauss(&r, theta, n, jit);
      ph_vec_axpy(n, 1.0, geo.pit, theta);
      ph_pothole_dir d;
      st = ph_sharp_directions(obj, theta, NULL, &P, 1, cfg->seed, 512, &d, v,
                               err);
      if (st != PH_OK) break;
      ph_escape_sig sg;
      st = ph_escape_signal(obj, theta, NULL, &P, rho, v, &sg, err);
      if (st != PH_OK) break;
      if (!isfinite(sg.amplification)) continue;
      amp[cnt++] = sg.amplification;
      pi_s += d.pi;
      pr_s += sg.predicted;
      pr2_s += sg.predicted_sq;
      dr_s += sg.drift_ratio;
    }
    if (st == PH_OK && cnt >= 2) {
      /* a Student-t interval: cnt is a handful of seeds, where the normal
       * quantile would understate the width */
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
        row->escape_sam = er.rows[0].escape_rate;
        row->escape_llqr_sam = er.rows[1].escape_rate;
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
