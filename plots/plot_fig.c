/* plot_fig.c: figure, panels and axes drawn with cairo.
 *
 * A figure is one cairo surface (image for PNG at dpi/72 device units per
 * point; PDF or SVG written to a memory stream), a grid of panels and an
 * optional title. Each panel's margins are measured from its own text (tick
 * labels, axis labels, title, colour bar), so nothing is clipped and nothing
 * is wasted; the figure is written with ph_write_file_atomic when saved, after
 * checking cairo's sticky status once. Text goes through cairo's fontconfig
 * backend (the "toy" API): a missing family falls back to fontconfig's match.
 * Does not draw data (plot_charts.c).
 */
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/afile.h"
#include "plot_int.h"

#define AXIS_LW 0.6
#define TICK_LEN 2.8
#define MINOR_LEN 1.6
#define GAP 2.5
#define PAD 3.0
#define CBAR_W 6.0
#define CBAR_GAP 6.0

void ph_plot_fig_opts_default(ph_plot_fig_opts *o) {
  memset(o, 0, sizeof *o);
  o->width_in = PH_PLOT_COLUMN_IN;
  o->height_in = 2.4;
  o->dpi = 300;
  o->family = "DejaVu Sans";
  o->font_pt = 8;
  o->rows = o->cols = 1;
  o->panel_labels = 1;
}

ph_status ph_plot_format_from_path(const char *path, ph_plot_format *fmt,
                                   ph_error *err) {
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  if (dot && (!slash || dot > slash)) {
    if (!strcasecmp(dot, ".png")) return *fmt = PH_PLOT_PNG, PH_OK;
    if (!strcasecmp(dot, ".pdf")) return *fmt = PH_PLOT_PDF, PH_OK;
    if (!strcasecmp(dot, ".svg")) return *fmt = PH_PLOT_SVG, PH_OK;
  }
  return ph_error_set(err, PH_ERR_ARG,
                      "%s: output must end in .png, .pdf or .svg", path);
}

static cairo_status_t stream_write(void *closure, const unsigned char *data,
                                   unsigned int length) {
  ph_plot_fig *f = closure;
  if (f->len + length > f->cap) {
    size_t cap = f->cap ? f->cap : 65536;
    while (cap < f->len + length) cap *= 2;
    unsigned char *p = realloc(f->buf, cap);
    if (!p) {
      f->oom = 1;
      return CAIRO_STATUS_WRITE_ERROR;
    }
    f->buf = p;
    f->cap = cap;
  }
  memcpy(f->buf + f->len, data, length);
  f->len += length;
  return CAIRO_STATUS_SUCCESS;
}

ph_status ph_plot_fig_create(const ph_plot_fig_opts *o, ph_plot_format fmt,
                             ph_plot_fig **out, ph_error *err) {
  *out = NULL;
  if (!(o->width_in > 0.5 && o->width_in < 100 && o->height_in > 0.5 &&
        o->height_in < 100))
    return ph_error_set(err, PH_ERR_ARG,
                        "figure size %gx%g in is out of range (0.5..100 in)",
                        o->width_in, o->height_in);
  if (fmt == PH_PLOT_PNG && !(o->dpi >= 10 && o->dpi <= 2400))
    return ph_error_set(err, PH_ERR_ARG, "dpi %g is out of range (10..2400)",
                        o->dpi);
  if (o->rows < 1 || o->cols < 1 || o->rows * o->cols > 26)
    return ph_error_set(err, PH_ERR_ARG, "panel grid %dx%d is out of range",
                        o->rows, o->cols);
  double w_in = o->width_in * o->dpi;
  double h_in = o->height_in * o->dpi;
  if (fmt == PH_PLOT_PNG && w_in * h_in > 2e8)
    return ph_error_set(err, PH_ERR_ARG, "PNG of %.0fx%.0f pixels is too large",
                        w_in, h_in);
  ph_plot_fig *f = calloc(1, sizeof *f);
  if (!f) return ph_error_set(err, PH_ERR_NOMEM, "figure: out of memory");
  f->o = *o;
  snprintf(f->family, sizeof f->family, "%s",
           o->family && o->family[0] ? o->family : "DejaVu Sans");
  f->o.family = f->family;
  if (!(f->o.font_pt > 0)) f->o.font_pt = 8;
  f->fmt = fmt;
  double wpt = o->width_in * 72, hpt = o->height_in * 72;
  if (fmt == PH_PLOT_PNG) {
    f->scale = o->dpi / 72.0;
    f->wdev = (int)lround(o->width_in * o->dpi);
    f->hdev = (int)lround(o->height_in * o->dpi);
    f->surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, f->wdev, f->hdev);
  } else {
    f->scale = 1.0;
    f->wdev = (int)lround(wpt);
    f->hdev = (int)lround(hpt);
    f->surf =
        fmt == PH_PLOT_PDF
            ? cairo_pdf_surface_create_for_stream(stream_write, f, wpt, hpt)
            : cairo_svg_surface_create_for_stream(stream_write, f, wpt, hpt);
  }
  f->cr = cairo_create(f->surf);
  f->axes = calloc((size_t)(o->rows * o->cols), sizeof *f->axes);
  if (cairo_status(f->cr) != CAIRO_STATUS_SUCCESS || !f->axes) {
    ph_plot_fig_free(f);
    return ph_error_set(err, PH_ERR_NOMEM, "figure: cannot create surface");
  }
  cairo_scale(f->cr, f->scale, f->scale);
  cairo_set_source_rgb(f->cr, 1, 1, 1);
  cairo_paint(f->cr);
  cairo_set_line_join(f->cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(f->cr, CAIRO_LINE_CAP_BUTT);
  *out = f;
  return PH_OK;
}

