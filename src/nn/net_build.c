/* net_build.c: model specs → a sequential network (MLP or CNN), its block
 * table, buffers and initialisation. Specs (docs/formats.md):
 *   linear                       softmax regression (or linear regression)
 *   mlp:H1-H2-...[:ACT]          dense hidden layers, ACT default relu; an
 *                                entry rH is a residual block
 *                                y = x + ACT(x Wᵀ + b), W (H, H)
 *   cnn[:LAYERS[:ACT]]           LAYERS like c8k3-p2-c16k3-p2-d64: cCkK conv
 *                                (C channels, K×K kernel, stride 1, "same"
 *                                padding), pK max pooling, aK average
 *                                pooling (size = stride = K), dH dense,
 *                                rH residual block (after a dense layer);
 *                                default cnn:c8k3-p2-c16k3-p2:relu
 * ACT: tanh, relu, gelu, softplus, sigmoid, identity. An activation follows
 * every conv and hidden dense layer; a final dense layer maps to the logits
 * (classes) or outputs (regression). On token data (linear and mlp only)
 * the T token ids are one-hot encoded (T·V inputs) and the last layer gives
 * T·V logits, one softmax over V per position. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/pool.h"
#include "core/rng.h"
#include "core/strnum.h"
#include "nn/net_int.h"

static const char *const ACT_NAMES[] = {"identity", "tanh",     "relu",
                                        "gelu",     "softplus", "sigmoid"};

const char *nn_act_name(nn_act a) {
  return ACT_NAMES[a];
}

static int parse_act(const char *s, nn_act *out) {
  for (int i = 0; i < 6; i++)
    if (strcmp(s, ACT_NAMES[i]) == 0) {
      *out = (nn_act)i;
      return 0;
    }
  return -1;
}

typedef struct plan_item {
  char type; /* 'c' conv, 'p' maxpool, 'a' avgpool, 'd' dense */
  size_t a, k;
} plan_item;

#define MAX_PLAN 32

/* Digits only (no sign, blank or hex); no digits give 0 with end == s,
 * which every caller refuses; overflow saturates and fails the range. */
static size_t uint_at(const char *s, char **end) {
  const char *e;
  size_t v = ph_str_uint(s, &e);
  *end = (char *)e;
  return v;
}

