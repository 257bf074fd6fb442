/* layers_conv.c: the four passes of a 2-D convolution (NCHW, weights
 * (c_out, c_in·k·k)) as one GEMM per chunk of examples.
 *
 * A chunk of E examples has its im2col columns side by side, (c_in·k·k,
 * E·ho·wo), so each product is one GEMM with E times the columns of the
 * per-example one; E is chosen per layer so that the columns fit in about
 * PH_CONV_CHUNK_DOUBLES doubles (cache-sized: the whole batch's columns do
 * not fit and were measured slower, docs/performance-nn.md). Outputs and
 * output adjoints move between the batch layout (E, c_out, ho·wo) and the
 * chunk layout (c_out, E·ho·wo) through ybuf/ybuf2. The chunk depends on the
 * layer's geometry only, never on the batch, so the summation order of the
 * weight gradient is fixed. Derivations: docs/autodiff.md §2; the naive
 * loops in layers_naive.c are the reference (tests/nn/test_nn.c).
 *
 * Which code runs each product: on a libxsmm AVX-512 target
 * (ph_nn_gemm_wide) the forward and the input adjoint are GEMMs through
 * ph_nn_gemm_acc, libxsmm's kernels, on the im2col columns (gemm_fx);
 * elsewhere OpenBLAS GEMMs. Either way conv_direct.c's kernels replace
 * them where a probe at allocation finds them giving those GEMMs' bits
 * (each entry one FMA chain in the GEMM's order; beta 1 as each library
 * does it). The weight adjoint stays with OpenBLAS (or its direct
 * kernel, which reproduces OpenBLAS's block order) everywhere: on this
 * machine's Zen 5 the direct kernel beat im2col + libxsmm by 2-5 ms of the
 * CNN's 12 ms gradient (docs/performance-history.md, "Ninth session:
 * convolution GEMMs on AVX-512"). */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "nn/dense.h"
#include "nn/seq_int.h"

size_t nn_conv_chunk_for(const nn_layer *l) {
  size_t per = l->c_in * l->k * l->k * l->ho * l->wo;
  size_t e = per ? PH_CONV_CHUNK_DOUBLES / per : 1;
  return e ? e : 1;
}

static void cols_of(const nn_layer *l, const double *x, size_t e0, size_t E,
                    double *cols);
static void gemm(int ta, int tb, size_t M, size_t N, size_t K, const double *A,
                 const double *Bm, double beta, double *C);
static void gemm_fx(int ta, int tb, size_t M, size_t N, size_t K,
                    const double *A, const double *Bm, double beta, double *C);

/* conv_direct.c's mode for a forward that adds to its output: the
 * GEMM's beta 1, y + the chain from +0 (OpenBLAS), or the chain from y
 * (libxsmm, when routed) */
static int direct_add(void) {
  return nn_conv_gemm_routed() ? 2 : 1;
}

/* Fills n values with the LCG in [−1, 1) from state *s. */
static void lcg_fill(uint64_t *s, double *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    v[i] = (double)(*s >> 11) * 0x1p-52 - 1.0;
  }
}

/* Whether conv_direct.c's kernel gives this layer the GEMM's bits (its
 * header), the forward's GEMM as run (gemm_fx): both on one pseudo-random
 * example and weights (an LCG in [−1, 1)), in the workspaces, which hold
 * nothing yet; then once more adding to that output (beta 1, the tangent
 * forward's second product). */
