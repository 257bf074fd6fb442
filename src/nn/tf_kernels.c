/* tf_kernels.c: transformer kernels (embedding, layer norm, GELU, causal
 * multi-head attention, softmax cross-entropy with ignored positions), each
 * with forward, backward, tangent-forward and tangent-backward so that the
 * graph gets exact Hessian-vector products (Pearlmutter 1994, "Fast exact
 * multiplication by the Hessian"). Layout follows karpathy/llm.c.
 * Derivations of every backward and tangent formula:
 * docs/autodiff-transformer.md.
 *
 * Attention has two implementations: one CBLAS GEMM per (batch, head) with the
 * head's columns addressed through the leading dimension (no copies), and a
 * naive loop reference (_ref) that the tests compare against. The GEMM version
 * skips the zero upper triangle of the (T, T) factors by row blocks (see
 * causal_gemm below) and masks the scores inside a block afterwards.
 *
 * Not here: dense projections, residual adds and the graph itself (src/nn
 * graph engine); dropout (pothole never trains with it).
 */
#include "nn/tf_kernels.h"
#include "nn/vmath.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- tokens */

ph_status ph_tf_tokens_check(const double *tok, size_t n, size_t V,
                             ph_error *err) {
  for (size_t i = 0; i < n; i++) {
    double t = tok[i];
    if (!(t >= 0.0 && t < (double)V) || t != floor(t))
      return ph_error_set(err, PH_ERR_FORMAT,
                          "token id %g at position %zu is not an integer in "
                          "[0, %zu)",
                          t, i, V);
  }
  return PH_OK;
}

ph_status ph_tf_targets_check(const int32_t *y, size_t N, size_t C,
                              ph_error *err) {
  for (size_t i = 0; i < N; i++)
    if (y[i] < -1 || (y[i] >= 0 && (size_t)y[i] >= C))
      return ph_error_set(err, PH_ERR_FORMAT,
                          "target %d at position %zu is outside [-1, %zu)",
                          (int)y[i], i, C);
  return PH_OK;
}

/* ------------------------------------------------------------- embedding */

void ph_tf_embed_forward(double *y, const double *tok, const double *wte,
                         const double *wpe, size_t B, size_t T, size_t d) {
  for (size_t b = 0; b < B; b++)
    for (size_t t = 0; t < T; t++) {
      double *yr = y + (b * T + t) * d;                    /* (d) */
      const double *er = wte + (size_t)tok[b * T + t] * d; /* (d) */
      if (wpe) {
        const double *pr = wpe + t * d;
        for (size_t c = 0; c < d; c++) yr[c] = er[c] + pr[c];
      } else {
        memcpy(yr, er, d * sizeof *yr);
      }
    }
}

void ph_tf_embed_backward(double *dwte, double *dwpe, const double *dy,
                          const double *tok, size_t B, size_t T, size_t d) {
  for (size_t b = 0; b < B; b++)
    for (size_t t = 0; t < T; t++) {
      const double *g = dy + (b * T + t) * d;
      if (dwte) {
        double *er = dwte + (size_t)tok[b * T + t] * d;
        for (size_t c = 0; c < d; c++) er[c] += g[c];
      }
      if (dwpe) {
        double *pr = dwpe + t * d;
        for (size_t c = 0; c < d; c++) pr[c] += g[c];
      }
    }
}

void ph_tf_embed_tangent_forward(double *y_t, const double *tok,
                                 const double *wte_t, const double *wpe_t,
                                 size_t B, size_t T, size_t d) {
  ph_tf_embed_forward(y_t, tok, wte_t, wpe_t, B, T, d);
}

void ph_tf_embed_tangent_backward(double *dwte_t, double *dwpe_t,
                                  const double *dy_t, const double *tok,
                                  size_t B, size_t T, size_t d) {
  ph_tf_embed_backward(dwte_t, dwpe_t, dy_t, tok, B, T, d);
}

/* ------------------------------------------------------------ layer norm */

void ph_tf_layernorm_forward(double *y, double *mean, double *rstd,
                             const double *x, const double *g, const double *b,
                             size_t N, size_t D) {
  for (size_t i = 0; i < N; i++) {
    const double *xr = x + i * D;
    double *yr = y + i * D;
    double m = 0.0;
    for (size_t c = 0; c < D; c++) m += xr[c];
    m /= (double)D;
    double var = 0.0; /* two-pass: no cancellation for large means */
    for (size_t c = 0; c < D; c++) var += (xr[c] - m) * (xr[c] - m);
    var /= (double)D;
    double r = 1.0 / sqrt(var + PH_TF_LN_EPS);
    for (size_t c = 0; c < D; c++) yr[c] = g[c] * ((xr[c] - m) * r) + b[c];
    mean[i] = m;
    rstd[i] = r;
  }
}

