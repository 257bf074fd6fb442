/* test_landscape.c: unit tests for src/landscape -- direction normalisation,
 * PCA of a planar trajectory, plane projection, the Lanczos stopgap against
 * LAPACK, and the grid: direct recomputation bit for bit, thread-count
 * invariance, resume after a stop hook and after SIGKILL of a child. */
#define _GNU_SOURCE
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <lapacke.h>

#include "core/afile.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/vec.h"
#include "landscape/directions.h"
#include "landscape/grid.h"
#include "landscape/slice.h"
#include "core/npy.h"
#include "core/json.h"
#include "toy_objective.h"

#define PH_TEST_TMP_PREFIX "/tmp/ph_landscape_test"
#include "../common/ph_test_tmp.h"

static void random_theta(double *theta, size_t n, uint64_t seed) {
  ph_rng r = ph_rng_make(seed, PH_RNG_STREAM_USER + 5);
  ph_rng_fill_gauss(&r, theta, n, 0.7);
}

/* ---- directions --------------------------------------------------------- */

static void test_filter_norm(void **state) {
  (void)state;
  toy_shared s;
  ph_objective *o = toy_create(&s, 1);
  double theta[TOY_N], d[TOY_N];
  random_theta(theta, TOY_N, 2);
  /* Rounding: a norm and a scaling, each a few ulps per entry. */
  const double tol = 16 * DBL_EPSILON;

  ph_landscape_random_direction(o, theta, 42, 0, PH_DIR_NORM_FILTER, 0, d);
  for (int r = 0; r < 3; r++) {
    double nd = ph_vec_nrm2(4, d + 4 * r), nt = ph_vec_nrm2(4, theta + 4 * r);
    assert_true(fabs(nd - nt) <= tol * nt);
  }
  for (int i = 12; i < TOY_N; i++)
    assert_true(d[i] == 0.0); /* bias and norm zeroed */

  ph_landscape_random_direction(o, theta, 42, 0, PH_DIR_NORM_FILTER, 1, d);
  double nb = ph_vec_nrm2(3, d + 12), tb = ph_vec_nrm2(3, theta + 12);
  assert_true(fabs(nb - tb) <= tol * tb);
  double nl = ph_vec_nrm2(2, d + 15), tl = ph_vec_nrm2(2, theta + 15);
  assert_true(fabs(nl - tl) <= tol * tl);

  ph_landscape_random_direction(o, theta, 42, 0, PH_DIR_NORM_LAYER, 0, d);
  double nw = ph_vec_nrm2(12, d), tw = ph_vec_nrm2(12, theta);
  assert_true(fabs(nw - tw) <= tol * tw);
  for (int i = 12; i < TOY_N; i++) assert_true(d[i] == 0.0);

  /* none: the raw Gaussian of (seed, DIRECTION stream) */
  double g[TOY_N];
  ph_rng r = ph_rng_make(42, PH_RNG_STREAM_DIRECTION);
  ph_rng_fill_gauss(&r, g, TOY_N, 1.0);
  ph_landscape_random_direction(o, theta, 42, 0, PH_DIR_NORM_NONE, 0, d);
  assert_memory_equal(d, g, sizeof g);

  /* the second direction uses other numbers; the filter direction is the
   * raw Gaussian rescaled row by row (same direction within each row) */
  double d2[TOY_N];
  ph_landscape_random_direction(o, theta, 42, 1, PH_DIR_NORM_NONE, 0, d2);
  assert_true(fabs(ph_vec_dot(TOY_N, d, d2)) <
              ph_vec_nrm2(TOY_N, d) * ph_vec_nrm2(TOY_N, d2));
  assert_memory_not_equal(d, d2, sizeof d);
  ph_landscape_random_direction(o, theta, 42, 0, PH_DIR_NORM_FILTER, 0, d2);
  for (int row = 0; row < 3; row++) {
    double c = ph_vec_dot(4, g + 4 * row, d2 + 4 * row) /
               (ph_vec_nrm2(4, g + 4 * row) * ph_vec_nrm2(4, d2 + 4 * row));
    assert_true(fabs(c - 1.0) <= tol);
  }
  ph_objective_free(o);
}

