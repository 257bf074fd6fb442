/* test_optim.c: optimisers and preconditioners against formulas computed
 * here, independently, on a quadratic L(θ) = ½(θ−c)ᵀA(θ−c) with diagonal A
 * (exact gradient A(θ−c), Hv = Gv = Av). One step of each method from the
 * same θ is compared with its update rule written out in the test; the
 * updates involve a handful of flops per entry, so they agree to a few ulps
 * (tolerance 1e-13 relative). */
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

#include "core/ckpt.h"
#include "core/npy.h"
#include "core/rng.h"
#include "core/vec.h"
#include "optim/optim.h"
#include "precond/precond.h"
#include "optim/riccati.h"

#define N 6
typedef struct quad {
  double a[N], c[N];
} quad;

static ph_status q_lg(void *ctx, const double *th, const ph_batch *b,
                      double *loss, double *g, ph_error *err) {
  (void)b;
  (void)err;
  quad *q = ctx;
  double L = 0;
  for (int i = 0; i < N; i++) {
    double r = th[i] - q->c[i];
    L += 0.5 * q->a[i] * r * r;
    if (g) g[i] = q->a[i] * r;
  }
  *loss = L;
  return PH_OK;
}
static ph_status q_hv(void *ctx, const double *th, const ph_batch *b,
                      const double *v, double *hv, ph_error *err) {
  (void)th;
  (void)b;
  (void)err;
  quad *q = ctx;
  for (int i = 0; i < N; i++) hv[i] = q->a[i] * v[i];
  return PH_OK;
}
static ph_status q_ev(void *ctx, const double *th, const ph_batch *b,
                      double *loss, double *acc, ph_error *err) {
  *acc = NAN;
  return q_lg(ctx, th, b, loss, NULL, err);
}

static quad Q;
/* two blocks: a 2x2 "weight" (offset 0) and a 2-vector bias, then 2 more */
static ph_block BLK[3] = {{"w", 0, 4, 2, {2, 2}, PH_BLOCK_WEIGHT, 2, 2},
                          {"b", 4, 1, 1, {1}, PH_BLOCK_BIAS, 1, 1},
                          {"x", 5, 1, 1, {1}, PH_BLOCK_OTHER, 1, 1}};
static ph_objective OBJ = {"quad", N,    3,    BLK,  {0, 0}, 0,
                           &Q,     q_lg, q_hv, q_hv, q_ev,   NULL,
                           NULL,   NULL, NULL, NULL, NULL,   NULL};

static void setup_quad(void) {
  double a[N] = {1, 2, 3, 4, 0.5, 2.5}, c[N] = {0.3, -0.2, 0.1, 0.5, -1, 0.7};
  memcpy(Q.a, a, sizeof a);
  memcpy(Q.c, c, sizeof c);
}

static void grad_at(const double *th, double *g) {
  for (int i = 0; i < N; i++) g[i] = Q.a[i] * (th[i] - Q.c[i]);
}

static void step_with(const char *name, ph_optim_config *cfg, double *th,
                      const ph_precond *P) {
  ph_error err = {0};
  ph_optim *o;
  assert_int_equal(ph_optim_create(cfg, &OBJ, &o, &err), PH_OK);
  if (P) assert_int_equal(ph_optim_set_precond(o, P, &err), PH_OK);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, 1};
  ph_step_info info;
  assert_int_equal(ph_optim_step(o, th, &OBJ, &b, cfg->lr, NULL, &info, &err),
                   PH_OK);
  (void)name;
  ph_optim_free(o);
}

static void cfg_for(const char *name, ph_optim_config *c) {
  ph_error err = {0};
  assert_int_equal(ph_optim_config_default(name, c, &err), PH_OK);
  c->momentum = 0;
  c->lr = 0.1;
  c->inner_steps = 0; /* a refresh then keeps P exactly */
}

static void assert_close(const double *x, const double *y) {
  for (int i = 0; i < N; i++)
    if (fabs(x[i] - y[i]) > 1e-13 * (1 + fabs(y[i])))
      fail_msg("entry %d: %.17g vs %.17g", i, x[i], y[i]);
}

static const double TH0[N] = {1, -1, 0.5, 2, 0, -0.3};

static void test_sam_family(void **s) {
  (void)s;
  setup_quad();
  double th[N], g[N], e[N], gp[N], want[N];
  ph_optim_config c;
  /* SAM: ε = ρ g/(‖g‖ + 1e-12) */
  cfg_for("sam", &c);
  memcpy(th, TH0, sizeof th);
  grad_at(th, g);
  double ng = ph_vec_nrm2(N, g);
  for (int i = 0; i < N; i++) e[i] = th[i] + c.rho * g[i] / (ng + 1e-12);
  grad_at(e, gp);
  for (int i = 0; i < N; i++) want[i] = th[i] - c.lr * gp[i];
  step_with("sam", &c, th, NULL);
  assert_close(th, want);
  /* ASAM: T = |θ| + η on weights, 1 elsewhere; ε = ρT²g/‖Tg‖ */
  cfg_for("asam", &c);
  memcpy(th, TH0, sizeof th);
  grad_at(th, g);
  double T[N], nt = 0;
  for (int i = 0; i < N; i++) {
    T[i] = i < 4 ? fabs(th[i]) + c.asam_eta : 1.0;
    nt += T[i] * T[i] * g[i] * g[i];
  }
  for (int i = 0; i < N; i++)
    e[i] = th[i] + c.rho * T[i] * T[i] * g[i] / (sqrt(nt) + 1e-12);
  grad_at(e, gp);
  for (int i = 0; i < N; i++) want[i] = th[i] - c.lr * gp[i];
  step_with("asam", &c, th, NULL);
  assert_close(th, want);
  /* Fisher-SAM: F⁻¹g = g/(1+ηg²), ε = ρF⁻¹g/√(gᵀF⁻¹g) */
  cfg_for("fisher-sam", &c);
  memcpy(th, TH0, sizeof th);
  grad_at(th, g);
  double fg[N], q = 0;
  for (int i = 0; i < N; i++) {
    fg[i] = g[i] / (1 + c.fisher_eta * g[i] * g[i]);
    q += g[i] * fg[i];
  }
  for (int i = 0; i < N; i++) e[i] = th[i] + c.rho * fg[i] / (sqrt(q) + 1e-12);
  grad_at(e, gp);
  for (int i = 0; i < N; i++) want[i] = th[i] - c.lr * gp[i];
  step_with("fisher-sam", &c, th, NULL);
  assert_close(th, want);
}

