/* test_transformer.c: the transformer objective end to end on a tiny model
 * (transformer:d8h2l2 with vocabulary 5 and sequence length 4: 1,941
 * parameters) over a hand-built token data set with ignored targets.
 *  - spec parsing accepts dDhHlL and rejects malformed specs;
 *  - the gradient matches central differences of the loss, every coordinate;
 *  - the dense Hessian from n Hv products is symmetric to rounding and each
 *    column matches central differences of the gradient;
 *  - the dense GGN from n Gv products equals Jᵀ H_z J with J from central
 *    differences of the logits and H_z = diag(p) − ppᵀ per position;
 *  - chunked evaluation (max_batch < batch) gives the same numbers;
 *  - eval's loss equals loss_grad's, its accuracy counts target positions;
 *  - the initialisation follows its documented distribution;
 *  - block products equal single products (1e-12), and the forward cache
 *    never serves a stale pass when θ or the batch change in place.
 * Tolerances: fdcheck.h; symmetry and chunking to 64·ε·(size)·max|H|.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "core/npy.h"
#include "core/rng.h"
#include "nn/transformer.h"
#include "fdcheck.h"

enum { NEX = 3, TT = 4, VV = 5 };

static ph_dataset ds;
static double xs[2][NEX * TT];
static int32_t ys[2][NEX * TT];

static void make_data(void) {
  memset(&ds, 0, sizeof ds);
  snprintf(ds.spec, sizeof ds.spec, "hand-made");
  snprintf(ds.name, sizeof ds.name, "hand");
  ds.task = PH_TASK_SEQUENCE;
  ds.n[0] = ds.n[1] = NEX;
  ds.in_ndim = 1;
  ds.in_shape[0] = TT;
  ds.in_size = TT;
  ds.n_classes = VV;
  ds.n_targets = TT;
  ph_rng r = ph_rng_make(7, PH_RNG_STREAM_USER + 77);
  for (int s = 0; s < 2; s++) {
    for (int i = 0; i < NEX * TT; i++) {
      xs[s][i] = (double)ph_rng_below(&r, VV);
      /* every third position has no target */
      ys[s][i] = i % 3 == 1 ? -1 : (int32_t)ph_rng_below(&r, VV);
    }
    ds.x[s] = xs[s];
    ds.y[s] = ys[s];
  }
}

static ph_objective *make_obj(const char *spec, size_t max_batch) {
  ph_objective *o = NULL;
  ph_error err = {0};
  ph_status st = ph_transformer_create(spec, &ds, max_batch, &o, &err);
  if (st != PH_OK) fail_msg("create: %s", err.msg);
  return o;
}

/* θ with O(1) entries so that every nonlinearity is exercised (the GPT-2
 * initialisation would leave attention nearly uniform). */
static double *random_theta(const ph_objective *o, uint64_t seed) {
  double *th = calloc(o->n, sizeof *th);
  ph_rng r = ph_rng_make(seed, PH_RNG_STREAM_USER + 5);
  ph_rng_fill_uniform(&r, th, o->n, -0.6, 0.6);
  for (size_t b = 0; b < o->n_blocks; b++) {
    const ph_block *bl = &o->blocks[b];
    size_t len = strlen(bl->name);
    if (bl->kind == PH_BLOCK_NORM && bl->name[len - 1] == 'g')
      for (size_t j = 0; j < bl->size; j++) th[bl->offset + j] += 1.0;
  }
  return th;
}

