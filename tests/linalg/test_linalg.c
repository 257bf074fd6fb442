/* test_linalg.c: Lanczos, power iteration, SLQ, Hutchinson, the dense
 * reference and the operators, against matrices with known spectra.
 *
 * Large cases use A = Q D Qᵀ with Q a product of two Householder
 * reflections (O(n) per product, n = 10⁴); small ones a dense Q from the QR
 * factorisation of a Gaussian matrix. Tolerances come from the mathematics:
 * n·ε·‖A‖ for rounding, the residual bound r (|θ − λ| ≤ r, and ≤ r²/gap),
 * and standard errors computed from the true matrix for the stochastic
 * estimators.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cblas.h>
#include <lapacke.h>

#include "core/pool.h"
#include "core/rng.h"
#include "core/vec.h"
#include "linalg/lanczos.h"
#include "linalg/operators.h"
#include "linalg/slq.h"

/* ---- structured operator: A = H1 H2 D H2 H1, H_i = I − 2 u_i u_iᵀ ---- */
typedef struct {
  size_t n;
  double *d, *u1, *u2, *tmp;
} hh_op;

static void reflect(size_t n, const double *u, double *x) {
  ph_vec_axpy(n, -2.0 * ph_vec_dot(n, u, x), u, x);
}

static ph_status hh_apply(void *ctx, const double *v, double *out,
                          ph_error *err) {
  (void)err;
  hh_op *h = ctx;
  size_t n = h->n;
  memcpy(out, v, n * sizeof(double));
  reflect(n, h->u1, out);
  reflect(n, h->u2, out);
  for (size_t i = 0; i < n; i++) out[i] *= h->d[i];
  reflect(n, h->u2, out);
  reflect(n, h->u1, out);
  return PH_OK;
}

static void hh_init(hh_op *h, size_t n, const double *d, uint64_t seed) {
  h->n = n;
  h->d = malloc(n * sizeof(double));
  h->u1 = malloc(n * sizeof(double));
  h->u2 = malloc(n * sizeof(double));
  memcpy(h->d, d, n * sizeof(double));
  ph_rng r = ph_rng_make(seed, PH_RNG_STREAM_USER);
  ph_rng_fill_gauss(&r, h->u1, n, 1.0);
  ph_rng_fill_gauss(&r, h->u2, n, 1.0);
  ph_vec_scal(n, 1.0 / ph_vec_nrm2(n, h->u1), h->u1);
  ph_vec_scal(n, 1.0 / ph_vec_nrm2(n, h->u2), h->u2);
}

static void hh_free(hh_op *h) {
  free(h->d);
  free(h->u1);
  free(h->u2);
}

static ph_linop hh_linop(hh_op *h) {
  ph_linop l = {h->n, h, hh_apply, 0, NULL};
  return l;
}

static int cmp_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

/* Checks every returned pair of a result against the sorted-descending true
 * spectrum `lam_desc` and its expected values `expect` (k entries):
 * eigenvalue error ≤ min(r, r²/gap) + n ε ‖A‖ and ≤ 1e-8 relative, true
 * residual ≤ reported bound + n ε ‖A‖, bound ≤ tol|θ| (converged), and
 * orthonormal eigenvectors to n ε. */
static void check_pairs(ph_linop *a, const ph_eig_result *r,
                        const double *expect, size_t k, const double *lam_desc,
                        size_t n, double tol) {
  double anorm = fmax(fabs(lam_desc[0]), fabs(lam_desc[n - 1]));
  double rnd = (double)n * DBL_EPSILON * anorm;
  assert_int_equal(r->k, k);
  assert_true(r->all_converged);
  double *av = malloc(n * sizeof(double));
  for (size_t q = 0; q < k; q++) {
    double th = r->values[q], lam = expect[q];
    /* gap: distance from lam to the nearest different eigenvalue */
    double gap = INFINITY;
    for (size_t i = 0; i < n; i++)
      if (fabs(lam_desc[i] - lam) > 1e-12 * anorm)
        gap = fmin(gap, fabs(lam_desc[i] - lam));
    double bnd = r->bounds[q];
    double allowed = fmin(bnd, bnd * bnd / gap) + rnd;
    if (fabs(th - lam) > allowed || fabs(th - lam) > 1e-8 * fabs(lam))
      fail_msg("pair %zu: theta %.17g vs lambda %.17g (bound %g, gap %g)", q,
               th, lam, bnd, gap);
    assert_true(r->converged[q]);
    assert_true(bnd <= fmax(tol * fabs(th),
                            10 * sqrt((double)n) * DBL_EPSILON * anorm));
    if (r->vectors) {
      const double *y = r->vectors + q * n;
      ph_error err = {0};
      ph_linop_apply(a, y, av, &err);
      ph_vec_axpy(n, -th, y, av);
      double res = ph_vec_nrm2(n, av);
      if (res > bnd + rnd)
        fail_msg("pair %zu: true residual %g > bound %g + %g", q, res, bnd,
                 rnd);
      for (size_t p = 0; p <= q; p++) {
        double d = ph_vec_dot(n, y, r->vectors + p * n) - (p == q);
        if (fabs(d) > (double)n * DBL_EPSILON)
          fail_msg("vectors %zu,%zu: <y_p, y_q> - delta = %g", p, q, d);
      }
    }
  }
  free(av);
}

