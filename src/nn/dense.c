/* dense.c: the dense layer's four passes, shared by the sequential engine
 * and the transformer (nn/dense.h: adjoints accumulate). Each product is
 * one CBLAS dgemm; the bias is summed row by row in example order, so the
 * result does not depend on which engine calls. Reference: Pearlmutter
 * 1994 for the tangent passes; derivations in docs/autodiff.md §2. */
#include "nn/dense.h"

#include <cblas.h>
#include <string.h>

/* C (M, Nc) += op(A) op(B) (beta 1), row-major, plain strides. */
static void gemm_acc(int ta, int tb, size_t M, size_t Nc, size_t K,
                     const double *A, const double *B, double *C) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
              tb ? CblasTrans : CblasNoTrans, (int)M, (int)Nc, (int)K, 1.0, A,
              ta ? (int)M : (int)K, B, tb ? (int)K : (int)Nc, 1.0, C, (int)Nc);
}

static void rows_sum_acc(const double *y, size_t N, size_t n, double *acc) {
  for (size_t i = 0; i < N; i++)
    for (size_t j = 0; j < n; j++) acc[j] += y[i * n + j];
}

void ph_nn_dense_forward(double *y, const double *x, const double *W,
                         const double *b, size_t N, size_t in, size_t out) {
  for (size_t i = 0; i < N; i++) memcpy(y + i * out, b, out * sizeof *y);
  gemm_acc(0, 1, N, out, in, x, W, y);
}

void ph_nn_dense_backward(double *dx, double *dW, double *db, const double *dy,
                          const double *x, const double *W, size_t N, size_t in,
                          size_t out) {
  if (dW) gemm_acc(1, 0, out, in, N, dy, x, dW);
  if (db) rows_sum_acc(dy, N, out, db);
  if (dx) gemm_acc(0, 0, N, in, out, dy, W, dx);
}

void ph_nn_dense_tangent_forward(double *yt, const double *x, const double *xt,
                                 const double *W, const double *Wt,
                                 const double *bt, size_t N, size_t in,
                                 size_t out) {
  for (size_t i = 0; i < N; i++) memcpy(yt + i * out, bt, out * sizeof *yt);
  gemm_acc(0, 1, N, out, in, x, Wt, yt);
  if (xt) gemm_acc(0, 1, N, out, in, xt, W, yt);
}

void ph_nn_dense_tangent_backward(double *dxt, double *dWt, double *dbt,
                                  const double *dy, const double *dyt,
                                  const double *x, const double *xt,
                                  const double *W, const double *Wt, size_t N,
                                  size_t in, size_t out, int second_order) {
  ph_nn_dense_backward(dxt, dWt, dbt, dyt, x, W, N, in, out);
  if (!second_order) return;
  if (xt && dWt) gemm_acc(1, 0, out, in, N, dy, xt, dWt);
  if (dxt) gemm_acc(0, 0, N, in, out, dy, Wt, dxt);
}
