/* seq_int.h: internals of the sequential network engine (MLP and CNN).
 *
 * A model is a chain of layers h_0 → h_1 → … → h_K (h_0 the input batch,
 * h_K the logits), built once per model and max batch, with every buffer
 * preallocated. Each layer has four passes (docs/autodiff.md):
 *   forward          h_out = f(h_in; θ)
 *   backward         d h_in, and dθ accumulated, from d h_out
 *   tangent forward  ḣ_out from ḣ_in and the direction v (JVP)
 *   tangent backward the tangent of backward: from ḋh_out (and, for exact Hv,
 *                    the second-order terms in dh_out, ḣ_in, v) to ḋh_in and
 *                    (Hv)_θ; with second_order = 0 this is the plain VJP of
 *                    ḋh_out, which is what the Gauss-Newton product needs.
 */
#ifndef PH_NN_SEQ_INT_H
#define PH_NN_SEQ_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/objective.h"
#include "data/dataset.h"

typedef enum nn_kind {
  NN_DENSE = 0,
  NN_ACT,
  NN_CONV,
  NN_MAXPOOL,
  NN_AVGPOOL,
  NN_FLATTEN,
  NN_RESDENSE /* y = x + σ(x Wᵀ + b), W (H, H) (layers_residual.c) */
} nn_kind;

typedef enum nn_act {
  ACT_IDENTITY = 0,
  ACT_TANH,
  ACT_RELU,
  ACT_GELU,
  ACT_SOFTPLUS,
  ACT_SIGMOID
} nn_act;

typedef struct nn_layer {
  nn_kind kind;
  size_t in_size, out_size; /* per example */
  /* dense: y = x Wᵀ + b, W (n_out, n_in); conv: W (c_out, c_in·k·k) */
  size_t w_off, b_off; /* offsets in θ */
  long w_block, b_block;
  size_t n_in, n_out;
  nn_act act;
  /* conv and pooling geometry, NCHW */
  size_t c_in, hi, wi, c_out, ho, wo, k, stride, pad;
  /* workspaces (allocated for max_batch) */
  /* conv: the passes run on chunks of `chunk` examples (0 means 1), one
   * GEMM per chunk; workspaces hold one chunk (nn_conv_alloc) */
  size_t chunk;
  double *cols;  /* (k·k·c_in, chunk·ho·wo) im2col, examples side by side */
  double *tcols; /* im2col of the tangent */
  double *dcols; /* column adjoints */
  double *ybuf, *ybuf2; /* (c_out, chunk·ho·wo) outputs / adjoints of a chunk */
  /* stride-1 "same" conv without im2col (conv_direct.c): zero-bordered
   * input planes of dplane values, for x and its tangent, and the outputs
   * (c_out rows of dlen, on the padded-width grid); NULL for other
   * geometries */
  double *xpad, *tpad, *ydir;
  size_t dplane, dlen;
  int direct;     /* the direct forward agreed with the GEMM's bits (probe) */
  int direct_adj; /* the direct input adjoint agreed with GEMM + col2im */
  double *dypad, *dypad2, *dxgrid; /* its planes of dy, dy2 and its sums */
  /* the weight adjoint without im2col (conv_direct.c, nn_conv_direct_wgrad):
   * a chunk's output adjoint transposed, (chunk·ho·wo, c_out), and its
   * examples' zero-bordered input planes, one after the other */
  double *dyT, *xpadE;
  int direct_w; /* the direct weight adjoint agreed with the GEMM (probe) */
  size_t *arg;  /* maxpool: (B, out_size) index of the max in the input */
  /* caches filled by nn_forward and read by the later passes on the same
   * input (NULL: recomputed; hand-built layers in tests may leave them) */
  double *z, *dz, *tz, *tdz; /* resdense: (max_batch, H) pre-activation
                                z, its adjoint, tangent and tangent adjoint */
  double *d1; /* act except ReLU (σ' = [x > 0] from x), tanh and sigmoid
                 (σ' from σ, nn_act_d1_from_output), resdense: (max_batch,
                 size) σ'(x) at the last forward input */
} nn_layer;