/* dx = r (dx̂ − mean(dx̂) − x̂ mean(dx̂ ⊙ x̂)), dx̂ = g ⊙ dy. */
void ph_tf_layernorm_backward(double *dx, double *dg, double *db,
                              const double *dy, const double *x,
                              const double *g, const double *mean,
                              const double *rstd, size_t N, size_t D) {
  for (size_t i = 0; i < N; i++) {
    const double *xr = x + i * D, *dyr = dy + i * D;
    double m = mean[i], r = rstd[i];
    double m1 = 0.0, m2 = 0.0;
    for (size_t c = 0; c < D; c++) {
      double xh = (xr[c] - m) * r;
      double dxh = dyr[c] * g[c];
      m1 += dxh;
      m2 += dxh * xh;
      if (dg) dg[c] += dyr[c] * xh;
      if (db) db[c] += dyr[c];
    }
    if (!dx) continue;
    m1 /= (double)D;
    m2 /= (double)D;
    double *dxr = dx + i * D;
    for (size_t c = 0; c < D; c++) {
      double xh = (xr[c] - m) * r;
      dxr[c] += r * (dyr[c] * g[c] - m1 - xh * m2);
    }
  }
}

/* ẋ̂ = r (ẋ − mean(ẋ) − x̂ mean(x̂ ⊙ ẋ)); ẏ = ġ ⊙ x̂ + g ⊙ ẋ̂ + ḃ. */
void ph_tf_layernorm_tangent_forward(double *y_t, const double *x,
                                     const double *x_t, const double *g,
                                     const double *g_t, const double *b_t,
                                     const double *mean, const double *rstd,
                                     size_t N, size_t D) {
  for (size_t i = 0; i < N; i++) {
    const double *xr = x + i * D, *xtr = x_t + i * D;
    double *ytr = y_t + i * D;
    double m = mean[i], r = rstd[i];
    double a = 0.0, s = 0.0;
    for (size_t c = 0; c < D; c++) {
      double xh = (xr[c] - m) * r;
      a += xtr[c];
      s += xh * xtr[c];
    }
    a /= (double)D;
    s /= (double)D;
    for (size_t c = 0; c < D; c++) {
      double xh = (xr[c] - m) * r;
      double xh_t = r * (xtr[c] - a - xh * s);
      ytr[c] = g_t[c] * xh + g[c] * xh_t + b_t[c];
    }
  }
}

/* Tangent of the backward above; ṙ = −r² mean(x̂ ⊙ ẋ). */
void ph_tf_layernorm_tangent_backward(double *dx_t, double *dg_t, double *db_t,
                                      const double *dy, const double *dy_t,
                                      const double *x, const double *x_t,
                                      const double *g, const double *g_t,
                                      const double *mean, const double *rstd,
                                      size_t N, size_t D) {
  double invD = 1.0 / (double)D;
  for (size_t i = 0; i < N; i++) {
    const double *xr = x + i * D, *xtr = x_t + i * D;
    const double *dyr = dy + i * D, *dytr = dy_t + i * D;
    double m = mean[i], r = rstd[i];
    double a = 0.0, s = 0.0;
    for (size_t c = 0; c < D; c++) {
      double xh = (xr[c] - m) * r;
      a += xtr[c];
      s += xh * xtr[c];
    }
    a *= invD;
    s *= invD;
    double r_t = -r * r * s;
    /* m1 = mean(dx̂), m2 = mean(dx̂ ⊙ x̂) and their tangents. */
    double m1 = 0.0, m2 = 0.0, m1_t = 0.0, m2_t = 0.0;
    for (size_t c = 0; c < D; c++) {
      double xh = (xr[c] - m) * r;
      double xh_t = r * (xtr[c] - a - xh * s);
      double dxh = dyr[c] * g[c];
      double dxh_t = dytr[c] * g[c] + dyr[c] * g_t[c];
      m1 += dxh;
      m2 += dxh * xh;
      m1_t += dxh_t;
      m2_t += dxh_t * xh + dxh * xh_t;
      if (dg_t) dg_t[c] += dytr[c] * xh + dyr[c] * xh_t;
      if (db_t) db_t[c] += dytr[c];
    }
    if (!dx_t) continue;
    m1 *= invD;
    m2 *= invD;
    m1_t *= invD;
    m2_t *= invD;
    double *dxtr = dx_t + i * D;
    for (size_t c = 0; c < D; c++) {
      double xh = (xr[c] - m) * r;
      double xh_t = r * (xtr[c] - a - xh * s);
      double dxh = dyr[c] * g[c];
      double dxh_t = dytr[c] * g[c] + dyr[c] * g_t[c];
      dxtr[c] += r_t * (dxh - m1 - xh * m2) +
                 r * (dxh_t - m1_t - xh_t * m2 - xh * m2_t);
    }
  }
}

/* ------------------------------------------------------------------ GELU */

/* y' = Φ + xφ, y'' = φ (2 − x²), through nn/vmath.h (Φ from erfc). The
 * variants without saved derivatives recompute them in chunks of GCH. */
#define GCH 256

void ph_tf_gelu_forward(double *y, const double *x, size_t n) {
  ph_vmath_gelu_d(x, y, NULL, NULL, n);
}

void ph_tf_gelu_backward(double *dx, const double *dy, const double *x,
                         size_t n) {
  double d1[GCH];
  for (size_t o = 0; o < n; o += GCH) {
    size_t m = n - o < GCH ? n - o : GCH;
    ph_vmath_gelu_d(x + o, NULL, d1, NULL, m);
    ph_tf_gelu_backward_d(dx + o, dy + o, d1, m);
  }
}

