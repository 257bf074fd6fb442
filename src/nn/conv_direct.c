/* conv_direct.c: the products of a stride-1 "same" convolution without
 * im2col (AVX2 + FMA, AVX-512): the forward (forward and tangent forward), the
 * input adjoint and, further down, the weight adjoint.
 *
 * Each input channel is copied into a zero-bordered plane (hi + 2p rows of
 * Wp = wi + 2p), and the outputs are computed on a grid of ho rows of Wp
 * (the last 2p of each row are not outputs): on that grid, row (c, ki, kj)
 * of the im2col columns is the padded plane c shifted by ki·Wp + kj, so
 * the kernel reads it in place instead of copying it (the im2col copies,
 * OpenBLAS's packing of them and its beta = 0 pass were a fifth of the
 * CNN's gradient; docs/performance-history.md, sixth session). Register blocks
 * of 4 output channels × 12 positions (AVX2) or × 24 (AVX-512, chosen at
 * run time; the same chains, so the same bits); the weight adjoint's tiles
 * likewise take 8 channels a register with AVX-512.
 *
 * The same bits as the GEMM on im2col columns: OpenBLAS 0.3's dgemm
 * kernels (Haswell/Zen) compute each entry of C as one FMA chain over k in
 * order from +0, then C = acc (beta 0) or C + acc (beta 1), and libxsmm's
 * (the routed GEMMs on AVX-512 targets, layers_conv.c) one chain from C,
 * which this kernel does too (the caller says which beta 1; every entry is
 * a chain over (c, ki, kj) in im2col's row order, the padding read as +0
 * as im2col writes it). That is a property of the libraries, not a
 * promise: other kernels (odd rows of C, K beyond 256 where OpenBLAS
 * splits the sum, libxsmm's 8 × 8 edge tiles, other CPUs' kernels) differ
 * in the last bits. So nn_conv_alloc probes each layer once, the GEMM against
 * this kernel on one pseudo-random example, and the layer takes this path only
 * when they agree to the bit (layers_conv.c, probe_direct); tests/nn
 * compares the passes with the path on and off (nn_conv_direct_allow). */
#include <stdlib.h>
#include <string.h>

#include "nn/seq_int.h"
#include "nn/vmath.h"

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
 * r = (c, ki, kj) from +0, stored (add 0) or added to y (add 1,
 * OpenBLAS's beta 1), or chains that start from y (add 2, libxsmm's beta
 * 1). Blocks of 3·L positions: P the intrinsics' prefix (_mm256, L = 4;
 * _mm512, L = 8), VT the vector type; each lane is one position's chain,
 * so the AVX2 and AVX-512 blocks give the same bits. */
#define PH_DIRECT_BLOCK(name, TGT, P, VT, L, NCO)                              \
  __attribute__((target(TGT))) static void name(                               \
      const double *xp, size_t P_, size_t Wp, size_t k, size_t cin,            \
      const double *W, size_t K, size_t Lr, int add, double *y) {              \
    for (size_t q0 = 0; q0 < Lr; q0 += 3 * L) {                                \
      VT a[NCO][3];                                                            \
      for (int i = 0; i < NCO; i++)                                            \
        for (int j = 0; j < 3; j++)                                            \
          a[i][j] = add == 2 ? P##_loadu_pd(y + i * Lr + q0 + L * j)           \
                             : P##_setzero_pd();                               \
      size_t r = 0;                                                            \
      for (size_t c = 0; c < cin; c++)                                         \
        for (size_t ki = 0; ki < k; ki++)                                      \
          for (size_t kj = 0; kj < k; kj++, r++) {                             \
            const double *xr = xp + c * P_ + ki * Wp + kj + q0;                \
            VT x0 = P##_loadu_pd(xr), x1 = P##_loadu_pd(xr + L),               \
               x2 = P##_loadu_pd(xr + 2 * L);                                  \
            for (int i = 0; i < NCO; i++) {                                    \
              VT w = P##_set1_pd(W[i * K + r]);                                \
              a[i][0] = P##_fmadd_pd(w, x0, a[i][0]);                          \
              a[i][1] = P##_fmadd_pd(w, x1, a[i][1]);                          \
              a[i][2] = P##_fmadd_pd(w, x2, a[i][2]);                          \
            }                                                                  \
          }                                                                    \
      for (int i = 0; i < NCO; i++)                                            \
        for (int j = 0; j < 3; j++) {                                          \
          double *dst = y + i * Lr + q0 + L * j;                               \
          VT v = a[i][j];                                                      \
          if (add == 1) v = P##_add_pd(P##_loadu_pd(dst), v);                  \
          P##_storeu_pd(dst, v);                                               \
        }                                                                      \
    }                                                                          \
  }
