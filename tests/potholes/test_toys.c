/* test_toys.c: toy landscapes against finite differences and closed forms.
 *
 * Central differences with step h have truncation error h²/6·M3 (gradient
 * from losses) and h²/6·M4 (Hessian from gradients), plus rounding
 * ~ε·|f|/h. Each case carries a bound M on the relevant third/fourth
 * derivative from its formula, and the tolerance is
 *     tol = h²/6·M + 16·ε·F/h,    F = magnitude of the differenced values.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"
#include "core/vec.h"
#include "potholes/toys.h"

#define EPS 2.220446049250313e-16

typedef struct fd_case {
  const char *spec;
  double box;    /* points uniform in [-box, box]^n around centre */
  double cx;     /* centre offset on coordinate 0 */
  double m3, m4; /* derivative bounds (see header comment) */
} fd_case;

static const fd_case CASES[] = {
    /* pothole2d: pit terms d/s³·(Hermite ≤ 2.2) and d/s⁴·(≤ 3) */
    {"pothole2d", 0.25, 1.5, 0.5e3 * 2.2, 0.5e4 * 3},
    {"pothole2d:s=0.3,d=2,cx=0.5,cy=0.2,a=0.5,b=3", 1.0, 0.5, 2 / 0.027 * 2.2,
     2 / 0.0081 * 3},
    {"potholeNd:n=6,count=2", 0.25, 1.5, 0.5e3 * 2.2, 0.5e4 * 3},
    {"quadratic:n=5,lmin=0.1,lmax=10", 2.0, 0.0, 0, 0},
    /* rastrigin: A(2π)³, A(2π)⁴ */
    {"rastrigin:n=3", 1.0, 0.0, 10 * 248.1, 10 * 1558.6},
    /* ackley away from 0 (radial term ~ a b³/r... bounded for |x|>0.3) */
    {"ackley:n=3", 1.0, 1.5, 20 * 8 + 40 * 2, 400 + 1558.6 * 3},
    {"rosenbrock:n=4", 1.5, 0.0, 24 * 100 * 2, 24 * 100},
    {"himmelblau", 4.0, 0.0, 24 * 5 + 24, 24},
};

