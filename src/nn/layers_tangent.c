/* layers_tangent.c: the tangent passes of the sequential layers (the
 * R-operator; docs/autodiff.md §2). For a layer h_out = f(h_in; θ) and a
 * direction v in parameter space:
 *   tangent forward   ḣ_out = ∂f/∂h_in ḣ_in + ∂f/∂θ v
 *   tangent backward  the derivative of the backward pass along (ḣ_in, v):
 *     dense  ḋh_in = ḋh_out W + [dh_out V]      (Hv)_W += ḋh_outᵀ h_in +
 * [dh_outᵀ ḣ_in] act    ḋh_in = ḋh_out σ'(x) + [dh_out σ''(x) ẋ] where the
 * bracketed second-order terms are dropped for Gauss-Newton products
 * (second_order = 0), leaving the plain VJP of ḋh_out. */
#include <string.h>

#include "nn/dense.h"
#include "nn/seq_int.h"

void nn_tangent_forward(nn_layer *l, const double *theta, const double *v,
                        size_t B, const double *in, const double *out,
                        const double *tin, double *tout) {
  switch (l->kind) {
  case NN_DENSE:
    ph_nn_dense_tangent_forward(tout, in, tin, theta + l->w_off, v + l->w_off,
                                v + l->b_off, B, l->n_in, l->n_out);
    return;
  case NN_ACT:
    if (tin)
      nn_act_scale(l, B * l->in_size, in, out, tin, tout);
    else
      memset(tout, 0, B * l->out_size * sizeof *tout);
    return;
  case NN_CONV: nn_conv_tangent_forward(l, theta, v, B, in, tin, tout); return;
  case NN_MAXPOOL:
    for (size_t e = 0; e < B; e++)
      for (size_t o = 0; o < l->out_size; o++)
        tout[e * l->out_size + o] =
            tin ? tin[e * l->in_size + l->arg[e * l->out_size + o]] : 0.0;
    return;
  case NN_AVGPOOL:
  case NN_FLATTEN:
    if (!tin) {
      memset(tout, 0, B * l->out_size * sizeof *tout);
      return;
    }
    nn_forward(l, theta, B, tin, tout); /* linear, parameter-free */
    return;
  case NN_RESDENSE:
    nn_res_tangent_forward(l, theta, v, B, in, tin, tout);
    return;
  }
}

void nn_dense_tangent_backward(const nn_layer *l, const double *theta,
                               const double *v, size_t B, const double *in,
                               const double *tin, const double *dout,
                               const double *tdout, double *tdin, double *hv,
                               int second_order, int fresh) {
  double *dW = hv + l->w_off, *db = hv + l->b_off;
  if (fresh) {
    /* ph_nn_dense_tangent_backward's terms in its order, the first weight
     * product overwriting and the bias sums starting from zeroes */
    ph_nn_gemm_set(1, 0, l->n_out, l->n_in, B, tdout, in, dW);
    memset(db, 0, l->n_out * sizeof *db);
    ph_nn_dense_backward(NULL, NULL, db, tdout, NULL, NULL, B, l->n_in,
                         l->n_out);
    if (second_order && tin)
      ph_nn_gemm_acc(1, 0, l->n_out, l->n_in, B, dout, tin, dW);
  } else
    /* (Hv)_θ accumulates */
    ph_nn_dense_tangent_backward(NULL, dW, db, dout, tdout, in, tin,
                                 theta + l->w_off, v + l->w_off, B, l->n_in,
                                 l->n_out, second_order);
  /* the chain overwrites tdin (ph_nn_dense_dx_set: ḋy W [+ dy Ẇ], the
   * terms ph_nn_dense_tangent_backward would add, in its order) */
  if (tdin)
    ph_nn_dense_dx_set(tdin, tdout, theta + l->w_off,
                       second_order ? dout : NULL, v + l->w_off, B, l->n_in,
                       l->n_out);
}

void nn_tangent_backward(nn_layer *l, const double *theta, const double *v,
                         size_t B, const double *in, const double *out,
                         const double *tin, const double *dout,
                         const double *tdout, double *tdin, double *hv,
                         int second_order) {
  switch (l->kind) {
  case NN_DENSE:
    nn_dense_tangent_backward(l, theta, v, B, in, tin, dout, tdout, tdin, hv,
                              second_order, 0);
    return;
  case NN_ACT:
    if (!tdin) return;
    /* relu and identity have σ'' = 0: only the first-order term */
    if (!second_order || !tin || l->act == ACT_RELU || l->act == ACT_IDENTITY) {
      nn_act_scale(l, B * l->in_size, in, out, tdout, tdin);
      return;
    }
    if (!nn_act_second_order_cached(l->act, B * l->in_size, out, tdout, dout,
                                    tin, tdin))
      nn_act_second_order(l->act, B * l->in_size, in, tdout, dout, tin, tdin);
    return;
  case NN_CONV:
    nn_conv_tangent_backward(l, theta, v, B, in, tin, dout, tdout, tdin, hv,
                             second_order);
    return;
  case NN_MAXPOOL:
  case NN_AVGPOOL:
  case NN_FLATTEN:
    /* Linear and parameter-free (max pooling with the forward's argmax):
     * the tangent of backward is backward of the tangent. */
    if (tdin) nn_backward(l, theta, B, in, NULL, tdout, tdin, hv);
    return;
  case NN_RESDENSE:
    nn_res_tangent_backward(l, theta, v, B, in, tin, dout, tdout, tdin, hv,
                            second_order);
    return;
  }
}
