/* objective.h: the one interface every numerical part of pothole talks to.
 *
 * An objective is a differentiable loss over a flat parameter vector θ ∈ R^n
 * (one contiguous double[n]) and a data set. For a θ and a batch it returns
 * the mean loss, its gradient, a Hessian-vector product Hv and (optionally) a
 * Gauss-Newton-vector product Gv, all of the SAME mean loss over the batch.
 * Neural networks (src/nn) and analytic toy landscapes (src/potholes) are both
 * objectives; optimisers, Lanczos, sharpness probes, landscape grids and
 * pothole metrics never know which one they hold.
 *
 * Threading: an objective owns preallocated buffers and is NOT safe to call
 * from two threads at once. A worker thread calls `clone` to get its own.
 */
#ifndef PH_CORE_OBJECTIVE_H
#define PH_CORE_OBJECTIVE_H

#include <stddef.h>

#include "core/error.h"

typedef enum ph_block_kind {
  PH_BLOCK_WEIGHT = 0, /* dense (out, in) or conv (c_out, c_in, kh, kw) */
  PH_BLOCK_BIAS,
  PH_BLOCK_NORM,  /* layer-norm gain/shift */
  PH_BLOCK_EMBED, /* token or positional embedding (vocab, d) */
  PH_BLOCK_OTHER  /* toy-landscape coordinates, anything else */
} ph_block_kind;

#define PH_BLOCK_NAME_MAX 64
#define PH_BLOCK_MAX_DIM 4

/* One parameter tensor inside θ: θ[offset .. offset+size), row-major.
 * For weights, shape[0] is the output dimension (rows = "filters"), and
 * fan_out = shape[0], fan_in = size / shape[0]; a filter-wise direction
 * normalises each of the fan_out rows of length fan_in. */
typedef struct ph_block {
  char name[PH_BLOCK_NAME_MAX];
  size_t offset;
  size_t size;
  int ndim;
  size_t shape[PH_BLOCK_MAX_DIM];
  ph_block_kind kind;
  size_t fan_in;
  size_t fan_out;
} ph_block;

typedef enum ph_split { PH_SPLIT_TRAIN = 0, PH_SPLIT_TEST = 1 } ph_split;

/* A batch names examples of one split of the objective's data: the examples
 * idx[0..n) or, when idx is NULL, the first n examples. The loss is the mean
 * over these n examples. Toy landscapes without a noise sample ignore it. */
typedef struct ph_batch {
  ph_split split;
  const size_t *idx; /* may be NULL: first n examples */
  size_t n;
} ph_batch;

typedef struct ph_objective ph_objective;

struct ph_objective {
  const char *name; /* e.g. "mlp:64-64:tanh on digits", "pothole2d" */
  size_t n;         /* number of parameters */
  size_t n_blocks;
  const ph_block *blocks; /* n_blocks entries covering 0..n in order */
  size_t n_examples[2];   /* examples per split (train, test); 0 if none */
  int has_accuracy;       /* classification: eval reports accuracy */
  void *ctx;

