/* plot.h: libpothole-plot, the figures of pothole (the only part that links
 * cairo).
 *
 * Three layers:
 *  1. layout maths, pure functions with no cairo in them: nice ticks and their
 *     labels, axis ranges, contour levels, colour maps, marching squares;
 *  2. a figure (size in inches, a grid of panels labelled (a), (b), ...) and
 *     axes (linear or log, margins measured from the text, ticks, labels,
 *     legend, colour bar) drawn with cairo in points (1/72 in);
 *  3. chart kinds on axes: heatmap, line and filled contours, 3-D surface,
 *     lines with bands, markers, error bars, bars with intervals.
 * Output by file extension: .png (dpi), .pdf, .svg, always written atomically
 * (rendered into memory, then ph_write_file_atomic). Cairo's sticky status is
 * checked once, when the figure is saved. See docs/figures.md.
 */
#ifndef PH_PLOTS_PLOT_H
#define PH_PLOTS_PLOT_H

#include <stddef.h>

#include "core/error.h"

/* ---- 1. Layout maths (plot_ticks.c, plot_cmap.c, plot_contour.c) ------- */

#define PH_PLOT_MAX_TICKS 32
#define PH_PLOT_LABEL_MAX 40

typedef struct ph_plot_ticks {
  int n;                                            /* major ticks */
  double v[PH_PLOT_MAX_TICKS];                      /* values, increasing */
  char label[PH_PLOT_MAX_TICKS][PH_PLOT_LABEL_MAX]; /* UTF-8 */
  int n_minor;
  double minor[4 * PH_PLOT_MAX_TICKS]; /* minor tick values */
} ph_plot_ticks;

/* The nice step m·10^k (m in {1, 2, 2.5, 5}) giving about `target` intervals
 * over a span; *mant gets m and *expo gets k. span > 0, target >= 1. */
double ph_plot_nice_step(double span, int target, double *mant, int *expo);

/* Ticks at multiples of a nice step inside [lo, hi] (inclusive, with a
 * 1e-9-relative slack), about `target` of them. Labels use one number of
 * decimals across the axis (the fewest that tell the ticks apart), a
 * typographic minus, never "-0", and a ×10ⁿ form for very large or very small
 * magnitudes. PH_ERR_ARG when lo/hi are not finite or lo > hi. */
ph_status ph_plot_ticks_linear(double lo, double hi, int target,
                               ph_plot_ticks *t, ph_error *err);
/* Log axis ticks on [lo, hi] (0 < lo < hi): decades labelled 10ⁿ with minor
 * ticks at 2..9·10ⁿ; decades thinned when there are many. With at most two
 * powers of ten inside, majors at q·10ⁿ for q in the densest of {1}, {1, 3},
 * {1, 2, 5}, {1, 2, 3, 5}, {1, 2, 3, 4, 6, 8} with at most `target` ticks
 * inside (plain-number labels, so 0.02 0.05 0.1 over 0.015 .. 0.17), all
 * of 1..9 when none gives two ticks, and linear nice ticks when not even that
 * does (2.1 .. 2.9). */
ph_status ph_plot_ticks_log(double lo, double hi, int target, ph_plot_ticks *t,
                            ph_error *err);
/* Format v with `decimals` fixed decimals, typographic minus, no "-0". */
void ph_plot_format_fixed(char *buf, size_t len, double v, int decimals);
/* "10ⁿ" with Unicode superscripts (n may be negative). */
void ph_plot_format_pow10(char *buf, size_t len, int n);

/* Data range of finite values (log: positive values only). 0 if none. */
int ph_plot_range_of(const double *v, size_t n, int log_scale, double *lo,
                     double *hi);
/* Widen [lo, hi] by frac of its span on each side (in log10 for log axes);
 * a degenerate range (lo == hi) becomes a sensible window around it. */
void ph_plot_range_pad(double *lo, double *hi, double frac, int log_scale);

/* Where a spectral density's bulk ends and its outliers begin, from a
 * sampled density phi(t) (t ascending): the first gap right of the mode
 * (a run where phi < 1e-6 · max phi) with at least 90 % of the mass to its
 * left; *bulk_hi = the gap's start, *out_lo = its end; returns 1. Without
 * such a gap returns 0 with both at the 99 % mass quantile (the bulk and
 * its top 1 % tail). NaN and 0 when n < 3 or phi has no positive value. */
