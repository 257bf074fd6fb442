/* lanczos.c: thick-restart Lanczos with full reorthogonalisation.
 *
 * References: Lanczos 1950; Paige 1971 (Ritz residual bound β_m |s_{m,j}|);
 * Wu & Simon, "Thick-restart Lanczos method for large symmetric eigenvalue
 * problems", SIAM J. Matrix Anal. Appl. 22 (2000); Golub & Van Loan §10.
 * Derivation and conventions: docs/spectra.md.
 *
 * Each step w = A v_j is orthogonalised against the whole basis twice
 * (classical Gram-Schmidt, "twice is enough"), and the projected matrix T
 * takes the Gram-Schmidt coefficients V^T A v_j, so after a restart the arrow
 * entries come out of the same code path as the tridiagonal ones. T is small
 * (m ≤ a few hundred) and is diagonalised densely (LAPACKE_dsyev).
 * Not done here: block Lanczos, locking, shift-invert.
 */
#include "linalg/lanczos.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "core/vec.h"

#define ROW_CHUNK 256

struct ph_lanczos_workspace {
  size_t n, m;
  double *v;     /* (m+1, n): column j is v + j n */
  double *t;     /* (m, m) projected matrix */
  double *s;     /* (m, m) its eigenvectors, column-major */
  double *theta; /* (m) its eigenvalues ascending */
  double *h;     /* (m+1) Gram-Schmidt coefficients */
  double *h2;    /* (m+1) */
  double *beta;  /* (m) */
  double *ssel;  /* (m, m) selected eigenvector columns */
  double *chunk; /* (ROW_CHUNK, m) */
  double *g;     /* (m+1) carry coefficients (see the verification cycle) */
  double *g2;    /* (m+1) */
};

ph_rng ph_probe_rng(uint64_t seed, unsigned tag, uint64_t index, size_t n) {
  ph_rng r = ph_rng_make(seed, PH_RNG_STREAM_PROBE);
  r.counter = ((uint64_t)tag << 56) + index * 2u * (uint64_t)n;
  return r;
}

ph_eig_config ph_eig_config_default(void) {
  ph_eig_config c = {0};
  c.k = 5;
  c.which = PH_EIG_TOP;
  c.tol = 1e-6;
  c.verify = 1;
  return c;
}

void ph_eig_result_free(ph_eig_result *r) {
  if (!r) return;
  ph_free(r->values);
  ph_free(r->bounds);
  ph_free(r->converged);
  ph_free(r->vectors);
  memset(r, 0, sizeof(*r));
}

static size_t wanted_count(size_t n, const ph_eig_config *cfg) {
  size_t kk = cfg->which == PH_EIG_BOTH ? 2 * cfg->k : cfg->k;
  return kk > n ? n : kk;
}

size_t ph_lanczos_basis_size(size_t n, const ph_eig_config *cfg) {
  size_t kk = wanted_count(n, cfg);
  size_t m = cfg->basis;
  if (m == 0) m = 2 * kk + 10 > 30 ? 2 * kk + 10 : 30;
  if (m < kk + 2) m = kk + 2;
  if (m > n) m = n;
  return m;
}

void ph_lanczos_workspace_free(ph_lanczos_workspace *w) {
  if (!w) return;
  ph_free(w->v);
  ph_free(w->t);
  ph_free(w->s);
  ph_free(w->theta);
  ph_free(w->h);
  ph_free(w->h2);
  ph_free(w->beta);
  ph_free(w->ssel);
  ph_free(w->chunk);
  ph_free(w->g);
  ph_free(w->g2);
  ph_free(w);
}

