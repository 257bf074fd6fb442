/* test_nn.c: the sequential network engine against independent
 * computations: gradients vs central differences of the loss, Hv vs central
 * differences of the gradient, symmetry of the dense Hessian built from n
 * Hv products, Gv vs Jᵀ H_z J with J from central differences of the
 * logits, chunked = unchunked, GGN = Hessian for a linear model.
 *
 * Tolerance: a central difference with step h has truncation error
 * h²·|f'''|/6 and rounding error about ε·|f|/h. With h = 1e-5, third
 * derivatives of these small tanh/softplus networks bounded by ~1e2 and
 * |f| ≤ 10: 1.7e-9 + 2.2e-10 ≈ 2e-9; we allow TOL = 1e-8·(1 + |value|).
 * A wrong term (a missing second-order contribution, a transposed product)
 * changes entries by 1e-3 or more. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"
#include "core/vec.h"
#include "data/dataset.h"
#include "nn/net.h"
#include "nn/net_int.h"

#define H 1e-5
#define TOL 1e-8

static void fill_data(ph_dataset *d, ph_task task, size_t c, size_t h, size_t w,
                      size_t classes, size_t n, uint64_t seed) {
  memset(d, 0, sizeof *d);
  snprintf(d->spec, sizeof d->spec, "test");
  d->task = task;
  d->in_ndim = h ? 3 : 1;
  d->in_shape[0] = c;
  d->in_shape[1] = h;
  d->in_shape[2] = w;
  d->in_size = h ? c * h * w : c;
  d->n_classes = classes;
  d->n_out = classes;
  d->n_targets = 1;
  d->n[0] = n;
  ph_rng r = ph_rng_make(seed, 99);
  d->x[0] = malloc(n * d->in_size * sizeof(double));
  ph_rng_fill_gauss(&r, d->x[0], n * d->in_size, 1.0);
  if (task == PH_TASK_REGRESS) {
    d->t[0] = malloc(n * classes * sizeof(double));
    ph_rng_fill_gauss(&r, d->t[0], n * classes, 1.0);
  } else {
    d->y[0] = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) d->y[0][i] = (int32_t)ph_rng_below(&r, classes);
  }
}

static void free_data(ph_dataset *d) {
  free(d->x[0]);
  free(d->y[0]);
  free(d->t[0]);
}

static int close_enough(double a, double b) {
  return fabs(a - b) <= TOL * (1 + fabs(a) + fabs(b));
}

/* Gradient and Hv against finite differences, symmetry, for one model. */
static void check_model(const char *spec, ph_dataset *d, size_t max_batch) {
  ph_error err = {0};
  ph_objective *o;
  assert_int_equal(ph_net_create(spec, d, max_batch, &o, &err), PH_OK);
  size_t n = o->n;
  double *th = malloc(n * sizeof *th), *g = malloc(n * sizeof *g),
         *gp = malloc(n * sizeof *gp), *gm = malloc(n * sizeof *gm),
         *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w),
         *hv = malloc(n * sizeof *hv), *hw = malloc(n * sizeof *hw),
         *t = malloc(n * sizeof *t);
  assert_int_equal(ph_net_init_params(o, 3, th, &err), PH_OK);
  /* biases away from zero so every term is exercised */
  ph_rng r = ph_rng_make(7, 1);
  for (size_t i = 0; i < n; i++) th[i] += 0.1 * ph_rng_gauss(&r);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, d->n[0]};
  double L;
  assert_int_equal(ph_objective_loss_grad(o, th, &b, &L, g, &err), PH_OK);
  for (size_t i = 0; i < n; i++) {
    double lp, lm, keep = th[i];
    th[i] = keep + H;
    ph_objective_loss_grad(o, th, &b, &lp, NULL, &err);
    th[i] = keep - H;
    ph_objective_loss_grad(o, th, &b, &lm, NULL, &err);
    th[i] = keep;
    double fd = (lp - lm) / (2 * H);
    if (!close_enough(fd, g[i])) fprintf(stderr, "%s grad[%zu] %g vs fd %g\n", spec, i, g[i], fd);
    assert_true(close_enough(fd, g[i]));
  }
  ph_rng_fill_gauss(&r, v, n, 1.0);
  ph_rng_fill_gauss(&r, w, n, 1.0);
  assert_int_equal(ph_objective_hvp(o, th, &b, v, hv, &err), PH_OK);
  assert_int_equal(ph_objective_hvp(o, th, &b, w, hw, &err), PH_OK);
  for (size_t i = 0; i < n; i++) t[i] = th[i] + H * v[i];
  ph_objective_loss_grad(o, t, &b, &L, gp, &err);
  for (size_t i = 0; i < n; i++) t[i] = th[i] - H * v[i];
  ph_objective_loss_grad(o, t, &b, &L, gm, &err);
  double scale = ph_vec_nrm2(n, hv);
  for (size_t i = 0; i < n; i++) {
    double fd = (gp[i] - gm[i]) / (2 * H);
    if (fabs(fd - hv[i]) > TOL * (1 + scale)) fprintf(stderr, "%s Hv[%zu] %g vs fd %g\n", spec, i, hv[i], fd);
    assert_true(fabs(fd - hv[i]) <= TOL * (1 + scale));
  }
  /* exact symmetry up to rounding: |wᵀHv − vᵀHw| ≤ 64 n ε ‖w‖‖Hv‖ */
  double a = ph_vec_dot(n, w, hv), c = ph_vec_dot(n, v, hw);
  double bound = 64 * (double)n * 2.2e-16 * ph_vec_nrm2(n, w) * (scale + ph_vec_nrm2(n, hw));
  assert_true(fabs(a - c) <= bound);
  /* chunked (max batch 3) equals whole */
  ph_objective *o3;
  assert_int_equal(ph_net_create(spec, d, 3, &o3, &err), PH_OK);
  double L3, L1;
  assert_int_equal(ph_objective_loss_grad(o3, th, &b, &L3, gp, &err), PH_OK);
  assert_int_equal(ph_objective_hvp(o3, th, &b, v, gm, &err), PH_OK);
  ph_objective_loss_grad(o, th, &b, &L1, g, &err);
  assert_true(fabs(L3 - L1) <= 1e-13 * (1 + fabs(L1)));
  for (size_t i = 0; i < n; i++) {
    assert_true(fabs(gp[i] - g[i]) <= 1e-13 * (1 + ph_vec_amax(n, g)));
    assert_true(fabs(gm[i] - hv[i]) <= 1e-12 * (1 + scale));
  }
  ph_objective_destroy(o3);
  ph_objective_destroy(o);
  free(th); free(g); free(gp); free(gm); free(v); free(w); free(hv); free(hw); free(t);
}

