/* cli.c: shared command-line helpers (see cli.h). */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

int ph_cli_fail(const char *cmd, ph_status s, const ph_error *err) {
  fprintf(stderr, "pothole %s: %s\n", cmd,
          (err && err->msg[0]) ? err->msg : ph_status_name(s));
  return ph_status_exit_code(s);
}

int ph_cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "pothole %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see 'pothole %s --help')\n", cmd);
  return 2;
}

int ph_cli_double(const char *cmd, const char *opt, const char *arg, double lo,
                  double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(arg, &end);
  if (end == arg || *end != '\0' || errno == ERANGE || !isfinite(v))
    return ph_cli_usage(cmd, "%s expects a number, got '%s'", opt, arg);
  if (v < lo || v > hi)
    return ph_cli_usage(cmd, "%s %s is out of range [%g, %g]", opt, arg, lo,
                        hi);
  *out = v;
  return 0;
}

int ph_cli_size(const char *cmd, const char *opt, const char *arg, size_t lo,
                size_t hi, size_t *out) {
  char *end;
  errno = 0;
  if (!isdigit((unsigned char)arg[0]))
    return ph_cli_usage(cmd, "%s expects a whole number, got '%s'", opt, arg);
  unsigned long long v = strtoull(arg, &end, 10);
  if (*end != '\0' || errno == ERANGE)
    return ph_cli_usage(cmd, "%s expects a whole number, got '%s'", opt, arg);
  if (v < lo || v > hi)
    return ph_cli_usage(cmd, "%s %s is out of range [%zu, %zu]", opt, arg, lo,
                        hi);
  *out = (size_t)v;
  return 0;
}

int ph_cli_u64(const char *cmd, const char *opt, const char *arg,
               uint64_t *out) {
  char *end;
  errno = 0;
  if (!isdigit((unsigned char)arg[0]))
    return ph_cli_usage(cmd, "%s expects a whole number, got '%s'", opt, arg);
  unsigned long long v = strtoull(arg, &end, 10);
  if (*end != '\0' || errno == ERANGE)
    return ph_cli_usage(cmd, "%s expects a whole number, got '%s'", opt, arg);
  *out = (uint64_t)v;
  return 0;
}

int ph_cli_doubles(const char *cmd, const char *opt, const char *arg,
                   double *out, size_t max, size_t *n) {
  *n = 0;
  const char *p = arg;
  while (*p) {
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (end == p || errno == ERANGE || !isfinite(v) || (*end && *end != ','))
      return ph_cli_usage(cmd, "%s expects comma-separated numbers, got '%s'",
                          opt, arg);
    if (*n >= max)
      return ph_cli_usage(cmd, "%s takes at most %zu numbers", opt, max);
    out[(*n)++] = v;
    p = *end ? end + 1 : end;
  }
  if (*n == 0) return ph_cli_usage(cmd, "%s is empty", opt);
  return 0;
}

int ph_cli_range(const char *cmd, const char *opt, const char *arg, double *lo,
                 double *hi) {
  char *end;
  errno = 0;
  double a = strtod(arg, &end);
  if (end == arg || *end != ':')
    return ph_cli_usage(cmd, "%s expects LO:HI, got '%s'", opt, arg);
  const char *q = end + 1;
  double b = strtod(q, &end);
  if (end == q || *end != '\0' || !isfinite(a) || !isfinite(b))
    return ph_cli_usage(cmd, "%s expects LO:HI, got '%s'", opt, arg);
  if (!(a < b))
    return ph_cli_usage(cmd, "%s needs LO < HI, got '%s'", opt, arg);
  *lo = a;
  *hi = b;
  return 0;
}

int ph_cli_grid(const char *cmd, const char *opt, const char *arg, size_t *nx,
                size_t *ny) {
  char *end;
  errno = 0;
  if (!isdigit((unsigned char)arg[0]))
    return ph_cli_usage(cmd, "%s expects NX or NXxNY, got '%s'", opt, arg);
  unsigned long long a = strtoull(arg, &end, 10), b = 1;
  if (*end == 'x') {
    const char *q = end + 1;
    if (!isdigit((unsigned char)*q))
      return ph_cli_usage(cmd, "%s expects NX or NXxNY, got '%s'", opt, arg);
    b = strtoull(q, &end, 10);
  }
  if (*end != '\0' || errno == ERANGE || a < 1 || b < 1 || a > 100000 ||
      b > 100000)
    return ph_cli_usage(cmd, "%s expects NX or NXxNY (1..100000), got '%s'",
                        opt, arg);
  *nx = (size_t)a;
  *ny = (size_t)b;
  return 0;
}

int ph_cli_choice(const char *cmd, const char *opt, const char *arg,
                  const char *const *choices, int *out) {
  for (int i = 0; choices[i]; i++)
    if (strcmp(arg, choices[i]) == 0) {
      *out = i;
      return 0;
    }
  char list[256] = "";
  for (int i = 0; choices[i]; i++) {
    strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
    strncat(list, choices[i], sizeof list - strlen(list) - 1);
  }
  return ph_cli_usage(cmd, "%s '%s' is not one of: %s", opt, arg, list);
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
