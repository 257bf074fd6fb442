/* bench_grid.c: grid throughput of ph_grid_eval on an MLP evaluation, for
 * docs/performance-landscape.md. Not a test.
 *
 *   bench_grid B GRID THREADS ACT IN H1 ... OUT     e.g.
 *   bench_grid 1024 11x11 2 relu 784 256 256 10
 *
 * The objective here is a plain eval-only MLP written for this benchmark
 * (dense layers y = x Wᵀ + b with one cblas_dgemm each, activation, softmax
 * cross-entropy and accuracy), so the measurement isolates the grid's
 * machinery -- threads, clones, θ + x d1 + y d2 per point -- from the
 * network module. Inputs are standard normal (only shapes matter for time),
 * labels i mod OUT. Prints points per second, seconds per point, the GEMM
 * chain's share, and checks that the surface equals the 1-thread surface.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "core/rng.h"
#include "landscape/directions.h"
#include "landscape/grid.h"

#define MAXL 8

typedef struct mlp_shared {
  size_t B, L, sizes[MAXL + 1];
  int relu;
  const double *X; /* (B, sizes[0]) */
  const int *y;    /* (B) */
  ph_block blocks[2 * MAXL];
} mlp_shared;

typedef struct mlp_ctx {
  const mlp_shared *s;
  double *h[2]; /* (B, maxw) each */
} mlp_ctx;

static ph_status mlp_eval(void *ctx, const double *theta, const ph_batch *b,
                          double *loss, double *acc, ph_error *err) {
  (void)b;
  (void)err;
  mlp_ctx *c = ctx;
  const mlp_shared *s = c->s;
  const double *in = s->X;
  size_t off = 0;
  double *out = NULL;
  for (size_t l = 0; l < s->L; l++) {
    size_t fi = s->sizes[l], fo = s->sizes[l + 1];
    const double *W = theta + off, *bias = theta + off + fi * fo;
    off += fi * fo + fo;
    out = c->h[l % 2];
    for (size_t i = 0; i < s->B; i++)
      memcpy(out + i * fo, bias, fo * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->B, (int)fo,
                (int)fi, 1.0, in, (int)fi, W, (int)fi, 1.0, out, (int)fo);
    if (l + 1 < s->L) {
      size_t m = s->B * fo;
      if (s->relu)
        for (size_t k = 0; k < m; k++) out[k] = out[k] > 0 ? out[k] : 0;
      else
        for (size_t k = 0; k < m; k++) out[k] = tanh(out[k]);
    }
    in = out;
  }
  size_t K = s->sizes[s->L];
  double L = 0, A = 0;
  for (size_t i = 0; i < s->B; i++) {
    const double *z = out + i * K;
    size_t am = 0;
    for (size_t k = 1; k < K; k++)
      if (z[k] > z[am]) am = k;
    double se = 0;
    for (size_t k = 0; k < K; k++) se += exp(z[k] - z[am]);
    L += log(se) + z[am] - z[s->y[i]];
    A += (int)am == s->y[i];
  }
  *loss = L / (double)s->B;
  if (acc) *acc = A / (double)s->B;
  return PH_OK;
}

static void mlp_destroy(ph_objective *o) {
  mlp_ctx *c = o->ctx;
  free(c->h[0]);
  free(c->h[1]);
  free(c);
  free(o);
}

static ph_objective *mlp_new(const mlp_shared *s, size_t n);

static ph_objective *mlp_clone(const ph_objective *o, ph_error *err) {
  (void)err;
  return mlp_new(((mlp_ctx *)o->ctx)->s, o->n);
}

