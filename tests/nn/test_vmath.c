/* test_vmath.c: the vectorised math of nn/vmath.h against glibc's libm.
 *
 * Distances are counted in ulps exactly: a double's bits, mapped to an
 * integer that is monotone in the value (negative numbers mirrored below
 * zero, ±0 both at 0), make the number of representable doubles between
 * two results a plain integer difference.
 *
 * Bounds. The primitives (exp, log, log1p, tanh, erf, erfc) and the
 * well-conditioned activations (sigmoid, softplus, GELU's f = xΦ(x)) must
 * lie within 2 ulp of libm (of the same formula evaluated with libm): SLEEF
 * promises ≤ 1 ulp (erfc 1.5) from the true value and glibc < 1 ulp for
 * these, and the formulas around them add at most one rounding each.
 * The derivatives are algebra on a primitive p (t = tanh x, s = sigmoid,
 * Φ, φ); a difference δp ≤ 2 ulp(p) in p moves d = g(p) by |g'(p)| δp, plus
 * the rounding of a few operations, so their bound is
 *   4 ulp(d) + Σ_p |∂g/∂p| · 4 ulp(p)
 * (2 ulp for the primitive, 2 for rounding on its scale). A wrong formula
 * or a wrong lane (shuffled, stale or zeroed tail) misses by far more.
 * The sweep covers subnormals, the overflow and underflow edges of exp,
 * ±0, ±inf and NaN, both signs, every length 0..9 (tails), a dense
 * grid over [−40, 40] where the activations live, tanh's seams (vmath.c:
 * 2⁻²⁷ below which it returns x, ln 3/2 where its 2/(1 + e^{2|x|}) passes
 * 1/2, 20 its clamp) and the steps of its exponential's range reduction.
 *
 * vmath.c's own AVX2 tanh kernel is also held to 1 ulp of x87 tanhl (64-bit
 * significand, so its own error is far below a double's ulp): the kernel
 * rounds once at the end (0.5 ulp) after an error in 1 + e^{2|x|} that
 * moves tanh by at most 0.5 ulp more; and below 2⁻²⁷, where tanh x rounds
 * to x, it must return x itself (SLEEF's tanh, the SSE2 path, does
 * neither: 0.999 ulp here, and x + 1 ulp near 2⁻⁵³). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/vmath.h"

static int64_t ordered(double x) {
  int64_t i;
  memcpy(&i, &x, sizeof i);
  return i < 0 ? INT64_MIN - i : i;
}

/* ulps between a and b: 0 when both are NaN, a huge value when one is. */
static double ulps(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b) ? 0 : 1e300;
  int64_t d = ordered(a) - ordered(b);
  return fabs((double)d);
}

/* the spacing of doubles at |x| (the smallest subnormal at 0) */
static double ulp_of(double x) {
  x = fabs(x);
  if (!isfinite(x)) return 0;
  return nextafter(x, INFINITY) - x;
}

static double *args;
static size_t n_args;

static void add(double x) {
  args[n_args++] = x;
}

