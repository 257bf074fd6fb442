/* test_escape.c: escape
 * experiments reproducible from the seed, the escape criterion on cases
 * whose outcome is known, and the builtin steppers against hand-rolled
 * updates. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/afile.h"
#include "potholes/have.h"
#include "potholes/escape.h"
#include "potholes/toys.h"

static ph_escape_config small_cfg(void) {
  ph_escape_config c = ph_escape_config_default();
  snprintf(c.landscape, sizeof c.landscape,
           "pothole2d:a=0.2,b=0.2,cx=2.5,noise=0.02,samples=64");
  c.seeds = 24;
  c.steps = 300;
  c.backend = PH_BACKEND_BUILTIN;
  return c;
}

static char *slurp(const char *path) {
  unsigned char *d = NULL;
  size_t len;
  if (ph_read_file(path, &d, &len, NULL) != PH_OK) return NULL;
  return (char *)d;
}

static void test_reproducible(void **state) {
  (void)state;
  ph_error err = {0};
  char tmpl[] = "/tmp/ph_escape_XXXXXX";
  char *root = mkdtemp(tmpl);
  assert_non_null(root);
  char dirs[3][256], path[300];
  char *csv[3];
  uint64_t seeds[3] = {5, 5, 6};
  for (int r = 0; r < 3; r++) {
    ph_escape_config c = small_cfg();
    c.seed = seeds[r];
    ph_escape_result res;
    assert_int_equal(ph_escape_run(&c, &res, &err), PH_OK);
    snprintf(dirs[r], sizeof dirs[r], "%s/run%d", root, r);
    assert_int_equal(ph_escape_write(&c, &res, NULL, dirs[r], &err), PH_OK);
    ph_escape_result_free(&res);
    snprintf(path, sizeof path, "%s/escape.csv", dirs[r]);
    csv[r] = slurp(path);
    assert_non_null(csv[r]);
    snprintf(path, sizeof path, "%s/toy.json", dirs[r]);
    assert_true(ph_path_exists(path));
    snprintf(path, sizeof path, "%s/trajectories/llqr-sam.npy", dirs[r]);
    assert_true(ph_path_exists(path));
  }
  assert_string_equal(csv[0], csv[1]);      /* same seed: identical */
  assert_true(strcmp(csv[0], csv[2]) != 0); /* another seed: differs */
  for (int r = 0; r < 3; r++) free(csv[r]);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  assert_int_equal(system(cmd), 0);
}

/* Known outcomes. (a) Plain GD (sgd, lr 0.01 < 2/λ_pit) started in the
 * default pit never leaves it; GD with lr = 0.1 (λ_pit·lr ≈ 5, beyond the
 * period-2 window) always does. (b) No pit (d = 0): every optimiser,
 * LLQR+SAM included, stays in the wide basin it starts in (the stability
 * check): with P = diag(1/0.2), lr·P·a = 0.09 < 2 and the SAM correction
 * is bounded by lr·ρ·P·a. */
static void test_known_outcomes(void **state) {
  (void)state;
  ph_error err = {0};
  ph_escape_config c = ph_escape_config_default();
  snprintf(c.landscape, sizeof c.landscape, "pothole2d");
  c.seeds = 10;
  c.steps = 500;
  c.backend = PH_BACKEND_BUILTIN;
  ph_escape_parse_opts(&c, "sgd", &err);
  c.lr = 0.01;
  ph_escape_result r;
  assert_int_equal(ph_escape_run(&c, &r, &err), PH_OK);
  assert_int_equal(r.rows[0].escaped, 0);
  assert_true(isnan(r.rows[0].median_escape_step));
  ph_escape_result_free(&r);
  c.lr = 0.1;
  assert_int_equal(ph_escape_run(&c, &r, &err), PH_OK);
  assert_int_equal(r.rows[0].escaped, 10);
  assert_true(r.rows[0].median_escape_step >= 1);
  ph_escape_result_free(&r);

  ph_escape_config s = ph_escape_config_default();
  snprintf(s.landscape, sizeof s.landscape, "pothole2d:a=0.2,b=0.2,d=0");
  s.start = PH_START_BASIN;
  s.seeds = 20;
  s.steps = 2000;
  s.backend = PH_BACKEND_BUILTIN;
  assert_int_equal(ph_escape_run(&s, &r, &err), PH_OK);
  assert_false(r.has_pit);
  for (size_t k = 0; k < r.n_rows; k++) {
    if (r.rows[k].escaped != 0)
      fail_msg("%s left the wide basin", r.rows[k].opt);
    assert_true(r.rows[k].final_dist_mean < r.radius);
  }
  ph_escape_result_free(&r);
}

/* The builtin llqr-sam stepper against a hand-rolled update on a
 * quadratic, via its recorded trajectory: θ' = θ − η P ∇L(θ + ρPg/‖Pg‖). */
