/* cmd_train.c: `pothole train`: parse, validate, call ph_train_run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "core/afile.h"
#include "optim/trainer.h"

#define CMD "train"

static const char *const scheds[] = {"const", "cosine", "step", NULL};
static const char *const outers[] = {"sgd", "adamw", NULL};
static const char *const precs[] = {"identity", "diag", "kron", NULL};
static const char *const metrics[] = {"gn", "newton", NULL};
static const char *const perts[] = {"l2", "dual", "euclid", NULL};
static const char *const firsts[] = {"start", "k", NULL};
static const char *const on_off[] = {"off", "on", NULL};
static const char *const opt_names[] = {"sgd",  "adamw",      "sam",
                                        "asam", "fisher-sam", "fsam",
                                        "llqr", "llqr-sam",   NULL};

/* 1 when dir exists and holds anything besides . and .. */
static int dir_has_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int any = 0;
  for (struct dirent *e; !any && (e = readdir(d));)
    any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return any;
}

/* --force: delete what a run writes (and only that), so nothing of the old
 * run (a stale precond.npy, say) can be mistaken for the new one's. Files
 * that are not a run's stay, and the command then refuses to mix in. */
static ph_status clear_run_outputs(const char *dir, ph_error *err) {
  static const char *const names[] = {
      "run.json",     "log.csv",        "trajectory.npy",  "precond.npy",
      "precond.json", "ckpt/last.ckpt", "ckpt/final.ckpt", NULL};
  char p[1200];
  for (size_t i = 0; names[i]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    if (unlink(p) != 0 && errno != ENOENT)
      return ph_error_set(err, PH_ERR_IO, "%s: cannot delete: %s", p,
                          strerror(errno));
  }
  snprintf(p, sizeof p, "%s/ckpt", dir);
  if (rmdir(p) != 0 && errno != ENOENT)
    return ph_error_set(err, PH_ERR_IO,
                        "%s: not empty after deleting the old checkpoints "
                        "(other files in it are not pothole's)",
                        p);
  if (dir_has_entries(dir))
    return ph_error_set(err, PH_ERR_IO,
                        "%s: holds files that are not a run's outputs; "
                        "--force deletes only those (move the rest away)",
                        dir);
  return PH_OK;
}

/* Everything the command line sets. */
typedef struct {
  ph_train_config c;
  int opt_index, ema_set, damp_set, force;
  const char *model, *data, *out;
  size_t threads, stop_after; /* --threads: accepted, unused */
  char config[8192];          /* the whole option set, for the checkpoint */
} train_args;

/* Checks across options and the defaults that depend on others; -1 to go
 * on, else the exit code. */
static int train_check(train_args *a) {
  ph_train_config *c = &a->c;
  ph_error err = {0};
  if (strlen(a->model) >= sizeof c->model ||
      strlen(a->data) >= sizeof c->data || strlen(a->out) >= sizeof c->out_dir)
    return ph_cli_usage(CMD, "--%s is too long",
                        strlen(a->model) >= sizeof c->model ? "model"
                        : strlen(a->data) >= sizeof c->data ? "data"
                                                            : "out");
  snprintf(c->model, sizeof c->model, "%s", a->model);
  snprintf(c->data, sizeof c->data, "%s", a->data);
  c->stop_after = a->stop_after;
  if (!c->steps && !(c->epochs > 0))
    return ph_cli_usage(CMD, "give --steps N or --epochs E");
  if (c->steps && c->epochs > 0)
    return ph_cli_usage(CMD, "--steps and --epochs exclude each other");
  if (!a->ema_set && c->opt.metric == PH_METRIC_NEWTON) c->opt.ema_beta = 0.9;
  /* Undamped Kronecker factors can grow without bound once the GGN vanishes
   * near interpolation (docs/optimisers.md): damp them by default. */
  if (!a->damp_set && c->opt.precond_kind == PH_PRECOND_KRON)
    c->opt.damping = 0.01;
  if (c->watch.probes == 1)
    return ph_cli_usage(CMD, "--watch-probes 1: 0 (no trace) or at least 2");
  if (ph_optim_config_validate(&c->opt, &err))
    return ph_cli_fail(CMD, PH_ERR_ARG, &err);
  snprintf(c->out_dir, sizeof c->out_dir, "%s", a->out);
  if (a->force && c->resume)
    return ph_cli_usage(CMD, "--force and --resume exclude each other");
  return -1;
}