static void build_sweep(void) {
  args = malloc(420000 * sizeof *args);
  double specials[] = {
      0.0,          -0.0,      INFINITY,   -INFINITY, NAN,     DBL_MIN, DBL_MAX,
      DBL_TRUE_MIN, 1e-310,    709.78,     709.79,    -708.39, -745.13, -745.14,
      -744.0,       -710.0,    1e-8,       1e-300,    19.06,   22.0,    36.0,
      5.9,          27.2,      -27.3,      38.5,      0.5,     1.0,     2.0,
      -1.0,         0x1p-1022, 0x1.8p-1070};
  for (size_t i = 0; i < sizeof specials / sizeof *specials; i++) {
    add(specials[i]);
    add(-specials[i]);
  }
  /* every binade from subnormals to overflow, several mantissas */
  for (int e = -1074; e <= 1023; e += 1)
    for (int k = 0; k < 5; k++) {
      double x = ldexp(1.0 + k * 0.2371, e);
      add(x);
      add(-x);
    }
  /* dense over where activations and softmax live */
  for (double x = -40; x <= 40; x += 0.00137) add(x);
  /* tanh's seams: 2⁻²⁷ (x itself below), ln 3/2 (1 − w exact above it,
   * a two-sum below), 0.55 (the earlier kernel's branch) and its clamp at
   * 20: every double within 64 ulp of each, and a fine grid */
  double seams[] = {0x1p-27, 0.54930614433405484570, 0.55, 20.0};
  for (size_t i = 0; i < 4; i++) {
    double x = seams[i], y = seams[i];
    for (int k = 0; k < 64; k++, x = nextafter(x, 0), y = nextafter(y, 99)) {
      add(x), add(-x), add(y), add(-y);
    }
  }
  for (double x = 0.53; x <= 0.57; x += 1.3e-5) add(x), add(-x);
  /* tanh's own exponential reduces 2|x| = k ln 2 + r, |r| ≤ ln 2 / 2: where
   * k steps (|x| = (k + ½) ln 2 / 2, k = 0..58, up to the clamp) r jumps
   * from one end of its polynomial's range to the other; every double
   * within 16 ulp of each step, both signs (the first step, k = 0 to 1 at
   * |x| = ln 2/4, is where the kernel's error peaks) */
  for (int k = 0; k <= 58; k++) {
    double x = (k + 0.5) * 0.34657359027997264, y = x;
    for (int i = 0; i < 16; i++, x = nextafter(x, 0), y = nextafter(y, 99))
      add(x), add(-x), add(y), add(-y);
  }
  /* tanh for tiny x, 64 mantissas per binade from 2⁻⁷⁰ to 2⁻²⁰ */
  for (int e = -70; e <= -20; e++)
    for (int k = 0; k < 64; k++) add(ldexp(1.0 + k / 64.0 + 0.0071, e));
  /* the edges of exp */
  for (double x = 700; x <= 712; x += 0.0131) add(x);
  for (double x = -750; x <= -700; x += 0.0317) add(x);
}

static int fails;

static void report(const char *name, double worst, double at, double bound) {
  printf("%-14s max %.3g %s at x = %.17g (bound %g)\n", name, worst,
         bound > 0 ? "ulp" : "× tol", at, bound > 0 ? bound : 1.0);
  if (!(worst <= (bound > 0 ? bound : 1.0))) {
    printf("FAIL %s\n", name);
    fails++;
  }
}

typedef void (*vfn)(const double *, double *, size_t);

/* SLEEF documents erfc's bound as max(1.5 ulp, DBL_MIN): for results
 * below sub_abs (DBL_MIN for erfc; |x|·DBL_MIN for GELU's x·Φ, i.e. Φ
 * subnormal) an absolute difference of sub_abs is allowed. */
static double err_ulps(double y, double ref, double sub_abs) {
  double u = ulps(y, ref);
  if (u > 2 && fabs(ref) < sub_abs && fabs(y - ref) <= sub_abs) return 0;
  return u;
}

static void check_prim(const char *name, vfn f, double (*ref)(double),
                       int positive_only, double sub_abs) {
  double *y = malloc(n_args * sizeof *y);
  double *x = calloc(n_args, sizeof *x);
  size_t n = 0;
  for (size_t i = 0; i < n_args; i++)
    if (!positive_only || !(args[i] < 0)) x[n++] = args[i];
  f(x, y, n);
  double worst = 0, at = 0;
  for (size_t i = 0; i < n; i++) {
    double u = err_ulps(y[i], ref(x[i]), sub_abs);
    if (u > worst) worst = u, at = x[i];
  }
  /* the same values in short arrays (every tail length) */
  for (size_t len = 0; len <= 9; len++)
    for (size_t o = 0; o + len <= n && o < 4000; o += 397) {
      double t[9];
      f(x + o, t, len);
      for (size_t i = 0; i < len; i++)
        if (memcmp(&t[i], &y[o + i], sizeof *t) != 0 &&
            !(isnan(t[i]) && isnan(y[o + i]))) {
          printf("FAIL %s: length %zu gives other bits at %zu\n", name, len, i);
          fails++;
          break;
        }
    }
  /* in place */
  double *z = malloc(n * sizeof *z);
  memcpy(z, x, n * sizeof *z);
  f(z, z, n);
  if (memcmp(z, y, n * sizeof *z) != 0) {
    for (size_t i = 0; i < n; i++)
      if (!(isnan(z[i]) && isnan(y[i])) && memcmp(&z[i], &y[i], 8)) {
        printf("FAIL %s: in place differs at x = %g\n", name, x[i]);
        fails++;
        break;
      }
  }
  report(name, worst, at, 2);
  free(x);
  free(y);
  free(z);
}

/* tanh against x87 tanhl in ulps of the exact value's binade (so 1 − tiny
 * is measured on the spacing below 1), and x itself below 2⁻²⁷ */