static void test_spec(void **state) {
  (void)state;
  ph_transformer_config c;
  ph_error err = {0};
  assert_int_equal(ph_transformer_spec_parse("transformer:d32h2l2", &c, &err),
                   PH_OK);
  assert_int_equal(c.d_model, 32);
  assert_int_equal(c.n_heads, 2);
  assert_int_equal(c.n_layers, 2);
  assert_int_equal(c.d_ff, 128);
  const char *bad[] = {"transformer:d32h3l2",  "transformer:d32h2",
                       "transformer:d32h2l2x", "mlp:64",
                       "transformer:h2d32l2",  "transformer:d0h1l1",
                       "transformer:d8h2l0"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ph_error_clear(&err);
    assert_int_equal(ph_transformer_spec_parse(bad[i], &c, &err), PH_ERR_ARG);
    assert_non_null(strstr(err.msg, bad[i]));
  }
  /* Non-token data is refused. */
  ph_dataset other = ds;
  other.task = PH_TASK_CLASSIFY;
  ph_objective *o = NULL;
  assert_int_equal(
      ph_transformer_create("transformer:d8h2l1", &other, 4, &o, NULL),
      PH_ERR_UNSUPPORTED);
  assert_null(o);
  /* Out-of-range tokens are refused at creation with their position. */
  xs[1][5] = 9.0;
  ph_error_clear(&err);
  assert_int_equal(
      ph_transformer_create("transformer:d8h2l1", &ds, 4, &o, &err),
      PH_ERR_FORMAT);
  assert_non_null(strstr(err.msg, "test split"));
  make_data();
}

static void test_layout(void **state) {
  (void)state;
  ph_objective *o = make_obj("transformer:d8h2l2", NEX);
  size_t d = 8, F = 32, L = 2;
  size_t want = VV * d + TT * d +
                L * (4 * (d * d + d) + 4 * d + F * d + F + d * F + d) + 2 * d +
                VV * d + VV;
  assert_int_equal(o->n, want);
  assert_true(o->n <= 2000);
  assert_int_equal(o->n_blocks, 6 + 16 * L);
  size_t off = 0;
  for (size_t b = 0; b < o->n_blocks; b++) {
    assert_int_equal(o->blocks[b].offset, off);
    off += o->blocks[b].size;
  }
  assert_int_equal(off, o->n);
  long i = ph_objective_find_block(o, "h1.mlp.w1");
  assert_true(i >= 0);
  assert_int_equal(o->blocks[i].shape[0], F);
  assert_int_equal(o->blocks[i].shape[1], d);
  assert_int_equal(o->blocks[i].fan_in, d);
  assert_int_equal(o->blocks[i].kind, PH_BLOCK_WEIGHT);
  assert_string_equal(ph_transformer_spec(o), "transformer:d8h2l2");
  assert_ptr_equal(ph_transformer_dataset(o), &ds);
  ph_objective_free(o);
}

static void test_gradient(void **state) {
  (void)state;
  ph_objective *o = make_obj("transformer:d8h2l2", NEX);
  size_t n = o->n;
  double *th = random_theta(o, 1), *g = calloc(n, sizeof *g);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, NEX};
  double l0, lp, lm;
  assert_int_equal(o->loss_grad(o->ctx, th, &b, &l0, g, NULL), PH_OK);
  int ok = 1;
  for (size_t i = 0; i < n && ok; i++) {
    double D[2], t = th[i];
    for (int s = 0; s < 2; s++) {
      double h = H_FD * (s + 1);
      th[i] = t + h;
      o->loss_grad(o->ctx, th, &b, &lp, NULL, NULL);
      th[i] = t - h;
      o->loss_grad(o->ctx, th, &b, &lm, NULL, NULL);
      D[s] = (lp - lm) / (2 * h);
    }
    th[i] = t;
    ok = fd_close(g[i], D[0], D[1], fabs(l0), o->blocks[0].name, i);
  }
  if (!ok) fail_msg("gradient disagrees with central differences");
  /* eval: same loss; accuracy = correct / (positions with a target). */
  double le, acc;
  assert_int_equal(o->eval(o->ctx, th, &b, &le, &acc, NULL), PH_OK);
  assert_true(fabs(le - l0) <= 16 * EPS * fabs(l0));
  double *z = calloc(NEX * TT * VV, sizeof *z);
  assert_int_equal(ph_transformer_logits(o, th, &b, z, NULL), PH_OK);
  size_t cnt = 0, cor = 0;
  for (size_t r = 0; r < NEX * TT; r++) {
    if (ys[0][r] < 0) continue;
    cnt++;
    size_t best = 0;
    for (size_t c = 1; c < VV; c++)
      if (z[r * VV + c] > z[r * VV + best]) best = c;
    cor += best == (size_t)ys[0][r];
  }
  assert_true(acc == (double)cor / (double)cnt);
  free(z);
  free(th);
  free(g);
  ph_objective_free(o);
}

