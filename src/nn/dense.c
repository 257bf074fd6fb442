/* dense.c: the dense layer's four passes, shared by the sequential engine
 * and the transformer (nn/dense.h: adjoints accumulate). Each product is
 * one ph_nn_gemm_acc (tiled libxsmm kernels on an AVX-512 target, else
 * libxsmm for small shapes and OpenBLAS); the bias is summed row by row in
 * example order, so the result does not depend on which engine calls.
 * Reference: Pearlmutter 1994 for the tangent passes; derivations in
 * docs/autodiff.md §2. */
#include "nn/dense.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "nn/vmath.h"

/* T[k·ldt + j] = W[j·ldw + k] for j < nr, k < nc: an nr × nc block of W
 * transposed into T (the NT forward's panels, gemm_xsmm_tiled). In blocks
 * of 8 rows of W, so that each row of T gets whole cache lines of 8
 * values at a time; on AVX2 (ph_vmath_avx2) a block of 8 × 4 is two 4 × 4
 * register transposes. The scalar copy before it, one strided store a
 * value, took 11–16 % of the large MLP's gradient, Hv and Gv in a profile
 * (docs/performance-history.md, ninth session). A copy: no value changes. */
#define PH_TR_ROWS 8
#define TRANSPOSE_TAIL                                                         \
  for (size_t j = j0; j < je; j++)                                             \
    for (size_t k = k0; k < nc; k++) T[k * ldt + j] = W[j * ldw + k];
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
/* the 4 rows a, b, c, d of a 4-column strip → its 4 columns */
#define TR4(a, b, c, d, o0, o1, o2, o3)                                        \
  do {                                                                         \
    __m256d lo0 = _mm256_unpacklo_pd(a, b), hi0 = _mm256_unpackhi_pd(a, b),    \
            lo1 = _mm256_unpacklo_pd(c, d), hi1 = _mm256_unpackhi_pd(c, d);    \
    o0 = _mm256_permute2f128_pd(lo0, lo1, 0x20);                               \
    o1 = _mm256_permute2f128_pd(hi0, hi1, 0x20);                               \
    o2 = _mm256_permute2f128_pd(lo0, lo1, 0x31);                               \
    o3 = _mm256_permute2f128_pd(hi0, hi1, 0x31);                               \
  } while (0)
__attribute__((target("avx2"))) static void
transpose_block_avx2(const double *W, size_t ldw, size_t nr, size_t nc,
                     double *T, size_t ldt) {
  for (size_t j0 = 0; j0 < nr; j0 += PH_TR_ROWS) {
    size_t je = j0 + PH_TR_ROWS < nr ? j0 + PH_TR_ROWS : nr, k0 = 0;
    if (je - j0 == PH_TR_ROWS)
      for (; k0 + 4 <= nc; k0 += 4) {
        const double *w = W + j0 * ldw + k0;
        __m256d r[8], u[4], v[4];
        for (int q = 0; q < 8; q++) r[q] = _mm256_loadu_pd(w + q * ldw);
        TR4(r[0], r[1], r[2], r[3], u[0], u[1], u[2], u[3]);
        TR4(r[4], r[5], r[6], r[7], v[0], v[1], v[2], v[3]);
        double *t = T + k0 * ldt + j0;
        for (int q = 0; q < 4; q++) {
          _mm256_storeu_pd(t + q * ldt, u[q]);
          _mm256_storeu_pd(t + q * ldt + 4, v[q]);
        }
      }
    TRANSPOSE_TAIL
  }
}
#endif

static void transpose_block(const double *W, size_t ldw, size_t nr, size_t nc,
                            double *T, size_t ldt) {
#if defined(__x86_64__) || defined(__i386__)
  if (ph_vmath_avx2()) {
    transpose_block_avx2(W, ldw, nr, nc, T, ldt);
    return;
  }
#endif
  for (size_t j0 = 0; j0 < nr; j0 += PH_TR_ROWS) {
    size_t je = j0 + PH_TR_ROWS < nr ? j0 + PH_TR_ROWS : nr, k0 = 0;
    TRANSPOSE_TAIL
  }
}

#if PH_HAVE_XSMM
#include <libxsmm.h>

