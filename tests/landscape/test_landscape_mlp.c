/* test_landscape_mlp.c: landscape pieces on a real network objective (a
 * tiny MLP from src/nn on a small hand-made classification set): filter
 * normalisation against the network's own block table, direct grid values
 * (--direct) equal to evaluation bit for bit, grids by plane (the default:
 * the first layer's products computed once per grid) within the rounding
 * bound of evaluation (the centre too), thread-count
 * invariance with objective clones, and a resumed grid equal to an
 * uninterrupted one. */
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
  opt.direct = 1; /* eval at every point: the same bits as eval */
  ph_grid_stats st;
  ph_error err = {0};
  ph_error_clear(&err);
  assert_int_equal(ph_grid_eval(f->o, f->theta, f->d1, f->d2, &b, &ax, &opt, l1,
                                a1, &st, &err),
                   PH_OK);
  assert_int_equal(st.plane, 0);
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

/* ---- grids by plane ---- */

static double gam(double k) {
  const double u = DBL_EPSILON / 2;
  return k * u / (1 - k * u);
}

/* The logits y (K of them) of example x at θ(a, b) = θ0 + a e1 + b e2 (p)
 * and a bound E on each one's rounding error, for a dense tanh MLP. The
 * derivation (src/nn/net_obj.c, docs/landscape.md): each way's first layer
 * is within γ_{K+4}·M of the exact one, elementwise, with M = |X||W0|ᵀ +
 * |b0| + |a|(|X||D1|ᵀ + |b1|) + |b|(|X||D2|ᵀ + |b2|). The layers after it
 * read the same rounded θ(a, b) in both ways (in whatever order each sums
 * its K + 1 terms); an error E there propagates through tanh
 * (1-Lipschitz, its value within 8u|y|: the vector tanh is tested to 2 ulp
 * of libm) and through dense layers as E ← |W|E + γ_{K+1} (|b| + |W||y|).
 * Magnitudes come from a plain forward here: their own rounding changes
 * the bound in its second order only. */
static size_t logit_bounds(const ph_objective *o, const double *x, size_t n_in,
                           const double *theta, const double *e1,
                           const double *e2, const double *p, double a,
                           double b, double *y, double *E) {
  ph_mlp_layer L[4];
  size_t nl = 0;
  ph_error err = {0};
  ph_error_clear(&err);
  assert_int_equal(ph_net_mlp_layers(o, L, 4, &nl, &err), PH_OK);
  assert_true(nl >= 2);
  const double u = DBL_EPSILON / 2;
  double z[16], Ez[16];
  size_t K = n_in;
  for (size_t k = 0; k < K; k++) {
    y[k] = x[k];
    E[k] = 0;
  }
  for (size_t l = 0; l < nl; l++) {
    const ph_block *wb = &o->blocks[L[l].w_block];
    const ph_block *bb = &o->blocks[L[l].b_block];
    size_t J = wb->shape[0];
    assert_true(J <= 16 && wb->shape[1] == K);
    for (size_t j = 0; j < J; j++) {
      size_t bo = bb->offset + j;
      double zz = p[bo], absWy = fabs(p[bo]), absWE = 0, M = 0;
      for (size_t k = 0; k < K; k++) {
        size_t w = wb->offset + j * K + k;
        zz += p[w] * y[k];
        absWy += fabs(p[w]) * fabs(y[k]);
        absWE += fabs(p[w]) * E[k];
        if (l == 0)
          M += fabs(y[k]) *
               (fabs(theta[w]) + fabs(a) * fabs(e1[w]) + fabs(b) * fabs(e2[w]));
      }
      z[j] = zz;
      if (l == 0)
        Ez[j] =
            gam((double)K + 4) * (M + fabs(theta[bo]) + fabs(a) * fabs(e1[bo]) +
                                  fabs(b) * fabs(e2[bo]));
      else
        Ez[j] = absWE + gam((double)K + 1) * absWy;
    }
    K = J;
    for (size_t j = 0; j < J; j++) {
      if (strcmp(L[l].act, "tanh") == 0) {
        y[j] = tanh(z[j]);
        E[j] = Ez[j] + 8 * u * fabs(y[j]);
      } else {
        assert_string_equal(L[l].act, "identity");
        y[j] = z[j];
        E[j] = Ez[j];
      }
    }
  }
  return K;
}

