/* alloc.c: overflow-checked allocation (see alloc.h). */
#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int ph_mul_size(size_t a, size_t b, size_t *out) {
  if (b != 0 && a > SIZE_MAX / b) return -1;
  *out = a * b;
  return 0;
}

/* huge: from PH_HUGE_MIN_BYTES on, 2 MB-aligned and advised for
 * transparent huge pages (alloc.h, ph_malloc_huge). */
static void *alloc_impl(size_t n, size_t size, int zero, int huge,
                        const char *what, ph_error *err) {
  size_t bytes;
  if (ph_mul_size(n, size, &bytes) != 0) {
    ph_error_set(err, PH_ERR_NOMEM, "%s: size %zu x %zu overflows",
                 what ? what : "buffer", n, size);
    return NULL;
  }
  if (bytes == 0) bytes = 1; /* a valid, freeable pointer for empty buffers */
  void *p = NULL;
  if (huge && bytes >= PH_HUGE_MIN_BYTES) {
    if (posix_memalign(&p, (size_t)2 << 20, bytes) != 0) p = NULL;
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice: may fail */
#endif
  } else {
    p = zero ? calloc(1, bytes) : malloc(bytes);
  }
  if (!p)
    ph_error_set(err, PH_ERR_NOMEM, "%s: cannot allocate %zu bytes",
                 what ? what : "buffer", bytes);
  return p;
}

void *ph_calloc(size_t n, size_t size, const char *what, ph_error *err) {
  return alloc_impl(n, size, 1, 0, what, err);
}

void *ph_malloc(size_t n, size_t size, const char *what, ph_error *err) {
  return alloc_impl(n, size, 0, 0, what, err);
}

/* Two ways, told apart by the low bit of the word just before the buffer
 * (malloc's pointers are 8-aligned at least, so it is free):
 * - below PH_LINES_MMAP_BYTES, through malloc/calloc: the buffer starts at
 *   the first line boundary at least one pointer past what they returned
 *   (8 to 64 bytes past it), and that pointer is the word before it;
 * - from PH_LINES_MMAP_BYTES on, an anonymous mapping of its own: the
 *   buffer starts one line in, the word before it is the mapping's address
 *   with the low bit set and the word before that its length. calloc
 *   cannot be trusted to leave such buffers untouched: glibc raises its
 *   mmap threshold when a mapped chunk is freed (a data set's load does),
 *   and then serves them from the heap and memsets them, which for a
 *   grid's network clone was 700-1,700 page faults and 20-60 ms
 *   (docs/performance.md, tenth session). Fresh mapped pages are zero and
 *   cost nothing until a pass writes them.
 * Only the buffer and the words before it are ever written. */
static void *lines_impl(size_t n, size_t size, int zero, const char *what,
                        ph_error *err) {
  size_t bytes;
  if (ph_mul_size(n, size, &bytes) != 0 || bytes > SIZE_MAX - PH_LINE_BYTES) {
    ph_error_set(err, PH_ERR_NOMEM, "%s: size %zu x %zu overflows",
                 what ? what : "buffer", n, size);
    return NULL;
  }
  uintptr_t w, q;
  if (bytes >= PH_LINES_MMAP_BYTES) {
    size_t len = bytes + PH_LINE_BYTES;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      ph_error_set(err, PH_ERR_NOMEM, "%s: cannot map %zu bytes",
                   what ? what : "buffer", len);
      return NULL;
    }
    q = (uintptr_t)m + PH_LINE_BYTES;
    w = (uintptr_t)m | 1;
    memcpy((void *)(q - 2 * sizeof w), &len, sizeof len);
  } else {
    void *p = alloc_impl(bytes + PH_LINE_BYTES, 1, zero, 0, what, err);
    if (!p) return NULL;
    q = ((uintptr_t)p + sizeof w + PH_LINE_BYTES - 1) &
        ~(uintptr_t)(PH_LINE_BYTES - 1);
    w = (uintptr_t)p;
  }
  memcpy((void *)(q - sizeof w), &w, sizeof w);
  return (void *)q;
}

void *ph_calloc_lines(size_t n, size_t size, const char *what, ph_error *err) {
  return lines_impl(n, size, 1, what, err);
}

void *ph_malloc_lines(size_t n, size_t size, const char *what, ph_error *err) {
  return lines_impl(n, size, 0, what, err);
}

void ph_free_lines(void *q) {
  if (!q) return;
  uintptr_t w;
  memcpy(&w, (char *)q - sizeof w, sizeof w);
  if (w & 1) {
    size_t len;
    memcpy(&len, (char *)q - 2 * sizeof w, sizeof len);
    (void)munmap((void *)(w & ~(uintptr_t)1), len);
  } else
    free((void *)w);
}

void *ph_realloc(void *p, size_t n, size_t size, const char *what,
                 ph_error *err) {
  size_t bytes;
  if (ph_mul_size(n, size, &bytes) != 0) {
    ph_error_set(err, PH_ERR_NOMEM, "%s: size %zu x %zu overflows",
                 what ? what : "buffer", n, size);
    return NULL;
  }
  void *q = realloc(p, bytes ? bytes : 1);
  if (!q)
    ph_error_set(err, PH_ERR_NOMEM, "%s: cannot allocate %zu bytes",
                 what ? what : "buffer", bytes);
  return q;
}

void *ph_malloc_huge(size_t n, size_t size, const char *what, ph_error *err) {
  return alloc_impl(n, size, 0, 1, what, err);
}

char *ph_strdup(const char *s, ph_error *err) {
  size_t len = strlen(s) + 1;
  char *d = ph_malloc(len, 1, "string", err);
  if (d) memcpy(d, s, len);
  return d;
}

void ph_free(void *p) {
  free(p);
}
