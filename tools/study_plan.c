/* study_plan.c: the jobs of `pothole study` (see study.h): the configuration
 * record that guards a study directory, the fixed, indexed job lists of the
 * tuning and final phases, failure records, and the learning-rate selection
 * rule. Every job is an ordinary `pothole train` or `pothole spectrum`
 * command run by the demo's runner, so each number in study.md comes with
 * the command that reproduces it. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "build_id.h"
#include "commands.h"
#include "core/json.h"
#include "core/version.h"
#include "optim/optim.h"
#include "study.h"

double study_default_lr(const char *opt) {
  ph_optim_config oc;
  ph_error err = {0};
  if (ph_optim_config_default(opt, &oc, &err)) return NAN;
  return oc.lr;
}

size_t study_watch_every(const st_cfg *c, size_t t) {
  if (c->watch_every != ST_WATCH_TENTH) return c->watch_every;
  size_t s = c->tasks[t].steps / 10;
  return s ? s : 1;
}

double study_lr(const st_cfg *c, size_t o, size_t k) {
  return study_default_lr(c->opts[o]) * c->lr_mult[k];
}

/* The options every study run sets itself (add_train); the rest of train's
 * options keep their defaults, which the configuration records. */
static const char *const SET_BY_STUDY[] = {
    "model",        "data",        "n",       "opt",     "lr",
    "steps",        "batch",       "val",     "seed",    "eval-every",
    "eval-n",       "watch-every", "watch-n", "watch-k", "watch-probes",
    "watch-layers", NULL};

static int set_by_study(const char *line) {
  for (size_t i = 0; SET_BY_STUDY[i]; i++) {
    size_t n = strlen(SET_BY_STUDY[i]);
    if (strncmp(line + 2, SET_BY_STUDY[i], n) == 0 && line[2 + n] == ' ')
      return 1;
  }
  return 0;
}

/* What makes results comparable beyond the grid: the binary ("build ..."
 * line) and, per optimiser, every default its train runs resolve ("train
 * OPT --name value", one setting a line so a refusal names the setting). */
static int cfg_text_build(const st_cfg *c, FILE *fp) {
  const char *commit = ph_build_commit();
  fprintf(fp, "build pothole %s%s%s\n", PH_VERSION, commit[0] ? " git " : "",
          commit);
  static char text[8192];
  for (size_t o = 0; o < c->n_opts; o++) {
    if (ph_train_defaults_text(c->opts[o], text, sizeof text)) return -1;
    for (char *l = text; *l;) {
      size_t n = strcspn(l, "\n");
      if (n > 2 && !set_by_study(l))
        fprintf(fp, "train %s %.*s\n", c->opts[o], (int)n, l);
      l += n + (l[n] != '\0');
    }
  }
  return 0;
}

char *study_cfg_text(const st_cfg *c) {
  char *s = NULL;
  size_t len = 0;
  FILE *fp = open_memstream(&s, &len);
  if (!fp) return NULL;
  fprintf(fp, "profile %s\n", c->profile);
  for (size_t t = 0; t < c->n_tasks; t++) {
    const st_task *k = &c->tasks[t];
    fprintf(fp,
            "task %s model=%s data=%s n=%zu steps=%zu batch=%zu val=%zu "
            "curvature-n=%zu eval-n=%zu\n",
            k->name, k->model, k->data, k->n_train, k->steps, k->batch, k->val,
            k->curv_n ? k->curv_n : c->curv_n,
            k->eval_n ? k->eval_n : c->eval_n);
  }
  fprintf(fp, "optimisers");
  for (size_t o = 0; o < c->n_opts; o++) fprintf(fp, " %s", c->opts[o]);
  fprintf(fp, "\nlr-grid");
  for (size_t k = 0; k < c->n_lrs; k++) fprintf(fp, " %.17g", c->lr_mult[k]);
  fprintf(fp, "\nseeds %zu\neval-n %zu\ncurvature-n %zu", c->seeds, c->eval_n,
          c->curv_n);
  static const char *const ca[] = {ST_CURV_ARGS};
  for (size_t i = 0; i < sizeof ca / sizeof *ca; i++) fprintf(fp, " %s", ca[i]);
  fprintf(fp, "\n");
  if (c->watch_every == ST_WATCH_TENTH)
    fprintf(fp, "watch-every steps/10");
  else
    fprintf(fp, "watch-every %zu", c->watch_every);
  if (c->watch_every) {
    static const char *const wa[] = {ST_WATCH_ARGS};
    for (size_t i = 0; i < sizeof wa / sizeof *wa; i++)
      fprintf(fp, " %s", wa[i]);
  }
  fprintf(fp, "\n");
  int bad = cfg_text_build(c, fp);
  fclose(fp);
  if (bad) {
    free(s);
    return NULL;
  }
  return s;
}