void ph_plot_fig_free(ph_plot_fig *f) {
  if (!f) return;
  if (f->cr) cairo_destroy(f->cr);
  if (f->surf) cairo_surface_destroy(f->surf);
  free(f->axes);
  free(f->buf);
  free(f);
}

void ph_plot_fig_size(const ph_plot_fig *f, int *w, int *h) {
  *w = f->wdev;
  *h = f->hdev;
}

double ph_plot_fig_scale(const ph_plot_fig *f) {
  return f->scale;
}

void ph_plot_fig_title(ph_plot_fig *f, const char *title) {
  snprintf(f->title, sizeof f->title, "%s", title ? title : "");
}

void ph_plot_fig_legend(ph_plot_fig *f, int on) {
  f->legend = on;
}

/* Height above the panels: the title's line and the figure legend's row. */
static double fig_top(const ph_plot_fig *f) {
  double top = f->title[0] ? (f->o.font_pt + 1) * 1.6 + PAD : 0;
  if (f->legend) top += (f->o.font_pt - 1) * 1.3 + 2 * PAD;
  return top;
}

static void draw_fig_legend(ph_plot_fig *f);

ph_status ph_plot_fig_save(ph_plot_fig *f, const char *path, ph_error *err) {
  if (f->title[0]) {
    /* the source is whatever the last panel drew with: set black */
    cairo_set_source_rgb(f->cr, 0, 0, 0);
    ph_plot__font(f, f->o.font_pt + 1, 1);
    ph_plot__text(f, f->title, f->o.width_in * 36, PAD, 0.5, 0.0, 0);
  }
  if (f->legend) draw_fig_legend(f);
  cairo_status_t st = cairo_status(f->cr);
  if (st == CAIRO_STATUS_SUCCESS) {
    if (f->fmt == PH_PLOT_PNG) {
      cairo_surface_flush(f->surf);
      st = cairo_surface_write_to_png_stream(f->surf, stream_write, f);
    } else {
      cairo_destroy(f->cr);
      f->cr = NULL;
      cairo_surface_finish(f->surf);
      st = cairo_surface_status(f->surf);
    }
  }
  if (f->oom) return ph_error_set(err, PH_ERR_NOMEM, "%s: out of memory", path);
  if (st != CAIRO_STATUS_SUCCESS)
    return ph_error_set(err, PH_ERR_IO, "%s: drawing failed: cairo: %s", path,
                        cairo_status_to_string(st));
  if (f->len == 0)
    return ph_error_set(err, PH_ERR_IO, "%s: nothing was rendered", path);
  return ph_write_file_atomic(path, f->buf, f->len, err);
}

/* ---- text -------------------------------------------------------------- */

