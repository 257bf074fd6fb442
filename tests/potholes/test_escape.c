/* test_escape.c: the escape engine (one optimiser path, src/optim).
 *  - a test oracle: hand-rolled fixed-P steppers for sgd, sam, llqr,
 *    llqr-sam and the three controls, applied to the engine's own state at
 *    every step, agree with the engine's next state to 1e-12;
 *  - outcomes that linear stability decides (trapped / escaped / diverged);
 *  - refresh 0 keeps P exactly; refresh K refreshes floor((T-1)/K)+1 times;
 *  - identical records for 1 and 2 threads; a map cell equals the escape
 *    experiment of its configuration; a map stopped midway and resumed
 *    gives the same map.csv as one run in one go. */
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
#include "potholes/escape.h"
#include "potholes/toys.h"

#define PH_TEST_TMP_PREFIX "/tmp/ph_escape_test"
#include "../common/ph_test_tmp.h"

static ph_escape_config sel_cfg(void) {
  ph_escape_config c = ph_escape_config_default();
  snprintf(c.landscape, sizeof c.landscape, "%s",
           PH_ESCAPE_SELECTIVE_LANDSCAPE);
  c.seeds = 6;
  c.steps = 200;
  c.n_traj = 6;
  c.lr = 0.006; /* below LLQR's threshold η* ≈ 0.0081: the pit is kept */
  const char *o = "sgd,sam,llqr,llqr-sam,sam-matched,llqr-sam-euclid,"
                  "llqr-sam-ponly";
  assert_int_equal(ph_escape_parse_opts(&c, o, NULL), PH_OK);
  return c;
}

/* The oracle: one step of each method with a FIXED diagonal P, written out
 * from algorithms.md §2-3 (g = ∇L(θ), ε, g' = ∇L(θ+ε), θ ← θ − η d). */
static void oracle_step(const char *name, const ph_objective *obj, double lr,
                        double rho, const double *P, const double *th,
                        double *out) {
  double g[2], v[2], x[2], gp[2], d[2];
  ph_toy_eval_clean(obj, th, NULL, g, NULL);
  int sam = !strcmp(name, "sam") || !strcmp(name, "sam-matched");
  int lsam = !strncmp(name, "llqr-sam", 8);
  int llqr = !strcmp(name, "llqr");
  for (int i = 0; i < 2; i++) d[i] = llqr ? P[i] * g[i] : g[i];
  if (sam || lsam) {
    int eucl = !strcmp(name, "llqr-sam-euclid");
    for (int i = 0; i < 2; i++) v[i] = (sam || eucl) ? g[i] : P[i] * g[i];
    double nv = sqrt(v[0] * v[0] + v[1] * v[1]);
    for (int i = 0; i < 2; i++) x[i] = th[i] + rho * v[i] / (nv + 1e-12);
    ph_toy_eval_clean(obj, x, NULL, gp, NULL);
    int ponly = !strcmp(name, "llqr-sam-ponly");
    for (int i = 0; i < 2; i++) d[i] = (lsam && !ponly) ? P[i] * gp[i] : gp[i];
  }
  for (int i = 0; i < 2; i++) out[i] = th[i] - lr * d[i];
}

/* Each step of the engine against the oracle from the engine's own state:
 * the same few flops in a possibly different order, so they agree to a few
 * ulps of the larger of |θ| and η|d| (1e-12 leaves a margin of ~1000 ulps
 * while any wrong factor — P, ρ, lr, the ε direction — is off by O(1)). */
