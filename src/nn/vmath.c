/* vmath.c: vectorised elementwise math (nn/vmath.h) through SLEEF.
 *
 * Each primitive is one loop over 8-lane (AVX-512), 4-lane (AVX2; both
 * chosen at run time with __builtin_cpu_supports) or 2-lane (SSE2, the
 * x86-64 baseline) SLEEF calls; a partial last vector is padded with zeros
 * (through a small buffer, or a masked load and store in 8 lanes), so
 * every element goes through the same vector code and its result does
 * not depend on where it sits in the array. The 8- and 4-lane SLEEF
 * functions give the same bits (test_vmath). tanh has its own kernel (no
 * SLEEF call) in 8 and 4 lanes, again with the same bits. The composite
 * functions work in chunks of VCHUNK elements on stack buffers, which stay in
 * L1 between the transcendental call and the algebra around it. Reference: N.
 * Shibata, F. Petrogalli, "SLEEF: A Portable Vectorized Library of C Standard
 * Mathematical Functions", IEEE TPDS 2020. */
#include "nn/vmath.h"

#include <math.h>
#include <string.h>

#define VCHUNK 256
#define PH_INV_SQRT2 0.70710678118654752440
#define PH_INV_SQRT2PI 0.39894228040143267794

#if PH_HAVE_SLEEF && (defined(__x86_64__) || defined(__i386__))
#define PH_VMATH_AVX2 1
#include <immintrin.h>
#include <sleef.h>

/* sleef.h declares its AVX2 entry points only when the translation unit is
 * compiled with -mavx; this file is not (it must run on any x86-64), so the
 * five it uses are declared here, called only from target("avx2") code. */
__m256d Sleef_expd4_u10avx2(__m256d);
__m256d Sleef_logd4_u10avx2(__m256d);
__m256d Sleef_log1pd4_u10avx2(__m256d);
__m256d Sleef_erfd4_u10avx2(__m256d);
__m256d Sleef_erfcd4_u15avx2(__m256d);
/* and their 8-lane AVX-512 versions: the same algorithms with the same
 * FMAs, so the same bits lane for lane (test_vmath compares the widths);
 * on this machine's Zen 5 they take half the time per value (erfc 7.2
 * against 13.9 ns, exp 0.58 against 1.12 ns; tenth session,
 * docs/performance.md "The transformer's speed") */
__m512d Sleef_expd8_u10avx512f(__m512d);
__m512d Sleef_logd8_u10avx512f(__m512d);
__m512d Sleef_log1pd8_u10avx512f(__m512d);
__m512d Sleef_erfd8_u10avx512f(__m512d);
__m512d Sleef_erfcd8_u15avx512f(__m512d);

static int allow_avx2 = 1, allow_avx512 = 1;

static int have_avx2(void) {
  return allow_avx2 && __builtin_cpu_supports("avx2") &&
         __builtin_cpu_supports("fma");
}

/* the 8-lane loops, and conv_direct.c's 8-lane blocks (ph_vmath_avx512) */
static int have_avx512(void) {
  return allow_avx512 && have_avx2() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512dq");
}

int ph_vmath_avx2(void) {
  return have_avx2();
}

int ph_vmath_avx512(void) {
  return have_avx512();
}

void ph_vmath_allow_avx2(int allow) {
  allow_avx2 = allow;
}

void ph_vmath_allow_avx512(int allow) {
  allow_avx512 = allow;
}

/* One primitive: an AVX-512 loop (a partial last vector through a masked
 * load, zeros in the other lanes as the narrower loops' padding, and a
 * masked store), an AVX2 loop, an SSE2 loop and the dispatcher. */