static int is_build_line(const char *l) {
  return strstr(l, "build ") == l;
}

/* Drop what --accept-build accepts from a configuration text (in place):
 * the build line, and when the old text has none (a directory made before
 * the build and the defaults were recorded), the defaults too, which it
 * cannot be compared on. */
static void cfg_strip(char *s, int drop_train) {
  char *w = s;
  for (char *l = s; *l;) {
    size_t n = strcspn(l, "\n");
    size_t m = n + (l[n] != '\0');
    int drop = is_build_line(l) || (drop_train && strncmp(l, "train ", 6) == 0);
    if (!drop) {
      memmove(w, l, m);
      w += m;
    }
    l += m;
  }
  *w = '\0';
}

/* The first line where a and b differ, as "old" vs "new" text. */
static void first_diff(const char *a, const char *b, char *la, char *lb,
                       size_t len) {
  while (*a || *b) {
    size_t na = strcspn(a, "\n"), nb = strcspn(b, "\n");
    if (na != nb || strncmp(a, b, na) != 0) {
      snprintf(la, len, "%.*s", (int)na, a);
      snprintf(lb, len, "%.*s", (int)nb, b);
      return;
    }
    a += na + (a[na] != '\0');
    b += nb + (b[nb] != '\0');
  }
  la[0] = lb[0] = '\0';
}

/* The build line of a configuration text ("" when none). */
static void build_line(const char *s, char *out, size_t len) {
  out[0] = '\0';
  for (const char *l = s; *l;) {
    size_t n = strcspn(l, "\n");
    if (is_build_line(l)) {
      snprintf(out, len, "%.*s", (int)n, l);
      return;
    }
    l += n + (l[n] != '\0');
  }
}

/* --accept-build: DIR/builds.txt gets a line for each build accepted over
 * the one study.cfg records, so the mix is on file. */
static ph_status note_build(const st_cfg *c, const char *bo, const char *mine,
                            ph_error *err) {
  char bn[256], path[1200];
  build_line(mine, bn, sizeof bn);
  if (strcmp(bo, bn) == 0) return PH_OK;
  snprintf(path, sizeof path, "%s/builds.txt", c->dir);
  FILE *fp = fopen(path, "a");
  if (!fp) return ph_error_set(err, PH_ERR_IO, "%s: cannot append", path);
  fprintf(fp, "%s accepted over study.cfg's %s\n", bn[0] ? bn : "?",
          bo[0] ? bo : "(no build recorded)");
  if (fclose(fp)) return ph_error_set(err, PH_ERR_IO, "%s: cannot write", path);
  return PH_OK;
}