void ph_plot__font(ph_plot_fig *f, double pt, int bold) {
  cairo_select_font_face(f->cr, f->family, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD
                              : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(f->cr, pt);
}

double ph_plot__text_width(ph_plot_fig *f, const char *s) {
  cairo_text_extents_t te;
  cairo_text_extents(f->cr, s, &te);
  return te.x_advance;
}

/* Height of a line of text: cap height-ish box from font extents. */
static double text_height(ph_plot_fig *f) {
  cairo_font_extents_t fe;
  cairo_font_extents(f->cr, &fe);
  return fe.ascent * 0.82 + fe.descent * 0.6;
}

void ph_plot__text(ph_plot_fig *f, const char *s, double x, double y, double ax,
                   double ay, double angle) {
  cairo_t *cr = f->cr;
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  double w = ph_plot__text_width(f, s);
  /* box from baseline - ascent*0.82 (cap height) to baseline + descent*0.6 */
  double top = -fe.ascent * 0.82, bot = fe.descent * 0.6;
  cairo_save(cr);
  cairo_translate(cr, x, y);
  if (angle != 0) cairo_rotate(cr, angle);
  cairo_move_to(cr, -ax * w, -(top + ay * (bot - top)));
  cairo_show_text(cr, s);
  cairo_restore(cr);
}

/* ---- axes -------------------------------------------------------------- */

ph_plot_axes *ph_plot_fig_axes(ph_plot_fig *f, int row, int col) {
  PH_ASSERT(row >= 0 && row < f->o.rows && col >= 0 && col < f->o.cols);
  ph_plot_axes *a = &f->axes[row * f->o.cols + col];
  if (!a->used) {
    memset(a, 0, sizeof *a);
    a->used = 1;
    a->fig = f;
    a->xlo = a->ylo = INFINITY;
    a->xhi = a->yhi = -INFINITY;
    a->grid = 0;
    double top = fig_top(f);
    double W = f->o.width_in * 72, H = f->o.height_in * 72 - top;
    a->cw = W / f->o.cols;
    a->ch = H / f->o.rows;
    a->cx = col * a->cw;
    a->cy = top + row * a->ch;
    if (f->o.panel_labels && f->o.rows * f->o.cols > 1)
      snprintf(a->panel_label, sizeof a->panel_label, "(%c)",
               'a' + row * f->o.cols + col);
  }
  return a;
}

void ph_plot_axes_xrange(ph_plot_axes *a, double lo, double hi, int log_scale) {
  a->xlo = lo;
  a->xhi = hi;
  a->xlog = log_scale;
  a->xset = 1;
}
void ph_plot_axes_yrange(ph_plot_axes *a, double lo, double hi, int log_scale) {
  a->ylo = lo;
  a->yhi = hi;
  a->ylog = log_scale;
  a->yset = 1;
}
void ph_plot_axes_labels(ph_plot_axes *a, const char *title, const char *xlabel,
                         const char *ylabel) {
  if (title) snprintf(a->title, sizeof a->title, "%s", title);
  if (xlabel) snprintf(a->xlabel, sizeof a->xlabel, "%s", xlabel);
  if (ylabel) snprintf(a->ylabel, sizeof a->ylabel, "%s", ylabel);
}
void ph_plot_axes_colorbar(ph_plot_axes *a, ph_plot_cmap cm,
                           const ph_plot_norm *nm, const char *label) {
  a->cbar = 1;
  a->cbar_cm = cm;
  a->cbar_nm = *nm;
  snprintf(a->cbar_label, sizeof a->cbar_label, "%s", label ? label : "");
}
void ph_plot_axes_equal(ph_plot_axes *a, int on) {
  a->equal = on;
}
void ph_plot_axes_grid(ph_plot_axes *a, int on) {
  a->grid = on;
}
void ph_plot_axes_legend_pos(ph_plot_axes *a, ph_plot_legend_pos p) {
  a->legend_pos = p;
}
void ph_plot_axes_hide(ph_plot_axes *a) {
  a->hidden = 1;
}
void ph_plot_axes_xcategories(ph_plot_axes *a, const char *const *names,
                              int n) {
  if (n > PH_PLOT_MAX_CATS) n = PH_PLOT_MAX_CATS;
  a->ncat = n;
  for (int i = 0; i < n; i++)
    snprintf(a->cats[i], sizeof a->cats[i], "%s", names[i]);
}

static double tr(double v, int lg) {
  return lg ? log10(v) : v;
}

double ph_plot__xpt(const ph_plot_axes *a, double x) {
  double lo = tr(a->xlo, a->xlog), hi = tr(a->xhi, a->xlog);
  return a->px + (tr(x, a->xlog) - lo) / (hi - lo) * a->pw;
}
double ph_plot__ypt(const ph_plot_axes *a, double y) {
  double lo = tr(a->ylo, a->ylog), hi = tr(a->yhi, a->ylog);
  return a->py + a->ph - (tr(y, a->ylog) - lo) / (hi - lo) * a->ph;
}

void ph_plot_axes_to_device(const ph_plot_axes *a, double x, double y,
                            double *dx, double *dy) {
  *dx = ph_plot__xpt(a, x) * a->fig->scale;
  *dy = ph_plot__ypt(a, y) * a->fig->scale;
}
void ph_plot_axes_rect(const ph_plot_axes *a, double *x, double *y, double *w,
                       double *h) {
  double s = a->fig->scale;
  *x = a->px * s;
  *y = a->py * s;
  *w = a->pw * s;
  *h = a->ph * s;
}

void ph_plot__clip_begin(ph_plot_axes *a) {
  cairo_save(a->fig->cr);
  cairo_rectangle(a->fig->cr, a->px, a->py, a->pw, a->ph);
  cairo_clip(a->fig->cr);
}
void ph_plot__clip_end(ph_plot_axes *a) {
  cairo_restore(a->fig->cr);
}

void ph_plot__note(ph_plot_axes *a, double x, double y) {
  if (!isfinite(x) || !isfinite(y)) return;
  ph_plot__note_pt(a, ph_plot__xpt(a, x), ph_plot__ypt(a, y));
}

void ph_plot__note_pt(ph_plot_axes *a, double px, double py) {
  double u = (px - a->px) / a->pw;
  double v = (py - a->py) / a->ph;
  if (!(u >= 0 && u <= 1 && v >= 0 && v <= 1)) return;
  /* corner boxes of 45% x 40% */
  if (u > 0.55 && v < 0.4) a->occupancy[0] += 1;
  if (u < 0.45 && v < 0.4) a->occupancy[1] += 1;
  if (u > 0.55 && v > 0.6) a->occupancy[2] += 1;
  if (u < 0.45 && v > 0.6) a->occupancy[3] += 1;
}

void ph_plot__legend_add(ph_plot_axes *a, const ph_plot_style *s, int kind) {
  if (!s->label || !s->label[0] || a->nleg >= PH_PLOT_MAX_LEGEND) return;
  for (int i = 0; i < a->nleg; i++)
    if (!strcmp(a->leg[i].label, s->label)) return;
  legend_entry *e = &a->leg[a->nleg++];
  e->style = *s;
  e->style.label = NULL;
  e->kind = kind;
  snprintf(e->label, sizeof e->label, "%s", s->label);
}

static ph_status make_ticks(double lo, double hi, int lg, int target,
                            ph_plot_ticks *t, const char *which,
                            ph_error *err) {
  ph_status s = lg ? ph_plot_ticks_log(lo, hi, target, t, err)
                   : ph_plot_ticks_linear(lo, hi, target, t, err);
  if (s != PH_OK) ph_error_prefix(err, "%s axis: ", which);
  return s;
}

/* Labels closer than this (points) read as one: about a digit's width at
 * the tick font. */
#define LABEL_SEP(tfs) (0.5 * (tfs))

/* Whether the x tick labels, drawn level, keep LABEL_SEP apart in the
 * panel a->px, a->pw. Category labels that do not are turned instead: by
 * 45°, or by 90° when neighbours' baselines would be less than a text
 * height apart at 45° (a->xrot); a->xband gets the height the labels take
 * below the ticks. The tick font must be selected. */
static int fit_xlabels(ph_plot_axes *a, double tfs) {
  ph_plot_fig *f = a->fig;
  double h = text_height(f), sep = LABEL_SEP(tfs);
  double prev_x = 0, prev_w = 0, gap = INFINITY, wmax = 0;
  int fit = 1, seen = 0;
  a->xrot = 0;
  for (int i = 0; i < a->xt.n; i++) {
    double x = ph_plot__xpt(a, a->xt.v[i]);
    if (x < a->px - 0.01 || x > a->px + a->pw + 0.01 || !a->xt.label[i][0])
      continue;
    double w = ph_plot__text_width(f, a->xt.label[i]);
    wmax = fmax(wmax, w);
    if (seen) {
      gap = fmin(gap, x - prev_x);
      if (x - prev_x < 0.5 * (w + prev_w) + sep) fit = 0;
    }
    prev_x = x, prev_w = w, seen = 1;
  }
  a->xband = h;
  if (fit || a->ncat == 0) return fit;
  /* 45° or upright only: panels of one figure then turn alike and their
   * axes line up (a least angle per panel would differ between them) */
  static const double deg[] = {45, 90};
  for (int k = 0; k < 2; k++) {
    double th = deg[k] * M_PI / 180;
    a->xrot = th;
    a->xband = wmax * sin(th) + h * cos(th);
    if (gap * sin(th) >= h + 0.5 * sep) return 1;
  }
  return 0;
}

/* Blank the labels of all but every k-th tick (the ticks stay). */
static void thin_labels(ph_plot_ticks *t, int k) {
  for (int i = 0; i < t->n; i++)
    if (i % k) t->label[i][0] = '\0';
}

/* Whether the y tick labels keep LABEL_SEP apart vertically (text height
 * h) in the panel a->py, a->ph. */
static int fit_ylabels(ph_plot_axes *a, double h) {
  double prev = NAN;
  for (int i = 0; i < a->yt.n; i++) {
    double y = ph_plot__ypt(a, a->yt.v[i]);
    if (y < a->py - 0.01 || y > a->py + a->ph + 0.01 || !a->yt.label[i][0])
      continue;
    if (fabs(prev - y) < h + LABEL_SEP(h)) return 0;
    prev = y;
  }
  return 1;
}

ph_status ph_plot_axes_layout(ph_plot_axes *a, ph_error *err) {
  ph_plot_fig *f = a->fig;
  double fs = f->o.font_pt, tfs = f->o.font_pt - 1;
  double top = a->cy + PAD, left = a->cx + PAD;
  double right = a->cx + a->cw - PAD, bottom = a->cy + a->ch - PAD;
  ph_plot__font(f, fs, 1);
  double lab_h = text_height(f);
  if (a->title[0] || a->panel_label[0]) top += lab_h + 2 * GAP;
  if (a->hidden) {
    a->px = left;
    a->py = top;
    a->pw = right - left;
    a->ph = bottom - top;
    a->laid_out = 1;
    return PH_OK;
  }
  if (!(a->xhi > a->xlo) && !a->xset)
    ph_plot_range_pad(&a->xlo, &a->xhi, 0, a->xlog);
  if (!(a->yhi > a->ylo) && !a->yset)
    ph_plot_range_pad(&a->ylo, &a->yhi, 0, a->ylog);
  if (a->xlog && !(a->xlo > 0))
    return ph_error_set(err, PH_ERR_ARG,
                        "x axis: log scale needs positive values");
  if (a->ylog && !(a->ylo > 0))
    return ph_error_set(err, PH_ERR_ARG,
                        "y axis: log scale needs positive values");
  if (!(a->xhi > a->xlo)) ph_plot_range_pad(&a->xlo, &a->xhi, 0, a->xlog);
  if (!(a->yhi > a->ylo)) ph_plot_range_pad(&a->ylo, &a->yhi, 0, a->ylog);
  /* tick density from the panel size: ~ one tick per 0.5 in, fewer while
   * neighbouring labels would touch (fit_xlabels,
   * fit_ylabels) */
  int xtarget = (int)fmax(3, fmin(8, a->cw / 45));
  int ytarget = (int)fmax(3, fmin(8, a->ch / 36));
  double left0 = left, right0 = right, bottom0 = bottom;
  for (int pass = 0;; pass++) {
    left = left0, right = right0, bottom = bottom0;
    PH_TRY(make_ticks(a->ylo, a->yhi, a->ylog, ytarget, &a->yt, "y", err));
    if (a->ncat > 0) {
      memset(&a->xt, 0, sizeof a->xt);
      for (int i = 0; i < a->ncat; i++) {
        a->xt.v[a->xt.n] = i;
        snprintf(a->xt.label[a->xt.n], PH_PLOT_LABEL_MAX, "%s", a->cats[i]);
        a->xt.n++;
      }
    } else {
      PH_TRY(make_ticks(a->xlo, a->xhi, a->xlog, xtarget, &a->xt, "x", err));
    }
    ph_plot__font(f, tfs, 0);
    double ywmax = 0;
    for (int i = 0; i < a->yt.n; i++)
      ywmax = fmax(ywmax, ph_plot__text_width(f, a->yt.label[i]));
    double xlast_w =
        a->xt.n ? ph_plot__text_width(f, a->xt.label[a->xt.n - 1]) : 0;
    left += ywmax + GAP + TICK_LEN;
    if (a->ylabel[0]) left += lab_h + 2 * GAP;
    if (a->cbar) {
      ph_plot_ticks ct;
      PH_TRY(make_ticks(a->cbar_nm.vmin, a->cbar_nm.vmax, a->cbar_nm.log,
                        ytarget, &ct, "colour bar", err));
      a->ct = ct;
      double cw = 0;
      for (int i = 0; i < ct.n; i++)
        cw = fmax(cw, ph_plot__text_width(f, ct.label[i]));
      right -= CBAR_GAP + CBAR_W + TICK_LEN + GAP + cw;
      if (a->cbar_label[0]) right -= lab_h + 2 * GAP;
    } else {
      right -= xlast_w * 0.5;
    }
    a->px = left;
    a->pw = right - left;
    int xfit = fit_xlabels(a, tfs);
    bottom -= a->xband + GAP + TICK_LEN;
    if (a->xlabel[0]) bottom -= lab_h + 2 * GAP;
    double tick_h = text_height(f);
    a->py = top + tick_h * 0.5;
    a->ph = bottom - a->py;
    int yfit = fit_ylabels(a, tick_h);
    if (pass > 16 || a->pw < 10 || a->ph < 10) break;
    /* a target of 1 still gives two ticks (three decades apart on a wide
     * log axis) */
    if (!xfit && a->ncat == 0 && xtarget > 1)
      xtarget--;
    else if (!yfit && ytarget > 1)
      ytarget--;
    else {
      /* the fewest ticks still crowd (a narrow panel): label every
       * second, fourth, ... tick */
      for (int k = 2; !xfit && k < 2 * a->xt.n && a->ncat == 0; k *= 2) {
        thin_labels(&a->xt, k);
        xfit = fit_xlabels(a, tfs);
      }
      for (int k = 2; !yfit && k < 2 * a->yt.n; k *= 2) {
        thin_labels(&a->yt, k);
        yfit = fit_ylabels(a, tick_h);
      }
      break;
    }
  }
  if (a->pw < 10 || a->ph < 10)
    return ph_error_set(err, PH_ERR_ARG,
                        "panel too small for its labels (%.0fx%.0f pt left)",
                        a->pw, a->ph);
  if (a->equal && !a->xlog && !a->ylog) {
    double sx = a->pw / (a->xhi - a->xlo), sy = a->ph / (a->yhi - a->ylo);
    if (sx > sy) {
      double w = sy * (a->xhi - a->xlo);
      a->px += (a->pw - w) * 0.5;
      a->pw = w;
    } else {
      double h = sx * (a->yhi - a->ylo);
      a->py += (a->ph - h) * 0.5;
      a->ph = h;
    }
  }
  a->laid_out = 1;
  cairo_t *cr = f->cr;
  if (a->grid) {
    cairo_save(cr);
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_set_line_width(cr, 0.4);
    for (int i = 0; i < a->yt.n; i++) {
      double y = ph_plot__ypt(a, a->yt.v[i]);
      cairo_move_to(cr, a->px, y);
      cairo_line_to(cr, a->px + a->pw, y);
    }
    for (int i = 0; i < a->xt.n && a->ncat == 0; i++) {
      double x = ph_plot__xpt(a, a->xt.v[i]);
      cairo_move_to(cr, x, a->py);
      cairo_line_to(cr, x, a->py + a->ph);
    }
    cairo_stroke(cr);
    cairo_restore(cr);
  }
  return PH_OK;
}

static void draw_colorbar(ph_plot_axes *a) {
  ph_plot_fig *f = a->fig;
  cairo_t *cr = f->cr;
  double x = a->px + a->pw + CBAR_GAP, y = a->py, h = a->ph;
  cairo_pattern_t *g = cairo_pattern_create_linear(0, y + h, 0, y);
  for (int i = 0; i <= 64; i++) {
    double rgb[3];
    ph_plot_cmap_eval(a->cbar_cm, i / 64.0, rgb);
    cairo_pattern_add_color_stop_rgb(g, i / 64.0, rgb[0], rgb[1], rgb[2]);
  }
  cairo_rectangle(cr, x, y, CBAR_W, h);
  cairo_set_source(cr, g);
  cairo_fill(cr);
  cairo_pattern_destroy(g);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, AXIS_LW);
  cairo_rectangle(cr, x, y, CBAR_W, h);
  cairo_stroke(cr);
  ph_plot__font(f, f->o.font_pt - 1, 0);
  double wmax = 0;
  for (int i = 0; i < a->ct.n; i++) {
    double t = ph_plot_norm_apply(&a->cbar_nm, a->ct.v[i]);
    if (isnan(t)) continue;
    double ty = y + h - t * h;
    cairo_move_to(cr, x + CBAR_W, ty);
    cairo_line_to(cr, x + CBAR_W + TICK_LEN, ty);
    ph_plot__text(f, a->ct.label[i], x + CBAR_W + TICK_LEN + GAP, ty, 0, 0.5,
                  0);
    wmax = fmax(wmax, ph_plot__text_width(f, a->ct.label[i]));
  }
  cairo_stroke(cr);
  if (a->cbar_label[0]) {
    ph_plot__font(f, f->o.font_pt, 0);
    ph_plot__text(f, a->cbar_label, x + CBAR_W + TICK_LEN + 2 * GAP + wmax,
                  y + h * 0.5, 0.5, 0.0, -M_PI / 2);
  }
}

