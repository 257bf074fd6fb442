/* clone_cost.c: what a grid's extra worker costs before its first point
 * (docs/performance.md, tenth session, align10): a network objective
 * prepares a plane over the first 1024 digits, then eight times in turn
 * a clone is made, prepares the same plane and evaluates two points;
 * prints the wall time and minor page faults of each step. The first
 * clone is the grid's case (later ones reuse the heap the earlier ones
 * freed). Not built by meson:
 *   gcc -O2 -Isrc -Ibuild/src tests/bench/clone_cost.c -o clone_cost \
 *     build/src/libpothole.so -Wl,-rpath,$PWD/build/src -lm
 *   OPENBLAS_NUM_THREADS=1 ./clone_cost */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "core/objective.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "landscape/grid.h"
#include "nn/net.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long faults(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

int main(void) {
  size_t N = 1024;
  ph_error err = {0};
  ph_data_options dopt = ph_data_options_default();
  dopt.max_train = N;
  ph_dataset *d = NULL;
  ph_objective *o = NULL;
  if (ph_dataset_load("digits", &dopt, &d, &err) ||
      ph_net_create("mlp:64-64:tanh", d, N, &o, &err)) {
    fprintf(stderr, "clone_cost: %s\n", err.msg);
    return 1;
  }
  size_t n = o->n;
  double *th = malloc(n * sizeof *th), *d1 = malloc(n * sizeof *d1),
         *d2 = malloc(n * sizeof *d2), *p = malloc(n * sizeof *p);
  if (!th || !d1 || !d2 || !p) return 1;
  ph_net_init_params(o, 1, th, &err);
  ph_rng r = ph_rng_make(1, 77);
  ph_rng_fill_gauss(&r, d1, n, 0.05);
  ph_rng_fill_gauss(&r, d2, n, 0.05);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, N};
  if (o->plane_prepare(o->ctx, th, d1, d2, &b, &err)) {
    fprintf(stderr, "clone_cost: %s\n", err.msg);
    return 1;
  }
  for (int k = 0; k < 8; k++) {
    double t[5], L, A;
    long f[4];
    ph_objective *c = NULL;
    t[0] = now();
    f[0] = faults();
    if (ph_objective_clone_create(o, &c, &err)) return 1;
    t[1] = now();
    f[1] = faults();
    if (c->plane_prepare(c->ctx, th, d1, d2, &b, &err)) return 1;
    t[2] = now();
    f[2] = faults();
    ph_grid_point(n, th, d1, d2, 0.1, 0.2, p);
    if (c->plane_eval(c->ctx, p, 0.1, 0.2, &L, &A, &err)) return 1;
    t[3] = now();
    f[3] = faults();
    ph_grid_point(n, th, d1, d2, 0.1, 0.3, p);
    if (c->plane_eval(c->ctx, p, 0.1, 0.3, &L, &A, &err)) return 1;
    t[4] = now();
    printf("clone %.3f ms %ld faults | prepare %.3f ms %ld | first point "
           "%.3f ms %ld | second point %.3f ms\n",
           1e3 * (t[1] - t[0]), f[1] - f[0], 1e3 * (t[2] - t[1]), f[2] - f[1],
           1e3 * (t[3] - t[2]), f[3] - f[2], 1e3 * (t[4] - t[3]));
    ph_objective_free(c);
  }
  ph_objective_free(o);
  ph_dataset_free(d);
  free(th);
  free(d1);
  free(d2);
  free(p);
  return 0;
}
