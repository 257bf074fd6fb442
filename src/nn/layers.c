/* layers.c: forward, backward, tangent-forward and tangent-backward of the
 * sequential engine's layers (dense, elementwise activations, conv2d via
 * im2col + GEMM, max and average pooling). The tangent passes implement
 * Pearlmutter's R-operator, so Hv is exact to rounding; derivations in
 * docs/autodiff.md. Reference: Pearlmutter, "Fast exact multiplication by the
 * Hessian", Neural Computation 1994; Schraudolph 2002 for Gauss-Newton. */
#include <math.h>
#include <string.h>

#include "nn/dense.h"
#include "nn/seq_int.h"
#include "nn/vmath.h"

void nn_act_eval(nn_act a, double x, double *f, double *d1, double *d2) {
  switch (a) {
  case ACT_IDENTITY:
    *f = x;
    *d1 = 1;
    *d2 = 0;
    return;
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
  case ACT_GELU: { /* x Φ(x), Φ through erfc (exact for x ≪ 0; vmath.h) */
    double phi = 0.5 * erfc(-x * M_SQRT1_2);
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

void nn_act_apply(nn_act a, size_t n, const double *x, double *f, double *d1,
                  double *d2) {
  switch (a) {
  case ACT_TANH: ph_vmath_tanh_d(x, f, d1, d2, n); return;
  case ACT_SIGMOID: ph_vmath_sigmoid_d(x, f, d1, d2, n); return;
  case ACT_SOFTPLUS: ph_vmath_softplus_d(x, f, d1, d2, n); return;
  case ACT_GELU: ph_vmath_gelu_d(x, f, d1, d2, n); return;
  case ACT_RELU:
    for (size_t i = 0; i < n; i++) {
      if (f) f[i] = x[i] > 0 ? x[i] : 0.0;
      if (d1) d1[i] = x[i] > 0 ? 1.0 : 0.0;
      if (d2) d2[i] = 0.0; /* the kink's delta is taken as 0 */
    }
    return;
  case ACT_IDENTITY:
    if (f && f != x) memcpy(f, x, n * sizeof *f);
    for (size_t i = 0; i < n; i++) {
      if (d1) d1[i] = 1.0;
      if (d2) d2[i] = 0.0;
    }
    return;
  }
}

void nn_act_second_order(nn_act a, size_t n, const double *x, const double *u,
                         const double *w, const double *t, double *out) {
  double g[256], h[256];
  for (size_t o = 0; o < n; o += 256) {
    size_t m = n - o < 256 ? n - o : 256;
    nn_act_apply(a, m, x + o, NULL, g, h);
    for (size_t i = 0; i < m; i++)
      out[o + i] = u[o + i] * g[i] + w[o + i] * h[i] * t[o + i];
  }
}

/* The elementwise loops of the adjoint passes (σ' times an adjoint, and
 * the second-order term), each compiled twice: for AVX2 (VEX-encoded,
 * four lanes) and for the x86-64 baseline (SSE2, two lanes), chosen at run
 * time (ph_vmath_avx2, vmath's switch). The build has no -march, so without
 * this they ran two lanes wide; in isolation the AVX2 loop takes half the time
 * (0.30 against 0.65 cycles per element on L2-resident data). Each element is
 * the same expression in the same order in both (target "avx2" without
 * "fma", so nothing is contracted into a fused multiply-add): the same
 * bits. ELEMWISE(name, params, args, body) defines name_avx2, name_base and
 * the dispatcher name(n, params), whose body computes out[i]. */
#if defined(__x86_64__) || defined(__i386__)
#define ELEMWISE(name, params, args, body)                                     \
  __attribute__((target("avx2"))) static void name##_avx2(size_t n, params) {  \
    for (size_t i = 0; i < n; i++) body;                                       \
  }                                                                            \
  static void name##_base(size_t n, params) {                                  \
    for (size_t i = 0; i < n; i++) body;                                       \
  }                                                                            \
  static void name(size_t n, params) {                                         \
    if (ph_vmath_avx2())                                                       \
      name##_avx2(n, args);                                                    \
    else                                                                       \
      name##_base(n, args);                                                    \
  }
#else
#define ELEMWISE(name, params, args, body)                                     \
  static void name(size_t n, params) {                                         \
    for (size_t i = 0; i < n; i++) body;                                       \
  }
#endif

#define PH_P2(a, b) a, b
#define PH_P3(a, b, c) a, b, c
#define PH_P5(a, b, c, d, e) a, b, c, d, e

/* u ⊙ σ' from σ (tanh, sigmoid; nn_act_d1_from_output), from a cached σ',
 * and ReLU's mask from x: u[i] is read whether or not x[i] > 0, so the
 * select vectorises instead of a branch that mispredicts on half of a
 * layer's units; the result is the same */
ELEMWISE(scale_tanh, PH_P3(const double *y, const double *u, double *out),
         PH_P3(y, u, out),
         out[i] = u[i] * nn_act_d1_from_output(ACT_TANH, y[i]))
ELEMWISE(scale_sigmoid, PH_P3(const double *y, const double *u, double *out),
         PH_P3(y, u, out),
         out[i] = u[i] * nn_act_d1_from_output(ACT_SIGMOID, y[i]))
ELEMWISE(scale_d1, PH_P3(const double *d1, const double *u, double *out),
         PH_P3(d1, u, out), out[i] = u[i] * d1[i])
ELEMWISE(scale_relu, PH_P3(const double *x, const double *u, double *out),
         PH_P3(x, u, out), {
           double ui = u[i];
           out[i] = x[i] > 0 ? ui : 0.0;
         })
/* ReLU's forward, y = x where x > 0, else +0 (also for -0 and NaN): the
 * build has no -march, so the plain loop ran two lanes at a time (SSE2),
 * 3.8 % of the relu MLP's batch-64 gradient in a perf profile
 * (docs/performance-history.md, ninth session); the AVX2 build runs four. */
ELEMWISE(relu_values, PH_P2(const double *x, double *y), PH_P2(x, y),
         y[i] = x[i] > 0 ? x[i] : 0.0)
/* The same products, row by row over B rows of w, with each row also
 * added into db (db[j] += out[i·w + j], rows in order): the σ' pass of an
 * activation and the bias adjoint of the dense layer below it in one pass
 * (nn_act_scale_rows). Each out element is the expression above, and db
 * gets the same terms in the same order as rows_sum_acc (dense.c) would
 * add them afterwards, so the same bits; the bias sums no longer read the
 * adjoint a second time. ROWS(name, params, args, body) builds name_avx2,
 * name_base and name(B, w, db, params) as ELEMWISE does; body computes v
 * from row pointers yr, ur (j the column). */
#define ROWS_LOOP(body)                                                        \
  for (size_t i = 0; i < B; i++) {                                             \
    const double *yr = y + i * w, *ur = u + i * w;                             \
    double *o = out + i * w;                                                   \
    for (size_t j = 0; j < w; j++) {                                           \
      double v = body;                                                         \
      o[j] = v;                                                                \
      db[j] += v;                                                              \
    }                                                                          \
  }
#if defined(__x86_64__) || defined(__i386__)
#define ROWS(name, params, args, body)                                         \
  __attribute__((target("avx2"))) static void name##_avx2(                     \
      size_t B, size_t w, double *restrict db, params) {                       \
    ROWS_LOOP(body)                                                            \
  }                                                                            \
  static void name##_base(size_t B, size_t w, double *restrict db, params) {   \
    ROWS_LOOP(body)                                                            \
  }                                                                            \
  static void name(size_t B, size_t w, double *db, params) {                   \
    if (ph_vmath_avx2())                                                       \
      name##_avx2(B, w, db, args);                                             \
    else                                                                       \
      name##_base(B, w, db, args);                                             \
  }
