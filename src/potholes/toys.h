/* toys.h: analytic toy landscapes as objectives (the potholes lab).
 *
 * Every toy is a ph_objective with exact gradient and Hessian-vector product,
 * built from a spec string "name:key=value,...":
 *
 *   pothole2d:a=1,b=1,d=0.5,sx=0.1,sy=0.1,cx=1.5,cy=0   (s= sets sx and sy)
 *       L = ½(a x² + b y²) − d·exp(−(x−cx)²/(2sx²) − (y−cy)²/(2sy²))
 *       A wide basin (curvature a, b) with a narrow pit at c, sharp locally
 *       (curvature ≈ d/s² = 50) but flat on average. With these defaults the
 *       pit is a strict local minimum (d·e^{-1/2}/s > a·|cx|), shallower than
 *       the basin minimum at the origin, and it traps gradient descent for
 *       any lr < 2/λ_max(pit) ≈ 0.039.
 *   potholeNd:n=10,lmin=0.5,lmax=5,count=1,depth=0.5,width=0.1,offset=1.5
 *       L = Σ_i ½λ_i θ_i² − depth·Σ_{j<count} exp(−(θ_j − offset)²/(2 width²)),
 *       λ_i geometric from lmin to lmax (ascending). The pits are planted on
 *       the `count` FLATTEST coordinates: flat on average (λ_j small), sharp
 *       locally. Separable, so H is diagonal and every quantity of the lab
 *       has a closed form.
 *   quadratic:n=2,lmin=0.1,lmax=1      ½ Σ λ_i θ_i², λ geometric
 *   rastrigin:n=2,A=10                 A n + Σ (θ_i² − A cos 2πθ_i)
 *   ackley:n=2,a=20,b=0.2,c=6.283185307179586
 *   rosenbrock:n=2,a=1,b=100           Σ b(θ_{i+1} − θ_i²)² + (a − θ_i)²
 *   himmelblau                         (x² + y − 11)² + (x + y² − 7)²
 *
 * Every toy also takes noise=s_xi (default 0), samples=m (default 128 when
 * noise > 0) and seed=S (default 0): a finite sample ξ_i ~ N(0, s_xi² I),
 * i < m, drawn from (S, PH_RNG_STREAM_TOY), and the per-example loss
 * ℓ_i(θ) = L(θ − ξ_i). A batch is then a real minibatch of these examples
 * (train and test splits are the same sample); NULL or empty batches mean
 * the whole sample. noise=0 gives the deterministic landscape and batches
 * are ignored.
 *
 * ggnvp (the "Gauss-Newton" product), a documented choice:
 *   quadratic, rosenbrock, himmelblau: the true Gauss-Newton 2JᵀJ of their
 *     sum-of-squares form (= H for the quadratic);
 *   pothole2d, potholeNd, rastrigin, ackley: |H| = V|Λ|Vᵀ, the absolute
 *     value of the Hessian (positive semidefinite, equal to H wherever H is
 *     PSD, so inside a pit it is the local curvature).
 * Ackley: at θ = 0 the radial term is not differentiable; gradient and
 * Hessian of that term are taken as 0 there.
 */
#ifndef PH_POTHOLES_TOYS_H
#define PH_POTHOLES_TOYS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/objective.h"

typedef enum ph_toy_kind {
  PH_TOY_POTHOLE2D = 0,
  PH_TOY_POTHOLEND,
  PH_TOY_QUADRATIC,
  PH_TOY_RASTRIGIN,
  PH_TOY_ACKLEY,
  PH_TOY_ROSENBROCK,
  PH_TOY_HIMMELBLAU
} ph_toy_kind;

#define PH_TOY_MAX_PARAMS 12
#define PH_TOY_SPEC_MAX 512

/* Parsed spec: kind + named parameters with defaults filled in. */
typedef struct ph_toy_spec {
  ph_toy_kind kind;
  size_t n; /* dimension */
  size_t n_params;
  const char *keys[PH_TOY_MAX_PARAMS];
  double vals[PH_TOY_MAX_PARAMS];
  double noise;   /* s_xi */
  size_t samples; /* m (0 when noise == 0) */
  uint64_t seed;  /* noise sample seed */
} ph_toy_spec;

/* PH_ERR_ARG with a message naming the bad key or value. */
ph_status ph_toy_spec_parse(const char *spec, ph_toy_spec *out, ph_error *err);
/* Value of parameter `key` (NAN when the landscape has no such key). */
double ph_toy_spec_get(const ph_toy_spec *s, const char *key);
/* Canonical spec with every parameter spelled out, e.g. for JSON summaries. */
void ph_toy_spec_format(const ph_toy_spec *s, char *buf, size_t len);
const char *ph_toy_kind_name(ph_toy_kind k);

/* The landscape of s into *out (NULL on failure); free it with
 * ph_objective_free. */
ph_status ph_toy_create(const ph_toy_spec *s, ph_objective **out,
                        ph_error *err);
/* Parse + create. */
ph_status ph_toy_create_str(const char *spec, ph_objective **out,
                            ph_error *err);
/* 1 when obj was made by ph_toy_create (then ph_toy_get_spec is valid). */
int ph_toy_is_toy(const ph_objective *obj);
const ph_toy_spec *ph_toy_get_spec(const ph_objective *obj);

/* The deterministic landscape L(θ) (no noise shift), its gradient and the
 * dense Hessian (n, n) row-major; any output may be NULL. */
void ph_toy_eval_clean(const ph_objective *obj, const double *theta,
                       double *loss, double *grad, double *hess);

/* Geometry the escape experiments use.
 *  has_pit: pothole2d with d > 0 or potholeNd with count > 0 and depth > 0;
 *  pit: the local minimum in the pit (Newton from the planted centre), or
 *       the basin minimum when there is no pit;
 *  basin: the wide basin's minimum (origin for the pothole landscapes, the
 *       global minimum for the classics);
 *  scale: the pit width s (largest of sx, sy), or 1 without a pit.
 * pit and basin are (n). PH_ERR_NUMERIC if Newton does not find a local
 * minimum (e.g. a pit too shallow to exist). */
typedef struct ph_toy_geometry {
  int has_pit;
  double scale;
  double *pit;
  double *basin;
} ph_toy_geometry;
ph_status ph_toy_geometry_get(const ph_objective *obj, ph_toy_geometry *g,
                              ph_error *err);
void ph_toy_geometry_free(ph_toy_geometry *g);

/* Averaged curvature of the wide basin without pits, as a diagonal: the
 * "fitted" preconditioner P = diag(1/λ̄) for the pothole landscapes
 * (λ̄ = a, b or λ_i); NULL-equivalent (returns PH_ERR_UNSUPPORTED) for
 * landscapes without a quadratic basin. out (n). */
ph_status ph_toy_basin_curvature(const ph_objective *obj, double *out,
                                 ph_error *err);

#endif
