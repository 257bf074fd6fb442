/* pool.c: a persistent team of threads (pool.h). Each ph_pool_run bumps a
 * generation counter; a worker that sees it change runs its share and
 * counts itself out; the last one out wakes the caller. Waiting threads
 * poll for half a millisecond before they sleep on a condition variable
 * (see PH_POOL_POLL_NS), so back-to-back runs never pay a wake-up, and an
 * idle team costs no CPU: the spin-then-block wait of OpenMP runtimes
 * (libgomp's GOMP_SPINCOUNT). */
#include "core/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PH_POOL_PAUSE() _mm_pause()
#else
#define PH_POOL_PAUSE() ((void)0)
#endif

#include "core/alloc.h"

/* How long a waiting thread polls before it sleeps. Sleeping costs more
 * than it seems on a virtual machine: waking an idle virtual CPU goes
 * through the host, tens to hundreds of microseconds, and a product hands
 * over between its threads three times (start, partial sums, end). Half
 * a millisecond covers a chunk's imbalance and the gap between
 * back-to-back products. The first PH_POOL_PAUSES polls spin on pause
 * instructions (a few microseconds); the rest yield the core between
 * polls, so that on a busy machine the wait gives its CPU to whoever
 * needs it (with pure spinning, a 2-thread spectrum of the small MLP
 * took a quarter more CPU time than with threads started per call, on
 * the loaded machine), while on an idle one sched_yield returns at once
 * and the wait stays a spin. */
#define PH_POOL_POLL_NS 500000L
#define PH_POOL_PAUSES 256

static long elapsed_ns(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

/* One step of a wait that began at *t0 (set on step 0): 0 while it
 * should keep polling, 1 once it should sleep. */
static int wait_step(int *s, struct timespec *t0) {
  if (*s == 0) clock_gettime(CLOCK_MONOTONIC, t0);
  if (++*s < PH_POOL_PAUSES) {
    PH_POOL_PAUSE();
    return 0;
  }
  if (elapsed_ns(t0) > PH_POOL_POLL_NS) return 1;
  sched_yield();
  return 0;
}

struct ph_pool {
  size_t threads;
  pthread_t *tid;
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  atomic_ulong gen;     /* runs started; workers watch it */
  atomic_size_t active; /* workers still in the current run */
  int quit;             /* under mu */
  ph_pool_fn fn;
  void *arg;
};

typedef struct {
  ph_pool *p;
  size_t t;
} worker_arg;

static void *worker(void *a) {
  ph_pool *p = ((worker_arg *)a)->p;
  size_t t = ((worker_arg *)a)->t;
  free(a);
  unsigned long seen = 0;
  for (;;) {
    unsigned long g = atomic_load_explicit(&p->gen, memory_order_acquire);
    struct timespec t0;
    for (int s = 0; g == seen && !wait_step(&s, &t0);)
      g = atomic_load_explicit(&p->gen, memory_order_acquire);
    if (g == seen) {
      pthread_mutex_lock(&p->mu);
      while ((g = atomic_load(&p->gen)) == seen && !p->quit)
        pthread_cond_wait(&p->go, &p->mu);
      int quit = p->quit;
      pthread_mutex_unlock(&p->mu);
      if (quit) return NULL;
    }
    seen = g;
    p->fn(p->arg, t);
    if (atomic_fetch_sub_explicit(&p->active, 1, memory_order_acq_rel) == 1) {
      /* the caller may be asleep: wake it under the mutex it checks in */
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
  }
}

ph_status ph_pool_create(size_t threads, ph_pool **out, ph_error *err) {
  *out = NULL;
  if (threads < 1) threads = 1;
  ph_pool *p = ph_calloc(1, sizeof *p, "thread pool", err);
  if (!p) return PH_ERR_NOMEM;
  p->tid = ph_calloc(threads, sizeof *p->tid, "thread pool", err);
  if (!p->tid) {
    free(p);
    return PH_ERR_NOMEM;
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->go, NULL);
  pthread_cond_init(&p->done, NULL);
  atomic_init(&p->gen, 0);
  atomic_init(&p->active, 0);
  p->threads = 1;
  for (size_t t = 1; t < threads; t++) {
    worker_arg *a = malloc(sizeof *a);
    if (a) *a = (worker_arg){p, t};
    if (!a || pthread_create(&p->tid[t], NULL, worker, a) != 0) {
      free(a);
      ph_pool_free(p);
      return ph_error_set(err, PH_ERR_NOMEM,
                          "cannot start worker thread %zu of %zu", t, threads);
    }
    p->threads = t + 1;
  }
  *out = p;
  return PH_OK;
}

void ph_pool_run(ph_pool *p, ph_pool_fn fn, void *arg) {
  if (!p || p->threads == 1) {
    fn(arg, 0);
    return;
  }
  p->fn = fn;
  p->arg = arg;
  atomic_store_explicit(&p->active, p->threads - 1, memory_order_relaxed);
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  fn(arg, 0);
  struct timespec t0;
  for (int s = 0; atomic_load_explicit(&p->active, memory_order_acquire);)
    if (wait_step(&s, &t0)) break;
  pthread_mutex_lock(&p->mu);
  while (atomic_load(&p->active) != 0) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

size_t ph_pool_threads(const ph_pool *p) {
  return p ? p->threads : 1;
}

void ph_pool_free(ph_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->quit = 1;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  for (size_t t = 1; t < p->threads; t++) pthread_join(p->tid[t], NULL);
  pthread_cond_destroy(&p->go);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->mu);
  free(p->tid);
  free(p);
}