static void orthonormal_pair(size_t n, uint64_t seed, double *u, double *w) {
  ph_rng r = ph_rng_make(seed, PH_RNG_STREAM_USER + 9);
  ph_rng_fill_gauss(&r, u, n, 1.0);
  ph_rng_fill_gauss(&r, w, n, 1.0);
  ph_vec_scal(n, 1.0 / ph_vec_nrm2(n, u), u);
  ph_vec_axpy(n, -ph_vec_dot(n, u, w), u, w);
  ph_vec_scal(n, 1.0 / ph_vec_nrm2(n, w), w);
}

static void test_pca_plane(void **state) {
  (void)state;
  enum { N = 300, T = 25 };
  double *u = malloc(N * sizeof *u), *w = malloc(N * sizeof *w);
  double *traj = malloc(T * N * sizeof *traj),
         *dirs = malloc(2 * N * sizeof *dirs);
  double center[N];
  orthonormal_pair(N, 3, u, w);
  random_theta(center, N, 4);
  /* θ_t = θ_final + a_t u + b_t w: a spiral into θ_final (last row). */
  for (int t = 0; t < T; t++) {
    double rho = 3.0 * (double)(T - 1 - t) / (T - 1);
    double a = rho * cos(0.4 * t) * 2.0, b = rho * sin(0.4 * t);
    for (int i = 0; i < N; i++)
      traj[t * N + i] = center[i] + a * u[i] + b * w[i];
  }
  double ev[2];
  ph_error err = {0};
  ph_error_clear(&err);
  assert_int_equal(
      ph_landscape_pca(traj, T, N, traj + (T - 1) * N, 2, dirs, ev, &err),
      PH_OK);
  /* The remaining singular values are rounding of the data (‖M‖·ε), so the
   * explained fraction misses 1 only by ~ (n·ε)² ≪ 1e-12. */
  assert_true(fabs(ev[0] + ev[1] - 1.0) <= 1e-12);
  assert_true(ev[0] >= ev[1]);
  /* Directions orthonormal and inside span(u, w). Through the Gram matrix
   * the vector error is ~ ε·(σ1/σ2)²·T; σ1/σ2 ≈ 2 here, so 1e-11 has room. */
  for (int k = 0; k < 2; k++) {
    double *d = dirs + k * N;
    assert_true(fabs(ph_vec_nrm2(N, d) - 1.0) <= 1e-13);
    double pu = ph_vec_dot(N, d, u), pw = ph_vec_dot(N, d, w);
    assert_true(fabs(pu * pu + pw * pw - 1.0) <= 1e-11);
  }
  assert_true(fabs(ph_vec_dot(N, dirs, dirs + N)) <= 1e-12);
  /* Every θ_t projects with zero off-plane distance (relative to its size). */
  for (int t = 0; t < T; t++) {
    double x, y, off;
    assert_int_equal(ph_landscape_project(N, traj + (T - 1) * N, dirs, dirs + N,
                                          traj + t * N, &x, &y, &off, &err),
                     PH_OK);
    assert_true(off <= 1e-11 * 6.0);
    double rho = 3.0 * (double)(T - 1 - t) / (T - 1);
    double a = rho * cos(0.4 * t) * 2.0, b = rho * sin(0.4 * t);
    assert_true(fabs(x * x + y * y - (a * a + b * b)) <=
                1e-10 * (1 + a * a + b * b));
  }
  /* A trajectory on a line has rank 1: asking for 2 directions fails. */
  for (int t = 0; t < T; t++)
    for (int i = 0; i < N; i++) traj[t * N + i] = center[i] + (double)t * u[i];
  ph_error_clear(&err);
  assert_int_equal(ph_landscape_pca(traj, T, N, center, 2, dirs, ev, &err),
                   PH_ERR_NUMERIC);
  ph_error_clear(&err);
  assert_int_equal(ph_landscape_pca(traj, T, N, center, 1, dirs, ev, &err),
                   PH_OK);
  assert_true(fabs(ev[0] - 1.0) <= 1e-12);
  assert_true(fabs(fabs(ph_vec_dot(N, dirs, u)) - 1.0) <= 1e-12);
  free(u);
  free(w);
  free(traj);
  free(dirs);
}

