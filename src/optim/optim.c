/* optim.c: SGD, AdamW and the SAM family (SAM, ASAM, Fisher-SAM, friendly
 * SAM), LLQR and LLQR+SAM behind one interface (optim.h). Formulas and
 * defaults: docs/optimisers.md. References: Foret et al. 2021 (SAM); Kwon et
 * al. 2021 (ASAM); Kim et al. 2022 (Fisher-SAM); Li et al. 2024 (friendly
 * SAM); the LLQR and LLQR+SAM papers (arXiv 2605.04230, 2605.16134).
 * Both passes of every SAM variant use the same minibatch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/vec.h"
#include "optim/optim_int.h"

const char *const PH_OPTIM_NAMES[OPT_COUNT] = {
    "sgd", "adamw", "sam", "asam", "fisher-sam", "fsam", "llqr", "llqr-sam"};

ph_status ph_optim_config_default(const char *name, ph_optim_config *c,
                                  ph_error *err) {
  memset(c, 0, sizeof *c);
  int k = -1;
  for (int i = 0; i < OPT_COUNT; i++)
    if (strcmp(name, PH_OPTIM_NAMES[i]) == 0) k = i;
  if (k < 0)
    return ph_error_set(
        err, PH_ERR_ARG,
        "unknown optimiser '%s' (sgd, adamw, sam, asam, fisher-sam, "
        "fsam, llqr, llqr-sam)",
        name);
  snprintf(c->name, sizeof c->name, "%s", name);
  c->lr = k == OPT_ADAMW ? 1e-3 : 0.05;
  c->momentum = 0.9;
  c->beta1 = 0.9;
  c->beta2 = 0.999;
  c->eps = 1e-8;
  c->outer = k == OPT_ADAMW ? PH_OUTER_ADAMW : PH_OUTER_SGD;
  c->rho = k == OPT_SAM          ? 0.05
           : k == OPT_ASAM       ? 0.5
           : k == OPT_FISHER_SAM ? 0.1
           : k == OPT_FSAM       ? 0.05
           : k == OPT_LLQR_SAM   ? 0.1
                                 : 0;
  c->asam_eta = 0.01;
  c->fisher_eta = 1.0;
  c->fsam_beta = 0.9;
  c->precond_kind = PH_PRECOND_DIAG;
  c->metric = PH_METRIC_GN;
  c->refresh_every = 50;
  c->inner_steps = 50;
  c->inner_lr = 0.1;
  c->inner_momentum = 0.9;
  c->inner_clip = 5.0;
  c->refresh_batch = 128;
  c->ema_beta = 0.95;
  c->trust_cap = PH_OPTIM_TRUST_CAP;
  return PH_OK;
}

ph_status ph_optim_config_validate(const ph_optim_config *c, ph_error *err) {
  ph_optim_config tmp;
  PH_TRY(ph_optim_config_default(c->name, &tmp, err));
#define RANGE(x, lo, hi, name)                                                 \
  if (!((x) >= (lo) && (x) <= (hi)))                                           \
    return ph_error_set(err, PH_ERR_ARG, "%s %g is out of range [%g, %g]",     \
                        name, (double)(x), (double)(lo), (double)(hi));
#define HALF(x, lo, hi, name)                                                  \
  if (!((x) >= (lo) && (x) < (hi)))                                            \
    return ph_error_set(err, PH_ERR_ARG, "%s %g is out of range [%g, %g)",     \
                        name, (double)(x), (double)(lo), (double)(hi));
  RANGE(c->lr, 0, 1e6, "--lr");
  HALF(c->momentum, 0, 1, "--momentum");
  RANGE(c->weight_decay, 0, 1e3, "--wd");
  HALF(c->beta1, 0, 1, "--beta1");
  HALF(c->beta2, 0, 1, "--beta2");
  RANGE(c->eps, 1e-300, 1, "--eps");
  RANGE(c->rho, 0, 1e6, "--rho");
  RANGE(c->asam_eta, 0, 1e6, "--asam-eta");
  RANGE(c->fisher_eta, 0, 1e12, "--fisher-eta");
  HALF(c->fsam_beta, 0, 1, "--fsam-beta");
  HALF(c->ema_beta, 0, 1, "--ema");
  HALF(c->inner_momentum, 0, 1, "--inner-momentum");
  RANGE(c->inner_lr, 0, 1e6, "--inner-lr");
  RANGE(c->inner_clip, 0, 1e12, "--inner-clip");
  RANGE(c->damping, 0, 1e12, "--damping");
  RANGE(c->curvature_floor, 0, 1e12, "--curvature-floor");
  RANGE(c->trust_cap, 0, 1e12, "--trust-cap");
  if (c->trust_cap > 0 && c->trust_cap < 1)
    return ph_error_set(err, PH_ERR_ARG,
                        "--trust-cap %g must be 0 (off) or at least 1 (a "
                        "cap below the median would lower most of U)",
                        c->trust_cap);
  RANGE(c->trust_floor, 0, 1e12, "--trust-floor");
  RANGE(c->step_cap, 0, 1e12, "--step-cap");
  if (c->trust_floor > 0 && c->trust_floor < 1)
    return ph_error_set(err, PH_ERR_ARG,
                        "--trust-floor %g must be 0 (off) or at least 1 (a "
                        "floor above the median would raise most of U)",
                        c->trust_floor);
  if (c->m_sharpness > 0 && strcmp(c->name, "sam") != 0)
    return ph_error_set(err, PH_ERR_ARG,
                        "--m-sharpness applies to sam only, not %s", c->name);
  if (c->refresh_first != PH_REFRESH_FIRST_START &&
      c->refresh_first != PH_REFRESH_FIRST_AFTER_K)
    return ph_error_set(err, PH_ERR_ARG, "--refresh-first must be start or k");
  if (c->perturb != PH_PERTURB_L2 && c->perturb != PH_PERTURB_DUAL &&
      c->perturb != PH_PERTURB_EUCLID)
    return ph_error_set(err, PH_ERR_ARG,
                        "--perturb must be l2, dual or euclid");
  if (c->refresh_batch < 1)
    return ph_error_set(err, PH_ERR_ARG, "--refresh-batch must be at least 1");
#undef RANGE
#undef HALF
  return PH_OK;
}

ph_status ph_optim_create(const ph_optim_config *cfg, const ph_objective *obj,
                          ph_optim **out, ph_error *err) {
  *out = NULL;
  PH_TRY(ph_optim_config_validate(cfg, err));
  ph_optim *o = ph_calloc(1, sizeof *o, "optimiser", err);
  if (!o) return PH_ERR_NOMEM;
  o->cfg = *cfg;
  for (int i = 0; i < OPT_COUNT; i++)
    if (strcmp(cfg->name, PH_OPTIM_NAMES[i]) == 0) o->kind = (opt_kind)i;
  o->n = obj->n;
  o->blocks = obj->blocks;
  o->n_blocks = obj->n_blocks;
  double **bufs[] = {&o->m, &o->v, &o->gbar, &o->g, &o->d, &o->t, &o->e};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    if (!(*bufs[i] = ph_calloc(o->n, sizeof(double), "optimiser state", err))) {
      ph_optim_free(o);
      return PH_ERR_NOMEM;
    }
  if (o->kind == OPT_LLQR || o->kind == OPT_LLQR_SAM) {
    ph_status st = ph_precond_create(o->n, obj->n_blocks, obj->blocks,
                                     cfg->precond_kind, &o->P, err);
    if (st != PH_OK) {
      ph_optim_free(o);
      return st;
    }
  }
  *out = o;
  return PH_OK;
}

void ph_optim_free(ph_optim *o) {
  if (!o) return;
  free(o->m);
  free(o->v);
  free(o->gbar);
  free(o->g);
  free(o->d);
  free(o->t);
  free(o->e);
  free(o->ib);
  free(o->im);
  free(o->r);
  free(o->delta);
  free(o->ktmp);
  free(o->w);
  free(o->midx);
  ph_precond_free(o->P);
  ph_precond_free(o->Pnew);
  free(o);
}

const ph_optim_config *ph_optim_get_config(const ph_optim *o) {
  return &o->cfg;
}
const ph_precond *ph_optim_precond(const ph_optim *o) {
  return o->P;
}

ph_status ph_optim_set_precond(ph_optim *o, const ph_precond *p,
                               ph_error *err) {
  if (!o->P)
    return ph_error_set(err, PH_ERR_ARG, "%s has no preconditioner",
                        o->cfg.name);
  ph_precond *c;
  PH_TRY(ph_precond_copy_create(p, &c, err));
  ph_precond_free(o->P);
  o->P = c;
  /* A preconditioner fitted elsewhere is the slow EMA's current state: later
   * refreshes merge into it with weight 1 − β (no bias correction). */
  o->ema_warm = 1;
  return PH_OK;
}

