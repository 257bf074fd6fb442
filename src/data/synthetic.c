/* synthetic.c: data sets generated from the seed (PH_RNG_STREAM_DATA), so a
 * spec and a seed name the same data everywhere. See docs/data.md.
 *   blobs:n=1000,k=3,d=2,sd=1     k Gaussian blobs, centres ~ N(0, 3² I)
 *   spirals:n=1000,noise=0.2      two interleaved spirals in the plane
 *   teacher:n=1000,d=10,h=32,out=1,noise=0.1
 *                                 y = W2 tanh(W1 x) + noise, MSE regression
 *   modadd:P[,frac=0.5]           all pairs (a, b): inputs [a, b, =], target
 *                                 (a + b) mod P at the last position only;
 *                                 frac of the pairs train, the rest test
 *   copy:n=2000,len=8,vocab=10    [a, SEP, a] next-token task, targets on
 *   reverse:...                   the second half only (reverse: [a, SEP, rev
 * a]) Classification and regression sets are split 80/20.
 * What a generator would allocate is checked against the data cap
 * (ph_input_cap(PH_INPUT_DATA), POTHOLE_MAX_DATA) before it allocates, as a
 * file's inflated size is: a spec asking for terabytes is refused at once
 * instead of failing in malloc or paging, and a small cap bounds the work
 * per spec (the data-spec fuzz harness relies on it). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/alloc.h"
#include "core/rng.h"
#include "core/strnum.h"
#include "data/data_int.h"

/* n examples of per_example bytes (inputs and targets, both splits) plus
 * fixed bytes of parameters (centres, teacher weights) must fit the data
 * cap; PH_ERR_ARG otherwise (the spec's sizes are what to change). */
static ph_status fits_cap(const ph_spec *s, size_t n, size_t per_example,
                          size_t fixed, ph_error *err) {
  size_t bytes, cap = ph_input_cap(PH_INPUT_DATA);
  if (__builtin_mul_overflow(n, per_example, &bytes) ||
      __builtin_add_overflow(bytes, fixed, &bytes))
    bytes = SIZE_MAX;
  if (bytes <= cap) return PH_OK;
  return ph_error_set(err, PH_ERR_ARG,
                      "data spec %s: generates %zu bytes, more than the input "
                      "cap of %zu bytes (raise it with POTHOLE_MAX_DATA)",
                      s->name, bytes, cap);
}

static ph_status finish_rows(ph_dataset *d, double *x, int32_t *y, double *t,
                             size_t n, uint64_t seed, ph_error *err) {
  size_t n_test = n / 5, n_train = n - n_test;
  PH_TRY(ph_dataset_init(d, n_train, n_test, err));
  size_t *perm;
  PH_TRY(ph_split_perm(seed, n, &perm, err));
  for (size_t i = 0; i < n; i++) {
    size_t src = perm[i];
    ph_split s = i < n_train ? PH_SPLIT_TRAIN : PH_SPLIT_TEST;
    size_t dst = i < n_train ? i : i - n_train;
    ph_dataset_put(d, s, dst, x + src * d->in_size,
                   y ? y + src * d->n_targets : NULL,
                   t ? t + src * d->n_out : NULL);
  }
  free(perm);
  return PH_OK;
}

static ph_status blobs(ph_dataset *d, ph_spec *s, ph_rng *r, uint64_t seed,
                       ph_error *err) {
  size_t n = 1000, k = 3, dim = 2;
  double sd = 1.0;
  PH_TRY(ph_spec_size(s, "n", 10, 10000000, &n, err));
  PH_TRY(ph_spec_size(s, "k", 2, 1000, &k, err));
  PH_TRY(ph_spec_size(s, "d", 1, 100000, &dim, err));
  PH_TRY(ph_spec_double(s, "sd", 0, 1e6, &sd, err));
  PH_TRY(fits_cap(s, n, dim * sizeof(double) + sizeof(int32_t),
                  k * dim * sizeof(double), err));
  d->task = PH_TASK_CLASSIFY;
  d->in_ndim = 1;
  d->in_shape[0] = dim;
  d->in_size = dim;
  d->n_classes = k;
  d->n_targets = 1;
  double *c = ph_malloc(k * dim, sizeof *c, "centres", err);
  double *x = ph_malloc(n * dim, sizeof *x, "blobs", err);
  int32_t *y = ph_malloc(n, sizeof *y, "labels", err);
  ph_status st = PH_ERR_NOMEM;
  if (c && x && y) {
    ph_rng_fill_gauss(r, c, k * dim, 3.0);
    for (size_t i = 0; i < n; i++) {
      y[i] = (int32_t)(i % k);
      for (size_t j = 0; j < dim; j++)
        x[i * dim + j] = c[(size_t)y[i] * dim + j] + sd * ph_rng_gauss(r);
    }
    st = finish_rows(d, x, y, NULL, n, seed, err);
  }
  free(c);
  free(x);
  free(y);
  return st;
}