static ph_status parse_spec(const char *spec, plan_item *plan, size_t *n_plan,
                            nn_act *act, int *is_cnn, ph_error *err) {
  char buf[128];
  *n_plan = 0;
  *act = ACT_RELU;
  *is_cnn = 0;
  if (strlen(spec) >= sizeof buf)
    return ph_error_set(err, PH_ERR_ARG, "model spec '%s' is too long", spec);
  snprintf(buf, sizeof buf, "%s", spec);
  char *kind = buf, *layers = strchr(buf, ':'), *a = NULL;
  if (layers) {
    *layers++ = '\0';
    a = strchr(layers, ':');
    if (a) *a++ = '\0';
  }
  if (strcmp(kind, "linear") == 0) {
    if (layers)
      return ph_error_set(err, PH_ERR_ARG,
                          "model spec 'linear' takes no options");
    return PH_OK;
  }
  if (strcmp(kind, "cnn") == 0) {
    *is_cnn = 1;
    if (!layers || !*layers) {
      /* the default CNN; copied into buf because strtok_r writes */
      layers = buf + strlen(kind) + 1;
      snprintf(layers, sizeof buf - strlen(kind) - 1, "c8k3-p2-c16k3-p2");
    }
  } else if (strcmp(kind, "mlp") != 0)
    return ph_error_set(
        err, PH_ERR_ARG,
        "unknown model '%s' (linear, mlp:H-H:ACT, cnn[:LAYERS:ACT], "
        "transformer:dDhHlL)",
        spec);
  else if (!layers || !*layers)
    return ph_error_set(
        err, PH_ERR_ARG,
        "model spec '%s': mlp needs hidden sizes, e.g. mlp:64-64:tanh", spec);
  if (a && parse_act(a, act))
    return ph_error_set(err, PH_ERR_ARG,
                        "model spec '%s': unknown activation '%s'", spec, a);
  /* Split on '-' by hand: strtok would skip empty fields, so "mlp:-5" or
   * "mlp:64--64" would pass as "mlp:5" and "mlp:64-64". */
  for (char *tok = layers, *next; tok; tok = next) {
    next = strchr(tok, '-');
    if (next) *next++ = '\0';
    if (!*tok)
      return ph_error_set(err, PH_ERR_ARG,
                          "model spec '%s': empty layer (a stray '-')", spec);
    if (*n_plan >= MAX_PLAN)
      return ph_error_set(err, PH_ERR_ARG, "model spec '%s': too many layers",
                          spec);
    plan_item it = {0, 0, 0};
    char *end;
    if (tok[0] == 'r') { /* residual dense block of width H */
      it.type = 'r';
      it.a = uint_at(tok + 1, &end);
      if (*end || it.a == 0 || it.a > 100000) goto bad;
    } else if (!*is_cnn) {
      it.type = 'd';
      it.a = uint_at(tok, &end);
      if (*end || it.a == 0 || it.a > 100000)
        return ph_error_set(err, PH_ERR_ARG,
                            "model spec '%s': bad hidden size '%s'", spec, tok);
    } else {
      it.type = tok[0];
      if (it.type == 'c') {
        it.a = uint_at(tok + 1, &end);
        if (*end != 'k' || it.a == 0) goto bad;
        it.k = uint_at(end + 1, &end);
        if (*end || it.k == 0 || it.k % 2 == 0)
          goto bad; /* odd: "same" padding */
      } else if (it.type == 'p' || it.type == 'a') {
        it.k = uint_at(tok + 1, &end);
        if (*end || it.k < 2) goto bad;
      } else if (it.type == 'd') {
        it.a = uint_at(tok + 1, &end);
        if (*end || it.a == 0) goto bad;
      } else
        goto bad;
    }
    plan[(*n_plan)++] = it;
    continue;
  bad:
    return ph_error_set(
        err, PH_ERR_ARG,
        "model spec '%s': bad layer '%s' (cCkK with odd K, pK, aK, dH, rH)",
        spec, tok);
  }
  return PH_OK;
}

static ph_status add_block(nn_net *n, const char *name, int ndim,
                           const size_t *shape, ph_block_kind kind,
                           size_t *offset, ph_error *err) {
  ph_block *nb =
      ph_realloc(n->blocks, n->n_blocks + 1, sizeof *nb, "blocks", err);
  if (!nb) return PH_ERR_NOMEM;
  n->blocks = nb;
  ph_block *b = &n->blocks[n->n_blocks++];
  memset(b, 0, sizeof *b);
  snprintf(b->name, sizeof b->name, "%s", name);
  b->ndim = ndim;
  b->size = 1;
  for (int i = 0; i < ndim; i++) {
    b->shape[i] = shape[i];
    b->size *= shape[i];
  }
  b->kind = kind;
  b->offset = n->n_params;
  b->fan_out = shape[0];
  b->fan_in = b->size / shape[0];
  if (kind == PH_BLOCK_BIAS) b->fan_in = 1;
  *offset = n->n_params;
  n->n_params += b->size;
  return PH_OK;
}

static ph_status push_layer(nn_net *n, nn_layer l, ph_error *err) {
  nn_layer *nl =
      ph_realloc(n->layers, n->n_layers + 1, sizeof *nl, "layers", err);
  if (!nl) return PH_ERR_NOMEM;
  n->layers = nl;
  n->layers[n->n_layers++] = l;
  return PH_OK;
}

static ph_status add_dense(nn_net *n, size_t in, size_t out, int idx,
                           ph_error *err) {
  nn_layer l;
  memset(&l, 0, sizeof l);
  l.kind = NN_DENSE;
  l.n_in = in;
  l.n_out = out;
  l.in_size = in;
  l.out_size = out;
  char name[64];
  size_t ws[2] = {out, in}, bs[1] = {out};
  snprintf(name, sizeof name, "fc%d.weight", idx);
  l.w_block = (long)n->n_blocks;
  PH_TRY(add_block(n, name, 2, ws, PH_BLOCK_WEIGHT, &l.w_off, err));
  snprintf(name, sizeof name, "fc%d.bias", idx);
  l.b_block = (long)n->n_blocks;
  PH_TRY(add_block(n, name, 1, bs, PH_BLOCK_BIAS, &l.b_off, err));
  return push_layer(n, l, err);
}

