/* cmd_bench.c: `pothole bench products`: median wall times of loss+gradient,
 * Hessian-vector and Gauss-Newton-vector products of a model on one batch,
 * their ratios, and the time the model's GEMMs alone take (the same dgemm
 * calls with the same shapes, timed in isolation) -- the figures behind
 * docs/performance.md. A benchmark prints numbers; it asserts nothing. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/rng.h"
#include "nn/dense.h"
#include "nn/net.h"

#define CMD "bench"

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The bench clock: wall time, or this process's CPU time (steadier on a
 * shared machine for one-thread runs: time spent descheduled is not
 * counted; with T threads it sums their time). */
static int use_cpu_clock;

static double bench_now(void) {
  if (!use_cpu_clock) return ph_now();
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* How gemm_only runs each GEMM: as the product does (ph_net_gemm.routed:
 * a dense layer's through ph_nn_gemm_acc, a convolution's forward and
 * input adjoint too on AVX-512 targets, its weight adjoint through
 * OpenBLAS; a residual block's through OpenBLAS), all through OpenBLAS
 * (the yardstick before the dense layers' routing), or all routed
 * (gemm_call). Every call keeps its beta. */
typedef enum { GEMM_AS_RUN, GEMM_OPENBLAS, GEMM_ROUTED } gemm_route;

/* One call of g as the engine makes it: through cblas_dgemm with g's beta
 * when not routed; routed, a beta-0 dense product through ph_nn_gemm_set
 * (libxsmm's beta-0 kernels, ph_nn_dense_dx_set), a beta-0 convolution
 * product zeroed and accumulated (layers_conv.c, gemm_fx), and the rest
 * through ph_nn_gemm_acc. */
static void gemm_call(const ph_net_gemm *g, int routed, const double *a,
                      const double *b, double *c) {
  if (routed && g->beta) {
    ph_nn_gemm_acc(g->trans_a, g->trans_b, g->m, g->n, g->k, a, b, c);
  } else if (routed && !g->conv) {
    ph_nn_gemm_set(g->trans_a, g->trans_b, g->m, g->n, g->k, a, b, c);
  } else if (routed) {
    memset(c, 0, g->m * g->n * sizeof *c);
    ph_nn_gemm_acc(g->trans_a, g->trans_b, g->m, g->n, g->k, a, b, c);
  } else {
    /* row-major: op(A) (m, k), op(B) (k, n), C (m, n) */
    int M = (int)g->m, N = (int)g->n, K = (int)g->k;
    cblas_dgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                g->trans_b ? CblasTrans : CblasNoTrans, M, N, K, 1, a,
                g->trans_a ? M : K, b, g->trans_b ? K : N, g->beta, c, N);
  }
}

/* The GEMMs of a product (ph_net_product_gemms: per dense layer forward,
 * dW and dX; per conv layer the same on each chunk's im2col columns),
 * timed alone on scratch buffers of the same shapes, each call with the
 * beta the engine gives it (gemm_call; until the tenth session every call
 * here accumulated, while the dense layers' dX products have overwritten
 * since the ninth); im2col/col2im, activations, pooling and the loss are
 * excluded. Dense GEMMs go through ph_nn_gemm_acc / ph_nn_gemm_set, so the
 * yardstick pays the products' kernel lookup (dense.c, xsmm_kernel) as they
 * do. -1 when out of memory. */
static double gemm_only(const ph_net_gemm *gm, size_t count, size_t reps,
                        gemm_route route) {
  size_t mx = 1;
  for (size_t i = 0; i < count; i++) {
    size_t s[3] = {gm[i].m * gm[i].k, gm[i].k * gm[i].n, gm[i].m * gm[i].n};
    for (int k = 0; k < 3; k++) mx = s[k] > mx ? s[k] : mx;
  }
  double *a = calloc(mx, sizeof *a), *b = calloc(mx, sizeof *b),
         *c = calloc(mx, sizeof *c);
  double *t = malloc(reps * sizeof *t);
  double m = -1;
  if (a && b && c && t) {
    for (size_t r = 0; r < reps; r++) {
      double t0 = bench_now();
      for (size_t i = 0; i < count; i++) {
        const ph_net_gemm *g = &gm[i];
        int routed =
            route == GEMM_ROUTED || (route == GEMM_AS_RUN && g->routed);
        for (size_t q = 0; q < g->count; q++) gemm_call(g, routed, a, b, c);
      }
      t[r] = bench_now() - t0;
    }
    m = median(t, reps);
  }
  free(a);
  free(b);
  free(c);
  free(t);
  return m;
}

int ph_cmd_bench(int argc, char **argv) {
  const char *model = NULL, *data = NULL;
  size_t batch = 256, reps = 21, threads = 1, kblock = 8;
  static const char *const clocks[] = {"wall", "cpu", NULL};
  uint64_t seed = 0;
  const ph_opt opts[] = {
      {"model", "SPEC", PH_OPT_STRING, &model, .help = "model",
       .flags = PH_OPT_REQUIRED},
      {"data", "SPEC", PH_OPT_STRING, &data, .help = "data set",
       .flags = PH_OPT_REQUIRED},
      {"batch", "B", PH_OPT_SIZE, &batch, .lo = 1, .hi = 1e6,
       .help = "examples"},
      {"reps", "R", PH_OPT_SIZE, &reps, .lo = 1, .hi = 1e5,
       .help = "repetitions, median reported"},
      {"block", "K", PH_OPT_SIZE, &kblock, .lo = 1, .hi = 256,
       .help = "directions of the timed block products"},
      {"clock", "C", PH_OPT_CHOICE, &use_cpu_clock, .choices = clocks,
       .help = "wall time, or the process's CPU time"},
      PH_OPT_SEED(&seed),
      PH_OPT_THREADS(&threads),
      {0}};
  static const char ABOUT[] =
      "Median times (s) of loss+gradient, Hv, Gv and evaluation on one batch,\n"
      "ratios to the gradient, the block products H·V and G·V for K\n"
      "directions against K single products, and the time of the\n"
      "GEMMs of the gradient, Hv and Gv alone (MLP/CNN). Each kind of\n"
      "product is timed in its own loop, from\n"
      "scratch; hvp_cached_s and ggnvp_cached_s time repeated products at\n"
      "one θ, which reuse the forward (as Lanczos and LLQR do).";
  const ph_cli_spec spec = {"bench products",
                            "--model SPEC --data SPEC [--batch B] [--reps R]\n"
                            "                             [--seed S] "
                            "[--threads T]",
                            ABOUT,
                            opts,
                            0,
                            0};
  if (argc < 2 || strcmp(argv[1], "products") != 0) {
    /* `pothole bench --help`: the only benchmark's table */
    const ph_cli_spec top = {CMD, "products [options]", ABOUT, opts, 0, 0};
    int rc = ph_cli_help_only(&top, argc, argv);
    if (rc >= 0) return rc;
    return ph_cli_usage(CMD, "expected 'bench products'");
  }
  int rc = ph_cli_parse(&spec, argc - 1, argv + 1, NULL, NULL);
  if (rc >= 0) return rc;
  threads = ph_cli_threads(threads);
  ph_cli_set_blas_threads(1);
  ph_error err = {0};
  ph_data_options dopt = ph_data_options_default();
  dopt.seed = seed;
  dopt.max_train = batch;
  ph_dataset *d = NULL;
  ph_objective *o = NULL;
  ph_status s = ph_dataset_load(data, &dopt, &d, &err);
  if (!s) s = ph_net_create(model, d, batch, &o, &err);
  if (s) {
    ph_dataset_free(d);
    return ph_cli_fail(CMD, s, &err);
  }
  /* T threads: the network's deterministic batch split
   * (ph_net_set_threads) with one BLAS thread each; models without it
   * (transformers) get T BLAS threads instead */
  if (ph_net_set_threads(o, threads, &err) != PH_OK) {
    err = (ph_error){0};
    ph_cli_set_blas_threads((int)threads);
  }
  size_t n = o->n, bn = d->n[0] < batch ? d->n[0] : batch;
  double *th = malloc(n * sizeof *th), *g = malloc(n * sizeof *g),
         *v = malloc(n * sizeof *v), *tg = malloc(reps * sizeof *tg),
         *th_ = malloc(reps * sizeof *th_), *tgg = malloc(reps * sizeof *tgg),
         *tev = malloc(reps * sizeof *tev), *thb = malloc(reps * sizeof *thb),
         *tgb = malloc(reps * sizeof *tgb), *V = malloc(kblock * n * sizeof *V),
         *W = malloc(kblock * n * sizeof *W);
  ph_net_init_params(o, seed, th, &err);
  ph_rng r = ph_rng_make(seed, 77);
  ph_rng_fill_gauss(&r, v, n, 1.0);
  ph_rng_fill_gauss(&r, V, kblock * n, 1.0);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, bn};
  double L, acc;
  /* Each kind of product is timed in its own loop, after one untimed call
   * (first-use allocations, JIT kernels): consecutive products of one kind,
   * as Lanczos, SLQ, a grid or training ask for them, and as
   * tests/bench/products_torch.py times PyTorch. (Until the sixth session
   * the six kinds alternated within one loop, so every single product ran
   * after a block product of K directions had pushed its data out of the
   * caches, which PyTorch's loop never did.) Within a loop, calls alternate
   * between θ and a copy with one entry moved by one ulp, so that no call
   * reuses the forward cache of the one before (the objectives keep a
   * forward while θ and the batch are unchanged): every figure is a
   * product from scratch, as PyTorch computes it. Repeated products at one
   * θ, as Lanczos asks for them, are timed apart (hvp_cached_s,
   * ggnvp_cached_s). */
  double *th2 = malloc(n * sizeof *th2), *tc = malloc(2 * reps * sizeof *tc);
  memcpy(th2, th, n * sizeof *th2);
  th2[0] = nextafter(th2[0], 1.0);
  double *times[] = {tg, th_, tgg, tev, thb, tgb, tc, tc + reps};
  for (int kind = 0; kind < 8 && !s; kind++)
    for (size_t k = 0; k <= reps && !s; k++) { /* k = 0: untimed */
      /* the cached kinds (6, 7) stay at θ; the others alternate */
      const double *t = kind < 6 && k % 2 ? th2 : th;
      double t0 = bench_now();
      switch (kind) {
      case 0: s = ph_objective_loss_grad(o, t, &b, &L, g, &err); break;
      case 1: s = ph_objective_hvp(o, t, &b, v, g, &err); break;
      case 2: s = ph_objective_ggnvp(o, t, &b, v, g, &err); break;
      case 3: s = ph_objective_eval(o, t, &b, &L, &acc, &err); break;
      case 4: s = ph_objective_hvp_block(o, t, &b, kblock, V, W, &err); break;
      case 5: s = ph_objective_ggnvp_block(o, t, &b, kblock, V, W, &err); break;
      case 6: s = ph_objective_hvp(o, t, &b, v, g, &err); break;
      default: s = ph_objective_ggnvp(o, t, &b, v, g, &err); break;
      }
      if (k) times[kind][k - 1] = bench_now() - t0;
    }
  if (!s) {
    double mg = median(tg, reps), mh = median(th_, reps),
           mv = median(tgg, reps);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", model);
    cJSON_AddStringToObject(j, "data", data);
    ph_json_add_number(j, "batch", (double)bn);
    ph_json_add_number(j, "n_params", (double)n);
    ph_json_add_number(j, "threads", (double)threads);
    ph_json_add_number(j, "reps", (double)reps);
    ph_json_add_number(j, "seed", (double)seed);
    ph_json_add_number(j, "grad_s", mg);
    ph_json_add_number(j, "hvp_s", mh);
    ph_json_add_number(j, "ggnvp_s", mv);
    double me = median(tev, reps), mhb = median(thb, reps),
           mgb = median(tgb, reps);
    ph_json_add_number(j, "eval_s", me);
    ph_json_add_number(j, "block", (double)kblock);
    ph_json_add_number(j, "hvp_block_s", mhb);
    ph_json_add_number(j, "ggnvp_block_s", mgb);
    ph_json_add_number(j, "hvp_block_over_singles", mhb / (kblock * mh));
    ph_json_add_number(j, "ggnvp_block_over_singles", mgb / (kblock * mv));
    cJSON_AddStringToObject(j, "clock", use_cpu_clock ? "cpu" : "wall");
    ph_json_add_number(j, "hvp_cached_s", median(tc, reps));
    ph_json_add_number(j, "ggnvp_cached_s", median(tc + reps, reps));
    ph_json_add_number(j, "hvp_over_grad", mh / mg);
    ph_json_add_number(j, "ggnvp_over_grad", mv / mg);
    /* each product's GEMMs alone (MLP/CNN), and the product's time over
     * theirs: the share of everything else */
    static const char *const gk[] = {"grad", "hvp", "ggnvp"};
    const double mk[] = {mg, mh, mv};
    for (int q = 0; q < 3; q++) {
      size_t ng = ph_net_product_gemms(o, (ph_net_product)q, bn, NULL, 0);
      ph_net_gemm *gl = ng ? malloc(ng * sizeof *gl) : NULL;
      if (!gl) continue;
      ph_net_product_gemms(o, (ph_net_product)q, bn, gl, ng);
      double gm = gemm_only(gl, ng, reps, GEMM_AS_RUN);
      char key[48];
      snprintf(key, sizeof key, "%s_gemm_only_s", gk[q]);
      ph_json_add_number(j, key, gm);
      snprintf(key, sizeof key, "%s_over_gemm_only", gk[q]);
      ph_json_add_number(j, key, mk[q] / gm);
      /* the same GEMMs all through OpenBLAS, and, when the product runs
       * some there (the convolutions' weight adjoints, and on AVX2
       * targets all of theirs), all through ph_nn_gemm_acc */
      snprintf(key, sizeof key, "%s_gemm_only_openblas_s", gk[q]);
      ph_json_add_number(j, key, gemm_only(gl, ng, reps, GEMM_OPENBLAS));
      int blas = 0;
      for (size_t i = 0; i < ng; i++) blas |= !gl[i].routed;
      if (blas) {
        snprintf(key, sizeof key, "%s_gemm_only_routed_s", gk[q]);
        ph_json_add_number(j, key, gemm_only(gl, ng, reps, GEMM_ROUTED));
      }
      free(gl);
    }
    ph_json_add_stamp(j);
    char *text = cJSON_Print(j);
    if (text) printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(j);
  }
  free(th);
  free(th2);
  free(tc);
  free(g);
  free(v);
  free(tg);
  free(th_);
  free(tgg);
  free(tev);
  free(thb);
  free(tgb);
  free(V);
  free(W);
  ph_objective_free(o);
  ph_dataset_free(d);
  return s ? ph_cli_fail(CMD, s, &err) : 0;
}
