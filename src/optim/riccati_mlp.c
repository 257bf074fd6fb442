/* riccati_mlp.c: the exact steepest-descent step δ = −(M + λI)⁻¹ g of an
 * MLP's mean batch loss by the backward Riccati recursion over its layers
 * (algorithms.md §3.1; derivation and stage terms in docs/optimisers.md,
 * "Exact LLQR step").
 *
 * Each stage i is one dense layer with its activation, y = σ(x Wᵀ + b). The
 * state of the control problem is the whole batch's activations stacked
 * (B·d_i values), because θ is shared by all examples; the value matrices
 * K_i are therefore dense (B·d_i)² and S_i = R_i + B_iᵀK_{i+1}B_i is the
 * layer's own parameter block (n_i)². Gauss-Newton: Q_N = H_z/B at the
 * logits, no intermediate terms. Newton: the second derivatives of the
 * adjoint-weighted stage, pᵀσ(Wx + b), enter as Q_i, R_i, M_i (including
 * the bilinear W·x term). λI is added to every R_i. S_i is factorised with
 * a symmetric indefinite solver, so the identity with the dense solve holds
 * whenever every S_i is nonsingular, definite or not.
 *
 * The forward pass, loss head (softmax cross-entropy, or MSE averaged over
 * outputs) and activation derivatives are recomputed here, independently of
 * src/nn, so agreement with the dense solver (built from src/nn's products)
 * is a real cross-check. Does not do: conv/pooling models, token tasks,
 * large batches (memory grows as (B·width)²; see the guard below). */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "data/dataset.h"
#include "nn/net.h"
#include "optim/riccati_int.h"

#define RIC_MAX_LAYERS 64
#define RIC_MAX_STATE 6000  /* B·width of any stage */
#define RIC_MAX_PARAMS 8000 /* parameters of one layer */

enum { R_ID, R_TANH, R_RELU, R_GELU, R_SOFTPLUS, R_SIGMOID };

static int act_code(const char *s) {
  static const char *const names[] = {"identity", "tanh",     "relu",
                                      "gelu",     "softplus", "sigmoid"};
  for (int i = 0; i < 6; i++)
    if (!strcmp(s, names[i])) return i;
  return -1;
}

/* σ(x), σ'(x), σ''(x) (relu's kink has σ'' = 0, as in src/nn). */
static void act_eval(int a, double x, double *f, double *d1, double *d2) {
  switch (a) {
  case R_TANH: {
    double t = tanh(x);
    *f = t;
    *d1 = 1 - t * t;
    *d2 = -2 * t * (1 - t * t);
    return;
  }
  case R_RELU:
    *f = x > 0 ? x : 0;
    *d1 = x > 0;
    *d2 = 0;
    return;
  case R_GELU: {
    double cdf = 0.5 * erfc(-x / M_SQRT2),
           pdf = exp(-0.5 * x * x) / sqrt(2 * M_PI);
    *f = x * cdf;
    *d1 = cdf + x * pdf;
    *d2 = pdf * (2 - x * x);
    return;
  }
  case R_SOFTPLUS: {
    double s = 1 / (1 + exp(-x));
    *f = x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
    *d1 = s;
    *d2 = s * (1 - s);
    return;
  }
  case R_SIGMOID: {
    double s = 1 / (1 + exp(-x));
    *f = s;
    *d1 = s * (1 - s);
    *d2 = s * (1 - s) * (1 - 2 * s);
    return;
  }
  default:
    *f = x;
    *d1 = 1;
    *d2 = 0;
    return;
  }
}

typedef struct stage {
  size_t din, dout, nw,
      np; /* per example; local params: W (dout, din) then b */
  size_t w_off, b_off;
  int has_b, act;
  const double *W; /* (dout, din) inside θ */
  double *x;       /* (B, din) input (the previous stage's y) */
  double *z, *y;   /* (B, dout) pre-activation and output */
  double *p;       /* (B, dout) adjoint ∂L/∂y */
  double *A;  /* (B·dout, B·din) block diagonal ∂y/∂x (stages ≥ 1) */
  double *Bm; /* (B·dout, np) ∂y/∂θ_i */
  double *P;  /* (np, B·din) S⁻¹N (stages ≥ 1) */
  double *q;  /* (np) S⁻¹Bᵀλ */
} stage;

typedef struct ws {
  size_t L, B;
  stage st[RIC_MAX_LAYERS];
  double *x0;      /* (B, in) */
  double *K, *lam; /* value matrix and vector of the stage output */
} ws;

