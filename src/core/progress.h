/* progress.h: a progress bar on stderr (rate, ETA), drawn only when stderr
 * is a terminal, so pipes and CI logs stay clean. Throttled to ~10 redraws/s.
 * The library reports progress only through a ph_progress the caller passes
 * (NULL = silent); it never decides on its own to draw. */
#ifndef PH_CORE_PROGRESS_H
#define PH_CORE_PROGRESS_H

#include <stddef.h>

typedef struct ph_progress {
  char label[48];
  size_t total;
  size_t done;
  double t_start;
  double t_last_draw;
  int enabled;
  char extra[64]; /* e.g. "loss 0.4123" */
} ph_progress;

/* enabled < 0: decide from isatty(stderr); 0/1 force off/on. */
void ph_progress_start(ph_progress *p, const char *label, size_t total,
                       int enabled);
void ph_progress_update(ph_progress *p, size_t done, const char *extra);
void ph_progress_finish(ph_progress *p);

/* Monotonic seconds, for timings everywhere. */
double ph_now(void);
/* "1m05s", "3.2s", "2h01m" */
void ph_format_duration(char *buf, size_t len, double seconds);

#endif
