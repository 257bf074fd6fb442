/* watch.c: curvature through training and pothole events (watch.h).
 *
 * Each watch runs thick-restart Lanczos (src/linalg) on the Hessian of the
 * fixed batch, on P½HP½ and on each weight block's restriction of H, and
 * Hutchinson on H. The start vector of each Lanczos run is the sum of that
 * operator's eigenvectors from the previous watch plus a small random part
 * (so a direction that is new since then is still in the Krylov space); with
 * a small basis (k + 8) a warm start converges in one cycle where a random
 * start needs several. The random parts and probes come from (seed, step),
 * so a watch is a pure function of θ, P, the step and the previous vectors.
 * References: algorithms.md §4 (spectra), §5 (pothole ratio); Cohen et
 * al. 2021 (edge of stability, 2/η). */
#include "optim/watch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/afile.h"
#include "core/alloc.h"
#include "core/csv.h"
#include "core/rng.h"
#include "core/vec.h"
#include "linalg/lanczos.h"
#include "linalg/operators.h"
#include "linalg/slq.h"
#include "precond/geom.h"

/* the fraction of the start vector that is random (relative to the sum of
 * the previous unit eigenvectors) */
#define WATCH_START_NOISE 0.1

ph_watch_config ph_watch_config_default(void) {
  ph_watch_config c = {0};
  c.n = 256;
  c.k = 3;
  c.probes = 16;
  c.layers = 1;
  c.tol = 1e-3;
  return c;
}

typedef struct watch_op {
  size_t off, size, k; /* coordinates (blocks) and pairs wanted */
  double *vec;         /* (k, size) previous eigenvectors */
  uint64_t have;       /* 1 once vec holds a previous watch's vectors */
} watch_op;

struct ph_watch {
  ph_watch_config cfg;
  size_t n;
  int with_p;
  size_t n_layers;
  watch_op *ops; /* 0: H, 1: P½HP½ (when with_p), then the weight blocks */
  size_t n_ops;
  double *start; /* (n) */
  char *header;
};

static void watch_op_free(watch_op *o) {
  ph_free(o->vec);
}

void ph_watch_free(ph_watch *w) {
  if (!w) return;
  for (size_t i = 0; i < w->n_ops; i++) watch_op_free(&w->ops[i]);
  ph_free(w->ops);
  ph_free(w->start);
  ph_free(w->header);
  ph_free(w);
}

ph_status ph_watch_create(const ph_watch_config *cfg, const ph_objective *obj,
                          int with_precond, ph_watch **out, ph_error *err) {
  *out = NULL;
  if (cfg->k < 1 || cfg->k > 20 || cfg->n < 1 || cfg->probes == 1 ||
      !(cfg->tol > 0 && cfg->tol < 1))
    return ph_error_set(err, PH_ERR_ARG,
                        "watch: k %zu must be in [1, 20], n >= 1, probes 0 "
                        "or >= 2, 0 < tol < 1",
                        cfg->k);
  ph_watch *w = ph_calloc(1, sizeof *w, "curvature watch", err);
  if (!w) return PH_ERR_NOMEM;
  w->cfg = *cfg;
  w->n = obj->n;
  w->with_p = with_precond;
  size_t nl = 0;
  for (size_t b = 0; b < obj->n_blocks; b++)
    nl += obj->blocks[b].kind == PH_BLOCK_WEIGHT;
  w->n_layers = nl;
  w->n_ops = 2 + nl;
  w->ops = ph_calloc(w->n_ops, sizeof *w->ops, "watch operators", err);
  w->start = ph_calloc(obj->n, sizeof(double), "watch start vector", err);
  size_t hl = 256 + 16 * cfg->k + nl * (PH_BLOCK_NAME_MAX + 8);
  w->header = ph_calloc(hl, 1, "watch header", err);
  if (!w->ops || !w->start || !w->header) goto nomem;
  w->ops[0] = (watch_op){0, obj->n, 1, NULL, 0};
  w->ops[1] = (watch_op){0, obj->n, cfg->k, NULL, 0};
  for (size_t b = 0, j = 2; b < obj->n_blocks; b++)
    if (obj->blocks[b].kind == PH_BLOCK_WEIGHT)
      w->ops[j++] =
          (watch_op){obj->blocks[b].offset, obj->blocks[b].size, 1, NULL, 0};
  for (size_t i = 0; i < w->n_ops; i++) {
    if ((i == 1 && !with_precond) || (i >= 2 && !cfg->layers)) continue;
    w->ops[i].vec = ph_calloc(w->ops[i].k * w->ops[i].size, sizeof(double),
                              "watch vectors", err);
    if (!w->ops[i].vec) goto nomem;
  }
  size_t p = (size_t)snprintf(w->header, hl,
                              PH_WATCH_COL_STEP
                              ",lr,momentum,loss," PH_WATCH_COL_LMAX_H
                              "," PH_WATCH_COL_LMAX_PC);
  for (size_t j = 0; j < cfg->k; j++)
    p += (size_t)snprintf(w->header + p, hl - p, ",pi_%zu", j + 1);
  p += (size_t)snprintf(w->header + p, hl - p, ",kappa_loc,trace,trace_se");
  for (size_t b = 0; b < obj->n_blocks; b++)
    if (obj->blocks[b].kind == PH_BLOCK_WEIGHT)
      p += (size_t)snprintf(w->header + p, hl - p, ",lmax_%s",
                            obj->blocks[b].name);
  snprintf(w->header + p, hl - p, ",products");
  *out = w;
  return PH_OK;
nomem:
  ph_watch_free(w);
  return PH_ERR_NOMEM;
}

