/* strnum.h: strict number syntax shared by the option table (tools/cli.c)
 * and the spec parsers (model, data and landscape specs). strtod/strtoul
 * alone accept leading blanks, a sign on unsigned numbers, hex, "inf" and
 * "nan"; these accept decimal digits only, so "mlp:-5", "n=0x10" or
 * "noise= 1" are refused instead of silently reinterpreted. */
#ifndef PH_CORE_STRNUM_H
#define PH_CORE_STRNUM_H

#include <stddef.h>

/* 1 when s is [+-]digits[.digits][e[+-]digits] (at least one mantissa
 * digit) and nothing else. */
int ph_str_is_decimal(const char *s);
/* 1 when s is one or more decimal digits and nothing else. */
int ph_str_is_digits(const char *s);
/* Leading digits of s as an unsigned number: *end is set past them; no
 * digits gives 0 with *end == s; overflow saturates at SIZE_MAX. */
size_t ph_str_uint(const char *s, const char **end);
/* Strict whole-string conversions: 0 on success, -1 otherwise. */
int ph_str_to_size(const char *s, size_t *out);
int ph_str_to_double(const char *s, double *out); /* finite decimals only */

#endif
