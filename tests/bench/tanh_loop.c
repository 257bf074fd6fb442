/* tanh_loop.c: the cost per value of the vectorised tanh (nn/vmath.h) as
 * the MLPs call it: ph_vmath_tanh (y only, an evaluation's or a gradient's
 * forward) and ph_vmath_tanh_d with y and σ' (an Hv or Gv forward), on n
 * values uniform in [−3, 3] (pre-activations of mlp:64-64:tanh on digits
 * lie mostly there; the kernel has no branch, so the values only matter
 * through the tiny and clamped lanes). Prints the minimum and median
 * process CPU time per value over the repetitions, and a hash of every
 * output bit, so that two builds can be compared for speed and for bits
 * (docs/performance-history.md, "Ninth session: the tanh kernel";
 * docs/performance.md, "The tanh kernel in lockstep"). Not built by meson:
 *   gcc -O2 -Isrc tests/bench/tanh_loop.c -o tanh_loop \
 *     build/src/libpothole.so -Wl,-rpath,$PWD/build/src -lm
 *   ./tanh_loop 65536 300   (arguments: n, repetitions; a third, avx2,
 *   runs the 4-lane loops on an AVX-512 machine)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/vmath.h"

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* FNV-1a over the bytes of n doubles */
static uint64_t hash(const double *v, size_t n, uint64_t h) {
  const unsigned char *p = (const unsigned char *)v;
  for (size_t i = 0; i < n * sizeof *v; i++) h = (h ^ p[i]) * 1099511628211u;
  return h;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)atol(argv[1]) : 65536;
  int reps = argc > 2 ? atoi(argv[2]) : 300;
  if (n == 0 || reps <= 0 || (argc > 3 && strcmp(argv[3], "avx2") != 0)) {
    fprintf(stderr, "usage: tanh_loop [n] [repetitions] [avx2]\n");
    return 2;
  }
  if (argc > 3) ph_vmath_allow_avx512(0); /* the 4-lane loops */
  double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y),
         *d = malloc(n * sizeof *d), *t[2];
  t[0] = malloc((size_t)reps * sizeof **t);
  t[1] = malloc((size_t)reps * sizeof **t);
  if (!x || !y || !d || !t[0] || !t[1]) return 1;
  uint64_t s = 0x9e3779b97f4a7c15u;
  for (size_t i = 0; i < n; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    x[i] = ((double)(s >> 11) * 0x1p-53 - 0.5) * 6;
  }
  for (int r = 0; r < reps; r++) { /* the two kinds alternate */
    double t0 = cpu_now();
    ph_vmath_tanh(x, y, n);
    double t1 = cpu_now();
    ph_vmath_tanh_d(x, y, d, NULL, n);
    double t2 = cpu_now();
    t[0][r] = (t1 - t0) / (double)n * 1e9;
    t[1][r] = (t2 - t1) / (double)n * 1e9;
  }
  uint64_t h = hash(y, n, 14695981039346656037u);
  h = hash(d, n, h);
  const char *name[2] = {"tanh", "tanh_d (y, sigma')"};
  for (int k = 0; k < 2; k++) {
    qsort(t[k], (size_t)reps, sizeof **t, cmp_d);
    printf("%-20s n %zu: min %.3f ns/value, median %.3f ns/value\n", name[k], n,
           t[k][0], t[k][reps / 2]);
  }
  printf("hash of y and sigma' %016llx (backend %s)\n", (unsigned long long)h,
         ph_vmath_backend());
  free(x), free(y), free(d), free(t[0]), free(t[1]);
  return 0;
}