static int probe_direct(nn_layer *l) {
  if (!nn_conv_direct_cpu()) return 0;
  size_t hw = l->ho * l->wo, kk = l->c_in * l->k * l->k,
         wp = l->wi + 2 * l->pad, nw = l->c_out * kk;
  if (nw > kk * hw || l->in_size > kk * hw) return 0; /* scratch too small */
  double *x = l->dcols, *w = l->tcols;
  uint64_t s = 0x9e3779b97f4a7c15u;
  lcg_fill(&s, x, l->in_size);
  lcg_fill(&s, w, nw);
  cols_of(l, x, 0, 1, l->cols);
  nn_conv_direct_pad(l, x, l->xpad);
  int same = 1;
  for (int add = 0; add < 2; add++) {
    gemm_fx(0, 0, l->c_out, hw, kk, w, l->cols, add, l->ybuf);
    nn_conv_direct(l, w, l->xpad, add ? direct_add() : 0, l->ydir);
    for (size_t c = 0; c < l->c_out; c++)
      for (size_t i = 0; i < l->ho; i++)
        same &=
            memcmp(l->ybuf + c * hw + i * l->wo, l->ydir + c * l->dlen + i * wp,
                   l->wo * sizeof(double)) == 0;
  }
  return same;
}

static void col2im_chunk(const nn_layer *l, double *dcols, size_t e0, size_t E,
                         double *din);

/* The same for conv_direct.c's input adjoint: the GEMMs of the column
 * adjoints as run (Wᵀ dy, then + Vᵀ dy2) and col2im against the direct
 * kernel, on one pseudo-random example. */
static int probe_adjoint(nn_layer *l) {
  if (!nn_conv_direct_cpu()) return 0;
  size_t hw = l->ho * l->wo, kk = l->c_in * l->k * l->k,
         wp = l->wi + 2 * l->pad, nw = l->c_out * kk, ny = l->c_out * hw;
  double *w = malloc(2 * (nw + ny) * sizeof *w),
         *ref = malloc(l->in_size * sizeof *ref);
  int same = w && ref;
  if (same) {
    double *v = w + nw, *dy = v + nw, *dy2 = dy + ny;
    uint64_t s = 0x2545f4914f6cdd1du;
    lcg_fill(&s, w, 2 * (nw + ny));
    gemm_fx(1, 0, kk, hw, l->c_out, w, dy, 0.0, l->dcols);
    gemm_fx(1, 0, kk, hw, l->c_out, v, dy2, 1.0, l->dcols);
    col2im_chunk(l, l->dcols, 0, 1, ref);
    nn_conv_direct_pad_ld(l, l->c_out, dy, hw, l->dypad);
    nn_conv_direct_pad_ld(l, l->c_out, dy2, hw, l->dypad2);
    nn_conv_direct_adjoint(l, w, l->dypad, v, l->dypad2, nn_conv_gemm_routed(),
                           l->dxgrid);
    for (size_t c = 0; c < l->c_in; c++)
      for (size_t i = 0; i < l->hi; i++)
        same &= memcmp(ref + (c * l->hi + i) * l->wi,
                       l->dxgrid + c * l->dlen + i * wp,
                       l->wi * sizeof(double)) == 0;
  }
  free(w);
  free(ref);
  return same;
}

/* The same for conv_direct.c's weight adjoint: the GEMM (beta 1, on a
 * pseudo-random start) against the direct kernel, for every chunk size up
 * to the layer's (the last chunk of a batch may be smaller, and the size
 * sets OpenBLAS's blocks of the sum). */
static int probe_wgrad(nn_layer *l) {
  if (!nn_conv_direct_cpu() || !nn_conv_direct_wgrad_fits(l)) return 0;
  const size_t E = l->chunk ? l->chunk : 1, hw = l->ho * l->wo,
               kk = l->c_in * l->k * l->k, nw = l->c_out * kk,
               XS = l->c_in * l->dplane;
  double *x = malloc(E * l->in_size * sizeof *x),
         *g = malloc(2 * nw * sizeof *g);
  int same = x && g;
  uint64_t s = 0x853c49e6748fea9bu;
  for (size_t m = 1; same && m <= E; m++) {
    lcg_fill(&s, x, m * l->in_size);
    lcg_fill(&s, l->ybuf, l->c_out * m * hw);
    lcg_fill(&s, g, nw);
    memcpy(g + nw, g, nw * sizeof *g);
    cols_of(l, x, 0, m, l->cols);
    gemm(0, 1, l->c_out, kk, m * hw, l->ybuf, l->cols, 1.0, g);
    nn_conv_direct_transpose(l->ybuf, l->c_out, m * hw, l->dyT);
    for (size_t e = 0; e < m; e++)
      nn_conv_direct_pad(l, x + e * l->in_size, l->xpadE + e * XS);
    nn_conv_direct_wgrad(l, l->dyT, l->xpadE, m, g + nw, NULL);
    same = memcmp(g, g + nw, nw * sizeof *g) == 0;
  }
  free(x);
  free(g);
  return same;
}

