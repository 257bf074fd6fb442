/* plot_charts.c: chart kinds drawn on laid-out axes: lines (NaN breaks),
 * markers, bands, error bars, bars with intervals, reference lines, heatmaps,
 * line and filled contours, and a 3-D surface.
 *
 * Filled contours paint, for each level L, the superlevel set {z >= L} of the
 * piecewise-linear interpolant on a triangulation of the grid (two triangles
 * per cell, each clipped by the half-plane z >= L), one path per level, so
 * the antialiased edges of a band meet the band below it and never the
 * background. The 3-D surface is an orthographic projection painted back to
 * front (painter's algorithm, Newell, Newell & Sancha 1972) with a Lambert
 * shading term. Does not compute any data: plotting never recomputes numbers.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_int.h"

void ph_plot_style_series(ph_plot_style *s, int i, const char *label) {
  memset(s, 0, sizeof *s);
  ph_plot_series_color(i, s->rgb);
  s->alpha = 1;
  s->width_pt = 1.0;
  s->marker_pt = 4;
  s->marker_filled = 1;
  s->label = label;
}

static void set_rgb(cairo_t *cr, const ph_plot_style *s, double alpha) {
  cairo_set_source_rgba(cr, s->rgb[0], s->rgb[1], s->rgb[2], alpha);
}

static double alpha_of(const ph_plot_style *s, double dflt) {
  return s->alpha > 0 ? s->alpha : dflt;
}

static void dash(cairo_t *cr, int d, double lw) {
  double u = fmax(lw, 0.6);
  double a[2] = {d == 1 ? 3.2 * u : 0.8 * u, d == 1 ? 1.6 * u : 1.4 * u};
  if (d == 0)
    cairo_set_dash(cr, NULL, 0, 0);
  else
    cairo_set_dash(cr, a, 2, 0);
}

static int ok_pt(const ph_plot_axes *a, double x, double y) {
  return isfinite(x) && isfinite(y) && (!a->xlog || x > 0) &&
         (!a->ylog || y > 0);
}

void ph_plot_line(ph_plot_axes *a, const double *x, const double *y, size_t n,
                  const ph_plot_style *s) {
  cairo_t *cr = a->fig->cr;
  ph_plot__clip_begin(a);
  if (s->width_pt > 0) {
    int pen = 0;
    double lx = 0, ly = 0;
    for (size_t i = 0; i < n; i++) {
      if (!ok_pt(a, x[i], y[i])) {
        pen = 0;
        continue;
      }
      double px = ph_plot__xpt(a, x[i]), py = ph_plot__ypt(a, y[i]);
      if (pen) {
        cairo_line_to(cr, px, py);
        /* note points along the segment too, so the legend avoids lines
         * that cross a corner between two samples */
        for (int q = 1; q < 8; q++)
          ph_plot__note_pt(a, lx + (px - lx) * q / 8.0,
                           ly + (py - ly) * q / 8.0);
      } else {
        cairo_move_to(cr, px, py);
      }
      pen = 1;
      lx = px;
      ly = py;
      ph_plot__note(a, x[i], y[i]);
    }
    set_rgb(cr, s, alpha_of(s, 1));
    cairo_set_line_width(cr, s->width_pt);
    dash(cr, s->dash, s->width_pt);
    cairo_stroke(cr);
    dash(cr, 0, 0);
  }
  ph_plot__clip_end(a);
  if (s->marker) {
    ph_plot_style m = *s;
    m.label = NULL;
    ph_plot_markers(a, x, y, NULL, n, &m);
  }
  ph_plot__legend_add(a, s, 0);
}

