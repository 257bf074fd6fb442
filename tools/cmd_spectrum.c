/* cmd_spectrum.c: `pothole spectrum`: extreme eigenvalues with certificates
 * (Lanczos or power iteration), SLQ density, Hutchinson trace and the dense
 * reference, of the Hessian, the Gauss-Newton matrix, the preconditioned
 * Hessian P^{1/2} H P^{1/2} or one block's Hessian, at a checkpoint. The
 * loss is the mean over the first N examples, as in `pothole eval`.
 * Numerics: src/linalg (docs/spectra.md). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/afile.h"
#include "core/csv.h"
#include "core/json.h"
#include "core/npy.h"
#include "linalg/lanczos.h"
#include "linalg/operators.h"
#include "linalg/slq.h"
#include "nn/net.h"
#include "optim/precond.h"

#define CMD "spectrum"

static void usage(void) {
  printf(
      "usage: pothole spectrum --ckpt FILE --out DIR [options]\n\n"
      "Eigenvalues (with residual certificates), density and trace of the "
      "loss\n"
      "curvature at a checkpoint. Writes DIR/spectrum.json, DIR/density.csv\n"
      "(--density), DIR/eigenvectors.npy (--vectors), "
      "DIR/dense_eigenvalues.npy\n"
      "(--dense).\n\n"
      "  --ckpt FILE          checkpoint (required)\n"
      "  --data SPEC          data set (default: the checkpoint's)\n"
      "  --n N                the loss is the mean over the first N examples "
      "(default 1024)\n"
      "  --split train|test   (default train)\n"
      "  --operator OP        hessian, ggn, precond (P^1/2 H P^1/2) or "
      "block:NAME\n"
      "                       (default hessian)\n"
      "  --precond FILE|DIR   preconditioner P for --operator precond: a run "
      "directory,\n"
      "                       a .ckpt or a .npy diagonal\n"
      "  --k K                eigenpairs per end (default 5)\n"
      "  --which W            top, bottom or both (default top)\n"
      "  --method M           lanczos or power (default lanczos)\n"
      "  --tol T              relative residual tolerance (default 1e-6)\n"
      "  --max-products M     product budget (default: 100·n)\n"
      "  --density            SLQ spectral density\n"
      "  --probes P           SLQ probes (default 10)\n"
      "  --steps S            SLQ Lanczos steps per probe (default 100)\n"
      "  --trace              Hutchinson trace with standard error\n"
      "  --trace-probes P     Hutchinson probes (default 100)\n"
      "  --dense              dense reference spectrum (n ≤ 20000)\n"
      "  --vectors            write the eigenvectors\n"
      "  --seed S             probe and start vectors (default 0)\n"
      "  --out DIR            output directory (required)\n"
      "  --help               this help\n");
}

static const char *const WHICH_NAMES[] = {"top", "bottom", "both"};

static int spectrum_main(const char *ckpt, const char *data, size_t n_ex,
                         int split, const char *op, const char *precond,
                         ph_eig_config *ec, int method, ph_slq_config *sc,
                         size_t tprobes, int dense, const char *out) {
  int rc = 1;
  ph_error err = {0};
  ph_net_bundle bu;
  ph_data_options dopt = ph_data_options_default();
  ph_status st = ph_net_bundle_load(ckpt, data, &dopt,
                                    n_ex < 1024 ? n_ex : 1024, &bu, &err);
  if (st) return ph_cli_fail(CMD, st, &err);
  ph_objective *o = bu.obj;
  size_t avail = o->n_examples[split];
  ph_batch b = {(ph_split)split, NULL, n_ex < avail ? n_ex : avail};
  ph_precond *P = NULL;
  ph_op *base = NULL, *opx = NULL;
  ph_eig_result er;
  ph_slq_result sr;
  ph_trace_result tr;
  memset(&er, 0, sizeof er);
  memset(&sr, 0, sizeof sr);
  memset(&tr, 0, sizeof tr);
  double *dev = NULL;
  cJSON *j = NULL;
  ph_outset outs = {0};
  int have_eig = 0, have_slq = 0;
  if (!strcmp(op, "ggn")) {
    if (!(base = ph_op_ggn(o, bu.theta, &b, &err))) goto fail;
    opx = base;
  } else {
    if (!(base = ph_op_hessian(o, bu.theta, &b, &err))) goto fail;
    opx = base;
    if (!strcmp(op, "precond")) {
      if (!(P = ph_precond_load(precond, o->n, o->n_blocks, o->blocks, &err)))
        goto fail;
      if (!(opx = ph_op_precond(ph_op_linop(base), P, &err))) goto fail;
    } else if (!strncmp(op, "block:", 6)) {
      long bi = ph_objective_find_block(o, op + 6);
      if (bi < 0) {
        st = ph_error_set(&err, PH_ERR_ARG,
                          "no parameter block named '%s' in %s", op + 6,
                          o->name);
        goto fail;
      }
      if (!(opx = ph_op_block(ph_op_linop(base), o->blocks[bi].offset,
                              o->blocks[bi].size, &err)))
        goto fail;
    }
  }
  ph_linop *A = ph_op_linop(opx);
  if (dense && A->n > PH_DENSE_MAX) {
    st = ph_error_set(&err, PH_ERR_ARG,
                      "--dense needs n ≤ %d, the operator has %zu",
                      PH_DENSE_MAX, A->n);
    goto fail;
  }
  if (ec->k * (ec->which == PH_EIG_BOTH ? 2 : 1) > A->n)
    ec->k = ec->which == PH_EIG_BOTH ? A->n / 2 : A->n;
  st = method ? ph_power_run(A, ec, &er, &err)
              : ph_lanczos_run(A, ec, NULL, &er, &err);
  if (st) goto fail;
  have_eig = 1;
  if (sc) {
    if ((st = ph_slq_run(A, sc, &sr, &err))) goto fail;
    have_slq = 1;
  }
  if (tprobes && (st = ph_hutchinson(A, tprobes, ec->seed, &tr, &err)))
    goto fail;
  if (dense) {
    dev = malloc(A->n * sizeof *dev);
    if (!dev || (st = ph_dense_spectrum(A, dev, NULL, NULL, &err))) {
      if (!dev) st = ph_error_set(&err, PH_ERR_NOMEM, "out of memory");
      goto fail;
    }
  }
  /* ---- outputs ---- */
  if ((st = ph_mkdir_p(out, &err))) goto fail;
  char path[4096];
  j = cJSON_CreateObject();
  ph_json_add_stamp(j);
  cJSON_AddStringToObject(j, "operator", op);
  cJSON_AddItemToObject(j, "eigenvalues", ph_json_array(er.values, er.k));
  cJSON_AddItemToObject(j, "residual_bounds", ph_json_array(er.bounds, er.k));
  cJSON *cv = cJSON_AddArrayToObject(j, "converged");
  for (size_t q = 0; q < er.k; q++)
    cJSON_AddItemToArray(cv, cJSON_CreateBool(er.converged[q]));
  cJSON_AddBoolToObject(j, "all_converged", er.all_converged);
  ph_json_add_number(j, "lambda_max", er.k ? er.values[0] : NAN);
  ph_json_add_number(j, "products", (double)er.products);
  ph_json_add_number(j, "seconds", er.seconds);
  ph_json_add_number(j, "n_params", (double)A->n);
  ph_json_add_number(j, "n_examples", (double)b.n);
  if (tprobes) {
    cJSON *t = cJSON_AddObjectToObject(j, "trace");
    ph_json_add_number(t, "mean", tr.mean);
    ph_json_add_number(t, "stderr", tr.stderr_);
    ph_json_add_number(t, "probes", (double)tr.probes);
    ph_json_add_number(t, "products", (double)tr.products);
  }
  if (have_slq) {
    cJSON *d = cJSON_AddObjectToObject(j, "density");
    ph_json_add_number(d, "sigma", sr.sigma);
    ph_json_add_number(d, "probes", (double)sr.probes);
    ph_json_add_number(d, "steps", (double)sr.steps);
    ph_json_add_number(d, "negative_mass", sr.negative_mass);
    ph_json_add_number(d, "negative_mass_smoothed", sr.negative_mass_smoothed);
    ph_json_add_number(d, "lambda_min", sr.lambda_min);
    ph_json_add_number(d, "lambda_max", sr.lambda_max);
    ph_json_add_number(d, "products", (double)sr.products);
    cJSON_AddStringToObject(d, "band",
                            "mean ± one standard error across probes");
  }
  if (dense) {
    ph_json_add_number(j, "dense_lambda_max", dev[A->n - 1]);
    ph_json_add_number(j, "dense_lambda_min", dev[0]);
  }
  cJSON *cfg = cJSON_AddObjectToObject(j, "config");
  cJSON_AddStringToObject(cfg, "ckpt", ckpt);
  cJSON_AddStringToObject(cfg, "data", bu.data->spec);
  cJSON_AddStringToObject(cfg, "model", ph_net_spec(o));
  cJSON_AddStringToObject(cfg, "split", split ? "test" : "train");
  if (precond) cJSON_AddStringToObject(cfg, "precond", precond);
  ph_json_add_number(cfg, "k", (double)ec->k);
  cJSON_AddStringToObject(cfg, "which", WHICH_NAMES[ec->which]);
  cJSON_AddStringToObject(cfg, "method", method ? "power" : "lanczos");
  ph_json_add_number(cfg, "tol", ec->tol);
  char crc[16];
  snprintf(crc, sizeof crc, "%08x", ph_ckpt_crc(bu.ck));
  cJSON_AddStringToObject(cfg, "ckpt_crc32", crc);
  ph_json_add_number(j, "seed", (double)ec->seed);
  if (have_slq) {
    snprintf(path, sizeof path, "%s/density.csv", out);
    ph_csv csv;
    if ((st = ph_csv_open(&csv, path, "t,density,band_lo,band_hi", &err)))
      goto fail;
    /* thin to ≤ 4001 rows for plotting: keep every k-th grid point */
    size_t stride = sr.n_grid > 4001 ? (sr.n_grid + 4000) / 4001 : 1;
    for (size_t i = 0; i < sr.n_grid; i += stride) {
      ph_csv_num(&csv, sr.t[i]);
      ph_csv_num(&csv, sr.density[i]);
      ph_csv_num(&csv, sr.band_lo[i]);
      ph_csv_num(&csv, sr.band_hi[i]);
      ph_csv_end_row(&csv);
    }
    if ((st = ph_csv_commit(&csv, &err))) goto fail;
    ph_outset_add(&outs, path);
  }
  if (er.vectors) {
    snprintf(path, sizeof path, "%s/eigenvectors.npy", out);
    size_t shape[2] = {er.k, A->n};
    if ((st = ph_npy_write(path, er.vectors, 2, shape, &err))) goto fail;
    ph_outset_add(&outs, path);
  }
  if (dense) {
    snprintf(path, sizeof path, "%s/dense_eigenvalues.npy", out);
    if ((st = ph_npy_write_vec(path, dev, A->n, &err))) goto fail;
    ph_outset_add(&outs, path);
  }
  snprintf(path, sizeof path, "%s/spectrum.json", out);
  if ((st = ph_json_write_file(path, j, &err))) goto fail;
  {
    char *text = cJSON_Print(j);
    if (text) printf("%s\n", text);
    cJSON_free(text);
  }
  goto done;
