/* test_sharpness.c: the sharpness suite on cases with closed forms.
 *
 * On a quadratic L = ½θᵀΛθ (Λ diagonal) with a diagonal P every quantity
 * is known exactly: eigenvalues, generalised eigenpairs (μ_i = λ_i p_i,
 * v = e_i), κ_loc = λ_i, κ_avg = 1/p_i; the SAM maximum is a trust-region
 * problem solved by the secular equation; the antithetic average
 * sharpness is ½ξᵀΛξ per pair; and g(θ+ε) = g + Λε exactly, so the escape
 * signals have closed forms too (and the correction-to-drift ratio equals
 * the first-order prediction p_v‖g‖/‖Pg‖ exactly).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/json.h"
#include "core/vec.h"
#include "potholes/sharpness.h"
#include "potholes/toys.h"

#define EPS 2.220446049250313e-16
#define N 6

/* quadratic:n=6,lmin=0.25,lmax=8 -> λ_i = 0.25·32^{i/5} */
static const char *QSPEC = "quadratic:n=6,lmin=0.25,lmax=8";
static double lam(int i) {
  return 0.25 * pow(32.0, i / 5.0);
}
static const double PD[N] = {3.0, 0.2, 1.5, 0.1, 0.7, 0.05};

static void test_eigs_dense_and_lanczos(void **state) {
  (void)state;
  ph_error err = {0};
  ph_objective *o = NULL;
  ph_toy_create_str(QSPEC, &o, &err);
  double th[N] = {0.3, -1, 2, 0.1, 0, 1}, vals[3], vecs[3 * N], lmin;
  for (int dense = 1; dense >= 0; dense--) {
    size_t prods = 0;
    assert_int_equal(ph_sharpness_eigs(o, th, NULL, NULL, 3, 1, dense ? 64 : 0,
                                       vals, vecs, &lmin, &prods, &err),
                     PH_OK);
    for (int j = 0; j < 3; j++) {
      double tol = dense ? 8 * N * EPS * lam(N - 1) : 1e-7 * lam(N - 1);
      assert_true(fabs(vals[j] - lam(N - 1 - j)) <= tol);
      /* eigenvector e_{n-1-j} */
      assert_true(fabs(fabs(vecs[j * N + (N - 1 - j)]) - 1) <= 1e-6);
    }
    if (dense) {
      assert_true(fabs(lmin - lam(0)) <= 8 * N * EPS * lam(N - 1));
      assert_int_equal(prods, N);
    } else {
      assert_true(isnan(lmin));
    }
  }
  ph_objective_free(o);
}

static void test_generalised_pairs(void **state) {
  (void)state;
  ph_error err = {0};
  ph_objective *o = NULL;
  ph_toy_create_str(QSPEC, &o, &err);
  ph_geom P;
  ph_geom_init_diag(&P, N, PD);
  double th[N] = {0};
  ph_pothole_dir d[N];
  double v[N * N];
  /* closed form: μ_i = λ_i p_i, sorted descending */
  double mu[N];
  int order[N];
  for (int i = 0; i < N; i++) mu[i] = lam(i) * PD[i], order[i] = i;
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++)
      if (mu[order[j]] > mu[order[i]]) {
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
  for (int dense = 1; dense >= 0; dense--) {
    size_t k = dense ? N : 3;
    assert_int_equal(ph_sharpness_directions(o, th, NULL, &P, k, 3,
                                             dense ? 64 : 0, d, v, &err),
                     PH_OK);
    double tol = dense ? 64 * EPS : 1e-7;
    for (size_t j = 0; j < k; j++) {
      int i = order[j];
      double m = mu[i];
      assert_true(fabs(d[j].mu - m) <= tol * mu[order[0]]);
      assert_true(fabs(d[j].kappa_loc - lam(i)) <= tol * lam(N - 1) * 4);
      assert_true(fabs(d[j].kappa_avg - 1 / PD[i]) <= tol * 4 / PD[i]);
      assert_true(fabs(d[j].pi - m) <= tol * 4 * mu[order[0]]);
      assert_true(fabs(fabs(v[j * N + i]) - 1) <= 1e-6);
    }
  }
  /* π of an arbitrary direction: (Σλ_i v_i²)/(Σ v_i²/p_i) */
  double u[N] = {1, 2, -1, 0.5, 0, 3}, num = 0, den = 0;
  for (int i = 0; i < N; i++)
    num += lam(i) * u[i] * u[i], den += u[i] * u[i] / PD[i];
  ph_pothole_dir one;
  assert_int_equal(ph_sharpness_pothole_ratio(o, th, NULL, &P, u, &one, &err),
                   PH_OK);
  assert_true(fabs(one.pi - num / den) <= 16 * EPS * num / den);
  ph_objective_free(o);
}

