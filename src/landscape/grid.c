/* grid.c: threaded, resumable evaluation of a loss slice on a rectangular
 * grid (Li et al. 2018 style surfaces; see grid.h for the contract and
 * docs/landscape.md for the file format of the resume state).
 *
 * Workers (pthreads) claim point indices from one atomic counter; each owns
 * an objective clone and a θ buffer, so nothing is shared but the output
 * slots they write. BLAS is held at one thread for the duration, both for
 * speed (no oversubscription) and so that every number is the same for any
 * --threads. The calling thread only supervises: it saves the resume state
 * every few seconds and draws progress.
 *
 * Does not: choose directions (directions.c), write the surfaces (the
 * caller does), or print.
 */
#include "landscape/grid.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/afile.h"
#include "core/alloc.h"
#include "core/ckpt.h"

#define STATE_MAGIC "pothole grid state v1"

void ph_grid_axis(size_t n, double lo, double hi, double *out) {
  for (size_t i = 0; i < n; i++)
    out[i] = n == 1 ? lo : lo + (hi - lo) * ((double)i / (double)(n - 1));
  if (n > 1) out[n - 1] = hi; /* exact end point */
}

void ph_grid_point(size_t n, const double *theta, const double *d1,
                   const double *d2, double x, double y, double *p) {
  if (d2)
    for (size_t k = 0; k < n; k++) p[k] = theta[k] + x * d1[k] + y * d2[k];
  else
    for (size_t k = 0; k < n; k++) p[k] = theta[k] + x * d1[k];
}

ph_grid_options ph_grid_options_default(void) {
  ph_grid_options o;
  memset(&o, 0, sizeof o);
  o.threads = 1;
  o.save_interval = 5.0;
  return o;
}

/* ---- fingerprint of everything a grid value depends on --------------- */