static ph_lanczos_workspace *workspace_new(size_t n, size_t m, ph_error *err) {
  if (n == 0 || m == 0 || m > n) {
    ph_error_set(err, PH_ERR_ARG, "lanczos: basis %zu for dimension %zu", m, n);
    return NULL;
  }
  ph_lanczos_workspace *w = ph_calloc(1, sizeof(*w), "lanczos workspace", err);
  if (!w) return NULL;
  w->n = n;
  w->m = m;
  size_t vn;
  if (ph_mul_size(n, m + 1, &vn)) {
    ph_error_set(err, PH_ERR_NOMEM, "lanczos: basis %zu x %zu overflows", n, m);
    ph_free(w);
    return NULL;
  }
  w->v = ph_calloc(vn, sizeof(double), "lanczos basis", err);
  w->t = ph_calloc(m * m, sizeof(double), "lanczos T", err);
  w->s = ph_calloc(m * m, sizeof(double), "lanczos S", err);
  w->ssel = ph_calloc(m * m, sizeof(double), "lanczos S", err);
  w->theta = ph_calloc(m, sizeof(double), "lanczos theta", err);
  w->h = ph_calloc(m + 1, sizeof(double), "lanczos h", err);
  w->h2 = ph_calloc(m + 1, sizeof(double), "lanczos h", err);
  w->beta = ph_calloc(m, sizeof(double), "lanczos beta", err);
  w->chunk = ph_calloc(ROW_CHUNK * m, sizeof(double), "lanczos chunk", err);
  w->g = ph_calloc(m + 1, sizeof(double), "lanczos carry", err);
  w->g2 = ph_calloc(m + 1, sizeof(double), "lanczos carry", err);
  if (!w->v || !w->t || !w->s || !w->ssel || !w->theta || !w->h || !w->h2 ||
      !w->beta || !w->chunk || !w->g || !w->g2) {
    ph_lanczos_workspace_free(w);
    return NULL;
  }
  return w;
}

ph_status ph_lanczos_workspace_create(size_t n, size_t m,
                                      ph_lanczos_workspace **out,
                                      ph_error *err) {
  *out = workspace_new(n, m, err);
  return *out ? PH_OK : (err && err->code ? err->code : PH_ERR_NOMEM);
}

/* x -= V[:, 0..j) (V^T x), twice; c (j) receives the summed coefficients.
 * Returns ‖x‖ after. */
static double cgs2(size_t n, size_t j, const double *v, double *x, double *c,
                   double *c2) {
  if (j == 0) return ph_vec_nrm2(n, x);
  int in = (int)n, ij = (int)j;
  cblas_dgemv(CblasColMajor, CblasTrans, in, ij, 1.0, v, in, x, 1, 0.0, c, 1);
  cblas_dgemv(CblasColMajor, CblasNoTrans, in, ij, -1.0, v, in, c, 1, 1.0, x,
              1);
  cblas_dgemv(CblasColMajor, CblasTrans, in, ij, 1.0, v, in, x, 1, 0.0, c2, 1);
  cblas_dgemv(CblasColMajor, CblasNoTrans, in, ij, -1.0, v, in, c2, 1, 1.0, x,
              1);
  for (size_t i = 0; i < j; i++) c[i] += c2[i];
  return ph_vec_nrm2(n, x);
}

/* A random unit vector orthogonal to V[:, 0..j) into x. */
static ph_status random_orth(ph_lanczos_workspace *w, size_t j, uint64_t seed,
                             uint64_t index, double *x, ph_error *err) {
  size_t n = w->n;
  for (int attempt = 0; attempt < 8; attempt++) {
    ph_rng r = ph_probe_rng(seed, PH_PROBE_RESTART, index * 8 + attempt, n);
    ph_rng_fill_gauss(&r, x, n, 1.0);
    double nx0 = ph_vec_nrm2(n, x);
    double nx = cgs2(n, j, w->v, x, w->h, w->h2);
    if (nx > 1e-8 * nx0) {
      ph_vec_scal(n, 1.0 / nx, x);
      return PH_OK;
    }
  }
  return ph_error_set(err, PH_ERR_NUMERIC,
                      "lanczos: no vector orthogonal to the %zu-dim basis", j);
}

