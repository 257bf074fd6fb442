/* cli.c: shared command-line pieces (see cli.h): strict value parsers, the
 * option table (parse, --help, --help-man, --help-options), output sets. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "core/dist.h"
#include "core/strnum.h"
#include "core/version.h"

FILE *ph_cli_help_stream;
const char *const ph_cli_splits[] = {"train", "test", NULL};

int ph_cli_fail(const char *cmd, ph_status s, const ph_error *err) {
  /* In an MPI job the ranks first agree who failed (core/dist.h): one line
   * from rank 0 when all failed alike, else from each rank that failed.
   * ph_error_set escapes already; messages written into msg by hand too. */
  int voice = ph_dist_failure_voice(s);
  char line[4 * PH_ERROR_MSG_MAX];
  ph_escape_printable(line, sizeof line,
                      (err && err->msg[0]) ? err->msg : ph_status_name(s));
  if (voice == 1) fprintf(stderr, "pothole %s: %s\n", cmd, line);
  if (voice == 2)
    fprintf(stderr, "pothole %s: rank %d: %s\n", cmd, ph_dist_rank(), line);
  /* every rank of a job exits with the failing rank's code */
  return ph_status_exit_code(s == PH_ERR_PEER ? ph_dist_job_status() : s);
}

/* Print s with every non-printable byte escaped as \xNN, so that one error
 * is one line whatever the user typed. */
static void put_printable(FILE *fp, const char *s) {
  char buf[4 * 1024 + 1];
  ph_escape_printable(buf, sizeof buf, s);
  fputs(buf, fp);
}

int ph_cli_usage(const char *cmd, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (ph_dist_rank() > 0) return 2; /* the same argv everywhere: rank 0 says */
  fprintf(stderr, "pothole %s: ", cmd);
  put_printable(stderr, msg);
  fprintf(stderr, " (see 'pothole %s --help')\n", cmd);
  return 2;
}

/* ---- strict numbers -------------------------------------------------------
 * Decimal only (core/strnum.h): strtod alone would also take hex, "inf",
 * "nan" and leading white space. */

/* Shortest text that reads back as v; whole numbers below 1e15 without an
 * exponent (300, not 3e+02). */
