/* alloc.h: overflow-checked allocation. Whoever allocates frees; ph_free(NULL)
 * is a no-op. No allocation belongs in a hot loop: solvers take workspaces. */
#ifndef PH_CORE_ALLOC_H
#define PH_CORE_ALLOC_H

#include <stddef.h>

#include "core/error.h"

/* n*size bytes, zeroed; NULL with PH_ERR_NOMEM (and a message) on overflow or
 * failure. `what` names the buffer for the message. */
void *ph_calloc(size_t n, size_t size, const char *what, ph_error *err);
/* As ph_calloc, not zeroed. */
void *ph_malloc(size_t n, size_t size, const char *what, ph_error *err);
/* As ph_malloc, for a large buffer written once and then read many times
 * (a Lanczos basis): from PH_HUGE_MIN_BYTES on it starts on a 2 MB
 * boundary and asks Linux for transparent huge pages (madvise), because
 * touching a fresh 4 KB page costs about 3 µs on the VM issue 15 was
 * measured on (35 MB of SLQ bases: 110 ms against 7 ms;
 * docs/performance-history.md, seventh session). Where huge pages are off or
 * unknown it is an aligned malloc. Freed with ph_free. */
void *ph_malloc_huge(size_t n, size_t size, const char *what, ph_error *err);
#define PH_HUGE_MIN_BYTES ((size_t)4 << 20)
/* As ph_calloc and ph_malloc, starting on a 64-byte boundary (a cache line,
 * one AVX-512 vector), for the buffers the engine's passes stream over:
 * glibc's malloc puts buffers 16 bytes past a line, so every vector of an
 * elementwise pass straddled two lines (docs/performance-history.md,
 * ninth session, and docs/performance.md, tenth). Small ones over-allocate by
 * one line through calloc/malloc and record the pointer those returned just
 * before the aligned one; from PH_LINES_MMAP_BYTES on each is an anonymous
 * mapping of its own, whose pages stay untouched (and cost nothing) until a
 * pass writes them, whatever glibc's heap holds (alloc.c says why;
 * posix_memalign plus a memset touched them all: the ninth session's
 * revert). Freed with ph_free_lines ONLY (free or ph_free on one is heap
 * corruption); no realloc. Alignment never changes a result: no loop in
 * the project orders its arithmetic by address. */
#define PH_LINE_BYTES ((size_t)64)
#define PH_LINES_MMAP_BYTES ((size_t)128 << 10)
void *ph_calloc_lines(size_t n, size_t size, const char *what, ph_error *err);
void *ph_malloc_lines(size_t n, size_t size, const char *what, ph_error *err);
void ph_free_lines(void *p);
void *ph_realloc(void *p, size_t n, size_t size, const char *what,
                 ph_error *err);
char *ph_strdup(const char *s, ph_error *err);
void ph_free(void *p);

/* a*b without overflow: returns 0 and sets *out, or -1 on overflow. */
int ph_mul_size(size_t a, size_t b, size_t *out);

#endif
