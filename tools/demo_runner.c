/* demo_runner.c: staged child-process runner for `pothole demo` (see
 * demo_runner.h). */
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
#include "core/progress.h"

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

static void draw(ph_demo *d, size_t stage_no, size_t n_stages,
                 const char *stage, double t0, double done_expect,
                 double total_expect, double done_actual) {
  if (!d->show_progress) return;
  double el = ph_now() - t0;
  /* Scale the remaining expected time by how fast we have been so far. */
  double speed =
      done_expect > 0 && done_actual > 0 ? done_actual / done_expect : 1;
  double left = (total_expect - done_expect) * speed;
  char a[16], b[16];
  ph_format_duration(a, sizeof a, el);
  ph_format_duration(b, sizeof b, left);
  fprintf(stderr, "\r\033[K[%zu/%zu] %-28s elapsed %s, about %s left", stage_no,
          n_stages, stage, a, b);
  fflush(stderr);
}

int ph_demo_run(ph_demo *d) {
  ph_error err = {0};
  if (ph_mkdir_p(d->log_dir, &err) != PH_OK) {
    fprintf(stderr, "pothole %s: %s\n", d->label, err.msg);
    return 1;
  }
  size_t n_stages = 0;
  for (size_t i = 0; i < d->n_jobs; i++)
    if (i == 0 || strcmp(d->jobs[i].stage, d->jobs[i - 1].stage) != 0)
      n_stages++;
  double total_expect = 0, done_expect = 0, done_actual = 0;
  for (size_t i = 0; i < d->n_jobs; i++) total_expect += d->jobs[i].expect_s;
  double t0 = ph_now();
  size_t stage_no = 0;
  for (size_t s = 0; s < d->n_jobs;) {
    size_t e = s;
    while (e < d->n_jobs && strcmp(d->jobs[e].stage, d->jobs[s].stage) == 0)
      e++;
    stage_no++;
    if (!d->show_progress && !d->only) {
      /* Without a terminal: one line per stage with the same estimate. */
      double speed =
          done_expect > 0 && done_actual > 0 ? done_actual / done_expect : 1;
      char a[16], b[16];
      ph_format_duration(a, sizeof a, ph_now() - t0);
      ph_format_duration(b, sizeof b, (total_expect - done_expect) * speed);
      fprintf(stderr, "pothole %s: [%zu/%zu] %s (elapsed %s, about %s left)\n",
              d->label, stage_no, n_stages, d->jobs[s].stage, a, b);
    }
    /* Run jobs s..e with at most max_parallel children at once. */
    pid_t pids[64];
    double starts[64];
    size_t running_idx[64];
    int n_running = 0;
    size_t next = s;
    int failed = 0;
    while ((next < e && !failed) || n_running > 0) {
      while (next < e && n_running < d->max_parallel && !failed) {
        ph_demo_job *j = &d->jobs[next];
        if ((d->only && next != d->only - 1) ||
            (j->output && ph_path_exists(j->output))) {
          j->skipped = 1;
          done_expect += j->expect_s;
          next++;
          continue;
        }
        pid_t pid = spawn(d, j);
        if (pid < 0) {
          fprintf(stderr, "pothole %s: cannot start %s: %s\n", d->label,
                  j->name, strerror(errno));
          return 1;
        }
        pids[n_running] = pid;
        starts[n_running] = ph_now();
        running_idx[n_running] = next;
        n_running++;
        next++;
      }
      if (n_running == 0) break;
      draw(d, stage_no, n_stages, d->jobs[s].stage, t0, done_expect,
           total_expect, done_actual);
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
        ph_demo_job *j = &d->jobs[running_idx[k]];
        j->took_s = ph_now() - starts[k];
        done_expect += j->expect_s;
        done_actual += j->took_s;
        int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok) {
          char line[1024];
          last_error_line(d, j, line, sizeof line);
          if (d->show_progress) fprintf(stderr, "\n");
          char *cmd = ph_demo_command_line(j);
          fprintf(
              stderr, "pothole %s: %s %s: %s (command: %s; log %s/%s.err)\n",
              d->label, j->optional ? "optional job" : "job", j->name,
              line[0] ? line : "failed", cmd ? cmd : "?", d->log_dir, j->name);
          free(cmd);
          j->failed = 1;
          if (!j->optional) failed = 1;
        }
        pids[k] = pids[n_running - 1];
        starts[k] = starts[n_running - 1];
        running_idx[k] = running_idx[n_running - 1];
        n_running--;
        break;
      }
    }
    if (failed) return 1;
    s = e;
  }
  draw(d, n_stages, n_stages, "done", t0, total_expect, total_expect,
       done_actual);
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
