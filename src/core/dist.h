/* dist.h: the processes of one distributed job (MPI ranks), or one process.
 *
 * Built with MPI (meson -Dmpi=auto finds it) and started by mpirun or srun,
 * the job has ph_dist_size() processes; rank 0 gathers results and writes
 * every output. Built without MPI, or started without a launcher, the same
 * calls describe one process (rank 0 of 1) and communicate nothing.
 *
 * Work is split by index: item k of a list belongs to rank k mod size
 * (ph_dist_owner). Every item is computed on its own from the same inputs,
 * so its value does not depend on which rank computed it, and results are
 * merged without arithmetic (a bitwise OR of words that only the owner set),
 * so outputs are byte-identical for any number of ranks.
 *
 * Failure protocol. A collective call that some rank never reaches hangs the
 * job, so every distributed sequence begins with ph_dist_agree, which every
 * rank reaches whether it failed or not (tools/cli.c's failure path calls
 * it). Once an agreement has seen a failure, the job is ending: that result
 * sticks and later agreements return it without communicating. A rank that
 * dies outright ends the job through OpenMPI's default error handling
 * (mpirun kills the others); ph_dist_abort is the tools' last resort.
 *
 * Only the thread that called ph_dist_init communicates
 * (MPI_THREAD_FUNNELED). Waits sleep between polls instead of spinning, so
 * a rank that waits leaves its core to the worker threads.
 */
#ifndef PH_CORE_DIST_H
#define PH_CORE_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* 1 when this pothole was built with MPI. */
int ph_dist_built(void);

/* Join the job when a launcher started this process (mpirun's or PMI's
 * environment), else stay one process. Sets PH_DIST_PARENT in the
 * environment, so that a pothole this process starts runs alone. Fails
 * (PH_ERR_UNSUPPORTED) when a launcher started several copies of a build
 * without MPI; *quiet is set on the copies that should not print the error (all
 * but the first). */
ph_status ph_dist_init(int *argc, char ***argv, int *quiet, ph_error *err);
void ph_dist_finalize(void);
int ph_dist_rank(void);
int ph_dist_size(void);
/* Which rank computes item k (k mod size). */
int ph_dist_owner(size_t k);

/* Collective: every rank passes its status and a key (e.g. a fingerprint
 * of the inputs that must be equal everywhere). Returns PH_OK when all
 * succeeded with equal keys; mine (with its message) when this rank failed;
 * PH_ERR_PEER when only others failed; PH_ERR_ARG when the keys differ.
 * *n_failed (may be NULL): how many ranks failed. */
ph_status ph_dist_agree(ph_status mine, uint64_t key, int *n_failed,
                        ph_error *err);

/* Fold len bytes into an agreement key (FNV-1a; start from PH_DIST_KEY0):
 * a fingerprint of what every rank must hold alike. */
#define PH_DIST_KEY0 1469598103934665603ULL
uint64_t ph_dist_key(uint64_t h, const void *data, size_t len);

/* After a failed agreement: the status of the lowest rank that failed
 * (PH_OK before), so that every rank can end with the same exit code. */
ph_status ph_dist_job_status(void);

/* What the failure path of a tool should print after the agreement:
 * 0 nothing (another rank reports), 1 the message, 2 the message prefixed
 * with this rank. Collective (runs ph_dist_agree unless one already failed).
 */
int ph_dist_failure_voice(ph_status mine);

/* Collective: items[k] (item_bytes each, a multiple of 8) for every k owned
 * by this rank are kept, the others zeroed, and then merged so that every
 * rank holds all n items. */
ph_status ph_dist_allgather_indexed(void *items, size_t n, size_t item_bytes,
                                    ph_error *err);
/* Collective: rank 0's bytes to every rank. */
ph_status ph_dist_bcast(void *buf, size_t bytes, ph_error *err);
/* CPU seconds this process's communicating thread spent in communication
 * calls so far. */
double ph_dist_comm_seconds(void);
/* CPU seconds of the calling thread (for shares of communication). */
double ph_dist_cpu_now(void);

/* Kill the whole job (MPI_Abort) with exit code `code`; exits when alone.
 * For the tools only: the library never ends the process. */
void ph_dist_abort(int code);

/* ---- streams: records from every rank to rank 0 while work runs -------
 * One stream per distributed loop (created on every rank in the same order).
 * Non-root ranks send batches of fixed-size records and finally their
 * outcome; rank 0 drains what has arrived whenever it polls and can ask the
 * others to stop. Nothing here blocks except ph_dist_stream_close. */
typedef struct ph_dist_stream ph_dist_stream;

typedef struct ph_dist_outcome {
  ph_status status;
  size_t computed;     /* items this rank computed */
  double work_seconds; /* time its workers spent computing */
  double comm_seconds; /* time it spent communicating in this stream */
  int rank;            /* which rank reported (set by the stream) */
  char msg[PH_ERROR_MSG_MAX];
} ph_dist_outcome;

typedef void (*ph_dist_sink)(void *ctx, const void *records, size_t n);

/* A new stream of records of record_bytes bytes, created on every rank in
 * the same order; the caller ends it with ph_dist_stream_close (collective,
 * frees it) or, if it was never used, releases it with ph_dist_stream_free.
 * *out is NULL on failure. */
ph_status ph_dist_stream_create(size_t record_bytes, ph_dist_stream **out,
                                ph_error *err);
/* Non-root: queue n records for rank 0 (copied). */
ph_status ph_dist_stream_send(ph_dist_stream *s, const void *records, size_t n,
                              ph_error *err);
/* Rank 0: hand every record that has arrived to sink. Others: complete
 * finished sends and look for a stop request. */
ph_status ph_dist_stream_poll(ph_dist_stream *s, ph_dist_sink sink, void *ctx,
                              ph_error *err);
/* Rank 0: ask every other rank to stop (once). */
ph_status ph_dist_stream_stop(ph_dist_stream *s, ph_error *err);
/* Non-root: has rank 0 asked to stop? Rank 0: has any rank reported a
 * failure or an interruption? */
int ph_dist_stream_stopping(const ph_dist_stream *s);
/* Non-root: report this rank's outcome (after its last records). Rank 0:
 * records its own. */
ph_status ph_dist_stream_finish(ph_dist_stream *s, const ph_dist_outcome *mine,
                                ph_error *err);
/* Rank 0: have all ranks finished? (Others: 1.) */
int ph_dist_stream_all_finished(const ph_dist_stream *s);
/* Collective: rank 0 (after all finished, polling its sink meanwhile)
 * combines the outcomes: the lowest rank's failure, else an interruption,
 * else success; sums computed, work and communication seconds. Every rank
 * returns the same status with the same message in err, and *total. Frees
 * the stream. */
ph_status ph_dist_stream_close(ph_dist_stream *s, ph_dist_sink sink, void *ctx,
                               ph_dist_outcome *total, ph_error *err);

/* Free a stream that was created but never used (every rank failed the
 * agreement before the loop). Local; NULL is fine. */
void ph_dist_stream_free(ph_dist_stream *s);

#endif