/* Spectrum for the large tests: a clustered top, a bulk, optional negatives. */
static void run_lanczos_case(const double *d, size_t n, ph_eig_which which,
                             size_t k, const double *expect, size_t nexp) {
  hh_op h;
  hh_init(&h, n, d, 42);
  ph_linop a = hh_linop(&h);
  double *lam = malloc(n * sizeof(double));
  memcpy(lam, d, n * sizeof(double));
  qsort(lam, n, sizeof(double), cmp_desc);
  ph_eig_config cfg = ph_eig_config_default();
  cfg.k = k;
  cfg.which = which;
  cfg.want_vectors = 1;
  cfg.seed = 7;
  ph_eig_result r;
  ph_error err = {0};
  assert_int_equal(ph_lanczos_run(&a, &cfg, NULL, &r, &err), PH_OK);
  assert_int_equal(r.products, a.n_applies);
  check_pairs(&a, &r, expect, nexp, lam, n, cfg.tol);
  ph_eig_result_free(&r);
  free(lam);
  hh_free(&h);
}

#define NBIG 10000

static void test_lanczos_clustered_top(void **state) {
  (void)state;
  double *d = malloc(NBIG * sizeof(double));
  /* bulk in [0, 1], clustered top 10, 9.99, 9.98, 9.97, 9.96, then 5 */
  for (size_t i = 0; i < NBIG; i++) d[i] = (double)i / NBIG;
  double top[6] = {10, 9.99, 9.98, 9.97, 9.96, 5};
  for (size_t i = 0; i < 6; i++) d[(i * 3571) % NBIG] = top[i];
  run_lanczos_case(d, NBIG, PH_EIG_TOP, 5, top, 5);
  free(d);
}

static void test_lanczos_repeated(void **state) {
  (void)state;
  double *d = malloc(NBIG * sizeof(double));
  for (size_t i = 0; i < NBIG; i++) d[i] = 2.0 * (double)i / NBIG - 1.0;
  /* 4 is a triple eigenvalue, 3 a double one */
  double top[5] = {4, 4, 4, 3, 3};
  for (size_t i = 0; i < 5; i++) d[(i * 7919 + 11) % NBIG] = top[i];
  run_lanczos_case(d, NBIG, PH_EIG_TOP, 5, top, 5);
  free(d);
}

static void test_lanczos_both_ends(void **state) {
  (void)state;
  double *d = malloc(NBIG * sizeof(double));
  for (size_t i = 0; i < NBIG; i++)
    d[i] = sin((double)i) * 0.5; /* (-0.5,0.5) */
  double ext[6] = {6, 5, 4.5, -2, -3, -7};
  for (size_t i = 0; i < 6; i++) d[(i * 1237 + 5) % NBIG] = ext[i];
  run_lanczos_case(d, NBIG, PH_EIG_BOTH, 3, ext, 6);
  /* bottom only: the three smallest, sorted descending */
  run_lanczos_case(d, NBIG, PH_EIG_BOTTOM, 3, ext + 3, 3);
  free(d);
}

static void test_lanczos_small_and_invariant(void **state) {
  (void)state;
  /* n = 6, k = 6: the whole space. */
  double d6[6] = {3, -1, 2, 0.5, 2, -4};
  double e6[6] = {3, 2, 2, 0.5, -1, -4};
  run_lanczos_case(d6, 6, PH_EIG_TOP, 6, e6, 6);
  /* Two distinct eigenvalues: the Krylov space is 2-dimensional, so
   * Lanczos breaks down and must continue from fresh vectors. */
  size_t n = 500;
  double *d = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) d[i] = i % 2 ? 1.0 : -1.0;
  double e[4] = {1, 1, 1, 1};
  run_lanczos_case(d, n, PH_EIG_TOP, 4, e, 4);
  free(d);
}