static ph_status add_resdense(nn_net *n, size_t h, nn_act a, int idx,
                              ph_error *err) {
  PH_TRY(add_dense(n, h, h, idx, err));
  nn_layer *l = &n->layers[n->n_layers - 1];
  l->kind = NN_RESDENSE;
  l->act = a;
  return PH_OK;
}

static ph_status add_act(nn_net *n, nn_act a, size_t size, ph_error *err) {
  nn_layer l;
  memset(&l, 0, sizeof l);
  l.kind = NN_ACT;
  l.act = a;
  l.in_size = l.out_size = size;
  l.w_block = l.b_block = -1;
  return push_layer(n, l, err);
}

ph_status nn_spec_check(const char *spec, ph_error *err) {
  plan_item plan[MAX_PLAN];
  size_t n_plan;
  nn_act act;
  int is_cnn;
  return parse_spec(spec, plan, &n_plan, &act, &is_cnn, err);
}

ph_status nn_build(nn_net *n, const char *spec, const ph_dataset *d,
                   size_t max_batch, ph_error *err) {
  plan_item plan[MAX_PLAN];
  size_t n_plan;
  nn_act act;
  int is_cnn;
  PH_TRY(parse_spec(spec, plan, &n_plan, &act, &is_cnn, err));
  /* A model that cannot read the kind of data given is a usage error (the
   * --model and --data arguments conflict): PH_ERR_ARG, exit 2. */
  if (d->task == PH_TASK_SEQUENCE && is_cnn)
    return ph_error_set(err, PH_ERR_ARG,
                        "model %s cannot read token data (%s): use mlp:... or "
                        "transformer:dDhHlL",
                        spec, d->spec);
  if (d->task == PH_TASK_SEQUENCE &&
      (d->n_targets != d->in_size || d->n_classes == 0))
    return ph_error_set(
        err, PH_ERR_UNSUPPORTED,
        "model %s: token data %s has %zu inputs but %zu targets per example",
        spec, d->spec, d->in_size, d->n_targets);
  if (is_cnn && d->in_ndim != 3)
    return ph_error_set(
        err, PH_ERR_ARG,
        "model %s needs image data (C, H, W); %s has flat features", spec,
        d->spec);
  snprintf(n->spec, sizeof n->spec, "%s", spec);
  n->data = d;
  n->max_batch = max_batch ? max_batch : 256;
  n->loss_mse = d->task == PH_TASK_REGRESS;
  n->n_out = n->loss_mse ? d->n_out : d->n_classes;
  size_t c = is_cnn ? d->in_shape[0] : 0, h = is_cnn ? d->in_shape[1] : 0,
         w = is_cnn ? d->in_shape[2] : 0, size = d->in_size;
  if (d->task == PH_TASK_SEQUENCE) {
    n->seq_T = d->in_size;
    n->vocab = d->n_classes;
    n->n_out = n->seq_T * n->vocab;
    size = n->seq_T * n->vocab;
  }
  int conv_i = 0, fc_i = 0, flat = !is_cnn;
  for (size_t i = 0; i < n_plan; i++) {
    plan_item it = plan[i];
    if (it.type == 'c' || it.type == 'p' || it.type == 'a') {
      if (flat)
        return ph_error_set(err, PH_ERR_ARG,
                            "model spec '%s': conv/pool after a dense layer",
                            spec);
      nn_layer l;
      memset(&l, 0, sizeof l);
      l.c_in = c;
      l.hi = h;
      l.wi = w;
      l.in_size = c * h * w;
      l.w_block = l.b_block = -1;
      if (it.type == 'c') {
        l.kind = NN_CONV;
        l.k = it.k;
        l.stride = 1;
        l.pad = it.k / 2;
        l.c_out = it.a;
        l.ho = h;
        l.wo = w;
        char name[64];
        size_t ws[4] = {it.a, c, it.k, it.k}, bs[1] = {it.a};
        snprintf(name, sizeof name, "conv%d.weight", conv_i);
        l.w_block = (long)n->n_blocks;
        PH_TRY(add_block(n, name, 4, ws, PH_BLOCK_WEIGHT, &l.w_off, err));
        snprintf(name, sizeof name, "conv%d.bias", conv_i);
        l.b_block = (long)n->n_blocks;
        PH_TRY(add_block(n, name, 1, bs, PH_BLOCK_BIAS, &l.b_off, err));
        conv_i++;
      } else {
        if (h < it.k || w < it.k)
          return ph_error_set(err, PH_ERR_ARG,
                              "model spec '%s': pooling %zu on a %zux%zu map",
                              spec, it.k, h, w);
        l.kind = it.type == 'p' ? NN_MAXPOOL : NN_AVGPOOL;
        l.k = l.stride = it.k;
        l.c_out = c;
        l.ho = h / it.k;
        l.wo = w / it.k;
      }
      l.out_size = l.c_out * l.ho * l.wo;
      PH_TRY(push_layer(n, l, err));
      c = l.c_out;
      h = l.ho;
      w = l.wo;
      size = l.out_size;
      if (it.type == 'c') PH_TRY(add_act(n, act, size, err));
    } else if (it.type == 'r') {
      if (!flat && is_cnn)
        return ph_error_set(
            err, PH_ERR_ARG,
            "model spec '%s': residual block r%zu before a dense layer", spec,
            it.a);
      if (size != it.a)
        return ph_error_set(err, PH_ERR_ARG,
                            "model spec '%s': residual block r%zu on a layer "
                            "of width %zu (widths must match)",
                            spec, it.a, size);
      PH_TRY(add_resdense(n, size, act, fc_i++, err));
    } else {
      flat = 1;
      PH_TRY(add_dense(n, size, it.a, fc_i++, err));
      size = it.a;
      PH_TRY(add_act(n, act, size, err));
    }
  }
  PH_TRY(add_dense(n, size, n->n_out, fc_i, err));
  return nn_alloc_buffers(n, err);
}

