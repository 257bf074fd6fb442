/* batcher.c: minibatches without replacement (see dataset.h). Epoch e's
 * order is the permutation drawn from (seed, PH_RNG_STREAM_BATCH + 0, counter
 * starting at e << 32), so any (epoch, position) can be restored exactly. */
#include <stdlib.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "data/dataset.h"

static void draw_epoch(ph_batcher *b) {
  ph_rng r = ph_rng_make(b->seed, PH_RNG_STREAM_BATCH);
  r.counter = b->epoch << 32;
  ph_rng_permutation(&r, b->perm, b->n);
}

ph_status ph_batcher_init(ph_batcher *b, ph_split split, size_t n, size_t batch,
                          uint64_t seed, ph_error *err) {
  b->perm = NULL;
  if (n == 0)
    return ph_error_set(err, PH_ERR_ARG, "batcher: the split is empty");
  if (batch == 0) return ph_error_set(err, PH_ERR_ARG, "batcher: batch size 0");
  b->n = n;
  b->batch = batch < n ? batch : n;
  b->seed = seed;
  b->epoch = 0;
  b->pos = 0;
  b->split = split;
  b->perm = ph_malloc(n, sizeof(size_t), "batch order", err);
  if (!b->perm) return PH_ERR_NOMEM;
  draw_epoch(b);
  return PH_OK;
}

void ph_batcher_next(ph_batcher *b, ph_batch *out) {
  if (b->pos + b->batch > b->n) { /* drop the incomplete tail */
    b->epoch++;
    b->pos = 0;
    draw_epoch(b);
  }
  out->split = b->split;
  out->idx = b->perm + b->pos;
  out->n = b->batch;
  b->pos += b->batch;
}

void ph_batcher_seek(ph_batcher *b, uint64_t epoch, size_t pos) {
  b->epoch = epoch;
  b->pos = pos;
  draw_epoch(b);
}

void ph_batcher_free(ph_batcher *b) {
  free(b->perm);
  b->perm = NULL;
}