static void test_power_agrees(void **state) {
  (void)state;
  size_t n = 2000;
  double *d = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) d[i] = 0.3 * (double)i / n;
  double top[3] = {8, 4, 2}; /* ratios 0.5: fast for power iteration */
  for (size_t i = 0; i < 3; i++) d[i * 101] = top[i];
  hh_op h;
  hh_init(&h, n, d, 3);
  ph_linop a = hh_linop(&h);
  double *lam = malloc(n * sizeof(double));
  memcpy(lam, d, n * sizeof(double));
  qsort(lam, n, sizeof(double), cmp_desc);
  ph_eig_config cfg = ph_eig_config_default();
  cfg.k = 3;
  cfg.want_vectors = 1;
  ph_eig_result rp, rl;
  ph_error err = {0};
  assert_int_equal(ph_power_run(&a, &cfg, &rp, &err), PH_OK);
  check_pairs(&a, &rp, top, 3, lam, n, cfg.tol);
  assert_int_equal(ph_lanczos_run(&a, &cfg, NULL, &rl, &err), PH_OK);
  check_pairs(&a, &rl, top, 3, lam, n, cfg.tol);
  for (size_t q = 0; q < 3; q++)
    assert_true(fabs(rp.values[q] - rl.values[q]) <=
                rp.bounds[q] + rl.bounds[q] + n * DBL_EPSILON * 8);
  cfg.which = PH_EIG_BOTH;
  ph_eig_result rb;
  assert_int_equal(ph_power_run(&a, &cfg, &rb, &err), PH_ERR_UNSUPPORTED);
  ph_eig_result_free(&rp);
  ph_eig_result_free(&rl);
  free(lam);
  free(d);
  hh_free(&h);
}

/* ---- dense matrices: A = Q diag(lam) Qᵀ, Q from QR of a Gaussian ---- */
static double *dense_sym(size_t n, const double *lam, uint64_t seed) {
  double *q = malloc(n * n * sizeof(double));
  double *tau = malloc(n * sizeof(double));
  ph_rng r = ph_rng_make(seed, PH_RNG_STREAM_USER + 1);
  ph_rng_fill_gauss(&r, q, n * n, 1.0);
  assert_int_equal(
      LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (int)n, (int)n, q, (int)n, tau), 0);
  assert_int_equal(
      LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (int)n, (int)n, (int)n, q, (int)n, tau),
      0);
  double *qd = malloc(n * n * sizeof(double));
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) qd[i * n + j] = q[i * n + j] * lam[j];
  double *a = malloc(n * n * sizeof(double));
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)n,
              1.0, qd, (int)n, q, (int)n, 0.0, a, (int)n);
  for (size_t i = 0; i < n; i++) /* exact symmetry */
    for (size_t j = 0; j < i; j++)
      a[i * n + j] = a[j * n + i] = 0.5 * (a[i * n + j] + a[j * n + i]);
  free(q);
  free(qd);
  free(tau);
  return a;
}

static void test_dense_reference(void **state) {
  (void)state;
  size_t n = 150;
  double *lam = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++)
    lam[i] = (double)i / 10.0 - 5.0 + (i % 3) * 0.01;
  double *a = dense_sym(n, lam, 11);
  ph_error err = {0};
  ph_op *op;
  assert_int_equal(ph_op_dense_create(n, a, &op, &err), PH_OK);
  double *eig = malloc(n * sizeof(double)), asym;
  assert_int_equal(ph_dense_spectrum(ph_op_linop(op), eig, NULL, &asym, &err),
                   PH_OK);
  assert_int_equal(ph_op_linop(op)->n_applies, n);
  qsort(lam, n, sizeof(double), cmp_desc);
  for (size_t i = 0; i < n; i++)
    assert_true(fabs(eig[n - 1 - i] - lam[i]) <= n * DBL_EPSILON * 15.0);
  assert_true(asym <= n * DBL_EPSILON);
  ph_op_free(op);
  free(a);
  free(lam);
  free(eig);
}

/* Variance of zᵀ M z for Rademacher z: 2 (‖M‖_F² − Σ M_ii²). */
static double rademacher_var(size_t n, const double *m) {
  double s = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      if (i != j) s += m[i * n + j] * m[i * n + j];
  return 2 * s;
}

