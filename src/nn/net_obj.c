/* net_obj.c: the network objective (core/objective.h) over the sequential
 * engine: loss and gradient by reverse mode, exact Hv by forward-over-reverse
 * (Pearlmutter 1994), Gauss-Newton Gv = Jᵀ H_z J v, evaluation. Batches larger
 * than the graph's max batch are processed in chunks; each chunk's seed is
 * scaled by 1/N (N the whole batch), so the result is the same mean loss.
 * Loss: softmax cross-entropy for classes, mean squared error (mean over
 * examples and outputs, as PyTorch's MSELoss) for regression; for token
 * data cross-entropy per position, mean over the batch's positions that
 * have a target (as PyTorch's cross_entropy with ignore_index=-1). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/pool.h"
#include "core/vec.h"
#include "nn/dense.h"
#include "nn/net_int.h"
#include "nn/tf_kernels.h"
#include "nn/transformer.h"
#include "nn/vmath.h"

typedef enum { RUN_EVAL, RUN_GRAD, RUN_HVP, RUN_GGN } run_mode;

/* Whether the chunk's examples are consecutive rows of the split (no
 * indices, or indices that count up by one), so that its input is a block
 * of the data set as it stands. */
static int chunk_consecutive(const ph_batch *b, size_t start, size_t m) {
  if (!b->idx) return 1;
  for (size_t i = 1; i < m; i++)
    if (b->idx[start + i] != b->idx[start] + i) return 0;
  return 1;
}

/* The chunk's input rows, labels and targets into the network's buffers.
 * When the rows are consecutive in the data set, h[0] points at them there
 * instead of at a copy (every pass reads the input and none writes it):
 * the copy of a 1024 × 64 batch was 1.5–2.5 % of the tanh MLP's gradient
 * (docs/performance-history.md, eighth session). The same values, so the same
 * bits. Token data is one-hot encoded, so always built in h0_buf. */
static ph_status gather(nn_net *n, const ph_batch *b, size_t start, size_t m,
                        ph_error *err) {
  const ph_dataset *d = n->data;
  size_t avail = d->n[b->split];
  int direct = !n->seq_T && m > 0 && chunk_consecutive(b, start, m);
  if (direct) {
    size_t e0 = b->idx ? b->idx[start] : start;
    direct = e0 < avail && m <= avail - e0; /* else the loop's error */
    n->h[0] = direct ? d->x[b->split] + e0 * d->in_size : n->h0_buf;
  } else
    n->h[0] = n->h0_buf;
  for (size_t i = 0; i < m; i++) {
    size_t e = b->idx ? b->idx[start + i] : start + i;
    if (e >= avail)
      return ph_error_set(
          err, PH_ERR_ARG,
          "%s: example %zu is outside the %s split (%zu examples)", n->spec, e,
          b->split ? "test" : "train", avail);
    if (n->seq_T) {
      /* one-hot: token t of the example sets feature t·V + id */
      double *row = n->h[0] + i * n->seq_T * n->vocab;
      const double *tok = d->x[b->split] + e * d->in_size;
      memset(row, 0, n->seq_T * n->vocab * sizeof *row);
      for (size_t t = 0; t < n->seq_T; t++) {
        if (!(tok[t] >= 0 && tok[t] < (double)n->vocab))
          return ph_error_set(
              err, PH_ERR_ARG,
              "%s: example %zu position %zu: token %g outside [0, %zu)",
              n->spec, e, t, tok[t], n->vocab);
        row[t * n->vocab + (size_t)tok[t]] = 1.0;
      }
      memcpy(n->labels + i * n->seq_T, d->y[b->split] + e * n->seq_T,
             n->seq_T * sizeof(int32_t));
      continue;
    }
    if (!direct)
      memcpy(n->h[0] + i * d->in_size, d->x[b->split] + e * d->in_size,
             d->in_size * sizeof(double));
    if (n->loss_mse)
      memcpy(n->targets + i * n->n_out, d->t[b->split] + e * n->n_out,
             n->n_out * sizeof(double));
    else
      n->labels[i] = d->y[b->split][e];
  }
  return PH_OK;
}

/* Loss (summed over the chunk, then scaled) of the logits h[K]; counts
 * correct predictions, and for cross-entropy leaves the softmax in n->p,
 * which head_adjoint and head_tangent read. Classification has one softmax
 * row of C logits per example, token data seq_T rows; a row whose label is
 * −1 contributes nothing (p unused). */
static double head(nn_net *n, size_t m, double scale, double *correct) {
  size_t C = n->seq_T ? n->vocab : n->n_out,
         rows = m * (n->seq_T ? n->seq_T : 1);
  const double *z = n->h[n->n_layers];
  double loss = 0;
  if (n->loss_mse) {
    for (size_t i = 0; i < m * C; i++) {
      double r = z[i] - n->targets[i];
      loss += r * r / (double)C;
    }
    return loss * scale;
  }
  /* softmax rows, loss from the log-sum-exp (nn/vmath.h) */
  double lse[256];
  for (size_t r0 = 0; r0 < rows; r0 += 256) {
    size_t nr = rows - r0 < 256 ? rows - r0 : 256;
    ph_vmath_softmax_rows(z + r0 * C, n->p + r0 * C, lse, nr, C, C);
    for (size_t r = 0; r < nr; r++) {
      size_t i = r0 + r;
      int32_t y = n->labels[i];
      if (y < 0) continue;
      loss += lse[r] - z[i * C + (size_t)y];
    }
  }
  *correct += (double)ph_nn_xent_correct(z, n->labels, rows, C);
  return loss * scale;
}

/* The loss's derivative w.r.t. the logits, dz = scale ∂ℓ/∂z, after head on
 * the same chunk: cross-entropy's comes from the softmax head left in
 * n->p (every backward runs after its chunk's forward and head,
 * forward_cached), so the softmax is not computed a second time (it was,
 * until the eighth session: 2–3 % of the tanh MLP's gradient at b1024);
 * the same p, so the same bits. Rows without a target give 0. */
static void head_adjoint(nn_net *n, size_t m, double scale, double *dz) {
  size_t C = n->seq_T ? n->vocab : n->n_out,
         rows = m * (n->seq_T ? n->seq_T : 1);
  if (n->loss_mse) {
    const double *z = n->h[n->n_layers];
    for (size_t i = 0; i < m * C; i++)
      dz[i] = scale * 2 * (z[i] - n->targets[i]) / (double)C;
    return;
  }
  /* the cross-entropy kernel shared with the transformer (nn/tf_kernels.h:
   * dz accumulates, so it is zeroed first) */
  memset(dz, 0, rows * C * sizeof *dz);
  ph_nn_xent_backward(dz, 1.0, n->p, n->labels, rows, C, scale);
}

/* ḋz = scale H_z ż: softmax CE H_z = diag(p) − ppᵀ per row (0 for rows
 * without a target); MSE H_z = (2/C) I. */
static void head_tangent(nn_net *n, size_t m, double scale, const double *tz,
                         double *out) {
  size_t C = n->seq_T ? n->vocab : n->n_out,
         rows = m * (n->seq_T ? n->seq_T : 1);
  if (n->loss_mse) {
    for (size_t i = 0; i < m * C; i++) out[i] = scale * 2 * tz[i] / (double)C;
    return;
  }
  /* the shared cross-entropy R-operator (nn/tf_kernels.h, accumulating:
   * zeroed first) */
  memset(out, 0, rows * C * sizeof *out);
  ph_nn_xent_tangent_backward(out, 1.0, 0.0, n->p, tz, n->labels, rows, C,
                              scale);
}

/* The number of loss terms the mean is over: examples, or for token data
 * the positions with a target in the whole batch. */