static void ws_free(ws *w) {
  for (size_t i = 0; i < w->L; i++) {
    stage *s = &w->st[i];
    free(s->z);
    free(s->y);
    free(s->p);
    free(s->A);
    free(s->Bm);
    free(s->P);
    free(s->q);
  }
  free(w->x0);
  free(w->K);
  free(w->lam);
}

/* Layer table, sizes and buffers; PH_ERR_UNSUPPORTED for non-MLPs. */
static ph_status setup(ws *w, ph_objective *obj, const double *theta,
                       const ph_dataset *d, const ph_batch *batch,
                       ph_error *err) {
  ph_mlp_layer lay[RIC_MAX_LAYERS];
  size_t L = 0, B = batch->n;
  PH_TRY(ph_net_mlp_layers(obj, lay, RIC_MAX_LAYERS, &L, err));
  if (L == 0)
    return ph_error_set(err, PH_ERR_UNSUPPORTED, "%s: no dense layers",
                        obj->name);
  if (d->task ==
      PH_TASK_SEQUENCE) /* images are flat rows to an MLP (no flatten layer) */
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "riccati step: %s is a token data set", d->name);
  if (B == 0) return ph_error_set(err, PH_ERR_ARG, "riccati step: empty batch");
  for (size_t i = 0; i < B; i++) {
    size_t e = batch->idx ? batch->idx[i] : i;
    if (e >= d->n[batch->split])
      return ph_error_set(
          err, PH_ERR_ARG,
          "riccati step: example %zu is outside the split (%zu examples)", e,
          d->n[batch->split]);
  }
  w->L = L;
  w->B = B;
  size_t prev = d->in_size;
  for (size_t i = 0; i < L; i++) {
    stage *s = &w->st[i];
    const ph_block *wb = &obj->blocks[lay[i].w_block];
    s->act = act_code(lay[i].act);
    if (s->act < 0)
      return ph_error_set(err, PH_ERR_UNSUPPORTED,
                          "riccati step: activation '%s' (layer %zu)",
                          lay[i].act, i);
    s->dout = wb->shape[0];
    s->din = wb->size / s->dout;
    if (s->din != prev)
      return ph_error_set(
          err, PH_ERR_FORMAT,
          "riccati step: layer %zu takes %zu inputs, previous gives %zu", i,
          s->din, prev);
    s->nw = wb->size;
    s->w_off = wb->offset;
    s->W = theta + wb->offset;
    s->has_b = lay[i].b_block >= 0;
    s->b_off = s->has_b ? obj->blocks[lay[i].b_block].offset : 0;
    s->np = s->nw + (s->has_b ? s->dout : 0);
    if (B * s->dout > RIC_MAX_STATE || B * s->din > RIC_MAX_STATE ||
        s->np > RIC_MAX_PARAMS)
      return ph_error_set(err, PH_ERR_ARG,
                          "riccati step: layer %zu too large (batch x width "
                          "%zu, %zu parameters; at most %d, %d)",
                          i, B * (s->dout > s->din ? s->dout : s->din), s->np,
                          RIC_MAX_STATE, RIC_MAX_PARAMS);
    prev = s->dout;
  }
  size_t covered = 0, C = w->st[L - 1].dout;
  for (size_t i = 0; i < L; i++) covered += w->st[i].np;
  if (covered != obj->n)
    return ph_error_set(
        err, PH_ERR_UNSUPPORTED,
        "riccati step: the dense layers hold %zu of %zu parameters", covered,
        obj->n);
  if (d->task == PH_TASK_REGRESS ? C != d->n_out : C != d->n_classes)
    return ph_error_set(err, PH_ERR_FORMAT, "riccati step: %zu logits for %s",
                        C, d->name);
  w->x0 = ph_malloc(B * d->in_size, sizeof(double), "riccati input", err);
  if (!w->x0) return PH_ERR_NOMEM;
  for (size_t i = 0; i < B; i++) {
    size_t e = batch->idx ? batch->idx[i] : i;
    memcpy(w->x0 + i * d->in_size, d->x[batch->split] + e * d->in_size,
           d->in_size * sizeof(double));
  }
  for (size_t i = 0; i < L; i++) {
    stage *s = &w->st[i];
    size_t Dy = B * s->dout, Dx = B * s->din;
    s->z = ph_malloc(Dy, sizeof(double), "riccati z", err);
    s->y = ph_malloc(Dy, sizeof(double), "riccati y", err);
    s->p = ph_malloc(Dy, sizeof(double), "riccati adjoint", err);
    s->Bm = ph_calloc(Dy * s->np, sizeof(double), "riccati B", err);
    s->q = ph_malloc(s->np, sizeof(double), "riccati q", err);
    if (i > 0) {
      s->A = ph_calloc(Dy * Dx, sizeof(double), "riccati A", err);
      s->P = ph_malloc(s->np * Dx, sizeof(double), "riccati P", err);
    }
    if (!s->z || !s->y || !s->p || !s->Bm || !s->q ||
        (i > 0 && (!s->A || !s->P)))
      return PH_ERR_NOMEM;
    s->x = i ? w->st[i - 1].y : w->x0;
  }
  return PH_OK;
}