#define PH_VFUN(name, sleef8, sleef4, sleef2)                                  \
  __attribute__((target("avx512f,avx512dq"))) static void name##_avx512(       \
      const double *x, double *y, size_t n) {                                  \
    for (size_t i = 0; i < n; i += 8) {                                        \
      __mmask8 m = n - i >= 8 ? 0xff : (__mmask8)((1u << (n - i)) - 1);        \
      _mm512_mask_storeu_pd(y + i, m,                                          \
                            sleef8(_mm512_maskz_loadu_pd(m, x + i)));          \
    }                                                                          \
  }                                                                            \
  __attribute__((target("avx2,fma"))) static void name##_avx2(                 \
      const double *x, double *y, size_t n) {                                  \
    size_t i = 0;                                                              \
    for (; i + 4 <= n; i += 4)                                                 \
      _mm256_storeu_pd(y + i, sleef4(_mm256_loadu_pd(x + i)));                 \
    if (i < n) {                                                               \
      double a[4] = {0, 0, 0, 0};                                              \
      memcpy(a, x + i, (n - i) * sizeof *a);                                   \
      _mm256_storeu_pd(a, sleef4(_mm256_loadu_pd(a)));                         \
      memcpy(y + i, a, (n - i) * sizeof *a);                                   \
    }                                                                          \
  }                                                                            \
  static void name##_sse2(const double *x, double *y, size_t n) {              \
    size_t i = 0;                                                              \
    for (; i + 2 <= n; i += 2)                                                 \
      _mm_storeu_pd(y + i, sleef2(_mm_loadu_pd(x + i)));                       \
    if (i < n) {                                                               \
      double a[2] = {x[i], 0};                                                 \
      _mm_storeu_pd(a, sleef2(_mm_loadu_pd(a)));                               \
      y[i] = a[0];                                                             \
    }                                                                          \
  }                                                                            \
  static void vm_##name(const double *x, double *y, size_t n) {                \
    if (have_avx512())                                                         \
      name##_avx512(x, y, n);                                                  \
    else if (have_avx2())                                                      \
      name##_avx2(x, y, n);                                                    \
    else                                                                       \
      name##_sse2(x, y, n);                                                    \
  }

/* tanh without a library call or a branch: one formula for
 * every |x|, within 0.75 ulp of x87 tanhl and 2 ulp of glibc over 10^8
 * inputs (docs/performance-history.md, "Seventh session: tanh"). With a = |x|
 * and the sign put back at the end (tanh is odd, so ±0 and both signs come out
 * exact), t = 2a:
 *   tanh a = 1 − w,  w = 2/d,  d = 1 + e^t,
 * d built as an unevaluated sum dh + dl exact to far below ulp(e^t − 1),
 * so that 1 − w, which cancels for small a, keeps its accuracy; the old
 * kernel's separate polynomial for a < 0.55 (both branches ran on 86 % of
 * the vectors of a tanh MLP) is gone.
 *   e^t = 2^k (1 + s), k = round(t/ln 2), r = t − k L1 exact (L1 = ln 2 to
 *     41 bits, k ≤ 58), the rest rl = −k L2 of ln 2 applied to first order
 *     as 2^k rl (1 + s). s = r + h, h = r²/2 + r² c1, c1 = r C1(r), with
 *     (1/2 + C1) the degree-10 Chebyshev fit of (e^r − 1 − r)/r² on
 *     |r| ≤ ln 2/2 (mpmath; 3e-19 relative), evaluated as even and odd
 *     halves in r² (half the latency of Horner) and with 1/2 r² apart so
 *     that c1's roundings are damped by c1 ≈ r/6.
 *   d = B + 2^k s with B = 1 + 2^k: dh = fl(B + 2^k s) (one FMA), and
 *     B − dh is exact (Sterbenz: dh/B ∈ [0.7, 1.5]), so the remainder
 *     dl = (B − dh) + 2^k r + 2^k (h + rl (1 + s)) carries no rounding of
 *     s; what remains of d's error is the roundings of h and of the small
 *     remainder, ≤ 3.3·2⁻⁵³ 2^k h, which move tanh by at most 0.5 ulp
 *     (worst at k = 1, a just above ln 2/4).
 *   w = 2/dh corrected with one FMA (rem = 2 − w dh − w dl, w += rem w/2),
 *     and 1 − w as a fast two-sum (1 ≥ w): y0 = 1 − w0 plus its exact
 *     rounding error minus the correction, one rounding at the end.
 * Below a = 2⁻²⁷ tanh a rounds to a, and there the correction is no
 * longer small against the result (w0 = 1, so y0 = 0 and the whole result
 * is the correction, whose factor w0/2 ≈ 1/d is off by t/2): those lanes
 * take a itself. a is clamped to 20 (tanh 20 rounds to 1), so k ≤ 58 and
 * 2^k is built from its exponent bits; NaN stays NaN, inf gives 1.
 * The code computes everything of d halved and the polynomial in r²/2,
 * which gives the same bits with fewer operations (ninth session,
 * docs/performance-history.md "Ninth session: the tanh kernel"): 2^(k−1) for
 * 2^k (the shift constant carries the exponent bias, so j's low bits are k +
 * 1022 and one shift makes 2^(k−1)), 1/2 + 2^(k−1) for B, so dh, dl are the
 * values above times 1/2 exactly, w = 1/dh the same quotient, and rem = 1 − w
 * dh − w dl already the rem/2 of the correction; r/2 = a − k L1/2 is exact as
 * r is, r = r/2 + r/2, and the even and odd halves run in r²/2 = r · r/2
 * with the coefficients times the powers of two that make every partial
 * sum an exact power-of-two multiple of the unscaled one (2⁶ C[0], 2⁵ C[1],
 * 2⁵ C[2], ..., 2 C[9]; c1 comes out doubled, so h = fl(r²/2 · c1 + r²/2)).
 * No rounding moves unless something underflows, and nothing does in the
 * lanes that are kept: there r = 2a ≥ 2⁻²⁶ (k = 0) or r is 0 or a multiple
 * of 2⁻⁵³ (of ulp(t) and of L1's last bit), so r²/2 is 0 or ≥ 2⁻¹⁰⁷ and
 * its powers times the coefficients stay far above 2⁻¹⁰²². */