#else
#define ROWS(name, params, args, body)                                         \
  static void name(size_t B, size_t w, double *restrict db, params) {          \
    ROWS_LOOP(body)                                                            \
  }
#endif
ROWS(rows_tanh, PH_P3(const double *y, const double *u, double *out),
     PH_P3(y, u, out), ur[j] * nn_act_d1_from_output(ACT_TANH, yr[j]))
ROWS(rows_sigmoid, PH_P3(const double *y, const double *u, double *out),
     PH_P3(y, u, out), ur[j] * nn_act_d1_from_output(ACT_SIGMOID, yr[j]))
ROWS(rows_relu, PH_P3(const double *y, const double *u, double *out),
     PH_P3(y, u, out), yr[j] > 0 ? ur[j] : 0.0)

int nn_act_scale_rows_ok(const nn_layer *l) {
  return l->kind == NN_ACT &&
         (l->act == ACT_RELU || nn_act_has_d1_from_output(l->act));
}

void nn_act_scale_rows(const nn_layer *l, size_t B, const double *x,
                       const double *y, const double *u, double *out,
                       double *db) {
  size_t w = l->in_size;
  if (l->act == ACT_RELU)
    rows_relu(B, w, db, x, u, out);
  else if (l->act == ACT_TANH)
    rows_tanh(B, w, db, y, u, out);
  else
    rows_sigmoid(B, w, db, y, u, out);
}

