/* layers_naive.c: naive loop references of the dense and conv2d passes
 * (forward, backward, tangent forward, tangent backward), written directly
 * from the index formulas in docs/autodiff.md with no BLAS and no im2col, so
 * tests can compare the optimised kernels of layers.c and layers_tangent.c
 * against an independent implementation. Not used by the objective (slow);
 * other layer kinds are forwarded to the optimised passes. */
#include <string.h>

#include "nn/chain.h"

/* y (+)= x Wᵀ + b for one dense layer; b may be NULL. */
static void dense_fwd(const nn_layer *l, const double *W, const double *b,
                      size_t B, const double *x, double *y, int acc) {
  for (size_t e = 0; e < B; e++)
    for (size_t o = 0; o < l->n_out; o++) {
      double s = b ? b[o] : 0.0;
      for (size_t i = 0; i < l->n_in; i++)
        s += x[e * l->n_in + i] * W[o * l->n_in + i];
      y[e * l->n_out + o] = (acc ? y[e * l->n_out + o] : 0.0) + s;
    }
}

/* gW += dyᵀ x, gb += Σ_e dy (gb may be NULL). */
static void dense_wgrad(const nn_layer *l, size_t B, const double *dy,
                        const double *x, double *gW, double *gb) {
  for (size_t e = 0; e < B; e++)
    for (size_t o = 0; o < l->n_out; o++) {
      double d = dy[e * l->n_out + o];
      if (gb) gb[o] += d;
      for (size_t i = 0; i < l->n_in; i++)
        gW[o * l->n_in + i] += d * x[e * l->n_in + i];
    }
}

/* dx (+)= dy W. */
static void dense_xgrad(const nn_layer *l, const double *W, size_t B,
                        const double *dy, double *dx, int acc) {
  for (size_t e = 0; e < B; e++)
    for (size_t i = 0; i < l->n_in; i++) {
      double s = 0;
      for (size_t o = 0; o < l->n_out; o++)
        s += dy[e * l->n_out + o] * W[o * l->n_in + i];
      dx[e * l->n_in + i] = (acc ? dx[e * l->n_in + i] : 0.0) + s;
    }
}

/* Input pixel of output (oi, oj) and kernel tap (ki, kj), or -1 in the
 * padding. */
static long tap(const nn_layer *l, size_t ci, size_t oi, size_t oj, size_t ki,
                size_t kj) {
  long ii = (long)(oi * l->stride + ki) - (long)l->pad;
  long jj = (long)(oj * l->stride + kj) - (long)l->pad;
  if (ii < 0 || jj < 0 || ii >= (long)l->hi || jj >= (long)l->wi) return -1;
  return (long)((ci * l->hi + (size_t)ii) * l->wi + (size_t)jj);
}

#define WIDX(co, ci, ki, kj)                                                   \
  ((((co)*l->c_in + (ci)) * l->k + (ki)) * l->k + (kj))

/* y (+)= conv(x; W) + b per example, W (c_out, c_in, k, k), NCHW. */
static void conv_fwd(const nn_layer *l, const double *W, const double *b,
                     size_t B, const double *x, double *y, int acc) {
  for (size_t e = 0; e < B; e++)
    for (size_t co = 0; co < l->c_out; co++)
      for (size_t oi = 0; oi < l->ho; oi++)
        for (size_t oj = 0; oj < l->wo; oj++) {
          double s = b ? b[co] : 0.0;
          for (size_t ci = 0; ci < l->c_in; ci++)
            for (size_t ki = 0; ki < l->k; ki++)
              for (size_t kj = 0; kj < l->k; kj++) {
                long p = tap(l, ci, oi, oj, ki, kj);
                if (p >= 0)
                  s += W[WIDX(co, ci, ki, kj)] * x[e * l->in_size + (size_t)p];
              }
          double *yo = &y[e * l->out_size + (co * l->ho + oi) * l->wo + oj];
          *yo = (acc ? *yo : 0.0) + s;
        }
}

static void conv_wgrad(const nn_layer *l, size_t B, const double *dy,
                       const double *x, double *gW, double *gb) {
  for (size_t e = 0; e < B; e++)
    for (size_t co = 0; co < l->c_out; co++)
      for (size_t oi = 0; oi < l->ho; oi++)
        for (size_t oj = 0; oj < l->wo; oj++) {
          double d = dy[e * l->out_size + (co * l->ho + oi) * l->wo + oj];
          if (gb) gb[co] += d;
          for (size_t ci = 0; ci < l->c_in; ci++)
            for (size_t ki = 0; ki < l->k; ki++)
              for (size_t kj = 0; kj < l->k; kj++) {
                long p = tap(l, ci, oi, oj, ki, kj);
                if (p >= 0)
                  gW[WIDX(co, ci, ki, kj)] += d * x[e * l->in_size + (size_t)p];
              }
        }
}

