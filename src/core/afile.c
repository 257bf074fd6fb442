/* afile.c: atomic output files (see afile.h). */
#define _GNU_SOURCE
#include "core/afile.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/random.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

/* The target must be absent or a regular file. lstat, not stat: a symlink
 * at the target is refused rather than replaced (rename would swap the link
 * for a file) or followed (writing through it could clobber anything the
 * user can write). Device nodes and FIFOs are refused for the same reason:
 * rename would turn /dev/full into a regular file. */
static ph_status check_target(const char *path, ph_error *err) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    if (errno == ENOENT) return PH_OK;
    return ph_error_set(err, PH_ERR_IO, "%s: cannot inspect: %s", path,
                        strerror(errno));
  }
  if (S_ISREG(st.st_mode)) return PH_OK;
  const char *what = S_ISLNK(st.st_mode)    ? "a symbolic link"
                     : S_ISDIR(st.st_mode)  ? "a directory"
                     : S_ISFIFO(st.st_mode) ? "a FIFO"
                     : S_ISCHR(st.st_mode)  ? "a character device"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "not a regular file";
  return ph_error_set(err, PH_ERR_IO,
                      "%s: exists and is %s; refusing to replace it", path,
                      what);
}

/* 64 unpredictable bits for the temporary name, so nobody can plant a link
 * at it in advance; O_EXCL|O_NOFOLLOW below make a planted name fail rather
 * than be followed even if it were guessed. */
static unsigned long long tmp_nonce(void) {
  unsigned long long r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
    static unsigned long long counter;
    r = ((unsigned long long)getpid() << 32) ^ (unsigned long long)time(NULL) ^
        (++counter * 0x9E3779B97F4A7C15ull) ^ (unsigned long long)(size_t)&r;
  }
  return r;
}

ph_status ph_afile_open(ph_afile *f, const char *path, ph_error *err) {
  memset(f, 0, sizeof *f);
  if (strcmp(path, "-") == 0) {
    f->fp = stdout;
    f->is_stdout = 1;
    return PH_OK;
  }
  PH_TRY(check_target(path, err));
  f->final_path = ph_strdup(path, err);
  if (!f->final_path) return PH_ERR_NOMEM;
  /* Temporary name beside the final one: same file system, so rename is
   * atomic. Hidden, and random so it cannot be predicted. */
  const char *slash = strrchr(path, '/');
  size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
  size_t len = strlen(path) + 48;
  f->tmp_path = ph_malloc(len, 1, "temporary path", err);
  if (!f->tmp_path) {
    ph_afile_abort(f);
    return PH_ERR_NOMEM;
  }
  int fd = -1, e = 0;
  for (int attempt = 0; attempt < 64 && fd < 0; attempt++) {
    snprintf(f->tmp_path, len, "%.*s.%s.tmp.%016llx", (int)dirlen, path,
             path + dirlen, tmp_nonce());
    /* 0666 & ~umask, like fopen; O_EXCL never opens an existing name. */
    fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
              0666);
    e = errno;
    if (fd < 0 && e != EEXIST) break;
  }
  if (fd >= 0) f->fp = fdopen(fd, "wb");
  if (!f->fp) {
    if (fd >= 0) {
      e = errno;
      close(fd);
      unlink(f->tmp_path);
    }
    free(f->tmp_path);
    f->tmp_path = NULL; /* nothing of ours to remove */
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
  if (f->fp && !f->is_stdout) fclose(f->fp);
  if (f->tmp_path) unlink(f->tmp_path);
  free(f->tmp_path);
  free(f->final_path);
  memset(f, 0, sizeof *f);
}

/* fsync the directory holding path, so the rename itself survives a crash. */
static int sync_parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[4096];
  if (!slash) {
    snprintf(dir, sizeof dir, ".");
  } else if (slash == path) {
    snprintf(dir, sizeof dir, "/");
  } else {
    if ((size_t)(slash - path) >= sizeof dir) return 0;
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  /* Some file systems cannot fsync a directory; that is not a write error. */
  if (rc != 0 && (errno == EINVAL || errno == EROFS)) rc = 0;
  close(fd);
  return rc;
}

