/* cmd_study.c: `pothole study`: the scaled-down paper, a resumable grid of
 * tasks × optimisers × learning rates × seeds with an equal tuning budget for
 * every optimiser (tools/study.h describes the phases; docs/study.md the
 * profiles, the settings rule and what the default profile measured). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "core/afile.h"
#include "core/dist.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "nn/net.h"
#include "study.h"

#define CMD "study"

/* The tasks of each profile. expect_s: one sgd run on a free core (for the
 * time estimate only; the runner rescales it by the measured speed). */
static const st_task QUICK[] = {
    {"digits-mlp", "mlp:32:tanh", "digits", 0, 120, 64, 300, 0, 0, 0.6},
};
static const st_task DEFAULT[] = {
    {"digits-mlp", "mlp:64-64:tanh", "digits", 0, 1500, 64, 300, 0, 0, 4},
    {"fmnist-mlp", "mlp:128-64:relu", "fashion-mnist", 10000, 1500, 64, 2000, 0,
     0, 12},
    {"fmnist-cnn", "cnn", "fashion-mnist", 5000, 600, 64, 1000, 0, 0, 30},
    {"text-tf", "transformer:d32h2l2", "text", 0, 600, 32, 1000, 256, 512, 40},
};
static const st_task FULL[] = {
    {"digits-mlp", "mlp:64-64:tanh", "digits", 0, 4000, 64, 300, 0, 0, 10},
    {"fmnist-mlp", "mlp:256-128:relu", "fashion-mnist", 0, 6000, 128, 5000, 0,
     0, 120},
    {"fmnist-cnn", "cnn", "fashion-mnist", 20000, 3000, 64, 5000, 0, 0, 150},
    {"text-tf", "transformer:d64h4l2", "text", 0, 5000, 32, 1000, 512, 1861,
     900},
};

static const char *const KNOWN_OPTS[] = {"sgd",  "adamw",      "sam",
                                         "asam", "fisher-sam", "fsam",
                                         "llqr", "llqr-sam",   NULL};

/* Split a comma list into dst (each at most w-1 bytes). Returns the count,
 * or -1 when an item is empty or too long or there are too many. */
static long split(const char *s, char *dst, size_t w, size_t max) {
  size_t n = 0;
  if (!*s) return 0;
  for (const char *p = s;; n++) {
    size_t len = strcspn(p, ",");
    if (len == 0 || len >= w || n == max) return -1;
    snprintf(dst + n * w, w, "%.*s", (int)len, p);
    if (!p[len]) return (long)n + 1;
    p += len + 1;
  }
}

/* A custom task's model must build on its data: load and try it. */
static int check_model(const st_task *k) {
  ph_data_options o = ph_data_options_default();
  o.max_train = k->n_train ? k->n_train : 0;
  ph_dataset *d = NULL;
  ph_objective *obj = NULL;
  ph_error err = {0};
  ph_status s = ph_dataset_load(k->data, &o, &d, &err);
  if (!s) s = ph_net_create(k->model, d, 64, &obj, &err);
  ph_objective_free(obj);
  ph_dataset_free(d);
  if (s)
    return ph_cli_usage(CMD, "--model '%s' on --data '%s': %s", k->model,
                        k->data, err.msg);
  return 0;
}

typedef struct st_args {
  int quick, full, accept_build;
  const char *tasks, *opts, *model, *data;
  size_t seeds, steps, jobs, watch_every;
  double steps_scale;
  ph_cli_list lrs;
  int lrs_seen, watch_every_seen;
} st_args;

