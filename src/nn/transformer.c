/* transformer.c: the decoder-only transformer objective (pre-LN GPT-2
 * layout, see transformer.h) chained by hand from the kernels in
 * tf_kernels.c plus dense layers through CBLAS.
 *
 * Gradient: reverse mode. Hv: forward-over-reverse (Pearlmutter 1994): a
 * tangent pass with θ̇ = v, then the backward pass and its R-operator run
 * together, layer by layer. Gv: the tangent pass to the logits, H_z ż, then
 * a plain backward (Schraudolph 2002). All three are of the same loss: the
 * mean cross-entropy over the positions with a target in the whole batch;
 * batches larger than max_batch run in chunks that accumulate, each scaled
 * by 1/(targets in the whole batch). Derivations and the parameter layout:
 * docs/autodiff-transformer.md.
 *
 * Block products (k directions) share one forward and, for Hv, one plain
 * backward per chunk; so do successive single products at the same θ on
 * the same one-chunk batch (the forward cache below), which is what
 * Lanczos, SLQ and the LLQR refresh ask for.
 *
 * Buffers are allocated once at creation (one arena) plus, on the first
 * Hv, the store of the plain adjoints; no allocation per call. Not here:
 * dropout, weight tying, KV caching, sampling.
 */
#include "nn/transformer.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "nn/dense.h"
#include "nn/tf_kernels.h"

/* Offsets of one block's tensors in θ. */
typedef struct tf_lo {
  size_t ln1g, ln1b, wq, bq, wk, bk, wv, bv, wo, bo, ln2g, ln2b, w1, b1, w2, b2;
} tf_lo;

/* Per-layer saved activations (N = B·T rows) and their tangents. */
typedef struct tf_lb {
  double *a, *mean1, *rstd1, *q, *k, *v, *P, *o, *mid, *c, *mean2, *rstd2, *u,
      *g; /* (N,d) but u,g (N,F);
             P (B,nh,T,T); mean,
             rstd (N) */
  double *a_t, *q_t, *k_t, *v_t, *P_t, *o_t, *mid_t, *c_t, *u_t, *g_t;
  double *gd1, *gd2; /* (N, F) GELU′ and GELU″ at u */
} tf_lb;

/* Plain adjoints of one layer: top, mid and bot are the adjoints of the
 * layer's output res[l+1], of the residual stream between its two halves
 * (mid) and of its input res[l]. */
typedef struct tf_adj {
  double *top, *mid, *bot, *dg, *du, *dc, *dob, *dq, *dk, *dv, *da;
} tf_adj;

typedef struct tf_obj {
  ph_objective base;
  char spec[128];
  char name[192];
  const ph_dataset *data;
  size_t max_batch;
  ph_transformer_config cfg;
  ph_block *blocks;
  size_t wte, wpe, lnfg, lnfb, headw, headb;
  tf_lo *lo; /* (L) */
  tf_lb *lb; /* (L) */
  double *arena;
  int32_t *tgt;          /* (Bmax·T) */
  double *tok;           /* (Bmax, T) */
  double **res, **res_t; /* (L+1) residual stream (N, d) per layer input */
  double *f, *meanf, *rstdf, *f_t, *z, *z_t, *p;
  double *dres, *da, *dq, *dk, *dv, *dob, *dc, *dg, *du, *df, *dz;
  double *dres_t, *da_t, *dq_t, *dk_t, *dv_t, *dob_t, *dc_t, *dg_t, *du_t,
      *df_t, *dz_t;
  double *work; /* attention scratch */
  /* The adjoint store of Hv (L layers, adz and adf for the head),
   * allocated on the first Hv. */
  tf_adj *adj;
  double *adj_arena, *adz, *adf;
  /* The forward cache: the activations above were computed at c_theta
   * (n) on the batch (c_split, c_n, c_idx or the first c_n examples when
   * c_has_idx is 0); c_order is run_forward's order (−1: nothing cached),
   * c_loss the unscaled cross-entropy sum, c_adj 1 when the store holds
   * that batch's plain adjoints. Only batches of one chunk are cached. */
  double *c_theta;
  size_t *c_idx, c_n;
  ph_split c_split;
  int c_has_idx, c_order, c_adj;
  double c_loss;
  /* Pointer arrays of a sub-chunk view (sub_view): L and L + 1. */
  tf_lb *sub_lb;
  double **sub_res;
  tf_adj *sub_adj; /* L, with the adjoint store */
} tf_obj;

static void tf_destroy(ph_objective *o);

/* ------------------------------------------------------------------ spec */

static int read_num(const char **s, char tag, size_t *out) {
  if (**s != tag) return -1;
  (*s)++;
  if (**s < '0' || **s > '9') return -1;
  char *end;
  unsigned long v = strtoul(*s, &end, 10);
  *s = end;
  *out = (size_t)v;
  return 0;
}

ph_status ph_transformer_spec_parse(const char *spec,
                                    ph_transformer_config *cfg, ph_error *err) {
  static const char pre[] = "transformer:";
  memset(cfg, 0, sizeof *cfg);
  if (!spec || strncmp(spec, pre, sizeof pre - 1) != 0)
    return ph_error_set(err, PH_ERR_ARG,
                        "model spec '%s': expected transformer:dDhHlL "
                        "(e.g. transformer:d32h2l2)",
                        spec ? spec : "(null)");
  const char *s = spec + sizeof pre - 1;
  if (read_num(&s, 'd', &cfg->d_model) || read_num(&s, 'h', &cfg->n_heads) ||
      read_num(&s, 'l', &cfg->n_layers) || *s != '\0')
    return ph_error_set(err, PH_ERR_ARG,
                        "model spec '%s': cannot parse '%s' as dDhHlL "
                        "(e.g. d32h2l2)",
                        spec, spec + sizeof pre - 1);
  if (cfg->d_model < 1 || cfg->d_model > 4096)
    return ph_error_set(err, PH_ERR_ARG,
                        "model spec '%s': d_model %zu outside [1, 4096]", spec,
                        cfg->d_model);
  if (cfg->n_heads < 1 || cfg->d_model % cfg->n_heads != 0)
    return ph_error_set(err, PH_ERR_ARG,
                        "model spec '%s': %zu heads do not divide d_model %zu",
                        spec, cfg->n_heads, cfg->d_model);
  if (cfg->n_layers < 1 || cfg->n_layers > 64)
    return ph_error_set(err, PH_ERR_ARG,
                        "model spec '%s': layers %zu outside [1, 64]", spec,
                        cfg->n_layers);
  cfg->d_ff = 4 * cfg->d_model;
  return PH_OK;
}