/* The option table, then train_check, then the configuration text that
 * every checkpoint stores (exact resumes); -1 to go on, else the exit
 * code. */
static int train_parse(train_args *a, int argc, char **argv) {
  memset(a, 0, sizeof *a);
  a->threads = 1;
  /* The optimiser's defaults come first, so the options below override them
   * and --help shows the defaults of the optimiser named (sgd's otherwise). */
  const char *optname = ph_cli_peek(argc, argv, "opt");
  a->c = ph_train_config_default();
  ph_error err = {0};
  if (ph_optim_config_default(optname ? optname : "sgd", &a->c.opt, &err))
    return ph_cli_usage(CMD,
                        "--opt '%s' is not one of: sgd, adamw, sam, "
                        "asam, fisher-sam, fsam, llqr, llqr-sam",
                        optname);
  /* Training networks, LLQR's step is held to SGD's length (the
   * step-length trust region, docs/optimisers.md "Second round"). Not a
   * library default: the toy lab's P legitimately lengthens the step in a
   * flat basin (U ≈ 1/0.2 there), and it keeps its own settings. */
  a->c.opt.step_cap = PH_TRAIN_STEP_CAP;
  const ph_opt opts[] = {
      {"model", "SPEC", PH_OPT_STRING, &a->model,
       .help = "mlp:64-64:tanh, cnn, linear, transformer:d32h2l2, ...",
       .flags = PH_OPT_REQUIRED},
      {"data", "SPEC", PH_OPT_STRING, &a->data,
       .help = "digits, fashion-mnist, text, modadd:97, ...\n(see 'pothole "
               "data info --help')",
       .flags = PH_OPT_REQUIRED},
      {"opt", "NAME", PH_OPT_CHOICE, &a->opt_index, .choices = opt_names,
       .help = "optimiser", .flags = PH_OPT_REQUIRED | PH_OPT_NO_DEFAULT},
      {"steps", "N", PH_OPT_SIZE, &a->c.steps, .lo = 1, .hi = 1e8,
       .help = "outer steps, or --epochs E",
       .flags = PH_OPT_RESUMABLE | PH_OPT_NO_DEFAULT},
      {"epochs", "E", PH_OPT_DOUBLE, &a->c.epochs, .lo = 1e-9, .hi = 1e6,
       .help = "passes over the train split",
       .flags = PH_OPT_RESUMABLE | PH_OPT_NO_DEFAULT},
      {"batch", "B", PH_OPT_SIZE, &a->c.batch, .lo = 1, .hi = 1e6,
       .help = "minibatch size"},
      {"lr", "LR", PH_OPT_DOUBLE, &a->c.opt.lr, .lo = 0, .hi = 1e6,
       .help = "base learning rate"},
      {"schedule", "S", PH_OPT_CHOICE, &a->c.schedule, .choices = scheds,
       .help = "learning-rate schedule"},
      {"momentum", "M", PH_OPT_DOUBLE, &a->c.opt.momentum, .lo = 0,
       .hi = 0.999999, .help = "heavy-ball momentum of the SGD outer step"},
      {"nesterov", NULL, PH_OPT_FLAG, &a->c.opt.nesterov,
       .help = "Nesterov momentum"},
      {"wd", "W", PH_OPT_DOUBLE, &a->c.opt.weight_decay, .lo = 0, .hi = 1e3,
       .help = "weight decay, added after any preconditioner"},
      {"outer", "NAME", PH_OPT_CHOICE, &a->c.opt.outer, .choices = outers,
       .help = "outer optimiser of the SAM family and LLQR"},
      {"beta1", "B", PH_OPT_DOUBLE, &a->c.opt.beta1, .lo = 0, .hi = 0.999999999,
       .help = "AdamW β1"},
      {"beta2", "B", PH_OPT_DOUBLE, &a->c.opt.beta2, .lo = 0, .hi = 0.999999999,
       .help = "AdamW β2"},
      {"eps", "E", PH_OPT_DOUBLE, &a->c.opt.eps, .lo = 1e-300, .hi = 1,
       .help = "AdamW ε"},
      {"rho", "R", PH_OPT_DOUBLE, &a->c.opt.rho, .lo = 0, .hi = 1e6,
       .help = "perturbation radius (sam 0.05, asam 0.5, fisher-sam 0.1,\n"
               "fsam 0.05, llqr-sam 0.1)",
       .flags = PH_OPT_NO_DEFAULT},
      {"m-sharpness", "M", PH_OPT_SIZE, &a->c.opt.m_sharpness, .lo = 0,
       .hi = 1e6,
       .help = "sam: perturb each chunk of M examples with its own ε\n"
               "and average; 0 = the whole batch"},
      {"asam-eta", "E", PH_OPT_DOUBLE, &a->c.opt.asam_eta, .lo = 0, .hi = 1e6,
       .help = "ASAM's η"},
      {"fisher-eta", "E", PH_OPT_DOUBLE, &a->c.opt.fisher_eta, .lo = 0,
       .hi = 1e12, .help = "Fisher-SAM's η"},
      {"precond", "P", PH_OPT_CHOICE, &a->c.opt.precond_kind, .choices = precs,
       .help = "LLQR structure"},
      {"metric", "M", PH_OPT_CHOICE, &a->c.opt.metric, .choices = metrics,
       .help = "LLQR metric"},
      {"refresh", "K", PH_OPT_SIZE, &a->c.opt.refresh_every, .lo = 0, .hi = 1e8,
       .help = "preconditioner refresh every K steps; 0 = never"},
      {"refresh-first", "W", PH_OPT_CHOICE, &a->c.opt.refresh_first,
       .choices = firsts,
       .help = "first refresh before step 1 (start) or after K steps (k)"},
      {"inner-steps", "N", PH_OPT_SIZE, &a->c.opt.inner_steps, .lo = 0,
       .hi = 100000, .help = "LLQR inner loop steps"},
      {"inner-lr", "LR", PH_OPT_DOUBLE, &a->c.opt.inner_lr, .lo = 0, .hi = 1e6,
       .help = "LLQR inner learning rate (scale-free; docs/optimisers.md)"},
      {"inner-clip", "C", PH_OPT_DOUBLE, &a->c.opt.inner_clip, .lo = 0,
       .hi = 1e12, .help = "per-block clip of the inner gradient"},
      {"refresh-batch", "B", PH_OPT_SIZE, &a->c.opt.refresh_batch, .lo = 1,
       .hi = 1e6, .help = "fresh batch for each refresh"},
      {"ema", "B", PH_OPT_DOUBLE, &a->c.opt.ema_beta, .lo = 0,
       .hi = 0.999999999,
       .help = "EMA factor of U (0.95 for gn, 0.9 for newton)",
       .flags = PH_OPT_NO_DEFAULT, .seen = &a->ema_set},
      {"damping", "L", PH_OPT_DOUBLE, &a->c.opt.damping, .lo = 0, .hi = 1e12,
       .help = "λ added to the LLQR metric (0; 0.01 with --precond kron)",
       .flags = PH_OPT_NO_DEFAULT, .seen = &a->damp_set},
      {"curvature-floor", "C", PH_OPT_DOUBLE, &a->c.opt.curvature_floor,
       .lo = 0, .hi = 1e12, .help = "adds C·κ_g to the metric"},
      {"trust-cap", "C", PH_OPT_DOUBLE, &a->c.opt.trust_cap, .lo = 0,
       .hi = 1e12,
       .help = "trust region: cap U's diagonal entries at C × their\n"
               "block's median after each refresh; 0 = off"},
      {"step-cap", "K", PH_OPT_DOUBLE, &a->c.opt.step_cap, .lo = 0, .hi = 1e12,
       .help = "step-length trust region: scale U's direction down to\n"
               "K × the length of the gradient it preconditions; 0 = off"},
      {"trust-floor", "F", PH_OPT_DOUBLE, &a->c.opt.trust_floor, .lo = 0,
       .hi = 1e12,
       .help = "trust region: raise U's diagonal entries to the same\n"
               "median / F after each refresh; 0 = off"},
      {"perturb", "P", PH_OPT_CHOICE, &a->c.opt.perturb, .choices = perts,
       .help = "llqr-sam: ε = ρUg/‖Ug‖ (l2), ρUg/√(gᵀUg) (dual) or\n"
               "ρg/‖g‖ (euclid: U only in the descent)"},
      {"perturb-only", NULL, PH_OPT_FLAG, &a->c.opt.perturb_only,
       .help = "llqr-sam: descend with ∇L(θ+ε) instead of U∇L(θ+ε)"},
      {"watch-every", "N", PH_OPT_SIZE, &a->c.watch.every, .lo = 0, .hi = 1e8,
       .help = "every N steps write curvature.csv: λmax(H), λmax(P½HP½),\n"
               "pothole ratios, trace, per-layer λmax on a fixed batch;\n"
               "0 = off"},
      {"watch-n", "N", PH_OPT_SIZE, &a->c.watch.n, .lo = 1, .hi = 1e7,
       .help = "the watch's fixed batch: the first N training examples"},
      {"watch-k", "K", PH_OPT_SIZE, &a->c.watch.k, .lo = 1, .hi = 20,
       .help = "pothole ratios π_1..π_K in curvature.csv"},
      {"watch-probes", "P", PH_OPT_SIZE, &a->c.watch.probes, .lo = 0, .hi = 1e5,
       .help = "Hutchinson probes for the trace; 0 = no trace (at least\n"
               "2 otherwise: the standard error needs two)"},
      {"watch-layers", "on|off", PH_OPT_CHOICE, &a->c.watch.layers,
       .choices = on_off,
       .help = "λmax of each weight block's Hessian (off: NaN there;\n"
               "these are most of a watch's products)"},
      {"event-pi", "X", PH_OPT_DOUBLE, &a->c.event_pi, .lo = 0, .hi = 1e12,
       .help = "events.csv: π_1 crossing X; 0 = 2(1 + momentum)/lr,\n"
               "the edge of stability of the preconditioned step"},
      {"eval-every", "S", PH_OPT_SIZE, &a->c.eval_every, .lo = 1, .hi = 1e8,
       .help = "evaluation interval (default steps/20)",
       .flags = PH_OPT_NO_DEFAULT},
      {"ckpt-every", "S", PH_OPT_SIZE, &a->c.ckpt_every, .lo = 1, .hi = 1e8,
       .help = "checkpoint interval (default steps/10)",
       .flags = PH_OPT_NO_DEFAULT},
      {"traj-every", "S", PH_OPT_SIZE, &a->c.traj_every, .lo = 1, .hi = 1e8,
       .help = "trajectory snapshot interval (default steps/50)",
       .flags = PH_OPT_NO_DEFAULT},
      {"n", "N", PH_OPT_SIZE, &a->c.max_train, .lo = 1, .hi = 1e9,
       .help = "use the first N training examples (default all)",
       .flags = PH_OPT_NO_DEFAULT},
      {"val", "N", PH_OPT_SIZE, &a->c.val, .lo = 0, .hi = 1e9,
       .help = "hold out the last N train examples as a validation split;\n"
               "test_loss/test_acc are then measured on it (0 = off)"},
      {"eval-n", "N", PH_OPT_SIZE, &a->c.eval_n, .lo = 0, .hi = 1e9,
       .help = "examples of each split per evaluation; 0 = all"},
      PH_OPT_SEED(&a->c.seed),
      {"resume", NULL, PH_OPT_FLAG, &a->c.resume,
       .help = "continue from DIR/ckpt/last.ckpt if present; every\n"
               "option not listed below must match the run's",
       .flags = PH_OPT_RESUMABLE},
      {"force", NULL, PH_OPT_FLAG, &a->force,
       .help = "train into a non-empty DIR: first delete the outputs\n"
               "of an earlier run there (run.json, log.csv, ckpt/, ...)",
       .flags = PH_OPT_RESUMABLE},
      /* The shared row's range and meaning of 0, but not its help: train
       * computes on one thread (the comment before ph_train_run). */
      {"threads", "T", PH_OPT_SIZE, &a->threads, .lo = 0,
       .hi = PH_CLI_MAX_THREADS,
       .help = "accepted as in every command (0 = all cores), but train\n"
               "computes on one thread, so that a run and its resumes\n"
               "are bit-identical on any machine",
       .flags = PH_OPT_RESUMABLE},
      {"stop-after", "S", PH_OPT_SIZE, &a->stop_after, .lo = 1, .hi = 1e12,
       .help = "stop after step S as if killed (for testing resumes)",
       .flags = PH_OPT_NO_DEFAULT | PH_OPT_RESUMABLE},
      {"out", "DIR", PH_OPT_STRING, &a->out, .help = "output directory",
       .flags = PH_OPT_REQUIRED | PH_OPT_RESUMABLE},
      {0}};
  const ph_cli_spec spec = {
      CMD,
      "--model SPEC --data SPEC --opt NAME (--steps N | --epochs E)\n"
      "                     --out DIR [options]",
      "Train a model; writes DIR/run.json, log.csv, ckpt/final.ckpt (and\n"
      "periodic ckpt/last.ckpt), trajectory.npy and, for llqr and llqr-sam,\n"
      "precond.npy. A killed run continues bit for bit with --resume.",
      opts,
      0,
      0};
  int rc = ph_cli_parse(&spec, argc, argv, NULL, NULL);
  if (rc >= 0 || (rc = train_check(a)) >= 0) return rc;
  if (ph_cli_config_text(opts, a->config, sizeof a->config) >= sizeof a->config)
    return ph_cli_usage(CMD, "the options are too long to record");
  a->c.config = a->config;
  return -1;
}

