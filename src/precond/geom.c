/* geom.c: P, P^{1/2} and P⁻¹ of a diagonal or of a structured
 * preconditioner as ph_linop (geom.h). The diagonal's square root and
 * inverse are taken entry by entry at each product, as the sharpness suite
 * always did, so results do not change with the interface. */
#include "precond/geom.h"

#include <math.h>
#include <string.h>

static ph_status dg_apply(void *ctx, const double *v, double *out,
                          ph_error *err) {
  (void)err;
  const ph_geom *g = ctx;
  for (size_t i = 0; i < g->n; i++) out[i] = g->diag[i] * v[i];
  return PH_OK;
}
static ph_status dg_sqrt(void *ctx, const double *v, double *out,
                         ph_error *err) {
  (void)err;
  const ph_geom *g = ctx;
  for (size_t i = 0; i < g->n; i++) out[i] = sqrt(g->diag[i]) * v[i];
  return PH_OK;
}
static ph_status dg_inv(void *ctx, const double *v, double *out,
                        ph_error *err) {
  (void)err;
  const ph_geom *g = ctx;
  for (size_t i = 0; i < g->n; i++) out[i] = v[i] / g->diag[i];
  return PH_OK;
}

void ph_geom_init_diag(ph_geom *g, size_t n, const double *p) {
  memset(g, 0, sizeof *g);
  g->n = n;
  g->diag = p;
  g->P = ph_linop_make(n, g, dg_apply);
  g->sqrt_P = ph_linop_make(n, g, dg_sqrt);
  g->inv_P = ph_linop_make(n, g, dg_inv);
}

static ph_status pc_apply(void *ctx, const double *v, double *out,
                          ph_error *err) {
  (void)err;
  ph_precond_apply(ctx, v, out);
  return PH_OK;
}
static ph_status pc_sqrt(void *ctx, const double *v, double *out,
                         ph_error *err) {
  return ph_precond_sqrt_apply(ctx, v, out, err);
}
static ph_status pc_inv(void *ctx, const double *v, double *out,
                        ph_error *err) {
  return ph_precond_inv_apply(ctx, v, out, err);
}

void ph_geom_init_precond(ph_geom *g, const ph_precond *p) {
  memset(g, 0, sizeof *g);
  size_t n = ph_precond_n(p);
  void *ctx = (void *)p; /* applied read-only */
  g->n = n;
  g->P = ph_linop_make(n, ctx, pc_apply);
  g->sqrt_P = ph_linop_make(n, ctx, pc_sqrt);
  g->inv_P = ph_linop_make(n, ctx, pc_inv);
}
