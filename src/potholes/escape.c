/* escape.c: one escape experiment (a "cell"): start each run in a pit, run
 * each optimiser through src/optim, classify the outcome (escaped to the
 * basin / trapped / orbiting / diverged), count with Wilson intervals and
 * keep what attributes an escape to its cause (P over the run).
 *
 * Everything runs through ph_optim_step: fixed P = refresh period 0 and P
 * set with ph_optim_set_precond. The controls (sam-matched, llqr-sam-euclid,
 * llqr-sam-ponly) are src/optim optimisers with one factor changed. Runs are
 * independent work items (optimiser, run) spread over threads, each with its
 * own toy objective (toys keep scratch buffers); results are stored by
 * index, so they do not depend on the thread count.
 *
 * References: Foret et al. 2021 (SAM); the LLQR+SAM paper (algorithms.md
 * §3.3); Wilson 1927 (score interval). Criterion and defaults: escape.h.
 */
#include "potholes/escape.h"

#include <lapacke.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/stats.h"
#include "core/vec.h"
#include "precond/precond.h"
#include "potholes/toys.h"

enum {
  ESC_STREAM_START = PH_RNG_STREAM_USER + 611,
  ESC_STREAM_BURNIN = PH_RNG_STREAM_USER + 612,
  ESC_STREAM_KEY = PH_RNG_STREAM_USER + 100000 /* + cell */
};

const char *const ph_escape_outcome_names[PH_OUT_COUNT] = {
    "escaped", "trapped", "orbiting", "diverged"};

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
  c.rho = PH_ESCAPE_DEFAULT_RHO;
  c.batch = 8;
  c.pfrom = PH_PFROM_FIT;
  c.burnin = 500;
  c.burnin_spread = 1;
  /* the LLQR knobs start at src/optim's defaults, refresh off */
  ph_optim_config oc;
  ph_optim_config_default("llqr", &oc, NULL);
  c.metric = oc.metric;
  c.curvature_floor = oc.curvature_floor;
  c.damping = oc.damping;
  c.ema_beta = oc.ema_beta;
  c.refresh_every = 0;
  c.refresh_first = PH_REFRESH_FIRST_START;
  c.inner_steps = oc.inner_steps;
  c.inner_lr = oc.inner_lr;
  c.refresh_batch = oc.refresh_batch;
  c.escape_k = 3;
  c.basin_frac = 0.5;
  c.n_traj = 4;
  c.threads = 1;
  return c;
}

/* A control: which src/optim optimiser it runs and what it changes. */
typedef enum { CTL_NONE = 0, CTL_MATCHED, CTL_EUCLID, CTL_PONLY } ctl_kind;
static const struct {
  const char *name, *base;
  ctl_kind kind;
} CONTROLS[] = {{"sam-matched", "sam", CTL_MATCHED},
                {"llqr-sam-euclid", "llqr-sam", CTL_EUCLID},
                {"llqr-sam-ponly", "llqr-sam", CTL_PONLY}};

static ctl_kind control_of(const char *name, const char **base) {
  for (size_t i = 0; i < sizeof CONTROLS / sizeof CONTROLS[0]; i++)
    if (strcmp(name, CONTROLS[i].name) == 0) {
      *base = CONTROLS[i].base;
      return CONTROLS[i].kind;
    }
  *base = name;
  return CTL_NONE;
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
    char *name = cfg->opt[cfg->n_opt];
    memcpy(name, p, len);
    name[len] = 0;
    for (size_t j = 0; j < cfg->n_opt; j++)
      if (strcmp(cfg->opt[j], name) == 0)
        return ph_error_set(err, PH_ERR_ARG, "optimiser '%s' listed twice",
                            name);
    const char *base;
    control_of(name, &base);
    ph_optim_config oc;
    if (ph_optim_config_default(base, &oc, NULL) != PH_OK)
      return ph_error_set(err, PH_ERR_ARG,
                          "unknown optimiser '%s' (a src/optim name, or the "
                          "controls sam-matched, llqr-sam-euclid, "
                          "llqr-sam-ponly)",
                          name);
    cfg->n_opt++;
    p += len;
    if (*p == ',') p++;
  }
  if (cfg->n_opt == 0)
    return ph_error_set(err, PH_ERR_ARG, "empty optimiser list");
  return PH_OK;
}

