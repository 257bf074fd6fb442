/* chain.h: the op/chain interface of the sequential engine and how model
 * families are dispatched (internal to src/nn and its tests; other modules
 * use nn/net.h).
 *
 * Chain. A model is a static chain of ops ("layers", nn/seq_int.h) built
 * once per model spec and max batch: h_0 (the gathered input batch) → h_1 →
 * … → h_K (the logits), then a loss head (softmax cross-entropy or MSE,
 * net_obj.c). Every activation buffer h_k, its adjoint dh_k, its tangent ḣ_k
 * and the tangent of its adjoint ḋh_k is a (max_batch, size_k) row-major
 * array allocated by nn_alloc_buffers; ops keep their own workspaces (im2col
 * columns, argmax indices) allocated at build time, so running the chain
 * never allocates. Parameters are views into the flat θ: an op stores the
 * offsets (w_off, b_off) of its tensors and the indices (w_block, b_block)
 * of their entries in the block table (core/objective.h), so the same chain
 * runs at any θ and any direction v.
 *
 * Op. Each op implements four passes on a batch of B examples
 * (docs/autodiff.md §2), dispatched on nn_kind in layers.c and
 * layers_tangent.c:
 *   nn_forward            h_out = f(h_in; θ)
 *   nn_backward           dh_in = (∂f/∂h_in)ᵀ dh_out, grad += (∂f/∂θ)ᵀ dh_out
 *   nn_tangent_forward    ḣ_out = ∂f/∂h_in ḣ_in + ∂f/∂θ v      (JVP)
 *   nn_tangent_backward   R_v of nn_backward: ḋh_in and (Hv)_θ from ḋh_out,
 *                         plus, when second_order, the terms in dh_out, ḣ_in
 *                         and v; without them it is the VJP of ḋh_out
 *                         (the Gauss-Newton product).
 * A NULL h_in tangent (ḣ_0 = 0) or NULL dh_in (first layer) skips work.
 * The optimised dense and conv kernels (cblas_dgemm, im2col) have naive
 * loop references (nn_naive_*, layers_naive.c) tested against them.
 *
 * How to add an op:
 *   1. add a value to nn_kind (seq_int.h) and any geometry fields to
 *      nn_layer, with workspaces allocated in nn_alloc_buffers and freed in
 *      nn_free (net_build.c);
 *   2. implement its case in all four passes; derive the tangent backward by
 *      differentiating the backward along (ḣ_in, v) and write the
 *      derivation in docs/autodiff.md; keep a naive kernel beside an
 *      optimised one;
 *   3. give it a token in the spec grammar (parse_spec in net_build.c),
 *      a "type" in `pothole export`'s model.json (tools/cmd_export.c,
 *      docs/formats.md) and in tests/bench/products_torch.py;
 *   4. add it to the op table of tests/nn/test_nn.c (test_ops_alone: every
 *      pass against central differences) and to a small model in
 *      check_model (gradient, Hv, symmetry, chunking).
 *
 * Model families. ph_net_create (net_obj.c) dispatches on the spec prefix:
 * "linear", "mlp:" and "cnn" build the sequential chain here (nn_build);
 * "transformer" (with or without ":dDhHlL") goes to ph_transformer_create
 * (nn/transformer.h, transformer.c), which builds its own objective from
 * the kernels of nn/tf_kernels.h with the same four-pass contract per
 * kernel. A new family of models adds a prefix there and a builder like
 * ph_transformer_create (spec, data, max_batch -> objective);
 * ph_net_dataset/ph_net_spec/ph_net_init_params ask each family's accessor
 * in turn. */
#ifndef PH_NN_CHAIN_H
#define PH_NN_CHAIN_H

#include <stddef.h>

#include "core/error.h"
#include "core/objective.h"
#include "data/dataset.h"
#include "nn/seq_int.h"
#include "nn/transformer.h"

/* Naive loop references of the GEMM kernels (layers_naive.c), same
 * arguments and semantics as nn_forward / nn_backward /
 * nn_tangent_forward / nn_tangent_backward for NN_DENSE and NN_CONV layers
 * (other kinds are forwarded to the optimised passes, which are loops
 * already). For tests only: no BLAS, no im2col. */
void nn_naive_forward(nn_layer *l, const double *theta, size_t B,
                      const double *in, double *out);
void nn_naive_backward(nn_layer *l, const double *theta, size_t B,
                       const double *in, const double *out, const double *dout,
                       double *din, double *grad);
void nn_naive_tangent_forward(nn_layer *l, const double *theta, const double *v,
                              size_t B, const double *in, const double *out,
                              const double *tin, double *tout);
void nn_naive_tangent_backward(nn_layer *l, const double *theta,
                               const double *v, size_t B, const double *in,
                               const double *tin, const double *dout,
                               const double *tdout, double *tdin, double *hv,
                               int second_order);

#endif