static void test_oracle(void **state) {
  (void)state;
  ph_error err = {0};
  ph_escape_config c = sel_cfg();
  ph_escape_result r;
  assert_int_equal(ph_escape_run(&c, &r, &err), PH_OK);
  ph_objective *obj = NULL;
  ph_toy_create_str(c.landscape, &obj, &err);
  assert_non_null(obj);
  double P[2] = {1 / 0.2, 1 / 50.0}; /* the fitted basin curvature */
  size_t T = c.steps;
  for (size_t k = 0; k < r.n_rows; k++) {
    const ph_escape_row *row = &r.rows[k];
    if (row->precond_diag)
      for (int i = 0; i < 2; i++)
        assert_true(fabs(row->precond_diag[i] - P[i]) < 1e-15 * P[i]);
    double lr = !strcmp(row->opt, "sam-matched") ? c.lr * P[0] : c.lr;
    assert_true(fabs(row->lr - lr) <= 1e-15 * lr);
    size_t compared = 0;
    for (size_t s = 0; s < r.n_traj; s++) {
      const double *tr = row->traj + s * (T + 1) * 2;
      for (size_t t = 0; t < T; t++) {
        const double *a = tr + t * 2, *b = tr + (t + 1) * 2;
        if (!isfinite(a[0]) || !isfinite(b[0]) || fabs(b[1]) > 1e100) break;
        double want[2];
        oracle_step(row->opt, obj, lr, c.rho, P, a, want);
        for (int i = 0; i < 2; i++) {
          double scale = fmax(fabs(a[i]), fabs(want[i] - a[i])) + 1e-300;
          if (fabs(b[i] - want[i]) > 1e-12 * fmax(scale, 1))
            fail_msg("%s run %zu step %zu coord %d: engine %.17g oracle "
                     "%.17g",
                     row->opt, s, t + 1, i, b[i], want[i]);
        }
        compared++;
      }
    }
    assert_true(compared >= 50);
  }
  ph_objective_free(obj);
  ph_escape_result_free(&r);
}

/* Outcomes decided by linear stability on the selectivity landscape (pit
 * curvature λ_x ≈ 49.5 along x with P_xx = 5; control y with b = 50 and
 * P_yy = 0.02):
 *  - sgd and sam at η = 0.006: η·λ_x = 0.3 < 2, trapped in every run;
 *  - llqr at η = 0.006: η·P_xx·λ_x = 1.48 < 2: trapped;
 *  - llqr at η = 0.02: 4.9 > 2 (and > 4, beyond the period-2 band): every
 *    run leaves the pit and reaches the basin;
 *  - sam-matched at η = 0.02·5: along y η_s·b = 5 > 2 on an exact
 *    quadratic: every run diverges; llqr-sam keeps y (η·P_yy·b = 0.02). */
static void test_outcomes(void **state) {
  (void)state;
  ph_error err = {0};
  ph_escape_config c = sel_cfg();
  c.seeds = 20;
  c.steps = 400;
  c.n_traj = 0;
  ph_escape_result r;
  assert_int_equal(ph_escape_run(&c, &r, &err), PH_OK);
  for (int k = 0; k < 3; k++)
    assert_int_equal(r.rows[k].count[PH_OUT_TRAPPED], 20);
  assert_true(r.lr_threshold > 0.0079 && r.lr_threshold < 0.0083);
  ph_escape_result_free(&r);
  c.lr = 0.02;
  assert_int_equal(ph_escape_run(&c, &r, &err), PH_OK);
  assert_int_equal(r.rows[2].count[PH_OUT_ESCAPED], 20);
  assert_int_equal(r.rows[4].count[PH_OUT_DIVERGED], 20);
  assert_int_equal(r.rows[3].count[PH_OUT_DIVERGED], 0);
  for (int k = 0; k < 7; k++) {
    size_t tot = 0;
    for (int o = 0; o < PH_OUT_COUNT; o++) tot += r.rows[k].count[o];
    assert_int_equal(tot, 20);
  }
  ph_escape_result_free(&r);
}

/* refresh 0: P stays exactly as set in every logged step; refresh K with
 * the first refresh at the start: refreshes at steps 0, K, 2K, ... < T,
 * i.e. floor((T−1)/K) + 1 of them in a run that goes the whole way
 * (trapped); with --refresh-first k: floor((T−1)/K). */
