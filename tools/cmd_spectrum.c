/* cmd_spectrum.c: `pothole spectrum`: extreme eigenvalues with certificates
 * (Lanczos or power iteration), SLQ density, Hutchinson trace and the dense
 * reference, of the Hessian, the Gauss-Newton matrix, the preconditioned
 * Hessian P^{1/2} H P^{1/2} or one block's Hessian, at a checkpoint. The
 * loss is the mean over the first N examples, as in `pothole eval`.
 * Numerics: src/linalg (docs/spectra.md). In an MPI job (mpirun -np R) the
 * SLQ and Hutchinson probes are split over the ranks (docs/distributed.md);
 * rank 0 writes every file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/afile.h"
#include "core/csv.h"
#include "core/dist.h"
#include "core/json.h"
#include "core/npy.h"
#include "linalg/lanczos.h"
#include "linalg/operators.h"
#include "linalg/slq.h"
#include "nn/net.h"
#include "precond/geom.h"

#define CMD "spectrum"

static const char *const WHICH_NAMES[] = {"top", "bottom", "both"};

/* What one spectrum run computed; spectrum_results_free releases it. */
typedef struct {
  ph_eig_result er;
  ph_slq_result sr;
  ph_trace_result tr;
  double *dev; /* dense eigenvalues, ascending, or NULL */
  int have_eig, have_slq;
} spectrum_results;

static void spectrum_results_free(spectrum_results *r) {
  free(r->dev);
  if (r->have_eig) ph_eig_result_free(&r->er);
  if (r->have_slq) ph_slq_result_free(&r->sr);
}

/* The operator named by --operator on top of the Hessian or GGN `*base`:
 * the base itself, P^{1/2} H P^{1/2} (P and its operators loaded into
 * *geom) or one block. *opx is *base or a new operator. */
static ph_status spectrum_operator(ph_objective *o, const double *theta,
                                   const ph_batch *b, const char *op,
                                   const char *precond, ph_geom *geom,
                                   ph_op **base, ph_op **opx, ph_error *err) {
  if (!strcmp(op, "ggn")) {
    PH_TRY(ph_op_ggn_create(o, theta, b, base, err));
    *opx = *base;
    return PH_OK;
  }
  PH_TRY(ph_op_hessian_create(o, theta, b, base, err));
  *opx = *base;
  if (!strcmp(op, "precond")) {
    ph_status st =
        ph_geom_load(geom, precond, o->n, o->n_blocks, o->blocks, err);
    if (st) return st;
    return ph_op_sandwich_create(ph_op_linop(*base), &geom->sqrt_P, opx, err);
  } else if (!strncmp(op, "block:", 6)) {
    long bi = ph_objective_find_block(o, op + 6);
    if (bi < 0)
      return ph_error_set(err, PH_ERR_ARG,
                          "no parameter block named '%s' in %s", op + 6,
                          o->name);
    return ph_op_block_create(ph_op_linop(*base), o->blocks[bi].offset,
                              o->blocks[bi].size, opx, err);
  }
  return PH_OK;
}

/* Eigenvalues (Lanczos or power), then the optional SLQ density,
 * Hutchinson trace and dense reference. */
static ph_status spectrum_compute(ph_linop *A, ph_eig_config *ec, int method,
                                  ph_slq_config *sc, size_t tprobes,
                                  size_t block, int dense, spectrum_results *r,
                                  ph_error *err) {
  ph_status st;
  if (dense && A->n > PH_DENSE_MAX)
    return ph_error_set(err, PH_ERR_ARG,
                        "--dense needs n ≤ %d, the operator has %zu",
                        PH_DENSE_MAX, A->n);
  if (ec->k * (ec->which == PH_EIG_BOTH ? 2 : 1) > A->n)
    ec->k = ec->which == PH_EIG_BOTH ? A->n / 2 : A->n;
  /* Only the probes are split; the extreme eigenpairs and the dense
   * spectrum are rank 0's alone (the same computation as one process, so
   * the same bytes): the other ranks go straight to the probes and wait
   * there, asleep, instead of repeating the work. A failure here reaches
   * the others through the probes' opening agreement. */
  int root = ph_dist_rank() == 0;
  if (root) {
    st = method ? ph_power_run(A, ec, &r->er, err)
                : ph_lanczos_run(A, ec, NULL, &r->er, err);
    if (st) return st;
    r->have_eig = 1;
  }
  if (sc) {
    if ((st = ph_slq_run(A, sc, &r->sr, err))) return st;
    r->have_slq = 1;
  }
  if (tprobes &&
      (st = ph_hutchinson_block(A, tprobes, ec->seed, block, &r->tr, err)))
    return st;
  if (dense && root) {
    if (!(r->dev = malloc(A->n * sizeof *r->dev)))
      return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
    /* Minutes at n in the thousands: a bar on a terminal (n products,
     * then the eigensolve). */
    ph_progress pg;
    ph_progress_start(&pg, "dense", A->n + 1, -1);
    if ((st = ph_dense_spectrum_progress(A, r->dev, NULL, NULL, &pg, err)))
      return st;
    ph_progress_finish(&pg);
  }
  return PH_OK;
}

