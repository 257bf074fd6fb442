/* cmd_toy.c: `pothole toy` -- escape experiments on toy landscapes and the
 * amplification sweep. Thin: parse, validate, call ph_escape_run /
 * ph_amp_sweep (src/potholes/escape.c), write. docs/potholes.md.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/afile.h"
#include "core/json.h"
#include "potholes/escape.h"
#include "potholes/toys.h"

#define CMD "toy"

static void usage(void) {
  printf(
      "usage: pothole toy [--landscape SPEC] [--opt LIST] [--seeds S] [--steps "
      "T]\n"
      "                   [--start pit|basin|random|X1,X2,...] [options] --out "
      "DIR\n"
      "Escape experiments: each optimiser runs T steps from S seeded starts;\n"
      "DIR/escape.csv (escape rate with Wilson 95%% interval, median escape\n"
      "step, final loss), DIR/trajectories/<opt>.npy [seed, step, dim] and\n"
      "DIR/toy.json (whole configuration, how P was obtained, timing).\n"
      "With --sweep depth|width (potholeNd): DIR/amplification.csv instead.\n\n"
      "  --landscape SPEC    toy landscape "
      "(default " PH_ESCAPE_DEFAULT_LANDSCAPE "),\n"
      "                      e.g. "
      "pothole2d:a=1,b=1,d=0.5,s=0.1,cx=1.5,noise=0.02\n"
      "  --opt LIST          optimisers (default sgd,sam,llqr,llqr-sam)\n"
      "  --seeds S           seeds (default 200)\n"
      "  --steps T           steps per run (default 2000)\n"
      "  --seed S            base seed; run i uses S+i (default 0)\n"
      "  --start WHERE       pit | basin | random | X1,X2,... (default pit)\n"
      "  --jitter SIGMA      start jitter N(0, SIGMA^2 I) (default: pit "
      "width/4,\n"
      "                      0.1 without a pit)\n"
      "  --box B             --start random: uniform in [-B, B]^n (default 2)\n"
      "  --lr LR             learning rate (default 0.02)\n"
      "  --rho RHO           perturbation radius (default 0: SAM 0.05, "
      "LLQR+SAM 0.1)\n"
      "  --momentum MU       heavy-ball momentum (default 0)\n"
      "  --batch B           minibatch size when the landscape has noise=\n"
      "                      (default 8, drawn with replacement)\n"
      "  --precond-from HOW  burnin | fit | identity (default fit): how the "
      "LLQR\n"
      "                      preconditioner P is obtained\n"
      "  --burnin N          burn-in steps in the wide basin (default 500)\n"
      "  --refresh-every K   LLQR refresh period during the run (default -1 =\n"
      "                      optimiser default; 0 = never)\n"
      "  --escape-k K        escaped when |theta - ref| > K * pit width "
      "(default 3)\n"
      "  --traj N            seeds whose trajectories are saved (default 4)\n"
      "  --backend B         auto | optim | builtin (default auto: optim when "
      "built)\n"
      "  --sweep P           depth | width: amplification sweep on potholeNd\n"
      "  --values V1,V2,...  sweep values (default depth 0.25,0.5,1,2,4;\n"
      "                      width 0.05,0.1,0.2,0.4)\n"
      "  --sweep-escape      also measure SAM and LLQR+SAM escape rates per "
      "value\n"
      "  --out DIR           output directory (required)\n"
      "  --help              this help\n");
}

enum {
  O_LANDSCAPE = 256,
  O_OPT,
  O_SEEDS,
  O_STEPS,
  O_SEED,
  O_START,
  O_JITTER,
  O_BOX,
  O_LR,
  O_RHO,
  O_MOM,
  O_BATCH,
  O_PFROM,
  O_BURNIN,
  O_REFRESH,
  O_ESCK,
  O_TRAJ,
  O_BACKEND,
  O_SWEEP,
  O_VALUES,
  O_SWEEP_ESC,
  O_OUT
};

int ph_cmd_toy(int argc, char **argv) {
  static const struct option opts[] = {
      {"landscape", required_argument, 0, O_LANDSCAPE},
      {"opt", required_argument, 0, O_OPT},
      {"seeds", required_argument, 0, O_SEEDS},
      {"steps", required_argument, 0, O_STEPS},
      {"seed", required_argument, 0, O_SEED},
      {"start", required_argument, 0, O_START},
      {"jitter", required_argument, 0, O_JITTER},
      {"box", required_argument, 0, O_BOX},
      {"lr", required_argument, 0, O_LR},
      {"rho", required_argument, 0, O_RHO},
      {"momentum", required_argument, 0, O_MOM},
      {"batch", required_argument, 0, O_BATCH},
      {"precond-from", required_argument, 0, O_PFROM},
      {"burnin", required_argument, 0, O_BURNIN},
      {"refresh-every", required_argument, 0, O_REFRESH},
      {"escape-k", required_argument, 0, O_ESCK},
      {"traj", required_argument, 0, O_TRAJ},
      {"backend", required_argument, 0, O_BACKEND},
      {"sweep", required_argument, 0, O_SWEEP},
      {"values", required_argument, 0, O_VALUES},
      {"sweep-escape", no_argument, 0, O_SWEEP_ESC},
      {"out", required_argument, 0, O_OUT},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  ph_escape_config cfg = ph_escape_config_default();
  ph_error err = {0};
  const char *out = NULL, *start = NULL, *sweep = NULL, *opt_list = NULL;
  const char *values_arg = NULL;
  int sweep_escape = 0, rc, c;
  double refresh = -1;
  static const char *const pfroms[] = {"burnin", "fit", "identity", NULL};
  static const char *const backends[] = {"auto", "optim", "builtin", NULL};
  static const char *const sweeps[] = {"depth", "width", NULL};
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    int idx;
    switch (c) {
    case 'h': usage(); return 0;
    case O_LANDSCAPE:
      if (strlen(optarg) >= sizeof cfg.landscape)
        return ph_cli_usage(CMD, "--landscape is too long");
      snprintf(cfg.landscape, sizeof cfg.landscape, "%s", optarg);
      break;
    case O_OPT: opt_list = optarg; break;
    case O_SEEDS:
      if ((rc = ph_cli_size(CMD, "--seeds", optarg, 1, 1000000, &cfg.seeds)))
        return rc;
      break;
    case O_STEPS:
      if ((rc = ph_cli_size(CMD, "--steps", optarg, 1, 100000000, &cfg.steps)))
        return rc;
      break;
    case O_SEED:
      if ((rc = ph_cli_u64(CMD, "--seed", optarg, &cfg.seed))) return rc;
      break;
    case O_START: start = optarg; break;
    case O_JITTER:
      if ((rc = ph_cli_double(CMD, "--jitter", optarg, 0, INFINITY,
                              &cfg.jitter)))
        return rc;
      break;
    case O_BOX:
      if ((rc = ph_cli_double(CMD, "--box", optarg, 1e-300, INFINITY,
                              &cfg.random_box)))
        return rc;
      break;
    case O_LR:
      if ((rc = ph_cli_double(CMD, "--lr", optarg, 1e-300, INFINITY, &cfg.lr)))
        return rc;
      break;
    case O_RHO:
      if ((rc = ph_cli_double(CMD, "--rho", optarg, 0, INFINITY, &cfg.rho)))
        return rc;
      break;
    case O_MOM:
      if ((rc = ph_cli_double(CMD, "--momentum", optarg, 0, 0.999999,
                              &cfg.momentum)))
        return rc;
      break;
    case O_BATCH:
      if ((rc = ph_cli_size(CMD, "--batch", optarg, 1, 1000000, &cfg.batch)))
        return rc;
      break;
    case O_PFROM:
      if ((rc = ph_cli_choice(CMD, "--precond-from", optarg, pfroms, &idx)))
        return rc;
      cfg.pfrom = (ph_precond_from)idx;
      break;
    case O_BURNIN:
      if ((rc =
               ph_cli_size(CMD, "--burnin", optarg, 0, 100000000, &cfg.burnin)))
        return rc;
      break;
    case O_REFRESH:
      if ((rc = ph_cli_double(CMD, "--refresh-every", optarg, -1, 1e9,
                              &refresh)))
        return rc;
      if (refresh != floor(refresh))
        return ph_cli_usage(CMD, "--refresh-every expects a whole number");
      cfg.refresh_every = (long)refresh;
      break;
    case O_ESCK:
      if ((rc = ph_cli_double(CMD, "--escape-k", optarg, 1e-300, INFINITY,
                              &cfg.escape_k)))
        return rc;
      break;
    case O_TRAJ:
      if ((rc = ph_cli_size(CMD, "--traj", optarg, 0, 1000, &cfg.n_traj)))
        return rc;
      break;
    case O_BACKEND:
      if ((rc = ph_cli_choice(CMD, "--backend", optarg, backends, &idx)))
        return rc;
      cfg.backend = (ph_escape_backend)idx;
      break;
    case O_SWEEP:
      if ((rc = ph_cli_choice(CMD, "--sweep", optarg, sweeps, &idx))) return rc;
      sweep = sweeps[idx];
      break;
    case O_VALUES: values_arg = optarg; break;
    case O_SWEEP_ESC: sweep_escape = 1; break;
    case O_OUT: out = optarg; break;
    case ':': return ph_cli_usage(CMD, "%s needs a value", argv[optind - 1]);
    default: return ph_cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return ph_cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
  if (!out) return ph_cli_usage(CMD, "--out DIR is required");

  /* ---- validate everything before any output ------------------------- */
  ph_toy_spec spec;
  if (ph_toy_spec_parse(cfg.landscape, &spec, &err) != PH_OK)
    return ph_cli_usage(CMD, "--landscape: %s", err.msg);
  if (opt_list && ph_escape_parse_opts(&cfg, opt_list, &err) != PH_OK)
    return ph_cli_usage(CMD, "--opt: %s", err.msg);
  if (start) {
    if (strcmp(start, "pit") == 0) {
      cfg.start = PH_START_PIT;
    } else if (strcmp(start, "basin") == 0) {
      cfg.start = PH_START_BASIN;
    } else if (strcmp(start, "random") == 0) {
      cfg.start = PH_START_RANDOM;
    } else {
      size_t k = 0;
      if (spec.n > 64)
        return ph_cli_usage(CMD, "--start X1,X2,...: at most 64 coordinates");
      if ((rc = ph_cli_doubles(CMD, "--start", start, cfg.point, 64, &k)))
        return rc;
      if (k != spec.n)
        return ph_cli_usage(CMD,
                            "--start needs %zu coordinates for %s, got %zu",
                            spec.n, ph_toy_kind_name(spec.kind), k);
      cfg.start = PH_START_POINT;
    }
  }
  if (sweep && spec.kind != PH_TOY_POTHOLEND)
    return ph_cli_usage(CMD, "--sweep needs a potholeNd landscape");
  if (!sweep && (values_arg || sweep_escape))
    return ph_cli_usage(CMD, "--values and --sweep-escape need --sweep");
  double values[PH_ESCAPE_MAX_SWEEP];
  size_t n_values = 0;
  if (sweep) {
    if (values_arg) {
      if ((rc = ph_cli_doubles(CMD, "--values", values_arg, values,
                               PH_ESCAPE_MAX_SWEEP, &n_values)))
        return rc;
      for (size_t i = 0; i < n_values; i++)
        if (!(values[i] > 0)) return ph_cli_usage(CMD, "--values must be > 0");
    } else if (strcmp(sweep, "depth") == 0) {
      const double d[5] = {0.25, 0.5, 1, 2, 4};
      memcpy(values, d, sizeof d);
      n_values = 5;
    } else {
      const double w[4] = {0.05, 0.1, 0.2, 0.4};
      memcpy(values, w, sizeof w);
      n_values = 4;
    }
  }

  /* ---- run ------------------------------------------------------------ */
  ph_status st;
  if (!sweep) {
    ph_escape_result res;
    st = ph_escape_run(&cfg, &res, &err);
    if (st != PH_OK) return ph_cli_fail(CMD, st, &err);
    st = ph_escape_write(&cfg, &res, NULL, out, &err);
    if (st != PH_OK) {
      ph_escape_result_free(&res);
      return ph_cli_fail(CMD, st, &err);
    }
    printf("%-10s %8s %17s %8s %12s %12s\n", "optimiser", "escape", "wilson95",
           "median", "final_loss", "std");
    for (size_t k = 0; k < res.n_rows; k++) {
      const ph_escape_row *r = &res.rows[k];
      printf("%-10s %8.3f [%6.3f, %6.3f] %8.0f %12.5g %12.5g\n", r->opt,
             r->escape_rate, r->ci_lo, r->ci_hi, r->median_escape_step,
             r->final_loss_mean, r->final_loss_std);
    }
    printf("# %zu optimisers x %zu seeds x %zu steps in %.3f s (%s backend); "
           "results in %s\n",
           res.n_rows, cfg.seeds, cfg.steps, res.seconds, res.backend, out);
    ph_escape_result_free(&res);
    return 0;
  }
  ph_amp_row rows[PH_ESCAPE_MAX_SWEEP];
  st = ph_amp_sweep(&cfg, sweep, values, n_values, rows, sweep_escape, &err);
  if (st != PH_OK) return ph_cli_fail(CMD, st, &err);
  char *csv = NULL, *js = NULL;
  cJSON *root = NULL;
  st = ph_mkdir_p(out, &err);
  if (st == PH_OK) {
    csv = ph_path_join(out, "amplification.csv", &err);
    js = ph_path_join(out, "toy.json", &err);
    if (!csv || !js) st = PH_ERR_NOMEM;
  }
  if (st == PH_OK) st = ph_amp_write(csv, sweep, rows, n_values, &err);
  if (st == PH_OK) {
    root = cJSON_CreateObject();
    cJSON *cj = cJSON_AddObjectToObject(root, "config");
    char canon[PH_TOY_SPEC_MAX];
    ph_toy_spec_format(&spec, canon, sizeof canon);
    cJSON_AddStringToObject(cj, "landscape", canon);
    cJSON_AddStringToObject(cj, "sweep", sweep);
    cJSON_AddItemToObject(cj, "values", ph_json_array(values, n_values));
    ph_json_add_number(cj, "points", (double)cfg.seeds);
    ph_json_add_number(cj, "seed", (double)cfg.seed);
    ph_json_add_number(cj, "jitter", cfg.jitter);
    ph_json_add_number(cj, "rho", cfg.rho > 0 ? cfg.rho : 0.05);
    cJSON_AddStringToObject(cj, "precond_from", pfroms[cfg.pfrom]);
    cJSON_AddStringToObject(
        cj, "measured",
        "A(v) = s_llqr_sam(v)/s_sam(v), s = v.(update with perturbation - "
        "update without)/|update with|, v the top generalised eigenvector of "
        "H v = mu P^-1 v at theta = pit + N(0, jitter^2 I); mean and 95% "
        "normal interval over the points");
    cJSON_AddStringToObject(cj, "predicted",
                            "first order p_v |g| / |P g| (algorithms.md 5)");
    if (sweep_escape) {
      ph_json_add_number(cj, "steps", (double)cfg.steps);
      ph_json_add_number(cj, "lr", cfg.lr);
    }
    cJSON *arr = cJSON_AddArrayToObject(root, "sweep");
    for (size_t i = 0; i < n_values; i++) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddItemToArray(arr, o);
      ph_json_add_number(o, sweep, rows[i].value);
      ph_json_add_number(o, "pi", rows[i].pi);
      ph_json_add_number(o, "predicted", rows[i].predicted);
      ph_json_add_number(o, "measured", rows[i].measured);
      ph_json_add_number(o, "ci_lo", rows[i].ci_lo);
      ph_json_add_number(o, "ci_hi", rows[i].ci_hi);
      ph_json_add_number(o, "predicted_squared", rows[i].predicted_sq);
      ph_json_add_number(o, "drift_ratio", rows[i].drift_ratio);
      ph_json_add_number(o, "escape_sam", rows[i].escape_sam);
      ph_json_add_number(o, "escape_llqr_sam", rows[i].escape_llqr_sam);
    }
    ph_json_add_stamp(root);
    st = ph_json_write_file(js, root, &err);
    if (st != PH_OK) remove(csv);
  }
  cJSON_Delete(root);
  if (st == PH_OK) {
    printf("%-8s %10s %10s %10s %23s %10s\n", sweep, "pi", "predicted",
           "measured", "95% interval", "drift");
    for (size_t i = 0; i < n_values; i++)
      printf("%-8.4g %10.4g %10.4g %10.4g [%10.4g, %10.4g] %10.4g\n",
             rows[i].value, rows[i].pi, rows[i].predicted, rows[i].measured,
             rows[i].ci_lo, rows[i].ci_hi, rows[i].drift_ratio);
  }
  free(csv);
  free(js);
  if (st != PH_OK) return ph_cli_fail(CMD, st, &err);
  return 0;
}