ph_status ph_optim_refresh(ph_optim *o, const double *theta, ph_objective *obj,
                           const ph_batch *b, ph_error *err) {
  if (!o->P)
    return ph_error_set(err, PH_ERR_ARG, "%s has no preconditioner",
                        o->cfg.name);
  ph_step_info info;
  memset(&info, 0, sizeof info);
  return ph_llqr_refresh(o, theta, obj, b, &info, err);
}

/* g' = ∇L_B(θ + ε) into o->d. */
static ph_status perturbed_grad(ph_optim *o, const double *theta,
                                const double *eps, ph_objective *obj,
                                const ph_batch *b, ph_step_info *info,
                                ph_error *err) {
  for (size_t i = 0; i < o->n; i++) o->t[i] = theta[i] + eps[i];
  double l2;
  info->n_grad++;
  return ph_objective_loss_grad(obj, o->t, b, &l2, o->d, err);
}

/* The step-length trust region: the preconditioned direction d = U v
 * is scaled down to step_cap·‖v‖ when longer (U may redistribute the
 * gradient step between directions but not lengthen it); info->step_ratio
 * gets ‖U v‖/‖v‖ before the cap. step_cap 0 is off. */
static void step_cap(ph_optim *o, double *d, double vnorm, ph_step_info *info) {
  double dn = ph_vec_nrm2(o->n, d);
  info->step_ratio = vnorm > 0 ? dn / vnorm : NAN;
  double cap = o->cfg.step_cap * vnorm;
  if (o->cfg.step_cap > 0 && dn > cap && dn > 0) ph_vec_scal(o->n, cap / dn, d);
}