/* The src/optim configuration of optimiser `name` under cfg (lr is set per
 * experiment: sam-matched scales it by p_v). */
static ph_status optim_config_for(const ph_escape_config *cfg, const char *name,
                                  ph_optim_config *oc, ctl_kind *ctl,
                                  ph_error *err) {
  const char *base;
  *ctl = control_of(name, &base);
  PH_TRY(ph_optim_config_default(base, oc, err));
  oc->lr = cfg->lr;
  oc->momentum = cfg->momentum;
  oc->nesterov = 0;
  oc->weight_decay = 0;                /* toys have no weights to decay */
  if (oc->rho > 0) oc->rho = cfg->rho; /* the same ρ for every SAM type */
  oc->metric = cfg->metric;
  oc->curvature_floor = cfg->curvature_floor;
  oc->damping = cfg->damping;
  oc->ema_beta = cfg->ema_beta;
  oc->refresh_every = cfg->refresh_every;
  oc->refresh_first = cfg->refresh_first;
  oc->inner_steps = cfg->inner_steps;
  oc->inner_lr = cfg->inner_lr;
  oc->refresh_batch = cfg->refresh_batch;
  if (*ctl == CTL_EUCLID) oc->perturb = PH_PERTURB_EUCLID;
  if (*ctl == CTL_PONLY) oc->perturb_only = 1;
  return ph_optim_config_validate(oc, err);
}

ph_status ph_escape_config_validate(const ph_escape_config *c, ph_error *err) {
  if (c->seeds == 0 || c->steps == 0 || c->n_opt == 0)
    return ph_error_set(err, PH_ERR_ARG,
                        "escape: need seeds, steps and optimisers");
  if (!(c->escape_k > 0) || !(c->basin_frac > 0 && c->basin_frac < 1))
    return ph_error_set(err, PH_ERR_ARG,
                        "--escape-k must be > 0 and --basin-frac in (0, 1)");
  for (size_t k = 0; k < c->n_opt; k++) {
    ph_optim_config oc;
    ctl_kind ctl;
    PH_TRY(optim_config_for(c, c->opt[k], &oc, &ctl, err));
  }
  return PH_OK;
}

/* ------------------------------------------------------------- the plan */

/* What every run of one cell shares. */
typedef struct plan {
  const ph_escape_config *cfg;
  uint64_t cell;
  size_t n, T, m; /* dimension, steps, sample size (0: deterministic) */
  ph_optim_config oc[PH_ESCAPE_MAX_OPT];
  int has_precond[PH_ESCAPE_MAX_OPT];
  int cycle_ok[PH_ESCAPE_MAX_OPT]; /* the step is a pure function of θ */
  double *pdiag; /* (n) P handed to every LLQR-type optimiser */
  ph_escape_result *res;
  double div2, R2, rb2;
  /* threads */
  pthread_mutex_t mu;
  size_t next, total;
  ph_status st;
  ph_error err;
} plan;

/* A batch source drawing `bs` indices with replacement from its stream. */
typedef struct batch_src {
  size_t m, bs;
  ph_rng rng;
  size_t *idx;
} batch_src;

static void draw_batch(batch_src *s, ph_batch *out) {
  out->split = PH_SPLIT_TRAIN;
  if (s->m == 0) {
    out->idx = NULL, out->n = 0;
    return;
  }
  for (size_t k = 0; k < s->bs; k++)
    s->idx[k] = (size_t)ph_rng_below(&s->rng, s->m);
  out->idx = s->idx;
  out->n = s->bs;
}
static void src_next(void *ctx, ph_batch *out) {
  draw_batch(ctx, out);
}