static uint64_t fnv(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

static uint64_t fingerprint(const ph_objective *o, const double *theta,
                            const double *d1, const double *d2,
                            const ph_batch *b, const ph_grid_axes *ax) {
  uint64_t h = 0xcbf29ce484222325ull;
  h = fnv(h, STATE_MAGIC, sizeof STATE_MAGIC);
  if (o->name) h = fnv(h, o->name, strlen(o->name));
  uint64_t ints[6] = {o->n, ax->nx, ax->ny, d2 != NULL, (uint64_t)b->split,
                      b->n};
  h = fnv(h, ints, sizeof ints);
  double r[4] = {ax->x_lo, ax->x_hi, d2 ? ax->y_lo : 0, d2 ? ax->y_hi : 0};
  h = fnv(h, r, sizeof r);
  if (b->idx) h = fnv(h, b->idx, b->n * sizeof *b->idx);
  h = fnv(h, theta, o->n * sizeof *theta);
  h = fnv(h, d1, o->n * sizeof *d1);
  if (d2) h = fnv(h, d2, o->n * sizeof *d2);
  return h;
}

/* ---- shared state of one call ---------------------------------------- */

typedef struct grid_run {
  ph_objective **objs; /* (threads) */
  double **bufs;       /* (threads, n) */
  const double *theta, *d1, *d2;
  size_t n;
  const ph_batch *batch;
  const double *xs, *ys; /* (nx), (ny) */
  size_t nx, np;
  const size_t *todo;  /* point indices still to compute */
  size_t limit;        /* how many of todo this call may compute */
  size_t next;         /* atomic: next position in todo */
  size_t computed;     /* atomic */
  unsigned char *done; /* (np) atomic flags, set after the values */
  double *loss, *acc;
  int has_acc;
  int stop; /* atomic: error elsewhere */
  volatile sig_atomic_t *interrupt;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int running;
  ph_status st;
  ph_error err;
} grid_run;

typedef struct worker_arg {
  grid_run *g;
  int w;
} worker_arg;

static void *worker(void *arg) {
  worker_arg *wa = arg;
  grid_run *g = wa->g;
  ph_objective *o = g->objs[wa->w];
  double *p = g->bufs[wa->w];
  ph_error err = {0};
  ph_error_clear(&err);
  for (;;) {
    if (__atomic_load_n(&g->stop, __ATOMIC_RELAXED) ||
        (g->interrupt && *g->interrupt))
      break;
    size_t k = __atomic_fetch_add(&g->next, 1, __ATOMIC_RELAXED);
    if (k >= g->limit) break;
    size_t idx = g->todo[k];
    size_t i = idx % g->nx, j = idx / g->nx;
    ph_grid_point(g->n, g->theta, g->d1, g->d2, g->xs[i], g->ys[j], p);
    double l = NAN, a = NAN;
    ph_status s = o->eval(o->ctx, p, g->batch, &l, &a, &err);
    if (s == PH_ERR_NUMERIC) { /* a diverged point is data, not a failure */
      l = NAN;
      a = NAN;
      ph_error_clear(&err);
    } else if (s != PH_OK) {
      pthread_mutex_lock(&g->mu);
      if (g->st == PH_OK) {
        g->st = s;
        g->err = err;
        ph_error_prefix(&g->err, "grid point (%zu, %zu): ", i, j);
      }
      pthread_mutex_unlock(&g->mu);
      __atomic_store_n(&g->stop, 1, __ATOMIC_RELAXED);
      break;
    }
    g->loss[idx] = l;
    g->acc[idx] = g->has_acc ? a : NAN;
    __atomic_store_n(&g->done[idx], 1, __ATOMIC_RELEASE);
    __atomic_fetch_add(&g->computed, 1, __ATOMIC_RELAXED);
  }
  pthread_mutex_lock(&g->mu);
  g->running--;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
  return NULL;
}

/* ---- resume state ---------------------------------------------------- */

static ph_status save_state(const char *path, uint64_t fp, size_t nx, size_t ny,
                            const unsigned char *done, const double *loss,
                            const double *acc, ph_error *err) {
  size_t np = nx * ny;
  ph_status st = PH_OK;
  ph_ckpt *ck = ph_ckpt_new(err);
  double *l = ph_malloc(np, sizeof(double), "grid state", err);
  double *a = ph_malloc(np, sizeof(double), "grid state", err);
  uint64_t *m = ph_malloc(np, sizeof(uint64_t), "grid state", err);
  if (!ck || !l || !a || !m) {
    st = PH_ERR_NOMEM;
    goto done;
  }
  for (size_t k = 0; k < np; k++) {
    m[k] = __atomic_load_n(&done[k], __ATOMIC_ACQUIRE);
    l[k] = m[k] ? loss[k] : NAN;
    a[k] = m[k] ? acc[k] : NAN;
  }
  uint64_t hdr[3] = {fp, nx, ny};
  if ((st = ph_ckpt_put_str(ck, "kind", STATE_MAGIC, err)) ||
      (st = ph_ckpt_put_u64(ck, "header", hdr, 3, err)) ||
      (st = ph_ckpt_put_u64(ck, "done", m, np, err)) ||
      (st = ph_ckpt_put_f64(ck, "loss", l, np, err)) ||
      (st = ph_ckpt_put_f64(ck, "acc", a, np, err)))
    goto done;
  st = ph_ckpt_write(ck, path, err);
done:
  ph_ckpt_free(ck);
  free(l);
  free(a);
  free(m);
  return st;
}

/* Restore finished points from a matching state file; returns how many.
 * Anything unreadable or mismatching is ignored (the grid starts afresh). */
static size_t load_state(const char *path, uint64_t fp, size_t nx, size_t ny,
                         unsigned char *done, double *loss, double *acc) {
  if (!ph_path_exists(path)) return 0;
  ph_ckpt *ck = NULL;
  if (ph_ckpt_read(path, &ck, NULL) != PH_OK) return 0;
  size_t np = nx * ny, n_h = 0, n_m = 0, n_l = 0, n_a = 0, got = 0;
  const char *kind = ph_ckpt_get_str(ck, "kind");
  const uint64_t *h = ph_ckpt_get_u64(ck, "header", &n_h);
  const uint64_t *m = ph_ckpt_get_u64(ck, "done", &n_m);
  const double *l = ph_ckpt_get_f64(ck, "loss", &n_l);
  const double *a = ph_ckpt_get_f64(ck, "acc", &n_a);
  if (kind && strcmp(kind, STATE_MAGIC) == 0 && h && n_h == 3 && h[0] == fp &&
      h[1] == nx && h[2] == ny && m && n_m == np && l && n_l == np && a &&
      n_a == np) {
    for (size_t k = 0; k < np; k++)
      if (m[k]) {
        done[k] = 1;
        loss[k] = l[k];
        acc[k] = a[k];
        got++;
      }
  }
  ph_ckpt_free(ck);
  return got;
}

/* ---- the call -------------------------------------------------------- */

ph_status ph_grid_eval(ph_objective *o, const double *theta, const double *d1,
                       const double *d2, const ph_batch *batch,
                       const ph_grid_axes *axes, const ph_grid_options *optp,
                       double *loss, double *acc, ph_grid_stats *stats,
                       ph_error *err) {
  ph_grid_options opt = optp ? *optp : ph_grid_options_default();
  size_t nx = axes->nx, ny = axes->ny;
  if (nx < 1 || ny < 1 || (!d2 && ny != 1))
    return ph_error_set(err, PH_ERR_ARG,
                        "grid %zux%zu: need nx, ny >= 1 and ny = 1 without a "
                        "second direction",
                        nx, ny);
  if (!o->eval)
    return ph_error_set(err, PH_ERR_UNSUPPORTED, "objective '%s' has no eval",
                        o->name);
  size_t np;
  if (ph_mul_size(nx, ny, &np))
    return ph_error_set(err, PH_ERR_NOMEM, "grid %zux%zu too large", nx, ny);
  if (opt.threads < 1) opt.threads = 1;
  if (opt.save_interval <= 0) opt.save_interval = 5.0;

  double t0 = ph_now();
  ph_status st = PH_OK;
  grid_run g;
  memset(&g, 0, sizeof g);
  int nthreads = 0, mu_ok = 0, blas_saved = openblas_get_num_threads();
  pthread_t *tid = NULL;
  worker_arg *wargs = NULL;
  size_t *todo = NULL, n_todo = 0, resumed = 0;
  unsigned char *done = NULL;
  double *xs = NULL, *ys = NULL;
  uint64_t fp = 0;

  done = ph_calloc(np, 1, "grid mask", err);
  todo = ph_malloc(np, sizeof(size_t), "grid work list", err);
  xs = ph_malloc(nx, sizeof(double), "grid axis", err);
  ys = ph_malloc(ny, sizeof(double), "grid axis", err);
  if (!done || !todo || !xs || !ys) {
    st = PH_ERR_NOMEM;
    goto out;
  }
  ph_grid_axis(nx, axes->x_lo, axes->x_hi, xs);
  if (d2)
    ph_grid_axis(ny, axes->y_lo, axes->y_hi, ys);
  else
    ys[0] = 0.0;
  for (size_t k = 0; k < np; k++) loss[k] = acc[k] = NAN;

  if (opt.state_path) {
    fp = fingerprint(o, theta, d1, d2, batch, axes);
    resumed = load_state(opt.state_path, fp, nx, ny, done, loss, acc);
  }
  for (size_t k = 0; k < np; k++)
    if (!done[k]) todo[n_todo++] = k;

  g.theta = theta;
  g.d1 = d1;
  g.d2 = d2;
  g.n = o->n;
  g.batch = batch;
  g.xs = xs;
  g.ys = ys;
  g.nx = nx;
  g.np = np;
  g.todo = todo;
  g.limit = opt.stop_after && opt.stop_after < n_todo ? opt.stop_after : n_todo;
  g.done = done;
  g.loss = loss;
  g.acc = acc;
  g.has_acc = o->has_accuracy;
  g.interrupt = opt.interrupt;
  g.st = PH_OK;
  ph_error_clear(&g.err);

  nthreads = opt.threads;
  if ((size_t)nthreads > g.limit) nthreads = g.limit > 0 ? (int)g.limit : 1;
  g.objs = ph_calloc((size_t)nthreads, sizeof *g.objs, "grid workers", err);
  g.bufs = ph_calloc((size_t)nthreads, sizeof *g.bufs, "grid workers", err);
  tid = ph_calloc((size_t)nthreads, sizeof *tid, "grid workers", err);
  wargs = ph_calloc((size_t)nthreads, sizeof *wargs, "grid workers", err);
  if (!g.objs || !g.bufs || !tid || !wargs) {
    st = PH_ERR_NOMEM;
    nthreads = 0;
    goto out;
  }
  for (int w = 0; w < nthreads; w++) {
    g.objs[w] = w == 0 ? o : ph_objective_clone(o, err);
    g.bufs[w] = ph_malloc(o->n, sizeof(double), "grid point", err);
    if (!g.objs[w] || !g.bufs[w]) {
      st = err && err->code ? err->code : PH_ERR_NOMEM;
      goto out;
    }
  }
  if (pthread_mutex_init(&g.mu, NULL) || pthread_cond_init(&g.cv, NULL)) {
    st = ph_error_set(err, PH_ERR_NOMEM, "grid: cannot create a mutex");
    goto out;
  }
  mu_ok = 1;

  if (opt.progress) {
    char label[sizeof opt.progress->label];
    snprintf(label, sizeof label, "%s",
             opt.progress->label[0] ? opt.progress->label : "grid");
    ph_progress_start(opt.progress, label, np, opt.progress->enabled);
  }
  openblas_set_num_threads(1);
  int started = 0;
  g.running = nthreads;
  for (int w = 0; w < nthreads && g.limit > 0; w++) {
    wargs[w].g = &g;
    wargs[w].w = w;
    if (pthread_create(&tid[w], NULL, worker, &wargs[w]) != 0) {
      __atomic_store_n(&g.stop, 1, __ATOMIC_RELAXED);
      pthread_mutex_lock(&g.mu);
      g.running -= nthreads - w;
      if (g.st == PH_OK)
        g.st = ph_error_set(&g.err, PH_ERR_NOMEM,
                            "grid: cannot start worker thread %d", w);
      pthread_mutex_unlock(&g.mu);
      break;
    }
    started++;
  }
  if (g.limit == 0) g.running = 0;

  /* Supervise: periodic state saves and progress. */
  double last_save = ph_now();
  pthread_mutex_lock(&g.mu);
  while (g.running > 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&g.cv, &g.mu, &ts);
    if (g.running == 0) break;
    pthread_mutex_unlock(&g.mu);
    size_t c = __atomic_load_n(&g.computed, __ATOMIC_RELAXED);
    if (opt.progress) ph_progress_update(opt.progress, resumed + c, NULL);
    if (opt.state_path && ph_now() - last_save >= opt.save_interval) {
      ph_error se;
      ph_error_clear(&se);
      /* A failed periodic save is not fatal: the final one reports. */
      (void)save_state(opt.state_path, fp, nx, ny, done, loss, acc, &se);
      last_save = ph_now();
    }
    pthread_mutex_lock(&g.mu);
  }
  pthread_mutex_unlock(&g.mu);
  for (int w = 0; w < started; w++) pthread_join(tid[w], NULL);
  openblas_set_num_threads(blas_saved);
  if (opt.progress) {
    ph_progress_update(opt.progress, resumed + g.computed, NULL);
    ph_progress_finish(opt.progress);
  }

  size_t finished = resumed + g.computed;
  if (g.st != PH_OK) {
    if (err) *err = g.err;
    st = g.st;
  } else if (finished < np) {
    st = ph_error_set(err, PH_ERR_INTERRUPTED,
                      "grid stopped after %zu of %zu points", finished, np);
  }
  if (opt.state_path) {
    if (finished == np) {
      if (unlink(opt.state_path) != 0 && errno != ENOENT && st == PH_OK)
        st = ph_error_set(err, PH_ERR_IO, "%s: cannot remove grid state",
                          opt.state_path);
    } else if (g.computed > 0 || resumed > 0) {
      ph_error se;
      ph_error_clear(&se);
      if (save_state(opt.state_path, fp, nx, ny, done, loss, acc, &se) !=
              PH_OK &&
          st == PH_ERR_INTERRUPTED) {
        if (err) ph_error_clear(err);
        st = ph_error_set(err, se.code ? se.code : PH_ERR_IO,
                          "grid interrupted and its state not saved: %s",
                          se.msg);
      }
    }
  }
  if (stats) {
    stats->points = np;
    stats->computed = g.computed;
    stats->resumed = resumed;
    stats->nonfinite = 0;
    for (size_t k = 0; k < np; k++)
      if (done[k] && !isfinite(loss[k])) stats->nonfinite++;
    stats->seconds = ph_now() - t0;
    stats->points_per_second =
        stats->seconds > 0 ? (double)g.computed / stats->seconds : 0.0;
    stats->threads = nthreads;
  }
out:
  if (g.objs)
    for (int w = 1; w < nthreads; w++)
      if (g.objs[w]) ph_objective_destroy(g.objs[w]);
  if (g.bufs)
    for (int w = 0; w < nthreads; w++) free(g.bufs[w]);
  if (mu_ok) {
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
  }
  free(g.objs);
  free(g.bufs);
  free(tid);
  free(wargs);
  free(todo);
  free(done);
  free(xs);
  free(ys);
  return st;
}