ph_status ph_afile_commit(ph_afile *f, ph_error *err) {
  if (f->is_stdout) {
    int bad = f->failed || ferror(f->fp) || fflush(f->fp) != 0;
    memset(f, 0, sizeof *f);
    if (bad)
      return ph_error_set(err, PH_ERR_IO, "standard output: write failed: %s",
                          strerror(errno));
    return PH_OK;
  }
  int bad = f->failed || !f->fp || ferror(f->fp) || fflush(f->fp) != 0 ||
            fsync(fileno(f->fp)) != 0;
  int e = errno;
  if (!bad) {
    int rc = fclose(f->fp);
    f->fp = NULL;
    if (rc != 0) {
      bad = 1;
      e = errno;
    }
  }
  if (!bad) {
    /* Check again: something may have appeared at the target meanwhile. */
    ph_status st = check_target(f->final_path, err);
    if (st != PH_OK) {
      ph_afile_abort(f);
      return st;
    }
    if (rename(f->tmp_path, f->final_path) != 0) {
      bad = 1;
      e = errno;
    } else if (sync_parent_dir(f->final_path) != 0) {
      /* Renamed, so the file is in place; only durability is in doubt. */
      e = errno;
      ph_error_set(err, PH_ERR_IO, "%s: cannot sync its directory: %s",
                   f->final_path, strerror(e));
      free(f->tmp_path);
      free(f->final_path);
      memset(f, 0, sizeof *f);
      return PH_ERR_IO;
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

static size_t input_caps[2] = {(size_t)4 << 30, (size_t)1 << 30};

size_t ph_input_cap(ph_input_kind kind) {
  return input_caps[kind == PH_INPUT_DATA];
}

void ph_input_cap_set(ph_input_kind kind, size_t bytes) {
  input_caps[kind == PH_INPUT_DATA] = bytes;
}

int ph_parse_byte_size(const char *s, size_t *out) {
  size_t v = 0, mult = 1;
  const char *p = s;
  if (*p < '0' || *p > '9') return -1;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (v > (SIZE_MAX - 9) / 10) return -1;
    v = v * 10 + (size_t)(*p - '0');
  }
  if (*p == 'K' || *p == 'k')
    mult = (size_t)1 << 10, p++;
  else if (*p == 'M' || *p == 'm')
    mult = (size_t)1 << 20, p++;
  else if (*p == 'G' || *p == 'g')
    mult = (size_t)1 << 30, p++;
  if (*p != '\0' || v == 0 || v > SIZE_MAX / mult) return -1;
  *out = v * mult;
  return 0;
}

static ph_status too_large(const char *path, const char *size, size_t cap,
                           ph_error *err) {
  return ph_error_set(err, PH_ERR_FORMAT,
                      "%s: %s than the input cap of %zu bytes (raise it with "
                      "POTHOLE_MAX_INPUT / POTHOLE_MAX_DATA)",
                      path, size, cap);
}

ph_status ph_read_file(const char *path, unsigned char **data, size_t *bytes,
                       ph_error *err) {
  return ph_read_file_capped(path, ph_input_cap(PH_INPUT_FILE), data, bytes,
                             err);
}

ph_status ph_read_file_capped(const char *path, size_t cap,
                              unsigned char **data, size_t *bytes,
                              ph_error *err) {
  *data = NULL;
  *bytes = 0;
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return ph_error_set(err, PH_ERR_IO, "%s: cannot open: %s", path,
                        strerror(errno));
  struct stat st;
  size_t want = (size_t)1 << 16;
  if (fstat(fileno(fp), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      fclose(fp);
      return ph_error_set(err, PH_ERR_IO, "%s: is a directory, not a file",
                          path);
    }
    /* A regular file is judged by its size, before any allocation. */
    if (S_ISREG(st.st_mode)) {
      if ((uint64_t)st.st_size > (uint64_t)cap) {
        char what[64];
        snprintf(what, sizeof what, "%lld bytes, more", (long long)st.st_size);
        fclose(fp);
        return too_large(path, what, cap, err);
      }
      /* +2: the whole file, and one byte more that the first fread asks
       * for and does not get, which shows the end without a regrowth. */
      want = (size_t)st.st_size + 2;
    }
  }
  size_t bufcap = want < 16 ? 16 : want, len = 0;
  unsigned char *buf = ph_malloc(bufcap, 1, "file buffer", err);
  if (!buf) {
    fclose(fp);
    return PH_ERR_NOMEM;
  }
  for (;;) {
    if (len + 1 >= bufcap) {
      /* Pipes and devices have no size: stop once past the cap. */
      if (len > cap) {
        free(buf);
        fclose(fp);
        return too_large(path, "longer", cap, err);
      }
      unsigned char *nb = ph_realloc(buf, bufcap, 2, "file buffer", err);
      if (!nb) {
        free(buf);
        fclose(fp);
        return PH_ERR_NOMEM;
      }
      buf = nb;
      bufcap *= 2;
    }
    size_t room = bufcap - len - 1;
    if (room > cap + 1 - len) room = cap + 1 - len; /* read at most cap+1 */
    size_t got = fread(buf + len, 1, room, fp);
    len += got;
    if (len > cap) {
      free(buf);
      fclose(fp);
      return too_large(path, "longer", cap, err);
    }
    if (got < room) break; /* end of file (or an error, checked below) */
  }
  int bad = ferror(fp);
  int e = errno;
  fclose(fp);
  if (bad) {
    free(buf);
    return ph_error_set(err, PH_ERR_IO, "%s: read error: %s", path,
                        strerror(e));
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