static void test_hessian(void **state) {
  (void)state;
  ph_objective *o = make_obj("transformer:d8h2l2", NEX);
  size_t n = o->n;
  double *th = random_theta(o, 2);
  double *H = calloc(n * n, sizeof *H), *e = calloc(n, sizeof *e);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, NEX};
  for (size_t j = 0; j < n; j++) {
    e[j] = 1.0;
    assert_int_equal(o->hvp(o->ctx, th, &b, e, H + j * n, NULL), PH_OK);
    e[j] = 0.0;
  }
  double hmax = 0.0;
  for (size_t i = 0; i < n * n; i++) hmax = fmax(hmax, fabs(H[i]));
  assert_true(hmax > 1e-3); /* not vacuous */
  /* Symmetry: each entry is a sum over ~N·(n_layers·d + V) products. */
  double tol = 64 * EPS * 200 * hmax, asym = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < i; j++)
      asym = fmax(asym, fabs(H[i * n + j] - H[j * n + i]));
  if (asym > tol) fail_msg("Hessian asymmetry %.3g > %.3g", asym, tol);
  /* Columns against central differences of the gradient (every 7th column
   * plus the last: all block kinds are covered, within the 10 s budget). */
  double *gp = calloc(n, sizeof *gp), *gm = calloc(n, sizeof *gm),
         *D[2] = {calloc(n, sizeof(double)), calloc(n, sizeof(double))};
  double l;
  int ok = 1;
  for (size_t jj = 0; jj <= n / 7 && ok; jj++) {
    size_t j = jj * 7 < n ? jj * 7 : n - 1;
    double t = th[j], F = 0.0;
    for (int s = 0; s < 2; s++) {
      double h = H_FD * (s + 1);
      th[j] = t + h;
      o->loss_grad(o->ctx, th, &b, &l, gp, NULL);
      th[j] = t - h;
      o->loss_grad(o->ctx, th, &b, &l, gm, NULL);
      for (size_t i = 0; i < n; i++) {
        D[s][i] = (gp[i] - gm[i]) / (2 * h);
        F = fmax(F, fmax(fabs(gp[i]), fabs(gm[i])));
      }
    }
    th[j] = t;
    for (size_t i = 0; i < n && ok; i++)
      ok = fd_close(H[j * n + i], D[0][i], D[1][i], F, "H column", j * n + i);
  }
  if (!ok) fail_msg("Hv disagrees with central differences of the gradient");
  /* Chunked (max_batch 2 < 3 examples) gives the same Hv and gradient. */
  ph_objective *o2 = make_obj("transformer:d8h2l2", 2);
  double *v = calloc(n, sizeof *v), *hv1 = calloc(n, sizeof *hv1),
         *hv2 = calloc(n, sizeof *hv2);
  ph_rng r = ph_rng_make(3, PH_RNG_STREAM_USER + 9);
  ph_rng_fill_gauss(&r, v, n, 1.0);
  o->hvp(o->ctx, th, &b, v, hv1, NULL);
  o2->hvp(o2->ctx, th, &b, v, hv2, NULL);
  double m1 = 0.0, diff = 0.0;
  for (size_t i = 0; i < n; i++) {
    m1 = fmax(m1, fabs(hv1[i]));
    diff = fmax(diff, fabs(hv1[i] - hv2[i]));
  }
  if (diff > 64 * EPS * 200 * m1 * sqrt((double)n))
    fail_msg("chunked Hv differs by %.3g", diff);
  ph_objective_free(o2);
  free(v);
  free(hv1);
  free(hv2);
  free(gp);
  free(gm);
  free(D[0]);
  free(D[1]);
  free(th);
  free(H);
  free(e);
  ph_objective_free(o);
}