/* B = V[:, 0..mc) · S[:, 0..kc) (mc × kc, column-major ld mc) written over
 * V[:, 0..kc), row chunk by row chunk so no n×kc temporary is needed. */
static void basis_rotate(ph_lanczos_workspace *w, size_t mc, const double *s,
                         size_t kc) {
  size_t n = w->n;
  for (size_t r0 = 0; r0 < n; r0 += ROW_CHUNK) {
    size_t rc = n - r0 < ROW_CHUNK ? n - r0 : ROW_CHUNK;
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)rc, (int)kc,
                (int)mc, 1.0, w->v + r0, (int)n, s, (int)mc, 0.0, w->chunk,
                (int)rc);
    for (size_t c = 0; c < kc; c++)
      memcpy(w->v + c * n + r0, w->chunk + c * rc, rc * sizeof(double));
  }
}

/* Indices (into ascending theta[0..mc)) of the wanted Ritz values, listed in
 * descending order of value; returns the count. */
static size_t select_wanted(size_t mc, size_t k, ph_eig_which which,
                            size_t *idx) {
  size_t c = 0;
  if (which == PH_EIG_TOP || which == PH_EIG_BOTH)
    for (size_t i = 0; i < k && i < mc; i++) idx[c++] = mc - 1 - i;
  if (which == PH_EIG_BOTTOM || which == PH_EIG_BOTH) {
    size_t lo = which == PH_EIG_BOTH ? c : 0;
    size_t kb = k < mc ? k : mc;
    for (size_t i = kb; i-- > 0;) {
      int dup = 0;
      for (size_t q = 0; q < lo; q++) dup |= idx[q] == i;
      if (!dup) idx[c++] = i;
    }
  }
  return c;
}

/* Kept set for a thick restart: the wanted ones plus extra neighbours at the
 * wanted end(s), ~ a third of the free room (Wu & Simon keep "some more"). */
static size_t select_keep(size_t mc, size_t k, size_t kk, ph_eig_which which,
                          size_t *idx) {
  size_t extra = (mc - kk) / 3;
  size_t c = 0;
  if (which == PH_EIG_TOP) {
    for (size_t i = 0; i < kk + extra; i++) idx[c++] = mc - 1 - i;
  } else if (which == PH_EIG_BOTTOM) {
    for (size_t i = 0; i < kk + extra; i++) idx[c++] = i;
  } else {
    size_t kt = k + extra / 2, kb = kk - k + (extra - extra / 2);
    if (kt + kb > mc - 1) kb = mc - 1 - kt;
    for (size_t i = 0; i < kt; i++) idx[c++] = mc - 1 - i;
    for (size_t i = 0; i < kb; i++) idx[c++] = i;
  }
  return c;
}

/* Certificates: the residual norm ‖A y − θ y‖ of each returned vector,
 * computed with the operator itself (k more products). The Lanczos bound
 * |β_m s_mj| is exact in exact arithmetic, but rounding in long products
 * (a preconditioned operator is three) and deflation in power iteration can
 * make the true residual larger, so the reported bound is the larger of the
 * two, and convergence is judged on it. The k products are one block
 * product. */