/* Per-example quadratics for m-sharpness: example k has loss
 * ½(θ−c_k)ᵀA(θ−c_k); a batch's loss is the mean over its examples, so its
 * gradient is A(θ − mean of its c_k). */
#define NEX 7
static double CK[NEX][N];
static void centre_of(const ph_batch *b, double *cm) {
  memset(cm, 0, N * sizeof *cm);
  for (size_t j = 0; j < b->n; j++) {
    size_t k = b->idx ? b->idx[j] : j;
    for (int i = 0; i < N; i++) cm[i] += CK[k][i] / (double)b->n;
  }
}
static ph_status pe_lg(void *ctx, const double *th, const ph_batch *b,
                       double *loss, double *g, ph_error *err) {
  (void)ctx;
  (void)err;
  double L = 0;
  for (size_t j = 0; j < b->n; j++) {
    size_t k = b->idx ? b->idx[j] : j;
    for (int i = 0; i < N; i++)
      L += 0.5 * Q.a[i] * (th[i] - CK[k][i]) * (th[i] - CK[k][i]);
  }
  *loss = L / (double)b->n;
  if (g) {
    double cm[N];
    centre_of(b, cm);
    for (int i = 0; i < N; i++) g[i] = Q.a[i] * (th[i] - cm[i]);
  }
  return PH_OK;
}
static ph_objective PE = {"per-example quad",
                          N,
                          3,
                          BLK,
                          {NEX, 0},
                          0,
                          NULL,
                          pe_lg,
                          q_hv,
                          q_hv,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL};

static void test_m_sharpness(void **s) {
  (void)s;
  setup_quad();
  for (int k = 0; k < NEX; k++)
    for (int i = 0; i < N; i++) CK[k][i] = sin(1.0 + 3.0 * k + 0.7 * i);
  size_t idx[5] = {4, 0, 6, 2, 5}; /* chunks of 2: {4,0}, {6,2}, {5} */
  ph_batch b = {PH_SPLIT_TRAIN, idx, 5};
  for (size_t m = 0; m <= 5; m++) {
    ph_optim_config c;
    cfg_for("sam", &c);
    c.m_sharpness = m;
    double th[N], want[N], dir[N] = {0};
    memcpy(th, TH0, sizeof th);
    size_t mm = m == 0 ? 5 : m; /* 0 (and m ≥ batch) = ordinary SAM */
    for (size_t st = 0; st < 5; st += mm) {
      size_t len = 5 - st < mm ? 5 - st : mm;
      ph_batch cb = {PH_SPLIT_TRAIN, idx + st, len};
      double cm[N], g[N], e[N], ng = 0;
      centre_of(&cb, cm);
      for (int i = 0; i < N; i++) {
        g[i] = Q.a[i] * (th[i] - cm[i]);
        ng += g[i] * g[i];
      }
      for (int i = 0; i < N; i++) {
        e[i] = th[i] + c.rho * g[i] / (sqrt(ng) + 1e-12);
        dir[i] += (double)len / 5.0 * Q.a[i] * (e[i] - cm[i]);
      }
    }
    for (int i = 0; i < N; i++) want[i] = th[i] - c.lr * dir[i];
    ph_error err = {0};
    ph_optim *o;
    assert_int_equal(ph_optim_create(&c, &PE, &o, &err), PH_OK);
    ph_step_info info;
    assert_int_equal(ph_optim_step(o, th, &PE, &b, c.lr, NULL, &info, &err),
                     PH_OK);
    ph_optim_free(o);
    assert_close(th, want);
    assert_int_equal(info.n_grad, 2);
  }
  /* m-sharpness belongs to sam */
  ph_optim_config c;
  cfg_for("asam", &c);
  c.m_sharpness = 2;
  ph_error err = {0};
  assert_int_equal(ph_optim_config_validate(&c, &err), PH_ERR_ARG);
}

static void test_llqr_sam_variants(void **s) {
  (void)s;
  setup_quad();
  double u[N] = {2, 0.5, 1, 3, 0.25, 1.5};
  ph_error err = {0};
  ph_precond *P;
  assert_int_equal(ph_precond_diag_create(N, u, &P, &err), PH_OK);
  /* variants: 0 l2, 1 dual, 2 perturb-only, 3 llqr, 4 euclid (ε = ρg/‖g‖,
   * descent U g') */
  for (int variant = 0; variant < 5; variant++) {
    ph_optim_config c;
    cfg_for(variant == 3 ? "llqr" : "llqr-sam", &c);
    c.perturb = variant == 1   ? PH_PERTURB_DUAL
                : variant == 4 ? PH_PERTURB_EUCLID
                               : PH_PERTURB_L2;
    c.perturb_only = variant == 2;
    double th[N], g[N], v[N], e[N], gp[N], want[N];
    memcpy(th, TH0, sizeof th);
    grad_at(th, g);
    for (int i = 0; i < N; i++) v[i] = variant == 4 ? g[i] : u[i] * g[i];
    double nv = variant == 1 ? sqrt(ph_vec_dot(N, g, v)) : ph_vec_nrm2(N, v);
    for (int i = 0; i < N; i++)
      e[i] = th[i] + (variant == 3 ? 0 : c.rho * v[i] / (nv + 1e-12));
    grad_at(e, gp);
    for (int i = 0; i < N; i++)
      want[i] = th[i] - c.lr * (variant == 2 ? gp[i] : u[i] * gp[i]);
    step_with("llqr-sam", &c, th, P);
    assert_close(th, want);
  }
  ph_precond_free(P);
}