static void test_ggn(void **state) {
  (void)state;
  ph_objective *o = make_obj("transformer:d8h2l1", NEX);
  size_t n = o->n, R = NEX * TT, NZ = R * VV;
  double *th = random_theta(o, 4);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, NEX};
  /* J (NZ, n) by central differences of the logits (coordinate by coord.). */
  double *J = calloc(NZ * n, sizeof *J), *zp = calloc(NZ, sizeof *zp),
         *zm = calloc(NZ, sizeof *zm), *z = calloc(NZ, sizeof *z);
  for (size_t j = 0; j < n; j++) {
    double t = th[j];
    th[j] = t + H_FD;
    ph_transformer_logits(o, th, &b, zp, NULL);
    th[j] = t - H_FD;
    ph_transformer_logits(o, th, &b, zm, NULL);
    th[j] = t;
    for (size_t i = 0; i < NZ; i++) J[i * n + j] = (zp[i] - zm[i]) / (2 * H_FD);
  }
  ph_transformer_logits(o, th, &b, z, NULL);
  /* H_z per target position, scaled by 1/(positions with a target). */
  size_t cnt = 0;
  for (size_t r = 0; r < R; r++) cnt += ys[0][r] >= 0;
  double *HzJ = calloc(NZ * n, sizeof *HzJ), p[VV];
  for (size_t r = 0; r < R; r++) {
    if (ys[0][r] < 0) continue;
    double mx = z[r * VV], s = 0.0;
    for (size_t c = 1; c < VV; c++) mx = fmax(mx, z[r * VV + c]);
    for (size_t c = 0; c < VV; c++) s += (p[c] = exp(z[r * VV + c] - mx));
    for (size_t c = 0; c < VV; c++) p[c] /= s;
    for (size_t a = 0; a < VV; a++)
      for (size_t c = 0; c < VV; c++) {
        double h = ((a == c ? p[a] : 0.0) - p[a] * p[c]) / (double)cnt;
        for (size_t j = 0; j < n; j++)
          HzJ[(r * VV + a) * n + j] += h * J[(r * VV + c) * n + j];
      }
  }
  /* Compare G e_j with (Jᵀ H_z J) e_j. The FD error in J is ~h²·|z'''| ≈
   * 1e-8 relative; the tolerance allows 1e-6 of the column scale. */
  double *gv = calloc(n, sizeof *gv), *e = calloc(n, sizeof *e);
  double worst = 0.0, gmax = 0.0;
  for (size_t j = 0; j < n; j++) {
    e[j] = 1.0;
    assert_int_equal(o->ggnvp(o->ctx, th, &b, e, gv, NULL), PH_OK);
    e[j] = 0.0;
    for (size_t i = 0; i < n; i++) {
      double ref = 0.0;
      for (size_t k = 0; k < NZ; k++) ref += J[k * n + i] * HzJ[k * n + j];
      worst = fmax(worst, fabs(gv[i] - ref));
      gmax = fmax(gmax, fabs(ref));
    }
  }
  assert_true(gmax > 1e-3);
  if (worst > 1e-6 * gmax)
    fail_msg("Gv vs Jᵀ H_z J: max error %.3g (scale %.3g)", worst, gmax);
  free(gv);
  free(e);
  free(HzJ);
  free(J);
  free(zp);
  free(zm);
  free(z);
  free(th);
  ph_objective_free(o);
}