static void test_builtin_step(void **state) {
  (void)state;
  ph_error err = {0};
  ph_escape_config c = ph_escape_config_default();
  snprintf(c.landscape, sizeof c.landscape, "quadratic:n=2,lmin=0.5,lmax=2");
  ph_escape_parse_opts(&c, "llqr-sam", &err);
  c.start = PH_START_POINT;
  c.point[0] = 1, c.point[1] = -1;
  c.jitter = 0;
  c.seeds = 1;
  c.steps = 3;
  c.lr = 0.1;
  c.rho = 0.2;
  c.n_traj = 1;
  c.backend = PH_BACKEND_BUILTIN;
  ph_escape_result r;
  assert_int_equal(ph_escape_run(&c, &r, &err), PH_OK);
  double th[2] = {1, -1}, lam[2] = {0.5, 2}, p[2] = {2, 0.5};
  for (int t = 1; t <= 3; t++) {
    double pg[2], x[2];
    for (int i = 0; i < 2; i++) pg[i] = p[i] * lam[i] * th[i];
    double nr = hypot(pg[0], pg[1]);
    for (int i = 0; i < 2; i++) x[i] = th[i] + 0.2 * pg[i] / (nr + 1e-12);
    for (int i = 0; i < 2; i++) th[i] -= 0.1 * p[i] * lam[i] * x[i];
    for (int i = 0; i < 2; i++)
      assert_true(fabs(r.rows[0].traj[t * 2 + i] - th[i]) <= 1e-15);
  }
  ph_escape_result_free(&r);
}

/* The amplification sweep runs on potholeNd and is monotone where the
 * closed form says so: π grows with depth (π ≈ 1 + depth/(width²λ_1)). */
static void test_sweep(void **state) {
  (void)state;
  ph_error err = {0};
  ph_escape_config c = ph_escape_config_default();
  snprintf(c.landscape, sizeof c.landscape, "potholeNd:n=6");
  c.seeds = 10;
  c.backend = PH_BACKEND_BUILTIN;
  double v[3] = {0.25, 0.5, 1};
  ph_amp_row rows[3];
  assert_int_equal(ph_amp_sweep(&c, "depth", v, 3, rows, 0, &err), PH_OK);
  for (int i = 0; i < 3; i++) {
    /* The interval is a Student-t interval over the 10 jittered points:
     * mean ± t·s/√10, so it is symmetric about the measured mean up to
     * rounding (a few ulps of the mean), and not empty, since the jitter
     * gives every point its own amplification. */
    double m = rows[i].measured, lo = rows[i].ci_lo, hi = rows[i].ci_hi;
    assert_true(isfinite(lo) && isfinite(hi) && lo < m && m < hi);
    assert_true(fabs((hi - m) - (m - lo)) <= 1e-12 * fabs(m));
    /* π at the pit minimum: (λ_1 + depth·h(u)/w²)/λ_1, h ≤ 1 */
    assert_true(rows[i].pi <= 1 + v[i] / (0.01 * 0.5) + 1e-9);
    if (i) assert_true(rows[i].pi > rows[i - 1].pi);
  }
  assert_int_equal(ph_amp_sweep(&c, "height", v, 3, rows, 0, &err), PH_ERR_ARG);
  snprintf(c.landscape, sizeof c.landscape, "pothole2d");
  assert_int_equal(ph_amp_sweep(&c, "depth", v, 3, rows, 0, &err), PH_ERR_ARG);
}

/* Cross-check: the optim backend's sgd and sam against the builtin
 * reference on a deterministic quadratic (no chaos to amplify rounding):
 * same starts, same formulas, trajectories equal to ~1e-12. */
static void test_optim_matches_builtin(void **state) {
  (void)state;
#if PH_POTHOLES_HAVE_OPTIM
  ph_error err = {0};
  ph_escape_config c = ph_escape_config_default();
  snprintf(c.landscape, sizeof c.landscape, "quadratic:n=3,lmin=0.5,lmax=4");
  ph_escape_parse_opts(&c, "sgd,sam", &err);
  c.start = PH_START_RANDOM;
  c.seeds = 2;
  c.steps = 50;
  c.lr = 0.05;
  c.n_traj = 2;
  ph_escape_result a, b;
  c.backend = PH_BACKEND_BUILTIN;
  assert_int_equal(ph_escape_run(&c, &a, &err), PH_OK);
  c.backend = PH_BACKEND_OPTIM;
  if (ph_escape_run(&c, &b, &err) != PH_OK)
    fail_msg("optim backend: %s", err.msg);
  for (size_t k = 0; k < 2; k++)
    for (size_t i = 0; i < 2 * 51 * 3; i++) {
      double x = a.rows[k].traj[i], y = b.rows[k].traj[i];
      if (fabs(x - y) > 1e-12 * (1 + fabs(x)))
        fail_msg("%s: builtin %.17g vs optim %.17g at %zu", a.rows[k].opt, x, y,
                 i);
    }
  ph_escape_result_free(&a);
  ph_escape_result_free(&b);
#else
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reproducible),
      cmocka_unit_test(test_known_outcomes),
      cmocka_unit_test(test_builtin_step),
      cmocka_unit_test(test_sweep),
      cmocka_unit_test(test_optim_matches_builtin),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