/* The conv passes rebuild the im2col columns of a chunk of examples where
 * they need them (into l->cols / l->tcols, sized to stay in cache for the
 * GEMM that follows, PH_CONV_CHUNK_DOUBLES): one GEMM per chunk instead of
 * one per example, and far smaller than caching the whole batch's columns
 * (docs/performance-nn.md). */
#define PH_CONV_CHUNK_DOUBLES 32768

#define PH_NN_MAX_THREADS 64
/* the smallest chunk a deterministic parallel product splits a batch into
 * to give a second thread work (net_obj.c, par_chunk_for): the chunks
 * depend on the batch and max_batch only, so that the summation order
 * does not depend on the thread count */
#define PH_NN_PAR_CHUNK 64

typedef struct nn_net {
  char spec[128];
  const ph_dataset *data;
  size_t n_layers;
  nn_layer *layers;
  size_t n_params;
  size_t n_blocks;
  ph_block *blocks;
  size_t max_batch;
  size_t n_out; /* logits per example (seq_T · C for tokens) */
  /* token data (PH_TASK_SEQUENCE): the input's seq_T token ids are one-hot
   * encoded into seq_T·vocab features, and the logits are seq_T rows of C =
   * vocab classes, one softmax cross-entropy per position with a target
   * (−1 = none); 0 for other tasks */
  size_t seq_T, vocab;
  int loss_mse; /* 0: softmax cross-entropy, 1: mean squared error */
  double **h, **dh, **th, **tdh; /* (n_layers+1) buffers of (max_batch, size) */
  double *p;                     /* (max_batch, n_out) softmax probabilities */
  int32_t *labels;               /* (max_batch, n_targets) gathered labels */
  double *targets;               /* (max_batch, n_out) regression targets */
  /* the input buffer h[0] points at: h0_buf (allocated, gather copies the
   * chunk's rows into it), or the chunk's own rows in the data set when
   * they are consecutive there (net_obj.c, gather). No pass writes h[0];
   * code that fills it itself points it back at h0_buf first. */
  double *h0_buf;
  /* deterministic parallel products (net_obj.c, ph_net_set_threads):
   * par_chunk 0: off (the classic loop), else on; worker networks, and
   * one partial product per thread, the team that runs them (NULL for one
   * thread) */
  size_t par_chunk, n_workers, partial_len;
  struct ph_pool *pool;
  struct nn_net *workers[PH_NN_MAX_THREADS - 1];
  double *partial[PH_NN_MAX_THREADS];
  /* the forward cache (net_obj.c, run_chunk): the buffers above hold the
   * forward (c_level 1) and also the backward's adjoints dh (c_level 2) of
   * the chunk [c_start, c_start + c_m) of a batch on split c_split (its
   * indices c_idx, or the first examples when c_has_idx is 0) at θ =
   * c_theta, with loss scale c_scale; c_loss and c_correct are what the
   * head returned. c_level 0: nothing cached. c_theta and c_idx are
   * allocated on the first product. c_curvature: this network has run a
   * curvature product (Hv, Gv or a block); until then gradients and
   * evaluations keep no key (forward_cached), as nothing would reuse it. */
  int c_level, c_has_idx, c_curvature;
  double *c_theta, c_scale, c_loss, c_correct;
  size_t *c_idx, c_start, c_m;
  ph_split c_split;
  /* evaluation on a plane (net_obj.c, plane_prepare): the first layer's
   * products with θ0, d1, d2 over a grid's batch; NULL when none */
  struct nn_plane *plane;
} nn_net;

/* Layer passes on a batch of B examples (row-major (B, size) buffers).
 * backward, tangent forward and tangent backward of a layer must be called
 * on the same input (and B) as its last nn_forward: max pooling reuses the
 * forward's argmax, activations σ'(x) or σ(x), residual blocks z, σ'(z) (and
 * the tangent backward the ż of the tangent forward and dz of the backward). */
void nn_forward(nn_layer *l, const double *theta, size_t B, const double *in,
                double *out);
/* din may be NULL (first layer); grad accumulates, or is NULL when only
 * the input adjoint is wanted (the backward inside Hv). */
