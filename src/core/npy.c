/* npy.c: NumPy .npy format 1.0/2.0 reader and writer (see npy.h).
 * Format:
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html magic
 * "\x93NUMPY", major, minor, header length (u16 for 1.0, u32 for 2.0), an ASCII
 * Python dict literal padded with spaces to a 64-byte boundary and ending in
 * '\n', then the raw data. */
#include "core/npy.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/alloc.h"

static ph_status write_array(const char *path, const void *data,
                             const char *descr, int ndim, const size_t *shape,
                             ph_error *err) {
  if (ndim < 0 || ndim > PH_NPY_MAX_DIM)
    return ph_error_set(err, PH_ERR_ARG, "%s: %d dimensions not supported",
                        path, ndim);
  char shape_s[256];
  size_t pos = 0, count = 1;
  pos += (size_t)snprintf(shape_s + pos, sizeof shape_s - pos, "(");
  for (int i = 0; i < ndim; i++) {
    pos += (size_t)snprintf(shape_s + pos, sizeof shape_s - pos, "%zu%s",
                            shape[i], (ndim == 1 || i + 1 < ndim) ? "," : "");
    if (i + 1 < ndim)
      pos += (size_t)snprintf(shape_s + pos, sizeof shape_s - pos, " ");
    if (ph_mul_size(count, shape[i], &count) != 0)
      return ph_error_set(err, PH_ERR_ARG, "%s: shape overflows", path);
  }
  snprintf(shape_s + pos, sizeof shape_s - pos, ")");
  char header[512];
  int hl = snprintf(header, sizeof header,
                    "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                    descr, shape_s);
  /* pad so that 10 (preamble) + header + '\n' is a multiple of 64 */
  size_t total = 10 + (size_t)hl + 1;
  size_t padded = (total + 63) / 64 * 64;
  size_t hlen = padded - 10;
  memset(header + hl, ' ', hlen - 1 - (size_t)hl);
  header[hlen - 1] = '\n';
  unsigned char pre[10] = {0x93,
                           'N',
                           'U',
                           'M',
                           'P',
                           'Y',
                           1,
                           0,
                           (unsigned char)(hlen & 0xff),
                           (unsigned char)(hlen >> 8)};
  ph_afile f;
  PH_TRY(ph_afile_open(&f, path, err));
  ph_afile_write(&f, pre, sizeof pre);
  ph_afile_write(&f, header, hlen);
  ph_afile_write(&f, data, count * 8);
  return ph_afile_commit(&f, err);
}

ph_status ph_npy_write(const char *path, const double *data, int ndim,
                       const size_t *shape, ph_error *err) {
  return write_array(path, data, "<f8", ndim, shape, err);
}

ph_status ph_npy_write_i64(const char *path, const int64_t *data, int ndim,
                           const size_t *shape, ph_error *err) {
  return write_array(path, data, "<i8", ndim, shape, err);
}

ph_status ph_npy_write_vec(const char *path, const double *data, size_t n,
                           ph_error *err) {
  return ph_npy_write(path, data, 1, &n, err);
}

/* --- reading: a small parser for the header dict literal --- */

typedef struct {
  const char *s, *end;
} cursor;

static void skip_ws(cursor *c) {
  while (c->s < c->end && isspace((unsigned char)*c->s)) c->s++;
}

static int expect(cursor *c, char ch) {
  skip_ws(c);
  if (c->s < c->end && *c->s == ch) {
    c->s++;
    return 1;
  }
  return 0;
}

/* Reads a quoted string into out (max len-1 chars). */
static int read_str(cursor *c, char *out, size_t len) {
  skip_ws(c);
  if (c->s >= c->end || (*c->s != '\'' && *c->s != '"')) return 0;
  char q = *c->s++;
  size_t k = 0;
  while (c->s < c->end && *c->s != q) {
    if (k + 1 >= len) return 0;
    out[k++] = *c->s++;
  }
  if (c->s >= c->end) return 0;
  c->s++;
  out[k] = '\0';
  return 1;
}

static ph_status parse_header(const char *h, size_t hlen, const char *name,
                              ph_npy *out, int *fortran, ph_error *err) {
  cursor c = {h, h + hlen};
  int have_descr = 0, have_order = 0, have_shape = 0;
  if (!expect(&c, '{'))
    return ph_error_set(err, PH_ERR_FORMAT, "%s: npy header is not a dict",
                        name);
  for (;;) {
    skip_ws(&c);
    if (expect(&c, '}')) break;
    char key[32];
    if (!read_str(&c, key, sizeof key) || !expect(&c, ':'))
      return ph_error_set(err, PH_ERR_FORMAT, "%s: malformed npy header key",
                          name);
    if (strcmp(key, "descr") == 0) {
      if (!read_str(&c, out->dtype, sizeof out->dtype))
        return ph_error_set(err, PH_ERR_FORMAT, "%s: malformed npy descr",
                            name);
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      skip_ws(&c);
      if ((size_t)(c.end - c.s) >= 4 && strncmp(c.s, "True", 4) == 0) {
        *fortran = 1;
        c.s += 4;
      } else if ((size_t)(c.end - c.s) >= 5 && strncmp(c.s, "False", 5) == 0) {
        *fortran = 0;
        c.s += 5;
      } else
        return ph_error_set(err, PH_ERR_FORMAT,
                            "%s: malformed npy fortran_order", name);
      have_order = 1;
    } else if (strcmp(key, "shape") == 0) {
      if (!expect(&c, '('))
        return ph_error_set(err, PH_ERR_FORMAT, "%s: malformed npy shape",
                            name);
      out->ndim = 0;
      for (;;) {
        skip_ws(&c);
        if (expect(&c, ')')) break;
        if (c.s >= c.end || !isdigit((unsigned char)*c.s))
          return ph_error_set(err, PH_ERR_FORMAT, "%s: malformed npy shape",
                              name);
        if (out->ndim >= PH_NPY_MAX_DIM)
          return ph_error_set(err, PH_ERR_FORMAT, "%s: more than %d dimensions",
                              name, PH_NPY_MAX_DIM);
        char *e;
        unsigned long long v = strtoull(c.s, &e, 10);
        if (e > c.end)
          return ph_error_set(err, PH_ERR_FORMAT, "%s: malformed npy shape",
                              name);
        c.s = e;
        out->shape[out->ndim++] = (size_t)v;
        skip_ws(&c);
        expect(&c, ',');
      }
      have_shape = 1;
    } else
      return ph_error_set(err, PH_ERR_FORMAT, "%s: unknown npy header key '%s'",
                          name, key);
    skip_ws(&c);
    expect(&c, ',');
  }
  if (!have_descr || !have_order || !have_shape)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: npy header lacks descr, fortran_order or shape",
                        name);
  return PH_OK;
}