#define PH_DIRECT_AVX2(name, NCO)                                              \
  PH_DIRECT_BLOCK(name, "avx2,fma", _mm256, __m256d, 4, NCO)
#define PH_DIRECT_AVX512(name, NCO)                                            \
  PH_DIRECT_BLOCK(name, "avx512f", _mm512, __m512d, 8, NCO)
PH_DIRECT_AVX2(block4, 4)
PH_DIRECT_AVX2(block2, 2)
PH_DIRECT_AVX2(block1, 1)
PH_DIRECT_AVX512(zblock4, 4)
PH_DIRECT_AVX512(zblock2, 2)
PH_DIRECT_AVX512(zblock1, 1)

/* AVX-512 blocks for the forward, the input adjoint and the weight
 * adjoint where the CPU has them and vmath allows them (ph_vmath_avx512;
 * the same bits as the AVX2 ones, so ph_vmath_allow_avx512(0) keeps to
 * AVX2 for tests). The forward and the adjoint need rows of a multiple of
 * 24 (l->dlen is). */
static int use_512(size_t Lr) {
  return Lr % 24 == 0 && ph_vmath_avx512();
}

/* The input adjoint, col2im(Wᵀ dy [+ Vᵀ dy2]), on the grid for NC input
 * channels from c0 (rows of Lr): for each (ki, kj) in order, the column
 * adjoint t = FMA chain over the output channels from +0 (the GEMM's
 * entry; with V, the two chains added, as OpenBLAS's GEMM with beta 1
 * adds them, or with chain one chain over W's terms then V's, as
 * libxsmm's does), added to the sum s from +0 (col2im's order). Outside
 * the image t reads the zero border, so t = +0 there, which leaves s
 * unchanged (s is never −0), as col2im's skipping it does. Blocks of 3·L
 * positions, as the forward's. */
#define PH_ADJ_BLOCK(name, TGT, P, VT, L, NC)                                  \
  __attribute__((target(TGT))) static void name(                               \
      const double *dyp, const double *dyp2, size_t P_, size_t Wp, size_t k,   \
      size_t cout, const double *W, const double *V, int chain, size_t K,      \
      size_t c0, size_t Lr, double *s) {                                       \
    for (size_t q0 = 0; q0 < Lr; q0 += 3 * L) {                                \
      VT acc[NC][3], t1[NC][3];                                                \
      for (int i = 0; i < NC; i++)                                             \
        for (int j = 0; j < 3; j++) acc[i][j] = t1[i][j] = P##_setzero_pd();   \
      for (size_t ki = 0; ki < k; ki++)                                        \
        for (size_t kj = 0; kj < k; kj++) {                                    \
          size_t off = (k - 1 - ki) * Wp + (k - 1 - kj) + q0;                  \
          VT t[NC][3];                                                         \
          for (int pass = 0; pass < (V ? 2 : 1); pass++) {                     \
            const double *src = pass ? dyp2 : dyp, *M = pass ? V : W;          \
            if (pass == 0 || !chain)                                           \
              for (int i = 0; i < NC; i++)                                     \
                for (int j = 0; j < 3; j++) t[i][j] = P##_setzero_pd();        \
            for (size_t co = 0; co < cout; co++) {                             \
              const double *xr = src + co * P_ + off;                          \
              VT x0 = P##_loadu_pd(xr), x1 = P##_loadu_pd(xr + L),             \
                 x2 = P##_loadu_pd(xr + 2 * L);                                \
              const double *wr = M + co * K + ((c0 * k + ki) * k + kj);        \
              for (int i = 0; i < NC; i++) {                                   \
                VT w = P##_set1_pd(wr[i * k * k]);                             \
                t[i][0] = P##_fmadd_pd(w, x0, t[i][0]);                        \
                t[i][1] = P##_fmadd_pd(w, x1, t[i][1]);                        \
                t[i][2] = P##_fmadd_pd(w, x2, t[i][2]);                        \
              }                                                                \
            }                                                                  \
            for (int i = 0; i < NC; i++)                                       \
              for (int j = 0; j < 3; j++)                                      \
                t1[i][j] =                                                     \
                    pass && !chain ? P##_add_pd(t1[i][j], t[i][j]) : t[i][j];  \
          }                                                                    \
          for (int i = 0; i < NC; i++)                                         \
            for (int j = 0; j < 3; j++)                                        \
              acc[i][j] = P##_add_pd(acc[i][j], t1[i][j]);                     \
        }                                                                      \
      for (int i = 0; i < NC; i++)                                             \
        for (int j = 0; j < 3; j++)                                            \
          P##_storeu_pd(s + i * Lr + q0 + L * j, acc[i][j]);                   \
    }                                                                          \
  }
