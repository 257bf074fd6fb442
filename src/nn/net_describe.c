/* net_describe.c: a model's layers in order as the "layers" array of
 * `pothole export`'s model.json (docs/formats.md): enough, with the
 * parameter table, for any framework to rebuild the same function
 * (tests/bench/products_torch.py does it in PyTorch); and the GEMMs of a
 * gradient, for the benchmark that times them alone. */
#include <stdio.h>

#include "core/json.h"
#include "nn/net.h"
#include "nn/net_int.h"
#include "nn/transformer.h"

static cJSON *seq_layers(const nn_net *n) {
  cJSON *a = cJSON_CreateArray();
  int flattened = 0;
  if (n->seq_T) { /* token ids [N, T] → one-hot [N, T·V] */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "one_hot");
    ph_json_add_number(o, "vocab", (double)n->vocab);
    cJSON_AddItemToArray(a, o);
  }
  for (size_t i = 0; i < n->n_layers; i++) {
    const nn_layer *l = &n->layers[i];
    cJSON *o = cJSON_CreateObject();
    if ((l->kind == NN_DENSE || l->kind == NN_RESDENSE) && !flattened) {
      if (n->data->in_ndim == 3) {
        cJSON_AddStringToObject(o, "type", "flatten");
        cJSON_AddItemToArray(a, o);
        o = cJSON_CreateObject();
      }
      flattened = 1;
    }
    switch (l->kind) {
    case NN_DENSE:
      cJSON_AddStringToObject(o, "type", "dense");
      ph_json_add_number(o, "in", (double)l->n_in);
      ph_json_add_number(o, "out", (double)l->n_out);
      cJSON_AddStringToObject(o, "weight", n->blocks[l->w_block].name);
      cJSON_AddStringToObject(o, "bias", n->blocks[l->b_block].name);
      break;
    case NN_CONV: {
      cJSON_AddStringToObject(o, "type", "conv2d");
      ph_json_add_number(o, "in_channels", (double)l->c_in);
      ph_json_add_number(o, "out_channels", (double)l->c_out);
      double k[2] = {(double)l->k, (double)l->k};
      cJSON_AddItemToObject(o, "kernel", ph_json_array(k, 2));
      ph_json_add_number(o, "stride", (double)l->stride);
      ph_json_add_number(o, "padding", (double)l->pad);
      cJSON_AddStringToObject(o, "weight", n->blocks[l->w_block].name);
      cJSON_AddStringToObject(o, "bias", n->blocks[l->b_block].name);
      break;
    }
    case NN_MAXPOOL:
    case NN_AVGPOOL:
      cJSON_AddStringToObject(o, "type",
                              l->kind == NN_MAXPOOL ? "maxpool" : "avgpool");
      ph_json_add_number(o, "size", (double)l->k);
      ph_json_add_number(o, "stride", (double)l->stride);
      break;
    case NN_ACT: cJSON_AddStringToObject(o, "type", nn_act_name(l->act)); break;
    case NN_FLATTEN: cJSON_AddStringToObject(o, "type", "flatten"); break;
    case NN_RESDENSE: /* y = x + act(x·Wᵀ + b) */
      cJSON_AddStringToObject(o, "type", "residual_dense");
      ph_json_add_number(o, "in", (double)l->n_in);
      ph_json_add_number(o, "out", (double)l->n_out);
      cJSON_AddStringToObject(o, "activation", nn_act_name(l->act));
      cJSON_AddStringToObject(o, "weight", n->blocks[l->w_block].name);
      cJSON_AddStringToObject(o, "bias", n->blocks[l->b_block].name);
      break;
    }
    cJSON_AddItemToArray(a, o);
  }
  if (n->seq_T) { /* logits [N, T·V] → [N, T, V], one softmax per position */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "reshape");
    double sh[2] = {(double)n->seq_T, (double)n->vocab};
    cJSON_AddItemToObject(o, "shape", ph_json_array(sh, 2));
    cJSON_AddItemToArray(a, o);
  }
  return a;
}