/* ----------------------------------------------------------- dense layer */
/* y = x Wᵀ + b and its passes: nn/dense.h, shared with the sequential
 * engine (adjoints accumulate). */

static void zero(double *x, size_t n) {
  memset(x, 0, n * sizeof *x);
}

static void add_into(double *y, const double *x, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += x[i];
}

/* ---------------------------------------------------------------- passes */

/* order: 0 loss only, 1 also GELU′ (gradient), 2 also GELU″ (Hv). */
static void run_forward(tf_obj *m, const double *th, size_t B, int order) {
  const ph_transformer_config *c = &m->cfg;
  size_t T = c->seq_len, d = c->d_model, F = c->d_ff, N = B * T;
  ph_tf_embed_forward(m->res[0], m->tok, th + m->wte, th + m->wpe, B, T, d);
  for (size_t l = 0; l < c->n_layers; l++) {
    const tf_lo *o = &m->lo[l];
    tf_lb *b = &m->lb[l];
    const double *x = m->res[l];
    ph_tf_layernorm_forward(b->a, b->mean1, b->rstd1, x, th + o->ln1g,
                            th + o->ln1b, N, d);
    ph_nn_dense_forward(b->q, b->a, th + o->wq, th + o->bq, N, d, d);
    ph_nn_dense_forward(b->k, b->a, th + o->wk, th + o->bk, N, d, d);
    ph_nn_dense_forward(b->v, b->a, th + o->wv, th + o->bv, N, d, d);
    ph_tf_attn_forward(b->o, b->P, b->q, b->k, b->v, B, T, d, c->n_heads);
    ph_nn_dense_forward(b->mid, b->o, th + o->wo, th + o->bo, N, d, d);
    add_into(b->mid, x, N * d);
    ph_tf_layernorm_forward(b->c, b->mean2, b->rstd2, b->mid, th + o->ln2g,
                            th + o->ln2b, N, d);
    ph_nn_dense_forward(b->u, b->c, th + o->w1, th + o->b1, N, d, F);
    ph_tf_gelu_forward_d(b->g, order >= 1 ? b->gd1 : NULL,
                         order >= 2 ? b->gd2 : NULL, b->u, N * F);
    ph_nn_dense_forward(m->res[l + 1], b->g, th + o->w2, th + o->b2, N, F, d);
    add_into(m->res[l + 1], b->mid, N * d);
  }
  ph_tf_layernorm_forward(m->f, m->meanf, m->rstdf, m->res[c->n_layers],
                          th + m->lnfg, th + m->lnfb, N, d);
  ph_nn_dense_forward(m->z, m->f, th + m->headw, th + m->headb, N, d, c->vocab);
}

/* Tangents of every activation for θ̇ = v (after run_forward). */
static void run_tangent(tf_obj *m, const double *th, const double *v,
                        size_t B) {
  const ph_transformer_config *c = &m->cfg;
  size_t T = c->seq_len, d = c->d_model, F = c->d_ff, N = B * T;
  ph_tf_embed_tangent_forward(m->res_t[0], m->tok, v + m->wte, v + m->wpe, B, T,
                              d);
  for (size_t l = 0; l < c->n_layers; l++) {
    const tf_lo *o = &m->lo[l];
    tf_lb *b = &m->lb[l];
    const double *x = m->res[l], *xt = m->res_t[l];
    ph_tf_layernorm_tangent_forward(b->a_t, x, xt, th + o->ln1g, v + o->ln1g,
                                    v + o->ln1b, b->mean1, b->rstd1, N, d);
    ph_nn_dense_tangent_forward(b->q_t, b->a, b->a_t, th + o->wq, v + o->wq,
                                v + o->bq, N, d, d);
    ph_nn_dense_tangent_forward(b->k_t, b->a, b->a_t, th + o->wk, v + o->wk,
                                v + o->bk, N, d, d);
    ph_nn_dense_tangent_forward(b->v_t, b->a, b->a_t, th + o->wv, v + o->wv,
                                v + o->bv, N, d, d);
    ph_tf_attn_tangent_forward(b->o_t, b->P_t, b->q, b->k, b->v, b->P, b->q_t,
                               b->k_t, b->v_t, m->work, B, T, d, c->n_heads);
    ph_nn_dense_tangent_forward(b->mid_t, b->o, b->o_t, th + o->wo, v + o->wo,
                                v + o->bo, N, d, d);
    add_into(b->mid_t, xt, N * d);
    ph_tf_layernorm_tangent_forward(b->c_t, b->mid, b->mid_t, th + o->ln2g,
                                    v + o->ln2g, v + o->ln2b, b->mean2,
                                    b->rstd2, N, d);
    ph_nn_dense_tangent_forward(b->u_t, b->c, b->c_t, th + o->w1, v + o->w1,
                                v + o->b1, N, d, F);
    ph_tf_gelu_tangent_forward_d(b->g_t, b->gd1, b->u_t, N * F);
    ph_nn_dense_tangent_forward(m->res_t[l + 1], b->g, b->g_t, th + o->w2,
                                v + o->w2, v + o->b2, N, F, d);
    add_into(m->res_t[l + 1], b->mid_t, N * d);
  }
  ph_tf_layernorm_tangent_forward(
      m->f_t, m->res[c->n_layers], m->res_t[c->n_layers], th + m->lnfg,
      v + m->lnfg, v + m->lnfb, m->meanf, m->rstdf, N, d);
  ph_nn_dense_tangent_forward(m->z_t, m->f, m->f_t, th + m->headw, v + m->headw,
                              v + m->headb, N, d, c->vocab);
}

/* ---------------------------------------------------------- backward
 * The plain backward (adjoints, and the gradient when grad is not NULL)
 * and its R-operator (the tangents of the adjoints, accumulated into hv)
 * run as two passes over the layers. The R-operator reads the plain
 * adjoints of every layer, so for Hv they are kept per layer in the
 * adjoint store (tf_adj, allocated on the first Hv); the gradient and Gv
 * need no R-operator and keep them in the shared scratch, where one
 * buffer serves every layer (top, mid and bot alias m->dres and each layer
 * updates it in place). Every operation and its order are those of a
 * single interleaved pass, so the results are the same bits either way. */

#define PART(g, off) ((g) ? (g) + (off) : NULL)

/* The head and final layer norm: from dz to the adjoint of res[L]
 * (overwritten), with df the adjoint of the normalised stream. */