/* Forward pass, loss head (ℓ into w->lam, H_z/B into w->K) and adjoints. */
static ph_status forward_head_adjoint(ws *w, const ph_dataset *d,
                                      const ph_batch *batch,
                                      const double *theta, ph_error *err) {
  size_t B = w->B, L = w->L;
  for (size_t i = 0; i < L; i++) {
    stage *s = &w->st[i];
    for (size_t e = 0; e < B; e++)
      for (size_t j = 0; j < s->dout; j++) {
        double a = s->has_b ? theta[s->b_off + j] : 0, f, d1, d2;
        for (size_t k = 0; k < s->din; k++)
          a += s->W[j * s->din + k] * s->x[e * s->din + k];
        s->z[e * s->dout + j] = a;
        act_eval(s->act, a, &f, &d1, &d2);
        s->y[e * s->dout + j] = f;
      }
  }
  stage *last = &w->st[L - 1];
  size_t C = last->dout, D = B * C;
  w->K = ph_calloc(D * D, sizeof(double), "riccati K", err);
  w->lam = ph_malloc(D, sizeof(double), "riccati lambda", err);
  if (!w->K || !w->lam) return PH_ERR_NOMEM;
  for (size_t e = 0; e < B; e++) {
    const double *zi = last->y + e * C;
    double *li = w->lam + e * C, *Kb = w->K + e * C * D + e * C;
    size_t ex = batch->idx ? batch->idx[e] : e;
    if (d->task == PH_TASK_REGRESS) {
      const double *t = d->t[batch->split] + ex * C;
      for (size_t j = 0; j < C; j++) {
        li[j] = 2 * (zi[j] - t[j]) / (double)(C * B);
        Kb[j * D + j] = 2 / (double)(C * B);
      }
      continue;
    }
    double mx = zi[0], sum = 0;
    for (size_t j = 1; j < C; j++) mx = zi[j] > mx ? zi[j] : mx;
    for (size_t j = 0; j < C; j++) sum += (li[j] = exp(zi[j] - mx));
    for (size_t j = 0; j < C; j++) li[j] /= sum;
    for (size_t j = 0; j < C; j++)
      for (size_t k = 0; k < C; k++)
        Kb[j * D + k] = ((j == k) * li[j] - li[j] * li[k]) / (double)B;
    int32_t y = d->y[batch->split][ex];
    if (y < 0 || (size_t)y >= C)
      return ph_error_set(err, PH_ERR_FORMAT,
                          "riccati step: label %d of example %zu", y, ex);
    li[y] -= 1;
    for (size_t j = 0; j < C; j++) li[j] /= (double)B;
  }
  for (size_t j = 0; j < D; j++)
    if (!isfinite(w->lam[j]))
      return ph_error_set(
          err, PH_ERR_NUMERIC,
          "riccati step: non-finite loss gradient at the logits");
  memcpy(last->p, w->lam, D * sizeof(double));
  for (size_t i = L - 1; i > 0; i--) { /* p_{i-1} = (p_i ⊙ σ'(z_i)) W_i */
    stage *s = &w->st[i], *t = &w->st[i - 1];
    memset(t->p, 0, B * t->dout * sizeof(double));
    for (size_t e = 0; e < B; e++)
      for (size_t j = 0; j < s->dout; j++) {
        double f, d1, d2;
        act_eval(s->act, s->z[e * s->dout + j], &f, &d1, &d2);
        double c = s->p[e * s->dout + j] * d1;
        for (size_t k = 0; k < s->din; k++)
          t->p[e * s->din + k] += c * s->W[j * s->din + k];
      }
  }
  return PH_OK;
}