/* A bound on |loss by plane − loss by eval| at θ(a, b) on the batch (the
 * first N_TRAIN examples) for the fixture's classifier: with each logit
 * within E of the exact one (logit_bounds), the cross-entropy lse(z) − z_y
 * moves by at most max_c E_c + E_y (lse is 1-Lipschitz in the max norm)
 * and rounds within γ_{C+16}(1 + 2 max|z| + |lse| + |ℓ|); the mean adds
 * γ_{N+1} Σ|ℓ|/N. Both ways are within that E_L of the exact loss, so they
 * differ by at most 2 E_L. *near counts the examples whose two largest
 * logits are within twice their error, the only ones the two ways may
 * classify differently. */
static double plane_bound(const mlp_fixture *f, const double *e1,
                          const double *e2, double a, double b, size_t *near) {
  const ph_objective *o = f->o;
  size_t n = o->n;
  double *p = malloc(n * sizeof *p);
  ph_grid_point(n, f->theta, e1, e2, a, b, p);
  double sum_E = 0, sum_l = 0;
  *near = 0;
  for (size_t i = 0; i < N_TRAIN; i++) {
    double y[16], E[16];
    size_t K = logit_bounds(o, f->data.x[0] + i * N_IN, N_IN, f->theta, e1, e2,
                            p, a, b, y, E);
    /* y: the K = N_CLASSES logits, E their bounds */
    int32_t c = f->data.y[0][i];
    double zmax = -INFINITY, amax = 0, Emax = 0, s = 0;
    size_t top = 0;
    for (size_t k = 0; k < K; k++) {
      if (y[k] > zmax) {
        zmax = y[k];
        top = k;
      }
      if (fabs(y[k]) > amax) amax = fabs(y[k]);
      if (E[k] > Emax) Emax = E[k];
    }
    for (size_t k = 0; k < K; k++) s += exp(y[k] - zmax);
    double lse = zmax + log(s), ell = lse - y[c];
    sum_E += Emax + E[c] +
             gam((double)K + 16) * (1 + 2 * amax + fabs(lse) + fabs(ell));
    sum_l += fabs(ell);
    for (size_t k = 0; k < K; k++)
      if (k != top && y[top] - y[k] <= 2 * (E[top] + E[k])) (*near)++;
  }
  free(p);
  return 2 * (sum_E + gam(N_TRAIN + 1) * sum_l) / N_TRAIN;
}

/* The same for a regression MLP (mean squared error Σ_c r_c²/C per
 * example, r = z − t): with z within E of the exact, each r² moves by at
 * most 2|r|E + E²; the head's own rounding (r, r², /C, then one running sum
 * of the N·C terms, the scale and the sum over chunks) stays within
 * γ_{N·C+8} of Σ r²/C. Both ways within E_L, so 2 E_L apart. */
static double plane_bound_mse(const ph_objective *o, const ph_dataset *d,
                              const double *theta, const double *e1,
                              const double *e2, double a, double b) {
  size_t n = o->n, C = d->n_out;
  double *p = malloc(n * sizeof *p);
  ph_grid_point(n, theta, e1, e2, a, b, p);
  double sum_E = 0, sum_l = 0;
  for (size_t i = 0; i < N_TRAIN; i++) {
    double y[16], E[16];
    size_t K =
        logit_bounds(o, d->x[0] + i * N_IN, N_IN, theta, e1, e2, p, a, b, y, E);
    assert_int_equal(K, C);
    for (size_t c = 0; c < C; c++) {
      double r = fabs(y[c] - d->t[0][i * C + c]);
      sum_E += (2 * r * E[c] + E[c] * E[c]) / (double)C;
      sum_l += r * r / (double)C;
    }
  }
  free(p);
  return 2 * (sum_E + gam((double)(N_TRAIN * C) + 8) * sum_l) / N_TRAIN;
}

/* A direction for the plane tests: every entry set (biases included, so a
 * dropped bias term or direction shows), N(0, 0.5²), freed by the caller. */
static double *gauss_dir(ph_rng *r, size_t n) {
  double *d = malloc(n * sizeof *d);
  assert_non_null(d);
  ph_rng_fill_gauss(r, d, n, 0.5);
  return d;
}

