/* plane_loop.c: a grid's plane evaluation (plane_prepare once, then
 * plane_eval at the points of a 21 × 21 grid over [−1, 1]², over and over)
 * in a loop, for `perf record` and for old-against-new timing without the
 * rest of `pothole slice` (docs/performance-history.md, "Eighth session: grids
 * at one thread"). θ0 from ph_net_init_params (seed 1), directions N(0, 0.05²)
 * on every entry. Prints the process CPU time per point and a checksum of the
 * losses and accuracies (the same bits give the same sum). Not built by
 * meson:
 *   gcc -O2 -Isrc tests/bench/plane_loop.c -o plane_loop \
 *     build/src/libpothole.so -Wl,-rpath,$PWD/build/src -lm
 *   OPENBLAS_NUM_THREADS=1 ./plane_loop mlp:64-64:tanh 1024 2000
 * (arguments: model, examples of digits, points). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/objective.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "landscape/grid.h"
#include "nn/net.h"

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: plane_loop MODEL EXAMPLES POINTS\n");
    return 2;
  }
  size_t N = strtoul(argv[2], NULL, 10), reps = strtoul(argv[3], NULL, 10);
  if (N == 0 || reps == 0) {
    fprintf(stderr, "plane_loop: bad EXAMPLES or POINTS\n");
    return 2;
  }
  ph_error err = {0};
  ph_data_options dopt = ph_data_options_default();
  dopt.max_train = N;
  ph_dataset *d = NULL;
  ph_objective *o = NULL;
  if (ph_dataset_load("digits", &dopt, &d, &err) ||
      ph_net_create(argv[1], d, N, &o, &err)) {
    fprintf(stderr, "plane_loop: %s\n", err.msg);
    return 1;
  }
  size_t n = o->n;
  double *th = malloc(n * sizeof *th), *d1 = malloc(n * sizeof *d1),
         *d2 = malloc(n * sizeof *d2), *p = malloc(n * sizeof *p);
  if (!th || !d1 || !d2 || !p || !o->plane_prepare) return 1;
  ph_net_init_params(o, 1, th, &err);
  ph_rng r = ph_rng_make(1, 77);
  ph_rng_fill_gauss(&r, d1, n, 0.05);
  ph_rng_fill_gauss(&r, d2, n, 0.05);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, N};
  if (o->plane_prepare(o->ctx, th, d1, d2, &b, &err)) {
    fprintf(stderr, "plane_loop: %s\n", err.msg);
    return 1;
  }
  double t0 = cpu_now(), sum = 0;
  for (size_t k = 0; k < reps; k++) {
    double a = -1 + 0.1 * (double)(k % 21),
           c = -1 + 0.1 * (double)(k / 21 % 21);
    double L = 0, acc = 0;
    ph_grid_point(n, th, d1, d2, a, c, p);
    if (o->plane_eval(o->ctx, p, a, c, &L, &acc, &err)) {
      fprintf(stderr, "plane_loop: %s\n", err.msg);
      return 1;
    }
    sum += L + acc;
  }
  double t = cpu_now() - t0;
  printf("%.1f us per point (%.0f points per CPU s), checksum %.17g\n",
         1e6 * t / (double)reps, (double)reps / t, sum);
  o->plane_release(o->ctx);
  free(th);
  free(d1);
  free(d2);
  free(p);
  ph_objective_free(o);
  ph_dataset_free(d);
  return 0;
}
