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
#include <stdio.h>

#include "core/error.h"

typedef struct ph_cmd {
  const char *name;
  int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
  const char *summary;
  const char *const *subs; /* NULL-terminated subcommands ("info"), or NULL */
} ph_cmd;

/* The dispatcher's table (tools/pothole.c), for pothole(1) and completion. */
extern const ph_cmd ph_commands[];
extern const size_t ph_n_commands;

/* Print "pothole CMD: <err->msg>" and return the exit code for s. */
int ph_cli_fail(const char *cmd, ph_status s, const ph_error *err);
/* Print a usage error and a hint to --help; returns 2. */
int ph_cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- The option table ------------------------------------------------------
 * Every subcommand describes its options as one array of rows, terminated by
 * a row with name == NULL. ph_cli_parse builds the getopt_long table from it,
 * parses strictly (decimal numbers only, range-checked, every problem one line
 * and exit 2), and prints --help from it, with each default read from the
 * destination *before* parsing, so help cannot drift from the code. The same
 * table prints the man page (--help-man) and the completion words
 * (--help-options).
 *
 *   static double lr = 0.05; size_t steps = 0; const char *out = NULL;
 *   const ph_opt opts[] = {
 *       {"lr", "LR", PH_OPT_DOUBLE, &lr, .lo = 0, .hi = 1e6,
 *        .help = "learning rate"},
 *       {"steps", "N", PH_OPT_SIZE, &steps, .lo = 1, .hi = 1e8,
 *        .help = "outer steps", .flags = PH_OPT_REQUIRED},
 *       PH_OPT_OUT_DIR(&out),
 *       {0}};
 *   const ph_cli_spec spec = {"train", "--model SPEC ... --out DIR",
 *                             "Train a model.", opts};
 *   int rc = ph_cli_parse(&spec, argc, argv, NULL);
 *   if (rc >= 0) return rc;   // help printed (0) or usage error (2)
 */
typedef enum ph_opt_type {
  PH_OPT_STRING, /* const char **dest; the argument as given           */
  PH_OPT_SIZE,   /* size_t *dest; decimal digits only, lo..hi          */
  PH_OPT_U64,    /* uint64_t *dest; decimal digits only (seeds)        */
  PH_OPT_DOUBLE, /* double *dest; finite decimal number, lo..hi        */
  PH_OPT_LIST,   /* ph_cli_list *dest; "a,b,c", each in lo..hi         */
  PH_OPT_CHOICE, /* int *dest; index of the argument in .choices       */
  PH_OPT_RANGE,  /* ph_cli_range *dest; "LO:HI" with LO < HI           */
  PH_OPT_GRID,   /* ph_cli_grid *dest; "NX" or "NXxNY", 1..100000      */
  PH_OPT_FLAG,   /* int *dest; set to 1, takes no value                */
} ph_opt_type;

enum {
  PH_OPT_REQUIRED = 1u << 0,   /* usage error when absent                  */
  PH_OPT_NO_DEFAULT = 1u << 1, /* help text states the default itself      */
  PH_OPT_RESUMABLE = 1u << 2,  /* may differ on --resume (listed in help)  */
  PH_OPT_HIDDEN = 1u << 3,     /* parsed, not listed (internal/test hooks) */
};

#define PH_CLI_LIST_MAX 64
typedef struct ph_cli_list {
  double v[PH_CLI_LIST_MAX];
  size_t n;
} ph_cli_list;
typedef struct ph_cli_range {
  double lo, hi;
} ph_cli_range;
typedef struct ph_cli_grid {
  size_t nx, ny; /* ny = 1 for a 1-D grid */
} ph_cli_grid;

typedef struct ph_opt {
  const char *name;    /* long name without "--"; NULL ends the table   */
  const char *metavar; /* "N", "SPEC", ...; NULL for flags              */
  ph_opt_type type;
  void *dest;
  double lo, hi;              /* inclusive bounds (SIZE, DOUBLE, LIST)   */
  const char *const *choices; /* NULL-terminated (CHOICE)                */
  const char *help;           /* may contain '\n' for more lines         */
  unsigned flags;             /* PH_OPT_* above                          */
  int *seen;                  /* optional: set to 1 when given           */
} ph_opt;

typedef struct ph_cli_spec {
  const char *cmd;   /* "train", "data info", "plot contour"            */
  const char *usage; /* synopsis after "pothole CMD "                   */
  const char *about; /* what the command does and writes (paragraphs)   */
  const ph_opt *opts;
  size_t min_args, max_args; /* positional arguments after the options */
} ph_cli_spec;

/* Parse argv (argv[0] = the command name). Returns -1 to go on, 0 after
 * printing --help / --help-man / --help-options, 2 after a usage error
 * (already printed). With args != NULL, args and nargs receive the positional
 * arguments (getopt permutes them to the end of argv); without it, any
 * positional argument is a usage error. */
int ph_cli_parse(const ph_cli_spec *spec, int argc, char **argv, char ***args,
                 size_t *nargs);
/* For a command whose second word is missing or unknown (`pothole data
 * --help`): when argv holds --help, -h, --help-man or --help-options, print
 * it for spec and return 0; else return -1. */
