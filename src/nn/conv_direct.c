/* conv_direct.c: the forward product of a stride-1 "same" convolution
 * without im2col, for the CNN's forward and tangent forward (AVX2 + FMA).
 *
 * Each input channel is copied into a zero-bordered plane (hi + 2p rows of
 * Wp = wi + 2p), and the outputs are computed on a grid of ho rows of Wp
 * (the last 2p of each row are not outputs): on that grid, row (c, ki, kj)
 * of the im2col columns is the padded plane c shifted by ki·Wp + kj, so
 * the kernel reads it in place instead of copying it (the im2col copies,
 * OpenBLAS's packing of them and its beta = 0 pass were a fifth of the
 * CNN's gradient; docs/performance.md, sixth session). Register blocks of
 * 4 output channels × 12 positions.
 *
 * The same bits as the GEMM on im2col columns: OpenBLAS 0.3's dgemm
 * kernels (Haswell/Zen) compute each entry of C as one FMA chain over k in
 * order from +0, then C = acc (beta 0) or C + acc (beta 1), which this
 * kernel does too (every entry is a chain over (c, ki, kj) in im2col's row
 * order, the padding read as +0 as im2col writes it). That is a property
 * of the BLAS, not a promise: other kernels (odd rows of C, K beyond 256
 * where OpenBLAS splits the sum, other CPUs' kernels) differ in the last
 * bits. So nn_conv_alloc probes each layer once, the GEMM against this
 * kernel on one pseudo-random example, and the layer takes this path only
 * when they agree to the bit (layers_conv.c, probe_direct); tests/nn
 * compares the passes with the path on and off (nn_conv_direct_allow). */
#include <stdlib.h>
#include <string.h>

#include "nn/seq_int.h"

#if defined(__x86_64__)
#include <immintrin.h>

static int allow_direct = 1;

void nn_conv_direct_allow(int allow) {
  allow_direct = allow;
}

