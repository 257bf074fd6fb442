/* net.h: the network objective: a model (built from a spec string) over a
 * data set. Implementation and the chain engine live in src/nn/.
 * (Interface sketch fixed early so other modules can code against it; the
 * nn module may extend it.) */
#ifndef PH_NN_NET_H
#define PH_NN_NET_H

#include <stddef.h>
#include <stdint.h>

#include "core/ckpt.h"
#include "core/json.h"
#include "core/error.h"
#include "core/objective.h"
#include "core/progress.h"
#include "data/dataset.h"

/* Build the objective for model `spec` (e.g. "mlp:64-64:tanh",
 * "cnn:c8k3-p2-c16k3-p2:relu", "transformer:d32h2l2") on data set `data`
 * (borrowed: must outlive the objective). Input/output sizes come from the
 * data. max_batch bounds the batch size the graph is built for (buffers are
 * preallocated once; larger eval batches are processed in chunks). */
ph_status ph_net_create(const char *spec, const ph_dataset *data,
                        size_t max_batch, ph_objective **out, ph_error *err);

/* Deterministic parallel products for a sequential network (MLP, CNN):
 * loss, gradient, Hv, Gv and evaluation split a batch of N examples into
 * equal chunks whose size depends on N and max_batch only (as few as fit
 * max_batch, but at least two when each keeps 64 examples or more),
 * computed by `threads` threads (the caller and threads − 1 workers, each
 * with its own buffers) and summed in chunk order: the results are
 * bit-identical for any thread count (1..64), though they may differ in
 * the last bits from an objective on which this was never called (whose
 * chunks are max_batch long). Sets OpenBLAS to one thread when threads > 1
 * (the threads are the parallelism). Not thread-safe itself: call it
 * before the products. PH_ERR_UNSUPPORTED for other objectives
 * (transformers), PH_ERR_ARG for a thread count outside 1..64. To make a
 * run reproducible across machines, call it with the thread count the run
 * uses — 1 included. */
ph_status ph_net_set_threads(ph_objective *o, size_t threads, ph_error *err);
/* The team of threads ph_net_set_threads started (core/pool.h), borrowed,
 * for work between products that wants the same cores (SLQ's
 * orthogonalisation, ph_slq_config.pool); NULL for one thread or another
 * objective. Not while a product runs: the team runs one job at a time. */
struct ph_pool *ph_net_pool(const ph_objective *o);

/* Initial parameters from the seed (He/Xavier/normal per the spec). */
ph_status ph_net_init_params(const ph_objective *o, uint64_t seed,
                             double *theta, ph_error *err);
/* The same, reporting the parameters drawn so far to pg (total = o->n;
 * NULL = silent), for models large enough to take seconds. */
ph_status ph_net_init_params_progress(const ph_objective *o, uint64_t seed,
                                      double *theta, ph_progress *pg,
                                      ph_error *err);

/* The data set and model spec behind a network objective (NULL if `o` is not
 * a network). */
const ph_dataset *ph_net_dataset(const ph_objective *o);
const char *ph_net_spec(const ph_objective *o);
/* The model's layers in order, as the "layers" array of model.json
 * (docs/formats.md); NULL when out of memory. The caller owns it. */
cJSON *ph_net_describe_layers(const ph_objective *o);

/* One matrix product of the sequential engine, as it calls cblas_dgemm
 * (row-major): C (m, n) = op(A) (m, k) · op(B) (k, n), op transposing when
 * trans_a / trans_b is 1; `count` calls of this shape per evaluation. */
typedef struct ph_net_gemm {
  size_t m, n, k;
  int trans_a, trans_b;
  size_t count;
  int conv;   /* a convolution's (layers_conv.c), else a dense layer's */
  int routed; /* the engine runs it through ph_nn_gemm_acc (nn/dense.h):
                 every plain dense layer's, and a convolution's forward and
                 input adjoint on AVX-512 targets; else cblas_dgemm (the
                 residual blocks', layers_residual.c) */
  int beta;   /* 0: the call overwrites C (a dense layer's input adjoint
                 through ph_nn_gemm_set; a convolution's forward and input
                 adjoint, zeroed first when routed; a residual block's
                 forward), 1: it adds to C */
} ph_net_gemm;
/* The GEMMs of one loss+gradient of a sequential network on `batch`
 * examples, grouped by shape and beta (per dense layer: forward, dW and,
 * except for layer 0, dX; per conv layer the same on each chunk's im2col
 * columns),
 * so a benchmark can time them alone (`pothole bench products`). Writes up
 * to max entries to out and returns how many there are (max 0 counts); 0
 * for objectives that are not sequential networks (transformers). */
size_t ph_net_gradient_gemms(const ph_objective *o, size_t batch,
                             ph_net_gemm *out, size_t max);
/* The same for a product kind: the gradient's (as ph_net_gradient_gemms),
 * or those of one Hessian- or Gauss-Newton-vector product from scratch
 * (forward included), each shape with its number of calls. */
typedef enum { PH_NET_GRAD, PH_NET_HVP, PH_NET_GGNVP } ph_net_product;
size_t ph_net_product_gemms(const ph_objective *o, ph_net_product kind,
                            size_t batch, ph_net_gemm *out, size_t max);

/* For MLPs (dense layers with elementwise activations), the layer list the
 * exact Riccati solver needs. PH_ERR_UNSUPPORTED for other models. */
typedef struct ph_mlp_layer {
  long w_block; /* index into o->blocks: weight (out, in), y = x Wᵀ + b */
  long b_block; /* bias block, or -1 */
  char act[16]; /* activation after this layer: "tanh", "relu", ...,
                   "identity" for the last (logits) layer */
} ph_mlp_layer;
ph_status ph_net_mlp_layers(const ph_objective *o, ph_mlp_layer *layers,
                            size_t max, size_t *n_layers, ph_error *err);

/* A checkpoint loaded for analysis: its data set, the objective and θ.
 * data_spec NULL means the spec stored in the checkpoint. Every command that
 * takes --ckpt FILE --data SPEC uses this. */
typedef struct ph_net_bundle {
  ph_ckpt *ck;
  ph_dataset *data;
  ph_objective *obj;
  double *theta; /* (obj->n) */
} ph_net_bundle;
ph_status ph_net_bundle_load(const char *ckpt_path, const char *data_spec,
                             const ph_data_options *dopt, size_t max_batch,
                             ph_net_bundle *out, ph_error *err);
void ph_net_bundle_free(ph_net_bundle *b);

/* Checkpoint helpers: sections "model", "data", "theta", "seed". */
ph_status ph_net_ckpt_put(ph_ckpt *ck, const ph_objective *o,
                          const char *data_spec, uint64_t seed,
                          const double *theta, ph_error *err);

#endif
