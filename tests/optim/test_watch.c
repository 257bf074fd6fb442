/* test_watch.c: the curvature watch (src/optim/watch.c) on diagonal
 * quadratics, where every watched quantity has a closed form: H = diag(a),
 * so λmax(H) = max a, P½HP½ = diag(p·a) with pothole ratios the largest
 * p_i·a_i and local curvature a_i along the top one, the trace Σa (exact
 * with Rademacher probes on a diagonal: zᵀHz = Σ a_i z_i² = Σa, standard
 * error 0), and a weight block's λmax the largest a over it. Also: warm
 * starts cost fewer products than a random start, a checkpoint round trip
 * continues the same watch, and events read back from a hand-made
 * curvature.csv. On a network (a tanh MLP on digits, watched along a few
 * gradient steps so that each watch starts warm from the last), every value
 * against the same quantity computed from scratch. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ckpt.h"
#include "core/vec.h"
#include "data/dataset.h"
#include "linalg/lanczos.h"
#include "linalg/operators.h"
#include "nn/net.h"
#include "precond/geom.h"
#include "precond/precond.h"
#include "optim/watch.h"

#define PH_TEST_TMP_PREFIX "/tmp/ph_watch_test"
#include "../common/ph_test_tmp.h"

/* n = 200: a weight block of 150 and a bias block of 50, a_i spread over
 * [0.01, 10] with distinct values */
#define NQ 200
static double A[NQ];

static ph_status lg(void *ctx, const double *th, const ph_batch *b,
                    double *loss, double *g, ph_error *err) {
  (void)ctx, (void)b, (void)err;
  double L = 0;
  for (int i = 0; i < NQ; i++) {
    L += 0.5 * A[i] * th[i] * th[i];
    if (g) g[i] = A[i] * th[i];
  }
  *loss = L;
  return PH_OK;
}
static ph_status hv(void *ctx, const double *th, const ph_batch *b,
                    const double *v, double *out, ph_error *err) {
  (void)ctx, (void)th, (void)b, (void)err;
  for (int i = 0; i < NQ; i++) out[i] = A[i] * v[i];
  return PH_OK;
}
static ph_block BL[2] = {{"w", 0, 150, 2, {10, 15}, PH_BLOCK_WEIGHT, 15, 10},
                         {"b", 150, 50, 1, {50}, PH_BLOCK_BIAS, 1, 50}};
static ph_objective OBJ = {"diag", NQ,   2,    BL,   {0, 0}, 0,
                           NULL,   lg,   hv,   NULL, NULL,   NULL,
                           NULL,   NULL, NULL, NULL, NULL,   NULL};

static void setup(void) {
  for (int i = 0; i < NQ; i++)
    A[i] = 0.01 + 10.0 * (double)((i * 37) % NQ) / (double)NQ;
}

static double amax_over(int lo, int hi) {
  double m = -INFINITY;
  for (int i = lo; i < hi; i++) m = fmax(m, A[i]);
  return m;
}

/* closed forms; Lanczos at tol 1e-3 (relative residual r) gets eigenvalues
 * to about r²·gap⁻¹·λ, well inside 1e-3 relative */
