/* gemm_tall.c: tall row-major products C (M, N) += A (M, K) op(B) with a
 * narrow panel (N, K ≤ 128), as the transformer's projections make them
 * (M = batch · sequence rows): OpenBLAS (NN and NT) against libxsmm
 * kernels on blocks of R rows (NN, and NT after transposing the small
 * factor). The measurement behind gemm_xsmm_tall in src/nn/dense.c. One
 * thread, process CPU time, µs per call; it prints numbers and asserts
 * nothing. Build and run:
 *   cc -O2 -o /tmp/gemm_tall tests/bench/gemm_tall.c -lopenblas -lxsmm \
 *      -lxsmmnoblas -lm -lpthread -ldl && OPENBLAS_NUM_THREADS=1 /tmp/gemm_tall
 */
#include <cblas.h>
#include <libxsmm.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* C (M, N) += A (M, K) B (K, N) as libxsmm kernels on blocks of R rows. */
static void xsmm_rows(size_t M, size_t N, size_t K, const double *A,
                      const double *B, double *C, size_t R) {
  for (size_t r0 = 0; r0 < M; r0 += R) {
    size_t r = M - r0 < R ? M - r0 : R;
    libxsmm_blasint m = (libxsmm_blasint)N, n = (libxsmm_blasint)r,
                    k = (libxsmm_blasint)K, lda = m, ldb = k, ldc = m;
    double al = 1, be = 1;
    int fl = LIBXSMM_GEMM_FLAG_NONE;
    libxsmm_dmmfunction f =
        libxsmm_dmmdispatch(m, n, k, &lda, &ldb, &ldc, &al, &be, &fl, NULL);
    if (!f) {
      printf("no libxsmm kernel for %zu x %zu x %zu\n", N, r, K);
      exit(1);
    }
    f(B, A + r0 * K, C + r0 * N);
  }
}

int main(void) {
  static const size_t shapes[][3] = {
      {8192, 32, 32}, {8192, 65, 32},  {8192, 81, 32},  {8192, 32, 81},
      {8192, 64, 64}, {8192, 128, 32}, {8192, 32, 128}, {1024, 32, 32}};
  const int reps = 20;
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
    double *A = malloc(M * K * sizeof *A), *B = malloc(K * N * sizeof *B),
           *W = malloc(N * K * sizeof *W), *Wt = malloc(K * N * sizeof *Wt),
           *C = calloc(M * N, sizeof *C), t[6];
    for (size_t i = 0; i < M * K; i++) A[i] = 1e-3 * (double)(i % 97);
    for (size_t i = 0; i < K * N; i++) B[i] = W[i] = 1e-3 * (double)(i % 89);
    for (int warm = 0; warm < 2; warm++) { /* the second round is reported */
      t[0] = now();
      for (int r = 0; r < reps; r++)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N,
                    (int)K, 1, A, (int)K, B, (int)N, 1, C, (int)N);
      t[1] = now();
      for (int r = 0; r < reps; r++)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N,
                    (int)K, 1, A, (int)K, W, (int)K, 1, C, (int)N);
      t[2] = now();
      for (int r = 0; r < reps; r++) xsmm_rows(M, N, K, A, B, C, 64);
      t[3] = now();
      for (int r = 0; r < reps; r++) xsmm_rows(M, N, K, A, B, C, 256);
      t[4] = now();
      for (int r = 0; r < reps; r++) {
        for (size_t i = 0; i < N; i++)
          for (size_t j = 0; j < K; j++) Wt[j * N + i] = W[i * K + j];
        xsmm_rows(M, N, K, A, Wt, C, 64);
      }
      t[5] = now();
    }
    printf("M %5zu N %3zu K %3zu: OpenBLAS NN %8.1f NT %8.1f | libxsmm "
           "64-row NN %8.1f 256-row NN %8.1f 64-row NT %8.1f us\n",
           M, N, K, (t[1] - t[0]) / reps * 1e6, (t[2] - t[1]) / reps * 1e6,
           (t[3] - t[2]) / reps * 1e6, (t[4] - t[3]) / reps * 1e6,
           (t[5] - t[4]) / reps * 1e6);
    free(A);
    free(B);
    free(W);
    free(Wt);
    free(C);
  }
  return 0;
}
