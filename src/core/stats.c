/* stats.c: interval and summary statistics through GSL (design card:
 * GSL is the numerical library). Wilson 1927, "Probable inference, the law
 * of succession, and statistical inference", JASA 22:209 for the score
 * interval; Student-t intervals for means over seeds. */
#include "core/stats.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>

double ph_stats_z(double level) {
  if (!(level > 0 && level < 1)) return NAN;
  return gsl_cdf_ugaussian_Pinv(0.5 + 0.5 * level);
}

double ph_stats_t(double level, double dof) {
  if (!(level > 0 && level < 1) || !(dof > 0)) return NAN;
  return gsl_cdf_tdist_Pinv(0.5 + 0.5 * level, dof);
}

void ph_stats_wilson(size_t k, size_t n, double level, double *lo, double *hi) {
  if (n == 0) {
    *lo = 0, *hi = 1;
    return;
  }
  double z = ph_stats_z(level);
  double z2 = z * z, nn = (double)n, p = (double)k / nn;
  double den = 1 + z2 / nn, centre = (p + z2 / (2 * nn)) / den;
  double half = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / den;
  *lo = fmax(0.0, centre - half);
  *hi = fmin(1.0, centre + half);
  /* the score interval touches the boundary exactly at k = 0 and k = n;
   * rounding would otherwise leave 1e-17 there */
  if (k == 0) *lo = 0;
  if (k == n) *hi = 1;
}

ph_stats_summary ph_stats_summarise(const double *x, size_t stride, size_t n,
                                    double level) {
  ph_stats_summary s = {n, NAN, NAN, NAN, NAN, NAN, NAN};
  if (n == 0) return s;
  s.mean = gsl_stats_mean(x, stride, n);
  if (n < 2) return s;
  s.sd = gsl_stats_sd_m(x, stride, n, s.mean);
  s.se = s.sd / sqrt((double)n);
  s.half = ph_stats_t(level, (double)(n - 1)) * s.se;
  s.lo = s.mean - s.half;
  s.hi = s.mean + s.half;
  return s;
}

void ph_stats_welch(ph_stats_summary a, ph_stats_summary b, double level,
                    double *diff, double *half) {
  *diff = a.mean - b.mean;
  double va = a.se * a.se, vb = b.se * b.se;
  if (a.n < 2 || b.n < 2 || !(va >= 0 && vb >= 0)) {
    *half = NAN;
    return;
  }
  if (!(va + vb > 0)) {
    *half = 0;
    return;
  }
  double dof = (va + vb) * (va + vb) /
               (va * va / ((double)a.n - 1) + vb * vb / ((double)b.n - 1));
  *half = ph_stats_t(level, dof) * sqrt(va + vb);
}

double ph_stats_quantile_inplace(double *x, size_t n, double q) {
  if (n == 0 || !(q >= 0 && q <= 1)) return NAN;
  /* the same interpolation as gsl_stats_quantile_from_sorted_data, without
   * sorting: only the two order statistics around (n-1)q are selected (each
   * selection is O(n) expected; U's blocks are refreshed often) */
  double pos = (double)(n - 1) * q;
  size_t i = (size_t)floor(pos);
  double d = pos - (double)i;
  double a = gsl_stats_select(x, 1, n, i);
  if (d == 0 || i + 1 >= n) return a;
  double b = gsl_stats_select(x, 1, n, i + 1);
  return (1 - d) * a + d * b;
}
