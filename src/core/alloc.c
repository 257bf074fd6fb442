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

/* The buffer starts at the first line boundary at least one pointer past
 * what malloc returned (8 to 64 bytes past it, as malloc's pointers are
 * 8-aligned at least), and that pointer is stored in the word before it;
 * only that word and the buffer itself are ever written. */
static void *lines_impl(size_t n, size_t size, int zero, const char *what,
                        ph_error *err) {
  size_t bytes;
  if (ph_mul_size(n, size, &bytes) != 0 || bytes > SIZE_MAX - PH_LINE_BYTES) {
    ph_error_set(err, PH_ERR_NOMEM, "%s: size %zu x %zu overflows",
                 what ? what : "buffer", n, size);
    return NULL;
  }
  void *p = alloc_impl(bytes + PH_LINE_BYTES, 1, zero, 0, what, err);
  if (!p) return NULL;
  uintptr_t q = ((uintptr_t)p + sizeof(void *) + PH_LINE_BYTES - 1) &
                ~(uintptr_t)(PH_LINE_BYTES - 1);
  memcpy((void *)(q - sizeof(void *)), &p, sizeof p);
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
  void *p;
  memcpy(&p, (char *)q - sizeof(void *), sizeof p);
  free(p);
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