void nn_backward(nn_layer *l, const double *theta, size_t B, const double *in,
                 const double *out, const double *dout, double *din,
                 double *grad);
/* out (here, in nn_backward and nn_tangent_backward): that forward's
 * output, or NULL (then σ' is evaluated again); tanh and sigmoid read σ'
 * (nn_act_d1_from_output) and σ'' from it. */
void nn_tangent_forward(nn_layer *l, const double *theta, const double *v,
                        size_t B, const double *in, const double *out,
                        const double *tin, double *tout);
void nn_tangent_backward(nn_layer *l, const double *theta, const double *v,
                         size_t B, const double *in, const double *out,
                         const double *tin, const double *dout,
                         const double *tdout, double *tdin, double *hv,
                         int second_order);

/* The residual dense block's passes (same contract; the second-order
 * tangent backward also reads the dz of the last nn_backward). */
void nn_res_forward(nn_layer *l, const double *theta, size_t B,
                    const double *in, double *out);
void nn_res_backward(nn_layer *l, const double *theta, size_t B,
                     const double *in, const double *dout, double *din,
                     double *grad);
void nn_res_tangent_forward(nn_layer *l, const double *theta, const double *v,
                            size_t B, const double *in, const double *tin,
                            double *tout);
void nn_res_tangent_backward(nn_layer *l, const double *theta, const double *v,
                             size_t B, const double *in, const double *tin,
                             const double *dout, const double *tdout,
                             double *tdin, double *hv, int second_order);

/* σ, σ', σ'' of an activation at pre-activation x (scalar libm: the
 * reference the vectorised nn_act_apply is tested against). */
void nn_act_eval(nn_act a, double x, double *f, double *d1, double *d2);
/* The same over n values through nn/vmath.h; any of f, d1, d2 may be NULL,
 * none may alias x. */
void nn_act_apply(nn_act a, size_t n, const double *x, double *f, double *d1,
                  double *d2);
/* y = σ(x) over n values as the activation layer's forward computes it
 * (the same bits), without σ'; y may not alias x. */
void nn_act_values(nn_act a, size_t n, const double *x, double *y);
/* out = u ⊙ σ'(x) + w ⊙ σ''(x) ⊙ t: the tangent of the activation's
 * adjoint (u = ḋy, w = dy, t = ẋ). */
void nn_act_second_order(nn_act a, size_t n, const double *x, const double *u,
                         const double *w, const double *t, double *out);
/* The same from the forward's output y = σ(x), with no transcendental,
 * for the activations whose σ' and σ'' are polynomials in σ (tanh: σ' =
 * 1 − σ², σ'' = −2σσ'; sigmoid: σ' = σ(1 − σ), σ'' = σ'(1 − 2σ)). The
 * expressions are nn/vmath.h's (ph_vmath_tanh_d, ph_vmath_sigmoid_d) on the
 * same σ, so the result is nn_act_second_order's to the bit. Returns 0 (and
 * writes nothing) for other activations or when y is NULL. */
int nn_act_second_order_cached(nn_act a, size_t n, const double *y,
                               const double *u, const double *w,
                               const double *t, double *out);
/* σ'(x) from y = σ(x) for tanh (1 − σ²) and sigmoid (σ(1 − σ)), the
 * expressions of ph_vmath_tanh_d and ph_vmath_sigmoid_d, so the same bits:
 * the forward of these two stores σ only, and every pass that needs σ'
 * takes it from σ here (two operations, cheaper than reading a cached σ'
 * from memory). nn_act_has_d1_from_output says which activations. */
static inline int nn_act_has_d1_from_output(nn_act a) {
  return a == ACT_TANH || a == ACT_SIGMOID;
}
static inline double nn_act_d1_from_output(nn_act a, double y) {
  return a == ACT_TANH ? 1 - y * y : y * (1 - y);
}
/* σ''(x) from y = σ(x) and d1 = σ'(x) for tanh (−2σσ') and sigmoid
 * (σ'(1 − 2σ)), the expression nn_act_second_order_cached uses. */