static void test_mlp_grid_plane(void **state) {
  mlp_fixture *f = *state;
  enum { NX = 7, NY = 5, NP = NX * NY };
  /* the axes hold 0 (x[3], y[2]): the centre is θ0 exactly */
  ph_grid_axes ax = {NX, NY, -1.0, 1.0, -1.0, 1.0};
  ph_batch b = {PH_SPLIT_TRAIN, NULL, N_TRAIN};
  size_t n = f->o->n;
  ph_rng r = ph_rng_make(11, PH_RNG_STREAM_USER + 41);
  double *e1 = gauss_dir(&r, n), *e2 = gauss_dir(&r, n);
  double ld[NP], ad[NP], lp[NP], ap[NP], l2[NP], a2[NP];
  ph_grid_options opt = ph_grid_options_default();
  ph_grid_stats st;
  ph_error err = {0};
  ph_error_clear(&err);
  opt.direct = 1;
  assert_int_equal(
      ph_grid_eval(f->o, f->theta, e1, e2, &b, &ax, &opt, ld, ad, &st, &err),
      PH_OK);
  assert_int_equal(st.plane, 0);
  opt.direct = 0;
  assert_int_equal(
      ph_grid_eval(f->o, f->theta, e1, e2, &b, &ax, &opt, lp, ap, &st, &err),
      PH_OK);
  assert_int_equal(st.plane, 1);

  double xs[NX], ys[NY];
  ph_grid_axis(NX, ax.x_lo, ax.x_hi, xs);
  ph_grid_axis(NY, ax.y_lo, ax.y_hi, ys);
  /* the centre θ0 too is within the bound only: the plane's first layer
   * there is eval's own product, but the layers after it sum the bias
   * first (ph_nn_dense_forward_t) */
  assert_true(xs[3] == 0.0 && ys[2] == 0.0);
  int differ = 0;
  for (size_t j = 0; j < NY; j++)
    for (size_t i = 0; i < NX; i++) {
      size_t k = j * NX + i, near = 0;
      double tol = plane_bound(f, e1, e2, xs[i], ys[j], &near);
      double d = fabs(lp[k] - ld[k]);
      if (!(d <= tol))
        fail_msg("point (%zu, %zu): plane %.17g, eval %.17g, |diff| %.3g > "
                 "bound %.3g",
                 i, j, lp[k], ld[k], d, tol);
      assert_true(tol < 1e-12 * fabs(ld[k]) + 1e-12); /* the bound is tight */
      assert_true(fabs(ap[k] - ad[k]) <= (double)near / N_TRAIN);
      differ += lp[k] != ld[k];
    }
  (void)differ; /* the two ways may agree to the bit anywhere */

  /* 1-D: the line θ0 + a e1 */
  ph_grid_axes ax1 = {NX, 1, -1.0, 1.0, 0, 0};
  double l1d[NX], a1d[NX], l1p[NX], a1p[NX];
  opt.direct = 1;
  assert_int_equal(ph_grid_eval(f->o, f->theta, e1, NULL, &b, &ax1, &opt, l1d,
                                a1d, &st, &err),
                   PH_OK);
  opt.direct = 0;
  assert_int_equal(ph_grid_eval(f->o, f->theta, e1, NULL, &b, &ax1, &opt, l1p,
                                a1p, &st, &err),
                   PH_OK);
  assert_int_equal(st.plane, 1);
  double *zero = calloc(n, sizeof *zero);
  for (size_t i = 0; i < NX; i++) {
    size_t near = 0;
    double tol = plane_bound(f, e1, zero, xs[i], 0.0, &near);
    assert_true(fabs(l1p[i] - l1d[i]) <= tol);
  }
  free(zero);

  /* threads and resume: the same bits by plane as by plane */
  opt.threads = 2;
  assert_int_equal(
      ph_grid_eval(f->o, f->theta, e1, e2, &b, &ax, &opt, l2, a2, &st, &err),
      PH_OK);
  assert_memory_equal(lp, l2, sizeof lp);
  assert_memory_equal(ap, a2, sizeof ap);
  char path[] = "/tmp/ph_landscape_plane.XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  unlink(path);
  opt.state_path = path;
  opt.stop_after = 9;
  ph_error_clear(&err);
  assert_int_equal(
      ph_grid_eval(f->o, f->theta, e1, e2, &b, &ax, &opt, l2, a2, &st, &err),
      PH_ERR_INTERRUPTED);
  /* the state by plane is not finished by eval: another fingerprint */
  opt.stop_after = 0;
  opt.direct = 1;
  ph_error_clear(&err);
  assert_int_equal(
      ph_grid_eval(f->o, f->theta, e1, e2, &b, &ax, &opt, l2, a2, &st, &err),
      PH_ERR_ARG);
  opt.direct = 0;
  opt.threads = 1;
  ph_error_clear(&err);
  assert_int_equal(
      ph_grid_eval(f->o, f->theta, e1, e2, &b, &ax, &opt, l2, a2, &st, &err),
      PH_OK);
  assert_int_equal(st.resumed, 9);
  assert_memory_equal(lp, l2, sizeof lp);
  assert_memory_equal(ap, a2, sizeof ap);
  assert_true(access(path, F_OK) != 0);

  /* the objective's plane ops by hand: eval's loss at θ0 + a e1 + b e2, and
   * other products between prepare and plane_eval change nothing */
  const ph_objective *o = f->o;
  assert_int_equal(o->plane_prepare(o->ctx, f->theta, e1, e2, &b, &err), PH_OK);
  double *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
  double la, lb, aa, ab, lg;
  ph_grid_point(n, f->theta, e1, e2, 0.25, -0.5, p);
  assert_int_equal(o->plane_eval(o->ctx, p, 0.25, -0.5, &la, &aa, &err), PH_OK);
  assert_int_equal(o->loss_grad(o->ctx, f->theta, &b, &lg, g, &err), PH_OK);
  assert_int_equal(o->plane_eval(o->ctx, p, 0.25, -0.5, &lb, &ab, &err), PH_OK);
  assert_memory_equal(&la, &lb, sizeof la);
  assert_memory_equal(&aa, &ab, sizeof aa);
  size_t near = 0;
  double ref, refa;
  assert_int_equal(o->eval(o->ctx, p, &b, &ref, &refa, &err), PH_OK);
  assert_true(fabs(la - ref) <= plane_bound(f, e1, e2, 0.25, -0.5, &near));
  o->plane_release(o->ctx);
  assert_int_equal(o->plane_eval(o->ctx, p, 0.25, -0.5, &la, &aa, &err),
                   PH_ERR_ARG);
  free(p);
  free(g);
  free(e1);
  free(e2);
}