void ph_plot__marker_path(cairo_t *cr, ph_plot_marker m, double x, double y,
                          double d) {
  double r = d * 0.5;
  switch (m) {
  case PH_PLOT_MARK_CIRCLE:
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, r, 0, 2 * M_PI);
    cairo_close_path(cr);
    break;
  case PH_PLOT_MARK_SQUARE:
    cairo_rectangle(cr, x - r * 0.88, y - r * 0.88, 1.76 * r, 1.76 * r);
    break;
  case PH_PLOT_MARK_TRIANGLE:
    cairo_move_to(cr, x, y - 1.15 * r);
    cairo_line_to(cr, x + r, y + 0.6 * r);
    cairo_line_to(cr, x - r, y + 0.6 * r);
    cairo_close_path(cr);
    break;
  case PH_PLOT_MARK_DIAMOND:
    cairo_move_to(cr, x, y - 1.1 * r);
    cairo_line_to(cr, x + 0.8 * r, y);
    cairo_line_to(cr, x, y + 1.1 * r);
    cairo_line_to(cr, x - 0.8 * r, y);
    cairo_close_path(cr);
    break;
  case PH_PLOT_MARK_STAR:
    for (int k = 0; k < 10; k++) {
      double ang = -M_PI / 2 + k * M_PI / 5;
      double rr = (k % 2 ? 0.45 : 1.2) * r;
      if (k == 0)
        cairo_move_to(cr, x + rr * cos(ang), y + rr * sin(ang));
      else
        cairo_line_to(cr, x + rr * cos(ang), y + rr * sin(ang));
    }
    cairo_close_path(cr);
    break;
  case PH_PLOT_MARK_CROSS:
    cairo_move_to(cr, x - r, y - r);
    cairo_line_to(cr, x + r, y + r);
    cairo_move_to(cr, x - r, y + r);
    cairo_line_to(cr, x + r, y - r);
    break;
  default: break;
  }
}