  /* loss = L_B(θ); grad (if non-NULL) = ∇L_B(θ). */
  ph_status (*loss_grad)(void *ctx, const double *theta, const ph_batch *batch,
                         double *loss, double *grad, ph_error *err);
  /* hv = ∇²L_B(θ) v, exact to rounding (forward-over-reverse). */
  ph_status (*hvp)(void *ctx, const double *theta, const ph_batch *batch,
                   const double *v, double *hv, ph_error *err);
  /* gv = Jᵀ H_z J v (Gauss-Newton); NULL when the objective has none. */
  ph_status (*ggnvp)(void *ctx, const double *theta, const ph_batch *batch,
                     const double *v, double *gv, ph_error *err);
  /* Mean loss and accuracy (NaN when !has_accuracy); may process the batch in
   * chunks, so batch->n can be a whole split. */
  ph_status (*eval)(void *ctx, const double *theta, const ph_batch *batch,
                    double *loss, double *acc, ph_error *err);
  /* An independent copy with its own buffers, for another thread. It may
   * share data that no call writes (a network's prepared plane: its
   * plane_prepare with the same inputs then keeps it); each side stays
   * safe to call from its own thread and to destroy in any order. */
  ph_objective *(*clone)(const ph_objective *obj, ph_error *err);
  void (*destroy)(ph_objective *obj); /* frees obj itself too */
  /* Block products for k directions: V and HV hold k vectors of n, one
   * after another; HV_j = ∇²L_B(θ) V_j (G V_j for ggnvp_block), equal to k
   * single products up to rounding. NULL: the wrappers below make k single
   * products. */
  ph_status (*hvp_block)(void *ctx, const double *theta, const ph_batch *batch,
                         size_t k, const double *V, double *HV, ph_error *err);
  ph_status (*ggnvp_block)(void *ctx, const double *theta,
                           const ph_batch *batch, size_t k, const double *V,
                           double *GV, ph_error *err);
  /* Evaluation on a plane, for grids (optional: all three NULL when the
   * objective has none, and ph_grid_eval calls eval at every point).
   * plane_prepare fixes the plane θ(a, b) = θ0 + a·d1 + b·d2 (d2 NULL: the
   * line θ0 + a·d1) and a batch, and computes once what every point of the
   * plane shares; for a network whose first layer is dense, that layer's
   * products with θ0, d1 and d2, since the layer is linear in its
   * parameters (src/nn/net_obj.c). It returns PH_ERR_UNSUPPORTED when it
   * does not apply (first layer not dense) or would take too much memory;
   * the caller then evaluates directly. It keeps no pointer to its
   * arguments.
   * plane_eval: eval's loss and accuracy at theta, which the caller has
   * built as ph_grid_point(n, θ0, d1, d2, a, b, theta) from the prepared
   * plane (the layers after the first read it). The result equals eval's
   * at theta up to rounding: the first layer's sums are re-associated,
   * and a network's later dense layers sum in another order
   * (docs/landscape.md, "Grids by plane"). Other calls may come between
   * prepare and plane_eval. plane_release frees what plane_prepare kept
   * (also done by destroy). */
  ph_status (*plane_prepare)(void *ctx, const double *theta0, const double *d1,
                             const double *d2, const ph_batch *batch,
                             ph_error *err);
  ph_status (*plane_eval)(void *ctx, const double *theta, double a, double b,
                          double *loss, double *acc, ph_error *err);
  void (*plane_release)(void *ctx);
};

/* Convenience wrappers: check for NULL callbacks and non-finite results
 * (a NaN/Inf loss returns PH_ERR_NUMERIC with a message). */
ph_status ph_objective_loss_grad(ph_objective *o, const double *theta,
                                 const ph_batch *b, double *loss, double *grad,
                                 ph_error *err);
ph_status ph_objective_hvp(ph_objective *o, const double *theta,
                           const ph_batch *b, const double *v, double *hv,
                           ph_error *err);
ph_status ph_objective_ggnvp(ph_objective *o, const double *theta,
                             const ph_batch *b, const double *v, double *gv,
                             ph_error *err);
/* Block products (k ≥ 1 directions, k·n values each), with the fallback
 * of k single products when the objective has no block callback. */
ph_status ph_objective_hvp_block(ph_objective *o, const double *theta,
                                 const ph_batch *b, size_t k, const double *V,
                                 double *HV, ph_error *err);
ph_status ph_objective_ggnvp_block(ph_objective *o, const double *theta,
                                   const ph_batch *b, size_t k, const double *V,
                                   double *GV, ph_error *err);
ph_status ph_objective_eval(ph_objective *o, const double *theta,
                            const ph_batch *b, double *loss, double *acc,
                            ph_error *err);
/* A copy of o that another thread may use alongside it; the caller frees
 * *out with ph_objective_free. *out is NULL on failure; PH_ERR_UNSUPPORTED
 * for a kind that cannot be cloned. */
ph_status ph_objective_clone_create(const ph_objective *o, ph_objective **out,
                                    ph_error *err);
void ph_objective_free(ph_objective *o);
/* Index of the block named `name`, or -1. */
long ph_objective_find_block(const ph_objective *o, const char *name);
/* A whole split as a batch: {split, NULL, n_examples[split]}. */
ph_batch ph_batch_all(const ph_objective *o, ph_split split);

#endif