static void test_project_models(void **state) {
  (void)state;
  enum { N = 50 };
  double c[N], d1[N], d2[N], e[N], p[N], x, y, off;
  random_theta(c, N, 11);
  random_theta(d1, N, 12);
  random_theta(d2, N, 13);
  random_theta(e, N, 14);
  /* make e orthogonal to d1, d2 (Gram-Schmidt twice) */
  for (int pass = 0; pass < 2; pass++) {
    double q1[N], q2[N];
    memcpy(q1, d1, sizeof q1);
    memcpy(q2, d2, sizeof q2);
    ph_vec_scal(N, 1 / ph_vec_nrm2(N, q1), q1);
    ph_vec_axpy(N, -ph_vec_dot(N, q1, q2), q1, q2);
    ph_vec_scal(N, 1 / ph_vec_nrm2(N, q2), q2);
    ph_vec_axpy(N, -ph_vec_dot(N, q1, e), q1, e);
    ph_vec_axpy(N, -ph_vec_dot(N, q2, e), q2, e);
  }
  for (int i = 0; i < N; i++) p[i] = c[i] + 0.3 * d1[i] - 1.7 * d2[i] + e[i];
  ph_error err = {0};
  ph_error_clear(&err);
  assert_int_equal(ph_landscape_project(N, c, d1, d2, p, &x, &y, &off, &err),
                   PH_OK);
  /* 2×2 normal equations with cond ≈ O(1): error ~ n·ε·‖p‖ */
  double tol = 1e3 * N * DBL_EPSILON;
  assert_true(fabs(x - 0.3) <= tol);
  assert_true(fabs(y + 1.7) <= tol);
  assert_true(fabs(off - ph_vec_nrm2(N, e)) <= tol);
  /* parallel directions are refused */
  ph_error_clear(&err);
  assert_int_equal(ph_landscape_project(N, c, d1, d1, p, &x, &y, &off, &err),
                   PH_ERR_NUMERIC);

  /* models: three points land at (0,0), (1,0), (0,1), off-plane 0 */
  double m1[N], m2[N], dirs[2 * N];
  for (int i = 0; i < N; i++) {
    m1[i] = c[i] + d1[i];
    m2[i] = c[i] - 2 * d2[i];
  }
  const double *models[3] = {c, m1, m2};
  ph_error_clear(&err);
  assert_int_equal(ph_landscape_models_directions(models, 3, N, dirs, &err),
                   PH_OK);
  assert_int_equal(
      ph_landscape_project(N, c, dirs, dirs + N, m2, &x, &y, &off, &err),
      PH_OK);
  assert_true(fabs(x) <= tol && fabs(y - 1.0) <= tol && off <= tol * 10);
  const double *same[2] = {c, c};
  ph_error_clear(&err);
  assert_int_equal(ph_landscape_models_directions(same, 2, N, dirs, &err),
                   PH_ERR_ARG);
}

/* ---- Hessian directions vs LAPACK ------------------------------------ */