ph_status ph_eig_certify(ph_linop *a, ph_eig_result *res, double tol,
                         ph_error *err) {
  if (!res->vectors || res->k == 0) return PH_OK;
  size_t n = res->n;
  /* all k products as one block product (ph_linop_apply_block) */
  double *wk = ph_malloc(res->k * n, sizeof(double), "certificate", err);
  if (!wk) return PH_ERR_NOMEM;
  ph_status st = ph_linop_apply_block(a, res->k, res->vectors, wk, err);
  res->products += res->k;
  if (st != PH_OK) {
    ph_free(wk);
    return st;
  }
  double tnorm = 0;
  for (size_t q = 0; q < res->k; q++)
    if (isfinite(res->values[q])) tnorm = fmax(tnorm, fabs(res->values[q]));
  double floor_abs = 10.0 * sqrt((double)n) * DBL_EPSILON * tnorm;
  int all = 1;
  for (size_t q = 0; q < res->k; q++) {
    const double *y = res->vectors + q * n;
    double *w = wk + q * n;
    ph_vec_axpy(n, -res->values[q], y, w);
    double r = ph_vec_nrm2(n, w);
    if (!(res->bounds[q] >= r)) res->bounds[q] = r;
    res->converged[q] =
        res->bounds[q] <= fmax(tol * fabs(res->values[q]), floor_abs);
    all &= res->converged[q];
  }
  res->all_converged = all;
  ph_free(wk);
  return PH_OK;
}

/* Rayleigh-Ritz on the projection T[0..mc) of the basis: the Ritz values
 * into ws->theta and vectors into ws->s (column c of the mc × mc matrix),
 * the wanted ones (want, *nw of them) with their residual bounds into res,
 * and whether all of them meet the tolerance. */
static ph_status rayleigh_ritz(ph_lanczos_workspace *ws, size_t m, size_t mc,
                               const ph_eig_config *cfg, double beta_f,
                               size_t *want, ph_eig_result *res, size_t *nw,
                               int *all, ph_error *err) {
  double *t = ws->t, *s = ws->s, *theta = ws->theta;
  for (size_t c = 0; c < mc; c++)
    for (size_t i = 0; i < mc; i++) s[c * mc + i] = t[c * m + i];
  lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)mc, s,
                                  (lapack_int)mc, theta);
  if (info != 0)
    return ph_error_set(err, PH_ERR_NUMERIC,
                        "lanczos: dsyev on the %zu x %zu projection failed "
                        "(info %d)",
                        mc, mc, (int)info);
  double tnorm = fmax(fabs(theta[0]), fabs(theta[mc - 1]));
  double floor_abs = 10.0 * sqrt((double)res->n) * DBL_EPSILON * tnorm;
  double blast = ws->beta[mc - 1];
  *nw = select_wanted(mc, cfg->k, cfg->which, want);
  *all = 1;
  for (size_t q = 0; q < *nw; q++) {
    size_t i = want[q];
    double b = fabs(blast * s[i * mc + mc - 1]);
    if (beta_f != 0)
      b += fabs(beta_f * cblas_ddot((int)mc, ws->g, 1, s + i * mc, 1));
    res->values[q] = theta[i];
    res->bounds[q] = b;
    res->converged[q] = b <= fmax(cfg->tol * fabs(theta[i]), floor_abs);
    *all &= res->converged[q];
  }
  res->k = *nw;
  return PH_OK;
}