void ph_tf_gelu_tangent_forward(double *y_t, const double *x, const double *x_t,
                                size_t n) {
  double d1[GCH];
  for (size_t o = 0; o < n; o += GCH) {
    size_t m = n - o < GCH ? n - o : GCH;
    ph_vmath_gelu_d(x + o, NULL, d1, NULL, m);
    ph_tf_gelu_tangent_forward_d(y_t + o, d1, x_t + o, m);
  }
}

void ph_tf_gelu_tangent_backward(double *dx_t, const double *dy,
                                 const double *dy_t, const double *x,
                                 const double *x_t, size_t n) {
  double d1[GCH], d2[GCH];
  for (size_t o = 0; o < n; o += GCH) {
    size_t m = n - o < GCH ? n - o : GCH;
    ph_vmath_gelu_d(x + o, NULL, d1, d2, m);
    ph_tf_gelu_tangent_backward_d(dx_t + o, dy + o, dy_t + o, d1, d2, x_t + o,
                                  m);
  }
}

void ph_tf_gelu_forward_d(double *y, double *d1, double *d2, const double *x,
                          size_t n) {
  ph_vmath_gelu_d(x, y, d1, d2, n);
}

void ph_tf_gelu_backward_d(double *dx, const double *dy, const double *d1,
                           size_t n) {
  for (size_t i = 0; i < n; i++) dx[i] += dy[i] * d1[i];
}

void ph_tf_gelu_tangent_forward_d(double *y_t, const double *d1,
                                  const double *x_t, size_t n) {
  for (size_t i = 0; i < n; i++) y_t[i] = d1[i] * x_t[i];
}

void ph_tf_gelu_tangent_backward_d(double *dx_t, const double *dy,
                                   const double *dy_t, const double *d1,
                                   const double *d2, const double *x_t,
                                   size_t n) {
  for (size_t i = 0; i < n; i++)
    dx_t[i] += dy_t[i] * d1[i] + dy[i] * d2[i] * x_t[i];
}

/* ------------------------------------------------------------- attention */

size_t ph_tf_attn_work_size(size_t T) {
  return 2 * T * T;
}

/* The causal mask makes P, Ṗ, dS and ḋS (T, T) lower triangular, so the
 * GEMMs run over row blocks of TF_ATTN_RB rows and skip the zero triangle:
 * row block [r0, r1) of a score product needs columns < r1, of L·Y the
 * terms k < r1, of Lᵀ·Y the terms k ≥ r0. Each computed element is the
 * same sequential sum as before minus exact-zero terms at its start or
 * end, so the results are the same bits (score entries above the diagonal
 * inside a block are computed and masked as before; those beyond it are
 * never written and the mask loops zero them). */
#define TF_ATTN_RB 16

/* One product over the row blocks, by kind:
 *   CAUSAL_NT  C (T, T)  = alpha X Yᵀ + beta C on each block's columns < r1
 *   CAUSAL_NN  C (T, dh) = alpha X Y + beta C, X (T, T) lower triangular
 *   CAUSAL_TN  C (T, dh) = alpha Xᵀ Y + beta C, X (T, T) lower triangular
 * Y (and X for NT) are head views with leading dimension ld. */
typedef enum { CAUSAL_NT, CAUSAL_NN, CAUSAL_TN } causal_kind;

#if defined(__x86_64__)
#include <immintrin.h>
#define TF_ATTN_AVX512 1

/* The AVX-512 path of causal_gemm, without OpenBLAS's per-call packing
 * (the attention makes 4·B·nh·L calls of 16 rows per product kind, each
 * some 1-2 µs of copying for 16·64·16 multiply-adds: a fifth of the Hv's
 * time went to OpenBLAS, tenth session). Each element of C keeps one
 * accumulator that starts at zero and takes the terms in k order through
 * FMAs; C = alpha·acc + beta·C is stored as a product and a sum, two
 * roundings (beta is 0 or 1 here). That is what OpenBLAS's Haswell kernels
 * (this machine's) do, except on a lone last row of a call, which they sum
 * over four accumulators by k mod 4 (measured): so this path runs for T
 * even, where no row block ends in a lone row, and gives the bits of the
 * CBLAS calls (test_tf_kernels compares them over shapes with dh 3 to 24,
 * and the transformer's products and a training run hash the same); T
 * odd stays with OpenBLAS. Terms that are exact zeros of the causal
 * triangle (P, Ṗ, dS, ḋS are zero above the diagonal, the operands
 * finite) are skipped or kept as in the row blocks above, which changes
 * nothing: fma(0, y, acc) = acc. C's columns go 8 to a vector (the last
 * one of a row masked); four rows at a time give four independent FMA
 * chains. */
#define TF_MASK(n) ((__mmask8)((n) >= 8 ? 0xff : (1u << (n)) - 1))

__attribute__((target("avx512f"))) static inline void
attn_store(double *c, __mmask8 m, __m512d acc, __m512d alpha, int beta) {
  __m512d y = _mm512_mul_pd(alpha, acc);
  __asm__("" : "+v"(y)); /* two roundings, no FMA contraction */
  if (beta) y = _mm512_add_pd(y, _mm512_maskz_loadu_pd(m, c));
  _mm512_mask_storeu_pd(c, m, y);
}