static int cmp_asc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of v[0..n) by sorting (the test's own, not ph_stats'). */
static double median_sorted(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_asc);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double median_node_gap(const ph_slq_result *s) {
  size_t m = s->steps;
  double *med = malloc(s->probes * sizeof *med), *g = malloc(m * sizeof *g);
  for (size_t p = 0; p < s->probes; p++) {
    size_t k = 0;
    for (size_t j = 1; j < m; j++)
      g[k++] = s->nodes[p * m + j] - s->nodes[p * m + j - 1];
    med[p] = median_sorted(g, k);
  }
  double r = median_sorted(med, s->probes);
  free(med);
  free(g);
  return r;
}

/* The broadening follows the spectrum: scaling A by c scales σ by c (the
 * nodes scale exactly, up to rounding), so a narrow spectrum keeps its shape,
 * and five outliers 7 bulk-widths above a uniform bulk stay apart from it
 * (the density midway is < 1e-8 of the bulk's). PyHessian's σ² = 1e-5 ·
 * max(1, range) does not scale: on A·1e-3 it blurs outliers into the bulk,
 * which this test also shows (the failure the rule replaces), and it is
 * still available and exact. */
static void test_slq_broadening(void **state) {
  (void)state;
  size_t n = 200;
  double *lam = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) lam[i] = 1e-3 * (4.0 * (double)i / n - 1.0);
  for (size_t i = 0; i < 5; i++) lam[i] = 1e-3 * (10.0 + i);
  double *a = dense_sym(n, lam, 7);
  double *a1 = malloc(n * n * sizeof(double));
  for (size_t i = 0; i < n * n; i++) a1[i] = 1e3 * a[i];
  ph_error err = {0};
  ph_op *op, *op1;
  assert_int_equal(ph_op_dense_create(n, a, &op, &err), PH_OK);
  assert_int_equal(ph_op_dense_create(n, a1, &op1, &err), PH_OK);
  ph_slq_config sc = ph_slq_config_default();
  sc.probes = 8;
  sc.steps = 40;
  sc.seed = 3;
  ph_slq_result s, s1, sp;
  assert_int_equal(ph_slq_run(ph_op_linop(op), &sc, &s, &err), PH_OK);
  assert_int_equal(ph_slq_run(ph_op_linop(op1), &sc, &s1, &err), PH_OK);
  assert_true(fabs(s.sigma - 1e-3 * s1.sigma) < 1e-9 * s.sigma);
  assert_true(fabs(s.sigma - median_node_gap(&s)) <= 1e-15 * s.sigma);
  /* density at the bulk's middle (1e-3) vs midway to the outliers (6.5e-3) */
  double bulk = 0, mid = INFINITY;
  for (size_t g = 1; g < s.n_grid; g++) {
    if (s.t[g] >= 1e-3 && s.t[g - 1] < 1e-3) bulk = s.density[g];
    if (s.t[g] >= 6.5e-3 && s.t[g - 1] < 6.5e-3) mid = s.density[g];
  }
  assert_true(bulk > 0 && mid < 1e-8 * bulk);
  sc.sigma_rule = PH_SLQ_SIGMA_PYHESSIAN;
  assert_int_equal(ph_slq_run(ph_op_linop(op), &sc, &sp, &err), PH_OK);
  double sig2 = 1e-5 * fmax(1, sp.lambda_max - sp.lambda_min);
  assert_true(fabs(sp.sigma * sp.sigma - sig2) < 1e-15);
  for (size_t g = 1; g < sp.n_grid; g++)
    if (sp.t[g] >= 6.5e-3 && sp.t[g - 1] < 6.5e-3)
      assert_true(sp.density[g] > 1e-3 * bulk); /* blurred */
  /* An explicit σ is used as given. */
  ph_slq_result sg;
  sc.sigma = 2.5e-4;
  assert_int_equal(ph_slq_run(ph_op_linop(op), &sc, &sg, &err), PH_OK);
  assert_true(sg.sigma == 2.5e-4);
  ph_slq_result bad; /* a failed run leaves its result empty */
  sc.sigma = -1;
  assert_int_equal(ph_slq_run(ph_op_linop(op), &sc, &bad, &err), PH_ERR_ARG);
  assert_null(bad.t);
  ph_slq_result_free(&s);
  ph_slq_result_free(&s1);
  ph_slq_result_free(&sp);
  ph_slq_result_free(&sg);
  ph_op_free(op);
  ph_op_free(op1);
  free(a);
  free(a1);
  free(lam);
}