/* u ⊙ σ' + w ⊙ σ'' ⊙ t from σ (nn_act_second_order_cached) */
#define SECOND_ORDER_BODY(A)                                                   \
  {                                                                            \
    double g = nn_act_d1_from_output(A, y[i]);                                 \
    double h = nn_act_d2_from_output(A, y[i], g);                              \
    out[i] = u[i] * g + w[i] * h * t[i];                                       \
  }
ELEMWISE(second_tanh,
         PH_P5(const double *y, const double *u, const double *w,
               const double *t, double *out),
         PH_P5(y, u, w, t, out), SECOND_ORDER_BODY(ACT_TANH))
ELEMWISE(second_sigmoid,
         PH_P5(const double *y, const double *u, const double *w,
               const double *t, double *out),
         PH_P5(y, u, w, t, out), SECOND_ORDER_BODY(ACT_SIGMOID))

int nn_act_second_order_cached(nn_act a, size_t n, const double *y,
                               const double *u, const double *w,
                               const double *t, double *out) {
  if (!y || !nn_act_has_d1_from_output(a)) return 0;
  if (a == ACT_TANH)
    second_tanh(n, y, u, w, t, out);
  else
    second_sigmoid(n, y, u, w, t, out);
  return 1;
}

/* y = σ(x) and, when d1 is not NULL, σ'(x). ReLU's σ' is read from x later,
 * tanh's and sigmoid's from y (nn_act_d1_from_output): these forwards
 * write y only, so an evaluation costs no σ' and a gradient reads y
 * where it would read σ'. */
static void act_forward(nn_act a, size_t n, const double *x, double *y,
                        double *d1) {
  if (a == ACT_RELU) {
    relu_values(n, x, y);
    return;
  }
  nn_act_apply(a, n, x, y, nn_act_has_d1_from_output(a) ? NULL : d1, NULL);
}

void nn_act_values(nn_act a, size_t n, const double *x, double *y) {
  act_forward(a, n, x, y, NULL);
}

void nn_act_scale(const nn_layer *l, size_t n, const double *x, const double *y,
                  const double *u, double *out) {
  if (l->act == ACT_RELU) {
    scale_relu(n, x, u, out);
    return;
  }
  if (y && nn_act_has_d1_from_output(l->act)) {
    if (l->act == ACT_TANH)
      scale_tanh(n, y, u, out);
    else
      scale_sigmoid(n, y, u, out);
    return;
  }
  if (l->d1) {
    scale_d1(n, l->d1, u, out);
    return;
  }
  double g[256];
  for (size_t o = 0; o < n; o += 256) {
    size_t m = n - o < 256 ? n - o : 256;
    nn_act_apply(l->act, m, x + o, NULL, g, NULL);
    for (size_t i = 0; i < m; i++) out[o + i] = u[o + i] * g[i];
  }
}

/* Output columns oj in [lo, hi) whose input column oj·stride + kj − pad
 * lies inside [0, wi) (the same for rows). */
static void valid_range(size_t n_out, size_t n_in, size_t stride, size_t kj,
                        size_t pad, size_t *lo, size_t *hi) {
  long a = (long)pad - (long)kj, b = (long)n_in + (long)pad - (long)kj;
  long s = (long)stride;
  long l0 = a <= 0 ? 0 : (a + s - 1) / s, h0 = b <= 0 ? 0 : (b + s - 1) / s;
  if (h0 > (long)n_out) h0 = (long)n_out;
  if (l0 > h0) l0 = h0;
  *lo = (size_t)l0;
  *hi = (size_t)h0;
}

/* ---- im2col for one example: x (c, h, w) → cols (c·k·k, ho·wo) ----
 * Row (c, ki, kj) of cols holds x[c, oi·s + ki − p, oj·s + kj − p] at column
 * oi·wo + oj, 0 in the padding. The valid ranges are computed once per row
 * so the inner loop has no branches (a memcpy for stride 1). */
void nn_im2col(const nn_layer *l, const double *x, double *cols) {
  nn_im2col_ld(l, x, cols, l->ho * l->wo);
}

/* Stride 1 with wo = wi ("same" padding, ho = hi too): flattened, row
 * (c, ki, kj) is channel c shifted by (ki − p)·wi + kj − p, so the valid
 * part is one copy from the first valid element to the last; the elements
 * it wraps across the borders are then zeroed. One memcpy per row instead
 * of one per image row: the per-row calls on 14- and 28-wide images were a
 * third of the CNN gradient (docs/performance-history.md). Only copies, so the
 * columns are the same bits as the general loop's. */