#define PH_ADJ_AVX2(name, NC)                                                  \
  PH_ADJ_BLOCK(name, "avx2,fma", _mm256, __m256d, 4, NC)
#define PH_ADJ_AVX512(name, NC)                                                \
  PH_ADJ_BLOCK(name, "avx512f", _mm512, __m512d, 8, NC)
PH_ADJ_AVX2(adj4, 4)
PH_ADJ_AVX2(adj2, 2)
PH_ADJ_AVX2(adj1, 1)
PH_ADJ_AVX512(zadj4, 4)
PH_ADJ_AVX512(zadj2, 2)
PH_ADJ_AVX512(zadj1, 1)

typedef void adj_block(const double *, const double *, size_t, size_t, size_t,
                       size_t, const double *, const double *, int, size_t,
                       size_t, size_t, double *);

void nn_conv_direct_adjoint(const nn_layer *l, const double *W,
                            const double *dyp, const double *V,
                            const double *dyp2, int chain, double *s) {
  const size_t K = l->c_in * l->k * l->k, Wp = l->wi + 2 * l->pad,
               P = l->dplane, L = l->dlen;
  const int z = use_512(L);
  adj_block *b4 = z ? zadj4 : adj4, *b2 = z ? zadj2 : adj2,
            *b1 = z ? zadj1 : adj1;
  size_t c = 0;
  for (; c + 4 <= l->c_in; c += 4)
    b4(dyp, dyp2, P, Wp, l->k, l->c_out, W, V, chain, K, c, L, s + c * L);
  for (; c + 2 <= l->c_in; c += 2)
    b2(dyp, dyp2, P, Wp, l->k, l->c_out, W, V, chain, K, c, L, s + c * L);
  for (; c < l->c_in; c++)
    b1(dyp, dyp2, P, Wp, l->k, l->c_out, W, V, chain, K, c, L, s + c * L);
}

/* ---- the weight adjoint, gw += dy cols(x)ᵀ, without im2col ----
 * The GEMM it replaces (layers_conv.c, beta 1) sums over the chunk's
 * E·ho·wo positions, which OpenBLAS's level-3 driver splits into blocks
 * (GEMM_Q = 256 for the Haswell kernels, the last two halved and rounded
 * up to the unroll of 4 when fewer than 512 remain); its kernel computes
 * each block's entries as one FMA chain from +0 in position order and
 * adds it to C. This kernel does the same, block by block: lanes over 4
 * output channels (dy transposed, so that a position's c_out adjoints are
 * contiguous), each column entry r = (c, ki, kj) read from the
 * zero-bordered planes by broadcast (the padding is the +0 that im2col
 * writes). Register blocks of NV·4 channels × NR entries. Like the
 * forward, the bits are the BLAS's property, not its promise: nn_conv_alloc
 * probes (layers_conv.c, probe_wgrad). */
static size_t wgrad_block(size_t rest) {
  if (rest >= 2 * 256) return 256;
  if (rest > 256) return (rest / 2 + 3) / 4 * 4;
  return rest;
}

/* One register block: entries r (offsets off) of NV·L channels of gw
 * over the chunk's K positions, block by block (each block's chain from
 * +0, then added to G); with BIAS, also the channels' bias adjoints, one
 * chain of adds over all K positions from +0 added to gb at the end (the
 * order of layers_conv.c's row sums, which it replaces). P is the
 * intrinsics' prefix (_mm256 for 4 lanes, _mm512 for 8), VT the vector
 * type, L its lanes; each lane is one channel's chains, so the AVX2 and
 * AVX-512 tiles give the same bits. */