static void test_refresh(void **state) {
  (void)state;
  ph_error err = {0};
  ph_escape_config c = sel_cfg();
  c.seeds = 3;
  c.steps = 120;
  c.n_traj = 3;
  c.lr = 0.002;
  assert_int_equal(ph_escape_parse_opts(&c, "llqr", NULL), PH_OK);
  ph_escape_result r;
  assert_int_equal(ph_escape_run(&c, &r, &err), PH_OK);
  for (size_t q = 0; q < 3 * 121 * 2; q++)
    assert_true(r.rows[0].plog[q] == r.rows[0].precond_diag[q % 2]);
  assert_int_equal(r.rows[0].recs[0].n_refresh, 0);
  ph_escape_result_free(&r);
  c.refresh_every = 25;
  c.inner_steps = 5;
  for (int first = 0; first < 2; first++) {
    c.refresh_first = first ? PH_REFRESH_FIRST_AFTER_K : PH_REFRESH_FIRST_START;
    assert_int_equal(ph_escape_run(&c, &r, &err), PH_OK);
    for (size_t s = 0; s < 3; s++) {
      assert_int_equal(r.rows[0].recs[s].outcome, PH_OUT_TRAPPED);
      assert_int_equal(r.rows[0].recs[s].n_refresh, first ? 4 : 5);
    }
    /* P changes only at refresh steps */
    const double *pl = r.rows[0].plog;
    for (size_t t = 1; t <= 120; t++)
      if ((t - 1) % 25 != 0 || (first && t == 1))
        assert_true(pl[t * 2] == pl[(t - 1) * 2]);
    ph_escape_result_free(&r);
  }
}

static void same_records(const ph_escape_result *a, const ph_escape_result *b) {
  assert_int_equal(a->n_rows, b->n_rows);
  for (size_t k = 0; k < a->n_rows; k++)
    for (size_t s = 0; s < a->rows[k].seeds; s++) {
      const ph_escape_rec *x = &a->rows[k].recs[s], *y = &b->rows[k].recs[s];
      assert_int_equal(x->outcome, y->outcome);
      assert_int_equal(x->step, y->step);
      assert_memory_equal(&x->final_dist, &y->final_dist, sizeof(double));
      assert_memory_equal(x->pend, y->pend, sizeof x->pend);
    }
}

/* Threads only distribute independent runs: identical records. A noisy
 * landscape with live refresh exercises both batch streams. */
static void test_threads_and_cells(void **state) {
  (void)state;
  ph_error err = {0};
  ph_escape_config c = sel_cfg();
  snprintf(c.landscape, sizeof c.landscape, "%s,noise=0.02,samples=64",
           PH_ESCAPE_SELECTIVE_LANDSCAPE);
  c.seeds = 16;
  c.steps = 150;
  c.n_traj = 0;
  c.lr = 0.009;
  c.refresh_every = 40;
  c.inner_steps = 5;
  c.refresh_batch = 16;
  ph_escape_result a, b;
  assert_int_equal(ph_escape_run_cell(&c, 7, &a, &err), PH_OK);
  c.threads = 2;
  assert_int_equal(ph_escape_run_cell(&c, 7, &b, &err), PH_OK);
  same_records(&a, &b);
  ph_escape_result_free(&b);
  /* another cell index draws other starts */
  assert_int_equal(ph_escape_run_cell(&c, 8, &b, &err), PH_OK);
  int differ = 0;
  for (size_t s = 0; s < 16; s++)
    differ |= a.rows[0].recs[s].final_dist != b.rows[0].recs[s].final_dist;
  assert_true(differ);
  ph_escape_result_free(&b);
  /* a map cell is the experiment of its configuration with its index */
  ph_map_spec m;
  memset(&m, 0, sizeof m);
  assert_int_equal(ph_map_parse_axes(&m, "eta,rho", &err), PH_OK);
  m.lo[0] = 0.005, m.hi[0] = 0.009, m.lo[1] = 0, m.hi[1] = 0.05;
  m.nx = 3, m.ny = 2;
  c.threads = 1;
  ph_escape_config cc;
  assert_int_equal(ph_map_cell_config(&c, &m, 5, &cc, &err), PH_OK);
  assert_true(cc.lr == 0.009 && cc.rho == 0.05);
  ph_map_cell mc;
  assert_int_equal(ph_map_run_one(&c, &m, 5, &mc, &err), PH_OK);
  assert_int_equal(ph_escape_run_cell(&cc, 5, &b, &err), PH_OK);
  for (size_t k = 0; k < c.n_opt; k++)
    assert_memory_equal(mc.count[k], b.rows[k].count, sizeof mc.count[k]);
  ph_escape_result_free(&b);
  ph_escape_result_free(&a);
  /* bad axes and sizes */
  assert_int_equal(ph_map_parse_axes(&m, "eta,eta_rel", &err), PH_ERR_ARG);
  assert_int_equal(ph_map_parse_axes(&m, "eta,gamma", &err), PH_ERR_ARG);
  assert_int_equal(ph_map_parse_axes(&m, "eta", &err), PH_ERR_ARG);
  m.nx = 100, m.ny = 100;
  assert_int_equal(ph_map_validate(&c, &m, &err), PH_ERR_ARG);
}