/* C (T, T) row i, columns j ≤ i (the rest is masked by the callers):
 * alpha Σ_k X[i][k] Y[j][k] (+ C); Yt (dh, T) is Y transposed. */
__attribute__((target("avx512f"))) static void
attn_nt512(size_t T, size_t dh, double alpha_s, const double *X,
           const double *Yt, size_t ld, int beta, double *C) {
  __m512d alpha = _mm512_set1_pd(alpha_s);
  for (size_t i = 0; i < T; i++) {
    const double *x = X + i * ld;
    double *c = C + i * T;
    size_t n = i + 1;
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
      __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
      for (size_t k = 0; k < dh; k++) {
        __m512d xk = _mm512_set1_pd(x[k]);
        const double *y = Yt + k * T + j;
        a0 = _mm512_fmadd_pd(xk, _mm512_loadu_pd(y), a0);
        a1 = _mm512_fmadd_pd(xk, _mm512_loadu_pd(y + 8), a1);
        a2 = _mm512_fmadd_pd(xk, _mm512_loadu_pd(y + 16), a2);
        a3 = _mm512_fmadd_pd(xk, _mm512_loadu_pd(y + 24), a3);
      }
      attn_store(c + j, 0xff, a0, alpha, beta);
      attn_store(c + j + 8, 0xff, a1, alpha, beta);
      attn_store(c + j + 16, 0xff, a2, alpha, beta);
      attn_store(c + j + 24, 0xff, a3, alpha, beta);
    }
    for (; j < n; j += 8) {
      __mmask8 m = TF_MASK(n - j);
      __m512d a0 = _mm512_setzero_pd();
      for (size_t k = 0; k < dh; k++)
        a0 = _mm512_fmadd_pd(_mm512_set1_pd(x[k]),
                             _mm512_maskz_loadu_pd(m, Yt + k * T + j), a0);
      attn_store(c + j, m, a0, alpha, beta);
    }
  }
}

/* C (T, dh) = alpha X Y (+ C), X (T, T) lower triangular (row i's terms
 * k ≤ i; a block of four rows runs to its last row's diagonal, the others'
 * extra terms being exact zeros), or with trans alpha Xᵀ Y (+ C), row i's
 * terms k ≥ i (a block starts at its first row's diagonal). */
__attribute__((target("avx512f"))) static void
attn_nn512(int trans, size_t T, size_t dh, double alpha_s, const double *X,
           const double *Y, size_t ld, int beta, double *C) {
  __m512d alpha = _mm512_set1_pd(alpha_s);
  size_t c0 = 0, s = trans ? 1 : T;
  /* sixteen columns at a time where there are: eight chains share each
   * broadcast of X (the same operations per element as below) */
  for (; c0 + 16 <= dh && T % 4 == 0; c0 += 16)
    for (size_t i = 0; i < T; i += 4) {
      __m512d a[8];
      for (int r = 0; r < 8; r++) a[r] = _mm512_setzero_pd();
      size_t k0 = trans ? i : 0, k1 = trans ? T : i + 4;
      for (size_t k = k0; k < k1; k++) {
        __m512d y0 = _mm512_loadu_pd(Y + k * ld + c0),
                y1 = _mm512_loadu_pd(Y + k * ld + c0 + 8);
        const double *x0 = trans ? X + k * T + i : X + i * T + k;
        for (int r = 0; r < 4; r++) {
          __m512d xr = _mm512_set1_pd(x0[r * s]);
          a[2 * r] = _mm512_fmadd_pd(xr, y0, a[2 * r]);
          a[2 * r + 1] = _mm512_fmadd_pd(xr, y1, a[2 * r + 1]);
        }
      }
      for (int r = 0; r < 4; r++) {
        attn_store(C + (i + r) * ld + c0, 0xff, a[2 * r], alpha, beta);
        attn_store(C + (i + r) * ld + c0 + 8, 0xff, a[2 * r + 1], alpha, beta);
      }
    }
  for (; c0 < dh; c0 += 8) {
    __mmask8 m = TF_MASK(dh - c0);
    size_t i = 0;
    for (; i + 4 <= T; i += 4) {
      __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
      size_t k0 = trans ? i : 0, k1 = trans ? T : i + 4;
      for (size_t k = k0; k < k1; k++) {
        __m512d y = _mm512_maskz_loadu_pd(m, Y + k * ld + c0);
        const double *x0 = trans ? X + k * T + i : X + i * T + k;
        a0 = _mm512_fmadd_pd(_mm512_set1_pd(x0[0]), y, a0);
        a1 = _mm512_fmadd_pd(_mm512_set1_pd(x0[s]), y, a1);
        a2 = _mm512_fmadd_pd(_mm512_set1_pd(x0[2 * s]), y, a2);
        a3 = _mm512_fmadd_pd(_mm512_set1_pd(x0[3 * s]), y, a3);
      }
      attn_store(C + i * ld + c0, m, a0, alpha, beta);
      attn_store(C + (i + 1) * ld + c0, m, a1, alpha, beta);
      attn_store(C + (i + 2) * ld + c0, m, a2, alpha, beta);
      attn_store(C + (i + 3) * ld + c0, m, a3, alpha, beta);
    }
    for (; i < T; i++) {
      __m512d a0 = _mm512_setzero_pd();
      size_t k0 = trans ? i : 0, k1 = trans ? T : i + 1;
      for (size_t k = k0; k < k1; k++)
        a0 =
            _mm512_fmadd_pd(_mm512_set1_pd(trans ? X[k * T + i] : X[i * T + k]),
                            _mm512_maskz_loadu_pd(m, Y + k * ld + c0), a0);
      attn_store(C + i * ld + c0, m, a0, alpha, beta);
    }
  }
}