static void test_hessian_dirs(void **state) {
  (void)state;
  toy_shared s;
  ph_objective *o = toy_create(&s, 7);
  double theta[TOY_N], H[TOY_N * TOY_N], ev[TOY_N];
  random_theta(theta, TOY_N, 8);
  for (int i = 0; i < TOY_N; i++)
    for (int j = 0; j < TOY_N; j++)
      H[i * TOY_N + j] =
          s.A[i * TOY_N + j] - (i == j ? s.kappa * cos(theta[i]) : 0);
  assert_int_equal(
      LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', TOY_N, H, TOY_N, ev), 0);
  /* the slice's Hessian directions (linalg through potholes/sharpness) */
  ph_slice_config c = ph_slice_config_default();
  c.dirs = PH_SLICE_HESSIAN;
  c.nx = c.ny = 2;
  c.batch = ph_batch_all(o, PH_SPLIT_TRAIN);
  c.seed = 3;
  ph_slice_result r;
  ph_error err = {0};
  ph_error_clear(&err);
  assert_int_equal(ph_slice_run(o, theta, &c, &r, &err), PH_OK);
  double anorm = fmax(fabs(ev[0]), fabs(ev[TOY_N - 1]));
  for (int k = 0; k < 2; k++) {
    /* a dense solve (n ≤ 64): eigenvalues to rounding, and the recorded
     * true residual ‖Hv − λv‖ of the same order */
    assert_true(fabs(r.eigval[k] - ev[TOY_N - 1 - k]) <= 1e-10 * anorm);
    assert_true(r.eig_resid[k] <= 1e-10 * anorm);
    assert_true(fabs(ph_vec_nrm2(TOY_N, r.dirs + k * TOY_N) - 1) <= 1e-12);
  }
  ph_slice_result_free(&r);
  ph_objective_free(o);
}

/* ---- grid --------------------------------------------------------------- */

typedef struct grid_fixture {
  toy_shared s;
  ph_objective *o;
  double theta[TOY_N], d1[TOY_N], d2[TOY_N];
  ph_batch batch;
  ph_grid_axes ax;
} grid_fixture;

static void fixture_init(grid_fixture *f, size_t nx, size_t ny) {
  f->o = toy_create(&f->s, 21);
  random_theta(f->theta, TOY_N, 22);
  ph_landscape_random_direction(f->o, f->theta, 9, 0, PH_DIR_NORM_FILTER, 1,
                                f->d1);
  ph_landscape_random_direction(f->o, f->theta, 9, 1, PH_DIR_NORM_FILTER, 1,
                                f->d2);
  f->batch = ph_batch_all(f->o, PH_SPLIT_TEST);
  f->ax.nx = nx;
  f->ax.ny = ny;
  f->ax.x_lo = -1.0;
  f->ax.x_hi = 1.5;
  f->ax.y_lo = -0.5;
  f->ax.y_hi = 2.0;
}

static void run_grid(grid_fixture *f, int threads, const char *state,
                     size_t stop_after, double *loss, double *acc,
                     ph_grid_stats *st, ph_status want) {
  ph_grid_options opt = ph_grid_options_default();
  opt.threads = threads;
  opt.state_path = state;
  opt.stop_after = stop_after;
  ph_error err = {0};
  ph_error_clear(&err);
  ph_status s = ph_grid_eval(f->o, f->theta, f->d1, f->d2, &f->batch, &f->ax,
                             &opt, loss, acc, st, &err);
  if (s != want)
    fail_msg("grid returned %s (%s), wanted %s", ph_status_name(s), err.msg,
             ph_status_name(want));
}

static void test_grid_direct_and_threads(void **state) {
  (void)state;
  enum { NX = 9, NY = 7, NP = NX * NY };
  grid_fixture f;
  fixture_init(&f, NX, NY);
  double l1[NP], a1[NP], l2[NP], a2[NP], l3[NP], a3[NP];
  ph_grid_stats st;
  run_grid(&f, 1, NULL, 0, l1, a1, &st, PH_OK);
  assert_int_equal(st.computed, NP);
  assert_int_equal(__atomic_exchange_n(&f.s.evals, 0, __ATOMIC_RELAXED), NP);
  run_grid(&f, 2, NULL, 0, l2, a2, &st, PH_OK);
  assert_int_equal(st.threads, 2);
  run_grid(&f, 3, NULL, 0, l3, a3, &st, PH_OK);
  assert_memory_equal(l1, l2, sizeof l1);
  assert_memory_equal(a1, a2, sizeof a1);
  assert_memory_equal(l1, l3, sizeof l1);
  assert_memory_equal(a1, a3, sizeof a1);

  /* Recompute points directly: θ + x[i] d1 + y[j] d2 with the axes the grid
   * reports, evaluated by the objective itself. */
  double xs[NX], ys[NY], p[TOY_N];
  ph_grid_axis(NX, f.ax.x_lo, f.ax.x_hi, xs);
  ph_grid_axis(NY, f.ax.y_lo, f.ax.y_hi, ys);
  assert_true(xs[0] == -1.0 && xs[NX - 1] == 1.5 && ys[NY - 1] == 2.0);
  assert_true(fabs(xs[4] - 0.25) <= 4 * DBL_EPSILON);
  size_t pts[4][2] = {{0, 0}, {8, 6}, {3, 5}, {6, 1}};
  for (int k = 0; k < 4; k++) {
    size_t i = pts[k][0], j = pts[k][1];
    for (int q = 0; q < TOY_N; q++)
      p[q] = f.theta[q] + xs[i] * f.d1[q] + ys[j] * f.d2[q];
    double l, a;
    ph_error err = {0};
    ph_error_clear(&err);
    assert_int_equal(ph_objective_eval(f.o, p, &f.batch, &l, &a, &err), PH_OK);
    assert_memory_equal(&l, &l1[j * NX + i], sizeof l);
    assert_memory_equal(&a, &a1[j * NX + i], sizeof a);
  }
  ph_objective_free(f.o);
}

static void test_grid_1d_and_nonfinite(void **state) {
  (void)state;
  enum { NX = 11 };
  grid_fixture f;
  fixture_init(&f, NX, 1);
  f.s.nan_radius = 1e9;
  double l[NX], a[NX], xs[NX], p[TOY_N];
  ph_grid_options opt = ph_grid_options_default();
  ph_grid_stats st;
  ph_error err = {0};
  ph_error_clear(&err);
  assert_int_equal(ph_grid_eval(f.o, f.theta, f.d1, NULL, &f.batch, &f.ax, &opt,
                                l, a, &st, &err),
                   PH_OK);
  ph_grid_axis(NX, f.ax.x_lo, f.ax.x_hi, xs);
  for (int i = 0; i < NX; i++) {
    for (int q = 0; q < TOY_N; q++) p[q] = f.theta[q] + xs[i] * f.d1[q];
    double ld;
    assert_int_equal(ph_objective_eval(f.o, p, &f.batch, &ld, NULL, &err),
                     PH_OK);
    assert_memory_equal(&ld, &l[i], sizeof ld);
  }
  assert_int_equal(st.nonfinite, 0);
  /* points beyond a radius give NaN: recorded, not a failure */
  double nt = ph_vec_nrm2(TOY_N, f.theta);
  f.s.nan_radius = nt;
  ph_error_clear(&err);
  assert_int_equal(ph_grid_eval(f.o, f.theta, f.d1, NULL, &f.batch, &f.ax, &opt,
                                l, a, &st, &err),
                   PH_OK);
  assert_true(st.nonfinite > 0 && st.nonfinite < NX);
  /* a 2-D grid without a second direction is refused */
  f.ax.ny = 3;
  ph_error_clear(&err);
  assert_int_equal(ph_grid_eval(f.o, f.theta, f.d1, NULL, &f.batch, &f.ax, &opt,
                                l, a, &st, &err),
                   PH_ERR_ARG);
  ph_objective_free(f.o);
}

static void test_grid_resume_hook(void **state) {
  (void)state;
  enum { NX = 8, NY = 6, NP = NX * NY };
  grid_fixture f;
  fixture_init(&f, NX, NY);
  double lr[NP], ar[NP], l[NP], a[NP];
  ph_grid_stats st;
  run_grid(&f, 1, NULL, 0, lr, ar, &st, PH_OK);

  const char *sp = tpath("grid.state");
  for (int threads = 1; threads <= 2; threads++) {
    run_grid(&f, threads, sp, 13, l, a, &st, PH_ERR_INTERRUPTED);
    assert_int_equal(st.computed, 13);
    assert_true(ph_path_exists(sp));
    run_grid(&f, threads, sp, 20, l, a, &st, PH_ERR_INTERRUPTED);
    assert_int_equal(st.resumed, 13);
    assert_int_equal(st.computed, 20);
    __atomic_store_n(&f.s.evals, 0, __ATOMIC_RELAXED);
    run_grid(&f, 3 - threads, sp, 0, l, a, &st, PH_OK);
    assert_int_equal(st.resumed, 33);
    assert_int_equal(st.computed, NP - 33);
    assert_int_equal(f.s.evals, NP - 33); /* nothing recomputed */
    assert_false(ph_path_exists(sp));     /* a finished grid leaves no state */
    assert_memory_equal(l, lr, sizeof l);
    assert_memory_equal(a, ar, sizeof a);
  }
  /* A state file from another grid (other θ) is neither reused nor
   * replaced: an error, and the file stays as it was. */
  run_grid(&f, 1, sp, 10, l, a, &st, PH_ERR_INTERRUPTED);
  size_t len0 = 0, len1 = 0;
  unsigned char *before = NULL, *after = NULL;
  assert_int_equal(ph_read_file(sp, &before, &len0, NULL), PH_OK);
  f.theta[0] += 1e-3;
  __atomic_store_n(&f.s.evals, 0, __ATOMIC_RELAXED);
  run_grid(&f, 1, sp, 0, l, a, &st, PH_ERR_ARG);
  assert_int_equal(f.s.evals, 0);
  assert_int_equal(ph_read_file(sp, &after, &len1, NULL), PH_OK);
  assert_int_equal(len0, len1);
  assert_memory_equal(before, after, len0);
  free(before);
  free(after);
  /* A corrupt state file is not trusted either. */
  assert_int_equal(ph_write_file_atomic(sp, "garbage", 7, NULL), PH_OK);
  run_grid(&f, 1, sp, 0, l, a, &st, PH_ERR_FORMAT);
  assert_true(ph_path_exists(sp));
  unlink(sp);
  ph_objective_free(f.o);
}

/* No state file is written before a point is finished: it would keep
 * nothing, yet refuse any other grid in its directory (and a killed MPI
 * job's resume would find nothing in it). The first point takes 1 s and
 * watches for the file; the supervisor wakes at least every 0.2 s and
 * would save every 0.01 s, so a save of the empty state would be seen. */
static void test_grid_no_empty_state(void **state) {
  (void)state;
  grid_fixture f;
  fixture_init(&f, 2, 1);
  const char *sp = tpath("empty.state");
  unlink(sp);
  f.s.watch = sp;
  ph_grid_options opt = ph_grid_options_default();
  opt.state_path = sp;
  opt.save_interval = 0.01;
  opt.stop_after = 1; /* then interrupted: the final save keeps the point */
  double l[2], a[2];
  ph_grid_stats st;
  ph_status s = ph_grid_eval(f.o, f.theta, f.d1, f.d2, &f.batch, &f.ax, &opt, l,
                             a, &st, NULL);
  assert_int_equal(s, PH_ERR_INTERRUPTED);
  assert_false(f.s.watch_seen);
  assert_true(ph_path_exists(sp));
  f.s.watch = NULL;
  run_grid(&f, 1, sp, 0, l, a, &st, PH_OK);
  assert_int_equal(st.resumed, 1);
  ph_objective_free(f.o);
}

static void test_grid_resume_sigkill(void **state) {
  (void)state;
  enum { NX = 10, NY = 10, NP = NX * NY };
  grid_fixture f;
  fixture_init(&f, NX, NY);
  double lr[NP], ar[NP], l[NP], a[NP];
  ph_grid_stats st;
  run_grid(&f, 2, NULL, 0, lr, ar, &st, PH_OK);

  const char *sp = tpath("kill.state");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    f.s.sleep_us = 20000; /* 60 points × 20 ms / 2 threads ≈ 0.6 s */
    ph_grid_options opt = ph_grid_options_default();
    opt.threads = 2;
    opt.state_path = sp;
    opt.save_interval = 0.05;
    /* then wait to be killed: the grid cannot finish first, however late
     * the kill (a timed kill after 0.1 s could lose that race under load) */
    opt.hold_after = 60;
    ph_grid_eval(f.o, f.theta, f.d1, f.d2, &f.batch, &f.ax, &opt, l, a, &st,
                 NULL);
    _exit(0);
  }
  /* kill it once it has saved some progress (a state file is never
   * empty); 30 s of wall time only detect a hang */
  for (double t0 = ph_now(); !ph_path_exists(sp) && ph_now() - t0 < 30;)
    usleep(5000);
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFSIGNALED(status));
  assert_true(ph_path_exists(sp));
  run_grid(&f, 1, sp, 0, l, a, &st, PH_OK);
  assert_true(st.resumed > 0 && st.resumed < NP);
  assert_int_equal(st.resumed + st.computed, NP);
  assert_memory_equal(l, lr, sizeof l);
  assert_memory_equal(a, ar, sizeof a);
  assert_false(ph_path_exists(sp));
  ph_objective_free(f.o);
}

