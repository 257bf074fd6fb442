/* transformer.h: the decoder-only transformer objective behind model specs
 * "transformer:dDhHlL" (e.g. transformer:d32h2l2: d_model 32, 2 heads,
 * 2 layers) on token data sets (PH_TASK_SEQUENCE: text, copy, reverse,
 * modadd). ph_net_create hands specs starting with "transformer:" here.
 *
 * Architecture (pre-LN, GPT-2 style, no dropout): token + learned positional
 * embedding; L blocks x ← x + attn(LN1(x)), x ← x + MLP(LN2(x)) with a 4d
 * GELU (erf) hidden layer; final LN; untied output head to the vocabulary.
 * Loss: softmax cross-entropy summed over the positions that have a target
 * (target −1 = none) divided by the number of such positions in the batch.
 * Parameter names and order (the flat θ): docs/autodiff-transformer.md.
 */
#ifndef PH_NN_TRANSFORMER_H
#define PH_NN_TRANSFORMER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/objective.h"
#include "data/dataset.h"

typedef struct ph_transformer_config {
  size_t d_model;
  size_t n_heads;
  size_t n_layers;
  size_t d_ff;    /* 4·d_model */
  size_t seq_len; /* T, from the data */
  size_t vocab;   /* V, from the data */
} ph_transformer_config;

/* Parse "transformer:d32h2l2" (sizes only; seq_len and vocab stay 0).
 * PH_ERR_ARG with the offending part on a malformed spec. */
ph_status ph_transformer_spec_parse(const char *spec,
                                    ph_transformer_config *cfg, ph_error *err);

/* The objective (see objective.h) for `spec` on `data` (borrowed; must
 * outlive the objective). Buffers are sized for max_batch examples; larger
 * batches are processed in chunks of max_batch (results identical up to
 * rounding). PH_ERR_UNSUPPORTED if the data set is not a token task. */
ph_status ph_transformer_create(const char *spec, const ph_dataset *data,
                                size_t max_batch, ph_objective **out,
                                ph_error *err);

/* GPT-2 initialisation from (seed, PH_RNG_STREAM_INIT): weights and
 * embeddings N(0, 0.02²), the residual output projections (attn.wo, mlp.w2)
 * N(0, (0.02/√(2L))²), biases 0, layer-norm gains 1 and shifts 0. */
ph_status ph_transformer_init_params(const ph_objective *o, uint64_t seed,
                                     double *theta, ph_error *err);

/* Logits for the batch's examples: z (b->n, T, V) row-major, position t of
 * example i at row i·T + t (in chunks of max_batch). For export and tests. */
ph_status ph_transformer_logits(ph_objective *o, const double *theta,
                                const ph_batch *b, double *z, ph_error *err);

/* NULL (and ph_transformer_config_of returns 0) if `o` is not a transformer
 * objective, so net.c can ask every builder in turn. */
const ph_dataset *ph_transformer_dataset(const ph_objective *o);
const char *ph_transformer_spec(const ph_objective *o);
int ph_transformer_config_of(const ph_objective *o, ph_transformer_config *cfg);

#endif
