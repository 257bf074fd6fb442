/* test_landscape_mlp.c: landscape pieces on a real network objective (a
 * tiny MLP from src/nn on a small hand-made classification set): filter
 * normalisation against the network's own block table, grid values equal
 * to direct evaluation bit for bit, thread-count invariance with objective
 * clones, and a resumed grid equal to an uninterrupted one. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/rng.h"
#include "core/vec.h"
#include "landscape/directions.h"
#include "landscape/grid.h"
#include "nn/net.h"

enum { N_TRAIN = 40, N_TEST = 16, N_IN = 5, N_CLASSES = 3 };

typedef struct mlp_fixture {
  ph_dataset data;
  ph_objective *o;
  double *theta, *d1, *d2;
} mlp_fixture;

static void make_data(ph_dataset *d) {
  memset(d, 0, sizeof *d);
  snprintf(d->spec, sizeof d->spec, "test-blobs");
  snprintf(d->name, sizeof d->name, "test-blobs");
  d->task = PH_TASK_CLASSIFY;
  d->n[0] = N_TRAIN;
  d->n[1] = N_TEST;
  d->in_ndim = 1;
  d->in_shape[0] = N_IN;
  d->in_size = N_IN;
  d->n_classes = N_CLASSES;
  d->n_targets = 1;
  ph_rng r = ph_rng_make(3, PH_RNG_STREAM_USER + 40);
  for (int s = 0; s < 2; s++) {
    d->x[s] = malloc(d->n[s] * N_IN * sizeof(double));
    d->y[s] = malloc(d->n[s] * sizeof(int32_t));
    for (size_t i = 0; i < d->n[s]; i++) {
      int32_t c = (int32_t)(i % N_CLASSES);
      d->y[s][i] = c;
      for (int k = 0; k < N_IN; k++)
        d->x[s][i * N_IN + k] = ph_rng_gauss(&r) + (k == c ? 2.0 : 0.0);
    }
  }
}

static int setup(void **state) {
  mlp_fixture *f = calloc(1, sizeof *f);
  make_data(&f->data);
  ph_error err = {0};
  ph_error_clear(&err);
  if (ph_net_create("mlp:8-6:tanh", &f->data, 64, &f->o, &err) != PH_OK) {
    fprintf(stderr, "ph_net_create: %s\n", err.msg);
    return -1;
  }
  size_t n = f->o->n;
  f->theta = malloc(n * sizeof(double));
  f->d1 = malloc(n * sizeof(double));
  f->d2 = malloc(n * sizeof(double));
  if (ph_net_init_params(f->o, 5, f->theta, &err) != PH_OK) return -1;
  ph_landscape_random_direction(f->o, f->theta, 1, 0, PH_DIR_NORM_FILTER, 0,
                                f->d1);
  ph_landscape_random_direction(f->o, f->theta, 1, 1, PH_DIR_NORM_FILTER, 0,
                                f->d2);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  mlp_fixture *f = *state;
  ph_objective_free(f->o);
  for (int s = 0; s < 2; s++) {
    free(f->data.x[s]);
    free(f->data.y[s]);
  }
  free(f->theta);
  free(f->d1);
  free(f->d2);
  free(f);
  return 0;
}

static void test_mlp_filter_norm(void **state) {
  mlp_fixture *f = *state;
  const ph_objective *o = f->o;
  int weights = 0;
  for (size_t b = 0; b < o->n_blocks; b++) {
    const ph_block *bl = &o->blocks[b];
    if (bl->kind == PH_BLOCK_WEIGHT) {
      weights++;
      assert_int_equal(bl->fan_in * bl->fan_out, bl->size);
      for (size_t r = 0; r < bl->fan_out; r++) {
        const double *t = f->theta + bl->offset + r * bl->fan_in;
        const double *d = f->d1 + bl->offset + r * bl->fan_in;
        double nt = ph_vec_nrm2(bl->fan_in, t), nd = ph_vec_nrm2(bl->fan_in, d);
        assert_true(fabs(nt - nd) <= 16 * DBL_EPSILON * nt);
      }
    } else if (bl->kind == PH_BLOCK_BIAS || bl->kind == PH_BLOCK_NORM) {
      for (size_t i = 0; i < bl->size; i++)
        assert_true(f->d1[bl->offset + i] == 0.0);
    }
  }
  assert_int_equal(weights, 3); /* 5->8->6->3 */
}

static void test_mlp_grid(void **state) {
  mlp_fixture *f = *state;
  enum { NX = 6, NY = 5, NP = NX * NY };
  ph_grid_axes ax = {NX, NY, -1.0, 1.0, -0.5, 1.5};
  ph_batch b = {PH_SPLIT_TRAIN, NULL, N_TRAIN};
  double l1[NP], a1[NP], l2[NP], a2[NP];
  ph_grid_options opt = ph_grid_options_default();
  ph_grid_stats st;
  ph_error err = {0};
  ph_error_clear(&err);
  assert_int_equal(ph_grid_eval(f->o, f->theta, f->d1, f->d2, &b, &ax, &opt, l1,
                                a1, &st, &err),
                   PH_OK);
  opt.threads = 2;
  assert_int_equal(ph_grid_eval(f->o, f->theta, f->d1, f->d2, &b, &ax, &opt, l2,
                                a2, &st, &err),
                   PH_OK);
  assert_memory_equal(l1, l2, sizeof l1);
  assert_memory_equal(a1, a2, sizeof a1);

  double xs[NX], ys[NY];
  ph_grid_axis(NX, ax.x_lo, ax.x_hi, xs);
  ph_grid_axis(NY, ax.y_lo, ax.y_hi, ys);
  size_t n = f->o->n;
  double *p = malloc(n * sizeof *p);
  for (size_t j = 0; j < NY; j += 2)
    for (size_t i = 0; i < NX; i += 3) {
      for (size_t k = 0; k < n; k++)
        p[k] = f->theta[k] + xs[i] * f->d1[k] + ys[j] * f->d2[k];
      double l, a;
      assert_int_equal(ph_objective_eval(f->o, p, &b, &l, &a, &err), PH_OK);
      assert_memory_equal(&l, &l1[j * NX + i], sizeof l);
      assert_memory_equal(&a, &a1[j * NX + i], sizeof a);
      assert_true(a >= 0.0 && a <= 1.0);
    }
  free(p);

  /* interrupted after 7 points, resumed with the other thread count */
  char path[] = "/tmp/ph_landscape_mlp.XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  unlink(path);
  opt.state_path = path;
  opt.stop_after = 7;
  ph_error_clear(&err);
  assert_int_equal(ph_grid_eval(f->o, f->theta, f->d1, f->d2, &b, &ax, &opt, l2,
                                a2, &st, &err),
                   PH_ERR_INTERRUPTED);
  opt.stop_after = 0;
  opt.threads = 1;
  ph_error_clear(&err);
  assert_int_equal(ph_grid_eval(f->o, f->theta, f->d1, f->d2, &b, &ax, &opt, l2,
                                a2, &st, &err),
                   PH_OK);
  assert_int_equal(st.resumed, 7);
  assert_memory_equal(l1, l2, sizeof l1);
  assert_memory_equal(a1, a2, sizeof a1);
  assert_true(access(path, F_OK) != 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mlp_filter_norm),
      cmocka_unit_test(test_mlp_grid),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
