/* strnum.c: strict decimal numbers (see strnum.h). */
#include "core/strnum.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int ph_str_is_decimal(const char *s) {
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  int digits = 0;
  while (isdigit((unsigned char)*p)) p++, digits++;
  if (*p == '.') {
    p++;
    while (isdigit((unsigned char)*p)) p++, digits++;
  }
  if (!digits) return 0;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
  }
  return *p == '\0';
}

int ph_str_is_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s)) return 0;
  return 1;
}

size_t ph_str_uint(const char *s, const char **end) {
  size_t v = 0;
  const char *p = s;
  for (; isdigit((unsigned char)*p); p++) {
    size_t d = (size_t)(*p - '0');
    v = v > (SIZE_MAX - d) / 10 ? SIZE_MAX : v * 10 + d;
  }
  *end = p;
  return v;
}

int ph_str_to_size(const char *s, size_t *out) {
  const char *end;
  if (!ph_str_is_digits(s)) return -1;
  size_t v = ph_str_uint(s, &end);
  if (v == SIZE_MAX) return -1;
  *out = v;
  return 0;
}

int ph_str_to_double(const char *s, double *out) {
  if (!ph_str_is_decimal(s)) return -1;
  errno = 0;
  double v = strtod(s, NULL);
  if (!isfinite(v)) return -1;
  *out = v;
  return 0;
}
