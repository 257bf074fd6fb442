/* test_watch.c: the curvature watch (src/optim/watch.c) on diagonal
 * quadratics, where every watched quantity has a closed form: H = diag(a),
 * so λmax(H) = max a, P½HP½ = diag(p·a) with pothole ratios the largest
 * p_i·a_i and local curvature a_i along the top one, the trace Σa (exact
 * with Rademacher probes on a diagonal: zᵀHz = Σ a_i z_i² = Σa, standard
 * error 0), and a weight block's λmax the largest a over it. Also: warm
 * starts cost fewer products than a random start, a checkpoint round trip
 * continues the same watch, and events read back from a hand-made
 * curvature.csv. */
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
static ph_objective OBJ = {"diag", NQ,   2,    BL,   {0, 0}, 0,    NULL, lg,
                           hv,     NULL, NULL, NULL, NULL,   NULL, NULL};

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
  assert_int_equal(ph_watch_events(tmpdir, 0, &ev, &n, &err), PH_OK);
  assert_int_equal(n, 3);
  assert_true(ev[0].step == 0 && ev[0].pi == 50 && ev[0].left == 1 &&
              ev[0].next_step == 10 && ev[0].lambda == 3 &&
              fabs(ev[0].threshold - 38) < 1e-12);
  assert_true(ev[1].step == 30 && ev[1].left == 0 && ev[1].next_loss == 1.1);
  assert_true(ev[2].step == 50 && ev[2].left == -1 && ev[2].lambda == 7);
  free(ev);
  ph_watch_event_count c;
  assert_int_equal(ph_watch_count_events(path, 45, &c, &err), PH_OK);
  assert_true(c.events == 3 && c.left == 1 && c.stayed == 1 && c.open == 1);
  assert_int_equal(ph_watch_count_events(path, 55, &c, &err), PH_OK);
  assert_true(c.events == 1 && c.open == 1);
  /* no pi_1 column: the run had no preconditioner */
  f = fopen(path, "w");
  fputs("step,lr,momentum,loss,lmax_h,lmax_pc,kappa_loc\n0,1,0,1,1,1,1\n", f);
  fclose(f);
  assert_int_equal(ph_watch_count_events(path, 0, &c, &err), PH_ERR_ARG);
  assert_int_equal(ph_watch_count_events("/nonexistent/x", 0, &c, &err),
                   PH_ERR_IO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_watch_values),
      cmocka_unit_test(test_watch_warm_and_resume),
      cmocka_unit_test(test_events),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