ph_status ph_escape_obtain_precond(const ph_escape_config *cfg,
                                   ph_objective *obj, const double *basin,
                                   double *pdiag, ph_error *err) {
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
  /* burn-in: src/optim's llqr in the wide basin from identity, refreshing
   * every K steps (K = the run's K, or 50 when the run keeps P fixed) */
  ph_optim_config oc;
  ctl_kind ctl;
  PH_TRY(optim_config_for(cfg, "llqr", &oc, &ctl, err));
  if (oc.refresh_every == 0) oc.refresh_every = 50;
  oc.refresh_first = PH_REFRESH_FIRST_START;
  ph_optim *o;
  PH_TRY(ph_optim_create(&oc, obj, &o, err));
  double *theta = ph_malloc(n, sizeof(double), "burn-in point", err);
  size_t bs = cfg->batch > cfg->refresh_batch ? cfg->batch : cfg->refresh_batch;
  size_t *idx = ph_calloc(bs, sizeof(size_t), "batch", err);
  size_t *ridx = ph_calloc(bs, sizeof(size_t), "batch", err);
  ph_status st = (theta && idx && ridx) ? PH_OK : PH_ERR_NOMEM;
  if (st == PH_OK) {
    ph_rng r = ph_rng_make(cfg->seed, ESC_STREAM_BURNIN);
    ph_rng_fill_gauss(&r, theta, n, cfg->burnin_spread);
    ph_vec_axpy(n, 1.0, basin, theta);
    batch_src bsrc = {obj->n_examples[0], cfg->batch,
                      ph_rng_make(cfg->seed, ESC_STREAM_BURNIN + 1), idx};
    batch_src fsrc = {obj->n_examples[0], cfg->refresh_batch,
                      ph_rng_make(cfg->seed, ESC_STREAM_BURNIN + 2), ridx};
    ph_batch_source fresh = {&fsrc, src_next};
    for (size_t t = 0; st == PH_OK && t < cfg->burnin; t++) {
      ph_batch b;
      draw_batch(&bsrc, &b);
      st = ph_optim_step(o, theta, obj, &b, oc.lr, &fresh, NULL, err);
    }
    if (st != PH_OK) ph_error_prefix(err, "burn-in of llqr: ");
  }
  if (st == PH_OK) ph_precond_diag(ph_optim_precond(o), pdiag);
  ph_free(theta);
  ph_free(idx);
  ph_free(ridx);
  ph_optim_free(o);
  return st;
}

/* The pit direction v at ref: the top generalised eigenvector of
 * H v = μ P⁻¹ v (top eigenvector w of P^{1/2}HP^{1/2}, v ∝ P^{1/2}w), and
 * p_v = vᵀPv, λ_v = vᵀHv, π_v = λ_v / vᵀP⁻¹v. Dense (n ≤ 512). */
static ph_status pit_direction(ph_objective *obj, const double *ref,
                               const double *pdiag, ph_escape_result *res,
                               double *width, ph_error *err) {
  size_t n = obj->n;
  if (n > 512)
    return ph_error_set(err, PH_ERR_ARG,
                        "escape: the pit direction is dense (n ≤ 512)");
  double *h = ph_malloc(n * n, sizeof(double), "pit Hessian", err);
  double *hm = ph_malloc(n * n, sizeof(double), "pit Hessian", err);
  double *w = ph_malloc(n, sizeof(double), "eigenvalues", err);
  double *v = ph_malloc(n, sizeof(double), "pit direction", err);
  ph_status st = (h && hm && w && v) ? PH_OK : PH_ERR_NOMEM;
  if (st == PH_OK) {
    ph_toy_eval_clean(obj, ref, NULL, NULL, h);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++)
        hm[i * n + j] = sqrt(pdiag[i]) * h[i * n + j] * sqrt(pdiag[j]);
    lapack_int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n,
                                    hm, (lapack_int)n, w);
    if (info != 0)
      st = ph_error_set(err, PH_ERR_NUMERIC, "pit direction: dsyev %d",
                        (int)info);
  }
  if (st == PH_OK) {
    for (size_t i = 0; i < n; i++) v[i] = sqrt(pdiag[i]) * hm[i * n + n - 1];
    double nv = ph_vec_nrm2(n, v), pv = 0, lv = 0, qv = 0;
    for (size_t i = 0; i < n; i++) v[i] /= nv;
    for (size_t i = 0; i < n; i++) {
      pv += pdiag[i] * v[i] * v[i];
      qv += v[i] * v[i] / pdiag[i];
      for (size_t j = 0; j < n; j++) lv += v[i] * h[i * n + j] * v[j];
    }
    res->pit_dir_p = pv;
    res->pit_lambda = lv;
    res->pit_pi = lv / qv;
    res->lr_threshold = lv > 0 ? 2 / (pv * lv) : INFINITY;
    /* the pit's width along v (pothole2d has one per axis; a pit wide in
     * y must not widen the criterion along the sharp x) */
    const ph_toy_spec *sp = ph_toy_get_spec(obj);
    if (sp->kind == PH_TOY_POTHOLE2D && n == 2 &&
        ph_toy_spec_get(sp, "d") > 0) {
      double sx = ph_toy_spec_get(sp, "sx"), sy = ph_toy_spec_get(sp, "sy");
      *width = sqrt(v[0] * v[0] * sx * sx + v[1] * v[1] * sy * sy);
    }
  }
  ph_free(h);
  ph_free(hm);
  ph_free(w);
  ph_free(v);
  return st;
}

