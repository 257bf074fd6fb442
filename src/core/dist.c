/* dist.c: the distribution layer of dist.h over MPI (OpenMPI, MPICH), or a
 * single process when built without MPI or started without a launcher.
 *
 * Every wait is a nonblocking call polled with MPI_Test and short sleeps
 * (20 µs doubling to 5 ms): OpenMPI's blocking calls spin, and a spinning
 * rank would take the core its own worker threads compute on. Indexed
 * results are merged with a bitwise-OR reduction of 64-bit words that only
 * the owning rank set, so a merged double is exactly the owner's bits.
 * The communication time reported is the CPU time of this thread inside
 * the MPI calls themselves: not the sleeps between polls (waiting for a
 * slower rank is a cost of balance, and shows up in the wall time), and
 * not the time the thread was descheduled on a loaded machine.
 */
#include "core/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"

#if PH_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1;
#if PH_HAVE_MPI
static int g_mpi = 0;    /* MPI_Init done by us */
static int g_sticky = 0; /* an agreement has seen a failure */
static int g_sticky_nfailed = 0;
#endif
static ph_status g_job_status = PH_OK; /* the lowest failing rank's */
static double g_comm = 0;              /* seconds in MPI calls */

int ph_dist_built(void) {
  return PH_HAVE_MPI;
}

int ph_dist_rank(void) {
  return g_rank;
}

int ph_dist_size(void) {
  return g_size;
}

int ph_dist_owner(size_t k) {
  return (int)(k % (size_t)g_size);
}

double ph_dist_comm_seconds(void) {
  return g_comm;
}

double ph_dist_cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t ph_dist_key(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static long env_long(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) return -1;
  char *end;
  long x = strtol(v, &end, 10);
  return *end ? -1 : x;
}

ph_status ph_dist_init(int *argc, char ***argv, int *quiet, ph_error *err) {
  if (quiet) *quiet = 0;
  /* The launchers' environment: OpenMPI's mpirun, and PMI/PMIx (srun,
   * MPICH's hydra). Without it this is a plain process: no MPI at all, so
   * the same binary runs anywhere without a launcher. */
  long size = env_long("OMPI_COMM_WORLD_SIZE");
  if (size < 0) size = env_long("PMI_SIZE");
  long rank = env_long("OMPI_COMM_WORLD_RANK");
  if (rank < 0) rank = env_long("PMI_RANK");
  if (rank < 0) rank = env_long("PMIX_RANK");
  /* A pothole that a rank started (the demo runner, a study's jobs)
   * inherits the launcher's environment but is no rank: it runs alone. */
  if (getenv("PH_DIST_PARENT")) return PH_OK;
  if (size < 0 && rank < 0) return PH_OK;
  char pid[32];
  snprintf(pid, sizeof pid, "%ld", (long)getpid());
  setenv("PH_DIST_PARENT", pid, 1);
#if PH_HAVE_MPI
  (void)quiet;
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) !=
      MPI_SUCCESS)
    return ph_error_set(err, PH_ERR_IO, "MPI_Init_thread failed");
  g_mpi = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  if (provided < MPI_THREAD_FUNNELED)
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "the MPI library offers no thread support "
                        "(MPI_THREAD_FUNNELED), which the worker threads need");
  return PH_OK;
#else
  (void)argc;
  (void)argv;
  if (size > 1 || rank > 0) {
    if (quiet) *quiet = rank > 0;
    return ph_error_set(err, PH_ERR_UNSUPPORTED,
                        "this pothole was built without MPI but started as "
                        "one of %ld processes: install libopenmpi-dev and "
                        "rebuild (meson -Dmpi=enabled), or run it without "
                        "mpirun",
                        size > 0 ? size : rank + 1);
  }
  return PH_OK;
#endif
}

void ph_dist_finalize(void) {
#if PH_HAVE_MPI
  if (g_mpi) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
    g_mpi = 0;
  }
#endif
}

