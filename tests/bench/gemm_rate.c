/* gemm_rate.c: the rate OpenBLAS's dgemm reaches on one shape, for
 * docs/performance-history.md (seventh session: how close the small MLP's GEMMs
 * already run to this core's peak). C = A B, row-major, M×K times K×N,
 * repeated REPS times on the same warm operands; prints the best of five
 * loops in process CPU time. Not built by meson:
 *   gcc -O2 tests/bench/gemm_rate.c -o gemm_rate -lopenblas
 *   OPENBLAS_NUM_THREADS=1 ./gemm_rate 64 64 64 20000
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: gemm_rate M N K REPS\n");
    return 2;
  }
  int m = atoi(argv[1]), n = atoi(argv[2]), k = atoi(argv[3]);
  long reps = atol(argv[4]);
  if (m < 1 || n < 1 || k < 1 || reps < 1) {
    fprintf(stderr, "gemm_rate: M, N, K and REPS must be positive\n");
    return 2;
  }
  double *A = malloc(sizeof(double) * (size_t)m * (size_t)k);
  double *B = malloc(sizeof(double) * (size_t)k * (size_t)n);
  double *C = malloc(sizeof(double) * (size_t)m * (size_t)n);
  if (!A || !B || !C) {
    fprintf(stderr, "gemm_rate: out of memory\n");
    return 1;
  }
  for (long i = 0; i < (long)m * k; i++) A[i] = 1e-3 * (double)(i % 97);
  for (long i = 0; i < (long)k * n; i++) B[i] = 1e-3 * (double)(i % 89);
  double best = 1e300;
  for (int round = 0; round < 5; round++) {
    double t = cpu_now();
    for (long r = 0; r < reps; r++)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, A, k,
                  B, n, 0.0, C, n);
    t = (cpu_now() - t) / (double)reps;
    if (t < best) best = t;
  }
  printf("%dx%dx%d: %.3f us, %.1f GFLOP/s (C[0] %g)\n", m, n, k, best * 1e6,
         2.0 * m * n * k / best * 1e-9, C[0]);
  free(A);
  free(B);
  free(C);
  return 0;
}