/* ----------------------------------------------------------- one run */

typedef struct worker {
  plan *p;
  ph_objective *obj;
  double *theta, *pd, *h1, *h2;
  size_t *idx, *ridx;
} worker;

static void p_track(ph_escape_rec *rec, const double *pd, size_t n, int first) {
  if (n <= PH_ESCAPE_PLOG_MAX) {
    for (size_t i = 0; i < n; i++) {
      if (first || pd[i] < rec->pmin[i]) rec->pmin[i] = pd[i];
      if (first || pd[i] > rec->pmax[i]) rec->pmax[i] = pd[i];
      rec->pend[i] = pd[i];
    }
    return;
  }
  double lo = pd[0], hi = pd[0];
  for (size_t i = 1; i < n; i++) lo = fmin(lo, pd[i]), hi = fmax(hi, pd[i]);
  if (first || lo < rec->pmin[0]) rec->pmin[0] = lo;
  if (first || hi > rec->pmax[0]) rec->pmax[0] = hi;
  rec->pend[0] = hi;
}

static double dist2(size_t n, const double *a, const double *b) {
  double d = 0;
  for (size_t i = 0; i < n; i++) d += (a[i] - b[i]) * (a[i] - b[i]);
  return d;
}

/* Equal to rounding: max |a − b| ≤ 1e-13 (1 + max |a|), a few hundred ulps;
 * the iterations that get there contract, so they stay within it. */
static int same_point(size_t n, const double *a, const double *b) {
  double d = 0, m = 0;
  for (size_t i = 0; i < n; i++) {
    d = fmax(d, fabs(a[i] - b[i]));
    m = fmax(m, fabs(a[i]));
  }
  return d <= 1e-13 * (1 + m);
}