ph_status nn_conv_alloc(nn_layer *l, ph_error *err) {
  size_t E = l->chunk ? l->chunk : 1, hw = l->ho * l->wo;
  size_t cs = l->c_in * l->k * l->k * hw * E, ys = l->c_out * hw * E;
  l->cols = ph_calloc(cs, sizeof(double), "im2col", err);
  l->tcols = ph_calloc(cs, sizeof(double), "im2col", err);
  l->dcols = ph_calloc(cs, sizeof(double), "im2col", err);
  l->ybuf = ph_calloc(ys, sizeof(double), "conv chunk", err);
  l->ybuf2 = ph_calloc(ys, sizeof(double), "conv chunk", err);
  if (!l->cols || !l->tcols || !l->dcols || !l->ybuf || !l->ybuf2)
    return PH_ERR_NOMEM;
  if (l->stride == 1 && l->ho == l->hi && l->wo == l->wi &&
      2 * l->pad + 1 == l->k) {
    /* conv_direct.c's planes: hi + 2p rows of wi + 2p, and outputs on ho
     * rows of that width rounded up to its blocks of 24 (AVX-512; 12
     * with AVX2); the kernel reads
     * up to (k − 1)(wi + 2p + 1) past the last plane's grid */
    size_t wp = l->wi + 2 * l->pad, len = (l->ho * wp + 23) / 24 * 24;
    l->dplane = (l->hi + 2 * l->pad) * wp;
    l->dlen = len;
    size_t xs = l->c_in * l->dplane + len + l->k * (wp + 1);
    l->xpad = ph_calloc(xs, sizeof(double), "conv planes", err);
    l->tpad = ph_calloc(xs, sizeof(double), "conv planes", err);
    l->ydir = ph_calloc(l->c_out * len, sizeof(double), "conv planes", err);
    size_t ds = l->c_out * l->dplane + len + l->k * (wp + 1);
    l->dypad = ph_calloc(ds, sizeof(double), "conv planes", err);
    l->dypad2 = ph_calloc(ds, sizeof(double), "conv planes", err);
    l->dxgrid = ph_calloc(l->c_in * len, sizeof(double), "conv planes", err);
    l->dyT = ph_calloc(ys, sizeof(double), "conv chunk", err);
    l->xpadE =
        ph_calloc(E * l->c_in * l->dplane, sizeof(double), "conv planes", err);
    if (!l->xpad || !l->tpad || !l->ydir || !l->dypad || !l->dypad2 ||
        !l->dxgrid || !l->dyT || !l->xpadE)
      return PH_ERR_NOMEM;
    l->direct = probe_direct(l);
    l->direct_adj = probe_adjoint(l);
    l->direct_w = probe_wgrad(l);
  }
  return PH_OK;
}

void nn_conv_free(nn_layer *l) {
  free(l->cols);
  free(l->tcols);
  free(l->dcols);
  free(l->ybuf);
  free(l->ybuf2);
  free(l->xpad);
  free(l->tpad);
  free(l->ydir);
  free(l->dypad);
  free(l->dypad2);
  free(l->dxgrid);
  free(l->dyT);
  free(l->xpadE);
  l->cols = l->tcols = l->dcols = l->ybuf = l->ybuf2 = NULL;
  l->xpad = l->tpad = l->ydir = l->dypad = l->dypad2 = l->dxgrid = NULL;
  l->dyT = l->xpadE = NULL;
}