static void check_case(const fd_case *fc, const char *noise_suffix) {
  char spec[256];
  snprintf(spec, sizeof spec, "%s%s%s", fc->spec,
           noise_suffix ? (strchr(fc->spec, ':') ? "," : ":") : "",
           noise_suffix ? noise_suffix : "");
  ph_error err = {0};
  ph_objective *o = NULL;
  ph_toy_create_str(spec, &o, &err);
  if (!o) fail_msg("%s: %s", spec, err.msg);
  size_t n = o->n;
  double x[16], v[16], g[16], gp[16], gm[16], hv[16], xp[16];
  assert_true(n <= 16);
  ph_rng r = ph_rng_make(42, 9);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, 0};
  size_t bidx[3] = {4, 1, 7};
  if (noise_suffix) b.idx = bidx, b.n = 3;
  for (int trial = 0; trial < 8; trial++) {
    ph_rng_fill_uniform(&r, x, n, -fc->box, fc->box);
    x[0] += fc->cx;
    ph_rng_fill_gauss(&r, v, n, 1.0);
    ph_vec_scal(n, 1.0 / ph_vec_nrm2(n, v), v);
    double f;
    assert_int_equal(o->loss_grad(o->ctx, x, &b, &f, g, &err), PH_OK);
    /* gradient: directional derivative vᵀg vs (f(x+hv) − f(x−hv))/2h */
    double h = 1e-4, fp, fm;
    for (size_t i = 0; i < n; i++) xp[i] = x[i] + h * v[i];
    assert_int_equal(o->loss_grad(o->ctx, xp, &b, &fp, NULL, &err), PH_OK);
    for (size_t i = 0; i < n; i++) xp[i] = x[i] - h * v[i];
    assert_int_equal(o->loss_grad(o->ctx, xp, &b, &fm, NULL, &err), PH_OK);
    double fd = (fp - fm) / (2 * h), an = ph_vec_dot(n, v, g);
    double tol = h * h / 6 * fc->m3 + 16 * EPS * (fabs(f) + 1) / h;
    if (fabs(fd - an) > tol)
      fail_msg("%s: gradient FD %.12g vs %.12g (tol %.3g)", spec, fd, an, tol);
    /* Hessian: Hv vs (g(x+hv) − g(x−hv))/2h, elementwise */
    h = 1e-4;
    for (size_t i = 0; i < n; i++) xp[i] = x[i] + h * v[i];
    assert_int_equal(o->loss_grad(o->ctx, xp, &b, &fp, gp, &err), PH_OK);
    for (size_t i = 0; i < n; i++) xp[i] = x[i] - h * v[i];
    assert_int_equal(o->loss_grad(o->ctx, xp, &b, &fm, gm, &err), PH_OK);
    assert_int_equal(o->hvp(o->ctx, x, &b, v, hv, &err), PH_OK);
    double gscale = ph_vec_amax(n, g) + 1;
    double htol = h * h / 6 * fc->m4 + 16 * EPS * gscale / h;
    for (size_t i = 0; i < n; i++) {
      double fdh = (gp[i] - gm[i]) / (2 * h);
      if (fabs(fdh - hv[i]) > htol)
        fail_msg("%s: (Hv)[%zu] FD %.12g vs %.12g (tol %.3g)", spec, i, fdh,
                 hv[i], htol);
    }
    /* symmetry wᵀ(Hv) = vᵀ(Hw) and Gauss-Newton choice symmetric PSD */
    double w[16], hw[16], gv[16], gw[16];
    ph_rng_fill_gauss(&r, w, n, 1.0);
    assert_int_equal(o->hvp(o->ctx, x, &b, w, hw, &err), PH_OK);
    double hn = ph_vec_nrm2(n, hv) + ph_vec_nrm2(n, hw);
    assert_true(fabs(ph_vec_dot(n, w, hv) - ph_vec_dot(n, v, hw)) <=
                64 * n * EPS * hn * ph_vec_nrm2(n, w));
    assert_non_null(o->ggnvp);
    assert_int_equal(o->ggnvp(o->ctx, x, &b, v, gv, &err), PH_OK);
    assert_int_equal(o->ggnvp(o->ctx, x, &b, w, gw, &err), PH_OK);
    double gn = ph_vec_nrm2(n, gv) + ph_vec_nrm2(n, gw) + 1;
    assert_true(fabs(ph_vec_dot(n, w, gv) - ph_vec_dot(n, v, gw)) <=
                1e3 * n * EPS * gn * ph_vec_nrm2(n, w));
    assert_true(ph_vec_dot(n, v, gv) >= -1e3 * n * EPS * gn);
  }
  ph_objective_free(o);
}

static void test_fd_all(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++)
    check_case(&CASES[k], NULL);
}

static void test_fd_noise(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++)
    check_case(&CASES[k], "noise=0.05,samples=9,seed=3");
}

/* A noisy toy's batch loss is the mean of the clean landscape at θ − ξ_i:
 * checked through the difference structure (batch of one example vs all). */
static void test_noise_batches(void **state) {
  (void)state;
  ph_error err = {0};
  ph_objective *o = NULL;
  ph_toy_create_str("pothole2d:noise=0.1,samples=5,seed=7", &o, &err);
  assert_non_null(o);
  ph_objective *clean = NULL;
  ph_toy_create_str("pothole2d", &clean, &err);
  assert_non_null(clean);
  assert_int_equal(o->n_examples[0], 5);
  assert_int_equal(clean->n_examples[0], 0);
  double x[2] = {1.3, 0.1}, f_all, f_i, sum = 0;
  assert_int_equal(o->loss_grad(o->ctx, x, NULL, &f_all, NULL, &err), PH_OK);
  for (size_t i = 0; i < 5; i++) {
    ph_batch b = {PH_SPLIT_TRAIN, &i, 1};
    assert_int_equal(o->loss_grad(o->ctx, x, &b, &f_i, NULL, &err), PH_OK);
    sum += f_i;
  }
  assert_true(fabs(sum / 5 - f_all) <= 16 * EPS * fabs(f_all) + 1e-15);
  /* ξ_i really shifts: ℓ_i differs from the clean loss */
  double fc;
  ph_toy_eval_clean(clean, x, &fc, NULL, NULL);
  assert_true(fabs(fc - f_all) > 1e-6);
  /* out-of-range index is rejected */
  size_t bad = 5;
  ph_batch bb = {PH_SPLIT_TRAIN, &bad, 1};
  assert_int_equal(o->loss_grad(o->ctx, x, &bb, &f_i, NULL, &err), PH_ERR_ARG);
  /* same seed, same sample; clone identical */
  ph_objective *o2;
  assert_int_equal(ph_objective_clone_create(o, &o2, &err), PH_OK);
  double f2;
  assert_int_equal(o2->loss_grad(o2->ctx, x, NULL, &f2, NULL, &err), PH_OK);
  assert_true(f2 == f_all);
  ph_objective_free(o2);
  ph_objective_free(o);
  ph_objective_free(clean);
}