static void set_dash(cairo_t *cr, int dash, double lw) {
  if (dash == 1) {
    double d[2] = {3.2 * fmax(lw, 0.6), 1.6 * fmax(lw, 0.6)};
    cairo_set_dash(cr, d, 2, 0);
  } else if (dash == 2) {
    double d[2] = {0.8 * fmax(lw, 0.6), 1.4 * fmax(lw, 0.6)};
    cairo_set_dash(cr, d, 2, 0);
  } else {
    cairo_set_dash(cr, NULL, 0, 0);
  }
}

/* A legend entry's sample (line, marker or patch) from x0 to x0 + sample
 * on the line cy. */
static void legend_sample(ph_plot_fig *f, const legend_entry *e, double x0,
                          double cy, double sample, double fs) {
  cairo_t *cr = f->cr;
  const ph_plot_style *s = &e->style;
  if (e->kind == 1) {
    cairo_rectangle(cr, x0, cy - fs * 0.35, sample, fs * 0.7);
    cairo_set_source_rgba(cr, s->rgb[0], s->rgb[1], s->rgb[2],
                          s->alpha > 0 ? fmax(s->alpha, 0.35) : 1);
    cairo_fill(cr);
    return;
  }
  if (s->width_pt > 0) {
    cairo_set_source_rgb(cr, s->rgb[0], s->rgb[1], s->rgb[2]);
    cairo_set_line_width(cr, s->width_pt);
    set_dash(cr, s->dash, s->width_pt);
    cairo_move_to(cr, x0, cy);
    cairo_line_to(cr, x0 + sample, cy);
    cairo_stroke(cr);
    set_dash(cr, 0, 0);
  }
  if (s->marker) {
    ph_plot__marker_path(cr, s->marker, x0 + sample / 2, cy,
                         fmin(s->marker_pt > 0 ? s->marker_pt : 4, 6));
    cairo_set_source_rgb(cr, s->rgb[0], s->rgb[1], s->rgb[2]);
    cairo_set_line_width(cr, 0.6);
    if (s->marker_filled && s->marker != PH_PLOT_MARK_CROSS)
      cairo_fill(cr);
    else
      cairo_stroke(cr);
  }
}

