/* net_block.c: block products H·V and G·V for k directions at once in the
 * sequential engine (dense and activation layers: MLPs).
 *
 * One forward and one backward serve all k directions; the k tangents then
 * travel together as k rows per example, row e·k + j holding direction j's
 * tangent of example e. Every product of a layer becomes one GEMM with k
 * times the rows or columns of the single-direction one:
 *   tangent forward   Ẏ (m, k·n_out) = X [V_1; …; V_k]ᵀ, Ẏ += Ẋ Wᵀ
 *   tangent backward  [HV_j]_W = (ḊY_jᵀ X) stacked as ḊYᵀ X (k·n_out, n_in),
 *                     plus dYᵀ Ẋ (n_out, k·n_in) for the second-order term,
 *                     ḊX = ḊY W, ḊX += dY [V_1 | … | V_k]
 * (the same formulas as layers_tangent.c; derivations docs/autodiff.md §2).
 * Only the summation order differs from k single products, so the results
 * agree to rounding (tests/nn/test_nn.c: ≤ 1e-12 relative). Models with
 * other layers, and token data, share the forward and backward but take
 * the k tangents one at a time (net_obj.c, block_chunk). Buffers are allocated
 * on the first block product and kept (nn_block_reserve). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "nn/net_int.h"

int nn_block_supported(const nn_net *n) {
  if (n->seq_T) return 0;
  for (size_t i = 0; i < n->n_layers; i++)
    if (n->layers[i].kind != NN_DENSE && n->layers[i].kind != NN_ACT) return 0;
  return 1;
}

void nn_block_free(nn_net *n) {
  for (int s = 0; s < 2; s++) {
    double **b = s ? n->btdh : n->bth;
    if (b)
      for (size_t i = 0; i <= n->n_layers; i++) free(b[i]);
    free(b);
  }
  free(n->bscr[0]);
  free(n->bscr[1]);
  free(n->bact);
  n->bth = n->btdh = NULL;
  n->bscr[0] = n->bscr[1] = n->bact = NULL;
  n->bk = 0;
}

ph_status nn_block_reserve(nn_net *n, size_t k, ph_error *err) {
  if (k <= n->bk) return PH_OK;
  nn_block_free(n);
  size_t K = n->n_layers, rows = n->max_batch * k, scr = 1, width = 1;
  n->bth = ph_calloc(K + 1, sizeof *n->bth, "block tangents", err);
  n->btdh = ph_calloc(K + 1, sizeof *n->btdh, "block tangents", err);
  if (!n->bth || !n->btdh) goto fail;
  for (size_t i = 0; i <= K; i++) {
    size_t sz = i == 0 ? n->layers[0].in_size : n->layers[i - 1].out_size;
    width = sz > width ? sz : width;
    n->bth[i] = ph_malloc(rows * sz, sizeof(double), "block tangents", err);
    n->btdh[i] = ph_malloc(rows * sz, sizeof(double), "block tangents", err);
    if (!n->bth[i] || !n->btdh[i]) goto fail;
  }
  for (size_t i = 0; i < K; i++)
    if (n->layers[i].kind == NN_DENSE) {
      size_t s = k * n->layers[i].n_out * n->layers[i].n_in;
      scr = s > scr ? s : scr;
    }
  n->bscr[0] = ph_malloc(scr, sizeof(double), "block scratch", err);
  n->bscr[1] = ph_malloc(scr, sizeof(double), "block scratch", err);
  n->bact = ph_malloc(2 * width, sizeof(double), "block scratch", err);
  if (!n->bscr[0] || !n->bscr[1] || !n->bact) goto fail;
  n->bk = k;
  return PH_OK;
fail:
  nn_block_free(n);
  return PH_ERR_NOMEM;
}

/* S (k·n_out, n_in): the k weight tangents stacked by rows; with
 * side = 1, S (n_out, k·n_in): side by side. */
static void stack_w(const nn_layer *l, size_t k, const double *V, size_t n,
                    int side, double *S) {
  size_t no = l->n_out, ni = l->n_in;
  for (size_t j = 0; j < k; j++) {
    const double *w = V + j * n + l->w_off;
    if (!side)
      memcpy(S + j * no * ni, w, no * ni * sizeof *S);
    else
      for (size_t o = 0; o < no; o++)
        memcpy(S + o * k * ni + j * ni, w + o * ni, ni * sizeof *S);
  }
}

static void dense_tf(nn_net *n, const nn_layer *l, const double *theta,
                     size_t k, const double *V, size_t m, const double *in,
                     const double *tin, double *tout) {
  int no = (int)l->n_out, ni = (int)l->n_in, kk = (int)k, M = (int)m;
  double *S = n->bscr[0];
  stack_w(l, k, V, n->n_params, 0, S);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, kk * no, ni, 1.0, in,
              ni, S, ni, 0.0, tout, kk * no);
  if (tin)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M * kk, no, ni, 1.0,
                tin, ni, theta + l->w_off, ni, 1.0, tout, no);
  for (size_t e = 0; e < m; e++)
    for (size_t j = 0; j < k; j++) {
      double *r = tout + (e * k + j) * l->n_out;
      const double *vb = V + j * n->n_params + l->b_off;
      for (size_t o = 0; o < l->n_out; o++) r[o] += vb[o];
    }
}