static void test_slq_and_trace(void **state) {
  (void)state;
  size_t n = 300;
  double *lam = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) lam[i] = 4.0 * (double)i / n - 1.0;
  for (size_t i = 0; i < 5; i++) lam[i] = 10.0 + i;
  double *a = dense_sym(n, lam, 5);
  double *a2 = malloc(n * n * sizeof(double));
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n,
              1.0, a, (int)n, a, (int)n, 0.0, a2, (int)n);
  double tr = 0, tr2 = 0;
  for (size_t i = 0; i < n; i++) {
    tr += lam[i];
    tr2 += lam[i] * lam[i];
  }
  ph_error err = {0};
  ph_op *op;
  assert_int_equal(ph_op_dense_create(n, a, &op, &err), PH_OK);
  ph_linop *l = ph_op_linop(op);

  /* Hutchinson within 3 true standard errors; sample SE within 2x of it. */
  size_t np = 40;
  ph_trace_result tr_res;
  assert_int_equal(ph_hutchinson(l, np, 1, &tr_res, &err), PH_OK);
  double se = sqrt(rademacher_var(n, a) / np);
  if (fabs(tr_res.mean - tr) > 3 * se)
    fail_msg("hutchinson %g vs trace %g (se %g)", tr_res.mean, tr, se);
  assert_true(tr_res.stderr_ > se / 2 && tr_res.stderr_ < 2 * se);

  /* SLQ: moments are Hutchinson estimates of tr(A)/n and tr(A²)/n. */
  ph_slq_config sc = ph_slq_config_default();
  sc.probes = 20;
  sc.steps = 40;
  sc.seed = 2;
  ph_slq_result s;
  assert_int_equal(ph_slq_run(l, &sc, &s, &err), PH_OK);
  assert_int_equal(s.products, sc.probes * sc.steps);
  double se1 = sqrt(rademacher_var(n, a) / sc.probes) / n;
  double se2 = sqrt(rademacher_var(n, a2) / sc.probes) / n;
  if (fabs(s.moment1 - tr / n) > 3 * se1)
    fail_msg("slq m1 %g vs %g (se %g)", s.moment1, tr / n, se1);
  if (fabs(s.moment2 - tr2 / n) > 3 * se2)
    fail_msg("slq m2 %g vs %g (se %g)", s.moment2, tr2 / n, se2);
  /* The smoothed density: integrates to 1, mean m1, second moment m2 + σ²
   * (trapezoid rule on a grid with spacing ≤ σ/2: error ~ 1e-10). */
  double i0 = 0, i1 = 0, i2 = 0;
  for (size_t g = 0; g + 1 < s.n_grid; g++) {
    double h = s.t[g + 1] - s.t[g];
    for (int e = 0; e < 2; e++) {
      double t = s.t[g + e], f = s.density[g + e];
      i0 += 0.5 * h * f;
      i1 += 0.5 * h * f * t;
      i2 += 0.5 * h * f * t * t;
    }
  }
  assert_true(fabs(i0 - 1) < 1e-8);
  assert_true(fabs(i1 - s.moment1) < 1e-7 * (1 + fabs(s.moment1)));
  assert_true(fabs(i2 - (s.moment2 + s.sigma * s.sigma)) < 1e-7 * s.moment2);
  /* Default σ: the median over probes of the median gap between
   * consecutive nodes (recomputed here by sorting). */
  assert_true(fabs(s.sigma - median_node_gap(&s)) <= 1e-15 * s.sigma);
  /* The extreme nodes converge to the extreme eigenvalues (40 steps). */
  assert_true(fabs(s.lambda_max - 14) < 1e-6);
  assert_true(fabs(s.lambda_min - lam[5]) < 0.05);
  /* N(λ > 5) = 5 eigenvalues: the count is a probe estimate of 5 whose
   * quadrature weight error is ~ the band; check it's in [2.5, 7.5]. */
  for (size_t g = 0; g < s.n_grid; g++)
    if (s.t[g] > 5 && s.t[g - 1] <= 5)
      assert_true(s.count_above[g] > 2.5 && s.count_above[g] < 7.5);
  /* Negative mass: 25% of eigenvalues are in [-1, 0). */
  assert_true(fabs(s.negative_mass - 0.25) < 0.1);
  for (size_t g = 0; g < s.n_grid; g++)
    assert_true(s.band_lo[g] <= s.density[g] && s.density[g] <= s.band_hi[g]);
  /* Reproducible per probe: the first 5 probes of a 5-probe run match. */
  ph_slq_result s5;
  sc.probes = 5;
  assert_int_equal(ph_slq_run(l, &sc, &s5, &err), PH_OK);
  assert_memory_equal(s5.nodes, s.nodes, 5 * sc.steps * sizeof(double));
  ph_slq_result_free(&s5);
  ph_slq_result_free(&s);
  ph_op_free(op);
  free(a);
  free(a2);
  free(lam);
}

