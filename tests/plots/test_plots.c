/* test_plots.c: unit and rendering tests for plots/ (libpothole-plot).
 *
 * Layout maths: tick values and labels (properties checked over many random
 * ranges: labels parse back to the exact tick value, one number of decimals
 * per axis, nice steps), contour levels, colour maps against the published
 * tables, marching squares on x² + y² = r² (every endpoint within the
 * interpolation bound h²/(4r) of the circle, derived below), CSV reading.
 * Rendering: a heatmap's pixels equal the colour map at the cell's value, a
 * contour passes where the field crosses its level, PNG size from size/dpi,
 * the PDF holds the axis labels as text (pdftotext, skipped when absent), the
 * SVG is well-formed XML (xmllint or python3, skipped when absent), a failed
 * save leaves no file.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <cairo.h>

#include "core/afile.h"
#include "core/rng.h"
#include "plot.h"
#include "plot_int.h"
#include "plot_recipes.h"

static char tmpdir[256];

static int setup_tmp(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ph_plots_test.XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state) {
  (void)state;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static char *tmp_path(const char *name) {
  static char buf[4][512];
  static int k = 0;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

/* Label -> number: the typographic minus back to '-'. */
static double parse_label(const char *s) {
  char tmp[64];
  size_t o = 0;
  for (const char *p = s; *p && o < sizeof tmp - 1; p++) {
    if ((unsigned char)p[0] == 0xe2 && (unsigned char)p[1] == 0x88 &&
        (unsigned char)p[2] == 0x92) {
      tmp[o++] = '-';
      p += 2;
    } else {
      tmp[o++] = *p;
    }
  }
  tmp[o] = 0;
  char *end;
  double v = strtod(tmp, &end);
  assert_true(end != tmp && *end == 0);
  return v;
}

static int decimals_of(const char *s) {
  const char *d = strchr(s, '.');
  return d ? (int)strlen(d + 1) : 0;
}

/* ---- ticks ------------------------------------------------------------- */

static void test_ticks_known(void **state) {
  (void)state;
  ph_plot_ticks t;
  ph_error err = {0};
  assert_int_equal(ph_plot_ticks_linear(0, 1, 5, &t, &err), PH_OK);
  assert_int_equal(t.n, 6);
  static const char *const want[] = {"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"};
  for (int i = 0; i < 6; i++) {
    assert_string_equal(t.label[i], want[i]);
    assert_true(t.v[i] == strtod(want[i], NULL)); /* the nearest double */
  }
  /* 0.1 steps: 0.3 is the double nearest 0.3, never 0.30000000000000004 */
  assert_int_equal(ph_plot_ticks_linear(0, 0.3, 3, &t, &err), PH_OK);
  assert_int_equal(t.n, 4);
  assert_true(t.v[3] == 0.3);
  assert_string_equal(t.label[3], "0.3");
  /* 2.5 steps need one more decimal, on every label */
  assert_int_equal(ph_plot_ticks_linear(0, 10, 4, &t, &err), PH_OK);
  assert_int_equal(t.n, 5);
  assert_string_equal(t.label[1], "2.5");
  assert_string_equal(t.label[2], "5.0");
  assert_string_equal(t.label[4], "10.0");
  /* symmetric: typographic minus, no "-0" */
  assert_int_equal(ph_plot_ticks_linear(-1, 1, 4, &t, &err), PH_OK);
  assert_string_equal(t.label[0], "\xe2\x88\x92"
                                  "1.0");
  int zero = 0;
  for (int i = 0; i < t.n; i++)
    if (t.v[i] == 0) {
      zero = 1;
      assert_string_equal(t.label[i], "0.0");
      assert_false(signbit(t.v[i]));
    }
  assert_true(zero);
  /* integers have no decimals */
  assert_int_equal(ph_plot_ticks_linear(0, 1000, 5, &t, &err), PH_OK);
  assert_string_equal(t.label[1], "200");
  /* very large values share a ×10ⁿ form */
  assert_int_equal(ph_plot_ticks_linear(0, 3e6, 4, &t, &err), PH_OK);
  assert_non_null(strstr(t.label[1], "\xc3\x97"
                                     "10\xe2\x81\xb6"));
  /* invalid ranges are errors */
  assert_int_equal(ph_plot_ticks_linear(1, 0, 5, &t, &err), PH_ERR_ARG);
  assert_int_equal(ph_plot_ticks_linear(NAN, 1, 5, &t, &err), PH_ERR_ARG);
  assert_int_equal(ph_plot_ticks_log(0, 1, 5, &t, &err), PH_ERR_ARG);
}