int ph_plot_spectrum_split(const double *t, const double *phi, size_t n,
                           double *bulk_hi, double *out_lo);

/* Contour levels: about n nice values strictly inside (zmin, zmax); log
 * levels (zmin > 0) at 1, 2, 5 · 10ⁿ or whole decades. Returns the count
 * (<= max), 0 when the range is empty or degenerate. */
int ph_plot_contour_levels(double zmin, double zmax, int n, int log_scale,
                           double *out, int max);

/* Colour maps: perceptually uniform viridis, magma, cividis (the CC0
 * matplotlib/BIDS tables, sampled every 5th of 256 entries and interpolated
 * linearly) and the diverging cool-warm of Moreland (2009). */
typedef enum ph_plot_cmap {
  PH_PLOT_VIRIDIS = 0,
  PH_PLOT_MAGMA,
  PH_PLOT_CIVIDIS,
  PH_PLOT_COOLWARM,
  PH_PLOT_N_CMAPS
} ph_plot_cmap;

/* t in [0, 1] (clipped; NaN gives mid-grey) -> rgb in [0, 1]. */
void ph_plot_cmap_eval(ph_plot_cmap cm, double t, double rgb[3]);
/* By name ("viridis", "magma", "cividis", "coolwarm"); PH_ERR_ARG otherwise. */
ph_status ph_plot_cmap_from_name(const char *name, ph_plot_cmap *cm,
                                 ph_error *err);
const char *ph_plot_cmap_name(ph_plot_cmap cm);

/* Value -> colour-map coordinate: linear or log10 between vmin and vmax,
 * clipped to [0, 1]; NaN (and v <= 0 on a log norm) stays NaN. */
typedef struct ph_plot_norm {
  double vmin, vmax;
  int log;
} ph_plot_norm;
double ph_plot_norm_apply(const ph_plot_norm *nm, double v);

/* Qualitative colours for lines (colour-blind safe, Okabe & Ito 2008). */
void ph_plot_series_color(int i, double rgb[3]);

/* Marching squares. z is (ny, nx) row-major, z[j*nx + i] at (x[i], y[j]);
 * the iso-line z = level is returned as segments (x0, y0, x1, y1), linearly
 * interpolated along cell edges; saddles are resolved by the cell mean.
 * Cells with a non-finite corner are skipped. */
typedef struct ph_plot_segs {
  double *xy; /* (n, 4) row-major */
  size_t n, cap;
} ph_plot_segs;
ph_status ph_plot_marching_squares(const double *z, size_t nx, size_t ny,
                                   const double *x, const double *y,
                                   double level, ph_plot_segs *out,
                                   ph_error *err);
void ph_plot_segs_free(ph_plot_segs *s);

/* ---- 2. Figure and axes (plot_fig.c) ----------------------------------- */

#define PH_PLOT_COLUMN_IN 3.25    /* one paper column */
#define PH_PLOT_TWOCOLUMN_IN 6.75 /* full page width */

typedef enum ph_plot_format {
  PH_PLOT_PNG = 0,
  PH_PLOT_PDF,
  PH_PLOT_SVG
} ph_plot_format;

/* From the extension of path (.png/.pdf/.svg, case-insensitive). */
ph_status ph_plot_format_from_path(const char *path, ph_plot_format *fmt,
                                   ph_error *err);

typedef struct ph_plot_fig_opts {
  double width_in, height_in; /* default 3.25 x 2.4 */
  double dpi;                 /* PNG only; default 300 */
  const char *family;         /* default "DejaVu Sans" */
  double font_pt;             /* default 8 */
  int rows, cols;             /* panel grid; default 1 x 1 */
  int panel_labels;           /* draw (a), (b), ... when rows*cols > 1 */
} ph_plot_fig_opts;
void ph_plot_fig_opts_default(ph_plot_fig_opts *o);

typedef struct ph_plot_fig ph_plot_fig;
typedef struct ph_plot_axes ph_plot_axes;

ph_status ph_plot_fig_create(const ph_plot_fig_opts *o, ph_plot_format fmt,
                             ph_plot_fig **out, ph_error *err);