ph_status study_cfg_claim(const st_cfg *c, ph_error *err) {
  char *mine = study_cfg_text(c);
  if (!mine) return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  char path[1200];
  snprintf(path, sizeof path, "%s/study.cfg", c->dir);
  ph_status s = PH_OK;
  if (ph_path_exists(path)) {
    unsigned char *old = NULL;
    size_t n = 0;
    s = ph_read_file(path, &old, &n, err);
    char *o = s ? NULL : strndup((const char *)old, n);
    char *m = o ? strdup(mine) : NULL;
    if (!s && (!o || !m)) s = ph_error_set(err, PH_ERR_NOMEM, "out of memory");
    char bo[256] = "";
    if (!s) build_line(o, bo, sizeof bo);
    if (!s && c->accept_build) {
      cfg_strip(o, 0);
      cfg_strip(m, bo[0] == '\0');
    }
    if (!s && strcmp(o, m) != 0) {
      char la[256], lb[256];
      first_diff(o, m, la, lb, sizeof la);
      s = ph_error_set(err, PH_ERR_ARG,
                       "%s was made by a different configuration (%s%s%s "
                       "there, '%s' now); use another --out%s",
                       c->dir, la[0] ? "'" : "", la[0] ? la : "nothing",
                       la[0] ? "'" : "", lb,
                       is_build_line(la) || is_build_line(lb)
                           ? ", or --accept-build to resume with this binary"
                           : "");
    } else if (!s && c->accept_build) {
      s = note_build(c, bo, mine, err);
    }
    free(o);
    free(m);
    free(old);
  } else {
    s = ph_write_file_atomic(path, mine, strlen(mine), err);
  }
  free(mine);
  return s;
}

void study_tune_dir(const st_cfg *c, size_t t, size_t o, size_t k, char *buf,
                    size_t len) {
  snprintf(buf, len, "%s/tune/%s/%s/lr%zu", c->dir, c->tasks[t].name,
           c->opts[o], k);
}

void study_final_dir(const st_cfg *c, size_t t, size_t o, size_t seed,
                     char *buf, size_t len) {
  snprintf(buf, len, "%s/runs/%s/%s/s%zu", c->dir, c->tasks[t].name, c->opts[o],
           seed);
}

/* Relative cost of a run of each optimiser against sgd's on the same
 * task: for the time estimate and for the order in which a stage's runs
 * start (longest first), never for a result. Measured in the default
 * study of the third session (docs/study.md, mean wall time of the 5
 * final runs): sam 1.3-1.65×, llqr 2.4-3.3×, llqr-sam 2.9-3.7× on the MLPs
 * and the CNN, but 8.5× for both LLQR optimisers on the transformer, whose
 * preconditioner refreshes (curvature products through attention)
 * dominate its runs. The fourth session's watched run, with faster
 * transformer products, measured 4.0× (llqr) and 4.8× (llqr-sam) there:
 * still the longest runs, so the order is the same. */
static double opt_cost(const char *opt, const char *model) {
  int llqr = strncmp(opt, "llqr", 4) == 0;
  if (llqr && strncmp(model, "transformer", 11) == 0) return 8.5;
  if (strcmp(opt, "llqr-sam") == 0) return 3;
  if (llqr) return 2;
  if (strstr(opt, "sam")) return 2;
  return 1;
}

/* argv builder: tokens copied into a small arena owned by the demo. */
typedef struct argb {
  const char *v[PH_DEMO_MAX_ARGS];
  int n;
  ph_demo *d;
} argb;

static void arg(argb *a, const char *s) {
  if (a->n < PH_DEMO_MAX_ARGS) a->v[a->n++] = s;
}
static void argn(argb *a, size_t v) {
  arg(a, ph_demo_str(a->d, "%zu", v));
}
static void argg(argb *a, double v) {
  arg(a, ph_demo_str(a->d, "%.6g", v));
}

static int failed_before(const char *dir) {
  char p[1200];
  snprintf(p, sizeof p, "%s/failed.txt", dir);
  return ph_path_exists(p);
}