/* ε = ρ s/‖s‖ (nothing when s = 0). */
static void scale_to(double *e, const double *s, size_t n, double rho) {
  double nr = ph_vec_nrm2(n, s);
  for (size_t i = 0; i < n; i++) e[i] = rho * s[i] / (nr + 1e-12);
}

/* SAM with m-sharpness (Foret et al. 2021, §4.1): the batch is cut into
 * chunks of m examples; chunk k takes its own ε_k = ρ g_k/‖g_k‖ from its own
 * gradient g_k and contributes ∇L_k(θ + ε_k). The direction is the
 * size-weighted mean of those, g the size-weighted mean of the g_k (= ∇L_B,
 * the loss being a mean over examples). Into o->g and o->d. */
static ph_status sam_m_sharp(ph_optim *o, const double *theta,
                             ph_objective *obj, const ph_batch *batch,
                             double *loss, ph_step_info *info, ph_error *err) {
  size_t n = o->n, nb = batch->n, m = o->cfg.m_sharpness;
  if (!o->w &&
      !(o->w = ph_calloc(n, sizeof(double), "m-sharpness gradient", err)))
    return PH_ERR_NOMEM;
  if (o->midx_cap < nb) {
    size_t *ni = realloc(o->midx, nb * sizeof *ni);
    if (!ni)
      return ph_error_set(err, PH_ERR_NOMEM, "m-sharpness: out of memory");
    o->midx = ni;
    o->midx_cap = nb;
  }
  memset(o->g, 0, n * sizeof(double));
  memset(o->d, 0, n * sizeof(double));
  *loss = 0;
  for (size_t start = 0; start < nb; start += m) {
    size_t len = nb - start < m ? nb - start : m;
    for (size_t k = 0; k < len; k++)
      o->midx[k] = batch->idx ? batch->idx[start + k] : start + k;
    ph_batch cb = {batch->split, o->midx, len};
    double lk, wk = (double)len / (double)nb;
    PH_TRY(ph_objective_loss_grad(obj, theta, &cb, &lk, o->w, err));
    *loss += wk * lk;
    ph_vec_axpy(n, wk, o->w, o->g);
    scale_to(o->e, o->w, n, o->cfg.rho);
    for (size_t i = 0; i < n; i++) o->t[i] = theta[i] + o->e[i];
    PH_TRY(ph_objective_loss_grad(obj, o->t, &cb, &lk, o->w, err));
    ph_vec_axpy(n, wk, o->w, o->d);
  }
  info->n_grad = 2; /* in whole-batch equivalents */
  info->rho = o->cfg.rho;
  return PH_OK;
}