fail:
  if (!st) st = err.code ? err.code : PH_ERR_IO;
  ph_outset_rollback(&outs);
  rc = ph_cli_fail(CMD, st, &err);
done:
  if (!st) rc = 0;
  ph_outset_free(&outs);
  cJSON_Delete(j);
  free(dev);
  if (have_eig) ph_eig_result_free(&er);
  if (have_slq) ph_slq_result_free(&sr);
  if (opx && opx != base) ph_op_free(opx);
  ph_op_free(base);
  ph_precond_free(P);
  ph_net_bundle_free(&bu);
  return rc;
}

int ph_cmd_spectrum(int argc, char **argv) {
  enum {
    O_CKPT = 256,
    O_DATA,
    O_N,
    O_SPLIT,
    O_OP,
    O_PREC,
    O_K,
    O_WHICH,
    O_METHOD,
    O_TOL,
    O_MAXP,
    O_DENS,
    O_PROBES,
    O_STEPS,
    O_TRACE,
    O_TPROBES,
    O_DENSE,
    O_VECS,
    O_SEED,
    O_OUT
  };
  static const struct option opts[] = {{"ckpt", 1, 0, O_CKPT},
                                       {"data", 1, 0, O_DATA},
                                       {"n", 1, 0, O_N},
                                       {"split", 1, 0, O_SPLIT},
                                       {"operator", 1, 0, O_OP},
                                       {"precond", 1, 0, O_PREC},
                                       {"k", 1, 0, O_K},
                                       {"which", 1, 0, O_WHICH},
                                       {"method", 1, 0, O_METHOD},
                                       {"tol", 1, 0, O_TOL},
                                       {"max-products", 1, 0, O_MAXP},
                                       {"density", 0, 0, O_DENS},
                                       {"probes", 1, 0, O_PROBES},
                                       {"steps", 1, 0, O_STEPS},
                                       {"trace", 0, 0, O_TRACE},
                                       {"trace-probes", 1, 0, O_TPROBES},
                                       {"dense", 0, 0, O_DENSE},
                                       {"vectors", 0, 0, O_VECS},
                                       {"seed", 1, 0, O_SEED},
                                       {"out", 1, 0, O_OUT},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *ckpt = NULL, *data = NULL, *op = "hessian", *precond = NULL,
             *out = NULL;
  size_t n_ex = 1024, tprobes = 100;
  int split = 0, which = 0, method = 0, density = 0, trace = 0, dense = 0;
  ph_eig_config ec = ph_eig_config_default();
  ph_slq_config sc = ph_slq_config_default();
  uint64_t seed = 0;
  static const char *const splits[] = {"train", "test", NULL};
  static const char *const whichs[] = {"top", "bottom", "both", NULL};
  static const char *const methods[] = {"lanczos", "power", NULL};
  int c, rc = 0;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case O_CKPT: ckpt = optarg; break;
    case O_DATA: data = optarg; break;
    case O_N: rc = ph_cli_size(CMD, "--n", optarg, 1, SIZE_MAX, &n_ex); break;
    case O_SPLIT:
      rc = ph_cli_choice(CMD, "--split", optarg, splits, &split);
      break;
    case O_OP: op = optarg; break;
    case O_PREC: precond = optarg; break;
    case O_K: rc = ph_cli_size(CMD, "--k", optarg, 1, 1000, &ec.k); break;
    case O_WHICH:
      rc = ph_cli_choice(CMD, "--which", optarg, whichs, &which);
      break;
    case O_METHOD:
      rc = ph_cli_choice(CMD, "--method", optarg, methods, &method);
      break;
    case O_TOL:
      rc = ph_cli_double(CMD, "--tol", optarg, 1e-15, 0.5, &ec.tol);
      break;
    case O_MAXP:
      rc = ph_cli_size(CMD, "--max-products", optarg, 1, SIZE_MAX,
                       &ec.max_products);
      break;
    case O_DENS: density = 1; break;
    case O_PROBES:
      rc = ph_cli_size(CMD, "--probes", optarg, 1, 100000, &sc.probes);
      break;
    case O_STEPS:
      rc = ph_cli_size(CMD, "--steps", optarg, 2, 100000, &sc.steps);
      break;
    case O_TRACE: trace = 1; break;
    case O_TPROBES:
      rc = ph_cli_size(CMD, "--trace-probes", optarg, 2, 10000000, &tprobes);
      break;
    case O_DENSE: dense = 1; break;
    case O_VECS: ec.want_vectors = 1; break;
    case O_SEED: rc = ph_cli_u64(CMD, "--seed", optarg, &seed); break;
    case O_OUT: out = optarg; break;
    case 'h': usage(); return 0;
    default: return ph_cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    }
    if (rc) return rc;
  }
  if (optind < argc)
    return ph_cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
  if (!ckpt) return ph_cli_usage(CMD, "--ckpt FILE is required");
  if (!out) return ph_cli_usage(CMD, "--out DIR is required");
  int is_block = strncmp(op, "block:", 6) == 0;
  if (!is_block && strcmp(op, "hessian") && strcmp(op, "ggn") &&
      strcmp(op, "precond"))
    return ph_cli_usage(
        CMD, "--operator '%s' is not hessian, ggn, precond or block:NAME", op);
  if (!strcmp(op, "precond") && !precond)
    return ph_cli_usage(CMD, "--operator precond needs --precond FILE|DIR");
  if (method == 1 && which != 0)
    return ph_cli_usage(CMD, "--method power finds only the top eigenvalues");
  ec.which = (ph_eig_which)which;
  ec.seed = sc.seed = seed;
  if (sc.steps > 0 && ec.k * (which == 2 ? 2 : 1) > SIZE_MAX / 4)
    return ph_cli_usage(CMD, "--k too large");
  return spectrum_main(ckpt, data, n_ex, split, op, precond, &ec, method,
                       density ? &sc : NULL, trace ? tprobes : 0, dense, out);
}
