/* dataset.c: loading a data set from its spec, the common preprocessing
 * (standardisation, caps, checksum) and freeing. docs/data.md describes the
 * specs; the loaders live in load_*.c and synthetic.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/zio.h"
#include "data/data_int.h"

ph_data_options ph_data_options_default(void) {
  ph_data_options o = {0};
  o.standardize = 1;
  o.seq_len = 64;
  return o;
}

/* Images (in_ndim 3): one mean and standard deviation over all train pixels,
 * so spatial structure and relative contrast survive (what CNNs expect).
 * Plain features: per-feature z-scores from the train split; a constant
 * feature is only centred. Test data use the train statistics. */
static ph_status standardize(ph_dataset *d, ph_error *err) {
  size_t n = d->n[PH_SPLIT_TRAIN], f = d->in_size;
  if (n == 0) return PH_OK;
  if (d->in_ndim == 3) {
    double sum = 0, sq = 0;
    const double *x = d->x[PH_SPLIT_TRAIN];
    for (size_t i = 0; i < n * f; i++) sum += x[i];
    double mean = sum / (double)(n * f);
    for (size_t i = 0; i < n * f; i++) sq += (x[i] - mean) * (x[i] - mean);
    double sd = sqrt(sq / (double)(n * f));
    if (!(sd > 0)) sd = 1;
    for (int s = 0; s < 2; s++)
      for (size_t i = 0; i < d->n[s] * f; i++)
        d->x[s][i] = (d->x[s][i] - mean) / sd;
    return PH_OK;
  }
  double *mean = ph_calloc(f, sizeof *mean, "feature means", err);
  double *sd = ph_calloc(f, sizeof *sd, "feature deviations", err);
  if (!mean || !sd) {
    free(mean);
    free(sd);
    return PH_ERR_NOMEM;
  }
  const double *x = d->x[PH_SPLIT_TRAIN];
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < f; j++) mean[j] += x[i * f + j];
  for (size_t j = 0; j < f; j++) mean[j] /= (double)n;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < f; j++) {
      double c = x[i * f + j] - mean[j];
      sd[j] += c * c;
    }
  for (size_t j = 0; j < f; j++) {
    sd[j] = sqrt(sd[j] / (double)n);
    if (!(sd[j] > 1e-12)) sd[j] = 1;
  }
  for (int s = 0; s < 2; s++)
    for (size_t i = 0; i < d->n[s]; i++)
      for (size_t j = 0; j < f; j++)
        d->x[s][i * f + j] = (d->x[s][i * f + j] - mean[j]) / sd[j];
  free(mean);
  free(sd);
  return PH_OK;
}

static uint32_t checksum(const ph_dataset *d) {
  uint32_t c = 0;
  for (int s = 0; s < 2; s++) {
    c = ph_crc32(c, d->x[s], d->n[s] * d->in_size * sizeof(double));
    if (d->y[s])
      c = ph_crc32(c, d->y[s], d->n[s] * d->n_targets * sizeof(int32_t));
    if (d->t[s]) c = ph_crc32(c, d->t[s], d->n[s] * d->n_out * sizeof(double));
  }
  return c;
}