static void test_spec_errors(void **state) {
  (void)state;
  ph_toy_spec s;
  ph_error err = {0};
  const char *bad[] = {"nope",
                       "pothole2d:z=1",
                       "pothole2d:a",
                       "pothole2d:s=0",
                       "quadratic:n=0",
                       "quadratic:n=2.5",
                       "rosenbrock:n=1",
                       "potholeNd:n=3,count=4",
                       "pothole2d:noise=-1",
                       "quadratic:lmin=2,lmax=1",
                       "pothole2d:a=abc",
                       ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&err, 0, sizeof err);
    if (ph_toy_spec_parse(bad[i], &s, &err) != PH_ERR_ARG)
      fail_msg("spec '%s' accepted", bad[i]);
    assert_true(strlen(err.msg) > 0);
  }
  assert_int_equal(ph_toy_spec_parse("pothole2d:s=0.2,d=1", &s, &err), PH_OK);
  assert_true(ph_toy_spec_get(&s, "sx") == 0.2);
  assert_true(ph_toy_spec_get(&s, "sy") == 0.2);
  assert_true(ph_toy_spec_get(&s, "d") == 1);
  assert_int_equal(s.n, 2);
  /* the canonical form parses back to the same spec */
  char buf[PH_TOY_SPEC_MAX];
  assert_int_equal(ph_toy_spec_parse("potholeNd:n=7,noise=0.01", &s, &err),
                   PH_OK);
  ph_toy_spec_format(&s, buf, sizeof buf);
  ph_toy_spec s2;
  assert_int_equal(ph_toy_spec_parse(buf, &s2, &err), PH_OK);
  assert_int_equal(s2.n, 7);
  assert_int_equal(s2.samples, 128);
  for (size_t i = 0; i < s.n_params; i++) assert_true(s.vals[i] == s2.vals[i]);
}

/* Closed forms: quadratic spectrum; Rosenbrock GN = H at the minimum;
 * |H| = H inside the pit; Himmelblau minimum value 0 at (3, 2). */