/* spectrum.json's content. */
static cJSON *spectrum_json(const spectrum_results *r, const ph_linop *A,
                            const ph_batch *b, const char *op,
                            const ph_eig_config *ec, int method,
                            const ph_slq_config *sc, size_t tprobes,
                            const ph_net_bundle *bu, const char *ckpt,
                            int split, const char *precond) {
  const ph_eig_result *er = &r->er;
  cJSON *j = cJSON_CreateObject();
  ph_json_add_stamp(j);
  cJSON_AddStringToObject(j, "operator", op);
  cJSON_AddItemToObject(j, "eigenvalues", ph_json_array(er->values, er->k));
  cJSON_AddItemToObject(j, "residual_bounds", ph_json_array(er->bounds, er->k));
  cJSON *cv = cJSON_AddArrayToObject(j, "converged");
  for (size_t q = 0; q < er->k; q++)
    cJSON_AddItemToArray(cv, cJSON_CreateBool(er->converged[q]));
  cJSON_AddBoolToObject(j, "all_converged", er->all_converged);
  ph_json_add_number(j, "lambda_max", er->k ? er->values[0] : NAN);
  ph_json_add_number(j, "products", (double)er->products);
  ph_json_add_number(j, "seconds", er->seconds);
  ph_json_add_number(j, "n_params", (double)A->n);
  ph_json_add_number(j, "n_examples", (double)b->n);
  if (tprobes) {
    cJSON *t = cJSON_AddObjectToObject(j, "trace");
    ph_json_add_number(t, "mean", r->tr.mean);
    ph_json_add_number(t, "stderr", r->tr.stderr_);
    ph_json_add_number(t, "probes", (double)r->tr.probes);
    ph_json_add_number(t, "products", (double)r->tr.products);
  }
  if (r->have_slq) {
    const ph_slq_result *sr = &r->sr;
    cJSON *d = cJSON_AddObjectToObject(j, "density");
    ph_json_add_number(d, "sigma", sr->sigma);
    cJSON_AddStringToObject(d, "sigma_rule",
                            sc->sigma > 0 ? "given"
                            : sc->sigma_rule == PH_SLQ_SIGMA_PYHESSIAN
                                ? "pyhessian"
                                : "spacing");
    ph_json_add_number(d, "probes", (double)sr->probes);
    ph_json_add_number(d, "steps", (double)sr->steps);
    ph_json_add_number(d, "block", (double)sr->block);
    ph_json_add_number(d, "negative_mass", sr->negative_mass);
    ph_json_add_number(d, "negative_mass_smoothed", sr->negative_mass_smoothed);
    ph_json_add_number(d, "lambda_min", sr->lambda_min);
    ph_json_add_number(d, "lambda_max", sr->lambda_max);
    ph_json_add_number(d, "products", (double)sr->products);
    ph_json_add_number(d, "seconds", sr->seconds);
    cJSON_AddStringToObject(d, "band",
                            "mean ± one standard error across probes");
  }
  if (r->dev) {
    ph_json_add_number(j, "dense_lambda_max", r->dev[A->n - 1]);
    ph_json_add_number(j, "dense_lambda_min", r->dev[0]);
  }
  cJSON *cfg = cJSON_AddObjectToObject(j, "config");
  cJSON_AddStringToObject(cfg, "ckpt", ckpt);
  cJSON_AddStringToObject(cfg, "data", bu->data->spec);
  cJSON_AddStringToObject(cfg, "model", ph_net_spec(bu->obj));
  cJSON_AddStringToObject(cfg, "split", split ? "test" : "train");
  if (precond) cJSON_AddStringToObject(cfg, "precond", precond);
  ph_json_add_number(cfg, "k", (double)ec->k);
  cJSON_AddStringToObject(cfg, "which", WHICH_NAMES[ec->which]);
  cJSON_AddStringToObject(cfg, "method", method ? "power" : "lanczos");
  ph_json_add_number(cfg, "tol", ec->tol);
  if (!method) {
    cJSON_AddBoolToObject(cfg, "early", ec->early);
    cJSON_AddBoolToObject(cfg, "verify", ec->verify);
  }
  char crc[16];
  snprintf(crc, sizeof crc, "%08x", ph_ckpt_crc(bu->ck));
  cJSON_AddStringToObject(cfg, "ckpt_crc32", crc);
  ph_json_add_number(j, "seed", (double)ec->seed);
  return j;
}

