/* plot_surface.c: 3-D surface plot.
 *
 * The grid is mapped into the box [-1,1]² × [-h, h] (h = 0.75, the height
 * aspect), viewed orthographically from azimuth a and elevation e (the
 * matplotlib convention: the viewer sits at direction (cos a cos e,
 * sin a cos e, sin e)). Quads are sorted by depth and painted back to front
 * (painter's algorithm, exact for a height field seen from above), coloured
 * by their mean z through the colour map and darkened by a Lambert term
 * 0.55 + 0.45 |n·l|. The floor and two back walls of the box are drawn first;
 * tick labels go on the front floor edges and the left vertical edge.
 * Does not do hidden-line removal for the axes in front of the surface.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot_int.h"

#define H3D 0.75

typedef struct proj {
  double R[3], U[3], V[3];
  double s, ox, oy; /* screen scale and origin (points) */
} proj;

static void project(const proj *p, const double P[3], double *sx, double *sy,
                    double *depth) {
  double u = P[0] * p->R[0] + P[1] * p->R[1] + P[2] * p->R[2];
  double v = P[0] * p->U[0] + P[1] * p->U[1] + P[2] * p->U[2];
  *sx = p->ox + p->s * u;
  *sy = p->oy - p->s * v;
  if (depth) *depth = P[0] * p->V[0] + P[1] * p->V[1] + P[2] * p->V[2];
}

typedef struct quad {
  double depth;
  size_t i, j;
} quad;

static int quad_cmp(const void *x, const void *y) {
  double a = ((const quad *)x)->depth, b = ((const quad *)y)->depth;
  return (a > b) - (a < b);
}

static void axis_ticks(ph_plot_axes *a, const proj *p, const double A[3],
                       const double B[3], double lo, double hi,
                       const char *label, const double out[2]) {
  /* ticks along A..B for values lo..hi, labels pushed along `out` */
  ph_plot_ticks t;
  ph_plot_fig *f = a->fig;
  cairo_t *cr = f->cr;
  if (ph_plot_ticks_linear(lo, hi, 4, &t, NULL) != PH_OK) return;
  ph_plot__font(f, f->o.font_pt - 1.5, 0);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 0.5);
  double lx = 0, ly = 0, ext = 0;
  int nl = 0;
  for (int k = 0; k < t.n; k++) {
    double s = (t.v[k] - lo) / (hi - lo);
    double P[3];
    for (int c = 0; c < 3; c++) P[c] = A[c] + s * (B[c] - A[c]);
    double sx, sy;
    project(p, P, &sx, &sy, NULL);
    cairo_move_to(cr, sx, sy);
    cairo_line_to(cr, sx + 2.5 * out[0], sy + 2.5 * out[1]);
    cairo_stroke(cr);
    double ax = out[0] > 0.3 ? 0 : (out[0] < -0.3 ? 1 : 0.5);
    double ay = out[1] > 0.3 ? 0 : (out[1] < -0.3 ? 1 : 0.5);
    ph_plot__text(f, t.label[k], sx + 4.5 * out[0], sy + 4.5 * out[1], ax, ay,
                  0);
    lx += sx;
    ly += sy;
    nl++;
    ext = fmax(ext, fabs(out[0]) * ph_plot__text_width(f, t.label[k]) +
                        fabs(out[1]) * (f->o.font_pt - 1.5));
  }
  if (label && label[0] && nl) {
    ph_plot__font(f, f->o.font_pt - 1, 0);
    double ax = out[0] > 0.3 ? 0 : (out[0] < -0.3 ? 1 : 0.5);
    double ay = out[1] > 0.3 ? 0 : (out[1] < -0.3 ? 1 : 0.5);
    ph_plot__text(f, label, lx / nl + (ext + 8) * out[0],
                  ly / nl + (ext + 8) * out[1], ax, ay, 0);
  }
}

static ph_status surface3d(ph_plot_axes *a, const double *z, size_t nx,
                           size_t ny, const double *x, const double *y,
                           ph_plot_cmap cm, const ph_plot_norm *nm,
                           const ph_plot_view3d *view, ph_error *err);

/* Grids finer than MAX3D per side are shown at every k-th point (the last
 * row and column always kept): beyond ~100 quads per side a printed mesh
 * looks the same, and a PDF of 40k shaded quads is megabytes. */