static ph_demo_job *add_train(const st_cfg *c, ph_demo *d, const char *stage,
                              size_t t, size_t o, double lr, size_t seed,
                              int tune, const char *dir) {
  const st_task *k = &c->tasks[t];
  argb a = {.d = d};
  arg(&a, "train");
  arg(&a, "--model");
  arg(&a, k->model);
  arg(&a, "--data");
  arg(&a, k->data);
  if (k->n_train) {
    arg(&a, "--n");
    argn(&a, k->n_train);
  }
  arg(&a, "--opt");
  arg(&a, c->opts[o]);
  arg(&a, "--lr");
  argg(&a, lr);
  arg(&a, "--steps");
  argn(&a, k->steps);
  arg(&a, "--batch");
  argn(&a, k->batch);
  /* Five evaluations per run: the final one is what the study reads. */
  arg(&a, "--eval-every");
  argn(&a, k->steps >= 5 ? k->steps / 5 : 1);
  arg(&a, "--eval-n");
  argn(&a, k->eval_n ? k->eval_n : c->eval_n);
  if (tune) {
    arg(&a, "--val");
    argn(&a, k->val);
  }
  size_t we = study_watch_every(c, t);
  if (!tune && we) {
    static const char *const wa[] = {ST_WATCH_ARGS};
    arg(&a, "--watch-every");
    argn(&a, we);
    for (size_t i = 0; i < sizeof wa / sizeof *wa; i++) arg(&a, wa[i]);
  }
  arg(&a, "--seed");
  argn(&a, seed);
  arg(&a, "--resume");
  arg(&a, "--out");
  arg(&a, dir);
  const char *name =
      tune ? ph_demo_str(d, "tune-%s-%s-lr%.6g", k->name, c->opts[o], lr)
           : ph_demo_str(d, "run-%s-%s-s%zu", k->name, c->opts[o], seed);
  /* the study's watch adds about 7 % to a final run (docs/study.md) */
  double watch_cost = !tune && we ? 1.1 : 1;
  ph_demo_job *j = ph_demo_addv(
      d, stage, name, ph_demo_str(d, "%s/run.json", dir),
      k->expect_s * opt_cost(c->opts[o], k->model) * watch_cost, a.n, a.v);
  if (j) j->optional = 1; /* a diverged run is a result, not an error */
  return j;
}

/* The run whose slow P serves as the averaged geometry for optimiser o:
 * its own for the LLQR family, llqr-sam's (then llqr's) of the same seed
 * otherwise; -1 when the study has none. */
static long precond_source(const st_cfg *c, size_t o) {
  if (strncmp(c->opts[o], "llqr", 4) == 0) return (long)o;
  for (const char *want = "llqr-sam"; want; want = NULL)
    for (size_t p = 0; p < c->n_opts; p++)
      if (strcmp(c->opts[p], want) == 0) return (long)p;
  for (size_t p = 0; p < c->n_opts; p++)
    if (strcmp(c->opts[p], "llqr") == 0) return (long)p;
  return -1;
}

static void add_curvature(const st_cfg *c, ph_demo *d, size_t t, size_t o,
                          size_t s, const char *dir) {
  long src = precond_source(c, o);
  for (int pre = 0; pre < 2; pre++) {
    if (pre && src < 0) continue;
    const char *out = ph_demo_str(d, "%s/%s", dir, pre ? "plmax" : "lmax");
    if (failed_before(out)) continue;
    argb a = {.d = d};
    arg(&a, "spectrum");
    arg(&a, "--ckpt");
    arg(&a, ph_demo_str(d, "%s/ckpt/final.ckpt", dir));
    arg(&a, "--n");
    argn(&a, c->tasks[t].curv_n ? c->tasks[t].curv_n : c->curv_n);
    static const char *const ca[] = {ST_CURV_ARGS};
    for (size_t i = 0; i < sizeof ca / sizeof *ca; i++) arg(&a, ca[i]);
    if (pre) {
      char pdir[1024];
      study_final_dir(c, t, (size_t)src, s, pdir, sizeof pdir);
      arg(&a, "--operator");
      arg(&a, "precond");
      arg(&a, "--precond");
      arg(&a, ph_demo_str(d, "%s", pdir));
    }
    arg(&a, "--out");
    arg(&a, out);
    /* expected: 0.2 of the task's sgd run. With the 59-product spectra
     * the fourth session's study measured 0.8 (text-tf) to 1.4 (fmnist-cnn)
     * of an sgd run's wall time; with --early --no-verify (10-13 products)
     * about 0.2 and 0.3 (docs/study.md, "The final models' spectra"). */
    ph_demo_job *j =
        ph_demo_addv(d, "curvature of the final models",
                     ph_demo_str(d, "%s-%s-%s-s%zu", pre ? "plmax" : "lmax",
                                 c->tasks[t].name, c->opts[o], s),
                     ph_demo_str(d, "%s/spectrum.json", out),
                     c->tasks[t].expect_s * 0.2, a.n, a.v);
    if (j) j->optional = 1;
  }
}