/* The step-length trust region (--step-cap K): the descent direction U v
 * (v = g for llqr, v = ∇L(θ + ε) for llqr-sam, ε from the uncapped U g) is
 * scaled to K‖v‖ when ‖U v‖ > K‖v‖, and untouched otherwise. With U =
 * {2, 0.5, 1, 3, 0.25, 1.5} the direction is longer than v at TH0 (so the
 * cap binds); with U/10 (every entry ≤ 0.3) it is shorter (so the cap is
 * inert and the step is the plain LLQR one). step_ratio = ‖U v‖/‖v‖. */
static void test_step_cap(void **s) {
  (void)s;
  setup_quad();
  ph_error err = {0};
  for (int shrink = 0; shrink < 2; shrink++)
    for (int sam = 0; sam < 2; sam++) {
      double u[N] = {2, 0.5, 1, 3, 0.25, 1.5};
      for (int i = 0; i < N && shrink; i++) u[i] /= 10;
      ph_precond *P;
      assert_int_equal(ph_precond_diag_create(N, u, &P, &err), PH_OK);
      ph_optim_config c;
      cfg_for(sam ? "llqr-sam" : "llqr", &c);
      c.step_cap = 1;
      double th[N], g[N], uv[N], e[N], v[N], want[N];
      memcpy(th, TH0, sizeof th);
      grad_at(th, g);
      for (int i = 0; i < N; i++) uv[i] = u[i] * g[i];
      double nuv = ph_vec_nrm2(N, uv);
      for (int i = 0; i < N; i++)
        e[i] = th[i] + (sam ? c.rho * uv[i] / (nuv + 1e-12) : 0);
      grad_at(e, v);
      for (int i = 0; i < N; i++) uv[i] = u[i] * v[i];
      double ratio = ph_vec_nrm2(N, uv) / ph_vec_nrm2(N, v);
      if ((ratio > 1) != !shrink) fail_msg("case set-up: ratio %g", ratio);
      double scale = ratio > 1 ? 1 / ratio : 1;
      for (int i = 0; i < N; i++) want[i] = th[i] - c.lr * scale * uv[i];
      ph_optim *o;
      assert_int_equal(ph_optim_create(&c, &OBJ, &o, &err), PH_OK);
      assert_int_equal(ph_optim_set_precond(o, P, &err), PH_OK);
      ph_batch b = {PH_SPLIT_TRAIN, NULL, 1};
      ph_step_info info;
      assert_int_equal(ph_optim_step(o, th, &OBJ, &b, c.lr, NULL, &info, &err),
                       PH_OK);
      assert_close(th, want);
      if (fabs(info.step_ratio - ratio) > 1e-13 * ratio)
        fail_msg("step_ratio %.17g, want %.17g", info.step_ratio, ratio);
      ph_optim_free(o);
      ph_precond_free(P);
    }
}

static void test_outer_steps(void **s) {
  (void)s;
  setup_quad();
  ph_error err = {0};
  /* SGD with momentum μ, nesterov and weight decay over two steps */
  ph_optim_config c;
  cfg_for("sgd", &c);
  c.momentum = 0.9;
  c.nesterov = 1;
  c.weight_decay = 0.01;
  double th[N], ref[N], m[N] = {0}, g[N];
  memcpy(th, TH0, sizeof th);
  memcpy(ref, TH0, sizeof ref);
  ph_optim *o;
  assert_int_equal(ph_optim_create(&c, &OBJ, &o, &err), PH_OK);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, 1};
  for (int t = 0; t < 2; t++) {
    grad_at(ref, g);
    for (int i = 0; i < N; i++) {
      double gi = g[i] + c.weight_decay * ref[i];
      m[i] = c.momentum * m[i] + gi;
      ref[i] -= c.lr * (gi + c.momentum * m[i]);
    }
    assert_int_equal(ph_optim_step(o, th, &OBJ, &b, c.lr, NULL, NULL, &err),
                     PH_OK);
  }
  assert_close(th, ref);
  ph_optim_free(o);
  /* AdamW with bias correction, decoupled decay */
  cfg_for("adamw", &c);
  c.weight_decay = 0.1;
  c.lr = 0.01;
  double mm[N] = {0}, vv[N] = {0};
  memcpy(th, TH0, sizeof th);
  memcpy(ref, TH0, sizeof ref);
  assert_int_equal(ph_optim_create(&c, &OBJ, &o, &err), PH_OK);
  for (int t = 1; t <= 3; t++) {
    grad_at(ref, g);
    for (int i = 0; i < N; i++) {
      mm[i] = 0.9 * mm[i] + 0.1 * g[i];
      vv[i] = 0.999 * vv[i] + 0.001 * g[i] * g[i];
      double mh = mm[i] / (1 - pow(0.9, t)), vh = vv[i] / (1 - pow(0.999, t));
      ref[i] -= c.lr * (mh / (sqrt(vh) + 1e-8) + c.weight_decay * ref[i]);
    }
    assert_int_equal(ph_optim_step(o, th, &OBJ, &b, c.lr, NULL, NULL, &err),
                     PH_OK);
  }
  assert_close(th, ref);
  ph_optim_free(o);
}

/* The diagonal inner loop fits u_i = 1/A_ii (the minimiser of J for a
 * diagonal metric): with ema 0 each refresh continues from the last fit. The
 * per-step contraction of u_i − 1/a_i is set by lr·a_i/κ with momentum; after
 * 10 refreshes × 50 steps the error is far below 1e-6 (relative). */
/* Ten refreshes (one per step, EMA off, 50 inner steps) on the diagonal
 * quadratic with the given trust cap; the last step's info and the GGN
 * products of all ten. */
static ph_optim *fit_quad(double cap, ph_step_info *info, size_t *ggn) {
  setup_quad();
  ph_optim_config c;
  cfg_for("llqr", &c);
  c.inner_steps = 50;
  c.ema_beta = 0;
  c.refresh_every = 1;
  c.lr = 1e-3;
  c.trust_cap = cap;
  ph_error err = {0};
  ph_optim *o;
  assert_int_equal(ph_optim_create(&c, &OBJ, &o, &err), PH_OK);
  double th[N];
  memcpy(th, TH0, sizeof th);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, 1};
  *ggn = 0;
  for (int t = 0; t < 10; t++) {
    assert_int_equal(ph_optim_step(o, th, &OBJ, &b, c.lr, NULL, info, &err),
                     PH_OK);
    assert_true(info->refreshed);
    *ggn += info->n_ggnvp;
  }
  return o;
}