static uint64_t le_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint32_t le_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

ph_status ph_npy_parse(const unsigned char *buf, size_t len, const char *name,
                       ph_npy *out, ph_error *err) {
  memset(out, 0, sizeof *out);
  static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (len < 10 || memcmp(buf, magic, 6) != 0)
    return ph_error_set(err, PH_ERR_FORMAT, "%s: not a .npy file (bad magic)",
                        name);
  int major = buf[6];
  size_t hlen, hstart;
  if (major == 1) {
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12)
      return ph_error_set(err, PH_ERR_FORMAT, "%s: truncated npy header", name);
    hlen = le_u32(buf + 8);
    hstart = 12;
  } else
    return ph_error_set(err, PH_ERR_FORMAT, "%s: unsupported npy version %d",
                        name, major);
  if (hlen > len - hstart)
    return ph_error_set(
        err, PH_ERR_FORMAT,
        "%s: truncated npy header (%zu bytes declared, %zu left)", name, hlen,
        len - hstart);
  int fortran = 0;
  PH_TRY(
      parse_header((const char *)buf + hstart, hlen, name, out, &fortran, err));
  size_t width;
  if (strcmp(out->dtype, "<f8") == 0 || strcmp(out->dtype, "<i8") == 0)
    width = 8;
  else if (strcmp(out->dtype, "<f4") == 0 || strcmp(out->dtype, "<i4") == 0)
    width = 4;
  else if (strcmp(out->dtype, "|u1") == 0 || strcmp(out->dtype, "<u1") == 0)
    width = 1;
  else
    return ph_error_set(
        err, PH_ERR_FORMAT,
        "%s: unsupported npy dtype '%s' (want <f8 <f4 <i8 <i4 |u1)", name,
        out->dtype);
  size_t count = 1;
  for (int i = 0; i < out->ndim; i++)
    if (ph_mul_size(count, out->shape[i], &count) != 0)
      return ph_error_set(err, PH_ERR_FORMAT, "%s: npy shape overflows", name);
  if (fortran && out->ndim > 1) {
    int nontrivial = 0;
    for (int i = 0; i < out->ndim; i++) nontrivial += out->shape[i] > 1;
    if (nontrivial > 1)
      return ph_error_set(err, PH_ERR_FORMAT,
                          "%s: Fortran-order arrays are not supported", name);
  }
  size_t data_bytes;
  if (ph_mul_size(count, width, &data_bytes) != 0 ||
      data_bytes > len - hstart - hlen)
    return ph_error_set(
        err, PH_ERR_FORMAT,
        "%s: truncated npy data (%zu elements declared, %zu bytes present)",
        name, count, len - hstart - hlen);
  out->size = count;
  out->data = ph_malloc(count, sizeof(double), name, err);
  if (!out->data) return PH_ERR_NOMEM;
  const unsigned char *d = buf + hstart + hlen;
  for (size_t i = 0; i < count; i++) {
    const unsigned char *p = d + i * width;
    double v;
    if (strcmp(out->dtype, "<f8") == 0) {
      uint64_t u = le_u64(p);
      memcpy(&v, &u, 8);
    } else if (strcmp(out->dtype, "<f4") == 0) {
      uint32_t u = le_u32(p);
      float f;
      memcpy(&f, &u, 4);
      v = f;
    } else if (strcmp(out->dtype, "<i8") == 0)
      v = (double)(int64_t)le_u64(p);
    else if (strcmp(out->dtype, "<i4") == 0)
      v = (double)(int32_t)le_u32(p);
    else
      v = p[0];
    out->data[i] = v;
  }
  return PH_OK;
}