int nn_conv_direct_cpu(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int nn_conv_direct_ok(const nn_layer *l) {
  return allow_direct && l->direct;
}

int nn_conv_direct_adjoint_ok(const nn_layer *l) {
  return allow_direct && l->direct_adj;
}

/* y (rows of Lr) [+]= W x for NCO output channels (NCO a constant at
 * each call, so that the accumulators stay in registers): FMA chains over
 * r = (c, ki, kj) from +0, stored, or added to y when add. */
#define PH_DIRECT_BLOCK(name, NCO)                                             \
  __attribute__((target("avx2,fma"))) static void name(                        \
      const double *xp, size_t P, size_t Wp, size_t k, size_t cin,             \
      const double *W, size_t K, size_t Lr, int add, double *y) {              \
    for (size_t q0 = 0; q0 < Lr; q0 += 12) {                                   \
      __m256d a[NCO][3];                                                       \
      for (int i = 0; i < NCO; i++)                                            \
        for (int j = 0; j < 3; j++) a[i][j] = _mm256_setzero_pd();             \
      size_t r = 0;                                                            \
      for (size_t c = 0; c < cin; c++)                                         \
        for (size_t ki = 0; ki < k; ki++)                                      \
          for (size_t kj = 0; kj < k; kj++, r++) {                             \
            const double *xr = xp + c * P + ki * Wp + kj + q0;                 \
            __m256d x0 = _mm256_loadu_pd(xr), x1 = _mm256_loadu_pd(xr + 4),    \
                    x2 = _mm256_loadu_pd(xr + 8);                              \
            for (int i = 0; i < NCO; i++) {                                    \
              __m256d w = _mm256_broadcast_sd(W + i * K + r);                  \
              a[i][0] = _mm256_fmadd_pd(w, x0, a[i][0]);                       \
              a[i][1] = _mm256_fmadd_pd(w, x1, a[i][1]);                       \
              a[i][2] = _mm256_fmadd_pd(w, x2, a[i][2]);                       \
            }                                                                  \
          }                                                                    \
      for (int i = 0; i < NCO; i++)                                            \
        for (int j = 0; j < 3; j++) {                                          \
          double *dst = y + i * Lr + q0 + 4 * j;                               \
          __m256d v = a[i][j];                                                 \
          if (add) v = _mm256_add_pd(_mm256_loadu_pd(dst), v);                 \
          _mm256_storeu_pd(dst, v);                                            \
        }                                                                      \
    }                                                                          \
  }
PH_DIRECT_BLOCK(block4, 4)
PH_DIRECT_BLOCK(block2, 2)
PH_DIRECT_BLOCK(block1, 1)

/* The input adjoint, col2im(Wᵀ dy [+ Vᵀ dy2]), on the grid for NC input
 * channels from c0 (rows of Lr): for each (ki, kj) in order, the column
 * adjoint t = FMA chain over the output channels from +0 (the GEMM's
 * entry; with V, the two chains added, as the GEMM with beta 1 adds them),
 * added to the sum s from +0 (col2im's order). Outside the image t reads
 * the zero border, so t = +0 there, which leaves s unchanged (s is never
 * −0), as col2im's skipping it does. */
#define PH_ADJ_BLOCK(name, NC)                                                 \
  __attribute__((target("avx2,fma"))) static void name(                        \
      const double *dyp, const double *dyp2, size_t P, size_t Wp, size_t k,    \
      size_t cout, const double *W, const double *V, size_t K, size_t c0,      \
      size_t Lr, double *s) {                                                  \
    for (size_t q0 = 0; q0 < Lr; q0 += 12) {                                   \
      __m256d acc[NC][3], t1[NC][3];                                           \
      for (int i = 0; i < NC; i++)                                             \
        for (int j = 0; j < 3; j++)                                            \
          acc[i][j] = t1[i][j] = _mm256_setzero_pd();                          \
      for (size_t ki = 0; ki < k; ki++)                                        \
        for (size_t kj = 0; kj < k; kj++) {                                    \
          size_t off = (k - 1 - ki) * Wp + (k - 1 - kj) + q0;                  \
          for (int pass = 0; pass < (V ? 2 : 1); pass++) {                     \
            const double *src = pass ? dyp2 : dyp, *M = pass ? V : W;          \
            __m256d t[NC][3];                                                  \
            for (int i = 0; i < NC; i++)                                       \
              for (int j = 0; j < 3; j++) t[i][j] = _mm256_setzero_pd();       \
            for (size_t co = 0; co < cout; co++) {                             \
              const double *xr = src + co * P + off;                           \
              __m256d x0 = _mm256_loadu_pd(xr), x1 = _mm256_loadu_pd(xr + 4),  \
                      x2 = _mm256_loadu_pd(xr + 8);                            \
              const double *wr = M + co * K + ((c0 * k + ki) * k + kj);        \
              for (int i = 0; i < NC; i++) {                                   \
                __m256d w = _mm256_broadcast_sd(wr + i * k * k);               \
                t[i][0] = _mm256_fmadd_pd(w, x0, t[i][0]);                     \
                t[i][1] = _mm256_fmadd_pd(w, x1, t[i][1]);                     \
                t[i][2] = _mm256_fmadd_pd(w, x2, t[i][2]);                     \
              }                                                                \
            }                                                                  \
            for (int i = 0; i < NC; i++)                                       \
              for (int j = 0; j < 3; j++)                                      \
                t1[i][j] = pass ? _mm256_add_pd(t1[i][j], t[i][j]) : t[i][j];  \
          }                                                                    \
          for (int i = 0; i < NC; i++)                                         \
            for (int j = 0; j < 3; j++)                                        \
              acc[i][j] = _mm256_add_pd(acc[i][j], t1[i][j]);                  \
        }                                                                      \
      for (int i = 0; i < NC; i++)                                             \
        for (int j = 0; j < 3; j++)                                            \
          _mm256_storeu_pd(s + i * Lr + q0 + 4 * j, acc[i][j]);                \
    }                                                                          \
  }
PH_ADJ_BLOCK(adj4, 4)
PH_ADJ_BLOCK(adj2, 2)
PH_ADJ_BLOCK(adj1, 1)

void nn_conv_direct_adjoint(const nn_layer *l, const double *W,
                            const double *dyp, const double *V,
                            const double *dyp2, double *s) {
  const size_t K = l->c_in * l->k * l->k, Wp = l->wi + 2 * l->pad,
               P = l->dplane, L = l->dlen;
  size_t c = 0;
  for (; c + 4 <= l->c_in; c += 4)
    adj4(dyp, dyp2, P, Wp, l->k, l->c_out, W, V, K, c, L, s + c * L);
  for (; c + 2 <= l->c_in; c += 2)
    adj2(dyp, dyp2, P, Wp, l->k, l->c_out, W, V, K, c, L, s + c * L);
  for (; c < l->c_in; c++)
    adj1(dyp, dyp2, P, Wp, l->k, l->c_out, W, V, K, c, L, s + c * L);
}

void nn_conv_direct_pad_ld(const nn_layer *l, size_t nchan, const double *x,
                           size_t cstride, double *xp) {
  const size_t p = l->pad, wi = l->wi, Wp = wi + 2 * p, P = l->dplane;
  for (size_t c = 0; c < nchan; c++)
    for (size_t i = 0; i < l->hi; i++)
      memcpy(xp + c * P + (i + p) * Wp + p, x + c * cstride + i * wi,
             wi * sizeof *xp);
}

void nn_conv_direct_pad(const nn_layer *l, const double *x, double *xp) {
  const size_t p = l->pad, wi = l->wi, Wp = wi + 2 * p, P = l->dplane;
  for (size_t c = 0; c < l->c_in; c++)
    for (size_t i = 0; i < l->hi; i++)
      memcpy(xp + c * P + (i + p) * Wp + p, x + (c * l->hi + i) * wi,
             wi * sizeof *xp);
}

void nn_conv_direct(const nn_layer *l, const double *W, const double *xp,
                    int add, double *y) {
  const size_t K = l->c_in * l->k * l->k, Wp = l->wi + 2 * l->pad;
  size_t co = 0;
  for (; co + 4 <= l->c_out; co += 4)
    block4(xp, l->dplane, Wp, l->k, l->c_in, W + co * K, K, l->dlen, add,
           y + co * l->dlen);
  for (; co + 2 <= l->c_out; co += 2)
    block2(xp, l->dplane, Wp, l->k, l->c_in, W + co * K, K, l->dlen, add,
           y + co * l->dlen);
  for (; co < l->c_out; co++)
    block1(xp, l->dplane, Wp, l->k, l->c_in, W + co * K, K, l->dlen, add,
           y + co * l->dlen);
}

#else
void nn_conv_direct_allow(int allow) {
  (void)allow;
}
int nn_conv_direct_cpu(void) {
  return 0;
}
int nn_conv_direct_ok(const nn_layer *l) {
  (void)l;
  return 0;
}
int nn_conv_direct_adjoint_ok(const nn_layer *l) {
  (void)l;
  return 0;
}
void nn_conv_direct_pad(const nn_layer *l, const double *x, double *xp) {
  (void)l, (void)x, (void)xp;
}
void nn_conv_direct(const nn_layer *l, const double *W, const double *xp,
                    int add, double *y) {
  (void)l, (void)W, (void)xp, (void)add, (void)y;
}
void nn_conv_direct_adjoint(const nn_layer *l, const double *W,
                            const double *dyp, const double *V,
                            const double *dyp2, double *s) {
  (void)l, (void)W, (void)dyp, (void)V, (void)dyp2, (void)s;
}
void nn_conv_direct_pad_ld(const nn_layer *l, size_t nchan, const double *x,
                           size_t cstride, double *xp) {
  (void)l, (void)nchan, (void)x, (void)cstride, (void)xp;
}
#endif