/* The kernel is written once for 4 lanes (AVX2, W = 256) and 8 lanes
 * (AVX-512, W = 512): the same operations in the same order, so both give
 * the same bits (test_vmath compares them); on this machine's AVX-512 the
 * 8-lane loop takes half the time per value. It runs on NV vectors in
 * lockstep (each operation on all NV before the next), y[q] = tanh x[q]
 * in place: the kernel is one chain of about 40 dependent operations, and
 * the out-of-order window does not reach far enough into the next
 * vectors' chains to fill the pipes, so four interleaved chains took 20 %
 * less time per value than one (0.63 against 0.78 ns on 8192 values in 8
 * lanes, 1.35 against 1.61 in 4; Zen 5, eleventh session, docs/performance.md
 * "The tanh kernel in lockstep");
 * each lane's operations are the same, so the same bits. */
#define PH_TANH_FOR(NV) _Pragma("GCC unroll 8") for (int q = 0; q < NV; q++)
#define PH_TANH_KERNEL(W, VD, NV, TARGET)                                      \
  __attribute__((target(TARGET),                                               \
                 always_inline)) static inline void tanh_v##W##x##NV(VD *x) {  \
    static const double C[10] = {                                              \
        0x1.1f72fc730b4ffp-23, 0x1.af4ddd84882fep-21, 0x1.27e4db67b4303p-17,   \
        0x1.71de02375656cp-15, 0x1.a01a01a6d7808p-12, 0x1.a01a01abe62ddp-10,   \
        0x1.6c16c16c162d6p-7,  0x1.11111111100dfp-5,  0x1.5555555555556p-3,    \
        0x1.5555555555557p-2}; /* r^10 .. r^1 of C1, scaled (see above) */     \
    const VD sign = _mm##W##_set1_pd(-0.0), one = _mm##W##_set1_pd(1.0),       \
             half = _mm##W##_set1_pd(0.5),                                     \
             shift = _mm##W##_set1_pd(0x1.8p52 + 1022);                        \
    VD a[NV], p2k[NV], B[NV], r[NV], rl[NV], r2[NV], ev[NV], od[NV];           \
    PH_TANH_FOR(NV) {                                                          \
      a[q] = _mm##W##_andnot_pd(sign, x[q]);                                   \
      VD ac = _mm##W##_min_pd(_mm##W##_set1_pd(20.0), a[q]); /* NaN passes */  \
      /* k in j's low bits (rounded to nearest by the shift), and 2^(k−1) */ \
      VD j =                                                                   \
          _mm##W##_fmadd_pd(ac, _mm##W##_set1_pd(0x1.71547652b82fep1), shift); \
      VD k = _mm##W##_sub_pd(j, shift);                                        \
      p2k[q] = _mm##W##_castsi##W##_pd(                                        \
          _mm##W##_slli_epi64(_mm##W##_castpd_si##W(j), 52));                  \
      B[q] = _mm##W##_add_pd(p2k[q], half);                                    \
      VD rh =                                                                  \
          _mm##W##_fnmadd_pd(k, _mm##W##_set1_pd(0x1.62e42fefa3800p-2), ac);   \
      r[q] = _mm##W##_add_pd(rh, rh);                                          \
      rl[q] = _mm##W##_mul_pd(k, _mm##W##_set1_pd(-0x1.ef35793c76730p-45));    \
      r2[q] = _mm##W##_mul_pd(r[q], rh); /* r²/2 */                           \
      ev[q] = _mm##W##_set1_pd(C[0]);                                          \
      od[q] = _mm##W##_set1_pd(C[1]);                                          \
    }                                                                          \
    for (int i = 2; i < 10; i += 2) PH_TANH_FOR(NV) {                          \
        ev[q] = _mm##W##_fmadd_pd(ev[q], r2[q], _mm##W##_set1_pd(C[i]));       \
        od[q] = _mm##W##_fmadd_pd(od[q], r2[q], _mm##W##_set1_pd(C[i + 1]));   \
      }                                                                        \
    PH_TANH_FOR(NV) {                                                          \
      VD c1 = _mm##W##_fmadd_pd(r2[q], ev[q], _mm##W##_mul_pd(r[q], od[q]));   \
      VD h = _mm##W##_fmadd_pd(r2[q], c1, r2[q]);                              \
      VD s = _mm##W##_add_pd(r[q], h);                                         \
      VD dh = _mm##W##_fmadd_pd(p2k[q], s, B[q]);                              \
      VD dl = _mm##W##_fmadd_pd(p2k[q], r[q], _mm##W##_sub_pd(B[q], dh));      \
      dl = _mm##W##_fmadd_pd(                                                  \
          p2k[q], _mm##W##_add_pd(h, _mm##W##_fmadd_pd(rl[q], s, rl[q])), dl); \
      ev[q] = dh; /* the registers are free: dh and dl from here on */         \
      od[q] = dl;                                                              \
    }                                                                          \
    PH_TANH_FOR(NV) {                                                          \
      VD dh = ev[q], dl = od[q];                                               \
      VD w = _mm##W##_div_pd(one, dh);                                         \
      VD rem = _mm##W##_fnmadd_pd(w, dl, _mm##W##_fnmadd_pd(w, dh, one));      \
      VD y0 = _mm##W##_sub_pd(one, w);                                         \
      VD ye = _mm##W##_sub_pd(_mm##W##_sub_pd(one, y0), w);                    \
      ye = _mm##W##_fnmadd_pd(rem, w, ye);                                     \
      VD y = tiny_as_is_##W(_mm##W##_add_pd(y0, ye), a[q]);                    \
      x[q] = _mm##W##_or_pd(y, _mm##W##_and_pd(x[q], sign));                   \
    }                                                                          \
  }

