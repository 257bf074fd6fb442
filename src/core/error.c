/* error.c: status codes and messages (see error.h). */
#include "core/error.h"

#include <stdarg.h>
#include <string.h>

ph_status ph_error_set(ph_error *err, ph_status code, const char *fmt, ...) {
  /* The first error wins, so context added by callers (ph_error_prefix)
   * describes the original failure. A code outside the enum means an
   * uninitialised ph_error: overwrite it rather than lose the message. */
  if (err && (err->code == PH_OK || (unsigned)err->code > PH_ERR_INTERRUPTED)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return code;
}

void ph_error_prefix(ph_error *err, const char *fmt, ...) {
  if (!err || err->code == PH_OK) return;
  char prefix[PH_ERROR_MSG_MAX], old[PH_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  /* Truncation of an over-long message is acceptable: keep the prefix. */
  size_t pl = strlen(prefix);
  memcpy(err->msg, prefix, pl + 1);
  strncat(err->msg, old, sizeof err->msg - pl - 1);
}

void ph_error_clear(ph_error *err) {
  if (err) {
    err->code = PH_OK;
    err->msg[0] = '\0';
  }
}

const char *ph_status_name(ph_status s) {
  switch (s) {
  case PH_OK: return "ok";
  case PH_ERR_IO: return "i/o error";
  case PH_ERR_FORMAT: return "format error";
  case PH_ERR_NOMEM: return "out of memory";
  case PH_ERR_ARG: return "invalid argument";
  case PH_ERR_NUMERIC: return "numerical failure";
  case PH_ERR_UNSUPPORTED: return "unsupported";
  case PH_ERR_INTERRUPTED: return "interrupted";
  }
  return "unknown status";
}

int ph_status_exit_code(ph_status s) {
  return s == PH_OK ? 0 : s == PH_ERR_ARG ? 2 : 1;
}