static void test_ticks_random(void **state) {
  (void)state;
  /* properties over many ranges: values inside, equally spaced by a nice
   * step, labels parse back to the exact value, one decimals count */
  uint64_t s = 12345;
  for (int trial = 0; trial < 3000; trial++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    double u1 = (double)(s >> 11) / 9007199254740992.0;
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    double u2 = (double)(s >> 11) / 9007199254740992.0;
    double scale = pow(10.0, floor(u1 * 8) - 3); /* 1e-3 .. 1e4 */
    double lo = (u1 * 2 - 1) * scale * 3, hi = lo + (0.05 + u2 * 10) * scale;
    int target = 3 + trial % 6;
    ph_plot_ticks t;
    assert_int_equal(ph_plot_ticks_linear(lo, hi, target, &t, NULL), PH_OK);
    assert_true(t.n >= 2 && t.n <= 3 * target + 1);
    double step = t.v[1] - t.v[0];
    double m = step / pow(10.0, floor(log10(step) + 1e-9));
    assert_true(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 ||
                fabs(m - 2.5) < 1e-9 || fabs(m - 5) < 1e-9);
    int dec = decimals_of(t.label[0]);
    for (int i = 0; i < t.n; i++) {
      assert_true(t.v[i] >= lo - 1e-9 * (hi - lo) &&
                  t.v[i] <= hi + 1e-9 * (hi - lo));
      if (i > 0) assert_true(fabs(t.v[i] - t.v[i - 1] - step) <= 1e-9 * step);
      if (strstr(t.label[i], "\xc3\x97")) continue; /* ×10ⁿ form */
      assert_int_equal(decimals_of(t.label[i]), dec);
      assert_true(parse_label(t.label[i]) == t.v[i]);
      assert_null(strstr(t.label[i], "-0"));
    }
  }
}

static void test_ticks_log(void **state) {
  (void)state;
  ph_plot_ticks t;
  assert_int_equal(ph_plot_ticks_log(1e-3, 1e2, 6, &t, NULL), PH_OK);
  assert_int_equal(t.n, 6);
  assert_string_equal(t.label[0], "10\xe2\x81\xbb\xc2\xb3"); /* 10⁻³ */
  assert_string_equal(t.label[3], "10\xe2\x81\xb0");         /* 10⁰ */
  assert_string_equal(t.label[5], "10\xc2\xb2");             /* 10² */
  for (int i = 0; i < t.n; i++)
    assert_true(fabs(t.v[i] / pow(10.0, i - 3) - 1) < 1e-15);
  /* minor ticks at 2..9 × 10ⁿ: 8 per decade over 5 decades */
  assert_int_equal(t.n_minor, 40);
  /* many decades are thinned, never more than about the target */
  assert_int_equal(ph_plot_ticks_log(1e-30, 1e30, 5, &t, NULL), PH_OK);
  assert_true(t.n >= 3 && t.n <= 8);
  /* two decades at most: 1, 2, 5 × 10ⁿ as plain numbers */
  assert_int_equal(ph_plot_ticks_log(0.07, 2.6, 5, &t, NULL), PH_OK);
  static const char *const w125[] = {"0.1", "0.2", "0.5", "1", "2"};
  assert_int_equal(t.n, 5);
  for (int i = 0; i < t.n; i++) {
    assert_string_equal(t.label[i], w125[i]);
    assert_true(parse_label(t.label[i]) == t.v[i]);
  }
  /* under two decades: linear nice ticks */
  assert_int_equal(ph_plot_ticks_log(2, 9, 4, &t, NULL), PH_OK);
  assert_true(t.n >= 2);
  for (int i = 0; i < t.n; i++) assert_true(parse_label(t.label[i]) == t.v[i]);
}

/* At most two powers of ten inside a log axis: majors at q·10ⁿ from a
 * 1-2-5-like set, so they spread evenly along the axis (equal value steps,
 * the old fallback, read 0.25 0.50 0.75 1.00 over 0.2 .. 1.1, crowded at
 * the top). The study's rate grid 1/60 .. 0.15 padded by 12 % of its log
 * span is the first case. */
static void test_ticks_log_narrow(void **state) {
  (void)state;
  ph_plot_ticks t;
  static const struct {
    double lo, hi;
    int target;
    const char *want[6];
  } cases[] = {{0.0139, 0.18, 3, {"0.02", "0.05", "0.1"}},
               {0.0139, 0.18, 5, {"0.02", "0.03", "0.05", "0.1"}},
               {0.2, 1.1, 5, {"0.2", "0.3", "0.5", "1"}},
               {0.2, 1.1, 3, {"0.2", "0.5", "1"}},
               {3.5, 11, 5, {"4", "6", "8", "10"}},
               {2.1, 4.5, 5, {"3", "4"}}};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    assert_int_equal(
        ph_plot_ticks_log(cases[c].lo, cases[c].hi, cases[c].target, &t, NULL),
        PH_OK);
    int n = 0;
    while (n < 6 && cases[c].want[n]) n++;
    if (t.n != n) fail_msg("case %zu: %d ticks, want %d", c, t.n, n);
    for (int i = 0; i < n; i++) {
      assert_string_equal(t.label[i], cases[c].want[i]);
      assert_true(parse_label(t.label[i]) == t.v[i]);
    }
  }
  /* random ranges of 0.15 .. 2 decades: increasing majors inside, each
   * an integer times a power of ten, labels exact, at most the target
   * unless only all nine mantissas give two */
  ph_rng rng = ph_rng_make(99, 0);
  for (int trial = 0; trial < 2000; trial++) {
    double u1 = ph_rng_uniform(&rng), u2 = ph_rng_uniform(&rng);
    double lo = pow(10, -2 + 4 * u1), hi = lo * pow(10, 0.15 + 1.85 * u2);
    int target = 3 + trial % 6;
    assert_int_equal(ph_plot_ticks_log(lo, hi, target, &t, NULL), PH_OK);
    assert_true(t.n >= 1);
    for (int i = 0; i < t.n; i++) {
      assert_true(t.v[i] >= lo * (1 - 1e-9) && t.v[i] <= hi * (1 + 1e-9));
      if (i) assert_true(t.v[i] > t.v[i - 1]);
      if (parse_label(t.label[i]) != t.v[i])
        fail_msg("[%g, %g]: label %s for %.17g", lo, hi, t.label[i], t.v[i]);
    }
  }
}

