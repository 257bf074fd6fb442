/* dense.h: the dense layer y = x Wᵀ + b of both network engines (the
 * sequential chain, layers.c/layers_tangent.c, and the transformer,
 * transformer.c), with its four passes. x (N, in), W (out, in), b (out),
 * y (N, out), row-major.
 *
 * One convention for every adjoint and every tangent of an adjoint: it
 * ACCUMULATES (+=), as in tf_kernels.h, so residual branches and shared
 * parameters add up; a caller that wants an overwrite zeroes first. A NULL
 * output is not computed (dx of the first layer; dW, db together when only
 * the input adjoint is wanted, as in the backward inside Hv).
 * Derivations: docs/autodiff.md §2.
 */
#ifndef PH_NN_DENSE_H
#define PH_NN_DENSE_H

#include <stddef.h>

/* C (M, Nc) += op(A) op(B) (beta 1), row-major with plain strides: A is
 * (M, K), or (K, M) when ta; B is (K, Nc), or (Nc, K) when tb. Every dense
 * pass below runs its products through it. Where libxsmm targets AVX-512
 * (ph_nn_gemm_wide), as tiled libxsmm kernels whose tiles depend on the
 * shape only (a row's values do not depend on the other rows of the
 * call); elsewhere as before: libxsmm for the small shapes where it beat
 * OpenBLAS on an AVX2 core, OpenBLAS otherwise (dense.c). `pothole bench
 * products` times its "GEMMs alone" through it. */
void ph_nn_gemm_acc(int ta, int tb, size_t M, size_t Nc, size_t K,
                    const double *A, const double *B, double *C);
/* C (M, Nc) = op(A) op(B), overwriting C: the same bits as zeroing C and
 * calling ph_nn_gemm_acc, without the pass that zeroes it where libxsmm
 * runs the product (its kernels with beta 0). */
void ph_nn_gemm_set(int ta, int tb, size_t M, size_t Nc, size_t K,
                    const double *A, const double *B, double *C);
/* 1 when ph_nn_gemm_acc runs the tiled libxsmm kernels (libxsmm built in
 * and targeting AVX-512 or later), 0 otherwise. */
int ph_nn_gemm_wide(void);

/* y = x Wᵀ + b (overwrites y). */
void ph_nn_dense_forward(double *y, const double *x, const double *W,
                         const double *b, size_t N, size_t in, size_t out);
/* y = b + x Wt, the weights given transposed (Wt = Wᵀ, (in, out))
 * (overwrites y): the NN product, for which libxsmm has kernels (it has
 * none for ph_nn_dense_forward's NT product: on an AVX2 target that one
 * stays with OpenBLAS, at half the speed: docs/performance-history.md,
 * "Eighth session: grids at one thread"; on AVX-512 ph_nn_gemm_acc transposes W
 * panel by panel and both run the same tiled kernels). The bias enters each sum
 * first, so the bits differ from ph_nn_dense_forward's (both are sums of in + 1
 * terms, within the same rounding bound); the grid's plane evaluation uses it
 * (net_obj.c), the products do not. */
void ph_nn_dense_forward_t(double *y, const double *x, const double *Wt,
                           const double *b, size_t N, size_t in, size_t out);
/* dx += dy W; dW += dyᵀ x; db += Σ_rows dy. */
void ph_nn_dense_backward(double *dx, double *dW, double *db, const double *dy,
                          const double *x, const double *W, size_t N, size_t in,
                          size_t out);
/* ẏ = x Ẇᵀ + ẋ Wᵀ + ḃ (overwrites ẏ; xt NULL: ẋ = 0). */
void ph_nn_dense_tangent_forward(double *yt, const double *x, const double *xt,
                                 const double *W, const double *Wt,
                                 const double *bt, size_t N, size_t in,
                                 size_t out);
/* The R-operator of the backward: ḋx += ḋy W [+ dy Ẇ], ḋW += ḋyᵀ x
 * [+ dyᵀ ẋ], ḋb += Σ ḋy; the bracketed terms only when second_order (and
 * dyᵀ ẋ only when xt is not NULL). Without them this is the backward of
 * ḋy, the Gauss-Newton pass. */
void ph_nn_dense_tangent_backward(double *dxt, double *dWt, double *dbt,
                                  const double *dy, const double *dyt,
                                  const double *x, const double *xt,
                                  const double *W, const double *Wt, size_t N,
                                  size_t in, size_t out, int second_order);
/* dx = dy W [+ dy2 W2 when dy2 is not NULL], overwriting dx: the input
 * adjoint of ph_nn_dense_backward (of dy), or of
 * ph_nn_dense_tangent_backward (of dyt, and dy Wt with second_order),
 * for a dx that holds nothing yet, through ph_nn_gemm_set: the same bits
 * as zeroing dx and accumulating. The sequential engine's adjoints
 * overwrite (layers.c, layers_tangent.c); zeroing them first cost two
 * passes over the layer's adjoint per product. */
void ph_nn_dense_dx_set(double *dx, const double *dy, const double *W,
                        const double *dy2, const double *W2, size_t N,
                        size_t in, size_t out);

#endif