/* The transpose that attn_nt512 reads (dh · T doubles at most). */
#define TF_ATTN_YT 8192
#else
#define TF_ATTN_AVX512 0
#endif

static int attn_fast = 1;

void ph_tf_attn_allow_fast(int allow) {
  attn_fast = allow;
}

static void causal_gemm(causal_kind kind, size_t T, size_t dh, double alpha,
                        const double *X, const double *Y, size_t ld,
                        double beta, double *C) {
#if TF_ATTN_AVX512
  if (attn_fast && ph_vmath_avx512() && (beta == 0.0 || beta == 1.0) &&
      T % 2 == 0 && dh * T <= TF_ATTN_YT) {
    if (kind == CAUSAL_NT) {
      double Yt[TF_ATTN_YT];
      for (size_t j = 0; j < T; j++)
        for (size_t k = 0; k < dh; k++) Yt[k * T + j] = Y[j * ld + k];
      attn_nt512(T, dh, alpha, X, Yt, ld, beta == 1.0, C);
    } else
      attn_nn512(kind == CAUSAL_TN, T, dh, alpha, X, Y, ld, beta == 1.0, C);
    return;
  }
#endif
  for (size_t r0 = 0; r0 < T; r0 += TF_ATTN_RB) {
    size_t r1 = T - r0 < TF_ATTN_RB ? T : r0 + TF_ATTN_RB;
    int m = (int)(r1 - r0);
    if (kind == CAUSAL_NT)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, (int)r1, (int)dh,
                  alpha, X + r0 * ld, (int)ld, Y, (int)ld, beta, C + r0 * T,
                  (int)T);
    else if (kind == CAUSAL_NN)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, (int)dh,
                  (int)r1, alpha, X + r0 * T, (int)T, Y, (int)ld, beta,
                  C + r0 * ld, (int)ld);
    else
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, (int)dh,
                  (int)(T - r0), alpha, X + r0 * T + r0, (int)T, Y + r0 * ld,
                  (int)ld, beta, C + r0 * ld, (int)ld);
  }
}

/* Masked row softmax of s (T, T) in place: row i over j ≤ i, zero above. */
static void causal_softmax(double *s, size_t T) {
  for (size_t i = 0; i < T; i++) {
    double *row = s + i * T;
    double mx = row[0];
    for (size_t j = 1; j <= i; j++)
      if (row[j] > mx) mx = row[j];
    double z = 0.0;
    for (size_t j = 0; j <= i; j++) row[j] -= mx;
    ph_vmath_exp(row, row, i + 1);
    for (size_t j = 0; j <= i; j++) z += row[j];
    double inv = 1.0 / z;
    for (size_t j = 0; j <= i; j++) row[j] *= inv;
    for (size_t j = i + 1; j < T; j++) row[j] = 0.0;
  }
}

void ph_tf_attn_forward(double *o, double *p, const double *q, const double *k,
                        const double *v, size_t B, size_t T, size_t d,
                        size_t nh) {
  size_t dh = d / nh;
  double sc = 1.0 / sqrt((double)dh);
  for (size_t b = 0; b < B; b++)
    for (size_t h = 0; h < nh; h++) {
      size_t off = b * T * d + h * dh;      /* head h of example b, ld = d */
      double *P = p + (b * nh + h) * T * T; /* (T, T) */
      causal_gemm(CAUSAL_NT, T, dh, sc, q + off, k + off, d, 0.0, P);
      causal_softmax(P, T);
      causal_gemm(CAUSAL_NN, T, dh, 1.0, P, v + off, d, 0.0, o + off);
    }
}

/* dV += Pᵀ dO; dP = dO Vᵀ; dS = P ⊙ (dP − rowsum(P ⊙ dP));
 * dQ += sc dS K; dK += sc dSᵀ Q. */
void ph_tf_attn_backward(double *dq, double *dk, double *dv, const double *dout,
                         const double *q, const double *k, const double *v,
                         const double *p, double *work, size_t B, size_t T,
                         size_t d, size_t nh) {
  size_t dh = d / nh;
  double sc = 1.0 / sqrt((double)dh);
  double *dS = work; /* (T, T) */
  for (size_t b = 0; b < B; b++)
    for (size_t h = 0; h < nh; h++) {
      size_t off = b * T * d + h * dh;
      const double *P = p + (b * nh + h) * T * T;
      if (dv)
        causal_gemm(CAUSAL_TN, T, dh, 1.0, P, dout + off, d, 1.0, dv + off);
      if (!dq && !dk) continue;
      causal_gemm(CAUSAL_NT, T, dh, 1.0, dout + off, v + off, d, 0.0, dS);
      for (size_t i = 0; i < T; i++) {
        double *row = dS + i * T;
        const double *pr = P + i * T;
        double c = 0.0;
        for (size_t j = 0; j <= i; j++) c += pr[j] * row[j];
        for (size_t j = 0; j <= i; j++) row[j] = pr[j] * (row[j] - c);
        for (size_t j = i + 1; j < T; j++) row[j] = 0.0;
      }
      if (dq) causal_gemm(CAUSAL_NN, T, dh, sc, dS, k + off, d, 1.0, dq + off);
      if (dk) causal_gemm(CAUSAL_TN, T, dh, sc, dS, q + off, d, 1.0, dk + off);
    }
}

