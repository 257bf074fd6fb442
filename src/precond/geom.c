/* geom.c: P, P^{1/2} and P⁻¹ of a diagonal or of a structured
 * preconditioner as ph_linop (geom.h). The diagonal's square root and
 * inverse are taken entry by entry at each product, as the sharpness suite
 * always did, so results do not change with the interface. */
#include "precond/geom.h"

#include <math.h>
#include <stdlib.h>
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

void ph_geom_init_diag_owned(ph_geom *g, size_t n, double *diag) {
  ph_geom_init_diag(g, n, diag);
  g->own_diag = diag;
}

ph_status ph_geom_load(ph_geom *g, const char *path, size_t n, size_t n_blocks,
                       const ph_block *blocks, ph_error *err) {
  memset(g, 0, sizeof *g);
  ph_precond *pc;
  PH_TRY(ph_precond_read(path, n, n_blocks, blocks, &pc, err));
  if (ph_precond_get_kind(pc) == PH_PRECOND_KRON) {
    ph_geom_init_precond(g, pc);
    g->own_pc = pc;
    return PH_OK;
  }
  /* A diagonal: the correctly rounded route (geom.h), floored as
   * precond.h floors its eigenvalues, so P, P^{1/2} and P⁻¹ stay one SPD
   * matrix. */
  double *d = malloc((n ? n : 1) * sizeof *d);
  if (!d) {
    ph_precond_free(pc);
    return ph_error_set(err, PH_ERR_NOMEM, "preconditioner: out of memory");
  }
  ph_precond_diag(pc, d);
  ph_precond_free(pc);
  for (size_t i = 0; i < n; i++)
    if (!(d[i] > PH_PRECOND_EIG_FLOOR)) d[i] = PH_PRECOND_EIG_FLOOR;
  ph_geom_init_diag_owned(g, n, d);
  return PH_OK;
}

void ph_geom_free(ph_geom *g) {
  if (!g) return;
  free(g->own_diag);
  ph_precond_free(g->own_pc);
  memset(g, 0, sizeof *g);
}