long study_jobs(const st_cfg *c, int phase, const st_sel *sel, ph_demo *d) {
  size_t before = d->n_jobs;
  char dir[1024];
  for (size_t t = 0; t < c->n_tasks; t++) {
    const char *stage =
        ph_demo_str(d, "%s %s", phase == ST_PHASE_TUNE ? "tune" : "final",
                    c->tasks[t].name);
    for (size_t o = 0; o < c->n_opts; o++) {
      if (phase == ST_PHASE_TUNE) {
        for (size_t k = 0; k < c->n_lrs; k++) {
          study_tune_dir(c, t, o, k, dir, sizeof dir);
          if (!failed_before(dir) &&
              !add_train(c, d, stage, t, o, study_lr(c, o, k), 0, 1,
                         ph_demo_str(d, "%s", dir)))
            return -1;
        }
      } else {
        for (size_t s = 1; s <= c->seeds; s++) {
          study_final_dir(c, t, o, s, dir, sizeof dir);
          if (!failed_before(dir) &&
              !add_train(c, d, stage, t, o, sel->lr[t][o], s, 0,
                         ph_demo_str(d, "%s", dir)))
            return -1;
        }
      }
    }
  }
  if (phase == ST_PHASE_FINAL)
    for (size_t t = 0; t < c->n_tasks; t++)
      for (size_t o = 0; o < c->n_opts; o++)
        for (size_t s = 1; s <= c->seeds; s++) {
          study_final_dir(c, t, o, s, dir, sizeof dir);
          if (!failed_before(dir)) add_curvature(c, d, t, o, s, dir);
        }
  return (long)(d->n_jobs - before);
}

int study_exec_one(ph_demo *d, size_t i) {
  if (i >= d->n_jobs) return 1;
  size_t keep = d->only;
  d->only = i + 1;
  int rc = ph_demo_run(d);
  d->only = keep;
  return rc || d->jobs[i].failed;
}

void study_mark_failures(const ph_demo *d) {
  for (size_t i = 0; i < d->n_jobs; i++) {
    const ph_demo_job *j = &d->jobs[i];
    if (!j->failed || !j->output) continue;
    char path[1200], log[1200], line[1024] = "failed";
    snprintf(path, sizeof path, "%s", j->output);
    char *slash = strrchr(path, '/');
    if (!slash) continue;
    *slash = '\0';
    ph_error err = {0};
    if (ph_mkdir_p(path, &err)) continue;
    snprintf(log, sizeof log, "%s/%s.err", d->log_dir, j->name);
    FILE *fp = fopen(log, "r");
    if (fp) {
      char buf[1024];
      while (fgets(buf, sizeof buf, fp)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        char *cr = strrchr(buf, '\r');
        if (buf[0]) snprintf(line, sizeof line, "%s", cr ? cr + 1 : buf);
      }
      fclose(fp);
    }
    strcat(path, "/failed.txt");
    size_t n = strlen(line);
    line[n] = '\n';
    ph_write_file_atomic(path, line, n + 1, &err);
  }
}