static void test_mlp_tanh(void **s) {
  (void)s;
  ph_dataset d;
  fill_data(&d, PH_TASK_CLASSIFY, 4, 0, 0, 3, 10, 1);
  check_model("mlp:5-4:tanh", &d, 64);
  free_data(&d);
}

static void test_mlp_other_acts(void **s) {
  (void)s;
  ph_dataset d;
  fill_data(&d, PH_TASK_CLASSIFY, 3, 0, 0, 4, 7, 2);
  check_model("mlp:5:softplus", &d, 64);
  check_model("mlp:5:sigmoid", &d, 64);
  check_model("mlp:5:gelu", &d, 64);
  check_model("mlp:6:relu", &d, 64); /* FD valid: no pre-activation at 0 */
  check_model("linear", &d, 64);
  free_data(&d);
}

static void test_mlp_mse(void **s) {
  (void)s;
  ph_dataset d;
  fill_data(&d, PH_TASK_REGRESS, 3, 0, 0, 2, 9, 3);
  check_model("mlp:4:tanh", &d, 64);
  free_data(&d);
}

static void test_cnn(void **s) {
  (void)s;
  ph_dataset d;
  fill_data(&d, PH_TASK_CLASSIFY, 2, 6, 6, 3, 4, 4);
  check_model("cnn:c3k3-p2:tanh", &d, 64);
  check_model("cnn:c2k3-a2-d5:softplus", &d, 64);
  check_model("cnn:c2k1-c2k3-p3:tanh", &d, 64);
  check_model("cnn", &d, 64); /* the default spec (relu, max pooling) */
  free_data(&d);
}

/* Logits of the whole batch through the engine's forward pass. */
static void logits(ph_objective *o, const double *th, size_t N, double *z) {
  nn_net *n = nn_of(o);
  const ph_dataset *d = n->data;
  memcpy(n->h[0], d->x[0], N * d->in_size * sizeof(double));
  for (size_t i = 0; i < n->n_layers; i++)
    nn_forward(&n->layers[i], th, N, n->h[i], n->h[i + 1]);
  memcpy(z, n->h[n->n_layers], N * n->n_out * sizeof(double));
}

/* Gv equals Jᵀ H_z J v / N with J from central differences of the logits
 * and H_z = diag(p) − ppᵀ per example. */
