/* pool.h: a persistent team of threads that runs one function on every
 * thread and waits for all of them, many times over. Deterministic
 * parallel products (src/nn/net_obj.c) call it twice per product, so
 * starting threads once instead of per call, and polling for a while
 * before a thread sleeps, keep the hand-over far below a product's time. */
#ifndef PH_CORE_POOL_H
#define PH_CORE_POOL_H

#include <stddef.h>

#include "core/error.h"

typedef struct ph_pool ph_pool;

/* fn(arg, t) for thread t = 0..threads − 1 of one ph_pool_run. */
typedef void (*ph_pool_fn)(void *arg, size_t t);

/* A team of `threads` (≥ 1): the caller of ph_pool_run is thread 0, and
 * threads − 1 workers are started here. PH_ERR_NOMEM (with a message) when
 * memory or a thread cannot be had; *out is then NULL. */
ph_status ph_pool_create(size_t threads, ph_pool **out, ph_error *err);

/* Runs fn(arg, t) once on each thread t (t = 0 on the caller) and returns
 * when every call has returned; the calls' writes are then visible to the
 * caller. A NULL pool is a team of one: fn(arg, 0). Not reentrant: one
 * run at a time per pool, and fn must not call ph_pool_run on its pool. */
void ph_pool_run(ph_pool *p, ph_pool_fn fn, void *arg);

/* Threads in the team (1 for NULL). */
size_t ph_pool_threads(const ph_pool *p);

/* Stops and joins the workers, frees the pool. NULL is a no-op. */
void ph_pool_free(ph_pool *p);

#endif
