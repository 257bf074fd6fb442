/* slq.c: stochastic Lanczos quadrature density, Hutchinson trace, dense
 * reference spectrum (definitions and conventions in slq.h and
 * docs/spectra.md).
 *
 * References: Golub & Meurant, "Matrices, Moments and Quadrature" (1994);
 * Ubaru, Chen & Saad, SIAM J. Matrix Anal. Appl. 38 (2017); Ghorbani,
 * Krishnan & Xiao, ICML 2019; Yao et al., PyHessian (2020); Hutchinson
 * (1990). Each SLQ probe runs plain Lanczos (no restarts) with full
 * reorthogonalisation, so the quadrature weights are not polluted by ghost
 * copies of converged eigenvalues. Probes run in lockstep groups of
 * `block` (group g = probes g·kb .. g·kb + kb − 1). In an MPI job
 * (core/dist.h) group g runs on rank g mod R: whole groups, because a block
 * product agrees with k single products only to rounding, so a probe's bits
 * depend on the group it ran in, and the groups must not depend on R. Its
 * nodes, weights and zᵀAz are merged bit for bit and everything after is
 * computed from them in probe order on every rank, so the density and the
 * trace do not depend on R. Not done: Hutch++.
 */
#include "linalg/slq.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "core/stats.h"
#include "core/alloc.h"
#include "core/dist.h"
#include "core/pool.h"
#include "core/progress.h"
#include "core/vec.h"
#include "linalg/lanczos.h"

ph_slq_config ph_slq_config_default(void) {
  ph_slq_config c = {0};
  c.probes = 10;
  c.steps = 100;
  c.sigma2_scale = 1e-5;
  c.block = 8;
  return c;
}

void ph_slq_result_free(ph_slq_result *r) {
  if (!r) return;
  ph_free(r->nodes);
  ph_free(r->weights);
  ph_free(r->t);
  ph_free(r->density);
  ph_free(r->band_lo);
  ph_free(r->band_hi);
  ph_free(r->count_above);
  memset(r, 0, sizeof(*r));
}

/* One SLQ probe's Lanczos state: basis v (n, m+1) column-major, alpha,
 * beta (m), the running norm estimate, steps taken. */
typedef struct slq_probe {
  double *v, *alpha, *beta;
  double anorm;
  size_t used;
  int done;
} slq_probe;

/* Step j of plain Lanczos with full reorthogonalisation, after the product
 * w = A v_j has been written to v_{j+1}: two Gram-Schmidt passes, α_j, β_j,
 * normalisation. Marks the probe done after m steps or on an invariant
 * subspace (β ≤ 1e-12 ‖T‖). */
/* The probes of group g (kb each, the last may be short) when this rank
 * runs it, else 0. */
static size_t group_ids(size_t g, size_t kb, size_t np, size_t *ids) {
  if (ph_dist_owner(g) != ph_dist_rank()) return 0;
  size_t k = 0;
  for (size_t p = g * kb; p < np && k < kb; p++) ids[k++] = p;
  return k;
}

/* More ranks than groups would leave some with nothing to do. */
static ph_status too_many_ranks(const char *what, size_t np, size_t kb,
                                size_t ng, ph_error *err) {
  if (ph_dist_size() <= 1 || ng >= (size_t)ph_dist_size()) return PH_OK;
  return ph_error_set(err, PH_ERR_ARG,
                      "%d processes for %zu %s probes in groups of %zu "
                      "(--block): start at most %zu, or lower --block",
                      ph_dist_size(), np, what, kb, ng);
}

static ph_status slq_step(slq_probe *p, size_t n, size_t j, size_t m, double *c,
                          double *c2, ph_error *err) {
  double *v = p->v, *w = v + (j + 1) * n;
  int in = (int)n;
  if (!ph_vec_all_finite(n, w))
    return ph_error_set(err, PH_ERR_NUMERIC,
                        "slq: operator product at step %zu is not finite", j);
  int ij = (int)(j + 1);
  cblas_dgemv(CblasColMajor, CblasTrans, in, ij, 1.0, v, in, w, 1, 0.0, c, 1);
  cblas_dgemv(CblasColMajor, CblasNoTrans, in, ij, -1.0, v, in, c, 1, 1.0, w,
              1);
  cblas_dgemv(CblasColMajor, CblasTrans, in, ij, 1.0, v, in, w, 1, 0.0, c2, 1);
  cblas_dgemv(CblasColMajor, CblasNoTrans, in, ij, -1.0, v, in, c2, 1, 1.0, w,
              1);
  p->alpha[j] = c[j] + c2[j];
  double b = ph_vec_nrm2(n, w);
  double est = fabs(p->alpha[j]) + b + (j ? p->beta[j - 1] : 0);
  if (est > p->anorm) p->anorm = est;
  p->beta[j] = b;
  p->used = j + 1;
  if (j + 1 >= m || b <= 1e-12 * p->anorm || b == 0) {
    p->done = 1;
    return PH_OK;
  }
  ph_vec_scal(n, 1.0 / b, w);
  return PH_OK;
}

