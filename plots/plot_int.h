/* plot_int.h: internals shared by plot_fig.c and plot_charts.c (not a
 * public interface). Coordinates in user space are points (1/72 in); for
 * PNG the cairo context is scaled by dpi/72 once, so everything below draws
 * in points whatever the output. */
#ifndef PH_PLOTS_PLOT_INT_H
#define PH_PLOTS_PLOT_INT_H

#include <cairo.h>

#include "plot.h"

#define PH_PLOT_TEXT_MAX 200
#define PH_PLOT_MAX_LEGEND 12
#define PH_PLOT_MAX_CATS 24

typedef struct legend_entry {
  ph_plot_style style;
  int kind; /* 0 line/marker, 1 filled patch */
  char label[PH_PLOT_TEXT_MAX];
} legend_entry;

struct ph_plot_axes {
  ph_plot_fig *fig;
  int used;
  double cx, cy, cw, ch; /* panel cell, points */
  double px, py, pw, ph; /* plot rectangle, points */
  double xlo, xhi, ylo, yhi;
  int xlog, ylog, xset, yset;
  char title[PH_PLOT_TEXT_MAX], xlabel[PH_PLOT_TEXT_MAX],
      ylabel[PH_PLOT_TEXT_MAX];
  char panel_label[8];
  int cbar;
  ph_plot_cmap cbar_cm;
  ph_plot_norm cbar_nm;
  char cbar_label[PH_PLOT_TEXT_MAX];
  int equal, grid, hidden;
  int ncat;
  char cats[PH_PLOT_MAX_CATS][64];
  ph_plot_ticks xt, yt, ct;
  double xrot;  /* x tick labels turned by this angle (radians; 0 = level) */
  double xband; /* height of the x tick labels below the ticks (points) */
  int nleg;
  legend_entry leg[PH_PLOT_MAX_LEGEND];
  ph_plot_legend_pos legend_pos;
  double occupancy[4]; /* data points near NE, NW, SE, SW corners */
  int laid_out;
};

struct ph_plot_fig {
  ph_plot_fig_opts o;
  char family[128];
  ph_plot_format fmt;
  cairo_surface_t *surf;
  cairo_t *cr;
  double scale; /* device units per point */
  int wdev, hdev;
  unsigned char *buf; /* PDF/SVG/PNG bytes */
  size_t len, cap;
  int oom;
  ph_plot_axes *axes; /* rows * cols */
  char title[PH_PLOT_TEXT_MAX];
  double title_h;
  int legend; /* one legend for the figure, under the title */
};

/* Data -> points. */
double ph_plot__xpt(const ph_plot_axes *a, double x);
double ph_plot__ypt(const ph_plot_axes *a, double y);
void ph_plot__clip_begin(ph_plot_axes *a);
void ph_plot__clip_end(ph_plot_axes *a);
void ph_plot__font(ph_plot_fig *f, double pt, int bold);
/* Draw text with its anchor (ax, ay in 0..1 of the ink box: 0.5,0.5 centre;
 * ay uses the font ascent/descent so baselines line up) at (x, y). */
void ph_plot__text(ph_plot_fig *f, const char *s, double x, double y, double ax,
                   double ay, double angle);
double ph_plot__text_width(ph_plot_fig *f, const char *s);
void ph_plot__note(ph_plot_axes *a, double x, double y);
/* The same for a point already in points (user space). */
void ph_plot__note_pt(ph_plot_axes *a, double px, double py);
void ph_plot__legend_add(ph_plot_axes *a, const ph_plot_style *s, int kind);
void ph_plot__marker_path(cairo_t *cr, ph_plot_marker m, double x, double y,
                          double d);

/* Shared by the recipes (plot_recipe_slices.c, plot_recipe_charts.c). */
#include "core/npy.h"
#include "plot_recipes.h"
#define MAX_SERIES 8
const char *ph_plot__or_default(const char *s, const char *d);
ph_status ph_plot__load_npy(const char *dir, const char *name, ph_npy *a,
                            ph_error *err);
ph_status ph_plot__load_table(const char *dir, const char *name,
                              ph_plot_table *t, int optional, int *present,
                              ph_error *err);
ph_status ph_plot__need_cols(const ph_plot_table *t, const char *file,
                             const char *const *cols, int *idx, ph_error *err);
double *ph_plot__col_copy(const ph_plot_table *t, int c);
const char *ph_plot__base_name(const char *path);
ph_status ph_plot__fig_open(const ph_plot_recipe_opts *o, double w, double h,
                            int rows, int cols, const char *out,
                            ph_plot_fig **f, ph_error *err);
ph_status ph_plot__recipe_curvature(const char *const *in, size_t n,
                                    const ph_plot_recipe_opts *o,
                                    const char *out, ph_error *err);
ph_status ph_plot__recipe_2d(ph_plot_kind kind, const char *dir,
                             const ph_plot_recipe_opts *o, const char *out,
                             ph_error *err);
ph_status ph_plot__recipe_regime(const char *in, const ph_plot_recipe_opts *o,
                                 const char *out, ph_error *err);
ph_status ph_plot__recipe_spectrum(const char *const *in, size_t n,
                                   const ph_plot_recipe_opts *o,
                                   const char *out, ph_error *err);
ph_status ph_plot__recipe_slice1d(const char *const *in, size_t n,
                                  const ph_plot_recipe_opts *o, const char *out,
                                  ph_error *err);

#endif