static void test_llqr_fits_inverse_curvature(void **s) {
  (void)s;
  ph_step_info info;
  size_t ggn;
  /* the default cap (10) does not bind: u spans 0.25..2 */
  ph_optim *o = fit_quad(PH_OPTIM_TRUST_CAP, &info, &ggn);
  assert_int_equal(info.n_capped, 0);
  /* one product for κ plus one per inner step, per refresh */
  assert_int_equal(ggn, 10 * (1 + 50));
  double d[N];
  ph_precond_diag(ph_optim_precond(o), d);
  for (int i = 0; i < N; i++)
    if (fabs(d[i] * Q.a[i] - 1) > 1e-6)
      fail_msg("u[%d] = %g, 1/a = %g", i, d[i], 1 / Q.a[i]);
  ph_optim_free(o);
}

/* The trust region on a hand-made U over BLK's blocks {4 | 1 | 1}:
 * u = {1, 2, 4, 50 | 7 | 3}. Each entry is capped at cap × s, s = max(its
 * block's median, the median over all entries). Here the overall median is
 * (3 + 4)/2 = 3.5 and block w's is (2 + 4)/2 = 3, so block w and block x
 * are capped at 3.5·cap and block b (median 7) at 7·cap: cap 10 lowers 50
 * to 35 (one entry); cap 1 lowers 4 and 50 to 3.5 (two) and leaves 7; cap
 * 0 is off. The fourth case is why the overall median is a floor on s:
 * block w mostly at the 1e-8 floor has a median of 1e-8, which would
 * freeze its one live entry at 1e-7; with the overall median (1e-8 + 1)/2
 * as the floor, cap 10 leaves every entry alone. The floor (F > 0) raises
 * entries below s/F: with F = 10 on that U, s = (1e-8 + 1)/2 for block w,
 * so its three 1e-8 entries rise to s/10 and the one-entry blocks (s = 1,
 * bound 0.1) stay; on the first U, F = 10 raises nothing (every entry is
 * above its bound, 0.35 or 0.7) and F = 1 without a cap raises 1, 2 and
 * block b's 3 (s = 3.5) to 3.5 and leaves block x (s = 7) alone. Values
 * are compared to 4 ulps (the medians' arithmetic). */
static void test_trust_cap_formula(void **s) {
  (void)s;
  ph_error err = {0};
  const double m = (1e-8 + 1) / 2; /* the overall median of the 4th U */
  struct {
    double cap, floor, u0[N];
    size_t moved;
    double before, after, u[N];
  } cases[] = {
      {10, 0, {1, 2, 4, 50, 7, 3}, 1, 50, 35, {1, 2, 4, 35, 7, 3}},
      {1, 0, {1, 2, 4, 50, 7, 3}, 2, 50, 7, {1, 2, 3.5, 3.5, 7, 3}},
      {0, 0, {1, 2, 4, 50, 7, 3}, 0, 50, 50, {1, 2, 4, 50, 7, 3}},
      {10,
       0,
       {1e-8, 1e-8, 1e-8, 5, 1, 1},
       0,
       5,
       5,
       {1e-8, 1e-8, 1e-8, 5, 1, 1}},
      {10,
       10,
       {1e-8, 1e-8, 1e-8, 5, 1, 1},
       3,
       5,
       5,
       {m / 10, m / 10, m / 10, 5, 1, 1}},
      {10, 10, {1, 2, 4, 50, 7, 3}, 1, 50, 35, {1, 2, 4, 35, 7, 3}},
      {0, 1, {1, 2, 4, 50, 7, 3}, 3, 50, 50, {3.5, 3.5, 4, 50, 7, 3.5}}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    ph_precond *p;
    assert_int_equal(ph_precond_create(N, 3, BLK, PH_PRECOND_DIAG, &p, &err),
                     PH_OK);
    assert_non_null(p);
    assert_int_equal(ph_precond_flat_size(p), N);
    assert_int_equal(ph_precond_from_flat(p, cases[k].u0, N, &err), PH_OK);
    double scratch[N], before, after, d[N];
    size_t n = ph_precond_trust_cap(p, cases[k].cap, cases[k].floor, scratch,
                                    &before, &after);
    ph_precond_diag(p, d);
    if (n != cases[k].moved || before != cases[k].before ||
        after != cases[k].after)
      fail_msg("case %zu: %zu moved, max %g -> %g", k, n, before, after);
    for (int i = 0; i < N; i++)
      if (fabs(d[i] - cases[k].u[i]) > 4 * DBL_EPSILON * cases[k].u[i])
        fail_msg("case %zu: u[%d] = %.17g, want %.17g", k, i, d[i],
                 cases[k].u[i]);
    ph_precond_free(p);
  }
}

/* The refresh applies the cap: on the diagonal quadratic (EMA off) the
 * inner loop fits u = 1/a = {1, 1/2, 1/3, 1/4 | 2 | 0.4}. The overall
 * median is (0.4 + 0.5)/2 = 0.45, above block w's (1/2 + 1/3)/2, so with
 * --trust-cap 2 block w is capped at 0.9 (its first entry, after every
 * refresh); the one-entry blocks are their own medians and keep 1/a. */
static void test_trust_cap_in_refresh(void **s) {
  (void)s;
  ph_step_info info;
  size_t ggn;
  ph_optim *o = fit_quad(2, &info, &ggn);
  double d[N];
  ph_precond_diag(ph_optim_precond(o), d);
  /* the fit itself converges to 1e-6 (test_llqr_fits_inverse_curvature) */
  double want[N] = {0.9,        1 / Q.a[1], 1 / Q.a[2],
                    1 / Q.a[3], 1 / Q.a[4], 1 / Q.a[5]};
  for (int i = 0; i < N; i++)
    if (fabs(d[i] - want[i]) > 1e-6)
      fail_msg("u[%d] = %.9g, want %.9g", i, d[i], want[i]);
  assert_int_equal(info.n_capped, 1);
  /* the largest entry, before and after, is block b's 1/a = 2 (not capped:
   * its own median) */
  assert_true(fabs(info.u_max_before - 2) < 1e-6);
  assert_true(fabs(info.u_max_after - 2) < 1e-6);
  ph_optim_free(o);
}

