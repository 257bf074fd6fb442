/* trainer.c: the training loop (see trainer.h). Everything a step depends on
 * lives in the checkpoint: θ, the optimiser's state, the positions of the
 * two batch streams (training batches and LLQR's fresh refresh batches, both
 * pure functions of the seed), the log rows and the trajectory so far. A run
 * resumed from ckpt/last.ckpt therefore takes exactly the steps the
 * uninterrupted run takes. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/alloc.h"
#include "core/ckpt.h"
#include "core/json.h"
#include "core/npy.h"
#include "core/progress.h"
#include "core/vec.h"
#include "nn/net.h"
#include "optim/trainer.h"

static const char *const SCHED_NAMES[] = {"const", "cosine", "step"};
static const char *LOG_HEADER =
    "step,epoch,lr,train_loss,train_acc,test_loss,test_acc,grad_norm,"
    "update_norm,rho,precond_min,precond_max,precond_mean,n_grad,n_hvp,n_"
    "ggnvp,trust_capped,u_max_before,u_max_after,step_ratio\n";

ph_train_config ph_train_config_default(void) {
  ph_train_config c;
  memset(&c, 0, sizeof c);
  c.batch = 64;
  c.eval_n = 2048;
  c.progress = -1;
  c.watch = ph_watch_config_default();
  return c;
}

typedef struct text {
  char *s;
  size_t len, cap;
} text;

static int text_add(text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (k < 0) return -1;
  if (t->len + (size_t)k + 1 > t->cap) {
    size_t cap = (t->len + (size_t)k + 1) * 2;
    char *ns = realloc(t->s, cap);
    if (!ns) return -1;
    t->s = ns;
    t->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(t->s + t->len, (size_t)k + 1, fmt, ap);
  va_end(ap);
  t->len += (size_t)k;
  return 0;
}

static double schedule_lr(const ph_train_config *c, size_t step, size_t total) {
  double base = c->opt.lr, f = total ? (double)step / (double)total : 0;
  switch (c->schedule) {
  case PH_SCHEDULE_COSINE: return base * 0.5 * (1 + cos(M_PI * f));
  case PH_SCHEDULE_STEP: return base * (f >= 0.75 ? 0.01 : f >= 0.5 ? 0.1 : 1);
  default: return base;
  }
}

typedef struct fresh_ctx {
  ph_batcher *b;
} fresh_ctx;

static void fresh_next(void *ctx, ph_batch *out) {
  ph_batcher_next(((fresh_ctx *)ctx)->b, out);
}

static void fmt_num(char *buf, size_t len, double v) {
  if (isnan(v))
    snprintf(buf, len, "nan");
  else
    snprintf(buf, len, "%.10g", v);
}

/* The state the checkpoint carries besides θ and the optimiser. */
typedef struct run_state {
  uint64_t step;
  ph_batcher train_b, fresh_b;
  text log;
  double *traj; /* (traj_cap, n) */
  size_t n_traj, traj_cap;
  double seconds; /* wall time of earlier sessions */
  double best_test_acc, best_test_loss;
  uint64_t counts[3];                        /* grad, hvp, ggnvp products */
  size_t eval_every, ckpt_every, traj_every; /* resolved intervals */
  /* what the refreshes since the last log row did, for that row: U's
   * min/max/mean after the latest one, entries capped (summed) and the
   * largest entry before/after the cap (max over them); saved in the
   * checkpoint so a resume writes the same row */
  double pending[6];
  text curv; /* curvature.csv rows so far */
} run_state;

static void pending_reset(run_state *rs) {
  for (int i = 0; i < 6; i++) rs->pending[i] = NAN;
}