/* DIR/density.csv, thinned to ≤ 4001 rows for plotting: of each block of
 * `stride` grid points keep the one with the largest density, so narrow
 * outlier peaks survive (every k-th point would alias them away). */
static ph_status spectrum_write_density(const char *path,
                                        const ph_slq_result *sr,
                                        ph_error *err) {
  ph_csv csv;
  ph_status st = ph_csv_open(&csv, path, "t,density,band_lo,band_hi", err);
  if (st) return st;
  size_t stride = sr->n_grid > 4001 ? (sr->n_grid + 4000) / 4001 : 1;
  for (size_t i0 = 0; i0 < sr->n_grid; i0 += stride) {
    size_t i = i0;
    for (size_t q = i0 + 1; q < i0 + stride && q < sr->n_grid; q++)
      if (sr->density[q] > sr->density[i]) i = q;
    ph_csv_num(&csv, sr->t[i]);
    ph_csv_num(&csv, sr->density[i]);
    ph_csv_num(&csv, sr->band_lo[i]);
    ph_csv_num(&csv, sr->band_hi[i]);
    ph_csv_end_row(&csv);
  }
  return ph_csv_commit(&csv, err);
}

/* Every output file; on failure the ones already written are removed. */
static ph_status spectrum_write(const char *out, const spectrum_results *r,
                                const ph_linop *A, cJSON *j, ph_error *err) {
  ph_outset outs = {0};
  char path[4096];
  ph_status st = ph_mkdir_p(out, err);
  if (!st && r->have_slq) {
    snprintf(path, sizeof path, "%s/density.csv", out);
    if (!(st = spectrum_write_density(path, &r->sr, err)))
      ph_outset_add(&outs, path);
  }
  if (!st && r->er.vectors) {
    snprintf(path, sizeof path, "%s/eigenvectors.npy", out);
    size_t shape[2] = {r->er.k, A->n};
    if (!(st = ph_npy_write(path, r->er.vectors, 2, shape, err)))
      ph_outset_add(&outs, path);
  }
  if (!st && r->dev) {
    snprintf(path, sizeof path, "%s/dense_eigenvalues.npy", out);
    if (!(st = ph_npy_write_vec(path, r->dev, A->n, err)))
      ph_outset_add(&outs, path);
  }
  if (!st) {
    snprintf(path, sizeof path, "%s/spectrum.json", out);
    st = ph_json_write_file(path, j, err);
  }
  if (st) ph_outset_rollback(&outs);
  ph_outset_free(&outs);
  return st;
}

