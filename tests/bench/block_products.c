/* block_products.c: process CPU time of single and block products of the
 * sequential engine, from scratch and at one θ, the two cases curvature
 * work meets (docs/performance-history.md, "Sixth session: block products").
 * `pothole bench products` times every product from scratch; Lanczos and
 * SLQ ask for their products at one θ, where the forward cache
 * (src/nn/net_obj.c) serves the forward and Hv's adjoints. Per
 * repetition, in this order: Hv from scratch, Hv again at that θ, a block
 * of K from scratch, the block again at that θ, then the same four for
 * Gv; "from scratch" alternates θ with a copy one ulp away, so the
 * previous call's cache never serves it. Interleaving the eight kinds
 * within each repetition keeps a load change on the shared machine from
 * biasing one kind. Prints medians in ms and the ratios block / (K
 * singles). Not built by meson:
 *   gcc -O2 -Isrc tests/bench/block_products.c -o block_products \
 *     build/src/libpothole.so -Wl,-rpath,$PWD/build/src -lm
 *   OPENBLAS_NUM_THREADS=1 ./block_products mlp:64-64:tanh digits 64 8 50 1
 * (arguments: model, data, batch, K, repetitions, threads). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/objective.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "nn/net.h"

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *x, size_t n) {
  qsort(x, n, sizeof *x, cmp);
  return x[n / 2];
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s MODEL DATA BATCH K REPS THREADS\n", argv[0]);
    return 2;
  }
  const char *model = argv[1], *data = argv[2];
  size_t batch = (size_t)atol(argv[3]), k = (size_t)atol(argv[4]),
         reps = (size_t)atol(argv[5]), threads = (size_t)atol(argv[6]);
  if (!batch || !k || !reps || !threads) return 2;
  ph_error err = {0};
  ph_data_options dopt = ph_data_options_default();
  dopt.seed = 1;
  dopt.max_train = batch;
  ph_dataset *d = NULL;
  ph_objective *o = NULL;
  if (ph_dataset_load(data, &dopt, &d, &err) ||
      ph_net_create(model, d, batch, &o, &err) ||
      ph_net_set_threads(o, threads, &err)) {
    fprintf(stderr, "block_products: %s\n", err.msg);
    return 1;
  }
  size_t n = o->n;
  double *th = malloc(n * sizeof *th), *th2 = malloc(n * sizeof *th2),
         *v = malloc(n * sizeof *v), *hv = malloc(n * sizeof *hv),
         *V = malloc(k * n * sizeof *V), *HV = malloc(k * n * sizeof *HV),
         *t = malloc(8 * reps * sizeof *t);
  if (!th || !th2 || !v || !hv || !V || !HV || !t) return 1;
  ph_net_init_params(o, 1, th, &err);
  memcpy(th2, th, n * sizeof *th2);
  th2[0] = nextafter(th2[0], 1.0);
  ph_rng r = ph_rng_make(1, 77);
  ph_rng_fill_gauss(&r, v, n, 1.0);
  ph_rng_fill_gauss(&r, V, k * n, 1.0);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, batch};
  ph_status s = PH_OK;
  /* kind q: bit 2 Gv, bit 1 block, bit 0 at the θ of the call before;
   * singles run at th, blocks at th2, so every even kind changes θ */
  for (size_t i = 0; i < reps && !s; i++)
    for (int q = 0; q < 8 && !s; q++) {
      int ggn = q & 4, blk = q & 2;
      const double *x = blk ? th2 : th;
      double t0 = cpu_now();
      if (blk)
        s = ggn ? ph_objective_ggnvp_block(o, x, &b, k, V, HV, &err)
                : ph_objective_hvp_block(o, x, &b, k, V, HV, &err);
      else
        s = ggn ? ph_objective_ggnvp(o, x, &b, v, hv, &err)
                : ph_objective_hvp(o, x, &b, v, hv, &err);
      t[q * reps + i] = cpu_now() - t0;
    }
  if (s) {
    fprintf(stderr, "block_products: %s\n", err.msg);
    return 1;
  }
  double m[8];
  for (int q = 0; q < 8; q++) m[q] = 1e3 * median(t + q * reps, reps);
  printf("| model | batch | K | threads | product | single scratch | single "
         "at one θ | block scratch | block at one θ | block/K singles "
         "scratch | at one θ |\n|---|---|---|---|---|---|---|---|---|---|---"
         "|\n");
  for (int g = 0; g < 2; g++) {
    const double *x = m + 4 * g;
    printf("| %s | %zu | %zu | %zu | %s | %.3f ms | %.3f ms | %.3f ms | %.3f "
           "ms | %.3f | %.3f |\n",
           model, batch, k, threads, g ? "Gv" : "Hv", x[0], x[1], x[2], x[3],
           x[2] / ((double)k * x[0]), x[3] / ((double)k * x[1]));
  }
  free(th);
  free(th2);
  free(v);
  free(hv);
  free(V);
  free(HV);
  free(t);
  ph_objective_free(o);
  ph_dataset_free(d);
  return 0;
}