static void dense_tb(nn_net *n, const nn_layer *l, const double *theta,
                     size_t k, const double *V, size_t m, const double *in,
                     const double *tin, const double *dout, const double *tdout,
                     double *tdin, double *HV, int second_order) {
  size_t no = l->n_out, ni = l->n_in, np = n->n_params;
  int kk = (int)k, M = (int)m;
  double *S = n->bscr[0], *T = n->bscr[1];
  /* (HV_j)_W += ḊY_jᵀ X for all j: ḊY viewed as (m, k·n_out) */
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk * (int)no, (int)ni, M,
              1.0, tdout, kk * (int)no, in, (int)ni, 0.0, S, (int)ni);
  for (size_t j = 0; j < k; j++) {
    double *h = HV + j * np + l->w_off;
    const double *s = S + j * no * ni;
    for (size_t q = 0; q < no * ni; q++) h[q] += s[q];
  }
  if (second_order && tin) {
    /* (HV_j)_W += dYᵀ Ẋ_j: (n_out, k·n_in) */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)no, kk * (int)ni,
                M, 1.0, dout, (int)no, tin, kk * (int)ni, 0.0, T, kk * (int)ni);
    for (size_t j = 0; j < k; j++) {
      double *h = HV + j * np + l->w_off;
      for (size_t o = 0; o < no; o++)
        for (size_t i = 0; i < ni; i++)
          h[o * ni + i] += T[o * k * ni + j * ni + i];
    }
  }
  for (size_t e = 0; e < m; e++)
    for (size_t j = 0; j < k; j++) {
      const double *r = tdout + (e * k + j) * no;
      double *hb = HV + j * np + l->b_off;
      for (size_t o = 0; o < no; o++) hb[o] += r[o];
    }
  if (!tdin) return;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M * kk, (int)ni,
              (int)no, 1.0, tdout, (int)no, theta + l->w_off, (int)ni, 0.0,
              tdin, (int)ni);
  if (second_order) {
    stack_w(l, k, V, np, 1, T);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, kk * (int)ni,
                (int)no, 1.0, dout, (int)no, T, kk * (int)ni, 1.0, tdin,
                kk * (int)ni);
  }
}

/* out[e·k + j] = u[e·k + j] ⊙ σ'(x_e) (+ w_e ⊙ σ''(x_e) ⊙ t[e·k + j]).
 * y: the forward's output σ(x); tanh and sigmoid take σ'' from it and the
 * cached σ' (nn_act_d2_from_output, as nn_act_second_order_cached, so the same
 * bits as the single product) instead of evaluating σ again. */
static void act_block(nn_net *n, const nn_layer *l, size_t k, size_t m,
                      const double *in, const double *y, const double *u,
                      const double *w, const double *t, double *out) {
  size_t sz = l->in_size;
  double *d1 = n->bact, *d2 = n->bact + sz;
  int so = w && t && l->act != ACT_RELU && l->act != ACT_IDENTITY;
  int poly = l->d1 && (l->act == ACT_TANH || l->act == ACT_SIGMOID);
  for (size_t e = 0; e < m; e++) {
    const double *x = in + e * sz;
    if (so && poly) {
      const double *ye = y + e * sz, *g = l->d1 + e * sz;
      memcpy(d1, g, sz * sizeof *d1);
      for (size_t i = 0; i < sz; i++)
        d2[i] = nn_act_d2_from_output(l->act, ye[i], g[i]);
    } else if (so)
      nn_act_apply(l->act, sz, x, NULL, d1, d2);
    else if (l->act == ACT_RELU)
      for (size_t i = 0; i < sz; i++) d1[i] = x[i] > 0 ? 1.0 : 0.0;
    else if (l->d1)
      memcpy(d1, l->d1 + e * sz, sz * sizeof *d1);
    else
      nn_act_apply(l->act, sz, x, NULL, d1, NULL);
    for (size_t j = 0; j < k; j++) {
      size_t r = (e * k + j) * sz;
      if (so)
        for (size_t i = 0; i < sz; i++)
          out[r + i] = u[r + i] * d1[i] + w[e * sz + i] * d2[i] * t[r + i];
      else
        for (size_t i = 0; i < sz; i++) out[r + i] = u[r + i] * d1[i];
    }
  }
}

void nn_block_tangent_forward(nn_net *n, const double *theta, size_t k,
                              const double *V, size_t m) {
  for (size_t i = 0; i < n->n_layers; i++) {
    const nn_layer *l = &n->layers[i];
    const double *tin = i ? n->bth[i] : NULL;
    if (l->kind == NN_DENSE)
      dense_tf(n, l, theta, k, V, m, n->h[i], tin, n->bth[i + 1]);
    else if (tin)
      act_block(n, l, k, m, n->h[i], n->h[i + 1], tin, NULL, NULL,
                n->bth[i + 1]);
    else
      memset(n->bth[i + 1], 0, m * k * l->out_size * sizeof(double));
  }
}

void nn_block_tangent_backward(nn_net *n, const double *theta, size_t k,
                               const double *V, size_t m, double *HV,
                               int second_order) {
  for (size_t i = n->n_layers; i-- > 0;) {
    const nn_layer *l = &n->layers[i];
    const double *tin = i ? n->bth[i] : NULL;
    double *tdin = i ? n->btdh[i] : NULL;
    if (l->kind == NN_DENSE)
      dense_tb(n, l, theta, k, V, m, n->h[i], tin, n->dh[i + 1], n->btdh[i + 1],
               tdin, HV, second_order);
    else if (tdin)
      act_block(n, l, k, m, n->h[i], n->h[i + 1], n->btdh[i + 1],
                second_order ? n->dh[i + 1] : NULL, tin, tdin);
  }
}