static ph_status count_terms(const nn_net *n, const ph_batch *b, double *count,
                             ph_error *err) {
  if (!n->seq_T) {
    *count = (double)b->n;
    return PH_OK;
  }
  const ph_dataset *d = n->data;
  size_t c = 0, avail = d->n[b->split];
  for (size_t i = 0; i < b->n; i++) {
    size_t e = b->idx ? b->idx[i] : i;
    if (e >= avail)
      return ph_error_set(
          err, PH_ERR_ARG,
          "%s: example %zu is outside the %s split (%zu examples)", n->spec, e,
          b->split ? "test" : "train", avail);
    const int32_t *y = d->y[b->split] + e * n->seq_T;
    for (size_t t = 0; t < n->seq_T; t++) c += y[t] >= 0;
  }
  if (c == 0)
    return ph_error_set(err, PH_ERR_ARG,
                        "%s: the batch has no positions with a target",
                        n->spec);
  *count = (double)c;
  return PH_OK;
}

/* ---- the forward cache ----
 * Curvature work asks for many products at one θ on one batch (Lanczos,
 * power iteration, the 50 inner products of an LLQR refresh). A chunk's
 * forward pass, and the backward's adjoints inside Hv, do not depend on
 * the direction, so run_chunk keeps them and reuses them while θ and the
 * chunk's examples stay the same to the bit: the key compares θ's bytes
 * and the chunk's indices, so an optimiser that updates θ in place, or a
 * sampler that refills its index array, never reads stale activations.
 * A reused pass is the same computation on the same inputs, so every
 * result is the same bits as without the cache. In parallel products each
 * worker keeps the cache of the chunk it computed last. Only a curvature
 * product reuses a pass, so a network that has never run one (training
 * by gradients alone, an evaluation loop) stores no key: the copy of θ
 * was 3 % of the small MLP's gradient and 2.15 MB per network and product
 * on the large one (docs/performance.md, eleventh session). From its first
 * Hv, Gv or block on, every pass is keyed, so a gradient followed by
 * curvature products at its θ (an LLQR refresh, `pothole eval --grad
 * --hvp`) pays one extra forward once per network. */
static int cache_hit(const nn_net *n, const double *theta, const ph_batch *b,
                     size_t start, size_t m, double scale) {
  if (!n->c_level || n->c_m != m || n->c_start != start ||
      n->c_split != b->split || n->c_scale != scale ||
      n->c_has_idx != (b->idx != NULL))
    return 0;
  if (b->idx && memcmp(n->c_idx, b->idx + start, m * sizeof *b->idx) != 0)
    return 0;
  return memcmp(n->c_theta, theta, n->n_params * sizeof *theta) == 0;
}

static ph_status cache_reserve(nn_net *n, ph_error *err) {
  if (n->c_theta) return PH_OK;
  /* zeroed: a key never written reads as θ = 0, which test_cache asks for */
  n->c_theta = ph_calloc(n->n_params, sizeof(double), "forward cache", err);
  n->c_idx = ph_malloc(n->max_batch, sizeof(size_t), "forward cache", err);
  if (n->c_theta && n->c_idx) return PH_OK;
  free(n->c_theta);
  free(n->c_idx);
  n->c_theta = NULL;
  n->c_idx = NULL;
  return PH_ERR_NOMEM;
}

/* keyed: c_theta already holds θ's bytes (an earlier chunk of the same
 * product ran on this network, forward_cached), so the copy is skipped: at
 * one thread the large MLP's batch of 256 is two chunks on one network,
 * and the second chunk's copy of θ (2.15 MB) was about 2 % of its
 * gradient (docs/performance.md, tenth session). */
static void cache_store(nn_net *n, const double *theta, int keyed,
                        const ph_batch *b, size_t start, size_t m, double scale,
                        double loss, double correct) {
  if (!keyed) memcpy(n->c_theta, theta, n->n_params * sizeof *theta);
  if (b->idx) memcpy(n->c_idx, b->idx + start, m * sizeof *b->idx);
  n->c_has_idx = b->idx != NULL;
  n->c_split = b->split;
  n->c_start = start;
  n->c_m = m;
  n->c_scale = scale;
  n->c_loss = loss;
  n->c_correct = correct;
  n->c_level = 1;
}

/* Whether layers i, i + 1, i + 2 are a conv, a ReLU and a tiled max
 * pooling, which every pass below takes as one group (seq_int.h,
 * nn_conv_relu_pool_*: the same bits as the three layers' passes). The
 * conv's output h[i + 1] and the ReLU's h[i + 2], their tangents and their
 * adjoints are then never written: each chunk's conv output stays in the
 * conv's chunk buffer (cache-sized) between the GEMM and the pooling, which
 * saves two passes over the CNN's largest activations in each direction
 * (docs/performance-history.md, sixth session). No pass reads them: the
 * pooling's passes read its argmax and output, the ReLU's mask is the pooled
 * output's sign, and the conv's second-order term rebuilds its dy per chunk
 * from the pooled adjoint. */
static int conv_group_at(const nn_net *n, size_t i) {
  return i + 2 < n->n_layers &&
         nn_conv_relu_pool_fusable(&n->layers[i], &n->layers[i + 1],
                                   &n->layers[i + 2]);
}

/* The forward of the chain, h[first + 1..K] from h[first] (first = 0: the
 * whole chain; the plane evaluation starts at 1 or 2). wt, when not NULL
 * (the plane evaluation), holds the transposes of the dense layers' weights
 * from `first` on, one after the other, and those layers run as
 * ph_nn_dense_forward_t. A ReLU followed by tiled max pooling takes one
 * pass (nn_relu_maxpool_forward, the same bits): the
 * ReLU's output h[i + 1] is then not written, and no later pass reads it
 * (the pooling's passes read its argmax, the ReLU's its input h[i], and the
 * ReLU's tangent backward reads its output for σ'' only, which ReLU does not
 * have). In a CNN that saves a read and a write of its largest
 * activations. */
static void forward_from(nn_net *n, const double *theta, size_t m, size_t first,
                         const double *wt) {
  size_t K = n->n_layers;
  for (size_t i = first; i < K; i++) {
    const nn_layer *l = &n->layers[i];
    if (wt && l->kind == NN_DENSE) {
      ph_nn_dense_forward_t(n->h[i + 1], n->h[i], wt, theta + l->b_off, m,
                            l->n_in, l->n_out);
      wt += l->n_in * l->n_out;
      continue;
    }
    if (conv_group_at(n, i)) {
      nn_conv_relu_pool_forward(&n->layers[i], &n->layers[i + 2], theta, m,
                                n->h[i], n->h[i + 3]);
      i += 2;
      continue;
    }
    if (i + 1 < K &&
        nn_relu_maxpool_fusable(&n->layers[i], &n->layers[i + 1])) {
      nn_relu_maxpool_forward(&n->layers[i + 1], m, n->h[i], n->h[i + 2]);
      i++;
      continue;
    }
    nn_forward(&n->layers[i], theta, m, n->h[i], n->h[i + 1]);
  }
}

/* The tangent forward of the chain along v, th[1..K]; ReLU then tiled max
 * pooling in one pass (nn_relu_maxpool_tangent_forward, the same bits),
 * which leaves the ReLU's output tangent th[i + 1] unwritten: the pooling's
 * tangent backward does not read its input tangent. */
