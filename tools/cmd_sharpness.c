/* cmd_sharpness.c: `pothole sharpness` -- the sharpness suite of a network
 * checkpoint or a toy landscape at a point: λ_max and top eigenvalues of H;
 * with an averaged preconditioner P, λ_max(P^{1/2}HP^{1/2}), the pothole
 * directions (generalised eigenpairs, κ_loc, κ_avg, π, measured and
 * predicted amplification), SAM sharpness over the ball and the ellipsoid,
 * and average-case sharpness. Thin: parse, load, ph_sharpness_run, write.
 * docs/potholes.md §2-3.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/afile.h"
#include "core/json.h"
#include "core/npy.h"
#include "landscape/target.h"
#include "potholes/sharpness.h"

#define CMD "sharpness"

/* What sharpness.json records about the run besides the results. */
typedef struct {
  const char *ckpt, *data, *precond;
  const ph_target *tg;
  const ph_batch *batch;
} sharpness_source;

/* sharpness.json: the configuration, then ph_sharpness_to_json's results. */
static ph_status sharpness_json(const sharpness_source *src,
                                const ph_sharpness_config *cfg,
                                const ph_sharpness_result *res, cJSON **out,
                                ph_error *err) {
  const ph_objective *o = src->tg->obj;
  size_t n = o->n;
  cJSON *root = cJSON_CreateObject();
  cJSON *cj = root ? cJSON_AddObjectToObject(root, "config") : NULL;
  if (!cj) {
    cJSON_Delete(root);
    return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  }
  if (src->ckpt) {
    cJSON_AddStringToObject(cj, "ckpt", src->ckpt);
    if (src->data) cJSON_AddStringToObject(cj, "data", src->data);
    ph_json_add_number(cj, "examples", (double)src->batch->n);
  } else {
    cJSON_AddStringToObject(cj, "landscape", src->tg->landscape);
    cJSON_AddItemToObject(cj, "at", ph_json_array(src->tg->theta, n));
  }
  cJSON_AddStringToObject(cj, "model", o->name);
  if (src->precond) cJSON_AddStringToObject(cj, "precond", src->precond);
  ph_json_add_number(cj, "rho", cfg->rho);
  ph_json_add_number(cj, "k", (double)cfg->k);
  ph_json_add_number(cj, "sam_steps", (double)cfg->sam_steps);
  ph_json_add_number(cj, "sigma", res->avg_sigma);
  ph_json_add_number(cj, "pairs", (double)cfg->avg_pairs);
  ph_json_add_number(cj, "dense_max", (double)cfg->dense_max);
  ph_json_add_number(cj, "seed", (double)cfg->seed);
  cJSON_AddStringToObject(cj, "eigensolver",
                          n <= cfg->dense_max
                              ? "dense (LAPACKE dsyevd)"
                              : "thick-restart Lanczos, tol 1e-8");
  ph_status st = ph_sharpness_to_json(res, cfg, root, err);
  if (st) {
    cJSON_Delete(root);
    return st;
  }
  ph_json_add_stamp(root);
  *out = root;
  return PH_OK;
}

/* DIR/directions.npy (with a preconditioner), then DIR/sharpness.json; on
 * failure neither is left behind. */
static ph_status sharpness_write(const char *out, const cJSON *root,
                                 const ph_sharpness_result *res, size_t n,
                                 int have_P, ph_error *err) {
  char *jpath = NULL, *npath = NULL;
  int wrote_npy = 0;
  ph_status st = ph_mkdir_p(out, err);
  if (!st) {
    jpath = ph_path_join(out, "sharpness.json", err);
    npath = ph_path_join(out, "directions.npy", err);
    if (!jpath || !npath) st = PH_ERR_NOMEM;
  }
  if (!st && have_P) {
    size_t shape[2] = {res->k, n};
    st = ph_npy_write(npath, res->dir_vectors, 2, shape, err);
    wrote_npy = !st;
  }
  if (!st) st = ph_json_write_file(jpath, root, err);
  if (st && wrote_npy) remove(npath);
  free(jpath);
  free(npath);
  return st;
}

/* The summary on stdout. */
static void sharpness_print(const ph_sharpness_result *res, int have_P) {
  printf("lambda_max %.10g\n", res->lambda_max);
  if (have_P) {
    printf("precond_lambda_max %.10g\n", res->precond_lambda_max);
    for (size_t j = 0; j < res->k; j++) {
      printf("direction %zu: mu %.6g kappa_loc %.6g kappa_avg %.6g pi %.6g ", j,
             res->dirs[j].mu, res->dirs[j].kappa_loc, res->dirs[j].kappa_avg,
             res->dirs[j].pi);
      if (res->sig[j].undefined)
        printf("amplification undefined (%s)\n", res->sig[j].undefined);
      else
        printf("amplification %.6g predicted %.6g\n", res->sig[j].amplification,
               res->sig[j].predicted);
    }
  }
  printf("sam_sharpness euclidean %.6g ellipsoid %.6g\n", res->sam_euclidean,
         res->sam_ellipsoid);
  printf("average_sharpness %.6g +- %.2g (sigma %.4g)\n", res->avg_mean,
         res->avg_stderr, res->avg_sigma);
}

