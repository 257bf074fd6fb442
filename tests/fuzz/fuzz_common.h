/* fuzz_common.h: helpers shared by the libFuzzer harnesses in tests/fuzz/.
 * fuzz_check_message turns a malformed error message (empty, several lines,
 * non-printable bytes) into a crash, so the fuzzer also checks the rule
 * that every error is one printable line. */
#ifndef PH_FUZZ_COMMON_H
#define PH_FUZZ_COMMON_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/afile.h"
#include "core/error.h"
#include "core/zio.h"
#include "data/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_check_message(const ph_error *err) {
  if (err->code == PH_OK || err->msg[0] == '\0') {
    fprintf(stderr, "fuzz: failure without a message\n");
    abort();
  }
  for (const unsigned char *p = (const unsigned char *)err->msg; *p; p++)
    if (*p < 0x20 || *p == 0x7f) {
      fprintf(stderr, "fuzz: control byte 0x%02x in error: %s\n", *p, err->msg);
      abort();
    }
}

static char fuzz_dir_[256];

static inline void fuzz_rmdir_(void) {
  char cmd[300];
  if (!fuzz_dir_[0]) return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_);
  if (system(cmd) != 0) fprintf(stderr, "fuzz: cannot remove %s\n", fuzz_dir_);
}

/* atexit runs only on a normal exit. A harness that aborts (a failed
 * start-up check, a crash, ASan's or UBSan's report, libFuzzer's timeout or
 * RSS limit, all of which end in abort() or _exit) or is killed would leave
 * its directory behind. So a watcher removes it: a shell started here,
 * holding the read end of a pipe whose write end only this process holds
 * (close-on-exec, so no child of ours keeps it), waits for end of file,
 * which comes when this process is gone however it ended, then runs rm -rf.
 * It ignores SIGINT/SIGTERM/SIGHUP so that a ^C to the process group does
 * not stop it before the harness is gone. Exec'ing right after fork keeps
 * the child to async-signal-safe calls. */
static inline void fuzz_watch_dir_(const char *dir) {
  int fds[2];
  if (pipe(fds) != 0) return; /* atexit only */
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (dup2(fds[0], 0) < 0 || null < 0 || dup2(null, 1) < 0) _exit(127);
    execl("/bin/sh", "sh", "-c",
          "trap '' INT TERM HUP; cat >/dev/null; rm -rf -- \"$1\"", "sh", dir,
          (char *)NULL);
    _exit(127);
  }
  close(fds[0]);
  if (pid < 0) close(fds[1]);
  /* fds[1] stays open, never written, until this process ends. */
}

/* A private directory for harnesses that must go through files; removed at
 * exit, on every path (above). It lives in /dev/shm (tmpfs) when there is
 * one: on /tmp (ext4 here) rewriting the same small files made every input
 * pay for a truncate, writeback and discard in the kernel, 60% of the IDX
 * harness's time (perf record), which ran at ~100 inputs/s.
 * PH_FUZZ_TMPDIR, when set, is where it goes instead (for tests). */
static inline const char *fuzz_tmpdir(void) {
  if (!fuzz_dir_[0]) {
    const char *parent = getenv("PH_FUZZ_TMPDIR");
    const char *tries[2] = {parent && *parent ? parent : "/dev/shm", "/tmp"};
    int made = 0;
    for (int i = 0; i < 2 && !made; i++) {
      snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/ph_fuzz.XXXXXX", tries[i]);
      made = mkdtemp(fuzz_dir_) != NULL;
    }
    if (!made) abort();
    atexit(fuzz_rmdir_);
    fuzz_watch_dir_(fuzz_dir_);
  }
  return fuzz_dir_;
}

static inline void fuzz_write(const char *dir, const char *name,
                              const uint8_t *data, size_t size) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *fp = fopen(path, "wb");
  if (!fp) abort();
  if (size && fwrite(data, 1, size, fp) != size) abort();
  if (fclose(fp) != 0) abort();
}

/* The input as a malloc'ed buffer with a trailing NUL, as ph_read_file
 * gives it (ph_gz_decode takes such a buffer over). */
static inline unsigned char *fuzz_dup(const uint8_t *data, size_t size) {
  unsigned char *p = malloc(size + 1);
  if (!p) abort();
  if (size) memcpy(p, data, size);
  p[size] = '\0';
  return p;
}

/* The data cap a harness sets must be what stops an inflation bomb: 256 KiB
 * of zeros, gzip'ed (about 300 bytes), must be refused with the cap's
 * message by ph_gz_decode, the path every data reader takes. Aborts
 * otherwise, so a harness never fuzzes without the cap it relies on. */
static inline void fuzz_check_data_cap(size_t cap) {
  ph_input_cap_set(PH_INPUT_DATA, cap);
  size_t n = (size_t)256 << 10;
  unsigned char *zeros = calloc(n, 1), *gz, *out = NULL;
  size_t gz_len, out_len;
  char path[256];
  ph_error err = {0};
  snprintf(path, sizeof path, "%s/bomb.gz", fuzz_tmpdir());
  if (!zeros || ph_gz_write_file(path, zeros, n, &err) != PH_OK ||
      ph_read_file(path, &gz, &gz_len, &err) != PH_OK)
    abort();
  free(zeros);
  unlink(path);
  if (ph_gz_decode(gz, gz_len, "bomb.gz", &out, &out_len, &err) == PH_OK ||
      !strstr(err.msg, "input cap")) {
    fprintf(stderr, "fuzz: a gzip bomb was not stopped by the data cap\n");
    abort();
  }
}

/* 1 when s holds a run of 4..19 digits: a size that is legal but makes a
 * run slow (large synthetic sets, wide layers). Runs of 20+ digits stay:
 * they test overflow handling and are refused by the range checks. */
static inline int fuzz_has_big_number(const char *s) {
  size_t run = 0;
  for (;; s++) {
    if (*s >= '0' && *s <= '9') {
      run++;
      continue;
    }
    if (run >= 4 && run < 20) return 1;
    run = 0;
    if (!*s) return 0;
  }
}

/* Load a data spec (capped to max_train/max_test examples when non-zero);
 * a failure must carry a proper message. */
static inline void fuzz_load_data(const char *spec, size_t max_n) {
  ph_data_options o = ph_data_options_default();
  o.max_train = o.max_test = max_n;
  ph_dataset *d = NULL;
  ph_error err = {0};
  if (ph_dataset_load(spec, &o, &d, &err) == PH_OK)
    ph_dataset_free(d);
  else
    fuzz_check_message(&err);
}

/* The input as a C string in buf (cap bytes); 0 when it does not fit or
 * holds a NUL (a spec string from the command line never does). */
static inline int fuzz_string(const uint8_t *data, size_t size, char *buf,
                              size_t cap) {
  if (size >= cap || memchr(data, '\0', size)) return 0;
  memcpy(buf, data, size);
  buf[size] = '\0';
  return 1;
}

#endif