/* ---- slice end to end ---------------------------------------------------- */

static void test_slice_pca_trajectory_files(void **state) {
  (void)state;
  enum { T = 12 };
  toy_shared s;
  ph_objective *o = toy_create(&s, 31);
  double theta[TOY_N], u[TOY_N], w[TOY_N], traj[T * TOY_N];
  random_theta(theta, TOY_N, 32);
  orthonormal_pair(TOY_N, 33, u, w);
  for (int t = 0; t < T; t++)
    for (int i = 0; i < TOY_N; i++)
      traj[t * TOY_N + i] =
          theta[i] + (T - 1 - t) * (0.2 * u[i] + 0.05 * t * w[i]);
  ph_slice_config c = ph_slice_config_default();
  c.dirs = PH_SLICE_PCA;
  c.nx = 7;
  c.ny = 5;
  c.auto_range = 1;
  c.batch = ph_batch_all(o, PH_SPLIT_TRAIN);
  c.traj = traj;
  c.traj_T = T;
  c.threads = 2;
  ph_slice_result r;
  ph_error err = {0};
  ph_error_clear(&err);
  assert_int_equal(ph_slice_run(o, theta, &c, &r, &err), PH_OK);
  assert_true(fabs(r.explained[0] + r.explained[1] - 1.0) <= 1e-12);
  for (int t = 0; t < T; t++) {
    /* the planar trajectory is on the plane; its loss is the loss at θ_t */
    assert_true(r.t_off[t] <= 1e-12 * 10);
    double l;
    assert_int_equal(
        ph_objective_eval(o, traj + t * TOY_N, &c.batch, &l, NULL, &err),
        PH_OK);
    assert_memory_equal(&l, &r.t_loss[t], sizeof l);
    /* auto range covers every trajectory point */
    assert_true(r.t_x[t] >= r.x_lo && r.t_x[t] <= r.x_hi);
    assert_true(r.t_y[t] >= r.y_lo && r.t_y[t] <= r.y_hi);
  }
  cJSON *extra = cJSON_CreateObject();
  cJSON_AddStringToObject(extra, "note", "test");
  const char *dir = tpath("slice_pca");
  assert_int_equal(ph_slice_write(dir, o, &c, &r, extra, &err), PH_OK);
  cJSON_Delete(extra);
  char path[600];
  ph_npy a;
  snprintf(path, sizeof path, "%s/surface_loss.npy", dir);
  assert_int_equal(ph_npy_read(path, &a, &err), PH_OK);
  assert_int_equal(a.ndim, 2);
  assert_int_equal(a.shape[0], 5);
  assert_int_equal(a.shape[1], 7);
  assert_memory_equal(a.data, r.loss, 35 * sizeof(double));
  ph_npy_free(&a);
  snprintf(path, sizeof path, "%s/directions.npy", dir);
  assert_int_equal(ph_npy_read(path, &a, &err), PH_OK);
  assert_int_equal(a.shape[0], 2);
  assert_int_equal(a.shape[1], TOY_N);
  ph_npy_free(&a);
  const char *names[] = {"surface_acc.npy", "x.npy", "y.npy", "trajectory.csv",
                         "slice.json"};
  for (int i = 0; i < 5; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    assert_true(ph_path_exists(path));
  }
  snprintf(path, sizeof path, "%s/slice1d.csv", dir);
  assert_false(ph_path_exists(path));
  cJSON *j = NULL;
  snprintf(path, sizeof path, "%s/slice.json", dir);
  assert_int_equal(ph_json_read_file(path, &j, &err), PH_OK);
  cJSON *ev = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "directions"),
                                  "explained_variance");
  assert_non_null(ev);
  assert_true(cJSON_GetArrayItem(ev, 0)->valuedouble == r.explained[0]);
  cJSON_Delete(j);
  ph_slice_result_free(&r);
  ph_objective_free(o);
}