int ph_cmd_sharpness(int argc, char **argv) {
  ph_sharpness_config cfg = ph_sharpness_config_default();
  const char *ckpt = NULL, *data = NULL, *landscape = NULL, *at = NULL;
  const char *precond = NULL, *out = NULL;
  size_t n_ex = PH_CLI_DEFAULT_N;
  int rc;
  const ph_opt opts[] = {
      {"ckpt", "FILE", PH_OPT_STRING, &ckpt, .help = "network checkpoint"},
      PH_OPT_DATA(&data),
      PH_OPT_N(&n_ex),
      {"landscape", "SPEC", PH_OPT_STRING, &landscape,
       .help = "a toy landscape instead of --ckpt (see pothole toy)"},
      {"at", "WHERE", PH_OPT_STRING, &at,
       .help = "toy point: X1,X2,... | pit | basin (default pit)"},
      {"precond", "P", PH_OPT_STRING, &precond,
       .help = "averaged preconditioner: a .npy diagonal of length n,\n"
               "a run directory or a .ckpt; 'basin' for a toy: the\n"
               "fitted P = diag(1/basin curvature) (default none)"},
      {"rho", "RHO", PH_OPT_DOUBLE, &cfg.rho, .lo = 1e-300, .hi = INFINITY,
       .help = "SAM radius, and the escape-signal radius"},
      {"k", "K", PH_OPT_SIZE, &cfg.k, .lo = 1, .hi = 1000,
       .help = "eigenpairs / pothole directions"},
      {"sam-steps", "S", PH_OPT_SIZE, &cfg.sam_steps, .lo = 0, .hi = 1e5,
       .help = "projected-ascent steps"},
      {"sigma", "S", PH_OPT_DOUBLE, &cfg.sigma, .lo = 1e-300, .hi = INFINITY,
       .help = "average sharpness sigma (default rho/sqrt(n))",
       .flags = PH_OPT_NO_DEFAULT},
      {"pairs", "M", PH_OPT_SIZE, &cfg.avg_pairs, .lo = 2, .hi = 1e8,
       .help = "average sharpness antithetic pairs"},
      {"dense-max", "N", PH_OPT_SIZE, &cfg.dense_max, .lo = 0, .hi = 20000,
       .help = "dense eigensolver up to this n, Lanczos above"},
      PH_OPT_SEED(&cfg.seed),
      PH_OPT_OUT_DIR(&out),
      {0}};
  const ph_cli_spec cli = {
      CMD,
      "(--ckpt FILE [--data SPEC] [--n N] |\n"
      "                          --landscape SPEC [--at X1,X2,...|pit|basin])\n"
      "                         [--precond FILE|RUNDIR|basin] [options] --out "
      "DIR",
      "Sharpness at a point: DIR/sharpness.json with lambda_max, "
      "top_eigenvalues;\nwith a preconditioner precond_lambda_max and the "
      "pothole directions\n(mu, kappa_loc, kappa_avg, pi, amplification, "
      "predicted), also saved as\nDIR/directions.npy [k, n]; sam_sharpness "
      "{euclidean, ellipsoid};\naverage_sharpness {mean, stderr, sigma}.",
      opts,
      0,
      0};
  if ((rc = ph_cli_parse(&cli, argc, argv, NULL, NULL)) >= 0) return rc;
  if (!ckpt == !landscape)
    return ph_cli_usage(CMD,
                        "give exactly one of --ckpt FILE and --landscape SPEC");
  if (landscape && data) return ph_cli_usage(CMD, "--data goes with --ckpt");
  if (ckpt && at) return ph_cli_usage(CMD, "--at goes with --landscape");
  if (ckpt && precond && strcmp(precond, "basin") == 0)
    return ph_cli_usage(CMD, "--precond basin is for toy landscapes");

  ph_error err = {0};
  ph_status st = PH_OK;
  ph_batch batch = {PH_SPLIT_TRAIN, NULL, 0};
  ph_sharpness_result res;
  memset(&res, 0, sizeof res);
  cJSON *root = NULL;
  int code = 0;
  ph_geom geom, *P = NULL;
  memset(&geom, 0, sizeof geom);
  ph_target tg;

  /* ---- load -------------------------------------------------------------- */
  const ph_target_spec ts = {.ckpt = ckpt,
                             .data = data,
                             .max_batch = n_ex < 2048 ? n_ex : 2048,
                             .landscape = landscape,
                             .at = landscape && !at ? "pit" : at};
  if ((st = ph_target_load(&ts, &tg, &err))) goto fail;
  ph_objective *o = tg.obj;
  const double *theta = tg.theta;
  if (ckpt) {
    size_t avail = o->n_examples[PH_SPLIT_TRAIN];
    batch.n = n_ex > avail ? avail : n_ex;
  }
  size_t n = o->n;
  if (precond) {
    if ((st = ph_target_geom_load(&tg, precond, &geom, &err))) goto fail;
    P = &geom;
  }
  if (!o->hvp) {
    st = ph_error_set(&err, PH_ERR_UNSUPPORTED,
                      "%s has no Hessian-vector "
                      "product",
                      o->name);
    goto fail;
  }
  if (cfg.k > n) cfg.k = n;

  /* ---- run ----------------------------------------------------------------
   */
  ph_cli_set_blas_threads(1);
  if ((st = ph_sharpness_run(o, theta, &batch, P, &cfg, &res, &err))) goto fail;

  /* ---- write ---------------------------------------------------------- */
  const sharpness_source src = {ckpt, data, precond, &tg, &batch};
  if ((st = sharpness_json(&src, &cfg, &res, &root, &err))) goto fail;
  if ((st = sharpness_write(out, root, &res, n, P != NULL, &err))) goto fail;
  sharpness_print(&res, P != NULL);
  goto cleanup;

fail:
  code = ph_cli_fail(CMD, st, &err);
cleanup:
  cJSON_Delete(root);
  ph_sharpness_result_free(&res);
  ph_geom_free(&geom);
  ph_target_free(&tg);
  return code;
}
