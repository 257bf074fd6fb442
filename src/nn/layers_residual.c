/* layers_residual.c: the residual dense block y = x + σ(z), z = x Wᵀ + b,
 * W (H, H), as one op of the sequential engine with its four passes
 * (docs/autodiff.md §2, "residual"): the skip connection's adjoint is added
 * inside the op, so the chain engine needs no graph edges. The block keeps
 * z and σ'(z) from the forward, dz from the backward and ż from the tangent
 * forward (buffers of (max_batch, H) allocated at build time).
 * Does not do: blocks whose width changes (no projection on the skip). */
#include <cblas.h>
#include <string.h>

#include "nn/seq_int.h"

/* out (+)= in Mᵀ (+ bias rows) */
static void affine(const nn_layer *l, size_t B, const double *in,
                   const double *M, const double *bias, double beta,
                   double *out) {
  int H = (int)l->n_out;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, H, H, 1.0, in, H,
              M, H, beta, out, H);
  if (bias)
    for (size_t i = 0; i < B; i++)
      for (size_t j = 0; j < l->n_out; j++) out[i * l->n_out + j] += bias[j];
}

void nn_res_forward(nn_layer *l, const double *theta, size_t B,
                    const double *in, double *out) {
  size_t n = B * l->n_out;
  affine(l, B, in, theta + l->w_off, theta + l->b_off, 0.0, l->z);
  nn_act_apply(l->act, n, l->z, out, l->d1, NULL);
  for (size_t i = 0; i < n; i++) out[i] = in[i] + out[i];
}

/* dz = dy σ'(z); dW += dzᵀx; db += Σ dz; dx = dy + dz W */
void nn_res_backward(nn_layer *l, const double *theta, size_t B,
                     const double *in, const double *dout, double *din,
                     double *grad) {
  int H = (int)l->n_out;
  size_t n = B * l->n_out;
  nn_act_scale(l, n, l->z, NULL, dout, l->dz);
  if (grad) {
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, H, (int)B, 1.0,
                l->dz, H, in, H, 1.0, grad + l->w_off, H);
    for (size_t i = 0; i < B; i++)
      for (size_t j = 0; j < l->n_out; j++)
        grad[l->b_off + j] += l->dz[i * l->n_out + j];
  }
  if (din) {
    memcpy(din, dout, n * sizeof *din);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, H, H, 1.0,
                l->dz, H, theta + l->w_off, H, 1.0, din, H);
  }
}

/* ż = x Vᵀ + v_b + ẋ Wᵀ; ẏ = ẋ + σ'(z) ż */
void nn_res_tangent_forward(nn_layer *l, const double *theta, const double *v,
                            size_t B, const double *in, const double *tin,
                            double *tout) {
  size_t n = B * l->n_out;
  affine(l, B, in, v + l->w_off, v + l->b_off, 0.0, l->tz);
  if (tin) affine(l, B, tin, theta + l->w_off, NULL, 1.0, l->tz);
  nn_act_scale(l, n, l->z, NULL, l->tz, tout);
  if (tin)
    for (size_t i = 0; i < n; i++) tout[i] += tin[i];
}

/* ḋz = ḋy σ'(z) [+ dy σ''(z) ż]; (Hv)_W += ḋzᵀx [+ dzᵀẋ]; (Hv)_b += Σ ḋz;
 * ḋx = ḋy + ḋz W [+ dz V]. The bracketed terms need the backward's dz. */
void nn_res_tangent_backward(nn_layer *l, const double *theta, const double *v,
                             size_t B, const double *in, const double *tin,
                             const double *dout, const double *tdout,
                             double *tdin, double *hv, int second_order) {
  int H = (int)l->n_out;
  size_t n = B * l->n_out;
  if (second_order && l->act != ACT_RELU && l->act != ACT_IDENTITY)
    nn_act_second_order(l->act, n, l->z, tdout, dout, l->tz, l->tdz);
  else
    nn_act_scale(l, n, l->z, NULL, tdout, l->tdz);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, H, (int)B, 1.0,
              l->tdz, H, in, H, 1.0, hv + l->w_off, H);
  if (second_order && tin)
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, H, (int)B, 1.0,
                l->dz, H, tin, H, 1.0, hv + l->w_off, H);
  for (size_t i = 0; i < B; i++)
    for (size_t j = 0; j < l->n_out; j++)
      hv[l->b_off + j] += l->tdz[i * l->n_out + j];
  if (tdin) {
    memcpy(tdin, tdout, n * sizeof *tdin);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, H, H, 1.0,
                l->tdz, H, theta + l->w_off, H, 1.0, tdin, H);
    if (second_order)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, H, H, 1.0,
                  l->dz, H, v + l->w_off, H, 1.0, tdin, H);
  }
}