/* The early exit on a fixed point or 2-cycle (deterministic fixed-P runs
 * without kept trajectories) gives the outcomes and final points of runs
 * that go the whole way (kept runs never exit early): same outcome, final
 * distance equal to the cycle tolerance (1e-13 relative, scaled by the
 * contraction: 1e-10 absolute is ample at |θ| ≈ 2.5). */
static void test_cycle_exit(void **state) {
  (void)state;
  ph_error err = {0};
  ph_escape_config c = sel_cfg();
  c.seeds = 10;
  c.steps = 600;
  ph_escape_result full, fast;
  c.n_traj = 10;
  assert_int_equal(ph_escape_run(&c, &full, &err), PH_OK);
  c.n_traj = 0;
  assert_int_equal(ph_escape_run(&c, &fast, &err), PH_OK);
  for (size_t k = 0; k < full.n_rows; k++)
    for (size_t s = 0; s < 10; s++) {
      const ph_escape_rec *a = &full.rows[k].recs[s],
                          *b = &fast.rows[k].recs[s];
      assert_int_equal(a->outcome, b->outcome);
      assert_int_equal(a->step, b->step);
      if (isfinite(a->final_dist))
        assert_true(fabs(a->final_dist - b->final_dist) < 1e-10);
    }
  ph_escape_result_free(&full);
  ph_escape_result_free(&fast);
}

static char *slurp(const char *path) {
  unsigned char *d = NULL;
  size_t len;
  if (ph_read_file(path, &d, &len, NULL) != PH_OK) return NULL;
  return (char *)d;
}

/* A map stopped after 2 of 6 cells leaves a journal and no map.csv; the
 * resumed map equals a map run in one go, byte for byte. */
static void test_map_resume(void **state) {
  (void)state;
  ph_error err = {0};
  ph_escape_config c = sel_cfg();
  c.seeds = 8;
  c.steps = 100;
  c.n_traj = 0;
  assert_int_equal(ph_escape_parse_opts(&c, "sam,llqr-sam", NULL), PH_OK);
  ph_map_spec m;
  memset(&m, 0, sizeof m);
  assert_int_equal(ph_map_parse_axes(&m, "eta_rel,rho_rel", &err), PH_OK);
  m.lo[0] = 0.5, m.hi[0] = 1.5, m.lo[1] = 0, m.hi[1] = 1;
  m.nx = 3, m.ny = 2;
  int complete;
  size_t ran;
  const char *d1 = tpath("m1"), *d2 = tpath("m2");
  assert_int_equal(ph_map_run(&c, &m, d1, 0, 0, &complete, &ran, &err), PH_OK);
  assert_true(complete && ran == 6);
  assert_int_equal(ph_map_run(&c, &m, d2, 0, 2, &complete, &ran, &err), PH_OK);
  assert_true(!complete && ran == 2);
  char p[600];
  snprintf(p, sizeof p, "%s/map.csv", d2);
  assert_false(ph_path_exists(p));
  /* a different configuration refuses the journal */
  ph_escape_config c2 = c;
  c2.seeds = 9;
  assert_int_equal(ph_map_run(&c2, &m, d2, 1, 0, &complete, &ran, &err),
                   PH_ERR_ARG);
  c.threads = 2; /* threads may differ on resume */
  assert_int_equal(ph_map_run(&c, &m, d2, 1, 0, &complete, &ran, &err), PH_OK);
  assert_true(complete && ran == 4);
  char q[600];
  snprintf(q, sizeof q, "%s/map.csv", d1);
  char *a = slurp(p), *b = slurp(q);
  assert_non_null(a);
  assert_non_null(b);
  assert_string_equal(a, b);
  free(a);
  free(b);
}