static inline double nn_act_d2_from_output(nn_act a, double y, double d1) {
  return a == ACT_TANH ? -2 * y * d1 : d1 * (1 - 2 * y);
}
/* u where y > 0, else +0: y > 0 ? u : 0.0 without a branch. Where y is
 * a ReLU's input, its sign is a coin toss that a branch mispredicts (GCC
 * compiled the select in the pooled adjoint's scatter as one: most of its
 * time). */
static inline double nn_relu_mask(double y, double u) {
  uint64_t b;
  __builtin_memcpy(&b, &u, sizeof b);
  b &= -(uint64_t)(y > 0);
  __builtin_memcpy(&u, &b, sizeof b);
  return u;
}
/* Whether a ReLU followed by max pooling with tiling windows (stride = size,
 * covering the input) can take nn_relu_maxpool_backward. */
int nn_relu_maxpool_fusable(const nn_layer *act, const nn_layer *pool);
/* The backwards of that pooling and of the ReLU before it in one pass: din
 * (the ReLU's input adjoint) from dout (the pooling's output adjoint), the
 * pooling's argmax and x (the ReLU's input), without the pooled adjoint in
 * between; the same bits as nn_backward of the two layers. In a CNN both
 * passes run over the largest activations, so one pass fewer of reading
 * and writing them saves memory traffic. */
void nn_relu_maxpool_backward(const nn_layer *pool, size_t B, const double *x,
                              const double *dout, double *din);
/* Their forwards in one pass: out (the pooling's output) and its argmax
 * from x (the ReLU's input), the same bits as nn_forward of the two; the
 * ReLU's output is not written. */
void nn_relu_maxpool_forward(nn_layer *pool, size_t B, const double *x,
                             double *out);
/* Their tangent forwards in one pass: the pooled tangent tout from the
 * ReLU's input x and input tangent tin (NULL: zero), read at the argmax
 * only; the same bits as nn_tangent_forward of the two. */
void nn_relu_maxpool_tangent_forward(const nn_layer *pool, size_t B,
                                     const double *x, const double *tin,
                                     double *tout);
/* One channel plane of the fused ReLU then tiled max pooling, of x + bias
 * (the conv's output without its bias, plus the bias): y and a hold the
 * plane's pooled outputs and argmax, as indices within the example (plane
 * c of the pooling's input). The same bits as the conv's bias pass, the
 * ReLU and the pooling one after the other. */
void nn_relu_maxpool_plane(const nn_layer *pool, const double *x, size_t ld,
                           double bias, size_t c, double *y, size_t *a);
void nn_im2col(const nn_layer *l, const double *x, double *cols);
void nn_im2col_ld(const nn_layer *l, const double *x, double *cols, size_t ld);
/* out = u ⊙ σ'(x) for an activation layer: ReLU from x, tanh and sigmoid
 * from the forward's output y when given, else the cached σ' when present,
 * else σ' evaluated again at x. */
void nn_act_scale(const nn_layer *l, size_t n, const double *x, const double *y,
                  const double *u, double *out);
/* nn_act_scale over B rows of an activation layer's in_size values that
 * also adds each row of out into db (db[j] += out[i·in_size + j], rows in
 * order): the backward of the activation and the bias adjoint of the dense
 * layer before it in one pass, the same bits as nn_act_scale then that
 * layer's row sums. For ReLU (from x), tanh and sigmoid (from y, not NULL)
 * only: nn_act_scale_rows_ok. */
int nn_act_scale_rows_ok(const nn_layer *l);
void nn_act_scale_rows(const nn_layer *l, size_t B, const double *x,
                       const double *y, const double *u, double *out,
                       double *db);
/* The dense layer's backward as nn_backward runs it (din overwritten, or
 * NULL; grad accumulated, or NULL), without the bias adjoint when
 * with_bias is 0 (the caller added it, nn_act_scale_rows). fresh: the
 * layer's entries of grad hold nothing yet, and dW overwrites them
 * (ph_nn_gemm_set: the same bits as accumulating into zeroes); the bias
 * entries, when with_bias, are zeroed before their sums. */
void nn_dense_backward(const nn_layer *l, const double *theta, size_t B,
                       const double *in, const double *dout, double *din,
                       double *grad, int with_bias, int fresh);