/* y, but a itself in the lanes where a < 2⁻²⁷ */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256d
tiny_as_is_256(__m256d y, __m256d a) {
  return _mm256_blendv_pd(
      y, a, _mm256_cmp_pd(a, _mm256_set1_pd(0x1p-27), _CMP_LT_OQ));
}
__attribute__((target("avx512f,avx512dq"), always_inline)) static inline __m512d
tiny_as_is_512(__m512d y, __m512d a) {
  return _mm512_mask_blend_pd(
      _mm512_cmp_pd_mask(a, _mm512_set1_pd(0x1p-27), _CMP_LT_OQ), y, a);
}

PH_TANH_KERNEL(256, __m256d, 1, "avx2,fma")
PH_TANH_KERNEL(256, __m256d, 4, "avx2,fma")
PH_TANH_KERNEL(512, __m512d, 1, "avx512f,avx512dq")
PH_TANH_KERNEL(512, __m512d, 4, "avx512f,avx512dq")

/* one vector, as PH_VFUN calls it */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256d
tanh_v256(__m256d x) {
  tanh_v256x1(&x);
  return x;
}
__attribute__((target("avx512f,avx512dq"), always_inline)) static inline __m512d
tanh_v512(__m512d x) {
  tanh_v512x1(&x);
  return x;
}
PH_VFUN(exp, Sleef_expd8_u10avx512f, Sleef_expd4_u10avx2, Sleef_expd2_u10)
PH_VFUN(log, Sleef_logd8_u10avx512f, Sleef_logd4_u10avx2, Sleef_logd2_u10)
PH_VFUN(log1p, Sleef_log1pd8_u10avx512f, Sleef_log1pd4_u10avx2,
        Sleef_log1pd2_u10)
