/* plot_ticks.c: nice tick values and their labels, axis ranges, contour
 * levels. Pure functions (no cairo), tested in tests/plots.
 *
 * Ticks sit at integer multiples of m·10^k with m in {1, 2, 2.5, 5}
 * (Heckbert, "Nice numbers for graph labels", Graphics Gems, 1990). Values
 * are computed as (i·m)·10^k or (i·m)/10^-k so that 0.3 is the double
 * nearest 0.3, and labels are printed with one number of decimals for the
 * whole axis, so an axis never reads 0.30000000000000004 or mixes "0.5" with
 * "1". Does not choose fonts or measure text (plot_fig.c does).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot.h"

#define MINUS "\xe2\x88\x92" /* U+2212 */
#define TIMES "\xc3\x97"     /* U+00D7 */

static const char *const k_sup[10] = {
    "\xe2\x81\xb0", "\xc2\xb9",     "\xc2\xb2",     "\xc2\xb3",
    "\xe2\x81\xb4", "\xe2\x81\xb5", "\xe2\x81\xb6", "\xe2\x81\xb7",
    "\xe2\x81\xb8", "\xe2\x81\xb9"};
#define SUP_MINUS "\xe2\x81\xbb" /* U+207B */

static double pow10i(int k) {
  double p = 1.0;
  for (int i = 0; i < (k < 0 ? -k : k); i++) p *= 10.0;
  return p;
}

/* i·m·10^k with one rounding at the end. */
static double scaled(double im, int k) {
  return k >= 0 ? im * pow10i(k) : im / pow10i(-k);
}

double ph_plot_nice_step(double span, int target, double *mant, int *expo) {
  if (target < 1) target = 1;
  double raw = span / target;
  int k = (int)floor(log10(raw));
  double f = raw / pow10i(k < 0 ? 0 : k) * (k < 0 ? pow10i(-k) : 1.0);
  /* f in [1, 10) up to rounding */
  static const double ms[] = {1.0, 2.0, 2.5, 5.0, 10.0};
  double m = 10.0;
  for (int i = 0; i < 5; i++) {
    /* choose the candidate nearest raw in log terms among neighbours */
    if (f <= ms[i] * 1.0000001) {
      m = ms[i];
      if (i > 0 && ms[i] / f > f / ms[i - 1]) m = ms[i - 1];
      break;
    }
  }
  if (m == 10.0) {
    m = 1.0;
    k += 1;
  }
  if (mant) *mant = m;
  if (expo) *expo = k;
  return scaled(m, k);
}

void ph_plot_format_fixed(char *buf, size_t len, double v, int decimals) {
  if (decimals < 0) decimals = 0;
  if (decimals > 15) decimals = 15;
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%.*f", decimals, fabs(v));
  int zero = 1;
  for (const char *p = tmp; *p; p++)
    if (*p >= '1' && *p <= '9') zero = 0;
  snprintf(buf, len, "%s%s", (v < 0 && !zero) ? MINUS : "", tmp);
}

void ph_plot_format_pow10(char *buf, size_t len, int n) {
  char tmp[64];
  size_t o = 0;
  o += (size_t)snprintf(tmp + o, sizeof tmp - o, "10");
  if (n < 0) o += (size_t)snprintf(tmp + o, sizeof tmp - o, SUP_MINUS);
  char digits[16];
  snprintf(digits, sizeof digits, "%d", n < 0 ? -n : n);
  for (const char *p = digits; *p && o < sizeof tmp - 4; p++)
    o += (size_t)snprintf(tmp + o, sizeof tmp - o, "%s", k_sup[*p - '0']);
  snprintf(buf, len, "%s", tmp);
}

