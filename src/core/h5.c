/* h5.c: loss-landscape's HDF5 surface, direction and projection files
 * (layout in h5.h and docs/formats.md; Li et al. 2018, "Visualizing the
 * Loss Landscape of Neural Nets", github.com/tomgoldstein/loss-landscape),
 * written and read with the HDF5 C library. HDF5's own error stack
 * printing is switched off: every failure becomes one ph_error line naming
 * the file and the dataset.
 */
#include "core/h5.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/features.h"

#if PH_HAVE_HDF5
#include <hdf5.h>

/* A file being written: HDF5 writes to tmp, renamed to path at the end. */
typedef struct h5_out {
  const char *path;
  char tmp[4096];
  hid_t file;
} h5_out;

static ph_status out_open(h5_out *o, const char *path, ph_error *err) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  o->path = path;
  o->file = -1;
  if (snprintf(o->tmp, sizeof o->tmp, "%s.tmp.XXXXXX", path) >=
      (int)sizeof o->tmp)
    return ph_error_set(err, PH_ERR_ARG, "%s: path too long", path);
  /* mkstemp reserves a unique name and reports why a directory is not
   * writable (HDF5 would only say that it failed). */
  int fd = mkstemp(o->tmp);
  if (fd < 0)
    return ph_error_set(err, PH_ERR_IO, "%s: cannot create (%s)", path,
                        strerror(errno));
  close(fd);
  o->file = H5Fcreate(o->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (o->file < 0) {
    unlink(o->tmp);
    return ph_error_set(err, PH_ERR_IO, "%s: HDF5 cannot create the file",
                        path);
  }
  return PH_OK;
}

static void out_abort(h5_out *o) {
  if (o->file >= 0) H5Fclose(o->file);
  o->file = -1;
  unlink(o->tmp);
}

static ph_status out_commit(h5_out *o, ph_error *err) {
  herr_t r = H5Fclose(o->file);
  o->file = -1;
  if (r < 0 || rename(o->tmp, o->path) != 0) {
    int e = errno;
    unlink(o->tmp);
    return ph_error_set(err, PH_ERR_IO, "%s: cannot write (%s)", o->path,
                        r < 0 ? "HDF5 close failed" : strerror(e));
  }
  return PH_OK;
}

/* A float64 dataset `name` (may contain '/') under loc. */
static ph_status put_f64(hid_t loc, const char *file, const char *name,
                         int ndim, const size_t *shape, const double *data,
                         ph_error *err) {
  hsize_t dims[8];
  for (int i = 0; i < ndim; i++) dims[i] = shape[i];
  hid_t sp = H5Screate_simple(ndim, dims, NULL);
  hid_t ds = sp < 0 ? -1
                    : H5Dcreate2(loc, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT,
                                 H5P_DEFAULT, H5P_DEFAULT);
  herr_t w = ds < 0 ? -1
                    : H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                               H5P_DEFAULT, data);
  if (ds >= 0) H5Dclose(ds);
  if (sp >= 0) H5Sclose(sp);
  if (w < 0)
    return ph_error_set(err, PH_ERR_IO, "%s: cannot write dataset %s", file,
                        name);
  return PH_OK;
}

/* A scalar variable-length UTF-8 string, as h5py stores a Python str. */
static ph_status put_string(hid_t loc, const char *file, const char *name,
                            const char *value, ph_error *err) {
  hid_t t = H5Tcopy(H5T_C_S1);
  herr_t r = t < 0 ? -1 : H5Tset_size(t, H5T_VARIABLE);
  if (r >= 0) r = H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t sp = r < 0 ? -1 : H5Screate(H5S_SCALAR);
  hid_t ds = sp < 0 ? -1
                    : H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT,
                                 H5P_DEFAULT);
  const char *buf[1] = {value};
  herr_t w = ds < 0 ? -1 : H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  if (ds >= 0) H5Dclose(ds);
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  if (w < 0)
    return ph_error_set(err, PH_ERR_IO, "%s: cannot write dataset %s", file,
                        name);
  return PH_OK;
}

