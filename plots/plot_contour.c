/* plot_contour.c: marching squares (Lorensen & Cline 1987, the 2-D case).
 *
 * Each grid cell's four corners are classified against the level; the 16
 * cases give 0, 1 or 2 segments whose ends are linearly interpolated along
 * the crossed edges. The two saddle cases (5, 10) are resolved by the mean of
 * the corners, the usual asymptotic-decider approximation. Pure: no cairo.
 * Does not join segments into polylines (drawing strokes them one by one
 * inside a single path, so joins look continuous).
 */
#include <math.h>
#include <stdlib.h>

#include "plot.h"

static ph_status segs_push(ph_plot_segs *s, double x0, double y0, double x1,
                           double y1, ph_error *err) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 256;
    double *p = realloc(s->xy, cap * 4 * sizeof *p);
    if (!p)
      return ph_error_set(err, PH_ERR_NOMEM,
                          "contour: out of memory (%zu segments)", cap);
    s->xy = p;
    s->cap = cap;
  }
  double *q = s->xy + 4 * s->n++;
  q[0] = x0;
  q[1] = y0;
  q[2] = x1;
  q[3] = y1;
  return PH_OK;
}

void ph_plot_segs_free(ph_plot_segs *s) {
  free(s->xy);
  s->xy = NULL;
  s->n = s->cap = 0;
}

/* Edges: 0 bottom (c0-c1), 1 right (c1-c2), 2 top (c3-c2), 3 left (c0-c3);
 * corners c0 (i,j), c1 (i+1,j), c2 (i+1,j+1), c3 (i,j+1). */
static void edge_point(int e, const double c[4], const double cx[4],
                       const double cy[4], double level, double *px,
                       double *py) {
  static const int ea[4] = {0, 1, 3, 0}, eb[4] = {1, 2, 2, 3};
  int a = ea[e], b = eb[e];
  double d = c[b] - c[a];
  double f = d != 0 ? (level - c[a]) / d : 0.5;
  if (f < 0) f = 0;
  if (f > 1) f = 1;
  *px = cx[a] + f * (cx[b] - cx[a]);
  *py = cy[a] + f * (cy[b] - cy[a]);
}

ph_status ph_plot_marching_squares(const double *z, size_t nx, size_t ny,
                                   const double *x, const double *y,
                                   double level, ph_plot_segs *out,
                                   ph_error *err) {
  /* segment edge pairs per case; -1 terminates */
  static const int tab[16][4] = {
      {-1, -1, -1, -1}, {3, 0, -1, -1}, {0, 1, -1, -1}, {3, 1, -1, -1},
      {1, 2, -1, -1},   {3, 0, 1, 2},   {0, 2, -1, -1}, {3, 2, -1, -1},
      {2, 3, -1, -1},   {2, 0, -1, -1}, {0, 1, 2, 3},   {2, 1, -1, -1},
      {1, 3, -1, -1},   {1, 0, -1, -1}, {0, 3, -1, -1}, {-1, -1, -1, -1}};
  if (nx < 2 || ny < 2) return PH_OK;
  for (size_t j = 0; j + 1 < ny; j++) {
    for (size_t i = 0; i + 1 < nx; i++) {
      double c[4] = {z[j * nx + i], z[j * nx + i + 1], z[(j + 1) * nx + i + 1],
                     z[(j + 1) * nx + i]};
      if (!isfinite(c[0]) || !isfinite(c[1]) || !isfinite(c[2]) ||
          !isfinite(c[3]))
        continue;
      int idx = (c[0] >= level) | (c[1] >= level) << 1 | (c[2] >= level) << 2 |
                (c[3] >= level) << 3;
      if (idx == 0 || idx == 15) continue;
      double cx[4] = {x[i], x[i + 1], x[i + 1], x[i]};
      double cy[4] = {y[j], y[j], y[j + 1], y[j + 1]};
      const int *e = tab[idx];
      int pairs[2][2] = {{e[0], e[1]}, {e[2], e[3]}};
      if (idx == 5 || idx == 10) {
        double mean = 0.25 * (c[0] + c[1] + c[2] + c[3]);
        int centre_above = mean >= level;
        /* case 5: c0, c2 above. If the centre is above, the above corners
         * connect through it, so the lines cut the other corners off. */
        if (idx == 5)
          centre_above ? (pairs[0][0] = 0, pairs[0][1] = 1, pairs[1][0] = 2,
                          pairs[1][1] = 3)
                       : (pairs[0][0] = 3, pairs[0][1] = 0, pairs[1][0] = 1,
                          pairs[1][1] = 2);
        else
          centre_above ? (pairs[0][0] = 3, pairs[0][1] = 0, pairs[1][0] = 1,
                          pairs[1][1] = 2)
                       : (pairs[0][0] = 0, pairs[0][1] = 1, pairs[1][0] = 2,
                          pairs[1][1] = 3);
      }
      for (int s = 0; s < 2; s++) {
        if (pairs[s][0] < 0) break;
        double x0, y0, x1, y1;
        edge_point(pairs[s][0], c, cx, cy, level, &x0, &y0);
        edge_point(pairs[s][1], c, cx, cy, level, &x1, &y1);
        PH_TRY(segs_push(out, x0, y0, x1, y1, err));
      }
    }
  }
  return PH_OK;
}