void ph_plot_markers(ph_plot_axes *a, const double *x, const double *y,
                     const double *size, size_t n, const ph_plot_style *s) {
  cairo_t *cr = a->fig->cr;
  ph_plot__clip_begin(a);
  double d0 = s->marker_pt > 0 ? s->marker_pt : 4;
  ph_plot_marker mk = s->marker ? s->marker : PH_PLOT_MARK_CIRCLE;
  for (size_t i = 0; i < n; i++) {
    if (!ok_pt(a, x[i], y[i])) continue;
    double d = size ? d0 * size[i] : d0;
    if (!(d > 0)) continue;
    ph_plot__marker_path(cr, mk, ph_plot__xpt(a, x[i]), ph_plot__ypt(a, y[i]),
                         d);
    ph_plot__note(a, x[i], y[i]);
    if (s->marker_filled && mk != PH_PLOT_MARK_CROSS) {
      set_rgb(cr, s, alpha_of(s, 1));
      cairo_fill_preserve(cr);
      cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
      cairo_set_line_width(cr, 0.35);
      cairo_stroke(cr);
    } else {
      set_rgb(cr, s, alpha_of(s, 1));
      cairo_set_line_width(cr, 0.7);
      cairo_stroke(cr);
    }
  }
  ph_plot__clip_end(a);
  ph_plot_style l = *s;
  l.width_pt = 0;
  l.marker = mk;
  ph_plot__legend_add(a, &l, 0);
}

void ph_plot_band(ph_plot_axes *a, const double *x, const double *lo,
                  const double *hi, size_t n, const ph_plot_style *s) {
  cairo_t *cr = a->fig->cr;
  ph_plot__clip_begin(a);
  /* each run of finite points is its own polygon */
  size_t i = 0;
  while (i < n) {
    while (i < n && !(ok_pt(a, x[i], lo[i]) && ok_pt(a, x[i], hi[i]))) i++;
    size_t j = i;
    while (j < n && ok_pt(a, x[j], lo[j]) && ok_pt(a, x[j], hi[j])) j++;
    if (j > i) {
      for (size_t k = i; k < j; k++)
        cairo_line_to(cr, ph_plot__xpt(a, x[k]), ph_plot__ypt(a, hi[k]));
      for (size_t k = j; k-- > i;)
        cairo_line_to(cr, ph_plot__xpt(a, x[k]), ph_plot__ypt(a, lo[k]));
      cairo_close_path(cr);
      cairo_new_sub_path(cr);
    }
    i = j;
  }
  set_rgb(cr, s, alpha_of(s, 0.25));
  cairo_fill(cr);
  ph_plot__clip_end(a);
  ph_plot_style l = *s;
  l.alpha = alpha_of(s, 0.25);
  ph_plot__legend_add(a, &l, 1);
}

void ph_plot_errorbars(ph_plot_axes *a, const double *x, const double *lo,
                       const double *hi, size_t n, const ph_plot_style *s) {
  cairo_t *cr = a->fig->cr;
  ph_plot__clip_begin(a);
  double cap = 1.6;
  for (size_t i = 0; i < n; i++) {
    if (!ok_pt(a, x[i], lo[i]) || !ok_pt(a, x[i], hi[i])) continue;
    double px = ph_plot__xpt(a, x[i]);
    double y0 = ph_plot__ypt(a, lo[i]), y1 = ph_plot__ypt(a, hi[i]);
    cairo_move_to(cr, px, y0);
    cairo_line_to(cr, px, y1);
    cairo_move_to(cr, px - cap, y0);
    cairo_line_to(cr, px + cap, y0);
    cairo_move_to(cr, px - cap, y1);
    cairo_line_to(cr, px + cap, y1);
  }
  set_rgb(cr, s, alpha_of(s, 1));
  cairo_set_line_width(cr, s->width_pt > 0 ? s->width_pt : 0.7);
  cairo_stroke(cr);
  ph_plot__clip_end(a);
}

