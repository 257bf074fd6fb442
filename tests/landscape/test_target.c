/* test_target.c: landscape/target.h and precond/geom.h's loader -- a toy
 * target at the origin, its pit, its basin and given coordinates, the usage
 * errors, and the averaged geometry read from a .npy, a run directory
 * (diagonal and Kronecker) and a toy's fitted basin. The diagonal route must
 * be correctly rounded: P^{1/2} v and P⁻¹ v are compared bit for bit with
 * sqrt(p_i) v_i and v_i / p_i, which IEEE 754 rounds exactly, so any other
 * formula (pow, a reciprocal times v) shows up as a last-bit difference. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/afile.h"
#include "core/npy.h"
#include "core/rng.h"
#include "landscape/target.h"
#include "precond/precond.h"

#define PH_TEST_TMP_PREFIX "/tmp/ph_target_test"
#include "../common/ph_test_tmp.h"

static const char *TOY = "pothole2d:a=0.2,b=0.2,cx=2.5";

static void test_toy_points(void **state) {
  (void)state;
  ph_error err = {0};
  ph_target t;
  ph_target_spec s = {.landscape = TOY, .max_batch = 1};
  assert_int_equal(ph_target_load(&s, &t, &err), PH_OK);
  assert_int_equal(t.obj->n, 2);
  assert_true(t.theta[0] == 0 && t.theta[1] == 0); /* the origin */
  assert_null(t.ckpt);
  assert_non_null(strstr(t.landscape, "pothole2d"));
  ph_toy_geometry geo;
  assert_int_equal(ph_toy_geometry_get(t.obj, &geo, &err), PH_OK);
  ph_target_free(&t);
  s.at = "pit";
  assert_int_equal(ph_target_load(&s, &t, &err), PH_OK);
  assert_memory_equal(t.theta, geo.pit, 2 * sizeof(double));
  ph_target_free(&t);
  s.at = "basin";
  assert_int_equal(ph_target_load(&s, &t, &err), PH_OK);
  assert_memory_equal(t.theta, geo.basin, 2 * sizeof(double));
  ph_target_free(&t);
  ph_toy_geometry_free(&geo);
  s.at = "0.25,-1e-3";
  assert_int_equal(ph_target_load(&s, &t, &err), PH_OK);
  assert_true(t.theta[0] == 0.25 && t.theta[1] == -1e-3);
  ph_target_free(&t);
}

static void test_usage_errors(void **state) {
  (void)state;
  ph_error err = {0};
  ph_target t;
  const ph_target_spec bad[] = {
      {.landscape = TOY, .at = "1"},         /* one coordinate of two */
      {.landscape = TOY, .at = "1,2,3"},     /* three */
      {.landscape = TOY, .at = "1,0x2"},     /* not a decimal */
      {.landscape = TOY, .at = "1,nan"},     /* not finite */
      {.landscape = TOY, .at = "1,"},        /* empty item */
      {.landscape = "pothole2d:zz=1"},       /* unknown key */
      {.landscape = TOY, .ckpt = "a.ckpt"},  /* both */
      {.max_batch = 1},                      /* neither */
      {.ckpt = "a.ckpt", .at = "pit"},       /* --at without a toy */
      {.landscape = TOY, .data = "digits"}}; /* --data without a network */
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ph_error_clear(&err);
    assert_int_equal(ph_target_load(&bad[i], &t, &err), PH_ERR_ARG);
    assert_true(err.msg[0] != '\0');
    assert_null(t.obj); /* left empty */
    ph_target_free(&t);
  }
  /* a missing checkpoint is a runtime error (exit 1), not a usage one */
  ph_target_spec miss = {.ckpt = tpath("none.ckpt"), .max_batch = 8};
  ph_error_clear(&err);
  ph_status st = ph_target_load(&miss, &t, &err);
  assert_true(st != PH_OK && st != PH_ERR_ARG);
  assert_non_null(strstr(err.msg, "none.ckpt"));
}

/* P v, P^{1/2} v, P⁻¹ v of g against the correctly rounded diagonal d. */
static void check_diag_route(const ph_geom *g, const double *d, size_t n) {
  double v[16], o1[16], o2[16], o3[16];
  ph_rng r = ph_rng_make(7, PH_RNG_STREAM_USER + 1);
  ph_rng_fill_gauss(&r, v, n, 1.0);
  ph_error err = {0};
  assert_int_equal(ph_linop_apply_const(&g->P, v, o1, &err), PH_OK);
  assert_int_equal(ph_linop_apply_const(&g->sqrt_P, v, o2, &err), PH_OK);
  assert_int_equal(ph_linop_apply_const(&g->inv_P, v, o3, &err), PH_OK);
  for (size_t i = 0; i < n; i++) {
    double p = d[i] > PH_PRECOND_EIG_FLOOR ? d[i] : PH_PRECOND_EIG_FLOOR;
    assert_true(o1[i] == p * v[i]);
    assert_true(o2[i] == sqrt(p) * v[i]);
    assert_true(o3[i] == v[i] / p);
  }
}