static void back_head(tf_obj *m, const double *th, size_t N, const double *dz,
                      double *df, double *dres, double *grad) {
  size_t d = m->cfg.d_model, L = m->cfg.n_layers;
  zero(df, N * d);
  ph_nn_dense_backward(df, PART(grad, m->headw), PART(grad, m->headb), dz, m->f,
                       th + m->headw, N, d, m->cfg.vocab);
  zero(dres, N * d);
  ph_tf_layernorm_backward(dres, PART(grad, m->lnfg), PART(grad, m->lnfb), df,
                           m->res[L], th + m->lnfg, m->meanf, m->rstdf, N, d);
}

/* Layer l, from a->top to a->bot. */
static void back_layer(tf_obj *m, size_t l, const double *th, size_t B,
                       const tf_adj *a, double *grad) {
  const ph_transformer_config *c = &m->cfg;
  size_t T = c->seq_len, d = c->d_model, F = c->d_ff, N = B * T;
  const tf_lo *o = &m->lo[l];
  tf_lb *b = &m->lb[l];
  /* MLP branch: its output's adjoint is the residual adjoint. */
  zero(a->dg, N * F);
  ph_nn_dense_backward(a->dg, PART(grad, o->w2), PART(grad, o->b2), a->top,
                       b->g, th + o->w2, N, F, d);
  zero(a->du, N * F);
  ph_tf_gelu_backward_d(a->du, a->dg, b->gd1, N * F);
  zero(a->dc, N * d);
  ph_nn_dense_backward(a->dc, PART(grad, o->w1), PART(grad, o->b1), a->du, b->c,
                       th + o->w1, N, d, F);
  if (a->mid != a->top) memcpy(a->mid, a->top, N * d * sizeof *a->mid);
  ph_tf_layernorm_backward(a->mid, PART(grad, o->ln2g), PART(grad, o->ln2b),
                           a->dc, b->mid, th + o->ln2g, b->mean2, b->rstd2, N,
                           d);
  /* Attention branch. */
  zero(a->dob, N * d);
  ph_nn_dense_backward(a->dob, PART(grad, o->wo), PART(grad, o->bo), a->mid,
                       b->o, th + o->wo, N, d, d);
  zero(a->dq, N * d);
  zero(a->dk, N * d);
  zero(a->dv, N * d);
  ph_tf_attn_backward(a->dq, a->dk, a->dv, a->dob, b->q, b->k, b->v, b->P,
                      m->work, B, T, d, c->n_heads);
  zero(a->da, N * d);
  ph_nn_dense_backward(a->da, PART(grad, o->wq), PART(grad, o->bq), a->dq, b->a,
                       th + o->wq, N, d, d);
  ph_nn_dense_backward(a->da, PART(grad, o->wk), PART(grad, o->bk), a->dk, b->a,
                       th + o->wk, N, d, d);
  ph_nn_dense_backward(a->da, PART(grad, o->wv), PART(grad, o->bv), a->dv, b->a,
                       th + o->wv, N, d, d);
  if (a->bot != a->mid) memcpy(a->bot, a->mid, N * d * sizeof *a->bot);
  ph_tf_layernorm_backward(a->bot, PART(grad, o->ln1g), PART(grad, o->ln1b),
                           a->da, m->res[l], th + o->ln1g, b->mean1, b->rstd1,
                           N, d);
}

/* The plain backward from dz (into the shared scratch, or into the store
 * when adj is not NULL): grad += ∂L/∂θ when grad is not NULL. */
static void run_backward(tf_obj *m, const double *th, size_t B,
                         const double *dz, const tf_adj *adj, double *grad) {
  size_t N = B * m->cfg.seq_len, L = m->cfg.n_layers;
  tf_adj sh = {m->dres, m->dres, m->dres, m->dg, m->du, m->dc,
               m->dob,  m->dq,   m->dk,   m->dv, m->da};
  back_head(m, th, N, dz, adj ? m->adf : m->df, adj ? adj[L - 1].top : m->dres,
            grad);
  for (size_t l = L; l-- > 0;)
    back_layer(m, l, th, B, adj ? &adj[l] : &sh, grad);
  ph_tf_embed_backward(PART(grad, m->wte), PART(grad, m->wpe),
                       adj ? adj[0].bot : m->dres, m->tok, B, m->cfg.seq_len,
                       m->cfg.d_model);
}

/* The R-operator of the plain backward for θ̇ = v (run_tangent(v) and
 * run_backward into the store adj must have run; dz_t holds the tangent
 * of the logits' adjoint): hv += ∇²L v. */
static void run_backward_tangent(tf_obj *m, const double *th, const double *v,
                                 size_t B, const tf_adj *adj, double *hv) {
  const ph_transformer_config *c = &m->cfg;
  size_t T = c->seq_len, d = c->d_model, F = c->d_ff, N = B * T,
         nh = c->n_heads, L = c->n_layers;
  zero(m->df_t, N * d);
  ph_nn_dense_tangent_backward(m->df_t, hv + m->headw, hv + m->headb, m->adz,
                               m->dz_t, m->f, m->f_t, th + m->headw,
                               v + m->headw, N, d, c->vocab, 1);
  zero(m->dres_t, N * d);
  ph_tf_layernorm_tangent_backward(
      m->dres_t, hv + m->lnfg, hv + m->lnfb, m->adf, m->df_t, m->res[L],
      m->res_t[L], th + m->lnfg, v + m->lnfg, m->meanf, m->rstdf, N, d);
  for (size_t l = L; l-- > 0;) {
    const tf_lo *o = &m->lo[l];
    tf_lb *b = &m->lb[l];
    const tf_adj *a = &adj[l];
    zero(m->dg_t, N * F);
    ph_nn_dense_tangent_backward(m->dg_t, hv + o->w2, hv + o->b2, a->top,
                                 m->dres_t, b->g, b->g_t, th + o->w2, v + o->w2,
                                 N, F, d, 1);
    zero(m->du_t, N * F);
    ph_tf_gelu_tangent_backward_d(m->du_t, a->dg, m->dg_t, b->gd1, b->gd2,
                                  b->u_t, N * F);
    zero(m->dc_t, N * d);
    ph_nn_dense_tangent_backward(m->dc_t, hv + o->w1, hv + o->b1, a->du,
                                 m->du_t, b->c, b->c_t, th + o->w1, v + o->w1,
                                 N, d, F, 1);
    ph_tf_layernorm_tangent_backward(
        m->dres_t, hv + o->ln2g, hv + o->ln2b, a->dc, m->dc_t, b->mid, b->mid_t,
        th + o->ln2g, v + o->ln2g, b->mean2, b->rstd2, N, d);
    zero(m->dob_t, N * d);
    ph_nn_dense_tangent_backward(m->dob_t, hv + o->wo, hv + o->bo, a->mid,
                                 m->dres_t, b->o, b->o_t, th + o->wo, v + o->wo,
                                 N, d, d, 1);
    zero(m->dq_t, N * d);
    zero(m->dk_t, N * d);
    zero(m->dv_t, N * d);
    ph_tf_attn_tangent_backward(m->dq_t, m->dk_t, m->dv_t, a->dob, m->dob_t,
                                b->q, b->k, b->v, b->P, b->q_t, b->k_t, b->v_t,
                                b->P_t, m->work, B, T, d, nh);
    zero(m->da_t, N * d);
    ph_nn_dense_tangent_backward(m->da_t, hv + o->wq, hv + o->bq, a->dq,
                                 m->dq_t, b->a, b->a_t, th + o->wq, v + o->wq,
                                 N, d, d, 1);
    ph_nn_dense_tangent_backward(m->da_t, hv + o->wk, hv + o->bk, a->dk,
                                 m->dk_t, b->a, b->a_t, th + o->wk, v + o->wk,
                                 N, d, d, 1);
    ph_nn_dense_tangent_backward(m->da_t, hv + o->wv, hv + o->bv, a->dv,
                                 m->dv_t, b->a, b->a_t, th + o->wv, v + o->wv,
                                 N, d, d, 1);
    ph_tf_layernorm_tangent_backward(
        m->dres_t, hv + o->ln1g, hv + o->ln1b, a->da, m->da_t, m->res[l],
        m->res_t[l], th + o->ln1g, v + o->ln1g, b->mean1, b->rstd1, N, d);
  }
  ph_tf_embed_tangent_backward(hv + m->wte, hv + m->wpe, m->dres_t, m->tok, B,
                               T, d);
}

