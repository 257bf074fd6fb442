/* cli.h: shared pieces of the `pothole` command line.
 *
 * Conventions every subcommand keeps:
 *  - getopt_long; `--help` lists every option with its default; results on
 *    stdout (JSON where machine-readable), diagnostics on stderr;
 *  - exit 0 success, 1 runtime failure, 2 usage error, each failure one line
 *    "pothole CMD: what went wrong (where)";
 *  - all inputs are validated before the first output is written; outputs are
 *    written atomically (core/afile.h), and a command that fails after writing
 *    some files removes them (ph_outset), so no partial output is left.
 */
#ifndef PH_TOOLS_CLI_H
#define PH_TOOLS_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct ph_cmd {
  const char *name;
  int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
  const char *summary;
} ph_cmd;

/* Print "pothole CMD: <err->msg>" and return the exit code for s. */
int ph_cli_fail(const char *cmd, ph_status s, const ph_error *err);
/* Print a usage error and a hint to --help; returns 2. */
int ph_cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Option parsers: 0 on success, else print a usage error and return 2.
 * Ranges are inclusive; use -INFINITY/INFINITY or 0/SIZE_MAX for "none". */
int ph_cli_double(const char *cmd, const char *opt, const char *arg, double lo,
                  double hi, double *out);
int ph_cli_size(const char *cmd, const char *opt, const char *arg, size_t lo,
                size_t hi, size_t *out);
int ph_cli_u64(const char *cmd, const char *opt, const char *arg,
               uint64_t *out);
/* "a,b,c" -> up to max doubles. */
int ph_cli_doubles(const char *cmd, const char *opt, const char *arg,
                   double *out, size_t max, size_t *n);
/* "lo:hi" with lo < hi. */
int ph_cli_range(const char *cmd, const char *opt, const char *arg, double *lo,
                 double *hi);
/* "51x51" or "51" (1-D). ny = 1 for 1-D. */
int ph_cli_grid(const char *cmd, const char *opt, const char *arg, size_t *nx,
                size_t *ny);
/* One of the words in a NULL-terminated list; *out = its index. */
int ph_cli_choice(const char *cmd, const char *opt, const char *arg,
                  const char *const *choices, int *out);

/* Threads for BLAS in this process (1 = deterministic single thread). */
void ph_cli_set_blas_threads(int n);

/* Files a command has written, so a failure can take them back. */
typedef struct ph_outset {
  char **paths;
  size_t n, cap;
} ph_outset;
/* Record path (copied); returns path for chaining, NULL on OOM. */
const char *ph_outset_add(ph_outset *o, const char *path);
/* Remove every recorded file (after a failure). */
void ph_outset_rollback(ph_outset *o);
void ph_outset_free(ph_outset *o);

#endif