static void tangent_forward(nn_net *n, const double *theta, const double *v,
                            size_t m) {
  size_t K = n->n_layers;
  for (size_t i = 0; i < K; i++) {
    if (conv_group_at(n, i)) {
      nn_conv_relu_pool_tangent_forward(&n->layers[i], &n->layers[i + 2], theta,
                                        v, m, n->h[i], i ? n->th[i] : NULL,
                                        n->h[i + 3], n->th[i + 3]);
      i += 2;
      continue;
    }
    if (i + 1 < K &&
        nn_relu_maxpool_fusable(&n->layers[i], &n->layers[i + 1])) {
      nn_relu_maxpool_tangent_forward(&n->layers[i + 1], m, n->h[i],
                                      i ? n->th[i] : NULL, n->th[i + 2]);
      i++;
      continue;
    }
    nn_tangent_forward(&n->layers[i], theta, v, m, n->h[i], n->h[i + 1],
                       i ? n->th[i] : NULL, n->th[i + 1]);
  }
}

/* The backward from the loss's adjoint (head_adjoint, after the chunk's
 * forward and head): dh for every layer, and the
 * gradient into g when g is not NULL. A ReLU followed by tiled max pooling
 * (not the first layer) takes one fused pass (nn_relu_maxpool_backward, the
 * same bits); the ReLU's output adjoint dh is then not written, which no
 * later pass reads (ReLU's tangent backward has no second-order term). */
static void backward(nn_net *n, const double *theta, size_t m, double scale,
                     double *g, int fresh) {
  size_t K = n->n_layers;
  head_adjoint(n, m, scale, n->dh[K]);
  for (size_t i = K; i-- > 0;) {
    if (i >= 2 && conv_group_at(n, i - 2)) {
      nn_conv_relu_pool_backward(&n->layers[i - 2], &n->layers[i], theta, m,
                                 n->h[i - 2], n->h[i + 1], n->dh[i + 1],
                                 i > 2 ? n->dh[i - 2] : NULL, g);
      i -= 2;
      continue;
    }
    if (i >= 2 && nn_relu_maxpool_fusable(&n->layers[i - 1], &n->layers[i])) {
      nn_relu_maxpool_backward(&n->layers[i], m, n->h[i - 1], n->dh[i + 1],
                               n->dh[i - 1]);
      i--;
      continue;
    }
    /* an activation after a dense layer: its σ' pass also sums the dense
     * layer's bias adjoint (nn_act_scale_rows, the same bits) */
    if (g && i >= 1 && n->layers[i - 1].kind == NN_DENSE &&
        nn_act_scale_rows_ok(&n->layers[i])) {
      const nn_layer *d = &n->layers[i - 1];
      if (fresh) memset(g + d->b_off, 0, d->n_out * sizeof *g);
      nn_act_scale_rows(&n->layers[i], m, n->h[i], n->h[i + 1], n->dh[i + 1],
                        n->dh[i], g + d->b_off);
      nn_dense_backward(d, theta, m, n->h[i - 1], n->dh[i],
                        i > 1 ? n->dh[i - 1] : NULL, g, 0, fresh);
      i--;
      continue;
    }
    if (g && fresh && n->layers[i].kind == NN_DENSE) {
      nn_dense_backward(&n->layers[i], theta, m, n->h[i], n->dh[i + 1],
                        i ? n->dh[i] : NULL, g, 1, 1);
      continue;
    }
    nn_backward(&n->layers[i], theta, m, n->h[i], n->h[i + 1], n->dh[i + 1],
                i ? n->dh[i] : NULL, g);
  }
}

/* The tangent backward from ḋh of the logits (tdh[K]) down the chain,
 * (Hv)_θ or (Gv)_θ accumulated into out. ReLU then tiled max pooling takes
 * the fused pass, as in backward: both tangents are linear in ḋh (ReLU has
 * no second-order term, pooling reuses the argmax), so it is the same
 * kernel on tdh, with the same bits. */
static void tangent_backward(nn_net *n, const double *theta, const double *v,
                             size_t m, double *out, int second_order,
                             int fresh) {
  for (size_t i = n->n_layers; i-- > 0;) {
    if (i >= 2 && conv_group_at(n, i - 2)) {
      size_t c = i - 2;
      nn_conv_relu_pool_tangent_backward(
          &n->layers[c], &n->layers[i], theta, v, m, n->h[c],
          c ? n->th[c] : NULL, n->h[i + 1], n->dh[i + 1], n->tdh[i + 1],
          c ? n->tdh[c] : NULL, out, second_order);
      i -= 2;
      continue;
    }
    if (i >= 2 && nn_relu_maxpool_fusable(&n->layers[i - 1], &n->layers[i])) {
      nn_relu_maxpool_backward(&n->layers[i], m, n->h[i - 1], n->tdh[i + 1],
                               n->tdh[i - 1]);
      i--;
      continue;
    }
    if (fresh && n->layers[i].kind == NN_DENSE) {
      nn_dense_tangent_backward(&n->layers[i], theta, v, m, n->h[i],
                                i ? n->th[i] : NULL, n->dh[i + 1],
                                n->tdh[i + 1], i ? n->tdh[i] : NULL, out,
                                second_order, 1);
      continue;
    }
    nn_tangent_backward(&n->layers[i], theta, v, m, n->h[i], n->h[i + 1],
                        i ? n->th[i] : NULL, n->dh[i + 1], n->tdh[i + 1],
                        i ? n->tdh[i] : NULL, out, second_order);
  }
}

/* Whether every parameter is a dense layer's (NN_DENSE weights and bias;
 * the other layers activations): then the backward and the tangent
 * backward write each entry of the product once, layer by layer, and a
 * chunk whose output holds nothing yet can overwrite it (fresh) instead of
 * zeroing it first and accumulating. Same bits (the weight products through
 * ph_nn_gemm_set, the bias sums from zeroed entries); zeroing the result
 * was 1-2 % of the MLPs' products (docs/performance.md, tenth session). */
static int writes_every_param(const nn_net *n) {
  size_t covered = 0;
  for (size_t i = 0; i < n->n_layers; i++) {
    const nn_layer *l = &n->layers[i];
    if (l->kind == NN_DENSE)
      covered += l->n_in * l->n_out + l->n_out;
    else if (l->kind != NN_ACT)
      return 0;
  }
  return covered == n->n_params;
}

/* The direction-free passes of the chunk [start, start + m): its forward
 * (and the head's softmax), and for Hv also the backward's adjoints dh
 * (without the gradient's parameter products), taken from the forward
 * cache when θ, the chunk's examples and the scale are those of the
 * passes in the buffers, computed and recorded otherwise. Single products
 * (run_chunk) and block products (block_chunk) both start here, so a block
 * at the θ of the last product, or the next block at one θ, as Lanczos
 * and SLQ ask for them, pays for the tangent passes only. */
static ph_status forward_cached(nn_net *n, const double *theta, int keyed,
                                const ph_batch *b, size_t start, size_t m,
                                run_mode mode, double scale, ph_error *err) {
  PH_TRY(cache_reserve(n, err));
  if (mode != RUN_EVAL) n->c_curvature = 1;
  if (!cache_hit(n, theta, b, start, m, scale)) {
    n->c_level = 0;
    PH_TRY(gather(n, b, start, m, err));
    forward_from(n, theta, m, 0, NULL);
    double c = 0, l = head(n, m, scale, &c);
    if (n->c_curvature)
      cache_store(n, theta, keyed, b, start, m, scale, l, c);
    else { /* no key: c_level stays 0, so nothing can hit this pass */
      n->c_loss = l;
      n->c_correct = c;
    }
  }
  if (mode == RUN_HVP && n->c_level < 2) {
    backward(n, theta, m, scale, NULL, 0);
    n->c_level = 2;
  }
  return PH_OK;
}

/* One chunk [start, start + m) of the batch (m ≤ max_batch): its loss
 * (scaled), correct count and its product, accumulated into out. keyed:
 * this network has run an earlier chunk of the same product, so its
 * cache's key already holds θ (cache_store). */