/* The figure legend: every panel's entries, each label once, in one row
 * centred under the title. */
static void draw_fig_legend(ph_plot_fig *f) {
  cairo_t *cr = f->cr;
  double fs = f->o.font_pt - 1, sample = 12, space = 10;
  const legend_entry *e[PH_PLOT_MAX_LEGEND];
  int n = 0;
  for (int k = 0; k < f->o.rows * f->o.cols; k++) {
    const ph_plot_axes *a = &f->axes[k];
    for (int i = 0; a->used && i < a->nleg; i++) {
      int dup = 0;
      for (int j = 0; j < n; j++) dup |= !strcmp(e[j]->label, a->leg[i].label);
      if (!dup && n < PH_PLOT_MAX_LEGEND) e[n++] = &a->leg[i];
    }
  }
  if (n == 0) return;
  cairo_save(cr);
  ph_plot__font(f, fs, 0);
  double w = 0;
  for (int i = 0; i < n; i++)
    w += sample + GAP + ph_plot__text_width(f, e[i]->label) + (i ? space : 0);
  double x = f->o.width_in * 36 - w / 2;
  double cy = fig_top(f) - PAD - fs * 0.65;
  for (int i = 0; i < n; i++) {
    legend_sample(f, e[i], x, cy, sample, fs);
    cairo_set_source_rgb(cr, 0, 0, 0);
    ph_plot__text(f, e[i]->label, x + sample + GAP, cy, 0, 0.5, 0);
    x += sample + GAP + ph_plot__text_width(f, e[i]->label) + space;
  }
  cairo_restore(cr);
}