static void test_geom_load(void **state) {
  (void)state;
  ph_error err = {0};
  ph_geom g;
  /* a diagonal with entries that pow(u, -1) or pow(u, 0.5) could round
   * differently, and one below the floor */
  double d[8] = {3.0, 0.1, 7.0 / 3.0, 1e-12, 2.5e5, 0.7, 11.0, 1e-3};
  const char *npy = tpath("u.npy");
  assert_int_equal(ph_npy_write_vec(npy, d, 8, &err), PH_OK);
  assert_int_equal(ph_geom_load(&g, npy, 8, 0, NULL, &err), PH_OK);
  assert_non_null(g.own_diag);
  check_diag_route(&g, d, 8);
  ph_geom_free(&g);
  ph_geom_free(&g); /* empty: a no-op */
  /* a run directory with precond.json kind diag takes the same route */
  ph_precond *pd;
  assert_int_equal(ph_precond_diag_create(8, d, &pd, &err), PH_OK);
  assert_non_null(pd);
  const char *run = tpath("run");
  assert_int_equal(ph_mkdir_p(run, &err), PH_OK);
  assert_int_equal(ph_precond_save(pd, run, &err), PH_OK);
  ph_precond_free(pd);
  assert_int_equal(ph_geom_load(&g, run, 8, 0, NULL, &err), PH_OK);
  check_diag_route(&g, d, 8);
  ph_geom_free(&g);
  /* Kronecker: the structured products, bit for bit */
  ph_block bl[2] = {{"w", 0, 6, 2, {2, 3}, PH_BLOCK_WEIGHT, 3, 2},
                    {"b", 6, 2, 1, {2}, PH_BLOCK_BIAS, 1, 2}};
  ph_precond *pk;
  assert_int_equal(ph_precond_create(8, 2, bl, PH_PRECOND_KRON, &pk, &err),
                   PH_OK);
  double flat[15] = {2, 0.5, 0.5, 1,   3,   0.2, 0,  0.2,
                     1, 0.1, 0,   0.1, 0.5, 0.7, 1.9};
  assert_int_equal(ph_precond_from_flat(pk, flat, 15, &err), PH_OK);
  const char *runk = tpath("runk");
  assert_int_equal(ph_mkdir_p(runk, &err), PH_OK);
  assert_int_equal(ph_precond_save(pk, runk, &err), PH_OK);
  assert_int_equal(ph_geom_load(&g, runk, 8, 2, bl, &err), PH_OK);
  assert_null(g.own_diag);
  double v[8] = {1, -2, 3, 0.5, -0.25, 4, 1.5, -1}, a[8], b[8];
  assert_int_equal(ph_linop_apply_const(&g.sqrt_P, v, a, &err), PH_OK);
  assert_int_equal(ph_precond_sqrt_apply(pk, v, b, &err), PH_OK);
  assert_memory_equal(a, b, sizeof a);
  ph_geom_free(&g);
  ph_precond_free(pk);
  /* wrong length and a missing file: errors naming the file, g empty */
  ph_error_clear(&err);
  assert_int_equal(ph_geom_load(&g, npy, 9, 0, NULL, &err), PH_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "u.npy"));
  assert_null(g.own_diag);
  ph_error_clear(&err);
  assert_true(ph_geom_load(&g, tpath("no.npy"), 8, 0, NULL, &err) != PH_OK);
  assert_non_null(strstr(err.msg, "no.npy"));
}

static void test_toy_basin_geom(void **state) {
  (void)state;
  ph_error err = {0};
  ph_target t;
  ph_target_spec s = {.landscape = TOY, .at = "pit"};
  assert_int_equal(ph_target_load(&s, &t, &err), PH_OK);
  ph_geom g;
  assert_int_equal(ph_target_geom_load(&t, "basin", &g, &err), PH_OK);
  double lam[2], d[2];
  assert_int_equal(ph_toy_basin_curvature(t.obj, lam, &err), PH_OK);
  for (int i = 0; i < 2; i++) d[i] = 1.0 / lam[i];
  check_diag_route(&g, d, 2);
  ph_geom_free(&g);
  ph_target_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_toy_points),
      cmocka_unit_test(test_usage_errors),
      cmocka_unit_test(test_geom_load),
      cmocka_unit_test(test_toy_basin_geom),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