/* Final validation loss and accuracy of a tuning run (+inf, NaN when it
 * failed or diverged). */
static void tune_result(const char *dir, double *loss, double *acc) {
  char p[1200];
  snprintf(p, sizeof p, "%s/run.json", dir);
  *loss = INFINITY;
  *acc = NAN;
  cJSON *j = NULL;
  ph_error err = {0};
  if (!ph_path_exists(p) || ph_json_read_file(p, &j, &err)) return;
  const cJSON *fin = cJSON_GetObjectItemCaseSensitive(j, "final");
  double l, a;
  if (fin && !ph_json_get_number(fin, "test_loss", p, &l, &err) &&
      !ph_json_get_number(fin, "test_acc", p, &a, &err) && isfinite(l)) {
    *loss = l;
    *acc = a;
  }
  cJSON_Delete(j);
}

ph_status study_select(const st_cfg *c, st_sel *sel, ph_error *err) {
  char *tune = NULL, *selc = NULL;
  size_t nt = 0, ns = 0;
  FILE *ft = open_memstream(&tune, &nt), *fs = open_memstream(&selc, &ns);
  if (!ft || !fs) {
    if (ft) fclose(ft);
    if (fs) fclose(fs);
    free(tune);
    free(selc);
    return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  }
  fprintf(ft, "task,optimizer,lr_mult,lr,val_loss,val_acc,status\n");
  fprintf(fs, "task,optimizer,lr,val_loss,val_acc,rule\n");
  char dir[1024];
  for (size_t t = 0; t < c->n_tasks; t++)
    for (size_t o = 0; o < c->n_opts; o++) {
      /* Rule: the lowest final validation loss; failed/diverged = +inf;
       * ties -> the smaller rate (rates are visited in increasing order and
       * only a strictly lower loss replaces the choice). */
      size_t order[ST_MAX_LRS];
      for (size_t k = 0; k < c->n_lrs; k++) order[k] = k;
      for (size_t a = 1; a < c->n_lrs; a++)
        for (size_t b = a;
             b > 0 && c->lr_mult[order[b]] < c->lr_mult[order[b - 1]]; b--) {
          size_t tmp = order[b];
          order[b] = order[b - 1];
          order[b - 1] = tmp;
        }
      double best = INFINITY, best_acc = NAN;
      double best_lr = study_lr(c, o, order[0]);
      for (size_t q = 0; q < c->n_lrs; q++) {
        size_t k = order[q];
        double l, a;
        study_tune_dir(c, t, o, k, dir, sizeof dir);
        tune_result(dir, &l, &a);
        fprintf(ft, "%s,%s,%.6g,%.6g,%.10g,%.10g,%s\n", c->tasks[t].name,
                c->opts[o], c->lr_mult[k], study_lr(c, o, k), l, a,
                isfinite(l) ? "ok" : "failed");
        if (l < best) {
          best = l;
          best_acc = a;
          best_lr = study_lr(c, o, k);
        }
      }
      sel->lr[t][o] = best_lr;
      sel->val_loss[t][o] = best;
      sel->val_acc[t][o] = best_acc;
      sel->all_failed[t][o] = !isfinite(best);
      fprintf(fs, "%s,%s,%.6g,%.10g,%.10g,%s\n", c->tasks[t].name, c->opts[o],
              best_lr, best, best_acc,
              isfinite(best) ? "lowest final validation loss"
                             : "every rate failed: the smallest");
    }
  fclose(ft);
  fclose(fs);
  char p1[1200], p2[1200];
  snprintf(p1, sizeof p1, "%s/tune.csv", c->dir);
  snprintf(p2, sizeof p2, "%s/selection.csv", c->dir);
  ph_status s = ph_write_file_atomic(p1, tune, nt, err);
  if (!s) s = ph_write_file_atomic(p2, selc, ns, err);
  free(tune);
  free(selc);
  return s;
}