/* Ṡ = sc (Q̇ Kᵀ + Q K̇ᵀ); Ṗ = P ⊙ (Ṡ − rowsum(P ⊙ Ṡ)); Ȯ = Ṗ V + P V̇. */
void ph_tf_attn_tangent_forward(double *o_t, double *p_t, const double *q,
                                const double *k, const double *v,
                                const double *p, const double *q_t,
                                const double *k_t, const double *v_t,
                                double *work, size_t B, size_t T, size_t d,
                                size_t nh) {
  (void)work;
  size_t dh = d / nh;
  double sc = 1.0 / sqrt((double)dh);
  for (size_t b = 0; b < B; b++)
    for (size_t h = 0; h < nh; h++) {
      size_t off = b * T * d + h * dh;
      const double *P = p + (b * nh + h) * T * T;
      double *Pt = p_t + (b * nh + h) * T * T; /* Ṡ, then Ṗ in place */
      causal_gemm(CAUSAL_NT, T, dh, sc, q_t + off, k + off, d, 0.0, Pt);
      causal_gemm(CAUSAL_NT, T, dh, sc, q + off, k_t + off, d, 1.0, Pt);
      for (size_t i = 0; i < T; i++) {
        double *row = Pt + i * T;
        const double *pr = P + i * T;
        double c = 0.0;
        for (size_t j = 0; j <= i; j++) c += pr[j] * row[j];
        for (size_t j = 0; j <= i; j++) row[j] = pr[j] * (row[j] - c);
        for (size_t j = i + 1; j < T; j++) row[j] = 0.0;
      }
      causal_gemm(CAUSAL_NN, T, dh, 1.0, Pt, v + off, d, 0.0, o_t + off);
      causal_gemm(CAUSAL_NN, T, dh, 1.0, P, v_t + off, d, 1.0, o_t + off);
    }
}

/* The R-operator of ph_tf_attn_backward:
 *   V̇' += Ṗᵀ dO + Pᵀ ḋO
 *   dP = dO Vᵀ, ḋP = ḋO Vᵀ + dO V̇ᵀ, c = rowsum(P ⊙ dP),
 *   ċ = rowsum(Ṗ ⊙ dP + P ⊙ ḋP)
 *   dS = P ⊙ (dP − c), ḋS = Ṗ ⊙ (dP − c) + P ⊙ (ḋP − ċ)
 *   Q̇' += sc (ḋS K + dS K̇), K̇' += sc (ḋSᵀ Q + dSᵀ Q̇). */
void ph_tf_attn_tangent_backward(
    double *dq_t, double *dk_t, double *dv_t, const double *dout,
    const double *dout_t, const double *q, const double *k, const double *v,
    const double *p, const double *q_t, const double *k_t, const double *v_t,
    const double *p_t, double *work, size_t B, size_t T, size_t d, size_t nh) {
  size_t dh = d / nh;
  double sc = 1.0 / sqrt((double)dh);
  double *dS = work;           /* (T, T) dP, then dS */
  double *dS_t = work + T * T; /* (T, T) ḋP, then ḋS */
  for (size_t b = 0; b < B; b++)
    for (size_t h = 0; h < nh; h++) {
      size_t off = b * T * d + h * dh;
      const double *P = p + (b * nh + h) * T * T;
      const double *Pt = p_t + (b * nh + h) * T * T;
      if (dv_t) {
        causal_gemm(CAUSAL_TN, T, dh, 1.0, Pt, dout + off, d, 1.0, dv_t + off);
        causal_gemm(CAUSAL_TN, T, dh, 1.0, P, dout_t + off, d, 1.0, dv_t + off);
      }
      if (!dq_t && !dk_t) continue;
      causal_gemm(CAUSAL_NT, T, dh, 1.0, dout + off, v + off, d, 0.0, dS);
      causal_gemm(CAUSAL_NT, T, dh, 1.0, dout_t + off, v + off, d, 0.0, dS_t);
      causal_gemm(CAUSAL_NT, T, dh, 1.0, dout + off, v_t + off, d, 1.0, dS_t);
      for (size_t i = 0; i < T; i++) {
        double *r = dS + i * T, *rt = dS_t + i * T;
        const double *pr = P + i * T, *ptr = Pt + i * T;
        double c = 0.0, ct = 0.0;
        for (size_t j = 0; j <= i; j++) {
          c += pr[j] * r[j];
          ct += ptr[j] * r[j] + pr[j] * rt[j];
        }
        for (size_t j = 0; j <= i; j++) {
          double dp = r[j] - c;
          rt[j] = ptr[j] * dp + pr[j] * (rt[j] - ct);
          r[j] = pr[j] * dp;
        }
        for (size_t j = i + 1; j < T; j++) r[j] = rt[j] = 0.0;
      }
      if (dq_t) {
        causal_gemm(CAUSAL_NN, T, dh, sc, dS_t, k + off, d, 1.0, dq_t + off);
        causal_gemm(CAUSAL_NN, T, dh, sc, dS, k_t + off, d, 1.0, dq_t + off);
      }
      if (dk_t) {
        causal_gemm(CAUSAL_TN, T, dh, sc, dS_t, q + off, d, 1.0, dk_t + off);
        causal_gemm(CAUSAL_TN, T, dh, sc, dS, q_t + off, d, 1.0, dk_t + off);
      }
    }
}