void ph_plot_fig_free(ph_plot_fig *f);
/* Panel (row, col), created on first use. */
ph_plot_axes *ph_plot_fig_axes(ph_plot_fig *f, int row, int col);
/* Check cairo's status, finish the surface and write path atomically. */
ph_status ph_plot_fig_save(ph_plot_fig *f, const char *path, ph_error *err);
/* Raw device size: pixels for PNG, points otherwise. */
void ph_plot_fig_size(const ph_plot_fig *f, int *w, int *h);
/* Device units per point (dpi/72 for PNG, 1 otherwise). */
double ph_plot_fig_scale(const ph_plot_fig *f);
/* The figure-wide title (drawn above all panels). */
void ph_plot_fig_title(ph_plot_fig *f, const char *title);
/* One legend for the whole figure, in a row under the title: every
 * panel's labelled series, each label once (in the order first drawn).
 * Call before the first ph_plot_fig_axes (it takes a row from the panels)
 * and give the panels PH_PLOT_LEGEND_NONE. */
void ph_plot_fig_legend(ph_plot_fig *f, int on);

typedef enum ph_plot_legend_pos {
  PH_PLOT_LEGEND_BEST = 0, /* the corner with the least data under it */
  PH_PLOT_LEGEND_NE,
  PH_PLOT_LEGEND_NW,
  PH_PLOT_LEGEND_SE,
  PH_PLOT_LEGEND_SW,
  PH_PLOT_LEGEND_NONE
} ph_plot_legend_pos;

/* Axes setup, before ph_plot_axes_layout. */
void ph_plot_axes_xrange(ph_plot_axes *a, double lo, double hi, int log_scale);
void ph_plot_axes_yrange(ph_plot_axes *a, double lo, double hi, int log_scale);
void ph_plot_axes_labels(ph_plot_axes *a, const char *title, const char *xlabel,
                         const char *ylabel);
/* Reserve a vertical colour bar at the right. */
void ph_plot_axes_colorbar(ph_plot_axes *a, ph_plot_cmap cm,
                           const ph_plot_norm *nm, const char *label);
/* Equal data aspect (1 unit of x = 1 unit of y). */
void ph_plot_axes_equal(ph_plot_axes *a, int on);
void ph_plot_axes_grid(ph_plot_axes *a, int on);
/* Category labels on the x axis at x = 0..n-1 (bar charts). */
void ph_plot_axes_xcategories(ph_plot_axes *a, const char *const *names, int n);
void ph_plot_axes_legend_pos(ph_plot_axes *a, ph_plot_legend_pos p);
/* Hide the frame and ticks (3-D surface panels draw their own). */
void ph_plot_axes_hide(ph_plot_axes *a);
/* Compute ticks and margins from the text, draw grid; data may follow.
 * Returns PH_ERR_ARG for an invalid range (e.g. log axis with lo <= 0). */
ph_status ph_plot_axes_layout(ph_plot_axes *a, ph_error *err);
/* Draw frame, ticks, labels, colour bar, legend on top of the data. */
void ph_plot_axes_finish(ph_plot_axes *a);

/* Data -> device coordinates (after layout; points * fig scale). */
void ph_plot_axes_to_device(const ph_plot_axes *a, double x, double y,
                            double *dx, double *dy);
/* Plot rectangle in device coordinates. */
void ph_plot_axes_rect(const ph_plot_axes *a, double *x, double *y, double *w,
                       double *h);

/* ---- 3. Chart kinds (plot_charts.c) ------------------------------------ */

typedef enum ph_plot_marker {
  PH_PLOT_MARK_NONE = 0,
  PH_PLOT_MARK_CIRCLE,
  PH_PLOT_MARK_SQUARE,
  PH_PLOT_MARK_TRIANGLE,
  PH_PLOT_MARK_DIAMOND,
  PH_PLOT_MARK_STAR,
  PH_PLOT_MARK_CROSS
} ph_plot_marker;