/* A, B_i and (Newton) the stage's second-order terms Q (Dx, Dx), R (np, np)
 * and M (np, Dx), all accumulated into zeroed buffers (Q, M may be NULL). */
static void stage_terms(const stage *s, size_t B, int newton, double *Q,
                        double *R, double *M) {
  size_t din = s->din, dout = s->dout, np = s->np, Dx = B * din;
  for (size_t e = 0; e < B; e++) {
    const double *x = s->x + e * din;
    for (size_t j = 0; j < dout; j++) {
      double f, d1, d2;
      act_eval(s->act, s->z[e * dout + j], &f, &d1, &d2);
      size_t row = e * dout + j;
      const double *Wj = s->W + j * din;
      if (s->A)
        for (size_t k = 0; k < din; k++)
          s->A[row * Dx + e * din + k] = d1 * Wj[k];
      double *br = s->Bm + row * np;
      for (size_t k = 0; k < din; k++) br[j * din + k] = d1 * x[k];
      if (s->has_b) br[s->nw + j] = d1;
      if (!newton) continue;
      double ee = s->p[row] * d2, c = s->p[row] * d1;
      size_t bj = s->nw + j;
      for (size_t k = 0; k < din; k++) {
        for (size_t k2 = 0; k2 < din; k2++)
          R[(j * din + k) * np + j * din + k2] += ee * x[k] * x[k2];
        if (s->has_b) {
          R[(j * din + k) * np + bj] += ee * x[k];
          R[bj * np + j * din + k] += ee * x[k];
        }
      }
      if (s->has_b) R[bj * np + bj] += ee;
      if (!M) continue;
      for (size_t k2 = 0; k2 < din; k2++) {
        double ew = ee * Wj[k2];
        for (size_t k = 0; k < din; k++) {
          M[(j * din + k) * Dx + e * din + k2] += ew * x[k];
          Q[(e * din + k) * Dx + e * din + k2] += ee * Wj[k] * Wj[k2];
        }
        if (s->has_b) M[bj * Dx + e * din + k2] += ew;
        M[(j * din + k2) * Dx + e * din + k2] += c;
      }
    }
  }
}

/* One backward stage: from (K, λ) of the stage output to P, q and, for
 * i > 0, (K, λ) of its input. */
