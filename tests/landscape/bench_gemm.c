/* bench_gemm.c: the GEMM-only cost of one grid point, for
 * docs/performance-landscape.md. Not a test.
 *
 *   bench_gemm B SIZES...     e.g. bench_gemm 1024 784 256 256 10
 *
 * prints the machine's single-thread dgemm rate (1024³ square, best of 3)
 * and the best-of-5 time of the forward GEMM chain of an MLP with layer sizes
 * SIZES on a batch of B (Y = X Wᵀ per layer, as a grid point evaluates),
 * plus that chain's FLOPs and the time those FLOPs take at the square rate.
 * BLAS threads: 1 (the grid's setting). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/progress.h"
#include "core/rng.h"

static double *gauss(size_t n, uint64_t seed) {
  double *x = malloc(n * sizeof *x);
  ph_rng r = ph_rng_make(seed, PH_RNG_STREAM_USER);
  ph_rng_fill_gauss(&r, x, n, 1.0);
  return x;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: bench_gemm B IN H1 ... OUT\n");
    return 2;
  }
  openblas_set_num_threads(1);
  size_t B = strtoull(argv[1], NULL, 10);
  int L = argc - 3;
  size_t sizes[32];
  for (int i = 0; i < L + 1 && i < 32; i++)
    sizes[i] = strtoull(argv[2 + i], NULL, 10);

  const size_t S = 1024;
  double *a = gauss(S * S, 1), *b = gauss(S * S, 2), *c = gauss(S * S, 3);
  double best = 1e30;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = ph_now();
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)S, (int)S,
                (int)S, 1.0, a, (int)S, b, (int)S, 0.0, c, (int)S);
    double t = ph_now() - t0;
    if (t < best) best = t;
  }
  double rate = 2.0 * S * S * S / best;
  free(a);
  free(b);
  free(c);

  size_t maxw = 0;
  for (int i = 0; i <= L; i++)
    if (sizes[i] > maxw) maxw = sizes[i];
  double *x = gauss(B * maxw, 4), *y = gauss(B * maxw, 5);
  double *w[32];
  double flops = 0;
  for (int l = 0; l < L; l++) {
    w[l] = gauss(sizes[l] * sizes[l + 1], 6 + (uint64_t)l);
    flops += 2.0 * B * sizes[l] * sizes[l + 1];
  }
  double bestc = 1e30;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = ph_now();
    double *in = x, *out = y;
    for (int l = 0; l < L; l++) {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B,
                  (int)sizes[l + 1], (int)sizes[l], 1.0, in, (int)sizes[l],
                  w[l], (int)sizes[l], 0.0, out, (int)sizes[l + 1]);
      double *t = in;
      in = out;
      out = t;
    }
    double t = ph_now() - t0;
    if (t < bestc) bestc = t;
  }
  printf(
      "{\"dgemm_gflops_1thread\": %.3f, \"batch\": %zu, \"chain_flops\": %.0f, "
      "\"chain_seconds\": %.6g, \"chain_gflops\": %.3f, "
      "\"chain_seconds_at_square_rate\": %.6g}\n",
      rate / 1e9, B, flops, bestc, flops / bestc / 1e9, flops / rate);
  for (int l = 0; l < L; l++) free(w[l]);
  free(x);
  free(y);
  return 0;
}
