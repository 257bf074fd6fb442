/* zio.h: zlib-backed helpers: CRC-32 and whole-file gzip reading/writing.
 * Reading accepts plain (uncompressed) files too; a truncated or corrupt
 * gzip stream is an error naming the file, never a silently short buffer. */
#ifndef PH_CORE_ZIO_H
#define PH_CORE_ZIO_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

uint32_t ph_crc32(uint32_t crc, const void *data, size_t len);
/* Read and (if gzip) decompress a whole file into a malloc'ed buffer with a
 * trailing NUL (not counted in *len). Both the file and its inflated
 * content are bounded by ph_input_cap(PH_INPUT_DATA) (core/afile.h);
 * inflation stops as soon as the output passes the cap. */
ph_status ph_gz_read_file(const char *path, unsigned char **data, size_t *len,
                          ph_error *err);
/* The second half of ph_gz_read_file, for bytes already in memory: raw
 * (malloc'ed, raw_len bytes plus a NUL, as ph_read_file gives) is taken
 * over; gzip data are inflated up to ph_input_cap(PH_INPUT_DATA), anything
 * else is returned as it is. name is for messages. */
ph_status ph_gz_decode(unsigned char *raw, size_t raw_len, const char *name,
                       unsigned char **data, size_t *len, ph_error *err);
/* Decompress a gzip buffer held in memory, at most max_out bytes (more is
 * PH_ERR_FORMAT naming the cap). */
ph_status ph_gz_inflate(const unsigned char *in, size_t in_len,
                        const char *name, size_t max_out, unsigned char **data,
                        size_t *len, ph_error *err);
/* Write data gzip-compressed (level 9), atomically. */
ph_status ph_gz_write_file(const char *path, const void *data, size_t len,
                           ph_error *err);

#endif
