/* target.c: loading a landscape command's target -- a checkpoint through
 * ph_net_bundle_load, a run directory's final checkpoint, or a toy
 * landscape at the origin, its pit, its basin or given coordinates -- and
 * its averaged geometry (a toy's fitted diagonal, or precond/geom.h's
 * loader). One copy for slice, sharpness and spectrum (issue 12).
 */
#include "landscape/target.h"

#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/ckpt.h"
#include "core/strnum.h"

/* "X1,X2,...": exactly n strict decimals into theta. */
static ph_status parse_at(const char *at, size_t n, double *theta,
                          ph_error *err) {
  size_t k = 0;
  const char *p = at;
  char item[128];
  for (;;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len >= sizeof item)
      return ph_error_set(err, PH_ERR_ARG, "--at: item too long in '%s'", at);
    memcpy(item, p, len);
    item[len] = '\0';
    double v;
    if (ph_str_to_double(item, &v))
      return ph_error_set(err, PH_ERR_ARG,
                          "--at expects a decimal number, got '%s'", item);
    if (k < n) theta[k] = v;
    k++;
    if (!e) break;
    p = e + 1;
  }
  if (k != n)
    return ph_error_set(err, PH_ERR_ARG, "--at needs %zu coordinates, got %zu",
                        n, k);
  return PH_OK;
}

static ph_status load_toy(const ph_target_spec *s, ph_target *t,
                          ph_error *err) {
  ph_toy_spec spec;
  if (ph_toy_spec_parse(s->landscape, &spec, err) != PH_OK) {
    ph_error_prefix(err, "--landscape: ");
    return PH_ERR_ARG;
  }
  ph_toy_spec_format(&spec, t->landscape, sizeof t->landscape);
  PH_TRY(ph_toy_create(&spec, &t->obj, err));
  size_t n = t->obj->n;
  if (!(t->theta = calloc(n ? n : 1, sizeof *t->theta)))
    return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  if (!s->at) return PH_OK; /* the origin */
  if (strcmp(s->at, "pit") && strcmp(s->at, "basin"))
    return parse_at(s->at, n, t->theta, err);
  ph_toy_geometry geo;
  memset(&geo, 0, sizeof geo);
  PH_TRY(ph_toy_geometry_get(t->obj, &geo, err));
  memcpy(t->theta, s->at[0] == 'p' ? geo.pit : geo.basin, n * sizeof(double));
  ph_toy_geometry_free(&geo);
  return PH_OK;
}

static ph_status load_net(const ph_target_spec *s, ph_target *t,
                          ph_error *err) {
  t->ckpt = s->ckpt;
  if (!t->ckpt) {
    if (!(t->own_ckpt = ph_path_join(s->run, "ckpt/final.ckpt", err)))
      return PH_ERR_NOMEM;
    t->ckpt = t->own_ckpt;
  }
  ph_data_options dopt = ph_data_options_default();
  PH_TRY(
      ph_net_bundle_load(t->ckpt, s->data, &dopt, s->max_batch, &t->net, err));
  t->obj = t->net.obj;
  t->theta = t->net.theta;
  t->ckpt_crc = ph_ckpt_crc(t->net.ck);
  return PH_OK;
}

ph_status ph_target_load(const ph_target_spec *s, ph_target *t, ph_error *err) {
  memset(t, 0, sizeof *t);
  int net = s->ckpt || s->run;
  if (net == !!s->landscape)
    return ph_error_set(err, PH_ERR_ARG,
                        "give a checkpoint (or a run) or a toy landscape");
  if (net && s->at)
    return ph_error_set(err, PH_ERR_ARG, "--at applies to a toy landscape");
  if (!net && s->data)
    return ph_error_set(err, PH_ERR_ARG, "--data applies to a checkpoint");
  ph_status st = net ? load_net(s, t, err) : load_toy(s, t, err);
  if (st) ph_target_free(t);
  return st;
}

void ph_target_free(ph_target *t) {
  if (!t) return;
  if (t->net.obj) {
    ph_net_bundle_free(&t->net);
  } else {
    ph_objective_free(t->obj);
    free(t->theta);
  }
  free(t->own_ckpt);
  memset(t, 0, sizeof *t);
}

ph_status ph_target_geom_load(const ph_target *t, const char *path, ph_geom *g,
                              ph_error *err) {
  memset(g, 0, sizeof *g);
  size_t n = t->obj->n;
  if (strcmp(path, "basin"))
    return ph_geom_load(g, path, n, t->obj->n_blocks, t->obj->blocks, err);
  if (!t->landscape[0])
    return ph_error_set(err, PH_ERR_ARG,
                        "--precond basin is for toy landscapes");
  double *d = malloc((n ? n : 1) * sizeof *d);
  if (!d) return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
  ph_status st = ph_toy_basin_curvature(t->obj, d, err);
  if (st) {
    free(d);
    return st;
  }
  for (size_t i = 0; i < n; i++) d[i] = 1.0 / d[i]; /* U = diag(1/λ̄) */
  ph_geom_init_diag_owned(g, n, d);
  return PH_OK;
}