/* The dense layer's tangent backward as nn_tangent_backward runs it, with
 * fresh as above for its entries of hv (bias zeroed, then summed). */
void nn_dense_tangent_backward(const nn_layer *l, const double *theta,
                               const double *v, size_t B, const double *in,
                               const double *tin, const double *dout,
                               const double *tdout, double *tdin, double *hv,
                               int second_order, int fresh);
/* The conv passes (layers_conv.c), called by the dispatchers above. */
void nn_conv_forward(nn_layer *l, const double *theta, size_t B,
                     const double *in, double *out);
void nn_conv_backward(nn_layer *l, const double *theta, size_t B,
                      const double *in, const double *dout, double *din,
                      double *grad);
void nn_conv_tangent_forward(nn_layer *l, const double *theta, const double *v,
                             size_t B, const double *in, const double *tin,
                             double *tout);
void nn_conv_tangent_backward(nn_layer *l, const double *theta, const double *v,
                              size_t B, const double *in, const double *tin,
                              const double *dout, const double *tdout,
                              double *tdin, double *hv, int second_order);
/* A conv layer followed by a ReLU and a tiled max pooling, as one group
 * of passes (layers_conv.c): each chunk's conv output stays in the chunk
 * buffer, and the ReLU and pooling read it there (forward, tangent
 * forward) or write their adjoint there (backward, tangent backward), so
 * neither the conv's output nor its adjoint goes through the batch layout.
 * The ReLU's mask is read from the pooled output (pooled > 0 exactly when
 * the ReLU's input at the argmax is > 0). Each pass gives the same bits as
 * the three layers' passes one after the other; the conv's and the ReLU's
 * outputs (and their tangents and adjoints) are not written. in/tin: the
 * conv's input and its tangent (NULL: zero); pooled: the pooling's output
 * from the fused forward; dpool, tdpool: its adjoint and tangent adjoint;
 * din, tdin: the conv's input adjoint and its tangent (NULL: not wanted). */
int nn_conv_relu_pool_fusable(const nn_layer *conv, const nn_layer *act,
                              const nn_layer *pool);
void nn_conv_relu_pool_forward(nn_layer *conv, nn_layer *pool,
                               const double *theta, size_t B, const double *in,
                               double *pooled);
void nn_conv_relu_pool_backward(nn_layer *conv, const nn_layer *pool,
                                const double *theta, size_t B, const double *in,
                                const double *pooled, const double *dpool,
                                double *din, double *grad);
void nn_conv_relu_pool_tangent_forward(nn_layer *conv, const nn_layer *pool,
                                       const double *theta, const double *v,
                                       size_t B, const double *in,
                                       const double *tin, const double *pooled,
                                       double *tpooled);
void nn_conv_relu_pool_tangent_backward(nn_layer *conv, const nn_layer *pool,
                                        const double *theta, const double *v,
                                        size_t B, const double *in,
                                        const double *tin, const double *pooled,
                                        const double *dpool,
                                        const double *tdpool, double *tdin,
                                        double *hv, int second_order);
/* nn_col2im_ld for stride 1 and wo = wi ("same"), one flattened loop per
 * row; sets the wrapped entries of cols to 0 first (cols is scratch). */
void nn_col2im_same_ld(const nn_layer *l, double *cols, double *x, size_t ld);
void nn_col2im(const nn_layer *l, const double *cols, double *x);
void nn_col2im_ld(const nn_layer *l, const double *cols, double *x, size_t ld);
/* The forward product of a stride-1 "same" conv without im2col
 * (conv_direct.c, AVX2 + FMA, AVX-512 where present; the same bits as the
 * GEMM on im2col columns). nn_conv_direct_ok: whether this layer and CPU
 * take it; nn_conv_direct_pad: one example's input x into the
 * zero-bordered planes xp (l->xpad or l->tpad); nn_conv_direct: y (c_out
 * rows of l->dlen, row oi of the image at oi·(wi + 2·pad)) = W xp (add
 * 0), y += W xp as OpenBLAS's beta 1 (add 1: y + a chain from +0) or as
 * libxsmm's (add 2: the chain starts from y).
 * nn_conv_direct_cpu: AVX2 and FMA present; nn_conv_alloc probes each
 * layer (l->direct). nn_conv_direct_allow(0) turns the path off (tests
 * compare the two paths). */