ph_status ph_optim_step(ph_optim *o, double *theta, ph_objective *obj,
                        const ph_batch *batch, double lr,
                        ph_batch_source *fresh, ph_step_info *info,
                        ph_error *err) {
  ph_step_info local;
  if (!info) info = &local;
  memset(info, 0, sizeof *info);
  info->step_ratio = NAN;
  const ph_optim_config *c = &o->cfg;
  size_t n = o->n;
  double *g = o->g, *d = o->d, *e = o->e;
  double loss;
  int msharp =
      o->kind == OPT_SAM && c->m_sharpness > 0 && c->m_sharpness < batch->n;
  if (msharp) {
    PH_TRY(sam_m_sharp(o, theta, obj, batch, &loss, info, err));
  } else {
    info->n_grad = 1;
    PH_TRY(ph_objective_loss_grad(obj, theta, batch, &loss, g, err));
  }
  info->loss = loss;
  info->grad_norm = ph_vec_nrm2(n, g);
  /* refresh at steps 0, K, 2K, ... (or K, 2K, ... with refresh_first
   * AFTER_K); K = 0 never refreshes */
  if ((o->kind == OPT_LLQR || o->kind == OPT_LLQR_SAM) &&
      c->refresh_every > 0 && o->t_step % c->refresh_every == 0 &&
      (o->t_step > 0 || c->refresh_first == PH_REFRESH_FIRST_START)) {
    ph_batch fb = *batch;
    if (fresh) fresh->next(fresh->ctx, &fb);
    PH_TRY(ph_llqr_refresh(o, theta, obj, &fb, info, err));
    info->refreshed = 1;
  }
  switch (o->kind) {
  case OPT_SGD:
  case OPT_ADAMW: memcpy(d, g, n * sizeof *d); break;
  case OPT_SAM:
    if (msharp) break; /* direction already in d */
    scale_to(e, g, n, c->rho);
    info->rho = c->rho;
    PH_TRY(perturbed_grad(o, theta, e, obj, batch, info, err));
    break;
  case OPT_ASAM: {
    /* T = |θ| + η on weights, 1 elsewhere; ε = ρ T²g / ‖Tg‖ */
    for (size_t i = 0; i < n; i++) e[i] = 1;
    for (size_t b = 0; b < o->n_blocks; b++)
      if (o->blocks[b].kind == PH_BLOCK_WEIGHT)
        for (size_t k = 0; k < o->blocks[b].size; k++) {
          size_t i = o->blocks[b].offset + k;
          e[i] = fabs(theta[i]) + c->asam_eta;
        }
    double nr = 0;
    for (size_t i = 0; i < n; i++) nr += e[i] * e[i] * g[i] * g[i];
    nr = sqrt(nr);
    for (size_t i = 0; i < n; i++)
      e[i] = c->rho * e[i] * e[i] * g[i] / (nr + 1e-12);
    info->rho = c->rho;
    PH_TRY(perturbed_grad(o, theta, e, obj, batch, info, err));
    break;
  }
  case OPT_FISHER_SAM: {
    /* diagonal F⁻¹g = g / (1 + η g²); ε = ρ F⁻¹g / √(gᵀF⁻¹g) */
    double q = 0;
    for (size_t i = 0; i < n; i++) {
      e[i] = g[i] / (1 + c->fisher_eta * g[i] * g[i]);
      q += g[i] * e[i];
    }
    for (size_t i = 0; i < n; i++) e[i] *= c->rho / (sqrt(q) + 1e-12);
    info->rho = c->rho;
    PH_TRY(perturbed_grad(o, theta, e, obj, batch, info, err));
    break;
  }
  case OPT_FSAM: {
    /* ḡ ← βḡ + (1−β)g; perturb along the part of g not in the running mean */
    for (size_t i = 0; i < n; i++) {
      o->gbar[i] = c->fsam_beta * o->gbar[i] + (1 - c->fsam_beta) * g[i];
      d[i] = g[i] - o->gbar[i];
    }
    scale_to(e, d, n, c->rho);
    info->rho = c->rho;
    PH_TRY(perturbed_grad(o, theta, e, obj, batch, info, err));
    break;
  }
  case OPT_LLQR:
    ph_precond_apply(o->P, g, d);
    step_cap(o, d, ph_vec_nrm2(n, g), info);
    break;
  case OPT_LLQR_SAM: {
    /* v = U g; ε = ρ v/‖v‖ (or ρ v/√(gᵀv)); g' = ∇L(θ+ε); Δ = U g' */
    ph_precond_apply(o->P, g, d);
    if (c->perturb == PH_PERTURB_EUCLID) {
      scale_to(e, g, n, c->rho);
    } else if (c->perturb == PH_PERTURB_DUAL) {
      double q = ph_vec_dot(n, g, d);
      for (size_t i = 0; i < n; i++)
        e[i] = c->rho * d[i] / (sqrt(fabs(q)) + 1e-12);
    } else
      scale_to(e, d, n, c->rho);
    info->rho = c->rho;
    PH_TRY(perturbed_grad(o, theta, e, obj, batch, info, err));
    if (!c->perturb_only) {
      double gn = ph_vec_nrm2(n, d); /* ‖∇L(θ+ε)‖, what U preconditions */
      ph_precond_apply(o->P, d, d);
      step_cap(o, d, gn, info);
    }
    break;
  }
  default: break;
  }
  /* outer step; weight decay added after the preconditioner */
  double upd = 0;
  o->t_step++;
  if (c->outer == PH_OUTER_ADAMW) {
    double b1 = c->beta1, b2 = c->beta2;
    double c1 = 1 - pow(b1, (double)o->t_step),
           c2 = 1 - pow(b2, (double)o->t_step);
    for (size_t i = 0; i < n; i++) {
      o->m[i] = b1 * o->m[i] + (1 - b1) * d[i];
      o->v[i] = b2 * o->v[i] + (1 - b2) * d[i] * d[i];
      double s = lr * ((o->m[i] / c1) / (sqrt(o->v[i] / c2) + c->eps) +
                       c->weight_decay * theta[i]);
      theta[i] -= s;
      upd += s * s;
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      double gi = d[i] + c->weight_decay * theta[i];
      o->m[i] = c->momentum * o->m[i] + gi;
      double s = lr * (c->nesterov ? gi + c->momentum * o->m[i] : o->m[i]);
      theta[i] -= s;
      upd += s * s;
    }
  }
  info->update_norm = sqrt(upd);
  if (!ph_vec_all_finite(n, theta))
    return ph_error_set(err, PH_ERR_NUMERIC,
                        "%s: parameters became non-finite at step %llu",
                        c->name, (unsigned long long)o->t_step);
  return PH_OK;
}