static ph_status save_ckpt(const ph_train_config *c, const char *path,
                           ph_objective *obj, const double *theta,
                           const ph_optim *opt, const ph_watch *watch,
                           run_state *rs, double now_s, ph_error *err) {
  ph_ckpt *ck;
  PH_TRY(ph_ckpt_create(&ck, err));
  ph_status s = ph_net_ckpt_put(ck, obj, c->data, c->seed, theta, err);
  uint64_t pos[5] = {rs->step, rs->train_b.epoch, rs->train_b.pos,
                     rs->fresh_b.epoch, rs->fresh_b.pos};
  if (s == PH_OK) s = ph_ckpt_put_u64(ck, "train.position", pos, 5, err);
  if (s == PH_OK) s = ph_ckpt_put_u64(ck, "train.counts", rs->counts, 3, err);
  double extra[3] = {now_s, rs->best_test_acc, rs->best_test_loss};
  if (s == PH_OK) s = ph_ckpt_put_f64(ck, "train.extra", extra, 3, err);
  if (s == PH_OK) s = ph_ckpt_put_f64(ck, "train.pending", rs->pending, 6, err);
  if (s == PH_OK)
    s = ph_ckpt_put_str(ck, "train.log", rs->log.s ? rs->log.s : "", err);
  if (s == PH_OK)
    s = ph_ckpt_put_f64(ck, "train.traj", rs->traj, rs->n_traj * obj->n, err);
  if (s == PH_OK) s = ph_ckpt_put_str(ck, "train.optimizer", c->opt.name, err);
  if (s == PH_OK && c->config)
    s = ph_ckpt_put_str(ck, "train.config", c->config, err);
  if (s == PH_OK) s = ph_optim_save(opt, ck, err);
  uint64_t wevery = c->watch.every;
  if (s == PH_OK) s = ph_ckpt_put_u64(ck, "train.watch_every", &wevery, 1, err);
  if (s == PH_OK && watch)
    s = ph_ckpt_put_str(ck, "train.curvature", rs->curv.s ? rs->curv.s : "",
                        err);
  if (s == PH_OK && watch) s = ph_watch_save(watch, ck, err);
  if (s == PH_OK) s = ph_ckpt_write(ck, path, err);
  ph_ckpt_free(ck);
  return s;
}

/* The first line where two "--name value" configurations differ, as an
 * error: "--batch is 32 here but 64 in the checkpoint". */
static ph_status compare_config(const char *path, const char *was,
                                const char *now, ph_error *err) {
  while (*was || *now) {
    size_t lw = strcspn(was, "\n"), ln = strcspn(now, "\n");
    if (lw != ln || memcmp(was, now, lw) != 0) {
      /* Name the option: the text before the first space of either line. */
      const char *line = lw ? was : now;
      size_t name_len = strcspn(line, " \n");
      size_t nw = strcspn(was, " \n"), nn = strcspn(now, " \n");
      if (nw == nn && memcmp(was, now, nw) == 0 && nw < lw && nn < ln)
        return ph_error_set(
            err, PH_ERR_ARG,
            "%s: cannot resume: %.*s is '%.*s' here but '%.*s' in the "
            "checkpoint (only the options listed in --help may change)",
            path, (int)nw, was, (int)(ln - nn - 1), now + nn + 1,
            (int)(lw - nw - 1), was + nw + 1);
      return ph_error_set(err, PH_ERR_ARG,
                          "%s: cannot resume: the option sets differ at %.*s "
                          "(checkpoint written by another version?)",
                          path, (int)name_len, line);
    }
    was += lw + (was[lw] == '\n');
    now += ln + (now[ln] == '\n');
  }
  return PH_OK;
}