void ph_plot_errorbars_h(ph_plot_axes *a, const double *y, const double *lo,
                         const double *hi, size_t n, const ph_plot_style *s) {
  cairo_t *cr = a->fig->cr;
  ph_plot__clip_begin(a);
  double cap = 1.6;
  for (size_t i = 0; i < n; i++) {
    if (!ok_pt(a, lo[i], y[i]) || !ok_pt(a, hi[i], y[i])) continue;
    double py = ph_plot__ypt(a, y[i]);
    double x0 = ph_plot__xpt(a, lo[i]), x1 = ph_plot__xpt(a, hi[i]);
    cairo_move_to(cr, x0, py);
    cairo_line_to(cr, x1, py);
    cairo_move_to(cr, x0, py - cap);
    cairo_line_to(cr, x0, py + cap);
    cairo_move_to(cr, x1, py - cap);
    cairo_line_to(cr, x1, py + cap);
  }
  set_rgb(cr, s, alpha_of(s, 1));
  cairo_set_line_width(cr, s->width_pt > 0 ? s->width_pt : 0.7);
  cairo_stroke(cr);
  ph_plot__clip_end(a);
}

void ph_plot_bars(ph_plot_axes *a, const double *v, const double *lo,
                  const double *hi, size_t n, const ph_plot_style *s) {
  cairo_t *cr = a->fig->cr;
  ph_plot__clip_begin(a);
  double base = a->ylog ? a->ylo : 0.0;
  for (size_t i = 0; i < n; i++) {
    if (!ok_pt(a, (double)i, v[i])) continue;
    double x0 = ph_plot__xpt(a, i - 0.32), x1 = ph_plot__xpt(a, i + 0.32);
    double y0 = ph_plot__ypt(a, base), y1 = ph_plot__ypt(a, v[i]);
    ph_plot_style c = *s;
    ph_plot_series_color((int)i, c.rgb);
    cairo_rectangle(cr, x0, fmin(y0, y1), x1 - x0, fabs(y1 - y0));
    set_rgb(cr, &c, 0.85);
    cairo_fill(cr);
    ph_plot__note(a, (double)i, v[i]);
  }
  ph_plot__clip_end(a);
  if (lo && hi) {
    double *xs = malloc(n * sizeof *xs);
    if (!xs) return; /* drawing only; the status check happens at save */
    for (size_t i = 0; i < n; i++) xs[i] = (double)i;
    ph_plot_style e = *s;
    e.rgb[0] = e.rgb[1] = e.rgb[2] = 0.1;
    e.width_pt = 0.8;
    ph_plot_errorbars(a, xs, lo, hi, n, &e);
    free(xs);
  }
}

void ph_plot_legend_entry(ph_plot_axes *a, const ph_plot_style *s) {
  ph_plot__legend_add(a, s, 0);
}

void ph_plot_refline(ph_plot_axes *a, double x0, double y0, double x1,
                     double y1, const ph_plot_style *s) {
  cairo_t *cr = a->fig->cr;
  ph_plot__clip_begin(a);
  /* extend far beyond the rectangle; the clip trims it */
  double X0 = ph_plot__xpt(a, x0), Y0 = ph_plot__ypt(a, y0);
  double X1 = ph_plot__xpt(a, x1), Y1 = ph_plot__ypt(a, y1);
  double dx = X1 - X0, dy = Y1 - Y0, L = hypot(dx, dy);
  if (L > 0) {
    double k = 4 * (a->pw + a->ph) / L;
    cairo_move_to(cr, X0 - k * dx, Y0 - k * dy);
    cairo_line_to(cr, X1 + k * dx, Y1 + k * dy);
    set_rgb(cr, s, alpha_of(s, 1));
    cairo_set_line_width(cr, s->width_pt > 0 ? s->width_pt : 0.7);
    dash(cr, s->dash, s->width_pt);
    cairo_stroke(cr);
    dash(cr, 0, 0);
  }
  ph_plot__clip_end(a);
  ph_plot__legend_add(a, s, 0);
}

void ph_plot_text(ph_plot_axes *a, double x, double y, const char *text,
                  double size_pt, const double rgb[3]) {
  ph_plot__font(a->fig, size_pt > 0 ? size_pt : a->fig->o.font_pt - 1, 0);
  cairo_set_source_rgb(a->fig->cr, rgb ? rgb[0] : 0, rgb ? rgb[1] : 0,
                       rgb ? rgb[2] : 0);
  ph_plot__text(a->fig, text, ph_plot__xpt(a, x), ph_plot__ypt(a, y), 0.5, 0.5,
                0);
}

