/* zio.c: CRC-32 and gzip through zlib (see zio.h). */
#include "core/zio.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/afile.h"
#include "core/alloc.h"

uint32_t ph_crc32(uint32_t crc, const void *data, size_t len) {
  const unsigned char *p = data;
  while (len > 0) {
    uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
    crc = (uint32_t)crc32(crc, p, chunk);
    p += chunk;
    len -= chunk;
  }
  return crc;
}

ph_status ph_gz_inflate(const unsigned char *in, size_t in_len,
                        const char *name, size_t max_out, unsigned char **data,
                        size_t *len, ph_error *err) {
  *data = NULL;
  *len = 0;
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15 + 32) != Z_OK) /* +32: gzip or zlib header */
    return ph_error_set(err, PH_ERR_NOMEM, "%s: cannot start zlib", name);
  size_t cap = in_len * 4 + 1024, used = 0;
  if (cap > max_out + 2) cap = max_out + 2;
  unsigned char *out = ph_malloc(cap, 1, name, err);
  if (!out) {
    inflateEnd(&zs);
    return PH_ERR_NOMEM;
  }
  zs.next_in = (Bytef *)in;
  zs.avail_in = (uInt)in_len;
  int rc;
  for (;;) {
    if (used > max_out) {
      free(out);
      inflateEnd(&zs);
      return ph_error_set(err, PH_ERR_FORMAT,
                          "%s: inflates to more than the input cap of %zu "
                          "bytes (raise it with POTHOLE_MAX_DATA)",
                          name, max_out);
    }
    if (cap - used < 2) {
      unsigned char *n2 = ph_realloc(out, cap, 2, name, err);
      if (!n2) {
        free(out);
        inflateEnd(&zs);
        return PH_ERR_NOMEM;
      }
      out = n2;
      cap *= 2;
      if (cap > max_out + 2) cap = max_out + 2; /* room for cap+1 and NUL */
    }
    zs.next_out = out + used;
    zs.avail_out = (uInt)(cap - used - 1);
    rc = inflate(&zs, Z_NO_FLUSH);
    used = cap - 1 - zs.avail_out;
    if (rc == Z_STREAM_END) {
      /* Concatenated gzip members are legal; continue if input remains. */
      if (zs.avail_in > 0) {
        if (inflateReset(&zs) != Z_OK) break;
        continue;
      }
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break; /* input ended early */
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    free(out);
    return ph_error_set(
        err, PH_ERR_FORMAT,
        "%s: corrupt or truncated gzip data (after %zu input bytes)", name,
        in_len - zs.avail_in);
  }
  out[used] = '\0';
  *data = out;
  *len = used;
  return PH_OK;
}

ph_status ph_gz_read_file(const char *path, unsigned char **data, size_t *len,
                          ph_error *err) {
  unsigned char *raw;
  size_t raw_len;
  PH_TRY(ph_read_file_capped(path, ph_input_cap(PH_INPUT_DATA), &raw, &raw_len,
                             err));
  return ph_gz_decode(raw, raw_len, path, data, len, err);
}

ph_status ph_gz_decode(unsigned char *raw, size_t raw_len, const char *name,
                       unsigned char **data, size_t *len, ph_error *err) {
  size_t cap = ph_input_cap(PH_INPUT_DATA);
  if (raw_len > cap) {
    free(raw);
    return ph_error_set(err, PH_ERR_IO,
                        "%s: %zu bytes, more than the input cap of %zu bytes "
                        "(raise it with POTHOLE_MAX_DATA)",
                        name, raw_len, cap);
  }
  if (raw_len >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
    ph_status s = ph_gz_inflate(raw, raw_len, name, cap, data, len, err);
    free(raw);
    return s;
  }
  *data = raw;
  *len = raw_len;
  return PH_OK;
}

ph_status ph_gz_write_file(const char *path, const void *data, size_t len,
                           ph_error *err) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    return ph_error_set(err, PH_ERR_NOMEM, "%s: cannot start zlib", path);
  size_t cap = deflateBound(&zs, (uLong)len) + 64;
  unsigned char *out = ph_malloc(cap, 1, path, err);
  if (!out) {
    deflateEnd(&zs);
    return PH_ERR_NOMEM;
  }
  zs.next_in = (Bytef *)data;
  zs.avail_in = (uInt)len;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  int rc = deflate(&zs, Z_FINISH);
  size_t out_len = cap - zs.avail_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    free(out);
    return ph_error_set(err, PH_ERR_IO, "%s: gzip compression failed", path);
  }
  ph_status s = ph_write_file_atomic(path, out, out_len, err);
  free(out);
  return s;
}