void nn_conv_direct_allow(int allow);
int nn_conv_direct_cpu(void);
int nn_conv_direct_ok(const nn_layer *l);
void nn_conv_direct_pad(const nn_layer *l, const double *x, double *xp);
void nn_conv_direct(const nn_layer *l, const double *W, const double *xp,
                    int add, double *y);
/* The input adjoint without the column adjoints and col2im: s (c_in rows
 * of l->dlen, on the padded-width grid) = col2im(Wᵀ dy [+ Vᵀ dy2]) from
 * the zero-bordered planes dyp, dyp2 of the output adjoints (V NULL: no
 * second term), the same bits as the GEMM and nn_col2im_same_ld when
 * l->direct_adj (probed); chain: the column adjoint's V terms continue
 * the W terms' FMA chain (libxsmm's beta 1) instead of a chain of their
 * own added to it (OpenBLAS's). nn_conv_direct_pad_ld: nchan planes of x,
 * cstride apart, into zero-bordered planes. */
int nn_conv_direct_adjoint_ok(const nn_layer *l);
void nn_conv_direct_adjoint(const nn_layer *l, const double *W,
                            const double *dyp, const double *V,
                            const double *dyp2, int chain, double *s);
void nn_conv_direct_pad_ld(const nn_layer *l, size_t nchan, const double *x,
                           size_t cstride, double *xp);
/* x (c_in, hi, wi) from the sums s on the grid (nn_conv_direct_adjoint). */
void nn_conv_direct_unpad(const nn_layer *l, const double *s, double *x);
/* The weight adjoint of a chunk of E examples without im2col: gw (c_out,
 * c_in·k·k) += dy cols(x)ᵀ, from dyT (E·ho·wo, c_out), the chunk's output
 * adjoint transposed (nn_conv_direct_transpose), and xp, its E examples'
 * zero-bordered planes (nn_conv_direct_pad, c_in·dplane apart). The same
 * bits as the GEMM with beta 1 when l->direct_w (probed): the sum over
 * the chunk's positions is split into the blocks OpenBLAS's level-3 driver
 * makes (conv_direct.c). gb (NULL: none) += the bias adjoint, each
 * channel's sum over the chunk in position order from +0 (layers_conv.c's
 * row sums, the same bits). Needs c_out a multiple of 4
 * (nn_conv_direct_wgrad_fits). On AVX-512 CPUs it runs 8 or 16 channels
 * a register tile instead of 4 or 8, the same bits (each lane is one
 * channel's chains), as the forward and the input adjoint run 24
 * positions a block instead of 12; ph_vmath_allow_avx512(0) (nn/vmath.h)
 * keeps all three to AVX2 (tests, comparisons). */
int nn_conv_direct_wgrad_fits(const nn_layer *l);
int nn_conv_direct_wgrad_ok(const nn_layer *l);
void nn_conv_direct_wgrad(const nn_layer *l, const double *dyT,
                          const double *xp, size_t E, double *gw, double *gb);
/* dyT (n, rows) = buf (rows, n) transposed, rows a multiple of 4. */
void nn_conv_direct_transpose(const double *buf, size_t rows, size_t n,
                              double *dyT);
/* The chunk size of a conv layer (examples per GEMM) for its geometry, and
 * its workspaces for that chunk (freed by nn_conv_free). */
size_t nn_conv_chunk_for(const nn_layer *l);
/* 1 when the conv forward and input adjoint run their GEMMs through
 * ph_nn_gemm_acc (libxsmm on an AVX-512 target, ph_nn_gemm_wide), whose
 * bits conv_direct.c's kernels then reproduce; the weight adjoint is
 * OpenBLAS's (or its direct kernel) either way (layers_conv.c). */
int nn_conv_gemm_routed(void);
ph_status nn_conv_alloc(nn_layer *l, ph_error *err);
void nn_conv_free(nn_layer *l);

#endif