/* ---- gridded data ------------------------------------------------------ */

static ph_status check_grid(const char *what, const double *v, size_t n,
                            int need_uniform, ph_error *err) {
  if (n < 2) return PH_OK;
  double d = (v[n - 1] - v[0]) / (double)(n - 1);
  for (size_t i = 0; i + 1 < n; i++) {
    if (!isfinite(v[i]) || !isfinite(v[i + 1]) || !(v[i + 1] > v[i]))
      return ph_error_set(err, PH_ERR_FORMAT,
                          "%s coordinates must increase (index %zu)", what, i);
    if (need_uniform && fabs(v[i + 1] - v[i] - d) > 1e-6 * fabs(d))
      return ph_error_set(err, PH_ERR_FORMAT,
                          "%s coordinates must be evenly spaced (index %zu)",
                          what, i);
  }
  return PH_OK;
}

ph_status ph_plot_heatmap(ph_plot_axes *a, const double *z, size_t nx,
                          size_t ny, const double *x, const double *y,
                          ph_plot_cmap cm, const ph_plot_norm *nm,
                          ph_error *err) {
  if (nx < 1 || ny < 1 || nx > 32767 || ny > 32767)
    return ph_error_set(err, PH_ERR_FORMAT, "heatmap: grid %zux%zu", nx, ny);
  PH_TRY(check_grid("x", x, nx, 1, err));
  PH_TRY(check_grid("y", y, ny, 1, err));
  cairo_surface_t *img =
      cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)nx, (int)ny);
  if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(img);
    return ph_error_set(err, PH_ERR_NOMEM, "heatmap: image %zux%zu", nx, ny);
  }
  cairo_surface_flush(img);
  unsigned char *px = cairo_image_surface_get_data(img);
  int stride = cairo_image_surface_get_stride(img);
  for (size_t j = 0; j < ny; j++) {
    uint32_t *row = (uint32_t *)(px + (size_t)stride * (ny - 1 - j));
    for (size_t i = 0; i < nx; i++) {
      double t = ph_plot_norm_apply(nm, z[j * nx + i]);
      if (isnan(t)) {
        row[i] = 0; /* transparent */
        continue;
      }
      double rgb[3];
      ph_plot_cmap_eval(cm, t, rgb);
      uint32_t r = (uint32_t)lround(rgb[0] * 255),
               g = (uint32_t)lround(rgb[1] * 255),
               b = (uint32_t)lround(rgb[2] * 255);
      row[i] = 0xff000000u | r << 16 | g << 8 | b;
    }
  }
  cairo_surface_mark_dirty(img);
  double dx = nx > 1 ? (x[nx - 1] - x[0]) / (nx - 1) : 1.0;
  double dy = ny > 1 ? (y[ny - 1] - y[0]) / (ny - 1) : 1.0;
  double X0 = ph_plot__xpt(a, x[0] - dx / 2),
         X1 = ph_plot__xpt(a, x[nx - 1] + dx / 2);
  double Y0 = ph_plot__ypt(a, y[ny - 1] + dy / 2),
         Y1 = ph_plot__ypt(a, y[0] - dy / 2);
  cairo_t *cr = a->fig->cr;
  ph_plot__clip_begin(a);
  cairo_translate(cr, X0, Y0);
  cairo_scale(cr, (X1 - X0) / nx, (Y1 - Y0) / ny);
  cairo_set_source_surface(cr, img, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
  cairo_rectangle(cr, 0, 0, (double)nx, (double)ny);
  cairo_fill(cr);
  ph_plot__clip_end(a);
  cairo_surface_destroy(img);
  return PH_OK;
}

