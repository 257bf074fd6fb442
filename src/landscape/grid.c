/* grid.c: threaded, resumable evaluation of a loss slice on a rectangular
 * grid (Li et al. 2018 style surfaces; see grid.h for the contract and
 * docs/landscape.md for the file format of the resume state).
 *
 * Workers (pthreads) claim point indices from one atomic counter; each owns
 * an objective clone and a θ buffer, so nothing written is shared but the
 * output slots they write (a network's clone reads worker 0's plane
 * products, which no call writes: net_obj.c, nn_plane_data). BLAS is held
 * at one thread for the duration, both for speed (no oversubscription) and
 * so that every number is the same for any --threads. The calling thread
 * only supervises: it saves the resume state every few seconds and draws
 * progress.
 *
 * In an MPI job (core/dist.h) each rank runs this on its round-robin share
 * of the points; the supervisor, the only thread that communicates, streams
 * finished points to rank 0 and relays stop requests. Which rank computes a
 * point changes nothing in its value, so surfaces are byte-identical for
 * any number of ranks and threads.
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
#include "core/dist.h"

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
                            const ph_batch *b, const ph_grid_axes *ax,
                            int plane) {
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
  /* points by plane_eval round differently from eval's: a state of one
   * way is not finished the other way. Direct grids keep the fingerprint
   * they had before the plane path, so their old states still resume.
   * "plane2": the plane's later dense layers changed their order of
   * summation (ph_nn_dense_forward_t), so a state of the first plane way
   * starts over instead of mixing the two roundings in one surface. */
  if (plane) h = fnv(h, "plane2", 6);
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
  size_t remote;       /* rank 0: points merged from other ranks */
  unsigned char *done; /* (np) atomic flags, set after the values */
  double *loss, *acc;
  int has_acc;
  int plane; /* 1: plane_eval (each worker prepares its objective) */
  int stop;  /* atomic: error elsewhere */
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
  double work; /* CPU seconds spent evaluating */
} worker_arg;

/* One finished point on its way to rank 0. */
typedef struct grid_rec {
  uint64_t idx;
  double loss, acc;
} grid_rec;

/* Rank 0: points computed elsewhere (their indices are never in this
 * rank's share, so no worker writes them). */
static void merge_records(void *ctx, const void *records, size_t n) {
  grid_run *g = ctx;
  const grid_rec *r = records;
  for (size_t i = 0; i < n; i++) {
    size_t k = (size_t)r[i].idx;
    if (k >= g->np || g->done[k]) continue;
    g->loss[k] = r[i].loss;
    g->acc[k] = r[i].acc;
    __atomic_store_n(&g->done[k], 1, __ATOMIC_RELEASE);
    g->remote++;
  }
}