static void test_slice_hessian_1d_quadratic(void **state) {
  (void)state;
  toy_shared s;
  ph_objective *o = toy_create(&s, 41);
  s.kappa = 0.0; /* exactly quadratic: the model must match to rounding */
  double theta[TOY_N];
  random_theta(theta, TOY_N, 42);
  ph_slice_config c = ph_slice_config_default();
  c.dirs = PH_SLICE_HESSIAN;
  c.two_d = 0;
  c.nx = 21;
  c.x_lo = -2;
  c.x_hi = 2;
  c.batch = ph_batch_all(o, PH_SPLIT_TEST);
  ph_slice_result r;
  ph_error err = {0};
  ph_error_clear(&err);
  assert_int_equal(ph_slice_run(o, theta, &c, &r, &err), PH_OK);
  assert_non_null(r.quad);
  /* curvature along the unit eigenvector is its eigenvalue */
  assert_true(fabs(r.curvature - r.eigval[0]) <= 1e-6 * fabs(r.eigval[0]));
  double scale = 0;
  for (int i = 0; i < 21; i++) scale = fmax(scale, fabs(r.loss[i]));
  for (int i = 0; i < 21; i++)
    assert_true(fabs(r.loss[i] - r.quad[i]) <=
                1e3 * TOY_N * DBL_EPSILON * scale);
  const char *dir = tpath("slice_hess");
  assert_int_equal(ph_slice_write(dir, o, &c, &r, NULL, &err), PH_OK);
  char path[600];
  snprintf(path, sizeof path, "%s/slice1d.csv", dir);
  assert_true(ph_path_exists(path));
  snprintf(path, sizeof path, "%s/y.npy", dir);
  assert_false(ph_path_exists(path));
  ph_npy a;
  snprintf(path, sizeof path, "%s/surface_loss.npy", dir);
  assert_int_equal(ph_npy_read(path, &a, &err), PH_OK);
  assert_int_equal(a.ndim, 1);
  assert_int_equal(a.shape[0], 21);
  ph_npy_free(&a);
  ph_slice_result_free(&r);
  ph_objective_free(o);
}