typedef struct ph_plot_style {
  double rgb[3];
  double alpha;    /* default 1 */
  double width_pt; /* line width; 0 = no line */
  int dash;        /* 0 solid, 1 dashed, 2 dotted */
  ph_plot_marker marker;
  double marker_pt; /* marker diameter */
  int marker_filled;
  const char *label; /* legend entry, NULL for none */
} ph_plot_style;
/* Series i: colour i, 1.0 pt line, no marker. */
void ph_plot_style_series(ph_plot_style *s, int i, const char *label);

/* Polyline; NaN points break the line (training curves with gaps). */
void ph_plot_line(ph_plot_axes *a, const double *x, const double *y, size_t n,
                  const ph_plot_style *s);
/* Markers; size (may be NULL) scales each marker's diameter. */
void ph_plot_markers(ph_plot_axes *a, const double *x, const double *y,
                     const double *size, size_t n, const ph_plot_style *s);
/* Shaded band between lo and hi (alpha from s, default 0.25). */
void ph_plot_band(ph_plot_axes *a, const double *x, const double *lo,
                  const double *hi, size_t n, const ph_plot_style *s);
/* Vertical bars [lo, hi] at x with small caps (residual bars, intervals). */
void ph_plot_errorbars(ph_plot_axes *a, const double *x, const double *lo,
                       const double *hi, size_t n, const ph_plot_style *s);
/* Horizontal error bars [lo, hi] at y (Ritz values on the x axis). */
void ph_plot_errorbars_h(ph_plot_axes *a, const double *y, const double *lo,
                         const double *hi, size_t n, const ph_plot_style *s);
/* Bars at x = 0..n-1 of height v, optional intervals [lo, hi]. */
void ph_plot_bars(ph_plot_axes *a, const double *v, const double *lo,
                  const double *hi, size_t n, const ph_plot_style *s);
/* A legend entry with nothing drawn: the key to lines drawn per series
 * (reference lines in each series' colour, keyed once in grey). */
void ph_plot_legend_entry(ph_plot_axes *a, const ph_plot_style *s);
/* Straight line through two data points, across the whole plot (y = x). */
void ph_plot_refline(ph_plot_axes *a, double x0, double y0, double x1,
                     double y1, const ph_plot_style *s);
/* Text at data coordinates, anchored at its centre. */
void ph_plot_text(ph_plot_axes *a, double x, double y, const char *text,
                  double size_pt, const double rgb[3]);

/* z (ny, nx) row-major on uniform x, y (cell centres); colours via norm. */
ph_status ph_plot_heatmap(ph_plot_axes *a, const double *z, size_t nx,
                          size_t ny, const double *x, const double *y,
                          ph_plot_cmap cm, const ph_plot_norm *nm,
                          ph_error *err);
/* Iso-lines at levels; colour from the map (rgb == NULL) or one colour;
 * labels = 1 writes the level value on each line. */
ph_status ph_plot_contour(ph_plot_axes *a, const double *z, size_t nx,
                          size_t ny, const double *x, const double *y,
                          const double *levels, int n_levels, ph_plot_cmap cm,
                          const ph_plot_norm *nm, const double *rgb,
                          double width_pt, int labels, ph_error *err);
/* Filled bands between consecutive levels, colour of each band from the map
 * at its lower level (the region below levels[0] gets vmin's colour). */
ph_status ph_plot_contour_filled(ph_plot_axes *a, const double *z, size_t nx,
                                 size_t ny, const double *x, const double *y,
                                 const double *levels, int n_levels,
                                 ph_plot_cmap cm, const ph_plot_norm *nm,
                                 ph_error *err);

/* 3-D surface of z (ny, nx) on x, y: orthographic projection after rotating
 * by azimuth (about z) and elevation (degrees), quads painted back to front,
 * coloured by z and shaded by a Lambert term, a thin mesh, labelled axes.
 * Uses the panel of `a` (call ph_plot_axes_hide + layout first). */
typedef struct ph_plot_view3d {
  double azim_deg, elev_deg; /* default -60, 30 */
  const char *xlabel, *ylabel, *zlabel;
} ph_plot_view3d;
ph_status ph_plot_surface3d(ph_plot_axes *a, const double *z, size_t nx,
                            size_t ny, const double *x, const double *y,
                            ph_plot_cmap cm, const ph_plot_norm *nm,
                            const ph_plot_view3d *view, ph_error *err);

#endif
