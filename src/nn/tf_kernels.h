/* tf_kernels.h: stateless kernels for small transformers.
 *
 * Each op y = f(x; θ) comes as four plain functions, llm.c style
 * (outputs first, then inputs, then saved buffers, then sizes):
 *   *_forward           y = f(x; θ)                       (overwrites y)
 *   *_backward          dx += (∂f/∂x)ᵀ dy, dθ += (∂f/∂θ)ᵀ dy
 *   *_tangent_forward   ẏ = ∂f/∂x ẋ + ∂f/∂θ θ̇             (overwrites ẏ)
 *   *_tangent_backward  the R-operator of backward: the directional
 *                       derivative of (dx, dθ) along (ẋ, θ̇, ḋy), accumulated
 *                       into (ḋx, ḋθ).
 * Running forward, tangent_forward, then backward and tangent_backward in
 * reverse order gives ∇L and ∇²L·v exactly (Pearlmutter 1994). Derivations:
 * docs/autodiff-transformer.md.
 *
 * Gradient outputs (dx, dθ and their tangents) ACCUMULATE (+=) so residual
 * branches and shared parameters add up; pass NULL for an output nobody
 * needs (e.g. dx of the first layer). All buffers are row-major double.
 * Token ids are stored as doubles (as in ph_dataset); validate them once with
 * ph_tf_tokens_check before running the kernels.
 */
#ifndef PH_NN_TF_KERNELS_H
#define PH_NN_TF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define PH_TF_LN_EPS 1e-5

/* ---- token + learned positional embedding --------------------------------
 * y[b,t,:] = wte[tok[b,t], :] + wpe[t, :]
 * tok (B, T) ids in [0, V); wte (V, d); wpe (T_max >= T, d) or NULL (no
 * positions); y (B, T, d). */
ph_status ph_tf_tokens_check(const double *tok, size_t n, size_t V,
                             ph_error *err);
void ph_tf_embed_forward(double *y, const double *tok, const double *wte,
                         const double *wpe, size_t B, size_t T, size_t d);
/* dwte, dwpe may be NULL. */
void ph_tf_embed_backward(double *dwte, double *dwpe, const double *dy,
                          const double *tok, size_t B, size_t T, size_t d);
/* ẏ from the parameter tangents (tokens have none). wpe_t may be NULL. */
void ph_tf_embed_tangent_forward(double *y_t, const double *tok,
                                 const double *wte_t, const double *wpe_t,
                                 size_t B, size_t T, size_t d);
/* The embedding's backward is linear in dy and independent of θ, so its
 * R-operator is the backward applied to ḋy. */
void ph_tf_embed_tangent_backward(double *dwte_t, double *dwpe_t,
                                  const double *dy_t, const double *tok,
                                  size_t B, size_t T, size_t d);

/* ---- layer norm over the last dimension ----------------------------------
 * For each of N rows of length D: x̂ = (x − μ) r, r = 1/√(var + eps)
 * (biased variance, eps = PH_TF_LN_EPS), y = g ⊙ x̂ + b.
 * x, y (N, D); g, b (D); mean, rstd (N) saved by forward. */
void ph_tf_layernorm_forward(double *y, double *mean, double *rstd,
                             const double *x, const double *g, const double *b,
                             size_t N, size_t D);
void ph_tf_layernorm_backward(double *dx, double *dg, double *db,
                              const double *dy, const double *x,
                              const double *g, const double *mean,
                              const double *rstd, size_t N, size_t D);
void ph_tf_layernorm_tangent_forward(double *y_t, const double *x,
                                     const double *x_t, const double *g,
                                     const double *g_t, const double *b_t,
                                     const double *mean, const double *rstd,
                                     size_t N, size_t D);
void ph_tf_layernorm_tangent_backward(double *dx_t, double *dg_t, double *db_t,
                                      const double *dy, const double *dy_t,
                                      const double *x, const double *x_t,
                                      const double *g, const double *g_t,
                                      const double *mean, const double *rstd,
                                      size_t N, size_t D);

/* ---- GELU, exact erf form: y = x Φ(x) -------------------------------------
 * Elementwise over n values. */
void ph_tf_gelu_forward(double *y, const double *x, size_t n);
void ph_tf_gelu_backward(double *dx, const double *dy, const double *x,
                         size_t n);
void ph_tf_gelu_tangent_forward(double *y_t, const double *x, const double *x_t,
                                size_t n);
void ph_tf_gelu_tangent_backward(double *dx_t, const double *dy,
                                 const double *dy_t, const double *x,
                                 const double *x_t, size_t n);

/* The same op with its first and second derivatives saved by forward, so the
 * three derivative passes cost no erf/exp: d1 = Φ + xφ, d2 = φ (2 − x²)
 * (n each; d1, d2 may be NULL when only y is needed). */
void ph_tf_gelu_forward_d(double *y, double *d1, double *d2, const double *x,
                          size_t n);
void ph_tf_gelu_backward_d(double *dx, const double *dy, const double *d1,
                           size_t n);
void ph_tf_gelu_tangent_forward_d(double *y_t, const double *d1,
                                  const double *x_t, size_t n);
void ph_tf_gelu_tangent_backward_d(double *dx_t, const double *dy,
                                   const double *dy_t, const double *d1,
                                   const double *d2, const double *x_t,
                                   size_t n);