static int build_tasks(st_cfg *c, const st_args *a) {
  const st_task *set = a->quick ? QUICK : a->full ? FULL : DEFAULT;
  size_t n = a->quick  ? sizeof QUICK / sizeof *QUICK
             : a->full ? sizeof FULL / sizeof *FULL
                       : sizeof DEFAULT / sizeof *DEFAULT;
  if (a->model || a->data) {
    if (!a->model || !a->data || !a->steps)
      return ph_cli_usage(CMD, "a custom task needs --model, --data and "
                               "--steps together");
    st_task *k = &c->tasks[c->n_tasks++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "custom");
    if (strlen(a->model) >= sizeof k->model ||
        strlen(a->data) >= sizeof k->data)
      return ph_cli_usage(CMD, "--model or --data is too long");
    snprintf(k->model, sizeof k->model, "%s", a->model);
    snprintf(k->data, sizeof k->data, "%s", a->data);
    k->steps = a->steps;
    k->batch = 64;
    k->val = 200;
    k->expect_s = 10;
    return check_model(k);
  }
  char names[ST_MAX_TASKS][32];
  long m = a->tasks ? split(a->tasks, names[0], 32, ST_MAX_TASKS) : -2;
  if (m == -1 || m == 0)
    return ph_cli_usage(CMD, "--tasks '%s': empty grid or malformed list",
                        a->tasks);
  for (size_t i = 0; i < n; i++) {
    int take = m < 0;
    for (long j = 0; j < m; j++) take |= strcmp(names[j], set[i].name) == 0;
    if (take) c->tasks[c->n_tasks++] = set[i];
  }
  for (long j = 0; j < m; j++) {
    int found = 0;
    for (size_t i = 0; i < n; i++) found |= strcmp(names[j], set[i].name) == 0;
    if (!found)
      return ph_cli_usage(CMD, "--tasks: unknown task '%s' in profile %s",
                          names[j], c->profile);
  }
  return 0;
}

static int build_cfg(st_cfg *c, const st_args *a) {
  if (a->quick && a->full)
    return ph_cli_usage(CMD, "--quick and --full exclude each other");
  c->profile = a->quick ? "quick" : a->full ? "full" : "default";
  int rc = build_tasks(c, a);
  if (rc) return rc;
  for (size_t t = 0; t < c->n_tasks; t++) {
    st_task *k = &c->tasks[t];
    double old = (double)k->steps;
    if (a->steps && strcmp(k->name, "custom")) k->steps = a->steps;
    double s = round((double)k->steps * a->steps_scale);
    k->steps = s < 10 ? 10 : (size_t)s;
    k->expect_s *= (double)k->steps / old;
  }
  const char *opts = a->opts ? a->opts : "sgd,sam,llqr,llqr-sam";
  long no = split(opts, c->opts[0], sizeof c->opts[0], ST_MAX_OPTS);
  if (no <= 0)
    return ph_cli_usage(CMD, "--opts '%s': empty grid or malformed list", opts);
  c->n_opts = (size_t)no;
  for (size_t o = 0; o < c->n_opts; o++) {
    int ok = 0;
    for (int k = 0; KNOWN_OPTS[k]; k++)
      ok |= !strcmp(c->opts[o], KNOWN_OPTS[k]);
    if (!ok)
      return ph_cli_usage(CMD, "--opts: unknown optimiser '%s'", c->opts[o]);
    for (size_t p = 0; p < o; p++)
      if (!strcmp(c->opts[o], c->opts[p]))
        return ph_cli_usage(CMD, "--opts: '%s' twice", c->opts[o]);
  }
  if (a->lrs_seen) {
    if (a->lrs.n == 0 || a->lrs.n > ST_MAX_LRS)
      return ph_cli_usage(CMD, "--lr-grid: 1 to %d multipliers", ST_MAX_LRS);
    c->n_lrs = a->lrs.n;
    memcpy(c->lr_mult, a->lrs.v, a->lrs.n * sizeof *a->lrs.v);
  } else if (a->quick) {
    c->n_lrs = 2;
    c->lr_mult[0] = 0.5;
    c->lr_mult[1] = 2;
  } else {
    c->n_lrs = 3;
    c->lr_mult[0] = 1.0 / 3;
    c->lr_mult[1] = 1;
    c->lr_mult[2] = 3;
  }
  c->seeds = a->seeds ? a->seeds : 5;
  c->eval_n = a->quick ? 512 : 2048;
  c->curv_n = a->quick ? 256 : 1024;
  c->watch_every = a->watch_every_seen ? a->watch_every : ST_WATCH_TENTH;
  c->jobs = (int)a->jobs;
  c->accept_build = a->accept_build;
  return 0;
}