/* Run r of optimiser k. */
static ph_status run_one(worker *w, size_t k, size_t r, ph_error *err) {
  plan *p = w->p;
  const ph_escape_config *cfg = p->cfg;
  ph_escape_result *res = p->res;
  ph_escape_row *row = &res->rows[k];
  ph_escape_rec *rec = &row->recs[r];
  size_t n = p->n, T = p->T;
  double *theta = w->theta;
  memset(rec, 0, sizeof *rec);
  rec->step = -1;
  uint64_t key = ph_rng_bits_at(cfg->seed, ESC_STREAM_KEY + p->cell, r);
  ph_rng rs = ph_rng_make(key, ESC_STREAM_START);
  if (cfg->start == PH_START_RANDOM) {
    ph_rng_fill_uniform(&rs, theta, n, -cfg->random_box, cfg->random_box);
  } else {
    ph_rng_fill_gauss(&rs, theta, n, res->jitter);
    ph_vec_axpy(n, 1.0, res->ref, theta);
  }
  batch_src bsrc = {p->m, cfg->batch, ph_rng_make(key, PH_RNG_STREAM_BATCH),
                    w->idx};
  batch_src fsrc = {p->m, cfg->refresh_batch,
                    ph_rng_make(key, PH_RNG_STREAM_OPTIM), w->ridx};
  ph_batch_source fresh = {&fsrc, src_next};
  ph_optim *o;
  PH_TRY(ph_optim_create(&p->oc[k], w->obj, &o, err));
  ph_status st = PH_OK;
  if (p->has_precond[k]) {
    ph_precond *P;
    st = ph_precond_diag_create(n, p->pdiag, &P, err);
    if (st == PH_OK) st = ph_optim_set_precond(o, P, err);
    ph_precond_free(P);
  }
  for (size_t i = 0; i < n; i++) w->pd[i] = p->pdiag[i];
  if (p->has_precond[k]) p_track(rec, w->pd, n, 1);
  double *tr = r < res->n_traj ? row->traj + r * (T + 1) * n : NULL;
  double *pl = tr && row->plog ? row->plog + r * (T + 1) * n : NULL;
  if (tr) ph_vec_copy(n, theta, tr);
  if (pl) ph_vec_copy(n, w->pd, pl);
  int decided = 0;
  /* A deterministic map (no sample, fixed P, no momentum or other state)
   * that returns to the point of one or two steps before, to rounding,
   * sits on an attracting fixed point or 2-cycle and stays there: the rest
   * of the run is known without running it (kept runs still run the whole
   * way, for their trajectories; test_cycle_exit checks both agree). */
  int cycles = p->cycle_ok[k] && !tr;
  double *h1 = w->h1, *h2 = w->h2;
  if (cycles) ph_vec_copy(n, theta, h1);
  for (size_t t = 1; st == PH_OK && t <= T; t++) {
    ph_batch b;
    draw_batch(&bsrc, &b);
    ph_step_info info;
    ph_error e2 = {0};
    ph_status s2 =
        ph_optim_step(o, theta, w->obj, &b, row->lr, &fresh, &info, &e2);
    if (s2 != PH_OK && s2 != PH_ERR_NUMERIC) {
      st = s2;
      if (err) *err = e2;
      break;
    }
    double d2 = dist2(n, theta, res->ref);
    if (s2 == PH_ERR_NUMERIC || !(d2 <= p->div2)) {
      if (!decided) rec->outcome = PH_OUT_DIVERGED, rec->step = (long)t;
      if (tr)
        for (size_t u = t; u <= T; u++)
          for (size_t i = 0; i < n; i++) tr[u * n + i] = NAN;
      decided = 1;
      break;
    }
    if (info.refreshed && p->has_precond[k]) {
      rec->n_refresh++;
      ph_precond_diag(ph_optim_precond(o), w->pd);
      p_track(rec, w->pd, n, 0);
    }
    if (tr) ph_vec_copy(n, theta, tr + t * n);
    if (pl) ph_vec_copy(n, w->pd, pl + t * n);
    if (!decided && res->basin_target &&
        dist2(n, theta, res->basin) <= p->rb2) {
      rec->outcome = PH_OUT_ESCAPED, rec->step = (long)t;
      decided = 1;
      if (!tr) break; /* escape is absorbing; kept runs go on for plots */
    }
    if (cycles && t >= 2) {
      int per1 = same_point(n, theta, h1);
      int per2 = !per1 && same_point(n, theta, h2);
      if (per1 || per2) {
        /* θ_T is θ_t (period 1, or T − t even) or θ_{t−1} */
        if (per2 && (T - t) % 2 == 1) ph_vec_copy(n, h1, theta);
        break;
      }
    }
    if (cycles) {
      double *tmp = h2;
      h2 = h1, h1 = tmp;
      ph_vec_copy(n, theta, h1);
    }
  }
  ph_optim_free(o);
  if (st != PH_OK) return st;
  if (!decided) {
    double d2 = dist2(n, theta, res->ref);
    if (d2 <= p->R2)
      rec->outcome = PH_OUT_TRAPPED;
    else if (res->basin_target)
      rec->outcome = PH_OUT_ORBITING;
    else
      rec->outcome = PH_OUT_ESCAPED;
  }
  if (rec->outcome == PH_OUT_DIVERGED || !ph_vec_all_finite(n, theta)) {
    rec->final_dist = INFINITY;
    rec->final_loss = NAN;
  } else {
    rec->final_dist = sqrt(dist2(n, theta, res->ref));
    ph_toy_eval_clean(w->obj, theta, &rec->final_loss, NULL, NULL);
  }
  return PH_OK;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  plan *p = w->p;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    size_t i = p->next++;
    int stop = p->st != PH_OK || i >= p->total;
    pthread_mutex_unlock(&p->mu);
    if (stop) break;
    size_t seeds = p->cfg->seeds;
    ph_error e = {0};
    ph_status s = run_one(w, i / seeds, i % seeds, &e);
    if (s != PH_OK) {
      pthread_mutex_lock(&p->mu);
      if (p->st == PH_OK) p->st = s, p->err = e;
      pthread_mutex_unlock(&p->mu);
      break;
    }
  }
  return NULL;
}