static ph_status spirals(ph_dataset *d, ph_spec *s, ph_rng *r, uint64_t seed,
                         ph_error *err) {
  size_t n = 1000;
  double noise = 0.2;
  PH_TRY(ph_spec_size(s, "n", 10, 10000000, &n, err));
  PH_TRY(ph_spec_double(s, "noise", 0, 100, &noise, err));
  PH_TRY(fits_cap(s, n, 2 * sizeof(double) + sizeof(int32_t), 0, err));
  d->task = PH_TASK_CLASSIFY;
  d->in_ndim = 1;
  d->in_shape[0] = 2;
  d->in_size = 2;
  d->n_classes = 2;
  d->n_targets = 1;
  double *x = ph_malloc(n * 2, sizeof *x, "spirals", err);
  int32_t *y = ph_malloc(n, sizeof *y, "labels", err);
  ph_status st = PH_ERR_NOMEM;
  if (x && y) {
    for (size_t i = 0; i < n; i++) {
      y[i] = (int32_t)(i % 2);
      double t = 0.25 + 3.5 * M_PI * ph_rng_uniform(r); /* angle */
      double sgn = y[i] ? -1.0 : 1.0;
      x[2 * i] = sgn * t * cos(t) / 4 + noise * ph_rng_gauss(r);
      x[2 * i + 1] = sgn * t * sin(t) / 4 + noise * ph_rng_gauss(r);
    }
    st = finish_rows(d, x, y, NULL, n, seed, err);
  }
  free(x);
  free(y);
  return st;
}

static ph_status teacher(ph_dataset *d, ph_spec *s, ph_rng *r, uint64_t seed,
                         ph_error *err) {
  size_t n = 1000, dim = 10, h = 32, out = 1;
  double noise = 0.1;
  PH_TRY(ph_spec_size(s, "n", 10, 10000000, &n, err));
  PH_TRY(ph_spec_size(s, "d", 1, 100000, &dim, err));
  PH_TRY(ph_spec_size(s, "h", 1, 100000, &h, err));
  PH_TRY(ph_spec_size(s, "out", 1, 1000, &out, err));
  PH_TRY(ph_spec_double(s, "noise", 0, 1e6, &noise, err));
  PH_TRY(fits_cap(s, n, (dim + out) * sizeof(double),
                  (h * dim + out * h + h) * sizeof(double), err));
  d->task = PH_TASK_REGRESS;
  d->in_ndim = 1;
  d->in_shape[0] = dim;
  d->in_size = dim;
  d->n_out = out;
  double *w1 = ph_malloc(h * dim, sizeof *w1, "teacher", err);
  double *w2 = ph_malloc(out * h, sizeof *w2, "teacher", err);
  double *x = ph_malloc(n * dim, sizeof *x, "inputs", err);
  double *t = ph_malloc(n * out, sizeof *t, "targets", err);
  double *a = ph_malloc(h, sizeof *a, "hidden", err);
  ph_status st = PH_ERR_NOMEM;
  if (w1 && w2 && x && t && a) {
    ph_rng_fill_gauss(r, w1, h * dim, 1.0 / sqrt((double)dim));
    ph_rng_fill_gauss(r, w2, out * h, 1.0 / sqrt((double)h));
    ph_rng_fill_gauss(r, x, n * dim, 1.0);
    for (size_t i = 0; i < n; i++) {
      for (size_t j = 0; j < h; j++) {
        double z = 0;
        for (size_t k = 0; k < dim; k++) z += w1[j * dim + k] * x[i * dim + k];
        a[j] = tanh(z);
      }
      for (size_t o = 0; o < out; o++) {
        double z = 0;
        for (size_t j = 0; j < h; j++) z += w2[o * h + j] * a[j];
        t[i * out + o] = z + noise * ph_rng_gauss(r);
      }
    }
    st = finish_rows(d, x, NULL, t, n, seed, err);
  }
  free(w1);
  free(w2);
  free(x);
  free(t);
  free(a);
  return st;
}

