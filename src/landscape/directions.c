/* directions.c: slice directions -- filter/layer-normalised Gaussians
 * (Li, Xu, Taylor, Studer, Goldstein, "Visualizing the loss landscape of
 * neural nets", NeurIPS 2018), PCA of a trajectory via the T × T Gram matrix,
 * the plane through 2-3 models, least-squares plane projection, and a small
 * Lanczos (Golub & Van Loan §10.1, full reorthogonalisation, explicit
 * restart) for Hessian eigenvector directions.
 *
 * Does not: evaluate the loss (grid.c), read files, or print. Conventions
 * (which blocks are zeroed, sign of PCA / eigen directions) in
 * docs/landscape.md.
 */
#include "landscape/directions.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "core/vec.h"

const char *ph_dir_norm_name(ph_dir_norm n) {
  switch (n) {
  case PH_DIR_NORM_FILTER: return "filter";
  case PH_DIR_NORM_LAYER: return "layer";
  case PH_DIR_NORM_NONE: return "none";
  }
  return "?";
}

/* d[0..len) ← d · ‖t‖ / ‖d‖ (zero stays zero). */
static void scale_to(size_t len, const double *t, double *d) {
  double nd = ph_vec_nrm2(len, d);
  double nt = ph_vec_nrm2(len, t);
  if (nd > 0.0) ph_vec_scal(len, nt / nd, d);
}

void ph_landscape_normalize(size_t n_blocks, const ph_block *blocks,
                            const double *theta, ph_dir_norm norm,
                            int include_bias, double *d) {
  if (norm == PH_DIR_NORM_NONE) return;
  for (size_t b = 0; b < n_blocks; b++) {
    const ph_block *bl = &blocks[b];
    const double *t = theta + bl->offset;
    double *v = d + bl->offset;
    if (bl->size == 0) continue;
    int vector_like = bl->kind == PH_BLOCK_BIAS || bl->kind == PH_BLOCK_NORM;
    if (vector_like) {
      if (!include_bias)
        ph_vec_zero(bl->size, v);
      else
        scale_to(bl->size, t, v);
      continue;
    }
    if (norm == PH_DIR_NORM_LAYER) {
      scale_to(bl->size, t, v);
      continue;
    }
    /* filter-wise: fan_out rows of fan_in entries (shape[0] rows). */
    size_t rows = bl->fan_out
                      ? bl->fan_out
                      : (bl->ndim > 0 && bl->shape[0] ? bl->shape[0] : 1);
    if (bl->size % rows != 0) rows = 1;
    size_t len = bl->size / rows;
    for (size_t r = 0; r < rows; r++) scale_to(len, t + r * len, v + r * len);
  }
}

void ph_landscape_random_direction(const ph_objective *o, const double *theta,
                                   uint64_t seed, unsigned index,
                                   ph_dir_norm norm, int include_bias,
                                   double *d) {
  ph_rng r = ph_rng_make(seed, PH_RNG_STREAM_DIRECTION);
  r.counter = (uint64_t)index * 2u * (uint64_t)o->n;
  ph_rng_fill_gauss(&r, d, o->n, 1.0);
  ph_landscape_normalize(o->n_blocks, o->blocks, theta, norm, include_bias, d);
}

void ph_landscape_fix_sign(size_t n, double *v) {
  if (n == 0) return;
  size_t i = cblas_idamax((int)n, v, 1);
  if (v[i] < 0.0) ph_vec_scal(n, -1.0, v);
}

