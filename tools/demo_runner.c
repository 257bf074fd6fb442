/* demo_runner.c: staged child-process runner for `pothole demo` and
 * `pothole study` (see demo_runner.h). With `distribute` set in an MPI job
 * each stage is split over the ranks: the jobs still to do, in index order,
 * go round robin (position p to rank p mod R); the others report each
 * finished job to rank 0 (core/dist.h streams), which keeps the progress
 * and time left of the whole job and prints every failure; the end of a
 * stage is a barrier, so a stage never starts before the last one ended. */
#define _GNU_SOURCE
#include "demo_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/afile.h"
#include "core/dist.h"
#include "core/progress.h"
#include "cli.h"

int ph_demo_init(ph_demo *d, const char *out_dir, int max_parallel) {
  memset(d, 0, sizeof *d);
  d->out_dir = strdup(out_dir);
  if (asprintf(&d->log_dir, "%s/logs", out_dir) < 0) d->log_dir = NULL;
  d->max_parallel = max_parallel < 1 ? 1 : max_parallel;
  d->label = "demo";
  d->show_progress = isatty(STDERR_FILENO);
  return d->out_dir && d->log_dir ? 0 : -1;
}

const char *ph_demo_str(ph_demo *d, const char *fmt, ...) {
  if (d->n_strs == d->cap_strs) {
    size_t cap = d->cap_strs ? 2 * d->cap_strs : 64;
    char **ns = realloc(d->strs, cap * sizeof *ns);
    if (!ns) return NULL;
    d->strs = ns;
    d->cap_strs = cap;
  }
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  if (s) d->strs[d->n_strs++] = s;
  return s;
}

ph_demo_job *ph_demo_addv(ph_demo *d, const char *stage, const char *name,
                          const char *output, double expect_s, int argc,
                          const char *const *argv) {
  if (d->n_jobs == d->cap) {
    size_t cap = d->cap ? 2 * d->cap : 32;
    ph_demo_job *nj = realloc(d->jobs, cap * sizeof *nj);
    if (!nj) return NULL;
    d->jobs = nj;
    d->cap = cap;
  }
  ph_demo_job *j = &d->jobs[d->n_jobs++];
  memset(j, 0, sizeof *j);
  j->stage = stage;
  j->name = strdup(name);
  j->output = output ? strdup(output) : NULL;
  j->expect_s = expect_s;
  for (int i = 0; i < argc && j->argc < PH_DEMO_MAX_ARGS; i++)
    j->argv[j->argc++] = strdup(argv[i]);
  j->argv[j->argc] = NULL;
  return j;
}

ph_demo_job *ph_demo_add(ph_demo *d, const char *stage, const char *name,
                         const char *output, double expect_s, ...) {
  const char *argv[PH_DEMO_MAX_ARGS];
  int argc = 0;
  va_list ap;
  va_start(ap, expect_s);
  const char *tok;
  while ((tok = va_arg(ap, const char *)) != NULL)
    if (argc < PH_DEMO_MAX_ARGS) argv[argc++] = tok;
  va_end(ap);
  return ph_demo_addv(d, stage, name, output, expect_s, argc, argv);
}

static int needs_quotes(const char *s) {
  if (!*s) return 1;
  for (const char *p = s; *p; p++)
    if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
          ('0' <= *p && *p <= '9') || strchr("-_./:,=+@%", *p)))
      return 1;
  return 0;
}

char *ph_demo_command_line(const ph_demo_job *j) {
  size_t cap = 16;
  for (int i = 0; i < j->argc; i++) cap += 3 + 2 * strlen(j->argv[i]);
  char *s = malloc(cap), *p = s;
  if (!s) return NULL;
  p += sprintf(p, "pothole");
  for (int i = 0; i < j->argc; i++) {
    *p++ = ' ';
    if (needs_quotes(j->argv[i])) {
      *p++ = '\'';
      for (const char *q = j->argv[i]; *q; q++) {
        if (*q == '\'') {
          memcpy(p, "'\\''", 4);
          p += 4;
        } else
          *p++ = *q;
      }
      *p++ = '\'';
    } else {
      p += sprintf(p, "%s", j->argv[i]);
    }
  }
  *p = '\0';
  return s;
}