/* Text height as plot_fig.c measures a label's box. */
static double label_height(ph_plot_fig *f) {
  cairo_font_extents_t fe;
  cairo_font_extents(f->cr, &fe);
  return fe.ascent * 0.82 + fe.descent * 0.6;
}

/* Laid out, no two tick labels of a panel touch: level x labels are at
 * least their half-widths apart, y labels a text height; category labels
 * that cannot lie level are turned so that neighbours' baselines are a
 * text height apart. The panels are the study figures' (four to a
 * two-column figure) on ranges whose labels touched before
 * (0.50 0.75 1.00; "llqr" "llqr-sam"). */
static void test_layout_labels_apart(void **state) {
  (void)state;
  static const struct {
    double lo, hi;
    int lg;
  } r[] = {{0.2, 1.1, 1},   {0.0139, 0.18, 1}, {0, 1, 0},
           {1e-3, 1e4, 1},  {-0.03, 0.02, 0},  {3.5, 16, 1},
           {0.96, 0.99, 0}, {1e-9, 1e9, 1},    {1234.5, 98765, 0}};
  ph_error err = {0};
  for (size_t k = 0; k < sizeof r / sizeof *r; k++)
    for (int cols = 1; cols <= 6; cols += 5) {
      ph_plot_fig_opts o;
      ph_plot_fig_opts_default(&o);
      o.width_in = PH_PLOT_TWOCOLUMN_IN;
      o.height_in = 2.5;
      o.cols = cols;
      ph_plot_fig *f;
      assert_int_equal(ph_plot_fig_create(&o, PH_PLOT_PNG, &f, &err), PH_OK);
      ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
      ph_plot_axes_xrange(a, r[k].lo, r[k].hi, r[k].lg);
      ph_plot_axes_yrange(a, r[k].lo, r[k].hi, r[k].lg);
      ph_plot_axes_labels(a, "t", "x", "y");
      assert_int_equal(ph_plot_axes_layout(a, &err), PH_OK);
      ph_plot__font(f, o.font_pt - 1, 0);
      double h = label_height(f);
      /* labelled ticks only (a crowded axis labels every other) */
      int labelled = 0;
      for (int i = 0, p = -1; i < a->xt.n; i++) {
        if (!a->xt.label[i][0]) continue;
        labelled++;
        if (p >= 0) {
          double x0 = ph_plot__xpt(a, a->xt.v[p]),
                 x1 = ph_plot__xpt(a, a->xt.v[i]);
          double w0 = ph_plot__text_width(f, a->xt.label[p]),
                 w1 = ph_plot__text_width(f, a->xt.label[i]);
          if (x1 - x0 < 0.5 * (w0 + w1))
            fail_msg("[%g, %g] %d cols: x labels %s and %s touch", r[k].lo,
                     r[k].hi, cols, a->xt.label[p], a->xt.label[i]);
        }
        p = i;
      }
      assert_true(labelled >= 1);
      for (int i = 0, p = -1; i < a->yt.n; i++) {
        if (!a->yt.label[i][0]) continue;
        if (p >= 0 &&
            ph_plot__ypt(a, a->yt.v[p]) - ph_plot__ypt(a, a->yt.v[i]) < h)
          fail_msg("[%g, %g] %d cols: y labels %s and %s touch", r[k].lo,
                   r[k].hi, cols, a->yt.label[p], a->yt.label[i]);
        p = i;
      }
      ph_plot_fig_free(f);
    }
  static const char *const names[] = {"sgd", "sam", "llqr", "llqr-sam"};
  for (int cols = 1; cols <= 4; cols += 3) {
    ph_plot_fig_opts o;
    ph_plot_fig_opts_default(&o);
    o.width_in = PH_PLOT_TWOCOLUMN_IN;
    o.cols = cols;
    ph_plot_fig *f;
    assert_int_equal(ph_plot_fig_create(&o, PH_PLOT_PNG, &f, &err), PH_OK);
    ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
    ph_plot_axes_xrange(a, -0.6, 3.6, 0);
    ph_plot_axes_yrange(a, 0.84, 0.87, 0);
    ph_plot_axes_xcategories(a, names, 4);
    ph_plot_axes_labels(a, NULL, NULL, "test accuracy");
    assert_int_equal(ph_plot_axes_layout(a, &err), PH_OK);
    ph_plot__font(f, o.font_pt - 1, 0);
    double h = label_height(f), gap = ph_plot__xpt(a, 1) - ph_plot__xpt(a, 0);
    double wmax = 0;
    int level = 1;
    for (int i = 0; i < 4; i++) {
      double w = ph_plot__text_width(f, names[i]);
      wmax = fmax(wmax, w);
      if (i && gap < 0.5 * (w + ph_plot__text_width(f, names[i - 1])))
        level = 0;
    }
    if (cols == 1) {
      /* a whole-width panel has room: level labels, one line high */
      assert_true(level && a->xrot == 0 && a->xband == h);
    } else {
      /* a quarter of the width has not: turned, the band holds them */
      assert_false(level);
      assert_true(a->xrot > 0 && gap * sin(a->xrot) >= h);
      assert_true(a->xband >= wmax * sin(a->xrot));
    }
    ph_plot_fig_free(f);
  }
}