/* The amplification sweep runs on potholeNd and is monotone where the
 * closed form says so: π grows with depth (π ≈ 1 + depth/(width²λ_1)). */
static void test_sweep(void **state) {
  (void)state;
  ph_error err = {0};
  ph_escape_config c = ph_escape_config_default();
  snprintf(c.landscape, sizeof c.landscape, "potholeNd:n=6");
  c.seeds = 10;
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
    assert_true(rows[i].pi <= 1 + v[i] / (0.01 * 0.5) + 1e-9);
    if (i) assert_true(rows[i].pi > rows[i - 1].pi);
  }
  assert_int_equal(ph_amp_sweep(&c, "height", v, 3, rows, 0, &err), PH_ERR_ARG);
}

/* Like-with-like amplification: for a radius far below the pit's width the
 * first-order formulas are the derivative, so (A − 1)/(prediction − 1) → 1
 * with an error O(ρ/|t|) ≤ 1e-6/1e-3 (t ≥ w/100 = 1e-3) times the ratio of
 * third to second derivatives (≈ 1/w): 5 % is ample, while a missing P or
 * a wrong normalisation is off by a factor p_v = 5 or more. At ρ = 0.02 the
 * prediction spans more than 1..10 over the points. */
static void test_amp_like(void **state) {
  (void)state;
  ph_error err = {0};
  ph_escape_config c = sel_cfg();
  c.seeds = 50;
  double rho[2] = {1e-6, 0.02};
  ph_amp_point *p;
  size_t np;
  assert_int_equal(ph_amp_like(&c, rho, 2, &p, &np, &err), PH_OK);
  assert_int_equal(np, 100);
  double pmin = INFINITY, pmax = 0;
  for (size_t i = 0; i < np; i++) {
    if (p[i].rho > 1e-3) {
      pmin = fmin(pmin, p[i].predicted), pmax = fmax(pmax, p[i].predicted);
      continue;
    }
    double a = (p[i].measured - 1) / (p[i].predicted - 1);
    double s = (p[i].sam_measured - 1) / (p[i].sam_predicted - 1);
    if (!(fabs(a - 1) < 0.05 && fabs(s - 1) < 0.05))
      fail_msg("point %zu (t %g): llqr-sam %g, sam %g of first order", i,
               p[i].t, a, s);
  }
  assert_true(pmin < 1.5 && pmax > 10);
  ph_amp_band b[PH_AMP_BANDS];
  ph_amp_like_bands(p, np, 0, b);
  size_t tot = 0;
  for (int k = 0; k < PH_AMP_BANDS; k++) {
    tot += b[k].n;
    if (b[k].n) assert_true(b[k].q1 <= b[k].median && b[k].median <= b[k].q3);
  }
  assert_true(tot <= np);
  free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_oracle),
      cmocka_unit_test(test_outcomes),
      cmocka_unit_test(test_refresh),
      cmocka_unit_test(test_threads_and_cells),
      cmocka_unit_test(test_cycle_exit),
      cmocka_unit_test(test_map_resume),
      cmocka_unit_test(test_sweep),
      cmocka_unit_test(test_amp_like),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