static ph_status load_ckpt(const ph_train_config *c, const char *path,
                           ph_objective *obj, double *theta, ph_optim *opt,
                           ph_watch *watch, run_state *rs, ph_error *err) {
  ph_ckpt *ck;
  PH_TRY(ph_ckpt_read(path, &ck, err));
  const char *model, *data, *optname, *log;
  const double *th, *extra, *traj;
  const uint64_t *pos, *cnt;
  size_t nt;
  ph_status s = ph_ckpt_require_str(ck, "model", &model, err);
  if (!s) s = ph_ckpt_require_str(ck, "data", &data, err);
  if (!s) s = ph_ckpt_require_str(ck, "train.optimizer", &optname, err);
  if (!s && (strcmp(model, c->model) || strcmp(data, c->data) ||
             strcmp(optname, c->opt.name)))
    s = ph_error_set(err, PH_ERR_ARG,
                     "%s: resuming needs the same --model, --data and --opt "
                     "(checkpoint has %s, %s, %s)",
                     path, model, data, optname);
  if (!s && c->config) {
    const char *was;
    if (!ph_ckpt_has(ck, "train.config"))
      s = ph_error_set(err, PH_ERR_ARG,
                       "%s: cannot resume: the checkpoint does not record its "
                       "configuration (written before exact resumes)",
                       path);
    else if (!(s = ph_ckpt_require_str(ck, "train.config", &was, err)))
      s = compare_config(path, was, c->config, err);
  }
  if (!s) s = ph_ckpt_require_f64(ck, "theta", obj->n, &th, NULL, err);
  if (!s) s = ph_ckpt_require_u64(ck, "train.position", 5, &pos, NULL, err);
  if (!s) s = ph_ckpt_require_u64(ck, "train.counts", 3, &cnt, NULL, err);
  if (!s) s = ph_ckpt_require_f64(ck, "train.extra", 3, &extra, NULL, err);
  if (!s) s = ph_ckpt_require_str(ck, "train.log", &log, err);
  const double *pend = NULL;
  size_t npend = 0;
  /* optional: checkpoints from before the trust region lack it */
  if (!s && ph_ckpt_has(ck, "train.pending"))
    s = ph_ckpt_require_f64(ck, "train.pending", 6, &pend, &npend, err);
  if (!s) s = ph_ckpt_require_f64(ck, "train.traj", 0, &traj, &nt, err);
  if (!s) s = ph_optim_load(opt, ck, err);
  const uint64_t *wevery = NULL;
  /* checkpoints from before the watch have no train.watch_every: 0 */
  if (!s && ph_ckpt_has(ck, "train.watch_every"))
    s = ph_ckpt_require_u64(ck, "train.watch_every", 1, &wevery, NULL, err);
  if (!s && (wevery ? wevery[0] : 0) != c->watch.every)
    s = ph_error_set(err, PH_ERR_ARG,
                     "%s: resuming needs the same --watch-every (checkpoint "
                     "has %llu)",
                     path, (unsigned long long)(wevery ? wevery[0] : 0));
  const char *curv = NULL;
  if (!s && watch) s = ph_ckpt_require_str(ck, "train.curvature", &curv, err);
  if (!s && watch) s = ph_watch_load(watch, ck, err);
  if (!s && nt / obj->n > rs->traj_cap)
    s = ph_error_set(err, PH_ERR_FORMAT, "%s: trajectory longer than the run",
                     path);
  if (!s) {
    memcpy(theta, th, obj->n * sizeof *theta);
    rs->step = pos[0];
    ph_batcher_seek(&rs->train_b, pos[1], pos[2]);
    ph_batcher_seek(&rs->fresh_b, pos[3], pos[4]);
    memcpy(rs->counts, cnt, sizeof rs->counts);
    rs->seconds = extra[0];
    rs->best_test_acc = extra[1];
    rs->best_test_loss = extra[2];
    pending_reset(rs);
    if (pend) memcpy(rs->pending, pend, sizeof rs->pending);
    rs->log.len = 0;
    if (text_add(&rs->log, "%s", log))
      s = ph_error_set(err, PH_ERR_NOMEM, "out of memory");
    rs->curv.len = 0;
    if (curv && text_add(&rs->curv, "%s", curv))
      s = ph_error_set(err, PH_ERR_NOMEM, "out of memory");
    rs->n_traj = nt / obj->n;
    memcpy(rs->traj, traj, nt * sizeof *traj);
  }
  ph_ckpt_free(ck);
  return s;
}

static ph_status evaluate(ph_objective *obj, const double *theta, size_t eval_n,
                          double out[4], ph_error *err) {
  for (int sp = 0; sp < 2; sp++) {
    size_t n = obj->n_examples[sp];
    if (eval_n && eval_n < n) n = eval_n;
    if (n == 0) {
      out[2 * sp] = out[2 * sp + 1] = NAN;
      continue;
    }
    ph_batch b = {(ph_split)sp, NULL, n};
    PH_TRY(
        ph_objective_eval(obj, theta, &b, &out[2 * sp], &out[2 * sp + 1], err));
  }
  return PH_OK;
}

static ph_status write_log(const ph_train_config *c, const run_state *rs,
                           ph_error *err) {
  char path[1200];
  snprintf(path, sizeof path, "%s/log.csv", c->out_dir);
  text t = {0};
  if (text_add(&t, "%s%s", LOG_HEADER, rs->log.s ? rs->log.s : ""))
    return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  ph_status s = ph_write_file_atomic(path, t.s, t.len, err);
  free(t.s);
  return s;
}

