/* afile.h: atomic output files.
 *
 * Every file pothole writes goes through here: it is written to a temporary
 * file in the same directory (so rename is atomic), flushed and fsync'ed, and
 * renamed over the final name only on commit; then the directory is fsync'ed
 * so the rename is durable. A failed or interrupted command therefore never
 * leaves a partial file under the final name; a crash leaves at most a
 * hidden ".name.tmp.<random hex>".
 *
 * Safety on shared directories: the temporary file is created with
 * O_CREAT|O_EXCL|O_NOFOLLOW under a random name (a planted symlink is never
 * followed), and a target that exists but is not a regular file (symlink,
 * directory, FIFO, device, socket) is refused with PH_ERR_IO instead of
 * being replaced. The path "-" means standard output (written directly).
 */
#ifndef PH_CORE_AFILE_H
#define PH_CORE_AFILE_H

#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

typedef struct ph_afile {
  FILE *fp; /* write through this */
  char *final_path;
  char *tmp_path;
  int failed;    /* set by ph_afile_write on a short write */
  int is_stdout; /* path "-": fp is stdout, commit only flushes */
} ph_afile;

ph_status ph_afile_open(ph_afile *f, const char *path, ph_error *err);
/* fwrite that records failure; check once at commit (cairo's sticky status). */
void ph_afile_write(ph_afile *f, const void *data, size_t bytes);
/* Flush, fsync, close and rename into place. On failure the temp file is
 * removed and the final name is untouched. Always releases f. */
ph_status ph_afile_commit(ph_afile *f, ph_error *err);
/* Close and remove the temporary file. Safe on a zeroed or committed f. */
void ph_afile_abort(ph_afile *f);

/* Whole-buffer convenience. */
ph_status ph_write_file_atomic(const char *path, const void *data, size_t bytes,
                               ph_error *err);
/* Input size caps. Every reader refuses an input larger than its cap before
 * allocating for it (a regular file by its size; a pipe or device once that
 * many bytes arrived; gzip data as soon as the inflated size passes it), so
 * /dev/zero or a gzip bomb given as an input is an error, not an OOM.
 *   PH_INPUT_FILE  checkpoints, .npy, JSON, tables    default 4 GiB
 *   PH_INPUT_DATA  CSV, IDX and text data sets, after
 *                  decompression; what a synthetic
 *                  set's generator allocates         default 1 GiB
 * The pothole program sets them from POTHOLE_MAX_INPUT and POTHOLE_MAX_DATA
 * (bytes, or with a K/M/G suffix), see docs/reliability.md. */
typedef enum { PH_INPUT_FILE = 0, PH_INPUT_DATA = 1 } ph_input_kind;
size_t ph_input_cap(ph_input_kind kind);
void ph_input_cap_set(ph_input_kind kind, size_t bytes);
/* "123", "64K", "512M", "4G" -> bytes; -1 when malformed or zero. */
int ph_parse_byte_size(const char *s, size_t *out);

/* Read a whole file into a malloc'ed buffer (NUL-terminated for text use),
 * refusing a directory and anything larger than ph_input_cap(PH_INPUT_FILE). */
ph_status ph_read_file(const char *path, unsigned char **data, size_t *bytes,
                       ph_error *err);
/* The same with an explicit cap in bytes. */
ph_status ph_read_file_capped(const char *path, size_t cap,
                              unsigned char **data, size_t *bytes,
                              ph_error *err);

/* mkdir -p; existing directories are fine. */
ph_status ph_mkdir_p(const char *path, ph_error *err);
/* 1 if path exists (file or directory). */
int ph_path_exists(const char *path);
int ph_is_dir(const char *path);
/* snprintf into a malloc'ed string: dir + "/" + name. */
char *ph_path_join(const char *dir, const char *name, ph_error *err);

#endif