static void test_slice_second_eval_set(void **state) {
  (void)state;
  enum { NX = 5, NY = 4, NP = NX * NY };
  toy_shared s;
  ph_objective *o = toy_create(&s, 51);
  double theta[TOY_N];
  random_theta(theta, TOY_N, 52);
  ph_slice_config c = ph_slice_config_default();
  c.nx = NX;
  c.ny = NY;
  c.batch = ph_batch_all(o, PH_SPLIT_TRAIN);
  c.with_second = 1;
  c.second_batch = ph_batch_all(o, PH_SPLIT_TEST);
  c.state_path = tpath("second.state");
  ph_slice_result r;
  ph_error err = {0};
  ph_error_clear(&err);
  assert_int_equal(ph_slice_run(o, theta, &c, &r, &err), PH_OK);
  /* the second surface is the test-split grid along the same directions */
  double l[NP], a[NP];
  ph_grid_axes ax = {NX, NY, -1, 1, -1, 1};
  ph_grid_options opt = ph_grid_options_default();
  ph_grid_stats st;
  assert_int_equal(ph_grid_eval(o, theta, r.dirs, r.dirs + TOY_N,
                                &c.second_batch, &ax, &opt, l, a, &st, &err),
                   PH_OK);
  assert_memory_equal(l, r.loss2, sizeof l);
  assert_memory_equal(a, r.acc2, sizeof a);
  assert_memory_not_equal(r.loss, r.loss2, sizeof l); /* other examples */
  assert_false(ph_path_exists(c.state_path));
  const char *dir = tpath("slice_second");
  assert_int_equal(ph_slice_write(dir, o, &c, &r, NULL, &err), PH_OK);
  char path[600];
  snprintf(path, sizeof path, "%s/surface_test_loss.npy", dir);
  assert_true(ph_path_exists(path));
  ph_slice_result_free(&r);
  ph_objective_free(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_filter_norm),
      cmocka_unit_test(test_pca_plane),
      cmocka_unit_test(test_project_models),
      cmocka_unit_test(test_hessian_dirs),
      cmocka_unit_test(test_grid_direct_and_threads),
      cmocka_unit_test(test_grid_1d_and_nonfinite),
      cmocka_unit_test(test_grid_resume_hook),
      cmocka_unit_test(test_grid_no_empty_state),
      cmocka_unit_test(test_grid_resume_sigkill),
      cmocka_unit_test(test_slice_pca_trajectory_files),
      cmocka_unit_test(test_slice_hessian_1d_quadratic),
      cmocka_unit_test(test_slice_second_eval_set),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