/* DIR/curvature.csv, and with a preconditioner DIR/events.csv (read back
 * from curvature.csv by ph_watch_events). */
static ph_status write_watch(const ph_train_config *c, const ph_optim *opt,
                             const ph_watch *watch, run_state *rs,
                             ph_watch_event_count *evc, ph_error *err) {
  char path[1200];
  snprintf(path, sizeof path, "%s/curvature.csv", c->out_dir);
  text t = {0};
  if (text_add(&t, "%s\n%s", ph_watch_header(watch),
               rs->curv.s ? rs->curv.s : ""))
    return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  ph_status s = ph_write_file_atomic(path, t.s, t.len, err);
  free(t.s);
  if (s || !ph_optim_precond(opt)) return s;
  ph_watch_event *ev;
  size_t n;
  uint64_t from = ph_watch_first_fitted_step(
      c->opt.refresh_every, c->opt.refresh_first == PH_REFRESH_FIRST_AFTER_K);
  PH_TRY(ph_watch_events(path, c->event_pi, from, &ev, &n, err));
  text e = {0};
  int bad = text_add(&e, "step,pi,lambda,loss,threshold,outcome,next_step,"
                         "next_pi,next_loss\n");
  memset(evc, 0, sizeof *evc);
  evc->events = n;
  for (size_t i = 0; i < n && !bad; i++) {
    const ph_watch_event *x = &ev[i];
    char a[6][32];
    fmt_num(a[0], 32, x->pi);
    fmt_num(a[1], 32, x->lambda);
    fmt_num(a[2], 32, x->loss);
    fmt_num(a[3], 32, x->threshold);
    fmt_num(a[4], 32, x->next_pi);
    fmt_num(a[5], 32, x->next_loss);
    const char *out = x->left == 1 ? "left" : x->left == 0 ? "stayed" : "open";
    evc->left += x->left == 1;
    evc->stayed += x->left == 0;
    evc->open += x->left < 0;
    char ns[32] = "nan";
    if (x->left >= 0)
      snprintf(ns, sizeof ns, "%llu", (unsigned long long)x->next_step);
    bad = text_add(&e, "%llu,%s,%s,%s,%s,%s,%s,%s,%s\n",
                   (unsigned long long)x->step, a[0], a[1], a[2], a[3], out, ns,
                   a[4], a[5]);
  }
  free(ev);
  if (bad) {
    free(e.s);
    return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  }
  snprintf(path, sizeof path, "%s/events.csv", c->out_dir);
  s = ph_write_file_atomic(path, e.s, e.len, err);
  free(e.s);
  return s;
}

