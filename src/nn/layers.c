/* layers.c: forward, backward, tangent-forward and tangent-backward of the
 * sequential engine's layers (dense, elementwise activations, conv2d via
 * im2col + GEMM, max and average pooling). The tangent passes implement
 * Pearlmutter's R-operator, so Hv is exact to rounding; derivations in
 * docs/autodiff.md. Reference: Pearlmutter, "Fast exact multiplication by the
 * Hessian", Neural Computation 1994; Schraudolph 2002 for Gauss-Newton. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "nn/seq_int.h"

void nn_act_eval(nn_act a, double x, double *f, double *d1, double *d2) {
  switch (a) {
  case ACT_IDENTITY: *f = x; *d1 = 1; *d2 = 0; return;
  case ACT_TANH: {
    double t = tanh(x);
    *f = t;
    *d1 = 1 - t * t;
    *d2 = -2 * t * (1 - t * t);
    return;
  }
  case ACT_RELU: /* the kink's second derivative (a delta) is taken as 0 */
    *f = x > 0 ? x : 0;
    *d1 = x > 0 ? 1 : 0;
    *d2 = 0;
    return;
  case ACT_GELU: { /* x Φ(x), erf form */
    double phi = 0.5 * (1 + erf(x / M_SQRT2));
    double pdf = exp(-0.5 * x * x) / sqrt(2 * M_PI);
    *f = x * phi;
    *d1 = phi + x * pdf;
    *d2 = pdf * (2 - x * x);
    return;
  }
  case ACT_SOFTPLUS: {
    double s = 1 / (1 + exp(-x));
    *f = x > 30 ? x : log1p(exp(x));
    *d1 = s;
    *d2 = s * (1 - s);
    return;
  }
  case ACT_SIGMOID: {
    double s = 1 / (1 + exp(-x));
    *f = s;
    *d1 = s * (1 - s);
    *d2 = s * (1 - s) * (1 - 2 * s);
    return;
  }
  }
}

/* ---- im2col for one example: x (c, h, w) → cols (c·k·k, ho·wo) ---- */
void nn_im2col(const nn_layer *l, const double *x, double *cols) {
  size_t hw = l->ho * l->wo;
  for (size_t c = 0; c < l->c_in; c++)
    for (size_t ki = 0; ki < l->k; ki++)
      for (size_t kj = 0; kj < l->k; kj++) {
        double *row = cols + ((c * l->k + ki) * l->k + kj) * hw;
        for (size_t oi = 0; oi < l->ho; oi++) {
          long ii = (long)(oi * l->stride + ki) - (long)l->pad;
          for (size_t oj = 0; oj < l->wo; oj++) {
            long jj = (long)(oj * l->stride + kj) - (long)l->pad;
            row[oi * l->wo + oj] =
                (ii >= 0 && jj >= 0 && ii < (long)l->hi && jj < (long)l->wi)
                    ? x[(c * l->hi + (size_t)ii) * l->wi + (size_t)jj]
                    : 0.0;
          }
        }
      }
}

/* Adjoint of im2col: accumulate cols back into x (c, h, w). */
void nn_col2im(const nn_layer *l, const double *cols, double *x) {
  size_t hw = l->ho * l->wo;
  for (size_t c = 0; c < l->c_in; c++)
    for (size_t ki = 0; ki < l->k; ki++)
      for (size_t kj = 0; kj < l->k; kj++) {
        const double *row = cols + ((c * l->k + ki) * l->k + kj) * hw;
        for (size_t oi = 0; oi < l->ho; oi++) {
          long ii = (long)(oi * l->stride + ki) - (long)l->pad;
          if (ii < 0 || ii >= (long)l->hi) continue;
          for (size_t oj = 0; oj < l->wo; oj++) {
            long jj = (long)(oj * l->stride + kj) - (long)l->pad;
            if (jj < 0 || jj >= (long)l->wi) continue;
            x[(c * l->hi + (size_t)ii) * l->wi + (size_t)jj] += row[oi * l->wo + oj];
          }
        }
      }
}

static void add_bias_rows(double *y, const double *b, size_t B, size_t n) {
  for (size_t i = 0; i < B; i++)
    for (size_t j = 0; j < n; j++) y[i * n + j] += b[j];
}

static void colsum_acc(const double *y, size_t B, size_t n, double *acc) {
  for (size_t i = 0; i < B; i++)
    for (size_t j = 0; j < n; j++) acc[j] += y[i * n + j];
}