int ph_cli_help_only(const ph_cli_spec *spec, int argc, char **argv);
/* The parsed configuration as text, one "--name value" line per option not
 * marked PH_OPT_RESUMABLE ("-" for an unset value), in table order: stored
 * in checkpoints so that a resume can be refused when it differs. Returns
 * the length needed (like snprintf). */
size_t ph_cli_config_text(const ph_opt *opts, char *buf, size_t size);
/* Print --help text for spec to fp (also used by ph_cli_parse). */
void ph_cli_print_help(const ph_cli_spec *spec, FILE *fp);
/* The value of --NAME in argv, before parsing (e.g. --opt, whose value sets
 * other defaults); NULL when absent. */
const char *ph_cli_peek(int argc, char **argv, const char *name);

/* Shared rows: the same name, metavar, range and help in every command. */
#define PH_CLI_MAX_THREADS 256
#define PH_OPT_SEED(d)                                                         \
  { "seed", "S", PH_OPT_U64, (d), .help = "seed of every random choice" }
#define PH_OPT_THREADS(d)                                                      \
  {                                                                            \
    "threads", "T", PH_OPT_SIZE, (d),                                          \
        .lo = 0, .hi = PH_CLI_MAX_THREADS,                                     \
        .help = "worker threads, 0 = all cores; results do not depend on it"   \
  }
#define PH_OPT_OUT_DIR(d)                                                      \
  {                                                                            \
    "out", "DIR", PH_OPT_STRING, (d), .help = "output directory",              \
                                      .flags = PH_OPT_REQUIRED                 \
  }
#define PH_OPT_OUT_FILE(d)                                                     \
  {                                                                            \
    "out", "FILE", PH_OPT_STRING, (d), .help = "output file",                  \
                                       .flags = PH_OPT_REQUIRED                \
  }
#define PH_OPT_CKPT(d)                                                         \
  { "ckpt", "FILE", PH_OPT_STRING, (d), .help = "checkpoint (.ckpt)" }
#define PH_OPT_CKPT_REQUIRED(d)                                                \
  {                                                                            \
    "ckpt", "FILE", PH_OPT_STRING, (d), .help = "checkpoint (.ckpt)",          \
                                        .flags = PH_OPT_REQUIRED               \
  }
#define PH_OPT_DATA(d)                                                         \
  {                                                                            \
    "data", "SPEC", PH_OPT_STRING, (d),                                        \
        .help = "data spec (default: the one in the checkpoint)"               \
  }
#define PH_OPT_N(d)                                                            \
  {                                                                            \
    "n", "N", PH_OPT_SIZE, (d), .lo = 1, .hi = 1e9,                            \
                                .help = "the first N examples of the split"    \
  }
/* --n where the default is the whole split (train, data info): the same
 * name, range and meaning, documented default "all" (the destination stays
 * 0 when --n is not given). */
#define PH_OPT_N_ALL(d, what)                                                  \
  {                                                                            \
    "n", "N", PH_OPT_SIZE, (d), .lo = 1, .hi = 1e9,                            \
                                .help = what " (default all)",                 \
                                .flags = PH_OPT_NO_DEFAULT                     \
  }
extern const char *const ph_cli_splits[]; /* "train", "test" */
#define PH_OPT_SPLIT(d)                                                        \
  {                                                                            \
    "split", "S", PH_OPT_CHOICE, (d),                                          \
        .choices = ph_cli_splits, .help = "which split the examples come from" \
  }
/* The default of --n wherever it appears. */
#define PH_CLI_DEFAULT_N 1024
/* --threads 0 -> the number of online cores. */
size_t ph_cli_threads(size_t requested);

/* Strict parsers behind the table, for values inside other syntaxes: 0 on
 * success, else print a usage error naming opt and return 2. Decimal only:
 * no hex, no inf/nan, no leading space, no trailing characters. */
int ph_cli_double(const char *cmd, const char *opt, const char *arg, double lo,
                  double hi, double *out);
int ph_cli_size(const char *cmd, const char *opt, const char *arg, size_t lo,
                size_t hi, size_t *out);

/* Single-value parsers for values inside a command's own syntax (--at,
 * --range, --grid; same strict rules as the table). ph_cli_u64 and
 * ph_cli_choice remain for cmd_toy.c until it is on the table; then they
 * become static in cli.c. */
int ph_cli_u64(const char *cmd, const char *opt, const char *arg,
               uint64_t *out);
int ph_cli_doubles(const char *cmd, const char *opt, const char *arg,
                   double *out, size_t max, size_t *n);
int ph_cli_choice(const char *cmd, const char *opt, const char *arg,
                  const char *const *choices, int *out);
/* Where --help, --help-man and --help-options print (stdout unless set:
 * `pothole completion` collects the tables through it). */
extern FILE *ph_cli_help_stream;
/* "lo:hi" with lo < hi; "NX" or "NXxNY". */
int ph_cli_parse_range(const char *cmd, const char *opt, const char *arg,
                       double *lo, double *hi);
int ph_cli_parse_grid(const char *cmd, const char *opt, const char *arg,
                      size_t *nx, size_t *ny);

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
