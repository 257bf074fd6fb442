/* cmd_slice.c: `pothole slice` -- a 1-D or 2-D loss-landscape slice of a
 * checkpoint (or a toy landscape) along random (filter-normalised), Hessian,
 * PCA, pothole, models or axes directions, with the training trajectory
 * projected honestly. Thin, in named steps: parse and check the options,
 * load the target (landscape/target.h), the trajectory and the models,
 * configure the directions, run the grid (ph_slice_run), write. The
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

static const char *const SPLITS[] = {"train", "test", "both", NULL};
/* besides the .npy set: loss-landscape's HDF5 files, a VTK surface */
static const char *const FORMATS[] = {"npy", "h5", "vtk", "all", NULL};
static const char *const NORMS[] = {"filter", "layer", "none", NULL};
static const char *const KINDS[] = {"random", "hessian", "pca", "pothole",
                                    "models", "axes",    NULL};

/* The command line, as parsed and checked. */
typedef struct slice_args {
  const char *ckpt, *data, *landscape, *at, *run, *traj_file, *precond, *models,
      *out, *range, *grid;
  size_t n_eval, traj_index, nx, ny, threads;
  double save_every;
  size_t hold_after; /* --hold-after: a test hook (ph_grid_options) */
  int split, dirs, norm, include_bias, format, direct;
  uint64_t seed;
  int two_d, auto_rng;
  double xr[2], yr[2];
  char *mnames[3]; /* --models, split */
  size_t n_models;
} slice_args;

/* What the steps build and the cleanup releases. */
typedef struct slice_job {
  ph_target tg;
  ph_geom geom; /* the averaged geometry for --dirs pothole */
  ph_npy traj;
  double *mtheta[3];
  char *trajp, *state;
  int out_created;
  ph_progress prog;
  ph_slice_config cfg;
  ph_slice_result res;
  cJSON *json;
} slice_job;

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

/* ---- parse: the option table ---------------------------------------------
 * Returns -1 to go on, else the exit code. */
