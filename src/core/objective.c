/* objective.c: checked wrappers around the objective callbacks. */
#include "core/objective.h"

#include <math.h>
#include <string.h>

#include "core/vec.h"

ph_status ph_objective_loss_grad(ph_objective *o, const double *theta,
                                 const ph_batch *b, double *loss, double *grad,
                                 ph_error *err) {
  PH_TRY(o->loss_grad(o->ctx, theta, b, loss, grad, err));
  if (!isfinite(*loss))
    return ph_error_set(err, PH_ERR_NUMERIC, "%s: loss is %g", o->name, *loss);
  if (grad && !ph_vec_all_finite(o->n, grad))
    return ph_error_set(err, PH_ERR_NUMERIC, "%s: gradient is not finite",
                        o->name);
  return PH_OK;
}

ph_status ph_objective_hvp(ph_objective *o, const double *theta,
                           const ph_batch *b, const double *v, double *hv,
                           ph_error *err) {
  if (!o->hvp)
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "%s: Hessian-vector products are not available",
                        o->name);
  PH_TRY(o->hvp(o->ctx, theta, b, v, hv, err));
  if (!ph_vec_all_finite(o->n, hv))
    return ph_error_set(err, PH_ERR_NUMERIC,
                        "%s: Hessian-vector product is not finite", o->name);
  return PH_OK;
}

ph_status ph_objective_ggnvp(ph_objective *o, const double *theta,
                             const ph_batch *b, const double *v, double *gv,
                             ph_error *err) {
  if (!o->ggnvp)
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "%s: Gauss-Newton products are not available", o->name);
  PH_TRY(o->ggnvp(o->ctx, theta, b, v, gv, err));
  if (!ph_vec_all_finite(o->n, gv))
    return ph_error_set(err, PH_ERR_NUMERIC,
                        "%s: Gauss-Newton product is not finite", o->name);
  return PH_OK;
}

ph_status ph_objective_hvp_block(ph_objective *o, const double *theta,
                                 const ph_batch *b, size_t k, const double *V,
                                 double *HV, ph_error *err) {
  if (!o->hvp_block) {
    for (size_t j = 0; j < k; j++)
      PH_TRY(ph_objective_hvp(o, theta, b, V + j * o->n, HV + j * o->n, err));
    return PH_OK;
  }
  PH_TRY(o->hvp_block(o->ctx, theta, b, k, V, HV, err));
  if (!ph_vec_all_finite(k * o->n, HV))
    return ph_error_set(err, PH_ERR_NUMERIC,
                        "%s: Hessian-vector product is not finite", o->name);
  return PH_OK;
}

ph_status ph_objective_ggnvp_block(ph_objective *o, const double *theta,
                                   const ph_batch *b, size_t k, const double *V,
                                   double *GV, ph_error *err) {
  if (!o->ggnvp_block) {
    for (size_t j = 0; j < k; j++)
      PH_TRY(ph_objective_ggnvp(o, theta, b, V + j * o->n, GV + j * o->n, err));
    return PH_OK;
  }
  PH_TRY(o->ggnvp_block(o->ctx, theta, b, k, V, GV, err));
  if (!ph_vec_all_finite(k * o->n, GV))
    return ph_error_set(err, PH_ERR_NUMERIC,
                        "%s: Gauss-Newton product is not finite", o->name);
  return PH_OK;
}

ph_status ph_objective_eval(ph_objective *o, const double *theta,
                            const ph_batch *b, double *loss, double *acc,
                            ph_error *err) {
  double a = NAN;
  PH_TRY(o->eval(o->ctx, theta, b, loss, &a, err));
  if (acc) *acc = a;
  return PH_OK;
}

ph_status ph_objective_clone_create(const ph_objective *o, ph_objective **out,
                                    ph_error *err) {
  *out = NULL;
  if (!o->clone)
    return ph_error_set(err, PH_ERR_UNSUPPORTED, "%s: cannot be cloned",
                        o->name);
  /* The kinds' clone hooks still return NULL on failure with err set (an
   * allocation failed); their code is the status, NOMEM when err is NULL. */
  *out = o->clone(o, err);
  if (*out) return PH_OK;
  return err && err->code != PH_OK ? err->code : PH_ERR_NOMEM;
}

void ph_objective_free(ph_objective *o) {
  if (o && o->destroy) o->destroy(o);
}

long ph_objective_find_block(const ph_objective *o, const char *name) {
  for (size_t i = 0; i < o->n_blocks; i++)
    if (strcmp(o->blocks[i].name, name) == 0) return (long)i;
  return -1;
}

ph_batch ph_batch_all(const ph_objective *o, ph_split split) {
  ph_batch b = {split, NULL, o->n_examples[split]};
  return b;
}
