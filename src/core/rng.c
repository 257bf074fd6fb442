/* rng.c: Philox4x32-10 counter-based generator (see rng.h).
 * Reference: Salmon, Moraes, Dror, Shaw, SC 2011. The round constants are
 * the published ones; tests/core checks the published known-answer vectors. */
#include "core/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void ph_philox4x32_10(const uint32_t ctr_in[4], const uint32_t key_in[2],
                      uint32_t out[4]);

void ph_philox4x32_10(const uint32_t ctr_in[4], const uint32_t key_in[2],
                      uint32_t out[4]) {
  uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
  uint32_t k0 = key_in[0], k1 = key_in[1];
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
    uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/* Counter = (index, stream); key = seed. One block gives 128 bits; we use the
 * first 64 so that index maps to exactly one draw. */
uint64_t ph_rng_bits_at(uint64_t seed, uint64_t stream, uint64_t index) {
  uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)stream,
                     (uint32_t)(stream >> 32)};
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  uint32_t out[4];
  ph_philox4x32_10(ctr, key, out);
  return ((uint64_t)out[1] << 32) | out[0];
}

ph_rng ph_rng_make(uint64_t seed, uint64_t stream) {
  ph_rng r = {seed, stream, 0};
  return r;
}

uint64_t ph_rng_u64(ph_rng *r) {
  return ph_rng_bits_at(r->seed, r->stream, r->counter++);
}

double ph_rng_uniform(ph_rng *r) {
  return (double)(ph_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t ph_rng_below(ph_rng *r, uint64_t n) {
  /* Reject the top partial range so every residue is equally likely. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = ph_rng_u64(r);
  while (x >= limit);
  return x % n;
}

double ph_rng_gauss(ph_rng *r) {
  double u1 = ((double)(ph_rng_u64(r) >> 11) + 0.5) * 0x1.0p-53; /* (0,1) */
  double u2 = ph_rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double ph_rng_rademacher(ph_rng *r) {
  return (ph_rng_u64(r) >> 63) ? 1.0 : -1.0;
}

void ph_rng_fill_gauss(ph_rng *r, double *x, size_t n, double stddev) {
  for (size_t i = 0; i < n; i++) x[i] = stddev * ph_rng_gauss(r);
}

void ph_rng_fill_uniform(ph_rng *r, double *x, size_t n, double lo, double hi) {
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * ph_rng_uniform(r);
}

void ph_rng_fill_rademacher(ph_rng *r, double *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = ph_rng_rademacher(r);
}

void ph_rng_permutation(ph_rng *r, size_t *perm, size_t n) {
  for (size_t i = 0; i < n; i++) perm[i] = i;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)ph_rng_below(r, i);
    size_t t = perm[i - 1];
    perm[i - 1] = perm[j];
    perm[j] = t;
  }
}