/* One Lanczos step j for the active probes act[0..na) of a group, after
 * their products, on a team of threads: thread t takes probes t, t + T,
 * ..., each with its own coefficient scratch (c, c2: 2(m+1) doubles per
 * thread) and error. A probe's step is the same computation whichever
 * thread runs it, so the bits do not depend on the team. */
typedef struct slq_steps {
  slq_probe *pr;
  const size_t *act;
  size_t na, n, j, m, threads;
  double *cw;
  ph_status st[PH_SLQ_BLOCK_MAX];
  ph_error err[PH_SLQ_BLOCK_MAX];
} slq_steps;

static void slq_steps_run(void *arg, size_t t) {
  slq_steps *s = arg;
  double *c = s->cw + t * 2 * (s->m + 1), *c2 = c + s->m + 1;
  for (size_t q = t; q < s->na; q += s->threads)
    s->st[q] = slq_step(&s->pr[s->act[q]], s->n, s->j, s->m, c, c2, &s->err[q]);
}

/* m Lanczos steps for the k probes of a group in lockstep: at each step
 * the active probes' vectors go through one block product (k = 1: a
 * single product, as before blocks existed), then their
 * orthogonalisation steps run on the team `pool` (NULL: here). V, W: (k, n)
 * staging; cw: 2(m+1) doubles per thread of the team. */
static ph_status slq_group(ph_linop *a, size_t m, slq_probe *pr, size_t k,
                           double *V, double *W, double *cw, ph_pool *pool,
                           ph_error *err) {
  size_t n = a->n;
  size_t act[PH_SLQ_BLOCK_MAX];
  slq_steps s;
  s.pr = pr;
  s.act = act;
  s.n = n;
  s.m = m;
  s.cw = cw;
  s.threads = ph_pool_threads(pool);
  for (size_t j = 0; j < m; j++) {
    size_t na = 0;
    for (size_t q = 0; q < k; q++)
      if (!pr[q].done) act[na++] = q;
    if (na == 0) break;
    if (na == 1) {
      slq_probe *p = &pr[act[0]];
      PH_TRY(ph_linop_apply(a, p->v + j * n, p->v + (j + 1) * n, err));
    } else {
      for (size_t q = 0; q < na; q++)
        memcpy(V + q * n, pr[act[q]].v + j * n, n * sizeof *V);
      PH_TRY(ph_linop_apply_block(a, na, V, W, err));
      for (size_t q = 0; q < na; q++)
        memcpy(pr[act[q]].v + (j + 1) * n, W + q * n, n * sizeof *W);
    }
    s.na = na;
    s.j = j;
    if (na > 1 && s.threads > 1) {
      ph_pool_run(pool, slq_steps_run, &s);
    } else {
      size_t T = s.threads;
      s.threads = 1; /* all of them here */
      slq_steps_run(&s, 0);
      s.threads = T;
    }
    for (size_t q = 0; q < na; q++) /* the first failure in probe order */
      if (s.st[q] != PH_OK) {
        *err = s.err[q];
        return s.st[q];
      }
  }
  return PH_OK;
}

/* The broadening (see slq.h). With PyHessian's σ² = 1e-5·max(1, range) a
 * spectrum of width 2e-3 was smoothed by σ ≈ 3e-3 into one bump; the node
 * spacing is the resolution the quadrature actually has: finer smoothing
 * shows each node as its own spike, coarser washes out the bulk's shape. */