/* Exact max of gᵀε + ½εᵀΛε over ‖ε‖ ≤ ρ (Λ diagonal, λ_max > 0):
 * boundary solution ε_i = g_i/(μ − λ_i), μ > λ_max, ‖ε(μ)‖ = ρ. */
static double trust_region_max(const double *g, const double *l, int n,
                               double rho) {
  double lmax = l[0];
  for (int i = 1; i < n; i++) lmax = fmax(lmax, l[i]);
  double lo = lmax, hi = lmax + 1;
  double gn = 0;
  for (int i = 0; i < n; i++) gn += g[i] * g[i];
  hi = lmax + sqrt(gn) / rho + 1;
  for (int it = 0; it < 200; it++) {
    double mid = 0.5 * (lo + hi), s = 0;
    for (int i = 0; i < n; i++) s += pow(g[i] / (mid - l[i]), 2);
    if (sqrt(s) > rho)
      lo = mid;
    else
      hi = mid;
  }
  double val = 0;
  for (int i = 0; i < n; i++) {
    double e = g[i] / (hi - l[i]);
    val += g[i] * e + 0.5 * l[i] * e * e;
  }
  return val;
}

static void test_sam_closed_forms(void **state) {
  (void)state;
  ph_error err = {0};
  ph_objective *o = NULL;
  ph_toy_create_str(QSPEC, &o, &err);
  double rho = 0.05, val, l[N];
  for (int i = 0; i < N; i++) l[i] = lam(i);
  /* (a) g ∥ top eigenvector: exactly ρ‖g‖ + ρ²λ_max/2 after one step */
  double th[N] = {0, 0, 0, 0, 0, 0.4};
  assert_int_equal(ph_sharpness_sam(o, th, NULL, NULL, rho, 20, 0, &val, &err),
                   PH_OK);
  double gn = l[N - 1] * 0.4, exact = rho * gn + 0.5 * rho * rho * l[N - 1];
  assert_true(fabs(val - exact) <= 16 * EPS * (1 + exact));
  /* (b) g = 0: ρ²λ_max/2; the ascent is a power iteration with ratio
   * λ_2/λ_1 = 32^{-1/5} per step, so after 20 steps the deficit is at most
   * ρ²λ_1/2 · (λ_2/λ_1)^{40} · (c_max/c_1)², with the seeded start's
   * components bounded by a factor 30 here. */
  double zero[N] = {0};
  assert_int_equal(
      ph_sharpness_sam(o, zero, NULL, NULL, rho, 20, 5, &val, &err), PH_OK);
  exact = 0.5 * rho * rho * l[N - 1];
  assert_true(val <= exact * (1 + 16 * EPS));
  assert_true(exact - val <= exact * pow(l[N - 2] / l[N - 1], 40) * 900);
  /* (c) general g: the trust-region solution */
  double th2[N] = {0.3, -0.2, 0.5, 0.1, -0.05, 0.02}, g[N];
  for (int i = 0; i < N; i++) g[i] = l[i] * th2[i];
  assert_int_equal(ph_sharpness_sam(o, th2, NULL, NULL, rho, 20, 0, &val, &err),
                   PH_OK);
  exact = trust_region_max(g, l, N, rho);
  assert_true(val <= exact * (1 + 64 * EPS));
  assert_true(val >= exact * (1 - 1e-6));
  /* (d) ellipsoid εᵀP⁻¹ε ≤ ρ² = ball ‖z‖ ≤ ρ in ε = P^{1/2}z: the same
   * trust region with g̃ = P^{1/2}g, Λ̃ = PΛ. */
  ph_geom P;
  ph_geom_init_diag(&P, N, PD);
  double gt[N], lt[N];
  for (int i = 0; i < N; i++) gt[i] = sqrt(PD[i]) * g[i], lt[i] = PD[i] * l[i];
  assert_int_equal(ph_sharpness_sam(o, th2, NULL, &P, rho, 20, 0, &val, &err),
                   PH_OK);
  exact = trust_region_max(gt, lt, N, rho);
  assert_true(val <= exact * (1 + 64 * EPS));
  assert_true(val >= exact * (1 - 1e-6));
  ph_objective_free(o);
}

