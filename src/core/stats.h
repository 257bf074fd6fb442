/* stats.h: the project's statistics in one place, computed with GSL
 * (quantiles from gsl_cdf_*_Pinv, moments from gsl_stats_*, selection from
 * gsl_stats_select). Every interval the toolkit prints comes from here:
 * Wilson score intervals for rates, Student-t intervals for means over
 * seeds, normal quantiles where a large-sample standard error is reported. */
#ifndef PH_CORE_STATS_H
#define PH_CORE_STATS_H

#include <stddef.h>

/* The default confidence level of every interval in the toolkit. */
#define PH_STATS_LEVEL 0.95

/* Two-sided normal quantile: z with P(|Z| <= z) = level (1.959964 at 0.95).
 * NaN unless 0 < level < 1. */
double ph_stats_z(double level);
/* Two-sided Student-t quantile with dof degrees of freedom (2.776445 for
 * dof 4 at 0.95). NaN unless 0 < level < 1 and dof > 0. */
double ph_stats_t(double level, double dof);

/* Wilson (1927) score interval for k successes in n trials at `level`,
 * clipped to [0, 1]; [0, 1] when n == 0. */
void ph_stats_wilson(size_t k, size_t n, double level, double *lo, double *hi);

/* A sample of n values summarised as mean ± t_{level,n-1}·sd/√n. */
typedef struct {
  size_t n;
  double mean;
  double sd;   /* sample standard deviation (n - 1); NaN for n < 2 */
  double se;   /* sd / √n; NaN for n < 2 */
  double half; /* half-width of the t interval; NaN for n < 2 */
  double lo, hi;
} ph_stats_summary;

/* Summary of x[0], x[stride], ..., x[(n-1)·stride]. NaN values are not
 * skipped: a NaN in the sample makes the summary NaN. n == 0 gives an
 * all-NaN summary with n = 0. */
ph_stats_summary ph_stats_summarise(const double *x, size_t stride, size_t n,
                                    double level);

/* Welch's interval for mean(a) − mean(b) from two summaries (unequal
 * variances): *diff = a.mean − b.mean and *half = t_{level,ν}·√(se_a² +
 * se_b²) with the Welch–Satterthwaite ν. *half is NaN when either sample has
 * fewer than two values, 0 when both have no spread. */
void ph_stats_welch(ph_stats_summary a, ph_stats_summary b, double level,
                    double *diff, double *half);

/* The q-quantile (0 <= q <= 1, linear interpolation between order
 * statistics, as gsl_stats_quantile_from_sorted_data) of x[0..n). Reorders
 * x (selection, O(n) expected); NaN for n == 0. */
double ph_stats_quantile_inplace(double *x, size_t n, double q);

#endif