static double slq_sigma(const ph_slq_config *cfg, const double *nodes,
                        const double *weights, size_t np, size_t m, double lmin,
                        double lmax) {
  if (cfg->sigma > 0) return cfg->sigma;
  double range = lmax - lmin;
  double pyh = sqrt(cfg->sigma2_scale * fmax(1.0, range));
  if (cfg->sigma_rule == PH_SLQ_SIGMA_PYHESSIAN) return pyh;
  double *med = malloc((np ? np : 1) * sizeof *med);
  double *gap = malloc((m ? m : 1) * sizeof *gap);
  size_t nm = 0;
  for (size_t p = 0; med && gap && p < np; p++) {
    size_t ng = 0;
    double prev = NAN;
    for (size_t j = 0; j < m; j++) { /* nodes ascending within a probe */
      if (!(weights[p * m + j] > 0)) continue;
      if (isfinite(prev)) gap[ng++] = nodes[p * m + j] - prev;
      prev = nodes[p * m + j];
    }
    if (ng) med[nm++] = ph_stats_quantile_inplace(gap, ng, 0.5);
  }
  double sigma = nm && med ? ph_stats_quantile_inplace(med, nm, 0.5) : NAN;
  free(med);
  free(gap);
  if (!(sigma > 0)) return pyh; /* one node per probe: nothing to measure */
  return fmax(sigma, 1e-5 * range);
}

