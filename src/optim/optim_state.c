/* optim_state.c: saving and restoring an optimiser's whole state in a
 * checkpoint (sections "optim.*" and "precond"), so a resumed run takes
 * bit-identical steps. */
#include <stdlib.h>
#include <string.h>

#include "core/ckpt.h"
#include "optim/optim_int.h"

ph_status ph_optim_save(const ph_optim *o, ph_ckpt *ck, ph_error *err) {
  PH_TRY(ph_ckpt_put_str(ck, "optim.name", o->cfg.name, err));
  PH_TRY(ph_ckpt_put_f64(ck, "optim.m", o->m, o->n, err));
  PH_TRY(ph_ckpt_put_f64(ck, "optim.v", o->v, o->n, err));
  PH_TRY(ph_ckpt_put_f64(ck, "optim.gbar", o->gbar, o->n, err));
  uint64_t counters[3] = {o->t_step, o->n_refresh, o->ema_warm};
  PH_TRY(ph_ckpt_put_u64(ck, "optim.counters", counters, 3, err));
  if (o->P) {
    size_t fs = ph_precond_flat_size(o->P);
    ph_ckpt *tmp = ck;
    double *buf = malloc(fs * sizeof *buf + 8);
    if (!buf)
      return ph_error_set(err, PH_ERR_NOMEM, "optimiser: out of memory");
    ph_precond_to_flat(o->P, buf);
    ph_status s = ph_ckpt_put_f64(tmp, "precond", buf, fs, err);
    free(buf);
    PH_TRY(s);
    uint64_t kind = (uint64_t)ph_precond_get_kind(o->P);
    PH_TRY(ph_ckpt_put_u64(ck, "precond.kind", &kind, 1, err));
  }
  return PH_OK;
}

ph_status ph_optim_load(ph_optim *o, const ph_ckpt *ck, ph_error *err) {
  const char *name;
  PH_TRY(ph_ckpt_require_str(ck, "optim.name", &name, err));
  if (strcmp(name, o->cfg.name) != 0)
    return ph_error_set(err, PH_ERR_FORMAT, "%s: saved by optimiser %s, not %s",
                        ph_ckpt_path(ck), name, o->cfg.name);
  const double *v;
  const uint64_t *cnt;
  PH_TRY(ph_ckpt_require_f64(ck, "optim.m", o->n, &v, NULL, err));
  memcpy(o->m, v, o->n * sizeof *v);
  PH_TRY(ph_ckpt_require_f64(ck, "optim.v", o->n, &v, NULL, err));
  memcpy(o->v, v, o->n * sizeof *v);
  PH_TRY(ph_ckpt_require_f64(ck, "optim.gbar", o->n, &v, NULL, err));
  memcpy(o->gbar, v, o->n * sizeof *v);
  PH_TRY(ph_ckpt_require_u64(ck, "optim.counters", 3, &cnt, NULL, err));
  o->t_step = cnt[0];
  o->n_refresh = cnt[1];
  o->ema_warm = cnt[2];
  if (o->P) {
    size_t len;
    PH_TRY(ph_ckpt_require_f64(ck, "precond", 0, &v, &len, err));
    PH_TRY(ph_precond_from_flat(o->P, v, len, err));
  }
  return PH_OK;
}