static pid_t spawn(ph_demo *d, ph_demo_job *j) {
  char out_log[4096], err_log[4096];
  snprintf(out_log, sizeof out_log, "%s/%s.out", d->log_dir, j->name);
  snprintf(err_log, sizeof err_log, "%s/%s.err", d->log_dir, j->name);
  fflush(NULL);
  pid_t pid = fork();
  if (pid != 0) return pid;
  /* A killed runner takes its children with it, so a resumed run never
   * races a leftover child writing the same files. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  /* Never follow a symlink planted at a log name. */
  int fo = open(out_log, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
  int fe = open(err_log, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
  if (fo < 0 || fe < 0) _exit(126);
  dup2(fo, STDOUT_FILENO);
  dup2(fe, STDERR_FILENO);
  close(fo);
  close(fe);
  char *argv[PH_DEMO_MAX_ARGS + 2];
  argv[0] = "pothole";
  for (int i = 0; i <= j->argc; i++) argv[i + 1] = j->argv[i];
  execv("/proc/self/exe", argv);
  _exit(127);
}

/* The last non-empty line of a job's error log, for the failure message. */
static void last_error_line(ph_demo *d, ph_demo_job *j, char *buf, size_t len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.err", d->log_dir, j->name);
  buf[0] = '\0';
  FILE *fp = fopen(path, "r");
  if (!fp) return;
  char line[1024];
  while (fgets(line, sizeof line, fp)) {
    line[strcspn(line, "\r\n")] = '\0';
    char *l = strrchr(line, '\r');
    if (l) memmove(line, l + 1, strlen(l));
    if (line[0]) snprintf(buf, len, "%s", line);
  }
  fclose(fp);
}

#define PH_DEMO_MAX_RANKS_SHOWN 64

/* The progress of one ph_demo_run: on rank 0 it covers the jobs of every
 * rank. */
typedef struct run_state {
  ph_demo *d;
  size_t stage_no, n_stages;
  const char *stage;
  double t0, done_expect, total_expect, done_actual;
  int ranks;                           /* ranks sharing the jobs (1 alone) */
  size_t ran[PH_DEMO_MAX_RANKS_SHOWN]; /* rank 0: jobs run per rank */
  int fatal;      /* a non-optional job failed (rank 0: on any rank) */
  ph_status recv; /* rank 0: a record that named no job of this stage */
} run_state;

/* A finished job's record, sent by the rank that ran it to rank 0. */
typedef struct job_rec {
  uint64_t job, failed, rank;
  double took_s;
} job_rec;

static void draw(const run_state *r) {
  if (!r->d->show_progress) return;
  double el = ph_now() - r->t0;
  /* Scale the remaining expected time by how fast we have been so far;
   * the ranks work through it side by side. */
  double speed = r->done_expect > 0 && r->done_actual > 0
                     ? r->done_actual / r->done_expect
                     : 1;
  double left = (r->total_expect - r->done_expect) * speed / r->ranks;
  char a[16], b[16];
  ph_format_duration(a, sizeof a, el);
  ph_format_duration(b, sizeof b, left);
  fprintf(stderr, "\r\033[K[%zu/%zu] %-28s elapsed %s, about %s left",
          r->stage_no, r->n_stages, r->stage, a, b);
  fflush(stderr);
}

/* Job i finished (here or, on rank 0, on another rank): count it; a
 * failure is printed by rank 0 alone, from the job's log (DIR is shared). */
static void job_done(run_state *r, size_t i, double took_s, int ok,
                     uint64_t rank) {
  ph_demo *d = r->d;
  ph_demo_job *j = &d->jobs[i];
  if (rank < PH_DEMO_MAX_RANKS_SHOWN) r->ran[rank]++;
  j->took_s = took_s;
  r->done_expect += j->expect_s;
  r->done_actual += took_s;
  if (ok) return;
  j->failed = 1;
  if (!j->optional) r->fatal = 1;
  if (ph_dist_rank() != 0) return;
  char line[1024];
  last_error_line(d, j, line, sizeof line);
  if (d->show_progress) fprintf(stderr, "\n");
  char *cmd = ph_demo_command_line(j);
  fprintf(stderr, "pothole %s: %s %s: %s (command: %s; log %s/%s.err)\n",
          d->label, j->optional ? "optional job" : "job", j->name,
          line[0] ? line : "failed", cmd ? cmd : "?", d->log_dir, j->name);
  free(cmd);
}

/* Rank 0's sink: jobs the other ranks finished. */
static void remote_done(void *ctx, const void *records, size_t n) {
  run_state *r = ctx;
  const job_rec *rec = records;
  for (size_t k = 0; k < n; k++) {
    if (rec[k].job >= r->d->n_jobs) {
      r->recv = PH_ERR_IO;
      continue;
    }
    job_done(r, (size_t)rec[k].job, rec[k].took_s, !rec[k].failed, rec[k].rank);
  }
  draw(r);
}

/* A stage's job names and which of them are still to do: the ranks must
 * agree on both before they split the stage. */
static uint64_t stage_key(const ph_demo *d, size_t s, size_t e,
                          const unsigned char *todo) {
  uint64_t h = PH_DIST_KEY0;
  for (size_t i = s; i < e; i++)
    h = ph_dist_key(
        ph_dist_key(h, d->jobs[i].name, strlen(d->jobs[i].name) + 1),
        &todo[i - s], 1);
  return h;
}

/* This process's job of stage s..e still to start (marked in pending) with
 * the longest expected time, the earliest of equals; e when none is left.
 * Longest first (Graham's LPT list scheduling, within 4/3 of the optimal
 * makespan) keeps a long job from starting last and running alone while
 * the other cores idle at the stage's end. The jobs of a stage are
 * independent, so the order changes no result. */
static size_t longest_pending(const ph_demo *d, size_t s, size_t e,
                              const unsigned char *pending) {
  size_t best = e;
  for (size_t i = s; i < e; i++)
    if (pending[i - s] &&
        (best == e || d->jobs[i].expect_s > d->jobs[best].expect_s))
      best = i;
  return best;
}

/* Runs this process's jobs of stage s..e (those marked in mine, which it
 * clears as they start), longest expected first, at most max_parallel at
 * once; in an MPI job, polls the other ranks' records
 * meanwhile and sends its own to rank 0. A failure sets r->fatal. */
static void run_stage(ph_demo *d, run_state *r, size_t s, size_t e,
                      unsigned char *mine, ph_dist_stream *ds, int rank) {
  ph_error err = {0};
  pid_t pids[64];
  double starts[64];
  size_t running_idx[64];
  int n_running = 0;
  r->fatal = 0;
  for (;;) {
    if (ds && ph_dist_stream_poll(ds, remote_done, r, &err) != PH_OK)
      r->fatal = 1;
    if (ds && ph_dist_stream_stopping(ds)) r->fatal = 1;
    while (n_running < d->max_parallel && !r->fatal) {
      size_t next = longest_pending(d, s, e, mine);
      if (next == e) break;
      ph_demo_job *j = &d->jobs[next];
      mine[next - s] = 0; /* started */
      pid_t pid = spawn(d, j);
      if (pid < 0) {
        fprintf(stderr, "pothole %s: cannot start %s: %s\n", d->label, j->name,
                strerror(errno));
        r->fatal = 1;
        break;
      }
      pids[n_running] = pid;
      starts[n_running] = ph_now();
      running_idx[n_running] = next;
      n_running++;
    }
    if (n_running == 0) break;
    draw(r);
    int status;
    pid_t w = waitpid(-1, &status, WNOHANG);
    if (w == 0) {
      usleep(200000);
      continue;
    }
    if (w < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < n_running; k++) {
      if (pids[k] != w) continue;
      size_t i = running_idx[k];
      double took = ph_now() - starts[k];
      int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      job_done(r, i, took, ok, (uint64_t)rank);
      if (ds && rank != 0) {
        job_rec rec = {
            .job = i, .failed = !ok, .rank = (uint64_t)rank, .took_s = took};
        if (ph_dist_stream_send(ds, &rec, 1, &err) != PH_OK) r->fatal = 1;
      }
      pids[k] = pids[n_running - 1];
      starts[k] = starts[n_running - 1];
      running_idx[k] = running_idx[n_running - 1];
      n_running--;
      break;
    }
  }
}

/* Rank 0's closing line of an MPI job: who ran what, so the split is
 * visible and a rank that ran nothing stands out. */
static void print_rank_split(const ph_demo *d, const run_state *r) {
  size_t total = 0;
  for (int q = 0; q < r->ranks; q++) total += r->ran[q];
  if (d->show_progress) fprintf(stderr, "\n");
  fprintf(stderr, "pothole %s: %zu jobs on %d ranks (", d->label, total,
          r->ranks);
  for (int q = 0; q < r->ranks; q++)
    fprintf(stderr, "%s%zu", q ? ", " : "", r->ran[q]);
  fprintf(stderr, ")\n");
}

int ph_demo_run(ph_demo *d) {
  ph_error err = {0};
  int dist = d->distribute && !d->only && ph_dist_size() > 1;
  int rank = ph_dist_rank();
  if (dist && rank != 0) d->show_progress = 0; /* rank 0 shows the job's */
  ph_status st = ph_mkdir_p(d->log_dir, &err);
  /* Every rank reaches this agreement, so one that cannot write the logs
   * ends the job instead of leaving the others waiting. */
  if (dist) st = ph_dist_agree(st, 0, NULL, &err);
  if (st != PH_OK) {
    ph_cli_fail(d->label, st, &err);
    return 1;
  }
  size_t n_stages = 0;
  for (size_t i = 0; i < d->n_jobs; i++)
    if (i == 0 || strcmp(d->jobs[i].stage, d->jobs[i - 1].stage) != 0)
      n_stages++;
  run_state r = {
      .d = d, .n_stages = n_stages, .ranks = dist ? ph_dist_size() : 1};
  for (size_t i = 0; i < d->n_jobs; i++) r.total_expect += d->jobs[i].expect_s;
  r.t0 = ph_now();
  unsigned char *mine = NULL;
  for (size_t s = 0; s < d->n_jobs;) {
    size_t e = s;
    while (e < d->n_jobs && strcmp(d->jobs[e].stage, d->jobs[s].stage) == 0)
      e++;
    r.stage_no++;
    r.stage = d->jobs[s].stage;
    /* Which jobs of the stage this process runs: all of them alone; in a
     * job, the ones still to do, dealt by position. Done ones are skipped
     * (and counted) everywhere. */
    unsigned char *nm = realloc(mine, 2 * (e - s));
    if (!nm) {
      fprintf(stderr, "pothole %s: out of memory\n", d->label);
      ph_dist_abort(1); /* cannot take part in the stage */
    }
    mine = nm;
    size_t pos = 0;
    for (size_t i = s; i < e; i++) {
      ph_demo_job *j = &d->jobs[i];
      int todo = !(d->only && i != d->only - 1) &&
                 !(j->output && ph_path_exists(j->output));
      mine[e - s + i - s] = (unsigned char)todo; /* for the agreement */
      mine[i - s] = (unsigned char)todo;
      if (todo && dist) mine[i - s] = ph_dist_owner(pos++) == rank;
      if (!todo) {
        j->skipped = 1;
        r.done_expect += j->expect_s;
      }
    }
    ph_dist_stream *ds = NULL;
    if (dist) {
      st = ph_dist_stream_create(sizeof(job_rec), &ds, &err);
      st = ph_dist_agree(st, stage_key(d, s, e, mine + (e - s)), NULL, &err);
      if (st != PH_OK) {
        ph_dist_stream_free(ds);
        free(mine);
        ph_cli_fail(d->label, st, &err);
        return 1;
      }
    }
    if (!d->show_progress && !d->only && rank == 0) {
      /* Without a terminal: one line per stage with the same estimate. */
      double speed = r.done_expect > 0 && r.done_actual > 0
                         ? r.done_actual / r.done_expect
                         : 1;
      char a[16], b[16];
      ph_format_duration(a, sizeof a, ph_now() - r.t0);
      ph_format_duration(b, sizeof b,
                         (r.total_expect - r.done_expect) * speed / r.ranks);
      fprintf(stderr, "pothole %s: [%zu/%zu] %s (elapsed %s, about %s left)\n",
              d->label, r.stage_no, n_stages, r.stage, a, b);
    }
    /* Run this process's jobs of s..e, at most max_parallel at once. */
    run_stage(d, &r, s, e, mine, ds, rank);
    if (ds) {
      /* The barrier: every rank's outcome; rank 0 collects the last
       * records meanwhile. A failure anywhere ends the run everywhere (rank
       * 0 has printed the job's line). */
      ph_dist_outcome out;
      memset(&out, 0, sizeof out);
      out.status = r.fatal ? PH_ERR_IO : PH_OK;
      if (r.fatal) {
        snprintf(out.msg, sizeof out.msg, "a job of stage '%s' failed",
                 r.stage);
        ph_dist_stream_stop(ds, NULL);
      }
      ph_dist_stream_finish(ds, &out, NULL);
      st = ph_dist_stream_close(ds, remote_done, &r, NULL, &err);
      ds = NULL;
      if (st == PH_OK && r.recv != PH_OK) {
        fprintf(stderr, "pothole %s: a rank reported a job of no stage\n",
                d->label);
        st = r.recv;
      }
      if (st != PH_OK) {
        free(mine);
        return 1;
      }
    } else if (r.fatal) {
      free(mine);
      return 1;
    }
    s = e;
  }
  free(mine);
  if (dist && rank == 0 && r.ranks <= PH_DEMO_MAX_RANKS_SHOWN)
    print_rank_split(d, &r);
  r.stage_no = n_stages;
  r.stage = "done";
  r.done_expect = r.total_expect;
  draw(&r);
  if (d->show_progress) fprintf(stderr, "\n");
  return 0;
}

void ph_demo_free(ph_demo *d) {
  for (size_t i = 0; i < d->n_jobs; i++) {
    for (int k = 0; k < d->jobs[i].argc; k++) free(d->jobs[i].argv[k]);
    free(d->jobs[i].name);
    free(d->jobs[i].output);
  }
  for (size_t i = 0; i < d->n_strs; i++) free(d->strs[i]);
  free(d->strs);
  free(d->jobs);
  free(d->out_dir);
  free(d->log_dir);
  memset(d, 0, sizeof *d);
}
