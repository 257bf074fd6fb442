/* bench_make_ckpt.c: write a freshly initialised checkpoint for the slice
 * benchmark (docs/performance-landscape.md). Not a test.
 *
 *   bench_make_ckpt MODEL DATA SEED OUT.ckpt
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/ckpt.h"
#include "nn/net.h"

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: bench_make_ckpt MODEL DATA SEED OUT.ckpt\n");
    return 2;
  }
  ph_error err;
  ph_error_clear(&err);
  ph_data_options dopt = ph_data_options_default();
  ph_dataset *d = NULL;
  ph_objective *o = NULL;
  ph_ckpt *ck = NULL;
  double *theta = NULL;
  uint64_t seed = strtoull(argv[3], NULL, 10);
  ph_status st = ph_dataset_load(argv[2], &dopt, &d, &err);
  if (!st) st = ph_net_create(argv[1], d, 256, &o, &err);
  if (!st) {
    theta = malloc(o->n * sizeof *theta);
    st = ph_net_init_params(o, seed, theta, &err);
  }
  if (!st) {
    st = ph_ckpt_create(&ck, &err);
    if (!st) st = ph_net_ckpt_put(ck, o, argv[2], seed, theta, &err);
  }
  if (!st) st = ph_ckpt_write(ck, argv[4], &err);
  if (st) fprintf(stderr, "bench_make_ckpt: %s\n", err.msg);
  ph_ckpt_free(ck);
  free(theta);
  ph_objective_free(o);
  ph_dataset_free(d);
  return st ? 1 : 0;
}