/* Run one phase; in an MPI job its stages are split over the ranks
 * (demo_runner.c) and rank 0 alone records the failures (it has heard of
 * every job). */
static int run_phase(st_cfg *c, int phase, const st_sel *sel, ph_demo *d) {
  if (ph_demo_init(d, c->dir, c->jobs)) {
    fprintf(stderr, "pothole study: out of memory\n");
    return 1;
  }
  d->label = CMD;
  d->distribute = 1;
  if (study_jobs(c, phase, sel, d) < 0) {
    fprintf(stderr, "pothole study: out of memory\n");
    return 1;
  }
  int rc = ph_demo_run(d);
  if (ph_dist_rank() == 0) study_mark_failures(d);
  return rc;
}

/* The most jobs one stage of this study holds (done ones included; the
 * final phase's rates do not change the count): more ranks than that would
 * leave some idle in every stage. -1 when out of memory. */
static long largest_stage(const st_cfg *c) {
  static st_sel none;
  long most = 0;
  for (int phase = ST_PHASE_TUNE; phase <= ST_PHASE_FINAL; phase++) {
    ph_demo d;
    if (ph_demo_init(&d, c->dir, 1) || study_jobs(c, phase, &none, &d) < 0) {
      ph_demo_free(&d);
      return -1;
    }
    for (size_t s = 0, e = 0; s < d.n_jobs; s = e) {
      while (e < d.n_jobs && !strcmp(d.jobs[e].stage, d.jobs[s].stage)) e++;
      if ((long)(e - s) > most) most = (long)(e - s);
    }
    ph_demo_free(&d);
  }
  return most;
}