/* Columns of examples [e0, e0 + E) of x into cols (kk, E·hw). */
static void cols_of(const nn_layer *l, const double *x, size_t e0, size_t E,
                    double *cols) {
  size_t hw = l->ho * l->wo;
  for (size_t e = 0; e < E; e++)
    nn_im2col_ld(l, x + (e0 + e) * l->in_size, cols + e * hw, E * hw);
}

/* y (batch layout) → buf (c_out, E·hw) for examples [e0, e0 + E). */
static void to_chunk(const nn_layer *l, const double *y, size_t e0, size_t E,
                     double *buf) {
  size_t hw = l->ho * l->wo;
  for (size_t e = 0; e < E; e++)
    for (size_t c = 0; c < l->c_out; c++)
      memcpy(buf + c * E * hw + e * hw, y + (e0 + e) * l->out_size + c * hw,
             hw * sizeof *buf);
}

/* y[e, c, :] = buf[c, e·hw : (e+1)·hw] + bias[c] (bias NULL: none). */
static void from_chunk(const nn_layer *l, const double *buf, const double *bias,
                       size_t e0, size_t E, double *y) {
  size_t hw = l->ho * l->wo;
  for (size_t e = 0; e < E; e++)
    for (size_t c = 0; c < l->c_out; c++) {
      const double *src = buf + c * E * hw + e * hw;
      double *dst = y + (e0 + e) * l->out_size + c * hw, b = bias ? bias[c] : 0;
      for (size_t q = 0; q < hw; q++) dst[q] = src[q] + b;
    }
}

/* acc[c] += Σ over the chunk's positions of buf[c, ·] (bias adjoints).
 * Each row's sum runs in position order from 0, as one chain of adds; four
 * rows at a time, so that four independent chains hide the add's latency
 * (one chain at a time was 4 % of the CNN gradient). The same bits as one
 * row after the other. */
static void rowsum_acc(const double *buf, size_t rows, size_t len,
                       double *acc) {
  size_t c = 0;
  for (; c + 4 <= rows; c += 4) {
    const double *r0 = buf + c * len, *r1 = r0 + len, *r2 = r1 + len,
                 *r3 = r2 + len;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t q = 0; q < len; q++) {
      s0 += r0[q];
      s1 += r1[q];
      s2 += r2[q];
      s3 += r3[q];
    }
    acc[c] += s0;
    acc[c + 1] += s1;
    acc[c + 2] += s2;
    acc[c + 3] += s3;
  }
  for (; c < rows; c++) {
    double s = 0;
    for (size_t q = 0; q < len; q++) s += buf[c * len + q];
    acc[c] += s;
  }
}

/* C (M, N) (+)= op(A) op(B), row-major, plain leading dimensions. */
static void gemm(int ta, int tb, size_t M, size_t N, size_t K, const double *A,
                 const double *Bm, double beta, double *C) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
              tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0, A,
              ta ? (int)M : (int)K, Bm, tb ? (int)K : (int)N, beta, C, (int)N);
}

int nn_conv_gemm_routed(void) {
  return ph_nn_gemm_wide();
}

/* The forward's and the input adjoint's C (M, N) (+)= op(A) op(B): through
 * ph_nn_gemm_acc when routed (beta 0 zeroes C first; beta 1 continues each
 * entry's chain from C, libxsmm's order), else gemm. Each entry is one
 * chain over K whose blocks depend on K only, so an entry does not depend
 * on the other columns of the call: a chunk's outputs are the same bits
 * whichever examples share it (thread counts, block products). */
static void gemm_fx(int ta, int tb, size_t M, size_t N, size_t K,
                    const double *A, const double *Bm, double beta, double *C) {
  if (!nn_conv_gemm_routed()) {
    gemm(ta, tb, M, N, K, A, Bm, beta, C);
    return;
  }
  if (beta == 0.0) memset(C, 0, M * N * sizeof *C);
  ph_nn_gemm_acc(ta, tb, M, N, K, A, Bm, C);
}