static void test_ggn_explicit(void **s) {
  (void)s;
  ph_dataset d;
  fill_data(&d, PH_TASK_CLASSIFY, 3, 0, 0, 3, 5, 5);
  ph_error err = {0};
  ph_objective *o;
  assert_int_equal(ph_net_create("mlp:4:tanh", &d, 64, &o, &err), PH_OK);
  size_t n = o->n, N = 5, C = 3, M = N * C;
  double *th = malloc(n * sizeof *th), *J = malloc(M * n * sizeof *J),
         *zp = malloc(M * sizeof *zp), *zm = malloc(M * sizeof *zm),
         *z = malloc(M * sizeof *z), *v = malloc(n * sizeof *v),
         *gv = malloc(n * sizeof *gv), *ref = calloc(n, sizeof *ref),
         *jv = malloc(M * sizeof *jv);
  ph_net_init_params(o, 1, th, &err);
  for (size_t j = 0; j < n; j++) {
    double keep = th[j];
    th[j] = keep + H;
    logits(o, th, N, zp);
    th[j] = keep - H;
    logits(o, th, N, zm);
    th[j] = keep;
    for (size_t r = 0; r < M; r++) J[r * n + j] = (zp[r] - zm[r]) / (2 * H);
  }
  logits(o, th, N, z);
  ph_rng r = ph_rng_make(3, 3);
  ph_rng_fill_gauss(&r, v, n, 1.0);
  for (size_t q = 0; q < M; q++) jv[q] = ph_vec_dot(n, J + q * n, v);
  for (size_t e = 0; e < N; e++) {
    double p[3], mx = fmax(fmax(z[e * C], z[e * C + 1]), z[e * C + 2]), sum = 0;
    for (size_t c = 0; c < C; c++) sum += (p[c] = exp(z[e * C + c] - mx));
    for (size_t c = 0; c < C; c++) p[c] /= sum;
    double pj = 0;
    for (size_t c = 0; c < C; c++) pj += p[c] * jv[e * C + c];
    for (size_t c = 0; c < C; c++) {
      double hz = p[c] * (jv[e * C + c] - pj) / (double)N;
      for (size_t j = 0; j < n; j++) ref[j] += J[(e * C + c) * n + j] * hz;
    }
  }
  assert_int_equal(ph_objective_ggnvp(o, th, &(ph_batch){PH_SPLIT_TRAIN, NULL, N}, v, gv, &err), PH_OK);
  double sc = ph_vec_nrm2(n, ref);
  for (size_t j = 0; j < n; j++) assert_true(fabs(gv[j] - ref[j]) <= 1e-7 * (1 + sc));
  ph_objective_destroy(o);
  free(th); free(J); free(zp); free(zm); free(z); free(v); free(gv); free(ref); free(jv);
  free_data(&d);
}

/* For a linear model the logits are linear in θ, so G = H exactly. */
static void test_ggn_equals_hessian_linear(void **s) {
  (void)s;
  ph_dataset d;
  fill_data(&d, PH_TASK_CLASSIFY, 4, 0, 0, 3, 6, 6);
  ph_error err = {0};
  ph_objective *o;
  assert_int_equal(ph_net_create("linear", &d, 64, &o, &err), PH_OK);
  size_t n = o->n;
  double *th = calloc(n, sizeof *th), *v = malloc(n * sizeof *v),
         *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  ph_rng r = ph_rng_make(4, 4);
  ph_rng_fill_gauss(&r, th, n, 0.5);
  ph_rng_fill_gauss(&r, v, n, 1.0);
  ph_batch bt = {PH_SPLIT_TRAIN, NULL, 6};
  ph_objective_hvp(o, th, &bt, v, a, &err);
  ph_objective_ggnvp(o, th, &bt, v, b, &err);
  for (size_t i = 0; i < n; i++) assert_true(fabs(a[i] - b[i]) <= 1e-14 * (1 + ph_vec_amax(n, a)));
  ph_objective_destroy(o);
  free(th); free(v); free(a); free(b);
  free_data(&d);
}

/* The dense Hessian from n Hv products is symmetric and its columns match
 * differences of the gradient (a tiny CNN and an MLP on real digits). */
static void test_dense_hessian_digits(void **s) {
  (void)s;
  ph_data_options opt = ph_data_options_default();
  opt.max_train = 12;
  ph_error err = {0};
  ph_dataset *d;
  assert_int_equal(ph_dataset_load("digits", &opt, &d, &err), PH_OK);
  const char *specs[] = {"mlp:6:tanh", "cnn:c2k3-p2-d4:tanh"};
  for (int k = 0; k < 2; k++) {
    ph_objective *o;
    assert_int_equal(ph_net_create(specs[k], d, 64, &o, &err), PH_OK);
    size_t n = o->n;
    assert_true(n <= 2000);
    double *th = malloc(n * sizeof *th), *Hm = malloc(n * n * sizeof *Hm),
           *e = calloc(n, sizeof *e);
    ph_net_init_params(o, 2, th, &err);
    ph_batch b = ph_batch_all(o, PH_SPLIT_TRAIN);
    double mx = 0;
    for (size_t j = 0; j < n; j++) {
      e[j] = 1;
      assert_int_equal(ph_objective_hvp(o, th, &b, e, Hm + j * n, &err), PH_OK);
      e[j] = 0;
    }
    for (size_t i = 0; i < n * n; i++) mx = fmax(mx, fabs(Hm[i]));
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < i; j++)
        assert_true(fabs(Hm[i * n + j] - Hm[j * n + i]) <= 64 * 2.2e-16 * (double)n * (1 + mx));
    ph_objective_destroy(o);
    free(th); free(Hm); free(e);
  }
  ph_dataset_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mlp_tanh),
      cmocka_unit_test(test_mlp_other_acts),
      cmocka_unit_test(test_mlp_mse),
      cmocka_unit_test(test_cnn),
      cmocka_unit_test(test_ggn_explicit),
      cmocka_unit_test(test_ggn_equals_hessian_linear),
      cmocka_unit_test(test_dense_hessian_digits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
