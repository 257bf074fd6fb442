/* rng.h: counter-based random numbers.
 *
 * A number is a pure function of (seed, stream, index): Philox4x32-10
 * (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
 * So probe i of an SLQ run, example j of a synthetic data set or grid point k
 * get the same numbers whatever the thread count or order of evaluation.
 * There is no global state: a ph_rng is a (seed, stream, counter) triple the
 * caller owns, and saving it in a checkpoint is saving three integers.
 */
#ifndef PH_CORE_RNG_H
#define PH_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct ph_rng {
  uint64_t seed;
  uint64_t stream;
  uint64_t counter; /* index of the next 64-bit draw */
} ph_rng;

/* Well-known streams, so different uses of one seed never overlap. Modules
 * may use any other value (e.g. PH_RNG_STREAM_USER + k). */
enum {
  PH_RNG_STREAM_INIT = 1,      /* parameter initialisation */
  PH_RNG_STREAM_DATA = 2,      /* synthetic data generation */
  PH_RNG_STREAM_SPLIT = 3,     /* train/test split */
  PH_RNG_STREAM_BATCH = 4,     /* minibatch order */
  PH_RNG_STREAM_PROBE = 5,     /* Hutchinson / SLQ / Lanczos start vectors */
  PH_RNG_STREAM_DIRECTION = 6, /* landscape directions */
  PH_RNG_STREAM_OPTIM = 7,     /* optimiser-internal (LLQR refresh batches) */
  PH_RNG_STREAM_TOY = 8,       /* toy landscapes: noise sample, starts */
  PH_RNG_STREAM_USER = 1000
};

ph_rng ph_rng_make(uint64_t seed, uint64_t stream);

/* The pure function behind everything: 64 random bits at (seed, stream, i). */
uint64_t ph_rng_bits_at(uint64_t seed, uint64_t stream, uint64_t index);

uint64_t ph_rng_u64(ph_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double ph_rng_uniform(ph_rng *r);
/* Uniform integer in [0, n), unbiased (rejection). n > 0. */
uint64_t ph_rng_below(ph_rng *r, uint64_t n);
/* Standard normal (Box-Muller on two uniforms; consumes two draws). */
double ph_rng_gauss(ph_rng *r);
/* +1 or -1 with equal probability. */
double ph_rng_rademacher(ph_rng *r);

/* Fill helpers. */
void ph_rng_fill_gauss(ph_rng *r, double *x, size_t n, double stddev);
void ph_rng_fill_uniform(ph_rng *r, double *x, size_t n, double lo, double hi);
void ph_rng_fill_rademacher(ph_rng *r, double *x, size_t n);
/* perm[0..n) = a uniformly random permutation of 0..n-1 (Fisher-Yates). */
void ph_rng_permutation(ph_rng *r, size_t *perm, size_t n);

#endif