/* libxsmm's JIT kernels return with the upper halves of the YMM registers
 * dirty (no vzeroupper; OpenBLAS's kernels clear them). Every SSE
 * instruction after that (the build has no -march, so the elementwise loops,
 * the softmax, the bias sums are SSE2) then runs several times slower on
 * this machine: the tanh MLP's σ' loop after the input-adjoint GEMM took
 * 3.2 cycles per element against 0.36 after a vzeroupper
 * (docs/performance-history.md, seventh session). vzeroupper changes no value
 * the SSE code reads, so results are the same bits. The kernels only run
 * on AVX machines, where the instruction exists; the check keeps it off
 * any other. */
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx"), noinline)) static void zero_upper_avx(void) {
  _mm256_zeroupper();
}
static void zero_upper(void) {
  if (__builtin_cpu_supports("avx")) zero_upper_avx();
}
#else
static void zero_upper(void) {}
#endif

/* The kernel for C = A·B + beta C of one shape (alpha 1, beta 1 or 0, no
 * prefetch, the only kinds this file asks for), remembered per shape.
 * libxsmm_dmmdispatch looks its registry up on every call (a hash of the
 * descriptor, a thread-local cache, about 20-30 ns alone and more among a
 * product's cache traffic); the small MLP's gradient at batch 64 asks for 8
 * kernels and its Hv for 20, one per GEMM, so the lookups were about 1.5 % of
 * the gradient (docs/performance-history.md, ninth session). The table is
 * filled once per shape and never changes an entry after publishing it: a slot
 * goes 0 (empty) → 1 (being written, claimed by one thread) → 2 (ready,
 * published with release order). Readers take a ready slot with the same shape
 * and stop at an empty one; a shape that finds the table full or a slot being
 * written is looked up in libxsmm as before. libxsmm keeps its kernels until it
 * is finalised, which this program never does, so a remembered pointer stays
 * valid; the kernel is the one libxsmm returns for the shape, so the results
 * are the same bits. */
#define PH_XSMM_SLOTS 64
/* a bit of the key's flags beside libxsmm's own: beta 1 (else 0) */
#define PH_XSMM_BETA1 (1 << 30)
typedef struct xsmm_slot {
  _Atomic int state;
  libxsmm_blasint d[6]; /* m, n, k, lda, ldb, ldc */
  int flags;
  libxsmm_dmmfunction f;
} xsmm_slot;
static xsmm_slot xsmm_slots[PH_XSMM_SLOTS];

static libxsmm_dmmfunction xsmm_kernel(libxsmm_blasint m, libxsmm_blasint n,
                                       libxsmm_blasint k, libxsmm_blasint lda,
                                       libxsmm_blasint ldb, libxsmm_blasint ldc,
                                       int flags, int beta) {
  const libxsmm_blasint d[6] = {m, n, k, lda, ldb, ldc};
  if (beta) flags |= PH_XSMM_BETA1; /* beta is part of the key */
  uint64_t h = (uint64_t)flags;
  for (int i = 0; i < 6; i++) h = (h ^ (uint64_t)d[i]) * 0x100000001b3ULL;
  size_t s0 = (size_t)(h ^ h >> 29) % PH_XSMM_SLOTS;
  for (size_t q = 0; q < PH_XSMM_SLOTS; q++) {
    xsmm_slot *e = &xsmm_slots[(s0 + q) % PH_XSMM_SLOTS];
    int st = atomic_load_explicit(&e->state, memory_order_acquire);
    if (st == 0) break;
    if (st == 2 && e->flags == flags && memcmp(e->d, d, sizeof d) == 0)
      return e->f;
  }
  double one = 1.0, b = beta ? 1.0 : 0.0;
  int lflags = flags & ~PH_XSMM_BETA1;
  libxsmm_dmmfunction f =
      libxsmm_dmmdispatch(m, n, k, &lda, &ldb, &ldc, &one, &b, &lflags, NULL);
  if (!f) return NULL;
  for (size_t q = 0; q < PH_XSMM_SLOTS; q++) {
    xsmm_slot *e = &xsmm_slots[(s0 + q) % PH_XSMM_SLOTS];
    int st = atomic_load_explicit(&e->state, memory_order_acquire);
    if (st == 2 && e->flags == flags && memcmp(e->d, d, sizeof d) == 0)
      break; /* another thread published it meanwhile */
    if (st != 0) continue;
    int empty = 0;
    if (!atomic_compare_exchange_strong_explicit(
            &e->state, &empty, 1, memory_order_acquire, memory_order_relaxed))
      continue; /* claimed by another thread meanwhile: not ours to fill */
    memcpy(e->d, d, sizeof d);
    e->flags = flags;
    e->f = f;
    atomic_store_explicit(&e->state, 2, memory_order_release);
    break;
  }
  return f;
}

