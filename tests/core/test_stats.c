/* test_stats.c: src/core/stats against closed forms and published
 * quantiles: t with 1 and 2 degrees of freedom has a closed-form inverse
 * CDF; other t and normal quantiles are compared with the 6-digit
 * tabulated values (Abramowitz & Stegun tables 26.1 and 26.10); Wilson
 * intervals with values worked by hand; summaries and quantiles on small
 * hand-made samples. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "core/rng.h"
#include "core/stats.h"

/* Closed forms for the two-sided quantile at level L, p = (1 + L)/2:
 * dof 1 (Cauchy): tan(π(p − ½)); dof 2: (2p − 1)/√(2p(1 − p)). GSL's
 * inverse is iterated to ~1e-12 relative here, so 1e-10 is the bound. */
static void test_quantiles(void **state) {
  (void)state;
  const double levels[] = {0.5, 0.8, 0.9, 0.95, 0.99};
  for (size_t i = 0; i < 5; i++) {
    double p = 0.5 + 0.5 * levels[i];
    double t1 = tan(M_PI * (p - 0.5));
    double t2 = (2 * p - 1) / sqrt(2 * p * (1 - p));
    double g1 = ph_stats_t(levels[i], 1), g2 = ph_stats_t(levels[i], 2);
    if (fabs(g1 - t1) > 1e-10 * t1 || fabs(g2 - t2) > 1e-10 * t2)
      fail_msg("level %g: t1 %.15g vs %.15g, t2 %.15g vs %.15g", levels[i], g1,
               t1, g2, t2);
  }
  /* tabulated to 6 significant digits, hence 5e-6 */
  assert_true(fabs(ph_stats_z(0.95) - 1.959964) < 5e-6);
  assert_true(fabs(ph_stats_z(0.90) - 1.644854) < 5e-6);
  assert_true(fabs(ph_stats_z(0.99) - 2.575829) < 5e-6);
  assert_true(fabs(ph_stats_t(0.95, 4) - 2.776445) < 5e-6);
  assert_true(fabs(ph_stats_t(0.99, 10) - 3.169273) < 5e-6);
  assert_true(fabs(ph_stats_t(0.95, 30) - 2.042272) < 5e-6);
  /* t tends to the normal: at 1e6 dof they agree to O(1/dof) */
  assert_true(fabs(ph_stats_t(0.95, 1e6) - ph_stats_z(0.95)) < 1e-5);
  assert_true(isnan(ph_stats_z(1.0)) && isnan(ph_stats_z(0.0)));
  assert_true(isnan(ph_stats_t(0.95, 0)) && isnan(ph_stats_t(NAN, 3)));
}

/* Wilson 1927 with z = 1.96: p̃ = (k + z²/2)/(n + z²), half-width
 * z√(k(n−k)/n + z²/4)/(n + z²). By hand (z² = 3.8415):
 *   0/10:  [0, 3.8415/13.8415]                    = [0, 0.27753]
 *   5/10:  0.5 ± 1.96·√(2.5 + 0.96037)/13.8415    = [0.23659, 0.76341]
 *   10/10: [1 − 0.27753, 1]                       = [0.72247, 1]
 *   1/20:  (2.920730 ∓ 1.959964·√(0.95 + 0.960365))/23.841459
 *        = (2.920730 ∓ 2.708984)/23.841459        = [0.0088813, 0.236131]
 * The hand values carry 5 digits, hence the 2e-5 tolerance. */
static void test_wilson(void **state) {
  (void)state;
  struct {
    size_t k, n;
    double lo, hi;
  } cases[] = {{0, 10, 0.0, 0.27753},
               {5, 10, 0.23659, 0.76341},
               {10, 10, 0.72247, 1.0},
               {1, 20, 0.0088813, 0.236131}};
  for (size_t i = 0; i < 4; i++) {
    double lo, hi;
    ph_stats_wilson(cases[i].k, cases[i].n, 0.95, &lo, &hi);
    if (fabs(lo - cases[i].lo) > 2e-5 || fabs(hi - cases[i].hi) > 2e-5)
      fail_msg("wilson %zu/%zu: [%.6f, %.6f] vs [%.6f, %.6f]", cases[i].k,
               cases[i].n, lo, hi, cases[i].lo, cases[i].hi);
  }
  double lo, hi;
  ph_stats_wilson(0, 0, 0.95, &lo, &hi);
  assert_true(lo == 0 && hi == 1);
  /* a higher level gives a wider interval containing the narrower one */
  double lo99, hi99;
  ph_stats_wilson(5, 10, 0.99, &lo99, &hi99);
  ph_stats_wilson(5, 10, 0.95, &lo, &hi);
  assert_true(lo99 < lo && hi99 > hi);
}

