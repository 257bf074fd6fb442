/* ckpt.c: the checkpoint container (see ckpt.h). */
#include "core/ckpt.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/afile.h"
#include "core/alloc.h"

static const unsigned char MAGIC[8] = {'P', 'H', 'C',  'K',
                                       'P', 'T', '\r', '\n'};

typedef struct section {
  char *name;
  ph_ckpt_type type;
  size_t count;
  void *data; /* count doubles, count u64s, or count+1 chars */
} section;

struct ph_ckpt {
  section *sec;
  size_t n, cap;
  char *path;
  uint32_t crc;
};

ph_status ph_ckpt_create(ph_ckpt **out, ph_error *err) {
  *out = ph_calloc(1, sizeof(ph_ckpt), "checkpoint", err);
  return *out ? PH_OK : PH_ERR_NOMEM;
}

void ph_ckpt_free(ph_ckpt *ck) {
  if (!ck) return;
  for (size_t i = 0; i < ck->n; i++) {
    free(ck->sec[i].name);
    free(ck->sec[i].data);
  }
  free(ck->sec);
  free(ck->path);
  free(ck);
}

static section *find(const ph_ckpt *ck, const char *name) {
  for (size_t i = 0; i < ck->n; i++)
    if (strcmp(ck->sec[i].name, name) == 0) return &ck->sec[i];
  return NULL;
}

static ph_status put(ph_ckpt *ck, const char *name, ph_ckpt_type type,
                     const void *v, size_t count, size_t bytes, ph_error *err) {
  if (strlen(name) > 0xffff)
    return ph_error_set(err, PH_ERR_ARG, "checkpoint section name too long");
  void *copy = ph_malloc(bytes + 1, 1, name, err);
  if (!copy) return PH_ERR_NOMEM;
  if (bytes) memcpy(copy, v, bytes);
  ((char *)copy)[bytes] = '\0';
  section *s = find(ck, name);
  if (s) {
    free(s->data);
  } else {
    if (ck->n == ck->cap) {
      size_t cap = ck->cap ? 2 * ck->cap : 8;
      section *ns = ph_realloc(ck->sec, cap, sizeof *ns, "checkpoint", err);
      if (!ns) {
        free(copy);
        return PH_ERR_NOMEM;
      }
      ck->sec = ns;
      ck->cap = cap;
    }
    s = &ck->sec[ck->n];
    s->name = ph_strdup(name, err);
    if (!s->name) {
      free(copy);
      return PH_ERR_NOMEM;
    }
    ck->n++;
  }
  s->type = type;
  s->count = count;
  s->data = copy;
  return PH_OK;
}

ph_status ph_ckpt_put_f64(ph_ckpt *ck, const char *name, const double *v,
                          size_t n, ph_error *err) {
  return put(ck, name, PH_CKPT_F64, v, n, n * sizeof(double), err);
}

ph_status ph_ckpt_put_u64(ph_ckpt *ck, const char *name, const uint64_t *v,
                          size_t n, ph_error *err) {
  return put(ck, name, PH_CKPT_U64, v, n, n * sizeof(uint64_t), err);
}

ph_status ph_ckpt_put_str(ph_ckpt *ck, const char *name, const char *s,
                          ph_error *err) {
  size_t len = strlen(s);
  return put(ck, name, PH_CKPT_STR, s, len, len, err);
}

const double *ph_ckpt_get_f64(const ph_ckpt *ck, const char *name, size_t *n) {
  section *s = find(ck, name);
  if (!s || s->type != PH_CKPT_F64) return NULL;
  if (n) *n = s->count;
  return s->data;
}

const uint64_t *ph_ckpt_get_u64(const ph_ckpt *ck, const char *name,
                                size_t *n) {
  section *s = find(ck, name);
  if (!s || s->type != PH_CKPT_U64) return NULL;
  if (n) *n = s->count;
  return s->data;
}

const char *ph_ckpt_get_str(const ph_ckpt *ck, const char *name) {
  section *s = find(ck, name);
  return (s && s->type == PH_CKPT_STR) ? s->data : NULL;
}

int ph_ckpt_has(const ph_ckpt *ck, const char *name) {
  return find(ck, name) != NULL;
}

const char *ph_ckpt_path(const ph_ckpt *ck) {
  return ck->path ? ck->path : "(memory)";
}

uint32_t ph_ckpt_crc(const ph_ckpt *ck) {
  return ck->crc;
}

static ph_status require(const ph_ckpt *ck, const char *name, ph_ckpt_type t,
                         size_t want_n, const void **v, size_t *n,
                         ph_error *err) {
  static const char *tname[] = {"string", "float64", "uint64"};
  section *s = find(ck, name);
  if (!s)
    return ph_error_set(err, PH_ERR_FORMAT, "%s: missing section \"%s\"",
                        ph_ckpt_path(ck), name);
  if (s->type != t)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: section \"%s\" is %s, expected %s",
                        ph_ckpt_path(ck), name, tname[s->type], tname[t]);
  if (want_n && s->count != want_n)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: section \"%s\" has %zu elements, expected %zu",
                        ph_ckpt_path(ck), name, s->count, want_n);
  *v = s->data;
  if (n) *n = s->count;
  return PH_OK;
}

ph_status ph_ckpt_require_f64(const ph_ckpt *ck, const char *name,
                              size_t want_n, const double **v, size_t *n,
                              ph_error *err) {
  return require(ck, name, PH_CKPT_F64, want_n, (const void **)v, n, err);
}

ph_status ph_ckpt_require_u64(const ph_ckpt *ck, const char *name,
                              size_t want_n, const uint64_t **v, size_t *n,
                              ph_error *err) {
  return require(ck, name, PH_CKPT_U64, want_n, (const void **)v, n, err);
}

