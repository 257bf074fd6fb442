/* net_io.c: network checkpoints. Sections written: "model" (spec), "data"
 * (spec), "theta", "seed" (initialisation seed) and "data_seed" (the seed of
 * the data split and of synthetic data). Loading rebuilds the data set with
 * the checkpoint's data seed, so a model is always evaluated on the split it
 * was trained with. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "nn/net.h"

ph_status ph_net_ckpt_put(ph_ckpt *ck, const ph_objective *o,
                          const char *data_spec, uint64_t seed,
                          const double *theta, ph_error *err) {
  const char *spec = ph_net_spec(o);
  if (!spec)
    return ph_error_set(err, PH_ERR_ARG, "%s is not a network objective",
                        o->name);
  PH_TRY(ph_ckpt_put_str(ck, "model", spec, err));
  PH_TRY(ph_ckpt_put_str(ck, "data", data_spec, err));
  PH_TRY(ph_ckpt_put_f64(ck, "theta", theta, o->n, err));
  uint64_t s = seed;
  PH_TRY(ph_ckpt_put_u64(ck, "seed", &s, 1, err));
  if (!ph_ckpt_has(ck, "data_seed"))
    PH_TRY(ph_ckpt_put_u64(ck, "data_seed", &s, 1, err));
  return PH_OK;
}

void ph_net_bundle_free(ph_net_bundle *b) {
  if (!b) return;
  ph_objective_free(b->obj);
  ph_dataset_free(b->data);
  ph_ckpt_free(b->ck);
  free(b->theta);
  memset(b, 0, sizeof *b);
}

ph_status ph_net_bundle_load(const char *ckpt_path, const char *data_spec,
                             const ph_data_options *dopt, size_t max_batch,
                             ph_net_bundle *out, ph_error *err) {
  memset(out, 0, sizeof *out);
  ph_status s = ph_ckpt_read(ckpt_path, &out->ck, err);
  const char *model = NULL, *stored_data = NULL;
  const double *theta = NULL;
  size_t n = 0;
  if (s == PH_OK) s = ph_ckpt_require_str(out->ck, "model", &model, err);
  if (s == PH_OK) s = ph_ckpt_require_str(out->ck, "data", &stored_data, err);
  if (s == PH_OK) s = ph_ckpt_require_f64(out->ck, "theta", 0, &theta, &n, err);
  if (s != PH_OK) goto fail;
  ph_data_options o = dopt ? *dopt : ph_data_options_default();
  size_t k;
  const uint64_t *ds = ph_ckpt_get_u64(out->ck, "data_seed", &k);
  if (ds && k == 1) o.seed = ds[0];
  s = ph_dataset_load(data_spec ? data_spec : stored_data, &o, &out->data, err);
  if (s != PH_OK) goto fail;
  s = ph_net_create(model, out->data, max_batch, &out->obj, err);
  if (s != PH_OK) goto fail;
  if (out->obj->n != n) {
    s = ph_error_set(err, PH_ERR_FORMAT,
                     "%s: theta has %zu parameters but model %s on %s has %zu",
                     ckpt_path, n, model, out->data->spec, out->obj->n);
    goto fail;
  }
  out->theta = ph_malloc(n, sizeof(double), "theta", err);
  if (!out->theta) {
    s = PH_ERR_NOMEM;
    goto fail;
  }
  memcpy(out->theta, theta, n * sizeof(double));
  return PH_OK;
fail:
  ph_net_bundle_free(out);
  return s;
}