PH_VFUN(tanh, tanh_v512, tanh_v256, Sleef_tanhd2_u10)
PH_VFUN(erf, Sleef_erfd8_u10avx512f, Sleef_erfd4_u10avx2, Sleef_erfd2_u10)
PH_VFUN(erfc, Sleef_erfcd8_u15avx512f, Sleef_erfcd4_u15avx2, Sleef_erfcd2_u15)

/* tanh and its derivatives in one pass: y = tanh x, σ' = 1 − y² and
 * σ'' = −2 y σ' straight from the register, each stored only when asked
 * for (an evaluation's forward does not need σ'). σ' is a product then a
 * difference, two roundings, as the scalar formula everywhere else
 * (nn_act_d1_from_output reads it back from y to the same bits). */
__attribute__((target("avx2,fma"))) static inline void
tanh_d_put(__m256d y, double *f, double *d1, double *d2) {
  if (f) _mm256_storeu_pd(f, y);
  if (!d1 && !d2) return;
  __m256d yy = _mm256_mul_pd(y, y);
  __asm__("" : "+x"(yy)); /* no FMA contraction: the scalar bits */
  __m256d g = _mm256_sub_pd(_mm256_set1_pd(1.0), yy);
  if (d1) _mm256_storeu_pd(d1, g);
  if (d2)
    _mm256_storeu_pd(d2,
                     _mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(-2.0), y), g));
}

__attribute__((target("avx2,fma"))) static void
tanh_d_avx2(const double *x, double *f, double *d1, double *d2, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) { /* four vectors in lockstep (above) */
    __m256d y[4];
    for (int q = 0; q < 4; q++) y[q] = _mm256_loadu_pd(x + i + 4 * q);
    tanh_v256x4(y);
    for (int q = 0; q < 4; q++) {
      size_t o = i + 4 * (size_t)q;
      tanh_d_put(y[q], f ? f + o : NULL, d1 ? d1 + o : NULL,
                 d2 ? d2 + o : NULL);
    }
  }
  for (; i + 4 <= n; i += 4)
    tanh_d_put(tanh_v256(_mm256_loadu_pd(x + i)), f ? f + i : NULL,
               d1 ? d1 + i : NULL, d2 ? d2 + i : NULL);
  if (i < n) {
    double a[4] = {0, 0, 0, 0}, b[3][4];
    size_t r = (n - i) * sizeof *a;
    memcpy(a, x + i, r);
    tanh_d_put(tanh_v256(_mm256_loadu_pd(a)), b[0], b[1], b[2]);
    if (f) memcpy(f + i, b[0], r);
    if (d1) memcpy(d1 + i, b[1], r);
    if (d2) memcpy(d2 + i, b[2], r);
  }
}

/* The 8-lane loop: y, σ' and σ'' of one vector stored under mask m (a
 * partial last vector through masked loads, zeros in the other lanes, as
 * the 4-lane loop's padding, and masked stores). */
__attribute__((target("avx512f,avx512dq"), always_inline)) static inline void
tanh_d_put512(__m512d y, __mmask8 m, double *f, double *d1, double *d2) {
  if (f) _mm512_mask_storeu_pd(f, m, y);
  if (!d1 && !d2) return;
  __m512d yy = _mm512_mul_pd(y, y);
  __asm__("" : "+v"(yy)); /* no FMA contraction: the scalar bits */
  __m512d g = _mm512_sub_pd(_mm512_set1_pd(1.0), yy);
  if (d1) _mm512_mask_storeu_pd(d1, m, g);
  if (d2)
    _mm512_mask_storeu_pd(
        d2, m, _mm512_mul_pd(_mm512_mul_pd(_mm512_set1_pd(-2.0), y), g));
}

/* Four vectors per step, in lockstep (PH_TANH_KERNEL); both loads come
 * before the stores, so f may be x. */
__attribute__((target("avx512f,avx512dq"))) static void
tanh_d_avx512(const double *x, double *f, double *d1, double *d2, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512d y[4];
    for (int q = 0; q < 4; q++) y[q] = _mm512_loadu_pd(x + i + 8 * q);
    tanh_v512x4(y);
    for (int q = 0; q < 4; q++) {
      size_t o = i + 8 * (size_t)q;
      tanh_d_put512(y[q], 0xff, f ? f + o : NULL, d1 ? d1 + o : NULL,
                    d2 ? d2 + o : NULL);
    }
  }
  for (; i < n; i += 8) {
    __mmask8 m = n - i >= 8 ? 0xff : (__mmask8)((1u << (n - i)) - 1);
    tanh_d_put512(tanh_v512(_mm512_maskz_loadu_pd(m, x + i)), m,
                  f ? f + i : NULL, d1 ? d1 + i : NULL, d2 ? d2 + i : NULL);
  }
}

