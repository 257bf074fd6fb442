/* error.c: status codes and messages (see error.h). Every message is made
 * one printable line here: control bytes, C1 controls and bytes that are
 * not valid UTF-8 become \xNN, so a file name or spec string with a newline
 * or a terminal escape in it cannot split or forge the error line. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid, printable UTF-8 sequence at p (2-4 bytes), or 0. */
static size_t utf8_printable_len(const unsigned char *p) {
  size_t n;
  unsigned cp;
  if (p[0] >= 0xc2 && p[0] <= 0xdf) {
    n = 2;
    cp = p[0] & 0x1fu;
  } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
    n = 3;
    cp = p[0] & 0x0fu;
  } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
    n = 4;
    cp = p[0] & 0x07u;
  } else {
    return 0;
  }
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0; /* also stops at the NUL */
    cp = cp << 6 | (p[i] & 0x3fu);
  }
  /* Overlong forms, surrogates, beyond U+10FFFF, and C1 controls. */
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
    return 0;
  return n;
}

size_t ph_escape_printable(char *dst, size_t cap, const char *src) {
  size_t o = 0;
  if (cap == 0) return 0;
  for (const unsigned char *p = (const unsigned char *)src; *p;) {
    size_t u = *p >= 0x80 ? utf8_printable_len(p) : 0;
    if (u > 0) {
      if (o + u >= cap) break;
      memcpy(dst + o, p, u);
      o += u;
      p += u;
    } else if (*p >= 0x20 && *p < 0x7f) {
      if (o + 1 >= cap) break;
      dst[o++] = (char)*p++;
    } else {
      if (o + 4 >= cap) break;
      snprintf(dst + o, 5, "\\x%02x", *p++);
      o += 4;
    }
  }
  dst[o] = '\0';
  return o;
}

ph_status ph_error_set(ph_error *err, ph_status code, const char *fmt, ...) {
  /* The first error wins, so context added by callers (ph_error_prefix)
   * describes the original failure. A code outside the enum means an
   * uninitialised ph_error: overwrite it rather than lose the message. */
  if (err && (err->code == PH_OK || (unsigned)err->code > PH_ERR_INTERRUPTED)) {
    va_list ap;
    va_start(ap, fmt);
    char raw[PH_ERROR_MSG_MAX];
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    ph_escape_printable(err->msg, sizeof err->msg, raw);
    err->code = code;
  }
  return code;
}

void ph_error_prefix(ph_error *err, const char *fmt, ...) {
  if (!err || err->code == PH_OK) return;
  char raw[PH_ERROR_MSG_MAX], prefix[PH_ERROR_MSG_MAX], old[PH_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(raw, sizeof raw, fmt, ap);
  va_end(ap);
  ph_escape_printable(prefix, sizeof prefix, raw);
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
  case PH_ERR_PEER: return "another process failed";
  }
  return "unknown status";
}

int ph_status_exit_code(ph_status s) {
  return s == PH_OK ? 0 : s == PH_ERR_ARG ? 2 : 1;
}