static void draw_legend(ph_plot_axes *a) {
  if (a->nleg == 0 || a->legend_pos == PH_PLOT_LEGEND_NONE) return;
  ph_plot_fig *f = a->fig;
  cairo_t *cr = f->cr;
  double fs = f->o.font_pt - 1;
  ph_plot__font(f, fs, 0);
  double wmax = 0;
  for (int i = 0; i < a->nleg; i++)
    wmax = fmax(wmax, ph_plot__text_width(f, a->leg[i].label));
  double row = fs * 1.3, sample = 12, pad = 3;
  double bw = pad * 2 + sample + GAP + wmax, bh = pad * 2 + row * a->nleg;
  int pos = a->legend_pos;
  if (pos == PH_PLOT_LEGEND_BEST) {
    int best = 0;
    for (int i = 1; i < 4; i++)
      if (a->occupancy[i] < a->occupancy[best]) best = i;
    pos = PH_PLOT_LEGEND_NE + best;
  }
  double m = 3;
  double x = (pos == PH_PLOT_LEGEND_NE || pos == PH_PLOT_LEGEND_SE)
                 ? a->px + a->pw - m - bw
                 : a->px + m;
  double y = (pos == PH_PLOT_LEGEND_NE || pos == PH_PLOT_LEGEND_NW)
                 ? a->py + m
                 : a->py + a->ph - m - bh;
  cairo_save(cr);
  cairo_rectangle(cr, x, y, bw, bh);
  cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
  cairo_set_line_width(cr, 0.4);
  cairo_stroke(cr);
  for (int i = 0; i < a->nleg; i++) {
    double cy = y + pad + row * (i + 0.5);
    double x0 = x + pad;
    legend_sample(f, &a->leg[i], x0, cy, sample, fs);
    cairo_set_source_rgb(cr, 0, 0, 0);
    ph_plot__text(f, a->leg[i].label, x0 + sample + GAP, cy, 0, 0.5, 0);
  }
  cairo_restore(cr);
}

