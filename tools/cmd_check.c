/* cmd_check.c: `pothole check`: the gradient and Hv of a checkpoint against
 * central differences along random directions, and the symmetry wᵀHv = vᵀHw.
 *
 * Tolerance: for a unit direction v and step h, the central difference of
 * the loss has truncation error ≤ h²·M₃/6 (M₃ a bound on the third
 * directional derivative) and rounding error ≈ ε·|L|/h. With h = 1e-4 and
 * M₃ ≤ 10² for these models that is ≤ 2e-7 + 2e-12·|L|; we report the
 * relative error against max(|exact|, 1e-3) and fail beyond 1e-5, two orders
 * above the expected error and orders below any real mistake (which gives
 * errors of 1e-2 or more). The Hv check differences gradients the same way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "commands.h"
#include "core/json.h"
#include "core/rng.h"
#include "core/vec.h"
#include "nn/net.h"

#define CMD "check"
#define STEP 1e-4
#define TOL 1e-5

int ph_cmd_check(int argc, char **argv) {
  const char *ckpt = NULL, *data = NULL;
  /* --n defaults to 64 here, not PH_CLI_DEFAULT_N: with ReLU and max
   * pooling every example adds kinks, and with ~256 examples a step of 1e-4
   * already crosses one (Hv error ~10 on cnn/digits), which would fail a
   * correct model. */
  size_t n_ex = 64, dirs = 4;
  uint64_t seed = 0;
  int rc = 0;
  char about[512];
  snprintf(about, sizeof about,
           "Gradient and Hessian-vector products against central differences "
           "along D\nrandom unit directions, and the symmetry wᵀHv = vᵀHw. "
           "Prints JSON with the\nlargest relative errors; exit 1 when one "
           "exceeds %g.",
           TOL);
  const ph_opt opts[] = {PH_OPT_CKPT_REQUIRED(&ckpt),
                         PH_OPT_DATA(&data),
                         PH_OPT_N(&n_ex),
                         {"dirs", "D", PH_OPT_SIZE, &dirs, .lo = 1, .hi = 1000,
                          .help = "random directions"},
                         PH_OPT_SEED(&seed),
                         {0}};
  const ph_cli_spec spec = {CMD, "--ckpt FILE [options]", about, opts, 0, 0};
  if ((rc = ph_cli_parse(&spec, argc, argv, NULL, NULL)) >= 0) return rc;
  rc = 0;
  ph_error err = {0};
  ph_net_bundle b;
  ph_data_options dopt = ph_data_options_default();
  ph_status s = ph_net_bundle_load(ckpt, data, &dopt, 256, &b, &err);
  if (s) return ph_cli_fail(CMD, s, &err);
  ph_objective *o = b.obj;
  size_t n = o->n;
  ph_batch bt = {PH_SPLIT_TRAIN, NULL,
                 n_ex < o->n_examples[0] ? n_ex : o->n_examples[0]};
  double *g = malloc(n * sizeof *g), *v = malloc(n * sizeof *v),
         *w = malloc(n * sizeof *w), *hv = malloc(n * sizeof *hv),
         *hw = malloc(n * sizeof *hw), *t = malloc(n * sizeof *t),
         *gp = malloc(n * sizeof *gp), *gm = malloc(n * sizeof *gm);
  double e_grad = 0, e_hvp = 0, e_sym = 0, L;
  ph_rng r = ph_rng_make(seed, PH_RNG_STREAM_USER + 17);
  if (!g || !v || !w || !hv || !hw || !t || !gp || !gm) {
    s = ph_error_set(&err, PH_ERR_NOMEM, "out of memory");
    goto done;
  }
  if ((s = ph_objective_loss_grad(o, b.theta, &bt, &L, g, &err))) goto done;
  for (size_t k = 0; k < dirs; k++) {
    ph_rng_fill_gauss(&r, v, n, 1.0);
    ph_vec_scal(n, 1.0 / ph_vec_nrm2(n, v), v);
    ph_rng_fill_gauss(&r, w, n, 1.0);
    ph_vec_scal(n, 1.0 / ph_vec_nrm2(n, w), w);
    double lp, lm;
    for (size_t i = 0; i < n; i++) t[i] = b.theta[i] + STEP * v[i];
    if ((s = ph_objective_loss_grad(o, t, &bt, &lp, gp, &err))) goto done;
    for (size_t i = 0; i < n; i++) t[i] = b.theta[i] - STEP * v[i];
    if ((s = ph_objective_loss_grad(o, t, &bt, &lm, gm, &err))) goto done;
    double fd = (lp - lm) / (2 * STEP), ex = ph_vec_dot(n, g, v);
    e_grad = fmax(e_grad, fabs(fd - ex) / fmax(fabs(ex), 1e-3));
    if ((s = ph_objective_hvp(o, b.theta, &bt, v, hv, &err)) ||
        (s = ph_objective_hvp(o, b.theta, &bt, w, hw, &err)))
      goto done;
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
      double d = (gp[i] - gm[i]) / (2 * STEP) - hv[i];
      num += d * d;
      den += hv[i] * hv[i];
    }
    e_hvp = fmax(e_hvp, sqrt(num) / fmax(sqrt(den), 1e-3));
    double a = ph_vec_dot(n, w, hv), c2 = ph_vec_dot(n, v, hw);
    e_sym = fmax(e_sym, fabs(a - c2) / fmax(fmax(fabs(a), fabs(c2)), 1e-3));
  }
  cJSON *j = cJSON_CreateObject();
  ph_json_add_number(j, "grad_rel_error", e_grad);
  ph_json_add_number(j, "hvp_rel_error", e_hvp);
  ph_json_add_number(j, "symmetry_rel_error", e_sym);
  ph_json_add_number(j, "tolerance", TOL);
  ph_json_add_number(j, "step", STEP);
  ph_json_add_number(j, "directions", (double)dirs);
  ph_json_add_number(j, "n_params", (double)n);
  ph_json_add_number(j, "n_examples", (double)bt.n);
  int ok = e_grad <= TOL && e_hvp <= TOL && e_sym <= TOL;
  cJSON_AddBoolToObject(j, "passed", ok);
  char *text = cJSON_PrintUnformatted(j);
  if (text) printf("%s\n", text);
  cJSON_free(text);
  cJSON_Delete(j);
  if (!ok) {
    fprintf(stderr,
            "pothole check: %s: finite differences disagree beyond %g "
            "(grad %.3g, Hv %.3g, symmetry %.3g)\n",
            ckpt, TOL, e_grad, e_hvp, e_sym);
    rc = 1;
  }
done:
  if (s) rc = ph_cli_fail(CMD, s, &err);
  free(g);
  free(v);
  free(w);
  free(hv);
  free(hw);
  free(t);
  free(gp);
  free(gm);
  ph_net_bundle_free(&b);
  return rc;
}