static void test_average_sharpness(void **state) {
  (void)state;
  ph_error err = {0};
  ph_objective *o = NULL;
  ph_toy_create_str(QSPEC, &o, &err);
  double th[N] = {1, 1, 1, 1, 1, 1}, mean, se, sigma = 0.1, tr = 0, tr2 = 0;
  for (int i = 0; i < N; i++) tr += lam(i), tr2 += lam(i) * lam(i);
  size_t pairs = 400;
  assert_int_equal(
      ph_sharpness_average(o, th, NULL, sigma, pairs, 9, &mean, &se, &err),
      PH_OK);
  double exact = 0.5 * sigma * sigma * tr;
  /* per pair ½ξᵀΛξ: variance σ⁴Σλ²/2 */
  double se_true = sqrt(pow(sigma, 4) * tr2 / 2 / (double)pairs);
  assert_true(fabs(mean - exact) <= 4 * se_true);
  assert_true(fabs(se / se_true - 1) < 0.25); /* 400 pairs: se of se ~ 5 % */
  /* reproducible from the seed, different for another seed */
  double m2, s2;
  ph_sharpness_average(o, th, NULL, sigma, pairs, 9, &m2, &s2, &err);
  assert_true(m2 == mean && s2 == se);
  ph_sharpness_average(o, th, NULL, sigma, pairs, 10, &m2, &s2, &err);
  assert_true(m2 != mean);
  ph_objective_free(o);
}

static void test_escape_signal_quadratic(void **state) {
  (void)state;
  ph_error err = {0};
  ph_objective *o = NULL;
  ph_toy_create_str(QSPEC, &o, &err);
  ph_geom P;
  ph_geom_init_diag(&P, N, PD);
  double th[N] = {0.3, -0.2, 0.5, 0.1, -0.05, 0.02}, g[N], l[N], rho = 0.1;
  for (int i = 0; i < N; i++) l[i] = lam(i), g[i] = l[i] * th[i];
  double gn = 0, pgn = 0;
  for (int i = 0; i < N; i++) gn += g[i] * g[i], pgn += pow(PD[i] * g[i], 2);
  gn = sqrt(gn), pgn = sqrt(pgn);
  /* updates: Δ¹_SAM = −(g + ρΛg/‖g‖), Δ¹_LLQR = −P(g + ρΛPg/‖Pg‖) */
  double n1 = 0, n2 = 0;
  for (int i = 0; i < N; i++) {
    n1 += pow(g[i] + rho * l[i] * g[i] / gn, 2);
    n2 += pow(PD[i] * (g[i] + rho * l[i] * PD[i] * g[i] / pgn), 2);
  }
  n1 = sqrt(n1), n2 = sqrt(n2);
  for (int i = 0; i < N; i++) {
    double v[N] = {0};
    v[i] = 1;
    ph_escape_sig s;
    assert_int_equal(ph_escape_signal(o, th, NULL, &P, rho, v, &s, &err),
                     PH_OK);
    double s_sam = -rho * l[i] * g[i] / gn / n1;
    double s_llqr = -rho * PD[i] * l[i] * PD[i] * g[i] / pgn / n2;
    double tol = 1e-9; /* differences of gradients: cancellation ~ε‖g‖/ρλ */
    assert_true(fabs(s.s_sam - s_sam) <= tol * fabs(s_sam) + 1e-13);
    assert_true(fabs(s.s_llqr - s_llqr) <= tol * fabs(s_llqr) + 1e-13);
    assert_true(fabs(s.amplification - s_llqr / s_sam) <=
                1e-8 * fabs(s_llqr / s_sam));
    double pred = PD[i] * gn / pgn;
    assert_true(fabs(s.predicted - pred) <= 16 * EPS * pred);
    /* exact on a quadratic: correction-to-drift ratio = p_v‖g‖/‖Pg‖ */
    assert_true(fabs(s.drift_ratio - pred) <= 1e-8 * pred);
  }
  ph_objective_free(o);
}