/* din[e] = col2im of the chunk's column adjoints (kk, E·hw). */
static void col2im_chunk(const nn_layer *l, double *dcols, size_t e0, size_t E,
                         double *din) {
  size_t hw = l->ho * l->wo;
  int same = l->stride == 1 && l->wo == l->wi;
  memset(din + e0 * l->in_size, 0, E * l->in_size * sizeof *din);
  for (size_t e = 0; e < E; e++)
    if (same)
      nn_col2im_same_ld(l, dcols + e * hw, din + (e0 + e) * l->in_size, E * hw);
    else
      nn_col2im_ld(l, dcols + e * hw, din + (e0 + e) * l->in_size, E * hw);
}

/* for each chunk [e0, e0 + E) of the batch */
#define CHUNKS(l, B)                                                           \
  for (size_t step = (l)->chunk ? (l)->chunk : 1, e0 = 0, E = 0;               \
       E = (B)-e0 < step ? (B)-e0 : step, e0 < (B); e0 += E)

void nn_conv_forward(nn_layer *l, const double *theta, size_t B,
                     const double *in, double *out) {
  size_t hw = l->ho * l->wo, kk = l->c_in * l->k * l->k;
  CHUNKS(l, B) {
    cols_of(l, in, e0, E, l->cols);
    gemm_fx(0, 0, l->c_out, E * hw, kk, theta + l->w_off, l->cols, 0.0,
            l->ybuf);
    from_chunk(l, l->ybuf, theta + l->b_off, e0, E, out);
  }
}

/* din of the chunk's examples by conv_direct.c's input adjoint: W on the
 * output adjoints in ybuf [+ V on those in ybuf2], example by example. */
static void direct_adjoint_chunk(nn_layer *l, const double *W, const double *V,
                                 size_t e0, size_t E, double *din) {
  const size_t hw = l->ho * l->wo;
  for (size_t e = 0; e < E; e++) {
    nn_conv_direct_pad_ld(l, l->c_out, l->ybuf + e * hw, E * hw, l->dypad);
    if (V)
      nn_conv_direct_pad_ld(l, l->c_out, l->ybuf2 + e * hw, E * hw, l->dypad2);
    nn_conv_direct_adjoint(l, W, l->dypad, V, l->dypad2, nn_conv_gemm_routed(),
                           l->dxgrid);
    nn_conv_direct_unpad(l, l->dxgrid, din + (e0 + e) * l->in_size);
  }
}

/* gw += dy cols(x)ᵀ for the chunk's examples [e0, e0 + E) of x, dy in the
 * chunk layout, and gb (NULL: none) += dy's row sums: conv_direct.c's
 * kernel when the probe agreed, else the GEMM on im2col columns (cols: the
 * workspace for them) and rowsum_acc. */
static void wgrad_chunk(nn_layer *l, const double *dy, const double *x,
                        size_t e0, size_t E, double *cols, double *gw,
                        double *gb) {
  size_t hw = l->ho * l->wo, kk = l->c_in * l->k * l->k;
  if (nn_conv_direct_wgrad_ok(l)) {
    const size_t XS = l->c_in * l->dplane;
    nn_conv_direct_transpose(dy, l->c_out, E * hw, l->dyT);
    for (size_t e = 0; e < E; e++)
      nn_conv_direct_pad(l, x + (e0 + e) * l->in_size, l->xpadE + e * XS);
    nn_conv_direct_wgrad(l, l->dyT, l->xpadE, E, gw, gb);
    return;
  }
  cols_of(l, x, e0, E, cols);
  gemm(0, 1, l->c_out, kk, E * hw, dy, cols, 1.0, gw);
  if (gb) rowsum_acc(dy, l->c_out, E * hw, gb);
}

/* The backward of one chunk from its output adjoint, already in ybuf in
 * the chunk layout. */