static void test_contour_levels(void **state) {
  (void)state;
  double lev[64];
  int n = ph_plot_contour_levels(0, 1, 9, 0, lev, 64);
  assert_int_equal(n, 9); /* 0.1 .. 0.9 */
  for (int i = 0; i < n; i++) assert_true(lev[i] == (i + 1) / 10.0);
  n = ph_plot_contour_levels(0.37, 2.91, 10, 0, lev, 64);
  assert_true(n >= 5 && n <= 20);
  for (int i = 0; i < n; i++) {
    assert_true(lev[i] > 0.37 && lev[i] < 2.91);
    if (i) assert_true(fabs(lev[i] - lev[i - 1] - (lev[1] - lev[0])) < 1e-12);
  }
  n = ph_plot_contour_levels(1e-3, 1e3, 6, 1, lev, 64);
  assert_int_equal(n, 5); /* 10⁻² .. 10² */
  for (int i = 0; i < n; i++)
    assert_true(fabs(lev[i] / pow(10.0, i - 2) - 1) < 1e-15);
  assert_int_equal(ph_plot_contour_levels(1, 1, 5, 0, lev, 64), 0);
  assert_int_equal(ph_plot_contour_levels(-1, 1, 5, 1, lev, 64), 0);
}

/* ---- colour maps ------------------------------------------------------- */

static void assert_rgb(const double *got, double r, double g, double b,
                       double tol) {
  assert_true(fabs(got[0] - r) <= tol);
  assert_true(fabs(got[1] - g) <= tol);
  assert_true(fabs(got[2] - b) <= tol);
}

static void test_cmaps(void **state) {
  (void)state;
  double c[3];
  /* ends are anchors: exact (to the 6 printed digits of the tables) */
  ph_plot_cmap_eval(PH_PLOT_VIRIDIS, 0, c);
  assert_rgb(c, 0.267004, 0.004874, 0.329415, 1e-9);
  ph_plot_cmap_eval(PH_PLOT_VIRIDIS, 1, c);
  assert_rgb(c, 0.993248, 0.906157, 0.143936, 1e-9);
  ph_plot_cmap_eval(PH_PLOT_MAGMA, 0, c);
  assert_rgb(c, 0.001462, 0.000466, 0.013866, 1e-9);
  ph_plot_cmap_eval(PH_PLOT_MAGMA, 1, c);
  assert_rgb(c, 0.987053, 0.991438, 0.749504, 1e-9);
  ph_plot_cmap_eval(PH_PLOT_CIVIDIS, 1, c);
  assert_rgb(c, 0.995737, 0.909344, 0.217772, 1e-9);
  /* t = 0.5 lies halfway between published entries 127 and 128 of 256;
   * linear interpolation between anchors 5 entries apart must agree with
   * their mean to within one 8-bit level (1/255), invisible in a PNG */
  ph_plot_cmap_eval(PH_PLOT_VIRIDIS, 0.5, c);
  assert_rgb(c, (0.128729 + 0.127568) / 2, (0.563265 + 0.566949) / 2,
             (0.551229 + 0.550556) / 2, 1.0 / 255);
  ph_plot_cmap_eval(PH_PLOT_MAGMA, 0.5, c);
  assert_rgb(c, (0.709962 + 0.716387) / 2, (0.212797 + 0.214982) / 2,
             (0.477201 + 0.475290) / 2, 1.0 / 255);
  /* the diverging map is near-neutral grey in the middle */
  ph_plot_cmap_eval(PH_PLOT_COOLWARM, 0.5, c);
  assert_rgb(c, 0.8674, 0.8644, 0.8626, 1.0 / 255);
  /* clipping */
  double d[3];
  ph_plot_cmap_eval(PH_PLOT_VIRIDIS, -3, c);
  ph_plot_cmap_eval(PH_PLOT_VIRIDIS, 0, d);
  assert_memory_equal(c, d, sizeof c);
  ph_plot_norm nm = {2, 4, 0};
  assert_true(ph_plot_norm_apply(&nm, 1) == 0);
  assert_true(ph_plot_norm_apply(&nm, 5) == 1);
  assert_true(ph_plot_norm_apply(&nm, 3) == 0.5);
  assert_true(isnan(ph_plot_norm_apply(&nm, NAN)));
  ph_plot_norm lg = {1e-2, 1e2, 1};
  assert_true(fabs(ph_plot_norm_apply(&lg, 1) - 0.5) < 1e-15);
  assert_true(isnan(ph_plot_norm_apply(&lg, -1)));
  ph_plot_cmap cm;
  assert_int_equal(ph_plot_cmap_from_name("magma", &cm, NULL), PH_OK);
  assert_int_equal(cm, PH_PLOT_MAGMA);
  assert_int_equal(ph_plot_cmap_from_name("jet", &cm, NULL), PH_ERR_ARG);
}

/* ---- marching squares -------------------------------------------------- */