static void summarise(ph_escape_row *row, size_t seeds, double *scratch) {
  row->seeds = seeds;
  memset(row->count, 0, sizeof row->count);
  size_t n_esc = 0;
  for (size_t r = 0; r < seeds; r++) {
    const ph_escape_rec *c = &row->recs[r];
    row->count[c->outcome]++;
    if (c->outcome == PH_OUT_ESCAPED && c->step >= 0)
      scratch[n_esc++] = (double)c->step;
  }
  for (int o = 0; o < PH_OUT_COUNT; o++) {
    row->rate[o] = (double)row->count[o] / (double)seeds;
    ph_stats_wilson(row->count[o], seeds, PH_STATS_LEVEL, &row->lo[o],
                    &row->hi[o]);
  }
  row->median_escape_step =
      n_esc ? ph_stats_quantile_inplace(scratch, n_esc, 0.5) : NAN;
  /* final loss and distance over the runs that stayed finite */
  size_t n_fin = 0;
  double ds = 0;
  for (size_t r = 0; r < seeds; r++) {
    const ph_escape_rec *c = &row->recs[r];
    if (c->outcome != PH_OUT_DIVERGED && isfinite(c->final_loss)) {
      scratch[n_fin++] = c->final_loss;
      ds += c->final_dist;
    }
  }
  ph_stats_summary fl = ph_stats_summarise(scratch, 1, n_fin, PH_STATS_LEVEL);
  row->final_loss_mean = fl.mean;
  row->final_loss_std = fl.sd;
  row->final_dist_mean = n_fin ? ds / (double)n_fin : NAN;
}

void ph_escape_result_free(ph_escape_result *r) {
  if (!r) return;
  for (size_t i = 0; i < PH_ESCAPE_MAX_OPT; i++) {
    ph_free(r->rows[i].traj);
    ph_free(r->rows[i].plog);
    ph_free(r->rows[i].recs);
    ph_free(r->rows[i].precond_diag);
  }
  ph_free(r->ref);
  ph_free(r->basin);
  memset(r, 0, sizeof *r);
}

static void worker_free(worker *w) {
  ph_objective_free(w->obj);
  ph_free(w->theta);
  ph_free(w->pd);
  ph_free(w->h1);
  ph_free(w->h2);
  ph_free(w->idx);
  ph_free(w->ridx);
}

static ph_status worker_init(worker *w, plan *p, ph_error *err) {
  memset(w, 0, sizeof *w);
  w->p = p;
  PH_TRY(ph_toy_create_str(p->cfg->landscape, &w->obj, err));
  w->theta = ph_malloc(p->n, sizeof(double), "iterate", err);
  w->pd = ph_malloc(p->n, sizeof(double), "preconditioner", err);
  w->h1 = ph_malloc(p->n, sizeof(double), "history", err);
  w->h2 = ph_malloc(p->n, sizeof(double), "history", err);
  w->idx = ph_calloc(p->cfg->batch + 1, sizeof(size_t), "batch", err);
  w->ridx = ph_calloc(p->cfg->refresh_batch + 1, sizeof(size_t), "batch", err);
  if (!w->theta || !w->pd || !w->h1 || !w->h2 || !w->idx || !w->ridx) {
    worker_free(w);
    return PH_ERR_NOMEM;
  }
  return PH_OK;
}