static cJSON *tf_layers(const ph_objective *o) {
  ph_transformer_config c;
  ph_transformer_config_of(o, &c);
  cJSON *a = cJSON_CreateArray(), *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "type", "embedding");
  ph_json_add_number(e, "vocab", (double)c.vocab);
  ph_json_add_number(e, "d", (double)c.d_model);
  ph_json_add_number(e, "seq_len", (double)c.seq_len);
  cJSON_AddStringToObject(e, "token", "wte");
  cJSON_AddStringToObject(e, "position", "wpe");
  cJSON_AddItemToArray(a, e);
  static const char *const attn[] = {"wq", "bq", "wk", "bk",
                                     "wv", "bv", "wo", "bo"};
  static const char *const mlp[] = {"w1", "b1", "w2", "b2"};
  char nm[64];
  for (size_t l = 0; l < c.n_layers; l++) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "transformer_block");
    ph_json_add_number(b, "d", (double)c.d_model);
    ph_json_add_number(b, "heads", (double)c.n_heads);
    ph_json_add_number(b, "d_ff", (double)c.d_ff);
    ph_json_add_number(b, "eps", 1e-5);
    cJSON_AddStringToObject(b, "norm", "pre");
    cJSON_AddStringToObject(b, "activation", "gelu");
    cJSON_AddBoolToObject(b, "causal", 1);
    const char *lns[2] = {"ln1", "ln2"};
    for (int q = 0; q < 2; q++) {
      cJSON *ln = cJSON_AddObjectToObject(b, lns[q]);
      snprintf(nm, sizeof nm, "h%zu.%s.g", l, lns[q]);
      cJSON_AddStringToObject(ln, "g", nm);
      snprintf(nm, sizeof nm, "h%zu.%s.b", l, lns[q]);
      cJSON_AddStringToObject(ln, "b", nm);
    }
    cJSON *at = cJSON_AddObjectToObject(b, "attn");
    for (int q = 0; q < 8; q++) {
      snprintf(nm, sizeof nm, "h%zu.attn.%s", l, attn[q]);
      cJSON_AddStringToObject(at, attn[q], nm);
    }
    cJSON *ml = cJSON_AddObjectToObject(b, "mlp");
    for (int q = 0; q < 4; q++) {
      snprintf(nm, sizeof nm, "h%zu.mlp.%s", l, mlp[q]);
      cJSON_AddStringToObject(ml, mlp[q], nm);
    }
    cJSON_AddItemToArray(a, b);
  }
  cJSON *f = cJSON_CreateObject();
  cJSON_AddStringToObject(f, "type", "layernorm");
  ph_json_add_number(f, "d", (double)c.d_model);
  ph_json_add_number(f, "eps", 1e-5);
  cJSON_AddStringToObject(f, "g", "lnf.g");
  cJSON_AddStringToObject(f, "b", "lnf.b");
  cJSON_AddItemToArray(a, f);
  cJSON *h = cJSON_CreateObject();
  cJSON_AddStringToObject(h, "type", "dense");
  ph_json_add_number(h, "in", (double)c.d_model);
  ph_json_add_number(h, "out", (double)c.vocab);
  cJSON_AddStringToObject(h, "weight", "head.w");
  cJSON_AddStringToObject(h, "bias", "head.b");
  cJSON_AddItemToArray(a, h);
  return a;
}

cJSON *ph_net_describe_layers(const ph_objective *o) {
  const nn_net *net = nn_of(o);
  return net ? seq_layers(net) : tf_layers(o);
}

/* One gradient's GEMMs, grouped by shape and beta (docs: net.h). Per
 * dense layer: forward Y = X Wᵀ, dW = dYᵀ X, and dX = dY W except for
 * layer 0; per conv layer the same three on each chunk's im2col columns
 * (forward (c_out, E·hw) = W (c_out, kk) · cols (kk, E·hw), dW += dy colsᵀ,
 * dcols = Wᵀ dy; E = the layer's chunk, layers_conv.c), the last chunk
 * possibly smaller. */
static size_t put_gemm(ph_net_gemm *out, size_t max, size_t k,
                       const ph_net_gemm *g, int beta, size_t count) {
  if (count && k < max) {
    out[k] = *g;
    out[k].count = count;
    out[k].beta = beta;
  }
  return count ? k + 1 : k;
}