static void check_tanh_l(void) {
  double *y = malloc(n_args * sizeof *y);
  ph_vmath_tanh(args, y, n_args);
  double worst = 0, at = 0;
  for (size_t i = 0; i < n_args; i++) {
    double x = args[i];
    if (isnan(x)) {
      if (!isnan(y[i])) worst = 1e300, at = x;
      continue;
    }
    if (fabs(x) < 0x1p-27 && memcmp(&y[i], &x, sizeof x) != 0) {
      printf("FAIL tanh: %a for x = %a below 2^-27\n", y[i], x);
      fails++;
      continue;
    }
    long double T = tanhl((long double)x);
    int e;
    frexpl(T, &e);
    double ulp = e - 53 < -1074 ? DBL_TRUE_MIN : ldexp(1.0, e - 53);
    double u = (double)(fabsl((long double)y[i] - T) / ulp);
    if (u > worst) worst = u, at = x;
  }
  report("tanh vs tanhl", worst, at, 1);
  free(y);
}

/* The 8-lane AVX-512 loops against the 4-lane AVX2 loops: the same bits
 * for every primitive (SLEEF's 8-lane functions and vmath's own tanh run
 * the same operations as their 4-lane ones) and for tanh_d's three
 * outputs over the sweep; then every length 0..40 at a few offsets into
 * fresh buffers (tanh_d's two-vector steps, then full and partial single
 * vectors): the same bits again, and nothing stored past the end (the
 * masked tail). Trivially equal on a machine without AVX-512. */
#define N_OUT 9
static void run_all(const double *x, double **out, size_t n) {
  static const vfn prim[6] = {ph_vmath_exp,  ph_vmath_log, ph_vmath_log1p,
                              ph_vmath_tanh, ph_vmath_erf, ph_vmath_erfc};
  for (int k = 0; k < 6; k++) prim[k](x, out[k], n);
  ph_vmath_tanh_d(x, out[6], out[7], out[8], n);
}
static const char *const out_name[N_OUT] = {
    "exp",  "log",      "log1p",     "tanh",     "erf",
    "erfc", "tanh_d f", "tanh_d d1", "tanh_d d2"};

static int same_bits(const double *a, const double *b) {
  return memcmp(a, b, sizeof *a) == 0 || (isnan(*a) && isnan(*b));
}

static void check_widths(void) {
  size_t n = n_args;
  double *out[2][N_OUT];
  for (int w = 0; w < 2; w++) {
    for (int k = 0; k < N_OUT; k++) out[w][k] = malloc(n * sizeof(double));
    ph_vmath_allow_avx512(w);
    run_all(args, out[w], n);
  }
  for (int k = 0; k < N_OUT; k++)
    for (size_t i = 0; i < n; i++)
      if (!same_bits(&out[0][k][i], &out[1][k][i])) {
        printf("FAIL %s: AVX-512 and AVX2 differ at x = %.17g\n", out_name[k],
               args[i]);
        fails++;
        break;
      }
  const double mark = 12345.0;
  for (size_t len = 0; len <= 40; len++)
    for (size_t o = 0; o + len <= n && o < 4000; o += 397) {
      double b[N_OUT][48], *bp[N_OUT];
      for (int k = 0; k < N_OUT; k++) {
        bp[k] = b[k];
        for (int i = 0; i < 48; i++) b[k][i] = mark;
      }
      run_all(args + o, bp, len);
      for (int k = 0; k < N_OUT; k++)
        for (size_t i = 0; i < 48; i++) {
          const double *want = i < len ? &out[0][k][o + i] : &mark;
          if (!same_bits(&b[k][i], want)) {
            printf("FAIL %s: length %zu, element %zu\n", out_name[k], len, i);
            fails++;
            len = 41, o = n, k = N_OUT; /* one report */
            break;
          }
        }
    }
  for (int w = 0; w < 2; w++)
    for (int k = 0; k < N_OUT; k++) free(out[w][k]);
}

/* libm references of the activations, the same formulas as vmath.h */
static double sig(double x) {
  return 1 / (1 + exp(-x));
}
static double Phi(double x) {
  return 0.5 * erfc(-x * 0.70710678118654752440);
}
static double phi(double x) {
  return 0.39894228040143267794 * exp(-0.5 * x * x);
}

typedef void (*actfn)(const double *, double *, double *, double *, size_t);