const char *ph_watch_header(const ph_watch *w) {
  return w->header;
}

size_t ph_watch_ncols(const ph_watch *w) {
  return 6 + w->cfg.k + 3 + w->n_layers + 1;
}

/* Top-k eigenpairs of `a` warm-started from o's previous vectors; values
 * (k) and the vectors kept in o for the next watch. */
static ph_status top_pairs(ph_watch *w, watch_op *o, ph_linop *a,
                           uint64_t stream, double *values, size_t *products,
                           ph_error *err) {
  size_t n = o->size;
  ph_eig_config ec = ph_eig_config_default();
  ec.k = o->k;
  ec.which = PH_EIG_TOP;
  ec.tol = w->cfg.tol;
  ec.seed = w->cfg.seed + stream;
  ec.want_vectors = 1;
  /* no verification cycle: a watch tracks the top of the spectrum, it does
   * not certify that no copy of an eigenvalue was missed */
  ec.verify = 0;
  /* stop at the tolerance, mid-cycle if need be, and trust the Lanczos
   * bound (exact up to rounding with full reorthogonalisation) instead of
   * paying k more products to recompute it */
  ec.early = 1;
  ec.no_certify = 1;
  ec.basis = o->k + 8 < n ? o->k + 8 : n;
  ec.max_products = 40 * (o->k + 8);
  if (o->have) {
    ph_rng r = ph_probe_rng(ec.seed, PH_PROBE_RESTART, 7, n);
    ph_rng_fill_gauss(&r, w->start, n, 1.0);
    ph_vec_scal(
        n, WATCH_START_NOISE * sqrt((double)o->k) / ph_vec_nrm2(n, w->start),
        w->start);
    for (size_t j = 0; j < o->k; j++)
      ph_vec_axpy(n, 1.0, o->vec + j * n, w->start);
    ec.start = w->start;
  }
  ph_eig_result res = {0};
  ph_status st = ph_lanczos_run(a, &ec, NULL, &res, err);
  if (st == PH_OK) {
    *products += res.products;
    for (size_t j = 0; j < o->k; j++)
      values[j] = j < res.k ? res.values[j] : NAN;
    if (res.k == o->k) {
      memcpy(o->vec, res.vectors, o->k * n * sizeof(double));
      o->have = 1;
    }
  }
  ph_eig_result_free(&res);
  return st;
}

