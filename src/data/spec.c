/* spec.c: parsing data-set specs "name[:arg][,key=value...]" and the shared
 * helpers of the loaders (allocation, seeded splits, shipped-file paths). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "core/strnum.h"
#include "data/data_int.h"
#include "data/data_paths.h"

ph_status ph_spec_parse(const char *spec, ph_spec *out, ph_error *err) {
  memset(out, 0, sizeof *out);
  if (!spec || !*spec) return ph_error_set(err, PH_ERR_ARG, "empty data spec");
  if (strlen(spec) >= PH_DATA_SPEC_MAX)
    return ph_error_set(err, PH_ERR_ARG, "data spec too long");
  const char *colon = strchr(spec, ':');
  size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
  if (nl == 0 || nl >= sizeof out->name)
    return ph_error_set(err, PH_ERR_ARG, "data spec '%s': bad name", spec);
  memcpy(out->name, spec, nl);
  if (!colon) return PH_OK;
  const char *p = colon + 1;
  /* Paths may contain commas only if they have no '=' after them: the
   * positional argument runs to the first ",key=" */
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    if (!eq) {
      if (out->arg[0])
        return ph_error_set(err, PH_ERR_ARG,
                            "data spec '%s': two positional arguments", spec);
      memcpy(out->arg, p, len);
      out->arg[len] = '\0';
    } else {
      size_t kl = (size_t)(eq - p), vl = len - kl - 1;
      if (out->n_kv >= PH_SPEC_MAX_KV || kl == 0 || kl >= 32 || vl == 0 ||
          vl >= 64)
        return ph_error_set(err, PH_ERR_ARG,
                            "data spec '%s': malformed option '%.*s'", spec,
                            (int)len, p);
      memcpy(out->key[out->n_kv], p, kl);
      memcpy(out->val[out->n_kv], eq + 1, vl);
      out->n_kv++;
    }
    if (!comma) break;
    p = comma + 1;
    if (!*p)
      return ph_error_set(err, PH_ERR_ARG, "data spec '%s': trailing comma",
                          spec);
  }
  return PH_OK;
}

static int find_key(ph_spec *s, const char *key) {
  for (int i = 0; i < s->n_kv; i++)
    if (strcmp(s->key[i], key) == 0) {
      s->used[i] = 1;
      return i;
    }
  return -1;
}

ph_status ph_spec_size(ph_spec *s, const char *key, size_t lo, size_t hi,
                       size_t *out, ph_error *err) {
  int i = find_key(s, key);
  if (i < 0) return PH_OK;
  size_t v;
  if (ph_str_to_size(s->val[i], &v) != 0 || v < lo || v > hi)
    return ph_error_set(
        err, PH_ERR_ARG,
        "data spec %s: %s=%s must be a whole number in [%zu, %zu]", s->name,
        key, s->val[i], lo, hi);
  *out = (size_t)v;
  return PH_OK;
}

ph_status ph_spec_double(ph_spec *s, const char *key, double lo, double hi,
                         double *out, ph_error *err) {
  int i = find_key(s, key);
  if (i < 0) return PH_OK;
  double v;
  if (ph_str_to_double(s->val[i], &v) != 0 || v < lo || v > hi)
    return ph_error_set(err, PH_ERR_ARG,
                        "data spec %s: %s=%s must be a number in [%g, %g]",
                        s->name, key, s->val[i], lo, hi);
  *out = v;
  return PH_OK;
}

ph_status ph_spec_check_unused(const ph_spec *s, ph_error *err) {
  for (int i = 0; i < s->n_kv; i++)
    if (!s->used[i])
      return ph_error_set(err, PH_ERR_ARG, "data spec %s: unknown option '%s'",
                          s->name, s->key[i]);
  return PH_OK;
}

ph_status ph_dataset_init(ph_dataset *d, size_t n_train, size_t n_test,
                          ph_error *err) {
  size_t n[2] = {n_train, n_test};
  for (int s = 0; s < 2; s++) {
    d->n[s] = n[s];
    d->x[s] = ph_calloc(n[s] * d->in_size, sizeof(double), "data inputs", err);
    if (!d->x[s]) return PH_ERR_NOMEM;
    if (d->task == PH_TASK_REGRESS) {
      d->t[s] = ph_calloc(n[s] * d->n_out, sizeof(double), "data targets", err);
      if (!d->t[s]) return PH_ERR_NOMEM;
    } else {
      d->y[s] =
          ph_calloc(n[s] * d->n_targets, sizeof(int32_t), "data labels", err);
      if (!d->y[s]) return PH_ERR_NOMEM;
    }
  }
  return PH_OK;
}

void ph_dataset_put(ph_dataset *d, ph_split s, size_t dst, const double *x,
                    const int32_t *y, const double *t) {
  memcpy(d->x[s] + dst * d->in_size, x, d->in_size * sizeof *x);
  if (d->y[s] && y)
    memcpy(d->y[s] + dst * d->n_targets, y, d->n_targets * sizeof *y);
  if (d->t[s] && t) memcpy(d->t[s] + dst * d->n_out, t, d->n_out * sizeof *t);
}

ph_status ph_split_perm(uint64_t seed, size_t n, size_t **perm, ph_error *err) {
  *perm = ph_malloc(n, sizeof(size_t), "split permutation", err);
  if (!*perm) return PH_ERR_NOMEM;
  ph_rng r = ph_rng_make(seed, PH_RNG_STREAM_SPLIT);
  ph_rng_permutation(&r, *perm, n);
  return PH_OK;
}

char *ph_data_file(const char *name, ph_error *err) {
  const char *dir = getenv("POTHOLE_DATA_DIR");
  if (!dir || !*dir) dir = PH_DATA_DIR;
  size_t len = strlen(dir) + strlen(name) + 2;
  char *p = ph_malloc(len, 1, "path", err);
  if (p) snprintf(p, len, "%s/%s", dir, name);
  return p;
}
