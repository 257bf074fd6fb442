/* cmd_eval.c: `pothole eval`: loss and accuracy of a checkpoint on the first
 * N examples of a split, and on request the gradient, Hessian-vector and
 * Gauss-Newton-vector products of that same mean loss, as flat .npy vectors in
 * the parameter order of model.json. Every input is read and checked before
 * the first output is written. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/json.h"
#include "core/npy.h"
#include "nn/net.h"
#include "optim/riccati.h"

#define CMD "eval"

/* "V.npy:OUT.npy" → the vector (checked against n) and the output path. */
static int parse_pair(const char *arg, const char *opt, size_t n, double **v,
                      char **outp, ph_error *err) {
  const char *colon = strrchr(arg, ':');
  if (!colon || colon == arg || !colon[1]) {
    ph_cli_usage(CMD, "%s expects V.npy:OUT.npy, got '%s'", opt, arg);
    return 2;
  }
  char *in = strndup(arg, (size_t)(colon - arg));
  ph_npy a;
  ph_status s = ph_npy_read(in, &a, err);
  if (!s && (s = ph_npy_check(&a, in, PH_NPY_FINITE, "a vector", err)))
    ph_npy_free(&a);
  if (!s && a.size != n) {
    s = ph_error_set(err, PH_ERR_FORMAT,
                     "%s: %zu values, the model has %zu parameters", in, a.size,
                     n);
    ph_npy_free(&a);
  }
  free(in);
  if (s) {
    ph_cli_fail(CMD, s, err);
    return 1;
  }
  *v = a.data;
  *outp = strdup(colon + 1);
  return 0;
}

int ph_cmd_eval(int argc, char **argv) {
  const char *ckpt = NULL, *data = NULL, *grad = NULL, *hvp = NULL, *ggn = NULL,
             *stepf = NULL;
  int metric = 0, solver = 1;
  double damping = 0;
  static const char *const metrics[] = {"gn", "newton", NULL};
  static const char *const solvers[] = {"riccati", "dense", NULL};
  size_t n_ex = PH_CLI_DEFAULT_N;
  int split = 0, rc = 0;
  const ph_opt opts[] = {
      PH_OPT_CKPT_REQUIRED(&ckpt),
      PH_OPT_DATA(&data),
      PH_OPT_SPLIT(&split),
      PH_OPT_N(&n_ex),
      {"grad", "OUT.npy", PH_OPT_STRING, &grad, .help = "write the gradient"},
      {"hvp", "V.npy:OUT.npy", PH_OPT_STRING, &hvp,
       .help = "write H v for the flat vector in V.npy"},
      {"ggnvp", "V.npy:OUT.npy", PH_OPT_STRING, &ggn,
       .help = "write G v (Gauss-Newton)"},
      {"step", "OUT.npy", PH_OPT_STRING, &stepf,
       .help = "write δ = −(M + λI)⁻¹ g, the exact steepest-descent\n"
               "step under the metric M (dense: n ≤ 8000)"},
      {"metric", "M", PH_OPT_CHOICE, &metric, .choices = metrics,
       .help = "M for --step: Gauss-Newton or Hessian"},
      {"damping", "λ", PH_OPT_DOUBLE, &damping, .lo = 0, .hi = 1e12,
       .help = "λ for --step"},
      {"solver", "S", PH_OPT_CHOICE, &solver, .choices = solvers,
       .help = "dense (any model) or riccati (the backward Riccati\n"
               "recursion over an MLP's layers)"},
      {0}};
  const ph_cli_spec spec = {
      CMD,
      "--ckpt FILE [options]",
      "Prints JSON: loss, accuracy, n_params, n_examples (the loss is the "
      "mean\nover the first N examples of the split; products are of that "
      "loss).",
      opts,
      0,
      0};
  if ((rc = ph_cli_parse(&spec, argc, argv, NULL, NULL)) >= 0) return rc;
  rc = 0;
  ph_error err = {0};
  ph_net_bundle b;
  ph_data_options dopt = ph_data_options_default();
  ph_status s = ph_net_bundle_load(ckpt, data, &dopt, 512, &b, &err);
  if (s) return ph_cli_fail(CMD, s, &err);
  ph_objective *o = b.obj;
  size_t avail = o->n_examples[split];
  ph_batch bt = {(ph_split)split, NULL, n_ex && n_ex < avail ? n_ex : avail};
  double *vh = NULL, *vg = NULL, *out = NULL;
  char *oh = NULL, *og = NULL;
  ph_outset outs = {0};
  if (hvp && (rc = parse_pair(hvp, "--hvp", o->n, &vh, &oh, &err))) goto done;
  if (ggn && (rc = parse_pair(ggn, "--ggnvp", o->n, &vg, &og, &err))) goto done;
  if (!(out = malloc(o->n * sizeof *out))) {
    rc = ph_cli_fail(CMD, PH_ERR_NOMEM, NULL);
    goto done;
  }
  double loss, acc;
  if ((s = ph_objective_eval(o, b.theta, &bt, &loss, &acc, &err))) goto fail;
  if (grad) {
    double l2;
    if ((s = ph_objective_loss_grad(o, b.theta, &bt, &l2, out, &err)) ||
        (s = ph_npy_write_vec(grad, out, o->n, &err)))
      goto fail;
    ph_outset_add(&outs, grad);
  }
  if (vh) {
    if ((s = ph_objective_hvp(o, b.theta, &bt, vh, out, &err)) ||
        (s = ph_npy_write_vec(oh, out, o->n, &err)))
      goto fail;
    ph_outset_add(&outs, oh);
  }
  if (vg) {
    if ((s = ph_objective_ggnvp(o, b.theta, &bt, vg, out, &err)) ||
        (s = ph_npy_write_vec(og, out, o->n, &err)))
      goto fail;
    ph_outset_add(&outs, og);
  }
  if (stepf) {
    if ((s = ph_llqr_exact_step(o, b.theta, &bt, (ph_metric)metric, damping,
                                (ph_step_solver)solver, out, &err)) ||
        (s = ph_npy_write_vec(stepf, out, o->n, &err)))
      goto fail;
    ph_outset_add(&outs, stepf);
  }
  cJSON *j = cJSON_CreateObject();
  ph_json_add_number(j, "loss", loss);
  ph_json_add_number(j, "accuracy", acc);
  ph_json_add_number(j, "n_params", (double)o->n);
  ph_json_add_number(j, "n_examples", (double)bt.n);
  cJSON_AddStringToObject(j, "split", split ? "test" : "train");
  cJSON_AddStringToObject(j, "model", ph_net_spec(o));
  cJSON_AddStringToObject(j, "data", b.data->spec);
  ph_json_add_stamp(j);
  char *text = cJSON_PrintUnformatted(j);
  if (text) printf("%s\n", text);
  cJSON_free(text);
  cJSON_Delete(j);
  goto done;
fail:
  ph_outset_rollback(&outs);
  rc = ph_cli_fail(CMD, s, &err);
done:
  ph_outset_free(&outs);
  free(vh);
  free(vg);
  free(oh);
  free(og);
  free(out);
  ph_net_bundle_free(&b);
  return rc;
}