static ph_status modadd(ph_dataset *d, ph_spec *s, uint64_t seed,
                        ph_error *err) {
  size_t p = 97;
  if (s->arg[0] && (ph_str_to_size(s->arg, &p) != 0 || p < 2 || p > 2000))
    return ph_error_set(
        err, PH_ERR_ARG,
        "data spec modadd:%s: P must be a whole number in [2, 2000]", s->arg);
  double frac = 0.5;
  PH_TRY(ph_spec_double(s, "frac", 0.01, 0.99, &frac, err));
  size_t P = p, n = P * P;
  PH_TRY(fits_cap(s, n, 3 * (sizeof(double) + sizeof(int32_t)), 0, err));
  d->task = PH_TASK_SEQUENCE;
  d->in_ndim = 1;
  d->in_shape[0] = 3;
  d->in_size = 3;
  d->n_targets = 3;
  d->n_classes = P + 1; /* token P is '=' */
  size_t n_train = (size_t)(frac * (double)n + 0.5);
  if (n_train < 1) n_train = 1;
  if (n_train >= n) n_train = n - 1;
  PH_TRY(ph_dataset_init(d, n_train, n - n_train, err));
  size_t *perm;
  PH_TRY(ph_split_perm(seed, n, &perm, err));
  for (size_t i = 0; i < n; i++) {
    size_t a = perm[i] / P, b = perm[i] % P;
    double x[3] = {(double)a, (double)b, (double)P};
    int32_t y[3] = {-1, -1, (int32_t)((a + b) % P)};
    ph_split sp = i < n_train ? PH_SPLIT_TRAIN : PH_SPLIT_TEST;
    ph_dataset_put(d, sp, i < n_train ? i : i - n_train, x, y, NULL);
  }
  free(perm);
  return PH_OK;
}

static ph_status copyrev(ph_dataset *d, ph_spec *s, ph_rng *r, uint64_t seed,
                         int reverse, ph_error *err) {
  size_t n = 2000, m = 8, V = 10;
  PH_TRY(ph_spec_size(s, "n", 10, 10000000, &n, err));
  PH_TRY(ph_spec_size(s, "len", 1, 1024, &m, err));
  PH_TRY(ph_spec_size(s, "vocab", 2, 100000, &V, err));
  PH_TRY(fits_cap(s, n, 2 * m * (sizeof(double) + sizeof(int32_t)), 0, err));
  d->task = PH_TASK_SEQUENCE;
  d->in_ndim = 1;
  d->in_shape[0] = 2 * m;
  d->in_size = 2 * m;
  d->n_targets = 2 * m;
  d->n_classes = V + 1; /* token V separates */
  double *x = ph_malloc(n * 2 * m, sizeof *x, "sequences", err);
  int32_t *y = ph_malloc(n * 2 * m, sizeof *y, "targets", err);
  size_t *seq = ph_malloc(2 * m + 1, sizeof *seq, "sequence", err);
  ph_status st = PH_ERR_NOMEM;
  if (x && y && seq) {
    for (size_t i = 0; i < n; i++) {
      for (size_t t = 0; t < m; t++) seq[t] = (size_t)ph_rng_below(r, V);
      seq[m] = V;
      for (size_t t = 0; t < m; t++)
        seq[m + 1 + t] = reverse ? seq[m - 1 - t] : seq[t];
      for (size_t t = 0; t < 2 * m; t++) {
        x[i * 2 * m + t] = (double)seq[t];
        y[i * 2 * m + t] = t >= m ? (int32_t)seq[t + 1] : -1;
      }
    }
    st = finish_rows(d, x, y, NULL, n, seed, err);
  }
  free(x);
  free(y);
  free(seq);
  return st;
}

ph_status ph_load_synthetic(ph_dataset *d, ph_spec *s, const ph_data_options *o,
                            ph_error *err) {
  ph_rng r = ph_rng_make(o->seed, PH_RNG_STREAM_DATA);
  int takes_arg = strcmp(s->name, "modadd") == 0;
  if (s->arg[0] && !takes_arg &&
      (!strcmp(s->name, "blobs") || !strcmp(s->name, "spirals") ||
       !strcmp(s->name, "teacher") || !strcmp(s->name, "copy") ||
       !strcmp(s->name, "reverse")))
    return ph_error_set(err, PH_ERR_ARG,
                        "data spec %s: '%s' is not an option (use key=value)",
                        s->name, s->arg);
  const char *what = "synthetic, generated from the seed";
  snprintf(d->provenance, sizeof d->provenance, "%s", what);
  if (!strcmp(s->name, "blobs")) return blobs(d, s, &r, o->seed, err);
  if (!strcmp(s->name, "spirals")) return spirals(d, s, &r, o->seed, err);
  if (!strcmp(s->name, "teacher")) return teacher(d, s, &r, o->seed, err);
  if (!strcmp(s->name, "modadd")) return modadd(d, s, o->seed, err);
  if (!strcmp(s->name, "copy")) return copyrev(d, s, &r, o->seed, 0, err);
  if (!strcmp(s->name, "reverse")) return copyrev(d, s, &r, o->seed, 1, err);
  return ph_error_set(
      err, PH_ERR_ARG,
      "unknown data set '%s' (digits, fashion-mnist[:DIR], "
      "idx:DIR, csv:PATH, text[:PATH], blobs, spirals, teacher, "
      "modadd:P, copy, reverse)",
      s->name);
}