static void backward_chunk(nn_layer *l, const double *theta, const double *in,
                           size_t e0, size_t E, double *din, double *grad) {
  size_t hw = l->ho * l->wo, kk = l->c_in * l->k * l->k;
  if (grad)
    wgrad_chunk(l, l->ybuf, in, e0, E, l->cols, grad + l->w_off,
                grad + l->b_off);
  if (din && nn_conv_direct_adjoint_ok(l))
    direct_adjoint_chunk(l, theta + l->w_off, NULL, e0, E, din);
  else if (din) {
    gemm_fx(1, 0, kk, E * hw, l->c_out, theta + l->w_off, l->ybuf, 0.0,
            l->dcols);
    col2im_chunk(l, l->dcols, e0, E, din);
  }
}

void nn_conv_backward(nn_layer *l, const double *theta, size_t B,
                      const double *in, const double *dout, double *din,
                      double *grad) {
  CHUNKS(l, B) {
    to_chunk(l, dout, e0, E, l->ybuf);
    backward_chunk(l, theta, in, e0, E, din, grad);
  }
}

/* ẏ of one chunk without its bias, V cols(x) + W cols(ẋ), into ybuf. */
static void tangent_forward_chunk(nn_layer *l, const double *theta,
                                  const double *v, const double *in,
                                  const double *tin, size_t e0, size_t E) {
  size_t hw = l->ho * l->wo, kk = l->c_in * l->k * l->k;
  cols_of(l, in, e0, E, l->cols);
  gemm_fx(0, 0, l->c_out, E * hw, kk, v + l->w_off, l->cols, 0.0, l->ybuf);
  if (tin) {
    cols_of(l, tin, e0, E, l->tcols);
    gemm_fx(0, 0, l->c_out, E * hw, kk, theta + l->w_off, l->tcols, 1.0,
            l->ybuf);
  }
}

void nn_conv_tangent_forward(nn_layer *l, const double *theta, const double *v,
                             size_t B, const double *in, const double *tin,
                             double *tout) {
  CHUNKS(l, B) {
    /* ẏ = V cols(x) + W cols(ẋ) + v_b */
    tangent_forward_chunk(l, theta, v, in, tin, e0, E);
    from_chunk(l, l->ybuf, v + l->b_off, e0, E, tout);
  }
}

/* The tangent backward of one chunk from ḋy in ybuf and, when so (second
 * order with a tangent input or a wanted ḋx), dy in ybuf2, chunk layout. */
static void tangent_backward_chunk(nn_layer *l, const double *theta,
                                   const double *v, const double *in,
                                   const double *tin, size_t e0, size_t E,
                                   double *tdin, double *hv, int second_order) {
  size_t hw = l->ho * l->wo, kk = l->c_in * l->k * l->k;
  /* (Hv)_W += ḋy cols(x)ᵀ [+ dy cols(ẋ)ᵀ]; ḋx = col2im(Wᵀ ḋy [+ Vᵀ dy]) */
  wgrad_chunk(l, l->ybuf, in, e0, E, l->cols, hv + l->w_off, hv + l->b_off);
  if (second_order && tin)
    wgrad_chunk(l, l->ybuf2, tin, e0, E, l->tcols, hv + l->w_off, NULL);
  if (tdin && nn_conv_direct_adjoint_ok(l))
    direct_adjoint_chunk(l, theta + l->w_off,
                         second_order ? v + l->w_off : NULL, e0, E, tdin);
  else if (tdin) {
    gemm_fx(1, 0, kk, E * hw, l->c_out, theta + l->w_off, l->ybuf, 0.0,
            l->dcols);
    if (second_order)
      gemm_fx(1, 0, kk, E * hw, l->c_out, v + l->w_off, l->ybuf2, 1.0,
              l->dcols);
    col2im_chunk(l, l->dcols, e0, E, tdin);
  }
}