static void test_marching_circle(void **state) {
  (void)state;
  enum { N = 41 };
  double x[N], y[N], z[N * N];
  double h = 2.0 / (N - 1), r = 0.63;
  for (int i = 0; i < N; i++) x[i] = y[i] = -1 + i * h;
  for (int j = 0; j < N; j++)
    for (int i = 0; i < N; i++) z[j * N + i] = x[i] * x[i] + y[j] * y[j];
  ph_plot_segs s = {0};
  assert_int_equal(ph_plot_marching_squares(z, N, N, x, y, r * r, &s, NULL),
                   PH_OK);
  assert_true(s.n > 40);
  /* Along a cell edge f = x² + y² − r² is quadratic with f'' = 2, so the
   * linear interpolant's root x̂ has |f(x̂)| <= h²·2/8 = h²/4, and the radial
   * error is |ρ − r| = |f|/(ρ + r) <= h²/(4r): well inside one grid cell. */
  double bound = h * h / (4 * r);
  double len = 0;
  for (size_t k = 0; k < s.n; k++) {
    const double *q = s.xy + 4 * k;
    for (int e = 0; e < 2; e++) {
      double rho = hypot(q[2 * e], q[2 * e + 1]);
      assert_true(fabs(rho - r) <= bound * (1 + 1e-12) + 1e-15);
      assert_true(fabs(rho - r) <= h);
    }
    len += hypot(q[2] - q[0], q[3] - q[1]);
  }
  /* closed curve: every endpoint is shared by exactly two segment ends */
  for (size_t k = 0; k < s.n; k++)
    for (int e = 0; e < 2; e++) {
      int count = 0;
      for (size_t m = 0; m < s.n; m++)
        for (int f = 0; f < 2; f++)
          if (fabs(s.xy[4 * m + 2 * f] - s.xy[4 * k + 2 * e]) < 1e-12 &&
              fabs(s.xy[4 * m + 2 * f + 1] - s.xy[4 * k + 2 * e + 1]) < 1e-12)
            count++;
      assert_int_equal(count, 2);
    }
  /* an inscribed polygon with chords <= h·√2 has length within
   * 2πr·(1 − cos(θ/2))-ish of the circle: below 1% here */
  assert_true(fabs(len - 2 * M_PI * r) < 0.01 * 2 * M_PI * r);
  ph_plot_segs_free(&s);
  /* NaN cells are skipped; a level outside the range gives nothing */
  z[20 * N + 20] = NAN;
  assert_int_equal(ph_plot_marching_squares(z, N, N, x, y, 5.0, &s, NULL),
                   PH_OK);
  assert_int_equal(s.n, 0);
  ph_plot_segs_free(&s);
}

/* ---- CSV --------------------------------------------------------------- */

static void test_table(void **state) {
  (void)state;
  const char *p = tmp_path("t.csv");
  const char *text = "optimizer,escape_rate,note\r\nsgd,0.25,\"a, b\"\n"
                     "\"llqr-sam\",nan,\n\n";
  assert_int_equal(ph_write_file_atomic(p, text, strlen(text), NULL), PH_OK);
  ph_plot_table t;
  ph_error err = {0};
  assert_int_equal(ph_plot_table_read(p, &t, &err), PH_OK);
  assert_int_equal(t.nrows, 2);
  assert_int_equal(t.ncols, 3);
  assert_int_equal(ph_plot_table_col(&t, "escape_rate"), 1);
  assert_int_equal(ph_plot_table_col(&t, "missing"), -1);
  assert_true(t.v[1] == 0.25);
  assert_true(isnan(t.v[3 + 1]));
  assert_string_equal(t.text[2], "a, b");
  assert_string_equal(t.text[3], "llqr-sam");
  assert_true(isnan(t.v[3 + 2]));
  ph_plot_table_free(&t);
  const char *bad = "a,b\n1,2\n3\n";
  assert_int_equal(ph_write_file_atomic(p, bad, strlen(bad), NULL), PH_OK);
  ph_error_clear(&err);
  assert_int_equal(ph_plot_table_read(p, &t, &err), PH_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "t.csv:3"));
}

/* ---- rendering --------------------------------------------------------- */

static void pixel_at(cairo_surface_t *img, double dx, double dy, int rgb[3]) {
  int x = (int)floor(dx), y = (int)floor(dy);
  assert_true(x >= 0 && y >= 0 && x < cairo_image_surface_get_width(img) &&
              y < cairo_image_surface_get_height(img));
  const unsigned char *d = cairo_image_surface_get_data(img);
  uint32_t v =
      *(const uint32_t *)(d + (size_t)y * cairo_image_surface_get_stride(img) +
                          4 * (size_t)x);
  rgb[0] = (v >> 16) & 255;
  rgb[1] = (v >> 8) & 255;
  rgb[2] = v & 255;
}