/* ------------------------------------------------------------- batching */

static ph_status batch_check(const tf_obj *m, const ph_batch *bt,
                             size_t *n_valid, ph_error *err) {
  const ph_dataset *D = m->data;
  size_t T = m->cfg.seq_len;
  if (bt->n == 0)
    return ph_error_set(err, PH_ERR_ARG, "%s: empty batch", m->name);
  if (bt->split != PH_SPLIT_TRAIN && bt->split != PH_SPLIT_TEST)
    return ph_error_set(err, PH_ERR_ARG, "%s: bad split %d", m->name,
                        (int)bt->split);
  size_t n = D->n[bt->split], cnt = 0;
  if (!bt->idx && bt->n > n)
    return ph_error_set(err, PH_ERR_ARG,
                        "%s: batch of %zu but the split has %zu examples",
                        m->name, bt->n, n);
  for (size_t i = 0; i < bt->n; i++) {
    size_t e = bt->idx ? bt->idx[i] : i;
    if (e >= n)
      return ph_error_set(err, PH_ERR_ARG,
                          "%s: example index %zu (batch position %zu) >= %zu",
                          m->name, e, i, n);
    cnt += ph_nn_xent_count(D->y[bt->split] + e * T, T);
  }
  *n_valid = cnt;
  return PH_OK;
}

/* Copy examples [i0, i0+B) of the batch into tok/tgt. */
static void gather(tf_obj *m, const ph_batch *bt, size_t i0, size_t B) {
  const ph_dataset *D = m->data;
  size_t T = m->cfg.seq_len;
  for (size_t i = 0; i < B; i++) {
    size_t e = bt->idx ? bt->idx[i0 + i] : i0 + i;
    memcpy(m->tok + i * T, D->x[bt->split] + e * T, T * sizeof *m->tok);
    memcpy(m->tgt + i * T, D->y[bt->split] + e * T, T * sizeof *m->tgt);
  }
}

static ph_status need_targets(const tf_obj *m, size_t cnt, ph_error *err) {
  if (cnt == 0)
    return ph_error_set(err, PH_ERR_ARG,
                        "%s: the batch has no position with a target", m->name);
  return PH_OK;
}

/* -------------------------------------------------------- forward cache
 * Curvature work asks for many products at one θ on one batch (Lanczos,
 * SLQ, the 50 inner products of an LLQR refresh). The forward pass and,
 * for Hv, the plain backward do not depend on the direction, so they are
 * kept and reused while θ and the batch stay the same to the bit: the
 * cache compares θ's bytes and the batch's indices, so an optimiser that
 * updates θ in place, or a sampler that refills its index array, never
 * reads stale activations. A reused pass is the same computation on the
 * same inputs, so every result is the same bits as without the cache. */

static int cache_hit(const tf_obj *m, const double *th, const ph_batch *bt,
                     int order) {
  if (m->c_order < order || bt->n > m->max_batch || m->c_n != bt->n ||
      m->c_split != bt->split || m->c_has_idx != (bt->idx != NULL))
    return 0;
  if (bt->idx && memcmp(m->c_idx, bt->idx, bt->n * sizeof *bt->idx) != 0)
    return 0;
  return memcmp(m->c_theta, th, m->base.n * sizeof *th) == 0;
}

/* Examples [i0, i0 + B) through run_forward (at least `order`) and the
 * softmax p; returns the unscaled cross-entropy sum. */
static double forward(tf_obj *m, const double *th, const ph_batch *bt,
                      size_t i0, size_t B, int order) {
  size_t T = m->cfg.seq_len, V = m->cfg.vocab;
  int whole = i0 == 0 && B == bt->n;
  if (whole && cache_hit(m, th, bt, order)) return m->c_loss;
  m->c_order = -1;
  m->c_adj = 0;
  gather(m, bt, i0, B);
  run_forward(m, th, B, order);
  double l = ph_nn_xent_forward(m->p, m->z, m->tgt, B * T, V, 1.0);
  if (whole) {
    memcpy(m->c_theta, th, m->base.n * sizeof *th);
    if (bt->idx) memcpy(m->c_idx, bt->idx, B * sizeof *bt->idx);
    m->c_n = B;
    m->c_split = bt->split;
    m->c_has_idx = bt->idx != NULL;
    m->c_loss = l;
    m->c_order = order;
  }
  return l;
}

/* The adjoint store for max_batch examples (Hv only, so a model that only
 * trains or takes Gv never pays its memory). */