/* --- naive references: the same formulas, one scalar at a time ---------- */

static double dot_cols(const double *a, const double *b, size_t n) {
  double s = 0.0;
  for (size_t c = 0; c < n; c++) s += a[c] * b[c];
  return s;
}

void ph_tf_attn_forward_ref(double *o, double *p, const double *q,
                            const double *k, const double *v, size_t B,
                            size_t T, size_t d, size_t nh) {
  size_t dh = d / nh;
  double sc = 1.0 / sqrt((double)dh);
  for (size_t b = 0; b < B; b++)
    for (size_t h = 0; h < nh; h++) {
      double *P = p + (b * nh + h) * T * T;
      for (size_t i = 0; i < T; i++) {
        const double *qi = q + (b * T + i) * d + h * dh;
        double mx = -INFINITY;
        for (size_t j = 0; j <= i; j++) {
          P[i * T + j] = sc * dot_cols(qi, k + (b * T + j) * d + h * dh, dh);
          if (P[i * T + j] > mx) mx = P[i * T + j];
        }
        double z = 0.0;
        for (size_t j = 0; j <= i; j++) z += exp(P[i * T + j] - mx);
        for (size_t j = 0; j <= i; j++)
          P[i * T + j] = exp(P[i * T + j] - mx) / z;
        for (size_t j = i + 1; j < T; j++) P[i * T + j] = 0.0;
        double *oi = o + (b * T + i) * d + h * dh;
        for (size_t c = 0; c < dh; c++) {
          double s = 0.0;
          for (size_t j = 0; j <= i; j++)
            s += P[i * T + j] * v[(b * T + j) * d + h * dh + c];
          oi[c] = s;
        }
      }
    }
}

void ph_tf_attn_backward_ref(double *dq, double *dk, double *dv,
                             const double *dout, const double *q,
                             const double *k, const double *v, const double *p,
                             double *work, size_t B, size_t T, size_t d,
                             size_t nh) {
  size_t dh = d / nh;
  double sc = 1.0 / sqrt((double)dh);
  double *dP = work; /* (T) one row */
  for (size_t b = 0; b < B; b++)
    for (size_t h = 0; h < nh; h++) {
      const double *P = p + (b * nh + h) * T * T;
      for (size_t i = 0; i < T; i++) {
        size_t oi = (b * T + i) * d + h * dh;
        double c = 0.0;
        for (size_t j = 0; j <= i; j++) {
          size_t oj = (b * T + j) * d + h * dh;
          dP[j] = dot_cols(dout + oi, v + oj, dh);
          c += P[i * T + j] * dP[j];
          if (dv)
            for (size_t e = 0; e < dh; e++)
              dv[oj + e] += P[i * T + j] * dout[oi + e];
        }
        for (size_t j = 0; j <= i; j++) {
          size_t oj = (b * T + j) * d + h * dh;
          double ds = sc * P[i * T + j] * (dP[j] - c);
          for (size_t e = 0; e < dh; e++) {
            if (dq) dq[oi + e] += ds * k[oj + e];
            if (dk) dk[oj + e] += ds * q[oi + e];
          }
        }
      }
    }
}

void ph_tf_attn_tangent_forward_ref(double *o_t, double *p_t, const double *q,
                                    const double *k, const double *v,
                                    const double *p, const double *q_t,
                                    const double *k_t, const double *v_t,
                                    double *work, size_t B, size_t T, size_t d,
                                    size_t nh) {
  (void)work;
  size_t dh = d / nh;
  double sc = 1.0 / sqrt((double)dh);
  for (size_t b = 0; b < B; b++)
    for (size_t h = 0; h < nh; h++) {
      const double *P = p + (b * nh + h) * T * T;
      double *Pt = p_t + (b * nh + h) * T * T;
      for (size_t i = 0; i < T; i++) {
        size_t oi = (b * T + i) * d + h * dh;
        double c = 0.0;
        for (size_t j = 0; j <= i; j++) {
          size_t oj = (b * T + j) * d + h * dh;
          double st = sc * (dot_cols(q_t + oi, k + oj, dh) +
                            dot_cols(q + oi, k_t + oj, dh));
          Pt[i * T + j] = st;
          c += P[i * T + j] * st;
        }
        for (size_t j = 0; j <= i; j++)
          Pt[i * T + j] = P[i * T + j] * (Pt[i * T + j] - c);
        for (size_t j = i + 1; j < T; j++) Pt[i * T + j] = 0.0;
        for (size_t e = 0; e < dh; e++) {
          double s = 0.0;
          for (size_t j = 0; j <= i; j++) {
            size_t oj = (b * T + j) * d + h * dh;
            s += Pt[i * T + j] * v[oj + e] + P[i * T + j] * v_t[oj + e];
          }
          o_t[oi + e] = s;
        }
      }
    }
}