static void test_watch_values(void **s) {
  (void)s;
  setup();
  double p[NQ], pa[NQ], th[NQ];
  for (int i = 0; i < NQ; i++) {
    p[i] = 1.0 / (1 + (double)(i % 7));
    pa[i] = p[i] * A[i];
    th[i] = 0.1;
  }
  /* the three largest p·a and their indices */
  int top[3] = {-1, -1, -1};
  for (int j = 0; j < 3; j++)
    for (int i = 0; i < NQ; i++) {
      if (i == top[0] || i == top[1]) continue;
      if (top[j] < 0 || pa[i] > pa[top[j]]) top[j] = i;
    }
  ph_error err = {0};
  ph_precond *P;
  assert_int_equal(ph_precond_diag_create(NQ, p, &P, &err), PH_OK);
  assert_non_null(P);
  ph_watch_config wc = ph_watch_config_default();
  wc.every = 1;
  ph_watch *w;
  assert_int_equal(ph_watch_create(&wc, &OBJ, 1, &w, &err), PH_OK);
  assert_string_equal(ph_watch_header(w),
                      "step,lr,momentum,loss,lmax_h,lmax_pc,pi_1,pi_2,pi_3,"
                      "kappa_loc,trace,trace_se,lmax_w,products");
  size_t nc = ph_watch_ncols(w);
  assert_int_equal(nc, 14);
  double v[14];
  assert_int_equal(ph_watch_measure(w, &OBJ, th, P, 7, 0.05, 0.9, v, &err),
                   PH_OK);
  double tr = 0;
  for (int i = 0; i < NQ; i++) tr += A[i];
  assert_true(v[0] == 7 && v[1] == 0.05 && v[2] == 0.9);
  assert_true(fabs(v[4] - amax_over(0, NQ)) < 1e-3 * v[4]);
  assert_true(v[5] == v[6]);
  for (int j = 0; j < 3; j++)
    if (fabs(v[6 + j] - pa[top[j]]) > 1e-3 * pa[top[j]])
      fail_msg("pi_%d = %g, want %g", j + 1, v[6 + j], pa[top[j]]);
  /* the top pothole direction is e_top[0]: vᵀHv = a there (its vector is
   * converged to ~sqrt(tol), so a to ~tol·max a) */
  assert_true(fabs(v[9] - A[top[0]]) < 1e-2 * A[top[0]]);
  assert_true(fabs(v[10] - tr) < 1e-9 * tr && v[11] < 1e-9 * tr);
  assert_true(fabs(v[12] - amax_over(0, 150)) < 1e-3 * v[12]);
  assert_true(v[13] > 0);
  /* without a preconditioner: NaN for every P quantity */
  ph_watch *w0;
  assert_int_equal(ph_watch_create(&wc, &OBJ, 0, &w0, &err), PH_OK);
  assert_int_equal(ph_watch_measure(w0, &OBJ, th, NULL, 7, 0.05, 0.9, v, &err),
                   PH_OK);
  for (int j = 5; j < 10; j++) assert_true(isnan(v[j]));
  assert_true(fabs(v[4] - amax_over(0, NQ)) < 1e-3 * v[4]);
  ph_watch_free(w0);
  ph_watch_free(w);
  ph_precond_free(P);
}

/* A second watch at the same θ starts from the first one's eigenvectors and
 * must converge in fewer products (one Lanczos cycle per operator); a
 * watcher restored from a checkpoint after the first watch must produce the
 * second watch's row exactly. */
static void test_watch_warm_and_resume(void **s) {
  (void)s;
  setup();
  double th[NQ], p[NQ];
  for (int i = 0; i < NQ; i++) th[i] = 0.1, p[i] = 1.0 / (1 + (double)(i % 5));
  ph_error err = {0};
  ph_precond *P;
  assert_int_equal(ph_precond_diag_create(NQ, p, &P, &err), PH_OK);
  ph_watch_config wc = ph_watch_config_default();
  wc.every = 1;
  ph_watch *w, *r;
  assert_int_equal(ph_watch_create(&wc, &OBJ, 1, &w, &err), PH_OK);
  assert_int_equal(ph_watch_create(&wc, &OBJ, 1, &r, &err), PH_OK);
  double v1[14], v2[14], v3[14];
  assert_int_equal(ph_watch_measure(w, &OBJ, th, P, 1, 0.05, 0.9, v1, &err),
                   PH_OK);
  ph_ckpt *ck = NULL;
  assert_int_equal(ph_ckpt_create(&ck, &err), PH_OK);
  assert_int_equal(ph_watch_save(w, ck, &err), PH_OK);
  char path[512];
  snprintf(path, sizeof path, "%s", tpath("w.ckpt"));
  assert_int_equal(ph_ckpt_write(ck, path, &err), PH_OK);
  ph_ckpt_free(ck);
  assert_int_equal(ph_watch_measure(w, &OBJ, th, P, 2, 0.05, 0.9, v2, &err),
                   PH_OK);
  /* products: the last column; the trace's 16 probes are the same both
   * times, the Lanczos runs must be cheaper */
  print_message("products per watch: cold %g, warm %g\n", v1[13], v2[13]);
  if (!(v2[13] < v1[13] - 16))
    fail_msg("warm watch took %g products, cold %g", v2[13], v1[13]);
  assert_int_equal(ph_ckpt_read(path, &ck, &err), PH_OK);
  assert_int_equal(ph_watch_load(r, ck, &err), PH_OK);
  ph_ckpt_free(ck);
  assert_int_equal(ph_watch_measure(r, &OBJ, th, P, 2, 0.05, 0.9, v3, &err),
                   PH_OK);
  assert_memory_equal(v2, v3, sizeof v2);
  ph_watch_free(w);
  ph_watch_free(r);
  ph_precond_free(P);
}