static ph_status run_chunk(nn_net *n, const double *theta, int keyed, int fresh,
                           const ph_batch *b, size_t start, size_t m,
                           run_mode mode, const double *v, double scale,
                           double *loss, double *correct, double *out,
                           ph_error *err) {
  size_t K = n->n_layers;
  if (mode == RUN_GRAD) {
    PH_TRY(forward_cached(n, theta, keyed, b, start, m, RUN_EVAL, scale, err));
    backward(n, theta, m, scale, out, fresh);
    if (n->c_level) n->c_level = 1; /* dh as the gradient's backward left it */
  } else
    PH_TRY(forward_cached(n, theta, keyed, b, start, m, mode, scale, err));
  *loss += n->c_loss;
  *correct += n->c_correct;
  if (mode == RUN_EVAL || mode == RUN_GRAD) return PH_OK;
  tangent_forward(n, theta, v, m);
  head_tangent(n, m, scale, n->th[K], n->tdh[K]);
  tangent_backward(n, theta, v, m, out, mode == RUN_HVP, fresh);
  return PH_OK;
}

/* The k-direction block product on the chunk [start, start + m): the
 * direction-free passes once (forward_cached: reused from the last
 * product or block at this θ and chunk), then each direction's tangent
 * passes, the same calls as a single product's, which read the same
 * forward caches (σ', argmax, z): a direction costs its tangent passes
 * only and equals its single product bit for bit. Stacking the k tangents
 * as k rows per example and taking each layer product as one GEMM of k
 * times the size (net_block.c until the sixth session of issue 15) measured
 * 10–20 % slower than this on every MLP tried: on this machine's OpenBLAS
 * the stacked shapes run no faster per flop than the single ones, and the
 * stacking, scratch sums and per-example activation loops cost extra
 * (docs/performance-history.md). Accumulated into HV. */
static ph_status block_chunk(nn_net *n, const double *theta, int keyed,
                             int fresh, const ph_batch *b, size_t start,
                             size_t m, run_mode mode, size_t k, const double *V,
                             double scale, double *HV, ph_error *err) {
  size_t K = n->n_layers, np = n->n_params;
  PH_TRY(forward_cached(n, theta, keyed, b, start, m, mode, scale, err));
  for (size_t j = 0; j < k; j++) {
    const double *v = V + j * np;
    tangent_forward(n, theta, v, m);
    head_tangent(n, m, scale, n->th[K], n->tdh[K]);
    tangent_backward(n, theta, v, m, HV + j * np, mode == RUN_HVP, fresh);
  }
  return PH_OK;
}

/* ---- deterministic parallel products (ph_net_set_threads) ----
 * The batch of N examples is cut into chunks whose size depends on N and
 * max_batch only, never on the thread count (par_chunk_for). Each chunk's
 * loss, correct count and product are computed from zero by whichever
 * thread takes it (every thread has its own network buffers), then added
 * to the result in chunk order. Each chunk's figures are the same bits
 * whoever computes them, and every sum runs in the same order, so the
 * result is bit-identical for any number of threads. Chunks run in waves
 * of T (T = n_workers + 1, the caller included) on a persistent team of
 * threads (core/pool.h); BLAS runs one thread inside them
 * (ph_net_set_threads sets OpenBLAS to 1 thread). A wave's first chunk
 * writes straight into the result; the others write their own partial
 * products, and the team then adds them, each thread over its own range
 * of the entries (each entry still takes the partials in chunk order).
 * Every chunk zeroes its own output inside its thread (or, in an MLP,
 * overwrites it: writes_every_param), so no zeroing or summing of the
 * whole vector runs on one thread while the other waits. */
#define PH_NN_PAR_PARTS 2

/* Entries below which one thread adds the partials alone: the hand-over
 * to the team costs more than the adds (a 9k-parameter MLP's sum takes a
 * few microseconds). */
#define PH_NN_PAR_REDUCE_MIN 16384

/* Examples per chunk for a batch of N: as few chunks as the buffers allow
 * (ceil(N / max_batch)), but at least PH_NN_PAR_PARTS when every chunk
 * keeps PH_NN_PAR_CHUNK examples or more, so two threads have work. Fewer,
 * longer chunks mean larger GEMMs and fewer partial products to zero and
 * add: with 64-example chunks one thread spent a quarter of a large MLP's
 * gradient on them (docs/performance-history.md). */
static size_t par_chunk_for(const nn_net *n, size_t N) {
  size_t parts = (N + n->max_batch - 1) / n->max_batch;
  if (parts < PH_NN_PAR_PARTS && N >= PH_NN_PAR_PARTS * PH_NN_PAR_CHUNK)
    parts = PH_NN_PAR_PARTS;
  if (parts == 0) parts = 1;
  return (N + parts - 1) / parts;
}

typedef struct par_job {
  nn_net *net;
  const double *theta, *v;
  const ph_batch *b;
  size_t start, m;
  run_mode mode;
  size_t k;  /* 0: one product (run_chunk); else a block of k (block_chunk) */
  int keyed; /* net ran an earlier chunk of this product (run_chunk) */
  const double *V;
  double scale, loss, correct;
  double *out; /* (n_params, or k·n_params): the result or a partial */
  ph_status st;
  ph_error err;
} par_job;

/* One wave: jobs[0..nj) for threads 0..nj−1; out gets the partials of
 * jobs[first..nj) added (first = 1 when jobs[0] wrote into out). */
typedef struct par_wave {
  par_job jobs[PH_NN_MAX_THREADS];
  size_t nj, first, len, threads;
  double *out;
} par_wave;

static void par_compute(void *arg, size_t t) {
  par_wave *w = arg;
  if (t >= w->nj) return;
  par_job *j = &w->jobs[t];
  j->loss = j->correct = 0;
  /* the result: overwritten or zeroed here; partials are zero
   * (par_reduce) */
  int fresh = j->out && j->out == w->out && writes_every_param(j->net);
  if (j->out && j->out == w->out && !fresh)
    memset(j->out, 0, w->len * sizeof *j->out);
  if (j->k)
    j->st = block_chunk(j->net, j->theta, j->keyed, fresh, j->b, j->start, j->m,
                        j->mode, j->k, j->V, j->scale, j->out, &j->err);
  else
    j->st = run_chunk(j->net, j->theta, j->keyed, fresh, j->b, j->start, j->m,
                      j->mode, j->v, j->scale, &j->loss, &j->correct, j->out,
                      &j->err);
}

/* Thread t adds the partials into its range of out, whole cache lines
 * apart from the other threads' ranges, and zeroes what it read: the
 * partials stay zero between products, ready for the next chunk to
 * accumulate into. Zeroing them here, while the lines are in cache,
 * replaces a memset of a cold partial at the start of each chunk
 * (2.2 MB for the large MLP, 0.2 ms of the worker's time while the
 * calling thread, whose result buffer is warm, zeroed it in 0.07 ms and
 * then waited). */
static void par_reduce(void *arg, size_t t) {
  par_wave *w = arg;
  size_t T = w->len < PH_NN_PAR_REDUCE_MIN ? 1 : w->threads;
  size_t step = ((w->len + T - 1) / T + 7) / 8 * 8;
  size_t lo = t * step, hi = lo + step < w->len ? lo + step : w->len;
  if (t >= T || lo >= hi) return;
  for (size_t c = w->first; c < w->nj; c++) {
    double *p = w->jobs[c].out;
    for (size_t i = lo; i < hi; i++) {
      w->out[i] += p[i];
      p[i] = 0;
    }
  }
}