ph_status nn_alloc_buffers(nn_net *n, ph_error *err) {
  size_t K = n->n_layers, B = n->max_batch;
  double ***bufs[4] = {&n->h, &n->dh, &n->th, &n->tdh};
  for (int k = 0; k < 4; k++) {
    *bufs[k] = ph_calloc(K + 1, sizeof(double *), "buffers", err);
    if (!*bufs[k]) return PH_ERR_NOMEM;
    for (size_t i = 0; i <= K; i++) {
      size_t sz = i == 0 ? n->layers[0].in_size : n->layers[i - 1].out_size;
      (*bufs[k])[i] =
          ph_calloc_lines(B * sz, sizeof(double), "activations", err);
      if (!(*bufs[k])[i]) return PH_ERR_NOMEM;
    }
  }
  n->h0_buf = n->h[0];
  for (size_t i = 0; i < K; i++) {
    nn_layer *l = &n->layers[i];
    if (l->kind == NN_CONV) {
      l->chunk = nn_conv_chunk_for(l);
      PH_TRY(nn_conv_alloc(l, err));
    }
    if ((l->kind == NN_ACT && l->act != ACT_RELU &&
         !nn_act_has_d1_from_output(l->act)) ||
        l->kind == NN_RESDENSE) {
      l->d1 = ph_malloc_lines(B * l->in_size, sizeof(double),
                              "activation derivatives", err);
      if (!l->d1) return PH_ERR_NOMEM;
    }
    if (l->kind == NN_RESDENSE) {
      double **r[4] = {&l->z, &l->dz, &l->tz, &l->tdz};
      for (int k = 0; k < 4; k++) {
        *r[k] = ph_calloc_lines(B * l->out_size, sizeof(double),
                                "residual block", err);
        if (!*r[k]) return PH_ERR_NOMEM;
      }
    }
    if (l->kind == NN_MAXPOOL) {
      l->arg = ph_calloc(B * l->out_size, sizeof(size_t), "pool indices", err);
      if (!l->arg) return PH_ERR_NOMEM;
    }
  }
  n->p = ph_calloc_lines(B * n->n_out, sizeof(double), "probabilities", err);
  n->labels =
      ph_calloc(B * (n->seq_T ? n->seq_T : 1), sizeof(int32_t), "labels", err);
  n->targets = ph_calloc_lines(B * n->n_out, sizeof(double), "targets", err);
  if (!n->p || !n->labels || !n->targets) return PH_ERR_NOMEM;
  return PH_OK;
}