static void *worker(void *arg) {
  worker_arg *wa = arg;
  grid_run *g = wa->g;
  ph_objective *o = g->objs[wa->w];
  double *p = g->bufs[wa->w];
  ph_error err = {0};
  ph_error_clear(&err);
  /* worker 0's objective was prepared before the fingerprint */
  if (g->plane && wa->w > 0) {
    double t0 = ph_dist_cpu_now();
    ph_status s =
        o->plane_prepare(o->ctx, g->theta, g->d1, g->d2, g->batch, &err);
    wa->work += ph_dist_cpu_now() - t0;
    if (s != PH_OK) {
      pthread_mutex_lock(&g->mu);
      if (g->st == PH_OK) {
        g->st = s;
        g->err = err;
        ph_error_prefix(&g->err, "grid worker %d: ", wa->w);
      }
      pthread_mutex_unlock(&g->mu);
      __atomic_store_n(&g->stop, 1, __ATOMIC_RELAXED);
    }
  }
  for (;;) {
    if (__atomic_load_n(&g->stop, __ATOMIC_RELAXED) ||
        (g->interrupt && *g->interrupt))
      break;
    size_t k = __atomic_fetch_add(&g->next, 1, __ATOMIC_RELAXED);
    if (k >= g->limit) break;
    size_t idx = g->todo[k];
    size_t i = idx % g->nx, j = idx / g->nx;
    double t0 = ph_dist_cpu_now();
    ph_grid_point(g->n, g->theta, g->d1, g->d2, g->xs[i], g->ys[j], p);
    double l = NAN, a = NAN;
    ph_status s =
        g->plane ? o->plane_eval(o->ctx, p, g->xs[i], g->ys[j], &l, &a, &err)
                 : o->eval(o->ctx, p, g->batch, &l, &a, &err);
    wa->work += ph_dist_cpu_now() - t0;
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

/* Write the state when it would hold more finished points than the file
 * last written (*saved of them; done only grows, so more points means
 * points the file lacks). Never a state with no finished point: it would
 * keep nothing, yet refuse every other grid in that directory (the first
 * periodic save, or rank 0's save when a job stops, could come before any
 * point was in). Nor the same points again every interval while waiting
 * for slower ranks. *saved moves only when a write succeeded. */
static ph_status save_state(const char *path, uint64_t fp, size_t nx, size_t ny,
                            const unsigned char *done, const double *loss,
                            const double *acc, size_t *saved, ph_error *err) {
  size_t np = nx * ny, have = 0;
  for (size_t k = 0; k < np; k++)
    have += __atomic_load_n(&done[k], __ATOMIC_ACQUIRE) != 0;
  if (have <= *saved) return PH_OK;
  ph_status st = PH_OK;
  ph_ckpt *ck = NULL;
  ph_ckpt_create(&ck, err); /* NULL checked with the buffers below */
  double *l = ph_malloc(np, sizeof(double), "grid state", err);
  double *a = ph_malloc(np, sizeof(double), "grid state", err);
  uint64_t *m = ph_malloc(np, sizeof(uint64_t), "grid state", err);
  if (!ck || !l || !a || !m) {
    st = PH_ERR_NOMEM;
    goto done;
  }
  have = 0; /* the points written: the flags may have grown since */
  for (size_t k = 0; k < np; k++) {
    m[k] = __atomic_load_n(&done[k], __ATOMIC_ACQUIRE);
    l[k] = m[k] ? loss[k] : NAN;
    a[k] = m[k] ? acc[k] : NAN;
    have += m[k] != 0;
  }
  uint64_t hdr[3] = {fp, nx, ny};
  if ((st = ph_ckpt_put_str(ck, "kind", STATE_MAGIC, err)) ||
      (st = ph_ckpt_put_u64(ck, "header", hdr, 3, err)) ||
      (st = ph_ckpt_put_u64(ck, "done", m, np, err)) ||
      (st = ph_ckpt_put_f64(ck, "loss", l, np, err)) ||
      (st = ph_ckpt_put_f64(ck, "acc", a, np, err)))
    goto done;
  st = ph_ckpt_write(ck, path, err);
  if (st == PH_OK) *saved = have;
done:
  ph_ckpt_free(ck);
  free(l);
  free(a);
  free(m);
  return st;
}

/* Restore finished points from a state file of this grid into done, loss
 * and acc. A state file that is unreadable, or that another grid wrote
 * (other θ, directions, axes or batch), is an error: silently starting
 * afresh would discard that grid's progress. */
static ph_status load_state(const char *path, uint64_t fp, size_t nx, size_t ny,
                            unsigned char *done, double *loss, double *acc,
                            ph_error *err) {
  if (!ph_path_exists(path)) return PH_OK;
  ph_ckpt *ck = NULL;
  if (ph_ckpt_read(path, &ck, NULL) != PH_OK)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: unreadable grid resume state (remove it to start "
                        "afresh)",
                        path);
  size_t np = nx * ny, n_h = 0, n_m = 0, n_l = 0, n_a = 0;
  const char *kind = ph_ckpt_get_str(ck, "kind");
  const uint64_t *h = ph_ckpt_get_u64(ck, "header", &n_h);
  const uint64_t *m = ph_ckpt_get_u64(ck, "done", &n_m);
  const double *l = ph_ckpt_get_f64(ck, "loss", &n_l);
  const double *a = ph_ckpt_get_f64(ck, "acc", &n_a);
  ph_status st = PH_OK;
  if (!kind || strcmp(kind, STATE_MAGIC) != 0 || !h || n_h != 3 || !m || !l ||
      !a || n_m != h[1] * h[2] || n_l != n_m || n_a != n_m) {
    st = ph_error_set(err, PH_ERR_FORMAT,
                      "%s: not a grid resume state (remove it to start "
                      "afresh)",
                      path);
  } else if (h[0] != fp || h[1] != nx || h[2] != ny) {
    st = ph_error_set(err, PH_ERR_ARG,
                      "%s: resume state of a different grid (%llux%llu, "
                      "other inputs or options): rerun the command that "
                      "wrote it, or remove it to start afresh",
                      path, (unsigned long long)h[1], (unsigned long long)h[2]);
  } else {
    for (size_t k = 0; k < np; k++)
      if (m[k]) {
        done[k] = 1;
        loss[k] = l[k];
        acc[k] = a[k];
      }
  }
  ph_ckpt_free(ck);
  return st;
}

/* ---- the call -------------------------------------------------------- */

/* A non-root rank's supervisor: send the points its workers finished since
 * the last call (positions [*cursor, claimed) of its share). */
static ph_status report_new(grid_run *g, ph_dist_stream *ds,
                            unsigned char *sent, size_t *cursor,
                            ph_error *err) {
  size_t hi = __atomic_load_n(&g->next, __ATOMIC_RELAXED);
  if (hi > g->limit) hi = g->limit;
  if (hi <= *cursor) return PH_OK;
  grid_rec *buf = ph_malloc(hi - *cursor, sizeof *buf, "grid records", err);
  if (!buf) return PH_ERR_NOMEM;
  size_t n = 0;
  for (size_t p = *cursor; p < hi; p++) {
    size_t k = g->todo[p];
    if (sent[p] || !__atomic_load_n(&g->done[k], __ATOMIC_ACQUIRE)) continue;
    buf[n].idx = k;
    buf[n].loss = g->loss[k];
    buf[n].acc = g->acc[k];
    n++;
    sent[p] = 1;
  }
  while (*cursor < hi && sent[*cursor]) (*cursor)++;
  ph_status st = ph_dist_stream_send(ds, buf, n, err);
  free(buf);
  return st;
}

static void nap_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

ph_status ph_grid_eval(ph_objective *o, const double *theta, const double *d1,
                       const double *d2, const ph_batch *batch,
                       const ph_grid_axes *axes, const ph_grid_options *optp,
                       double *loss, double *acc, ph_grid_stats *stats,
                       ph_error *err) {
  ph_grid_options opt = optp ? *optp : ph_grid_options_default();
  size_t nx = axes->nx, ny = axes->ny;
  int rank = ph_dist_rank(), ranks = ph_dist_size(), dist = ranks > 1;
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
  if (dist && np < (size_t)ranks)
    return ph_error_set(err, PH_ERR_ARG,
                        "%d processes for a grid of %zu points: start at most "
                        "%zu",
                        ranks, np, np);
  if (opt.threads < 1) opt.threads = 1;
  if (opt.save_interval <= 0) opt.save_interval = 5.0;
  if (rank != 0) { /* rank 0 alone draws progress and keeps the state */
    opt.progress = NULL;
    opt.state_path = NULL;
  }

  double t0 = ph_now(), comm0 = ph_dist_comm_seconds();
  ph_status st = PH_OK;
  grid_run g;
  memset(&g, 0, sizeof g);
  int nthreads = 0, mu_ok = 0, blas_saved = openblas_get_num_threads();
  pthread_t *tid = NULL;
  worker_arg *wargs = NULL;
  size_t *todo = NULL, n_todo = 0, resumed = 0, cursor = 0;
  size_t saved = 0; /* finished points in the state file (save_state) */
  unsigned char *done = NULL, *sent = NULL;
  double *xs = NULL, *ys = NULL;
  uint64_t fp = 0;
  ph_dist_stream *ds = NULL;
  int plane = 0;          /* o's plane is prepared (released at out) */
  double prep_work = 0.0; /* CPU s of that preparation */

  done = ph_calloc(np, 1, "grid mask", err);
  todo = ph_malloc(np, sizeof(size_t), "grid work list", err);
  sent = ph_calloc(np, 1, "grid mask", err);
  xs = ph_malloc(nx, sizeof(double), "grid axis", err);
  ys = ph_malloc(ny, sizeof(double), "grid axis", err);
  if (dist && ph_dist_stream_create(sizeof(grid_rec), &ds, err) != PH_OK)
    st = PH_ERR_NOMEM;
  if (!done || !todo || !sent || !xs || !ys) st = PH_ERR_NOMEM;
  /* The plane first: whether it applies (PH_ERR_UNSUPPORTED: no, evaluate
   * directly) enters the fingerprint. */
  if (st == PH_OK && !opt.direct && o->plane_prepare && o->plane_eval &&
      o->plane_release) {
    ph_error pe;
    ph_error_clear(&pe);
    double c0 = ph_dist_cpu_now();
    ph_status ps = o->plane_prepare(o->ctx, theta, d1, d2, batch, &pe);
    prep_work = ph_dist_cpu_now() - c0;
    if (ps == PH_OK)
      plane = 1;
    else if (ps != PH_ERR_UNSUPPORTED) {
      st = ps;
      if (err) *err = pe;
    }
  }
  if (opt.state_path || dist)
    fp = fingerprint(o, theta, d1, d2, batch, axes, plane);
  for (size_t k = 0; k < np; k++) loss[k] = acc[k] = NAN;
  if (st == PH_OK && opt.state_path)
    st = load_state(opt.state_path, fp, nx, ny, done, loss, acc, err);
  /* Every rank arrives here, failed or not, and all must hold the same
   * grid (θ, directions, axes, batch): a rank that computed different
   * directions (another build or CPU) would corrupt the surface. */
  if (dist) st = ph_dist_agree(st, fp, NULL, err);
  if (st != PH_OK) goto out;
  ph_grid_axis(nx, axes->x_lo, axes->x_hi, xs);
  if (d2)
    ph_grid_axis(ny, axes->y_lo, axes->y_hi, ys);
  else
    ys[0] = 0.0;
  if (dist) ph_dist_bcast(done, np, err);
  /* The work left, in index order; rank r takes positions r, r + R, ... */
  for (size_t k = 0, pos = 0; k < np; k++) {
    if (done[k]) {
      resumed++;
      continue;
    }
    if (ph_dist_owner(pos++) == rank) todo[n_todo++] = k;
  }
  saved = resumed; /* all of them came from the state file */

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
  g.limit = n_todo;
  if (opt.stop_after && opt.stop_after < g.limit) g.limit = opt.stop_after;
  if (opt.hold_after && opt.hold_after < g.limit) g.limit = opt.hold_after;
  g.done = done;
  g.loss = loss;
  g.acc = acc;
  g.has_acc = o->has_accuracy;
  g.plane = plane;
  g.interrupt = opt.interrupt;
  g.st = PH_OK;
  ph_error_clear(&g.err);

  /* From here on a local failure ends this rank's share early and is
   * reported through the stream, so every rank still reaches the close. */
  nthreads = opt.threads;
  if ((size_t)nthreads > g.limit) nthreads = g.limit > 0 ? (int)g.limit : 1;
  g.objs = ph_calloc((size_t)nthreads, sizeof *g.objs, "grid workers", &g.err);
  g.bufs = ph_calloc((size_t)nthreads, sizeof *g.bufs, "grid workers", &g.err);
  tid = ph_calloc((size_t)nthreads, sizeof *tid, "grid workers", &g.err);
  wargs = ph_calloc((size_t)nthreads, sizeof *wargs, "grid workers", &g.err);
  if (!g.objs || !g.bufs || !tid || !wargs) {
    g.st = PH_ERR_NOMEM;
    nthreads = 0;
  }
  for (int w = 0; w < nthreads && g.st == PH_OK; w++) {
    g.objs[w] = o;
    if (w > 0) g.st = ph_objective_clone_create(o, &g.objs[w], &g.err);
    g.bufs[w] = ph_malloc(o->n, sizeof(double), "grid point", &g.err);
    if (g.st == PH_OK && !g.bufs[w])
      g.st = g.err.code ? g.err.code : PH_ERR_NOMEM;
  }
  if (g.st == PH_OK) {
    if (pthread_mutex_init(&g.mu, NULL) || pthread_cond_init(&g.cv, NULL))
      g.st = ph_error_set(&g.err, PH_ERR_NOMEM, "grid: cannot create a mutex");
    else
      mu_ok = 1;
  }
  if (!mu_ok && !dist) {
    st = g.st;
    if (err) *err = g.err;
    goto out;
  }

  if (opt.progress) {
    char label[sizeof opt.progress->label];
    snprintf(label, sizeof label, "%s",
             opt.progress->label[0] ? opt.progress->label : "grid");
    ph_progress_start(opt.progress, label, np, opt.progress->enabled);
  }
  openblas_set_num_threads(1);
  int started = 0;
  g.running = mu_ok ? nthreads : 0;
  for (int w = 0; w < nthreads && mu_ok && g.limit > 0; w++) {
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

  /* Supervise: progress, periodic state saves and, in a job, the stream to
   * rank 0 and stop requests both ways. */
  double last_save = ph_now();
  int finished_sent = 0, saved_on_stop = 0;
  ph_dist_outcome mine;
  memset(&mine, 0, sizeof mine);
  for (;;) {
    int running = 0;
    if (mu_ok) {
      pthread_mutex_lock(&g.mu);
      if (g.running > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000L;
        if (ts.tv_nsec >= 1000000000L) {
          ts.tv_sec++;
          ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g.cv, &g.mu, &ts);
      }
      running = g.running;
      pthread_mutex_unlock(&g.mu);
    }
    /* The hold_after test hook: this process's share stopped there, and it
     * waits as a hung one would (still relaying stop requests and, on rank
     * 0, saving what the other ranks stream) until interrupted or the job
     * stops. */
    int held = opt.hold_after && running == 0 && g.limit < n_todo &&
               !__atomic_load_n(&g.stop, __ATOMIC_RELAXED) &&
               !(g.interrupt && *g.interrupt);
    if (!dist && running == 0 && !held) break;
    if (dist) {
      ph_error se;
      ph_error_clear(&se);
      ph_status ss = PH_OK;
      if (rank != 0) ss = report_new(&g, ds, sent, &cursor, &se);
      if (ss == PH_OK) ss = ph_dist_stream_poll(ds, merge_records, &g, &se);
      if (ss != PH_OK) {
        pthread_mutex_lock(&g.mu);
        if (g.st == PH_OK) {
          g.st = ss;
          g.err = se;
        }
        pthread_mutex_unlock(&g.mu);
        __atomic_store_n(&g.stop, 1, __ATOMIC_RELAXED);
      }
      int local_stop = __atomic_load_n(&g.stop, __ATOMIC_RELAXED) ||
                       (g.interrupt && *g.interrupt);
      if (ph_dist_stream_stopping(ds) || (rank == 0 && local_stop)) {
        __atomic_store_n(&g.stop, 1, __ATOMIC_RELAXED);
        if (rank == 0) {
          ph_dist_stream_stop(ds, NULL);
          /* Save now: when a rank died, mpirun ends this one shortly. */
          if (opt.state_path && !saved_on_stop) {
            ph_error se2;
            ph_error_clear(&se2);
            (void)save_state(opt.state_path, fp, nx, ny, done, loss, acc,
                             &saved, &se2);
            last_save = ph_now();
            saved_on_stop = 1;
          }
        }
      }
    }
    size_t c = __atomic_load_n(&g.computed, __ATOMIC_RELAXED);
    if (opt.progress)
      ph_progress_update(opt.progress, resumed + c + g.remote, NULL);
    if (opt.state_path && ph_now() - last_save >= opt.save_interval) {
      ph_error se;
      ph_error_clear(&se);
      /* A failed periodic save is not fatal: the final one reports. */
      (void)save_state(opt.state_path, fp, nx, ny, done, loss, acc, &saved,
                       &se);
      last_save = ph_now();
    }
    if (held) {
      nap_ms(20);
      continue;
    }
    if (dist && running == 0) {
      if (!finished_sent) {
        for (int w = 0; w < started; w++) pthread_join(tid[w], NULL);
        started = 0;
        ph_error se;
        ph_error_clear(&se);
        if (rank != 0 && g.st == PH_OK &&
            report_new(&g, ds, sent, &cursor, &se) != PH_OK) {
          g.st = se.code;
          g.err = se;
        }
        mine.status = g.st;
        if (g.st != PH_OK)
          snprintf(mine.msg, sizeof mine.msg, "%s", g.err.msg);
        else if (g.computed < n_todo)
          mine.status = PH_ERR_INTERRUPTED;
        mine.computed = g.computed;
        mine.work_seconds = prep_work;
        for (int w = 0; w < nthreads; w++) mine.work_seconds += wargs[w].work;
        (void)ph_dist_stream_finish(ds, &mine, NULL);
        finished_sent = 1;
      }
      if (ph_dist_stream_all_finished(ds)) break;
      nap_ms(20);
    }
  }
  for (int w = 0; w < started; w++) pthread_join(tid[w], NULL);
  openblas_set_num_threads(blas_saved);

  size_t computed = g.computed;
  double work = prep_work;
  for (int w = 0; w < nthreads; w++) work += wargs[w].work;
  if (dist) {
    /* Same status and message on every rank; then every rank gets the
     * whole surface, and the job's totals. */
    ph_dist_outcome tot;
    ph_error ce;
    ph_error_clear(&ce);
    ph_dist_stream_close(ds, merge_records, &g, &tot, &ce);
    ds = NULL;
    if (tot.status == PH_OK) {
      ph_dist_bcast(loss, np * sizeof(double), NULL);
      ph_dist_bcast(acc, np * sizeof(double), NULL);
    }
    double *per = ph_calloc((size_t)ranks * 2, sizeof(double), "grid", NULL);
    if (per) {
      per[2 * rank] = work;
      per[2 * rank + 1] = ph_dist_comm_seconds() - comm0;
      ph_dist_allgather_indexed(per, (size_t)ranks, 2 * sizeof(double), NULL);
      work = 0;
      for (int r = 0; r < ranks; r++) work += per[2 * r];
      if (stats) {
        stats->comm_seconds = 0;
        for (int r = 0; r < ranks; r++) stats->comm_seconds += per[2 * r + 1];
      }
      free(per);
    }
    computed = tot.computed;
    g.st = tot.status;
    g.err = ce;
  }
  if (opt.progress) {
    ph_progress_update(opt.progress, resumed + computed, NULL);
    ph_progress_finish(opt.progress);
  }

  size_t finished = resumed + computed;
  if (g.st != PH_OK) {
    if (err) *err = g.err;
    st = g.st;
  } else if (finished < np) {
    st = ph_error_set(err, PH_ERR_INTERRUPTED,
                      "grid stopped after %zu of %zu points", finished, np);
  }
  if (opt.state_path) {
    if (finished == np && st == PH_OK) {
      if (unlink(opt.state_path) != 0 && errno != ENOENT)
        st = ph_error_set(err, PH_ERR_IO, "%s: cannot remove grid state",
                          opt.state_path);
    } else {
      ph_error se;
      ph_error_clear(&se);
      if (save_state(opt.state_path, fp, nx, ny, done, loss, acc, &saved,
                     &se) != PH_OK &&
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
    stats->computed = computed;
    stats->resumed = resumed;
    stats->nonfinite = 0;
    for (size_t k = 0; k < np; k++)
      if (done[k] && !isfinite(loss[k])) stats->nonfinite++;
    stats->seconds = ph_now() - t0;
    stats->points_per_second =
        stats->seconds > 0 ? (double)computed / stats->seconds : 0.0;
    stats->threads = nthreads;
    stats->ranks = ranks;
    stats->work_seconds = work;
    if (!dist) stats->comm_seconds = 0;
    stats->plane = plane;
  }
out:
  if (plane) o->plane_release(o->ctx);
  ph_dist_stream_free(ds); /* unused: failed before the loop */
  if (g.objs)
    for (int w = 1; w < nthreads; w++)
      if (g.objs[w]) ph_objective_free(g.objs[w]);
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
  free(sent);
  free(done);
  free(xs);
  free(ys);
  return st;
}