static void fmt_double(char *buf, size_t size, double v) {
  if (v == floor(v) && fabs(v) < 1e15) {
    snprintf(buf, size, "%.0f", v);
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
}

int ph_cli_double(const char *cmd, const char *opt, const char *arg, double lo,
                  double hi, double *out) {
  errno = 0;
  double v = ph_str_is_decimal(arg) ? strtod(arg, NULL) : NAN;
  if (!isfinite(v) || errno == ERANGE)
    return ph_cli_usage(cmd, "%s expects a decimal number, got '%s'", opt, arg);
  if (v < lo || v > hi) {
    char a[32], b[32];
    fmt_double(a, sizeof a, lo);
    fmt_double(b, sizeof b, hi);
    return ph_cli_usage(cmd, "%s %s is out of range [%s, %s]", opt, arg, a, b);
  }
  *out = v;
  return 0;
}

int ph_cli_u64(const char *cmd, const char *opt, const char *arg,
               uint64_t *out) {
  errno = 0;
  unsigned long long v = ph_str_is_digits(arg) ? strtoull(arg, NULL, 10) : 0;
  if (!ph_str_is_digits(arg) || errno == ERANGE)
    return ph_cli_usage(cmd, "%s expects a whole number, got '%s'", opt, arg);
  *out = (uint64_t)v;
  return 0;
}

int ph_cli_size(const char *cmd, const char *opt, const char *arg, size_t lo,
                size_t hi, size_t *out) {
  uint64_t v = 0;
  int rc = ph_cli_u64(cmd, opt, arg, &v);
  if (rc) return rc;
  if (v < lo || v > hi)
    return ph_cli_usage(cmd, "%s %s is out of range [%zu, %zu]", opt, arg, lo,
                        hi);
  *out = (size_t)v;
  return 0;
}

static int doubles_in(const char *cmd, const char *opt, const char *arg,
                      double lo, double hi, double *out, size_t max,
                      size_t *n) {
  *n = 0;
  if (!*arg) return ph_cli_usage(cmd, "%s is empty", opt);
  char item[128];
  const char *p = arg;
  for (;;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len >= sizeof item)
      return ph_cli_usage(cmd, "%s: item too long in '%s'", opt, arg);
    memcpy(item, p, len);
    item[len] = '\0';
    if (*n >= max)
      return ph_cli_usage(cmd, "%s takes at most %zu numbers", opt, max);
    int rc = ph_cli_double(cmd, opt, item, lo, hi, &out[*n]);
    if (rc) return rc;
    (*n)++;
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

int ph_cli_doubles(const char *cmd, const char *opt, const char *arg,
                   double *out, size_t max, size_t *n) {
  return doubles_in(cmd, opt, arg, -HUGE_VAL, HUGE_VAL, out, max, n);
}

int ph_cli_parse_range(const char *cmd, const char *opt, const char *arg,
                       double *lo, double *hi) {
  const char *colon = strchr(arg, ':');
  char a[128];
  if (!colon || (size_t)(colon - arg) >= sizeof a)
    return ph_cli_usage(cmd, "%s expects LO:HI, got '%s'", opt, arg);
  memcpy(a, arg, (size_t)(colon - arg));
  a[colon - arg] = '\0';
  if (!ph_str_is_decimal(a) || !ph_str_is_decimal(colon + 1))
    return ph_cli_usage(cmd, "%s expects LO:HI, got '%s'", opt, arg);
  double x = strtod(a, NULL), y = strtod(colon + 1, NULL);
  if (!isfinite(x) || !isfinite(y))
    return ph_cli_usage(cmd, "%s expects LO:HI, got '%s'", opt, arg);
  if (!(x < y))
    return ph_cli_usage(cmd, "%s needs LO < HI, got '%s'", opt, arg);
  *lo = x;
  *hi = y;
  return 0;
}

int ph_cli_parse_grid(const char *cmd, const char *opt, const char *arg,
                      size_t *nx, size_t *ny) {
  char a[32];
  const char *x = strchr(arg, 'x');
  size_t la = x ? (size_t)(x - arg) : strlen(arg);
  if (la >= sizeof a) goto bad;
  memcpy(a, arg, la);
  a[la] = '\0';
  if (!ph_str_is_digits(a) || (x && !ph_str_is_digits(x + 1))) goto bad;
  unsigned long long u = strtoull(a, NULL, 10),
                     v = x ? strtoull(x + 1, NULL, 10) : 1;
  if (u < 1 || v < 1 || u > 100000 || v > 100000) goto bad;
  *nx = (size_t)u;
  *ny = (size_t)v;
  return 0;
bad:
  return ph_cli_usage(cmd, "%s expects NX or NXxNY (1..100000), got '%s'", opt,
                      arg);
}

int ph_cli_choice(const char *cmd, const char *opt, const char *arg,
                  const char *const *choices, int *out) {
  for (int i = 0; choices[i]; i++)
    if (strcmp(arg, choices[i]) == 0) {
      *out = i;
      return 0;
    }
  char list[512] = "";
  for (int i = 0; choices[i]; i++) {
    strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
    strncat(list, choices[i], sizeof list - strlen(list) - 1);
  }
  return ph_cli_usage(cmd, "%s '%s' is not one of: %s", opt, arg, list);
}

size_t ph_cli_threads(size_t requested) {
  if (requested) return requested;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (size_t)(n > PH_CLI_MAX_THREADS ? PH_CLI_MAX_THREADS : n);
}

/* ---- the option table ---------------------------------------------------- */

static int set_value(const char *cmd, const ph_opt *o, const char *arg) {
  char opt[96];
  snprintf(opt, sizeof opt, "--%s", o->name);
  switch (o->type) {
  case PH_OPT_STRING:
    if (!*arg) return ph_cli_usage(cmd, "%s needs a non-empty value", opt);
    *(const char **)o->dest = arg;
    return 0;
  case PH_OPT_SIZE: {
    double hi = o->hi > 0 ? o->hi : (double)SIZE_MAX;
    return ph_cli_size(cmd, opt, arg, (size_t)o->lo,
                       hi >= (double)SIZE_MAX ? SIZE_MAX : (size_t)hi,
                       (size_t *)o->dest);
  }
  case PH_OPT_U64: return ph_cli_u64(cmd, opt, arg, (uint64_t *)o->dest);
  case PH_OPT_DOUBLE: {
    double lo = o->lo, hi = o->hi;
    if (lo == 0 && hi == 0) lo = -HUGE_VAL, hi = HUGE_VAL;
    return ph_cli_double(cmd, opt, arg, lo, hi, (double *)o->dest);
  }
  case PH_OPT_LIST: {
    ph_cli_list *l = o->dest;
    double lo = o->lo, hi = o->hi;
    if (lo == 0 && hi == 0) lo = -HUGE_VAL, hi = HUGE_VAL;
    return doubles_in(cmd, opt, arg, lo, hi, l->v, PH_CLI_LIST_MAX, &l->n);
  }
  case PH_OPT_CHOICE: return ph_cli_choice(cmd, opt, arg, o->choices, o->dest);
  case PH_OPT_RANGE: {
    ph_cli_range *r = o->dest;
    return ph_cli_parse_range(cmd, opt, arg, &r->lo, &r->hi);
  }
  case PH_OPT_GRID: {
    ph_cli_grid *g = o->dest;
    return ph_cli_parse_grid(cmd, opt, arg, &g->nx, &g->ny);
  }
  case PH_OPT_FLAG: *(int *)o->dest = 1; return 0;
  }
  return ph_cli_usage(cmd, "%s: unknown option type", opt);
}

/* The current value of o's destination as text ("" when it has none). */
/* The destination's current value as text ("" for an unset string or flag,
 * an unset range or grid). */
static void value_text(const ph_opt *o, char *buf, size_t size) {
  buf[0] = '\0';
  if (!o->dest) return;
  switch (o->type) {
  case PH_OPT_STRING: {
    const char *s = *(const char *const *)o->dest;
    if (s) snprintf(buf, size, "%s", s);
    break;
  }
  case PH_OPT_SIZE: snprintf(buf, size, "%zu", *(const size_t *)o->dest); break;
  case PH_OPT_U64:
    snprintf(buf, size, "%llu", (unsigned long long)*(const uint64_t *)o->dest);
    break;
  case PH_OPT_DOUBLE: fmt_double(buf, size, *(const double *)o->dest); break;
  case PH_OPT_LIST: {
    const ph_cli_list *l = o->dest;
    size_t used = 0;
    for (size_t i = 0; i < l->n && used + 32 < size; i++) {
      if (i) buf[used++] = ',';
      fmt_double(buf + used, size - used, l->v[i]);
      used += strlen(buf + used);
    }
    break;
  }
  case PH_OPT_CHOICE: {
    int k = *(const int *)o->dest;
    if (k >= 0 && o->choices) snprintf(buf, size, "%s", o->choices[k]);
    break;
  }
  case PH_OPT_RANGE: {
    const ph_cli_range *r = o->dest;
    char a[32], b[32];
    fmt_double(a, sizeof a, r->lo);
    fmt_double(b, sizeof b, r->hi);
    if (r->lo < r->hi) snprintf(buf, size, "%s:%s", a, b);
    break;
  }
  case PH_OPT_GRID: {
    const ph_cli_grid *g = o->dest;
    if (g->ny > 1)
      snprintf(buf, size, "%zux%zu", g->nx, g->ny);
    else if (g->nx)
      snprintf(buf, size, "%zu", g->nx);
    break;
  }
  case PH_OPT_FLAG:
    if (*(const int *)o->dest) snprintf(buf, size, "on");
    break;
  }
}

static void default_text(const ph_opt *o, char *buf, size_t size) {
  buf[0] = '\0';
  if (!(o->flags & PH_OPT_NO_DEFAULT)) value_text(o, buf, size);
}

size_t ph_cli_config_text(const ph_opt *opts, char *buf, size_t size) {
  size_t used = 0;
  if (size) buf[0] = '\0';
  for (const ph_opt *o = opts; o && o->name; o++) {
    if (o->flags & PH_OPT_RESUMABLE) continue;
    char v[1024];
    value_text(o, v, sizeof v);
    int k = snprintf(buf + used, used < size ? size - used : 0, "--%s %s\n",
                     o->name, v[0] ? v : "-");
    if (k > 0) used += (size_t)k;
  }
  return used;
}

static const char *metavar_of(const ph_opt *o) {
  if (o->type == PH_OPT_FLAG) return "";
  if (o->metavar) return o->metavar;
  return "X";
}

static void choices_text(const ph_opt *o, char *buf, size_t size) {
  buf[0] = '\0';
  if (o->type != PH_OPT_CHOICE || !o->choices) return;
  for (int i = 0; o->choices[i]; i++) {
    strncat(buf, i ? "|" : "", size - strlen(buf) - 1);
    strncat(buf, o->choices[i], size - strlen(buf) - 1);
  }
}

/* One option's help lines, with "(default X)" and the choices appended. */
static void help_body(const ph_opt *o, char *buf, size_t size) {
  char def[256], ch[256];
  default_text(o, def, sizeof def);
  choices_text(o, ch, sizeof ch);
  snprintf(buf, size, "%s", o->help ? o->help : "");
  if (ch[0] && !(o->metavar && strchr(o->metavar, '|'))) {
    strncat(buf, ": ", size - strlen(buf) - 1);
    strncat(buf, ch, size - strlen(buf) - 1);
  }
  if (def[0]) {
    strncat(buf, " (default ", size - strlen(buf) - 1);
    strncat(buf, def, size - strlen(buf) - 1);
    strncat(buf, ")", size - strlen(buf) - 1);
  }
  if (o->flags & PH_OPT_REQUIRED)
    strncat(buf, " (required)", size - strlen(buf) - 1);
}

void ph_cli_print_help(const ph_cli_spec *spec, FILE *fp) {
  fprintf(fp, "usage: pothole %s %s\n", spec->cmd,
          spec->usage ? spec->usage : "[options]");
  if (spec->about) fprintf(fp, "\n%s\n", spec->about);
  fprintf(fp, "\noptions:\n");
  int any_resumable = 0;
  for (const ph_opt *o = spec->opts; o && o->name; o++) {
    if (o->flags & PH_OPT_HIDDEN) continue;
    any_resumable |= (o->flags & PH_OPT_RESUMABLE) != 0;
    char left[96], body[2048];
    snprintf(left, sizeof left, "--%s%s%s", o->name,
             o->type == PH_OPT_FLAG ? "" : " ", metavar_of(o));
    help_body(o, body, sizeof body);
    int col = 24;
    fprintf(fp, "  %-*s", col - 2, left);
    if ((int)strlen(left) > col - 3) fprintf(fp, "\n%*s", col, "");
    for (const char *p = body; *p; p++) {
      fputc(*p, fp);
      if (*p == '\n') fprintf(fp, "%*s", col, "");
    }
    fputc('\n', fp);
  }
  fprintf(fp, "  %-22s%s\n", "--help", "this help");
  if (any_resumable) {
    fprintf(fp, "\nMay differ on --resume:");
    for (const ph_opt *o = spec->opts; o && o->name; o++)
      if (o->flags & PH_OPT_RESUMABLE) fprintf(fp, " --%s", o->name);
    fprintf(fp, "; any other option must match the run being resumed.\n");
  }
  fprintf(fp, "\nExit codes: 0 success, 1 runtime failure, 2 usage error.\n");
}

/* troff: escape backslashes, and a leading '.' or '\'' of a line. */
static void man_text(FILE *fp, const char *s) {
  int bol = 1;
  for (; *s; s++) {
    if (bol && (*s == '.' || *s == '\'')) fputs("\\&", fp);
    if (*s == '\\')
      fputs("\\e", fp);
    else if (*s == '-')
      fputs("\\-", fp);
    else
      fputc(*s, fp);
    bol = *s == '\n';
  }
}

static void print_man(const ph_cli_spec *spec, FILE *fp) {
  char title[128];
  snprintf(title, sizeof title, "POTHOLE-%s", spec->cmd);
  for (char *p = title; *p; p++)
    *p = *p == ' ' ? '-' : (char)toupper((unsigned char)*p);
  fprintf(fp, ".TH %s 1 \"\" \"pothole %s\" \"pothole manual\"\n", title,
          PH_VERSION);
  fprintf(fp, ".SH NAME\npothole\\-");
  for (const char *p = spec->cmd; *p; p++)
    fputs(*p == ' ' ? "\\-" : (char[]){*p, 0}, fp);
  fprintf(fp, " \\- ");
  /* the first sentence of about */
  char first[512] = "";
  if (spec->about) {
    size_t k = 0;
    while (spec->about[k] && spec->about[k] != ';' && spec->about[k] != '\n' &&
           !(spec->about[k] == '.' &&
             (spec->about[k + 1] == ' ' || spec->about[k + 1] == '\0')) &&
           k + 1 < sizeof first) {
      first[k] = spec->about[k] == '\n' ? ' ' : spec->about[k];
      k++;
    }
    first[k] = '\0';
  }
  man_text(fp, first);
  fprintf(fp, "\n.SH SYNOPSIS\n.B pothole %s\n", spec->cmd);
  man_text(fp, spec->usage ? spec->usage : "[options]");
  fprintf(fp, "\n.SH DESCRIPTION\n");
  if (spec->about) man_text(fp, spec->about);
  fprintf(fp, "\n.SH OPTIONS\n");
  for (const ph_opt *o = spec->opts; o && o->name; o++) {
    if (o->flags & PH_OPT_HIDDEN) continue;
    char body[2048];
    help_body(o, body, sizeof body);
    fprintf(fp, ".TP\n.BI \"\\-\\-");
    man_text(fp, o->name);
    fprintf(fp, o->type != PH_OPT_FLAG ? " \" " : "\"");
    if (o->type != PH_OPT_FLAG) man_text(fp, metavar_of(o));
    fputc('\n', fp);
    man_text(fp, body);
    fputc('\n', fp);
  }
  fprintf(fp, ".TP\n.B \\-\\-help\nprint the options with their defaults\n");
  fprintf(fp, ".SH EXIT STATUS\n0 success, 1 runtime failure (the message "
              "names the file or value at fault), 2 usage error.\n"
              ".SH SEE ALSO\n.BR pothole (1)\n");
}

static void print_options(const ph_cli_spec *spec, FILE *fp) {
  for (const ph_opt *o = spec->opts; o && o->name; o++) {
    if (o->flags & PH_OPT_HIDDEN) continue;
    fprintf(fp, "--%s\t%s\t", o->name,
            o->type == PH_OPT_FLAG ? "" : metavar_of(o));
    if (o->type == PH_OPT_CHOICE && o->choices)
      for (int i = 0; o->choices[i]; i++)
        fprintf(fp, "%s%s", i ? " " : "", o->choices[i]);
    fputc('\n', fp);
  }
  fprintf(fp, "--help\t\t\n");
}

const char *ph_cli_peek(int argc, char **argv, const char *name) {
  size_t len = strlen(name);
  const char *found = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) break;
    if (a[0] != '-' || a[1] != '-' || strncmp(a + 2, name, len) != 0) continue;
    if (a[2 + len] == '=')
      found = a + 3 + len;
    else if (a[2 + len] == '\0' && i + 1 < argc)
      found = argv[++i];
  }
  return found;
}