int ph_cmd_study(int argc, char **argv) {
  st_args a = {.jobs = 2, .steps_scale = 1};
  const char *out = NULL;
  const ph_opt opts[] = {
      {"quick", NULL, PH_OPT_FLAG, &a.quick,
       .help = "digits only, small sizes (CI: under two minutes)"},
      {"full", NULL, PH_OPT_FLAG, &a.full,
       .help = "longer runs, larger models (hours)"},
      {"tasks", "LIST", PH_OPT_STRING, &a.tasks,
       .help = "a subset of the profile's tasks: digits-mlp, fmnist-mlp,\n"
               "fmnist-cnn, text-tf (default: all of the profile's)",
       .flags = PH_OPT_NO_DEFAULT},
      {"opts", "LIST", PH_OPT_STRING, &a.opts,
       .help = "optimisers (default sgd,sam,llqr,llqr-sam)",
       .flags = PH_OPT_NO_DEFAULT},
      {"lr-grid", "LIST", PH_OPT_LIST, &a.lrs, .lo = 1e-6, .hi = 1e6,
       .help = "multipliers of each optimiser's default rate\n"
               "(default 0.333,1,3; --quick 0.5,2)",
       .flags = PH_OPT_NO_DEFAULT, .seen = &a.lrs_seen},
      {"seeds", "S", PH_OPT_SIZE, &a.seeds, .lo = 2, .hi = ST_MAX_SEEDS,
       .help = "final seeds (default 5)", .flags = PH_OPT_NO_DEFAULT},
      {"steps", "N", PH_OPT_SIZE, &a.steps, .lo = 1, .hi = 1e8,
       .help = "steps of every task (default: the profile's)",
       .flags = PH_OPT_NO_DEFAULT},
      {"steps-scale", "F", PH_OPT_DOUBLE, &a.steps_scale, .lo = 1e-3, .hi = 100,
       .help = "multiply every task's steps (at least 10)"},
      {"model", "SPEC", PH_OPT_STRING, &a.model,
       .help = "a custom task instead of the profile's (with --data,\n"
               "--steps)",
       .flags = PH_OPT_NO_DEFAULT},
      {"data", "SPEC", PH_OPT_STRING, &a.data, .help = "the custom task's data",
       .flags = PH_OPT_NO_DEFAULT},
      {"watch-every", "N", PH_OPT_SIZE, &a.watch_every, .lo = 0, .hi = 1e8,
       .help = "final runs: train --watch-every N (curvature.csv,\n"
               "events.csv; λmax(H), π_1, κ_loc on 128 examples);\n"
               "0 = off (default: each task's steps / 10)",
       .flags = PH_OPT_NO_DEFAULT, .seen = &a.watch_every_seen},
      {"accept-build", NULL, PH_OPT_FLAG, &a.accept_build,
       .help = "resume DIR although another pothole build made it\n"
               "(every recorded setting must still match; noted in\n"
               "DIR/builds.txt)"},
      {"jobs", "N", PH_OPT_SIZE, &a.jobs, .lo = 1, .hi = 8,
       .help = "runs at once"},
      PH_OPT_OUT_DIR(&out),
      {0}};
  const ph_cli_spec spec = {
      CMD,
      "[--quick | --full] [options] --out DIR",
      "The scaled-down paper: every optimiser tuned on the same learning-rate\n"
      "grid against a validation split carved from train, the best rate\n"
      "(lowest final validation loss, ties to the smaller) re-run on the\n"
      "seeds; test accuracy and loss with 95 % t-intervals, final λmax of H\n"
      "and of P½HP½, pothole events, wall time and products per step. Writes\n"
      "DIR/study.md, study.csv, runs.csv, tune.csv, selection.csv and\n"
      "DIR/figures. Running the same command again resumes; a directory\n"
      "made by another configuration is refused. Under mpirun each stage's\n"
      "runs are dealt to the ranks, with the same results\n"
      "(docs/distributed.md).",
      opts,
      0,
      0};
  int rc = ph_cli_parse(&spec, argc, argv, NULL, NULL);
  if (rc >= 0) return rc;
  static st_cfg c;
  memset(&c, 0, sizeof c);
  c.dir = out;
  if ((rc = build_cfg(&c, &a))) return rc;
  int ranks = ph_dist_size(), root = ph_dist_rank() == 0;
  if (ranks > 1) {
    long most = largest_stage(&c);
    if (most < 0) {
      fprintf(stderr, "pothole study: out of memory\n");
      return 1;
    }
    if (ranks > most)
      return ph_cli_usage(CMD,
                          "%d processes for a study whose largest stage has "
                          "%ld jobs: start at most %ld",
                          ranks, most, most);
  }
  /* Rank 0 owns DIR's files; the jobs write their own directories inside
   * it, so in an MPI job DIR must be one shared directory. Every rank must
   * hold the same configuration. */
  ph_error err = {0};
  ph_status st = PH_OK;
  char *cfg_text = study_cfg_text(&c);
  if (!cfg_text) st = ph_error_set(&err, PH_ERR_NOMEM, "out of memory");
  uint64_t key =
      cfg_text ? ph_dist_key(PH_DIST_KEY0, cfg_text, strlen(cfg_text)) : 0;
  free(cfg_text);
  if (!st && root) st = ph_mkdir_p(out, &err);
  if (!st && root) st = study_cfg_claim(&c, &err);
  if ((st = ph_dist_agree(st, key, NULL, &err)))
    return ph_cli_fail(CMD, st, &err);
  double t0 = ph_now();
  static st_sel sel;
  ph_demo tune, fin;
  rc = run_phase(&c, ST_PHASE_TUNE, NULL, &tune);
  ph_demo_free(&tune);
  if (rc) return rc;
  /* The barrier between the phases: rank 0 chooses the rates from every
   * tuning run and hands them to all. */
  st = root ? study_select(&c, &sel, &err) : PH_OK;
  if (!(st = ph_dist_agree(st, 0, NULL, &err)))
    st = ph_dist_bcast(&sel, sizeof sel, &err);
  if (st) return ph_cli_fail(CMD, st, &err);
  rc = run_phase(&c, ST_PHASE_FINAL, &sel, &fin);
  if (!rc && root &&
      (study_report(&c, &sel, &fin, ph_now() - t0, &err) ||
       study_figures(&c, &sel, &err)))
    rc = ph_cli_fail(CMD, err.code, &err);
  ph_demo_free(&fin);
  if (!rc && root)
    fprintf(stderr, "pothole study: done in %.0f s: %s/study.md\n",
            ph_now() - t0, out);
  return rc;
}