ph_status ph_slq_run(ph_linop *a, const ph_slq_config *cfg, ph_slq_result *res,
                     ph_error *err) {
  memset(res, 0, sizeof(*res));
  if (!a || a->n == 0 || cfg->probes == 0 || cfg->steps == 0)
    return ph_error_set(err, PH_ERR_ARG, "slq: need n, probes and steps > 0");
  if (!(cfg->sigma >= 0) || !isfinite(cfg->sigma))
    return ph_error_set(err, PH_ERR_ARG, "slq: sigma %g must be >= 0",
                        cfg->sigma);
  if (!(cfg->sigma2_scale > 0))
    return ph_error_set(err, PH_ERR_ARG, "slq: sigma2 scale %g must be > 0",
                        cfg->sigma2_scale);
  double t0 = ph_now();
  size_t n = a->n, m = cfg->steps < n ? cfg->steps : n, np = cfg->probes;
  size_t p0 = a->n_applies, products = SIZE_MAX; /* job total, once known */
  ph_status st = PH_OK;
  size_t vn;
  if (ph_mul_size(n, m + 1, &vn))
    return ph_error_set(err, PH_ERR_NOMEM, "slq: basis %zu x %zu overflows", n,
                        m + 1);
  /* this rank's probes (all of them in one process) in lockstep groups of
   * kb (cfg->block), fewer when kb bases of (m+1) vectors would exceed
   * PH_SLQ_BLOCK_DOUBLES */
  size_t kb = cfg->block ? cfg->block : 1;
  if (kb > PH_SLQ_BLOCK_MAX) kb = PH_SLQ_BLOCK_MAX;
  if (kb > np) kb = np;
  while (kb > 1 && kb * vn > PH_SLQ_BLOCK_DOUBLES) kb--;
  size_t groups = (np + kb - 1) / kb;
  PH_TRY(too_many_ranks("SLQ", np, kb, groups, err));
  slq_probe pr[PH_SLQ_BLOCK_MAX];
  size_t ids[PH_SLQ_BLOCK_MAX];
  memset(pr, 0, sizeof pr);
  double *V = NULL, *W = NULL, *cw = NULL, *z = NULL, *phi_i = NULL;
  double *prods = NULL;
  for (size_t q = 0; q < kb; q++) {
    /* huge pages: a group touches kb fresh bases, 35 MB at the default
     * 8 probes × 60 steps on a 9k-parameter MLP, and their 4 KB page
     * faults cost more than the group's orthogonalisation here */
    pr[q].v = ph_malloc_huge(vn, sizeof(double), "slq basis", err);
    pr[q].alpha = ph_calloc(m, sizeof(double), "slq alpha", err);
    pr[q].beta = ph_calloc(m, sizeof(double), "slq beta", err);
    if (!pr[q].v || !pr[q].alpha || !pr[q].beta) {
      st = PH_ERR_NOMEM;
      goto done;
    }
  }
  if (kb > 1) {
    V = ph_malloc_huge(kb * n, sizeof(double), "slq block", err);
    W = ph_malloc_huge(kb * n, sizeof(double), "slq block", err);
    if (!V || !W) {
      st = PH_ERR_NOMEM;
      goto done;
    }
  }
  size_t team = kb > 1 ? ph_pool_threads(cfg->pool) : 1;
  cw = ph_calloc(team * 2 * (m + 1), sizeof(double), "slq coefficients", err);
  z = ph_calloc(m * m, sizeof(double), "slq eigenvectors", err);
  /* room for whole groups (the last one padded), gathered group by group */
  size_t npad = groups * kb;
  res->nodes = ph_calloc(npad * m, sizeof(double), "slq nodes", err);
  res->weights = ph_calloc(npad * m, sizeof(double), "slq weights", err);
  prods = ph_calloc(npad, sizeof(double), "slq products", err);
  if (!cw || !z || !res->nodes || !res->weights || !prods) {
    st = PH_ERR_NOMEM;
    goto done;
  }
  res->n = n;
  res->probes = np;
  res->steps = m;
  res->block = kb;
  for (size_t g = 0; g < groups && st == PH_OK; g++) {
    size_t k = group_ids(g, kb, np, ids);
    if (k == 0) continue;
    for (size_t q = 0; q < k; q++) {
      ph_rng r = ph_probe_rng(cfg->seed, PH_PROBE_SLQ, ids[q], n);
      ph_rng_fill_rademacher(&r, pr[q].v, n);
      ph_vec_scal(n, 1.0 / sqrt((double)n), pr[q].v);
      pr[q].anorm = 0;
      pr[q].used = 0;
      pr[q].done = 0;
    }
    st = slq_group(a, m, pr, k, V, W, cw, kb > 1 ? cfg->pool : NULL, err);
    if (st != PH_OK) break;
    for (size_t q = 0; q < k && st == PH_OK; q++) {
      size_t pi = ids[q], used = pr[q].used;
      prods[pi] = (double)used; /* one product per Lanczos step */
      double *th = res->nodes + pi * m, *tau = res->weights + pi * m;
      memcpy(th, pr[q].alpha, used * sizeof(double));
      lapack_int info = LAPACKE_dstev(LAPACK_COL_MAJOR, 'V', (lapack_int)used,
                                      th, pr[q].beta, z, (lapack_int)used);
      if (info != 0) {
        st = ph_error_set(err, PH_ERR_NUMERIC,
                          "slq: dstev on probe %zu's T (%zu steps) failed "
                          "(info %d)",
                          pi, used, (int)info);
        break;
      }
      for (size_t j = 0; j < used; j++) tau[j] = z[j * used] * z[j * used];
      for (size_t j = used; j < m; j++) { /* invariant subspace */
        th[j] = th[used - 1];
        tau[j] = 0;
      }
    }
  }
  /* Every rank gets here, failed or not; then all hold every probe. */
  if (ph_dist_size() > 1) {
    if ((st = ph_dist_agree(st, 0, NULL, err)) ||
        (st = ph_dist_allgather_indexed(res->nodes, groups,
                                        kb * m * sizeof(double), err)) ||
        (st = ph_dist_allgather_indexed(res->weights, groups,
                                        kb * m * sizeof(double), err)) ||
        (st = ph_dist_allgather_indexed(prods, groups, kb * sizeof(double),
                                        err)))
      goto done;
  } else if (st != PH_OK) {
    goto done;
  }
  products = 0;
  for (size_t p = 0; p < np; p++) products += (size_t)prods[p];

  double lmin = INFINITY, lmax = -INFINITY, m1 = 0, m2 = 0, neg = 0;
  for (size_t i = 0; i < np * m; i++) {
    if (res->weights[i] == 0) continue;
    lmin = fmin(lmin, res->nodes[i]);
    lmax = fmax(lmax, res->nodes[i]);
    m1 += res->weights[i] * res->nodes[i];
    m2 += res->weights[i] * res->nodes[i] * res->nodes[i];
    if (res->nodes[i] < 0) neg += res->weights[i];
  }
  res->lambda_min = lmin;
  res->lambda_max = lmax;
  res->moment1 = m1 / (double)np;
  res->moment2 = m2 / (double)np;
  res->negative_mass = neg / (double)np;
  double sigma = slq_sigma(cfg, res->nodes, res->weights, np, m, lmin, lmax);
  res->sigma = sigma;

  /* Grid: the nodes' range padded by 8σ (mass outside < 1e-15), spacing at
   * most σ/2 so the trapezoid rule integrates each Gaussian to ~1e-10. */
  double lo = lmin - 8 * sigma, hi = lmax + 8 * sigma;
  size_t ng = cfg->grid;
  if (ng == 0) {
    double want = ceil((hi - lo) / (0.5 * sigma)) + 1;
    ng = want < 1001 ? 1001 : want > 200001 ? 200001 : (size_t)want;
  }
  if (ng < 2) ng = 2;
  res->n_grid = ng;
  res->t = ph_calloc(ng, sizeof(double), "slq grid", err);
  res->density = ph_calloc(ng, sizeof(double), "slq density", err);
  res->band_lo = ph_calloc(ng, sizeof(double), "slq band", err);
  res->band_hi = ph_calloc(ng, sizeof(double), "slq band", err);
  res->count_above = ph_calloc(ng, sizeof(double), "slq counts", err);
  phi_i = ph_calloc(np, sizeof(double), "slq per-probe density", err);
  if (!res->t || !res->density || !res->band_lo || !res->band_hi ||
      !res->count_above || !phi_i) {
    st = PH_ERR_NOMEM;
    goto done;
  }
  const double norm = 1.0 / (sigma * sqrt(2 * M_PI));
  for (size_t g = 0; g < ng; g++) {
    double t = lo + (hi - lo) * (double)g / (double)(ng - 1);
    res->t[g] = t;
    double mean = 0, cnt = 0;
    for (size_t p = 0; p < np; p++) {
      double f = 0;
      for (size_t j = 0; j < m; j++) {
        double tau = res->weights[p * m + j];
        if (tau == 0) continue;
        double u = (t - res->nodes[p * m + j]) / sigma;
        if (fabs(u) < 40) f += tau * exp(-0.5 * u * u);
        cnt += tau * 0.5 * erfc(u / M_SQRT2);
      }
      phi_i[p] = f * norm;
      mean += phi_i[p];
    }
    mean /= (double)np;
    double var = 0;
    for (size_t p = 0; p < np; p++)
      var += (phi_i[p] - mean) * (phi_i[p] - mean);
    double se = np > 1 ? sqrt(var / (double)(np - 1) / (double)np) : 0;
    res->density[g] = mean;
    res->band_lo[g] = fmax(0.0, mean - se);
    res->band_hi[g] = mean + se;
    res->count_above[g] = (double)n * cnt / (double)np;
  }
  double negs = 0;
  for (size_t i = 0; i < np * m; i++)
    if (res->weights[i] > 0)
      negs += res->weights[i] * 0.5 * erfc(res->nodes[i] / sigma / M_SQRT2);
  res->negative_mass_smoothed = negs / (double)np;
done:
  res->products = products != SIZE_MAX ? products : a->n_applies - p0;
  res->seconds = ph_now() - t0;
  for (size_t q = 0; q < PH_SLQ_BLOCK_MAX; q++) {
    ph_free(pr[q].v);
    ph_free(pr[q].alpha);
    ph_free(pr[q].beta);
  }
  ph_free(V);
  ph_free(W);
  ph_free(cw);
  ph_free(z);
  ph_free(phi_i);
  ph_free(prods);
  if (st != PH_OK) ph_slq_result_free(res);
  return st;
}