static ph_status adj_reserve(tf_obj *m, ph_error *err) {
  if (m->adj) return PH_OK;
  const ph_transformer_config *c = &m->cfg;
  size_t L = c->n_layers, N = m->max_batch * c->seq_len, Nd = N * c->d_model,
         NF = N * c->d_ff;
  size_t total = (L + 1) * Nd + L * (7 * Nd + 2 * NF) + N * c->vocab + Nd;
  m->adj = ph_calloc(L, sizeof *m->adj, "transformer adjoints", err);
  m->sub_adj = ph_calloc(L, sizeof *m->sub_adj, "transformer adjoints", err);
  m->adj_arena = ph_malloc(total, sizeof(double), "transformer adjoints", err);
  if (!m->adj || !m->sub_adj || !m->adj_arena) {
    ph_free(m->adj);
    ph_free(m->sub_adj);
    ph_free(m->adj_arena);
    m->adj = NULL;
    m->sub_adj = NULL;
    m->adj_arena = NULL;
    return PH_ERR_NOMEM;
  }
  double *q = m->adj_arena;
  for (size_t l = 0; l < L; l++) { /* bot of layer l is top of layer l − 1 */
    tf_adj *a = &m->adj[l];
    a->bot = l ? m->adj[l - 1].top : q;
    if (!l) q += Nd;
    a->top = q, q += Nd;
    a->mid = q, q += Nd;
    a->dc = q, q += Nd;
    a->dob = q, q += Nd;
    a->dq = q, q += Nd;
    a->dk = q, q += Nd;
    a->dv = q, q += Nd;
    a->da = q, q += Nd;
    a->dg = q, q += NF;
    a->du = q, q += NF;
  }
  m->adz = q, q += N * c->vocab;
  m->adf = q;
  return PH_OK;
}

/* ------------------------------------------------------------- callbacks */

static ph_status tf_loss_grad(void *ctx, const double *th, const ph_batch *bt,
                              double *loss, double *grad, ph_error *err) {
  tf_obj *m = ctx;
  size_t cnt, T = m->cfg.seq_len, V = m->cfg.vocab;
  PH_TRY(batch_check(m, bt, &cnt, err));
  PH_TRY(need_targets(m, cnt, err));
  double scale = 1.0 / (double)cnt, l = 0.0;
  if (grad) zero(grad, m->base.n);
  for (size_t i0 = 0; i0 < bt->n; i0 += m->max_batch) {
    size_t B = bt->n - i0 < m->max_batch ? bt->n - i0 : m->max_batch;
    l += scale * forward(m, th, bt, i0, B, grad ? 1 : 0);
    if (!grad) continue;
    zero(m->dz, B * T * V);
    ph_nn_xent_backward(m->dz, 1.0, m->p, m->tgt, B * T, V, scale);
    run_backward(m, th, B, m->dz, NULL, grad);
  }
  *loss = l;
  return PH_OK;
}

/* ------------------------------------------------------- sub-chunks
 * After the forward, a product's tangent pass and backward treat the
 * chunk's examples independently but for the parameter adjoints they sum.
 * Run over the whole chunk (B·T rows, 8192 for an LLQR refresh of 128
 * examples), each kernel streams every activation and tangent of the
 * chunk through memory; run over TF_SUB examples at a time, the tangents
 * and adjoints of a few hundred rows stay in cache from the tangent pass
 * to the backward, and the cached activations are read once per product.
 * The parameter adjoints then add sub-chunk by sub-chunk: row by row as
 * before for biases, layer norms and embeddings, and for the weight
 * GEMMs in blocks of TF_SUB·T rows. OpenBLAS sums a long inner dimension
 * in blocks of 256 rows added into C in order, so with TF_SUB·T a
 * multiple of 256 Gv's sums are the same bits (an LLQR run's log.csv
 * and precond.npy are identical, docs/performance-history.md). Hv's R-backward
 * adds two GEMMs into each weight's adjoint, which now alternate by
 * sub-chunk, so Hv changes in the last bits (a spectrum's eigenvalues by
 * ~1e-15 relative). */
#define TF_SUB 8

/* A view of m whose activations start at example e0 of the chunk, with
 * the tangents and adjoint scratch at their start (rows of the
 * sub-chunk only); lbv (L) and resv (L + 1) hold the shifted pointers,
 * and m->sub_adj those of the adjoint store when there is one. */
static void sub_view(const tf_obj *m, size_t e0, tf_obj *w, tf_lb *lbv,
                     double **resv) {
  const ph_transformer_config *c = &m->cfg;
  size_t T = c->seq_len, d = c->d_model, F = c->d_ff, V = c->vocab, r = e0 * T,
         P = e0 * c->n_heads * T * T;
  *w = *m;
  w->lb = lbv;
  w->res = resv;
  for (size_t l = 0; l < c->n_layers; l++) {
    tf_lb *b = &lbv[l];
    *b = m->lb[l];
    b->a += r * d, b->q += r * d, b->k += r * d, b->v += r * d;
    b->o += r * d, b->mid += r * d, b->c += r * d;
    b->u += r * F, b->g += r * F, b->gd1 += r * F, b->gd2 += r * F;
    b->P += P;
    b->mean1 += r, b->rstd1 += r, b->mean2 += r, b->rstd2 += r;
  }
  for (size_t l = 0; l <= c->n_layers; l++) resv[l] = m->res[l] + r * d;
  w->tok += r;
  w->tgt += r;
  w->f += r * d;
  w->meanf += r;
  w->rstdf += r;
  w->p += r * V;
  w->z += r * V;
  if (!m->adj) return;
  /* the adjoint store of Hv (bot of layer l aliases top of layer l − 1,
   * and shifting every field alike keeps that) */
  w->adj = m->sub_adj;
  for (size_t l = 0; l < c->n_layers; l++) {
    tf_adj *q = &w->adj[l];
    *q = m->adj[l];
    q->top += r * d, q->mid += r * d, q->bot += r * d, q->dc += r * d;
    q->dob += r * d, q->dq += r * d, q->dk += r * d, q->dv += r * d;
    q->da += r * d, q->dg += r * F, q->du += r * F;
  }
  w->adz += r * V;
  w->adf += r * d;
}

/* One direction v over the chunk's B examples, sub-chunk by sub-chunk
 * (after the forward, and for Hv the plain backward into the store): the
 * tangent pass, the tangent of the cross-entropy's adjoint (dloss_t = 0;
 * for Gv that is H_z ż), then for Hv the R-backward, for Gv a plain
 * backward; out += the product. */
