/* cmd_train.c: `pothole train`: parse, validate, call ph_train_run. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "core/afile.h"
#include "optim/trainer.h"

#define CMD "train"

static void usage(void) {
  printf(
      "usage: pothole train --model SPEC --data SPEC --opt NAME (--steps N | "
      "--epochs E)\n"
      "                     --out DIR [options]\n\n"
      "Train a model; writes DIR/run.json, log.csv, ckpt/final.ckpt (and "
      "periodic\n"
      "ckpt/last.ckpt), trajectory.npy and, for llqr and llqr-sam, "
      "precond.npy.\n"
      "A killed run continues bit for bit with --resume.\n\n"
      "  --model SPEC        mlp:64-64:tanh, cnn, linear, transformer:d32h2l2, "
      "...\n"
      "  --data SPEC         digits, fashion-mnist, text, modadd:97, ... (see "
      "'pothole data --help')\n"
      "  --opt NAME          sgd, adamw, sam, asam, fisher-sam, fsam, llqr, "
      "llqr-sam\n"
      "  --steps N           outer steps, or --epochs E (passes over the train "
      "split)\n"
      "  --batch B           minibatch size (default 64)\n"
      "  --lr LR             base learning rate (default 0.05; adamw 0.001)\n"
      "  --schedule S        const, cosine or step (default const)\n"
      "  --momentum M        heavy-ball momentum of the SGD outer step "
      "(default 0.9)\n"
      "  --nesterov          Nesterov momentum (default off)\n"
      "  --wd W              weight decay, added after any preconditioner "
      "(default 0)\n"
      "  --outer sgd|adamw   outer optimiser of the SAM family and LLQR "
      "(default sgd)\n"
      "  --beta1 B --beta2 B --eps E   AdamW (defaults 0.9, 0.999, 1e-8)\n"
      "  --rho R             perturbation radius (defaults: sam 0.05, asam "
      "0.5,\n"
      "                      fisher-sam 0.1, fsam 0.05, llqr-sam 0.1)\n"
      "  --m-sharpness M     sam: perturb each chunk of M examples of the "
      "batch with\n"
      "                      its own ε and average (default 0 = whole batch)\n"
      "  --asam-eta E        ASAM's η (default 0.01)\n"
      "  --fisher-eta E      Fisher-SAM's η (default 1)\n"
      "  --precond P         LLQR structure: diag, kron or identity (default "
      "diag)\n"
      "  --metric M          LLQR metric: gn or newton (default gn)\n"
      "  --refresh K         preconditioner refresh every K steps (default "
      "50)\n"
      "  --inner-steps N     LLQR inner loop steps (default 50)\n"
      "  --inner-lr LR       LLQR inner learning rate (default 0.1, "
      "scale-free; see\n"
      "                      docs/optimisers.md)\n"
      "  --inner-clip C      per-block clip of the inner gradient (default 5)\n"
      "  --refresh-batch B   fresh batch for each refresh (default 128)\n"
      "  --ema B             EMA factor of U (default 0.95 for gn, 0.9 for "
      "newton)\n"
      "  --damping L         λ added to the LLQR metric (default 0; 0.01 with\n"
      "                      --precond kron)\n"
      "  --curvature-floor C adds C·κ_g to the metric (default 0)\n"
      "  --perturb l2|dual   llqr-sam: ε = ρUg/‖Ug‖ or ρUg/√(gᵀUg) (default "
      "l2)\n"
      "  --perturb-only      llqr-sam: descend with ∇L(θ+ε) instead of "
      "U∇L(θ+ε)\n"
      "  --eval-every S      evaluation interval (default steps/20)\n"
      "  --ckpt-every S      checkpoint interval (default steps/10)\n"
      "  --traj-every S      trajectory snapshot interval (default steps/50)\n"
      "  --n N               use the first N training examples (default all)\n"
      "  --eval-n N          examples of each split per evaluation (default "
      "2048; 0 all)\n"
      "  --seed S            data split, initialisation, batch order (default "
      "0)\n"
      "  --resume            continue from DIR/ckpt/last.ckpt if present\n"
      "  --threads T         BLAS threads (default 1)\n"
      "  --out DIR           output directory (required)\n"
      "  --help              this help\n");
}

enum {
  O_MODEL = 256,
  O_DATA,
  O_OPT,
  O_STEPS,
  O_EPOCHS,
  O_BATCH,
  O_LR,
  O_SCHED,
  O_MOM,
  O_NEST,
  O_WD,
  O_OUTER,
  O_B1,
  O_B2,
  O_EPS,
  O_RHO,
  O_AETA,
  O_FETA,
  O_PREC,
  O_METRIC,
  O_REFRESH,
  O_ISTEPS,
  O_ILR,
  O_ICLIP,
  O_RBATCH,
  O_EMA,
  O_DAMP,
  O_FLOOR,
  O_PERT,
  O_PONLY,
  O_EVAL,
  O_CKPT,
  O_TRAJ,
  O_N,
  O_EVALN,
  O_SEED,
  O_RESUME,
  O_THREADS,
  O_OUT,
  O_STOP,
  O_MSHARP
};

int ph_cmd_train(int argc, char **argv) {
  static const struct option opts[] = {{"model", 1, 0, O_MODEL},
                                       {"data", 1, 0, O_DATA},
                                       {"opt", 1, 0, O_OPT},
                                       {"steps", 1, 0, O_STEPS},
                                       {"epochs", 1, 0, O_EPOCHS},
                                       {"batch", 1, 0, O_BATCH},
                                       {"lr", 1, 0, O_LR},
                                       {"schedule", 1, 0, O_SCHED},
                                       {"momentum", 1, 0, O_MOM},
                                       {"nesterov", 0, 0, O_NEST},
                                       {"wd", 1, 0, O_WD},
                                       {"outer", 1, 0, O_OUTER},
                                       {"beta1", 1, 0, O_B1},
                                       {"beta2", 1, 0, O_B2},
                                       {"eps", 1, 0, O_EPS},
                                       {"rho", 1, 0, O_RHO},
                                       {"asam-eta", 1, 0, O_AETA},
                                       {"fisher-eta", 1, 0, O_FETA},
                                       {"precond", 1, 0, O_PREC},
                                       {"metric", 1, 0, O_METRIC},
                                       {"refresh", 1, 0, O_REFRESH},
                                       {"inner-steps", 1, 0, O_ISTEPS},
                                       {"inner-lr", 1, 0, O_ILR},
                                       {"inner-clip", 1, 0, O_ICLIP},
                                       {"refresh-batch", 1, 0, O_RBATCH},
                                       {"ema", 1, 0, O_EMA},
                                       {"damping", 1, 0, O_DAMP},
                                       {"curvature-floor", 1, 0, O_FLOOR},
                                       {"perturb", 1, 0, O_PERT},
                                       {"perturb-only", 0, 0, O_PONLY},
                                       {"eval-every", 1, 0, O_EVAL},
                                       {"ckpt-every", 1, 0, O_CKPT},
                                       {"traj-every", 1, 0, O_TRAJ},
                                       {"n", 1, 0, O_N},
                                       {"eval-n", 1, 0, O_EVALN},
                                       {"seed", 1, 0, O_SEED},
                                       {"resume", 0, 0, O_RESUME},
                                       {"threads", 1, 0, O_THREADS},
                                       {"out", 1, 0, O_OUT},
                                       {"stop-after", 1, 0, O_STOP},
                                       {"m-sharpness", 1, 0, O_MSHARP},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
  /* First pass: the optimiser name, so its defaults come before overrides. */
  const char *optname = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--opt") && i + 1 < argc)
      optname = argv[i + 1];
    else if (!strncmp(argv[i], "--opt=", 6))
      optname = argv[i] + 6;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage();
      return 0;
    }
  }
  if (!optname) return ph_cli_usage(CMD, "--opt NAME is required");
  ph_train_config c = ph_train_config_default();
  ph_error err = {0};
  if (ph_optim_config_default(optname, &c.opt, &err))
    return ph_cli_fail(CMD, PH_ERR_ARG, &err);
  int have_model = 0, have_data = 0, ema_set = 0, damp_set = 0, rc = 0;
  const char *out = NULL;
  size_t threads = 1, tmp;
  static const char *const scheds[] = {"const", "cosine", "step", NULL};
  static const char *const outers[] = {"sgd", "adamw", NULL};
  static const char *const precs[] = {"identity", "diag", "kron", NULL};
  static const char *const metrics[] = {"gn", "newton", NULL};
  static const char *const perts[] = {"l2", "dual", NULL};
  int ch, k;
  optind = 0;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
    case O_MODEL:
      snprintf(c.model, sizeof c.model, "%s", optarg);
      have_model = 1;
      break;
    case O_DATA:
      snprintf(c.data, sizeof c.data, "%s", optarg);
      have_data = 1;
      break;
    case O_OPT: break;
    case O_STEPS:
      rc = ph_cli_size(CMD, "--steps", optarg, 1, 100000000, &c.steps);
      break;
    case O_EPOCHS:
      rc = ph_cli_double(CMD, "--epochs", optarg, 1e-9, 1e6, &c.epochs);
      break;
    case O_BATCH:
      rc = ph_cli_size(CMD, "--batch", optarg, 1, 1000000, &c.batch);
      break;
    case O_LR:
      rc = ph_cli_double(CMD, "--lr", optarg, 0, 1e6, &c.opt.lr);
      break;
    case O_SCHED:
      rc = ph_cli_choice(CMD, "--schedule", optarg, scheds, &k);
      c.schedule = (ph_schedule)k;
      break;
    case O_MOM:
      rc = ph_cli_double(CMD, "--momentum", optarg, 0, 0.999999,
                         &c.opt.momentum);
      break;
    case O_NEST: c.opt.nesterov = 1; break;
    case O_WD:
      rc = ph_cli_double(CMD, "--wd", optarg, 0, 1e3, &c.opt.weight_decay);
      break;
    case O_OUTER:
      rc = ph_cli_choice(CMD, "--outer", optarg, outers, &k);
      c.opt.outer = (ph_outer)k;
      break;
    case O_B1:
      rc = ph_cli_double(CMD, "--beta1", optarg, 0, 0.999999999, &c.opt.beta1);
      break;
    case O_B2:
      rc = ph_cli_double(CMD, "--beta2", optarg, 0, 0.999999999, &c.opt.beta2);
      break;
    case O_EPS:
      rc = ph_cli_double(CMD, "--eps", optarg, 1e-300, 1, &c.opt.eps);
      break;
    case O_RHO:
      rc = ph_cli_double(CMD, "--rho", optarg, 0, 1e6, &c.opt.rho);
      break;
    case O_MSHARP:
      rc = ph_cli_size(CMD, "--m-sharpness", optarg, 0, 1000000,
                       &c.opt.m_sharpness);
      break;
    case O_AETA:
      rc = ph_cli_double(CMD, "--asam-eta", optarg, 0, 1e6, &c.opt.asam_eta);
      break;
    case O_FETA:
      rc = ph_cli_double(CMD, "--fisher-eta", optarg, 0, 1e12,
                         &c.opt.fisher_eta);
      break;
    case O_PREC:
      rc = ph_cli_choice(CMD, "--precond", optarg, precs, &k);
      c.opt.precond_kind = (ph_precond_kind)k;
      break;
    case O_METRIC:
      rc = ph_cli_choice(CMD, "--metric", optarg, metrics, &k);
      c.opt.metric = (ph_metric)k;
      break;
    case O_REFRESH:
      rc = ph_cli_size(CMD, "--refresh", optarg, 1, 100000000,
                       &c.opt.refresh_every);
      break;
    case O_ISTEPS:
      rc = ph_cli_size(CMD, "--inner-steps", optarg, 0, 100000,
                       &c.opt.inner_steps);
      break;
    case O_ILR:
      rc = ph_cli_double(CMD, "--inner-lr", optarg, 0, 1e6, &c.opt.inner_lr);
      break;
    case O_ICLIP:
      rc = ph_cli_double(CMD, "--inner-clip", optarg, 0, 1e12,
                         &c.opt.inner_clip);
      break;
    case O_RBATCH:
      rc = ph_cli_size(CMD, "--refresh-batch", optarg, 1, 1000000,
                       &c.opt.refresh_batch);
      break;
    case O_EMA:
      rc = ph_cli_double(CMD, "--ema", optarg, 0, 0.999999999, &c.opt.ema_beta);
      ema_set = 1;
      break;
    case O_DAMP:
      rc = ph_cli_double(CMD, "--damping", optarg, 0, 1e12, &c.opt.damping);
      damp_set = 1;
      break;
    case O_FLOOR:
      rc = ph_cli_double(CMD, "--curvature-floor", optarg, 0, 1e12,
                         &c.opt.curvature_floor);
      break;
    case O_PERT:
      rc = ph_cli_choice(CMD, "--perturb", optarg, perts, &k);
      c.opt.perturb = (ph_perturb)k;
      break;
    case O_PONLY: c.opt.perturb_only = 1; break;
    case O_EVAL:
      rc =
          ph_cli_size(CMD, "--eval-every", optarg, 1, 100000000, &c.eval_every);
      break;
    case O_CKPT:
      rc =
          ph_cli_size(CMD, "--ckpt-every", optarg, 1, 100000000, &c.ckpt_every);
      break;
    case O_TRAJ:
      rc =
          ph_cli_size(CMD, "--traj-every", optarg, 1, 100000000, &c.traj_every);
      break;
    case O_N:
      rc = ph_cli_size(CMD, "--n", optarg, 1, SIZE_MAX, &c.max_train);
      break;
    case O_EVALN:
      rc = ph_cli_size(CMD, "--eval-n", optarg, 0, SIZE_MAX, &c.eval_n);
      break;
    case O_SEED: rc = ph_cli_u64(CMD, "--seed", optarg, &c.seed); break;
    case O_RESUME: c.resume = 1; break;
    case O_THREADS:
      rc = ph_cli_size(CMD, "--threads", optarg, 1, 256, &threads);
      break;
    case O_OUT: out = optarg; break;
    case O_STOP:
      rc = ph_cli_size(CMD, "--stop-after", optarg, 1, SIZE_MAX, &tmp);
      c.stop_after = tmp;
      break;
    default: return ph_cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    }
    if (rc) return rc;
  }
  if (optind < argc)
    return ph_cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
  if (!have_model) return ph_cli_usage(CMD, "--model SPEC is required");
  if (!have_data) return ph_cli_usage(CMD, "--data SPEC is required");
  if (!out) return ph_cli_usage(CMD, "--out DIR is required");
  if (!c.steps && !(c.epochs > 0))
    return ph_cli_usage(CMD, "give --steps N or --epochs E");
  if (c.steps && c.epochs > 0)
    return ph_cli_usage(CMD, "--steps and --epochs exclude each other");
  if (!ema_set && c.opt.metric == PH_METRIC_NEWTON) c.opt.ema_beta = 0.9;
  /* Undamped Kronecker factors can grow without bound once the GGN vanishes
   * near interpolation (docs/optimisers.md): damp them by default. */
  if (!damp_set && c.opt.precond_kind == PH_PRECOND_KRON) c.opt.damping = 0.01;
  if (ph_optim_config_validate(&c.opt, &err))
    return ph_cli_fail(CMD, PH_ERR_ARG, &err);
  snprintf(c.out_dir, sizeof c.out_dir, "%s", out);
  ph_cli_set_blas_threads((int)threads);
  int existed = ph_is_dir(out);
  if (ph_mkdir_p(out, &err)) return ph_cli_fail(CMD, err.code, &err);
  ph_train_summary sum;
  ph_status s = ph_train_run(&c, &sum, &err);
  if (s) {
    /* A run that failed before its first checkpoint leaves nothing behind. */
    if (!existed) {
      char p[1200];
      snprintf(p, sizeof p, "%s/ckpt", out);
      if (!ph_path_exists(p) || rmdir(p) == 0) rmdir(out);
    }
    return ph_cli_fail(CMD, s, &err);
  }
  printf("{\"optimizer\": \"%s\", \"steps\": %zu, \"train_loss\": %.6g, "
         "\"train_acc\": %.6g, "
         "\"test_loss\": %.6g, \"test_acc\": %.6g, \"wall_time\": %.3g}\n",
         c.opt.name, sum.steps, sum.train_loss, sum.train_acc, sum.test_loss,
         sum.test_acc, sum.seconds);
  return 0;
}