ph_status ph_dataset_load(const char *spec, const ph_data_options *opt,
                          ph_dataset **out, ph_error *err) {
  *out = NULL;
  ph_data_options o = opt ? *opt : ph_data_options_default();
  if (o.seq_len == 0) o.seq_len = 64;
  ph_spec s;
  PH_TRY(ph_spec_parse(spec, &s, err));
  ph_dataset *d = ph_calloc(1, sizeof *d, "data set", err);
  if (!d) return PH_ERR_NOMEM;
  snprintf(d->spec, sizeof d->spec, "%s", spec);
  snprintf(d->name, sizeof d->name, "%s", s.name);
  ph_status st;
  int token_task = 0;
  if (strcmp(s.name, "digits") == 0) {
    st = ph_load_digits(d, &s, &o, err);
  } else if (strcmp(s.name, "fashion-mnist") == 0) {
    st = ph_load_idx(
        d, &s, s.arg[0] ? s.arg : "/usr/share/datasets/fashion-mnist", &o, err);
  } else if (strcmp(s.name, "idx") == 0) {
    st = s.arg[0]
             ? ph_load_idx(d, &s, s.arg, &o, err)
             : ph_error_set(err, PH_ERR_ARG, "data spec idx: needs idx:DIR");
  } else if (strcmp(s.name, "csv") == 0) {
    st = ph_load_csv(d, &s, &o, err);
  } else if (strcmp(s.name, "text") == 0) {
    st = ph_load_text(d, &s, &o, err);
    token_task = 1;
  } else {
    st = ph_load_synthetic(d, &s, &o, err);
    token_task = d->task == PH_TASK_SEQUENCE;
  }
  if (st == PH_OK) st = ph_spec_check_unused(&s, err);
  if (st == PH_OK && o.standardize && !token_task) st = standardize(d, err);
  if (st == PH_OK) {
    if (o.max_train && o.max_train < d->n[PH_SPLIT_TRAIN])
      d->n[PH_SPLIT_TRAIN] = o.max_train;
    if (o.max_test && o.max_test < d->n[PH_SPLIT_TEST])
      d->n[PH_SPLIT_TEST] = o.max_test;
    d->checksum = checksum(d);
    *out = d;
    return PH_OK;
  }
  ph_dataset_free(d);
  return st;
}

void ph_dataset_free(ph_dataset *d) {
  if (!d) return;
  for (int s = 0; s < 2; s++) {
    free(d->x[s]);
    free(d->y[s]);
    free(d->t[s]);
  }
  free(d);
}

/* One split's rows [from, from + n) copied out (x, and y or t). */
static ph_status copy_rows(const ph_dataset *d, int sp, size_t from, size_t n,
                           double **x, int32_t **y, double **t, ph_error *err) {
  *x = ph_malloc(n * d->in_size, sizeof **x, "validation split", err);
  *y = NULL;
  *t = NULL;
  if (!*x) return PH_ERR_NOMEM;
  memcpy(*x, d->x[sp] + from * d->in_size, n * d->in_size * sizeof **x);
  if (d->y[sp]) {
    *y = ph_malloc(n * d->n_targets, sizeof **y, "validation split", err);
    if (!*y) return PH_ERR_NOMEM;
    memcpy(*y, d->y[sp] + from * d->n_targets, n * d->n_targets * sizeof **y);
  }
  if (d->t[sp]) {
    *t = ph_malloc(n * d->n_out, sizeof **t, "validation split", err);
    if (!*t) return PH_ERR_NOMEM;
    memcpy(*t, d->t[sp] + from * d->n_out, n * d->n_out * sizeof **t);
  }
  return PH_OK;
}

ph_status ph_dataset_hold_out(ph_dataset *d, size_t n_val, ph_error *err) {
  size_t ntr = d->n[PH_SPLIT_TRAIN];
  if (n_val == 0 || n_val >= ntr)
    return ph_error_set(err, PH_ERR_ARG,
                        "--val %zu: needs 0 < N < %zu (the train examples)",
                        n_val, ntr);
  double *x = NULL, *t = NULL;
  int32_t *y = NULL;
  ph_status s =
      copy_rows(d, PH_SPLIT_TRAIN, ntr - n_val, n_val, &x, &y, &t, err);
  if (s) {
    free(x);
    free(y);
    free(t);
    return s;
  }
  free(d->x[PH_SPLIT_TEST]);
  free(d->y[PH_SPLIT_TEST]);
  free(d->t[PH_SPLIT_TEST]);
  d->x[PH_SPLIT_TEST] = x;
  d->y[PH_SPLIT_TEST] = y;
  d->t[PH_SPLIT_TEST] = t;
  d->n[PH_SPLIT_TEST] = n_val;
  d->n[PH_SPLIT_TRAIN] = ntr - n_val;
  d->checksum = checksum(d);
  return PH_OK;
}
