/* cmd_slice.c: `pothole slice` -- a 1-D or 2-D loss-landscape slice of a
 * checkpoint (or a toy landscape) along random (filter-normalised), Hessian,
 * PCA, pothole, models or axes directions, with the training trajectory
 * projected honestly. Thin: parse, load, call ph_slice_run, write. The
 * numerics live in src/landscape (docs/landscape.md).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "core/afile.h"
#include "core/ckpt.h"
#include "core/dist.h"
#include "core/json.h"
#include "core/npy.h"
#include "landscape/slice.h"
#include "landscape/target.h"
#include "nn/net.h"

#define CMD "slice"

static volatile sig_atomic_t g_interrupt;
static void on_signal(int sig) {
  (void)sig;
  g_interrupt = 1;
}

/* Split "a,b,c" into at most max malloc'ed strings. */
static int split_list(const char *s, char **out, int max) {
  int k = 0;
  const char *p = s;
  while (*p && k < max) {
    const char *q = strchr(p, ',');
    size_t len = q ? (size_t)(q - p) : strlen(p);
    out[k] = strndup(p, len);
    k++;
    if (!q) break;
    p = q + 1;
    if (!*p) return -1;
  }
  if (k == max && strchr(p, ',')) return -1;
  return k;
}

int ph_cmd_slice(int argc, char **argv) {
  const char *ckpt = NULL, *data = NULL, *landscape = NULL, *at = NULL,
             *run = NULL, *traj_file = NULL, *precond = NULL, *models = NULL,
             *out = NULL, *range = NULL, *grid = "51x51";
  size_t n_eval = PH_CLI_DEFAULT_N, traj_index = 0, nx = 51, ny = 51,
         threads = 0;
  double save_every = 5.0;
  int split = 0, dirs = PH_SLICE_RANDOM, norm = -1, include_bias = 0;
  uint64_t seed = 0;
  static const char *const splits[] = {"train", "test", "both", NULL};
  /* besides the .npy set: loss-landscape's HDF5 files, a VTK surface */
  static const char *const formats[] = {"npy", "h5", "vtk", "all", NULL};
  int format = 0;
  static const char *const norms[] = {"filter", "layer", "none", NULL};
  static const char *const kinds[] = {"random", "hessian", "pca", "pothole",
                                      "models", "axes",    NULL};
  int rc, out_created = 0;
  const ph_opt opts[] = {
      {"ckpt", "FILE", PH_OPT_STRING, &ckpt,
       .help = "checkpoint to slice around (default with --run:\n"
               "RUN/ckpt/final.ckpt)"},
      PH_OPT_DATA(&data),
      PH_OPT_N(&n_eval),
      {"split", "S", PH_OPT_CHOICE, &split, .choices = splits,
       .help = "evaluation split; both: the train surface plus\n"
               "surface_test_*.npy"},
      {"landscape", "SPEC", PH_OPT_STRING, &landscape,
       .help = "a toy landscape (src/potholes) instead of --ckpt"},
      {"at", "X1,X2,...|pit|basin", PH_OPT_STRING, &at,
       .help = "toy centre (default: the origin)"},
      {"dirs", "KIND", PH_OPT_CHOICE, &dirs, .choices = kinds,
       .help = "directions"},
      {"norm", "NORM", PH_OPT_CHOICE, &norm, .choices = norms,
       .help = "random directions (default filter; none for --landscape)",
       .flags = PH_OPT_NO_DEFAULT},
      {"include-bias", NULL, PH_OPT_FLAG, &include_bias,
       .help = "keep bias/norm entries in random directions"},
      {"run", "DIR", PH_OPT_STRING, &run,
       .help = "training run: DIR/trajectory.npy [T, n] is projected\n"
               "(trajectory.csv) and gives the pca directions"},
      {"trajectory", "FILE", PH_OPT_STRING, &traj_file,
       .help = "a trajectory .npy ([T, n], or [S, T, n]: row\n"
               "--traj-index) instead of RUN/trajectory.npy"},
      {"traj-index", "K", PH_OPT_SIZE, &traj_index, .lo = 0, .hi = 1e9,
       .help = "which trajectory of an [S, T, n] file"},
      {"precond", "FILE|DIR", PH_OPT_STRING, &precond,
       .help = "averaged preconditioner U for --dirs pothole: a .npy\n"
               "diagonal of length n, a run directory or a .ckpt;\n"
               "'basin' for a toy: its fitted U = diag(1/curvature)\n"
               "(default with --run: the run directory)"},
      {"models", "A,B[,C]", PH_OPT_STRING, &models,
       .help = "checkpoints for --dirs models (the slice is centred at A)"},
      {"grid", "NX[xNY]", PH_OPT_STRING, &grid,
       .help = "grid points; one number = 1-D"},
      {"range", "LO:HI[,LO:HI]", PH_OPT_STRING, &range,
       .help = "axis ranges, or 'auto' to cover the trajectory\n"
               "(default -1:1,-1:1; auto when --dirs pca)",
       .flags = PH_OPT_NO_DEFAULT},
      PH_OPT_THREADS(&threads),
      {"save-every", "S", PH_OPT_DOUBLE, &save_every, .lo = 0.01, .hi = 86400,
       .help = "seconds between saves of the resume state (the grid's\n"
               "results do not depend on threads, nor on MPI ranks)"},
      PH_OPT_SEED(&seed),
      PH_OPT_OUT_DIR(&out),
      {"format", "F", PH_OPT_CHOICE, &format, .choices = formats,
       .help = "besides the .npy files: h5 adds loss-landscape's\n"
               "surface.h5, directions.h5 (and projection.h5);\n"
               "vtk adds surface.vts for ParaView; all adds both\n"
               "(docs/formats.md)"},
      {0}};
  const ph_cli_spec spec = {
      CMD,
      "(--ckpt FILE [--data SPEC] | --run DIR | --landscape SPEC\n"
      "                      [--at X1,X2,...]) --dirs KIND --out DIR "
      "[options]",
      "A loss-landscape slice: surface_loss.npy, surface_acc.npy, x.npy, "
      "y.npy,\ndirections.npy, trajectory.csv (with a trajectory), "
      "slice1d.csv (1-D\nhessian/pothole) and slice.json in DIR. An "
      "interrupted slice resumes when\nthe same command is run again.",
      opts,
      0,
      0};
  if ((rc = ph_cli_parse(&spec, argc, argv, NULL, NULL)) >= 0) return rc;
  if ((rc = ph_cli_parse_grid(CMD, "--grid", grid, &nx, &ny))) return rc;
  threads = ph_cli_threads(threads);

  /* ---- validate the options (nothing is written before this passes) ---- */
  int two_d = strchr(grid, 'x') != NULL;
  if (landscape && (ckpt || data))
    return ph_cli_usage(CMD, "--landscape excludes --ckpt and --data");
  if (!landscape && !ckpt && !run)
    return ph_cli_usage(CMD, "give --ckpt FILE, --run DIR or --landscape SPEC");
  if (at && !landscape)
    return ph_cli_usage(CMD, "--at applies to --landscape only");
  if (dirs == PH_SLICE_MODELS && !models)
    return ph_cli_usage(CMD, "--dirs models needs --models A,B[,C]");
  if (models && dirs != PH_SLICE_MODELS)
    return ph_cli_usage(CMD, "--models needs --dirs models");
  if (dirs == PH_SLICE_PCA && !run && !traj_file)
    return ph_cli_usage(CMD, "--dirs pca needs --run DIR or --trajectory FILE");
  if (dirs == PH_SLICE_POTHOLE && !precond && !run)
    return ph_cli_usage(CMD,
                        "--dirs pothole needs --precond FILE|DIR (or --run)");
  if (norm >= 0 && dirs != PH_SLICE_RANDOM)
    return ph_cli_usage(CMD, "--norm applies to --dirs random only");
  if (include_bias && dirs != PH_SLICE_RANDOM)
    return ph_cli_usage(CMD, "--include-bias applies to --dirs random only");
  if (norm < 0) norm = landscape ? PH_DIR_NORM_NONE : PH_DIR_NORM_FILTER;
  int auto_rng = 0;
  double xr[2] = {-1, 1}, yr[2] = {-1, 1};
  if (range && strcmp(range, "auto") == 0) {
    auto_rng = 1;
  } else if (range) {
    char *parts[3] = {0};
    int k = split_list(range, parts, 2);
    rc = 0;
    if (k < 1)
      rc = ph_cli_usage(CMD, "--range expects LO:HI[,LO:HI] or auto, got '%s'",
                        range);
    if (!rc && k >= 1)
      rc = ph_cli_parse_range(CMD, "--range", parts[0], &xr[0], &xr[1]);
    if (!rc && k == 2)
      rc = ph_cli_parse_range(CMD, "--range", parts[1], &yr[0], &yr[1]);
    if (!rc && k == 2 && !two_d)
      rc = ph_cli_usage(CMD, "--range has two axes but --grid %s is 1-D", grid);
    if (!rc && k == 1) {
      yr[0] = xr[0];
      yr[1] = xr[1];
    }
    for (int i = 0; i < 3; i++) free(parts[i]);
    if (rc) return rc;
  } else if (dirs == PH_SLICE_PCA) {
    auto_rng = 1;
  }

  ph_cli_set_blas_threads(1); /* numbers independent of --threads */
  ph_error err = {0};
  ph_error_clear(&err);
  ph_status st = PH_OK;
  int code = 0;
  char *trajp = NULL, *state = NULL;
  char *mnames[3] = {0};
  ph_geom geom_store; /* the averaged geometry for the sharpness module */
  memset(&geom_store, 0, sizeof geom_store);
  ph_target tg;
  memset(&tg, 0, sizeof tg);
  double *mtheta[3] = {0};
  ph_npy traj = {0};
  ph_objective *o = NULL;
  const double *theta = NULL;
  ph_slice_result res;
  memset(&res, 0, sizeof res);
  cJSON *cfgj = NULL;
  ph_slice_config cfg = ph_slice_config_default();

  /* ---- load the objective -------------------------------------------- */
  const ph_target_spec ts = {.ckpt = ckpt,
                             .run = landscape ? NULL : run,
                             .data = data,
                             .max_batch = n_eval < 2048 ? n_eval : 2048,
                             .landscape = landscape,
                             .at = at};
  if ((st = ph_target_load(&ts, &tg, &err))) goto fail;
  o = tg.obj;
  theta = tg.theta;
  ckpt = tg.ckpt;
  size_t n = o->n;

  /* evaluation set */
  size_t avail = o->n_examples[split == 1 ? PH_SPLIT_TEST : PH_SPLIT_TRAIN];
  if (n_eval > avail) n_eval = avail;
  /* --split both: the train surface is the main one, test the second */
  size_t n_req = n_eval;
  if (split == 2) {
    cfg.with_second = 1;
    cfg.second_batch.split = PH_SPLIT_TEST;
    cfg.second_batch.idx = NULL;
    size_t avail_t = o->n_examples[PH_SPLIT_TEST];
    cfg.second_batch.n = n_req > avail_t ? avail_t : n_req;
  }
  cfg.batch.split = split == 1 ? PH_SPLIT_TEST : PH_SPLIT_TRAIN;
  cfg.batch.idx = NULL;
  cfg.batch.n = n_eval;

  /* trajectory */
  if (traj_file || run) {
    const char *tp = traj_file;
    if (!tp) {
      trajp = ph_path_join(run, "trajectory.npy", &err);
      if (!trajp) {
        st = PH_ERR_NOMEM;
        goto fail;
      }
      tp = trajp;
    }
    if (traj_file || ph_path_exists(tp) || dirs == PH_SLICE_PCA) {
      if ((st = ph_npy_read(tp, &traj, &err)) ||
          (st = ph_npy_check(&traj, tp, PH_NPY_FINITE, "a trajectory", &err)))
        goto fail;
      size_t T = 0;
      const double *rows = NULL;
      if (traj.ndim == 2 && traj.shape[1] == n) {
        T = traj.shape[0];
        rows = traj.data;
      } else if (traj.ndim == 3 && traj.shape[2] == n) {
        if (traj_index >= traj.shape[0]) {
          st = ph_error_set(&err, PH_ERR_ARG,
                            "%s: --traj-index %zu but only %zu "
                            "trajectories",
                            tp, traj_index, traj.shape[0]);
          goto fail;
        }
        T = traj.shape[1];
        rows = traj.data + traj_index * T * n;
      } else {
        st = ph_error_set(&err, PH_ERR_FORMAT,
                          "%s: expected shape [T, %zu] or [S, T, %zu]", tp, n,
                          n);
        goto fail;
      }
      cfg.traj = rows;
      cfg.traj_T = T;
    }
  }

  /* models */
  size_t n_models = 0;
  if (models) {
    int k = split_list(models, mnames, 3);
    if (k < 2 || k != (two_d ? 3 : 2)) {
      code = ph_cli_usage(CMD, "--models needs %d checkpoints for a %s grid",
                          two_d ? 3 : 2, two_d ? "2-D" : "1-D");
      goto cleanup;
    }
    n_models = (size_t)k;
    for (int i = 0; i < k; i++) {
      ph_ckpt *ck = NULL;
      const double *t;
      size_t tn;
      if ((st = ph_ckpt_read(mnames[i], &ck, &err))) goto fail;
      st = ph_ckpt_require_f64(ck, "theta", n, &t, &tn, &err);
      if (st == PH_OK) {
        mtheta[i] = malloc(n * sizeof(double));
        if (mtheta[i])
          memcpy(mtheta[i], t, n * sizeof(double));
        else
          st = ph_error_set(&err, PH_ERR_NOMEM, "out of memory");
      }
      ph_ckpt_free(ck);
      if (st) goto fail;
    }
    cfg.models = (const double *const *)mtheta;
    cfg.n_models = n_models;
  }

  /* preconditioner: --precond, or the run directory's (target.h) */
  if (dirs == PH_SLICE_POTHOLE) {
    if ((st = ph_target_geom_load(&tg, precond ? precond : run, &geom_store,
                                  &err)))
      goto fail;
    cfg.geom = &geom_store;
  }
  if ((dirs == PH_SLICE_HESSIAN || dirs == PH_SLICE_POTHOLE) && !o->hvp) {
    st = ph_error_set(&err, PH_ERR_UNSUPPORTED,
                      "%s has no Hessian-vector product", o->name);
    goto fail;
  }

  /* ---- run ------------------------------------------------------------ */
  cfg.dirs = (ph_slice_dirs)dirs;
  cfg.norm = (ph_dir_norm)norm;
  cfg.include_bias = include_bias;
  cfg.seed = seed;
  cfg.two_d = two_d;
  cfg.nx = nx;
  cfg.ny = ny;
  cfg.x_lo = xr[0];
  cfg.x_hi = xr[1];
  cfg.y_lo = yr[0];
  cfg.y_hi = yr[1];
  cfg.auto_range = auto_rng;
  cfg.threads = (int)threads;
  ph_progress prog;
  memset(&prog, 0, sizeof prog);
  snprintf(prog.label, sizeof prog.label, "slice");
  prog.enabled = -1;
  cfg.progress = &prog;
  g_interrupt = 0;
  cfg.interrupt = &g_interrupt;
  /* In an MPI job rank 0 alone owns DIR: the resume state and the files. */
  out_created = ph_dist_rank() == 0 && !ph_path_exists(out);
  if (ph_dist_rank() == 0 && (st = ph_mkdir_p(out, &err))) goto fail;
  state = ph_path_join(out, ".slice.state", &err);
  if (!state) {
    st = PH_ERR_NOMEM;
    goto fail;
  }
  cfg.state_path = state;
  cfg.save_interval = save_every;

  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  st = ph_slice_run(o, theta, &cfg, &res, &err);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  if (st == PH_ERR_INTERRUPTED) {
    if (ph_dist_rank() == 0)
      fprintf(stderr,
              "pothole slice: interrupted after %zu of %zu points; run the "
              "same command again to resume (%s)\n",
              res.grid.resumed + res.grid.computed, res.grid.points, out);
    code = 1;
    goto cleanup;
  }
  if (st) goto fail;
  if (ph_dist_rank() != 0) goto cleanup; /* rank 0 writes */

  /* ---- write ---------------------------------------------------------- */
  cfgj = cJSON_CreateObject();
  if (ckpt) {
    cJSON_AddStringToObject(cfgj, "ckpt", ckpt);
    char hex[16];
    snprintf(hex, sizeof hex, "%08x", (unsigned)tg.ckpt_crc);
    cJSON_AddStringToObject(cfgj, "ckpt_crc32", hex);
  }
  if (data) cJSON_AddStringToObject(cfgj, "data", data);
  if (tg.net.obj && ph_net_dataset(o)) {
    const ph_dataset *ds = ph_net_dataset(o);
    cJSON_AddStringToObject(cfgj, "data_spec", ds->spec);
    char hex[16];
    snprintf(hex, sizeof hex, "%08x", (unsigned)ds->checksum);
    cJSON_AddStringToObject(cfgj, "data_crc32", hex);
    if (ph_net_spec(o)) cJSON_AddStringToObject(cfgj, "model", ph_net_spec(o));
  }
  if (landscape) {
    cJSON_AddStringToObject(cfgj, "landscape", landscape);
    cJSON_AddItemToObject(cfgj, "at", ph_json_array(theta, n));
  }
  cJSON_AddNumberToObject(cfgj, "n", (double)n_eval);
  cJSON_AddStringToObject(cfgj, "split", splits[split]);
  cJSON_AddStringToObject(cfgj, "dirs", kinds[dirs]);
  cJSON_AddStringToObject(cfgj, "norm", norms[norm]);
  cJSON_AddBoolToObject(cfgj, "include_bias", include_bias);
  if (run) cJSON_AddStringToObject(cfgj, "run", run);
  if (traj_file) cJSON_AddStringToObject(cfgj, "trajectory", traj_file);
  if (traj_file)
    cJSON_AddNumberToObject(cfgj, "traj_index", (double)traj_index);
  if (precond) cJSON_AddStringToObject(cfgj, "precond", precond);
  if (models) cJSON_AddStringToObject(cfgj, "models", models);
  cJSON_AddStringToObject(cfgj, "grid", grid);
  cJSON_AddStringToObject(cfgj, "range",
                          range ? range : (auto_rng ? "auto" : "-1:1"));
  cJSON_AddNumberToObject(cfgj, "threads", (double)threads);
  cJSON_AddNumberToObject(cfgj, "seed", (double)seed);
  cJSON_AddStringToObject(cfgj, "out", out);
  cJSON_AddStringToObject(cfgj, "format", formats[format]);
  if ((format == 1 || format == 3) &&
      (st = ph_slice_write_h5(out, o, &cfg, &res, &err)))
    goto fail;
  if ((format == 2 || format == 3) &&
      (st = ph_slice_write_vtk(out, &res, &err))) {
    ph_slice_formats_remove(out);
    goto fail;
  }
  if ((st = ph_slice_write(out, o, &cfg, &res, cfgj, &err))) {
    ph_slice_formats_remove(out);
    goto fail;
  }
  printf(
      "slice: %zu points (%zu computed, %zu resumed) in %.2f s, %.1f points/s "
      "with %d thread%s x %d rank%s -> %s\n",
      res.grid.points, res.grid.computed, res.grid.resumed, res.grid.seconds,
      res.grid.points_per_second, res.grid.threads,
      res.grid.threads == 1 ? "" : "s", res.grid.ranks,
      res.grid.ranks == 1 ? "" : "s", out);
  goto cleanup;

fail:
  code = ph_cli_fail(CMD, st, &err);
  if (out_created) rmdir(out); /* only if still empty: never a resume state */
cleanup:
  cJSON_Delete(cfgj);
  ph_slice_result_free(&res);
  ph_geom_free(&geom_store);
  for (int i = 0; i < 3; i++) {
    free(mnames[i]);
    free(mtheta[i]);
  }
  ph_npy_free(&traj);
  ph_target_free(&tg);
  free(trajp);
  free(state);
  return code;
}