void ph_dist_abort(int code) {
#if PH_HAVE_MPI
  if (g_mpi && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  exit(code);
}

#if PH_HAVE_MPI
static void nap(long *ns) {
  struct timespec ts = {0, *ns};
  nanosleep(&ts, NULL);
  if (*ns < 5000000) *ns *= 2;
}

/* Complete a request without spinning; the time in MPI_Test is counted. */
static void wait_req(MPI_Request *r, double *comm) {
  long ns = 20000;
  for (;;) {
    double t = ph_dist_cpu_now();
    int done = 0;
    MPI_Test(r, &done, MPI_STATUS_IGNORE);
    double dt = ph_dist_cpu_now() - t;
    g_comm += dt;
    if (comm) *comm += dt;
    if (done) return;
    nap(&ns);
  }
}
#endif

ph_status ph_dist_agree(ph_status mine, uint64_t key, int *n_failed,
                        ph_error *err) {
  if (g_size == 1) {
    if (n_failed) *n_failed = mine != PH_OK;
    return mine;
  }
#if PH_HAVE_MPI
  int nf = 0, differs = -1;
  if (g_sticky) {
    nf = g_sticky_nfailed;
  } else {
    uint64_t in[2] = {(uint64_t)mine, key};
    uint64_t *all = malloc((size_t)g_size * sizeof in);
    if (!all) ph_dist_abort(1); /* cannot take part: end the job */
    MPI_Request rq;
    double t = ph_dist_cpu_now();
    MPI_Iallgather(in, 2, MPI_UINT64_T, all, 2, MPI_UINT64_T, MPI_COMM_WORLD,
                   &rq);
    g_comm += ph_dist_cpu_now() - t;
    wait_req(&rq, NULL);
    for (int r = 0; r < g_size; r++) {
      if (all[2 * r] != PH_OK && all[2 * r] != PH_ERR_PEER &&
          g_job_status == PH_OK)
        g_job_status = (ph_status)all[2 * r];
      nf += all[2 * r] != PH_OK;
      if (differs < 0 && all[2 * r + 1] != all[1]) differs = r;
    }
    if (nf > 0 && g_job_status == PH_OK) g_job_status = PH_ERR_PEER;
    free(all);
    if (nf == 0 && differs >= 0) {
      g_sticky = 1;
      g_sticky_nfailed = g_size; /* every rank fails the same way */
      g_job_status = PH_ERR_ARG;
      if (n_failed) *n_failed = g_size;
      return ph_error_set(err, PH_ERR_ARG,
                          "the %d processes disagree on their inputs (rank %d "
                          "differs from rank 0): give every rank the same "
                          "files, options and build",
                          g_size, differs);
    }
    if (nf > 0) {
      g_sticky = 1;
      g_sticky_nfailed = nf;
    }
  }
  if (n_failed) *n_failed = nf;
  if (mine != PH_OK) return mine;
  if (nf > 0)
    return ph_error_set(err, PH_ERR_PEER,
                        "another process of the job failed (it reports why)");
  return PH_OK;
#else
  (void)key;
  (void)err;
  if (n_failed) *n_failed = mine != PH_OK;
  return mine;
#endif
}

ph_status ph_dist_job_status(void) {
  return g_job_status;
}

int ph_dist_failure_voice(ph_status mine) {
  if (g_size == 1) return 1;
  int nf = 0;
  (void)ph_dist_agree(mine == PH_OK ? PH_ERR_IO : mine, 0, &nf, NULL);
  if (mine == PH_ERR_PEER) return 0;
  if (nf >= g_size) return g_rank == 0; /* the same failure everywhere */
  return g_rank == 0 ? 1 : 2;
}

ph_status ph_dist_allgather_indexed(void *items, size_t n, size_t item_bytes,
                                    ph_error *err) {
  PH_ASSERT(item_bytes % 8 == 0);
  if (g_size == 1) return PH_OK;
#if PH_HAVE_MPI
  unsigned char *p = items;
  for (size_t k = 0; k < n; k++)
    if (ph_dist_owner(k) != g_rank) memset(p + k * item_bytes, 0, item_bytes);
  size_t words = n * (item_bytes / 8), chunk = (size_t)1 << 28;
  for (size_t off = 0; off < words; off += chunk) {
    size_t w = words - off < chunk ? words - off : chunk;
    MPI_Request rq;
    double t = ph_dist_cpu_now();
    MPI_Iallreduce(MPI_IN_PLACE, (uint64_t *)items + off, (int)w, MPI_UINT64_T,
                   MPI_BOR, MPI_COMM_WORLD, &rq);
    g_comm += ph_dist_cpu_now() - t;
    wait_req(&rq, NULL);
  }
  return PH_OK;
#else
  (void)items;
  (void)n;
  (void)err;
  return PH_OK;
#endif
}

ph_status ph_dist_bcast(void *buf, size_t bytes, ph_error *err) {
  (void)err;
  if (g_size == 1) return PH_OK;
#if PH_HAVE_MPI
  size_t chunk = (size_t)1 << 30;
  for (size_t off = 0; off < bytes; off += chunk) {
    size_t b = bytes - off < chunk ? bytes - off : chunk;
    MPI_Request rq;
    double t = ph_dist_cpu_now();
    MPI_Ibcast((unsigned char *)buf + off, (int)b, MPI_BYTE, 0, MPI_COMM_WORLD,
               &rq);
    g_comm += ph_dist_cpu_now() - t;
    wait_req(&rq, NULL);
  }
#else
  (void)buf;
  (void)bytes;
#endif
  return PH_OK;
}

/* ---- streams ------------------------------------------------------------ */

/* Every message of a stream starts with this word, so that one tag carries
 * records and the final outcome in order (MPI keeps the order of messages
 * between two ranks on one tag). */
enum { MSG_RECORDS = 1, MSG_OUTCOME = 2 };

struct ph_dist_stream {
  size_t rec;
  int tag_data, tag_stop;
  double comm;
#if PH_HAVE_MPI
  MPI_Request *reqs; /* non-root: sends in flight */
  void **bufs;
  size_t n_req, cap_req;
#endif
  int stop_seen;        /* non-root: rank 0 asked to stop */
  int stop_sent;        /* root */
  int failure_seen;     /* root: some outcome was not success */
  int n_finished;       /* root */
  ph_dist_outcome *out; /* root: (size) */
  unsigned char *fin;   /* root: (size) */
};

static int g_stream_count = 0;

ph_status ph_dist_stream_create(size_t record_bytes, ph_dist_stream **out,
                                ph_error *err) {
  *out = NULL;
  ph_dist_stream *s = ph_calloc(1, sizeof *s, "dist stream", err);
  if (!s) return PH_ERR_NOMEM;
  s->rec = record_bytes;
  /* Streams are created in the same order on every rank, so the count
   * names the same stream everywhere; tags stay below MPI's 32767 floor. */
  int base = 16 + 2 * (g_stream_count++ % 8000);
  s->tag_data = base;
  s->tag_stop = base + 1;
  if (g_rank == 0) {
    s->out = ph_calloc((size_t)g_size, sizeof *s->out, "dist stream", err);
    s->fin = ph_calloc((size_t)g_size, 1, "dist stream", err);
    if (!s->out || !s->fin) {
      ph_free(s->out);
      ph_free(s->fin);
      ph_free(s);
      return PH_ERR_NOMEM;
    }
  }
  *out = s;
  return PH_OK;
}

ph_status ph_dist_stream_send(ph_dist_stream *s, const void *records, size_t n,
                              ph_error *err) {
  if (n == 0 || g_size == 1 || g_rank == 0) return PH_OK;
#if PH_HAVE_MPI
  size_t bytes = 8 + n * s->rec;
  if (bytes > (size_t)1 << 30)
    return ph_error_set(err, PH_ERR_NOMEM, "dist: %zu records in one message",
                        n);
  if (s->n_req == s->cap_req) {
    size_t cap = s->cap_req ? 2 * s->cap_req : 16;
    MPI_Request *r = realloc(s->reqs, cap * sizeof *r);
    if (r) s->reqs = r;
    void **b = realloc(s->bufs, cap * sizeof *b);
    if (b) s->bufs = b;
    if (!r || !b) return ph_error_set(err, PH_ERR_NOMEM, "out of memory");
    s->cap_req = cap;
  }
  unsigned char *buf = ph_malloc(bytes, 1, "dist message", err);
  if (!buf) return PH_ERR_NOMEM;
  uint64_t kind = MSG_RECORDS;
  memcpy(buf, &kind, 8);
  memcpy(buf + 8, records, n * s->rec);
  double t = ph_dist_cpu_now();
  MPI_Isend(buf, (int)bytes, MPI_BYTE, 0, s->tag_data, MPI_COMM_WORLD,
            &s->reqs[s->n_req]);
  double dt = ph_dist_cpu_now() - t;
  s->comm += dt;
  g_comm += dt;
  s->bufs[s->n_req++] = buf;
  return PH_OK;
#else
  (void)s;
  (void)records;
  (void)err;
  return PH_OK;
#endif
}

#if PH_HAVE_MPI
static void complete_sends(ph_dist_stream *s, int block) {
  size_t k = 0;
  for (size_t i = 0; i < s->n_req; i++) {
    int done = 0;
    if (block) {
      wait_req(&s->reqs[i], &s->comm);
      done = 1;
    } else {
      double t = ph_dist_cpu_now();
      MPI_Test(&s->reqs[i], &done, MPI_STATUS_IGNORE);
      double dt = ph_dist_cpu_now() - t;
      s->comm += dt;
      g_comm += dt;
    }
    if (done) {
      ph_free(s->bufs[i]);
    } else {
      s->reqs[k] = s->reqs[i];
      s->bufs[k++] = s->bufs[i];
    }
  }
  s->n_req = k;
}
#endif

ph_status ph_dist_stream_poll(ph_dist_stream *s, ph_dist_sink sink, void *ctx,
                              ph_error *err) {
  if (g_size == 1) return PH_OK;
#if PH_HAVE_MPI
  double t = ph_dist_cpu_now();
  if (g_rank != 0) {
    complete_sends(s, 0);
    int flag = 0;
    MPI_Iprobe(0, s->tag_stop, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    if (flag) {
      MPI_Recv(NULL, 0, MPI_BYTE, 0, s->tag_stop, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
      s->stop_seen = 1;
    }
  } else {
    for (;;) {
      int flag = 0;
      MPI_Status stt;
      MPI_Iprobe(MPI_ANY_SOURCE, s->tag_data, MPI_COMM_WORLD, &flag, &stt);
      if (!flag) break;
      int bytes = 0;
      MPI_Get_count(&stt, MPI_BYTE, &bytes);
      unsigned char *buf = ph_malloc((size_t)bytes, 1, "dist message", err);
      if (!buf) return PH_ERR_NOMEM;
      MPI_Recv(buf, bytes, MPI_BYTE, stt.MPI_SOURCE, s->tag_data,
               MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      uint64_t kind = 0;
      if (bytes >= 8) memcpy(&kind, buf, 8);
      if (kind == MSG_RECORDS && sink) {
        double t1 =
            ph_dist_cpu_now(); /* the sink's own work is not communication */
        sink(ctx, buf + 8, ((size_t)bytes - 8) / s->rec);
        t += ph_dist_cpu_now() - t1;
      } else if (kind == MSG_OUTCOME &&
                 (size_t)bytes == 8 + sizeof(ph_dist_outcome)) {
        ph_dist_outcome *o = &s->out[stt.MPI_SOURCE];
        memcpy(o, buf + 8, sizeof *o);
        o->rank = stt.MPI_SOURCE;
        o->msg[PH_ERROR_MSG_MAX - 1] = 0;
        if (!s->fin[stt.MPI_SOURCE]) s->n_finished++;
        s->fin[stt.MPI_SOURCE] = 1;
        if (o->status != PH_OK) s->failure_seen = 1;
      }
      ph_free(buf);
    }
  }
  double dt = ph_dist_cpu_now() - t;
  s->comm += dt;
  g_comm += dt;
#else
  (void)s;
  (void)sink;
  (void)ctx;
  (void)err;
#endif
  return PH_OK;
}

ph_status ph_dist_stream_stop(ph_dist_stream *s, ph_error *err) {
  (void)err;
  if (g_size == 1 || g_rank != 0 || s->stop_sent) return PH_OK;
#if PH_HAVE_MPI
  double t = ph_dist_cpu_now();
  /* Zero-byte messages go eagerly: MPI_Send returns at once. */
  for (int r = 1; r < g_size; r++)
    MPI_Send(NULL, 0, MPI_BYTE, r, s->tag_stop, MPI_COMM_WORLD);
  double dt = ph_dist_cpu_now() - t;
  s->comm += dt;
  g_comm += dt;
#endif
  s->stop_sent = 1;
  return PH_OK;
}

int ph_dist_stream_stopping(const ph_dist_stream *s) {
  return g_rank == 0 ? s->failure_seen : s->stop_seen;
}

ph_status ph_dist_stream_finish(ph_dist_stream *s, const ph_dist_outcome *mine,
                                ph_error *err) {
  if (g_rank == 0) {
    s->out[0] = *mine;
    s->out[0].rank = 0;
    if (!s->fin[0]) s->n_finished++;
    s->fin[0] = 1;
    if (mine->status != PH_OK) s->failure_seen = 1;
    return PH_OK;
  }
#if PH_HAVE_MPI
  ph_dist_outcome o = *mine;
  o.comm_seconds += s->comm;
  unsigned char buf[8 + sizeof o];
  uint64_t kind = MSG_OUTCOME;
  memcpy(buf, &kind, 8);
  memcpy(buf + 8, &o, sizeof o);
  double t = ph_dist_cpu_now();
  MPI_Request rq;
  MPI_Isend(buf, (int)sizeof buf, MPI_BYTE, 0, s->tag_data, MPI_COMM_WORLD,
            &rq);
  g_comm += ph_dist_cpu_now() - t;
  wait_req(&rq, NULL);
#else
  (void)err;
#endif
  return PH_OK;
}

int ph_dist_stream_all_finished(const ph_dist_stream *s) {
  return g_rank != 0 || s->n_finished == g_size;
}

ph_status ph_dist_stream_close(ph_dist_stream *s, ph_dist_sink sink, void *ctx,
                               ph_dist_outcome *total, ph_error *err) {
  ph_dist_outcome t;
  memset(&t, 0, sizeof t);
  if (g_rank == 0) {
#if PH_HAVE_MPI
    long ns = 20000;
    while (s->n_finished < g_size) {
      if (ph_dist_stream_poll(s, sink, ctx, err) != PH_OK)
        ph_dist_abort(1); /* cannot collect: the job cannot finish */
      if (s->n_finished < g_size) nap(&ns);
    }
#endif
    int fail = -1, intr = -1;
    for (int r = 0; r < g_size; r++) {
      const ph_dist_outcome *o = &s->out[r];
      t.computed += o->computed;
      t.work_seconds += o->work_seconds;
      t.comm_seconds += o->comm_seconds;
      if (o->status == PH_ERR_INTERRUPTED) {
        if (intr < 0) intr = r;
      } else if (o->status != PH_OK && o->status != PH_ERR_PEER && fail < 0) {
        fail = r;
      }
    }
    t.comm_seconds += g_rank == 0 ? s->comm : 0;
    int pick = fail >= 0 ? fail : intr;
    if (pick < 0) {
      for (int r = 0; r < g_size; r++) /* only peers' echoes: take one */
        if (s->out[r].status != PH_OK && pick < 0) pick = r;
    }
    if (pick >= 0) {
      t.status = s->out[pick].status;
      t.rank = pick;
      if (pick == 0 || t.status == PH_ERR_INTERRUPTED)
        snprintf(t.msg, sizeof t.msg, "%s", s->out[pick].msg);
      else {
        char head[24];
        int k = snprintf(head, sizeof head, "rank %d: ", pick);
        memcpy(t.msg, head, (size_t)k);
        memcpy(t.msg + k, s->out[pick].msg, sizeof t.msg - (size_t)k - 1);
        t.msg[sizeof t.msg - 1] = 0;
      }
    }
  }
#if PH_HAVE_MPI
  if (g_size > 1) {
    if (g_rank != 0) complete_sends(s, 1);
    int stop_sent = s->stop_sent;
    ph_dist_bcast(&stop_sent, sizeof stop_sent, NULL);
    if (g_rank != 0 && stop_sent && !s->stop_seen) /* consume it */
      MPI_Recv(NULL, 0, MPI_BYTE, 0, s->tag_stop, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
    ph_dist_bcast(&t, sizeof t, NULL);
  }
#endif
  ph_dist_stream_free(s);
  if (total) *total = t;
  if (t.status != PH_OK) {
    if (err) {
      err->code = t.status;
      snprintf(err->msg, sizeof err->msg, "%s", t.msg);
    }
    return t.status;
  }
  return PH_OK;
}

void ph_dist_stream_free(ph_dist_stream *s) {
  if (!s) return;
#if PH_HAVE_MPI
  ph_free(s->reqs);
  ph_free(s->bufs);
#endif
  ph_free(s->out);
  ph_free(s->fin);
  ph_free(s);
}