static void test_render_heatmap(void **state) {
  (void)state;
  enum { NX = 5, NY = 4 };
  double x[NX], y[NY], z[NX * NY];
  for (int i = 0; i < NX; i++) x[i] = i * 0.5;
  for (int j = 0; j < NY; j++) y[j] = 10 + j;
  for (int j = 0; j < NY; j++)
    for (int i = 0; i < NX; i++) z[j * NX + i] = (i * 7 + j * 3) % 11;
  ph_plot_fig_opts o;
  ph_plot_fig_opts_default(&o);
  o.dpi = 200;
  ph_plot_fig *f;
  ph_error err = {0};
  assert_int_equal(ph_plot_fig_create(&o, PH_PLOT_PNG, &f, &err), PH_OK);
  ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
  ph_plot_axes_xrange(a, -0.25, 2.25, 0);
  ph_plot_axes_yrange(a, 9.5, 13.5, 0);
  ph_plot_axes_labels(a, "heat", "x", "y");
  ph_plot_norm nm = {0, 10, 0};
  ph_plot_axes_colorbar(a, PH_PLOT_MAGMA, &nm, "z");
  assert_int_equal(ph_plot_axes_layout(a, &err), PH_OK);
  assert_int_equal(
      ph_plot_heatmap(a, z, NX, NY, x, y, PH_PLOT_MAGMA, &nm, &err), PH_OK);
  ph_plot_axes_finish(a);
  double cx[NX * NY], cy[NX * NY];
  for (int j = 0; j < NY; j++)
    for (int i = 0; i < NX; i++)
      ph_plot_axes_to_device(a, x[i], y[j], &cx[j * NX + i], &cy[j * NX + i]);
  const char *p = tmp_path("heat.png");
  assert_int_equal(ph_plot_fig_save(f, p, &err), PH_OK);
  ph_plot_fig_free(f);
  cairo_surface_t *img = cairo_image_surface_create_from_png(p);
  assert_int_equal(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
  /* size from size and dpi: 3.25 in x 2.4 in at 200 dpi */
  assert_int_equal(cairo_image_surface_get_width(img), 650);
  assert_int_equal(cairo_image_surface_get_height(img), 480);
  for (int k = 0; k < NX * NY; k++) {
    double want[3];
    ph_plot_cmap_eval(PH_PLOT_MAGMA, ph_plot_norm_apply(&nm, z[k]), want);
    int got[3];
    pixel_at(img, cx[k], cy[k], got);
    for (int c = 0; c < 3; c++)
      assert_true(abs(got[c] - (int)lround(want[c] * 255)) <= 1);
  }
  cairo_surface_destroy(img);
}

static void test_render_contour(void **state) {
  (void)state;
  /* z = x on a coarse grid; the level 0.3 line is the vertical x = 0.3 */
  enum { N = 7 };
  double x[N], y[N], z[N * N];
  for (int i = 0; i < N; i++) x[i] = y[i] = i / (double)(N - 1);
  for (int j = 0; j < N; j++)
    for (int i = 0; i < N; i++) z[j * N + i] = x[i];
  ph_plot_fig_opts o;
  ph_plot_fig_opts_default(&o);
  o.dpi = 150;
  o.width_in = 3;
  o.height_in = 3;
  ph_plot_fig *f;
  assert_int_equal(ph_plot_fig_create(&o, PH_PLOT_PNG, &f, NULL), PH_OK);
  ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
  ph_plot_axes_xrange(a, 0, 1, 0);
  ph_plot_axes_yrange(a, 0, 1, 0);
  assert_int_equal(ph_plot_axes_layout(a, NULL), PH_OK);
  double level = 0.3, red[3] = {1, 0, 0};
  ph_plot_norm nm = {0, 1, 0};
  assert_int_equal(ph_plot_contour(a, z, N, N, x, y, &level, 1, PH_PLOT_VIRIDIS,
                                   &nm, red, 1.5, 0, NULL),
                   PH_OK);
  ph_plot_axes_finish(a);
  double on_x, on_y, off_x, off_y;
  ph_plot_axes_to_device(a, 0.3, 0.55, &on_x, &on_y);
  ph_plot_axes_to_device(a, 0.6, 0.55, &off_x, &off_y);
  const char *p = tmp_path("contour.png");
  assert_int_equal(ph_plot_fig_save(f, p, NULL), PH_OK);
  ph_plot_fig_free(f);
  cairo_surface_t *img = cairo_image_surface_create_from_png(p);
  assert_int_equal(cairo_image_surface_get_width(img), 450);
  int got[3];
  pixel_at(img, on_x, on_y, got); /* 1.5 pt = 3 px wide: the centre is red */
  assert_true(got[0] > 200 && got[1] < 80 && got[2] < 80);
  pixel_at(img, off_x, off_y, got);
  assert_true(got[0] > 240 && got[1] > 240 && got[2] > 240);
  cairo_surface_destroy(img);
}

static int have(const char *tool) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
  return system(cmd) == 0;
}

static void simple_fig(ph_plot_format fmt, const char *path) {
  ph_plot_fig_opts o;
  ph_plot_fig_opts_default(&o);
  o.cols = 2;
  o.width_in = PH_PLOT_TWOCOLUMN_IN;
  ph_plot_fig *f;
  ph_error err = {0};
  assert_int_equal(ph_plot_fig_create(&o, fmt, &f, &err), PH_OK);
  for (int c = 0; c < 2; c++) {
    ph_plot_axes *a = ph_plot_fig_axes(f, 0, c);
    double xs[50], ys[50];
    for (int i = 0; i < 50; i++) {
      xs[i] = i + 1;
      ys[i] = exp(-0.1 * i) + 0.01;
    }
    ph_plot_axes_xrange(a, 1, 50, 0);
    ph_plot_axes_yrange(a, 0.005, 2, c == 1);
    ph_plot_axes_labels(a, NULL, "stepsXlabel", "lossYlabel");
    assert_int_equal(ph_plot_axes_layout(a, &err), PH_OK);
    ph_plot_style s;
    ph_plot_style_series(&s, c, "series <&> one");
    ph_plot_line(a, xs, ys, 50, &s);
    ph_plot_axes_finish(a);
  }
  assert_int_equal(ph_plot_fig_save(f, path, &err), PH_OK);
  ph_plot_fig_free(f);
}