/* Runs wave.jobs[0..nj) and adds their loss and correct counts in chunk
 * order; the first failing job's error. */
static ph_status par_wave_run(nn_net *n, par_wave *wave, double *total,
                              double *correct, ph_error *err) {
  ph_pool_run(n->pool, par_compute, wave);
  for (size_t w = 0; w < wave->nj; w++) { /* in chunk order */
    if (wave->jobs[w].st != PH_OK) {
      *err = wave->jobs[w].err;
      return wave->jobs[w].st;
    }
    *total += wave->jobs[w].loss;
    *correct += wave->jobs[w].correct;
  }
  return PH_OK;
}

static ph_status run_waves(nn_net *n, const double *theta, const ph_batch *b,
                           run_mode mode, const double *v, size_t k,
                           double scale, double *total, double *correct,
                           double *out, ph_error *err) {
  size_t T = n->n_workers + 1, N = b->n, c = par_chunk_for(n, N);
  size_t len = n->n_params * (k ? k : 1);
  if (out && len > n->partial_len) {
    for (size_t w = 0; w < T; w++) {
      ph_free_lines(n->partial[w]);
      n->partial[w] = ph_calloc_lines(len, sizeof(double), "partials", err);
      if (!n->partial[w]) {
        n->partial_len = 0;
        return PH_ERR_NOMEM;
      }
    }
    n->partial_len = len;
  }
  par_wave wave;
  wave.len = len;
  wave.out = out;
  wave.threads = ph_pool_threads(n->pool);
  par_job job = {.net = n,
                 .theta = theta,
                 .v = v,
                 .b = b,
                 .mode = mode,
                 .k = k,
                 .V = v,
                 .scale = scale};
  /* One thread, two chunks (a batch of at most max_batch examples, cut in
   * two so that a second thread has work): both chunks run on this
   * network, and each overwrites the other's forward cache, so products at
   * one θ would never hit it. When the cache holds the second chunk at
   * this θ, that chunk goes first, which makes every other chunk a hit: it
   * is computed into the partial, the first into the result, and they are
   * added in chunk order as below, the same bits. (A cached chunk has
   * passed gather's checks, so an error is still the first chunk's.) */
  if (T == 1 && N > c && N <= 2 * c &&
      cache_hit(n, theta, b, c, N - c, scale)) {
    wave.jobs[1] = job;
    wave.jobs[1].start = c;
    wave.jobs[1].m = N - c;
    wave.jobs[1].out = out ? n->partial[0] : NULL;
    wave.jobs[0] = wave.jobs[1];
    wave.nj = 1; /* the second chunk alone, in jobs[0] */
    double l1 = 0, c1 = 0;
    PH_TRY(par_wave_run(n, &wave, &l1, &c1, err));
    wave.jobs[1] = wave.jobs[0];
    wave.jobs[0] = job;
    wave.jobs[0].start = 0;
    wave.jobs[0].m = c;
    wave.jobs[0].out = out;
    wave.jobs[0].keyed = 1; /* the cache's key was θ (the hit above) */
    PH_TRY(par_wave_run(n, &wave, total, correct, err));
    *total += l1;
    *correct += c1;
    wave.nj = 2;
    wave.first = 1;
    if (out) ph_pool_run(n->pool, par_reduce, &wave);
    return PH_OK;
  }
  for (size_t c0 = 0; c0 < N; c0 += T * c) {
    size_t nj = 0;
    for (size_t w = 0; w < T && c0 + w * c < N; w++, nj++) {
      size_t st = c0 + w * c;
      wave.jobs[w] = job;
      wave.jobs[w].net = w ? n->workers[w - 1] : n;
      wave.jobs[w].start = st;
      wave.jobs[w].m = N - st < c ? N - st : c;
      wave.jobs[w].keyed = c0 > 0; /* this network ran chunk c0 - T·c + w */
      wave.jobs[w].out = !out ? NULL : c0 == 0 && w == 0 ? out : n->partial[w];
    }
    wave.nj = nj;
    wave.first = c0 == 0 ? 1 : 0;
    PH_TRY(par_wave_run(n, &wave, total, correct, err));
    if (out && wave.first < nj) ph_pool_run(n->pool, par_reduce, &wave);
  }
  return PH_OK;
}

/* run_waves; after a failure the partials it left half summed are zeroed
 * again (par_reduce keeps them zero between products). */
static ph_status run_parallel(nn_net *n, const double *theta, const ph_batch *b,
                              run_mode mode, const double *v, size_t k,
                              double scale, double *total, double *correct,
                              double *out, ph_error *err) {
  ph_status s =
      run_waves(n, theta, b, mode, v, k, scale, total, correct, out, err);
  if (s != PH_OK)
    for (size_t w = 0; w < PH_NN_MAX_THREADS && n->partial_len; w++)
      if (n->partial[w])
        memset(n->partial[w], 0, n->partial_len * sizeof *n->partial[w]);
  return s;
}

static ph_status run(nn_net *n, const double *theta, const ph_batch *b,
                     run_mode mode, const double *v, double *loss, double *out,
                     double *acc, ph_error *err) {
  size_t N = b->n;
  if (N == 0) return ph_error_set(err, PH_ERR_ARG, "%s: empty batch", n->spec);
  /* the parallel path zeroes out inside the first chunk's thread; the
   * first chunk overwrites it when it writes every entry */
  int fresh = writes_every_param(n);
  if (out && !n->par_chunk && !fresh) memset(out, 0, n->n_params * sizeof *out);
  double count;
  PH_TRY(count_terms(n, b, &count, err));
  double total = 0, correct = 0, scale = 1.0 / count;
  if (n->par_chunk)
    PH_TRY(run_parallel(n, theta, b, mode, v, 0, scale, &total, &correct, out,
                        err));
  else
    for (size_t start = 0; start < N; start += n->max_batch) {
      size_t m = N - start < n->max_batch ? N - start : n->max_batch;
      PH_TRY(run_chunk(n, theta, start > 0, fresh && start == 0, b, start, m,
                       mode, v, scale, &total, &correct, out, err));
    }
  if (loss) *loss = total;
  if (acc) *acc = n->loss_mse ? NAN : correct / count;
  return PH_OK;
}

/* HV (k rows of n) = ∇²L V or G V for k directions, by chunks (in
 * parallel after ph_net_set_threads). */
static ph_status run_block(nn_net *n, const double *theta, const ph_batch *b,
                           run_mode mode, size_t k, const double *V, double *HV,
                           ph_error *err) {
  size_t N = b->n;
  if (N == 0) return ph_error_set(err, PH_ERR_ARG, "%s: empty batch", n->spec);
  int fresh = writes_every_param(n);
  if (!n->par_chunk && !fresh) memset(HV, 0, k * n->n_params * sizeof *HV);
  double count, total = 0, correct = 0;
  PH_TRY(count_terms(n, b, &count, err));
  double scale = 1.0 / count;
  if (n->par_chunk)
    return run_parallel(n, theta, b, mode, V, k, scale, &total, &correct, HV,
                        err);
  for (size_t start = 0; start < N; start += n->max_batch) {
    size_t m = N - start < n->max_batch ? N - start : n->max_batch;
    PH_TRY(block_chunk(n, theta, start > 0, fresh && start == 0, b, start, m,
                       mode, k, V, scale, HV, err));
  }
  return PH_OK;
}