static void test_init(void **state) {
  (void)state;
  ph_objective *o = make_obj("transformer:d8h2l2", NEX);
  double *th = calloc(o->n, sizeof *th);
  assert_int_equal(ph_transformer_init_params(o, 42, th, NULL), PH_OK);
  /* Pooled plain weights: sample std within 5 standard errors of 0.02
   * (SE of a sample std ≈ σ/√(2m)). */
  double ss = 0.0;
  size_t m = 0;
  for (size_t b = 0; b < o->n_blocks; b++) {
    const ph_block *bl = &o->blocks[b];
    const double *t = th + bl->offset;
    size_t len = strlen(bl->name);
    if (bl->kind == PH_BLOCK_BIAS ||
        (bl->kind == PH_BLOCK_NORM && bl->name[len - 1] == 'b'))
      for (size_t j = 0; j < bl->size; j++) assert_true(t[j] == 0.0);
    else if (bl->kind == PH_BLOCK_NORM)
      for (size_t j = 0; j < bl->size; j++) assert_true(t[j] == 1.0);
    else if (!strstr(bl->name, "attn.wo") && !strstr(bl->name, "mlp.w2"))
      for (size_t j = 0; j < bl->size; j++, m++) ss += t[j] * t[j];
  }
  double sd = sqrt(ss / (double)m);
  assert_true(fabs(sd - 0.02) < 5 * 0.02 / sqrt(2.0 * (double)m));
  double *th2 = calloc(o->n, sizeof *th2);
  ph_transformer_init_params(o, 42, th2, NULL);
  assert_memory_equal(th, th2, o->n * sizeof *th);
  free(th);
  free(th2);
  ph_objective_free(o);
}

/* Loss, gradient and Hv against PyTorch float64 (double backward) running
 * tests/tf/torch_ref.py on the same θ, tokens and targets; skipped when
 * /usr/bin/python3 lacks torch. Both sides are exact to rounding; every
 * value is a sum of at most ~1e4 rounded terms, so 1e-10 relative to the
 * largest entry leaves a wide margin while any layout or convention
 * mismatch (LN eps, GELU form, head split, mean over targets) is O(1e-3+). */
static void test_torch(void **state) {
  (void)state;
  const char *root = getenv("PH_SOURCE_ROOT");
  if (!root || system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1")) {
    fprintf(stderr, "skipping: no PH_SOURCE_ROOT or no torch\n");
    skip();
    return;
  }
  char dir[] = "/tmp/ph_tf_torch_XXXXXX", path[512], cmd[1024];
  assert_non_null(mkdtemp(dir));
  ph_objective *o = make_obj("transformer:d8h2l2", NEX);
  size_t n = o->n;
  double *th = random_theta(o, 6), *v = calloc(n, sizeof *v),
         *g = calloc(n, sizeof *g), *hv = calloc(n, sizeof *hv), l;
  ph_rng r = ph_rng_make(11, PH_RNG_STREAM_USER + 9);
  ph_rng_fill_gauss(&r, v, n, 1.0);
  ph_batch b = {PH_SPLIT_TRAIN, NULL, NEX};
  assert_int_equal(o->loss_grad(o->ctx, th, &b, &l, g, NULL), PH_OK);
  assert_int_equal(o->hvp(o->ctx, th, &b, v, hv, NULL), PH_OK);
  int64_t tok[NEX * TT], tgt[NEX * TT];
  for (size_t i = 0; i < NEX * TT; i++) {
    tok[i] = (int64_t)xs[0][i];
    tgt[i] = ys[0][i];
  }
  size_t sh[2] = {NEX, TT};
  snprintf(path, sizeof path, "%s/theta.npy", dir);
  assert_int_equal(ph_npy_write_vec(path, th, n, NULL), PH_OK);
  snprintf(path, sizeof path, "%s/v.npy", dir);
  assert_int_equal(ph_npy_write_vec(path, v, n, NULL), PH_OK);
  snprintf(path, sizeof path, "%s/tok.npy", dir);
  assert_int_equal(ph_npy_write_i64(path, tok, 2, sh, NULL), PH_OK);
  snprintf(path, sizeof path, "%s/tgt.npy", dir);
  assert_int_equal(ph_npy_write_i64(path, tgt, 2, sh, NULL), PH_OK);
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 %s/tests/tf/torch_ref.py %s 8 2 2", root, dir);
  assert_int_equal(system(cmd), 0);
  const char *names[3] = {"loss", "grad", "hv"};
  const double *ours[3] = {&l, g, hv};
  size_t sizes[3] = {1, n, n};
  for (int k = 0; k < 3; k++) {
    ph_npy a;
    snprintf(path, sizeof path, "%s/%s.npy", dir, names[k]);
    assert_int_equal(ph_npy_read(path, &a, NULL), PH_OK);
    assert_int_equal(a.size, sizes[k]);
    double mx = 0.0, err = 0.0;
    for (size_t i = 0; i < a.size; i++) {
      mx = fmax(mx, fabs(a.data[i]));
      err = fmax(err, fabs(a.data[i] - ours[k][i]));
    }
    ph_npy_free(&a);
    if (!(err <= 1e-10 * mx))
      fail_msg("%s differs from PyTorch by %.3g (scale %.3g)", names[k], err,
               mx);
    remove(path);
  }
  const char *inputs[4] = {"theta", "v", "tok", "tgt"};
  for (int k = 0; k < 4; k++) {
    snprintf(path, sizeof path, "%s/%s.npy", dir, inputs[k]);
    remove(path);
  }
  rmdir(dir);
  free(th);
  free(v);
  free(g);
  free(hv);
  ph_objective_free(o);
}

