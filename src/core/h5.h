/* h5.h: loss-landscape's HDF5 files, through the HDF5 C library.
 *
 * The layout is that of Li et al. 2018's code (github.com/tomgoldstein/
 * loss-landscape: plot_surface.py, net_plotter.py, h5_util.py,
 * projection.py, read by plot_1D.py, plot_2D.py and h52vtp.py); every
 * dataset, shape and unit is tabulated in docs/formats.md:
 *   surface file    xcoordinates [nx], ycoordinates [ny] (2-D only),
 *                   <set>_loss, <set>_acc ([ny, nx] or [nx]; accuracy in
 *                   percent), dir_file (scalar string: the direction file);
 *   direction file  groups xdirection (and ydirection), each holding one
 *                   dataset per parameter tensor named "0", "1", ... in
 *                   parameter order with the tensor's shape; PCA
 *                   directions add explained_variance_ratio_ [2];
 *   projection      proj_xcoord, proj_ycoord [T] (a trajectory in the plane).
 * Values are written as little-endian float64. Files are written under a
 * temporary name and renamed into place, so a failure leaves no file.
 *
 * Built when meson finds libhdf5 (core/features.h: PH_HAVE_HDF5); without
 * it every function returns PH_ERR_UNSUPPORTED with a message saying so.
 */
#ifndef PH_CORE_H5_H
#define PH_CORE_H5_H

#include <stddef.h>

#include "core/error.h"
#include "core/objective.h"

#define PH_H5_MAX_SETS 4

/* A surface to write: n_sets grids of (ny, nx) values named names[k]
 * ("train_loss", ...). ny = 0 for a 1-D surface (y unused). */
typedef struct ph_h5_surface {
  size_t nx, ny;
  const double *x, *y;
  size_t n_sets;
  const char *names[PH_H5_MAX_SETS];
  const double *values[PH_H5_MAX_SETS];
  const char *dir_file; /* stored as the dataset dir_file (may be NULL) */
} ph_h5_surface;

ph_status ph_h5_surface_write(const char *path, const ph_h5_surface *s,
                              ph_error *err);

/* One grid read back: z (ny, nx) row-major, z[j·nx + i] at (x[i], y[j]);
 * ny = 1 and y = NULL for a 1-D surface. */
typedef struct ph_h5_grid {
  size_t nx, ny;
  double *x, *y, *z;
  char name[64]; /* the dataset read */
} ph_h5_grid;

/* Read surface `name` of a loss-landscape surface file; name NULL takes
 * train_loss, else test_loss. A 2-D dataset may be declared [ny, nx] (as
 * pothole writes it) or [nx, ny] (as plot_surface.py declares it); both
 * hold the values in meshgrid order j·nx + i. Errors name the file and
 * what is wrong with its layout. */
ph_status ph_h5_surface_read(const char *path, const char *name, ph_h5_grid *g,
                             ph_error *err);
void ph_h5_grid_free(ph_h5_grid *g);

/* Direction file: n_dirs (1 or 2) flat directions dirs (n_dirs, n) split
 * into the blocks' tensors (one dataset per block, block shape; a single
 * [n] dataset when there are no blocks). explained (n_dirs) or NULL. */
ph_status ph_h5_directions_write(const char *path, size_t n_blocks,
                                 const ph_block *blocks, size_t n,
                                 size_t n_dirs, const double *dirs,
                                 const double *explained, ph_error *err);

/* Projection file: a trajectory's plane coordinates x, y (T). */
ph_status ph_h5_projection_write(const char *path, size_t T, const double *x,
                                 const double *y, ph_error *err);

#endif