/* ---- sandwich with a diagonal P, and block restriction ---- */
/* A dense operator whose block product is one GEMM (its rounding differs
 * from k GEMVs, as a block product may differ from k products; a network's
 * equals them to the bit since the sixth session of issue 15). */
typedef struct {
  size_t n;
  const double *a;
  size_t blocks; /* block calls */
} gemm_op;

static ph_status gemm_apply(void *ctx, const double *v, double *out,
                            ph_error *err) {
  (void)err;
  gemm_op *g = ctx;
  cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)g->n, (int)g->n, 1.0, g->a,
              (int)g->n, v, 1, 0.0, out, 1);
  return PH_OK;
}

static ph_status gemm_apply_block(void *ctx, size_t k, const double *V,
                                  double *W, ph_error *err) {
  (void)err;
  gemm_op *g = ctx;
  g->blocks++;
  /* W (k, n) = V (k, n) Aᵀ (A symmetric) */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)k, (int)g->n,
              (int)g->n, 1.0, V, (int)g->n, g->a, (int)g->n, 0.0, W, (int)g->n);
  return PH_OK;
}

/* A block product that is k single products, as the sequential network's
 * is (src/nn/net_obj.c, block_chunk). */
static ph_status exact_apply_block(void *ctx, size_t k, const double *V,
                                   double *W, ph_error *err) {
  gemm_op *g = ctx;
  g->blocks++;
  for (size_t q = 0; q < k; q++)
    PH_TRY(gemm_apply(ctx, V + q * g->n, W + q * g->n, err));
  return PH_OK;
}

/* SLQ and Hutchinson with probes in lockstep blocks give the sequential
 * results: the same probes, products that differ by rounding only. With
 * full reorthogonalisation a perturbation δ of the products moves Ritz
 * values and weights by O(m δ), δ ≈ n ε ‖A‖ ≈ 300·2.2e-16·13 ≈ 1e-12 here,
 * so 1e-9 has a wide margin; a wrong probe pairing or a stale vector moves
 * them by O(1). The Hutchinson estimate is a sum of dot products: 1e-12
 * relative. With `exact`, the block product is k single products (as a
 * network's is), and then the results must be the sequential ones to the
 * bit, for any block and any team running the orthogonalisation
 * (ph_slq_config.pool): each probe's Lanczos steps are the same
 * computations on the same vectors whatever group or thread runs them
 * (`pothole spectrum --block 1` and `--block 8` agree to the bit on
 * networks). A step run twice, or by no thread, fails it. */
static void slq_blocks_agree(int exact, ph_pool *pool) {
  size_t n = 300;
  double *lam = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) lam[i] = 4.0 * (double)i / n - 1.0;
  for (size_t i = 0; i < 5; i++) lam[i] = 10.0 + i;
  double *a = dense_sym(n, lam, 5);
  gemm_op g = {n, a, 0};
  ph_linop l = {n, &g, gemm_apply, 0,
                exact ? exact_apply_block : gemm_apply_block};
  ph_error err = {0};
  ph_slq_config sc = ph_slq_config_default();
  sc.probes = 7;
  sc.steps = 25;
  sc.seed = 3;
  sc.pool = pool;
  ph_slq_result r1, rb;
  sc.block = 1;
  assert_int_equal(ph_slq_run(&l, &sc, &r1, &err), PH_OK);
  assert_int_equal(g.blocks, 0);
  size_t blocks[3] = {3, 7, 64}, len = sc.probes * r1.steps * sizeof(double);
  for (int q = 0; q < 3; q++) {
    sc.block = blocks[q];
    g.blocks = 0;
    assert_int_equal(ph_slq_run(&l, &sc, &rb, &err), PH_OK);
    assert_true(g.blocks > 0);
    assert_int_equal(rb.products, r1.products);
    assert_int_equal(rb.block, blocks[q] < 7 ? blocks[q] : 7);
    if (exact) {
      assert_memory_equal(rb.nodes, r1.nodes, len);
      assert_memory_equal(rb.weights, r1.weights, len);
    }
    for (size_t i = 0; i < sc.probes * rb.steps; i++) {
      assert_true(fabs(rb.nodes[i] - r1.nodes[i]) <= 1e-9 * 14);
      assert_true(fabs(rb.weights[i] - r1.weights[i]) <= 1e-9);
    }
    ph_slq_result_free(&rb);
  }
  ph_slq_result_free(&r1);
  ph_trace_result t1, tb;
  assert_int_equal(ph_hutchinson(&l, 10, 5, &t1, &err), PH_OK);
  assert_int_equal(ph_hutchinson_block(&l, 10, 5, 4, &tb, &err), PH_OK);
  double tol = exact ? 0 : 1e-12;
  assert_true(fabs(tb.mean - t1.mean) <= tol * fabs(t1.mean));
  assert_true(fabs(tb.stderr_ - t1.stderr_) <= tol * t1.stderr_);
  free(a);
  free(lam);
}