ph_status ph_watch_measure(ph_watch *w, ph_objective *obj, const double *theta,
                           const ph_precond *P, uint64_t step, double lr,
                           double momentum, double *vals, ph_error *err) {
  size_t n = w->n, k = w->cfg.k, nc = ph_watch_ncols(w);
  for (size_t i = 0; i < nc; i++) vals[i] = NAN;
  /* toy objectives without data (n_examples 0) ignore the batch */
  size_t nt = obj->n_examples[PH_SPLIT_TRAIN];
  size_t nb = nt && nt < w->cfg.n ? nt : w->cfg.n;
  ph_batch b = {PH_SPLIT_TRAIN, NULL, nb};
  double loss;
  double *tmp = ph_malloc(2 * n, sizeof(double), "watch buffers", err);
  if (!tmp) return PH_ERR_NOMEM;
  ph_op *h = NULL, *pc = NULL, *blk = NULL;
  size_t products = 0;
  ph_status st = ph_objective_loss_grad(obj, theta, &b, &loss, tmp, err);
  vals[0] = (double)step;
  vals[1] = lr;
  vals[2] = momentum;
  vals[3] = loss;
  /* every stream below is tied to the step, so a resumed run draws the
   * same random parts */
  uint64_t s0 = step * 1024;
  if (st == PH_OK) st = ph_op_hessian_create(obj, theta, &b, &h, err);
  if (st == PH_OK)
    st = top_pairs(w, &w->ops[0], ph_op_linop(h), s0, &vals[4], &products, err);
  ph_geom geo;
  if (st == PH_OK && P && w->with_p) {
    /* P½HP½ as the sandwich of H by P½ (precond/geom.h) */
    ph_geom_init_precond(&geo, P);
    st = ph_op_sandwich_create(ph_op_linop(h), &geo.sqrt_P, &pc, err);
    if (st == PH_OK)
      st = top_pairs(w, &w->ops[1], ph_op_linop(pc), s0 + 1, &vals[6],
                     &products, err);
    if (st == PH_OK) {
      vals[5] = vals[6];
      /* κ_loc along the top pothole direction v = P½w/‖P½w‖ */
      double *v = tmp, *hv = tmp + n;
      st = ph_precond_sqrt_apply(P, w->ops[1].vec, v, err);
      if (st == PH_OK) {
        ph_vec_scal(n, 1.0 / ph_vec_nrm2(n, v), v);
        st = ph_linop_apply(ph_op_linop(h), v, hv, err);
        products++;
        vals[6 + k] = ph_vec_dot(n, v, hv);
      }
    }
  }
  if (st == PH_OK && w->cfg.probes) {
    /* the probes as block products (the same probes and sums as one at a
     * time, to rounding; cheaper per probe for networks) */
    ph_trace_result tr;
    size_t kb =
        w->cfg.probes < PH_SLQ_BLOCK_MAX ? w->cfg.probes : PH_SLQ_BLOCK_MAX;
    st = ph_hutchinson_block(ph_op_linop(h), w->cfg.probes,
                             w->cfg.seed + s0 + 2, kb, &tr, err);
    if (st == PH_OK) {
      vals[7 + k] = tr.mean;
      vals[8 + k] = tr.stderr_;
      products += tr.products;
    }
  }
  for (size_t l = 0; st == PH_OK && w->cfg.layers && l < w->n_layers; l++) {
    watch_op *o = &w->ops[2 + l];
    st = ph_op_block_create(ph_op_linop(h), o->off, o->size, &blk, err);
    if (st != PH_OK) break;
    st = top_pairs(w, o, ph_op_linop(blk), s0 + 3 + l, &vals[9 + k + l],
                   &products, err);
    ph_op_free(blk);
    blk = NULL;
  }
  vals[nc - 1] = (double)products;
  ph_op_free(pc);
  ph_op_free(h);
  ph_free(tmp);
  return st;
}

/* ------------------------------------------------------------- state */

ph_status ph_watch_save(const ph_watch *w, ph_ckpt *ck, ph_error *err) {
  for (size_t i = 0; i < w->n_ops; i++) {
    const watch_op *o = &w->ops[i];
    if (!o->vec) continue;
    char name[64];
    snprintf(name, sizeof name, "watch.vec%zu", i);
    PH_TRY(ph_ckpt_put_f64(ck, name, o->vec, o->k * o->size, err));
    snprintf(name, sizeof name, "watch.have%zu", i);
    PH_TRY(ph_ckpt_put_u64(ck, name, &o->have, 1, err));
  }
  return PH_OK;
}

ph_status ph_watch_load(ph_watch *w, const ph_ckpt *ck, ph_error *err) {
  for (size_t i = 0; i < w->n_ops; i++) {
    watch_op *o = &w->ops[i];
    if (!o->vec) continue;
    char name[64];
    const double *v;
    const uint64_t *have;
    snprintf(name, sizeof name, "watch.vec%zu", i);
    PH_TRY(ph_ckpt_require_f64(ck, name, o->k * o->size, &v, NULL, err));
    memcpy(o->vec, v, o->k * o->size * sizeof(double));
    snprintf(name, sizeof name, "watch.have%zu", i);
    PH_TRY(ph_ckpt_require_u64(ck, name, 1, &have, NULL, err));
    o->have = have[0];
  }
  return PH_OK;
}

/* ------------------------------------------------------------ events */

double ph_watch_event_threshold(double lr, double momentum) {
  return lr > 0 ? 2 * (1 + momentum) / lr : INFINITY;
}

/* Column index of `name` in the header record, or -1. */
static int col_of(const ph_csv_reader *r, const char *name) {
  for (size_t i = 0; i < r->n_fields; i++)
    if (strcmp(r->field[i], name) == 0) return (int)i;
  return -1;
}

/* Field `idx` of the current record as a number (NaN when missing or not
 * one). */