ph_status ph_h5_surface_write(const char *path, const ph_h5_surface *s,
                              ph_error *err) {
  if (s->n_sets > PH_H5_MAX_SETS || s->nx == 0)
    return ph_error_set(err, PH_ERR_ARG, "%s: bad surface description", path);
  h5_out o;
  PH_TRY(out_open(&o, path, err));
  ph_status st = PH_OK;
  if (s->dir_file) st = put_string(o.file, path, "dir_file", s->dir_file, err);
  if (!st) st = put_f64(o.file, path, "xcoordinates", 1, &s->nx, s->x, err);
  if (!st && s->ny)
    st = put_f64(o.file, path, "ycoordinates", 1, &s->ny, s->y, err);
  /* 2-D values as [ny, nx]: the shape of meshgrid(x, y), which plot_2D.py
   * contours against, and the order plot_surface.py fills (index j·nx+i). */
  size_t shape[2] = {s->ny ? s->ny : s->nx, s->nx};
  for (size_t k = 0; !st && k < s->n_sets; k++)
    st = put_f64(o.file, path, s->names[k], s->ny ? 2 : 1,
                 s->ny ? shape : &s->nx, s->values[k], err);
  if (st) {
    out_abort(&o);
    return st;
  }
  return out_commit(&o, err);
}

ph_status ph_h5_directions_write(const char *path, size_t n_blocks,
                                 const ph_block *blocks, size_t n,
                                 size_t n_dirs, const double *dirs,
                                 const double *explained, ph_error *err) {
  if (n_dirs < 1 || n_dirs > 2)
    return ph_error_set(err, PH_ERR_ARG, "%s: 1 or 2 directions", path);
  h5_out o;
  PH_TRY(out_open(&o, path, err));
  ph_status st = PH_OK;
  static const char *const groups[2] = {"xdirection", "ydirection"};
  for (size_t d = 0; !st && d < n_dirs; d++) {
    hid_t g =
        H5Gcreate2(o.file, groups[d], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
      st = ph_error_set(err, PH_ERR_IO, "%s: cannot create group %s", path,
                        groups[d]);
      break;
    }
    char nm[32];
    if (n_blocks == 0) {
      st = put_f64(g, path, "0", 1, &n, dirs + d * n, err);
    } else {
      for (size_t b = 0; !st && b < n_blocks; b++) {
        const ph_block *bl = &blocks[b];
        size_t one = bl->size;
        snprintf(nm, sizeof nm, "%zu", b);
        st = put_f64(g, path, nm, bl->ndim > 0 ? bl->ndim : 1,
                     bl->ndim > 0 ? bl->shape : &one, dirs + d * n + bl->offset,
                     err);
      }
    }
    H5Gclose(g);
  }
  if (!st && explained)
    st = put_f64(o.file, path, "explained_variance_ratio_", 1, &n_dirs,
                 explained, err);
  if (st) {
    out_abort(&o);
    return st;
  }
  return out_commit(&o, err);
}

ph_status ph_h5_projection_write(const char *path, size_t T, const double *x,
                                 const double *y, ph_error *err) {
  h5_out o;
  PH_TRY(out_open(&o, path, err));
  ph_status st = put_f64(o.file, path, "proj_xcoord", 1, &T, x, err);
  if (!st) st = put_f64(o.file, path, "proj_ycoord", 1, &T, y, err);
  if (st) {
    out_abort(&o);
    return st;
  }
  return out_commit(&o, err);
}

/* Read numeric dataset `name` as doubles: *data (malloc'ed), its shape. */
static ph_status get_f64(hid_t file, const char *path, const char *name,
                         int *ndim, size_t shape[2], double **data,
                         ph_error *err) {
  *data = NULL;
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: no dataset '%s' (not a loss-landscape surface "
                        "file)",
                        path, name);
  hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
  if (ds < 0)
    return ph_error_set(err, PH_ERR_FORMAT, "%s: '%s' is not a dataset", path,
                        name);
  hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
  H5T_class_t cls = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
  int nd = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
  hsize_t dims[8] = {0};
  ph_status st = PH_OK;
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    st = ph_error_set(err, PH_ERR_FORMAT, "%s: dataset '%s' is not numeric",
                      path, name);
  else if (nd < 1 || nd > 2)
    st = ph_error_set(err, PH_ERR_FORMAT,
                      "%s: dataset '%s' has %d dimensions, expected 1 or 2",
                      path, name, nd);
  size_t count = 1;
  if (!st) {
    H5Sget_simple_extent_dims(sp, dims, NULL);
    for (int i = 0; i < nd; i++) {
      shape[i] = (size_t)dims[i];
      count *= shape[i];
    }
    *ndim = nd;
    if (count == 0 || count > ((size_t)1 << 34))
      st = ph_error_set(err, PH_ERR_FORMAT, "%s: dataset '%s' has %zu values",
                        path, name, count);
  }
  if (!st && !(*data = malloc(count * sizeof(double))))
    st = ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  if (!st &&
      H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0)
    st = ph_error_set(err, PH_ERR_FORMAT, "%s: cannot read dataset '%s'", path,
                      name);
  if (st) {
    free(*data);
    *data = NULL;
  }
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  H5Dclose(ds);
  return st;
}