/* The Kronecker inner loop: on L = ½(θ−c)ᵀM(θ−c) with M = (A0 ⊗ B0) on a
 * 2x3 weight block and a diagonal on its bias, U = M⁻¹ is itself of the
 * Kronecker form, so min_U J(U) = −½ gᵀM⁻¹g is reachable. Refreshes at a
 * fixed θ (EMA off) must close the gap J(U) − J* left by the identity
 * start. The loop follows its gradient formula (∂J/∂A = −R B Gᵀ, ∂J/∂B =
 * −Rᵀ A G); a wrong transpose or sign does not descend. */
static const double KA0[4] = {2, 0.6, 0.6, 1};
static const double KB0[9] = {1.5, 0.3, 0, 0.3, 1, 0.2, 0, 0.2, 0.6};
static const double KD0[2] = {3, 0.5};
static const double KC[8] = {0.2, -0.4, 0.1, 0.3, -0.2, 0.5, 0.1, -0.3};
static void kq_mul(const double *v, double *out) {
  for (int r = 0; r < 2; r++)
    for (int cc = 0; cc < 3; cc++) {
      double acc = 0;
      for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
          acc += KA0[r * 2 + i] * KB0[cc * 3 + j] * v[i * 3 + j];
      out[r * 3 + cc] = acc;
    }
  out[6] = KD0[0] * v[6];
  out[7] = KD0[1] * v[7];
}
static ph_status kq_lg(void *ctx, const double *th, const ph_batch *b,
                       double *loss, double *g, ph_error *err) {
  (void)ctx;
  (void)b;
  (void)err;
  double r[8], mr[8];
  for (int i = 0; i < 8; i++) r[i] = th[i] - KC[i];
  kq_mul(r, mr);
  *loss = 0.5 * ph_vec_dot(8, r, mr);
  if (g) memcpy(g, mr, sizeof mr);
  return PH_OK;
}
static ph_status kq_hv(void *ctx, const double *th, const ph_batch *b,
                       const double *v, double *hv, ph_error *err) {
  (void)ctx;
  (void)th;
  (void)b;
  (void)err;
  kq_mul(v, hv);
  return PH_OK;
}
static ph_block KBL[2] = {{"w", 0, 6, 2, {2, 3}, PH_BLOCK_WEIGHT, 3, 2},
                          {"b", 6, 2, 1, {2}, PH_BLOCK_BIAS, 1, 2}};
static ph_objective KOBJ = {"kron quad", 8,     2,     KBL,   {0, 0}, 0,
                            NULL,        kq_lg, kq_hv, kq_hv, NULL,   NULL,
                            NULL,        NULL,  NULL,  NULL,  NULL,   NULL};

static double j_of(const ph_precond *P, const double *g) {
  double ug[8], mug[8];
  ph_precond_apply(P, g, ug);
  kq_mul(ug, mug);
  return -ph_vec_dot(8, g, ug) + 0.5 * ph_vec_dot(8, ug, mug);
}

static void test_llqr_kron_inner_loop(void **s) {
  (void)s;
  ph_optim_config c;
  cfg_for("llqr", &c);
  c.precond_kind = PH_PRECOND_KRON;
  c.inner_steps = 50;
  c.ema_beta = 0;
  ph_error err = {0};
  ph_optim *o;
  assert_int_equal(ph_optim_create(&c, &KOBJ, &o, &err), PH_OK);
  double th[8] = {1, -1, 0.5, 2, 0, -0.3, 0.8, -0.6}, g[8], loss;
  ph_batch b = {PH_SPLIT_TRAIN, NULL, 1};
  kq_lg(NULL, th, &b, &loss, g, &err);
  /* J* = −½ gᵀM⁻¹g = −½ (θ−c)ᵀM(θ−c) since g = M(θ−c) */
  double jstar = -loss;
  double gap0 = j_of(ph_optim_precond(o), g) - jstar, gap = gap0;
  assert_true(gap0 > 0);
  for (int r = 0; r < 20; r++) {
    assert_int_equal(ph_optim_refresh(o, th, &KOBJ, &b, &err), PH_OK);
    double gr = j_of(ph_optim_precond(o), g) - jstar;
    assert_true(gr >= -1e-12 * fabs(jstar)); /* J* is the minimum */
    gap = gr;
  }
  if (!(gap < 1e-2 * gap0))
    fail_msg("J gap %g after 20 refreshes (identity: %g)", gap, gap0);
  ph_optim_free(o);
}

/* One inner step from the identity, without momentum or clipping, is
 * θ_U ← θ_U − lr·∇J/(κ‖G‖²) on the Kronecker factors, then symmetrised (the
 * scale-free step, κ = gᵀMg/gᵀg). ∇J here by central differences of J over each
 * entry of A and B: J is quadratic in any single entry, so the difference is
 * exact up to rounding (~1e-10 relative at h = 1e-3, J ~ 10). */