/* The configuration `train --opt OPT` resolves when every other option is
 * left to its default: the option table's text after train_check, as each
 * checkpoint stores it (--model, --data, --steps and --out are
 * placeholders here). `pothole study` records it in DIR/study.cfg, so that
 * a study is never resumed by a binary whose defaults differ. 0, or 1 when
 * OPT is unknown or the text does not fit. */
int ph_train_defaults_text(const char *opt, char *buf, size_t len) {
  char *argv[] = {"train",     "--model", "-", "--data", "-", "--opt",
                  (char *)opt, "--steps", "1", "--out",  "-", NULL};
  train_args *a = malloc(sizeof *a);
  if (!a) return 1;
  int rc = train_parse(a, (int)(sizeof argv / sizeof *argv) - 1, argv);
  if (rc < 0) rc = snprintf(buf, len, "%s", a->config) >= (int)len;
  free(a);
  return rc != 0;
}

/* A directory holding anything is another run's (or the user's): never
 * mix outputs silently. --resume continues it, --force replaces it. -1 to
 * go on, else the exit code. */
static int train_claim_dir(const train_args *a) {
  ph_error err = {0};
  if (a->c.resume || !dir_has_entries(a->out)) return -1;
  if (!a->force)
    return ph_cli_usage(CMD,
                        "%s is not empty: --resume continues the run in it, "
                        "--force deletes its old outputs first",
                        a->out);
  if (clear_run_outputs(a->out, &err)) return ph_cli_fail(CMD, err.code, &err);
  return -1;
}