static void im2col_same(const nn_layer *l, const double *x, double *cols,
                        size_t ld) {
  const size_t ho = l->ho, wo = l->wo, k = l->k, hw = ho * wo;
  for (size_t c = 0; c < l->c_in; c++)
    for (size_t ki = 0; ki < k; ki++) {
      size_t ilo, ihi;
      valid_range(ho, l->hi, 1, ki, l->pad, &ilo, &ihi);
      for (size_t kj = 0; kj < k; kj++) {
        double *row = cols + ((c * k + ki) * k + kj) * ld;
        size_t jlo, jhi;
        valid_range(wo, l->wi, 1, kj, l->pad, &jlo, &jhi);
        if (ilo >= ihi || jlo >= jhi) {
          memset(row, 0, hw * sizeof *row);
          continue;
        }
        size_t a = ilo * wo + jlo, z = (ihi - 1) * wo + jhi;
        /* x index of column q: q + (ki − p)·wi + kj − p, inside channel c
         * for every q in [a, z) (a and z − 1 are valid positions) */
        const double *src = x + c * l->hi * l->wi + a + ki * l->wi + kj -
                            l->pad * l->wi - l->pad;
        memset(row, 0, a * sizeof *row);
        memcpy(row + a, src, (z - a) * sizeof *row);
        memset(row + z, 0, (hw - z) * sizeof *row);
        for (size_t oi = ilo; oi < ihi; oi++) {
          double *r = row + oi * wo;
          for (size_t j = 0; j < jlo; j++) r[j] = 0.0;
          for (size_t j = jhi; j < wo; j++) r[j] = 0.0;
        }
      }
    }
}

/* The same with rows ld apart (ld ≥ ho·wo; batched columns). */
void nn_im2col_ld(const nn_layer *l, const double *x, double *cols, size_t ld) {
  size_t s = l->stride;
  if (s == 1 && l->wo == l->wi) {
    im2col_same(l, x, cols, ld);
    return;
  }
  for (size_t c = 0; c < l->c_in; c++)
    for (size_t ki = 0; ki < l->k; ki++) {
      size_t ilo, ihi;
      valid_range(l->ho, l->hi, s, ki, l->pad, &ilo, &ihi);
      for (size_t kj = 0; kj < l->k; kj++) {
        double *row = cols + ((c * l->k + ki) * l->k + kj) * ld;
        size_t jlo, jhi;
        valid_range(l->wo, l->wi, s, kj, l->pad, &jlo, &jhi);
        memset(row, 0, ilo * l->wo * sizeof *row);
        for (size_t oi = ilo; oi < ihi; oi++) {
          double *r = row + oi * l->wo;
          const double *xr = x + (c * l->hi + oi * s + ki - l->pad) * l->wi;
          memset(r, 0, jlo * sizeof *r);
          if (s == 1)
            memcpy(r + jlo, xr + jlo + kj - l->pad, (jhi - jlo) * sizeof *r);
          else
            for (size_t oj = jlo; oj < jhi; oj++)
              r[oj] = xr[oj * s + kj - l->pad];
          memset(r + jhi, 0, (l->wo - jhi) * sizeof *r);
        }
        memset(row + ihi * l->wo, 0, (l->ho - ihi) * l->wo * sizeof *row);
      }
    }
}

/* Adjoint of im2col: accumulate cols back into x (c, h, w). */
void nn_col2im(const nn_layer *l, const double *cols, double *x) {
  nn_col2im_ld(l, cols, x, l->ho * l->wo);
}

/* The same with rows ld apart (a chunk's columns side by side). */
void nn_col2im_ld(const nn_layer *l, const double *cols, double *x, size_t ld) {
  size_t s = l->stride;
  for (size_t c = 0; c < l->c_in; c++)
    for (size_t ki = 0; ki < l->k; ki++) {
      size_t ilo, ihi;
      valid_range(l->ho, l->hi, s, ki, l->pad, &ilo, &ihi);
      for (size_t kj = 0; kj < l->k; kj++) {
        const double *row = cols + ((c * l->k + ki) * l->k + kj) * ld;
        size_t jlo, jhi;
        valid_range(l->wo, l->wi, s, kj, l->pad, &jlo, &jhi);
        for (size_t oi = ilo; oi < ihi; oi++) {
          const double *r = row + oi * l->wo;
          double *xr = x + (c * l->hi + oi * s + ki - l->pad) * l->wi;
          for (size_t oj = jlo; oj < jhi; oj++)
            xr[oj * s + kj - l->pad] += r[oj];
        }
      }
    }
}

