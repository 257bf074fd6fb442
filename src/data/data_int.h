/* data_int.h: internals shared by the data loaders (not a public API). */
#ifndef PH_DATA_INT_H
#define PH_DATA_INT_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"

/* A parsed "name:arg,k=v,k=v" spec. The first field after ':' that has no
 * '=' is the positional argument (a path, or P for modadd). */
#define PH_SPEC_MAX_KV 16
typedef struct ph_spec {
  char name[32];
  char arg[PH_DATA_SPEC_MAX];
  int n_kv;
  char key[PH_SPEC_MAX_KV][32];
  char val[PH_SPEC_MAX_KV][64];
  int used[PH_SPEC_MAX_KV];
} ph_spec;

ph_status ph_spec_parse(const char *spec, ph_spec *out, ph_error *err);
/* Typed options with range checks; missing keys keep *out (the default). */
ph_status ph_spec_size(ph_spec *s, const char *key, size_t lo, size_t hi,
                       size_t *out, ph_error *err);
ph_status ph_spec_double(ph_spec *s, const char *key, double lo, double hi,
                         double *out, ph_error *err);
/* Error for any key no loader consumed. */
ph_status ph_spec_check_unused(const ph_spec *s, ph_error *err);

/* Fill the caller's d in place: allocate x/y/t for both splits from the
 * shape fields already set in d. On failure what was allocated stays in d;
 * ph_dataset_free empties d either way. */
ph_status ph_dataset_init(ph_dataset *d, size_t n_train, size_t n_test,
                          ph_error *err);
/* Copy example `src` of (x, y, t) arrays into slot `dst` of split s. */
void ph_dataset_put(ph_dataset *d, ph_split s, size_t dst, const double *x,
                    const int32_t *y, const double *t);

/* Seeded split of examples into train (first) and test, in place order:
 * perm[0..n) from (seed, PH_RNG_STREAM_SPLIT). */
ph_status ph_split_perm(uint64_t seed, size_t n, size_t **perm, ph_error *err);

/* Path of a shipped data file: $POTHOLE_DATA_DIR/name, else the source
 * tree's data/name. Returns a malloc'ed string. */
char *ph_data_file(const char *name, ph_error *err);

/* Parse a numeric CSV (optional non-numeric header line) into a row-major
 * (rows, cols) malloc'ed array; ragged rows and bad numbers are errors
 * naming the file and line. */
ph_status ph_csv_parse_numeric(const char *text, size_t len, const char *name,
                               double **vals, size_t *rows, size_t *cols,
                               ph_error *err);
/* Move classification rows (features..., label) into d through a seeded
 * 80/20 split; labels must be whole numbers in [0, n_classes). */
ph_status ph_data_from_rows(ph_dataset *d, const double *rows, size_t n,
                            size_t cols, const char *name, uint64_t seed,
                            double scale, ph_error *err);

ph_status ph_load_digits(ph_dataset *d, ph_spec *s, const ph_data_options *o,
                         ph_error *err);
/* One split of an IDX data set from the bytes of its image file (ipath)
 * and label file (lpath), already read and inflated: checks the headers
 * against the sizes and fills d->x[s], d->y[s] (the train split also sets
 * the shape; the test split must match it). */
ph_status ph_idx_parse_split(ph_dataset *d, ph_split s,
                             const unsigned char *img, size_t ilen,
                             const char *ipath, const unsigned char *lab,
                             size_t llen, const char *lpath, ph_error *err);
ph_status ph_load_idx(ph_dataset *d, ph_spec *s, const char *dir,
                      const ph_data_options *o, ph_error *err);
ph_status ph_load_csv(ph_dataset *d, ph_spec *s, const ph_data_options *o,
                      ph_error *err);
/* A character-level data set from UTF-8 bytes already read and inflated
 * (name for messages; L the window length): vocabulary, windows, the last
 * 10% of the characters as the test split. */
ph_status ph_text_parse(ph_dataset *d, const unsigned char *buf, size_t len,
                        const char *name, size_t L, ph_error *err);
ph_status ph_load_text(ph_dataset *d, ph_spec *s, const ph_data_options *o,
                       ph_error *err);
ph_status ph_load_synthetic(ph_dataset *d, ph_spec *s, const ph_data_options *o,
                            ph_error *err);

#endif
