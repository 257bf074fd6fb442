/* demo_runner.h: run a list of `pothole` subcommands as child processes, in
 * stages, with a progress display, resume and a record of every command.
 *
 * `pothole demo` is a script of ordinary pothole commands: running them as
 * children of /proc/self/exe means every number in the demo's summary comes
 * with the exact command that reproduces it, a failing stage cannot corrupt
 * the others, and two independent jobs can use the two cores at once.
 * A job whose declared output already exists is skipped, so a killed demo
 * resumes where it stopped (every command writes its outputs atomically).
 */
#ifndef PH_TOOLS_DEMO_RUNNER_H
#define PH_TOOLS_DEMO_RUNNER_H

#include <stddef.h>

#define PH_DEMO_MAX_ARGS 48

typedef struct ph_demo_job {
  const char *stage;                /* stage title, e.g. "train" */
  char *name;                       /* unique, used for log file names */
  char *argv[PH_DEMO_MAX_ARGS + 1]; /* argv[0] = subcommand, NULL-terminated */
  int argc;
  char *output;    /* file whose existence means "done" */
  double expect_s; /* expected seconds on 2 cores (for time left) */
  double took_s;   /* measured; 0 if skipped */
  int skipped;     /* output existed already */
  int optional;    /* a failure is reported but does not stop the demo */
  int failed;
} ph_demo_job;

typedef struct ph_demo {
  char *out_dir;
  char *log_dir;
  ph_demo_job *jobs;
  size_t n_jobs, cap;
  int max_parallel;
  int show_progress;
  const char *label; /* "demo" in messages ("pothole demo: ...") */
  size_t only;       /* i + 1: ph_demo_run runs job i alone (0 = all) */
  int distribute;    /* in an MPI job, split each stage over the ranks
                        (demo_runner.c); else every rank runs every job */
  char **strs;       /* strings made by ph_demo_str */
  size_t n_strs, cap_strs;
} ph_demo;

int ph_demo_init(ph_demo *d, const char *out_dir, int max_parallel);
/* Add a job; the variadic list is argv tokens ending with NULL. Tokens are
 * copied. Returns the job (for setting optional etc.) or NULL on OOM. */
ph_demo_job *ph_demo_add(ph_demo *d, const char *stage, const char *name,
                         const char *output, double expect_s, ...);
/* The same with the argv tokens in an array of argc strings. */
ph_demo_job *ph_demo_addv(ph_demo *d, const char *stage, const char *name,
                          const char *output, double expect_s, int argc,
                          const char *const *argv);
/* Run all jobs in order; jobs of one stage may run in parallel. Returns 0 on
 * success, else 1 after printing one line naming the failed job and the last
 * line of its error log. */
int ph_demo_run(ph_demo *d);
/* "pothole train --model ..." with shell quoting where needed. */
char *ph_demo_command_line(const ph_demo_job *j);
void ph_demo_free(ph_demo *d);

/* asprintf into a string owned by the demo (freed by ph_demo_free). */
const char *ph_demo_str(ph_demo *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