/* ---- evaluation on a plane (grids; core/objective.h, plane_prepare) ----
 * A grid evaluates the loss at θ(a, b) = θ0 + a·d1 + b·d2 for many (a, b)
 * on one batch. The first layer is linear in its parameters: for a dense
 * first layer, z(a, b) = (b0 + X W0ᵀ) + a·(b1 + X D1ᵀ) + b·(b2 + X D2ᵀ),
 * with (W0, b0), (D1, b1), (D2, b2) that layer's entries of θ0, d1, d2. So
 * the three products (P0, P1, P2, bias included) are computed once per
 * plane, and each point's first layer is two scaled additions instead of
 * a GEMM (46 % of the forward's GEMM flops of mlp:64-64 on 64 inputs, 75 %
 * of mlp:256-256 on 784). The layers after the first read the θ(a, b)
 * the grid built; their dense layers run on the transposed weights
 * (ph_nn_dense_forward_t: libxsmm's NN kernels, twice OpenBLAS's NT speed
 * on the small MLP's shapes), and an activation right after the first
 * layer is applied to the combination piece by piece while it is in L1.
 *
 * Rounding (docs/landscape.md, "Grids by plane"): against the exact z,
 * eval's first layer errs by at most γ_{K+4}·M elementwise (K = inputs;
 * θ(a, b) is rounded, then a sum of K + 1 terms), and so does this one
 * (each P a sum of K + 1 terms, then the combination's four roundings),
 * with M = |X||W0|ᵀ + |b0| + |a|(|X||D1|ᵀ + |b1|) + |b|(|X||D2|ᵀ + |b2|);
 * so the two differ by at most 2γ_{K+4}·M, which the rest of the net
 * propagates; its dense layers sum the bias first, eval's last, each way
 * within γ_{K+1}(|b| + |W||y|) of the exact sum
 * (tests/landscape/test_landscape_mlp.c bounds the loss). At a = b = 0,
 * P0 is eval's own first layer at θ0, but the later layers' order still
 * differs: the centre, too, agrees with eval to rounding only.
 *
 * Chunks are eval's (max_batch, or par_chunk_for's after
 * ph_net_set_threads), the losses added in chunk order as run() does. */

/* Doubles one network may hold for a plane (64 MiB): the products take
 * (1 + directions) × first-layer width × batch doubles; beyond this the
 * grid evaluates directly. */
#define PH_NN_PLANE_MAX_DOUBLES ((size_t)1 << 23)

/* A plane's products and labels are read only once prepared, and the
 * same for every worker of a grid: a clone made while its network holds a
 * plane shares them (cb_clone), and keeps them when its own plane_prepare
 * gets the same inputs (plane_data_matches), instead of gathering the
 * batch and running the three GEMMs again into memory of its own (about
 * 390 fresh pages for the suite's grid, most of a two-thread grid's set-up
 * after the clone's buffers; docs/performance.md, tenth session). What the
 * products depend on is kept to compare: the first layer's entries of θ0,
 * d1 (and d2) and the batch. The same bits: the products are a function of
 * exactly those. */
typedef struct nn_plane_data {
  int refs; /* planes holding it (atomic: grid workers drop theirs) */
  size_t N, dirs, chunk;
  ph_split split;
  size_t *idx;     /* the batch's indices; NULL: its first N examples */
  double *key;     /* (1 + dirs) × (W0 then b0 of θ0, d1[, d2]) */
  double *P;       /* (1 + dirs) blocks of (N, width): P0, P1[, P2] */
  int32_t *labels; /* (N, per), classification */
  double *targets; /* (N, n_out), regression */
} nn_plane_data;

typedef struct nn_plane {
  size_t N, width, dirs, chunk, per; /* per: labels per example */
  double count;
  int act1;         /* layer 1 is an activation, fused with the combination */
  nn_plane_data *d; /* P, labels, targets: d's, maybe shared */
  double *P;
  double *wt; /* the later dense layers' Wᵀ at the point, in order (own) */
  int32_t *labels;
  double *targets;
} nn_plane;

static void plane_data_drop(nn_plane_data *d) {
  if (!d || __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  ph_free_lines(d->P);
  free(d->labels);
  free(d->targets);
  free(d->idx);
  free(d->key);
  free(d);
}

static void plane_free(nn_net *n) {
  if (!n->plane) return;
  plane_data_drop(n->plane->d);
  ph_free_lines(n->plane->wt);
  free(n->plane);
  n->plane = NULL;
}

/* n's plane with the scalars of src (another network's of the same spec,
 * data and chunking) and its data shared, and a Wᵀ buffer of its own. */
static ph_status plane_share(nn_net *n, const nn_plane *src, ph_error *err) {
  size_t wt_len = 1;
  for (size_t i = 1; i < n->n_layers; i++)
    if (n->layers[i].kind == NN_DENSE)
      wt_len += n->layers[i].n_in * n->layers[i].n_out;
  nn_plane *q = ph_malloc(1, sizeof *q, "grid plane", err);
  if (!q) return PH_ERR_NOMEM;
  *q = *src;
  q->wt = ph_malloc_lines(wt_len, sizeof(double), "grid plane", err);
  if (!q->wt) {
    free(q);
    return PH_ERR_NOMEM;
  }
  __atomic_add_fetch(&q->d->refs, 1, __ATOMIC_ACQ_REL);
  n->plane = q;
  return PH_OK;
}

/* The first layer's entries of θ0, d1[, d2] (W then b), at key. */
static void plane_key(const nn_layer *l, const double *const at[3], size_t dirs,
                      double *key) {
  size_t nw = l->n_in * l->n_out;
  for (size_t k = 0; k <= dirs; k++) {
    memcpy(key, at[k] + l->w_off, nw * sizeof *key);
    memcpy(key + nw, at[k] + l->b_off, l->n_out * sizeof *key);
    key += nw + l->n_out;
  }
}

/* Whether d holds the products of these inputs, bit for bit. */
static int plane_data_matches(const nn_plane_data *d, const nn_layer *l,
                              const double *const at[3], size_t dirs,
                              const ph_batch *b, size_t chunk) {
  if (!d || d->N != b->n || d->dirs != dirs || d->chunk != chunk ||
      d->split != b->split || !d->idx != !b->idx)
    return 0;
  if (b->idx && memcmp(d->idx, b->idx, b->n * sizeof *b->idx) != 0) return 0;
  size_t nw = l->n_in * l->n_out;
  const double *key = d->key;
  for (size_t k = 0; k <= dirs; k++) {
    if (memcmp(key, at[k] + l->w_off, nw * sizeof *key) != 0 ||
        memcmp(key + nw, at[k] + l->b_off, l->n_out * sizeof *key) != 0)
      return 0;
    key += nw + l->n_out;
  }
  return 1;
}

const double *nn_plane_products(const nn_net *n) {
  return n->plane ? n->plane->P : NULL;
}

static void cb_plane_release(void *ctx) {
  plane_free(ctx);
}

static ph_status cb_plane_prepare(void *ctx, const double *theta0,
                                  const double *d1, const double *d2,
                                  const ph_batch *b, ph_error *err) {
  nn_net *n = ctx;
  const nn_layer *l = &n->layers[0];
  size_t N = b->n, W = l->n_out, dirs = d2 ? 2 : 1;
  const double *const at[3] = {theta0, d1, d2};
  /* a clone's shared plane (cb_clone) of these very inputs: kept */
  if (n->plane && n->plane->N == N &&
      plane_data_matches(n->plane->d, l, at, dirs, b,
                         n->par_chunk ? par_chunk_for(n, N) : n->max_batch))
    return PH_OK;
  plane_free(n);
  if (N == 0) return ph_error_set(err, PH_ERR_ARG, "%s: empty batch", n->spec);
  if (l->kind != NN_DENSE)
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "%s: the first layer is not dense", n->spec);
  if (W > PH_NN_PLANE_MAX_DOUBLES / (1 + dirs) / N)
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "%s: the plane's products of %zu examples would "
                        "take more than %zu doubles",
                        n->spec, N, (size_t)PH_NN_PLANE_MAX_DOUBLES);
  size_t chunk = n->par_chunk ? par_chunk_for(n, N) : n->max_batch;
  double count;
  PH_TRY(count_terms(n, b, &count, err));
  nn_plane *q = ph_calloc(1, sizeof *q, "grid plane", err);
  if (!q) return PH_ERR_NOMEM;
  n->plane = q;
  q->N = N;
  q->width = W;
  q->dirs = dirs;
  q->count = count;
  q->chunk = chunk;
  q->per = n->seq_T ? n->seq_T : 1;
  size_t key_len = (1 + dirs) * (l->n_in * W + W);
  nn_plane_data *pd = ph_calloc(1, sizeof *pd, "grid plane", err);
  if (!pd) {
    plane_free(n);
    return PH_ERR_NOMEM;
  }
  q->d = pd;
  pd->refs = 1;
  pd->N = N;
  pd->dirs = dirs;
  pd->chunk = chunk;
  pd->split = b->split;
  pd->key = ph_malloc(key_len, sizeof(double), "grid plane", err);
  if (b->idx) pd->idx = ph_malloc(N, sizeof(size_t), "grid plane", err);
  q->P = pd->P =
      ph_malloc_lines((1 + dirs) * N * W, sizeof(double), "grid plane", err);
  size_t wt_len = 1;
  for (size_t i = 1; i < n->n_layers; i++)
    if (n->layers[i].kind == NN_DENSE)
      wt_len += n->layers[i].n_in * n->layers[i].n_out;
  q->wt = ph_malloc_lines(wt_len, sizeof(double), "grid plane", err);
  q->act1 = n->n_layers > 1 && n->layers[1].kind == NN_ACT &&
            !(n->n_layers > 2 &&
              nn_relu_maxpool_fusable(&n->layers[1], &n->layers[2]));
  if (n->loss_mse)
    q->targets = pd->targets =
        ph_malloc(N * n->n_out, sizeof(double), "grid plane", err);
  else
    q->labels = pd->labels =
        ph_malloc(N * q->per, sizeof(int32_t), "grid plane", err);
  if (!q->P || !q->wt || !pd->key || (b->idx && !pd->idx) ||
      (!q->targets && !q->labels)) {
    plane_free(n);
    return PH_ERR_NOMEM;
  }
  plane_key(l, at, dirs, pd->key);
  if (b->idx) memcpy(pd->idx, b->idx, N * sizeof *b->idx);
  n->c_level = 0; /* gather overwrites the cached chunk's buffers */
  for (size_t start = 0; start < N; start += q->chunk) {
    size_t m = N - start < q->chunk ? N - start : q->chunk;
    ph_status s = gather(n, b, start, m, err);
    if (s != PH_OK) {
      plane_free(n);
      return s;
    }
    for (size_t k = 0; k <= dirs; k++)
      ph_nn_dense_forward(q->P + k * N * W + start * W, n->h[0],
                          at[k] + l->w_off, at[k] + l->b_off, m, l->n_in, W);
    if (n->loss_mse)
      memcpy(q->targets + start * n->n_out, n->targets,
             m * n->n_out * sizeof *n->targets);
    else
      memcpy(q->labels + start * q->per, n->labels,
             m * q->per * sizeof *n->labels);
  }
  return PH_OK;
}