static ph_objective *mlp_new(const mlp_shared *s, size_t n) {
  ph_objective *o = calloc(1, sizeof *o);
  mlp_ctx *c = calloc(1, sizeof *c);
  size_t maxw = 0;
  for (size_t l = 1; l <= s->L; l++)
    if (s->sizes[l] > maxw) maxw = s->sizes[l];
  c->s = s;
  c->h[0] = malloc(s->B * maxw * sizeof(double));
  c->h[1] = malloc(s->B * maxw * sizeof(double));
  o->name = "bench-mlp";
  o->n = n;
  o->n_blocks = 2 * s->L;
  o->blocks = s->blocks;
  o->n_examples[0] = o->n_examples[1] = s->B;
  o->has_accuracy = 1;
  o->ctx = c;
  o->eval = mlp_eval;
  o->clone = mlp_clone;
  o->destroy = mlp_destroy;
  return o;
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr,
            "usage: bench_grid B NXxNY THREADS relu|tanh IN H... OUT\n");
    return 2;
  }
  mlp_shared s;
  memset(&s, 0, sizeof s);
  s.B = strtoull(argv[1], NULL, 10);
  size_t nx = 0, ny = 0;
  if (sscanf(argv[2], "%zux%zu", &nx, &ny) != 2) return 2;
  int threads = atoi(argv[3]);
  s.relu = strcmp(argv[4], "relu") == 0;
  s.L = (size_t)(argc - 6);
  if (s.L > MAXL) return 2;
  for (size_t l = 0; l <= s.L; l++)
    s.sizes[l] = strtoull(argv[5 + l], NULL, 10);
  size_t n = 0;
  double flops = 0;
  for (size_t l = 0; l < s.L; l++) {
    size_t fi = s.sizes[l], fo = s.sizes[l + 1];
    ph_block *w = &s.blocks[2 * l], *b = &s.blocks[2 * l + 1];
    snprintf(w->name, sizeof w->name, "l%zu.w", l);
    w->offset = n;
    w->size = fi * fo;
    w->ndim = 2;
    w->shape[0] = fo;
    w->shape[1] = fi;
    w->kind = PH_BLOCK_WEIGHT;
    w->fan_in = fi;
    w->fan_out = fo;
    n += fi * fo;
    snprintf(b->name, sizeof b->name, "l%zu.b", l);
    b->offset = n;
    b->size = fo;
    b->ndim = 1;
    b->shape[0] = fo;
    b->kind = PH_BLOCK_BIAS;
    b->fan_in = 1;
    b->fan_out = fo;
    n += fo;
    flops += 2.0 * s.B * fi * fo;
  }
  double *X = malloc(s.B * s.sizes[0] * sizeof *X);
  int *y = malloc(s.B * sizeof *y);
  ph_rng r = ph_rng_make(1, PH_RNG_STREAM_USER);
  ph_rng_fill_gauss(&r, X, s.B * s.sizes[0], 1.0);
  for (size_t i = 0; i < s.B; i++) y[i] = (int)(i % s.sizes[s.L]);
  s.X = X;
  s.y = y;
  double *theta = malloc(n * sizeof *theta), *d1 = malloc(n * sizeof *d1),
         *d2 = malloc(n * sizeof *d2);
  for (size_t l = 0; l < s.L; l++) /* He-like scale */
    for (size_t k = 0; k < s.blocks[2 * l].size + s.blocks[2 * l + 1].size; k++)
      theta[s.blocks[2 * l].offset + k] =
          ph_rng_gauss(&r) * sqrt(2.0 / (double)s.sizes[l]);
  ph_objective *o = mlp_new(&s, n);
  ph_landscape_random_direction(o, theta, 7, 0, PH_DIR_NORM_FILTER, 0, d1);
  ph_landscape_random_direction(o, theta, 7, 1, PH_DIR_NORM_FILTER, 0, d2);

  size_t np = nx * ny;
  double *loss = malloc(np * sizeof *loss), *acc = malloc(np * sizeof *acc);
  double *loss1 = malloc(np * sizeof *loss1), *acc1 = malloc(np * sizeof *acc1);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, s.B};
  ph_grid_axes ax = {nx, ny, -1, 1, -1, 1};
  ph_grid_options opt = ph_grid_options_default();
  ph_grid_stats st1, st;
  ph_error err = {0};
  ph_error_clear(&err);
  { /* warm up: page in buffers and BLAS before timing */
    double l, a;
    for (int k = 0; k < 3; k++) mlp_eval(o->ctx, theta, &b, &l, &a, &err);
  }
  opt.threads = 1;
  if (ph_grid_eval(o, theta, d1, d2, &b, &ax, &opt, loss1, acc1, &st1, &err))
    return fprintf(stderr, "%s\n", err.msg), 1;
  opt.threads = threads;
  if (ph_grid_eval(o, theta, d1, d2, &b, &ax, &opt, loss, acc, &st, &err))
    return fprintf(stderr, "%s\n", err.msg), 1;
  int same = memcmp(loss, loss1, np * sizeof *loss) == 0 &&
             memcmp(acc, acc1, np * sizeof *acc) == 0;
  printf("{\"n_params\": %zu, \"batch\": %zu, \"points\": %zu, "
         "\"gemm_flops_per_point\": %.0f, "
         "\"t1_points_per_second\": %.3f, \"t1_seconds_per_point\": %.6g, "
         "\"threads\": %d, \"points_per_second\": %.3f, "
         "\"seconds_per_point\": %.6g, \"speedup\": %.3f, "
         "\"identical_to_1_thread\": %s}\n",
         n, s.B, np, flops, st1.points_per_second, 1.0 / st1.points_per_second,
         threads, st.points_per_second, 1.0 / st.points_per_second,
         st.points_per_second / st1.points_per_second, same ? "true" : "false");
  ph_objective_free(o);
  free(X);
  free(y);
  free(theta);
  free(d1);
  free(d2);
  free(loss);
  free(acc);
  free(loss1);
  free(acc1);
  return same ? 0 : 1;
}