static int spectrum_main(const char *ckpt, const char *data, size_t n_ex,
                         int split, const char *op, const char *precond,
                         ph_eig_config *ec, int method, ph_slq_config *sc,
                         size_t tprobes, size_t block, size_t threads,
                         int dense, const char *out) {
  ph_error err = {0};
  ph_net_bundle bu;
  ph_data_options dopt = ph_data_options_default();
  ph_status st = ph_net_bundle_load(ckpt, data, &dopt,
                                    n_ex < 1024 ? n_ex : 1024, &bu, &err);
  if (st) return ph_cli_fail(CMD, st, &err);
  ph_objective *o = bu.obj;
  /* products split over the threads, bit-identical for any count
   * (ph_net_set_threads); transformers keep one thread */
  if (ph_net_set_threads(o, threads, &err) != PH_OK) err = (ph_error){0};
  /* SLQ's orthogonalisation runs on the products' team between products */
  if (sc) sc->pool = ph_net_pool(o);
  size_t avail = o->n_examples[split];
  ph_batch b = {(ph_split)split, NULL, n_ex < avail ? n_ex : avail};
  ph_geom geom; /* P's operators; the sandwich borrows its P^{1/2} */
  memset(&geom, 0, sizeof geom);
  ph_op *base = NULL, *opx = NULL;
  spectrum_results r;
  memset(&r, 0, sizeof r);
  cJSON *j = NULL;
  st =
      spectrum_operator(o, bu.theta, &b, op, precond, &geom, &base, &opx, &err);
  ph_linop *A = st ? NULL : ph_op_linop(opx);
  if (!st)
    st = spectrum_compute(A, ec, method, sc, tprobes, block, dense, &r, &err);
  /* outputs: rank 0 of an MPI job writes them all */
  if (!st && ph_dist_rank() == 0) {
    j = spectrum_json(&r, A, &b, op, ec, method, sc, tprobes, &bu, ckpt, split,
                      precond);
    if (!(st = spectrum_write(out, &r, A, j, &err))) {
      char *text = cJSON_Print(j);
      if (text) printf("%s\n", text);
      cJSON_free(text);
    }
  }
  int rc = 0;
  if (st) rc = ph_cli_fail(CMD, st, &err);
  cJSON_Delete(j);
  spectrum_results_free(&r);
  if (opx && opx != base) ph_op_free(opx);
  ph_op_free(base);
  ph_geom_free(&geom);
  ph_net_bundle_free(&bu);
  return rc;
}