static void test_slq_block(void **state) {
  (void)state;
  slq_blocks_agree(0, NULL);
}

static void test_slq_block_exact(void **state) {
  (void)state;
  for (size_t T = 1; T <= 3; T++) {
    ph_pool *pool = NULL;
    ph_error err = {0};
    if (T > 1) assert_int_equal(ph_pool_create(T, &pool, &err), PH_OK);
    slq_blocks_agree(1, pool);
    ph_pool_free(pool);
  }
}

static void test_sandwich_and_block(void **state) {
  (void)state;
  size_t n = 120;
  double *lam = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) lam[i] = cos(0.37 * i) * 3 + (i == 0) * 5;
  double *a = dense_sym(n, lam, 9);
  double *p = malloc(n * sizeof(double)), *sp = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) {
    p[i] = exp(sin(1.3 * i)); /* in [e^-1, e] */
    sp[i] = sqrt(p[i]);
  }
  double *b = malloc(n * n * sizeof(double)); /* P^½ A P^½ explicitly */
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) b[i * n + j] = sp[i] * a[i * n + j] * sp[j];
  ph_error err = {0};
  ph_op *oa;
  assert_int_equal(ph_op_dense_create(n, a, &oa, &err), PH_OK);
  ph_op *osp; /* S = P^½, itself an operator */
  assert_int_equal(ph_op_diag_create(n, sp, &osp, &err), PH_OK);
  ph_op *os;
  assert_int_equal(
      ph_op_sandwich_create(ph_op_linop(oa), ph_op_linop(osp), &os, &err),
      PH_OK);
  assert_non_null(os);
  double *v = malloc(n * sizeof(double)), *o1 = malloc(n * sizeof(double)),
         *o2 = malloc(n * sizeof(double));
  ph_rng r = ph_rng_make(4, PH_RNG_STREAM_USER);
  double bnorm = 0;
  for (size_t i = 0; i < n * n; i++) bnorm = fmax(bnorm, fabs(b[i]));
  for (int rep = 0; rep < 3; rep++) {
    ph_rng_fill_gauss(&r, v, n, 1.0);
    assert_int_equal(ph_linop_apply(ph_op_linop(os), v, o1, &err), PH_OK);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, b, (int)n, v,
                1, 0.0, o2, 1);
    for (size_t i = 0; i < n; i++)
      assert_true(fabs(o1[i] - o2[i]) <=
                  n * DBL_EPSILON * bnorm * ph_vec_amax(n, v) * 4);
  }
  /* Lanczos on the sandwich = dense spectrum of the explicit matrix. */
  ph_op *ob;
  assert_int_equal(ph_op_dense_create(n, b, &ob, &err), PH_OK);
  double *eb = malloc(n * sizeof(double)), *es = malloc(n * sizeof(double));
  assert_int_equal(ph_dense_spectrum(ph_op_linop(ob), eb, NULL, NULL, &err),
                   PH_OK);
  ph_eig_config cfg = ph_eig_config_default();
  cfg.k = 4;
  cfg.which = PH_EIG_BOTH;
  cfg.want_vectors = 1;
  ph_eig_result res;
  assert_int_equal(ph_lanczos_run(ph_op_linop(os), &cfg, NULL, &res, &err),
                   PH_OK);
  double *bdesc = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) bdesc[i] = eb[n - 1 - i];
  double expect[8] = {bdesc[0],     bdesc[1],     bdesc[2],     bdesc[3],
                      bdesc[n - 4], bdesc[n - 3], bdesc[n - 2], bdesc[n - 1]};
  check_pairs(ph_op_linop(os), &res, expect, 8, bdesc, n, cfg.tol);
  ph_eig_result_free(&res);

  /* Block [30, 70) of A: its spectrum is that of the submatrix. */
  size_t off = 30, sz = 40;
  ph_op *oblk;
  assert_int_equal(ph_op_block_create(ph_op_linop(oa), off, sz, &oblk, &err),
                   PH_OK);
  double *sub = malloc(sz * sz * sizeof(double));
  for (size_t i = 0; i < sz; i++)
    for (size_t j = 0; j < sz; j++)
      sub[i * sz + j] = a[(off + i) * n + off + j];
  ph_op *osub;
  assert_int_equal(ph_op_dense_create(sz, sub, &osub, &err), PH_OK);
  double *e1 = malloc(sz * sizeof(double)), *e2 = malloc(sz * sizeof(double));
  assert_int_equal(ph_dense_spectrum(ph_op_linop(oblk), e1, NULL, NULL, &err),
                   PH_OK);
  assert_int_equal(ph_dense_spectrum(ph_op_linop(osub), e2, NULL, NULL, &err),
                   PH_OK);
  for (size_t i = 0; i < sz; i++)
    assert_true(fabs(e1[i] - e2[i]) <=
                sz * DBL_EPSILON * 10 * fabs(e2[sz - 1]));
  ph_op *bad = oa;
  assert_int_equal(ph_op_block_create(ph_op_linop(oa), 100, 30, &bad, &err),
                   PH_ERR_ARG);
  assert_null(bad);
  assert_int_equal(err.code, PH_ERR_ARG);

  ph_op_free(oblk);
  ph_op_free(osub);
  ph_op_free(ob);
  ph_op_free(os);
  ph_op_free(osp);
  ph_op_free(oa);
  free(lam);
  free(a);
  free(b);
  free(p);
  free(sp);
  free(v);
  free(o1);
  free(o2);
  free(eb);
  free(es);
  free(bdesc);
  free(sub);
  free(e1);
  free(e2);
}