/* ---- causal multi-head self-attention core -------------------------------
 * q, k, v, o (B, T, d); head h uses columns [h·dh, (h+1)·dh), dh = d/nh.
 * S_h = Q_h K_hᵀ / √dh with S[i][j] = −∞ for j > i; P_h = softmax rows of S_h;
 * O_h = P_h V_h. p (B, nh, T, T) holds P (zero above the diagonal), saved by
 * forward; p_t (B, nh, T, T) holds Ṗ, saved by tangent_forward.
 * work: ph_tf_attn_work_size(T) doubles of scratch, owned by the caller.
 * The plain names use one GEMM per (batch, head) and row block through
 * CBLAS, or the same arithmetic in-tree on AVX-512; the _ref
 * names are naive loops kept as the reference (same arguments, same
 * results to rounding). */
size_t ph_tf_attn_work_size(size_t T);
/* 0: the plain names run every product through CBLAS even where the CPU
 * has AVX-512 (for tests, which compare the two paths to the bit; not
 * thread-safe). 1 (the default): on AVX-512 (ph_vmath_avx512) they run
 * in-tree kernels with the same arithmetic as OpenBLAS's (tf_kernels.c). */
void ph_tf_attn_allow_fast(int allow);

void ph_tf_attn_forward(double *o, double *p, const double *q, const double *k,
                        const double *v, size_t B, size_t T, size_t d,
                        size_t nh);
void ph_tf_attn_backward(double *dq, double *dk, double *dv, const double *dout,
                         const double *q, const double *k, const double *v,
                         const double *p, double *work, size_t B, size_t T,
                         size_t d, size_t nh);
void ph_tf_attn_tangent_forward(double *o_t, double *p_t, const double *q,
                                const double *k, const double *v,
                                const double *p, const double *q_t,
                                const double *k_t, const double *v_t,
                                double *work, size_t B, size_t T, size_t d,
                                size_t nh);
void ph_tf_attn_tangent_backward(
    double *dq_t, double *dk_t, double *dv_t, const double *dout,
    const double *dout_t, const double *q, const double *k, const double *v,
    const double *p, const double *q_t, const double *k_t, const double *v_t,
    const double *p_t, double *work, size_t B, size_t T, size_t d, size_t nh);

void ph_tf_attn_forward_ref(double *o, double *p, const double *q,
                            const double *k, const double *v, size_t B,
                            size_t T, size_t d, size_t nh);
void ph_tf_attn_backward_ref(double *dq, double *dk, double *dv,
                             const double *dout, const double *q,
                             const double *k, const double *v, const double *p,
                             double *work, size_t B, size_t T, size_t d,
                             size_t nh);
void ph_tf_attn_tangent_forward_ref(double *o_t, double *p_t, const double *q,
                                    const double *k, const double *v,
                                    const double *p, const double *q_t,
                                    const double *k_t, const double *v_t,
                                    double *work, size_t B, size_t T, size_t d,
                                    size_t nh);
void ph_tf_attn_tangent_backward_ref(
    double *dq_t, double *dk_t, double *dv_t, const double *dout,
    const double *dout_t, const double *q, const double *k, const double *v,
    const double *p, const double *q_t, const double *k_t, const double *v_t,
    const double *p_t, double *work, size_t B, size_t T, size_t d, size_t nh);

/* ---- softmax cross-entropy over positions, target −1 = ignored ------------
 * Shared by both engines (the transformer and the sequential chain's
 * head), hence ph_nn_xent_* rather than a transformer prefix.
 * z (N, C) logits, y (N) targets in [−1, C), p (N, C) softmax saved by
 * forward (rows of ignored positions are still filled).
 * loss = scale · Σ_{i: y_i ≥ 0} −log p[i, y_i]; the caller picks scale,
 * normally 1/ph_nn_xent_count (mean over the positions that have targets).
 * dloss is the adjoint of loss (1 for the top of the graph), dloss_t its
 * tangent (0 there). */
ph_status ph_tf_targets_check(const int32_t *y, size_t N, size_t C,
                              ph_error *err);
size_t ph_nn_xent_count(const int32_t *y, size_t N);
/* Positions with a target whose arg-max logit equals it (ties: lowest). */
size_t ph_nn_xent_correct(const double *z, const int32_t *y, size_t N,
                          size_t C);
double ph_nn_xent_forward(double *p, const double *z, const int32_t *y,
                          size_t N, size_t C, double scale);
void ph_nn_xent_backward(double *dz, double dloss, const double *p,
                         const int32_t *y, size_t N, size_t C, double scale);
double ph_nn_xent_tangent_forward(const double *p, const double *z_t,
                                  const int32_t *y, size_t N, size_t C,
                                  double scale);
/* ḋz += scale·[dloss_t (p − e_y) + dloss·H_z ż], H_z = diag(p) − ppᵀ.
 * With dloss = 1, dloss_t = 0 this is also the GGN's H_z·ż. */
void ph_nn_xent_tangent_backward(double *dz_t, double dloss, double dloss_t,
                                 const double *p, const double *z_t,
                                 const int32_t *y, size_t N, size_t C,
                                 double scale);

#endif