static void test_closed_forms(void **state) {
  (void)state;
  ph_error err = {0};
  ph_objective *q = NULL;
  ph_toy_create_str("quadratic:n=3,lmin=0.5,lmax=8", &q, &err);
  double x[3] = {1, 1, 1}, h[9], f;
  ph_toy_eval_clean(q, x, &f, NULL, h);
  double lam[3] = {0.5, 2, 8};
  for (int i = 0; i < 3; i++) assert_true(fabs(h[i * 4] - lam[i]) < 1e-14);
  assert_true(fabs(f - 0.5 * (0.5 + 2 + 8)) < 1e-14);
  ph_objective_free(q);

  ph_objective *rb = NULL;
  ph_toy_create_str("rosenbrock:n=3", &rb, &err);
  ph_toy_geometry g;
  assert_int_equal(ph_toy_geometry_get(rb, &g, &err), PH_OK);
  for (int i = 0; i < 3; i++) assert_true(fabs(g.basin[i] - 1) < 1e-12);
  double e[3], hv[3], gv[3];
  for (int j = 0; j < 3; j++) {
    memset(e, 0, sizeof e);
    e[j] = 1;
    rb->hvp(rb->ctx, g.basin, NULL, e, hv, &err);
    rb->ggnvp(rb->ctx, g.basin, NULL, e, gv, &err);
    for (int i = 0; i < 3; i++) assert_true(fabs(hv[i] - gv[i]) < 1e-9);
  }
  ph_toy_geometry_free(&g);
  ph_objective_free(rb);

  ph_objective *hb = NULL;
  ph_toy_create_str("himmelblau", &hb, &err);
  double m[2] = {3, 2}, gr[2];
  ph_toy_eval_clean(hb, m, &f, gr, NULL);
  assert_true(f == 0 && gr[0] == 0 && gr[1] == 0);
  ph_objective_free(hb);

  ph_objective *p = NULL;
  ph_toy_create_str("pothole2d", &p, &err);
  assert_int_equal(ph_toy_geometry_get(p, &g, &err), PH_OK);
  assert_true(g.has_pit);
  double hp[4];
  ph_toy_eval_clean(p, g.pit, &f, gr, hp);
  assert_true(hypot(gr[0], gr[1]) < 1e-12);
  /* pit curvature ≈ a + d/s² (the minimum sits within s²a·cx/d of c) */
  assert_true(hp[0] > 40 && hp[3] > 40);
  for (int j = 0; j < 2; j++) {
    double w[2] = {j == 0, j == 1};
    p->hvp(p->ctx, g.pit, NULL, w, hv, &err);
    p->ggnvp(p->ctx, g.pit, NULL, w, gv, &err);
    for (int i = 0; i < 2; i++)
      assert_true(fabs(hv[i] - gv[i]) < 1e-10 * fabs(hp[0]));
  }
  /* the default pit is shallower than the basin minimum at the origin */
  double f0;
  ph_toy_eval_clean(p, g.basin, &f0, NULL, NULL);
  assert_true(f > f0);
  ph_toy_geometry_free(&g);
  ph_objective_free(p);

  /* a pit too shallow to hold a minimum is reported */
  ph_objective *sh = NULL;
  ph_toy_create_str("pothole2d:d=0.05", &sh, &err);
  memset(&err, 0, sizeof err);
  assert_int_equal(ph_toy_geometry_get(sh, &g, &err), PH_ERR_NUMERIC);
  ph_objective_free(sh);
}

/* The documented defaults trap plain gradient descent (lr 0.01 < 2/λ_max)
 * and a large lr (5/λ_max) leaves the pit. Between 2/λ_max and ≈ 4/λ_max
 * GD does NOT leave: it settles on a period-2 orbit inside the pit, where
 * the Gaussian's curvature has dropped (docs/potholes.md). */
static void test_pit_traps_gd(void **state) {
  (void)state;
  ph_error err = {0};
  ph_objective *p = NULL;
  ph_toy_create_str("pothole2d", &p, &err);
  ph_toy_geometry g;
  assert_int_equal(ph_toy_geometry_get(p, &g, &err), PH_OK);
  double hp[4], f;
  ph_toy_eval_clean(p, g.pit, &f, NULL, hp);
  double lmax = 0.5 * (hp[0] + hp[3]) +
                sqrt(0.25 * (hp[0] - hp[3]) * (hp[0] - hp[3]) + hp[1] * hp[1]);
  const double lrs[2] = {0.01, 5.0 / lmax};
  for (int k = 0; k < 2; k++) {
    double x[2] = {g.pit[0] + 0.02, g.pit[1] - 0.02}, gr[2];
    for (int t = 0; t < 2000; t++) {
      ph_toy_eval_clean(p, x, &f, gr, NULL);
      x[0] -= lrs[k] * gr[0];
      x[1] -= lrs[k] * gr[1];
    }
    double dist = hypot(x[0] - g.pit[0], x[1] - g.pit[1]);
    if (k == 0)
      assert_true(dist < 1e-8);
    else
      assert_true(dist > 3 * g.scale);
  }
  ph_toy_geometry_free(&g);
  ph_objective_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fd_all),        cmocka_unit_test(test_fd_noise),
      cmocka_unit_test(test_noise_batches), cmocka_unit_test(test_spec_errors),
      cmocka_unit_test(test_closed_forms),  cmocka_unit_test(test_pit_traps_gd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