static void sub_products(tf_obj *m, const double *th, size_t B, double scale,
                         const double *v, double *out, int hessian) {
  size_t T = m->cfg.seq_len, V = m->cfg.vocab;
  for (size_t e0 = 0; e0 < B; e0 += TF_SUB) {
    size_t sb = B - e0 < TF_SUB ? B - e0 : TF_SUB;
    tf_obj w;
    sub_view(m, e0, &w, m->sub_lb, m->sub_res);
    run_tangent(&w, th, v, sb);
    double *dz = hessian ? w.dz_t : w.dz;
    zero(dz, sb * T * V);
    ph_nn_xent_tangent_backward(dz, 1.0, 0.0, w.p, w.z_t, w.tgt, sb * T, V,
                                scale);
    if (hessian)
      run_backward_tangent(&w, th, v, sb, w.adj, out);
    else
      run_backward(&w, th, sb, dz, NULL, out);
  }
}

/* HV_j = ∇²L V_j for j < k: per chunk one forward and one plain backward
 * (both cached for a one-chunk batch), then the tangent passes of each
 * direction, which are those of a single product: each HV_j is the same
 * bits as the single product of V_j. */
static ph_status tf_hvp_block(void *ctx, const double *th, const ph_batch *bt,
                              size_t k, const double *Vs, double *HV,
                              ph_error *err) {
  tf_obj *m = ctx;
  size_t cnt, T = m->cfg.seq_len, V = m->cfg.vocab, n = m->base.n;
  PH_TRY(batch_check(m, bt, &cnt, err));
  PH_TRY(need_targets(m, cnt, err));
  PH_TRY(adj_reserve(m, err));
  double scale = 1.0 / (double)cnt;
  zero(HV, k * n);
  for (size_t i0 = 0; i0 < bt->n; i0 += m->max_batch) {
    size_t B = bt->n - i0 < m->max_batch ? bt->n - i0 : m->max_batch;
    size_t NV = B * T * V;
    forward(m, th, bt, i0, B, 2);
    if (!m->c_adj) {
      zero(m->adz, NV);
      ph_nn_xent_backward(m->adz, 1.0, m->p, m->tgt, B * T, V, scale);
      run_backward(m, th, B, m->adz, m->adj, NULL);
      m->c_adj = m->c_order >= 0; /* kept only with a cached forward */
    }
    for (size_t j = 0; j < k; j++)
      sub_products(m, th, B, scale, Vs + j * n, HV + j * n, 1);
  }
  return PH_OK;
}

/* GV_j = Jᵀ H_z J V_j: per chunk one forward (cached for a one-chunk
 * batch), then per direction and sub-chunk the tangent pass, H_z ż and a
 * plain backward, as in a single product. */
static ph_status tf_ggnvp_block(void *ctx, const double *th, const ph_batch *bt,
                                size_t k, const double *Vs, double *GV,
                                ph_error *err) {
  tf_obj *m = ctx;
  size_t cnt, n = m->base.n;
  PH_TRY(batch_check(m, bt, &cnt, err));
  PH_TRY(need_targets(m, cnt, err));
  double scale = 1.0 / (double)cnt;
  zero(GV, k * n);
  for (size_t i0 = 0; i0 < bt->n; i0 += m->max_batch) {
    size_t B = bt->n - i0 < m->max_batch ? bt->n - i0 : m->max_batch;
    forward(m, th, bt, i0, B, 1);
    for (size_t j = 0; j < k; j++)
      sub_products(m, th, B, scale, Vs + j * n, GV + j * n, 0);
  }
  return PH_OK;
}

static ph_status tf_hvp(void *ctx, const double *th, const ph_batch *bt,
                        const double *v, double *hv, ph_error *err) {
  return tf_hvp_block(ctx, th, bt, 1, v, hv, err);
}

static ph_status tf_ggnvp(void *ctx, const double *th, const ph_batch *bt,
                          const double *v, double *gv, ph_error *err) {
  return tf_ggnvp_block(ctx, th, bt, 1, v, gv, err);
}

static ph_status tf_eval(void *ctx, const double *th, const ph_batch *bt,
                         double *loss, double *acc, ph_error *err) {
  tf_obj *m = ctx;
  size_t cnt, T = m->cfg.seq_len, V = m->cfg.vocab, correct = 0;
  PH_TRY(batch_check(m, bt, &cnt, err));
  PH_TRY(need_targets(m, cnt, err));
  double l = 0.0;
  for (size_t i0 = 0; i0 < bt->n; i0 += m->max_batch) {
    size_t B = bt->n - i0 < m->max_batch ? bt->n - i0 : m->max_batch;
    l += forward(m, th, bt, i0, B, 0);
    correct += ph_nn_xent_correct(m->z, m->tgt, B * T, V);
  }
  *loss = l / (double)cnt;
  if (acc) *acc = (double)correct / (double)cnt;
  return PH_OK;
}

ph_status ph_transformer_logits(ph_objective *o, const double *th,
                                const ph_batch *bt, double *z, ph_error *err) {
  if (!o || o->destroy != tf_destroy)
    return ph_error_set(err, PH_ERR_ARG, "not a transformer objective");
  tf_obj *m = o->ctx;
  size_t cnt, NV = m->cfg.seq_len * m->cfg.vocab;
  PH_TRY(batch_check(m, bt, &cnt, err));
  for (size_t i0 = 0; i0 < bt->n; i0 += m->max_batch) {
    size_t B = bt->n - i0 < m->max_batch ? bt->n - i0 : m->max_batch;
    forward(m, th, bt, i0, B, 0);
    memcpy(z + i0 * NV, m->z, B * NV * sizeof *z);
  }
  return PH_OK;
}

static ph_objective *tf_clone(const ph_objective *o, ph_error *err) {
  const tf_obj *m = o->ctx;
  ph_objective *c = NULL;
  if (ph_transformer_create(m->spec, m->data, m->max_batch, &c, err) != PH_OK)
    return NULL;
  return c;
}

/* -------------------------------------------------------------- creation */

static void add_block(tf_obj *m, size_t *nb, size_t *off, const char *name,
                      ph_block_kind kind, size_t r, size_t cols,
                      size_t *where) {
  ph_block *b = &m->blocks[(*nb)++];
  memset(b, 0, sizeof *b);
  snprintf(b->name, sizeof b->name, "%s", name);
  b->offset = *off;
  b->size = r * cols;
  b->kind = kind;
  b->ndim =
      cols > 1 || kind == PH_BLOCK_WEIGHT || kind == PH_BLOCK_EMBED ? 2 : 1;
  b->shape[0] = r;
  if (b->ndim == 2) b->shape[1] = cols;
  b->fan_out = r;
  b->fan_in = cols;
  *where = *off;
  *off += b->size;
}