const char *ph_vmath_backend(void) {
  return have_avx512() ? "sleef-avx512"
         : have_avx2() ? "sleef-avx2"
                       : "sleef-sse2";
}

#else

#define PH_VMATH_AVX2 0
#define PH_VFUN(name, fn)                                                      \
  static void vm_##name(const double *x, double *y, size_t n) {                \
    for (size_t i = 0; i < n; i++) y[i] = fn(x[i]);                            \
  }
PH_VFUN(exp, exp)
PH_VFUN(log, log)
PH_VFUN(log1p, log1p)
PH_VFUN(tanh, tanh)
PH_VFUN(erf, erf)
PH_VFUN(erfc, erfc)

const char *ph_vmath_backend(void) {
  return "libm";
}
int ph_vmath_avx2(void) {
  return 0;
}
int ph_vmath_avx512(void) {
  return 0;
}
void ph_vmath_allow_avx2(int allow) {
  (void)allow;
}
void ph_vmath_allow_avx512(int allow) {
  (void)allow;
}

#endif

void ph_vmath_exp(const double *x, double *y, size_t n) {
  vm_exp(x, y, n);
}
void ph_vmath_log(const double *x, double *y, size_t n) {
  vm_log(x, y, n);
}
void ph_vmath_tanh(const double *x, double *y, size_t n) {
#if PH_VMATH_AVX2
  if (have_avx512()) {
    tanh_d_avx512(x, y, NULL, NULL, n); /* y may be x: each load first */
    return;
  }
  if (have_avx2()) {
    tanh_d_avx2(x, y, NULL, NULL, n);
    return;
  }
#endif
  vm_tanh(x, y, n);
}
void ph_vmath_erf(const double *x, double *y, size_t n) {
  vm_erf(x, y, n);
}
void ph_vmath_erfc(const double *x, double *y, size_t n) {
  vm_erfc(x, y, n);
}

/* SLEEF's log1p overflows to inf above ~1e307; there log1p(x) = log(x) to
 * rounding, and libm's log1p gives the right value for the rare lane. */
void ph_vmath_log1p(const double *x, double *y, size_t n) {
  double t[VCHUNK];
  for (size_t o = 0; o < n; o += VCHUNK) {
    size_t m = n - o < VCHUNK ? n - o : VCHUNK;
    memcpy(t, x + o, m * sizeof *t); /* y may alias x */
    vm_log1p(t, y + o, m);
    for (size_t i = 0; i < m; i++)
      if (y[o + i] == INFINITY && t[i] < INFINITY) y[o + i] = log1p(t[i]);
  }
}

void ph_vmath_tanh_d(const double *x, double *f, double *d1, double *d2,
                     size_t n) {
#if PH_VMATH_AVX2
  if (have_avx512()) {
    tanh_d_avx512(x, f, d1, d2, n);
    return;
  }
  if (have_avx2()) {
    tanh_d_avx2(x, f, d1, d2, n);
    return;
  }
#endif
  double t[VCHUNK];
  for (size_t o = 0; o < n; o += VCHUNK) {
    size_t m = n - o < VCHUNK ? n - o : VCHUNK;
    double *y = f ? f + o : t; /* f does not alias x (vmath.h) */
    ph_vmath_tanh(x + o, y, m);
    for (size_t i = 0; i < m; i++) {
      double g = 1 - y[i] * y[i];
      if (d1) d1[o + i] = g;
      if (d2) d2[o + i] = -2 * y[i] * g;
    }
  }
}

/* s = 1/(1 + e^{−x}) into s (m values). */
static void sigmoid_chunk(const double *x, double *s, size_t m) {
  for (size_t i = 0; i < m; i++) s[i] = -x[i];
  ph_vmath_exp(s, s, m);
  for (size_t i = 0; i < m; i++) s[i] = 1 / (1 + s[i]);
}

void ph_vmath_sigmoid_d(const double *x, double *f, double *d1, double *d2,
                        size_t n) {
  double s[VCHUNK];
  for (size_t o = 0; o < n; o += VCHUNK) {
    size_t m = n - o < VCHUNK ? n - o : VCHUNK;
    sigmoid_chunk(x + o, s, m);
    if (f) memcpy(f + o, s, m * sizeof *s);
    for (size_t i = 0; i < m; i++) {
      double g = s[i] * (1 - s[i]);
      if (d1) d1[o + i] = g;
      if (d2) d2[o + i] = g * (1 - 2 * s[i]);
    }
  }
}