int ph_cmd_spectrum(int argc, char **argv) {
  const char *ckpt = NULL, *data = NULL, *op = "hessian", *precond = NULL,
             *out = NULL;
  size_t n_ex = PH_CLI_DEFAULT_N, tprobes = 100, threads = 0;
  int split = 0, which = 0, method = 0, density = 0, trace = 0, dense = 0,
      no_verify = 0;
  ph_eig_config ec = ph_eig_config_default();
  ph_slq_config sc = ph_slq_config_default();
  uint64_t seed = 0;
  static const char *const whichs[] = {"top", "bottom", "both", NULL};
  static const char *const methods[] = {"lanczos", "power", NULL};
  static const char *const sig_rules[] = {"spacing", "pyhessian", NULL};
  const ph_opt opts[] = {
      PH_OPT_CKPT_REQUIRED(&ckpt),
      PH_OPT_DATA(&data),
      PH_OPT_N(&n_ex),
      PH_OPT_SPLIT(&split),
      {"operator", "OP", PH_OPT_STRING, &op,
       .help = "hessian, ggn, precond (P^1/2 H P^1/2) or block:NAME"},
      {"precond", "FILE|DIR", PH_OPT_STRING, &precond,
       .help = "preconditioner P for --operator precond: a run directory,\n"
               "a .ckpt or a .npy diagonal"},
      {"k", "K", PH_OPT_SIZE, &ec.k, .lo = 1, .hi = 1000,
       .help = "eigenpairs per end"},
      {"which", "W", PH_OPT_CHOICE, &which, .choices = whichs,
       .help = "which end of the spectrum"},
      {"method", "M", PH_OPT_CHOICE, &method, .choices = methods,
       .help = "eigensolver"},
      {"tol", "T", PH_OPT_DOUBLE, &ec.tol, .lo = 1e-15, .hi = 0.5,
       .help = "relative residual tolerance"},
      {"max-products", "M", PH_OPT_SIZE, &ec.max_products, .lo = 1, .hi = 1e15,
       .help = "product budget (default: 100·n)", .flags = PH_OPT_NO_DEFAULT},
      {"early", NULL, PH_OPT_FLAG, &ec.early,
       .help = "Lanczos: judge convergence after every product and stop as\n"
               "soon as every wanted pair meets --tol (default: only when\n"
               "the basis is full, so the bounds end far below --tol)"},
      {"no-verify", NULL, PH_OPT_FLAG, &no_verify,
       .help = "Lanczos: skip the verification cycle, which restarts from\n"
               "the converged vectors and a fresh random one to find\n"
               "further copies of a repeated eigenvalue (docs/spectra.md)"},
      {"density", NULL, PH_OPT_FLAG, &density, .help = "SLQ spectral density"},
      {"probes", "P", PH_OPT_SIZE, &sc.probes, .lo = 1, .hi = 1e5,
       .help = "SLQ probes"},
      {"steps", "S", PH_OPT_SIZE, &sc.steps, .lo = 2, .hi = 1e5,
       .help = "SLQ Lanczos steps per probe"},
      {"sigma", "S", PH_OPT_DOUBLE, &sc.sigma, .lo = 0, .hi = 1e12,
       .help = "SLQ Gaussian broadening σ; 0 = from --sigma-rule"},
      {"sigma-rule", "R", PH_OPT_CHOICE, &sc.sigma_rule, .choices = sig_rules,
       .help = "spacing: the median gap between the quadrature's nodes\n"
               "(the spectrum's own resolution); pyhessian: σ² = 1e-5 ·\n"
               "max(1, λmax − λmin) (docs/spectra.md)"},
      {"block", "K", PH_OPT_SIZE, &sc.block, .lo = 1, .hi = PH_SLQ_BLOCK_MAX,
       .help = "probes per block product: SLQ and Hutchinson probes run\n"
               "in lockstep groups of K (1 = one at a time)"},
      {"trace", NULL, PH_OPT_FLAG, &trace,
       .help = "Hutchinson trace with standard error"},
      {"trace-probes", "P", PH_OPT_SIZE, &tprobes, .lo = 2, .hi = 1e7,
       .help = "Hutchinson probes"},
      {"dense", NULL, PH_OPT_FLAG, &dense,
       .help = "dense reference spectrum (n ≤ 20000)"},
      {"vectors", NULL, PH_OPT_FLAG, &ec.want_vectors,
       .help = "write the eigenvectors"},
      PH_OPT_SEED(&seed),
      PH_OPT_THREADS(&threads),
      PH_OPT_OUT_DIR(&out),
      {0}};
  const ph_cli_spec spec = {
      CMD,
      "--ckpt FILE --out DIR [options]",
      "Eigenvalues (with residual certificates), density and trace of the "
      "loss\ncurvature at a checkpoint. Writes DIR/spectrum.json, "
      "DIR/density.csv\n(--density), DIR/eigenvectors.npy (--vectors), "
      "DIR/dense_eigenvalues.npy\n(--dense).",
      opts,
      0,
      0};
  int rc = ph_cli_parse(&spec, argc, argv, NULL, NULL);
  if (rc >= 0) return rc;
  int is_block = strncmp(op, "block:", 6) == 0;
  if (!is_block && strcmp(op, "hessian") && strcmp(op, "ggn") &&
      strcmp(op, "precond"))
    return ph_cli_usage(
        CMD, "--operator '%s' is not hessian, ggn, precond or block:NAME", op);
  if (!strcmp(op, "precond") && !precond)
    return ph_cli_usage(CMD, "--operator precond needs --precond FILE|DIR");
  if (method == 1 && which != 0)
    return ph_cli_usage(CMD, "--method power finds only the top eigenvalues");
  if (method == 1 && (ec.early || no_verify))
    return ph_cli_usage(CMD, "--early and --no-verify are Lanczos settings, "
                             "not --method power's");
  ec.verify = !no_verify;
  ec.which = (ph_eig_which)which;
  ec.seed = sc.seed = seed;
  if (sc.steps > 0 && ec.k * (which == 2 ? 2 : 1) > SIZE_MAX / 4)
    return ph_cli_usage(CMD, "--k too large");
  return spectrum_main(ckpt, data, n_ex, split, op, precond, &ec, method,
                       density ? &sc : NULL, trace ? tprobes : 0, sc.block,
                       ph_cli_threads(threads), dense, out);
}