static void conv_xgrad(const nn_layer *l, const double *W, size_t B,
                       const double *dy, double *dx, int acc) {
  if (!acc) memset(dx, 0, B * l->in_size * sizeof *dx);
  for (size_t e = 0; e < B; e++)
    for (size_t co = 0; co < l->c_out; co++)
      for (size_t oi = 0; oi < l->ho; oi++)
        for (size_t oj = 0; oj < l->wo; oj++) {
          double d = dy[e * l->out_size + (co * l->ho + oi) * l->wo + oj];
          for (size_t ci = 0; ci < l->c_in; ci++)
            for (size_t ki = 0; ki < l->k; ki++)
              for (size_t kj = 0; kj < l->k; kj++) {
                long p = tap(l, ci, oi, oj, ki, kj);
                if (p >= 0)
                  dx[e * l->in_size + (size_t)p] += W[WIDX(co, ci, ki, kj)] * d;
              }
        }
}

typedef void (*fwd_fn)(const nn_layer *, const double *, const double *, size_t,
                       const double *, double *, int);
typedef void (*wgrad_fn)(const nn_layer *, size_t, const double *,
                         const double *, double *, double *);
typedef void (*xgrad_fn)(const nn_layer *, const double *, size_t,
                         const double *, double *, int);

static int pick(const nn_layer *l, fwd_fn *f, wgrad_fn *w, xgrad_fn *x) {
  if (l->kind == NN_DENSE) {
    *f = dense_fwd;
    *w = dense_wgrad;
    *x = dense_xgrad;
    return 1;
  }
  if (l->kind == NN_CONV) {
    *f = conv_fwd;
    *w = conv_wgrad;
    *x = conv_xgrad;
    return 1;
  }
  return 0;
}

void nn_naive_forward(nn_layer *l, const double *theta, size_t B,
                      const double *in, double *out) {
  fwd_fn f;
  wgrad_fn w;
  xgrad_fn x;
  if (!pick(l, &f, &w, &x)) {
    nn_forward(l, theta, B, in, out);
    return;
  }
  f(l, theta + l->w_off, theta + l->b_off, B, in, out, 0);
}

void nn_naive_backward(nn_layer *l, const double *theta, size_t B,
                       const double *in, const double *out, const double *dout,
                       double *din, double *grad) {
  fwd_fn f;
  wgrad_fn w;
  xgrad_fn x;
  if (!pick(l, &f, &w, &x)) {
    nn_backward(l, theta, B, in, out, dout, din, grad);
    return;
  }
  if (grad) w(l, B, dout, in, grad + l->w_off, grad + l->b_off);
  if (din) x(l, theta + l->w_off, B, dout, din, 0);
}

/* ẏ = f(x; V, v_b) + f(ẋ; W, 0) */
void nn_naive_tangent_forward(nn_layer *l, const double *theta, const double *v,
                              size_t B, const double *in, const double *out,
                              const double *tin, double *tout) {
  fwd_fn f;
  wgrad_fn w;
  xgrad_fn x;
  if (!pick(l, &f, &w, &x)) {
    nn_tangent_forward(l, theta, v, B, in, out, tin, tout);
    return;
  }
  f(l, v + l->w_off, v + l->b_off, B, in, tout, 0);
  if (tin) f(l, theta + l->w_off, NULL, B, tin, tout, 1);
}

/* (Hv)_W += ḋyᵀx [+ dyᵀẋ], (Hv)_b += Σ ḋy, ḋx = ḋy W [+ dy V] */
void nn_naive_tangent_backward(nn_layer *l, const double *theta,
                               const double *v, size_t B, const double *in,
                               const double *tin, const double *dout,
                               const double *tdout, double *tdin, double *hv,
                               int second_order) {
  fwd_fn f;
  wgrad_fn w;
  xgrad_fn x;
  if (!pick(l, &f, &w, &x)) {
    nn_tangent_backward(l, theta, v, B, in, NULL, tin, dout, tdout, tdin, hv,
                        second_order);
    return;
  }
  w(l, B, tdout, in, hv + l->w_off, hv + l->b_off);
  if (second_order && tin) w(l, B, dout, tin, hv + l->w_off, NULL);
  if (tdin) {
    x(l, theta + l->w_off, B, tdout, tdin, 0);
    if (second_order) x(l, v + l->w_off, B, dout, tdin, 1);
  }
}