#define PH_WGRAD_TILE(name, TGT, P, VT, L, NV, NR, BIAS)                       \
  __attribute__((target(TGT))) static void name(                               \
      const double *dyT, size_t C, const double *xp, size_t XS, size_t hw,     \
      size_t wo, size_t Wp, const size_t *off, size_t K, double *G, size_t kk, \
      double *gb) {                                                            \
    VT a[NR][NV], sb[NV];                                                      \
    _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) sb[v] =               \
        P##_setzero_pd();                                                      \
    for (size_t t0 = 0, kb; t0 < K; t0 += kb) {                                \
      kb = wgrad_block(K - t0);                                                \
      _Pragma("GCC unroll 8") for (int r = 0; r < NR; r++)                     \
          _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) a[r][v] =       \
              P##_setzero_pd();                                                \
      for (size_t t = t0; t < t0 + kb;) {                                      \
        size_t e = t / hw, q = t % hw, oi = q / wo, oj = q % wo,               \
               len = wo - oj < t0 + kb - t ? wo - oj : t0 + kb - t;            \
        const double *x = xp + e * XS + oi * Wp + oj, *d = dyT + t * C;        \
        const double *xr[NR];                                                  \
        _Pragma("GCC unroll 8") for (int r = 0; r < NR; r++) xr[r] =           \
            x + off[r];                                                        \
        for (size_t j = 0; j < len; j++, d += C) {                             \
          VT dv[NV];                                                           \
          _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) {               \
            dv[v] = P##_loadu_pd(d + L * v);                                   \
            if (BIAS) sb[v] = P##_add_pd(sb[v], dv[v]);                        \
          }                                                                    \
          _Pragma("GCC unroll 8") for (int r = 0; r < NR; r++) {               \
            VT b = P##_set1_pd(xr[r][j]);                                      \
            _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) a[r][v] =     \
                P##_fmadd_pd(dv[v], b, a[r][v]);                               \
          }                                                                    \
        }                                                                      \
        t += len;                                                              \
      }                                                                        \
      _Pragma("GCC unroll 8") for (int r = 0; r < NR; r++)                     \
          _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++)                 \
              add_lanes##L(a[r][v], G + L * v * kk + r, kk);                   \
    }                                                                          \
    if (BIAS)                                                                  \
      _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++)                     \
          add_lanes##L(sb[v], gb + L * v, 1);                                  \
  }

/* g[i·ld] += lane i of a, i = 0..3 */
__attribute__((target("avx2"))) static inline void
add_lanes4(__m256d a, double *g, size_t ld) {
  __m128d lo = _mm256_castpd256_pd128(a), hi = _mm256_extractf128_pd(a, 1);
  g[0] += _mm_cvtsd_f64(lo);
  g[ld] += _mm_cvtsd_f64(_mm_unpackhi_pd(lo, lo));
  g[2 * ld] += _mm_cvtsd_f64(hi);
  g[3 * ld] += _mm_cvtsd_f64(_mm_unpackhi_pd(hi, hi));
}

/* g[i·ld] += lane i of a, i = 0..7 */
__attribute__((target("avx512f"))) static inline void
add_lanes8(__m512d a, double *g, size_t ld) {
  double t[8];
  _mm512_storeu_pd(t, a);
  for (int i = 0; i < 8; i++) g[i * ld] += t[i];
}

/* The tiles of one instruction set, named p2x6 … p1x1b: 2 or 1
 * registers of channels × 6, 3 or 1 entries, and with the bias 5, 3 or 1
 * (AVX2: 5 so that 8 channels' accumulators, bias sums, adjoints and the
 * broadcast fit the 16 registers; AVX-512 has 32 and takes the same). */