#define MAX3D 101

ph_status ph_plot_surface3d(ph_plot_axes *a, const double *z, size_t nx,
                            size_t ny, const double *x, const double *y,
                            ph_plot_cmap cm, const ph_plot_norm *nm,
                            const ph_plot_view3d *view, ph_error *err) {
  if (nx <= MAX3D && ny <= MAX3D)
    return surface3d(a, z, nx, ny, x, y, cm, nm, view, err);
  size_t sx = (nx - 2) / (MAX3D - 1) + 1, sy = (ny - 2) / (MAX3D - 1) + 1;
  size_t mx = (nx - 1 + sx - 1) / sx + 1, my = (ny - 1 + sy - 1) / sy + 1;
  double *zz = malloc(mx * my * sizeof *zz), *xx = malloc(mx * sizeof *xx),
         *yy = malloc(my * sizeof *yy);
  ph_status st;
  if (!zz || !xx || !yy) {
    st = ph_error_set(err, PH_ERR_NOMEM, "surface3d: out of memory");
  } else {
    for (size_t i = 0; i < mx; i++) xx[i] = x[i * sx < nx ? i * sx : nx - 1];
    for (size_t j = 0; j < my; j++) yy[j] = y[j * sy < ny ? j * sy : ny - 1];
    for (size_t j = 0; j < my; j++)
      for (size_t i = 0; i < mx; i++)
        zz[j * mx + i] = z[(j * sy < ny ? j * sy : ny - 1) * nx +
                           (i * sx < nx ? i * sx : nx - 1)];
    st = surface3d(a, zz, mx, my, xx, yy, cm, nm, view, err);
  }
  free(zz);
  free(xx);
  free(yy);
  return st;
}