ph_status ph_h5_surface_read(const char *path, const char *name, ph_h5_grid *g,
                             ph_error *err) {
  memset(g, 0, sizeof *g);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  if (access(path, R_OK) != 0)
    return ph_error_set(err, PH_ERR_IO, "%s: %s", path, strerror(errno));
  if (H5Fis_hdf5(path) <= 0)
    return ph_error_set(err, PH_ERR_FORMAT, "%s: not an HDF5 file", path);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    return ph_error_set(err, PH_ERR_FORMAT, "%s: HDF5 cannot open it", path);
  if (!name) {
    name = H5Lexists(f, "train_loss", H5P_DEFAULT) <= 0 &&
                   H5Lexists(f, "test_loss", H5P_DEFAULT) > 0
               ? "test_loss"
               : "train_loss";
  }
  snprintf(g->name, sizeof g->name, "%s", name);
  int nd = 0;
  size_t sx[2], sy[2], sz[2];
  ph_status st = get_f64(f, path, "xcoordinates", &nd, sx, &g->x, err);
  if (!st && nd != 1)
    st = ph_error_set(err, PH_ERR_FORMAT, "%s: xcoordinates is not a vector",
                      path);
  g->nx = sx[0];
  g->ny = 1;
  int two_d = !st && H5Lexists(f, "ycoordinates", H5P_DEFAULT) > 0;
  if (two_d) {
    st = get_f64(f, path, "ycoordinates", &nd, sy, &g->y, err);
    if (!st && nd != 1)
      st = ph_error_set(err, PH_ERR_FORMAT, "%s: ycoordinates is not a vector",
                        path);
    g->ny = sy[0];
  }
  if (!st) st = get_f64(f, path, name, &nd, sz, &g->z, err);
  if (!st && !two_d && !(nd == 1 && sz[0] == g->nx))
    st = ph_error_set(err, PH_ERR_FORMAT,
                      "%s: %s has %zu values, expected [%zu] (xcoordinates)",
                      path, name, nd == 1 ? sz[0] : sz[0] * sz[1], g->nx);
  if (!st && two_d &&
      !(nd == 2 && ((sz[0] == g->ny && sz[1] == g->nx) ||
                    (sz[0] == g->nx && sz[1] == g->ny))))
    st = ph_error_set(
        err, PH_ERR_FORMAT,
        "%s: %s has shape [%zu%s%zu], expected [%zu, %zu] (ycoordinates, "
        "xcoordinates)",
        path, name, sz[0], nd == 2 ? ", " : "", nd == 2 ? sz[1] : 0, g->ny,
        g->nx);
  H5Fclose(f);
  if (st) ph_h5_grid_free(g);
  return st;
}

#else /* !PH_HAVE_HDF5 */

static ph_status no_hdf5(const char *path, ph_error *err) {
  return ph_error_set(err, PH_ERR_UNSUPPORTED,
                      "%s: this pothole was built without HDF5 (install "
                      "libhdf5-dev and rebuild)",
                      path);
}
ph_status ph_h5_surface_write(const char *path, const ph_h5_surface *s,
                              ph_error *err) {
  (void)s;
  return no_hdf5(path, err);
}
ph_status ph_h5_surface_read(const char *path, const char *name, ph_h5_grid *g,
                             ph_error *err) {
  (void)name;
  memset(g, 0, sizeof *g);
  return no_hdf5(path, err);
}
ph_status ph_h5_directions_write(const char *path, size_t n_blocks,
                                 const ph_block *blocks, size_t n,
                                 size_t n_dirs, const double *dirs,
                                 const double *explained, ph_error *err) {
  (void)n_blocks, (void)blocks, (void)n, (void)n_dirs, (void)dirs;
  (void)explained;
  return no_hdf5(path, err);
}
ph_status ph_h5_projection_write(const char *path, size_t T, const double *x,
                                 const double *y, ph_error *err) {
  (void)T, (void)x, (void)y;
  return no_hdf5(path, err);
}
#endif

void ph_h5_grid_free(ph_h5_grid *g) {
  free(g->x);
  free(g->y);
  free(g->z);
  g->x = g->y = g->z = NULL;
}