static void test_render_pdf_text(void **state) {
  (void)state;
  const char *p = tmp_path("fig.pdf");
  simple_fig(PH_PLOT_PDF, p);
  unsigned char *buf;
  size_t n;
  assert_int_equal(ph_read_file(p, &buf, &n, NULL), PH_OK);
  assert_true(n > 100 && memcmp(buf, "%PDF", 4) == 0);
  free(buf);
  if (!have("pdftotext")) {
    fprintf(stderr, "pdftotext absent: PDF text check skipped\n");
    skip();
  }
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "pdftotext '%s' '%s'", p, tmp_path("fig.txt"));
  assert_int_equal(system(cmd), 0);
  assert_int_equal(ph_read_file(tmp_path("fig.txt"), &buf, &n, NULL), PH_OK);
  assert_non_null(strstr((char *)buf, "stepsXlabel"));
  assert_non_null(strstr((char *)buf, "lossYlabel"));
  assert_non_null(strstr((char *)buf, "series <&> one"));
  free(buf);
}

static void test_render_svg_xml(void **state) {
  (void)state;
  const char *p = tmp_path("fig.svg");
  simple_fig(PH_PLOT_SVG, p);
  char cmd[1024];
  if (have("xmllint"))
    snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", p);
  else if (access("/usr/bin/python3", X_OK) == 0)
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import sys,xml.etree.ElementTree as E; "
             "E.parse(sys.argv[1])' '%s'",
             p);
  else {
    fprintf(stderr, "no XML parser: SVG check skipped\n");
    skip();
  }
  assert_int_equal(system(cmd), 0);
}

static void test_render_surface3d(void **state) {
  (void)state;
  /* a grid finer than the 3-D mesh limit (decimated; ASan checks bounds) */
  enum { NX = 250, NY = 120 };
  double *z = malloc(NX * NY * sizeof *z), x[NX], y[NY];
  assert_non_null(z);
  for (int i = 0; i < NX; i++) x[i] = i;
  for (int j = 0; j < NY; j++) y[j] = 0.1 * j;
  for (int j = 0; j < NY; j++)
    for (int i = 0; i < NX; i++) z[j * NX + i] = sin(0.05 * i) * cos(0.3 * j);
  z[7] = NAN;
  ph_plot_fig_opts o;
  ph_plot_fig_opts_default(&o);
  o.dpi = 60;
  ph_plot_fig *f;
  assert_int_equal(ph_plot_fig_create(&o, PH_PLOT_PNG, &f, NULL), PH_OK);
  ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
  ph_plot_axes_hide(a);
  assert_int_equal(ph_plot_axes_layout(a, NULL), PH_OK);
  ph_plot_norm nm = {-1, 1, 0};
  ph_plot_view3d v = {-60, 30, "x", "y", "z"};
  assert_int_equal(
      ph_plot_surface3d(a, z, NX, NY, x, y, PH_PLOT_VIRIDIS, &nm, &v, NULL),
      PH_OK);
  ph_plot_axes_finish(a);
  assert_int_equal(ph_plot_fig_save(f, tmp_path("s3d.png"), NULL), PH_OK);
  ph_plot_fig_free(f);
  free(z);
  /* What the image must show: faces are coloured cmap(norm(z)) times a
   * Lambert shade in [0.55, 1] (plot_surface.c), so a surface pixel is a
   * shaded viridis colour; grey (axes, labels) and white are not. z spans
   * the whole norm [-1, 1] on the visible crests and troughs, so both ends
   * of the colour map must appear, and the mesh must cover a good part of
   * the figure (22 % of the pixels pass at the time of writing; 1/8 leaves
   * room for font and layout changes) (not a blank or a wrongly scaled
   * drawing). A pixel matches when some t on a 1/128 grid and a shade s in
   * [0.55, 1] reproduce it within 6/255 per channel (8-bit rounding plus the
   * grid step). */
  cairo_surface_t *img =
      cairo_image_surface_create_from_png(tmp_path("s3d.png"));
  assert_int_equal(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
  int w = cairo_image_surface_get_width(img),
      h = cairo_image_surface_get_height(img);
  assert_int_equal(w, 195); /* 3.25 in x 2.4 in at 60 dpi */
  assert_int_equal(h, 144);
  double cmap[129][3];
  for (int k = 0; k <= 128; k++)
    ph_plot_cmap_eval(PH_PLOT_VIRIDIS, k / 128.0, cmap[k]);
  size_t on_surface = 0;
  double t_lo = 1, t_hi = 0;
  for (int py = 0; py < h; py++)
    for (int px = 0; px < w; px++) {
      int rgb[3];
      pixel_at(img, px, py, rgb);
      double best = 1e9, best_t = 0;
      for (int k = 0; k <= 128; k++) {
        const double *c = cmap[k];
        double sc = (rgb[0] * c[0] + rgb[1] * c[1] + rgb[2] * c[2]) /
                    (255 * (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]));
        sc = fmin(fmax(sc, 0.55), 1);
        double e = 0;
        for (int q = 0; q < 3; q++) e = fmax(e, fabs(rgb[q] - 255 * sc * c[q]));
        if (e < best) best = e, best_t = k / 128.0;
      }
      if (best > 6) continue;
      on_surface++;
      t_lo = fmin(t_lo, best_t);
      t_hi = fmax(t_hi, best_t);
    }
  cairo_surface_destroy(img);
  fprintf(stderr, "surface3d: %zu of %d pixels on the surface, t in [%g, %g]\n",
          on_surface, w * h, t_lo, t_hi);
  assert_true(on_surface > (size_t)(w * h) / 8); /* 22 % when drawn */
  assert_true(t_lo < 0.1 && t_hi > 0.9);
}

