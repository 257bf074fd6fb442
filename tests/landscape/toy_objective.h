/* toy_objective.h: a small objective with a block table for the landscape
 * tests (header-only, test use). L(θ) = mean_e ½(θ−c_e)ᵀA(θ−c_e)
 * + κ Σ_i cos θ_i over E examples per split; H = A − κ diag(cos θ).
 * Blocks: "w" weight (3, 4), "b" bias (3), "ln" norm (2): n = 17.
 * Accuracy: fraction of examples whose own loss is below 5.
 * Options: an eval counter shared by clones, a per-eval sleep (for kill
 * tests), a radius beyond which eval returns NaN, and a file the first
 * eval watches for while it lasts (no point is finished then). */
#ifndef PH_TEST_TOY_OBJECTIVE_H
#define PH_TEST_TOY_OBJECTIVE_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/objective.h"
#include "core/rng.h"

#define TOY_N 17
#define TOY_E 5

typedef struct toy_shared {
  double A[TOY_N * TOY_N];    /* (n, n) symmetric */
  double c[2][TOY_E * TOY_N]; /* (E, n) per split */
  double kappa;
  size_t evals; /* atomic counter over all clones */
  unsigned sleep_us;
  double nan_radius; /* 0: never */
  /* set: the first eval lasts 1 s and sets watch_seen if this file
   * exists meanwhile */
  const char *watch;
  int watch_seen;
} toy_shared;

static const ph_block toy_blocks[3] = {
    {"w", 0, 12, 2, {3, 4, 0, 0}, PH_BLOCK_WEIGHT, 4, 3},
    {"b", 12, 3, 1, {3, 0, 0, 0}, PH_BLOCK_BIAS, 1, 3},
    {"ln", 15, 2, 1, {2, 0, 0, 0}, PH_BLOCK_NORM, 1, 2},
};

static double toy_example_loss(const toy_shared *s, const double *theta,
                               const double *c) {
  double r[TOY_N], q = 0;
  for (int i = 0; i < TOY_N; i++) r[i] = theta[i] - c[i];
  for (int i = 0; i < TOY_N; i++) {
    double ar = 0;
    for (int j = 0; j < TOY_N; j++) ar += s->A[i * TOY_N + j] * r[j];
    q += 0.5 * r[i] * ar;
  }
  return q;
}

static ph_status toy_eval(void *ctx, const double *theta, const ph_batch *b,
                          double *loss, double *acc, ph_error *err) {
  toy_shared *s = ctx;
  size_t before = __atomic_fetch_add(&s->evals, 1, __ATOMIC_RELAXED);
  if (s->sleep_us) usleep(s->sleep_us);
  for (int k = 0; s->watch && before == 0 && k < 100; k++) {
    if (access(s->watch, F_OK) == 0)
      __atomic_store_n(&s->watch_seen, 1, __ATOMIC_RELAXED);
    usleep(10000);
  }
  double l = 0, a = 0, nrm = 0;
  for (int i = 0; i < TOY_N; i++) nrm += theta[i] * theta[i];
  for (size_t e = 0; e < b->n; e++) {
    size_t k = b->idx ? b->idx[e] : e;
    double le = toy_example_loss(s, theta, s->c[b->split] + k * TOY_N);
    l += le;
    a += le < 5.0;
  }
  l /= (double)b->n;
  for (int i = 0; i < TOY_N; i++) l += s->kappa * cos(theta[i]);
  if (s->nan_radius > 0 && sqrt(nrm) > s->nan_radius) l = NAN;
  *loss = l;
  if (acc) *acc = a / (double)b->n;
  (void)err;
  return PH_OK;
}

static ph_status toy_loss_grad(void *ctx, const double *theta,
                               const ph_batch *b, double *loss, double *grad,
                               ph_error *err) {
  toy_shared *s = ctx;
  PH_TRY(toy_eval(ctx, theta, b, loss, NULL, err));
  if (grad) {
    memset(grad, 0, TOY_N * sizeof *grad);
    for (size_t e = 0; e < b->n; e++) {
      size_t k = b->idx ? b->idx[e] : e;
      const double *c = s->c[b->split] + k * TOY_N;
      for (int i = 0; i < TOY_N; i++)
        for (int j = 0; j < TOY_N; j++)
          grad[i] += s->A[i * TOY_N + j] * (theta[j] - c[j]) / (double)b->n;
    }
    for (int i = 0; i < TOY_N; i++) grad[i] -= s->kappa * sin(theta[i]);
  }
  return PH_OK;
}

static ph_status toy_hvp(void *ctx, const double *theta, const ph_batch *b,
                         const double *v, double *hv, ph_error *err) {
  toy_shared *s = ctx;
  (void)b;
  (void)err;
  for (int i = 0; i < TOY_N; i++) {
    double h = 0;
    for (int j = 0; j < TOY_N; j++) h += s->A[i * TOY_N + j] * v[j];
    hv[i] = h - s->kappa * cos(theta[i]) * v[i];
  }
  return PH_OK;
}

static void toy_destroy(ph_objective *o) {
  free(o);
}

static ph_objective *toy_clone(const ph_objective *o, ph_error *err) {
  (void)err;
  ph_objective *c = malloc(sizeof *c);
  if (c) *c = *o; /* shares the immutable toy_shared (and its counter) */
  return c;
}

static ph_objective *toy_create(toy_shared *s, uint64_t seed) {
  memset(s, 0, sizeof *s);
  ph_rng r = ph_rng_make(seed, PH_RNG_STREAM_USER + 77);
  double B[TOY_N * TOY_N];
  ph_rng_fill_gauss(&r, B, TOY_N * TOY_N, 1.0);
  for (int i = 0; i < TOY_N; i++)
    for (int j = 0; j < TOY_N; j++)
      s->A[i * TOY_N + j] = 0.5 * (B[i * TOY_N + j] + B[j * TOY_N + i]) / 3.0 +
                            (i == j ? 0.3 * (double)(i + 1) : 0.0);
  ph_rng_fill_gauss(&r, s->c[0], TOY_E * TOY_N, 0.5);
  ph_rng_fill_gauss(&r, s->c[1], TOY_E * TOY_N, 0.5);
  s->kappa = 0.1;
  ph_objective *o = calloc(1, sizeof *o);
  o->name = "toy-quadratic";
  o->n = TOY_N;
  o->n_blocks = 3;
  o->blocks = toy_blocks;
  o->n_examples[0] = o->n_examples[1] = TOY_E;
  o->has_accuracy = 1;
  o->ctx = s;
  o->loss_grad = toy_loss_grad;
  o->hvp = toy_hvp;
  o->eval = toy_eval;
  o->clone = toy_clone;
  o->destroy = toy_destroy;
  return o;
}

#endif