/* z = P0 + a P1 + b P2 over c values (P2 NULL: P0 + a P1) */
static void plane_combine(double *z, const double *P0, const double *P1,
                          const double *P2, double a, double b, size_t c) {
  if (P2)
    for (size_t i = 0; i < c; i++) z[i] = P0[i] + a * P1[i] + b * P2[i];
  else
    for (size_t i = 0; i < c; i++) z[i] = P0[i] + a * P1[i];
}

/* head(n, m, scale, correct) for a classifier with one label per
 * example, reading the plane's labels where they are (no copy) and
 * leaving the probabilities unnormalised (ph_vmath_lse_rows): the same
 * sums in the same order, so the same bits. */
static double plane_head(nn_net *n, const int32_t *y, size_t m, double scale,
                         double *correct) {
  size_t C = n->n_out;
  const double *z = n->h[n->n_layers];
  double lse[256], loss = 0;
  for (size_t r0 = 0; r0 < m; r0 += 256) {
    size_t nr = m - r0 < 256 ? m - r0 : 256;
    ph_vmath_lse_rows(z + r0 * C, n->p + r0 * C, lse, nr, C);
    for (size_t r = 0; r < nr; r++) {
      size_t i = r0 + r;
      if (y[i] < 0) continue;
      loss += lse[r] - z[i * C + (size_t)y[i]];
    }
  }
  *correct += (double)ph_nn_xent_correct(z, y, m, C);
  return loss * scale;
}

static ph_status cb_plane_eval(void *ctx, const double *theta, double a,
                               double bb, double *loss, double *acc,
                               ph_error *err) {
  nn_net *n = ctx;
  nn_plane *q = n->plane;
  if (!q)
    return ph_error_set(err, PH_ERR_ARG, "%s: plane_eval before plane_prepare",
                        n->spec);
  n->c_level = 0; /* the buffers stop holding the cached chunk */
  size_t N = q->N, W = q->width;
  const double *P0 = q->P, *P1 = P0 + N * W;
  const double *P2 = q->dirs == 2 ? P1 + N * W : NULL;
  double total = 0, correct = 0, scale = 1.0 / q->count;
  /* the later dense layers' weights transposed once per point, for the
   * NN products of ph_nn_dense_forward_t */
  double *wt = q->wt;
  for (size_t i = 1; i < n->n_layers; i++) {
    const nn_layer *l = &n->layers[i];
    if (l->kind != NN_DENSE) continue;
    const double *w = theta + l->w_off;
    for (size_t j = 0; j < l->n_out; j++)
      for (size_t k = 0; k < l->n_in; k++)
        wt[k * l->n_out + j] = w[j * l->n_in + k];
    wt += l->n_in * l->n_out;
  }
  for (size_t start = 0; start < N; start += q->chunk) {
    size_t m = N - start < q->chunk ? N - start : q->chunk, o = start * W;
    if (q->act1) {
      /* the combination a piece at a time, each piece activated while it
       * is in L1 (elementwise: the same bits as in two passes) */
      double z[512];
      for (size_t c0 = 0; c0 < m * W; c0 += 512) {
        size_t c = m * W - c0 < 512 ? m * W - c0 : 512;
        plane_combine(z, P0 + o + c0, P1 + o + c0, P2 ? P2 + o + c0 : NULL, a,
                      bb, c);
        nn_act_values(n->layers[1].act, c, z, n->h[2] + c0);
      }
    } else
      plane_combine(n->h[1], P0 + o, P1 + o, P2 ? P2 + o : NULL, a, bb, m * W);
    forward_from(n, theta, m, q->act1 ? 2 : 1, q->wt);
    if (!n->loss_mse && !n->seq_T) {
      total += plane_head(n, q->labels + start, m, scale, &correct);
      continue;
    }
    if (n->loss_mse)
      memcpy(n->targets, q->targets + start * n->n_out,
             m * n->n_out * sizeof *n->targets);
    else
      memcpy(n->labels, q->labels + start * q->per,
             m * q->per * sizeof *n->labels);
    total += head(n, m, scale, &correct);
  }
  if (loss) *loss = total;
  if (acc) *acc = n->loss_mse ? NAN : correct / q->count;
  return PH_OK;
}

static ph_status cb_hvp_block(void *ctx, const double *theta, const ph_batch *b,
                              size_t k, const double *V, double *HV,
                              ph_error *err) {
  return run_block(ctx, theta, b, RUN_HVP, k, V, HV, err);
}