/* Stride 1 with wo = wi: the adjoint of im2col_same. Row (c, ki, kj) adds
 * into channel c shifted by (ki − p)·wi + kj − p, so its valid part is one
 * loop over a flattened range (vectorised) instead of one short loop per
 * image row; the entries of that range that wrap across the borders are
 * first set to 0 in cols (which is why cols is not const: a scratch of
 * column adjoints). Each x entry receives the same terms in the same order
 * (rows in (c, ki, kj) order), and the added zeros change nothing: an
 * accumulated x entry starts at +0 and is never −0 (a sum is −0 only when
 * both terms are), so x + 0 = x. The same bits as nn_col2im_ld. */
void nn_col2im_same_ld(const nn_layer *l, double *cols, double *x, size_t ld) {
  const size_t ho = l->ho, wo = l->wo, k = l->k, wi = l->wi;
  for (size_t c = 0; c < l->c_in; c++)
    for (size_t ki = 0; ki < k; ki++) {
      size_t ilo, ihi;
      valid_range(ho, l->hi, 1, ki, l->pad, &ilo, &ihi);
      for (size_t kj = 0; kj < k; kj++) {
        double *row = cols + ((c * k + ki) * k + kj) * ld;
        size_t jlo, jhi;
        valid_range(wo, wi, 1, kj, l->pad, &jlo, &jhi);
        if (ilo >= ihi || jlo >= jhi) continue;
        size_t a = ilo * wo + jlo, z = (ihi - 1) * wo + jhi;
        for (size_t oi = ilo; oi < ihi; oi++) {
          double *r = row + oi * wo;
          for (size_t j = 0; j < jlo; j++) r[j] = 0.0;
          for (size_t j = jhi; j < wo; j++) r[j] = 0.0;
        }
        double *dst =
            x + c * l->hi * wi + a + ki * wi + kj - l->pad * wi - l->pad;
        const double *src = row + a;
        for (size_t q = 0; q < z - a; q++) dst[q] += src[q];
      }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

/* 2×2 ReLU max pooling of a plane of x + bias (rows ld apart, wo ≥ 4
 * windows to a row), four windows at a time (AVX2): the scalar loop's
 * operations lane by lane (the add, the ReLU as x > 0 ? x : +0, and the
 * strictly-greater selects in the window's order), so the same bits and
 * the same first-maximum argmax; GCC did not vectorise the scalar loop's
 * stride-2 loads. A row's last windows are the four ending it, again
 * (rewriting some with the same values). */
__attribute__((target("avx2"))) static void
relu_pool2_plane_avx2(const double *x, size_t ld, double bias, size_t wi,
                      size_t ho, size_t wo, size_t abase, double *y,
                      size_t *a) {
  const __m256d b = _mm256_set1_pd(bias), z = _mm256_setzero_pd();
  const __m256i one = _mm256_set1_epi64x(1),
                lane = _mm256_setr_epi64x(0, 2, 4, 6);
  for (size_t oi = 0; oi < ho; oi++) {
    const double *x0 = x + 2 * oi * ld, *x1 = x0 + ld;
    const long long r0 = (long long)(abase + 2 * oi * wi);
    for (size_t o = 0;; o += 4) {
      size_t oj = o + 4 <= wo ? o : wo - 4;
      __m256d p = _mm256_loadu_pd(x0 + 2 * oj),
              q = _mm256_loadu_pd(x0 + 2 * oj + 4),
              r = _mm256_loadu_pd(x1 + 2 * oj),
              s = _mm256_loadu_pd(x1 + 2 * oj + 4);
      /* even and odd entries of each row, windows in order */
      __m256d v0 = _mm256_permute4x64_pd(_mm256_unpacklo_pd(p, q), 0xd8),
              v1 = _mm256_permute4x64_pd(_mm256_unpackhi_pd(p, q), 0xd8),
              v2 = _mm256_permute4x64_pd(_mm256_unpacklo_pd(r, s), 0xd8),
              v3 = _mm256_permute4x64_pd(_mm256_unpackhi_pd(r, s), 0xd8);
      v0 = _mm256_add_pd(v0, b);
      v1 = _mm256_add_pd(v1, b);
      v2 = _mm256_add_pd(v2, b);
      v3 = _mm256_add_pd(v3, b);
      v0 = _mm256_and_pd(_mm256_cmp_pd(v0, z, _CMP_GT_OQ), v0);
      v1 = _mm256_and_pd(_mm256_cmp_pd(v1, z, _CMP_GT_OQ), v1);
      v2 = _mm256_and_pd(_mm256_cmp_pd(v2, z, _CMP_GT_OQ), v2);
      v3 = _mm256_and_pd(_mm256_cmp_pd(v3, z, _CMP_GT_OQ), v3);
      /* indices of each window's four entries */
      __m256i j0 = _mm256_add_epi64(_mm256_set1_epi64x(r0 + 2 * (long long)oj),
                                    lane),
              j2 = _mm256_add_epi64(j0, _mm256_set1_epi64x((long long)wi));
      __m256d i0 = _mm256_castsi256_pd(j0),
              i1 = _mm256_castsi256_pd(_mm256_add_epi64(j0, one)),
              i2 = _mm256_castsi256_pd(j2),
              i3 = _mm256_castsi256_pd(_mm256_add_epi64(j2, one));
      __m256d best = v0, arg = i0, g;
      g = _mm256_cmp_pd(v1, best, _CMP_GT_OQ);
      arg = _mm256_blendv_pd(arg, i1, g);
      best = _mm256_blendv_pd(best, v1, g);
      g = _mm256_cmp_pd(v2, best, _CMP_GT_OQ);
      arg = _mm256_blendv_pd(arg, i2, g);
      best = _mm256_blendv_pd(best, v2, g);
      g = _mm256_cmp_pd(v3, best, _CMP_GT_OQ);
      arg = _mm256_blendv_pd(arg, i3, g);
      best = _mm256_blendv_pd(best, v3, g);
      _mm256_storeu_pd(y + oi * wo + oj, best);
      _mm256_storeu_si256((__m256i *)(a + oi * wo + oj),
                          _mm256_castpd_si256(arg));
      if (oj + 4 >= wo) break;
    }
  }
}
#endif

/* Max pooling of one channel plane (rows ld apart) with size = stride = k: y =
 * max of each window, a = abase + the index (within the plane) of the first
 * maximum; with relu, of the window's ReLU outputs max(x, 0) (x > 0 ? x : 0,
 * as the ReLU layer computes them), so that ReLU then pooling is one pass;
 * with biased, of x + bias (the conv's bias added on the fly, as its
 * forward adds it). The maximum is kept with selects, not branches: which
 * of a window's entries is largest is a coin toss that a branch
 * mispredicts; the first-maximum rule (strictly greater replaces) is the
 * same. The flags are constants at every call, so each use compiles to
 * its own loop. */
static inline void pool_plane(const double *x, size_t ld, int relu, int biased,
                              double bias, size_t wi, size_t ho, size_t wo,
                              size_t k, size_t st, size_t abase, double *y,
                              size_t *a) {
  if (k == 2 && st == 2) {
    /* 2×2 windows: the four entries of a window in a loop over the output
     * row without branches; with the ReLU, four windows at a time in AVX2
     * (relu_pool2_plane_avx2; without a bias it adds +0, which changes
     * only a −0 entry to +0, and the ReLU makes both +0) */
#if defined(__x86_64__)
    if (relu && wo >= 4 && ph_vmath_avx2()) {
      relu_pool2_plane_avx2(x, ld, biased ? bias : 0.0, wi, ho, wo, abase, y,
                            a);
      return;
    }
#endif
    for (size_t oi = 0; oi < ho; oi++) {
      size_t r0 = 2 * oi * wi, r1 = r0 + wi;
      const double *x0 = x + 2 * oi * ld, *x1 = x0 + ld;
      double *yr = y + oi * wo;
      size_t *ar = a + oi * wo;
      for (size_t oj = 0; oj < wo; oj++) {
        size_t i0 = r0 + 2 * oj, i2 = r1 + 2 * oj;
        double v0 = x0[2 * oj], v1 = x0[2 * oj + 1], v2 = x1[2 * oj],
               v3 = x1[2 * oj + 1];
        if (biased) {
          v0 = v0 + bias;
          v1 = v1 + bias;
          v2 = v2 + bias;
          v3 = v3 + bias;
        }
        if (relu) {
          v0 = v0 > 0 ? v0 : 0.0;
          v1 = v1 > 0 ? v1 : 0.0;
          v2 = v2 > 0 ? v2 : 0.0;
          v3 = v3 > 0 ? v3 : 0.0;
        }
        double best = v0;
        size_t arg = i0;
        arg = v1 > best ? i0 + 1 : arg;
        best = v1 > best ? v1 : best;
        arg = v2 > best ? i2 : arg;
        best = v2 > best ? v2 : best;
        arg = v3 > best ? i2 + 1 : arg;
        best = v3 > best ? v3 : best;
        yr[oj] = best;
        ar[oj] = abase + arg;
      }
    }
    return;
  }
  for (size_t oi = 0; oi < ho; oi++)
    for (size_t oj = 0; oj < wo; oj++) {
      size_t base = oi * st * wi + oj * st, arg = base,
             rbase = oi * st * ld + oj * st;
      double best = x[rbase];
      if (biased) best = best + bias;
      if (relu) best = best > 0 ? best : 0.0;
      for (size_t ki = 0; ki < k; ki++)
        for (size_t kj = 0; kj < k; kj++) {
          size_t idx = base + ki * wi + kj;
          double v = x[rbase + ki * ld + kj];
          if (biased) v = v + bias;
          if (relu) v = v > 0 ? v : 0.0;
          int gt = v > best;
          best = gt ? v : best;
          arg = gt ? idx : arg;
        }
      y[oi * wo + oj] = best;
      a[oi * wo + oj] = abase + arg;
    }
}

/* Max pooling with size = stride = k over a batch (relu: of the ReLU's
 * outputs), plane by plane. */
static void pool_max(nn_layer *l, size_t B, const double *in, double *out,
                     int relu) {
  /* The geometry in locals: the stores to out and arg could alias *l, so
   * reading l-> inside the loops reloaded every field at every step */
  const size_t C = l->c_in, hi = l->hi, wi = l->wi, ho = l->ho, wo = l->wo,
               k = l->k, st = l->stride, is = l->in_size, os = l->out_size;
  for (size_t e = 0; e < B; e++)
    for (size_t c = 0; c < C; c++) {
      const double *x = in + e * is + c * hi * wi;
      double *y = out + e * os + c * ho * wo;
      size_t *a = l->arg + e * os + c * ho * wo;
      if (relu)
        pool_plane(x, wi, 1, 0, 0.0, wi, ho, wo, k, st, c * hi * wi, y, a);
      else
        pool_plane(x, wi, 0, 0, 0.0, wi, ho, wo, k, st, c * hi * wi, y, a);
    }
}

void nn_relu_maxpool_plane(const nn_layer *pool, const double *x, size_t ld,
                           double bias, size_t c, double *y, size_t *a) {
  const size_t hw = pool->hi * pool->wi;
  pool_plane(x, ld, 1, 1, bias, pool->wi, pool->ho, pool->wo, pool->k,
             pool->stride, c * hw, y, a);
}

void nn_relu_maxpool_forward(nn_layer *pool, size_t B, const double *x,
                             double *out) {
  pool_max(pool, B, x, out, 1);
}

void nn_relu_maxpool_tangent_forward(const nn_layer *pool, size_t B,
                                     const double *x, const double *tin,
                                     double *tout) {
  const size_t is = pool->in_size, os = pool->out_size;
  if (!tin) {
    memset(tout, 0, B * os * sizeof *tout);
    return;
  }
  for (size_t e = 0; e < B; e++) {
    const double *xe = x + e * is, *te = tin + e * is;
    const size_t *a = pool->arg + e * os;
    double *t = tout + e * os;
    for (size_t o = 0; o < os; o++) {
      size_t p = a[o];
      double u = te[p];
      t[o] = xe[p] > 0 ? u : 0.0;
    }
  }
}

/* ---- forward ---- */
void nn_forward(nn_layer *l, const double *theta, size_t B, const double *in,
                double *out) {
  switch (l->kind) {
  case NN_DENSE:
    ph_nn_dense_forward(out, in, theta + l->w_off, theta + l->b_off, B, l->n_in,
                        l->n_out);
    return;
  case NN_ACT: act_forward(l->act, B * l->in_size, in, out, l->d1); return;
  case NN_CONV: nn_conv_forward(l, theta, B, in, out); return;
  case NN_MAXPOOL: pool_max(l, B, in, out, 0); return;
  case NN_AVGPOOL: {
    double inv = 1.0 / (double)(l->k * l->k);
    for (size_t e = 0; e < B; e++)
      for (size_t c = 0; c < l->c_in; c++)
        for (size_t oi = 0; oi < l->ho; oi++)
          for (size_t oj = 0; oj < l->wo; oj++) {
            const double *x = in + e * l->in_size +
                              (c * l->hi + oi * l->stride) * l->wi +
                              oj * l->stride;
            double sum = 0;
            for (size_t ki = 0; ki < l->k; ki++)
              for (size_t kj = 0; kj < l->k; kj++) sum += x[ki * l->wi + kj];
            out[e * l->out_size + (c * l->ho + oi) * l->wo + oj] = sum * inv;
          }
    return;
  }
  case NN_FLATTEN: memcpy(out, in, B * l->in_size * sizeof *in); return;
  case NN_RESDENSE: nn_res_forward(l, theta, B, in, out); return;
  }
}

/* ---- backward ---- */
static int maxpool_tiled(const nn_layer *l) {
  return l->stride == l->k && l->ho * l->k == l->hi && l->wo * l->k == l->wi;
}

int nn_relu_maxpool_fusable(const nn_layer *act, const nn_layer *pool) {
  return act->kind == NN_ACT && act->act == ACT_RELU &&
         pool->kind == NN_MAXPOOL && maxpool_tiled(pool);
}

void nn_relu_maxpool_backward(const nn_layer *pool, size_t B, const double *x,
                              const double *dout, double *din) {
  const size_t C = pool->c_in, hi = pool->hi, wi = pool->wi, ho = pool->ho,
               k = pool->k, is = pool->in_size, os = pool->out_size;
  const size_t *args = pool->arg;
  for (size_t e = 0; e < B; e++) {
    double *d = din + e * is;
    const double *xe = x + e * is, *g = dout + e * os;
    const size_t *a = args + e * os;
    for (size_t c = 0; c < C; c++)
      for (size_t oi = 0; oi < ho; oi++)
        for (size_t ki = 0; ki < k; ki++) {
          double *xr = d + (c * hi + oi * k + ki) * wi;
          for (size_t q = 0; q < wi; q++) xr[q] = 0.0;
        }
    /* the pooled adjoint at the argmax is 0 + dout (the two-pass sum,
     * whose sign of zero this keeps), then ReLU's mask */
    for (size_t o = 0; o < os; o++) {
      size_t p = a[o];
      double u = 0.0 + g[o];
      d[p] = xe[p] > 0 ? u : 0.0;
    }
  }
}

void nn_dense_backward(const nn_layer *l, const double *theta, size_t B,
                       const double *in, const double *dout, double *din,
                       double *grad, int with_bias, int fresh) {
  /* the chain overwrites din (ph_nn_dense_dx_set); the parameters'
   * adjoints accumulate (dense.h), or overwrite when fresh */
  if (grad && fresh) {
    ph_nn_gemm_set(1, 0, l->n_out, l->n_in, B, dout, in, grad + l->w_off);
    if (with_bias) {
      memset(grad + l->b_off, 0, l->n_out * sizeof *grad);
      ph_nn_dense_backward(NULL, NULL, grad + l->b_off, dout, NULL, NULL, B,
                           l->n_in, l->n_out);
    }
  } else
    ph_nn_dense_backward(NULL, grad ? grad + l->w_off : NULL,
                         grad && with_bias ? grad + l->b_off : NULL, dout, in,
                         theta + l->w_off, B, l->n_in, l->n_out);
  if (din)
    ph_nn_dense_dx_set(din, dout, theta + l->w_off, NULL, NULL, B, l->n_in,
                       l->n_out);
}

void nn_backward(nn_layer *l, const double *theta, size_t B, const double *in,
                 const double *out, const double *dout, double *din,
                 double *grad) {
  switch (l->kind) {
  case NN_DENSE:
    nn_dense_backward(l, theta, B, in, dout, din, grad, 1, 0);
    return;
  case NN_ACT:
    if (din) nn_act_scale(l, B * l->in_size, in, out, dout, din);
    return;
  case NN_CONV: nn_conv_backward(l, theta, B, in, dout, din, grad); return;
  case NN_MAXPOOL:
    if (din) {
      /* windows tile the input (stride = size): when they cover it all,
       * every input is written once, so no memset is needed */
      if (maxpool_tiled(l))
        for (size_t e = 0; e < B; e++)
          for (size_t c = 0; c < l->c_in; c++)
            for (size_t oi = 0; oi < l->ho; oi++)
              for (size_t ki = 0; ki < l->k; ki++) {
                double *xr =
                    din + e * l->in_size + (c * l->hi + oi * l->k + ki) * l->wi;
                for (size_t q = 0; q < l->wi; q++) xr[q] = 0.0;
              }
      else
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
              double g =
                  dout[e * l->out_size + (c * l->ho + oi) * l->wo + oj] * inv;
              for (size_t ki = 0; ki < l->k; ki++)
                for (size_t kj = 0; kj < l->k; kj++)
                  din[e * l->in_size +
                      (c * l->hi + oi * l->stride + ki) * l->wi +
                      oj * l->stride + kj] += g;
            }
    }
    return;
  case NN_FLATTEN:
    if (din) memcpy(din, dout, B * l->in_size * sizeof *din);
    return;
  case NN_RESDENSE: nn_res_backward(l, theta, B, in, dout, din, grad); return;
  }
}
