/* vec.h: BLAS-1 helpers on flat parameter vectors (double[n]).
 * Thin wrappers over CBLAS (OpenBLAS provides the symbols; see README
 * "Build"). This header deliberately does not include <cblas.h>, so modules
 * that also include GSL headers never see two CBLAS declarations. */
#ifndef PH_CORE_VEC_H
#define PH_CORE_VEC_H

#include <stddef.h>

double ph_vec_dot(size_t n, const double *x, const double *y);
double ph_vec_nrm2(size_t n, const double *x);
void ph_vec_axpy(size_t n, double a, const double *x, double *y); /* y += a x */
void ph_vec_scal(size_t n, double a, double *x);                  /* x *= a */
void ph_vec_copy(size_t n, const double *x, double *y);           /* y = x */
void ph_vec_zero(size_t n, double *x);
/* z = a x + b y (z may alias x or y). */
void ph_vec_axpby(size_t n, double a, const double *x, double b,
                  const double *y, double *z);
/* Largest |x_i|; 0 for n == 0. */
double ph_vec_amax(size_t n, const double *x);
/* 1 when every entry is finite. */
int ph_vec_all_finite(size_t n, const double *x);

#endif
