/* dataset.h: data sets and minibatches.
 *
 * Every data set is held in memory after preprocessing, as two splits
 * (train, test) of examples with float64 features and integer (or, for
 * regression, float64) targets. Specs:
 *   digits                 UCI 8x8 digits, shipped in data/ (1,797 x 64)
 *   fashion-mnist[:DIR]    IDX gzip files (default
 * /usr/share/datasets/fashion-mnist) idx:PREFIX             generic IDX pair
 * PREFIX-images/labels (see README) csv:PATH               features..., label
 * per row text[:PATH]            character-level corpus (default: Moby-Dick,
 * shipped) blobs, spirals, teacher, modadd:P, copy, reverse   synthetic, from
 * the seed with options after commas where a loader takes them (see README
 * "Data").
 *
 * Token data (text, modadd, copy, reverse): inputs are token ids stored as
 * doubles in [0, vocab); targets are one per position (n_targets = seq_len),
 * -1 meaning "no target here" (e.g. modadd predicts only the last position).
 */
#ifndef PH_DATA_DATASET_H
#define PH_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/objective.h"

#define PH_DATA_SPEC_MAX 512

typedef enum ph_task {
  PH_TASK_CLASSIFY = 0, /* one class label per example, softmax CE */
  PH_TASK_SEQUENCE,     /* token inputs, one label per position, softmax CE */
  PH_TASK_REGRESS       /* float targets (n_out per example), MSE */
} ph_task;

typedef struct ph_dataset {
  char spec[PH_DATA_SPEC_MAX]; /* as given */
  char name[32];               /* "digits", "fashion-mnist", ... */
  ph_task task;
  size_t n[2]; /* examples per split (PH_SPLIT_TRAIN/TEST) */
  int in_ndim; /* 1 (features or tokens) or 3 (C, H, W) */
  size_t in_shape[3];
  size_t in_size;       /* features (or tokens) per example */
  size_t n_classes;     /* classes, or vocabulary size for tokens */
  size_t n_targets;     /* 1, or seq_len for PH_TASK_SEQUENCE */
  size_t n_out;         /* outputs per example for PH_TASK_REGRESS */
  double *x[2];         /* (n, in_size) row-major */
  int32_t *y[2];        /* (n, n_targets); NULL for regression */
  double *t[2];         /* (n, n_out) regression targets; else NULL */
  uint32_t checksum;    /* CRC-32 over both splits' x and y/t */
  char provenance[256]; /* where the data came from */
} ph_dataset;

typedef struct ph_data_options {
  uint64_t seed;    /* synthetic generation and random splits */
  int standardize;  /* 1: per-feature z-score from train statistics
                       (default for real-valued features) */
  size_t max_train; /* 0 = all; else keep the first max_train */
  size_t max_test;
  size_t seq_len; /* token tasks (text default 64) */
} ph_data_options;

/* Defaults: seed 0, standardize 1, no caps, seq_len 64. */
ph_data_options ph_data_options_default(void);

/* Parse a spec and load it. A bad spec is PH_ERR_ARG; missing, truncated or
 * corrupt files are PH_ERR_IO / PH_ERR_FORMAT with the file named. */
ph_status ph_dataset_load(const char *spec, const ph_data_options *opt,
                          ph_dataset **out, ph_error *err);
void ph_dataset_free(ph_dataset *d);

/* Hold out a validation split: the last n_val examples of the train split
 * (after any --n cap) replace the test split, and the train split keeps the
 * rest, so tuning never sees the test examples (`pothole train --val N`).
 * Standardisation statistics stay those of the whole train split. PH_ERR_ARG
 * unless 0 < n_val < n_train. */
ph_status ph_dataset_hold_out(ph_dataset *d, size_t n_val, ph_error *err);

/* Minibatches without replacement: each epoch is a permutation of the split
 * drawn from (seed, PH_RNG_STREAM_BATCH, epoch), so the order is a pure
 * function of the seed and the position can be saved and restored. The last
 * incomplete batch of an epoch is dropped (all batches have the same size;
 * batch >= n uses the whole split each step). */
typedef struct ph_batcher {
  size_t n;     /* examples in the split */
  size_t batch; /* batch size (clamped to n) */
  uint64_t seed;
  uint64_t epoch;
  size_t pos;   /* next position within the epoch's permutation */
  size_t *perm; /* (n) the current epoch's order */
  ph_split split;
} ph_batcher;

ph_status ph_batcher_init(ph_batcher *b, ph_split split, size_t n, size_t batch,
                          uint64_t seed, ph_error *err);
/* The next batch; idx points into b->perm (valid until the next call). */
void ph_batcher_next(ph_batcher *b, ph_batch *out);
/* Jump to (epoch, pos), e.g. on resume. */
void ph_batcher_seek(ph_batcher *b, uint64_t epoch, size_t pos);
void ph_batcher_free(ph_batcher *b);

#endif
