/* slice_formats.c: a slice in the formats other tools read, besides the .npy
 * set of ph_slice_write (docs/formats.md):
 *  - loss-landscape's HDF5 files (Li et al. 2018, github.com/tomgoldstein/
 *    loss-landscape): surface.h5, directions.h5 and, for a 2-D slice with a
 *    trajectory, projection.h5, which its plot_1D.py / plot_2D.py and
 *    h52vtp.py open unchanged (through core/h5.h);
 *  - a VTK XML StructuredGrid, surface.vts, that ParaView opens as a 3-D
 *    mesh: points (x, y, loss), point scalars loss (and accuracy).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/afile.h"
#include "core/alloc.h"
#include "core/h5.h"
#include "landscape/slice.h"

static const char *const k_format_files[] = {"surface.h5", "directions.h5",
                                             "projection.h5", "surface.vts"};

void ph_slice_formats_remove(const char *dir) {
  for (size_t i = 0; i < sizeof k_format_files / sizeof *k_format_files; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, k_format_files[i]);
    unlink(p);
  }
}

/* 100·acc: loss-landscape stores accuracy in percent (plot_1D.py draws it
 * on 0..100 and error as 100 − acc). */
static double *percent(const double *acc, size_t m, ph_error *err) {
  double *p = ph_malloc(m, sizeof *p, "accuracy", err);
  if (p)
    for (size_t k = 0; k < m; k++) p[k] = 100.0 * acc[k];
  return p;
}

ph_status ph_slice_write_h5(const char *dir, const ph_objective *o,
                            const ph_slice_config *cfg,
                            const ph_slice_result *r, ph_error *err) {
  size_t m = r->nx * r->ny;
  char surf[4096], dirs[4096], proj[4096];
  snprintf(surf, sizeof surf, "%s/surface.h5", dir);
  snprintf(dirs, sizeof dirs, "%s/directions.h5", dir);
  snprintf(proj, sizeof proj, "%s/projection.h5", dir);
  const char *set1 = cfg->batch.split == PH_SPLIT_TEST ? "test" : "train";
  double *acc1 = percent(r->acc, m, err);
  double *acc2 = r->acc2 ? percent(r->acc2, m, err) : NULL;
  if (!acc1 || (r->acc2 && !acc2)) {
    free(acc1);
    free(acc2);
    return PH_ERR_NOMEM;
  }
  char n1[32], n2[32];
  ph_h5_surface s = {.nx = r->nx,
                     .ny = r->two_d ? r->ny : 0,
                     .x = r->x,
                     .y = r->y,
                     .dir_file = dirs};
  snprintf(n1, sizeof n1, "%s_loss", set1);
  snprintf(n2, sizeof n2, "%s_acc", set1);
  s.names[0] = n1;
  s.values[0] = r->loss;
  s.names[1] = n2;
  s.values[1] = acc1;
  s.n_sets = 2;
  if (r->loss2) {
    s.names[2] = "test_loss";
    s.values[2] = r->loss2;
    s.names[3] = "test_acc";
    s.values[3] = acc2;
    s.n_sets = 4;
  }
  size_t nd = r->two_d ? 2 : 1;
  double expl[2] = {r->explained[0], r->explained[1]};
  int with_expl = cfg->dirs == PH_SLICE_PCA;
  ph_status st = ph_h5_directions_write(dirs, o->n_blocks, o->blocks, r->n, nd,
                                        r->dirs, with_expl ? expl : NULL, err);
  if (!st) st = ph_h5_surface_write(surf, &s, err);
  if (!st && r->two_d && r->traj_T > 0)
    st = ph_h5_projection_write(proj, r->traj_T, r->t_x, r->t_y, err);
  free(acc1);
  free(acc2);
  if (st) ph_slice_formats_remove(dir);
  return st;
}

/* Values in the ASCII arrays: exact (17 significant digits). VTK's ASCII
 * reader cannot parse nan/inf, so a non-finite value is written as
 * `replace` and the point is flagged in the "finite" array. */
static void put_values(FILE *fp, const double *v, size_t m, double replace) {
  for (size_t k = 0; k < m; k++)
    fprintf(fp, "%s%.17g", k % 6 ? " " : "\n          ",
            isfinite(v[k]) ? v[k] : replace);
  fputc('\n', fp);
}

ph_status ph_slice_write_vtk(const char *dir, const ph_slice_result *r,
                             ph_error *err) {
  size_t nx = r->nx, ny = r->two_d ? r->ny : 1, m = nx * ny;
  double top = -INFINITY;        /* the largest finite loss: the height of a */
  for (size_t k = 0; k < m; k++) /* non-finite point */
    if (isfinite(r->loss[k]) && r->loss[k] > top) top = r->loss[k];
  if (!isfinite(top)) top = 0;
  int has_acc = 0;
  for (size_t k = 0; k < m; k++) has_acc |= isfinite(r->acc[k]);
  char path[4096];
  snprintf(path, sizeof path, "%s/surface.vts", dir);
  ph_afile f;
  PH_TRY(ph_afile_open(&f, path, err));
  FILE *fp = f.fp;
  fprintf(fp,
          "<?xml version=\"1.0\"?>\n"
          "<!-- pothole slice: loss over the plane theta + x d1 + y d2; "
          "points (x, y, loss) -->\n"
          "<VTKFile type=\"StructuredGrid\" version=\"0.1\" "
          "byte_order=\"LittleEndian\">\n"
          "  <StructuredGrid WholeExtent=\"0 %zu 0 %zu 0 0\">\n"
          "    <Piece Extent=\"0 %zu 0 %zu 0 0\">\n"
          "      <PointData Scalars=\"loss\">\n"
          "        <DataArray type=\"Float64\" Name=\"loss\" "
          "NumberOfComponents=\"1\" format=\"ascii\">",
          nx - 1, ny - 1, nx - 1, ny - 1);
  put_values(fp, r->loss, m, top);
  fprintf(fp, "        </DataArray>\n");
  if (has_acc) {
    fprintf(fp, "        <DataArray type=\"Float64\" Name=\"accuracy\" "
                "NumberOfComponents=\"1\" format=\"ascii\">");
    put_values(fp, r->acc, m, 0);
    fprintf(fp, "        </DataArray>\n");
  }
  fprintf(fp, "        <DataArray type=\"UInt8\" Name=\"finite\" "
              "NumberOfComponents=\"1\" format=\"ascii\">");
  for (size_t k = 0; k < m; k++)
    fprintf(fp, "%s%d", k % 24 ? " " : "\n          ", isfinite(r->loss[k]));
  fprintf(fp, "\n        </DataArray>\n"
              "      </PointData>\n"
              "      <Points>\n"
              "        <DataArray type=\"Float64\" Name=\"Points\" "
              "NumberOfComponents=\"3\" format=\"ascii\">");
  /* point (i, j) at index j·nx + i: x varies fastest, as VTK's structured
   * point order and the (ny, nx) surface both have it */
  for (size_t j = 0; j < ny; j++)
    for (size_t i = 0; i < nx; i++) {
      double z = r->loss[j * nx + i];
      fprintf(fp, "%s%.17g %.17g %.17g",
              (j * nx + i) % 2 ? "  " : "\n          ", r->x[i],
              r->two_d ? r->y[j] : 0.0, isfinite(z) ? z : top);
    }
  fprintf(fp, "\n        </DataArray>\n"
              "      </Points>\n"
              "    </Piece>\n"
              "  </StructuredGrid>\n"
              "</VTKFile>\n");
  return ph_afile_commit(&f, err);
}
