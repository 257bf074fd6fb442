/* fdcheck.h: comparing an exact derivative with central differences.
 *
 * A central difference D(h) = f' + c h² + O(h⁴) + rounding O(ε·F/h), F the
 * size of the values differenced. From D(h) and D(2h), |D(2h) − D(h)| ≈ 3|c|h²
 * estimates the truncation error at h, so the tolerance is 2·|D(2h) − D(h)|
 * (6× the estimate) + 64·ε·F/h (rounding) + 1e-13. With h = 1e-4 and O(1)
 * data that is ~1e-9, far below the O(1e-2 .. 1) errors of a wrong formula.
 * If the estimate itself exceeds 1e-5 the differences do not resolve the
 * derivative and the check fails rather than pass vacuously. */
#ifndef PH_TESTS_TF_FDCHECK_H
#define PH_TESTS_TF_FDCHECK_H

#include <math.h>
#include <stdio.h>

#define H_FD 1e-4
#define EPS 2.220446049250313e-16

static inline int fd_close(double got, double Dh, double D2h, double F,
                           const char *what, size_t i) {
  double trunc = fabs(D2h - Dh);
  double tol = 2.0 * trunc + 64.0 * EPS * F / H_FD + 1e-13;
  if (trunc > 1e-5) {
    fprintf(stderr, "%s[%zu]: FD does not resolve (|D2h-Dh| = %.3g)\n", what, i,
            trunc);
    return 0;
  }
  if (!(fabs(got - Dh) <= tol)) {
    fprintf(stderr, "%s[%zu]: exact %.15g vs FD %.15g (tol %.3g)\n", what, i,
            got, Dh, tol);
    return 0;
  }
  return 1;
}

#endif
