/* vmath.h: vectorised elementwise math for the network engines.
 *
 * Array versions of exp, log, log1p, tanh, erf and erfc through SLEEF
 * (libsleef, the 1.0-ulp "u10" functions; erfc is SLEEF's 1.5-ulp u15),
 * four lanes at a time with AVX2 when the CPU has it (checked at run time),
 * two with SSE2 otherwise; tanh on AVX2 is vmath.c's own kernel (a
 * polynomial and an inline exponential, 0.87 ulp). Built on them, the
 * activations and their first and second derivatives (σ, σ', σ'') and the
 * softmax of rows, shared by the sequential engine (layers.c, net_obj.c) and
 * the transformer kernels (tf_kernels.c). Each result depends on its own
 * argument only (never on the position in the array or the array's length), so
 * chunked and threaded callers get the same bits.
 *
 * Accuracy (tests/nn/test_vmath.c): every primitive within 2 ulp of glibc's
 * libm over a sweep from subnormals to overflow, both signs; the
 * activations within 2 ulp of the same formula evaluated with libm where
 * the formula is well conditioned, and within the bound its conditioning
 * gives elsewhere.
 *
 * Building without SLEEF (meson finds no libsleef) gives the same functions
 * as plain libm loops (PH_HAVE_SLEEF 0).
 */
#ifndef PH_NN_VMATH_H
#define PH_NN_VMATH_H

#include <stddef.h>

/* y[i] = f(x[i]) for i < n; y may alias x. */
void ph_vmath_exp(const double *x, double *y, size_t n);
void ph_vmath_log(const double *x, double *y, size_t n);
void ph_vmath_log1p(const double *x, double *y, size_t n);
void ph_vmath_tanh(const double *x, double *y, size_t n);
void ph_vmath_erf(const double *x, double *y, size_t n);
void ph_vmath_erfc(const double *x, double *y, size_t n);

/* Activations, f = σ(x), d1 = σ'(x), d2 = σ''(x); any of f, d1, d2 may be
 * NULL (not computed); none may alias x.
 *   tanh      f = tanh x, d1 = 1 − f², d2 = −2 f d1
 *   sigmoid   s = 1/(1 + e^{−x}), d1 = s(1 − s), d2 = d1 (1 − 2s)
 *   softplus  f = log1p(e^x) (x for x > 30), d1 = s, d2 = s(1 − s)
 *   gelu      f = x Φ(x) with Φ(x) = erfc(−x/√2)/2 (no cancellation for
 *             x ≪ 0, unlike 1 + erf), d1 = Φ + xφ, d2 = φ(2 − x²),
 *             φ(x) = e^{−x²/2}/√(2π) */
void ph_vmath_tanh_d(const double *x, double *f, double *d1, double *d2,
                     size_t n);
void ph_vmath_sigmoid_d(const double *x, double *f, double *d1, double *d2,
                        size_t n);
void ph_vmath_softplus_d(const double *x, double *f, double *d1, double *d2,
                         size_t n);
void ph_vmath_gelu_d(const double *x, double *f, double *d1, double *d2,
                     size_t n);

/* Softmax of each of `rows` rows of length C of z (ld apart in z and p):
 * p = exp(z − max)/Σ. When lse is not NULL, lse[r] = max + log Σ (the
 * log-sum-exp, so −log p_y = lse − z_y stays accurate for tiny p_y). */
void ph_vmath_softmax_rows(const double *z, double *p, double *lse, size_t rows,
                           size_t C, size_t ld);
/* lse[r] alone for each of `rows` contiguous rows of length C, the same
 * bits as ph_vmath_softmax_rows gives, without normalising p (a loss
 * without its gradient: the division of every probability was a quarter
 * of a grid point's softmax); work (rows × C) takes exp(z − max). */
void ph_vmath_lse_rows(const double *z, double *work, double *lse, size_t rows,
                       size_t C);

/* "sleef-avx512", "sleef-avx2", "sleef-sse2" or "libm": what the functions
 * run on. */
const char *ph_vmath_backend(void);
/* 0: use the SSE2 path even on an AVX2 machine (for tests; not thread-safe,
 * set it before any worker runs). It also switches the AVX2 builds of the
 * engine's elementwise loops (src/nn/layers.c), which give the same bits. */
void ph_vmath_allow_avx2(int allow);
/* 1 when the AVX2 + FMA paths run: the CPU has them and they are allowed. */
int ph_vmath_avx2(void);
/* 0: the engine's 8-lane paths (tanh; the direct convolution kernels,
 * src/nn/conv_direct.c) take their AVX2 ones even on an AVX-512 machine
 * (for tests, as above; the two give the same bits). */
void ph_vmath_allow_avx512(int allow);
/* 1 when the AVX-512 paths run: the CPU has AVX-512F/DQ (and AVX2 + FMA)
 * and they are allowed. */
int ph_vmath_avx512(void);

#endif
