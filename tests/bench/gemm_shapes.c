/* gemm_shapes.c: one-thread CPU time of the row-major dgemm shapes the
 * small and large MLPs use (C += op(A) op(B), beta 1), through OpenBLAS
 * (cblas_dgemm), BLIS (bli_dgemm with row-major strides), one libxsmm JIT
 * kernel for the whole product (the column-major transpose of the product;
 * "–" where libxsmm 1.17 generates none), and pothole's own routed path,
 * ph_nn_gemm_acc (src/nn/dense.c: libxsmm kernels on 64 × 64 tiles with K
 * in blocks of 256 when libxsmm targets AVX-512, as the dense layers run
 * them; the whole-product kernel otherwise). The measurement behind
 * src/nn/dense.c's routing (docs/performance.md). Not built by meson (BLIS
 * is no dependency of pothole); link it against a release build's static
 * libraries, here BUILD:
 *   gcc -O2 -I/usr/include/x86_64-linux-gnu -Isrc tests/bench/gemm_shapes.c \
 *     -o gemm_shapes BUILD/src/libph_nn.a BUILD/src/libph_core.a \
 *     /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so \
 *     /usr/lib/libxsmm.a /usr/lib/x86_64-linux-gnu/libblis.so -lsleef \
 *     -lm -lpthread -ldl
 *   OPENBLAS_NUM_THREADS=1 BLIS_NUM_THREADS=1 ./gemm_shapes [calls]
 * Prints a markdown table: microseconds per call and GFLOP/s. */
#include <blis.h>
#include <cblas.h>
#include <libxsmm.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nn/dense.h"

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* seconds per call of one library on the shape (best of two passes) */
static double time_lib(int lib, libxsmm_dmmfunction f, int M, int N, int K,
                       int ta, int tb, const double *A, const double *B,
                       double *C, long calls) {
  int lda = ta ? M : K, ldb = tb ? K : N;
  double one = 1.0, best = 1e30;
  for (int pass = 0; pass < 2; pass++) {
    double t0 = cpu_now();
    for (long r = 0; r < calls; r++) {
      if (lib == 0)
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                    tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0, A, lda, B,
                    ldb, 1.0, C, N);
      else if (lib == 1)
        bli_dgemm(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                  tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, M, N, K, &one,
                  (double *)A, lda, 1, (double *)B, ldb, 1, &one, C, N, 1);
      else if (lib == 2)
        f(B, A, C);
      else
        ph_nn_gemm_acc(ta, tb, (size_t)M, (size_t)N, (size_t)K, A, B, C);
    }
    double t = (cpu_now() - t0) / (double)calls;
    best = t < best ? t : best;
  }
  return best;
}

int main(int argc, char **argv) {
  long calls = argc > 1 ? atol(argv[1]) : 3000;
  /* M, N, K, op(A) transposed, op(B) transposed: forward (NT), weight
   * gradient (TN), input adjoint (NN) of the 64-64-64-10 MLP at batch 64
   * and of a 512-example chunk, and of the 784-256-256-10 MLP's first
   * layer at a 128-example chunk; then square and tall NN products of the
   * sizes docs/performance.md quotes */
  static const int shapes[][5] = {
      {64, 64, 64, 0, 1},    {64, 10, 64, 0, 1},    {64, 64, 64, 1, 0},
      {10, 64, 64, 1, 0},    {64, 64, 64, 0, 0},    {64, 64, 10, 0, 0},
      {512, 64, 64, 0, 1},   {64, 64, 512, 1, 0},   {512, 64, 64, 0, 0},
      {128, 256, 784, 0, 1}, {256, 784, 128, 1, 0}, {256, 256, 256, 0, 0},
      {1024, 64, 64, 0, 0},  {256, 256, 784, 0, 0}};
  printf("| M | N | K | op | OpenBLAS µs (GFLOP/s) | BLIS | libxsmm, one "
         "kernel | pothole (ph_nn_gemm_acc, %s) |\n",
         ph_nn_gemm_wide() ? "tiled" : "not tiled: no AVX-512 target");
  printf("|---|---|---|---|---|---|---|---|\n");
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ta = shapes[s][3],
        tb = shapes[s][4];
    double *A = malloc((size_t)M * K * sizeof *A),
           *B = malloc((size_t)K * N * sizeof *B),
           *C = calloc((size_t)M * N, sizeof *C);
    if (!A || !B || !C) return 1;
    for (long i = 0; i < (long)M * K; i++) A[i] = sin(0.37 * (double)i);
    for (long i = 0; i < (long)K * N; i++) B[i] = cos(0.11 * (double)i);
    long c = calls * 64 * 64 * 64 / ((long)M * N * K) + 1;
    int flags = (tb ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) |
                (ta ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
    libxsmm_blasint m = N, n = M, k = K, xa = tb ? K : N, xb = ta ? M : K,
                    xc = N;
    double al = 1, be = 1;
    libxsmm_dmmfunction f =
        libxsmm_dmmdispatch(m, n, k, &xa, &xb, &xc, &al, &be, &flags, NULL);
    double fl = 2.0 * M * N * K, t[4];
    for (int lib = 0; lib < 4; lib++)
      t[lib] =
          lib == 2 && !f ? -1 : time_lib(lib, f, M, N, K, ta, tb, A, B, C, c);
    printf("| %d | %d | %d | %s%s |", M, N, K, ta ? "T" : "N", tb ? "T" : "N");
    for (int lib = 0; lib < 4; lib++)
      if (t[lib] < 0)
        printf(" – |");
      else
        printf(" %.2f (%.1f) |", 1e6 * t[lib], 1e-9 * fl / t[lib]);
    printf("\n");
    free(A);
    free(B);
    free(C);
  }
  return 0;
}