int ph_cmd_train(int argc, char **argv) {
  train_args a;
  ph_error err = {0};
  int rc = train_parse(&a, argc, argv);
  if (rc >= 0 || (rc = train_claim_dir(&a)) >= 0) return rc;
  /* OpenBLAS stays on the one thread pothole.c set: its own thread split
   * changes how GEMMs round (measured: a 10x256x128 dgemm, the last layer's
   * weight gradient at batch 128, differs in 456 of 2560 entries between 1
   * and 2 threads), which made train differ by 1e-16 between --threads 1
   * and 2. Results must not depend on the thread count. */
  int existed = ph_is_dir(a.out);
  if (ph_mkdir_p(a.out, &err)) return ph_cli_fail(CMD, err.code, &err);
  ph_train_summary sum;
  ph_status s = ph_train_run(&a.c, &sum, &err);
  if (s) {
    /* A run that failed before its first checkpoint leaves nothing behind. */
    if (!existed) {
      char p[1200];
      snprintf(p, sizeof p, "%s/ckpt", a.out);
      if (!ph_path_exists(p) || rmdir(p) == 0) rmdir(a.out);
    }
    return ph_cli_fail(CMD, s, &err);
  }
  printf("{\"optimizer\": \"%s\", \"steps\": %zu, \"train_loss\": %.6g, "
         "\"train_acc\": %.6g, "
         "\"test_loss\": %.6g, \"test_acc\": %.6g, \"wall_time\": %.3g}\n",
         a.c.opt.name, sum.steps, sum.train_loss, sum.train_acc, sum.test_loss,
         sum.test_acc, sum.seconds);
  return 0;
}