#define PH_WGRAD_SET(T, p)                                                     \
  T(p##2x6, 2, 6, 0)                                                           \
  T(p##2x3, 2, 3, 0)                                                           \
  T(p##2x1, 2, 1, 0)                                                           \
  T(p##1x6, 1, 6, 0)                                                           \
  T(p##1x3, 1, 3, 0)                                                           \
  T(p##1x1, 1, 1, 0)                                                           \
  T(p##2x5b, 2, 5, 1)                                                          \
  T(p##2x3b, 2, 3, 1)                                                          \
  T(p##2x1b, 2, 1, 1)                                                          \
  T(p##1x5b, 1, 5, 1)                                                          \
  T(p##1x3b, 1, 3, 1)                                                          \
  T(p##1x1b, 1, 1, 1)
#define PH_WGRAD_AVX2(name, NV, NR, BIAS)                                      \
  PH_WGRAD_TILE(name, "avx2,fma", _mm256, __m256d, 4, NV, NR, BIAS)
/* AVX-512: 16 or 8 channels a tile, half the FMA instructions of the AVX2
 * tiles for the same chains */
#define PH_WGRAD_AVX512(name, NV, NR, BIAS)                                    \
  PH_WGRAD_TILE(name, "avx512f", _mm512, __m512d, 8, NV, NR, BIAS)
PH_WGRAD_SET(PH_WGRAD_AVX2, wg)
PH_WGRAD_SET(PH_WGRAD_AVX512, wz)

typedef void wg_tile(const double *, size_t, const double *, size_t, size_t,
                     size_t, size_t, const size_t *, size_t, double *, size_t,
                     double *);

int nn_conv_direct_wgrad_fits(const nn_layer *l) {
  return l->c_out % 4 == 0;
}

int nn_conv_direct_wgrad_ok(const nn_layer *l) {
  return allow_direct && l->direct_w;
}

void nn_conv_direct_wgrad(const nn_layer *l, const double *dyT,
                          const double *xp, size_t E, double *gw, double *gb) {
  /* by channels a tile: 4 and 8 (AVX2), 8 and 16 (AVX-512) */
  static wg_tile *const plain[4][3] = {{wg1x6, wg1x3, wg1x1},
                                       {wg2x6, wg2x3, wg2x1},
                                       {wz1x6, wz1x3, wz1x1},
                                       {wz2x6, wz2x3, wz2x1}},
                        *bias[4][3] = {{wg1x5b, wg1x3b, wg1x1b},
                                       {wg2x5b, wg2x3b, wg2x1b},
                                       {wz1x5b, wz1x3b, wz1x1b},
                                       {wz2x5b, wz2x3b, wz2x1b}};
  static const size_t width[4] = {4, 8, 8, 16};
  const size_t k = l->k, kk = l->c_in * k * k, C = l->c_out, hw = l->ho * l->wo,
               Wp = l->wi + 2 * l->pad, P = l->dplane, XS = l->c_in * P,
               K = E * hw;
  const int z = use_512(24);
  for (size_t co = 0; co < C;) {
    int two = z && co + 16 <= C ? 3 : z && co + 8 <= C ? 2 : co + 8 <= C;
    for (size_t r0 = 0; r0 < kk;) {
      /* the bias rides on each channel block's first tile, of 3 entries
       * when that leaves a multiple of 3 (k = 3: 9 = 3 + 6, 72 = 3 + 11·6
       * + 3), else of 5 or 1; then tiles of 6 while they fit */
      int b = gb && r0 == 0, w = b ? (kk % 3 == 0 ? 1
                                      : kk >= 5   ? 0
                                      : kk >= 3   ? 1
                                                  : 2)
                                   : (kk - r0 >= 6   ? 0
                                      : kk - r0 >= 3 ? 1
                                                     : 2);
      size_t nr = w == 0 ? (b ? 5 : 6) : w == 1 ? 3 : 1, off[6];
      for (size_t i = 0; i < nr; i++) {
        size_t r = r0 + i;
        off[i] = r / (k * k) * P + r / k % k * Wp + r % k;
      }
      /* the tile chosen element-wise: clang types `b ? bias : plain` (two
       * arrays of const pointers) as void *, so the pair is not indexed */
      wg_tile *tile = b ? bias[two][w] : plain[two][w];
      tile(dyT + co, C, xp, XS, hw, l->wo, Wp, off, K, gw + co * kk + r0, kk,
           b ? gb + co : NULL);
      r0 += nr;
    }
    co += width[two];
  }
}

__attribute__((target("avx"))) void nn_conv_direct_transpose(const double *buf,
                                                             size_t rows,
                                                             size_t n,
                                                             double *dyT) {
  size_t t = 0;
  for (; t + 4 <= n; t += 4)
    for (size_t c = 0; c < rows; c += 4) {
      const double *b = buf + c * n + t;
      __m256d r0 = _mm256_loadu_pd(b), r1 = _mm256_loadu_pd(b + n),
              r2 = _mm256_loadu_pd(b + 2 * n), r3 = _mm256_loadu_pd(b + 3 * n);
      __m256d u0 = _mm256_unpacklo_pd(r0, r1), u1 = _mm256_unpackhi_pd(r0, r1),
              u2 = _mm256_unpacklo_pd(r2, r3), u3 = _mm256_unpackhi_pd(r2, r3);
      double *o = dyT + t * rows + c;
      _mm256_storeu_pd(o, _mm256_permute2f128_pd(u0, u2, 0x20));
      _mm256_storeu_pd(o + rows, _mm256_permute2f128_pd(u1, u3, 0x20));
      _mm256_storeu_pd(o + 2 * rows, _mm256_permute2f128_pd(u0, u2, 0x31));
      _mm256_storeu_pd(o + 3 * rows, _mm256_permute2f128_pd(u1, u3, 0x31));
    }
  for (; t < n; t++)
    for (size_t c = 0; c < rows; c++) dyT[t * rows + c] = buf[c * n + t];
}

/* n doubles from s to d, four at a time, then one at a time: the planes'
 * rows are 7 to 28 values, and a memcpy call per row was most of the
 * pads' time (the CNN's gradient made some 150 thousand of them). */
__attribute__((target("avx"))) static inline void
copy_row(double *d, const double *s, size_t n) {
  size_t j = 0;
  for (; j + 4 <= n; j += 4) _mm256_storeu_pd(d + j, _mm256_loadu_pd(s + j));
  for (; j < n; j++) d[j] = s[j];
}

__attribute__((target("avx"))) void
nn_conv_direct_pad_ld(const nn_layer *l, size_t nchan, const double *x,
                      size_t cstride, double *xp) {
  const size_t p = l->pad, wi = l->wi, Wp = wi + 2 * p, P = l->dplane;
  for (size_t c = 0; c < nchan; c++)
    for (size_t i = 0; i < l->hi; i++)
      copy_row(xp + c * P + (i + p) * Wp + p, x + c * cstride + i * wi, wi);
}

void nn_conv_direct_pad(const nn_layer *l, const double *x, double *xp) {
  nn_conv_direct_pad_ld(l, l->c_in, x, l->hi * l->wi, xp);
}

__attribute__((target("avx"))) void
nn_conv_direct_unpad(const nn_layer *l, const double *s, double *x) {
  const size_t wi = l->wi, Wp = wi + 2 * l->pad;
  for (size_t c = 0; c < l->c_in; c++)
    for (size_t i = 0; i < l->hi; i++)
      copy_row(x + (c * l->hi + i) * wi, s + c * l->dlen + i * Wp, wi);
}

typedef void fwd_block(const double *, size_t, size_t, size_t, size_t,
                       const double *, size_t, size_t, int, double *);

void nn_conv_direct(const nn_layer *l, const double *W, const double *xp,
                    int add, double *y) {
  const size_t K = l->c_in * l->k * l->k, Wp = l->wi + 2 * l->pad, L = l->dlen;
  const int z = use_512(L);
  fwd_block *b4 = z ? zblock4 : block4, *b2 = z ? zblock2 : block2,
            *b1 = z ? zblock1 : block1;
  size_t co = 0;
  for (; co + 4 <= l->c_out; co += 4)
    b4(xp, l->dplane, Wp, l->k, l->c_in, W + co * K, K, L, add, y + co * L);
  for (; co + 2 <= l->c_out; co += 2)
    b2(xp, l->dplane, Wp, l->k, l->c_in, W + co * K, K, L, add, y + co * L);
  for (; co < l->c_out; co++)
    b1(xp, l->dplane, Wp, l->k, l->c_in, W + co * K, K, L, add, y + co * L);
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
void nn_conv_direct_unpad(const nn_layer *l, const double *s, double *x) {
  (void)l, (void)s, (void)x;
}
int nn_conv_direct_wgrad_fits(const nn_layer *l) {
  (void)l;
  return 0;
}
int nn_conv_direct_wgrad_ok(const nn_layer *l) {
  (void)l;
  return 0;
}
void nn_conv_direct_wgrad(const nn_layer *l, const double *dyT,
                          const double *xp, size_t E, double *gw, double *gb) {
  (void)l, (void)dyT, (void)xp, (void)E, (void)gw, (void)gb;
}
void nn_conv_direct_transpose(const double *buf, size_t rows, size_t n,
                              double *dyT) {
  (void)buf, (void)rows, (void)n, (void)dyT;
}
void nn_conv_direct(const nn_layer *l, const double *W, const double *xp,
                    int add, double *y) {
  (void)l, (void)W, (void)xp, (void)add, (void)y;
}
void nn_conv_direct_adjoint(const nn_layer *l, const double *W,
                            const double *dyp, const double *V,
                            const double *dyp2, int chain, double *s) {
  (void)l, (void)W, (void)dyp, (void)V, (void)dyp2, (void)chain, (void)s;
}
void nn_conv_direct_pad_ld(const nn_layer *l, size_t nchan, const double *x,
                           size_t cstride, double *xp) {
  (void)l, (void)nchan, (void)x, (void)cstride, (void)xp;
}
#endif