/* f must be within 2 ulp (fbound ulps); d1, d2 within the propagated
 * bound: ref[k] the libm value, tol[k] its allowed absolute error. */
static void check_act(const char *name, actfn fn, int which_act,
                      double fbound) {
  size_t n = 0;
  double *x = calloc(n_args, sizeof *x);
  for (size_t i = 0; i < n_args; i++)
    if (isfinite(args[i]) && fabs(args[i]) < 1e150) x[n++] = args[i];
  double *f = malloc(n * sizeof *f), *d1 = malloc(n * sizeof *d1),
         *d2 = malloc(n * sizeof *d2);
  fn(x, f, d1, d2, n);
  double wf = 0, wd1 = 0, wd2 = 0, af = 0, ad1 = 0, ad2 = 0;
  for (size_t i = 0; i < n; i++) {
    double xi = x[i], rf, r1, r2, t1, t2;
    switch (which_act) {
    case 0: { /* tanh */
      double t = tanh(xi), ut = 4 * ulp_of(t);
      rf = t;
      r1 = 1 - t * t;
      r2 = -2 * t * r1;
      t1 = 4 * ulp_of(r1) + 2 * fabs(t) * ut;
      t2 = 4 * ulp_of(r2) + fabs(-2 + 6 * t * t) * ut;
      break;
    }
    case 1: { /* sigmoid */
      double s = sig(xi), us = 4 * ulp_of(s);
      rf = s;
      r1 = s * (1 - s);
      r2 = r1 * (1 - 2 * s);
      t1 = 4 * ulp_of(r1) + fabs(1 - 2 * s) * us;
      t2 = 4 * ulp_of(r2) + fabs(1 - 6 * s + 6 * s * s) * us;
      break;
    }
    case 2: { /* softplus */
      double s = sig(xi), us = 4 * ulp_of(s);
      rf = xi > 30 ? xi : log1p(exp(xi));
      r1 = s;
      r2 = s * (1 - s);
      t1 = 4 * ulp_of(r1);
      t2 = 4 * ulp_of(r2) + fabs(1 - 2 * s) * us;
      break;
    }
    default: { /* gelu */
      double P = Phi(xi), p = phi(xi);
      rf = xi * P;
      r1 = P + xi * p;
      r2 = p * (2 - xi * xi);
      t1 = 4 * ulp_of(r1) + 4 * ulp_of(P) + fabs(xi) * 4 * ulp_of(p) +
           4 * ulp_of(xi * p);
      t2 = 4 * ulp_of(r2) + fabs(2 - xi * xi) * 4 * ulp_of(p);
      break;
    }
    }
    double u = err_ulps(f[i], rf, which_act == 3 ? fabs(xi) * DBL_MIN : 0);
    if (u > wf) wf = u, af = xi;
    double e1 = fabs(d1[i] - r1) / (t1 > 0 ? t1 : DBL_TRUE_MIN);
    if (isnan(d1[i]) != isnan(r1)) e1 = 1e300;
    if (e1 > wd1) wd1 = e1, ad1 = xi;
    double e2 = fabs(d2[i] - r2) / (t2 > 0 ? t2 : DBL_TRUE_MIN);
    if (isnan(d2[i]) != isnan(r2)) e2 = 1e300;
    if (e2 > wd2) wd2 = e2, ad2 = xi;
  }
  char nm[64];
  report(name, wf, af, fbound);
  snprintf(nm, sizeof nm, "%s d1", name);
  report(nm, wd1, ad1, 0);
  snprintf(nm, sizeof nm, "%s d2", name);
  report(nm, wd2, ad2, 0);
  /* tanh and sigmoid: σ' is the formula on f to the bit (1 − f², f(1 − f),
   * two roundings, no FMA): the network engine skips σ' in the forward and
   * takes it from σ later (nn/seq_int.h, nn_act_d1_from_output), and its
   * products must not depend on which it did */
  for (size_t i = 0; i < n && which_act <= 1; i++) {
    volatile double ff = f[i] * f[i], fs = f[i] * (1 - f[i]);
    double g = which_act == 0 ? 1 - ff : fs;
    if (memcmp(&g, &d1[i], sizeof g) != 0) {
      printf("FAIL %s: d1 is not the formula on f at x = %.17g\n", name, x[i]);
      fails++;
      break;
    }
  }
  /* NULL outputs: the others unchanged */
  double *g = malloc(n * sizeof *g);
  fn(x, NULL, g, NULL, n);
  if (memcmp(g, d1, n * sizeof *g)) {
    printf("FAIL %s: d1 alone differs\n", name);
    fails++;
  }
  fn(x, NULL, NULL, g, n);
  if (memcmp(g, d2, n * sizeof *g)) {
    printf("FAIL %s: d2 alone differs\n", name);
    fails++;
  }
  free(g);
  free(x);
  free(f);
  free(d1);
  free(d2);
}