/* A grid by plane on a batch of several chunks (max_batch 16 for 40
 * examples: the plane keeps eval's chunks and their order), within the
 * same bound; a regression MLP (mean squared error: the plane keeps the
 * targets), within its bound; a CNN, whose first layer is not
 * dense: the grid evaluates directly, the same bits as eval. */
static void test_mlp_grid_plane_kinds(void **state) {
  mlp_fixture *f = *state;
  enum { NX = 5, NY = 3, NP = NX * NY };
  ph_grid_axes ax = {NX, NY, -1.0, 1.0, -1.0, 1.0};
  ph_batch b = {PH_SPLIT_TRAIN, NULL, N_TRAIN};
  size_t n = f->o->n;
  ph_rng r = ph_rng_make(12, PH_RNG_STREAM_USER + 42);
  double *e1 = gauss_dir(&r, n), *e2 = gauss_dir(&r, n);
  double ld[NP], ad[NP], lp[NP], ap[NP], xs[NX], ys[NY];
  ph_grid_axis(NX, ax.x_lo, ax.x_hi, xs);
  ph_grid_axis(NY, ax.y_lo, ax.y_hi, ys);
  ph_grid_options opt = ph_grid_options_default(), dir = opt;
  dir.direct = 1;
  ph_grid_stats st;
  ph_error err = {0};
  ph_error_clear(&err);

  ph_objective *o = NULL;
  assert_int_equal(ph_net_create("mlp:8-6:tanh", &f->data, 16, &o, &err),
                   PH_OK);
  assert_int_equal(o->n, n);
  assert_int_equal(
      ph_grid_eval(o, f->theta, e1, e2, &b, &ax, &dir, ld, ad, &st, &err),
      PH_OK);
  assert_int_equal(
      ph_grid_eval(o, f->theta, e1, e2, &b, &ax, &opt, lp, ap, &st, &err),
      PH_OK);
  assert_int_equal(st.plane, 1);
  for (size_t j = 0; j < NY; j++)
    for (size_t i = 0; i < NX; i++) {
      size_t near = 0, k = j * NX + i;
      assert_true(fabs(lp[k] - ld[k]) <=
                  plane_bound(f, e1, e2, xs[i], ys[j], &near));
    }
  ph_objective_free(o);

  /* regression: y = x's first two coordinates */
  ph_dataset rd = f->data;
  rd.task = PH_TASK_REGRESS;
  rd.n_classes = 0;
  rd.n_out = 2;
  rd.n_targets = 1;
  double *t = malloc(N_TRAIN * 2 * sizeof *t);
  for (size_t i = 0; i < N_TRAIN; i++)
    for (size_t c = 0; c < 2; c++) t[i * 2 + c] = f->data.x[0][i * N_IN + c];
  rd.t[0] = t;
  rd.y[0] = rd.y[1] = NULL;
  rd.n[1] = 0;
  rd.x[1] = NULL;
  assert_int_equal(ph_net_create("mlp:8:tanh", &rd, 16, &o, &err), PH_OK);
  double *th = malloc(o->n * sizeof *th);
  assert_int_equal(ph_net_init_params(o, 6, th, &err), PH_OK);
  double *g1 = gauss_dir(&r, o->n), *g2 = gauss_dir(&r, o->n);
  assert_int_equal(
      ph_grid_eval(o, th, g1, g2, &b, &ax, &dir, ld, ad, &st, &err), PH_OK);
  assert_int_equal(
      ph_grid_eval(o, th, g1, g2, &b, &ax, &opt, lp, ap, &st, &err), PH_OK);
  assert_int_equal(st.plane, 1);
  for (size_t j = 0; j < NY; j++)
    for (size_t i = 0; i < NX; i++) {
      size_t k = j * NX + i;
      double tol = plane_bound_mse(o, &rd, th, g1, g2, xs[i], ys[j]);
      assert_true(fabs(lp[k] - ld[k]) <= tol);
      assert_true(tol < 1e-12 * fabs(ld[k])); /* the bound is tight */
    }
  assert_true(isnan(ap[0]) && isnan(ad[0]));
  ph_objective_free(o);
  free(th);
  free(g1);
  free(g2);
  free(t);

  /* a CNN on 1×4×4 images: no plane, eval's bits */
  ph_dataset id;
  memset(&id, 0, sizeof id);
  snprintf(id.spec, sizeof id.spec, "test-images");
  snprintf(id.name, sizeof id.name, "test-images");
  id.task = PH_TASK_CLASSIFY;
  id.n[0] = N_TRAIN;
  id.in_ndim = 3;
  id.in_shape[0] = 1;
  id.in_shape[1] = id.in_shape[2] = 4;
  id.in_size = 16;
  id.n_classes = N_CLASSES;
  id.n_targets = 1;
  id.x[0] = malloc(N_TRAIN * 16 * sizeof(double));
  ph_rng_fill_gauss(&r, id.x[0], N_TRAIN * 16, 1.0);
  id.y[0] = f->data.y[0];
  assert_int_equal(ph_net_create("cnn:c2k3-p2:tanh", &id, 64, &o, &err), PH_OK);
  th = malloc(o->n * sizeof *th);
  assert_int_equal(ph_net_init_params(o, 7, th, &err), PH_OK);
  g1 = gauss_dir(&r, o->n);
  g2 = gauss_dir(&r, o->n);
  assert_int_equal(o->plane_prepare(o->ctx, th, g1, g2, &b, &err),
                   PH_ERR_UNSUPPORTED);
  ph_error_clear(&err);
  assert_int_equal(
      ph_grid_eval(o, th, g1, g2, &b, &ax, &opt, lp, ap, &st, &err), PH_OK);
  assert_int_equal(st.plane, 0);
  double *p = malloc(o->n * sizeof *p), l, a;
  ph_grid_point(o->n, th, g1, g2, xs[4], ys[0], p);
  assert_int_equal(ph_objective_eval(o, p, &b, &l, &a, &err), PH_OK);
  assert_memory_equal(&l, &lp[4], sizeof l);
  assert_memory_equal(&a, &ap[4], sizeof a);
  ph_objective_free(o);
  free(p);
  free(th);
  free(g1);
  free(g2);
  free(id.x[0]);
  free(e1);
  free(e2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mlp_filter_norm),
      cmocka_unit_test(test_mlp_grid),
      cmocka_unit_test(test_mlp_grid_plane),
      cmocka_unit_test(test_mlp_grid_plane_kinds),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