void ph_tf_attn_tangent_backward_ref(
    double *dq_t, double *dk_t, double *dv_t, const double *dout,
    const double *dout_t, const double *q, const double *k, const double *v,
    const double *p, const double *q_t, const double *k_t, const double *v_t,
    const double *p_t, double *work, size_t B, size_t T, size_t d, size_t nh) {
  size_t dh = d / nh;
  double sc = 1.0 / sqrt((double)dh);
  double *dP = work, *dP_t = work + T; /* (T) rows */
  for (size_t b = 0; b < B; b++)
    for (size_t h = 0; h < nh; h++) {
      const double *P = p + (b * nh + h) * T * T;
      const double *Pt = p_t + (b * nh + h) * T * T;
      for (size_t i = 0; i < T; i++) {
        size_t oi = (b * T + i) * d + h * dh;
        double c = 0.0, ct = 0.0;
        for (size_t j = 0; j <= i; j++) {
          size_t oj = (b * T + j) * d + h * dh;
          double pij = P[i * T + j], ptij = Pt[i * T + j];
          dP[j] = dot_cols(dout + oi, v + oj, dh);
          dP_t[j] = dot_cols(dout_t + oi, v + oj, dh) +
                    dot_cols(dout + oi, v_t + oj, dh);
          c += pij * dP[j];
          ct += ptij * dP[j] + pij * dP_t[j];
          if (dv_t)
            for (size_t e = 0; e < dh; e++)
              dv_t[oj + e] += ptij * dout[oi + e] + pij * dout_t[oi + e];
        }
        for (size_t j = 0; j <= i; j++) {
          size_t oj = (b * T + j) * d + h * dh;
          double pij = P[i * T + j], ptij = Pt[i * T + j];
          double ds = sc * pij * (dP[j] - c);
          double ds_t = sc * (ptij * (dP[j] - c) + pij * (dP_t[j] - ct));
          for (size_t e = 0; e < dh; e++) {
            if (dq_t) dq_t[oi + e] += ds_t * k[oj + e] + ds * k_t[oj + e];
            if (dk_t) dk_t[oj + e] += ds_t * q[oi + e] + ds * q_t[oi + e];
          }
        }
      }
    }
}

/* --------------------------------------------------------- cross-entropy */

size_t ph_nn_xent_count(const int32_t *y, size_t N) {
  size_t n = 0;
  for (size_t i = 0; i < N; i++) n += y[i] >= 0;
  return n;
}

size_t ph_nn_xent_correct(const double *z, const int32_t *y, size_t N,
                          size_t C) {
  size_t n = 0;
  for (size_t i = 0; i < N; i++) {
    if (y[i] < 0) continue;
    const double *zr = z + i * C;
    size_t best = 0;
    for (size_t c = 1; c < C; c++)
      if (zr[c] > zr[best]) best = c;
    n += best == (size_t)y[i];
  }
  return n;
}

double ph_nn_xent_forward(double *p, const double *z, const int32_t *y,
                          size_t N, size_t C, double scale) {
  double loss = 0.0, lse[256];
  for (size_t r0 = 0; r0 < N; r0 += 256) {
    size_t nr = N - r0 < 256 ? N - r0 : 256;
    ph_vmath_softmax_rows(z + r0 * C, p + r0 * C, lse, nr, C, C);
    /* −log p_y from the logits (log-sum-exp) keeps tiny p_y accurate. */
    for (size_t r = 0; r < nr; r++)
      if (y[r0 + r] >= 0) loss += lse[r] - z[(r0 + r) * C + (size_t)y[r0 + r]];
  }
  return scale * loss;
}

void ph_nn_xent_backward(double *dz, double dloss, const double *p,
                         const int32_t *y, size_t N, size_t C, double scale) {
  double a = dloss * scale;
  for (size_t i = 0; i < N; i++) {
    if (y[i] < 0) continue;
    const double *pr = p + i * C;
    double *dr = dz + i * C;
    for (size_t c = 0; c < C; c++) dr[c] += a * pr[c];
    dr[y[i]] -= a;
  }
}

double ph_nn_xent_tangent_forward(const double *p, const double *z_t,
                                  const int32_t *y, size_t N, size_t C,
                                  double scale) {
  double s = 0.0;
  for (size_t i = 0; i < N; i++) {
    if (y[i] < 0) continue;
    const double *pr = p + i * C, *zt = z_t + i * C;
    s += dot_cols(pr, zt, C) - zt[y[i]];
  }
  return scale * s;
}

void ph_nn_xent_tangent_backward(double *dz_t, double dloss, double dloss_t,
                                 const double *p, const double *z_t,
                                 const int32_t *y, size_t N, size_t C,
                                 double scale) {
  double a = dloss * scale, at = dloss_t * scale;
  for (size_t i = 0; i < N; i++) {
    if (y[i] < 0) continue;
    const double *pr = p + i * C, *zt = z_t + i * C;
    double *dr = dz_t + i * C;
    double pz = dot_cols(pr, zt, C);
    for (size_t c = 0; c < C; c++)
      dr[c] += at * pr[c] + a * pr[c] * (zt[c] - pz);
    dr[y[i]] -= at;
  }
}