/* One layer's GEMMs for a product kind, as its code calls them: F the
 * forward shape, G the weight adjoint's, D the input adjoint's, each call
 * c times (a conv layer's chunks). has_in: the layer has an input adjoint
 * and a tangent input ẋ (every layer but layer 0, to which net_obj.c
 * passes neither). fb is the beta of the forward and of the tangent
 * forward's first term (V·x), db that of the input adjoint and of the
 * tangent backward's first term (ḋy W): 1 for a dense layer's forward
 * (added to the bias rows) and a residual block's input adjoint (added to
 * the skip's dy), else 0 (ph_nn_dense_dx_set, gemm_fx, affine). The terms
 * after a first one (W·ẋ, dy V) and every weight adjoint add (beta 1).
 * Gradient: F, G, D. Hv (forward-over-reverse, layers.c and
 * layers_tangent.c): the forward F and the backward's adjoint D (no weight
 * product), the tangent forward V·x (F) and W·ẋ (F), the tangent
 * backward's ḋy·x (G) and dy·ẋ (G), and ḋx = ḋy W + dy V (D, D). Gv: F,
 * the tangent forward (F, F) and the first-order tangent backward (G, D).
 * Calls of one shape with one beta are one entry. */
static size_t put_layer(ph_net_gemm *out, size_t max, size_t k,
                        ph_net_product kind, int has_in, int fb, int db,
                        const ph_net_gemm *F, const ph_net_gemm *G,
                        const ph_net_gemm *D, size_t c) {
  int tan = kind != PH_NET_GRAD, hv = kind == PH_NET_HVP;
  size_t f_first = 1 + (size_t)tan, f_add = (size_t)(tan && has_in),
         g_add = 1 + (size_t)(hv && has_in),
         d_first = has_in ? 1 + (size_t)hv : 0, d_add = (size_t)(hv && has_in);
  if (fb)
    k = put_gemm(out, max, k, F, 1, (f_first + f_add) * c);
  else {
    k = put_gemm(out, max, k, F, 0, f_first * c);
    k = put_gemm(out, max, k, F, 1, f_add * c);
  }
  k = put_gemm(out, max, k, G, 1, g_add * c);
  if (db) return put_gemm(out, max, k, D, 1, (d_first + d_add) * c);
  k = put_gemm(out, max, k, D, 0, d_first * c);
  return put_gemm(out, max, k, D, 1, d_add * c);
}

size_t ph_net_product_gemms(const ph_objective *o, ph_net_product kind,
                            size_t batch, ph_net_gemm *out, size_t max) {
  const nn_net *net = nn_of(o);
  if (!net) return 0;
  size_t k = 0;
  for (size_t i = 0; i < net->n_layers; i++) {
    const nn_layer *l = &net->layers[i];
    int has_in = i > 0;
    if (l->kind == NN_DENSE || l->kind == NN_RESDENSE) {
      /* a dense layer through ph_nn_gemm_acc / ph_nn_gemm_set (dense.c);
       * a residual block through cblas_dgemm (layers_residual.c) */
      int res = l->kind == NN_RESDENSE;
      size_t M = batch, K = l->n_in, N = l->n_out;
      ph_net_gemm F = {M, N, K, 0, 1, 1, 0, !res, 0},
                  G = {N, K, M, 1, 0, 1, 0, !res, 0},
                  D = {M, K, N, 0, 0, 1, 0, !res, 0};
      k = put_layer(out, max, k, kind, has_in, !res, res, &F, &G, &D, 1);
    } else if (l->kind == NN_CONV) {
      size_t step = l->chunk ? l->chunk : 1, full = batch / step,
             rest = batch % step, CO = l->c_out, KK = l->c_in * l->k * l->k;
      for (int part = 0; part < 2; part++) {
        size_t E = part ? rest : step, c = part ? (rest != 0) : full,
               HW = l->ho * l->wo * E;
        int rt = nn_conv_gemm_routed();
        ph_net_gemm F = {CO, HW, KK, 0, 0, 1, 1, rt, 0},
                    G = {CO, KK, HW, 0, 1, 1, 1, 0, 0},
                    D = {KK, HW, CO, 1, 0, 1, 1, rt, 0};
        k = put_layer(out, max, k, kind, has_in, 0, 0, &F, &G, &D, c);
      }
    }
  }
  return k;
}

size_t ph_net_gradient_gemms(const ph_objective *o, size_t batch,
                             ph_net_gemm *out, size_t max) {
  return ph_net_product_gemms(o, PH_NET_GRAD, batch, out, max);
}