ph_status ph_landscape_pca(const double *traj, size_t T, size_t n,
                           const double *center, size_t k, double *dirs,
                           double *explained, ph_error *err) {
  if (k < 1 || k > 2 || T < k || n < k)
    return ph_error_set(err, PH_ERR_ARG,
                        "PCA needs 1 <= k <= 2 <= T and n >= k (k=%zu, T=%zu, "
                        "n=%zu)",
                        k, T, n);
  if (T > 100000 || n > (size_t)INT32_MAX / (T ? T : 1))
    return ph_error_set(err, PH_ERR_ARG, "PCA: trajectory too large (T=%zu)",
                        T);
  double *M =
      ph_calloc(T * n, sizeof(double), "landscape buffer", err); /* (T, n) */
  double *G =
      ph_calloc(T * T, sizeof(double), "landscape buffer", err); /* (T, T) */
  double *s = ph_calloc(T, sizeof(double), "landscape buffer", err);
  double *U = ph_calloc(T * T, sizeof(double), "landscape buffer", err);
  double *VT = ph_calloc(T * T, sizeof(double), "landscape buffer", err);
  ph_status st = PH_OK;
  if (!M || !G || !s || !U || !VT) {
    st = PH_ERR_NOMEM;
    goto done;
  }
  for (size_t t = 0; t < T; t++)
    for (size_t i = 0; i < n; i++) M[t * n + i] = traj[t * n + i] - center[i];
  /* G = M Mᵀ; its singular values are σ_i², its singular vectors M's left
   * singular vectors u_i, and M's right ones are v_i = Mᵀ u_i / σ_i. */
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)T, (int)n, 1.0, M,
              (int)n, 0.0, G, (int)T);
  for (size_t a = 0; a < T; a++)
    for (size_t b = 0; b < a; b++) G[a * T + b] = G[b * T + a];
  lapack_int info =
      LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'A', (lapack_int)T, (lapack_int)T, G,
                     (lapack_int)T, s, U, (lapack_int)T, VT, (lapack_int)T);
  if (info != 0) {
    st = ph_error_set(err, PH_ERR_NUMERIC, "PCA: dgesdd failed (info %d)",
                      (int)info);
    goto done;
  }
  double total = 0.0;
  for (size_t i = 0; i < T; i++) total += s[i];
  for (size_t i = 0; i < k; i++) {
    if (!(s[i] > 0.0) || s[i] <= 1e3 * DBL_EPSILON * s[0] * (double)T) {
      st = ph_error_set(err, PH_ERR_NUMERIC,
                        "PCA: trajectory spans fewer than %zu directions "
                        "(singular value %zu is %g of the first)",
                        k, i + 1, s[0] > 0 ? sqrt(s[i] / s[0]) : 0.0);
      goto done;
    }
    double *v = dirs + i * n;
    /* v = Mᵀ u_i (u_i is column i of U) */
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)T, (int)n, 1.0, M, (int)n,
                U + i, (int)T, 0.0, v, 1);
    /* Re-orthogonalise against the previous direction (rounding only). */
    for (size_t j = 0; j < i; j++)
      ph_vec_axpy(n, -ph_vec_dot(n, dirs + j * n, v), dirs + j * n, v);
    double nv = ph_vec_nrm2(n, v);
    ph_vec_scal(n, 1.0 / nv, v);
    ph_landscape_fix_sign(n, v);
    explained[i] = s[i] / total;
  }
done:
  free(M);
  free(G);
  free(s);
  free(U);
  free(VT);
  return st;
}

ph_status ph_landscape_models_directions(const double *const *models,
                                         size_t n_models, size_t n,
                                         double *dirs, ph_error *err) {
  if (n_models < 2 || n_models > 3)
    return ph_error_set(err, PH_ERR_ARG,
                        "models directions need 2 or 3 models, got %zu",
                        n_models);
  for (size_t m = 1; m < n_models; m++) {
    double *d = dirs + (m - 1) * n;
    for (size_t i = 0; i < n; i++) d[i] = models[m][i] - models[0][i];
    if (ph_vec_nrm2(n, d) == 0.0)
      return ph_error_set(err, PH_ERR_ARG,
                          "models %zu and 1 have identical parameters", m + 1);
  }
  return PH_OK;
}

ph_status ph_landscape_project(size_t n, const double *center, const double *d1,
                               const double *d2, const double *p, double *x,
                               double *y, double *off_plane, ph_error *err) {
  double a = 0, b = 0, c = 0, u1 = 0, u2 = 0;
  for (size_t i = 0; i < n; i++) {
    double r = p[i] - center[i];
    a += d1[i] * d1[i];
    u1 += d1[i] * r;
    if (d2) {
      b += d1[i] * d2[i];
      c += d2[i] * d2[i];
      u2 += d2[i] * r;
    }
  }
  double px, py = 0.0;
  if (!(a > 0.0))
    return ph_error_set(err, PH_ERR_NUMERIC,
                        "projection: first direction is zero");
  if (d2) {
    double det = a * c - b * b;
    if (!(det > 1e-12 * a * c))
      return ph_error_set(err, PH_ERR_NUMERIC,
                          "projection: directions are (nearly) parallel "
                          "(cos = %.6f)",
                          b / sqrt(a * c));
    px = (c * u1 - b * u2) / det;
    py = (a * u2 - b * u1) / det;
  } else {
    px = u1 / a;
  }
  double off = 0.0;
  for (size_t i = 0; i < n; i++) {
    double r = p[i] - center[i] - px * d1[i] - (d2 ? py * d2[i] : 0.0);
    off += r * r;
  }
  *x = px;
  if (y) *y = py;
  if (off_plane) *off_plane = sqrt(off);
  return PH_OK;
}