ph_status ph_plot_ticks_linear(double lo, double hi, int target,
                               ph_plot_ticks *t, ph_error *err) {
  memset(t, 0, sizeof *t);
  if (!isfinite(lo) || !isfinite(hi) || lo > hi)
    return ph_error_set(err, PH_ERR_ARG, "axis range [%g, %g] is not valid", lo,
                        hi);
  if (hi - lo <= 1e-12 * fmax(1.0, fabs(lo))) {
    double d = lo == 0 ? 1.0 : 0.1 * fabs(lo);
    lo -= d;
    hi += d;
  }
  if (target < 2) target = 2;
  double m;
  int k;
  for (;;) {
    ph_plot_nice_step(hi - lo, target, &m, &k);
    double step = scaled(m, k);
    double slack = 1e-9 * (hi - lo);
    long i0 = (long)ceil((lo - slack) / step);
    long i1 = (long)floor((hi + slack) / step);
    if (i1 - i0 + 1 > PH_PLOT_MAX_TICKS) {
      target = target / 2 > 1 ? target / 2 : 2;
      if (target == 2 && i1 - i0 + 1 > PH_PLOT_MAX_TICKS) {
        /* pathological; cannot happen for nice steps with target 2 */
        return ph_error_set(err, PH_ERR_ARG, "too many ticks on [%g, %g]", lo,
                            hi);
      }
      continue;
    }
    t->n = 0;
    for (long i = i0; i <= i1; i++) {
      double v = scaled((double)i * m, k);
      if (v == 0) v = 0.0; /* no -0 */
      t->v[t->n++] = v;
    }
    /* minor ticks: one between majors for m = 2 or 5/2.5 split, else 4 */
    int sub = (m == 2.0) ? 4 : (m == 2.5 ? 5 : 5);
    double mstep = step / sub;
    long j0 = (long)ceil((lo - slack) / mstep);
    long j1 = (long)floor((hi + slack) / mstep);
    for (long j = j0; j <= j1 && t->n_minor < 4 * PH_PLOT_MAX_TICKS; j++) {
      if (j % sub == 0) continue;
      t->minor[t->n_minor++] = scaled((double)j * m / sub, k);
    }
    break;
  }
  /* labels: fixed decimals from the step, or a shared ×10ⁿ for extremes */
  double amax = 0;
  for (int i = 0; i < t->n; i++) amax = fmax(amax, fabs(t->v[i]));
  int dec = (k < 0 ? -k : 0) + (m == 2.5 && k <= 0 ? 1 : 0);
  if (amax >= 1e5 || (amax > 0 && amax < 1e-3)) {
    int e = (int)floor(log10(amax) + 1e-12);
    int mdec = e - k + (m == 2.5 ? 1 : 0);
    if (mdec < 0) mdec = 0;
    for (int i = 0; i < t->n; i++) {
      if (t->v[i] == 0) {
        snprintf(t->label[i], PH_PLOT_LABEL_MAX, "0");
        continue;
      }
      char a[20], b[16];
      ph_plot_format_fixed(
          a, sizeof a,
          t->v[i] / pow10i(e < 0 ? 0 : e) * (e < 0 ? pow10i(-e) : 1.0), mdec);
      ph_plot_format_pow10(b, sizeof b, e);
      snprintf(t->label[i], PH_PLOT_LABEL_MAX, "%s" TIMES "%s", a, b);
    }
  } else {
    for (int i = 0; i < t->n; i++)
      ph_plot_format_fixed(t->label[i], PH_PLOT_LABEL_MAX, t->v[i], dec);
  }
  return PH_OK;
}

/* q·10^d as the double nearest it. */
static double q_pow10(int q, int d) {
  return d >= 0 ? q * pow10i(d) : q / pow10i(-d);
}

/* A log axis with at most two powers of ten inside. Equal spacing in
 * value (the linear fallback) crowds the labels at the top of such an
 * axis (0.25 0.50 0.75 1.00 over 0.2 .. 1.1), so majors come from a
 * mantissa set applied to every decade, the densest of these with at most
 * `target` ticks inside and at least two; each set but the last is
 * roughly even in log10 (1, 3: steps of 0.48 and 0.52 decade; 1, 2, 5:
 * 0.30, 0.40, 0.30; 1, 2, 3, 4, 6, 8 for a decade or less: 4 6 8 10
 * over 3.5 .. 11), and all nine mantissas serve only when no other set
 * puts two ticks inside (3, 4 on 2.1 .. 4.5).
 * Labels are plain numbers (q·10ⁿ outside 1e-3 .. 1e5); the other integer
 * mantissas are minor ticks. Returns 0 when no set puts two ticks inside. */