/* ---- forward ---- */
void nn_forward(nn_layer *l, const double *theta, size_t B, const double *in,
                double *out) {
  switch (l->kind) {
  case NN_DENSE: {
    const double *W = theta + l->w_off;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)l->n_out,
                (int)l->n_in, 1.0, in, (int)l->n_in, W, (int)l->n_in, 0.0, out,
                (int)l->n_out);
    add_bias_rows(out, theta + l->b_off, B, l->n_out);
    return;
  }
  case NN_ACT:
    for (size_t i = 0; i < B * l->in_size; i++) {
      double d1, d2;
      nn_act_eval(l->act, in[i], &out[i], &d1, &d2);
    }
    return;
  case NN_CONV: {
    size_t hw = l->ho * l->wo, kk = l->c_in * l->k * l->k;
    const double *W = theta + l->w_off, *b = theta + l->b_off;
    for (size_t e = 0; e < B; e++) {
      nn_im2col(l, in + e * l->in_size, l->cols);
      double *y = out + e * l->out_size;
      for (size_t c = 0; c < l->c_out; c++)
        for (size_t q = 0; q < hw; q++) y[c * hw + q] = b[c];
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)l->c_out,
                  (int)hw, (int)kk, 1.0, W, (int)kk, l->cols, (int)hw, 1.0, y,
                  (int)hw);
    }
    return;
  }
  case NN_MAXPOOL:
  case NN_AVGPOOL: {
    double inv = 1.0 / (double)(l->k * l->k);
    for (size_t e = 0; e < B; e++)
      for (size_t c = 0; c < l->c_in; c++)
        for (size_t oi = 0; oi < l->ho; oi++)
          for (size_t oj = 0; oj < l->wo; oj++) {
            size_t o = (c * l->ho + oi) * l->wo + oj;
            double best = -INFINITY, sum = 0;
            size_t arg = 0;
            for (size_t ki = 0; ki < l->k; ki++)
              for (size_t kj = 0; kj < l->k; kj++) {
                size_t idx = (c * l->hi + oi * l->stride + ki) * l->wi +
                             oj * l->stride + kj;
                double v = in[e * l->in_size + idx];
                sum += v;
                if (v > best) {
                  best = v;
                  arg = idx;
                }
              }
            if (l->kind == NN_MAXPOOL) {
              out[e * l->out_size + o] = best;
              l->arg[e * l->out_size + o] = arg;
            } else
              out[e * l->out_size + o] = sum * inv;
          }
    return;
  }
  case NN_FLATTEN:
    memcpy(out, in, B * l->in_size * sizeof *in);
    return;
  }
}

/* ---- backward ---- */
void nn_backward(nn_layer *l, const double *theta, size_t B, const double *in,
                 const double *out, const double *dout, double *din,
                 double *grad) {
  (void)out;
  switch (l->kind) {
  case NN_DENSE: {
    const double *W = theta + l->w_off;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l->n_out,
                (int)l->n_in, (int)B, 1.0, dout, (int)l->n_out, in, (int)l->n_in,
                1.0, grad + l->w_off, (int)l->n_in);
    colsum_acc(dout, B, l->n_out, grad + l->b_off);
    if (din)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B,
                  (int)l->n_in, (int)l->n_out, 1.0, dout, (int)l->n_out, W,
                  (int)l->n_in, 0.0, din, (int)l->n_in);
    return;
  }
  case NN_ACT:
    if (din)
      for (size_t i = 0; i < B * l->in_size; i++) {
        double f, d1, d2;
        nn_act_eval(l->act, in[i], &f, &d1, &d2);
        din[i] = dout[i] * d1;
      }
    return;
  case NN_CONV: {
    size_t hw = l->ho * l->wo, kk = l->c_in * l->k * l->k;
    const double *W = theta + l->w_off;
    for (size_t e = 0; e < B; e++) {
      const double *dy = dout + e * l->out_size;
      nn_im2col(l, in + e * l->in_size, l->cols);
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)l->c_out,
                  (int)kk, (int)hw, 1.0, dy, (int)hw, l->cols, (int)hw, 1.0,
                  grad + l->w_off, (int)kk);
      for (size_t c = 0; c < l->c_out; c++)
        for (size_t q = 0; q < hw; q++) grad[l->b_off + c] += dy[c * hw + q];
      if (din) {
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kk, (int)hw,
                    (int)l->c_out, 1.0, W, (int)kk, dy, (int)hw, 0.0, l->dcols,
                    (int)hw);
        memset(din + e * l->in_size, 0, l->in_size * sizeof *din);
        nn_col2im(l, l->dcols, din + e * l->in_size);
      }
    }
    return;
  }
  case NN_MAXPOOL:
    if (din) {
      memset(din, 0, B * l->in_size * sizeof *din);
      for (size_t e = 0; e < B; e++)
        for (size_t o = 0; o < l->out_size; o++)
          din[e * l->in_size + l->arg[e * l->out_size + o]] +=
              dout[e * l->out_size + o];
    }
    return;
  case NN_AVGPOOL:
    if (din) {
      double inv = 1.0 / (double)(l->k * l->k);
      memset(din, 0, B * l->in_size * sizeof *din);
      for (size_t e = 0; e < B; e++)
        for (size_t c = 0; c < l->c_in; c++)
          for (size_t oi = 0; oi < l->ho; oi++)
            for (size_t oj = 0; oj < l->wo; oj++) {
              double g = dout[e * l->out_size + (c * l->ho + oi) * l->wo + oj] * inv;
              for (size_t ki = 0; ki < l->k; ki++)
                for (size_t kj = 0; kj < l->k; kj++)
                  din[e * l->in_size + (c * l->hi + oi * l->stride + ki) * l->wi +
                      oj * l->stride + kj] += g;
            }
    }
    return;
  case NN_FLATTEN:
    if (din) memcpy(din, dout, B * l->in_size * sizeof *din);
    return;
  }
}