/* potholeNd at its pit with the fitted P = diag(1/λ̄): π_j = H_jj λ̄_j⁻¹
 * (H diagonal, closed form from the clean Hessian), and the suite's JSON. */
static void test_suite_pothole_nd(void **state) {
  (void)state;
  ph_error err = {0};
  ph_objective *o = NULL;
  ph_toy_create_str("potholeNd:n=8,count=2", &o, &err);
  ph_toy_geometry geo;
  assert_int_equal(ph_toy_geometry_get(o, &geo, &err), PH_OK);
  double lb[8], p[8], h[64];
  assert_int_equal(ph_toy_basin_curvature(o, lb, &err), PH_OK);
  for (int i = 0; i < 8; i++) p[i] = 1 / lb[i];
  ph_toy_eval_clean(o, geo.pit, NULL, NULL, h);
  ph_geom P;
  ph_geom_init_diag(&P, 8, p);
  ph_sharpness_config cfg = ph_sharpness_config_default();
  cfg.k = 3;
  /* step a little off the pit minimum so g ≠ 0 */
  double th[8];
  memcpy(th, geo.pit, sizeof th);
  th[0] += 0.01, th[5] += 0.01;
  ph_toy_eval_clean(o, th, NULL, NULL, h);
  ph_sharpness_result r;
  assert_int_equal(ph_sharpness_run(o, th, NULL, &P, &cfg, &r, &err), PH_OK);
  /* the two pit coordinates have the largest π, then coordinate 2.. */
  double pi0 = h[0] / lb[0], pi1 = h[9] / lb[1];
  double hi = fmax(pi0, pi1), lo = fmin(pi0, pi1);
  assert_true(fabs(r.dirs[0].pi - hi) <= 1e-10 * hi);
  assert_true(fabs(r.dirs[1].pi - lo) <= 1e-10 * hi);
  assert_true(hi > 10); /* a pothole: sharp here, flat on average */
  assert_true(r.sam_ellipsoid > 0 && r.sam_euclidean > 0);
  double lmax = 0;
  for (int i = 0; i < 8; i++) lmax = fmax(lmax, h[i * 9]);
  assert_true(fabs(r.lambda_max - lmax) <= 1e-10 * lmax);
  cJSON *j = cJSON_CreateObject();
  assert_int_equal(ph_sharpness_to_json(&r, &cfg, j, &err), PH_OK);
  assert_non_null(cJSON_GetObjectItem(j, "directions"));
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "directions")), 3);
  assert_non_null(cJSON_GetObjectItem(j, "sam_sharpness"));
  cJSON_Delete(j);
  ph_sharpness_result_free(&r);
  ph_toy_geometry_free(&geo);
  ph_objective_free(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_eigs_dense_and_lanczos),
      cmocka_unit_test(test_generalised_pairs),
      cmocka_unit_test(test_sam_closed_forms),
      cmocka_unit_test(test_average_sharpness),
      cmocka_unit_test(test_escape_signal_quadratic),
      cmocka_unit_test(test_suite_pothole_nd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