static void layout(tf_obj *m, size_t *n_blocks, size_t *n) {
  const ph_transformer_config *c = &m->cfg;
  size_t d = c->d_model, F = c->d_ff, nb = 0, off = 0;
  char nm[PH_BLOCK_NAME_MAX];
  add_block(m, &nb, &off, "wte", PH_BLOCK_EMBED, c->vocab, d, &m->wte);
  add_block(m, &nb, &off, "wpe", PH_BLOCK_EMBED, c->seq_len, d, &m->wpe);
  for (size_t l = 0; l < c->n_layers; l++) {
    tf_lo *o = &m->lo[l];
#define BLK(suffix, kind, r, cols, field)                                      \
  do {                                                                         \
    snprintf(nm, sizeof nm, "h%zu.%s", l, suffix);                             \
    add_block(m, &nb, &off, nm, kind, r, cols, &o->field);                     \
  } while (0)
    BLK("ln1.g", PH_BLOCK_NORM, d, 1, ln1g);
    BLK("ln1.b", PH_BLOCK_NORM, d, 1, ln1b);
    BLK("attn.wq", PH_BLOCK_WEIGHT, d, d, wq);
    BLK("attn.bq", PH_BLOCK_BIAS, d, 1, bq);
    BLK("attn.wk", PH_BLOCK_WEIGHT, d, d, wk);
    BLK("attn.bk", PH_BLOCK_BIAS, d, 1, bk);
    BLK("attn.wv", PH_BLOCK_WEIGHT, d, d, wv);
    BLK("attn.bv", PH_BLOCK_BIAS, d, 1, bv);
    BLK("attn.wo", PH_BLOCK_WEIGHT, d, d, wo);
    BLK("attn.bo", PH_BLOCK_BIAS, d, 1, bo);
    BLK("ln2.g", PH_BLOCK_NORM, d, 1, ln2g);
    BLK("ln2.b", PH_BLOCK_NORM, d, 1, ln2b);
    BLK("mlp.w1", PH_BLOCK_WEIGHT, F, d, w1);
    BLK("mlp.b1", PH_BLOCK_BIAS, F, 1, b1);
    BLK("mlp.w2", PH_BLOCK_WEIGHT, d, F, w2);
    BLK("mlp.b2", PH_BLOCK_BIAS, d, 1, b2);
#undef BLK
  }
  add_block(m, &nb, &off, "lnf.g", PH_BLOCK_NORM, d, 1, &m->lnfg);
  add_block(m, &nb, &off, "lnf.b", PH_BLOCK_NORM, d, 1, &m->lnfb);
  add_block(m, &nb, &off, "head.w", PH_BLOCK_WEIGHT, c->vocab, d, &m->headw);
  add_block(m, &nb, &off, "head.b", PH_BLOCK_BIAS, c->vocab, 1, &m->headb);
  *n_blocks = nb;
  *n = off;
}

/* Carve the arena: first pass counts (base NULL), second assigns. */
static size_t carve(tf_obj *m, double *base) {
  const ph_transformer_config *c = &m->cfg;
  size_t Bm = m->max_batch, T = c->seq_len, d = c->d_model, F = c->d_ff,
         V = c->vocab, N = Bm * T, PT = Bm * c->n_heads * T * T, off = 0;
#define TAKE(ptr, cnt)                                                         \
  do {                                                                         \
    if (base) (ptr) = base + off;                                              \
    off += (cnt);                                                              \
  } while (0)
  TAKE(m->tok, N);
  for (size_t l = 0; l <= c->n_layers; l++) {
    TAKE(m->res[l], N * d);
    TAKE(m->res_t[l], N * d);
  }
  for (size_t l = 0; l < c->n_layers; l++) {
    tf_lb *b = &m->lb[l];
    TAKE(b->a, N * d);
    TAKE(b->q, N * d);
    TAKE(b->k, N * d);
    TAKE(b->v, N * d);
    TAKE(b->o, N * d);
    TAKE(b->mid, N * d);
    TAKE(b->c, N * d);
    TAKE(b->u, N * F);
    TAKE(b->g, N * F);
    TAKE(b->P, PT);
    TAKE(b->mean1, N);
    TAKE(b->rstd1, N);
    TAKE(b->mean2, N);
    TAKE(b->rstd2, N);
    TAKE(b->a_t, N * d);
    TAKE(b->q_t, N * d);
    TAKE(b->k_t, N * d);
    TAKE(b->v_t, N * d);
    TAKE(b->o_t, N * d);
    TAKE(b->mid_t, N * d);
    TAKE(b->c_t, N * d);
    TAKE(b->u_t, N * F);
    TAKE(b->g_t, N * F);
    TAKE(b->P_t, PT);
    TAKE(b->gd1, N * F);
    TAKE(b->gd2, N * F);
  }
  TAKE(m->f, N * d);
  TAKE(m->f_t, N * d);
  TAKE(m->meanf, N);
  TAKE(m->rstdf, N);
  TAKE(m->z, N * V);
  TAKE(m->z_t, N * V);
  TAKE(m->p, N * V);
  TAKE(m->dz, N * V);
  TAKE(m->dz_t, N * V);
  TAKE(m->dres, N * d);
  TAKE(m->da, N * d);
  TAKE(m->dq, N * d);
  TAKE(m->dk, N * d);
  TAKE(m->dv, N * d);
  TAKE(m->dob, N * d);
  TAKE(m->dc, N * d);
  TAKE(m->df, N * d);
  TAKE(m->dg, N * F);
  TAKE(m->du, N * F);
  TAKE(m->dres_t, N * d);
  TAKE(m->da_t, N * d);
  TAKE(m->dq_t, N * d);
  TAKE(m->dk_t, N * d);
  TAKE(m->dv_t, N * d);
  TAKE(m->dob_t, N * d);
  TAKE(m->dc_t, N * d);
  TAKE(m->df_t, N * d);
  TAKE(m->dg_t, N * F);
  TAKE(m->du_t, N * F);
  TAKE(m->work, ph_tf_attn_work_size(T));
  TAKE(m->c_theta, m->base.n);
#undef TAKE
  return off;
}