static int narrow_log(double lo, double hi, int target, ph_plot_ticks *t) {
  static const int sets[][10] = {{1, 0},
                                 {1, 3, 0},
                                 {1, 2, 5, 0},
                                 {1, 2, 3, 5, 0},
                                 {1, 2, 3, 4, 6, 8, 0},
                                 {1, 2, 3, 4, 5, 6, 7, 8, 9, 0}};
  const int nsets = (int)(sizeof sets / sizeof *sets);
  double slack = 1e-9;
  int d0 = (int)floor(log10(lo) - slack), d1 = (int)floor(log10(hi) + slack);
  int best = -1;
  for (int k = 0; k < nsets; k++) {
    int cnt = 0;
    for (int d = d0; d <= d1; d++)
      for (const int *q = sets[k]; *q; q++) {
        double v = q_pow10(*q, d);
        cnt += v >= lo * (1 - slack) && v <= hi * (1 + slack);
      }
    int last = k == nsets - 1;
    if (cnt >= 2 && (cnt <= target || best < 0) && (!last || best < 0))
      best = k;
    if (cnt > target) break;
  }
  if (best < 0) return 0;
  memset(t, 0, sizeof *t);
  for (int d = d0; d <= d1; d++)
    for (int q = 1; q <= 9; q++) {
      double v = q_pow10(q, d);
      if (v < lo * (1 - slack) || v > hi * (1 + slack)) continue;
      int major = 0;
      for (const int *m = sets[best]; *m; m++) major |= *m == q;
      if (!major) {
        if (t->n_minor < 4 * PH_PLOT_MAX_TICKS) t->minor[t->n_minor++] = v;
        continue;
      }
      if (t->n == PH_PLOT_MAX_TICKS) continue;
      t->v[t->n] = v;
      if (v >= 1e-3 && v < 1e5)
        ph_plot_format_fixed(t->label[t->n], PH_PLOT_LABEL_MAX, v,
                             d < 0 ? -d : 0);
      else if (q == 1)
        ph_plot_format_pow10(t->label[t->n], PH_PLOT_LABEL_MAX, d);
      else {
        char b[16];
        ph_plot_format_pow10(b, sizeof b, d);
        snprintf(t->label[t->n], PH_PLOT_LABEL_MAX, "%d" TIMES "%s", q, b);
      }
      t->n++;
    }
  return 1;
}

ph_status ph_plot_ticks_log(double lo, double hi, int target, ph_plot_ticks *t,
                            ph_error *err) {
  memset(t, 0, sizeof *t);
  if (!(lo > 0) || !isfinite(hi) || !(hi > lo))
    return ph_error_set(
        err, PH_ERR_ARG,
        "log axis range [%g, %g] must be positive and increasing", lo, hi);
  double slack = 1e-9;
  int d0 = (int)ceil(log10(lo) - slack);
  int d1 = (int)floor(log10(hi) + slack);
  if (d1 - d0 + 1 <= 2) {
    if (narrow_log(lo, hi, target, t)) return PH_OK;
    /* not even two integer mantissas inside (2.1 .. 2.9): the axis is
     * nearly linear there, so linear nice ticks read right */
    PH_TRY(ph_plot_ticks_linear(lo, hi, target, t, err));
    /* drop a tick at 0 or below, which a log axis cannot show */
    int w = 0;
    for (int i = 0; i < t->n; i++)
      if (t->v[i] > 0) {
        t->v[w] = t->v[i];
        memmove(t->label[w], t->label[i], PH_PLOT_LABEL_MAX);
        w++;
      }
    t->n = w;
    t->n_minor = 0;
    return PH_OK;
  }
  int nd = d1 - d0 + 1;
  int every = 1;
  int tgt = target < 2 ? 2 : target + 2;
  while (nd / every > tgt) every++;
  for (int d = d0; d <= d1 && t->n < PH_PLOT_MAX_TICKS; d++) {
    if (((d % every) + every) % every != 0 && every > 1) continue;
    t->v[t->n] = d >= 0 ? pow10i(d) : 1.0 / pow10i(-d);
    ph_plot_format_pow10(t->label[t->n], PH_PLOT_LABEL_MAX, d);
    t->n++;
  }
  if (every == 1) {
    for (int d = d0 - 1; d <= d1; d++) {
      double base = d >= 0 ? pow10i(d) : 1.0 / pow10i(-d);
      for (int q = 2; q <= 9; q++) {
        double v = q * base;
        if (v >= lo * (1 - slack) && v <= hi * (1 + slack) &&
            t->n_minor < 4 * PH_PLOT_MAX_TICKS)
          t->minor[t->n_minor++] = v;
      }
    }
  } else {
    for (int d = d0; d <= d1 && t->n_minor < 4 * PH_PLOT_MAX_TICKS; d++)
      if (((d % every) + every) % every != 0)
        t->minor[t->n_minor++] = d >= 0 ? pow10i(d) : 1.0 / pow10i(-d);
  }
  return PH_OK;
}