static ph_status run_cell(const ph_escape_config *cfg, uint64_t cell,
                          int keep_traj, ph_escape_result *res, ph_error *err) {
  memset(res, 0, sizeof *res);
  PH_TRY(ph_escape_config_validate(cfg, err));
  ph_objective *obj;
  PH_TRY(ph_toy_create_str(cfg->landscape, &obj, err));
  plan p;
  memset(&p, 0, sizeof p);
  p.cfg = cfg;
  p.cell = cell;
  p.res = res;
  size_t n = obj->n;
  p.n = res->n = n;
  p.T = cfg->steps;
  p.m = obj->n_examples[0];
  ph_toy_geometry geo;
  memset(&geo, 0, sizeof geo);
  ph_status st = ph_toy_geometry_get(obj, &geo, err);
  double t_all = ph_now();
  res->ref = ph_malloc(n, sizeof(double), "reference point", err);
  res->basin = ph_malloc(n, sizeof(double), "basin point", err);
  p.pdiag = ph_malloc(n, sizeof(double), "preconditioner", err);
  double *scratch = ph_malloc(cfg->seeds, sizeof(double), "escape steps", err);
  if (st == PH_OK && (!res->ref || !res->basin || !p.pdiag || !scratch))
    st = PH_ERR_NOMEM;
  if (st != PH_OK) goto done;
  res->has_pit = geo.has_pit;
  ph_vec_copy(n, geo.has_pit ? geo.pit : geo.basin, res->ref);
  ph_vec_copy(n, geo.basin, res->basin);
  if (cfg->start == PH_START_BASIN) ph_vec_copy(n, geo.basin, res->ref);
  if (cfg->start == PH_START_POINT) ph_vec_copy(n, cfg->point, res->ref);
  res->basin_target = geo.has_pit && cfg->start == PH_START_PIT;
  double sep = sqrt(dist2(n, geo.pit, geo.basin));
  res->basin_radius = cfg->basin_frac * sep;
  p.rb2 = res->basin_radius * res->basin_radius;
  p.div2 = 1e12 * (1 + sep) * (1 + sep);
  st = ph_escape_obtain_precond(cfg, obj, geo.basin, p.pdiag, err);
  res->width = geo.scale;
  if (st == PH_OK)
    st = pit_direction(obj, res->ref, p.pdiag, res, &res->width, err);
  res->radius = cfg->escape_k * res->width;
  res->jitter =
      cfg->jitter >= 0 ? cfg->jitter : (geo.has_pit ? res->width / 4 : 0.1);
  p.R2 = res->radius * res->radius;
  res->n_traj =
      keep_traj ? (cfg->n_traj < cfg->seeds ? cfg->n_traj : cfg->seeds) : 0;
  for (size_t k = 0; st == PH_OK && k < cfg->n_opt; k++) {
    ph_escape_row *row = &res->rows[k];
    res->n_rows = k + 1;
    snprintf(row->opt, sizeof row->opt, "%s", cfg->opt[k]);
    ctl_kind ctl;
    st = optim_config_for(cfg, row->opt, &p.oc[k], &ctl, err);
    if (st != PH_OK) break;
    snprintf(row->base, sizeof row->base, "%s", p.oc[k].name);
    /* sam-matched: its step along the pit direction equals LLQR's */
    if (ctl == CTL_MATCHED) p.oc[k].lr = cfg->lr * res->pit_dir_p;
    row->lr = p.oc[k].lr;
    row->rho = p.oc[k].rho;
    p.has_precond[k] = strcmp(p.oc[k].name, "llqr") == 0 ||
                       strcmp(p.oc[k].name, "llqr-sam") == 0;
    {
      const char *b = p.oc[k].name;
      p.cycle_ok[k] = p.m == 0 && cfg->momentum == 0 &&
                      (!p.has_precond[k] || cfg->refresh_every == 0) &&
                      (!strcmp(b, "sgd") || !strcmp(b, "sam") ||
                       !strcmp(b, "llqr") || !strcmp(b, "llqr-sam"));
    }
    row->recs = ph_calloc(cfg->seeds, sizeof(ph_escape_rec), "runs", err);
    size_t tlen = res->n_traj * (p.T + 1) * n;
    row->traj = ph_calloc(tlen ? tlen : 1, sizeof(double), "trajectories", err);
    if (!row->recs || !row->traj) {
      st = PH_ERR_NOMEM;
      break;
    }
    if (p.has_precond[k]) {
      row->plog = ph_calloc(tlen ? tlen : 1, sizeof(double), "P log", err);
      row->precond_diag = ph_malloc(n, sizeof(double), "P", err);
      if (!row->plog || !row->precond_diag) {
        st = PH_ERR_NOMEM;
        break;
      }
      ph_vec_copy(n, p.pdiag, row->precond_diag);
    }
  }
  if (st != PH_OK) goto done;
  /* the runs, over threads */
  size_t nt = cfg->threads ? cfg->threads : 1;
  p.total = cfg->n_opt * cfg->seeds;
  if (nt > p.total) nt = p.total;
  worker *ws = ph_calloc(nt, sizeof *ws, "workers", err);
  pthread_t *th = ph_calloc(nt, sizeof *th, "threads", err);
  if (!ws || !th) {
    ph_free(ws);
    ph_free(th);
    st = PH_ERR_NOMEM;
    goto done;
  }
  pthread_mutex_init(&p.mu, NULL);
  size_t made = 0;
  for (; made < nt && st == PH_OK; made++) st = worker_init(&ws[made], &p, err);
  if (st != PH_OK) made--;
  size_t started = 0;
  if (st == PH_OK) {
    for (size_t i = 1; i < nt; i++)
      if (pthread_create(&th[i], NULL, worker_main, &ws[i]) == 0) started = i;
    worker_main(&ws[0]);
    for (size_t i = 1; i <= started; i++) pthread_join(th[i], NULL);
    if (p.st != PH_OK) {
      st = p.st;
      if (err) *err = p.err;
    }
  }
  for (size_t i = 0; i < made; i++) worker_free(&ws[i]);
  pthread_mutex_destroy(&p.mu);
  ph_free(ws);
  ph_free(th);
  for (size_t k = 0; st == PH_OK && k < res->n_rows; k++)
    summarise(&res->rows[k], cfg->seeds, scratch);
done:
  res->seconds = ph_now() - t_all;
  ph_free(p.pdiag);
  ph_free(scratch);
  ph_toy_geometry_free(&geo);
  ph_objective_free(obj);
  if (st != PH_OK) ph_escape_result_free(res);
  return st;
}