/* libxsmm's JIT kernels (libxsmm-dev) for the small shapes where they
 * measured faster than OpenBLAS 0.3.21 on this machine's AVX2 core
 * (docs/performance-history.md: 64×64×64 row-major NN 11.9 against 14.5 µs,
 * 64×64×10 NN 2.7 against 4.0, TN 10×64×64 2.4 against 5.0; TN 64³
 * equal, larger shapes slower). The row-major C (M, Nc) += op(A) op(B) is
 * the column-major Cᵀ += op(B)ᵀ op(A)ᵀ; libxsmm 1.17 generates no kernel
 * for a transposed first factor (the NT forward product), which stays with
 * OpenBLAS. A kernel depends on the shape only, so a chunk's result does
 * not depend on the thread that computes it. 1 if it ran. */
static int gemm_xsmm(int ta, int tb, size_t M, size_t Nc, size_t K,
                     const double *A, const double *B, double *C, int beta) {
  if (tb) return 0;
  size_t work = M * Nc * K;
  if (work == 0 || work > (ta ? (size_t)64 * 64 * 16 : (size_t)64 * 64 * 64))
    return 0;
  libxsmm_blasint m = (libxsmm_blasint)Nc, n = (libxsmm_blasint)M,
                  k = (libxsmm_blasint)K, lda = (libxsmm_blasint)Nc,
                  ldb = (libxsmm_blasint)(ta ? M : K),
                  ldc = (libxsmm_blasint)Nc;
  int flags = ta ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE;
  libxsmm_dmmfunction f = xsmm_kernel(m, n, k, lda, ldb, ldc, flags, beta);
  if (!f) return 0;
  f(B, A, C);
  zero_upper();
  return 1;
}

/* Tall products with a narrow panel (the transformer's d×d projections on
 * B·T rows): C (M, Nc) += A (M, K) op(B) for M > 64 rows and Nc, K ≤ 32,
 * as libxsmm kernels on blocks of 64 rows (op(B) = Bᵀ first transposed,
 * at most 32×32 values). OpenBLAS packs the whole tall factor for each
 * such call; tests/bench/gemm_tall.c measured the blocked kernels about
 * 2× faster at 8192×32×32 and no faster once Nc or K reaches 64 or 81
 * (docs/performance-history.md). The blocks depend on the shape only. 1 if it
 * ran. */
#define PH_XSMM_TALL_ROWS 64
#define PH_XSMM_TALL_PANEL 32
/* C (M, Nc) += A (M, K) B (K, Nc) as gemm_xsmm kernels on blocks of
 * PH_XSMM_TALL_ROWS rows, until one has no kernel; the rows done (a
 * multiple of the block, or M). The blocks depend on M only, and each
 * value is its row's own sum, so the blocking does not change a row. */
static size_t xsmm_row_blocks(size_t M, size_t Nc, size_t K, const double *A,
                              const double *B, double *C) {
  size_t r0 = 0;
  for (; r0 < M; r0 += PH_XSMM_TALL_ROWS) {
    size_t r = M - r0 < PH_XSMM_TALL_ROWS ? M - r0 : PH_XSMM_TALL_ROWS;
    if (!gemm_xsmm(0, 0, r, Nc, K, A + r0 * K, B, C + r0 * Nc, 1)) return r0;
  }
  return M;
}