ph_status ph_transformer_create(const char *spec, const ph_dataset *data,
                                size_t max_batch, ph_objective **out,
                                ph_error *err) {
  *out = NULL;
  ph_transformer_config cfg;
  PH_TRY(ph_transformer_spec_parse(spec, &cfg, err));
  if (data->task != PH_TASK_SEQUENCE || data->in_ndim != 1 ||
      data->n_targets != data->in_size)
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "model '%s' needs a token data set (text, copy, "
                        "reverse, modadd); '%s' is not one",
                        spec, data->spec);
  if (max_batch == 0)
    return ph_error_set(err, PH_ERR_ARG, "model '%s': max_batch is 0", spec);
  cfg.seq_len = data->in_size;
  cfg.vocab = data->n_classes;
  if (cfg.seq_len == 0 || cfg.vocab == 0)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "data '%s': sequence length %zu, vocabulary %zu",
                        data->spec, cfg.seq_len, cfg.vocab);
  if (strlen(spec) >= sizeof(((tf_obj *)0)->spec))
    return ph_error_set(err, PH_ERR_ARG, "model spec too long: '%s'", spec);
  /* Tokens and targets are checked once here, so the kernels never index
   * out of range. */
  for (int s = 0; s < 2; s++) {
    size_t cnt = data->n[s] * cfg.seq_len;
    ph_status st = ph_tf_tokens_check(data->x[s], cnt, cfg.vocab, err);
    if (st == PH_OK) st = ph_tf_targets_check(data->y[s], cnt, cfg.vocab, err);
    if (st != PH_OK) {
      ph_error_prefix(err, "data '%s' (%s split): ", data->spec,
                      s ? "test" : "train");
      return st;
    }
  }

  tf_obj *m = ph_calloc(1, sizeof *m, "transformer", err);
  if (!m) return PH_ERR_NOMEM;
  m->cfg = cfg;
  m->data = data;
  m->max_batch = max_batch;
  snprintf(m->spec, sizeof m->spec, "%s", spec);
  snprintf(m->name, sizeof m->name, "%s on %s", spec, data->name);
  size_t L = cfg.n_layers, nblk = 6 + 16 * L;
  m->blocks = ph_calloc(nblk, sizeof *m->blocks, "transformer blocks", err);
  m->lo = ph_calloc(L, sizeof *m->lo, "transformer layers", err);
  m->lb = ph_calloc(L, sizeof *m->lb, "transformer buffers", err);
  m->res = ph_calloc(L + 1, sizeof *m->res, "transformer buffers", err);
  m->res_t = ph_calloc(L + 1, sizeof *m->res_t, "transformer buffers", err);
  m->sub_lb = ph_calloc(L, sizeof *m->sub_lb, "transformer buffers", err);
  m->sub_res = ph_calloc(L + 1, sizeof *m->sub_res, "transformer buffers", err);
  m->tgt = ph_calloc(max_batch * cfg.seq_len, sizeof *m->tgt,
                     "transformer targets", err);
  m->c_idx = ph_calloc(max_batch, sizeof *m->c_idx, "transformer cache", err);
  m->c_order = -1;
  ph_objective *o = &m->base;
  o->ctx = m;
  o->destroy = tf_destroy;
  if (!m->blocks || !m->lo || !m->lb || !m->res || !m->res_t || !m->tgt ||
      !m->c_idx || !m->sub_lb || !m->sub_res) {
    tf_destroy(o);
    return PH_ERR_NOMEM;
  }
  layout(m, &o->n_blocks, &o->n);
  size_t total = carve(m, NULL);
  m->arena = ph_calloc(total, sizeof *m->arena, "transformer activations", err);
  if (!m->arena) {
    tf_destroy(o);
    return PH_ERR_NOMEM;
  }
  carve(m, m->arena);
  o->name = m->name;
  o->blocks = m->blocks;
  o->n_examples[0] = data->n[0];
  o->n_examples[1] = data->n[1];
  o->has_accuracy = 1;
  o->loss_grad = tf_loss_grad;
  o->hvp = tf_hvp;
  o->ggnvp = tf_ggnvp;
  o->hvp_block = tf_hvp_block;
  o->ggnvp_block = tf_ggnvp_block;
  o->eval = tf_eval;
  o->clone = tf_clone;
  *out = o;
  return PH_OK;
}

static void tf_destroy(ph_objective *o) {
  if (!o) return;
  tf_obj *m = o->ctx;
  ph_free(m->arena);
  ph_free(m->blocks);
  ph_free(m->lo);
  ph_free(m->lb);
  ph_free(m->res);
  ph_free(m->res_t);
  ph_free(m->sub_lb);
  ph_free(m->sub_res);
  ph_free(m->tgt);
  ph_free(m->c_idx);
  ph_free(m->adj);
  ph_free(m->sub_adj);
  ph_free(m->adj_arena);
  ph_free(m);
}

ph_status ph_transformer_init_params(const ph_objective *o, uint64_t seed,
                                     double *theta, ph_error *err) {
  if (!o || o->destroy != tf_destroy)
    return ph_error_set(err, PH_ERR_ARG, "not a transformer objective");
  const tf_obj *m = o->ctx;
  ph_rng r = ph_rng_make(seed, PH_RNG_STREAM_INIT);
  double sd = 0.02, sd_res = 0.02 / sqrt(2.0 * (double)m->cfg.n_layers);
  for (size_t i = 0; i < o->n_blocks; i++) {
    const ph_block *b = &o->blocks[i];
    double *t = theta + b->offset;
    size_t len = strlen(b->name);
    if (b->kind == PH_BLOCK_WEIGHT || b->kind == PH_BLOCK_EMBED) {
      int resid = (len >= 7 && strcmp(b->name + len - 7, "attn.wo") == 0) ||
                  (len >= 6 && strcmp(b->name + len - 6, "mlp.w2") == 0);
      ph_rng_fill_gauss(&r, t, b->size, resid ? sd_res : sd);
    } else if (b->kind == PH_BLOCK_NORM && b->name[len - 1] == 'g') {
      for (size_t j = 0; j < b->size; j++) t[j] = 1.0;
    } else {
      zero(t, b->size);
    }
  }
  return PH_OK;
}

const ph_dataset *ph_transformer_dataset(const ph_objective *o) {
  return o && o->destroy == tf_destroy ? ((const tf_obj *)o->ctx)->data : NULL;
}

const char *ph_transformer_spec(const ph_objective *o) {
  return o && o->destroy == tf_destroy ? ((const tf_obj *)o->ctx)->spec : NULL;
}

int ph_transformer_config_of(const ph_objective *o,
                             ph_transformer_config *cfg) {
  if (!o || o->destroy != tf_destroy) return 0;
  *cfg = ((const tf_obj *)o->ctx)->cfg;
  return 1;
}