int ph_plot_range_of(const double *v, size_t n, int log_scale, double *lo,
                     double *hi) {
  int any = 0;
  double a = INFINITY, b = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    double x = v[i];
    if (!isfinite(x) || (log_scale && !(x > 0))) continue;
    if (x < a) a = x;
    if (x > b) b = x;
    any = 1;
  }
  if (any) {
    if (a < *lo || !isfinite(*lo)) *lo = a;
    if (b > *hi || !isfinite(*hi)) *hi = b;
  }
  return any;
}

void ph_plot_range_pad(double *lo, double *hi, double frac, int log_scale) {
  if (!isfinite(*lo) || !isfinite(*hi)) {
    *lo = log_scale ? 0.1 : 0.0;
    *hi = log_scale ? 10.0 : 1.0;
    return;
  }
  if (log_scale) {
    double a = log10(*lo), b = log10(*hi);
    if (b - a < 1e-12) {
      a -= 0.5;
      b += 0.5;
    }
    double d = (b - a) * frac;
    *lo = pow(10.0, a - d);
    *hi = pow(10.0, b + d);
    return;
  }
  double a = *lo, b = *hi;
  if (b - a <= 1e-12 * fmax(1.0, fabs(a))) {
    double d = a == 0 ? 1.0 : 0.1 * fabs(a);
    a -= d;
    b += d;
  }
  double d = (b - a) * frac;
  *lo = a - d;
  *hi = b + d;
}

int ph_plot_contour_levels(double zmin, double zmax, int n, int log_scale,
                           double *out, int max) {
  if (!isfinite(zmin) || !isfinite(zmax) || !(zmax > zmin) || max < 1) return 0;
  if (n < 1) n = 1;
  int cnt = 0;
  if (log_scale) {
    if (!(zmin > 0)) return 0;
    double span = log10(zmax) - log10(zmin);
    static const double m125[] = {1, 2, 5};
    int dstep = span / n > 1.0 ? (int)ceil(span / n) : 1;
    int d0 = (int)floor(log10(zmin)), d1 = (int)ceil(log10(zmax));
    int use125 = span < 0.6 * n;
    for (int d = d0; d <= d1; d++) {
      if (!use125 && ((d % dstep) + dstep) % dstep != 0) continue;
      double base = d >= 0 ? pow10i(d) : 1.0 / pow10i(-d);
      for (int q = 0; q < (use125 ? 3 : 1); q++) {
        double v = m125[q] * base;
        if (v > zmin && v < zmax && cnt < max) out[cnt++] = v;
      }
    }
    return cnt;
  }
  double m;
  int k;
  ph_plot_nice_step(zmax - zmin, n + 1, &m, &k);
  long i0 = (long)floor(zmin / scaled(m, k)) + 1;
  for (long i = i0;; i++) {
    double v = scaled((double)i * m, k);
    if (v <= zmin) continue;
    if (v >= zmax || cnt >= max) break;
    out[cnt++] = v == 0 ? 0.0 : v;
  }
  return cnt;
}