/* SLQ narrows a group so that its bases stay within PH_SLQ_BLOCK_DOUBLES
 * (64 MB): 4 probes of 9 vectors asked in one block run 3 at a time at
 * n = 2^18 (3 · 9 · 2^18 = 7.1M doubles ≤ 2^23 < 4 · 9 · 2^18), one at a
 * time at n = 2^20 (one basis, 9.4M doubles, alone over the cap). */
static void test_slq_block_memory(void **state) {
  (void)state;
  size_t ns[2] = {(size_t)1 << 18, (size_t)1 << 20}, want[2] = {3, 1};
  for (int c = 0; c < 2; c++) {
    size_t n = ns[c];
    double *d = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = (double)(i % 97);
    hh_op h;
    hh_init(&h, n, d, 2);
    ph_linop a = hh_linop(&h);
    ph_slq_config sc = ph_slq_config_default();
    sc.probes = 4;
    sc.steps = 8;
    sc.block = 8;
    sc.grid = 11;
    ph_slq_result r;
    ph_error err = {0};
    assert_int_equal(ph_slq_run(&a, &sc, &r, &err), PH_OK);
    assert_int_equal(r.block, want[c]);
    assert_int_equal(r.products, 4 * 8);
    ph_slq_result_free(&r);
    free(d);
    hh_free(&h);
  }
}

static void test_budget_and_errors(void **state) {
  (void)state;
  size_t n = 1000;
  double *d = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) d[i] = 1.0 + 1e-4 * (double)i; /* tiny gaps */
  hh_op h;
  hh_init(&h, n, d, 1);
  ph_linop a = hh_linop(&h);
  ph_eig_config cfg = ph_eig_config_default();
  cfg.max_products = 50;
  ph_eig_result r;
  ph_error err = {0};
  assert_int_equal(ph_lanczos_run(&a, &cfg, NULL, &r, &err), PH_OK);
  assert_int_equal(r.products, 50);
  assert_false(r.all_converged);
  ph_eig_result_free(&r);
  cfg.tol = 0;
  assert_int_equal(ph_lanczos_run(&a, &cfg, NULL, &r, &err), PH_ERR_ARG);
  free(d);
  hh_free(&h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lanczos_clustered_top),
      cmocka_unit_test(test_lanczos_repeated),
      cmocka_unit_test(test_lanczos_both_ends),
      cmocka_unit_test(test_lanczos_small_and_invariant),
      cmocka_unit_test(test_power_agrees),
      cmocka_unit_test(test_dense_reference),
      cmocka_unit_test(test_slq_and_trace),
      cmocka_unit_test(test_slq_broadening),
      cmocka_unit_test(test_sandwich_and_block),
      cmocka_unit_test(test_slq_block),
      cmocka_unit_test(test_slq_block_exact),
      cmocka_unit_test(test_slq_block_memory),
      cmocka_unit_test(test_budget_and_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