/* softmax rows against the libm loop: p within 5 ulp (each exponential
 * within 2 ulp; their positive sum then differs by at most 2 ulp
 * relatively; 1 for the division);
 * log-sum-exp within 4 ulp of max + log Σ plus |log| conditioning. */
static void check_softmax(void) {
  size_t C = 37, rows = 301, ld = 41;
  double *z = malloc(rows * ld * sizeof *z), *p = malloc(rows * ld * sizeof *p),
         *lse = malloc(rows * sizeof *lse);
  for (size_t i = 0; i < rows * ld; i++)
    z[i] = 30 * sin(0.37 * (double)i) * cos(0.011 * (double)(i * i % 977));
  double worst = 0;
  for (int pass = 0; pass < 2; pass++) {
    size_t L = pass ? ld : C;
    ph_vmath_softmax_rows(z, p, lse, rows, C, L);
    for (size_t r = 0; r < rows; r++) {
      const double *zr = z + r * L;
      double mx = zr[0], s = 0;
      for (size_t j = 1; j < C; j++) mx = zr[j] > mx ? zr[j] : mx;
      for (size_t j = 0; j < C; j++) s += exp(zr[j] - mx);
      for (size_t j = 0; j < C; j++) {
        double u = ulps(p[r * L + j], exp(zr[j] - mx) / s);
        if (u > worst) worst = u;
      }
      double l = mx + log(s);
      double e = fabs(lse[r] - l) / (4 * ulp_of(l) + 4 * DBL_EPSILON);
      if (!(e <= 1)) {
        printf("FAIL softmax lse row %zu: %g vs %g\n", r, lse[r], l);
        fails++;
      }
    }
  }
  report("softmax", worst, 0, 5);
  /* ph_vmath_lse_rows (contiguous rows): softmax_rows' lse to the bit */
  double *w = malloc(rows * C * sizeof *w), *l2 = malloc(rows * sizeof *l2);
  ph_vmath_softmax_rows(z, p, lse, rows, C, C);
  ph_vmath_lse_rows(z, w, l2, rows, C);
  if (memcmp(lse, l2, rows * sizeof *lse) != 0) {
    printf("FAIL lse_rows differs from softmax_rows' lse\n");
    fails++;
  }
  free(w);
  free(l2);
  free(z);
  free(p);
  free(lse);
}

int main(void) {
  build_sweep();
  /* AVX-512 (where the CPU has it), AVX2, SSE2 */
  for (int level = 2; level >= 0; level--) {
    ph_vmath_allow_avx2(level >= 1);
    ph_vmath_allow_avx512(level >= 2);
    if (level == 2 && !ph_vmath_avx512()) continue;
    printf("backend: %s\n", ph_vmath_backend());
    check_prim("exp", ph_vmath_exp, exp, 0, 0);
    check_prim("log", ph_vmath_log, log, 1, 0);
    check_prim("log1p", ph_vmath_log1p, log1p, 0, 0);
    check_prim("tanh", ph_vmath_tanh, tanh, 0, 0);
    if (ph_vmath_avx2()) check_tanh_l();
    if (level == 2) check_widths(); /* leaves AVX-512 allowed */
    check_prim("erf", ph_vmath_erf, erf, 0, 0);
    check_prim("erfc", ph_vmath_erfc, erfc, 0, DBL_MIN);
    /* f: 2 ulp from the primitive plus one ulp per rounding after it that can
     * fall differently (sigmoid: 1 + e, then 1/·; softplus: the log1p of
     * the exp is a primitive of a primitive, whose δ shrinks by e/(1+e) ≤ 1;
     * gelu: x·Φ) */
    check_act("tanh act", ph_vmath_tanh_d, 0, 2);
    check_act("sigmoid", ph_vmath_sigmoid_d, 1, 4);
    check_act("softplus", ph_vmath_softplus_d, 2, 3);
    check_act("gelu", ph_vmath_gelu_d, 3, 3);
    check_softmax();
  }
  free(args);
  if (fails) printf("%d failure(s)\n", fails);
  return fails ? 1 : 0;
}
