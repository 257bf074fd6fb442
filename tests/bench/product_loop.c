/* product_loop.c: one kind of product of the sequential engine in a loop,
 * for `perf record` (docs/performance-history.md, "Sixth session (lead)"): the
 * process does nothing else, so a profile shows that product's time
 * alone. Calls alternate θ with a copy one ulp away, so no call reuses the
 * previous call's forward cache (as `pothole bench products` times them).
 * Prints the minimum and median process CPU time per call. Not built by
 * meson:
 *   gcc -O2 -Isrc tests/bench/product_loop.c -o product_loop \
 *     build/src/libpothole.so -Wl,-rpath,$PWD/build/src -lm
 *   OPENBLAS_NUM_THREADS=1 perf record ./product_loop mlp:64-64:tanh digits 64
 * 20000 grad (arguments: model, data, batch, repetitions, grad|hvp|ggnvp|eval).
 */
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
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: product_loop MODEL DATA BATCH REPS "
                    "grad|hvp|ggnvp|eval\n");
    return 2;
  }
  const char *kinds[] = {"grad", "hvp", "ggnvp", "eval"};
  int kind = -1;
  for (int k = 0; k < 4; k++)
    if (strcmp(argv[5], kinds[k]) == 0) kind = k;
  size_t batch = strtoul(argv[3], NULL, 10), reps = strtoul(argv[4], NULL, 10);
  if (kind < 0 || batch == 0 || reps == 0) {
    fprintf(stderr, "product_loop: bad BATCH, REPS or kind\n");
    return 2;
  }
  ph_error err = {0};
  ph_data_options dopt = ph_data_options_default();
  dopt.max_train = batch;
  ph_dataset *d = NULL;
  ph_objective *o = NULL;
  if (ph_dataset_load(argv[2], &dopt, &d, &err) ||
      ph_net_create(argv[1], d, batch, &o, &err) ||
      ph_net_set_threads(o, 1, &err)) {
    fprintf(stderr, "product_loop: %s\n", err.msg);
    return 1;
  }
  size_t n = o->n;
  double *th = malloc(2 * n * sizeof *th), *g = malloc(n * sizeof *g),
         *v = malloc(n * sizeof *v), *t = malloc(reps * sizeof *t);
  if (!th || !g || !v || !t) return 1;
  ph_net_init_params(o, 1, th, &err);
  memcpy(th + n, th, n * sizeof *th);
  th[n] = nextafter(th[n], 1.0);
  ph_rng r = ph_rng_make(1, 77);
  ph_rng_fill_gauss(&r, v, n, 1.0);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, batch};
  double L, acc;
  ph_status s = PH_OK;
  for (size_t k = 0; k < reps && !s; k++) {
    const double *x = th + (k % 2) * n;
    double t0 = cpu_now();
    switch (kind) {
    case 0: s = ph_objective_loss_grad(o, x, &b, &L, g, &err); break;
    case 1: s = ph_objective_hvp(o, x, &b, v, g, &err); break;
    case 2: s = ph_objective_ggnvp(o, x, &b, v, g, &err); break;
    default: s = ph_objective_eval(o, x, &b, &L, &acc, &err); break;
    }
    t[k] = cpu_now() - t0;
  }
  if (s) {
    fprintf(stderr, "product_loop: %s\n", err.msg);
    return 1;
  }
  qsort(t, reps, sizeof *t, cmp_d);
  printf("%s: min %.1f us, median %.1f us over %zu calls\n", argv[5],
         1e6 * t[0], 1e6 * t[reps / 2], reps);
  free(th);
  free(g);
  free(v);
  free(t);
  ph_objective_free(o);
  ph_dataset_free(d);
  return 0;
}