static ph_status write_outputs(const ph_train_config *c, ph_objective *obj,
                               const double *theta, const ph_optim *opt,
                               const ph_watch *watch, run_state *rs,
                               const double final[4], double seconds,
                               size_t total, ph_error *err) {
  char path[1200];
  ph_status s;
  PH_TRY(write_log(c, rs, err));
  snprintf(path, sizeof path, "%s/trajectory.npy", c->out_dir);
  size_t shape[2] = {rs->n_traj, obj->n};
  PH_TRY(ph_npy_write(path, rs->traj, 2, shape, err));
  if (ph_optim_precond(opt))
    PH_TRY(ph_precond_save(ph_optim_precond(opt), c->out_dir, err));
  ph_watch_event_count evc = {0};
  if (watch) PH_TRY(write_watch(c, opt, watch, rs, &evc, err));

  cJSON *j = cJSON_CreateObject();
  ph_json_add_stamp(j);
  cJSON *cfg = cJSON_AddObjectToObject(j, "config");
  cJSON_AddStringToObject(cfg, "model", c->model);
  cJSON_AddStringToObject(cfg, "data", c->data);
  cJSON_AddStringToObject(cfg, "optimizer", c->opt.name);
  ph_json_add_number(cfg, "steps", (double)total);
  ph_json_add_number(cfg, "batch", (double)c->batch);
  ph_json_add_number(cfg, "lr", c->opt.lr);
  cJSON_AddStringToObject(cfg, "schedule", SCHED_NAMES[c->schedule]);
  ph_json_add_number(cfg, "momentum", c->opt.momentum);
  ph_json_add_number(cfg, "weight_decay", c->opt.weight_decay);
  cJSON_AddStringToObject(cfg, "outer",
                          c->opt.outer == PH_OUTER_ADAMW ? "adamw" : "sgd");
  ph_json_add_number(cfg, "epochs", c->epochs);
  cJSON_AddBoolToObject(cfg, "nesterov", c->opt.nesterov);
  ph_json_add_number(cfg, "beta1", c->opt.beta1);
  ph_json_add_number(cfg, "beta2", c->opt.beta2);
  ph_json_add_number(cfg, "eps", c->opt.eps);
  ph_json_add_number(cfg, "rho", c->opt.rho);
  ph_json_add_number(cfg, "m_sharpness", (double)c->opt.m_sharpness);
  ph_json_add_number(cfg, "asam_eta", c->opt.asam_eta);
  ph_json_add_number(cfg, "fisher_eta", c->opt.fisher_eta);
  ph_json_add_number(cfg, "fsam_beta", c->opt.fsam_beta);
  ph_json_add_number(cfg, "eval_every", (double)rs->eval_every);
  ph_json_add_number(cfg, "ckpt_every", (double)rs->ckpt_every);
  ph_json_add_number(cfg, "traj_every", (double)rs->traj_every);
  ph_json_add_number(cfg, "max_train", (double)c->max_train);
  ph_json_add_number(cfg, "eval_n", (double)c->eval_n);
  ph_json_add_number(cfg, "val", (double)c->val);
  if (ph_optim_precond(opt)) {
    cJSON *l = cJSON_AddObjectToObject(cfg, "llqr");
    static const char *const kinds[] = {"identity", "diag", "kron"};
    cJSON_AddStringToObject(l, "precond", kinds[c->opt.precond_kind]);
    cJSON_AddStringToObject(
        l, "metric", c->opt.metric == PH_METRIC_NEWTON ? "newton" : "gn");
    ph_json_add_number(l, "refresh_every", (double)c->opt.refresh_every);
    cJSON_AddStringToObject(
        l, "refresh_first",
        c->opt.refresh_first == PH_REFRESH_FIRST_AFTER_K ? "k" : "start");
    ph_json_add_number(l, "inner_steps", (double)c->opt.inner_steps);
    ph_json_add_number(l, "inner_lr", c->opt.inner_lr);
    ph_json_add_number(l, "inner_momentum", c->opt.inner_momentum);
    ph_json_add_number(l, "inner_clip", c->opt.inner_clip);
    ph_json_add_number(l, "refresh_batch", (double)c->opt.refresh_batch);
    ph_json_add_number(l, "ema_beta", c->opt.ema_beta);
    ph_json_add_number(l, "damping", c->opt.damping);
    ph_json_add_number(l, "curvature_floor", c->opt.curvature_floor);
    ph_json_add_number(l, "trust_cap", c->opt.trust_cap);
    ph_json_add_number(l, "trust_floor", c->opt.trust_floor);
    ph_json_add_number(l, "step_cap", c->opt.step_cap);
    cJSON_AddStringToObject(l, "perturb",
                            c->opt.perturb == PH_PERTURB_DUAL     ? "dual"
                            : c->opt.perturb == PH_PERTURB_EUCLID ? "euclid"
                                                                  : "l2");
    cJSON_AddBoolToObject(l, "perturb_only", c->opt.perturb_only);
  }
  if (watch) {
    cJSON *w = cJSON_AddObjectToObject(cfg, "watch");
    ph_json_add_number(w, "every", (double)c->watch.every);
    ph_json_add_number(w, "n", (double)c->watch.n);
    ph_json_add_number(w, "k", (double)c->watch.k);
    ph_json_add_number(w, "probes", (double)c->watch.probes);
    cJSON_AddBoolToObject(w, "layers", c->watch.layers);
    ph_json_add_number(w, "tol", c->watch.tol);
    ph_json_add_number(w, "event_pi", c->event_pi);
    if (ph_optim_precond(opt)) {
      cJSON *e = cJSON_AddObjectToObject(j, "events");
      ph_json_add_number(e, "count", (double)evc.events);
      ph_json_add_number(e, "left", (double)evc.left);
      ph_json_add_number(e, "stayed", (double)evc.stayed);
      ph_json_add_number(e, "open", (double)evc.open);
    }
  }
  ph_json_add_number(j, "seed", (double)c->seed);
  cJSON *fin = cJSON_AddObjectToObject(j, "final");
  ph_json_add_number(fin, "train_loss", final[0]);
  ph_json_add_number(fin, "train_acc", final[1]);
  ph_json_add_number(fin, "test_loss", final[2]);
  ph_json_add_number(fin, "test_acc", final[3]);
  cJSON *best = cJSON_AddObjectToObject(j, "best");
  ph_json_add_number(best, "test_acc", rs->best_test_acc);
  ph_json_add_number(best, "test_loss", rs->best_test_loss);
  ph_json_add_number(j, "wall_time", seconds);
  ph_json_add_number(j, "steps_per_second",
                     seconds > 0 ? (double)total / seconds : NAN);
  cJSON *pr = cJSON_AddObjectToObject(j, "products");
  ph_json_add_number(pr, "gradient", (double)rs->counts[0]);
  ph_json_add_number(pr, "hvp", (double)rs->counts[1]);
  ph_json_add_number(pr, "ggnvp", (double)rs->counts[2]);
  ph_json_add_number(j, "n_params", (double)obj->n);
  snprintf(path, sizeof path, "%s/run.json", c->out_dir);
  s = ph_json_write_file(path, j, err);
  cJSON_Delete(j);
  return s;
}