/* Events from a hand-made curvature.csv, threshold 2(1 + 0.9)/0.1 = 38:
 * step 0 above (event, the next row has lower π and loss: left), 10 still
 * above (no new event), 20 below, 30 above (event; 40 has lower π but a
 * higher loss: stayed), 40 below, 50 above (event, last row: open). A fixed
 * threshold of 45 gives the same three (π 50, 46, 60; 40 is below it); 55
 * only the last. */
static void test_events(void **s) {
  (void)s;
  char path[512];
  snprintf(path, sizeof path, "%s/curvature.csv", tmpdir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("step,lr,momentum,loss,lmax_h,lmax_pc,pi_1,kappa_loc,products\n"
        "0,0.1,0.9,2.0,5,50,50,3,1\n"
        "10,0.1,0.9,1.5,5,40,40,3,1\n"
        "20,0.1,0.9,1.0,5,30,30,3,1\n"
        "30,0.1,0.9,0.9,5,46,46,4,1\n"
        "40,0.1,0.9,1.1,5,20,20,3,1\n"
        "50,0.1,0.9,0.8,5,60,60,7,1\n",
        f);
  fclose(f);
  ph_error err = {0};
  ph_watch_event *ev;
  size_t n;
  assert_int_equal(ph_watch_events(tmpdir, 0, 0, &ev, &n, &err), PH_OK);
  assert_int_equal(n, 3);
  assert_true(ev[0].step == 0 && ev[0].pi == 50 && ev[0].left == 1 &&
              ev[0].next_step == 10 && ev[0].lambda == 3 &&
              fabs(ev[0].threshold - 38) < 1e-12);
  assert_true(ev[1].step == 30 && ev[1].left == 0 && ev[1].next_loss == 1.1);
  assert_true(ev[2].step == 50 && ev[2].left == -1 && ev[2].lambda == 7);
  free(ev);
  ph_watch_event_count c;
  assert_int_equal(ph_watch_count_events(path, 45, 0, &c, &err), PH_OK);
  assert_true(c.events == 3 && c.left == 1 && c.stayed == 1 && c.open == 1);
  assert_int_equal(ph_watch_count_events(path, 55, 0, &c, &err), PH_OK);
  assert_true(c.events == 1 && c.open == 1);
  /* Before the first refresh (steps < from_step) P is the identity and no
   * crossing counts: from step 10 the step-0 event is gone, and step 10
   * (π 40, below 45) is the first eligible watch, so step 30 still counts. */
  assert_int_equal(ph_watch_events(tmpdir, 45, 10, &ev, &n, &err), PH_OK);
  assert_int_equal(n, 2);
  assert_true(ev[0].step == 30 && ev[1].step == 50);
  free(ev);
  /* a first eligible watch above the threshold counts (step 30 at from 30) */
  assert_int_equal(ph_watch_count_events(path, 45, 30, &c, &err), PH_OK);
  assert_true(c.events == 2 && c.stayed == 1 && c.open == 1);
  assert_int_equal(ph_watch_count_events(path, 45, UINT64_MAX, &c, &err),
                   PH_OK);
  assert_true(c.events == 0);
  assert_true(ph_watch_first_fitted_step(50, 0) == 1 &&
              ph_watch_first_fitted_step(50, 1) == 51 &&
              ph_watch_first_fitted_step(0, 0) == UINT64_MAX);
  /* the shared CSV reader (core/csv.h): CRLF line ends and a blank line
   * read the same as the file above */
  f = fopen(path, "w");
  fputs("step,lr,momentum,loss,lmax_h,lmax_pc,pi_1,kappa_loc,products\r\n"
        "0,0.1,0.9,2.0,5,50,50,3,1\r\n\r\n"
        "10,0.1,0.9,1.5,5,40,40,3,1\r\n",
        f);
  fclose(f);
  assert_int_equal(ph_watch_events(tmpdir, 0, 0, &ev, &n, &err), PH_OK);
  assert_true(n == 1 && ev[0].left == 1 && ev[0].next_step == 10 &&
              ev[0].lambda == 3);
  free(ev);
  /* no pi_1 column: the run had no preconditioner */
  f = fopen(path, "w");
  fputs("step,lr,momentum,loss,lmax_h,lmax_pc,kappa_loc\n0,1,0,1,1,1,1\n", f);
  fclose(f);
  assert_int_equal(ph_watch_count_events(path, 0, 0, &c, &err), PH_ERR_ARG);
  assert_int_equal(ph_watch_count_events("/nonexistent/x", 0, 0, &c, &err),
                   PH_ERR_IO);
}

/* The top k eigenvalues of a from scratch: random start, tol 1e-10, the
 * verification cycle on (values, and vectors when vec is not NULL). */
static void ref_top(ph_linop *a, size_t k, double *val, double *vec) {
  ph_eig_config ec = ph_eig_config_default();
  ec.k = k;
  ec.tol = 1e-10;
  ec.seed = 99;
  ec.want_vectors = vec != NULL;
  ph_eig_result r = {0};
  ph_error err = {0};
  assert_int_equal(ph_lanczos_run(a, &ec, NULL, &r, &err), PH_OK);
  assert_true(r.all_converged && r.k == k);
  memcpy(val, r.values, k * sizeof *val);
  if (vec) memcpy(vec, r.vectors, k * a->n * sizeof *vec);
  ph_eig_result_free(&r);
}

/* |got - want| within rel·|want| (and rounding) */
static void near(const char *what, size_t step, double got, double want,
                 double rel) {
  if (!(fabs(got - want) <= rel * fabs(want) + 1e-12))
    fail_msg("step %zu: %s = %.12g, from scratch %.12g (tolerance %.3g)", step,
             what, got, want, rel * fabs(want));
}

/* The watch on a network against from-scratch computations, at five points
 * along gradient descent (each watch warm-started from the one before, so
 * the early stop is exercised on warm and cold starts). Tolerances, from
 * the watch's contract (watch.h): a Lanczos value stopped at relative
 * residual tol lies within tol·|θ| of an eigenvalue (|θ − λ| ≤ ‖Ay − θy‖),
 * and it must be the top one(s), so each λmax, π_j and per-layer λmax is
 * within tol of the from-scratch value (tol 1e-10). κ_loc = vᵀHv along the
 * top pothole direction v = P½w/‖P½w‖: by Davis-Kahan the watch's w is within
 * sin∠ ≤ tol·π_1/(π_1 − π_2) of the exact one, so ‖v − v*‖ ≤
 * 2·sqrt(cond P)·√2·sin∠ and |κ − κ*| ≤ 2·λmax(H)·‖v − v*‖. The trace is
 * Hutchinson's estimate: within 4 of its standard errors of the exact trace
 * Σ e_iᵀHe_i. With probes 0 and layers off the same λ's come out and the
 * trace and per-layer columns are NaN, for fewer products. */
static void test_watch_network(void **s) {
  (void)s;
  ph_data_options dopt = ph_data_options_default();
  dopt.max_train = 256;
  ph_error err = {0};
  ph_dataset *d;
  assert_int_equal(ph_dataset_load("digits", &dopt, &d, &err), PH_OK);
  ph_objective *o;
  assert_int_equal(ph_net_create("mlp:16:tanh", d, 64, &o, &err), PH_OK);
  size_t n = o->n;
  double *th = malloc(n * sizeof *th), *g = malloc(n * sizeof *g);
  double *p = malloc(n * sizeof *p), *e = calloc(n, sizeof *e);
  double *he = malloc(n * sizeof *he), *wv = malloc(3 * n * sizeof *wv);
  double *v = malloc(n * sizeof *v);
  assert_true(th && g && p && e && he && wv && v);
  assert_int_equal(ph_net_init_params(o, 5, th, &err), PH_OK);
  /* P = diag(p), cond 5 */
  for (size_t i = 0; i < n; i++) p[i] = 1.0 / (1 + (double)(i % 5));
  ph_precond *P;
  assert_int_equal(ph_precond_diag_create(n, p, &P, &err), PH_OK);
  ph_watch_config wc = ph_watch_config_default();
  wc.every = 1;
  wc.n = 128;
  ph_watch_config lean = wc;
  lean.probes = 0;
  lean.layers = 0;
  ph_watch *w, *wl;
  assert_int_equal(ph_watch_create(&wc, o, 1, &w, &err), PH_OK);
  assert_int_equal(ph_watch_create(&lean, o, 1, &wl, &err), PH_OK);
  size_t nc = ph_watch_ncols(w), k = wc.k, nl = 0;
  for (size_t b = 0; b < o->n_blocks; b++)
    nl += o->blocks[b].kind == PH_BLOCK_WEIGHT;
  assert_int_equal(nc, 6 + k + 3 + nl + 1);
  double *vals = malloc(nc * sizeof *vals), *lv = malloc(nc * sizeof *lv);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, 128};
  for (size_t step = 0; step < 5; step++) {
    assert_int_equal(ph_watch_measure(w, o, th, P, step, 0.5, 0, vals, &err),
                     PH_OK);
    assert_int_equal(ph_watch_measure(wl, o, th, P, step, 0.5, 0, lv, &err),
                     PH_OK);
    double tol = wc.tol, lh, pi[3];
    ph_op *h, *pc;
    assert_int_equal(ph_op_hessian_create(o, th, &b, &h, &err), PH_OK);
    ref_top(ph_op_linop(h), 1, &lh, NULL);
    near("lmax_h", step, vals[4], lh, tol);
    near("lean lmax_h", step, lv[4], lh, tol);
    ph_geom geo;
    ph_geom_init_precond(&geo, P);
    assert_int_equal(
        ph_op_sandwich_create(ph_op_linop(h), &geo.sqrt_P, &pc, &err), PH_OK);
    ref_top(ph_op_linop(pc), 3, pi, wv);
    near("lmax_pc", step, vals[5], pi[0], tol);
    for (size_t j = 0; j < k; j++) near("pi_j", step, vals[6 + j], pi[j], tol);
    near("lean pi_1", step, lv[6], pi[0], tol);
    /* κ_loc from the exact top pothole direction */
    assert_int_equal(ph_precond_sqrt_apply(P, wv, v, &err), PH_OK);
    ph_vec_scal(n, 1.0 / ph_vec_nrm2(n, v), v);
    assert_int_equal(ph_linop_apply(ph_op_linop(h), v, he, &err), PH_OK);
    double kap = ph_vec_dot(n, v, he);
    double sin_w = tol * pi[0] / (pi[0] - pi[1]);
    double kap_tol = 2 * lh * 2 * sqrt(5.0) * sqrt(2.0) * sin_w;
    if (!(fabs(vals[6 + k] - kap) <= kap_tol))
      fail_msg("step %zu: kappa_loc %g, from scratch %g (tolerance %g)", step,
               vals[6 + k], kap, kap_tol);
    /* the exact trace, one unit vector at a time */
    double tr = 0;
    for (size_t i = 0; i < n; i++) {
      e[i] = 1;
      assert_int_equal(ph_linop_apply(ph_op_linop(h), e, he, &err), PH_OK);
      tr += he[i];
      e[i] = 0;
    }
    assert_true(vals[8 + k] > 0);
    if (!(fabs(vals[7 + k] - tr) <= 4 * vals[8 + k]))
      fail_msg("step %zu: trace %g ± %g, exact %g", step, vals[7 + k],
               vals[8 + k], tr);
    assert_true(isnan(lv[7 + k]) && isnan(lv[8 + k]));
    /* each weight block's λmax */
    for (size_t bi = 0, l = 0; bi < o->n_blocks; bi++) {
      if (o->blocks[bi].kind != PH_BLOCK_WEIGHT) continue;
      ph_op *blk;
      double lb;
      assert_int_equal(ph_op_block_create(ph_op_linop(h), o->blocks[bi].offset,
                                          o->blocks[bi].size, &blk, &err),
                       PH_OK);
      ref_top(ph_op_linop(blk), 1, &lb, NULL);
      near(o->blocks[bi].name, step, vals[9 + k + l], lb, tol);
      assert_true(isnan(lv[9 + k + l]));
      ph_op_free(blk);
      l++;
    }
    print_message("step %zu: products %g, lean %g\n", step, vals[nc - 1],
                  lv[nc - 1]);
    assert_true(lv[nc - 1] < vals[nc - 1]);
    ph_op_free(pc);
    ph_op_free(h);
    /* a gradient step on the watch's batch */
    double loss;
    assert_int_equal(ph_objective_loss_grad(o, th, &b, &loss, g, &err), PH_OK);
    ph_vec_axpy(n, -0.5, g, th);
  }
  ph_watch_free(w);
  ph_watch_free(wl);
  ph_precond_free(P);
  ph_objective_free(o);
  ph_dataset_free(d);
  free(th), free(g), free(p), free(e), free(he), free(wv), free(v), free(vals);
  free(lv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_watch_values),
      cmocka_unit_test(test_watch_warm_and_resume),
      cmocka_unit_test(test_events),
      cmocka_unit_test(test_watch_network),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