ph_status ph_lanczos_run(ph_linop *a, const ph_eig_config *cfg,
                         ph_lanczos_workspace *ws, ph_eig_result *res,
                         ph_error *err) {
  memset(res, 0, sizeof(*res));
  if (!a || a->n == 0 || cfg->k == 0)
    return ph_error_set(err, PH_ERR_ARG, "lanczos: empty operator or k = 0");
  if (!(cfg->tol > 0) || cfg->tol >= 1)
    return ph_error_set(err, PH_ERR_ARG, "lanczos: tol %g not in (0, 1)",
                        cfg->tol);
  double t0 = ph_now();
  size_t n = a->n;
  size_t kk = wanted_count(n, cfg);
  size_t m = ph_lanczos_basis_size(n, cfg);
  size_t budget = cfg->max_products ? cfg->max_products : 100 * n + 1000;
  ph_lanczos_workspace *own = NULL;
  if (!ws) {
    PH_TRY(ph_lanczos_workspace_create(n, m, &own, err));
    ws = own;
  } else if (ws->n != n || ws->m < m) {
    return ph_error_set(
        err, PH_ERR_ARG,
        "lanczos: workspace (%zu, %zu) too small for (%zu, %zu)", ws->n, ws->m,
        n, m);
  }
  ph_status st = PH_OK;
  size_t *want = ph_calloc(m, sizeof(size_t), "lanczos index", err);
  size_t *keep = ph_calloc(m, sizeof(size_t), "lanczos index", err);
  res->values = ph_calloc(kk, sizeof(double), "eigenvalues", err);
  res->bounds = ph_calloc(kk, sizeof(double), "residual bounds", err);
  res->converged = ph_calloc(kk, sizeof(int), "converged flags", err);
  if (cfg->want_vectors)
    res->vectors = ph_calloc(kk * n, sizeof(double), "eigenvectors", err);
  if (!want || !keep || !res->values || !res->bounds || !res->converged ||
      (cfg->want_vectors && !res->vectors)) {
    st = PH_ERR_NOMEM;
    goto done;
  }
  res->n = n;
  res->k = kk;

  double *v = ws->v, *t = ws->t, *s = ws->s, *theta = ws->theta;
  size_t n_rand = 0;
  {
    double sn = cfg->start ? ph_vec_nrm2(n, cfg->start) : 0;
    if (sn > 0 && isfinite(sn)) {
      ph_vec_copy(n, cfg->start, v);
      ph_vec_scal(n, 1.0 / sn, v);
    } else {
      ph_rng r = ph_probe_rng(cfg->seed, PH_PROBE_LANCZOS, 0, n);
      ph_rng_fill_gauss(&r, v, n, 1.0);
      ph_vec_scal(n, 1.0 / ph_vec_nrm2(n, v), v);
    }
  }
  memset(t, 0, m * m * sizeof(double));
  size_t j0 = 0, products = 0, restarts = 0;
  int verified = !cfg->verify || kk >= n;
  double anorm = 0;
  /* The verification cycle drops the old residual direction f (unit) from
   * the basis, so afterwards A V = V T + β_m v_{m+1} e_mᵀ + β_f f gᵀ: the
   * bound of a Ritz pair (θ, V s) is |β_m s_m| + |β_f gᵀ s| (triangle
   * inequality), with g carried through restarts as Sᵀ g. */
  double beta_f = 0;
  memset(ws->g, 0, (m + 1) * sizeof(double));

  for (;;) {
    size_t mc = m; /* columns of this cycle */
    for (size_t j = j0; j < m; j++) {
      if (products >= budget) {
        mc = j;
        break;
      }
      double *w = v + (j + 1) * n;
      st = ph_linop_apply(a, v + j * n, w, err);
      products++;
      if (st != PH_OK) goto done;
      if (!ph_vec_all_finite(n, w)) {
        st = ph_error_set(err, PH_ERR_NUMERIC,
                          "lanczos: operator product %zu is not finite",
                          products);
        goto done;
      }
      double beta = cgs2(n, j + 1, v, w, ws->h, ws->h2);
      double colsum = beta;
      for (size_t i = 0; i <= j; i++) {
        t[i * m + j] = t[j * m + i] = ws->h[i];
        colsum += fabs(ws->h[i]);
      }
      if (colsum > anorm) anorm = colsum;
      ws->beta[j] = beta;
      if (beta <= 1e-12 * anorm || beta == 0) {
        /* Invariant subspace: the residual is zero; continue (if there is
         * room) from a random vector orthogonal to the basis. */
        ws->beta[j] = 0;
        if (j + 1 < m) {
          st = random_orth(ws, j + 1, cfg->seed, n_rand++, w, err);
          if (st != PH_OK) goto done;
        }
      } else {
        ph_vec_scal(n, 1.0 / beta, w);
      }
      /* cfg->early: stop this cycle once every wanted pair has converged
       * (the cycle-end code below then returns them) */
      if (cfg->early && verified && j + 1 < m && j + 1 >= kk) {
        size_t nw;
        int all;
        st =
            rayleigh_ritz(ws, m, j + 1, cfg, beta_f, want, res, &nw, &all, err);
        if (st != PH_OK) goto done;
        if (all && nw == kk) {
          mc = j + 1;
          break;
        }
      }
    }
    if (mc == 0) {
      st = ph_error_set(err, PH_ERR_ARG,
                        "lanczos: product budget %zu too small", budget);
      goto done;
    }

    /* Rayleigh-Ritz on T[0..mc). */
    double blast = ws->beta[mc - 1];
    size_t nw;
    int all;
    st = rayleigh_ritz(ws, m, mc, cfg, beta_f, want, res, &nw, &all, err);
    if (st != PH_OK) goto done;
    if (all && !verified && mc == m && products < budget) {
      /* Verification cycle: the converged vectors plus a fresh random one. */
      verified = 1;
      beta_f = blast;
      for (size_t q = 0; q < nw; q++) {
        memcpy(ws->ssel + q * mc, s + want[q] * mc, mc * sizeof(double));
        ws->g2[q] = s[want[q] * mc + mc - 1];
      }
      memset(ws->g, 0, (m + 1) * sizeof(double));
      memcpy(ws->g, ws->g2, nw * sizeof(double));
      basis_rotate(ws, mc, ws->ssel, nw);
      memset(t, 0, m * m * sizeof(double));
      for (size_t q = 0; q < nw; q++) t[q * m + q] = theta[want[q]];
      st = random_orth(ws, nw, cfg->seed, n_rand++, v + nw * n, err);
      if (st != PH_OK) goto done;
      j0 = nw;
      restarts++;
      continue;
    }
    if (all || products >= budget || mc < m) {
      res->all_converged = all;
      if (cfg->want_vectors) {
        for (size_t q = 0; q < nw; q++)
          memcpy(ws->ssel + q * mc, s + want[q] * mc, mc * sizeof(double));
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)nw,
                    (int)mc, 1.0, v, (int)n, ws->ssel, (int)mc, 0.0,
                    res->vectors, (int)n);
        for (size_t q = 0; q < nw; q++) {
          double *y = res->vectors + q * n;
          size_t imax = (size_t)cblas_idamax((int)n, y, 1);
          double sc = (y[imax] < 0 ? -1.0 : 1.0) / ph_vec_nrm2(n, y);
          ph_vec_scal(n, sc, y);
        }
      }
      break;
    }

    /* Thick restart: keep Ritz vectors, append the residual vector. */
    size_t nk = select_keep(mc, cfg->k, nw, cfg->which, keep);
    for (size_t q = 0; q < nk; q++) {
      memcpy(ws->ssel + q * mc, s + keep[q] * mc, mc * sizeof(double));
      ws->g2[q] = cblas_ddot((int)mc, ws->g, 1, s + keep[q] * mc, 1);
    }
    memset(ws->g, 0, (m + 1) * sizeof(double));
    memcpy(ws->g, ws->g2, nk * sizeof(double));
    basis_rotate(ws, mc, ws->ssel, nk);
    memcpy(v + nk * n, v + mc * n, n * sizeof(double));
    memset(t, 0, m * m * sizeof(double));
    for (size_t q = 0; q < nk; q++) t[q * m + q] = theta[keep[q]];
    if (blast == 0) {
      st = random_orth(ws, nk, cfg->seed, n_rand++, v + nk * n, err);
      if (st != PH_OK) goto done;
    }
    j0 = nk;
    restarts++;
  }
  res->products = products;
  res->restarts = restarts;
  if (!cfg->no_certify) st = ph_eig_certify(a, res, cfg->tol, err);
done:
  res->seconds = ph_now() - t0;
  ph_free(want);
  ph_free(keep);
  ph_lanczos_workspace_free(own);
  if (st != PH_OK) ph_eig_result_free(res);
  return st;
}