static void test_llqr_kron_gradient(void **s) {
  (void)s;
  ph_optim_config c;
  cfg_for("llqr", &c);
  c.precond_kind = PH_PRECOND_KRON;
  c.inner_steps = 1;
  c.inner_momentum = 0;
  c.inner_clip = 1e12;
  c.ema_beta = 0;
  ph_error err = {0};
  ph_optim *o;
  assert_int_equal(ph_optim_create(&c, &KOBJ, &o, &err), PH_OK);
  double th[8] = {1, -1, 0.5, 2, 0, -0.3, 0.8, -0.6}, g[8], mg[8], loss;
  ph_batch b = {PH_SPLIT_TRAIN, NULL, 1};
  kq_lg(NULL, th, &b, &loss, g, &err);
  kq_mul(g, mg);
  double kappa = ph_vec_dot(8, g, mg) / ph_vec_dot(8, g, g);
  double gw2 = ph_vec_dot(6, g, g);
  size_t fs = ph_precond_flat_size(ph_optim_precond(o));
  assert_int_equal(fs, 15);
  double f0[15], f1[15], fp[15], raw[13];
  ph_precond_to_flat(ph_optim_precond(o), f0); /* identity */
  assert_int_equal(ph_optim_refresh(o, th, &KOBJ, &b, &err), PH_OK);
  ph_precond_to_flat(ph_optim_precond(o), f1);
  ph_precond *P;
  assert_int_equal(ph_precond_create(8, 2, KBL, PH_PRECOND_KRON, &P, &err),
                   PH_OK);
  const double h = 1e-3;
  for (int k = 0; k < 13; k++) { /* A (4 entries) then B (9) */
    memcpy(fp, f0, sizeof fp);
    fp[k] = f0[k] + h;
    assert_int_equal(ph_precond_from_flat(P, fp, 15, &err), PH_OK);
    double jp = j_of(P, g);
    fp[k] = f0[k] - h;
    assert_int_equal(ph_precond_from_flat(P, fp, 15, &err), PH_OK);
    double jm = j_of(P, g);
    raw[k] = f0[k] - c.inner_lr * (jp - jm) / (2 * h) / (kappa * gw2);
  }
  /* the refresh keeps the symmetric part of each factor (both stay positive
   * definite after one small step, so no eigenvalue is floored) */
  for (int k = 0; k < 13; k++) {
    int base = k < 4 ? 0 : 4, m = k < 4 ? 2 : 3, i = (k - base) / m,
        j = (k - base) % m;
    double want = 0.5 * (raw[base + i * m + j] + raw[base + j * m + i]);
    if (fabs(f1[k] - want) > 1e-9 * (1 + fabs(want)))
      fail_msg("factor entry %d: %.15g, want %.15g", k, f1[k], want);
  }
  ph_precond_free(P);
  ph_optim_free(o);
}

/* Negative curvature with the Newton metric (a_5 < 0). Without a floor J is
 * unbounded below along e_5: u_5 grows, but stays finite, because one
 * refresh moves it by at most inner_steps·inner_lr·clip/(1 − μ) (clipped
 * step, momentum sum). With --curvature-floor c the metric is H + c|κ|I
 * (κ = gᵀHg/gᵀg), positive definite here, and refreshes at a fixed θ drive
 * u_i to 1/(a_i + c|κ|) for every i. The trust region is off here: u_5 is
 * a one-entry block, its own median, which the cap never lowers. */
static void test_llqr_negative_curvature(void **s) {
  (void)s;
  setup_quad();
  Q.a[5] = -0.5;
  double th[N];
  memcpy(th, TH0, sizeof th);
  double g[N];
  grad_at(th, g);
  double kappa = 0, gg = 0;
  for (int i = 0; i < N; i++) {
    kappa += Q.a[i] * g[i] * g[i];
    gg += g[i] * g[i];
  }
  kappa /= gg;
  ph_batch b = {PH_SPLIT_TRAIN, NULL, 1};
  ph_error err = {0};
  for (int floor_on = 0; floor_on < 2; floor_on++) {
    ph_optim_config c;
    cfg_for("llqr", &c);
    c.metric = PH_METRIC_NEWTON;
    c.inner_steps = 50;
    c.ema_beta = 0;
    c.curvature_floor = floor_on ? 1.0 : 0.0;
    c.trust_cap = 0;
    ph_optim *o;
    assert_int_equal(ph_optim_create(&c, &OBJ, &o, &err), PH_OK);
    double u[N], prev = 1;
    for (int r = 0; r < 20; r++) {
      assert_int_equal(ph_optim_refresh(o, th, &OBJ, &b, &err), PH_OK);
      ph_precond_diag(ph_optim_precond(o), u);
      for (int i = 0; i < N; i++) assert_true(isfinite(u[i]) && u[i] >= 1e-8);
      if (!floor_on) {
        double bound =
            c.inner_steps * c.inner_lr * c.inner_clip / (1 - c.inner_momentum);
        if (!(u[5] > prev && u[5] <= prev + bound))
          fail_msg("refresh %d: u_5 %g after %g (bound %g)", r, u[5], prev,
                   bound);
        prev = u[5];
      }
    }
    if (floor_on)
      for (int i = 0; i < N; i++) {
        double want = 1 / (Q.a[i] + fabs(kappa));
        if (fabs(u[i] - want) > 1e-6 * want)
          fail_msg("u[%d] = %.12g, want %.12g", i, u[i], want);
      }
    ph_optim_free(o);
  }
  setup_quad();
}

/* Projection to SPD: closed forms on 2x2 factors. [[1,0],[0,−2]] keeps its
 * eigenvectors and floors −2; [[1,2],[0,1]] has symmetric part [[1,1],[1,1]]
 * (eigenvalues 2, 0 along (1,1)/√2, (1,−1)/√2), so it becomes
 * [[1+f/2, 1−f/2], [1−f/2, 1+f/2]] with f the floor. Afterwards sqrt_apply
 * twice equals apply. */
static void test_precond_project_spd(void **s) {
  (void)s;
  ph_error err = {0};
  ph_block bl[2] = {{"w", 0, 4, 2, {2, 2}, PH_BLOCK_WEIGHT, 2, 2},
                    {"b", 4, 2, 1, {2}, PH_BLOCK_BIAS, 1, 2}};
  ph_precond *p;
  assert_int_equal(ph_precond_create(6, 2, bl, PH_PRECOND_KRON, &p, &err),
                   PH_OK);
  assert_non_null(p);
  double f = PH_PRECOND_EIG_FLOOR;
  double flat[10] = {1, 0, 0, -2, 1, 2, 0, 1, -3, 0.5};
  assert_int_equal(ph_precond_from_flat(p, flat, 10, &err), PH_OK);
  assert_int_equal(ph_precond_project_spd(p, &err), PH_OK);
  double out[10];
  ph_precond_to_flat(p, out);
  double want[10] = {1,         0,         0,         f, 1 + f / 2,
                     1 - f / 2, 1 - f / 2, 1 + f / 2, f, 0.5};
  for (int k = 0; k < 10; k++)
    if (fabs(out[k] - want[k]) > 1e-14)
      fail_msg("entry %d: %.17g vs %.17g", k, out[k], want[k]);
  double v[6] = {0.3, -1, 2, 0.7, 1.1, -0.4}, a[6], r1[6], r2[6];
  ph_precond_apply(p, v, a);
  assert_int_equal(ph_precond_sqrt_apply(p, v, r1, &err), PH_OK);
  assert_int_equal(ph_precond_sqrt_apply(p, r1, r2, &err), PH_OK);
  for (int i = 0; i < 6; i++)
    if (fabs(r2[i] - a[i]) > 1e-12 * (1 + fabs(a[i])))
      fail_msg("%d: %.17g vs %.17g", i, r2[i], a[i]);
  ph_precond_free(p);
}

