/* afile.c: atomic output files (see afile.h). */
#define _POSIX_C_SOURCE 200809L
#include "core/afile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

ph_status ph_afile_open(ph_afile *f, const char *path, ph_error *err) {
  memset(f, 0, sizeof *f);
  f->final_path = ph_strdup(path, err);
  if (!f->final_path) return PH_ERR_NOMEM;
  /* Temporary name beside the final one: same file system, so rename is
   * atomic. Hidden, and tagged with the pid so concurrent writers differ. */
  const char *slash = strrchr(path, '/');
  size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
  size_t len = strlen(path) + 48;
  f->tmp_path = ph_malloc(len, 1, "temporary path", err);
  if (!f->tmp_path) {
    ph_afile_abort(f);
    return PH_ERR_NOMEM;
  }
  snprintf(f->tmp_path, len, "%.*s.%s.tmp.%ld", (int)dirlen, path,
           path + dirlen, (long)getpid());
  f->fp = fopen(f->tmp_path, "wb");
  if (!f->fp) {
    int e = errno;
    ph_afile_abort(f);
    return ph_error_set(err, PH_ERR_IO, "%s: cannot create: %s", path,
                        strerror(e));
  }
  return PH_OK;
}

void ph_afile_write(ph_afile *f, const void *data, size_t bytes) {
  if (!f->fp || f->failed || bytes == 0) return;
  if (fwrite(data, 1, bytes, f->fp) != bytes) f->failed = 1;
}

void ph_afile_abort(ph_afile *f) {
  if (f->fp) fclose(f->fp);
  if (f->tmp_path) unlink(f->tmp_path);
  free(f->tmp_path);
  free(f->final_path);
  memset(f, 0, sizeof *f);
}

ph_status ph_afile_commit(ph_afile *f, ph_error *err) {
  int bad = f->failed || !f->fp || ferror(f->fp) || fflush(f->fp) != 0 ||
            fsync(fileno(f->fp)) != 0;
  int e = errno;
  if (!bad) {
    int rc = fclose(f->fp);
    f->fp = NULL;
    if (rc != 0) {
      bad = 1;
      e = errno;
    } else if (rename(f->tmp_path, f->final_path) != 0) {
      bad = 1;
      e = errno;
    }
  }
  if (bad) {
    ph_error_set(err, PH_ERR_IO, "%s: write failed: %s",
                 f->final_path ? f->final_path : "?", strerror(e));
    ph_afile_abort(f);
    return PH_ERR_IO;
  }
  free(f->tmp_path);
  free(f->final_path);
  memset(f, 0, sizeof *f);
  return PH_OK;
}

ph_status ph_write_file_atomic(const char *path, const void *data, size_t bytes,
                               ph_error *err) {
  ph_afile f;
  PH_TRY(ph_afile_open(&f, path, err));
  ph_afile_write(&f, data, bytes);
  return ph_afile_commit(&f, err);
}

ph_status ph_read_file(const char *path, unsigned char **data, size_t *bytes,
                       ph_error *err) {
  *data = NULL;
  *bytes = 0;
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return ph_error_set(err, PH_ERR_IO, "%s: cannot open: %s", path,
                        strerror(errno));
  size_t cap = 1 << 16, len = 0;
  unsigned char *buf = ph_malloc(cap, 1, "file buffer", err);
  if (!buf) {
    fclose(fp);
    return PH_ERR_NOMEM;
  }
  for (;;) {
    if (len + 1 >= cap) {
      unsigned char *nb = ph_realloc(buf, cap, 2, "file buffer", err);
      if (!nb) {
        free(buf);
        fclose(fp);
        return PH_ERR_NOMEM;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - len - 1, fp);
    len += got;
    if (got == 0) break;
  }
  int bad = ferror(fp);
  fclose(fp);
  if (bad) {
    free(buf);
    return ph_error_set(err, PH_ERR_IO, "%s: read error", path);
  }
  buf[len] = '\0';
  *data = buf;
  *bytes = len;
  return PH_OK;
}

ph_status ph_mkdir_p(const char *path, ph_error *err) {
  char *tmp = ph_strdup(path, err);
  if (!tmp) return PH_ERR_NOMEM;
  for (char *p = tmp + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (mkdir(tmp, 0777) != 0 && errno != EEXIST) {
        int e = errno;
        ph_error_set(err, PH_ERR_IO, "%s: cannot create directory: %s", tmp,
                     strerror(e));
        free(tmp);
        return PH_ERR_IO;
      }
      *p = saved;
      if (saved == '\0') break;
    }
  }
  free(tmp);
  if (!ph_is_dir(path))
    return ph_error_set(err, PH_ERR_IO, "%s: exists and is not a directory",
                        path);
  return PH_OK;
}

int ph_path_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int ph_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *ph_path_join(const char *dir, const char *name, ph_error *err) {
  size_t len = strlen(dir) + strlen(name) + 2;
  char *p = ph_malloc(len, 1, "path", err);
  if (p) snprintf(p, len, "%s/%s", dir, name);
  return p;
}