ph_status ph_hutchinson(ph_linop *a, size_t probes, uint64_t seed,
                        ph_trace_result *res, ph_error *err) {
  return ph_hutchinson_block(a, probes, seed, 1, res, err);
}

ph_status ph_hutchinson_block(ph_linop *a, size_t probes, uint64_t seed,
                              size_t block, ph_trace_result *res,
                              ph_error *err) {
  memset(res, 0, sizeof(*res));
  if (!a || a->n == 0 || probes == 0)
    return ph_error_set(err, PH_ERR_ARG, "hutchinson: need n and probes > 0");
  size_t n = a->n, kb = block ? block : 1;
  if (kb > probes) kb = probes;
  if (kb > PH_SLQ_BLOCK_MAX) kb = PH_SLQ_BLOCK_MAX;
  size_t groups = (probes + kb - 1) / kb;
  PH_TRY(too_many_ranks("Hutchinson", probes, kb, groups, err));
  size_t ids[PH_SLQ_BLOCK_MAX];
  /* written before they are read: z by the probes, az by the products */
  double *z = ph_malloc_huge(kb * n, sizeof(double), "hutchinson probe", err);
  double *az =
      ph_malloc_huge(kb * n, sizeof(double), "hutchinson product", err);
  /* room for whole groups (the last one padded), gathered group by group */
  double *est =
      ph_calloc(groups * kb, sizeof(double), "hutchinson samples", err);
  ph_status st = PH_OK;
  if (!z || !az || !est) st = PH_ERR_NOMEM;
  /* this rank's groups of kb probes */
  for (size_t g = 0; g < groups && st == PH_OK; g++) {
    size_t k = group_ids(g, kb, probes, ids);
    if (k == 0) continue;
    for (size_t q = 0; q < k; q++) {
      ph_rng r = ph_probe_rng(seed, PH_PROBE_HUTCH, ids[q], n);
      ph_rng_fill_rademacher(&r, z + q * n, n);
    }
    st = k == 1 ? ph_linop_apply(a, z, az, err)
                : ph_linop_apply_block(a, k, z, az, err);
    for (size_t q = 0; q < k && st == PH_OK; q++) {
      est[ids[q]] = ph_vec_dot(n, z + q * n, az + q * n);
      if (!isfinite(est[ids[q]]))
        st = ph_error_set(err, PH_ERR_NUMERIC,
                          "hutchinson: probe %zu gave a non-finite zᵀAz",
                          ids[q]);
    }
  }
  /* Every rank gets here, failed or not; the samples are then merged bit
   * for bit and summarised in probe order everywhere. */
  if (ph_dist_size() > 1) {
    st = ph_dist_agree(st, 0, NULL, err);
    if (st == PH_OK)
      st = ph_dist_allgather_indexed(est, groups, kb * sizeof(double), err);
  }
  if (st != PH_OK) goto done;
  ph_stats_summary sm = ph_stats_summarise(est, 1, probes, PH_STATS_LEVEL);
  res->mean = sm.mean;
  res->stderr_ = sm.se;
  res->probes = probes;
  res->products = probes;
done:
  ph_free(z);
  ph_free(az);
  ph_free(est);
  return st;
}