/* Shortest fixed-decimal label that reads back as v (to 1e-9 relative). */
static void level_label(char *buf, size_t len, double v) {
  for (int d = 0; d <= 8; d++) {
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f", d, v);
    if (fabs(strtod(tmp, NULL) - v) <= 1e-9 * fmax(1e-300, fabs(v)) || d == 8) {
      ph_plot_format_fixed(buf, len, v, d);
      return;
    }
  }
}

ph_status ph_plot_contour(ph_plot_axes *a, const double *z, size_t nx,
                          size_t ny, const double *x, const double *y,
                          const double *levels, int n_levels, ph_plot_cmap cm,
                          const ph_plot_norm *nm, const double *rgb,
                          double width_pt, int labels, ph_error *err) {
  PH_TRY(check_grid("x", x, nx, 0, err));
  PH_TRY(check_grid("y", y, ny, 0, err));
  cairo_t *cr = a->fig->cr;
  ph_plot_segs segs = {0};
  ph_status st = PH_OK;
  double placed[64][2];
  int n_placed = 0;
  ph_plot__clip_begin(a);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  for (int k = 0; k < n_levels; k++) {
    segs.n = 0;
    st = ph_plot_marching_squares(z, nx, ny, x, y, levels[k], &segs, err);
    if (st != PH_OK) break;
    if (segs.n == 0) continue;
    for (size_t s = 0; s < segs.n; s++) {
      const double *q = segs.xy + 4 * s;
      cairo_move_to(cr, ph_plot__xpt(a, q[0]), ph_plot__ypt(a, q[1]));
      cairo_line_to(cr, ph_plot__xpt(a, q[2]), ph_plot__ypt(a, q[3]));
    }
    double c[3];
    if (rgb)
      memcpy(c, rgb, sizeof c);
    else
      ph_plot_cmap_eval(cm, ph_plot_norm_apply(nm, levels[k]), c);
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    cairo_set_line_width(cr, width_pt > 0 ? width_pt : 0.6);
    cairo_stroke(cr);
    if (labels) {
      /* label on the segment farthest from the plot edges and from the
       * labels already placed, in a white box so the line does not run
       * through the text */
      char lab[48];
      level_label(lab, sizeof lab, levels[k]);
      ph_plot__font(a->fig, a->fig->o.font_pt - 2, 0);
      double w = ph_plot__text_width(a->fig, lab), h = a->fig->o.font_pt - 2;
      double best = -1, lx = 0, ly = 0;
      for (size_t sg = 0; sg < segs.n; sg++) {
        const double *q = segs.xy + 4 * sg;
        double mx = ph_plot__xpt(a, 0.5 * (q[0] + q[2]));
        double my = ph_plot__ypt(a, 0.5 * (q[1] + q[3]));
        double e = fmin(fmin(mx - a->px - w / 2, a->px + a->pw - mx - w / 2),
                        fmin(my - a->py - h, a->py + a->ph - my - h));
        if (e < 1) continue;
        double d = 1e9;
        for (int p = 0; p < n_placed; p++)
          d = fmin(d, hypot(mx - placed[p][0], my - placed[p][1]));
        double score = fmin(e, 25) + fmin(d, 45);
        if (score > best) {
          best = score;
          lx = mx;
          ly = my;
        }
      }
      if (best < 0) continue;
      if (n_placed < 64) {
        placed[n_placed][0] = lx;
        placed[n_placed++][1] = ly;
      }
      cairo_rectangle(cr, lx - w / 2 - 0.8, ly - h * 0.5, w + 1.6, h);
      cairo_set_source_rgba(cr, 1, 1, 1, 0.8);
      cairo_fill(cr);
      cairo_set_source_rgb(cr, c[0] * 0.6, c[1] * 0.6, c[2] * 0.6);
      ph_plot__text(a->fig, lab, lx, ly, 0.5, 0.5, 0);
    }
  }
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
  ph_plot__clip_end(a);
  ph_plot_segs_free(&segs);
  return st;
}