ph_status ph_ckpt_require_str(const ph_ckpt *ck, const char *name,
                              const char **s, ph_error *err) {
  return require(ck, name, PH_CKPT_STR, 0, (const void **)s, NULL, err);
}

/* --- serialisation --- */

static void put_le(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

ph_status ph_ckpt_write(const ph_ckpt *ck, const char *path, ph_error *err) {
  size_t total = 8 + 4 + 4 + 4;
  for (size_t i = 0; i < ck->n; i++) {
    const section *s = &ck->sec[i];
    total += 2 + strlen(s->name) + 1 + 8 +
             s->count * (s->type == PH_CKPT_STR ? 1 : 8);
  }
  unsigned char *buf = ph_malloc(total, 1, "checkpoint buffer", err);
  if (!buf) return PH_ERR_NOMEM;
  unsigned char *p = buf;
  memcpy(p, MAGIC, 8);
  p += 8;
  put_le(p, PH_CKPT_VERSION, 4);
  p += 4;
  put_le(p, ck->n, 4);
  p += 4;
  for (size_t i = 0; i < ck->n; i++) {
    const section *s = &ck->sec[i];
    size_t nl = strlen(s->name);
    put_le(p, nl, 2);
    p += 2;
    memcpy(p, s->name, nl);
    p += nl;
    *p++ = (unsigned char)s->type;
    put_le(p, s->count, 8);
    p += 8;
    if (s->type == PH_CKPT_STR) {
      memcpy(p, s->data, s->count);
      p += s->count;
    } else {
      const uint64_t *u = s->data; /* doubles are copied bit for bit */
      for (size_t k = 0; k < s->count; k++, p += 8) {
        uint64_t bits;
        memcpy(&bits, (const unsigned char *)u + 8 * k, 8);
        put_le(p, bits, 8);
      }
    }
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, buf, (uInt)(p - buf));
  put_le(p, crc, 4);
  p += 4;
  PH_ASSERT((size_t)(p - buf) == total);
  ph_status st = ph_write_file_atomic(path, buf, total, err);
  free(buf);
  return st;
}

ph_status ph_ckpt_parse(const unsigned char *buf, size_t len, const char *name,
                        ph_ckpt **out, ph_error *err) {
  *out = NULL;
  if (len < 8 || memcmp(buf, MAGIC, 8) != 0)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: not a pothole checkpoint (bad magic)", name);
  if (len < 20)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: checkpoint truncated (%zu bytes)", name, len);
  uint32_t stored = (uint32_t)get_le(buf + len - 4, 4);
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, buf, (uInt)(len - 4));
  if ((uint32_t)crc != stored)
    return ph_error_set(
        err, PH_ERR_FORMAT,
        "%s: checkpoint is corrupted or truncated (CRC-32 mismatch)", name);
  uint32_t version = (uint32_t)get_le(buf + 8, 4);
  if (version != PH_CKPT_VERSION)
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: checkpoint format version %u, this build reads %u",
                        name, version, PH_CKPT_VERSION);
  uint32_t nsec = (uint32_t)get_le(buf + 12, 4);
  ph_ckpt *ck;
  PH_TRY(ph_ckpt_create(&ck, err));
  size_t pos = 16, end = len - 4;
  ph_status st = PH_OK;
  for (uint32_t i = 0; i < nsec && st == PH_OK; i++) {
    if (end - pos < 2) goto truncated;
    size_t nl = (size_t)get_le(buf + pos, 2);
    pos += 2;
    if (end - pos < nl + 9) goto truncated;
    char sname[0x10000];
    memcpy(sname, buf + pos, nl);
    sname[nl] = '\0';
    pos += nl;
    int type = buf[pos++];
    uint64_t count = get_le(buf + pos, 8);
    pos += 8;
    size_t width = type == PH_CKPT_STR ? 1 : 8;
    if (type > PH_CKPT_U64) {
      ph_ckpt_free(ck);
      return ph_error_set(err, PH_ERR_FORMAT,
                          "%s: section \"%s\" has unknown type %d at byte %zu",
                          name, sname, type, pos - 9);
    }
    if (count > (end - pos) / width) goto truncated;
    if (type == PH_CKPT_STR) {
      st = put(ck, sname, PH_CKPT_STR, buf + pos, count, count, err);
    } else {
      uint64_t *tmp = ph_malloc(count ? count : 1, 8, sname, err);
      if (!tmp) {
        st = PH_ERR_NOMEM;
        break;
      }
      for (size_t k = 0; k < count; k++) tmp[k] = get_le(buf + pos + 8 * k, 8);
      st = put(ck, sname, (ph_ckpt_type)type, tmp, count, count * 8, err);
      free(tmp);
    }
    pos += count * width;
  }
  if (st == PH_OK && pos != end) {
    ph_ckpt_free(ck);
    return ph_error_set(err, PH_ERR_FORMAT,
                        "%s: %zu unexpected bytes after the last section", name,
                        end - pos);
  }
  if (st != PH_OK) {
    ph_ckpt_free(ck);
    return st;
  }
  ck->path = ph_strdup(name, err);
  ck->crc = stored;
  *out = ck;
  return PH_OK;
truncated:
  ph_ckpt_free(ck);
  return ph_error_set(err, PH_ERR_FORMAT,
                      "%s: checkpoint truncated at byte %zu", name, pos);
}

ph_status ph_ckpt_read(const char *path, ph_ckpt **out, ph_error *err) {
  unsigned char *buf;
  size_t len;
  *out = NULL;
  PH_TRY(ph_read_file(path, &buf, &len, err));
  ph_status s = ph_ckpt_parse(buf, len, path, out, err);
  free(buf);
  return s;
}