void nn_par_free(nn_net *n) {
  ph_pool_free(n->pool); /* stop its threads before their networks go */
  n->pool = NULL;
  for (size_t w = 0; w < n->n_workers; w++) nn_free(n->workers[w]);
  for (size_t w = 0; w < PH_NN_MAX_THREADS; w++) {
    ph_free_lines(n->partial[w]);
    n->partial[w] = NULL;
  }
  n->n_workers = n->par_chunk = n->partial_len = 0;
}

void nn_free(nn_net *n) {
  if (!n) return;
  nn_par_free(n);
  if (n->h && n->h0_buf) n->h[0] = n->h0_buf; /* not the data's (gather) */
  double **bufs[4] = {n->h, n->dh, n->th, n->tdh};
  for (int k = 0; k < 4; k++) {
    if (bufs[k])
      for (size_t i = 0; i <= n->n_layers; i++) ph_free_lines(bufs[k][i]);
    free(bufs[k]);
  }
  for (size_t i = 0; i < n->n_layers; i++) {
    nn_conv_free(&n->layers[i]);
    free(n->layers[i].arg);
    ph_free_lines(n->layers[i].d1);
    ph_free_lines(n->layers[i].z);
    ph_free_lines(n->layers[i].dz);
    ph_free_lines(n->layers[i].tz);
    ph_free_lines(n->layers[i].tdz);
  }
  free(n->layers);
  free(n->blocks);
  ph_free_lines(n->p);
  free(n->labels);
  ph_free_lines(n->targets);
  free(n->c_theta);
  free(n->c_idx);
  free(n);
}

/* He normal (std √(2/fan_in)) before relu-like activations, Glorot normal
 * (std √(2/(fan_in+fan_out))) before tanh/sigmoid/identity and for the
 * output layer; biases 0. Drawn from (seed, PH_RNG_STREAM_INIT). */
void nn_init_params(const nn_net *n, uint64_t seed, double *theta,
                    ph_progress *pg) {
  size_t drawn = 0;
  ph_rng r = ph_rng_make(seed, PH_RNG_STREAM_INIT);
  memset(theta, 0, n->n_params * sizeof *theta);
  for (size_t i = 0; i < n->n_layers; i++) {
    const nn_layer *l = &n->layers[i];
    if (l->kind != NN_DENSE && l->kind != NN_CONV && l->kind != NN_RESDENSE)
      continue;
    const ph_block *b = &n->blocks[l->w_block];
    nn_act next = (i + 1 < n->n_layers && n->layers[i + 1].kind == NN_ACT)
                      ? n->layers[i + 1].act
                      : ACT_IDENTITY;
    if (l->kind == NN_RESDENSE) next = l->act;
    int he = next == ACT_RELU || next == ACT_GELU || next == ACT_SOFTPLUS;
    double fan_out =
        (double)(l->kind == NN_CONV ? l->c_out * l->k * l->k : l->n_out);
    double sd = he ? sqrt(2.0 / (double)b->fan_in)
                   : sqrt(2.0 / ((double)b->fan_in + fan_out));
    /* In slices, for the progress bar: the draws are sequential, so the
     * values do not depend on the slicing. A 15000x15000 layer takes
     * about a minute. */
    const size_t slice = (size_t)1 << 20;
    for (size_t o = 0; o < b->size; o += slice) {
      size_t m = b->size - o < slice ? b->size - o : slice;
      ph_rng_fill_gauss(&r, theta + l->w_off + o, m, sd);
      drawn += m;
      ph_progress_update(pg, drawn, NULL);
    }
  }
}