/* Clip polygon (px, py, pz) by z >= L (Sutherland-Hodgman, one plane). */
static int clip_poly(const double *px, const double *py, const double *pz,
                     int n, double L, double *ox, double *oy) {
  int m = 0;
  for (int i = 0; i < n; i++) {
    int j = (i + 1) % n;
    int in_i = pz[i] >= L, in_j = pz[j] >= L;
    if (in_i) {
      ox[m] = px[i];
      oy[m++] = py[i];
    }
    if (in_i != in_j) {
      double f = (L - pz[i]) / (pz[j] - pz[i]);
      ox[m] = px[i] + f * (px[j] - px[i]);
      oy[m++] = py[i] + f * (py[j] - py[i]);
    }
  }
  return m;
}

ph_status ph_plot_contour_filled(ph_plot_axes *a, const double *z, size_t nx,
                                 size_t ny, const double *x, const double *y,
                                 const double *levels, int n_levels,
                                 ph_plot_cmap cm, const ph_plot_norm *nm,
                                 ph_error *err) {
  PH_TRY(check_grid("x", x, nx, 0, err));
  PH_TRY(check_grid("y", y, ny, 0, err));
  if (nx < 2 || ny < 2) return PH_OK;
  cairo_t *cr = a->fig->cr;
  ph_plot__clip_begin(a);
  for (int k = -1; k < n_levels; k++) {
    double L = k < 0 ? -INFINITY : levels[k];
    for (size_t j = 0; j + 1 < ny; j++) {
      size_t run = SIZE_MAX; /* start of a run of cells fully above L */
      for (size_t i = 0; i + 1 <= nx; i++) {
        int full = 0, any_nan = 0;
        double c[4] = {0};
        if (i + 1 < nx) {
          c[0] = z[j * nx + i];
          c[1] = z[j * nx + i + 1];
          c[2] = z[(j + 1) * nx + i + 1];
          c[3] = z[(j + 1) * nx + i];
          any_nan = !isfinite(c[0]) || !isfinite(c[1]) || !isfinite(c[2]) ||
                    !isfinite(c[3]);
          full = !any_nan && c[0] >= L && c[1] >= L && c[2] >= L && c[3] >= L;
        }
        if (full) {
          if (run == SIZE_MAX) run = i;
          continue;
        }
        if (run != SIZE_MAX) {
          double X0 = ph_plot__xpt(a, x[run]), X1 = ph_plot__xpt(a, x[i]);
          double Y0 = ph_plot__ypt(a, y[j]), Y1 = ph_plot__ypt(a, y[j + 1]);
          cairo_rectangle(cr, X0, Y1, X1 - X0, Y0 - Y1);
          run = SIZE_MAX;
        }
        if (i + 1 >= nx || any_nan) continue;
        double cx[4] = {x[i], x[i + 1], x[i + 1], x[i]};
        double cy[4] = {y[j], y[j], y[j + 1], y[j + 1]};
        static const int tri[2][3] = {{0, 1, 2}, {0, 2, 3}};
        for (int t = 0; t < 2; t++) {
          double tx[3], ty[3], tz[3], ox[6], oy[6];
          for (int v = 0; v < 3; v++) {
            tx[v] = cx[tri[t][v]];
            ty[v] = cy[tri[t][v]];
            tz[v] = c[tri[t][v]];
          }
          int m = clip_poly(tx, ty, tz, 3, L, ox, oy);
          if (m < 3) continue;
          cairo_move_to(cr, ph_plot__xpt(a, ox[0]), ph_plot__ypt(a, oy[0]));
          for (int v = 1; v < m; v++)
            cairo_line_to(cr, ph_plot__xpt(a, ox[v]), ph_plot__ypt(a, oy[v]));
          cairo_close_path(cr);
        }
      }
    }
    double rgb[3];
    ph_plot_cmap_eval(cm, k < 0 ? 0.0 : ph_plot_norm_apply(nm, L), rgb);
    cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
    cairo_set_fill_rule(cr, CAIRO_FILL_RULE_WINDING);
    cairo_fill(cr);
  }
  ph_plot__clip_end(a);
  return PH_OK;
}