/* {1, 2, 3, 4, 5} (stride 2 inside a padded array): mean 3, sd √2.5,
 * se √0.5, half-width t_{0.95,4}·√0.5 = 2.7764451·0.7071068 = 1.9632432. */
static void test_summarise(void **state) {
  (void)state;
  double x[] = {1, -9, 2, -9, 3, -9, 4, -9, 5};
  ph_stats_summary s = ph_stats_summarise(x, 2, 5, 0.95);
  assert_int_equal(s.n, 5);
  assert_true(fabs(s.mean - 3) < 1e-15);
  assert_true(fabs(s.sd - sqrt(2.5)) < 1e-14);
  assert_true(fabs(s.se - sqrt(0.5)) < 1e-14);
  assert_true(fabs(s.half - 1.9632432) < 1e-7);
  assert_true(fabs(s.lo - (3 - s.half)) < 1e-15 && s.hi == 3 + s.half);
  ph_stats_summary one = ph_stats_summarise(x, 1, 1, 0.95);
  assert_true(one.mean == 1 && isnan(one.sd) && isnan(one.lo));
  ph_stats_summary none = ph_stats_summarise(x, 1, 0, 0.95);
  assert_true(none.n == 0 && isnan(none.mean));
}

/* Welch. Equal sizes and variances reduce it to a closed form: {1..5}
 * and {3..7} have se² = 0.5 each, so ν = 1/(2·0.25/4) = 8 and the
 * half-width is t_{0.95,8}·1 = 2.306004 (A&S table 26.10, 6 digits). The
 * unequal case is scipy 1.10's stats.t.ppf(0.975, ν)·√(va + vb) with ν from
 * the same formula, printed to 9 digits (ν = 8.8634). */
static void test_welch(void **state) {
  (void)state;
  double a[] = {1, 2, 3, 4, 5}, b[] = {3, 4, 5, 6, 7}, d, h;
  ph_stats_welch(ph_stats_summarise(a, 1, 5, 0.95),
                 ph_stats_summarise(b, 1, 5, 0.95), 0.95, &d, &h);
  assert_true(fabs(d + 2) < 1e-15);
  assert_true(fabs(h - 2.306004) < 5e-6);
  double u[] = {0.9805, 0.9777, 0.9694, 0.9749, 0.9721};
  double v[] = {0.9666, 0.9610, 0.9700, 0.9750, 0.9582, 0.9640};
  ph_stats_welch(ph_stats_summarise(u, 1, 5, 0.95),
                 ph_stats_summarise(v, 1, 6, 0.95), 0.95, &d, &h);
  assert_true(fabs(d - 0.00912) < 1e-12);
  assert_true(fabs(h - 0.00720489229) < 1e-10);
  /* no spread: an exact difference; one value: no interval */
  double c[] = {2, 2, 2};
  ph_stats_welch(ph_stats_summarise(c, 1, 3, 0.95),
                 ph_stats_summarise(c, 1, 3, 0.95), 0.95, &d, &h);
  assert_true(d == 0 && h == 0);
  ph_stats_welch(ph_stats_summarise(a, 1, 5, 0.95),
                 ph_stats_summarise(b, 1, 1, 0.95), 0.95, &d, &h);
  assert_true(isnan(h));
}

/* The selection-based quantile equals GSL's sorted-data quantile
 * (the same interpolation rule) exactly, on random data with ties. */
static void test_quantile(void **state) {
  (void)state;
  double h[] = {5, 1, 4, 2, 3};
  /* (n-1)q = 1.2: x(1) + 0.2·(x(2) − x(1)) = 2.2 */
  assert_true(fabs(ph_stats_quantile_inplace(h, 5, 0.3) - 2.2) < 1e-15);
  enum { N = 257 };
  double x[N], y[N];
  ph_rng r = ph_rng_make(3, 0);
  for (size_t trial = 0; trial < 20; trial++) {
    ph_rng_fill_gauss(&r, x, N, 1.0);
    for (size_t i = 0; i < N; i += 7) x[i] = x[0]; /* ties */
    memcpy(y, x, sizeof x);
    gsl_sort(y, 1, N);
    double q = (double)trial / 19.0;
    double want = gsl_stats_quantile_from_sorted_data(y, 1, N, q);
    double got = ph_stats_quantile_inplace(x, N, q);
    if (got != want) fail_msg("q=%g: %.17g vs %.17g", q, got, want);
  }
  assert_true(isnan(ph_stats_quantile_inplace(x, 0, 0.5)));
  assert_true(isnan(ph_stats_quantile_inplace(x, N, 1.5)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quantiles), cmocka_unit_test(test_wilson),
      cmocka_unit_test(test_summarise), cmocka_unit_test(test_quantile),
      cmocka_unit_test(test_welch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