static ph_status backward_stage(ws *w, size_t i, int newton, double damping,
                                ph_error *err) {
  stage *s = &w->st[i];
  size_t B = w->B, np = s->np, Dy = B * s->dout, Dx = i ? B * s->din : 0,
         nr = Dx + 1;
  double *R = ph_calloc(np * np, sizeof(double), "riccati S", err);
  double *KB = ph_malloc(Dy * np, sizeof(double), "riccati KB", err);
  double *X = ph_calloc(np * nr, sizeof(double), "riccati rhs", err);
  double *N = i ? ph_calloc(np * Dx, sizeof(double), "riccati N", err) : NULL;
  double *Q = i ? ph_calloc(Dx * Dx, sizeof(double), "riccati Q", err) : NULL;
  double *KA = i ? ph_malloc(Dy * Dx, sizeof(double), "riccati KA", err) : NULL;
  double *lam = i ? ph_malloc(Dx, sizeof(double), "riccati lambda", err) : NULL;
  lapack_int *piv = ph_malloc(np, sizeof(lapack_int), "riccati pivots", err);
  ph_status st = (R && KB && X && piv && (!i || (N && Q && KA && lam)))
                     ? PH_OK
                     : PH_ERR_NOMEM;
  if (!st) {
    stage_terms(s, B, newton, Q, R, N);
    for (size_t a = 0; a < np; a++) R[a * np + a] += damping;
    /* S = R + Bᵀ K B */
    cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, (int)Dy, (int)np, 1.0,
                w->K, (int)Dy, s->Bm, (int)np, 0.0, KB, (int)np);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)np, (int)np,
                (int)Dy, 1.0, s->Bm, (int)np, KB, (int)np, 1.0, R, (int)np);
    if (i) { /* N = M + Bᵀ K A */
      cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, (int)Dy, (int)Dx, 1.0,
                  w->K, (int)Dy, s->A, (int)Dx, 0.0, KA, (int)Dx);
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)np, (int)Dx,
                  (int)Dy, 1.0, s->Bm, (int)np, KA, (int)Dx, 1.0, N, (int)Dx);
      for (size_t a = 0; a < np; a++)
        memcpy(X + a * nr, N + a * Dx, Dx * sizeof(double));
    }
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)Dy, (int)np, 1.0, s->Bm,
                (int)np, w->lam, 1, 0.0, X + Dx, (int)nr);
    lapack_int info =
        LAPACKE_dsysv(LAPACK_ROW_MAJOR, 'U', (lapack_int)np, (lapack_int)nr, R,
                      (lapack_int)np, piv, X, (lapack_int)nr);
    if (info != 0)
      st = ph_error_set(err, PH_ERR_NUMERIC,
                        "riccati step: S of layer %zu is singular (LAPACK info "
                        "%d); add damping",
                        i, (int)info);
  }
  if (!st) {
    for (size_t a = 0; a < np; a++) {
      if (i) memcpy(s->P + a * Dx, X + a * nr, Dx * sizeof(double));
      s->q[a] = X[a * nr + Dx];
    }
  }
  if (!st && i) {
    /* K ← AᵀKA + Q − NᵀP, λ ← Aᵀλ − Nᵀq */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Dx, (int)Dx,
                (int)Dy, 1.0, s->A, (int)Dx, KA, (int)Dx, 1.0, Q, (int)Dx);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Dx, (int)Dx,
                (int)np, -1.0, N, (int)Dx, s->P, (int)Dx, 1.0, Q, (int)Dx);
    for (size_t a = 0; a < Dx; a++)
      for (size_t b = 0; b < a; b++)
        Q[a * Dx + b] = Q[b * Dx + a] = 0.5 * (Q[a * Dx + b] + Q[b * Dx + a]);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)Dy, (int)Dx, 1.0, s->A, (int)Dx,
                w->lam, 1, 0.0, lam, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)np, (int)Dx, -1.0, N, (int)Dx,
                s->q, 1, 1.0, lam, 1);
    free(w->K);
    free(w->lam);
    w->K = Q;
    w->lam = lam;
    Q = lam = NULL;
  }
  free(R);
  free(KB);
  free(X);
  free(N);
  free(Q);
  free(KA);
  free(lam);
  free(piv);
  return st;
}

ph_status ph_riccati_mlp_step(ph_objective *obj, const double *theta,
                              const ph_batch *batch, ph_metric metric,
                              double damping, double *step, ph_error *err) {
  const ph_dataset *d = ph_net_dataset(obj);
  if (!d)
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "%s: the Riccati solver needs an MLP network "
                        "objective; use the dense solver",
                        obj->name ? obj->name : "objective");
  ws w;
  memset(&w, 0, sizeof w);
  ph_status st = setup(&w, obj, theta, d, batch, err);
  if (!st) st = forward_head_adjoint(&w, d, batch, theta, err);
  for (size_t i = w.L; i-- > 0 && !st;)
    st = backward_stage(&w, i, metric == PH_METRIC_NEWTON, damping, err);
  if (!st) { /* roll forward: δθ_i = −(P_i δx_i + q_i), δx_{i+1} = A_i δx_i +
                B_i δθ_i */
    double *dx = NULL, *dth = NULL;
    for (size_t i = 0; i < w.L && !st; i++) {
      stage *s = &w.st[i];
      size_t Dy = w.B * s->dout, Dx = w.B * s->din;
      dth = ph_malloc(s->np, sizeof(double), "riccati step", err);
      double *nx = ph_malloc(Dy, sizeof(double), "riccati dx", err);
      if (!dth || !nx) {
        st = PH_ERR_NOMEM;
      } else {
        for (size_t a = 0; a < s->np; a++) dth[a] = -s->q[a];
        if (i)
          cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)s->np, (int)Dx, -1.0,
                      s->P, (int)Dx, dx, 1, 1.0, dth, 1);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)Dy, (int)s->np, 1.0,
                    s->Bm, (int)s->np, dth, 1, 0.0, nx, 1);
        if (i)
          cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)Dy, (int)Dx, 1.0, s->A,
                      (int)Dx, dx, 1, 1.0, nx, 1);
        memcpy(step + s->w_off, dth, s->nw * sizeof(double));
        if (s->has_b)
          memcpy(step + s->b_off, dth + s->nw, s->dout * sizeof(double));
      }
      free(dx);
      free(dth);
      dx = nx;
    }
    free(dx);
  }
  ws_free(&w);
  return st;
}