static int gemm_xsmm_tall(int ta, int tb, size_t M, size_t Nc, size_t K,
                          const double *A, const double *B, double *C) {
  if (ta || M <= PH_XSMM_TALL_ROWS || Nc > PH_XSMM_TALL_PANEL ||
      K > PH_XSMM_TALL_PANEL)
    return 0;
  double bt[PH_XSMM_TALL_PANEL * PH_XSMM_TALL_PANEL];
  if (tb) { /* B (Nc, K) → bt (K, Nc) */
    transpose_block(B, K, Nc, K, bt, Nc);
    B = bt;
  }
  size_t r0 = xsmm_row_blocks(M, Nc, K, A, B, C);
  if (r0 == 0) return 0;
  if (r0 < M)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(M - r0),
                (int)Nc, (int)K, 1.0, A + r0 * K, (int)K, B, (int)Nc, 1.0,
                C + r0 * Nc, (int)Nc);
  return 1;
}

/* libxsmm's target decides the routing, once: 1 when it JITs AVX-512
 * kernels (AVX512_CORE or later: on this machine's Zen 5, CPX). There the
 * tiled kernels below beat OpenBLAS, which runs its Haswell (AVX2) kernels
 * here (OPENBLAS_CORETYPE=Haswell), on every dense shape measured, about
 * 2× (docs/performance-history.md, "Eighth session: GEMMs on AVX-512"). On an
 * AVX2 target the routing stays as it was before (gemm_xsmm for the small
 * shapes, the tall blocks, OpenBLAS otherwise), so the products keep their bits
 * there. The atomic makes the first calls from several threads safe: each
 * computes the same value. */
static int xsmm_wide(void) {
  static _Atomic int wide = -1;
  int w = atomic_load_explicit(&wide, memory_order_relaxed);
  if (w < 0) {
    w = libxsmm_get_target_archid() >= LIBXSMM_X86_AVX512_CORE;
    atomic_store_explicit(&wide, w, memory_order_relaxed);
  }
  return w;
}

/* C (M, Nc) += op(A) op(B) as libxsmm kernels on tiles of C of
 * PH_XSMM_TILE rows × PH_XSMM_TILE columns, the sum over K in blocks of at
 * most PH_XSMM_KBLOCK (each block's kernel adds into C, beta 1). Each
 * value of C is its row's and column's own sum, run in K order through the
 * blocks; the tiles and blocks depend on the shape only, so a row's result
 * does not depend on which rows share the call (the thread team's chunks,
 * the block products' stacked rows). op(B) = Bᵀ (the forward's x Wᵀ, for
 * which libxsmm 1.17 has no kernel) is transposed one panel (K block ×
 * column tile) at a time into a stack buffer of 128 KB, which every row
 * tile then reads. 1 if it ran (0: no kernel, which libxsmm reports for
 * shapes it cannot JIT; nothing has been added then, as the first kernel
 * is dispatched before any runs). */
#define PH_XSMM_TILE 64
#define PH_XSMM_KBLOCK 256
static int gemm_xsmm_tiled(int ta, int tb, size_t M, size_t Nc, size_t K,
                           const double *A, const double *B, double *C,
                           int set) {
  if (M == 0 || Nc == 0) return 1;
  if (K == 0) {
    if (set) memset(C, 0, M * Nc * sizeof *C);
    return 1;
  }
  double panel[PH_XSMM_KBLOCK * PH_XSMM_TILE];
  int flags = ta ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE;
  libxsmm_blasint ldb = (libxsmm_blasint)(ta ? M : K),
                  ldc = (libxsmm_blasint)Nc;
  for (size_t c0 = 0; c0 < Nc; c0 += PH_XSMM_TILE) {
    size_t c = Nc - c0 < PH_XSMM_TILE ? Nc - c0 : PH_XSMM_TILE;
    for (size_t k0 = 0; k0 < K; k0 += PH_XSMM_KBLOCK) {
      size_t kb = K - k0 < PH_XSMM_KBLOCK ? K - k0 : PH_XSMM_KBLOCK;
      const double *bp = B + k0 * Nc + c0;
      libxsmm_blasint lda = (libxsmm_blasint)Nc;
      if (tb) { /* B (Nc, K): panel[j][i] = B[c0 + i][k0 + j] */
        transpose_block(B + c0 * K + k0, K, c, kb, panel, c);
        bp = panel;
        lda = (libxsmm_blasint)c;
      }
      for (size_t r0 = 0; r0 < M; r0 += PH_XSMM_TILE) {
        size_t r = M - r0 < PH_XSMM_TILE ? M - r0 : PH_XSMM_TILE;
        libxsmm_blasint m = (libxsmm_blasint)c, n = (libxsmm_blasint)r,
                        k = (libxsmm_blasint)kb;
        int beta = !set || k0 > 0; /* set: the first K block overwrites */
        libxsmm_dmmfunction f =
            xsmm_kernel(m, n, k, lda, ldb, ldc, flags, beta);
        if (!f) {
          if (c0 == 0 && k0 == 0 && r0 == 0) return 0;
          if (!beta)
            for (size_t i = 0; i < r; i++)
              memset(C + (r0 + i) * Nc + c0, 0, c * sizeof *C);
          /* a later tile's shape without a kernel (not seen with 1.17):
           * the same tile through OpenBLAS, same operands */
          cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                      CblasNoTrans, (int)r, (int)c, (int)kb, 1.0,
                      ta ? A + k0 * M + r0 : A + r0 * K + k0, (int)ldb, bp,
                      (int)lda, 1.0, C + r0 * Nc + c0, (int)Nc);
          continue;
        }
        f(bp, ta ? A + k0 * M + r0 : A + r0 * K + k0, C + r0 * Nc + c0);
      }
    }
  }
  zero_upper();
  return 1;
}
#endif