/* Refresh cadence and the bias-corrected EMA: refreshes happen at steps
 * 0, K, 2K, ...; the first replaces the identity start. */
static void test_refresh_cadence(void **s) {
  (void)s;
  setup_quad();
  ph_optim_config c;
  cfg_for("llqr-sam", &c);
  c.inner_steps = 3;
  c.refresh_every = 4;
  ph_error err = {0};
  ph_optim *o;
  assert_int_equal(ph_optim_create(&c, &OBJ, &o, &err), PH_OK);
  double th[N];
  memcpy(th, TH0, sizeof th);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, 1};
  ph_step_info info;
  for (int t = 0; t < 12; t++) {
    assert_int_equal(ph_optim_step(o, th, &OBJ, &b, c.lr, NULL, &info, &err),
                     PH_OK);
    assert_int_equal(info.refreshed, t % 4 == 0);
    assert_int_equal(info.n_ggnvp, t % 4 == 0 ? 1 + 3 : 0);
    assert_int_equal(info.n_grad, t % 4 == 0 ? 3 : 2);
  }
  ph_optim_free(o);
  /* refresh_first AFTER_K: first at step K, then every K; K = 0: never, and
   * a preconditioner set from outside stays exactly as set */
  double u[N] = {2, 0.5, 1, 3, 0.25, 1.5}, got[N];
  ph_precond *P;
  assert_int_equal(ph_precond_diag_create(N, u, &P, &err), PH_OK);
  for (int mode = 0; mode < 2; mode++) {
    c.refresh_every = mode == 0 ? 4 : 0;
    c.refresh_first = PH_REFRESH_FIRST_AFTER_K;
    assert_int_equal(ph_optim_create(&c, &OBJ, &o, &err), PH_OK);
    assert_int_equal(ph_optim_set_precond(o, P, &err), PH_OK);
    memcpy(th, TH0, sizeof th);
    for (int t = 0; t < 12; t++) {
      assert_int_equal(ph_optim_step(o, th, &OBJ, &b, c.lr, NULL, &info, &err),
                       PH_OK);
      assert_int_equal(info.refreshed, mode == 0 && t > 0 && t % 4 == 0);
      if (mode == 0 && t < 4) {
        ph_precond_diag(ph_optim_precond(o), got);
        assert_memory_equal(got, u, sizeof u);
      }
    }
    if (mode == 1) {
      ph_precond_diag(ph_optim_precond(o), got);
      assert_memory_equal(got, u, sizeof u);
    }
    ph_optim_free(o);
  }
  ph_precond_free(P);
}

/* Save, reload into a fresh optimiser, and both take identical steps. */
static void test_save_load(void **s) {
  (void)s;
  setup_quad();
  const char *names[] = {"sgd", "adamw", "fsam", "llqr-sam"};
  for (int k = 0; k < 4; k++) {
    ph_optim_config c;
    cfg_for(names[k], &c);
    c.momentum = 0.9;
    c.inner_steps = 5;
    c.refresh_every = 3;
    ph_error err = {0};
    ph_optim *a, *b2;
    assert_int_equal(ph_optim_create(&c, &OBJ, &a, &err), PH_OK);
    double th[N], th2[N];
    memcpy(th, TH0, sizeof th);
    ph_batch b = {PH_SPLIT_TRAIN, NULL, 1};
    for (int t = 0; t < 4; t++)
      ph_optim_step(a, th, &OBJ, &b, c.lr, NULL, NULL, &err);
    ph_ckpt *ck = NULL;
    assert_int_equal(ph_ckpt_create(&ck, &err), PH_OK);
    assert_int_equal(ph_optim_save(a, ck, &err), PH_OK);
    assert_int_equal(ph_optim_create(&c, &OBJ, &b2, &err), PH_OK);
    assert_int_equal(ph_optim_load(b2, ck, &err), PH_OK);
    memcpy(th2, th, sizeof th);
    for (int t = 0; t < 5; t++) {
      ph_optim_step(a, th, &OBJ, &b, c.lr, NULL, NULL, &err);
      ph_optim_step(b2, th2, &OBJ, &b, c.lr, NULL, NULL, &err);
    }
    assert_memory_equal(th, th2, sizeof th);
    ph_ckpt_free(ck);
    ph_optim_free(a);
    ph_optim_free(b2);
  }
}

static void test_invalid_configs(void **s) {
  (void)s;
  ph_optim_config c;
  ph_error err = {0};
  assert_int_equal(ph_optim_config_default("nosuch", &c, &err), PH_ERR_ARG);
  cfg_for("sam", &c);
  c.rho = -1;
  ph_error_clear(&err);
  assert_int_equal(ph_optim_config_validate(&c, &err), PH_ERR_ARG);
  assert_non_null(strstr(err.msg, "--rho"));
  cfg_for("llqr", &c);
  c.ema_beta = 1.0;
  ph_error_clear(&err);
  assert_int_equal(ph_optim_config_validate(&c, &err), PH_ERR_ARG);
  assert_non_null(strstr(err.msg, "--ema"));
}