static int slice_parse(int argc, char **argv, slice_args *a) {
  const ph_opt opts[] = {
      {"ckpt", "FILE", PH_OPT_STRING, &a->ckpt,
       .help = "checkpoint to slice around (default with --run:\n"
               "RUN/ckpt/final.ckpt)"},
      PH_OPT_DATA(&a->data),
      PH_OPT_N(&a->n_eval),
      {"split", "S", PH_OPT_CHOICE, &a->split, .choices = SPLITS,
       .help = "evaluation split; both: the train surface plus\n"
               "surface_test_*.npy"},
      {"landscape", "SPEC", PH_OPT_STRING, &a->landscape,
       .help = "a toy landscape (src/potholes) instead of --ckpt"},
      {"at", "X1,X2,...|pit|basin", PH_OPT_STRING, &a->at,
       .help = "toy centre (default: the origin)"},
      {"dirs", "KIND", PH_OPT_CHOICE, &a->dirs, .choices = KINDS,
       .help = "directions"},
      {"norm", "NORM", PH_OPT_CHOICE, &a->norm, .choices = NORMS,
       .help = "random directions (default filter; none for --landscape)",
       .flags = PH_OPT_NO_DEFAULT},
      {"include-bias", NULL, PH_OPT_FLAG, &a->include_bias,
       .help = "keep bias/norm entries in random directions"},
      {"run", "DIR", PH_OPT_STRING, &a->run,
       .help = "training run: DIR/trajectory.npy [T, n] is projected\n"
               "(trajectory.csv) and gives the pca directions"},
      {"trajectory", "FILE", PH_OPT_STRING, &a->traj_file,
       .help = "a trajectory .npy ([T, n], or [S, T, n]: row\n"
               "--traj-index) instead of RUN/trajectory.npy"},
      {"traj-index", "K", PH_OPT_SIZE, &a->traj_index, .lo = 0, .hi = 1e9,
       .help = "which trajectory of an [S, T, n] file"},
      {"precond", "FILE|DIR", PH_OPT_STRING, &a->precond,
       .help = "averaged preconditioner U for --dirs pothole: a .npy\n"
               "diagonal of length n, a run directory or a .ckpt;\n"
               "'basin' for a toy: its fitted U = diag(1/curvature)\n"
               "(default with --run: the run directory)"},
      {"models", "A,B[,C]", PH_OPT_STRING, &a->models,
       .help = "checkpoints for --dirs models (the slice is centred at A)"},
      {"grid", "NX[xNY]", PH_OPT_STRING, &a->grid,
       .help = "grid points; one number = 1-D"},
      {"range", "LO:HI[,LO:HI]", PH_OPT_STRING, &a->range,
       .help = "axis ranges, or 'auto' to cover the trajectory\n"
               "(default -1:1,-1:1; auto when --dirs pca)",
       .flags = PH_OPT_NO_DEFAULT},
      PH_OPT_THREADS(&a->threads),
      {"save-every", "S", PH_OPT_DOUBLE, &a->save_every, .lo = 0.01,
       .hi = 86400,
       .help = "seconds between saves of the resume state (the grid's\n"
               "results do not depend on threads, nor on MPI ranks)"},
      {"hold-after", "N", PH_OPT_SIZE, &a->hold_after, .lo = 1, .hi = 1e12,
       .help = "after N new points of this process stop computing and\n"
               "wait, as a hung process would, until SIGINT/SIGTERM\n"
               "or the MPI job's end (a test hook: test_mpi_faults.sh,\n"
               "test_slice.sh)",
       .flags = PH_OPT_HIDDEN},
      {"direct", NULL, PH_OPT_FLAG, &a->direct,
       .help = "evaluate the network at every point, not by plane\n"
               "(its first layer's products once per grid, the\n"
               "default; the two differ by rounding only:\n"
               "docs/landscape.md); reproduces older grids' bits"},
      PH_OPT_SEED(&a->seed),
      PH_OPT_OUT_DIR(&a->out),
      {"format", "F", PH_OPT_CHOICE, &a->format, .choices = FORMATS,
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
  int rc;
  if ((rc = ph_cli_parse(&spec, argc, argv, NULL, NULL)) >= 0) return rc;
  if ((rc = ph_cli_parse_grid(CMD, "--grid", a->grid, &a->nx, &a->ny)))
    return rc;
  a->threads = ph_cli_threads(a->threads);
  return -1;
}

/* --range: LO:HI[,LO:HI], or auto. */
static int slice_check_range(slice_args *a) {
  if (a->range && strcmp(a->range, "auto") == 0) {
    a->auto_rng = 1;
    return 0;
  }
  if (!a->range) {
    a->auto_rng = a->dirs == PH_SLICE_PCA;
    return 0;
  }
  char *parts[3] = {0};
  int k = split_list(a->range, parts, 2), rc = 0;
  if (k < 1)
    rc = ph_cli_usage(CMD, "--range expects LO:HI[,LO:HI] or auto, got '%s'",
                      a->range);
  if (!rc && k >= 1)
    rc = ph_cli_parse_range(CMD, "--range", parts[0], &a->xr[0], &a->xr[1]);
  if (!rc && k == 2)
    rc = ph_cli_parse_range(CMD, "--range", parts[1], &a->yr[0], &a->yr[1]);
  if (!rc && k == 2 && !a->two_d)
    rc =
        ph_cli_usage(CMD, "--range has two axes but --grid %s is 1-D", a->grid);
  if (!rc && k == 1) {
    a->yr[0] = a->xr[0];
    a->yr[1] = a->xr[1];
  }
  for (int i = 0; i < 3; i++) free(parts[i]);
  return rc;
}

/* ---- check: how the options combine (nothing is written before this
 * passes). Returns 0 or the exit code 2. */
static int slice_check(slice_args *a) {
  a->two_d = strchr(a->grid, 'x') != NULL;
  if (a->landscape && (a->ckpt || a->data))
    return ph_cli_usage(CMD, "--landscape excludes --ckpt and --data");
  if (!a->landscape && !a->ckpt && !a->run)
    return ph_cli_usage(CMD, "give --ckpt FILE, --run DIR or --landscape SPEC");
  if (a->at && !a->landscape)
    return ph_cli_usage(CMD, "--at applies to --landscape only");
  if (a->dirs == PH_SLICE_MODELS && !a->models)
    return ph_cli_usage(CMD, "--dirs models needs --models A,B[,C]");
  if (a->models && a->dirs != PH_SLICE_MODELS)
    return ph_cli_usage(CMD, "--models needs --dirs models");
  if (a->dirs == PH_SLICE_PCA && !a->run && !a->traj_file)
    return ph_cli_usage(CMD, "--dirs pca needs --run DIR or --trajectory FILE");
  if (a->dirs == PH_SLICE_POTHOLE && !a->precond && !a->run)
    return ph_cli_usage(CMD,
                        "--dirs pothole needs --precond FILE|DIR (or --run)");
  if (a->norm >= 0 && a->dirs != PH_SLICE_RANDOM)
    return ph_cli_usage(CMD, "--norm applies to --dirs random only");
  if (a->include_bias && a->dirs != PH_SLICE_RANDOM)
    return ph_cli_usage(CMD, "--include-bias applies to --dirs random only");
  if (a->norm < 0)
    a->norm = a->landscape ? PH_DIR_NORM_NONE : PH_DIR_NORM_FILTER;
  if (a->models) {
    int k = split_list(a->models, a->mnames, 3);
    if (k < 2 || k != (a->two_d ? 3 : 2))
      return ph_cli_usage(CMD, "--models needs %d checkpoints for a %s grid",
                          a->two_d ? 3 : 2, a->two_d ? "2-D" : "1-D");
    a->n_models = (size_t)k;
  }
  return slice_check_range(a);
}

/* ---- load: the target and the evaluation sets ---------------------------- */
static ph_status slice_load(slice_args *a, slice_job *j, ph_error *err) {
  const ph_target_spec ts = {.ckpt = a->ckpt,
                             .run = a->landscape ? NULL : a->run,
                             .data = a->data,
                             .max_batch = a->n_eval < 2048 ? a->n_eval : 2048,
                             .landscape = a->landscape,
                             .at = a->at};
  PH_TRY(ph_target_load(&ts, &j->tg, err));
  a->ckpt = j->tg.ckpt; /* RUN/ckpt/final.ckpt with --run */
  const ph_objective *o = j->tg.obj;
  ph_slice_config *cfg = &j->cfg;
  size_t avail = o->n_examples[a->split == 1 ? PH_SPLIT_TEST : PH_SPLIT_TRAIN];
  if (a->n_eval > avail) a->n_eval = avail;
  /* --split both: the train surface is the main one, test the second */
  if (a->split == 2) {
    cfg->with_second = 1;
    cfg->second_batch.split = PH_SPLIT_TEST;
    cfg->second_batch.idx = NULL;
    size_t avail_t = o->n_examples[PH_SPLIT_TEST];
    cfg->second_batch.n = a->n_eval > avail_t ? avail_t : a->n_eval;
  }
  cfg->batch.split = a->split == 1 ? PH_SPLIT_TEST : PH_SPLIT_TRAIN;
  cfg->batch.idx = NULL;
  cfg->batch.n = a->n_eval;
  return PH_OK;
}

/* ---- load: the trajectory ([T, n], or row --traj-index of [S, T, n]) ---- */
static ph_status slice_trajectory(const slice_args *a, slice_job *j,
                                  ph_error *err) {
  if (!a->traj_file && !a->run) return PH_OK;
  const char *tp = a->traj_file;
  if (!tp) {
    if (!(j->trajp = ph_path_join(a->run, "trajectory.npy", err)))
      return PH_ERR_NOMEM;
    tp = j->trajp;
  }
  if (!a->traj_file && !ph_path_exists(tp) && a->dirs != PH_SLICE_PCA)
    return PH_OK; /* a run without a trajectory */
  ph_npy *traj = &j->traj;
  PH_TRY(ph_npy_read(tp, traj, err));
  PH_TRY(ph_npy_check(traj, tp, PH_NPY_FINITE, "a trajectory", err));
  size_t n = j->tg.obj->n, T = 0;
  const double *rows = NULL;
  if (traj->ndim == 2 && traj->shape[1] == n) {
    T = traj->shape[0];
    rows = traj->data;
  } else if (traj->ndim == 3 && traj->shape[2] == n) {
    if (a->traj_index >= traj->shape[0])
      return ph_error_set(err, PH_ERR_ARG,
                          "%s: --traj-index %zu but only %zu trajectories", tp,
                          a->traj_index, traj->shape[0]);
    T = traj->shape[1];
    rows = traj->data + a->traj_index * T * n;
  } else {
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: expected shape [T, %zu] or [S, T, %zu]", tp, n, n);
  }
  j->cfg.traj = rows;
  j->cfg.traj_T = T;
  return PH_OK;
}

/* ---- directions: the models' parameters, P, and the configuration ------ */
static ph_status slice_directions(const slice_args *a, slice_job *j,
                                  ph_error *err) {
  const ph_objective *o = j->tg.obj;
  size_t n = o->n;
  ph_slice_config *cfg = &j->cfg;
  for (size_t i = 0; i < a->n_models; i++) {
    ph_ckpt *ck = NULL;
    const double *t;
    size_t tn;
    PH_TRY(ph_ckpt_read(a->mnames[i], &ck, err));
    ph_status st = ph_ckpt_require_f64(ck, "theta", n, &t, &tn, err);
    if (st == PH_OK) {
      j->mtheta[i] = malloc(n * sizeof(double));
      if (j->mtheta[i])
        memcpy(j->mtheta[i], t, n * sizeof(double));
      else
        st = ph_error_set(err, PH_ERR_NOMEM, "out of memory");
    }
    ph_ckpt_free(ck);
    if (st) return st;
  }
  if (a->n_models) {
    cfg->models = (const double *const *)j->mtheta;
    cfg->n_models = a->n_models;
  }
  /* preconditioner: --precond, or the run directory's (target.h) */
  if (a->dirs == PH_SLICE_POTHOLE) {
    PH_TRY(ph_target_geom_load(&j->tg, a->precond ? a->precond : a->run,
                               &j->geom, err));
    cfg->geom = &j->geom;
  }
  if ((a->dirs == PH_SLICE_HESSIAN || a->dirs == PH_SLICE_POTHOLE) && !o->hvp)
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "%s has no Hessian-vector product", o->name);
  cfg->dirs = (ph_slice_dirs)a->dirs;
  cfg->norm = (ph_dir_norm)a->norm;
  cfg->include_bias = a->include_bias;
  cfg->seed = a->seed;
  return PH_OK;
}

/* ---- grid: the points, resumable in DIR (rank 0 owns DIR in an MPI job) -- */
static ph_status slice_grid(const slice_args *a, slice_job *j, ph_error *err) {
  ph_slice_config *cfg = &j->cfg;
  cfg->two_d = a->two_d;
  cfg->nx = a->nx;
  cfg->ny = a->ny;
  cfg->x_lo = a->xr[0];
  cfg->x_hi = a->xr[1];
  cfg->y_lo = a->yr[0];
  cfg->y_hi = a->yr[1];
  cfg->auto_range = a->auto_rng;
  cfg->threads = (int)a->threads;
  cfg->direct = a->direct;
  snprintf(j->prog.label, sizeof j->prog.label, "slice");
  j->prog.enabled = -1;
  cfg->progress = &j->prog;
  g_interrupt = 0;
  cfg->interrupt = &g_interrupt;
  j->out_created = ph_dist_rank() == 0 && !ph_path_exists(a->out);
  if (ph_dist_rank() == 0) PH_TRY(ph_mkdir_p(a->out, err));
  if (!(j->state = ph_path_join(a->out, ".slice.state", err)))
    return PH_ERR_NOMEM;
  cfg->state_path = j->state;
  cfg->save_interval = a->save_every;
  cfg->hold_after = a->hold_after;

  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  ph_status st = ph_slice_run(j->tg.obj, j->tg.theta, cfg, &j->res, err);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  return st;
}

/* slice.json's configuration block: how to run this slice again. */
static cJSON *slice_config_json(const slice_args *a, const slice_job *j) {
  const ph_objective *o = j->tg.obj;
  cJSON *c = cJSON_CreateObject();
  if (a->ckpt) {
    cJSON_AddStringToObject(c, "ckpt", a->ckpt);
    char hex[16];
    snprintf(hex, sizeof hex, "%08x", (unsigned)j->tg.ckpt_crc);
    cJSON_AddStringToObject(c, "ckpt_crc32", hex);
  }
  if (a->data) cJSON_AddStringToObject(c, "data", a->data);
  if (j->tg.net.obj && ph_net_dataset(o)) {
    const ph_dataset *ds = ph_net_dataset(o);
    cJSON_AddStringToObject(c, "data_spec", ds->spec);
    char hex[16];
    snprintf(hex, sizeof hex, "%08x", (unsigned)ds->checksum);
    cJSON_AddStringToObject(c, "data_crc32", hex);
    if (ph_net_spec(o)) cJSON_AddStringToObject(c, "model", ph_net_spec(o));
  }
  if (a->landscape) {
    cJSON_AddStringToObject(c, "landscape", a->landscape);
    cJSON_AddItemToObject(c, "at", ph_json_array(j->tg.theta, o->n));
  }
  cJSON_AddNumberToObject(c, "n", (double)a->n_eval);
  cJSON_AddStringToObject(c, "split", SPLITS[a->split]);
  cJSON_AddStringToObject(c, "dirs", KINDS[a->dirs]);
  cJSON_AddStringToObject(c, "norm", NORMS[a->norm]);
  cJSON_AddBoolToObject(c, "include_bias", a->include_bias);
  if (a->run) cJSON_AddStringToObject(c, "run", a->run);
  if (a->traj_file) cJSON_AddStringToObject(c, "trajectory", a->traj_file);
  if (a->traj_file)
    cJSON_AddNumberToObject(c, "traj_index", (double)a->traj_index);
  if (a->precond) cJSON_AddStringToObject(c, "precond", a->precond);
  if (a->models) cJSON_AddStringToObject(c, "models", a->models);
  cJSON_AddStringToObject(c, "grid", a->grid);
  cJSON_AddStringToObject(
      c, "range", a->range ? a->range : (a->auto_rng ? "auto" : "-1:1"));
  cJSON_AddNumberToObject(c, "threads", (double)a->threads);
  cJSON_AddBoolToObject(c, "direct", a->direct);
  cJSON_AddNumberToObject(c, "seed", (double)a->seed);
  cJSON_AddStringToObject(c, "out", a->out);
  cJSON_AddStringToObject(c, "format", FORMATS[a->format]);
  return c;
}

/* ---- write: the extra formats, then the .npy set and slice.json; on a
 * failure the files written are removed ------------------------------------ */
static ph_status slice_write(const slice_args *a, slice_job *j, ph_error *err) {
  const ph_objective *o = j->tg.obj;
  if (!(j->json = slice_config_json(a, j)))
    return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  if (a->format == 1 || a->format == 3)
    PH_TRY(ph_slice_write_h5(a->out, o, &j->cfg, &j->res, err));
  ph_status st = PH_OK;
  if ((a->format == 2 || a->format == 3) &&
      (st = ph_slice_write_vtk(a->out, &j->res, err))) {
    ph_slice_formats_remove(a->out);
    return st;
  }
  if ((st = ph_slice_write(a->out, o, &j->cfg, &j->res, j->json, err))) {
    ph_slice_formats_remove(a->out);
    return st;
  }
  const ph_grid_stats *g = &j->res.grid;
  printf(
      "slice: %zu points (%zu computed, %zu resumed) in %.2f s, %.1f points/s "
      "with %d thread%s x %d rank%s -> %s\n",
      g->points, g->computed, g->resumed, g->seconds, g->points_per_second,
      g->threads, g->threads == 1 ? "" : "s", g->ranks,
      g->ranks == 1 ? "" : "s", a->out);
  return PH_OK;
}

int ph_cmd_slice(int argc, char **argv) {
  slice_args a = {.n_eval = PH_CLI_DEFAULT_N,
                  .grid = "51x51",
                  .nx = 51,
                  .ny = 51,
                  .save_every = 5.0,
                  .dirs = PH_SLICE_RANDOM,
                  .norm = -1,
                  .xr = {-1, 1},
                  .yr = {-1, 1}};
  slice_job j;
  memset(&j, 0, sizeof j);
  j.cfg = ph_slice_config_default();
  ph_error err = {0};
  ph_status st = PH_OK;
  int code = slice_parse(argc, argv, &a);
  if (code >= 0) return code;
  if ((code = slice_check(&a))) goto cleanup;

  ph_cli_set_blas_threads(1); /* numbers independent of --threads */
  if ((st = slice_load(&a, &j, &err)) ||
      (st = slice_trajectory(&a, &j, &err)) ||
      (st = slice_directions(&a, &j, &err)))
    goto fail;
  st = slice_grid(&a, &j, &err);
  if (st == PH_ERR_INTERRUPTED) {
    if (ph_dist_rank() == 0)
      fprintf(stderr,
              "pothole slice: interrupted after %zu of %zu points; run the "
              "same command again to resume (%s)\n",
              j.res.grid.resumed + j.res.grid.computed, j.res.grid.points,
              a.out);
    code = 1;
    goto cleanup;
  }
  if (st) goto fail;
  if (ph_dist_rank() != 0) goto cleanup; /* rank 0 writes */
  if ((st = slice_write(&a, &j, &err))) goto fail;
  goto cleanup;

fail:
  code = ph_cli_fail(CMD, st, &err);
  if (j.out_created)
    rmdir(a.out); /* only if still empty: never a resume state */
cleanup:
  cJSON_Delete(j.json);
  ph_slice_result_free(&j.res);
  ph_geom_free(&j.geom);
  for (int i = 0; i < 3; i++) {
    free(a.mnames[i]);
    free(j.mtheta[i]);
  }
  ph_npy_free(&j.traj);
  ph_target_free(&j.tg);
  free(j.trajp);
  free(j.state);
  return code;
}