ph_status ph_npy_read(const char *path, ph_npy *out, ph_error *err) {
  unsigned char *buf;
  size_t len;
  memset(out, 0, sizeof *out);
  PH_TRY(ph_read_file(path, &buf, &len, err));
  ph_status s = ph_npy_parse(buf, len, path, out, err);
  free(buf);
  if (s != PH_OK) ph_npy_free(out);
  return s;
}

static size_t first_bad(const double *v, size_t n, int flags) {
  for (size_t i = 0; i < n; i++) {
    if ((flags & PH_NPY_FINITE) && !isfinite(v[i])) return i;
    /* !(v >= 0) also catches NaN when only NONNEG is asked. */
    if ((flags & PH_NPY_NONNEG) && !(v[i] >= 0)) return i;
  }
  return n;
}

static ph_status report_bad(double v, const char *name, const char *index,
                            int flags, const char *what, ph_error *err) {
  const char *need = (flags & PH_NPY_FINITE) && (flags & PH_NPY_NONNEG)
                         ? "finite and non-negative"
                     : (flags & PH_NPY_NONNEG) ? "non-negative"
                                               : "finite";
  return ph_error_set(err, PH_ERR_FORMAT, "%s: entry %s is %g; %s must be %s",
                      name, index, v, what ? what : "every entry", need);
}

ph_status ph_values_check(const double *v, size_t n, const char *name,
                          int flags, const char *what, ph_error *err) {
  size_t i = first_bad(v, n, flags);
  if (i == n) return PH_OK;
  char index[32];
  snprintf(index, sizeof index, "[%zu]", i);
  return report_bad(v[i], name, index, flags, what, err);
}

ph_status ph_npy_check(const ph_npy *a, const char *name, int flags,
                       const char *what, ph_error *err) {
  size_t i = first_bad(a->data, a->size, flags);
  if (i == a->size) return PH_OK;
  /* Unravel the C-order flat index into one index per axis. */
  size_t idx[PH_NPY_MAX_DIM], rest = i;
  for (int d = a->ndim - 1; d >= 0; d--) {
    size_t ext = a->shape[d] ? a->shape[d] : 1;
    idx[d] = rest % ext;
    rest /= ext;
  }
  char index[PH_NPY_MAX_DIM * 22 + 4];
  size_t o = 0;
  index[o++] = '[';
  for (int d = 0; d < a->ndim; d++)
    o += (size_t)snprintf(index + o, sizeof index - o, "%s%zu", d ? ", " : "",
                          idx[d]);
  snprintf(index + o, sizeof index - o, "]");
  return report_bad(a->data[i], name, index, flags, what, err);
}

void ph_npy_free(ph_npy *a) {
  if (!a) return;
  free(a->data);
  memset(a, 0, sizeof *a);
}