/* The bulk/outlier split of a sampled density: a bulk Gaussian plus a far
 * spike of 1 % mass splits inside the gap between them; one Gaussian alone
 * has no gap and splits at its 99 % mass quantile (z = 2.326σ for a normal,
 * within the grid spacing). */
static void test_spectrum_split(void **state) {
  (void)state;
  size_t n = 4001;
  double *t = malloc(n * sizeof *t), *phi = malloc(n * sizeof *phi);
  for (size_t i = 0; i < n; i++) {
    t[i] = -1 + 11.0 * (double)i / (double)(n - 1);
    double u = t[i] / 0.1, v = (t[i] - 8) / 0.05;
    phi[i] = 0.99 * exp(-0.5 * u * u) / (0.1 * sqrt(2 * M_PI)) +
             0.01 * exp(-0.5 * v * v) / (0.05 * sqrt(2 * M_PI));
  }
  double b, o;
  assert_int_equal(ph_plot_spectrum_split(t, phi, n, &b, &o), 1);
  /* the gap: phi < 1e-6 peak, i.e. |u| > 5.26 right of the bulk and
   * |v| > 4.3 left of the spike */
  assert_true(b > 0.5 && b < 0.56);
  assert_true(o > 7.75 && o < 7.8);
  for (size_t i = 0; i < n; i++) phi[i] = exp(-0.5 * t[i] * t[i] / 0.01);
  assert_int_equal(ph_plot_spectrum_split(t, phi, n, &b, &o), 0);
  double h = 11.0 / (double)(n - 1);
  assert_true(fabs(b - 0.2326) < 2 * h && b == o);
  assert_int_equal(ph_plot_spectrum_split(t, phi, 2, &b, &o), 0);
  assert_true(isnan(b));
  free(t);
  free(phi);
}

static void test_save_failure(void **state) {
  (void)state;
  ph_plot_fig_opts o;
  ph_plot_fig_opts_default(&o);
  ph_plot_fig *f;
  ph_error err = {0};
  ph_plot_format fmt;
  assert_int_equal(ph_plot_format_from_path("a/b.PNG", &fmt, NULL), PH_OK);
  assert_int_equal(fmt, PH_PLOT_PNG);
  assert_int_equal(ph_plot_format_from_path("a.png/b", &fmt, &err), PH_ERR_ARG);
  assert_int_equal(ph_plot_format_from_path("b.jpg", &fmt, &err), PH_ERR_ARG);
  o.width_in = 0.1;
  assert_int_equal(ph_plot_fig_create(&o, PH_PLOT_PNG, &f, &err), PH_ERR_ARG);
  ph_plot_fig_opts_default(&o);
  assert_int_equal(ph_plot_fig_create(&o, PH_PLOT_PNG, &f, &err), PH_OK);
  const char *p = tmp_path("no/such/dir/x.png");
  ph_error_clear(&err);
  assert_int_not_equal(ph_plot_fig_save(f, p, &err), PH_OK);
  assert_non_null(strstr(err.msg, "x.png"));
  assert_false(ph_path_exists(p));
  ph_plot_fig_free(f);
  /* a log axis over non-positive values is refused, not drawn */
  assert_int_equal(ph_plot_fig_create(&o, PH_PLOT_SVG, &f, &err), PH_OK);
  ph_plot_axes *a = ph_plot_fig_axes(f, 0, 0);
  ph_plot_axes_yrange(a, -1, 1, 1);
  ph_plot_axes_xrange(a, 0, 1, 0);
  assert_int_equal(ph_plot_axes_layout(a, &err), PH_ERR_ARG);
  ph_plot_fig_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ticks_known),
      cmocka_unit_test(test_ticks_random),
      cmocka_unit_test(test_ticks_log),
      cmocka_unit_test(test_ticks_log_narrow),
      cmocka_unit_test(test_layout_labels_apart),
      cmocka_unit_test(test_contour_levels),
      cmocka_unit_test(test_cmaps),
      cmocka_unit_test(test_marching_circle),
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_render_heatmap),
      cmocka_unit_test(test_render_contour),
      cmocka_unit_test(test_render_pdf_text),
      cmocka_unit_test(test_render_svg_xml),
      cmocka_unit_test(test_render_surface3d),
      cmocka_unit_test(test_spectrum_split),
      cmocka_unit_test(test_save_failure),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
