/* test_riccati.c: the exact LLQR step. The backward Riccati recursion
 * (its own forward pass and loss head, riccati_mlp.c) must equal the dense
 * solve of (M + λI)δ = −g built from src/nn's Gv/Hv products, to 1e-8
 * relative, for Gauss-Newton and Newton metrics, several activations,
 * classification and regression, a batch of several examples given by
 * indices. The dense step is itself checked by its residual. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lapacke.h>

#include "core/vec.h"
#include "data/dataset.h"
#include "nn/net.h"
#include "optim/riccati.h"

static double rel_diff(const double *a, const double *b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return sqrt(num / den);
}

/* Riccati vs dense on `model` over `data` at a seeded θ scaled by `scale`
 * (larger weights: more curvature from the activations). */
static void compare(const char *data, const char *model, double scale,
                    double damping) {
  ph_error err = {0};
  ph_data_options opt = ph_data_options_default();
  opt.seed = 3;
  ph_dataset *d = NULL;
  ph_objective *o = NULL;
  assert_int_equal(ph_dataset_load(data, &opt, &d, &err), PH_OK);
  assert_int_equal(ph_net_create(model, d, 16, &o, &err), PH_OK);
  size_t n = o->n;
  double *th = calloc(n, sizeof *th), *r = calloc(n, sizeof *r),
         *s = calloc(n, sizeof *s);
  double *g = calloc(n, sizeof *g), *mv = calloc(n, sizeof *mv);
  assert_int_equal(ph_net_init_params(o, 11, th, &err), PH_OK);
  for (size_t i = 0; i < n; i++) th[i] *= scale;
  size_t idx[7] = {5, 0, 17, 3, 29, 11, 8};
  ph_batch b = {PH_SPLIT_TRAIN, idx, 7};
  for (int m = 0; m < 2; m++) {
    ph_metric metric = (ph_metric)m;
    assert_int_equal(ph_llqr_exact_step(o, th, &b, metric, damping,
                                        PH_SOLVER_DENSE, s, &err),
                     PH_OK);
    ph_status st = ph_llqr_exact_step(o, th, &b, metric, damping,
                                      PH_SOLVER_RICCATI, r, &err);
    if (st) fprintf(stderr, "riccati: %s\n", err.msg);
    assert_int_equal(st, PH_OK);
    /* dense residual: (M + λI)s + g = 0 to rounding */
    double loss;
    assert_int_equal(ph_objective_loss_grad(o, th, &b, &loss, g, &err), PH_OK);
    if (metric == PH_METRIC_NEWTON)
      assert_int_equal(ph_objective_hvp(o, th, &b, s, mv, &err), PH_OK);
    else
      assert_int_equal(ph_objective_ggnvp(o, th, &b, s, mv, &err), PH_OK);
    double res = 0, gn = 0;
    for (size_t i = 0; i < n; i++) {
      double t = mv[i] + damping * s[i] + g[i];
      res += t * t;
      gn += g[i] * g[i];
    }
    assert_true(sqrt(res / gn) < 1e-8);
    double rd = rel_diff(r, s, n);
    fprintf(stderr, "%-22s %-32s %-6s n=%4zu  |riccati-dense|/|dense| = %.2e\n",
            model, data, m ? "newton" : "gn", n, rd);
    assert_true(rd < 1e-8);
  }
  free(th);
  free(r);
  free(s);
  free(g);
  free(mv);
  ph_objective_free(o);
  ph_dataset_free(d);
}

static void test_classify(void **st) {
  (void)st;
  compare("blobs:n=60,k=3,d=3", "mlp:5-4:tanh", 1.5, 0.05);
  compare("blobs:n=60,k=3,d=3", "mlp:6:gelu", 1.5, 0.05);
  compare("blobs:n=60,k=4,d=3", "mlp:4-3:sigmoid", 2.0, 0.05);
  compare("blobs:n=60,k=3,d=3", "mlp:5:softplus", 1.5, 0.05);
  compare("blobs:n=60,k=3,d=3", "mlp:5-5:relu", 1.0, 0.05);
}

static void test_regress(void **st) {
  (void)st;
  compare("teacher:n=60,d=3,h=4,out=2", "mlp:5:tanh", 1.5, 0.05);
  compare("teacher:n=60,d=4,h=4,out=1", "mlp:4-4:tanh", 1.5, 0.01);
}

/* Newton with little damping at a random point where H + λI is indefinite
 * (checked here with a dense eigendecomposition): the recursion's symmetric
 * indefinite pivots still give the dense answer. */
static void test_newton_indefinite(void **st) {
  (void)st;
  const char *data = "blobs:n=60,k=3,d=3", *model = "mlp:4-4:tanh";
  double scale = 3.0, damping = 1e-3;
  ph_error err = {0};
  ph_data_options opt = ph_data_options_default();
  opt.seed = 3;
  ph_dataset *d = NULL;
  ph_objective *o = NULL;
  assert_int_equal(ph_dataset_load(data, &opt, &d, &err), PH_OK);
  assert_int_equal(ph_net_create(model, d, 16, &o, &err), PH_OK);
  size_t n = o->n;
  double *th = calloc(n, sizeof *th), *H = calloc(n * n, sizeof *H),
         *e = calloc(n, sizeof *e);
  double *w = calloc(n, sizeof *w);
  assert_int_equal(ph_net_init_params(o, 11, th, &err), PH_OK);
  for (size_t i = 0; i < n; i++) th[i] *= scale;
  size_t idx[7] = {5, 0, 17, 3, 29, 11, 8};
  ph_batch b = {PH_SPLIT_TRAIN, idx, 7};
  for (size_t j = 0; j < n; j++) {
    e[j] = 1;
    assert_int_equal(ph_objective_hvp(o, th, &b, e, H + j * n, &err), PH_OK);
    e[j] = 0;
  }
  assert_int_equal(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)n, H,
                                 (lapack_int)n, w),
                   0);
  fprintf(stderr,
          "Newton metric: eigenvalues of H + lambda I in [%.3g, %.3g]\n",
          w[0] + damping, w[n - 1] + damping);
  assert_true(w[0] + damping < 0);
  free(th);
  free(H);
  free(e);
  free(w);
  ph_objective_free(o);
  ph_dataset_free(d);
  compare(data, model, scale, damping);
}

static void test_unsupported(void **st) {
  (void)st;
  ph_error err = {0};
  ph_data_options opt = ph_data_options_default();
  ph_dataset *d = NULL;
  ph_objective *o = NULL;
  assert_int_equal(ph_dataset_load("modadd:7", &opt, &d, &err), PH_OK);
  /* The transformer is built into every pothole: failing to build one is a
   * failure here, not a reason to skip. */
  assert_int_equal(ph_net_create("transformer:d8h2l1", d, 8, &o, &err), PH_OK);
  double *th = calloc(o->n, sizeof *th), *s = calloc(o->n, sizeof *s);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, 2};
  ph_error_clear(&err);
  assert_int_equal(ph_llqr_exact_step(o, th, &b, PH_METRIC_GN, 0.1,
                                      PH_SOLVER_RICCATI, s, &err),
                   PH_ERR_UNSUPPORTED);
  assert_true(strlen(err.msg) > 0);
  free(th);
  free(s);
  ph_objective_free(o);
  ph_dataset_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classify),
      cmocka_unit_test(test_regress),
      cmocka_unit_test(test_newton_indefinite),
      cmocka_unit_test(test_unsupported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