enum { HELP_VAL = 1, MAN_VAL, OPTIONS_VAL, FIRST_VAL = 256 };

int ph_cli_parse(const ph_cli_spec *spec, int argc, char **argv, char ***args,
                 size_t *nargs) {
  const char *cmd = spec->cmd;
  FILE *hout = ph_cli_help_stream ? ph_cli_help_stream : stdout;
  size_t n = 0;
  while (spec->opts && spec->opts[n].name) n++;
  struct option *lo = calloc(n + 4, sizeof *lo);
  unsigned char *given = calloc(n + 1, 1);
  if (!lo || !given) {
    free(lo);
    free(given);
    return ph_cli_usage(cmd, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    lo[i].name = spec->opts[i].name;
    lo[i].has_arg =
        spec->opts[i].type == PH_OPT_FLAG ? no_argument : required_argument;
    lo[i].val = FIRST_VAL + (int)i;
  }
  lo[n] = (struct option){"help", no_argument, 0, HELP_VAL};
  lo[n + 1] = (struct option){"help-man", no_argument, 0, MAN_VAL};
  lo[n + 2] = (struct option){"help-options", no_argument, 0, OPTIONS_VAL};
  int rc = -1, ch;
  optind = 0;
  opterr = 0;
  while (rc < 0 && (ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
    const char *where = argv[optind - 1];
    if (ch == 'h' || ch == HELP_VAL) {
      ph_cli_print_help(spec, hout);
      rc = 0;
    } else if (ch == MAN_VAL) {
      print_man(spec, hout);
      rc = 0;
    } else if (ch == OPTIONS_VAL) {
      print_options(spec, hout);
      rc = 0;
    } else if (ch == ':') {
      rc = ph_cli_usage(cmd, "%s needs a value", where);
    } else if (ch == '?') {
      if (optopt >= FIRST_VAL)
        rc = ph_cli_usage(cmd, "--%s takes no value",
                          spec->opts[optopt - FIRST_VAL].name);
      else if (optopt)
        rc = ph_cli_usage(cmd, "unknown option '-%c'", optopt);
      else
        rc = ph_cli_usage(cmd, "unknown or ambiguous option '%s'", where);
    } else {
      const ph_opt *o = &spec->opts[ch - FIRST_VAL];
      if (set_value(cmd, o, optarg)) {
        rc = 2;
      } else {
        given[ch - FIRST_VAL] = 1;
        if (o->seen) *o->seen = 1;
      }
    }
  }
  free(lo);
  if (rc >= 0) {
    free(given);
    return rc;
  }
  size_t npos = (size_t)(argc - optind);
  if (!args && npos)
    rc = ph_cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
  else if (args && npos < spec->min_args)
    rc = ph_cli_usage(cmd, "expects %s",
                      spec->usage ? spec->usage : "more arguments");
  else if (args && spec->max_args && npos > spec->max_args)
    rc = ph_cli_usage(cmd, "unexpected argument '%s'",
                      argv[optind + (int)spec->max_args]);
  /* Required options, checked after every option was read, so an unknown
   * option is reported before a missing one. */
  for (size_t i = 0; rc < 0 && i < n; i++) {
    const ph_opt *o = &spec->opts[i];
    if ((o->flags & PH_OPT_REQUIRED) && !given[i])
      rc = ph_cli_usage(cmd, "--%s %s is required", o->name, metavar_of(o));
  }
  free(given);
  if (rc < 0 && args) {
    *args = argv + optind;
    *nargs = npos;
  }
  return rc;
}

int ph_cli_help_only(const ph_cli_spec *spec, int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ||
        !strcmp(argv[i], "--help-man") || !strcmp(argv[i], "--help-options"))
      return ph_cli_parse(spec, 2, (char *[]){argv[0], argv[i], NULL}, NULL,
                          NULL);
  return -1;
}

void ph_cli_set_blas_threads(int n) {
  openblas_set_num_threads(n < 1 ? 1 : n);
}

const char *ph_outset_add(ph_outset *o, const char *path) {
  if (o->n == o->cap) {
    size_t cap = o->cap ? 2 * o->cap : 16;
    char **np = realloc(o->paths, cap * sizeof *np);
    if (!np) return NULL;
    o->paths = np;
    o->cap = cap;
  }
  o->paths[o->n] = strdup(path);
  return o->paths[o->n] ? o->paths[o->n++] : NULL;
}

void ph_outset_rollback(ph_outset *o) {
  for (size_t i = 0; i < o->n; i++) unlink(o->paths[i]);
}

void ph_outset_free(ph_outset *o) {
  for (size_t i = 0; i < o->n; i++) free(o->paths[i]);
  free(o->paths);
  memset(o, 0, sizeof *o);
}