static double field(const ph_csv_reader *r, int idx) {
  double v = NAN;
  if (idx >= 0 && (size_t)idx < r->n_fields &&
      ph_csv_number(r->field[idx], &v) != 0)
    v = NAN;
  return v;
}

uint64_t ph_watch_first_fitted_step(size_t refresh_every,
                                    int refresh_first_after_k) {
  if (refresh_every == 0) return UINT64_MAX;
  return refresh_first_after_k ? (uint64_t)refresh_every + 1 : 1;
}

ph_status ph_watch_events(const char *path, double threshold,
                          uint64_t from_step, ph_watch_event **events,
                          size_t *n, ph_error *err) {
  *events = NULL;
  *n = 0;
  char file[1200];
  if (ph_is_dir(path))
    snprintf(file, sizeof file, "%s/curvature.csv", path);
  else
    snprintf(file, sizeof file, "%s", path);
  unsigned char *text = NULL;
  size_t len = 0;
  if (!ph_is_dir(path) && access(file, F_OK) != 0)
    return ph_error_set(err, PH_ERR_IO,
                        "%s: cannot open (a curvature.csv or a run directory "
                        "with one)",
                        path);
  PH_TRY(ph_read_file(file, &text, &len, err));
  ph_csv_reader r;
  ph_csv_reader_init(&r, (const char *)text, len, file);
  ph_status st;
  ph_watch_event *ev = NULL;
  size_t nev = 0, cev = 0;
  int more;
  if ((st = ph_csv_reader_next(&r, &more, err)) != PH_OK) goto done;
  if (!more) {
    st = ph_error_set(err, PH_ERR_FORMAT, "%s: empty file", file);
    goto done;
  }
  int c_step = col_of(&r, PH_WATCH_COL_STEP), c_lr = col_of(&r, "lr"),
      c_mom = col_of(&r, "momentum"), c_loss = col_of(&r, "loss"),
      c_pi = col_of(&r, "pi_1"), c_kap = col_of(&r, "kappa_loc");
  if (c_step < 0 || c_lr < 0 || c_mom < 0 || c_loss < 0 || c_kap < 0) {
    st = ph_error_set(err, PH_ERR_FORMAT,
                      "%s: not a curvature.csv (no step, lr, momentum, loss "
                      "or kappa_loc column)",
                      file);
    goto done;
  }
  if (c_pi < 0) {
    st = ph_error_set(err, PH_ERR_ARG,
                      "%s: no pi_1 column (the run has no preconditioner)",
                      file);
    goto done;
  }
  int above_prev = 0, open = 0;
  size_t open_idx = 0;
  while ((st = ph_csv_reader_next(&r, &more, err)) == PH_OK && more) {
    double step = field(&r, c_step), pi = field(&r, c_pi),
           loss = field(&r, c_loss);
    if (!(step >= (double)from_step)) continue; /* P not fitted yet */
    double thr = threshold > 0 ? threshold
                               : ph_watch_event_threshold(field(&r, c_lr),
                                                          field(&r, c_mom));
    if (open) { /* the record after an event's start says how it ended */
      ph_watch_event *o = &ev[open_idx];
      o->next_step = (uint64_t)step;
      o->next_pi = pi;
      o->next_loss = loss;
      o->left = pi < o->pi && loss < o->loss;
      open = 0;
    }
    int above = pi > thr;
    if (above && !above_prev) {
      if (nev == cev) {
        size_t nc = cev ? 2 * cev : 16;
        ph_watch_event *ne = realloc(ev, nc * sizeof *ne);
        if (!ne) {
          st = ph_error_set(err, PH_ERR_NOMEM, "events: out of memory");
          goto done;
        }
        ev = ne;
        cev = nc;
      }
      ph_watch_event e = {
          (uint64_t)step, pi, field(&r, c_kap), loss, thr, -1, 0, NAN, NAN};
      ev[nev] = e;
      open_idx = nev++;
      open = 1;
    }
    above_prev = above;
  }
done:
  ph_csv_reader_free(&r);
  free(text);
  if (st != PH_OK) {
    free(ev);
    return st;
  }
  *events = ev;
  *n = nev;
  return PH_OK;
}

ph_status ph_watch_count_events(const char *path, double threshold,
                                uint64_t from_step, ph_watch_event_count *out,
                                ph_error *err) {
  memset(out, 0, sizeof *out);
  ph_watch_event *ev;
  size_t n;
  PH_TRY(ph_watch_events(path, threshold, from_step, &ev, &n, err));
  out->events = n;
  for (size_t i = 0; i < n; i++) {
    if (ev[i].left == 1)
      out->left++;
    else if (ev[i].left == 0)
      out->stayed++;
    else
      out->open++;
  }
  free(ev);
  return PH_OK;
}