void nn_conv_tangent_backward(nn_layer *l, const double *theta, const double *v,
                              size_t B, const double *in, const double *tin,
                              const double *dout, const double *tdout,
                              double *tdin, double *hv, int second_order) {
  int so = second_order && (tin || tdin);
  CHUNKS(l, B) {
    to_chunk(l, tdout, e0, E, l->ybuf);
    if (so) to_chunk(l, dout, e0, E, l->ybuf2);
    tangent_backward_chunk(l, theta, v, in, tin, e0, E, tdin, hv, second_order);
  }
}

/* ---- conv, ReLU, tiled max pooling as one group (seq_int.h) ---- */
int nn_conv_relu_pool_fusable(const nn_layer *conv, const nn_layer *act,
                              const nn_layer *pool) {
  return conv->kind == NN_CONV && nn_relu_maxpool_fusable(act, pool) &&
         pool->c_in == conv->c_out && pool->hi == conv->ho &&
         pool->wi == conv->wo;
}

void nn_conv_relu_pool_forward(nn_layer *conv, nn_layer *pool,
                               const double *theta, size_t B, const double *in,
                               double *pooled) {
  const size_t hw = conv->ho * conv->wo, kk = conv->c_in * conv->k * conv->k,
               C = conv->c_out, os = pool->out_size, po = pool->ho * pool->wo;
  const double *bias = theta + conv->b_off;
  if (nn_conv_direct_ok(conv)) {
    /* example by example, without im2col (conv_direct.c) */
    const size_t wp = conv->wi + 2 * conv->pad;
    for (size_t e = 0; e < B; e++) {
      nn_conv_direct_pad(conv, in + e * conv->in_size, conv->xpad);
      nn_conv_direct(conv, theta + conv->w_off, conv->xpad, 0, conv->ydir);
      for (size_t c = 0; c < C; c++) {
        size_t o = e * os + c * po;
        nn_relu_maxpool_plane(pool, conv->ydir + c * conv->dlen, wp, bias[c], c,
                              pooled + o, pool->arg + o);
      }
    }
    return;
  }
  CHUNKS(conv, B) {
    cols_of(conv, in, e0, E, conv->cols);
    gemm_fx(0, 0, C, E * hw, kk, theta + conv->w_off, conv->cols, 0.0,
            conv->ybuf);
    for (size_t e = 0; e < E; e++)
      for (size_t c = 0; c < C; c++) {
        size_t o = (e0 + e) * os + c * po;
        nn_relu_maxpool_plane(pool, conv->ybuf + (c * E + e) * hw, conv->wo,
                              bias[c], c, pooled + o, pool->arg + o);
      }
  }
}

/* The conv output's adjoint (the ReLU's input adjoint) of a chunk into buf
 * (chunk layout) from the pooled adjoint g: 0 + g at each argmax where the
 * pooled output is positive, 0 elsewhere; nn_relu_maxpool_backward's
 * values (its 0 + g keeps the two-pass sign of zero). */
static void pool_adjoint_chunk(const nn_layer *conv, const nn_layer *pool,
                               const double *pooled, const double *g, size_t e0,
                               size_t E, double *buf) {
  const size_t hw = conv->ho * conv->wo, C = conv->c_out, os = pool->out_size,
               po = pool->ho * pool->wo;
  for (size_t e = 0; e < E; e++)
    for (size_t c = 0; c < C; c++) {
      double *d = buf + (c * E + e) * hw;
      size_t o = (e0 + e) * os + c * po, base = c * hw;
      const size_t *a = pool->arg + o;
      const double *y = pooled + o, *ge = g + o;
      memset(d, 0, hw * sizeof *d);
      for (size_t q = 0; q < po; q++) {
        double u = 0.0 + ge[q];
        d[a[q] - base] = nn_relu_mask(y[q], u);
      }
    }
}