void ph_nn_gemm_acc(int ta, int tb, size_t M, size_t Nc, size_t K,
                    const double *A, const double *B, double *C) {
#if PH_HAVE_XSMM
  if (xsmm_wide()) {
    if (gemm_xsmm_tiled(ta, tb, M, Nc, K, A, B, C, 0)) return;
  } else {
    if (gemm_xsmm(ta, tb, M, Nc, K, A, B, C, 1)) return;
    if (gemm_xsmm_tall(ta, tb, M, Nc, K, A, B, C)) return;
  }
#endif
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
              tb ? CblasTrans : CblasNoTrans, (int)M, (int)Nc, (int)K, 1.0, A,
              ta ? (int)M : (int)K, B, tb ? (int)K : (int)Nc, 1.0, C, (int)Nc);
}

/* libxsmm's kernels with beta 0 start their sums from zeroed registers
 * and add the products in the same order as with beta 1, which on a
 * zeroed C starts from the +0 it loads: the same bits (test_gemm_set
 * checks it, with sums of -0 products among them). Other routes zero C
 * and accumulate, as the callers did before. */
void ph_nn_gemm_set(int ta, int tb, size_t M, size_t Nc, size_t K,
                    const double *A, const double *B, double *C) {
#if PH_HAVE_XSMM
  if (xsmm_wide() ? gemm_xsmm_tiled(ta, tb, M, Nc, K, A, B, C, 1)
                  : gemm_xsmm(ta, tb, M, Nc, K, A, B, C, 0))
    return;
#endif
  memset(C, 0, M * Nc * sizeof *C);
  ph_nn_gemm_acc(ta, tb, M, Nc, K, A, B, C);
}

int ph_nn_gemm_wide(void) {
#if PH_HAVE_XSMM
  return xsmm_wide();
#else
  return 0;
#endif
}

void ph_nn_dense_forward_t(double *y, const double *x, const double *Wt,
                           const double *b, size_t N, size_t in, size_t out) {
  for (size_t i = 0; i < N; i++) memcpy(y + i * out, b, out * sizeof *y);
#if PH_HAVE_XSMM
  if (xsmm_wide()) {
    ph_nn_gemm_acc(0, 0, N, out, in, x, Wt, y);
    return;
  }
  /* AVX2 target: blocks of 64 rows, each within gemm_xsmm's size limit for
   * the small layers (64 × 64 × 64); the blocks depend on N only, and each
   * value is one row's sum, so the result does not depend on the
   * blocking */
  if (64 * in * out <= (size_t)64 * 64 * 64) {
    size_t r0 = xsmm_row_blocks(N, out, in, x, Wt, y);
    if (r0 >= N) return;
    x += r0 * in;
    y += r0 * out;
    N -= r0;
  }
#endif
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)out,
              (int)in, 1.0, x, (int)in, Wt, (int)out, 1.0, y, (int)out);
}

