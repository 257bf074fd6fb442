/* directions.h: directions for landscape slices (Li et al. 2018, §7 of the
 * design notes; derivations and conventions in docs/landscape.md).
 *
 * A direction is a flat vector d ∈ R^n in the objective's parameter order
 * (the block table, i.e. model.json order). A slice is the set of points
 * θ + x·d1 (+ y·d2). Kinds:
 *   random   Gaussian from (seed, PH_RNG_STREAM_DIRECTION), normalised per
 *            filter (Li et al.), per layer (block), or not at all;
 *   hessian  top eigenvectors of ∇²L on the evaluation batch (unit norm);
 *   pca      top-2 right singular vectors of the trajectory θ_t − θ_final;
 *   pothole  top generalised eigenvectors of H v = μ P⁻¹ v (unit norm);
 *   models   the line / plane through 2-3 parameter vectors;
 *   axes     coordinate axes e1, e2 (toy landscapes in the plane).
 */
#ifndef PH_LANDSCAPE_DIRECTIONS_H
#define PH_LANDSCAPE_DIRECTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/objective.h"

typedef enum ph_dir_norm {
  PH_DIR_NORM_FILTER = 0, /* each output row of a weight block to ‖θ_row‖ */
  PH_DIR_NORM_LAYER,      /* each block to ‖θ_block‖ */
  PH_DIR_NORM_NONE        /* the raw Gaussian */
} ph_dir_norm;

const char *ph_dir_norm_name(ph_dir_norm n);

/* Normalise d in place against theta, block by block (see docs/landscape.md):
 *  filter: weight and embedding blocks row by row (fan_out rows of length
 *          fan_in): d_row ← d_row · ‖θ_row‖ / ‖d_row‖;
 *  layer:  each such block as a whole: d_b ← d_b · ‖θ_b‖ / ‖d_b‖;
 *  none:   nothing.
 * Bias and norm blocks are zeroed for filter and layer unless include_bias,
 * in which case each is scaled as one unit to ‖θ_b‖. PH_BLOCK_OTHER blocks
 * (toy coordinates) are treated like weights. A zero d_row stays zero. */
void ph_landscape_normalize(size_t n_blocks, const ph_block *blocks,
                            const double *theta, ph_dir_norm norm,
                            int include_bias, double *d);

/* Direction number `index` (0, 1, ...) of the random kind: a standard
 * Gaussian drawn from (seed, PH_RNG_STREAM_DIRECTION) at counter offset
 * index·2n (so directions never share numbers), then normalised. */
void ph_landscape_random_direction(const ph_objective *o, const double *theta,
                                   uint64_t seed, unsigned index,
                                   ph_dir_norm norm, int include_bias,
                                   double *d);

/* Flip v (n) so that its entry of largest magnitude is positive: the sign
 * convention for every eigen- and singular vector direction. */
void ph_landscape_fix_sign(size_t n, double *v);

/* PCA of a trajectory (Li et al. §7): M = rows traj[t] − center (T × n,
 * not mean-centred, as in the paper), its top-k (k ≤ 2, k ≤ T) right singular
 * vectors into dirs (k, n), unit norm, sign fixed so that the entry of largest
 * magnitude is positive; explained[k] = σ_i² / Σ_j σ_j² (the fraction of
 * ‖M‖_F² the direction explains). Uses the T × T Gram matrix M Mᵀ (dsyrk +
 * dgesdd) so the cost is O(T² n). PH_ERR_NUMERIC when M has rank < k. */
ph_status ph_landscape_pca(const double *traj, size_t T, size_t n,
                           const double *center, size_t k, double *dirs,
                           double *explained, ph_error *err);

/* Directions through 2 or 3 models (n_models = 2 or 3): the slice is
 * centred at models[0]; d1 = models[1] − models[0] and, for three models,
 * d2 = models[2] − models[0], so the models sit at (0,0), (1,0), (0,1).
 * dirs (n_models − 1, n). PH_ERR_ARG if a difference is zero. */
ph_status ph_landscape_models_directions(const double *const *models,
                                         size_t n_models, size_t n,
                                         double *dirs, ph_error *err);

/* Plane coordinates of a point p (least squares onto span(d1, d2) around
 * center) and its distance from that plane. d2 NULL: the line through center
 * along d1 (y = 0). PH_ERR_NUMERIC if d1, d2 are (nearly) dependent. */
ph_status ph_landscape_project(size_t n, const double *center, const double *d1,
                               const double *d2, const double *p, double *x,
                               double *y, double *off_plane, ph_error *err);

#endif