/* One curvature watch at θ, appended to rs->curv (vals: scratch). */
static ph_status watch_row(const ph_train_config *c, ph_watch *watch,
                           ph_objective *obj, const double *theta,
                           const ph_optim *opt, run_state *rs, uint64_t step,
                           double *vals, double lr, ph_error *err) {
  PH_TRY(ph_watch_measure(watch, obj, theta, ph_optim_precond(opt), step, lr,
                          c->opt.momentum, vals, err));
  size_t nc = ph_watch_ncols(watch);
  for (size_t i = 0; i < nc; i++) {
    char b[32];
    fmt_num(b, sizeof b, vals[i]);
    if (text_add(&rs->curv, "%s%s", i ? "," : "", b))
      return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  }
  if (text_add(&rs->curv, "\n"))
    return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  return PH_OK;
}

ph_status ph_train_run(const ph_train_config *c, ph_train_summary *sum,
                       ph_error *err) {
  ph_data_options dopt = ph_data_options_default();
  dopt.seed = c->seed;
  dopt.max_train = c->max_train;
  ph_dataset *data = NULL;
  ph_objective *obj = NULL;
  ph_optim *opt = NULL;
  ph_watch *watch = NULL;
  double *wvals = NULL;
  double *theta = NULL;
  run_state rs;
  memset(&rs, 0, sizeof rs);
  rs.best_test_acc = -INFINITY;
  rs.best_test_loss = INFINITY;
  pending_reset(&rs);
  ph_status s = ph_dataset_load(c->data, &dopt, &data, err);
  if (!s && c->val) s = ph_dataset_hold_out(data, c->val, err);
  if (!s)
    s = ph_net_create(c->model, data, c->batch > 256 ? c->batch : 256, &obj,
                      err);
  if (!s) s = ph_optim_create(&c->opt, obj, &opt, err);
  if (!s && c->watch.every) {
    ph_watch_config wc = c->watch;
    wc.seed = c->seed;
    s = ph_watch_create(&wc, obj, ph_optim_precond(opt) != NULL, &watch, err);
  }
  if (s) goto done;
  size_t n_train = data->n[PH_SPLIT_TRAIN];
  size_t per_epoch = n_train / (c->batch < n_train ? c->batch : n_train);
  size_t total =
      c->steps ? c->steps : (size_t)ceil(c->epochs * (double)per_epoch);
  if (total == 0) {
    s = ph_error_set(err, PH_ERR_ARG, "no steps to take (--steps or --epochs)");
    goto done;
  }
  size_t eval_every =
      c->eval_every ? c->eval_every : (total >= 20 ? total / 20 : 1);
  size_t ckpt_every =
      c->ckpt_every ? c->ckpt_every : (total >= 10 ? total / 10 : 1);
  size_t traj_every =
      c->traj_every ? c->traj_every : (total >= 50 ? total / 50 : 1);
  rs.traj_cap = total / traj_every + 2;
  rs.eval_every = eval_every;
  rs.ckpt_every = ckpt_every;
  rs.traj_every = traj_every;
  theta = ph_malloc(obj->n, sizeof *theta, "theta", err);
  if (watch && !(wvals = ph_malloc(ph_watch_ncols(watch), sizeof *wvals,
                                   "watch", err))) {
    s = PH_ERR_NOMEM;
    goto done;
  }
  rs.traj = ph_malloc(rs.traj_cap * obj->n, sizeof *rs.traj, "trajectory", err);
  if (!theta || !rs.traj) {
    s = PH_ERR_NOMEM;
    goto done;
  }
  if ((s = ph_batcher_init(&rs.train_b, PH_SPLIT_TRAIN, n_train, c->batch,
                           c->seed, err)) ||
      (s = ph_batcher_init(&rs.fresh_b, PH_SPLIT_TRAIN, n_train,
                           c->opt.refresh_batch,
                           c->seed + 0x9e3779b97f4a7c15ULL, err)))
    goto done;
  char ckdir[1100], last[1200], final_path[1200];
  snprintf(ckdir, sizeof ckdir, "%s/ckpt", c->out_dir);
  snprintf(last, sizeof last, "%s/last.ckpt", ckdir);
  snprintf(final_path, sizeof final_path, "%s/final.ckpt", ckdir);
  if ((s = ph_mkdir_p(ckdir, err))) goto done;
  if (c->resume && ph_path_exists(last)) {
    if ((s = load_ckpt(c, last, obj, theta, opt, watch, &rs, err))) goto done;
  } else {
    if ((s = ph_net_init_params(obj, c->seed, theta, err))) goto done;
    double ev[4];
    if ((s = evaluate(obj, theta, c->eval_n, ev, err))) goto done;
    text_add(&rs.log,
             "0,0,%.10g,%.10g,%.10g,%.10g,%.10g,nan,nan,nan,nan,nan,nan,0,0,0,"
             "nan,nan,nan,nan\n",
             schedule_lr(c, 0, total), ev[0], ev[1], ev[2], ev[3]);
    memcpy(rs.traj, theta, obj->n * sizeof *theta);
    rs.n_traj = 1;
    if (watch && (s = watch_row(c, watch, obj, theta, opt, &rs, 0, wvals,
                                schedule_lr(c, 0, total), err)))
      goto done;
  }
  fresh_ctx fc = {&rs.fresh_b};
  ph_batch_source fresh = {&fc, fresh_next};
  ph_progress pg;
  ph_progress_start(&pg, c->opt.name, total, c->progress);
  double t0 = ph_now();
  double *pd = rs.pending; /* pmin, pmax, pmean, capped, before, after */
  ph_step_info info;
  memset(&info, 0, sizeof info);
  while (rs.step < total) {
    ph_batch b;
    ph_batcher_next(&rs.train_b, &b);
    double lr = schedule_lr(c, rs.step, total);
    s = ph_optim_step(opt, theta, obj, &b, lr, &fresh, &info, err);
    if (s) {
      ph_error_prefix(err, "step %llu: ", (unsigned long long)rs.step + 1);
      if (s == PH_ERR_NUMERIC) {
        ph_error_prefix(err, "training diverged (last good checkpoint: %s): ",
                        ph_path_exists(last) ? last : "none");
        /* log.csv up to the divergence, ending with the step that failed
         * (its measurements are NaN), so the user can see how it went. */
        ph_error lerr = {0};
        text_add(&rs.log,
                 "%llu,%.6f,%.10g,nan,nan,nan,nan,nan,nan,nan,nan,nan,nan,"
                 "%llu,%llu,%llu,nan,nan,nan,nan\n",
                 (unsigned long long)rs.step + 1,
                 (double)(rs.step + 1) / (double)per_epoch, lr,
                 (unsigned long long)rs.counts[0],
                 (unsigned long long)rs.counts[1],
                 (unsigned long long)rs.counts[2]);
        if (write_log(c, &rs, &lerr) != PH_OK)
          ph_error_prefix(err, "(log.csv not written: %s) ", lerr.msg);
      }
      goto done;
    }
    rs.step++;
    rs.counts[0] += info.n_grad;
    rs.counts[1] += info.n_hvp;
    rs.counts[2] += info.n_ggnvp;
    if (info.refreshed) {
      ph_precond_stats(ph_optim_precond(opt), &pd[0], &pd[1], &pd[2]);
      pd[3] = (isnan(pd[3]) ? 0 : pd[3]) + (double)info.n_capped;
      pd[4] = isnan(pd[4]) ? info.u_max_before : fmax(pd[4], info.u_max_before);
      pd[5] = isnan(pd[5]) ? info.u_max_after : fmax(pd[5], info.u_max_after);
    }
    if (rs.step % traj_every == 0 && rs.n_traj < rs.traj_cap)
      memcpy(rs.traj + rs.n_traj++ * obj->n, theta, obj->n * sizeof *theta);
    if (watch && rs.step % c->watch.every == 0 &&
        (s = watch_row(c, watch, obj, theta, opt, &rs, rs.step, wvals, lr,
                       err)))
      goto done;
    if (rs.step % eval_every == 0 || rs.step == total) {
      double ev[4];
      if ((s = evaluate(obj, theta, c->eval_n, ev, err))) goto done;
      char a[10][32];
      fmt_num(a[0], 32, info.grad_norm);
      fmt_num(a[9], 32, info.step_ratio);
      fmt_num(a[1], 32, info.update_norm);
      fmt_num(a[2], 32, info.rho);
      for (int k = 0; k < 6; k++) fmt_num(a[3 + k], 32, pd[k]);
      text_add(&rs.log,
               "%llu,%.6f,%.10g,%.10g,%.10g,%.10g,%.10g,%s,%s,%s,%s,%s,%s,%llu,"
               "%llu,%llu,%s,%s,%s,%s\n",
               (unsigned long long)rs.step, (double)rs.step / (double)per_epoch,
               lr, ev[0], ev[1], ev[2], ev[3], a[0], a[1], a[2], a[3], a[4],
               a[5], (unsigned long long)rs.counts[0],
               (unsigned long long)rs.counts[1],
               (unsigned long long)rs.counts[2], a[6], a[7], a[8], a[9]);
      pending_reset(&rs);
      if (ev[3] > rs.best_test_acc) rs.best_test_acc = ev[3];
      if (ev[2] < rs.best_test_loss) rs.best_test_loss = ev[2];
    }
    if (rs.step % ckpt_every == 0 && rs.step < total &&
        (s = save_ckpt(c, last, obj, theta, opt, watch, &rs,
                       rs.seconds + ph_now() - t0, err)))
      goto done;
    char extra[48];
    snprintf(extra, sizeof extra, "loss %.4f", info.loss);
    ph_progress_update(&pg, rs.step, extra);
    if (c->stop_after && rs.step == c->stop_after) {
      s = ph_error_set(err, PH_ERR_INTERRUPTED,
                       "stopped after step %zu (test hook)", c->stop_after);
      goto done;
    }
  }
  ph_progress_finish(&pg);
  double seconds = rs.seconds + ph_now() - t0;
  if (rs.n_traj == 0 || memcmp(rs.traj + (rs.n_traj - 1) * obj->n, theta,
                               obj->n * sizeof *theta)) {
    if (rs.n_traj < rs.traj_cap)
      memcpy(rs.traj + rs.n_traj++ * obj->n, theta, obj->n * sizeof *theta);
  }
  double fin[4];
  if ((s = evaluate(obj, theta, c->eval_n, fin, err))) goto done;
  if ((s = save_ckpt(c, final_path, obj, theta, opt, watch, &rs, seconds, err)))
    goto done;
  if ((s = write_outputs(c, obj, theta, opt, watch, &rs, fin, seconds, total,
                         err)))
    goto done;
  if (sum) {
    sum->train_loss = fin[0];
    sum->train_acc = fin[1];
    sum->test_loss = fin[2];
    sum->test_acc = fin[3];
    sum->seconds = seconds;
    sum->steps = total;
  }
done:
  ph_batcher_free(&rs.train_b);
  ph_batcher_free(&rs.fresh_b);
  free(rs.log.s);
  free(rs.traj);
  free(theta);
  ph_optim_free(opt);
  ph_watch_free(watch);
  free(wvals);
  free(rs.curv.s);
  ph_objective_free(obj);
  ph_dataset_free(data);
  return s;
}