/* acc[j] += Σ_i y[i·n + j], each column summed in row order, as the plain
 * double loop does, so the same bits. The columns go in blocks of 16 held
 * in a local array across all rows (the compiler keeps it in vector
 * registers) instead of reloading and storing acc for every row; compiled
 * for AVX2 as well (chosen at run time, ph_vmath_avx2: no FMA is involved,
 * only additions in the same order). With 512 rows of 64 the old loop took
 * 6.2 µs, the AVX2 build 4.0 (docs/performance-history.md, eighth session). */
#define PH_ROWS_BLOCK 16
#define ROWS_SUM_BODY                                                          \
  for (size_t j0 = 0; j0 < n; j0 += PH_ROWS_BLOCK) {                           \
    size_t w = n - j0 < PH_ROWS_BLOCK ? n - j0 : PH_ROWS_BLOCK;                \
    const double *yc = y + j0;                                                 \
    double a[PH_ROWS_BLOCK];                                                   \
    memcpy(a, acc + j0, w * sizeof *a);                                        \
    if (w == PH_ROWS_BLOCK)                                                    \
      for (size_t i = 0; i < N; i++)                                           \
        for (size_t q = 0; q < PH_ROWS_BLOCK; q++) a[q] += yc[i * n + q];      \
    else                                                                       \
      for (size_t i = 0; i < N; i++)                                           \
        for (size_t q = 0; q < w; q++) a[q] += yc[i * n + q];                  \
    memcpy(acc + j0, a, w * sizeof *a);                                        \
  }
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) static void
rows_sum_acc_avx2(const double *y, size_t N, size_t n, double *acc) {
  ROWS_SUM_BODY
}
#endif
static void rows_sum_acc_base(const double *y, size_t N, size_t n,
                              double *acc) {
  ROWS_SUM_BODY
}
static void rows_sum_acc(const double *y, size_t N, size_t n, double *acc) {
#if defined(__x86_64__) || defined(__i386__)
  if (ph_vmath_avx2()) {
    rows_sum_acc_avx2(y, N, n, acc);
    return;
  }
#endif
  rows_sum_acc_base(y, N, n, acc);
}

void ph_nn_dense_forward(double *y, const double *x, const double *W,
                         const double *b, size_t N, size_t in, size_t out) {
  for (size_t i = 0; i < N; i++) memcpy(y + i * out, b, out * sizeof *y);
  ph_nn_gemm_acc(0, 1, N, out, in, x, W, y);
}

void ph_nn_dense_backward(double *dx, double *dW, double *db, const double *dy,
                          const double *x, const double *W, size_t N, size_t in,
                          size_t out) {
  if (dW) ph_nn_gemm_acc(1, 0, out, in, N, dy, x, dW);
  if (db) rows_sum_acc(dy, N, out, db);
  if (dx) ph_nn_gemm_acc(0, 0, N, in, out, dy, W, dx);
}

void ph_nn_dense_tangent_forward(double *yt, const double *x, const double *xt,
                                 const double *W, const double *Wt,
                                 const double *bt, size_t N, size_t in,
                                 size_t out) {
  for (size_t i = 0; i < N; i++) memcpy(yt + i * out, bt, out * sizeof *yt);
  ph_nn_gemm_acc(0, 1, N, out, in, x, Wt, yt);
  if (xt) ph_nn_gemm_acc(0, 1, N, out, in, xt, W, yt);
}

void ph_nn_dense_tangent_backward(double *dxt, double *dWt, double *dbt,
                                  const double *dy, const double *dyt,
                                  const double *x, const double *xt,
                                  const double *W, const double *Wt, size_t N,
                                  size_t in, size_t out, int second_order) {
  ph_nn_dense_backward(dxt, dWt, dbt, dyt, x, W, N, in, out);
  if (!second_order) return;
  if (xt && dWt) ph_nn_gemm_acc(1, 0, out, in, N, dy, xt, dWt);
  if (dxt) ph_nn_gemm_acc(0, 0, N, in, out, dy, Wt, dxt);
}

void ph_nn_dense_dx_set(double *dx, const double *dy, const double *W,
                        const double *dy2, const double *W2, size_t N,
                        size_t in, size_t out) {
  ph_nn_gemm_set(0, 0, N, in, out, dy, W, dx);
  if (dy2) ph_nn_gemm_acc(0, 0, N, in, out, dy2, W2, dx);
}