ph_status ph_escape_run(const ph_escape_config *cfg, ph_escape_result *res,
                        ph_error *err) {
  return run_cell(cfg, 0, 1, res, err);
}

ph_status ph_escape_run_cell(const ph_escape_config *cfg, uint64_t cell,
                             ph_escape_result *res, ph_error *err) {
  return run_cell(cfg, cell, 0, res, err);
}

ph_status ph_escape_pit_info(const ph_escape_config *cfg, ph_escape_pit *out,
                             ph_error *err) {
  memset(out, 0, sizeof *out);
  ph_objective *obj;
  PH_TRY(ph_toy_create_str(cfg->landscape, &obj, err));
  size_t n = obj->n;
  ph_toy_geometry geo;
  memset(&geo, 0, sizeof geo);
  ph_escape_result r;
  memset(&r, 0, sizeof r);
  double *pd = ph_malloc(n, sizeof(double), "preconditioner", err);
  ph_status st = pd ? ph_toy_geometry_get(obj, &geo, err) : PH_ERR_NOMEM;
  if (st == PH_OK) st = ph_escape_obtain_precond(cfg, obj, geo.basin, pd, err);
  if (st == PH_OK) {
    const double *ref = geo.has_pit ? geo.pit : geo.basin;
    if (cfg->start == PH_START_BASIN) ref = geo.basin;
    if (cfg->start == PH_START_POINT) ref = cfg->point;
    r.width = geo.scale;
    st = pit_direction(obj, ref, pd, &r, &r.width, err);
  }
  out->p_v = r.pit_dir_p;
  out->lambda_v = r.pit_lambda;
  out->pi_v = r.pit_pi;
  out->lr_threshold = r.lr_threshold;
  out->width = r.width;
  ph_free(pd);
  ph_toy_geometry_free(&geo);
  ph_objective_free(obj);
  return st;
}