ph_status ph_dense_spectrum(ph_linop *a, double *eig, double *mat, double *asym,
                            ph_error *err) {
  return ph_dense_spectrum_progress(a, eig, mat, asym, NULL, err);
}

ph_status ph_dense_spectrum_progress(ph_linop *a, double *eig, double *mat,
                                     double *asym, ph_progress *pg,
                                     ph_error *err) {
  if (!a || a->n == 0 || a->n > PH_DENSE_MAX)
    return ph_error_set(err, PH_ERR_ARG,
                        "dense spectrum: dimension %zu outside 1..%d",
                        a ? a->n : 0, PH_DENSE_MAX);
  size_t n = a->n;
  double *m = ph_calloc(n * n, sizeof(double), "dense matrix", err);
  double *e = ph_calloc(n, sizeof(double), "unit vector", err);
  ph_status st = PH_OK;
  if (!m || !e) {
    st = PH_ERR_NOMEM;
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    e[i] = 1;
    st = ph_linop_apply(a, e, m + i * n, err); /* row i = A e_i = column i */
    e[i] = 0;
    if (st != PH_OK) goto done;
    ph_progress_update(pg, i + 1, NULL);
    if (!ph_vec_all_finite(n, m + i * n)) {
      st = ph_error_set(err, PH_ERR_NUMERIC,
                        "dense spectrum: column %zu is not finite", i);
      goto done;
    }
  }
  double amax = 0, dmax = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = i; j < n; j++) {
      double x = m[i * n + j], y = m[j * n + i];
      amax = fmax(amax, fmax(fabs(x), fabs(y)));
      dmax = fmax(dmax, fabs(x - y));
      m[i * n + j] = m[j * n + i] = 0.5 * (x + y);
    }
  if (asym) *asym = amax > 0 ? dmax / amax : 0;
  if (mat) memcpy(mat, m, n * n * sizeof(double));
  ph_progress_update(pg, n, "eigensolve (dsyevd)");
  lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)n, m,
                                   (lapack_int)n, eig);
  if (info != 0)
    st = ph_error_set(err, PH_ERR_NUMERIC,
                      "dense spectrum: dsyevd failed (info %d)", (int)info);
done:
  ph_free(m);
  ph_free(e);
  return st;
}