/* Preconditioner algebra against dense matrices. */
static void test_precond_algebra(void **s) {
  (void)s;
  ph_error err = {0};
  /* Kronecker block 2x3 weight + a bias of 2 */
  ph_block bl[2] = {{"w", 0, 6, 2, {2, 3}, PH_BLOCK_WEIGHT, 3, 2},
                    {"b", 6, 2, 1, {2}, PH_BLOCK_BIAS, 1, 2}};
  ph_precond *p;
  assert_int_equal(ph_precond_create(8, 2, bl, PH_PRECOND_KRON, &p, &err),
                   PH_OK);
  assert_non_null(p);
  /* set A (2x2) and B (3x3) SPD, bias u */
  double A[4] = {2, 0.5, 0.5, 1}, B[9] = {3, 0.2, 0, 0.2, 1, 0.1, 0, 0.1, 0.5};
  double flat[4 + 9 + 2];
  memcpy(flat, A, sizeof A);
  memcpy(flat + 4, B, sizeof B);
  flat[13] = 0.7;
  flat[14] = 1.9;
  assert_int_equal(ph_precond_from_flat(p, flat, 15, &err), PH_OK);
  /* dense U = A ⊗ B acting on row-major vec(G): (A G Bᵀ)_{rc} = Σ A_ri G_ij
   * B_cj */
  double U[8][8] = {{0}};
  for (int r = 0; r < 2; r++)
    for (int c2 = 0; c2 < 3; c2++)
      for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
          U[r * 3 + c2][i * 3 + j] = A[r * 2 + i] * B[c2 * 3 + j];
  U[6][6] = 0.7;
  U[7][7] = 1.9;
  ph_rng rg = ph_rng_make(1, 1);
  double v[8], out[8], t[8], t2[8];
  ph_rng_fill_gauss(&rg, v, 8, 1);
  ph_precond_apply(p, v, out);
  for (int i = 0; i < 8; i++) {
    double sref = 0;
    for (int j = 0; j < 8; j++) sref += U[i][j] * v[j];
    assert_true(fabs(out[i] - sref) < 1e-14 * 10);
  }
  /* sqrt twice = apply; inverse undoes apply */
  assert_int_equal(ph_precond_sqrt_apply(p, v, t, &err), PH_OK);
  assert_int_equal(ph_precond_sqrt_apply(p, t, t2, &err), PH_OK);
  for (int i = 0; i < 8; i++) assert_true(fabs(t2[i] - out[i]) < 1e-12);
  assert_int_equal(ph_precond_inv_apply(p, out, t, &err), PH_OK);
  for (int i = 0; i < 8; i++) assert_true(fabs(t[i] - v[i]) < 1e-12);
  /* vᵀU⁻¹v: with w = U⁻¹v from a dense solve check Uw = v */
  double q = ph_precond_inverse_quadratic(p, out); /* = vᵀUv for out = Uv */
  assert_true(fabs(q - ph_vec_dot(8, v, out)) < 1e-12 * fabs(q));
  /* EMA */
  ph_precond *id;
  assert_int_equal(ph_precond_create(8, 2, bl, PH_PRECOND_KRON, &id, &err),
                   PH_OK);
  assert_int_equal(ph_precond_ema_merge(id, p, 0.25, &err), PH_OK);
  double f2[15];
  ph_precond_to_flat(id, f2);
  assert_true(fabs(f2[0] - (0.25 * 1 + 0.75 * 2)) < 1e-15);
  assert_true(fabs(f2[14] - (0.25 * 1 + 0.75 * 1.9)) < 1e-15);
  ph_precond_free(id);
  ph_precond_free(p);
  /* load from a .npy diagonal; wrong length rejected with the file named */
  double u[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  char path[] = "/tmp/ph_precond_test_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  char npy[64];
  snprintf(npy, sizeof npy, "%s.npy", path);
  assert_int_equal(ph_npy_write_vec(npy, u, 8, &err), PH_OK);
  ph_precond *l;
  assert_int_equal(ph_precond_read(npy, 8, 2, bl, &l, &err), PH_OK);
  assert_non_null(l);
  ph_precond_diag(l, t);
  assert_memory_equal(t, u, sizeof u);
  ph_precond_free(l);
  ph_error_clear(&err);
  ph_precond *bad = (ph_precond *)u; /* not NULL: a failure must reset it */
  assert_int_equal(ph_precond_read(npy, 9, 2, bl, &bad, &err), PH_ERR_FORMAT);
  assert_null(bad);
  assert_non_null(strstr(err.msg, npy));
  unlink(npy);
  unlink(path);
}

/* The dense exact step solves (M + λI)δ = −g: on the quadratic M = A. */
static void test_exact_step_dense(void **s) {
  (void)s;
  setup_quad();
  double th[N], g[N], d[N];
  memcpy(th, TH0, sizeof th);
  grad_at(th, g);
  ph_error err = {0};
  ph_batch b = {PH_SPLIT_TRAIN, NULL, 1};
  for (int m = 0; m < 2; m++) {
    assert_int_equal(ph_llqr_exact_step(&OBJ, th, &b, (ph_metric)m, 0.3,
                                        PH_SOLVER_DENSE, d, &err),
                     PH_OK);
    for (int i = 0; i < N; i++)
      assert_true(fabs(d[i] + g[i] / (Q.a[i] + 0.3)) < 1e-14);
  }
  assert_int_equal(ph_llqr_exact_step(&OBJ, th, &b, PH_METRIC_GN, 0,
                                      PH_SOLVER_RICCATI, d, &err),
                   PH_ERR_UNSUPPORTED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sam_family),
      cmocka_unit_test(test_m_sharpness),
      cmocka_unit_test(test_llqr_sam_variants),
      cmocka_unit_test(test_step_cap),
      cmocka_unit_test(test_outer_steps),
      cmocka_unit_test(test_llqr_fits_inverse_curvature),
      cmocka_unit_test(test_trust_cap_formula),
      cmocka_unit_test(test_trust_cap_in_refresh),
      cmocka_unit_test(test_llqr_kron_inner_loop),
      cmocka_unit_test(test_llqr_kron_gradient),
      cmocka_unit_test(test_llqr_negative_curvature),
      cmocka_unit_test(test_precond_project_spd),
      cmocka_unit_test(test_refresh_cadence),
      cmocka_unit_test(test_save_load),
      cmocka_unit_test(test_invalid_configs),
      cmocka_unit_test(test_precond_algebra),
      cmocka_unit_test(test_exact_step_dense),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
