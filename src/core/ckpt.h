/* ckpt.h: checkpoint files (.ckpt), a sectioned binary container.
 *
 * Layout (all integers little-endian):
 *   "PHCKPT\r\n" (8 bytes magic) | u32 format version | u32 section count
 *   per section: u16 name length | name bytes | u8 type | u64 element count
 *                | payload (count × 8 bytes for f64/u64, count bytes for str)
 *   u32 CRC-32 (zlib) over every preceding byte.
 * The CRC is checked before anything is parsed, and parsing is bounds-checked,
 * so a truncated or corrupted file is rejected whole with a message, never
 * half-read. Sections written by the modules:
 *   "model" (str, model spec), "data" (str, data spec), "theta" (f64),
 *   "step" (u64), "rng" (u64 seed,stream,counter), "optim.*", "precond"...
 * Writing is atomic (core/afile.h).
 */
#ifndef PH_CORE_CKPT_H
#define PH_CORE_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define PH_CKPT_VERSION 1u

typedef enum ph_ckpt_type {
  PH_CKPT_STR = 0,
  PH_CKPT_F64 = 1,
  PH_CKPT_U64 = 2
} ph_ckpt_type;

typedef struct ph_ckpt ph_ckpt;

/* An empty checkpoint into *out (NULL when out of memory). */
ph_status ph_ckpt_create(ph_ckpt **out, ph_error *err);
void ph_ckpt_free(ph_ckpt *ck);

/* Add or replace a section (data copied). */
ph_status ph_ckpt_put_f64(ph_ckpt *ck, const char *name, const double *v,
                          size_t n, ph_error *err);
ph_status ph_ckpt_put_u64(ph_ckpt *ck, const char *name, const uint64_t *v,
                          size_t n, ph_error *err);
ph_status ph_ckpt_put_str(ph_ckpt *ck, const char *name, const char *s,
                          ph_error *err);

/* NULL when absent or of another type. */
const double *ph_ckpt_get_f64(const ph_ckpt *ck, const char *name, size_t *n);
const uint64_t *ph_ckpt_get_u64(const ph_ckpt *ck, const char *name, size_t *n);
const char *ph_ckpt_get_str(const ph_ckpt *ck, const char *name);
int ph_ckpt_has(const ph_ckpt *ck, const char *name);

/* Like the getters, but a missing section or a length other than want_n
 * (want_n == 0: any) is an error naming the file (ph_ckpt_path) and section. */
ph_status ph_ckpt_require_f64(const ph_ckpt *ck, const char *name,
                              size_t want_n, const double **v, size_t *n,
                              ph_error *err);
ph_status ph_ckpt_require_u64(const ph_ckpt *ck, const char *name,
                              size_t want_n, const uint64_t **v, size_t *n,
                              ph_error *err);
ph_status ph_ckpt_require_str(const ph_ckpt *ck, const char *name,
                              const char **s, ph_error *err);

ph_status ph_ckpt_write(const ph_ckpt *ck, const char *path, ph_error *err);
ph_status ph_ckpt_read(const char *path, ph_ckpt **out, ph_error *err);
ph_status ph_ckpt_parse(const unsigned char *buf, size_t len, const char *name,
                        ph_ckpt **out, ph_error *err);
/* The file it was read from ("(memory)" if built in memory). */
const char *ph_ckpt_path(const ph_ckpt *ck);
/* CRC-32 of the whole file as stored (0 for an unsaved checkpoint): a
 * checksum that summaries record to say which model they describe. */
uint32_t ph_ckpt_crc(const ph_ckpt *ck);

#endif
