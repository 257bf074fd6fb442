/* error.h: status codes and error messages for libpothole.
 *
 * Library functions never print and never exit. Each fallible function
 * returns a ph_status and, when given a non-NULL ph_error*, fills it with a
 * one-line message that says what failed and where (file, line or byte
 * offset of the input). Only tools/ decides to print and exit.
 *
 * Programmer errors (violated preconditions that no input can cause) abort
 * through PH_ASSERT with file and line, as ggml does.
 */
#ifndef PH_CORE_ERROR_H
#define PH_CORE_ERROR_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

typedef enum ph_status {
  PH_OK = 0,
  PH_ERR_IO,          /* missing file, read/write failure */
  PH_ERR_FORMAT,      /* malformed or corrupt input */
  PH_ERR_NOMEM,       /* allocation failed or size overflow */
  PH_ERR_ARG,         /* invalid argument or option (usage error) */
  PH_ERR_NUMERIC,     /* NaN/Inf, breakdown, non-convergence */
  PH_ERR_UNSUPPORTED, /* valid request this build or model cannot serve */
  PH_ERR_INTERRUPTED, /* stopped by a signal; resumable state was kept */
  PH_ERR_PEER         /* another process of a distributed job failed */
} ph_status;

#define PH_ERROR_MSG_MAX 512

typedef struct ph_error {
  ph_status code;
  char msg[PH_ERROR_MSG_MAX];
} ph_error;

/* Record an error (printf-style) and return its code, so callers can write
 *   return ph_error_set(err, PH_ERR_FORMAT, "%s: bad magic", path);
 * err may be NULL. The first error set wins: an outer caller that adds
 * context should use ph_error_prefix. */
ph_status ph_error_set(ph_error *err, ph_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context ("loading run/ckpt/final.ckpt: ") to an existing message. */
void ph_error_prefix(ph_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void ph_error_clear(ph_error *err);

/* Copy src into dst (cap bytes, always NUL-terminated) with every byte that
 * is not printable escaped as \xNN: ASCII controls and DEL, C1 controls, and
 * bytes that are not valid UTF-8 (valid UTF-8 text stays readable). Never
 * cuts an escape or a character in half. Returns the length written.
 * ph_error_set and ph_error_prefix apply it, so every message is one line. */
size_t ph_escape_printable(char *dst, size_t cap, const char *src);
const char *ph_status_name(ph_status s);

/* Exit code a tool should use for a status: 2 for usage errors, 1 otherwise. */
int ph_status_exit_code(ph_status s);

#define PH_ASSERT(cond)                                                        \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "pothole: internal error at %s:%d: %s\n", __FILE__,      \
              __LINE__, #cond);                                                \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* Propagate a failing status. */
#define PH_TRY(expr)                                                           \
  do {                                                                         \
    ph_status ph_try_s_ = (expr);                                              \
    if (ph_try_s_ != PH_OK) return ph_try_s_;                                  \
  } while (0)

#endif