/* Largest |a − b| over n values, relative to the largest |b|. */
static double rel_diff(const double *a, const double *b, size_t n) {
  double d = 0.0, s = 0.0;
  for (size_t i = 0; i < n; i++) {
    d = fmax(d, fabs(a[i] - b[i]));
    s = fmax(s, fabs(b[i]));
  }
  return s > 0 ? d / s : d;
}

/* Block products: H·V and G·V for k directions equal k single products to
 * 1e-12 relative (the bar; the block runs each direction's tangent
 * passes on one shared forward and backward, so they should agree to the
 * bit), on a one-chunk batch and on a chunked one (max_batch 2 < 3
 * examples). Each single product comes from a fresh objective, so a block
 * that reused the wrong direction, chunk or cached pass would differ. */
static void test_block(void **state) {
  (void)state;
  enum { K = 3 };
  for (size_t mb = NEX; mb >= 2; mb--) {
    ph_objective *o = make_obj("transformer:d8h2l2", mb);
    size_t n = o->n;
    double *th = random_theta(o, 6), *V = calloc(K * n, sizeof *V),
           *HB = calloc(K * n, sizeof *HB), *h1 = calloc(n, sizeof *h1);
    ph_rng r = ph_rng_make(8, PH_RNG_STREAM_USER + 3);
    ph_rng_fill_gauss(&r, V, K * n, 1.0);
    ph_batch b = {PH_SPLIT_TRAIN, NULL, NEX};
    for (int ggn = 0; ggn < 2; ggn++) {
      ph_status st = ggn ? ph_objective_ggnvp_block(o, th, &b, K, V, HB, NULL)
                         : ph_objective_hvp_block(o, th, &b, K, V, HB, NULL);
      assert_int_equal(st, PH_OK);
      for (size_t j = 0; j < K; j++) {
        ph_objective *f = make_obj("transformer:d8h2l2", mb);
        st = ggn ? ph_objective_ggnvp(f, th, &b, V + j * n, h1, NULL)
                 : ph_objective_hvp(f, th, &b, V + j * n, h1, NULL);
        assert_int_equal(st, PH_OK);
        double rd = rel_diff(HB + j * n, h1, n);
        if (!(rd <= 1e-12))
          fail_msg("max_batch %zu %s block j=%zu: rel %.3g", mb,
                   ggn ? "Gv" : "Hv", j, rd);
        ph_objective_free(f);
      }
    }
    free(th);
    free(V);
    free(HB);
    free(h1);
    ph_objective_free(o);
  }
}