void ph_vmath_softplus_d(const double *x, double *f, double *d1, double *d2,
                         size_t n) {
  double s[VCHUNK];
  for (size_t o = 0; o < n; o += VCHUNK) {
    size_t m = n - o < VCHUNK ? n - o : VCHUNK;
    const double *xo = x + o;
    if (f) {
      /* log1p(e^x); above 30, e^x > 1e13 and log1p(e^x) = x to rounding */
      ph_vmath_exp(xo, s, m);
      ph_vmath_log1p(s, s, m);
      for (size_t i = 0; i < m; i++) f[o + i] = xo[i] > 30 ? xo[i] : s[i];
    }
    if (!d1 && !d2) continue;
    sigmoid_chunk(xo, s, m);
    for (size_t i = 0; i < m; i++) {
      if (d1) d1[o + i] = s[i];
      if (d2) d2[o + i] = s[i] * (1 - s[i]);
    }
  }
}

void ph_vmath_gelu_d(const double *x, double *f, double *d1, double *d2,
                     size_t n) {
  double Phi[VCHUNK], phi[VCHUNK];
  for (size_t o = 0; o < n; o += VCHUNK) {
    size_t m = n - o < VCHUNK ? n - o : VCHUNK;
    const double *xo = x + o;
    if (f || d1) {
      for (size_t i = 0; i < m; i++) Phi[i] = -xo[i] * PH_INV_SQRT2;
      ph_vmath_erfc(Phi, Phi, m);
      for (size_t i = 0; i < m; i++) Phi[i] *= 0.5;
    }
    if (d1 || d2) {
      for (size_t i = 0; i < m; i++) phi[i] = -0.5 * xo[i] * xo[i];
      ph_vmath_exp(phi, phi, m);
      for (size_t i = 0; i < m; i++) phi[i] *= PH_INV_SQRT2PI;
    }
    for (size_t i = 0; i < m; i++) {
      if (f) f[o + i] = xo[i] * Phi[i];
      if (d1) d1[o + i] = Phi[i] + xo[i] * phi[i];
      if (d2) d2[o + i] = phi[i] * (2 - xo[i] * xo[i]);
    }
  }
}

static void softmax_rows(const double *z, double *p, double *lse, size_t rows,
                         size_t C, size_t ld, int normalise) {
  if (C == 0) return;
  double mxs[VCHUNK];
  /* rows in chunks: shift by the row max, one exp over the chunk (rows
   * contiguous when ld = C), then normalise each row */
  size_t per = ld == C ? (VCHUNK * 16) / (C ? C : 1) : 1;
  if (per == 0) per = 1;
  if (per > VCHUNK) per = VCHUNK;
  for (size_t r0 = 0; r0 < rows; r0 += per) {
    size_t nr = rows - r0 < per ? rows - r0 : per;
    for (size_t r = 0; r < nr; r++) {
      const double *zr = z + (r0 + r) * ld;
      double *pr = p + (r0 + r) * ld;
      double mx = zr[0];
      for (size_t j = 1; j < C; j++)
        if (zr[j] > mx) mx = zr[j];
      mxs[r] = mx;
      for (size_t j = 0; j < C; j++) pr[j] = zr[j] - mx;
      if (ld != C) ph_vmath_exp(pr, pr, C);
    }
    if (ld == C) ph_vmath_exp(p + r0 * C, p + r0 * C, nr * C);
    for (size_t r = 0; r < nr; r++) {
      double *pr = p + (r0 + r) * ld, s = 0;
      for (size_t j = 0; j < C; j++) s += pr[j];
      if (normalise)
        for (size_t j = 0; j < C; j++) pr[j] /= s;
      if (lse) lse[r0 + r] = mxs[r] + log(s);
    }
  }
}

void ph_vmath_softmax_rows(const double *z, double *p, double *lse, size_t rows,
                           size_t C, size_t ld) {
  softmax_rows(z, p, lse, rows, C, ld, 1);
}

void ph_vmath_lse_rows(const double *z, double *work, double *lse, size_t rows,
                       size_t C) {
  softmax_rows(z, work, lse, rows, C, C, 0);
}