void ph_plot_axes_finish(ph_plot_axes *a) {
  ph_plot_fig *f = a->fig;
  cairo_t *cr = f->cr;
  cairo_save(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  ph_plot__font(f, f->o.font_pt, 1);
  if (a->panel_label[0])
    ph_plot__text(f, a->panel_label, a->cx + PAD, a->cy + PAD, 0, 0, 0);
  ph_plot__font(f, f->o.font_pt, 0);
  if (a->title[0]) {
    double cxm = a->hidden ? a->cx + a->cw * 0.5 : a->px + a->pw * 0.5;
    ph_plot__text(f, a->title, cxm, a->cy + PAD, 0.5, 0, 0);
  }
  if (a->hidden) {
    cairo_restore(cr);
    return;
  }
  draw_legend(a);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, AXIS_LW);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_SQUARE);
  cairo_rectangle(cr, a->px, a->py, a->pw, a->ph);
  cairo_stroke(cr);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
  double bot = a->py + a->ph;
  ph_plot__font(f, f->o.font_pt - 1, 0);
  double tick_h = text_height(f);
  cairo_set_line_width(cr, AXIS_LW * 0.9);
  for (int i = 0; i < a->xt.n; i++) {
    double x = ph_plot__xpt(a, a->xt.v[i]);
    if (x < a->px - 0.01 || x > a->px + a->pw + 0.01) continue;
    cairo_move_to(cr, x, bot);
    cairo_line_to(cr, x, bot + TICK_LEN);
    if (a->xrot > 0)
      /* turned: the label ends at its tick, its top corner level with
       * where a level label's top would be */
      ph_plot__text(f, a->xt.label[i], x,
                    bot + TICK_LEN + GAP + 0.5 * tick_h * cos(a->xrot), 1, 0.5,
                    -a->xrot);
    else
      ph_plot__text(f, a->xt.label[i], x, bot + TICK_LEN + GAP, 0.5, 0, 0);
  }
  for (int i = 0; i < a->xt.n_minor && !a->ncat; i++) {
    double x = ph_plot__xpt(a, a->xt.minor[i]);
    if (x < a->px || x > a->px + a->pw) continue;
    cairo_move_to(cr, x, bot);
    cairo_line_to(cr, x, bot + MINOR_LEN);
  }
  for (int i = 0; i < a->yt.n; i++) {
    double y = ph_plot__ypt(a, a->yt.v[i]);
    if (y < a->py - 0.01 || y > bot + 0.01) continue;
    cairo_move_to(cr, a->px, y);
    cairo_line_to(cr, a->px - TICK_LEN, y);
    ph_plot__text(f, a->yt.label[i], a->px - TICK_LEN - GAP, y, 1, 0.5, 0);
  }
  for (int i = 0; i < a->yt.n_minor; i++) {
    double y = ph_plot__ypt(a, a->yt.minor[i]);
    if (y < a->py || y > bot) continue;
    cairo_move_to(cr, a->px, y);
    cairo_line_to(cr, a->px - MINOR_LEN, y);
  }
  cairo_stroke(cr);
  ph_plot__font(f, f->o.font_pt, 0);
  if (a->xlabel[0])
    ph_plot__text(f, a->xlabel, a->px + a->pw * 0.5,
                  bot + TICK_LEN + GAP + a->xband + 2 * GAP, 0.5, 0, 0);
  if (a->ylabel[0]) {
    double ywmax = 0;
    ph_plot__font(f, f->o.font_pt - 1, 0);
    for (int i = 0; i < a->yt.n; i++)
      ywmax = fmax(ywmax, ph_plot__text_width(f, a->yt.label[i]));
    ph_plot__font(f, f->o.font_pt, 0);
    ph_plot__text(f, a->ylabel, a->px - TICK_LEN - 2 * GAP - ywmax,
                  a->py + a->ph * 0.5, 0.5, 1.0, -M_PI / 2);
  }
  if (a->cbar) draw_colorbar(a);
  cairo_restore(cr);
}