void nn_conv_relu_pool_backward(nn_layer *conv, const nn_layer *pool,
                                const double *theta, size_t B, const double *in,
                                const double *pooled, const double *dpool,
                                double *din, double *grad) {
  CHUNKS(conv, B) {
    pool_adjoint_chunk(conv, pool, pooled, dpool, e0, E, conv->ybuf);
    backward_chunk(conv, theta, in, e0, E, din, grad);
  }
}

/* The pooled tangent of plane c at outputs [o, o + ho·wo) of the pooling:
 * the conv's tangent src (rows ld apart) plus its bias b, at the argmax,
 * under the mask (pooled > 0). The argmax is an index in the plane's rows
 * of wi; its row within the window gives the row in src. */
static void gather_plane(const nn_layer *conv, const nn_layer *pool,
                         const double *src, size_t ld, double b, size_t c,
                         size_t o, const double *pooled, double *tpooled) {
  const size_t wi = conv->wo, st = pool->stride, pho = pool->ho, pwo = pool->wo,
               base = c * conv->ho * conv->wo;
  const size_t *a = pool->arg + o;
  const double *y = pooled + o;
  double *t = tpooled + o;
  for (size_t oi = 0; oi < pho; oi++)
    for (size_t oj = 0; oj < pwo; oj++) {
      size_t q = oi * pwo + oj, d = a[q] - base - (oi * st * wi + oj * st),
             r = 0;
      while (d >= wi) {
        d -= wi;
        r++;
      }
      double u = src[(oi * st + r) * ld + oj * st + d] + b;
      t[q] = nn_relu_mask(y[q], u);
    }
}

void nn_conv_relu_pool_tangent_forward(nn_layer *conv, const nn_layer *pool,
                                       const double *theta, const double *v,
                                       size_t B, const double *in,
                                       const double *tin, const double *pooled,
                                       double *tpooled) {
  const size_t hw = conv->ho * conv->wo, C = conv->c_out, os = pool->out_size,
               po = pool->ho * pool->wo;
  const double *vb = v + conv->b_off;
  if (nn_conv_direct_ok(conv)) {
    for (size_t e = 0; e < B; e++) {
      nn_conv_direct_pad(conv, in + e * conv->in_size, conv->xpad);
      nn_conv_direct(conv, v + conv->w_off, conv->xpad, 0, conv->ydir);
      if (tin) {
        nn_conv_direct_pad(conv, tin + e * conv->in_size, conv->tpad);
        nn_conv_direct(conv, theta + conv->w_off, conv->tpad, direct_add(),
                       conv->ydir);
      }
      for (size_t c = 0; c < C; c++)
        gather_plane(conv, pool, conv->ydir + c * conv->dlen,
                     conv->wi + 2 * conv->pad, vb[c], c, e * os + c * po,
                     pooled, tpooled);
    }
    return;
  }
  CHUNKS(conv, B) {
    tangent_forward_chunk(conv, theta, v, in, tin, e0, E);
    /* the chunk layout's planes have rows of wo, the pooling's own */
    for (size_t e = 0; e < E; e++)
      for (size_t c = 0; c < C; c++)
        gather_plane(conv, pool, conv->ybuf + (c * E + e) * hw, conv->wo, vb[c],
                     c, (e0 + e) * os + c * po, pooled, tpooled);
  }
}

void nn_conv_relu_pool_tangent_backward(nn_layer *conv, const nn_layer *pool,
                                        const double *theta, const double *v,
                                        size_t B, const double *in,
                                        const double *tin, const double *pooled,
                                        const double *dpool,
                                        const double *tdpool, double *tdin,
                                        double *hv, int second_order) {
  int so = second_order && (tin || tdin);
  CHUNKS(conv, B) {
    pool_adjoint_chunk(conv, pool, pooled, tdpool, e0, E, conv->ybuf);
    if (so) pool_adjoint_chunk(conv, pool, pooled, dpool, e0, E, conv->ybuf2);
    tangent_backward_chunk(conv, theta, v, in, tin, e0, E, tdin, hv,
                           second_order);
  }
}