/* The forward cache (reused passes while θ and the batch are unchanged)
 * never serves a stale pass: one objective takes a sequence of products
 * while θ and the batch's index array change IN PLACE between calls, as
 * an optimiser and a sampler change them, and every result must equal,
 * to the bit, that of a fresh objective (no cache) on the same inputs. */
static void test_cache(void **state) {
  (void)state;
  ph_objective *o = make_obj("transformer:d8h2l2", NEX);
  size_t n = o->n;
  double *th = random_theta(o, 9), *v = calloc(n, sizeof *v),
         *out = calloc(n, sizeof *out), *ref = calloc(n, sizeof *ref);
  ph_rng r = ph_rng_make(10, PH_RNG_STREAM_USER + 4);
  ph_rng_fill_gauss(&r, v, n, 1.0);
  size_t idx[2] = {0, 2};
  ph_batch b = {PH_SPLIT_TRAIN, idx, 2};
  /* kind: 0 gradient, 1 Hv, 2 Gv; change: 0 none, 1 θ, 2 idx, 3 θ back */
  static const int seq[][2] = {{1, 0}, {1, 0}, {2, 0}, {0, 0}, {1, 1},
                               {2, 0}, {1, 2}, {0, 3}, {1, 0}, {2, 2},
                               {1, 0}, {0, 1}, {1, 0}};
  double saved = th[n / 2];
  for (size_t s = 0; s < sizeof seq / sizeof *seq; s++) {
    if (seq[s][1] == 1) th[n / 2] += 1e-3 * (double)(s + 1);
    if (seq[s][1] == 2) idx[0] = idx[0] == 0 ? 1 : 0;
    if (seq[s][1] == 3) th[n / 2] = saved;
    ph_objective *f = make_obj("transformer:d8h2l2", NEX);
    double l1 = 0, l2 = 0;
    int kind = seq[s][0];
    if (kind == 0) {
      assert_int_equal(o->loss_grad(o->ctx, th, &b, &l1, out, NULL), PH_OK);
      assert_int_equal(f->loss_grad(f->ctx, th, &b, &l2, ref, NULL), PH_OK);
      assert_memory_equal(&l1, &l2, sizeof l1);
    } else if (kind == 1) {
      assert_int_equal(o->hvp(o->ctx, th, &b, v, out, NULL), PH_OK);
      assert_int_equal(f->hvp(f->ctx, th, &b, v, ref, NULL), PH_OK);
    } else {
      assert_int_equal(o->ggnvp(o->ctx, th, &b, v, out, NULL), PH_OK);
      assert_int_equal(f->ggnvp(f->ctx, th, &b, v, ref, NULL), PH_OK);
    }
    if (memcmp(out, ref, n * sizeof *out) != 0)
      fail_msg("step %zu (kind %d, change %d): cached result differs by %.3g",
               s, kind, seq[s][1], rel_diff(out, ref, n));
    ph_objective_free(f);
  }
  free(th);
  free(v);
  free(out);
  free(ref);
  ph_objective_free(o);
}

/* With --torch only the PyTorch comparison runs (suite 'slow': importing
 * torch alone takes seconds). */
int main(int argc, char **argv) {
  make_data();
  if (argc > 1 && strcmp(argv[1], "--torch") == 0) {
    const struct CMUnitTest t[] = {cmocka_unit_test(test_torch)};
    return cmocka_run_group_tests(t, NULL, NULL);
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spec),     cmocka_unit_test(test_layout),
      cmocka_unit_test(test_gradient), cmocka_unit_test(test_hessian),
      cmocka_unit_test(test_ggn),      cmocka_unit_test(test_init),
      cmocka_unit_test(test_block),    cmocka_unit_test(test_cache),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