static ph_status surface3d(ph_plot_axes *a, const double *z, size_t nx,
                           size_t ny, const double *x, const double *y,
                           ph_plot_cmap cm, const ph_plot_norm *nm,
                           const ph_plot_view3d *view, ph_error *err) {
  if (nx < 2 || ny < 2)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "surface3d: need at least 2x2 points");
  double zlo = nm->vmin, zhi = nm->vmax;
  if (!(zhi > zlo))
    return ph_error_set(err, PH_ERR_ARG, "surface3d: empty z range");
  double az = (view ? view->azim_deg : -60) * M_PI / 180;
  double el = (view ? view->elev_deg : 30) * M_PI / 180;
  proj p;
  p.V[0] = cos(az) * cos(el);
  p.V[1] = sin(az) * cos(el);
  p.V[2] = sin(el);
  p.R[0] = -sin(az);
  p.R[1] = cos(az);
  p.R[2] = 0;
  p.U[0] = -cos(az) * sin(el);
  p.U[1] = -sin(az) * sin(el);
  p.U[2] = cos(el);
  /* fit the box corners into the panel, leaving room for tick labels */
  p.s = 1;
  p.ox = p.oy = 0;
  double bx0 = INFINITY, bx1 = -INFINITY, by0 = INFINITY, by1 = -INFINITY;
  for (int c = 0; c < 8; c++) {
    double P[3] = {c & 1 ? 1 : -1, c & 2 ? 1 : -1, c & 4 ? H3D : -H3D}, sx, sy;
    project(&p, P, &sx, &sy, NULL);
    bx0 = fmin(bx0, sx);
    bx1 = fmax(bx1, sx);
    by0 = fmin(by0, sy);
    by1 = fmax(by1, sy);
  }
  double mx = 30, my = 18;
  double s =
      fmin((a->pw - 2 * mx) / (bx1 - bx0), (a->ph - 2 * my) / (by1 - by0));
  if (!(s > 1))
    return ph_error_set(err, PH_ERR_ARG, "surface3d: panel too small");
  p.s = s;
  p.ox = a->px + a->pw / 2 - s * (bx0 + bx1) / 2;
  p.oy = a->py + a->ph / 2 - s * (by0 + by1) / 2;
  double xr = x[nx - 1] - x[0], yr = y[ny - 1] - y[0];
  if (!(xr > 0) || !(yr > 0))
    return ph_error_set(err, PH_ERR_FORMAT, "surface3d: x and y must increase");
  size_t nq = (nx - 1) * (ny - 1);
  quad *q = malloc(nq * sizeof *q);
  double *P = malloc(nx * ny * 3 * sizeof *P); /* (ny, nx, 3) box coords */
  if (!q || !P) {
    free(q);
    free(P);
    return ph_error_set(err, PH_ERR_NOMEM, "surface3d: out of memory");
  }
  for (size_t j = 0; j < ny; j++)
    for (size_t i = 0; i < nx; i++) {
      double *o = P + 3 * (j * nx + i);
      double zz = z[j * nx + i];
      if (isfinite(zz)) zz = fmin(fmax(zz, zlo), zhi);
      o[0] = 2 * (x[i] - x[0]) / xr - 1;
      o[1] = 2 * (y[j] - y[0]) / yr - 1;
      o[2] = isfinite(zz) ? (2 * (zz - zlo) / (zhi - zlo) - 1) * H3D : NAN;
    }
  size_t m = 0;
  for (size_t j = 0; j + 1 < ny; j++)
    for (size_t i = 0; i + 1 < nx; i++) {
      double d = 0;
      int ok = 1;
      size_t idx[4] = {j * nx + i, j * nx + i + 1, (j + 1) * nx + i + 1,
                       (j + 1) * nx + i};
      for (int c = 0; c < 4; c++) {
        const double *o = P + 3 * idx[c];
        if (!isfinite(o[2])) ok = 0;
        d += o[0] * p.V[0] + o[1] * p.V[1] + o[2] * p.V[2];
      }
      if (ok) q[m++] = (quad){d, i, j};
    }
  qsort(q, m, sizeof *q, quad_cmp);
  cairo_t *cr = a->fig->cr;
  cairo_save(cr);
  /* back walls and floor: the faces whose outward normal points away */
  cairo_set_line_width(cr, 0.4);
  double wx = p.V[0] > 0 ? -1 : 1, wy = p.V[1] > 0 ? -1 : 1;
  double floor_c[4][3] = {
      {-1, -1, -H3D}, {1, -1, -H3D}, {1, 1, -H3D}, {-1, 1, -H3D}};
  double wall_x[4][3] = {
      {wx, -1, -H3D}, {wx, 1, -H3D}, {wx, 1, H3D}, {wx, -1, H3D}};
  double wall_y[4][3] = {
      {-1, wy, -H3D}, {1, wy, -H3D}, {1, wy, H3D}, {-1, wy, H3D}};
  double(*faces[3])[3] = {floor_c, wall_x, wall_y};
  for (int fi = 0; fi < 3; fi++) {
    for (int c = 0; c < 4; c++) {
      double sx, sy;
      project(&p, faces[fi][c], &sx, &sy, NULL);
      c ? cairo_line_to(cr, sx, sy) : cairo_move_to(cr, sx, sy);
    }
    cairo_close_path(cr);
    cairo_set_source_rgb(cr, 0.95, 0.95, 0.95);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
    cairo_stroke(cr);
  }
  /* light from upper left of the viewer */
  double Ld[3];
  for (int c = 0; c < 3; c++) Ld[c] = p.V[c] + 0.6 * p.U[c] - 0.4 * p.R[c];
  double Ln = sqrt(Ld[0] * Ld[0] + Ld[1] * Ld[1] + Ld[2] * Ld[2]);
  size_t mesh = (nx > ny ? nx : ny) / 24 + 1;
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_BEVEL);
  for (size_t k = 0; k < m; k++) {
    size_t i = q[k].i, j = q[k].j;
    size_t idx[4] = {j * nx + i, j * nx + i + 1, (j + 1) * nx + i + 1,
                     (j + 1) * nx + i};
    double zm = 0, sx[4], sy[4];
    for (int c = 0; c < 4; c++) {
      project(&p, P + 3 * idx[c], &sx[c], &sy[c], NULL);
      zm += z[idx[c]] / 4;
    }
    const double *A = P + 3 * idx[0], *B = P + 3 * idx[1], *C = P + 3 * idx[2],
                 *D = P + 3 * idx[3];
    double d1[3] = {C[0] - A[0], C[1] - A[1], C[2] - A[2]};
    double d2[3] = {D[0] - B[0], D[1] - B[1], D[2] - B[2]};
    double n[3] = {d1[1] * d2[2] - d1[2] * d2[1], d1[2] * d2[0] - d1[0] * d2[2],
                   d1[0] * d2[1] - d1[1] * d2[0]};
    double nn = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    double lam =
        nn > 0 ? fabs(n[0] * Ld[0] + n[1] * Ld[1] + n[2] * Ld[2]) / (nn * Ln)
               : 1;
    double shade = 0.55 + 0.45 * lam;
    double rgb[3];
    ph_plot_cmap_eval(cm, ph_plot_norm_apply(nm, zm), rgb);
    cairo_move_to(cr, sx[0], sy[0]);
    for (int c = 1; c < 4; c++) cairo_line_to(cr, sx[c], sy[c]);
    cairo_close_path(cr);
    cairo_set_source_rgb(cr, rgb[0] * shade, rgb[1] * shade, rgb[2] * shade);
    cairo_fill_preserve(cr);
    cairo_set_line_width(cr, 0.25);
    cairo_stroke(cr); /* same colour: hides seams between quads */
    cairo_set_source_rgba(cr, 0, 0, 0, 0.35);
    cairo_set_line_width(cr, 0.2);
    if (j % mesh == 0) {
      cairo_move_to(cr, sx[0], sy[0]);
      cairo_line_to(cr, sx[1], sy[1]);
    }
    if (i % mesh == 0) {
      cairo_move_to(cr, sx[0], sy[0]);
      cairo_line_to(cr, sx[3], sy[3]);
    }
    if (j + 2 == ny) {
      cairo_move_to(cr, sx[3], sy[3]);
      cairo_line_to(cr, sx[2], sy[2]);
    }
    if (i + 2 == nx) {
      cairo_move_to(cr, sx[1], sy[1]);
      cairo_line_to(cr, sx[2], sy[2]);
    }
    cairo_stroke(cr);
  }
  /* axes: x along the front floor edge at y = fy, y along x = fx, z on the
   * vertical edge at the leftmost back corner */
  double fy = p.V[1] > 0 ? 1 : -1, fx = p.V[0] > 0 ? 1 : -1;
  double Ax[3] = {-1, fy, -H3D}, Bx[3] = {1, fy, -H3D};
  double Ay[3] = {fx, -1, -H3D}, By[3] = {fx, 1, -H3D};
  double c0x, c0y, c1x, c1y;
  project(&p, (double[3]){0, 0, -H3D}, &c0x, &c0y, NULL);
  double outx[2], outy[2];
  project(&p, (double[3]){0, fy, -H3D}, &c1x, &c1y, NULL);
  outx[0] = c1x - c0x;
  outx[1] = c1y - c0y;
  project(&p, (double[3]){fx, 0, -H3D}, &c1x, &c1y, NULL);
  outy[0] = c1x - c0x;
  outy[1] = c1y - c0y;
  for (int c = 0; c < 2; c++) {
    double *o = c ? outy : outx, L = hypot(o[0], o[1]);
    o[0] /= L;
    o[1] /= L;
  }
  axis_ticks(a, &p, Ax, Bx, x[0], x[nx - 1], view ? view->xlabel : NULL, outx);
  axis_ticks(a, &p, Ay, By, y[0], y[ny - 1], view ? view->ylabel : NULL, outy);
  /* z axis on the back corner that is leftmost on screen */
  double best = INFINITY, zc[2] = {-1, -1};
  for (int c = 0; c < 4; c++) {
    double X = c & 1 ? 1 : -1, Y = c & 2 ? 1 : -1, sx, sy;
    if (X == fx && Y == fy) continue; /* the front corner */
    project(&p, (double[3]){X, Y, -H3D}, &sx, &sy, NULL);
    if (sx < best) {
      best = sx;
      zc[0] = X;
      zc[1] = Y;
    }
  }
  double Az[3] = {zc[0], zc[1], -H3D}, Bz[3] = {zc[0], zc[1], H3D};
  double outz[2] = {-1, 0};
  axis_ticks(a, &p, Az, Bz, zlo, zhi, view ? view->zlabel : NULL, outz);
  cairo_restore(cr);
  free(q);
  free(P);
  return PH_OK;
}
