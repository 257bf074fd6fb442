/* sharpness_precond.c: an optim/precond.h preconditioner as the averaged
 * geometry P of the sharpness suite (its symmetric PD part, eigenvalues
 * floored at PH_PRECOND_EIG_FLOOR, see precond.h). Kept apart from
 * sharpness.c so the suite links without the preconditioner module. */
#include "optim/precond.h"
#include "potholes/sharpness.h"

static ph_status pc_apply(void *ctx, size_t n, const double *v, double *out,
                          ph_error *err) {
  (void)n, (void)err;
  ph_precond_apply(ctx, v, out);
  return PH_OK;
}
static ph_status pc_sqrt(void *ctx, size_t n, const double *v, double *out,
                         ph_error *err) {
  (void)n;
  return ph_precond_sqrt_apply(ctx, v, out, err);
}
static ph_status pc_inv(void *ctx, size_t n, const double *v, double *out,
                        ph_error *err) {
  (void)n;
  return ph_precond_inv_apply(ctx, v, out, err);
}

ph_geom ph_geom_precond(const ph_precond *p) {
  ph_geom g = {ph_precond_n(p), (void *)p, pc_apply, pc_sqrt, pc_inv};
  return g;
}