static ph_status cb_ggnvp_block(void *ctx, const double *theta,
                                const ph_batch *b, size_t k, const double *V,
                                double *GV, ph_error *err) {
  return run_block(ctx, theta, b, RUN_GGN, k, V, GV, err);
}

static ph_status cb_loss_grad(void *ctx, const double *theta, const ph_batch *b,
                              double *loss, double *grad, ph_error *err) {
  return run(ctx, theta, b, grad ? RUN_GRAD : RUN_EVAL, NULL, loss, grad, NULL,
             err);
}

static ph_status cb_hvp(void *ctx, const double *theta, const ph_batch *b,
                        const double *v, double *hv, ph_error *err) {
  return run(ctx, theta, b, RUN_HVP, v, NULL, hv, NULL, err);
}

static ph_status cb_ggnvp(void *ctx, const double *theta, const ph_batch *b,
                          const double *v, double *gv, ph_error *err) {
  return run(ctx, theta, b, RUN_GGN, v, NULL, gv, NULL, err);
}

static ph_status cb_eval(void *ctx, const double *theta, const ph_batch *b,
                         double *loss, double *acc, ph_error *err) {
  return run(ctx, theta, b, RUN_EVAL, NULL, loss, NULL, acc, err);
}

static void cb_destroy(ph_objective *o) {
  if (!o) return;
  plane_free(o->ctx);
  nn_free(o->ctx);
  free(o);
}

static ph_objective *cb_clone(const ph_objective *o, ph_error *err) {
  const nn_net *n = o->ctx;
  ph_objective *c = NULL;
  if (ph_net_create(n->spec, n->data, n->max_batch, &c, err) != PH_OK)
    return NULL;
  /* the plane's products, shared (nn_plane_data), when the clone chunks a
   * batch as n does (it runs on one thread); without the memory for its
   * Wᵀ it prepares its own */
  if (n->plane && !n->par_chunk) {
    ph_error ignored = {0};
    (void)plane_share(c->ctx, n->plane, &ignored);
  }
  return c;
}

nn_net *nn_of(const ph_objective *o) {
  return (o && o->destroy == cb_destroy) ? o->ctx : NULL;
}

ph_status ph_net_create(const char *spec, const ph_dataset *data,
                        size_t max_batch, ph_objective **out, ph_error *err) {
  *out = NULL;
  if (strncmp(spec, "transformer:", 12) == 0 ||
      strcmp(spec, "transformer") == 0)
    return ph_transformer_create(spec, data, max_batch ? max_batch : 64, out,
                                 err);
  nn_net *n = ph_calloc(1, sizeof *n, "network", err);
  if (!n) return PH_ERR_NOMEM;
  ph_status s = nn_build(n, spec, data, max_batch, err);
  ph_objective *o =
      s == PH_OK ? ph_calloc(1, sizeof *o, "objective", err) : NULL;
  if (!o) {
    nn_free(n);
    return s != PH_OK ? s : PH_ERR_NOMEM;
  }
  o->name = n->spec;
  o->n = n->n_params;
  o->n_blocks = n->n_blocks;
  o->blocks = n->blocks;
  o->n_examples[0] = data->n[0];
  o->n_examples[1] = data->n[1];
  o->has_accuracy = !n->loss_mse;
  o->ctx = n;
  o->loss_grad = cb_loss_grad;
  o->hvp = cb_hvp;
  o->ggnvp = cb_ggnvp;
  o->hvp_block = cb_hvp_block;
  o->ggnvp_block = cb_ggnvp_block;
  o->eval = cb_eval;
  o->plane_prepare = cb_plane_prepare;
  o->plane_eval = cb_plane_eval;
  o->plane_release = cb_plane_release;
  o->clone = cb_clone;
  o->destroy = cb_destroy;
  *out = o;
  return PH_OK;
}

ph_status ph_net_set_threads(ph_objective *o, size_t threads, ph_error *err) {
  nn_net *n = nn_of(o);
  if (!n)
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "%s: parallel products are for sequential networks",
                        o->name);
  if (threads < 1 || threads > PH_NN_MAX_THREADS)
    return ph_error_set(err, PH_ERR_ARG, "%s: %zu threads (1..%d)", n->spec,
                        threads, PH_NN_MAX_THREADS);
  nn_par_free(n);
  n->par_chunk = 1; /* on; the chunk size is par_chunk_for's */
  for (size_t w = 1; w < threads; w++) {
    ph_objective *c = NULL;
    PH_TRY(ph_net_create(n->spec, n->data, n->max_batch, &c, err));
    /* keep the worker's network, drop its objective shell */
    n->workers[w - 1] = c->ctx;
    free(c);
    n->n_workers = w;
  }
  if (threads > 1) PH_TRY(ph_pool_create(threads, &n->pool, err));
  if (threads > 1) openblas_set_num_threads(1);
  return PH_OK;
}

struct ph_pool *ph_net_pool(const ph_objective *o) {
  const nn_net *n = nn_of(o);
  return n ? n->pool : NULL;
}

ph_status ph_net_init_params(const ph_objective *o, uint64_t seed,
                             double *theta, ph_error *err) {
  return ph_net_init_params_progress(o, seed, theta, NULL, err);
}

ph_status ph_net_init_params_progress(const ph_objective *o, uint64_t seed,
                                      double *theta, ph_progress *pg,
                                      ph_error *err) {
  if (ph_transformer_dataset(o))
    return ph_transformer_init_params(o, seed, theta, err);
  const nn_net *n = nn_of(o);
  if (!n)
    return ph_error_set(err, PH_ERR_ARG, "%s is not a network objective",
                        o->name);
  nn_init_params(n, seed, theta, pg);
  return PH_OK;
}

const ph_dataset *ph_net_dataset(const ph_objective *o) {
  const nn_net *n = nn_of(o);
  return n ? n->data : ph_transformer_dataset(o);
}

const char *ph_net_spec(const ph_objective *o) {
  const nn_net *n = nn_of(o);
  return n ? n->spec : ph_transformer_spec(o);
}

ph_status ph_net_mlp_layers(const ph_objective *o, ph_mlp_layer *layers,
                            size_t max, size_t *n_layers, ph_error *err) {
  const nn_net *n = nn_of(o);
  *n_layers = 0;
  if (!n)
    return ph_error_set(err, PH_ERR_UNSUPPORTED, "%s: not an MLP", o->name);
  for (size_t i = 0; i < n->n_layers; i++) {
    const nn_layer *l = &n->layers[i];
    if (l->kind == NN_ACT) {
      if (*n_layers == 0)
        return ph_error_set(err, PH_ERR_UNSUPPORTED, "%s: not an MLP", n->spec);
      snprintf(layers[*n_layers - 1].act, sizeof layers[0].act, "%s",
               nn_act_name(l->act));
      continue;
    }
    if (l->kind == NN_RESDENSE)
      return ph_error_set(err, PH_ERR_UNSUPPORTED,
                          "%s: not a plain MLP (has residual blocks)", n->spec);
    if (l->kind != NN_DENSE)
      return ph_error_set(err, PH_ERR_UNSUPPORTED,
                          "%s: not an MLP (has conv/pool layers)", n->spec);
    if (*n_layers >= max)
      return ph_error_set(err, PH_ERR_ARG, "%s: more than %zu layers", n->spec,
                          max);
    layers[*n_layers].w_block = l->w_block;
    layers[*n_layers].b_block = l->b_block;
    snprintf(layers[*n_layers].act, sizeof layers[0].act, "identity");
    (*n_layers)++;
  }
  return PH_OK;
}
