/* load_idx.c: IDX files (LeCun's MNIST format), gzip or plain, e.g.
 * Fashion-MNIST from Debian's dataset-fashion-mnist. A directory holds
 * train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 * t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]. Images are
 * scaled to [0, 1] and shaped (1, rows, cols); the train/test split is the
 * files' own. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/zio.h"
#include "data/data_int.h"

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* Read DIR/NAME or DIR/NAME.gz. */
static ph_status read_idx(const char *dir, const char *name,
                          unsigned char **buf, size_t *len, char *used,
                          size_t used_len, ph_error *err) {
  snprintf(used, used_len, "%s/%s.gz", dir, name);
  if (access(used, R_OK) != 0) snprintf(used, used_len, "%s/%s", dir, name);
  if (access(used, R_OK) != 0)
    return ph_error_set(err, PH_ERR_IO, "%s/%s(.gz): file not found", dir,
                        name);
  return ph_gz_read_file(used, buf, len, err);
}

ph_status ph_idx_parse_split(ph_dataset *d, ph_split s,
                             const unsigned char *img, size_t ilen,
                             const char *ipath, const unsigned char *lab,
                             size_t llen, const char *lpath, ph_error *err) {
  if (ilen < 16 || be32(img) != 0x00000803) {
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: not an IDX image file (magic %08x, want 00000803)",
                        ipath, ilen >= 4 ? be32(img) : 0);
  }
  if (llen < 8 || be32(lab) != 0x00000801) {
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: not an IDX label file (magic %08x, want 00000801)",
                        lpath, llen >= 4 ? be32(lab) : 0);
  }
  size_t n = be32(img + 4), rows = be32(img + 8), cols = be32(img + 12);
  size_t nl = be32(lab + 4);
  if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096 ||
      n > (ilen - 16) / (rows * cols) || ilen - 16 != n * rows * cols) {
    return ph_error_set(
        err, PH_ERR_FORMAT,
        "%s: header says %zu images of %zux%zu but the file has "
        "%zu data bytes",
        ipath, n, rows, cols, ilen - 16);
  }
  if (nl != n || llen - 8 != nl) {
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: %zu labels (%zu bytes) for %zu images in %s",
                        lpath, nl, llen - 8, n, ipath);
  }
  if (s == PH_SPLIT_TRAIN) {
    d->in_ndim = 3;
    d->in_shape[0] = 1;
    d->in_shape[1] = rows;
    d->in_shape[2] = cols;
    d->in_size = rows * cols;
  } else if (d->in_shape[1] != rows || d->in_shape[2] != cols) {
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: %zux%zu images, train has %zux%zu", ipath, rows,
                        cols, d->in_shape[1], d->in_shape[2]);
  }
  d->n[s] = n;
  d->x[s] = ph_malloc(n * rows * cols, sizeof(double), "images", err);
  d->y[s] = ph_malloc(n, sizeof(int32_t), "labels", err);
  if (!d->x[s] || !d->y[s]) {
    return PH_ERR_NOMEM;
  }
  for (size_t i = 0; i < n * rows * cols; i++) d->x[s][i] = img[16 + i] / 255.0;
  for (size_t i = 0; i < n; i++) {
    d->y[s][i] = lab[8 + i];
    if ((size_t)lab[8 + i] + 1 > d->n_classes)
      d->n_classes = (size_t)lab[8 + i] + 1;
  }
  return PH_OK;
}

static ph_status load_split(ph_dataset *d, ph_split s, const char *dir,
                            const char *prefix, ph_error *err) {
  char ipath[4096], lpath[4096], iname[64], lname[64];
  snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", prefix);
  snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", prefix);
  unsigned char *img = NULL, *lab = NULL;
  size_t ilen = 0, llen = 0;
  ph_status st = read_idx(dir, iname, &img, &ilen, ipath, sizeof ipath, err);
  if (st == PH_OK)
    st = read_idx(dir, lname, &lab, &llen, lpath, sizeof lpath, err);
  if (st == PH_OK)
    st = ph_idx_parse_split(d, s, img, ilen, ipath, lab, llen, lpath, err);
  free(img);
  free(lab);
  return st;
}

ph_status ph_load_idx(ph_dataset *d, ph_spec *s, const char *dir,
                      const ph_data_options *o, ph_error *err) {
  (void)s;
  /* Only as many examples as asked for would be cheaper, but the files are
   * compressed as a whole: read them, then cap. */
  d->task = PH_TASK_CLASSIFY;
  d->n_targets = 1;
  PH_TRY(load_split(d, PH_SPLIT_TRAIN, dir, "train", err));
  PH_TRY(load_split(d, PH_SPLIT_TEST, dir, "t10k", err));
  if (d->n_classes < 2) d->n_classes = 2;
  snprintf(d->provenance, sizeof d->provenance, "IDX files in %s", dir);
  if (strstr(dir, "fashion"))
    snprintf(d->provenance, sizeof d->provenance,
             "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, MIT licence), IDX "
             "files in %s",
             dir);
  (void)o;
  return PH_OK;
}
